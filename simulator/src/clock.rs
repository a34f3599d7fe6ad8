//! A [`SimNand`](crate::SimNand)'s place in simulated time: every
//! operation that reaches the media is booked on a [`Timeline`] at the
//! submission time the caller set, and the latest completion is kept.
//!
//! **Multi-plane operations.** The `Nand` trait takes one page at a time;
//! a multi-plane program is several of them. Consecutive operations of one
//! kind on different planes of one die, at the same page offset and the
//! same submission time — what `ftl_core::superblock` issues for a
//! superpage — are booked as one multi-plane operation on the timeline
//! (erases: different planes of one die). The group is booked when an
//! operation that does not join it arrives, or when the time is read or
//! set.

use ftl_core::{BlockIdx, Geometry, Ppa};

use crate::timing::{Completion, Timeline, TimingConfig, TimingError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Read,
    Program,
    Erase,
}

/// Operations waiting to be booked as one.
#[derive(Debug)]
struct Group {
    kind: Kind,
    die: u32,
    /// The page offset (reads and programs).
    page: u32,
    /// Planes taken (bit per plane).
    planes: u64,
    /// Bytes per page moved (reads: the largest).
    bytes: u32,
}

/// The timeline, the submission time and the latest completion.
#[derive(Debug)]
pub(crate) struct Clock {
    timeline: Timeline,
    geo: Geometry,
    at_ns: u64,
    done_ns: u64,
    group: Option<Group>,
    /// The waiting group's pages (reads, programs) or blocks (erases),
    /// kept apart so their buffers are reused.
    pages: Vec<Ppa>,
    blocks: Vec<BlockIdx>,
}

impl Clock {
    pub fn new(geo: Geometry, cfg: TimingConfig) -> Result<Clock, TimingError> {
        Ok(Clock {
            timeline: Timeline::new(geo, cfg)?,
            geo,
            at_ns: 0,
            done_ns: 0,
            group: None,
            pages: Vec::new(),
            blocks: Vec::new(),
        })
    }

    /// Operations from now on are submitted at `at_ns` (moved up to the
    /// latest submission so far).
    pub fn set_time(&mut self, at_ns: u64) {
        self.book();
        self.at_ns = at_ns.max(self.timeline.now_ns());
        self.done_ns = self.at_ns;
    }

    /// When the last operation submitted since `set_time` completes.
    pub fn done_ns(&mut self) -> u64 {
        self.book();
        self.done_ns
    }

    /// The timeline (operations still grouped are not on it yet).
    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    pub fn read(&mut self, ppa: Ppa, bytes: u32) {
        self.add(Kind::Read, ppa.block, Some(ppa), bytes);
    }

    pub fn program(&mut self, ppa: Ppa) {
        self.add(Kind::Program, ppa.block, Some(ppa), 0);
    }

    pub fn erase(&mut self, block: BlockIdx) {
        self.add(Kind::Erase, block, None, 0);
    }

    fn add(&mut self, kind: Kind, block: BlockIdx, ppa: Option<Ppa>, bytes: u32) {
        let (c, d, plane, _) = self.geo.block_location(block);
        let die = u32::from(c) * u32::from(self.geo.dies_per_channel) + u32::from(d);
        let page = ppa.map_or(0, |p| p.page);
        let bit = 1u64 << (u32::from(plane) % 64);
        let joins = self.group.as_ref().is_some_and(|g| {
            g.kind == kind && g.die == die && g.page == page && g.planes & bit == 0
        });
        if !joins {
            self.book();
        }
        let g = self.group.get_or_insert(Group {
            kind,
            die,
            page,
            planes: 0,
            bytes: 0,
        });
        g.planes |= bit;
        g.bytes = g.bytes.max(bytes);
        match ppa {
            Some(p) => self.pages.push(p),
            None => self.blocks.push(block),
        }
    }

    /// Books the waiting group. The FTL's addresses were checked by the
    /// simulator, and a group is one die's planes at one offset, so the
    /// timeline cannot refuse it.
    fn book(&mut self) {
        let Some(g) = self.group.take() else {
            return;
        };
        let at = self.at_ns;
        let done: Result<Completion, TimingError> = match g.kind {
            Kind::Read => self.timeline.read(at, &self.pages, g.bytes),
            Kind::Program => self.timeline.program(at, &self.pages),
            Kind::Erase => self.timeline.erase(at, &self.blocks),
        };
        self.pages.clear();
        self.blocks.clear();
        let done = done.expect("a checked operation books").done_ns;
        self.done_ns = self.done_ns.max(done);
    }
}
