//! Media faults seen through the FTL: an uncorrectable page fails reads of
//! exactly its sectors, the rest of the device keeps working, and GC turns
//! an unreadable valid sector into a per-LBA error instead of garbage.

use ftl_core::{Error, Ftl, FtlConfig, Geometry, Lba, Nand, NandErrorKind, Ppa, SlotPool};
use simulator::{FaultyNand, OpKind, SimNand, SimOptions, Target};

type Dev = Ftl<FaultyNand<SimNand>, SlotPool<Vec<u8>>>;

fn geo() -> Geometry {
    Geometry::small(16, 8)
}

fn cfg() -> FtlConfig {
    FtlConfig {
        handles: 2,
        max_io_sectors: 8,
        over_provisioning_percent: 20,
        ..FtlConfig::default()
    }
}

fn pool() -> SlotPool<Vec<u8>> {
    SlotPool::with_capacity(cfg().min_slots(&geo()) + 8, 4096)
}

fn sector(lba: u64) -> Vec<u8> {
    vec![(lba as u8) ^ 0x5A; 4096]
}

/// A device holding sectors 0..n on flash (checkpointed, cache cold), and
/// the page holding LBA 5.
fn prepared(n: u64) -> (Dev, Ppa) {
    let nand = FaultyNand::new(SimNand::new_ram(geo(), SimOptions::with_seed(3)).unwrap());
    let mut ftl = Ftl::format(nand, pool(), cfg()).unwrap();
    for l in 0..n {
        ftl.write(Lba(l), &sector(l)).unwrap();
    }
    ftl.flush().unwrap();
    ftl.checkpoint().unwrap();
    let (nand, _) = ftl.into_parts();
    let mut ftl = Ftl::open(nand, pool(), cfg()).unwrap();
    // Find LBA 5's page through the spare areas (the FTL keeps its L2P to
    // itself): the page whose record names LBA 5.
    let g = geo();
    let mut oob = vec![0u8; g.oob_size as usize];
    let mut at = None;
    'scan: for b in 0..g.total_blocks() {
        for p in 0..g.pages_per_block {
            let ppa = Ppa::new(ftl_core::BlockIdx(b), p);
            if ftl.nand_mut().read_page(ppa, &mut [], &mut oob).is_ok() {
                if let Ok(rec) = ftl_core::format::oob::PageRecord::decode(&oob) {
                    if (0..4).any(|i| rec.lba(i) == Some(Lba(5))) && !rec.kind.is_meta() {
                        at = Some(ppa);
                        break 'scan;
                    }
                }
            }
        }
    }
    (ftl, at.expect("LBA 5 is on flash"))
}

/// `prepared(n)` with LBA 5's page turned permanently uncorrectable.
fn with_bad_page(n: u64) -> Dev {
    let (mut ftl, bad) = prepared(n);
    ftl.nand_mut().fail_always(
        OpKind::Read,
        Some(Target::Page(bad)),
        NandErrorKind::Uncorrectable,
    );
    ftl
}

#[test]
fn uncorrectable_page_fails_exactly_its_sectors() {
    let n = 40;
    let mut ftl = with_bad_page(n);
    let mut buf = vec![0u8; 4096];
    let mut failed = Vec::new();
    for l in 0..n {
        match ftl.read(Lba(l), &mut buf) {
            Ok(()) => assert_eq!(buf, sector(l), "lba {l} read wrong data"),
            Err(Error::Uncorrectable { lba }) => {
                assert_eq!(lba, Lba(l));
                failed.push(l);
            }
            Err(e) => panic!("lba {l}: {e}"),
        }
    }
    // LBAs 4..8 were written together as one page.
    assert_eq!(failed, vec![4, 5, 6, 7], "only the bad page's sectors fail");
    // The device stays up: writes and reads elsewhere, and rewriting the
    // lost sectors, work.
    for l in [4, 5, 6, 7, 30] {
        ftl.write(Lba(l), &sector(l + 1)).unwrap();
        ftl.read(Lba(l), &mut buf).unwrap();
        assert_eq!(buf, sector(l + 1));
    }
    ftl.check_integrity().unwrap();
}

