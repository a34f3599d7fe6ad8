//! The cache: the patent's tables over the slot memory.
//!
//! [`Cache`] owns the slot memory and everything that says who holds a
//! slot: the slot table, each slot's cache entry, the write mapping table
//! (handles → reserved slots), the read mapping table (LBA → slot), the
//! cache metadata record and status tables, the read grants and the two
//! filling groups (host, relocation). Nothing else changes them; the rest
//! of the FTL asks.
//!
//! It never touches the NAND: a group to program is handed out as a
//! scatter list of its slots, and a page read from flash arrives in slots
//! the cache handed out.

use alloc::vec::Vec;

use crate::addr::{BlockIdx, Handle, Lba, Ppa, Psa, SlotId};
use crate::blocks::Stream;
use crate::cache_meta::{CacheMetaTable, EntryId, EntryState};
use crate::config::FtlConfig;
use crate::geometry::MAX_SECTORS_PER_PAGE;
use crate::layout::Layout;
use crate::read_map::ReadMap;
use crate::slot::{SlotMemory, SlotState, SlotTable};
use crate::write_map::{WriteGrant, WriteMap};

use super::check::ensure;
use super::read::Segment;

/// Every slot is held by a command in flight, a page being read or a group
/// being filled: nothing can be evicted now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Exhausted;

/// Cache hit and copy counters.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct CacheCounters {
    pub hits: u64,
    pub misses: u64,
    pub bytes_copied: u64,
}

/// The data streams that fill cache groups (meta pages bypass the cache).
fn group_index(stream: Stream) -> usize {
    match stream {
        Stream::Host => 0,
        Stream::Relocated => 1,
        Stream::Meta => unreachable!("meta pages are not cache groups"),
    }
}

/// The slot memory and the patent's cache tables.
pub(super) struct Cache<M> {
    mem: M,
    slots: SlotTable,
    /// The cache entry each slot belongs to.
    entry_of: Vec<Option<EntryId>>,
    write_map: WriteMap,
    read_map: ReadMap,
    entries: CacheMetaTable,
    /// Per handle, the segments of its open read.
    read_segs: Vec<Segment>,
    read_open: Vec<bool>,
    /// The filling group of each data stream (host, relocation).
    fill: [Option<EntryId>; 2],
    /// One sector of zeros: padding for partial pages.
    zero: Vec<u8>,
    max_io: u32,
    spp: u32,
    pub counters: CacheCounters,
}

impl<M: SlotMemory> Cache<M> {
    /// Bytes of RAM the cache's tables hold (sized by the slot count; the
    /// slot memory itself is the embedder's).
    pub fn table_ram_bytes(&self) -> usize {
        use crate::ram::vec_bytes;
        self.slots.ram_bytes()
            + vec_bytes(&self.entry_of)
            + self.write_map.ram_bytes()
            + self.read_map.ram_bytes()
            + self.entries.ram_bytes()
            + vec_bytes(&self.read_segs)
            + vec_bytes(&self.read_open)
            + vec_bytes(&self.zero)
    }

    /// Tables for `mem` under `cfg`, every handle pre-populated.
    pub fn new(mem: M, cfg: &FtlConfig, layout: &Layout) -> Self {
        let slot_count = mem.slot_count();
        let handles = cfg.handles + 1; // + the internal handle of write()/read()
        let mut cache = Cache {
            zero: alloc::vec![0; mem.slot_size()],
            mem,
            slots: SlotTable::new(slot_count),
            entry_of: alloc::vec![None; slot_count as usize],
            write_map: WriteMap::new(handles, cfg.max_io_sectors, cfg.prefill_slots),
            read_map: ReadMap::new(slot_count),
            // Every entry but the two filling ones holds at least one slot,
            // so this many can never run out (see ARCHITECTURE.md).
            entries: CacheMetaTable::new(slot_count + 2, layout.spp as usize),
            read_segs: alloc::vec![Segment::Zero; (handles * cfg.max_io_sectors) as usize],
            read_open: alloc::vec![false; handles as usize],
            fill: [None, None],
            max_io: cfg.max_io_sectors,
            spp: layout.spp,
            counters: CacheCounters::default(),
        };
        cache.prefill();
        cache
    }

    /// Gives every handle its pre-populated slots (the patent's initial
    /// write mapping table).
    fn prefill(&mut self) {
        let want = usize::from(self.write_map.prefill());
        for h in 0..self.write_map.handles() {
            while self.write_map.owned(Handle(h)) < want {
                match self.slots.take(SlotState::Reserved) {
                    Some(s) => self.write_map.add_slot(Handle(h), s),
                    None => return,
                }
            }
        }
    }

