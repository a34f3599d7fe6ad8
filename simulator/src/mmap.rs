//! The one `unsafe` corner of the simulator: a shared, writable memory map
//! of an image file, exposed as a byte slice.
//!
//! Soundness rests on two facts: the mapping lives exactly as long as this
//! value (unmapped in `Drop`), and no other process writes or shrinks the
//! file meanwhile. The second is what the image's exclusive `flock` buys
//! among cooperating openers; a process that ignores the lock and truncates
//! the file can still make an access fault (SIGBUS), which no mmap user can
//! prevent.

use std::fs::File;
use std::io;
use std::num::NonZeroUsize;
use std::ptr::NonNull;

use nix::sys::mman::{mmap, msync, munmap, MapFlags, MsFlags, ProtFlags};

/// A `MAP_SHARED`, read-write mapping of the first `len` bytes of a file.
#[derive(Debug)]
pub(crate) struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain memory owned by this value alone; moving it to
// another thread moves that ownership (there is no thread-affine state).
unsafe impl Send for Mapping {}

impl Mapping {
    /// Maps the first `len` bytes of `file`, which must be open read-write
    /// and at least `len` bytes long.
    pub(crate) fn new(file: &File, len: NonZeroUsize) -> io::Result<Mapping> {
        // SAFETY: we ask for a fresh mapping (no fixed address), so no
        // existing memory is replaced; the caller checked the file holds
        // `len` bytes, so every mapped byte is backed.
        let ptr = unsafe {
            mmap(
                None,
                len,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
                file,
                0,
            )
        }
        .map_err(io::Error::from)?;
        Ok(Mapping {
            ptr: ptr.cast(),
            len: len.get(),
        })
    }

    /// The mapped bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` points at `len` mapped, readable bytes that stay
        // mapped until `drop`; the shared borrow of `self` keeps `bytes_mut`
        // from handing out an aliasing `&mut` meanwhile.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The mapped bytes, writable.
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`, and the exclusive borrow of `self` makes
        // this the only live slice over the mapping.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    /// Writes every dirty page of the mapping back to the file and waits.
    pub(crate) fn sync(&self) -> io::Result<()> {
        // SAFETY: the range is exactly our own live mapping.
        unsafe { msync(self.ptr.cast(), self.len, MsFlags::MS_SYNC) }.map_err(io::Error::from)
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
