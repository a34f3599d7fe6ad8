//! [`Timeline`]: books each read, program and erase on its channel and its
//! die's planes and answers when it completes, in simulated nanoseconds.
//! The model (what overlaps with what) is drawn in the module docs of
//! `timing`.

use ftl_core::{BlockIdx, Geometry, GeometryError, Ppa};
use serde::Serialize;

use super::calendar::Calendar;
use super::config::{TimingConfig, TimingConfigError};
use super::stats::TimingStats;

/// A half-open interval of simulated time, `[start_ns, end_ns)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Span {
    /// First nanosecond of the interval.
    pub start_ns: u64,
    /// First nanosecond after it.
    pub end_ns: u64,
}

impl Span {
    fn new(start_ns: u64, len_ns: u64) -> Self {
        Span {
            start_ns,
            end_ns: start_ns.saturating_add(len_ns),
        }
    }

    /// Its length in ns.
    pub fn len_ns(&self) -> u64 {
        self.end_ns - self.start_ns
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len_ns() == 0
    }
}

/// The kind of a timed operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum TimedOp {
    /// A page read (sense, then data out).
    Read,
    /// A page program (data in, then program).
    Program,
    /// A block erase.
    Erase,
}

/// When and where one operation ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Completion {
    /// What ran.
    pub op: TimedOp,
    /// When it was submitted: the caller's `at_ns`, or the timeline's
    /// present if that was later (time never runs backwards).
    pub submit_ns: u64,
    /// The channel it used.
    pub channel: u16,
    /// Its die, flat: `channel · dies_per_channel + die`.
    pub die: u32,
    /// Planes it named (1 for a single-plane operation).
    pub planes: u16,
    /// The operation's first turn on the channel: command and address
    /// cycles, and for a program its data in. A read's command travels
    /// with its data out, so for a read this is empty (at
    /// `array.start_ns`) unless its data out was paused: then it is the
    /// first piece (the command and the data before the pause).
    pub bus_in: Span,
    /// The array's work: tR, tPROG or tBERS.
    pub array: Span,
    /// A read's command and data out on the channel, or after a pause the
    /// resume command and the rest of the data; empty (at
    /// `array.end_ns`) for a program or an erase.
    pub bus_out: Span,
    /// When the planes' arrays were held: no other operation used them
    /// then. A read's own planes (or, without independent plane reads,
    /// all its die's planes); every plane of the die for a program or
    /// erase.
    pub held: Span,
    /// Whether `held` covers every plane of the die rather than only the
    /// named ones.
    pub die_wide: bool,
    /// When the operation is complete: a read's data has reached the
    /// controller, a program or erase has finished in the array.
    pub done_ns: u64,
}

impl Completion {
    /// `done_ns − submit_ns`.
    pub fn latency_ns(&self) -> u64 {
        self.done_ns - self.submit_ns
    }
}

