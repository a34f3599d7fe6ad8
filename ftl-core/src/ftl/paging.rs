//! The demand-paged map's flows (`crate::map_cache`): reading an entry in
//! from its translation page before it is used, writing translation pages
//! back when dirty entries crowd the cache, and the whole-map walks (find
//! the LBA of a sector, verify the map) that a resident map does in RAM.
//!
//! **Reading in.** Every use of an entry is preceded by [`Ftl::fault_in`]:
//! a host read's lookup, each LBA a trim unmaps, each LBA GC finds in a
//! victim's spare area, and the LBAs of a group about to be programmed,
//! which are also *pinned* until their remap: between a program and its
//! remap nothing is read in or written back, so no translation page can be
//! written with a sequence number newer than a change it lacks (recovery
//! trusts a page for every event older than itself). The translation page
//! read last stays decoded in a page buffer, so the misses of one page cost
//! one read.
//!
//! **Writing back.** Dirty entries are never evicted. When more than three
//! quarters of the cache is dirty at a safe point (an update's end, between
//! GC victims), or the cache is full when an entry must be read in, the
//! translation pages with the most dirty entries are written back (each
//! page once, with every dirty entry of it: DFTL's batching) until half is
//! dirty. A write-back rewrites the page from its copy on flash plus the
//! cached entries. When the meta stream reaches its block limit a
//! checkpoint follows, whose cleaning keeps the stream within its reserve.

use alloc::vec::Vec;

use crate::addr::{BlockIdx, Lba, Psa};
use crate::error::Error;
use crate::format::translation;
use crate::map::Mapping;
use crate::nand::Nand;
use crate::slot::SlotMemory;
use crate::translation::NO_PAGE;

use super::check::IntegrityError;
use super::{Ftl, FtlResult};

/// Translation pages picked per scan for the most dirty entries.
const PICK: usize = 16;

/// The translation page read last, and what paging did.
#[derive(Debug, Default)]
pub(super) struct Paging {
    /// A page buffer holding translation page `holds.0` as read from page
    /// address `holds.1`.
    buf: Vec<u8>,
    holds: Option<(u32, u32)>,
    pub hits: u64,
    pub misses: u64,
    pub write_backs: u64,
}

impl Paging {
    /// Paging state for pages of `page_size` bytes (no buffer if the map is
    /// whole: `paged` false).
    pub fn new(page_size: usize, paged: bool) -> Self {
        Paging {
            buf: if paged {
                alloc::vec![0; page_size]
            } else {
                Vec::new()
            },
            ..Paging::default()
        }
    }
}

impl<N: Nand, M: SlotMemory> Ftl<N, M> {
    /// Makes `lba`'s entry resident, reading its translation page if need
    /// be (and writing dirty pages back if the cache is full). Inlined so
    /// a whole map, on every sector's path, costs one test.
    #[inline]
    pub(super) fn fault_in(&mut self, lba: Lba) -> FtlResult<(), N> {
        if self.flash.map_cache().is_none() {
            return Ok(());
        }
        self.fault_in_paged(lba)
    }

    /// [`Ftl::fault_in`] with a demand-paged map.
    fn fault_in_paged(&mut self, lba: Lba) -> FtlResult<(), N> {
        if self.flash.resident(lba).is_some() {
            self.paging.hits += 1;
            return Ok(());
        }
        self.paging.misses += 1;
        let m = self.read_entry(lba)?;
        loop {
            if self.flash.read_in(lba, m).is_ok() {
                return Ok(());
            }
            if !self.relieve_map(true)? {
                // Only pinned entries left: fewer than the minimum the
                // configuration guarantees, so a logic error.
                return Err(Error::Config(crate::ConfigError::MapBudget {
                    needed: self.cfg.map_budget_bytes.saturating_mul(2),
                }));
            }
        }
    }

    /// Reads `lba`'s entry from its translation page on flash.
    pub(super) fn read_entry(&mut self, lba: Lba) -> FtlResult<Mapping, N> {
        let tps = self.flash.translation();
        let t = tps.page_of(lba);
        let at = tps.loc(t);
        if at == NO_PAGE {
            return Ok(Mapping::Unmapped);
        }
        let i = (lba.0 - tps.first_lba(t).0) as usize;
        if !self.load_translation(t, at)? {
            return Err(Error::Uncorrectable { lba });
        }
        let raw = translation::decode(&self.paging.buf).and_then(|p| p.entry(i));
        raw.and_then(|r| Mapping::from_raw(r, self.flash.layout().total))
            .ok_or(Error::Uncorrectable { lba })
    }

