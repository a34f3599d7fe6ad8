//! Recovery's replay: every data page and trim from the horizon on, in
//! sequence order, each applied to the LBAs whose translation page is
//! older than it.
//!
//! Blocks are read lazily and merged: a block is opened (its summary read
//! from the meta stream, or its pages scanned one by one if it has none)
//! only when the merge reaches its first sequence number, and dropped when
//! read out. Only the blocks whose sequence ranges overlap — a stream's
//! open blocks at any moment — are held at once, so the scratch RAM does
//! not grow with how far the horizon trails (one summary per open cursor;
//! the index of where each summary is takes 24 bytes a block).

use alloc::vec::Vec;

use crate::addr::{BlockIdx, Lba, Ppa};
use crate::blocks::BlockState;
use crate::error::Error;
use crate::format::oob::{PageKind, MAX_SECTORS_PER_PAGE, NO_LBA};
use crate::format::summary::{self, Entry};
use crate::format::trim_record;
use crate::map::Mapping;
use crate::nand::Nand;
use crate::slot::SlotMemory;

use super::mount::{Census, Scan};
use super::{Ftl, FtlResult};

/// The next event of one block.
type Head = (u64, Ppa, [u32; MAX_SECTORS_PER_PAGE]);

/// Where a block's summary is: the block, the sequence number of its
/// first page (which contents of the block it describes), the summary
/// page and the entry in it. Sorted by block and sequence number.
pub(super) type SummaryAt = (BlockIdx, u64, Ppa, u32);

/// A block being read: from its summary, or page by page.
struct Cursor {
    block: BlockIdx,
    /// The block's summary entry, if it has a good one.
    summary: Option<Vec<u8>>,
    /// Next page to read.
    next: u32,
    /// Pages used so far (scanning: up to the last non-erased page).
    used: u32,
    head: Option<Head>,
}

/// What a mount replays.
pub(super) struct Plan {
    /// Blocks, sorted by the sequence number of their first page (0 when
    /// unknown).
    pub blocks: Vec<(u64, BlockIdx)>,
    /// Trim records (sequence, page).
    pub trims: Vec<(u64, Ppa)>,
    /// Where each block's summary is ([`Ftl::index_summaries`]).
    pub summaries: Vec<SummaryAt>,
    /// Events before it are in the checkpoint.
    pub horizon: u64,
}

impl<N: Nand, M: SlotMemory> Ftl<N, M> {
    /// Replays the plan's blocks, reading them from their summaries where
    /// it has them, and its trims, from its horizon on.
    pub(super) fn replay(
        &mut self,
        plan: Plan,
        tp_seq: &mut [u64],
        page: &mut [u8],
        census: &mut Census,
    ) -> FtlResult<(), N> {
        let Plan {
            blocks,
            mut trims,
            summaries,
            horizon,
        } = plan;
        trims.sort_unstable();
        let mut next_trim = 0;
        let mut next_block = 0;
        let mut active: Vec<Cursor> = Vec::new();
        loop {
            let min = active
                .iter()
                .enumerate()
                .filter_map(|(i, c)| c.head.map(|h| (h.0, i)))
                .min();
            if let Some(&(first, b)) = blocks.get(next_block) {
                if min.map_or(true, |(m, _)| first <= m) {
                    next_block += 1;
                    let mut c = self.open_cursor(b, first, &summaries, page)?;
                    self.advance(&mut c, page, census)?;
                    if c.head.is_some() {
                        active.push(c);
                    } else {
                        self.close_cursor(&c);
                    }
                    continue;
                }
            }
            let Some((seq, i)) = min else { break };
            while let Some(&(t, ppa)) = trims.get(next_trim) {
                if t > seq {
                    break;
                }
                self.apply_trim(t, ppa, tp_seq, page)?;
                next_trim += 1;
            }
            let (seq, ppa, lbas) = active[i].head.take().expect("min has a head");
            if seq >= horizon {
                self.apply_page(seq, ppa, &lbas, tp_seq)?;
            }
            self.advance(&mut active[i], page, census)?;
            if active[i].head.is_none() {
                let c = active.swap_remove(i);
                self.close_cursor(&c);
            }
        }
        for &(t, ppa) in &trims[next_trim..] {
            self.apply_trim(t, ppa, tp_seq, page)?;
        }
        Ok(())
    }

    /// Mount: reads the summary pages at `pages` (sequence, page) and
    /// indexes the summaries they hold.
    pub(super) fn index_summaries(
        &mut self,
        pages: &[(u64, Ppa)],
        page: &mut [u8],
        census: &mut Census,
    ) -> FtlResult<Vec<SummaryAt>, N> {
        let layout = *self.flash.layout();
        let mut index = Vec::new();
        for &(_, ppa) in pages {
            let Scan::Good(rec) = self.scan_page(ppa, page)? else {
                continue;
            };
            census.ours += 1;
            let Some(s) = summary::decode(page, layout.ppb, layout.spp as usize)
                .filter(|_| rec.kind == PageKind::Summary)
            else {
                continue;
            };
            for i in 0..s.entries {
                let Some(e) = s.entry(i) else { continue };
                if let Some((first, _)) = e.page(0) {
                    index.push((BlockIdx(e.block()), first, ppa, i));
                }
            }
        }
        index.sort_unstable_by_key(|&(b, first, _, _)| (b, first));
        Ok(index)
    }

