//! Shards: the striping is a bijection onto each shard's blocks, requests
//! split into pieces that carry the right part of the payload, and a
//! sharded device behaves as one plain array of blocks, across a restart
//! too. (Daemon kills on two shards: `ftl_backend/kill_tests.rs`.)

use std::collections::HashSet;
use std::sync::atomic::AtomicU64;

use ftl_core::{FtlConfig, Geometry};
use proptest::prelude::*;
use simulator::{SimNand, SimOptions};

use super::*;
use crate::copy::Bounce;
use crate::ftl_backend::{ftl_config, tests_block as block, TestOp as Op};

/// Each shard's FTL small, so GC runs; `parts` shards.
fn device(parts: u16) -> Shards {
    let geo = Geometry::small(24 * u32::from(parts), 16);
    let nand = SimNand::new_ram_partitioned(geo, parts, SimOptions::with_seed(3)).unwrap();
    Shards::open(nand, true, config(), 0, None).unwrap()
}

fn config() -> FtlConfig {
    FtlConfig {
        over_provisioning_percent: 25,
        ..ftl_config(2)
    }
}

fn write(b: &Shards, lba: u64, n: u32, version: u32) -> Result<(), IoError> {
    let mut buf: Vec<u8> = (lba..lba + u64::from(n))
        .flat_map(|l| block(l, version))
        .collect();
    let c = AtomicU64::new(0);
    b.write(1, lba, n, false, &mut Bounce::new(&mut buf, &c))
}

fn read(b: &Shards, lba: u64, n: u32) -> Vec<u8> {
    let mut buf = vec![0xa5u8; n as usize * 4096];
    let c = AtomicU64::new(0);
    b.read(0, lba, n, &mut Bounce::new(&mut buf, &c)).unwrap();
    buf
}

/// A scratch directory, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("ftl-ublk-shards-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn striping_maps_every_block_once_and_requests_split_in_order() {
    for parts in [1u16, 2, 3] {
        let b = device(parts);
        let n = b.blocks();
        assert!(n >= 2 * STRIPE_BLOCKS * u64::from(parts), "{parts}: {n}");
        if parts > 1 {
            assert_eq!(n % (STRIPE_BLOCKS * u64::from(parts)), 0);
        }
        let mut seen = HashSet::new();
        for lba in 0..n {
            let (shard, local) = b.locate(lba);
            assert!(local < b.parts()[shard].blocks(), "{parts}: {lba}");
            assert!(seen.insert((shard, local)), "{parts}: {lba} maps twice");
        }
        // Any range: pieces in order, a stripe at most each, and one
        // contiguous run per shard.
        for (lba, len) in [(0, 1), (5, 64), (31, 2), (30, 100), (n - 70, 70)] {
            let pieces: Vec<Piece> = b.pieces(lba, len).collect();
            let total: u64 = pieces.iter().map(|p| u64::from(p.blocks)).sum();
            assert_eq!(total, u64::from(len));
            let mut at = lba;
            for p in &pieces {
                assert_eq!(b.locate(at), (p.shard, p.lba));
                if parts > 1 {
                    assert!(u64::from(p.blocks) <= STRIPE_BLOCKS);
                }
                at += u64::from(p.blocks);
            }
            let runs = b.runs(lba, len);
            let covered: u64 = runs.iter().flatten().map(|&(_, k)| u64::from(k)).sum();
            assert_eq!(covered, u64::from(len));
        }
    }
}

#[test]
fn one_shard_is_the_plain_backend() {
    let b = device(1);
    assert_eq!(b.blocks(), b.parts()[0].blocks());
    assert_eq!(b.locate(77), (0, 77));
    assert_eq!(b.pieces(3, 100).count(), 1);
}

#[test]
fn a_request_across_stripes_moves_each_piece_s_payload() {
    let b = device(2);
    // 100 blocks from 30: pieces of 2, 32, 32, 32 and 2 blocks, alternating.
    write(&b, 30, 100, 1).unwrap();
    let want: Vec<u8> = (30..130).flat_map(|l| block(l, 1)).collect();
    assert_eq!(read(&b, 30, 100), want);
    // Read back block by block, and in other cuts: the same bytes.
    for l in 30..130 {
        assert_eq!(read(&b, l, 1), block(l, 1), "block {l}");
    }
    assert_eq!(read(&b, 60, 10), want[30 * 4096..40 * 4096]);
    // Both shards took their share.
    let written: Vec<u64> = b
        .parts()
        .iter()
        .map(|p| {
            p.stats()
                .into_iter()
                .find(|(k, _)| *k == "host_sectors_written")
                .and_then(|(_, v)| v.as_u64())
                .unwrap()
        })
        .collect();
    assert_eq!(written, vec![36, 64]);
    let all = b.stats();
    let get = |key| all.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone());
    assert_eq!(get("host_sectors_written"), Some(100.into()));
    assert_eq!(get("shards"), Some(2.into()));
}

/// `--map-budget` is the device's: two shards split it, and hold about
/// the map RAM one FTL holds with it (not twice).
#[test]
fn shards_share_the_map_budget() {
    let geo = Geometry::small(96, 16);
    let paged = |budget| FtlConfig {
        translation_entries: 16,
        map_budget_bytes: budget,
        ..config()
    };
    // Room for a paged map on either side: four times a shard's least.
    let half = Geometry::small(48, 16);
    let budget = 4 * paged(0).min_map_budget(&half);
    let map_ram = |parts: u16| {
        let nand = SimNand::new_ram_partitioned(geo, parts, SimOptions::with_seed(3)).unwrap();
        let b = Shards::open(nand, true, paged(budget), 0, None).unwrap();
        let s = b.stats();
        let get = |key| {
            s.iter()
                .find(|(k, _)| *k == key)
                .and_then(|(_, v)| v.as_u64())
        };
        assert!(get("map_cache_entries").unwrap() > 0, "{parts}: not paged");
        get("table_ram_bytes").unwrap()
    };
    let (one, two) = (map_ram(1), map_ram(2));
    assert!(two <= one + one / 4, "one FTL {one} B, two shards {two} B");
}

