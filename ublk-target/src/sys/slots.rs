//! The slot pool: 4096-byte slots (the patent's "physical storage blocks")
//! with an epoch each, plus one shared read-only zero page; and the only
//! ways to reach a slot's bytes. The slots are private memory, or a window
//! of the crash journal's file in `/dev/shm` so they outlive a daemon crash
//! (`journal.rs`).
//!
//! **Who may touch a slot**, each proven by a value the type system or a
//! run-time check stands behind:
//!
//! - an owned [`SlotPool`] not given to an FTL (tests, a crashed daemon's
//!   pool being replayed, the null target's scratch): `&pool` reads,
//!   `&mut pool` writes, checked by the borrow checker;
//! - the FTL, through [`PoolMemory`], its [`SlotMemory`], which it owns;
//! - one request, through a [`WriteLease`] (one writer) or a [`ReadLease`]
//!   (shared readers), which only `&mut PoolMemory` hands out: only the
//!   thread holding the FTL's lock, and never while the FTL holds a slice.
//!
//! A lease marks its slots lent in a per-slot word for as long as it lives
//! (a write lease excludes every other lease on its slots; read leases
//! share). The FTL's accessors check that word and panic on a slot lent
//! out: ftl-core promises never to touch a slot granted to a writer or
//! write a pinned one (`ftl_core::SlotMemory`), so such a panic is that
//! contract broken, caught before two writers ever meet. The kernel copy
//! and the copy-mode memcpy then run with the FTL's lock released, on the
//! lease's [`IoList`](super::io_list::IoList).
//!
//! The memory is pre-faulted (`MAP_POPULATE`) and mlocked when the limit
//! allows: with transparent huge pages, first-touch faults inside the
//! kernel's copy stalled a whole queue for up to ~190 ms (ublk-api.md).
//!
//! **Epochs.** Every slot has a counter that changes *before* its content
//! does: the FTL writing a slot ([`PoolMemory`]'s `slot_mut`), a write
//! lease being taken, and [`SlotPool::slot_mut`] bump it. The crash
//! journal records the epoch with each slot it names; a successor replays a
//! slot only if its epoch is unchanged, i.e. its content is still the data
//! the journal meant (see `journal.rs`). With a file-backed pool the epochs
//! sit in the same shared file, in front of the slots, mapped apart and
//! reached only as atomics.

use std::fs::File;
use std::io;
use std::sync::atomic::{fence, AtomicU32, Ordering};
use std::sync::Arc;

use ftl_core::{Segment, SlotId, SlotMemory};
use simulator::mmap::{Atomics, Mapping, Populate};

pub use super::io_list::{IoList, IoVec};
use crate::backend::IoError;
use crate::spec::BLOCK_SIZE;

/// Most blocks in one request (512 KiB, the ublk `io_buf_bytes`).
pub const MAX_IO_BLOCKS: usize = 128;

pub(super) const SLOT: usize = BLOCK_SIZE as usize;

/// Bytes in front of the slots of a file-backed pool: one u32 epoch per
/// slot, rounded up to whole pages.
pub fn epochs_len(slots: u32) -> usize {
    (slots as usize * 4).div_ceil(SLOT) * SLOT
}

/// Bytes a file-backed pool of `slots` slots occupies.
pub fn pool_len(slots: u32) -> usize {
    epochs_len(slots) + slots as usize * SLOT
}

/// The zero page: a READ of a block never written sends it. Immutable, so
/// nothing can write it; page-aligned like a slot.
#[repr(C, align(4096))]
struct ZeroPage([u8; SLOT]);
static ZERO_PAGE: ZeroPage = ZeroPage([0; SLOT]);

/// The zero page's address, for read-only iovecs.
pub(super) fn zero_page() -> *mut u8 {
    ZERO_PAGE.0.as_ptr().cast_mut()
}

/// A pool's memory: epochs and slots, two mappings. It hands out only
/// addresses; who may use them is decided by its owners in this module.
pub(super) struct Memory {
    epochs: Atomics<AtomicU32>,
    slots: Mapping,
    count: u32,
    locked: bool,
}

