//! The NAND rules on perfect media: each violation is refused once with the
//! right error, counted, and changes nothing.

mod common;

use common::*;
use ftl_core::{BlockIdx, Nand, NandErrorKind, ReadStatus};
use simulator::{FactoryBadBlocks, PageState, SimOptions, SimStats};

#[test]
fn erased_pages_read_all_ff_data_and_spare() {
    let mut n = ram(SimOptions::default());
    let (d, o) = read(&mut n, ppa(3, 5)).unwrap();
    assert!(d.iter().all(|&b| b == 0xFF));
    assert!(o.iter().all(|&b| b == 0xFF));
    assert_eq!(n.page_state(ppa(3, 5)), Some(PageState::Erased));
}

#[test]
fn program_read_round_trip_with_a_four_buffer_scatter_list() {
    let mut n = ram(SimOptions::default());
    let page = pattern(7, 2048);
    let oob = pattern(8, 64);
    let bufs: Vec<&[u8]> = page.chunks(512).collect();
    assert_eq!(bufs.len(), 4);
    n.program_page(ppa(1, 0), &bufs, &oob).unwrap();

    let (mut a, mut b, mut c, mut d) = ([0u8; 512], [0u8; 512], [0u8; 512], [0u8; 512]);
    let mut o = [0u8; 64];
    let st = n
        .read_page(ppa(1, 0), &mut [&mut a, &mut b, &mut c, &mut d], &mut o)
        .unwrap();
    assert_eq!(st, ReadStatus::default());
    let back: Vec<u8> = [a, b, c, d].concat();
    assert_eq!(back, page);
    assert_eq!(&o[..], &oob[..]);

    // Uneven buffers work too, as long as they add up to a page.
    let (mut x, mut y) = (vec![0u8; 100], vec![0u8; 1948]);
    n.read_page(ppa(1, 0), &mut [&mut x, &mut y], &mut [])
        .unwrap();
    assert_eq!([x, y].concat(), page);
}

#[test]
fn empty_data_list_reads_only_the_spare_area_and_short_oob_is_padded() {
    let mut n = ram(SimOptions::default());
    let page = pattern(1, 2048);
    program(&mut n, ppa(0, 0), &page, &[1, 2, 3]).unwrap();
    let mut o = [0u8; 64];
    let before = n.stats();
    n.read_page(ppa(0, 0), &mut [], &mut o).unwrap();
    assert_eq!(&o[..3], &[1, 2, 3]);
    assert!(
        o[3..].iter().all(|&b| b == 0xFF),
        "short oob must be padded with 0xFF"
    );
    let d = n.stats().since(&before);
    assert_eq!(d.reads, 1);
    assert_eq!(d.bytes_read, 64);
    // A prefix of the spare area.
    let mut o2 = [0u8; 2];
    n.read_page(ppa(0, 0), &mut [], &mut o2).unwrap();
    assert_eq!(o2, [1, 2]);
}

/// Asserts the call failed with `want`, exactly one violation was counted,
/// and nothing reached the medium.
macro_rules! refused {
    ($n:ident, $call:expr, $want:expr) => {{
        let before = $n.stats();
        let r = $call;
        assert_eq!(kind(r), $want, "{}", stringify!($call));
        let d = $n.stats().since(&before);
        assert_eq!(
            d,
            SimStats {
                violations: 1,
                ..SimStats::default()
            },
            "{}",
            stringify!($call)
        );
    }};
}

#[test]
fn every_rule_violation_is_an_error_and_counted() {
    let opts = SimOptions {
        factory_bad_blocks: FactoryBadBlocks::List(vec![BlockIdx(9)]),
        ..SimOptions::default()
    };
    let mut n = ram(opts);
    let page = pattern(0, 2048);
    program(&mut n, ppa(2, 0), &page, &[]).unwrap();
    program(&mut n, ppa(2, 1), &page, &[]).unwrap();

    // Second program of a page.
    refused!(
        n,
        program(&mut n, ppa(2, 1), &page, &[]),
        NandErrorKind::ProgramOrder
    );
    // Skipping ahead within a block.
    refused!(
        n,
        program(&mut n, ppa(2, 3), &page, &[]),
        NandErrorKind::ProgramOrder
    );
    // Going back to a lower page (already programmed).
    refused!(
        n,
        program(&mut n, ppa(2, 0), &page, &[]),
        NandErrorKind::ProgramOrder
    );
    // Starting a fresh block anywhere but page 0.
    refused!(
        n,
        program(&mut n, ppa(4, 1), &page, &[]),
        NandErrorKind::ProgramOrder
    );

    // Bad block: read, program, erase.
    refused!(n, read(&mut n, ppa(9, 0)), NandErrorKind::BadBlock);
    refused!(
        n,
        program(&mut n, ppa(9, 0), &page, &[]),
        NandErrorKind::BadBlock
    );
    refused!(n, n_erase(&mut n, 9), NandErrorKind::BadBlock);

    // Out of range: block, page, buffer sizes, spare size.
    refused!(n, read(&mut n, ppa(16, 0)), NandErrorKind::OutOfBounds);
    refused!(n, read(&mut n, ppa(0, 8)), NandErrorKind::OutOfBounds);
    refused!(
        n,
        program(&mut n, ppa(2, 2), &page[..2047], &[]),
        NandErrorKind::OutOfBounds
    );
    refused!(
        n,
        program(&mut n, ppa(2, 2), &page, &[0; 65]),
        NandErrorKind::OutOfBounds
    );
    let mut short = [0u8; 1000];
    refused!(
        n,
        n.read_page(ppa(2, 0), &mut [&mut short], &mut []),
        NandErrorKind::OutOfBounds
    );
    refused!(n, n_erase(&mut n, 16), NandErrorKind::OutOfBounds);
    refused!(n, n.is_bad_block(BlockIdx(16)), NandErrorKind::OutOfBounds);
    refused!(
        n,
        n.mark_bad_block(BlockIdx(99)),
        NandErrorKind::OutOfBounds
    );

    // None of that disturbed the block: the next page is still page 2.
    program(&mut n, ppa(2, 2), &page, &[]).unwrap();
    assert_eq!(n.stats().violations, 15);
}

