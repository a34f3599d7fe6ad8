//! `power_cut_ops`: random workloads cut by power loss, checked by the
//! workspace's crash checker ([`zcftl_tests::crash::run_case`]).
//!
//! The checker runs the workload on a RAM simulator, cuts power after a
//! chosen number of mutating NAND operations (tearing the interrupted one),
//! optionally cuts again during recovery, mounts, and checks every LBA
//! against its model: flushed-and-untouched sectors read exactly, sectors
//! touched since the last flush read their flushed value or a value given
//! since, never garbage or another sector's data; then it checks that the
//! recovered device still works. This target only turns fuzzer bytes into
//! a bounded [`CrashInput`].

use arbitrary::Arbitrary;
use zcftl_tests::crash::{run_case, CrashInput, CrashOp, MapSetup};

/// Workload steps per case.
pub const MAX_OPS: usize = 64;

/// One workload step.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum Op {
    /// Write `sectors` (clamped to the command size) at `lba`.
    Write {
        /// First LBA (modulo the device).
        lba: u16,
        /// Sector count.
        sectors: u8,
    },
    /// Trim `1 + sectors % 16` sectors at `lba`.
    Trim {
        /// First LBA (modulo the device).
        lba: u16,
        /// Sector count selector.
        sectors: u8,
    },
    /// Flush.
    Flush,
}

/// A `power_cut_ops` case.
#[derive(Arbitrary, Clone, Debug)]
pub struct Input {
    /// Seeds the simulator (the form each tear takes).
    pub seed: u64,
    /// Cut after this many mutating NAND operations; `None`: after the
    /// whole workload.
    pub cut_after: Option<u16>,
    /// Cut again after this many operations of recovery.
    pub recovery_cut_after: Option<u8>,
    /// The workload (cut at [`MAX_OPS`]).
    pub ops: Vec<Op>,
}

impl Input {
    /// The checker's input for this case.
    pub fn to_crash_input(&self) -> CrashInput {
        let ops = self
            .ops
            .iter()
            .take(MAX_OPS)
            .map(|op| match *op {
                Op::Write { lba, sectors } => CrashOp::Write {
                    lba: u64::from(lba),
                    sectors: u32::from(sectors),
                },
                Op::Trim { lba, sectors } => CrashOp::Trim {
                    lba: u64::from(lba),
                    sectors: 1 + u32::from(sectors % 16),
                },
                Op::Flush => CrashOp::Flush,
            })
            .collect();
        CrashInput {
            seed: self.seed,
            ops,
            cut_after: self.cut_after.map(u64::from),
            recovery_cut_after: self.recovery_cut_after.map(u64::from),
            map: if self.seed & 1 == 0 {
                MapSetup::Whole
            } else {
                MapSetup::Sliced
            },
        }
    }
}

/// Runs one case; `Err` says which guarantee broke.
pub fn run(input: &Input) -> Result<(), String> {
    run_case(&input.to_crash_input()).map(|_report| ())
}
