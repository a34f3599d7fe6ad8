//! `image_header`: arbitrary files handed to [`SimNand::open_image`].
//!
//! A case is either raw bytes, or a valid image (a small geometry, FTL
//! data written and flushed) with fuzzer-chosen byte edits, header field
//! writes, truncation or extension. Either may have its header crc
//! recomputed afterwards, so the fuzzer reaches the geometry, size and
//! table checks behind the checksum. Then:
//!
//! - `open_image` returns `Ok` or an [`ImageError`], never panics;
//! - a refused file is byte-for-byte unchanged;
//! - an opened image mounts with `Ftl::open` or fails cleanly; a mounted
//!   FTL passes `check_integrity()`, and a sector written to it reads
//!   back exactly.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use arbitrary::Arbitrary;
use ftl_core::{Ftl, Lba};
use simulator::{SimNand, SimOptions};

use crate::common::{
    classify, pool_for, small_config, small_geometry, write_versions, History, Seen,
};

/// Largest raw file.
pub const MAX_RAW: usize = 64 * 1024;
/// Edits applied to a valid image.
pub const MAX_EDITS: usize = 32;
const MAX_BYTES: usize = 64;
const HEADER_CRC_AT: usize = 60;

/// One edit of an image file.
#[derive(Arbitrary, Clone, Debug)]
pub enum Edit {
    /// XOR `mask` into the byte at `offset` (modulo the file length).
    Xor {
        /// Byte offset.
        offset: u32,
        /// Bits to flip.
        mask: u8,
    },
    /// Overwrite bytes from `offset` (modulo the file length).
    Set {
        /// Byte offset.
        offset: u32,
        /// The new bytes (cut at the end of the file).
        bytes: Vec<u8>,
    },
    /// Write a little-endian u32 at header byte `4 * (slot % 16)`.
    HeaderWord {
        /// Which word of the 64-byte header.
        slot: u8,
        /// Its new value.
        value: u32,
    },
    /// Cut the file to `len` modulo its length.
    Truncate {
        /// New length selector.
        len: u32,
    },
    /// Append `by` bytes of `fill`.
    Extend {
        /// Bytes appended.
        by: u16,
        /// Their value.
        fill: u8,
    },
}

/// An `image_header` case.
#[derive(Arbitrary, Clone, Debug)]
pub enum Input {
    /// These bytes are the whole file.
    Raw {
        /// The file (cut at [`MAX_RAW`]).
        bytes: Vec<u8>,
        /// Recompute the header crc over bytes 0..60.
        fix_crc: bool,
    },
    /// A valid image, edited.
    Edited {
        /// Geometry selector (one of four).
        geometry: u8,
        /// How much data the image holds (0..=3 rounds of writes).
        fill: u8,
        /// The edits.
        edits: Vec<Edit>,
        /// Recompute the header crc after the edits.
        fix_crc: bool,
    },
}

fn scratch_path() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("zcftl-fuzz-{}-{n}.img", std::process::id()))
}

/// Removes its file when dropped, panics included.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The bytes of a valid image: geometry `pick % 4`, `fill % 4` rounds of
/// writes, flushed. Built once per kind and cached: every case is
/// deterministic either way.
fn base_image(pick: u8, fill: u8) -> Result<Vec<u8>, String> {
    type Images = Mutex<BTreeMap<(u8, u8), Vec<u8>>>;
    static CACHE: OnceLock<Images> = OnceLock::new();
    let key = (pick % 4, fill % 4);
    let cache = CACHE.get_or_init(|| Mutex::new(BTreeMap::new()));
    if let Some(bytes) = cache.lock().map_err(|e| e.to_string())?.get(&key) {
        return Ok(bytes.clone());
    }
    // Four geometries across the selector's range (1, 2, 4 sectors a page).
    let geo = small_geometry([0u8, 0x25, 0x4a, 0xff][usize::from(key.0)]);
    let cfg = small_config(20);
    let file = Scratch(scratch_path());
    let sim = SimNand::create_image(&file.0, geo, SimOptions::with_seed(7))
        .map_err(|e| format!("create_image: {e}"))?;
    let mut ftl =
        Ftl::format(sim, pool_for(&geo, &cfg, 0), cfg).map_err(|e| format!("format: {e}"))?;
    let logical = ftl.logical_sectors();
    let mut history = History::default();
    for round in 0..u64::from(key.1) {
        for k in 0..logical / 2 {
            let lba = (k * 7 + round * 3) % logical;
            write_versions(&mut ftl, &mut history, lba, 1)
                .1
                .map_err(|e| format!("write: {e}"))?;
        }
    }
    ftl.flush().map_err(|e| format!("flush: {e}"))?;
    drop(ftl);
    let bytes = std::fs::read(&file.0).map_err(|e| e.to_string())?;
    cache
        .lock()
        .map_err(|e| e.to_string())?
        .insert(key, bytes.clone());
    Ok(bytes)
}

