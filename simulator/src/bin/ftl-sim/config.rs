//! The simulated SSD's configuration in three layers: the built-in
//! `default.toml`, then a `--config FILE.toml`, then the flags — each field
//! taken from the last layer that sets it. Sections `[geometry]`,
//! `[timing]` ([`TimingConfig`] as it deserialises itself: fields left out
//! take MQSim's defaults) and `[ftl]` (`ftl_core::FtlConfig`'s fields, plus
//! `cache`, the slot pool, and `op`, over-provisioning as the literature
//! counts it). Unknown keys are errors, not silently ignored typos.
//!
//! Over-provisioning: the FTL is configured with a whole percent of its
//! usable flash hidden from the host (`over_provisioning_percent`), on top
//! of its reserve (open blocks, GC reserve, meta blocks). A requested `op`
//! is (physical − logical) / logical with both counted, so the percent is
//! found by search: the one of 1..=90 whose [`FtlConfig::effective_op`] is
//! closest to the request.

use std::fmt;
use std::path::{Path, PathBuf};

use ftl_core::{FtlConfig, GcPolicy, Geometry};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use simulator::ssd::{SsdConfig, Stripe};
use simulator::timing::TimingConfig;
use simulator::workload::parse_size;

use crate::args::RunArgs;

/// The built-in configuration.
pub const DEFAULT_TOML: &str = include_str!("default.toml");

