//! The timing model against its analytic bounds, and its invariants under
//! arbitrary operation sequences.
//!
//! - A sequential program stream striped over every die (a multi-plane
//!   program of all planes per die) reaches within 10 % of
//!   min(channels × channel bandwidth, dies × planes × page size / tPROG).
//! - 4 KiB random single-plane reads with 64 in flight reach within 10 %
//!   of min(dies × planes / tR, channels × bandwidth / 4 KiB).
//! - Any sequence: every completion is at least its operation's minimum
//!   after its submission, and no channel or plane is ever booked twice at
//!   once.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use ftl_core::{BlockIdx, Geometry, Ppa};
use proptest::prelude::*;
use simulator::timing::{Completion, TimedOp, Timeline, TimingConfig};

/// (channels, dies per channel) of the three bound geometries.
const SHAPES: [(u16, u16); 3] = [(1, 1), (4, 2), (8, 4)];

fn geometry(channels: u16, dies_per_channel: u16, planes_per_die: u16) -> Geometry {
    Geometry {
        channels,
        dies_per_channel,
        planes_per_die,
        blocks_per_plane: 64,
        pages_per_block: 256,
        ..Geometry::default() // 16 KiB pages, 128 spare bytes
    }
}

/// The first block of (flat die, plane).
fn block_of(geo: &Geometry, die: u32, plane: u32) -> u32 {
    (die * u32::from(geo.planes_per_die) + plane) * geo.blocks_per_plane
}

fn dies(geo: &Geometry) -> u32 {
    u32::from(geo.channels) * u32::from(geo.dies_per_channel)
}

/// Writes `rounds` pages per plane: round r programs page r of block 0 of
/// every plane, one multi-plane program per die, dies in order, all
/// submitted at 0 (a write buffer that is already full). Returns bytes/s.
fn sequential_program_bytes_per_s(geo: Geometry, cfg: TimingConfig, rounds: u32) -> f64 {
    let mut t = Timeline::new(geo, cfg).unwrap();
    let mut done = 0;
    for page in 0..rounds {
        for die in 0..dies(&geo) {
            let pages: Vec<Ppa> = (0..u32::from(geo.planes_per_die))
                .map(|p| Ppa::new(BlockIdx(block_of(&geo, die, p)), page))
                .collect();
            done = done.max(t.program(0, &pages).unwrap().done_ns);
        }
    }
    assert_eq!(t.stats().last_done_ns, done);
    let bytes = u64::from(rounds) * u64::from(dies(&geo)) * u64::from(geo.planes_per_die);
    (bytes * u64::from(geo.page_size)) as f64 * 1e9 / done as f64
}

fn program_bound_bytes_per_s(geo: &Geometry, cfg: &TimingConfig) -> f64 {
    let channels = f64::from(geo.channels) * cfg.channel_bytes_per_s as f64;
    let arrays = f64::from(dies(geo)) * f64::from(geo.planes_per_die) * f64::from(geo.page_size)
        / (cfg.t_prog_ns as f64 / 1e9);
    channels.min(arrays)
}

/// SplitMix64: a seeded stream for the workload, nothing to do with the
/// model (which draws nothing).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u32) -> u32 {
        (self.next() % u64::from(n)) as u32
    }
}

/// A closed loop of 4 KiB single-plane reads at uniformly random pages:
/// `depth` in flight, each next read issued at the completion time of the
/// earliest outstanding one. Returns reads/s over `ops` reads.
fn random_read_iops(geo: Geometry, cfg: TimingConfig, depth: usize, ops: usize, seed: u64) -> f64 {
    let mut t = Timeline::new(geo, cfg).unwrap();
    let mut rng = Rng(seed);
    let mut in_flight = BinaryHeap::new();
    let mut last = 0;
    for i in 0..ops {
        let at = if i < depth {
            0
        } else {
            let Reverse(done) = in_flight.pop().unwrap();
            done
        };
        let block = rng.below(geo.total_blocks());
        let page = rng.below(geo.pages_per_block);
        let c = t
            .read(at, &[Ppa::new(BlockIdx(block), page)], 4096)
            .unwrap();
        last = last.max(c.done_ns);
        in_flight.push(Reverse(c.done_ns));
    }
    ops as f64 * 1e9 / last as f64
}

