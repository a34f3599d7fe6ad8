//! Process calls libc makes `unsafe`, behind safe functions: a pipe, a
//! fork that checks it is alone, poll, detaching from the terminal, the
//! stop signals, and asking about or signalling another process.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// A pipe: `(read end, write end)`, both close-on-exec.
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and ours alone.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Which side of a [`fork`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forked {
    /// The parent, with the child's pid.
    Parent(i32),
    /// The child.
    Child,
}

/// Threads of this process that run user code, from `/proc/self/task`.
/// io_uring's kernel workers (`iou-wrk-*`, `iou-sqp-*`: libublk's control
/// ring may have one when `recover` forks) run no user code and hold no
/// user-space lock, so they do not count.
fn threads() -> io::Result<usize> {
    let mut n = 0;
    for task in std::fs::read_dir("/proc/self/task")? {
        let comm = std::fs::read_to_string(task?.path().join("comm")).unwrap_or_default();
        if !comm.starts_with("iou-") {
            n += 1;
        }
    }
    Ok(n)
}

/// Forks. Refused unless this is the process's only thread running user
/// code: a child of a threaded process inherits locks whose owners it does
/// not have.
pub fn fork() -> io::Result<Forked> {
    match threads() {
        Ok(1) => {}
        Ok(n) => {
            return Err(io::Error::other(format!(
                "cannot fork with {n} threads running"
            )))
        }
        Err(e) => {
            return Err(io::Error::other(format!(
                "cannot count threads before forking (is /proc mounted?): {e}"
            )))
        }
    }
    // SAFETY: this is the only thread running user code (checked just
    // above, and only this thread could have started another since), so
    // no lock is held by a thread the child will not have.
    match unsafe { libc::fork() } {
        pid if pid < 0 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid)),
    }
}

/// Whether `fd` becomes readable (data or EOF) within `ms` milliseconds.
pub fn readable_within(fd: &OwnedFd, ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: `p` is one valid pollfd for the duration of the call, and
        // `fd` is borrowed open for it.
        let r = unsafe { libc::poll(&mut p, 1, ms) };
        if r >= 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return r > 0;
        }
    }
}

/// New session, cwd `/`, stdin and stdout on `null`, stderr on `log`.
/// Failures leave the old (still valid) stdio in place.
pub fn detach(null: Option<&File>, log: Option<&File>) {
    // SAFETY: setsid and chdir take no memory but the static C string;
    // dup2 only replaces descriptors 0-2 with open descriptors we borrow,
    // which is the point (std's stdio handles then reach the new files).
    unsafe {
        libc::setsid();
        libc::chdir(c"/".as_ptr());
        if let Some(n) = null {
            libc::dup2(n.as_raw_fd(), 0);
            libc::dup2(n.as_raw_fd(), 1);
        }
        if let Some(l) = log {
            libc::dup2(l.as_raw_fd(), 2);
        }
    }
}

/// SIGINT, SIGTERM and SIGHUP.
pub struct StopSignals(libc::sigset_t);

impl StopSignals {
    /// Blocks the stop signals in this thread and every thread it starts
    /// later, so only [`StopSignals::wait`] receives them.
    pub fn block() -> io::Result<StopSignals> {
        // SAFETY: sigset_t is plain data; sigemptyset initialises it before
        // sigaddset and pthread_sigmask read it.
        let set = unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::sigaddset(&mut set, libc::SIGHUP);
            set
        };
        // SAFETY: `set` is initialised; the old mask is not asked for.
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(StopSignals(set))
    }

    /// Waits for one of the signals; `None` if the wait failed.
    pub fn wait(&self) -> Option<i32> {
        let mut sig = 0;
        // SAFETY: the set is initialised and `sig` is a valid out-pointer.
        (unsafe { libc::sigwait(&self.0, &mut sig) } == 0).then_some(sig)
    }
}

