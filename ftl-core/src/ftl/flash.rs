//! The flash map: where every LBA lives on flash and what every block holds.
//!
//! [`FlashMap`] owns the logical-to-physical map (through the mapping seam
//! in `crate::map`) and which of its translation pages changed since they
//! were written (`crate::translation`), the validity bitmap, the block
//! table, the write frontier of each stream (its open block) with the
//! summary each open data block collects, the blocks held back by trims
//! not yet logged and the blocks whose bad mark is still to be written.
//! It issues no NAND operation: the FTL programs and erases through the
//! media port, then tells the flash map what happened.

use alloc::vec::Vec;

use crate::addr::{BlockIdx, Lba, Ppa, Psa};
use crate::blocks::{BlockState, BlockTable, Stream, Wear};
use crate::format::summary::EntryBuilder;
use crate::gc::{self, GcPolicy};
use crate::layout::Layout;
use crate::map::{MapStore, Mapping};
use crate::map_cache::{Full, MapCache};
use crate::translation::TranslationTable;
use crate::validity::Validity;
use crate::wear;

use super::check::ensure;

/// Where each LBA lives, and each block's state, wear and write pointer.
pub(super) struct FlashMap {
    layout: Layout,
    map: MapStore,
    /// Where each translation page is, and which changed since written.
    tps: TranslationTable,
    /// The newest sequence number programmed: a change to the map is
    /// dated by it.
    now: u64,
    /// The summary each open data block (host, relocation; each lane)
    /// collects, at [`FlashMap::slot`].
    summaries: Vec<EntryBuilder>,
    valid: Validity,
    blocks: BlockTable,
    /// Open block per stream and lane: host lanes, relocation lanes, then
    /// the meta stream's one ([`FlashMap::slot`]).
    open: Vec<Option<BlockIdx>>,
    /// Open blocks per data stream (`FtlConfig::lanes`).
    lanes: u32,
    /// One data stream (`FtlConfig::data_streams` = 1): relocated pages
    /// go to the host's open blocks and lanes, which [`FlashMap::slot`]
    /// and [`FlashMap::cursor_of`] give both streams.
    one_stream: bool,
    /// The lane each data stream hands its next page out of.
    cursor: [u32; 2],
    /// Blocks that lost data to a trim not yet in a trim record: they may
    /// not be erased until it is on flash (after a cut, the checkpoint may
    /// still point into them).
    held: Vec<BlockIdx>,
    /// Blocks retired in the table whose bad mark is not yet on the NAND.
    to_mark_bad: Vec<BlockIdx>,
}

