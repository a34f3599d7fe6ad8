//! The slot pool: the patent's cache of *physical storage blocks*.
//!
//! Memory and bookkeeping are apart. [`SlotMemory`] is the memory: the
//! caller provides it (a static array in firmware, DMA-able RAM, a shared
//! mapping in a daemon) and the front end (kernel, DMA engine) moves payload
//! in and out of it directly. [`SlotTable`] is the FTL's record of who owns
//! each slot:
//!
//! ```text
//!   Free ──grant──▶ Reserved ──commit──▶ Dirty ──program──▶ Clean ──evict──▶ Free
//!     │             (write map)          (in a filling       (copy of a
//!     │                                   cache entry)        flash page)
//!     └──────────────── load (read miss, GC read) ──────────────▶ Clean / Relocating
//! ```
//!
//! A slot with readers (`pins > 0`) is never reused; one superseded while
//! pinned becomes `Orphan` and returns to the free list on its last unpin.

use alloc::vec::Vec;

use crate::addr::SlotId;

/// Memory holding the slots, all `slot_size()` bytes long.
///
/// The FTL reads a slot's bytes when it programs the slot to flash and writes
/// them when it loads flash into the slot; it never touches a slot granted to
/// a writer or pinned by a reader otherwise, so an implementation may let a
/// DMA engine or the kernel move data in and out of those concurrently.
pub trait SlotMemory {
    /// Number of slots.
    fn slot_count(&self) -> u32;
    /// Bytes per slot (the sector size).
    fn slot_size(&self) -> usize;
    /// The bytes of one slot.
    fn slot(&self, id: SlotId) -> &[u8];
    /// The bytes of one slot, writable.
    fn slot_mut(&mut self, id: SlotId) -> &mut [u8];
    /// Writable views of several distinct slots at once: `out[i]` becomes
    /// slot `ids[i]`. `ids` holds no duplicates and `out.len() == ids.len()`.
    fn slots_mut<'a>(&'a mut self, ids: &[SlotId], out: &mut [&'a mut [u8]]);
}

/// A [`SlotMemory`] over one contiguous buffer: a `Vec`, a `Box<[u8]>` or a
/// `&'static mut [u8]` in firmware.
#[derive(Debug)]
pub struct SlotPool<B> {
    buf: B,
    slot_size: usize,
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> SlotPool<B> {
    /// Splits `buf` into slots of `slot_size` bytes (a trailing remainder
    /// is unused).
    pub fn new(buf: B, slot_size: usize) -> Self {
        assert!(slot_size > 0, "slot size must be non-zero");
        SlotPool { buf, slot_size }
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> B {
        self.buf
    }
}

impl SlotPool<Vec<u8>> {
    /// A heap-backed pool of `count` zeroed slots.
    pub fn with_capacity(count: u32, slot_size: usize) -> Self {
        SlotPool::new(alloc::vec![0u8; count as usize * slot_size], slot_size)
    }
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> SlotMemory for SlotPool<B> {
    fn slot_count(&self) -> u32 {
        (self.buf.as_ref().len() / self.slot_size) as u32
    }

    fn slot_size(&self) -> usize {
        self.slot_size
    }

    fn slot(&self, id: SlotId) -> &[u8] {
        let o = id.0 as usize * self.slot_size;
        &self.buf.as_ref()[o..o + self.slot_size]
    }

    fn slot_mut(&mut self, id: SlotId) -> &mut [u8] {
        let o = id.0 as usize * self.slot_size;
        &mut self.buf.as_mut()[o..o + self.slot_size]
    }

    fn slots_mut<'a>(&'a mut self, ids: &[SlotId], out: &mut [&'a mut [u8]]) {
        // Visit the ids in address order, splitting the buffer as we go, so
        // the borrows are disjoint without unsafe code.
        let n = ids.len();
        assert!(
            n <= 64 && out.len() == n,
            "slots_mut: at most 64 distinct ids"
        );
        // Each id with its position in the low byte, so sorting the keys
        // sorts the positions by address (an insertion sort: a page's few
        // slots, often taken in turn).
        let mut order = [0u64; 64];
        for (i, (o, id)) in order[..n].iter_mut().zip(ids).enumerate() {
            *o = (u64::from(id.0) << 8) | i as u64;
        }
        for i in 1..n {
            let key = order[i];
            let mut j = i;
            while j > 0 && order[j - 1] > key {
                order[j] = order[j - 1];
                j -= 1;
            }
            order[j] = key;
        }
        let size = self.slot_size;
        let mut rest: &'a mut [u8] = self.buf.as_mut();
        let mut base = 0usize;
        for &key in &order[..n] {
            let i = (key & 0xFF) as usize;
            let start = (key >> 8) as usize * size;
            assert!(start >= base, "slots_mut: duplicate slot id");
            let tail = core::mem::take(&mut rest);
            let (_, tail) = tail.split_at_mut(start - base);
            let (slot, tail) = tail.split_at_mut(size);
            out[i] = slot;
            rest = tail;
            base = start + size;
        }
    }
}

/// Who owns a slot (see the module diagram).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotState {
    /// On the free list.
    Free,
    /// Held by the write mapping table for a command handle.
    Reserved,
    /// Acknowledged host data not yet on flash, in a filling cache entry.
    Dirty,
    /// A copy of data on flash, in a clean cache entry.
    Clean,
    /// Read from flash by garbage collection, waiting in the GC entry.
    Relocating,
    /// Superseded while pinned; freed on its last unpin.
    Orphan,
}

/// Per-slot ownership and reader counts, plus the free list.
#[derive(Debug)]
pub struct SlotTable {
    state: Vec<SlotState>,
    pins: Vec<u16>,
    free: Vec<SlotId>,
}

impl SlotTable {
    /// Bytes of RAM held (the table, not the slot memory).
    pub fn ram_bytes(&self) -> usize {
        use crate::ram::vec_bytes;
        vec_bytes(&self.state) + vec_bytes(&self.pins) + vec_bytes(&self.free)
    }

    /// `count` slots, all free.
    pub fn new(count: u32) -> Self {
        SlotTable {
            state: alloc::vec![SlotState::Free; count as usize],
            pins: alloc::vec![0; count as usize],
            // Pop from the end: hand out low ids first.
            free: (0..count).rev().map(SlotId).collect(),
        }
    }

    /// Number of slots.
    pub fn len(&self) -> u32 {
        self.state.len() as u32
    }

    /// Whether the table has no slots.
    pub fn is_empty(&self) -> bool {
        self.state.is_empty()
    }

    /// Slots on the free list.
    pub fn free_count(&self) -> u32 {
        self.free.len() as u32
    }

    /// Takes a free slot into `state`: `Reserved` (write map), `Clean`
    /// (read miss) or `Relocating` (GC read).
    pub fn take(&mut self, state: SlotState) -> Option<SlotId> {
        assert!(
            matches!(
                state,
                SlotState::Reserved | SlotState::Clean | SlotState::Relocating
            ),
            "a free slot cannot become {state:?}"
        );
        let id = self.free.pop()?;
        assert_eq!(
            self.state[id.0 as usize],
            SlotState::Free,
            "free list holds {id:?}"
        );
        assert_eq!(self.pins[id.0 as usize], 0, "free slot {id:?} pinned");
        self.state[id.0 as usize] = state;
        Some(id)
    }

    /// The state of `id`.
    pub fn state(&self, id: SlotId) -> SlotState {
        self.state[id.0 as usize]
    }

    /// Moves `id` along the diagram: `Reserved → Dirty` (commit) or
    /// `Dirty → Clean` (programmed). Freeing is [`SlotTable::release`].
    pub fn set(&mut self, id: SlotId, state: SlotState) {
        let from = self.state[id.0 as usize];
        assert!(
            matches!(
                (from, state),
                (SlotState::Reserved, SlotState::Dirty) | (SlotState::Dirty, SlotState::Clean)
            ),
            "slot {id:?}: {from:?} → {state:?}"
        );
        self.state[id.0 as usize] = state;
    }

    /// Gives up the owner's claim on `id`: free now, or orphaned until its
    /// readers are done.
    pub fn release(&mut self, id: SlotId) {
        let i = id.0 as usize;
        assert!(
            !matches!(self.state[i], SlotState::Free | SlotState::Orphan),
            "double release of {id:?}"
        );
        if self.pins[i] > 0 {
            self.state[i] = SlotState::Orphan;
        } else {
            self.state[i] = SlotState::Free;
            self.free.push(id);
        }
    }

    /// Adds a reader to `id` (which holds data: cached or in a group).
    pub fn pin(&mut self, id: SlotId) {
        debug_assert!(matches!(
            self.state[id.0 as usize],
            SlotState::Dirty | SlotState::Clean
        ));
        self.pins[id.0 as usize] += 1;
    }

    /// Removes a reader from `id`; an orphan with no readers left is freed.
    pub fn unpin(&mut self, id: SlotId) {
        let i = id.0 as usize;
        assert!(self.pins[i] > 0, "unpin of unpinned {id:?}");
        self.pins[i] -= 1;
        if self.pins[i] == 0 && self.state[i] == SlotState::Orphan {
            self.state[i] = SlotState::Free;
            self.free.push(id);
        }
    }

    /// Whether `id` has readers.
    pub fn is_pinned(&self, id: SlotId) -> bool {
        self.pins[id.0 as usize] > 0
    }

    /// Counts slots per state (for integrity checks and stats).
    pub fn census(&self) -> [u32; 6] {
        let mut c = [0u32; 6];
        for s in &self.state {
            c[*s as usize] += 1;
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_and_orphans() {
        let mut t = SlotTable::new(3);
        let a = t.take(SlotState::Reserved).unwrap();
        assert_eq!(a, SlotId(0));
        t.set(a, SlotState::Dirty);
        t.pin(a);
        t.release(a);
        assert_eq!(t.state(a), SlotState::Orphan);
        assert_eq!(t.free_count(), 2);
        t.unpin(a);
        assert_eq!(t.state(a), SlotState::Free);
        assert_eq!(t.free_count(), 3);
        let taken: Vec<_> = (0..3).map(|_| t.take(SlotState::Clean).unwrap()).collect();
        assert_eq!(taken.len(), 3);
        assert!(t.take(SlotState::Clean).is_none());
        assert_eq!(t.census()[SlotState::Clean as usize], 3);
    }

    #[test]
    fn pool_disjoint_views() {
        let mut p = SlotPool::with_capacity(8, 16);
        assert_eq!(p.slot_count(), 8);
        let ids = [SlotId(5), SlotId(1), SlotId(7)];
        let mut out: [&mut [u8]; 3] = Default::default();
        p.slots_mut(&ids, &mut out);
        for (k, s) in out.iter_mut().enumerate() {
            s.fill(k as u8 + 1);
        }
        assert_eq!(p.slot(SlotId(5)), &[1u8; 16]);
        assert_eq!(p.slot(SlotId(1)), &[2u8; 16]);
        assert_eq!(p.slot(SlotId(7)), &[3u8; 16]);
        assert_eq!(p.slot(SlotId(0)), &[0u8; 16]);
    }

    #[test]
    #[should_panic(expected = "duplicate")]
    fn pool_rejects_duplicates() {
        let mut p = SlotPool::with_capacity(4, 8);
        let mut out: [&mut [u8]; 2] = Default::default();
        p.slots_mut(&[SlotId(2), SlotId(2)], &mut out);
    }
}