fn apply(bytes: &mut Vec<u8>, edit: &Edit) {
    match edit {
        Edit::Xor { offset, mask } => {
            if !bytes.is_empty() {
                let at = *offset as usize % bytes.len();
                bytes[at] ^= mask;
            }
        }
        Edit::Set { offset, bytes: new } => {
            if !bytes.is_empty() {
                let at = *offset as usize % bytes.len();
                for (b, v) in bytes[at..].iter_mut().zip(new.iter().take(MAX_BYTES)) {
                    *b = *v;
                }
            }
        }
        Edit::HeaderWord { slot, value } => {
            let at = 4 * usize::from(slot % 16);
            if bytes.len() >= at + 4 {
                bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
            }
        }
        Edit::Truncate { len } => {
            if !bytes.is_empty() {
                let len = *len as usize % bytes.len();
                bytes.truncate(len);
            }
        }
        Edit::Extend { by, fill } => {
            bytes.resize(bytes.len() + usize::from(*by), *fill);
        }
    }
}

fn fix_header_crc(bytes: &mut [u8]) {
    if bytes.len() >= HEADER_CRC_AT + 4 {
        let crc = crc32fast::hash(&bytes[..HEADER_CRC_AT]);
        bytes[HEADER_CRC_AT..HEADER_CRC_AT + 4].copy_from_slice(&crc.to_le_bytes());
    }
}

/// The file a case describes.
pub fn file_bytes(input: &Input) -> Result<Vec<u8>, String> {
    Ok(match input {
        Input::Raw { bytes, fix_crc } => {
            let mut b: Vec<u8> = bytes.iter().take(MAX_RAW).copied().collect();
            if *fix_crc {
                fix_header_crc(&mut b);
            }
            b
        }
        Input::Edited {
            geometry,
            fill,
            edits,
            fix_crc,
        } => {
            let mut b = base_image(*geometry, *fill)?;
            for e in edits.iter().take(MAX_EDITS) {
                apply(&mut b, e);
            }
            if *fix_crc {
                fix_header_crc(&mut b);
            }
            b
        }
    })
}

/// Runs one case; `Err` describes a violated property.
pub fn run(input: &Input) -> Result<(), String> {
    run_bytes(&file_bytes(input)?)
}

/// Runs a case given as the file itself.
pub fn run_bytes(bytes: &[u8]) -> Result<(), String> {
    let file = Scratch(scratch_path());
    std::fs::write(&file.0, bytes).map_err(|e| e.to_string())?;
    let sim = match SimNand::open_image(&file.0, SimOptions::default()) {
        Ok(sim) => sim,
        Err(_refused) => {
            let after = std::fs::read(&file.0).map_err(|e| e.to_string())?;
            if after != bytes {
                return Err("open_image refused the file but changed it".into());
            }
            return Ok(());
        }
    };
    let geo = ftl_core::Nand::geometry(&sim);
    let cfg = small_config(20);
    // The geometry is bounded by the file's size, so its tables are small;
    // only the slot pool scales with the (up to 64 KiB) sector size.
    let pool = pool_for(&geo, &cfg, 0);
    let Ok(mut ftl) = Ftl::open(sim, pool, cfg) else {
        return Ok(());
    };
    ftl.check_integrity()
        .map_err(|e| format!("after mount: {e}"))?;
    // The mounted device still stores what it is given.
    let logical = ftl.logical_sectors();
    let lba = logical / 2;
    let mut history = History::default();
    let (versions, written) = write_versions(&mut ftl, &mut history, lba, 1);
    if written.is_ok() && ftl.flush().is_ok() {
        let mut buf = vec![0u8; ftl.sector_size()];
        if ftl.read(Lba(lba), &mut buf).is_ok() {
            let seen = classify(lba, &buf)?;
            if seen != Seen::Version(versions[0]) {
                return Err(format!(
                    "lba {lba}: wrote version {}, read {seen:?}",
                    versions[0]
                ));
            }
        }
        ftl.check_integrity()
            .map_err(|e| format!("after a write: {e}"))?;
    }
    Ok(())
}
