//! FTL sizing and tuning, validated against the geometry and the slot
//! memory: what the FTL makes of a NAND shape — its logical capacity,
//! over-provisioning, reserved blocks, and whether its on-flash records
//! fit the pages and spare areas.

use crate::format::checkpoint::Shape;
use crate::format::meta_page::HEADER_LEN;
use crate::format::oob::{self, MAX_SECTORS_PER_PAGE};
use crate::format::translation;
use crate::gc::GcPolicy;
use crate::geometry::Geometry;

/// Blocks the FTL keeps out of the host's reach besides the meta stream:
/// three open blocks (host, relocation, meta) plus a GC reserve.
pub const RESERVED_BLOCKS: u32 = 5;
/// The smallest array the FTL runs on.
pub const MIN_BLOCKS: u32 = 8;
/// Most open blocks per data stream ([`FtlConfig::lanes`]).
pub const MAX_LANES: u32 = 64;
/// The smallest page: a meta page header and a little payload.
const MIN_PAGE_SIZE: u32 = HEADER_LEN as u32 + 64;

/// How the FTL is sized and tuned. Every table is sized from this and the
/// geometry at construction; nothing grows afterwards.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FtlConfig {
    /// Command handles (the patent's virtual logical blocks): one per
    /// command that may be in flight, e.g. queues × depth for ublk.
    pub handles: u32,
    /// Most sectors one command may read or write.
    pub max_io_sectors: u32,
    /// Slots each handle owns in advance (the pre-populated write map).
    pub prefill_slots: u16,
    /// Garbage collection runs in the foreground when fewer than this many
    /// blocks are free or stale.
    pub gc_threshold_blocks: u32,
    /// How GC picks its victim.
    pub gc_policy: GcPolicy,
    /// Largest allowed spread between the most- and least-erased good block
    /// before static wear leveling migrates cold data.
    pub wear_leveling_bound: u32,
    /// A checkpoint (the translation directory and the block table) is
    /// written after this many host pages; 0 = sized to the array (see
    /// [`FtlConfig::checkpoint_interval`]).
    pub checkpoint_interval_pages: u32,
    /// Map entries per translation page; 0 = as many as a page holds
    /// (4090 for 16 KiB pages). Smaller pages cost more flash and RAM; tests
    /// use them to exercise many translation pages on tiny arrays.
    pub translation_entries: u32,
    /// Translation pages written back per thousand host pages, the
    /// oldest-changed first: the map's share of the flash writes (default
    /// 10: 1 %). Fewer means a longer replay after a power cut (each dirty
    /// page keeps the horizon back); 1000 writes one back per host page.
    pub translation_write_permille: u16,
    /// Percent of the usable flash hidden from the host so garbage
    /// collection always finds space (1..=90). Applies at format: a mount
    /// takes the capacity the media was formatted with.
    pub over_provisioning_percent: u8,
    /// Bytes of RAM the map may take; 0 keeps the whole map resident (4
    /// bytes per LBA). Otherwise the map is demand-paged: a cache of
    /// entries (about 33 bytes each, `crate::map_cache`) over the
    /// translation pages on flash, at least
    /// [`FtlConfig::min_map_entries`] of them, unless the budget holds
    /// every entry (then the whole map). Worth it only where the whole map
    /// does not fit. Applies at every mount; the media does not record it.
    pub map_budget_bytes: u64,
    /// Whether host data pages carry a crc32 of their data in their
    /// spare-area record, checked on every read, GC move and mount scan
    /// (default `true`). Off is for simulation only (the simulator's
    /// metadata-only NAND, which stores no data): data pages record the
    /// fixed [`UNCHECKED_DATA_CRC`](crate::format::oob::UNCHECKED_DATA_CRC)
    /// and their data is never checked, so neither bit rot nor a torn
    /// program's data is detected — recovery then trusts any data page
    /// whose spare-area record verifies (the record keeps its own crc).
    /// The FTL's own pages (checkpoints, trim records, translation pages,
    /// summaries) are checked either way. Applies at every mount; the media
    /// does not record it, so media written with it off must be mounted
    /// with it off (with it on, every data page reads as torn).
    pub data_checksums: bool,
    /// Open blocks per data stream (default 1). Each data stream (host,
    /// relocation) keeps one open block per lane and hands out its pages
    /// round robin over the lanes, so consecutive pages go to different
    /// lanes. Block `b` belongs to lane `b mod lanes`: a driver whose
    /// blocks with equal index mod `lanes` share a die (or a group of dies,
    /// as `Superblocks::with_width` numbers them) gets consecutive pages on
    /// different dies while each erase unit stays one die's. A lane short
    /// of a block while few are free waits and the others go on. Each lane
    /// beyond the first reserves two blocks of capacity (its open blocks'
    /// unwritten pages). Applies at every mount; the media does not record
    /// it, and the capacity stays what format gave it.
    pub lanes: u32,
    /// Data streams, 1 or 2 (default 2). With 2, data the host wrote and
    /// data GC or wear leveling moved go to separate open blocks, so cold
    /// data that survived a collection is not mixed again with hot host
    /// writes (the separation the literature credits with lower WA). With
    /// 1, relocated pages are programmed into the host's open blocks, as
    /// an FTL without stream separation does: the baseline to measure the
    /// separation against. Applies at every mount; the media does not
    /// record it.
    pub data_streams: u32,
    /// Sectors the host sees, exactly (rounded down to whole pages); 0 =
    /// all blocks but the reserve, less `over_provisioning_percent`. For
    /// an over-provisioning finer than the percent's steps (a simulator
    /// holding (physical − logical) / logical to a given ratio). It must
    /// leave the GC at least the 1 % the percent allows. Applies at
    /// format, as the percent does.
    pub capacity_sectors: u64,
    /// Block summaries per summary page, at most; 0 = as many as fit (five
    /// 64-page blocks' to a 4 KiB page). A full block's summary waits in
    /// RAM until its page fills, and a cut loses those waiting: recovery
    /// scans such blocks page by page. Fewer bound that scan, at a page per
    /// this many blocks. Applies at every mount; recovery reads any count.
    pub summaries_per_page: u32,
}