impl FlashMap {
    pub fn new(
        layout: Layout,
        map: MapStore,
        entries: u32,
        blocks: u32,
        lanes: u32,
        one_stream: bool,
    ) -> Self {
        let per_sector = !map.is_paged();
        let logical = map.len();
        FlashMap {
            layout,
            map,
            tps: TranslationTable::new(logical, entries),
            now: 0,
            summaries: (0..2 * lanes)
                .map(|_| EntryBuilder::new(layout.ppb, layout.spp as usize))
                .collect(),
            valid: Validity::new(layout, blocks, per_sector),
            blocks: BlockTable::new(blocks),
            open: alloc::vec![None; 2 * lanes as usize + 1],
            lanes,
            one_stream,
            cursor: [0; 2],
            held: Vec::with_capacity(blocks as usize),
            to_mark_bad: Vec::with_capacity(blocks as usize),
        }
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    // ---- the map ----------------------------------------------------------------

    /// What `lba` is, if its entry is resident (always, in a whole map);
    /// marks it recently used.
    pub fn resident(&mut self, lba: Lba) -> Option<Mapping> {
        self.map.get(lba)
    }

    /// What `lba` is, if its entry is resident.
    pub fn peek(&self, lba: Lba) -> Option<Mapping> {
        self.map.peek(lba)
    }

    /// What `lba` is; its entry must be resident (the FTL reads it in
    /// first: `Ftl::fault_in`).
    fn known(&self, lba: Lba) -> Mapping {
        self.map
            .peek(lba)
            .expect("map entry read in before it is used")
    }

    /// Whether `lba`'s newest version on flash is at `psa` (its entry must
    /// be resident).
    pub fn is_current(&self, lba: Lba, psa: Psa) -> bool {
        self.known(lba) == Mapping::Flash(psa)
    }

    /// Whether `lba`'s entry is resident and says `psa`: no read needed,
    /// and a non-resident entry counts as not current.
    pub fn is_current_if_resident(&self, lba: Lba, psa: Psa) -> bool {
        self.map.peek(lba) == Some(Mapping::Flash(psa))
    }

    /// The map, as stored.
    pub fn map(&self) -> &MapStore {
        &self.map
    }

    /// The map's cache, if it is demand-paged.
    pub fn map_cache(&self) -> Option<&MapCache> {
        self.map.cache()
    }

    /// The map's cache, writable, if it is demand-paged.
    pub fn map_cache_mut(&mut self) -> Option<&mut MapCache> {
        self.map.cache_mut()
    }

    /// Keeps `lba`'s entry (resident) from eviction until unpinned; pins
    /// nest.
    pub fn pin(&mut self, lba: Lba) {
        if let Some(c) = self.map.cache_mut() {
            let cached = c.pin(lba);
            debug_assert!(cached, "pinned an entry not read in");
        }
    }

    /// Undoes one [`FlashMap::pin`].
    pub fn unpin(&mut self, lba: Lba) {
        if let Some(c) = self.map.cache_mut() {
            c.unpin(lba);
        }
    }

    /// Makes `lba` resident as its translation page on flash says.
    pub fn read_in(&mut self, lba: Lba, m: Mapping) -> Result<(), Full> {
        self.map.insert_clean(lba, m)
    }

    /// Sets `lba`, resident, to `m`; returns what it was.
    fn change(&mut self, lba: Lba, m: Mapping) -> Mapping {
        let old = self.known(lba);
        if old != m {
            // Resident, so no slot is taken: it cannot fail.
            let _ = self.map.set(lba, m);
        }
        old
    }

    /// `lba` now lives at `psa` (just programmed). Returns the block that
    /// lost the previous version, to settle.
    pub fn remap(&mut self, lba: Lba, psa: Psa) -> Option<BlockIdx> {
        debug_assert!(
            matches!(
                self.blocks.state(self.layout.block(psa)),
                BlockState::Open | BlockState::Full
            ),
            "remap into a block not written by a data stream"
        );
        self.valid.set(psa);
        self.touch(lba);
        let old = self.change(lba, Mapping::Flash(psa)).psa()?;
        self.valid.clear(old);
        Some(self.layout.block(old))
    }

    /// A demand-paged map's translation page `t` is all unmapped now (a
    /// trim covers it): its cached entries go, its copy on flash no longer
    /// counts (the checkpoint's stays named until the next checkpoint),
    /// and it is clean: with no copy it reads as unmapped. Returns the
    /// address of the copy it had.
    pub fn empty_page(&mut self, t: u32) -> u32 {
        let mut pinned = false;
        if let Some(c) = self.map.cache_mut() {
            c.drop_page(t, Mapping::Unmapped.to_raw());
            pinned = c.dirty_in(t) > 0;
        }
        let old = self.tps.written(t, crate::translation::NO_PAGE);
        if pinned {
            // A pinned entry stayed, set unmapped: written back as such.
            self.tps.touch(t, self.now);
        }
        old
    }

    /// The sector at `psa` lost its LBA to a trim (the map says so
    /// already, as an emptied translation page): it turns stale, its block
    /// held until the trim is logged. Returns the block, to settle.
    pub fn trimmed_sector(&mut self, psa: Psa) -> BlockIdx {
        let b = self.layout.block(psa);
        if !self.blocks.is_held(b) {
            self.blocks.set_held(b, true);
            self.held.push(b);
        }
        self.valid.clear(psa);
        b
    }

    /// `lba` is trimmed. Its old block is held until the trim is logged.
    /// Returns the block that lost data, to settle.
    pub fn unmap(&mut self, lba: Lba) -> Option<BlockIdx> {
        let old = self.change(lba, Mapping::Unmapped);
        if old != Mapping::Unmapped {
            // A lost LBA trimmed changes the map too.
            self.touch(lba);
        }
        let old = old.psa()?;
        let b = self.layout.block(old);
        if !self.blocks.is_held(b) {
            self.blocks.set_held(b, true);
            self.held.push(b);
        }
        self.valid.clear(old);
        Some(b)
    }

    /// The valid sector at `psa` cannot be read back: `lba`, the LBA
    /// mapped to it (found by the FTL: the spare area naming it is what
    /// failed; its entry resident), fails reads until rewritten. Returns
    /// its block, to settle.
    pub fn lose(&mut self, psa: Psa, lba: Option<Lba>) -> BlockIdx {
        if let Some(l) = lba.filter(|&l| self.known(l) == Mapping::Flash(psa)) {
            self.change(l, Mapping::Lost);
            self.touch(l);
        }
        self.valid.clear(psa);
        self.layout.block(psa)
    }

    /// The LBA a whole map maps to `psa` (a scan: the rare path); `None`
    /// for a demand-paged map, whose caller searches the translation pages.
    pub fn find_in_whole_map(&self, psa: Psa) -> Option<Lba> {
        match &self.map {
            MapStore::Flat(m) => m.find(psa),
            MapStore::Paged { .. } => None,
        }
    }

    /// Valid sectors in the array.
    pub fn valid_total(&self) -> u64 {
        self.valid.total()
    }

    /// Whether `psa` holds current data, if validity is kept per sector
    /// (with a whole map); `None` when only per-block counts are (the map
    /// says: [`FlashMap::is_current`]).
    pub fn sector_valid(&self, psa: Psa) -> Option<bool> {
        self.valid.sector(psa)
    }

    /// Valid sectors in block `b`.
    pub fn valid_count(&self, b: BlockIdx) -> u32 {
        self.valid.count(b)
    }

    pub fn page_has_valid(&self, ppa: Ppa) -> bool {
        self.valid.page_has_valid(ppa)
    }

    /// The map changed at `lba`: its translation page is dirty from now.
    fn touch(&mut self, lba: Lba) {
        let t = self.tps.page_of(lba);
        self.tps.touch(t, self.now);
    }

    /// Bytes of RAM the map holds.
    pub fn map_ram_bytes(&self) -> usize {
        self.map.ram_bytes()
    }

    /// Bytes of RAM the translation table holds.
    pub fn translation_ram_bytes(&self) -> usize {
        self.tps.ram_bytes()
    }

    /// Bytes of RAM the validity bitmap and the block table hold.
    pub fn block_ram_bytes(&self) -> (usize, usize) {
        (self.valid.ram_bytes(), self.blocks.ram_bytes())
    }

    // ---- translation pages ----------------------------------------------------------

    pub fn translation(&self) -> &TranslationTable {
        &self.tps
    }

    /// Translation page `t` was written at `ppa`; returns the address of the
    /// copy it replaces.
    pub fn translation_written(&mut self, t: u32, ppa: Ppa) -> u32 {
        let at = self.layout.page_index(ppa);
        self.tps.written(t, at)
    }

    /// A checkpoint naming every newest translation page is complete.
    pub fn translation_checkpointed(&mut self, moved: impl FnMut(u32, u32)) {
        self.tps.checkpointed(moved);
    }

    /// The persisted entries of translation page `t`, for `out(i, raw)`.
    pub fn translation_entries(&self, t: u32) -> (u64, usize) {
        let first = self.tps.first_lba(t).0;
        let n = (self.map.len() - first).min(u64::from(self.tps.entries()));
        (first, n as usize)
    }

    // ---- blocks -------------------------------------------------------------------

    pub fn blocks(&self) -> &BlockTable {
        &self.blocks
    }

    pub fn state(&self, b: BlockIdx) -> BlockState {
        self.blocks.state(b)
    }

    pub fn erase_count(&self, b: BlockIdx) -> u32 {
        self.blocks.erase_count(b)
    }

    pub fn next_page(&self, b: BlockIdx) -> u32 {
        self.blocks.next_page(b)
    }

    pub fn available(&self) -> u32 {
        self.blocks.available()
    }

    pub fn wear(&self) -> Wear {
        self.blocks.wear()
    }

    pub fn good_blocks(&self) -> u32 {
        self.blocks.good()
    }

    pub fn block_count(&self) -> u32 {
        self.blocks.len()
    }

    /// Where stream `stream`'s lane `lane` keeps its open block (and, for
    /// a data stream, its summary). The meta stream has one lane.
    fn slot(&self, stream: Stream, lane: u32) -> usize {
        match stream {
            Stream::Host => lane as usize,
            Stream::Relocated if self.one_stream => lane as usize,
            Stream::Relocated => (self.lanes + lane) as usize,
            Stream::Meta => 2 * self.lanes as usize,
        }
    }

    /// Lanes of `stream`.
    fn lanes_of(&self, stream: Stream) -> u32 {
        match stream {
            Stream::Meta => 1,
            Stream::Host | Stream::Relocated => self.lanes,
        }
    }

    /// The lane `stream` hands its next page out of.
    pub fn lane(&self, stream: Stream) -> u32 {
        match stream {
            Stream::Meta => 0,
            Stream::Host | Stream::Relocated => self.cursor[self.cursor_of(stream)],
        }
    }

    /// The lane of `stream` whose open block is `b`.
    pub fn lane_of_open(&self, stream: Stream, b: BlockIdx) -> Option<u32> {
        (0..self.lanes_of(stream)).find(|&l| self.open[self.slot(stream, l)] == Some(b))
    }

    /// The open block of the stream's current lane.
    pub fn open_block(&self, stream: Stream) -> Option<BlockIdx> {
        self.open[self.slot(stream, self.lane(stream))]
    }

    /// Every open block, of every stream and lane.
    pub fn open_blocks(&self) -> impl Iterator<Item = BlockIdx> + '_ {
        self.open.iter().flatten().copied()
    }

