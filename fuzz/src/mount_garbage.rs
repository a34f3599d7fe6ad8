//! `mount_garbage`: mounting corrupted media.
//!
//! Real FTL data is written to a small RAM [`SimNand`] (format, writes,
//! trims, flush), then the fuzzer corrupts the medium: bit flips and
//! overwrites of pages' data and spare areas, whole pages replaced with
//! arbitrary bytes, unreadable pages, garbage and forged page records
//! programmed into erased pages, genuine pages cloned elsewhere (with their
//! own or a new sequence number), blocks marked bad or erased. Then:
//!
//! - `Ftl::open` returns (libFuzzer's `-timeout` catches a hang) without
//!   panicking;
//! - if it mounts, `check_integrity()` holds and every LBA that reads `Ok`
//!   holds zeros or a version really written to that LBA — never another
//!   sector's data, never garbage;
//! - the mounted FTL keeps working: sectors written after the mount read
//!   back exactly, before and after a flush and a clean remount, and the
//!   rest stay plausible.
//!
//! A forged record whose checksums all verify is undetectable by design,
//! so forgeries that name an LBA in range always carry a wrong data crc.

use arbitrary::Arbitrary;
use ftl_core::format::oob::{self, PageKind, PageRecord, NO_LBA};
use ftl_core::{BlockIdx, Ftl, Lba, Nand, Ppa, Seq, MAX_SECTORS_PER_PAGE};
use simulator::{PageState, SimNand, SimOptions};

use crate::common::{
    pool_for, read_all, small_config, small_geometry, write_versions, Corrupted, History, Rng, Seen,
};

/// Host operations before the corruption.
pub const MAX_BEFORE: usize = 48;
/// Corruptions applied.
pub const MAX_CORRUPTIONS: usize = 24;
/// Host writes after the mount.
pub const MAX_AFTER: usize = 24;
const MAX_BYTES: usize = 80;

/// One host operation.
#[derive(Arbitrary, Clone, Debug)]
pub enum HostOp {
    /// Write fresh versions of `1 + sectors % 8` sectors at `lba`.
    Write {
        /// Start LBA (modulo the device).
        lba: u16,
        /// Sector count selector.
        sectors: u8,
    },
    /// Trim `1 + sectors % 8` sectors at `lba`.
    Trim {
        /// Start LBA (modulo the device).
        lba: u16,
        /// Sector count selector.
        sectors: u8,
    },
    /// Flush.
    Flush,
}

/// One corruption. Pages are flat indices modulo the array's page count;
/// blocks are modulo its block count.
#[derive(Arbitrary, Clone, Debug)]
pub enum Corruption {
    /// Flip one bit of a page (data, then spare).
    FlipBit {
        /// Flat page index.
        page: u16,
        /// Byte offset.
        offset: u16,
        /// Bit number (modulo 8).
        bit: u8,
    },
    /// Overwrite bytes of a page (data, then spare).
    Overwrite {
        /// Flat page index.
        page: u16,
        /// Byte offset.
        offset: u16,
        /// The new bytes.
        bytes: Vec<u8>,
    },
    /// Replace a page's contents: seeded data, these spare bytes.
    Replace {
        /// Flat page index.
        page: u16,
        /// Seed of the data bytes.
        data_seed: u64,
        /// The spare area (padded with 0xFF).
        oob: Vec<u8>,
    },
    /// Make reads of a page fail as uncorrectable.
    Unreadable {
        /// Flat page index.
        page: u16,
    },
    /// Program seeded data and these spare bytes into the block's next
    /// erased page.
    ProgramGarbage {
        /// Block.
        block: u8,
        /// Seed of the data bytes.
        data_seed: u64,
        /// The spare area.
        oob: Vec<u8>,
    },
    /// Program a page with a well-formed record over seeded data into the
    /// block's next erased page.
    Forge {
        /// Block.
        block: u8,
        /// The record's sequence number.
        seq: u64,
        /// Host (even) or relocated (odd).
        kind: u8,
        /// `1 + sectors % 16` sectors in the record.
        sectors: u8,
        /// LBAs (small values are taken modulo twice the device size).
        lbas: Vec<u32>,
        /// The record's erase count.
        erase_count: u32,
        /// Seed of the data bytes.
        data_seed: u64,
    },
    /// Copy a page (as stored) into the block's next erased page,
    /// optionally restamped with a new sequence number.
    Clone {
        /// Flat index of the source page.
        page: u16,
        /// Destination block.
        block: u8,
        /// A new sequence number for the copy.
        seq: Option<u64>,
    },
    /// Mark a block bad.
    MarkBad {
        /// Block.
        block: u8,
    },
    /// Erase a block.
    Erase {
        /// Block.
        block: u8,
    },
}

