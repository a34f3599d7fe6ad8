//! The plots of a sweep (or of one run with `--plots`), each drawn twice
//! with plotters: `NAME.svg` (text as SVG `<text>`, no font needed) and
//! `NAME.png` (an RGB bitmap encoded by `png`, text rendered by `ab_glyph`
//! from DejaVu Sans embedded in the binary, so no system font is needed).
//!
//! - `wa_vs_op`: write amplification against effective over-provisioning,
//!   one panel per workload, one line per GC policy (sweeps only);
//! - `wa_over_time`: WA of each twentieth of the measured phase, against
//!   what the host had written, one line per run;
//! - `latency_cdf`: read and write latency distributions, one line per run;
//! - `erase_hist`: erases per block in the measured phase, one panel per
//!   run.
//!
//! Everything drawn comes from the reports, so a plot is as deterministic
//! as the reports it is drawn from.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::report::Report;

/// One line (or panel) of a plot: a run's name and its report.
pub struct Run<'a> {
    pub name: &'a str,
    pub report: &'a Report,
}

type Drawn = Result<(), String>;

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// A chart that any plotters backend can draw.
trait Chart {
    /// Pixels of the whole image.
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn;
}

/// Makes the embedded font the plots' `sans-serif` (once per process).
fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The font is valid TrueType: a failure would only leave PNG
        // text out, which the drawing then reports as an error.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
    });
}

/// Draws `chart` into `dir/stem.svg` and `dir/stem.png`.
fn write_both(dir: &Path, stem: &str, chart: &impl Chart) -> Result<(), String> {
    register_font();
    let (w, h) = chart.size();
    let at = |ext: &str| dir.join(format!("{stem}.{ext}"));

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        chart.draw(&root)?;
        root.present().map_err(err)?;
    }
    std::fs::write(at("svg"), svg).map_err(|e| format!("{}: {e}", at("svg").display()))?;

    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        chart.draw(&root)?;
        root.present().map_err(err)?;
    }
    let path = at("png");
    let file = File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut enc = png::Encoder::new(BufWriter::new(file), w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header()
        .and_then(|mut wr| wr.write_image_data(&rgb))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes the plots of `runs` into `dir`: all four for a sweep
/// (`with_wa_vs_op`), the three per-run ones otherwise.
pub fn write_all(dir: &Path, runs: &[Run<'_>], with_wa_vs_op: bool) -> Result<(), String> {
    if with_wa_vs_op {
        write_both(dir, "wa_vs_op", &WaVsOp(runs))?;
    }
    write_both(dir, "wa_over_time", &WaOverTime(runs))?;
    write_both(dir, "latency_cdf", &LatencyCdf(runs))?;
    write_both(dir, "erase_hist", &EraseHist(runs))
}

/// `run --plots DIR`: adds the latency distributions to `report` and
/// draws the three per-run plots into `dir`.
pub fn for_run(
    dir: &Path,
    report: &mut Report,
    m: &crate::run::Measured,
) -> Result<(), crate::Failure> {
    report.latency_cdf_us = Some(crate::report::LatencyCdfs::of(m));
    std::fs::create_dir_all(dir)
        .map_err(|e| crate::Failure::Run(format!("{}: {e}", dir.display())))?;
    let runs = [Run {
        name: "run",
        report,
    }];
    write_all(dir, &runs, false).map_err(|e| crate::Failure::Run(format!("plots: {e}")))
}

/// Twelve colours told apart at a glance (Tableau's ten, black, light
/// orange), then plotters' palette.
fn color(i: usize) -> RGBColor {
    const DISTINCT: [(u8, u8, u8); 12] = [
        (0x1f, 0x77, 0xb4),
        (0xff, 0x7f, 0x0e),
        (0x2c, 0xa0, 0x2c),
        (0xd6, 0x27, 0x28),
        (0x94, 0x67, 0xbd),
        (0x8c, 0x56, 0x4b),
        (0xe3, 0x77, 0xc2),
        (0x7f, 0x7f, 0x7f),
        (0xbc, 0xbd, 0x22),
        (0x17, 0xbe, 0xcf),
        (0x00, 0x00, 0x00),
        (0xff, 0xbb, 0x78),
    ];
    let (r, g, b) = DISTINCT
        .get(i)
        .copied()
        .unwrap_or_else(|| Palette99::pick(i).rgb());
    RGBColor(r, g, b)
}

/// `100000` rather than `100000.0` on a log axis.
fn short(v: &f64) -> String {
    if *v >= 1.0 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

const CAPTION: (&str, u32) = ("sans-serif", 20);
const LABELS: (&str, u32) = ("sans-serif", 14);

/// `lo..hi` padded by 5 % (and widened if empty).
fn padded(lo: f64, hi: f64) -> std::ops::Range<f64> {
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        (lo - 1.0, hi + 1.0)
    };
    let pad = (hi - lo) * 0.05;
    lo - pad..hi + pad
}

/// The name of a report's workload: its pattern or its trace.
fn workload_of(r: &Report) -> String {
    r.workload
        .pattern
        .clone()
        .or_else(|| r.workload.trace.clone())
        .unwrap_or_default()
}

/// Distinct values in order of first appearance.
fn distinct(values: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    at: SeriesLabelPosition,
) -> Drawn {
    chart
        .configure_series_labels()
        .position(at)
        .label_font(LABELS)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)
}

/// WA against effective OP: a panel per workload, a line per GC policy.
struct WaVsOp<'a>(&'a [Run<'a>]);

impl Chart for WaVsOp<'_> {
    fn size(&self) -> (u32, u32) {
        let panels = distinct(self.0.iter().map(|r| workload_of(r.report))).len();
        (520 * panels.max(1) as u32, 440)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        root.fill(&WHITE).map_err(err)?;
        let workloads = distinct(self.0.iter().map(|r| workload_of(r.report)));
        let policies = distinct(self.0.iter().map(|r| r.report.ftl.gc_policy.to_string()));
        let ops = self.0.iter().map(|r| r.report.op.effective_pct);
        let (op_lo, op_hi) = ops.fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
        let wa_hi = self
            .0
            .iter()
            .map(|r| r.report.write_amplification)
            .fold(1.0, f64::max);
        let panels = root.split_evenly((1, workloads.len().max(1)));
        for (panel, workload) in panels.iter().zip(&workloads) {
            let mut chart = ChartBuilder::on(panel)
                .caption(format!("WA vs OP — {workload}"), CAPTION)
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(50)
                .build_cartesian_2d(padded(op_lo, op_hi), 0.0..wa_hi * 1.1)
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_desc("effective over-provisioning (%)")
                .y_desc("write amplification")
                .label_style(LABELS)
                .draw()
                .map_err(err)?;
            for (i, policy) in policies.iter().enumerate() {
                let mut line: Vec<(f64, f64)> = self
                    .0
                    .iter()
                    .filter(|r| {
                        workload_of(r.report) == *workload && r.report.ftl.gc_policy == policy
                    })
                    .map(|r| (r.report.op.effective_pct, r.report.write_amplification))
                    .collect();
                line.sort_by(|a, b| a.0.total_cmp(&b.0));
                let c = color(i);
                chart
                    .draw_series(LineSeries::new(line.clone(), c.stroke_width(2)))
                    .map_err(err)?
                    .label(policy.as_str())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c));
                chart
                    .draw_series(line.iter().map(|&p| Circle::new(p, 4, c.filled())))
                    .map_err(err)?;
            }
            legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        }
        Ok(())
    }
}

