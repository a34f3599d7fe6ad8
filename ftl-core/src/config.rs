//! FTL tuning, validated against the geometry and the slot memory.

use crate::gc::GcPolicy;
use crate::geometry::Geometry;

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
    /// A checkpoint is written after this many host pages: recovery replays
    /// at most about this many pages (plus the open blocks).
    pub checkpoint_interval_pages: u32,
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
            checkpoint_interval_pages: 1024,
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
    /// The checkpoint interval is zero.
    CheckpointInterval,
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
            ConfigError::CheckpointInterval => {
                write!(f, "checkpoint interval must be at least 1 page")
            }
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

    /// Slots to give a cache of `bytes` bytes (at least [`Self::min_slots`]).
    pub fn slots_for_budget(&self, geo: &Geometry, bytes: usize) -> u32 {
        let n = (bytes / geo.sector_size as usize).min(u32::MAX as usize / 2) as u32;
        n.max(self.min_slots(geo))
    }

    pub(crate) fn validate(&self, geo: &Geometry, slots: u32) -> Result<(), ConfigError> {
        geo.validate().map_err(ConfigError::Geometry)?;
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
        if !(2..=crate::geometry::RESERVED_BLOCKS - 2).contains(&self.gc_threshold_blocks) {
            return Err(ConfigError::GcThreshold);
        }
        if self.checkpoint_interval_pages == 0 {
            return Err(ConfigError::CheckpointInterval);
        }
        Ok(())
    }
}