#[test]
fn out_of_range_requests_are_refused_whole() {
    let b = device(2);
    let n = b.blocks();
    assert_eq!(write(&b, n - 1, 2, 1), Err(IoError::OutOfRange));
    assert_eq!(b.discard(n, 1), Err(IoError::OutOfRange));
    assert_eq!(b.write_zeroes(0, u64::MAX, 1), Err(IoError::OutOfRange));
    // Nothing was written by the refused request.
    assert_eq!(read(&b, n - 1, 1), block(0, 0));
}

/// A request, or a clean restart of the device.
#[derive(Clone, Copy, Debug)]
enum Step {
    Do(Op),
    Restart,
}

fn step(n: u64) -> impl Strategy<Value = Step> {
    let range = (0..n).prop_flat_map(move |l| (Just(l), 1..=(n - l).min(80) as u32));
    prop_oneof![
        6 => range.clone().prop_map(|(l, k)| Step::Do(Op::Write(l, k))),
        1 => range.clone().prop_map(|(l, k)| Step::Do(Op::Zeroes(l, k))),
        2 => range.prop_map(|(l, k)| Step::Do(Op::Discard(l, k))),
        1 => Just(Step::Do(Op::Flush)),
        1 => Just(Step::Restart),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Two or three shards against a plain array of versions, with clean
    /// restarts (shutdown, remount) among the requests.
    #[test]
    fn shards_behave_as_one_array(
        parts in 2u16..=3,
        steps in proptest::collection::vec(step(192), 1..40),
    ) {
        let geo = Geometry::small(24 * u32::from(parts), 16);
        let mut nand = SimNand::new_ram_partitioned(geo, parts, SimOptions::with_seed(3)).unwrap();
        let mut b = Shards::open(nand, true, config(), 0, None).unwrap();
        let n = b.blocks();
        prop_assert!(n >= 192);
        let mut model = vec![0u32; n as usize];
        for (i, &s) in steps.iter().enumerate() {
            let version = i as u32 + 1;
            match s {
                Step::Do(op) => {
                    op.run(&b, version).unwrap();
                    let (range, value) = op.effect(version);
                    model[range.start as usize..range.end as usize].fill(value);
                }
                Step::Restart => {
                    b.shutdown().unwrap();
                    nand = crate::ftl_backend::tests_into_nand(b);
                    b = Shards::open(nand, false, config(), 0, None).unwrap();
                    prop_assert_eq!(b.blocks(), n);
                }
            }
        }
        let all = read(&b, 0, n as u32);
        for l in 0..n {
            let at = l as usize * 4096;
            prop_assert!(
                all[at..at + 4096] == block(l, model[l as usize])[..],
                "block {} should hold version {}", l, model[l as usize]
            );
        }
    }
}

/// The daemon's case: a file image of four partitions, each shard with
/// its own mapping of the file and its own crash journal, two threads
/// writing at once (requests across stripes, so across shards), then the
/// daemon dies unflushed. Reopened, every shard replays its journal and
/// every acknowledged block reads back.
#[test]
fn a_crash_of_two_queues_on_four_file_shards_keeps_everything_acknowledged() {
    let dir = TempDir::new("crash");
    let (img, journals) = (dir.0.join("nand.img"), dir.0.join("shm"));
    std::fs::create_dir_all(&journals).unwrap();
    let at = JournalAt {
        dir: &journals,
        image: &img,
    };
    let geo = Geometry::small(96, 16);
    let nand = SimNand::create_partitioned_image(&img, geo, 4, SimOptions::default()).unwrap();
    let b = Shards::open(nand, true, config(), 0, Some(at)).unwrap();
    let n = b.blocks();
    // Thread q owns the blocks whose 8-block group is q mod 2.
    let versions: Vec<Vec<(u64, u32, u32)>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..2u64)
            .map(|q| {
                let b = &b;
                s.spawn(move || {
                    let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ q;
                    let mut done = Vec::new();
                    for i in 0..300u32 {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let group = (x % (n / 16)) * 2 + q;
                        let k = 1 + (x >> 40) as u32 % 8;
                        let lba = group * 8;
                        let mut buf: Vec<u8> = (lba..lba + u64::from(k))
                            .flat_map(|l| block(l, i + 1))
                            .collect();
                        let c = AtomicU64::new(0);
                        b.write(q as u32, lba, k, false, &mut Bounce::new(&mut buf, &c))
                            .unwrap();
                        done.push((lba, k, i + 1));
                    }
                    done
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    // The daemon dies: its RAM goes, the image and the journals stay.
    drop(b);
    let nand = SimNand::open_image(&img, SimOptions::default()).unwrap();
    assert_eq!(nand.partitions(), 4);
    let b = Shards::open(nand, false, config(), 0, Some(at)).unwrap();
    let r = b.replayed();
    assert!(r.found && r.writes > 0, "{r:?}");
    let mut want = vec![0u32; n as usize];
    for (lba, k, v) in versions.into_iter().flatten() {
        want[lba as usize..(lba + u64::from(k)) as usize].fill(v);
    }
    for l in 0..n {
        assert!(
            read(&b, l, 1) == block(l, want[l as usize]),
            "block {l}: version {} lost ({r:?})",
            want[l as usize]
        );
    }
    // Every shard had its own journal.
    let names = std::fs::read_dir(&journals).unwrap().count();
    assert_eq!(names, 4);
}
