//! The block table: each erase block's state, wear and write pointer, and
//! the allocator that hands out blocks to the open streams.
//!
//! ```text
//!   Free (erased) ──allocate──▶ Open ──last page──▶ Full ──valid = 0──▶ Stale
//!     ▲                          │                    │                   │
//!     └────────── erase ─────────┼────────────────────┼───────────────────┘
//!                                └─ program failure ─▶ Full + retiring ──valid = 0──▶ Bad
//!   erase failure / factory mark ───────────────────────────────────────────────────▶ Bad
//! ```
//!
//! Erases are lazy: a block whose data all went stale waits as `Stale` and
//! is erased when the allocator picks it. The allocator always picks the
//! least-worn candidate (dynamic wear leveling).

use alloc::vec::Vec;
use core::cell::Cell;

use crate::addr::BlockIdx;

/// A block's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockState {
    /// Erased, ready to program.
    Free,
    /// Holds only stale data (or is of unknown content): erase before use.
    Stale,
    /// The current block of a write stream.
    Open,
    /// Programmed to its end (or closed early), holding some valid data.
    Full,
    /// Retired: factory bad, or failed a program or an erase.
    Bad,
    /// Holds checkpoint chunks or trim records still needed by recovery.
    Meta,
}

/// The moves the state diagram allows outside recovery.
fn legal(from: BlockState, to: BlockState) -> bool {
    use BlockState::*;
    matches!(
        (from, to),
        (Stale, Free)
            | (Free, Free)
            | (Free, Open)
            | (Open, Full)
            | (Open, Meta)
            | (Full, Stale)
            | (Meta, Stale)
            | (Free | Stale | Full | Meta, Bad)
    )
}

/// The open write streams: host data and relocated (GC / wear-leveling)
/// data are kept apart so cold and hot data do not share blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Data the host wrote.
    Host = 0,
    /// Data moved by garbage collection or wear leveling.
    Relocated = 1,
    /// Checkpoints, trim records and translation pages.
    Meta = 2,
}

/// Per-block state, wear and write pointers.
#[derive(Debug)]
pub struct BlockTable {
    state: Vec<BlockState>,
    erase_count: Vec<u32>,
    next_page: Vec<u32>,
    last_seq: Vec<u64>,
    retiring: Vec<bool>,
    collecting: Vec<bool>,
    held: Vec<bool>,
    available: u32,
    /// One bit per block: `Free` or `Stale` (the allocator's candidates,
    /// found without visiting every block).
    pool: Vec<u64>,
    /// Blocks marked retiring.
    retiring_count: u32,
    /// Erase-count statistics of the good blocks, kept up to date across
    /// erases; `None` until computed, or after a change that needs a scan.
    wear_stats: Cell<Option<WearStats>>,
}

/// What [`BlockTable::wear`] reports, kept incrementally.
#[derive(Clone, Copy, Debug)]
struct WearStats {
    sum: u64,
    good: u64,
    min: u32,
    /// Good blocks at `min`.
    at_min: u64,
    max: u32,
}

/// Erase-count spread of the good blocks.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Wear {
    /// Least-erased good block.
    pub min: u32,
    /// Most-erased good block.
    pub max: u32,
    /// Mean over good blocks.
    pub mean: f64,
}

impl BlockTable {
    /// `blocks` blocks, all `Stale` (unknown content) with no wear.
    pub fn new(blocks: u32) -> Self {
        let n = blocks as usize;
        BlockTable {
            state: alloc::vec![BlockState::Stale; n],
            erase_count: alloc::vec![0; n],
            next_page: alloc::vec![0; n],
            last_seq: alloc::vec![0; n],
            retiring: alloc::vec![false; n],
            collecting: alloc::vec![false; n],
            held: alloc::vec![false; n],
            available: blocks,
            pool: alloc::vec![u64::MAX; n.div_ceil(64)],
            retiring_count: 0,
            wear_stats: Cell::new(None),
        }
        .trimmed_pool()
    }

    /// Clears the pool's bits past the last block.
    fn trimmed_pool(mut self) -> Self {
        let n = self.state.len();
        if n % 64 != 0 {
            if let Some(last) = self.pool.last_mut() {
                *last = (1u64 << (n % 64)) - 1;
            }
        }
        self
    }