    /// Whether a lane of `stream` other than the current one has a data
    /// page left to hand out.
    pub fn other_lane_has_room(&self, stream: Stream) -> bool {
        let cur = self.lane(stream);
        (0..self.lanes_of(stream))
            .filter(|&l| l != cur)
            .any(|l| self.lane_has_room(stream, l))
    }

    fn lane_has_room(&self, stream: Stream, lane: u32) -> bool {
        self.open[self.slot(stream, lane)]
            .is_some_and(|b| self.blocks.next_page(b) < self.layout.ppb)
    }

    /// Moves the stream on to its next lane.
    pub fn next_lane(&mut self, stream: Stream) {
        if stream != Stream::Meta {
            let k = self.cursor_of(stream);
            self.cursor[k] = (self.cursor[k] + 1) % self.lanes;
        }
    }

    /// Where a data stream's lane cursor is: its own, or with one data
    /// stream the host's for both.
    fn cursor_of(&self, stream: Stream) -> usize {
        match stream {
            Stream::Relocated if !self.one_stream => 1,
            _ => 0,
        }
    }

    /// Whether `stream`'s blocks wait for their summary when full.
    fn summarized(&self, stream: Stream) -> bool {
        stream != Stream::Meta && self.layout.has_summary()
    }

    /// The next page of the stream's current lane's open block, if it has
    /// one, and the stream moves on to its next lane; the block turns
    /// `Full` (or `Meta`) when its last page is handed out. A data block
    /// whose last page was handed out waits for its summary (`summary_due`)
    /// and hands out nothing more.
    pub fn advance(&mut self, stream: Stream) -> Option<Ppa> {
        let lane = self.lane(stream);
        let b = self.open[self.slot(stream, lane)]?;
        let p = self.blocks.next_page(b);
        if p >= self.layout.ppb {
            return None;
        }
        self.blocks.set_next_page(b, p + 1);
        if p + 1 == self.layout.ppb && !self.summarized(stream) {
            self.close(stream, lane);
        }
        self.next_lane(stream);
        Some(Ppa::new(b, p))
    }

