//! The crash checker: run a workload on the simulator, cut power after
//! mutating NAND operation `k` (the interrupted operation is torn),
//! optionally cut again during recovery, mount, and check every sector
//! against a model that knows what was flushed.
//!
//! The guarantees checked, per LBA:
//! - written and flushed, untouched since: reads exactly its flushed value;
//! - touched since the last completed flush (write, trim, or a write the cut
//!   interrupted): reads its flushed value or one of the values given since;
//! - never garbage, never another sector's data (every sector's content
//!   names its LBA and version, so a mix-up cannot pass).
//!
//! A flushed trim is durable like a flushed write (trim records and
//! checkpoints). [`TRIMS_DURABLE`] set to `false` would allow a trimmed
//! sector to read back as any earlier version *of that sector* instead.

use std::cell::RefCell;
use std::rc::Rc;

use ftl_core::superblock::Superblocks;
use ftl_core::{
    BlockIdx, Error, Ftl, FtlConfig, Geometry, Lba, Nand, Ppa, ReadStatus, SlotPool, Stats,
};
use simulator::{CutReport, SimNand, SimOptions};

/// Whether a flushed trim must stay trimmed across a power cut.
pub const TRIMS_DURABLE: bool = true;

/// One workload step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashOp {
    /// Write `sectors` sectors at `lba` (taken modulo the device).
    Write {
        /// First LBA.
        lba: u64,
        /// Sectors (1..=max_io).
        sectors: u32,
    },
    /// Trim `sectors` sectors at `lba`.
    Trim {
        /// First LBA.
        lba: u64,
        /// Sectors.
        sectors: u32,
    },
    /// Flush: everything before it becomes durable.
    Flush,
}

/// A crash case.
#[derive(Clone, Debug)]
pub struct CrashInput {
    /// Seeds the simulator (which torn form a cut takes).
    pub seed: u64,
    /// The workload.
    pub ops: Vec<CrashOp>,
    /// Cut power after this many mutating NAND operations of the workload
    /// (the next one is torn); `None` runs it to the end, then cuts.
    pub cut_after: Option<u64>,
    /// Cut power again after this many mutating operations of recovery.
    pub recovery_cut_after: Option<u64>,
    /// How the map is persisted.
    pub map: MapSetup,
}

/// How a crash case's FTL persists its map.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MapSetup {
    /// The default: the map in as few translation pages as fit, written
    /// back lazily (here: one page holds the whole map).
    #[default]
    Whole,
    /// Many tiny translation pages (8 entries), one written back per host
    /// page and a checkpoint every 2 host pages: write-backs, cleaning and
    /// horizons move on almost every operation.
    Sliced,
    /// Those tiny pages, demand-paged with the smallest map budget the
    /// configuration allows: entries are read in and written back under
    /// pressure on almost every operation.
    Paged,
    /// The whole map, on 2 channels × 2 planes striped into superblocks
    /// (`ftl_core::superblock`): the FTL sees `Whole`'s shape, every
    /// superpage is two programs, every superblock erase four, so cuts
    /// fall between the planes of a page and the members of an erase.
    MultiDie,
    /// `MultiDie`'s array with an erase unit per die and an open block per
    /// die and data stream (`FtlConfig::lanes`, `Superblocks::with_width`
    /// 1): pages alternate between the dies' open blocks, each die's
    /// blocks fill and get collected on their own.
    Lanes,
    /// `Lanes` with one data stream (`FtlConfig::data_streams` = 1): GC's
    /// pages go to the host's open blocks and lanes, mixed with host pages.
    OneStream,
}

/// What happened in a case.
#[derive(Clone, Debug)]
pub struct CrashReport {
    /// Mutating NAND operations the workload completed.
    pub workload_nand_ops: u64,
    /// Workload steps completed before the cut.
    pub ops_completed: usize,
    /// Where the cut fell, if it did.
    pub cut: Option<CutReport>,
    /// Whether the second cut hit recovery.
    pub recovery_cut: bool,
    /// Mutating NAND operations the (last, completed) recovery made.
    pub recovery_nand_ops: u64,
    /// Blocks that recovery read from their summaries.
    pub recovered_from_summaries: u64,
    /// FTL counters at the cut.
    pub stats_at_cut: Stats,
}

