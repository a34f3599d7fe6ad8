//! The logical-to-physical map: what each LBA is.
//!
//! This file is the mapping seam. The FTL asks the map what an LBA is — a
//! [`Mapping`] — and tells it where an LBA now lives; it never sees how the
//! map stores that. [`FlatMap`] keeps one `u32` per LBA in RAM, with two
//! values reserved as markers; those markers exist only here. The host's
//! lookups reach the map through one fallible call (`Ftl::mapping`), where a
//! demand-paged map can first read a translation page from NAND; the
//! currency checks of read misses and relocation (`FlashMap::is_current`)
//! read it directly (see ARCHITECTURE.md, *The mapping seam*).
//!
//! Checkpoints store the map through [`Mapping::to_raw`] /
//! [`Mapping::from_raw`]: the same `u32` per LBA, little-endian.

use alloc::vec::Vec;

use crate::addr::{Lba, Psa};
use crate::map_cache::{Full, MapCache};

/// Raw value of an LBA never written, or trimmed.
const UNMAPPED: u32 = u32::MAX;
/// Raw value of an LBA whose flash copy was lost.
const LOST: u32 = u32::MAX - 1;

/// What an LBA is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mapping {
    /// Never written, or trimmed: reads as zeros.
    Unmapped,
    /// Its flash copy was lost to an uncorrectable error (or corrupted
    /// media): reads fail until it is written again.
    Lost,
    /// Its newest version on flash is at this sector.
    Flash(Psa),
}

impl Mapping {
    /// The sector, if the LBA is on flash.
    pub fn psa(self) -> Option<Psa> {
        match self {
            Mapping::Flash(p) => Some(p),
            Mapping::Unmapped | Mapping::Lost => None,
        }
    }

    /// The persisted form (checkpoints): a `u32`.
    pub fn to_raw(self) -> u32 {
        match self {
            Mapping::Unmapped => UNMAPPED,
            Mapping::Lost => LOST,
            Mapping::Flash(p) => {
                debug_assert!(p.0 < LOST, "{p} collides with a marker");
                p.0
            }
        }
    }

    /// Decodes a persisted value; `None` for a sector outside an array of
    /// `total_sectors` (corrupted input).
    pub fn from_raw(raw: u32, total_sectors: u32) -> Option<Mapping> {
        match raw {
            UNMAPPED => Some(Mapping::Unmapped),
            LOST => Some(Mapping::Lost),
            p if p < total_sectors => Some(Mapping::Flash(Psa(p))),
            _ => None,
        }
    }
}

/// The fully resident map: one `u32` per LBA.
#[derive(Debug)]
pub struct FlatMap {
    map: Vec<u32>,
}

impl FlatMap {
    /// `sectors` LBAs, all unmapped.
    pub fn new(sectors: u64) -> Self {
        FlatMap {
            map: alloc::vec![UNMAPPED; sectors as usize],
        }
    }

    /// LBAs covered.
    pub fn len(&self) -> u64 {
        self.map.len() as u64
    }

    /// Whether the map covers no LBA.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// What `lba` is.
    pub fn get(&self, lba: Lba) -> Mapping {
        match self.map[lba.0 as usize] {
            UNMAPPED => Mapping::Unmapped,
            LOST => Mapping::Lost,
            p => Mapping::Flash(Psa(p)),
        }
    }

    /// Makes `lba` be `m`; returns what it was.
    pub fn set(&mut self, lba: Lba, m: Mapping) -> Mapping {
        let old = self.get(lba);
        self.map[lba.0 as usize] = m.to_raw();
        old
    }

    /// The first LBA mapped to `psa` (slow: a linear scan, for the rare
    /// path where the page naming it failed to read).
    pub fn find(&self, psa: Psa) -> Option<Lba> {
        self.map
            .iter()
            .position(|&v| v == psa.0)
            .map(|i| Lba(i as u64))
    }

    /// Bytes of RAM the map holds.
    pub fn ram_bytes(&self) -> usize {
        crate::ram::vec_bytes(&self.map)
    }
}

/// The map as the FTL holds it: whole ([`FlatMap`]), or demand-paged
/// ([`MapCache`]: only some entries resident, the rest in translation
/// pages on flash, which the FTL reads in before using an entry).
#[derive(Debug)]
pub enum MapStore {
    /// Every entry resident.
    Flat(FlatMap),
    /// A budgeted cache of entries over `logical` LBAs.
    Paged {
        /// The cached entries (boxed: the table is large, the variants
        /// differ).
        cache: alloc::boxed::Box<MapCache>,
        /// LBAs covered.
        logical: u64,
    },
}

