//! [`FaultyNand`]: scripted, targeted faults around any [`Nand`] — "fail the
//! next erase of block 7", "every read of this page is uncorrectable" — for
//! tests that need one particular fault at one particular place, on the
//! simulator or on any other driver.
//!
//! It complements rather than replaces [`SimNand`](crate::SimNand)'s own
//! seeded faults: a wrapper sees only the trait, so it can refuse or pass a
//! call but cannot tear a page. An injected failure therefore leaves the
//! medium as it was, which is one legitimate outcome of a failed program or
//! erase ("indeterminate" includes "unchanged"); injected read failures are
//! applied after the inner read, so the buffers hold what the device
//! returned.

use core::fmt;

use ftl_core::{BlockIdx, Geometry, Nand, NandError, NandErrorKind, Ppa, ReadStatus};

use crate::error::{OpKind, Target};

/// One scripted fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Injection {
    /// The operation it strikes.
    pub op: OpKind,
    /// The page or block it strikes; `None`: any.
    pub target: Option<Target>,
    /// The error it returns.
    pub kind: NandErrorKind,
    /// How many matching calls it strikes; `None`: all of them.
    pub times: Option<u32>,
}

/// The error of a [`FaultyNand`]: an injected fault or the device's own.
#[derive(Debug)]
pub enum FaultyError<E> {
    /// A scripted fault.
    Injected {
        /// The error kind it was scripted with.
        kind: NandErrorKind,
        /// The operation it struck.
        op: OpKind,
        /// What that operation addressed.
        target: Target,
    },
    /// The wrapped device's error.
    Device(E),
}

impl<E: NandError> NandError for FaultyError<E> {
    fn kind(&self) -> NandErrorKind {
        match self {
            FaultyError::Injected { kind, .. } => *kind,
            FaultyError::Device(e) => e.kind(),
        }
    }
}

impl<E: fmt::Display> fmt::Display for FaultyError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultyError::Injected { kind, op, target } => {
                write!(f, "{op} of {target}: {kind} (injected)")
            }
            FaultyError::Device(e) => e.fmt(f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for FaultyError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FaultyError::Injected { .. } => None,
            FaultyError::Device(e) => Some(e),
        }
    }
}

/// A [`Nand`] that fails chosen calls of the device it wraps.
#[derive(Debug)]
pub struct FaultyNand<N> {
    inner: N,
    script: Vec<Injection>,
    injected: u64,
}

impl<N: Nand> FaultyNand<N> {
    /// Wraps `inner` with an empty script: every call passes through.
    pub fn new(inner: N) -> Self {
        FaultyNand {
            inner,
            script: Vec::new(),
            injected: 0,
        }
    }

    /// Adds a fault to the script. Earlier entries are matched first.
    pub fn inject(&mut self, injection: Injection) {
        self.script.push(injection);
    }

    /// Fails the next `op` on `target` (any, if `None`) with `kind`.
    pub fn fail_next(&mut self, op: OpKind, target: Option<Target>, kind: NandErrorKind) {
        self.inject(Injection {
            op,
            target,
            kind,
            times: Some(1),
        });
    }

    /// Fails every `op` on `target` (any, if `None`) with `kind`.
    pub fn fail_always(&mut self, op: OpKind, target: Option<Target>, kind: NandErrorKind) {
        self.inject(Injection {
            op,
            target,
            kind,
            times: None,
        });
    }

    /// Drops every scripted fault.
    pub fn clear(&mut self) {
        self.script.clear();
    }

    /// Scripted faults still armed.
    pub fn pending(&self) -> usize {
        self.script.len()
    }

    /// Faults injected so far.
    pub fn injected(&self) -> u64 {
        self.injected
    }

    /// The wrapped device.
    pub fn inner(&self) -> &N {
        &self.inner
    }

    /// The wrapped device, mutably (e.g. to arm a power cut).
    pub fn inner_mut(&mut self) -> &mut N {
        &mut self.inner
    }

    /// Unwraps the device.
    pub fn into_inner(self) -> N {
        self.inner
    }

    /// The fault scripted for this call, if any; uses up one of its times.
    fn strike(&mut self, op: OpKind, target: Target) -> Option<FaultyError<N::Error>> {
        let i = self
            .script
            .iter()
            .position(|inj| inj.op == op && (inj.target.is_none() || inj.target == Some(target)))?;
        let inj = self.script[i];
        match inj.times {
            Some(n) if n <= 1 => {
                self.script.remove(i);
            }
            Some(n) => self.script[i].times = Some(n - 1),
            None => {}
        }
        self.injected += 1;
        Some(FaultyError::Injected {
            kind: inj.kind,
            op,
            target,
        })
    }
}

impl<N: Nand> Nand for FaultyNand<N> {
    type Error = FaultyError<N::Error>;

