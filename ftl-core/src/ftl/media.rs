//! The media port: every NAND operation the FTL issues goes through here.
//!
//! It owns the NAND driver, the program sequence counter (stamped into each
//! page's spare-area record) and the counters of what reached the media, so
//! the write-amplification figure counts every page programmed — host,
//! relocated, checkpoint, trim record, padding and failed programs alike —
//! the same way the device itself would.

use alloc::vec::Vec;

use crate::addr::{BlockIdx, Lba, Ppa, Seq};
use crate::format::oob::{self, OobError, PageKind, PageRecord, NO_LBA, UNCHECKED_DATA_CRC};
use crate::geometry::{Geometry, MAX_SECTORS_PER_PAGE};
use crate::nand::{Nand, NandError, NandErrorKind};

/// What reached the media.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct MediaCounters {
    /// Program attempts that reached the media (failed ones included).
    pub pages_programmed: u64,
    /// Of those, meta-stream pages (checkpoints, trim records).
    pub meta_pages_programmed: u64,
    /// Data pages programmed with padding (partial groups).
    pub padded_pages: u64,
    /// Of the meta pages: translation pages, checkpoint chunks, summaries.
    pub translation_pages: u64,
    pub checkpoint_pages: u64,
    pub summary_pages: u64,
    /// Sectors read (data reads, not spare-only reads).
    pub sectors_read: u64,
    pub erases: u64,
    pub program_failures: u64,
    pub erase_failures: u64,
    pub corrected_bits: u64,
}

/// Why a data read did not yield a verified page.
pub(super) enum ReadFailure<E> {
    /// Uncorrectable, or the record or data crc does not verify: the data
    /// must not be trusted.
    Unreadable,
    /// A device error (power loss, I/O).
    Nand(E),
}

/// Whether a page of `kind` carries (and is checked against) its data's
/// crc: always, but for data pages with `data_checksums` off.
pub(super) fn checks_data(kind: PageKind, data_checksums: bool) -> bool {
    data_checksums || !kind.is_data()
}

/// Verifies a page read as `oob` (its spare area) and `data` (its sectors
/// in order): the record decodes, names `spp` sectors and carries the
/// data's crc (unless [`checks_data`] says its kind is not checked).
/// `None`: the data must not be trusted.
pub(super) fn verify_page<'a>(
    spp: usize,
    data_checksums: bool,
    oob: &[u8],
    data: impl IntoIterator<Item = &'a [u8]>,
) -> Option<PageRecord> {
    let rec = PageRecord::decode(oob).ok()?;
    let data_ok = !checks_data(rec.kind, data_checksums) || oob::data_crc(data) == rec.data_crc;
    (usize::from(rec.sectors) == spp && data_ok).then_some(rec)
}

/// The NAND driver plus the sequence counter and media counters.
pub(super) struct Media<N: Nand> {
    nand: N,
    /// Sequence number of the newest page programmed (or found at mount).
    seq: u64,
    oob: Vec<u8>,
    spp: usize,
    /// `FtlConfig::data_checksums`.
    data_checksums: bool,
    pub counters: MediaCounters,
}

impl<N: Nand> Media<N> {
    pub fn new(nand: N, geo: &Geometry, data_checksums: bool) -> Self {
        Media {
            nand,
            seq: 0,
            oob: alloc::vec![0xFF; geo.oob_size as usize],
            spp: geo.sectors_per_page(),
            data_checksums,
            counters: MediaCounters::default(),
        }
    }

    pub fn nand(&self) -> &N {
        &self.nand
    }

    pub fn nand_mut(&mut self) -> &mut N {
        &mut self.nand
    }

    pub fn into_nand(self) -> N {
        self.nand
    }

    /// `FtlConfig::data_checksums`: whether data pages' data is checked.
    pub fn data_checksums(&self) -> bool {
        self.data_checksums
    }

    /// Sequence number of the newest page programmed.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Mount: the newest sequence number found on flash so far.
    pub fn observe_seq(&mut self, seq: u64) {
        self.seq = self.seq.max(seq);
    }

