//! [`SimNand`]: the medium, the fault model and the power switch behind
//! [`ftl_core::Nand`].
//!
//! Every operation runs the same gauntlet, in this order: power lost →
//! `PowerLoss`; arguments out of range → `OutOfBounds` (a violation); NAND
//! rules → `BadBlock` / `ProgramOrder` (violations); power cut due now →
//! the operation is torn and `PowerLoss`; random device failure →
//! `ProgramFailed` / `EraseFailed`; else it completes.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use ftl_core::nand::{check_block, check_program_args, check_read_args};
use ftl_core::{BlockIdx, Geometry, Nand, NandErrorKind, Ppa, ReadStatus};

use crate::clock::Clock;
use crate::error::{OpKind, SimError, Target};
use crate::faults::{self, EraseFault, Faults, ReadOutcome};
use crate::format::header::Header;
use crate::format::layout::Layout;
use crate::format::tables::PageState;
use crate::image::{Backing, FileImage, ImageError};
use crate::media::{Media, Refusal};
use crate::options::SimOptions;
use crate::part::PartMap;
use crate::power::{self, half_erase, tear_page, CutReport, Power, Tear};
use crate::reader::{ImageReader, ReaderCounters};
use crate::stats::SimStats;
use crate::timing::{Timeline, TimingConfig, TimingError};

/// A simulated NAND array over RAM or a memory-mapped image file.
#[derive(Debug)]
pub struct SimNand {
    geo: Geometry,
    media: Media,
    faults: Faults,
    power: Power,
    stats: SimStats,
    /// Reads made by this array's [`ImageReader`]s.
    reader_counters: Arc<ReaderCounters>,
    /// Simulated time, when enabled ([`SimNand::enable_timing`]).
    clock: Option<Box<Clock>>,
    /// Equal parts the blocks are split into ([`SimNand::into_parts`]).
    partitions: u16,
}

/// The header and the layout of a new image (of the current version).
fn new_image(geo: &Geometry, seed: u64, partitions: u16) -> Result<(Header, Layout), ImageError> {
    geo.validate()?;
    let header = Header::new(*geo, seed).with_partitions(partitions)?;
    let layout = Layout::new(geo, header.version).ok_or(ImageError::TooLarge(u64::MAX))?;
    Ok((header, layout))
}

fn check_options(geo: &Geometry, opts: &SimOptions) -> Result<(), ImageError> {
    let page_bits = (u64::from(geo.page_size) + u64::from(geo.oob_size)) * 8;
    opts.validate(geo.total_blocks(), page_bits)?;
    Ok(())
}

impl SimNand {
    /// An all-erased array in RAM, factory bad blocks marked.
    pub fn new_ram(geometry: Geometry, opts: SimOptions) -> Result<SimNand, ImageError> {
        Self::new_ram_partitioned(geometry, 1, opts)
    }

    /// [`SimNand::new_ram`], its blocks split into `partitions` equal parts
    /// ([`SimNand::into_parts`]).
    pub fn new_ram_partitioned(
        geometry: Geometry,
        partitions: u16,
        opts: SimOptions,
    ) -> Result<SimNand, ImageError> {
        let (header, layout) = new_image(&geometry, opts.seed, partitions)?;
        check_options(&geometry, &opts)?;
        let backing = Backing::new_ram(&layout, &header)?;
        Self::fresh(Media::new(geometry, layout, backing), opts, partitions)
    }

    /// An all-erased metadata-only array in RAM, factory bad blocks marked:
    /// it keeps spare areas, page states, erase counts and bad marks, and
    /// the data of every page but zcftl's host and relocated data pages
    /// (see `media.rs`), so a device far larger than RAM can be simulated
    /// fast. Reading a page whose data was dropped leaves the buffers as
    /// they are: run the FTL with `FtlConfig::data_checksums` off over it.
    /// RAM only: an image file always holds the data.
    pub fn new_metadata_only(geometry: Geometry, opts: SimOptions) -> Result<SimNand, ImageError> {
        let (header, _) = new_image(&geometry, opts.seed, 1)?;
        check_options(&geometry, &opts)?;
        let layout = Layout::metadata_only(&geometry).ok_or(ImageError::TooLarge(u64::MAX))?;
        let backing = Backing::new_ram(&layout, &header)?;
        Self::fresh(Media::metadata_only(geometry, layout, backing), opts, 1)
    }

    /// Whether this array stores no host data ([`SimNand::new_metadata_only`]).
    pub fn is_metadata_only(&self) -> bool {
        self.media.is_metadata_only()
    }

