//! A translation page: one slice of the map, `entries` consecutive LBAs
//! starting at `tp · entries_per_page`, as the map's persisted entries
//! (`Mapping::to_raw`, one `u32` each, little-endian) after the
//! [`MetaHeader::Translation`] header:
//!
//! ```text
//!  offset     size  field
//!  24 + 4·i   4     entry of LBA tp · E + i
//! ```
//!
//! The page's sequence number (spare area) says how new the slice is: it
//! reflects every data page and trim with a lower sequence number.

use super::le;
use super::meta_page::{MetaHeader, HEADER_LEN};

/// Most entries one translation page of `page_size` bytes holds.
pub fn capacity(page_size: usize) -> usize {
    (page_size - HEADER_LEN) / 4
}

/// Writes translation page `tp` holding `n` entries given by `entry(i)`:
/// header, entries, zero padding.
pub fn encode(page: &mut [u8], tp: u32, n: usize, entry: impl Fn(usize) -> u32) {
    assert!(n <= capacity(page.len()), "translation page overfilled");
    MetaHeader::Translation {
        tp,
        entries: n as u32,
    }
    .encode(page);
    let (body, padding) = page[HEADER_LEN..].split_at_mut(4 * n);
    for (i, out) in body.chunks_exact_mut(4).enumerate() {
        out.copy_from_slice(&entry(i).to_le_bytes());
    }
    padding.fill(0);
}

/// Sets entry `i` of the translation page encoded in `page`.
pub fn set_entry(page: &mut [u8], i: usize, raw: u32) {
    le::put_u32(page, HEADER_LEN + 4 * i, raw);
}

/// A decoded translation page.
pub struct TranslationPage<'a> {
    page: &'a [u8],
    /// Which slice.
    pub tp: u32,
    /// Entries it holds.
    pub entries: u32,
}

impl TranslationPage<'_> {
    /// Entry `i` (`None` past the end).
    pub fn entry(&self, i: usize) -> Option<u32> {
        if i >= self.entries as usize {
            return None;
        }
        le::u32_at(self.page, HEADER_LEN + 4 * i)
    }
}

/// Decodes a translation page (its data crc already checked).
pub fn decode(page: &[u8]) -> Option<TranslationPage<'_>> {
    match MetaHeader::decode(page)? {
        MetaHeader::Translation { tp, entries } => Some(TranslationPage { page, tp, entries }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_slice_round_trips(entries in proptest::collection::vec(any::<u32>(), 0..40), tp: u32, page_size in 184usize..300) {
            let mut page = alloc::vec![0u8; page_size];
            encode(&mut page, tp, entries.len(), |i| entries[i]);
            let t = decode(&page).unwrap();
            prop_assert_eq!(t.tp, tp);
            let back: Vec<u32> = (0..entries.len()).map(|i| t.entry(i).unwrap()).collect();
            prop_assert_eq!(back, entries.clone());
            prop_assert_eq!(t.entry(entries.len()), None);
        }

        #[test]
        fn any_bytes_decode_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Some(t) = decode(&bytes) {
                for i in 0..t.entries as usize + 1 {
                    let _ = t.entry(i);
                }
            }
        }
    }
}
