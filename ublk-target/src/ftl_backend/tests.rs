//! The FTL backend on a simulated NAND: data integrity through the same
//! transfers the queues use, zeroing, persistence across a remount, and
//! concurrent handles on a cache small enough to run out.

use std::sync::atomic::AtomicU64;

use ftl_core::{Geometry, SlotId};
use simulator::{NandPart, SimNand, SimOptions};

use super::*;
use crate::backend::{Backend, IoError, Transfer};
use crate::copy::Bounce;
use crate::journal::{Journal, Record};
use crate::slots::IoList;

/// Test access to the simulated NAND, and a daemon's death (its FTL RAM
/// dropped, the NAND kept).
impl FtlBackend {
    pub(super) fn with_nand<T>(&self, f: impl FnOnce(&mut SimNand) -> T) -> T {
        self.lock().nand_mut().with_array(f)
    }

    fn into_part(self) -> NandPart {
        let locked = self.state.into_inner().unwrap_or_else(|p| p.into_inner());
        locked.ftl.into_parts().0
    }
}

/// A sharded device's death: every shard's RAM dropped, the array kept.
pub(crate) fn into_nand(shards: crate::shards::Shards) -> SimNand {
    let mut parts: Vec<NandPart> = shards
        .into_parts()
        .into_iter()
        .map(FtlBackend::into_part)
        .collect();
    let last = parts.pop().expect("a shard");
    drop(parts);
    last.into_array().expect("every other part dropped")
}

/// An unpartitioned array as its one part.
pub(super) fn whole(nand: SimNand) -> NandPart {
    let mut parts = nand.into_parts().unwrap();
    assert_eq!(parts.len(), 1, "a partitioned array");
    parts.remove(0)
}

fn small_geometry() -> Geometry {
    Geometry::small(64, 16)
}

fn backend(handles: u32, cache_bytes: usize) -> FtlBackend {
    let nand = SimNand::new_ram(small_geometry(), SimOptions::default()).unwrap();
    FtlBackend::new(whole(nand), true, handles, cache_bytes, None).unwrap()
}

/// Block `lba`'s content in `version` (0 = zeros): every 8 bytes name the
/// block and the version, so stale or misplaced data cannot pass (the
/// kill tests' and the shards' tests).
pub(crate) fn block(lba: u64, version: u32) -> Vec<u8> {
    if version == 0 {
        return vec![0; 4096];
    }
    let mut v = vec![0u8; 4096];
    for (i, c) in v.chunks_mut(8).enumerate() {
        let w = lba.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (u64::from(version) << 32) ^ i as u64;
        c.copy_from_slice(&w.to_le_bytes());
    }
    v
}

/// A request of a test workload (the kill tests', the shards' model).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Op {
    Write(u64, u32),
    Zeroes(u64, u32),
    Discard(u64, u32),
    Flush,
}

impl Op {
    /// Serves it on `b` (handle 0), a write's blocks in `version`.
    pub(crate) fn run(self, b: &crate::shards::Shards, version: u32) -> Result<(), IoError> {
        let c = AtomicU64::new(0);
        match self {
            Op::Write(lba, k) => {
                let mut buf: Vec<u8> = (lba..lba + u64::from(k))
                    .flat_map(|l| block(l, version))
                    .collect();
                b.write(0, lba, k, false, &mut Bounce::new(&mut buf, &c))
            }
            Op::Zeroes(lba, k) => b.write_zeroes(0, lba, k),
            Op::Discard(lba, k) => b.discard(lba, k),
            Op::Flush => b.flush(),
        }
    }

    /// The blocks it changes, and the version they then hold (0: zeros).
    pub(crate) fn effect(self, version: u32) -> (std::ops::Range<u64>, u32) {
        match self {
            Op::Write(l, k) => (l..l + u64::from(k), version),
            Op::Zeroes(l, k) | Op::Discard(l, k) => (l..l + u64::from(k), 0),
            Op::Flush => (0..0, 0),
        }
    }
}

