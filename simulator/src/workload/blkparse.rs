//! One line of blkparse's default text output (blktrace's formatter):
//!
//! ```text
//!   8,0    3        1     0.000000000   697  Q  WS 223490 + 8 [kjournald]
//!   dev   cpu  sequence   secs.nanos    pid act RWBS sector + count [process]
//! ```
//!
//! **Only queue (`Q`) events become requests.** A `Q` event is a bio
//! entering the block layer: when and what the host asked for, before the
//! I/O scheduler merged, split, reordered or delayed it, and before the
//! traced device's own speed shaped it. That is what a replay against
//! another device (the simulated FTL) should feed in. Completion (`C`)
//! events carry the old device's latency in their times and its merges in
//! their sizes; issue (`D`) events its scheduler's. Every other event —
//! `G`, `I`, `D`, `C`, `M`, `A` (remap), `X` (split), `P`/`U` (plug),
//! messages — is skipped, as are the non-event lines (the per-CPU and
//! total summaries blkparse prints at the end, `CPU0 (8,0):`,
//! `Reads Queued: …`, `Throughput …`). A line is an event when its first
//! field is `MAJOR,MINOR`; such a line that does not parse is an error.
//!
//! RWBS: `D` discard → trim, else `W` → write, else `R` → read. A leading
//! `F` is a preflush: with data, a flush and then the data request (same
//! arrival); without data (an empty flush bio, often `FWS` with no
//! sector), a flush. `F` after the op letter (FUA), `S`, `M`, `A`, `B`,
//! `E`, `N` are flags this layer does not model. A `Q` event without
//! `SECTOR + COUNT` and without a preflush asks nothing and is skipped.
//! Sector and count are 512-byte sectors.
//!
//! blkparse merges all devices' events into one output; trace one device
//! (`blktrace -d /dev/sdX`), or on stacked devices (dm, md) both the top
//! and the bottom device queue each bio and it would be counted twice.

use super::block_trace::{number, sector_range, Line};
use super::Op;

/// Parses one line (without its end).
pub(super) fn parse(line: &str) -> Result<Line, String> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let is_event = f
        .first()
        .and_then(|d| d.split_once(','))
        .is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        });
    if !is_event {
        return Ok(Line::Skip);
    }
    if f.len() < 6 {
        return Err(format!(
            "an event needs `dev cpu sequence time pid action …`, found {} fields",
            f.len()
        ));
    }
    number(f[1], "cpu (field 2)")?;
    number(f[2], "sequence (field 3)")?;
    let time_ns = seconds_to_ns(f[3])?;
    number(f[4], "pid (field 5)")?;
    if f[5] != "Q" {
        return Ok(Line::Skip);
    }
    let rwbs = *f
        .get(6)
        .ok_or("a Q event without its RWBS field (field 7)")?;
    if rwbs.is_empty() || !rwbs.bytes().all(|c| c.is_ascii_uppercase()) {
        return Err(format!(
            "RWBS (field 7) `{rwbs}` is not a set of capital letters"
        ));
    }
    let range = match f.get(7..10) {
        Some([sector, "+", count]) => Some(sector_range(
            number(sector, "sector (field 8)")?,
            number(count, "count (field 10)")?,
        )?),
        _ if f.get(7).map_or(true, |p| p.starts_with('[')) => None,
        _ => {
            return Err(format!(
                "expected `SECTOR + COUNT` or `[process]` after RWBS, found `{}`",
                f[7..].join(" ")
            ))
        }
    };
    let preflush = rwbs.starts_with('F');
    let op = if rwbs.contains('D') {
        Some(Op::Trim)
    } else if rwbs.contains('W') {
        Some(Op::Write)
    } else if rwbs.contains('R') {
        Some(Op::Read)
    } else {
        None
    };
    let (op, (offset_bytes, len_bytes), preflush) = match (op, range) {
        (Some(op), Some(r)) if r.1 > 0 || !preflush => (op, r, preflush),
        _ if preflush => (Op::Flush, (0, 0), false),
        _ => return Ok(Line::Skip),
    };
    Ok(Line::Request {
        time_ns,
        op,
        offset_bytes,
        len_bytes,
        preflush,
    })
}

