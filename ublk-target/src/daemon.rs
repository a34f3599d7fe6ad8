//! Process plumbing for `add`: forking into a daemon with a readiness pipe,
//! the signals that stop a device, and what a panic does.
//!
//! **Readiness.** The parent forks before any thread exists, then blocks on
//! a pipe. The child does all the work (open the image, mount the FTL,
//! create and start the device) and writes one line: `OK /dev/ublkbN` or
//! `ERR <message>`. The parent prints the path and exits 0, or prints the
//! message and exits 1; if the child dies without a word (EOF), the parent
//! says so and exits 1. So `add` never returns before the device is usable
//! and never hangs on a dead child.
//!
//! **Signals.** SIGINT, SIGTERM and SIGHUP are blocked in every thread and
//! taken by one watcher thread with `sigwait`, which turns them into a stop
//! event: stop accepting I/O, flush, save, delete the device.
//!
//! **Panics.** libublk deletes a device when its control handle is dropped,
//! which includes unwinding from a panic — a mounted file system would
//! silently lose its disk. Instead the panic hook logs the panic, reports it
//! on the readiness pipe if startup is still under way, and aborts: nothing
//! is unwound, nothing deleted by us. A panic is then a daemon crash like
//! SIGKILL: with user recovery the kernel keeps `/dev/ublkbN`, holds its
//! I/O, and `ftl-ublk recover ID` starts a successor that replays the
//! crash journal (`journal.rs`), so nothing acknowledged is lost. Without
//! user recovery (an old driver) the kernel fails the device's I/O; the id
//! stays in `ftl-ublk list` until `ftl-ublk del`, and the next `add` on the
//! image replays the journal the same way.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::sync::{mpsc, Mutex};

use crate::device::Event;
use crate::errors::CliError;
use crate::sys::process::{self, Forked, StopSignals};

/// Where a daemon's stderr goes.
pub const RUN_DIR: &str = "/run/zcftl";
/// The daemons' shared log.
pub const LOG_FILE: &str = "/run/zcftl/ftl-ublk.log";

/// A second write end of the readiness pipe while startup is under way,
/// for the panic hook to report on (taken, so closed, once startup ends).
static PANIC_PIPE: Mutex<Option<File>> = Mutex::new(None);

/// Tells whoever started `add` how startup went.
pub struct Notifier {
    pipe: Option<File>,
}

impl Notifier {
    /// A notifier for `--foreground`: readiness goes to stdout.
    pub fn foreground() -> Notifier {
        Notifier { pipe: None }
    }

    fn send(&mut self, line: &str) {
        // The parent sees EOF only once every write end is closed.
        drop(PANIC_PIPE.lock().map(|mut p| p.take()));
        if let Some(mut p) = self.pipe.take() {
            // The parent may be gone; there is no one else to tell.
            let _ = p.write_all(line.as_bytes());
        }
    }

    /// Startup succeeded: the device is at `path`.
    pub fn ready(&mut self, path: &str) {
        if self.pipe.is_some() {
            self.send(&format!("OK {path}\n"));
        } else {
            println!("{path}");
        }
    }

    /// Startup failed.
    pub fn fail(&mut self, e: &CliError) {
        self.send(&format!("ERR {e}\n"));
    }
}

/// Forks. The parent waits for the child's readiness line and exits with
/// the outcome; only the child returns, as a session leader with stdin and
/// stdout on /dev/null and stderr appended to [`LOG_FILE`]. Call before any
/// thread is started.
pub fn daemonize() -> Result<Notifier, CliError> {
    let (rd, wr) = process::pipe().map_err(|e| CliError::new(format!("pipe: {e}")))?;
    let forked = process::fork().map_err(|e| CliError::new(format!("fork: {e}")))?;
    if let Forked::Parent(pid) = forked {
        drop(wr);
        if !readable_within(&rd, STARTUP_TIMEOUT_MS) {
            eprintln!(
                "ftl-ublk: the daemon (pid {pid}) did not report ready within {} s; see {LOG_FILE}",
                STARTUP_TIMEOUT_MS / 1000
            );
            std::process::exit(1);
        }
        std::process::exit(parent_wait(File::from(rd)));
    }
    drop(rd);
    detach();
    if let (Ok(dup), Ok(mut p)) = (wr.try_clone(), PANIC_PIPE.lock()) {
        *p = Some(File::from(dup));
    }
    Ok(Notifier {
        pipe: Some(File::from(wr)),
    })
}

/// How long `add` waits for the daemon's readiness line: generous, since
/// formatting or mounting a large image under emulation takes a while, but
/// bounded so `add` never hangs on a stuck child.
const STARTUP_TIMEOUT_MS: i32 = 300_000;

/// Whether `fd` becomes readable (data or EOF) within `ms`.
fn readable_within(fd: &OwnedFd, ms: i32) -> bool {
    process::readable_within(fd, ms)
}

