//! [`ImageReader`]: an image file's pages read, and the file synced, by
//! threads other than the one driving its [`SimNand`](crate::SimNand).
//!
//! A front end that serves several queues through one lock on the FTL
//! takes its NAND transfers out of that lock with this: a read miss's page
//! load (`ftl_core::Ftl::start_read`) and a flush's sync run while another
//! thread programs and erases through the `SimNand`. Both are plain
//! `preadv(2)` and `fsync(2)` on a second descriptor of the image file, so
//! no byte of the mapping is shared with the thread writing it: the kernel
//! copies, and the worst a race can give is a page read while it changes
//! (erased, reprogrammed, half-written), which the FTL's verification and
//! block erase counts reject.
//!
//! What it is not: the fault model. A reader sees the file as it is, with
//! no bit errors, no power switch and no NAND rules, so
//! [`SimNand::reader`](crate::SimNand::reader) gives none when the options
//! inject read faults; then every read goes through the `SimNand`. An
//! erased page reads as zeros here (a hole), not 0xFF.
//!
//! **Sync.** On Linux `fsync` of the file writes back the pages its shared
//! mapping dirtied (`msync(MS_SYNC)` is itself an fsync of the range), so
//! every program completed before [`ImageReader::sync`] is called is
//! durable when it returns.

use std::fs::File;
use std::io::IoSliceMut;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ftl_core::nand::check_read_args;
use ftl_core::{NandErrorKind, Ppa};

use crate::error::{OpKind, SimError, Target};
use crate::format::layout::Layout;
use crate::part::PartMap;

/// Reads counted by readers, added to the `SimNand`'s own statistics.
#[derive(Debug, Default)]
pub(crate) struct ReaderCounters {
    pub reads: AtomicU64,
    pub bytes_read: AtomicU64,
}

/// Page reads and syncs of an image file from any thread.
#[derive(Debug, Clone)]
pub struct ImageReader {
    file: Arc<File>,
    /// The part of the array read (the whole array, or a [`NandPart`]'s).
    ///
    /// [`NandPart`]: crate::NandPart
    map: PartMap,
    layout: Layout,
    counters: Arc<ReaderCounters>,
}

impl ImageReader {
    pub(crate) fn new(
        file: File,
        map: PartMap,
        layout: Layout,
        counters: Arc<ReaderCounters>,
    ) -> Self {
        ImageReader {
            file: Arc::new(file),
            map,
            layout,
            counters,
        }
    }

    /// This reader for one part of the array: addresses are the part's.
    pub(crate) fn for_part(self, map: PartMap) -> Self {
        ImageReader { map, ..self }
    }

