//! Reading a block trace as a stream of [`Request`]s: one line at a time
//! from any [`BufRead`], never the whole file (traces run to gigabytes),
//! each line handed to its format's parser (`disksim.rs`, `msr.rs`,
//! `blkparse.rs`), every bad line an error naming the file and the line.
//!
//! What the reader does for every format:
//! - times become `arrival_ns` after the first request, made
//!   non-decreasing (see the module docs of `workload`);
//! - a read, write or trim of 0 bytes is skipped and counted
//!   ([`TraceStats::zero_length`]): a trace may hold one (a zero-size
//!   record, an empty bio) and it asks nothing of the device, so failing a
//!   whole replay for it would help nobody — but it is never silent;
//! - a line longer than [`MAX_LINE_BYTES`] or not UTF-8 is an error (a
//!   binary file given by mistake must not be read into memory whole);
//! - a trailing `\r` is ignored; so is a missing newline after the last
//!   line.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::spec::{TraceFormat, TraceSpec};
use super::{blkparse, disksim, msr, Op, Request, RequestSource, TRACE_SECTOR_BYTES};

/// The longest line read; longer is an error.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// A trace that cannot be read: the file, the line (from 1; 0 when the
/// file could not be opened) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {reason}", .path.display())]
pub struct TraceError {
    /// The file, as given to [`open`] or [`TraceReader::new`].
    pub path: PathBuf,
    /// The line, counting from 1; 0 if the file could not be opened.
    pub line: u64,
    /// What is wrong, naming the format and the field.
    pub reason: String,
}

/// What a reader has seen so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TraceStats {
    /// Lines read.
    pub lines: u64,
    /// Requests yielded (a blkparse write with a preflush yields two).
    pub requests: u64,
    /// Lines that are not requests: blank lines, a CSV header, blkparse's
    /// events other than `Q` and its summary text.
    pub skipped_lines: u64,
    /// Reads, writes and trims of 0 bytes, skipped.
    pub zero_length: u64,
    /// Requests stamped earlier than the one before, given its arrival.
    pub backward_timestamps: u64,
}

/// One parsed line, from a format's parser.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Line {
    /// Not a request.
    Skip,
    /// A request stamped `time_ns` on the format's own clock.
    Request {
        time_ns: u64,
        op: Op,
        offset_bytes: u64,
        len_bytes: u64,
        /// A flush to issue before it (blkparse's leading `F`).
        preflush: bool,
    },
}

/// `count` 512-byte sectors at sector `lba` as `(offset_bytes,
/// len_bytes)`, or why not: the bytes must fit `u64`, end included.
pub(super) fn sector_range(lba: u64, count: u64) -> Result<(u64, u64), String> {
    let offset = lba
        .checked_mul(TRACE_SECTOR_BYTES)
        .ok_or_else(|| format!("sector {lba} is beyond 2^64 bytes"))?;
    let len = count
        .checked_mul(TRACE_SECTOR_BYTES)
        .ok_or_else(|| format!("size {count} sectors is beyond 2^64 bytes"))?;
    byte_range(offset, len)
}

/// Checks that `len` bytes at `offset` end within `u64`.
pub(super) fn byte_range(offset: u64, len: u64) -> Result<(u64, u64), String> {
    match offset.checked_add(len) {
        Some(_) => Ok((offset, len)),
        None => Err(format!("{len} bytes at {offset} end beyond 2^64 bytes")),
    }
}

/// Parses a whole number field, naming it in the error.
pub(super) fn number(field: &str, what: &str) -> Result<u64, String> {
    if field.is_empty() || !field.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{what} `{field}` is not a whole number"));
    }
    field
        .parse()
        .map_err(|_| format!("{what} `{field}` is too large"))
}

/// Streams the requests of one trace file.
#[derive(Debug)]
pub struct TraceReader<R> {
    format: TraceFormat,
    reader: R,
    path: PathBuf,
    buf: Vec<u8>,
    first_time_ns: Option<u64>,
    last_arrival_ns: u64,
    pending: Option<Request>,
    stats: TraceStats,
    failed: bool,
}

