//! Write amplification counts every page the FTL programs: the FTL's own
//! count must equal the simulator's program counter, page for page, over a
//! workload that garbage-collects, wear-levels, checkpoints and logs trims —
//! and with program failures injected, whose spent pages count too.

use ftl_core::{Ftl, FtlConfig, Geometry, Lba, SlotPool};
use simulator::{SimNand, SimOptions};
use zcftl_tests::crash::sector;
use zcftl_tests::rng::Rng;

/// Runs the workload; returns (FTL stats, simulator programs, simulator
/// erases) counted from format on.
fn run(seed: u64, opts: SimOptions) -> (ftl_core::Stats, u64, u64) {
    let geo = Geometry::small(48, 16);
    let cfg = FtlConfig {
        handles: 4,
        max_io_sectors: 8,
        // Frequent checkpoints and a tight wear bound: the meta stream and
        // wear leveling both run many times.
        checkpoint_interval_pages: 40,
        wear_leveling_bound: 3,
        over_provisioning_percent: 15,
        ..FtlConfig::default()
    };
    let nand = SimNand::new_ram(geo, opts).expect("simulator");
    let pool = SlotPool::with_capacity(cfg.min_slots(&geo) + 64, 4096);
    let mut ftl = Ftl::format(nand, pool, cfg).expect("format");
    let n = ftl.logical_sectors();
    let mut rng = Rng(seed);
    // Hot and cold: a quarter of the LBAs take most writes, so GC and
    // static wear leveling both move data.
    for step in 0..6 * n {
        let lba = if rng.below(4) == 0 {
            rng.below(n)
        } else {
            rng.below(n / 4)
        };
        match rng.below(40) {
            0 => ftl.trim(Lba(lba), (rng.below(8) as u32 + 1).min((n - lba) as u32)),
            1 => ftl.flush(),
            _ => ftl.write(Lba(lba), &sector(lba, step as u32 + 1)),
        }
        .unwrap_or_else(|e| panic!("seed {seed}, step {step}: {e}"));
    }
    ftl.flush().expect("flush");
    ftl.check_integrity().expect("integrity");
    let sim = ftl.nand().stats();
    (ftl.stats(), sim.programs, sim.erases)
}

fn assert_honest(seed: u64, opts: SimOptions) -> ftl_core::Stats {
    let (st, programs, erases) = run(seed, opts);
    let spp = 4;
    println!(
        "seed {seed}: host {} sectors, NAND {} pages ({} meta), WA {:.3} (meta {:.3}), \
         {} GC runs, {} wear-level moves, {} checkpoints, {} trim records, {} program failures",
        st.host_sectors_written,
        st.nand_pages_programmed,
        st.meta_sectors_written / spp,
        st.write_amplification(),
        st.meta_write_amplification(),
        st.gc_runs,
        st.wear_level_moves,
        st.checkpoints,
        st.trim_records,
        st.program_failures
    );
    assert!(
        st.gc_runs > 0 && st.wear_level_moves > 0,
        "GC and wear leveling ran"
    );
    assert!(
        st.checkpoints > 1 && st.trim_records > 0,
        "the meta stream ran"
    );
    assert!(st.padded_pages > 0, "flushes padded pages");
    assert_eq!(
        st.nand_pages_programmed, programs,
        "pages: FTL vs simulator"
    );
    assert_eq!(
        st.nand_sectors_written,
        programs * spp,
        "sectors: FTL vs simulator"
    );
    assert_eq!(
        st.erases + st.erase_failures,
        erases,
        "erases: FTL vs simulator"
    );
    assert!(st.meta_sectors_written > 0 && st.meta_sectors_written < st.nand_sectors_written);
    st
}

#[test]
fn wa_counts_every_page_the_simulator_programmed() {
    assert_honest(1, SimOptions::default());
}

#[test]
fn failed_programs_count_as_programmed_pages() {
    let opts = SimOptions {
        program_fail_ppm: 1000,
        erase_fail_ppm: 1000,
        ..SimOptions::with_seed(7)
    };
    let st = assert_honest(2, opts);
    assert!(st.program_failures > 0, "faults were injected");
}
