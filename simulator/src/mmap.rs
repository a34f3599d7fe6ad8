//! The workspace's one memory-map wrapper, and the one `unsafe` corner of
//! the simulator: a mapping unmapped on drop, either a shared window of a
//! file (the simulator's image; ftl-ublk's crash journal and slot pool) or
//! private anonymous memory (ftl-ublk's slot pool without a journal).
//!
//! Safe access is borrow-checked. [`Mapping::bytes`] takes `&self` and
//! [`Mapping::bytes_mut`] takes `&mut self`, so safe code never holds a
//! `&mut` slice that aliases anything. A mapping used as atomic words
//! shared between threads (a commit word, per-slot epochs) becomes an
//! [`Atomics`], which has no byte view at all, so atomic and plain
//! accesses never meet. A user that lets several threads write disjoint
//! parts of one mapping at once (ftl-ublk's slot pool) takes
//! [`Mapping::as_ptr`] and proves the disjointness in its own `unsafe`
//! code.
//!
//! Soundness also rests on no other process writing or shrinking a mapped
//! file meanwhile. That is what the image's exclusive `flock` buys among
//! cooperating openers; a process that ignores the lock and truncates the
//! file can still make an access fault (SIGBUS), which no mmap user can
//! prevent. Inside the process, an image split into partitions is mapped
//! once per partition (`part.rs`), and each writes only the bytes of its
//! own blocks, a range every operation checks before it reaches the
//! mapping: through two mappings the same bytes are never written by one
//! while the other touches them.

use std::ffi::c_void;
use std::fs::File;
use std::io;
use std::marker::PhantomData;
use std::num::NonZeroUsize;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64};

use nix::sys::mman::{
    madvise, mlock, mmap, mmap_anonymous, msync, munmap, MapFlags, MmapAdvise, MsFlags, ProtFlags,
};

/// Whether a new mapping is pre-faulted (`MAP_POPULATE`): every page
/// present before the first access, so no access stalls on a page fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Populate(pub bool);

/// A read-write memory mapping of `len` bytes.
#[derive(Debug)]
pub struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain memory owned by this value alone; moving it
// to another thread moves that ownership (there is no thread-affine state).
unsafe impl Send for Mapping {}
// SAFETY: through `&Mapping` safe code only reads (`bytes`) or makes raw
// pointers (`as_ptr`, whose writes are the unsafe caller's to justify);
// writing through safe code needs `&mut Mapping`.
unsafe impl Sync for Mapping {}

fn einval() -> io::Error {
    io::Error::from_raw_os_error(nix::libc::EINVAL)
}

impl Mapping {
    /// Maps the first `len` bytes of `file`, shared, which must be open
    /// read-write and at least `len` bytes long.
    pub fn new(file: &File, len: NonZeroUsize) -> io::Result<Mapping> {
        Self::shared(file, 0, len.get(), Populate(false))
    }

    /// Maps `len` bytes of `file` from `offset` (page-aligned), shared:
    /// stores reach the file, and a later process mapping it sees them.
    /// The file must be open read-write and hold `offset + len` bytes.
    pub fn shared(file: &File, offset: u64, len: usize, populate: Populate) -> io::Result<Mapping> {
        let len = NonZeroUsize::new(len).ok_or_else(einval)?;
        let offset = nix::libc::off_t::try_from(offset).map_err(|_| einval())?;
        let mut flags = MapFlags::MAP_SHARED;
        if populate.0 {
            flags |= MapFlags::MAP_POPULATE;
        }
        // SAFETY: a fresh mapping (no fixed address), so no existing memory
        // is replaced; the caller checked the file holds the mapped range,
        // so every mapped byte is backed.
        let ptr = unsafe {
            mmap(
                None,
                len,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                flags,
                file,
                offset,
            )
        }
        .map_err(io::Error::from)?;
        Ok(Mapping {
            ptr: ptr.cast(),
            len: len.get(),
        })
    }

    /// `len` bytes of zeroed private memory, lost with the process.
    pub fn anon(len: usize, populate: Populate) -> io::Result<Mapping> {
        let len = NonZeroUsize::new(len).ok_or_else(einval)?;
        let mut flags = MapFlags::MAP_PRIVATE;
        if populate.0 {
            flags |= MapFlags::MAP_POPULATE;
        }
        // SAFETY: a fresh anonymous mapping at an address the kernel picks;
        // no existing memory is affected.
        let ptr = unsafe {
            mmap_anonymous(
                None,
                len,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                flags,
            )
        }
        .map_err(io::Error::from)?;
        Ok(Mapping {
            ptr: ptr.cast(),
            len: len.get(),
        })
    }

    /// Bytes mapped (never 0).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: an empty mapping cannot be made.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The mapped bytes.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` points at `len` mapped, readable bytes that stay
        // mapped until `drop`; the shared borrow of `self` keeps `bytes_mut`
        // from handing out an aliasing `&mut` meanwhile.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The mapped bytes, writable.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`, and the exclusive borrow of `self` makes
        // this the only live slice over the mapping.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    /// The first byte, for a user that writes disjoint parts of the
    /// mapping from several threads at once. Valid for `len()` bytes until
    /// the mapping drops; writing through it is that user's `unsafe` to
    /// justify, including never while a [`Mapping::bytes`] slice lives.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Writes every dirty page of the mapping back to the file and waits.
    pub fn sync(&self) -> io::Result<()> {
        // SAFETY: the range is exactly our own live mapping.
        unsafe { msync(self.ptr.cast(), self.len, MsFlags::MS_SYNC) }.map_err(io::Error::from)
    }

