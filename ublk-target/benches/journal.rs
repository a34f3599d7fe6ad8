//! What the crash journal costs a WRITE: random 4 KiB writes through the
//! FTL backend (the daemon's data path minus the kernel copy: a `Bounce`
//! transfer stands in for `preadv`) on a simulated NAND in RAM, with the
//! slot pool private (no journal) and in a `/dev/shm` journal that every
//! operation publishes to. Run: `cargo bench -p ublk-target --bench journal`.

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;

use criterion::{criterion_group, criterion_main, Criterion};
use ftl_core::Geometry;
use ftl_ublk::backend::Backend;
use ftl_ublk::copy::Bounce;
use ftl_ublk::ftl_backend::{FtlBackend, JournalAt};
use simulator::{SimNand, SimOptions};

fn scratch() -> PathBuf {
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let d = base.join(format!("zcftl-bench-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("scratch dir");
    std::fs::write(d.join("image"), b"identity").expect("scratch image");
    d
}

fn backend(dir: &std::path::Path, journal: bool) -> FtlBackend {
    // 256 MiB of raw flash: room for GC to stay cheap.
    let nand = SimNand::new_ram(Geometry::small(256, 64), SimOptions::default()).expect("nand");
    let image = dir.join("image");
    let at = JournalAt { dir, image: &image };
    let part = nand.into_parts().expect("one part").remove(0);
    FtlBackend::new(part, true, 4, 64 << 20, journal.then_some(at)).expect("backend")
}

fn writes(c: &mut Criterion) {
    let dir = scratch();
    let mut g = c.benchmark_group("write_4k_random");
    for journal in [false, true] {
        let b = backend(&dir, journal);
        let span = b.blocks() / 2;
        let counted = AtomicU64::new(0);
        let mut data = vec![0x5au8; 4096];
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let name = if journal {
            "crash_journal"
        } else {
            "private_pool"
        };
        g.bench_function(name, |bench| {
            bench.iter(|| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let lba = x % span;
                b.write(0, lba, 1, false, &mut Bounce::new(&mut data, &counted))
                    .expect("write");
            })
        });
    }
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, writes);
criterion_main!(benches);
