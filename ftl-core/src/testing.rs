//! A minimal, strict in-memory [`Nand`] for this crate's own tests and
//! examples, and a reference for driver writers: it enforces erase-before-
//! program and in-order pages, and nothing else (no faults, no power cuts —
//! the `simulator` crate has those).

use alloc::vec::Vec;

use crate::addr::{BlockIdx, Ppa};
use crate::geometry::Geometry;
use crate::nand::{self, Nand, NandErrorKind, ReadStatus};

/// NAND in RAM: data and spare per page, a write pointer per block.
#[derive(Debug, Clone)]
pub struct RamNand {
    geo: Geometry,
    data: Vec<u8>,
    oob: Vec<u8>,
    next_page: Vec<u32>,
    bad: Vec<bool>,
    /// Erases per block.
    pub erases: Vec<u32>,
    /// Operations performed: (reads, programs, erases).
    pub ops: (u64, u64, u64),
}

impl RamNand {
    /// Erased media of geometry `geo`.
    pub fn new(geo: Geometry) -> Self {
        let pages = (geo.total_blocks() * geo.pages_per_block) as usize;
        RamNand {
            geo,
            data: alloc::vec![0xFF; pages * geo.page_size as usize],
            oob: alloc::vec![0xFF; pages * geo.oob_size as usize],
            next_page: alloc::vec![0; geo.total_blocks() as usize],
            bad: alloc::vec![false; geo.total_blocks() as usize],
            erases: alloc::vec![0; geo.total_blocks() as usize],
            ops: (0, 0, 0),
        }
    }

    fn page_index(&self, ppa: Ppa) -> usize {
        (ppa.block.0 * self.geo.pages_per_block + ppa.page) as usize
    }
}

impl Nand for RamNand {
    type Error = NandErrorKind;

    fn geometry(&self) -> Geometry {
        self.geo
    }

    fn read_page(
        &mut self,
        ppa: Ppa,
        data: &mut [&mut [u8]],
        oob: &mut [u8],
    ) -> Result<ReadStatus, NandErrorKind> {
        nand::check_read_args(&self.geo, ppa, data, oob)?;
        self.ops.0 += 1;
        let i = self.page_index(ppa);
        let ps = self.geo.page_size as usize;
        let os = self.geo.oob_size as usize;
        nand::scatter(&self.data[i * ps..(i + 1) * ps], data);
        oob.copy_from_slice(&self.oob[i * os..i * os + oob.len()]);
        Ok(ReadStatus::default())
    }

    fn program_page(&mut self, ppa: Ppa, data: &[&[u8]], oob: &[u8]) -> Result<(), NandErrorKind> {
        nand::check_program_args(&self.geo, ppa, data, oob)?;
        let b = ppa.block.0 as usize;
        if self.bad[b] {
            return Err(NandErrorKind::BadBlock);
        }
        if self.next_page[b] != ppa.page {
            return Err(NandErrorKind::ProgramOrder);
        }
        self.next_page[b] += 1;
        self.ops.1 += 1;
        let i = self.page_index(ppa);
        let ps = self.geo.page_size as usize;
        let os = self.geo.oob_size as usize;
        nand::gather(data, &mut self.data[i * ps..(i + 1) * ps]);
        self.oob[i * os..(i + 1) * os].fill(0xFF);
        self.oob[i * os..i * os + oob.len()].copy_from_slice(oob);
        Ok(())
    }

    fn erase_block(&mut self, block: BlockIdx) -> Result<(), NandErrorKind> {
        nand::check_block(&self.geo, block)?;
        let b = block.0 as usize;
        if self.bad[b] {
            return Err(NandErrorKind::BadBlock);
        }
        let ppb = self.geo.pages_per_block as usize;
        let (ps, os) = (self.geo.page_size as usize, self.geo.oob_size as usize);
        self.data[b * ppb * ps..(b + 1) * ppb * ps].fill(0xFF);
        self.oob[b * ppb * os..(b + 1) * ppb * os].fill(0xFF);
        self.next_page[b] = 0;
        self.erases[b] += 1;
        self.ops.2 += 1;
        Ok(())
    }

    fn is_bad_block(&mut self, block: BlockIdx) -> Result<bool, NandErrorKind> {
        nand::check_block(&self.geo, block)?;
        Ok(self.bad[block.0 as usize])
    }

    fn mark_bad_block(&mut self, block: BlockIdx) -> Result<(), NandErrorKind> {
        nand::check_block(&self.geo, block)?;
        self.bad[block.0 as usize] = true;
        Ok(())
    }
}
