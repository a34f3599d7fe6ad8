//! An independent, straightforward greedy FTL model (issue 11, point 5),
//! written here without any of zcftl's code: one mapping unit per page, a
//! sequential fill, 4 × the logical capacity of uniform random writes to
//! warm up, 4 × measured; GC takes the block with the fewest valid pages
//! when opening a block leaves the free pool at its reserve of one block
//! (the textbook arrangement: a free block always there for GC's writes).
//! It checks the figures the issue quotes for 256 blocks × 64 pages (7.78
//! at OP 0.07, 4.25 at 0.14, 2.46 at 0.28; this model gives 7.85, 4.24 and
//! 2.49, within 1.1 %; with no reserve, collecting only when the last free
//! block is opened, it gives 7.41, 4.13 and 2.44, 4.8 % under the first),
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
    /// Free blocks GC keeps: it runs when opening a block leaves this many.
    reserve: usize,
    open: usize,
    next: usize,
    idle: usize,
    host: u64,
    moved: u64,
}

impl Greedy {
    /// `idle` of the blocks are never used (a reserve that holds no
    /// data, as an FTL's open and spare blocks do).
    fn new(blocks: usize, ppb: usize, logical: usize, reserve: usize, idle: usize) -> Self {
        let mut free: Vec<usize> = (1..blocks - idle).rev().collect();
        free.shrink_to_fit();
        Greedy {
            ppb,
            l2p: vec![usize::MAX; logical],
            p2l: vec![usize::MAX; blocks * ppb],
            valid: vec![0; blocks],
            free,
            reserve,
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
            if self.free.len() <= self.reserve {
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
    /// the open block (and the next one when it fills). The free pool is
    /// at its reserve here, so searching it is cheap.
    fn collect(&mut self) {
        let used = self.valid.len() - self.idle;
        let victim = (0..used)
            .filter(|&b| b != self.open && !self.free.contains(&b))
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

/// Free blocks the reference's GC keeps.
const RESERVE: usize = 1;

/// Greedy's write amplification at over-provisioning `op` on 256 × 64.
fn greedy_wa(op: f64, seed: u64) -> f64 {
    greedy_wa_with(op, RESERVE, 0, seed)
}

/// The same with GC keeping `reserve` free blocks, and `idle` of the 256
/// blocks held out of use (still counted in `op`, as an FTL's reserve is).
fn greedy_wa_with(op: f64, reserve: usize, idle: usize, seed: u64) -> f64 {
    let (blocks, ppb) = (256usize, 64usize);
    let logical = ((blocks * ppb) as f64 / (1.0 + op)).round() as usize;
    let mut g = Greedy::new(blocks, ppb, logical, reserve, idle);
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
        let bare = greedy_wa_with(op, 0, 0, 1);
        println!(
            "greedy reference at OP {op}: WA {got:.3}, {bare:.3} with no reserve (the issue: {want})"
        );
        // Measured: 7.85, 4.24, 2.49 (with no reserve 7.41, 4.13, 2.44).
        assert!(
            (got / want - 1.0).abs() < 0.02,
            "OP {op}: {got:.3}, the issue says {want}"
        );
        assert!(
            (bare / want - 1.0).abs() < 0.05 && bare < got,
            "OP {op}: {bare:.3} with no reserve, the issue says {want}"
        );
    }
}

#[test]
fn greedy_never_exceeds_the_fifo_bound() {
    // At the same utilisation: with every block in use (no reserve), and
    // with the reserve's block out of α.
    for op in [0.07, 0.1, 0.14, 0.2, 0.28, 0.5] {
        for reserve in [0, RESERVE] {
            let greedy = greedy_wa_with(op, reserve, 0, 2);
            let alpha = (1.0 + op) * (256 - reserve) as f64 / 256.0;
            let fifo = fifo_wa(alpha);
            println!("OP {op}, reserve {reserve}: greedy {greedy:.3}, FIFO bound {fifo:.3}");
            assert!(
                greedy <= fifo,
                "OP {op}, reserve {reserve}: greedy {greedy:.3} > FIFO {fifo:.3}"
            );
        }
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
        let wa = greedy_wa_with(0.07, RESERVE, idle, 1);
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
/// metadata-only: the same WA as with data) against this reference: within
/// the issue's 5 % (measured 1.030, 1.024, 1.011 × the reference; against
/// the no-reserve variant 1.09, 1.05, 1.03). ftl-sim's default stripe is a
/// unit per die; with superblocks (`--stripe superblocks`), 256 units of
/// 16 blocks, each unit the FTL holds idle is 1/256 of the flash, and the
/// ratios are 1.34, 1.16, 1.07: pinned here with a little room, so a change
/// that makes either worse fails, and one that closes the gap shows.
#[test]
fn zcftl_against_the_reference() {
    for (op, superblocks_max) in [(0.07, 1.37), (0.14, 1.18), (0.28, 1.09)] {
        let reference = greedy_wa(op, 1);
        let bare = greedy_wa_with(op, 0, 0, 1);
        for (stripe, max) in [(None, 1.05), (Some("superblocks"), superblocks_max)] {
            let op_arg = op.to_string();
            let mut args = vec![
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
                "--metadata-only",
                "--json",
            ];
            if let Some(s) = stripe {
                args.extend(["--stripe", s]);
            }
            let out = cli::ftl_sim(&args);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let wa = r["write_amplification"].as_f64().unwrap();
            let eff = r["op"]["effective_pct"].as_f64().unwrap();
            assert!((eff - op * 100.0).abs() < 0.01, "OP {eff} %");
            let used = r["ftl"]["stripe"].as_str().unwrap().to_string();
            assert_eq!(used, stripe.unwrap_or("dies"), "ftl-sim's default stripe");
            let ratio = wa / reference;
            println!(
                "OP {op}: zcftl ({used}) WA {wa:.3}, reference {reference:.3}: {ratio:.3} × \
                 ({:.3} × the no-reserve {bare:.3}; the issue's goal: 1.05)",
                wa / bare
            );
            assert!(ratio <= max, "OP {op} {used}: {ratio:.3} × the reference");
            assert!(ratio >= 0.95, "OP {op} {used}: below greedy? {wa:.3}");
        }
    }
}
