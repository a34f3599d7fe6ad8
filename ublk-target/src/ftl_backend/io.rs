//! The data path: READ, WRITE, FLUSH, DISCARD and WRITE_ZEROES on the FTL.
//! Each takes the lock for the FTL's table updates only, lends the
//! request's slots ([`WriteLease`]/[`ReadLease`]) and runs the copy with
//! the lock released; a cache reported exhausted is flushed, then waited
//! for within [`RETRY_BUDGET`](super::RETRY_BUDGET). With an
//! [`ImageReader`], read misses are loaded and flushes synced with the
//! lock released too.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ftl_core::format::oob::record_len;
use ftl_core::{
    Error, Handle, Lba, LoadedPage, PageLoad, ReadGrant, ReadStep, Segment, SlotId, WriteGrant,
    MAX_SECTORS_PER_PAGE,
};
use simulator::ImageReader;

use super::error::map_err;
use super::lock::{Held, NO_RECORD};
use super::{FtlBackend, FtlError, SimFtl, RETRY_BUDGET};
use crate::backend::{Backend, IoError, Transfer};
use crate::journal::Record;
use crate::slots::{ReadLease, WriteLease, MAX_IO_BLOCKS};
use crate::spec::BLOCK_SIZE;

/// Lends the slots of `grant` to its request for writing.
pub(super) fn lend_write(ftl: &mut SimFtl, grant: &WriteGrant) -> Result<WriteLease, IoError> {
    let mut ids = [SlotId(0); MAX_IO_BLOCKS];
    let granted = ftl.write_slots(grant);
    let n = granted.len();
    ids.get_mut(..n)
        .ok_or_else(|| IoError::Backend("request larger than 512 KiB".into()))?
        .copy_from_slice(granted);
    Ok(ftl.slot_memory_mut().lend_write(&ids[..n])?)
}

/// Lends the slots of `grant` to its request for reading.
fn lend_read(ftl: &mut SimFtl, grant: &ReadGrant) -> Result<ReadLease, IoError> {
    let mut segs = [Segment::Zero; MAX_IO_BLOCKS];
    let found = ftl.read_segments(grant);
    let n = found.len();
    segs.get_mut(..n)
        .ok_or_else(|| IoError::Backend("request larger than 512 KiB".into()))?
        .copy_from_slice(found);
    Ok(ftl.slot_memory_mut().lend_read(&segs[..n])?)
}

/// One request counted in progress until dropped.
struct InFlight<'a>(&'a AtomicU32);

