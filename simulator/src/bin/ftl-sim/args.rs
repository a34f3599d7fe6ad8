//! `ftl-sim`'s command line (clap derive). Only the shape of the flags and
//! the parsing of single values live here; how they combine with the
//! configuration file is `config.rs`'s business.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ftl_core::GcPolicy;
use simulator::workload::{parse_size, BlockSizeMix, Pattern, TraceSpec};

/// zcftl's FTL over a timed NAND simulator: write amplification, latency
/// and throughput of a workload or a block trace, in simulated time.
#[derive(Debug, Parser)]
#[command(name = "ftl-sim", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs one workload or trace on one simulated SSD and reports.
    Run(Box<RunArgs>),
    /// Runs a grid of `run`s (OP × GC policy × workload) in parallel and
    /// writes CSV, JSON and plots.
    Sweep(Box<crate::sweep::SweepArgs>),
}

/// `ftl-sim run`.
#[derive(Clone, Debug, Args)]
pub struct RunArgs {
    /// A TOML file with `[geometry]`, `[timing]` and `[ftl]` sections; flags
    /// override it, and it overrides the built-in defaults.
    #[arg(long, value_name = "FILE.toml")]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub geometry: GeometryArgs,

    /// Over-provisioning as the literature defines it, (physical sectors −
    /// logical sectors) / logical sectors, the FTL's own reserve included:
    /// a ratio (0.07) or a percentage (7%). The FTL's capacity is set to
    /// physical / (1 + OP), to a page (`FtlConfig::capacity_sectors`).
    #[arg(long, value_name = "RATIO", value_parser = parse_op)]
    pub op: Option<f64>,

    /// Garbage-collection victim policy.
    #[arg(long, value_enum)]
    pub gc: Option<GcArg>,

    /// Bytes of slot pool, the write-back and read cache (e.g. 16M).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub cache: Option<u64>,

    #[command(flatten)]
    pub ftl: FtlArgs,

    #[command(flatten)]
    pub workload: WorkloadArgs,

    /// Bring the device to steady state first, outside simulated time: a
    /// sequential fill, then N × its capacity of uniform random one-sector writes
    /// (0x: the fill only). Not measured.
    #[arg(long, value_name = "NX", value_parser = parse_multiple)]
    pub precondition: Option<f64>,

    /// The one seed of the run (workload, preconditioning, simulator).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// A sparse image file for the NAND instead of RAM (created, or
    /// truncated, and left behind).
    #[arg(long, value_name = "PATH")]
    pub image: Option<PathBuf>,

    /// Check that every sector reads back the last version written (slower).
    #[arg(long)]
    pub verify: bool,

    /// Store spare areas but no data: a faster NAND in RAM for large runs,
    /// with the FTL's data checksums off. Same WA and timing as with data.
    #[arg(long, conflicts_with_all = ["verify", "image"])]
    pub metadata_only: bool,

    /// Print the report as one JSON object on stdout instead of a summary.
    #[arg(long)]
    pub json: bool,

    /// Also draw the run's plots (WA over time, latency CDF, erase-count
    /// histogram) into DIR, as SVG and PNG.
    #[arg(long, value_name = "DIR")]
    pub plots: Option<PathBuf>,
}

/// The FTL's tuning knobs (`ftl_core::FtlConfig`): each overrides the
/// configuration's `[ftl]` section.
#[derive(Clone, Debug, Default, Args)]
pub struct FtlArgs {
    /// Data streams: 2 writes data moved by GC and wear leveling to open
    /// blocks of its own, apart from the host's writes; 1 writes it among
    /// them, the baseline without that separation. The meta stream is
    /// always apart.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=2))]
    pub streams: Option<u32>,
    /// GC runs before a host block is opened while fewer blocks than this
    /// are free (2 or 3; 3 keeps a block for a program failure during GC).
    #[arg(long, value_name = "BLOCKS")]
    pub gc_threshold: Option<u32>,
    /// Largest spread of erase counts before static wear leveling moves
    /// cold data.
    #[arg(long, value_name = "ERASES")]
    pub wear_leveling_bound: Option<u32>,
    /// Host pages between checkpoints (0: sized to the array).
    #[arg(long, value_name = "PAGES")]
    pub checkpoint_interval: Option<u32>,
    /// Translation pages written back per thousand host pages (1..=1000).
    #[arg(long, value_name = "PERMILLE")]
    pub translation_write_permille: Option<u16>,
    /// Map entries per translation page (0: as many as a page holds).
    #[arg(long, value_name = "N")]
    pub translation_entries: Option<u32>,
    /// Bytes of RAM for the map (e.g. 8M): demand-paged below the whole
    /// map's size; 0 keeps the whole map.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub map_budget: Option<u64>,
    /// Block summaries per summary page, at most (0: as many as fit);
    /// fewer bound what a power cut leaves recovery to scan page by page.
    #[arg(long, value_name = "N")]
    pub summaries_per_page: Option<u32>,
    /// How the FTL spreads writes over the dies: `superblocks` (erase
    /// units spanning every die, one open block per stream) or `dies` (an
    /// erase unit and an open block per die).
    #[arg(long, value_enum)]
    pub stripe: Option<crate::config::StripeName>,
}