/// Whether process `pid` exists (signal 0).
pub fn process_alive(pid: i32) -> bool {
    // SAFETY: kill takes no memory; signal 0 only checks the process exists.
    pid > 0 && unsafe { libc::kill(pid, 0) } == 0
}

/// Asks process `pid` to stop (SIGTERM).
pub fn terminate(pid: i32) {
    if pid > 0 {
        // SAFETY: kill takes no memory; pid > 0 names one process, never a
        // group.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
}

/// Whether the effective user is root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The line [`report_sigbus`]'s handler writes to stderr, set before the
/// handler is installed.
static SIGBUS_LINE: std::sync::OnceLock<Box<[u8]>> = std::sync::OnceLock::new();

/// Makes a SIGBUS write `line` to stderr (the daemon's log) and abort.
///
/// The NAND image is a shared file mapping: a store into a page the file
/// system cannot allocate (it is full), or a load past a truncated file,
/// raises SIGBUS, whose default action kills the process without a word.
/// The handler keeps the kill (nothing can be resumed) but says why.
/// Installed once per process; a later call keeps the first line.
pub fn report_sigbus(line: String) -> io::Result<()> {
    let _ = SIGBUS_LINE.set(line.into_bytes().into_boxed_slice());
    // SAFETY: `sa` is plain data, zeroed then filled field by field;
    // sigemptyset initialises its mask. The handler is an `extern "C" fn`
    // that only calls async-signal-safe functions (write, abort) on a line
    // set before it is installed.
    let rc = unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigbus as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut())
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

extern "C" fn on_sigbus(_sig: libc::c_int) {
    if let Some(line) = SIGBUS_LINE.get() {
        // SAFETY: write(2) is async-signal-safe; `line` is a live, immutable
        // boxed slice (a OnceLock is never emptied).
        unsafe { libc::write(2, line.as_ptr().cast(), line.len()) };
    }
    // SAFETY: abort is async-signal-safe and takes no arguments.
    unsafe { libc::abort() }
}

/// Bytes an unprivileged user may still allocate on the file system
/// holding `path` (`statvfs`).
pub fn free_bytes(path: &std::path::Path) -> io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path holds a NUL byte"))?;
    // SAFETY: statvfs is plain data, zeroed; `c` is a valid C string and
    // `st` a valid out-pointer for the call.
    let (rc, st) = unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        let rc = libc::statvfs(c.as_ptr(), &mut st);
        (rc, st)
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liveness_and_threads() {
        assert!(!process_alive(0) && process_alive(std::process::id() as i32));
        // The harness runs this test beside its main thread: `fork` would
        // refuse (not called here: were it to succeed, two test runs would
        // go on).
        assert!(threads().unwrap() > 1);
    }

    /// Run in a child process (the test binary again, this test alone):
    /// maps a file, cuts it short and loads from the lost page.
    fn sigbus_child() {
        let path = std::env::temp_dir().join(format!("zcftl-sigbus-{}", std::process::id()));
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        f.set_len(8192).unwrap();
        let map = simulator::mmap::Mapping::shared(&f, 0, 8192, simulator::mmap::Populate(false))
            .unwrap();
        report_sigbus("SIGBUS-LINE from the test\n".into()).unwrap();
        f.set_len(0).unwrap();
        let _ = std::fs::remove_file(&path);
        let b = std::hint::black_box(map.bytes())[4096];
        println!("read {b} past the end: no SIGBUS");
    }

    #[test]
    fn sigbus_is_reported_then_aborts() {
        if std::env::var_os("ZCFTL_SIGBUS_CHILD").is_some() {
            return sigbus_child();
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "sys::process::tests::sigbus_is_reported_then_aborts",
            ])
            .args(["--nocapture", "--test-threads=1"])
            .env("ZCFTL_SIGBUS_CHILD", "1")
            .output()
            .unwrap();
        use std::os::unix::process::ExitStatusExt;
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{out:?}");
        assert!(err.contains("SIGBUS-LINE from the test"), "stderr: {err}");
    }
}