/// The small physical geometry a crash case runs on: GC runs constantly.
pub fn geometry(map: MapSetup) -> Geometry {
    let blocks = match map {
        MapSetup::Whole => 12,
        MapSetup::Sliced => 16,
        // The meta stream takes 8 of these blocks (a translation page per
        // 8 LBAs, half a block of trims, the summary pages of a write-back
        // round): 20 keep the LBAs well beyond what the map cache holds.
        MapSetup::Paged => 20,
        MapSetup::MultiDie | MapSetup::Lanes | MapSetup::OneStream => {
            return Geometry {
                channels: 2,
                planes_per_die: 2,
                page_size: 4096,
                ..Geometry::small(12, 4)
            }
        }
    };
    Geometry {
        page_size: 8192,
        ..Geometry::small(blocks, 8)
    }
}

/// Dies per erase unit: every die, or one (`Lanes`).
fn width(map: MapSetup) -> u32 {
    let g = geometry(map);
    match map {
        MapSetup::Lanes | MapSetup::OneStream => 1,
        _ => u32::from(g.channels) * u32::from(g.dies_per_channel),
    }
}

/// The geometry the FTL sees: the physical one striped into superblocks
/// (the same for a single die and plane), or into per-die units.
pub fn ftl_geometry(map: MapSetup) -> Geometry {
    Superblocks::<SharedNand>::geometry_for_width(&geometry(map), width(map))
        .expect("a stripable geometry")
}

/// The FTL configuration of a crash case.
pub fn config(map: MapSetup) -> FtlConfig {
    let base = FtlConfig {
        handles: 2,
        max_io_sectors: 4,
        wear_leveling_bound: 1,
        over_provisioning_percent: 25,
        // A summary page per two full blocks (a page holds dozens on
        // these tiny arrays): cuts then land before, between and after
        // summary pages, and recovery reads blocks both ways.
        summaries_per_page: 2,
        ..FtlConfig::default()
    };
    match map {
        MapSetup::Whole | MapSetup::MultiDie => base,
        MapSetup::Lanes => FtlConfig {
            lanes: 2,
            summaries_per_page: 1,
            ..base
        },
        MapSetup::OneStream => FtlConfig {
            data_streams: 1,
            ..config(MapSetup::Lanes)
        },
        MapSetup::Sliced => FtlConfig {
            translation_entries: 8,
            translation_write_permille: 1000,
            checkpoint_interval_pages: 2,
            ..base
        },
        MapSetup::Paged => {
            let c = FtlConfig {
                translation_entries: 8,
                translation_write_permille: 250,
                ..base
            };
            FtlConfig {
                map_budget_bytes: c.min_map_budget(&ftl_geometry(map)),
                ..c
            }
        }
    }
}

/// Sector contents that name their LBA and version (version 0 = zeros).
pub fn sector(lba: u64, version: u32) -> Vec<u8> {
    if version == 0 {
        return vec![0; 4096];
    }
    let mut v = vec![0u8; 4096];
    for (i, c) in v.chunks_mut(8).enumerate() {
        let w = lba.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (u64::from(version) << 40) ^ i as u64;
        c.copy_from_slice(&w.to_le_bytes());
    }
    v
}

#[derive(Default, Clone)]
struct LbaModel {
    /// Value as of the last completed flush (0 = zeros).
    durable: u32,
    /// Values given since (0 = trimmed).
    pending: Vec<u32>,
    /// Every version ever written.
    history: Vec<u32>,
    trimmed: bool,
}

/// The simulator behind a shared handle, so the harness keeps it when a
/// mount that was cut consumes the FTL.
#[derive(Clone)]
pub struct SharedNand(pub Rc<RefCell<SimNand>>);

