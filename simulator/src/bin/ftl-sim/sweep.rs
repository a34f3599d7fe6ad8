//! `ftl-sim sweep`: the cross product of `--op`, `--gc` and `--workload`
//! lists, each point one `run` with every other flag as given, on
//! `--jobs` threads. Each point starts from the same seed and shares
//! nothing with the others, so its report is the same whatever the
//! number of threads; only the wall-clock fields differ.
//!
//! Writes into `--out DIR`: `points/NAME.json` (each point's report, as
//! `run --json` prints it, plus `latency_cdf_us`), `sweep.csv` (a row per
//! point), `sweep.json` (the axes and every point) and the plots
//! (`plots.rs`).

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};
use serde::Serialize;
use simulator::workload::Pattern;

use crate::args::{GcArg, RunArgs};
use crate::report::{LatencyCdfs, Report};
use crate::{config, plots, run, Failure};

/// `ftl-sim sweep`: every `run` flag as the base of each point; `--op`,
/// `--gc` and `--workload` take comma-separated lists (the axes).
#[derive(Debug)]
pub struct SweepArgs {
    /// The flags every point shares.
    pub base: RunArgs,
    /// `--op` values, as given and in percent; empty: the configured OP.
    pub ops: Vec<(String, f64)>,
    /// `--gc` values; empty: the configured policy.
    pub gcs: Vec<GcArg>,
    /// `--workload` values; empty: the base's (the default, or a trace).
    pub workloads: Vec<Pattern>,
    /// Where the results go.
    pub out: PathBuf,
    /// Threads.
    pub jobs: Option<NonZeroUsize>,
}

impl FromArgMatches for SweepArgs {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let ops = match (m.get_raw("op"), m.get_many::<f64>("op")) {
            (Some(raw), Some(pct)) => raw
                .map(|s| s.to_string_lossy().into_owned())
                .zip(pct.copied())
                .collect(),
            _ => Vec::new(),
        };
        let gcs = m
            .get_many::<GcArg>("gc")
            .map_or(Vec::new(), |v| v.copied().collect());
        let workloads = match m.value_source("workload") {
            Some(ValueSource::CommandLine) => m
                .get_many::<Pattern>("workload")
                .map_or(Vec::new(), |v| v.copied().collect()),
            _ => Vec::new(),
        };
        Ok(SweepArgs {
            base: RunArgs::from_arg_matches(m)?,
            ops,
            gcs,
            workloads,
            out: m
                .get_one::<PathBuf>("out")
                .cloned()
                .expect("--out is required"),
            jobs: m.get_one::<NonZeroUsize>("jobs").copied(),
        })
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl Args for SweepArgs {
    fn augment_args(cmd: Command) -> Command {
        let list = |a: Arg| a.action(ArgAction::Append).value_delimiter(',');
        RunArgs::augment_args(cmd)
            .mut_arg("op", |a| {
                list(a).help(
                    "Over-provisioning axis: ratios (0.07) or percentages (7%), comma-separated",
                )
            })
            .mut_arg("gc", |a| list(a).help("GC policy axis, comma-separated"))
            .mut_arg("workload", |a| {
                list(a).help(
                    "Workload axis: uniform, zipf:THETA, hotcold:H/A, sequential, comma-separated",
                )
            })
            .mut_arg("image", |a| a.hide(true))
            .mut_arg("json", |a| a.hide(true))
            .mut_arg("plots", |a| a.hide(true))
            .arg(
                Arg::new("out")
                    .long("out")
                    .value_name("DIR")
                    .required(true)
                    .value_parser(clap::value_parser!(PathBuf))
                    .help("Directory for points/*.json, sweep.csv, sweep.json and the plots"),
            )
            .arg(
                Arg::new("jobs")
                    .long("jobs")
                    .short('j')
                    .value_name("N")
                    .value_parser(clap::value_parser!(NonZeroUsize))
                    .help("Points run at once (default: the available cores)"),
            )
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

/// One grid point.
struct GridPoint {
    name: String,
    op: Option<String>,
    gc: Option<&'static str>,
    workload: Option<String>,
    args: RunArgs,
}

fn gc_name(g: GcArg) -> &'static str {
    match g {
        GcArg::Greedy => "greedy",
        GcArg::CostBenefit => "cost-benefit",
    }
}

/// `zipf:0.99` → `zipf-0.99`: a file name on any system.
fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The cross product, OP outermost, workload innermost; a point's name
/// joins the values of the axes given (`op0.07_greedy_zipf-0.99`).
fn grid(a: &SweepArgs) -> Result<Vec<GridPoint>, Failure> {
    fn axis<T: Clone>(v: &[T]) -> Vec<Option<T>> {
        if v.is_empty() {
            vec![None]
        } else {
            v.iter().cloned().map(Some).collect()
        }
    }
    let mut points = Vec::new();
    for op in axis(&a.ops) {
        for gc in axis(&a.gcs) {
            for wl in axis(&a.workloads) {
                let mut args = a.base.clone();
                let mut parts = Vec::new();
                if let Some((raw, pct)) = &op {
                    args.op = Some(*pct);
                    parts.push(format!("op{}", file_safe(raw)));
                }
                if let Some(g) = gc {
                    args.gc = Some(g);
                    parts.push(gc_name(g).to_string());
                }
                if let Some(w) = wl {
                    args.workload.workload = w;
                    parts.push(file_safe(&w.to_string()));
                }
                let name = if parts.is_empty() {
                    "run".to_string()
                } else {
                    parts.join("_")
                };
                if points.iter().any(|p: &GridPoint| p.name == name) {
                    return Err(Failure::Usage(format!(
                        "sweep: two grid points are both named `{name}` (a value given twice?)"
                    )));
                }
                points.push(GridPoint {
                    name,
                    op: op.as_ref().map(|o| o.0.clone()),
                    gc: gc.map(gc_name),
                    workload: wl.map(|w| w.to_string()),
                    args,
                });
            }
        }
    }
    Ok(points)
}

/// One point of `sweep.json`.
#[derive(Serialize)]
struct PointOut<'a> {
    name: &'a str,
    op: Option<&'a str>,
    gc: Option<&'static str>,
    workload: Option<&'a str>,
    report: &'a Report,
}

/// `sweep.json`.
#[derive(Serialize)]
struct SweepOut<'a> {
    schema: u32,
    axes: Axes,
    wall_seconds: f64,
    points: Vec<PointOut<'a>>,
}