/// The parent's side: one line from the child decides the exit status.
fn parent_wait(mut rd: impl Read) -> i32 {
    let mut s = String::new();
    let _ = rd.read_to_string(&mut s);
    let line = s.lines().next().unwrap_or("");
    if let Some(path) = line.strip_prefix("OK ") {
        println!("{path}");
        0
    } else if let Some(msg) = line.strip_prefix("ERR ") {
        eprintln!("ftl-ublk: {msg}");
        1
    } else {
        eprintln!("ftl-ublk: the daemon exited during startup without a reason; see {LOG_FILE}");
        1
    }
}

/// New session, cwd `/`, stdio away from the terminal.
fn detach() {
    let _ = std::fs::create_dir_all(RUN_DIR);
    let log = OpenOptions::new().create(true).append(true).open(LOG_FILE);
    let null = OpenOptions::new().read(true).write(true).open("/dev/null");
    process::detach(null.as_ref().ok(), log.as_ref().ok());
}

/// Blocks the stop signals in this thread and every thread it starts
/// later, and starts the watcher that turns them into [`Event::Signal`].
pub fn watch_stop_signals(tx: mpsc::Sender<Event>) -> Result<(), CliError> {
    let set = StopSignals::block().map_err(|_| CliError::new("cannot block signals"))?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || loop {
            if let Some(sig) = set.wait() {
                if tx.send(Event::Signal(sig)).is_err() {
                    return;
                }
            }
        })
        .map(|_| ())
        .map_err(|e| CliError::new(format!("cannot start the signal thread: {e}")))
}

/// Installs the abort-on-panic hook described in the module docs.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let info = info.to_string().replace('\n', " ");
        log::error!(
            "PANIC: {info}; aborting without deleting the ublk device: run `ftl-ublk recover ID` (nothing acknowledged is lost), or `ftl-ublk del ID`"
        );
        // Startup still under way (and the lock not held by the panicking
        // thread itself): tell the waiting parent.
        let pipe = PANIC_PIPE.try_lock().ok().and_then(|mut p| p.take());
        if let Some(mut p) = pipe {
            let line = format!("ERR the daemon panicked during startup: {info}; see {LOG_FILE}\n");
            let _ = p.write_all(line.as_bytes());
        }
        std::process::abort();
    }));
}

/// Makes a fault on the mapping of `image` (SIGBUS: its file system is
/// full, or the file was cut short) a logged crash, like a panic, instead
/// of a silent death: the line names the cause and the way back.
pub fn report_image_faults(image: &std::path::Path) -> Result<(), CliError> {
    let line = format!(
        "FATAL ftl-ublk[{}]: SIGBUS on the NAND image {}: its file system is most likely full (or the file was truncated, or its disk failed); aborting without deleting the ublk device, whose I/O the kernel holds: free space, then `ftl-ublk recover ID` (`ftl-ublk list` names ID; nothing acknowledged is lost), or `ftl-ublk del ID`\n",
        std::process::id(),
        image.display()
    );
    process::report_sigbus(line).map_err(|e| CliError::new(format!("cannot catch SIGBUS: {e}")))
}

/// Warns (in the log) when the file system holding `image` has less free
/// space than the image's unallocated part: the image is sparse, so that
/// is allowed, but the daemon stops (see [`report_image_faults`]) the
/// moment the file system fills.
pub fn warn_if_space_short(image: &std::path::Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(m) = std::fs::metadata(image) else {
        return;
    };
    let dir = image.parent().filter(|d| !d.as_os_str().is_empty());
    let Ok(free) = process::free_bytes(dir.unwrap_or(std::path::Path::new("."))) else {
        return;
    };
    let unallocated = m.len().saturating_sub(m.blocks() * 512);
    if free < unallocated {
        log::warn!(
            "image {}: its file system has {} MiB free, but the image may still allocate {} MiB; if the file system fills, the daemon stops (device kept) until space is freed and `ftl-ublk recover` runs",
            image.display(),
            free >> 20,
            unallocated >> 20
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_exit_status_follows_the_child_line() {
        assert_eq!(parent_wait(&b"OK /dev/ublkb3\n"[..]), 0);
        assert_eq!(parent_wait(&b"ERR image busy\n"[..]), 1);
        assert_eq!(parent_wait(&b""[..]), 1, "child died without a word");
        assert_eq!(parent_wait(&b"garbage"[..]), 1);
    }

    #[test]
    fn startup_wait_is_bounded() {
        let (rd, wr) = process::pipe().unwrap();
        assert!(
            !readable_within(&rd, 10),
            "a silent, living child times out"
        );
        drop(wr);
        assert!(readable_within(&rd, 10), "a dead child is EOF at once");
    }

    #[test]
    fn notifier_sends_one_line_once() {
        let (rd, wr) = process::pipe().unwrap();
        let (rd, wr) = (File::from(rd), File::from(wr));
        let mut n = Notifier { pipe: Some(wr) };
        n.fail(&CliError::new("image busy"));
        n.ready("/dev/ublkb0"); // already sent: goes nowhere (stdout)
        let mut s = String::new();
        let mut rd = rd;
        rd.read_to_string(&mut s).unwrap();
        assert_eq!(s, "ERR image busy\n");
    }
}
