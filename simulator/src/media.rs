//! The pristine medium: page and block state over an image's bytes, and the
//! NAND rules that guard it. Nothing here is random — faults and power cuts
//! ([`crate::faults`], [`crate::power`]) are laid over it from outside.
//!
//! Rules enforced (each refusal is a caller's violation):
//! - a block marked bad accepts no read, program or erase (`BadBlock`);
//! - a page is programmed only when erased and only when it is the next
//!   page of its block: every lower page programmed (or torn), no skipping
//!   (`ProgramOrder`);
//! - a block whose erase failed or was interrupted takes no program until it
//!   is erased again (`ProgramOrder`).
//!
//! Erased pages read as 0xFF, data and spare, whatever their bytes hold.
//!
//! Every byte read from the image is decoded without trust: an unknown page
//! state reads as torn, and all slicing is checked, so a damaged image gives
//! errors, never a panic.

use ftl_core::nand::{gather, scatter};
use ftl_core::{BlockIdx, Geometry, NandErrorKind, Ppa};

use crate::format::layout::Layout;
use crate::format::tables::{BlockEntry, PageState};
use crate::image::Backing;

/// A refused or impossible operation: the kind and a few words why.
pub(crate) type Refusal = (NandErrorKind, &'static str);

const OUT_OF_IMAGE: Refusal = (NandErrorKind::Other, "address outside the image bytes");

/// Page and block state over an image's bytes.
#[derive(Debug)]
pub(crate) struct Media {
    geo: Geometry,
    layout: Layout,
    backing: Backing,
    /// Per block: the page a program must target next (one past the highest
    /// non-erased page). Derived from the page states, never stored.
    next_page: Vec<u32>,
    /// Per block: its pages' data and spare bytes read as zeros since its
    /// last erase (holes punched in a file image), so programming a zero
    /// sector need not write it and a sparse image stays sparse. Never
    /// stored.
    zeroed: Vec<bool>,
    /// Whether erases punch holes (`SimNand::punch_erased_blocks`).
    punch: bool,
}

impl Media {
    /// The medium over `backing`, which must be `layout.total` bytes.
    pub(crate) fn new(geo: Geometry, layout: Layout, backing: Backing) -> Media {
        let mut m = Media {
            geo,
            layout,
            backing,
            next_page: vec![0; layout.blocks as usize],
            zeroed: vec![false; layout.blocks as usize],
            punch: false,
        };
        for b in 0..geo.total_blocks() {
            m.recompute_next(BlockIdx(b));
        }
        m
    }

    /// Erases punch holes in a file image from now on (`on`), or not.
    pub(crate) fn set_punch(&mut self, on: bool) {
        self.punch = on;
    }

    pub(crate) fn backing(&self) -> &Backing {
        &self.backing
    }

    pub(crate) fn layout(&self) -> Layout {
        self.layout
    }

    pub(crate) fn backing_mut(&mut self) -> &mut Backing {
        &mut self.backing
    }

    fn flat(&self, ppa: Ppa) -> Option<u64> {
        self.layout
            .flat_page(u64::from(ppa.block.0), u64::from(ppa.page))
    }

    /// `at` as a range of the backing's bytes, if they hold it.
    fn range(&self, at: core::ops::Range<u64>) -> Option<core::ops::Range<usize>> {
        let start = usize::try_from(at.start).ok()?;
        let end = usize::try_from(at.end).ok()?;
        (start <= end && end <= self.backing.bytes().len()).then_some(start..end)
    }

    /// The block-table entry of `b` (`None` out of range or undecodable).
    pub(crate) fn block(&self, b: BlockIdx) -> Option<BlockEntry> {
        let r = self.range(self.layout.block_entry(u64::from(b.0))?)?;
        BlockEntry::decode(&self.backing.bytes()[r]).ok()
    }

    fn set_block(&mut self, b: BlockIdx, e: BlockEntry) -> Result<(), Refusal> {
        let r = self
            .layout
            .block_entry(u64::from(b.0))
            .and_then(|at| self.range(at))
            .ok_or(OUT_OF_IMAGE)?;
        self.backing.bytes_mut()[r].copy_from_slice(&e.encode());
        Ok(())
    }

    /// The state of `ppa` (`None` out of range). An undecodable byte reads
    /// as torn: indeterminate is the only safe reading of a damaged state.
    pub(crate) fn page_state(&self, ppa: Ppa) -> Option<PageState> {
        if !self.geo.contains(ppa) {
            return None;
        }
        let at = self.layout.page_state(self.flat(ppa)?)?;
        let r = self.range(at..at + 1)?;
        Some(PageState::decode(self.backing.bytes()[r.start]).unwrap_or(PageState::Torn))
    }

    pub(crate) fn set_page_state(&mut self, ppa: Ppa, s: PageState) -> Result<(), Refusal> {
        let r = self
            .flat(ppa)
            .and_then(|flat| self.layout.page_state(flat))
            .and_then(|at| self.range(at..at + 1))
            .ok_or(OUT_OF_IMAGE)?;
        self.backing.bytes_mut()[r.start] = s.encode();
        Ok(())
    }

    /// Where `ppa`'s data and spare bytes are in the backing; the spare
    /// comes after the data (in every layout version).
    fn page_ranges(&self, ppa: Ppa) -> Option<(core::ops::Range<usize>, core::ops::Range<usize>)> {
        let flat = self.flat(ppa)?;
        let data = self.range(self.layout.data(flat)?)?;
        let spare = self.range(self.layout.spare(flat)?)?;
        (data.end <= spare.start).then_some((data, spare))
    }

    /// The data and the spare bytes of `ppa`, writable.
    pub(crate) fn page_mut(&mut self, ppa: Ppa) -> Result<(&mut [u8], &mut [u8]), Refusal> {
        let (data, spare) = self.page_ranges(ppa).ok_or(OUT_OF_IMAGE)?;
        let (head, tail) = self.backing.bytes_mut().split_at_mut(spare.start);
        Ok((&mut head[data], &mut tail[..spare.len()]))
    }

    fn page(&self, ppa: Ppa) -> Result<(&[u8], &[u8]), Refusal> {
        let (data, spare) = self.page_ranges(ppa).ok_or(OUT_OF_IMAGE)?;
        let bytes = self.backing.bytes();
        Ok((&bytes[data], &bytes[spare]))
    }

    /// Re-derives the next programmable page of `b` from its page states.
    pub(crate) fn recompute_next(&mut self, b: BlockIdx) {
        let mut next = 0;
        for p in 0..self.geo.pages_per_block {
            if self
                .page_state(Ppa::new(b, p))
                .is_some_and(|s| s != PageState::Erased)
            {
                next = p + 1;
            }
        }
        if let Some(slot) = self.next_page.get_mut(b.0 as usize) {
            *slot = next;
        }
    }

    /// Refuses any operation on a bad block. `b` must be in range.
    pub(crate) fn check_not_bad(&self, b: BlockIdx) -> Result<BlockEntry, Refusal> {
        let e = self.block(b).ok_or(OUT_OF_IMAGE)?;
        if e.is_bad() {
            return Err((NandErrorKind::BadBlock, "block is marked bad"));
        }
        Ok(e)
    }

    /// Checks the NAND rules for programming `ppa` (in range).
    pub(crate) fn check_program(&self, ppa: Ppa) -> Result<(), Refusal> {
        let e = self.check_not_bad(ppa.block)?;
        if e.needs_erase() {
            return Err((NandErrorKind::ProgramOrder, "block must be erased first"));
        }
        match self.page_state(ppa).ok_or(OUT_OF_IMAGE)? {
            PageState::Programmed => {
                return Err((NandErrorKind::ProgramOrder, "page is already programmed"))
            }
            PageState::Torn => return Err((NandErrorKind::ProgramOrder, "page is torn")),
            PageState::Erased => {}
        }
        let next = self
            .next_page
            .get(ppa.block.0 as usize)
            .copied()
            .ok_or(OUT_OF_IMAGE)?;
        if ppa.page != next {
            return Err((
                NandErrorKind::ProgramOrder,
                "page is not the next page of its block",
            ));
        }
        Ok(())
    }

    /// Programs `ppa` (already checked): data, then spare padded with 0xFF.
    pub(crate) fn program(&mut self, ppa: Ppa, data: &[&[u8]], oob: &[u8]) -> Result<(), Refusal> {
        let zeroed = self.zeroed.get(ppa.block.0 as usize) == Some(&true);
        let (d, spare) = self.page_mut(ppa)?;
        if zeroed {
            // The page reads as zeros already: write only what is not.
            let mut off = 0;
            for buf in data {
                let n = buf.len().min(d.len() - off);
                if buf[..n].iter().any(|&x| x != 0) {
                    d[off..off + n].copy_from_slice(&buf[..n]);
                }
                off += n;
            }
        } else {
            gather(data, d);
        }
        let n = oob.len().min(spare.len());
        spare[..n].copy_from_slice(&oob[..n]);
        spare[n..].fill(0xFF);
        self.set_page_state(ppa, PageState::Programmed)?;
        if let Some(slot) = self.next_page.get_mut(ppa.block.0 as usize) {
            *slot = ppa.page + 1;
        }
        Ok(())
    }

    /// Reads `ppa` (already checked) into `data` and `oob`; returns the
    /// page's state so the caller can decide which faults apply.
    pub(crate) fn read(
        &self,
        ppa: Ppa,
        data: &mut [&mut [u8]],
        oob: &mut [u8],
    ) -> Result<PageState, Refusal> {
        let state = self.page_state(ppa).ok_or(OUT_OF_IMAGE)?;
        if state == PageState::Erased {
            for buf in data.iter_mut() {
                buf.fill(0xFF);
            }
            oob.fill(0xFF);
            return Ok(state);
        }
        let (d, spare) = self.page(ppa)?;
        if !data.is_empty() {
            scatter(d, data);
        }
        let n = oob.len().min(spare.len());
        oob[..n].copy_from_slice(&spare[..n]);
        Ok(state)
    }

    /// Erases `b` (already checked): every page erased, one more P/E cycle.
    pub(crate) fn erase(&mut self, b: BlockIdx) -> Result<(), Refusal> {
        let mut e = self.block(b).ok_or(OUT_OF_IMAGE)?;
        for p in 0..self.geo.pages_per_block {
            self.set_page_state(Ppa::new(b, p), PageState::Erased)?;
        }
        e.erase_count = e.erase_count.saturating_add(1);
        e.set_needs_erase(false);
        self.set_block(b, e)?;
        self.recompute_next(b);
        // Its data and its spares (one span, twice, in an interleaved
        // version): zeroed only if both now read as zeros.
        let zeroed = match self.layout.block_pages(u64::from(b.0)) {
            Some([data, spare]) if self.punch => {
                let data = self.backing.discard(data);
                let spare = self.backing.discard(spare);
                data && spare
            }
            _ => false,
        };
        if let Some(slot) = self.zeroed.get_mut(b.0 as usize) {
            *slot = zeroed;
        }
        Ok(())
    }

    /// Flags `b` as needing an erase before any program (after a failed or
    /// interrupted erase).
    pub(crate) fn set_needs_erase(&mut self, b: BlockIdx) -> Result<(), Refusal> {
        let mut e = self.block(b).ok_or(OUT_OF_IMAGE)?;
        e.set_needs_erase(true);
        self.set_block(b, e)
    }

    /// Marks `b` bad; `factory` records that it came that way.
    pub(crate) fn mark_bad(&mut self, b: BlockIdx, factory: bool) -> Result<(), Refusal> {
        let mut e = self.block(b).ok_or(OUT_OF_IMAGE)?;
        e.set_bad(factory);
        self.set_block(b, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::header::{Header, Version};

    fn media_of(version: Version) -> Media {
        let geo = Geometry::small(16, 4);
        let layout = Layout::new(&geo, version).unwrap();
        let header = Header {
            version,
            ..Header::new(geo, 0)
        };
        let backing = Backing::new_ram(&layout, &header).unwrap();
        Media::new(geo, layout, backing)
    }

    fn media() -> Media {
        media_of(Version::V3)
    }

    /// In every version a page's data and spare go where the layout puts
    /// them, and read back from there.
    #[test]
    fn a_page_lands_where_the_layout_says() {
        for version in [Version::V1 { op: 20 }, Version::V2, Version::V3] {
            let mut m = media_of(version);
            let ppa = Ppa::new(BlockIdx(3), 0);
            let page: Vec<u8> = (0..16 * 1024).map(|i| (i % 251) as u8 + 1).collect();
            m.program(ppa, &[&page[..4096], &page[4096..]], &[7; 44])
                .unwrap();
            let flat = m.layout.flat_page(3, 0).unwrap();
            let data = m.layout.data(flat).unwrap();
            let spare = m.layout.spare(flat).unwrap();
            let bytes = m.backing.bytes();
            assert_eq!(&bytes[data.start as usize..data.end as usize], &page[..]);
            let spare = &bytes[spare.start as usize..spare.end as usize];
            assert_eq!(&spare[..44], &[7; 44]);
            assert!(spare[44..].iter().all(|&b| b == 0xFF), "{version:?}");
            let (mut d, mut o) = (vec![0; 16 * 1024], vec![0; 128]);
            m.read(ppa, &mut [&mut d[..]], &mut o).unwrap();
            assert_eq!((&d[..], &o[..]), (&page[..], spare));
        }
    }

    #[test]
    fn next_page_is_derived_from_states() {
        let mut m = media();
        let b = BlockIdx(2);
        let page = vec![0xA5u8; 16 * 1024];
        m.program(Ppa::new(b, 0), &[&page], &[1, 2]).unwrap();
        m.set_page_state(Ppa::new(b, 1), PageState::Torn).unwrap();
        m.recompute_next(b);
        assert_eq!(m.check_program(Ppa::new(b, 2)), Ok(()));
        assert_eq!(
            m.check_program(Ppa::new(b, 1)).unwrap_err().0,
            NandErrorKind::ProgramOrder
        );
        assert_eq!(
            m.check_program(Ppa::new(b, 3)).unwrap_err().0,
            NandErrorKind::ProgramOrder
        );
    }

    #[test]
    fn an_unknown_state_byte_reads_as_torn() {
        let mut m = media();
        let at = m.layout.page_states as usize + 5;
        m.backing.bytes_mut()[at] = 0x77;
        assert_eq!(
            m.page_state(Ppa::new(BlockIdx(1), 1)),
            Some(PageState::Torn)
        );
    }
}
