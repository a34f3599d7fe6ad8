//! The cache metadata record table and its status table.
//!
//! One record per flash-page-sized group of slots: which slots it groups,
//! the LBA each holds, and the flash address the group was programmed to or
//! loaded from (the patent's "back-end address" tag). The status table
//! holds each record's state:
//!
//! ```text
//!            push × n                 program starts     program done
//!   Free ──▶ Filling ──(n = sectors)──▶ Full ──▶ Programming ──▶ Clean ──evict──▶ Free
//!     │        │ (flush: program a partial page) ──────▲           ▲
//!     │        └─ GC group: slots freed after program ──▶ Free     │
//!     └──────────────────── load (read miss) ──────────────────────┘
//! ```
//!
//! Records live in flat arrays with a stride of `sectors_per_page`, so the
//! table is sized once from the slot count and never allocates again.

use alloc::vec::Vec;

use core::num::NonZeroU32;

use crate::addr::{Lba, Ppa, Psa, SlotId};

/// An LBA or physical sector stored as `value + 1`, so "none" costs no
/// extra byte and needs no marker value (the geometry keeps both below
/// 2³² − 2).
type Packed = Option<NonZeroU32>;

fn pack(v: u64) -> Packed {
    u32::try_from(v + 1).ok().and_then(NonZeroU32::new)
}

fn unpack(p: Packed) -> Option<u64> {
    p.map(|v| u64::from(v.get() - 1))
}

/// A record's state (the patent's cache metadata status table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryState {
    /// Unused.
    Free,
    /// Collecting slots for the next page to program.
    Filling,
    /// Holds a whole page of slots, ready to program.
    Full,
    /// Being programmed to flash.
    Programming,
    /// Its slots are clean copies of the flash page it names.
    Clean,
}

/// Index of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryId(pub u32);

/// The record table plus status table.
#[derive(Debug)]
pub struct CacheMetaTable {
    stride: usize,
    state: Vec<EntryState>,
    len: Vec<u8>,
    ppa: Vec<Ppa>,
    referenced: Vec<bool>,
    slots: Vec<SlotId>,
    lbas: Vec<Packed>,
    /// For relocated data: the physical sector it was read from.
    srcs: Vec<Packed>,
    free: Vec<EntryId>,
    clock: u32,
}

impl CacheMetaTable {
    /// Bytes of RAM held.
    pub fn ram_bytes(&self) -> usize {
        use crate::ram::vec_bytes;
        vec_bytes(&self.state)
            + vec_bytes(&self.len)
            + vec_bytes(&self.ppa)
            + vec_bytes(&self.referenced)
            + vec_bytes(&self.slots)
            + vec_bytes(&self.lbas)
            + vec_bytes(&self.srcs)
            + vec_bytes(&self.free)
    }

    /// `count` records of up to `stride` slots each.
    pub fn new(count: u32, stride: usize) -> Self {
        let n = count as usize;
        CacheMetaTable {
            stride,
            state: alloc::vec![EntryState::Free; n],
            len: alloc::vec![0; n],
            ppa: alloc::vec![Ppa::default(); n],
            referenced: alloc::vec![false; n],
            slots: alloc::vec![SlotId(0); n * stride],
            lbas: alloc::vec![None; n * stride],
            srcs: alloc::vec![None; n * stride],
            free: (0..count).rev().map(EntryId).collect(),
            clock: 0,
        }
    }

    /// Records in the table.
    pub fn count(&self) -> u32 {
        self.state.len() as u32
    }

    /// Unused records.
    pub fn free_count(&self) -> u32 {
        self.free.len() as u32
    }

    /// State of `e`.
    pub fn state(&self, e: EntryId) -> EntryState {
        self.state[e.0 as usize]
    }

    /// Slots grouped by `e`.
    pub fn len(&self, e: EntryId) -> usize {
        usize::from(self.len[e.0 as usize])
    }

    /// Whether `e` groups no slots.
    pub fn is_empty(&self, e: EntryId) -> bool {
        self.len(e) == 0
    }

    /// The flash page `e` was programmed to or loaded from.
    pub fn ppa(&self, e: EntryId) -> Ppa {
        self.ppa[e.0 as usize]
    }

    /// Slot `i` of `e`.
    pub fn slot(&self, e: EntryId, i: usize) -> SlotId {
        self.slots[e.0 as usize * self.stride + i]
    }

