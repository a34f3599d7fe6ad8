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
