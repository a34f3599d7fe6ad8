//! Slot acquisition, eviction and read-miss loading: the cache half of the
//! patent's flows.

use crate::addr::{Lba, Ppa, SlotId};
use crate::blocks::Stream;
use crate::cache_meta::{EntryId, EntryState, NONE};
use crate::error::Error;
use crate::geometry::MAX_SECTORS_PER_PAGE;
use crate::nand::{Nand, NandError, NandErrorKind};
use crate::oob::{self, PageRecord};
use crate::slot::{SlotMemory, SlotState};

use super::{Ftl, FtlResult, NO_ENTRY};

impl<N: Nand, M: SlotMemory> Ftl<N, M> {
    /// Free slots host commands may not take: what garbage collection needs
    /// to read one page and fill one (it must always be able to run).
    pub(super) fn host_reserve(&self) -> u32 {
        2 * self.layout.spp
    }

    /// Takes a free slot into `state`, evicting clean cache entries while
    /// no more than `reserve` slots are free.
    pub(super) fn take_slot(&mut self, state: SlotState, reserve: u32) -> FtlResult<SlotId, N> {
        while self.slots.free_count() <= reserve {
            if !self.evict_one() && !self.reclaim_surplus() {
                return Err(Error::CacheExhausted);
            }
        }
        self.slots.take(state).ok_or(Error::CacheExhausted)
    }

