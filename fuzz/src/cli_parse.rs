//! `cli_parse`: geometry and configuration validation on arbitrary values.
//!
//! `ftl-ublk`'s `--size` / `--geometry` parser lives in its binary crate
//! (no library target), so it is out of reach here; what every front end
//! funnels into is [`Geometry::validate`] and the FTL's own configuration
//! check, and those are fuzzed:
//!
//! - `Geometry::validate` (the NAND shape) and `FtlConfig::check_geometry`
//!   (what the FTL needs of it) never panic, and each verdict names a real
//!   problem;
//! - a valid geometry's derived sizes agree with each other (computed again
//!   in `u64`), block locations round-trip; an accepted configuration's
//!   capacity is `0 < logical_sectors < total_sectors`, whole pages, and its
//!   spare area holds a page record;
//! - `Ftl::format` over a small RAM NAND with an arbitrary [`FtlConfig`]
//!   and slot count never panics; it refuses exactly the configurations
//!   the geometry or slot count cannot carry, and a formatted FTL stores
//!   and returns a sector.

use arbitrary::Arbitrary;
use ftl_core::config::{MIN_BLOCKS, RESERVED_BLOCKS};
use ftl_core::format::{oob, translation};
use ftl_core::testing::RamNand;

use ftl_core::{
    BlockIdx, ConfigError, Error, Ftl, FtlConfig, GcPolicy, Geometry, GeometryError, Lba, Ppa,
    SlotPool, MAX_SECTORS_PER_PAGE,
};

/// Largest raw array (data and spare areas) `Ftl::format` is tried on.
pub const MAX_RAW_BYTES: u64 = 4 << 20;
/// Largest slot pool, in bytes.
pub const MAX_POOL_BYTES: usize = 8 << 20;
/// Largest per-command read table (handles × max_io) allocated.
pub const MAX_IO_TABLE: u64 = 1 << 20;

/// A `cli_parse` case: every field as raw as the types allow.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub struct Input {
    /// `Geometry::channels`.
    pub channels: u16,
    /// `Geometry::dies_per_channel`.
    pub dies_per_channel: u16,
    /// `Geometry::planes_per_die`.
    pub planes_per_die: u16,
    /// `Geometry::blocks_per_plane`.
    pub blocks_per_plane: u32,
    /// `Geometry::pages_per_block`.
    pub pages_per_block: u32,
    /// `Geometry::page_size`.
    pub page_size: u32,
    /// `Geometry::sector_size`.
    pub sector_size: u32,
    /// `Geometry::oob_size`.
    pub oob_size: u32,
    /// `FtlConfig::over_provisioning_percent` (where the geometry's field
    /// was, so the corpus keeps its meaning).
    pub over_provisioning_percent: u8,
    /// `FtlConfig::handles`.
    pub handles: u32,
    /// `FtlConfig::max_io_sectors`.
    pub max_io_sectors: u32,
    /// `FtlConfig::prefill_slots`.
    pub prefill_slots: u16,
    /// `FtlConfig::gc_threshold_blocks`.
    pub gc_threshold_blocks: u32,
    /// Greedy (even) or cost-benefit (odd).
    pub gc_policy: u8,
    /// `FtlConfig::wear_leveling_bound`.
    pub wear_leveling_bound: u32,
    /// `FtlConfig::checkpoint_interval_pages`.
    pub checkpoint_interval_pages: u32,
    /// Slots in the pool (capped at [`MAX_POOL_BYTES`]).
    pub slots: u16,
    /// A block to locate.
    pub block: u32,
}

impl Input {
    /// The geometry under test.
    pub fn geometry(&self) -> Geometry {
        Geometry {
            channels: self.channels,
            dies_per_channel: self.dies_per_channel,
            planes_per_die: self.planes_per_die,
            blocks_per_plane: self.blocks_per_plane,
            pages_per_block: self.pages_per_block,
            page_size: self.page_size,
            sector_size: self.sector_size,
            oob_size: self.oob_size,
        }
    }