/// `SECONDS.FRACTION` (up to 9 fraction digits) as nanoseconds, exactly.
fn seconds_to_ns(field: &str) -> Result<u64, String> {
    let what = "time (field 4)";
    let bad = || format!("{what} `{field}` is not SECONDS.NANOSECONDS");
    let (secs, frac) = field.split_once('.').ok_or_else(bad)?;
    if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let secs = number(secs, what)?;
    let frac_ns = number(frac, what)? * 10u64.pow(9 - frac.len() as u32);
    secs.checked_mul(1_000_000_000)
        .and_then(|ns| ns.checked_add(frac_ns))
        .ok_or_else(|| format!("{what} `{field}` is beyond 2^64 ns"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(line: &str) -> (u64, Op, u64, u64, bool) {
        match parse(line) {
            Ok(Line::Request {
                time_ns,
                op,
                offset_bytes,
                len_bytes,
                preflush,
            }) => (time_ns, op, offset_bytes, len_bytes, preflush),
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn queue_events_become_requests() {
        assert_eq!(
            req("  8,0    3        1     0.000000000   697  Q  WS 223490 + 8 [kjournald]"),
            (0, Op::Write, 223_490 * 512, 4096, false)
        );
        assert_eq!(
            req("259,0    1       12     1.250000042  4021  Q   R 2048 + 256 [fio]"),
            (1_250_000_042, Op::Read, 2048 * 512, 256 * 512, false)
        );
        assert_eq!(
            req("  8,16   0        7     2.5  1  Q   D 0 + 2048 [fstrim]"),
            (2_500_000_000, Op::Trim, 0, 1 << 20, false)
        );
        // A write with a preflush: the reader issues a flush first.
        assert_eq!(
            req("  8,0    1       31     0.000248637   215  Q FWS 4096 + 8 [jbd2/sda1-8]"),
            (248_637, Op::Write, 4096 * 512, 4096, true)
        );
        // An empty flush, without a sector or with + 0.
        for line in [
            "  8,0    1       32     0.000300000   215  Q FWS [jbd2/sda1-8]",
            "  8,0    1       33     0.000300000   215  Q FWS 0 + 0 [jbd2/sda1-8]",
            "  8,0    1       34     0.000300000   215  Q  FN [kworker/1:1H]",
        ] {
            assert_eq!(req(line), (300_000, Op::Flush, 0, 0, false), "{line}");
        }
        // FUA (F after the op) and other flags are not modelled.
        assert_eq!(req("8,0 0 1 0.1 9 Q WFSM 8 + 8 [x]").1, Op::Write);
        assert_eq!(req("8,0 0 1 0.1 9 Q RA 8 + 8").1, Op::Read);
        // A zero-length read is a request; the reader skips and counts it.
        assert_eq!(req("8,0 0 1 0.1 9 Q R 8 + 0 [x]").3, 0);
    }

    #[test]
    fn other_events_and_text_are_skipped() {
        for line in [
            "",
            "CPU0 (8,0):",
            " Reads Queued:           2,        8KiB  Writes Queued:          12,       48KiB",
            "Total (8,0):",
            "Throughput (R/W): 0KiB/s / 1KiB/s",
            "Events (8,0): 120 entries",
            "Skips: 0 forward (0 -   0.0%)",
            "  8,0    3        2     0.000001000   697  G  WS 223490 + 8 [kjournald]",
            "  8,0    3        3     0.000002000   697  P   N [kjournald]",
            "  8,0    3        4     0.000003000   697  I  WS 223490 + 8 [kjournald]",
            "  8,0    3        5     0.000004000   697  U   N [kjournald] 1",
            "  8,0    3        6     0.000005000   697  D  WS 223490 + 8 [kjournald]",
            "  8,0    3        7     0.000100000     0  C  WS 223490 + 8 [0]",
            "  8,0    3        8     0.000100000   697  A  WS 223490 + 8 <- (8,1) 223427",
            "  8,0    3        9     0.000100000   697  Q   N [kjournald]",
            "  8,0    3       10     0.000100000   697  Q  WS [kjournald]",
        ] {
            assert_eq!(parse(line), Ok(Line::Skip), "{line}");
        }
    }

    #[test]
    fn bad_event_lines_say_what_is_wrong() {
        for (line, why) in [
            ("  8,0    3        1     0.000000000", "found 4 fields"),
            (
                "  8,0    x        1     0.0   697  Q  WS 1 + 8 [k]",
                "cpu (field 2)",
            ),
            (
                "  8,0    3        1     0   697  Q  WS 1 + 8 [k]",
                "not SECONDS.NANOSECONDS",
            ),
            (
                "  8,0    3        1     0.1234567891   697  Q  WS 1 + 8 [k]",
                "SECONDS.NANOSECONDS",
            ),
            (
                "  8,0    3        1     99999999999.0   697  Q  WS 1 + 8 [k]",
                "beyond 2^64 ns",
            ),
            (
                "  8,0    3        1     0.0   pid  Q  WS 1 + 8 [k]",
                "pid (field 5)",
            ),
            ("  8,0    3        1     0.0   697  Q", "without its RWBS"),
            (
                "  8,0    3        1     0.0   697  Q  ws 1 + 8 [k]",
                "RWBS (field 7) `ws`",
            ),
            (
                "  8,0    3        1     0.0   697  Q  WS x + 8 [k]",
                "sector (field 8)",
            ),
            (
                "  8,0    3        1     0.0   697  Q  WS 1 + y [k]",
                "count (field 10)",
            ),
            (
                "  8,0    3        1     0.0   697  Q  WS 1 - 8 [k]",
                "expected `SECTOR + COUNT`",
            ),
            (
                "  8,0    3        1     0.0   697  Q  WS 1 [k]",
                "expected `SECTOR + COUNT`",
            ),
            (
                "  8,0    3        1     0.0   697  Q  WS 36028797018963968 + 8 [k]",
                "beyond 2^64",
            ),
        ] {
            let e = parse(line).unwrap_err();
            assert!(e.contains(why), "{line}: {e}");
        }
    }
}
