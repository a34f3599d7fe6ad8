//! The read mapping table: LBA → the slot holding that LBA's newest data.
//!
//! The patent keeps one entry per logical block, "invalid" until cached.
//! zcftl's logical space is the whole device, so a dense table would cost as
//! much RAM as the L2P again; instead this is an open-addressing hash table
//! sized from the slot count (at most one mapping per slot), with linear
//! probing and backward-shift deletion. Fixed capacity: it never allocates
//! after construction.

use alloc::vec::Vec;
use core::num::NonZeroU32;

use crate::addr::{Lba, SlotId};

/// A table key: the LBA plus one, so an empty bucket is `None` and needs no
/// marker value (the geometry keeps LBAs below 2³² − 2).
type Key = NonZeroU32;

fn key(lba: Lba) -> Key {
    u32::try_from(lba.0 + 1)
        .ok()
        .and_then(NonZeroU32::new)
        .expect("read map: LBA beyond 2^32 - 2")
}

/// A bucket: a key and its slot side by side, so a probe touches one
/// cache line.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    key: Option<Key>,
    slot: SlotId,
}

/// LBA → slot, for cached LBAs only.
#[derive(Debug)]
pub struct ReadMap {
    buckets: Vec<Bucket>,
    mask: usize,
    len: usize,
}

impl ReadMap {
    /// Bytes of RAM held.
    pub fn ram_bytes(&self) -> usize {
        crate::ram::vec_bytes(&self.buckets)
    }

    /// A table able to hold `slots` mappings at a load factor ≤ 1/2.
    pub fn new(slots: u32) -> Self {
        let cap = (slots as usize * 2).next_power_of_two().max(8);
        let empty = Bucket {
            key: None,
            slot: SlotId(0),
        };
        ReadMap {
            buckets: alloc::vec![empty; cap],
            mask: cap - 1,
            len: 0,
        }
    }

    /// Number of cached LBAs.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn home(&self, key: Key) -> usize {
        // Fibonacci hashing: spreads sequential LBAs over the table.
        (u64::from(key.get()).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize & self.mask
    }

    fn find(&self, key: Key) -> Option<usize> {
        let mut i = self.home(key);
        loop {
            match self.buckets[i].key {
                None => return None,
                Some(k) if k == key => return Some(i),
                _ => i = (i + 1) & self.mask,
            }
        }
    }

    /// The slot caching `lba`, if any.
    pub fn get(&self, lba: Lba) -> Option<SlotId> {
        self.find(key(lba)).map(|i| self.buckets[i].slot)
    }

    /// Points `lba` at `slot`; returns the slot it pointed at before.
    pub fn insert(&mut self, lba: Lba, slot: SlotId) -> Option<SlotId> {
        let key = key(lba);
        let mut i = self.home(key);
        loop {
            let b = &mut self.buckets[i];
            match b.key {
                None => {
                    assert!(self.len < self.mask, "read map over capacity");
                    *b = Bucket {
                        key: Some(key),
                        slot,
                    };
                    self.len += 1;
                    return None;
                }
                Some(k) if k == key => return Some(core::mem::replace(&mut b.slot, slot)),
                _ => i = (i + 1) & self.mask,
            }
        }
    }

    /// Forgets `lba`; returns the slot it pointed at.
    pub fn remove(&mut self, lba: Lba) -> Option<SlotId> {
        let at = self.find(key(lba))?;
        Some(self.remove_at(at))
    }

    /// Empties bucket `hole`; returns the slot it held.
    fn remove_at(&mut self, mut hole: usize) -> SlotId {
        let out = self.buckets[hole].slot;
        self.len -= 1;
        // Backward-shift: pull later members of the probe run into the hole
        // so lookups never stop early at it.
        let mut j = hole;
        loop {
            j = (j + 1) & self.mask;
            let Some(k) = self.buckets[j].key else {
                break;
            };
            let home = self.home(k);
            // Move k if its home is not cyclically within (hole, j].
            let dist_j = j.wrapping_sub(home) & self.mask;
            let dist_hole = hole.wrapping_sub(home) & self.mask;
            if dist_hole < dist_j {
                self.buckets[hole] = self.buckets[j];
                hole = j;
            }
        }
        self.buckets[hole].key = None;
        out
    }

    /// Forgets `lba` only if it still points at `slot` (the patent's tag
    /// compare on delete): an entry evicted from the cache must not drop a
    /// newer mapping.
    pub fn remove_if(&mut self, lba: Lba, slot: SlotId) -> bool {
        match self.find(key(lba)) {
            Some(at) if self.buckets[at].slot == slot => {
                self.remove_at(at);
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn basic() {
        let mut m = ReadMap::new(4);
        assert_eq!(m.insert(Lba(3), SlotId(1)), None);
        assert_eq!(m.insert(Lba(3), SlotId(2)), Some(SlotId(1)));
        assert!(!m.remove_if(Lba(3), SlotId(1)));
        assert_eq!(m.get(Lba(3)), Some(SlotId(2)));
        assert!(m.remove_if(Lba(3), SlotId(2)));
        assert!(m.is_empty());
    }

    proptest! {
        // The hash table against a BTreeMap, with keys drawn from a small
        // range so probe runs collide and wrap.
        #[test]
        fn matches_btreemap(ops in proptest::collection::vec((0u8..3, 0u32..40, 0u32..100), 1..400)) {
            let mut m = ReadMap::new(16);
            let mut model = BTreeMap::new();
            for (op, k, v) in ops {
                match op {
                    0 if model.len() < 16 || model.contains_key(&k) => {
                        prop_assert_eq!(m.insert(Lba(k.into()), SlotId(v)), model.insert(k, SlotId(v)));
                    }
                    1 => prop_assert_eq!(m.remove(Lba(k.into())), model.remove(&k)),
                    _ => prop_assert_eq!(m.get(Lba(k.into())), model.get(&k).copied()),
                }
                prop_assert_eq!(m.len(), model.len());
            }
            for k in 0..40u32 {
                prop_assert_eq!(m.get(Lba(k.into())), model.get(&k).copied());
            }
        }
    }
}
