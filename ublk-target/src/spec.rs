//! Turning `--size` and `--geometry` text into a NAND [`Geometry`].
//!
//! `--size` is the raw flash capacity (what the image holds); the block
//! device is smaller by the over-provisioning and the FTL's reserve.
//! Without `--geometry` a size becomes 1 MiB erase blocks (64 pages of
//! 16 KiB, 4 KiB sectors) — small blocks keep garbage collection cheap on
//! the small images tests use. `--geometry` names any field explicitly; a
//! size given too fills in the block count.
//!
//! `op=` in `--geometry` is not part of the NAND's shape: it is the FTL's
//! over-provisioning when it formats the image (`spec_for`). The FTL records
//! the capacity it formatted on the flash itself, so a later `add` of the
//! image serves that capacity whatever `op=` says.

use ftl_core::{ConfigError, FtlConfig, Geometry};

/// The only sector size the block device is built for: 4096-byte logical
/// and physical blocks, so every request is whole slots.
pub const BLOCK_SIZE: u32 = 4096;

/// Why a `--size` or `--geometry` text was refused. The messages are the
/// CLI's (after `ftl-ublk: `), so they name the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// The number part of a size is missing or not a number.
    #[error("bad size {0:?}: expected e.g. 256M or 1G")]
    SizeNumber(String),
    /// The unit of a size is not one of B, K, M, G, T.
    #[error("bad size {0:?}: unit must be K, M, G or T")]
    SizeUnit(String),
    /// A size that overflows 64 bits.
    #[error("size {0:?} is too large")]
    SizeTooLarge(String),
    /// A `--geometry` item without `=`.
    #[error("bad geometry item {0:?}: expected key=value")]
    GeometryItem(String),
    /// A `--geometry` value that is not a size.
    #[error("geometry {key}: {error}")]
    GeometryValue {
        /// The key, as written.
        key: String,
        /// Why its value was refused.
        error: Box<SpecError>,
    },
    /// A `--geometry` value past its field's range.
    #[error("geometry {key}={value} is too large")]
    GeometryValueTooLarge {
        /// The key, as written.
        key: String,
        /// The value, as written.
        value: String,
    },
    /// A `--geometry` key that does not exist.
    #[error(
        "unknown geometry key {0:?} (keys: channels dies planes blocks pages page sector oob op)"
    )]
    UnknownKey(String),
    /// A count of zero channels, dies, planes or pages.
    #[error("geometry has a zero count")]
    ZeroCount,
    /// A size too small for the FTL's minimum number of erase blocks.
    #[error("size {size} is too small: the smallest image is {min_bytes} bytes ({min_blocks} erase blocks)")]
    SizeTooSmall {
        /// The size, as written.
        size: String,
        /// The smallest size that works.
        min_bytes: u64,
        /// The erase blocks that smallest size holds.
        min_blocks: u64,
    },
    /// More erase blocks per plane than the geometry can count.
    #[error("size is too large")]
    TooManyBlocks,
    /// `--size` and `--geometry` describe different capacities.
    #[error(
        "--size {size} disagrees with --geometry ({bytes} bytes); give one or make them match"
    )]
    SizeDisagrees {
        /// The size, as written.
        size: String,
        /// The geometry's raw capacity.
        bytes: u64,
    },
    /// A geometry the FTL cannot use.
    #[error("unusable geometry ({bytes} bytes raw): {}", reason(.error))]
    Unusable {
        /// The geometry's raw capacity.
        bytes: u64,
        /// What is wrong with it.
        error: ConfigError,
    },
    /// Sectors other than the block device's 4096 bytes.
    #[error("the block device needs 4096-byte sectors, the geometry has {0}")]
    SectorSize(u32),
}

/// What is wrong, without the "invalid geometry" a shape error adds.
fn reason(e: &ConfigError) -> String {
    match e {
        ConfigError::Geometry(g) => g.to_string(),
        other => other.to_string(),
    }
}

/// Parses `4096`, `64K`, `256M`, `1G`, `1GiB`, `2T` (binary units).
pub fn parse_size(text: &str) -> Result<u64, SpecError> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits);
    let n: u64 = num
        .parse()
        .map_err(|_| SpecError::SizeNumber(text.into()))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(SpecError::SizeUnit(text.into())),
    };
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| SpecError::SizeTooLarge(text.into()))
}

/// The geometry for `format`/`add` of a new image.
pub fn geometry_for(size: Option<&str>, spec: Option<&str>) -> Result<Geometry, SpecError> {
    spec_for(size, spec).map(|(g, _)| g)
}