    /// Whether the data stream's lane's open block has all its pages and
    /// waits for its summary.
    pub fn summary_due(&self, stream: Stream, lane: u32) -> bool {
        self.open[self.slot(stream, lane)]
            .is_some_and(|b| self.summarized(stream) && self.blocks.next_page(b) == self.layout.ppb)
    }

    /// Notes a data page programmed in one of the stream's open blocks, for
    /// its summary.
    pub fn summarize(&mut self, stream: Stream, ppa: Ppa, seq: u64, lbas: &[u32]) {
        let Some(lane) = self.lane_of_open(stream, ppa.block) else {
            return;
        };
        let k = self.slot(stream, lane);
        let b = &mut self.summaries[k];
        if self.layout.has_summary() && ppa.page == b.pages() {
            b.note(ppa.page, seq, lbas);
        }
    }

    /// The summary of the stream's lane's open block, all of whose pages
    /// are programmed, for the meta stream; the block is then full.
    pub fn take_summary(&mut self, stream: Stream, lane: u32) -> Option<&[u8]> {
        if !self.summary_due(stream, lane) {
            return None;
        }
        let k = self.slot(stream, lane);
        self.close(stream, lane);
        let builder = &self.summaries[k];
        // A page not noted cannot happen (a failed program closes the
        // block); if it did, no summary: recovery scans the block.
        (builder.pages() == self.layout.ppb).then(|| builder.bytes())
    }

