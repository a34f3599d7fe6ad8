//! What is acknowledged but lives only in RAM, for front ends that must
//! survive their own crash.
//!
//! A power cut may lose writes and trims acknowledged since the last
//! [`Ftl::flush`]; a crash of the *process* running the FTL must not, when
//! the host (a kernel keeping a block device alive across a daemon restart)
//! never saw a power cut. Everything such a crash would lose is listed
//! here: the host data in the partly filled page (the slots of the host
//! stream's filling cache entry) and the trims not yet in a trim record.
//! Every other acknowledged write is already programmed, so a remount finds
//! it on flash.
//!
//! A front end keeps this list, and the slots it names, in memory that
//! outlives the process (shared memory), refreshed after every operation
//! and before acknowledging it. A successor mounts the NAND, then replays
//! the trims, then the writes: each pending trim is newer than everything
//! on flash (trim records are logged before any later page is programmed),
//! and each listed write is newer than everything else.

use crate::addr::{Lba, SlotId};
use crate::nand::Nand;
use crate::slot::SlotMemory;

use super::Ftl;

impl<N: Nand, M: SlotMemory> Ftl<N, M> {
    /// Acknowledged writes not yet programmed: `(lba, slot holding its data)`,
    /// at most [`Ftl::unflushed_capacity`]`.0` of them.
    pub fn unflushed_writes(&self) -> impl Iterator<Item = (Lba, SlotId)> + '_ {
        self.cache.unflushed()
    }

    /// How many writes [`Ftl::unflushed_writes`] lists, without walking
    /// them.
    pub fn unflushed_write_count(&self) -> usize {
        self.cache.unflushed_count()
    }

    /// Acknowledged trims not yet in a trim record: `(first lba, sectors)`,
    /// at most [`Ftl::unflushed_capacity`]`.1` of them.
    pub fn unflushed_trims(&self) -> impl Iterator<Item = (Lba, u32)> + '_ {
        self.meta.pending_trims()
    }

    /// The most entries [`Ftl::unflushed_writes`] and
    /// [`Ftl::unflushed_trims`] can ever list, to size a journal.
    pub fn unflushed_capacity(&self) -> (usize, usize) {
        (self.flash.layout().spp as usize, self.meta.trim_capacity())
    }

    /// The sequence number of the newest page written: it only grows, across
    /// mounts too, so a journal can tell an image older than itself.
    pub fn sequence(&self) -> u64 {
        self.media.seq()
    }
}