fn n_erase(n: &mut simulator::SimNand, b: u32) -> Result<(), simulator::SimError> {
    n.erase_block(BlockIdx(b))
}

#[test]
fn erase_resets_the_block_and_counts_pe_cycles() {
    let mut n = ram(SimOptions::default());
    let page = pattern(3, 2048);
    for p in 0..8 {
        program(&mut n, ppa(5, p), &page, &[p as u8]).unwrap();
    }
    assert_eq!(n.erase_count(BlockIdx(5)), Some(0));
    let before = n.stats();
    n.erase_block(BlockIdx(5)).unwrap();
    n.erase_block(BlockIdx(5)).unwrap();
    assert_eq!(n.erase_count(BlockIdx(5)), Some(2));
    assert_eq!(n.erase_count(BlockIdx(4)), Some(0));
    assert_eq!(n.erase_count(BlockIdx(16)), None);
    assert_eq!(n.stats().since(&before).erases, 2);
    let (d, o) = read(&mut n, ppa(5, 7)).unwrap();
    assert!(d.iter().chain(&o).all(|&b| b == 0xFF));
    // And it programs from page 0 again.
    program(&mut n, ppa(5, 0), &page, &[]).unwrap();
    assert_eq!(read(&mut n, ppa(5, 0)).unwrap().0, page);
}

#[test]
fn mark_bad_retires_a_block() {
    let mut n = ram(SimOptions::default());
    assert!(!n.is_bad_block(BlockIdx(6)).unwrap());
    n.mark_bad_block(BlockIdx(6)).unwrap();
    assert!(n.is_bad_block(BlockIdx(6)).unwrap());
    assert_eq!(kind(n.erase_block(BlockIdx(6))), NandErrorKind::BadBlock);
    // Marking twice is harmless.
    n.mark_bad_block(BlockIdx(6)).unwrap();
    assert_eq!(n.stats().marks_bad, 2);
}

#[test]
fn stats_count_exact_operations_and_bytes() {
    let mut n = ram(SimOptions::default());
    let page = pattern(9, 2048);
    let s0 = n.stats();
    program(&mut n, ppa(0, 0), &page, &[0; 10]).unwrap();
    program(&mut n, ppa(0, 1), &page, &[]).unwrap();
    read(&mut n, ppa(0, 0)).unwrap();
    n.erase_block(BlockIdx(0)).unwrap();
    let d = n.stats().since(&s0);
    assert_eq!(
        d,
        SimStats {
            programs: 2,
            reads: 1,
            erases: 1,
            bytes_programmed: 2048 + 10 + 2048,
            bytes_read: 2048 + 64,
            ..SimStats::default()
        }
    );
    assert_eq!(n.ops_done(), 3);
}

#[test]
fn sync_on_ram_is_a_no_op_that_succeeds() {
    let mut n = ram(SimOptions::default());
    n.sync().unwrap();
}

#[test]
fn bad_options_and_geometry_are_refused_by_the_constructor() {
    let bad = SimOptions {
        program_fail_ppm: 2_000_000,
        ..SimOptions::default()
    };
    let e = simulator::SimNand::new_ram(geo(), bad).unwrap_err();
    assert!(matches!(e, simulator::ImageError::Options(_)), "{e}");
    let g = ftl_core::Geometry {
        pages_per_block: 0,
        ..geo()
    };
    let e = simulator::SimNand::new_ram(g, SimOptions::default()).unwrap_err();
    assert!(matches!(e, simulator::ImageError::Geometry(_)), "{e}");
}