    /// Creates (or truncates) an all-erased image file at `path`, factory
    /// bad blocks marked. The file is sparse until pages are programmed.
    pub fn create_image(
        path: &Path,
        geometry: Geometry,
        opts: SimOptions,
    ) -> Result<SimNand, ImageError> {
        Self::create_partitioned_image(path, geometry, 1, opts)
    }

    /// [`SimNand::create_image`], its blocks split into `partitions` equal
    /// parts ([`SimNand::into_parts`]); the count is in the header, so the
    /// image opens split the same way.
    pub fn create_partitioned_image(
        path: &Path,
        geometry: Geometry,
        partitions: u16,
        opts: SimOptions,
    ) -> Result<SimNand, ImageError> {
        let (header, layout) = new_image(&geometry, opts.seed, partitions)?;
        check_options(&geometry, &opts)?;
        let file = FileImage::create(path, &layout, &header)?;
        Self::fresh(
            Media::new(geometry, layout, Backing::File(file)),
            opts,
            partitions,
        )
    }

    /// Opens an existing image; the geometry comes from its header, the
    /// bad-block marks, erase counts and page states from its tables
    /// (`opts.factory_bad_blocks` is ignored). A foreign, damaged, truncated
    /// or busy file is refused and left unmodified.
    pub fn open_image(path: &Path, opts: SimOptions) -> Result<SimNand, ImageError> {
        let (file, header, layout) = FileImage::open(path)?;
        let geo = header.geometry;
        check_options(&geo, &opts)?;
        let media = Media::new(geo, layout, Backing::File(file));
        Ok(SimNand {
            geo,
            media,
            faults: Faults::new(opts),
            power: Power::default(),
            stats: SimStats::default(),
            reader_counters: Arc::default(),
            clock: None,
            partitions: header.version.partitions(),
        })
    }

    /// A new array over `media`, fresh from [`Media::new`] or
    /// [`Media::metadata_only`]: its factory bad blocks marked.
    fn fresh(mut media: Media, opts: SimOptions, partitions: u16) -> Result<SimNand, ImageError> {
        let (geo, layout) = (media.geometry(), media.layout());
        for b in faults::factory_bad_blocks(&opts, geo.total_blocks()) {
            // Cannot fail: the block is in range and the image freshly
            // sized; a failure would mean a broken layout, so say so.
            media
                .mark_bad(b, true)
                .map_err(|_| ImageError::TooLarge(layout.total))?;
        }
        Ok(SimNand {
            geo,
            media,
            faults: Faults::new(opts),
            power: Power::default(),
            stats: SimStats::default(),
            reader_counters: Arc::default(),
            clock: None,
            partitions,
        })
    }

    /// The same file image through a mapping of its own, with its own
    /// faults (the same options), power switch and counters: a partition's
    /// array (`part.rs`). `None` for RAM or metadata-only arrays.
    pub(crate) fn share(&self) -> Option<std::io::Result<SimNand>> {
        let media = self.media.share()?;
        Some(media.map(|media| SimNand {
            geo: self.geo,
            media,
            faults: Faults::new(self.faults.options().clone()),
            power: Power::default(),
            stats: SimStats::default(),
            reader_counters: Arc::default(),
            clock: None,
            partitions: self.partitions,
        }))
    }

    /// Equal parts the blocks are split into, each for its own FTL: 1
    /// unless the array was created partitioned ([`SimNand::into_parts`]).
    pub fn partitions(&self) -> u16 {
        self.partitions
    }

    /// The options in force.
    pub fn options(&self) -> &SimOptions {
        self.faults.options()
    }

    /// A snapshot of the counters, its readers' reads included.
    pub fn stats(&self) -> SimStats {
        let mut s = self.stats;
        s.reads += self.reader_counters.reads.load(Ordering::Relaxed);
        s.bytes_read += self.reader_counters.bytes_read.load(Ordering::Relaxed);
        s
    }

    /// Gives every later operation a place in simulated time: channels,
    /// dies and planes busy per `cfg` ([`Timeline`]). Operations are
    /// submitted at the time [`SimNand::set_time`] last set (never the
    /// wall clock); [`SimNand::done_ns`] says when the last of them ends.
    pub fn enable_timing(&mut self, cfg: TimingConfig) -> Result<(), TimingError> {
        self.clock = Some(Box::new(Clock::new(self.geo, cfg)?));
        Ok(())
    }

    /// Stops timing: later operations take no simulated time (a fast
    /// preconditioning phase, say). The timeline is dropped.
    pub fn disable_timing(&mut self) {
        self.clock = None;
    }