    /// The configuration under test. Fields added to `FtlConfig` later
    /// keep their defaults until this learns them.
    #[allow(clippy::needless_update)]
    pub fn config(&self) -> FtlConfig {
        FtlConfig {
            handles: self.handles,
            max_io_sectors: self.max_io_sectors,
            prefill_slots: self.prefill_slots,
            gc_threshold_blocks: self.gc_threshold_blocks,
            gc_policy: if self.gc_policy % 2 == 0 {
                GcPolicy::Greedy
            } else {
                GcPolicy::CostBenefit
            },
            wear_leveling_bound: self.wear_leveling_bound,
            checkpoint_interval_pages: self.checkpoint_interval_pages,
            over_provisioning_percent: self.over_provisioning_percent,
            ..FtlConfig::default()
        }
    }
}

fn ensure(ok: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(what())
    }
}

/// Blocks in the array, without overflow (four large counts exceed u64).
fn blocks_u128(g: &Geometry) -> u128 {
    u128::from(g.channels)
        * u128::from(g.dies_per_channel)
        * u128::from(g.planes_per_die)
        * u128::from(g.blocks_per_plane)
}

/// Sectors in the array, saturating (six large counts overflow u128).
fn sectors_u128(g: &Geometry) -> u128 {
    blocks_u128(g)
        .saturating_mul(u128::from(g.pages_per_block))
        .saturating_mul(u128::from(g.page_size / g.sector_size.max(1)))
}

/// The shape refusal names something really wrong with `g`.
fn check_refusal(g: &Geometry, e: GeometryError) -> Result<(), String> {
    let counts_zero = g.channels == 0
        || g.dies_per_channel == 0
        || g.planes_per_die == 0
        || g.blocks_per_plane == 0
        || g.pages_per_block == 0;
    let ok = match e {
        GeometryError::ZeroCount => counts_zero,
        GeometryError::SectorSize => {
            !g.sector_size.is_power_of_two() || !(512..=65536).contains(&g.sector_size)
        }
        GeometryError::PageSize => g.page_size == 0 || g.page_size % g.sector_size != 0,
        GeometryError::TooLarge => sectors_u128(g) > u128::from(u32::MAX),
        _ => true,
    };
    ensure(ok, || format!("{g:?} refused as {e:?}, which it is not"))
}

/// The FTL's refusal of a NAND shape names something really wrong.
fn check_config_refusal(g: &Geometry, cfg: &FtlConfig, e: ConfigError) -> Result<(), String> {
    let ok = match e {
        ConfigError::PageSize => {
            g.sectors_per_page() > MAX_SECTORS_PER_PAGE || g.page_size < 24 + 64
        }
        ConfigError::OobTooSmall { needed } => {
            g.oob_size < needed && needed as usize == oob::record_len(g.sectors_per_page())
        }
        ConfigError::TooFewBlocks { needed } => {
            needed == MIN_BLOCKS && blocks_u128(g) < u128::from(MIN_BLOCKS)
        }
        ConfigError::OverProvisioning => {
            !(1..=90).contains(&cfg.over_provisioning_percent) || cfg.logical_sectors(g) == 0
        }
        ConfigError::TooLarge => sectors_u128(g) >= u128::from(u32::MAX - 1),
        ConfigError::Translation => {
            cfg.translation_entries as usize > translation::capacity(g.page_size as usize)
                || !(1..=1000).contains(&cfg.translation_write_permille)
        }
        _ => false,
    };
    ensure(ok, || {
        format!("{cfg:?} on {g:?} refused as {e:?}, which it is not")
    })
}

