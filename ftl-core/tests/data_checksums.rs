//! `FtlConfig::data_checksums`: on (the default), a data page whose data
//! changed on the media is refused; off, its data is not checked, but its
//! spare-area record still is, and GC and a remount work as ever.

mod common;

use common::*;
use ftl_core::nand::{Nand, ReadStatus};
use ftl_core::testing::RamNand;
use ftl_core::{BlockIdx, Error, Ftl, FtlConfig, Geometry, Lba, NandErrorKind, Ppa, SlotPool};

/// A RAM NAND whose reads can come back with one data byte or one byte of
/// the spare-area record flipped (rot the FTL should or should not see).
struct Rotting {
    inner: RamNand,
    rot_data: bool,
    rot_record: bool,
}

impl Nand for Rotting {
    type Error = NandErrorKind;

    fn geometry(&self) -> Geometry {
        self.inner.geometry()
    }

    fn read_page(
        &mut self,
        ppa: Ppa,
        data: &mut [&mut [u8]],
        oob: &mut [u8],
    ) -> Result<ReadStatus, NandErrorKind> {
        let st = self.inner.read_page(ppa, data, oob)?;
        if self.rot_data {
            if let Some(b) = data.first_mut().and_then(|d| d.first_mut()) {
                *b ^= 0x10;
            }
        }
        if self.rot_record {
            // The sequence number, inside the record's own crc.
            oob[9] ^= 0x10;
        }
        Ok(st)
    }

    fn program_page(&mut self, ppa: Ppa, data: &[&[u8]], oob: &[u8]) -> Result<(), NandErrorKind> {
        self.inner.program_page(ppa, data, oob)
    }

    fn erase_block(&mut self, block: BlockIdx) -> Result<(), NandErrorKind> {
        self.inner.erase_block(block)
    }

    fn is_bad_block(&mut self, block: BlockIdx) -> Result<bool, NandErrorKind> {
        self.inner.is_bad_block(block)
    }

    fn mark_bad_block(&mut self, block: BlockIdx) -> Result<(), NandErrorKind> {
        self.inner.mark_bad_block(block)
    }
}

type RotFtl = Ftl<Rotting, SlotPool<Vec<u8>>>;

fn geo() -> Geometry {
    Geometry::small(16, 8)
}

/// Formats with `cfg`, writes `lbas` sectors (version `v`), flushes and
/// remounts, so every later read misses the cache and reads the media.
fn written(cfg: FtlConfig, lbas: u64, v: u32) -> RotFtl {
    let g = geo();
    let nand = Rotting {
        inner: RamNand::new(g),
        rot_data: false,
        rot_record: false,
    };
    let pool = SlotPool::with_capacity(cfg.min_slots(&g) + 16, g.sector_size as usize);
    let mut ftl = Ftl::format(nand, pool, cfg).expect("format");
    for lba in 0..lbas {
        ftl.write(Lba(lba), &pattern(4096, lba, v)).unwrap();
    }
    ftl.flush().unwrap();
    let (nand, pool) = ftl.into_parts();
    Ftl::open(nand, pool, cfg).expect("open")
}

fn read(ftl: &mut RotFtl, lba: u64) -> Result<Vec<u8>, Error<NandErrorKind>> {
    let mut buf = vec![0u8; 4096];
    ftl.read(Lba(lba), &mut buf).map(|()| buf)
}

fn unchecked() -> FtlConfig {
    FtlConfig {
        data_checksums: false,
        ..config()
    }
}

#[test]
fn checksums_on_refuse_rotten_data() {
    let mut ftl = written(config(), 8, 1);
    ftl.nand_mut().rot_data = true;
    assert!(matches!(
        read(&mut ftl, 0),
        Err(Error::Uncorrectable { .. })
    ));
}

#[test]
fn checksums_off_pass_rotten_data_but_check_the_record() {
    let mut ftl = written(unchecked(), 8, 1);
    ftl.nand_mut().rot_data = true;
    let mut want = pattern(4096, 0, 1);
    want[0] ^= 0x10;
    assert_eq!(read(&mut ftl, 0).unwrap(), want, "data is not checked");

    let mut ftl = written(unchecked(), 8, 1);
    ftl.nand_mut().rot_record = true;
    assert!(
        matches!(read(&mut ftl, 1), Err(Error::Uncorrectable { .. })),
        "the record's own crc is"
    );
}

/// With checksums off the FTL's own pages are still checked and its
/// decisions are the same: GC, checkpoints and a remount give the same
/// data and the same counters as with them on.
#[test]
fn checksums_off_change_nothing_else() {
    let run = |cfg: FtlConfig| {
        let mut ftl = fresh(geo(), cfg, 16);
        let n = ftl.logical_sectors();
        let mut rng = Rng(7);
        let mut versions = vec![0u32; n as usize];
        for v in 1..=(4 * n as u32) {
            let lba = rng.below(n);
            ftl.write(Lba(lba), &pattern(4096, lba, v)).unwrap();
            versions[lba as usize] = v;
        }
        let st = ftl.stats();
        assert!(st.gc_runs > 0, "{st:?}");
        let written = (st.nand_sectors_written, st.gc_moved_sectors, st.erases);
        let mut ftl = remount(ftl);
        for (lba, &v) in versions.iter().enumerate() {
            let want = if v == 0 {
                vec![0; 4096]
            } else {
                pattern(4096, lba as u64, v)
            };
            assert_eq!(read_sector(&mut ftl, lba as u64), want, "lba {lba}");
        }
        ftl.check_integrity().unwrap();
        (written, ftl.nand().ops)
    };
    assert_eq!(run(config()), run(unchecked()));
}
