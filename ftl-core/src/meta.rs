//! On-flash metadata pages: checkpoints and trim records.
//!
//! Both live in the *meta stream*, blocks of their own, and carry the usual
//! OOB record (kind 3 checkpoint, kind 4 trim record) whose data crc covers
//! the whole page. Every meta page starts with this header (little-endian):
//!
//! ```text
//!  offset size  field
//!  0      4     magic "ZCMT"
//!  4      1     version (1)
//!  5      1     kind: 3 checkpoint chunk, 4 trim record
//!  6      2     0
//!  8      8     checkpoint: seq the snapshot was taken at (all pages with
//!               seq ≤ it are reflected); trim record: 0
//!  16     4     checkpoint: chunk index; trim record: number of ranges
//!  20     4     checkpoint: chunk count; trim record: 0
//!  24     ...   payload
//! ```
//!
//! A checkpoint's payload, split over its chunks in order:
//!
//! ```text
//!  0      8     logical sectors (u64)
//!  8      4     blocks (u32)
//!  12     4     0
//!  16     4·L   L2P: physical sector per LBA (u32; 0xFFFF_FFFF unmapped,
//!               0xFFFF_FFFE lost)
//!  ...    9·B   per block: erase count u32, write pointer u32, state u8
//!               (0 free, 1 stale, 2 open, 3 full, 4 bad, 5 meta)
//! ```
//!
//! A trim record's payload: `ranges` pairs of (first LBA u32, count u32).

/// Bytes of the meta page header.
pub const HEADER_LEN: usize = 24;
const MAGIC: [u8; 4] = *b"ZCMT";
const VERSION: u8 = 1;
/// Kind byte of a checkpoint chunk (also its OOB kind).
pub const KIND_CHECKPOINT: u8 = 3;
/// Kind byte of a trim record (also its OOB kind).
pub const KIND_TRIM: u8 = 4;
/// Bytes of the checkpoint payload before the L2P.
pub const CKPT_HEADER_LEN: usize = 16;
/// Bytes per block in the checkpoint's block table.
pub const CKPT_BLOCK_LEN: usize = 9;

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
}

impl MetaHeader {
    /// Writes the header into the first [`HEADER_LEN`] bytes of `page`.
    pub fn encode(&self, page: &mut [u8]) {
        page[..HEADER_LEN].fill(0);
        page[0..4].copy_from_slice(&MAGIC);
        page[4] = VERSION;
        match *self {
            MetaHeader::Checkpoint { seq, index, count } => {
                page[5] = KIND_CHECKPOINT;
                page[8..16].copy_from_slice(&seq.to_le_bytes());
                page[16..20].copy_from_slice(&index.to_le_bytes());
                page[20..24].copy_from_slice(&count.to_le_bytes());
            }
            MetaHeader::Trim { ranges } => {
                page[5] = KIND_TRIM;
                page[16..20].copy_from_slice(&ranges.to_le_bytes());
            }
        }
    }

    /// Decodes a meta page header; `None` for anything else. The caller has
    /// already checked the page's data crc; this checks shape and bounds.
    pub fn decode(page: &[u8]) -> Option<MetaHeader> {
        if page.len() < HEADER_LEN || page[0..4] != MAGIC || page[4] != VERSION {
            return None;
        }
        let u32_at =
            |o: usize| u32::from_le_bytes([page[o], page[o + 1], page[o + 2], page[o + 3]]);
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&page[8..16]);
        match page[5] {
            KIND_CHECKPOINT => {
                let (index, count) = (u32_at(16), u32_at(20));
                (index < count).then_some(MetaHeader::Checkpoint {
                    seq: u64::from_le_bytes(seq),
                    index,
                    count,
                })
            }
            KIND_TRIM => {
                let ranges = u32_at(16);
                (ranges as usize <= (page.len() - HEADER_LEN) / 8)
                    .then_some(MetaHeader::Trim { ranges })
            }
            _ => None,
        }
    }
}

/// Bytes of a checkpoint payload for `logical` LBAs and `blocks` blocks.
pub fn checkpoint_len(logical: u64, blocks: u32) -> usize {
    CKPT_HEADER_LEN + 4 * logical as usize + CKPT_BLOCK_LEN * blocks as usize
}

/// Chunks (pages) a checkpoint takes with `page_size`-byte pages.
pub fn checkpoint_chunks(logical: u64, blocks: u32, page_size: usize) -> u32 {
    checkpoint_len(logical, blocks).div_ceil(page_size - HEADER_LEN) as u32
}

/// Writes the bytes `[start, start + out.len())` of a region made of
/// `count` fixed-size records at `region` in the payload, records produced
/// by `rec`. Lets a checkpoint chunk be filled straight from the tables.
pub fn emit<const N: usize>(
    out: &mut [u8],
    start: usize,
    region: usize,
    count: usize,
    rec: impl Fn(usize) -> [u8; N],
) {
    let end = start + out.len();
    let region_end = region + count * N;
    let (lo, hi) = (start.max(region), end.min(region_end));
    if lo >= hi {
        return;
    }
    let mut off = lo;
    while off < hi {
        let i = (off - region) / N;
        let within = (off - region) % N;
        let bytes = rec(i);
        let n = (N - within).min(hi - off);
        out[off - start..off - start + n].copy_from_slice(&bytes[within..within + n]);
        off += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_rejects_junk() {
        let mut page = [0u8; 64];
        let h = MetaHeader::Checkpoint {
            seq: 77,
            index: 2,
            count: 3,
        };
        h.encode(&mut page);
        assert_eq!(MetaHeader::decode(&page), Some(h));
        let t = MetaHeader::Trim { ranges: 5 };
        t.encode(&mut page);
        assert_eq!(MetaHeader::decode(&page), Some(t));
        MetaHeader::Trim { ranges: 6 }.encode(&mut page);
        assert_eq!(MetaHeader::decode(&page), None, "more ranges than fit");
        MetaHeader::Checkpoint {
            seq: 1,
            index: 3,
            count: 3,
        }
        .encode(&mut page);
        assert_eq!(MetaHeader::decode(&page), None, "index past count");
        assert_eq!(MetaHeader::decode(&[0xFF; 64]), None);
        assert_eq!(MetaHeader::decode(&[1; 8]), None);
    }

    #[test]
    fn emit_splits_records_across_chunks() {
        // Region of 5 u32 records at offset 3 of a 23-byte payload, read in
        // chunks of 7 bytes: reassembled, it must equal the direct encoding.
        let rec = |i: usize| (0x1111_1111u32 * (i as u32 + 1)).to_le_bytes();
        let mut whole = [0u8; 23];
        emit(&mut whole, 0, 3, 5, rec);
        let mut parts = [0u8; 23];
        for start in (0..23).step_by(7) {
            let end = (start + 7).min(23);
            emit(&mut parts[start..end], start, 3, 5, rec);
        }
        assert_eq!(whole, parts);
        assert_eq!(&whole[3..7], &0x1111_1111u32.to_le_bytes());
        assert_eq!(&whole[19..23], &0x5555_5555u32.to_le_bytes());
        assert_eq!(&whole[..3], &[0, 0, 0]);
    }
}
