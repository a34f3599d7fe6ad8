//! zcftl's flash translation layer: the cache tables of patent CN104636285B
//! (slot pool, write mapping table, read mapping table, cache metadata record
//! and status tables) over a page-level FTL with garbage collection, wear
//! leveling, bad-block handling, TRIM and flush.
//!
//! No I/O, no threads, no clock: the NAND sits behind [`Nand`], time and
//! randomness come from the caller. `#![no_std]` + `alloc` unless the `std`
//! feature is on; every table is sized at [`Ftl`] construction and the I/O
//! paths allocate nothing afterwards.
#![cfg_attr(not(any(feature = "std", test)), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod addr;
pub mod geometry;
pub mod nand;
pub mod oob;

pub use addr::{BlockIdx, Handle, Lba, Ppa, Seq, SlotId};
pub use geometry::{Geometry, GeometryError, MAX_SECTORS_PER_PAGE};
pub use nand::{Nand, NandError, NandErrorKind, ReadStatus};
