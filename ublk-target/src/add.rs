//! `ftl-ublk add`: validate, daemonize, open the image and mount the FTL
//! (or make a null target), create and start the device, serve until
//! stopped, then flush, save and delete it.

use std::sync::{mpsc, Arc, Mutex};

use crate::args::AddArgs;
use crate::backend::{Backend, BLOCK_SHIFT};
use crate::daemon::{self, Notifier};
use crate::device::{Device, DeviceConfig, Event};
use crate::errors::{preflight, CliError};
use crate::ftl_backend::{FtlBackend, CACHE_BYTES};
use crate::image::{open_or_create, Opened};
use crate::null::NullBackend;
use crate::spec::{geometry_for, parse_size};
use crate::stats::{self, DaemonInfo};

/// Runs `add`. In daemon mode only the child returns from here.
pub fn run(a: AddArgs) -> Result<(), CliError> {
    // Everything that needs no resources is checked before forking, so a
    // typo fails fast and the same way in both modes.
    if a.null {
        parse_size(a.size.as_deref().unwrap_or(crate::args::DEFAULT_SIZE))?;
    } else if !a.image.exists() {
        geometry_for(a.size.as_deref(), a.geometry.as_deref())?;
    }
    preflight()?;
    let mut notifier = if a.foreground {
        Notifier::foreground()
    } else {
        daemon::daemonize()?
    };
    daemon::install_panic_hook();
    match serve(&a, &mut notifier) {
        Ok(()) => Ok(()),
        Err(e) => {
            notifier.fail(&e);
            Err(e)
        }
    }
}

/// Opens the backend for `a`.
fn open_backend(a: &AddArgs) -> Result<(Arc<dyn Backend>, Option<String>), CliError> {
    if a.null {
        let bytes = parse_size(a.size.as_deref().unwrap_or(crate::args::DEFAULT_SIZE))?;
        let blocks = bytes >> BLOCK_SHIFT;
        if blocks == 0 {
            return Err(CliError::new("--size must be at least 4K"));
        }
        let b = NullBackend::new(blocks).map_err(|e| CliError::new(format!("null target: {e}")))?;
        return Ok((Arc::new(b), None));
    }
    let handles = u32::from(a.queues) * u32::from(a.depth);
    let opened = open_or_create(&a.image, a.size.as_deref(), a.geometry.as_deref())?;
    let (nand, fresh) = match opened {
        Opened::Existing(n) => (n, false),
        Opened::Created(n) => (n, true),
    };
    let b = FtlBackend::new(nand, fresh, handles, CACHE_BYTES)
        .map_err(|e| CliError::new(format!("image {}: {e}", a.image.display())))?;
    Ok((Arc::new(b), Some(a.image.display().to_string())))
}

fn serve(a: &AddArgs, notifier: &mut Notifier) -> Result<(), CliError> {
    let (tx, rx) = mpsc::channel::<Event>();
    // Before any other thread: every later thread inherits the blocked mask.
    daemon::watch_stop_signals(tx.clone())?;
    let cfg = DeviceConfig {
        id: a.id,
        queues: a.queues,
        depth: a.depth,
        zero_copy: a.zero_copy,
    };
    // The device first: an id in use or a driver without USER_COPY fails
    // before a new image is created. Dropping `dev` on a later error deletes it.
    let dev = Device::create(&cfg)?;
    let (backend, image) = open_backend(a)?;
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
        eprintln!(
            "ftl-ublk[{}]: device {id} live at {path} ({mode})",
            std::process::id()
        );
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
    eprintln!(
        "ftl-ublk[{}]: device {id} stopping ({reason:?}): flushing",
        std::process::id()
    );
    // The device no longer accepts I/O: flush and save, then delete it.
    let saved = backend.shutdown();
    let deleted = dev.delete();
    saved.map_err(|e| CliError::new(format!("device {id}: final flush failed: {e}")))?;
    deleted?;
    eprintln!(
        "ftl-ublk[{}]: device {id} saved and deleted",
        std::process::id()
    );
    Ok(())
}