/// A `mount_garbage` case.
#[derive(Arbitrary, Clone, Debug)]
pub struct Input {
    /// Geometry selector (see [`small_geometry`]).
    pub geometry: u8,
    /// Over-provisioning selector.
    pub op: u8,
    /// Slots beyond the minimum.
    pub extra_slots: u8,
    /// Seeds the bulk writes.
    pub seed: u64,
    /// `bulk % 128` seeded writes of 1..=8 sectors come first, so even a
    /// short input leaves a well-used medium (and GC having run).
    pub bulk: u8,
    /// Writes, trims and flushes before the corruption (then a flush).
    pub before: Vec<HostOp>,
    /// What happens to the medium.
    pub corruptions: Vec<Corruption>,
    /// Writes and flushes after the mount. A trim here writes instead:
    /// trims are not durable, so the clean remount could not judge them.
    pub after: Vec<HostOp>,
}

type Dev = Corrupted<SimNand>;

fn block_of(dev: &Dev, b: u8) -> BlockIdx {
    let geo = Nand::geometry(dev);
    BlockIdx(u32::from(b) % geo.total_blocks())
}

fn page_of(dev: &Dev, p: u16) -> Ppa {
    let geo = Nand::geometry(dev);
    let flat = u32::from(p) % (geo.total_blocks() * geo.pages_per_block);
    Ppa::new(
        BlockIdx(flat / geo.pages_per_block),
        flat % geo.pages_per_block,
    )
}

/// The first erased page of `block`, if any.
fn next_erased(dev: &mut Dev, block: BlockIdx) -> Option<Ppa> {
    let ppb = Nand::geometry(dev).pages_per_block;
    (0..ppb)
        .map(|p| Ppa::new(block, p))
        .find(|&ppa| dev.inner_mut().page_state(ppa) == Some(PageState::Erased))
}

fn program_into(dev: &mut Dev, block: BlockIdx, data: &[u8], spare: &[u8]) {
    if let Some(ppa) = next_erased(dev, block) {
        // Refusals (bad block, order) are fine: the medium stays as it was.
        let _ = dev.program_page(ppa, &[data], spare);
    }
}

