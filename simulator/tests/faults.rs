//! The seeded fault model through the `Nand` trait: factory bad blocks,
//! wear-out, program/erase failure rates, and bit errors with ECC and read
//! retry. Every test names its seed in its failure messages.

mod common;

use common::*;
use ftl_core::{BlockIdx, Nand, NandErrorKind};
use simulator::{FactoryBadBlocks, PageState, SimNand, SimOptions};

fn bad_blocks(n: &mut SimNand) -> Vec<u32> {
    (0..16)
        .filter(|&b| n.is_bad_block(BlockIdx(b)).unwrap())
        .collect()
}

#[test]
fn factory_bad_blocks_are_deterministic_per_seed() {
    let mk = |seed| {
        ram(SimOptions {
            seed,
            factory_bad_blocks: FactoryBadBlocks::Count(3),
            ..Default::default()
        })
    };
    let a = bad_blocks(&mut mk(1));
    assert_eq!(a.len(), 3, "seed=1");
    assert!(!a.contains(&0), "block 0 is guaranteed good");
    assert_eq!(a, bad_blocks(&mut mk(1)), "seed=1 must reproduce");
    let differs = (2..20).any(|s| bad_blocks(&mut mk(s)) != a);
    assert!(differs, "the seed must choose the blocks");
    // An explicit list is taken as is.
    let mut n = ram(SimOptions {
        factory_bad_blocks: FactoryBadBlocks::List(vec![BlockIdx(0), BlockIdx(15)]),
        ..Default::default()
    });
    assert_eq!(bad_blocks(&mut n), vec![0, 15]);
}

#[test]
fn pe_endurance_wears_a_block_out() {
    let mut n = ram(SimOptions {
        pe_endurance: Some(3),
        ..Default::default()
    });
    let page = pattern(1, 2048);
    for _ in 0..3 {
        program(&mut n, ppa(2, 0), &page, &[]).unwrap();
        n.erase_block(BlockIdx(2)).unwrap();
    }
    assert_eq!(n.erase_count(BlockIdx(2)), Some(3));
    program(&mut n, ppa(2, 0), &page, &[]).unwrap();
    let e = n.erase_block(BlockIdx(2)).unwrap_err();
    assert_eq!(ftl_core::NandError::kind(&e), NandErrorKind::EraseFailed);
    assert!(e.to_string().contains("worn out"), "{e}");
    assert_eq!(
        kind(n.erase_block(BlockIdx(2))),
        NandErrorKind::EraseFailed,
        "stays worn out"
    );
    assert_eq!(n.erase_count(BlockIdx(2)), Some(3));
    // The failed erase left the data but the block refuses programs.
    assert_eq!(read(&mut n, ppa(2, 0)).unwrap().0, page);
    let v = n.stats().violations;
    assert_eq!(
        kind(program(&mut n, ppa(2, 1), &page, &[])),
        NandErrorKind::ProgramOrder
    );
    assert_eq!(n.stats().violations, v + 1);
    // Other blocks are unaffected.
    n.erase_block(BlockIdx(3)).unwrap();
    assert_eq!(n.stats().erase_failures, 2);
}

/// Fills blocks round-robin with `ops` programs, erasing a block before
/// reusing it; returns the sequence of (op index, outcome kind) failures.
fn workload(
    seed: u64,
    program_ppm: u32,
    erase_ppm: u32,
    ops: u32,
) -> (Vec<(u32, String)>, u64, u64) {
    let mut n = ram(SimOptions {
        seed,
        program_fail_ppm: program_ppm,
        erase_fail_ppm: erase_ppm,
        ..Default::default()
    });
    let page = pattern(seed as u32, 2048);
    let mut failures = Vec::new();
    let (mut block, mut next) = (0u32, 0u32);
    for i in 0..ops {
        if next == 8 {
            block = (block + 1) % 16;
            next = 0;
            // Retry a failed erase until it succeeds, as an FTL would
            // (random failures only; no wear-out configured).
            while let Err(e) = n.erase_block(BlockIdx(block)) {
                failures.push((i, format!("erase {block}: {e}")));
            }
        }
        if let Err(e) = program(&mut n, ppa(block, next), &page, &[]) {
            assert_eq!(
                ftl_core::NandError::kind(&e),
                NandErrorKind::ProgramFailed,
                "seed={seed}"
            );
            assert_eq!(
                n.page_state(ppa(block, next)),
                Some(PageState::Torn),
                "seed={seed}"
            );
            failures.push((i, format!("program {block}/{next}")));
        }
        next += 1;
    }
    let s = n.stats();
    assert_eq!(s.violations, 0, "seed={seed}: the workload itself is legal");
    (failures, s.program_failures, s.erase_failures)
}

