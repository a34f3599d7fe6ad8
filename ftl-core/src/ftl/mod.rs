//! The FTL: a few owned parts, and the flows that drive them.
//!
//! | part | file | owns |
//! |---|---|---|
//! | [`Cache`](cache::Cache) | `cache.rs` | slot memory, slot table, write map, read map, cache metadata + status tables, read grants, filling groups |
//! | [`FlashMap`](flash::FlashMap) | `flash.rs` | the L2P map, validity, block table, write frontiers, trim holds, pending bad marks |
//! | [`MetaStream`](meta_stream::MetaStream) | `meta_stream.rs` | pending trims, live meta blocks, checkpoint due-ness |
//! | [`Media`](media::Media) | `media.rs` | the NAND driver, the sequence counter, what reached the media |
//!
//! A part changes only its own fields; the flows ask it. The flows, one
//! file each: `io.rs` the public data path, `program.rs` programming a
//! group and the block allocator, `maintain.rs` garbage collection and
//! wear leveling (an explicit step before the host stream opens a block),
//! `checkpoint.rs` writing the meta stream, `mount.rs` format and recovery
//! (`replay.rs` its replay of what came after the horizon),
//! `unflushed.rs` what a process crash would lose, `check.rs` the
//! integrity check.
//!
//! The call graph has no cycle through maintenance: only the host stream
//! runs it, and maintenance never programs the host stream. Checkpoints are
//! taken when an update operation ends (or by maintenance, to move a cold
//! meta block), never from inside a page program.

mod cache;
mod check;
mod checkpoint;
mod flash;
mod io;
mod maintain;
mod media;
mod meta_stream;
mod mount;
mod paging;
mod program;
mod read;
mod replay;
mod summaries;
mod unflushed;

use crate::addr::{BlockIdx, Lba};
use crate::config::FtlConfig;
use crate::error::Error;
use crate::geometry::Geometry;
use crate::layout::Layout;
use crate::map::Mapping;
use crate::nand::Nand;
use crate::slot::SlotMemory;
use crate::stats::Stats;

use cache::Cache;
use flash::FlashMap;
use media::Media;
use meta_stream::MetaStream;

pub use check::IntegrityError;
pub use read::{LoadedPage, PageLoad, ReadGrant, ReadStep, Segment};

/// Result of FTL operations over a NAND driver `N`.
pub type FtlResult<T, N> = Result<T, Error<<N as Nand>::Error>>;

/// A flash translation layer over the NAND `N`, caching in the slots of `M`.
///
/// Built by [`Ftl::format`] (fresh media) or [`Ftl::open`] (rebuild from
/// what is on flash). All tables are sized then; the read, write, trim,
/// flush and GC paths allocate nothing afterwards.
pub struct Ftl<N: Nand, M: SlotMemory> {
    media: Media<N>,
    cache: Cache<M>,
    flash: FlashMap,
    meta: MetaStream,
    geo: Geometry,
    cfg: FtlConfig,
    logical: u64,
    /// Host-facing counters (written by `io.rs`).
    host: io::HostCounters,
    /// Maintenance counters (written by `maintain.rs`).
    maint: maintain::MaintCounters,
    /// Counters of the last mount (written by `mount.rs`).
    mounted: mount::MountCounters,
    /// The demand-paged map's page buffer and counters (`paging.rs`).
    paging: paging::Paging,
    /// Blocks the meta stream may hold (`FtlConfig::meta_blocks`).
    meta_limit: u32,
    /// Room a meta stream one block short of its limit needs in its open
    /// block to put cleaning off (`FtlConfig::meta_cycle_pages`).
    meta_cycle_pages: u32,
    /// Reads being located (`read.rs`).
    reads: read::ReadsInFlight,
}

impl<N: Nand, M: SlotMemory> Ftl<N, M> {
    /// Builds empty tables for `nand` and `mem`; format or mount fills them.
    fn new(nand: N, mem: M, cfg: FtlConfig) -> FtlResult<Self, N> {
        let geo = nand.geometry();
        if mem.slot_size() != geo.sector_size as usize {
            return Err(Error::Config(crate::ConfigError::SlotSize));
        }
        cfg.validate(&geo, mem.slot_count())?;
        let layout = Layout::new(&geo);
        let logical = cfg.logical_sectors(&geo);
        let map = cfg.map_store(&geo, logical, cfg.entries_per_translation_page(&geo))?;
        Ok(Ftl {
            media: Media::new(nand, &geo, cfg.data_checksums),
            cache: Cache::new(mem, &cfg, &layout),
            flash: FlashMap::new(
                layout,
                map,
                cfg.entries_per_translation_page(&geo),
                geo.total_blocks(),
                cfg.lanes,
                cfg.data_streams == 1,
            ),
            meta: MetaStream::new(
                &layout,
                geo.page_size as usize,
                cfg.summaries_per_page(&geo),
                geo.total_blocks(),
                cfg.checkpoint_interval(&geo),
            ),
            geo,
            cfg,
            logical,
            host: io::HostCounters::default(),
            maint: maintain::MaintCounters::default(),
            mounted: mount::MountCounters::default(),
            // Any budget: a mount may adopt a capacity that pages the map.
            paging: paging::Paging::new(geo.page_size as usize, cfg.map_budget_bytes != 0),
            meta_limit: cfg.meta_blocks(&geo),
            meta_cycle_pages: cfg.meta_cycle_pages(&geo),
            reads: read::ReadsInFlight::new(cfg.handles + 1),
        })
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
        self.cache.mem()
    }