impl MapStore {
    /// A map of `logical` LBAs in translation pages of `entries`: whole if
    /// `budget` is 0 or a cache of `budget` bytes would hold every entry,
    /// else that cache (`None` if it would hold fewer than `min_entries`).
    pub fn new(logical: u64, entries: u32, budget: u64, min_entries: u32) -> Option<Self> {
        let pages = logical.div_ceil(u64::from(entries)) as u32;
        let cap = MapCache::capacity_for(budget, pages);
        if budget == 0 || u64::from(cap) >= logical {
            return Some(MapStore::Flat(FlatMap::new(logical)));
        }
        if cap < min_entries.max(1) {
            return None;
        }
        Some(MapStore::Paged {
            cache: alloc::boxed::Box::new(MapCache::new(cap, pages, entries)),
            logical,
        })
    }

    /// LBAs covered.
    pub fn len(&self) -> u64 {
        match self {
            MapStore::Flat(m) => m.len(),
            MapStore::Paged { logical, .. } => *logical,
        }
    }

    /// Whether the map is demand-paged.
    pub fn is_paged(&self) -> bool {
        matches!(self, MapStore::Paged { .. })
    }

    /// Whether the map covers no LBA.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cache, if the map is demand-paged.
    pub fn cache(&self) -> Option<&MapCache> {
        match self {
            MapStore::Flat(_) => None,
            MapStore::Paged { cache, .. } => Some(cache),
        }
    }

    /// The cache, writable, if the map is demand-paged.
    pub fn cache_mut(&mut self) -> Option<&mut MapCache> {
        match self {
            MapStore::Flat(_) => None,
            MapStore::Paged { cache, .. } => Some(cache),
        }
    }

    /// What `lba` is, if resident (always, for a whole map); marks it
    /// recently used.
    pub fn get(&mut self, lba: Lba) -> Option<Mapping> {
        match self {
            MapStore::Flat(m) => Some(m.get(lba)),
            MapStore::Paged { cache, .. } => cache.get(lba).map(decode),
        }
    }

    /// What `lba` is, if resident.
    pub fn peek(&self, lba: Lba) -> Option<Mapping> {
        match self {
            MapStore::Flat(m) => (lba.0 < m.len()).then(|| m.get(lba)),
            MapStore::Paged { cache, .. } => cache.peek(lba).map(decode),
        }
    }

    /// Makes `lba` be `m`: a change not yet in its translation page.
    /// Returns what it was, if that was resident.
    pub fn set(&mut self, lba: Lba, m: Mapping) -> Result<Option<Mapping>, Full> {
        match self {
            MapStore::Flat(f) => Ok(Some(f.set(lba, m))),
            MapStore::Paged { cache, .. } => Ok(cache.set(lba, m.to_raw())?.map(decode)),
        }
    }

    /// Makes `lba` resident as `m`, its translation page's value.
    pub fn insert_clean(&mut self, lba: Lba, m: Mapping) -> Result<(), Full> {
        match self {
            MapStore::Flat(_) => Ok(()),
            MapStore::Paged { cache, .. } => cache.insert_clean(lba, m.to_raw()),
        }
    }

    /// Bytes of RAM the map holds.
    pub fn ram_bytes(&self) -> usize {
        match self {
            MapStore::Flat(m) => m.ram_bytes(),
            MapStore::Paged { cache, .. } => cache.ram_bytes(),
        }
    }
}

/// A raw value as stored in RAM: anything outside the markers is a sector
/// (values read from flash go through [`Mapping::from_raw`]).
pub(crate) fn decode(raw: u32) -> Mapping {
    match raw {
        UNMAPPED => Mapping::Unmapped,
        LOST => Mapping::Lost,
        p => Mapping::Flash(Psa(p)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_find() {
        let mut m = FlatMap::new(10);
        assert_eq!(m.get(Lba(3)), Mapping::Unmapped);
        assert_eq!(m.set(Lba(4), Mapping::Flash(Psa(77))), Mapping::Unmapped);
        assert_eq!(m.find(Psa(77)), Some(Lba(4)));
        assert_eq!(m.set(Lba(4), Mapping::Lost), Mapping::Flash(Psa(77)));
        assert_eq!(m.get(Lba(4)), Mapping::Lost);
        assert_eq!(m.find(Psa(77)), None);
    }

    #[test]
    fn raw_round_trips_and_refuses_outside() {
        for m in [
            Mapping::Unmapped,
            Mapping::Lost,
            Mapping::Flash(Psa(0)),
            Mapping::Flash(Psa(99)),
        ] {
            assert_eq!(Mapping::from_raw(m.to_raw(), 100), Some(m));
        }
        assert_eq!(Mapping::from_raw(100, 100), None);
    }
}