    /// Reads translation page `t` from page address `at` into the paging
    /// buffer (unless it holds it already); `false` if it does not read
    /// back as that translation page.
    fn load_translation(&mut self, t: u32, at: u32) -> FtlResult<bool, N> {
        if self.paging.holds == Some((t, at)) {
            return Ok(true);
        }
        self.paging.holds = None;
        let ppa = self.flash.layout().page_at(at).ok_or(Error::Corrupted)?;
        let mut buf = core::mem::take(&mut self.paging.buf);
        let read = self.reads_as_translation(t, ppa, &mut buf);
        self.paging.buf = buf;
        let ok = read?;
        if ok {
            self.paging.holds = Some((t, at));
        }
        Ok(ok)
    }

    /// Fills the meta page buffer with translation page `t` as the map has
    /// it now: its copy on flash (or all unmapped if it has none), with the
    /// cached entries over it. Entries of a copy that no longer reads back
    /// are lost.
    pub(super) fn build_translation_page(&mut self, t: u32) -> FtlResult<(), N> {
        let (first, n) = self.flash.translation_entries(t);
        let at = self.flash.translation().loc(t);
        let base = at != NO_PAGE && self.load_translation(t, at)?;
        let page = self.meta.page_mut();
        if base {
            page.copy_from_slice(&self.paging.buf);
        } else {
            let fill = if at == NO_PAGE {
                Mapping::Unmapped
            } else {
                Mapping::Lost
            };
            translation::encode(page, t, n, |_| fill.to_raw());
        }
        if let Some(cache) = self.flash.map_cache() {
            cache.for_each_in(t, |lba, raw| {
                translation::set_entry(page, (lba.0 - first) as usize, raw);
            });
        }
        Ok(())
    }

    /// Translation page `t`, just programmed at page address `at` from the
    /// meta page buffer: its cached entries are clean, and the paging
    /// buffer holds it (its next misses need no read).
    pub(super) fn translation_page_written(&mut self, t: u32, at: u32) {
        if let Some(c) = self.flash.map_cache_mut() {
            c.written_back(t);
            self.paging.buf.copy_from_slice(self.meta.page());
            self.paging.holds = Some((t, at));
        }
    }

    /// Writes back the translation pages with the most dirty entries when
    /// more than three quarters of the cache is dirty (or, `force`, at all)
    /// until half is. Returns whether it wrote any.
    pub(super) fn relieve_map(&mut self, force: bool) -> FtlResult<bool, N> {
        let Some(c) = self.flash.map_cache() else {
            return Ok(false);
        };
        let cap = c.capacity();
        if c.dirty() == 0 || (!force && c.dirty() <= cap / 4 * 3) {
            return Ok(false);
        }
        // Trim records go before any later page (see checkpoint.rs).
        self.log_trims()?;
        let mut pick = [0u32; PICK];
        loop {
            let c = self.flash.map_cache().expect("paged");
            if c.dirty() <= cap / 2 {
                break;
            }
            let n = c.most_dirty(&mut pick);
            if n == 0 {
                break;
            }
            for &t in &pick[..n] {
                self.write_translation_page(t)?;
                self.paging.write_backs += 1;
            }
            self.checkpoint_if_meta_full()?;
        }
        Ok(true)
    }

    /// A checkpoint, whose cleaning evacuates the meta stream's oldest
    /// block, when the stream is at its limit (translation pages written
    /// outside a checkpoint grow it).
    fn checkpoint_if_meta_full(&mut self) -> FtlResult<(), N> {
        if self.meta_must_clean() {
            self.checkpoint()?;
        }
        Ok(())
    }

    /// Trims every LBA of translation page `t` (demand-paged map): each
    /// sector mapped (by the cache, else the page on flash) turns stale,
    /// then the page is written all unmapped at once. Written, not only
    /// forgotten: its sequence number tells recovery that no change before
    /// it counts, so replay never has to hold them.
    pub(super) fn trim_translation_page(&mut self, t: u32) -> FtlResult<(), N> {
        let (first, n) = self.flash.translation_entries(t);
        let at = self.flash.translation().loc(t);
        if at != NO_PAGE && !self.load_translation(t, at)? {
            return Err(Error::Uncorrectable { lba: Lba(first) });
        }
        let total = self.flash.layout().total;
        for i in 0..n {
            let lba = Lba(first + i as u64);
            let m = match self.flash.peek(lba) {
                Some(m) => m,
                None if at == NO_PAGE => Mapping::Unmapped,
                None => translation::decode(&self.paging.buf)
                    .and_then(|p| p.entry(i))
                    .and_then(|r| Mapping::from_raw(r, total))
                    .unwrap_or(Mapping::Lost),
            };
            if let Some(psa) = m.psa() {
                let b = self.flash.trimmed_sector(psa);
                self.settle(b);
            }
        }
        if let Some(c) = self.flash.map_cache_mut() {
            c.drop_page(t, Mapping::Unmapped.to_raw());
        }
        // The cached entries are gone, so the page is built all unmapped
        // over no base.
        self.log_trims()?;
        translation::encode(self.meta.page_mut(), t, n, |_| Mapping::Unmapped.to_raw());
        self.program_translation_page(t)?;
        self.checkpoint_if_meta_full()
    }

