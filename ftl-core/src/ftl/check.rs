//! A full consistency check of the FTL's tables, for tests and for
//! embedders after a mount. Slow (walks every table); never on the I/O path.
//! Each part checks its own invariants; this joins them.

use crate::nand::Nand;
use crate::slot::SlotMemory;

use super::Ftl;

/// The first inconsistency [`Ftl::check_integrity`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntegrityError(pub &'static str);

impl core::fmt::Display for IntegrityError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "FTL integrity check failed: {}", self.0)
    }
}

/// `Err(what)` unless `ok`: the parts' own checks are built of these.
pub(super) fn ensure(ok: bool, what: &'static str) -> Result<(), &'static str> {
    if ok {
        Ok(())
    } else {
        Err(what)
    }
}

impl<N: Nand, M: SlotMemory> Ftl<N, M> {
    /// Checks every invariant linking the map, validity, blocks, slots and
    /// cache tables.
    pub fn check_integrity(&self) -> Result<(), IntegrityError> {
        let layout = *self.flash.layout();
        self.flash
            .check(self.logical, |b| self.cache.relocating_from(b, &layout))
            .map_err(IntegrityError)?;
        let tps = self.flash.translation();
        self.meta
            .check_refs(|b| {
                let in_b = |at: u32| {
                    at != crate::translation::NO_PAGE
                        && layout.page_at(at).is_some_and(|p| p.block == b)
                };
                (0..tps.len())
                    .map(|t| {
                        let (l, r) = (tps.loc(t), tps.root(t));
                        u32::from(in_b(l)) + u32::from(r != l && in_b(r))
                    })
                    .sum()
            })
            .map_err(IntegrityError)?;
        self.cache.check().map_err(IntegrityError)
    }
}
