//! Which physical sectors hold a current version of some LBA, with a count
//! per block for victim selection.
//!
//! Two ways to keep it, chosen with the map:
//! - **per sector** (with a whole map): a bitvec, one bit per physical
//!   sector, and the counts. GC reads only pages with valid sectors, and
//!   every claim is checked (a sector claimed twice is caught).
//! - **counts only** (with a demand-paged map, whose budget the bitmap
//!   would dwarf: 32 MiB per TiB): 4 bytes per block. Which sectors are
//!   current is the map's to say, as in DFTL: GC reads each page of a
//!   victim and keeps the sectors whose LBA (from the page's record) still
//!   maps there.

use alloc::vec::Vec;

use bitvec::vec::BitVec;

use crate::addr::{BlockIdx, Ppa, Psa};
use crate::layout::Layout;

/// The valid sectors (or only their number) per block.
#[derive(Debug)]
pub struct Validity {
    /// One bit per physical sector, when kept per sector.
    bits: Option<BitVec>,
    count: Vec<u32>,
    layout: Layout,
}

impl Validity {
    /// Every sector of the array invalid; `per_sector`: whether a bit per
    /// sector is kept, or only counts.
    pub fn new(layout: Layout, blocks: u32, per_sector: bool) -> Self {
        Validity {
            bits: per_sector.then(|| BitVec::repeat(false, layout.total as usize)),
            count: alloc::vec![0; blocks as usize],
            layout,
        }
    }

    /// Bytes of RAM held.
    pub fn ram_bytes(&self) -> usize {
        self.bits.as_ref().map_or(0, |b| b.capacity() / 8) + crate::ram::vec_bytes(&self.count)
    }

    /// Whether sectors are tracked one by one.
    pub fn per_sector(&self) -> bool {
        self.bits.is_some()
    }

    /// Whether `psa` holds current data; `None` when only counts are kept.
    pub fn sector(&self, psa: Psa) -> Option<bool> {
        self.bits.as_ref().map(|b| b[psa.0 as usize])
    }

    /// Marks `psa` current. It must not be already.
    pub fn set(&mut self, psa: Psa) {
        if let Some(bits) = self.bits.as_mut() {
            assert!(!bits[psa.0 as usize], "{psa} already valid");
            bits.set(psa.0 as usize, true);
        }
        let c = &mut self.count[self.layout.block(psa).0 as usize];
        *c += 1;
        assert!(
            *c <= self.layout.spb,
            "more valid sectors than {psa}'s block has"
        );
    }

    /// Marks `psa` stale; returns the block's remaining valid count. It must
    /// be valid.
    pub fn clear(&mut self, psa: Psa) -> u32 {
        if let Some(bits) = self.bits.as_mut() {
            assert!(bits[psa.0 as usize], "{psa} already invalid");
            bits.set(psa.0 as usize, false);
        }
        let c = &mut self.count[self.layout.block(psa).0 as usize];
        assert!(*c > 0, "{psa} cleared in a block with no valid sector");
        *c -= 1;
        *c
    }

    /// Valid sectors in `block`.
    pub fn count(&self, block: BlockIdx) -> u32 {
        self.count[block.0 as usize]
    }

    /// Valid sectors of every block, by index.
    pub fn counts(&self) -> &[u32] {
        &self.count
    }

    /// Valid sectors in the whole array.
    pub fn total(&self) -> u64 {
        self.count.iter().map(|&c| u64::from(c)).sum()
    }

    /// Whether any sector of page `ppa` may be valid: exact per sector,
    /// else whether its block has any.
    pub fn page_has_valid(&self, ppa: Ppa) -> bool {
        match &self.bits {
            Some(bits) => {
                let start = self.layout.psa(ppa, 0).0 as usize;
                bits[start..start + self.layout.spp as usize].any()
            }
            None => self.count(ppa.block) > 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Geometry;

    #[test]
    fn counts_per_block() {
        let g = Geometry::small(8, 16);
        let l = Layout::new(&g);
        let mut v = Validity::new(l, g.total_blocks(), true);
        let p = l.psa(Ppa::new(BlockIdx(2), 3), 1);
        v.set(p);
        v.set(Psa(p.0 + 1));
        assert_eq!(v.count(BlockIdx(2)), 2);
        assert!(v.page_has_valid(Ppa::new(BlockIdx(2), 3)));
        assert!(!v.page_has_valid(Ppa::new(BlockIdx(2), 4)));
        assert_eq!(v.clear(p), 1);
        assert_eq!(v.sector(p), Some(false));
    }

    #[test]
    fn counts_only() {
        let g = Geometry::small(8, 16);
        let l = Layout::new(&g);
        let mut v = Validity::new(l, g.total_blocks(), false);
        let p = l.psa(Ppa::new(BlockIdx(2), 3), 1);
        v.set(p);
        assert_eq!(v.sector(p), None);
        assert!(v.page_has_valid(Ppa::new(BlockIdx(2), 9)));
        assert!(!v.page_has_valid(Ppa::new(BlockIdx(3), 0)));
        assert_eq!(v.clear(p), 0);
        assert!(v.ram_bytes() < 64);
    }

    #[test]
    #[should_panic(expected = "already valid")]
    fn double_set_is_caught() {
        let g = Geometry::small(8, 16);
        let l = Layout::new(&g);
        let mut v = Validity::new(l, g.total_blocks(), true);
        v.set(Psa(5));
        v.set(Psa(5));
    }
}
