//! `ftl-sim run` as a user runs it: the built binary, its JSON report,
//! its determinism, a trace fixture, and its refusals (exit 2, one line
//! naming what is wrong). Small geometries and a few thousand requests, so
//! each run takes a fraction of a second.

mod cli;

use std::path::PathBuf;

use cli::{ftl_sim, without_wall};
use serde_json::Value;

/// 2 channels × 1 die × 1 plane × 32 blocks × 64 pages × 16 KiB: 64 MiB.
const SMALL: &[&str] = &[
    "--channels",
    "2",
    "--dies-per-channel",
    "1",
    "--planes",
    "1",
    "--blocks-per-plane",
    "32",
    "--pages-per-block",
    "64",
];

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/traces")
        .join(name)
}

/// Runs `ftl-sim run SMALL… args… --json` and parses its report.
fn run_json(args: &[&str]) -> Value {
    let mut all = vec!["run"];
    all.extend_from_slice(SMALL);
    all.extend_from_slice(args);
    all.push("--json");
    let out = ftl_sim(&all);
    assert!(
        out.status.success(),
        "{all:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "no progress bar or noise with --json"
    );
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON object")
}

fn f(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("`{key}` is a number in {v}"))
}

/// A failed run: its exit code and its stderr, which must be one line.
fn fails(args: &[&str]) -> (i32, String) {
    let out = ftl_sim(args);
    assert!(!out.status.success(), "{args:?} should fail");
    assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().expect("exited, not killed"), err)
}