#[test]
fn gc_turns_an_unreadable_valid_sector_into_a_per_lba_error() {
    let n = 40;
    let mut ftl = with_bad_page(n);
    // Overwrite everything else many times: GC must move the bad page's
    // block and meets the unreadable page.
    let logical = ftl.logical_sectors();
    let bad_before = ftl.stats().bad_blocks;
    let mut x = 17u64;
    for _ in 0..10 * logical {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let l = 8 + (x >> 33) % (logical - 8);
        ftl.write(Lba(l), &sector(l)).unwrap();
    }
    assert!(ftl.stats().gc_runs > 0);
    // The block that failed a read is retired once emptied, not reused:
    // the page would fail whatever is written to it next.
    assert_eq!(ftl.stats().bad_blocks, bad_before + 1, "retired once");
    let mut buf = vec![0u8; 4096];
    for l in 0..8 {
        let r = ftl.read(Lba(l), &mut buf);
        if (4..8).contains(&l) {
            assert!(
                matches!(r, Err(Error::Uncorrectable { lba }) if lba == Lba(l)),
                "lba {l}: {r:?}"
            );
        } else {
            r.unwrap();
            assert_eq!(buf, sector(l), "lba {l}");
        }
    }
    ftl.check_integrity().unwrap();
}

#[test]
fn worn_out_blocks_are_retired_and_data_survives() {
    // Endurance of 12 P/E cycles: random overwrites wear blocks out; each
    // failed erase retires its block, and every sector still reads back
    // until the device honestly runs out of space.
    let g = Geometry::small(32, 8);
    let cfg = FtlConfig {
        over_provisioning_percent: 30,
        ..cfg()
    };
    let opts = SimOptions {
        pe_endurance: Some(12),
        ..SimOptions::with_seed(9)
    };
    let nand = FaultyNand::new(SimNand::new_ram(g, opts).unwrap());
    let pool = SlotPool::with_capacity(cfg.min_slots(&g) + 8, 4096);
    let mut ftl = Ftl::format(nand, pool, cfg).unwrap();
    let n = ftl.logical_sectors();
    let mut version = vec![0u32; n as usize];
    // Each LBA's version at the last flush that succeeded.
    let mut durable = version.clone();
    let mut x = 5u64;
    let mut writes = 0u64;
    let failed = loop {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let l = (x >> 33) % n;
        let data = vec![(version[l as usize] + 1) as u8 ^ l as u8; 4096];
        match ftl.write(Lba(l), &data) {
            Ok(()) => version[l as usize] += 1,
            Err(Error::NoSpace) => break Some(l),
            Err(e) => panic!("write {writes}: {e}"),
        }
        writes += 1;
        if writes % 64 == 0 {
            match ftl.flush() {
                Ok(()) => durable.copy_from_slice(&version),
                Err(Error::NoSpace) => break None,
                Err(e) => panic!("flush after {writes} writes: {e}"),
            }
        }
        assert!(writes < 200 * n, "never ran out of endurance");
    };
    let st = ftl.stats();
    println!(
        "endurance 12: {writes} writes, {} erase failures, {} bad blocks, erase counts {}..{}",
        st.erase_failures, st.bad_blocks, st.erase_count_min, st.erase_count_max
    );
    assert!(
        st.erase_failures > 0 && st.bad_blocks > 0,
        "no block wore out"
    );
    ftl.check_integrity().unwrap();
    let want = |l: u64, v: u32| {
        if v == 0 {
            vec![0; 4096]
        } else {
            vec![v as u8 ^ l as u8; 4096]
        }
    };
    let mut buf = vec![0u8; 4096];
    for l in 0..n {
        ftl.read(Lba(l), &mut buf).unwrap();
        let v = version[l as usize];
        // The write that failed may have left its new data or the old.
        let ok = buf == want(l, v) || (Some(l) == failed && buf == want(l, v + 1));
        assert!(
            ok,
            "lba {l} lost after wear-out: version {v}, reads {}",
            buf[0]
        );
    }
    // Worn out, the device still mounts and its data reads (the fuzz
    // regression `worn-remount-refused` covers a medium worn below what its
    // logical capacity needs, which the mount used to refuse). Writes since
    // the last flush that succeeded may be lost: the flush now fails for
    // want of space too, so they never became durable.
    assert!(ftl.flush().is_err(), "a full device cannot flush");
    let bad = ftl.stats().bad_blocks;
    let (nand, pool) = ftl.into_parts();
    let mut ftl = Ftl::open(nand, pool, cfg).expect("a worn device mounts");
    assert_eq!(ftl.stats().bad_blocks, bad);
    ftl.check_integrity().unwrap();
    let mut lost = 0;
    for l in 0..n {
        ftl.read(Lba(l), &mut buf).unwrap();
        let (from, to) = (durable[l as usize], version[l as usize]);
        let to = to + u32::from(Some(l) == failed);
        let same = (from..=to).any(|v| buf == want(l, v));
        lost += u32::from(buf != want(l, version[l as usize]));
        assert!(
            same,
            "lba {l} reads {} after the remount: neither its last flushed version {from} nor a later one",
            buf[0]
        );
    }
    println!("after the remount: {lost} of {n} LBAs read a version older than their last write");
}

