//! Writing the meta stream: trim records, translation pages and
//! checkpoints.
//!
//! **Trim records** make trims durable. Trimmed ranges collect in the meta
//! stream's pending list and are logged as one meta page before the next
//! page of any stream is programmed, before any held block is erased, and
//! at flush. So a trim record's sequence number lies between every page
//! written before the trim and every page written after it, and no block
//! the trim emptied can be erased before the record is on flash.
//!
//! **Translation pages** hold the map, a slice each. A checkpoint writes
//! back only dirty slices, the oldest-changed first, as many as the
//! write-back credit allows (`translation_write_permille` per host page),
//! so the map costs a fixed small share of the writes whatever the
//! capacity; the price is replay: recovery replays from the *horizon*, the
//! oldest change not yet written back.
//!
//! **Summary pages** hold the summaries of full data blocks, several to a
//! page, written as each page fills: recovery reads them instead of every
//! page of each block it replays (`summaries.rs`).
//!
//! **Checkpoints** write the translation directory and the block table as
//! of sequence `S`, with the horizon. Meta blocks older than the new
//! checkpoint are released only once it is complete and synced, and only
//! if nothing in them is still needed (see `meta_stream.rs`), so a cut while
//! writing one leaves the previous one whole. When the meta stream holds
//! all the blocks it may, or one fewer with too little room left in its
//! open block for another checkpoint cycle, its oldest block is cleaned:
//! the translation pages and the summaries recovery may still need that it
//! holds are written again, and the slices whose change predates its trim
//! records are written back, so the checkpoint releases it.
//!
//! The meta stream keeps an erased page ready at all times (refilled after
//! each meta page), so logging trims never needs a block erased first.

use crate::addr::{BlockIdx, Lba, Ppa};
use crate::blocks::{BlockState, Stream};
use crate::error::Error;
use crate::format::checkpoint::{BlockRecord, Shape};
use crate::format::oob::PageKind;
use crate::format::translation;
use crate::nand::{Nand, NandError, NandErrorKind};
use crate::slot::SlotMemory;
use crate::translation::NO_PAGE;

use super::{Ftl, FtlResult};

impl<N: Nand, M: SlotMemory> Ftl<N, M> {
    /// Programs the pending trims as one trim record; the blocks they held
    /// back may then be erased.
    pub(super) fn log_trims(&mut self) -> FtlResult<(), N> {
        if !self.meta.has_pending_trims() {
            return Ok(());
        }
        self.meta.build_trim_record();
        let ppa = self.program_meta_page(PageKind::Trim, 0)?;
        self.flash.release_holds();
        self.meta.trim_record_written(ppa.block, self.media.seq());
        self.ready_meta_page()
    }

    /// Writes a checkpoint: dirty translation pages as the credit allows,
    /// then the directory and block table as of now. Public so an embedder
    /// can take one at a clean shutdown.
    pub fn checkpoint(&mut self) -> FtlResult<(), N> {
        self.checkpoint_cleaning(None)
    }

    /// A checkpoint that also empties meta block `evacuate` (wear
    /// leveling), or the oldest one if the meta stream is at its limit.
    pub(super) fn checkpoint_cleaning(&mut self, evacuate: Option<BlockIdx>) -> FtlResult<(), N> {
        self.log_trims()?;
        let clean =
            evacuate.or_else(|| self.meta_must_clean().then(|| self.meta.oldest()).flatten());
        if let Some(b) = clean {
            self.evacuate_meta_block(b)?;
        }
        while let Some((t, _)) = self.flash.translation().oldest() {
            if !self.meta.take_write_back_credit() {
                break;
            }
            self.write_translation_page(t)?;
        }
        if self.flash.translation().dirty() == 0 {
            // Nothing to spend it on: credit is not banked for later bursts.
            self.meta.clear_write_back_credit();
        }
        self.write_root()
    }

    /// Whether the meta stream must clean its oldest block now: it holds
    /// all the blocks it may, or one fewer and its open block has less room
    /// left than a checkpoint cycle may write (`FtlConfig::meta_cycle_pages`;
    /// more room lets the stream fill its block first, so a stream of two
    /// blocks does not rewrite every translation page at every checkpoint).
    pub(super) fn meta_must_clean(&self) -> bool {
        let count = self.meta.block_count();
        if count + 1 < self.meta_limit {
            return false;
        }
        if count >= self.meta_limit {
            return true;
        }
        let room = match self.flash.open_block(Stream::Meta) {
            Some(b) => self.flash.layout().ppb - self.flash.next_page(b),
            None => 0,
        };
        room < self.meta_cycle_pages
    }

    /// Writes again every translation page the table names in meta block
    /// `b` and the summaries in it recovery may still need (or writes back
    /// the slices changed before them), and writes back every slice changed
    /// before `b`'s newest trim record, so the next checkpoint can release
    /// `b`.
    fn evacuate_meta_block(&mut self, b: BlockIdx) -> FtlResult<(), N> {
        if self.flash.open_block(Stream::Meta) == Some(b) {
            self.flash.close(Stream::Meta, 0);
            self.ready_meta_page()?;
        }
        // Summaries that take more than a page to move are passed by the
        // horizon instead, like trim records.
        let mut upto = self.meta.newest_trim(b);
        if !self.move_summaries(b)? {
            upto = upto.max(self.meta.newest_summary(b));
        }
        while let Some((t, since)) = self.flash.translation().oldest() {
            if since > upto {
                break;
            }
            self.write_translation_page(t)?;
        }
        let layout = *self.flash.layout();
        for t in 0..self.flash.translation().len() {
            let named = [
                self.flash.translation().loc(t),
                self.flash.translation().root(t),
            ];
            if named
                .iter()
                .any(|&at| at != NO_PAGE && layout.page_at(at).is_some_and(|p| p.block == b))
            {
                self.write_translation_page(t)?;
            }
        }
        Ok(())
    }