fn corrupt(dev: &mut Dev, c: &Corruption, logical: u64) {
    let geo = Nand::geometry(dev);
    let page_size = geo.page_size as usize;
    let oob_size = geo.oob_size as usize;
    match c {
        Corruption::FlipBit { page, offset, bit } => {
            let ppa = page_of(dev, *page);
            dev.xor(ppa, usize::from(*offset), 1 << (bit % 8));
        }
        Corruption::Overwrite {
            page,
            offset,
            bytes,
        } => {
            let ppa = page_of(dev, *page);
            let bytes = bytes.iter().take(MAX_BYTES).copied().collect();
            dev.set(ppa, usize::from(*offset), bytes);
        }
        Corruption::Replace {
            page,
            data_seed,
            oob,
        } => {
            let ppa = page_of(dev, *page);
            dev.replace(
                ppa,
                *data_seed,
                oob.iter().take(oob_size).copied().collect(),
            );
        }
        Corruption::Unreadable { page } => {
            let ppa = page_of(dev, *page);
            dev.unreadable(ppa);
        }
        Corruption::ProgramGarbage {
            block,
            data_seed,
            oob,
        } => {
            let block = block_of(dev, *block);
            let mut data = vec![0u8; page_size];
            Rng::new(*data_seed).fill(&mut data);
            let spare: Vec<u8> = oob.iter().take(oob_size).copied().collect();
            program_into(dev, block, &data, &spare);
        }
        Corruption::Forge {
            block,
            seq,
            kind,
            sectors,
            lbas,
            erase_count,
            data_seed,
        } => {
            let block = block_of(dev, *block);
            let n = 1 + usize::from(*sectors) % MAX_SECTORS_PER_PAGE;
            let mut rec = PageRecord {
                kind: if kind % 2 == 0 {
                    PageKind::Host
                } else {
                    PageKind::Relocated
                },
                seq: Seq(*seq),
                erase_count: *erase_count,
                data_crc: 0,
                sectors: n as u8,
                lbas: [NO_LBA; MAX_SECTORS_PER_PAGE],
            };
            for (slot, &l) in rec.lbas.iter_mut().zip(lbas.iter()).take(n) {
                *slot = if l < 0x8000_0000 {
                    (u64::from(l) % (2 * logical)) as u32
                } else {
                    l
                };
            }
            let mut data = vec![0u8; page_size];
            Rng::new(*data_seed).fill(&mut data);
            rec.data_crc = oob::data_crc([&data[..]]);
            let names_live_lba = (0..n).any(|i| rec.lba(i).is_some_and(|l| l.0 < logical));
            if n == geo.sectors_per_page() && names_live_lba {
                // A fully valid forgery over garbage is undetectable.
                rec.data_crc ^= 1;
            }
            if oob::record_len(n) > oob_size {
                return;
            }
            let mut spare = vec![0xFF; oob_size];
            rec.encode(&mut spare);
            program_into(dev, block, &data, &spare);
        }
        Corruption::Clone { page, block, seq } => {
            let src = page_of(dev, *page);
            let block = block_of(dev, *block);
            let mut data = vec![0u8; page_size];
            let mut spare = vec![0u8; oob_size];
            // The page as stored, without the read overlays.
            if dev
                .inner_mut()
                .read_page(src, &mut [&mut data[..]], &mut spare)
                .is_err()
            {
                return;
            }
            if let (Some(s), Ok(mut rec)) = (seq, PageRecord::decode(&spare)) {
                rec.seq = Seq(*s);
                rec.encode(&mut spare);
            }
            program_into(dev, block, &data, &spare);
        }
        Corruption::MarkBad { block } => {
            let block = block_of(dev, *block);
            let _ = dev.mark_bad_block(block);
        }
        Corruption::Erase { block } => {
            let block = block_of(dev, *block);
            let _ = dev.erase_block(block);
        }
    }
}

/// Runs one case; `Err` describes a violated property.
pub fn run(input: &Input) -> Result<(), String> {
    run_with(input)
}

/// The same as [`run`] (kept for the regression replays, which once ran
/// without the step-arounds of bugs now fixed).
pub fn run_unfiltered(input: &Input) -> Result<(), String> {
    run_with(input)
}