/// Block `lba`'s content in generation `gen`.
fn pattern(lba: u64, gen: u32) -> Vec<u8> {
    let mut v = vec![0u8; 4096];
    for (i, b) in v.iter_mut().enumerate() {
        *b = (lba as u32)
            .wrapping_mul(31)
            .wrapping_add(gen * 7 + i as u32 / 64) as u8;
    }
    v[..8].copy_from_slice(&lba.to_le_bytes());
    v[8..12].copy_from_slice(&gen.to_le_bytes());
    v
}

fn write(b: &FtlBackend, h: u32, lba: u64, data: &[u8], fua: bool) -> Result<(), IoError> {
    let c = AtomicU64::new(0);
    let mut buf = data.to_vec();
    b.write(
        h,
        lba,
        (data.len() / 4096) as u32,
        fua,
        &mut Bounce::new(&mut buf, &c),
    )
}

fn read(b: &FtlBackend, h: u32, lba: u64, n: u32) -> Vec<u8> {
    let c = AtomicU64::new(0);
    let mut buf = vec![0xa5u8; n as usize * 4096];
    b.read(h, lba, n, &mut Bounce::new(&mut buf, &c)).unwrap();
    buf
}

#[test]
fn round_trip_zeroes_and_discard() {
    let b = backend(2, 0);
    let data: Vec<u8> = (0..4).flat_map(|i| pattern(10 + i, 1)).collect();
    write(&b, 0, 10, &data, false).unwrap();
    assert_eq!(read(&b, 1, 10, 4), data);
    assert!(
        read(&b, 1, 100, 2).iter().all(|&x| x == 0),
        "never written reads zeros"
    );
    b.write_zeroes(0, 11, 1).unwrap();
    b.discard(12, 1).unwrap();
    let back = read(&b, 0, 10, 4);
    assert_eq!(&back[..4096], &data[..4096]);
    assert!(back[4096..3 * 4096].iter().all(|&x| x == 0));
    assert_eq!(&back[3 * 4096..], &data[3 * 4096..]);
    let s = b.stats();
    let get = |k: &str| s.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
    assert_eq!(
        get("ftl_bytes_copied"),
        Some(((4 + 4 + 2 + 4) * 4096).into())
    );
    assert_eq!(get("zero_fill_bytes"), Some(4096.into()));
}

#[test]
fn out_of_range_and_oversized_requests_fail_cleanly() {
    let b = backend(1, 0);
    let end = b.blocks();
    assert_eq!(
        write(&b, 0, end, &pattern(0, 0), false),
        Err(IoError::OutOfRange)
    );
    let big = vec![0u8; (MAX_IO_BLOCKS + 1) * 4096];
    assert!(write(&b, 0, 0, &big, false).is_err());
    // The handle is still usable afterwards.
    write(&b, 0, 0, &pattern(0, 0), false).unwrap();
    assert_eq!(read(&b, 0, 0, 1), pattern(0, 0));
}

/// A transfer that moves only part of the payload.
struct Short;

impl Transfer for Short {
    fn copy_in(&mut self, dst: &IoList<'_>) -> Result<usize, IoError> {
        Ok(dst.bytes() / 2)
    }
    fn copy_out(&mut self, src: &IoList<'_>) -> Result<usize, IoError> {
        Ok(src.bytes() - 1)
    }
    fn advance(&mut self, _bytes: usize) {}
}

#[test]
fn short_copy_aborts_and_leaves_old_data() {
    let b = backend(1, 0);
    write(&b, 0, 5, &pattern(5, 1), false).unwrap();
    let e = b.write(0, 5, 1, false, &mut Short);
    assert!(matches!(e, Err(IoError::ShortCopy { .. })));
    assert!(matches!(
        b.read(0, 5, 1, &mut Short),
        Err(IoError::ShortCopy { .. })
    ));
    // The aborted write changed nothing, and the read grant was ended.
    assert_eq!(read(&b, 0, 5, 1), pattern(5, 1));
}

