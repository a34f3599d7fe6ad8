//! A full consistency check of the FTL's tables, for tests and for
//! embedders after a mount. Slow (walks every table); never on the I/O path.

use crate::addr::{Lba, SlotId};
use crate::blocks::BlockState;
use crate::cache_meta::{EntryId, EntryState, NONE};
use crate::l2p::{LOST, UNMAPPED};
use crate::nand::Nand;
use crate::slot::{SlotMemory, SlotState};

use super::Ftl;

/// The first inconsistency [`Ftl::check_integrity`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntegrityError(pub &'static str);

impl core::fmt::Display for IntegrityError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "FTL integrity check failed: {}", self.0)
    }
}

fn ensure(ok: bool, what: &'static str) -> Result<(), IntegrityError> {
    if ok {
        Ok(())
    } else {
        Err(IntegrityError(what))
    }
}

impl<N: Nand, M: SlotMemory> Ftl<N, M> {
    /// Checks every invariant linking the L2P, validity, blocks, slots and
    /// cache tables.
    pub fn check_integrity(&self) -> Result<(), IntegrityError> {
        let total = self.geo.total_sectors();
        let mut mapped = 0u64;
        for l in 0..self.logical {
            let psa = self.l2p.get(Lba(l));
            if psa == UNMAPPED || psa == LOST {
                continue;
            }
            ensure(psa < total, "L2P points outside the array")?;
            ensure(self.valid.is_valid(psa), "mapped sector not marked valid")?;
            mapped += 1;
        }
        let mut counted = 0u64;
        for b in self.blocks.iter() {
            let c = self.valid.count(b);
            counted += u64::from(c);
            let s = self.blocks.state(b);
            ensure(
                c == 0 || matches!(s, BlockState::Open | BlockState::Full),
                "valid data in a free, stale or bad block",
            )?;
            ensure(
                s != BlockState::Full || c > 0 || self.relocation_pending_from(b),
                "full block with no valid data not reclaimed",
            )?;
        }
        ensure(counted == mapped, "valid count differs from mapped sectors")?;
        let avail = self
            .blocks
            .iter()
            .filter(|&b| matches!(self.blocks.state(b), BlockState::Free | BlockState::Stale))
            .count() as u32;
        ensure(
            avail == self.blocks.available(),
            "available-block count drifted",
        )?;
        for b in self.open.iter().flatten() {
            ensure(
                self.blocks.state(*b) == BlockState::Open,
                "open stream block not Open",
            )?;
        }
        self.check_slots()?;
        Ok(())
    }

    fn check_slots(&self) -> Result<(), IntegrityError> {
        let census = self.slots.census();
        ensure(
            census[SlotState::Free as usize] == self.slots.free_count(),
            "free list differs from free slots",
        )?;
        let reserved: usize = (0..self.write_map.handles())
            .map(|h| self.write_map.owned(crate::Handle(h)))
            .sum();
        ensure(
            census[SlotState::Reserved as usize] as usize == reserved,
            "reserved slots differ from the write map",
        )?;
        let mut in_entries = 0u32;
        for e in 0..self.meta.count() {
            let e = EntryId(e);
            if self.meta.state(e) == EntryState::Free {
                continue;
            }
            for i in 0..self.meta.len(e) {
                let s: SlotId = self.meta.slot(e, i);
                in_entries += 1;
                ensure(
                    self.slot_entry[s.0 as usize] == e.0,
                    "slot's entry link broken",
                )?;
                let lba = self.meta.lba(e, i);
                if self.meta.state(e) == EntryState::Clean && lba != NONE {
                    ensure(
                        self.slots.state(s) == SlotState::Clean,
                        "clean entry, unclean slot",
                    )?;
                }
            }
        }
        let dirty = census[SlotState::Dirty as usize];
        let clean = census[SlotState::Clean as usize];
        let relocating = census[SlotState::Relocating as usize];
        ensure(
            in_entries == dirty + clean + relocating,
            "slots in entries differ from census",
        )?;
        ensure(
            self.read_map.len() as u32 <= dirty + clean,
            "read map larger than the cache",
        )?;
        Ok(())
    }
}