/// Opens `path` as a trace of `format` (buffered, streamed).
pub fn open(
    format: TraceFormat,
    path: impl AsRef<Path>,
) -> Result<TraceReader<BufReader<File>>, TraceError> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| TraceError {
        path: path.to_path_buf(),
        line: 0,
        reason: format!("cannot open the {format} trace: {e}"),
    })?;
    Ok(TraceReader::new(
        format,
        BufReader::with_capacity(1 << 16, file),
        path,
    ))
}

impl TraceSpec {
    /// Opens the trace this spec names: [`open`]`(self.format, &self.path)`.
    pub fn open(&self) -> Result<TraceReader<BufReader<File>>, TraceError> {
        open(self.format, &self.path)
    }
}

impl<R: BufRead> TraceReader<R> {
    /// Reads a trace of `format` from `reader`; `path` only names it in
    /// errors (pass any label for data not from a file).
    pub fn new(format: TraceFormat, reader: R, path: impl Into<PathBuf>) -> Self {
        TraceReader {
            format,
            reader,
            path: path.into(),
            buf: Vec::with_capacity(256),
            first_time_ns: None,
            last_arrival_ns: 0,
            pending: None,
            stats: TraceStats::default(),
            failed: false,
        }
    }

    /// The trace's format.
    pub fn format(&self) -> TraceFormat {
        self.format
    }

    /// The file name errors carry.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What has been read so far.
    pub fn stats(&self) -> TraceStats {
        self.stats
    }

    fn error(&mut self, reason: String) -> TraceError {
        self.failed = true;
        TraceError {
            path: self.path.clone(),
            line: self.stats.lines,
            reason: format!("{}: {reason}", self.format),
        }
    }

    /// The next line without its end, `None` at the end of the input.
    fn next_line(&mut self) -> Result<Option<&str>, TraceError> {
        self.buf.clear();
        let limit = MAX_LINE_BYTES as u64 + 1;
        let read = (&mut self.reader)
            .take(limit)
            .read_until(b'\n', &mut self.buf);
        match read {
            Ok(0) => return Ok(None),
            Ok(_) => self.stats.lines += 1,
            Err(e) => {
                self.stats.lines += 1;
                return Err(self.error(format!("read error: {e}")));
            }
        }
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
        } else if self.buf.len() > MAX_LINE_BYTES {
            return Err(self.error(format!(
                "line longer than {MAX_LINE_BYTES} bytes (not a text trace?)"
            )));
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        if std::str::from_utf8(&self.buf).is_err() {
            return Err(self.error("the line is not UTF-8 text (not a text trace?)".into()));
        }
        // Checked just above; the error arm cannot be taken.
        Ok(std::str::from_utf8(&self.buf).ok())
    }

    /// Turns a format's time into an arrival (see the module docs).
    fn arrival(&mut self, time_ns: u64) -> u64 {
        let first = *self.first_time_ns.get_or_insert(time_ns);
        let since_first = time_ns.checked_sub(first);
        match since_first {
            Some(t) if t >= self.last_arrival_ns => self.last_arrival_ns = t,
            _ => self.stats.backward_timestamps += 1,
        }
        self.last_arrival_ns
    }

    fn read_one(&mut self) -> Result<Option<Request>, TraceError> {
        if let Some(r) = self.pending.take() {
            self.stats.requests += 1;
            return Ok(Some(r));
        }
        if self.failed {
            return Ok(None);
        }
        loop {
            let format = self.format;
            let parsed = match self.next_line()? {
                None => return Ok(None),
                Some(line) => match format {
                    TraceFormat::DiskSim => disksim::parse(line),
                    TraceFormat::Msr => msr::parse(line),
                    TraceFormat::Blkparse => blkparse::parse(line),
                },
            };
            let (time_ns, op, offset_bytes, len_bytes, preflush) = match parsed {
                Err(reason) => return Err(self.error(reason)),
                Ok(Line::Skip) => {
                    self.stats.skipped_lines += 1;
                    continue;
                }
                Ok(Line::Request {
                    time_ns,
                    op,
                    offset_bytes,
                    len_bytes,
                    preflush,
                }) => (time_ns, op, offset_bytes, len_bytes, preflush),
            };
            if len_bytes == 0 && op != Op::Flush {
                self.stats.zero_length += 1;
                continue;
            }
            let arrival_ns = self.arrival(time_ns);
            let req = Request {
                arrival_ns,
                op,
                offset_bytes,
                len_bytes,
            };
            self.stats.requests += 1;
            if preflush && op != Op::Flush {
                self.pending = Some(req);
                return Ok(Some(Request {
                    op: Op::Flush,
                    offset_bytes: 0,
                    len_bytes: 0,
                    ..req
                }));
            }
            return Ok(Some(req));
        }
    }
}

