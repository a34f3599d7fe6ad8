//! The FTL: the patent's cache tables over a page-level mapping.
//!
//! Split by concern: [`io`](self) holds the public data path (grants,
//! reads, trim, flush), `cache` slot acquisition and eviction, `program`
//! page programming and block allocation, `relocate` garbage collection and
//! wear leveling, `mount` format and recovery, `checkpoint` the meta stream,
//! `unflushed` what a process crash would lose, `check` the integrity check.

mod cache;
mod check;
mod checkpoint;
mod io;
mod mount;
mod program;
mod relocate;
mod unflushed;

use alloc::vec::Vec;

use crate::addr::{BlockIdx, Handle, SlotId};
use crate::blocks::{BlockTable, Stream};
use crate::cache_meta::{CacheMetaTable, EntryId};
use crate::config::FtlConfig;
use crate::error::Error;
use crate::geometry::Geometry;
use crate::l2p::{L2p, Layout, Validity};
use crate::nand::Nand;
use crate::read_map::ReadMap;
use crate::slot::{SlotMemory, SlotState, SlotTable};
use crate::stats::Stats;
use crate::write_map::WriteMap;

pub use check::IntegrityError;
pub use io::{ReadGrant, Segment};

/// Result of FTL operations over a NAND driver `N`.
pub type FtlResult<T, N> = Result<T, Error<<N as Nand>::Error>>;

/// Marker for "slot in no cache entry".
const NO_ENTRY: u32 = u32::MAX;

/// A flash translation layer over the NAND `N`, caching in the slots of `M`.
///
/// Built by [`Ftl::format`] (fresh media) or [`Ftl::open`] (rebuild from
/// what is on flash). All tables are sized then; the read, write, trim,
/// flush and GC paths allocate nothing afterwards.
pub struct Ftl<N: Nand, M: SlotMemory> {
    nand: N,
    mem: M,
    geo: Geometry,
    layout: Layout,
    cfg: FtlConfig,
    logical: u64,

    slots: SlotTable,
    /// Cache entry each slot belongs to ([`NO_ENTRY`] if none).
    slot_entry: Vec<u32>,
    write_map: WriteMap,
    read_map: ReadMap,
    meta: CacheMetaTable,
    read_segs: Vec<Segment>,
    read_open: Vec<bool>,

    l2p: L2p,
    valid: Validity,
    blocks: BlockTable,
    /// Open block per stream (host, relocation, meta).
    open: [Option<BlockIdx>; 3],
    /// Filling cache entry per data stream (host, relocation).
    fill: [Option<EntryId>; 2],
    /// Trimmed ranges not yet in a trim record: (first LBA, count).
    pending_trims: Vec<(u32, u32)>,
    /// Blocks held back from erasure until pending trims are logged.
    held_blocks: Vec<BlockIdx>,
    /// Meta blocks still needed by recovery, oldest first.
    meta_blocks: Vec<BlockIdx>,
    /// One page of scratch for meta pages (checkpoints, trim records).
    meta_page: Vec<u8>,
    /// Snapshot sequence of the newest complete checkpoint.
    ckpt_seq: u64,
    /// Host pages programmed since that checkpoint.
    pages_since_ckpt: u32,
    /// Trim records written since that checkpoint.
    trim_pages_since_ckpt: u32,
    in_checkpoint: bool,
    /// Blocks retired in the table whose bad mark is not yet on the NAND.
    to_mark_bad: Vec<BlockIdx>,
    in_maintenance: bool,
    /// The handle `begin_write` is gathering slots for (never reclaimed).
    acquiring: Option<Handle>,
    seq: u64,

    /// One sector of zeros: padding for partial pages.
    zero: Vec<u8>,
    /// Scratch spare area.
    oob: Vec<u8>,
    stats: Stats,
}

