//! Power cuts at every NAND operation: the guarantees in
//! `zcftl_tests::crash` hold wherever the cut falls (torn programs and
//! erases included, during host writes, GC, wear leveling and flushes).

use proptest::prelude::*;
use zcftl_tests::crash::{run_case, CrashInput, CrashOp, MapSetup};

/// A deterministic workload: random writes of 1–4 sectors over the whole
/// device, a trim now and then, a flush every 16 steps.
fn workload(seed: u64, steps: usize) -> Vec<CrashOp> {
    let mut x = seed;
    let mut next = move || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        x >> 33
    };
    (0..steps)
        .map(|i| match (i % 16, next() % 20) {
            (15, _) => CrashOp::Flush,
            (_, 0) => CrashOp::Trim {
                lba: next(),
                sectors: 1 + (next() % 6) as u32,
            },
            _ => CrashOp::Write {
                lba: next(),
                sectors: 1 + (next() % 4) as u32,
            },
        })
        .collect()
}

#[test]
fn cut_at_every_nand_operation() {
    cut_at_every_operation_with(MapSetup::Whole);
}

#[test]
fn cut_at_every_nand_operation_tiny_translation_pages() {
    cut_at_every_operation_with(MapSetup::Sliced);
}

#[test]
fn cut_at_every_nand_operation_demand_paged_map() {
    cut_at_every_operation_with(MapSetup::Paged);
}

#[test]
fn cut_at_every_nand_operation_multi_die() {
    cut_at_every_operation_with(MapSetup::MultiDie);
}

#[test]
fn cut_at_every_nand_operation_a_lane_per_die() {
    cut_at_every_operation_with(MapSetup::Lanes);
}

#[test]
fn cut_at_every_nand_operation_one_data_stream() {
    cut_at_every_operation_with(MapSetup::OneStream);
}

fn cut_at_every_operation_with(map: MapSetup) {
    let ops = workload(42, 1500);
    let full = run_case(&CrashInput {
        seed: 42,
        ops: ops.clone(),
        cut_after: None,
        recovery_cut_after: None,
        map,
    })
    .unwrap_or_else(|e| panic!("uncut run: {e}"));
    let total = full.workload_nand_ops;
    let st = full.stats_at_cut;
    println!(
        "{map:?}: workload: {} steps, {total} mutating NAND ops, {} GC runs, {} wear-level moves, \
         {} erases, {} checkpoints, {} trim records, {} translation pages written, \
         {} summary pages written",
        ops.len(),
        st.gc_runs,
        st.wear_level_moves,
        st.erases,
        st.checkpoints,
        st.trim_records,
        st.translation_pages_written,
        st.summary_pages_written
    );
    assert!(total >= 2000, "workload too small: {total} NAND operations");
    assert!(
        st.summary_pages_written > 0,
        "the workload must write summaries"
    );
    assert!(
        st.gc_runs > 0 && st.erases > 0,
        "the workload must exercise GC"
    );
    if map == MapSetup::Paged {
        println!(
            "map cache: {} entries, {} hits, {} misses, {} pressure write-backs",
            st.map_cache_entries,
            st.map_cache_hits,
            st.map_cache_misses,
            st.map_pressure_write_backs
        );
        assert!(
            st.map_cache_entries > 0
                && st.map_cache_misses > st.map_cache_hits / 4
                && st.map_pressure_write_backs > 100,
            "the map must be demand-paged, missing and writing back often"
        );
    }
    let mut tried = 0u64;
    let mut torn = 0u64;
    let mut from_summaries = 0u64;
    let mut failures = Vec::new();
    for k in 0..total {
        let input = CrashInput {
            seed: 42 ^ k,
            ops: ops.clone(),
            cut_after: Some(k),
            recovery_cut_after: None,
            map,
        };
        match run_case(&input) {
            Ok(r) => {
                torn += u64::from(r.cut.is_some());
                from_summaries += u64::from(r.recovered_from_summaries > 0);
            }
            Err(e) => failures.push(format!("cut after op {k} (seed {}): {e}", 42 ^ k)),
        }
        tried += 1;
    }
    println!(
        "cut points tried: {tried} (every one of {total}); torn operations: {torn}; \
         recoveries that read blocks from summaries: {from_summaries}"
    );
    assert!(
        from_summaries > 0,
        "no recovery read a block from its summary"
    );
    assert!(
        failures.is_empty(),
        "{} of {tried} cut points failed; first: {}",
        failures.len(),
        failures[0]
    );
    assert_eq!(torn, total, "every cut point must have torn an operation");
}

