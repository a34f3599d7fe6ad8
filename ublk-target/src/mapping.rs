//! One `mmap` region, unmapped on drop: private anonymous memory, or a
//! shared window of a file (the crash journal in `/dev/shm`, which outlives
//! the process). The daemon's only `mmap`/`munmap` calls live here.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::ptr::NonNull;

/// A mapped region of `len` bytes.
pub struct Mapping {
    base: NonNull<u8>,
    len: usize,
}

// SAFETY: a mapping is plain memory; who writes which bytes when is decided
// by its users (the slot pool's grant contract, the journal's lock).
unsafe impl Send for Mapping {}
// SAFETY: as for Send.
unsafe impl Sync for Mapping {}

/// Whether a new mapping is pre-faulted (`MAP_POPULATE`).
#[derive(Clone, Copy)]
pub struct Populate(pub bool);

impl Mapping {
    /// `len` bytes of zeroed private memory.
    pub fn anon(len: usize, populate: Populate) -> io::Result<Mapping> {
        Self::new(len, None, 0, populate)
    }

    /// `len` bytes of `file` from `offset` (page-aligned), shared: stores
    /// reach the file, and a later process mapping it sees them.
    pub fn shared(file: &File, offset: u64, len: usize, populate: Populate) -> io::Result<Mapping> {
        Self::new(len, Some(file), offset, populate)
    }

    fn new(
        len: usize,
        file: Option<&File>,
        offset: u64,
        populate: Populate,
    ) -> io::Result<Mapping> {
        if len == 0 {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let offset = libc::off_t::try_from(offset)
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        let mut flags = match file {
            Some(_) => libc::MAP_SHARED,
            None => libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
        };
        if populate.0 {
            flags |= libc::MAP_POPULATE;
        }
        let fd = file.map_or(-1, |f| f.as_raw_fd());
        // SAFETY: a fresh mapping at an address the kernel picks; no existing
        // memory is affected, and the result is checked before use.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                fd,
                offset,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = NonNull::new(p.cast::<u8>()).ok_or_else(io::Error::last_os_error)?;
        Ok(Mapping { base, len })
    }

    /// The first byte.
    pub fn as_ptr(&self) -> *mut u8 {
        self.base.as_ptr()
    }

    /// Bytes mapped.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Advice and locking for the slot pool: no transparent huge pages (a
    /// first touch inside the kernel's copy stalled a queue for ~190 ms,
    /// ublk-api.md), then `mlock`. Returns whether the lock took.
    pub fn lock_in_ram(&self) -> bool {
        // SAFETY: both calls cover exactly this mapping.
        unsafe {
            libc::madvise(self.as_ptr().cast(), self.len, libc::MADV_NOHUGEPAGE);
            libc::mlock(self.as_ptr().cast(), self.len) == 0
        }
    }

    /// Makes the whole mapping read-only (the shared zero page).
    pub fn make_read_only(&self) -> io::Result<()> {
        // SAFETY: covers exactly this mapping, which nothing writes after.
        if unsafe { libc::mprotect(self.as_ptr().cast(), self.len, libc::PROT_READ) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the region mapped in `new`; borrowers of
        // its memory (slices, IoLists) cannot outlive their owner.
        unsafe {
            libc::munmap(self.base.as_ptr().cast(), self.len);
        }
    }
}
