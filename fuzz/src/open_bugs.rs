//! Bugs the targets found that are not fixed yet, and how each target
//! steps around them so fuzzing keeps exploring (and the CI smoke run stays
//! green) until they are.
//!
//! Each bug has a minimised input in `regressions/<target>/` and an
//! `#[ignore]`d test in `tests/replay.rs` that runs it *without* these
//! filters. When a bug is fixed: delete its predicate here, drop the file
//! from `OPEN_BUGS` in `tests/replay.rs` and un-ignore its test.

use ftl_core::Geometry;

/// Master switch: `false` replays and fuzzes straight into the open bugs.
pub const SKIP_OPEN_BUGS: bool = true;

/// **geometry-overflow**: `Geometry::validate` multiplies
/// channels × dies × planes × blocks_per_plane (and then × pages × sectors
/// per page) in unchecked `u64`. Four fields at their maxima are 2^80, so
/// validate panics with "attempt to multiply with overflow" when overflow
/// checks are on, and in a release build wraps and may accept a geometry
/// whose `total_blocks()` / `total_sectors()` wrap. Reachable from an image
/// header (`SimNand::open_image` validates the decoded geometry) and from
/// `ftl-ublk --geometry`.
pub fn geometry_overflow(g: &Geometry) -> bool {
    let spp = u64::from(g.page_size.checked_div(g.sector_size).unwrap_or(1));
    [
        u64::from(g.dies_per_channel),
        u64::from(g.planes_per_die),
        u64::from(g.blocks_per_plane),
        u64::from(g.pages_per_block),
        spp,
    ]
    .iter()
    .try_fold(u64::from(g.channels), |acc, &x| acc.checked_mul(x))
    .is_none()
}

/// **torn-first-program-is-foreign**: a power cut that tears the first
/// page programmed after `format` (nothing else on the medium yet) leaves
/// a page whose spare area no longer starts with the record magic. Mount
/// counts it as foreign data, finds no zcftl page, and refuses the whole
/// device with `Error::Foreign` ("the flash holds data that is not
/// zcftl's") instead of mounting it empty. Matched on the crash checker's
/// message.
pub fn torn_first_program_is_foreign(message: &str) -> bool {
    message.contains("not zcftl's")
}

/// **no-space-breaks-cache-tables** (`mount_garbage`): mount a well-used
/// medium on which one block holding valid data has since been marked bad
/// (the mount succeeds: its capacity check passes). The first host write
/// fails with `Error::NoSpace` (every good block is Full, none erased, so
/// GC has nowhere to relocate to), and from then on `check_integrity()`
/// fails with "slots in entries differ from census": the failed
/// `commit_write` / `flush` left the cache tables inconsistent. Stepped
/// around by ending a `mount_garbage` case at its first `NoSpace`.
pub fn no_space_breaks_cache_tables<E>(r: &Result<(), ftl_core::Error<E>>) -> bool {
    matches!(r, Err(ftl_core::Error::NoSpace))
}

/// **seq-overflow** (`mount_garbage`): a page whose record and data both
/// verify but whose sequence number is `u64::MAX` (a forged page naming
/// only padding or out-of-range LBAs, or a genuine page restamped) is
/// adopted by mount, which sets the FTL's sequence counter to it; the next
/// page programmed computes `seq + 1` (`ftl/program.rs`) and panics with
/// "attempt to add with overflow" (in a release build it wraps to 0, and
/// every later write loses to older data at the next mount). Stepped
/// around by keeping forged sequence numbers below `u64::MAX - 2^32`.
pub fn seq_overflow_clamp(seq: u64) -> u64 {
    seq.min(u64::MAX - (1 << 32))
}

/// **erase-count-overflow** (`mount_garbage`): a verified page whose record
/// carries erase count `u32::MAX` (here a forged page of padding only on an
/// otherwise blank medium) makes mount set its block's erase count to it;
/// the first erase of that block (`BlockTable::erased`, reached from the
/// first host write through static wear leveling / allocation) panics with
/// "attempt to add with overflow" (wraps in a release build). Stepped
/// around by keeping forged erase counts below `u32::MAX - 2^16`.
pub fn erase_count_overflow_clamp(erase_count: u32) -> u32 {
    erase_count.min(u32::MAX - (1 << 16))
}
