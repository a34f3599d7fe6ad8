//! [`Ssd`]: zcftl's own FTL over a [`SimNand`] with a timing model — a
//! simulated SSD that answers host [`Request`]s in simulated time. What
//! `ftl-sim` drives.
//!
//! **Time.** The caller submits requests in non-decreasing simulated time
//! (closed loop: each at the earliest completion of those outstanding;
//! open loop: at the trace's arrival times). The FTL runs each request to
//! the end at once (its logic takes no simulated time); every NAND
//! operation it issues is booked on the [`Timeline`](crate::timing) at the
//! request's submission time, so operations of different requests overlap
//! where they fall on different dies and channels, and queue where they
//! share one.
//!
//! **The slot pool is the write-back cache.** A write completes when its
//! data is in slots, unless no slot is free: then it waits for the oldest
//! host page still being programmed to finish (the slots it frees). GC and
//! the programs in flight thereby show up in write latency. A read
//! completes when the NAND reads it issued end (at once on a cache hit). A
//! flush completes when every host page programmed so far has. A trim
//! takes the time of what it programs (a trim record) or none.
//!
//! **Requests not aligned to the FTL's sector** (traces count 512-byte
//! sectors) are served as an SSD serves them: a write covering a sector in
//! part first reads that sector (read-modify-write, counted in
//! [`SsdCounters::rmw_reads`]), then writes whole sectors.
//!
//! **Checking data** ([`SsdConfig::verify`]): every sector written carries
//! its LBA and a version, and every read is checked against the last
//! version written — what the trace tests use to show that every sector
//! reads back. Off, the slots are written with nothing (the FTL's crc runs
//! over whatever they hold), which is faster.
//!
//! **Metadata-only** ([`SsdConfig::metadata_only`]): the NAND stores spare
//! areas and the FTL's own pages but no host data
//! ([`SimNand::new_metadata_only`]), and the FTL runs with
//! `FtlConfig::data_checksums` off, so no page is copied into the medium
//! or checksummed. The FTL's decisions do not depend on host data, so
//! write amplification, GC and timing are those of the same run with data
//! (`tests/ssd.rs` holds them equal). For large, fast runs; incompatible
//! with `verify` and an image file.

use std::collections::VecDeque;
use std::path::PathBuf;

use ftl_core::superblock::{StripeError, SuperblockError, Superblocks};
use ftl_core::{Error, Ftl, FtlConfig, Geometry, Handle, Lba, Segment, SlotMemory, SlotPool};

use crate::error::SimError;
use crate::timing::{TimingConfig, TimingError, TimingStats};
use crate::workload::{Op, Request, SectorSpan};
use crate::{ImageError, SimNand, SimOptions, SimStats};
use ftl_core::Nand;

/// The FTL over the simulator striped into superblocks (every die and
/// plane written in turn: `ftl_core::superblock`), as the [`Ssd`] runs it.
pub type SsdFtl = Ftl<Superblocks<SimNand>, SlotPool<Vec<u8>>>;

/// How the FTL spreads its writes over the dies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Stripe {
    /// Superblocks spanning every die and plane: one open block per
    /// stream, erase units of a block on every plane of every die.
    #[default]
    Superblocks,
    /// An erase unit per die (a block on each of its planes) and one open
    /// block per die and data stream (`FtlConfig::lanes`): pages go round
    /// robin over the dies as with superblocks, but GC, erases and bad
    /// blocks work on one die's blocks, so the FTL's reserve of whole
    /// units is `dies` times smaller.
    Dies,
}

impl Stripe {
    /// Dies per erase unit on `phys`.
    fn width(self, phys: &Geometry) -> u32 {
        match self {
            Stripe::Superblocks => u32::from(phys.channels) * u32::from(phys.dies_per_channel),
            Stripe::Dies => 1,
        }
    }

    /// Open blocks per data stream the FTL runs on `phys`.
    pub fn lanes(self, phys: &Geometry) -> u32 {
        u32::from(phys.channels) * u32::from(phys.dies_per_channel) / self.width(phys)
    }
}

