//! Model-based test: random operations, legal and illegal, with power cuts,
//! checked after every step against a trivial model of NAND. The seed of a
//! failing run is printed; rerun one with `SIM_MODEL_SEED=<n>`.

mod common;

use std::path::Path;

use common::*;
use ftl_core::{BlockIdx, Nand, NandError, NandErrorKind, Ppa};
use simulator::{PageState, SimNand, SimOptions, Tear};

const BLOCKS: u32 = 16;
const PAGES: u32 = 8;

/// The test's own SplitMix64, so the workload does not depend on the
/// simulator's internals.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Page {
    Erased,
    Data(Vec<u8>, Vec<u8>),
    Torn,
}

#[derive(Clone, Debug)]
struct Block {
    pages: Vec<Page>,
    bad: bool,
    needs_erase: bool,
    erases: u32,
}

struct Model {
    blocks: Vec<Block>,
}

impl Model {
    fn new() -> Self {
        let b = Block {
            pages: vec![Page::Erased; PAGES as usize],
            bad: false,
            needs_erase: false,
            erases: 0,
        };
        Model {
            blocks: vec![b; BLOCKS as usize],
        }
    }

    fn next_page(&self, b: u32) -> u32 {
        let pages = &self.blocks[b as usize].pages;
        pages
            .iter()
            .rposition(|p| *p != Page::Erased)
            .map_or(0, |i| i as u32 + 1)
    }

    /// What the model says a program of `p` must do.
    fn program_verdict(&self, p: Ppa) -> Option<NandErrorKind> {
        let blk = &self.blocks[p.block.0 as usize];
        if blk.bad {
            Some(NandErrorKind::BadBlock)
        } else if blk.needs_erase
            || blk.pages[p.page as usize] != Page::Erased
            || p.page != self.next_page(p.block.0)
        {
            Some(NandErrorKind::ProgramOrder)
        } else {
            None
        }
    }
}

/// After a cut: restore power (RAM), or drop the simulator and reopen its
/// image (file) — a real reboot, which must find every state persisted.
/// Then arm the next cut.
fn reboot(n: &mut SimNand, image: Option<&Path>, seed: u64, rng: &mut Rng, violations: &mut u64) {
    match image {
        None => n.power_restore(),
        Some(path) => {
            let tiny = ftl_core::Geometry::small(16, 1);
            drop(std::mem::replace(
                n,
                SimNand::new_ram(tiny, SimOptions::default()).unwrap(),
            ));
            *n = SimNand::open_image(path, SimOptions::with_seed(seed)).unwrap();
            *violations = 0; // fresh counters
        }
    }
    n.power_cut_after(rng.below(60));
}