#[derive(Serialize)]
struct Axes {
    op: Option<Vec<String>>,
    gc: Option<Vec<&'static str>>,
    workload: Option<Vec<String>>,
}

/// `sweep.csv`'s columns.
pub const CSV_HEADER: &str = "name,op,op_effective_pct,gc,workload,write_amplification,\
meta_share,gc_runs,gc_moved_sectors,erases,read_iops,write_iops,host_read_mib_s,\
host_write_mib_s,read_p50_us,read_p99_us,write_p50_us,write_p99_us,simulated_seconds,\
wall_seconds";

fn csv_row(p: &GridPoint, r: &Report) -> String {
    let l = &r.latency_us;
    [
        p.name.clone(),
        p.op.clone().unwrap_or_default(),
        r.op.effective_pct.to_string(),
        r.ftl.gc_policy.to_string(),
        r.workload
            .pattern
            .clone()
            .or_else(|| r.workload.trace.clone())
            .unwrap_or_default(),
        r.write_amplification.to_string(),
        r.meta_share.to_string(),
        r.gc_runs.to_string(),
        r.gc_moved_sectors.to_string(),
        r.erases.to_string(),
        r.read_iops.to_string(),
        r.write_iops.to_string(),
        r.host_read_mib_s.to_string(),
        r.host_write_mib_s.to_string(),
        l.read.p50.to_string(),
        l.read.p99.to_string(),
        l.write.p50.to_string(),
        l.write.p99.to_string(),
        r.simulated_seconds.to_string(),
        r.wall_seconds.to_string(),
    ]
    .map(|f| csv_field(&f))
    .join(",")
}

/// Quotes a field holding a comma or a quote (a trace path might).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Runs one point: its configuration, its run, its report with the
/// latency distributions.
fn run_point(args: &RunArgs, cfg: &config::Resolved) -> Result<Report, Failure> {
    let m = run::run_with(args, cfg, false)?;
    let mut r = Report::new(args, cfg, &m);
    r.latency_cdf_us = Some(LatencyCdfs::of(&m));
    Ok(r)
}

fn write(path: &Path, text: &str) -> Result<(), Failure> {
    std::fs::write(path, text).map_err(|e| Failure::Run(format!("{}: {e}", path.display())))
}

fn json<T: Serialize>(v: &T) -> Result<String, Failure> {
    let mut t = serde_json::to_string_pretty(v)
        .map_err(|e| Failure::Run(format!("cannot encode JSON: {e}")))?;
    t.push('\n');
    Ok(t)
}

