//! The random fault model, kept apart from the pristine medium: factory bad
//! blocks, program and erase failures, wear-out, and bit errors with ECC and
//! read retry. Every decision is drawn from the seed, each kind from its own
//! stream.
//!
//! Bit errors are an overlay on what a read *returns*; they never change
//! the stored page (as on real NAND, where read disturb aside, a re-read
//! draws fresh errors). They strike programmed pages only: erased pages
//! read back exactly 0xFF, and torn pages are garbage already.

use ftl_core::BlockIdx;

use crate::options::{FactoryBadBlocks, SimOptions};
use crate::rng::{Rng, Stream};

/// The factory bad blocks for `opts` on an array of `total` blocks, sorted.
/// `Count` draws them without replacement from blocks 1.. (block 0 stays
/// good); the options were validated, so the count fits.
pub(crate) fn factory_bad_blocks(opts: &SimOptions, total: u32) -> Vec<BlockIdx> {
    let mut out = match &opts.factory_bad_blocks {
        FactoryBadBlocks::None => Vec::new(),
        FactoryBadBlocks::List(list) => list.iter().copied().filter(|b| b.0 < total).collect(),
        FactoryBadBlocks::Count(count) => {
            // Partial Fisher–Yates over 1..total.
            let mut rng = Rng::stream(opts.seed, Stream::FactoryBad);
            let mut pool: Vec<u32> = (1..total).collect();
            let k = (*count as usize).min(pool.len());
            for i in 0..k {
                let j = i + rng.below((pool.len() - i) as u64) as usize;
                pool.swap(i, j);
            }
            pool.truncate(k);
            pool.into_iter().map(BlockIdx).collect()
        }
    };
    out.sort();
    out.dedup();
    out
}

/// How one read of a programmed page fared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReadOutcome {
    /// ECC corrected `bits` after `retries` read-retry steps.
    Corrected { bits: u32, retries: u32 },
    /// Still `bits` errors after every retry.
    Uncorrectable { bits: u32 },
}

/// Why an erase fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EraseFault {
    /// The block has used up its P/E endurance.
    WornOut,
    /// A random failure.
    Random,
}

/// The fault state: options and one generator per kind of fault.
#[derive(Clone, Debug)]
pub(crate) struct Faults {
    opts: SimOptions,
    program: Rng,
    erase: Rng,
    bits: Rng,
    tear: Rng,
}

impl Faults {
    pub(crate) fn new(opts: SimOptions) -> Faults {
        let seed = opts.seed;
        Faults {
            opts,
            program: Rng::stream(seed, Stream::ProgramFail),
            erase: Rng::stream(seed, Stream::EraseFail),
            bits: Rng::stream(seed, Stream::BitErrors),
            tear: Rng::stream(seed, Stream::Tear),
        }
    }

    pub(crate) fn options(&self) -> &SimOptions {
        &self.opts
    }

    /// The generator for what torn and failed operations leave behind.
    pub(crate) fn tear_rng(&mut self) -> &mut Rng {
        &mut self.tear
    }

    /// Whether this program fails.
    pub(crate) fn program_fails(&mut self) -> bool {
        self.program.chance_ppm(self.opts.program_fail_ppm)
    }

    /// Whether an erase of a block with `erase_count` completed erases
    /// fails, and why. Wear-out is checked first and draws nothing.
    pub(crate) fn erase_fault(&mut self, erase_count: u32) -> Option<EraseFault> {
        if self
            .opts
            .pe_endurance
            .is_some_and(|limit| erase_count >= limit)
        {
            return Some(EraseFault::WornOut);
        }
        self.erase
            .chance_ppm(self.opts.erase_fail_ppm)
            .then_some(EraseFault::Random)
    }

    /// Draws the bit errors of one read and runs ECC and read retry on them.
    pub(crate) fn read(&mut self) -> ReadOutcome {
        let max = self.opts.max_bit_errors_per_read;
        if max == 0 {
            return ReadOutcome::Corrected {
                bits: 0,
                retries: 0,
            };
        }
        let ecc = self.opts.ecc_correctable_bits;
        let mut bits = self.bits.below(u64::from(max) + 1) as u32;
        let mut retries = 0;
        while bits > ecc {
            if retries == self.opts.read_retries {
                return ReadOutcome::Uncorrectable { bits };
            }
            retries += 1;
            // A retry shifts the read thresholds; it helps, but not always
            // by much.
            let step = 1 + self.bits.below(u64::from((ecc / 2).max(1))) as u32;
            bits = bits.saturating_sub(step);
        }
        ReadOutcome::Corrected { bits, retries }
    }

