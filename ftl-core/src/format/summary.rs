//! A block summary: the last page of a data block, saying what each of the
//! block's other pages holds, so recovery reads one page per block instead
//! of every page (SPDK's FTL keeps such a P2L map at each band's tail).
//!
//! After the [`MetaHeader::Summary`] header (`pages` = pages described),
//! one record per page, little-endian, `8 + 4·spp` bytes each:
//!
//! ```text
//!  offset           size  field
//!  24 + r·i         8     sequence number of page i
//!  32 + r·i + 4·k   4     LBA of its sector k (0xFFFF_FFFF: padding)
//! ```
//!
//! It is written only after every page it describes was programmed, so a
//! block without one (open at a cut, closed by a failure) is scanned page by
//! page instead.

use super::le;
use super::meta_page::{MetaHeader, HEADER_LEN};
use super::oob::{MAX_SECTORS_PER_PAGE, NO_LBA};

fn record_len(spp: usize) -> usize {
    8 + 4 * spp
}

/// Whether a summary of the other `ppb − 1` pages fits in one page.
pub fn fits(page_size: usize, ppb: u32, spp: usize) -> bool {
    ppb >= 2 && HEADER_LEN + (ppb as usize - 1) * record_len(spp) <= page_size
}

/// Builds a block's summary in a page buffer, one page record at a time.
pub struct SummaryBuilder {
    spp: usize,
    pages: u32,
}

impl SummaryBuilder {
    /// Starts an empty summary in `page`.
    pub fn start(page: &mut [u8], spp: usize) -> Self {
        page.fill(0xFF);
        SummaryBuilder { spp, pages: 0 }
    }

    /// Records page `i` (the next one): its sequence number and LBAs.
    pub fn note(&mut self, page: &mut [u8], i: u32, seq: u64, lbas: &[u32]) {
        assert_eq!(i, self.pages, "summary pages noted out of order");
        let o = HEADER_LEN + i as usize * record_len(self.spp);
        le::put_u64(page, o, seq);
        for k in 0..self.spp {
            le::put_u32(page, o + 8 + 4 * k, lbas.get(k).copied().unwrap_or(NO_LBA));
        }
        self.pages += 1;
    }

    /// Pages noted so far.
    pub fn pages(&self) -> u32 {
        self.pages
    }

    /// Finishes the page: writes the header.
    pub fn finish(&self, page: &mut [u8]) {
        MetaHeader::Summary { pages: self.pages }.encode(page);
    }
}

/// A decoded summary.
pub struct Summary<'a> {
    page: &'a [u8],
    spp: usize,
    /// Pages described.
    pub pages: u32,
}

impl Summary<'_> {
    /// Page `i`'s sequence number and LBAs (`NO_LBA` for padding).
    pub fn page(&self, i: u32) -> Option<(u64, [u32; MAX_SECTORS_PER_PAGE])> {
        if i >= self.pages {
            return None;
        }
        let o = HEADER_LEN + i as usize * record_len(self.spp);
        let mut lbas = [NO_LBA; MAX_SECTORS_PER_PAGE];
        for (k, l) in lbas[..self.spp].iter_mut().enumerate() {
            *l = le::u32_at(self.page, o + 8 + 4 * k)?;
        }
        Some((le::u64_at(self.page, o)?, lbas))
    }
}

/// Decodes a summary of a block of `ppb` pages of `spp` sectors (its data
/// crc already checked).
pub fn decode(page: &[u8], ppb: u32, spp: usize) -> Option<Summary<'_>> {
    match MetaHeader::decode(page)? {
        MetaHeader::Summary { pages }
            if pages < ppb
                && spp <= MAX_SECTORS_PER_PAGE
                && HEADER_LEN + pages as usize * record_len(spp) <= page.len() =>
        {
            Some(Summary { page, spp, pages })
        }
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
        fn any_summary_round_trips(
            recs in proptest::collection::vec((any::<u64>(), proptest::collection::vec(any::<u32>(), 4)), 0..20),
        ) {
            let (spp, ppb) = (4, 21);
            let mut page = alloc::vec![0u8; 1024];
            prop_assert!(fits(page.len(), ppb, spp));
            let mut b = SummaryBuilder::start(&mut page, spp);
            for (i, (seq, lbas)) in recs.iter().enumerate() {
                b.note(&mut page, i as u32, *seq, lbas);
            }
            b.finish(&mut page);
            let s = decode(&page, ppb, spp).unwrap();
            prop_assert_eq!(s.pages as usize, recs.len());
            for (i, (seq, lbas)) in recs.iter().enumerate() {
                let (q, l) = s.page(i as u32).unwrap();
                prop_assert_eq!(q, *seq);
                prop_assert_eq!(&l[..spp], &lbas[..]);
            }
            prop_assert!(s.page(recs.len() as u32).is_none());
            let _: Vec<u8> = Vec::new();
        }

        #[test]
        fn any_bytes_decode_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300), ppb in 0u32..40, spp in 0usize..20) {
            if let Some(s) = decode(&bytes, ppb, spp) {
                for i in 0..=s.pages {
                    let _ = s.page(i);
                }
            }
        }
    }
}
