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
//!          done = end of data out
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
//!   gap before it to other dies' commands), see `calendar.rs`.
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
//! a later submission never delays an earlier one. That makes the channel
//! less than work-conserving: a transfer is booked when its operation is
//! submitted, so a gap shorter than a later transfer, left before an
//! earlier booking, stays idle. Channel-bound random reads level off at
//! 82–90 % of the channel bound however deep the queue (array-bound
//! workloads and sequential programs are unaffected); splitting transfers
//! across gaps, or submitting in order of readiness, would close it.
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