impl Default for FtlConfig {
    fn default() -> Self {
        FtlConfig {
            handles: 16,
            max_io_sectors: 32,
            prefill_slots: 1,
            gc_threshold_blocks: 3,
            gc_policy: GcPolicy::Greedy,
            wear_leveling_bound: 16,
            checkpoint_interval_pages: 0,
            translation_entries: 0,
            translation_write_permille: 10,
            over_provisioning_percent: 12,
            map_budget_bytes: 0,
            data_checksums: true,
            summaries_per_page: 0,
            lanes: 1,
            data_streams: 2,
            capacity_sectors: 0,
        }
    }
}

/// Why a configuration was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The geometry is invalid.
    Geometry(crate::GeometryError),
    /// No handles, or `max_io_sectors` is zero or over 65535.
    Handles,
    /// The slot memory's slot size differs from the sector size.
    SlotSize,
    /// Too few slots for the handles' reserves, one full-size command, the
    /// host and GC pages and a read-miss page.
    TooFewSlots {
        /// The minimum slot count for this configuration.
        needed: u32,
    },
    /// The GC threshold leaves no room (must be 2..=3).
    GcThreshold,
    /// `lanes` is 0, over [`MAX_LANES`], or leaves a lane fewer than
    /// [`MIN_BLOCKS`] blocks.
    Lanes,
    /// `data_streams` is not 1 or 2.
    DataStreams,
    /// Pages of more than [`MAX_SECTORS_PER_PAGE`] sectors, or smaller than
    /// a meta page header needs.
    PageSize,
    /// The spare area cannot hold the per-page record (`needed` bytes).
    OobTooSmall {
        /// Bytes the record needs for this page size.
        needed: u32,
    },
    /// Too few blocks for the FTL to run (open blocks, GC reserve, data).
    TooFewBlocks {
        /// The minimum number of blocks.
        needed: u32,
    },
    /// Over-provisioning outside 1..=90 percent, or leaving no logical
    /// space once the reserve is taken.
    OverProvisioning,
    /// The array has 2³² − 2 sectors or more: the map's sector numbers
    /// would collide with its markers.
    TooLarge,
    /// `translation_entries` exceeds what a page holds, or
    /// `translation_write_permille` is 0 or over 1000.
    Translation,
    /// `map_budget_bytes` is too small for a demand-paged map's fewest
    /// entries and its per-translation-page table.
    MapBudget {
        /// The smallest budget that works (bytes).
        needed: u64,
    },
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ConfigError::Geometry(g) => write!(f, "invalid geometry: {g}"),
            ConfigError::Handles => write!(f, "handles and max_io_sectors must be 1..=65535"),
            ConfigError::SlotSize => write!(f, "slot size must equal the sector size"),
            ConfigError::TooFewSlots { needed } => {
                write!(
                    f,
                    "slot memory too small: at least {needed} slots are needed"
                )
            }
            ConfigError::GcThreshold => write!(f, "GC threshold must be 2 or 3 blocks"),
            ConfigError::Lanes => write!(
                f,
                "lanes must be 1..={MAX_LANES} and leave each at least {MIN_BLOCKS} blocks"
            ),
            ConfigError::DataStreams => write!(f, "data streams must be 1 or 2"),
            ConfigError::PageSize => write!(
                f,
                "page size must hold at most {MAX_SECTORS_PER_PAGE} sectors and at least {MIN_PAGE_SIZE} bytes"
            ),
            ConfigError::OobTooSmall { needed } => {
                write!(
                    f,
                    "spare area too small: the page record needs {needed} bytes"
                )
            }
            ConfigError::TooFewBlocks { needed } => {
                write!(f, "too few blocks: at least {needed} are needed")
            }
            ConfigError::OverProvisioning => write!(
                f,
                "over-provisioning must be 1..=90 % and leave room for the GC reserve"
            ),
            ConfigError::TooLarge => write!(f, "geometry exceeds 2^32 - 2 physical sectors"),
            ConfigError::Translation => write!(
                f,
                "translation entries must fit a page and the write-back rate be 1..=1000 per mille"
            ),
            ConfigError::MapBudget { needed } => write!(
                f,
                "map budget too small: at least {needed} bytes (or 0 for the whole map)"
            ),
        }
    }
}

