//! The CLI's errors: one line that says what went wrong and what to do,
//! printed once by `main` before a non-zero exit. Also the preflight checks
//! that turn "no driver" and "no privilege" into such a line before libublk
//! gets a chance to print its own advice or fail obscurely.

use std::fmt;
use std::io::ErrorKind;
use std::path::Path;

use libublk::UblkError;

/// Where the ublk driver's control node lives.
pub const CONTROL_NODE: &str = "/dev/ublk-control";

/// A one-line, user-facing error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError(String);

impl CliError {
    /// An error with this message (newlines are folded into one line).
    pub fn new(msg: impl Into<String>) -> CliError {
        let m: String = msg.into();
        CliError(m.replace('\n', "; "))
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<crate::spec::SpecError> for CliError {
    fn from(e: crate::spec::SpecError) -> Self {
        CliError::new(e.to_string())
    }
}

/// The message for a missing driver.
pub fn no_driver() -> CliError {
    CliError::new(format!(
        "the ublk driver is not loaded ({CONTROL_NODE} is missing): run `modprobe ublk_drv` (Linux 6.0+ with CONFIG_BLK_DEV_UBLK)"
    ))
}

/// The message for missing privilege.
pub fn no_privilege() -> CliError {
    CliError::new(format!(
        "permission denied on {CONTROL_NODE}: run ftl-ublk as root (it needs CAP_SYS_ADMIN)"
    ))
}

/// Checks the driver is there and usable by us, without creating anything.
pub fn preflight() -> Result<(), CliError> {
    if !Path::new(CONTROL_NODE).exists() {
        return Err(no_driver());
    }
    match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(CONTROL_NODE)
    {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::PermissionDenied => return Err(no_privilege()),
        Err(e) => return Err(CliError::new(format!("cannot open {CONTROL_NODE}: {e}"))),
    }
    // Adding a device and USER_COPY need CAP_SYS_ADMIN; an unprivileged
    // caller would otherwise get a bare EPERM from deep inside libublk.
    if !has_sys_admin(&std::fs::read_to_string("/proc/self/status").unwrap_or_default()) {
        return Err(no_privilege());
    }
    Ok(())
}

/// Whether `CapEff` in a `/proc/PID/status` text has CAP_SYS_ADMIN (21).
/// Without a readable status, falls back to "is root".
fn has_sys_admin(status: &str) -> bool {
    const CAP_SYS_ADMIN: u32 = 21;
    match status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
    {
        Some(caps) => caps & (1 << CAP_SYS_ADMIN) != 0,
        None => crate::sys::process::is_root(),
    }
}

/// Turns a libublk error into a one-line message. `id` is the device id
/// asked for, if any (an `EEXIST` then means it is taken).
pub fn ublk_error(e: UblkError, id: Option<u32>) -> CliError {
    let errno = match &e {
        UblkError::OtherError(n) | UblkError::UringIOError(n) => Some(-*n),
        UblkError::IOError(io) => io.raw_os_error(),
        _ => None,
    };
    match errno {
        Some(libc::ENOENT) if !Path::new(CONTROL_NODE).exists() => no_driver(),
        Some(libc::EPERM) | Some(libc::EACCES) => no_privilege(),
        Some(libc::EEXIST) => match id {
            Some(id) => CliError::new(format!(
                "ublk device id {id} is already in use: pick another --id or omit it"
            )),
            None => CliError::new("the ublk driver refused to add a device: id in use"),
        },
        Some(libc::ENODEV) | Some(libc::ENOENT) => {
            CliError::new("no such ublk device (see `ftl-ublk list`)")
        }
        Some(libc::ENOMEM) => {
            CliError::new("the ublk driver is out of memory: use fewer queues or a smaller --depth")
        }
        Some(n) => CliError::new(format!(
            "ublk request failed: {} ({e})",
            std::io::Error::from_raw_os_error(n)
        )),
        None => CliError::new(format!("ublk request failed: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_parsing() {
        assert!(has_sys_admin("Name:\tx\nCapEff:\t000001ffffffffff\n"));
        assert!(!has_sys_admin("CapEff:\t0000000000000000\n"));
        assert!(has_sys_admin("CapEff:\t0000000000200000\n"));
    }

    #[test]
    fn one_line() {
        assert_eq!(CliError::new("a\nb").message(), "a; b");
    }

    #[test]
    fn ublk_errors_say_what_to_do() {
        let m = ublk_error(UblkError::UringIOError(-libc::EPERM), None);
        assert!(m.message().contains("root"));
        let m = ublk_error(UblkError::OtherError(-libc::EEXIST), Some(3));
        assert!(m.message().contains("--id"));
        let m = ublk_error(UblkError::InvalidVal, None);
        assert!(m.message().starts_with("ublk request failed"));
        assert!(!m.message().contains('\n'));
    }
}