    pub fn mem(&self) -> &M {
        &self.mem
    }

    pub fn mem_mut(&mut self) -> &mut M {
        &mut self.mem
    }

    pub fn into_mem(self) -> M {
        self.mem
    }

    pub fn handles(&self) -> u32 {
        self.write_map.handles()
    }

    pub fn free_slots(&self) -> u32 {
        self.slots.free_count()
    }

    /// Free slots host commands may not take: what relocation needs to read
    /// one page and fill one group (it must always be able to run).
    pub fn host_reserve(&self) -> u32 {
        2 * self.spp
    }

    // ---- slot acquisition -------------------------------------------------

    /// Takes a free slot into `state`, evicting clean entries (and taking
    /// back idle handles' surplus, except `keep`'s) while no more than
    /// `reserve` slots are free.
    pub fn take_slot(
        &mut self,
        state: SlotState,
        reserve: u32,
        keep: Option<Handle>,
    ) -> Result<SlotId, Exhausted> {
        while self.slots.free_count() <= reserve {
            if !self.evict_one() && !self.reclaim_surplus(keep) {
                return Err(Exhausted);
            }
        }
        self.slots.take(state).ok_or(Exhausted)
    }

    /// Takes one slot per sector of a page (for a flash read) into `ids`.
    pub fn take_page_slots(
        &mut self,
        state: SlotState,
        reserve: u32,
        ids: &mut [SlotId],
    ) -> Result<(), Exhausted> {
        debug_assert_eq!(ids.len(), self.spp as usize);
        for i in 0..ids.len() {
            match self.take_slot(state, reserve, None) {
                Ok(s) => ids[i] = s,
                Err(e) => {
                    self.release_slots(&ids[..i]);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    pub fn release_slots(&mut self, ids: &[SlotId]) {
        for &s in ids {
            debug_assert!(self.entry_of[s.0 as usize].is_none());
            self.slots.release(s);
        }
    }

    /// Takes back the slots idle handles hold beyond their prefill (left
    /// from a large write), except `keep`'s. Returns whether any came back.
    fn reclaim_surplus(&mut self, keep: Option<Handle>) -> bool {
        let before = self.slots.free_count();
        let prefill = usize::from(self.write_map.prefill());
        for h in (0..self.write_map.handles()).map(Handle) {
            if Some(h) == keep || self.write_map.is_open(h) {
                continue;
            }
            let slots = &mut self.slots;
            self.write_map.shrink(h, prefill, |s| slots.release(s));
        }
        self.slots.free_count() > before
    }

    /// Evicts one clean, unpinned entry (clock order). The patent's tag
    /// compare: a read mapping is dropped only if it still names the slot.
    fn evict_one(&mut self) -> bool {
        let slots = &self.slots;
        let Some(e) = self
            .entries
            .pick_victim(|ids| ids.iter().any(|&s| slots.is_pinned(s)))
        else {
            return false;
        };
        debug_assert_eq!(self.entries.state(e), EntryState::Clean);
        for i in 0..self.entries.len(e) {
            let slot = self.entries.slot(e, i);
            if let Some(lba) = self.entries.lba(e, i) {
                self.read_map.remove_if(lba, slot);
            }
            self.unlink(slot, e);
            self.slots.release(slot);
        }
        self.entries.release(e);
        true
    }

    fn link(&mut self, slot: SlotId, e: EntryId) {
        let link = &mut self.entry_of[slot.0 as usize];
        assert!(link.is_none(), "{slot:?} already in {link:?}");
        *link = Some(e);
    }

    fn unlink(&mut self, slot: SlotId, e: EntryId) {
        let link = &mut self.entry_of[slot.0 as usize];
        assert_eq!(*link, Some(e), "{slot:?} not in {e:?}");
        *link = None;
    }

    // ---- writes -------------------------------------------------------------

    pub fn write_open(&self, h: Handle) -> bool {
        self.write_map.is_open(h)
    }

    /// Gathers `sectors` slots for `h` and opens its grant.
    pub fn begin_write(
        &mut self,
        h: Handle,
        lba: Lba,
        sectors: u32,
    ) -> Result<WriteGrant, Exhausted> {
        debug_assert!(!self.write_map.is_open(h));
        while self.write_map.owned(h) < sectors as usize {
            let slot = self.take_slot(SlotState::Reserved, self.host_reserve(), Some(h))?;
            self.write_map.add_slot(h, slot);
        }
        Ok(self.write_map.open(h, lba, sectors))
    }

    pub fn grant_slots(&self, g: &WriteGrant) -> &[SlotId] {
        self.write_map.grant_slots(g)
    }

    /// Copies `data` into the grant's slots (the convenience path); counts
    /// the copy.
    pub fn fill_grant(&mut self, g: &WriteGrant, data: &[u8]) {
        let ss = self.zero.len();
        for (i, sector) in data.chunks(ss).enumerate() {
            let slot = self.write_map.grant_slots(g)[i];
            self.mem.slot_mut(slot).copy_from_slice(sector);
        }
        self.counters.bytes_copied += data.len() as u64;
    }

    /// A slot of a grant that could not be committed goes back.
    pub fn drop_reserved(&mut self, slot: SlotId) {
        if self.slots.state(slot) == SlotState::Reserved {
            self.slots.release(slot);
        }
    }

    pub fn close_committed(&mut self, g: &WriteGrant) {
        self.write_map.close_committed(g);
    }

    pub fn close_aborted(&mut self, g: &WriteGrant) {
        self.write_map.close_aborted(g);
    }

    /// Refills `h`'s reserve to the prefill count, best effort.
    pub fn top_up(&mut self, h: Handle) {
        let want = usize::from(self.write_map.prefill());
        while self.write_map.owned(h) < want {
            match self.take_slot(SlotState::Reserved, self.host_reserve(), Some(h)) {
                Ok(s) => self.write_map.add_slot(h, s),
                Err(Exhausted) => break,
            }
        }
    }

    /// Forgets the cached copy of `lba` (it is being overwritten or
    /// trimmed). A copy not yet on flash is dropped from its group, so
    /// stale data is never programmed; a clean copy stays in its entry,
    /// dead, until the entry is evicted.
    pub fn supersede(&mut self, lba: Lba) {
        let Some(old) = self.read_map.remove(lba) else {
            return;
        };
        if self.slots.state(old) == SlotState::Dirty {
            let e = self.entry_of[old.0 as usize].expect("dirty slot in no group");
            assert!(
                self.entries.remove_slot(e, old),
                "dirty slot not in its group"
            );
            self.unlink(old, e);
            self.slots.release(old);
        }
    }

    // ---- groups ---------------------------------------------------------------

    /// Whether the stream's group is a whole page waiting to be programmed
    /// (left so by a failed program).
    pub fn group_is_full(&self, stream: Stream) -> bool {
        self.fill[group_index(stream)].is_some_and(|e| self.entries.state(e) == EntryState::Full)
    }

    /// Whether the stream's group holds any sector.
    pub fn group_pending(&self, stream: Stream) -> bool {
        self.fill[group_index(stream)].is_some_and(|e| !self.entries.is_empty(e))
    }

    /// The stream's filling group, opening one if needed. The caller
    /// programs a full group first.
    fn open_group(&mut self, stream: Stream) -> Result<EntryId, Exhausted> {
        let k = group_index(stream);
        if let Some(e) = self.fill[k] {
            assert_eq!(self.entries.state(e), EntryState::Filling);
            return Ok(e);
        }
        let e = self.entries.alloc_filling().ok_or(Exhausted)?;
        self.fill[k] = Some(e);
        Ok(e)
    }

    /// Makes `slot` (filled by the host) the newest data of `lba` in the
    /// host group. Returns whether the group is now a whole page.
    pub fn append_host(&mut self, lba: Lba, slot: SlotId) -> Result<bool, Exhausted> {
        let e = self.open_group(Stream::Host)?;
        assert_eq!(self.slots.state(slot), SlotState::Reserved);
        self.slots.set(slot, SlotState::Dirty);
        self.link(slot, e);
        let before = self.read_map.insert(lba, slot);
        debug_assert!(before.is_none(), "superseded copy still mapped");
        Ok(self.entries.push(e, slot, lba, None))
    }

    /// Adds `slot` (read from `src`, holding `lba`) to the relocation group.
    /// Returns whether the group is now a whole page. On failure the slot
    /// goes back.
    pub fn append_relocated(
        &mut self,
        lba: Lba,
        slot: SlotId,
        src: Psa,
    ) -> Result<bool, Exhausted> {
        let e = match self.open_group(Stream::Relocated) {
            Ok(e) => e,
            Err(x) => {
                self.slots.release(slot);
                return Err(x);
            }
        };
        assert_eq!(self.slots.state(slot), SlotState::Relocating);
        self.link(slot, e);
        Ok(self.entries.push(e, slot, lba, Some(src)))
    }

    /// The stream's group with sectors in it, to program.
    pub fn group(&self, stream: Stream) -> Option<EntryId> {
        self.fill[group_index(stream)].filter(|&e| !self.entries.is_empty(e))
    }

    pub fn group_len(&self, e: EntryId) -> usize {
        self.entries.len(e)
    }

    /// Sector `i` of group `e`: the LBA it holds (`None` once found stale)
    /// and where it was relocated from.
    pub fn group_sector(&self, e: EntryId, i: usize) -> (Option<Lba>, Option<Psa>) {
        (self.entries.lba(e, i), self.entries.src(e, i))
    }

    pub fn begin_program(&mut self, e: EntryId, ppa: Ppa) {
        self.entries.begin_program(e, ppa);
    }

    /// A relocated copy made stale while it waited: it must not be
    /// recorded, or recovery could resurrect it.
    pub fn forget_stale(&mut self, e: EntryId, i: usize) {
        self.entries.forget_lba(e, i);
    }

    /// The page to program for group `e`: its slots in order, zero-padded.
    pub fn page_data<'a>(&'a self, e: EntryId, out: &mut [&'a [u8]; MAX_SECTORS_PER_PAGE]) {
        let n = self.entries.len(e);
        for (i, b) in out[..self.spp as usize].iter_mut().enumerate() {
            *b = if i < n {
                self.mem.slot(self.entries.slot(e, i))
            } else {
                &self.zero
            };
        }
    }

    pub fn program_failed(&mut self, e: EntryId) {
        self.entries.program_failed(e);
    }

    /// Host group `e` is on flash: its slots stay cached, clean (the
    /// patent's clean entry).
    pub fn host_group_programmed(&mut self, e: EntryId) {
        assert_eq!(self.fill[0], Some(e));
        self.entries.programmed(e);
        for i in 0..self.entries.len(e) {
            let s = self.entries.slot(e, i);
            assert_eq!(self.slots.state(s), SlotState::Dirty);
            self.slots.set(s, SlotState::Clean);
        }
        self.fill[0] = None;
    }

    /// Relocation group `e` is on flash: relocated data is cold, so its
    /// slots go back at once. Writes the sources it held into `srcs`.
    pub fn relocated_group_programmed(
        &mut self,
        e: EntryId,
        srcs: &mut [Option<Psa>; MAX_SECTORS_PER_PAGE],
    ) -> usize {
        assert_eq!(self.fill[1], Some(e));
        self.entries.programmed(e);
        let n = self.entries.len(e);
        for (i, src) in srcs[..n].iter_mut().enumerate() {
            let s = self.entries.slot(e, i);
            *src = self.entries.src(e, i);
            assert_eq!(self.slots.state(s), SlotState::Relocating);
            self.unlink(s, e);
            self.slots.release(s);
        }
        self.entries.release(e);
        self.fill[1] = None;
        n
    }

    /// Whether the relocation group holds a sector read from block `b`.
    pub fn relocating_from(&self, b: BlockIdx, layout: &Layout) -> bool {
        let Some(e) = self.fill[1] else {
            return false;
        };
        (0..self.entries.len(e))
            .any(|i| self.entries.src(e, i).is_some_and(|p| layout.block(p) == b))
    }

    // ---- reads ----------------------------------------------------------------

    pub fn read_open(&self, h: Handle) -> bool {
        self.read_open[h.0 as usize]
    }

    /// The slot caching `lba`, noted as a hit.
    pub fn hit(&mut self, lba: Lba) -> Option<SlotId> {
        let s = self.read_map.get(lba)?;
        self.counters.hits += 1;
        if let Some(e) = self.entry_of[s.0 as usize] {
            self.entries.touch(e);
        }
        Some(s)
    }

    /// A read that must load from flash.
    pub fn note_miss(&mut self) {
        self.counters.misses += 1;
    }

    /// Whether `lba` is cached.
    pub fn is_cached(&self, lba: Lba) -> bool {
        self.read_map.get(lba).is_some()
    }

    /// Writable views of `ids` (slots just taken for a flash read).
    pub fn slots_for_read<'a>(&'a mut self, ids: &[SlotId], out: &mut [&'a mut [u8]]) {
        self.mem.slots_mut(ids, out);
    }

    /// Page `ppa`, just read into `ids`, becomes a clean entry holding the
    /// sectors `current` names; the rest of the slots go back.
    pub fn adopt_loaded(
        &mut self,
        ppa: Ppa,
        ids: &[SlotId],
        current: &[Option<Lba>],
    ) -> Result<(), Exhausted> {
        let Some(e) = self.entries.alloc_loaded(ppa) else {
            self.release_slots(ids);
            return Err(Exhausted);
        };
        for (&slot, &lba) in ids.iter().zip(current) {
            match lba.filter(|&l| !self.is_cached(l)) {
                Some(l) => {
                    self.entries.push(e, slot, l, None);
                    self.link(slot, e);
                    self.read_map.insert(l, slot);
                }
                None => self.slots.release(slot),
            }
        }
        Ok(())
    }

    /// Records segment `i` of `h`'s read, pinning its slot.
    pub fn set_segment(&mut self, h: Handle, i: usize, seg: Segment) {
        if let Segment::Slot(s) = seg {
            self.slots.pin(s);
        }
        self.read_segs[(h.0 * self.max_io) as usize + i] = seg;
    }

    /// Unpins the first `n` segments of `h`'s read.
    pub fn unpin_segments(&mut self, h: Handle, n: usize) {
        let base = (h.0 * self.max_io) as usize;
        for i in 0..n {
            if let Segment::Slot(s) = self.read_segs[base + i] {
                self.slots.unpin(s);
            }
        }
    }

    pub fn set_read_open(&mut self, h: Handle, open: bool) {
        assert_ne!(self.read_open[h.0 as usize], open);
        self.read_open[h.0 as usize] = open;
    }

    pub fn segments(&self, h: Handle, n: usize) -> &[Segment] {
        let base = (h.0 * self.max_io) as usize;
        &self.read_segs[base..base + n]
    }

    /// Copies the first `n` segments of `h`'s read into `out`; counts it.
    pub fn copy_out(&mut self, h: Handle, out: &mut [u8]) {
        let ss = self.zero.len();
        let base = (h.0 * self.max_io) as usize;
        for (k, sector) in out.chunks_mut(ss).enumerate() {
            match self.read_segs[base + k] {
                Segment::Slot(s) => sector.copy_from_slice(self.mem.slot(s)),
                Segment::Zero => sector.fill(0),
            }
        }
        self.counters.bytes_copied += out.len() as u64;
    }

    // ---- what a process crash would lose ----------------------------------

    /// The host group's sectors still current: `(lba, slot)`.
    pub fn unflushed(&self) -> impl Iterator<Item = (Lba, SlotId)> + '_ {
        let e = self.fill[0];
        let n = e.map_or(0, |e| self.entries.len(e));
        (0..n).filter_map(move |i| {
            let e = e?;
            let (slot, lba) = (self.entries.slot(e, i), self.entries.lba(e, i)?);
            let current =
                self.slots.state(slot) == SlotState::Dirty && self.read_map.get(lba) == Some(slot);
            current.then_some((lba, slot))
        })
    }

    /// How many [`Cache::unflushed`] lists, in O(1): a superseded copy
    /// leaves its group, so every slot of the host group is current.
    pub fn unflushed_count(&self) -> usize {
        let n = self.fill[0].map_or(0, |e| self.entries.len(e));
        debug_assert_eq!(n, self.unflushed().count());
        n
    }

    // ---- integrity ----------------------------------------------------------

    /// Checks the links between the slot table, the write map, the entries
    /// and the read map.
    pub fn check(&self) -> Result<(), &'static str> {
        let census = self.slots.census();
        ensure(
            census[SlotState::Free as usize] == self.slots.free_count(),
            "free list differs from free slots",
        )?;
        let reserved: usize = (0..self.write_map.handles())
            .map(|h| self.write_map.owned(Handle(h)))
            .sum();
        ensure(
            census[SlotState::Reserved as usize] as usize == reserved,
            "reserved slots differ from the write map",
        )?;
        let mut in_entries = 0u32;
        for e in (0..self.entries.count()).map(EntryId) {
            if self.entries.state(e) == EntryState::Free {
                continue;
            }
            for i in 0..self.entries.len(e) {
                let s = self.entries.slot(e, i);
                in_entries += 1;
                ensure(
                    self.entry_of[s.0 as usize] == Some(e),
                    "slot's entry link broken",
                )?;
                if self.entries.state(e) == EntryState::Clean && self.entries.lba(e, i).is_some() {
                    ensure(
                        self.slots.state(s) == SlotState::Clean,
                        "clean entry, unclean slot",
                    )?;
                }
            }
        }
        let dirty = census[SlotState::Dirty as usize];
        let clean = census[SlotState::Clean as usize];
        let relocating = census[SlotState::Relocating as usize];
        ensure(
            in_entries == dirty + clean + relocating,
            "slots in entries differ from census",
        )?;
        ensure(
            self.read_map.len() as u32 <= dirty + clean,
            "read map larger than the cache",
        )
    }
}