/// min(units / tR, channels × bandwidth / 4 KiB), units from [`read_units`].
fn read_bound_iops(geo: &Geometry, cfg: &TimingConfig, units: u32) -> f64 {
    let arrays = f64::from(units) / (cfg.t_read_ns as f64 / 1e9);
    let channels = f64::from(geo.channels) * cfg.channel_bytes_per_s as f64 / 4096.0;
    arrays.min(channels)
}

fn assert_within_10_percent(what: &str, got: f64, bound: f64) {
    let ratio = got / bound;
    println!("{what}: {got:.0} of {bound:.0} ({:.1} %)", ratio * 100.0);
    assert!(ratio <= 1.0 + 1e-9, "{what}: {got} beats the bound {bound}");
    assert!(ratio >= 0.9, "{what}: {got} is under 90 % of {bound}");
}

#[test]
fn sequential_programs_reach_the_array_bound() {
    // With MQSim's timing every shape here is array-bound: 750 µs per
    // page per plane is slower than any channel's 333 MB/s share.
    let cfg = TimingConfig::default();
    for (c, d) in SHAPES {
        let geo = geometry(c, d, 2);
        let got = sequential_program_bytes_per_s(geo, cfg, 32);
        let bound = program_bound_bytes_per_s(&geo, &cfg);
        assert!(bound < f64::from(c) * cfg.channel_bytes_per_s as f64);
        assert_within_10_percent(&format!("program {c}x{d}x2"), got, bound);
    }
}

#[test]
fn sequential_programs_reach_the_channel_bound() {
    // tPROG 20 µs: now the channels are the bottleneck, which is where
    // cache program (data in during the previous tPROG) matters.
    let cfg = TimingConfig {
        t_prog_ns: 20_000,
        ..TimingConfig::default()
    };
    for (c, d) in SHAPES {
        let geo = geometry(c, d, 2);
        let got = sequential_program_bytes_per_s(geo, cfg, 32);
        let bound = program_bound_bytes_per_s(&geo, &cfg);
        assert_eq!(bound, f64::from(c) * cfg.channel_bytes_per_s as f64);
        assert_within_10_percent(&format!("fast program {c}x{d}x2"), got, bound);
    }
}

/// Parallel array units a single-plane read can keep busy.
fn read_units(geo: &Geometry, cfg: &TimingConfig) -> u32 {
    let planes = if cfg.independent_plane_reads {
        u32::from(geo.planes_per_die)
    } else {
        1
    };
    dies(geo) * planes
}

#[test]
fn random_reads_at_qd64_reach_the_read_bound() {
    // Where 64 reads in flight are at least 8 per array unit (or the
    // channels bind first with few units), the bound is reached.
    let cfg = TimingConfig::default();
    for (c, d, planes) in [(1, 1, 1), (1, 1, 2), (1, 1, 4), (4, 2, 1)] {
        let geo = geometry(c, d, planes);
        let got = random_read_iops(geo, cfg, 64, 20_000, 7);
        let bound = read_bound_iops(&geo, &cfg, read_units(&geo, &cfg));
        assert_within_10_percent(&format!("read qd64 {c}x{d}x{planes}"), got, bound);
    }
    let die_wide = TimingConfig {
        independent_plane_reads: false,
        ..cfg
    };
    for (c, d) in [(1, 1), (4, 2)] {
        let geo = geometry(c, d, 2);
        let got = random_read_iops(geo, die_wide, 64, 20_000, 11);
        let bound = read_bound_iops(&geo, &die_wide, read_units(&geo, &die_wide));
        assert_within_10_percent(&format!("die-wide read qd64 {c}x{d}x2"), got, bound);
    }
}

