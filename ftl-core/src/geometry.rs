//! The shape of a NAND array and the arithmetic every layer shares.
//!
//! Blocks are numbered flat across the array: channel-major, then die, then
//! plane, then block within the plane. Pages are numbered within their block.
//! A *sector* is the host's unit (and the patent's "physical storage block",
//! one cache slot); a page holds `sectors_per_page()` of them.

use core::fmt;

use crate::addr::{BlockIdx, Ppa};
use crate::format::oob;

pub use crate::format::oob::MAX_SECTORS_PER_PAGE;

/// The shape of a NAND array plus the share of it kept back as
/// over-provisioning. Small and `Copy`: every layer keeps its own copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Geometry {
    /// Independent channels.
    pub channels: u16,
    /// Dies on each channel.
    pub dies_per_channel: u16,
    /// Planes in each die.
    pub planes_per_die: u16,
    /// Erase blocks in each plane.
    pub blocks_per_plane: u32,
    /// Pages in each erase block; programmed in order.
    pub pages_per_block: u32,
    /// Data bytes in one page (16 KiB by default).
    pub page_size: u32,
    /// Bytes in one host sector / cache slot (4 KiB by default).
    pub sector_size: u32,
    /// Spare (OOB) bytes per page available to the FTL.
    pub oob_size: u32,
    /// Percent of the usable flash hidden from the host so garbage
    /// collection always finds space (1..=90).
    pub over_provisioning_percent: u8,
}

impl Default for Geometry {
    /// A 1 GiB device: 1 channel, 1 die, 1 plane, 256 blocks × 256 pages ×
    /// 16 KiB with 4 KiB sectors and 12 % over-provisioning.
    fn default() -> Self {
        Geometry {
            channels: 1,
            dies_per_channel: 1,
            planes_per_die: 1,
            blocks_per_plane: 256,
            pages_per_block: 256,
            page_size: 16 * 1024,
            sector_size: 4096,
            oob_size: 128,
            over_provisioning_percent: 12,
        }
    }
}

/// Why a [`Geometry`] was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GeometryError {
    /// A count (channels, dies, planes, blocks, pages) is zero.
    ZeroCount,
    /// The sector size is not a power of two in 512..=65536.
    SectorSize,
    /// The page size is not a whole number of sectors, or holds more than
    /// [`MAX_SECTORS_PER_PAGE`].
    PageSize,
    /// The spare area cannot hold the per-page record (`needed` bytes).
    OobTooSmall {
        /// Bytes the OOB record needs for this page size.
        needed: u32,
    },
    /// Too few blocks for the FTL to run (open blocks, GC reserve, data).
    TooFewBlocks {
        /// The minimum number of blocks.
        needed: u32,
    },
    /// Over-provisioning outside 1..=90 percent, or too small to hold the
    /// blocks garbage collection needs in reserve.
    OverProvisioning,
    /// Addresses would overflow the 32-bit physical sector numbers.
    TooLarge,
}

