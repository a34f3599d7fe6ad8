//! The simulator's timing model: when each NAND operation completes, in
//! simulated nanoseconds, given the channels × dies × planes of a
//! [`Geometry`](ftl_core::Geometry) and a [`TimingConfig`].
//!
//! ```
//! use ftl_core::{BlockIdx, Geometry, Ppa};
//! use simulator::timing::{Timeline, TimingConfig};
//!
//! let geo = Geometry { channels: 2, dies_per_channel: 2, planes_per_die: 2, ..Geometry::default() };
//! let mut t = Timeline::new(geo, TimingConfig::default())?;
//! // A two-plane program on die 0 (blocks 0 and 256 are its planes 0 and 1) …
//! let p = t.program(0, &[Ppa::new(BlockIdx(0), 0), Ppa::new(BlockIdx(256), 0)])?;
//! // … and a 4 KiB read on channel 1, in parallel.
//! let r = t.read(0, &[Ppa::new(BlockIdx(1024), 7)], 4096)?;
//! assert!(r.done_ns < p.done_ns);
//! assert_eq!(r.done_ns, 290 + 75_000 + 12_301); // command + tR + 4 KiB at 333 MB/s
//! # Ok::<(), simulator::timing::TimingError>(())
//! ```
//!
//! Time is whatever the caller says: each operation is submitted at an
//! `at_ns` and the [`Timeline`] answers with a [`Completion`]. Nothing
//! here reads a clock or draws a random number, so one workload gives one
//! result. Submissions are expected in time order; one stamped before an
//! earlier submission is moved up to it ([`Timeline::now_ns`]), because
//! the past of the channels is forgotten.
//!
//! # The model
//!
//! Resources: each **channel** (a bus shared by its dies) and each
//! **plane** of each die, with two registers per plane when
//! `cache_register` is on (a data register beside the array and a cache
//! register facing the bus, as ONFI's cache operations have). An
//! operation names one page or block, or one per plane of a single die
//! (a multi-plane operation, same page offset for reads and programs).
//! Each phase starts at the earliest time its resources are free:
//!
//! ```text
//! read     planes   |──── tR ────|→ cache register (array free again)
//!          channel                 |cmd + data out ─ bytes/rate|
//!          done = end of data out   (or, paused once to fill a gap:
//!                                   |cmd + data| … |cmd + rest|)
//!
//! program  channel  |cmd + data in ─ bytes/rate|
//!          die      (all planes)               |──── tPROG ────|
//!          done = end of tPROG
//!
//! erase    channel  |cmd|
//!          die      (all planes) |─────────── tBERS ───────────|
//!          done = end of tBERS
//! ```
//!
//! - **Channel**: carries command cycles (`command_overhead_ns`) and data
//!   (`bytes / channel_bytes_per_s`); one thing at a time. Dies of one
//!   channel contend for it; different channels are fully parallel. It is
//!   booked earliest-fit (a read's data out, tR in the future, leaves the
//!   gap before it to other dies' commands), see `calendar.rs`. A read's
//!   data out may pause once, see below.
//! - **Read**: the array senses for tR as soon as the read's planes are
//!   free; the data then moves to the cache register (when that is free)
//!   and goes out over the channel when the channel is free, preceded by
//!   the command cycles. The array is held from the sense until the data
//!   is in the cache register, so a plane senses its next page while the
//!   last one drains (ONFI READ CACHE). The command is booked with the
//!   data out rather than before the sense because that is where a
//!   controller streaming cache reads sends it (the next 00h…31h goes in
//!   the same bus turn as the previous page's data out); booked before
//!   the sense, the next read of a plane would wait behind its own
//!   predecessor's data out and a die could never sense back to back. An
//!   idle read still costs tR + command + transfer; what this drops is
//!   only a command's wait for a congested channel before its sense. With
//!   `independent_plane_reads` a single-plane read holds only its plane
//!   (asynchronous independent plane reads, e.g. US11657861B2); without
//!   it, the whole die.
//! - **Paused data out**: the channel is booked when an operation is
//!   submitted, so a read can find its channel's future already holding
//!   other dies' transfers with gaps between them shorter than its own.
//!   Booked whole it would go after them and leave those gaps idle (one
//!   plane reading back to back leaves tR − transfer of every tR). Its
//!   data out may instead start in the first such gap that holds its
//!   command and at least 1 KiB, fill it, and resume after it, first-fit,
//!   with one more `command_overhead_ns` for the rest — when that ends
//!   sooner than the whole transfer would. What this assumes: a
//!   controller may stop reading a die's register at any byte (it stops
//!   toggling RE#), serve other dies of the channel, and come back for
//!   the rest with a column-addressed command (ONFI's Change Read Column
//!   Enhanced, 06h…E0h, selecting die, plane and column, then tCCS),
//!   priced as one more command. The page stays in its register
//!   meanwhile: the cache register (or, without one, the planes) stays
//!   busy until its last byte is out, so a plane never senses into a
//!   register whose page is still waiting. One pause at most: a
//!   [`Completion`] reports a read's channel use as two spans (`bus_in`
//!   the first piece, `bus_out` the rest), and more pieces measured no
//!   better on the channel-bound random reads of `tests/ssd_timing.rs`.
//!   Program data in and commands are never split.
//! - **Program**: command and data go in over the channel as soon as the
//!   named planes' cache registers are free, even while the die programs
//!   an earlier page (ONFI CACHE PROGRAM); tPROG starts when the data is
//!   in and every plane of the die is free, and holds the whole die. A
//!   multi-plane program moves all its pages in one transfer and programs
//!   them in one tPROG.
//! - **Erase**: the command goes out when the die is free; tBERS holds the
//!   whole die.
//! - Without `cache_register` a read holds its planes until its data has
//!   left and a program's data waits for the die — the die-granular flow
//!   of NVMeVirt's `ssd_advance_nand` (snu-csl/nvmevirt `ssd.c`), and of
//!   MQSim, which issues a command only to an idle die.
//!
//! Not modelled: LSB/CSB/MSB latency differences, suspend/resume, the
//! extra command cycles of each additional plane, ECC decode and the host
//! link (PCIe), and any scheduler: operations run in submission order, and
//! a later submission never delays an earlier one (its completion has
//! been answered). The channel is therefore not quite work-conserving: a
//! gap too short for a whole transfer, a first piece (a command and
//! 1 KiB) or a resumed rest stays idle, and a read that is ready sooner
//! never moves ahead of one already booked. With the
//! pause, channel-bound random reads reach 92–97 % of the channel bound
//! (82–90 % when every transfer went whole).
//!
//! [`TimingStats`] counts operations and bytes and sums each channel's and
//! plane's busy time.

mod calendar;
mod config;
mod stats;
mod timeline;

pub use config::{TimingConfig, TimingConfigError, MAX_LATENCY_NS};
pub use stats::TimingStats;
pub use timeline::{Completion, Span, TimedOp, Timeline, TimingError};

#[cfg(test)]
mod tests;
