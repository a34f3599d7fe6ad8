//! Block summaries: what each page of a full data block holds, so recovery
//! reads one summary instead of every page of the block (SPDK's FTL keeps
//! such a P2L map at each band's tail).
//!
//! Summaries are packed, several to a page, in the meta stream: a page of
//! its own at the tail of every data block would cost a whole page per
//! block (1/64 of the flash with 64-page blocks, a sixth of a 7 % spare
//! area), while an entry here costs what it holds. After the
//! [`MetaHeader::Summary`] header (`entries` = entries in the page), each
//! entry, little-endian, `4 + ppb·(8 + 4·spp)` bytes:
//!
//! ```text
//!  offset                size  field
//!  0                     4     the block's index
//!  4 + r·i               8     sequence number of page i  (r = 8 + 4·spp)
//!  12 + r·i + 4·k        4     LBA of its sector k (0xFFFF_FFFF: padding)
//! ```
//!
//! An entry is made only after every page it describes was programmed, so
//! a block without one (open at a cut, closed by a failure, or whose entry
//! was still waiting for its page to fill) is scanned page by page
//! instead. Recovery trusts an entry only for the block's contents whose
//! first page carries the entry's first sequence number.

use alloc::vec::Vec;

use super::le;
use super::meta_page::{MetaHeader, HEADER_LEN};
use super::oob::{MAX_SECTORS_PER_PAGE, NO_LBA};

fn record_len(spp: usize) -> usize {
    8 + 4 * spp
}

/// Bytes of one block's entry.
pub fn entry_len(ppb: u32, spp: usize) -> usize {
    4 + ppb as usize * record_len(spp)
}

/// Entries a summary page holds (0: a block's entry does not fit a page,
/// and blocks go without summaries).
pub fn per_page(page_size: usize, ppb: u32, spp: usize) -> usize {
    if ppb == 0 || spp == 0 || spp > MAX_SECTORS_PER_PAGE {
        return 0;
    }
    page_size.saturating_sub(HEADER_LEN) / entry_len(ppb, spp)
}

/// Builds one block's entry as its pages are programmed.
pub struct EntryBuilder {
    spp: usize,
    pages: u32,
    buf: Vec<u8>,
}

impl EntryBuilder {
    /// An entry buffer for blocks of `ppb` pages of `spp` sectors.
    pub fn new(ppb: u32, spp: usize) -> Self {
        EntryBuilder {
            spp,
            pages: 0,
            buf: alloc::vec![0xFF; entry_len(ppb, spp)],
        }
    }

    /// Starts block `block`'s entry, empty.
    pub fn start(&mut self, block: u32) {
        self.buf.fill(0xFF);
        le::put_u32(&mut self.buf, 0, block);
        self.pages = 0;
    }

    /// Records page `i` (the next one): its sequence number and LBAs.
    pub fn note(&mut self, i: u32, seq: u64, lbas: &[u32]) {
        assert_eq!(i, self.pages, "summary pages noted out of order");
        let o = 4 + i as usize * record_len(self.spp);
        le::put_u64(&mut self.buf, o, seq);
        for k in 0..self.spp {
            let l = lbas.get(k).copied().unwrap_or(NO_LBA);
            le::put_u32(&mut self.buf, o + 8 + 4 * k, l);
        }
        self.pages += 1;
    }

    /// Pages noted so far.
    pub fn pages(&self) -> u32 {
        self.pages
    }

    /// The entry's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }
}

/// Packs entries into a summary page.
pub struct PageBuilder {
    entries: u32,
    capacity: u32,
}

impl PageBuilder {
    /// An empty summary page in `page`, for blocks of `ppb` pages of `spp`
    /// sectors, to hold `capacity` entries (at most as many as fit).
    pub fn start(page: &mut [u8], ppb: u32, spp: usize, capacity: u32) -> Self {
        page.fill(0xFF);
        PageBuilder {
            entries: 0,
            capacity: capacity.min(per_page(page.len(), ppb, spp) as u32),
        }
    }

    /// Entries in the page so far.
    pub fn entries(&self) -> u32 {
        self.entries
    }

    /// Whether another entry fits.
    pub fn has_room(&self) -> bool {
        self.entries < self.capacity
    }

    /// Entries that still fit.
    pub fn room(&self) -> u32 {
        self.capacity - self.entries
    }

    /// Appends `entry` (an [`EntryBuilder`]'s bytes); the page must have
    /// room.
    pub fn push(&mut self, page: &mut [u8], entry: &[u8]) {
        assert!(self.has_room(), "summary page full");
        let o = HEADER_LEN + self.entries as usize * entry.len();
        page[o..o + entry.len()].copy_from_slice(entry);
        self.entries += 1;
        MetaHeader::Summary {
            entries: self.entries,
        }
        .encode(page);
    }

    /// Empties the page (after it was programmed).
    pub fn clear(&mut self, page: &mut [u8]) {
        page.fill(0xFF);
        self.entries = 0;
    }
}

