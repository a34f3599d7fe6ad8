//! Synthetic workloads: an endless, seeded stream of reads and writes over
//! a device of `device_bytes`, each of a size drawn from a
//! [`BlockSizeMix`], placed by a [`Pattern`].
//!
//! Placement: the device is cut into *positions* of the mix's smallest
//! size (fio's default block alignment); a pattern picks a position, and a
//! request that would run past the device's end is moved back to the last
//! aligned offset where it fits (so with a mix, the last positions are a
//! little more likely for large requests). `sequential` ignores positions:
//! each request starts where the last ended and wraps to 0 when the next
//! would not fit.
//!
//! Determinism: one `u64` seed, three SplitMix64 streams — operation,
//! address, size — so the same configuration gives the same sequence on
//! every machine and release, and changing `read_pct` does not move a
//! single address (nor changing the pattern a single size).

use super::spec::{BlockSizeMix, Pattern};
use super::zipf::{scramble, Zipf};
use super::{Op, Request, RequestSource, TraceError};
use crate::rng::{Rng, Stream};

/// What to generate.
#[derive(Clone, Debug, PartialEq)]
pub struct GeneratorConfig {
    /// The device's size; requests stay in `0..device_bytes`.
    pub device_bytes: u64,
    /// Request sizes and their weights.
    pub block_sizes: BlockSizeMix,
    /// Percentage of reads, 0..=100; the rest are writes.
    pub read_pct: u8,
    /// Where requests land.
    pub pattern: Pattern,
    /// The one seed everything is drawn from.
    pub seed: u64,
}

/// A [`GeneratorConfig`] that cannot be generated.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum GeneratorError {
    /// The device cannot hold one request of the largest size.
    #[error("a device of {device_bytes} bytes cannot hold one {block_bytes}-byte request")]
    DeviceTooSmall {
        /// The configured device size.
        device_bytes: u64,
        /// The largest block size of the mix.
        block_bytes: u64,
    },
    /// `read_pct` above 100.
    #[error("read percentage {0} is above 100")]
    ReadPct(u8),
    /// A pattern parameter out of range (built without `FromStr`).
    #[error("workload {pattern}: {reason}")]
    Pattern {
        /// The pattern as configured.
        pattern: String,
        /// What is wrong.
        reason: &'static str,
    },
}

/// The generator; an endless [`RequestSource`] and [`Iterator`]. Every
/// request's `arrival_ns` is 0: generators are for closed-loop runs.
#[derive(Clone, Debug)]
pub struct Generator {
    cfg: GeneratorConfig,
    /// The alignment: the mix's smallest size.
    align: u64,
    /// How many aligned positions the device has (≥ 1).
    positions: u64,
    /// For hot/cold: how many of the positions are hot (≥ 1).
    hot: u64,
    zipf: Option<Zipf>,
    next_sequential: u64,
    op_rng: Rng,
    addr_rng: Rng,
    size_rng: Rng,
}