    /// LBA held by slot `i` of `e` (`None` once found stale).
    pub fn lba(&self, e: EntryId, i: usize) -> Option<Lba> {
        debug_assert!(i < self.len(e));
        unpack(self.lbas[e.0 as usize * self.stride + i]).map(Lba)
    }

    /// Physical sector slot `i` of `e` was read from (`None` for host data).
    pub fn src(&self, e: EntryId, i: usize) -> Option<Psa> {
        debug_assert!(i < self.len(e));
        unpack(self.srcs[e.0 as usize * self.stride + i]).map(|p| Psa(p as u32))
    }

    /// Forgets the LBA of slot `i` of `e`: its data turned out stale when
    /// the group was about to be programmed.
    pub fn forget_lba(&mut self, e: EntryId, i: usize) {
        debug_assert_eq!(self.state(e), EntryState::Programming);
        self.lbas[e.0 as usize * self.stride + i] = None;
    }

    /// Takes a free record into `Filling`.
    pub fn alloc_filling(&mut self) -> Option<EntryId> {
        let e = self.free.pop()?;
        self.enter(e, EntryState::Free, EntryState::Filling);
        self.len[e.0 as usize] = 0;
        Some(e)
    }

    /// Takes a free record for a page loaded from `ppa` (read miss): it is
    /// `Clean` from the start; add its slots with [`CacheMetaTable::push`].
    pub fn alloc_loaded(&mut self, ppa: Ppa) -> Option<EntryId> {
        let e = self.free.pop()?;
        self.enter(e, EntryState::Free, EntryState::Clean);
        self.len[e.0 as usize] = 0;
        self.ppa[e.0 as usize] = ppa;
        self.referenced[e.0 as usize] = true;
        Some(e)
    }

    /// Appends a slot holding `lba` (read from physical sector `src` if
    /// relocated) to a filling or freshly loaded record. Returns whether the
    /// record is now a whole page (a filling one becomes `Full`).
    pub fn push(&mut self, e: EntryId, slot: SlotId, lba: Lba, src: Option<Psa>) -> bool {
        let (lba, src) = (pack(lba.0), src.and_then(|p| pack(u64::from(p.0))));
        assert!(lba.is_some(), "cache entry: LBA out of range");
        let i = e.0 as usize;
        let n = usize::from(self.len[i]);
        assert!(n < self.stride, "cache entry overfilled");
        assert!(
            matches!(self.state[i], EntryState::Filling | EntryState::Clean),
            "push into {:?} entry",
            self.state[i]
        );
        self.slots[i * self.stride + n] = slot;
        self.lbas[i * self.stride + n] = lba;
        self.srcs[i * self.stride + n] = src;
        self.len[i] += 1;
        let full = n + 1 == self.stride;
        if full && self.state[i] == EntryState::Filling {
            self.state[i] = EntryState::Full;
        }
        full
    }

    /// Removes `slot` from a filling (or full, not yet programmed) record:
    /// its data was superseded before reaching flash. Returns whether it was
    /// there; a full record becomes filling again.
    pub fn remove_slot(&mut self, e: EntryId, slot: SlotId) -> bool {
        let i = e.0 as usize;
        assert!(
            matches!(self.state[i], EntryState::Filling | EntryState::Full),
            "remove from {:?}",
            self.state[i]
        );
        self.state[i] = EntryState::Filling;
        let base = i * self.stride;
        let n = usize::from(self.len[i]);
        let Some(k) = self.slots[base..base + n].iter().position(|&s| s == slot) else {
            return false;
        };
        self.slots.copy_within(base + k + 1..base + n, base + k);
        self.lbas.copy_within(base + k + 1..base + n, base + k);
        self.srcs.copy_within(base + k + 1..base + n, base + k);
        self.len[i] -= 1;
        true
    }

    /// `Filling` (partial page, on flush) or `Full` → `Programming` to `ppa`.
    pub fn begin_program(&mut self, e: EntryId, ppa: Ppa) {
        let i = e.0 as usize;
        assert!(
            matches!(self.state[i], EntryState::Filling | EntryState::Full),
            "program of {:?} entry",
            self.state[i]
        );
        self.state[i] = EntryState::Programming;
        self.ppa[i] = ppa;
    }

    /// A program failed: back to `Full`/`Filling` so it can be retried.
    pub fn program_failed(&mut self, e: EntryId) {
        let i = e.0 as usize;
        self.enter(e, EntryState::Programming, EntryState::Filling);
        if usize::from(self.len[i]) == self.stride {
            self.state[i] = EntryState::Full;
        }
    }

