//! Daemon kills at every NAND operation: the crash journal's guarantee,
//! checked exhaustively.
//!
//! A workload of writes (1–8 blocks, overlapping), WRITE_ZEROES, discards
//! and an occasional flush runs on a tiny simulated NAND where GC and
//! checkpoints run all the time. For every `k`, the daemon "dies" at
//! mutating NAND operation `k`: the simulator cuts there (the operation in
//! progress is torn, a superset of what a SIGKILL in the middle of a
//! `memcpy` into the image can leave), nothing after the cut reaches the
//! journal (`Locked::publish` stops publishing once the NAND reports the
//! cut), and the FTL's RAM is dropped. Then a successor mounts the NAND and
//! replays the journal. Unlike a power cut, a daemon crash may lose nothing
//! acknowledged: every block must read back the last value of an operation
//! that completed, or — for blocks of the operation the kill interrupted —
//! that operation's value. Every block's content names its LBA and version,
//! so stale or misplaced data cannot pass.
//!
//! The workload is fixed by `KILL_SEED` (printed; set it to try another).
//! Mutation checks run by hand: without the replay, or without intents,
//! this test fails; without the epoch check it still passes (no kill point
//! here reuses a programmed slot inside one operation), which is what
//! `a_journal_slot_whose_epoch_moved_is_not_replayed` covers directly.

use std::sync::atomic::AtomicU64;

use ftl_core::Geometry;
use simulator::{SimNand, SimOptions};

use std::path::Path;

use super::tests::{block, Op};
use super::*;
use crate::backend::Backend;
use crate::copy::Bounce;
use crate::shards::Shards;

/// How the FTL persists its map in a kill case.
#[derive(Clone, Copy, Debug)]
enum Map {
    /// The default: the whole map in one translation page here.
    Whole,
    /// 16-entry translation pages, one written back per host page, a
    /// checkpoint every 2 host pages: the journal's replay meets write-backs,
    /// meta-block cleaning and a moving horizon.
    Sliced,
    /// Those tiny pages, demand-paged with the smallest map budget the
    /// configuration allows: entries read in and written back under
    /// pressure on almost every request.
    Paged,
    /// The default map on two shards (`shards.rs`) of `Whole`'s size each:
    /// requests split across them, each shard with its own journal.
    Sharded,
}

fn geometry(map: Map) -> Geometry {
    match map {
        Map::Whole => Geometry::small(12, 8),
        Map::Sliced | Map::Paged => Geometry::small(16, 8),
        Map::Sharded => Geometry::small(24, 8),
    }
}

/// The erased array of a case.
fn nand(map: Map) -> SimNand {
    let parts = match map {
        Map::Sharded => 2,
        _ => 1,
    };
    SimNand::new_ram_partitioned(geometry(map), parts, SimOptions::with_seed(7)).unwrap()
}

/// A deterministic workload over `n` blocks.
fn workload(n: u64, len: usize, seed: u64) -> Vec<Op> {
    let mut s = seed | 1;
    let mut next = move |m: u64| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s % m
    };
    let mut last = 0;
    (0..len)
        .map(|_| {
            // Often the blocks just written again: their slots are the
            // unflushed ones the journal names, superseded mid-operation.
            let lba = if next(3) == 0 { last } else { next(n) };
            last = lba;
            let k = (1 + next(8) as u32).min((n - lba) as u32);
            match next(20) {
                0..=13 => Op::Write(lba, k),
                14 | 15 => Op::Zeroes(lba, k),
                16..=18 => Op::Discard(lba, k),
                _ => Op::Flush,
            }
        })
        .collect()
}

struct Journals(std::path::PathBuf);

