//! The report of one run: a [`Report`] built from the measured phase and
//! the configuration, printed as a human summary or as one JSON object
//! (`--json`; every key is listed in `simulator/README.md`).
//!
//! Rates divide by simulated seconds in floating point (MQSim divides
//! integers and reports 0 IOPS for runs under a second). Every figure is a
//! difference over the measured phase, except the configuration, the
//! `lifetime_*` erase counts and the wall-clock fields.

use std::fmt::Write as _;

use ftl_core::{GcPolicy, Geometry};
use serde::Serialize;
use simulator::timing::TimingConfig;

use crate::args::RunArgs;
use crate::config::Resolved;
use crate::hist::LatencySummary;
use crate::run::{Measured, Point};

/// Version of the JSON layout; raised when a key changes meaning or goes.
pub const SCHEMA: u32 = 1;

/// Buckets of the erase-count histogram, at most.
const ERASE_BUCKETS: u32 = 16;

const MIB: f64 = (1u64 << 20) as f64;

/// Everything `ftl-sim run` reports.
#[derive(Debug, Serialize)]
pub struct Report {
    pub schema: u32,
    pub requests: u64,
    pub reads: u64,
    pub writes: u64,
    pub trims: u64,
    pub flushes: u64,
    pub simulated_seconds: f64,
    pub wall_seconds: f64,
    pub precondition_wall_seconds: f64,
    pub sim_ios_per_wall_s: f64,
    pub host_read_bytes: u64,
    pub host_write_bytes: u64,
    pub host_read_mib_s: f64,
    pub host_write_mib_s: f64,
    pub read_iops: f64,
    pub write_iops: f64,
    pub write_amplification: f64,
    pub write_amplification_nand_counter: f64,
    pub meta_write_amplification: f64,
    pub meta_share: f64,
    pub translation_share: f64,
    pub host_sectors_written: u64,
    pub nand_sectors_written: u64,
    pub meta_sectors_written: u64,
    pub translation_sectors_written: u64,
    pub padded_pages: u64,
    pub gc_runs: u64,
    pub gc_moved_sectors: u64,
    pub wear_level_moves: u64,
    pub wear_level_moved_sectors: u64,
    pub erases: u64,
    pub cache_hit_rate: f64,
    pub cache_hits: u64,
    pub cache_misses: u64,
    pub rmw_reads: u64,
    pub writes_stalled: u64,
    pub write_stall_us: f64,
    pub channel_utilization: f64,
    pub die_utilization: f64,
    /// Each die's busy fraction, flat index `channel · dies_per_channel +
    /// die`: how evenly the FTL spreads its work.
    pub die_utilizations: Vec<f64>,
    pub latency_us: Latencies,
    pub wa_intervals: Vec<Interval>,
    pub erase_counts: EraseCounts,
    pub geometry: GeometryReport,
    pub op: OpReport,
    pub ftl: FtlReport,
    pub timing: TimingReport,
    pub workload: WorkloadReport,
    pub trace: Option<TraceReport>,
    pub config_file: Option<String>,
    /// The latency distributions behind the plots: only in a sweep's
    /// point reports and with `--plots`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_cdf_us: Option<LatencyCdfs>,
}

/// `latency_cdf_us`: `[quantile, µs]` pairs per operation type
/// ([`crate::hist::Latency::cdf`]; empty for an op that did not occur).
#[derive(Debug, Serialize)]
pub struct LatencyCdfs {
    pub read: Vec<(f64, f64)>,
    pub write: Vec<(f64, f64)>,
}

impl LatencyCdfs {
    /// The read and write distributions of `m`.
    pub fn of(m: &Measured) -> LatencyCdfs {
        LatencyCdfs {
            read: m.latency[0].cdf(),
            write: m.latency[1].cdf(),
        }
    }
}

/// `latency_us`: per operation type, submission to completion.
#[derive(Debug, Serialize)]
pub struct Latencies {
    pub read: LatencySummary,
    pub write: LatencySummary,
    pub trim: LatencySummary,
    pub flush: LatencySummary,
}

