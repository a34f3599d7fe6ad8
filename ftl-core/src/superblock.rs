//! [`Superblocks`]: a NAND array of many dies and planes presented to the
//! FTL as one die of large blocks, so its writes go to every die in turn.
//!
//! The FTL writes one block at a time per stream, page after page. Over a
//! single die that is all it can do; over many, it would keep one die busy
//! while the others idle. This adapter stripes instead of the FTL:
//!
//! - a **superpage** is one page on every plane of one die, at the same
//!   page offset: programmed and read as a multi-plane operation (the
//!   planes' pages consecutively, which a timed simulator books as one);
//! - a **superblock** is the blocks at the same index on every plane of
//!   every die; its superpage `p` lies on die `p mod dies`, page
//!   `p / dies` — consecutive superpages on different dies (channels
//!   first), each die's pages in order, as NAND requires.
//!
//! So the FTL (its allocator, GC, wear leveling, recovery, crash safety)
//! is unchanged: it sees `blocks_per_plane` blocks of `pages × dies` pages
//! of `page × planes` bytes. The price, as in SSDs that use superblocks:
//! GC and erases work on whole superblocks, and a bad block anywhere
//! retires its superblock (a virtual block is bad if any member is; marking
//! it marks them all). The FTL's spare-area record lives in the first
//! plane's spare area.
//!
//! Power cuts need nothing more: a superpage torn on one plane fails its
//! data checksum as a whole; a superblock erase cut part-way leaves an
//! indeterminate block, which the FTL erases again.

use core::fmt;

use crate::addr::{BlockIdx, Ppa};
use crate::geometry::{Geometry, MAX_SECTORS_PER_PAGE};
use crate::nand::{self, Nand, NandError, NandErrorKind, ReadStatus};

/// Most scatter-list pieces one plane's page may take (a list of slot
/// buffers, cut at plane boundaries).
const MAX_PIECES: usize = 2 * MAX_SECTORS_PER_PAGE + 1;

/// Why an array cannot be striped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SuperblockError {
    /// A superpage would hold more than [`MAX_SECTORS_PER_PAGE`] sectors
    /// (the page record's limit): fewer planes, or larger sectors.
    PageTooLarge {
        /// Sectors a superpage would hold.
        sectors: usize,
    },
    /// A superblock would have 2³² pages or more.
    TooManyPages,
    /// The width is 0 or does not divide the dies.
    Width {
        /// Dies asked for per superblock.
        width: u32,
        /// Dies in the array.
        dies: u32,
    },
}

/// Dies of `g`, all channels.
fn dies_of(g: &Geometry) -> u32 {
    u32::from(g.channels) * u32::from(g.dies_per_channel)
}

impl fmt::Display for SuperblockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SuperblockError::PageTooLarge { sectors } => write!(
                f,
                "a page on every plane holds {sectors} sectors; at most {MAX_SECTORS_PER_PAGE} fit the page record"
            ),
            SuperblockError::TooManyPages => f.write_str("a superblock would have 2^32 pages or more"),
            SuperblockError::Width { width, dies } => {
                write!(f, "superblocks of {width} dies do not divide {dies} dies")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for SuperblockError {}

#[cfg(feature = "std")]
impl<E: std::error::Error + 'static> std::error::Error for StripeError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StripeError::Nand(e) => Some(e),
            StripeError::OutOfBounds => None,
        }
    }
}

/// A [`Superblocks`] operation's error: the array's, or an address
/// outside the superblocks (never from the FTL, which checks its own).
#[derive(Debug)]
pub enum StripeError<E> {
    /// The striped array failed.
    Nand(E),
    /// An address or buffer outside the superblocks' geometry.
    OutOfBounds,
}

impl<E: NandError> NandError for StripeError<E> {
    fn kind(&self) -> NandErrorKind {
        match self {
            StripeError::Nand(e) => e.kind(),
            StripeError::OutOfBounds => NandErrorKind::OutOfBounds,
        }
    }
}

impl<E: fmt::Display> fmt::Display for StripeError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StripeError::Nand(e) => e.fmt(f),
            StripeError::OutOfBounds => f.write_str("address or buffer outside the superblocks"),
        }
    }
}

/// The NAND `N` as one die of superblocks (see the module's notes).
#[derive(Debug)]
pub struct Superblocks<N: Nand> {
    inner: N,
    phys: Geometry,
    virt: Geometry,
    /// Dies each superblock spans.
    width: u32,
}

impl<N: Nand> Superblocks<N> {
    /// Stripes `inner`'s dies and planes: every superblock spans every die.
    pub fn new(inner: N) -> Result<Self, SuperblockError> {
        let width = dies_of(&inner.geometry());
        Self::with_width(inner, width)
    }