    /// Starts reading block `b`, whose first page has sequence number
    /// `first`: from its summary if `summaries` has a good one.
    fn open_cursor(
        &mut self,
        b: BlockIdx,
        first: u64,
        summaries: &[SummaryAt],
        page: &mut [u8],
    ) -> FtlResult<Cursor, N> {
        let layout = *self.flash.layout();
        let mut c = Cursor {
            block: b,
            summary: None,
            next: 0,
            used: 0,
            head: None,
        };
        let Ok(k) = summaries.binary_search_by_key(&(b, first), |&(b, f, _, _)| (b, f)) else {
            return Ok(c);
        };
        let (_, _, at, i) = summaries[k];
        let Scan::Good(_) = self.scan_page(at, page)? else {
            return Ok(c);
        };
        let spp = layout.spp as usize;
        let Some(entry) = summary::decode(page, layout.ppb, spp).and_then(|s| s.entry(i)) else {
            return Ok(c);
        };
        let last = entry.page(layout.ppb - 1).map(|(seq, _)| seq);
        if let (Some(last), true) = (last, entry.block() == b.0) {
            self.media.observe_seq(last);
            self.flash.programmed(b, last);
            c.summary = Some(entry.bytes().to_vec());
            c.used = layout.ppb;
            self.mounted.blocks_from_summaries += 1;
        }
        Ok(c)
    }

    /// Moves `c` to its block's next data page (`head`), or to its end.
    fn advance(
        &mut self,
        c: &mut Cursor,
        page: &mut [u8],
        census: &mut Census,
    ) -> FtlResult<(), N> {
        let layout = *self.flash.layout();
        let spp = layout.spp as usize;
        c.head = None;
        if let Some(buf) = &c.summary {
            let s = Entry::new(buf, layout.ppb, spp).ok_or(Error::Corrupted)?;
            if let Some((seq, lbas)) = s.page(c.next) {
                self.media.observe_seq(seq);
                c.head = Some((seq, Ppa::new(c.block, c.next), lbas));
                c.next += 1;
            }
            return Ok(());
        }
        while c.next < layout.ppb {
            let ppa = Ppa::new(c.block, c.next);
            c.next += 1;
            match self.scan_page(ppa, page)? {
                Scan::Erased => {
                    c.next = layout.ppb;
                    break;
                }
                Scan::Garbage { foreign } => census.foreign += u64::from(foreign),
                Scan::Good(rec) => {
                    census.ours += 1;
                    self.media.observe_seq(rec.seq.0);
                    self.flash.programmed(c.block, rec.seq.0);
                    if rec.kind.is_data() {
                        c.used = ppa.page + 1;
                        c.head = Some((rec.seq.0, ppa, rec.lbas));
                        return Ok(());
                    }
                }
            }
            c.used = ppa.page + 1;
        }
        Ok(())
    }

    /// A block read out: closed where it stands (a torn page may follow its
    /// last good one), or stale if nothing in it was written.
    fn close_cursor(&mut self, c: &Cursor) {
        self.flash.restore_next_page(c.block, c.used);
        let state = if c.used > 0 {
            BlockState::Full
        } else {
            BlockState::Stale
        };
        self.flash.restore_block(c.block, state);
    }

    /// Points each LBA of the page at it, where its translation page is
    /// older.
    fn apply_page(&mut self, seq: u64, ppa: Ppa, lbas: &[u32], tp_seq: &[u64]) -> FtlResult<(), N> {
        let layout = *self.flash.layout();
        self.mounted.pages_replayed += 1;
        for (i, &l) in lbas[..layout.spp as usize].iter().enumerate() {
            let lba = Lba(u64::from(l));
            if l == NO_LBA || lba.0 >= self.logical {
                continue;
            }
            let t = self.flash.translation().page_of(lba);
            if seq > tp_seq[t as usize] {
                let psa = layout.psa(ppa, i);
                self.flash
                    .replay_mapping(lba, Mapping::Flash(psa), seq)
                    .map_err(|_| self.map_budget_error())?;
            }
        }
        Ok(())
    }

    /// Unmaps the ranges of the trim record at `ppa`, where the LBA's
    /// translation page is older.
    fn apply_trim(
        &mut self,
        seq: u64,
        ppa: Ppa,
        tp_seq: &mut [u64],
        page: &mut [u8],
    ) -> FtlResult<(), N> {
        let Scan::Good(_) = self.scan_page(ppa, page)? else {
            return Ok(());
        };
        let Some(ranges) = trim_record::decode(page) else {
            return Ok(());
        };
        self.mounted.pages_replayed += 1;
        let paged = self.flash.map_cache().is_some();
        for (lba, n) in ranges {
            let end = (u64::from(lba) + u64::from(n)).min(self.logical);
            let mut l = u64::from(lba);
            while l < end {
                let t = self.flash.translation().page_of(Lba(l));
                let (first, len) = self.flash.translation_entries(t);
                let whole = l == first && end >= first + len as u64;
                if paged && whole {
                    // A demand-paged map empties the whole page at once: as
                    // if written all unmapped now (see FlashMap::empty_page).
                    if seq > tp_seq[t as usize] {
                        self.empty_translation_page(t);
                        tp_seq[t as usize] = seq;
                    }
                    l = first + len as u64;
                    continue;
                }
                // A demand-paged map holds only changes: an LBA its page
                // says unmapped, with no event since, stays out (as the
                // trim left it at run time).
                let unchanged = |ftl: &mut Self| {
                    paged
                        && ftl.flash.peek(Lba(l)).is_none()
                        && ftl.read_entry(Lba(l)).ok() == Some(Mapping::Unmapped)
                };
                if seq > tp_seq[t as usize] && !unchanged(self) {
                    self.flash
                        .replay_mapping(Lba(l), Mapping::Unmapped, seq)
                        .map_err(|_| self.map_budget_error())?;
                }
                l += 1;
            }
        }
        Ok(())
    }
}
