//! How much the FTL lock limits `ftl-ublk add --queues N`: N threads (one
//! per queue, as in the daemon) drive 4 KiB random writes, then reads,
//! then a 50/50 mix through [`Shards`] of [`FtlBackend`]s (the daemon's
//! backend: the same locks, the same crash journals in `/dev/shm`, the
//! same geometry and cache as `add --size 512M --shards S`, `--shards` a
//! list run in turn) on a simulated NAND, without a kernel. In every other run each acquisition of the lock is timed
//! ([`FtlBackend::time_lock`]): the wait to get it and the time it is held,
//! per request. IOPS come from the untimed runs (timing reads the clock
//! four times per acquisition, two of them under the lock).
//!
//! The NAND (`--nand`, a list, run in turn on the same machine state): a
//! sparse image file in `/dev/shm` as the daemon uses, with read misses
//! loaded and flushes synced outside the lock (`image`), the same with
//! every NAND transfer under it (`image-locked`, as before that split), or
//! a RAM array (`ram`, transfers under the lock).
//!
//! The kernel copy is a real syscall, as in the daemon: a `UserCopy`
//! transfer (`preadv`/`pwritev`) on a file in `/dev/shm` stands in for
//! `/dev/ublkcN`, one 4 KiB region per (queue, tag). `--copy bounce` uses
//! the copy mode's memcpy instead (the least work outside the lock).
//!
//! ```text
//! cargo run --release -p ublk-target --example lock_contention -- [--secs S] [--reps R] [--threads 1,2,4] [--copy file|bounce] [--nand image-locked,image,ram] [--shards 1,2] [--workloads randwrite,randread,mixed50]
//! ```
//!
//! Prints, per thread count and workload: IOPS, the lock's busy share of
//! the wall time (`lock busy`; 100 % means the lock is the limit), and the
//! per-request wait and hold distributions (µs).

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ftl_ublk::backend::{Backend, Transfer};
use ftl_ublk::copy::{Bounce, UserCopy};
use ftl_ublk::ftl_backend::{drain_lock_times, ftl_config, FtlBackend, JournalAt, CACHE_BYTES};
use ftl_ublk::shards::Shards;
use ftl_ublk::spec::spec_for;
use simulator::{SimNand, SimOptions};

/// Tags per queue: the daemon's default `--depth`.
const DEPTH: u32 = 64;
/// The benchmarked region, as in the VM's `bench` scenario (`BENCH_MB`).
const REGION_BYTES: u64 = 128 << 20;
/// Raw flash, as the VM's `bench` scenario's image.
const IMAGE_SIZE: &str = "512M";

#[derive(Clone, Copy, PartialEq, Eq)]
enum CopyMode {
    File,
    Bounce,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Workload {
    RandWrite,
    RandRead,
    Mixed,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::RandWrite => "randwrite",
            Workload::RandRead => "randread",
            Workload::Mixed => "mixed50",
        }
    }
}

/// The NAND under the backend.
#[derive(Clone, Copy, PartialEq, Eq)]
enum NandKind {
    Ram,
    Image,
    ImageLocked,
}

impl NandKind {
    fn name(self) -> &'static str {
        match self {
            NandKind::Ram => "ram",
            NandKind::Image => "image",
            NandKind::ImageLocked => "image-locked",
        }
    }
}

struct Options {
    secs: f64,
    reps: u32,
    threads: Vec<u32>,
    copy: CopyMode,
    nands: Vec<NandKind>,
    shards: Vec<u16>,
    workloads: Vec<Workload>,
}

fn options() -> Options {
    let mut o = Options {
        secs: 1.0,
        reps: 3,
        threads: vec![1, 2, 4],
        copy: CopyMode::File,
        nands: vec![NandKind::ImageLocked, NandKind::Image],
        shards: vec![1],
        workloads: vec![Workload::RandWrite, Workload::RandRead, Workload::Mixed],
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage(&a));
        match a.as_str() {
            "--secs" => o.secs = value().parse().unwrap_or_else(|_| usage("--secs")),
            "--reps" => o.reps = value().parse().unwrap_or_else(|_| usage("--reps")),
            "--threads" => {
                o.threads = value()
                    .split(',')
                    .map(|t| t.parse().unwrap_or_else(|_| usage("--threads")))
                    .collect()
            }
            "--copy" => {
                o.copy = match value().as_str() {
                    "file" => CopyMode::File,
                    "bounce" => CopyMode::Bounce,
                    _ => usage("--copy"),
                }
            }
            "--workloads" => {
                o.workloads = value()
                    .split(',')
                    .map(|w| match w {
                        "randwrite" => Workload::RandWrite,
                        "randread" => Workload::RandRead,
                        "mixed50" => Workload::Mixed,
                        _ => usage("--workloads"),
                    })
                    .collect()
            }
            "--shards" => {
                o.shards = value()
                    .split(',')
                    .map(|t| t.parse().unwrap_or_else(|_| usage("--shards")))
                    .collect()
            }
            "--nand" => {
                o.nands = value()
                    .split(',')
                    .map(|n| match n {
                        "ram" => NandKind::Ram,
                        "image" => NandKind::Image,
                        "image-locked" => NandKind::ImageLocked,
                        _ => usage("--nand"),
                    })
                    .collect()
            }
            _ => usage(&a),
        }
    }
    o
}

