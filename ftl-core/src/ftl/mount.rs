//! Bringing an FTL up: format fresh media, or recover what is on flash.
//!
//! Recovery (`Ftl::open`):
//! 1. Reads the spare area of every block's first page: cheap, and enough
//!    to tell meta blocks, data blocks (with the sequence number their
//!    current contents started at) and torn blocks apart.
//! 2. Reads the spare areas of the meta blocks and finds the newest
//!    *complete* checkpoint (every chunk present and verified), read whole.
//!    A cut while a checkpoint was written leaves the previous one.
//! 3. Loads the translation pages its directory names into the map. An
//!    entry pointing into a block rewritten since its page was written is
//!    *lost*, unless replay finds a newer event for it.
//! 4. Replays, in sequence order, every event from the checkpoint's
//!    horizon on (`replay.rs`): data pages (from each block's summary in
//!    the meta stream, or page by page in a block without one: open at the
//!    cut, torn, or whose summary page was not yet written) and trim
//!    records. An event counts for an LBA only if it is newer than
//!    that LBA's translation page. Pages whose record or data crc fails
//!    (torn programs, garbage, foreign data) are skipped, so recovery never
//!    serves data that was not written.
//! 5. Closes every block it replayed (a torn page may follow the last good
//!    one), takes the rest from the checkpoint's block table, and writes a
//!    new checkpoint.
//!
//! The work is one spare-area read per block and per meta page, the
//! checkpoint, the translation pages, the summary pages since the horizon,
//! and one page per data block written since the horizon: the write-back
//! rate bounds it, not the data stored.
//! Media with no checkpoint at all (an interrupted format) is replayed
//! whole.

use alloc::vec::Vec;

use crate::addr::{BlockIdx, Lba, Ppa};
use crate::blocks::BlockState;
use crate::config::FtlConfig;
use crate::error::Error;
use crate::format::checkpoint::Shape;
use crate::format::meta_page::{MetaHeader, HEADER_LEN};
use crate::format::oob::{self, OobError, PageKind, PageRecord};
use crate::format::translation;
use crate::map::Mapping;
use crate::nand::Nand;
use crate::slot::SlotMemory;
use crate::translation::NO_PAGE;

use super::media::checks_data;
use super::replay::Plan;
use super::{Ftl, FtlResult};

/// What the last mount read and replayed.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct MountCounters {
    pub pages_read: u64,
    pub pages_replayed: u64,
    pub blocks_from_summaries: u64,
    /// Translation pages the checkpoint names that did not read: their
    /// entries were marked lost, and the closing checkpoint writes them
    /// back first.
    pub unreadable_translation_pages: u64,
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

pub(super) enum Scan {
    Erased,
    Garbage { foreign: bool },
    Good(PageRecord),
}

/// A good meta page, known by its spare area.
#[derive(Clone, Copy)]
struct MetaSpare {
    seq: u64,
    kind: PageKind,
    /// Chunk index, translation page number.
    word: u32,
    ppa: Ppa,
}

