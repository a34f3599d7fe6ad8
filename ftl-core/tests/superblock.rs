//! `Superblocks`: many dies and planes striped into one die of large
//! blocks. Where each superpage lands, that every die's pages go in order
//! (the strict RAM NAND refuses anything else), erases and bad marks of
//! whole superblocks, and the FTL running unchanged on top, across a
//! remount.

mod common;

use common::*;
use ftl_core::superblock::{SuperblockError, Superblocks};
use ftl_core::testing::RamNand;
use ftl_core::{BlockIdx, Ftl, FtlConfig, Geometry, Lba, Nand, Ppa, SlotPool};

/// 2 channels × 2 dies × 2 planes, 6 blocks of 8 pages of 8 KiB each.
fn phys() -> Geometry {
    Geometry {
        channels: 2,
        dies_per_channel: 2,
        planes_per_die: 2,
        blocks_per_plane: 6,
        pages_per_block: 8,
        page_size: 8192,
        sector_size: 4096,
        oob_size: 128,
    }
}

/// `passes` × the capacity of random one-sector writes (checking the FTL's
/// integrity now and then); the version each LBA holds (0: never written).
fn churn<N: Nand>(ftl: &mut Ftl<N, SlotPool<Vec<u8>>>, seed: u64, passes: u32) -> Vec<u32> {
    let n = ftl.logical_sectors();
    let mut rng = Rng(seed);
    let mut version = vec![0u32; n as usize];
    for v in 1..=passes * n as u32 {
        let l = rng.below(n);
        ftl.write(Lba(l), &pattern(4096, l, v)).unwrap();
        version[l as usize] = v;
        if v % 997 == 0 {
            ftl.check_integrity().unwrap();
        }
    }
    version
}

/// Every LBA reads back the version `churn` left in it.
fn reads_back<N: Nand>(ftl: &mut Ftl<N, SlotPool<Vec<u8>>>, version: &[u32], what: &str) {
    for (l, &v) in version.iter().enumerate() {
        let l = l as u64;
        let mut buf = vec![0u8; 4096];
        ftl.read(Lba(l), &mut buf).unwrap();
        let want = match v {
            0 => vec![0; 4096],
            v => pattern(4096, l, v),
        };
        assert!(buf == want, "{what}: lba {l}");
    }
}

fn page_of(byte: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| byte ^ (i as u8)).collect()
}

#[test]
fn the_shape_is_one_die_of_superblocks() {
    let s = Superblocks::new(RamNand::new(phys())).unwrap();
    let v = s.geometry();
    assert_eq!(
        (v.total_blocks(), v.pages_per_block, v.page_size, v.oob_size),
        (6, 8 * 4, 16384, 128)
    );
    assert_eq!(v.total_sectors(), phys().total_sectors());
    let too_wide = Geometry {
        planes_per_die: 16,
        ..phys()
    };
    assert_eq!(
        Superblocks::new(RamNand::new(too_wide)).unwrap_err(),
        SuperblockError::PageTooLarge { sectors: 32 }
    );
}