    /// Closes the stream's lane's open block where it stands.
    pub fn close(&mut self, stream: Stream, lane: u32) {
        let k = self.slot(stream, lane);
        if let Some(b) = self.open[k].take() {
            let to = match stream {
                Stream::Meta => BlockState::Meta,
                Stream::Host | Stream::Relocated => BlockState::Full,
            };
            self.blocks.set_state(b, to);
        }
    }

    /// The least-worn free or stale block not held by a pending trim, on
    /// `lane` if one is (else on any), and whether it must be erased first.
    pub fn pick_free(&self, lane: Option<u32>) -> Option<(BlockIdx, bool)> {
        let b = self.blocks.pick_free(lane, self.lanes)?;
        Some((b, self.blocks.state(b) == BlockState::Stale))
    }

    /// `b` was erased.
    pub fn erased(&mut self, b: BlockIdx) {
        self.blocks.erased(b);
    }

    /// `b` (free, erased) becomes the open block of the stream's current
    /// lane.
    pub fn open(&mut self, stream: Stream, b: BlockIdx) {
        let k = self.slot(stream, self.lane(stream));
        assert!(
            self.open[k].is_none(),
            "{stream:?} lane {} already has an open block",
            self.lane(stream)
        );
        assert_eq!(self.blocks.state(b), BlockState::Free);
        self.blocks.set_state(b, BlockState::Open);
        self.blocks.set_next_page(b, 0);
        self.open[k] = Some(b);
        if stream != Stream::Meta {
            self.summaries[k].start(b.0);
        }
    }

    /// Notes a page programmed into `b` at `seq` (its age, for GC; and the
    /// date of the map changes it causes).
    pub fn programmed(&mut self, b: BlockIdx, seq: u64) {
        self.blocks.set_last_seq(b, seq);
        self.now = self.now.max(seq);
    }

    /// A program failed in the stream's open block `b`: close it. Data
    /// blocks keep their valid data readable and are retired once GC has
    /// moved it; meta blocks are retired once obsolete.
    pub fn program_failed(&mut self, stream: Stream, b: BlockIdx) {
        if let Some(lane) = self.lane_of_open(stream, b) {
            self.close(stream, lane);
        }
        self.blocks.set_retiring(b);
    }

    /// A page of full data block `b` did not read back (uncorrectable
    /// after the NAND's own retries): its cells are not to be trusted with
    /// new data, so it is retired, not erased, once GC has emptied it.
    pub fn read_failed(&mut self, b: BlockIdx) {
        self.blocks.set_retiring(b);
    }

    /// A full data block with nothing valid left is garbage: stale (erased
    /// on reuse), or retired if a program failed in it. A block whose
    /// sectors still wait in the relocation group as sources
    /// (`relocating`, asked only of an empty full block) is held back until that group is programmed: erasing
    /// and reusing it first could put a new version of an LBA at the very
    /// address the waiting copy names as its source (ABA).
    pub fn settle(&mut self, b: BlockIdx, relocating: impl FnOnce(BlockIdx) -> bool) {
        if self.blocks.state(b) != BlockState::Full || self.valid.count(b) != 0 || relocating(b) {
            return;
        }
        self.discard(b);
    }

    /// A meta block no recovery needs any more.
    pub fn release_meta(&mut self, b: BlockIdx) {
        assert_eq!(self.blocks.state(b), BlockState::Meta);
        self.discard(b);
    }

    /// `b` holds nothing anyone needs: stale (erased on reuse), or retired
    /// if a program failed in it.
    fn discard(&mut self, b: BlockIdx) {
        if self.blocks.is_retiring(b) {
            self.retire(b);
        } else {
            self.blocks.set_state(b, BlockState::Stale);
        }
    }