    /// Tells the kernel the mapping is read at random: no readahead. A NAND
    /// page read then faults in only what it touches, instead of zeroing
    /// large folios of a sparse image's holes around it (which made a
    /// 64 GiB mount 18 s, nearly all kernel memset). Best effort.
    pub fn advise_random(&self) {
        // SAFETY: covers exactly our own live mapping and changes only how
        // the kernel pages it in, not its contents.
        let _ = unsafe { madvise(self.ptr.cast(), self.len, MmapAdvise::MADV_RANDOM) };
    }

    /// Keeps the mapping in RAM: no transparent huge pages (a first touch
    /// of a huge page inside a kernel copy stalled an I/O queue for
    /// ~190 ms), then `mlock`. Returns whether the lock took (it needs
    /// `RLIMIT_MEMLOCK` room); the advice is best effort.
    pub fn lock_in_ram(&self) -> bool {
        // SAFETY: both calls cover exactly our own live mapping and change
        // only how the kernel backs it, not its contents.
        unsafe {
            let _ = madvise(self.ptr.cast(), self.len, MmapAdvise::MADV_NOHUGEPAGE);
            mlock(self.ptr.cast::<c_void>(), self.len).is_ok()
        }
    }

    /// This mapping as atomic words of type `W`, shared between threads
    /// (and processes mapping the same file). A trailing part shorter than
    /// one word is not reachable.
    pub fn into_atomics<W: AtomicWord>(self) -> Atomics<W> {
        Atomics {
            map: self,
            word: PhantomData,
        }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the range is our own mapping and no slice over it can
        // outlive `self`. An error here (impossible for a valid range) has
        // nowhere to go, so it is ignored.
        let _ = unsafe { munmap(self.ptr.cast(), self.len) };
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::AtomicU32 {}
    impl Sealed for super::AtomicU64 {}
}

/// An atomic integer type a mapping can be viewed as: [`AtomicU32`] or
/// [`AtomicU64`] (sealed: each has the size and alignment of its integer
/// and accepts any bit pattern).
pub trait AtomicWord: sealed::Sealed + Send + Sync {}
impl AtomicWord for AtomicU32 {}
impl AtomicWord for AtomicU64 {}

/// A mapping reached only as atomic words of one size: there is no byte
/// view, so no plain or differently sized access can race with them.
#[derive(Debug)]
pub struct Atomics<W: AtomicWord> {
    map: Mapping,
    word: PhantomData<W>,
}

impl<W: AtomicWord> Atomics<W> {
    /// The words.
    pub fn words(&self) -> &[W] {
        let n = self.map.len / std::mem::size_of::<W>();
        // SAFETY: the mapping is page-aligned, so aligned for `W`; it holds
        // `n` whole words of initialised memory (any bits are a valid
        // integer) that stay mapped while `self` is borrowed. `W` is an
        // atomic, so shared references to it may be written through, and
        // nothing else reaches these bytes in this process (`Atomics` has no
        // byte view and owns the mapping).
        unsafe { std::slice::from_raw_parts(self.map.as_ptr().cast::<W>(), n) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn anonymous_memory_is_zeroed_and_writable() {
        let mut m = Mapping::anon(8192, Populate(true)).unwrap();
        assert_eq!(m.len(), 8192);
        assert!(m.bytes().iter().all(|&b| b == 0));
        m.bytes_mut()[4097] = 7;
        assert_eq!(m.bytes()[4097], 7);
        assert!(Mapping::anon(0, Populate(false)).is_err(), "empty");
    }

    #[test]
    fn shared_windows_reach_the_file_and_atomics_see_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.path().join("f"))
            .unwrap();
        f.set_len(3 * 4096).unwrap();
        let mut w = Mapping::shared(&f, 4096, 4096, Populate(false)).unwrap();
        w.bytes_mut()[0] = 0x5a;
        w.sync().unwrap();
        drop(w);
        let all = Mapping::new(&f, NonZeroUsize::new(3 * 4096).unwrap()).unwrap();
        assert_eq!(all.bytes()[4096], 0x5a);
        drop(all);
        let a = Mapping::shared(&f, 8192, 4096, Populate(true))
            .unwrap()
            .into_atomics::<AtomicU64>();
        let b = Mapping::shared(&f, 8192, 4096, Populate(false))
            .unwrap()
            .into_atomics::<AtomicU64>();
        assert_eq!(a.words().len(), 512);
        a.words()[3].store(42, Ordering::Release);
        assert_eq!(b.words()[3].load(Ordering::Acquire), 42);
        assert!(
            Mapping::shared(&f, 1, 4096, Populate(false)).is_err(),
            "unaligned"
        );
    }
}
