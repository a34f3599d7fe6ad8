//! An independent, straightforward greedy FTL model (issue 11, point 5),
//! written here without any of zcftl's code: one mapping unit per page, a
//! sequential fill, 4 × the logical capacity of uniform random writes to
//! warm up, 4 × measured; GC takes the block with the fewest valid pages
//! when the last free block is opened. It checks the figures the issue
//! quotes for 256 blocks × 64 pages (7.78 at OP 0.07, 4.25 at 0.14, 2.46 at
//! 0.28; this model gives 7.41, 4.13 and 2.44: within 5 %, lower at low OP),
//! and that greedy never exceeds the analytic bound for FIFO
//! cleaning (Desnoyers, "Analytic modeling of SSD write performance",
//! SYSTOR 2012): A = α / (α + W(−α·e^(−α))), α = physical / logical.
//!
//! What zcftl's own FTL does on the same device is measured by `ftl-sim`
//! and compared in docs/BENCHMARKS.md (*Write amplification against a
//! greedy reference*).

mod cli;

/// Splitmix64: the reference draws its own numbers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Page-mapped flash with greedy GC.
struct Greedy {
    ppb: usize,
    /// Logical page → physical page (usize::MAX: unmapped).
    l2p: Vec<usize>,
    /// Physical page → logical page (usize::MAX: invalid).
    p2l: Vec<usize>,
    valid: Vec<usize>,
    free: Vec<usize>,
    open: usize,
    next: usize,
    idle: usize,
    host: u64,
    moved: u64,
}

impl Greedy {
    /// `idle` of the blocks are never used (a reserve that holds no
    /// data, as an FTL's open and spare blocks do).
    fn new(blocks: usize, ppb: usize, logical: usize, idle: usize) -> Self {
        let mut free: Vec<usize> = (1..blocks - idle).rev().collect();
        free.shrink_to_fit();
        Greedy {
            ppb,
            l2p: vec![usize::MAX; logical],
            p2l: vec![usize::MAX; blocks * ppb],
            valid: vec![0; blocks],
            free,
            open: 0,
            next: 0,
            idle,
            host: 0,
            moved: 0,
        }
    }

    fn place(&mut self, lpn: usize) {
        if self.next == self.ppb {
            self.open = self.free.pop().expect("a free block");
            self.next = 0;
            if self.free.is_empty() {
                self.collect();
            }
        }
        let ppn = self.open * self.ppb + self.next;
        self.next += 1;
        let old = self.l2p[lpn];
        if old != usize::MAX {
            self.p2l[old] = usize::MAX;
            self.valid[old / self.ppb] -= 1;
        }
        self.l2p[lpn] = ppn;
        self.p2l[ppn] = lpn;
        self.valid[ppn / self.ppb] += 1;
    }

    /// Greedy: the full block with the fewest valid pages is emptied into
    /// the open block (and the next one when it fills).
    fn collect(&mut self) {
        let used = self.valid.len() - self.idle;
        let victim = (0..used)
            .filter(|&b| b != self.open)
            .min_by_key(|&b| self.valid[b])
            .expect("a victim");
        let pages: Vec<usize> = (victim * self.ppb..(victim + 1) * self.ppb)
            .filter(|&p| self.p2l[p] != usize::MAX)
            .map(|p| self.p2l[p])
            .collect();
        self.free.push(victim);
        for lpn in pages {
            self.moved += 1;
            self.place(lpn);
        }
    }

    fn write(&mut self, lpn: usize) {
        self.host += 1;
        self.place(lpn);
    }
}

/// Greedy's write amplification at over-provisioning `op` on 256 × 64.
fn greedy_wa(op: f64, seed: u64) -> f64 {
    greedy_wa_idle(op, 0, seed)
}

/// The same with `idle` of the 256 blocks held out of use (still counted
/// in `op`, as an FTL's reserve is).
fn greedy_wa_idle(op: f64, idle: usize, seed: u64) -> f64 {
    let (blocks, ppb) = (256usize, 64usize);
    let logical = ((blocks * ppb) as f64 / (1.0 + op)).round() as usize;
    let mut g = Greedy::new(blocks, ppb, logical, idle);
    for lpn in 0..logical {
        g.write(lpn);
    }
    let mut rng = Rng(seed);
    for _ in 0..4 * logical {
        g.write((rng.next() % logical as u64) as usize);
    }
    let (h0, m0) = (g.host, g.moved);
    for _ in 0..4 * logical {
        g.write((rng.next() % logical as u64) as usize);
    }
    let (host, moved) = (g.host - h0, g.moved - m0);
    (host + moved) as f64 / host as f64
}

/// The principal branch of Lambert's W on [−1/e, 0) (Halley's method).
fn lambert_w0(x: f64) -> f64 {
    assert!((-1.0 / std::f64::consts::E..0.0).contains(&x));
    // Start near the branch point, where W ≈ −1 + √(2(1 + e·x)).
    let mut w = -1.0 + (2.0 * (1.0 + std::f64::consts::E * x)).max(0.0).sqrt();
    for _ in 0..50 {
        let ew = w.exp();
        let f = w * ew - x;
        let step = f / (ew * (w + 1.0) - (w + 2.0) * f / (2.0 * w + 2.0));
        w -= step;
        if step.abs() < 1e-15 {
            break;
        }
    }
    w
}

