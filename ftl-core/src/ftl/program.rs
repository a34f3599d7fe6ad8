//! Programming cache groups to flash, and the block allocator behind it.
//!
//! A group's slots go to the NAND as one page, straight from the slots (the
//! scatter list names them; nothing is copied). Only after the program
//! succeeds does the L2P move to the new location and the old copies turn
//! stale, so a power cut never leaves an LBA pointing at nothing.

use crate::addr::{BlockIdx, Lba, Ppa};
use crate::blocks::{BlockState, Stream};
use crate::cache_meta::NONE;
use crate::error::Error;
use crate::geometry::MAX_SECTORS_PER_PAGE;
use crate::l2p::{LOST, UNMAPPED};
use crate::nand::{Nand, NandError, NandErrorKind};
use crate::oob::{self, PageKind, PageRecord, NO_LBA};
use crate::slot::{SlotMemory, SlotState};

use super::{Ftl, FtlResult, NO_ENTRY};

impl<N: Nand, M: SlotMemory> Ftl<N, M> {
    /// Programs the stream's filling group (padded if partial) and updates
    /// the mapping. A program failure retires the block and retries on a
    /// fresh one; the data never left its slots, so nothing is lost.
    pub(super) fn program_fill(&mut self, stream: Stream) -> FtlResult<(), N> {
        let k = Self::stream_index(stream);
        let Some(e) = self.fill[k] else {
            return Ok(());
        };
        let n = self.meta.len(e);
        if n == 0 {
            return Ok(());
        }
        // Trims before this page must be on flash before it (ordering).
        self.log_trims()?;
        let spp = self.layout.spp as usize;
        let ppa = loop {
            let ppa = self.next_ppa(stream)?;
            self.meta.begin_program(e, ppa);
            // Relocated data still current? A copy made stale while it
            // waited must not be recorded, or recovery could resurrect it.
            let mut lbas = [NO_LBA; MAX_SECTORS_PER_PAGE];
            for (i, l) in lbas[..n].iter_mut().enumerate() {
                let lba = self.meta.lba(e, i);
                let src = self.meta.src(e, i);
                if lba != NONE && src != NONE && self.l2p.get(Lba(u64::from(lba))) != src {
                    self.meta.set_lba(e, i, NONE);
                }
                *l = self.meta.lba(e, i);
            }
            let mut bufs: [&[u8]; MAX_SECTORS_PER_PAGE] = [&[]; MAX_SECTORS_PER_PAGE];
            for (i, b) in bufs[..spp].iter_mut().enumerate() {
                *b = if i < n {
                    self.mem.slot(self.meta.slot(e, i))
                } else {
                    &self.zero
                };
            }
            let rec = PageRecord {
                kind: match stream {
                    Stream::Host => PageKind::Host,
                    // Meta pages never go through cache groups.
                    Stream::Relocated | Stream::Meta => PageKind::Relocated,
                },
                seq: crate::addr::Seq(self.seq + 1),
                erase_count: self.blocks.erase_count(ppa.block),
                data_crc: oob::data_crc(bufs[..spp].iter().copied()),
                sectors: spp as u8,
                lbas,
            };
            rec.encode(&mut self.oob);
            match self.nand.program_page(ppa, &bufs[..spp], &self.oob) {
                Ok(()) => break ppa,
                Err(err) if err.kind() == NandErrorKind::ProgramFailed => {
                    self.meta.program_failed(e);
                    self.stats.program_failures += 1;
                    self.retire_open(stream, ppa.block);
                }
                Err(err) => {
                    self.meta.program_failed(e);
                    return Err(Error::Nand(err));
                }
            }
        };
        self.seq += 1;
        self.blocks.set_last_seq(ppa.block, self.seq);
        self.stats.nand_pages_programmed += 1;
        self.stats.nand_sectors_written += spp as u64;
        if n < spp {
            self.stats.padded_pages += 1;
        }
        for i in 0..n {
            let lba = self.meta.lba(e, i);
            if lba == NONE {
                continue;
            }
            let psa = self.layout.psa(ppa, i);
            let old = self.l2p.set(Lba(u64::from(lba)), psa);
            self.valid.set(psa);
            if old != UNMAPPED && old != LOST {
                self.invalidate(old);
            }
        }
        self.meta.programmed(e);
        self.fill[k] = None;
        match stream {
            // Host data stays cached, clean: the patent's clean entry.
            Stream::Host => {
                for i in 0..n {
                    self.slots.set(self.meta.slot(e, i), SlotState::Clean);
                }
            }
            // Relocated data is cold: give the slots back at once, and let
            // the source blocks held back for this group settle.
            Stream::Relocated | Stream::Meta => {
                let mut srcs = [NONE; MAX_SECTORS_PER_PAGE];
                for (i, src) in srcs[..n].iter_mut().enumerate() {
                    let s = self.meta.slot(e, i);
                    *src = self.meta.src(e, i);
                    self.slot_entry[s.0 as usize] = NO_ENTRY;
                    self.slots.release(s);
                }
                self.meta.release(e);
                for &src in &srcs[..n] {
                    if src != NONE {
                        self.settle(self.layout.block(src));
                    }
                }
            }
        }
        self.settle(ppa.block);
        if stream == Stream::Host {
            self.pages_since_ckpt += 1;
            if self.pages_since_ckpt >= self.cfg.checkpoint_interval_pages {
                self.checkpoint()?;
            }
        }
        Ok(())
    }

