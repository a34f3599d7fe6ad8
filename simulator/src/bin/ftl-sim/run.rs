//! One `ftl-sim run`: build the [`Ssd`], precondition it, snapshot its
//! counters, drive the workload with [`replay_observed`], and hand the
//! measured phase's differences to the report.
//!
//! Everything measured comes from simulated time and the device's own
//! counters, so one configuration and seed give one result; the only wall
//! clock read is for the `wall_*` figures.

use std::fs::File;
use std::io::BufReader;
use std::time::Instant;

use ftl_core::Stats;
use indicatif::{ProgressBar, ProgressStyle};
use simulator::replay::{replay_observed, Pace, ReplayError};
use simulator::ssd::{Ssd, SsdCounters, SsdError};
use simulator::timing::TimingStats;
use simulator::workload::{
    FoldedSource, Folder, Generator, GeneratorConfig, Op, Request, RequestSource, TraceError,
    TraceReader, TraceStats,
};
use simulator::SimStats;

use crate::args::RunArgs;
use crate::config::Resolved;
use crate::hist::Latency;
use crate::Failure;

/// Requests a synthetic run makes when neither `--requests` nor `--writes`
/// says.
pub const DEFAULT_REQUESTS: u64 = 100_000;

/// Intervals the write amplification is reported over.
pub const INTERVALS: u64 = 20;

/// What the measured phase did: every counter as a difference from the
/// snapshot taken after preconditioning.
pub struct Measured {
    /// Requests served (a trace request split by folding counts each piece).
    pub requests: u64,
    /// Latency per op: read, write, trim, flush.
    pub latency: [Latency; 4],
    /// The first submission and the last completion, simulated ns.
    pub first_ns: u64,
    /// The last completion.
    pub last_done_ns: u64,
    /// The FTL's counters over the phase (gauges as at its end).
    pub ftl: Stats,
    /// The simulator's counters over the phase.
    pub nand: SimStats,
    /// The host side's counters over the phase.
    pub host: SsdCounters,
    /// The timeline's counters (restarted after preconditioning).
    pub timing: Option<TimingStats>,
    /// Erases of each block in the phase.
    pub erases_per_block: Vec<u32>,
    /// Erase counts of each block at the end (wear so far).
    pub erase_counts: Vec<u32>,
    /// Cumulative (requests, host sectors, NAND sectors, time) at the
    /// interval boundaries, the phase's start first.
    pub points: Vec<Point>,
    /// What the trace reader saw, for a trace.
    pub trace: Option<TraceStats>,
    /// Logical bytes of the device.
    pub logical_bytes: u64,
    /// Wall seconds preconditioning took.
    pub precondition_wall_s: f64,
    /// Wall seconds the measured phase took.
    pub run_wall_s: f64,
}

/// A snapshot at an interval boundary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Point {
    /// Requests completed.
    pub requests: u64,
    /// Sectors the host wrote (the FTL's count).
    pub host_sectors: u64,
    /// Sectors programmed to NAND (the FTL's count).
    pub nand_sectors: u64,
    /// The latest completion so far, simulated ns.
    pub time_ns: u64,
}

/// Stops a source once the writes it yielded reach `target` bytes
/// (`--writes`).
struct UntilWritten<S> {
    inner: S,
    target: u64,
    written: u64,
}

impl<S: RequestSource> RequestSource for UntilWritten<S> {
    fn next_request(&mut self) -> Result<Option<Request>, TraceError> {
        if self.written >= self.target {
            return Ok(None);
        }
        let r = self.inner.next_request()?;
        if let Some(req) = &r {
            if req.op == Op::Write {
                self.written += req.len_bytes;
            }
        }
        Ok(r)
    }
}

enum Source {
    Synthetic(Generator),
    Trace(FoldedSource<TraceReader<BufReader<File>>>),
}

impl RequestSource for Source {
    fn next_request(&mut self) -> Result<Option<Request>, TraceError> {
        match self {
            Source::Synthetic(g) => g.next_request(),
            Source::Trace(t) => t.next_request(),
        }
    }
}

