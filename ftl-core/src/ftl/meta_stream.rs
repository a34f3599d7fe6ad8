//! The meta stream's state: trims waiting for a trim record, block
//! summaries waiting for their page to fill, the meta blocks and what in
//! each one recovery still needs, when the next checkpoint is due and how
//! many translation pages it may write back.
//!
//! [`MetaStream`] owns these and the page buffers meta pages are built in;
//! `checkpoint.rs` writes the pages through the media port. The formats
//! are in `crate::format::{checkpoint, summary, trim_record, translation}`.
//!
//! A meta block is needed while it holds a translation page the translation
//! table names (newest copy, or the copy the last checkpoint names: its
//! *references*), a trim record or a summary page at or after the last
//! checkpoint's horizon (replay reads both), or any page of the last
//! complete checkpoint or after it.

use alloc::vec::Vec;

use crate::addr::{BlockIdx, Lba};
use crate::format::oob::PageKind;
use crate::format::summary::PageBuilder;
use crate::format::trim_record;
use crate::layout::Layout;

/// Meta-stream counters.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct MetaCounters {
    pub checkpoints: u64,
    pub trim_records: u64,
}

/// A block of the meta stream and what it holds that someone needs.
#[derive(Clone, Copy, Debug)]
struct MetaBlock {
    block: BlockIdx,
    /// Translation pages in it the translation table names.
    refs: u32,
    /// Sequence number of its newest trim record (0: none).
    newest_trim: u64,
    /// Sequence number of its newest summary page whose summaries were not
    /// moved on (0: none).
    newest_summary: u64,
}

/// Pending trims, live meta blocks and checkpoint bookkeeping.
pub(super) struct MetaStream {
    /// Trimmed ranges not yet in a trim record: (first LBA, count).
    pending_trims: Vec<(u32, u32)>,
    trim_capacity: usize,
    /// Meta blocks, oldest first.
    blocks: Vec<MetaBlock>,
    /// Translation pages the next checkpoint may write back, in
    /// thousandths (credited per host page).
    write_back_credit: u64,
    /// One page of scratch for building meta pages.
    page: Vec<u8>,
    /// The summary page being filled, entry by entry, and its builder.
    summaries: Vec<u8>,
    summary_page: PageBuilder,
    /// Summaries a summary page holds.
    summaries_per_page: u32,
    /// A page to read summary pages into while cleaning moves them.
    moving: Vec<u8>,
    /// Host pages programmed since that checkpoint.
    host_pages_since: u32,
    /// Trim records and summary pages written since that checkpoint.
    replayed_since: u32,
    /// Host pages between checkpoints.
    interval: u32,
    pub counters: MetaCounters,
}

impl MetaStream {
    /// `summaries`: block summaries per summary page.
    pub fn new(
        layout: &Layout,
        page_size: usize,
        summaries: u32,
        blocks: u32,
        interval: u32,
    ) -> Self {
        let trim_capacity = trim_record::capacity(page_size);
        let capacity = summaries;
        let mut summaries = alloc::vec![0; page_size];
        let summary_page =
            PageBuilder::start(&mut summaries, layout.ppb, layout.spp as usize, capacity);
        MetaStream {
            pending_trims: Vec::with_capacity(trim_capacity),
            trim_capacity,
            blocks: Vec::with_capacity(blocks as usize),
            write_back_credit: 0,
            page: alloc::vec![0; page_size],
            summaries,
            summary_page,
            summaries_per_page: capacity,
            moving: alloc::vec![0; page_size],
            host_pages_since: 0,
            replayed_since: 0,
            interval,
            counters: MetaCounters::default(),
        }
    }

    /// Most ranges one trim record holds.
    pub fn trim_capacity(&self) -> usize {
        self.trim_capacity
    }

    /// Notes a trimmed range. `false` if the pending record is full: log it
    /// first, then note again.
    pub fn note_trim(&mut self, lba: Lba, sectors: u32) -> bool {
        if let Some(last) = self.pending_trims.last_mut() {
            if u64::from(last.0) + u64::from(last.1) == lba.0 {
                last.1 += sectors;
                return true;
            }
        }
        if self.pending_trims.len() == self.trim_capacity {
            return false;
        }
        // The geometry bounds LBAs below 2³²: the cast is exact.
        self.pending_trims.push((lba.0 as u32, sectors));
        true
    }