/// The geometry the FTL sees over a NAND of geometry `phys` striped as
/// `stripe` says.
pub fn ftl_geometry(phys: &Geometry, stripe: Stripe) -> Result<Geometry, SuperblockError> {
    Superblocks::<SimNand>::geometry_for_width(phys, stripe.width(phys))
}

/// What an [`Ssd`] is made of.
#[derive(Clone, Debug)]
pub struct SsdConfig {
    /// The NAND's shape.
    pub geometry: Geometry,
    /// The FTL's configuration (its `handles` is raised to at least 1).
    pub ftl: FtlConfig,
    /// NAND timing.
    pub timing: TimingConfig,
    /// Bytes of slot pool (the write-back cache); at least the FTL's
    /// minimum is used.
    pub cache_bytes: u64,
    /// The simulator's seed (its fault streams; faults are off here).
    pub seed: u64,
    /// A sparse image file instead of RAM (devices larger than RAM).
    pub image: Option<PathBuf>,
    /// Write every sector's LBA and version and check every read.
    pub verify: bool,
    /// Store no host data: a metadata-only NAND and no data checksums (see
    /// the module's doc). Not with `verify` or `image`.
    pub metadata_only: bool,
    /// Superblocks, or an erase unit and an open block per die (the FTL's
    /// `lanes` is then set from the geometry).
    pub stripe: Stripe,
}

