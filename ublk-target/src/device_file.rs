//! `/run/zcftl/ublk<ID>.json`: how a device was added, so `recover` can
//! restart its daemon with the same image, queues, depth and payload mode.
//! Written once the device exists, removed when it is deleted cleanly; a
//! daemon crash leaves it behind for `recover`.

use std::path::PathBuf;

use clap::ValueEnum;
use serde_json::{json, Value};

use crate::args::ZeroCopy;
use crate::daemon::RUN_DIR;
use crate::errors::CliError;

/// What `recover` needs to know about a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceFile {
    /// The NAND image, or `None` for a null target.
    pub image: Option<PathBuf>,
    /// The null target's size argument.
    pub null_size: Option<String>,
    /// Hardware queues.
    pub queues: u16,
    /// Tags per queue.
    pub depth: u16,
    /// Payload path asked for.
    pub zero_copy: ZeroCopy,
    /// The map budget asked for (`add --map-budget`), if any.
    pub map_budget: Option<String>,
    /// Whether the driver granted user recovery.
    pub user_recovery: bool,
}

/// The file of device `id`.
pub fn path(id: u32) -> PathBuf {
    PathBuf::from(format!("{RUN_DIR}/ublk{id}.json"))
}

impl DeviceFile {
    fn to_json(&self) -> Value {
        json!({
            "version": 1,
            "image": self.image.as_ref().map(|p| p.display().to_string()),
            "null_size": self.null_size,
            "queues": self.queues,
            "depth": self.depth,
            "zero_copy": self.zero_copy.to_possible_value().map(|v| v.get_name().to_string()),
            "user_recovery": self.user_recovery,
            "map_budget": self.map_budget,
        })
    }

    fn from_json(v: &Value) -> Option<DeviceFile> {
        if v["version"].as_u64()? != 1 {
            return None;
        }
        Some(DeviceFile {
            image: v["image"].as_str().map(PathBuf::from),
            null_size: v["null_size"].as_str().map(String::from),
            queues: u16::try_from(v["queues"].as_u64()?).ok()?,
            depth: u16::try_from(v["depth"].as_u64()?).ok()?,
            zero_copy: ZeroCopy::from_str(v["zero_copy"].as_str()?, false).ok()?,
            user_recovery: v["user_recovery"].as_bool()?,
            // Absent in files written before the flag existed.
            map_budget: v["map_budget"].as_str().map(String::from),
        })
    }

    /// Saves this as device `id`'s file.
    pub fn save(&self, id: u32) -> Result<(), CliError> {
        let p = path(id);
        std::fs::create_dir_all(RUN_DIR)
            .and_then(|()| std::fs::write(&p, self.to_json().to_string()))
            .map_err(|e| CliError::new(format!("cannot write {}: {e}", p.display())))
    }

    /// Loads device `id`'s file.
    pub fn load(id: u32) -> Result<DeviceFile, CliError> {
        let p = path(id);
        let text = std::fs::read_to_string(&p).map_err(|e| {
            CliError::new(format!(
                "device {id} was not added by ftl-ublk on this boot ({}: {e})",
                p.display()
            ))
        })?;
        serde_json::from_str(&text)
            .ok()
            .and_then(|v| Self::from_json(&v))
            .ok_or_else(|| CliError::new(format!("{} is damaged", p.display())))
    }

    /// Removes device `id`'s file (a clean delete).
    pub fn remove(id: u32) {
        let _ = std::fs::remove_file(path(id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let f = DeviceFile {
            image: Some(PathBuf::from("/var/lib/zcftl/a b.img")),
            null_size: None,
            queues: 2,
            depth: 64,
            zero_copy: ZeroCopy::UserCopy,
            user_recovery: true,
            map_budget: Some("64M".into()),
        };
        assert_eq!(DeviceFile::from_json(&f.to_json()), Some(f.clone()));
        let mut v = f.to_json();
        v["queues"] = json!(70000);
        assert_eq!(DeviceFile::from_json(&v), None, "out of range");
        assert_eq!(DeviceFile::from_json(&json!({"version": 2})), None);
        assert_eq!(DeviceFile::from_json(&json!("garbage")), None);
    }
}