impl<R: BufRead> RequestSource for TraceReader<R> {
    fn next_request(&mut self) -> Result<Option<Request>, TraceError> {
        self.read_one()
    }
}

impl<R: BufRead> Iterator for TraceReader<R> {
    type Item = Result<Request, TraceError>;

    /// The next request or the first error; nothing after an error.
    fn next(&mut self) -> Option<Self::Item> {
        self.read_one().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(text: &[u8]) -> TraceReader<&[u8]> {
        TraceReader::new(TraceFormat::DiskSim, text, "t.trace")
    }

    #[test]
    fn arrivals_start_at_zero_and_never_go_back() {
        let text = b"1000 0 8 8 0\n\n1500 0 8 8 1\n1200 0 8 8 1\r\n2000 0 0 0 1\n3000 0 16 8 0";
        let mut r = reader(text);
        let got: Vec<(u64, Op)> = r
            .by_ref()
            .map(|x| x.map(|q| (q.arrival_ns, q.op)))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            got,
            [
                (0, Op::Write),
                (500, Op::Read),
                (500, Op::Read),
                (2000, Op::Write)
            ]
        );
        let s = r.stats();
        assert_eq!(
            (
                s.lines,
                s.requests,
                s.skipped_lines,
                s.zero_length,
                s.backward_timestamps
            ),
            (6, 4, 1, 1, 1)
        );
    }

    #[test]
    fn an_error_names_file_and_line_then_the_reader_stops() {
        let mut r = reader(b"1000 0 8 8 0\n1001 0 8 8 7\n1002 0 8 8 0\n");
        assert!(r.next().unwrap().is_ok());
        let e = r.next().unwrap().unwrap_err();
        assert_eq!((e.path.as_path(), e.line), (Path::new("t.trace"), 2));
        assert!(e.to_string().starts_with("t.trace:2: disksim: "), "{e}");
        assert!(r.next().is_none());
    }

    #[test]
    fn binary_or_endless_lines_are_errors_not_memory() {
        let e = reader(b"1000 0 8 8 0\n\xff\xfe 0 8 8 0\n")
            .nth(1)
            .unwrap()
            .unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.reason.contains("not UTF-8"), "{e}");
        let long = vec![b'1'; MAX_LINE_BYTES * 3];
        let e = reader(&long).next().unwrap().unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.reason.contains("line longer than"), "{e}");
        // Exactly the limit (plus newline) is fine as far as length goes.
        let mut edge = vec![b' '; MAX_LINE_BYTES];
        edge.push(b'\n');
        assert!(reader(&edge).next().is_none());
    }

    #[test]
    fn open_names_a_missing_file() {
        let e = open(TraceFormat::Msr, "/nonexistent/x.csv").unwrap_err();
        assert_eq!(e.line, 0);
        assert!(e
            .to_string()
            .starts_with("/nonexistent/x.csv:0: cannot open the msr trace"));
    }

    #[test]
    fn ranges_and_numbers() {
        assert_eq!(sector_range(2, 8), Ok((1024, 4096)));
        assert!(sector_range(u64::MAX / 512 + 1, 1).is_err());
        assert!(sector_range(0, u64::MAX / 512 + 1).is_err());
        assert!(sector_range(u64::MAX / 512, 1).is_err());
        assert!(byte_range(u64::MAX, 0).is_ok());
        assert!(byte_range(u64::MAX, 1).is_err());
        assert_eq!(number("42", "x"), Ok(42));
        for bad in ["", "-1", "+1", "1.5", "0x10", " 1"] {
            assert!(number(bad, "x").unwrap_err().contains("not a whole number"));
        }
        assert!(number("18446744073709551616", "x")
            .unwrap_err()
            .contains("too large"));
    }
}
