//! Each operation's phases, worked out by hand on round numbers: 1 byte/ns,
//! 10 ns of command, tR 100, tPROG 10 000, tBERS 50 000.
//!
//! The array: 2 channels × 2 dies × 2 planes × 8 blocks of 4 pages of
//! 4096 + 64 bytes. Blocks 0–7 are die 0 plane 0, 8–15 die 0 plane 1,
//! 16–31 die 1 (channel 0), 32–47 die 2 and 48–63 die 3 (channel 1).

use ftl_core::{BlockIdx, Geometry, GeometryError, Ppa};

use super::*;

fn geo() -> Geometry {
    Geometry {
        channels: 2,
        dies_per_channel: 2,
        planes_per_die: 2,
        blocks_per_plane: 8,
        pages_per_block: 4,
        page_size: 4096,
        sector_size: 4096,
        oob_size: 64,
    }
}

fn cfg() -> TimingConfig {
    TimingConfig {
        t_read_ns: 100,
        t_prog_ns: 10_000,
        t_erase_ns: 50_000,
        channel_bytes_per_s: 1_000_000_000,
        command_overhead_ns: 10,
        cache_register: true,
        independent_plane_reads: true,
    }
}

fn timeline(cfg: TimingConfig) -> Timeline {
    Timeline::new(geo(), cfg).unwrap()
}

fn ppa(block: u32, page: u32) -> Ppa {
    Ppa::new(BlockIdx(block), page)
}

fn span(start_ns: u64, end_ns: u64) -> Span {
    Span { start_ns, end_ns }
}

#[test]
fn read_is_command_then_tr_then_data_out() {
    let mut t = timeline(cfg());
    let r = t.read(0, &[ppa(0, 0)], 4096).unwrap();
    assert_eq!(r.array, span(0, 100));
    assert!(r.bus_in.is_empty(), "the command goes with the data out");
    assert_eq!(r.bus_out, span(100, 4206));
    assert_eq!(r.done_ns, 4206);
    assert_eq!(r.latency_ns(), 4206);
    // The cache register takes the data: the array is free at 100.
    assert_eq!(r.held, span(0, 100));
    assert!(!r.die_wide);
    assert_eq!((r.channel, r.die, r.planes), (0, 0, 1));

    let mut t = timeline(TimingConfig {
        cache_register: false,
        ..cfg()
    });
    let r = t.read(0, &[ppa(0, 0)], 4096).unwrap();
    assert_eq!(r.done_ns, 4206);
    assert_eq!(r.held, span(0, 4206), "no cache register: held until out");
}

#[test]
fn dies_of_a_channel_share_it_and_channels_do_not() {
    let mut t = timeline(cfg());
    let a = t.read(0, &[ppa(0, 0)], 4096).unwrap();
    // Die 1 on channel 0 senses in parallel; its data out waits for a's.
    let b = t.read(0, &[ppa(16, 0)], 4096).unwrap();
    assert_eq!(b.array, span(0, 100));
    assert_eq!(b.bus_out, span(4206, 8312));
    // An erase of die 1 waits for its sense (to 100), then for a gap on
    // the channel: both data outs are booked back to back from 100.
    let e = t.erase(0, &[BlockIdx(24)]).unwrap();
    assert_eq!(e.bus_in, span(8312, 8322));
    // Die 2 is on channel 1: untouched by either.
    let c = t.read(0, &[ppa(32, 0)], 4096).unwrap();
    assert_eq!((c.channel, c.die), (1, 2));
    assert_eq!(c.done_ns, a.done_ns);
}

