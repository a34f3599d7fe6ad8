//! The header every meta-stream page starts with.
//!
//! Meta pages (checkpoint chunks, trim records, translation pages, block
//! summaries) live in blocks of their own. Each carries the usual spare-area record ([`super::oob`], kind
//! 3 to 6) whose data crc covers the whole page, and starts with this
//! header (little-endian); the payload follows (see [`super::checkpoint`],
//! [`super::trim_record`], [`super::translation`], [`super::summary`]):
//!
//! ```text
//!  offset size  field
//!  0      4     magic "ZCMT"
//!  4      1     version (3; 2 kept block summaries in data blocks)
//!  5      1     kind: 3 checkpoint chunk, 4 trim record, 5 translation
//!               page, 6 block summary
//!  6      2     0
//!  8      8     checkpoint: seq the snapshot was taken at; others: 0
//!  16     4     checkpoint: chunk index; trim record: number of ranges;
//!               translation page: its number; summary: entries
//!  20     4     checkpoint: chunk count; translation page: entries; 0
//!  24     ...   payload
//! ```

use super::le;

/// Bytes of the meta page header.
pub const HEADER_LEN: usize = 24;
const MAGIC: [u8; 4] = *b"ZCMT";
const VERSION: u8 = 3;
/// Kind byte of a checkpoint chunk (also its spare-area kind).
pub const KIND_CHECKPOINT: u8 = 3;
/// Kind byte of a trim record (also its spare-area kind).
pub const KIND_TRIM: u8 = 4;
/// Kind byte of a translation page (also its spare-area kind).
pub const KIND_TRANSLATION: u8 = 5;
/// Kind byte of a block summary (also its spare-area kind).
pub const KIND_SUMMARY: u8 = 6;
/// Bytes per trim range in a trim record's payload.
pub const TRIM_RANGE_LEN: usize = 8;

/// A decoded meta page header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetaHeader {
    /// Chunk `index` of `count` of the checkpoint taken at `seq`.
    Checkpoint {
        /// Snapshot sequence number.
        seq: u64,
        /// This chunk's index.
        index: u32,
        /// Chunks in the checkpoint.
        count: u32,
    },
    /// A trim record of `ranges` ranges.
    Trim {
        /// Ranges in the payload.
        ranges: u32,
    },
    /// Translation page `tp`, holding `entries` map entries.
    Translation {
        /// Which slice of the map.
        tp: u32,
        /// Entries in the payload.
        entries: u32,
    },
    /// A page of `entries` block summaries.
    Summary {
        /// Blocks described.
        entries: u32,
    },
}

impl MetaHeader {
    /// Writes the header into the first [`HEADER_LEN`] bytes of `page`.
    pub fn encode(&self, page: &mut [u8]) {
        page[..HEADER_LEN].fill(0);
        page[0..4].copy_from_slice(&MAGIC);
        page[4] = VERSION;
        match *self {
            MetaHeader::Checkpoint { seq, index, count } => {
                debug_assert!(index < count);
                page[5] = KIND_CHECKPOINT;
                le::put_u64(page, 8, seq);
                le::put_u32(page, 16, index);
                le::put_u32(page, 20, count);
            }
            MetaHeader::Trim { ranges } => {
                page[5] = KIND_TRIM;
                le::put_u32(page, 16, ranges);
            }
            MetaHeader::Translation { tp, entries } => {
                page[5] = KIND_TRANSLATION;
                le::put_u32(page, 16, tp);
                le::put_u32(page, 20, entries);
            }
            MetaHeader::Summary { entries } => {
                page[5] = KIND_SUMMARY;
                le::put_u32(page, 16, entries);
            }
        }
    }

    /// Decodes a meta page header; `None` for anything else. The caller has
    /// already checked the page's data crc; this checks shape and bounds.
    pub fn decode(page: &[u8]) -> Option<MetaHeader> {
        if page.len() < HEADER_LEN || page[0..4] != MAGIC || page[4] != VERSION {
            return None;
        }
        match page[5] {
            KIND_CHECKPOINT => {
                let (index, count) = (le::u32_at(page, 16)?, le::u32_at(page, 20)?);
                (index < count).then_some(MetaHeader::Checkpoint {
                    seq: le::u64_at(page, 8)?,
                    index,
                    count,
                })
            }
            KIND_TRIM => {
                let ranges = le::u32_at(page, 16)?;
                (ranges as usize <= (page.len() - HEADER_LEN) / TRIM_RANGE_LEN)
                    .then_some(MetaHeader::Trim { ranges })
            }
            KIND_TRANSLATION => {
                let (tp, entries) = (le::u32_at(page, 16)?, le::u32_at(page, 20)?);
                (entries as usize <= (page.len() - HEADER_LEN) / 4)
                    .then_some(MetaHeader::Translation { tp, entries })
            }
            KIND_SUMMARY => Some(MetaHeader::Summary {
                entries: le::u32_at(page, 16)?,
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn header_rejects_junk() {
        let mut page = [0u8; 64];
        MetaHeader::Trim { ranges: 6 }.encode(&mut page);
        assert_eq!(MetaHeader::decode(&page), None, "more ranges than fit");
        page[5] = KIND_CHECKPOINT;
        le::put_u32(&mut page, 16, 3);
        le::put_u32(&mut page, 20, 3);
        assert_eq!(MetaHeader::decode(&page), None, "index past count");
        assert_eq!(MetaHeader::decode(&[0xFF; 64]), None);
        assert_eq!(MetaHeader::decode(&[1; 8]), None);
    }

    proptest! {
        #[test]
        fn any_header_round_trips(seq: u64, count in 1u32.., pick: u32, ranges in 0u32..=5, kind in 0u8..4) {
            let h = match kind {
                0 => MetaHeader::Checkpoint { seq, index: pick % count, count },
                1 => MetaHeader::Trim { ranges },
                2 => MetaHeader::Translation { tp: pick, entries: ranges },
                _ => MetaHeader::Summary { entries: pick },
            };
            let mut page = [0u8; 64];
            h.encode(&mut page);
            prop_assert_eq!(MetaHeader::decode(&page), Some(h));
        }

        #[test]
        fn any_bytes_decode_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = MetaHeader::decode(&bytes);
        }
    }
}