    fn geometry(&self) -> Geometry {
        self.inner.geometry()
    }

    fn read_page(
        &mut self,
        ppa: Ppa,
        data: &mut [&mut [u8]],
        oob: &mut [u8],
    ) -> Result<ReadStatus, Self::Error> {
        let status = self
            .inner
            .read_page(ppa, data, oob)
            .map_err(FaultyError::Device)?;
        match self.strike(OpKind::Read, Target::Page(ppa)) {
            Some(e) => Err(e),
            None => Ok(status),
        }
    }

    fn program_page(&mut self, ppa: Ppa, data: &[&[u8]], oob: &[u8]) -> Result<(), Self::Error> {
        if let Some(e) = self.strike(OpKind::Program, Target::Page(ppa)) {
            return Err(e);
        }
        self.inner
            .program_page(ppa, data, oob)
            .map_err(FaultyError::Device)
    }

    fn erase_block(&mut self, block: BlockIdx) -> Result<(), Self::Error> {
        if let Some(e) = self.strike(OpKind::Erase, Target::Block(block)) {
            return Err(e);
        }
        self.inner.erase_block(block).map_err(FaultyError::Device)
    }

    fn is_bad_block(&mut self, block: BlockIdx) -> Result<bool, Self::Error> {
        if let Some(e) = self.strike(OpKind::QueryBad, Target::Block(block)) {
            return Err(e);
        }
        self.inner.is_bad_block(block).map_err(FaultyError::Device)
    }

    fn mark_bad_block(&mut self, block: BlockIdx) -> Result<(), Self::Error> {
        if let Some(e) = self.strike(OpKind::MarkBad, Target::Block(block)) {
            return Err(e);
        }
        self.inner
            .mark_bad_block(block)
            .map_err(FaultyError::Device)
    }

    fn sync(&mut self) -> Result<(), Self::Error> {
        if let Some(e) = self.strike(OpKind::Sync, Target::Array) {
            return Err(e);
        }
        self.inner.sync().map_err(FaultyError::Device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SimNand, SimOptions};

    fn dev() -> FaultyNand<SimNand> {
        let g = Geometry::small(16, 4);
        FaultyNand::new(SimNand::new_ram(g, SimOptions::default()).unwrap())
    }

    #[test]
    fn a_one_shot_fault_strikes_only_its_target_once() {
        let mut n = dev();
        let b = Target::Block(BlockIdx(2));
        n.fail_next(OpKind::Erase, Some(b), NandErrorKind::EraseFailed);
        n.erase_block(BlockIdx(1)).unwrap();
        let e = n.erase_block(BlockIdx(2)).unwrap_err();
        assert_eq!(e.kind(), NandErrorKind::EraseFailed);
        assert_eq!(e.to_string(), "erase of block 2: erase failed (injected)");
        n.erase_block(BlockIdx(2)).unwrap();
        assert_eq!((n.injected(), n.pending()), (1, 0));
        // The injected failure never reached the device.
        assert_eq!(n.inner().erase_count(BlockIdx(2)), Some(1));
    }

    #[test]
    fn a_standing_read_fault_returns_the_data_but_fails() {
        let mut n = dev();
        let page = vec![0x5Au8; 16 * 1024];
        let p = Ppa::new(BlockIdx(0), 0);
        n.program_page(p, &[&page], &[]).unwrap();
        n.fail_always(
            OpKind::Read,
            Some(Target::Page(p)),
            NandErrorKind::Uncorrectable,
        );
        for _ in 0..3 {
            let mut d = vec![0u8; 16 * 1024];
            let e = n.read_page(p, &mut [&mut d], &mut []).unwrap_err();
            assert_eq!(e.kind(), NandErrorKind::Uncorrectable);
            assert_eq!(d, page);
        }
        assert_eq!(n.pending(), 1);
        // Device errors pass through as such.
        let e = n.erase_block(BlockIdx(99)).unwrap_err();
        assert!(matches!(e, FaultyError::Device(_)));
        assert_eq!(e.kind(), NandErrorKind::OutOfBounds);
    }

    #[test]
    fn counted_faults_run_out() {
        let mut n = dev();
        n.inject(Injection {
            op: OpKind::Program,
            target: None,
            kind: NandErrorKind::ProgramFailed,
            times: Some(2),
        });
        let page = vec![0u8; 16 * 1024];
        for p in 0..2 {
            let r = n.program_page(Ppa::new(BlockIdx(0), p), &[&page], &[]);
            assert_eq!(r.unwrap_err().kind(), NandErrorKind::ProgramFailed);
        }
        n.program_page(Ppa::new(BlockIdx(0), 0), &[&page], &[])
            .unwrap();
        assert_eq!(n.injected(), 2);
    }
}
