//! Acceptance stress: uniform random 4 KiB writes of 4× the logical capacity
//! on the NAND simulator. Every sector must read back its last value, write
//! amplification is reported, and erase counts stay within the
//! wear-leveling bound. A second run adds factory bad blocks and program /
//! erase failures.

use ftl_core::{Ftl, FtlConfig, GcPolicy, Geometry, Lba, SlotPool};
use simulator::{FactoryBadBlocks, SimNand, SimOptions};
// Sector contents naming (LBA, version); version 0 is zeros.
use zcftl_tests::crash::sector;
use zcftl_tests::rng::Rng;

struct Outcome {
    wa: f64,
    spread: u32,
    stats: ftl_core::Stats,
}

fn run(seed: u64, opts: SimOptions, policy: GcPolicy, bound: u32, op: u8) -> Outcome {
    let geo = Geometry::small(64, 32);
    let cfg = FtlConfig {
        handles: 8,
        max_io_sectors: 8,
        gc_policy: policy,
        wear_leveling_bound: bound,
        over_provisioning_percent: op,
        ..FtlConfig::default()
    };
    let nand = SimNand::new_ram(geo, opts).expect("simulator");
    let pool = SlotPool::with_capacity(cfg.min_slots(&geo) + 256, 4096);
    let mut ftl = Ftl::format(nand, pool, cfg).expect("format");
    let n = ftl.logical_sectors();
    let mut version = vec![0u32; n as usize];
    let mut rng = Rng(seed);
    for _ in 0..4 * n {
        let lba = rng.below(n);
        version[lba as usize] += 1;
        let v = version[lba as usize];
        if let Err(e) = ftl.write(Lba(lba), &sector(lba, v)) {
            panic!("seed {seed}: write {lba}: {e}; {:?}", ftl.stats());
        }
    }
    ftl.flush().expect("flush");
    ftl.check_integrity()
        .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    let mut buf = vec![0u8; 4096];
    for lba in 0..n {
        ftl.read(Lba(lba), &mut buf)
            .unwrap_or_else(|e| panic!("seed {seed}: read {lba}: {e}"));
        let v = version[lba as usize];
        assert!(
            buf == sector(lba, v),
            "seed {seed}: lba {lba} does not hold version {v}"
        );
    }
    let stats = ftl.stats();
    // The simulator's own erase counters agree with the FTL's view.
    let nand = ftl.nand();
    for (b, count) in ftl.erase_counts() {
        if let Some(sim) = nand.erase_count(b) {
            if nand.block_is_bad(b) != Some(true) {
                assert_eq!(sim, count, "seed {seed}: erase count of {b}");
            }
        }
    }
    Outcome {
        wa: stats.write_amplification(),
        spread: stats.erase_count_max - stats.erase_count_min,
        stats,
    }
}

#[test]
fn four_times_capacity_random_writes_read_back() {
    let bound = 8;
    for (seed, policy) in [(1, GcPolicy::Greedy), (2, GcPolicy::CostBenefit)] {
        let o = run(seed, SimOptions::with_seed(seed), policy, bound, 12);
        println!(
            "seed {seed} {policy:?}: WA {:.3} (meta {:.3}), erase counts {}..{} (mean {:.1}), \
             GC runs {}, moved {}, wear-level moves {}",
            o.wa,
            o.stats.meta_write_amplification(),
            o.stats.erase_count_min,
            o.stats.erase_count_max,
            o.stats.erase_count_mean,
            o.stats.gc_runs,
            o.stats.gc_moved_sectors,
            o.stats.wear_level_moves
        );
        assert!(o.wa >= 1.0, "seed {seed}: WA {} below 1", o.wa);
        assert!(o.stats.gc_runs > 0, "seed {seed}: GC never ran");
        assert!(
            o.spread <= bound,
            "seed {seed}: erase spread {} exceeds bound {bound}",
            o.spread
        );
    }
}

#[test]
fn random_writes_survive_bad_blocks_and_failures() {
    let seed = 7;
    let opts = SimOptions {
        // Rates well above real NAND's, yet leaving the spare blocks enough
        // to absorb the retirements (at 2000 ppm a third of the array would
        // retire and the device is rightly full).
        factory_bad_blocks: FactoryBadBlocks::Count(3),
        program_fail_ppm: 150,
        erase_fail_ppm: 2_000,
        ..SimOptions::with_seed(seed)
    };
    // 25 % over-provisioning: room for the blocks these faults retire.
    let o = run(seed, opts, GcPolicy::Greedy, 8, 25);
    println!(
        "faults seed {seed}: WA {:.3} (meta {:.3}), program failures {}, erase failures {}, \
         bad blocks {}",
        o.wa,
        o.stats.meta_write_amplification(),
        o.stats.program_failures,
        o.stats.erase_failures,
        o.stats.bad_blocks
    );
    assert!(o.stats.bad_blocks >= 3, "factory bad blocks not seen");
    assert!(
        o.stats.program_failures + o.stats.erase_failures > 0,
        "no failure was injected: the test proves nothing"
    );
}