/// One of `wa_intervals`.
#[derive(Debug, Serialize)]
pub struct Interval {
    /// Requests completed in the interval.
    pub requests: u64,
    /// Simulated seconds at its end.
    pub end_seconds: f64,
    pub host_sectors: u64,
    pub nand_sectors: u64,
    /// nand / host (0 when the host wrote nothing in it).
    pub write_amplification: f64,
}

/// `erase_counts`: erases of each block in the measured phase, bucketed,
/// and the lifetime counts at its end.
#[derive(Debug, Serialize)]
pub struct EraseCounts {
    pub min: u32,
    pub max: u32,
    pub mean: f64,
    pub buckets: Vec<Bucket>,
    pub lifetime_min: u32,
    pub lifetime_max: u32,
    pub lifetime_mean: f64,
}

/// Blocks erased `from..=to` times.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct Bucket {
    pub from: u32,
    pub to: u32,
    pub blocks: u32,
}

#[derive(Debug, Serialize)]
pub struct GeometryReport {
    pub channels: u16,
    pub dies_per_channel: u16,
    pub planes_per_die: u16,
    pub blocks_per_plane: u32,
    pub pages_per_block: u32,
    pub page_size: u32,
    pub sector_size: u32,
    pub oob_size: u32,
    pub raw_bytes: u64,
    pub logical_bytes: u64,
}

/// `op`: over-provisioning in percent, (physical − logical) / logical.
#[derive(Debug, Serialize)]
pub struct OpReport {
    pub requested_pct: Option<f64>,
    pub effective_pct: f64,
    pub over_provisioning_percent: u8,
}

#[derive(Debug, Serialize)]
pub struct FtlReport {
    pub gc_policy: &'static str,
    pub gc_threshold_blocks: u32,
    pub wear_leveling_bound: u32,
    pub handles: u32,
    pub max_io_sectors: u32,
    pub prefill_slots: u16,
    pub checkpoint_interval_pages: u32,
    pub translation_entries: u32,
    pub translation_write_permille: u16,
    /// Block summaries per summary page, at most (0: as many as fit).
    pub summaries_per_page: u32,
    pub over_provisioning_percent: u8,
    pub map_budget_bytes: u64,
    pub cache_bytes: u64,
    /// `--metadata-only`: no data stored, no data checksums.
    pub metadata_only: bool,
    /// `--stripe`: `superblocks` or `dies`.
    pub stripe: &'static str,
    /// Open blocks per data stream (a lane per die with `dies`).
    pub lanes: u32,
    /// `--streams`: 2 (GC's moves apart from host writes) or 1.
    pub data_streams: u32,
    /// The host's capacity in sectors, as `--op` set it (0: from the
    /// percent).
    pub capacity_sectors: u64,
}

#[derive(Debug, Serialize)]
pub struct TimingReport {
    pub t_read_us: f64,
    pub t_prog_us: f64,
    pub t_erase_us: f64,
    pub channel_mib_s: f64,
    pub command_overhead_ns: u64,
    pub cache_register: bool,
    pub independent_plane_reads: bool,
}

#[derive(Debug, Serialize)]
pub struct WorkloadReport {
    /// `synthetic` or `trace`.
    pub source: &'static str,
    pub pattern: Option<String>,
    pub read_pct: Option<u8>,
    pub bs: Option<String>,
    pub trace: Option<String>,
    /// `closed` or `open`.
    pub pace: &'static str,
    pub qd: Option<u32>,
    pub time_scale: Option<f64>,
    pub seed: u64,
    pub precondition_random_passes: Option<f64>,
    pub requests_limit: Option<u64>,
    pub writes_limit_x: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct TraceReport {
    pub lines: u64,
    pub requests: u64,
    pub skipped_lines: u64,
    pub zero_length: u64,
    pub backward_timestamps: u64,
}

fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        0.0
    } else {
        a / b
    }
}

