//! The null target (`add --null`): reads return zeros, writes are dropped,
//! no FTL and no image — the baseline for side-by-side benchmarks. Payload
//! still crosses through the same transfer as on the FTL target (a READ
//! sends the zero page, a WRITE lands in one shared scratch area that
//! nothing reads), so a comparison isolates the FTL's own cost rather than
//! the cost of the kernel copy.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::backend::{Backend, IoError, Transfer};
use crate::slots::{IoList, SlotPool, MAX_IO_BLOCKS};

/// A device of `blocks` 4096-byte blocks that stores nothing.
pub struct NullBackend {
    blocks: u64,
    pool: SlotPool,
    reads: AtomicU64,
    writes: AtomicU64,
}

impl NullBackend {
    /// A null device of `blocks` blocks.
    pub fn new(blocks: u64) -> std::io::Result<NullBackend> {
        Ok(NullBackend {
            blocks,
            pool: SlotPool::new(MAX_IO_BLOCKS as u32)?,
            reads: AtomicU64::new(0),
            writes: AtomicU64::new(0),
        })
    }
}

impl Backend for NullBackend {
    fn blocks(&self) -> u64 {
        self.blocks
    }

    fn read(&self, _h: u32, _lba: u64, n: u32, xfer: &mut dyn Transfer) -> Result<(), IoError> {
        let mut l = IoList::new(&self.pool);
        for _ in 0..n {
            l.push_zero(&self.pool)?;
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
        // Every write lands in the same scratch slots, concurrently: nothing
        // ever reads them, so what they hold does not matter.
        let mut l = IoList::new(&self.pool);
        for s in 0..n {
            l.push_slot(&self.pool, s)?;
        }
        let got = xfer.copy_in(&l)?;
        if got != l.bytes() {
            return Err(IoError::ShortCopy {
                want: l.bytes(),
                got,
            });
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
