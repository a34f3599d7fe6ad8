//! [`SectorSpan`]: a request in bytes (or in a trace's 512-byte sectors)
//! seen in the FTL's sectors — which sectors it touches, and how much of
//! the first and last it covers only in part, so the caller can count (and
//! do) the read-modify-writes.
//!
//! ```text
//!   FTL sectors:  |   first   |  full     |  full     |   last    |
//!   request:            [#####|###########|###########|###]
//!                        head_partial_bytes             tail_partial_bytes
//! ```

use super::TRACE_SECTOR_BYTES;

/// The FTL sectors a byte range touches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SectorSpan {
    /// The first FTL sector touched.
    pub first: u64,
    /// How many FTL sectors are touched (0 for an empty range).
    pub count: u64,
    /// The bytes the range covers in its first sector when it covers that
    /// sector only in part; 0 when it covers it whole. A range inside one
    /// sector is all head.
    pub head_partial_bytes: u64,
    /// The bytes the range covers in its last sector when that is not the
    /// first and is covered only in part; otherwise 0.
    pub tail_partial_bytes: u64,
}

impl SectorSpan {
    /// The span of `len_bytes` at `offset_bytes` in sectors of
    /// `sector_bytes`; `None` if `sector_bytes` is 0 or the range's end
    /// overflows `u64`.
    pub fn of(offset_bytes: u64, len_bytes: u64, sector_bytes: u64) -> Option<Self> {
        if sector_bytes == 0 {
            return None;
        }
        let end = offset_bytes.checked_add(len_bytes)?;
        let first = offset_bytes / sector_bytes;
        if len_bytes == 0 {
            return Some(SectorSpan {
                first,
                count: 0,
                head_partial_bytes: 0,
                tail_partial_bytes: 0,
            });
        }
        // One past the last sector touched, without `end + s - 1` overflowing.
        let end_sector = end / sector_bytes + u64::from(end % sector_bytes != 0);
        let count = end_sector - first;
        let (head, tail) = if count == 1 {
            (
                if len_bytes == sector_bytes {
                    0
                } else {
                    len_bytes
                },
                0,
            )
        } else {
            let into_first = offset_bytes % sector_bytes;
            let head = if into_first == 0 {
                0
            } else {
                sector_bytes - into_first
            };
            (head, end % sector_bytes)
        };
        Some(SectorSpan {
            first,
            count,
            head_partial_bytes: head,
            tail_partial_bytes: tail,
        })
    }

    /// The span of a trace's request, `count_512` sectors of 512 bytes at
    /// sector `lba_512`; `None` if `sector_bytes` is 0 or the bytes
    /// overflow `u64`.
    pub fn of_trace_sectors(lba_512: u64, count_512: u64, sector_bytes: u64) -> Option<Self> {
        let offset = lba_512.checked_mul(TRACE_SECTOR_BYTES)?;
        let len = count_512.checked_mul(TRACE_SECTOR_BYTES)?;
        Self::of(offset, len, sector_bytes)
    }

    /// How many sectors are covered only in part (0, 1 or 2): the
    /// read-modify-writes a write of this range costs.
    pub fn partial_sectors(&self) -> u64 {
        u64::from(self.head_partial_bytes != 0) + u64::from(self.tail_partial_bytes != 0)
    }

    /// How many sectors are covered whole.
    pub fn full_sectors(&self) -> u64 {
        self.count - self.partial_sectors()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(o: u64, l: u64) -> (u64, u64, u64, u64) {
        let s = SectorSpan::of(o, l, 4096).unwrap();
        (s.first, s.count, s.head_partial_bytes, s.tail_partial_bytes)
    }

    #[test]
    fn aligned_and_unaligned_ranges() {
        assert_eq!(span(0, 4096), (0, 1, 0, 0));
        assert_eq!(span(8192, 3 * 4096), (2, 3, 0, 0));
        // 512 bytes inside a sector: one partial sector, all head.
        assert_eq!(span(512, 512), (0, 1, 512, 0));
        assert_eq!(span(0, 512), (0, 1, 512, 0));
        assert_eq!(span(3584, 512), (0, 1, 512, 0));
        // Crossing one boundary: partial head and tail.
        assert_eq!(span(3584, 1024), (0, 2, 512, 512));
        // Unaligned start, aligned end; and the reverse.
        assert_eq!(span(512, 7680), (0, 2, 3584, 0));
        assert_eq!(span(4096, 4608), (1, 2, 0, 512));
        // Partial at both ends around full sectors.
        let s = SectorSpan::of(1024, 3 * 4096, 4096).unwrap();
        assert_eq!((s.count, s.partial_sectors(), s.full_sectors()), (4, 2, 2));
        assert_eq!(s.head_partial_bytes + s.tail_partial_bytes, 4096);
    }

    #[test]
    fn the_bytes_always_add_up() {
        for sector in [512u64, 4096, 16384, 3000] {
            for o in [0u64, 1, 511, 512, 4095, 4096, 12345] {
                for l in [1u64, 511, 512, 4096, 4097, 40000] {
                    let s = SectorSpan::of(o, l, sector).unwrap();
                    let covered =
                        s.full_sectors() * sector + s.head_partial_bytes + s.tail_partial_bytes;
                    assert_eq!(covered, l, "o {o} l {l} sector {sector}: {s:?}");
                    assert!(s.first * sector <= o);
                    assert!((s.first + s.count) * sector >= o + l);
                }
            }
        }
    }

    #[test]
    fn edges() {
        assert_eq!(span(5000, 0), (1, 0, 0, 0));
        assert!(SectorSpan::of(0, 1, 0).is_none());
        assert!(SectorSpan::of(u64::MAX, 1, 4096).is_none());
        // The very top of the address space: no overflow rounding up.
        let s = SectorSpan::of(u64::MAX - 10, 10, 4096).unwrap();
        assert_eq!((s.first, s.count), (u64::MAX / 4096, 1));
        let s = SectorSpan::of(0, u64::MAX, 4096).unwrap();
        assert_eq!(s.count, u64::MAX / 4096 + 1);
        assert_eq!(s.tail_partial_bytes, u64::MAX % 4096);
        // Trace units.
        assert_eq!(
            SectorSpan::of_trace_sectors(1, 8, 4096).unwrap(),
            SectorSpan::of(512, 4096, 4096).unwrap()
        );
        assert!(SectorSpan::of_trace_sectors(u64::MAX / 256, 1, 4096).is_none());
        assert!(SectorSpan::of_trace_sectors(0, u64::MAX / 256, 4096).is_none());
    }
}
