//! SplitMix64: a fixed, dependency-free stream of numbers per seed, so a
//! workload never changes with a dependency upgrade.

/// The generator; the field is the state (seed it with anything).
pub struct Rng(pub u64);

impl Rng {
    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n
    }
}
