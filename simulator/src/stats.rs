//! Operation counters: a `Copy` snapshot taken with `SimNand::stats`, and
//! the difference of two snapshots, so a test can pin exactly what one step
//! of the FTL cost.

/// Counters since the simulator was built or opened (they are not kept in
/// the image). Only operations that reached the media count as reads,
/// programs and erases; refused calls count as `violations` or
/// `rejected_power_loss`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Page reads that reached the media, uncorrectable ones included.
    pub reads: u64,
    /// Programs that completed (successfully or with a device failure).
    pub programs: u64,
    /// Erases that completed (successfully or with a device failure).
    pub erases: u64,
    /// Bad-block marks written.
    pub marks_bad: u64,
    /// Data and spare bytes returned by reads.
    pub bytes_read: u64,
    /// Data and spare bytes written by programs.
    pub bytes_programmed: u64,
    /// Calls that broke a NAND rule: out of bounds, program order, or an
    /// operation on a bad block.
    pub violations: u64,
    /// Programs that failed with `ProgramFailed`.
    pub program_failures: u64,
    /// Erases that failed with `EraseFailed` (random or worn out).
    pub erase_failures: u64,
    /// Reads where ECC corrected at least one bit.
    pub corrected_reads: u64,
    /// Bits ECC corrected, over all reads.
    pub corrected_bits: u64,
    /// Read-retry steps, over all reads.
    pub read_retries: u64,
    /// Reads that failed with `Uncorrectable`.
    pub uncorrectable_reads: u64,
    /// Operations interrupted by a power cut.
    pub power_cuts: u64,
    /// Calls refused with `PowerLoss` after a cut.
    pub rejected_power_loss: u64,
}

impl SimStats {
    /// What happened between `earlier` and `self` (field by field,
    /// saturating at zero if `earlier` is in fact the later snapshot).
    pub fn since(&self, earlier: &SimStats) -> SimStats {
        SimStats {
            reads: self.reads.saturating_sub(earlier.reads),
            programs: self.programs.saturating_sub(earlier.programs),
            erases: self.erases.saturating_sub(earlier.erases),
            marks_bad: self.marks_bad.saturating_sub(earlier.marks_bad),
            bytes_read: self.bytes_read.saturating_sub(earlier.bytes_read),
            bytes_programmed: self
                .bytes_programmed
                .saturating_sub(earlier.bytes_programmed),
            violations: self.violations.saturating_sub(earlier.violations),
            program_failures: self
                .program_failures
                .saturating_sub(earlier.program_failures),
            erase_failures: self.erase_failures.saturating_sub(earlier.erase_failures),
            corrected_reads: self.corrected_reads.saturating_sub(earlier.corrected_reads),
            corrected_bits: self.corrected_bits.saturating_sub(earlier.corrected_bits),
            read_retries: self.read_retries.saturating_sub(earlier.read_retries),
            uncorrectable_reads: self
                .uncorrectable_reads
                .saturating_sub(earlier.uncorrectable_reads),
            power_cuts: self.power_cuts.saturating_sub(earlier.power_cuts),
            rejected_power_loss: self
                .rejected_power_loss
                .saturating_sub(earlier.rejected_power_loss),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_subtracts_each_field() {
        let a = SimStats {
            reads: 3,
            programs: 2,
            violations: 1,
            ..SimStats::default()
        };
        let b = SimStats {
            reads: 10,
            programs: 2,
            violations: 4,
            erases: 1,
            ..a
        };
        let d = b.since(&a);
        assert_eq!(
            d,
            SimStats {
                reads: 7,
                violations: 3,
                erases: 1,
                ..SimStats::default()
            }
        );
        assert_eq!(a.since(&b).reads, 0);
    }
}
