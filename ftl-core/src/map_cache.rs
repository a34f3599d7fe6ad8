//! The demand-paged map: a fixed-capacity cache of map entries over the
//! translation pages on flash.
//!
//! This is DFTL's cached mapping table (Gupta, Kim, Urgaonkar, ASPLOS
//! 2009): entries are cached one by one, loaded from their translation page
//! on a miss, and a dirty entry stays until its translation page is written
//! back with every dirty entry of that page at once (DFTL's batch update).
//! As in TPFTL (Zhou et al., EuroSys 2015) the cached entries of each
//! translation page are linked together, so a write-back finds its entries
//! without a search and the page with the most dirty entries is known.
//!
//! Everything is sized at construction from a byte budget and never grows:
//! a slab of entries (LBA, raw mapping, flags, links within the translation
//! page), an open-addressing index (linear probing, backward-shift
//! deletion) and, per translation page, the head of its entry list and its
//! dirty count. Clean entries are evicted by CLOCK when a slot is needed;
//! dirty and pinned entries never are: the FTL writes dirty translation
//! pages back before the cache runs out of clean entries.

use alloc::vec::Vec;

use crate::addr::Lba;

const NIL: u32 = u32::MAX;

const USED: u8 = 1;
const DIRTY: u8 = 2;
const REFERENCED: u8 = 4;
/// Pins nest: bits 3..=7 count them.
const PIN_ONE: u8 = 8;
const PINNED: u8 = 0xF8;

/// Bytes one cached entry costs: LBA, raw value, flags, two links, and
/// two index slots (the index has twice as many slots as entries).
pub const ENTRY_BYTES: u64 = 8 + 4 + 1 + 4 + 4 + 2 * 4;
/// Bytes each translation page costs the cache: its list head and dirty
/// count.
pub const PAGE_BYTES: u64 = 4 + 4;

/// The cache is full of dirty or pinned entries: write some back first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full;

/// Cached map entries, by LBA.
#[derive(Debug)]
pub struct MapCache {
    entries_per_tp: u64,
    lba: Vec<u64>,
    raw: Vec<u32>,
    flags: Vec<u8>,
    /// Links of the entries of one translation page (`next` also links
    /// the free slots).
    prev: Vec<u32>,
    next: Vec<u32>,
    tp_head: Vec<u32>,
    tp_dirty: Vec<u32>,
    index: Vec<u32>,
    free: u32,
    used: u32,
    dirty: u32,
    pinned: u32,
    hand: u32,
}

impl MapCache {
    /// Entries a budget of `bytes` holds for `pages` translation pages
    /// (0 if the budget does not even cover the per-page arrays).
    pub fn capacity_for(bytes: u64, pages: u32) -> u32 {
        let left = bytes.saturating_sub(u64::from(pages) * PAGE_BYTES);
        (left / ENTRY_BYTES).min(u64::from(u32::MAX / 4)) as u32
    }

    /// A cache of `capacity` entries over `pages` translation pages of
    /// `entries_per_tp` LBAs each; empty.
    pub fn new(capacity: u32, pages: u32, entries_per_tp: u32) -> Self {
        assert!(capacity > 0 && entries_per_tp > 0);
        let slots = 2 * capacity as usize;
        let n = capacity as usize;
        let mut next: Vec<u32> = (1..=capacity).collect();
        next[n - 1] = NIL;
        MapCache {
            entries_per_tp: u64::from(entries_per_tp),
            lba: alloc::vec![0; n],
            raw: alloc::vec![0; n],
            flags: alloc::vec![0; n],
            prev: alloc::vec![NIL; n],
            next,
            tp_head: alloc::vec![NIL; pages as usize],
            tp_dirty: alloc::vec![0; pages as usize],
            index: alloc::vec![NIL; slots],
            free: 0,
            used: 0,
            dirty: 0,
            pinned: 0,
            hand: 0,
        }
    }

    /// Entries the cache holds at most.
    pub fn capacity(&self) -> u32 {
        self.lba.len() as u32
    }

    /// Entries cached now.
    pub fn len(&self) -> u32 {
        self.used
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.used == 0
    }

    /// Dirty entries (changed since their translation page was written).
    pub fn dirty(&self) -> u32 {
        self.dirty
    }

    /// Dirty entries of translation page `t`.
    pub fn dirty_in(&self, t: u32) -> u32 {
        self.tp_dirty[t as usize]
    }