    /// Takes one slot per sector of a page (for a flash read).
    pub(super) fn take_page_slots(
        &mut self,
        state: SlotState,
        reserve: u32,
        ids: &mut [SlotId; MAX_SECTORS_PER_PAGE],
    ) -> FtlResult<(), N> {
        let spp = self.layout.spp as usize;
        for i in 0..spp {
            match self.take_slot(state, reserve) {
                Ok(s) => ids[i] = s,
                Err(e) => {
                    for &s in &ids[..i] {
                        self.slots.release(s);
                    }
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Takes back the slots idle handles hold beyond their prefill (left
    /// from a large write). Returns whether any came back.
    fn reclaim_surplus(&mut self) -> bool {
        let before = self.slots.free_count();
        let keep = usize::from(self.write_map.prefill());
        for h in 0..self.write_map.handles() {
            if self.acquiring == Some(crate::Handle(h)) {
                continue; // the handle gathering slots right now
            }
            let slots = &mut self.slots;
            self.write_map
                .shrink(crate::Handle(h), keep, |s| slots.release(s));
        }
        self.slots.free_count() > before
    }

    /// Evicts one clean, unpinned cache entry (clock order). The patent's
    /// tag compare: a mapping is dropped only if it still names the slot.
    pub(super) fn evict_one(&mut self) -> bool {
        let slots = &self.slots;
        let Some(e) = self
            .meta
            .pick_victim(|ids| ids.iter().any(|&s| slots.is_pinned(s)))
        else {
            return false;
        };
        self.release_entry(e);
        true
    }

    /// Frees a clean entry and all its slots.
    fn release_entry(&mut self, e: EntryId) {
        for i in 0..self.meta.len(e) {
            let slot = self.meta.slot(e, i);
            let lba = self.meta.lba(e, i);
            if lba != NONE {
                self.read_map.remove_if(Lba(u64::from(lba)), slot);
            }
            self.slot_entry[slot.0 as usize] = NO_ENTRY;
            self.slots.release(slot);
        }
        self.meta.release(e);
    }

    /// Forgets the cached copy of `lba` (it is being overwritten or
    /// trimmed). A copy not yet on flash is dropped from its group, so
    /// stale data is never programmed.
    pub(super) fn supersede_cached(&mut self, lba: Lba) {
        let Some(old) = self.read_map.remove(lba) else {
            return;
        };
        if self.slots.state(old) == SlotState::Dirty {
            if let Some(e) = self.entry_of(old) {
                self.meta.remove_slot(e, old);
            }
            self.slot_entry[old.0 as usize] = NO_ENTRY;
            self.slots.release(old);
        }
        // A clean copy stays in its entry, dead, until the entry is evicted.
    }

    /// The stream's filling entry, opening one if needed. A group left
    /// full by a failed program is programmed first.
    pub(super) fn fill_entry(&mut self, stream: Stream) -> FtlResult<EntryId, N> {
        let k = Self::stream_index(stream);
        if let Some(e) = self.fill[k] {
            if self.meta.state(e) == EntryState::Full {
                self.program_fill(stream)?;
            } else {
                return Ok(e);
            }
        }
        let e = self.meta.alloc_filling().ok_or(Error::CacheExhausted)?;
        self.fill[k] = Some(e);
        Ok(e)
    }

    /// Read miss: loads the page holding `psa` into free slots (the
    /// patent's read-miss flow), caches every sector of it that is still
    /// current, and returns the slot holding `lba`.
    pub(super) fn load(&mut self, lba: Lba, psa: u32) -> FtlResult<SlotId, N> {
        let (ppa, idx) = self.layout.ppa(psa);
        let spp = self.layout.spp as usize;
        let mut ids = [SlotId(0); MAX_SECTORS_PER_PAGE];
        self.take_page_slots(SlotState::Clean, self.host_reserve(), &mut ids)?;
        let rec = match self.read_page_into(ppa, &ids[..spp]) {
            Ok(rec) if rec.lba(idx) == Some(lba) => rec,
            Ok(_) | Err(Error::Uncorrectable { .. }) => {
                self.release_slots(&ids[..spp]);
                return Err(Error::Uncorrectable { lba });
            }
            Err(e) => {
                self.release_slots(&ids[..spp]);
                return Err(e);
            }
        };
        let Some(e) = self.meta.alloc_loaded(ppa) else {
            self.release_slots(&ids[..spp]);
            return Err(Error::CacheExhausted);
        };
        for (i, &slot) in ids[..spp].iter().enumerate() {
            let current = rec.lba(i).filter(|&l| {
                self.l2p.get(l) == self.layout.psa(ppa, i) && self.read_map.get(l).is_none()
            });
            match current {
                Some(l) => {
                    self.meta.push(e, slot, l.0 as u32, NONE);
                    self.slot_entry[slot.0 as usize] = e.0;
                    self.read_map.insert(l, slot);
                }
                None => self.slots.release(slot),
            }
        }
        self.stats.nand_sectors_read += spp as u64;
        Ok(ids[idx])
    }

    pub(super) fn release_slots(&mut self, ids: &[SlotId]) {
        for &s in ids {
            self.slots.release(s);
        }
    }

    /// Reads page `ppa` straight into `ids` (one slot per sector) and checks
    /// its record and data checksum. Anything that does not verify is
    /// reported as [`Error::Uncorrectable`]: never trust unverified data.
    pub(super) fn read_page_into(&mut self, ppa: Ppa, ids: &[SlotId]) -> FtlResult<PageRecord, N> {
        let mut bufs: [&mut [u8]; MAX_SECTORS_PER_PAGE] = Default::default();
        let n = ids.len();
        self.mem.slots_mut(ids, &mut bufs[..n]);
        let uncorrectable = Error::Uncorrectable { lba: Lba(u64::MAX) };
        match self.nand.read_page(ppa, &mut bufs[..n], &mut self.oob) {
            Ok(st) => self.stats.corrected_bits += u64::from(st.corrected_bits),
            Err(e) if e.kind() == NandErrorKind::Uncorrectable => return Err(uncorrectable),
            Err(e) => return Err(Error::Nand(e)),
        }
        let rec = PageRecord::decode(&self.oob)
            .map_err(|_| Error::Uncorrectable { lba: Lba(u64::MAX) })?;
        let crc = oob::data_crc(ids.iter().map(|&s| self.mem.slot(s)));
        if usize::from(rec.sectors) != n || crc != rec.data_crc {
            return Err(uncorrectable);
        }
        Ok(rec)
    }
}