    /// Bytes of RAM held.
    pub fn ram_bytes(&self) -> usize {
        use crate::ram::vec_bytes;
        vec_bytes(&self.state)
            + vec_bytes(&self.erase_count)
            + vec_bytes(&self.next_page)
            + vec_bytes(&self.last_seq)
            + vec_bytes(&self.retiring)
            + vec_bytes(&self.collecting)
            + vec_bytes(&self.held)
            + vec_bytes(&self.pool)
    }

    /// Number of blocks.
    pub fn len(&self) -> u32 {
        self.state.len() as u32
    }

    /// Whether the table has no blocks.
    pub fn is_empty(&self) -> bool {
        self.state.is_empty()
    }

    /// State of `b`.
    pub fn state(&self, b: BlockIdx) -> BlockState {
        self.state[b.0 as usize]
    }

    /// Moves `b` to state `s` along the diagram in the module docs,
    /// keeping the count of available blocks. Any other move is a bug.
    pub fn set_state(&mut self, b: BlockIdx, s: BlockState) {
        let from = self.state(b);
        assert!(legal(from, s), "block {}: {from:?} → {s:?}", b.0);
        self.restore_state(b, s);
    }

    /// Sets the state of `b` as recovery found it (no transition check),
    /// keeping the count of available blocks.
    pub fn restore_state(&mut self, b: BlockIdx, s: BlockState) {
        let i = b.0 as usize;
        let slot = &mut self.state[i];
        let from = *slot;
        let was = matches!(from, BlockState::Free | BlockState::Stale);
        let is = matches!(s, BlockState::Free | BlockState::Stale);
        *slot = s;
        match (was, is) {
            (true, false) => {
                self.available -= 1;
                self.pool[i / 64] &= !(1 << (i % 64));
            }
            (false, true) => {
                self.available += 1;
                self.pool[i / 64] |= 1 << (i % 64);
            }
            _ => {}
        }
        if (from == BlockState::Bad) != (s == BlockState::Bad) {
            self.wear_stats.set(None);
        }
        if !matches!(s, BlockState::Full) {
            self.collecting[i] = false;
        }
        if matches!(s, BlockState::Free | BlockState::Stale | BlockState::Open) && self.retiring[i]
        {
            self.retiring[i] = false;
            self.retiring_count -= 1;
        }
    }

    /// Blocks that are `Free` or `Stale`.
    pub fn available(&self) -> u32 {
        self.available
    }

    /// Erase count of `b`.
    pub fn erase_count(&self, b: BlockIdx) -> u32 {
        self.erase_count[b.0 as usize]
    }

    /// Sets the erase count of `b` (recovery).
    pub fn set_erase_count(&mut self, b: BlockIdx, n: u32) {
        self.erase_count[b.0 as usize] = n;
        self.wear_stats.set(None);
    }

    /// Records a completed erase of `b`: it becomes `Free`.
    pub fn erased(&mut self, b: BlockIdx) {
        assert!(
            !self.is_held(b),
            "block {} erased while a trim holds it",
            b.0
        );
        // Saturating: a count read back from flash may be anything.
        let old = self.erase_count[b.0 as usize];
        let new = old.saturating_add(1);
        self.erase_count[b.0 as usize] = new;
        self.next_page[b.0 as usize] = 0;
        self.set_state(b, BlockState::Free);
        // A good block one erase older: the statistics follow, unless the
        // last block at the minimum moved on (the next wear() rescans).
        let stats = self.wear_stats.get().and_then(|mut w| {
            w.sum += u64::from(new - old);
            w.max = w.max.max(new);
            if old == w.min && new != old {
                w.at_min -= 1;
            }
            (w.at_min > 0).then_some(w)
        });
        self.wear_stats.set(stats);
    }

    /// Next page to program in `b`.
    pub fn next_page(&self, b: BlockIdx) -> u32 {
        self.next_page[b.0 as usize]
    }

    /// Sets the write pointer of `b`.
    pub fn set_next_page(&mut self, b: BlockIdx, p: u32) {
        self.next_page[b.0 as usize] = p;
    }

    /// Sequence number of the newest page programmed into `b` (its age).
    pub fn last_seq(&self, b: BlockIdx) -> u64 {
        self.last_seq[b.0 as usize]
    }

    /// Notes a program into `b` at sequence `seq`.
    pub fn set_last_seq(&mut self, b: BlockIdx, seq: u64) {
        self.last_seq[b.0 as usize] = seq;
    }

    /// Whether `b` failed a program and is to be retired once empty.
    pub fn is_retiring(&self, b: BlockIdx) -> bool {
        self.retiring[b.0 as usize]
    }

