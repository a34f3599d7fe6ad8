//! The daemon's statistics, over a unix socket at
//! `/run/zcftl/ublk<ID>.sock`: a client connects and reads one JSON object,
//! a snapshot taken at that moment (the FTL's lock is held only to copy its
//! counters). `ftl-ublk stats ID` is that client.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::daemon::RUN_DIR;
use crate::device::Target;
use crate::errors::CliError;

/// Keys every snapshot carries, in the order the text form prints them.
pub const REQUIRED_KEYS: [&str; 11] = [
    "zero_copy_mode",
    "user_copy_bytes_memcpy",
    "write_amplification",
    "host_sectors_written",
    "host_sectors_read",
    "nand_sectors_written",
    "gc_runs",
    "erase_count_min",
    "erase_count_max",
    "cache_hits",
    "cache_misses",
];

/// The socket of device `id`.
pub fn socket_path(id: u32) -> PathBuf {
    PathBuf::from(format!("{RUN_DIR}/ublk{id}.sock"))
}

/// What the daemon says about itself besides the counters.
#[derive(Debug, Clone)]
pub struct DaemonInfo {
    /// Device id.
    pub id: u32,
    /// The image, or `None` for the null target.
    pub image: Option<String>,
    /// Bytes the block device exposes.
    pub device_bytes: u64,
}

/// One snapshot as a JSON object.
pub fn snapshot(tgt: &Target, info: &DaemonInfo) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), info.id.into());
    m.insert("pid".into(), std::process::id().into());
    m.insert(
        "image".into(),
        info.image.clone().map_or(Value::Null, Value::from),
    );
    m.insert("device_bytes".into(), info.device_bytes.into());
    m.insert("zero_copy_mode".into(), tgt.mode_name().into());
    m.insert(
        "user_copy_bytes_memcpy".into(),
        tgt.memcpy_bytes.load(Ordering::Relaxed).into(),
    );
    m.insert(
        "requests".into(),
        tgt.requests.load(Ordering::Relaxed).into(),
    );
    m.insert(
        "request_errors".into(),
        tgt.errors.load(Ordering::Relaxed).into(),
    );
    m.insert(
        "queue_requests".into(),
        tgt.queue_requests
            .iter()
            .map(|n| n.load(Ordering::Relaxed))
            .collect::<Vec<_>>()
            .into(),
    );
    for (k, v) in tgt.backend.stats() {
        m.insert(k.into(), v);
    }
    Value::Object(m)
}

/// Removes the socket when the daemon ends.
pub struct StatsServer {
    path: PathBuf,
}

impl Drop for StatsServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Binds the socket and serves snapshots from a background thread.
pub fn serve(tgt: Arc<Target>, info: DaemonInfo) -> Result<StatsServer, CliError> {
    let path = socket_path(info.id);
    std::fs::create_dir_all(RUN_DIR)
        .map_err(|e| CliError::new(format!("cannot create {RUN_DIR}: {e}")))?;
    // A socket left by a daemon that died: the device id is ours now.
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)
        .map_err(|e| CliError::new(format!("cannot bind {}: {e}", path.display())))?;
    std::thread::Builder::new()
        .name("stats".into())
        .spawn(move || {
            for conn in listener.incoming().flatten() {
                let mut conn: UnixStream = conn;
                let body = snapshot(&tgt, &info).to_string();
                let _ = conn.write_all(body.as_bytes());
            }
        })
        .map_err(|e| CliError::new(format!("cannot start the stats thread: {e}")))?;
    Ok(StatsServer { path })
}

/// Asks device `id`'s daemon for a snapshot.
pub fn query(id: u32) -> Result<Value, CliError> {
    let path = socket_path(id);
    let mut s = UnixStream::connect(&path).map_err(|e| {
        CliError::new(format!(
            "no ftl-ublk daemon answers for device {id} ({}: {e}): see `ftl-ublk list`",
            path.display()
        ))
    })?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let mut body = String::new();
    s.read_to_string(&mut body)
        .map_err(|e| CliError::new(format!("reading stats of device {id}: {e}")))?;
    serde_json::from_str(&body)
        .map_err(|e| CliError::new(format!("device {id} sent unreadable stats: {e}")))
}

/// The text form: required keys first, then the rest, one `key: value` a line.
pub fn render_text(v: &Value) -> String {
    let mut out = String::new();
    let Some(m) = v.as_object() else {
        return v.to_string();
    };
    let mut line = |k: &str, val: &Value| {
        let shown = match val {
            Value::String(s) => s.clone(),
            Value::Number(n) if n.is_f64() => format!("{:.3}", n.as_f64().unwrap_or(0.0)),
            other => other.to_string(),
        };
        out.push_str(&format!("{k}: {shown}\n"));
    };
    for k in REQUIRED_KEYS {
        if let Some(val) = m.get(k) {
            line(k, val);
        }
    }
    for (k, val) in m {
        if !REQUIRED_KEYS.contains(&k.as_str()) {
            line(k, val);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::ZeroCopy;
    use crate::device::Target;
    use crate::null::NullBackend;

    #[test]
    fn snapshot_has_every_required_key() {
        let (tx, _rx) = std::sync::mpsc::channel();
        let backend = Arc::new(NullBackend::new(16).unwrap());
        let tgt = Target::for_tests(backend, ZeroCopy::Copy, tx);
        let info = DaemonInfo {
            id: 3,
            image: None,
            device_bytes: 65536,
        };
        let v = snapshot(&tgt, &info);
        for k in REQUIRED_KEYS {
            assert!(v.get(k).is_some(), "missing {k}");
        }
        assert_eq!(v["zero_copy_mode"], "copy");
        assert_eq!(v["queue_requests"], serde_json::json!([0]));
        let text = render_text(&v);
        assert!(text.starts_with("zero_copy_mode: copy\n"));
        assert!(text.contains("write_amplification: 0.000\n"));
    }
}
