//! Writing the meta stream: trim records and checkpoints.
//!
//! **Trim records** make trims durable. Trimmed ranges collect in the meta
//! stream's pending list and are logged as one meta page before the next
//! page of any stream is programmed, before any held block is erased, and
//! at flush. So a trim record's sequence number lies between every page
//! written before the trim and every page written after it, and no block
//! the trim emptied can be erased before the record is on flash.
//!
//! **Checkpoints** snapshot the map and the block table into meta pages,
//! taken at sequence `S`: recovery loads the newest *complete* checkpoint
//! and replays only what was written after `S`. Meta blocks older than the
//! new checkpoint are released only once it is complete and synced, so a
//! cut while writing one leaves the previous one whole. The map is read
//! through its own interface (`Mapping::to_raw`).
//!
//! The meta stream keeps an erased page ready at all times (refilled after
//! each meta page), so logging trims never needs a block erased first.

use crate::addr::{Lba, Ppa};
use crate::blocks::{BlockState, Stream};
use crate::error::Error;
use crate::format::checkpoint::{BlockRecord, Shape};
use crate::format::oob::PageKind;
use crate::nand::{Nand, NandError, NandErrorKind};
use crate::slot::SlotMemory;

use super::{Ftl, FtlResult};

impl<N: Nand, M: SlotMemory> Ftl<N, M> {
    /// Programs the pending trims as one trim record; the blocks they held
    /// back may then be erased.
    pub(super) fn log_trims(&mut self) -> FtlResult<(), N> {
        if !self.meta.has_pending_trims() {
            return Ok(());
        }
        self.meta.build_trim_record();
        self.program_meta_page(PageKind::Trim)?;
        self.flash.release_holds();
        self.meta.trim_record_written();
        self.ready_meta_page()
    }

    /// Writes a checkpoint: the map and block table as of now. Public so an
    /// embedder can take one at a clean shutdown (the next mount then has
    /// nothing to replay).
    pub fn checkpoint(&mut self) -> FtlResult<(), N> {
        self.log_trims()?;
        let snapshot = self.media.seq();
        // Blocks open at the snapshot are recorded open whatever they are by
        // the time the block table is written (the meta stream may fill and
        // open blocks while the checkpoint is written): recovery replays
        // open blocks, and their pages past the snapshot must not be missed.
        let open_at_snapshot =
            [Stream::Host, Stream::Relocated, Stream::Meta].map(|s| self.flash.open_block(s));
        let shape = Shape {
            logical: self.logical,
            blocks: self.flash.block_count(),
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
                |l| flash.mapping(Lba(l)).to_raw(),
                |b| {
                    let b = crate::addr::BlockIdx(b);
                    BlockRecord {
                        erase_count: flash.erase_count(b),
                        next_page: flash.next_page(b),
                        state: if open_at_snapshot.contains(&Some(b)) {
                            BlockState::Open
                        } else {
                            flash.state(b)
                        },
                    }
                },
            );
            let ppa = self.program_meta_page(PageKind::Checkpoint)?;
            self.ready_meta_page()?;
            first_block.get_or_insert(ppa.block);
        }
        self.media.sync().map_err(Error::Nand)?;
        // Complete and durable: meta blocks before this checkpoint's first
        // are obsolete.
        let first = first_block.expect("a checkpoint has at least one chunk");
        let flash = &mut self.flash;
        self.meta.checkpoint_done(first, |b| flash.release_meta(b));
        Ok(())
    }

    /// Programs the meta stream's page buffer as its next page; a program
    /// failure retires the block (once obsolete) and retries elsewhere.
    fn program_meta_page(&mut self, kind: PageKind) -> FtlResult<Ppa, N> {
        loop {
            let ppa = self.frontier_page(Stream::Meta)?;
            let erase_count = self.flash.erase_count(ppa.block);
            let page = self.meta.page();
            match self.media.program(ppa, kind, &[], &[page], erase_count) {
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
    fn ready_meta_page(&mut self) -> FtlResult<(), N> {
        if self.flash.open_block(Stream::Meta).is_none() {
            let b = self.alloc_block()?;
            self.flash.open(Stream::Meta, b);
            self.meta.add_block(b);
        }
        Ok(())
    }
}
