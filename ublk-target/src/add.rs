//! `ftl-ublk add` and `ftl-ublk recover`: validate, daemonize, open the
//! image and mount the FTL (replaying a crashed daemon's journal), create
//! the device — or take over one whose daemon died — serve until stopped,
//! then flush, save and delete it.

use std::path::Path;
use std::sync::{mpsc, Arc, Mutex};

use libublk::ctrl::UblkCtrl;

use crate::args::AddArgs;
use crate::backend::{Backend, BLOCK_SHIFT};
use crate::daemon::{self, Notifier};
use crate::device::{Device, DeviceConfig, Event};
use crate::device_file::DeviceFile;
use crate::errors::{preflight, ublk_error, CliError};
use crate::ftl_backend::{JournalAt, CACHE_BYTES};
use crate::image::{open_or_create, Opened};
use crate::journal::JOURNAL_DIR;
use crate::null::NullBackend;
use crate::shards::Shards;
use crate::spec::{geometry_for, parse_size};
use crate::stats::{self, DaemonInfo};

/// Runs `add`. In daemon mode only the child returns from here.
pub fn run(a: AddArgs) -> Result<(), CliError> {
    // Everything that needs no resources is checked before forking, so a
    // typo fails fast and the same way in both modes.
    if let Some(b) = a.map_budget.as_deref() {
        if a.null {
            return Err(CliError::new(
                "--map-budget applies to an FTL device, not --null",
            ));
        }
        parse_size(b).map_err(|e| CliError::new(format!("--map-budget: {e}")))?;
    }
    if a.null {
        parse_size(a.size.as_deref().unwrap_or(crate::args::DEFAULT_SIZE))?;
    } else if !a.image.exists() {
        geometry_for(a.size.as_deref(), a.geometry.as_deref())?;
    }
    preflight()?;
    daemonize_and_serve(&a, false)
}

/// Forks (unless `--foreground`), then serves `a` until stopped; a startup
/// failure reaches the waiting parent. Only the child returns.
fn daemonize_and_serve(a: &AddArgs, recover: bool) -> Result<(), CliError> {
    let mut notifier = if a.foreground {
        Notifier::foreground()
    } else {
        daemon::daemonize()?
    };
    daemon::install_panic_hook();
    serve(a, &mut notifier, recover).inspect_err(|e| notifier.fail(e))
}

/// Runs `recover ID`: restarts the daemon of device `id`, whose daemon
/// died, on the same image; the kernel kept `/dev/ublkbID` and the requests
/// in flight. In daemon mode only the child returns from here.
pub fn recover(id: u32, foreground: bool) -> Result<(), CliError> {
    preflight()?;
    let file = DeviceFile::load(id)?;
    if !file.user_recovery {
        return Err(CliError::new(format!(
            "device {id} was added without user recovery (this ublk driver does not offer it): `ftl-ublk del {id}`, then `ftl-ublk add` on the same image"
        )));
    }
    let ctrl = UblkCtrl::new_simple(id as i32).map_err(|e| ublk_error(e, Some(id)))?;
    let pid = ctrl.dev_info().ublksrv_pid;
    if crate::sys::process::process_alive(pid) {
        return Err(CliError::new(format!(
            "device {id} still has its daemon (pid {pid}): nothing to recover"
        )));
    }
    drop(ctrl);
    if let Some(img) = file.image.as_deref().filter(|p| !p.exists()) {
        return Err(CliError::new(format!(
            "the image of device {id}, {}, is gone: cannot recover",
            img.display()
        )));
    }
    let a = AddArgs {
        null: file.image.is_none(),
        image: file.image.unwrap_or_default(),
        size: file.null_size,
        geometry: None,
        queues: file.queues,
        depth: file.depth,
        id: Some(id),
        foreground,
        zero_copy: file.zero_copy,
        map_budget: file.map_budget,
        // The image keeps the count it was made with.
        shards: None,
    };
    daemonize_and_serve(&a, true)
}

/// Sends START_USER_RECOVERY for device `id` (waiting while the driver
/// still sees the old daemon).
fn start_recovery(id: u32) -> Result<(), CliError> {
    let ctrl = UblkCtrl::new_simple(id as i32).map_err(|e| ublk_error(e, Some(id)))?;
    match ctrl.start_user_recover() {
        Ok(r) if r >= 0 => Ok(()),
        Ok(r) => Err(CliError::new(format!(
            "the driver refused to start recovering device {id}: {}",
            std::io::Error::from_raw_os_error(-r)
        ))),
        Err(e) => Err(ublk_error(e, Some(id))),
    }
}

/// What a device serves: the backend, and its image (`None` for the null
/// target).
struct Served {
    backend: Arc<dyn Backend>,
    image: Option<String>,
}