/// Why an [`Ssd`] could not be built or served a request.
#[derive(Debug, thiserror::Error)]
pub enum SsdError {
    /// The NAND (geometry or image) could not be made.
    #[error("cannot make the simulated NAND: {0}")]
    Nand(#[from] ImageError),
    /// The timing configuration is refused.
    #[error("timing: {0}")]
    Timing(#[from] TimingError),
    /// The geometry cannot be striped into superblocks.
    #[error("geometry: {0}")]
    Stripe(#[from] SuperblockError),
    /// The FTL refused the configuration or failed.
    #[error("FTL: {0}")]
    Ftl(#[from] Error<StripeError<SimError>>),
    /// A request beyond the device (fold addresses first).
    #[error("request at byte {offset} (+{len}) is beyond the device's {capacity} bytes")]
    OutOfRange {
        /// First byte.
        offset: u64,
        /// Length.
        len: u64,
        /// The device's logical bytes.
        capacity: u64,
    },
    /// Options that do not go together (`metadata_only` with `verify` or
    /// an image file).
    #[error("{0}")]
    Incompatible(&'static str),
    /// With [`SsdConfig::verify`]: a sector read back something else.
    #[error("LBA {lba} read back version {got:?}, expected {want}")]
    Mismatch {
        /// The FTL sector.
        lba: u64,
        /// What it should hold (0: never written, zeros).
        want: u32,
        /// What it held (`None`: not a sector this run wrote).
        got: Option<u32>,
    },
}

/// What the host side of the [`Ssd`] counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SsdCounters {
    /// Requests served, per op: read, write, trim, flush.
    pub requests: [u64; 4],
    /// Bytes the host read and wrote.
    pub host_read_bytes: u64,
    /// Bytes the host wrote.
    pub host_write_bytes: u64,
    /// FTL sectors read to complete a partial-sector write.
    pub rmw_reads: u64,
    /// Writes that waited for a free slot, and how long in all (ns).
    pub writes_stalled: u64,
    /// Total time writes waited for slots (ns).
    pub stall_ns: u64,
}

/// zcftl's FTL over a timed [`SimNand`].
pub struct Ssd {
    ftl: SsdFtl,
    sector: u64,
    /// Slots the write-back cache has for host data.
    cache_sectors: u64,
    /// Host pages programmed and not yet done: (done time, sectors).
    in_flight: VecDeque<(u64, u64)>,
    in_flight_sectors: u64,
    /// With `verify`: each LBA's last version written (0: zeros).
    versions: Option<Vec<u32>>,
    version: u32,
    counters: SsdCounters,
}

impl Ssd {
    /// Formats the FTL on a fresh simulated NAND, timing on.
    pub fn new(cfg: &SsdConfig) -> Result<Ssd, SsdError> {
        let opts = SimOptions::with_seed(cfg.seed);
        if cfg.metadata_only && cfg.verify {
            return Err(SsdError::Incompatible(
                "metadata-only stores no data to verify",
            ));
        }
        let nand = match &cfg.image {
            Some(_) if cfg.metadata_only => {
                return Err(SsdError::Incompatible(
                    "metadata-only runs in RAM, not over an image file",
                ))
            }
            None if cfg.metadata_only => SimNand::new_metadata_only(cfg.geometry, opts)?,
            Some(path) => {
                let mut n = SimNand::create_image(path, cfg.geometry, opts)?;
                n.punch_erased_blocks(true);
                n
            }
            None => SimNand::new_ram(cfg.geometry, opts)?,
        };
        let lanes = cfg.stripe.lanes(&cfg.geometry);
        let nand = Superblocks::with_width(nand, cfg.stripe.width(&cfg.geometry))?;
        let geo = nand.geometry();
        let ftl_cfg = FtlConfig {
            handles: cfg.ftl.handles.max(1),
            lanes,
            data_checksums: cfg.ftl.data_checksums && !cfg.metadata_only,
            ..cfg.ftl
        };
        let slots = ftl_cfg.slots_for_budget(&geo, cfg.cache_bytes as usize);
        let pool = SlotPool::with_capacity(slots, geo.sector_size as usize);
        let mut ftl = Ftl::format(nand, pool, ftl_cfg)?;
        // Formatting (erasing every block) is not the host's time.
        ftl.nand_mut().inner_mut().enable_timing(cfg.timing)?;
        let logical = ftl.logical_sectors();
        let host_slots = u64::from(slots).saturating_sub(u64::from(ftl_cfg.min_slots(&geo)));
        Ok(Ssd {
            ftl,
            sector: u64::from(geo.sector_size),
            cache_sectors: host_slots.max(geo.sectors_per_page() as u64),
            in_flight: VecDeque::new(),
            in_flight_sectors: 0,
            versions: cfg.verify.then(|| vec![0; logical as usize]),
            version: 0,
            counters: SsdCounters::default(),
        })
    }

    /// Bytes the host can address.
    pub fn logical_bytes(&self) -> u64 {
        self.ftl.logical_sectors() * self.sector
    }

    /// The FTL's sector in bytes.
    pub fn sector_bytes(&self) -> u64 {
        self.sector
    }

    /// The FTL (its statistics, its configuration).
    pub fn ftl(&self) -> &SsdFtl {
        &self.ftl
    }

    /// The simulator's own counters.
    pub fn nand_stats(&self) -> SimStats {
        self.sim().stats()
    }

    /// What the timeline counted (channel and plane busy time, ops).
    pub fn timing_stats(&self) -> Option<&TimingStats> {
        self.sim().timeline().map(|t| t.stats())
    }

    /// The simulated NAND under the superblocks.
    pub fn sim(&self) -> &SimNand {
        self.ftl.nand().inner()
    }

    fn sim_mut(&mut self) -> &mut SimNand {
        self.ftl.nand_mut().inner_mut()
    }

    /// The host side's counters.
    pub fn counters(&self) -> SsdCounters {
        self.counters
    }

    /// Erase counts of every physical block the simulator holds.
    pub fn erase_counts(&self) -> Vec<u32> {
        let blocks = self.sim().geometry().total_blocks();
        (0..blocks)
            .filter_map(|b| self.sim().erase_count(ftl_core::BlockIdx(b)))
            .collect()
    }

    /// Brings the device to steady state fast, outside simulated time: a
    /// sequential fill, then `random_passes` × its capacity of uniform
    /// random sector writes (seeded by `seed`). Timing restarts at 0
    /// afterwards with `timing`.
    pub fn precondition(
        &mut self,
        random_passes: f64,
        seed: u64,
        timing: TimingConfig,
    ) -> Result<(), SsdError> {
        self.sim_mut().disable_timing();
        let n = self.ftl.logical_sectors();
        self.write_range(0, n)?;
        let mut x = seed ^ 0x9E37_79B9_7F4A_7C15;
        let writes = (random_passes * n as f64) as u64;
        for _ in 0..writes {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.write_sectors(x % n, 1)?;
        }
        self.ftl.flush()?;
        self.in_flight.clear();
        self.in_flight_sectors = 0;
        self.sim_mut().enable_timing(timing)?;
        Ok(())
    }

    /// Serves `req`, submitted at `at_ns` (not before the previous
    /// request's submission); returns when it completes.
    pub fn submit(&mut self, req: &Request, at_ns: u64) -> Result<u64, SsdError> {
        let capacity = self.logical_bytes();
        if req.op != Op::Flush && (req.end_bytes() > capacity || req.end_bytes() < req.offset_bytes)
        {
            return Err(SsdError::OutOfRange {
                offset: req.offset_bytes,
                len: req.len_bytes,
                capacity,
            });
        }
        self.sim_mut().set_time(at_ns);
        let span =
            SectorSpan::of(req.offset_bytes, req.len_bytes, self.sector).unwrap_or(SectorSpan {
                first: 0,
                count: 0,
                head_partial_bytes: 0,
                tail_partial_bytes: 0,
            });
        let done = match req.op {
            Op::Read => {
                self.counters.requests[0] += 1;
                self.counters.host_read_bytes += req.len_bytes;
                self.read_span(span.first, span.count)?;
                self.sim_mut().done_ns()
            }
            Op::Write => {
                self.counters.requests[1] += 1;
                self.counters.host_write_bytes += req.len_bytes;
                self.write_request(&span, at_ns)?
            }
            Op::Trim => {
                self.counters.requests[2] += 1;
                // Only whole sectors can be trimmed; a partial one keeps
                // its data (as an SSD may).
                let first = span.first + u64::from(span.head_partial_bytes > 0);
                let end = span.first + span.count - u64::from(span.tail_partial_bytes > 0);
                if end > first {
                    self.trim(first, end - first)?;
                }
                self.sim_mut().done_ns()
            }
            Op::Flush => {
                self.counters.requests[3] += 1;
                self.ftl.flush()?;
                let last = self.in_flight.back().map_or(at_ns, |&(t, _)| t);
                self.sim_mut().done_ns().max(last)
            }
        };
        Ok(done.max(at_ns))
    }

    /// A write: the partial sectors read first, then every sector written;
    /// returns when it is in the cache.
    fn write_request(&mut self, span: &SectorSpan, at_ns: u64) -> Result<u64, SsdError> {
        if span.count == 0 {
            return Ok(at_ns);
        }
        let last = span.first + span.count - 1;
        if span.head_partial_bytes > 0 {
            self.counters.rmw_reads += 1;
            self.read_span(span.first, 1)?;
        }
        if span.tail_partial_bytes > 0 && last != span.first {
            self.counters.rmw_reads += 1;
            self.read_span(last, 1)?;
        }
        // Room in the cache: wait for the oldest pages in flight.
        let ready = self.room_for(span.count, at_ns);
        if ready > at_ns {
            self.counters.writes_stalled += 1;
            self.counters.stall_ns += ready - at_ns;
        }
        // Its pages are programmed once it is in, not before.
        self.sim_mut().set_time(ready);
        let open_before = self.ftl.unflushed_write_count() as u64;
        self.write_range(span.first, span.count)?;
        // Sectors that left the open host page: programmed by this write.
        let programmed =
            (open_before + span.count).saturating_sub(self.ftl.unflushed_write_count() as u64);
        if programmed > 0 {
            let done = self.sim_mut().done_ns();
            self.in_flight.push_back((done, programmed));
            self.in_flight_sectors += programmed;
        }
        Ok(ready)
    }

    /// When `n` sectors fit in the cache beside the pages still being
    /// programmed at `at_ns`.
    fn room_for(&mut self, n: u64, at_ns: u64) -> u64 {
        let mut ready = at_ns;
        while let Some(&(done, sectors)) = self.in_flight.front() {
            let fits = self.in_flight_sectors + n <= self.cache_sectors;
            if done > ready && fits {
                break;
            }
            ready = ready.max(done);
            self.in_flight.pop_front();
            self.in_flight_sectors -= sectors;
        }
        ready
    }

    /// Writes `n` sectors from `lba`, one FTL write per `max_io_sectors`.
    fn write_range(&mut self, lba: u64, n: u64) -> Result<(), SsdError> {
        for (at, k) in pieces(lba, n, self.ftl.config().max_io_sectors) {
            self.write_sectors(at, k)?;
        }
        Ok(())
    }

    /// Writes `n` sectors from `lba` through the slot path.
    fn write_sectors(&mut self, lba: u64, n: u32) -> Result<(), SsdError> {
        let h = Handle(0);
        let g = self.ftl.begin_write(h, Lba(lba), n)?;
        if let Some(v) = self.versions.as_mut() {
            self.version += 1;
            for i in 0..n as usize {
                let slot = self.ftl.write_slots(&g)[i];
                let l = lba + i as u64;
                stamp(self.ftl.slot_memory_mut().slot_mut(slot), l, self.version);
                v[l as usize] = self.version;
            }
        }
        self.ftl.commit_write(g)?;
        Ok(())
    }

    fn trim(&mut self, lba: u64, n: u64) -> Result<(), SsdError> {
        for (at, k) in pieces(lba, n, u32::MAX) {
            self.ftl.trim(Lba(at), k)?;
        }
        if let Some(v) = self.versions.as_mut() {
            v[lba as usize..(lba + n) as usize].fill(0);
        }
        Ok(())
    }

    /// Reads `n` sectors from `lba`, checking them with `verify`.
    fn read_span(&mut self, lba: u64, n: u64) -> Result<(), SsdError> {
        for (at, k) in pieces(lba, n, self.ftl.config().max_io_sectors) {
            let g = self.ftl.begin_read(Handle(0), Lba(at), k)?;
            let checked = self.check(&g);
            self.ftl.end_read(g);
            checked?;
        }
        Ok(())
    }

    fn check(&self, g: &ftl_core::ReadGrant) -> Result<(), SsdError> {
        let Some(v) = self.versions.as_ref() else {
            return Ok(());
        };
        for (i, seg) in self.ftl.read_segments(g).iter().enumerate() {
            let lba = g.lba.0 + i as u64;
            let want = v[lba as usize];
            let got = match *seg {
                Segment::Zero => Some(0),
                Segment::Slot(s) => read_stamp(self.ftl.slot_memory().slot(s), lba),
            };
            if got != Some(want) {
                return Err(SsdError::Mismatch { lba, want, got });
            }
        }
        Ok(())
    }
}

/// `n` sectors from `lba` cut into runs of at most `max`: (first, length).
fn pieces(lba: u64, n: u64, max: u32) -> impl Iterator<Item = (u64, u32)> {
    let max = u64::from(max.max(1));
    (lba..lba + n)
        .step_by(max as usize)
        .map(move |at| (at, (lba + n - at).min(max) as u32))
}

/// Writes `lba` and `version` at the head of a sector.
fn stamp(sector: &mut [u8], lba: u64, version: u32) {
    sector[..8].copy_from_slice(&lba.to_le_bytes());
    sector[8..12].copy_from_slice(&version.to_le_bytes());
}

/// The version a sector stamped for `lba` holds (`None`: not stamped for
/// it; all zeros is version 0).
fn read_stamp(sector: &[u8], lba: u64) -> Option<u32> {
    if sector[..12].iter().all(|&b| b == 0) {
        return Some(0);
    }
    let l = u64::from_le_bytes(sector[..8].try_into().ok()?);
    let v = u32::from_le_bytes(sector[8..12].try_into().ok()?);
    (l == lba).then_some(v)
}