/// WA per interval against host writes in multiples of the capacity.
struct WaOverTime<'a>(&'a [Run<'a>]);

impl WaOverTime<'_> {
    /// `(host writes so far ÷ logical capacity, WA)` at each interval's
    /// end; intervals without host writes have no WA and are left out.
    fn line(r: &Report) -> Vec<(f64, f64)> {
        let sector = f64::from(r.geometry.sector_size);
        let capacity = r.geometry.logical_bytes.max(1) as f64;
        let mut written = 0u64;
        r.wa_intervals
            .iter()
            .filter_map(|i| {
                written += i.host_sectors;
                (i.host_sectors > 0)
                    .then(|| (written as f64 * sector / capacity, i.write_amplification))
            })
            .collect()
    }
}

impl Chart for WaOverTime<'_> {
    fn size(&self) -> (u32, u32) {
        (960, 540)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        root.fill(&WHITE).map_err(err)?;
        let lines: Vec<Vec<(f64, f64)>> = self.0.iter().map(|r| Self::line(r.report)).collect();
        let all = lines.iter().flatten();
        let x_hi = all.clone().map(|p| p.0).fold(0.0, f64::max);
        let y_hi = all.map(|p| p.1).fold(1.0, f64::max);
        let mut chart = ChartBuilder::on(root)
            .caption("WA per twentieth of the measured phase", CAPTION)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            // Room on the right for the legend, clear of the lines.
            .build_cartesian_2d(0.0..x_hi.max(1e-9) * 1.4, 0.0..y_hi * 1.1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("host writes in the measured phase (× logical capacity)")
            .y_desc("write amplification of the interval")
            .label_style(LABELS)
            .draw()
            .map_err(err)?;
        for (i, (run, line)) in self.0.iter().zip(lines).enumerate() {
            let c = color(i);
            chart
                .draw_series(LineSeries::new(line, c.stroke_width(2)))
                .map_err(err)?
                .label(run.name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    }
}

/// Read and write latency CDFs, a panel for each op some run did.
struct LatencyCdf<'a>(&'a [Run<'a>]);

impl LatencyCdf<'_> {
    fn ops(&self) -> Vec<(&'static str, usize)> {
        let has = |k: usize| {
            self.0.iter().any(|r| {
                r.report
                    .latency_cdf_us
                    .as_ref()
                    .is_some_and(|c| ![&c.read, &c.write][k].is_empty())
            })
        };
        [("read", 0), ("write", 1)]
            .into_iter()
            .filter(|&(_, k)| has(k))
            .collect()
    }
}

impl Chart for LatencyCdf<'_> {
    fn size(&self) -> (u32, u32) {
        (640 * self.ops().len().max(1) as u32, 480)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        root.fill(&WHITE).map_err(err)?;
        let ops = self.ops();
        if ops.is_empty() {
            return root
                .draw(&Text::new("no reads or writes measured", (20, 20), CAPTION))
                .map_err(err);
        }
        // 0 µs (a write the cache took whole) cannot sit on a log axis:
        // everything below FLOOR is drawn at it. One x range for both
        // panels, so reads and writes compare at a glance.
        const FLOOR: f64 = 0.1;
        let cdf = |r: &Run<'_>, k: usize| -> Vec<(f64, f64)> {
            r.report.latency_cdf_us.as_ref().map_or(Vec::new(), |c| {
                [&c.read, &c.write][k]
                    .iter()
                    .map(|&(q, us)| (us.max(FLOOR), q))
                    .collect()
            })
        };
        let hi = self
            .0
            .iter()
            .flat_map(|r| cdf(r, 0).into_iter().chain(cdf(r, 1)))
            .map(|p| p.0)
            .fold(FLOOR * 10.0, f64::max);
        let panels = root.split_evenly((1, ops.len()));
        for (panel, (op, k)) in panels.iter().zip(ops) {
            let lines: Vec<Vec<(f64, f64)>> = self.0.iter().map(|r| cdf(r, k)).collect();
            let mut chart = ChartBuilder::on(panel)
                .caption(format!("{op} latency CDF"), CAPTION)
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(50)
                .build_cartesian_2d((FLOOR * 0.8..hi * 1.25).log_scale(), 0.0..1.0)
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_desc("latency (µs, log scale; below 0.1 drawn at 0.1)")
                .x_label_formatter(&short)
                .y_desc("fraction of requests")
                .label_style(LABELS)
                .draw()
                .map_err(err)?;
            for (i, (run, line)) in self.0.iter().zip(lines).enumerate() {
                if line.is_empty() {
                    continue;
                }
                let c = color(i);
                chart
                    .draw_series(LineSeries::new(line, c.stroke_width(2)))
                    .map_err(err)?
                    .label(run.name)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c));
            }
            legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        }
        Ok(())
    }
}

