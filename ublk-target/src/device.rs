//! The ublk side: create the device, set its parameters in one place, run
//! one thread per queue serving requests through [`dispatch::serve`], and
//! stop when told to (a signal, or a queue going down).
//!
//! Each queue thread handles its requests synchronously: fetch, serve (the
//! kernel copy happens inside, on this thread), commit. Any LBA may arrive
//! on any queue, so the backend is shared; its lock is held only around
//! the FTL's table updates, never across a copy.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use libublk::ctrl::{UblkCtrl, UblkCtrlBuilder};
use libublk::io::{BufDescList, UblkDev, UblkIOCtx, UblkQueue};
use libublk::{sys, BufDesc, UblkFlags, UblkIORes};

use crate::args::ZeroCopy;
use crate::backend::{Backend, BLOCK_SHIFT};
use crate::copy::{Bounce, UserCopy};
use crate::dispatch::serve;
use crate::errors::{ublk_error, CliError};
use crate::hooks::PanicAfter;
use crate::slots::MAX_IO_BLOCKS;

/// Largest request: 512 KiB, one slot per 4 KiB.
pub const IO_BUF_BYTES: u32 = (MAX_IO_BLOCKS as u32) << BLOCK_SHIFT;
/// Largest DISCARD, in 512-byte sectors (1 GiB): a table update.
const MAX_DISCARD_SECTORS: u32 = 1 << 21;
/// Largest WRITE_ZEROES, in 512-byte sectors (64 MiB): it programs zeros,
/// so it is bounded to keep one request well inside the I/O timeout.
const MAX_WRITE_ZEROES_SECTORS: u32 = 1 << 17;

/// What stops a running device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// SIGINT / SIGTERM / SIGHUP arrived.
    Signal(i32),
    /// A queue thread ended (the device was deleted, or it failed).
    QueueDown(u16),
}

/// How the device is shaped.
#[derive(Debug, Clone)]
pub struct DeviceConfig {
    /// Requested id, or any.
    pub id: Option<u32>,
    /// Hardware queues.
    pub queues: u16,
    /// Tags per queue.
    pub depth: u16,
    /// Payload path.
    pub zero_copy: ZeroCopy,
    /// Take over device `id` from a dead daemon (user recovery) instead of
    /// adding a new one.
    pub recover: bool,
}

/// State every queue thread and the stats server share.
pub struct Target {
    /// The block store.
    pub backend: Arc<dyn Backend>,
    /// Whether the driver granted UBLK_F_USER_COPY.
    pub user_copy: bool,
    /// Payload bytes memcpy'd in user space (copy mode only).
    pub memcpy_bytes: AtomicU64,
    /// Requests completed, and requests completed with an error.
    pub requests: AtomicU64,
    /// Requests that completed with an error.
    pub errors: AtomicU64,
    /// Requests completed, per queue: with `--queues N`, whether every
    /// queue serves (the kernel maps each CPU to one queue).
    pub queue_requests: Vec<AtomicU64>,
    depth: u16,
    events: Mutex<mpsc::Sender<Event>>,
}

impl Target {
    /// `"user-copy"` or `"copy"`.
    pub fn mode_name(&self) -> &'static str {
        if self.user_copy {
            "user-copy"
        } else {
            "copy"
        }
    }

    /// A target outside a device, for unit tests.
    #[cfg(test)]
    pub fn for_tests(
        backend: Arc<dyn Backend>,
        mode: ZeroCopy,
        events: mpsc::Sender<Event>,
    ) -> Target {
        Target {
            backend,
            user_copy: mode != ZeroCopy::Copy,
            memcpy_bytes: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            queue_requests: vec![AtomicU64::new(0)],
            depth: 1,
            events: Mutex::new(events),
        }
    }

    fn notify(&self, e: Event) {
        if let Ok(tx) = self.events.lock() {
            let _ = tx.send(e);
        }
    }
}

/// A created (not yet started) device: the control handle and the
/// negotiated payload mode.
pub struct Device {
    ctrl: UblkCtrl,
    user_copy: bool,
    user_recovery: bool,
    queues: u16,
    depth: u16,
}

/// Sends `QueueDown` when a queue thread leaves, however it leaves.
struct QueueExitGuard<'a>(&'a Target, u16);

impl Drop for QueueExitGuard<'_> {
    fn drop(&mut self) {
        self.0.notify(Event::QueueDown(self.1));
    }
}

