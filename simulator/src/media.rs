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
//! **Metadata-only** ([`Media::metadata_only`]): the backing has no data
//! region. Spare areas, page states, erase counts and bad marks are kept as
//! ever; a page's data is kept (off the backing, trimmed of its trailing
//! run of one byte) only if its spare area is not zcftl's record of a host
//! or relocated data page — so the FTL's checkpoints, trim records,
//! translation pages and summaries read back, and host data is dropped. A
//! page programmed with an erased spare (the second plane of a multi-plane
//! program, as `ftl_core::superblock` issues it) follows the page at the
//! same address on plane 0 of its die. Reading a page whose data was
//! dropped leaves the caller's buffers as they are; a torn page's data
//! reads as zeros.
//!
//! Every byte read from the image is decoded without trust: an unknown page
//! state reads as torn, and all slicing is checked, so a damaged image gives
//! errors, never a panic.

use ftl_core::format::oob::{OobError, PageRecord};
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
    /// Metadata-only: the data kept (`None`: every page's data is in the
    /// backing).
    kept: Option<KeptPages>,
}

/// The pages whose data a metadata-only medium keeps: a slot number per
/// flat page (4 bytes a page, 0 for none) into a slab, so a lookup costs
/// one index whatever the array's size.
#[derive(Debug)]
struct KeptPages {
    /// Per flat page: 1 + its index in `slab`, or 0.
    index: Vec<u32>,
    slab: Vec<Option<Kept>>,
    free: Vec<u32>,
    /// A page to gather a kept page's data in (no allocation per page).
    scratch: Vec<u8>,
}

impl KeptPages {
    fn new(pages: u64) -> KeptPages {
        KeptPages {
            index: vec![0; pages as usize],
            slab: Vec::new(),
            free: Vec::new(),
            scratch: Vec::new(),
        }
    }

    fn get(&self, flat: u64) -> Option<&Kept> {
        let i = *self.index.get(flat as usize)?;
        self.slab.get(i.checked_sub(1)? as usize)?.as_ref()
    }

    fn insert(&mut self, flat: u64, k: Kept) {
        self.remove(flat);
        let Some(at) = self.index.get_mut(flat as usize) else {
            return;
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.slab[i as usize] = Some(k);
                i
            }
            None => {
                self.slab.push(Some(k));
                (self.slab.len() - 1) as u32
            }
        };
        *at = i + 1;
    }

    fn remove(&mut self, flat: u64) {
        let Some(at) = self.index.get_mut(flat as usize) else {
            return;
        };
        if let Some(i) = at.checked_sub(1) {
            *at = 0;
            self.slab[i as usize] = None;
            self.free.push(i);
        }
    }
}

/// The data of a page a metadata-only medium keeps: its bytes up to the
/// last one that differs from its final byte, and that byte, which fills
/// the rest (a meta page's padding costs nothing).
#[derive(Debug)]
struct Kept {
    head: Box<[u8]>,
    fill: u8,
}

impl Kept {
    fn of(page: &[u8]) -> Kept {
        let fill = page.last().copied().unwrap_or(0);
        let n = page.iter().rposition(|&b| b != fill).map_or(0, |i| i + 1);
        Kept {
            head: page[..n].into(),
            fill,
        }
    }