    /// The slot memory, writable.
    pub fn slot_memory_mut(&mut self) -> &mut M {
        self.cache.mem_mut()
    }

    /// The NAND driver.
    pub fn nand(&self) -> &N {
        self.media.nand()
    }

    /// The NAND driver, mutable (e.g. for a simulator's fault controls).
    pub fn nand_mut(&mut self) -> &mut N {
        self.media.nand_mut()
    }

    /// Takes the FTL apart without flushing (what a power cut would leave).
    pub fn into_parts(self) -> (N, M) {
        (self.media.into_nand(), self.cache.into_mem())
    }

    /// Counters, gathered from the parts that keep them.
    pub fn stats(&self) -> Stats {
        let w = self.flash.wear();
        let m = self.media.counters;
        let spp = u64::from(self.flash.layout().spp);
        let (validity_ram, block_table_ram) = self.flash.block_ram_bytes();
        Stats {
            host_sectors_written: self.host.sectors_written,
            host_sectors_read: self.host.sectors_read,
            nand_sectors_written: m.pages_programmed * spp,
            meta_sectors_written: m.meta_pages_programmed * spp,
            nand_sectors_read: m.sectors_read,
            nand_pages_programmed: m.pages_programmed,
            padded_pages: m.padded_pages,
            gc_runs: self.maint.gc_runs,
            gc_moved_sectors: self.maint.gc_moved_sectors,
            wear_level_moves: self.maint.wear_level_moves,
            wear_level_moved_sectors: self.maint.wear_level_moved_sectors,
            erases: m.erases,
            erase_count_min: w.min,
            erase_count_max: w.max,
            erase_count_mean: w.mean,
            cache_hits: self.cache.counters.hits,
            cache_misses: self.cache.counters.misses,
            loads_outside: self.reads.loaded_outside,
            loads_outside_dropped: self.reads.dropped_outside,
            bytes_copied: self.cache.counters.bytes_copied + self.host.bytes_copied_by_embedder,
            trimmed_sectors: self.host.trimmed_sectors,
            flushes: self.host.flushes,
            program_failures: m.program_failures,
            erase_failures: m.erase_failures,
            corrected_bits: m.corrected_bits,
            bad_blocks: self.flash.block_count() - self.flash.good_blocks(),
            checkpoints: self.meta.counters.checkpoints,
            trim_records: self.meta.counters.trim_records,
            mount_pages_read: self.mounted.pages_read,
            mount_pages_replayed: self.mounted.pages_replayed,
            mount_blocks_from_summaries: self.mounted.blocks_from_summaries,
            map_ram_bytes: self.flash.map_ram_bytes() as u64,
            translation_ram_bytes: self.flash.translation_ram_bytes() as u64,
            validity_ram_bytes: validity_ram as u64,
            block_table_ram_bytes: block_table_ram as u64,
            cache_table_ram_bytes: (self.cache.table_ram_bytes() + self.reads.ram_bytes()) as u64,
            translation_pages_written: m.translation_pages,
            checkpoint_pages_written: m.checkpoint_pages,
            summary_pages_written: m.summary_pages,
            dirty_translation_pages: u64::from(self.flash.translation().dirty()),
            translation_pages: u64::from(self.flash.translation().len()),
            map_cache_hits: self.paging.hits,
            map_cache_misses: self.paging.misses,
            map_pressure_write_backs: self.paging.write_backs,
            map_cache_entries: self
                .flash
                .map_cache()
                .map_or(0, |c| u64::from(c.capacity())),
        }
    }

    /// Erase count of `block` as the FTL knows it.
    pub fn erase_count(&self, block: BlockIdx) -> u32 {
        self.flash.erase_count(block)
    }

    /// Erase count of every block (for wear reports).
    pub fn erase_counts(&self) -> impl Iterator<Item = (BlockIdx, u32)> + '_ {
        self.flash
            .blocks()
            .iter()
            .map(|b| (b, self.flash.erase_count(b)))
    }

    /// Free slots right now (for tests and monitoring).
    pub fn free_slots(&self) -> u32 {
        self.cache.free_slots()
    }

    /// What `lba` is: the mapping seam. Fallible because a map that pages
    /// its translation entries in from flash may have to read one first.
    fn mapping(&mut self, lba: Lba) -> FtlResult<Mapping, N> {
        self.fault_in(lba)?;
        Ok(self.flash.peek(lba).expect("read in"))
    }

    /// Lets the flash map reclaim block `b` if nothing valid is left in it,
    /// unless the relocation group still holds a sector read from it.
    fn settle(&mut self, b: BlockIdx) {
        let layout = *self.flash.layout();
        let cache = &self.cache;
        self.flash.settle(b, |b| cache.relocating_from(b, &layout));
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
