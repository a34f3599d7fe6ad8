//! The slot pool: one anonymous mapping cut into 4096-byte slots (the
//! patent's "physical storage blocks"), plus a shared read-only zero page.
//!
//! This is the daemon's only raw memory. The FTL reaches the slots through
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

use std::io;
use std::marker::PhantomData;
use std::ptr::NonNull;

use crate::backend::{IoError, IoVec};
use crate::spec::BLOCK_SIZE;

/// Most blocks in one request (512 KiB, the ublk `io_buf_bytes`).
pub const MAX_IO_BLOCKS: usize = 128;

const SLOT: usize = BLOCK_SIZE as usize;

/// An mmap'd, pre-faulted array of slots and a zero page.
pub struct SlotPool {
    base: NonNull<u8>,
    slots: u32,
    map_len: usize,
    /// Whether `mlock` succeeded (reported in stats).
    locked: bool,
}

// SAFETY: the pool is a plain memory region; who may touch which slot when is
// governed by the FTL's grant contract (module docs), not by thread identity.
unsafe impl Send for SlotPool {}
// SAFETY: as for Send: shared access only hands out addresses and, through
// `PoolMemory`, slices whose exclusivity the FTL's grant contract guarantees.
unsafe impl Sync for SlotPool {}

impl SlotPool {
    /// Maps `slots` slots plus one zero page, pre-faulted; tries to mlock.
    pub fn new(slots: u32) -> io::Result<SlotPool> {
        let map_len = (slots as usize + 1)
            .checked_mul(SLOT)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))?;
        // SAFETY: a fresh private anonymous mapping; no existing memory is
        // affected, and the result is checked before use.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = NonNull::new(p.cast::<u8>()).ok_or_else(io::Error::last_os_error)?;
        let zero_page = (slots as usize) * SLOT;
        // SAFETY: both calls cover only pages inside the mapping just made.
        let locked = unsafe {
            // Best effort: huge pages would make pre-faulting coarse again.
            libc::madvise(p, map_len, libc::MADV_NOHUGEPAGE);
            // The zero page stays zero: nothing may write it.
            libc::mprotect(p.cast::<u8>().add(zero_page).cast(), SLOT, libc::PROT_READ);
            libc::mlock(p, map_len) == 0
        };
        Ok(SlotPool {
            base,
            slots,
            map_len,
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
        // SAFETY: slot < slots, so the offset stays inside the mapping.
        Ok(unsafe { self.base.as_ptr().add(slot as usize * SLOT) })
    }

    fn zero_ptr(&self) -> *mut u8 {
        // SAFETY: the zero page is the mapping's last page.
        unsafe { self.base.as_ptr().add(self.slots as usize * SLOT) }
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

    /// Slot `slot` as a mutable slice. Callers uphold the grant contract.
    #[allow(clippy::mut_from_ref)]
    pub fn slot_mut(&self, slot: u32) -> &mut [u8] {
        match self.slot_ptr(slot) {
            // SAFETY: in bounds; only the FTL (holding `&mut` of its memory)
            // writes a slot that is neither granted nor pinned, so no other
            // reference or kernel copy aliases it (grant contract).
            Ok(p) => unsafe { std::slice::from_raw_parts_mut(p, SLOT) },
            Err(_) => &mut [],
        }
    }
}

impl Drop for SlotPool {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`; no IoList or
        // slice outlives the pool (they borrow it).
        unsafe {
            libc::munmap(self.base.as_ptr().cast(), self.map_len);
        }
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
