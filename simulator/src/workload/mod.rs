//! Host workloads for the simulator: synthetic generators and real block
//! traces, both as a stream of [`Request`]s in bytes.
//!
//! ```
//! use simulator::workload::{BlockSizeMix, Folder, Generator, GeneratorConfig, Pattern, Op,
//!                           RequestSource};
//!
//! let cfg = GeneratorConfig {
//!     device_bytes: 1 << 30,
//!     block_sizes: "4K:70,64K:30".parse()?,
//!     read_pct: 30,
//!     pattern: "zipf:0.99".parse()?,
//!     seed: 42,
//! };
//! let mut gen = Generator::new(cfg)?;
//! let r = gen.next_request()?.expect("generators never end");
//! assert!(r.end_bytes() <= 1 << 30 && matches!(r.op, Op::Read | Op::Write));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Units
//!
//! A [`Request`] counts bytes: `offset_bytes` and `len_bytes` exactly as
//! the source gave them (traces in 512-byte sectors are multiplied by 512,
//! MSR's byte offsets are kept as they are). The FTL's sector may be 4 KiB;
//! [`SectorSpan`] turns a byte range into the FTL sectors it touches and the
//! partial head and tail a read-modify-write must fill — that is the
//! caller's business, not this layer's.
//!
//! # Time
//!
//! `arrival_ns` is the request's arrival in nanoseconds after the *first
//! request* of its source (so the first is 0). A trace's timestamps are
//! made non-decreasing: a timestamp earlier than the previous request's
//! (per-CPU clock skew in blktrace, say) takes the previous arrival and is
//! counted in [`TraceStats::backward_timestamps`]. Open-loop replay
//! schedules each request at `arrival_ns × time_scale`; closed-loop replay
//! ignores it. Generators are closed-loop sources: every `arrival_ns` is 0.
//!
//! # Addresses
//!
//! Sources report addresses as recorded, however large; [`Folder`] maps
//! them onto a device of a given size (each byte at its address modulo the
//! device size, a request crossing the end split in two) — see `fold.rs`.
//!
//! # Files
//!
//! - `spec.rs` — the CLI's strings: `--workload`, `--bs`, `--trace`;
//! - `generator.rs` — uniform, zipf, hot/cold and sequential generators;
//! - `zipf.rs` — the zipf sampler;
//! - `block_trace.rs` — streaming trace reading, [`TraceError`], [`open`];
//! - `disksim.rs`, `msr.rs`, `blkparse.rs` — one line of each format;
//! - `fold.rs` — folding onto a device; `sectors.rs` — [`SectorSpan`].

mod blkparse;
mod block_trace;
mod disksim;
mod fold;
mod generator;
mod msr;
mod sectors;
mod spec;
mod zipf;

use core::fmt;

pub use block_trace::{open, TraceError, TraceReader, TraceStats};
pub use fold::{FoldError, FoldedSource, Folder, Pieces};
pub use generator::{Generator, GeneratorConfig, GeneratorError};
pub use sectors::SectorSpan;
pub use spec::{parse_size, BlockSizeMix, Pattern, SpecError, TraceFormat, TraceSpec};
pub use zipf::{scramble, Zipf, MAX_ZIPF_EXPONENT};

/// The bytes of one sector as block traces count them.
pub const TRACE_SECTOR_BYTES: u64 = 512;

/// What a request asks of the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// Read `len_bytes` at `offset_bytes`.
    Read,
    /// Write `len_bytes` at `offset_bytes`.
    Write,
    /// Discard (TRIM) `len_bytes` at `offset_bytes`.
    Trim,
    /// Make every completed write durable; `offset_bytes` and `len_bytes`
    /// are 0.
    Flush,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Read => "read",
            Op::Write => "write",
            Op::Trim => "trim",
            Op::Flush => "flush",
        })
    }
}

/// One host request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Request {
    /// Nanoseconds after the source's first request (see the module docs).
    pub arrival_ns: u64,
    /// The operation.
    pub op: Op,
    /// The first byte addressed.
    pub offset_bytes: u64,
    /// How many bytes; never 0 for a read, write or trim from a source in
    /// this module (traces skip zero-length ones and count them).
    pub len_bytes: u64,
}

impl Request {
    /// One past the last byte addressed. Sources in this module never
    /// report a request whose end overflows `u64`.
    pub fn end_bytes(&self) -> u64 {
        self.offset_bytes.saturating_add(self.len_bytes)
    }
}

/// Anything that yields [`Request`]s one at a time: a [`Generator`], a
/// [`TraceReader`], a [`FoldedSource`] around either. Object safe, so the
/// CLI can hold a `Box<dyn RequestSource>`.
pub trait RequestSource {
    /// The next request, `Ok(None)` at the end of a trace (a generator
    /// never ends), or the first bad line of a trace. After an error the
    /// source is not meant to be read further.
    fn next_request(&mut self) -> Result<Option<Request>, TraceError>;
}

impl<S: RequestSource + ?Sized> RequestSource for Box<S> {
    fn next_request(&mut self) -> Result<Option<Request>, TraceError> {
        (**self).next_request()
    }
}

impl<S: RequestSource + ?Sized> RequestSource for &mut S {
    fn next_request(&mut self) -> Result<Option<Request>, TraceError> {
        (**self).next_request()
    }
}
