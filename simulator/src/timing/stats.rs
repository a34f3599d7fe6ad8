//! [`TimingStats`]: what a [`Timeline`](super::Timeline) did — operation
//! counts, bytes moved, and how long each channel and plane was busy.

use serde::Serialize;

/// Counters of a [`Timeline`](super::Timeline). Busy times are exact sums
/// of the booked intervals, which never overlap on one resource, so a busy
/// time divided by the elapsed simulated time is a utilisation in 0..=1.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TimingStats {
    /// Read commands, single- and multi-plane.
    pub reads: u64,
    /// Read commands that named two or more planes.
    pub multi_plane_reads: u64,
    /// Pages sensed (a multi-plane read of n planes counts n).
    pub pages_read: u64,
    /// Program commands, single- and multi-plane.
    pub programs: u64,
    /// Program commands that named two or more planes.
    pub multi_plane_programs: u64,
    /// Pages programmed.
    pub pages_programmed: u64,
    /// Erase commands, single- and multi-plane.
    pub erases: u64,
    /// Erase commands that named two or more planes.
    pub multi_plane_erases: u64,
    /// Blocks erased.
    pub blocks_erased: u64,
    /// Bytes moved from the controller to the NAND (program data + spare).
    pub bytes_to_nand: u64,
    /// Bytes moved from the NAND to the controller (read data).
    pub bytes_from_nand: u64,
    /// Per channel: ns the channel carried commands or data.
    pub channel_busy_ns: Vec<u64>,
    /// Per plane, flat index `(channel · dies_per_channel + die) ·
    /// planes_per_die + plane`: ns the plane's array was held (see the
    /// module docs of `timing` for what holds it).
    pub plane_busy_ns: Vec<u64>,
    /// Planes in each die, to group `plane_busy_ns` by die.
    pub planes_per_die: u16,
    /// The latest completion time of any operation so far, in ns.
    pub last_done_ns: u64,
}

impl TimingStats {
    /// Busy time of one die, flat index `channel · dies_per_channel + die`:
    /// the mean of its planes' busy times. Programs and erases hold every
    /// plane of a die, so for them this is exactly the die's busy time;
    /// independent plane reads count in proportion to the planes they hold.
    /// `None` for a die outside the array.
    pub fn die_busy_ns(&self, die: usize) -> Option<u64> {
        let n = usize::from(self.planes_per_die.max(1));
        let planes = self.plane_busy_ns.get(die * n..(die + 1) * n)?;
        Some(planes.iter().sum::<u64>() / n as u64)
    }

    /// Fraction of `elapsed_ns` that `busy_ns` covers (0 when nothing has
    /// elapsed). Use with [`last_done_ns`](Self::last_done_ns) as the
    /// elapsed time for a run that started at 0.
    pub fn utilisation(busy_ns: u64, elapsed_ns: u64) -> f64 {
        if elapsed_ns == 0 {
            0.0
        } else {
            busy_ns as f64 / elapsed_ns as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn die_busy_is_the_mean_of_its_planes() {
        let s = TimingStats {
            plane_busy_ns: vec![10, 30, 100, 100],
            planes_per_die: 2,
            ..TimingStats::default()
        };
        assert_eq!(s.die_busy_ns(0), Some(20));
        assert_eq!(s.die_busy_ns(1), Some(100));
        assert_eq!(s.die_busy_ns(2), None);
        assert_eq!(TimingStats::utilisation(5, 10), 0.5);
        assert_eq!(TimingStats::utilisation(5, 0), 0.0);
    }
}