    /// Operations from now on are submitted at `at_ns` (not before the
    /// latest submission so far: the timeline moves them up to it).
    pub fn set_time(&mut self, at_ns: u64) {
        if let Some(c) = self.clock.as_mut() {
            c.set_time(at_ns);
        }
    }

    /// When the last operation submitted since [`SimNand::set_time`]
    /// completes (that time itself if none was); 0 without timing.
    pub fn done_ns(&mut self) -> u64 {
        self.clock.as_mut().map_or(0, |c| c.done_ns())
    }

    /// The timeline, if timing is enabled; complete as of the last
    /// [`SimNand::done_ns`] or [`SimNand::set_time`] (a multi-plane group
    /// is booked when it is complete).
    pub fn timeline(&self) -> Option<&Timeline> {
        self.clock.as_deref().map(Clock::timeline)
    }

    /// A reader of this array's image file for other threads (see
    /// [`ImageReader`]): `None` for a RAM array, or when the options
    /// inject read faults, which only the `SimNand` models.
    pub fn reader(&self) -> Option<Result<ImageReader, SimError>> {
        if self.faults.options().max_bit_errors_per_read > 0 {
            return None;
        }
        let file = self.media.backing().reopen()?;
        Some(
            file.map(|f| {
                ImageReader::new(
                    f,
                    PartMap::whole(&self.geo),
                    self.media.layout(),
                    self.reader_counters.clone(),
                )
            })
            .map_err(|e| SimError::io(OpKind::Read, e)),
        )
    }

    /// Completed erases of `block` (kept in the image); `None` if out of
    /// range.
    pub fn erase_count(&self, block: BlockIdx) -> Option<u32> {
        self.media.block(block).map(|e| e.erase_count)
    }

    /// The state of page `ppa`; `None` if out of range.
    pub fn page_state(&self, ppa: Ppa) -> Option<PageState> {
        self.media.page_state(ppa)
    }

    /// Whether `block` carries a bad mark, without going through the trait
    /// (works while power is lost; `None` if out of range).
    pub fn block_is_bad(&self, block: BlockIdx) -> Option<bool> {
        self.media.block(block).map(|e| e.is_bad())
    }

    /// Makes erases give a file image's storage back (punched holes) and
    /// programs skip zero sectors into erased blocks, so a zero-payload
    /// workload keeps the image sparse (measurements at TiB scale). Off by
    /// default: the daemon's images keep their blocks allocated.
    pub fn punch_erased_blocks(&mut self, on: bool) {
        self.media.set_punch(on);
    }

    /// Mutating operations (program, erase, bad-block mark) completed so
    /// far, over the simulator's life.
    pub fn ops_done(&self) -> u64 {
        self.power.ops_done()
    }

    /// Arms a power cut: the next `n` mutating operations complete, the one
    /// after is interrupted and torn, and every later call fails with
    /// `PowerLoss` until [`power_restore`](Self::power_restore). `n = 0`
    /// tears the very next one. Replaces any countdown already armed.
    pub fn power_cut_after(&mut self, n: u64) {
        self.power.cut_after(n);
    }

    /// Disarms a pending power cut (does not restore lost power).
    pub fn disarm_power_cut(&mut self) {
        self.power.disarm();
    }

    /// Whether power is lost (a cut happened and was not restored).
    pub fn power_lost(&self) -> bool {
        self.power.is_lost()
    }

    /// Power comes back — a reboot: operations run again over the medium
    /// exactly as the cut left it (torn pages and all). Counters are kept.
    pub fn power_restore(&mut self) {
        self.power.restore();
    }

    /// The most recent power cut: where and during what.
    pub fn last_cut(&self) -> Option<CutReport> {
        self.power.last_cut()
    }

    fn gate(&mut self, op: OpKind, target: Target) -> Result<(), SimError> {
        if self.power.is_lost() {
            self.stats.rejected_power_loss += 1;
            return Err(SimError::new(
                NandErrorKind::PowerLoss,
                op,
                target,
                "power is lost",
            ));
        }
        Ok(())
    }

    /// Turns a refusal into an error, counting caller violations.
    fn refuse(&mut self, op: OpKind, target: Target, (kind, detail): Refusal) -> SimError {
        if matches!(
            kind,
            NandErrorKind::OutOfBounds | NandErrorKind::ProgramOrder | NandErrorKind::BadBlock
        ) {
            self.stats.violations += 1;
        }
        SimError::new(kind, op, target, detail)
    }