/// How the interval boundaries are placed: at twentieths of a known total
/// (requests or bytes written), or, for a trace of unknown length, every
/// `step` requests with `step` doubling whenever 40 intervals fill up.
enum Boundaries {
    Requests { total: u64, next: u64 },
    WriteBytes { total: u64, next: u64 },
    Doubling { step: u64 },
}

impl Boundaries {
    fn kth(total: u64, k: u64) -> u64 {
        (u128::from(total) * u128::from(k)).div_ceil(u128::from(INTERVALS)) as u64
    }
}

/// Runs `args` on the device `cfg` describes, a progress bar on stderr
/// when it is a terminal and `--json` is off.
pub fn run(args: &RunArgs, cfg: &Resolved) -> Result<Measured, Failure> {
    run_with(args, cfg, !args.json)
}

/// [`run`], with a progress bar only if `progress`. Needs nothing but its
/// arguments, so a sweep runs one per grid point on its own thread.
pub fn run_with(args: &RunArgs, cfg: &Resolved, progress: bool) -> Result<Measured, Failure> {
    let w = &args.workload;
    let mut ssd = Ssd::new(&cfg.ssd).map_err(device_failure)?;
    let logical_bytes = ssd.logical_bytes();
    let stderr_bar = progress && std::io::IsTerminal::is_terminal(&std::io::stderr());

    // Preconditioning, outside simulated time.
    let t0 = Instant::now();
    if let Some(passes) = args.precondition {
        let spinner = stderr_bar.then(|| {
            let s = ProgressBar::new_spinner().with_message(format!(
                "preconditioning: sequential fill + {passes}x random writes"
            ));
            s.enable_steady_tick(std::time::Duration::from_millis(200));
            s
        });
        // Its own stream: the workload's seed is not consumed by it.
        let seed = args.seed ^ 0x5052_4543_4F4E_4431;
        ssd.precondition(passes, seed, cfg.ssd.timing)
            .map_err(|e| Failure::Run(format!("preconditioning failed: {e}")))?;
        if let Some(s) = spinner {
            s.finish_and_clear();
        }
    }
    let precondition_wall_s = match args.precondition {
        Some(_) => t0.elapsed().as_secs_f64(),
        None => 0.0,
    };

    let mut source = match &w.trace {
        Some(spec) => {
            let reader = spec.open().map_err(|e| Failure::Usage(e.to_string()))?;
            let folder = Folder::new(logical_bytes, ssd.sector_bytes())
                .map_err(|e| Failure::Usage(e.to_string()))?;
            Source::Trace(FoldedSource::new(reader, folder))
        }
        None => {
            if w.writes.is_some() && w.read_pct == 100 {
                return Err(Failure::Usage(
                    "--writes with --read-pct 100 would never end: use --requests".into(),
                ));
            }
            let g = Generator::new(GeneratorConfig {
                device_bytes: logical_bytes,
                block_sizes: w.bs.clone(),
                read_pct: w.read_pct,
                pattern: w.workload,
                seed: args.seed,
            })
            .map_err(|e| Failure::Usage(format!("--workload: {e}")))?;
            Source::Synthetic(g)
        }
    };
    let limit = match (&source, w.requests) {
        (_, Some(n)) => Some(n),
        (Source::Synthetic(_), None) if w.writes.is_none() => Some(DEFAULT_REQUESTS),
        _ => None,
    };
    let write_target = w
        .writes
        .map(|x| (x * logical_bytes as f64).ceil().max(1.0) as u64);
    let mut boundaries = match (limit, write_target) {
        (Some(total), _) => Boundaries::Requests { total, next: 1 },
        (None, Some(total)) => Boundaries::WriteBytes { total, next: 1 },
        (None, None) => Boundaries::Doubling { step: 1 },
    };
    let pace = if w.open_loop {
        Pace::Open {
            time_scale: w.time_scale.unwrap_or(1.0),
        }
    } else {
        Pace::Closed { qd: w.qd }
    };

    let bar = stderr_bar.then(|| match (limit, write_target) {
        (Some(n), _) => progress_bar(n, "{bar:40} {pos}/{len} requests ({eta} left)"),
        (None, Some(b)) => progress_bar(b, "{bar:40} {bytes}/{total_bytes} written ({eta} left)"),
        (None, None) => {
            let s = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {pos} requests ({elapsed})")
            {
                s.set_style(style);
            }
            s
        }
    });

    let stats0 = ssd.ftl().stats();
    let nand0 = ssd.nand_stats();
    let host0 = ssd.counters();
    let erases0 = ssd.erase_counts();
    let mut latency: [Latency; 4] = Default::default();
    let mut points = vec![Point {
        requests: 0,
        host_sectors: 0,
        nand_sectors: 0,
        time_ns: 0,
    }];
    let mut done_requests = 0u64;
    let mut written = 0u64;
    let mut latest = 0u64;

    let t1 = Instant::now();
    let mut src = match write_target {
        Some(target) => Box::new(UntilWritten {
            inner: &mut source,
            target,
            written: 0,
        }) as Box<dyn RequestSource + '_>,
        None => Box::new(&mut source),
    };
    let out = replay_observed(&mut ssd, &mut src, pace, limit, |ssd, req, at, done| {
        let op = match req.op {
            Op::Read => 0,
            Op::Write => 1,
            Op::Trim => 2,
            Op::Flush => 3,
        };
        latency[op].record(done - at);
        done_requests += 1;
        latest = latest.max(done);
        if req.op == Op::Write {
            written += req.len_bytes;
        }
        let snapshot = |ssd: &Ssd| {
            let s = ssd.ftl().stats();
            Point {
                requests: done_requests,
                host_sectors: s.host_sectors_written - stats0.host_sectors_written,
                nand_sectors: s.nand_sectors_written - stats0.nand_sectors_written,
                time_ns: latest,
            }
        };
        match &mut boundaries {
            Boundaries::Requests { total, next } | Boundaries::WriteBytes { total, next } => {
                let progress = if limit.is_some() {
                    done_requests
                } else {
                    written
                };
                if *next <= INTERVALS && progress >= Boundaries::kth(*total, *next) {
                    points.push(snapshot(ssd));
                    while *next <= INTERVALS && progress >= Boundaries::kth(*total, *next) {
                        *next += 1;
                    }
                }
            }
            Boundaries::Doubling { step } => {
                if done_requests % *step == 0 {
                    points.push(snapshot(ssd));
                    if points.len() > 2 * INTERVALS as usize {
                        // Keep every other boundary: 40 intervals become 20.
                        let kept: Vec<Point> = points.iter().copied().step_by(2).collect();
                        points = kept;
                        *step *= 2;
                    }
                }
            }
        }
        if let Some(b) = &bar {
            if done_requests % 1024 == 0 {
                b.set_position(if write_target.is_some() && limit.is_none() {
                    written
                } else {
                    done_requests
                });
            }
        }
    });
    drop(src);
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let out = out.map_err(|e| match e {
        ReplayError::Source(t) => Failure::Usage(t.to_string()),
        ReplayError::Device { .. } => Failure::Run(format!("the device failed: {e}")),
    })?;
    let run_wall_s = t1.elapsed().as_secs_f64();

    let end = ssd.ftl().stats();
    let last = Point {
        requests: out.requests,
        host_sectors: end.host_sectors_written - stats0.host_sectors_written,
        nand_sectors: end.nand_sectors_written - stats0.nand_sectors_written,
        time_ns: out.last_done_ns,
    };
    if points.last().map(|p| p.requests) != Some(last.requests) {
        points.push(last);
    }
    let erase_counts = ssd.erase_counts();
    let erases_per_block = erase_counts
        .iter()
        .zip(erases0.iter().chain(std::iter::repeat(&0)))
        .map(|(a, b)| a.saturating_sub(*b))
        .collect();
    Ok(Measured {
        requests: out.requests,
        latency,
        first_ns: out.first_ns,
        last_done_ns: out.last_done_ns,
        ftl: since(&end, &stats0),
        nand: ssd.nand_stats().since(&nand0),
        host: counters_since(&ssd.counters(), &host0),
        timing: ssd.timing_stats().cloned(),
        erases_per_block,
        erase_counts,
        points,
        trace: match &source {
            Source::Trace(t) => Some(t.inner().stats()),
            Source::Synthetic(_) => None,
        },
        logical_bytes,
        precondition_wall_s,
        run_wall_s,
    })
}