    /// Programs `data` (one page, as a scatter list of sectors) at `ppa`
    /// with a record naming `lbas` (one per data sector; `None` for padding
    /// or a copy found stale) and the data's crc ([`UNCHECKED_DATA_CRC`] for
    /// a data page with data checksums off). Returns the page's sequence number; the
    /// counter moves only when the program succeeds.
    pub fn program(
        &mut self,
        ppa: Ppa,
        kind: PageKind,
        lbas: &[Option<Lba>],
        data: &[&[u8]],
        erase_count: u32,
    ) -> Result<Seq, N::Error> {
        let mut rec = PageRecord {
            kind,
            seq: Seq(self.seq + 1),
            erase_count,
            data_crc: if checks_data(kind, self.data_checksums) {
                oob::data_crc(data.iter().copied())
            } else {
                UNCHECKED_DATA_CRC
            },
            sectors: self.spp as u8,
            lbas: [NO_LBA; MAX_SECTORS_PER_PAGE],
        };
        debug_assert!(lbas.len() <= self.spp);
        for (out, l) in rec.lbas.iter_mut().zip(lbas) {
            // The geometry bounds LBAs below 2³²: the cast is exact.
            *out = l.map_or(NO_LBA, |l| l.0 as u32);
        }
        rec.encode(&mut self.oob);
        match self.nand.program_page(ppa, data, &self.oob) {
            Ok(()) => {
                self.count_program(kind, lbas.len());
                self.seq += 1;
                Ok(rec.seq)
            }
            // The page is spent and the block worn even so: it counts.
            Err(e) if e.kind() == NandErrorKind::ProgramFailed => {
                self.counters.program_failures += 1;
                self.count_program(kind, lbas.len());
                Err(e)
            }
            // Power loss or a driver error: nothing is known to have landed.
            Err(e) => Err(e),
        }
    }

    fn count_program(&mut self, kind: PageKind, data_sectors: usize) {
        self.counters.pages_programmed += 1;
        match kind {
            PageKind::Translation => self.counters.translation_pages += 1,
            PageKind::Checkpoint => self.counters.checkpoint_pages += 1,
            PageKind::Summary => self.counters.summary_pages += 1,
            PageKind::Host | PageKind::Relocated | PageKind::Trim => {}
        }
        if !kind.is_data() {
            self.counters.meta_pages_programmed += 1;
        } else if data_sectors < self.spp {
            self.counters.padded_pages += 1;
        }
    }

    /// Reads page `ppa` into `data` and verifies its record and data crc
    /// (see [`verify_page`]).
    pub fn read_verified(
        &mut self,
        ppa: Ppa,
        data: &mut [&mut [u8]],
    ) -> Result<PageRecord, ReadFailure<N::Error>> {
        match self.nand.read_page(ppa, data, &mut self.oob) {
            Ok(st) => self.counters.corrected_bits += u64::from(st.corrected_bits),
            Err(e) if e.kind() == NandErrorKind::Uncorrectable => {
                return Err(ReadFailure::Unreadable)
            }
            Err(e) => return Err(ReadFailure::Nand(e)),
        }
        self.counters.sectors_read += self.spp as u64;
        verify_page(
            self.spp,
            self.data_checksums,
            &self.oob,
            data.iter().map(|b| &**b),
        )
        .ok_or(ReadFailure::Unreadable)
    }

    /// Counts a page read by the embedder for the FTL (a read miss loaded
    /// outside its lock).
    pub fn count_read(&mut self) {
        self.counters.sectors_read += self.spp as u64;
    }

    /// Reads page `ppa` whole into `page` and decodes its spare area,
    /// without judging the data (recovery classifies it). `Ok(None)` for an
    /// uncorrectable page.
    pub fn read_raw(
        &mut self,
        ppa: Ppa,
        page: &mut [u8],
    ) -> Result<Option<Result<PageRecord, OobError>>, N::Error> {
        match self.nand.read_page(ppa, &mut [page], &mut self.oob) {
            Ok(st) => self.counters.corrected_bits += u64::from(st.corrected_bits),
            Err(e) if e.kind() == NandErrorKind::Uncorrectable => return Ok(None),
            Err(e) => return Err(e),
        }
        self.counters.sectors_read += self.spp as u64;
        Ok(Some(PageRecord::decode(&self.oob)))
    }

    /// Reads only the spare area of `ppa`. `Ok(None)` for an uncorrectable
    /// page.
    pub fn read_spare(
        &mut self,
        ppa: Ppa,
    ) -> Result<Option<Result<PageRecord, OobError>>, N::Error> {
        match self.nand.read_page(ppa, &mut [], &mut self.oob) {
            Ok(_) => Ok(Some(PageRecord::decode(&self.oob))),
            Err(e) if e.kind() == NandErrorKind::Uncorrectable => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Erases `b`. `Ok(false)` if the device reported an erase failure (the
    /// caller retires the block).
    pub fn erase(&mut self, b: BlockIdx) -> Result<bool, N::Error> {
        match self.nand.erase_block(b) {
            Ok(()) => {
                self.counters.erases += 1;
                Ok(true)
            }
            Err(e) if e.kind() == NandErrorKind::EraseFailed => {
                self.counters.erase_failures += 1;
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    pub fn is_bad_block(&mut self, b: BlockIdx) -> Result<bool, N::Error> {
        self.nand.is_bad_block(b)
    }

    pub fn mark_bad_block(&mut self, b: BlockIdx) -> Result<(), N::Error> {
        self.nand.mark_bad_block(b)
    }

    pub fn sync(&mut self) -> Result<(), N::Error> {
        self.nand.sync()
    }
}
