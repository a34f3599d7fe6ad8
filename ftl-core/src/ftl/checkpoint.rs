//! Writing the meta stream: trim records and checkpoints.
//!
//! **Trim records** make trims durable. Trimmed ranges collect in RAM and
//! are logged as one meta page before the next page of any stream is
//! programmed, before any block is erased, and at flush. So a trim record's
//! sequence number lies between every page written before the trim and
//! every page written after it, and no block the trim emptied can be erased
//! before the record is on flash.
//!
//! **Checkpoints** snapshot the L2P and the block table into meta pages,
//! taken at sequence `S`: recovery loads the newest *complete* checkpoint
//! and replays only what was written after `S`. Meta blocks older than the
//! new checkpoint are released only once it is complete and synced, so a
//! cut while writing one leaves the previous one whole.

use crate::addr::{BlockIdx, Ppa, Seq};
use crate::blocks::{BlockState, Stream};
use crate::error::Error;
use crate::geometry::MAX_SECTORS_PER_PAGE;
use crate::meta::{self, MetaHeader, CKPT_BLOCK_LEN, CKPT_HEADER_LEN, HEADER_LEN};
use crate::nand::{Nand, NandError, NandErrorKind};
use crate::oob::{self, PageKind, PageRecord, NO_LBA};
use crate::slot::SlotMemory;

use super::{Ftl, FtlResult};

impl<N: Nand, M: SlotMemory> Ftl<N, M> {
    /// Ranges one trim record holds.
    pub(super) fn trim_ranges_per_page(&self) -> usize {
        (self.geo.page_size as usize - HEADER_LEN) / 8
    }

    /// Notes a trimmed range for the next trim record.
    pub(super) fn note_trim(&mut self, lba: u64, sectors: u32) -> FtlResult<(), N> {
        if let Some(last) = self.pending_trims.last_mut() {
            if u64::from(last.0) + u64::from(last.1) == lba {
                last.1 += sectors;
                return Ok(());
            }
        }
        if self.pending_trims.len() == self.trim_ranges_per_page() {
            self.log_trims()?;
        }
        self.pending_trims.push((lba as u32, sectors));
        Ok(())
    }

    /// Programs the pending trims as one trim record.
    pub(super) fn log_trims(&mut self) -> FtlResult<(), N> {
        if self.pending_trims.is_empty() {
            return Ok(());
        }
        let ranges = self.pending_trims.len();
        self.meta_page.fill(0);
        MetaHeader::Trim {
            ranges: ranges as u32,
        }
        .encode(&mut self.meta_page);
        for (i, &(lba, n)) in self.pending_trims.iter().enumerate() {
            let o = HEADER_LEN + 8 * i;
            self.meta_page[o..o + 4].copy_from_slice(&lba.to_le_bytes());
            self.meta_page[o + 4..o + 8].copy_from_slice(&n.to_le_bytes());
        }
        self.pending_trims.clear();
        self.program_meta_page(PageKind::Trim)?;
        // On flash: the blocks these trims emptied may be erased now.
        while let Some(b) = self.held_blocks.pop() {
            self.blocks.set_held(b, false);
        }
        self.stats.trim_records += 1;
        self.trim_pages_since_ckpt += 1;
        if self.trim_pages_since_ckpt >= self.layout.ppb / 2 {
            self.checkpoint()?;
        }
        Ok(())
    }

    /// Writes a checkpoint: the L2P and block table as of now. Public so an
    /// embedder can take one at a clean shutdown (the next mount then has
    /// nothing to replay).
    pub fn checkpoint(&mut self) -> FtlResult<(), N> {
        if self.in_checkpoint {
            return Ok(());
        }
        self.in_checkpoint = true;
        let r = self.checkpoint_inner();
        self.in_checkpoint = false;
        r
    }

