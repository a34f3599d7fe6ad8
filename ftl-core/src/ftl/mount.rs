//! Bringing an FTL up: format fresh media, or mount what is on flash.
//!
//! Mounting scans every block's pages and trusts only pages whose record
//! and data both verify (torn programs and foreign data are skipped). For
//! each LBA the page with the highest sequence number wins: relocation
//! never records a copy that was stale when it was programmed, so the
//! newest record is the newest data. Blocks found with data are closed
//! (a torn page may follow the last good one); all others are erased before
//! reuse. Checkpoints that bound this scan come with power-loss recovery.

use alloc::vec::Vec;

use crate::addr::{BlockIdx, Lba, Ppa};
use crate::blocks::BlockState;
use crate::config::FtlConfig;
use crate::error::Error;
use crate::geometry::RESERVED_BLOCKS;
use crate::l2p::UNMAPPED;
use crate::nand::{Nand, NandError, NandErrorKind};
use crate::oob::{self, OobError, PageRecord};
use crate::slot::SlotMemory;

use super::{Ftl, FtlResult};

impl<N: Nand, M: SlotMemory> Ftl<N, M> {
    /// Formats the media: every good block erased, factory bad blocks left
    /// alone, wear carried over from any zcftl data found. All data is lost.
    pub fn format(nand: N, mem: M, cfg: FtlConfig) -> FtlResult<Self, N> {
        let mut ftl = Self::new(nand, mem, cfg)?;
        for b in ftl.blocks.iter() {
            if ftl.nand.is_bad_block(b).map_err(Error::Nand)? {
                ftl.blocks.set_state(b, BlockState::Bad);
                continue;
            }
            if let Ok(rec) = ftl.read_record(Ppa::new(b, 0)) {
                ftl.blocks.set_erase_count(b, rec.erase_count);
            }
            ftl.erase(b)?;
        }
        ftl.check_capacity()?;
        ftl.mark_pending_bad()?;
        ftl.nand.sync().map_err(Error::Nand)?;
        Ok(ftl)
    }

    /// Mounts the media as a previous FTL left it (cleanly or by a power
    /// cut): rebuilds the L2P, validity and wear from the page records.
    ///
    /// Fails with [`Error::Foreign`] if the media holds data but none of it
    /// is zcftl's. Blank media mounts as an empty device.
    pub fn open(nand: N, mem: M, cfg: FtlConfig) -> FtlResult<Self, N> {
        let mut ftl = Self::new(nand, mem, cfg)?;
        let mut best = alloc::vec![0u64; ftl.logical as usize];
        let mut page = alloc::vec![0u8; ftl.geo.page_size as usize];
        let (mut ours, mut foreign) = (0u64, 0u64);
        let mut known_wear = Vec::new();
        for b in ftl.blocks.iter() {
            if ftl.nand.is_bad_block(b).map_err(Error::Nand)? {
                ftl.blocks.set_state(b, BlockState::Bad);
                continue;
            }
            let mut used = 0;
            let mut wear = None;
            for p in 0..ftl.layout.ppb {
                let ppa = Ppa::new(b, p);
                match ftl.scan_page(ppa, &mut page)? {
                    Scan::Erased => break,
                    Scan::Garbage { foreign: f } => foreign += u64::from(f),
                    Scan::Good(rec) => {
                        ours += 1;
                        wear = wear.max(Some(rec.erase_count));
                        ftl.seq = ftl.seq.max(rec.seq.0);
                        ftl.adopt(ppa, &rec, &mut best);
                    }
                }
                used = p + 1;
            }
            ftl.blocks.set_next_page(b, used);
            if let Some(w) = wear {
                ftl.blocks.set_erase_count(b, w);
                known_wear.push(w);
                ftl.blocks.set_last_seq(b, ftl.seq);
            }
            let state = if used > 0 {
                BlockState::Full
            } else {
                BlockState::Stale
            };
            ftl.blocks.set_state(b, state);
        }
        if ours == 0 && foreign > 0 {
            return Err(Error::Foreign);
        }
        ftl.rebuild_validity(&known_wear);
        ftl.check_capacity()?;
        Ok(ftl)
    }

