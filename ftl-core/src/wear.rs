//! Static wear leveling.
//!
//! Dynamic wear leveling (the allocator taking the least-worn free block)
//! only spreads erases over blocks that get freed. Cold data parks in its
//! blocks and keeps them young while the rest wear out. When the spread
//! between the most- and least-erased good blocks exceeds the configured
//! bound, the coldest full block — fewest erases, holding data nobody
//! rewrites — is emptied through the relocation stream, so its block joins
//! the free pool and takes its share of erases.

use crate::addr::BlockIdx;
use crate::blocks::{BlockState, BlockTable};

/// The full block to migrate, if the spread exceeds `bound`.
pub fn pick_cold_block(blocks: &BlockTable, bound: u32) -> Option<BlockIdx> {
    let wear = blocks.wear();
    if wear.max.saturating_sub(wear.min) <= bound {
        return None;
    }
    blocks
        .iter()
        .filter(|&b| blocks.state(b) == BlockState::Full && !blocks.is_collecting(b))
        .min_by_key(|&b| (blocks.erase_count(b), b.0))
        // Moving a block that is not among the least worn gains nothing.
        .filter(|&b| blocks.erase_count(b).saturating_add(bound) < wear.max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_coldest_full_block_only_past_the_bound() {
        let mut t = BlockTable::new(4);
        for (b, e, s) in [
            (0, 10, BlockState::Full),
            (1, 2, BlockState::Full),
            (2, 1, BlockState::Free),
            (3, 12, BlockState::Open),
        ] {
            t.set_erase_count(BlockIdx(b), e);
            t.restore_state(BlockIdx(b), s);
        }
        assert_eq!(pick_cold_block(&t, 11), None);
        assert_eq!(pick_cold_block(&t, 8), Some(BlockIdx(1)));
        // The least-worn block is free: nothing full is cold enough.
        assert_eq!(pick_cold_block(&t, 10), None);
        t.set_collecting(BlockIdx(1), true);
        assert_eq!(pick_cold_block(&t, 1), Some(BlockIdx(0)));
    }
}