/// An accepted configuration's capacity and reserve agree.
fn check_capacity(g: &Geometry, cfg: &FtlConfig) -> Result<(), String> {
    let spp = g.sectors_per_page();
    ensure((1..=MAX_SECTORS_PER_PAGE).contains(&spp), || {
        format!("{g:?}: {spp} sectors a page")
    })?;
    ensure(g.oob_size as usize >= oob::record_len(spp), || {
        format!("{g:?}: spare area cannot hold a page record")
    })?;
    let blocks = u64::from(g.total_blocks());
    ensure(blocks >= u64::from(MIN_BLOCKS), || {
        format!("{g:?}: too few blocks accepted")
    })?;
    let sectors = u64::from(g.total_sectors());
    let logical = cfg.logical_sectors(g);
    ensure(logical > 0 && logical < sectors, || {
        format!("{g:?}: logical {logical} of {sectors} sectors")
    })?;
    ensure(logical % spp as u64 == 0, || {
        format!("{g:?}: logical sectors not whole pages")
    })?;
    let reserved = u64::from(cfg.reserved_blocks(g));
    ensure(
        reserved >= u64::from(RESERVED_BLOCKS) && reserved < blocks,
        || format!("{g:?}: {reserved} reserved blocks"),
    )?;
    let usable = (blocks - reserved) * u64::from(g.sectors_per_block());
    ensure(logical <= usable, || {
        format!("{g:?}: logical {logical} exceeds the {usable} outside the reserve")
    })?;
    ensure(
        cfg.logical_bytes(g) == logical * u64::from(g.sector_size)
            && cfg.logical_bytes(g) < g.raw_bytes(),
        || format!("{g:?}: logical_bytes"),
    )
}

/// A valid geometry's derived sizes agree.
fn check_valid(g: &Geometry, block: u32) -> Result<(), String> {
    let spp = g.sectors_per_page();
    ensure(
        spp >= 1 && spp as u32 * g.sector_size == g.page_size,
        || format!("{g:?}: page is not whole sectors"),
    )?;
    // Valid geometries address at most 2^32 - 1 sectors, so u64 suffices.
    let blocks = blocks_u128(g) as u64;
    ensure(u64::from(g.total_blocks()) == blocks, || {
        format!("{g:?}: total_blocks wrapped")
    })?;
    let sectors = blocks * u64::from(g.pages_per_block) * spp as u64;
    ensure(u64::from(g.total_sectors()) == sectors, || {
        format!("{g:?}: total_sectors wrapped")
    })?;
    ensure(
        u64::from(g.sectors_per_block()) == u64::from(g.pages_per_block) * spp as u64,
        || format!("{g:?}: sectors_per_block wrapped"),
    )?;
    let raw = blocks * u64::from(g.pages_per_block) * u64::from(g.page_size);
    ensure(g.raw_bytes() == raw, || format!("{g:?}: raw_bytes"))?;
    let last = g.total_blocks() - 1;
    for b in [0, last, block % g.total_blocks()] {
        let (c, d, p, k) = g.block_location(BlockIdx(b));
        ensure(
            c < g.channels
                && d < g.dies_per_channel
                && p < g.planes_per_die
                && k < g.blocks_per_plane,
            || format!("{g:?}: block {b} located outside the array"),
        )?;
        let flat = ((u64::from(c) * u64::from(g.dies_per_channel) + u64::from(d))
            * u64::from(g.planes_per_die)
            + u64::from(p))
            * u64::from(g.blocks_per_plane)
            + u64::from(k);
        ensure(flat == u64::from(b), || {
            format!("{g:?}: block {b} located at {c}/{d}/{p}/{k}")
        })?;
    }
    ensure(
        g.contains(Ppa::new(BlockIdx(last), g.pages_per_block - 1)),
        || format!("{g:?}: last page outside"),
    )?;
    ensure(
        !g.contains(Ppa::new(BlockIdx(last + 1), 0))
            && !g.contains(Ppa::new(BlockIdx(0), g.pages_per_block)),
        || format!("{g:?}: a page past the end is inside"),
    )
}