    /// Superblocks of `width` dies each (every plane of them): the dies
    /// form `dies / width` groups, and superblock `b` lies in group
    /// `b mod groups` — the FTL's *lane* of `b` when it runs that many
    /// lanes (`FtlConfig::lanes`), so each lane's open block is on its own
    /// dies. Width 1 makes every die's multi-plane block an erase unit of
    /// its own.
    pub fn with_width(inner: N, width: u32) -> Result<Self, SuperblockError> {
        let phys = inner.geometry();
        let virt = Self::geometry_for_width(&phys, width)?;
        Ok(Superblocks {
            inner,
            phys,
            virt,
            width,
        })
    }

    /// The geometry the FTL sees over an array of geometry `phys`: one die
    /// of `blocks_per_plane` superblocks of `pages × dies` superpages of
    /// `page × planes` bytes.
    pub fn geometry_for(phys: &Geometry) -> Result<Geometry, SuperblockError> {
        Self::geometry_for_width(phys, dies_of(phys))
    }

    /// The geometry the FTL sees over `phys` in superblocks of `width`
    /// dies: `blocks_per_plane × dies / width` superblocks of
    /// `pages × width` superpages of `page × planes` bytes.
    pub fn geometry_for_width(phys: &Geometry, width: u32) -> Result<Geometry, SuperblockError> {
        let dies = dies_of(phys);
        if width == 0 || dies % width != 0 {
            return Err(SuperblockError::Width { width, dies });
        }
        let planes = u32::from(phys.planes_per_die);
        let sectors = phys.sectors_per_page() * planes as usize;
        if sectors > MAX_SECTORS_PER_PAGE {
            return Err(SuperblockError::PageTooLarge { sectors });
        }
        let pages = phys
            .pages_per_block
            .checked_mul(width)
            .ok_or(SuperblockError::TooManyPages)?;
        let blocks = phys
            .blocks_per_plane
            .checked_mul(dies / width)
            .ok_or(SuperblockError::TooManyPages)?;
        Ok(Geometry {
            channels: 1,
            dies_per_channel: 1,
            planes_per_die: 1,
            blocks_per_plane: blocks,
            pages_per_block: pages,
            page_size: phys.page_size * planes,
            sector_size: phys.sector_size,
            oob_size: phys.oob_size,
        })
    }

    /// Die groups: lanes an FTL over this array may run.
    pub fn groups(&self) -> u32 {
        self.dies() / self.width
    }

    /// The striped array.
    pub fn inner(&self) -> &N {
        &self.inner
    }

    /// The striped array, writable (tests cut its power, say).
    pub fn inner_mut(&mut self) -> &mut N {
        &mut self.inner
    }

    /// The striped array back.
    pub fn into_inner(self) -> N {
        self.inner
    }

    fn dies(&self) -> u32 {
        dies_of(&self.phys)
    }

    fn planes(&self) -> u32 {
        u32::from(self.phys.planes_per_die)
    }

    /// The physical block of superblock `b` on its die `die` (of its
    /// group's `width`), plane `plane`. Dies are counted channels first, so
    /// consecutive superpages, and consecutive groups, change channel first.
    fn member(&self, b: BlockIdx, die: u32, plane: u32) -> BlockIdx {
        let groups = self.groups();
        let (group, index) = (b.0 % groups, b.0 / groups);
        let die = group * self.width + die;
        let channels = u32::from(self.phys.channels);
        let (c, d) = (die % channels, die / channels);
        let flat_die = c * u32::from(self.phys.dies_per_channel) + d;
        BlockIdx((flat_die * self.planes() + plane) * self.phys.blocks_per_plane + index)
    }

    /// Plane `plane`'s physical page of superpage `ppa`.
    fn page_on(&self, ppa: Ppa, plane: u32) -> Ppa {
        Ppa::new(
            self.member(ppa.block, ppa.page % self.width, plane),
            ppa.page / self.width,
        )
    }

    /// Member `i` (die-major) of superblock `b`.
    fn nth_member(&self, b: BlockIdx, i: u32) -> BlockIdx {
        self.member(b, i / self.planes(), i % self.planes())
    }

    fn members(&self) -> u32 {
        self.width * self.planes()
    }

    fn check_block(&self, b: BlockIdx) -> Result<(), StripeError<N::Error>> {
        nand::check_block(&self.virt, b).map_err(|_| StripeError::OutOfBounds)
    }
}

/// The common case of [`pieces`]: buffers all of one length (a page's
/// slots) and `lo..hi` on their boundaries, so the part is whole buffers,
/// found by division. `None` otherwise.
fn whole_buffers(
    mut lens: impl Iterator<Item = usize>,
    lo: usize,
    hi: usize,
) -> Option<core::ops::Range<usize>> {
    let first = lens.next()?;
    let mut count = 1;
    for len in lens {
        if len != first {
            return None;
        }
        count += 1;
    }
    if first == 0 || lo % first != 0 || hi % first != 0 {
        return None;
    }
    Some((lo / first).min(count)..(hi / first).min(count))
}