impl<'a> InFlight<'a> {
    fn enter(n: &'a AtomicU32) -> Self {
        n.fetch_add(1, Ordering::Relaxed);
        InFlight(n)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Spare bytes a page load reads: the longest page record.
const OOB_READ: usize = record_len(MAX_SECTORS_PER_PAGE);

/// Reads `load`'s page into its slots (lent as `lease`) and verifies it,
/// with the FTL lock released.
fn load_page(reader: &ImageReader, load: PageLoad, mut lease: WriteLease) -> LoadedPage {
    let mut oob = [0u8; OOB_READ];
    let oob_len = OOB_READ.min(reader.oob_size());
    let mut bufs = lease.slots_mut();
    let read = reader.read_page(load.ppa(), &mut bufs, &mut oob[..oob_len]);
    match read {
        Ok(()) => {
            let data: Vec<&[u8]> = bufs.iter().map(|b| &**b).collect();
            load.verify(&oob[..oob_len], &data)
        }
        Err(e) => {
            log::debug!("page load outside the lock failed, retried under it: {e}");
            load.failed()
        }
    }
}

impl FtlBackend {
    /// Locates a read's sectors and returns the lock with the grant. With
    /// a reader, each miss's page is loaded with the lock released.
    ///
    /// Alone (no other request in progress) a miss is loaded under the
    /// lock: nobody could use it meanwhile, and the split costs two more
    /// acquisitions and a system call.
    fn locate_read(&self, h: u32, lba: u64, n: u32) -> Result<(Held<'_>, ReadGrant), IoError> {
        let begin = |f: &mut SimFtl| f.begin_read(Handle(h), Lba(lba), n);
        let reader = self
            .reader
            .as_ref()
            .filter(|_| self.in_flight.load(Ordering::Relaxed) > 1);
        let Some(reader) = reader else {
            return self.with_cache(begin);
        };
        let (mut ftl, mut step) = self.with_cache(|f| f.start_read(Handle(h), Lba(lba), n))?;
        loop {
            let load = match step {
                ReadStep::Ready(g) => return Ok((ftl, g)),
                ReadStep::Load(load) => load,
            };
            let loaded = match ftl.slot_memory_mut().lend_write(load.slots()) {
                Ok(lease) => {
                    drop(ftl);
                    let loaded = load_page(reader, load, lease);
                    ftl = self.lock();
                    loaded
                }
                Err(_) => load.failed(),
            };
            step = match ftl.resume_read(loaded) {
                Ok(step) => step,
                // The read was closed: start again, cache retries and all.
                Err(Error::CacheExhausted) => {
                    drop(ftl);
                    return self.with_cache(begin);
                }
                Err(e) => return Err(map_err(e)),
            };
        }
    }

    /// Flushes: programs under the lock, syncs the image outside it when a
    /// reader can.
    fn flush_held(&self, mut ftl: Held<'_>) -> Result<(), IoError> {
        match &self.reader {
            Some(reader) => {
                ftl.flush_without_sync().map_err(map_err)?;
                drop(ftl);
                reader.sync().map_err(|e| map_err(Error::Nand(e)))
            }
            None => ftl.flush().map_err(map_err),
        }
    }

    /// Runs `begin` until it stops reporting the cache exhausted: the first
    /// time after a flush, then with backoff, within [`RETRY_BUDGET`].
    fn with_cache<T>(
        &self,
        mut begin: impl FnMut(&mut SimFtl) -> Result<T, FtlError>,
    ) -> Result<(Held<'_>, T), IoError> {
        let start = Instant::now();
        let mut flushed = false;
        let mut pause = Duration::from_micros(50);
        loop {
            let mut ftl = self.lock();
            match begin(&mut ftl) {
                Ok(v) => return Ok((ftl, v)),
                Err(Error::CacheExhausted) if !flushed => {
                    flushed = true;
                    ftl.flush().map_err(map_err)?;
                }
                Err(Error::CacheExhausted) if start.elapsed() < RETRY_BUDGET => {
                    drop(ftl);
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(10));
                }
                Err(e) => return Err(map_err(e)),
            }
        }
    }
}

impl Backend for FtlBackend {
    fn blocks(&self) -> u64 {
        self.blocks
    }

    fn read(&self, h: u32, lba: u64, n: u32, xfer: &mut dyn Transfer) -> Result<(), IoError> {
        let _busy = InFlight::enter(&self.in_flight);
        let (mut ftl, grant) = self.locate_read(h, lba, n)?;
        let lease = lend_read(&mut ftl, &grant);
        drop(ftl);
        let want = n as usize * BLOCK_SIZE as usize;
        // The kernel copy, outside the lock: the slots stay pinned, and
        // lent to this request until the lease drops.
        let moved = lease.and_then(|l| xfer.copy_out(&l.io_list()));
        let mut ftl = self.lock();
        ftl.end_read(grant);
        let got = moved?;
        if got != want {
            return Err(IoError::ShortCopy { want, got });
        }
        if xfer.user_space_copy() {
            ftl.note_bytes_copied(got as u64);
        }
        Ok(())
    }

