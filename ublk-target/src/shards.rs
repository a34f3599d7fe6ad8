//! [`Shards`]: the device as several independent FTLs, so that queues
//! stop waiting for one lock.
//!
//! One FTL behind one lock serves every queue, and with two queues its
//! lock is the limit for writes (`examples/lock_contention.rs`: two
//! threads' random writes reached 0.69–0.84× one thread's IOPS). Here the
//! image's blocks are split into equal partitions (the count is in the
//! image header: [`simulator::NandPart`], each through its own mapping of
//! the image file) and each partition is a whole [`FtlBackend`] — its own
//! FTL, lock, slot cache and crash journal — so requests for different
//! shards run side by side and share nothing but the file. This is how multi-core
//! SSD controllers scale their FTL: each core owns a partition of the
//! logical space and its own mapping tables.
//!
//! **Striping.** The device's blocks are dealt out in stripes of
//! [`STRIPE_BLOCKS`] (128 KiB): stripe `c` is shard `c mod n`'s stripe
//! `c / n`. Random I/O spreads evenly, a 4 KiB request always lands in one
//! shard, and a larger one is split into pieces served in order, each
//! moving its part of the payload ([`Transfer::advance`]). The blocks one
//! shard holds of any range are contiguous in that shard, so a DISCARD or
//! WRITE_ZEROES is one call per shard. Each shard serves as many stripes
//! as the smallest one holds (one shard: all of its blocks).
//!
//! **Durability** is each shard's: a WRITE's pieces are acknowledged
//! together, a FUA write flushes every shard it touched, a FLUSH flushes
//! them all. A request that fails in one piece fails whole (pieces already
//! written stay written, as a failed write may leave any of its blocks).

use std::sync::atomic::AtomicU32;
use std::sync::Arc;

use ftl_core::FtlConfig;
use simulator::SimNand;

use crate::backend::{check_range, Backend, IoError, Transfer, BLOCK_SHIFT};
use crate::ftl_backend::{stats_of, FtlBackend, JournalAt, OpenError, Replayed};

/// Blocks (4 KiB) a stripe holds: 128 KiB.
pub const STRIPE_BLOCKS: u64 = 32;

/// A device made of one FTL per partition of its image.
pub struct Shards {
    parts: Vec<FtlBackend>,
    blocks: u64,
}

/// A run of a request's blocks that one shard holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Piece {
    shard: usize,
    /// The first block, in the shard.
    lba: u64,
    blocks: u32,
}

impl Shards {
    /// Formats (`fresh`) or mounts an FTL on every partition of `nand`,
    /// each with `cfg` and its share of `cache_bytes` and of the map
    /// budget (`cfg.map_budget_bytes` is the device's), and (with
    /// `journal`) its own crash journal, a crashed daemon's replayed first.
    pub fn open(
        nand: SimNand,
        fresh: bool,
        cfg: FtlConfig,
        cache_bytes: usize,
        journal: Option<JournalAt<'_>>,
    ) -> Result<Shards, OpenError> {
        let parts = nand.into_parts().map_err(OpenError::Partitions)?;
        let count = parts.len();
        let cfg = FtlConfig {
            map_budget_bytes: cfg.map_budget_bytes / count as u64,
            ..cfg
        };
        let mut opened = Vec::with_capacity(count);
        for part in parts {
            let index = part.index();
            let b = FtlBackend::with_config(part, fresh, cfg, cache_bytes / count, journal);
            opened.push(b.map_err(|error| match count {
                1 => error,
                _ => OpenError::Shard {
                    index,
                    count: count as u16,
                    error: Box::new(error),
                },
            })?);
        }
        Ok(Shards::new(opened))
    }

    /// The device over `parts`, in partition order.
    pub fn new(mut parts: Vec<FtlBackend>) -> Shards {
        let in_flight = Arc::new(AtomicU32::new(0));
        for p in &mut parts {
            p.count_in_flight_with(in_flight.clone());
        }
        let least = parts.iter().map(Backend::blocks).min().unwrap_or(0);
        let blocks = match parts.len() {
            1 => least,
            n => least / STRIPE_BLOCKS * STRIPE_BLOCKS * n as u64,
        };
        Shards { parts, blocks }
    }

    /// The shards, in partition order.
    pub fn parts(&self) -> &[FtlBackend] {
        &self.parts
    }

    /// The shards themselves (tests: a daemon's death).
    #[cfg(test)]
    pub(crate) fn into_parts(self) -> Vec<FtlBackend> {
        self.parts
    }

    /// What opening replayed from crashed daemons' journals, all shards.
    pub fn replayed(&self) -> Replayed {
        self.parts.iter().fold(Replayed::default(), |a, p| {
            let r = p.replayed();
            Replayed {
                found: a.found || r.found,
                trims: a.trims + r.trims,
                writes: a.writes + r.writes,
                skipped: a.skipped + r.skipped,
            }
        })
    }