impl Memory {
    fn new(epochs: Mapping, slots: Mapping, count: u32) -> io::Result<Memory> {
        let whole = slots.len() >= count as usize * SLOT && epochs.len() >= count as usize * 4;
        if count == 0 || count == u32::MAX || !whole {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let locked = slots.lock_in_ram() & epochs.lock_in_ram();
        Ok(Memory {
            epochs: epochs.into_atomics(),
            slots,
            count,
            locked,
        })
    }

    /// The first byte of slot `slot`, which spans `SLOT` bytes of the live
    /// slot mapping; `None` outside the pool.
    pub(super) fn ptr(&self, slot: u32) -> Option<*mut u8> {
        (slot < self.count).then(|| self.slots.as_ptr().wrapping_add(slot as usize * SLOT))
    }

    fn epoch(&self, slot: u32) -> u32 {
        match self.epochs.words().get(slot as usize) {
            Some(e) if slot < self.count => e.load(Ordering::Acquire),
            _ => 0,
        }
    }

    fn claim(&self, slot: u32) {
        if let Some(e) = self.epochs.words().get(slot as usize) {
            e.fetch_add(1, Ordering::AcqRel);
            // The new epoch is in memory before any byte of new content.
            fence(Ordering::SeqCst);
        }
    }
}

/// A pool of slots owned by its holder: not (yet) the FTL's memory.
pub struct SlotPool {
    mem: Memory,
}

impl SlotPool {
    /// `slots` slots in private memory (lost with the process).
    pub fn new(slots: u32) -> io::Result<SlotPool> {
        let epochs = Mapping::anon(epochs_len(slots), Populate(true))?;
        let map = Mapping::anon(slots as usize * SLOT, Populate(true))?;
        Ok(SlotPool {
            mem: Memory::new(epochs, map, slots)?,
        })
    }

    /// `slots` slots in `file` at `offset` (page-aligned), shared: what the
    /// process wrote is still there for the next one. The file must be at
    /// least `offset + pool_len(slots)` long.
    pub fn in_file(file: &File, offset: u64, slots: u32) -> io::Result<SlotPool> {
        let e = epochs_len(slots);
        let epochs = Mapping::shared(file, offset, e, Populate(true))?;
        let map = Mapping::shared(
            file,
            offset + e as u64,
            slots as usize * SLOT,
            Populate(true),
        )?;
        Ok(SlotPool {
            mem: Memory::new(epochs, map, slots)?,
        })
    }

    /// Slots in the pool.
    pub fn slot_count(&self) -> u32 {
        self.mem.count
    }

    /// Whether the pool is locked in RAM.
    pub fn is_locked(&self) -> bool {
        self.mem.locked
    }

    /// Slot `slot`'s epoch (0 outside the pool).
    pub fn epoch(&self, slot: u32) -> u32 {
        self.mem.epoch(slot)
    }

    /// Marks `slot` as about to be overwritten (its epoch changes first).
    pub fn claim(&self, slot: u32) {
        self.mem.claim(slot);
    }

    /// Slot `slot`'s bytes (empty outside the pool).
    pub fn slot(&self, slot: u32) -> &[u8] {
        match self.mem.ptr(slot) {
            // SAFETY: `SLOT` bytes of the live mapping, which `&self` keeps
            // mapped; every write to an owned pool's slots needs `&mut self`
            // (`slot_mut`, `io_list`), which this shared borrow excludes.
            Some(p) => unsafe { std::slice::from_raw_parts(p, SLOT) },
            None => &[],
        }
    }

    /// Slot `slot`'s bytes, writable, its epoch bumped first (empty
    /// outside the pool).
    pub fn slot_mut(&mut self, slot: u32) -> &mut [u8] {
        self.mem.claim(slot);
        match self.mem.ptr(slot) {
            // SAFETY: `SLOT` bytes of the live mapping; `&mut self` makes
            // this the only view of any slot of the pool until it ends.
            Some(p) => unsafe { std::slice::from_raw_parts_mut(p, SLOT) },
            None => &mut [],
        }
    }

    /// An empty, writable list of payload places in this pool; the list
    /// holds the pool exclusively while it lives.
    pub fn io_list(&mut self) -> IoList<'_> {
        IoList::over(&self.mem)
    }
}

/// Lent word of a slot with a write lease; otherwise the count of read
/// leases (0: the FTL's alone).
const WRITER: u32 = u32::MAX;
/// A read lease's entry for the zero page.
const ZERO_ENTRY: u32 = u32::MAX;