fn usage(bad: &str) -> ! {
    eprintln!("lock_contention: bad argument {bad}: [--secs S] [--reps R] [--threads 1,2,4] [--copy file|bounce] [--nand image-locked,image,ram] [--shards 1,2] [--workloads randwrite,randread,mixed50]");
    std::process::exit(2);
}

/// A scratch directory in `/dev/shm` (the journal's and the payload
/// file's), removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let d = base.join(format!("zcftl-lock-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("scratch dir");
        // The journal is named by an image file's identity.
        std::fs::write(d.join("image"), b"identity").expect("scratch image");
        Scratch(d)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The daemon's backend for `threads` queues of [`DEPTH`] tags: a 512 MiB
/// NAND shaped as `add --size 512M --shards N` shapes an image, the
/// daemon's cache, the crash journals; the region written once.
fn backend(dir: &Path, threads: u32, kind: NandKind, shards: u16) -> Shards {
    let (geo, op) = spec_for(Some(IMAGE_SIZE), None).expect("geometry");
    let nand = match kind {
        NandKind::Ram => {
            SimNand::new_ram_partitioned(geo, shards, SimOptions::default()).expect("nand")
        }
        NandKind::Image | NandKind::ImageLocked => SimNand::create_partitioned_image(
            &dir.join("nand.img"),
            geo,
            shards,
            SimOptions::default(),
        )
        .expect("image"),
    };
    let mut cfg = ftl_config(threads * DEPTH);
    cfg.over_provisioning_percent = op;
    let image = dir.join("image");
    let at = JournalAt { dir, image: &image };
    let cache = CACHE_BYTES / usize::from(shards);
    let parts = nand.into_parts().expect("parts").into_iter().map(|part| {
        let mut b = FtlBackend::with_config(part, true, cfg, cache, Some(at)).expect("backend");
        if kind == NandKind::ImageLocked {
            b = b.without_image_reader();
        }
        assert_eq!(b.transfers_outside_lock(), kind == NandKind::Image);
        b
    });
    let b = Shards::new(parts.collect());
    let mut buf = vec![0x3cu8; 128 * 4096];
    let counted = AtomicU64::new(0);
    let blocks = REGION_BYTES / 4096;
    for lba in (0..blocks).step_by(128) {
        b.write(0, lba, 128, false, &mut Bounce::new(&mut buf, &counted))
            .expect("prefill");
    }
    b.flush().expect("prefill flush");
    b
}

/// One thread's results.
#[derive(Default)]
struct Tally {
    ops: u64,
    /// Per request: total wait for the lock, total hold, and the wall time (ns).
    wait: Vec<u32>,
    hold: Vec<u32>,
    wall: Vec<u32>,
    acquisitions: u64,
}

fn ns(d: Duration) -> u32 {
    u32::try_from(d.as_nanos()).unwrap_or(u32::MAX)
}

/// Queue `q`'s loop: requests on its tags in turn until `stop`.
fn queue_loop(
    b: &Shards,
    q: u32,
    w: Workload,
    payload: &File,
    stop: &AtomicBool,
    copy: CopyMode,
) -> Tally {
    let mut t = Tally::default();
    let blocks = REGION_BYTES / 4096;
    let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ (u64::from(q) + 1).wrapping_mul(0xd6e8_feb8_6659_fd93);
    let mut bounce = vec![0x5au8; 4096];
    let counted = AtomicU64::new(0);
    drain_lock_times(|_| {});
    let mut tag = 0;
    while !stop.load(Ordering::Relaxed) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let lba = (x >> 16) % blocks;
        let write = match w {
            Workload::RandWrite => true,
            Workload::RandRead => false,
            Workload::Mixed => x & 1 == 0,
        };
        let handle = q * DEPTH + tag;
        tag = (tag + 1) % DEPTH;
        let start = Instant::now();
        let mut file_copy;
        let mut bounce_copy;
        let xfer: &mut dyn Transfer = match copy {
            CopyMode::File => {
                file_copy = UserCopy::new(payload.as_raw_fd(), u64::from(handle) * 4096);
                &mut file_copy
            }
            CopyMode::Bounce => {
                bounce_copy = Bounce::new(&mut bounce, &counted);
                &mut bounce_copy
            }
        };
        let r = if write {
            b.write(handle, lba, 1, false, xfer)
        } else {
            b.read(handle, lba, 1, xfer)
        };
        r.expect("request");
        let wall = start.elapsed();
        let (mut wait, mut hold) = (Duration::ZERO, Duration::ZERO);
        drain_lock_times(|l| {
            wait += l.wait;
            hold += l.hold;
            t.acquisitions += 1;
        });
        t.wait.push(ns(wait));
        t.hold.push(ns(hold));
        t.wall.push(ns(wall));
        t.ops += 1;
    }
    t
}

