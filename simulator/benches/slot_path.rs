//! The FTL's CPU cost per 4 KiB I/O on the zero-copy slot path, over the
//! simulated NAND in RAM: random writes at steady state (GC, wear leveling
//! and checkpoints included), reads served from the cache, and reads that
//! miss and load a page from flash. Run:
//! `cargo bench -p simulator --bench slot_path`.
//!
//! The workload is seeded, so two builds measured side by side see the
//! same operations.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use ftl_core::{Ftl, FtlConfig, Geometry, Handle, Lba, Segment, SlotMemory, SlotPool};
use simulator::{SimNand, SimOptions};

type SimFtl = Ftl<SimNand, SlotPool<Vec<u8>>>;

/// 256 MiB of raw flash (256 blocks × 64 pages × 16 KiB); 20 % OP.
fn geometry() -> Geometry {
    Geometry::small(256, 64)
}

/// An FTL whose logical space has been written once, then overwritten at
/// random once more (steady state), with `cache_slots` slots beyond the
/// minimum.
fn warmed(cache_slots: u32) -> SimFtl {
    let geo = geometry();
    let cfg = FtlConfig {
        over_provisioning_percent: 20,
        ..FtlConfig::default()
    };
    let nand = SimNand::new_ram(geo, SimOptions::default()).expect("nand");
    let pool = SlotPool::with_capacity(cfg.min_slots(&geo) + cache_slots, 4096);
    let mut ftl = Ftl::format(nand, pool, cfg).expect("format");
    let n = ftl.logical_sectors();
    let mut rng = Rng(7);
    for l in 0..n {
        write(&mut ftl, l, l as u8);
    }
    for _ in 0..n {
        let l = rng.below(n);
        write(&mut ftl, l, 1);
    }
    ftl.flush().expect("flush");
    ftl
}

fn write(ftl: &mut SimFtl, lba: u64, fill: u8) {
    let g = ftl
        .begin_write(Handle(0), Lba(lba), 1)
        .expect("begin_write");
    let slot = ftl.write_slots(&g)[0];
    ftl.slot_memory_mut().slot_mut(slot).fill(fill);
    ftl.commit_write(g).expect("commit_write");
}

fn read(ftl: &mut SimFtl, lba: u64) -> u8 {
    let r = ftl.begin_read(Handle(0), Lba(lba), 1).expect("begin_read");
    let b = match ftl.read_segments(&r)[0] {
        Segment::Slot(s) => ftl.slot_memory().slot(s)[0],
        Segment::Zero => 0,
    };
    ftl.end_read(r);
    b
}

/// xorshift64: a fixed, dependency-free LBA stream.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn slot_path(c: &mut Criterion) {
    let mut g = c.benchmark_group("slot_path_4k");
    // Each FTL is built only when its benchmark runs (a filter skips it).
    let mut ftl = None;
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    g.bench_function("write_random", |b| {
        let ftl = ftl.get_or_insert_with(|| warmed(64));
        let n = ftl.logical_sectors();
        b.iter(|| write(ftl, rng.below(n), 0x5A))
    });

    // A hot set smaller than the cache: every read after the first is a hit.
    let hot = 1024;
    let mut ftl = None;
    let mut rng = Rng(11);
    g.bench_function("read_hit", |b| {
        let ftl = ftl.get_or_insert_with(|| {
            let mut f = warmed(4096);
            for l in 0..hot {
                read(&mut f, l);
            }
            f
        });
        b.iter(|| std::hint::black_box(read(ftl, rng.below(hot))))
    });

    // The smallest cache over the whole device: nearly every read loads a
    // page from flash.
    let mut ftl = None;
    let mut rng = Rng(13);
    g.bench_function("read_miss", |b| {
        let ftl = ftl.get_or_insert_with(|| warmed(0));
        let n = ftl.logical_sectors();
        b.iter_batched(
            || rng.below(n),
            |l| std::hint::black_box(read(ftl, l)),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, slot_path);
criterion_main!(benches);