/// One layer of configuration as a TOML file gives it: every field
/// optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    geometry: FileGeometry,
    timing: Option<TimingConfig>,
    #[serde(default)]
    ftl: FileFtl,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileGeometry {
    channels: Option<u16>,
    dies_per_channel: Option<u16>,
    planes_per_die: Option<u16>,
    blocks_per_plane: Option<u32>,
    pages_per_block: Option<u32>,
    page_size: Option<Size>,
    sector_size: Option<Size>,
    oob_size: Option<Size>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFtl {
    op: Option<f64>,
    over_provisioning_percent: Option<u8>,
    gc_policy: Option<GcName>,
    gc_threshold_blocks: Option<u32>,
    wear_leveling_bound: Option<u32>,
    handles: Option<u32>,
    max_io_sectors: Option<u32>,
    prefill_slots: Option<u16>,
    checkpoint_interval_pages: Option<u32>,
    translation_entries: Option<u32>,
    translation_write_permille: Option<u16>,
    summaries_per_page: Option<u32>,
    data_streams: Option<u32>,
    map_budget_bytes: Option<Size>,
    cache: Option<Size>,
    stripe: Option<StripeName>,
}

/// `stripe` in a file, as `--stripe`.
#[derive(Clone, Copy, Debug, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum StripeName {
    /// Superblocks over every die: one open block per stream.
    Superblocks,
    /// An erase unit and an open block per die.
    Dies,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum GcName {
    Greedy,
    CostBenefit,
}

/// A byte count written as a number (`4096`) or a size string (`"4K"`).
#[derive(Clone, Copy, Debug)]
struct Size(u64);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Size, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Size;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a byte count, e.g. 4096 or \"4K\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Size, E> {
                Ok(Size(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Size, E> {
                u64::try_from(v)
                    .map(Size)
                    .map_err(|_| E::custom("a byte count cannot be negative"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Size, E> {
                parse_size(v).map(Size).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A configuration that cannot be used: one line, naming the file (and
/// line) where there is one. A usage error.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Over-provisioning as chosen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OpChoice {
    /// What was asked (`--op` or `[ftl] op`), in percent; `None`: the
    /// configured `over_provisioning_percent` was taken as it is.
    pub requested_pct: Option<f64>,
    /// The FTL's knob.
    pub over_provisioning_percent: u8,
    /// (physical − logical) / logical in percent, the reserve included.
    pub effective_pct: f64,
}

/// Everything the run's device is made of.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// The device.
    pub ssd: SsdConfig,
    /// How its over-provisioning was chosen.
    pub op: OpChoice,
    /// The configuration file, if one was given.
    pub config_file: Option<PathBuf>,
}

/// Parses one layer; errors name `origin` and the line and column.
pub fn parse_layer(text: &str, origin: &str) -> Result<FileConfig, ConfigError> {
    toml::from_str(text).map_err(|e| {
        let at = e
            .span()
            .map(|s| {
                let before = &text[..s.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                format!(":{line}:{col}")
            })
            .unwrap_or_default();
        let msg = e.message().trim().replace('\n', "; ");
        ConfigError(format!("{origin}{at}: {msg}"))
    })
}

fn read_layer(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("{}: cannot read: {e}", path.display())))?;
    parse_layer(&text, &path.display().to_string())
}

/// The configuration of `args`: built-in defaults, its `--config` file,
/// its flags; checked, and over-provisioning chosen.
pub fn resolve(args: &RunArgs) -> Result<Resolved, ConfigError> {
    let base = parse_layer(DEFAULT_TOML, "built-in default.toml")?;
    let file = match &args.config {
        Some(p) => read_layer(p)?,
        None => FileConfig::default(),
    };
    let origin = args
        .config
        .as_ref()
        .map_or_else(|| "configuration".to_string(), |p| p.display().to_string());
    let bad = |what: String| ConfigError(format!("{origin}: {what}"));

    let (g, bg) = (&file.geometry, &base.geometry);
    let a = &args.geometry;
    let size32 = |name: &str, flag: Option<u32>, f: Option<Size>, b: Option<Size>| {
        if let Some(v) = flag {
            return Ok(v);
        }
        let Size(v) = f
            .or(b)
            .ok_or_else(|| bad(format!("[geometry] {name} is not set")))?;
        u32::try_from(v).map_err(|_| bad(format!("[geometry] {name} = {v} is too large")))
    };
    let need = |name: &str| bad(format!("[geometry] {name} is not set"));
    let geometry = Geometry {
        channels: a
            .channels
            .or(g.channels)
            .or(bg.channels)
            .ok_or_else(|| need("channels"))?,
        dies_per_channel: a
            .dies_per_channel
            .or(g.dies_per_channel)
            .or(bg.dies_per_channel)
            .ok_or_else(|| need("dies_per_channel"))?,
        planes_per_die: a
            .planes
            .or(g.planes_per_die)
            .or(bg.planes_per_die)
            .ok_or_else(|| need("planes_per_die"))?,
        blocks_per_plane: a
            .blocks_per_plane
            .or(g.blocks_per_plane)
            .or(bg.blocks_per_plane)
            .ok_or_else(|| need("blocks_per_plane"))?,
        pages_per_block: a
            .pages_per_block
            .or(g.pages_per_block)
            .or(bg.pages_per_block)
            .ok_or_else(|| need("pages_per_block"))?,
        page_size: size32("page_size", a.page_size, g.page_size, bg.page_size)?,
        sector_size: size32("sector_size", a.sector_size, g.sector_size, bg.sector_size)?,
        oob_size: size32("oob_size", None, g.oob_size, bg.oob_size)?,
    };

    let timing = file.timing.or(base.timing).unwrap_or_default();
    timing
        .validate()
        .map_err(|e| bad(format!("[timing]: {e}")))?;

    let (f, bf) = (&file.ftl, &base.ftl);
    let d = FtlConfig::default();
    let gc_policy = match args.gc {
        Some(g) => g.into(),
        None => match f.gc_policy.or(bf.gc_policy) {
            Some(GcName::Greedy) => GcPolicy::Greedy,
            Some(GcName::CostBenefit) => GcPolicy::CostBenefit,
            None => d.gc_policy,
        },
    };
    let mut ftl = FtlConfig {
        handles: f.handles.or(bf.handles).unwrap_or(d.handles),
        max_io_sectors: f
            .max_io_sectors
            .or(bf.max_io_sectors)
            .unwrap_or(d.max_io_sectors),
        prefill_slots: f
            .prefill_slots
            .or(bf.prefill_slots)
            .unwrap_or(d.prefill_slots),
        gc_threshold_blocks: args
            .ftl
            .gc_threshold
            .or(f.gc_threshold_blocks)
            .or(bf.gc_threshold_blocks)
            .unwrap_or(d.gc_threshold_blocks),
        gc_policy,
        wear_leveling_bound: args
            .ftl
            .wear_leveling_bound
            .or(f.wear_leveling_bound)
            .or(bf.wear_leveling_bound)
            .unwrap_or(d.wear_leveling_bound),
        checkpoint_interval_pages: args
            .ftl
            .checkpoint_interval
            .or(f.checkpoint_interval_pages)
            .or(bf.checkpoint_interval_pages)
            .unwrap_or(d.checkpoint_interval_pages),
        translation_entries: args
            .ftl
            .translation_entries
            .or(f.translation_entries)
            .or(bf.translation_entries)
            .unwrap_or(d.translation_entries),
        translation_write_permille: args
            .ftl
            .translation_write_permille
            .or(f.translation_write_permille)
            .or(bf.translation_write_permille)
            .unwrap_or(d.translation_write_permille),
        summaries_per_page: args
            .ftl
            .summaries_per_page
            .or(f.summaries_per_page)
            .or(bf.summaries_per_page)
            .unwrap_or(d.summaries_per_page),
        data_streams: args
            .ftl
            .streams
            .or(f.data_streams)
            .or(bf.data_streams)
            .unwrap_or(d.data_streams),
        over_provisioning_percent: f
            .over_provisioning_percent
            .or(bf.over_provisioning_percent)
            .unwrap_or(d.over_provisioning_percent),
        map_budget_bytes: args.ftl.map_budget.unwrap_or_else(|| {
            f.map_budget_bytes
                .or(bf.map_budget_bytes)
                .map_or(d.map_budget_bytes, |s| s.0)
        }),
        ..d
    };
    // The shape first, whatever over-provisioning turns out to be.
    ftl.check_geometry(&geometry)
        .map_err(|e| bad(format!("geometry {}: {e}", describe(&geometry))))?;

    // The FTL sees the array striped into superblocks, or in units of a
    // die with a lane per die (simulator::ssd): its logical capacity, so
    // its OP, is that geometry's.
    let stripe = match args.ftl.stripe.or(f.stripe.or(bf.stripe)) {
        Some(StripeName::Superblocks) => Stripe::Superblocks,
        Some(StripeName::Dies) => Stripe::Dies,
        None => Stripe::default(),
    };
    ftl.lanes = stripe.lanes(&geometry);
    let ftl_geo = simulator::ssd::ftl_geometry(&geometry, stripe)
        .map_err(|e| bad(format!("geometry {}: {e}", describe(&geometry))))?;
    ftl.check_geometry(&ftl_geo)
        .map_err(|e| bad(format!("geometry {}: {e}", describe(&geometry))))?;
    // `op` in a file is a ratio, as `--op` (which arrives in percent).
    let requested = args.op.or(f.op.or(bf.op).map(|r| r * 100.0));
    let op = match requested {
        Some(pct) => {
            if !(pct > 0.0 && pct <= 1000.0) {
                return Err(bad(format!(
                    "[ftl] op = {} is not a ratio in (0, 10]",
                    pct / 100.0
                )));
            }
            let (p, _) = closest_op(&ftl, &ftl_geo, pct / 100.0)
                .ok_or_else(|| bad("no over-provisioning leaves the host any space".into()))?;
            ftl.over_provisioning_percent = p;
            // The capacity exactly, not in the percent's steps: logical =
            // physical / (1 + OP), to whole pages.
            let physical = f64::from(ftl_geo.total_sectors());
            ftl.capacity_sectors = (physical / (1.0 + pct / 100.0)).floor() as u64;
            if ftl.check_geometry(&ftl_geo).is_err() {
                let least = FtlConfig {
                    over_provisioning_percent: 1,
                    capacity_sectors: 0,
                    ..ftl
                }
                .effective_op(&ftl_geo);
                return Err(bad(format!(
                    "--op {} leaves less than the FTL's own reserve: at least {:.4}",
                    pct / 100.0,
                    least
                )));
            }
            OpChoice {
                requested_pct: Some(pct),
                over_provisioning_percent: p,
                effective_pct: ftl.effective_op(&ftl_geo) * 100.0,
            }
        }
        None => OpChoice {
            requested_pct: None,
            over_provisioning_percent: ftl.over_provisioning_percent,
            effective_pct: ftl.effective_op(&ftl_geo) * 100.0,
        },
    };

    let cache_bytes = match args.cache {
        Some(c) => c,
        None => f.cache.or(bf.cache).map_or(4 << 20, |s| s.0),
    };
    Ok(Resolved {
        ssd: SsdConfig {
            geometry,
            ftl,
            timing,
            cache_bytes,
            seed: args.seed,
            image: args.image.clone(),
            verify: args.verify,
            metadata_only: args.metadata_only,
            stripe,
        },
        op,
        config_file: args.config.clone(),
    })
}

/// The `over_provisioning_percent` in 1..=90 whose effective OP (a
/// fraction) is closest to `want`, and that OP; ties go to the smaller
/// percent. `None` if no percent leaves the host any space.
pub fn closest_op(ftl: &FtlConfig, geo: &Geometry, want: f64) -> Option<(u8, f64)> {
    (1..=90u8)
        .filter_map(|p| {
            let c = FtlConfig {
                over_provisioning_percent: p,
                ..*ftl
            };
            c.check_geometry(geo).ok()?;
            Some((p, c.effective_op(geo)))
        })
        .min_by(|a, b| (a.1 - want).abs().total_cmp(&(b.1 - want).abs()))
}

/// `4×2×2 × 16 blocks × 256 pages × 16384 B` for error messages.
fn describe(g: &Geometry) -> String {
    format!(
        "{}×{}×{} × {} blocks × {} pages × {} B (sector {} B, spare {} B)",
        g.channels,
        g.dies_per_channel,
        g.planes_per_die,
        g.blocks_per_plane,
        g.pages_per_block,
        g.page_size,
        g.sector_size,
        g.oob_size
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_default_sets_every_field() {
        let c = parse_layer(DEFAULT_TOML, "default").unwrap();
        let g = &c.geometry;
        assert!(g.channels.is_some() && g.dies_per_channel.is_some());
        assert!(g.planes_per_die.is_some() && g.blocks_per_plane.is_some());
        assert!(g.pages_per_block.is_some() && g.page_size.is_some());
        assert!(g.sector_size.is_some() && g.oob_size.is_some());
        let f = &c.ftl;
        assert!(f.over_provisioning_percent.is_some() && f.gc_policy.is_some());
        assert!(f.cache.is_some() && f.map_budget_bytes.is_some());
        // A [timing] section replaces the whole section, its gaps filled
        // with TimingConfig's defaults: the built-in one must be those.
        assert_eq!(c.timing, Some(TimingConfig::default()));
        // Its [ftl] is FtlConfig's default, as it says.
        let d = FtlConfig::default();
        assert_eq!(
            f.over_provisioning_percent,
            Some(d.over_provisioning_percent)
        );
        assert!(matches!(f.gc_policy, Some(GcName::Greedy)) && d.gc_policy == GcPolicy::Greedy);
        assert_eq!(f.gc_threshold_blocks, Some(d.gc_threshold_blocks));
        assert_eq!(f.wear_leveling_bound, Some(d.wear_leveling_bound));
        assert_eq!(f.handles, Some(d.handles));
        assert_eq!(f.max_io_sectors, Some(d.max_io_sectors));
        assert_eq!(f.prefill_slots, Some(d.prefill_slots));
        assert_eq!(
            f.checkpoint_interval_pages,
            Some(d.checkpoint_interval_pages)
        );
        assert_eq!(f.translation_entries, Some(d.translation_entries));
        assert_eq!(
            f.translation_write_permille,
            Some(d.translation_write_permille)
        );
        assert_eq!(f.summaries_per_page, Some(d.summaries_per_page));
        assert_eq!(f.data_streams, Some(d.data_streams));
        assert_eq!(f.map_budget_bytes.map(|s| s.0), Some(d.map_budget_bytes));
        assert!(f.op.is_none());
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse_layer("[geometry]\nchanels = 2\n", "x.toml").unwrap_err();
        assert!(
            e.0.starts_with("x.toml:2:1: unknown field `chanels`"),
            "{e}"
        );
        let e = parse_layer("[geometry]\npage_size = \"16Q\"\n", "x.toml").unwrap_err();
        assert!(e.0.starts_with("x.toml:2:"), "{e}");
        assert!(!e.0.contains('\n'), "{e}");
        let e = parse_layer("[timing]\nt_read_ns = -1\n", "x.toml").unwrap_err();
        assert!(e.0.starts_with("x.toml:2:"), "{e}");
    }

    #[test]
    fn closest_op_finds_the_nearest_percent() {
        let geo = Geometry::default();
        let ftl = FtlConfig::default();
        for want in [0.07, 0.15, 0.28, 0.5] {
            let (p, eff) = closest_op(&ftl, &geo, want).unwrap();
            for q in 1..=90u8 {
                let c = FtlConfig {
                    over_provisioning_percent: q,
                    ..ftl
                };
                if c.check_geometry(&geo).is_ok() {
                    assert!((eff - want).abs() <= (c.effective_op(&geo) - want).abs());
                }
            }
            assert!((eff - want).abs() < 0.01, "{want}: {p} gives {eff}");
        }
    }
}