impl Device {
    /// Adds the device to the driver (or, with `cfg.recover`, attaches to
    /// a device whose daemon died, after `START_USER_RECOVERY`) and checks
    /// the negotiated flags.
    pub fn create(cfg: &DeviceConfig) -> Result<Device, CliError> {
        if let (Some(id), false) = (cfg.id, cfg.recover) {
            // libublk 0.4.8 deletes the device whose id it failed to add
            // (its half-built control handle drops with ADD_DEV set), which
            // would destroy someone else's live device: check first.
            if Path::new(&format!("/sys/class/ublk-char/ublkc{id}")).exists() {
                return Err(ublk_error(
                    libublk::UblkError::OtherError(-libc::EEXIST),
                    Some(id),
                ));
            }
        }
        let want_user_copy = cfg.zero_copy != ZeroCopy::Copy;
        // User recovery keeps /dev/ublkbN through a daemon crash; REISSUE
        // hands the requests the dead daemon held to its successor instead
        // of failing them (a write is idempotent), so the file system above
        // sees a stall, not an error.
        let mut ctrl_flags =
            u64::from(sys::UBLK_F_USER_RECOVERY | sys::UBLK_F_USER_RECOVERY_REISSUE);
        if want_user_copy {
            ctrl_flags |= u64::from(sys::UBLK_F_USER_COPY);
        }
        let dev_flags = if cfg.recover {
            UblkFlags::UBLK_DEV_F_RECOVER_DEV
        } else {
            UblkFlags::UBLK_DEV_F_ADD_DEV
        };
        let ctrl = UblkCtrlBuilder::default()
            .name("zcftl")
            .id(cfg.id.map_or(-1, |i| i as i32))
            .nr_queues(cfg.queues)
            .depth(cfg.depth)
            .io_buf_bytes(IO_BUF_BYTES)
            .ctrl_flags(ctrl_flags)
            .dev_flags(dev_flags)
            .build()
            .map_err(|e| ublk_error(e, cfg.id))?;
        // The driver silently drops flags it does not know: look at what it
        // actually granted.
        let flags = ctrl.dev_info().flags;
        let user_copy = flags & u64::from(sys::UBLK_F_USER_COPY) != 0;
        if cfg.zero_copy == ZeroCopy::UserCopy && !user_copy {
            // Dropping `ctrl` deletes a half-made new device.
            return Err(CliError::new(
                "this ublk driver does not offer UBLK_F_USER_COPY (needs Linux 6.5+): use --zero-copy copy or auto",
            ));
        }
        Ok(Device {
            ctrl,
            user_copy,
            user_recovery: flags & u64::from(sys::UBLK_F_USER_RECOVERY) != 0,
            queues: cfg.queues,
            depth: cfg.depth,
        })
    }

    /// Whether the driver keeps this device through a daemon crash.
    pub fn user_recovery(&self) -> bool {
        self.user_recovery
    }

    /// The state the queues will share, serving `backend`.
    pub fn target(&self, backend: Arc<dyn Backend>, events: mpsc::Sender<Event>) -> Arc<Target> {
        Arc::new(Target {
            backend,
            user_copy: self.user_copy,
            memcpy_bytes: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            queue_requests: (0..self.queues).map(|_| AtomicU64::new(0)).collect(),
            depth: self.depth,
            events: Mutex::new(events),
        })
    }

    /// The device id the driver gave.
    pub fn id(&self) -> u32 {
        self.ctrl.dev_info().dev_id
    }

    /// `/dev/ublkbN`.
    pub fn bdev_path(&self) -> String {
        self.ctrl.get_bdev_path()
    }

    /// Starts the queues and the device, calls `ready` once `/dev/ublkbN`
    /// exists, then serves until a signal or a queue going down; stops the
    /// device and returns once every queue thread has ended. The device is
    /// stopped but not deleted: flush and save, then [`Device::delete`].
    pub fn run(
        &self,
        target: Arc<Target>,
        events: mpsc::Receiver<Event>,
        ready: impl FnOnce(&str) + Send + Sync + 'static,
    ) -> Result<Option<Event>, CliError> {
        let blocks = target.backend.blocks();
        let tgt_init = move |dev: &mut UblkDev| {
            set_params(dev, blocks);
            Ok(())
        };
        let q_fn = move |qid: u16, dev: &UblkDev| serve_queue(qid, dev, &target);
        let bdev = self.bdev_path();
        let events = Mutex::new(events);
        let stop_reason = Arc::new(Mutex::new(None));
        let reason = stop_reason.clone();
        let dev_fn = move |ctrl: &UblkCtrl| {
            wait_for_node(&bdev, Duration::from_secs(5));
            ready(&bdev);
            let ev = match events.lock() {
                Ok(rx) => rx.recv().ok(),
                Err(_) => None,
            };
            if let Ok(mut r) = reason.lock() {
                *r = ev;
            }
            // Stop accepting I/O: the kernel drains what is in flight, the
            // queues see the abort and their threads end.
            let _ = ctrl.kill_dev();
        };
        self.ctrl
            .run_target(tgt_init, q_fn, dev_fn)
            .map_err(|e| ublk_error(e, None))?;
        let ev = stop_reason.lock().map(|r| *r).unwrap_or(None);
        Ok(ev)
    }