    fn checkpoint_inner(&mut self) -> FtlResult<(), N> {
        self.log_trims()?;
        let snapshot = self.seq;
        // Blocks open at the snapshot are recorded open whatever they are
        // by the time the block table is written (GC may run while the
        // checkpoint allocates meta blocks, and fill them): recovery replays
        // open blocks, and their pages past the snapshot must not be missed.
        let open_at_snapshot = self.open;
        let blocks = self.blocks.len();
        let count = meta::checkpoint_chunks(self.logical, blocks, self.geo.page_size as usize);
        let cap = self.geo.page_size as usize - HEADER_LEN;
        let l2p_at = CKPT_HEADER_LEN;
        let blocks_at = l2p_at + 4 * self.logical as usize;
        let mut first_block = None;
        for index in 0..count {
            self.meta_page.fill(0);
            MetaHeader::Checkpoint {
                seq: snapshot,
                index,
                count,
            }
            .encode(&mut self.meta_page);
            let start = index as usize * cap;
            let (logical, l2p, table) = (self.logical, &self.l2p, &self.blocks);
            let out = &mut self.meta_page[HEADER_LEN..];
            meta::emit(out, start, 0, 1, |_| {
                let mut h = [0u8; CKPT_HEADER_LEN];
                h[0..8].copy_from_slice(&logical.to_le_bytes());
                h[8..12].copy_from_slice(&blocks.to_le_bytes());
                h
            });
            meta::emit(out, start, l2p_at, logical as usize, |i| {
                l2p.get(crate::Lba(i as u64)).to_le_bytes()
            });
            meta::emit(out, start, blocks_at, blocks as usize, |i| {
                let b = BlockIdx(i as u32);
                let mut r = [0u8; CKPT_BLOCK_LEN];
                r[0..4].copy_from_slice(&table.erase_count(b).to_le_bytes());
                r[4..8].copy_from_slice(&table.next_page(b).to_le_bytes());
                r[8] = if open_at_snapshot.contains(&Some(b)) {
                    state_byte(BlockState::Open)
                } else {
                    state_byte(table.state(b))
                };
                r
            });
            let ppa = self.program_meta_page(PageKind::Checkpoint)?;
            first_block.get_or_insert(ppa.block);
        }
        self.nand.sync().map_err(Error::Nand)?;
        // Complete and durable: meta blocks before this checkpoint's first
        // are obsolete.
        if let Some(first) = first_block {
            let keep_from = self
                .meta_blocks
                .iter()
                .position(|&b| b == first)
                .unwrap_or(0);
            for i in 0..keep_from {
                let b = self.meta_blocks[i];
                if self.blocks.is_retiring(b) {
                    self.blocks.set_state(b, BlockState::Bad);
                    self.to_mark_bad.push(b);
                } else {
                    self.blocks.set_state(b, BlockState::Stale);
                }
            }
            self.meta_blocks.drain(..keep_from);
        }
        self.ckpt_seq = snapshot;
        self.pages_since_ckpt = 0;
        self.trim_pages_since_ckpt = 0;
        self.stats.checkpoints += 1;
        Ok(())
    }

    /// Programs `meta_page` as the next page of the meta stream; a program
    /// failure retires the block (once obsolete) and retries elsewhere.
    fn program_meta_page(&mut self, kind: PageKind) -> FtlResult<Ppa, N> {
        let spp = self.layout.spp as usize;
        loop {
            let ppa = self.next_ppa(Stream::Meta)?;
            let rec = PageRecord {
                kind,
                seq: Seq(self.seq + 1),
                erase_count: self.blocks.erase_count(ppa.block),
                data_crc: oob::data_crc([&self.meta_page[..]]),
                sectors: spp as u8,
                lbas: [NO_LBA; MAX_SECTORS_PER_PAGE],
            };
            rec.encode(&mut self.oob);
            match self.nand.program_page(ppa, &[&self.meta_page], &self.oob) {
                Ok(()) => {
                    self.seq += 1;
                    self.blocks.set_last_seq(ppa.block, self.seq);
                    self.stats.nand_pages_programmed += 1;
                    self.ready_meta_page()?;
                    return Ok(ppa);
                }
                Err(err) if err.kind() == NandErrorKind::ProgramFailed => {
                    self.stats.program_failures += 1;
                    let k = Self::stream_index(Stream::Meta);
                    if self.open[k] == Some(ppa.block) {
                        self.open[k] = None;
                    }
                    self.blocks.set_state(ppa.block, BlockState::Meta);
                    self.blocks.set_retiring(ppa.block);
                }
                Err(err) => return Err(Error::Nand(err)),
            }
        }
    }
}

impl<N: Nand, M: SlotMemory> Ftl<N, M> {
    /// Keeps an erased page ready in the meta stream, so logging a trim
    /// never has to allocate (and erase) a block while trims are pending.
    pub(super) fn ready_meta_page(&mut self) -> FtlResult<(), N> {
        let k = Self::stream_index(Stream::Meta);
        if self.open[k].is_none() {
            let b = self.alloc_block()?;
            self.open[k] = Some(b);
            self.meta_blocks.push(b);
        }
        Ok(())
    }
}

/// A block state as the checkpoint stores it.
pub(super) fn state_byte(s: BlockState) -> u8 {
    match s {
        BlockState::Free => 0,
        BlockState::Stale => 1,
        BlockState::Open => 2,
        BlockState::Full => 3,
        BlockState::Bad => 4,
        BlockState::Meta => 5,
    }
}

/// The block state a checkpoint byte names.
pub(super) fn state_from_byte(b: u8) -> Option<BlockState> {
    Some(match b {
        0 => BlockState::Free,
        1 => BlockState::Stale,
        2 => BlockState::Open,
        3 => BlockState::Full,
        4 => BlockState::Bad,
        5 => BlockState::Meta,
        _ => return None,
    })
}
