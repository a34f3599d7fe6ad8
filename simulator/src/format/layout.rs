//! The image file as a whole: where the header, the two tables and the page
//! records live. RAM and file backing share this one byte layout.
//!
//! ```text
//!  offset                       contents (all integers little-endian)
//!  0 ─────────────────────────┐
//!    header                   │ HEADER_LEN bytes used, the rest zero
//!  HEADER_BLOCK = 4096 ───────┤
//!    block table              │ per block, BLOCK_ENTRY_LEN = 8 bytes
//!  (rounded up to 4096) ──────┤
//!    page-state table         │ per page, 1 byte
//!  (rounded up to 4096) ──────┤
//!    page records             │ per page: page_size data bytes then
//!                             │   oob_size spare bytes; pages in flat
//!                             │   order (block × pages_per_block + page)
//!  total ─────────────────────┘
//! ```
//!
//! A fresh image is all zeros past the header: every page erased, every
//! block good with zero erases — so a sparse file costs no disk until pages
//! are programmed. Erased pages read as 0xFF whatever their record holds.
//! The layout is a function of the geometry alone, so the header needs no
//! offsets; a change to it is a new version.

use core::ops::Range;

use ftl_core::Geometry;

use super::tables::BLOCK_ENTRY_LEN;

/// The header's share of the file; tables and pages start after it, and
/// each region after it starts on a multiple of it.
pub const HEADER_BLOCK: u64 = 4096;

/// Where each part of an image lives, derived from the geometry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    pub(crate) blocks: u64,
    pub(crate) pages_per_block: u64,
    pub(crate) page_size: u64,
    pub(crate) record_len: u64,
    pub(crate) block_table: u64,
    pub(crate) page_states: u64,
    pub(crate) records: u64,
    pub(crate) total: u64,
}

fn round_up(x: u64) -> Option<u64> {
    x.checked_add(HEADER_BLOCK - 1)
        .map(|v| v / HEADER_BLOCK * HEADER_BLOCK)
}

impl Layout {
    /// The layout for a (validated) geometry; `None` if it overflows.
    pub(crate) fn new(geo: &Geometry) -> Option<Layout> {
        let blocks = u64::from(geo.total_blocks());
        let pages_per_block = u64::from(geo.pages_per_block);
        let pages = blocks.checked_mul(pages_per_block)?;
        let page_size = u64::from(geo.page_size);
        let record_len = page_size.checked_add(u64::from(geo.oob_size))?;
        let block_table = HEADER_BLOCK;
        let page_states = round_up(block_table.checked_add(blocks.checked_mul(BLOCK_ENTRY_LEN)?)?)?;
        let records = round_up(page_states.checked_add(pages)?)?;
        let total = records.checked_add(pages.checked_mul(record_len)?)?;
        Some(Layout {
            blocks,
            pages_per_block,
            page_size,
            record_len,
            block_table,
            page_states,
            records,
            total,
        })
    }

    /// The flat index of `page` of `block`, if both are in range.
    pub(crate) fn flat_page(&self, block: u64, page: u64) -> Option<u64> {
        if block >= self.blocks || page >= self.pages_per_block {
            return None;
        }
        Some(block * self.pages_per_block + page)
    }

    /// The bytes of `block`'s block-table entry, if it is in range.
    pub(crate) fn block_entry(&self, block: u64) -> Option<Range<u64>> {
        if block >= self.blocks {
            return None;
        }
        let at = self.block_table + block * BLOCK_ENTRY_LEN;
        Some(at..at + BLOCK_ENTRY_LEN)
    }

    /// The byte holding the state of flat page `flat`, if it is in range.
    pub(crate) fn page_state(&self, flat: u64) -> Option<u64> {
        (flat < self.blocks * self.pages_per_block).then(|| self.page_states + flat)
    }

    /// The data-then-spare record of flat page `flat`, if it is in range.
    pub(crate) fn record(&self, flat: u64) -> Option<Range<u64>> {
        if flat >= self.blocks * self.pages_per_block {
            return None;
        }
        let at = self.records + flat * self.record_len;
        Some(at..at + self.record_len)
    }

    /// Both tables with the padding between them: from the block table to
    /// the first page record.
    pub(crate) fn tables(&self) -> Range<u64> {
        self.block_table..self.records
    }

    /// Splits the bytes of [`Layout::tables`] into the block table and the
    /// page-state table, each exactly as long as the geometry needs (the
    /// padding after each is left out); `None` if `tables` is too short.
    pub(crate) fn split_tables<'a>(&self, tables: &'a [u8]) -> Option<(&'a [u8], &'a [u8])> {
        let blocks_len = usize::try_from(self.blocks * BLOCK_ENTRY_LEN).ok()?;
        let states_at = usize::try_from(self.page_states - self.block_table).ok()?;
        let states_len = usize::try_from(self.blocks * self.pages_per_block).ok()?;
        let block_table = tables.get(..blocks_len)?;
        let page_states = tables.get(states_at..states_at.checked_add(states_len)?)?;
        Some((block_table, page_states))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_aligned_and_sized() {
        let g = Geometry::small(16, 8);
        let l = Layout::new(&g).unwrap();
        assert_eq!(l.block_table, 4096);
        assert_eq!(l.page_states, 8192);
        assert_eq!(l.records, 12288);
        assert_eq!(l.total, 12288 + 16 * 8 * (16384 + 128));
    }

    #[test]
    fn regions_are_in_range_or_none() {
        let g = Geometry::small(16, 8);
        let l = Layout::new(&g).unwrap();
        assert_eq!(l.block_entry(2), Some(4096 + 16..4096 + 24));
        assert_eq!(l.block_entry(16), None);
        assert_eq!(l.flat_page(4, 1), Some(33));
        assert_eq!(l.flat_page(4, 8), None);
        assert_eq!(l.flat_page(16, 0), None);
        assert_eq!(l.page_state(33), Some(8192 + 33));
        assert_eq!(l.page_state(128), None);
        let last = l.record(127).unwrap();
        assert_eq!(last.end, l.total);
        assert_eq!(l.record(128), None);
        let tables = vec![0u8; (l.tables().end - l.tables().start) as usize];
        let (blocks, states) = l.split_tables(&tables).unwrap();
        assert_eq!((blocks.len(), states.len()), (16 * 8, 128));
        assert_eq!(l.split_tables(&tables[..4096 + 127]), None);
    }
}