    fn tp_of(&self, lba: u64) -> usize {
        (lba / self.entries_per_tp) as usize
    }

    fn home(&self, lba: u64) -> usize {
        // Fibonacci hashing spreads consecutive LBAs; the high 32 bits are
        // scaled onto the index (Lemire's multiply-shift range reduction).
        let h = lba.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
        ((h * self.index.len() as u64) >> 32) as usize
    }

    fn step(&self, i: usize) -> usize {
        if i + 1 == self.index.len() {
            0
        } else {
            i + 1
        }
    }

    /// The slab slot of `lba`, if cached.
    fn find(&self, lba: u64) -> Option<u32> {
        let mut i = self.home(lba);
        loop {
            match self.index[i] {
                NIL => return None,
                s if self.lba[s as usize] == lba => return Some(s),
                _ => i = self.step(i),
            }
        }
    }

    /// The raw value of `lba`, if cached (marks it recently used).
    pub fn get(&mut self, lba: Lba) -> Option<u32> {
        let s = self.find(lba.0)? as usize;
        self.flags[s] |= REFERENCED;
        Some(self.raw[s])
    }

    /// The raw value of `lba`, if cached, leaving its use mark alone.
    pub fn peek(&self, lba: Lba) -> Option<u32> {
        self.find(lba.0).map(|s| self.raw[s as usize])
    }

    /// Whether `lba`'s entry is dirty (`None`: not cached).
    pub fn is_dirty(&self, lba: Lba) -> Option<bool> {
        self.find(lba.0)
            .map(|s| self.flags[s as usize] & DIRTY != 0)
    }

    /// Caches `lba` as `raw` as its translation page on flash has it
    /// (clean); a cached entry is left as it is. May evict a clean entry.
    pub fn insert_clean(&mut self, lba: Lba, raw: u32) -> Result<(), Full> {
        if self.find(lba.0).is_some() {
            return Ok(());
        }
        self.insert(lba.0, raw, REFERENCED).map(|_| ())
    }

    /// Makes `lba` be `raw`, a change its translation page on flash does
    /// not have yet (dirty). Returns the previous cached value, `None` if it
    /// was not cached (the caller then knows the old value otherwise, or
    /// needs none). May evict a clean entry.
    pub fn set(&mut self, lba: Lba, raw: u32) -> Result<Option<u32>, Full> {
        if let Some(s) = self.find(lba.0) {
            let s = s as usize;
            let old = core::mem::replace(&mut self.raw[s], raw);
            if self.flags[s] & DIRTY == 0 {
                self.flags[s] |= DIRTY;
                self.dirty += 1;
                let t = self.tp_of(lba.0);
                self.tp_dirty[t] += 1;
            }
            self.flags[s] |= REFERENCED;
            return Ok(Some(old));
        }
        self.insert(lba.0, raw, REFERENCED | DIRTY)?;
        self.dirty += 1;
        let t = self.tp_of(lba.0);
        self.tp_dirty[t] += 1;
        Ok(None)
    }

    /// Keeps `lba`'s entry from eviction until as many
    /// [`unpin`](Self::unpin)s (pins nest, up to 31 deep; it must be
    /// cached). Returns whether it was cached.
    pub fn pin(&mut self, lba: Lba) -> bool {
        let Some(s) = self.find(lba.0) else {
            return false;
        };
        let f = &mut self.flags[s as usize];
        assert!(*f & PINNED != PINNED, "map cache pins nest too deep");
        if *f & PINNED == 0 {
            self.pinned += 1;
        }
        *f += PIN_ONE;
        true
    }

    /// Undoes one [`pin`](Self::pin): the entry may be evicted once none
    /// is left.
    pub fn unpin(&mut self, lba: Lba) {
        if let Some(s) = self.find(lba.0) {
            let f = &mut self.flags[s as usize];
            if *f & PINNED != 0 {
                *f -= PIN_ONE;
                if *f & PINNED == 0 {
                    self.pinned -= 1;
                }
            }
        }
    }

    /// Calls `f(lba, raw)` for every cached entry of translation page `t`.
    pub fn for_each_in(&self, t: u32, mut f: impl FnMut(Lba, u32)) {
        let mut s = self.tp_head[t as usize];
        while s != NIL {
            f(Lba(self.lba[s as usize]), self.raw[s as usize]);
            s = self.next[s as usize];
        }
    }