    fn write(
        &self,
        h: u32,
        lba: u64,
        n: u32,
        fua: bool,
        xfer: &mut dyn Transfer,
    ) -> Result<(), IoError> {
        let _busy = InFlight::enter(&self.in_flight);
        let (mut ftl, grant) = self.with_cache(|f| f.begin_write(Handle(h), Lba(lba), n))?;
        // Lending moves the slots' epochs: their content is about to change.
        let lease = lend_write(&mut ftl, &grant);
        let mut intent = [NO_RECORD; MAX_IO_BLOCKS];
        let ids = lease.as_ref().map_or(&[][..], WriteLease::ids);
        for (i, (&s, r)) in ids.iter().zip(intent.iter_mut()).enumerate() {
            *r = Record::Write {
                lba: lba + i as u64,
                slot: s,
                epoch: self.pool.epoch(s),
            };
        }
        let intent = &intent[..ids.len()];
        drop(ftl);
        let want = n as usize * BLOCK_SIZE as usize;
        // The kernel copy, outside the lock, into slots lent to this request
        // alone until the lease drops.
        let moved = lease.and_then(|mut l| xfer.copy_in(&l.io_list()));
        let mut ftl = self.lock();
        let got = match moved {
            Ok(got) if got == want => got,
            Ok(got) => {
                ftl.abort_write(grant);
                return Err(IoError::ShortCopy { want, got });
            }
            Err(e) => {
                ftl.abort_write(grant);
                return Err(e);
            }
        };
        if let Err(e) = ftl.intend(intent) {
            ftl.abort_write(grant);
            return Err(e);
        }
        ftl.commit_write(grant).map_err(map_err)?;
        if xfer.user_space_copy() {
            ftl.note_bytes_copied(got as u64);
        }
        if fua {
            return self.flush_held(ftl);
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), IoError> {
        self.flush_held(self.lock())
    }

    fn discard(&self, lba: u64, n: u32) -> Result<(), IoError> {
        let mut ftl = self.lock();
        ftl.intend(&[Record::Trim { lba, sectors: n }])?;
        ftl.trim(Lba(lba), n).map_err(map_err)
    }

    fn write_zeroes(&self, h: u32, lba: u64, n: u32) -> Result<(), IoError> {
        // WRITE_ZEROES with NOUNMAP: real zero sectors, programmed like a
        // WRITE (without it, dispatch sends a discard: a trim).
        let mut done = 0;
        while done < n {
            let k = (n - done).min(MAX_IO_BLOCKS as u32);
            let at = lba + u64::from(done);
            let (mut ftl, grant) = self.with_cache(|f| f.begin_write(Handle(h), Lba(at), k))?;
            // Lent to this request, the epochs moved before the zeros land.
            let mut lease = match lend_write(&mut ftl, &grant) {
                Ok(l) => l,
                Err(e) => {
                    ftl.abort_write(grant);
                    return Err(e);
                }
            };
            let mut intent = [NO_RECORD; MAX_IO_BLOCKS];
            let n = lease.ids().len();
            for (i, r) in intent.iter_mut().enumerate().take(n) {
                lease.slot_mut(i).fill(0);
                let slot = lease.ids()[i];
                *r = Record::Write {
                    lba: at + i as u64,
                    slot,
                    epoch: self.pool.epoch(slot),
                };
            }
            let intent = &intent[..lease.ids().len()];
            drop(lease);
            self.zero_fill_bytes.fetch_add(
                (intent.len() * BLOCK_SIZE as usize) as u64,
                Ordering::Relaxed,
            );
            if let Err(e) = ftl.intend(intent) {
                ftl.abort_write(grant);
                return Err(e);
            }
            ftl.commit_write(grant).map_err(map_err)?;
            done += k;
        }
        Ok(())
    }

    fn shutdown(&self) -> Result<(), IoError> {
        self.flush()?;
        // A checkpoint at a clean stop leaves the next mount nothing to
        // replay past it.
        self.lock().checkpoint().map_err(map_err)?;
        // Everything is on the image: the journal has nothing left to say.
        if let Some(p) = &self.journal_path {
            let _ = std::fs::remove_file(p);
        }
        Ok(())
    }

    fn stats(&self) -> Vec<(&'static str, serde_json::Value)> {
        self.stats_list()
    }
}
