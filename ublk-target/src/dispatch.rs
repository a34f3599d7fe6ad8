//! One ublk request, start to finish, without a kernel: decode the I/O
//! descriptor, check it, call the backend, and turn the outcome into the
//! value the command completes with (bytes, 0, or a negative errno).
//!
//! Queue threads call [`serve`]; unit tests call it with a fake backend and
//! a memory transfer, so every op, FUA and every error path runs on the host.

use std::sync::atomic::{AtomicU32, Ordering};

use crate::backend::{check_range, Backend, IoError, Transfer, BLOCK_SHIFT};

/// ublk op codes (`ublk_cmd.h`).
pub mod op {
    /// READ.
    pub const READ: u8 = 0;
    /// WRITE.
    pub const WRITE: u8 = 1;
    /// FLUSH (cache flush; no data).
    pub const FLUSH: u8 = 2;
    /// DISCARD.
    pub const DISCARD: u8 = 3;
    /// WRITE_ZEROES.
    pub const WRITE_ZEROES: u8 = 5;
    /// `op_flags` bit: force unit access.
    pub const F_FUA: u32 = 1 << 13;
    /// `op_flags` bit of WRITE_ZEROES: the blocks must stay allocated.
    pub const F_NOUNMAP: u32 = 1 << 15;
}

/// A decoded request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Read `n` blocks at `lba`.
    Read {
        /// First block.
        lba: u64,
        /// Blocks.
        n: u32,
    },
    /// Write `n` blocks at `lba`; durable before completion if `fua`.
    Write {
        /// First block.
        lba: u64,
        /// Blocks.
        n: u32,
        /// Force unit access.
        fua: bool,
    },
    /// Make every completed write durable.
    Flush,
    /// Forget `n` blocks at `lba`.
    Discard {
        /// First block.
        lba: u64,
        /// Blocks.
        n: u32,
    },
    /// Zero `n` blocks at `lba`.
    WriteZeroes {
        /// First block.
        lba: u64,
        /// Blocks.
        n: u32,
        /// Whether the blocks may be deallocated (no `NOUNMAP`): then a
        /// discard does it, since discarded blocks read as zeros.
        unmap: bool,
    },
}

/// Decodes a ublk I/O descriptor (512-byte sectors) into 4096-byte blocks.
pub fn decode(op_flags: u32, start_sector: u64, nr_sectors: u32) -> Result<Request, IoError> {
    const PER_BLOCK: u64 = 1 << (BLOCK_SHIFT - 9);
    let code = (op_flags & 0xff) as u8;
    if code == op::FLUSH {
        return Ok(Request::Flush);
    }
    if start_sector % PER_BLOCK != 0 || u64::from(nr_sectors) % PER_BLOCK != 0 || nr_sectors == 0 {
        return match code {
            op::READ | op::WRITE | op::DISCARD | op::WRITE_ZEROES => Err(IoError::Misaligned),
            other => Err(IoError::Unsupported(other)),
        };
    }
    let lba = start_sector / PER_BLOCK;
    let n = (u64::from(nr_sectors) / PER_BLOCK) as u32;
    match code {
        op::READ => Ok(Request::Read { lba, n }),
        op::WRITE => Ok(Request::Write {
            lba,
            n,
            fua: op_flags & op::F_FUA != 0,
        }),
        op::DISCARD => Ok(Request::Discard { lba, n }),
        op::WRITE_ZEROES => Ok(Request::WriteZeroes {
            lba,
            n,
            unmap: op_flags & op::F_NOUNMAP == 0,
        }),
        other => Err(IoError::Unsupported(other)),
    }
}

/// Runs `req` against `backend`; the result is the command's byte count.
pub fn dispatch(
    backend: &dyn Backend,
    handle: u32,
    req: Request,
    xfer: &mut dyn Transfer,
) -> Result<i32, IoError> {
    let bytes = |n: u32| (n << BLOCK_SHIFT) as i32;
    match req {
        Request::Read { lba, n } => {
            check_range(backend.blocks(), lba, n)?;
            backend.read(handle, lba, n, xfer)?;
            Ok(bytes(n))
        }
        Request::Write { lba, n, fua } => {
            check_range(backend.blocks(), lba, n)?;
            backend.write(handle, lba, n, fua, xfer)?;
            Ok(bytes(n))
        }
        Request::Flush => backend.flush().map(|()| 0),
        Request::Discard { lba, n } => {
            check_range(backend.blocks(), lba, n)?;
            backend.discard(lba, n).map(|()| 0)
        }
        Request::WriteZeroes { lba, n, unmap } => {
            check_range(backend.blocks(), lba, n)?;
            // Every backend's discarded blocks read as zeros
            // (`Backend::discard`), as durably as a write; NOUNMAP asks for
            // real, allocated zeros.
            if unmap {
                backend.discard(lba, n).map(|()| 0)
            } else {
                backend.write_zeroes(handle, lba, n).map(|()| 0)
            }
        }
    }
}

/// Errors logged so far; logging stops at [`MAX_LOGGED`] so a failing
/// device cannot flood the log.
static LOGGED: AtomicU32 = AtomicU32::new(0);
const MAX_LOGGED: u32 = 64;

/// Decodes and dispatches one descriptor; returns what the ublk command
/// completes with. The only place an [`IoError`] becomes an errno.
pub fn serve(
    backend: &dyn Backend,
    handle: u32,
    op_flags: u32,
    start_sector: u64,
    nr_sectors: u32,
    xfer: &mut dyn Transfer,
) -> i32 {
    match decode(op_flags, start_sector, nr_sectors)
        .and_then(|req| dispatch(backend, handle, req, xfer))
    {
        Ok(v) => v,
        Err(e) => {
            if LOGGED.fetch_add(1, Ordering::Relaxed) < MAX_LOGGED {
                log::warn!(
                    "op_flags {op_flags:#x} sector {start_sector} +{nr_sectors} failed: {e}"
                );
            }
            e.errno()
        }
    }
}

#[cfg(test)]
#[path = "dispatch_tests.rs"]
mod tests;
