//! Opening, creating and formatting the NAND image, with one-line errors
//! that say what to do. Nothing here writes to an image it refuses: the
//! simulator checks header, size, tables and the lock through a read-only
//! handle before mapping anything writable.

use std::path::Path;

use ftl_core::Geometry;
use simulator::{ImageError, SimNand, SimOptions};

use crate::errors::CliError;
use crate::spec::{check_geometry, geometry_for, parse_size, spec_for};

/// Why an image was refused, as a one-line error naming the fix.
pub fn image_error(path: &Path, e: ImageError) -> CliError {
    let p = path.display();
    match e {
        ImageError::InUse => CliError::new(format!(
            "image {p} is in use by another process (a running ftl-ublk?): `ftl-ublk list` / `ftl-ublk del ID`, or use another --image"
        )),
        ImageError::Io { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied => {
            CliError::new(format!("cannot open image {p}: permission denied (run as root?)"))
        }
        ImageError::Io { source, .. } => CliError::new(format!("cannot open image {p}: {source}")),
        ImageError::BadMagic => CliError::new(format!(
            "{p} is not a zcftl NAND image: use another --image (ftl-ublk will not overwrite it)"
        )),
        ImageError::TooLarge(n) => CliError::new(format!(
            "image {p} of {n} bytes is too large to map on this machine: use a smaller --size"
        )),
        other => CliError::new(format!(
            "image {p} is damaged ({other}); it was left untouched: use another --image, or erase it with `ftl-ublk format --image {p}`"
        )),
    }
}

/// Whether `geo` splits into `shards` usable FTLs formatted with `op`
/// percent over-provisioning.
fn check_shards(geo: &Geometry, op: u8, shards: u16) -> Result<(), CliError> {
    let split = match simulator::partition_geometry(geo, shards) {
        Some(part) => check_geometry(&part, op).map_err(|e| e.to_string()),
        None => Err(format!(
            "{} blocks a plane do not split evenly",
            geo.blocks_per_plane
        )),
    };
    split.map_err(|why| {
        CliError::new(format!(
            "{} bytes of flash do not split into {shards} shards ({why}): use fewer --shards, or a larger --size",
            geo.raw_bytes()
        ))
    })
}

/// What [`open_or_create`] found.
pub enum Opened {
    /// An existing image, to be mounted.
    Existing(SimNand),
    /// A new, erased image, to be formatted with this over-provisioning
    /// (percent).
    Created(SimNand, u8),
}

/// Shards of a new image for `queues` queues when `--shards` is not given:
/// one for one queue; else two per queue, as many as queues, or one,
/// whichever is the first the geometry splits into. Two per queue halve
/// the chance that two queues' requests meet on one shard's lock: random
/// writes from two threads reached 1.3× one thread's IOPS on four shards,
/// 1.1–1.2× on two, 0.6–0.8× on one (docs/BENCHMARKS.md, *Shards*).
pub fn default_shards(geo: &Geometry, op: u8, queues: u16) -> u16 {
    if queues <= 1 {
        return 1;
    }
    [
        queues.saturating_mul(2).min(MAX_SHARDS),
        queues.min(MAX_SHARDS),
    ]
    .into_iter()
    .find(|&n| check_shards(geo, op, n).is_ok())
    .unwrap_or(1)
}

/// The most shards `--shards` takes.
pub const MAX_SHARDS: u16 = 16;

/// Opens the image at `path`, or creates it if it does not exist, split
/// into `shards` FTLs (default: [`default_shards`] for `queues`). A given
/// `size`/`geometry`/`shards` must match an existing image.
pub fn open_or_create(
    path: &Path,
    size: Option<&str>,
    geometry: Option<&str>,
    shards: Option<u16>,
    queues: u16,
) -> Result<Opened, CliError> {
    if path.exists() {
        let nand =
            SimNand::open_image(path, SimOptions::default()).map_err(|e| image_error(path, e))?;
        let have = ftl_core::Nand::geometry(&nand);
        // The shape is usable at the default over-provisioning; the
        // capacity the image was formatted with is on its flash.
        let op = ftl_core::FtlConfig::default().over_provisioning_percent;
        check_geometry(&have, op)?;
        check_shards(&have, op, nand.partitions())?;
        check_matches(path, &have, size, geometry)?;
        if let Some(n) = shards.filter(|&n| n != nand.partitions()) {
            return Err(CliError::new(format!(
                "image {} is split into {} shard(s), not {n}: omit --shards, or re-create it with `ftl-ublk format --shards {n}`",
                path.display(),
                nand.partitions()
            )));
        }
        return Ok(Opened::Existing(nand));
    }
    let (geo, op) = spec_for(size, geometry)?;
    let shards = shards.unwrap_or_else(|| default_shards(&geo, op, queues));
    check_shards(&geo, op, shards)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::new(format!("cannot create {}: {e}", dir.display())))?;
    }
    let nand = SimNand::create_partitioned_image(path, geo, shards, SimOptions::default())
        .map_err(|e| image_error(path, e))?;
    Ok(Opened::Created(nand, op))
}