/// A decoded summary page.
pub struct SummaryPage<'a> {
    page: &'a [u8],
    ppb: u32,
    spp: usize,
    /// Entries in it.
    pub entries: u32,
}

impl<'a> SummaryPage<'a> {
    /// Entry `i`, if the page has it.
    pub fn entry(&self, i: u32) -> Option<Entry<'a>> {
        if i >= self.entries {
            return None;
        }
        let len = entry_len(self.ppb, self.spp);
        let o = HEADER_LEN + i as usize * len;
        Entry::new(self.page.get(o..o + len)?, self.ppb, self.spp)
    }
}

/// One block's entry.
pub struct Entry<'a> {
    bytes: &'a [u8],
    spp: usize,
    /// Pages described.
    pub pages: u32,
}

impl<'a> Entry<'a> {
    /// An entry of a block of `ppb` pages of `spp` sectors, from its bytes.
    pub fn new(bytes: &'a [u8], ppb: u32, spp: usize) -> Option<Self> {
        (spp <= MAX_SECTORS_PER_PAGE && bytes.len() == entry_len(ppb, spp)).then_some(Entry {
            bytes,
            spp,
            pages: ppb,
        })
    }

    /// The entry's bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The block described.
    pub fn block(&self) -> u32 {
        le::u32_at(self.bytes, 0).unwrap_or(u32::MAX)
    }

    /// Page `i`'s sequence number and LBAs (`NO_LBA` for padding).
    pub fn page(&self, i: u32) -> Option<(u64, [u32; MAX_SECTORS_PER_PAGE])> {
        if i >= self.pages {
            return None;
        }
        let o = 4 + i as usize * record_len(self.spp);
        let mut lbas = [NO_LBA; MAX_SECTORS_PER_PAGE];
        for (k, l) in lbas[..self.spp].iter_mut().enumerate() {
            *l = le::u32_at(self.bytes, o + 8 + 4 * k)?;
        }
        Some((le::u64_at(self.bytes, o)?, lbas))
    }
}

/// Decodes a summary page of blocks of `ppb` pages of `spp` sectors (its
/// data crc already checked).
pub fn decode(page: &[u8], ppb: u32, spp: usize) -> Option<SummaryPage<'_>> {
    match MetaHeader::decode(page)? {
        MetaHeader::Summary { entries }
            if spp <= MAX_SECTORS_PER_PAGE
                && entries as usize <= per_page(page.len(), ppb, spp) =>
        {
            Some(SummaryPage {
                page,
                ppb,
                spp,
                entries,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_summary_page_round_trips(
            blocks in proptest::collection::vec(
                (any::<u32>(), proptest::collection::vec((any::<u64>(), proptest::collection::vec(any::<u32>(), 4)), 6)),
                0..=4,
            ),
        ) {
            let (spp, ppb) = (4, 6);
            let mut page = alloc::vec![0u8; 24 + 4 * 148];
            prop_assert_eq!(per_page(page.len(), ppb, spp), 4);
            let mut pb = PageBuilder::start(&mut page, ppb, spp, u32::MAX);
            let mut e = EntryBuilder::new(ppb, spp);
            for (block, recs) in &blocks {
                e.start(*block);
                for (i, (seq, lbas)) in recs.iter().enumerate() {
                    e.note(i as u32, *seq, lbas);
                }
                prop_assert_eq!(e.pages(), ppb);
                pb.push(&mut page, e.bytes());
            }
            prop_assert_eq!(pb.has_room(), blocks.len() < 4);
            if blocks.is_empty() {
                // Nothing pushed: no header, not a summary page.
                prop_assert!(decode(&page, ppb, spp).is_none());
                return Ok(());
            }
            let s = decode(&page, ppb, spp).unwrap();
            prop_assert_eq!(s.entries as usize, blocks.len());
            for (j, (block, recs)) in blocks.iter().enumerate() {
                let entry = s.entry(j as u32).unwrap();
                prop_assert_eq!(entry.block(), *block);
                for (i, (seq, lbas)) in recs.iter().enumerate() {
                    let (q, l) = entry.page(i as u32).unwrap();
                    prop_assert_eq!(q, *seq);
                    prop_assert_eq!(&l[..spp], &lbas[..]);
                }
                prop_assert!(entry.page(ppb).is_none());
            }
            prop_assert!(s.entry(s.entries).is_none());
        }

        #[test]
        fn any_bytes_decode_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300), ppb in 0u32..40, spp in 0usize..20) {
            if let Some(s) = decode(&bytes, ppb, spp) {
                for i in 0..=s.entries {
                    if let Some(e) = s.entry(i) {
                        let _ = e.block();
                        for p in 0..=ppb {
                            let _ = e.page(p);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_block_too_large_for_a_page_gets_no_summaries() {
        // 1024 pages of four 4 KiB sectors: 24 KiB of records.
        assert_eq!(per_page(16384, 1024, 4), 0);
        assert_eq!(per_page(4096, 64, 1), 5);
    }
}