/// Opens the backend for `a`.
fn open_backend(a: &AddArgs) -> Result<Served, CliError> {
    if a.null {
        let bytes = parse_size(a.size.as_deref().unwrap_or(crate::args::DEFAULT_SIZE))?;
        let blocks = bytes >> BLOCK_SHIFT;
        if blocks == 0 {
            return Err(CliError::new("--size must be at least 4K"));
        }
        let b = NullBackend::new(blocks).map_err(|e| CliError::new(format!("null target: {e}")))?;
        return Ok(Served {
            backend: Arc::new(b),
            image: None,
        });
    }
    let handles = u32::from(a.queues) * u32::from(a.depth);
    daemon::report_image_faults(&a.image)?;
    let opened = open_or_create(
        &a.image,
        a.size.as_deref(),
        a.geometry.as_deref(),
        a.shards,
        a.queues,
    )?;
    let mut cfg = crate::ftl_backend::ftl_config(handles);
    if let Some(b) = a.map_budget.as_deref() {
        cfg.map_budget_bytes = parse_size(b)?;
    }
    // An existing image serves the capacity on its flash; a new one is
    // formatted with the over-provisioning asked for.
    let (nand, fresh) = match opened {
        Opened::Existing(n) => (n, false),
        Opened::Created(n, op) => {
            cfg.over_provisioning_percent = op;
            (n, true)
        }
    };
    daemon::warn_if_space_short(&a.image);
    let journal = JournalAt {
        dir: Path::new(JOURNAL_DIR),
        image: &a.image,
    };
    let b = Shards::open(nand, fresh, cfg, CACHE_BYTES, Some(journal))
        .map_err(|e| CliError::new(format!("image {}: {e}", a.image.display())))?;
    if b.parts().len() > 1 {
        log::info!("image {}: {} shards", a.image.display(), b.parts().len());
    }
    let r = b.replayed();
    if r.found {
        log::info!(
            "image {}: replayed a crashed daemon's journal: {} writes, {} trims ({} writes already on flash)",
            a.image.display(),
            r.writes,
            r.trims,
            r.skipped
        );
    }
    Ok(Served {
        backend: Arc::new(b),
        image: Some(a.image.display().to_string()),
    })
}

fn serve(a: &AddArgs, notifier: &mut Notifier, recover: bool) -> Result<(), CliError> {
    let (tx, rx) = mpsc::channel::<Event>();
    // Before any other thread: every later thread inherits the blocked mask.
    daemon::watch_stop_signals(tx.clone())?;
    let cfg = DeviceConfig {
        id: a.id,
        queues: a.queues,
        depth: a.depth,
        zero_copy: a.zero_copy,
        recover,
    };
    let (dev, backend, image) = if recover {
        // The image first (replaying the journal): a refusal leaves the
        // device waiting, untouched, for another try.
        let Served { backend, image } = open_backend(a)?;
        start_recovery(a.id.unwrap_or_default())?;
        let dev = Device::create(&cfg)?;
        (dev, backend, image)
    } else {
        // The device first: an id in use or a driver without USER_COPY fails
        // before a new image is created. Dropping `dev` on a later error
        // deletes it.
        let dev = Device::create(&cfg)?;
        let Served { backend, image } = open_backend(a)?;
        (dev, backend, image)
    };
    if !dev.user_recovery() {
        log::warn!(
            "the driver offers no user recovery: if this daemon dies, device {} fails its I/O",
            dev.id()
        );
    }
    DeviceFile {
        image: image.as_ref().map(Into::into),
        null_size: if a.null { a.size.clone() } else { None },
        queues: a.queues,
        depth: a.depth,
        zero_copy: a.zero_copy,
        user_recovery: dev.user_recovery(),
        map_budget: a.map_budget.clone(),
    }
    .save(dev.id())?;
    let target = dev.target(backend.clone(), tx);
    let info = DaemonInfo {
        id: dev.id(),
        image,
        device_bytes: backend.blocks() << BLOCK_SHIFT,
    };
    let _stats = stats::serve(target.clone(), info)?;
    let shared = Arc::new(Mutex::new(std::mem::replace(
        notifier,
        Notifier::foreground(),
    )));
    let ready_notifier = shared.clone();
    let mode = target.mode_name();
    let id = dev.id();
    let ready = move |path: &str| {
        let how = if recover { "recovered" } else { "live" };
        log::info!("device {id} {how} at {path} ({mode})");
        if let Ok(mut n) = ready_notifier.lock() {
            n.ready(path);
        }
    };
    let run = dev.run(target, rx, ready);
    // Give the notifier back so a startup failure still reaches the parent.
    if let Ok(mut n) = shared.lock() {
        *notifier = std::mem::replace(&mut *n, Notifier::foreground());
    }
    let reason = run?;
    log::info!("device {id} stopping ({reason:?}): flushing");
    // The device no longer accepts I/O: flush and save, then delete it.
    let saved = backend.shutdown();
    let deleted = dev.delete();
    DeviceFile::remove(id);
    saved.map_err(|e| CliError::new(format!("device {id}: final flush failed: {e}")))?;
    deleted?;
    log::info!("device {id} saved and deleted");
    Ok(())
}