/// Desnoyers's write amplification of FIFO cleaning under uniform random
/// writes, α = physical / logical.
fn fifo_wa(alpha: f64) -> f64 {
    alpha / (alpha + lambert_w0(-alpha * (-alpha).exp()))
}

#[test]
fn the_reference_gives_the_issues_figures() {
    for (op, want) in [(0.07, 7.78), (0.14, 4.25), (0.28, 2.46)] {
        let got = greedy_wa(op, 1);
        println!("greedy reference at OP {op}: WA {got:.3} (the issue: {want})");
        // Within the issue's own 5 % (measured: 7.41, 4.13, 2.44).
        assert!(
            (got / want - 1.0).abs() < 0.05,
            "OP {op}: {got:.3}, the issue says {want}"
        );
    }
}

#[test]
fn greedy_never_exceeds_the_fifo_bound() {
    for op in [0.07, 0.1, 0.14, 0.2, 0.28, 0.5] {
        let greedy = greedy_wa(op, 2);
        let fifo = fifo_wa(1.0 + op);
        println!("OP {op}: greedy {greedy:.3}, FIFO bound {fifo:.3}");
        assert!(
            greedy <= fifo,
            "OP {op}: greedy {greedy:.3} > FIFO {fifo:.3}"
        );
    }
}

/// What a reserve that holds no data costs greedy at low OP: each block
/// of 256 held idle raises WA. An FTL's open blocks, GC reserve and meta
/// blocks are such a reserve; docs/BENCHMARKS.md reads zcftl's WA against
/// this table.
#[test]
fn every_idle_block_costs_greedy_at_low_op() {
    let mut last = 0.0;
    for idle in 0..=6 {
        let wa = greedy_wa_idle(0.07, idle, 1);
        println!("OP 0.07, {idle} of 256 blocks idle: greedy WA {wa:.3}");
        assert!(wa > last, "{idle} idle: {wa:.3} <= {last:.3}");
        last = wa;
    }
}

#[test]
fn lambert_w_is_right() {
    for x in [-0.36, -0.3, -0.1, -0.01] {
        let w = lambert_w0(x);
        assert!((w * w.exp() - x).abs() < 1e-12, "W({x}) = {w}");
        assert!(w >= -1.0);
    }
}

/// zcftl itself on the issue's command (`ftl-sim run --workload uniform
/// --op OP --blocks-per-plane 256 --pages-per-block 64 --page-size 4K
/// --sector-size 4K --gc greedy --precondition 4x --writes 4x --seed 1`,
/// metadata-only: the same WA as with data) against this reference, with
/// superblocks and with a lane per die.
///
/// **The issue's goal, within 5 %, is not met** (docs/BENCHMARKS.md,
/// *Write amplification against a greedy reference*): the FTL's reserve
/// of whole erase units, and with a unit per die its summary page per
/// unit, hold no data for GC. These bounds pin today's ratios (1.42,
/// 1.19, 1.09 with superblocks; 1.44, 1.20, 1.10 with lanes) with a
/// little room, so a change that makes WA worse fails here, and one that
/// closes the gap shows in the printed ratios.
#[test]
fn zcftl_against_the_reference() {
    for (op, superblocks_max, dies_max) in
        [(0.07, 1.47, 1.48), (0.14, 1.24, 1.22), (0.28, 1.16, 1.13)]
    {
        let reference = greedy_wa(op, 1);
        for (stripe, max) in [("superblocks", superblocks_max), ("dies", dies_max)] {
            let op_arg = op.to_string();
            let out = cli::ftl_sim(&[
                "run",
                "--workload",
                "uniform",
                "--op",
                &op_arg,
                "--blocks-per-plane",
                "256",
                "--pages-per-block",
                "64",
                "--page-size",
                "4K",
                "--sector-size",
                "4K",
                "--gc",
                "greedy",
                "--precondition",
                "4x",
                "--writes",
                "4x",
                "--seed",
                "1",
                "--stripe",
                stripe,
                "--metadata-only",
                "--json",
            ]);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let wa = r["write_amplification"].as_f64().unwrap();
            let eff = r["op"]["effective_pct"].as_f64().unwrap();
            assert!((eff - op * 100.0).abs() < 0.01, "OP {eff} %");
            let ratio = wa / reference;
            println!(
                "OP {op}: zcftl {stripe} WA {wa:.3}, reference {reference:.3}: {ratio:.3} × (issue's goal: 1.05)"
            );
            assert!(ratio <= max, "OP {op} {stripe}: {ratio:.3} × the reference");
            assert!(
                wa >= reference * 0.95,
                "OP {op} {stripe}: below greedy? {wa:.3}"
            );
        }
    }
}
