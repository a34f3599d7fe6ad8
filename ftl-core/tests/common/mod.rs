//! Helpers shared by ftl-core's integration tests.
#![allow(dead_code)]

use ftl_core::testing::RamNand;
use ftl_core::{Ftl, FtlConfig, Geometry, Lba, SlotPool};

pub type TestFtl = Ftl<RamNand, SlotPool<Vec<u8>>>;

/// A config for small test geometries.
pub fn config() -> FtlConfig {
    FtlConfig {
        handles: 4,
        max_io_sectors: 8,
        over_provisioning_percent: 20,
        ..FtlConfig::default()
    }
}

/// A freshly formatted FTL over `geo` with `extra` slots beyond the minimum.
pub fn fresh(geo: Geometry, cfg: FtlConfig, extra: u32) -> TestFtl {
    let pool = SlotPool::with_capacity(cfg.min_slots(&geo) + extra, geo.sector_size as usize);
    Ftl::format(RamNand::new(geo), pool, cfg).expect("format")
}

/// Remounts: what a clean restart does (flush, then open from the NAND).
pub fn remount(mut ftl: TestFtl) -> TestFtl {
    ftl.flush().expect("flush");
    let cfg = ftl.config();
    let (nand, pool) = ftl.into_parts();
    Ftl::open(nand, pool, cfg).expect("open")
}

/// A sector whose bytes identify (lba, version).
pub fn pattern(size: usize, lba: u64, version: u32) -> Vec<u8> {
    let mut v = vec![0u8; size];
    for (i, chunk) in v.chunks_mut(8).enumerate() {
        let word = lba.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (u64::from(version) << 40) ^ i as u64;
        chunk.copy_from_slice(&word.to_le_bytes()[..chunk.len()]);
    }
    v
}

/// Reads one sector through the copying convenience path.
pub fn read_sector(ftl: &mut TestFtl, lba: u64) -> Vec<u8> {
    let mut buf = vec![0u8; ftl.sector_size()];
    ftl.read(Lba(lba), &mut buf).expect("read");
    buf
}

/// A tiny deterministic PRNG (SplitMix64) for workloads.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}
