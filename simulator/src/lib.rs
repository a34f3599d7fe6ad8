//! zcftl's NAND simulator: a [`SimNand`] that implements
//! [`ftl_core::Nand`] strictly, over RAM or a memory-mapped image file, with
//! seeded faults and power cuts for crash testing.
//!
//! ```
//! use ftl_core::{BlockIdx, Geometry, Nand, NandError, NandErrorKind, Ppa};
//! use simulator::{SimNand, SimOptions};
//!
//! let geo = Geometry::small(16, 4); // 16 blocks × 4 pages × 16 KiB
//! let mut nand = SimNand::new_ram(geo, SimOptions::with_seed(1))?;
//! let (a, b) = (vec![1u8; 8192], vec![2u8; 8192]);
//! nand.program_page(Ppa::new(BlockIdx(0), 0), &[&a, &b], &[0xA5; 16])?;
//!
//! // A second program of the same page breaks the rules: refused, counted.
//! let e = nand.program_page(Ppa::new(BlockIdx(0), 0), &[&a, &b], &[]).unwrap_err();
//! assert_eq!(e.kind(), NandErrorKind::ProgramOrder);
//! assert_eq!(nand.stats().violations, 1);
//!
//! // Cut the power during the next mutating operation, then reboot.
//! nand.power_cut_after(0);
//! let e = nand.erase_block(BlockIdx(0)).unwrap_err();
//! assert_eq!(e.kind(), NandErrorKind::PowerLoss);
//! assert_eq!(nand.last_cut().unwrap().op_index, 2);
//! nand.power_restore();
//! nand.erase_block(BlockIdx(0))?; // the half-erased block must be erased again
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The model
//!
//! An array of erase blocks of pages, each page `page_size` data bytes plus
//! `oob_size` spare bytes, shaped by an [`ftl_core::Geometry`]. Every page
//! is *erased*, *programmed* or *torn* (indeterminate); every block has an
//! erase count and bad / factory-bad / needs-erase flags. The rules
//! (enforced in `media.rs`):
//!
//! - program only an erased page, and only the next one of its block (all
//!   lower pages programmed or torn; no skipping) — else `ProgramOrder`;
//! - a block whose erase failed or was cut must be erased before programs;
//! - erase makes every page of a block erased and counts a P/E cycle;
//! - erased pages read all 0xFF, data and spare;
//! - any read, program or erase of a block marked bad — `BadBlock`;
//! - addresses or buffers outside the geometry — `OutOfBounds`.
//!
//! A refused call changes nothing, returns its error, and is counted in
//! [`SimStats::violations`]; nothing in the simulator panics on a caller's
//! mistake or on bytes read from an image.
//!
//! # The image
//!
//! RAM and file backing share one byte layout (drawn in `src/format/`): a
//! 4 KiB header (magic `ZCFTLNND`, version, geometry, creation seed, crc32;
//! little-endian), then a block table, a page-state table, the pages' data
//! and last their spare areas (versions 1 and 2 interleaved the two as page
//! records, and still open as such). A file image is mapped `MAP_SHARED` and held under an exclusive
//! `flock`; [`Nand::sync`](ftl_core::Nand::sync) is `msync(MS_SYNC)` plus
//! `fsync`. State lives in the image, so a reopened image enforces the same
//! rules (a torn page stays torn). Opening validates the header, the size
//! and the tables through a read-only handle before mapping anything
//! writable: a foreign, damaged, truncated or busy file is refused with an
//! [`ImageError`] and never modified.
//!
//! An array may be split into equal partitions, one FTL each (the count is
//! in the header): [`SimNand::into_parts`] gives a [`NandPart`] per
//! partition, sharing the array behind a mutex.
//!
//! The mapping is [`mmap::Mapping`], the workspace's one memory-map
//! wrapper and the crate's only `unsafe` code; ftl-ublk maps its slot pool
//! and crash journal with it too.
//!
//! # The fault model
//!
//! One `u64` seed in [`SimOptions`] drives every random choice; each kind of
//! fault draws from its own SplitMix64 stream (see `rng.rs`), so the same
//! seed and the same operations give the same run, and enabling one fault
//! does not reshuffle another. No clock, no threads, no hash-map order.
//!
//! - **Factory bad blocks**, a count drawn from the seed (never block 0) or
//!   an explicit list, marked when an array is created.
//! - **Wear-out**: with `pe_endurance = Some(n)`, a block's erase after `n`
//!   completed erases fails with `EraseFailed`, and so does every later one.
//! - **Program / erase failures** with a probability in ppm. A failed
//!   program leaves its page torn; a failed erase leaves the block's pages
//!   as they were but the block needing an erase.
//! - **Bit errors** on reads of programmed pages: uniform
//!   `0..=max_bit_errors_per_read` per read; ≤ `ecc_correctable_bits` is
//!   corrected (data intact, [`ReadStatus`](ftl_core::ReadStatus)
//!   `corrected_bits`); more starts read retry, each step lowering the count
//!   a little (`retries`); still too many after `read_retries` steps is
//!   `Uncorrectable`, with the flipped bits left in the buffers. Bit errors
//!   are an overlay on what a read returns, never written to the medium.
//! - **Power cuts**: [`SimNand::power_cut_after`]`(n)` lets `n` more
//!   mutating operations (program, erase, bad-block mark) complete and
//!   interrupts the next: a program leaves its page erased, partly
//!   programmed or garbage (state torn); an erase leaves some pages erased
//!   and the others half-erased (torn), the block needing an erase; a mark
//!   lands or not. Every later call fails with `PowerLoss` until
//!   [`SimNand::power_restore`]; [`SimNand::last_cut`] says where and during
//!   what power failed, [`SimNand::ops_done`] counts completed mutating
//!   operations.
//!
//! Faults are kept apart from the pristine medium (the idea of
//! TigerBeetle's testing storage): `media` knows only state and rules,
//! `faults` and `power` decide what goes wrong and how a torn page looks.
//! These seeded faults live *inside* `SimNand` rather than in a wrapper
//! because a torn program or a half-erased block has to change the medium
//! below the trait; a wrapper can only refuse or pass a call through.
//! What a wrapper does well is targeted, scripted faults — "fail the next
//! erase of block 7" — on any [`Nand`](ftl_core::Nand), and that is
//! [`FaultyNand`]. [`TracingNand`] is the other wrapper: a flight recorder
//! of the last operations, for a failing test to print.
//!
//! # Workloads
//!
//! [`workload`] feeds a simulated device: seeded synthetic generators
//! (uniform, zipf, hot/cold, sequential) and streaming readers of real
//! block traces (MQSim's DiskSim ASCII, MSR Cambridge, blkparse), with the
//! helpers to fold a trace onto a device and to see a request in FTL
//! sectors.
#![warn(missing_docs)]
// Only the memory map (`mmap`) needs unsafe code; everything else is checked.
#![deny(unsafe_code)]

mod clock;
mod error;
mod faults;
mod faulty;
mod format;
pub mod image;
mod media;
#[allow(unsafe_code)]
pub mod mmap;
mod options;
mod part;
mod power;
mod reader;
pub mod replay;
mod rng;
mod sim;
pub mod ssd;
mod stats;
pub mod timing;
mod trace;
pub mod workload;

pub use error::{OpKind, SimError, Target};
pub use faulty::{FaultyError, FaultyNand, Injection};
pub use format::tables::PageState;
pub use image::ImageError;
pub use options::{FactoryBadBlocks, OptionsError, SimOptions};
pub use part::{partition_geometry, NandPart};
pub use power::{CutReport, PageTear, Tear};
pub use reader::ImageReader;
pub use sim::SimNand;
pub use stats::SimStats;
pub use trace::{TraceEntry, TracingNand};
