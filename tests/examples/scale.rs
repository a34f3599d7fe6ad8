//! zcftl at real sizes, honestly counted, over the simulator's sparse image
//! file (4 MiB blocks of 256 × 16 KiB pages, 4 KiB sectors).
//!
//! ```text
//! cargo run --release -p zcftl-tests --example scale -- RAW_GIB WORKLOAD AMOUNT [IMAGE]
//!   seq N       N GiB written sequentially from LBA 0
//!   uniform N   N × the logical capacity in uniform random 4 KiB writes, then
//!               as many reads (at most 4 M)
//!   zipf N      N GiB of zipf(0.99) random 4 KiB writes, then as many reads
//! env: ZC_OP=7 (over-provisioning %), ZC_PERMILLE (translation write-back),
//!      ZC_MAP_BUDGET=MiB (a demand-paged map in that budget; default: whole)
//! ```
//!
//! Prints the FTL's write amplification with the share of each kind of its
//! own pages beside the simulator's program counter (they must agree), the
//! FTL's table RAM by its own accounting and the process's peak anonymous
//! RSS less the slot pool, then cuts power (no flush, no checkpoint: a
//! full interval of writes pending) and times the mount.
//!
//! The payload is zeros: the simulator punches a hole when it erases a
//! block and writes no zero sector into one, so the image stays sparse (a
//! 64 GiB device fits this machine's disk). The FTL does the same work for
//! any payload (crc, programs, GC reads).

use std::time::Instant;

use ftl_core::{Ftl, FtlConfig, Geometry, Handle, Lba, Nand, SlotMemory, SlotPool};
use simulator::workload::{scramble, Zipf};
use simulator::{SimNand, SimOptions};
use zcftl_tests::rng::Rng;

type SimFtl = Ftl<SimNand, SlotPool<Vec<u8>>>;