/// The geometry of a new image and the FTL's over-provisioning (percent)
/// to format it with: the `op=` item, or the FTL's default.
pub fn spec_for(size: Option<&str>, spec: Option<&str>) -> Result<(Geometry, u8), SpecError> {
    let mut op = FtlConfig::default().over_provisioning_percent;
    let mut g = Geometry {
        pages_per_block: 64,
        ..Geometry::default()
    };
    let mut blocks_given = false;
    if let Some(spec) = spec {
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (key, val) = item
                .split_once('=')
                .ok_or_else(|| SpecError::GeometryItem(item.into()))?;
            let v = parse_size(val).map_err(|e| SpecError::GeometryValue {
                key: key.into(),
                error: Box::new(e),
            })?;
            let small = |max: u64| -> Result<u64, SpecError> {
                if v > max {
                    Err(SpecError::GeometryValueTooLarge {
                        key: key.into(),
                        value: val.into(),
                    })
                } else {
                    Ok(v)
                }
            };
            match key.trim() {
                "channels" => g.channels = small(u16::MAX.into())? as u16,
                "dies" => g.dies_per_channel = small(u16::MAX.into())? as u16,
                "planes" => g.planes_per_die = small(u16::MAX.into())? as u16,
                "blocks" => {
                    g.blocks_per_plane = small(u32::MAX.into())? as u32;
                    blocks_given = true;
                }
                "pages" => g.pages_per_block = small(u32::MAX.into())? as u32,
                "page" => g.page_size = small(u32::MAX.into())? as u32,
                "sector" => g.sector_size = small(u32::MAX.into())? as u32,
                "oob" => g.oob_size = small(u32::MAX.into())? as u32,
                // The FTL's, not the NAND's (see the module docs).
                "op" => op = small(u8::MAX.into())? as u8,
                other => return Err(SpecError::UnknownKey(other.into())),
            }
        }
    }
    if !blocks_given {
        let text = size.unwrap_or(crate::args::DEFAULT_SIZE);
        let size = parse_size(text)?;
        let per_plane_unit = u64::from(g.pages_per_block)
            * u64::from(g.page_size)
            * u64::from(g.channels)
            * u64::from(g.dies_per_channel)
            * u64::from(g.planes_per_die);
        if per_plane_unit == 0 {
            return Err(SpecError::ZeroCount);
        }
        let blocks = size / per_plane_unit;
        let planes = per_plane_unit / (u64::from(g.pages_per_block) * u64::from(g.page_size));
        let min_blocks = u64::from(ftl_core::config::MIN_BLOCKS).div_ceil(planes);
        if blocks < min_blocks {
            return Err(SpecError::SizeTooSmall {
                size: text.into(),
                min_bytes: min_blocks * per_plane_unit,
                min_blocks: min_blocks * planes,
            });
        }
        g.blocks_per_plane = u32::try_from(blocks).map_err(|_| SpecError::TooManyBlocks)?;
    } else if let Some(size) = size {
        let want = parse_size(size)?;
        if want != g.raw_bytes() {
            return Err(SpecError::SizeDisagrees {
                size: size.into(),
                bytes: g.raw_bytes(),
            });
        }
    }
    check_geometry(&g, op)?;
    Ok((g, op))
}

/// Checks the FTL can run on a geometry formatted with `op` percent
/// over-provisioning, and that it has the 4096-byte sectors the block
/// device needs.
pub fn check_geometry(g: &Geometry, op: u8) -> Result<(), SpecError> {
    let cfg = FtlConfig {
        over_provisioning_percent: op,
        ..FtlConfig::default()
    };
    cfg.check_geometry(g).map_err(|error| SpecError::Unusable {
        bytes: g.raw_bytes(),
        error,
    })?;
    if g.sector_size != BLOCK_SIZE {
        return Err(SpecError::SectorSize(g.sector_size));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("256M"), Ok(256 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("2t"), Ok(2 << 40));
        assert!(parse_size("").is_err());
        assert!(parse_size("12Q").is_err());
        assert!(parse_size("-1").is_err());
        assert!(parse_size("99999999999T").is_err());
    }

    #[test]
    fn size_becomes_one_mib_blocks() {
        let g = geometry_for(Some("256M"), None).unwrap();
        assert_eq!(g.raw_bytes(), 256 << 20);
        assert_eq!(g.blocks_per_plane, 256);
        let d = geometry_for(None, None).unwrap();
        assert_eq!(d.raw_bytes(), 1 << 30);
    }

    #[test]
    fn spec_overrides_and_checks() {
        let g = geometry_for(None, Some("blocks=32,pages=32,op=20")).unwrap();
        assert_eq!((g.blocks_per_plane, g.pages_per_block), (32, 32));
        assert_eq!(
            spec_for(None, Some("blocks=32,pages=32,op=20")).map(|s| s.1),
            Ok(20)
        );
        assert_eq!(spec_for(None, Some("blocks=32")).map(|s| s.1), Ok(12));
        assert!(geometry_for(None, Some("blocks=32,pages=32,op=95")).is_err());
        let g = geometry_for(Some("64M"), Some("pages=128")).unwrap();
        assert_eq!(g.raw_bytes(), 64 << 20);
        assert!(geometry_for(Some("1M"), None).is_err(), "too few blocks");
        assert!(geometry_for(None, Some("blocks=32,sector=512,page=8K")).is_err());
        assert!(geometry_for(None, Some("wheels=4")).is_err());
        assert!(geometry_for(None, Some("blocks")).is_err());
        assert!(geometry_for(Some("64M"), Some("blocks=32")).is_err());
    }
}
