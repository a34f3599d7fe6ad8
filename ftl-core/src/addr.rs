//! Newtypes for the kinds of number the FTL handles, so a block index is
//! never mistaken for a page, a sector or a slot.

use core::fmt;

/// A host logical sector address, in units of `Geometry::sector_size`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lba(pub u64);

/// A flat erase-block index (see [`crate::Geometry`] for the numbering).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct BlockIdx(pub u32);

/// A physical page address: a block and a page within it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Ppa {
    /// The erase block.
    pub block: BlockIdx,
    /// The page within the block, programmed in increasing order.
    pub page: u32,
}

/// A physical sector address: numbers every sector of the array,
/// `(block · pages_per_block + page) · sectors_per_page + i` (see
/// `layout::Layout`). The map's unit of "where an LBA lives on flash".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Psa(pub u32);

/// A cache slot: one sector-sized buffer of the slot pool (the patent's
/// "physical storage block").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SlotId(pub u32);

/// A command handle: the patent's "virtual logical storage block", e.g. a
/// ublk tag or a firmware command slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Handle(pub u32);

/// A program sequence number: strictly increasing over the device's life,
/// stamped into every page's OOB so recovery can order versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Seq(pub u64);

impl Ppa {
    /// The page `page` of `block`.
    pub const fn new(block: BlockIdx, page: u32) -> Self {
        Ppa { block, page }
    }
}

impl fmt::Display for Lba {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lba {}", self.0)
    }
}

impl fmt::Display for Ppa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "block {} page {}", self.block.0, self.page)
    }
}

impl fmt::Display for Psa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "psa {}", self.0)
    }
}

impl fmt::Display for BlockIdx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "block {}", self.0)
    }
}