#[test]
fn random_reads_at_qd64_on_wide_arrays_fall_short_as_queueing_predicts() {
    // 64 reads spread uniformly over K units leave some units idle while
    // others queue: a closed network of K exponential servers with N
    // customers reaches N / (N + K − 1) of its capacity (67 % for K = 32).
    // Fixed service times do better, so that fraction is a floor here.
    // No model with one read per unit at a time reaches 90 % on these
    // shapes at QD 64; `random_reads_reach_the_bound_with_deep_queues`
    // shows the same arrays reaching it.
    let cfg = TimingConfig::default();
    for (c, d, planes) in [(4, 2, 2), (8, 4, 1), (8, 4, 2), (8, 4, 4)] {
        let geo = geometry(c, d, planes);
        let k = f64::from(read_units(&geo, &cfg));
        let got = random_read_iops(geo, cfg, 64, 20_000, 7);
        let bound = read_bound_iops(&geo, &cfg, read_units(&geo, &cfg));
        let floor = 64.0 / (64.0 + k - 1.0);
        println!(
            "read qd64 {c}x{d}x{planes}: {:.1} % of the bound, queueing floor {:.1} %",
            got / bound * 100.0,
            floor * 100.0
        );
        assert!(got <= bound && got >= floor * bound);
    }
}

#[test]
fn random_reads_reach_the_bound_with_deep_queues() {
    // Array-bound shapes, 8 reads in flight per unit.
    let cfg = TimingConfig::default();
    for (c, d, planes) in [(4, 2, 2), (8, 4, 1)] {
        let geo = geometry(c, d, planes);
        let depth = 8 * read_units(&geo, &cfg) as usize;
        let got = random_read_iops(geo, cfg, depth, 40_000, 7);
        let bound = read_bound_iops(&geo, &cfg, read_units(&geo, &cfg));
        assert_within_10_percent(&format!("read qd{depth} {c}x{d}x{planes}"), got, bound);
    }
    let die_wide = TimingConfig {
        independent_plane_reads: false,
        ..cfg
    };
    let geo = geometry(8, 4, 2);
    let got = random_read_iops(geo, die_wide, 256, 40_000, 11);
    let bound = read_bound_iops(&geo, &die_wide, read_units(&geo, &die_wide));
    assert_within_10_percent("die-wide read qd256 8x4x2", got, bound);
}

#[test]
fn channel_bound_random_reads_reach_the_channel_bound() {
    // Channel-bound shapes reach 93-95 % of the channel bound: a read's
    // data out is booked when it is submitted, first-fit, and may pause
    // once so that a gap shorter than the whole transfer is not left idle
    // (see the module docs of `timing`; 82-90 % before the pause). The
    // floor holds them to the 10 %.
    let cfg = TimingConfig::default();
    for (c, d, planes) in [(4, 2, 4), (8, 4, 2), (8, 4, 4)] {
        let geo = geometry(c, d, planes);
        let depth = 8 * read_units(&geo, &cfg) as usize;
        let got = random_read_iops(geo, cfg, depth, 40_000, 7);
        let bound = read_bound_iops(&geo, &cfg, read_units(&geo, &cfg));
        let ratio = got / bound;
        println!(
            "read qd{depth} {c}x{d}x{planes}: {:.1} % of the channel bound",
            ratio * 100.0
        );
        assert!((0.9..=1.0).contains(&ratio), "{c}x{d}x{planes}: {ratio}");
    }
}

/// One operation of a generated sequence.
#[derive(Clone, Debug)]
struct Op {
    kind: u8,
    die: u32,
    /// Bit i: plane i takes part (at least one is forced).
    planes: u8,
    page: u32,
    bytes: u32,
    gap_ns: u64,
}

fn op() -> impl Strategy<Value = Op> {
    (
        0u8..3,
        0u32..8,
        1u8..16,
        0u32..4,
        0u32..=16_512,
        0u64..200_000,
    )
        .prop_map(|(kind, die, planes, page, bytes, gap_ns)| Op {
            kind,
            die,
            planes,
            page,
            bytes,
            gap_ns,
        })
}

fn config() -> impl Strategy<Value = TimingConfig> {
    (
        1u64..200_000,
        1u64..2_000_000,
        1u64..5_000_000,
        1_000_000u64..2_000_000_000,
        0u64..1_000,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(r, p, e, rate, ovh, cache, indep)| TimingConfig {
            t_read_ns: r,
            t_prog_ns: p,
            t_erase_ns: e,
            channel_bytes_per_s: rate,
            command_overhead_ns: ovh,
            cache_register: cache,
            independent_plane_reads: indep,
        })
}