    /// Marks `b` for retirement (it must be `Full` or `Meta`).
    pub fn set_retiring(&mut self, b: BlockIdx) {
        assert!(matches!(self.state(b), BlockState::Full | BlockState::Meta));
        if !self.retiring[b.0 as usize] {
            self.retiring[b.0 as usize] = true;
            self.retiring_count += 1;
        }
    }

    /// Whether any block is marked for retirement.
    pub fn any_retiring(&self) -> bool {
        self.retiring_count > 0
    }

    /// Whether `b` is being emptied by GC or wear leveling.
    pub fn is_collecting(&self, b: BlockIdx) -> bool {
        self.collecting[b.0 as usize]
    }

    /// Marks `b` as being emptied.
    pub fn set_collecting(&mut self, b: BlockIdx, on: bool) {
        self.collecting[b.0 as usize] = on;
    }

    /// Whether `b` lost data to a trim not yet in a trim record: it may not
    /// be erased until the record is on flash.
    pub fn is_held(&self, b: BlockIdx) -> bool {
        self.held[b.0 as usize]
    }

    /// Holds or releases `b` (see [`BlockTable::is_held`]).
    pub fn set_held(&mut self, b: BlockIdx, on: bool) {
        self.held[b.0 as usize] = on;
    }

    /// Every block's state, by index.
    pub fn states(&self) -> &[BlockState] {
        &self.state
    }

    /// Whether each block is being emptied, by index.
    pub fn collecting_flags(&self) -> &[bool] {
        &self.collecting
    }

    /// All block indices.
    pub fn iter(&self) -> impl Iterator<Item = BlockIdx> {
        (0..self.len()).map(BlockIdx)
    }

    /// The least-worn `Free` or `Stale` block not held by a pending trim
    /// (dynamic wear leveling), on lane `lane` of `lanes` (`b mod lanes`)
    /// if one is (or any when `lane` is `None`), else on any; among equals,
    /// an erased one saves an erase.
    pub fn pick_free(&self, lane: Option<u32>, lanes: u32) -> Option<BlockIdx> {
        let best = |on_lane: Option<u32>| {
            self.pooled(on_lane, lanes)
                .filter(|&b| !self.is_held(b))
                .min_by_key(|&b| (self.erase_count(b), self.state(b) != BlockState::Free, b.0))
        };
        debug_assert!(
            lane.map_or(true, |l| l < lanes.max(1)),
            "lane {lane:?} of {lanes}"
        );
        match lane {
            Some(l) if lanes > 1 => best(Some(l)).or_else(|| best(None)),
            _ => best(None),
        }
    }

    /// The `Free` and `Stale` blocks, in index order; only lane `lane`'s
    /// (`b mod lanes`), if given, found by masking the pool's words rather
    /// than by looking at every pooled block.
    fn pooled(&self, lane: Option<u32>, lanes: u32) -> impl Iterator<Item = BlockIdx> + '_ {
        let lanes = lanes.max(1);
        self.pool.iter().enumerate().flat_map(move |(k, &word)| {
            let mut w = match lane {
                Some(l) => word & lane_bits(k as u32 * 64, l, lanes),
                None => word,
            };
            core::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let bit = w.trailing_zeros();
                w &= w - 1;
                Some(BlockIdx(k as u32 * 64 + bit))
            })
        })
    }

    /// Erase-count spread over good blocks: kept across erases, so a scan
    /// of every block happens only when the last block at the minimum is
    /// erased (or after recovery or a retirement).
    pub fn wear(&self) -> Wear {
        let w = match self.wear_stats.get() {
            Some(w) => w,
            None => {
                let w = self.scan_wear();
                self.wear_stats.set(Some(w));
                w
            }
        };
        debug_assert!({
            let s = self.scan_wear();
            (s.sum, s.good, s.min, s.at_min, s.max) == (w.sum, w.good, w.min, w.at_min, w.max)
        });
        if w.good == 0 {
            return Wear::default();
        }
        Wear {
            min: w.min,
            max: w.max,
            mean: w.sum as f64 / w.good as f64,
        }
    }

    fn scan_wear(&self) -> WearStats {
        let mut w = WearStats {
            sum: 0,
            good: 0,
            min: u32::MAX,
            at_min: 0,
            max: 0,
        };
        for b in self.iter().filter(|&b| self.state(b) != BlockState::Bad) {
            let e = self.erase_count(b);
            if e < w.min {
                w.min = e;
                w.at_min = 0;
            }
            w.at_min += u64::from(e == w.min);
            w.max = w.max.max(e);
            w.sum += u64::from(e);
            w.good += 1;
        }
        w
    }

    /// Good (not retired) blocks.
    pub fn good(&self) -> u32 {
        self.state.iter().filter(|&&s| s != BlockState::Bad).count() as u32
    }
}

