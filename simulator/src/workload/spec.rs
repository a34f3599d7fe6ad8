//! The command line's workload strings, parsed with [`FromStr`]:
//!
//! | option | grammar | type |
//! |---|---|---|
//! | `--workload` | `uniform` \| `zipf:THETA` \| `hotcold:HOT_PCT/ACCESS_PCT` \| `sequential` | [`Pattern`] |
//! | `--bs` | `SIZE` \| `SIZE:WEIGHT,SIZE:WEIGHT,…` | [`BlockSizeMix`] |
//! | `--trace` | `disksim:PATH` \| `msr:PATH` \| `blkparse:PATH` | [`TraceSpec`] |
//!
//! A `SIZE` is a number of bytes with an optional binary suffix, `K`/`KiB`,
//! `M`/`MiB` or `G`/`GiB` (case-insensitive; `4K` = 4096), see
//! [`parse_size`].

use core::fmt;
use core::str::FromStr;
use std::path::PathBuf;

use super::zipf::MAX_ZIPF_EXPONENT;
use super::TRACE_SECTOR_BYTES;

/// A workload or size string that does not parse: the input and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("bad {what} `{input}`: {reason}")]
pub struct SpecError {
    /// What was being parsed (`--workload`, `--bs`, `--trace`, size).
    pub what: &'static str,
    /// The string as given.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

fn spec_err(what: &'static str, input: &str, reason: impl Into<String>) -> SpecError {
    SpecError {
        what,
        input: input.to_string(),
        reason: reason.into(),
    }
}

/// Where synthetic requests land (`--workload`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pattern {
    /// Every aligned position equally likely.
    Uniform,
    /// Zipf over the aligned positions with exponent `theta` (0.99 is
    /// YCSB's), hot positions scattered over the device by
    /// [`scramble`](super::scramble).
    Zipf {
        /// The exponent, `0 < theta ≤` [`MAX_ZIPF_EXPONENT`].
        theta: f64,
    },
    /// `hot_pct` % of the device (its first positions) receives
    /// `access_pct` % of the requests, uniformly within each part.
    HotCold {
        /// Share of the device that is hot, 1..=99.
        hot_pct: u8,
        /// Share of requests going to the hot part, 0..=100.
        access_pct: u8,
    },
    /// One request after the other, wrapping to 0 at the device's end.
    Sequential,
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pattern::Uniform => f.write_str("uniform"),
            Pattern::Zipf { theta } => write!(f, "zipf:{theta}"),
            Pattern::HotCold {
                hot_pct,
                access_pct,
            } => write!(f, "hotcold:{hot_pct}/{access_pct}"),
            Pattern::Sequential => f.write_str("sequential"),
        }
    }
}

impl FromStr for Pattern {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, SpecError> {
        let err = |reason: &str| spec_err("--workload", s, reason);
        let (name, arg) = match s.split_once(':') {
            Some((n, a)) => (n, Some(a)),
            None => (s, None),
        };
        match (name, arg) {
            ("uniform", None) => Ok(Pattern::Uniform),
            ("sequential", None) => Ok(Pattern::Sequential),
            ("zipf", Some(t)) => {
                let theta: f64 = t
                    .parse()
                    .map_err(|_| err("THETA must be a number, e.g. zipf:0.99"))?;
                if theta > 0.0 && theta <= MAX_ZIPF_EXPONENT {
                    Ok(Pattern::Zipf { theta })
                } else {
                    Err(err(&format!("THETA must be > 0 and ≤ {MAX_ZIPF_EXPONENT}")))
                }
            }
            ("hotcold", Some(a)) => {
                let shape = "expected hotcold:HOT_PCT/ACCESS_PCT, e.g. hotcold:20/80";
                let (h, a) = a.split_once('/').ok_or_else(|| err(shape))?;
                let hot_pct: u8 = h.parse().map_err(|_| err(shape))?;
                let access_pct: u8 = a.parse().map_err(|_| err(shape))?;
                if !(1..=99).contains(&hot_pct) {
                    return Err(err("HOT_PCT must be 1..=99"));
                }
                if access_pct > 100 {
                    return Err(err("ACCESS_PCT must be 0..=100"));
                }
                Ok(Pattern::HotCold {
                    hot_pct,
                    access_pct,
                })
            }
            ("uniform" | "sequential", Some(_)) => Err(err("takes no argument")),
            ("zipf" | "hotcold", None) => Err(err("needs an argument after `:`")),
            _ => Err(err(
                "expected uniform, zipf:THETA, hotcold:HOT_PCT/ACCESS_PCT or sequential",
            )),
        }
    }
}

/// Parses a byte count: digits, optionally followed by `K`/`KiB`, `M`/`MiB`
/// or `G`/`GiB` (powers of 1024, case-insensitive), e.g. `512`, `4K`,
/// `64KiB`, `1m`. Overflowing `u64` is an error.
pub fn parse_size(s: &str) -> Result<u64, SpecError> {
    let err = |reason: &str| spec_err("size", s, reason);
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(err("expected a number of bytes, e.g. 4K or 4096"));
    }
    let n: u64 = s[..digits].parse().map_err(|_| err("too large"))?;
    let shift = match s[digits..].to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        _ => return Err(err("unknown unit; use K, M or G (powers of 1024)")),
    };
    n.checked_mul(1 << shift).ok_or_else(|| err("too large"))
}