impl Nand for SharedNand {
    type Error = <SimNand as Nand>::Error;

    fn geometry(&self) -> Geometry {
        self.0.borrow().geometry()
    }

    fn read_page(
        &mut self,
        ppa: Ppa,
        data: &mut [&mut [u8]],
        oob: &mut [u8],
    ) -> Result<ReadStatus, Self::Error> {
        self.0.borrow_mut().read_page(ppa, data, oob)
    }

    fn program_page(&mut self, ppa: Ppa, data: &[&[u8]], oob: &[u8]) -> Result<(), Self::Error> {
        self.0.borrow_mut().program_page(ppa, data, oob)
    }

    fn erase_block(&mut self, block: BlockIdx) -> Result<(), Self::Error> {
        self.0.borrow_mut().erase_block(block)
    }

    fn is_bad_block(&mut self, block: BlockIdx) -> Result<bool, Self::Error> {
        self.0.borrow_mut().is_bad_block(block)
    }

    fn mark_bad_block(&mut self, block: BlockIdx) -> Result<(), Self::Error> {
        self.0.borrow_mut().mark_bad_block(block)
    }

    fn sync(&mut self) -> Result<(), Self::Error> {
        self.0.borrow_mut().sync()
    }
}

type Sim = Ftl<Superblocks<SharedNand>, SlotPool<Vec<u8>>>;

/// The FTL's NAND: the simulator striped into superblocks, or per-die
/// units.
fn striped(nand: &SharedNand, map: MapSetup) -> Superblocks<SharedNand> {
    Superblocks::with_width(nand.clone(), width(map)).expect("a stripable geometry")
}

/// A fresh slot pool: what RAM holds after a power cut (nothing).
fn pool(map: MapSetup) -> SlotPool<Vec<u8>> {
    SlotPool::with_capacity(config(map).min_slots(&ftl_geometry(map)) + 16, 4096)
}

/// Runs one case; `Err` says which guarantee broke.
pub fn run_case(input: &CrashInput) -> Result<CrashReport, String> {
    let map = input.map;
    let sim = SimNand::new_ram(geometry(map), SimOptions::with_seed(input.seed))
        .map_err(|e| e.to_string())?;
    let nand = SharedNand(Rc::new(RefCell::new(sim)));
    let mut ftl = Ftl::format(striped(&nand, map), pool(map), config(map))
        .map_err(|e| format!("format: {e}"))?;
    let n = ftl.logical_sectors();
    let start = nand.0.borrow().ops_done();
    if let Some(k) = input.cut_after {
        nand.0.borrow_mut().power_cut_after(k);
    }
    let mut model = vec![LbaModel::default(); n as usize];
    let mut version = 0u32;
    let mut completed = 0;
    for op in &input.ops {
        let r = match *op {
            CrashOp::Write { lba, sectors } => {
                let lba = lba % n;
                let sectors = sectors
                    .clamp(1, config(map).max_io_sectors)
                    .min((n - lba) as u32);
                version += 1;
                let mut buf = Vec::with_capacity(sectors as usize * 4096);
                for l in lba..lba + u64::from(sectors) {
                    let m = &mut model[l as usize];
                    m.pending.push(version);
                    m.history.push(version);
                    buf.extend(sector(l, version));
                }
                ftl.write(Lba(lba), &buf)
            }
            CrashOp::Trim { lba, sectors } => {
                let lba = lba % n;
                let sectors = sectors.max(1).min((n - lba) as u32);
                for l in lba..lba + u64::from(sectors) {
                    model[l as usize].pending.push(0);
                    model[l as usize].trimmed = true;
                }
                ftl.trim(Lba(lba), sectors)
            }
            CrashOp::Flush => {
                let r = ftl.flush();
                if r.is_ok() {
                    for m in &mut model {
                        if let Some(&last) = m.pending.last() {
                            m.durable = last;
                        }
                        m.pending.clear();
                    }
                }
                r
            }
        };
        match r {
            Ok(()) => completed += 1,
            Err(e) if e.is_power_loss() => break,
            Err(e) => return Err(format!("step {completed} {op:?}: {e}")),
        }
    }
    let stats_at_cut = ftl.stats();
    drop(ftl); // power is gone: so is everything in RAM
    let (workload_nand_ops, cut) = {
        let mut sim = nand.0.borrow_mut();
        let done = sim.ops_done() - start;
        let cut = sim.last_cut();
        sim.disarm_power_cut();
        sim.power_restore();
        if let Some(j) = input.recovery_cut_after {
            sim.power_cut_after(j);
        }
        (done, cut)
    };

    // Recovery; if it was cut, power comes back and recovery starts over.
    let mut recovery_cut = false;
    let mut before = nand.0.borrow().ops_done();
    let mut ftl = match Ftl::open(striped(&nand, map), pool(map), config(map)) {
        Ok(f) => f,
        Err(e) if e.is_power_loss() => {
            recovery_cut = true;
            let mut sim = nand.0.borrow_mut();
            sim.disarm_power_cut();
            sim.power_restore();
            before = sim.ops_done();
            drop(sim);
            Ftl::open(striped(&nand, map), pool(map), config(map))
                .map_err(|e| format!("recovery after a cut recovery failed: {e}"))?
        }
        Err(e) => return Err(format!("recovery failed: {e}")),
    };
    let recovery_nand_ops = nand.0.borrow().ops_done() - before;
    let recovered_from_summaries = ftl.stats().mount_blocks_from_summaries;
    nand.0.borrow_mut().disarm_power_cut();
    verify(&mut ftl, &model).map_err(|e| format!("{e} (cut: {cut:?})"))?;
    exercise(&mut ftl).map_err(|e| format!("{e} (cut: {cut:?})"))?;
    Ok(CrashReport {
        workload_nand_ops,
        ops_completed: completed,
        cut,
        recovery_cut,
        recovery_nand_ops,
        recovered_from_summaries,
        stats_at_cut,
    })
}