/// The bits of a pool word whose first block is `base` that stand for
/// blocks of lane `lane` of `lanes` (`b mod lanes == lane`).
fn lane_bits(base: u32, lane: u32, lanes: u32) -> u64 {
    let mut bits = 0u64;
    let mut i = (lane + lanes - base % lanes) % lanes;
    while i < 64 {
        bits |= 1 << i;
        i += lanes;
    }
    bits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocator_prefers_least_worn_and_erased() {
        let mut t = BlockTable::new(4);
        assert_eq!(t.available(), 4);
        t.set_erase_count(BlockIdx(0), 5);
        t.set_erase_count(BlockIdx(1), 2);
        t.set_erase_count(BlockIdx(2), 1);
        t.set_state(BlockIdx(3), BlockState::Bad);
        assert_eq!(t.available(), 3);
        t.erased(BlockIdx(1)); // now 3, Free
        t.set_erase_count(BlockIdx(2), 3); // Stale, 3
        assert_eq!(t.pick_free(None, 1), Some(BlockIdx(1)));
        // A lane's own block first (blocks 0 and 2 are lane 0 of 2), else
        // any.
        assert_eq!(t.pick_free(Some(0), 2), Some(BlockIdx(2)));
        assert_eq!(t.pick_free(Some(1), 2), Some(BlockIdx(1)));
        t.set_state(BlockIdx(1), BlockState::Open);
        assert_eq!(t.pick_free(None, 1), Some(BlockIdx(2)));
        t.restore_state(BlockIdx(0), BlockState::Full);
        assert_eq!(t.pick_free(Some(0), 2), Some(BlockIdx(2)));
        assert_eq!(
            t.pick_free(Some(1), 2),
            Some(BlockIdx(2)),
            "none on lane 1: any"
        );
        assert_eq!(t.available(), 1);
        let w = t.wear();
        assert_eq!((w.min, w.max), (3, 5));
        assert_eq!(t.good(), 3);
    }

    #[test]
    #[should_panic(expected = "Open → Stale")]
    fn illegal_move_is_caught() {
        let mut t = BlockTable::new(1);
        t.erased(BlockIdx(0));
        t.set_state(BlockIdx(0), BlockState::Open);
        t.set_state(BlockIdx(0), BlockState::Stale);
    }

    #[test]
    fn retiring_and_collecting_reset_with_state() {
        let mut t = BlockTable::new(2);
        let b = BlockIdx(0);
        t.restore_state(b, BlockState::Full);
        t.set_retiring(b);
        t.set_collecting(b, true);
        assert!(t.is_retiring(b) && t.is_collecting(b));
        t.set_state(b, BlockState::Stale);
        assert!(!t.is_retiring(b) && !t.is_collecting(b));
    }

    /// The lane-masked pick against a plain scan over 200 blocks (the pool
    /// spans four words, and 3 or 7 lanes do not divide a word).
    #[test]
    fn pick_free_matches_a_plain_scan() {
        let mut x = 11u64;
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as u32
        };
        for round in 0..40 {
            let mut t = BlockTable::new(200);
            for b in (0..200).map(BlockIdx) {
                t.set_erase_count(b, next() % 4);
                match next() % 4 {
                    0 => t.restore_state(b, BlockState::Full),
                    1 => t.erased(b),
                    _ => {} // Stale
                }
                t.set_held(b, next() % 9 == 0);
            }
            for lanes in [1, 2, 3, 7, 8] {
                for lane in (0..lanes).map(Some).chain([None]) {
                    let plain = (0..200u32)
                        .map(BlockIdx)
                        .filter(|&b| matches!(t.state(b), BlockState::Free | BlockState::Stale))
                        .filter(|&b| !t.is_held(b))
                        .min_by_key(|&b| {
                            (
                                lane.is_some_and(|l| b.0 % lanes != l),
                                t.erase_count(b),
                                t.state(b) != BlockState::Free,
                                b.0,
                            )
                        });
                    assert_eq!(
                        t.pick_free(lane, lanes),
                        plain,
                        "round {round} lane {lane:?}/{lanes}"
                    );
                }
            }
        }
    }
}
