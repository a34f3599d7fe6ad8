//! The two ways payload crosses between a ublk request and the slots.
//!
//! - [`UserCopy`] (UBLK_F_USER_COPY): one `preadv` (WRITE) or `pwritev`
//!   (READ) on `/dev/ublkcN` at the request's position, with the slots as
//!   the iovecs. The kernel copies straight between the request's pages and
//!   the slots; user space copies nothing.
//! - [`Bounce`] (copy mode): the kernel has already copied a WRITE into
//!   the tag's buffer (and copies a READ out of it at commit), so user space
//!   memcpy's between that buffer and the slots — and counts every byte.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::backend::{IoError, Transfer};
use crate::slots::IoList;

/// USER_COPY transfer for one request: the char device and the request's
/// file position (`UblkIOCtx::ublk_user_copy_pos(queue, tag, 0)`).
pub struct UserCopy {
    fd: RawFd,
    pos: i64,
}

impl UserCopy {
    /// A transfer for the request at `pos` on char device `fd`.
    pub fn new(fd: RawFd, pos: u64) -> UserCopy {
        UserCopy {
            fd,
            pos: pos as i64,
        }
    }
}

fn copy_error(e: std::io::Error) -> IoError {
    IoError::Copy(e.raw_os_error().unwrap_or(libc::EIO))
}

impl Transfer for UserCopy {
    fn copy_in(&mut self, dst: &IoList<'_>) -> Result<usize, IoError> {
        if !dst.writable() {
            return Err(IoError::Backend("a WRITE targeted the zero page".into()));
        }
        dst.read_from(self.fd, self.pos).map_err(copy_error)
    }

    fn copy_out(&mut self, src: &IoList<'_>) -> Result<usize, IoError> {
        src.write_to(self.fd, self.pos).map_err(copy_error)
    }

    fn advance(&mut self, bytes: usize) {
        self.pos += bytes as i64;
    }
}

/// Copy-mode transfer: the tag's buffer, and the counter of bytes memcpy'd.
pub struct Bounce<'a> {
    buf: &'a mut [u8],
    copied: &'a AtomicU64,
}

impl<'a> Bounce<'a> {
    /// A transfer between `buf` (the tag's I/O buffer) and the slots,
    /// adding every byte moved to `copied`.
    pub fn new(buf: &'a mut [u8], copied: &'a AtomicU64) -> Bounce<'a> {
        Bounce { buf, copied }
    }
}

impl Transfer for Bounce<'_> {
    fn user_space_copy(&self) -> bool {
        true
    }

    fn copy_in(&mut self, dst: &IoList<'_>) -> Result<usize, IoError> {
        let off = dst
            .fill_from(self.buf)
            .ok_or_else(|| IoError::Backend("a WRITE targeted the zero page".into()))?;
        self.copied.fetch_add(off as u64, Ordering::Relaxed);
        Ok(off)
    }

    fn copy_out(&mut self, src: &IoList<'_>) -> Result<usize, IoError> {
        let off = src.drain_into(self.buf);
        self.copied.fetch_add(off as u64, Ordering::Relaxed);
        Ok(off)
    }

    fn advance(&mut self, bytes: usize) {
        let buf = std::mem::take(&mut self.buf);
        let at = bytes.min(buf.len());
        self.buf = &mut buf[at..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slots::SlotPool;

    #[test]
    fn bounce_round_trip_counts_bytes() {
        let mut pool = SlotPool::new(4).unwrap();
        let copied = AtomicU64::new(0);
        let mut buf: Vec<u8> = (0..8192u32).map(|i| (i % 251) as u8).collect();
        let mut l = pool.io_list();
        l.push_slot(2).unwrap();
        l.push_slot(0).unwrap();
        assert_eq!(Bounce::new(&mut buf, &copied).copy_in(&l).unwrap(), 8192);
        assert_eq!(pool.slot(2)[1], 1);
        assert_eq!(pool.slot(0)[0], (4096 % 251) as u8);
        let mut l = pool.io_list();
        l.push_slot(2).unwrap();
        l.push_slot(0).unwrap();
        let mut back = vec![0u8; 8192];
        assert_eq!(Bounce::new(&mut back, &copied).copy_out(&l).unwrap(), 8192);
        assert_eq!(back, buf);
        assert_eq!(copied.load(Ordering::Relaxed), 16384);
    }

    #[test]
    fn user_copy_uses_vectored_io() {
        // A plain file stands in for /dev/ublkcN: preadv/pwritev behave the same.
        let dir = std::env::temp_dir().join(format!("ftl-ublk-copy-{}", std::process::id()));
        std::fs::write(&dir, vec![7u8; 8192]).unwrap();
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&dir)
            .unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&f);
        let mut pool = SlotPool::new(2).unwrap();
        let mut l = pool.io_list();
        l.push_slot(1).unwrap();
        l.push_slot(0).unwrap();
        assert_eq!(UserCopy::new(fd, 0).copy_in(&l).unwrap(), 8192);
        assert!(pool.slot(0).iter().chain(pool.slot(1)).all(|&b| b == 7));
        let mut z = pool.io_list();
        z.push_zero().unwrap();
        assert!(
            UserCopy::new(fd, 0).copy_in(&z).is_err(),
            "zero page is read-only"
        );
        assert_eq!(UserCopy::new(fd, 4096).copy_out(&z).unwrap(), 4096);
        let data = std::fs::read(&dir).unwrap();
        assert!(data[4096..].iter().all(|&b| b == 0) && data[0] == 7);
        assert!(matches!(
            UserCopy::new(-1, 0).copy_out(&z),
            Err(IoError::Copy(libc::EBADF))
        ));
        std::fs::remove_file(&dir).unwrap();
    }
}
