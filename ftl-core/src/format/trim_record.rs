//! A trim record: one meta page listing trimmed LBA ranges.
//!
//! After the [`MetaHeader::Trim`] header, `ranges` pairs, little-endian:
//!
//! ```text
//!  offset       size  field
//!  24 + 8·i     4     first LBA of range i
//!  28 + 8·i     4     sectors in range i
//! ```
//!
//! Its sequence number (in the spare area) orders it among data pages:
//! every page before it was written before the trims, every page after it
//! after them.

use super::le;
use super::meta_page::{MetaHeader, HEADER_LEN, TRIM_RANGE_LEN};

/// Ranges one trim record of a `page_size`-byte page holds.
pub fn capacity(page_size: usize) -> usize {
    (page_size - HEADER_LEN) / TRIM_RANGE_LEN
}

/// Writes a whole trim record page (header, ranges, zero padding).
pub fn encode(page: &mut [u8], ranges: &[(u32, u32)]) {
    assert!(
        ranges.len() <= capacity(page.len()),
        "trim record overfilled"
    );
    page.fill(0);
    MetaHeader::Trim {
        ranges: ranges.len() as u32,
    }
    .encode(page);
    for (i, &(lba, n)) in ranges.iter().enumerate() {
        let o = HEADER_LEN + TRIM_RANGE_LEN * i;
        le::put_u32(page, o, lba);
        le::put_u32(page, o + 4, n);
    }
}

/// The ranges of a trim record page; `None` if it is not one.
pub fn decode(page: &[u8]) -> Option<impl Iterator<Item = (u32, u32)> + '_> {
    let Some(MetaHeader::Trim { ranges }) = MetaHeader::decode(page) else {
        return None;
    };
    Some((0..ranges as usize).filter_map(move |i| {
        let o = HEADER_LEN + TRIM_RANGE_LEN * i;
        Some((le::u32_at(page, o)?, le::u32_at(page, o + 4)?))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_record_round_trips(ranges in proptest::collection::vec(any::<(u32, u32)>(), 0..=capacity(256))) {
            let mut page = [0xAAu8; 256];
            encode(&mut page, &ranges);
            let back: Vec<_> = decode(&page).unwrap().collect();
            prop_assert_eq!(back, ranges);
        }

        #[test]
        fn any_bytes_decode_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Some(it) = decode(&bytes) {
                it.for_each(drop);
            }
        }
    }
}