    /// Writes translation page `t` from the map (a demand-paged map: from
    /// its copy on flash and the cached entries, `paging.rs`).
    pub(super) fn write_translation_page(&mut self, t: u32) -> FtlResult<(), N> {
        if let crate::map::MapStore::Flat(map) = self.flash.map() {
            let (first, n) = self.flash.translation_entries(t);
            translation::encode(self.meta.page_mut(), t, n, |i| {
                map.get(Lba(first + i as u64)).to_raw()
            });
        } else {
            self.build_translation_page(t)?;
        }
        self.program_translation_page(t)
    }

    /// Programs the meta page buffer as translation page `t`'s newest copy.
    pub(super) fn program_translation_page(&mut self, t: u32) -> FtlResult<(), N> {
        let ppa = self.program_meta_page(PageKind::Translation, t)?;
        let at = self.flash.layout().page_index(ppa);
        self.translation_page_written(t, at);
        let root = self.flash.translation().root(t);
        let old = self.flash.translation_written(t, ppa);
        self.meta.add_ref(ppa.block);
        if old != NO_PAGE && old != root {
            let b = self.flash.layout().page_at(old).expect("named page").block;
            self.meta.drop_ref(b);
        }
        self.ready_meta_page()
    }

    /// Writes the directory and the block table, syncs, and releases what
    /// the previous checkpoint needed and this one does not.
    fn write_root(&mut self) -> FtlResult<(), N> {
        let snapshot = self.media.seq();
        let horizon = self.flash.translation().horizon(snapshot);
        // Blocks open at the snapshot are recorded open whatever they are by
        // the time the block table is written (the meta stream may fill and
        // open blocks while the checkpoint is written): recovery replays
        // open blocks, and their pages past the snapshot must not be missed.
        let mut open_buf = [BlockIdx(0); 2 * crate::config::MAX_LANES as usize + 1];
        let mut open_count = 0;
        for (o, b) in open_buf.iter_mut().zip(self.flash.open_blocks()) {
            *o = b;
            open_count += 1;
        }
        // Searched once per block of the table: only the blocks open now.
        let open_at_snapshot = &open_buf[..open_count];
        let tps = self.flash.translation();
        let shape = Shape {
            logical: self.logical,
            blocks: self.flash.block_count(),
            tps: tps.len(),
            entries: tps.entries(),
        };
        let count = shape.chunks(self.geo.page_size as usize);
        let mut first_block = None;
        for index in 0..count {
            let flash = &self.flash;
            shape.encode_chunk(
                self.meta.page_mut(),
                snapshot,
                index,
                count,
                horizon,
                |t| flash.translation().loc(t),
                |b| {
                    let b = BlockIdx(b);
                    BlockRecord {
                        erase_count: flash.erase_count(b),
                        next_page: flash.next_page(b),
                        state: if open_at_snapshot.contains(&b) {
                            BlockState::Open
                        } else {
                            flash.state(b)
                        },
                        last_seq: flash.blocks().last_seq(b),
                    }
                },
            );
            let ppa = self.program_meta_page(PageKind::Checkpoint, index)?;
            self.ready_meta_page()?;
            first_block.get_or_insert(ppa.block);
        }
        self.media.sync().map_err(Error::Nand)?;
        // Complete and durable: it names the newest translation pages, and
        // what only the previous one needed is obsolete.
        let layout = *self.flash.layout();
        let meta = &mut self.meta;
        self.flash.translation_checkpointed(|old, _| {
            if let Some(p) = layout.page_at(old).filter(|_| old != NO_PAGE) {
                meta.drop_ref(p.block);
            }
        });
        let first = first_block.expect("a checkpoint has at least one chunk");
        let flash = &mut self.flash;
        self.meta
            .checkpoint_done(first, horizon, |b| flash.release_meta(b));
        Ok(())
    }

    /// Programs the meta stream's page buffer as its next page, naming
    /// `word` in its spare area (chunk index, translation page number); a
    /// program failure retires the block (once obsolete) and retries
    /// elsewhere.
    pub(super) fn program_meta_page(&mut self, kind: PageKind, word: u32) -> FtlResult<Ppa, N> {
        loop {
            let ppa = self.frontier_page(Stream::Meta)?;
            let erase_count = self.flash.erase_count(ppa.block);
            let page = self.meta.page_for(kind);
            let name = [Some(Lba(u64::from(word)))];
            match self.media.program(ppa, kind, &name, &[page], erase_count) {
                Ok(seq) => {
                    self.flash.programmed(ppa.block, seq.0);
                    return Ok(ppa);
                }
                Err(err) if err.kind() == NandErrorKind::ProgramFailed => {
                    self.flash.program_failed(Stream::Meta, ppa.block);
                }
                Err(err) => return Err(Error::Nand(err)),
            }
        }
    }

    /// Keeps an erased page ready in the meta stream, so logging a trim
    /// never has to allocate (and erase) a block while trims are pending.
    pub(super) fn ready_meta_page(&mut self) -> FtlResult<(), N> {
        if self.flash.open_block(Stream::Meta).is_none() {
            let b = self.alloc_block(None)?;
            self.flash.open(Stream::Meta, b);
            self.meta.add_block(b);
        }
        Ok(())
    }
}