    /// Writes the page into the scatter list `data`.
    fn read_into(&self, data: &mut [&mut [u8]]) {
        let mut off = 0;
        for buf in data.iter_mut() {
            let from = self.head.get(off..).unwrap_or(&[]);
            let n = from.len().min(buf.len());
            buf[..n].copy_from_slice(&from[..n]);
            buf[n..].fill(self.fill);
            off += buf.len();
        }
    }
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
            kept: None,
        };
        for b in 0..geo.total_blocks() {
            m.recompute_next(BlockIdx(b));
        }
        m
    }

    /// The same medium through its own mapping of the image file, for a
    /// partition that touches only its own blocks (`part.rs`); `None` for
    /// RAM or a metadata-only medium.
    pub(crate) fn share(&self) -> Option<std::io::Result<Media>> {
        if self.kept.is_some() {
            return None;
        }
        Some(self.backing.share()?.map(|backing| Media {
            geo: self.geo,
            layout: self.layout,
            backing,
            next_page: self.next_page.clone(),
            zeroed: self.zeroed.clone(),
            punch: self.punch,
            kept: None,
        }))
    }

    /// A fresh metadata-only medium over `backing`, which must be laid out
    /// by `Layout::metadata_only` (see the module's doc).
    pub(crate) fn metadata_only(geo: Geometry, layout: Layout, backing: Backing) -> Media {
        Media {
            kept: Some(KeptPages::new(layout.blocks * layout.pages_per_block)),
            ..Media::new(geo, layout, backing)
        }
    }

    /// Whether the medium stores spare areas but drops host data.
    pub(crate) fn is_metadata_only(&self) -> bool {
        self.kept.is_some()
    }

    /// Metadata-only: whether the data of `ppa`, programmed with `oob`,
    /// is kept (see the module's doc).
    fn keeps_data(&self, ppa: Ppa, oob: &[u8]) -> bool {
        // The FTL encoded this record a moment ago: its kind is enough (a
        // checksum per program was a seventieth of a metadata-only run).
        if let Some(kind) = PageRecord::peek_kind(oob) {
            return !kind.is_data();
        }
        match PageRecord::decode(oob) {
            Ok(rec) => !rec.kind.is_data(),
            Err(OobError::Erased) => {
                let (_, _, plane, _) = self.geo.block_location(ppa.block);
                if plane == 0 {
                    return true;
                }
                let first = BlockIdx(ppa.block.0 - u32::from(plane) * self.geo.blocks_per_plane);
                let sibling = self.flat(Ppa::new(first, ppa.page));
                match (&self.kept, sibling) {
                    (Some(kept), Some(flat)) => kept.get(flat).is_some(),
                    _ => true,
                }
            }
            Err(_) => true,
        }
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

    pub(crate) fn geometry(&self) -> Geometry {
        self.geo
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
        if self.kept.is_some() {
            let flat = self.flat(ppa).ok_or(OUT_OF_IMAGE)?;
            let keep = self.keeps_data(ppa, oob);
            let kept = self.kept.as_mut().ok_or(OUT_OF_IMAGE)?;
            if keep {
                let page = &mut kept.scratch;
                page.resize(self.geo.page_size as usize, 0);
                let n = gather(data, page);
                page[n..].fill(0);
                let k = Kept::of(page);
                kept.insert(flat, k);
            } else {
                kept.remove(flat);
            }
        }
        let zeroed = self.zeroed.get(ppa.block.0 as usize) == Some(&true);
        let (d, spare) = self.page_mut(ppa)?;
        if d.is_empty() {
            // Metadata-only: no data region.
        } else if zeroed {
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
        if let Some(kept) = &self.kept {
            let flat = self.flat(ppa).ok_or(OUT_OF_IMAGE)?;
            match kept.get(flat) {
                Some(k) if state == PageState::Programmed => k.read_into(data),
                Some(_) => data.iter_mut().for_each(|b| b.fill(0)),
                None if state == PageState::Torn => data.iter_mut().for_each(|b| b.fill(0)),
                // Dropped: the buffers are left as they are.
                None => {}
            }
        } else if !data.is_empty() {
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
        let first = self.layout.flat_page(u64::from(b.0), 0);
        if let (Some(kept), Some(first)) = (self.kept.as_mut(), first) {
            for flat in first..first + self.layout.pages_per_block {
                kept.remove(flat);
            }
        }
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

    /// A spare area holding zcftl's record of a page of `kind`.
    fn record(kind: ftl_core::format::oob::PageKind) -> Vec<u8> {
        use ftl_core::format::oob::{PageRecord, MAX_SECTORS_PER_PAGE, NO_LBA};
        let mut oob = vec![0xFF; 128];
        PageRecord {
            kind,
            seq: ftl_core::addr::Seq(1),
            erase_count: 0,
            data_crc: 0,
            sectors: 4,
            lbas: [NO_LBA; MAX_SECTORS_PER_PAGE],
        }
        .encode(&mut oob);
        oob
    }

    /// Metadata-only: spare areas and states are kept; the data of host
    /// pages is dropped, that of the FTL's own pages kept, and a page with
    /// an erased spare on plane 1 follows its sibling on plane 0.
    #[test]
    fn metadata_only_keeps_spares_and_the_ftls_own_pages() {
        use ftl_core::format::oob::PageKind;
        let geo = Geometry {
            planes_per_die: 2,
            ..Geometry::small(16, 4)
        };
        let layout = Layout::metadata_only(&geo).unwrap();
        let full = Layout::new(&geo, Version::V3).unwrap();
        assert!(layout.total < full.total / 16, "no data region");
        let backing = Backing::new_ram(&layout, &Header::new(geo, 0)).unwrap();
        let mut m = Media::metadata_only(geo, layout, backing);
        assert!(m.is_metadata_only());
        let bpp = geo.blocks_per_plane;
        let page: Vec<u8> = (0..16 * 1024).map(|i| (i % 251) as u8 + 1).collect();
        let mut padded = page.clone();
        padded[100..].fill(0);
        let read = |m: &Media, ppa: Ppa| {
            let (mut d, mut o) = (vec![0xEE; 16 * 1024], vec![0; 128]);
            let (head, tail) = d.split_at_mut(4096);
            let state = m.read(ppa, &mut [head, tail], &mut o);
            assert_eq!(state, Ok(PageState::Programmed));
            (d, o)
        };
        for (block, kind, data) in [
            (1, PageKind::Host, &page),
            (2, PageKind::Relocated, &page),
            (3, PageKind::Translation, &page),
            (4, PageKind::Summary, &padded),
        ] {
            let oob = record(kind);
            let (p0, p1) = (
                Ppa::new(BlockIdx(block), 0),
                Ppa::new(BlockIdx(block + bpp), 0),
            );
            m.program(p0, &[&data[..8192], &data[8192..]], &oob)
                .unwrap();
            m.program(p1, &[data], &[]).unwrap();
            let kept = !kind.is_data();
            let (d, o) = read(&m, p0);
            assert_eq!(o, oob, "{kind:?}: the spare area is kept");
            assert_eq!(d == *data, kept, "{kind:?} plane 0");
            assert_eq!(d.iter().all(|&b| b == 0xEE), !kept, "dropped: untouched");
            let (d, o) = read(&m, p1);
            assert!(o.iter().all(|&b| b == 0xFF));
            assert_eq!(d == *data, kept, "{kind:?} plane 1");
        }
        // An erase forgets what the block kept.
        m.erase(BlockIdx(3)).unwrap();
        let p = Ppa::new(BlockIdx(3), 0);
        m.program(p, &[&page], &record(PageKind::Host)).unwrap();
        assert!(read(&m, p).0.iter().all(|&b| b == 0xEE));
        // A torn page's data reads as zeros.
        m.set_page_state(Ppa::new(BlockIdx(4), 0), PageState::Torn)
            .unwrap();
        let (mut d, mut o) = (vec![0xEE; 16 * 1024], vec![0; 128]);
        m.read(Ppa::new(BlockIdx(4), 0), &mut [&mut d[..]], &mut o)
            .unwrap();
        assert!(d.iter().all(|&b| b == 0));
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
