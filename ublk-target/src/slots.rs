//! The slot pool: one mapping cut into 4096-byte slots (the patent's
//! "physical storage blocks"), plus a shared read-only zero page. The
//! mapping is private memory, or a window of the crash journal's file in
//! `/dev/shm` so the slots outlive a daemon crash (`journal.rs`).
//!
//! The FTL reaches the slots through
//! [`ftl_core::SlotMemory`] (`PoolMemory`, for NAND program/read), the
//! ublk queues through [`IoList`]s of slot addresses handed to the kernel's
//! `preadv`/`pwritev` — with the FTL behind a mutex and the kernel copy done
//! outside it. Two rules make that sound, both the FTL's documented grant
//! contract: between `begin_write` and `commit_write`/`abort_write` the FTL
//! never touches the granted slots, and between `begin_read` and `end_read`
//! it never writes the pinned ones. So no slot is ever written through two
//! paths at once.
//!
//! The mapping is pre-faulted (`MAP_POPULATE`) and mlocked when the limit
//! allows: with transparent huge pages, first-touch faults inside the
//! kernel's copy stalled a whole queue for up to ~190 ms (ublk-api.md).
//!
//! **Epochs.** Every slot has a counter that changes *before* its content
//! does: [`SlotPool::slot_mut`] (the FTL loading or zeroing a slot) and
//! [`SlotPool::claim`] (a slot granted to a WRITE, before the kernel copy)
//! bump it. The crash journal records the epoch with each slot it names;
//! a successor replays a slot only if its epoch is unchanged, i.e. its
//! content is still the data the journal meant (see `journal.rs`). With a
//! file-backed pool the epochs sit in the same shared file, in front of the
//! slots.

use std::fs::File;
use std::io;
use std::marker::PhantomData;
use std::sync::atomic::{fence, AtomicU32, Ordering};

use crate::backend::{IoError, IoVec};
use crate::mapping::{Mapping, Populate};
use crate::spec::BLOCK_SIZE;

/// Most blocks in one request (512 KiB, the ublk `io_buf_bytes`).
pub const MAX_IO_BLOCKS: usize = 128;

const SLOT: usize = BLOCK_SIZE as usize;

/// Bytes in front of the slots of a file-backed pool: one u32 epoch per
/// slot, rounded up to whole pages.
pub fn epochs_len(slots: u32) -> usize {
    (slots as usize * 4).div_ceil(SLOT) * SLOT
}

/// Bytes a file-backed pool of `slots` slots occupies.
pub fn pool_len(slots: u32) -> usize {
    epochs_len(slots) + slots as usize * SLOT
}

/// An mmap'd, pre-faulted array of slots with their epochs, and a zero page.
pub struct SlotPool {
    /// Epochs, then slots.
    map: Mapping,
    zero: Mapping,
    slots: u32,
    /// Whether `mlock` succeeded (reported in stats).
    locked: bool,
}

impl SlotPool {
    /// `slots` slots in private memory (lost with the process).
    pub fn new(slots: u32) -> io::Result<SlotPool> {
        let len = pool_len(slots);
        Self::with_map(Mapping::anon(len, Populate(true))?, slots)
    }

    /// `slots` slots in `file` at `offset` (page-aligned), shared: what the
    /// process wrote is still there for the next one. The file must be at
    /// least `offset + pool_len(slots)` long.
    pub fn in_file(file: &File, offset: u64, slots: u32) -> io::Result<SlotPool> {
        let len = pool_len(slots);
        Self::with_map(Mapping::shared(file, offset, len, Populate(true))?, slots)
    }

    fn with_map(map: Mapping, slots: u32) -> io::Result<SlotPool> {
        if slots == 0 {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let zero = Mapping::anon(SLOT, Populate(true))?;
        // The zero page stays zero: nothing may write it.
        zero.make_read_only()?;
        let locked = map.lock_in_ram();
        Ok(SlotPool {
            map,
            zero,
            slots,
            locked,
        })
    }

    /// Slots in the pool.
    pub fn slot_count(&self) -> u32 {
        self.slots
    }

    /// Whether the pool is locked in RAM.
    pub fn is_locked(&self) -> bool {
        self.locked
    }

    fn slot_ptr(&self, slot: u32) -> Result<*mut u8, IoError> {
        if slot >= self.slots {
            return Err(IoError::Backend(format!("slot {slot} outside the pool")));
        }
        let at = epochs_len(self.slots) + slot as usize * SLOT;
        // SAFETY: slot < slots, so the offset stays inside the mapping.
        Ok(unsafe { self.map.as_ptr().add(at) })
    }

    fn epoch_cell(&self, slot: u32) -> Option<&AtomicU32> {
        if slot >= self.slots {
            return None;
        }
        // SAFETY: in bounds (slot < slots), 4-aligned (the mapping is
        // page-aligned), and only ever accessed atomically.
        Some(unsafe { AtomicU32::from_ptr(self.map.as_ptr().cast::<u32>().add(slot as usize)) })
    }

    /// Slot `slot`'s epoch (0 outside the pool).
    pub fn epoch(&self, slot: u32) -> u32 {
        self.epoch_cell(slot)
            .map_or(0, |c| c.load(Ordering::Acquire))
    }

    /// Marks `slot` as about to be overwritten (its epoch changes first).
    pub fn claim(&self, slot: u32) {
        if let Some(c) = self.epoch_cell(slot) {
            c.fetch_add(1, Ordering::AcqRel);
            // The new epoch is in memory before any byte of new content.
            fence(Ordering::SeqCst);
        }
    }

    /// Slot `slot` as a shared slice. Callers uphold the grant contract.
    pub fn slot(&self, slot: u32) -> &[u8] {
        match self.slot_ptr(slot) {
            // SAFETY: in bounds; nobody writes this slot while the FTL reads
            // it (grant contract).
            Ok(p) => unsafe { std::slice::from_raw_parts(p, SLOT) },
            Err(_) => &[],
        }
    }

    /// Slot `slot` as a mutable slice, its epoch bumped first. Callers
    /// uphold the grant contract.
    #[allow(clippy::mut_from_ref)]
    pub fn slot_mut(&self, slot: u32) -> &mut [u8] {
        self.claim(slot);
        match self.slot_ptr(slot) {
            // SAFETY: in bounds; only the FTL (holding `&mut` of its memory)
            // writes a slot that is neither granted nor pinned, so no other
            // reference or kernel copy aliases it (grant contract).
            Ok(p) => unsafe { std::slice::from_raw_parts_mut(p, SLOT) },
            Err(_) => &mut [],
        }
    }

    fn zero_ptr(&self) -> *mut u8 {
        self.zero.as_ptr()
    }
}

/// The payload places of one request, in order: slots and zero pages.
/// Built only from a live [`SlotPool`], which it borrows, so every entry
/// is valid memory for the copy that uses it.
pub struct IoList<'p> {
    iov: [IoVec; MAX_IO_BLOCKS],
    len: usize,
    has_zero: bool,
    pool: PhantomData<&'p SlotPool>,
}

