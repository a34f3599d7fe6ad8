//! zcftl's flash translation layer: the cache tables of patent CN104636285B
//! (slot pool, write mapping table, read mapping table, cache metadata record
//! and status tables) over a page-level FTL with garbage collection, wear
//! leveling, bad-block handling, TRIM and flush.
//!
//! No I/O, no threads, no clock: the NAND sits behind [`Nand`], the cache
//! memory behind [`SlotMemory`]. `#![no_std]` + `alloc` unless the `std`
//! feature is on; every table is sized when the [`Ftl`] is built and the
//! read, write, trim, flush and GC paths allocate nothing afterwards.
//!
//! ```
//! use ftl_core::{Ftl, FtlConfig, Geometry, Handle, Lba, Segment, SlotMemory, SlotPool};
//! # use ftl_core::testing::RamNand;
//! let geo = Geometry::small(16, 8);
//! let nand = RamNand::new(geo);
//! let cfg = FtlConfig::default();
//! let pool = SlotPool::with_capacity(cfg.min_slots(&geo) + 64, geo.sector_size as usize);
//! let mut ftl = Ftl::format(nand, pool, cfg).unwrap();
//!
//! // Zero-copy write: the front end fills the granted slots in place.
//! let g = ftl.begin_write(Handle(0), Lba(7), 1).unwrap();
//! let slot = ftl.write_slots(&g)[0];
//! ftl.slot_memory_mut().slot_mut(slot).fill(0xAB);
//! ftl.commit_write(g).unwrap();
//!
//! // Zero-copy read: the data is served from the slot it sits in.
//! let r = ftl.begin_read(Handle(0), Lba(7), 1).unwrap();
//! let Segment::Slot(s) = ftl.read_segments(&r)[0] else { panic!() };
//! assert_eq!(ftl.slot_memory().slot(s)[0], 0xAB);
//! ftl.end_read(r);
//! ftl.flush().unwrap();
//! assert_eq!(ftl.stats().bytes_copied, 0);
//! ```
#![cfg_attr(not(any(feature = "std", test)), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod addr;
pub mod blocks;
pub mod cache_meta;
pub mod config;
pub mod error;
pub mod format;
mod ftl;
pub mod gc;
pub mod geometry;
pub mod layout;
pub mod map;
pub mod map_cache;
pub mod nand;
mod ram;
pub mod read_map;
pub mod slot;
pub mod stats;
pub mod superblock;
pub mod testing;
pub mod translation;
pub mod validity;
pub mod wear;
pub mod write_map;

pub use addr::{BlockIdx, Handle, Lba, Ppa, Psa, Seq, SlotId};
pub use config::{ConfigError, FtlConfig};
pub use error::Error;
pub use ftl::{Ftl, FtlResult, IntegrityError, LoadedPage, PageLoad, ReadGrant, ReadStep, Segment};
pub use gc::GcPolicy;
pub use geometry::{Geometry, GeometryError, MAX_SECTORS_PER_PAGE};
pub use nand::{Nand, NandError, NandErrorKind, ReadStatus};
pub use slot::{SlotMemory, SlotPool};
pub use stats::Stats;
pub use write_map::WriteGrant;
