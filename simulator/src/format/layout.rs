//! The image file as a whole: where the header, the two tables and the
//! pages' data and spare areas live. RAM and file backing share this one
//! byte layout.
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
//!    page data                │ per page, page_size bytes
//!  (rounded up to 4096) ──────┤
//!    page spare areas         │ per page, oob_size bytes
//!  total ─────────────────────┘
//!
//!  pages in flat order (block × pages_per_block + page) in both regions
//! ```
//!
//! Versions 1 and 2 had one region of page records in the place of the
//! last two, each record page_size data bytes then oob_size spare bytes:
//!
//! ```text
//!  (rounded up to 4096) ──────┐
//!    page records             │ per page: data then spare, flat order
//!  total ─────────────────────┘
//! ```
//!
//! The spares moved out because a file image is meant to stay sparse: an
//! erase punches a hole over the block, and a sector of zeros programmed
//! into it is not written. Between the data of one page and the next, a
//! spare written through the mapping dirties the file system block (or the
//! large folio) around it, and so allocates nearly every block of a page of
//! zeros. Packed on their own, the spares of a block cost a few blocks.
//!
//! A fresh image is all zeros past the header: every page erased, every
//! block good with zero erases — so a sparse file costs no disk until pages
//! are programmed. Erased pages read as 0xFF whatever their bytes hold.
//! The layout is a function of the geometry and the version alone, so the
//! header needs no offsets; a change to it is a new version.

use core::ops::Range;

use ftl_core::Geometry;

use super::header::Version;
use super::tables::BLOCK_ENTRY_LEN;

/// The header's share of the file; tables and pages start after it, and
/// each region after it starts on a multiple of it.
pub const HEADER_BLOCK: u64 = 4096;

/// Where each part of an image lives, derived from the geometry and the
/// version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    pub(crate) blocks: u64,
    pub(crate) pages_per_block: u64,
    pub(crate) page_size: u64,
    pub(crate) oob_size: u64,
    pub(crate) block_table: u64,
    pub(crate) page_states: u64,
    /// Where page 0's data starts; each next page's is `data_stride` on.
    pub(crate) data: u64,
    data_stride: u64,
    /// Where page 0's spare starts; each next page's is `spare_stride` on.
    pub(crate) spares: u64,
    spare_stride: u64,
    pub(crate) total: u64,
}

fn round_up(x: u64) -> Option<u64> {
    x.checked_add(HEADER_BLOCK - 1)
        .map(|v| v / HEADER_BLOCK * HEADER_BLOCK)
}

impl Layout {
    /// The layout of `version` for a (validated) geometry; `None` if it
    /// overflows.
    pub(crate) fn new(geo: &Geometry, version: Version) -> Option<Layout> {
        let blocks = u64::from(geo.total_blocks());
        let pages_per_block = u64::from(geo.pages_per_block);
        let pages = blocks.checked_mul(pages_per_block)?;
        let page_size = u64::from(geo.page_size);
        let oob_size = u64::from(geo.oob_size);
        let block_table = HEADER_BLOCK;
        let page_states = round_up(block_table.checked_add(blocks.checked_mul(BLOCK_ENTRY_LEN)?)?)?;
        let data = round_up(page_states.checked_add(pages)?)?;
        let (data_stride, spares, spare_stride, total);
        if version.interleaved() {
            data_stride = page_size.checked_add(oob_size)?;
            spares = data + page_size;
            spare_stride = data_stride;
            total = data.checked_add(pages.checked_mul(data_stride)?)?;
        } else {
            data_stride = page_size;
            spares = round_up(data.checked_add(pages.checked_mul(page_size)?)?)?;
            spare_stride = oob_size;
            total = spares.checked_add(pages.checked_mul(oob_size)?)?;
        }
        Some(Layout {
            blocks,
            pages_per_block,
            page_size,
            oob_size,
            block_table,
            page_states,
            data,
            data_stride,
            spares,
            spare_stride,
            total,
        })
    }

    /// The layout of a metadata-only medium (`SimNand::new_metadata_only`,
    /// RAM only, never a file): the current version's with an empty data
    /// region, so each page's data range is empty and only the tables and
    /// the spare areas take memory.
    pub(crate) fn metadata_only(geo: &Geometry) -> Option<Layout> {
        Layout::new(
            &Geometry {
                page_size: 0,
                ..*geo
            },
            Version::V3,
        )
    }

    fn pages(&self) -> u64 {
        self.blocks * self.pages_per_block
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
        (flat < self.pages()).then(|| self.page_states + flat)
    }

