//! The record every programmed page carries in its spare (OOB) area.
//!
//! Recovery rebuilds the L2P from these alone, so each record says which LBA
//! each sector of the page holds, when the page was written (a sequence
//! number that only grows) and checksums over the data and the record.
//! All integers are little-endian.
//!
//! ```text
//!  offset  size  field
//!  0       4     magic "ZCFP"
//!  4       1     version (3; version 2 media kept each data block's
//!                summary in its last page, and mounts as foreign)
//!  5       1     kind: 1 host data, 2 relocated data (GC / wear leveling),
//!                3 checkpoint chunk, 4 trim record, 5 translation page,
//!                6 block summaries (see `meta_page`)
//!  6       1     n = sectors in the page
//!  7       1     reserved, 0
//!  8       8     seq: program sequence number
//!  16      4     erase count of the block when the page was programmed
//!  20      4     crc32 of the page's data (all n sectors)
//!  24      4·n   LBA of each sector; 0xFFFF_FFFF = padding, no data
//!                (meta pages: word 0 names the page — chunk index of a
//!                checkpoint chunk, translation page number — the rest 0xFF)
//!  24+4n   4     crc32 of bytes 0 .. 24+4n
//! ```
//!
//! A page whose spare area is all 0xFF was never programmed; anything else
//! that fails to decode is a torn or corrupted page and is ignored.

use crate::addr::{Lba, Seq};
use crate::format::le;
use crate::format::meta_page::{KIND_CHECKPOINT, KIND_SUMMARY, KIND_TRANSLATION, KIND_TRIM};

/// Most sectors one page may hold: the record names an LBA per sector, and
/// the FTL's fixed scatter lists are this long, so the I/O path never
/// allocates.
pub const MAX_SECTORS_PER_PAGE: usize = 16;

const MAGIC: [u8; 4] = *b"ZCFP";
/// Version of the record layout written by this code.
pub const VERSION: u8 = 3;
const HEADER_LEN: usize = 24;
/// LBA slot value meaning "this sector holds no data" (padding).
pub const NO_LBA: u32 = 0xFFFF_FFFF;

/// Bytes of OOB a page of `sectors` sectors needs.
pub const fn record_len(sectors: usize) -> usize {
    HEADER_LEN + 4 * sectors + 4
}

/// Why a page's data was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageKind {
    /// Written by the host.
    Host,
    /// Moved by garbage collection or wear leveling.
    Relocated,
    /// A checkpoint chunk (meta stream).
    Checkpoint,
    /// A trim record (meta stream).
    Trim,
    /// A translation page: a slice of the map (meta stream).
    Translation,
    /// Block summaries: what each page of a few full data blocks holds
    /// (meta stream).
    Summary,
}

impl PageKind {
    /// Whether the page belongs to the meta stream.
    pub fn is_meta(self) -> bool {
        matches!(
            self,
            PageKind::Checkpoint | PageKind::Trim | PageKind::Translation | PageKind::Summary
        )
    }

    /// Whether the page carries host data (written by the host or moved by
    /// GC); everything else is the FTL's own bookkeeping.
    pub fn is_data(self) -> bool {
        matches!(self, PageKind::Host | PageKind::Relocated)
    }

    /// The kind a record's kind byte names (`None`: no kind).
    fn from_byte(b: u8) -> Option<PageKind> {
        match b {
            1 => Some(PageKind::Host),
            2 => Some(PageKind::Relocated),
            KIND_CHECKPOINT => Some(PageKind::Checkpoint),
            KIND_TRIM => Some(PageKind::Trim),
            KIND_TRANSLATION => Some(PageKind::Translation),
            KIND_SUMMARY => Some(PageKind::Summary),
            _ => None,
        }
    }
}

/// Why a spare area did not decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OobError {
    /// All 0xFF: the page was never programmed (or its program was lost).
    Erased,
    /// Not a zcftl record, or an unknown version: a foreign image.
    Foreign,
    /// A zcftl record that fails its checksum or sanity checks: torn.
    Corrupt,
}

