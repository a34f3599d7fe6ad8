//! Write amplification at real sizes, honestly counted: a sparse image file
//! of RAW_GIB GiB (4 MiB blocks of 256 × 16 KiB pages, 4 KiB sectors, 7 %
//! OP, default `FtlConfig`), a sequential fill of WRITE_GIB GiB, then an
//! eighth of that in uniform random 4 KiB writes. Prints the FTL's WA with
//! its meta share beside the simulator's own program counter, and the
//! mount time after a power cut.
//!
//! `cargo run --release -p zcftl-tests --example wa_at_scale -- RAW_GIB WRITE_GIB [IMAGE]`

use std::time::Instant;

use ftl_core::{Ftl, FtlConfig, Geometry, Handle, Lba, SlotMemory, SlotPool};
use simulator::{SimNand, SimOptions};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: wa_at_scale RAW_GIB WRITE_GIB [IMAGE]";
    let raw_gib: u32 = args.get(1).and_then(|s| s.parse().ok()).expect(usage);
    let write_gib: u64 = args.get(2).and_then(|s| s.parse().ok()).expect(usage);
    let image = args
        .get(3)
        .cloned()
        .unwrap_or_else(|| format!("/tmp/zcftl-wa-{raw_gib}g.img"));
    let geo = Geometry {
        blocks_per_plane: raw_gib * 256, // 4 MiB blocks
        pages_per_block: 256,
        ..Geometry::default()
    };
    let cfg = FtlConfig {
        over_provisioning_percent: 7,
        ..FtlConfig::default()
    };
    let nand = SimNand::create_image(image.as_ref(), geo, SimOptions::default()).expect("image");
    let pool = SlotPool::with_capacity(cfg.slots_for_budget(&geo, 64 << 20), 4096);
    let mut ftl = Ftl::format(nand, pool, cfg).expect("format");
    // The format's own checkpoint is not the workload's: count from here.
    let sim0 = ftl.nand().stats().programs;
    let st0 = ftl.stats();
    let n = ftl.logical_sectors();
    let seq = (write_gib << 30) / 4096;
    assert!(seq <= n, "writes exceed the logical capacity ({n} sectors)");
    let t = Instant::now();
    for lba in 0..seq {
        write(&mut ftl, lba);
    }
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..seq / 8 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        write(&mut ftl, x % seq);
    }
    ftl.flush().expect("flush");
    let secs = t.elapsed().as_secs_f64();
    let st = ftl.stats();
    let host = st.host_sectors_written as f64;
    let ftl_sectors = st.nand_sectors_written - st0.nand_sectors_written;
    let meta_sectors = st.meta_sectors_written - st0.meta_sectors_written;
    let programs = ftl.nand().stats().programs - sim0;
    let spp = geo.sectors_per_page() as u64;
    println!(
        "raw {raw_gib} GiB, logical {:.2} GiB, wrote {} GiB sequential + 1/8 random in {secs:.1} s",
        (n * 4096) as f64 / (1u64 << 30) as f64,
        write_gib
    );
    println!(
        "FTL's count: WA {:.3}, of which meta {:.3} ({} checkpoints, {} trim records); map {} MiB",
        ftl_sectors as f64 / host,
        meta_sectors as f64 / host,
        st.checkpoints - st0.checkpoints,
        st.trim_records - st0.trim_records,
        st.map_ram_bytes >> 20
    );
    println!(
        "simulator's program counter: {programs} pages, WA {:.3}",
        (programs * spp) as f64 / host
    );
    assert_eq!(
        ftl_sectors,
        programs * spp,
        "the FTL's count is the device's"
    );
    // A power cut now (the last flush is durable), then a mount.
    let (nand, pool) = ftl.into_parts();
    drop(nand);
    let nand = SimNand::open_image(image.as_ref(), SimOptions::default()).expect("reopen");
    let t = Instant::now();
    let ftl = Ftl::open(nand, pool, cfg).expect("mount");
    println!(
        "mount after the cut: {:.2} s, {} pages read, {} replayed",
        t.elapsed().as_secs_f64(),
        ftl.stats().mount_pages_read,
        ftl.stats().mount_pages_replayed
    );
    drop(ftl);
    let _ = std::fs::remove_file(&image);
}

fn write(ftl: &mut Ftl<SimNand, SlotPool<Vec<u8>>>, lba: u64) {
    let g = ftl.begin_write(Handle(0), Lba(lba), 1).expect("begin");
    let slot = ftl.write_slots(&g)[0];
    ftl.slot_memory_mut().slot_mut(slot)[..8].copy_from_slice(&lba.to_le_bytes());
    ftl.commit_write(g).expect("commit");
}