/// The memory shared by the FTL's [`PoolMemory`], the leases and the
/// handles: the pool and who has each slot.
struct Shared {
    mem: Memory,
    lent: Box<[AtomicU32]>,
}

impl Shared {
    fn lent(&self, slot: u32) -> u32 {
        self.lent
            .get(slot as usize)
            .map_or(0, |l| l.load(Ordering::Acquire))
    }
}

/// A pool given to the FTL: its [`SlotMemory`], and the one place leases
/// for requests come from.
pub struct PoolMemory {
    shared: Arc<Shared>,
}

impl PoolMemory {
    /// Gives `pool` to the FTL (`Ftl::format`/`Ftl::open` take this).
    pub fn new(pool: SlotPool) -> PoolMemory {
        let lent = (0..pool.mem.count).map(|_| AtomicU32::new(0)).collect();
        PoolMemory {
            shared: Arc::new(Shared {
                mem: pool.mem,
                lent,
            }),
        }
    }

    /// A handle on the pool's epochs and facts, for whoever builds journal
    /// records or stats outside the FTL.
    pub fn handle(&self) -> PoolHandle {
        PoolHandle(self.shared.clone())
    }

    /// Lends `ids` (in order) to one request for writing: neither the FTL
    /// nor another lease reaches them until the lease drops. Their epochs
    /// change first. Fails if a slot is outside the pool or already lent.
    pub fn lend_write(&mut self, ids: &[SlotId]) -> Result<WriteLease, LendError> {
        if ids.len() > MAX_IO_BLOCKS {
            return Err(LendError::TooLarge);
        }
        let mut lease = WriteLease {
            shared: self.shared.clone(),
            ids: [0; MAX_IO_BLOCKS],
            len: 0,
        };
        for &SlotId(s) in ids {
            let word = self
                .shared
                .lent
                .get(s as usize)
                .ok_or(LendError::Outside(s))?;
            word.compare_exchange(0, WRITER, Ordering::Acquire, Ordering::Relaxed)
                .map_err(|_| LendError::Busy(s))?;
            lease.ids[lease.len] = s;
            lease.len += 1;
        }
        for &s in lease.ids() {
            self.shared.mem.claim(s);
        }
        Ok(lease)
    }

    /// Lends the slots of `segs` (in order; [`Segment::Zero`] is the zero
    /// page) to one request for reading: the FTL does not write them and
    /// no write lease takes them until the lease drops. Fails if a slot is
    /// outside the pool or lent for writing.
    pub fn lend_read(&mut self, segs: &[Segment]) -> Result<ReadLease, LendError> {
        if segs.len() > MAX_IO_BLOCKS {
            return Err(LendError::TooLarge);
        }
        let mut lease = ReadLease {
            shared: self.shared.clone(),
            entries: [ZERO_ENTRY; MAX_IO_BLOCKS],
            len: 0,
        };
        for seg in segs {
            let entry = match *seg {
                Segment::Zero => ZERO_ENTRY,
                Segment::Slot(SlotId(s)) => {
                    let word = self
                        .shared
                        .lent
                        .get(s as usize)
                        .ok_or(LendError::Outside(s))?;
                    word.fetch_update(Ordering::Acquire, Ordering::Relaxed, |n| {
                        (n < WRITER - 1).then(|| n + 1)
                    })
                    .map_err(|_| LendError::Busy(s))?;
                    s
                }
            };
            lease.entries[lease.len] = entry;
            lease.len += 1;
        }
        Ok(lease)
    }

    fn check_unlent(&self, slot: u32, writing: bool) {
        let n = self.shared.lent(slot);
        // ftl-core never touches a slot granted to a writer, nor writes one
        // pinned by readers: a lent slot here is that contract broken.
        assert!(
            n == 0 || (!writing && n != WRITER),
            "ftl-core reached slot {slot} while a request holds it (lent word {n:#x})"
        );
    }
}

impl SlotMemory for PoolMemory {
    fn slot_count(&self) -> u32 {
        self.shared.mem.count
    }

    fn slot_size(&self) -> usize {
        SLOT
    }

    fn slot(&self, id: SlotId) -> &[u8] {
        let Some(p) = self.shared.mem.ptr(id.0) else {
            return &[];
        };
        self.check_unlent(id.0, false);
        // SAFETY: `SLOT` bytes of the live mapping (the Arc keeps it while
        // `self` lives). No write lease holds the slot (just checked) and
        // none can start while this borrow lives (leases need `&mut self`);
        // the FTL's own writes need `&mut self` too.
        unsafe { std::slice::from_raw_parts(p, SLOT) }
    }