impl FtlConfig {
    /// The fewest slots this configuration runs with on `geo`: every
    /// handle's reserve; one command of `max_io_sectors` — a read whose
    /// sectors all miss in different pages holds a page of slots each
    /// (a pinned sector keeps its loaded page cached) — and a page each for
    /// the host group, the GC group, a GC read and a read miss.
    pub fn min_slots(&self, geo: &Geometry) -> u32 {
        let spp = geo.sectors_per_page() as u32;
        (self.handles + 1) * u32::from(self.prefill_slots) + (self.max_io_sectors + 4) * spp
    }

    /// The fewest entries a demand-paged map runs with: room for one
    /// command's sectors, a page of relocated sectors pinned while it is
    /// programmed, and a block's worth moved by GC, twice over.
    pub fn min_map_entries(&self, geo: &Geometry) -> u32 {
        let spp = geo.sectors_per_page() as u32;
        2 * (self.max_io_sectors + spp + geo.pages_per_block * spp)
    }

    /// The smallest `map_budget_bytes` that pages the map of a device
    /// formatted with this configuration on `geo`.
    pub fn min_map_budget(&self, geo: &Geometry) -> u64 {
        let entries = self.entries_per_translation_page(geo);
        self.min_map_budget_for(geo, self.logical_sectors(geo), entries)
    }

    /// The smallest map budget for `logical` LBAs in translation pages of
    /// `entries`: the per-page table and the fewest entries.
    fn min_map_budget_for(&self, geo: &Geometry, logical: u64, entries: u32) -> u64 {
        let pages = logical.div_ceil(u64::from(entries));
        pages * crate::map_cache::PAGE_BYTES
            + u64::from(self.min_map_entries(geo)) * crate::map_cache::ENTRY_BYTES
    }

