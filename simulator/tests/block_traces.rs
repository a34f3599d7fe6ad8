//! Real and hand-written block traces through the workload layer: the two
//! MQSim fixtures (`tests/data/traces/`, see its README) read whole, folded
//! onto a small device, read twice alike; MSR and blkparse snippets written
//! from the formats' documentation; a bad line of each format named by file
//! and line.

use std::io::Write;
use std::path::PathBuf;

use simulator::workload::{
    open, FoldedSource, Folder, Op, Request, RequestSource, SectorSpan, TraceFormat, TraceReader,
    TraceSpec,
};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/traces")
        .join(name)
}

fn read_all(src: &mut impl RequestSource) -> Vec<Request> {
    let mut v = Vec::new();
    while let Some(r) = src.next_request().expect("a good trace") {
        v.push(r);
    }
    v
}

/// What the fixtures' README table says, counted independently with awk.
struct Expect {
    name: &'static str,
    requests: usize,
    reads: usize,
    writes: usize,
    bytes: u64,
    last_arrival_ns: u64,
}

const FIXTURES: [Expect; 2] = [
    Expect {
        name: "tpcc-small.trace",
        requests: 6_999,
        reads: 4_381,
        writes: 2_618,
        bytes: 59_718_656,
        last_arrival_ns: 136_489_000,
    },
    Expect {
        // 24,782 newlines: the last line has none, and is a request too.
        name: "wsrch-small.trace",
        requests: 24_783,
        reads: 24_779,
        writes: 4,
        bytes: 382_117_888,
        last_arrival_ns: 60_055_212_000,
    },
];

#[test]
fn the_fixtures_read_whole_with_their_counts() {
    for e in &FIXTURES {
        let spec: TraceSpec = format!("disksim:{}", fixture(e.name).display())
            .parse()
            .unwrap();
        let mut r = spec.open().unwrap();
        let v = read_all(&mut r);
        assert_eq!(v.len(), e.requests, "{}", e.name);
        let count = |op| v.iter().filter(|q| q.op == op).count();
        assert_eq!((count(Op::Read), count(Op::Write)), (e.reads, e.writes));
        assert_eq!(v.iter().map(|q| q.len_bytes).sum::<u64>(), e.bytes);
        assert_eq!(v[0].arrival_ns, 0);
        assert_eq!(v.last().unwrap().arrival_ns, e.last_arrival_ns);
        assert!(v.windows(2).all(|w| w[0].arrival_ns <= w[1].arrival_ns));
        assert!(v
            .iter()
            .all(|q| q.offset_bytes % 512 == 0 && q.len_bytes > 0));
        let s = r.stats();
        assert_eq!(s.lines, e.requests as u64);
        assert_eq!(s.requests, e.requests as u64);
        assert_eq!(
            (s.skipped_lines, s.zero_length, s.backward_timestamps),
            (0, 0, 0)
        );
    }
}

#[test]
fn folded_onto_a_small_device_every_byte_stays_inside() {
    // 1 GiB less a sector, 4 KiB FTL sectors: the modulus is 1 GiB − 4 KiB,
    // so the traces' 232 GB and 18 GB addresses wrap many times and some
    // requests straddle the end.
    let device = (1u64 << 30) - 512;
    let folder = Folder::new(device, 4096).unwrap();
    assert_eq!(folder.modulus(), (1 << 30) - 4096);
    for e in &FIXTURES {
        let mut src =
            FoldedSource::new(open(TraceFormat::DiskSim, fixture(e.name)).unwrap(), folder);
        let v = read_all(&mut src);
        assert!(v.len() >= e.requests);
        assert!(
            v.iter().all(|q| q.end_bytes() <= folder.modulus()),
            "{}",
            e.name
        );
        // Folding moves bytes, it never adds or drops one.
        assert_eq!(v.iter().map(|q| q.len_bytes).sum::<u64>(), e.bytes);
        assert_eq!(src.inner().stats().requests, e.requests as u64);
    }
}

#[test]
fn read_twice_alike() {
    for e in &FIXTURES {
        let a = read_all(&mut open(TraceFormat::DiskSim, fixture(e.name)).unwrap());
        let b = read_all(&mut open(TraceFormat::DiskSim, fixture(e.name)).unwrap());
        assert_eq!(a, b, "{}", e.name);
    }
}

#[test]
fn sector_spans_account_for_every_byte() {
    // In 4 KiB FTL sectors, and in 16 KiB ones (tpcc's 8 KiB requests are
    // then all partial).
    let v = read_all(&mut open(TraceFormat::DiskSim, fixture("tpcc-small.trace")).unwrap());
    for sector in [4096u64, 16384] {
        let mut partial = 0;
        for q in &v {
            let s = SectorSpan::of(q.offset_bytes, q.len_bytes, sector).unwrap();
            let covered = s.full_sectors() * sector + s.head_partial_bytes + s.tail_partial_bytes;
            assert_eq!(covered, q.len_bytes);
            partial += s.partial_sectors();
        }
        assert!(sector == 4096 || partial >= v.len() as u64, "{partial}");
    }
}

fn from_text(format: TraceFormat, text: &str) -> TraceReader<&[u8]> {
    TraceReader::new(format, text.as_bytes(), format!("snippet.{format}"))
}

fn summary(v: &[Request]) -> Vec<(u64, Op, u64, u64)> {
    v.iter()
        .map(|q| (q.arrival_ns, q.op, q.offset_bytes, q.len_bytes))
        .collect()
}