/// `ftl-sim sweep`.
pub fn sweep_command(a: &SweepArgs) -> Result<(), Failure> {
    for (flag, given) in [
        ("--image", a.base.image.is_some()),
        ("--json", a.base.json),
        ("--plots", a.base.plots.is_some()),
    ] {
        if given {
            return Err(Failure::Usage(format!(
                "sweep: {flag} is a `run` flag (a sweep writes its reports and plots into --out)"
            )));
        }
    }
    if a.base.workload.trace.is_some() && !a.workloads.is_empty() {
        return Err(Failure::Usage(
            "sweep: --workload and --trace exclude each other".into(),
        ));
    }
    let points = grid(a)?;
    // Every point's configuration first: a usage error before any run.
    let mut cfgs = Vec::with_capacity(points.len());
    for p in &points {
        let cfg = config::resolve(&p.args)
            .map_err(|e| Failure::Usage(format!("sweep point {}: {e}", p.name)))?;
        if let Some(req) = cfg.op.requested_pct {
            if (cfg.op.effective_pct - req).abs() > 1.0 {
                eprintln!(
                    "ftl-sim: warning: point {}: over-provisioning {req:.2} % asked, {:.2} % is \
                     the closest this geometry allows (over_provisioning_percent {})",
                    p.name, cfg.op.effective_pct, cfg.op.over_provisioning_percent
                );
            }
        }
        cfgs.push(cfg);
    }
    let points_dir = a.out.join("points");
    std::fs::create_dir_all(&points_dir)
        .map_err(|e| Failure::Run(format!("{}: {e}", points_dir.display())))?;

    let jobs = a
        .jobs
        .or_else(|| std::thread::available_parallelism().ok())
        .map_or(1, NonZeroUsize::get)
        .min(points.len());
    let t0 = Instant::now();
    let results = run_parallel(&points, &cfgs, jobs);
    let wall_seconds = t0.elapsed().as_secs_f64();

    let mut reports = Vec::with_capacity(points.len());
    for (p, r) in points.iter().zip(results) {
        match r {
            Some(Ok(r)) => reports.push(r),
            Some(Err(Failure::Usage(e))) => {
                return Err(Failure::Usage(format!("sweep point {}: {e}", p.name)))
            }
            Some(Err(Failure::Run(e))) => {
                return Err(Failure::Run(format!("sweep point {}: {e}", p.name)))
            }
            None => unreachable!("a point is left out only after an earlier one failed"),
        }
    }

    let mut csv = String::from(CSV_HEADER);
    csv.push('\n');
    for (p, r) in points.iter().zip(&reports) {
        write(&points_dir.join(format!("{}.json", p.name)), &json(r)?)?;
        csv.push_str(&csv_row(p, r));
        csv.push('\n');
    }
    write(&a.out.join("sweep.csv"), &csv)?;
    let given = |v: bool| v.then_some(());
    let out = SweepOut {
        schema: crate::report::SCHEMA,
        axes: Axes {
            op: given(!a.ops.is_empty()).map(|_| a.ops.iter().map(|o| o.0.clone()).collect()),
            gc: given(!a.gcs.is_empty()).map(|_| a.gcs.iter().map(|&g| gc_name(g)).collect()),
            workload: given(!a.workloads.is_empty())
                .map(|_| a.workloads.iter().map(|w| w.to_string()).collect()),
        },
        wall_seconds,
        points: points
            .iter()
            .zip(&reports)
            .map(|(p, r)| PointOut {
                name: &p.name,
                op: p.op.as_deref(),
                gc: p.gc,
                workload: p.workload.as_deref(),
                report: r,
            })
            .collect(),
    };
    write(&a.out.join("sweep.json"), &json(&out)?)?;

    let runs: Vec<plots::Run<'_>> = points
        .iter()
        .zip(&reports)
        .map(|(p, r)| plots::Run {
            name: &p.name,
            report: r,
        })
        .collect();
    plots::write_all(&a.out, &runs, true).map_err(|e| Failure::Run(format!("plots: {e}")))?;
    eprintln!(
        "ftl-sim sweep: {} points on {jobs} threads in {wall_seconds:.1} s → {}",
        points.len(),
        a.out.display()
    );
    Ok(())
}

/// Runs every point on `jobs` threads, each taking the next point not yet
/// taken. A failure stops new points from starting; the results stay in
/// grid order (`None`: not run).
fn run_parallel(
    points: &[GridPoint],
    cfgs: &[config::Resolved],
    jobs: usize,
) -> Vec<Option<Result<Report, Failure>>> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Option<Result<Report, Failure>>>> =
        Mutex::new((0..points.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                if failed.load(Ordering::Relaxed) {
                    return;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(p) = points.get(i) else { return };
                let t = Instant::now();
                let r = run_point(&p.args, &cfgs[i]);
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                match &r {
                    Ok(rep) => eprintln!(
                        "ftl-sim sweep: [{n}/{}] {}: WA {:.3}, {:.1} s",
                        points.len(),
                        p.name,
                        rep.write_amplification,
                        t.elapsed().as_secs_f64()
                    ),
                    Err(_) => failed.store(true, Ordering::Relaxed),
                }
                results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
            });
        }
    });
    results.into_inner().unwrap_or_else(|e| e.into_inner())
}
