//! A checkpoint: the translation directory and the block table as of one
//! sequence number `S`, split over as many meta pages ("chunks") as it
//! needs. The map itself is not in it: it lives in translation pages
//! (`super::translation`), and the directory says where each one is.
//!
//! Each chunk is a meta page ([`MetaHeader::Checkpoint`] header naming the
//! snapshot's sequence number, the chunk's index and the chunk count)
//! carrying the next `page_size − 24` bytes of this payload (little-endian):
//!
//! ```text
//!  offset       size  field
//!  0            8     logical sectors L (u64)
//!  8            4     blocks B (u32)
//!  12           4     translation pages T (u32)
//!  16           4     entries per translation page E (u32)
//!  20           4     0
//!  24           8     horizon H: every change to the map before H is in
//!                     the translation pages the directory names
//!  32           4·T   directory: page address (block · ppb + page) of
//!                     translation page t; 0xFFFF_FFFF = never written
//!                     (all its LBAs unmapped)
//!  32 + 4·T     17·B  per block: erase count u32, write pointer u32,
//!                     state u8 (0 free, 1 stale, 2 open, 3 full, 4 bad,
//!                     5 meta), sequence number of its newest page u64
//! ```
//!
//! Recovery takes the map from the directory's translation pages and
//! replays what was written from `H` on. A checkpoint counts only when
//! every chunk of it is on flash and verifies.

use crate::blocks::BlockState;

use super::le;
use super::meta_page::{MetaHeader, HEADER_LEN};

/// Bytes of the payload before the directory.
const PAYLOAD_HEADER_LEN: usize = 32;
/// Bytes per block record.
const BLOCK_RECORD_LEN: usize = 17;
/// Directory entry of a translation page never written.
pub const NO_PAGE: u32 = u32::MAX;

/// One block's entry in a checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockRecord {
    /// Erases the block has had.
    pub erase_count: u32,
    /// Its write pointer.
    pub next_page: u32,
    /// Its state.
    pub state: BlockState,
    /// Sequence number of its newest page (0: none).
    pub last_seq: u64,
}

/// How big a checkpoint is: it covers `logical` LBAs in `tps` translation
/// pages of `entries` each, and `blocks` blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// LBAs in the map.
    pub logical: u64,
    /// Blocks in the block table.
    pub blocks: u32,
    /// Translation pages.
    pub tps: u32,
    /// Entries per translation page.
    pub entries: u32,
}

impl Shape {
    /// Bytes of the payload.
    pub fn len(&self) -> usize {
        PAYLOAD_HEADER_LEN + 4 * self.tps as usize + BLOCK_RECORD_LEN * self.blocks as usize
    }

    /// Whether the payload is empty (it never is: it has a header).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Chunks (pages) it takes with `page_size`-byte pages.
    pub fn chunks(&self, page_size: usize) -> u32 {
        self.len().div_ceil(page_size - HEADER_LEN) as u32
    }

    fn dir_at(&self) -> usize {
        PAYLOAD_HEADER_LEN
    }

    fn blocks_at(&self) -> usize {
        PAYLOAD_HEADER_LEN + 4 * self.tps as usize
    }

    /// Writes chunk `index` of `count` of the checkpoint taken at `seq` as a
    /// whole page: header, payload bytes, zero padding. `dir(t)` gives
    /// translation page `t`'s address, `block(b)` block `b`'s record.
    #[allow(clippy::too_many_arguments)]
    pub fn encode_chunk(
        &self,
        page: &mut [u8],
        seq: u64,
        index: u32,
        count: u32,
        horizon: u64,
        dir: impl Fn(u32) -> u32,
        block: impl Fn(u32) -> BlockRecord,
    ) {
        page.fill(0);
        MetaHeader::Checkpoint { seq, index, count }.encode(page);
        let cap = page.len() - HEADER_LEN;
        let start = index as usize * cap;
        let out = &mut page[HEADER_LEN..];
        emit(out, start, 0, 1, |_| {
            let mut h = [0u8; PAYLOAD_HEADER_LEN];
            le::put_u64(&mut h, 0, self.logical);
            le::put_u32(&mut h, 8, self.blocks);
            le::put_u32(&mut h, 12, self.tps);
            le::put_u32(&mut h, 16, self.entries);
            le::put_u64(&mut h, 24, horizon);
            h
        });
        emit(out, start, self.dir_at(), self.tps as usize, |t| {
            dir(t as u32).to_le_bytes()
        });
        emit(out, start, self.blocks_at(), self.blocks as usize, |b| {
            let r = block(b as u32);
            let mut bytes = [0u8; BLOCK_RECORD_LEN];
            le::put_u32(&mut bytes, 0, r.erase_count);
            le::put_u32(&mut bytes, 4, r.next_page);
            bytes[8] = state_byte(r.state);
            le::put_u64(&mut bytes, 9, r.last_seq);
            bytes
        });
    }

    /// The shape a payload's first bytes (chunk 0) record; `None` if they
    /// are too short.
    pub fn peek(payload: &[u8]) -> Option<Shape> {
        Some(Shape {
            logical: le::u64_at(payload, 0)?,
            blocks: le::u32_at(payload, 8)?,
            tps: le::u32_at(payload, 12)?,
            entries: le::u32_at(payload, 16)?,
        })
    }