    fn slot_mut(&mut self, id: SlotId) -> &mut [u8] {
        let Some(p) = self.shared.mem.ptr(id.0) else {
            return &mut [];
        };
        self.check_unlent(id.0, true);
        self.shared.mem.claim(id.0);
        // SAFETY: `SLOT` bytes of the live mapping. No lease holds the slot
        // (just checked) and none can start while `&mut self` is borrowed,
        // which also excludes every other FTL-side slice.
        unsafe { std::slice::from_raw_parts_mut(p, SLOT) }
    }

    fn slots_mut<'a>(&'a mut self, ids: &[SlotId], out: &mut [&'a mut [u8]]) {
        for (i, id) in ids.iter().enumerate() {
            assert!(!ids[..i].contains(id), "slots_mut: slot {} twice", id.0);
        }
        for (o, id) in out.iter_mut().zip(ids) {
            let Some(p) = self.shared.mem.ptr(id.0) else {
                *o = &mut [];
                continue;
            };
            self.check_unlent(id.0, true);
            self.shared.mem.claim(id.0);
            // SAFETY: as in `slot_mut`; the ids are distinct (checked
            // above), so the slices handed out together are disjoint.
            *o = unsafe { std::slice::from_raw_parts_mut(p, SLOT) };
        }
    }
}

/// The pool's epochs and facts, without access to any slot's bytes.
#[derive(Clone)]
pub struct PoolHandle(Arc<Shared>);

impl PoolHandle {
    /// Slots in the pool.
    pub fn slot_count(&self) -> u32 {
        self.0.mem.count
    }

    /// Whether the pool is locked in RAM.
    pub fn is_locked(&self) -> bool {
        self.0.mem.locked
    }

    /// Slot `slot`'s epoch (0 outside the pool).
    pub fn epoch(&self, slot: u32) -> u32 {
        self.0.mem.epoch(slot)
    }
}

/// Slots lent to one request for writing, in request order.
pub struct WriteLease {
    shared: Arc<Shared>,
    ids: [u32; MAX_IO_BLOCKS],
    len: usize,
}

impl WriteLease {
    /// The lent slots, in order.
    pub fn ids(&self) -> &[u32] {
        &self.ids[..self.len]
    }

    /// The `i`th lent slot's bytes (empty past the last).
    pub fn slot_mut(&mut self, i: usize) -> &mut [u8] {
        match self.ids().get(i).and_then(|&s| self.shared.mem.ptr(s)) {
            // SAFETY: `SLOT` bytes of the live mapping (the Arc keeps it).
            // This lease is the slot's only holder (its lent word is WRITER:
            // no FTL access, no other lease), and `&mut self` excludes the
            // lease's other views (its io lists).
            Some(p) => unsafe { std::slice::from_raw_parts_mut(p, SLOT) },
            None => &mut [],
        }
    }

    /// Every lent slot's bytes, in order (a NAND read's scatter list).
    pub fn slots_mut(&mut self) -> Vec<&mut [u8]> {
        let mut out = Vec::with_capacity(self.len);
        for &s in &self.ids[..self.len] {
            if let Some(p) = self.shared.mem.ptr(s) {
                // SAFETY: `SLOT` bytes of the live mapping (the Arc keeps
                // it), lent to this lease alone (lent word WRITER), and
                // `&mut self` excludes the lease's other views. The slices
                // are disjoint: lending a slot twice fails (its word is no
                // longer 0), so `ids` holds no slot twice.
                out.push(unsafe { std::slice::from_raw_parts_mut(p, SLOT) });
            }
        }
        out
    }

    /// The lent slots as a writable list, for the kernel or a memcpy to
    /// fill.
    pub fn io_list(&mut self) -> IoList<'_> {
        let mut l = IoList::leased(true);
        for &s in &self.ids[..self.len] {
            if let Some(p) = self.shared.mem.ptr(s) {
                l.push_leased(p);
            }
        }
        l
    }
}