#[test]
fn failure_probabilities_are_honoured_and_reproducible() {
    let seed = 0x5EED;
    let ops = 20_000;
    // 2 % of programs, 5 % of erases (2,500 erases → ~125).
    let (f1, pf, ef) = workload(seed, 20_000, 50_000, ops);
    let expected_pf = f64::from(ops) * 0.02;
    assert!(
        (pf as f64 - expected_pf).abs() < expected_pf * 0.25,
        "seed={seed}: {pf} program failures, expected ~{expected_pf}"
    );
    assert!(
        (80..=180).contains(&ef),
        "seed={seed}: {ef} erase failures, expected ~125"
    );
    let (f2, _, _) = workload(seed, 20_000, 50_000, ops);
    assert_eq!(f1, f2, "seed={seed}: same seed, same failures");
    let (f3, _, _) = workload(seed + 1, 20_000, 50_000, ops);
    assert_ne!(f1, f3, "seed={}: another seed, other failures", seed + 1);
    // Zero rates: no failures at all.
    let (none, _, _) = workload(seed, 0, 0, 2_000);
    assert!(none.is_empty());
}

fn bit_error_sim(seed: u64, max: u32, ecc: u32, retries: u32) -> SimNand {
    let mut n = ram(SimOptions {
        seed,
        max_bit_errors_per_read: max,
        ecc_correctable_bits: ecc,
        read_retries: retries,
        ..Default::default()
    });
    program(&mut n, ppa(0, 0), &pattern(4, 2048), &[9; 64]).unwrap();
    n
}

#[test]
fn bit_errors_within_ecc_are_corrected_and_data_is_intact() {
    let seed = 77;
    let mut n = bit_error_sim(seed, 6, 6, 0);
    let mut corrected = 0;
    for _ in 0..300 {
        let mut d = vec![0u8; 2048];
        let mut o = vec![0u8; 64];
        let st = n.read_page(ppa(0, 0), &mut [&mut d], &mut o).unwrap();
        assert!(
            st.corrected_bits <= 6 && st.retries == 0,
            "seed={seed}: {st:?}"
        );
        assert_eq!(d, pattern(4, 2048), "seed={seed}");
        assert_eq!(o, vec![9; 64], "seed={seed}");
        corrected += u32::from(st.corrected_bits > 0);
    }
    assert!(
        corrected > 200,
        "seed={seed}: only {corrected} reads saw bit errors"
    );
    assert_eq!(n.stats().corrected_reads, u64::from(corrected));
    // Erased pages are exempt: exactly 0xFF, no correction reported.
    let mut d = vec![0u8; 2048];
    let st = n.read_page(ppa(0, 1), &mut [&mut d], &mut []).unwrap();
    assert_eq!(st.corrected_bits, 0);
    assert!(d.iter().all(|&b| b == 0xFF));
}

#[test]
fn bit_errors_beyond_ecc_are_retried() {
    let seed = 78;
    // At most 10 errors, ECC 4, each retry removes ≥ 1: 6 retries suffice.
    let mut n = bit_error_sim(seed, 10, 4, 6);
    for _ in 0..300 {
        let (d, _) = read(&mut n, ppa(0, 0)).unwrap_or_else(|e| panic!("seed={seed}: {e}"));
        assert_eq!(d, pattern(4, 2048), "seed={seed}");
    }
    let s = n.stats();
    assert!(
        s.read_retries > 100,
        "seed={seed}: {} retry steps",
        s.read_retries
    );
    assert_eq!(s.uncorrectable_reads, 0, "seed={seed}");
}

#[test]
fn too_many_bit_errors_are_uncorrectable_and_the_data_is_visibly_wrong() {
    let seed = 79;
    let mut n = bit_error_sim(seed, 40, 2, 1);
    let (mut bad, mut good) = (0, 0);
    for _ in 0..300 {
        let mut d = vec![0u8; 2048];
        match n.read_page(ppa(0, 0), &mut [&mut d], &mut []) {
            Ok(st) => {
                good += 1;
                assert!(st.corrected_bits <= 2, "seed={seed}: {st:?}");
                assert_eq!(d, pattern(4, 2048), "seed={seed}");
            }
            Err(e) => {
                bad += 1;
                assert_eq!(ftl_core::NandError::kind(&e), NandErrorKind::Uncorrectable);
                assert_ne!(
                    d,
                    pattern(4, 2048),
                    "seed={seed}: uncorrectable data must differ"
                );
            }
        }
    }
    assert!(
        bad > 240 && good > 0,
        "seed={seed}: {bad} uncorrectable, {good} good"
    );
    assert_eq!(n.stats().uncorrectable_reads, bad);
}

#[test]
fn bit_errors_are_reproducible_per_seed() {
    let run = |seed| {
        let mut n = bit_error_sim(seed, 12, 4, 3);
        (0..100)
            .map(|_| {
                let mut d = vec![0u8; 2048];
                n.read_page(ppa(0, 0), &mut [&mut d], &mut [])
                    .map_err(|e| e.to_string())
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(run(5), run(5), "seed=5");
    assert_ne!(run(5), run(6), "seeds 5 and 6");
}
