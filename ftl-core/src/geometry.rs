//! The shape of a NAND array and the arithmetic every layer shares.
//!
//! Blocks are numbered flat across the array: channel-major, then die, then
//! plane, then block within the plane. Pages are numbered within their block.
//! A *sector* is the host's unit (and the patent's "physical storage block",
//! one cache slot); a page holds `sectors_per_page()` of them.
//!
//! Only the NAND's shape lives here. What the FTL makes of it — the logical
//! capacity, over-provisioning, reserved blocks, whether its spare-area
//! record fits — is the FTL's configuration (`crate::config`).

use core::fmt;

use crate::addr::{BlockIdx, Ppa};

pub use crate::format::oob::MAX_SECTORS_PER_PAGE;

/// The shape of a NAND array. Small and `Copy`: every layer keeps its own
/// copy.
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
}

impl Default for Geometry {
    /// A 1 GiB array: 1 channel, 1 die, 1 plane, 256 blocks × 256 pages ×
    /// 16 KiB with 4 KiB sectors and 128 spare bytes per page.
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
    /// The page size is not a whole number of sectors.
    PageSize,
    /// The array has 2³² sectors or more: they would not fit the `u32`
    /// sector arithmetic.
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
            GeometryError::PageSize => write!(f, "page size must be a whole number of sectors"),
            GeometryError::TooLarge => write!(f, "geometry exceeds 2^32 physical sectors"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for GeometryError {}

impl Geometry {
    /// Checks the shape is a NAND array at all: no zero counts, a sector
    /// size a power of two, whole sectors per page, and an array small
    /// enough for the `u32` sector arithmetic below. Whether the FTL can
    /// run on it is `FtlConfig`'s question.
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
        if self.page_size == 0 || self.page_size % self.sector_size != 0 {
            return Err(GeometryError::PageSize);
        }
        // Checked: six hostile factors overflow even u128 (found by fuzzing).
        let sectors = [
            u64::from(self.dies_per_channel),
            u64::from(self.planes_per_die),
            u64::from(self.blocks_per_plane),
            u64::from(self.pages_per_block),
            u64::from(self.page_size / self.sector_size),
        ]
        .iter()
        .try_fold(u64::from(self.channels), |acc, &f| acc.checked_mul(f));
        if !matches!(sectors, Some(n) if n <= u64::from(u32::MAX)) {
            return Err(GeometryError::TooLarge);
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
    /// 4 × 4 KiB, 128-byte OOB.
    pub fn small(blocks: u32, pages: u32) -> Self {
        Geometry {
            channels: 1,
            dies_per_channel: 1,
            planes_per_die: 1,
            blocks_per_plane: blocks,
            pages_per_block: pages,
            page_size: 16 * 1024,
            sector_size: 4096,
            oob_size: 128,
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
    fn six_large_factors_are_too_large_not_an_overflow() {
        // Found by fuzzing (cli_parse): sectors per page up to 2^23 made the
        // product of the six counts overflow u128.
        let g = Geometry {
            channels: u16::MAX,
            dies_per_channel: u16::MAX,
            planes_per_die: u16::MAX,
            blocks_per_plane: u32::MAX,
            pages_per_block: u32::MAX,
            page_size: 1 << 31,
            sector_size: 512,
            oob_size: 0,
        };
        assert_eq!(g.validate(), Err(GeometryError::TooLarge));
    }

    #[test]
    fn default_is_valid_and_sized() {
        let g = Geometry::default();
        g.validate().unwrap();
        assert_eq!(g.sectors_per_page(), 4);
        assert_eq!(g.raw_bytes(), 1 << 30);
        assert_eq!(u64::from(g.total_sectors()) * 4096, 1 << 30);
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
                    blocks_per_plane: u32::MAX,
                    ..ok
                },
                GeometryError::TooLarge,
            ),
        ];
        for (g, want) in cases {
            assert_eq!(g.validate(), Err(want), "{g:?}");
        }
        // Shapes the FTL refuses are still NAND shapes.
        for g in [
            Geometry { oob_size: 8, ..ok },
            Geometry {
                page_size: 128 * 1024,
                ..ok
            },
            Geometry {
                blocks_per_plane: 3,
                ..ok
            },
        ] {
            assert_eq!(g.validate(), Ok(()), "{g:?}");
        }
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
