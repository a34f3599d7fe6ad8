//! The null target (`add --null`): reads return zeros, writes are dropped,
//! no FTL and no image — the baseline for side-by-side benchmarks. Payload
//! still crosses through the same transfer as on the FTL target (a READ
//! sends the zero page, a WRITE lands in a scratch area that nothing
//! reads), so a comparison isolates the FTL's own cost rather than the cost
//! of the kernel copy. Each WRITE in flight has a scratch area of its own
//! (taken from a free list, one per concurrent writer, so about one per
//! queue): two copies never write the same bytes at once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::backend::{Backend, IoError, Transfer};
use crate::slots::{IoList, SlotPool, MAX_IO_BLOCKS};

/// A device of `blocks` 4096-byte blocks that stores nothing.
pub struct NullBackend {
    blocks: u64,
    /// Idle scratch areas of one request each.
    scratch: Mutex<Vec<SlotPool>>,
    reads: AtomicU64,
    writes: AtomicU64,
}

impl NullBackend {
    /// A null device of `blocks` blocks (with one scratch area mapped now,
    /// so a machine without the memory fails here, not on the first WRITE).
    pub fn new(blocks: u64) -> std::io::Result<NullBackend> {
        Ok(NullBackend {
            blocks,
            scratch: Mutex::new(vec![SlotPool::new(MAX_IO_BLOCKS as u32)?]),
            reads: AtomicU64::new(0),
            writes: AtomicU64::new(0),
        })
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<SlotPool>> {
        self.scratch.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Backend for NullBackend {
    fn blocks(&self) -> u64 {
        self.blocks
    }

    fn read(&self, _h: u32, _lba: u64, n: u32, xfer: &mut dyn Transfer) -> Result<(), IoError> {
        let mut l = IoList::new();
        for _ in 0..n {
            l.push_zero()?;
        }
        let got = xfer.copy_out(&l)?;
        if got != l.bytes() {
            return Err(IoError::ShortCopy {
                want: l.bytes(),
                got,
            });
        }
        self.reads.fetch_add(n.into(), Ordering::Relaxed);
        Ok(())
    }

    fn write(
        &self,
        _h: u32,
        _lba: u64,
        n: u32,
        _fua: bool,
        xfer: &mut dyn Transfer,
    ) -> Result<(), IoError> {
        // Nothing ever reads the scratch, so what it holds does not matter;
        // it is this request's alone while the copy runs.
        let popped = self.idle().pop();
        let mut pool = match popped {
            Some(p) => p,
            None => SlotPool::new(MAX_IO_BLOCKS as u32)
                .map_err(|e| IoError::Backend(format!("null target scratch: {e}")))?,
        };
        let mut l = pool.io_list();
        let copied = (0..n)
            .try_for_each(|s| l.push_slot(s))
            .and_then(|()| xfer.copy_in(&l));
        let want = l.bytes();
        self.idle().push(pool);
        let got = copied?;
        if got != want {
            return Err(IoError::ShortCopy { want, got });
        }
        self.writes.fetch_add(n.into(), Ordering::Relaxed);
        Ok(())
    }

    fn flush(&self) -> Result<(), IoError> {
        Ok(())
    }

    fn discard(&self, _lba: u64, _n: u32) -> Result<(), IoError> {
        Ok(())
    }

    fn write_zeroes(&self, _h: u32, _lba: u64, _n: u32) -> Result<(), IoError> {
        Ok(())
    }

    fn stats(&self) -> Vec<(&'static str, serde_json::Value)> {
        let r = self.reads.load(Ordering::Relaxed);
        let w = self.writes.load(Ordering::Relaxed);
        vec![
            ("target", "null".into()),
            ("host_sectors_read", r.into()),
            ("host_sectors_written", w.into()),
            ("nand_sectors_written", 0.into()),
            ("write_amplification", 0.0.into()),
            ("gc_runs", 0.into()),
            ("erase_count_min", 0.into()),
            ("erase_count_max", 0.into()),
            ("cache_hits", 0.into()),
            ("cache_misses", 0.into()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::copy::Bounce;

    #[test]
    fn reads_zeros_drops_writes() {
        let b = NullBackend::new(8).unwrap();
        let c = AtomicU64::new(0);
        let mut buf = vec![0xffu8; 8192];
        b.write(0, 0, 2, true, &mut Bounce::new(&mut buf, &c))
            .unwrap();
        assert_eq!(
            c.load(Ordering::Relaxed),
            8192,
            "the payload crosses as on the FTL"
        );
        b.read(0, 0, 2, &mut Bounce::new(&mut buf, &c)).unwrap();
        assert!(buf.iter().all(|&x| x == 0));
        let s = b.stats();
        assert!(s.contains(&("host_sectors_read", 2.into())));
    }
}
