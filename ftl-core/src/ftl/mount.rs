//! Bringing an FTL up: format fresh media, or recover what is on flash.
//!
//! Recovery (`Ftl::open`):
//! 1. Reads the spare area of every block's first page: cheap, and enough
//!    to tell meta blocks, blocks written since the last checkpoint and
//!    torn blocks apart.
//! 2. Reads the meta blocks whole and loads the newest *complete*
//!    checkpoint (every chunk present and verified). A cut while a
//!    checkpoint was written leaves the previous one.
//! 3. Replays what came after it: data pages and trim records with a
//!    higher sequence number, in blocks first written after it (or open at
//!    it). For each LBA the newest event wins, a trim included. Pages whose
//!    record or data crc fails (torn programs, garbage, foreign data) are
//!    skipped, so recovery never serves data that was not written.
//! 4. Closes every block it replayed (a torn page may follow the last good
//!    one), marks the rest by the checkpoint and writes a new checkpoint.
//!
//! Work is bounded by the checkpoint interval and the meta stream, not the
//! device size (plus one spare-area read per block). Media with no
//! checkpoint at all (an interrupted format) is scanned whole.

use alloc::vec::Vec;

use crate::addr::{BlockIdx, Lba, Ppa};
use crate::blocks::BlockState;
use crate::config::FtlConfig;
use crate::error::Error;
use crate::l2p::{LOST, UNMAPPED};
use crate::meta::{self, MetaHeader, CKPT_BLOCK_LEN, CKPT_HEADER_LEN, HEADER_LEN};
use crate::nand::{Nand, NandError, NandErrorKind};
use crate::oob::{self, OobError, PageKind, PageRecord};
use crate::slot::SlotMemory;

use super::checkpoint::state_from_byte;
use super::{Ftl, FtlResult};

/// Sequence numbers above this are refused at mount (see `open`).
const MAX_PLAUSIBLE_SEQ: u64 = u64::MAX / 2;

/// What the first-page survey found in a block.
#[derive(Clone, Copy, PartialEq, Eq)]
enum First {
    Bad,
    Erased,
    Data(u64),
    Meta,
    Garbage,
}

enum Scan {
    Erased,
    Garbage { foreign: bool },
    Good(PageRecord),
}

struct CkptChunk {
    seq: u64,
    index: u32,
    count: u32,
    ppa: Ppa,
}

struct TrimRecord {
    seq: u64,
    ppa: Ppa,
}