impl Journals {
    /// A directory of its own per test (`tag`): tests run in parallel in
    /// one process.
    fn new(tag: &str) -> Journals {
        // tmpfs when there is one: thousands of small journals.
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let d = base.join(format!("zcftl-kill-tests-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("image-id"), b"identity only").unwrap();
        Journals(d)
    }
}

impl Drop for Journals {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Small requests, so the FTL's minimum cache is small: slots turn over
/// inside single operations (GC relocating into slots that held data the
/// journal still names), which is what the journal's epochs and intents
/// are for.
fn config(map: Map) -> FtlConfig {
    let base = FtlConfig {
        handles: 1,
        max_io_sectors: 8,
        over_provisioning_percent: 25,
        ..FtlConfig::default()
    };
    match map {
        Map::Whole | Map::Sharded => base,
        Map::Sliced => FtlConfig {
            translation_entries: 16,
            translation_write_permille: 1000,
            checkpoint_interval_pages: 2,
            ..base
        },
        Map::Paged => {
            let c = FtlConfig {
                translation_entries: 16,
                translation_write_permille: 250,
                ..base
            };
            FtlConfig {
                map_budget_bytes: c.min_map_budget(&geometry(map)),
                ..c
            }
        }
    }
}

/// A case that went wrong, described for the failure message.
type Failure = Box<dyn std::error::Error>;

fn open(j: &Journals, nand: SimNand, fresh: bool, map: Map) -> Result<Shards, OpenError> {
    let image = j.0.join("image-id");
    let at = JournalAt {
        dir: &j.0,
        image: &image,
    };
    Shards::open(nand, fresh, config(map), 0, Some(at))
}

/// Runs the workload with a kill at NAND operation `cut` (or none); returns
/// the mutating NAND operations the workload made.
fn case(j: &Journals, ops: &[Op], cut: Option<u64>, map: Map) -> Result<(u64, Replayed), Failure> {
    let b = open(j, nand(map), true, map)?;
    let n = b.blocks();
    let start = b.parts()[0].with_nand(|s| s.ops_done());
    if let Some(k) = cut {
        b.parts()[0].with_nand(|s| s.power_cut_after(k));
    }
    // Per block: the acknowledged version, and the interrupted op's one.
    let mut acked = vec![0u32; n as usize];
    let mut in_flight: Vec<(u64, u32)> = Vec::new();
    for (i, &op) in ops.iter().enumerate() {
        let version = i as u32 + 1;
        let r = op.run(&b, version);
        let (range, value) = op.effect(version);
        match r {
            Ok(()) => range.for_each(|l| acked[l as usize] = value),
            Err(e) if b.parts()[0].with_nand(|s| s.last_cut().is_some()) => {
                in_flight = range.map(|l| (l, value)).collect();
                let _ = e;
                break;
            }
            Err(e) => return Err(format!("op {i} {op:?} failed without a cut: {e}").into()),
        }
    }
    let ops_made = b.parts()[0].with_nand(|s| s.ops_done()) - start;
    // The daemon is gone: its RAM with it; the NAND and the journal stay.
    let mut nand = super::tests::into_nand(b);
    nand.power_restore();
    let b = open(j, nand, false, map).map_err(|e| format!("successor: {e}"))?;
    for l in 0..n {
        let got = read_block(&b, l)?;
        let ok = got == block(l, acked[l as usize])
            || in_flight.iter().any(|&(x, v)| x == l && got == block(l, v));
        if !ok {
            let what = (0..=ops.len() as u32 + 1).find(|&v| got == block(l, v));
            return Err(format!(
                "lba {l}: acknowledged version {}, read {what:?} (in flight: {in_flight:?}); replay {:?}",
                acked[l as usize],
                b.replayed()
            )
            .into());
        }
    }
    Ok((ops_made, b.replayed()))
}

fn read_block(b: &Shards, lba: u64) -> Result<Vec<u8>, Failure> {
    let c = AtomicU64::new(0);
    let mut buf = vec![0xa5u8; 4096];
    b.read(0, lba, 1, &mut Bounce::new(&mut buf, &c))
        .map_err(|e| format!("read {lba}: {e}"))?;
    Ok(buf)
}

#[test]
fn the_kill_hook_is_built_in() {
    // Without `test-hooks` the journal would go on being published after
    // the simulated kill, and the test below would prove nothing.
    let nand = SimNand::new_ram(geometry(Map::Whole), SimOptions::with_seed(7)).unwrap();
    let mut nand = super::tests::whole(nand);
    nand.with_array(|s| s.power_cut_after(0));
    assert!(ftl_core::Nand::erase_block(&mut nand, ftl_core::BlockIdx(0)).is_err());
    assert!(
        crate::hooks::daemon_killed(&nand),
        "ublk-target's tests need its test-hooks feature (the self dev-dependency)"
    );
}

#[test]
fn a_daemon_kill_at_every_nand_operation_loses_nothing_acknowledged() {
    kill_at_every_operation(Map::Whole);
}

#[test]
fn a_daemon_kill_at_every_nand_operation_tiny_translation_pages() {
    kill_at_every_operation(Map::Sliced);
}

#[test]
fn a_daemon_kill_at_every_nand_operation_demand_paged_map() {
    kill_at_every_operation(Map::Paged);
}

#[test]
fn a_daemon_kill_at_every_nand_operation_two_shards() {
    kill_at_every_operation(Map::Sharded);
}

fn kill_at_every_operation(map: Map) {
    let j = Journals::new(&format!("{map:?}"));
    let probe = open(&j, nand(map), true, map).unwrap();
    assert_eq!(
        probe.parts().len(),
        1 + matches!(map, Map::Sharded) as usize
    );
    let n = probe.blocks();
    let entries = probe
        .stats()
        .into_iter()
        .find(|(k, _)| *k == "map_cache_entries")
        .and_then(|(_, v)| v.as_u64());
    assert_eq!(
        entries.is_some_and(|e| e > 0),
        matches!(map, Map::Paged),
        "{map:?}: map cache entries {entries:?}"
    );
    drop(probe);
    let seed = std::env::var("KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0xC0FFEE);
    let ops = workload(n, 400, seed);
    let (total, _) = case(&j, &ops, None, map).unwrap();
    assert!(
        total > 300,
        "the workload is too small to mean much: {total}"
    );
    let (mut writes, mut skipped, mut trims) = (0, 0, 0);
    for k in 0..total {
        match case(&j, &ops, Some(k), map) {
            Ok((_, r)) => {
                writes += r.writes;
                skipped += r.skipped;
                trims += r.trims;
            }
            Err(e) => panic!("{map:?}, KILL_SEED={seed}: kill after NAND op {k} of {total}: {e}"),
        }
    }
    eprintln!(
        "daemon kill ({map:?}, KILL_SEED={seed}): {total} kill points tried, all recovered; replayed {writes} writes and {trims} trims, skipped {skipped} reused slots"
    );
}
