//! [`TracingNand`]: a flight recorder around any [`Nand`] — the last
//! `capacity` operations with their targets and outcomes, so a failing
//! crash or model test can print what the FTL did just before.

use std::collections::VecDeque;
use std::fmt;

use ftl_core::{BlockIdx, Geometry, Nand, NandError, NandErrorKind, Ppa, ReadStatus};

use crate::error::{OpKind, Target};

/// One recorded operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceEntry {
    /// Position in the whole trace, from 0 (entries past the capacity are
    /// dropped, but numbering goes on).
    pub seq: u64,
    /// The operation.
    pub op: OpKind,
    /// What it addressed.
    pub target: Target,
    /// `Ok` or the error kind it returned.
    pub result: Result<(), NandErrorKind>,
}

impl fmt::Display for TraceEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{} {} {}: ", self.seq, self.op, self.target)?;
        match self.result {
            Ok(()) => f.write_str("ok"),
            Err(k) => write!(f, "{k}"),
        }
    }
}

/// A [`Nand`] that records the operations passed to the device it wraps.
#[derive(Debug)]
pub struct TracingNand<N> {
    inner: N,
    log: VecDeque<TraceEntry>,
    capacity: usize,
    next_seq: u64,
}

impl<N: Nand> TracingNand<N> {
    /// Wraps `inner`, keeping the last `capacity` operations (at least 1).
    pub fn new(inner: N, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        TracingNand {
            inner,
            log: VecDeque::with_capacity(capacity),
            capacity,
            next_seq: 0,
        }
    }

    /// The kept entries, oldest first.
    pub fn entries(&self) -> impl Iterator<Item = &TraceEntry> + '_ {
        self.log.iter()
    }

    /// The kept entries, one per line, oldest first.
    pub fn dump(&self) -> String {
        self.log.iter().map(|e| format!("{e}\n")).collect()
    }

    /// The wrapped device.
    pub fn inner(&self) -> &N {
        &self.inner
    }

    /// The wrapped device, mutably.
    pub fn inner_mut(&mut self) -> &mut N {
        &mut self.inner
    }

    /// Unwraps the device.
    pub fn into_inner(self) -> N {
        self.inner
    }

    fn record<T>(&mut self, op: OpKind, target: Target, r: &Result<T, N::Error>) {
        if self.log.len() == self.capacity {
            self.log.pop_front();
        }
        let result = r.as_ref().map(|_| ()).map_err(|e| e.kind());
        self.log.push_back(TraceEntry {
            seq: self.next_seq,
            op,
            target,
            result,
        });
        self.next_seq += 1;
    }
}

impl<N: Nand> Nand for TracingNand<N> {
    type Error = N::Error;

    fn geometry(&self) -> Geometry {
        self.inner.geometry()
    }

    fn read_page(
        &mut self,
        ppa: Ppa,
        data: &mut [&mut [u8]],
        oob: &mut [u8],
    ) -> Result<ReadStatus, N::Error> {
        let r = self.inner.read_page(ppa, data, oob);
        self.record(OpKind::Read, Target::Page(ppa), &r);
        r
    }

    fn program_page(&mut self, ppa: Ppa, data: &[&[u8]], oob: &[u8]) -> Result<(), N::Error> {
        let r = self.inner.program_page(ppa, data, oob);
        self.record(OpKind::Program, Target::Page(ppa), &r);
        r
    }

    fn erase_block(&mut self, block: BlockIdx) -> Result<(), N::Error> {
        let r = self.inner.erase_block(block);
        self.record(OpKind::Erase, Target::Block(block), &r);
        r
    }

    fn is_bad_block(&mut self, block: BlockIdx) -> Result<bool, N::Error> {
        let r = self.inner.is_bad_block(block);
        self.record(OpKind::QueryBad, Target::Block(block), &r);
        r
    }

    fn mark_bad_block(&mut self, block: BlockIdx) -> Result<(), N::Error> {
        let r = self.inner.mark_bad_block(block);
        self.record(OpKind::MarkBad, Target::Block(block), &r);
        r
    }

    fn sync(&mut self) -> Result<(), N::Error> {
        let r = self.inner.sync();
        self.record(OpKind::Sync, Target::Array, &r);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SimNand, SimOptions};

    #[test]
    fn keeps_the_last_operations_with_their_outcomes() {
        let g = Geometry::small(16, 4);
        let sim = SimNand::new_ram(g, SimOptions::default()).unwrap();
        let mut n = TracingNand::new(sim, 3);
        let page = vec![0u8; 16 * 1024];
        n.erase_block(BlockIdx(1)).unwrap();
        n.program_page(Ppa::new(BlockIdx(1), 0), &[&page], &[])
            .unwrap();
        n.program_page(Ppa::new(BlockIdx(1), 2), &[&page], &[])
            .unwrap_err();
        n.sync().unwrap();
        let kept: Vec<_> = n.entries().copied().collect();
        assert_eq!(kept.len(), 3);
        assert_eq!(kept[0].seq, 1);
        assert_eq!(kept[1].result, Err(NandErrorKind::ProgramOrder));
        assert_eq!(
            n.dump(),
            "#1 program block 1 page 0: ok\n\
             #2 program block 1 page 2: program violates page order\n\
             #3 sync array: ok\n"
        );
        assert_eq!(n.inner().stats().violations, 1);
    }
}