    /// Format: `b` carries a factory (or earlier grown) bad mark already.
    pub fn retire_factory_bad(&mut self, b: BlockIdx) {
        self.blocks.set_state(b, BlockState::Bad);
    }

    /// Takes `b` out of service for good; its bad mark is written later.
    pub fn retire(&mut self, b: BlockIdx) {
        self.blocks.set_state(b, BlockState::Bad);
        self.to_mark_bad.push(b);
    }

    /// The next block whose bad mark is due.
    pub fn next_bad_mark(&mut self) -> Option<BlockIdx> {
        self.to_mark_bad.pop()
    }

    /// A bad mark that could not be written (power loss) stays due.
    pub fn bad_mark_pending(&mut self, b: BlockIdx) {
        self.to_mark_bad.push(b);
    }

    /// The pending trims are on flash: held blocks may be erased.
    pub fn release_holds(&mut self) {
        while let Some(b) = self.held.pop() {
            self.blocks.set_held(b, false);
        }
    }

    /// Marks `b` as being emptied by GC or wear leveling.
    pub fn set_collecting(&mut self, b: BlockIdx) {
        assert_eq!(self.blocks.state(b), BlockState::Full);
        self.blocks.set_collecting(b, true);
    }

    /// The next GC victim, if any block holds reclaimable space.
    pub fn gc_victim(&self, policy: GcPolicy, now_seq: u64) -> Option<BlockIdx> {
        gc::pick_victim(policy, &self.blocks, &self.valid, self.layout.spb, now_seq)
    }

    /// The block static wear leveling should migrate, if any.
    pub fn cold_block(&self, bound: u32) -> Option<BlockIdx> {
        wear::pick_cold_block(&self.blocks, bound)
    }

    // ---- mount ----------------------------------------------------------------------

    /// Mount: sets what recovery found, without the transition checks.
    pub fn restore_block(&mut self, b: BlockIdx, state: BlockState) {
        self.blocks.restore_state(b, state);
    }

    pub fn restore_next_page(&mut self, b: BlockIdx, p: u32) {
        self.blocks.set_next_page(b, p);
    }

    pub fn restore_erase_count(&mut self, b: BlockIdx, n: u32) {
        self.blocks.set_erase_count(b, n);
    }

    /// Mount, before anything is mapped: the media holds `map.len()` LBAs.
    pub fn resize_map(&mut self, map: MapStore, entries: u32) {
        self.tps = TranslationTable::new(map.len(), entries);
        self.valid = Validity::new(self.layout, self.blocks.len(), !map.is_paged());
        self.map = map;
    }

    /// Mount: `lba` is `m`, as a translation page says (a whole map only:
    /// a demand-paged one reads entries in when used).
    pub fn load_mapping(&mut self, lba: Lba, m: Mapping) {
        if let MapStore::Flat(f) = &mut self.map {
            f.set(lba, m);
        }
    }

    /// Mount: `lba` became `m` by an event at `seq` replayed from after
    /// the horizon; its translation page must be written again.
    pub fn replay_mapping(&mut self, lba: Lba, m: Mapping, seq: u64) -> Result<(), Full> {
        self.map.set(lba, m)?;
        let t = self.tps.page_of(lba);
        self.tps.touch(t, seq);
        Ok(())
    }

    /// Mount, demand-paged map: `lba` is finally `m` (a replayed entry, or
    /// its translation page's). Its sector turns valid; one already
    /// claimed (only corrupted media does that) makes `lba` lost, dated
    /// `seq`.
    pub fn claim(&mut self, lba: Lba, m: Mapping, seq: u64) -> Result<(), Full> {
        let Some(psa) = m.psa() else {
            return Ok(());
        };
        if self.valid.sector(psa) == Some(true) {
            return self.replay_mapping(lba, Mapping::Lost, seq);
        }
        self.valid.set(psa);
        Ok(())
    }

    /// Mount: translation page `t` is at directory address `at`.
    pub fn restore_translation(&mut self, t: u32, at: u32) {
        self.tps.restore(t, at);
    }

    /// Mount: the checkpoint names copy `at` of translation page `t`,
    /// older than its newest.
    pub fn restore_checkpointed_translation(&mut self, t: u32, at: u32) {
        self.tps.restore_root(t, at);
    }