/// Runs `steps` random operations; returns the number of power cuts.
fn run(seed: u64, steps: u32, image: Option<&Path>) -> u64 {
    let mut rng = Rng(seed);
    let mut n = match image {
        None => SimNand::new_ram(geo(), SimOptions::with_seed(seed)).unwrap(),
        Some(path) => SimNand::create_image(path, geo(), SimOptions::with_seed(seed)).unwrap(),
    };
    let mut m = Model::new();
    let mut expected_violations = 0u64;
    let mut cuts = 0u64;
    // First cut somewhere in the first 60 mutating ops.
    n.power_cut_after(rng.below(60));
    for step in 0..steps {
        let ctx = format!("seed={seed} step={step}");
        let b = rng.below(u64::from(BLOCKS)) as u32;
        match rng.below(10) {
            // Program: mostly the right page, sometimes a wrong one.
            0..=4 => {
                let page = if rng.below(5) == 0 {
                    rng.below(u64::from(PAGES)) as u32
                } else {
                    m.next_page(b).min(PAGES - 1)
                };
                let p = Ppa::new(BlockIdx(b), page);
                let data = pattern(rng.next() as u32, 2048);
                let oob = pattern(rng.next() as u32, rng.below(65) as usize);
                let verdict = m.program_verdict(p);
                let r = program(&mut n, p, &data, &oob);
                match (verdict, r) {
                    (Some(k), Err(e)) => {
                        assert_eq!(e.kind(), k, "{ctx}: program {p}");
                        expected_violations += 1;
                    }
                    (None, Ok(())) => {
                        let mut full = oob.clone();
                        full.resize(64, 0xFF);
                        m.blocks[b as usize].pages[page as usize] = Page::Data(data, full);
                    }
                    (None, Err(e)) if e.kind() == NandErrorKind::PowerLoss => {
                        let cut = n.last_cut().unwrap();
                        assert!(matches!(cut.tear, Tear::Program(_)), "{ctx}");
                        m.blocks[b as usize].pages[page as usize] = Page::Torn;
                        cuts += 1;
                        reboot(&mut n, image, seed, &mut rng, &mut expected_violations);
                    }
                    (v, r) => panic!("{ctx}: program {p}: model {v:?}, sim {r:?}"),
                }
            }
            // Read any page and compare.
            5..=7 => {
                let p = Ppa::new(BlockIdx(b), rng.below(u64::from(PAGES)) as u32);
                let blk = &m.blocks[b as usize];
                let r = read(&mut n, p);
                if blk.bad {
                    assert_eq!(kind(r), NandErrorKind::BadBlock, "{ctx}");
                    expected_violations += 1;
                    continue;
                }
                let (d, o) = r.unwrap_or_else(|e| panic!("{ctx}: read {p}: {e}"));
                match &blk.pages[p.page as usize] {
                    Page::Erased => {
                        assert!(
                            d.iter().chain(&o).all(|&x| x == 0xFF),
                            "{ctx}: {p} not 0xFF"
                        );
                    }
                    Page::Data(wd, wo) => {
                        assert!(d == *wd && o == *wo, "{ctx}: {p} content differs");
                    }
                    Page::Torn => {} // anything goes
                }
            }
            // Erase.
            8 => {
                let r = n.erase_block(BlockIdx(b));
                let blk = &mut m.blocks[b as usize];
                match r {
                    Err(e) if blk.bad => {
                        assert_eq!(e.kind(), NandErrorKind::BadBlock, "{ctx}");
                        expected_violations += 1;
                    }
                    Ok(()) => {
                        assert!(!blk.bad, "{ctx}: erased a bad block");
                        blk.pages.fill(Page::Erased);
                        blk.needs_erase = false;
                        blk.erases += 1;
                    }
                    Err(e) if e.kind() == NandErrorKind::PowerLoss => {
                        let Some(Tear::Erase { .. }) = n.last_cut().map(|c| c.tear) else {
                            panic!("{ctx}: {:?}", n.last_cut());
                        };
                        for (i, pg) in blk.pages.iter_mut().enumerate() {
                            let ppa = Ppa::new(BlockIdx(b), i as u32);
                            *pg = match n.page_state(ppa) {
                                Some(PageState::Erased) => Page::Erased,
                                _ => Page::Torn,
                            };
                        }
                        blk.needs_erase = true;
                        cuts += 1;
                        reboot(&mut n, image, seed, &mut rng, &mut expected_violations);
                    }
                    Err(e) => panic!("{ctx}: erase {b}: {e}"),
                }
            }
            // Rarely, retire a block; keep most of the array usable so the
            // workload does not decay into bad-block refusals.
            _ => {
                let bad = m.blocks.iter().filter(|blk| blk.bad).count();
                if bad >= 4 || rng.below(8) != 0 {
                    continue;
                }
                match n.mark_bad_block(BlockIdx(b)) {
                    Ok(()) => m.blocks[b as usize].bad = true,
                    Err(e) if e.kind() == NandErrorKind::PowerLoss => {
                        let Some(Tear::MarkBad { landed }) = n.last_cut().map(|c| c.tear) else {
                            panic!("{ctx}: {:?}", n.last_cut());
                        };
                        m.blocks[b as usize].bad |= landed;
                        cuts += 1;
                        reboot(&mut n, image, seed, &mut rng, &mut expected_violations);
                    }
                    Err(e) => panic!("{ctx}: mark bad {b}: {e}"),
                }
            }
        }
        for (i, blk) in m.blocks.iter().enumerate() {
            assert_eq!(
                n.erase_count(BlockIdx(i as u32)),
                Some(blk.erases),
                "{ctx}: block {i}"
            );
        }
        assert_eq!(n.stats().violations, expected_violations, "{ctx}");
    }
    cuts
}

#[test]
fn simulator_matches_the_model_under_random_ops_and_power_cuts() {
    let seeds: Vec<u64> = match std::env::var("SIM_MODEL_SEED") {
        Ok(s) => vec![s.parse().expect("SIM_MODEL_SEED is a u64")],
        Err(_) => (1..=20).collect(),
    };
    for seed in seeds {
        let r = std::panic::catch_unwind(|| run(seed, 3_000, None));
        if !r.is_ok_and(|cuts| cuts >= 20) {
            panic!("model test failed or saw too few cuts; reproduce with SIM_MODEL_SEED={seed}");
        }
    }
}

#[test]
fn file_image_matches_the_model_across_cuts_and_reopens() {
    let seeds: Vec<u64> = match std::env::var("SIM_MODEL_SEED") {
        Ok(s) => vec![s.parse().expect("SIM_MODEL_SEED is a u64")],
        Err(_) => (101..=105).collect(),
    };
    let dir = tempfile::tempdir().unwrap();
    for seed in seeds {
        let path = dir.path().join(format!("model-{seed}.img"));
        let r = std::panic::catch_unwind(|| run(seed, 2_000, Some(&path)));
        if !r.is_ok_and(|cuts| cuts >= 10) {
            panic!(
                "file model test failed or saw too few cuts; reproduce with SIM_MODEL_SEED={seed}"
            );
        }
    }
}