    /// The shard and its block holding device block `lba`.
    fn locate(&self, lba: u64) -> (usize, u64) {
        let n = self.parts.len() as u64;
        let stripe = lba / STRIPE_BLOCKS;
        let local = stripe / n * STRIPE_BLOCKS + lba % STRIPE_BLOCKS;
        let shard = (stripe % n) as usize;
        debug_assert!(local < self.parts[shard].blocks());
        (shard, local)
    }

    /// The pieces of `blocks` blocks at `lba`, in order (the range is
    /// checked).
    fn pieces(&self, lba: u64, blocks: u32) -> impl Iterator<Item = Piece> + '_ {
        let end = lba + u64::from(blocks);
        let mut at = lba;
        std::iter::from_fn(move || {
            if at >= end {
                return None;
            }
            let (shard, local) = self.locate(at);
            let run = match self.parts.len() {
                1 => end - at,
                _ => (STRIPE_BLOCKS - at % STRIPE_BLOCKS).min(end - at),
            };
            at += run;
            Some(Piece {
                shard,
                lba: local,
                blocks: run as u32,
            })
        })
    }

    /// Per shard, the one run of its blocks inside `blocks` blocks at
    /// `lba` (the range is checked).
    fn runs(&self, lba: u64, blocks: u32) -> Vec<Option<(u64, u32)>> {
        let mut runs: Vec<Option<(u64, u32)>> = vec![None; self.parts.len()];
        for p in self.pieces(lba, blocks) {
            let run = &mut runs[p.shard];
            *run = Some(match *run {
                None => (p.lba, p.blocks),
                Some((at, n)) => {
                    debug_assert_eq!(at + u64::from(n), p.lba, "a shard's run has a gap");
                    (at, n + p.blocks)
                }
            });
        }
        runs
    }

    /// Runs `serve` on each piece of a request, moving `xfer` on by each
    /// piece's payload.
    fn each_piece(
        &self,
        lba: u64,
        blocks: u32,
        xfer: &mut dyn Transfer,
        mut serve: impl FnMut(&FtlBackend, u64, u32, &mut dyn Transfer) -> Result<(), IoError>,
    ) -> Result<(), IoError> {
        check_range(self.blocks, lba, blocks)?;
        for p in self.pieces(lba, blocks) {
            serve(&self.parts[p.shard], p.lba, p.blocks, xfer)?;
            xfer.advance((p.blocks as usize) << BLOCK_SHIFT);
        }
        Ok(())
    }

    /// Runs `f` on every shard, even after one failed; the first error.
    fn every(&self, f: impl Fn(&FtlBackend) -> Result<(), IoError>) -> Result<(), IoError> {
        let mut result = Ok(());
        for p in &self.parts {
            let r = f(p);
            result = result.and(r);
        }
        result
    }

    /// Runs `serve` on each shard's run of a request; every shard is
    /// served, the first error returned.
    fn each_run(
        &self,
        lba: u64,
        blocks: u32,
        serve: impl Fn(&FtlBackend, u64, u32) -> Result<(), IoError>,
    ) -> Result<(), IoError> {
        check_range(self.blocks, lba, blocks)?;
        let mut result = Ok(());
        for (k, run) in self.runs(lba, blocks).into_iter().enumerate() {
            if let Some((at, n)) = run {
                let r = serve(&self.parts[k], at, n);
                result = result.and(r);
            }
        }
        result
    }
}

impl Backend for Shards {
    fn blocks(&self) -> u64 {
        self.blocks
    }

    fn read(&self, h: u32, lba: u64, n: u32, xfer: &mut dyn Transfer) -> Result<(), IoError> {
        self.each_piece(lba, n, xfer, |b, at, k, x| b.read(h, at, k, x))
    }

    fn write(
        &self,
        h: u32,
        lba: u64,
        n: u32,
        fua: bool,
        xfer: &mut dyn Transfer,
    ) -> Result<(), IoError> {
        self.each_piece(lba, n, xfer, |b, at, k, x| b.write(h, at, k, fua, x))
    }

    fn flush(&self) -> Result<(), IoError> {
        self.every(FtlBackend::flush)
    }

    fn discard(&self, lba: u64, n: u32) -> Result<(), IoError> {
        self.each_run(lba, n, |b, at, k| b.discard(at, k))
    }

    fn write_zeroes(&self, h: u32, lba: u64, n: u32) -> Result<(), IoError> {
        self.each_run(lba, n, |b, at, k| b.write_zeroes(h, at, k))
    }

    fn shutdown(&self) -> Result<(), IoError> {
        // Every shard saved, even after one failed.
        self.every(FtlBackend::shutdown)
    }

    fn stats(&self) -> Vec<(&'static str, serde_json::Value)> {
        stats_of(&self.parts)
    }
}

#[cfg(test)]
#[path = "shards_tests.rs"]
mod tests;
