//! The meta stream's state: trims waiting for a trim record, the meta
//! blocks recovery still needs, and when the next checkpoint is due.
//!
//! [`MetaStream`] owns these and the page buffer meta pages are built in;
//! `checkpoint.rs` writes the pages through the media port. The formats
//! are in `crate::format::{checkpoint, trim_record}`.

use alloc::vec::Vec;

use crate::addr::{BlockIdx, Lba};
use crate::format::trim_record;

/// Meta-stream counters.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct MetaCounters {
    pub checkpoints: u64,
    pub trim_records: u64,
}

/// Pending trims, live meta blocks and checkpoint bookkeeping.
pub(super) struct MetaStream {
    /// Trimmed ranges not yet in a trim record: (first LBA, count).
    pending_trims: Vec<(u32, u32)>,
    trim_capacity: usize,
    /// Meta blocks still needed by recovery, oldest first.
    blocks: Vec<BlockIdx>,
    /// One page of scratch for building meta pages.
    page: Vec<u8>,
    /// Host pages programmed since that checkpoint.
    host_pages_since: u32,
    /// Trim records written since that checkpoint.
    trim_records_since: u32,
    pub counters: MetaCounters,
}

impl MetaStream {
    pub fn new(page_size: usize, blocks: u32) -> Self {
        let trim_capacity = trim_record::capacity(page_size);
        MetaStream {
            pending_trims: Vec::with_capacity(trim_capacity),
            trim_capacity,
            blocks: Vec::with_capacity(blocks as usize),
            page: alloc::vec![0; page_size],
            host_pages_since: 0,
            trim_records_since: 0,
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

    /// A trim record reached flash.
    pub fn trim_record_written(&mut self) {
        self.counters.trim_records += 1;
        self.trim_records_since += 1;
    }

    /// The page buffer, for a checkpoint chunk.
    pub fn page_mut(&mut self) -> &mut [u8] {
        &mut self.page
    }

    pub fn page(&self) -> &[u8] {
        &self.page
    }

    /// A host page reached flash.
    pub fn host_page_written(&mut self) {
        self.host_pages_since += 1;
    }

    /// Whether a checkpoint is due: `interval` host pages, or half a block
    /// (`ppb / 2`) of trim records, since the last one. The trim bound keeps
    /// the meta stream within its reserved blocks.
    pub fn checkpoint_due(&self, interval: u32, ppb: u32) -> bool {
        self.host_pages_since >= interval || self.trim_records_since >= ppb / 2
    }

    /// A block joins the meta stream.
    pub fn add_block(&mut self, b: BlockIdx) {
        debug_assert!(!self.blocks.contains(&b));
        self.blocks.push(b);
    }

    pub fn blocks(&self) -> &[BlockIdx] {
        &self.blocks
    }

    /// The checkpoint whose first chunk is in `first` is
    /// complete and durable: the meta blocks before `first` are obsolete.
    /// Calls `release` for each, oldest first.
    pub fn checkpoint_done(&mut self, first: BlockIdx, mut release: impl FnMut(BlockIdx)) {
        let keep_from = self.blocks.iter().position(|&b| b == first).unwrap_or(0);
        for b in self.blocks.drain(..keep_from) {
            release(b);
        }
        self.host_pages_since = 0;
        self.trim_records_since = 0;
        self.counters.checkpoints += 1;
    }
}