#[test]
fn cut_during_recovery_at_every_operation() {
    cut_during_recovery_with(MapSetup::Whole);
}

#[test]
fn cut_during_recovery_at_every_operation_tiny_translation_pages() {
    cut_during_recovery_with(MapSetup::Sliced);
}

#[test]
fn cut_during_recovery_at_every_operation_demand_paged_map() {
    cut_during_recovery_with(MapSetup::Paged);
}

#[test]
fn cut_during_recovery_at_every_operation_multi_die() {
    cut_during_recovery_with(MapSetup::MultiDie);
}

#[test]
fn cut_during_recovery_at_every_operation_a_lane_per_die() {
    cut_during_recovery_with(MapSetup::Lanes);
}

#[test]
fn cut_during_recovery_at_every_operation_one_data_stream() {
    cut_during_recovery_with(MapSetup::OneStream);
}

fn cut_during_recovery_with(map: MapSetup) {
    // First cuts spread over the workload; for each, a second cut at every
    // mutating operation recovery makes (it writes a checkpoint).
    let ops = workload(7, 600);
    let base = CrashInput {
        seed: 7,
        ops,
        cut_after: None,
        recovery_cut_after: None,
        map,
    };
    let total = run_case(&base)
        .unwrap_or_else(|e| panic!("uncut run: {e}"))
        .workload_nand_ops;
    let mut tried = 0;
    for k in (0..total).step_by(37) {
        let first = CrashInput {
            cut_after: Some(k),
            ..base.clone()
        };
        let r = run_case(&first).unwrap_or_else(|e| panic!("cut after {k}: {e}"));
        assert!(r.recovery_nand_ops > 0, "recovery wrote nothing to cut");
        for j in 0..r.recovery_nand_ops {
            let input = CrashInput {
                recovery_cut_after: Some(j),
                ..first.clone()
            };
            let r2 = run_case(&input)
                .unwrap_or_else(|e| panic!("cut after {k}, recovery cut after {j}: {e}"));
            assert!(r2.recovery_cut, "cut after {k}, {j}: recovery was not cut");
            tried += 1;
        }
    }
    println!("{map:?}: recovery cut points tried: {tried}");
    assert!(tried > 0);
}

fn op() -> impl Strategy<Value = CrashOp> {
    prop_oneof![
        12 => (any::<u64>(), 1u32..=4).prop_map(|(lba, sectors)| CrashOp::Write { lba, sectors }),
        2 => (any::<u64>(), 1u32..=8).prop_map(|(lba, sectors)| CrashOp::Trim { lba, sectors }),
        2 => Just(CrashOp::Flush),
    ]
}

fn cases() -> u32 {
    std::env::var("CRASH_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        rng_seed: proptest::test_runner::RngSeed::Fixed(
            std::env::var("PROPTEST_RNG_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0xC0A5)
        ),
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_workloads_random_cuts(
        seed in any::<u64>(),
        ops in proptest::collection::vec(op(), 1..400),
        cut in 0u64..3000,
        recovery_cut in proptest::option::of(0u64..50),
        map in 0usize..6,
    ) {
        let map = [MapSetup::Whole, MapSetup::Sliced, MapSetup::Paged, MapSetup::MultiDie, MapSetup::Lanes, MapSetup::OneStream][map];
        let input = CrashInput { seed, ops, cut_after: Some(cut), recovery_cut_after: recovery_cut, map };
        if let Err(e) = run_case(&input) {
            return Err(TestCaseError::fail(format!("seed {seed}, cut {cut}: {e}")));
        }
    }
}
