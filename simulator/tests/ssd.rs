//! The simulated SSD (`simulator::ssd`) driven in simulated time
//! (`simulator::replay`): the two MQSim trace fixtures replayed with every
//! sector checked, replays that repeat exactly, the write-back cache's
//! back-pressure, and a read's latency against the timing it was given.

use std::path::PathBuf;

use ftl_core::{FtlConfig, Geometry};
use simulator::replay::{replay, Pace};
use simulator::ssd::{Ssd, SsdConfig, SsdError, Stripe};
use simulator::timing::TimingConfig;
use simulator::workload::{
    open, FoldedSource, Folder, Generator, GeneratorConfig, Op, Pattern, Request, RequestSource,
    TraceFormat,
};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/traces")
        .join(name)
}

/// 2 channels × 2 dies, 64 blocks of 64 × 16 KiB pages each die: 256 MiB.
fn config(verify: bool) -> SsdConfig {
    SsdConfig {
        geometry: Geometry {
            channels: 2,
            dies_per_channel: 2,
            blocks_per_plane: 64,
            pages_per_block: 64,
            ..Geometry::default()
        },
        ftl: FtlConfig {
            over_provisioning_percent: 12,
            ..FtlConfig::default()
        },
        timing: TimingConfig::default(),
        cache_bytes: 4 << 20,
        seed: 1,
        image: None,
        verify,
        metadata_only: false,
        stripe: Stripe::Superblocks,
    }
}

/// Every sector of the device read back (checked against the last version
/// written, with `verify`).
fn read_everything(ssd: &mut Ssd, at: u64) {
    let chunk = 256 * 1024;
    let mut off = 0;
    while off < ssd.logical_bytes() {
        let len = chunk.min(ssd.logical_bytes() - off);
        let r = Request {
            arrival_ns: 0,
            op: Op::Read,
            offset_bytes: off,
            len_bytes: len,
        };
        ssd.submit(&r, at).expect("every sector reads back");
        off += len;
    }
}

/// A trace fixture folded onto the device, closed loop at QD 8.
fn replay_fixture(name: &str) -> (Ssd, u64, Vec<(u64, u64)>) {
    let mut ssd = Ssd::new(&config(true)).unwrap();
    let folder = Folder::new(ssd.logical_bytes(), 512).unwrap();
    let trace = open(TraceFormat::DiskSim, fixture(name)).unwrap();
    let mut src = FoldedSource::new(trace, folder);
    let mut times = Vec::new();
    let out = replay(
        &mut ssd,
        &mut src,
        Pace::Closed { qd: 8 },
        None,
        |_, s, d| times.push((s, d)),
    )
    .unwrap();
    (ssd, out.requests, times)
}

#[test]
fn the_trace_fixtures_replay_and_every_sector_reads_back() {
    // tpcc's writes are 512-byte aligned, not 4 KiB: read-modify-writes.
    for (name, at_least, rmw) in [
        ("tpcc-small.trace", 6_999, true),
        ("wsrch-small.trace", 24_783, false),
    ] {
        let (mut ssd, requests, times) = replay_fixture(name);
        // Folding splits a request crossing the device's end in two.
        assert!(requests >= at_least, "{name}: {requests} requests");
        let c = ssd.counters();
        assert_eq!(c.requests.iter().sum::<u64>(), requests);
        assert_eq!(
            c.rmw_reads > 0,
            rmw,
            "{name}: {} read-modify-writes",
            c.rmw_reads
        );
        assert!(times.iter().all(|&(s, d)| d >= s));
        let end = times.iter().map(|&(_, d)| d).max().unwrap();
        read_everything(&mut ssd, end);
        ssd.ftl().check_integrity().unwrap();
    }
}

#[test]
fn a_replay_repeats_exactly() {
    let (a, na, ta) = replay_fixture("tpcc-small.trace");
    let (b, nb, tb) = replay_fixture("tpcc-small.trace");
    assert_eq!(na, nb);
    assert!(ta == tb, "completion times differ between two runs");
    assert_eq!(a.nand_stats(), b.nand_stats());
    assert_eq!(a.counters(), b.counters());
    assert_eq!(a.timing_stats(), b.timing_stats());
}

#[test]
fn a_cold_read_takes_the_nand_read_and_a_hit_nothing() {
    let mut ssd = Ssd::new(&config(false)).unwrap();
    let t = TimingConfig::default();
    let w = Request {
        arrival_ns: 0,
        op: Op::Write,
        offset_bytes: 0,
        len_bytes: 16 * 1024,
    };
    ssd.submit(&w, 0).unwrap();
    let f = Request {
        op: Op::Flush,
        offset_bytes: 0,
        len_bytes: 0,
        ..w
    };
    let flushed = ssd.submit(&f, 0).unwrap();
    assert!(
        flushed >= t.t_prog_ns,
        "a flush waits for the page's program"
    );
    // Push the page out of the cache with other pages' reads.
    ssd.precondition(0.0, 1, t).unwrap();
    let r = Request {
        op: Op::Read,
        len_bytes: 4096,
        ..w
    };
    let at = 10_000_000_000;
    let done = ssd.submit(&r, at).unwrap();
    let page = u64::from(ssd.ftl().geometry().page_size);
    let floor = t.t_read_ns + t.transfer_ns(page);
    assert!(
        (floor..floor + 20_000).contains(&(done - at)),
        "cold read took {} ns, tR + transfer is {floor}",
        done - at
    );
    // The page is cached now: the same read costs nothing.
    let again = ssd.submit(&r, done).unwrap();
    assert_eq!(again, done);
}

