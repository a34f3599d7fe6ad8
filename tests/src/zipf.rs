//! Zipf-distributed ranks by rejection-inversion (W. Hörmann and G.
//! Derflinger, "Rejection-inversion to generate variates from monotone
//! discrete distributions", ACM TOMACS 6(3), 1996): O(1) per sample and no
//! table, so it works over the 2²⁸ sectors of a 1 TiB device.

use crate::rng::Rng;

/// Ranks `1..=n` with P(k) ∝ k^−s.
pub struct Zipf {
    n: f64,
    s: f64,
    h_x1: f64,
    h_n: f64,
    sc: f64,
}

impl Zipf {
    /// Zipf over `n ≥ 1` ranks with exponent `s > 0` (`s ≠ 1` is fine too).
    pub fn new(n: u64, s: f64) -> Self {
        assert!(n >= 1 && s > 0.0);
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
        z
    }

    /// A rank in `1..=n`.
    pub fn sample(&self, rng: &mut Rng) -> u64 {
        loop {
            let u01 = rng.below(1 << 53) as f64 / (1u64 << 53) as f64;
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

    #[test]
    fn frequencies_follow_the_law() {
        // n = 1000, s = 0.99: P(k) = k^-s / H, H = Σ k^-s.
        let (n, s) = (1000u64, 0.99);
        let h: f64 = (1..=n).map(|k| (k as f64).powf(-s)).sum();
        let z = Zipf::new(n, s);
        let mut rng = Rng(7);
        let draws = 400_000;
        let mut count = vec![0u32; n as usize + 1];
        for _ in 0..draws {
            let k = z.sample(&mut rng);
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
}