    pub fn has_pending_trims(&self) -> bool {
        !self.pending_trims.is_empty()
    }

    /// The pending trims: `(first lba, sectors)`.
    pub fn pending_trims(&self) -> impl Iterator<Item = (Lba, u32)> + '_ {
        self.pending_trims
            .iter()
            .map(|&(l, n)| (Lba(u64::from(l)), n))
    }

    /// Builds the trim record of the pending trims in the page buffer and
    /// forgets them (the caller programs the page).
    pub fn build_trim_record(&mut self) {
        trim_record::encode(&mut self.page, &self.pending_trims);
        self.pending_trims.clear();
    }

    /// A trim record reached flash in block `b` at `seq`.
    pub fn trim_record_written(&mut self, b: BlockIdx, seq: u64) {
        self.counters.trim_records += 1;
        self.replayed_since += 1;
        self.restore_trim(b, seq);
    }

    /// Adds a full block's summary entry to the summary page. `true` if the
    /// page is then full: program it (`PageKind::Summary`), then call
    /// [`MetaStream::summary_page_written`].
    pub fn push_summary(&mut self, entry: &[u8]) -> bool {
        self.summary_page.push(&mut self.summaries, entry);
        !self.summary_page.has_room()
    }

    /// Summaries the summary page has room for now.
    pub fn summary_room(&self) -> u32 {
        self.summary_page.room()
    }

    /// Summaries a summary page holds.
    pub fn summaries_per_page(&self) -> u32 {
        self.summaries_per_page
    }

    /// The page cleaning reads summary pages into.
    pub fn moving_page(&mut self) -> &mut Vec<u8> {
        &mut self.moving
    }

    /// The summary page reached flash in block `b` at `seq`: start the
    /// next one.
    pub fn summary_page_written(&mut self, b: BlockIdx, seq: u64) {
        self.summary_page.clear(&mut self.summaries);
        self.replayed_since += 1;
        self.restore_summary(b, seq);
    }

    /// The summaries in meta block `b` that recovery may still need were
    /// written again elsewhere: they no longer keep it.
    pub fn summaries_moved(&mut self, b: BlockIdx) {
        if let Some(m) = self.find(b) {
            m.newest_summary = 0;
        }
    }

    /// The page buffer, for a checkpoint chunk.
    pub fn page_mut(&mut self) -> &mut [u8] {
        &mut self.page
    }

    /// The scratch page.
    pub fn page(&self) -> &[u8] {
        &self.page
    }

    /// The page a meta page of `kind` is programmed from: the summary page
    /// for summaries, the scratch page for the rest.
    pub fn page_for(&self, kind: PageKind) -> &[u8] {
        match kind {
            PageKind::Summary => &self.summaries,
            _ => &self.page,
        }
    }

    /// A host page reached flash: `permille` thousandths of a translation
    /// page may be written back for it.
    pub fn host_page_written(&mut self, permille: u16) {
        self.host_pages_since += 1;
        self.write_back_credit += u64::from(permille);
    }

    /// Credit for `pages` more translation page write-backs (mount: the
    /// pages that did not read).
    pub fn grant_write_backs(&mut self, pages: u64) {
        self.write_back_credit = self
            .write_back_credit
            .saturating_add(pages.saturating_mul(1000));
    }

    /// Forgets the credit.
    pub fn clear_write_back_credit(&mut self) {
        self.write_back_credit = 0;
    }

    /// Takes the credit for one translation page write-back, if there is
    /// enough.
    pub fn take_write_back_credit(&mut self) -> bool {
        if self.write_back_credit < 1000 {
            return false;
        }
        self.write_back_credit -= 1000;
        true
    }

    /// Whether a checkpoint is due: the interval's host pages, or half a
    /// block (`ppb / 2`) of trim records and summary pages, since the last
    /// one. The second bound keeps the meta stream within its reserved
    /// blocks (each is kept until a checkpoint's horizon passes it).
    pub fn checkpoint_due(&self, ppb: u32) -> bool {
        self.host_pages_since >= self.interval || self.replayed_since >= ppb / 2
    }

    /// A block joins the meta stream.
    pub fn add_block(&mut self, b: BlockIdx) {
        debug_assert!(self.find(b).is_none());
        self.blocks.push(MetaBlock {
            block: b,
            refs: 0,
            newest_trim: 0,
            newest_summary: 0,
        });
    }

    fn find(&mut self, b: BlockIdx) -> Option<&mut MetaBlock> {
        self.blocks.iter_mut().rev().find(|m| m.block == b)
    }

    /// Meta blocks, oldest first.
    pub fn blocks(&self) -> impl Iterator<Item = BlockIdx> + '_ {
        self.blocks.iter().map(|m| m.block)
    }

    /// Meta blocks held.
    pub fn block_count(&self) -> u32 {
        self.blocks.len() as u32
    }

    /// The translation table names a page in `b` once more.
    pub fn add_ref(&mut self, b: BlockIdx) {
        let m = self
            .find(b)
            .expect("translation page outside the meta stream");
        m.refs += 1;
    }

    /// The translation table names a page in `b` once less.
    pub fn drop_ref(&mut self, b: BlockIdx) {
        let m = self
            .find(b)
            .expect("translation page outside the meta stream");
        assert!(m.refs > 0, "meta block {b} references underflow");
        m.refs -= 1;
    }

    /// Mount: a translation page the checkpoint names is in `b` (a meta
    /// block, checked by the caller).
    pub fn restore_ref(&mut self, b: BlockIdx) {
        if let Some(m) = self.find(b) {
            m.refs += 1;
        }
    }

    /// The oldest meta block: the one to clean.
    pub fn oldest(&self) -> Option<BlockIdx> {
        self.blocks.first().map(|m| m.block)
    }

    /// Sequence number of the newest trim record in meta block `b` (0:
    /// none, or not a meta block).
    pub fn newest_trim(&self, b: BlockIdx) -> u64 {
        self.blocks
            .iter()
            .find(|m| m.block == b)
            .map_or(0, |m| m.newest_trim)
    }

    /// Sequence number of the newest summary page in meta block `b` whose
    /// summaries were not moved on (0: none, or not a meta block).
    pub fn newest_summary(&self, b: BlockIdx) -> u64 {
        self.blocks
            .iter()
            .find(|m| m.block == b)
            .map_or(0, |m| m.newest_summary)
    }

    /// The checkpoint whose first chunk is in `first` and whose horizon is
    /// `horizon` is complete and durable. Meta blocks before `first` that
    /// hold no named translation page and no trim record or summary page at
    /// or after the horizon are obsolete: `release` is called for each,
    /// oldest first.
    pub fn checkpoint_done(
        &mut self,
        first: BlockIdx,
        horizon: u64,
        release: impl FnMut(BlockIdx),
    ) {
        self.release_unneeded(Some(first), horizon, release);
        self.host_pages_since = 0;
        self.replayed_since = 0;
        self.counters.checkpoints += 1;
    }

    /// Releases the meta blocks before `first` (all, if no checkpoint) that
    /// hold no named translation page and no trim record or summary page at
    /// or after `horizon`.
    pub fn release_unneeded(
        &mut self,
        first: Option<BlockIdx>,
        horizon: u64,
        mut release: impl FnMut(BlockIdx),
    ) {
        let keep_from = match first {
            Some(f) => self.blocks.iter().position(|m| m.block == f).unwrap_or(0),
            None => self.blocks.len(),
        };
        let mut i = 0;
        self.blocks.retain(|m| {
            let before = i < keep_from;
            i += 1;
            let needed =
                !before || m.refs > 0 || m.newest_trim >= horizon || m.newest_summary >= horizon;
            if !needed {
                release(m.block);
            }
            needed
        });
    }

    /// Block `b` holds a trim record at `seq` (also at mount).
    pub fn restore_trim(&mut self, b: BlockIdx, seq: u64) {
        if let Some(m) = self.find(b) {
            m.newest_trim = m.newest_trim.max(seq);
        }
    }

    /// Block `b` holds a summary page at `seq` (also at mount).
    pub fn restore_summary(&mut self, b: BlockIdx, seq: u64) {
        if let Some(m) = self.find(b) {
            m.newest_summary = m.newest_summary.max(seq);
        }
    }

    /// Checks the references against a recount.
    pub fn check_refs(&self, count: impl Fn(BlockIdx) -> u32) -> Result<(), &'static str> {
        for m in &self.blocks {
            super::check::ensure(m.refs == count(m.block), "meta block references drifted")?;
        }
        Ok(())
    }
}