    /// Flips `bits` random bits across the data buffers and `oob` — what an
    /// uncorrectable read hands back.
    pub(crate) fn flip_bits(&mut self, bits: u32, data: &mut [&mut [u8]], oob: &mut [u8]) {
        let total: u64 = data.iter().map(|b| b.len() as u64).sum::<u64>() + oob.len() as u64;
        if total == 0 {
            return;
        }
        for _ in 0..bits {
            let mut at = self.bits.below(total);
            let mask = 1u8 << self.bits.below(8);
            let mut done = false;
            for buf in data.iter_mut() {
                let len = buf.len() as u64;
                if at < len {
                    if let Some(b) = buf.get_mut(at as usize) {
                        *b ^= mask;
                    }
                    done = true;
                    break;
                }
                at -= len;
            }
            if !done {
                if let Some(b) = oob.get_mut(at as usize) {
                    *b ^= mask;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factory_bad_count_is_deterministic_and_spares_block_zero() {
        let o = |seed| SimOptions {
            seed,
            factory_bad_blocks: FactoryBadBlocks::Count(5),
            ..Default::default()
        };
        let a = factory_bad_blocks(&o(1), 64);
        assert_eq!(a, factory_bad_blocks(&o(1), 64));
        assert_eq!(a.len(), 5);
        assert!(a.iter().all(|b| b.0 >= 1 && b.0 < 64));
        let others: Vec<_> = (2..10).map(|s| factory_bad_blocks(&o(s), 64)).collect();
        assert!(others.iter().any(|x| *x != a), "seed must matter");
        let all = SimOptions {
            factory_bad_blocks: FactoryBadBlocks::Count(7),
            ..o(3)
        };
        assert_eq!(
            factory_bad_blocks(&all, 8),
            (1..8).map(BlockIdx).collect::<Vec<_>>()
        );
    }

    #[test]
    fn wear_out_precedes_random_failure() {
        let mut f = Faults::new(SimOptions {
            pe_endurance: Some(3),
            ..Default::default()
        });
        assert_eq!(f.erase_fault(2), None);
        assert_eq!(f.erase_fault(3), Some(EraseFault::WornOut));
    }

    #[test]
    fn read_outcomes_respect_ecc_and_retry_limits() {
        let mk = |max, ecc, retries| {
            Faults::new(SimOptions {
                seed: 5,
                max_bit_errors_per_read: max,
                ecc_correctable_bits: ecc,
                read_retries: retries,
                ..Default::default()
            })
        };
        let mut within = mk(4, 4, 0);
        let mut any_bits = false;
        for _ in 0..500 {
            match within.read() {
                ReadOutcome::Corrected { bits, retries: 0 } => any_bits |= bits > 0,
                other => panic!("{other:?}"),
            }
        }
        assert!(any_bits);
        // 8 errors at most, ECC 4, step ≥ 1: four retries always suffice.
        let mut retried = mk(8, 4, 4);
        let mut any_retry = false;
        for _ in 0..500 {
            match retried.read() {
                ReadOutcome::Corrected { bits, retries } => {
                    assert!(bits <= 4 && retries <= 4);
                    any_retry |= retries > 0;
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(any_retry);
        let mut hopeless = mk(50, 0, 0);
        let bad = (0..500).filter(|_| matches!(hopeless.read(), ReadOutcome::Uncorrectable { .. }));
        assert!(bad.count() > 450);
    }

    #[test]
    fn flip_bits_flips_exactly_that_many_bits_somewhere() {
        let mut f = Faults::new(SimOptions::with_seed(9));
        let (mut a, mut b, mut oob) = ([0u8; 10], [0u8; 6], [0u8; 4]);
        f.flip_bits(1, &mut [&mut a, &mut b], &mut oob);
        let ones: u32 = a.iter().chain(&b).chain(&oob).map(|x| x.count_ones()).sum();
        assert_eq!(ones, 1);
    }
}
