//! Replays every target's checked-in corpus and regressions, and a fixed
//! set of seeded inputs, with plain `cargo test` on stable Rust.
//!
//! Layout: `corpus/<target>/*` (seeds from short fuzz runs) and
//! `regressions/<target>/*` (minimised inputs that once failed). Inputs of
//! bugs not yet fixed are listed in [`OPEN_BUGS`]: the directory replay
//! skips them and each has its own `#[ignore]`d test naming the bug, so
//! `cargo test -- --ignored` shows whether it is still there.

use std::fs;
use std::path::{Path, PathBuf};

use zcftl_fuzz::common::Rng;
use zcftl_fuzz::{
    cli_parse, cli_text, decode, image_header, journal_file, mount_garbage, power_cut_ops,
};

/// `(target, file name)` of regressions whose bug is still open (see
/// each with an `#[ignore]`d test naming the bug. None are open now.
const OPEN_BUGS: &[(&str, &str)] = &[];

fn regression(target: &str, name: &str) -> Vec<u8> {
    fs::read(dir("regressions", target).join(name)).expect("regression input")
}

fn dir(kind: &str, target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(kind)
        .join(target)
}

/// The files of `corpus/<target>` and `regressions/<target>`, sorted, open
/// bugs left out.
fn inputs(target: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for kind in ["corpus", "regressions"] {
        let Ok(entries) = fs::read_dir(dir(kind, target)) else {
            continue;
        };
        for e in entries {
            let path = e.expect("readable directory").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_file()
                && !name.starts_with('.')
                && !OPEN_BUGS.iter().any(|&(t, f)| t == target && f == name)
            {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Runs `run` on each decodable file; panics naming the first failure.
fn replay<T>(target: &str, run: impl Fn(&T) -> Result<(), String>)
where
    T: for<'a> arbitrary::Arbitrary<'a> + std::fmt::Debug,
{
    for path in inputs(target) {
        let bytes = fs::read(&path).expect("readable input");
        if let Some(input) = decode::<T>(&bytes) {
            if let Err(e) = run(&input) {
                panic!("{}: {e}\n{input:?}", path.display());
            }
        }
    }
}

/// Runs `run` on inputs decoded from seeded random bytes of several sizes.
fn seeded<T>(target: &str, seeds: u64, run: impl Fn(&T) -> Result<(), String>)
where
    T: for<'a> arbitrary::Arbitrary<'a> + std::fmt::Debug,
{
    for seed in 0..seeds {
        let mut rng = Rng::new(seed ^ 0xF022_5EED);
        let len = [16usize, 64, 256, 1024][(seed % 4) as usize];
        let mut bytes = vec![0u8; len];
        rng.fill(&mut bytes);
        if let Some(input) = decode::<T>(&bytes) {
            if let Err(e) = run(&input) {
                panic!("{target} seed {seed}: {e}\n{input:?}");
            }
        }
    }
}

#[test]
fn mount_garbage_corpus() {
    replay::<mount_garbage::Input>("mount_garbage", mount_garbage::run);
}

#[test]
fn mount_garbage_seeds() {
    seeded::<mount_garbage::Input>("mount_garbage", 64, mount_garbage::run);
}

#[test]
fn mount_garbage_by_hand() {
    use mount_garbage::{Corruption as C, HostOp, Input};
    let writes: Vec<HostOp> = (0..40u16)
        .map(|i| HostOp::Write {
            lba: i * 5,
            sectors: (i % 8) as u8,
        })
        .collect();
    let corruptions = vec![
        C::FlipBit {
            page: 3,
            offset: 100,
            bit: 2,
        },
        // Past the data: the spare area's record.
        C::Overwrite {
            page: 5,
            offset: 2060,
            bytes: vec![0, 1, 2, 3],
        },
        C::Replace {
            page: 9,
            data_seed: 1,
            oob: b"ZCFP\x01\x01\x04\x00".to_vec(),
        },
        C::Unreadable { page: 12 },
        C::Clone {
            page: 1,
            block: 7,
            seq: Some(1 << 40),
        },
        C::Forge {
            block: 6,
            seq: 99,
            kind: 0,
            sectors: 3,
            lbas: vec![0, 1, 2, 3],
            erase_count: 5,
            data_seed: 2,
        },
        C::ProgramGarbage {
            block: 5,
            data_seed: 3,
            oob: vec![0; 64],
        },
        C::MarkBad { block: 2 },
        C::Erase { block: 1 },
    ];
    for geometry in [0u8, 1, 2, 0x7e, 0xff] {
        let input = Input {
            geometry,
            op: 10,
            extra_slots: 3,
            seed: u64::from(geometry),
            bulk: 100,
            before: writes.clone(),
            corruptions: corruptions.clone(),
            after: writes[..10].to_vec(),
        };
        mount_garbage::run(&input).unwrap_or_else(|e| panic!("{e}\n{input:?}"));
    }
}

#[test]
fn image_header_corpus() {
    replay::<image_header::Input>("image_header", image_header::run);
}

#[test]
fn image_header_seeds() {
    seeded::<image_header::Input>("image_header", 64, image_header::run);
}

#[test]
fn image_header_by_hand() {
    use image_header::{Edit, Input};
    let cases = [
        // Untouched valid images open and mount.
        Input::Edited {
            geometry: 1,
            fill: 2,
            edits: vec![],
            fix_crc: false,
        },
        // A geometry field changed behind a fixed crc: the size no longer
        // matches.
        Input::Edited {
            geometry: 0,
            fill: 1,
            edits: vec![Edit::HeaderWord { slot: 6, value: 9 }],
            fix_crc: true,
        },
        // Damaged page-state table behind a valid header.
        Input::Edited {
            geometry: 2,
            fill: 3,
            edits: vec![Edit::Set {
                offset: 8192,
                bytes: vec![7; 16],
            }],
            fix_crc: false,
        },
        Input::Edited {
            geometry: 3,
            fill: 0,
            edits: vec![Edit::Truncate { len: 5000 }],
            fix_crc: false,
        },
        Input::Raw {
            bytes: b"ZCFTLNND\x01\x00\x00\x00\x40\x00\x00\x00".to_vec(),
            fix_crc: true,
        },
        Input::Raw {
            bytes: vec![],
            fix_crc: false,
        },
    ];
    for input in &cases {
        image_header::run(input).unwrap_or_else(|e| panic!("{e}\n{input:?}"));
    }
}

#[test]
fn cli_parse_corpus() {
    replay::<cli_parse::Input>("cli_parse", cli_parse::run);
}

#[test]
fn cli_parse_seeds() {
    seeded::<cli_parse::Input>("cli_parse", 256, cli_parse::run);
}

#[test]
fn power_cut_ops_corpus() {
    replay::<power_cut_ops::Input>("power_cut_ops", power_cut_ops::run);
}

#[test]
fn power_cut_ops_seeds() {
    seeded::<power_cut_ops::Input>("power_cut_ops", 32, power_cut_ops::run);
}

// ---- Open bugs: each fails until the bug is fixed. ----

/// no-space-breaks-cache-tables: blocks with valid data marked bad (and a
/// damaged page); after the mount the first write fails with NoSpace, and
/// the cache tables are inconsistent from then on.
#[test]
fn fixed_no_space_breaks_cache_tables() {
    use mount_garbage::{Corruption, HostOp, Input};
    // 19 blocks × 9 pages × 4 sectors of 512 bytes, 20 % over-provisioning;
    // 123 seeded writes; blocks 4 and 10 marked bad, a bit flipped in the
    // data of block 0's first page; one 6-sector write at LBA 6.
    let input = Input {
        geometry: 47,
        op: 10,
        extra_slots: 0,
        seed: 280375465097471,
        bulk: 123,
        before: vec![],
        corruptions: vec![
            Corruption::MarkBad { block: 213 },
            Corruption::MarkBad { block: 219 },
            Corruption::FlipBit {
                page: 0,
                offset: 1536,
                bit: 0,
            },
        ],
        after: vec![HostOp::Write {
            lba: 6,
            sectors: 253,
        }],
    };
    mount_garbage::run_unfiltered(&input).unwrap_or_else(|e| panic!("{e}\n{input:?}"));
    let bytes = regression("mount_garbage", "no-space-breaks-cache-tables");
    let input = decode::<mount_garbage::Input>(&bytes).expect("decodes");
    mount_garbage::run_unfiltered(&input).unwrap_or_else(|e| panic!("{e}\n{input:?}"));
}

/// remount-no-space: a block with data marked bad and page 0's record
/// damaged; mount, checks and flush succeed, but the clean remount of the
/// same medium fails with NoSpace.
#[test]
fn fixed_remount_no_space() {
    use mount_garbage::{Corruption, HostOp, Input};
    // 21 blocks × 10 pages × 1 sector of 512 bytes, 32 % over-provisioning;
    // 43 seeded writes and four more; block 14 marked bad; a bit flipped in
    // the record (spare byte 13) of block 0's first page; no writes after.
    let input = Input {
        geometry: 84,
        op: 84,
        extra_slots: 0,
        seed: 6101293738830877781,
        bulk: 43,
        before: vec![
            HostOp::Write {
                lba: 3855,
                sectors: 15,
            },
            HostOp::Write {
                lba: 3855,
                sectors: 203,
            },
            HostOp::Write {
                lba: 3855,
                sectors: 15,
            },
            HostOp::Write {
                lba: 36096,
                sectors: 141,
            },
        ],
        corruptions: vec![
            Corruption::MarkBad { block: 203 },
            Corruption::FlipBit {
                page: 0,
                offset: 36237,
                bit: 141,
            },
        ],
        after: vec![],
    };
    mount_garbage::run_unfiltered(&input).unwrap_or_else(|e| panic!("{e}\n{input:?}"));
    let bytes = regression("mount_garbage", "remount-no-space");
    let input = decode::<mount_garbage::Input>(&bytes).expect("decodes");
    mount_garbage::run_unfiltered(&input).unwrap_or_else(|e| panic!("{e}\n{input:?}"));
}

// ---- Bugs the targets found, now fixed: kept as regressions. ----
// (Their files under regressions/ are also replayed by the *_corpus tests.)

/// geometry-overflow (fixed in 1127f7f): `Geometry::validate` overflowed
/// `u64` on a geometry whose counts are all large.
#[test]
fn fixed_geometry_overflow_validate() {
    let g = ftl_core::Geometry {
        channels: u16::MAX,
        dies_per_channel: u16::MAX,
        planes_per_die: u16::MAX,
        blocks_per_plane: u32::MAX,
        ..ftl_core::Geometry::default()
    };
    assert!(g.validate().is_err());
    let bytes = regression("cli_parse", "geometry-overflow");
    let input = decode::<cli_parse::Input>(&bytes).expect("decodes");
    cli_parse::run(&input).unwrap_or_else(|e| panic!("{e}\n{input:?}"));
}

/// geometry-overflow through a file: an image header with such a geometry
/// and a correct crc made `SimNand::open_image` panic.
#[test]
fn fixed_geometry_overflow_image_header() {
    let bytes = regression("image_header", "geometry-overflow");
    let input = decode::<image_header::Input>(&bytes).expect("decodes");
    let file = image_header::file_bytes(&input).unwrap();
    image_header::run_bytes(&file).unwrap_or_else(|e| panic!("{e}\n{input:?}"));
}

/// torn-first-program-is-foreign (found on 2862914, gone with the
/// checkpoints of ddfe484): a power cut tearing the first program after
/// format made the mount refuse the device as foreign.
#[test]
fn fixed_torn_first_program_is_foreign() {
    let bytes = regression("power_cut_ops", "torn-first-program-is-foreign");
    let input = decode::<power_cut_ops::Input>(&bytes).expect("decodes");
    power_cut_ops::run(&input).unwrap_or_else(|e| panic!("{e}\n{input:?}"));
}

/// seq-overflow (fixed in c17970d): a verified page with sequence number
/// u64::MAX (here a forged page of padding only) was adopted at mount and
/// the next program overflowed the sequence counter.
#[test]
fn fixed_seq_overflow() {
    use mount_garbage::{Corruption, HostOp, Input};
    for geometry in [0u8, 1, 2] {
        let input = Input {
            geometry,
            op: 10,
            extra_slots: 0,
            seed: 1,
            bulk: 20,
            before: vec![],
            // One sector per page for geometry 0, two for 1, four for 2:
            // the record must match the page to verify.
            corruptions: vec![Corruption::Forge {
                block: 15,
                seq: u64::MAX,
                kind: 0,
                sectors: [0u8, 1, 3][usize::from(geometry)],
                lbas: vec![u32::MAX; 4],
                erase_count: 1,
                data_seed: 5,
            }],
            after: vec![HostOp::Write { lba: 3, sectors: 0 }, HostOp::Flush],
        };
        mount_garbage::run(&input).unwrap_or_else(|e| panic!("{e}\n{input:?}"));
    }
}

/// erase-count-overflow (found on 2862914): a verified page with erase
/// count u32::MAX was adopted at mount and the first erase of its block
/// overflowed the count.
#[test]
fn fixed_erase_count_overflow() {
    use mount_garbage::{Corruption, HostOp, Input};
    // A blank 16-block medium (2 sectors a page), one forged page of
    // padding in block 1, one host write.
    let input = Input {
        geometry: 1,
        op: 8,
        extra_slots: 0,
        seed: 0,
        bulk: 0,
        before: vec![],
        corruptions: vec![Corruption::Forge {
            block: 1,
            seq: 7,
            kind: 0,
            sectors: 1,
            lbas: vec![u32::MAX; 2],
            erase_count: u32::MAX,
            data_seed: 0,
        }],
        after: vec![HostOp::Write { lba: 0, sectors: 7 }],
    };
    mount_garbage::run(&input).unwrap_or_else(|e| panic!("{e}\n{input:?}"));
    let bytes = regression("mount_garbage", "erase-count-overflow");
    let input = decode::<mount_garbage::Input>(&bytes).expect("decodes");
    mount_garbage::run(&input).unwrap_or_else(|e| panic!("{e}\n{input:?}"));
}

#[test]
fn cli_text_corpus() {
    replay::<cli_text::Input>("cli_text", cli_text::run);
}

#[test]
fn cli_text_seeds() {
    seeded::<cli_text::Input>("cli_text", 256, cli_text::run);
}

#[test]
fn cli_text_by_hand() {
    let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let cases = [
        (
            words(&["add", "--size", "64M", "--geometry", "op=12"]),
            "64M",
            "blocks=64,pages=64,page=16K",
            (true, true),
        ),
        (
            words(&["recover", "x"]),
            "18446744073709551615",
            "op=999",
            (true, false),
        ),
        (
            words(&["add", "--size", "99999999999T"]),
            "1Q",
            "page=0",
            (false, true),
        ),
    ];
    for (argv, size, geometry, given) in cases {
        let input = cli_text::Input {
            argv,
            size: size.into(),
            geometry: geometry.into(),
            given,
        };
        if let Err(e) = cli_text::run(&input) {
            panic!("{e}\n{input:?}");
        }
    }
}

#[test]
fn journal_file_corpus() {
    replay::<journal_file::Input>("journal_file", journal_file::run);
}

#[test]
fn journal_file_seeds() {
    seeded::<journal_file::Input>("journal_file", 128, journal_file::run);
}

#[test]
fn journal_file_by_hand() {
    use journal_file::{Edit, Input};
    let list = vec![(5, 1, 3, false), (9, 4, 0, true)];
    let cases = [
        // Undamaged: reads back the last list.
        (vec![], None, false),
        // The header's image identity changed behind a fixed crc.
        (vec![Edit { at: 9, xor: 0x10 }], None, true),
        // The slot count made huge behind a fixed crc: the length no longer matches.
        (vec![Edit { at: 27, xor: 0x7f }], None, true),
        // The active generation moved to a copy never written.
        (
            vec![Edit {
                at: 2048,
                xor: 0x02,
            }],
            None,
            false,
        ),
        // Truncated into the header.
        (vec![], Some(100), false),
    ];
    for (edits, truncate_to, fix_header_crc) in cases {
        let input = Input {
            slots: 3,
            lists: vec![list.clone(), list[..1].to_vec()],
            edits,
            truncate_to,
            fix_header_crc,
        };
        if let Err(e) = journal_file::run(&input) {
            panic!("{e}\n{input:?}");
        }
    }
}

/// `raw-bytes-overflow`: `Geometry::raw_bytes` multiplied the counts in
/// `u32`/`u64`, and `ftl-ublk` quotes it when refusing a geometry.
#[test]
fn fixed_raw_bytes_overflow() {
    let huge = "channels=65535,dies=65535,planes=65535,blocks=4294967295";
    let input = cli_text::Input {
        argv: ["format", "--geometry", huge].map(String::from).to_vec(),
        size: "1T".into(),
        geometry: format!("{huge},pages=4294967295,page=4294967295"),
        given: (true, true),
    };
    cli_text::run(&input).unwrap();
}