    /// Deletes the device from the driver.
    pub fn delete(self) -> Result<(), CliError> {
        match self.ctrl.del_dev() {
            Ok(_) => Ok(()),
            // Already gone (deleted by someone else): fine.
            Err(libublk::UblkError::OtherError(e)) if e == -libc::ENOENT => Ok(()),
            Err(e) => Err(ublk_error(e, None)),
        }
    }
}

/// The device parameters, all in one place: 4096-byte logical and physical
/// blocks, a volatile write cache with FUA, and discard / write-zeroes.
fn set_params(dev: &mut UblkDev, blocks: u64) {
    let bytes = blocks << BLOCK_SHIFT;
    let max_sectors = dev.dev_info.max_io_buf_bytes >> 9;
    dev.tgt.dev_size = bytes;
    dev.tgt.params = sys::ublk_params {
        types: sys::UBLK_PARAM_TYPE_BASIC | sys::UBLK_PARAM_TYPE_DISCARD,
        basic: sys::ublk_param_basic {
            attrs: sys::UBLK_ATTR_VOLATILE_CACHE | sys::UBLK_ATTR_FUA,
            logical_bs_shift: BLOCK_SHIFT as u8,
            physical_bs_shift: BLOCK_SHIFT as u8,
            io_opt_shift: BLOCK_SHIFT as u8,
            io_min_shift: BLOCK_SHIFT as u8,
            max_sectors,
            dev_sectors: bytes >> 9,
            ..Default::default()
        },
        discard: sys::ublk_param_discard {
            discard_granularity: 1 << BLOCK_SHIFT,
            max_discard_sectors: MAX_DISCARD_SECTORS,
            max_write_zeroes_sectors: MAX_WRITE_ZEROES_SECTORS,
            max_discard_segments: 1,
            ..Default::default()
        },
        ..Default::default()
    };
}

/// One queue thread: fetch every tag, then serve until the queue is down.
fn serve_queue(qid: u16, dev: &UblkDev, tgt: &Target) {
    let _guard = QueueExitGuard(tgt, qid);
    let user_copy = tgt.user_copy;
    let mut bufs = if user_copy {
        None
    } else {
        Some(dev.alloc_queue_io_bufs())
    };
    let queue = match UblkQueue::new(qid, dev) {
        Ok(q) => q,
        Err(e) => {
            log::error!("queue {qid}: setup failed: {e}");
            return;
        }
    };
    let queue = match queue.submit_fetch_commands_unified(BufDescList::Slices(bufs.as_ref())) {
        Ok(q) => q,
        Err(e) => {
            log::error!("queue {qid}: fetch failed: {e}");
            return;
        }
    };
    let cdev = dev.tgt.fds[0];
    let base_handle = u32::from(qid) * u32::from(tgt.depth);
    let backend = &*tgt.backend;
    let panic_after = PanicAfter::from_env();
    queue.wait_and_handle_io(|q: &UblkQueue, tag: u16, _io: &UblkIOCtx| {
        let iod = q.get_iod(tag);
        let (op_flags, start, nr) = (iod.op_flags, iod.start_sector, iod.nr_sectors);
        let handle = base_handle + u32::from(tag);
        let (res, desc) = match bufs.as_mut().map(|b| b.get_mut(usize::from(tag))) {
            None => {
                let pos = UblkIOCtx::ublk_user_copy_pos(qid, tag, 0);
                let mut x = UserCopy::new(cdev, pos);
                (
                    serve(backend, handle, op_flags, start, nr, &mut x),
                    BufDesc::Slice(&[]),
                )
            }
            Some(Some(buf)) => {
                let mut x = Bounce::new(buf.as_mut_slice(), &tgt.memcpy_bytes);
                let r = serve(backend, handle, op_flags, start, nr, &mut x);
                (r, BufDesc::Slice(buf.as_slice()))
            }
            // A tag past the buffers libublk allocated: cannot happen.
            Some(None) => (-libc::EIO, BufDesc::Slice(&[])),
        };
        let done = tgt.requests.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(n) = tgt.queue_requests.get(usize::from(qid)) {
            n.fetch_add(1, Ordering::Relaxed);
        }
        if res < 0 {
            tgt.errors.fetch_add(1, Ordering::Relaxed);
        }
        // Fault injection, with the `test-hooks` feature only.
        panic_after.check(done);
        if let Err(e) = q.complete_io_cmd_unified(tag, desc, Ok(UblkIORes::Result(res))) {
            log::error!("queue {qid} tag {tag}: commit failed: {e}");
        }
    });
}

/// Waits (bounded) for devtmpfs/udev to create `path`, so whoever reads
/// the printed path can open it at once.
fn wait_for_node(path: &str, limit: Duration) {
    let start = Instant::now();
    while !Path::new(path).exists() && start.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(10));
    }
}