/// The erase-count histogram of each run, a panel each.
struct EraseHist<'a>(&'a [Run<'a>]);

impl EraseHist<'_> {
    fn grid(&self) -> (usize, usize) {
        let n = self.0.len().max(1);
        let cols = (1..=n).find(|c| c * c >= n).unwrap_or(1).min(4);
        (n.div_ceil(cols), cols)
    }
}

impl Chart for EraseHist<'_> {
    fn size(&self) -> (u32, u32) {
        let (rows, cols) = self.grid();
        (380 * cols as u32, 280 * rows as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        root.fill(&WHITE).map_err(err)?;
        for (panel, (i, run)) in root
            .split_evenly(self.grid())
            .iter()
            .zip(self.0.iter().enumerate())
        {
            let b = &run.report.erase_counts.buckets;
            let x_lo = b.first().map_or(0, |b| b.from);
            let x_hi = b.last().map_or(1, |b| b.to + 1);
            let y_hi = b.iter().map(|b| b.blocks).max().unwrap_or(1);
            let mut chart = ChartBuilder::on(panel)
                .caption(run.name, ("sans-serif", 15))
                .margin(8)
                .x_label_area_size(34)
                .y_label_area_size(44)
                .build_cartesian_2d(x_lo..x_hi, 0..y_hi + y_hi / 10 + 1)
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_desc("erases per block")
                .y_desc("blocks")
                .max_light_lines(1)
                .label_style(("sans-serif", 12))
                .axis_desc_style(("sans-serif", 12))
                .draw()
                .map_err(err)?;
            let c = color(i);
            chart
                .draw_series(b.iter().map(|b| {
                    Rectangle::new([(b.from, 0), (b.to + 1, b.blocks)], c.mix(0.7).filled())
                }))
                .map_err(err)?;
        }
        Ok(())
    }
}