    /// `Programming` → `Clean`: the page is on flash at its `ppa`.
    pub fn programmed(&mut self, e: EntryId) {
        self.enter(e, EntryState::Programming, EntryState::Clean);
        self.referenced[e.0 as usize] = false;
    }

    /// Returns `e` to the free list (the caller released its slots).
    pub fn release(&mut self, e: EntryId) {
        let i = e.0 as usize;
        assert!(
            matches!(self.state[i], EntryState::Clean | EntryState::Programming),
            "release of {:?} entry",
            self.state[i]
        );
        self.state[i] = EntryState::Free;
        self.len[i] = 0;
        self.free.push(e);
    }

    /// Notes a read hit on `e` (second chance for the clock).
    pub fn touch(&mut self, e: EntryId) {
        self.referenced[e.0 as usize] = true;
    }

    /// Picks a clean record to evict with the clock algorithm, skipping any
    /// whose slots `busy` rejects (e.g. one is pinned).
    pub fn pick_victim(&mut self, mut busy: impl FnMut(&[SlotId]) -> bool) -> Option<EntryId> {
        let n = self.count();
        for _ in 0..2 * n {
            let e = EntryId(self.clock);
            self.clock = (self.clock + 1) % n;
            let i = e.0 as usize;
            let base = i * self.stride;
            let slots = &self.slots[base..base + usize::from(self.len[i])];
            if self.state[i] != EntryState::Clean || busy(slots) {
                continue;
            }
            if self.referenced[i] {
                self.referenced[i] = false;
                continue;
            }
            return Some(e);
        }
        None
    }

    fn enter(&mut self, e: EntryId, from: EntryState, to: EntryState) {
        let s = &mut self.state[e.0 as usize];
        assert!(
            *s == from,
            "cache entry {e:?}: {s:?} → {to:?}, expected {from:?}"
        );
        *s = to;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::BlockIdx;

    #[test]
    fn write_group_lifecycle() {
        let mut t = CacheMetaTable::new(2, 4);
        let e = t.alloc_filling().unwrap();
        assert_eq!(t.state(e), EntryState::Filling);
        for k in 0..3 {
            assert!(!t.push(e, SlotId(k), Lba(u64::from(10 + k)), None));
        }
        assert!(t.remove_slot(e, SlotId(1)));
        assert!(!t.remove_slot(e, SlotId(1)));
        assert_eq!(
            (t.len(e), t.slot(e, 1), t.lba(e, 1)),
            (2, SlotId(2), Some(Lba(12)))
        );
        assert!(!t.push(e, SlotId(5), Lba(15), Some(Psa(3))));
        assert_eq!(t.src(e, 2), Some(Psa(3)));
        assert!(t.push(e, SlotId(6), Lba(16), None));
        assert_eq!(t.state(e), EntryState::Full);
        let ppa = Ppa::new(BlockIdx(3), 7);
        t.begin_program(e, ppa);
        t.program_failed(e);
        assert_eq!(t.state(e), EntryState::Full);
        t.begin_program(e, ppa);
        t.programmed(e);
        assert_eq!((t.state(e), t.ppa(e)), (EntryState::Clean, ppa));
        assert_eq!(t.pick_victim(|_| false), Some(e));
        t.release(e);
        assert_eq!(t.free_count(), 2);
    }

    #[test]
    fn clock_gives_second_chance_and_skips_busy() {
        let mut t = CacheMetaTable::new(3, 4);
        let a = t.alloc_loaded(Ppa::new(BlockIdx(0), 0)).unwrap();
        t.push(a, SlotId(9), Lba(1), None);
        let b = t.alloc_loaded(Ppa::new(BlockIdx(0), 1)).unwrap();
        t.push(b, SlotId(8), Lba(2), None);
        // Both referenced at load: first sweep clears, second picks; a's
        // slot 9 is "pinned".
        let v = t.pick_victim(|s| s.contains(&SlotId(9))).unwrap();
        assert_eq!(v, b);
        assert_eq!(t.pick_victim(|_| true), None);
    }

    #[test]
    #[should_panic(expected = "expected Programming")]
    fn illegal_transition_is_caught() {
        let mut t = CacheMetaTable::new(1, 4);
        let e = t.alloc_filling().unwrap();
        t.programmed(e);
    }
}