/// One block size or a weighted mix of them (`--bs`): `4K`, or
/// `4K:70,64K:30` — weights are relative (they need not add up to 100).
/// Every size is a positive multiple of 512 bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockSizeMix {
    entries: Vec<(u64, u32)>,
}

impl BlockSizeMix {
    /// A mix of one size, or `None` unless it is a positive multiple of 512.
    pub fn single(bytes: u64) -> Option<Self> {
        (bytes > 0 && bytes % TRACE_SECTOR_BYTES == 0).then(|| BlockSizeMix {
            entries: vec![(bytes, 1)],
        })
    }

    /// `(size in bytes, weight)` pairs, in the order given.
    pub fn entries(&self) -> &[(u64, u32)] {
        &self.entries
    }

    /// The smallest size: the generators' alignment.
    pub fn min_bytes(&self) -> u64 {
        self.entries.iter().map(|e| e.0).min().unwrap_or(0)
    }

    /// The largest size: the device must hold at least one of these.
    pub fn max_bytes(&self) -> u64 {
        self.entries.iter().map(|e| e.0).max().unwrap_or(0)
    }

    /// The sum of the weights (never 0, never above `u32::MAX`).
    pub fn total_weight(&self) -> u64 {
        self.entries.iter().map(|e| u64::from(e.1)).sum()
    }

    /// The size whose weight bracket holds `ticket` in `0..total_weight()`.
    pub(crate) fn pick(&self, mut ticket: u64) -> u64 {
        for &(bytes, w) in &self.entries {
            if ticket < u64::from(w) {
                return bytes;
            }
            ticket -= u64::from(w);
        }
        self.max_bytes()
    }
}

impl FromStr for BlockSizeMix {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, SpecError> {
        let err = |reason: String| spec_err("--bs", s, reason);
        let mut entries = Vec::new();
        let parts: Vec<&str> = s.split(',').collect();
        for part in &parts {
            let (size, weight) = match part.split_once(':') {
                Some((sz, w)) => {
                    let w: u32 = w
                        .parse()
                        .map_err(|_| err(format!("weight `{w}` is not a whole number")))?;
                    if w == 0 {
                        return Err(err(format!("`{part}`: a weight must be > 0")));
                    }
                    (sz, w)
                }
                None if parts.len() == 1 => (*part, 1),
                None => return Err(err("in a mix every size needs a :WEIGHT".into())),
            };
            let bytes = parse_size(size).map_err(|e| err(e.reason))?;
            if bytes == 0 || bytes % TRACE_SECTOR_BYTES != 0 {
                return Err(err(format!(
                    "`{size}` is not a positive multiple of 512 bytes"
                )));
            }
            entries.push((bytes, weight));
        }
        let total: u64 = entries.iter().map(|e| u64::from(e.1)).sum();
        if total > u64::from(u32::MAX) {
            return Err(err("the weights add up to more than 2^32 - 1".into()));
        }
        Ok(BlockSizeMix { entries })
    }
}

/// A block trace's file format (the part of `--trace` before the `:`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TraceFormat {
    /// MQSim's DiskSim ASCII: `time_ns dev lba_512 size_512 type`, type
    /// 0 = write, 1 = read (see `disksim.rs`).
    DiskSim,
    /// MSR Cambridge CSV: `Timestamp,Hostname,DiskNumber,Type,Offset,Size,
    /// ResponseTime` (see `msr.rs`).
    Msr,
    /// blkparse's default text output; its queue (`Q`) events (see
    /// `blkparse.rs`).
    Blkparse,
}

impl fmt::Display for TraceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TraceFormat::DiskSim => "disksim",
            TraceFormat::Msr => "msr",
            TraceFormat::Blkparse => "blkparse",
        })
    }
}

impl FromStr for TraceFormat {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, SpecError> {
        match s {
            "disksim" => Ok(TraceFormat::DiskSim),
            "msr" => Ok(TraceFormat::Msr),
            "blkparse" => Ok(TraceFormat::Blkparse),
            _ => Err(spec_err(
                "trace format",
                s,
                "expected disksim, msr or blkparse",
            )),
        }
    }
}

/// `--trace FORMAT:PATH`. The path is everything after the first `:`, so
/// it may contain colons itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceSpec {
    /// The file's format.
    pub format: TraceFormat,
    /// The file.
    pub path: PathBuf,
}

