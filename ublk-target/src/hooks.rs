//! Test hooks: behaviour that exists only to test failure paths, compiled
//! in only with the `test-hooks` cargo feature. The crate's own tests turn
//! it on (a self dev-dependency in `Cargo.toml`); the daemon users run is
//! built without it, so these are inert there: no environment variable can
//! make it panic, and the journal never stops being published.

use simulator::NandPart;

/// Whether a test killed the daemon at a simulated NAND power cut: from
/// that instant nothing the process does may reach the crash journal, as
/// after a real SIGKILL (`ftl_backend/kill_tests.rs`).
#[cfg(feature = "test-hooks")]
pub fn daemon_killed(nand: &NandPart) -> bool {
    nand.last_cut().is_some()
}

/// Without `test-hooks`: never.
#[cfg(not(feature = "test-hooks"))]
pub fn daemon_killed(_nand: &NandPart) -> bool {
    false
}

/// The variable that makes a queue thread panic after N requests, to
/// prove the panic policy (`daemon.rs`) in a real kernel with a request in
/// flight.
#[cfg(feature = "test-hooks")]
pub const PANIC_AFTER_ENV: &str = "ZCFTL_UBLK_PANIC_AFTER";

/// When a queue thread panics: after [`PANIC_AFTER_ENV`] requests.
#[derive(Clone, Copy, Debug)]
pub struct PanicAfter(#[cfg(feature = "test-hooks")] Option<u64>);

impl PanicAfter {
    /// Reads [`PANIC_AFTER_ENV`] (with `test-hooks`; else never panics).
    pub fn from_env() -> PanicAfter {
        #[cfg(feature = "test-hooks")]
        return PanicAfter(
            std::env::var(PANIC_AFTER_ENV)
                .ok()
                .and_then(|v| v.parse().ok()),
        );
        #[cfg(not(feature = "test-hooks"))]
        PanicAfter()
    }

    /// Panics once `done` requests have completed, if asked to.
    pub fn check(&self, done: u64) {
        #[cfg(feature = "test-hooks")]
        if self.0.is_some_and(|n| done >= n) {
            panic!("injected panic after {done} requests ({PANIC_AFTER_ENV})");
        }
        #[cfg(not(feature = "test-hooks"))]
        let _ = done;
    }
}