const GIB: u64 = 1 << 30;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: scale RAW_GIB (seq|uniform|zipf|mount) AMOUNT [IMAGE]";
    let raw_gib: u32 = args.get(1).and_then(|s| s.parse().ok()).expect(usage);
    let workload = args.get(2).cloned().expect(usage);
    let amount: f64 = args.get(3).and_then(|s| s.parse().ok()).expect(usage);
    let image = args
        .get(4)
        .cloned()
        .unwrap_or_else(|| format!("/tmp/zcftl-scale-{raw_gib}g.img"));
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u16>().ok());
    let geo = Geometry {
        blocks_per_plane: raw_gib * 256,
        pages_per_block: 256,
        ..Geometry::default()
    };
    let cfg = FtlConfig {
        over_provisioning_percent: env("ZC_OP").map_or(7, |v| v as u8),
        translation_write_permille: env("ZC_PERMILLE")
            .unwrap_or(FtlConfig::default().translation_write_permille),
        map_budget_bytes: env("ZC_MAP_BUDGET").map_or(0, |m| u64::from(m) << 20),
        ..FtlConfig::default()
    };
    let slots = cfg.slots_for_budget(&geo, 64 << 20);
    let pool_bytes = u64::from(slots) * 4096;
    if workload == "mount" {
        // Times a mount of an image a run left (ZC_KEEP_IMAGE=1).
        let nand = SimNand::open_image(image.as_ref(), SimOptions::default()).expect("open");
        let t = Instant::now();
        let ftl = Ftl::open(nand, SlotPool::with_capacity(slots, 4096), cfg).expect("mount");
        let s = ftl.stats();
        println!(
            "mount: {:.3} s, {} pages read, {} events replayed",
            t.elapsed().as_secs_f64(),
            s.mount_pages_read,
            s.mount_pages_replayed
        );
        return;
    }
    let mut nand =
        SimNand::create_image(image.as_ref(), geo, SimOptions::default()).expect("image");
    nand.punch_erased_blocks(true);
    let mut ftl = Ftl::format(nand, SlotPool::with_capacity(slots, 4096), cfg).expect("format");
    // Every slot resident, so the pool is exactly what RssAnon less the
    // FTL's tables shows.
    for id in 0..slots {
        ftl.slot_memory_mut().slot_mut(ftl_core::SlotId(id))[0] = 0;
    }
    let n = ftl.logical_sectors();
    println!(
        "raw {raw_gib} GiB, logical {:.2} GiB, OP {:.1} % (reserve included), {} translation pages",
        (n * 4096) as f64 / GIB as f64,
        100.0 * cfg.effective_op(&geo),
        ftl.stats().translation_pages
    );
    let sim0 = ftl.nand().stats().programs;
    let st0 = ftl.stats();
    let mut peak_anon = rss_anon();
    let t = Instant::now();
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let writes = match workload.as_str() {
        "seq" => {
            let k = ((amount * GIB as f64) as u64 / 4096).min(n);
            for lba in 0..k {
                write(&mut ftl, lba);
                sample(lba, &mut peak_anon);
            }
            k
        }
        "uniform" => {
            let k = (amount * n as f64) as u64;
            for i in 0..k {
                write(&mut ftl, rng.below(n));
                sample(i, &mut peak_anon);
            }
            k
        }
        "zipf" => {
            let k = (amount * GIB as f64) as u64 / 4096;
            let z = Zipf::new(n, 0.99).expect("n ≥ 1");
            for i in 0..k {
                write(&mut ftl, scramble(z.sample_with(|| rng.below(1 << 53)), n));
                sample(i, &mut peak_anon);
            }
            k
        }
        _ => panic!("{usage}"),
    };
    let write_secs = t.elapsed().as_secs_f64();
    let st = ftl.stats();
    let host = (st.host_sectors_written - st0.host_sectors_written) as f64;
    let spp = geo.sectors_per_page() as u64;
    let share = |now: u64, then: u64| ((now - then) * spp) as f64 / host;
    let programs = ftl.nand().stats().programs - sim0;
    println!(
        "{workload} {amount}: {writes} writes of 4 KiB in {write_secs:.1} s ({:.0} writes/s)",
        writes as f64 / write_secs
    );
    println!(
        "WA {:.3} (simulator's program counter: {:.3}); the FTL's own pages {:.4} = translation {:.4} + checkpoint {:.4} + summary {:.4} + trim records; GC moved {:.3}",
        share(st.nand_pages_programmed, st0.nand_pages_programmed),
        (programs * spp) as f64 / host,
        (st.meta_sectors_written - st0.meta_sectors_written) as f64 / host,
        share(st.translation_pages_written, st0.translation_pages_written),
        share(st.checkpoint_pages_written, st0.checkpoint_pages_written),
        share(st.summary_pages_written, st0.summary_pages_written),
        (st.gc_moved_sectors - st0.gc_moved_sectors) as f64 / host,
    );
    assert_eq!(
        st.nand_pages_programmed - st0.nand_pages_programmed,
        programs,
        "the FTL's count is the device's"
    );
    map_cache(&st, &st0, "writes");
    if workload == "zipf" || workload == "uniform" {
        // As many reads as writes (at most 4 M), drawn the same way.
        let reads = writes.min(4 << 20);
        let t = Instant::now();
        let (h0, m0) = (st.cache_hits, st.cache_misses);
        let z = Zipf::new(n, 0.99).expect("n ≥ 1");
        let mut buf = vec![0u8; 4096];
        for i in 0..reads {
            let lba = match workload.as_str() {
                "zipf" => scramble(z.sample_with(|| rng.below(1 << 53)), n),
                _ => rng.below(n),
            };
            ftl.read(Lba(lba), &mut buf).expect("read");
            sample(i, &mut peak_anon);
        }
        let s = ftl.stats();
        map_cache(&s, &st, "reads");
        println!(
            "{workload} reads: {reads} in {:.1} s ({:.0} reads/s), slot-cache hit rate {:.3}",
            t.elapsed().as_secs_f64(),
            reads as f64 / t.elapsed().as_secs_f64(),
            (s.cache_hits - h0) as f64 / ((s.cache_hits - h0) + (s.cache_misses - m0)) as f64
        );
    }
    peak_anon = peak_anon.max(rss_anon());
    let st = ftl.stats();
    println!(
        "FTL tables {:.1} MiB (map {:.1}, translation {:.2}, validity {:.1}, blocks {:.1}, cache tables {:.2}); \
         peak RssAnon {:.1} MiB − slot pool {:.1} MiB = {:.1} MiB; {} of {} translation pages dirty",
        (st.table_ram_bytes() + st.cache_table_ram_bytes) as f64 / (1 << 20) as f64,
        st.map_ram_bytes as f64 / (1 << 20) as f64,
        st.translation_ram_bytes as f64 / (1 << 20) as f64,
        st.validity_ram_bytes as f64 / (1 << 20) as f64,
        st.block_table_ram_bytes as f64 / (1 << 20) as f64,
        st.cache_table_ram_bytes as f64 / (1 << 20) as f64,
        peak_anon as f64 / (1 << 20) as f64,
        pool_bytes as f64 / (1 << 20) as f64,
        peak_anon.saturating_sub(pool_bytes) as f64 / (1 << 20) as f64,
        st.dirty_translation_pages,
        st.translation_pages,
    );
    // A power cut: no flush, no checkpoint; the rest of RAM is gone. What
    // was programmed is on the simulated NAND; the image file is synced
    // first so that the mount's own sync does not pay the host's page-cache
    // write-back debt of the whole run (not the FTL's work).
    ftl.nand_mut().sync().expect("sync the image");
    let (nand, pool) = ftl.into_parts();
    drop(nand);
    let mut nand = SimNand::open_image(image.as_ref(), SimOptions::default()).expect("reopen");
    nand.punch_erased_blocks(true);
    let t = Instant::now();
    let ftl = Ftl::open(nand, pool, cfg).expect("mount");
    let s = ftl.stats();
    println!(
        "mount after the cut: {:.3} s, {} pages read, {} events replayed",
        t.elapsed().as_secs_f64(),
        s.mount_pages_read,
        s.mount_pages_replayed
    );
    drop(ftl);
    if std::env::var_os("ZC_KEEP_IMAGE").is_none() {
        let _ = std::fs::remove_file(&image);
    }
}

/// The demand-paged map's cache over a phase (`then` to `now`).
fn map_cache(now: &ftl_core::Stats, then: &ftl_core::Stats, phase: &str) {
    if now.map_cache_entries == 0 {
        return;
    }
    let (h, m) = (
        now.map_cache_hits - then.map_cache_hits,
        now.map_cache_misses - then.map_cache_misses,
    );
    println!(
        "map cache ({phase}): {} entries, hit rate {:.3} ({h} hits, {m} misses), {} pressure write-backs",
        now.map_cache_entries,
        h as f64 / (h + m).max(1) as f64,
        now.map_pressure_write_backs - then.map_pressure_write_backs
    );
}

fn write(ftl: &mut SimFtl, lba: u64) {
    let g = ftl.begin_write(Handle(0), Lba(lba), 1).expect("begin");
    ftl.commit_write(g).expect("commit");
}

fn sample(i: u64, peak: &mut u64) {
    if i % (1 << 18) == 0 {
        *peak = (*peak).max(rss_anon());
    }
    if i % (1 << 23) == 0 && i > 0 {
        eprintln!("  ... {} Mi operations", i >> 20);
    }
}

/// The process's anonymous resident memory, bytes (`RssAnon` in
/// /proc/self/status).
fn rss_anon() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}
