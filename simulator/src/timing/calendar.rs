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
//! First-fit still wastes the gaps shorter than every transfer that comes
//! after them: bookings are never moved, and a later transfer cannot
//! start before the data it carries is ready. [`Calendar::book_pausable`]
//! lets a transfer start in such a gap and finish after it, in two
//! pieces (a read's paused data out, see the module docs of `timing`).
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

    /// Books a transfer of `head` ns (its command) and then `data` ns,
    /// paused at most once. Booked whole it goes first-fit, as [`book`]
    /// does; but if a gap too short for it comes first, the transfer may
    /// start there instead, filling that gap with `head` and at least
    /// `min_data` of its data, and resume after the gap with `resume` ns
    /// of command and the rest, booked first-fit. It is split only if that
    /// ends sooner than booking it whole. Returns the pieces in time
    /// order; the second is `None` when it went in one.
    ///
    /// [`book`]: Calendar::book
    pub(crate) fn book_pausable(
        &mut self,
        earliest: u64,
        (head, data): (u64, u64),
        resume: u64,
        min_data: u64,
    ) -> ((u64, u64), Option<(u64, u64)>) {
        let whole = head.saturating_add(data);
        let (start, at) = self.first_fit(earliest, whole);
        let end = start.saturating_add(whole);
        let need = head.saturating_add(min_data.max(1));
        if let Some((g0, g1)) = self.short_gap(earliest, start, need) {
            // The gap ends at a booking before `start`: shorter than the
            // whole transfer, so it carries only part of the data.
            let rest = resume.saturating_add(data - (g1 - g0 - head));
            let (s2, _) = self.first_fit(g1, rest);
            let e2 = s2.saturating_add(rest);
            if e2 < end {
                for (s, e) in [(g0, g1), (s2, e2)] {
                    let at = self.busy.partition_point(|&(b, _)| b < s);
                    self.insert(at, s, e);
                }
                return ((g0, g1), Some((s2, e2)));
            }
        }
        if whole > 0 {
            self.insert(at, start, end);
        }
        ((start, end), None)
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

    /// The first free gap at or after `earliest` that is at least `need`
    /// long and ends at a booking starting by `before`.
    fn short_gap(&self, earliest: u64, before: u64, need: u64) -> Option<(u64, u64)> {
        let mut free = earliest;
        let mut i = self.busy.partition_point(|&(s, _)| s <= free);
        if let Some(&(_, end)) = i.checked_sub(1).and_then(|j| self.busy.get(j)) {
            free = free.max(end);
        }
        while let Some(&(s, e)) = self.busy.get(i) {
            if s > before {
                return None;
            }
            if s.saturating_sub(free) >= need {
                return Some((free, s));
            }
            free = e;
            i += 1;
        }
        None
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
    fn a_pausable_transfer_starts_in_a_short_gap_and_resumes_later() {
        let booked = || {
            let mut c = Calendar::default();
            c.book(100, 50); // [100, 150)
            c.book(200, 100); // [200, 300)
            c
        };
        // 10 of command and 80 of data: whole, only after 300. Paused, 30
        // of it fill [60, 100) and the rest (10 + 50) is too long for
        // [150, 200): it goes at 300 and ends sooner than the whole would.
        let mut c = booked();
        assert_eq!(
            c.book_pausable(60, (10, 80), 10, 5),
            ((60, 100), Some((300, 360)))
        );
        assert_eq!(c.intervals(), vec![(60, 150), (200, 360)]);
        // It fits whole in the first gap: no pause.
        let mut c = booked();
        assert_eq!(c.book_pausable(60, (10, 30), 10, 5), ((60, 100), None));
        // A resume that costs as much as the pause saves: booked whole.
        let mut c = booked();
        assert_eq!(c.book_pausable(60, (10, 80), 40, 5), ((300, 390), None));
        assert_eq!(c.intervals(), vec![(100, 150), (200, 390)]);
        // A gap that carries less than `min_data` after the command is
        // passed over for the next one.
        let mut c = booked();
        assert_eq!(
            c.book_pausable(60, (10, 80), 10, 35),
            ((150, 200), Some((300, 350)))
        );
        // Nothing to split: a command alone, or nothing at all.
        let mut c = booked();
        assert_eq!(c.book_pausable(60, (60, 0), 10, 0), ((300, 360), None));
        assert_eq!(c.book_pausable(60, (0, 0), 10, 0), ((60, 60), None));
        assert_eq!(c.intervals(), vec![(100, 150), (200, 360)]);
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