    /// The map as this configuration holds `logical` LBAs on `geo`.
    pub(crate) fn map_store(
        &self,
        geo: &Geometry,
        logical: u64,
        entries: u32,
    ) -> Result<crate::map::MapStore, ConfigError> {
        let min = self.min_map_entries(geo);
        crate::map::MapStore::new(logical, entries, self.map_budget_bytes, min).ok_or_else(|| {
            ConfigError::MapBudget {
                needed: self.min_map_budget_for(geo, logical, entries),
            }
        })
    }

    /// Slots to give a cache of `bytes` bytes (at least [`Self::min_slots`]).
    pub fn slots_for_budget(&self, geo: &Geometry, bytes: usize) -> u32 {
        let n = (bytes / geo.sector_size as usize).min(u32::MAX as usize / 2) as u32;
        n.max(self.min_slots(geo))
    }

    /// Checks that the FTL can run on `geo` at all: the shape, page and
    /// spare-area room for its records, address width, block count and
    /// over-provisioning (not the slot memory: see `validate`).
    pub fn check_geometry(&self, geo: &Geometry) -> Result<(), ConfigError> {
        geo.validate().map_err(ConfigError::Geometry)?;
        if geo.sectors_per_page() > MAX_SECTORS_PER_PAGE || geo.page_size < MIN_PAGE_SIZE {
            return Err(ConfigError::PageSize);
        }
        let needed = oob::record_len(geo.sectors_per_page()) as u32;
        if geo.oob_size < needed {
            return Err(ConfigError::OobTooSmall { needed });
        }
        // The top two u32 values are the map's markers.
        if geo.total_sectors() >= u32::MAX - 1 {
            return Err(ConfigError::TooLarge);
        }
        if geo.total_blocks() < MIN_BLOCKS {
            return Err(ConfigError::TooFewBlocks { needed: MIN_BLOCKS });
        }
        if !(1..=MAX_LANES).contains(&self.lanes) || geo.total_blocks() / self.lanes < MIN_BLOCKS {
            return Err(ConfigError::Lanes);
        }
        if !(1..=2).contains(&self.data_streams) {
            return Err(ConfigError::DataStreams);
        }
        if self.translation_entries as usize > translation::capacity(geo.page_size as usize)
            || !(1..=1000).contains(&self.translation_write_permille)
        {
            return Err(ConfigError::Translation);
        }
        if !(1..=90).contains(&self.over_provisioning_percent)
            || self.logical_sectors(geo) == 0
            || !self.capacity_fits(geo)
        {
            return Err(ConfigError::OverProvisioning);
        }
        Ok(())
    }

    /// Map entries per translation page on `geo`.
    pub fn entries_per_translation_page(&self, geo: &Geometry) -> u32 {
        match self.translation_entries {
            0 => translation::capacity(geo.page_size as usize) as u32,
            n => n,
        }
    }

    /// The checkpoint's shape for `logical` LBAs on `geo`.
    pub fn checkpoint_shape(&self, geo: &Geometry, logical: u64) -> Shape {
        let entries = self.entries_per_translation_page(geo);
        Shape {
            logical,
            blocks: geo.total_blocks(),
            tps: logical.div_ceil(u64::from(entries)) as u32,
            entries,
        }
    }

    /// Blocks the meta stream may hold at once: every translation page
    /// twice (its newest copy and the one the last checkpoint names), two
    /// checkpoints (the one being written and the last complete one), half
    /// a block of trim records, the summary pages of one write-back round
    /// ([`FtlConfig::round_summary_pages`]), and one more block to clean
    /// into. Sized from an upper bound of the logical size (all blocks but
    /// the fixed reserve, less over-provisioning), so it does not depend on
    /// the size it helps set.
    pub fn meta_blocks(&self, geo: &Geometry) -> u32 {
        let (tps, chunks) = self.meta_bound(geo);
        let ppb = geo.pages_per_block;
        let kept = 2 * tps + 2 * chunks + ppb / 2 + self.round_summary_pages(geo, tps);
        kept.div_ceil(ppb) + 1
    }