#[test]
fn an_msr_snippet() {
    // Columns as the SNIA IOTTA MSR Cambridge files have them, with the
    // header some copies add; times are 100 ns filetime ticks.
    let text = "Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime\r\n\
                128166372003061629,hm,1,Read,7014609920,24576,41286\r\n\
                128166372003062000,hm,1,Write,1024,512,100\r\n\
                128166372003062100,hm,1,Write,4096,0,100\r\n\
                128166372003070000,hm,1,Write,3154,1000,90\r\n";
    let mut r = from_text(TraceFormat::Msr, text);
    assert_eq!(
        summary(&read_all(&mut r)),
        [
            (0, Op::Read, 7_014_609_920, 24_576),
            (37_100, Op::Write, 1024, 512),
            (837_100, Op::Write, 3154, 1000),
        ]
    );
    let s = r.stats();
    assert_eq!((s.lines, s.skipped_lines, s.zero_length), (5, 1, 1));
}

#[test]
fn a_blkparse_snippet() {
    // blkparse's default output for one device: a journal write with a
    // preflush, its life cycle (only Q counts), a read, a discard, an empty
    // flush, a plug/unplug, and the summary blkparse ends with.
    let text = "\
  8,0    3        1     0.000000000   697  Q  WS 223490 + 8 [kjournald]
  8,0    3        2     0.000001000   697  G  WS 223490 + 8 [kjournald]
  8,0    3        3     0.000001500   697  P   N [kjournald]
  8,0    3        4     0.000002000   697  I  WS 223490 + 8 [kjournald]
  8,0    3        5     0.000002500   697  U   N [kjournald] 1
  8,0    3        6     0.000003000   697  D  WS 223490 + 8 [kjournald]
  8,0    1        1     0.000010000  2113  Q   R 1024 + 256 [cat]
  8,0    3        7     0.000100000     0  C  WS 223490 + 8 [0]
  8,0    2        1     0.000200000   215  Q FWS 4096 + 16 [jbd2/sda1-8]
  8,0    0        1     0.001000000  3321  Q   D 0 + 2048 [fstrim]
  8,0    2        2     0.002000000   215  Q FWS [jbd2/sda1-8]
CPU0 (8,0):
 Reads Queued:           1,      128KiB\t Writes Queued:           2,       12KiB
 Read Dispatches:        0,        0KiB\t Write Dispatches:        1,        4KiB
Total (8,0):
 Reads Queued:           1,      128KiB\t Writes Queued:           2,       12KiB

Throughput (R/W): 0KiB/s / 0KiB/s
Events (8,0): 11 entries
Skips: 0 forward (0 -   0.0%)
";
    let mut r = from_text(TraceFormat::Blkparse, text);
    assert_eq!(
        summary(&read_all(&mut r)),
        [
            (0, Op::Write, 223_490 * 512, 4096),
            (10_000, Op::Read, 1024 * 512, 128 * 1024),
            (200_000, Op::Flush, 0, 0),
            (200_000, Op::Write, 4096 * 512, 8192),
            (1_000_000, Op::Trim, 0, 1 << 20),
            (2_000_000, Op::Flush, 0, 0),
        ]
    );
    assert_eq!(r.stats().requests, 6);
}

/// Writes `text` to a temporary file, reads it as `format`, returns the
/// error's line, its message and the file's path.
fn first_error(format: TraceFormat, text: &str) -> (u64, String, PathBuf) {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    let path = f.path().to_path_buf();
    let mut r = open(format, &path).unwrap();
    loop {
        match r.next_request() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("{format}: no error in {text:?}"),
            Err(e) => {
                assert_eq!(e.path, path);
                assert!(
                    e.to_string().starts_with(&format!(
                        "{}:{}: {format}: ",
                        path.display(),
                        e.line
                    )),
                    "{e}"
                );
                // After an error the reader stops.
                assert_eq!(r.next_request(), Ok(None));
                return (e.line, e.to_string(), path);
            }
        }
    }
}

#[test]
fn a_bad_line_is_named_by_file_and_line_in_every_format() {
    let (line, msg, _) = first_error(
        TraceFormat::DiskSim,
        "938513000 4 264719034 16 0\n\n938828000 3 197570570 16 2\n",
    );
    assert_eq!(line, 3);
    assert!(
        msg.contains("type (field 5) `2` is neither 0 (write) nor 1 (read)"),
        "{msg}"
    );

    let (line, msg, _) = first_error(
        TraceFormat::Msr,
        "Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime\n\
         128166372003061629,hm,1,Read,7014609920,24576,41286\n\
         128166372003061629,hm,1,Read,7014609920\n",
    );
    assert_eq!(line, 3);
    assert!(msg.contains("found 5"), "{msg}");

    let (line, msg, _) = first_error(
        TraceFormat::Blkparse,
        "  8,0    3        1     0.000000000   697  Q  WS 223490 + 8 [kjournald]\n\
         CPU0 (8,0):\n  8,0    3        2     0.000001000   697  Q  WS 223490 + x [kjournald]\n",
    );
    assert_eq!(line, 3);
    assert!(msg.contains("count (field 10) `x`"), "{msg}");

    // A file that is not text at all.
    let (line, msg, _) = first_error(TraceFormat::DiskSim, "\u{0}\u{1}garbage\n");
    assert_eq!(line, 1);
    assert!(msg.contains("expected 5 fields"), "{msg}");
}

#[test]
fn a_missing_file_is_named() {
    let e = open(TraceFormat::Blkparse, "/nonexistent/dir/sda.txt").unwrap_err();
    assert_eq!(e.line, 0);
    assert!(e.to_string().contains("/nonexistent/dir/sda.txt"), "{e}");
}
