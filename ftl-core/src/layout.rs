//! Address arithmetic between physical sectors, pages and blocks.
//!
//! A physical sector address ([`Psa`]) numbers every sector of the array:
//! `(block · pages_per_block + page) · sectors_per_page + i`. The geometry
//! guarantees the array has fewer than 2³² sectors, so a `Psa` fits a `u32`.

use crate::addr::{BlockIdx, Ppa, Psa};
use crate::geometry::Geometry;

/// Sectors per page, pages per block and sectors per block of an array.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// Sectors per page.
    pub spp: u32,
    /// Pages per block.
    pub ppb: u32,
    /// Sectors per block.
    pub spb: u32,
    /// Block summaries that fit a summary page, which
    /// `FtlConfig::summaries_per_page` may cap (0: a block's summary does
    /// not fit, and recovery scans every block page by page).
    pub summaries_fit: u32,
    /// Sectors in the array.
    pub total: u32,
}

impl Layout {
    /// The layout of `geo`.
    pub fn new(geo: &Geometry) -> Self {
        let spp = geo.sectors_per_page() as u32;
        Layout {
            spp,
            ppb: geo.pages_per_block,
            spb: spp * geo.pages_per_block,
            summaries_fit: crate::format::summary::per_page(
                geo.page_size as usize,
                geo.pages_per_block,
                geo.sectors_per_page(),
            ) as u32,
            total: geo.total_sectors(),
        }
    }

    /// The sector `i` of page `ppa`.
    pub fn psa(&self, ppa: Ppa, i: usize) -> Psa {
        debug_assert!(ppa.page < self.ppb && (i as u32) < self.spp);
        Psa((ppa.block.0 * self.ppb + ppa.page) * self.spp + i as u32)
    }

    /// The page holding `psa`, and the sector's index in it.
    pub fn ppa(&self, psa: Psa) -> (Ppa, usize) {
        let page = psa.0 / self.spp;
        (
            Ppa::new(BlockIdx(page / self.ppb), page % self.ppb),
            (psa.0 % self.spp) as usize,
        )
    }

    /// The block holding `psa`.
    pub fn block(&self, psa: Psa) -> BlockIdx {
        BlockIdx(psa.0 / self.spb)
    }

    /// Whether full data blocks get a summary.
    pub fn has_summary(&self) -> bool {
        self.summaries_fit > 0
    }

    /// Page address of `ppa` as the translation directory stores it.
    pub fn page_index(&self, ppa: Ppa) -> u32 {
        ppa.block.0 * self.ppb + ppa.page
    }

    /// The page a directory address names, if inside the array.
    pub fn page_at(&self, index: u32) -> Option<Ppa> {
        let b = index / self.ppb;
        (u64::from(index) * u64::from(self.spp) < u64::from(self.total))
            .then(|| Ppa::new(BlockIdx(b), index % self.ppb))
    }

    /// Whether `psa` lies inside the array.
    pub fn contains(&self, psa: Psa) -> bool {
        psa.0 < self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_round_trips() {
        let g = Geometry::small(8, 16);
        let l = Layout::new(&g);
        for psa in (0..g.total_sectors()).map(Psa) {
            let (ppa, i) = l.ppa(psa);
            assert_eq!(l.psa(ppa, i), psa);
            assert_eq!(l.block(psa), ppa.block);
            assert!(l.contains(psa));
        }
        assert!(!l.contains(Psa(g.total_sectors())));
    }
}