#[test]
fn an_unreadable_translation_page_stays_lost_across_remounts() {
    // Every copy of translation page 0 turns unreadable. The mount marks
    // its LBAs lost (reads fail), and writes the page back at once: a
    // clean remount then still fails them, instead of finding no copy of
    // the page and reading zeros.
    let cfg = FtlConfig {
        translation_entries: 16,
        translation_write_permille: 1000,
        ..cfg()
    };
    let pool = || SlotPool::with_capacity(cfg.min_slots(&geo()) + 8, 4096);
    let nand = FaultyNand::new(SimNand::new_ram(geo(), SimOptions::with_seed(5)).unwrap());
    let mut ftl = Ftl::format(nand, pool(), cfg).unwrap();
    for l in 0..40 {
        ftl.write(Lba(l), &sector(l)).unwrap();
    }
    ftl.flush().unwrap();
    // Enough host pages to write every dirty translation page back (a
    // page of credit each), then a checkpoint naming them.
    let n = ftl.logical_sectors();
    for l in 40..n {
        ftl.write(Lba(l), &sector(l)).unwrap();
    }
    ftl.flush().unwrap();
    ftl.checkpoint().unwrap();
    let (mut nand, _) = ftl.into_parts();
    let g = geo();
    let mut oob = vec![0u8; g.oob_size as usize];
    let mut copies = 0;
    for b in 0..g.total_blocks() {
        for p in 0..g.pages_per_block {
            let ppa = Ppa::new(ftl_core::BlockIdx(b), p);
            if nand.read_page(ppa, &mut [], &mut oob).is_err() {
                continue;
            }
            let Ok(rec) = ftl_core::format::oob::PageRecord::decode(&oob) else {
                continue;
            };
            if rec.kind == ftl_core::format::oob::PageKind::Translation
                && rec.lba(0) == Some(Lba(0))
            {
                nand.fail_always(
                    OpKind::Read,
                    Some(Target::Page(ppa)),
                    NandErrorKind::Uncorrectable,
                );
                copies += 1;
            }
        }
    }
    assert!(copies > 0, "translation page 0 is on flash");
    let mut buf = vec![0u8; 4096];
    let mut ftl = Ftl::open(nand, pool(), cfg).unwrap();
    let lost = |ftl: &mut Dev, buf: &mut Vec<u8>| {
        (0..16u64)
            .filter(|&l| matches!(ftl.read(Lba(l), buf), Err(Error::Uncorrectable { .. })))
            .count()
    };
    let first = lost(&mut ftl, &mut buf);
    assert!(first > 0, "the page's LBAs are lost");
    for l in 16..n {
        ftl.read(Lba(l), &mut buf).unwrap();
        assert_eq!(buf, sector(l), "lba {l} outside the page");
    }
    let (nand, _) = ftl.into_parts();
    let mut ftl = Ftl::open(nand, pool(), cfg).unwrap();
    assert_eq!(
        lost(&mut ftl, &mut buf),
        first,
        "lost stays lost, never zeros"
    );
    ftl.check_integrity().unwrap();
}
