//! The page-level logical-to-physical map and the physical validity bitmap.
//!
//! Both are at sector granularity. A *physical sector address* (psa) numbers
//! every sector of the array: `(block · pages_per_block + page) ·
//! sectors_per_page + i`. The L2P holds, per LBA, the psa of its newest
//! version *on flash* (the read map covers versions still in the cache).
//! The validity bitmap (bitvec) marks psas holding a current version, with
//! a count per block for victim selection.

use alloc::vec::Vec;

use bitvec::vec::BitVec;

use crate::addr::{BlockIdx, Lba, Ppa};
use crate::geometry::Geometry;

/// L2P value of an LBA never written or trimmed: reads as zeros.
pub const UNMAPPED: u32 = u32::MAX;
/// L2P value of an LBA whose flash copy was lost to an uncorrectable error:
/// reads fail until it is written again.
pub const LOST: u32 = u32::MAX - 1;

/// Address arithmetic between psas, pages and blocks.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// Sectors per page.
    pub spp: u32,
    /// Pages per block.
    pub ppb: u32,
    /// Sectors per block.
    pub spb: u32,
}

impl Layout {
    /// The layout of `geo`.
    pub fn new(geo: &Geometry) -> Self {
        let spp = geo.sectors_per_page() as u32;
        Layout {
            spp,
            ppb: geo.pages_per_block,
            spb: spp * geo.pages_per_block,
        }
    }

    /// psa of sector `i` of page `ppa`.
    pub fn psa(&self, ppa: Ppa, i: usize) -> u32 {
        (ppa.block.0 * self.ppb + ppa.page) * self.spp + i as u32
    }

    /// The page holding `psa`, and the sector's index in it.
    pub fn ppa(&self, psa: u32) -> (Ppa, usize) {
        let page = psa / self.spp;
        (
            Ppa::new(BlockIdx(page / self.ppb), page % self.ppb),
            (psa % self.spp) as usize,
        )
    }

    /// The block holding `psa`.
    pub fn block(&self, psa: u32) -> BlockIdx {
        BlockIdx(psa / self.spb)
    }
}

/// LBA → psa (or [`UNMAPPED`] / [`LOST`]).
#[derive(Debug)]
pub struct L2p {
    map: Vec<u32>,
}

impl L2p {
    /// `sectors` LBAs, all unmapped.
    pub fn new(sectors: u64) -> Self {
        L2p {
            map: alloc::vec![UNMAPPED; sectors as usize],
        }
    }

    /// LBAs covered.
    pub fn len(&self) -> u64 {
        self.map.len() as u64
    }

    /// Whether the map covers no LBA.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Where `lba` lives.
    pub fn get(&self, lba: Lba) -> u32 {
        self.map[lba.0 as usize]
    }

    /// Points `lba` at `psa`; returns the previous value.
    pub fn set(&mut self, lba: Lba, psa: u32) -> u32 {
        core::mem::replace(&mut self.map[lba.0 as usize], psa)
    }

    /// The first LBA whose value satisfies `f` (slow: a linear scan for
    /// rare recovery paths only).
    pub fn find(&self, mut f: impl FnMut(u32) -> bool) -> Option<Lba> {
        self.map.iter().position(|&v| f(v)).map(|i| Lba(i as u64))
    }
}

/// Which physical sectors hold current data; valid count per block.
#[derive(Debug)]
pub struct Validity {
    bits: BitVec,
    count: Vec<u32>,
    layout: Layout,
}

impl Validity {
    /// All sectors of `geo` invalid.
    pub fn new(geo: &Geometry) -> Self {
        Validity {
            bits: BitVec::repeat(false, geo.total_sectors() as usize),
            count: alloc::vec![0; geo.total_blocks() as usize],
            layout: Layout::new(geo),
        }
    }

    /// Whether `psa` holds current data.
    pub fn is_valid(&self, psa: u32) -> bool {
        self.bits[psa as usize]
    }

    /// Marks `psa` current.
    pub fn set(&mut self, psa: u32) {
        debug_assert!(!self.bits[psa as usize], "psa {psa} already valid");
        self.bits.set(psa as usize, true);
        self.count[self.layout.block(psa).0 as usize] += 1;
    }

    /// Marks `psa` stale; returns the block's remaining valid count.
    pub fn clear(&mut self, psa: u32) -> u32 {
        debug_assert!(self.bits[psa as usize], "psa {psa} already invalid");
        self.bits.set(psa as usize, false);
        let c = &mut self.count[self.layout.block(psa).0 as usize];
        *c -= 1;
        *c
    }

    /// Valid sectors in `block`.
    pub fn count(&self, block: BlockIdx) -> u32 {
        self.count[block.0 as usize]
    }

    /// Whether any sector of page `ppa` is valid.
    pub fn page_has_valid(&self, ppa: Ppa) -> bool {
        let start = self.layout.psa(ppa, 0) as usize;
        self.bits[start..start + self.layout.spp as usize].any()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_round_trips() {
        let g = Geometry::small(8, 16, 20);
        let l = Layout::new(&g);
        for psa in 0..g.total_sectors() {
            let (ppa, i) = l.ppa(psa);
            assert_eq!(l.psa(ppa, i), psa);
            assert_eq!(l.block(psa), ppa.block);
        }
    }

    #[test]
    fn validity_counts_per_block() {
        let g = Geometry::small(8, 16, 20);
        let mut v = Validity::new(&g);
        let l = Layout::new(&g);
        let p = l.psa(Ppa::new(BlockIdx(2), 3), 1);
        v.set(p);
        v.set(p + 1);
        assert_eq!(v.count(BlockIdx(2)), 2);
        assert!(v.page_has_valid(Ppa::new(BlockIdx(2), 3)));
        assert!(!v.page_has_valid(Ppa::new(BlockIdx(2), 4)));
        assert_eq!(v.clear(p), 1);
        assert!(!v.is_valid(p));
        let mut m = L2p::new(10);
        assert_eq!(m.set(Lba(4), p), UNMAPPED);
        assert_eq!(m.find(|x| x == p), Some(Lba(4)));
    }
}