    /// Summary pages the host's own writes fill in one write-back round
    /// (the host pages that earn the credit to write back each of `tps`
    /// translation pages once): the horizon trails the newest change by
    /// about a round, and summaries at or after it are kept. A lower bound:
    /// GC's full blocks add their summaries too. At most half a block:
    /// past that, cleaning writes the map back so the horizon passes them
    /// rather than move them (`summaries.rs`). Leaving them out sized the
    /// meta stream of a 1 GiB device (256-page blocks) at two blocks, which
    /// then cleaned at almost every checkpoint, rewriting every translation
    /// page each time (4.7 % of the host's writes).
    pub fn round_summary_pages(&self, geo: &Geometry, tps: u32) -> u32 {
        let per_page = u64::from(self.summaries_per_page(geo));
        if per_page == 0 {
            return 0;
        }
        let permille = u64::from(self.translation_write_permille.max(1));
        let round = u64::from(tps) * 1000 / permille;
        let ppb = geo.pages_per_block;
        let pages = round.div_ceil(u64::from(ppb.max(1)) * per_page);
        u32::try_from(pages).map_or(ppb / 2, |p| p.min(ppb / 2))
    }

    /// Meta pages written between two checkpoints' cleaning decisions, at
    /// most: every translation page once, two checkpoints and half a block
    /// of trim records (the count that makes a checkpoint due). A meta
    /// stream one block short of [`FtlConfig::meta_blocks`] whose open
    /// block still has this much room need not clean its oldest block yet:
    /// without it, a stream of two blocks would clean (rewrite every
    /// translation page it names) at every checkpoint.
    pub fn meta_cycle_pages(&self, geo: &Geometry) -> u32 {
        let (tps, chunks) = self.meta_bound(geo);
        tps + 2 * chunks + geo.pages_per_block / 2
    }

    /// Translation pages and checkpoint pages of the largest logical size
    /// this configuration gives `geo` (all blocks but the fixed reserve,
    /// less over-provisioning).
    fn meta_bound(&self, geo: &Geometry) -> (u32, u32) {
        let data_sectors = u64::from(geo.total_blocks().saturating_sub(RESERVED_BLOCKS))
            * u64::from(geo.pages_per_block)
            * geo.sectors_per_page() as u64;
        let bound = (data_sectors * u64::from(100 - self.over_provisioning_percent.min(99)) / 100)
            .max(self.capacity_sectors);
        let shape = self.checkpoint_shape(geo, bound.max(1));
        (shape.tps, shape.chunks(geo.page_size as usize))
    }

    /// Host pages between checkpoints on `geo`: `checkpoint_interval_pages`
    /// if set, else 1024 or 200 times the checkpoint's own pages, whichever
    /// is more, so checkpoints cost at most 0.5 % of the host's writes.
    pub fn checkpoint_interval(&self, geo: &Geometry) -> u32 {
        if self.checkpoint_interval_pages != 0 {
            return self.checkpoint_interval_pages;
        }
        let chunks = self
            .checkpoint_shape(geo, self.logical_sectors(geo))
            .chunks(geo.page_size as usize);
        chunks.saturating_mul(200).max(1024)
    }

    /// Block summaries a summary page holds on `geo` (0: a block's summary
    /// does not fit a page, and recovery scans every block).
    pub fn summaries_per_page(&self, geo: &Geometry) -> u32 {
        let fit = crate::format::summary::per_page(
            geo.page_size as usize,
            geo.pages_per_block,
            geo.sectors_per_page(),
        ) as u32;
        match self.summaries_per_page {
            0 => fit,
            n => n.min(fit),
        }
    }

    /// Blocks kept out of the host's reach: open blocks (two more per
    /// extra lane), GC reserve, meta.
    pub fn reserved_blocks(&self, geo: &Geometry) -> u32 {
        RESERVED_BLOCKS + 2 * self.lanes.saturating_sub(1) + self.meta_blocks(geo)
    }