    /// Reads page `ppa` into the scatter list `data` (buffers adding up to
    /// the page size) and its spare area into `oob` (a prefix of it), as
    /// the file holds them now: unverified (see the module's notes).
    pub fn read_page(
        &self,
        ppa: Ppa,
        data: &mut [&mut [u8]],
        oob: &mut [u8],
    ) -> Result<(), SimError> {
        let out_of_bounds = |detail| {
            SimError::new(
                NandErrorKind::OutOfBounds,
                OpKind::Read,
                Target::Page(ppa),
                detail,
            )
        };
        check_read_args(&self.map.geo, ppa, data, oob)
            .map_err(|_| out_of_bounds("read outside the geometry"))?;
        let at = self.map.ppa(ppa);
        let flat = self
            .layout
            .flat_page(u64::from(at.block.0), u64::from(at.page))
            .ok_or_else(|| out_of_bounds("page outside the image"))?;
        let (Some(at), Some(spare)) = (self.layout.data(flat), self.layout.spare(flat)) else {
            return Err(out_of_bounds("page outside the image"));
        };
        let mut got = 0;
        if !data.is_empty() {
            let mut iov: Vec<IoSliceMut<'_>> =
                data.iter_mut().map(|b| IoSliceMut::new(b)).collect();
            got += read_full(&self.file, &mut iov, at.start)?;
        }
        let n = oob
            .len()
            .min(spare.end.saturating_sub(spare.start) as usize);
        got += read_full(
            &self.file,
            &mut [IoSliceMut::new(&mut oob[..n])],
            spare.start,
        )?;
        self.counters.reads.fetch_add(1, Ordering::Relaxed);
        self.counters
            .bytes_read
            .fetch_add(got as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Spare bytes per page.
    pub fn oob_size(&self) -> usize {
        self.map.geo.oob_size as usize
    }

    /// Makes every program and erase completed so far durable (`fsync`).
    pub fn sync(&self) -> Result<(), SimError> {
        self.file
            .sync_all()
            .map_err(|e| SimError::io(OpKind::Sync, e))
    }
}

/// Fills `iov` from `offset` of `file` (one `preadv` in the usual case).
fn read_full(file: &File, iov: &mut [IoSliceMut<'_>], offset: u64) -> Result<usize, SimError> {
    let want: usize = iov.iter().map(|b| b.len()).sum();
    let off = nix::libc::off_t::try_from(offset).map_err(|_| {
        SimError::io(
            OpKind::Read,
            std::io::Error::from_raw_os_error(nix::libc::EOVERFLOW),
        )
    })?;
    let got = loop {
        match nix::sys::uio::preadv(file, iov, off) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => break r.map_err(|e| SimError::io(OpKind::Read, e.into()))?,
        }
    };
    if got != want {
        // Rare (a signal, or a hole at the end of a short file): read each
        // buffer again exactly; an image shorter than its layout is an
        // error, not a short page.
        let mut at = offset;
        for b in iov.iter_mut() {
            std::os::unix::fs::FileExt::read_exact_at(file, b, at)
                .map_err(|e| SimError::io(OpKind::Read, e))?;
            at += b.len() as u64;
        }
    }
    Ok(want)
}

#[cfg(test)]
mod tests {
    use ftl_core::{BlockIdx, Geometry, Nand, NandErrorKind};

    use crate::{SimNand, SimOptions};

    use super::*;

    #[test]
    fn reads_what_the_array_programmed_and_counts_it() {
        let dir = tempfile::tempdir().unwrap();
        let geo = Geometry::small(4, 4);
        let mut nand =
            SimNand::create_image(&dir.path().join("img"), geo, SimOptions::default()).unwrap();
        let reader = nand.reader().expect("a file image has a reader").unwrap();
        let page: Vec<u8> = (0..geo.page_size).map(|i| (i * 7) as u8).collect();
        let oob: Vec<u8> = (0..16u8).collect();
        let ppa = Ppa::new(BlockIdx(2), 0);
        nand.program_page(ppa, &[&page], &oob).unwrap();
        let before = nand.stats();

        // Two sectors' buffers, as a page load into slots.
        let half = geo.page_size as usize / 2;
        let (mut a, mut b) = (vec![0u8; half], vec![0u8; half]);
        let mut got_oob = [0u8; 16];
        reader
            .read_page(ppa, &mut [&mut a, &mut b], &mut got_oob)
            .unwrap();
        assert!(a == page[..half] && b == page[half..]);
        assert_eq!(got_oob[..], oob[..]);
        let after = nand.stats().since(&before);
        assert_eq!(after.reads, 1);
        assert_eq!(after.bytes_read, u64::from(geo.page_size) + 16);
        reader.sync().unwrap();

        // Outside the geometry, or a scatter list of the wrong size.
        let e = reader
            .read_page(Ppa::new(BlockIdx(4), 0), &mut [], &mut got_oob)
            .unwrap_err();
        assert_eq!(ftl_core::NandError::kind(&e), NandErrorKind::OutOfBounds);
        let mut short = vec![0u8; half];
        assert!(reader.read_page(ppa, &mut [&mut short], &mut []).is_err());
    }

    #[test]
    fn no_reader_for_ram_or_when_reads_are_faulty() {
        let geo = Geometry::small(4, 4);
        assert!(SimNand::new_ram(geo, SimOptions::default())
            .unwrap()
            .reader()
            .is_none());
        let dir = tempfile::tempdir().unwrap();
        let opts = SimOptions {
            max_bit_errors_per_read: 4,
            ecc_correctable_bits: 8,
            ..SimOptions::default()
        };
        let nand = SimNand::create_image(&dir.path().join("img"), geo, opts).unwrap();
        assert!(nand.reader().is_none());
    }
}