    /// Reads an assembled payload (the chunks' payload bytes in order); fails
    /// if it is too short or describes another shape.
    pub fn decode<'a>(&self, payload: &'a [u8]) -> Option<Payload<'a>> {
        if payload.len() < self.len() || Shape::peek(payload)? != *self {
            return None;
        }
        Some(Payload {
            bytes: payload,
            shape: *self,
        })
    }
}

/// A checkpoint payload whose shape was checked.
pub struct Payload<'a> {
    bytes: &'a [u8],
    shape: Shape,
}

impl Payload<'_> {
    /// The horizon: replay starts here.
    pub fn horizon(&self) -> u64 {
        le::u64_at(self.bytes, 24).unwrap_or(0)
    }

    /// Translation page `t`'s address ([`NO_PAGE`]: never written).
    pub fn dir_entry(&self, t: u32) -> Option<u32> {
        le::u32_at(self.bytes, self.shape.dir_at() + 4 * t as usize)
    }

    /// Block `b`'s record; `None` if its state byte is unknown.
    pub fn block(&self, b: u32) -> Option<BlockRecord> {
        let o = self.shape.blocks_at() + BLOCK_RECORD_LEN * b as usize;
        Some(BlockRecord {
            erase_count: le::u32_at(self.bytes, o)?,
            next_page: le::u32_at(self.bytes, o + 4)?,
            state: state_from_byte(*self.bytes.get(o + 8)?)?,
            last_seq: le::u64_at(self.bytes, o + 9)?,
        })
    }
}

/// Writes the bytes `[start, start + out.len())` of a region made of
/// `count` fixed-size records at `region` in the payload, records produced
/// by `rec`: a chunk is filled straight from the tables, with no staging
/// copy of the whole payload.
fn emit<const N: usize>(
    out: &mut [u8],
    start: usize,
    region: usize,
    count: usize,
    rec: impl Fn(usize) -> [u8; N],
) {
    let end = start + out.len();
    let region_end = region + count * N;
    let (lo, hi) = (start.max(region), end.min(region_end));
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

fn state_byte(s: BlockState) -> u8 {
    match s {
        BlockState::Free => 0,
        BlockState::Stale => 1,
        BlockState::Open => 2,
        BlockState::Full => 3,
        BlockState::Bad => 4,
        BlockState::Meta => 5,
    }
}

fn state_from_byte(b: u8) -> Option<BlockState> {
    Some(match b {
        0 => BlockState::Free,
        1 => BlockState::Stale,
        2 => BlockState::Open,
        3 => BlockState::Full,
        4 => BlockState::Bad,
        5 => BlockState::Meta,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    const STATES: [BlockState; 6] = [
        BlockState::Free,
        BlockState::Stale,
        BlockState::Open,
        BlockState::Full,
        BlockState::Bad,
        BlockState::Meta,
    ];

    proptest! {
        /// Any map and block table, any page size: encoded chunk by chunk,
        /// reassembled and decoded, they come back whole.
        #[test]
        fn any_checkpoint_round_trips(
            dir in proptest::collection::vec(any::<u32>(), 0..300),
            blocks in proptest::collection::vec((any::<u32>(), any::<u32>(), 0usize..6, any::<u64>()), 0..40),
            page_size in 64usize..200,
            seq: u64,
            horizon: u64,
            logical: u64,
            entries: u32,
        ) {
            let shape = Shape { logical, blocks: blocks.len() as u32, tps: dir.len() as u32, entries };
            let count = shape.chunks(page_size);
            let mut payload = Vec::new();
            let mut page = alloc::vec![0u8; page_size];
            for index in 0..count {
                shape.encode_chunk(&mut page, seq, index, count, horizon, |t| dir[t as usize], |b| {
                    let (e, p, s, q) = blocks[b as usize];
                    BlockRecord { erase_count: e, next_page: p, state: STATES[s], last_seq: q }
                });
                prop_assert_eq!(MetaHeader::decode(&page), Some(MetaHeader::Checkpoint { seq, index, count }));
                payload.extend_from_slice(&page[HEADER_LEN..]);
            }
            let p = shape.decode(&payload).unwrap();
            prop_assert_eq!(p.horizon(), horizon);
            for (t, &v) in dir.iter().enumerate() {
                prop_assert_eq!(p.dir_entry(t as u32), Some(v));
            }
            for (b, &(e, n, s, q)) in blocks.iter().enumerate() {
                prop_assert_eq!(p.block(b as u32), Some(BlockRecord { erase_count: e, next_page: n, state: STATES[s], last_seq: q }));
            }
            let other = Shape { logical: shape.logical ^ 1, ..shape };
            prop_assert!(other.decode(&payload).is_none());
            prop_assert_eq!(Shape::peek(&payload), Some(shape));
        }
    }

    #[test]
    fn unknown_state_byte_is_refused() {
        let shape = Shape {
            logical: 0,
            blocks: 1,
            tps: 0,
            entries: 1,
        };
        let mut page = [0u8; 96];
        shape.encode_chunk(
            &mut page,
            1,
            0,
            1,
            0,
            |_| 0,
            |_| BlockRecord {
                erase_count: 1,
                next_page: 2,
                state: BlockState::Meta,
                last_seq: 3,
            },
        );
        page[HEADER_LEN + PAYLOAD_HEADER_LEN + 8] = 9;
        let p = shape.decode(&page[HEADER_LEN..]).unwrap();
        assert_eq!(p.block(0), None);
    }
}
