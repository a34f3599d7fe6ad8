//! The simulator's only source of randomness: SplitMix64 over one `u64`.
//!
//! Why our own 20 lines instead of a crate: a crash or fault test is
//! reproduced from nothing but its seed, possibly years later, so the
//! stream for a given seed must never change. SplitMix64 (Steele, Lea and
//! Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014) is
//! fully specified by its three constants, passes BigCrush, and is what
//! xoshiro's authors recommend for seeding — quality is ample for fault
//! injection, and no dependency upgrade can silently reshuffle our streams.
//!
//! Each kind of fault draws from its own stream ([`Rng::stream`]), so turning
//! one fault on does not change the outcomes of another. Synthetic workloads
//! (`workload::generator`) draw from streams of their own in the same way:
//! changing the read percentage does not move a single address.

/// A SplitMix64 generator. Not cryptographic; deterministic by design.
#[derive(Clone, Debug)]
pub(crate) struct Rng {
    state: u64,
}

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 output function (a variant of MurmurHash3's finaliser).
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Names of the independent streams derived from one seed.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Stream {
    FactoryBad = 1,
    ProgramFail = 2,
    EraseFail = 3,
    BitErrors = 4,
    Tear = 5,
    /// Synthetic workloads (`workload::generator`): read or write.
    WorkloadOp = 6,
    /// Synthetic workloads: where a request lands.
    WorkloadAddr = 7,
    /// Synthetic workloads: which block size of a mix.
    WorkloadSize = 8,
}

impl Rng {
    /// A generator started at `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Rng { state: seed }
    }

    /// The sub-generator for `stream` of `seed`: a different, unrelated
    /// sequence per stream.
    pub(crate) fn stream(seed: u64, stream: Stream) -> Self {
        Rng::new(mix(seed ^ mix((stream as u64).wrapping_mul(GOLDEN_GAMMA))))
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        mix(self.state)
    }

    /// A uniform value in `0..n` (0 when `n == 0`). Uses Lemire's
    /// multiply-shift; the bias for the small `n` used here is < 2^-32.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `ppm` / 1,000,000.
    pub(crate) fn chance_ppm(&mut self, ppm: u32) -> bool {
        ppm > 0 && self.below(1_000_000) < u64::from(ppm)
    }

    /// Fills `buf` with random bytes.
    pub(crate) fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_published_splitmix64_sequence() {
        // Reference values for seed 1234567 from the SplitMix64 reference
        // implementation (Vigna's splitmix64.c).
        let mut r = Rng::new(1_234_567);
        assert_eq!(r.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(r.next_u64(), 3_203_168_211_198_807_973);
        assert_eq!(r.next_u64(), 9_817_491_932_198_370_423);
    }

    #[test]
    fn below_stays_in_range_and_streams_differ() {
        let mut r = Rng::new(7);
        for n in [1u64, 2, 3, 10, 1000] {
            for _ in 0..1000 {
                assert!(r.below(n) < n);
            }
        }
        assert_eq!(r.below(0), 0);
        let a = Rng::stream(7, Stream::ProgramFail).next_u64();
        let b = Rng::stream(7, Stream::EraseFail).next_u64();
        let c = Rng::stream(8, Stream::ProgramFail).next_u64();
        assert!(a != b && a != c && b != c);
        assert_eq!(a, Rng::stream(7, Stream::ProgramFail).next_u64());
    }

    #[test]
    fn chance_ppm_extremes() {
        let mut r = Rng::new(3);
        assert!((0..1000).all(|_| !r.chance_ppm(0)));
        assert!((0..1000).all(|_| r.chance_ppm(1_000_000)));
    }
}