    /// Mount: the newest page of `b` has sequence number `seq`.
    pub fn restore_last_seq(&mut self, b: BlockIdx, seq: u64) {
        self.blocks.set_last_seq(b, seq);
    }

    /// Mount: the newest sequence number on flash.
    pub fn restore_now(&mut self, seq: u64) {
        self.now = self.now.max(seq);
    }

    /// Mount: derives validity from a whole map. An LBA claiming a sector
    /// another already claims (only corrupted media does that) is lost.
    pub fn rebuild_validity(&mut self, logical: u64) {
        if let MapStore::Flat(map) = &mut self.map {
            for l in (0..logical).map(Lba) {
                let Some(psa) = map.get(l).psa() else {
                    continue;
                };
                if self.valid.sector(psa) == Some(true) {
                    map.set(l, Mapping::Lost);
                    continue;
                }
                self.valid.set(psa);
            }
        }
        self.settle_validity();
    }

    /// Mount: block states as validity now says.
    pub fn settle_validity(&mut self) {
        for b in self.blocks.iter() {
            let s = self.blocks.state(b);
            let c = self.valid.count(b);
            if s == BlockState::Full && c == 0 {
                self.blocks.restore_state(b, BlockState::Stale);
            }
            if c > 0 && s != BlockState::Full {
                // Data the checkpoint or replay says is here keeps its block.
                self.blocks.restore_state(b, BlockState::Full);
            }
        }
    }

    // ---- integrity -------------------------------------------------------------------

    /// Checks the map against validity and the block table.
    pub fn check(
        &self,
        logical: u64,
        relocating: impl Fn(BlockIdx) -> bool,
    ) -> Result<(), &'static str> {
        self.tps.check()?;
        let mut mapped = 0u64;
        match &self.map {
            MapStore::Flat(map) => {
                for l in (0..logical).map(Lba) {
                    let Some(psa) = map.get(l).psa() else {
                        continue;
                    };
                    ensure(self.layout.contains(psa), "map points outside the array")?;
                    ensure(
                        self.valid.sector(psa) == Some(true),
                        "mapped sector not marked valid",
                    )?;
                    mapped += 1;
                }
            }
            MapStore::Paged { cache, .. } => {
                cache.check()?;
                let mut bad = None;
                cache.for_each(|lba, raw, _| {
                    if let Some(psa) = crate::map::decode(raw).psa() {
                        if !self.layout.contains(psa) {
                            bad = Some("map points outside the array");
                        } else if self.valid.sector(psa) == Some(false) {
                            bad = Some("mapped sector not marked valid");
                        }
                    }
                    if lba.0 >= logical {
                        bad = Some("map cache entry beyond the logical range");
                    }
                });
                if let Some(what) = bad {
                    return Err(what);
                }
                for t in 0..self.tps.len() {
                    ensure(
                        self.tps.is_dirty(t) == (cache.dirty_in(t) > 0),
                        "dirty translation page without dirty entries, or the reverse",
                    )?;
                }
                // Whether every valid sector is mapped needs the translation
                // pages: `Ftl::verify_map`.
                mapped = self.valid.total();
            }
        }
        let mut counted = 0u64;
        for b in self.blocks.iter() {
            let c = self.valid.count(b);
            counted += u64::from(c);
            let s = self.blocks.state(b);
            ensure(
                c == 0 || matches!(s, BlockState::Open | BlockState::Full),
                "valid data in a free, stale or bad block",
            )?;
            ensure(
                s != BlockState::Full || c > 0 || relocating(b),
                "full block with no valid data not reclaimed",
            )?;
        }
        ensure(counted == mapped, "valid count differs from mapped sectors")?;
        let avail = self
            .blocks
            .iter()
            .filter(|&b| matches!(self.blocks.state(b), BlockState::Free | BlockState::Stale))
            .count() as u32;
        ensure(
            avail == self.blocks.available(),
            "available-block count drifted",
        )?;
        for b in self.open.iter().flatten() {
            ensure(
                self.blocks.state(*b) == BlockState::Open,
                "open stream block not Open",
            )?;
        }
        for (i, b) in self
            .open
            .iter()
            .enumerate()
            .filter_map(|(i, b)| Some((i, (*b)?)))
        {
            ensure(
                !self.open[i + 1..].contains(&Some(b)),
                "a block open in two lanes",
            )?;
        }
        Ok(())
    }
}