/// Percentile `p` (0..=100) of sorted `v`, in µs.
fn pct(v: &[u32], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let i = ((v.len() - 1) as f64 * p / 100.0).round() as usize;
    f64::from(v[i]) / 1000.0
}

fn mean(v: &[u32]) -> f64 {
    v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len().max(1) as f64 / 1000.0
}

fn dist(v: &mut [u32]) -> String {
    v.sort_unstable();
    format!(
        "{:6.2} {:6.2} {:6.2} {:6.2} {:7.1}",
        mean(v),
        pct(v, 50.0),
        pct(v, 99.0),
        pct(v, 99.9),
        pct(v, 100.0)
    )
}

/// One run of `w` on `threads` threads for `secs`.
fn run(
    b: &Arc<Shards>,
    threads: u32,
    w: Workload,
    payload: &Arc<File>,
    o: &Options,
) -> (f64, Tally) {
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|q| {
            let (b, stop, payload, copy) = (b.clone(), stop.clone(), payload.clone(), o.copy);
            std::thread::spawn(move || queue_loop(&b, q, w, &payload, &stop, copy))
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(o.secs));
    stop.store(true, Ordering::Relaxed);
    let mut all = Tally::default();
    for h in workers {
        let t = h.join().expect("worker");
        all.ops += t.ops;
        all.acquisitions += t.acquisitions;
        all.wait.extend(t.wait);
        all.hold.extend(t.hold);
        all.wall.extend(t.wall);
    }
    (start.elapsed().as_secs_f64(), all)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn main() {
    let o = options();
    let dir = Scratch::new();
    let max_threads = o.threads.iter().copied().max().unwrap_or(1);
    let payload = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(dir.0.join("payload"))
        .expect("payload file");
    // Real bytes in every (queue, tag) region: a WRITE's copy reads data,
    // not a hole.
    let region = vec![0xa7u8; (max_threads * DEPTH) as usize * 4096];
    payload.write_all_at(&region, 0).expect("payload fill");
    let payload = Arc::new(payload);
    println!(
        "lock_contention: {} × ({} s untimed, {} s timed) per case, copy={}, {IMAGE_SIZE} NAND, {} MiB region, crash journal in /dev/shm",
        o.reps,
        o.secs,
        o.secs,
        if o.copy == CopyMode::File { "file (preadv/pwritev)" } else { "bounce (memcpy)" },
        REGION_BYTES >> 20,
    );
    println!(
        "IOPS: median of the untimed runs (timed: of the timed runs); x: vs the first thread count"
    );
    println!("lock busy = Σhold / wall time; waiting = Σwait / (threads × wall time); per request, µs: mean p50 p99 p99.9 max");
    println!(
        "nand         sh th workload      IOPS   x    timed  busy  wait acq |    wait: mean    p50    p99  p99.9     max |    hold: mean    p50    p99  p99.9     max | request: mean    p50    p99  p99.9     max"
    );
    for (&kind, &shards) in o
        .nands
        .iter()
        .flat_map(|k| o.shards.iter().map(move |s| (k, s)))
    {
        let mut base = Vec::new();
        for &threads in &o.threads {
            let b = Arc::new(backend(&dir.0, threads, kind, shards));
            let time_lock = |on| b.parts().iter().for_each(|p| p.time_lock(on));
            for (k, &w) in o.workloads.iter().enumerate() {
                let (mut untimed, mut timed) = (Vec::new(), Vec::new());
                let mut pooled = Tally::default();
                let mut secs = 0.0;
                // Alternating, so both see the same noise from the machine.
                for _ in 0..o.reps {
                    time_lock(false);
                    let (s, t) = run(&b, threads, w, &payload, &o);
                    untimed.push(t.ops as f64 / s);
                    time_lock(true);
                    let (s, t) = run(&b, threads, w, &payload, &o);
                    timed.push(t.ops as f64 / s);
                    secs += s;
                    pooled.ops += t.ops;
                    pooled.acquisitions += t.acquisitions;
                    pooled.wait.extend(t.wait);
                    pooled.hold.extend(t.hold);
                    pooled.wall.extend(t.wall);
                }
                time_lock(false);
                let iops = median(untimed);
                if base.len() <= k {
                    base.push(iops);
                }
                let held: f64 = pooled.hold.iter().map(|&x| f64::from(x)).sum::<f64>() / 1e9;
                let waited: f64 = pooled.wait.iter().map(|&x| f64::from(x)).sum::<f64>() / 1e9;
                println!(
                "{:<12} {shards:>2} {threads:>2} {:<9} {iops:>8.0} {:>4.2} {:>8.0} {:>4.0}% {:>4.0}% {:>3.1} | {} | {} | {}",
                kind.name(),
                w.name(),
                iops / base[k],
                median(timed),
                100.0 * held / secs,
                100.0 * waited / (secs * f64::from(threads)),
                pooled.acquisitions as f64 / pooled.ops.max(1) as f64,
                dist(&mut pooled.wait),
                dist(&mut pooled.hold),
                dist(&mut pooled.wall),
            );
            }
        }
    }
}