#[test]
fn static_wear_leveling_moves_cold_data() {
    // Fill the device once (cold data), then hammer 5% of it: without
    // static wear leveling the cold blocks would never be erased again.
    let geo = Geometry::small(32, 16);
    let bound = 4;
    let cfg = FtlConfig {
        wear_leveling_bound: bound,
        over_provisioning_percent: 20,
        ..FtlConfig::default()
    };
    let nand = SimNand::new_ram(geo, SimOptions::with_seed(11)).expect("simulator");
    let pool = SlotPool::with_capacity(cfg.min_slots(&geo) + 64, 4096);
    let mut ftl = Ftl::format(nand, pool, cfg).expect("format");
    let n = ftl.logical_sectors();
    for lba in 0..n {
        ftl.write(Lba(lba), &sector(lba, 1)).unwrap();
    }
    let hot = n / 20;
    let mut rng = Rng(11);
    let mut version = vec![1u32; n as usize];
    for _ in 0..30 * n {
        let lba = rng.below(hot);
        version[lba as usize] += 1;
        ftl.write(Lba(lba), &sector(lba, version[lba as usize]))
            .unwrap();
    }
    ftl.flush().unwrap();
    let st = ftl.stats();
    println!(
        "hot/cold: erase counts {}..{} (mean {:.1}), wear-level moves {} ({} sectors), \
         WA {:.3} (meta {:.3})",
        st.erase_count_min,
        st.erase_count_max,
        st.erase_count_mean,
        st.wear_level_moves,
        st.wear_level_moved_sectors,
        st.write_amplification(),
        st.meta_write_amplification()
    );
    assert!(st.wear_level_moves > 0, "static wear leveling never ran");
    assert!(
        st.erase_count_max - st.erase_count_min <= bound + 1,
        "spread {} exceeds bound {bound} (+1 while a migration is under way)",
        st.erase_count_max - st.erase_count_min
    );
    let mut buf = vec![0u8; 4096];
    for lba in 0..n {
        ftl.read(Lba(lba), &mut buf).unwrap();
        assert!(buf == sector(lba, version[lba as usize]), "lba {lba}");
    }
    ftl.check_integrity().unwrap();
}

#[test]
fn faults_with_tiny_translation_pages_survive_a_remount() {
    // Program and erase failures land in translation pages, summaries and
    // checkpoints too; after a flush and a power cut (no checkpoint), the
    // mount rebuilds the map from the translation pages and the replay
    // from the horizon, and every sector reads its last value.
    let geo = Geometry::small(64, 32);
    let cfg = FtlConfig {
        handles: 8,
        max_io_sectors: 8,
        over_provisioning_percent: 25,
        translation_entries: 64,
        translation_write_permille: 1000,
        ..FtlConfig::default()
    };
    let opts = SimOptions {
        factory_bad_blocks: FactoryBadBlocks::Count(3),
        program_fail_ppm: 500,
        erase_fail_ppm: 2_000,
        ..SimOptions::with_seed(5)
    };
    let nand = SimNand::new_ram(geo, opts).expect("simulator");
    let pool = SlotPool::with_capacity(cfg.min_slots(&geo) + 256, 4096);
    let mut ftl = Ftl::format(nand, pool, cfg).expect("format");
    let n = ftl.logical_sectors();
    let mut version = vec![0u32; n as usize];
    let mut rng = Rng(5);
    for i in 0..4 * n {
        let lba = rng.below(n);
        if i % 97 == 0 {
            ftl.trim(Lba(lba), 1).expect("trim");
            version[lba as usize] = 0;
            continue;
        }
        version[lba as usize] += 1;
        if let Err(e) = ftl.write(Lba(lba), &sector(lba, version[lba as usize])) {
            panic!("write {i} of {}: {e}; {:?}", 4 * n, ftl.stats());
        }
    }
    ftl.flush().expect("flush");
    let st = ftl.stats();
    println!(
        "tiny translation pages with faults: {} translation pages written, {} checkpoints, \
         program failures {}, erase failures {}",
        st.translation_pages_written, st.checkpoints, st.program_failures, st.erase_failures
    );
    assert!(st.program_failures >= 2 && st.translation_pages_written > 100);
    let (nand, pool) = ftl.into_parts();
    let mut ftl = Ftl::open(nand, pool, cfg).expect("mount");
    ftl.check_integrity().expect("integrity");
    assert!(ftl.stats().mount_pages_replayed > 0, "nothing replayed");
    let mut buf = vec![0u8; 4096];
    for lba in 0..n {
        ftl.read(Lba(lba), &mut buf).expect("read");
        let v = version[lba as usize];
        assert!(buf == sector(lba, v), "lba {lba} does not hold version {v}");
    }
}
