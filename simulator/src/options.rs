//! [`SimOptions`]: the one seed and every fault rate, checked in the
//! constructor. `Default` is perfect media: no bad blocks, no wear-out, no
//! failures, no bit errors.

use ftl_core::BlockIdx;

/// How the factory bad blocks of a new array are chosen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum FactoryBadBlocks {
    /// Every block is good.
    #[default]
    None,
    /// This many blocks, chosen from the seed. Block 0 is never chosen:
    /// vendors guarantee it good so boot code has a home.
    Count(u32),
    /// Exactly these blocks.
    List(Vec<BlockIdx>),
}

/// The simulator's knobs. One `seed` drives every random choice; each kind
/// of fault draws from its own stream of it, so enabling one fault does not
/// reshuffle the others.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimOptions {
    /// The seed for every random choice (bad blocks, failures, bit errors,
    /// the contents of torn pages).
    pub seed: u64,
    /// Blocks marked bad when an array is created (ignored when an image is
    /// opened: its marks are in the image).
    pub factory_bad_blocks: FactoryBadBlocks,
    /// Completed erases a block survives; the next erase fails with
    /// `EraseFailed` (the block is worn out). `None`: unlimited.
    pub pe_endurance: Option<u32>,
    /// Chance of each program failing, in parts per million.
    pub program_fail_ppm: u32,
    /// Chance of each erase failing, in parts per million.
    pub erase_fail_ppm: u32,
    /// Each read of a programmed page suffers a uniform 0..=this many bit
    /// errors. 0: none.
    pub max_bit_errors_per_read: u32,
    /// Bit errors ECC corrects in one page; more start read retry.
    pub ecc_correctable_bits: u32,
    /// Read-retry steps tried before a read is `Uncorrectable`; each step
    /// lowers the error count by 1..=max(1, ecc_correctable_bits / 2).
    pub read_retries: u32,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            seed: 0,
            factory_bad_blocks: FactoryBadBlocks::None,
            pe_endurance: None,
            program_fail_ppm: 0,
            erase_fail_ppm: 0,
            max_bit_errors_per_read: 0,
            ecc_correctable_bits: 0,
            read_retries: 0,
        }
    }
}

/// Why a [`SimOptions`] was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OptionsError {
    /// A failure rate above 1,000,000 ppm.
    #[error("{name} is {value} ppm, more than 1000000")]
    Rate {
        /// Which option.
        name: &'static str,
        /// Its value.
        value: u32,
    },
    /// More factory bad blocks than the array has (block 0 is always good).
    #[error("{count} factory bad blocks requested but only {available} blocks can be bad")]
    TooManyBadBlocks {
        /// Blocks requested.
        count: u32,
        /// Blocks that may be chosen.
        available: u32,
    },
    /// A listed factory bad block outside the array.
    #[error("factory bad block {0} is outside the array")]
    BadBlockOutOfRange(u32),
    /// An endurance of zero erases.
    #[error("pe_endurance must be at least 1")]
    ZeroEndurance,
    /// An ECC strength larger than the page itself.
    #[error("ecc_correctable_bits ({ecc}) exceeds the bits in a page ({page_bits})")]
    EccTooLarge {
        /// The ECC strength asked for.
        ecc: u32,
        /// Bits in a page plus its spare area.
        page_bits: u64,
    },
}

impl SimOptions {
    /// Perfect media with this seed.
    pub fn with_seed(seed: u64) -> Self {
        SimOptions {
            seed,
            ..SimOptions::default()
        }
    }

    /// Checks the options against an array of `total_blocks` blocks whose
    /// pages hold `page_bits` bits (data plus spare).
    pub fn validate(&self, total_blocks: u32, page_bits: u64) -> Result<(), OptionsError> {
        for (name, value) in [
            ("program_fail_ppm", self.program_fail_ppm),
            ("erase_fail_ppm", self.erase_fail_ppm),
        ] {
            if value > 1_000_000 {
                return Err(OptionsError::Rate { name, value });
            }
        }
        if self.pe_endurance == Some(0) {
            return Err(OptionsError::ZeroEndurance);
        }
        if u64::from(self.ecc_correctable_bits) > page_bits {
            return Err(OptionsError::EccTooLarge {
                ecc: self.ecc_correctable_bits,
                page_bits,
            });
        }
        match &self.factory_bad_blocks {
            FactoryBadBlocks::None => {}
            FactoryBadBlocks::Count(count) => {
                let available = total_blocks.saturating_sub(1);
                if *count > available {
                    return Err(OptionsError::TooManyBadBlocks {
                        count: *count,
                        available,
                    });
                }
            }
            FactoryBadBlocks::List(list) => {
                if let Some(b) = list.iter().find(|b| b.0 >= total_blocks) {
                    return Err(OptionsError::BadBlockOutOfRange(b.0));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_perfect() {
        let o = SimOptions::default();
        assert_eq!(o.validate(8, 1024), Ok(()));
        assert_eq!(
            o.program_fail_ppm + o.erase_fail_ppm + o.max_bit_errors_per_read,
            0
        );
        assert_eq!(o.pe_endurance, None);
    }

    #[test]
    fn nonsense_is_refused() {
        let ok = SimOptions::default();
        let cases = [
            SimOptions {
                program_fail_ppm: 1_000_001,
                ..ok.clone()
            },
            SimOptions {
                erase_fail_ppm: u32::MAX,
                ..ok.clone()
            },
            SimOptions {
                pe_endurance: Some(0),
                ..ok.clone()
            },
            SimOptions {
                ecc_correctable_bits: 2000,
                ..ok.clone()
            },
            SimOptions {
                factory_bad_blocks: FactoryBadBlocks::Count(8),
                ..ok.clone()
            },
            SimOptions {
                factory_bad_blocks: FactoryBadBlocks::List(vec![BlockIdx(8)]),
                ..ok.clone()
            },
        ];
        for o in cases {
            assert!(o.validate(8, 1024).is_err(), "{o:?}");
        }
        let seven = SimOptions {
            factory_bad_blocks: FactoryBadBlocks::Count(7),
            ..ok
        };
        assert_eq!(seven.validate(8, 1024), Ok(()));
    }
}