/// The decoded spare area of one page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRecord {
    /// Host or relocated data.
    pub kind: PageKind,
    /// Program sequence number.
    pub seq: Seq,
    /// Erase count of the block at program time.
    pub erase_count: u32,
    /// crc32 of the page's data.
    pub data_crc: u32,
    /// Sectors in the page (`n`).
    pub sectors: u8,
    /// LBA per sector; [`NO_LBA`] for padding. Only `..sectors` is used.
    pub lbas: [u32; MAX_SECTORS_PER_PAGE],
}

impl PageRecord {
    /// The LBA held by sector `i`, if any.
    pub fn lba(&self, i: usize) -> Option<Lba> {
        match self.lbas.get(i) {
            Some(&l) if i < usize::from(self.sectors) && l != NO_LBA => Some(Lba(u64::from(l))),
            _ => None,
        }
    }

    /// Writes the record into `out` (at least `record_len(sectors)` bytes;
    /// the rest is set to 0xFF). Returns the record's length.
    pub fn encode(&self, out: &mut [u8]) -> usize {
        let n = usize::from(self.sectors);
        let len = record_len(n);
        assert!(
            n <= MAX_SECTORS_PER_PAGE && out.len() >= len,
            "oob buffer too small"
        );
        out.fill(0xFF);
        out[0..4].copy_from_slice(&MAGIC);
        out[4] = VERSION;
        out[5] = match self.kind {
            PageKind::Host => 1,
            PageKind::Relocated => 2,
            PageKind::Checkpoint => KIND_CHECKPOINT,
            PageKind::Trim => KIND_TRIM,
            PageKind::Translation => KIND_TRANSLATION,
            PageKind::Summary => KIND_SUMMARY,
        };
        out[6] = self.sectors;
        out[7] = 0;
        le::put_u64(out, 8, self.seq.0);
        le::put_u32(out, 16, self.erase_count);
        le::put_u32(out, 20, self.data_crc);
        for (i, &l) in self.lbas[..n].iter().enumerate() {
            le::put_u32(out, HEADER_LEN + 4 * i, l);
        }
        let crc = crc32fast::hash(&out[..len - 4]);
        le::put_u32(out, len - 4, crc);
        len
    }

    /// The kind a record in `buf` names, its checksum not verified (`None`
    /// if it is not a zcftl record of this version): for a NAND simulator
    /// that sorts pages by kind as they are programmed, where the FTL's own
    /// encoder wrote the record. Readers of flash use [`PageRecord::decode`].
    pub fn peek_kind(buf: &[u8]) -> Option<PageKind> {
        if buf.len() < record_len(0) || buf[0..4] != MAGIC || buf[4] != VERSION {
            return None;
        }
        PageKind::from_byte(buf[5])
    }

    /// Decodes a spare area. Never panics, whatever the bytes.
    pub fn decode(buf: &[u8]) -> Result<PageRecord, OobError> {
        if buf.iter().all(|&b| b == 0xFF) {
            return Err(OobError::Erased);
        }
        if buf.len() < record_len(0) {
            return Err(OobError::Corrupt);
        }
        if buf[0..4] != MAGIC || buf[4] != VERSION {
            return Err(OobError::Foreign);
        }
        let n = usize::from(buf[6]);
        if n == 0 || n > MAX_SECTORS_PER_PAGE || buf.len() < record_len(n) || buf[7] != 0 {
            return Err(OobError::Corrupt);
        }
        let len = record_len(n);
        if le::u32_at(buf, len - 4) != Some(crc32fast::hash(&buf[..len - 4])) {
            return Err(OobError::Corrupt);
        }
        let kind = PageKind::from_byte(buf[5]).ok_or(OobError::Corrupt)?;
        // In bounds: `buf` holds `record_len(n)` bytes (checked above).
        let u32_at = |o: usize| le::u32_at(buf, o).ok_or(OobError::Corrupt);
        let mut lbas = [NO_LBA; MAX_SECTORS_PER_PAGE];
        for (i, l) in lbas[..n].iter_mut().enumerate() {
            *l = u32_at(HEADER_LEN + 4 * i)?;
        }
        Ok(PageRecord {
            kind,
            seq: Seq(le::u64_at(buf, 8).ok_or(OobError::Corrupt)?),
            erase_count: u32_at(16)?,
            data_crc: u32_at(20)?,
            sectors: n as u8,
            lbas,
        })
    }
}

