//! The daemon's log: `log` records on stderr (which the daemon points at
//! `/run/zcftl/ftl-ublk.log`), each line with a UTC timestamp, the level
//! and the process id, e.g.
//!
//! ```text
//! 2025-06-01T12:00:00.123Z INFO  ftl-ublk[812]: device 0 live at /dev/ublkb0 (user-copy)
//! ```
//!
//! By default ftl-ublk's own records at `info` and up are shown, and other
//! crates' (libublk's) only from `warn`: libublk logs every control
//! handle it opens at `info`, which would add lines to the one-line
//! refusals of `recover` and `del`. `RUST_LOG` overrides both (e.g.
//! `RUST_LOG=debug`). User-facing output (`list`, `stats`, the device path
//! `add` prints, one-line errors) is not logging and does not come here.

use std::io::Write;

/// What is shown when `RUST_LOG` is not set.
pub const DEFAULT_FILTER: &str = "warn,ftl_ublk=info";

/// Installs the logger; a second call (or another logger) is ignored.
pub fn init() {
    let env = env_logger::Env::default().default_filter_or(DEFAULT_FILTER);
    let _ = env_logger::Builder::from_env(env)
        .write_style(env_logger::WriteStyle::Never)
        .format(|buf, record| {
            let ts = buf.timestamp_millis();
            let pid = std::process::id();
            let level = record.level();
            let args = record.args();
            match record.target() {
                t if t.starts_with("ftl_ublk") => {
                    writeln!(buf, "{ts} {level:<5} ftl-ublk[{pid}]: {args}")
                }
                t => writeln!(buf, "{ts} {level:<5} ftl-ublk[{pid}] {t}: {args}"),
            }
        })
        .try_init();
}