/// The part of scatter list `bufs` between byte `lo` and `hi`, as pieces
/// (read-only).
fn pieces<'a>(bufs: &[&'a [u8]], lo: usize, hi: usize, out: &mut [&'a [u8]; MAX_PIECES]) -> usize {
    if let Some(r) = whole_buffers(bufs.iter().map(|b| b.len()), lo, hi) {
        let n = r.len().min(MAX_PIECES);
        out[..n].copy_from_slice(&bufs[r.start..r.start + n]);
        return n;
    }
    pieces_by_overlap(bufs, lo, hi, out)
}

/// [`pieces`] for any scatter list: each buffer's overlap with `lo..hi`.
fn pieces_by_overlap<'a>(
    bufs: &[&'a [u8]],
    lo: usize,
    hi: usize,
    out: &mut [&'a [u8]; MAX_PIECES],
) -> usize {
    let (mut at, mut n) = (0, 0);
    for &b in bufs {
        if let Some(r) = overlap(at, b.len(), lo, hi).filter(|_| n < MAX_PIECES) {
            out[n] = &b[r];
            n += 1;
        }
        at += b.len();
    }
    n
}

/// [`pieces`] of a writable scatter list (a read's destination).
fn pieces_mut<'a>(
    bufs: &'a mut [&mut [u8]],
    lo: usize,
    hi: usize,
    out: &mut [&'a mut [u8]; MAX_PIECES],
) -> usize {
    if let Some(r) = whole_buffers(bufs.iter().map(|b| b.len()), lo, hi) {
        let mut n = 0;
        for (o, b) in out.iter_mut().zip(bufs[r].iter_mut()) {
            *o = &mut **b;
            n += 1;
        }
        return n;
    }
    let (mut at, mut n) = (0, 0);
    for b in bufs.iter_mut() {
        let len = b.len();
        if let Some(r) = overlap(at, len, lo, hi).filter(|_| n < MAX_PIECES) {
            out[n] = &mut b[r];
            n += 1;
        }
        at += len;
    }
    n
}

/// The part of a buffer at byte `at` of `len` bytes inside `lo..hi`, as a
/// range of the buffer.
fn overlap(at: usize, len: usize, lo: usize, hi: usize) -> Option<core::ops::Range<usize>> {
    let (s, e) = (at.max(lo), (at + len).min(hi));
    (s < e).then(|| s - at..e - at)
}

impl<N: Nand> Nand for Superblocks<N> {
    type Error = StripeError<N::Error>;

    fn geometry(&self) -> Geometry {
        self.virt
    }

    /// Every plane's page of the superpage, in plane order; the spare
    /// area from the first plane's. A spare-only read reads the first
    /// plane alone.
    fn read_page(
        &mut self,
        ppa: Ppa,
        data: &mut [&mut [u8]],
        oob: &mut [u8],
    ) -> Result<ReadStatus, Self::Error> {
        nand::check_read_args(&self.virt, ppa, data, oob).map_err(|_| StripeError::OutOfBounds)?;
        if data.is_empty() {
            return self
                .inner
                .read_page(self.page_on(ppa, 0), data, oob)
                .map_err(StripeError::Nand);
        }
        let plane_bytes = self.phys.page_size as usize;
        let mut status = ReadStatus::default();
        for q in 0..self.planes() {
            let (lo, hi) = (q as usize * plane_bytes, (q as usize + 1) * plane_bytes);
            let mut out: [&mut [u8]; MAX_PIECES] = core::array::from_fn(|_| Default::default());
            let n = pieces_mut(data, lo, hi, &mut out);
            let spare: &mut [u8] = if q == 0 { &mut *oob } else { &mut [] };
            let st = self
                .inner
                .read_page(self.page_on(ppa, q), &mut out[..n], spare)
                .map_err(StripeError::Nand)?;
            status.corrected_bits += st.corrected_bits;
            status.retries = status.retries.max(st.retries);
        }
        Ok(status)
    }

    /// Every plane's page of the superpage, the FTL's spare area on the
    /// first plane.
    fn program_page(&mut self, ppa: Ppa, data: &[&[u8]], oob: &[u8]) -> Result<(), Self::Error> {
        nand::check_program_args(&self.virt, ppa, data, oob)
            .map_err(|_| StripeError::OutOfBounds)?;
        let plane_bytes = self.phys.page_size as usize;
        for q in 0..self.planes() {
            let mut out: [&[u8]; MAX_PIECES] = [&[]; MAX_PIECES];
            let (lo, hi) = (q as usize * plane_bytes, (q as usize + 1) * plane_bytes);
            let n = pieces(data, lo, hi, &mut out);
            let spare = if q == 0 { oob } else { &[] };
            self.inner
                .program_page(self.page_on(ppa, q), &out[..n], spare)
                .map_err(StripeError::Nand)?;
        }
        Ok(())
    }

    /// Erases every member block; the first failure is reported after all
    /// were tried (the FTL retires the superblock). A power loss stops at
    /// once.
    fn erase_block(&mut self, block: BlockIdx) -> Result<(), Self::Error> {
        self.check_block(block)?;
        let mut first = Ok(());
        for i in 0..self.members() {
            let b = self.nth_member(block, i);
            if let Err(e) = self.inner.erase_block(b) {
                if e.kind() == NandErrorKind::PowerLoss {
                    return Err(StripeError::Nand(e));
                }
                if first.is_ok() {
                    first = Err(StripeError::Nand(e));
                }
            }
        }
        first
    }

    /// Bad if any member is.
    fn is_bad_block(&mut self, block: BlockIdx) -> Result<bool, Self::Error> {
        self.check_block(block)?;
        for i in 0..self.members() {
            let b = self.nth_member(block, i);
            if self.inner.is_bad_block(b).map_err(StripeError::Nand)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Marks every member.
    fn mark_bad_block(&mut self, block: BlockIdx) -> Result<(), Self::Error> {
        self.check_block(block)?;
        for i in 0..self.members() {
            let b = self.nth_member(block, i);
            self.inner.mark_bad_block(b).map_err(StripeError::Nand)?;
        }
        Ok(())
    }

    fn sync(&mut self) -> Result<(), Self::Error> {
        self.inner.sync().map_err(StripeError::Nand)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scatter lists of 768 bytes: slots of one size, mixed sizes, fewer.
    const SHAPES: [&[usize]; 4] = [&[96; 8], &[64, 32, 96, 96], &[96; 3], &[48; 16]];
    /// Cuts on and off the slots' boundaries, and past the end.
    const CUTS: [(usize, usize); 6] = [
        (0, 192),
        (192, 384),
        (96, 288),
        (100, 200),
        (0, 768),
        (384, 900),
    ];

    /// `data` cut into buffers of `lens`.
    fn scatter_list<'a>(data: &'a [u8], lens: &[usize]) -> alloc::vec::Vec<&'a [u8]> {
        let mut at = 0;
        lens.iter()
            .map(|&l| {
                at += l;
                &data[at - l..at]
            })
            .collect()
    }

    /// The whole-buffer shortcut cuts a scatter list as the overlap walk
    /// does: slots of one size on and off their boundaries, mixed sizes.
    #[test]
    fn pieces_shortcut_matches_the_overlap_walk() {
        let data: alloc::vec::Vec<u8> = (0..=255u8).cycle().take(8 * 96).collect();
        for lens in SHAPES {
            let bufs = scatter_list(&data, lens);
            for (lo, hi) in CUTS {
                let (mut a, mut b) = ([&[][..]; MAX_PIECES], [&[][..]; MAX_PIECES]);
                let n = pieces(&bufs, lo, hi, &mut a);
                let m = pieces_by_overlap(&bufs, lo, hi, &mut b);
                assert_eq!(a[..n], b[..m], "{lens:?} {lo}..{hi}");
            }
        }
    }

    /// A read's destination is cut like a program's source: the same
    /// pieces, by offset and length, shortcut or not.
    #[test]
    fn pieces_mut_cuts_like_pieces() {
        const SIZE: usize = 8 * 96;
        for lens in SHAPES {
            for (lo, hi) in CUTS {
                let data = [0u8; SIZE];
                let base = data.as_ptr() as usize;
                let bufs = scatter_list(&data, lens);
                let at: usize = lens.iter().sum();
                let mut a = [&[][..]; MAX_PIECES];
                let n = pieces(&bufs, lo, hi, &mut a);
                let want: alloc::vec::Vec<(usize, usize)> = a[..n]
                    .iter()
                    .map(|p| (p.as_ptr() as usize - base, p.len()))
                    .collect();

                let mut mdata = [0u8; SIZE];
                let mbase = mdata.as_ptr() as usize;
                let mut mbufs: alloc::vec::Vec<&mut [u8]> = alloc::vec::Vec::new();
                let mut rest = &mut mdata[..at];
                for &l in lens {
                    let (head, tail) = rest.split_at_mut(l);
                    mbufs.push(head);
                    rest = tail;
                }
                let mut out: [&mut [u8]; MAX_PIECES] = core::array::from_fn(|_| Default::default());
                let m = pieces_mut(&mut mbufs, lo, hi, &mut out);
                let got: alloc::vec::Vec<(usize, usize)> = out[..m]
                    .iter()
                    .map(|p| (p.as_ptr() as usize - mbase, p.len()))
                    .collect();
                assert_eq!(got, want, "{lens:?} {lo}..{hi}");
            }
        }
    }
}