impl Report {
    /// The report of `m`, a run of `args` on `cfg`.
    pub fn new(args: &RunArgs, cfg: &Resolved, m: &Measured) -> Report {
        let geo = cfg.ssd.geometry;
        let spp = geo.sectors_per_page() as u64;
        let secs = m.last_done_ns.saturating_sub(m.first_ns) as f64 / 1e9;
        let f = &m.ftl;
        let host = f.host_sectors_written as f64;
        let translation_sectors = f.translation_pages_written * spp;
        let (channel_utilization, die_utilizations) = utilization(m, &geo);
        let die_utilization = ratio(
            die_utilizations.iter().sum::<f64>(),
            die_utilizations.len() as f64,
        );
        let w = &args.workload;
        Report {
            schema: SCHEMA,
            requests: m.requests,
            reads: m.host.requests[0],
            writes: m.host.requests[1],
            trims: m.host.requests[2],
            flushes: m.host.requests[3],
            simulated_seconds: secs,
            wall_seconds: m.run_wall_s,
            precondition_wall_seconds: m.precondition_wall_s,
            sim_ios_per_wall_s: ratio(m.requests as f64, m.run_wall_s),
            host_read_bytes: m.host.host_read_bytes,
            host_write_bytes: m.host.host_write_bytes,
            host_read_mib_s: ratio(m.host.host_read_bytes as f64 / MIB, secs),
            host_write_mib_s: ratio(m.host.host_write_bytes as f64 / MIB, secs),
            read_iops: ratio(m.host.requests[0] as f64, secs),
            write_iops: ratio(m.host.requests[1] as f64, secs),
            write_amplification: f.write_amplification(),
            write_amplification_nand_counter: ratio((m.nand.programs * spp) as f64, host),
            meta_write_amplification: f.meta_write_amplification(),
            meta_share: ratio(f.meta_sectors_written as f64, f.nand_sectors_written as f64),
            translation_share: ratio(translation_sectors as f64, f.nand_sectors_written as f64),
            host_sectors_written: f.host_sectors_written,
            nand_sectors_written: f.nand_sectors_written,
            meta_sectors_written: f.meta_sectors_written,
            translation_sectors_written: translation_sectors,
            padded_pages: f.padded_pages,
            gc_runs: f.gc_runs,
            gc_moved_sectors: f.gc_moved_sectors,
            wear_level_moves: f.wear_level_moves,
            wear_level_moved_sectors: f.wear_level_moved_sectors,
            erases: f.erases,
            cache_hit_rate: f.cache_hit_rate(),
            cache_hits: f.cache_hits,
            cache_misses: f.cache_misses,
            rmw_reads: m.host.rmw_reads,
            writes_stalled: m.host.writes_stalled,
            write_stall_us: m.host.stall_ns as f64 / 1000.0,
            channel_utilization,
            die_utilization,
            die_utilizations,
            latency_us: Latencies {
                read: m.latency[0].summary(),
                write: m.latency[1].summary(),
                trim: m.latency[2].summary(),
                flush: m.latency[3].summary(),
            },
            wa_intervals: intervals(&m.points),
            erase_counts: erase_counts(&m.erases_per_block, &m.erase_counts),
            geometry: GeometryReport {
                channels: geo.channels,
                dies_per_channel: geo.dies_per_channel,
                planes_per_die: geo.planes_per_die,
                blocks_per_plane: geo.blocks_per_plane,
                pages_per_block: geo.pages_per_block,
                page_size: geo.page_size,
                sector_size: geo.sector_size,
                oob_size: geo.oob_size,
                raw_bytes: geo.raw_bytes(),
                logical_bytes: m.logical_bytes,
            },
            op: OpReport {
                requested_pct: cfg.op.requested_pct,
                effective_pct: cfg.op.effective_pct,
                over_provisioning_percent: cfg.op.over_provisioning_percent,
            },
            ftl: ftl_report(cfg),
            timing: timing_report(&cfg.ssd.timing),
            workload: WorkloadReport {
                source: if w.trace.is_some() {
                    "trace"
                } else {
                    "synthetic"
                },
                pattern: w.trace.is_none().then(|| w.workload.to_string()),
                read_pct: w.trace.is_none().then_some(w.read_pct),
                bs: w.trace.is_none().then(|| bs_string(&w.bs)),
                trace: w
                    .trace
                    .as_ref()
                    .map(|t| format!("{}:{}", t.format, t.path.display())),
                pace: if w.open_loop { "open" } else { "closed" },
                qd: (!w.open_loop).then_some(w.qd),
                time_scale: w.open_loop.then(|| w.time_scale.unwrap_or(1.0)),
                seed: args.seed,
                precondition_random_passes: args.precondition,
                requests_limit: w.requests.or_else(|| {
                    (w.trace.is_none() && w.writes.is_none())
                        .then_some(crate::run::DEFAULT_REQUESTS)
                }),
                writes_limit_x: w.writes,
            },
            trace: m.trace.map(|t| TraceReport {
                lines: t.lines,
                requests: t.requests,
                skipped_lines: t.skipped_lines,
                zero_length: t.zero_length,
                backward_timestamps: t.backward_timestamps,
            }),
            config_file: cfg.config_file.as_ref().map(|p| p.display().to_string()),
            latency_cdf_us: None,
        }
    }

