//! Where each slice of the map lives on flash, and which slices changed.
//!
//! The map is persisted as translation pages (`format::translation`), each
//! covering `entries` consecutive LBAs. [`TranslationTable`] keeps, per
//! translation page: its newest copy on flash, the copy the last complete
//! checkpoint names (both must survive until the next checkpoint), and —
//! if the map changed since the page was last written — the sequence number
//! of the first such change. Dirty pages form a list in the order they
//! turned dirty, so the oldest change is at its head: that is the
//! *horizon*, from where recovery must replay. Writing back the oldest
//! pages first moves the horizon, and a checkpoint costs only the pages
//! written back (plus the directory), not the map.

use alloc::vec::Vec;

use crate::addr::Lba;

/// Directory value of a translation page never written.
pub const NO_PAGE: u32 = crate::format::checkpoint::NO_PAGE;
const NIL: u32 = u32::MAX;

/// Per translation page: where it is on flash and whether it is dirty.
#[derive(Debug)]
pub struct TranslationTable {
    entries: u32,
    /// Newest copy on flash (page address), or [`NO_PAGE`].
    loc: Vec<u32>,
    /// The copy the last complete checkpoint's directory names.
    root: Vec<u32>,
    /// Sequence number of the first change not yet written back; 0 = clean.
    since: Vec<u64>,
    /// The dirty list, oldest change first.
    prev: Vec<u32>,
    next: Vec<u32>,
    head: u32,
    tail: u32,
    dirty: u32,
}

impl TranslationTable {
    /// A table for `logical` LBAs in pages of `entries` entries; all clean
    /// and never written (an empty map).
    pub fn new(logical: u64, entries: u32) -> Self {
        assert!(entries > 0);
        let n = logical.div_ceil(u64::from(entries)) as usize;
        TranslationTable {
            entries,
            loc: alloc::vec![NO_PAGE; n],
            root: alloc::vec![NO_PAGE; n],
            since: alloc::vec![0; n],
            prev: alloc::vec![NIL; n],
            next: alloc::vec![NIL; n],
            head: NIL,
            tail: NIL,
            dirty: 0,
        }
    }

    /// Translation pages.
    pub fn len(&self) -> u32 {
        self.loc.len() as u32
    }

    /// Whether the table covers no LBA.
    pub fn is_empty(&self) -> bool {
        self.loc.is_empty()
    }

    /// Entries per translation page.
    pub fn entries(&self) -> u32 {
        self.entries
    }

    /// The translation page covering `lba`.
    pub fn page_of(&self, lba: Lba) -> u32 {
        (lba.0 / u64::from(self.entries)) as u32
    }

    /// First LBA of translation page `t`.
    pub fn first_lba(&self, t: u32) -> Lba {
        Lba(u64::from(t) * u64::from(self.entries))
    }

    /// The map changed in `t` by an event at sequence `seq`.
    pub fn touch(&mut self, t: u32, seq: u64) {
        let i = t as usize;
        if self.since[i] != 0 {
            return;
        }
        self.since[i] = seq.max(1);
        self.prev[i] = self.tail;
        self.next[i] = NIL;
        match self.tail {
            NIL => self.head = t,
            last => self.next[last as usize] = t,
        }
        self.tail = t;
        self.dirty += 1;
    }

    /// Whether `t` changed since it was last written.
    pub fn is_dirty(&self, t: u32) -> bool {
        self.since[t as usize] != 0
    }

    /// Dirty translation pages.
    pub fn dirty(&self) -> u32 {
        self.dirty
    }

    /// The dirty page with the oldest change, and that change's sequence.
    pub fn oldest(&self) -> Option<(u32, u64)> {
        (self.head != NIL).then(|| (self.head, self.since[self.head as usize]))
    }

    /// Where replay must start if the checkpoint were taken now, the newest
    /// sequence number being `now`: the oldest unwritten change, or after
    /// `now`.
    pub fn horizon(&self, now: u64) -> u64 {
        self.oldest().map_or(now + 1, |(_, s)| s)
    }

