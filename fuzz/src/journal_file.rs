//! `journal_file`: `ftl-ublk`'s crash journal (`/dev/shm/zcftl/*.journal`)
//! read back after arbitrary damage. The journal is data read from disk:
//! whatever it holds, opening it and reading its list must never panic,
//! and a list read from it is one that was published or an error.
//!
//! A valid journal is built (a few slots, published lists), then bytes
//! anywhere in it are changed; with `fix_header_crc` the header checksum
//! is recomputed so the fuzzer also gets past it into the layout checks.
//! Nothing is replayed here: replay goes through the FTL (`kill_tests.rs`
//! in ublk-target); this is the file format's boundary.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use arbitrary::Arbitrary;
use ftl_ublk::journal::{ImageId, Journal, Record};

/// Most records in one published list.
pub const MAX_RECORDS: usize = 16;

/// One byte changed in the file.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub struct Edit {
    /// Offset, taken modulo the file's length.
    pub at: u32,
    /// XOR mask (0 leaves the byte).
    pub xor: u8,
}

/// A `journal_file` case.
#[derive(Arbitrary, Clone, Debug)]
pub struct Input {
    /// Slots in the pool (1..=8).
    pub slots: u8,
    /// Lists published, in order: `(lba, slot or sectors, epoch, is trim)`.
    pub lists: Vec<Vec<(u64, u32, u32, bool)>>,
    /// Damage.
    pub edits: Vec<Edit>,
    /// A new length for the file (`None` keeps it).
    pub truncate_to: Option<u32>,
    /// Recompute the header crc after the edits.
    pub fix_header_crc: bool,
}

fn scratch() -> &'static (PathBuf, ImageId) {
    static DIR: OnceLock<(PathBuf, ImageId)> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("zcftl-fuzz-journal-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("scratch dir");
        let img = d.join("image");
        std::fs::write(&img, b"identity").expect("scratch image");
        let id = ImageId::of(&img).expect("stat");
        (d, id)
    })
}

fn record(&(lba, x, epoch, trim): &(u64, u32, u32, bool)) -> Record {
    let lba = lba & !(1 << 63);
    if trim {
        Record::Trim { lba, sectors: x }
    } else {
        Record::Write {
            lba,
            slot: x,
            epoch,
        }
    }
}

/// Runs one case.
pub fn run(input: &Input) -> Result<(), String> {
    let (dir, id) = scratch();
    // One file per case: the replay tests run cases on several threads.
    static CASE: AtomicU64 = AtomicU64::new(0);
    let path = dir.join(format!("{}.journal", CASE.fetch_add(1, Ordering::Relaxed)));
    let slots = u32::from(input.slots % 8) + 1;
    let (mut j, pool) = Journal::create(&path, *id, &dir.join("image"), slots, MAX_RECORDS as u32)
        .map_err(|e| format!("create: {e}"))?;
    let mut published: Vec<Vec<Record>> = vec![Vec::new()];
    for list in input.lists.iter().take(8) {
        let recs: Vec<Record> = list.iter().take(MAX_RECORDS).map(record).collect();
        j.publish(7, &recs).map_err(|e| format!("publish: {e}"))?;
        published.push(recs);
    }
    drop((j, pool));
    let mut bytes = std::fs::read(&path).map_err(|e| e.to_string())?;
    for e in input.edits.iter().take(16) {
        let at = e.at as usize % bytes.len();
        bytes[at] ^= e.xor;
    }
    if input.fix_header_crc && bytes.len() >= 2048 {
        let crc = crc32fast::hash(&bytes[..2044]);
        bytes[2044..2048].copy_from_slice(&crc.to_le_bytes());
    }
    if let Some(n) = input.truncate_to {
        bytes.truncate(n as usize % (bytes.len() + 1));
    }
    std::fs::write(&path, &bytes).map_err(|e| e.to_string())?;
    let result = match Journal::open(&path, *id) {
        Ok((j, _pool)) => match j.read() {
            // Damage the checksums did not catch may still change a list
            // (a flipped lba that cancels in crc32 is astronomically rare);
            // what must hold is that an undamaged file reads its last list.
            Ok(snap) if input.edits.iter().all(|e| e.xor == 0) && input.truncate_to.is_none() => {
                let last = published.last().cloned().unwrap_or_default();
                if snap.records != last {
                    Err(format!(
                        "undamaged journal read {:?}, published {last:?}",
                        snap.records
                    ))
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        },
        Err(_) => Ok(()),
    };
    let _ = std::fs::remove_file(&path);
    result
}