fn assert_disjoint(what: &str, mut spans: Vec<(u64, u64)>) {
    spans.retain(|&(s, e)| e > s);
    spans.sort_unstable();
    for w in spans.windows(2) {
        assert!(w[0].1 <= w[1].0, "{what}: {:?} overlaps {:?}", w[0], w[1]);
    }
}

proptest! {
    #[test]
    fn completions_respect_minimums_and_resources_never_overlap(
        cfg in config(),
        ops in prop::collection::vec(op(), 1..120),
    ) {
        // 2 channels × 2 dies × 4 planes, 4 KiB pages, 64 spare bytes.
        let geo = Geometry {
            channels: 2,
            dies_per_channel: 2,
            planes_per_die: 4,
            blocks_per_plane: 4,
            pages_per_block: 4,
            page_size: 16_384,
            sector_size: 4096,
            oob_size: 128,
        };
        let mut t = Timeline::new(geo, cfg).unwrap();
        let page_bytes = u64::from(geo.page_size + geo.oob_size);
        let mut at = 0;
        let mut done: Vec<(Completion, Vec<u32>)> = Vec::new();
        for op in &ops {
            at += op.gap_ns;
            let die = op.die % dies(&geo);
            let planes: Vec<u32> = (0..4).filter(|p| op.planes & (1 << p) != 0).collect();
            let blocks: Vec<BlockIdx> = planes
                .iter()
                .map(|&p| BlockIdx(block_of(&geo, die, p) + op.page % geo.blocks_per_plane))
                .collect();
            let pages: Vec<Ppa> = blocks.iter().map(|&b| Ppa::new(b, op.page)).collect();
            let n = planes.len() as u64;
            let ovh = cfg.command_overhead_ns;
            let (c, min) = match op.kind {
                0 => (
                    t.read(at, &pages, op.bytes).unwrap(),
                    cfg.t_read_ns + ovh + cfg.transfer_ns(u64::from(op.bytes) * n),
                ),
                1 => (
                    t.program(at, &pages).unwrap(),
                    ovh + cfg.transfer_ns(page_bytes * n) + cfg.t_prog_ns,
                ),
                _ => (t.erase(at, &blocks).unwrap(), ovh + cfg.t_erase_ns),
            };
            prop_assert_eq!(c.submit_ns, at);
            prop_assert!(c.done_ns >= at + min, "{:?} finished before its minimum {}", c, min);
            prop_assert_eq!(c.planes as usize, planes.len());
            prop_assert_eq!(c.die, die);
            prop_assert_eq!(c.done_ns, match c.op {
                TimedOp::Read => c.bus_out.end_ns,
                TimedOp::Program | TimedOp::Erase => c.array.end_ns,
            });
            done.push((c, planes));
        }

        // Each channel carries one thing at a time, and its busy time is the
        // sum of what it carried.
        for ch in 0..geo.channels {
            let spans: Vec<(u64, u64)> = done
                .iter()
                .filter(|(c, _)| c.channel == ch)
                .flat_map(|(c, _)| [c.bus_in, c.bus_out])
                .map(|s| (s.start_ns, s.end_ns))
                .collect();
            let busy: u64 = spans.iter().map(|(s, e)| e - s).sum();
            prop_assert_eq!(busy, t.stats().channel_busy_ns[usize::from(ch)]);
            assert_disjoint(&format!("channel {ch}"), spans);
        }
        // Each plane's array is held by one operation at a time.
        for die in 0..dies(&geo) {
            for plane in 0..4u32 {
                let spans: Vec<(u64, u64)> = done
                    .iter()
                    .filter(|(c, ps)| c.die == die && (c.die_wide || ps.contains(&plane)))
                    .map(|(c, _)| (c.held.start_ns, c.held.end_ns))
                    .collect();
                let busy: u64 = spans.iter().map(|(s, e)| e - s).sum();
                let flat = (die * 4 + plane) as usize;
                prop_assert_eq!(busy, t.stats().plane_busy_ns[flat]);
                assert_disjoint(&format!("die {die} plane {plane}"), spans);
            }
        }
    }
}