    /// `t` was written to flash at page address `at`; returns the address
    /// of the copy it replaces.
    pub fn written(&mut self, t: u32, at: u32) -> u32 {
        let i = t as usize;
        if self.since[i] != 0 {
            let (p, n) = (self.prev[i], self.next[i]);
            match p {
                NIL => self.head = n,
                p => self.next[p as usize] = n,
            }
            match n {
                NIL => self.tail = p,
                n => self.prev[n as usize] = p,
            }
            self.since[i] = 0;
            self.dirty -= 1;
        }
        core::mem::replace(&mut self.loc[i], at)
    }

    /// Newest copy of `t` on flash.
    pub fn loc(&self, t: u32) -> u32 {
        self.loc[t as usize]
    }

    /// The copy of `t` the last complete checkpoint names.
    pub fn root(&self, t: u32) -> u32 {
        self.root[t as usize]
    }

    /// A checkpoint naming every newest copy is complete: for each page
    /// whose named copy changes, `moved(old, new)`.
    pub fn checkpointed(&mut self, mut moved: impl FnMut(u32, u32)) {
        for (r, &l) in self.root.iter_mut().zip(&self.loc) {
            if *r != l {
                moved(*r, l);
                *r = l;
            }
        }
    }

    /// Mount: `t`'s copy, as the checkpoint names it.
    pub fn restore(&mut self, t: u32, at: u32) {
        self.loc[t as usize] = at;
        self.root[t as usize] = at;
    }

    /// Mount: the last checkpoint names copy `at` of `t`, older than the
    /// copy [`restore`](Self::restore)d as its newest.
    pub fn restore_root(&mut self, t: u32, at: u32) {
        self.root[t as usize] = at;
    }

    /// Bytes of RAM the table holds.
    pub fn ram_bytes(&self) -> usize {
        use crate::ram::vec_bytes;
        vec_bytes(&self.loc)
            + vec_bytes(&self.root)
            + vec_bytes(&self.since)
            + vec_bytes(&self.prev)
            + vec_bytes(&self.next)
    }

    /// Checks the dirty list against the per-page marks.
    pub fn check(&self) -> Result<(), &'static str> {
        let mut n = 0;
        let mut at = self.head;
        let mut last = 0;
        while at != NIL {
            let s = self.since[at as usize];
            if s == 0 || s < last {
                return Err("dirty list out of order");
            }
            last = s;
            n += 1;
            if n > self.dirty {
                return Err("dirty list longer than its count");
            }
            at = self.next[at as usize];
        }
        let marked = self.since.iter().filter(|&&s| s != 0).count() as u32;
        if n != self.dirty || marked != n {
            return Err("dirty count drifted");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dirty_list_keeps_oldest_first() {
        let mut t = TranslationTable::new(100, 10);
        assert_eq!(t.len(), 10);
        assert_eq!(t.page_of(Lba(37)), 3);
        assert_eq!(t.horizon(50), 51);
        t.touch(3, 5);
        t.touch(7, 6);
        t.touch(3, 9); // already dirty: its first change stays
        t.touch(1, 8);
        assert_eq!(t.oldest(), Some((3, 5)));
        assert_eq!(t.written(7, 40), NO_PAGE);
        assert_eq!(t.oldest(), Some((3, 5)));
        assert_eq!(t.written(3, 41), NO_PAGE);
        assert_eq!(t.horizon(50), 8);
        t.check().unwrap();
        assert_eq!(t.written(3, 42), 41);
        assert_eq!(t.written(1, 43), NO_PAGE);
        assert_eq!(t.oldest(), None);
        assert_eq!(t.dirty(), 0);
        let mut moved = alloc::vec::Vec::new();
        t.checkpointed(|a, b| moved.push((a, b)));
        assert_eq!(moved.len(), 3);
        assert_eq!(t.root(3), 42);
        t.check().unwrap();
    }
}