impl Generator {
    /// A generator for `cfg`, or why it cannot be.
    pub fn new(cfg: GeneratorConfig) -> Result<Self, GeneratorError> {
        let max = cfg.block_sizes.max_bytes();
        if max == 0 || cfg.device_bytes < max {
            return Err(GeneratorError::DeviceTooSmall {
                device_bytes: cfg.device_bytes,
                block_bytes: max,
            });
        }
        if cfg.read_pct > 100 {
            return Err(GeneratorError::ReadPct(cfg.read_pct));
        }
        let align = cfg.block_sizes.min_bytes();
        let positions = cfg.device_bytes / align;
        let bad = |reason| GeneratorError::Pattern {
            pattern: cfg.pattern.to_string(),
            reason,
        };
        let mut hot = positions;
        let mut zipf = None;
        match cfg.pattern {
            Pattern::Uniform | Pattern::Sequential => {}
            Pattern::Zipf { theta } => {
                zipf = Some(
                    Zipf::new(positions, theta)
                        .ok_or_else(|| bad("THETA out of range, or more than 2^53 positions"))?,
                );
            }
            Pattern::HotCold {
                hot_pct,
                access_pct,
            } => {
                if !(1..=99).contains(&hot_pct) || access_pct > 100 {
                    return Err(bad("HOT_PCT must be 1..=99 and ACCESS_PCT 0..=100"));
                }
                let share = u128::from(positions) * u128::from(hot_pct) / 100;
                hot = (share as u64).max(1);
            }
        }
        Ok(Generator {
            op_rng: Rng::stream(cfg.seed, Stream::WorkloadOp),
            addr_rng: Rng::stream(cfg.seed, Stream::WorkloadAddr),
            size_rng: Rng::stream(cfg.seed, Stream::WorkloadSize),
            cfg,
            align,
            positions,
            hot,
            zipf,
            next_sequential: 0,
        })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &GeneratorConfig {
        &self.cfg
    }

    /// The next request (never `None`).
    pub fn next_one(&mut self) -> Request {
        let mix = &self.cfg.block_sizes;
        let len = if mix.entries().len() == 1 {
            mix.max_bytes()
        } else {
            mix.pick(self.size_rng.below(mix.total_weight()))
        };
        let op = if self.op_rng.below(100) < u64::from(self.cfg.read_pct) {
            Op::Read
        } else {
            Op::Write
        };
        let device = self.cfg.device_bytes;
        let offset = if let Pattern::Sequential = self.cfg.pattern {
            let mut at = self.next_sequential;
            if device - at < len {
                at = 0;
            }
            self.next_sequential = at + len;
            at
        } else {
            let position = self.position();
            let at = position * self.align;
            if device - at < len {
                (device - len) / self.align * self.align
            } else {
                at
            }
        };
        Request {
            arrival_ns: 0,
            op,
            offset_bytes: offset,
            len_bytes: len,
        }
    }

    /// A position in `0..positions` by the pattern (not sequential).
    fn position(&mut self) -> u64 {
        let rng = &mut self.addr_rng;
        match (&self.zipf, self.cfg.pattern) {
            (Some(z), _) => scramble(z.sample_with(|| rng.below(1 << 53)), self.positions),
            (None, Pattern::HotCold { access_pct, .. }) => {
                let cold = self.positions - self.hot;
                if cold == 0 || rng.below(100) < u64::from(access_pct) {
                    rng.below(self.hot)
                } else {
                    self.hot + rng.below(cold)
                }
            }
            _ => rng.below(self.positions),
        }
    }
}

impl Iterator for Generator {
    type Item = Request;

