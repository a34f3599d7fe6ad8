//! Power cuts: op n+1 is torn, every later call is `PowerLoss`, the report
//! says where, and after `power_restore` (or a reopen of the image) the
//! medium is exactly what the cut left.

mod common;

use common::*;
use ftl_core::{BlockIdx, Nand, NandErrorKind};
use simulator::{CutReport, OpKind, PageState, PageTear, SimNand, SimOptions, Target, Tear};

#[test]
fn the_operation_after_n_is_torn_and_everything_after_is_power_loss() {
    let seed = 3;
    let mut n = ram(SimOptions::with_seed(seed));
    let page = pattern(1, 2048);
    n.power_cut_after(2);
    program(&mut n, ppa(0, 0), &page, &[]).unwrap();
    // Refused calls are not numbered: this one does not use up the budget.
    assert_eq!(
        kind(program(&mut n, ppa(0, 5), &page, &[])),
        NandErrorKind::ProgramOrder
    );
    // Reads are not numbered either.
    read(&mut n, ppa(0, 0)).unwrap();
    program(&mut n, ppa(0, 1), &page, &[]).unwrap();
    assert_eq!(n.ops_done(), 2);
    assert!(!n.power_lost());

    assert_eq!(
        kind(program(&mut n, ppa(0, 2), &page, &[])),
        NandErrorKind::PowerLoss
    );
    assert!(n.power_lost());
    let cut = n.last_cut().expect("a cut report");
    assert_eq!(cut.op_index, 3);
    assert_eq!(cut.op, OpKind::Program);
    assert_eq!(cut.target, Target::Page(ppa(0, 2)));
    assert!(matches!(cut.tear, Tear::Program(_)));
    assert_eq!(n.ops_done(), 2, "the torn op did not complete");

    let before = n.stats();
    assert_eq!(kind(read(&mut n, ppa(0, 0))), NandErrorKind::PowerLoss);
    assert_eq!(kind(n.erase_block(BlockIdx(1))), NandErrorKind::PowerLoss);
    assert_eq!(kind(n.is_bad_block(BlockIdx(1))), NandErrorKind::PowerLoss);
    assert_eq!(
        kind(n.mark_bad_block(BlockIdx(1))),
        NandErrorKind::PowerLoss
    );
    assert_eq!(kind(n.sync()), NandErrorKind::PowerLoss);
    let d = n.stats().since(&before);
    assert_eq!(
        (d.rejected_power_loss, d.reads, d.erases, d.violations),
        (5, 0, 0, 0)
    );

    n.power_restore();
    assert!(!n.power_lost());
    assert_eq!(
        read(&mut n, ppa(0, 1)).unwrap().0,
        page,
        "completed ops persist"
    );
    assert_eq!(n.page_state(ppa(0, 2)), Some(PageState::Torn));
    // A torn page cannot be programmed until its block is erased...
    assert_eq!(
        kind(program(&mut n, ppa(0, 2), &page, &[])),
        NandErrorKind::ProgramOrder
    );
    // ...but the block goes on above it, and an erase makes it whole.
    program(&mut n, ppa(0, 3), &page, &[]).unwrap();
    n.erase_block(BlockIdx(0)).unwrap();
    program(&mut n, ppa(0, 0), &page, &[]).unwrap();
}

/// Cuts power during the first program of a fresh array with `seed`.
fn torn_program(seed: u64, page: &[u8]) -> (SimNand, CutReport) {
    let mut n = ram(SimOptions::with_seed(seed));
    n.power_cut_after(0);
    assert_eq!(
        kind(program(&mut n, ppa(1, 0), page, &[0x11; 64])),
        NandErrorKind::PowerLoss
    );
    let cut = n.last_cut().unwrap();
    n.power_restore();
    (n, cut)
}

#[test]
fn a_torn_page_never_reads_back_as_the_intended_data_unless_it_stayed_erased() {
    let mut seen = [false; 3];
    for seed in 0..60 {
        for page in [pattern(seed as u32, 2048), vec![0xFF; 2048], vec![0; 2048]] {
            let (mut n, cut) = torn_program(seed, &page);
            let (d, o) = read(&mut n, ppa(1, 0)).unwrap();
            match cut.tear {
                Tear::Program(PageTear::Erased) => {
                    seen[0] = true;
                    assert!(d.iter().chain(&o).all(|&b| b == 0xFF), "seed={seed}");
                }
                Tear::Program(t) => {
                    seen[if t == PageTear::Partial { 1 } else { 2 }] = true;
                    assert!(
                        d != page || o != [0x11; 64],
                        "seed={seed}: {t:?} read back intact"
                    );
                }
                other => panic!("seed={seed}: {other:?}"),
            }
            assert_eq!(
                n.page_state(ppa(1, 0)),
                Some(PageState::Torn),
                "seed={seed}"
            );
        }
    }
    assert_eq!(seen, [true; 3], "every kind of tear occurs over 60 seeds");
}

#[test]
fn torn_outcomes_are_reproducible_per_seed() {
    let page = pattern(9, 2048);
    for seed in [1, 2, 3, 1000] {
        let (mut a, ca) = torn_program(seed, &page);
        let (mut b, cb) = torn_program(seed, &page);
        assert_eq!(ca, cb, "seed={seed}");
        assert_eq!(
            read(&mut a, ppa(1, 0)).unwrap(),
            read(&mut b, ppa(1, 0)).unwrap()
        );
    }
}