/// `Ftl::format` on a small array with the fuzzed configuration.
fn check_format(input: &Input, g: &Geometry) -> Result<(), String> {
    // The RAM NAND holds the spare areas too: a huge `oob_size` on a tiny
    // array is gigabytes (found by the smoke run: an OOM, not a bug).
    let spare = u64::from(g.total_blocks())
        .saturating_mul(u64::from(g.pages_per_block))
        .saturating_mul(u64::from(g.oob_size));
    if g.raw_bytes().saturating_add(spare) > MAX_RAW_BYTES {
        return Ok(());
    }
    let cfg = input.config();
    let ss = g.sector_size as usize;
    let slots = usize::from(input.slots).min(MAX_POOL_BYTES / ss) as u32;
    // What the configuration check will demand, computed without overflow.
    let spp = g.sectors_per_page() as u64;
    let needed = (u64::from(cfg.handles) + 1) * u64::from(cfg.prefill_slots)
        + (u64::from(cfg.max_io_sectors) + 4) * spp;
    let io_table = (u64::from(cfg.handles) + 1) * u64::from(cfg.max_io_sectors);
    if needed <= u64::from(slots) && io_table > MAX_IO_TABLE {
        // Would pass the check and then size tables beyond this harness's
        // memory budget; a refusal before any allocation is still tried.
        return Ok(());
    }
    let pool = SlotPool::with_capacity(slots, ss);
    let mut ftl = match Ftl::format(RamNand::new(*g), pool, cfg) {
        Ok(f) => f,
        Err(Error::Config(ConfigError::TooFewSlots { needed: n })) => {
            return ensure(u64::from(n) == needed && u64::from(slots) < needed, || {
                format!("{cfg:?} on {g:?}: {slots} slots refused, needing {n} (expected {needed})")
            });
        }
        Err(Error::Config(ConfigError::Handles)) => {
            return ensure(
                cfg.handles == 0
                    || cfg.handles >= u32::from(u16::MAX)
                    || cfg.max_io_sectors == 0
                    || cfg.max_io_sectors > u32::from(u16::MAX),
                || format!("{cfg:?}: handles refused"),
            );
        }
        Err(Error::Config(ConfigError::GcThreshold)) => {
            // The threshold must leave the open blocks their reserve.
            return ensure(
                !(2..=RESERVED_BLOCKS - 2).contains(&cfg.gc_threshold_blocks),
                || format!("{cfg:?}: GC threshold refused"),
            );
        }
        Err(e) => return Err(format!("{cfg:?} on {g:?}: format failed: {e}")),
    };
    ensure(ftl.logical_sectors() == cfg.logical_sectors(g), || {
        format!("{g:?}: FTL capacity differs from the configuration's")
    })?;
    ftl.check_integrity().map_err(|e| e.to_string())?;
    let lba = Lba(cfg.logical_sectors(g) - 1);
    let sector: Vec<u8> = (0..ss).map(|i| (i % 251) as u8 ^ 0x5A).collect();
    ftl.write(lba, &sector)
        .map_err(|e| format!("{g:?}: write: {e}"))?;
    ftl.flush().map_err(|e| format!("{g:?}: flush: {e}"))?;
    let mut back = vec![0u8; ss];
    ftl.read(lba, &mut back)
        .map_err(|e| format!("{g:?}: read: {e}"))?;
    ensure(back == sector, || format!("{g:?}: read back other data"))
}

/// Runs one case; `Err` describes a violated property.
pub fn run(input: &Input) -> Result<(), String> {
    let g = input.geometry();
    match g.validate() {
        Err(e) => check_refusal(&g, e),
        Ok(()) => {
            check_valid(&g, input.block)?;
            let cfg = input.config();
            match cfg.check_geometry(&g) {
                Err(e) => check_config_refusal(&g, &cfg, e),
                Ok(()) => {
                    check_capacity(&g, &cfg)?;
                    check_format(input, &g)
                }
            }
        }
    }
}