    /// The data bytes of flat page `flat`, if it is in range.
    pub(crate) fn data(&self, flat: u64) -> Option<Range<u64>> {
        let at = (flat < self.pages()).then(|| self.data + flat * self.data_stride)?;
        Some(at..at + self.page_size)
    }

    /// The spare bytes of flat page `flat`, if it is in range. They come
    /// after its data in every version.
    pub(crate) fn spare(&self, flat: u64) -> Option<Range<u64>> {
        let at = (flat < self.pages()).then(|| self.spares + flat * self.spare_stride)?;
        Some(at..at + self.oob_size)
    }

    /// From the first to the last byte of `block`'s page data, and the
    /// same of its spares, if it is in range: what an erase may give back.
    /// In an interleaved version the two overlap (each holds the other's
    /// bytes but for one page).
    pub(crate) fn block_pages(&self, block: u64) -> Option<[Range<u64>; 2]> {
        let first = self.flat_page(block, 0)?;
        let last = self.flat_page(block, self.pages_per_block.checked_sub(1)?)?;
        Some([
            self.data(first)?.start..self.data(last)?.end,
            self.spare(first)?.start..self.spare(last)?.end,
        ])
    }

    /// Both tables with the padding between them: from the block table to
    /// the first page's data.
    pub(crate) fn tables(&self) -> Range<u64> {
        self.block_table..self.data
    }