    /// The next page of the stream's open block, opening a new block (and,
    /// for host data, collecting garbage first) when it is full.
    pub(super) fn next_ppa(&mut self, stream: Stream) -> FtlResult<Ppa, N> {
        let k = Self::stream_index(stream);
        loop {
            if let Some(b) = self.open[k] {
                let p = self.blocks.next_page(b);
                if p < self.layout.ppb {
                    self.blocks.set_next_page(b, p + 1);
                    if p + 1 == self.layout.ppb {
                        let full = match stream {
                            Stream::Meta => BlockState::Meta,
                            _ => BlockState::Full,
                        };
                        self.blocks.set_state(b, full);
                        self.open[k] = None;
                    }
                    return Ok(Ppa::new(b, p));
                }
                self.open[k] = None;
            }
            // Only host data triggers maintenance: the meta stream must
            // not (it runs while trims are being logged), and relocation is
            // maintenance.
            if stream == Stream::Host {
                self.maintain()?;
                // Maintenance may have opened nothing for us, but check
                // again in case it changed the host stream.
                if self.open[k].is_some() {
                    continue;
                }
            }
            let b = self.alloc_block()?;
            self.open[k] = Some(b);
            if stream == Stream::Meta {
                self.meta_blocks.push(b);
            }
        }
    }

    /// Takes the least-worn available block, erasing it if it is stale.
    pub(super) fn alloc_block(&mut self) -> FtlResult<BlockIdx, N> {
        loop {
            let Some(b) = self.blocks.pick_free() else {
                // Only blocks held by pending trims left: log them (the meta
                // stream always has a page ready, so this allocates
                // nothing), which releases the holds.
                if !self.pending_trims.is_empty() {
                    self.log_trims()?;
                    continue;
                }
                return Err(Error::NoSpace);
            };
            if self.blocks.state(b) == BlockState::Stale {
                // (Blocks emptied by a trim not yet logged are held back
                // by `pick_free`.)
                self.erase(b)?;
                if self.blocks.state(b) == BlockState::Bad {
                    continue;
                }
            }
            self.blocks.set_state(b, BlockState::Open);
            self.blocks.set_next_page(b, 0);
            return Ok(b);
        }
    }

    /// Erases `b`; an erase failure retires it (state `Bad`).
    pub(super) fn erase(&mut self, b: BlockIdx) -> FtlResult<(), N> {
        match self.nand.erase_block(b) {
            Ok(()) => {
                self.blocks.erased(b);
                self.stats.erases += 1;
                Ok(())
            }
            Err(err) if err.kind() == NandErrorKind::EraseFailed => {
                self.stats.erase_failures += 1;
                self.retire(b);
                Ok(())
            }
            Err(err) => Err(Error::Nand(err)),
        }
    }

    /// Marks the current page's data stale at `psa`.
    pub(super) fn invalidate(&mut self, psa: u32) {
        self.valid.clear(psa);
        self.settle(self.layout.block(psa));
    }

    /// A full block with nothing valid left is garbage: stale (erase on
    /// reuse), or retired if a program failed in it.
    ///
    /// A block whose sectors still wait in the relocation group as sources
    /// is held back until that group is programmed: erasing and reusing it
    /// first could put a new version of an LBA at the very address the
    /// waiting copy names as its source, and the stale copy would pass the
    /// "still current?" check (ABA).
    pub(super) fn settle(&mut self, b: BlockIdx) {
        if self.blocks.state(b) != BlockState::Full || self.valid.count(b) != 0 {
            return;
        }
        if self.relocation_pending_from(b) {
            return;
        }
        if self.blocks.is_retiring(b) {
            self.retire(b);
        } else {
            self.blocks.set_state(b, BlockState::Stale);
        }
    }

    /// Whether the relocation group holds a sector read from block `b`.
    pub(super) fn relocation_pending_from(&self, b: BlockIdx) -> bool {
        let Some(e) = self.fill[Self::stream_index(Stream::Relocated)] else {
            return false;
        };
        (0..self.meta.len(e)).any(|i| {
            let src = self.meta.src(e, i);
            src != NONE && self.layout.block(src) == b
        })
    }

    /// Closes block `b` after a program failure in it: its valid data
    /// stays readable and is moved out by GC before the block is retired.
    fn retire_open(&mut self, stream: Stream, b: BlockIdx) {
        let k = Self::stream_index(stream);
        if self.open[k] == Some(b) {
            self.open[k] = None;
        }
        self.blocks.set_state(b, BlockState::Full);
        self.blocks.set_retiring(b);
        self.settle(b);
    }

    /// Takes `b` out of service for good.
    fn retire(&mut self, b: BlockIdx) {
        self.blocks.set_state(b, BlockState::Bad);
        self.to_mark_bad.push(b);
    }

    /// Writes the bad-block marks decided since the last call.
    pub(super) fn mark_pending_bad(&mut self) -> FtlResult<(), N> {
        while let Some(b) = self.to_mark_bad.pop() {
            if let Err(err) = self.nand.mark_bad_block(b) {
                if err.kind() == NandErrorKind::PowerLoss {
                    self.to_mark_bad.push(b);
                    return Err(Error::Nand(err));
                }
                // The table already treats it as bad; a failed mark only
                // matters after a restart, where the block's garbage will
                // not verify and it is erased (and fails) again.
            }
        }
        Ok(())
    }
}