    fn next(&mut self) -> Option<Request> {
        Some(self.next_one())
    }
}

impl RequestSource for Generator {
    fn next_request(&mut self) -> Result<Option<Request>, TraceError> {
        Ok(Some(self.next_one()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pattern: &str, bs: &str, device_bytes: u64) -> GeneratorConfig {
        GeneratorConfig {
            device_bytes,
            block_sizes: bs.parse().unwrap(),
            read_pct: 30,
            pattern: pattern.parse().unwrap(),
            seed: 9,
        }
    }

    fn take(c: GeneratorConfig, n: usize) -> Vec<Request> {
        Generator::new(c).unwrap().take(n).collect()
    }

    #[test]
    fn same_seed_same_sequence_other_seed_other() {
        for p in ["uniform", "zipf:0.99", "hotcold:20/80", "sequential"] {
            let a = take(cfg(p, "4K:70,64K:30", 1 << 30), 1000);
            assert_eq!(a, take(cfg(p, "4K:70,64K:30", 1 << 30), 1000), "{p}");
            let mut other = cfg(p, "4K:70,64K:30", 1 << 30);
            other.seed = 10;
            assert_ne!(a, take(other, 1000), "{p}");
        }
    }

    #[test]
    fn pinned_first_requests() {
        // Pins the streams: a change here reshuffles every recorded run.
        let r: Vec<_> = take(cfg("uniform", "4K", 1 << 30), 3)
            .iter()
            .map(|r| (r.op, r.offset_bytes))
            .collect();
        assert_eq!(
            r,
            [
                (Op::Write, 2_842_624),
                (Op::Read, 968_732_672),
                (Op::Read, 977_350_656)
            ]
        );
    }

    #[test]
    fn read_pct_moves_no_address() {
        let mut a = cfg("zipf:0.99", "4K:70,64K:30", 1 << 30);
        let mut b = a.clone();
        a.read_pct = 0;
        b.read_pct = 100;
        let (a, b) = (take(a, 500), take(b, 500));
        assert!(a.iter().all(|r| r.op == Op::Write));
        assert!(b.iter().all(|r| r.op == Op::Read));
        let addr =
            |v: &[Request]| -> Vec<_> { v.iter().map(|r| (r.offset_bytes, r.len_bytes)).collect() };
        assert_eq!(addr(&a), addr(&b));
    }

    #[test]
    fn requests_stay_on_the_device_aligned_with_the_mix() {
        // A device that is not a multiple of the large size, and one that
        // holds exactly one large request.
        for device in [(1 << 20) + 8192, 65536] {
            for p in ["uniform", "zipf:1.2", "hotcold:10/90", "sequential"] {
                let mut sizes = [0u64; 2];
                let mut reads = 0;
                for r in take(cfg(p, "4K:70,64K:30", device), 20_000) {
                    assert!(r.end_bytes() <= device, "{p}: {r:?}");
                    assert_eq!(r.offset_bytes % 4096, 0, "{p}: {r:?}");
                    assert_eq!(r.arrival_ns, 0);
                    sizes[usize::from(r.len_bytes == 65536)] += 1;
                    reads += u32::from(r.op == Op::Read);
                }
                assert!((13_000..15_000).contains(&sizes[0]), "{p}: {sizes:?}");
                assert!((5_000..7_000).contains(&reads), "{p}: {reads}");
            }
        }
    }

    #[test]
    fn hotcold_sends_its_share_to_the_hot_part() {
        let device = 100 * 4096;
        let hot_end = 20 * 4096;
        let n = 50_000;
        let hot = take(cfg("hotcold:20/80", "4K", device), n)
            .iter()
            .filter(|r| r.offset_bytes < hot_end)
            .count();
        assert!((39_000..41_000).contains(&hot), "{hot}");
    }

    #[test]
    fn sequential_wraps() {
        let v = take(cfg("sequential", "4K:1,8K:1", 5 * 4096), 50);
        let mut expect = 0;
        for r in v {
            if expect + r.len_bytes > 5 * 4096 {
                expect = 0;
            }
            assert_eq!(r.offset_bytes, expect);
            expect += r.len_bytes;
        }
    }

    #[test]
    fn zipf_is_skewed() {
        let device = 10_000 * 4096;
        let mut count = std::collections::BTreeMap::new();
        for r in take(cfg("zipf:0.99", "4K", device), 50_000) {
            *count.entry(r.offset_bytes).or_insert(0u32) += 1;
        }
        let mut c: Vec<u32> = count.into_values().collect();
        c.sort_unstable_by(|a, b| b.cmp(a));
        // Rank 1 takes ~1/H(10000, 0.99) ≈ 10 % of the draws.
        assert!(c[0] > 4_000, "{:?}", &c[..5]);
    }

    #[test]
    fn bad_configs_are_errors() {
        let e = Generator::new(cfg("uniform", "64K", 4096)).unwrap_err();
        assert!(matches!(e, GeneratorError::DeviceTooSmall { .. }), "{e}");
        let mut c = cfg("uniform", "4K", 1 << 20);
        c.read_pct = 101;
        assert_eq!(Generator::new(c).unwrap_err(), GeneratorError::ReadPct(101));
        let mut c = cfg("uniform", "4K", 1 << 20);
        c.pattern = Pattern::Zipf { theta: -1.0 };
        assert!(Generator::new(c).is_err());
        let mut c = cfg("uniform", "4K", 1 << 20);
        c.pattern = Pattern::HotCold {
            hot_pct: 0,
            access_pct: 50,
        };
        assert!(Generator::new(c).is_err());
        // The largest device: positions beyond 2^53 are refused for zipf
        // only; uniform copes.
        let mut c = cfg("uniform", "512", u64::MAX);
        assert!(take(c.clone(), 100)
            .iter()
            .all(|r| r.offset_bytes.checked_add(r.len_bytes).is_some()));
        c.pattern = Pattern::Zipf { theta: 0.99 };
        assert!(Generator::new(c).is_err());
    }
}
