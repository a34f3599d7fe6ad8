//! [`Calendar`]: the reserved intervals of one channel, booked
//! earliest-fit.
//!
//! A channel cannot be a single busy-until clock: a read books its data-out
//! tR (75 µs) after its command, and with one clock every other die's
//! command on the channel would wait behind that future transfer, so the
//! dies of a channel could never sense in parallel. The calendar instead
//! keeps the booked intervals and puts each new one in the first gap long
//! enough for it, as NVMeVirt's channel model books bandwidth in time
//! slots rather than behind one clock.
//!
//! Intervals are half-open `[start, end)`, disjoint, and merged when they
//! touch. Those ending at or before the timeline's present are dropped
//! ([`Calendar::forget_before`]): nothing can be booked in the past.

use std::collections::VecDeque;

/// Booked intervals of one resource, `(start, end)` in order. A sorted
/// deque, not a tree: a channel holds a few dozen future intervals, most
/// bookings land at the end and the past leaves at the front.
#[derive(Clone, Debug, Default)]
pub(crate) struct Calendar {
    busy: VecDeque<(u64, u64)>,
}

impl Calendar {
    /// Books `len` ns at the earliest time ≥ `earliest` the resource is
    /// free for that long; returns the start. A zero-length booking takes
    /// no time and is not recorded.
    pub(crate) fn book(&mut self, earliest: u64, len: u64) -> u64 {
        let (start, at) = self.first_fit(earliest, len);
        if len > 0 {
            self.insert(at, start, start.saturating_add(len));
        }
        start
    }

    /// Drops the intervals that end at or before `now_ns`.
    pub(crate) fn forget_before(&mut self, now_ns: u64) {
        // Disjoint and sorted by start, so sorted by end too.
        while let Some(&(_, end)) = self.busy.front() {
            if end > now_ns {
                break;
            }
            self.busy.pop_front();
        }
    }

    /// Intervals still held (booked and not forgotten).
    #[cfg(test)]
    pub(crate) fn intervals(&self) -> Vec<(u64, u64)> {
        self.busy.iter().copied().collect()
    }

    /// The earliest fit and the index of the first interval starting after
    /// it (where it goes).
    fn first_fit(&self, earliest: u64, len: u64) -> (u64, usize) {
        let mut start = earliest;
        // The first interval starting after `earliest`; the one before it
        // may still cover it.
        let mut i = self.busy.partition_point(|&(s, _)| s <= start);
        if let Some(&(_, end)) = i.checked_sub(1).and_then(|j| self.busy.get(j)) {
            start = start.max(end);
        }
        while let Some(&(s, e)) = self.busy.get(i) {
            // A zero-length booking needs one free instant.
            if s >= start.saturating_add(len.max(1)) {
                break;
            }
            start = start.max(e);
            i += 1;
        }
        (start, i)
    }

    /// Inserts `[start, end)` before index `at` (every interval before it
    /// ends by `start`, every one from it starts at `end` or later),
    /// merging with a neighbour it touches.
    fn insert(&mut self, at: usize, mut start: u64, mut end: u64) {
        let mut at = at;
        // Merge with a neighbour that ends exactly at `start` …
        if let Some(&(s, e)) = at.checked_sub(1).and_then(|j| self.busy.get(j)) {
            debug_assert!(e <= start, "booked over [{s}, {e})");
            if e == start {
                self.busy.remove(at - 1);
                at -= 1;
                start = s;
            }
        }
        // … and with one that starts exactly at `end`.
        if let Some(&(s, e)) = self.busy.get(at) {
            debug_assert!(s >= end, "booked over [{s}, {e})");
            if s == end {
                self.busy.remove(at);
                end = e;
            }
        }
        self.busy.insert(at, (start, end));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn books_the_first_gap_that_fits() {
        let mut c = Calendar::default();
        assert_eq!(c.book(100, 50), 100); // [100, 150)
        assert_eq!(c.book(300, 50), 300); // [300, 350)
        assert_eq!(c.book(0, 100), 0); // fits before 100 exactly
        assert_eq!(c.book(120, 100), 150); // [150, 250) fits in the gap
        assert_eq!(c.book(120, 100), 350); // the 50-ns gap is too small
        assert_eq!(c.intervals(), vec![(0, 250), (300, 450)]);
    }

    #[test]
    fn zero_length_takes_the_first_free_instant() {
        let mut c = Calendar::default();
        c.book(10, 10);
        assert_eq!(c.book(12, 0), 20);
        assert_eq!(c.book(5, 0), 5);
        assert_eq!(c.intervals(), vec![(10, 20)]);
    }

    #[test]
    fn forgets_only_the_past() {
        let mut c = Calendar::default();
        c.book(0, 10);
        c.book(20, 10);
        c.book(40, 10);
        c.forget_before(30);
        assert_eq!(c.intervals(), vec![(40, 50)]);
        c.forget_before(49);
        assert_eq!(c.intervals(), vec![(40, 50)]);
    }
}