impl fmt::Display for GeometryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GeometryError::ZeroCount => write!(f, "a channel/die/plane/block/page count is zero"),
            GeometryError::SectorSize => {
                write!(
                    f,
                    "sector size must be a power of two between 512 and 65536"
                )
            }
            GeometryError::PageSize => write!(
                f,
                "page size must be a whole number of sectors, at most {MAX_SECTORS_PER_PAGE}"
            ),
            GeometryError::OobTooSmall { needed } => {
                write!(
                    f,
                    "spare area too small: the page record needs {needed} bytes"
                )
            }
            GeometryError::TooFewBlocks { needed } => {
                write!(f, "too few blocks: at least {needed} are needed")
            }
            GeometryError::OverProvisioning => write!(
                f,
                "over-provisioning must be 1..=90 % and leave room for the GC reserve"
            ),
            GeometryError::TooLarge => write!(f, "geometry exceeds 2^32 physical sectors"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for GeometryError {}

/// Blocks the FTL keeps out of the host's reach besides the meta stream:
/// three open blocks (host, relocation, meta) plus a GC reserve.
pub const RESERVED_BLOCKS: u32 = 5;
/// The smallest array the FTL runs on.
pub const MIN_BLOCKS: u32 = 8;

impl Geometry {
    /// Checks the geometry is one the FTL can run on.
    pub fn validate(&self) -> Result<(), GeometryError> {
        if self.channels == 0
            || self.dies_per_channel == 0
            || self.planes_per_die == 0
            || self.blocks_per_plane == 0
            || self.pages_per_block == 0
        {
            return Err(GeometryError::ZeroCount);
        }
        if !self.sector_size.is_power_of_two() || !(512..=65536).contains(&self.sector_size) {
            return Err(GeometryError::SectorSize);
        }
        if self.page_size == 0
            || self.page_size % self.sector_size != 0
            || self.page_size / self.sector_size > MAX_SECTORS_PER_PAGE as u32
        {
            return Err(GeometryError::PageSize);
        }
        if (self.page_size as usize) < crate::format::meta_page::HEADER_LEN + 64 {
            return Err(GeometryError::PageSize);
        }
        let needed = oob::record_len(self.sectors_per_page()) as u32;
        if self.oob_size < needed {
            return Err(GeometryError::OobTooSmall { needed });
        }
        // u128: four u16/u32 factors can overflow u64 (found by fuzzing).
        let blocks = u128::from(self.channels)
            * u128::from(self.dies_per_channel)
            * u128::from(self.planes_per_die)
            * u128::from(self.blocks_per_plane);
        let sectors = blocks * u128::from(self.pages_per_block) * self.sectors_per_page() as u128;
        // The top two u32 values are the L2P's "unmapped" and "lost" markers.
        if sectors >= u128::from(u32::MAX - 1) {
            return Err(GeometryError::TooLarge);
        }
        if blocks < u128::from(MIN_BLOCKS) {
            return Err(GeometryError::TooFewBlocks { needed: MIN_BLOCKS });
        }
        if !(1..=90).contains(&self.over_provisioning_percent) {
            return Err(GeometryError::OverProvisioning);
        }
        if self.logical_sectors() == 0 {
            return Err(GeometryError::OverProvisioning);
        }
        Ok(())
    }

    /// Sectors (cache slots) in one page.
    pub fn sectors_per_page(&self) -> usize {
        (self.page_size / self.sector_size) as usize
    }

    /// Erase blocks in the whole array.
    pub fn total_blocks(&self) -> u32 {
        u32::from(self.channels)
            * u32::from(self.dies_per_channel)
            * u32::from(self.planes_per_die)
            * self.blocks_per_plane
    }

    /// Sectors in one erase block.
    pub fn sectors_per_block(&self) -> u32 {
        self.pages_per_block * self.sectors_per_page() as u32
    }

    /// Physical sectors in the whole array.
    pub fn total_sectors(&self) -> u32 {
        self.total_blocks() * self.sectors_per_block()
    }

    /// Raw capacity in bytes. Safe on any geometry, valid or not (error
    /// messages quote it): a product past `u64::MAX` saturates.
    pub fn raw_bytes(&self) -> u64 {
        [
            u64::from(self.dies_per_channel),
            u64::from(self.planes_per_die),
            u64::from(self.blocks_per_plane),
            u64::from(self.pages_per_block),
            u64::from(self.page_size),
        ]
        .iter()
        .fold(u64::from(self.channels), |acc, &f| acc.saturating_mul(f))
    }

    /// Blocks the meta stream may hold at once: two checkpoints (the one
    /// being written and the last complete one) plus one for trim records.
    /// Sized from an upper bound of the checkpoint (every physical sector
    /// an LBA), so it does not depend on the logical size it helps set.
    pub fn meta_blocks(&self) -> u32 {
        let chunks = crate::format::checkpoint::Shape {
            logical: u64::from(self.total_sectors()),
            blocks: self.total_blocks(),
        }
        .chunks(self.page_size as usize);
        2 * chunks.div_ceil(self.pages_per_block) + 1
    }

    /// Blocks kept out of the host's reach: open blocks, GC reserve, meta.
    pub fn reserved_blocks(&self) -> u32 {
        RESERVED_BLOCKS + self.meta_blocks()
    }

    /// Sectors the host sees: all blocks but the reserve, less
    /// over-provisioning, rounded down to whole pages.
    pub fn logical_sectors(&self) -> u64 {
        let usable = u64::from(self.total_blocks().saturating_sub(self.reserved_blocks()))
            * u64::from(self.sectors_per_block());
        let after_op = usable * (100 - u64::from(self.over_provisioning_percent)) / 100;
        let spp = self.sectors_per_page() as u64;
        after_op / spp * spp
    }

    /// Bytes the host sees.
    pub fn logical_bytes(&self) -> u64 {
        self.logical_sectors() * u64::from(self.sector_size)
    }

    /// (channel, die, plane, block-in-plane) of a flat block index.
    pub fn block_location(&self, block: BlockIdx) -> (u16, u16, u16, u32) {
        let b = block.0;
        let in_plane = b % self.blocks_per_plane;
        let plane = b / self.blocks_per_plane;
        let p = plane % u32::from(self.planes_per_die);
        let die = plane / u32::from(self.planes_per_die);
        let d = die % u32::from(self.dies_per_channel);
        let ch = die / u32::from(self.dies_per_channel);
        (ch as u16, d as u16, p as u16, in_plane)
    }

    /// Whether `ppa` names a page inside the array.
    pub fn contains(&self, ppa: Ppa) -> bool {
        ppa.block.0 < self.total_blocks() && ppa.page < self.pages_per_block
    }

    /// A small geometry for tests: `blocks` blocks of `pages` pages of
    /// 4 × 4 KiB, 128-byte OOB, `op` % over-provisioning.
    pub fn small(blocks: u32, pages: u32, op: u8) -> Self {
        Geometry {
            channels: 1,
            dies_per_channel: 1,
            planes_per_die: 1,
            blocks_per_plane: blocks,
            pages_per_block: pages,
            page_size: 16 * 1024,
            sector_size: 4096,
            oob_size: 128,
            over_provisioning_percent: op,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_bytes_saturates_on_nonsense() {
        let g = Geometry {
            channels: u16::MAX,
            dies_per_channel: u16::MAX,
            planes_per_die: u16::MAX,
            blocks_per_plane: u32::MAX,
            pages_per_block: u32::MAX,
            page_size: u32::MAX,
            ..Geometry::default()
        };
        assert!(g.validate().is_err());
        assert_eq!(g.raw_bytes(), u64::MAX);
    }

    #[test]
    fn default_is_valid_and_sized() {
        let g = Geometry::default();
        g.validate().unwrap();
        assert_eq!(g.sectors_per_page(), 4);
        assert_eq!(g.raw_bytes(), 1 << 30);
        assert!(g.logical_bytes() < g.raw_bytes());
        assert_eq!(g.logical_sectors() % 4, 0);
    }

    #[test]
    fn nonsense_is_an_error_not_a_panic() {
        let ok = Geometry::default();
        let cases = [
            (Geometry { channels: 0, ..ok }, GeometryError::ZeroCount),
            (
                Geometry {
                    pages_per_block: 0,
                    ..ok
                },
                GeometryError::ZeroCount,
            ),
            (
                Geometry {
                    sector_size: 3000,
                    ..ok
                },
                GeometryError::SectorSize,
            ),
            (
                Geometry {
                    page_size: 10_000,
                    ..ok
                },
                GeometryError::PageSize,
            ),
            (Geometry { page_size: 0, ..ok }, GeometryError::PageSize),
            (
                Geometry {
                    page_size: 128 * 1024,
                    ..ok
                },
                GeometryError::PageSize,
            ),
            (
                Geometry {
                    over_provisioning_percent: 0,
                    ..ok
                },
                GeometryError::OverProvisioning,
            ),
            (
                Geometry {
                    over_provisioning_percent: 95,
                    ..ok
                },
                GeometryError::OverProvisioning,
            ),
            (
                Geometry {
                    blocks_per_plane: 3,
                    ..ok
                },
                GeometryError::TooFewBlocks { needed: 8 },
            ),
            (
                Geometry {
                    blocks_per_plane: u32::MAX,
                    ..ok
                },
                GeometryError::TooLarge,
            ),
        ];
        for (g, want) in cases {
            assert_eq!(g.validate(), Err(want), "{g:?}");
        }
        assert!(matches!(
            Geometry { oob_size: 8, ..ok }.validate(),
            Err(GeometryError::OobTooSmall { .. })
        ));
    }

    #[test]
    fn block_location_round_trips() {
        let g = Geometry {
            channels: 2,
            dies_per_channel: 3,
            planes_per_die: 2,
            blocks_per_plane: 5,
            ..Geometry::default()
        };
        g.validate().unwrap();
        let mut seen = alloc::vec::Vec::new();
        for b in 0..g.total_blocks() {
            let (c, d, p, k) = g.block_location(BlockIdx(b));
            assert!(c < 2 && d < 3 && p < 2 && k < 5);
            let flat = ((u32::from(c) * 3 + u32::from(d)) * 2 + u32::from(p)) * 5 + k;
            assert_eq!(flat, b);
            seen.push((c, d, p, k));
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), g.total_blocks() as usize);
    }
}
