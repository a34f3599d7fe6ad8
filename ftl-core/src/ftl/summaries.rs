//! Block summaries in the meta stream: a full data block's summary joins
//! the summary page, which is programmed once it holds as many as it may
//! (`FtlConfig::summaries_per_page`); recovery reads a block's summary
//! instead of every page of it (`replay.rs`, format in
//! `crate::format::summary`).
//!
//! A summary is worth keeping while recovery may replay its block: the
//! block still holds what the summary describes (its newest page is the
//! summary's last) and that page is at or after the horizon. When the meta
//! stream cleans a block, those summaries in it are written again, so the
//! block is released without writing back the map (`checkpoint.rs`).

use crate::addr::{BlockIdx, Ppa};
use crate::blocks::{BlockState, Stream};
use crate::error::Error;
use crate::format::oob::PageKind;
use crate::format::summary;
use crate::nand::Nand;
use crate::slot::SlotMemory;

use super::media::ReadFailure;
use super::{Ftl, FtlResult};

impl<N: Nand, M: SlotMemory> Ftl<N, M> {
    /// Closes the stream's lane's open block once all its pages are
    /// programmed, and adds its summary to the meta stream's summary page,
    /// programmed once full. A summary still waiting for its page at a cut
    /// is lost, and recovery scans that block page by page.
    pub(super) fn write_summary(&mut self, stream: Stream, lane: u32) -> FtlResult<(), N> {
        let Some(entry) = self.flash.take_summary(stream, lane) else {
            return Ok(());
        };
        if self.meta.push_summary(entry) {
            self.log_summaries()?;
        }
        Ok(())
    }

    /// Programs the summary page; recovery reads a block's summary
    /// instead of its pages.
    pub(super) fn log_summaries(&mut self) -> FtlResult<(), N> {
        self.log_trims()?;
        let ppa = self.program_meta_page(PageKind::Summary, 0)?;
        self.meta.summary_page_written(ppa.block, self.media.seq());
        self.ready_meta_page()
    }

    /// Writes again the summaries in meta block `b` that recovery may still
    /// need, if they take at most a quarter of a block of summary pages, so
    /// they no longer keep `b`; `false` if there are more (the caller then
    /// writes back the map changed before them, so the horizon passes them:
    /// moving more might fill the meta stream faster than cleaning empties
    /// it). A
    /// summary page that does not read back is skipped: recovery scans its
    /// blocks page by page.
    pub(super) fn move_summaries(&mut self, b: BlockIdx) -> FtlResult<bool, N> {
        let horizon = self.flash.translation().horizon(self.media.seq());
        if self.meta.newest_summary(b) < horizon {
            self.meta.summaries_moved(b);
            return Ok(true);
        }
        let mut page = core::mem::take(self.meta.moving_page());
        // At most a quarter of a block of summary pages (one, on blocks of
        // fewer than eight pages): cleaning empties a whole block.
        let pages = (self.flash.layout().ppb / 4).max(1);
        let room = self.meta.summary_room() + pages * self.meta.summaries_per_page();
        let moved = match self.for_each_needed_summary(b, horizon, &mut page, |_, _| Ok(())) {
            Ok(live) if live <= room => self
                .for_each_needed_summary(b, horizon, &mut page, |ftl, entry| {
                    if ftl.meta.push_summary(entry) {
                        ftl.log_summaries()?;
                    }
                    Ok(())
                })
                .map(|_| true),
            Ok(_) => Ok(false),
            Err(e) => Err(e),
        };
        *self.meta.moving_page() = page;
        if moved? {
            self.meta.summaries_moved(b);
            return Ok(true);
        }
        Ok(false)
    }

    /// Calls `f` with each summary in meta block `b` recovery may still
    /// need: of a block that still holds what it describes, whose newest
    /// page is at or after `horizon`. Returns how many.
    fn for_each_needed_summary(
        &mut self,
        b: BlockIdx,
        horizon: u64,
        page: &mut [u8],
        mut f: impl FnMut(&mut Self, &[u8]) -> FtlResult<(), N>,
    ) -> FtlResult<u32, N> {
        let layout = *self.flash.layout();
        let spp = layout.spp as usize;
        let mut n = 0;
        for p in 0..self.flash.next_page(b) {
            let ppa = Ppa::new(b, p);
            match self.media.read_spare(ppa).map_err(Error::Nand)? {
                Some(Ok(rec)) if rec.kind == PageKind::Summary && rec.seq.0 >= horizon => {}
                _ => continue,
            }
            let good = match self.media.read_verified(ppa, &mut [&mut *page]) {
                Ok(rec) => rec.kind == PageKind::Summary,
                Err(ReadFailure::Unreadable) => false,
                Err(ReadFailure::Nand(e)) => return Err(Error::Nand(e)),
            };
            let Some(s) = summary::decode(page, layout.ppb, spp).filter(|_| good) else {
                continue;
            };
            for i in 0..s.entries {
                let Some(e) = s.entry(i) else { continue };
                let Some((last, _)) = e.page(layout.ppb - 1) else {
                    continue;
                };
                let d = BlockIdx(e.block());
                let current = d.0 < self.flash.block_count()
                    && self.flash.state(d) == BlockState::Full
                    && self.flash.blocks().last_seq(d) == last;
                if current && last >= horizon {
                    n += 1;
                    f(self, e.bytes())?;
                }
            }
        }
        Ok(n)
    }
}
