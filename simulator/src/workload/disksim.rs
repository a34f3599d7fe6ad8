//! One line of MQSim's DiskSim ASCII trace:
//!
//! ```text
//! time_ns  device  lba_512  size_512  type
//! 938513000 4 264719034 16 0
//! ```
//!
//! Five whitespace-separated whole numbers: the arrival time in
//! nanoseconds, the device number (ignored: every device's requests go to
//! the one simulated device, as MQSim replays them), the first 512-byte
//! sector, the size in 512-byte sectors, and the type, 0 = write, 1 =
//! read (MQSim's `ASCII_Trace_Definition.h`). Blank lines are skipped.
//! Original DiskSim traces with times in fractional milliseconds and flag
//! words are a different format and are refused line by line (the time
//! is not a whole number).

use super::block_trace::{number, sector_range, Line};
use super::Op;

/// Parses one line (without its end).
pub(super) fn parse(line: &str) -> Result<Line, String> {
    let mut fields = line.split_whitespace();
    let Some(time) = fields.next() else {
        return Ok(Line::Skip);
    };
    let f: Vec<&str> = fields.by_ref().take(4).collect();
    if f.len() < 4 || fields.next().is_some() {
        let n = line.split_whitespace().count();
        return Err(format!(
            "expected 5 fields `time_ns device lba_512 size_512 type`, found {n}"
        ));
    }
    let time_ns = number(time, "time_ns (field 1)")?;
    number(f[0], "device (field 2)")?;
    let lba = number(f[1], "lba_512 (field 3)")?;
    let size = number(f[2], "size_512 (field 4)")?;
    let op = match f[3] {
        "0" => Op::Write,
        "1" => Op::Read,
        other => {
            return Err(format!(
                "type (field 5) `{other}` is neither 0 (write) nor 1 (read)"
            ))
        }
    };
    let (offset_bytes, len_bytes) = sector_range(lba, size)?;
    Ok(Line::Request {
        time_ns,
        op,
        offset_bytes,
        len_bytes,
        preflush: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_lines() {
        assert_eq!(
            parse("938513000 4 264719034 16 0"),
            Ok(Line::Request {
                time_ns: 938_513_000,
                op: Op::Write,
                offset_bytes: 264_719_034 * 512,
                len_bytes: 16 * 512,
                preflush: false
            })
        );
        let Ok(Line::Request { op, .. }) = parse("\t11413000  0 657728\t16 1 ") else {
            panic!()
        };
        assert_eq!(op, Op::Read);
        assert_eq!(parse(""), Ok(Line::Skip));
        assert_eq!(parse("   \t "), Ok(Line::Skip));
    }

    #[test]
    fn bad_lines_say_which_field() {
        for (line, why) in [
            ("938513000 4 264719034 16", "expected 5 fields"),
            ("938513000 4 264719034 16 0 9", "found 6"),
            ("938513.5 4 264719034 16 0", "time_ns (field 1)"),
            ("938513000 -4 264719034 16 0", "device (field 2)"),
            ("938513000 4 0x10 16 0", "lba_512 (field 3)"),
            ("938513000 4 1 1e3 0", "size_512 (field 4)"),
            ("938513000 4 1 8 2", "type (field 5) `2`"),
            ("938513000 4 1 8 R", "type (field 5)"),
            ("99999999999999999999 4 1 8 0", "too large"),
            ("1 4 36028797018963967 1 0", "beyond 2^64"),
            ("1 4 0 36028797018963968 0", "beyond 2^64"),
        ] {
            let e = parse(line).unwrap_err();
            assert!(e.contains(why), "{line}: {e}");
        }
    }
}