    /// The human summary.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let w = &self.workload;
        let what = match (&w.trace, &w.pattern) {
            (Some(t), _) => format!("trace {t}"),
            (None, Some(p)) => format!(
                "{p}, bs {}, {} % reads",
                w.bs.as_deref().unwrap_or("?"),
                w.read_pct.unwrap_or(0)
            ),
            (None, None) => String::new(),
        };
        let pace = match (w.qd, w.time_scale) {
            (Some(qd), _) => format!("closed loop QD {qd}"),
            (None, Some(ts)) => format!("open loop × {ts}"),
            (None, None) => String::new(),
        };
        let pre = w
            .precondition_random_passes
            .map_or("not preconditioned".to_string(), |p| {
                format!("preconditioned: fill + {p}x random")
            });
        let g = &self.geometry;
        let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
        let _ = writeln!(s, "workload  {what}; {pace}; seed {}; {pre}", w.seed);
        let _ = writeln!(
            s,
            "device    {}×{}×{} × {} blocks × {} pages × {} KiB = {:.2} GiB raw, {:.2} GiB logical",
            g.channels,
            g.dies_per_channel,
            g.planes_per_die,
            g.blocks_per_plane,
            g.pages_per_block,
            g.page_size / 1024,
            gib(g.raw_bytes),
            gib(g.logical_bytes)
        );
        let asked = self
            .op
            .requested_pct
            .map_or(String::new(), |p| format!(", asked {p:.2} %"));
        // `--op` sets the capacity exactly; otherwise the percent knob did.
        let sized = match self.ftl.capacity_sectors {
            0 => format!(
                " (over_provisioning_percent {})",
                self.op.over_provisioning_percent
            ),
            _ => String::new(),
        };
        let _ = writeln!(
            s,
            "          OP {:.2} % effective{asked}{sized}; {} ({} open block{} per data stream, {}); {} GC; cache {} MiB{}",
            self.op.effective_pct,
            self.ftl.stripe,
            self.ftl.lanes,
            if self.ftl.lanes == 1 { "" } else { "s" },
            match self.ftl.data_streams {
                1 => "1 data stream: GC's moves among host writes",
                _ => "2 data streams",
            },
            self.ftl.gc_policy,
            self.ftl.cache_bytes >> 20,
            if self.ftl.metadata_only { "; metadata only" } else { "" }
        );
        let t = &self.timing;
        let _ = writeln!(
            s,
            "timing    tR {} µs, tPROG {} µs, tBERS {} µs, channel {:.1} MiB/s",
            t.t_read_us, t.t_prog_us, t.t_erase_us, t.channel_mib_s
        );
        let _ = writeln!(
            s,
            "run       {} requests in {:.6} s simulated ({:.2} s wall, {:.0} simulated IOs per wall second)",
            self.requests, self.simulated_seconds, self.wall_seconds, self.sim_ios_per_wall_s
        );
        if self.simulated_seconds == 0.0 {
            let _ = writeln!(
                s,
                "          no simulated time elapsed (the cache absorbed the run): rates are 0"
            );
        }
        let _ = writeln!(
            s,
            "host      read {:.1} MiB/s, {:.0} IOPS; write {:.1} MiB/s, {:.0} IOPS",
            self.host_read_mib_s, self.read_iops, self.host_write_mib_s, self.write_iops
        );
        let _ = writeln!(
            s,
            "WA        {:.3} (NAND program counter: {:.3}); meta {:.2} % of NAND writes, translation {:.2} %",
            self.write_amplification,
            self.write_amplification_nand_counter,
            self.meta_share * 100.0,
            self.translation_share * 100.0
        );
        let _ = writeln!(
            s,
            "GC        {} runs, {} sectors moved; wear leveling {} moves; {} erases",
            self.gc_runs, self.gc_moved_sectors, self.wear_level_moves, self.erases
        );
        let _ = writeln!(
            s,
            "cache     hit rate {:.1} %; {} rmw reads; {} writes stalled ({:.0} µs in all)",
            self.cache_hit_rate * 100.0,
            self.rmw_reads,
            self.writes_stalled,
            self.write_stall_us
        );
        let die_range = self
            .die_utilizations
            .iter()
            .fold(None, |r: Option<(f64, f64)>, &d| {
                Some(r.map_or((d, d), |(lo, hi)| (lo.min(d), hi.max(d))))
            });
        let _ = writeln!(
            s,
            "busy      channels {:.1} %, dies {:.1} % of the simulated time{}",
            self.channel_utilization * 100.0,
            self.die_utilization * 100.0,
            match die_range {
                Some((lo, hi)) if self.die_utilizations.len() > 1 =>
                    format!(" ({:.1}–{:.1} % per die)", lo * 100.0, hi * 100.0),
                _ => String::new(),
            }
        );
        let _ = writeln!(
            s,
            "latency µs {:>9} {:>10} {:>10} {:>10} {:>10} {:>10}",
            "count", "mean", "p50", "p99", "p99.9", "max"
        );
        let l = &self.latency_us;
        for (name, x) in [
            ("read", &l.read),
            ("write", &l.write),
            ("trim", &l.trim),
            ("flush", &l.flush),
        ] {
            if x.count > 0 {
                let _ = writeln!(
                    s,
                    "  {name:<8} {:>9} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>10.1}",
                    x.count, x.mean, x.p50, x.p99, x.p999, x.max
                );
            }
        }
        let was: Vec<String> = self
            .wa_intervals
            .iter()
            .map(|i| format!("{:.2}", i.write_amplification))
            .collect();
        let _ = writeln!(s, "WA per interval ({}): {}", was.len(), was.join(" "));
        let e = &self.erase_counts;
        let _ = writeln!(
            s,
            "erases/block  this run min {} max {} mean {:.2}; lifetime min {} max {} mean {:.2}",
            e.min, e.max, e.mean, e.lifetime_min, e.lifetime_max, e.lifetime_mean
        );
        s
    }
}