/// Every LBA reads a value the model allows.
fn verify(ftl: &mut Sim, model: &[LbaModel]) -> Result<(), String> {
    ftl.verify_map().map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 4096];
    for (l, m) in model.iter().enumerate() {
        let l = l as u64;
        ftl.read(Lba(l), &mut buf)
            .map_err(|e| format!("read {l} after recovery: {e}"))?;
        let mut allowed: Vec<u32> = Vec::with_capacity(m.pending.len() + 1);
        allowed.push(m.durable);
        allowed.extend(&m.pending);
        if m.trimmed && !TRIMS_DURABLE {
            allowed.push(0);
            allowed.extend(&m.history);
        }
        if !allowed.iter().any(|&v| buf == sector(l, v)) {
            let what = (0..=m.history.iter().copied().max().unwrap_or(0))
                .find(|&v| buf == sector(l, v))
                .map_or("garbage or another sector's data".to_string(), |v| {
                    format!("version {v}")
                });
            return Err(format!(
                "lba {l}: read {what}; allowed durable {} or pending {:?}",
                m.durable, m.pending
            ));
        }
    }
    Ok(())
}

/// The recovered device works: write, flush, remount, read back.
fn exercise(ftl: &mut Sim) -> Result<(), String> {
    let n = ftl.logical_sectors();
    for l in (0..n).step_by(7) {
        ftl.write(Lba(l), &sector(l, 0xABCD))
            .map_err(|e| format!("write after recovery: {e}"))?;
    }
    ftl.flush()
        .map_err(|e| format!("flush after recovery: {e}"))?;
    let mut buf = vec![0u8; 4096];
    for l in (0..n).step_by(7) {
        ftl.read(Lba(l), &mut buf)
            .map_err(|e: Error<_>| e.to_string())?;
        if buf != sector(l, 0xABCD) {
            return Err(format!("lba {l} lost a write made after recovery"));
        }
    }
    Ok(())
}