impl<N: Nand, M: SlotMemory> Ftl<N, M> {
    /// Builds empty tables for `nand` and `mem`; format or mount fills them.
    fn new(nand: N, mem: M, cfg: FtlConfig) -> FtlResult<Self, N> {
        let geo = nand.geometry();
        if mem.slot_size() != geo.sector_size as usize {
            return Err(Error::Config(crate::ConfigError::SlotSize));
        }
        let slot_count = mem.slot_count();
        cfg.validate(&geo, slot_count)?;
        let handles = cfg.handles + 1; // + the internal handle of write()/read()
        let max_io = cfg.max_io_sectors;
        let spp = geo.sectors_per_page();
        let mut ftl = Ftl {
            layout: Layout::new(&geo),
            logical: geo.logical_sectors(),
            slots: SlotTable::new(slot_count),
            slot_entry: alloc::vec![NO_ENTRY; slot_count as usize],
            write_map: WriteMap::new(handles, max_io, cfg.prefill_slots),
            read_map: ReadMap::new(slot_count),
            // Every entry but the two filling ones holds at least one slot,
            // so this many can never run out (see ARCHITECTURE.md).
            meta: CacheMetaTable::new(slot_count + 2, spp),
            read_segs: alloc::vec![Segment::Zero; (handles * max_io) as usize],
            read_open: alloc::vec![false; handles as usize],
            l2p: L2p::new(geo.logical_sectors()),
            valid: Validity::new(&geo),
            blocks: BlockTable::new(geo.total_blocks()),
            open: [None, None, None],
            fill: [None, None],
            pending_trims: Vec::with_capacity(
                (geo.page_size as usize - crate::meta::HEADER_LEN) / 8,
            ),
            held_blocks: Vec::with_capacity(geo.total_blocks() as usize),
            meta_blocks: Vec::with_capacity(geo.total_blocks() as usize),
            meta_page: alloc::vec![0; geo.page_size as usize],
            ckpt_seq: 0,
            pages_since_ckpt: 0,
            trim_pages_since_ckpt: 0,
            in_checkpoint: false,
            to_mark_bad: Vec::with_capacity(geo.total_blocks() as usize),
            in_maintenance: false,
            acquiring: None,
            seq: 0,
            zero: alloc::vec![0; geo.sector_size as usize],
            oob: alloc::vec![0xFF; geo.oob_size as usize],
            stats: Stats::default(),
            nand,
            mem,
            geo,
            cfg,
        };
        ftl.prefill_write_map();
        Ok(ftl)
    }

    /// Gives every handle its pre-populated slots (the patent's initial
    /// write mapping table).
    fn prefill_write_map(&mut self) {
        let want = usize::from(self.write_map.prefill());
        for h in 0..self.write_map.handles() {
            while self.write_map.owned(Handle(h)) < want {
                match self.slots.take(SlotState::Reserved) {
                    Some(s) => self.write_map.add_slot(Handle(h), s),
                    None => return,
                }
            }
        }
    }

    /// The NAND geometry.
    pub fn geometry(&self) -> Geometry {
        self.geo
    }

    /// The configuration in force.
    pub fn config(&self) -> FtlConfig {
        self.cfg
    }

    /// Sectors the host can address.
    pub fn logical_sectors(&self) -> u64 {
        self.logical
    }

    /// Bytes per sector.
    pub fn sector_size(&self) -> usize {
        self.geo.sector_size as usize
    }

    /// The slot memory (for the front end to reach granted slots).
    pub fn slot_memory(&self) -> &M {
        &self.mem
    }

    /// The slot memory, writable.
    pub fn slot_memory_mut(&mut self) -> &mut M {
        &mut self.mem
    }

    /// The NAND driver.
    pub fn nand(&self) -> &N {
        &self.nand
    }

    /// The NAND driver, mutable (e.g. for a simulator's fault controls).
    pub fn nand_mut(&mut self) -> &mut N {
        &mut self.nand
    }

    /// Takes the FTL apart without flushing (what a power cut would leave).
    pub fn into_parts(self) -> (N, M) {
        (self.nand, self.mem)
    }

    /// Counters, with the wear figures computed now.
    pub fn stats(&self) -> Stats {
        let mut s = self.stats;
        let w = self.blocks.wear();
        s.erase_count_min = w.min;
        s.erase_count_max = w.max;
        s.erase_count_mean = w.mean;
        s.bad_blocks = self.blocks.len() - self.blocks.good();
        s
    }

    /// Records `bytes` of payload the embedder had to copy (e.g. a bounce
    /// buffer in a front end without zero-copy), so stats tell the truth.
    pub fn note_bytes_copied(&mut self, bytes: u64) {
        self.stats.bytes_copied += bytes;
    }

    /// Erase count of `block` as the FTL knows it.
    pub fn erase_count(&self, block: BlockIdx) -> u32 {
        self.blocks.erase_count(block)
    }

    /// Free slots right now (for tests and monitoring).
    pub fn free_slots(&self) -> u32 {
        self.slots.free_count()
    }

    fn check_handle(&self, h: Handle) -> FtlResult<(), N> {
        if h.0 < self.write_map.handles() {
            Ok(())
        } else {
            Err(Error::BadHandle)
        }
    }

    fn internal_handle(&self) -> Handle {
        Handle(self.write_map.handles() - 1)
    }

    fn entry_of(&self, slot: SlotId) -> Option<EntryId> {
        match self.slot_entry[slot.0 as usize] {
            NO_ENTRY => None,
            e => Some(EntryId(e)),
        }
    }

    fn stream_index(s: Stream) -> usize {
        s as usize
    }
}

impl<N: Nand, M: SlotMemory> core::fmt::Debug for Ftl<N, M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Ftl")
            .field("geometry", &self.geo)
            .field("config", &self.cfg)
            .field("logical_sectors", &self.logical)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}