fn bs_string(bs: &simulator::workload::BlockSizeMix) -> String {
    let size = |b: u64| {
        if b % (1 << 20) == 0 {
            format!("{}M", b >> 20)
        } else if b % 1024 == 0 {
            format!("{}K", b >> 10)
        } else {
            b.to_string()
        }
    };
    match bs.entries() {
        [(b, _)] => size(*b),
        es => es
            .iter()
            .map(|(b, w)| format!("{}:{w}", size(*b)))
            .collect::<Vec<_>>()
            .join(","),
    }
}

fn ftl_report(cfg: &Resolved) -> FtlReport {
    let f = &cfg.ssd.ftl;
    FtlReport {
        gc_policy: match f.gc_policy {
            GcPolicy::Greedy => "greedy",
            GcPolicy::CostBenefit => "cost-benefit",
        },
        gc_threshold_blocks: f.gc_threshold_blocks,
        wear_leveling_bound: f.wear_leveling_bound,
        handles: f.handles,
        max_io_sectors: f.max_io_sectors,
        prefill_slots: f.prefill_slots,
        checkpoint_interval_pages: f.checkpoint_interval_pages,
        translation_entries: f.translation_entries,
        translation_write_permille: f.translation_write_permille,
        summaries_per_page: f.summaries_per_page,
        over_provisioning_percent: f.over_provisioning_percent,
        map_budget_bytes: f.map_budget_bytes,
        cache_bytes: cfg.ssd.cache_bytes,
        metadata_only: cfg.ssd.metadata_only,
        stripe: match cfg.ssd.stripe {
            simulator::ssd::Stripe::Superblocks => "superblocks",
            simulator::ssd::Stripe::Dies => "dies",
        },
        lanes: f.lanes,
        data_streams: f.data_streams,
        capacity_sectors: f.capacity_sectors,
    }
}

