//! The write mapping table: command handle → the slots its next write lands
//! in.
//!
//! The patent pre-populates this table so a write needs no allocation on its
//! critical path: at start every handle already owns `prefill` free slots,
//! and after each commit the handle is topped up again. A write larger than
//! the prefill takes the rest from the free list when it begins. Between
//! `begin_write` and commit the granted slots belong to the front end alone
//! (the kernel or a DMA engine fills them).

use alloc::vec::Vec;

use crate::addr::{Handle, Lba, SlotId};

/// A write in flight: `sectors` slots of `handle`, for `lba..lba+sectors`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "a write grant must be committed or aborted"]
pub struct WriteGrant {
    /// The command handle.
    pub handle: Handle,
    /// First LBA written.
    pub lba: Lba,
    /// Sectors written.
    pub sectors: u32,
}

/// Per-handle reserved slots and the grant each handle has open.
#[derive(Debug)]
pub struct WriteMap {
    stride: usize,
    prefill: u16,
    slots: Vec<SlotId>,
    owned: Vec<u16>,
    open: Vec<bool>,
}

impl WriteMap {
    /// Bytes of RAM held.
    pub fn ram_bytes(&self) -> usize {
        use crate::ram::vec_bytes;
        vec_bytes(&self.slots) + vec_bytes(&self.owned) + vec_bytes(&self.open)
    }

    /// `handles` handles, each able to write up to `max_sectors` at once and
    /// pre-populated with `prefill` slots.
    pub fn new(handles: u32, max_sectors: u32, prefill: u16) -> Self {
        let n = handles as usize;
        WriteMap {
            stride: max_sectors as usize,
            prefill: prefill.min(max_sectors as u16),
            slots: alloc::vec![SlotId(0); n * max_sectors as usize],
            owned: alloc::vec![0; n],
            open: alloc::vec![false; n],
        }
    }

    /// Number of handles.
    pub fn handles(&self) -> u32 {
        self.owned.len() as u32
    }

    /// Most sectors one write may carry.
    pub fn max_sectors(&self) -> u32 {
        self.stride as u32
    }

    /// Slots each handle keeps in reserve between writes.
    pub fn prefill(&self) -> u16 {
        self.prefill
    }

    /// Whether `h` has a grant open.
    pub fn is_open(&self, h: Handle) -> bool {
        self.open[h.0 as usize]
    }

    /// Slots `h` currently owns.
    pub fn owned(&self, h: Handle) -> usize {
        usize::from(self.owned[h.0 as usize])
    }

    /// Gives `h` one more slot.
    pub fn add_slot(&mut self, h: Handle, slot: SlotId) {
        let i = h.0 as usize;
        let n = usize::from(self.owned[i]);
        assert!(n < self.stride, "write map entry overfilled");
        self.slots[i * self.stride + n] = slot;
        self.owned[i] += 1;
    }

    /// Opens a grant on `h` (the caller made sure it owns enough slots).
    pub fn open(&mut self, h: Handle, lba: Lba, sectors: u32) -> WriteGrant {
        let i = h.0 as usize;
        assert!(!self.open[i] && sectors as usize <= self.owned(h));
        self.open[i] = true;
        WriteGrant {
            handle: h,
            lba,
            sectors,
        }
    }

    /// The slots of a grant, one per sector in LBA order.
    pub fn grant_slots(&self, g: &WriteGrant) -> &[SlotId] {
        let base = g.handle.0 as usize * self.stride;
        &self.slots[base..base + g.sectors as usize]
    }

    /// Closes a grant whose slots were handed on (committed): the handle
    /// keeps whatever it owned beyond the grant.
    pub fn close_committed(&mut self, g: &WriteGrant) {
        let i = g.handle.0 as usize;
        assert!(self.open[i]);
        let base = i * self.stride;
        let n = usize::from(self.owned[i]);
        let k = g.sectors as usize;
        self.slots.copy_within(base + k..base + n, base);
        self.owned[i] = (n - k) as u16;
        self.open[i] = false;
    }

    /// Closes a grant whose data is abandoned: the handle keeps its slots.
    pub fn close_aborted(&mut self, g: &WriteGrant) {
        let i = g.handle.0 as usize;
        assert!(self.open[i]);
        self.open[i] = false;
    }

    /// Takes back the slots `h` owns beyond `keep` (to relieve cache
    /// pressure); calls `free` for each.
    pub fn shrink(&mut self, h: Handle, keep: usize, mut free: impl FnMut(SlotId)) {
        let i = h.0 as usize;
        if self.open[i] {
            return;
        }
        while usize::from(self.owned[i]) > keep {
            self.owned[i] -= 1;
            free(self.slots[i * self.stride + usize::from(self.owned[i])]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_commit_keeps_surplus() {
        let mut m = WriteMap::new(2, 4, 1);
        let h = Handle(1);
        for s in [7, 8, 9] {
            m.add_slot(h, SlotId(s));
        }
        let g = m.open(h, Lba(100), 2);
        assert!(m.is_open(h));
        assert_eq!(m.grant_slots(&g), &[SlotId(7), SlotId(8)]);
        m.close_committed(&g);
        assert_eq!(m.owned(h), 1);
        let g = m.open(h, Lba(5), 1);
        assert_eq!(m.grant_slots(&g), &[SlotId(9)]);
        m.close_aborted(&g);
        assert_eq!(m.owned(h), 1);
        let mut freed = alloc::vec::Vec::new();
        m.shrink(h, 0, |s| freed.push(s));
        assert_eq!(freed, [SlotId(9)]);
    }
}