#[test]
fn superpages_rotate_over_dies_channels_first_planes_together() {
    let mut s = Superblocks::new(RamNand::new(phys())).unwrap();
    let v = s.geometry();
    let b = BlockIdx(3);
    for p in 0..v.pages_per_block {
        // Two slot-sized buffers per plane: four per superpage.
        let page = page_of(p as u8, v.page_size as usize);
        let bufs: Vec<&[u8]> = page.chunks(4096).collect();
        s.program_page(Ppa::new(b, p), &bufs, &[p as u8; 16])
            .unwrap();
    }
    let g = phys();
    let bpp = g.blocks_per_plane;
    for p in 0..v.pages_per_block {
        // Die index p % 4, channels first: die 0 = (ch 0, d 0), 1 = (ch 1,
        // d 0), 2 = (ch 0, d 1), 3 = (ch 1, d 1).
        let die = p % 4;
        let (ch, d) = (die % 2, die / 2);
        let want = page_of(p as u8, v.page_size as usize);
        for plane in 0..2u32 {
            let flat_plane = (ch * 2 + d) * 2 + plane;
            let phys_ppa = Ppa::new(BlockIdx(flat_plane * bpp + 3), p / 4);
            let mut got = vec![0u8; g.page_size as usize];
            let mut oob = [0u8; 16];
            s.inner_mut()
                .read_page(phys_ppa, &mut [&mut got], &mut oob)
                .unwrap();
            let half = g.page_size as usize;
            assert!(
                got == want[plane as usize * half..][..half],
                "superpage {p} plane {plane}"
            );
            if plane == 0 {
                assert_eq!(oob, [p as u8; 16], "the record is on the first plane");
            }
        }
        // And read back whole, into one buffer.
        let mut whole = vec![0u8; v.page_size as usize];
        let mut oob = [0u8; 16];
        s.read_page(Ppa::new(b, p), &mut [&mut whole], &mut oob)
            .unwrap();
        assert!(whole == want);
        assert_eq!(oob, [p as u8; 16]);
    }
    // A page twice is refused by the die below.
    let page = page_of(0, v.page_size as usize);
    assert!(s.program_page(Ppa::new(b, 0), &[&page], &[]).is_err());
}

#[test]
fn erase_and_bad_marks_take_the_whole_superblock() {
    let mut s = Superblocks::new(RamNand::new(phys())).unwrap();
    let v = s.geometry();
    let page = page_of(7, v.page_size as usize);
    for p in 0..4 {
        s.program_page(Ppa::new(BlockIdx(1), p), &[&page], &[])
            .unwrap();
    }
    s.erase_block(BlockIdx(1)).unwrap();
    let mut got = vec![0u8; v.page_size as usize];
    s.read_page(Ppa::new(BlockIdx(1), 2), &mut [&mut got], &mut [])
        .unwrap();
    assert!(got.iter().all(|&b| b == 0xFF), "every member erased");
    // Pages go in from the first again.
    s.program_page(Ppa::new(BlockIdx(1), 0), &[&page], &[])
        .unwrap();

    // One member marked bad (die 3, plane 1) makes its superblock bad.
    let g = phys();
    let member = BlockIdx(7 * g.blocks_per_plane + 4);
    s.inner_mut().mark_bad_block(member).unwrap();
    assert!(s.is_bad_block(BlockIdx(4)).unwrap());
    assert!(!s.is_bad_block(BlockIdx(5)).unwrap());
    s.mark_bad_block(BlockIdx(5)).unwrap();
    for plane in 0..8 {
        let m = BlockIdx(plane * g.blocks_per_plane + 5);
        assert!(
            s.inner_mut().is_bad_block(m).unwrap(),
            "member {m:?} marked"
        );
    }
    assert!(
        s.erase_block(BlockIdx(6)).is_err(),
        "outside the superblocks"
    );
}

#[test]
fn the_ftl_runs_on_superblocks_across_a_remount() {
    let s = Superblocks::new(RamNand::new(Geometry {
        blocks_per_plane: 24,
        ..phys()
    }))
    .unwrap();
    let geo = s.geometry();
    let cfg = config();
    let pool = SlotPool::with_capacity(cfg.min_slots(&geo) + 16, 4096);
    let mut ftl = Ftl::format(s, pool, cfg).unwrap();
    let version = churn(&mut ftl, 5, 4);
    assert!(ftl.stats().gc_runs > 0, "GC ran over superblocks");
    let cfg: FtlConfig = ftl.config();
    ftl.flush().unwrap();
    let (nand, pool) = ftl.into_parts();
    let mut ftl = Ftl::open(nand, pool, cfg).unwrap();
    ftl.check_integrity().unwrap();
    reads_back(&mut ftl, &version, "superblocks");
    // Every die took programs.
    let erases = &ftl.nand().inner().erases;
    assert_eq!(erases.len() as u32, 8 * 24);
    for die in 0..4 {
        let programmed = (die * 2 * 24..(die + 1) * 2 * 24)
            .map(|b| erases[b as usize])
            .sum::<u32>();
        assert!(programmed > 0, "die {die} never erased");
    }
}

