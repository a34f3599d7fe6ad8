//! Reads whose misses are loaded outside the FTL (`Ftl::start_read`,
//! `PageLoad::verify`, `Ftl::resume_read`), as a front end does with its
//! lock released: the cases the model test meets too rarely to pin.

mod common;

use common::*;
use ftl_core::{Error, Geometry, Handle, Lba, Nand, PageLoad, Ppa, ReadStep, Segment, SlotMemory};

const SECTOR: usize = 4096;

fn geo() -> Geometry {
    Geometry::small(16, 8)
}

/// Page `ppa` as a front end reads it: data and spare area.
fn read_page(ftl: &mut TestFtl, ppa: Ppa) -> (Vec<u8>, Vec<u8>) {
    let g = ftl.geometry();
    let mut page = vec![0u8; g.page_size as usize];
    let mut oob = vec![0u8; g.oob_size as usize];
    ftl.nand_mut()
        .read_page(ppa, &mut [&mut page], &mut oob)
        .expect("read outside");
    (page, oob)
}

/// Puts `page` into the load's slots and verifies it against `oob`.
fn deliver(ftl: &mut TestFtl, load: PageLoad, page: &[u8], oob: &[u8]) -> ReadStep {
    for (&slot, chunk) in load.slots().iter().zip(page.chunks(SECTOR)) {
        ftl.slot_memory_mut().slot_mut(slot).copy_from_slice(chunk);
    }
    let data: Vec<&[u8]> = page.chunks(SECTOR).collect();
    let loaded = load.verify(oob, &data);
    ftl.resume_read(loaded).expect("resume")
}

fn expect_load(step: ReadStep) -> PageLoad {
    match step {
        ReadStep::Load(l) => l,
        ReadStep::Ready(g) => panic!("expected a load, got {g:?}"),
    }
}

/// What a ready read's first sector holds; ends the read.
fn first_sector(ftl: &mut TestFtl, step: ReadStep) -> Vec<u8> {
    let ReadStep::Ready(g) = step else {
        panic!("expected the read to be ready");
    };
    let got = match ftl.read_segments(&g)[0] {
        Segment::Slot(s) => ftl.slot_memory().slot(s).to_vec(),
        Segment::Zero => vec![0; SECTOR],
    };
    ftl.end_read(g);
    got
}

/// LBAs written and read to push others out of the cache.
const FILLER: std::ops::Range<u64> = 8..200;

/// LBAs 0..4 (one page) and [`FILLER`] written, flushed, then a remount:
/// every read of them misses.
fn cold_device() -> TestFtl {
    let mut ftl = fresh(geo(), config(), 16);
    let mut data = Vec::new();
    for l in 0..4 {
        data.extend(pattern(SECTOR, l, 1));
    }
    for l in FILLER {
        ftl.write(Lba(l), &pattern(SECTOR, l, 1)).unwrap();
    }
    ftl.write(Lba(0), &data).unwrap();
    remount(ftl)
}

#[test]
fn a_page_loaded_outside_is_adopted_and_serves_its_neighbours() {
    let mut ftl = cold_device();
    let load = expect_load(ftl.start_read(Handle(0), Lba(0), 4).unwrap());
    let (page, oob) = read_page(&mut ftl, load.ppa());
    let step = deliver(&mut ftl, load, &page, &oob);
    // One load brought the whole page: the other three sectors were hits.
    let ReadStep::Ready(g) = step else {
        panic!("one page load should locate all four sectors");
    };
    for (i, seg) in ftl.read_segments(&g).to_vec().into_iter().enumerate() {
        let Segment::Slot(s) = seg else {
            panic!("sector {i} not in a slot");
        };
        assert!(ftl.slot_memory().slot(s) == &pattern(SECTOR, i as u64, 1)[..]);
    }
    ftl.end_read(g);
    let st = ftl.stats();
    assert_eq!((st.loads_outside, st.loads_outside_dropped), (1, 0));
    assert_eq!(st.cache_misses, 1);
    ftl.check_integrity().unwrap();
}

#[test]
fn a_page_failing_verification_outside_is_read_again_under_the_lock() {
    let mut ftl = cold_device();
    let load = expect_load(ftl.start_read(Handle(1), Lba(2), 1).unwrap());
    let (page, mut oob) = read_page(&mut ftl, load.ppa());
    oob[5] ^= 0x40; // a torn transfer
    let step = deliver(&mut ftl, load, &page, &oob);
    assert!(first_sector(&mut ftl, step) == pattern(SECTOR, 2, 1));
    let st = ftl.stats();
    assert_eq!((st.loads_outside, st.loads_outside_dropped), (0, 1));
}

#[test]
fn a_failed_read_outside_is_read_again_under_the_lock() {
    let mut ftl = cold_device();
    let load = expect_load(ftl.start_read(Handle(1), Lba(3), 1).unwrap());
    let step = ftl.resume_read(load.failed()).unwrap();
    assert!(first_sector(&mut ftl, step) == pattern(SECTOR, 3, 1));
}

/// The one case only the block's erase count can catch: the page is read,
/// then GC erases its block and the same LBA is programmed into the very
/// same place. The map points there again, the old copy verifies, and
/// adopting it would serve stale data forever.
#[test]
fn a_page_erased_and_rewritten_in_place_while_loading_is_dropped() {
    let mut ftl = cold_device();
    let load = expect_load(ftl.start_read(Handle(0), Lba(0), 1).unwrap());
    let ppa = load.ppa();
    let (stale, stale_oob) = read_page(&mut ftl, ppa);
    // Rewrite the four LBAs, a page at a time, until page `ppa` holds them
    // again (a later cycle of its block).
    let mut version = 1;
    let rewritten = loop {
        version += 1;
        assert!(version < 5000, "page {ppa:?} was never programmed again");
        let mut data = Vec::new();
        for l in 0..4 {
            data.extend(pattern(SECTOR, l, version));
        }
        ftl.write(Lba(0), &data).unwrap();
        let (now, oob) = read_page(&mut ftl, ppa);
        if oob != stale_oob && now == data {
            break version;
        }
    };
    // Out of the cache, so only the flash copy speaks for LBA 0 (reads
    // program nothing: the block stays as it is).
    ftl.flush().unwrap();
    for l in FILLER {
        assert!(read_sector(&mut ftl, l) == pattern(SECTOR, l, 1), "lba {l}");
    }
    let step = deliver(&mut ftl, load, &stale, &stale_oob);
    assert!(
        first_sector(&mut ftl, step) == pattern(SECTOR, 0, rewritten),
        "a stale copy from an earlier cycle of the block was adopted"
    );
    assert_eq!(ftl.stats().loads_outside_dropped, 1);
    ftl.check_integrity().unwrap();
}

#[test]
fn a_load_from_another_ftl_is_refused() {
    let mut a = cold_device();
    let mut b = cold_device();
    let load = expect_load(a.start_read(Handle(0), Lba(0), 1).unwrap());
    let (page, oob) = read_page(&mut a, load.ppa());
    let data: Vec<&[u8]> = page.chunks(SECTOR).collect();
    let r = b.resume_read(load.verify(&oob, &data));
    assert!(matches!(r, Err(Error::BadHandle)));
}
