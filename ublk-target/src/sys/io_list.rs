//! One request's payload places, in order: slots and zero pages as raw
//! iovecs, the form the kernel's `preadv`/`pwritev` takes them in; and the
//! four ways bytes cross them (the kernel in USER_COPY mode, a memcpy in
//! copy mode, each way round).
//!
//! A list borrows its memory for its lifetime `'a`, exclusively when it is
//! writable: it is built only from an owned pool borrowed `&mut`
//! ([`SlotPool::io_list`](super::slots::SlotPool::io_list)) or from a lease
//! ([`WriteLease`](super::slots::WriteLease) taken `&mut`,
//! [`ReadLease`](super::slots::ReadLease) taken `&`). A list with a zero
//! page or read-leased slots in it is read-only, and nothing here writes
//! through a read-only list. The raw pointers also make a list `!Send` and
//! `!Sync`: only the thread that built it copies through it.

use std::io;
use std::marker::PhantomData;
use std::os::fd::RawFd;

use super::slots::{zero_page, Memory, MAX_IO_BLOCKS, SLOT};
use crate::backend::IoError;

/// One contiguous piece of payload memory: a slot, or the zero page.
pub type IoVec = libc::iovec;

/// The payload places of one request, in order.
pub struct IoList<'a> {
    iov: [IoVec; MAX_IO_BLOCKS],
    len: usize,
    writable: bool,
    /// The owned pool `push_slot` takes slots from, if any.
    pool: Option<&'a Memory>,
    mem: PhantomData<&'a mut [u8]>,
}

impl Default for IoList<'static> {
    fn default() -> Self {
        IoList::new()
    }
}

impl IoList<'static> {
    /// An empty list that can take only zero pages (a READ of unwritten
    /// blocks, the null target's READ).
    pub fn new() -> IoList<'static> {
        IoList::leased(true)
    }
}

impl<'a> IoList<'a> {
    /// An empty list over an owned pool that its caller borrows `&mut` for
    /// `'a`.
    pub(super) fn over(pool: &'a Memory) -> IoList<'a> {
        IoList {
            pool: Some(pool),
            ..IoList::leased(true)
        }
    }

    /// An empty list a lease fills (writable only for a write lease).
    pub(super) fn leased(writable: bool) -> IoList<'a> {
        IoList {
            iov: [IoVec {
                iov_base: std::ptr::null_mut(),
                iov_len: 0,
            }; MAX_IO_BLOCKS],
            len: 0,
            writable,
            pool: None,
            mem: PhantomData,
        }
    }