    /// Calls `f(lba, raw, dirty)` for every cached entry.
    pub fn for_each(&self, mut f: impl FnMut(Lba, u32, bool)) {
        for s in 0..self.lba.len() {
            if self.flags[s] & USED != 0 {
                f(Lba(self.lba[s]), self.raw[s], self.flags[s] & DIRTY != 0);
            }
        }
    }

    /// The cached LBA whose raw value is `raw` (a scan: the rare path).
    pub fn find_value(&self, raw: u32) -> Option<Lba> {
        (0..self.lba.len())
            .find(|&s| self.flags[s] & USED != 0 && self.raw[s] == raw)
            .map(|s| Lba(self.lba[s]))
    }

    /// Translation page `t` was written with every cached entry of it:
    /// they are all clean now.
    pub fn written_back(&mut self, t: u32) {
        let mut s = self.tp_head[t as usize];
        while s != NIL {
            let f = &mut self.flags[s as usize];
            if *f & DIRTY != 0 {
                *f &= !DIRTY;
                self.dirty -= 1;
            }
            s = self.next[s as usize];
        }
        self.tp_dirty[t as usize] = 0;
    }

    /// Forgets every cached entry of translation page `t` (its whole
    /// range was trimmed: the page itself now says so). Pinned entries stay,
    /// set to `raw` and dirty.
    pub fn drop_page(&mut self, t: u32, raw: u32) {
        let mut s = self.tp_head[t as usize];
        while s != NIL {
            let next = self.next[s as usize];
            if self.flags[s as usize] & PINNED != 0 {
                let lba = Lba(self.lba[s as usize]);
                let _ = self.set(lba, raw);
            } else {
                self.remove(s);
            }
            s = next;
        }
    }

    /// The translation pages with the most dirty entries, most first, into
    /// `out` (as many as it holds); returns how many.
    pub fn most_dirty(&self, out: &mut [u32]) -> usize {
        let mut n = 0;
        for (t, &d) in self.tp_dirty.iter().enumerate() {
            if d == 0 {
                continue;
            }
            // Insertion into a short sorted list: `out` is small.
            let mut i = n.min(out.len());
            while i > 0 && self.tp_dirty[out[i - 1] as usize] < d {
                if i < out.len() {
                    out[i] = out[i - 1];
                }
                i -= 1;
            }
            if i < out.len() {
                out[i] = t as u32;
                n = (n + 1).min(out.len());
            }
        }
        n
    }

    /// Takes a free slab slot, evicting a clean, unpinned entry (CLOCK) if
    /// none is free, and caches `lba` in it.
    fn insert(&mut self, lba: u64, raw: u32, flags: u8) -> Result<u32, Full> {
        if self.free == NIL {
            let victim = self.clock()?;
            self.remove(victim);
        }
        let s = self.free;
        self.free = self.next[s as usize];
        let t = self.tp_of(lba);
        let si = s as usize;
        self.lba[si] = lba;
        self.raw[si] = raw;
        self.flags[si] = USED | flags;
        let h = self.tp_head[t];
        self.prev[si] = NIL;
        self.next[si] = h;
        if h != NIL {
            self.prev[h as usize] = s;
        }
        self.tp_head[t] = s;
        let mut i = self.home(lba);
        while self.index[i] != NIL {
            i = self.step(i);
        }
        self.index[i] = s;
        self.used += 1;
        Ok(s)
    }

    /// A clean, unpinned entry to evict: CLOCK's second chance.
    fn clock(&mut self) -> Result<u32, Full> {
        if self.dirty >= self.used {
            return Err(Full);
        }
        let n = self.capacity();
        // Two sweeps clear every use mark, so a clean entry is found.
        for _ in 0..2 * n + 1 {
            let s = self.hand;
            self.hand = (self.hand + 1) % n;
            let f = &mut self.flags[s as usize];
            if *f & USED == 0 || *f & (DIRTY | PINNED) != 0 {
                continue;
            }
            if *f & REFERENCED != 0 {
                *f &= !REFERENCED;
                continue;
            }
            return Ok(s);
        }
        Err(Full)
    }