impl<'p> IoList<'p> {
    /// An empty list over `pool`.
    pub fn new(_pool: &'p SlotPool) -> IoList<'p> {
        IoList {
            iov: [IoVec {
                iov_base: std::ptr::null_mut(),
                iov_len: 0,
            }; MAX_IO_BLOCKS],
            len: 0,
            has_zero: false,
            pool: PhantomData,
        }
    }

    fn push(&mut self, base: *mut u8) -> Result<(), IoError> {
        let e = self
            .iov
            .get_mut(self.len)
            .ok_or_else(|| IoError::Backend("request larger than 512 KiB".into()))?;
        *e = IoVec {
            iov_base: base.cast(),
            iov_len: SLOT,
        };
        self.len += 1;
        Ok(())
    }

    /// Appends slot `slot` of `pool`.
    pub fn push_slot(&mut self, pool: &'p SlotPool, slot: u32) -> Result<(), IoError> {
        let p = pool.slot_ptr(slot)?;
        self.push(p)
    }

    /// Appends the zero page (a READ of an unwritten block).
    pub fn push_zero(&mut self, pool: &'p SlotPool) -> Result<(), IoError> {
        self.has_zero = true;
        self.push(pool.zero_ptr())
    }

    /// The entries.
    pub fn iovecs(&self) -> &[IoVec] {
        &self.iov[..self.len]
    }

    /// Total bytes.
    pub fn bytes(&self) -> usize {
        self.len * SLOT
    }

    /// Whether a copy may write into these buffers (no zero page in them).
    pub fn writable(&self) -> bool {
        !self.has_zero
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_slots_are_disjoint_and_zeroed() {
        let pool = SlotPool::new(8).unwrap();
        assert_eq!(pool.slot_count(), 8);
        pool.slot_mut(3).fill(0xab);
        assert!(pool.slot(2).iter().all(|&b| b == 0));
        assert!(pool.slot(3).iter().all(|&b| b == 0xab));
        assert!(pool.slot(4).iter().all(|&b| b == 0));
        assert!(
            pool.slot(8).is_empty(),
            "out of range is empty, not a panic"
        );
    }

    #[test]
    fn epochs_change_before_content_and_a_file_pool_outlives_its_mapping() {
        let pool = SlotPool::new(4).unwrap();
        let e = pool.epoch(1);
        pool.claim(1);
        assert_ne!(pool.epoch(1), e, "claim bumps");
        let e = pool.epoch(1);
        pool.slot_mut(1)[0] = 7;
        assert_ne!(pool.epoch(1), e, "slot_mut bumps");
        assert_eq!(pool.epoch(4), 0, "out of range is 0, not a panic");

        let path = std::env::temp_dir().join(format!("zcftl-pool-{}", std::process::id()));
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        f.set_len(4096 + pool_len(3) as u64).unwrap();
        let a = SlotPool::in_file(&f, 4096, 3).unwrap();
        a.slot_mut(2).fill(0x5a);
        let epoch = a.epoch(2);
        drop(a);
        let b = SlotPool::in_file(&f, 4096, 3).unwrap();
        assert!(b.slot(2).iter().all(|&x| x == 0x5a));
        assert_eq!(b.epoch(2), epoch);
        drop(b);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn io_list_bounds() {
        let pool = SlotPool::new(2).unwrap();
        let mut l = IoList::new(&pool);
        l.push_slot(&pool, 1).unwrap();
        assert!(l.writable());
        l.push_zero(&pool).unwrap();
        assert!(!l.writable());
        assert_eq!(l.bytes(), 8192);
        assert!(l.push_slot(&pool, 2).is_err());
        for _ in 2..MAX_IO_BLOCKS {
            l.push_zero(&pool).unwrap();
        }
        assert!(l.push_zero(&pool).is_err(), "more than 512 KiB");
    }
}