    fn cut(&mut self, op: OpKind, target: Target, tear: Tear) -> SimError {
        self.stats.power_cuts += 1;
        self.power.cut(op, target, tear);
        SimError::new(
            NandErrorKind::PowerLoss,
            op,
            target,
            "power cut during the operation",
        )
    }

    fn do_program(&mut self, ppa: Ppa, data: &[&[u8]], oob: &[u8]) -> Result<(), SimError> {
        let (op, target) = (OpKind::Program, power::page(ppa));
        self.gate(op, target)?;
        check_program_args(&self.geo, ppa, data, oob)
            .map_err(|k| self.refuse(op, target, (k, "page or buffers outside the geometry")))?;
        self.media
            .check_program(ppa)
            .map_err(|r| self.refuse(op, target, r))?;
        let torn = |me: &mut Self| -> Result<Tear, Refusal> {
            me.media.program(ppa, data, oob)?;
            me.media.set_page_state(ppa, PageState::Torn)?;
            let rng = me.faults.tear_rng();
            let (d, spare) = me.media.page_mut(ppa)?;
            Ok(Tear::Program(tear_page(rng, d, spare)))
        };
        if self.power.cuts_now() {
            let tear = torn(self).map_err(|r| self.refuse(op, target, r))?;
            return Err(self.cut(op, target, tear));
        }
        self.power.completed();
        self.stats.programs += 1;
        self.stats.bytes_programmed += u64::from(self.geo.page_size) + oob.len() as u64;
        if let Some(c) = self.clock.as_mut() {
            c.program(ppa);
        }
        if self.faults.program_fails() {
            torn(self).map_err(|r| self.refuse(op, target, r))?;
            self.stats.program_failures += 1;
            return Err(SimError::new(
                NandErrorKind::ProgramFailed,
                op,
                target,
                "program status failed; the page is torn",
            ));
        }
        self.media
            .program(ppa, data, oob)
            .map_err(|r| self.refuse(op, target, r))
    }

    fn do_read(
        &mut self,
        ppa: Ppa,
        data: &mut [&mut [u8]],
        oob: &mut [u8],
    ) -> Result<ReadStatus, SimError> {
        let (op, target) = (OpKind::Read, power::page(ppa));
        self.gate(op, target)?;
        check_read_args(&self.geo, ppa, data, oob)
            .map_err(|k| self.refuse(op, target, (k, "page or buffers outside the geometry")))?;
        self.media
            .check_not_bad(ppa.block)
            .map_err(|r| self.refuse(op, target, r))?;
        let state = self
            .media
            .read(ppa, data, oob)
            .map_err(|r| self.refuse(op, target, r))?;
        self.stats.reads += 1;
        let bytes: usize = data.iter().map(|b| b.len()).sum::<usize>() + oob.len();
        self.stats.bytes_read += bytes as u64;
        if let Some(c) = self.clock.as_mut() {
            c.read(ppa, bytes as u32);
        }
        if state != PageState::Programmed {
            return Ok(ReadStatus::default());
        }
        match self.faults.read() {
            ReadOutcome::Corrected { bits, retries } => {
                if bits > 0 {
                    self.stats.corrected_reads += 1;
                    self.stats.corrected_bits += u64::from(bits);
                }
                self.stats.read_retries += u64::from(retries);
                Ok(ReadStatus {
                    corrected_bits: bits,
                    retries,
                })
            }
            ReadOutcome::Uncorrectable { bits } => {
                self.stats.read_retries += u64::from(self.options().read_retries);
                self.stats.uncorrectable_reads += 1;
                self.faults.flip_bits(bits, data, oob);
                Err(SimError::new(
                    NandErrorKind::Uncorrectable,
                    op,
                    target,
                    "bit errors beyond ECC after every read retry",
                ))
            }
        }
    }

    fn do_erase(&mut self, block: BlockIdx) -> Result<(), SimError> {
        let (op, target) = (OpKind::Erase, power::block(block));
        self.gate(op, target)?;
        check_block(&self.geo, block)
            .map_err(|k| self.refuse(op, target, (k, "block outside the geometry")))?;
        let entry = self
            .media
            .check_not_bad(block)
            .map_err(|r| self.refuse(op, target, r))?;
        if self.power.cuts_now() {
            let tear = self
                .tear_erase(block)
                .map_err(|r| self.refuse(op, target, r))?;
            return Err(self.cut(op, target, tear));
        }
        self.power.completed();
        self.stats.erases += 1;
        if let Some(c) = self.clock.as_mut() {
            c.erase(block);
        }
        if let Some(fault) = self.faults.erase_fault(entry.erase_count) {
            self.media
                .set_needs_erase(block)
                .map_err(|r| self.refuse(op, target, r))?;
            self.stats.erase_failures += 1;
            let detail = match fault {
                EraseFault::WornOut => "block is worn out (P/E endurance reached)",
                EraseFault::Random => "erase status failed",
            };
            return Err(SimError::new(
                NandErrorKind::EraseFailed,
                op,
                target,
                detail,
            ));
        }
        self.media
            .erase(block)
            .map_err(|r| self.refuse(op, target, r))
    }