#[test]
fn planes_read_independently_or_not() {
    let mut t = timeline(cfg());
    t.read(0, &[ppa(0, 0)], 4096).unwrap();
    let b = t.read(0, &[ppa(8, 0)], 4096).unwrap(); // die 0 plane 1
    assert_eq!(b.array, span(0, 100), "plane 1 senses beside plane 0");

    let mut t = timeline(TimingConfig {
        independent_plane_reads: false,
        ..cfg()
    });
    t.read(0, &[ppa(0, 0)], 4096).unwrap();
    let b = t.read(0, &[ppa(8, 0)], 4096).unwrap();
    assert!(b.die_wide);
    assert_eq!(
        b.array,
        span(100, 200),
        "the die senses one plane at a time"
    );
    assert_eq!(b.bus_out, span(4206, 8312));
}

#[test]
fn a_plane_senses_its_next_page_while_the_last_drains() {
    let mut t = timeline(cfg());
    let a = t.read(0, &[ppa(0, 0)], 4096).unwrap();
    let b = t.read(0, &[ppa(0, 1)], 4096).unwrap();
    assert_eq!(b.array, span(100, 200));
    // Its data waits in the data register for the cache register, then
    // for the channel.
    assert_eq!(b.bus_out, span(a.done_ns, a.done_ns + 10 + 4096));
    assert_eq!(b.held, span(100, a.done_ns));
    // Without a cache register the plane is held until a's data is out.
    let mut t = timeline(TimingConfig {
        cache_register: false,
        ..cfg()
    });
    let a = t.read(0, &[ppa(0, 0)], 4096).unwrap();
    let b = t.read(0, &[ppa(0, 1)], 4096).unwrap();
    assert_eq!(b.array.start_ns, a.done_ns);
}

#[test]
fn a_data_out_pauses_to_fill_a_gap_too_short_for_it() {
    // tR 6 000 > a page's 4 106 on the bus: one plane read back to back
    // leaves its channel a 1 894-ns gap between its pages.
    let slow_sense = TimingConfig {
        t_read_ns: 6_000,
        ..cfg()
    };
    let mut t = timeline(slow_sense);
    let a1 = t.read(0, &[ppa(0, 0)], 4096).unwrap();
    let a2 = t.read(0, &[ppa(0, 1)], 4096).unwrap();
    assert_eq!(a1.bus_out, span(6_000, 10_106));
    assert_eq!(a2.bus_out, span(12_000, 16_106));
    // Die 1's page, sensed by 6 000, would fit whole only at 16 106 (to
    // 20 212). Its command and the first 1 884 bytes fill the gap; the
    // rest resumes after a2 behind one more command.
    let b = t.read(0, &[ppa(16, 0)], 4096).unwrap();
    assert_eq!(b.bus_in, span(10_106, 12_000), "the first piece");
    assert_eq!(b.bus_out, span(16_106, 16_106 + 10 + 4096 - 1_884));
    assert_eq!(b.done_ns, 18_328);
    assert_eq!(b.held, span(0, 6_000), "the cache register holds the page");
    assert_eq!(t.stats().channel_busy_ns[0], 3 * 4106 + 10);
    // The plane's next sense waits for its cache register, which holds
    // b's page until its last byte is out.
    let b2 = t.read(0, &[ppa(16, 1)], 4096).unwrap();
    assert_eq!(b2.held, span(6_000, 18_328));

    // Without a cache register the plane is held until the last byte.
    // (Plane 0 now senses a2 only once a1 is out, at 10 106, and die 0's
    // plane 1 fills the longer gap that leaves, but for 1 894 ns.)
    let mut t = timeline(TimingConfig {
        cache_register: false,
        ..slow_sense
    });
    t.read(0, &[ppa(0, 0)], 4096).unwrap();
    t.read(0, &[ppa(0, 1)], 4096).unwrap();
    let c = t.read(0, &[ppa(8, 0)], 4096).unwrap();
    assert_eq!(c.bus_out, span(10_106, 14_212));
    let b = t.read(0, &[ppa(16, 0)], 4096).unwrap();
    assert_eq!(b.bus_in, span(14_212, 16_106));
    assert_eq!(b.bus_out, span(20_212, 22_434));
    assert_eq!(b.held, span(0, 22_434));
}