    /// Appends a lease's slot (or the zero page); a lease never holds more
    /// than the list can.
    pub(super) fn push_leased(&mut self, base: *mut u8) {
        let _ = self.push(base);
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

    /// Appends slot `slot` of the pool the list was made from.
    pub fn push_slot(&mut self, slot: u32) -> Result<(), IoError> {
        let p = self
            .pool
            .and_then(|m| m.ptr(slot))
            .ok_or_else(|| IoError::Backend(format!("slot {slot} outside the pool")))?;
        self.push(p)
    }

    /// Appends the zero page (a READ of an unwritten block); the list is
    /// read-only from then on.
    pub fn push_zero(&mut self) -> Result<(), IoError> {
        self.writable = false;
        self.push(zero_page())
    }

    /// The entries, for the kernel.
    pub fn iovecs(&self) -> &[IoVec] {
        &self.iov[..self.len]
    }

    /// Total bytes.
    pub fn bytes(&self) -> usize {
        self.len * SLOT
    }

    /// Whether a copy may write into these places (no zero page, no slot
    /// shared with other readers).
    pub fn writable(&self) -> bool {
        self.writable
    }

    /// WRITE in USER_COPY mode: the kernel fills the places from `fd` at
    /// `pos` (`preadv`). Returns the bytes moved; `EROFS` for a read-only
    /// list.
    pub fn read_from(&self, fd: RawFd, pos: i64) -> io::Result<usize> {
        if !self.writable {
            return Err(io::Error::from_raw_os_error(libc::EROFS));
        }
        let iov = self.iovecs();
        // SAFETY: each iovec is `SLOT` bytes of live memory this writable
        // list holds exclusively for `'a` (module docs), so the kernel's
        // stores alias nothing Rust can see; `iov` itself outlives the call.
        // An fd that is not open only makes the call fail (EBADF).
        let ret = unsafe { libc::preadv(fd, iov.as_ptr(), iov.len() as libc::c_int, pos) };
        result(ret)
    }

    /// READ in USER_COPY mode: the kernel sends the places to `fd` at `pos`
    /// (`pwritev`). Returns the bytes moved.
    pub fn write_to(&self, fd: RawFd, pos: i64) -> io::Result<usize> {
        let iov = self.iovecs();
        // SAFETY: each iovec is `SLOT` bytes of live memory this list
        // borrows for `'a` (slots with no writer, or the static zero page);
        // the kernel only reads them, and `iov` outlives the call.
        let ret = unsafe { libc::pwritev(fd, iov.as_ptr(), iov.len() as libc::c_int, pos) };
        result(ret)
    }

    /// WRITE in copy mode: fills the places in order from `src`, as far as
    /// it reaches. Returns the bytes moved, or `None` for a read-only list.
    pub fn fill_from(&self, src: &[u8]) -> Option<usize> {
        if !self.writable {
            return None;
        }
        let mut off = 0;
        for v in self.iovecs() {
            let n = v.iov_len.min(src.len() - off);
            // SAFETY: `v` is `SLOT` bytes this writable list holds
            // exclusively (module docs), so no reference sees the store;
            // `n` fits both `v` and the rest of `src`, and `src`, a shared
            // borrow, cannot lie in memory held exclusively here.
            unsafe { std::ptr::copy_nonoverlapping(src[off..].as_ptr(), v.iov_base.cast(), n) };
            off += n;
        }
        Some(off)
    }

    /// READ in copy mode: copies the places in order into `dst`, as far as
    /// it reaches. Returns the bytes moved.
    pub fn drain_into(&self, dst: &mut [u8]) -> usize {
        let mut off = 0;
        for v in self.iovecs() {
            let n = v.iov_len.min(dst.len() - off);
            // SAFETY: `v` is `SLOT` readable bytes this list borrows for `'a`
            // with no writer meanwhile (module docs); `n` fits both, and
            // `dst`, an exclusive borrow, cannot overlap them.
            unsafe {
                std::ptr::copy_nonoverlapping(v.iov_base.cast::<u8>(), dst[off..].as_mut_ptr(), n)
            };
            off += n;
        }
        off
    }
}

fn result(ret: isize) -> io::Result<usize> {
    usize::try_from(ret).map_err(|_| io::Error::last_os_error())
}

#[cfg(test)]
mod tests {
    use super::super::slots::SlotPool;
    use super::*;

    #[test]
    fn io_list_bounds() {
        let mut pool = SlotPool::new(2).unwrap();
        let mut l = pool.io_list();
        l.push_slot(1).unwrap();
        assert!(l.writable());
        l.push_zero().unwrap();
        assert!(!l.writable());
        assert_eq!(l.bytes(), 8192);
        assert!(l.push_slot(2).is_err());
        for _ in 2..MAX_IO_BLOCKS {
            l.push_zero().unwrap();
        }
        assert!(l.push_zero().is_err(), "more than 512 KiB");
    }

    #[test]
    fn read_only_lists_are_never_written() {
        let mut z = IoList::new();
        z.push_zero().unwrap();
        assert_eq!(z.fill_from(&[1; 4096]), None);
        let e = z.read_from(-1, 0).err().and_then(|e| e.raw_os_error());
        assert_eq!(e, Some(libc::EROFS));
        let mut out = vec![7u8; 4096];
        assert_eq!(z.drain_into(&mut out), 4096);
        assert!(out.iter().all(|&b| b == 0), "the zero page stays zero");
        assert!(IoList::new().push_slot(0).is_err(), "no pool");
    }
}