/// The data crc of a data page programmed with
/// [`FtlConfig::data_checksums`](crate::FtlConfig::data_checksums) off: a
/// fixed value, never checked.
pub const UNCHECKED_DATA_CRC: u32 = 0;

/// crc32 over a page's data given as a scatter list.
pub fn data_crc<'a>(data: impl IntoIterator<Item = &'a [u8]>) -> u32 {
    let mut h = crc32fast::Hasher::new();
    for b in data {
        h.update(b);
    }
    h.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PageRecord {
        let mut lbas = [NO_LBA; MAX_SECTORS_PER_PAGE];
        lbas[..4].copy_from_slice(&[7, 9, NO_LBA, 1_000_000]);
        PageRecord {
            kind: PageKind::Relocated,
            seq: Seq(0x0123_4567_89AB_CDEF),
            erase_count: 42,
            data_crc: 0xDEAD_BEEF,
            sectors: 4,
            lbas,
        }
    }

    #[test]
    fn round_trip() {
        let mut buf = [0u8; 64];
        assert_eq!(sample().encode(&mut buf), record_len(4));
        let r = PageRecord::decode(&buf).unwrap();
        assert_eq!(r, sample());
        assert_eq!(r.lba(0), Some(Lba(7)));
        assert_eq!(r.lba(2), None);
        assert_eq!(r.lba(4), None);
    }

    proptest::proptest! {
        #[test]
        fn any_record_round_trips(
            kind in 0usize..6,
            seq: u64,
            erase_count: u32,
            data_crc: u32,
            lbas in proptest::collection::vec(proptest::prelude::any::<u32>(), 1..=MAX_SECTORS_PER_PAGE),
        ) {
            let mut r = PageRecord {
                kind: [PageKind::Host, PageKind::Relocated, PageKind::Checkpoint, PageKind::Trim, PageKind::Translation, PageKind::Summary][kind],
                seq: Seq(seq),
                erase_count,
                data_crc,
                sectors: lbas.len() as u8,
                lbas: [NO_LBA; MAX_SECTORS_PER_PAGE],
            };
            r.lbas[..lbas.len()].copy_from_slice(&lbas);
            let mut buf = [0u8; record_len(MAX_SECTORS_PER_PAGE)];
            proptest::prop_assert_eq!(r.encode(&mut buf), record_len(lbas.len()));
            proptest::prop_assert_eq!(PageRecord::decode(&buf), Ok(r));
            proptest::prop_assert_eq!(PageRecord::peek_kind(&buf), Some(r.kind));
        }

        #[test]
        fn any_bytes_decode_without_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..100)) {
            let _ = PageRecord::decode(&bytes);
            // Whatever peek_kind makes of them, a record that decodes has
            // the kind it peeks.
            if let Ok(r) = PageRecord::decode(&bytes) {
                proptest::prop_assert_eq!(PageRecord::peek_kind(&bytes), Some(r.kind));
            }
        }
    }

    #[test]
    fn erased_foreign_and_torn() {
        assert_eq!(PageRecord::decode(&[0xFF; 64]), Err(OobError::Erased));
        assert_eq!(PageRecord::decode(&[0; 64]), Err(OobError::Foreign));
        assert_eq!(PageRecord::peek_kind(&[0xFF; 64]), None);
        assert_eq!(PageRecord::peek_kind(&[0; 64]), None);
        let mut buf = [0u8; 64];
        sample().encode(&mut buf);
        for i in 0..record_len(4) {
            let mut b = buf;
            b[i] ^= 0x10;
            assert!(PageRecord::decode(&b).is_err(), "flip at {i} accepted");
        }
        assert_eq!(PageRecord::decode(&buf[..10]), Err(OobError::Corrupt));
    }
}