impl<N: Nand, M: SlotMemory> Ftl<N, M> {
    /// Formats the media: every good block erased, factory bad blocks left
    /// alone, wear carried over from any zcftl data found, then a first
    /// checkpoint. All data is lost.
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
        ftl.checkpoint()?;
        Ok(ftl)
    }

    /// Recovers the FTL from the media as a previous run left it, cleanly
    /// or by a power cut (see the module docs).
    ///
    /// Fails with [`Error::Foreign`] if the media holds data but none of it
    /// is zcftl's, [`Error::Corrupted`] if a complete checkpoint does not
    /// fit this geometry. Blank media mounts as an empty device.
    pub fn open(nand: N, mem: M, cfg: FtlConfig) -> FtlResult<Self, N> {
        let mut ftl = Self::new(nand, mem, cfg)?;
        ftl.stats.mount_pages_read = 0;
        let nblocks = ftl.blocks.len() as usize;
        let mut first = alloc::vec![First::Erased; nblocks];
        let (mut ours, mut foreign) = (0u64, 0u64);
        for b in ftl.blocks.iter() {
            first[b.0 as usize] = ftl.survey(b, &mut ours, &mut foreign)?;
        }
        // Meta blocks, whole: checkpoint chunks and trim records.
        let mut page = alloc::vec![0u8; ftl.geo.page_size as usize];
        let mut chunks = Vec::new();
        let mut trims = Vec::new();
        for b in ftl
            .blocks
            .iter()
            .filter(|b| first[b.0 as usize] == First::Meta)
        {
            ftl.scan_meta_block(b, &mut page, &mut chunks, &mut trims)?;
        }
        let ckpt = newest_complete(&chunks);
        let snapshot = match ckpt {
            Some((seq, count)) => {
                ftl.load_checkpoint(seq, count, &chunks, &mut page)?;
                seq
            }
            None => 0,
        };
        ftl.seq = ftl.seq.max(snapshot);
        // Replay data written after the checkpoint.
        let mut best = alloc::vec![0u64; ftl.logical as usize];
        for b in ftl.blocks.iter() {
            let replay = match first[b.0 as usize] {
                First::Data(seq) => seq > snapshot || ftl.blocks.state(b) == BlockState::Open,
                First::Garbage => true,
                First::Bad | First::Erased | First::Meta => false,
            };
            if !replay {
                continue;
            }
            let used =
                ftl.replay_block(b, snapshot, &mut page, &mut best, &mut ours, &mut foreign)?;
            ftl.blocks.set_next_page(b, used);
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
        // No device programs 2^63 pages: a sequence number up there is a
        // crafted or corrupted record, and counting on from it would
        // overflow.
        if ftl.seq > MAX_PLAUSIBLE_SEQ {
            return Err(Error::Corrupted);
        }
        for t in trims.iter().filter(|t| t.seq > snapshot) {
            ftl.replay_trim(t, &mut page, &mut best)?;
        }
        // A checkpoint mapping into a block rewritten since, with no newer
        // event for that LBA, can only mean the newer event was destroyed
        // (corrupted media): the data is lost, never someone else's.
        for (l, &newest) in best.iter().enumerate() {
            let psa = ftl.l2p.get(Lba(l as u64));
            if newest != 0 || psa == UNMAPPED || psa == LOST {
                continue;
            }
            let rewritten = match first[ftl.layout.block(psa).0 as usize] {
                First::Data(seq) => seq > snapshot,
                First::Garbage | First::Erased | First::Meta | First::Bad => true,
            };
            if rewritten {
                ftl.l2p.set(Lba(l as u64), LOST);
            }
        }
        ftl.settle_after_mount(&first, &chunks, ckpt);
        ftl.rebuild_validity();
        ftl.check_capacity()?;
        // The closing checkpoint only shortens the next recovery: the
        // previous checkpoint plus what was replayed stays valid on flash.
        // A degraded medium with no block free for it still mounts (writes
        // then report NoSpace); found by fuzzing.
        match ftl.checkpoint() {
            Ok(()) | Err(Error::NoSpace) => {}
            Err(e) => return Err(e),
        }
        Ok(ftl)
    }

    fn read_record(&mut self, ppa: Ppa) -> Result<PageRecord, OobError> {
        match self.nand.read_page(ppa, &mut [], &mut self.oob) {
            Ok(_) => PageRecord::decode(&self.oob),
            Err(_) => Err(OobError::Corrupt),
        }
    }

    /// Classifies a block by its first page's spare area.
    fn survey(&mut self, b: BlockIdx, ours: &mut u64, foreign: &mut u64) -> FtlResult<First, N> {
        if self.nand.is_bad_block(b).map_err(Error::Nand)? {
            self.blocks.set_state(b, BlockState::Bad);
            return Ok(First::Bad);
        }
        let ppa = Ppa::new(b, 0);
        let r = match self.nand.read_page(ppa, &mut [], &mut self.oob) {
            Ok(_) => PageRecord::decode(&self.oob),
            Err(e) if e.kind() == NandErrorKind::Uncorrectable => Err(OobError::Corrupt),
            Err(e) => return Err(Error::Nand(e)),
        };
        Ok(match r {
            Err(OobError::Erased) => First::Erased,
            Err(OobError::Foreign) => {
                *foreign += 1;
                First::Garbage
            }
            Err(OobError::Corrupt) => First::Garbage,
            Ok(rec) => {
                *ours += 1;
                self.blocks.set_erase_count(b, rec.erase_count);
                if rec.kind.is_meta() {
                    First::Meta
                } else {
                    First::Data(rec.seq.0)
                }
            }
        })
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
        self.stats.mount_pages_read += 1;
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

    fn scan_meta_block(
        &mut self,
        b: BlockIdx,
        page: &mut [u8],
        chunks: &mut Vec<CkptChunk>,
        trims: &mut Vec<TrimRecord>,
    ) -> FtlResult<(), N> {
        let mut used = 0;
        for p in 0..self.layout.ppb {
            let ppa = Ppa::new(b, p);
            match self.scan_page(ppa, page)? {
                Scan::Erased => break,
                Scan::Garbage { .. } => {}
                Scan::Good(rec) => {
                    self.seq = self.seq.max(rec.seq.0);
                    match (rec.kind, MetaHeader::decode(page)) {
                        (
                            PageKind::Checkpoint,
                            Some(MetaHeader::Checkpoint { seq, index, count }),
                        ) => chunks.push(CkptChunk {
                            seq,
                            index,
                            count,
                            ppa,
                        }),
                        (PageKind::Trim, Some(MetaHeader::Trim { .. })) => trims.push(TrimRecord {
                            seq: rec.seq.0,
                            ppa,
                        }),
                        _ => {}
                    }
                }
            }
            used = p + 1;
        }
        self.blocks.set_next_page(b, used);
        self.blocks.set_state(b, BlockState::Meta);
        Ok(())
    }

    /// Loads checkpoint `seq` (known complete) into the L2P and block table.
    fn load_checkpoint(
        &mut self,
        seq: u64,
        count: u32,
        chunks: &[CkptChunk],
        page: &mut [u8],
    ) -> FtlResult<(), N> {
        let cap = self.geo.page_size as usize - HEADER_LEN;
        let len = meta::checkpoint_len(self.logical, self.blocks.len());
        if meta::checkpoint_chunks(self.logical, self.blocks.len(), self.geo.page_size as usize)
            != count
        {
            return Err(Error::Corrupted);
        }
        let mut payload = alloc::vec![0u8; count as usize * cap];
        for index in 0..count {
            let c = chunks
                .iter()
                .find(|c| c.seq == seq && c.index == index)
                .ok_or(Error::Corrupted)?;
            match self.scan_page(c.ppa, page)? {
                Scan::Good(_) => {}
                _ => return Err(Error::Corrupted),
            }
            let at = index as usize * cap;
            payload[at..at + cap].copy_from_slice(&page[HEADER_LEN..]);
        }
        let payload = &payload[..len];
        let u32_at = |o: usize| {
            u32::from_le_bytes([payload[o], payload[o + 1], payload[o + 2], payload[o + 3]])
        };
        let mut logical = [0u8; 8];
        logical.copy_from_slice(&payload[0..8]);
        if u64::from_le_bytes(logical) != self.logical || u32_at(8) != self.blocks.len() {
            return Err(Error::Corrupted);
        }
        let total = self.geo.total_sectors();
        for l in 0..self.logical as usize {
            let psa = u32_at(CKPT_HEADER_LEN + 4 * l);
            if psa >= total && psa != UNMAPPED && psa != LOST {
                return Err(Error::Corrupted);
            }
            self.l2p.set(Lba(l as u64), psa);
        }
        let table = CKPT_HEADER_LEN + 4 * self.logical as usize;
        for b in self.blocks.iter() {
            let o = table + CKPT_BLOCK_LEN * b.0 as usize;
            let state = state_from_byte(payload[o + 8]).ok_or(Error::Corrupted)?;
            let wear = u32_at(o).max(self.blocks.erase_count(b));
            self.blocks.set_erase_count(b, wear);
            if self.blocks.state(b) == BlockState::Bad {
                continue; // marked on the media: stays bad
            }
            self.blocks
                .set_next_page(b, u32_at(o + 4).min(self.layout.ppb));
            // Meta states come from the survey; everything else from here
            // until replay and settling adjust it.
            if state != BlockState::Meta && self.blocks.state(b) != BlockState::Meta {
                self.blocks.set_state(b, state);
            }
        }
        self.ckpt_seq = seq;
        Ok(())
    }

    /// Replays a block written after the checkpoint; returns pages used.
    fn replay_block(
        &mut self,
        b: BlockIdx,
        snapshot: u64,
        page: &mut [u8],
        best: &mut [u64],
        ours: &mut u64,
        foreign: &mut u64,
    ) -> FtlResult<u32, N> {
        let mut used = 0;
        for p in 0..self.layout.ppb {
            let ppa = Ppa::new(b, p);
            match self.scan_page(ppa, page)? {
                Scan::Erased => break,
                Scan::Garbage { foreign: f } => *foreign += u64::from(f),
                Scan::Good(rec) => {
                    *ours += 1;
                    self.seq = self.seq.max(rec.seq.0);
                    self.blocks.set_last_seq(b, rec.seq.0);
                    if rec.seq.0 > snapshot && !rec.kind.is_meta() {
                        self.stats.mount_pages_replayed += 1;
                        self.adopt(ppa, &rec, best);
                    }
                }
            }
            used = p + 1;
        }
        Ok(used)
    }

    /// Points each LBA of a good page at it if it is the newest event.
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

    /// Applies a trim record newer than the checkpoint.
    fn replay_trim(
        &mut self,
        t: &TrimRecord,
        page: &mut [u8],
        best: &mut [u64],
    ) -> FtlResult<(), N> {
        let Scan::Good(_) = self.scan_page(t.ppa, page)? else {
            return Ok(());
        };
        let Some(MetaHeader::Trim { ranges }) = MetaHeader::decode(page) else {
            return Ok(());
        };
        self.stats.mount_pages_replayed += 1;
        for i in 0..ranges as usize {
            let o = HEADER_LEN + 8 * i;
            let lba = u32::from_le_bytes([page[o], page[o + 1], page[o + 2], page[o + 3]]);
            let n = u32::from_le_bytes([page[o + 4], page[o + 5], page[o + 6], page[o + 7]]);
            let end = (u64::from(lba) + u64::from(n)).min(self.logical);
            for l in u64::from(lba)..end {
                if t.seq > best[l as usize] {
                    best[l as usize] = t.seq;
                    self.l2p.set(Lba(l), UNMAPPED);
                }
            }
        }
        Ok(())
    }

    /// Final block states: meta blocks holding the loaded checkpoint or
    /// anything after it stay (oldest first); older meta blocks, erased and
    /// never-replayed blocks become stale; blocks open at the checkpoint
    /// were replayed and closed.
    fn settle_after_mount(
        &mut self,
        first: &[First],
        chunks: &[CkptChunk],
        ckpt: Option<(u64, u32)>,
    ) {
        let ckpt_block = ckpt
            .and_then(|(seq, _)| chunks.iter().find(|c| c.seq == seq && c.index == 0))
            .map(|c| c.ppa.block);
        let mut metas: Vec<(u64, BlockIdx)> = Vec::new();
        for b in self.blocks.iter() {
            match first[b.0 as usize] {
                First::Erased => self.blocks.set_state(b, BlockState::Stale),
                First::Meta => {
                    // The first page's sequence orders meta blocks.
                    let order = self.read_record(Ppa::new(b, 0)).map_or(0, |r| r.seq.0);
                    metas.push((order, b));
                }
                _ => {
                    if matches!(self.blocks.state(b), BlockState::Open | BlockState::Free) {
                        // Open at the checkpoint but never written since, or
                        // free then: content unknown now, erase before use.
                        if self.blocks.next_page(b) == 0 || self.blocks.state(b) == BlockState::Free
                        {
                            self.blocks.set_state(b, BlockState::Stale);
                        } else {
                            self.blocks.set_state(b, BlockState::Full);
                        }
                    }
                }
            }
        }
        metas.sort_unstable();
        let start = ckpt_block.and_then(|k| metas.iter().position(|&(_, b)| b == k));
        for (i, &(_, b)) in metas.iter().enumerate() {
            if start.is_some_and(|s| i >= s) {
                self.blocks.set_state(b, BlockState::Meta);
                self.meta_blocks.push(b);
            } else {
                self.blocks.set_state(b, BlockState::Stale);
            }
        }
    }

    /// Derives validity from the L2P; full blocks left with nothing valid
    /// become stale.
    fn rebuild_validity(&mut self) {
        for l in 0..self.logical {
            let psa = self.l2p.get(Lba(l));
            if psa == UNMAPPED || psa == LOST {
                continue;
            }
            if self.valid.is_valid(psa) {
                // Two LBAs claim one sector: only corrupted media does that.
                self.l2p.set(Lba(l), LOST);
                continue;
            }
            self.valid.set(psa);
        }
        for b in self.blocks.iter() {
            let s = self.blocks.state(b);
            if s == BlockState::Full && self.valid.count(b) == 0 {
                self.blocks.set_state(b, BlockState::Stale);
            }
            if self.valid.count(b) > 0 && s != BlockState::Full {
                // Data the checkpoint or replay says is here keeps its block.
                self.blocks.set_state(b, BlockState::Full);
            }
        }
    }

    /// Refuses media with too few good blocks for the logical capacity.
    fn check_capacity(&self) -> FtlResult<(), N> {
        let good = u64::from(self.blocks.good());
        let need = self.logical.div_ceil(u64::from(self.layout.spb))
            + u64::from(self.geo.reserved_blocks());
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

/// The newest checkpoint with every chunk present: (seq, chunk count).
fn newest_complete(chunks: &[CkptChunk]) -> Option<(u64, u32)> {
    let mut best: Option<(u64, u32)> = None;
    for c in chunks {
        if best.is_some_and(|(s, _)| s >= c.seq) {
            continue;
        }
        let complete = (0..c.count).all(|i| {
            chunks
                .iter()
                .any(|d| d.seq == c.seq && d.count == c.count && d.index == i)
        });
        if complete {
            best = Some((c.seq, c.count));
        }
    }
    best
}
