//! The FTL behind its mutex, and the crash journal that mirrors its
//! RAM-only state: [`Held`], the guard whose drop publishes the journal,
//! so no path that releases the lock forgets to.

use std::ops::{Deref, DerefMut};
use std::sync::MutexGuard;

use super::timing::Stamp;
use super::SimFtl;
use crate::backend::IoError;
use crate::journal::{Journal, JournalError, Record};
use crate::slots::PoolHandle;

/// Filler for intent arrays.
pub(super) const NO_RECORD: Record = Record::Trim { lba: 0, sectors: 0 };

/// What the lock guards: the FTL and the journal that mirrors its RAM-only
/// state.
pub(super) struct Locked {
    pub(super) ftl: SimFtl,
    pub(super) journal: Option<Journal>,
    /// Scratch for building a record list (sized once).
    pub(super) records: Vec<Record>,
}

impl Locked {
    /// Publishes the FTL's unflushed writes and trims, then `intent`.
    fn publish(&mut self, pool: &PoolHandle, intent: &[Record]) -> Result<(), JournalError> {
        let Some(j) = self.journal.as_mut() else {
            return Ok(());
        };
        if crate::hooks::daemon_killed(self.ftl.nand()) {
            return Ok(());
        }
        let records = &mut self.records;
        records.clear();
        records.extend(self.ftl.unflushed_trims().map(|(l, n)| Record::Trim {
            lba: l.0,
            sectors: n,
        }));
        records.extend(self.ftl.unflushed_writes().map(|(l, s)| Record::Write {
            lba: l.0,
            slot: s.0,
            epoch: pool.epoch(s.0),
        }));
        records.extend_from_slice(intent);
        j.publish(self.ftl.sequence(), records)
    }
}

/// The locked FTL. Dropping it publishes the journal, before any request
/// served under it can complete.
pub(super) struct Held<'a> {
    pub(super) g: MutexGuard<'a, Locked>,
    pub(super) pool: &'a PoolHandle,
    /// When this acquisition asked for the lock and got it, if timed.
    pub(super) stamp: Option<Stamp>,
}

impl Held<'_> {
    /// Publishes the journal with `intent` after the current state: call
    /// before an FTL change that acknowledges data (commit, trim).
    pub(super) fn intend(&mut self, intent: &[Record]) -> Result<(), IoError> {
        self.g
            .publish(self.pool, intent)
            .map_err(|e| IoError::Backend(format!("crash journal: {e}")))
    }
}

impl Deref for Held<'_> {
    type Target = SimFtl;
    fn deref(&self) -> &SimFtl {
        &self.g.ftl
    }
}

impl DerefMut for Held<'_> {
    fn deref_mut(&mut self) -> &mut SimFtl {
        &mut self.g.ftl
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.g.publish(self.pool, &[]) {
            // Cannot happen (the journal is sized from the FTL's own bound);
            // if it did, say so where the operator looks.
            log::error!("crash journal not updated: {e}");
        }
        if let Some(s) = self.stamp {
            s.release();
        }
    }
}
