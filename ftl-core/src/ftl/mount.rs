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
use crate::format::checkpoint::Shape;
use crate::format::meta_page::{MetaHeader, HEADER_LEN};
use crate::format::oob::{self, OobError, PageKind, PageRecord};
use crate::format::trim_record;
use crate::map::Mapping;
use crate::nand::Nand;
use crate::slot::SlotMemory;

use super::{Ftl, FtlResult};

/// What the last mount read and replayed.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct MountCounters {
    pub pages_read: u64,
    pub pages_replayed: u64,
}

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
        for b in ftl.flash.blocks().iter() {
            if ftl.media.is_bad_block(b).map_err(Error::Nand)? {
                ftl.flash.retire_factory_bad(b);
                continue;
            }
            if let Ok(Some(Ok(rec))) = ftl.media.read_spare(Ppa::new(b, 0)) {
                ftl.flash.restore_erase_count(b, rec.erase_count);
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
        let nblocks = ftl.flash.block_count() as usize;
        let mut first = alloc::vec![First::Erased; nblocks];
        let mut census = Census::default();
        for b in ftl.flash.blocks().iter() {
            first[b.0 as usize] = ftl.survey(b, &mut census)?;
        }
        // Meta blocks, whole: checkpoint chunks and trim records.
        let mut page = alloc::vec![0u8; ftl.geo.page_size as usize];
        let mut chunks = Vec::new();
        let mut trims = Vec::new();
        for b in ftl.flash.blocks().iter() {
            if first[b.0 as usize] == First::Meta {
                ftl.scan_meta_block(b, &mut page, &mut chunks, &mut trims)?;
            }
        }
        let ckpt = newest_complete(&chunks);
        if let Some((seq, _)) = ckpt {
            // The media says what capacity it was formatted with.
            let logical = ftl.checkpoint_capacity(seq, &chunks, &mut page)?;
            ftl.adopt_capacity(logical)?;
        }
        let snapshot = match ckpt {
            Some((seq, count)) => {
                ftl.load_checkpoint(seq, count, &chunks, &mut page)?;
                seq
            }
            None => 0,
        };
        ftl.media.observe_seq(snapshot);
        // Replay data written after the checkpoint.
        let mut best = alloc::vec![0u64; ftl.logical as usize];
        for b in ftl.flash.blocks().iter() {
            let replay = match first[b.0 as usize] {
                First::Data(seq) => seq > snapshot || ftl.flash.state(b) == BlockState::Open,
                First::Garbage => true,
                First::Bad | First::Erased | First::Meta => false,
            };
            if !replay {
                continue;
            }
            let used = ftl.replay_block(b, snapshot, &mut page, &mut best, &mut census)?;
            ftl.flash.restore_next_page(b, used);
            let state = if used > 0 {
                BlockState::Full
            } else {
                BlockState::Stale
            };
            ftl.flash.restore_block(b, state);
        }
        if census.ours == 0 && census.foreign > 0 {
            return Err(Error::Foreign);
        }
        // No device programs 2^63 pages: a sequence number up there is a
        // crafted or corrupted record, and counting on from it would
        // overflow.
        if ftl.media.seq() > MAX_PLAUSIBLE_SEQ {
            return Err(Error::Corrupted);
        }
        for t in trims.iter().filter(|t| t.seq > snapshot) {
            ftl.replay_trim(t, &mut page, &mut best)?;
        }
        // A checkpoint mapping into a block rewritten since, with no newer
        // event for that LBA, can only mean the newer event was destroyed
        // (corrupted media): the data is lost, never someone else's.
        for (l, &newest) in best.iter().enumerate() {
            let lba = Lba(l as u64);
            let Some(psa) = ftl.flash.mapping(lba).psa() else {
                continue;
            };
            if newest != 0 {
                continue;
            }
            let rewritten = match first[ftl.flash.layout().block(psa).0 as usize] {
                First::Data(seq) => seq > snapshot,
                First::Garbage | First::Erased | First::Meta | First::Bad => true,
            };
            if rewritten {
                ftl.flash.restore_mapping(lba, Mapping::Lost);
            }
        }
        ftl.settle_after_mount(&first, &chunks, ckpt);
        ftl.flash.rebuild_validity(ftl.logical);
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

    /// Classifies a block by its first page's spare area.
    fn survey(&mut self, b: BlockIdx, census: &mut Census) -> FtlResult<First, N> {
        if self.media.is_bad_block(b).map_err(Error::Nand)? {
            self.flash.restore_block(b, BlockState::Bad);
            return Ok(First::Bad);
        }
        let r = self
            .media
            .read_spare(Ppa::new(b, 0))
            .map_err(Error::Nand)?
            .unwrap_or(Err(OobError::Corrupt));
        Ok(match r {
            Err(OobError::Erased) => First::Erased,
            Err(OobError::Foreign) => {
                census.foreign += 1;
                First::Garbage
            }
            Err(OobError::Corrupt) => First::Garbage,
            Ok(rec) => {
                census.ours += 1;
                self.flash.restore_erase_count(b, rec.erase_count);
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
        let Some(decoded) = self.media.read_raw(ppa, page).map_err(Error::Nand)? else {
            return Ok(Scan::Garbage { foreign: false });
        };
        self.mounted.pages_read += 1;
        let spp = self.flash.layout().spp;
        Ok(match decoded {
            // An erased spare area over programmed data is a torn program.
            Err(OobError::Erased) if page.iter().all(|&x| x == 0xFF) => Scan::Erased,
            Err(OobError::Foreign) => Scan::Garbage { foreign: true },
            Err(_) => Scan::Garbage { foreign: false },
            Ok(rec) if u32::from(rec.sectors) == spp && oob::data_crc([&*page]) == rec.data_crc => {
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
        for p in 0..self.flash.layout().ppb {
            let ppa = Ppa::new(b, p);
            match self.scan_page(ppa, page)? {
                Scan::Erased => break,
                Scan::Garbage { .. } => {}
                Scan::Good(rec) => {
                    self.media.observe_seq(rec.seq.0);
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
        self.flash.restore_next_page(b, used);
        self.flash.restore_block(b, BlockState::Meta);
        Ok(())
    }

    /// The logical capacity checkpoint `seq` (known complete) records.
    fn checkpoint_capacity(
        &mut self,
        seq: u64,
        chunks: &[CkptChunk],
        page: &mut [u8],
    ) -> FtlResult<u64, N> {
        let c = chunks
            .iter()
            .find(|c| c.seq == seq && c.index == 0)
            .ok_or(Error::Corrupted)?;
        let Scan::Good(_) = self.scan_page(c.ppa, page)? else {
            return Err(Error::Corrupted);
        };
        let shape = Shape::peek(&page[HEADER_LEN..]).ok_or(Error::Corrupted)?;
        if shape.blocks != self.flash.block_count() {
            return Err(Error::Corrupted);
        }
        Ok(shape.logical)
    }

    /// Takes the media's capacity instead of the configured one (an image
    /// formatted with another over-provisioning). A capacity this geometry
    /// could never have held is corruption.
    fn adopt_capacity(&mut self, logical: u64) -> FtlResult<(), N> {
        if logical == self.logical {
            return Ok(());
        }
        let spb = u64::from(self.flash.layout().spb);
        let room = u64::from(
            self.geo
                .total_blocks()
                .saturating_sub(self.cfg.reserved_blocks(&self.geo)),
        ) * spb;
        if logical == 0 || logical > room {
            return Err(Error::Corrupted);
        }
        self.logical = logical;
        self.flash.resize_map(logical);
        Ok(())
    }

    /// Loads checkpoint `seq` (known complete) into the map and block
    /// table, through the map's own interface.
    fn load_checkpoint(
        &mut self,
        seq: u64,
        count: u32,
        chunks: &[CkptChunk],
        page: &mut [u8],
    ) -> FtlResult<(), N> {
        let cap = self.geo.page_size as usize - HEADER_LEN;
        let shape = Shape {
            logical: self.logical,
            blocks: self.flash.block_count(),
        };
        if shape.chunks(self.geo.page_size as usize) != count {
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
        let ckpt = shape.decode(&payload).ok_or(Error::Corrupted)?;
        let total = self.flash.layout().total;
        for l in 0..self.logical {
            let raw = ckpt.map_entry(l).ok_or(Error::Corrupted)?;
            let m = Mapping::from_raw(raw, total).ok_or(Error::Corrupted)?;
            self.flash.restore_mapping(Lba(l), m);
        }
        let ppb = self.flash.layout().ppb;
        for b in self.flash.blocks().iter() {
            let r = ckpt.block(b.0).ok_or(Error::Corrupted)?;
            let wear = r.erase_count.max(self.flash.erase_count(b));
            self.flash.restore_erase_count(b, wear);
            let now = self.flash.state(b);
            if now == BlockState::Bad {
                continue; // marked on the media: stays bad
            }
            self.flash.restore_next_page(b, r.next_page.min(ppb));
            // Meta states come from the survey; everything else from here
            // until replay and settling adjust it.
            if r.state != BlockState::Meta && now != BlockState::Meta {
                self.flash.restore_block(b, r.state);
            }
        }
        Ok(())
    }

    /// Replays a block written after the checkpoint; returns pages used.
    fn replay_block(
        &mut self,
        b: BlockIdx,
        snapshot: u64,
        page: &mut [u8],
        best: &mut [u64],
        census: &mut Census,
    ) -> FtlResult<u32, N> {
        let mut used = 0;
        for p in 0..self.flash.layout().ppb {
            let ppa = Ppa::new(b, p);
            match self.scan_page(ppa, page)? {
                Scan::Erased => break,
                Scan::Garbage { foreign } => census.foreign += u64::from(foreign),
                Scan::Good(rec) => {
                    census.ours += 1;
                    self.media.observe_seq(rec.seq.0);
                    self.flash.programmed(b, rec.seq.0);
                    if rec.seq.0 > snapshot && !rec.kind.is_meta() {
                        self.mounted.pages_replayed += 1;
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
            let Some(newest) = best.get_mut(l.0 as usize) else {
                continue;
            };
            if rec.seq.0 > *newest {
                *newest = rec.seq.0;
                let psa = self.flash.layout().psa(ppa, i);
                self.flash.restore_mapping(l, Mapping::Flash(psa));
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
        let Some(ranges) = trim_record::decode(page) else {
            return Ok(());
        };
        self.mounted.pages_replayed += 1;
        for (lba, n) in ranges {
            let end = (u64::from(lba) + u64::from(n)).min(self.logical);
            for l in u64::from(lba)..end {
                if t.seq > best[l as usize] {
                    best[l as usize] = t.seq;
                    self.flash.restore_mapping(Lba(l), Mapping::Unmapped);
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
        for b in self.flash.blocks().iter() {
            match first[b.0 as usize] {
                First::Erased => self.flash.restore_block(b, BlockState::Stale),
                First::Meta => {
                    // The first page's sequence orders meta blocks.
                    let order = match self.media.read_spare(Ppa::new(b, 0)) {
                        Ok(Some(Ok(r))) => r.seq.0,
                        _ => 0,
                    };
                    metas.push((order, b));
                }
                _ => {
                    let s = self.flash.state(b);
                    if matches!(s, BlockState::Open | BlockState::Free) {
                        // Open at the checkpoint but never written since, or
                        // free then: content unknown now, erase before use.
                        let to = if self.flash.next_page(b) == 0 || s == BlockState::Free {
                            BlockState::Stale
                        } else {
                            BlockState::Full
                        };
                        self.flash.restore_block(b, to);
                    }
                }
            }
        }
        metas.sort_unstable();
        let start = ckpt_block.and_then(|k| metas.iter().position(|&(_, b)| b == k));
        for (i, &(_, b)) in metas.iter().enumerate() {
            if start.is_some_and(|s| i >= s) {
                self.flash.restore_block(b, BlockState::Meta);
                self.meta.add_block(b);
            } else {
                self.flash.restore_block(b, BlockState::Stale);
            }
        }
    }

    /// Refuses media with too few good blocks for the logical capacity.
    fn check_capacity(&self) -> FtlResult<(), N> {
        let good = u64::from(self.flash.good_blocks());
        let need = self.logical.div_ceil(u64::from(self.flash.layout().spb))
            + u64::from(self.cfg.reserved_blocks(&self.geo));
        if good < need {
            return Err(Error::NoSpace);
        }
        Ok(())
    }
}

/// Pages seen that are zcftl's, and pages that are someone else's.
#[derive(Default)]
struct Census {
    ours: u64,
    foreign: u64,
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