#[test]
fn flushed_data_and_zeroes_survive_a_remount() {
    let path = std::env::temp_dir().join(format!("ftl-ublk-be-{}.img", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let nand = SimNand::create_image(&path, small_geometry(), SimOptions::default()).unwrap();
    let b = FtlBackend::new(whole(nand), true, 2, 0, None).unwrap();
    let n = b.blocks().min(600);
    for lba in 0..n {
        write(&b, (lba % 2) as u32, lba, &pattern(lba, 1), lba % 50 == 0).unwrap();
    }
    for lba in (0..n).step_by(3) {
        write(&b, 0, lba, &pattern(lba, 2), false).unwrap();
    }
    b.write_zeroes(1, 20, 10).unwrap();
    b.shutdown().unwrap();
    drop(b);
    let nand = SimNand::open_image(&path, SimOptions::default()).unwrap();
    let b = FtlBackend::new(whole(nand), false, 2, 0, None).unwrap();
    for lba in 0..n {
        let want = if (20..30).contains(&lba) {
            vec![0u8; 4096]
        } else {
            pattern(lba, if lba % 3 == 0 { 2 } else { 1 })
        };
        assert_eq!(read(&b, 0, lba, 1), want, "lba {lba}");
    }
    drop(b);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn concurrent_handles_on_a_tiny_cache() {
    // The FTL's minimum cache: writers and readers on four threads keep
    // running it out, so grants wait, flush and retry.
    hammer(&backend(4, 0));
}

/// The same over an image file: read misses are loaded and flushes synced
/// with the lock released, while the other threads write, collect garbage
/// and erase under it.
#[test]
fn concurrent_handles_load_misses_outside_the_lock() {
    let path = std::env::temp_dir().join(format!("ftl-ublk-be-c-{}.img", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let nand = SimNand::create_image(&path, small_geometry(), SimOptions::default()).unwrap();
    let b = FtlBackend::new(whole(nand), true, 4, 0, None).unwrap();
    assert!(b.reader.is_some(), "an image file gets a reader");
    hammer(&b);
    let s = b.lock().stats();
    assert!(s.loads_outside > 0, "no miss was loaded outside the lock");
    assert!(s.gc_runs > 0, "no GC ran while reads were loading");
    drop(b);
    std::fs::remove_file(&path).unwrap();
}

/// Four threads, each on its own quarter of the device: random writes (a
/// FUA now and then) and reads checked against what the thread wrote.
fn hammer(b: &FtlBackend) {
    let per = b.blocks() / 4;
    std::thread::scope(|s| {
        for t in 0..4u32 {
            s.spawn(move || {
                let base = u64::from(t) * per;
                let mut gen = vec![0u32; per as usize];
                let mut x = 0x9e37_79b9_u64 ^ u64::from(t);
                for step in 0..400u32 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let n = 1 + (x % 16) as u32;
                    let off = (x >> 8) % (per - u64::from(n));
                    if x % 3 == 0 {
                        let got = read(b, t, base + off, n);
                        for i in 0..u64::from(n) {
                            let g = gen[(off + i) as usize];
                            let want = if g == 0 {
                                vec![0; 4096]
                            } else {
                                pattern(base + off + i, g)
                            };
                            assert_eq!(
                                &got[i as usize * 4096..][..4096],
                                &want[..],
                                "t{t} lba {}",
                                base + off + i
                            );
                        }
                    } else {
                        let data: Vec<u8> = (0..u64::from(n))
                            .flat_map(|i| pattern(base + off + i, step + 1))
                            .collect();
                        write(b, t, base + off, &data, step % 37 == 0).unwrap();
                        for i in 0..n as usize {
                            gen[off as usize + i] = step + 1;
                        }
                    }
                }
            });
        }
    });
}

#[test]
fn fua_and_flush_are_durable_without_a_clean_shutdown() {
    let path = std::env::temp_dir().join(format!("ftl-ublk-fua-{}.img", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let nand = SimNand::create_image(&path, small_geometry(), SimOptions::default()).unwrap();
    let b = FtlBackend::new(whole(nand), true, 1, 0, None).unwrap();
    write(&b, 0, 7, &pattern(7, 1), true).unwrap();
    write(&b, 0, 9, &pattern(9, 1), false).unwrap();
    b.flush().unwrap();
    // Acknowledged but neither FUA nor flushed: the volatile write cache
    // the device advertises (shows the test can tell the difference).
    write(&b, 0, 11, &pattern(11, 1), false).unwrap();
    // No shutdown: the daemon dies here. What FUA and FLUSH covered is on the image.
    drop(b);
    let nand = SimNand::open_image(&path, SimOptions::default()).unwrap();
    let b = FtlBackend::new(whole(nand), false, 1, 0, None).unwrap();
    assert_eq!(read(&b, 0, 7, 1), pattern(7, 1));
    assert_eq!(read(&b, 0, 9, 1), pattern(9, 1));
    assert_eq!(
        read(&b, 0, 11, 1),
        vec![0u8; 4096],
        "unflushed write survived"
    );
    drop(b);
    std::fs::remove_file(&path).unwrap();
}

/// A scratch image and journal directory, removed on drop.
struct Scratch {
    dir: std::path::PathBuf,
}

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("ftl-ublk-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch { dir }
    }
    fn image(&self) -> std::path::PathBuf {
        self.dir.join("nand.img")
    }
    fn journals(&self) -> std::path::PathBuf {
        self.dir.join("shm")
    }
    fn open(&self, fresh: bool) -> Result<FtlBackend, OpenError> {
        self.open_with(fresh, 2)
    }
    fn open_with(&self, fresh: bool, handles: u32) -> Result<FtlBackend, OpenError> {
        let img = self.image();
        let nand = if fresh {
            SimNand::create_image(&img, small_geometry(), SimOptions::default()).unwrap()
        } else {
            SimNand::open_image(&img, SimOptions::default()).unwrap()
        };
        let journals = self.journals();
        let at = JournalAt {
            dir: &journals,
            image: &img,
        };
        FtlBackend::new(whole(nand), fresh, handles, 4 << 20, Some(at))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The daemon-crash workload: flushed data, then acknowledged but
/// unflushed writes (the partial page: blocks 4, 5 and an overwritten 100)
/// and a trim (of 50). Pages are 4 blocks, so the rest is programmed.
fn crash_workload(b: &FtlBackend) {
    write(b, 0, 50, &pattern(50, 1), false).unwrap();
    write(b, 0, 60, &pattern(60, 1), false).unwrap();
    b.write_zeroes(0, 60, 1).unwrap();
    b.flush().unwrap();
    let six: Vec<u8> = (0..6).flat_map(|i| pattern(i, 2)).collect();
    write(b, 0, 0, &six, false).unwrap();
    write(b, 1, 100, &pattern(100, 1), false).unwrap();
    write(b, 1, 100, &pattern(100, 2), false).unwrap();
    b.discard(50, 1).unwrap();
}

fn crash_workload_intact(b: &FtlBackend) -> bool {
    (0..6).all(|i| read(b, 0, i, 1) == pattern(i, 2))
        && read(b, 0, 100, 1) == pattern(100, 2)
        && read(b, 0, 50, 1) == vec![0u8; 4096]
        && read(b, 0, 60, 1) == vec![0u8; 4096]
}

#[test]
fn a_daemon_crash_loses_nothing_acknowledged_with_the_journal() {
    let s = Scratch::new("journal");
    let b = s.open(true).unwrap();
    crash_workload(&b);
    // The daemon dies: no flush, no shutdown. The image (shared mapping) and
    // the journal (shared file) keep what the process wrote.
    drop(b);
    let b = s.open(false).unwrap();
    let r = b.replayed();
    assert!(r.found && r.writes == 3 && r.trims == 1, "{r:?}");
    assert!(crash_workload_intact(&b), "acknowledged data lost: {r:?}");
    // The replay was flushed: a second crash right away needs no journal.
    drop(b);
    std::fs::remove_dir_all(s.journals()).unwrap();
    let b = s.open(false).unwrap();
    assert!(!b.replayed().found);
    assert!(crash_workload_intact(&b));
    // A clean shutdown leaves no journal behind.
    b.shutdown().unwrap();
    drop(b);
    assert_eq!(std::fs::read_dir(s.journals()).unwrap().count(), 0);
}

#[test]
fn a_crash_keeps_what_two_queues_acknowledged() {
    // `--queues 2 --depth 4`: handles 0..4 are queue 0's tags, 4..8 queue
    // 1's. Both threads write at once, the last writes unflushed, then the
    // daemon dies; `add` with one queue (other handles) replays them all.
    const DEPTH: u32 = 4;
    let s = Scratch::new("queues");
    let b = s.open_with(true, 2 * DEPTH).unwrap();
    std::thread::scope(|sc| {
        for q in 0..2u32 {
            let b = &b;
            sc.spawn(move || {
                // 82 blocks in all: pages hold 4, so 2 stay unflushed.
                for i in 0..41u32 {
                    let lba = u64::from(q * 1000 + i % 25);
                    let handle = q * DEPTH + i % DEPTH;
                    write(b, handle, lba, &pattern(lba, i / 25 + 1), false).unwrap();
                }
            });
        }
    });
    drop(b);
    let b = s.open_with(false, DEPTH).unwrap();
    let r = b.replayed();
    assert!(r.found && r.writes == 2, "{r:?}");
    for q in 0..2u64 {
        for i in 0..25u64 {
            let gen = if i < 16 { 2 } else { 1 };
            let lba = q * 1000 + i;
            assert!(read(&b, 0, lba, 1) == pattern(lba, gen), "lba {lba} lost");
        }
    }
}

#[test]
fn without_the_journal_the_same_crash_loses_unflushed_writes() {
    // The control: the workload really depends on the journal.
    let s = Scratch::new("nojournal");
    let b = s.open(true).unwrap();
    crash_workload(&b);
    drop(b);
    std::fs::remove_dir_all(s.journals()).unwrap();
    let b = s.open(false).unwrap();
    assert!(!crash_workload_intact(&b));
}

#[test]
fn a_damaged_or_foreign_journal_is_refused_and_kept() {
    let s = Scratch::new("damaged");
    let b = s.open(true).unwrap();
    crash_workload(&b);
    drop(b);
    let j = std::fs::read_dir(s.journals())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&j).unwrap();
    bytes[30] ^= 0x40;
    std::fs::write(&j, &bytes).unwrap();
    let e = s
        .open(false)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        e.contains("damaged header") && e.contains("move it away"),
        "{e}"
    );
    assert_eq!(std::fs::read(&j).unwrap(), bytes, "refused untouched");
    // Repaired, it replays.
    bytes[30] ^= 0x40;
    std::fs::write(&j, &bytes).unwrap();
    let b = s.open(false).unwrap();
    assert!(crash_workload_intact(&b));
}

#[test]
fn a_journal_slot_whose_epoch_moved_is_not_replayed() {
    // The FTL reuses a slot only once its data is on flash or superseded,
    // and bumps the epoch before writing it; a successor must then skip the
    // stale record rather than write the slot's new content to its LBA.
    let s = Scratch::new("epoch");
    let b = s.open(true).unwrap();
    write(&b, 0, 40, &pattern(40, 1), false).unwrap();
    b.flush().unwrap();
    write(&b, 0, 40, &pattern(40, 2), false).unwrap();
    let listed: Vec<_> = b.lock().unflushed_writes().collect();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let slot = listed[0].1 .0;
    // As if reused for another block's data (bypassing the FTL, which would
    // first have programmed version 2, and the journal, which `b.lock()`
    // would publish to).
    let mut g = b.state.lock().unwrap();
    let mut lease = g.ftl.slot_memory_mut().lend_write(&[SlotId(slot)]).unwrap();
    lease.slot_mut(0).copy_from_slice(&pattern(77, 9));
    drop((lease, g));
    drop(b);
    let b = s.open(false).unwrap();
    assert_eq!(b.replayed().skipped, 1);
    assert_eq!(
        read(&b, 0, 40, 1),
        pattern(40, 1),
        "the reused slot was replayed"
    );
}

#[test]
fn a_failed_replay_keeps_the_old_journal_and_leaves_no_new_one() {
    let s = Scratch::new("failedreplay");
    s.open(true).unwrap().shutdown().unwrap();
    // A journal (of this image) naming a block past the device's end.
    let img = s.image();
    let id = crate::journal::ImageId::of(&img).unwrap();
    let path = id.journal_path(&s.journals(), 0);
    let (mut j, _pool) = Journal::create(&path, id, &img, 4, 8).unwrap();
    j.publish(
        0,
        &[Record::Trim {
            lba: 1 << 40,
            sectors: 1,
        }],
    )
    .unwrap();
    drop(j);
    let e = s
        .open(false)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("does not apply"), "{e}");
    let left: Vec<_> = std::fs::read_dir(s.journals())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(left, vec![path], "the old journal stays, no new one");
}