#[test]
fn an_interrupted_erase_leaves_the_block_indeterminate() {
    let seed = 12;
    let mut n = ram(SimOptions::with_seed(seed));
    let page = pattern(2, 2048);
    for p in 0..8 {
        program(&mut n, ppa(4, p), &page, &[]).unwrap();
    }
    n.power_cut_after(0);
    assert_eq!(kind(n.erase_block(BlockIdx(4))), NandErrorKind::PowerLoss);
    let cut = n.last_cut().unwrap();
    assert_eq!(
        (cut.op, cut.target, cut.op_index),
        (OpKind::Erase, Target::Block(BlockIdx(4)), 9)
    );
    let Tear::Erase { erased, garbage } = cut.tear else {
        panic!("seed={seed}: {cut:?}")
    };
    assert_eq!(erased + garbage, 8);
    assert!(
        erased > 0 && garbage > 0,
        "seed={seed}: want a mixed block, got {cut:?}"
    );
    n.power_restore();
    assert_eq!(
        n.erase_count(BlockIdx(4)),
        Some(0),
        "an interrupted erase is not a P/E cycle"
    );
    let mut torn = 0;
    for p in 0..8 {
        let (d, _) = read(&mut n, ppa(4, p)).unwrap();
        match n.page_state(ppa(4, p)).unwrap() {
            PageState::Erased => assert!(d.iter().all(|&b| b == 0xFF)),
            PageState::Torn => {
                torn += 1;
                assert_ne!(d, page, "seed={seed}: half-erased page {p} reads intact");
            }
            PageState::Programmed => panic!("seed={seed}: page {p} still programmed"),
        }
    }
    assert_eq!(torn, garbage);
    // Even an erased page of that block refuses a program until erased.
    let first_erased = (0..8).find(|&p| n.page_state(ppa(4, p)) == Some(PageState::Erased));
    let p = first_erased.unwrap();
    assert_eq!(
        kind(program(&mut n, ppa(4, p), &page, &[])),
        NandErrorKind::ProgramOrder
    );
    n.erase_block(BlockIdx(4)).unwrap();
    program(&mut n, ppa(4, 0), &page, &[]).unwrap();
}

#[test]
fn an_interrupted_bad_block_mark_lands_or_not() {
    let mut outcomes = [false; 2];
    for seed in 0..20 {
        let mut n = ram(SimOptions::with_seed(seed));
        n.power_cut_after(0);
        assert_eq!(
            kind(n.mark_bad_block(BlockIdx(5))),
            NandErrorKind::PowerLoss
        );
        let Tear::MarkBad { landed } = n.last_cut().unwrap().tear else {
            panic!()
        };
        n.power_restore();
        assert_eq!(n.is_bad_block(BlockIdx(5)).unwrap(), landed, "seed={seed}");
        outcomes[usize::from(landed)] = true;
    }
    assert_eq!(outcomes, [true, true]);
}

/// The crash-test loop a recovery test runs: for every k, replay a fixed
/// workload with a cut after k operations, restore, and check that every
/// page programmed by a completed op reads back exactly.
#[test]
fn cutting_at_every_k_keeps_every_completed_operation() {
    let seed = 21;
    let total_ops = 40u64;
    for k in 0..=total_ops {
        let mut n = ram(SimOptions::with_seed(seed));
        n.power_cut_after(k);
        let mut done: Vec<(u32, u32)> = Vec::new();
        let mut cut_at = None;
        'work: for i in 0..total_ops {
            let (b, p) = ((i / 8) as u32, (i % 8) as u32);
            let r = program(&mut n, ppa(b, p), &pattern(i as u32, 2048), &[]);
            match r {
                Ok(()) => done.push((b, p)),
                Err(e) => {
                    assert_eq!(ftl_core::NandError::kind(&e), NandErrorKind::PowerLoss);
                    cut_at = Some(i);
                    break 'work;
                }
            }
        }
        assert_eq!(done.len() as u64, k.min(total_ops), "seed={seed} k={k}");
        assert_eq!(cut_at.is_some(), k < total_ops, "seed={seed} k={k}");
        if let Some(i) = cut_at {
            assert_eq!(n.last_cut().unwrap().op_index, i + 1, "seed={seed} k={k}");
        }
        n.power_restore();
        for &(b, p) in &done {
            let i = b * 8 + p;
            assert_eq!(
                read(&mut n, ppa(b, p)).unwrap().0,
                pattern(i, 2048),
                "seed={seed} k={k}"
            );
        }
    }
}

#[test]
fn a_cut_file_image_reopens_with_the_torn_page_still_torn() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nand.img");
    let page = pattern(6, 2048);
    {
        let mut n = SimNand::create_image(&path, geo(), SimOptions::with_seed(8)).unwrap();
        program(&mut n, ppa(0, 0), &page, &[]).unwrap();
        n.sync().unwrap();
        n.power_cut_after(0);
        assert_eq!(
            kind(program(&mut n, ppa(0, 1), &page, &[])),
            NandErrorKind::PowerLoss
        );
        // Dropped without restore: the "machine" is rebooted by reopening.
    }
    let mut n = SimNand::open_image(&path, SimOptions::default()).unwrap();
    assert!(!n.power_lost());
    assert_eq!(read(&mut n, ppa(0, 0)).unwrap().0, page);
    assert_eq!(n.page_state(ppa(0, 1)), Some(PageState::Torn));
    assert_eq!(
        kind(program(&mut n, ppa(0, 1), &page, &[])),
        NandErrorKind::ProgramOrder
    );
    program(&mut n, ppa(0, 2), &page, &[]).unwrap();
}