fn timing_report(t: &TimingConfig) -> TimingReport {
    TimingReport {
        t_read_us: t.t_read_ns as f64 / 1000.0,
        t_prog_us: t.t_prog_ns as f64 / 1000.0,
        t_erase_us: t.t_erase_ns as f64 / 1000.0,
        channel_mib_s: t.channel_bytes_per_s as f64 / MIB,
        command_overhead_ns: t.command_overhead_ns,
        cache_register: t.cache_register,
        independent_plane_reads: t.independent_plane_reads,
    }
}

/// Mean busy fraction of the channels and of the dies over the run's
/// simulated time (the timeline restarts after preconditioning).
/// The channels' mean busy fraction, and each die's.
fn utilization(m: &Measured, geo: &Geometry) -> (f64, Vec<f64>) {
    let Some(t) = &m.timing else {
        return (0.0, Vec::new());
    };
    let elapsed = m.last_done_ns.saturating_sub(m.first_ns) as f64;
    let mean = |v: &[u64]| ratio(v.iter().sum::<u64>() as f64, v.len() as f64);
    let dies = usize::from(geo.channels) * usize::from(geo.dies_per_channel);
    let die_busy = (0..dies)
        .filter_map(|d| t.die_busy_ns(d))
        .map(|b| ratio(b as f64, elapsed))
        .collect();
    (ratio(mean(&t.channel_busy_ns), elapsed), die_busy)
}

/// Consecutive differences of the boundary snapshots.
fn intervals(points: &[Point]) -> Vec<Interval> {
    points
        .windows(2)
        .map(|w| {
            let host = w[1].host_sectors - w[0].host_sectors;
            let nand = w[1].nand_sectors - w[0].nand_sectors;
            Interval {
                requests: w[1].requests - w[0].requests,
                end_seconds: w[1].time_ns as f64 / 1e9,
                host_sectors: host,
                nand_sectors: nand,
                write_amplification: ratio(nand as f64, host as f64),
            }
        })
        .collect()
}

fn erase_counts(run: &[u32], lifetime: &[u32]) -> EraseCounts {
    let stats = |v: &[u32]| {
        let min = v.iter().copied().min().unwrap_or(0);
        let max = v.iter().copied().max().unwrap_or(0);
        let sum: u64 = v.iter().map(|&x| u64::from(x)).sum();
        (min, max, ratio(sum as f64, v.len() as f64))
    };
    let (min, max, mean) = stats(run);
    let (lifetime_min, lifetime_max, lifetime_mean) = stats(lifetime);
    EraseCounts {
        min,
        max,
        mean,
        buckets: buckets(run, min, max),
        lifetime_min,
        lifetime_max,
        lifetime_mean,
    }
}

/// At most [`ERASE_BUCKETS`] buckets of equal width covering `min..=max`.
fn buckets(v: &[u32], min: u32, max: u32) -> Vec<Bucket> {
    if v.is_empty() {
        return Vec::new();
    }
    let span = u64::from(max - min) + 1;
    let width = span.div_ceil(u64::from(ERASE_BUCKETS)) as u32;
    let n = span.div_ceil(u64::from(width)) as usize;
    let mut out: Vec<Bucket> = (0..n as u32)
        .map(|i| {
            let from = min + i * width;
            Bucket {
                from,
                to: from.saturating_add(width - 1).min(max),
                blocks: 0,
            }
        })
        .collect();
    for &x in v {
        out[((x - min) / width) as usize].blocks += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_the_range() {
        let b = buckets(&[0, 1, 1, 5], 0, 5);
        assert_eq!(b.len(), 6);
        assert_eq!(b[1].blocks, 2);
        let v: Vec<u32> = (10..=109).collect();
        let b = buckets(&v, 10, 109);
        assert_eq!(b.len(), 15); // width 7: 100 values
        assert_eq!((b[0].from, b[0].to), (10, 16));
        assert_eq!(b.last().unwrap().to, 109);
        assert_eq!(b.iter().map(|b| b.blocks).sum::<u32>(), 100);
        assert!(buckets(&[], 0, 0).is_empty());
        assert_eq!(
            buckets(&[7, 7], 7, 7),
            vec![Bucket {
                from: 7,
                to: 7,
                blocks: 2
            }]
        );
    }
}