#[test]
fn a_small_cache_makes_random_writes_wait() {
    let mut cfg = config(false);
    cfg.cache_bytes = 0; // the FTL's minimum
    let mut ssd = Ssd::new(&cfg).unwrap();
    ssd.precondition(0.5, 7, cfg.timing).unwrap();
    let mut gen = Generator::new(GeneratorConfig {
        device_bytes: ssd.logical_bytes(),
        block_sizes: "4K".parse().unwrap(),
        read_pct: 0,
        pattern: Pattern::Uniform,
        seed: 3,
    })
    .unwrap();
    let src: &mut dyn RequestSource = &mut gen;
    let out = replay(
        &mut ssd,
        src,
        Pace::Closed { qd: 32 },
        Some(20_000),
        |_, _, _| {},
    )
    .unwrap();
    let c = ssd.counters();
    assert_eq!(out.requests, 20_000);
    assert!(c.writes_stalled > 0, "no write waited for the cache");
    // Stalls come from programs in flight: at least a tPROG each, on average.
    assert!(c.stall_ns / c.writes_stalled > 0);
    assert!(ssd.ftl().stats().gc_runs > 0);
}

/// Metadata-only: the FTL decides nothing from host data, so a uniform
/// random mix with GC runs exactly as with data — the same write
/// amplification, GC, NAND and timing counters and completion times —
/// while the NAND stores none of it.
#[test]
fn metadata_only_runs_exactly_like_data() {
    let run = |metadata_only: bool| {
        let cfg = SsdConfig {
            metadata_only,
            ..config(false)
        };
        let mut ssd = Ssd::new(&cfg).unwrap();
        assert_eq!(ssd.sim().is_metadata_only(), metadata_only);
        assert_eq!(ssd.ftl().config().data_checksums, !metadata_only);
        ssd.precondition(1.0, 7, cfg.timing).unwrap();
        let mut gen = Generator::new(GeneratorConfig {
            device_bytes: ssd.logical_bytes(),
            block_sizes: "4K:80,16K:20".parse().unwrap(),
            read_pct: 30,
            pattern: Pattern::Uniform,
            seed: 3,
        })
        .unwrap();
        let mut times = Vec::new();
        let src: &mut dyn RequestSource = &mut gen;
        replay(
            &mut ssd,
            src,
            Pace::Closed { qd: 32 },
            Some(60_000),
            |_, s, d| times.push((s, d)),
        )
        .unwrap();
        let st = ssd.ftl().stats();
        assert!(st.gc_runs > 0 && st.gc_moved_sectors > 0, "{st:?}");
        let ftl = (
            st.host_sectors_written,
            st.nand_sectors_written,
            st.gc_runs,
            st.gc_moved_sectors,
            st.erases,
            st.cache_misses,
        );
        (
            ftl,
            ssd.nand_stats(),
            ssd.counters(),
            ssd.timing_stats().cloned(),
            ssd.erase_counts(),
            times,
        )
    };
    let (with_data, without) = (run(false), run(true));
    assert!(with_data.0 .1 > with_data.0 .0, "WA above 1");
    assert_eq!(with_data.0, without.0, "FTL counters");
    assert_eq!(with_data.1, without.1, "NAND counters");
    assert_eq!(with_data.2, without.2, "host counters");
    assert_eq!(with_data.3, without.3, "timing");
    assert_eq!(with_data.4, without.4, "erase counts");
    assert!(with_data.5 == without.5, "completion times differ");
}

#[test]
fn metadata_only_refuses_verify_and_an_image() {
    let cfg = SsdConfig {
        metadata_only: true,
        ..config(true)
    };
    assert!(matches!(Ssd::new(&cfg), Err(SsdError::Incompatible(_))));
    let cfg = SsdConfig {
        metadata_only: true,
        image: Some(std::env::temp_dir().join("never-created.img")),
        ..config(false)
    };
    assert!(matches!(Ssd::new(&cfg), Err(SsdError::Incompatible(_))));
}

/// An erase unit and an open block per die: preconditioned to GC, a mixed
/// random workload, then every sector reads back its last version, and
/// every die took programs and erases.
#[test]
fn a_lane_per_die_serves_and_reads_back_everything() {
    let cfg = SsdConfig {
        stripe: Stripe::Dies,
        ..config(true)
    };
    let mut ssd = Ssd::new(&cfg).unwrap();
    assert_eq!(ssd.ftl().config().lanes, 4);
    ssd.precondition(1.0, 3, cfg.timing).unwrap();
    let mut gen = Generator::new(GeneratorConfig {
        device_bytes: ssd.logical_bytes(),
        block_sizes: "4K:3,16K:1".parse().unwrap(),
        read_pct: 30,
        pattern: Pattern::Uniform,
        seed: 4,
    })
    .unwrap();
    let out = replay(
        &mut ssd,
        &mut gen,
        Pace::Closed { qd: 16 },
        Some(20_000),
        |_, _, _| {},
    )
    .unwrap();
    assert!(ssd.ftl().stats().gc_runs > 0);
    read_everything(&mut ssd, out.last_done_ns);
    ssd.ftl().check_integrity().unwrap();
    // Physical blocks are numbered die by die (64 blocks each): every die
    // erased some of its own beyond format's one erase each.
    let sim = ssd.ftl().nand().inner();
    for die in 0..4u32 {
        let erased = (die * 64..(die + 1) * 64)
            .filter_map(|b| sim.erase_count(ftl_core::BlockIdx(b)))
            .sum::<u32>();
        assert!(erased > 64, "die {die}: {erased} erases");
    }
}
