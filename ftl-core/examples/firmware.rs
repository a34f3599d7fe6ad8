//! A firmware-style embedding of ftl-core: a NAND "driver" over a static
//! memory array (standing in for a controller with DMA), the slot pool in a
//! static buffer (as DMA-able SRAM would be), and a few writes and reads
//! through the zero-copy slot path. No heap is touched by the driver; the
//! FTL's own tables are allocated once at init, sized from the geometry.
//!
//! Run with `cargo run -p ftl-core --example firmware`.

use core::ptr::addr_of_mut;

use ftl_core::nand::{self, Nand, NandErrorKind, ReadStatus};
use ftl_core::{
    BlockIdx, Ftl, FtlConfig, Geometry, Handle, Lba, Ppa, Segment, SlotMemory, SlotPool,
};

const GEO: Geometry = Geometry {
    channels: 1,
    dies_per_channel: 1,
    planes_per_die: 1,
    blocks_per_plane: 16,
    pages_per_block: 16,
    page_size: 8192,
    sector_size: 4096,
    oob_size: 64,
};
const PAGES: usize = 16 * 16;
const FLASH_BYTES: usize = PAGES * (8192 + 64);
const SLOTS: usize = 32;

/// The "flash chip": data and spare of every page, back to back.
static mut FLASH: [u8; FLASH_BYTES] = [0xFF; FLASH_BYTES];
/// The cache: DMA-able memory for the slots.
static mut SLOT_RAM: [u8; SLOTS * 4096] = [0; SLOTS * 4096];

/// A driver over memory-mapped flash. Real firmware would program the
/// controller's DMA descriptors from the scatter lists instead of copying.
struct ArrayNand {
    flash: &'static mut [u8],
    bad: [bool; 16],
}

impl ArrayNand {
    fn page(&mut self, ppa: Ppa) -> (&mut [u8], &mut [u8]) {
        let i = (ppa.block.0 * GEO.pages_per_block + ppa.page) as usize;
        let rec = &mut self.flash[i * (8192 + 64)..(i + 1) * (8192 + 64)];
        rec.split_at_mut(8192)
    }
}

impl Nand for ArrayNand {
    type Error = NandErrorKind;

    fn geometry(&self) -> Geometry {
        GEO
    }

    fn read_page(
        &mut self,
        ppa: Ppa,
        data: &mut [&mut [u8]],
        oob: &mut [u8],
    ) -> Result<ReadStatus, Self::Error> {
        nand::check_read_args(&GEO, ppa, data, oob)?;
        let (d, s) = self.page(ppa);
        nand::scatter(d, data);
        oob.copy_from_slice(&s[..oob.len()]);
        Ok(ReadStatus::default())
    }

    fn program_page(&mut self, ppa: Ppa, data: &[&[u8]], oob: &[u8]) -> Result<(), Self::Error> {
        nand::check_program_args(&GEO, ppa, data, oob)?;
        if self.bad[ppa.block.0 as usize] {
            return Err(NandErrorKind::BadBlock);
        }
        let (d, s) = self.page(ppa);
        // NAND can only clear bits: a page must be erased before a program.
        if d.iter().chain(s.iter()).any(|&b| b != 0xFF) {
            return Err(NandErrorKind::ProgramOrder);
        }
        nand::gather(data, d);
        s[..oob.len()].copy_from_slice(oob);
        Ok(())
    }

    fn erase_block(&mut self, block: BlockIdx) -> Result<(), Self::Error> {
        nand::check_block(&GEO, block)?;
        for p in 0..GEO.pages_per_block {
            let (d, s) = self.page(Ppa::new(block, p));
            d.fill(0xFF);
            s.fill(0xFF);
        }
        Ok(())
    }

    fn is_bad_block(&mut self, block: BlockIdx) -> Result<bool, Self::Error> {
        nand::check_block(&GEO, block)?;
        Ok(self.bad[block.0 as usize])
    }

    fn mark_bad_block(&mut self, block: BlockIdx) -> Result<(), Self::Error> {
        nand::check_block(&GEO, block)?;
        self.bad[block.0 as usize] = true;
        Ok(())
    }
}

fn main() {
    // SAFETY: taken exactly once, at "boot", before anything else can reach
    // these statics; from here on the driver and the pool own them.
    let (flash, slot_ram) = unsafe { (&mut *addr_of_mut!(FLASH), &mut *addr_of_mut!(SLOT_RAM)) };
    let nand = ArrayNand {
        flash,
        bad: [false; 16],
    };
    let pool = SlotPool::new(&mut slot_ram[..], 4096);
    let cfg = FtlConfig {
        handles: 2,
        max_io_sectors: 4,
        over_provisioning_percent: 25,
        ..FtlConfig::default()
    };
    assert!(pool.slot_count() >= cfg.min_slots(&GEO));
    let mut ftl = Ftl::format(nand, pool, cfg).expect("format");
    println!("formatted: {} sectors of 4 KiB", ftl.logical_sectors());

    // A host command on handle 0 writes 3 sectors: its "DMA" fills the
    // granted slots directly.
    let g = ftl.begin_write(Handle(0), Lba(10), 3).expect("begin_write");
    for (i, &slot) in ftl.write_slots(&g).to_vec().iter().enumerate() {
        ftl.slot_memory_mut().slot_mut(slot).fill(b'a' + i as u8);
    }
    ftl.commit_write(g).expect("commit");
    ftl.flush().expect("flush");

    // Scattered overwrites elsewhere push that data out of the cache and
    // keep garbage collection busy.
    let mut x = 1u64;
    for i in 0..3000u64 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let lba = 20 + (x >> 33) % (ftl.logical_sectors() - 20);
        let g = ftl
            .begin_write(Handle(1), Lba(lba), 1)
            .expect("begin_write");
        let slot = ftl.write_slots(&g)[0];
        ftl.slot_memory_mut().slot_mut(slot).fill(i as u8);
        ftl.commit_write(g).expect("commit");
    }

    // The read names the slots holding the data; the "DMA" reads them.
    let r = ftl.begin_read(Handle(0), Lba(10), 3).expect("begin_read");
    for (i, seg) in ftl.read_segments(&r).iter().enumerate() {
        let Segment::Slot(s) = *seg else {
            panic!("sector {i} unmapped")
        };
        assert!(ftl
            .slot_memory()
            .slot(s)
            .iter()
            .all(|&b| b == b'a' + i as u8));
    }
    ftl.end_read(r);

    let st = ftl.stats();
    println!(
        "ok: WA {:.2}, GC runs {}, erases {}, cache hits {} misses {}, payload bytes copied {}",
        st.write_amplification(),
        st.gc_runs,
        st.erases,
        st.cache_hits,
        st.cache_misses,
        st.bytes_copied
    );
    assert_eq!(st.bytes_copied, 0);
    assert!(st.gc_runs > 0);
}