    /// Removes slab slot `s` from the index, its page's list and use.
    fn remove(&mut self, s: u32) {
        let si = s as usize;
        let lba = self.lba[si];
        let t = self.tp_of(lba);
        if self.flags[si] & DIRTY != 0 {
            self.dirty -= 1;
            self.tp_dirty[t] -= 1;
        }
        if self.flags[si] & PINNED != 0 {
            self.pinned -= 1;
        }
        let (p, n) = (self.prev[si], self.next[si]);
        match p {
            NIL => self.tp_head[t] = n,
            p => self.next[p as usize] = n,
        }
        if n != NIL {
            self.prev[n as usize] = p;
        }
        // Backward-shift deletion keeps every probe chain unbroken.
        let mut i = self.home(lba);
        while self.index[i] != s {
            i = self.step(i);
        }
        let mut j = i;
        loop {
            j = self.step(j);
            let o = self.index[j];
            if o == NIL {
                break;
            }
            let h = self.home(self.lba[o as usize]);
            // `o` may move to the hole at `i` if its home is not in (i, j].
            let between = if i <= j {
                i < h && h <= j
            } else {
                i < h || h <= j
            };
            if !between {
                self.index[i] = o;
                i = j;
            }
        }
        self.index[i] = NIL;
        self.flags[si] = 0;
        self.next[si] = self.free;
        self.prev[si] = NIL;
        self.free = s;
        self.used -= 1;
    }

    /// Bytes of RAM the cache holds.
    pub fn ram_bytes(&self) -> usize {
        use crate::ram::vec_bytes;
        vec_bytes(&self.lba)
            + vec_bytes(&self.raw)
            + vec_bytes(&self.flags)
            + vec_bytes(&self.prev)
            + vec_bytes(&self.next)
            + vec_bytes(&self.tp_head)
            + vec_bytes(&self.tp_dirty)
            + vec_bytes(&self.index)
    }

