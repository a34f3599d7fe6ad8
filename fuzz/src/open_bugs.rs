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