/// `--channels` … `--sector-size`: each overrides the configuration.
#[derive(Clone, Debug, Args)]
pub struct GeometryArgs {
    /// Independent channels.
    #[arg(long)]
    pub channels: Option<u16>,
    /// Dies on each channel.
    #[arg(long)]
    pub dies_per_channel: Option<u16>,
    /// Planes in each die.
    #[arg(long)]
    pub planes: Option<u16>,
    /// Erase blocks in each plane.
    #[arg(long)]
    pub blocks_per_plane: Option<u32>,
    /// Pages in each erase block.
    #[arg(long)]
    pub pages_per_block: Option<u32>,
    /// Data bytes in a page (e.g. 16K).
    #[arg(long, value_name = "SIZE", value_parser = parse_size_u32)]
    pub page_size: Option<u32>,
    /// The FTL's sector, one cache slot (e.g. 4K).
    #[arg(long, value_name = "SIZE", value_parser = parse_size_u32)]
    pub sector_size: Option<u32>,
}

/// What to run and for how long.
#[derive(Clone, Debug, Args)]
pub struct WorkloadArgs {
    /// Synthetic placement: uniform, zipf:THETA, hotcold:HOT_PCT/ACCESS_PCT
    /// or sequential.
    #[arg(long, default_value = "uniform", conflicts_with = "trace")]
    pub workload: Pattern,

    /// Percentage of synthetic requests that are reads.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100),
          conflicts_with = "trace")]
    pub read_pct: u8,

    /// Synthetic request size, or a weighted mix: 4K, 4K:70,64K:30.
    #[arg(long, default_value = "4K", conflicts_with = "trace")]
    pub bs: BlockSizeMix,

    /// Closed loop: requests kept outstanding.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=65536),
          conflicts_with = "open_loop")]
    pub qd: u32,

    /// Stop after N requests (synthetic default: 100000; a trace: its end).
    #[arg(long, value_name = "N", conflicts_with = "writes")]
    pub requests: Option<u64>,

    /// Stop once the host has written N × the logical capacity (e.g. 2x).
    #[arg(long, value_name = "NX", value_parser = parse_multiple)]
    pub writes: Option<f64>,

    /// Replay a block trace instead: disksim:PATH, msr:PATH or
    /// blkparse:PATH; addresses are folded onto the device.
    #[arg(long, value_name = "FORMAT:PATH")]
    pub trace: Option<TraceSpec>,

    /// Open loop: submit each trace request at its arrival time ×
    /// --time-scale, however many are outstanding (default: closed loop at
    /// --qd).
    #[arg(long, requires = "trace")]
    pub open_loop: bool,

    /// Open loop: multiply arrival times by F (0.5 replays twice as fast).
    #[arg(long, value_name = "F", requires = "open_loop", value_parser = parse_time_scale)]
    pub time_scale: Option<f64>,
}

/// `--gc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GcArg {
    /// The block with the fewest valid sectors.
    Greedy,
    /// Best (1 − u) · age / (1 + u).
    CostBenefit,
}

impl From<GcArg> for GcPolicy {
    fn from(g: GcArg) -> GcPolicy {
        match g {
            GcArg::Greedy => GcPolicy::Greedy,
            GcArg::CostBenefit => GcPolicy::CostBenefit,
        }
    }
}

/// A size that fits `u32` (page and sector sizes).
fn parse_size_u32(s: &str) -> Result<u32, String> {
    let n = parse_size(s).map_err(|e| e.to_string())?;
    u32::try_from(n).map_err(|_| format!("{s} is too large"))
}

/// `2x`, `0.5x`, `2`: a non-negative finite multiple.
pub fn parse_multiple(s: &str) -> Result<f64, String> {
    let t = s.strip_suffix(['x', 'X']).unwrap_or(s);
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!(
            "`{s}` is not a multiple of the capacity, e.g. 1x or 0.5x"
        )),
    }
}

/// `28`, `28%`, `7.5`: a percentage above 0 and at most 1000.
/// `--op`: a ratio (`0.28`) or a percentage (`28%`), in percent.
pub fn parse_op(s: &str) -> Result<f64, String> {
    let (t, scale) = match s.strip_suffix('%') {
        Some(t) => (t, 1.0),
        None => (s, 100.0),
    };
    match t.trim().parse::<f64>().map(|v| v * scale) {
        Ok(v) if v > 0.0 && v <= 1000.0 => Ok(v),
        _ => Err(format!(
            "`{s}` is not an over-provisioning ratio in (0, 10] or a percentage in (0, 1000]%, e.g. 0.28 or 28%"
        )),
    }
}

fn parse_time_scale(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("`{s}` is not a non-negative factor, e.g. 0.5")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn multiples_and_percentages() {
        assert_eq!(parse_multiple("2x"), Ok(2.0));
        assert_eq!(parse_multiple("0.5X"), Ok(0.5));
        assert_eq!(parse_multiple("3"), Ok(3.0));
        for bad in ["", "x", "-1x", "inf", "NaNx"] {
            assert!(parse_multiple(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_op("28%"), Ok(28.0));
        assert_eq!(parse_op("0.07"), Ok(7.000000000000001));
        assert_eq!(parse_op("0.5"), Ok(50.0));
        for bad in ["0", "-3", "11", "1001%", "abc", "NaN", "%"] {
            assert!(parse_op(bad).is_err(), "{bad}");
        }
    }
}