#[test]
fn multi_plane_read_senses_once_and_moves_every_page() {
    let mut t = timeline(cfg());
    let r = t.read(0, &[ppa(0, 2), ppa(8, 2)], 4096).unwrap();
    assert_eq!(r.planes, 2);
    assert_eq!(r.array, span(0, 100));
    assert_eq!(r.bus_out, span(100, 100 + 10 + 8192));
    let s = t.stats();
    assert_eq!((s.reads, s.multi_plane_reads, s.pages_read), (1, 1, 2));
    assert_eq!(s.bytes_from_nand, 8192);
}

#[test]
fn program_is_data_in_then_tprog_on_the_whole_die() {
    let mut t = timeline(cfg());
    let p = t.program(0, &[ppa(0, 0)]).unwrap();
    assert_eq!(p.bus_in, span(0, 10 + 4160));
    assert_eq!(p.array, span(4170, 14_170));
    assert_eq!(p.done_ns, 14_170);
    assert!(p.die_wide);
    assert_eq!(p.held, p.array);
    // A read of the die's other plane waits for the program.
    let r = t.read(0, &[ppa(8, 0)], 4096).unwrap();
    assert_eq!(r.array.start_ns, 14_170);
    let s = t.stats();
    assert_eq!(s.plane_busy_ns[0], 10_000);
    assert_eq!(s.plane_busy_ns[1], 10_000 + 100);
    assert_eq!(s.die_busy_ns(0), Some(10_050));
}

#[test]
fn cache_program_loads_the_next_page_during_tprog() {
    let mut t = timeline(cfg());
    t.program(0, &[ppa(0, 0)]).unwrap();
    let p = t.program(0, &[ppa(0, 1)]).unwrap();
    assert_eq!(
        p.bus_in,
        span(4170, 8340),
        "data in while the array programs"
    );
    assert_eq!(p.array, span(14_170, 24_170), "back to back");
    // A third page waits for the cache register, which frees when the
    // second page's tPROG starts.
    let q = t.program(0, &[ppa(0, 2)]).unwrap();
    assert_eq!(q.bus_in.start_ns, 14_170);

    let mut t = timeline(TimingConfig {
        cache_register: false,
        ..cfg()
    });
    t.program(0, &[ppa(0, 0)]).unwrap();
    let p = t.program(0, &[ppa(0, 1)]).unwrap();
    assert_eq!(p.bus_in, span(14_170, 18_340), "data in waits for the die");
    assert_eq!(p.array, span(18_340, 28_340));
}

#[test]
fn multi_plane_program_moves_all_pages_then_one_tprog() {
    let mut t = timeline(cfg());
    let p = t.program(0, &[ppa(0, 0), ppa(8, 0)]).unwrap();
    assert_eq!(p.bus_in, span(0, 10 + 2 * 4160));
    assert_eq!(p.array.len_ns(), 10_000);
    let s = t.stats();
    assert_eq!((s.programs, s.multi_plane_programs), (1, 1));
    assert_eq!((s.pages_programmed, s.bytes_to_nand), (2, 8320));
    assert_eq!(s.channel_busy_ns, vec![8330, 0]);
}

#[test]
fn erase_is_command_then_tbers_on_the_whole_die() {
    let mut t = timeline(cfg());
    let e = t.erase(5, &[BlockIdx(3), BlockIdx(12)]).unwrap();
    assert_eq!(e.bus_in, span(5, 15));
    assert_eq!(e.array, span(15, 50_015));
    assert_eq!(e.held, span(5, 50_015));
    assert_eq!(e.bus_out, span(50_015, 50_015));
    assert_eq!(e.planes, 2);
    // Everything on the die waits; the other die of the channel does not.
    let r = t.read(5, &[ppa(8, 0)], 0).unwrap();
    assert_eq!(r.array.start_ns, 50_015);
    assert_eq!(
        r.bus_out,
        span(50_115, 50_125),
        "a zero-byte read: command only"
    );
    let r = t.read(5, &[ppa(16, 0)], 4096).unwrap();
    assert_eq!(r.array, span(5, 105));
    let s = t.stats();
    assert_eq!((s.erases, s.multi_plane_erases, s.blocks_erased), (1, 1, 2));
    assert_eq!(s.last_done_ns, 50_125);
}

