//! Zipf-distributed ranks by rejection-inversion (W. Hörmann and G.
//! Derflinger, "Rejection-inversion to generate variates from monotone
//! discrete distributions", ACM TOMACS 6(3), 1996): O(1) per sample and no
//! table, so it works over the 2²⁸ sectors of a 1 TiB device.
//!
//! The sampler takes its randomness from the caller as 53-bit uniform
//! integers, so the synthetic generator feeds it from the simulator's
//! SplitMix64 streams and the `scale` example from its own generator,
//! each unchanged by the other.

/// Ranks `1..=n` with P(k) ∝ k^−s.
#[derive(Clone, Debug)]
pub struct Zipf {
    n: f64,
    s: f64,
    h_x1: f64,
    h_n: f64,
    sc: f64,
}

/// The largest exponent [`Zipf::new`] accepts. Beyond it rank 1 takes
/// all but ~2^-(s) of the draws and the rejection step's floating point
/// underflows; nobody models a workload that skewed.
pub const MAX_ZIPF_EXPONENT: f64 = 40.0;

impl Zipf {
    /// Zipf over `n` ranks with exponent `s` (`s = 1` included), or `None`
    /// unless `1 ≤ n ≤ 2^53` (ranks are exact `f64`s) and
    /// `0 < s ≤` [`MAX_ZIPF_EXPONENT`].
    pub fn new(n: u64, s: f64) -> Option<Self> {
        if n == 0 || n > 1 << 53 || !(s > 0.0 && s <= MAX_ZIPF_EXPONENT) {
            return None;
        }
        let mut z = Zipf {
            n: n as f64,
            s,
            h_x1: 0.0,
            h_n: 0.0,
            sc: 0.0,
        };
        z.h_x1 = z.h_integral(1.5) - 1.0;
        z.h_n = z.h_integral(z.n + 0.5);
        z.sc = 2.0 - z.h_integral_inverse(z.h_integral(2.5) - z.h(2.0));
        Some(z)
    }

    /// The number of ranks.
    pub fn ranks(&self) -> u64 {
        self.n as u64
    }

    /// A rank in `1..=n`. `uniform53` must return uniform integers in
    /// `0..2^53` (higher bits are ignored); it is called once per try, and
    /// a try is accepted with probability well above 1/2.
    pub fn sample_with(&self, mut uniform53: impl FnMut() -> u64) -> u64 {
        loop {
            let bits = uniform53() & ((1 << 53) - 1);
            let u01 = bits as f64 / (1u64 << 53) as f64;
            let u = self.h_n + u01 * (self.h_x1 - self.h_n);
            let x = self.h_integral_inverse(u);
            let k = (x + 0.5).floor().clamp(1.0, self.n);
            if k - x <= self.sc || u >= self.h_integral(k + 0.5) - self.h(k) {
                return k as u64;
            }
        }
    }

    fn h(&self, x: f64) -> f64 {
        (-self.s * x.ln()).exp()
    }

    fn h_integral(&self, x: f64) -> f64 {
        let lx = x.ln();
        helper2((1.0 - self.s) * lx) * lx
    }

    fn h_integral_inverse(&self, x: f64) -> f64 {
        let t = (x * (1.0 - self.s)).max(-1.0);
        (helper1(t) * x).exp()
    }
}

/// Spreads a zipf rank over `0..n` so the hot items are not all adjacent,
/// as YCSB's scrambled zipfian does (a multiplicative hash, then modulo;
/// not a bijection — a few ranks share a slot, which only merges heat).
/// `n == 0` gives 0.
pub fn scramble(rank: u64, n: u64) -> u64 {
    (rank.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11)
        .checked_rem(n)
        .unwrap_or(0)
}

/// ln(1 + x) / x, stable near 0.
fn helper1(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.ln_1p() / x
    } else {
        1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x))
    }
}

/// (e^x − 1) / x, stable near 0.
fn helper2(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.exp_m1() / x
    } else {
        1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn draw(z: &Zipf, rng: &mut Rng) -> u64 {
        z.sample_with(|| rng.below(1 << 53))
    }

    #[test]
    fn frequencies_follow_the_law() {
        // n = 1000, s = 0.99: P(k) = k^-s / H, H = Σ k^-s.
        let (n, s) = (1000u64, 0.99);
        let h: f64 = (1..=n).map(|k| (k as f64).powf(-s)).sum();
        let z = Zipf::new(n, s).unwrap();
        let mut rng = Rng::new(7);
        let draws = 400_000;
        let mut count = vec![0u32; n as usize + 1];
        for _ in 0..draws {
            let k = draw(&z, &mut rng);
            assert!((1..=n).contains(&k));
            count[k as usize] += 1;
        }
        for k in [1u64, 2, 10, 100] {
            let want = draws as f64 * (k as f64).powf(-s) / h;
            let got = f64::from(count[k as usize]);
            assert!(
                (got - want).abs() < 5.0 * want.sqrt() + 0.01 * want,
                "rank {k}: {got} draws, expected {want:.0}"
            );
        }
    }

    #[test]
    fn refuses_what_it_cannot_sample() {
        assert!(Zipf::new(0, 0.99).is_none());
        assert!(Zipf::new((1 << 53) + 1, 0.99).is_none());
        for s in [0.0, -1.0, f64::NAN, f64::INFINITY, MAX_ZIPF_EXPONENT + 1.0] {
            assert!(Zipf::new(10, s).is_none(), "s = {s}");
        }
    }

    #[test]
    fn every_accepted_exponent_and_size_stays_in_range() {
        let mut rng = Rng::new(3);
        for s in [
            1e-9,
            0.01,
            0.5,
            1.0,
            1.0 + 1e-12,
            2.0,
            10.0,
            MAX_ZIPF_EXPONENT,
        ] {
            for n in [1u64, 2, 3, 1000, 1 << 40, 1 << 53] {
                let z = Zipf::new(n, s).unwrap();
                assert_eq!(z.ranks(), n);
                for _ in 0..200 {
                    let k = draw(&z, &mut rng);
                    assert!((1..=n).contains(&k), "s {s} n {n}: rank {k}");
                }
            }
        }
        // The extreme uniform inputs first (then random ones, should the
        // extreme be rejected).
        let z = Zipf::new(1 << 30, 0.99).unwrap();
        for bits in [0, (1 << 53) - 1, u64::MAX] {
            let mut first = Some(bits);
            let k = z.sample_with(|| first.take().unwrap_or_else(|| rng.below(1 << 53)));
            assert!((1..=1 << 30).contains(&k));
        }
    }

    #[test]
    fn scramble_stays_below_n() {
        assert_eq!(scramble(5, 0), 0);
        for n in [1u64, 7, 1 << 28] {
            for rank in [1u64, 2, 1000, u64::MAX] {
                assert!(scramble(rank, n) < n);
            }
        }
    }
}