impl Drop for WriteLease {
    fn drop(&mut self) {
        for &s in &self.ids[..self.len] {
            if let Some(word) = self.shared.lent.get(s as usize) {
                // Release: the request's writes happen before the FTL's
                // next access to the slot.
                word.store(0, Ordering::Release);
            }
        }
    }
}

/// Slots (and zero pages) lent to one request for reading, in order.
pub struct ReadLease {
    shared: Arc<Shared>,
    entries: [u32; MAX_IO_BLOCKS],
    len: usize,
}

impl ReadLease {
    /// Blocks in the lease.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the lease holds no block.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The lease as a read-only list, for the kernel or a memcpy to drain.
    pub fn io_list(&self) -> IoList<'_> {
        let mut l = IoList::leased(false);
        for &e in &self.entries[..self.len] {
            match self.shared.mem.ptr(e) {
                Some(p) if e != ZERO_ENTRY => l.push_leased(p),
                _ => l.push_leased(zero_page()),
            }
        }
        l
    }
}

impl Drop for ReadLease {
    fn drop(&mut self) {
        for &e in &self.entries[..self.len] {
            if let Some(word) = self.shared.lent.get(e as usize) {
                word.fetch_sub(1, Ordering::Release);
            }
        }
    }
}

/// Why slots could not be lent to a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LendError {
    /// The slot is not in the pool.
    #[error("slot {0} outside the pool")]
    Outside(u32),
    /// Another request holds the slot in a way that excludes this one.
    #[error("slot {0} is held by another request")]
    Busy(u32),
    /// More slots than one request may hold.
    #[error("request larger than 512 KiB")]
    TooLarge,
}

impl From<LendError> for IoError {
    fn from(e: LendError) -> IoError {
        IoError::Backend(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_slots_are_disjoint_and_zeroed() {
        let mut pool = SlotPool::new(8).unwrap();
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
        let mut pool = SlotPool::new(4).unwrap();
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
        let mut a = SlotPool::in_file(&f, 4096, 3).unwrap();
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
    fn leases_exclude_each_other_and_the_ftl() {
        let mut mem = PoolMemory::new(SlotPool::new(4).unwrap());
        let h = mem.handle();
        let e = h.epoch(1);
        let mut w = mem.lend_write(&[SlotId(1), SlotId(2)]).unwrap();
        assert_ne!(h.epoch(1), e, "a write lease bumps the epoch");
        assert_eq!(
            mem.lend_write(&[SlotId(2)]).err(),
            Some(LendError::Busy(2)),
            "one writer"
        );
        assert_eq!(
            mem.lend_read(&[Segment::Slot(SlotId(1))]).err(),
            Some(LendError::Busy(1)),
            "no reader while a writer holds it"
        );
        assert_eq!(
            mem.lend_write(&[SlotId(3), SlotId(3)]).err(),
            Some(LendError::Busy(3)),
            "a slot twice in one lease"
        );
        assert_eq!(
            mem.lend_write(&[SlotId(4)]).err(),
            Some(LendError::Outside(4))
        );
        w.slot_mut(1).fill(9);
        assert!(w.slot_mut(2).is_empty());
        drop(w);
        assert!(
            mem.slot(SlotId(2)).iter().all(|&b| b == 9),
            "back to the FTL"
        );
        let r1 = mem
            .lend_read(&[Segment::Slot(SlotId(2)), Segment::Zero])
            .unwrap();
        let r2 = mem.lend_read(&[Segment::Slot(SlotId(2))]).unwrap();
        assert_eq!(r1.io_list().bytes(), 8192);
        assert!(!r1.io_list().writable());
        assert!(
            mem.slot(SlotId(2))[0] == 9,
            "the FTL may read a pinned slot"
        );
        assert_eq!(mem.lend_write(&[SlotId(2)]).err(), Some(LendError::Busy(2)));
        drop((r1, r2));
        mem.slot_mut(SlotId(2))[0] = 1;
        assert!(
            mem.lend_write(&[SlotId(0), SlotId(2)]).is_ok(),
            "all released"
        );
    }

    #[test]
    #[should_panic(expected = "while a request holds it")]
    fn the_ftl_cannot_write_a_lent_slot() {
        let mut mem = PoolMemory::new(SlotPool::new(2).unwrap());
        let _r = mem.lend_read(&[Segment::Slot(SlotId(1))]).unwrap();
        mem.slot_mut(SlotId(1))[0] = 1;
    }
}