    /// Sectors the host sees on `geo` formatted with this configuration:
    /// all blocks but the reserve, less over-provisioning, rounded down to
    /// whole pages. Over-provisioning as the literature counts it,
    /// (physical − logical) / logical, is [`FtlConfig::effective_op`].
    pub fn logical_sectors(&self, geo: &Geometry) -> u64 {
        let usable = self.usable_sectors(geo);
        let sectors = match self.capacity_sectors {
            0 => Self::after_op(usable, self.over_provisioning_percent),
            c => c.min(Self::after_op(usable, 1)),
        };
        let spp = geo.sectors_per_page().max(1) as u64;
        sectors / spp * spp
    }

    /// Data sectors of every block but the reserve.
    fn usable_sectors(&self, geo: &Geometry) -> u64 {
        u64::from(geo.total_blocks().saturating_sub(self.reserved_blocks(geo)))
            * u64::from(geo.pages_per_block)
            * geo.sectors_per_page() as u64
    }

    /// `usable` less `percent` %.
    fn after_op(usable: u64, percent: u8) -> u64 {
        let op = u64::from(percent.min(100));
        usable * (100 - op) / 100
    }

    /// Whether `capacity_sectors`, if set, leaves the GC its 1 %.
    fn capacity_fits(&self, geo: &Geometry) -> bool {
        self.capacity_sectors <= Self::after_op(self.usable_sectors(geo), 1)
    }

    /// Bytes the host sees on `geo`.
    pub fn logical_bytes(&self, geo: &Geometry) -> u64 {
        self.logical_sectors(geo) * u64::from(geo.sector_size)
    }

    /// (physical sectors − logical sectors) / logical sectors, the FTL's
    /// reserve included: over-provisioning as the literature defines it.
    pub fn effective_op(&self, geo: &Geometry) -> f64 {
        let logical = self.logical_sectors(geo) as f64;
        (f64::from(geo.total_sectors()) - logical) / logical
    }

    pub(crate) fn validate(&self, geo: &Geometry, slots: u32) -> Result<(), ConfigError> {
        self.check_geometry(geo)?;
        if self.handles == 0
            || self.handles >= u32::from(u16::MAX)
            || self.max_io_sectors == 0
            || self.max_io_sectors > u32::from(u16::MAX)
        {
            return Err(ConfigError::Handles);
        }
        let needed = self.min_slots(geo);
        if slots < needed {
            return Err(ConfigError::TooFewSlots { needed });
        }
        if !(2..=RESERVED_BLOCKS - 2).contains(&self.gc_threshold_blocks) {
            return Err(ConfigError::GcThreshold);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_sized() {
        let g = Geometry::default();
        let c = FtlConfig::default();
        c.check_geometry(&g).unwrap();
        assert!(c.logical_bytes(&g) < g.raw_bytes());
        assert_eq!(c.logical_sectors(&g) % 4, 0);
        // Effective OP counts the reserve too, so it exceeds the nominal.
        assert!(c.effective_op(&g) > 0.12);
    }

    #[test]
    fn shapes_the_ftl_cannot_use_are_config_errors() {
        let ok = Geometry::default();
        let c = FtlConfig::default();
        let cases = [
            (
                Geometry { oob_size: 8, ..ok },
                ConfigError::OobTooSmall { needed: 44 },
            ),
            (
                Geometry {
                    page_size: 128 * 1024,
                    ..ok
                },
                ConfigError::PageSize,
            ),
            (
                Geometry {
                    blocks_per_plane: 3,
                    ..ok
                },
                ConfigError::TooFewBlocks { needed: MIN_BLOCKS },
            ),
            (
                Geometry {
                    sector_size: 3000,
                    ..ok
                },
                ConfigError::Geometry(crate::GeometryError::SectorSize),
            ),
        ];
        for (g, want) in cases {
            assert_eq!(c.check_geometry(&g), Err(want), "{g:?}");
        }
        for op in [0, 91, 255] {
            let c = FtlConfig {
                over_provisioning_percent: op,
                ..c
            };
            assert_eq!(c.check_geometry(&ok), Err(ConfigError::OverProvisioning));
        }
    }
}