#[test]
fn a_uniform_run_reports_every_key_with_sane_values() {
    let r = run_json(&[
        "--read-pct",
        "30",
        "--qd",
        "4",
        "--requests",
        "3000",
        "--precondition",
        "0.5x",
        "--seed",
        "7",
    ]);
    for key in [
        "schema",
        "requests",
        "reads",
        "writes",
        "simulated_seconds",
        "wall_seconds",
        "sim_ios_per_wall_s",
        "host_read_mib_s",
        "host_write_mib_s",
        "read_iops",
        "write_iops",
        "write_amplification",
        "write_amplification_nand_counter",
        "meta_share",
        "translation_share",
        "gc_runs",
        "gc_moved_sectors",
        "cache_hit_rate",
        "rmw_reads",
        "writes_stalled",
        "latency_us",
        "wa_intervals",
        "erase_counts",
        "geometry",
        "op",
        "ftl",
        "timing",
        "workload",
    ] {
        assert!(r.get(key).is_some(), "`{key}` missing from {r:#}");
    }
    assert_eq!(r["requests"], 3000);
    assert_eq!(f(&r, "reads") + f(&r, "writes"), 3000.0);
    // Preconditioned to steady state: GC runs, WA above 1, and the FTL's
    // count equals the simulator's program counter.
    let wa = f(&r, "write_amplification");
    assert!((1.0..20.0).contains(&wa), "WA {wa}");
    assert!((wa - f(&r, "write_amplification_nand_counter")).abs() < 1e-9);
    assert!(f(&r, "gc_runs") > 0.0 && f(&r, "gc_moved_sectors") > 0.0);
    for share in ["meta_share", "translation_share", "cache_hit_rate"] {
        assert!((0.0..=1.0).contains(&f(&r, share)), "{share}");
    }
    // Rates over simulated time, in floating point.
    let secs = f(&r, "simulated_seconds");
    assert!(secs > 0.0);
    assert!((f(&r, "write_iops") - f(&r, "writes") / secs).abs() < 1e-6);
    assert!((f(&r, "read_iops") - f(&r, "reads") / secs).abs() < 1e-6);
    let mib = f(&r, "writes") * 4096.0 / (1 << 20) as f64 / secs;
    assert!((f(&r, "host_write_mib_s") - mib).abs() < 1e-9);
    assert!(f(&r, "host_read_mib_s") > 0.0 && f(&r, "sim_ios_per_wall_s") > 0.0);
    // A busy fraction per die, whose mean is the die utilisation.
    let dies: Vec<f64> = r["die_utilizations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_f64().unwrap())
        .collect();
    let shape = &r["geometry"];
    assert_eq!(
        dies.len() as f64,
        f(shape, "channels") * f(shape, "dies_per_channel")
    );
    assert!(dies.iter().all(|d| (0.0..=1.0).contains(d) && *d > 0.0));
    let mean = dies.iter().sum::<f64>() / dies.len() as f64;
    assert!((mean - f(&r, "die_utilization")).abs() < 1e-9);
    // Latencies: every op that ran, ordered.
    for op in ["read", "write"] {
        let l = &r["latency_us"][op];
        let (p50, p99, p999, max) = (f(l, "p50"), f(l, "p99"), f(l, "p999"), f(l, "max"));
        assert!(
            0.0 <= p50 && p50 <= p99 && p99 <= p999 && p999 <= max,
            "{op}: {l}"
        );
        assert!(f(l, "mean") <= max && f(l, "count") > 0.0, "{op}: {l}");
    }
    // A read that misses the cache costs at least tR.
    assert!(f(&r["latency_us"]["read"], "max") >= 75.0);
    // Twenty intervals covering the run and its writes.
    let iv = r["wa_intervals"].as_array().unwrap();
    assert_eq!(iv.len(), 20);
    let sum = |k: &str| iv.iter().map(|i| f(i, k)).sum::<f64>();
    assert_eq!(sum("requests"), 3000.0);
    assert_eq!(sum("host_sectors"), f(&r, "host_sectors_written"));
    assert_eq!(sum("nand_sectors"), f(&r, "nand_sectors_written"));
    // Erase counts: every block in some bucket.
    let e = &r["erase_counts"];
    let blocks: f64 = e["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| f(b, "blocks"))
        .sum();
    assert_eq!(blocks, 64.0);
    assert!(f(e, "min") <= f(e, "mean") && f(e, "mean") <= f(e, "max"));
    assert!(f(e, "lifetime_max") >= f(e, "max"));
    // The configuration as run.
    let g = &r["geometry"];
    assert_eq!(
        (g["channels"].as_u64(), g["blocks_per_plane"].as_u64()),
        (Some(2), Some(32))
    );
    assert!(f(g, "logical_bytes") < f(g, "raw_bytes"));
    let t = &r["timing"];
    assert_eq!(
        (f(t, "t_read_us"), f(t, "t_prog_us"), f(t, "t_erase_us")),
        (75.0, 750.0, 3800.0)
    );
    assert!((f(t, "channel_mib_s") - 333e6 / (1 << 20) as f64).abs() < 1e-9);
    assert_eq!(r["ftl"]["gc_policy"], "greedy");
    assert!(f(&r["op"], "effective_pct") > 12.0);
    assert_eq!(r["workload"]["pattern"], "uniform");
}

#[test]
fn one_seed_gives_one_report() {
    let args = [
        "--workload",
        "zipf:0.9",
        "--read-pct",
        "50",
        "--bs",
        "4K:3,16K:1",
        "--qd",
        "8",
        "--requests",
        "2000",
        "--precondition",
        "0.2x",
    ];
    let a = without_wall(run_json(&args));
    let b = without_wall(run_json(&args));
    assert_eq!(a, b);
    let mut other = args.to_vec();
    other.extend(["--seed", "2"]);
    assert_ne!(a, without_wall(run_json(&other)));
}

#[test]
fn the_tpcc_fixture_replays_closed_and_open_loop() {
    let spec = format!("disksim:{}", fixture("tpcc-small.trace").display());
    let closed = run_json(&["--trace", &spec, "--qd", "8"]);
    assert!(f(&closed, "requests") >= 6999.0);
    assert_eq!(closed["trace"]["lines"], 6999);
    assert_eq!(closed["workload"]["pace"], "closed");
    // 512-byte-sector requests on 4 KiB sectors: partial writes read first.
    assert!(f(&closed, "rmw_reads") > 0.0);
    let open = run_json(&["--trace", &spec, "--open-loop", "--time-scale", "0.5"]);
    assert!(f(&open, "requests") >= 6999.0);
    assert_eq!(open["workload"]["pace"], "open");
    assert_eq!(open["workload"]["time_scale"], 0.5);
    // The trace spans 0.136 s; replayed twice as fast it cannot end sooner
    // than its last arrival × 0.5.
    assert!(f(&open, "simulated_seconds") >= 0.06);
}

#[test]
fn a_bad_trace_line_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.trace");
    std::fs::write(&path, "0 0 0 8 0\n1000 0 8 8 1\n2000 0 x 8 0\n").unwrap();
    let spec = format!("disksim:{}", path.display());
    let (code, err) = fails(&["run", "--trace", &spec, "--json"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("{}:3:", path.display())), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    // A missing file too.
    let (code, err) = fails(&["run", "--trace", "msr:/nonexistent/x.csv"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/x.csv"), "{err}");
}

#[test]
fn bad_flags_and_configurations_exit_2() {
    for args in [
        &["run", "--bogus"][..],
        &["run", "--workload", "zipf:abc"],
        &["run", "--qd", "0"],
        &["run", "--read-pct", "101"],
        &["run", "--bs", "1000"],
        &["run", "--page-size", "16Q"],
        &["run", "--op", "-5"],
        &["run", "--writes", "lots"],
        &["run", "--time-scale", "2"],
        &["run", "--open-loop"],
        &["run", "--trace", "disksim:x", "--workload", "uniform"],
        &["run", "--requests", "5", "--writes", "1x"],
        &["run", "--gc", "lru"],
        &["run", "--streams", "0"],
        &["run", "--streams", "3"],
        &["fly"],
        &[],
    ] {
        let (code, err) = fails(args);
        assert_eq!(code, 2, "{args:?}: {err}");
    }
    // Refused by the FTL's own checks: one line, exit 2.
    for args in [
        &["run", "--sector-size", "3000"][..],
        &[
            "run",
            "--blocks-per-plane",
            "1",
            "--channels",
            "1",
            "--dies-per-channel",
            "1",
            "--planes",
            "1",
        ],
        &["run", "--read-pct", "100", "--writes", "1x"],
        &["run", "--gc-threshold", "7"],
        &["run", "--translation-write-permille", "0"],
    ] {
        let (code, err) = fails(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sim.toml");
    std::fs::write(
        &path,
        "[geometry]\nchannels = 2\n\n[ftl]\ngc_policy = \"lru\"\n",
    )
    .unwrap();
    let (code, err) = fails(&["run", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains(&format!("{}:5:", path.display())), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

#[test]
fn a_config_file_sets_the_device_and_flags_override_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sim.toml");
    std::fs::write(
        &path,
        "[geometry]\nchannels = 1\nblocks_per_plane = 16\npage_size = \"8K\"\n\n\
         [timing]\nt_prog_ns = 500000\n\n[ftl]\ngc_policy = \"cost-benefit\"\ncache = \"2M\"\n",
    )
    .unwrap();
    // SMALL's flags override the file's channels and blocks_per_plane.
    let r = run_json(&["--config", path.to_str().unwrap(), "--requests", "500"]);
    let g = &r["geometry"];
    assert_eq!(g["channels"], 2);
    assert_eq!(g["blocks_per_plane"], 32);
    assert_eq!(g["page_size"], 8192);
    assert_eq!(r["timing"]["t_prog_us"], 500.0);
    assert_eq!(r["timing"]["t_read_us"], 75.0);
    assert_eq!(r["ftl"]["gc_policy"], "cost-benefit");
    assert_eq!(r["ftl"]["cache_bytes"], 2 << 20);

    // The FTL's knobs as flags, over the file's `[ftl]`.
    std::fs::write(
        &path,
        "[ftl]\ngc_threshold_blocks = 3\nwear_leveling_bound = 9\ntranslation_entries = 100\n",
    )
    .unwrap();
    let r = run_json(&[
        "--config",
        path.to_str().unwrap(),
        "--requests",
        "500",
        "--gc-threshold",
        "2",
        "--checkpoint-interval",
        "64",
        "--translation-write-permille",
        "50",
        "--map-budget",
        "256K",
        "--summaries-per-page",
        "1",
    ]);
    let ftl = &r["ftl"];
    assert_eq!(ftl["gc_threshold_blocks"], 2);
    assert_eq!(ftl["wear_leveling_bound"], 9);
    assert_eq!(ftl["translation_entries"], 100);
    assert_eq!(ftl["checkpoint_interval_pages"], 64);
    assert_eq!(ftl["translation_write_permille"], 50);
    assert_eq!(ftl["map_budget_bytes"], 256 << 10);
    assert_eq!(ftl["summaries_per_page"], 1);
}

#[test]
fn op_is_exact_and_below_the_reserve_refused() {
    // 256 superblocks: the FTL's reserve is counted in (super)blocks, so
    // with 64 of them 7 % is out of reach (its floor is ~14 %).
    let shape = [
        "run",
        "--channels",
        "4",
        "--dies-per-channel",
        "1",
        "--planes",
        "1",
        "--blocks-per-plane",
        "256",
        "--pages-per-block",
        "64",
    ];
    for stripe in ["superblocks", "dies"] {
        for (arg, want) in [("0.07", 7.0), ("15%", 15.0), ("0.28", 28.0)] {
            let mut args = shape.to_vec();
            args.extend([
                "--stripe",
                stripe,
                "--op",
                arg,
                "--requests",
                "100",
                "--json",
            ]);
            let out = ftl_sim(&args);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let r: Value = serde_json::from_slice(&out.stdout).unwrap();
            let op = &r["op"];
            assert!((f(op, "requested_pct") - want).abs() < 1e-9);
            // The capacity is physical / (1 + OP) to a page: exact to a
            // hundredth of a percent, not the percent knob's steps.
            let eff = f(op, "effective_pct");
            assert!((eff - want).abs() < 0.01, "asked {want} %, got {eff} %");
            // And it is what the geometry says: (physical − logical) / logical.
            let g = &r["geometry"];
            let (raw, logical) = (f(g, "raw_bytes"), f(g, "logical_bytes"));
            assert!(((raw - logical) / logical * 100.0 - eff).abs() < 1e-9);
            let ftl = &r["ftl"];
            assert_eq!(ftl["stripe"], stripe);
            let lanes = if stripe == "dies" { 4 } else { 1 };
            assert_eq!(ftl["lanes"], lanes);
            // The capacity --op set, rounded down to a whole page.
            let asked = f(ftl, "capacity_sectors") * f(g, "sector_size");
            assert!(
                asked >= logical && asked - logical < f(g, "page_size"),
                "{asked} asked, {logical} given"
            );
        }
    }
    // Less than the FTL's reserve and its GC's 1 %: refused, saying the floor.
    let mut args = shape.to_vec();
    args[8] = "16"; // --blocks-per-plane
    args.extend(["--op", "0.07"]);
    let (code, err) = fails(&args);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("the FTL's own reserve: at least"), "{err}");
}

/// `--metadata-only` reports what the same run with data reports (but for
/// the wall clock and the flag itself), and refuses `--verify` and
/// `--image`, which need the data.
/// `--streams 1` writes GC's moves among the host's writes: every sector
/// still reads back (`--verify`), the report says so, and on skewed
/// writes the separation it gives up costs write amplification.
#[test]
fn one_data_stream_is_the_baseline_without_separation() {
    let args = ["--workload", "zipf:0.99", "--op", "0.2"];
    let args = [
        &args[..],
        &["--precondition", "1x", "--writes", "1x", "--verify"],
    ]
    .concat();
    let two = run_json(&args);
    let one = run_json(&[&args[..], &["--streams", "1"]].concat());
    assert_eq!(two["ftl"]["data_streams"], Value::from(2));
    assert_eq!(one["ftl"]["data_streams"], Value::from(1));
    assert!(f(&one, "gc_runs") > 0.0 && f(&two, "gc_runs") > 0.0);
    let (wa1, wa2) = (
        f(&one, "write_amplification"),
        f(&two, "write_amplification"),
    );
    assert!(wa1 > wa2, "one stream {wa1}, two {wa2}");
}

#[test]
fn metadata_only_reports_the_same_run_and_refuses_verify() {
    let args = ["--workload", "uniform", "--read-pct", "30"];
    let args = [&args[..], &["--precondition", "1x", "--writes", "1x"]].concat();
    let strip = |v: Value| {
        let mut v = without_wall(v);
        v["ftl"].as_object_mut().unwrap().remove("metadata_only");
        v
    };
    let with_data = run_json(&args);
    let without = run_json(&[&args[..], &["--metadata-only"]].concat());
    assert_eq!(without["ftl"]["metadata_only"], Value::Bool(true));
    assert_eq!(with_data["ftl"]["metadata_only"], Value::Bool(false));
    assert!(f(&without, "gc_runs") > 0.0);
    assert!(f(&without, "write_amplification") > 1.0);
    assert_eq!(strip(with_data), strip(without));

    for extra in [&["--verify"][..], &["--image", "never-created.img"]] {
        let mut all = vec!["run", "--metadata-only"];
        all.extend_from_slice(extra);
        let (code, err) = fails(&all);
        assert_eq!(code, 2, "{all:?}: {err}");
        assert!(err.contains("--metadata-only"), "{err}");
    }
}

/// `--image` puts the NAND in a sparse file: the same run as in RAM (every
/// sector verified), the file left behind, smaller on disk than its size.
#[test]
fn an_image_file_runs_the_same_as_ram() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("nand.img");
    let args = [
        "--workload",
        "uniform",
        "--read-pct",
        "30",
        "--precondition",
        "0.5x",
        "--writes",
        "0.5x",
        "--verify",
    ];
    let in_ram = run_json(&args);
    let on_file = run_json(&[&args[..], &["--image", image.to_str().unwrap()]].concat());
    assert!(f(&on_file, "gc_runs") > 0.0);
    assert_eq!(without_wall(in_ram), without_wall(on_file));
    let meta = std::fs::metadata(&image).expect("the image is left behind");
    assert!(meta.len() > 0);
    use std::os::unix::fs::MetadataExt;
    assert!(
        meta.blocks() * 512 < meta.len(),
        "sparse: {} bytes allocated of {}",
        meta.blocks() * 512,
        meta.len()
    );
}