    /// Checks the index, the lists and the counts against each other.
    pub fn check(&self) -> Result<(), &'static str> {
        let mut used = 0;
        let mut dirty = 0;
        let mut pinned = 0;
        let mut per_tp = alloc::vec![0u32; self.tp_head.len()];
        for s in 0..self.capacity() {
            let f = self.flags[s as usize];
            if f & USED == 0 {
                continue;
            }
            used += 1;
            if self.find(self.lba[s as usize]) != Some(s) {
                return Err("map cache entry not found by its index");
            }
            if f & DIRTY != 0 {
                dirty += 1;
                per_tp[self.tp_of(self.lba[s as usize])] += 1;
            }
            if f & PINNED != 0 {
                pinned += 1;
            }
        }
        if used != self.used || dirty != self.dirty || pinned != self.pinned {
            return Err("map cache counts drifted");
        }
        if per_tp != self.tp_dirty {
            return Err("map cache dirty count per translation page drifted");
        }
        let mut listed = 0;
        for (t, &h) in self.tp_head.iter().enumerate() {
            let mut s = h;
            let mut prev = NIL;
            while s != NIL {
                if self.prev[s as usize] != prev || self.tp_of(self.lba[s as usize]) != t {
                    return Err("map cache page list broken");
                }
                listed += 1;
                if listed > self.used {
                    return Err("map cache page list cycles");
                }
                prev = s;
                s = self.next[s as usize];
            }
        }
        if listed != self.used {
            return Err("map cache entry missing from its page list");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeMap;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        Clean(u64, u32),
        Set(u64, u32),
        Get(u64),
        WriteBack(u32),
        Drop(u32),
        Pin(u64),
        Unpin(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        let lba = 0u64..64;
        prop_oneof![
            (lba.clone(), any::<u32>()).prop_map(|(l, v)| Op::Clean(l, v)),
            (lba.clone(), any::<u32>()).prop_map(|(l, v)| Op::Set(l, v)),
            lba.clone().prop_map(Op::Get),
            (0u32..8).prop_map(Op::WriteBack),
            (0u32..8).prop_map(Op::Drop),
            lba.clone().prop_map(Op::Pin),
            lba.prop_map(Op::Unpin),
        ]
    }

    proptest! {
        /// Against a model: what is cached reads back, dirty entries are
        /// never lost to eviction, and the structure stays consistent.
        #[test]
        fn behaves_like_a_map_that_may_forget_clean_entries(
            cap in 1u32..12,
            ops in proptest::collection::vec(op(), 1..200),
        ) {
            let mut c = MapCache::new(cap, 8, 8);
            // The model: lba -> (value, dirty, pinned).
            let mut m: BTreeMap<u64, (u32, bool, u32)> = BTreeMap::new();
            for o in ops {
                match o {
                    Op::Clean(l, v) => {
                        let r = c.insert_clean(Lba(l), v);
                        let cached = m.contains_key(&l);
                        if cached {
                            prop_assert!(r.is_ok());
                        }
                        if !cached && r.is_ok() {
                            m.insert(l, (v, false, 0));
                        } else if !cached {
                            prop_assert!(m.values().all(|e| e.1 || e.2 > 0) && m.len() == cap as usize);
                        }
                    }
                    Op::Set(l, v) => match c.set(Lba(l), v) {
                        Ok(old) => {
                            prop_assert_eq!(old, m.get(&l).map(|e| e.0));
                            let pinned = m.get(&l).map_or(0, |e| e.2);
                            m.insert(l, (v, true, pinned));
                        }
                        Err(Full) => {
                            prop_assert!(!m.contains_key(&l));
                            prop_assert!(m.values().all(|e| e.1 || e.2 > 0) && m.len() == cap as usize);
                        }
                    },
                    Op::Get(l) => {
                        let got = c.get(Lba(l));
                        match m.get(&l) {
                            Some(e) => prop_assert_eq!(got, Some(e.0)),
                            None => prop_assert_eq!(got, None),
                        }
                    }
                    Op::WriteBack(t) => {
                        c.written_back(t);
                        for (_, e) in m.range_mut(u64::from(t) * 8..u64::from(t + 1) * 8) {
                            e.1 = false;
                        }
                    }
                    Op::Drop(t) => {
                        c.drop_page(t, 7);
                        let range: alloc::vec::Vec<u64> =
                            m.range(u64::from(t) * 8..u64::from(t + 1) * 8).map(|(&l, _)| l).collect();
                        for l in range {
                            if m[&l].2 > 0 {
                                let p = m[&l].2;
                                m.insert(l, (7, true, p));
                            } else {
                                m.remove(&l);
                            }
                        }
                    }
                    Op::Pin(l) => {
                        if m.get(&l).is_some_and(|e| e.2 >= 30) {
                            continue;
                        }
                        let was = c.pin(Lba(l));
                        prop_assert_eq!(was, m.contains_key(&l));
                        if let Some(e) = m.get_mut(&l) {
                            e.2 += 1;
                        }
                    }
                    Op::Unpin(l) => {
                        c.unpin(Lba(l));
                        if let Some(e) = m.get_mut(&l) {
                            e.2 = e.2.saturating_sub(1);
                        }
                    }
                }
                // Entries the model has but the cache evicted must be clean
                // and unpinned; drop them from the model.
                let gone: alloc::vec::Vec<u64> =
                    m.keys().copied().filter(|&l| c.peek(Lba(l)).is_none()).collect();
                for l in gone {
                    let e = m.remove(&l).unwrap();
                    prop_assert!(!e.1 && e.2 == 0, "lba {} evicted while dirty or pinned", l);
                }
                prop_assert_eq!(c.len() as usize, m.len());
                prop_assert_eq!(c.dirty() as usize, m.values().filter(|e| e.1).count());
                for t in 0..8u32 {
                    let want = m.range(u64::from(t) * 8..u64::from(t + 1) * 8).filter(|e| e.1 .1).count();
                    prop_assert_eq!(c.dirty_in(t) as usize, want);
                }
                prop_assert_eq!(c.check(), Ok(()));
            }
        }
    }

    #[test]
    fn most_dirty_orders_pages() {
        let mut c = MapCache::new(32, 4, 8);
        for l in [0, 1, 8, 16, 17, 18, 24] {
            c.set(Lba(l), 1).unwrap();
        }
        let mut out = [0u32; 2];
        assert_eq!(c.most_dirty(&mut out), 2);
        assert_eq!(out, [2, 0]);
        let mut all = [0u32; 8];
        assert_eq!(c.most_dirty(&mut all), 4);
        assert_eq!(&all[..2], &[2, 0]);
    }

    #[test]
    fn budget_sizes_the_cache() {
        assert_eq!(MapCache::capacity_for(8 * 10, 10), 0);
        let cap = MapCache::capacity_for(1 << 20, 16);
        let c = MapCache::new(cap, 16, 4090);
        assert!(c.ram_bytes() <= 1 << 20, "{} bytes", c.ram_bytes());
        assert!(cap > 20_000);
    }
}