    /// Empties translation page `t` (`FlashMap::empty_page`); the copy it
    /// had is no longer needed unless the checkpoint names it.
    pub(super) fn empty_translation_page(&mut self, t: u32) {
        let old = self.flash.empty_page(t);
        let root = self.flash.translation().root(t);
        if old != NO_PAGE && old != root {
            if let Some(p) = self.flash.layout().page_at(old) {
                self.meta.drop_ref(p.block);
            }
        }
    }

    /// The LBA mapped to `psa`, read in (the rare path: GC found a valid
    /// sector whose spare area does not read back). A whole map is scanned
    /// in RAM; a demand-paged one in its cache, then page by page.
    pub(super) fn lba_at(&mut self, psa: Psa) -> FtlResult<Option<Lba>, N> {
        let Some(cache) = self.flash.map_cache() else {
            return Ok(self.flash.find_in_whole_map(psa));
        };
        if let Some(l) = cache.find_value(psa.0) {
            return Ok(Some(l));
        }
        for t in 0..self.flash.translation().len() {
            let at = self.flash.translation().loc(t);
            if at == NO_PAGE || !self.load_translation(t, at)? {
                continue;
            }
            let (first, n) = self.flash.translation_entries(t);
            let hit = translation::decode(&self.paging.buf)
                .and_then(|p| (0..n).find(|&i| p.entry(i) == Some(psa.0)));
            if let Some(i) = hit {
                let l = Lba(first + i as u64);
                // A cached entry is newer than its page.
                if self.flash.peek(l).is_none() {
                    self.fault_in(l)?;
                    return Ok(Some(l));
                }
            }
        }
        Ok(None)
    }

    /// Checks a demand-paged map against validity through its translation
    /// pages (every mapped sector valid and claimed once, as many mapped as
    /// valid): what [`Ftl::check_integrity`] does in RAM for a whole map.
    /// Reads every translation page.
    pub fn verify_map(&mut self) -> Result<(), IntegrityError> {
        if self.flash.map_cache().is_none() {
            return self.check_integrity();
        }
        let total = self.flash.layout().total as usize;
        let mut seen = bitvec::vec::BitVec::<usize>::repeat(false, total);
        // Valid sectors per block as the map says, against the counts.
        let mut per_block = alloc::vec![0u32; self.geo.total_blocks() as usize];
        let mut mapped = 0u64;
        for t in 0..self.flash.translation().len() {
            self.build_translation_page(t)
                .map_err(|_| IntegrityError("a translation page did not read back"))?;
            let page = self.meta.page();
            let tp = translation::decode(page).ok_or(IntegrityError("translation page garbled"))?;
            for i in 0..tp.entries as usize {
                let raw = tp.entry(i).unwrap_or(u32::MAX);
                let Some(Mapping::Flash(psa)) = Mapping::from_raw(raw, total as u32) else {
                    continue;
                };
                if seen.replace(psa.0 as usize, true) {
                    return Err(IntegrityError("two LBAs map to one sector"));
                }
                if self.flash.sector_valid(psa) == Some(false) {
                    return Err(IntegrityError("mapped sector not marked valid"));
                }
                per_block[self.flash.layout().block(psa).0 as usize] += 1;
                mapped += 1;
            }
        }
        if mapped != self.flash.valid_total() {
            return Err(IntegrityError("valid count differs from mapped sectors"));
        }
        let mut blocks = (0..self.geo.total_blocks()).map(BlockIdx);
        if blocks.any(|b| self.flash.valid_count(b) != per_block[b.0 as usize]) {
            return Err(IntegrityError(
                "a block's valid count differs from its mapped sectors",
            ));
        }
        self.check_integrity()
    }
}
