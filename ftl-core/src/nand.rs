//! The one trait between the FTL and a NAND array.
//!
//! A firmware driver implements it over its controller (the scatter lists map
//! onto DMA descriptors: each buffer is one cache slot), the simulator over
//! memory or a file. Buffers are always the caller's: the trait never
//! allocates and never keeps a reference past the call.
//!
//! Scatter lists: `data` is a list of buffers whose lengths add up to exactly
//! `page_size`, filled (read) or drained (program) in order. A read with an
//! empty list reads only the spare area. `oob` may be shorter than
//! `oob_size`: a program pads it with 0xFF, a read fills only that prefix.

use core::fmt;

use crate::addr::{BlockIdx, Ppa};
use crate::geometry::Geometry;

/// What went wrong on the device, independent of the driver's error type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NandErrorKind {
    /// An address or buffer outside the geometry.
    OutOfBounds,
    /// A program that breaks NAND rules: a page already programmed, or a
    /// page out of order within its block.
    ProgramOrder,
    /// The device reported a program failure; the block should be retired.
    ProgramFailed,
    /// The device reported an erase failure; the block should be retired.
    EraseFailed,
    /// More bit errors than ECC can correct, even after read retry.
    Uncorrectable,
    /// The operation targeted a block marked bad.
    BadBlock,
    /// Power was lost: this and every later operation fail until restart.
    PowerLoss,
    /// Anything else (I/O error of a backing file, controller timeout, ...).
    Other,
}

impl fmt::Display for NandErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            NandErrorKind::OutOfBounds => "address or buffer out of bounds",
            NandErrorKind::ProgramOrder => "program violates page order",
            NandErrorKind::ProgramFailed => "program failed",
            NandErrorKind::EraseFailed => "erase failed",
            NandErrorKind::Uncorrectable => "uncorrectable read",
            NandErrorKind::BadBlock => "bad block",
            NandErrorKind::PowerLoss => "power lost",
            NandErrorKind::Other => "device error",
        };
        f.write_str(s)
    }
}

/// A driver's error: anything that can say which [`NandErrorKind`] it is.
pub trait NandError: fmt::Debug {
    /// The kind of failure.
    fn kind(&self) -> NandErrorKind;
}

impl NandError for NandErrorKind {
    fn kind(&self) -> NandErrorKind {
        *self
    }
}

/// What a successful read reports besides the data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadStatus {
    /// Bit errors ECC corrected in this page (0 on perfect media).
    pub corrected_bits: u32,
    /// Read-retry steps needed before ECC succeeded.
    pub retries: u32,
}

/// A NAND array. Methods take `&mut self`: the FTL issues one operation at a
/// time and a driver may keep per-operation state.
pub trait Nand {
    /// The driver's error type.
    type Error: NandError;

    /// The array's shape. Must not change while the FTL runs.
    fn geometry(&self) -> Geometry;

    /// Reads page `ppa` into the scatter list `data` and the spare area into
    /// `oob`. An erased page reads as all 0xFF.
    ///
    /// Power loss during a read changes nothing on the media.
    fn read_page(
        &mut self,
        ppa: Ppa,
        data: &mut [&mut [u8]],
        oob: &mut [u8],
    ) -> Result<ReadStatus, Self::Error>;

    /// Programs page `ppa` from the scatter list `data` (the cache slots)
    /// and `oob`. The page must be erased and every lower page of its block
    /// already programmed.
    ///
    /// Power loss during a program leaves the page indeterminate: it may
    /// read back erased, partly programmed or as garbage, and must not be
    /// trusted without its checksum.
    fn program_page(&mut self, ppa: Ppa, data: &[&[u8]], oob: &[u8]) -> Result<(), Self::Error>;

    /// Erases `block`: every page reads 0xFF again and may be programmed.
    ///
    /// Power loss during an erase leaves the block indeterminate: the FTL
    /// erases it again before use.
    fn erase_block(&mut self, block: BlockIdx) -> Result<(), Self::Error>;

    /// Whether `block` carries a bad-block mark (factory or grown).
    fn is_bad_block(&mut self, block: BlockIdx) -> Result<bool, Self::Error>;

    /// Marks `block` bad so it is never used again.
    fn mark_bad_block(&mut self, block: BlockIdx) -> Result<(), Self::Error>;

