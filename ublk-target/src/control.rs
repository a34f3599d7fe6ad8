//! `list`, `del`, `stats` and `format`: the commands that talk to running
//! daemons or to the driver, not to a device's I/O.

use std::path::Path;
use std::time::{Duration, Instant};

use libublk::ctrl::UblkCtrl;
use libublk::sys;

use crate::args::FormatArgs;
use crate::errors::{preflight, ublk_error, CliError};
use crate::shards::Shards;
use crate::stats;

/// How long `del` waits for a daemon to flush, save and exit.
const DEL_TIMEOUT: Duration = Duration::from_secs(120);

fn state_name(state: u16) -> &'static str {
    match u32::from(state) {
        sys::UBLK_S_DEV_DEAD => "DEAD",
        sys::UBLK_S_DEV_LIVE => "LIVE",
        sys::UBLK_S_DEV_QUIESCED => "QUIESCED",
        sys::UBLK_S_DEV_FAIL_IO => "FAIL_IO",
        _ => "UNKNOWN",
    }
}

/// The ids of every ublk device, sorted.
fn device_ids() -> Vec<u32> {
    let mut ids: Vec<u32> = std::fs::read_dir("/sys/class/ublk-char")
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str()?.strip_prefix("ublkc")?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    ids.sort_unstable();
    ids
}

fn dev_exists(id: u32) -> bool {
    Path::new(&format!("/sys/class/ublk-char/ublkc{id}")).exists()
}

fn alive(pid: i32) -> bool {
    crate::sys::process::process_alive(pid)
}

/// `ftl-ublk list`: one line per ublk device.
pub fn list() -> Result<(), CliError> {
    preflight()?;
    for id in device_ids() {
        let ctrl = match UblkCtrl::new_simple(id as i32) {
            Ok(c) => c,
            Err(_) => continue,
        };
        let info = ctrl.dev_info();
        let mut params = sys::ublk_params::default();
        let size = ctrl
            .get_params(&mut params)
            .map(|_| params.basic.dev_sectors << 9)
            .unwrap_or(0);
        let mut line = format!(
            "{id} /dev/ublkb{id} state={} size={size} queues={} depth={} pid={}",
            state_name(info.state),
            info.nr_hw_queues,
            info.queue_depth,
            info.ublksrv_pid
        );
        match stats::query(id) {
            Ok(v) => {
                let image = v["image"].as_str().unwrap_or("(null target)");
                let mode = v["zero_copy_mode"].as_str().unwrap_or("?");
                line.push_str(&format!(" mode={mode} image={image}"));
            }
            Err(_) if !alive(info.ublksrv_pid) && crate::device_file::path(id).exists() => {
                line.push_str(&format!(" daemon dead: run `ftl-ublk recover {id}`"));
            }
            Err(_) => line.push_str(" (not an ftl-ublk daemon, or not answering)"),
        }
        println!("{line}");
    }
    Ok(())
}

/// `ftl-ublk del ID`: ask the daemon to stop (it flushes, saves and
/// deletes the device); if there is no live daemon, delete directly.
pub fn del(id: u32) -> Result<(), CliError> {
    preflight()?;
    if !dev_exists(id) {
        return Err(CliError::new(format!(
            "no ublk device {id} (see `ftl-ublk list`)"
        )));
    }
    let ctrl = UblkCtrl::new_simple(id as i32).map_err(|e| ublk_error(e, Some(id)))?;
    let pid = ctrl.dev_info().ublksrv_pid;
    let ours = stats::socket_path(id).exists();
    if alive(pid) && ours {
        crate::sys::process::terminate(pid);
        let start = Instant::now();
        while alive(pid) && start.elapsed() < DEL_TIMEOUT {
            std::thread::sleep(Duration::from_millis(20));
        }
        if alive(pid) {
            return Err(CliError::new(format!(
                "daemon {pid} of device {id} did not finish within {}s; it is still flushing, or stuck (see {})",
                DEL_TIMEOUT.as_secs(),
                crate::daemon::LOG_FILE
            )));
        }
        if !dev_exists(id) {
            return Ok(());
        }
    }
    // No (live) daemon of ours: nothing to flush; remove the device, and
    // the socket a crashed daemon left behind.
    let res = match ctrl.del_dev() {
        Ok(_) => Ok(()),
        Err(_) if !dev_exists(id) => Ok(()),
        Err(e) => Err(ublk_error(e, Some(id))),
    };
    if res.is_ok() && !alive(pid) {
        let _ = std::fs::remove_file(stats::socket_path(id));
        crate::device_file::DeviceFile::remove(id);
    }
    res
}

/// `ftl-ublk stats ID [--json]`.
pub fn show_stats(id: u32, json: bool) -> Result<(), CliError> {
    let v = stats::query(id)?;
    if json {
        println!("{v}");
    } else {
        print!("{}", stats::render_text(&v));
    }
    Ok(())
}

/// `ftl-ublk format`: a fresh image with a freshly formatted FTL.
pub fn format(a: FormatArgs) -> Result<(), CliError> {
    let (nand, op) =
        crate::image::create(&a.image, a.size.as_deref(), a.geometry.as_deref(), a.shards)?;
    // A crash journal of whatever image had this identity before is void.
    if let Ok(id) = crate::journal::ImageId::of(&a.image) {
        id.remove_journals(Path::new(crate::journal::JOURNAL_DIR));
    }
    let cfg = ftl_core::FtlConfig {
        over_provisioning_percent: op,
        ..crate::ftl_backend::ftl_config(1)
    };
    let b = Shards::open(nand, true, cfg, 0, None)
        .map_err(|e| CliError::new(format!("image {}: {e}", a.image.display())))?;
    crate::backend::Backend::shutdown(&b)
        .map_err(|e| CliError::new(format!("image {}: {e}", a.image.display())))?;
    let bytes = crate::backend::Backend::blocks(&b) << crate::backend::BLOCK_SHIFT;
    println!("{}: formatted, {bytes} bytes usable", a.image.display());
    Ok(())
}