fn check_matches(
    path: &Path,
    have: &Geometry,
    size: Option<&str>,
    geometry: Option<&str>,
) -> Result<(), CliError> {
    let p = path.display();
    if let Some(g) = geometry {
        let want = geometry_for(size, Some(g))?;
        if want != *have {
            return Err(CliError::new(format!(
                "image {p} exists with a different geometry: omit --geometry, or re-create it with `ftl-ublk format`"
            )));
        }
    } else if let Some(s) = size {
        let want = parse_size(s)?;
        if want != have.raw_bytes() {
            return Err(CliError::new(format!(
                "image {p} exists and holds {} bytes of flash, not {want}: omit --size, or re-create it with `ftl-ublk format`",
                have.raw_bytes()
            )));
        }
    }
    Ok(())
}

/// For `format`: refuses a busy image or a file that is not an image (a
/// mistyped path must not be destroyed); a damaged image may be replaced.
pub fn check_replaceable(path: &Path) -> Result<(), CliError> {
    if !path.exists() {
        return Ok(());
    }
    let empty = std::fs::metadata(path)
        .map(|m| m.len() == 0)
        .unwrap_or(false);
    match SimNand::open_image(path, SimOptions::default()) {
        Ok(_) => Ok(()),
        Err(ImageError::BadMagic) if empty => Ok(()),
        Err(e @ (ImageError::InUse | ImageError::BadMagic | ImageError::Io { .. })) => {
            Err(image_error(path, e))
        }
        Err(_) => Ok(()),
    }
}

/// Creates an erased image for `format`; returns it and the
/// over-provisioning (percent) to format it with.
pub fn create(
    path: &Path,
    size: Option<&str>,
    geometry: Option<&str>,
    shards: u16,
) -> Result<(SimNand, u8), CliError> {
    let (geo, op) = spec_for(size, geometry)?;
    check_shards(&geo, op, shards)?;
    check_replaceable(path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::new(format!("cannot create {}: {e}", dir.display())))?;
    }
    let nand = SimNand::create_partitioned_image(path, geo, shards, SimOptions::default())
        .map_err(|e| image_error(path, e))?;
    Ok((nand, op))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("ftl-ublk-img-{}-{name}", std::process::id()))
    }

    #[test]
    fn foreign_file_is_refused_untouched() {
        let p = tmp("foreign");
        std::fs::write(&p, b"precious data").unwrap();
        let e = match open_or_create(&p, None, None, None, 1) {
            Err(e) => e,
            Ok(_) => panic!("opened a foreign file"),
        };
        assert!(e.message().contains("not a zcftl NAND image"), "{e}");
        assert!(check_replaceable(&p).is_err());
        assert_eq!(std::fs::read(&p).unwrap(), b"precious data");
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn create_then_reopen_then_busy() {
        let p = tmp("busy");
        let _ = std::fs::remove_file(&p);
        let first = match open_or_create(&p, Some("16M"), None, None, 1) {
            Ok(Opened::Created(n, _)) => n,
            _ => panic!("expected a new image"),
        };
        // Held by `first`: a second opener is refused with the busy message.
        let e = match open_or_create(&p, None, None, None, 1) {
            Err(e) => e,
            Ok(_) => panic!("opened a busy image"),
        };
        assert!(e.message().contains("in use"), "{e}");
        drop(first);
        assert!(matches!(
            open_or_create(&p, Some("16M"), None, None, 1),
            Ok(Opened::Existing(_))
        ));
        let e = open_or_create(&p, Some("32M"), None, None, 1)
            .err()
            .map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("not 33554432"));
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn damaged_header_is_refused_untouched() {
        let p = tmp("damaged");
        let _ = std::fs::remove_file(&p);
        drop(create(&p, Some("16M"), None, 1).unwrap());
        let mut bytes = std::fs::read(&p).unwrap();
        bytes[30] ^= 0xff;
        std::fs::write(&p, &bytes).unwrap();
        let e = open_or_create(&p, None, None, None, 1)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("damaged") && e.contains("format"), "{e}");
        assert_eq!(std::fs::read(&p).unwrap(), bytes);
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn shards_split_new_images_and_existing_ones_keep_theirs() {
        let (geo, op) = spec_for(Some("512M"), None).unwrap();
        assert_eq!(default_shards(&geo, op, 1), 1);
        assert_eq!(default_shards(&geo, op, 2), 4);
        assert_eq!(default_shards(&geo, op, 16), MAX_SHARDS);
        // Too small for two per queue: fewer, never an error.
        let (small, op) = spec_for(Some("16M"), None).unwrap();
        let n = default_shards(&small, op, 4);
        assert!(n < 8 && check_shards(&small, op, n).is_ok(), "{n}");

        let p = tmp("shards");
        let _ = std::fs::remove_file(&p);
        let e = match open_or_create(&p, Some("64M"), None, Some(3), 1) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("64 blocks split in 3"),
        };
        assert!(e.contains("do not split into 3 shards"), "{e}");
        assert!(!p.exists(), "a refused split left a file");
        match open_or_create(&p, Some("64M"), None, None, 2) {
            Ok(Opened::Created(n, _)) => assert_eq!(n.partitions(), 4),
            _ => panic!("expected a new image"),
        }
        // Reopened: its own count, whatever the queues; a different
        // --shards is refused.
        match open_or_create(&p, None, None, None, 1) {
            Ok(Opened::Existing(n)) => assert_eq!(n.partitions(), 4),
            _ => panic!("expected the image"),
        }
        let e = open_or_create(&p, None, None, Some(2), 2)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("split into 4 shard(s), not 2"), "{e}");
        std::fs::remove_file(&p).unwrap();
    }
}