    /// Makes every completed program and erase durable (e.g. `msync` of a
    /// file image). A controller that programs synchronously does nothing.
    fn sync(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Checks a read's arguments against `geo`; shared by drivers.
pub fn check_read_args(
    geo: &Geometry,
    ppa: Ppa,
    data: &[&mut [u8]],
    oob: &[u8],
) -> Result<(), NandErrorKind> {
    if !geo.contains(ppa) || oob.len() > geo.oob_size as usize {
        return Err(NandErrorKind::OutOfBounds);
    }
    let total: usize = data.iter().map(|b| b.len()).sum();
    if !data.is_empty() && total != geo.page_size as usize {
        return Err(NandErrorKind::OutOfBounds);
    }
    Ok(())
}

/// Checks a program's arguments against `geo`; shared by drivers.
pub fn check_program_args(
    geo: &Geometry,
    ppa: Ppa,
    data: &[&[u8]],
    oob: &[u8],
) -> Result<(), NandErrorKind> {
    if !geo.contains(ppa) || oob.len() > geo.oob_size as usize {
        return Err(NandErrorKind::OutOfBounds);
    }
    let total: usize = data.iter().map(|b| b.len()).sum();
    if total != geo.page_size as usize {
        return Err(NandErrorKind::OutOfBounds);
    }
    Ok(())
}

/// Checks a block index against `geo`; shared by drivers.
pub fn check_block(geo: &Geometry, block: BlockIdx) -> Result<(), NandErrorKind> {
    if block.0 < geo.total_blocks() {
        Ok(())
    } else {
        Err(NandErrorKind::OutOfBounds)
    }
}

/// Copies `src` into the scatter list `dst` in order (a driver's helper: the
/// copy *is* the device transfer). Returns the bytes copied.
pub fn scatter(src: &[u8], dst: &mut [&mut [u8]]) -> usize {
    let mut off = 0;
    for buf in dst.iter_mut() {
        let n = buf.len().min(src.len() - off);
        buf[..n].copy_from_slice(&src[off..off + n]);
        off += n;
    }
    off
}

/// Copies the scatter list `src` into `dst` in order (a driver's helper).
/// Returns the bytes copied.
pub fn gather(src: &[&[u8]], dst: &mut [u8]) -> usize {
    let mut off = 0;
    for buf in src {
        let n = buf.len().min(dst.len() - off);
        dst[off..off + n].copy_from_slice(&buf[..n]);
        off += n;
    }
    off
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arg_checks() {
        let g = Geometry::small(8, 4);
        let a = [0u8; 8192];
        let b = [0u8; 8192];
        let ok: [&[u8]; 2] = [&a, &b];
        assert_eq!(
            check_program_args(&g, Ppa::new(BlockIdx(0), 3), &ok, &[0; 16]),
            Ok(())
        );
        assert_eq!(
            check_program_args(&g, Ppa::new(BlockIdx(0), 4), &ok, &[]),
            Err(NandErrorKind::OutOfBounds)
        );
        assert_eq!(
            check_program_args(&g, Ppa::new(BlockIdx(8), 0), &ok, &[]),
            Err(NandErrorKind::OutOfBounds)
        );
        assert_eq!(
            check_program_args(&g, Ppa::new(BlockIdx(0), 0), &ok[..1], &[]),
            Err(NandErrorKind::OutOfBounds)
        );
        assert_eq!(
            check_program_args(&g, Ppa::new(BlockIdx(0), 0), &ok, &[0; 129]),
            Err(NandErrorKind::OutOfBounds)
        );
        assert_eq!(
            check_read_args(&g, Ppa::new(BlockIdx(1), 1), &[], &[0; 8]),
            Ok(())
        );
        assert_eq!(
            check_block(&g, BlockIdx(8)),
            Err(NandErrorKind::OutOfBounds)
        );
    }

    #[test]
    fn scatter_gather_round_trip() {
        let src: alloc::vec::Vec<u8> = (0..100u8).collect();
        let (mut x, mut y) = ([0u8; 30], [0u8; 70]);
        assert_eq!(scatter(&src, &mut [&mut x, &mut y]), 100);
        let mut back = [0u8; 100];
        assert_eq!(gather(&[&x, &y], &mut back), 100);
        assert_eq!(&back[..], &src[..]);
    }
}