    /// An interrupted erase: each page comes out erased or half-erased.
    fn tear_erase(&mut self, block: BlockIdx) -> Result<Tear, Refusal> {
        let (mut erased, mut garbage) = (0, 0);
        for p in 0..self.geo.pages_per_block {
            let ppa = Ppa::new(block, p);
            if self.faults.tear_rng().below(2) == 0 {
                self.media.set_page_state(ppa, PageState::Erased)?;
                erased += 1;
            } else {
                let was_erased = self.media.page_state(ppa) == Some(PageState::Erased);
                self.media.set_page_state(ppa, PageState::Torn)?;
                let rng = self.faults.tear_rng();
                let (d, spare) = self.media.page_mut(ppa)?;
                if was_erased {
                    // Its bytes are stale, never this page's content;
                    // half-erasing those is still garbage.
                    d.fill(0);
                    spare.fill(0);
                }
                half_erase(rng, d, spare);
                garbage += 1;
            }
        }
        self.media.set_needs_erase(block)?;
        self.media.recompute_next(block);
        Ok(Tear::Erase { erased, garbage })
    }

    fn do_mark_bad(&mut self, block: BlockIdx) -> Result<(), SimError> {
        let (op, target) = (OpKind::MarkBad, power::block(block));
        self.gate(op, target)?;
        check_block(&self.geo, block)
            .map_err(|k| self.refuse(op, target, (k, "block outside the geometry")))?;
        if self.power.cuts_now() {
            let landed = self.faults.tear_rng().below(2) == 0;
            if landed {
                self.media
                    .mark_bad(block, false)
                    .map_err(|r| self.refuse(op, target, r))?;
            }
            return Err(self.cut(op, target, Tear::MarkBad { landed }));
        }
        self.power.completed();
        self.stats.marks_bad += 1;
        self.media
            .mark_bad(block, false)
            .map_err(|r| self.refuse(op, target, r))
    }
}

impl Nand for SimNand {
    type Error = SimError;

    fn geometry(&self) -> Geometry {
        self.geo
    }

    /// Erased pages read 0xFF; torn pages read whatever they hold, with
    /// status clean; programmed pages suffer the configured bit errors
    /// (corrected, retried, or `Uncorrectable` with the flipped bits in the
    /// buffers).
    fn read_page(
        &mut self,
        ppa: Ppa,
        data: &mut [&mut [u8]],
        oob: &mut [u8],
    ) -> Result<ReadStatus, SimError> {
        self.do_read(ppa, data, oob)
    }

    /// A failed program (`ProgramFailed`) leaves the page torn, like a cut.
    fn program_page(&mut self, ppa: Ppa, data: &[&[u8]], oob: &[u8]) -> Result<(), SimError> {
        self.do_program(ppa, data, oob)
    }

    /// A failed erase (`EraseFailed`, random or worn out) leaves the pages
    /// as they were and the block refusing programs until erased.
    fn erase_block(&mut self, block: BlockIdx) -> Result<(), SimError> {
        self.do_erase(block)
    }

    fn is_bad_block(&mut self, block: BlockIdx) -> Result<bool, SimError> {
        let (op, target) = (OpKind::QueryBad, power::block(block));
        self.gate(op, target)?;
        check_block(&self.geo, block)
            .map_err(|k| self.refuse(op, target, (k, "block outside the geometry")))?;
        self.media
            .block(block)
            .map(|e| e.is_bad())
            .ok_or_else(|| self.refuse(op, target, (NandErrorKind::Other, "block entry damaged")))
    }

    fn mark_bad_block(&mut self, block: BlockIdx) -> Result<(), SimError> {
        self.do_mark_bad(block)
    }

    /// RAM: nothing to do. File: `msync(MS_SYNC)` of the mapping, then
    /// `fsync`, so everything completed so far survives a machine crash.
    fn sync(&mut self) -> Result<(), SimError> {
        self.gate(OpKind::Sync, Target::Array)?;
        self.media
            .backing_mut()
            .sync()
            .map_err(|e| SimError::io(OpKind::Sync, e))
    }
}