fn run_with(input: &Input) -> Result<(), String> {
    let geo = small_geometry(input.geometry);
    // 10..=40 % over-provisioning.
    let cfg = small_config(10 + input.op % 31);
    let extra = u32::from(input.extra_slots % 64);
    let sim = SimNand::new_ram(geo, SimOptions::with_seed(1)).map_err(|e| e.to_string())?;
    let mut ftl = Ftl::format(Corrupted::new(sim), pool_for(&geo, &cfg, extra), cfg)
        .map_err(|e| format!("format: {e}"))?;
    let logical = ftl.logical_sectors();
    let mut history = History::default();

    let mut rng = Rng::new(input.seed);
    for _ in 0..input.bulk % 128 {
        let r = rng.next_u64();
        let (lba, n) = span(r as u16, (r >> 16) as u8, logical);
        let (_, w) = write_versions(&mut ftl, &mut history, lba, n);
        w.map_err(|e| format!("bulk write: {e}"))?;
        if (r >> 24) % 16 == 0 {
            ftl.flush().map_err(|e| format!("flush: {e}"))?;
        }
    }
    for op in input.before.iter().take(MAX_BEFORE) {
        match *op {
            HostOp::Write { lba, sectors } => {
                let (lba, n) = span(lba, sectors, logical);
                let (_, r) = write_versions(&mut ftl, &mut history, lba, n);
                r.map_err(|e| format!("write before corruption: {e}"))?;
            }
            HostOp::Trim { lba, sectors } => {
                let (lba, n) = span(lba, sectors, logical);
                ftl.trim(Lba(lba), n).map_err(|e| format!("trim: {e}"))?;
            }
            HostOp::Flush => ftl.flush().map_err(|e| format!("flush: {e}"))?,
        }
    }
    ftl.flush().map_err(|e| format!("flush: {e}"))?;
    ftl.check_integrity().map_err(|e| e.to_string())?;

    let (mut dev, pool) = ftl.into_parts();
    for c in input.corruptions.iter().take(MAX_CORRUPTIONS) {
        corrupt(&mut dev, c, logical);
    }

    // Anything but a panic or a hang is an acceptable answer to garbage.
    let Ok(mut ftl) = Ftl::open(dev, pool, cfg) else {
        return Ok(());
    };
    ftl.check_integrity()
        .map_err(|e| format!("after mount: {e}"))?;
    let mounted = read_all(&mut ftl, &history)?;

    // The mounted FTL keeps working on the damaged medium.
    let mut latest = std::collections::BTreeMap::new();
    // The first failure after the mount, for the report.
    let mut failure: Option<String> = None;
    let mut no_space = false;
    for op in input.after.iter().take(MAX_AFTER) {
        let r = match *op {
            HostOp::Write { lba, sectors } | HostOp::Trim { lba, sectors } => {
                let (lba, n) = span(lba, sectors, logical);
                let (versions, r) = write_versions(&mut ftl, &mut history, lba, n);
                for (i, v) in versions.into_iter().enumerate() {
                    let l = lba + i as u64;
                    // A failed write leaves its sectors unknown.
                    match r {
                        Ok(()) => latest.insert(l, Some(v)),
                        Err(_) => latest.insert(l, None),
                    };
                }
                r
            }
            HostOp::Flush => ftl.flush(),
        };
        note(&mut failure, &mut no_space, op, r);
    }
    let r = ftl.flush();
    note(&mut failure, &mut no_space, &HostOp::Flush, r);
    if no_space {
        // A degraded medium may be full: a legitimate end, but the tables
        // must still be consistent (bug no-space-breaks-cache-tables).
        return ftl
            .check_integrity()
            .map_err(|e| format!("after NoSpace on the mounted medium: {e}"));
    }
    let after = failure.as_deref().unwrap_or("every write succeeded");
    ftl.check_integrity()
        .map_err(|e| format!("after writes on the mounted medium ({after}): {e}"))?;
    let now = read_all(&mut ftl, &history)?;
    compare(&mounted, &now, &latest, "after writes")?;

    // A clean remount sees the same.
    let (dev, pool) = ftl.into_parts();
    let mut ftl = match Ftl::open(dev, pool, cfg) {
        Ok(f) => f,
        Err(e) if failure.is_none() => return Err(format!("clean remount failed: {e}")),
        Err(_) => return Ok(()),
    };
    ftl.check_integrity()
        .map_err(|e| format!("after clean remount: {e}"))?;
    let again = read_all(&mut ftl, &history)?;
    compare(&mounted, &again, &latest, "after clean remount")
}

/// Records the first failed operation after the mount, and whether any
/// failed for lack of space.
fn note<E: core::fmt::Debug>(
    failure: &mut Option<String>,
    no_space: &mut bool,
    op: &HostOp,
    r: Result<(), ftl_core::Error<E>>,
) {
    if let Err(e) = r {
        *no_space |= matches!(e, ftl_core::Error::NoSpace);
        failure.get_or_insert_with(|| format!("{op:?} failed: {e}"));
    }
}

/// `lba` and `1 + sectors % 8` clipped to the device.
fn span(lba: u16, sectors: u8, logical: u64) -> (u64, u32) {
    let lba = u64::from(lba) % logical;
    let n = (1 + u64::from(sectors % 8)).min(logical - lba);
    (lba, n as u32)
}

/// Sectors rewritten since the mount read their last version; the others
/// read as they did at the mount (or fail).
fn compare(
    mounted: &[Option<Seen>],
    now: &[Option<Seen>],
    latest: &std::collections::BTreeMap<u64, Option<u64>>,
    when: &str,
) -> Result<(), String> {
    for (lba, (was, is)) in mounted.iter().zip(now).enumerate() {
        let lba = lba as u64;
        match latest.get(&lba) {
            Some(Some(v)) => {
                if *is != Some(Seen::Version(*v)) {
                    return Err(format!(
                        "{when}: lba {lba} reads {is:?}, last written version {v}"
                    ));
                }
            }
            Some(None) => {}
            None => {
                if is.is_some() && was.is_some() && is != was {
                    return Err(format!(
                        "{when}: lba {lba} changed from {was:?} to {is:?} without a write"
                    ));
                }
            }
        }
    }
    Ok(())
}