fn progress_bar(len: u64, template: &str) -> ProgressBar {
    let b = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(template) {
        b.set_style(style);
    }
    b
}

/// Building the device failed: a configuration the FTL refuses is the
/// user's to fix (exit 2), anything else a failure of the run.
fn device_failure(e: SsdError) -> Failure {
    match e {
        SsdError::Ftl(ftl_core::Error::Config(c)) => Failure::Usage(format!("configuration: {c}")),
        SsdError::Timing(t) => Failure::Usage(format!("[timing]: {t}")),
        e => Failure::Run(format!("cannot build the simulated SSD: {e}")),
    }
}

/// The FTL's counters between `before` and `after`; gauges (erase-count
/// range, RAM, dirty pages) as at `after`.
fn since(after: &Stats, before: &Stats) -> Stats {
    let d = |a: u64, b: u64| a.saturating_sub(b);
    Stats {
        host_sectors_written: d(after.host_sectors_written, before.host_sectors_written),
        host_sectors_read: d(after.host_sectors_read, before.host_sectors_read),
        nand_sectors_written: d(after.nand_sectors_written, before.nand_sectors_written),
        meta_sectors_written: d(after.meta_sectors_written, before.meta_sectors_written),
        nand_sectors_read: d(after.nand_sectors_read, before.nand_sectors_read),
        nand_pages_programmed: d(after.nand_pages_programmed, before.nand_pages_programmed),
        padded_pages: d(after.padded_pages, before.padded_pages),
        gc_runs: d(after.gc_runs, before.gc_runs),
        gc_moved_sectors: d(after.gc_moved_sectors, before.gc_moved_sectors),
        wear_level_moves: d(after.wear_level_moves, before.wear_level_moves),
        wear_level_moved_sectors: d(
            after.wear_level_moved_sectors,
            before.wear_level_moved_sectors,
        ),
        erases: d(after.erases, before.erases),
        cache_hits: d(after.cache_hits, before.cache_hits),
        cache_misses: d(after.cache_misses, before.cache_misses),
        loads_outside: d(after.loads_outside, before.loads_outside),
        loads_outside_dropped: d(after.loads_outside_dropped, before.loads_outside_dropped),
        bytes_copied: d(after.bytes_copied, before.bytes_copied),
        trimmed_sectors: d(after.trimmed_sectors, before.trimmed_sectors),
        flushes: d(after.flushes, before.flushes),
        program_failures: d(after.program_failures, before.program_failures),
        erase_failures: d(after.erase_failures, before.erase_failures),
        corrected_bits: d(after.corrected_bits, before.corrected_bits),
        checkpoints: d(after.checkpoints, before.checkpoints),
        trim_records: d(after.trim_records, before.trim_records),
        translation_pages_written: d(
            after.translation_pages_written,
            before.translation_pages_written,
        ),
        checkpoint_pages_written: d(
            after.checkpoint_pages_written,
            before.checkpoint_pages_written,
        ),
        summary_pages_written: d(after.summary_pages_written, before.summary_pages_written),
        map_cache_hits: d(after.map_cache_hits, before.map_cache_hits),
        map_cache_misses: d(after.map_cache_misses, before.map_cache_misses),
        map_pressure_write_backs: d(
            after.map_pressure_write_backs,
            before.map_pressure_write_backs,
        ),
        ..*after
    }
}

fn counters_since(after: &SsdCounters, before: &SsdCounters) -> SsdCounters {
    let d = |a: u64, b: u64| a.saturating_sub(b);
    SsdCounters {
        requests: [0, 1, 2, 3].map(|i| d(after.requests[i], before.requests[i])),
        host_read_bytes: d(after.host_read_bytes, before.host_read_bytes),
        host_write_bytes: d(after.host_write_bytes, before.host_write_bytes),
        rmw_reads: d(after.rmw_reads, before.rmw_reads),
        writes_stalled: d(after.writes_stalled, before.writes_stalled),
        stall_ns: d(after.stall_ns, before.stall_ns),
    }
}
