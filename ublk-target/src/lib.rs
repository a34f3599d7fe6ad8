//! `ftl-ublk` as a library: zcftl's flash translation layer as a Linux block device
//! (`/dev/ublkbN`) through the kernel's ublk driver.
//!
//! The payload path is the patent's zero copy: with `UBLK_F_USER_COPY` the
//! kernel copies a WRITE straight into the FTL's slots and a READ straight
//! out of them (one `preadv`/`pwritev` per request), and user space copies
//! nothing. The binary (`main.rs`) only parses the command line and calls
//! [`run`]; the library exists so the fuzzers reach the real parsers
//! ([`args`], [`spec`]) and the crash journal's file format ([`journal`]),
//! and the benchmarks the data path ([`ftl_backend`]).
//! Module map:
//!
//! - `args`, `spec`: the command line, sizes and geometries;
//! - `add`, `control`: the subcommands (`add` also does `recover`);
//! - `daemon`: fork with a readiness pipe, stop signals, panic policy;
//! - `device`: libublk — device parameters and the queue threads;
//! - `dispatch`: one request, decoded and served, errno mapping;
//! - `backend`, `ftl_backend`, `shards`, `null`: what requests are served by
//!   (`shards`: one FTL per partition of the image, each behind its own lock);
//! - `slots`, `copy`: the slot memory and the two ways payload crosses;
//! - `journal`: the crash journal in `/dev/shm` that carries unflushed
//!   state across a daemon crash;
//! - `sys`: every `unsafe` block (slot memory, iovecs, process calls);
//!   the rest of the crate denies unsafe code. Memory maps are the
//!   simulator's `mmap` wrapper.
//! - `device_file`: what `recover` needs to know about a device;
//! - `image`: the NAND image; `stats`: the daemon's stats socket;
//! - `errors`: one-line errors and the driver/privilege preflight;
//! - `hooks`: test hooks, inert unless built with the `test-hooks` feature;
//! - `logging`: the daemon's timestamped log lines (`log` + `env_logger`).
#![warn(missing_docs)]
#![deny(unsafe_code)]

mod add;
pub mod args;
pub mod backend;
mod control;
pub mod copy;
mod daemon;
mod device;
mod device_file;
mod dispatch;
pub mod errors;
pub mod ftl_backend;
mod hooks;
mod image;
pub mod journal;
pub mod logging;
mod null;
pub use sys::slots;
pub mod shards;
pub mod spec;
mod stats;
// The one module allowed unsafe code: see its docs.
#[allow(unsafe_code)]
mod sys;

use args::{Cli, Command};
use errors::CliError;

/// Runs one `ftl-ublk` command.
pub fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Add(a) => add::run(a),
        Command::Del { id } => control::del(id),
        Command::Recover { id, foreground } => add::recover(id, foreground),
        Command::List => control::list(),
        Command::Stats { id, json } => control::show_stats(id, json),
        Command::Format(f) => control::format(f),
    }
}