    fn read_record(&mut self, ppa: Ppa) -> Result<PageRecord, OobError> {
        match self.nand.read_page(ppa, &mut [], &mut self.oob) {
            Ok(_) => PageRecord::decode(&self.oob),
            Err(_) => Err(OobError::Corrupt),
        }
    }

    /// Reads one page whole and classifies it.
    fn scan_page(&mut self, ppa: Ppa, page: &mut [u8]) -> FtlResult<Scan, N> {
        match self.nand.read_page(ppa, &mut [page], &mut self.oob) {
            Ok(_) => {}
            Err(e) if e.kind() == NandErrorKind::Uncorrectable => {
                return Ok(Scan::Garbage { foreign: false })
            }
            Err(e) => return Err(Error::Nand(e)),
        }
        self.stats.nand_sectors_read += u64::from(self.layout.spp);
        Ok(match PageRecord::decode(&self.oob) {
            // An erased spare area over programmed data is a torn program.
            Err(OobError::Erased) if page.iter().all(|&x| x == 0xFF) => Scan::Erased,
            Err(OobError::Foreign) => Scan::Garbage { foreign: true },
            Err(_) => Scan::Garbage { foreign: false },
            Ok(rec)
                if u32::from(rec.sectors) == self.layout.spp
                    && oob::data_crc([&*page]) == rec.data_crc =>
            {
                Scan::Good(rec)
            }
            Ok(_) => Scan::Garbage { foreign: false },
        })
    }

    /// Points each LBA of a good page at it if it is the newest seen.
    fn adopt(&mut self, ppa: Ppa, rec: &PageRecord, best: &mut [u64]) {
        for i in 0..usize::from(rec.sectors) {
            let Some(l) = rec.lba(i) else { continue };
            let Some(slot) = best.get_mut(l.0 as usize) else {
                continue;
            };
            if rec.seq.0 > *slot {
                *slot = rec.seq.0;
                self.l2p.set(l, self.layout.psa(ppa, i));
            }
        }
    }

    /// Derives validity from the rebuilt L2P; blocks left with nothing
    /// valid become stale. Blocks of unknown wear get the mean known wear.
    fn rebuild_validity(&mut self, known_wear: &[u32]) {
        for l in 0..self.logical {
            let psa = self.l2p.get(Lba(l));
            if psa != UNMAPPED {
                self.valid.set(psa);
            }
        }
        let mean = if known_wear.is_empty() {
            0
        } else {
            (known_wear.iter().map(|&w| u64::from(w)).sum::<u64>() / known_wear.len() as u64) as u32
        };
        for b in self.blocks.iter() {
            match self.blocks.state(b) {
                BlockState::Full if self.valid.count(b) == 0 => {
                    self.blocks.set_state(b, BlockState::Stale)
                }
                BlockState::Stale if self.blocks.next_page(b) == 0 => {
                    self.blocks.set_erase_count(b, mean)
                }
                _ => {}
            }
        }
    }

    /// Refuses media with too few good blocks for the logical capacity.
    fn check_capacity(&self) -> FtlResult<(), N> {
        let good = u64::from(self.blocks.good());
        let need = self.logical.div_ceil(u64::from(self.layout.spb)) + u64::from(RESERVED_BLOCKS);
        if good < need {
            return Err(Error::NoSpace);
        }
        Ok(())
    }

    /// Erase count of every block (for wear reports).
    pub fn erase_counts(&self) -> impl Iterator<Item = (BlockIdx, u32)> + '_ {
        self.blocks.iter().map(|b| (b, self.blocks.erase_count(b)))
    }
}

enum Scan {
    Erased,
    Garbage { foreign: bool },
    Good(PageRecord),
}