/// A complete checkpoint found on flash.
struct Root {
    snapshot: u64,
    horizon: u64,
    first_block: BlockIdx,
    shape: Shape,
    payload: Vec<u8>,
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
        // Meta blocks: spare areas only, oldest block first.
        let mut spares = Vec::new();
        let mut metas = Vec::new();
        for b in ftl.flash.blocks().iter() {
            if first[b.0 as usize] == First::Meta {
                let order = ftl.scan_meta_spares(b, &mut spares)?;
                metas.push((order, b));
            }
        }
        metas.sort_unstable();
        spares.sort_unstable_by_key(|m| m.seq);
        for &(_, b) in &metas {
            ftl.meta.add_block(b);
        }
        let mut page = alloc::vec![0u8; ftl.geo.page_size as usize];
        let root = ftl.find_root(&spares, &mut page)?;
        let (snapshot, horizon, mut tp_seq) = match &root {
            Some(r) => {
                ftl.adopt_shape(r.shape)?;
                ftl.load_root(r, &first, &spares, &mut page)?
            }
            None => (0, 0, alloc::vec![0; ftl.flash.translation().len() as usize]),
        };
        ftl.media.observe_seq(snapshot);
        // Events from the horizon on, in sequence order.
        let replay: Vec<BlockIdx> = ftl
            .flash
            .blocks()
            .iter()
            .filter(|&b| match first[b.0 as usize] {
                First::Data(seq) => {
                    seq > snapshot
                        || ftl.flash.state(b) == BlockState::Open
                        || (ftl.flash.blocks().last_seq(b) >= horizon
                            && ftl.flash.state(b) != BlockState::Stale)
                }
                First::Garbage => true,
                First::Bad | First::Erased | First::Meta => false,
            })
            .collect();
        let (mut trims, mut summary_pages) = (Vec::new(), Vec::new());
        for m in spares.iter() {
            let list = match m.kind {
                PageKind::Trim => {
                    ftl.meta.restore_trim(m.ppa.block, m.seq);
                    &mut trims
                }
                PageKind::Summary => {
                    ftl.meta.restore_summary(m.ppa.block, m.seq);
                    &mut summary_pages
                }
                _ => continue,
            };
            if m.seq >= horizon {
                list.push((m.seq, m.ppa));
            }
        }
        let summaries = ftl.index_summaries(&summary_pages, &mut page, &mut census)?;
        let mut replay: Vec<(u64, BlockIdx)> = replay
            .into_iter()
            .map(|b| match first[b.0 as usize] {
                First::Data(seq) => (seq, b),
                _ => (0, b),
            })
            .collect();
        replay.sort_unstable();
        let plan = Plan {
            blocks: replay,
            trims,
            summaries,
            horizon,
        };
        ftl.replay(plan, &mut tp_seq, &mut page, &mut census)?;
        if census.ours == 0 && census.foreign > 0 {
            return Err(Error::Foreign);
        }
        // No device programs 2^63 pages: a sequence number up there is a
        // crafted or corrupted record, and counting on from it would
        // overflow.
        if ftl.media.seq() > MAX_PLAUSIBLE_SEQ {
            return Err(Error::Corrupted);
        }
        ftl.settle_after_mount(&first, root.as_ref().map(|r| r.first_block), horizon);
        if ftl.flash.map_cache().is_some() {
            ftl.claim_all(&first, &tp_seq, snapshot, &mut page)?;
            ftl.flash.settle_validity();
        } else {
            ftl.flash.rebuild_validity(ftl.logical);
        }
        ftl.flash.restore_now(ftl.media.seq());
        // No capacity check here, unlike format: blocks retired since (worn
        // out, or unreadable) may leave fewer good blocks than the logical
        // capacity needs. The device still mounts so its data reads, and
        // writes report NoSpace once GC finds no room: a worn device
        // degrades, it does not lock its data away (found by fuzzing).
        // Blocks open at the cut were closed where they stood: collect
        // garbage first, so the closing checkpoint finds room.
        match ftl.maintain() {
            Ok(()) | Err(Error::NoSpace) => {}
            Err(e) => return Err(e),
        }
        // The closing checkpoint only shortens the next recovery: the
        // previous checkpoint plus what was replayed stays valid on flash.
        // A degraded medium with no block free for it still mounts (writes
        // then report NoSpace); found by fuzzing. Translation pages that did
        // not read head the dirty list (their losses were the first changes
        // made, dated at the horizon): it writes them back, so the losses
        // stay losses, not a copy-less page of zeros, whatever comes next.
        ftl.meta
            .grant_write_backs(ftl.mounted.unreadable_translation_pages);
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
    pub(super) fn scan_page(&mut self, ppa: Ppa, page: &mut [u8]) -> FtlResult<Scan, N> {
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
            // With data checksums off a data page's data is not checked: a
            // torn program whose record survived reads as good.
            Ok(rec)
                if u32::from(rec.sectors) == spp
                    && (!checks_data(rec.kind, self.media.data_checksums())
                        || oob::data_crc([&*page]) == rec.data_crc) =>
            {
                Scan::Good(rec)
            }
            Ok(_) => Scan::Garbage { foreign: false },
        })
    }

    /// Reads the spare area of each page of meta block `b` and notes the
    /// good ones; returns the block's order (its first page's sequence).
    fn scan_meta_spares(&mut self, b: BlockIdx, spares: &mut Vec<MetaSpare>) -> FtlResult<u64, N> {
        let mut used = 0;
        let mut order = u64::MAX;
        for p in 0..self.flash.layout().ppb {
            let ppa = Ppa::new(b, p);
            match self.media.read_spare(ppa).map_err(Error::Nand)? {
                Some(Err(OobError::Erased)) => break,
                Some(Ok(rec)) if rec.kind.is_meta() => {
                    self.mounted.pages_read += 1;
                    self.media.observe_seq(rec.seq.0);
                    order = order.min(rec.seq.0);
                    spares.push(MetaSpare {
                        seq: rec.seq.0,
                        kind: rec.kind,
                        word: rec.lbas[0],
                        ppa,
                    });
                }
                _ => {}
            }
            used = p + 1;
        }
        self.flash.restore_next_page(b, used);
        self.flash.restore_block(b, BlockState::Meta);
        Ok(order)
    }

    /// The newest checkpoint whose chunks are all on flash and verify.
    fn find_root(&mut self, spares: &[MetaSpare], page: &mut [u8]) -> FtlResult<Option<Root>, N> {
        let cap = self.geo.page_size as usize - HEADER_LEN;
        for (h, head) in spares.iter().enumerate().rev() {
            if head.kind != PageKind::Checkpoint || head.word != 0 {
                continue;
            }
            let Some((snapshot, count)) = self.read_chunk(head.ppa, page, None, 0)? else {
                continue;
            };
            let shape = Shape::peek(&page[HEADER_LEN..]).ok_or(Error::Corrupted)?;
            if shape.blocks != self.flash.block_count()
                || shape.chunks(self.geo.page_size as usize) != count
            {
                return Err(Error::Corrupted);
            }
            let mut payload = alloc::vec![0u8; count as usize * cap];
            payload[..cap].copy_from_slice(&page[HEADER_LEN..]);
            let mut next = 1;
            for m in &spares[h + 1..] {
                if next == count {
                    break;
                }
                if m.kind != PageKind::Checkpoint {
                    continue;
                }
                if m.word != next
                    || self
                        .read_chunk(m.ppa, page, Some(snapshot), next)?
                        .map_or(true, |(_, c)| c != count)
                {
                    break;
                }
                let at = next as usize * cap;
                payload[at..at + cap].copy_from_slice(&page[HEADER_LEN..]);
                next += 1;
            }
            if next != count {
                continue; // torn: an older one
            }
            let decoded = shape.decode(&payload).ok_or(Error::Corrupted)?;
            let horizon = decoded.horizon();
            if horizon > snapshot + 1 {
                return Err(Error::Corrupted);
            }
            return Ok(Some(Root {
                snapshot,
                horizon,
                first_block: head.ppa.block,
                shape,
                payload,
            }));
        }
        Ok(None)
    }

    /// Reads checkpoint chunk `index` at `ppa`: its snapshot and chunk
    /// count, if it verifies (and belongs to `snapshot`, if given).
    fn read_chunk(
        &mut self,
        ppa: Ppa,
        page: &mut [u8],
        snapshot: Option<u64>,
        index: u32,
    ) -> FtlResult<Option<(u64, u32)>, N> {
        let Scan::Good(rec) = self.scan_page(ppa, page)? else {
            return Ok(None);
        };
        Ok(match (rec.kind, MetaHeader::decode(page)) {
            (
                PageKind::Checkpoint,
                Some(MetaHeader::Checkpoint {
                    seq,
                    index: i,
                    count,
                }),
            ) if i == index && snapshot.map_or(true, |s| s == seq) => Some((seq, count)),
            _ => None,
        })
    }

    /// Takes the media's capacity and translation page size instead of the
    /// configured ones (an image formatted with other settings). A shape
    /// this geometry could never have held is corruption.
    fn adopt_shape(&mut self, shape: Shape) -> FtlResult<(), N> {
        let entries = shape.entries;
        if entries == 0
            || entries as usize > translation::capacity(self.geo.page_size as usize)
            || u64::from(shape.tps) != shape.logical.div_ceil(u64::from(entries))
        {
            return Err(Error::Corrupted);
        }
        if shape.logical == self.logical && entries == self.flash.translation().entries() {
            return Ok(());
        }
        let layout = *self.flash.layout();
        let room = u64::from(
            self.geo
                .total_blocks()
                .saturating_sub(self.cfg.reserved_blocks(&self.geo)),
        ) * u64::from(layout.ppb * layout.spp);
        if shape.logical == 0 || shape.logical > room {
            return Err(Error::Corrupted);
        }
        self.logical = shape.logical;
        let map = self
            .cfg
            .map_store(&self.geo, shape.logical, entries)
            .map_err(Error::Config)?;
        self.flash.resize_map(map, entries);
        Ok(())
    }

    /// Loads the checkpoint's block table and the translation pages its
    /// directory names. Returns the snapshot, the horizon and the sequence
    /// number of each translation page (0: never written).
    fn load_root(
        &mut self,
        r: &Root,
        first: &[First],
        spares: &[MetaSpare],
        page: &mut [u8],
    ) -> FtlResult<(u64, u64, Vec<u64>), N> {
        let ckpt = r.shape.decode(&r.payload).ok_or(Error::Corrupted)?;
        let ppb = self.flash.layout().ppb;
        for b in self.flash.blocks().iter() {
            let rec = ckpt.block(b.0).ok_or(Error::Corrupted)?;
            let wear = rec.erase_count.max(self.flash.erase_count(b));
            self.flash.restore_erase_count(b, wear);
            self.flash.restore_last_seq(b, rec.last_seq);
            self.media.observe_seq(rec.last_seq);
            let now = self.flash.state(b);
            if now == BlockState::Bad {
                continue; // marked on the media: stays bad
            }
            self.flash.restore_next_page(b, rec.next_page.min(ppb));
            // Meta states come from the survey; everything else from here
            // until replay and settling adjust it.
            if rec.state != BlockState::Meta && now != BlockState::Meta {
                self.flash.restore_block(b, rec.state);
            }
        }
        let tps = self.flash.translation().len();
        // The newest copy of each translation page written back after the
        // checkpoint spares replaying what it holds. Only after it: an
        // older copy may be one a trim emptied since (a trim before the
        // horizon is not replayed); a trim after it always is.
        let layout = *self.flash.layout();
        let mut newest: Vec<Option<(u64, u32)>> = alloc::vec![None; tps as usize];
        for m in spares
            .iter()
            .filter(|m| m.kind == PageKind::Translation && m.seq > r.snapshot)
        {
            if let Some(n) = newest.get_mut(m.word as usize) {
                if n.map_or(true, |(s, _)| m.seq > s) {
                    *n = Some((m.seq, layout.page_index(m.ppa)));
                }
            }
        }
        // A demand-paged map reads each page once, in `claim_all`: here the
        // sequence number of a copy the checkpoint names comes from its
        // spare area (a copy newer than the checkpoint is still read, to
        // verify it before it is preferred).
        let paged = self.flash.map_cache().is_some();
        let mut spare_seq: Vec<(u32, u64)> = Vec::new();
        if paged {
            spare_seq.extend(
                spares
                    .iter()
                    .filter(|m| m.kind == PageKind::Translation)
                    .map(|m| (layout.page_index(m.ppa), m.seq)),
            );
            spare_seq.sort_unstable();
        }
        let mut tp_seq = alloc::vec![0u64; tps as usize];
        for t in 0..tps {
            let at = ckpt.dir_entry(t).ok_or(Error::Corrupted)?;
            let newer = newest[t as usize].filter(|&(_, a)| {
                a != at && self.translation_copy_reads(t, a, page).unwrap_or(false)
            });
            if let Some((seq, a)) = newer {
                if paged {
                    self.adopt_translation(t, a);
                    tp_seq[t as usize] = seq;
                } else {
                    tp_seq[t as usize] =
                        self.load_translation_page(t, a, first, page, r.horizon)?;
                }
                self.flash.restore_checkpointed_translation(t, at);
                if let Some(p) = layout.page_at(at).filter(|_| at != NO_PAGE) {
                    self.meta.restore_ref(p.block);
                }
                continue;
            }
            if at == NO_PAGE {
                continue;
            }
            let known = spare_seq
                .binary_search_by_key(&at, |&(a, _)| a)
                .ok()
                .map(|i| spare_seq[i].1);
            tp_seq[t as usize] = match known {
                Some(seq) if paged => {
                    self.adopt_translation(t, at);
                    seq
                }
                _ => self.load_translation_page(t, at, first, page, r.horizon)?,
            };
        }
        Ok((r.snapshot, r.horizon, tp_seq))
    }

    /// Mount, demand-paged map: copy `at` of translation page `t` is its
    /// newest (read later, by `claim_all`).
    fn adopt_translation(&mut self, t: u32, at: u32) {
        self.mounted.pages_replayed += 1;
        self.flash.restore_translation(t, at);
        if let Some(p) = self.flash.layout().page_at(at) {
            self.meta.restore_ref(p.block);
        }
    }

    /// Whether the page at `at` reads back as a copy of translation page
    /// `t` (an address outside the array does not).
    fn translation_copy_reads(&mut self, t: u32, at: u32, page: &mut [u8]) -> FtlResult<bool, N> {
        match self.flash.layout().page_at(at) {
            Some(ppa) => self.reads_as_translation(t, ppa, page),
            None => Ok(false),
        }
    }

    /// Reads page `ppa` into `page`: whether it verifies as a copy of
    /// translation page `t`, whole.
    pub(super) fn reads_as_translation(
        &mut self,
        t: u32,
        ppa: Ppa,
        page: &mut [u8],
    ) -> FtlResult<bool, N> {
        let (_, n) = self.flash.translation_entries(t);
        Ok(
            matches!(self.scan_page(ppa, page)?, Scan::Good(r) if r.kind == PageKind::Translation)
                && translation::decode(page).is_some_and(|p| p.tp == t && p.entries as usize == n),
        )
    }

    /// Loads translation page `t` from directory address `at` into the
    /// map; returns its sequence number. An entry pointing into a block
    /// rewritten since is lost (unless replay finds a newer event), and so
    /// is every entry of a page that cannot be read. Those losses are
    /// dated at the checkpoint's `horizon`: replay re-applies the page's
    /// changes from there on, and the page must stay dirty from before the
    /// first of them, or the next checkpoint's horizon passes changes no
    /// translation page holds (found by fuzzing: dated at the snapshot, a
    /// clean remount lost a sector replay had found).
    fn load_translation_page(
        &mut self,
        t: u32,
        at: u32,
        first: &[First],
        page: &mut [u8],
        horizon: u64,
    ) -> FtlResult<u64, N> {
        let layout = *self.flash.layout();
        let (lba0, n) = self.flash.translation_entries(t);
        let ppa = layout.page_at(at).ok_or(Error::Corrupted)?;
        let good = match first[ppa.block.0 as usize] {
            First::Meta => match self.scan_page(ppa, page)? {
                Scan::Good(rec) if rec.kind == PageKind::Translation => Some(rec.seq.0),
                _ => None,
            },
            _ => None,
        };
        let tp = good.and_then(|_| translation::decode(page));
        let (Some(seq), Some(tp)) = (good, tp.filter(|p| p.tp == t && p.entries as usize == n))
        else {
            self.mounted.unreadable_translation_pages += 1;
            for l in lba0..lba0 + n as u64 {
                self.flash
                    .replay_mapping(Lba(l), Mapping::Lost, horizon.max(1))
                    .map_err(|_| self.map_budget_error())?;
            }
            return Ok(0);
        };
        self.mounted.pages_replayed += 1;
        if self.flash.map_cache().is_some() {
            // Demand-paged: entries are read in when used; the claims
            // after replay check them (`claim_all`).
            self.flash.restore_translation(t, at);
            self.meta.restore_ref(ppa.block);
            return Ok(seq);
        }
        for i in 0..n {
            let raw = tp.entry(i).ok_or(Error::Corrupted)?;
            let m = match Mapping::from_raw(raw, layout.total) {
                Some(Mapping::Flash(p)) => match first[layout.block(p).0 as usize] {
                    First::Data(s) if s <= seq => Mapping::Flash(p),
                    _ => Mapping::Lost,
                },
                Some(m) => m,
                None => Mapping::Lost,
            };
            self.flash.load_mapping(Lba(lba0 + i as u64), m);
        }
        self.flash.restore_translation(t, at);
        self.meta.restore_ref(ppa.block);
        Ok(seq)
    }

    /// The error of a mount whose replay overflows a demand-paged map's
    /// cache: more changes were pending at the cut than it holds.
    pub(super) fn map_budget_error(&self) -> Error<N::Error> {
        Error::Config(crate::ConfigError::MapBudget {
            needed: self.cfg.map_budget_bytes.saturating_mul(2),
        })
    }

    /// Demand-paged map, after replay: every LBA's final entry (replayed
    /// and cached, or its translation page's, lost if that points into a
    /// block rewritten since the page was written) claims its sector.
    /// Corrections are cached dirty, so a page read in later is never
    /// trusted over them.
    fn claim_all(
        &mut self,
        first: &[First],
        tp_seq: &[u64],
        snapshot: u64,
        page: &mut [u8],
    ) -> FtlResult<(), N> {
        let layout = *self.flash.layout();
        let date = snapshot.max(1);
        // The cached entries of one page, by index: walked from the page's
        // list, so LBAs without one cost no lookup.
        let mut cached: Vec<(usize, Mapping)> = Vec::new();
        let mut is_cached: Vec<bool> = Vec::new();
        for t in 0..self.flash.translation().len() {
            let (lba0, n) = self.flash.translation_entries(t);
            let at = self.flash.translation().loc(t);
            cached.clear();
            if let Some(c) = self.flash.map_cache() {
                c.for_each_in(t, |lba, raw| {
                    cached.push(((lba.0 - lba0) as usize, crate::map::decode(raw)));
                });
            }
            if at == NO_PAGE {
                // Never written: only its cached entries map anything.
                for &(i, m) in &cached {
                    self.flash
                        .claim(Lba(lba0 + i as u64), m, date)
                        .map_err(|_| self.map_budget_error())?;
                }
                continue;
            }
            is_cached.clear();
            is_cached.resize(n, false);
            for &(i, m) in &cached {
                is_cached[i] = true;
                self.flash
                    .claim(Lba(lba0 + i as u64), m, date)
                    .map_err(|_| self.map_budget_error())?;
            }
            let ppa = layout.page_at(at).ok_or(Error::Corrupted)?;
            let base = self.reads_as_translation(t, ppa, page)?;
            let tp = translation::decode(page).filter(|_| base);
            for (i, _) in is_cached.iter().enumerate().filter(|(_, &c)| !c) {
                let lba = Lba(lba0 + i as u64);
                let raw = tp.as_ref().and_then(|p| p.entry(i));
                let m = match raw.and_then(|r| Mapping::from_raw(r, layout.total)) {
                    Some(Mapping::Flash(p)) => match first[layout.block(p).0 as usize] {
                        First::Data(s) if s <= tp_seq[t as usize] => Mapping::Flash(p),
                        _ => Mapping::Lost,
                    },
                    Some(m) => m,
                    None => Mapping::Lost,
                };
                if m == Mapping::Lost && raw != Some(Mapping::Lost.to_raw()) {
                    self.flash
                        .replay_mapping(lba, m, date)
                        .map_err(|_| self.map_budget_error())?;
                }
                self.flash
                    .claim(lba, m, date)
                    .map_err(|_| self.map_budget_error())?;
            }
        }
        Ok(())
    }

    /// Final block states: erased and never-replayed blocks open or free at
    /// the checkpoint become stale (content unknown, erased before use);
    /// meta blocks nothing needs any more (see `meta_stream.rs`) too.
    fn settle_after_mount(&mut self, first: &[First], root_block: Option<BlockIdx>, horizon: u64) {
        for b in self.flash.blocks().iter() {
            match first[b.0 as usize] {
                First::Erased => self.flash.restore_block(b, BlockState::Stale),
                First::Meta => {}
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
        let flash = &mut self.flash;
        self.meta.release_unneeded(root_block, horizon, |b| {
            flash.restore_block(b, BlockState::Stale)
        });
    }

    /// Refuses to format media with too few good blocks for the logical
    /// capacity and the reserve.
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
pub(super) struct Census {
    pub ours: u64,
    pub foreign: u64,
}
