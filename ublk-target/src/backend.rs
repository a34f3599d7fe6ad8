//! What the ublk queues drive: a [`Backend`] (the FTL, or the null target)
//! that names *where* payload lives, and a [`Transfer`] that moves it
//! between the kernel's request and those places.
//!
//! The split keeps the zero-copy contract visible in the types: a backend
//! never touches payload; it hands out the slot addresses of a grant, and the
//! transfer — one `preadv`/`pwritev` by the kernel in USER_COPY mode, a
//! counted memcpy in copy mode — fills or drains them. Every failure is an
//! [`IoError`], and [`IoError::errno`] is the one place they become the
//! negative errno a ublk command completes with.

use std::fmt;

use crate::slots::IoList;

/// Unit of every request: 4096-byte blocks (see [`crate::spec::BLOCK_SIZE`]).
pub const BLOCK_SHIFT: u32 = 12;

/// Moves a request's payload between the kernel and a list of slots.
pub trait Transfer {
    /// WRITE: fills `dst` in order from the request's payload, starting at
    /// its first byte. Returns the bytes moved.
    fn copy_in(&mut self, dst: &IoList<'_>) -> Result<usize, IoError>;
    /// READ: sends `src` in order as the request's payload. Returns the bytes
    /// moved.
    fn copy_out(&mut self, src: &IoList<'_>) -> Result<usize, IoError>;
    /// Moves the start of the request's payload `bytes` further: the next
    /// copy starts there. A request split over shards (`shards.rs`) moves
    /// each piece's payload in turn.
    fn advance(&mut self, bytes: usize);
    /// Whether the bytes moved were memcpy'd by user space (copy mode)
    /// rather than by the kernel.
    fn user_space_copy(&self) -> bool {
        false
    }
}

/// A block store the ublk queues serve. Addresses and counts are in
/// 4096-byte blocks; `handle` is the request's ublk tag, numbered across
/// queues (`queue * depth + tag`), the FTL's command handle.
pub trait Backend: Send + Sync {
    /// Capacity in blocks.
    fn blocks(&self) -> u64;
    /// Serves a READ of `n` blocks at `lba` through `xfer.copy_out`.
    fn read(&self, handle: u32, lba: u64, n: u32, xfer: &mut dyn Transfer) -> Result<(), IoError>;
    /// Serves a WRITE through `xfer.copy_in`; with `fua` the data is durable
    /// before this returns.
    fn write(
        &self,
        handle: u32,
        lba: u64,
        n: u32,
        fua: bool,
        xfer: &mut dyn Transfer,
    ) -> Result<(), IoError>;
    /// Makes every write completed so far durable.
    fn flush(&self) -> Result<(), IoError>;
    /// Forgets `n` blocks at `lba`: they read as zeros from now on, as
    /// durably as a WRITE (after the next flush, across a restart too).
    /// WRITE_ZEROES without NOUNMAP relies on this.
    fn discard(&self, lba: u64, n: u32) -> Result<(), IoError>;
    /// Writes allocated zeros to `n` blocks at `lba` (WRITE_ZEROES with
    /// NOUNMAP), as durably as a WRITE.
    fn write_zeroes(&self, handle: u32, lba: u64, n: u32) -> Result<(), IoError>;
    /// Flushes and saves everything for a clean shutdown.
    fn shutdown(&self) -> Result<(), IoError> {
        self.flush()
    }
    /// The backend's statistics as `(json key, value)` pairs.
    fn stats(&self) -> Vec<(&'static str, serde_json::Value)>;
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IoError {
    /// The range runs past the device's end.
    OutOfRange,
    /// Offset or length is not a whole number of 4096-byte blocks.
    Misaligned,
    /// An operation the target does not implement.
    Unsupported(u8),
    /// The FTL has no room left.
    NoSpace,
    /// The cache stayed exhausted past the retry budget.
    CacheBusy,
    /// The flash could not return the data.
    Media(String),
    /// The kernel copy failed with this errno.
    Copy(i32),
    /// The kernel copy moved fewer bytes than the request holds.
    ShortCopy {
        /// Bytes the request needs.
        want: usize,
        /// Bytes moved.
        got: usize,
    },
    /// Anything else the backend reports (device error, corruption).
    Backend(String),
}

impl IoError {
    /// The negative errno a ublk command completes with. The block layer
    /// turns it into a status: EOPNOTSUPP → not supported, ENOSPC → no
    /// space, ENODATA → medium error, EINVAL → invalid, anything else → I/O
    /// error.
    pub fn errno(&self) -> i32 {
        -match self {
            IoError::OutOfRange | IoError::Misaligned => libc::EINVAL,
            IoError::Unsupported(_) => libc::EOPNOTSUPP,
            IoError::NoSpace => libc::ENOSPC,
            IoError::Media(_) => libc::ENODATA,
            IoError::CacheBusy
            | IoError::Copy(_)
            | IoError::ShortCopy { .. }
            | IoError::Backend(_) => libc::EIO,
        }
    }
}

impl fmt::Display for IoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IoError::OutOfRange => write!(f, "request past the end of the device"),
            IoError::Misaligned => write!(f, "request not aligned to 4096 bytes"),
            IoError::Unsupported(op) => write!(f, "unsupported ublk op {op}"),
            IoError::NoSpace => write!(f, "FTL out of space"),
            IoError::CacheBusy => write!(f, "slot cache exhausted past the retry budget"),
            IoError::Media(e) => write!(f, "media error: {e}"),
            IoError::Copy(e) => write!(f, "kernel copy failed: errno {e}"),
            IoError::ShortCopy { want, got } => {
                write!(f, "kernel copy moved {got} of {want} bytes")
            }
            IoError::Backend(e) => write!(f, "backend error: {e}"),
        }
    }
}

/// Checks `lba + n` fits in `blocks`.
pub fn check_range(blocks: u64, lba: u64, n: u32) -> Result<(), IoError> {
    match lba.checked_add(u64::from(n)) {
        Some(end) if end <= blocks => Ok(()),
        _ => Err(IoError::OutOfRange),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errnos() {
        assert_eq!(IoError::OutOfRange.errno(), -libc::EINVAL);
        assert_eq!(IoError::Unsupported(9).errno(), -libc::EOPNOTSUPP);
        assert_eq!(IoError::NoSpace.errno(), -libc::ENOSPC);
        assert_eq!(IoError::Media("x".into()).errno(), -libc::ENODATA);
        assert_eq!(IoError::ShortCopy { want: 2, got: 1 }.errno(), -libc::EIO);
        assert_eq!(IoError::CacheBusy.errno(), -libc::EIO);
    }

    #[test]
    fn ranges() {
        assert!(check_range(10, 0, 10).is_ok());
        assert_eq!(check_range(10, 5, 6), Err(IoError::OutOfRange));
        assert_eq!(check_range(10, u64::MAX, 1), Err(IoError::OutOfRange));
    }
}