impl FromStr for TraceSpec {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, SpecError> {
        let err = |reason: &str| spec_err("--trace", s, reason);
        let (format, path) = s
            .split_once(':')
            .ok_or_else(|| err("expected FORMAT:PATH, e.g. disksim:tpcc.trace"))?;
        let format = format.parse().map_err(|e: SpecError| err(&e.reason))?;
        if path.is_empty() {
            return Err(err("the path is empty"));
        }
        Ok(TraceSpec {
            format,
            path: PathBuf::from(path),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_parse_and_print_back() {
        for s in [
            "uniform",
            "sequential",
            "zipf:0.99",
            "zipf:1",
            "hotcold:20/80",
        ] {
            let p: Pattern = s.parse().unwrap();
            assert_eq!(p.to_string(), s);
        }
        assert_eq!(
            "hotcold:1/0".parse::<Pattern>().unwrap(),
            Pattern::HotCold {
                hot_pct: 1,
                access_pct: 0
            }
        );
    }

    #[test]
    fn bad_patterns_say_what_is_wrong() {
        for (s, why) in [
            ("", "expected uniform"),
            ("random", "expected uniform"),
            ("uniform:3", "takes no argument"),
            ("zipf", "needs an argument"),
            ("zipf:", "must be a number"),
            ("zipf:abc", "must be a number"),
            ("zipf:0", "must be > 0"),
            ("zipf:-1", "must be > 0"),
            ("zipf:NaN", "must be > 0"),
            ("zipf:inf", "must be > 0"),
            ("zipf:41", "must be > 0"),
            ("hotcold:20", "expected hotcold:"),
            ("hotcold:20/", "expected hotcold:"),
            ("hotcold:0/80", "HOT_PCT must be 1..=99"),
            ("hotcold:100/80", "HOT_PCT must be 1..=99"),
            ("hotcold:300/80", "expected hotcold:"),
            ("hotcold:20/101", "ACCESS_PCT must be 0..=100"),
        ] {
            let e = s.parse::<Pattern>().unwrap_err();
            assert!(e.to_string().contains(why), "{s}: {e}");
            assert!(e.to_string().contains("--workload"), "{e}");
        }
    }

    #[test]
    fn sizes() {
        for (s, n) in [
            ("0", 0),
            ("512", 512),
            ("4k", 4096),
            ("4K", 4096),
            ("4KiB", 4096),
            ("64kib", 65536),
            ("1M", 1 << 20),
            ("2G", 2 << 30),
            ("7b", 7),
        ] {
            assert_eq!(parse_size(s).unwrap(), n, "{s}");
        }
        for s in [
            "",
            "K",
            "4T",
            "4 K",
            "-4K",
            "4.5K",
            "18446744073709551616",
            "17179869184G",
        ] {
            assert!(parse_size(s).is_err(), "{s}");
        }
    }

    #[test]
    fn block_size_mixes() {
        let m: BlockSizeMix = "4K".parse().unwrap();
        assert_eq!(m.entries(), &[(4096, 1)]);
        let m: BlockSizeMix = "4K:70,64K:30".parse().unwrap();
        assert_eq!(m.entries(), &[(4096, 70), (65536, 30)]);
        assert_eq!(
            (m.min_bytes(), m.max_bytes(), m.total_weight()),
            (4096, 65536, 100)
        );
        assert_eq!(m.pick(0), 4096);
        assert_eq!(m.pick(69), 4096);
        assert_eq!(m.pick(70), 65536);
        assert_eq!(m.pick(99), 65536);
        assert_eq!(BlockSizeMix::single(512).unwrap().entries(), &[(512, 1)]);
        assert!(BlockSizeMix::single(0).is_none());
        assert!(BlockSizeMix::single(1000).is_none());
        for (s, why) in [
            ("", "expected a number"),
            ("0", "positive multiple of 512"),
            ("1000", "positive multiple of 512"),
            ("4K,64K", "every size needs a :WEIGHT"),
            ("4K:70,64K", "every size needs a :WEIGHT"),
            ("4K:0", "must be > 0"),
            ("4K:x", "not a whole number"),
            ("4K:-1", "not a whole number"),
            ("4K:4294967295,8K:1", "more than 2^32 - 1"),
        ] {
            let e = s.parse::<BlockSizeMix>().unwrap_err();
            assert!(e.to_string().contains(why), "{s}: {e}");
        }
    }

    #[test]
    fn trace_specs() {
        let t: TraceSpec = "disksim:/tmp/a:b.trace".parse().unwrap();
        assert_eq!(t.format, TraceFormat::DiskSim);
        assert_eq!(t.path, PathBuf::from("/tmp/a:b.trace"));
        assert_eq!(
            "msr:x.csv".parse::<TraceSpec>().unwrap().format,
            TraceFormat::Msr
        );
        assert_eq!(
            "blkparse:-".parse::<TraceSpec>().unwrap().format,
            TraceFormat::Blkparse
        );
        for (s, why) in [
            ("tpcc.trace", "expected FORMAT:PATH"),
            ("spc:x", "expected disksim, msr or blkparse"),
            ("disksim:", "path is empty"),
        ] {
            let e = s.parse::<TraceSpec>().unwrap_err();
            assert!(e.to_string().contains(why), "{s}: {e}");
        }
    }
}
