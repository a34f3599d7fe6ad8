//! One line of an MSR Cambridge trace (SNIA IOTTA, Narayanan et al.,
//! "Write off-loading", FAST 2008), CSV without quoting:
//!
//! ```text
//! Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime
//! 128166372003061629,hm,1,Read,7014609920,24576,41286
//! ```
//!
//! `Timestamp` counts Windows filetime ticks of 100 ns (since 1601), so
//! times are multiplied by 100; `Type` is `Read` or `Write`
//! (case-insensitive); `Offset` and `Size` are bytes, kept exactly (they
//! need not be multiples of 512). `Hostname` and `DiskNumber` are
//! ignored: one file is one volume. `ResponseTime` (ticks, as recorded on
//! the original disk) must be a whole number and is ignored — a replay
//! measures its own. A header line naming the columns, as some copies
//! carry, is skipped; so are blank lines.

use super::block_trace::{byte_range, number, Line};
use super::Op;

/// Nanoseconds per filetime tick.
const NS_PER_TICK: u64 = 100;

/// Parses one line (without its end).
pub(super) fn parse(line: &str) -> Result<Line, String> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(Line::Skip);
    }
    let f: Vec<&str> = line.split(',').map(str::trim).collect();
    if f.len() != 7 {
        return Err(format!(
            "expected 7 comma-separated fields `Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime`, found {}",
            f.len()
        ));
    }
    if f[0].eq_ignore_ascii_case("Timestamp") && f[3].eq_ignore_ascii_case("Type") {
        return Ok(Line::Skip);
    }
    let ticks = number(f[0], "Timestamp (field 1)")?;
    let time_ns = ticks
        .checked_mul(NS_PER_TICK)
        .ok_or_else(|| format!("Timestamp (field 1) {ticks} ticks of 100 ns is beyond 2^64 ns"))?;
    number(f[2], "DiskNumber (field 3)")?;
    let op = if f[3].eq_ignore_ascii_case("Read") {
        Op::Read
    } else if f[3].eq_ignore_ascii_case("Write") {
        Op::Write
    } else {
        return Err(format!(
            "Type (field 4) `{}` is neither Read nor Write",
            f[3]
        ));
    };
    let offset = number(f[4], "Offset (field 5)")?;
    let size = number(f[5], "Size (field 6)")?;
    number(f[6], "ResponseTime (field 7)")?;
    let (offset_bytes, len_bytes) = byte_range(offset, size)?;
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
            parse("128166372003061629,hm,1,Read,7014609920,24576,41286"),
            Ok(Line::Request {
                time_ns: 12_816_637_200_306_162_900,
                op: Op::Read,
                offset_bytes: 7_014_609_920,
                len_bytes: 24_576,
                preflush: false
            })
        );
        let Ok(Line::Request {
            op, offset_bytes, ..
        }) = parse("128166372016382155,prxy,0,write,3154,1000,0 ")
        else {
            panic!()
        };
        assert_eq!((op, offset_bytes), (Op::Write, 3154));
        assert_eq!(
            parse("Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime"),
            Ok(Line::Skip)
        );
        assert_eq!(parse(" "), Ok(Line::Skip));
    }

    #[test]
    fn bad_lines_say_which_field() {
        for (line, why) in [
            ("128166372003061629,hm,1,Read,7014609920,24576", "found 6"),
            (
                "128166372003061629 hm 1 Read 7014609920 24576 41286",
                "found 1",
            ),
            ("1.5,hm,1,Read,0,512,1", "Timestamp (field 1)"),
            ("184467440737095517,hm,1,Read,0,512,1", "beyond 2^64 ns"),
            ("1,hm,x,Read,0,512,1", "DiskNumber (field 3)"),
            ("1,hm,1,Trim,0,512,1", "Type (field 4) `Trim`"),
            ("1,hm,1,Read,-5,512,1", "Offset (field 5)"),
            ("1,hm,1,Read,0,,1", "Size (field 6)"),
            ("1,hm,1,Read,0,512,", "ResponseTime (field 7)"),
            ("1,hm,1,Read,18446744073709551615,1,1", "beyond 2^64 bytes"),
        ] {
            let e = parse(line).unwrap_err();
            assert!(e.contains(why), "{line}: {e}");
        }
    }
}