/// Why an operation (or a [`Timeline`]) was refused. A refused operation
/// books nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimingError {
    /// The timing configuration is invalid.
    #[error("timing config: {0}")]
    Config(#[from] TimingConfigError),
    /// The geometry is invalid.
    #[error("geometry: {0}")]
    Geometry(#[from] GeometryError),
    /// The operation named no page or block.
    #[error("operation names no page or block")]
    NoTarget,
    /// A page or block outside the array.
    #[error("{0} is outside the array")]
    OutOfBounds(Ppa),
    /// A multi-plane operation named planes of different dies.
    #[error("multi-plane operation spans dies")]
    SpansDies,
    /// A multi-plane operation named one plane twice.
    #[error("multi-plane operation names a plane twice")]
    PlaneTwice,
    /// A multi-plane read or program named different pages within their
    /// blocks (NAND multi-plane commands share one page address).
    #[error("multi-plane operation names different page offsets")]
    PageMismatch,
    /// A read asked for more bytes of a page than it holds (data + spare).
    #[error("read of {bytes} bytes per page, page holds {max}")]
    TooManyBytes {
        /// Bytes asked for.
        bytes: u32,
        /// `page_size + oob_size`.
        max: u32,
    },
}

/// The least data the first piece of a paused data out carries: a pause
/// and its resume command (`command_overhead_ns`) then cost at most a
/// tenth of the piece at MQSim's 333 MB/s (1 KiB is 3.1 µs there).
const MIN_PIECE_BYTES: u64 = 1024;

/// One plane's two clocks.
#[derive(Clone, Copy, Debug, Default)]
struct PlaneClock {
    /// The array (and its data register) is free from here.
    array_free_ns: u64,
    /// The cache register is free from here (the only register without
    /// `cache_register`).
    reg_free_ns: u64,
}

/// Where an operation runs: one die and some of its planes.
#[derive(Clone, Copy, Debug)]
struct Target {
    channel: usize,
    die: usize,
    /// How many planes the operation named.
    count: u16,
}

/// Busy clocks for every channel and plane of a [`Geometry`], driven by
/// the caller's simulated time. Deterministic: no wall clock, no
/// randomness, no hash order; the same calls give the same completions.
#[derive(Clone, Debug)]
pub struct Timeline {
    geo: Geometry,
    cfg: TimingConfig,
    channels: Vec<Calendar>,
    planes: Vec<PlaneClock>,
    now_ns: u64,
    stats: TimingStats,
    /// The planes an operation names, reused so booking allocates nothing
    /// (empty between operations).
    own: Vec<usize>,
}

impl Timeline {
    /// An idle array at time 0. Refuses an invalid geometry or config.
    pub fn new(geo: Geometry, cfg: TimingConfig) -> Result<Self, TimingError> {
        geo.validate()?;
        cfg.validate()?;
        let dies = usize::from(geo.channels) * usize::from(geo.dies_per_channel);
        let planes = dies * usize::from(geo.planes_per_die);
        Ok(Timeline {
            geo,
            cfg,
            channels: vec![Calendar::default(); usize::from(geo.channels)],
            planes: vec![PlaneClock::default(); planes],
            now_ns: 0,
            stats: TimingStats {
                channel_busy_ns: vec![0; usize::from(geo.channels)],
                plane_busy_ns: vec![0; planes],
                planes_per_die: geo.planes_per_die,
                ..TimingStats::default()
            },
            own: Vec::new(),
        })
    }

    /// The array's shape.
    pub fn geometry(&self) -> &Geometry {
        &self.geo
    }

    /// The timing in force.
    pub fn config(&self) -> &TimingConfig {
        &self.cfg
    }

    /// What has run so far.
    pub fn stats(&self) -> &TimingStats {
        &self.stats
    }

    /// The present: the latest submission time seen. Later submissions
    /// stamped earlier are moved up to it.
    pub fn now_ns(&self) -> u64 {
        self.now_ns
    }

    /// (channel, flat die, plane in die) of a block: the geometry's
    /// channel-major numbering.
    pub fn location(&self, block: BlockIdx) -> (u16, u32, u16) {
        let (c, d, p, _) = self.geo.block_location(block);
        let die = u32::from(c) * u32::from(self.geo.dies_per_channel) + u32::from(d);
        (c, die, p)
    }

    /// Reads `bytes_per_page` bytes of each of `pages` — one page, or one
    /// per plane of a single die at the same page offset (a multi-plane
    /// read) — submitted at `at_ns`. tR on the planes as soon as they are
    /// free, then the command and every page's bytes on the channel in one
    /// booking, or in two if pausing once to fill a gap ends it sooner.
    pub fn read(
        &mut self,
        at_ns: u64,
        pages: &[Ppa],
        bytes_per_page: u32,
    ) -> Result<Completion, TimingError> {
        let max = self.geo.page_size.saturating_add(self.geo.oob_size);
        if bytes_per_page > max {
            return Err(TimingError::TooManyBytes {
                bytes: bytes_per_page,
                max,
            });
        }
        let t = self.target(pages.iter().map(|p| (p.block, Some(p.page))))?;
        let at = self.advance(at_ns, t.channel);
        let own = self.own_planes(pages.iter().map(|p| p.block));
        let die_wide = !self.cfg.independent_plane_reads;
        // The planes the sense holds: the whole die, or its own.
        let held_range = if die_wide {
            self.die_planes(t.die)
        } else {
            0..0
        };
        let held = || {
            held_range
                .clone()
                .chain(own.iter().copied().filter(|_| !die_wide))
        };

        let mut ready = at.max(self.latest(held(), |c| c.array_free_ns));
        if !self.cfg.cache_register {
            ready = ready.max(self.latest(own.iter().copied(), |c| c.reg_free_ns));
        }
        // The command and address cycles travel with the data out (see the
        // module docs): the sense starts as soon as the planes are free.
        let bus_in = Span::new(ready, 0);
        let array = Span::new(ready, self.cfg.t_read_ns);
        // With a cache register the sensed data moves there as soon as it
        // is free, releasing the array for the next sense.
        let in_register = if self.cfg.cache_register {
            array
                .end_ns
                .max(self.latest(own.iter().copied(), |c| c.reg_free_ns))
        } else {
            array.end_ns
        };
        let bytes = u64::from(bytes_per_page) * u64::from(t.count);
        // The data out goes first-fit, or in two pieces when its start can
        // fill a gap too short for all of it (see the module docs); the
        // register holds the page until the last byte is out.
        let ovh = self.cfg.command_overhead_ns;
        let min_piece = self.cfg.transfer_ns(MIN_PIECE_BYTES);
        let (first, rest) = self.channels[t.channel].book_pausable(
            in_register,
            (ovh, self.cfg.transfer_ns(bytes)),
            ovh,
            min_piece,
        );
        let span = |(start_ns, end_ns)| Span { start_ns, end_ns };
        let (bus_in, bus_out) = match rest {
            Some(rest) => (span(first), span(rest)),
            None => (bus_in, span(first)),
        };
        let release = if self.cfg.cache_register {
            in_register
        } else {
            bus_out.end_ns
        };
        let held_span = Span {
            start_ns: array.start_ns,
            end_ns: release,
        };
        self.hold(held(), held_span);
        for &p in &own {
            self.planes[p].reg_free_ns = bus_out.end_ns;
        }
        self.give_back(own);

        let s = &mut self.stats;
        s.reads += 1;
        s.multi_plane_reads += u64::from(t.count > 1);
        s.pages_read += u64::from(t.count);
        s.bytes_from_nand += bytes;
        s.channel_busy_ns[t.channel] += bus_in.len_ns() + bus_out.len_ns();
        Ok(self.complete(
            TimedOp::Read,
            at,
            t,
            (bus_in, array, bus_out, held_span),
            die_wide,
            bus_out.end_ns,
        ))
    }

    /// Programs `pages` — one page, or one per plane of a single die at the
    /// same page offset (a multi-plane program) — submitted at `at_ns`.
    /// Command and every page's data and spare (`page_size + oob_size`
    /// bytes each) in on the channel, then tPROG on the whole die.
    pub fn program(&mut self, at_ns: u64, pages: &[Ppa]) -> Result<Completion, TimingError> {
        let t = self.target(pages.iter().map(|p| (p.block, Some(p.page))))?;
        let at = self.advance(at_ns, t.channel);
        let own = self.own_planes(pages.iter().map(|p| p.block));
        let die = self.die_planes(t.die);

        let mut ready = at.max(self.latest(own.iter().copied(), |c| c.reg_free_ns));
        if !self.cfg.cache_register {
            ready = ready.max(self.latest(die.clone(), |c| c.array_free_ns));
        }
        let page_bytes = u64::from(self.geo.page_size) + u64::from(self.geo.oob_size);
        let bytes = page_bytes * u64::from(t.count);
        let len = self.cfg.command_overhead_ns + self.cfg.transfer_ns(bytes);
        let bus_in = Span::new(self.channels[t.channel].book(ready, len), len);
        let start = bus_in
            .end_ns
            .max(self.latest(die.clone(), |c| c.array_free_ns));
        let array = Span::new(start, self.cfg.t_prog_ns);
        self.hold(die, array);
        for &p in &own {
            // The data register takes the page when the array starts; the
            // cache register is then free for the next page's data.
            self.planes[p].reg_free_ns = if self.cfg.cache_register {
                array.start_ns
            } else {
                array.end_ns
            };
        }
        self.give_back(own);

        let s = &mut self.stats;
        s.programs += 1;
        s.multi_plane_programs += u64::from(t.count > 1);
        s.pages_programmed += u64::from(t.count);
        s.bytes_to_nand += bytes;
        s.channel_busy_ns[t.channel] += bus_in.len_ns();
        let bus_out = Span::new(array.end_ns, 0);
        Ok(self.complete(
            TimedOp::Program,
            at,
            t,
            (bus_in, array, bus_out, array),
            true,
            array.end_ns,
        ))
    }

    /// Erases `blocks` — one block, or one per plane of a single die (a
    /// multi-plane erase) — submitted at `at_ns`. Command on the channel,
    /// then tBERS on the whole die.
    pub fn erase(&mut self, at_ns: u64, blocks: &[BlockIdx]) -> Result<Completion, TimingError> {
        let t = self.target(blocks.iter().map(|&b| (b, None)))?;
        let at = self.advance(at_ns, t.channel);
        let die = self.die_planes(t.die);

        let ready = at.max(self.latest(die.clone(), |c| c.array_free_ns));
        let ovh = self.cfg.command_overhead_ns;
        let bus_in = Span::new(self.channels[t.channel].book(ready, ovh), ovh);
        let array = Span::new(bus_in.end_ns, self.cfg.t_erase_ns);
        let held = Span {
            start_ns: bus_in.start_ns,
            end_ns: array.end_ns,
        };
        self.hold(die, held);

        let s = &mut self.stats;
        s.erases += 1;
        s.multi_plane_erases += u64::from(t.count > 1);
        s.blocks_erased += u64::from(t.count);
        s.channel_busy_ns[t.channel] += bus_in.len_ns();
        let bus_out = Span::new(array.end_ns, 0);
        Ok(self.complete(
            TimedOp::Erase,
            at,
            t,
            (bus_in, array, bus_out, held),
            true,
            array.end_ns,
        ))
    }

    /// Checks the addresses name distinct planes of one die (and one page
    /// offset, for pages) and finds that die.
    fn target(
        &self,
        addrs: impl Iterator<Item = (BlockIdx, Option<u32>)> + Clone,
    ) -> Result<Target, TimingError> {
        let mut first: Option<(usize, usize, Option<u32>)> = None;
        let mut count: u16 = 0;
        for (i, (block, page)) in addrs.clone().enumerate() {
            let ppa = Ppa::new(block, page.unwrap_or(0));
            if !self.geo.contains(ppa) {
                return Err(TimingError::OutOfBounds(ppa));
            }
            let (c, die, p) = self.location(block);
            let here = (usize::from(c), die as usize, page);
            match first {
                None => first = Some(here),
                Some((fc, fd, fp)) => {
                    if (fc, fd) != (here.0, here.1) {
                        return Err(TimingError::SpansDies);
                    }
                    if fp != page {
                        return Err(TimingError::PageMismatch);
                    }
                }
            }
            if addrs.clone().take(i).any(|(b, _)| self.location(b).2 == p) {
                return Err(TimingError::PlaneTwice);
            }
            // Distinct planes of one die: at most planes_per_die (a u16).
            count += 1;
        }
        let (channel, die, _) = first.ok_or(TimingError::NoTarget)?;
        Ok(Target {
            channel,
            die,
            count,
        })
    }

    /// Moves the present up to `at_ns` (never back) and forgets the
    /// channel's past; returns the effective submission time.
    fn advance(&mut self, at_ns: u64, channel: usize) -> u64 {
        self.now_ns = self.now_ns.max(at_ns);
        self.channels[channel].forget_before(self.now_ns);
        self.now_ns
    }

    /// The planes `blocks` are on, in the reused buffer: hand it back with
    /// [`Timeline::give_back`].
    fn own_planes(&mut self, blocks: impl Iterator<Item = BlockIdx>) -> Vec<usize> {
        let per_die = usize::from(self.geo.planes_per_die);
        let mut own = std::mem::take(&mut self.own);
        own.clear();
        own.extend(blocks.map(|b| {
            let (_, die, p) = self.location(b);
            die as usize * per_die + usize::from(p)
        }));
        own
    }

    fn give_back(&mut self, mut own: Vec<usize>) {
        own.clear();
        self.own = own;
    }

    fn die_planes(&self, die: usize) -> core::ops::Range<usize> {
        let per_die = usize::from(self.geo.planes_per_die);
        die * per_die..(die + 1) * per_die
    }

    fn latest(
        &self,
        planes: impl IntoIterator<Item = usize>,
        clock: impl Fn(&PlaneClock) -> u64,
    ) -> u64 {
        planes
            .into_iter()
            .map(|p| clock(&self.planes[p]))
            .max()
            .unwrap_or(0)
    }

    /// Holds the planes' arrays for `span` and counts it as busy time.
    fn hold(&mut self, planes: impl IntoIterator<Item = usize>, span: Span) {
        for p in planes {
            debug_assert!(self.planes[p].array_free_ns <= span.start_ns);
            self.planes[p].array_free_ns = span.end_ns;
            self.stats.plane_busy_ns[p] += span.len_ns();
        }
    }

    fn complete(
        &mut self,
        op: TimedOp,
        submit_ns: u64,
        t: Target,
        (bus_in, array, bus_out, held): (Span, Span, Span, Span),
        die_wide: bool,
        done_ns: u64,
    ) -> Completion {
        self.stats.last_done_ns = self.stats.last_done_ns.max(done_ns);
        Completion {
            op,
            submit_ns,
            channel: t.channel as u16,
            die: t.die as u32,
            planes: t.count,
            bus_in,
            array,
            bus_out,
            held,
            die_wide,
            done_ns,
        }
    }
}