#[test]
fn width_one_makes_each_die_an_erase_unit_in_its_lane() {
    let s = Superblocks::with_width(RamNand::new(phys()), 1).unwrap();
    let v = s.geometry();
    // 4 dies × 6 blocks, each 8 pages of both planes.
    assert_eq!(
        (v.total_blocks(), v.pages_per_block, v.page_size),
        (24, 8, 16384)
    );
    assert_eq!(s.groups(), 4);
    assert_eq!(v.total_sectors(), phys().total_sectors());
    for w in [0, 3, 8] {
        assert_eq!(
            Superblocks::with_width(RamNand::new(phys()), w).unwrap_err(),
            SuperblockError::Width { width: w, dies: 4 }
        );
    }
    // Block b is on die group b mod 4 (channels first), index b / 4.
    let mut s = s;
    let g = phys();
    for b in [0u32, 5, 23] {
        let page = page_of(b as u8, v.page_size as usize);
        s.program_page(Ppa::new(BlockIdx(b), 0), &[&page], &[b as u8; 8])
            .unwrap();
        let die = b % 4;
        let (ch, d) = (die % 2, die / 2);
        for plane in 0..2u32 {
            let flat_plane = (ch * 2 + d) * 2 + plane;
            let phys_ppa = Ppa::new(BlockIdx(flat_plane * g.blocks_per_plane + b / 4), 0);
            let mut got = vec![0u8; g.page_size as usize];
            s.inner_mut()
                .read_page(phys_ppa, &mut [&mut got], &mut [])
                .unwrap();
            let half = g.page_size as usize;
            assert!(got == page[plane as usize * half..][..half], "block {b}");
        }
    }
    // A unit's erase and bad mark touch its die's two planes only.
    // Die 1 is (ch 1, d 0): flat planes 4 and 5. Its index-1 block on
    // plane 1 is a member of unit 5 (group 1, index 1).
    let member = BlockIdx(5 * g.blocks_per_plane + 1);
    s.inner_mut().mark_bad_block(member).unwrap();
    assert!(s.is_bad_block(BlockIdx(4 + 1)).unwrap());
    assert!(!s.is_bad_block(BlockIdx(4)).unwrap());
    assert!(!s.is_bad_block(BlockIdx(4 + 2)).unwrap());
}

/// The FTL with a lane per die: every die takes programs, GC runs, and
/// everything reads back after a remount (with the same lanes, and with
/// one: lanes are not recorded on the media and need not be).
#[test]
fn the_ftl_runs_a_lane_per_die_across_a_remount() {
    let s = Superblocks::with_width(
        RamNand::new(Geometry {
            blocks_per_plane: 12,
            ..phys()
        }),
        1,
    )
    .unwrap();
    let geo = s.geometry();
    let cfg = FtlConfig {
        lanes: s.groups(),
        ..config()
    };
    let pool = SlotPool::with_capacity(cfg.min_slots(&geo) + 16, 4096);
    let mut ftl = Ftl::format(s, pool, cfg).unwrap();
    let version = churn(&mut ftl, 9, 6);
    assert!(ftl.stats().gc_runs > 0, "GC ran over per-die units");
    let erases = &ftl.nand().inner().erases;
    for die in 0..4 {
        let n: u32 = (die * 2 * 12..(die + 1) * 2 * 12)
            .map(|b| erases[b as usize])
            .sum();
        assert!(n > 0, "die {die} never erased");
    }
    ftl.flush().unwrap();
    for lanes in [4, 1] {
        let (nand, pool) = ftl.into_parts();
        ftl = Ftl::open(nand, pool, FtlConfig { lanes, ..cfg }).unwrap();
        ftl.check_integrity().unwrap();
        reads_back(&mut ftl, &version, &format!("{lanes} lanes"));
    }
}