    /// Splits the bytes of [`Layout::tables`] into the block table and the
    /// page-state table, each exactly as long as the geometry needs (the
    /// padding after each is left out); `None` if `tables` is too short.
    pub(crate) fn split_tables<'a>(&self, tables: &'a [u8]) -> Option<(&'a [u8], &'a [u8])> {
        let blocks_len = usize::try_from(self.blocks * BLOCK_ENTRY_LEN).ok()?;
        let states_at = usize::try_from(self.page_states - self.block_table).ok()?;
        let states_len = usize::try_from(self.pages()).ok()?;
        let block_table = tables.get(..blocks_len)?;
        let page_states = tables.get(states_at..states_at.checked_add(states_len)?)?;
        Some((block_table, page_states))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ftl_core::format::oob;
    use proptest::prelude::*;

    const INTERLEAVED: [Version; 2] = [Version::V1 { op: 20 }, Version::V2];

    #[test]
    fn layout_is_aligned_and_sized() {
        let g = Geometry::small(16, 8);
        let l = Layout::new(&g, Version::V3).unwrap();
        assert_eq!(l.block_table, 4096);
        assert_eq!(l.page_states, 8192);
        assert_eq!(l.data, 12288);
        assert_eq!(l.spares, 12288 + 16 * 8 * 16384);
        assert_eq!(l.total, l.spares + 16 * 8 * 128);
        for v in INTERLEAVED {
            let l = Layout::new(&g, v).unwrap();
            assert_eq!((l.block_table, l.page_states, l.data), (4096, 8192, 12288));
            assert_eq!(l.spares, 12288 + 16384);
            assert_eq!(l.total, 12288 + 16 * 8 * (16384 + 128));
        }
    }

    #[test]
    fn regions_are_in_range_or_none() {
        let g = Geometry::small(16, 8);
        let l = Layout::new(&g, Version::V3).unwrap();
        assert_eq!(l.block_entry(2), Some(4096 + 16..4096 + 24));
        assert_eq!(l.block_entry(16), None);
        assert_eq!(l.flat_page(4, 1), Some(33));
        assert_eq!(l.flat_page(4, 8), None);
        assert_eq!(l.flat_page(16, 0), None);
        assert_eq!(l.page_state(33), Some(8192 + 33));
        assert_eq!(l.page_state(128), None);
        assert_eq!(l.data(1), Some(12288 + 16384..12288 + 2 * 16384));
        assert_eq!(l.spare(1), Some(l.spares + 128..l.spares + 256));
        assert_eq!(l.spare(127).unwrap().end, l.total);
        assert_eq!(l.data(127).unwrap().end, 12288 + 128 * 16384);
        assert_eq!((l.data(128), l.spare(128)), (None, None));
        assert_eq!(
            l.block_pages(2),
            Some([
                12288 + 16 * 16384..12288 + 24 * 16384,
                l.spares + 16 * 128..l.spares + 24 * 128
            ])
        );
        assert_eq!(l.block_pages(16), None);
        let tables = vec![0u8; (l.tables().end - l.tables().start) as usize];
        let (blocks, states) = l.split_tables(&tables).unwrap();
        assert_eq!((blocks.len(), states.len()), (16 * 8, 128));
        assert_eq!(l.split_tables(&tables[..4096 + 127]), None);
    }

    /// Versions 1 and 2 keep their records: page 33's data then spare at
    /// 12288 + 33 × (16384 + 128), as the drawing of those versions says.
    #[test]
    fn interleaved_versions_keep_their_records() {
        let g = Geometry::small(16, 8);
        for v in INTERLEAVED {
            let l = Layout::new(&g, v).unwrap();
            let at = 12288 + 33 * (16384 + 128);
            assert_eq!(l.data(33), Some(at..at + 16384));
            assert_eq!(l.spare(33), Some(at + 16384..at + 16384 + 128));
            assert_eq!(l.spare(127).unwrap().end, l.total);
            assert_eq!(
                l.block_pages(4),
                Some([
                    12288 + 32 * 16512..12288 + 39 * 16512 + 16384,
                    12288 + 32 * 16512 + 16384..12288 + 40 * 16512
                ])
            );
            assert_eq!((l.data(128), l.spare(128)), (None, None));
        }
    }

    /// Usable geometries of every shape, a few hundred pages at most.
    fn geometry() -> impl Strategy<Value = Geometry> {
        (1u32..=16, 1u32..=24, 9u32..=14, 1u32..=8, 0u32..=300).prop_map(
            |(bpp, ppb, shift, spp, spare)| {
                let sector_size = 1 << shift;
                Geometry {
                    channels: 1,
                    dies_per_channel: 1,
                    planes_per_die: 1,
                    blocks_per_plane: bpp,
                    pages_per_block: ppb,
                    page_size: sector_size * spp,
                    sector_size,
                    oob_size: oob::record_len(spp as usize) as u32 + spare,
                }
            },
        )
    }

    proptest! {
        /// Every page's data and spare are inside the image, after the
        /// tables, and no byte is shared; in version 3 the data tile their
        /// region from its start, then the spares theirs up to the end,
        /// each region on a HEADER_BLOCK boundary; in versions 1 and 2 each
        /// spare follows its data and the next page's data follows it.
        #[test]
        fn pages_tile_their_regions(g in geometry()) {
            prop_assume!(g.validate().is_ok());
            for v in [Version::V1 { op: 20 }, Version::V2, Version::V3] {
                let l = Layout::new(&g, v).unwrap();
                let pages = u64::from(g.total_blocks()) * u64::from(g.pages_per_block);
                let mut ranges = Vec::new();
                for f in 0..pages {
                    let (d, s) = (l.data(f).unwrap(), l.spare(f).unwrap());
                    prop_assert_eq!(d.end - d.start, u64::from(g.page_size));
                    prop_assert_eq!(s.end - s.start, u64::from(g.oob_size));
                    prop_assert!(d.end <= s.start, "spare after data");
                    if v.interleaved() {
                        prop_assert_eq!(d.end, s.start);
                        if let Some(next) = l.data(f + 1) {
                            prop_assert_eq!(s.end, next.start);
                        }
                    } else {
                        prop_assert_eq!(d.start, l.data + f * u64::from(g.page_size));
                        prop_assert_eq!(s.start, l.spares + f * u64::from(g.oob_size));
                    }
                    ranges.push(d);
                    ranges.push(s);
                }
                prop_assert_eq!(l.data(pages), None);
                prop_assert_eq!(l.spare(pages), None);
                // Sorted, the pages' bytes never overlap, start right after
                // the tables and end the image.
                ranges.sort_by_key(|r| r.start);
                prop_assert_eq!(ranges[0].start, l.tables().end);
                prop_assert_eq!(ranges[ranges.len() - 1].end, l.total);
                let mut gaps = 0;
                for w in ranges.windows(2) {
                    prop_assert!(w[0].end <= w[1].start, "{:?} overlaps {:?}", w[0], w[1]);
                    gaps += w[1].start - w[0].end;
                }
                prop_assert_eq!(l.data % HEADER_BLOCK, 0);
                if v.interleaved() {
                    prop_assert_eq!(gaps, 0);
                } else {
                    // Only the padding that aligns the spare region.
                    prop_assert_eq!(l.spares % HEADER_BLOCK, 0);
                    let data_end = l.data(pages - 1).unwrap().end;
                    prop_assert!(l.spares - data_end < HEADER_BLOCK);
                    prop_assert_eq!(gaps, l.spares - data_end);
                }
                for b in 0..u64::from(g.total_blocks()) {
                    let [d, s] = l.block_pages(b).unwrap();
                    let first = l.flat_page(b, 0).unwrap();
                    let last = l.flat_page(b, u64::from(g.pages_per_block) - 1).unwrap();
                    prop_assert_eq!(d, l.data(first).unwrap().start..l.data(last).unwrap().end);
                    prop_assert_eq!(s, l.spare(first).unwrap().start..l.spare(last).unwrap().end);
                }
            }
        }
    }
}