#[test]
fn bad_operations_are_refused_and_book_nothing() {
    let mut t = timeline(cfg());
    let cases: [(Result<Completion, TimingError>, TimingError); 7] = [
        (t.read(0, &[], 4096), TimingError::NoTarget),
        (
            t.read(0, &[ppa(64, 0)], 4096),
            TimingError::OutOfBounds(ppa(64, 0)),
        ),
        (
            t.program(0, &[ppa(0, 4)]),
            TimingError::OutOfBounds(ppa(0, 4)),
        ),
        (
            t.program(0, &[ppa(0, 0), ppa(16, 0)]),
            TimingError::SpansDies,
        ),
        (
            t.erase(0, &[BlockIdx(0), BlockIdx(7)]),
            TimingError::PlaneTwice,
        ),
        (
            t.read(0, &[ppa(0, 0), ppa(8, 1)], 4096),
            TimingError::PageMismatch,
        ),
        (
            t.read(0, &[ppa(0, 0)], 4161),
            TimingError::TooManyBytes {
                bytes: 4161,
                max: 4160,
            },
        ),
    ];
    for (got, want) in cases {
        assert_eq!(got, Err(want));
    }
    assert_eq!(t.stats(), timeline(cfg()).stats());
    assert_eq!(t.read(0, &[ppa(0, 0)], 4096).unwrap().done_ns, 4206);
}

#[test]
fn bad_configs_and_geometries_are_refused() {
    let e = Timeline::new(
        geo(),
        TimingConfig {
            channel_bytes_per_s: 0,
            ..cfg()
        },
    )
    .unwrap_err();
    assert_eq!(e, TimingError::Config(TimingConfigError::ZeroTransferRate));
    let e = Timeline::new(
        Geometry {
            planes_per_die: 0,
            ..geo()
        },
        cfg(),
    )
    .unwrap_err();
    assert_eq!(e, TimingError::Geometry(GeometryError::ZeroCount));
}

#[test]
fn time_never_runs_backwards() {
    let mut t = timeline(cfg());
    t.read(1_000, &[ppa(0, 0)], 4096).unwrap();
    let late = t.read(500, &[ppa(32, 0)], 4096).unwrap();
    assert_eq!(late.submit_ns, 1_000);
    assert_eq!(late.array.start_ns, 1_000);
    assert_eq!(t.now_ns(), 1_000);
}

#[test]
fn location_follows_the_geometry_numbering() {
    let t = timeline(cfg());
    assert_eq!(t.location(BlockIdx(0)), (0, 0, 0));
    assert_eq!(t.location(BlockIdx(8)), (0, 0, 1));
    assert_eq!(t.location(BlockIdx(16)), (0, 1, 0));
    assert_eq!(t.location(BlockIdx(40)), (1, 2, 1));
    assert_eq!(t.location(BlockIdx(63)), (1, 3, 1));
}

#[test]
fn the_same_calls_give_the_same_answers() {
    let run = || {
        let mut t = timeline(cfg());
        let mut out = Vec::new();
        for i in 0..40u32 {
            let at = u64::from(i) * 777;
            let die = i % 4;
            let block = die * 16 + (i % 2) * 8 + (i / 8) % 8;
            out.push(match i % 5 {
                0 => t.erase(at, &[BlockIdx(block)]),
                1 | 2 => t.program(at, &[ppa(block, i % 4)]),
                _ => t.read(at, &[ppa(block, i % 4)], 4096),
            });
        }
        (out, t.stats().clone())
    };
    assert_eq!(run(), run());
}
