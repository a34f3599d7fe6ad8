//! `ftl-sim`: zcftl's FTL over the timed NAND simulator, driven by a
//! synthetic workload or a block trace in simulated time, reporting write
//! amplification, throughput and latency (issue 11).
//!
//! - `args.rs` — the command line;
//! - `config.rs` — built-in defaults, `--config FILE.toml`, flags → the
//!   device, over-provisioning chosen;
//! - `run.rs` — build, precondition, drive, measure;
//! - `hist.rs` — latency percentiles;
//! - `report.rs` — the human summary and `--json`;
//! - `sweep.rs` — `ftl-sim sweep`, a grid of runs on several threads;
//! - `plots.rs` — the SVG and PNG plots of a sweep or of `run --plots`.
//!
//! Exit codes: 0 done; 2 a usage error (flags, configuration, a trace that
//! cannot be read or has a bad line); 1 the run failed (the simulated
//! device returned an error). Every error is one line on stderr.

#![forbid(unsafe_code)]

mod args;
mod config;
mod hist;
mod plots;
mod report;
mod run;
mod sweep;

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};

/// Why `ftl-sim` stopped without a report.
#[derive(Debug)]
pub enum Failure {
    /// Something the user gave is wrong (exit 2).
    Usage(String),
    /// The run itself failed (exit 1).
    Run(String),
}

fn main() -> ExitCode {
    // clap prints its own usage errors and exits 2.
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run_command(&args),
        Command::Sweep(args) => sweep::sweep_command(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(msg)) => {
            eprintln!("ftl-sim: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Run(msg)) => {
            eprintln!("ftl-sim: {msg}");
            ExitCode::from(1)
        }
    }
}

fn run_command(args: &args::RunArgs) -> Result<(), Failure> {
    let cfg = config::resolve(args).map_err(|e| Failure::Usage(e.to_string()))?;
    if let Some(req) = cfg.op.requested_pct {
        if (cfg.op.effective_pct - req).abs() > 1.0 {
            eprintln!(
                "ftl-sim: warning: over-provisioning {req} % asked, {:.2} % is the closest this \
                 geometry allows (over_provisioning_percent {})",
                cfg.op.effective_pct, cfg.op.over_provisioning_percent
            );
        }
    }
    let measured = run::run(args, &cfg)?;
    let mut report = report::Report::new(args, &cfg, &measured);
    if let Some(dir) = &args.plots {
        plots::for_run(dir, &mut report, &measured)?;
    }
    let text = if args.json {
        let mut t = serde_json::to_string_pretty(&report)
            .map_err(|e| Failure::Run(format!("cannot encode the report: {e}")))?;
        t.push('\n');
        t
    } else {
        report.summary()
    };
    // Written, not printed: a closed pipe is an error, not a panic.
    std::io::stdout()
        .write_all(text.as_bytes())
        .map_err(|e| Failure::Run(format!("cannot write the report: {e}")))
}
