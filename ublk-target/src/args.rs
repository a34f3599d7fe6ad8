//! The command line, and nothing else: what each subcommand takes and its
//! defaults. Parsing of sizes and geometry specs lives in `spec.rs`.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Where `add` and `format` keep the NAND image unless told otherwise.
pub const DEFAULT_IMAGE: &str = "/var/lib/zcftl/ublk.img";
/// Raw flash capacity of a new image unless told otherwise.
pub const DEFAULT_SIZE: &str = "1G";

/// ftl-ublk: the zcftl flash translation layer as a Linux block device
/// (/dev/ublkbN) over a file-backed simulated NAND image.
#[derive(Parser, Debug)]
#[command(name = "ftl-ublk", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Expose an FTL (or a null target) as /dev/ublkbN; prints the device path.
    Add(AddArgs),
    /// Stop a device's daemon (it flushes and saves first) and delete the device.
    Del {
        /// Device id (N of /dev/ublkbN).
        id: u32,
    },
    /// Restart the daemon of a device whose daemon died (the kernel kept
    /// /dev/ublkbN and its I/O waiting); prints the device path.
    Recover {
        /// Device id (N of /dev/ublkbN).
        id: u32,
        /// Stay in the foreground (logs to stderr; Ctrl-C stops the device).
        #[arg(long)]
        foreground: bool,
    },
    /// List ublk devices.
    List,
    /// Show a running device's FTL statistics.
    Stats {
        /// Device id (N of /dev/ublkbN).
        id: u32,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Create (or re-create, erasing everything) a NAND image and format the FTL on it.
    Format(FormatArgs),
}

/// How payload moves between the kernel and the FTL's slots.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZeroCopy {
    /// USER_COPY when the driver offers it, else copy.
    Auto,
    /// Require UBLK_F_USER_COPY: the kernel copies straight into/out of the slots.
    UserCopy,
    /// Per-tag buffers and one user-space memcpy per request (counted in stats).
    Copy,
}

/// `ftl-ublk add`.
#[derive(clap::Args, Debug, Clone)]
pub struct AddArgs {
    /// NAND image file; created and formatted if it does not exist.
    #[arg(long, default_value = DEFAULT_IMAGE)]
    pub image: PathBuf,
    /// Raw flash size of a new image (e.g. 256M, 1G); the device is smaller
    /// by the over-provisioning. Must match an existing image if given.
    #[arg(long)]
    pub size: Option<String>,
    /// Geometry of a new image, e.g. `blocks=512,pages=128,page=16K,op=12`
    /// (keys: channels dies planes blocks pages page sector oob op).
    #[arg(long)]
    pub geometry: Option<String>,
    /// Hardware queues (one thread each).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub queues: u16,
    /// Requests in flight per queue (ublk tags).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub depth: u16,
    /// Device id to ask for (default: the driver picks).
    #[arg(long)]
    pub id: Option<u32>,
    /// Stay in the foreground (logs to stderr; Ctrl-C stops the device).
    #[arg(long)]
    pub foreground: bool,
    /// Payload path: auto, user-copy or copy.
    #[arg(long, value_enum, default_value_t = ZeroCopy::Auto)]
    pub zero_copy: ZeroCopy,
    /// A null target: reads return zeros, writes are discarded, no FTL, no image.
    #[arg(long)]
    pub null: bool,
    /// RAM for the FTL's map (e.g. 64M): the map is then demand-paged, its
    /// entries cached within this budget (all shards together) and read
    /// from flash on a miss. Default: the whole map in RAM (4 bytes per
    /// 4 KiB of device).
    #[arg(long)]
    pub map_budget: Option<String>,
    /// Independent FTLs a new image is split into, each with its own lock,
    /// so queues do not wait for each other (default: 1 for one queue, two
    /// per queue for more, fewer if the image is too small). An existing
    /// image keeps the count it was made with.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub shards: Option<u16>,
}

/// `ftl-ublk format`.
#[derive(clap::Args, Debug, Clone)]
pub struct FormatArgs {
    /// NAND image file to create or overwrite.
    #[arg(long, default_value = DEFAULT_IMAGE)]
    pub image: PathBuf,
    /// Raw flash size (e.g. 256M, 1G).
    #[arg(long)]
    pub size: Option<String>,
    /// Geometry, as for `add --geometry`.
    #[arg(long)]
    pub geometry: Option<String>,
    /// Independent FTLs the image is split into, as for `add --shards`.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub shards: u16,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn add_with_no_flags_has_defaults() {
        let cli = Cli::try_parse_from(["ftl-ublk", "add"]).unwrap();
        let Command::Add(a) = cli.command else {
            panic!("not add")
        };
        assert_eq!(a.image, PathBuf::from(DEFAULT_IMAGE));
        assert_eq!(a.zero_copy, ZeroCopy::Auto);
        assert!(!a.null && !a.foreground);
        assert_eq!((a.queues, a.depth), (1, 64));
    }

    #[test]
    fn contract_flags_parse() {
        let cli = Cli::try_parse_from([
            "ftl-ublk",
            "add",
            "--image",
            "/tmp/x.img",
            "--size",
            "256M",
            "--queues",
            "2",
            "--depth",
            "32",
            "--id",
            "7",
            "--foreground",
            "--zero-copy",
            "user-copy",
            "--null",
        ])
        .unwrap();
        let Command::Add(a) = cli.command else {
            panic!("not add")
        };
        assert_eq!(a.id, Some(7));
        assert_eq!(a.zero_copy, ZeroCopy::UserCopy);
        assert!(a.null && a.foreground);
        for argv in [
            &["ftl-ublk", "del", "3"][..],
            &["ftl-ublk", "list"],
            &["ftl-ublk", "recover", "3"],
            &["ftl-ublk", "recover", "3", "--foreground"],
            &["ftl-ublk", "stats", "3", "--json"],
            &[
                "ftl-ublk",
                "format",
                "--image",
                "/tmp/y.img",
                "--size",
                "64M",
            ],
        ] {
            Cli::try_parse_from(argv).unwrap();
        }
        assert!(Cli::try_parse_from(["ftl-ublk", "add", "--zero-copy", "fast"]).is_err());
        assert!(Cli::try_parse_from(["ftl-ublk", "add", "--depth", "0"]).is_err());
        for bad in ["0", "17", "two"] {
            assert!(Cli::try_parse_from(["ftl-ublk", "add", "--shards", bad]).is_err());
            assert!(Cli::try_parse_from(["ftl-ublk", "format", "--shards", bad]).is_err());
        }
        let cli = Cli::try_parse_from(["ftl-ublk", "add", "--shards", "4"]).unwrap();
        let Command::Add(a) = cli.command else {
            panic!("not add")
        };
        assert_eq!(a.shards, Some(4));
        assert!(
            Cli::try_parse_from(["ftl-ublk", "recover"]).is_err(),
            "needs an id"
        );
    }
}
