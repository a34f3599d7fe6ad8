//! Which physical sectors hold a current version of some LBA, with a count
//! per block for victim selection. A bitvec: one bit per physical sector.

use alloc::vec::Vec;

use bitvec::vec::BitVec;

use crate::addr::{BlockIdx, Ppa, Psa};
use crate::layout::Layout;

/// The validity bitmap and per-block valid counts.
#[derive(Debug)]
pub struct Validity {
    bits: BitVec,
    count: Vec<u32>,
    layout: Layout,
}

impl Validity {
    /// Every sector of the array invalid.
    pub fn new(layout: Layout, blocks: u32) -> Self {
        Validity {
            bits: BitVec::repeat(false, layout.total as usize),
            count: alloc::vec![0; blocks as usize],
            layout,
        }
    }

    /// Bytes of RAM held.
    pub fn ram_bytes(&self) -> usize {
        self.bits.capacity() / 8 + crate::ram::vec_bytes(&self.count)
    }

    /// Whether `psa` holds current data.
    pub fn is_valid(&self, psa: Psa) -> bool {
        self.bits[psa.0 as usize]
    }

    /// Marks `psa` current. It must not be already.
    pub fn set(&mut self, psa: Psa) {
        assert!(!self.bits[psa.0 as usize], "{psa} already valid");
        self.bits.set(psa.0 as usize, true);
        let c = &mut self.count[self.layout.block(psa).0 as usize];
        *c += 1;
        debug_assert!(*c <= self.layout.spb);
    }

    /// Marks `psa` stale; returns the block's remaining valid count. It must
    /// be valid.
    pub fn clear(&mut self, psa: Psa) -> u32 {
        assert!(self.bits[psa.0 as usize], "{psa} already invalid");
        self.bits.set(psa.0 as usize, false);
        let c = &mut self.count[self.layout.block(psa).0 as usize];
        *c -= 1;
        *c
    }

    /// Valid sectors in `block`.
    pub fn count(&self, block: BlockIdx) -> u32 {
        self.count[block.0 as usize]
    }

    /// Valid sectors in the whole array.
    pub fn total(&self) -> u64 {
        self.count.iter().map(|&c| u64::from(c)).sum()
    }

    /// Whether any sector of page `ppa` is valid.
    pub fn page_has_valid(&self, ppa: Ppa) -> bool {
        let start = self.layout.psa(ppa, 0).0 as usize;
        self.bits[start..start + self.layout.spp as usize].any()
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
        let mut v = Validity::new(l, g.total_blocks());
        let p = l.psa(Ppa::new(BlockIdx(2), 3), 1);
        v.set(p);
        v.set(Psa(p.0 + 1));
        assert_eq!(v.count(BlockIdx(2)), 2);
        assert!(v.page_has_valid(Ppa::new(BlockIdx(2), 3)));
        assert!(!v.page_has_valid(Ppa::new(BlockIdx(2), 4)));
        assert_eq!(v.clear(p), 1);
        assert!(!v.is_valid(p));
    }

    #[test]
    #[should_panic(expected = "already valid")]
    fn double_set_is_caught() {
        let g = Geometry::small(8, 16);
        let l = Layout::new(&g);
        let mut v = Validity::new(l, g.total_blocks());
        v.set(Psa(5));
        v.set(Psa(5));
    }
}
