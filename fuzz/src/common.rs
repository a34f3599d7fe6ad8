//! What the targets share: a small deterministic PRNG, self-describing
//! sector contents, the model of what was written, small geometries, and
//! [`Corrupted`], a NAND wrapper that overlays corruption on reads.
//!
//! Every sector the harnesses write names itself:
//!
//! ```text
//!  offset size  field
//!  0      4     magic "FZSD"
//!  4      8     LBA (u64 LE)
//!  12     8     version (u64 LE): unique over the whole run
//!  20     ..    bytes from SplitMix64(lba, version)
//! ```
//!
//! so a read can be checked against the model without keeping the data, and
//! another sector's data or garbage is told apart from a stale version.

use std::collections::{BTreeMap, BTreeSet};

use ftl_core::{
    BlockIdx, Ftl, FtlConfig, Geometry, Nand, NandError, NandErrorKind, Ppa, ReadStatus, SlotPool,
};

/// SplitMix64: tiny, seedable, and good enough to fill sectors.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

const SECTOR_MAGIC: [u8; 4] = *b"FZSD";

/// The contents of version `version` of sector `lba`.
pub fn sector_data(lba: u64, version: u64, out: &mut [u8]) {
    Rng::new(lba.rotate_left(32) ^ version ^ 0x5EC7_0BAD).fill(out);
    out[0..4].copy_from_slice(&SECTOR_MAGIC);
    out[4..12].copy_from_slice(&lba.to_le_bytes());
    out[12..20].copy_from_slice(&version.to_le_bytes());
}

/// What a sector read back as, judged against its own header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    /// All zeros: never written, or trimmed.
    Zeros,
    /// Intact version `v` of this very LBA.
    Version(u64),
}

/// Classifies a sector read from `lba`; `Err` says why it is neither zeros
/// nor an intact version of `lba` (another sector's data, or garbage).
pub fn classify(lba: u64, buf: &[u8]) -> Result<Seen, String> {
    if buf.iter().all(|&b| b == 0) {
        return Ok(Seen::Zeros);
    }
    if buf[0..4] != SECTOR_MAGIC {
        return Err(format!("lba {lba}: garbage (no sector header)"));
    }
    let mut w = [0u8; 8];
    w.copy_from_slice(&buf[4..12]);
    let owner = u64::from_le_bytes(w);
    w.copy_from_slice(&buf[12..20]);
    let version = u64::from_le_bytes(w);
    if owner != lba {
        return Err(format!(
            "lba {lba}: holds lba {owner}'s data (version {version})"
        ));
    }
    let mut want = vec![0u8; buf.len()];
    sector_data(lba, version, &mut want);
    if want != buf {
        return Err(format!("lba {lba}: version {version} with damaged bytes"));
    }
    Ok(Seen::Version(version))
}

/// Every version ever written to each LBA, and which is current.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// All versions each LBA ever received (never shrinks).
    pub written: BTreeMap<u64, BTreeSet<u64>>,
    next_version: u64,
}

impl History {
    /// Allocates the next version for `lba` and records it.
    pub fn new_version(&mut self, lba: u64) -> u64 {
        self.next_version += 1;
        self.written
            .entry(lba)
            .or_default()
            .insert(self.next_version);
        self.next_version
    }

    /// Whether `seen` is acceptable for `lba` after corruption: zeros or
    /// a version really written there.
    pub fn plausible(&self, lba: u64, seen: Seen) -> bool {
        match seen {
            Seen::Zeros => true,
            Seen::Version(v) => self.written.get(&lba).is_some_and(|s| s.contains(&v)),
        }
    }
}

/// A small geometry drawn from a byte: 16..=23 blocks of 8..=15 pages, 1,
/// 2 or 4 sectors of 512 bytes per page. Small pages keep each run to
/// microseconds of copying; enough blocks leave room for the FTL's reserve.
pub fn small_geometry(pick: u8) -> Geometry {
    let spp = [1u32, 2, 4][usize::from(pick % 3)];
    Geometry {
        channels: 1,
        dies_per_channel: 1,
        planes_per_die: 1,
        blocks_per_plane: 16 + u32::from((pick >> 2) % 8),
        pages_per_block: 8 + u32::from((pick >> 5) % 8),
        page_size: 512 * spp,
        sector_size: 512,
        oob_size: 64,
    }
}

/// The FTL configuration the harnesses use: few handles, short commands,
/// `op_percent` % over-provisioning.
pub fn small_config(op_percent: u8) -> FtlConfig {
    FtlConfig {
        handles: 2,
        max_io_sectors: 8,
        over_provisioning_percent: op_percent,
        ..FtlConfig::default()
    }
}

/// A slot pool of the minimum size for `geo` plus `extra` slots.
pub fn pool_for(geo: &Geometry, cfg: &FtlConfig, extra: u32) -> SlotPool<Vec<u8>> {
    SlotPool::with_capacity(cfg.min_slots(geo) + extra, geo.sector_size as usize)
}

/// Writes fresh versions of `sectors` sectors at `lba` through `ftl`,
/// recording them in `history` (before the call: a failed write may still
/// have reached flash).
pub fn write_versions<N: Nand>(
    ftl: &mut Ftl<N, SlotPool<Vec<u8>>>,
    history: &mut History,
    lba: u64,
    sectors: u32,
) -> (Vec<u64>, Result<(), ftl_core::Error<N::Error>>) {
    let ss = ftl.sector_size();
    let mut buf = vec![0u8; ss * sectors as usize];
    let mut versions = Vec::new();
    for (i, chunk) in buf.chunks_mut(ss).enumerate() {
        let l = lba + i as u64;
        let v = history.new_version(l);
        sector_data(l, v, chunk);
        versions.push(v);
    }
    let r = ftl.write(ftl_core::Lba(lba), &buf);
    (versions, r)
}

/// One corruption of what a page reads back as.
#[derive(Clone, Debug)]
enum Overlay {
    /// XOR `mask` into the byte at `offset` (data then spare, concatenated).
    Xor { offset: usize, mask: u8 },
    /// Replace bytes from `offset`.
    Set { offset: usize, bytes: Vec<u8> },
    /// Replace the whole page: data from a seed, spare as given (padded
    /// with 0xFF).
    Replace { data_seed: u64, oob: Vec<u8> },
    /// The read fails as uncorrectable.
    Unreadable,
}

/// A NAND whose reads return corrupted contents for chosen pages, as if
/// the stored charge had changed. A page's corruption lasts until the page
/// is programmed again or its block erased.
#[derive(Debug)]
pub struct Corrupted<N> {
    inner: N,
    overlays: BTreeMap<(u32, u32), Vec<Overlay>>,
}

/// The wrapper's error: the inner device's, or an injected unreadable page.
#[derive(Debug)]
pub enum CorruptedError<E> {
    /// From the wrapped device.
    Inner(E),
    /// An injected uncorrectable read.
    Unreadable,
}

impl<E: NandError> NandError for CorruptedError<E> {
    fn kind(&self) -> NandErrorKind {
        match self {
            CorruptedError::Inner(e) => e.kind(),
            CorruptedError::Unreadable => NandErrorKind::Uncorrectable,
        }
    }
}

impl<N: Nand> Corrupted<N> {
    /// Wraps `inner` with no corruption yet.
    pub fn new(inner: N) -> Self {
        Corrupted {
            inner,
            overlays: BTreeMap::new(),
        }
    }

    /// The wrapped device.
    pub fn inner_mut(&mut self) -> &mut N {
        &mut self.inner
    }

    fn push(&mut self, ppa: Ppa, o: Overlay) {
        self.overlays
            .entry((ppa.block.0, ppa.page))
            .or_default()
            .push(o);
    }

    /// XORs `mask` into byte `offset` of the page (data, then spare).
    pub fn xor(&mut self, ppa: Ppa, offset: usize, mask: u8) {
        self.push(ppa, Overlay::Xor { offset, mask });
    }

    /// Overwrites bytes of the page from `offset` (data, then spare).
    pub fn set(&mut self, ppa: Ppa, offset: usize, bytes: Vec<u8>) {
        self.push(ppa, Overlay::Set { offset, bytes });
    }

    /// Makes the page read as seeded data and the given spare bytes.
    pub fn replace(&mut self, ppa: Ppa, data_seed: u64, oob: Vec<u8>) {
        self.push(ppa, Overlay::Replace { data_seed, oob });
    }

    /// Makes reads of the page fail as uncorrectable.
    pub fn unreadable(&mut self, ppa: Ppa) {
        self.push(ppa, Overlay::Unreadable);
    }

    /// Applies the overlays of `ppa` to a read's buffers.
    fn apply(&self, ppa: Ppa, data: &mut [&mut [u8]], oob: &mut [u8]) -> Result<(), ()> {
        let Some(list) = self.overlays.get(&(ppa.block.0, ppa.page)) else {
            return Ok(());
        };
        let geo = self.inner.geometry();
        let page_size = geo.page_size as usize;
        let total = page_size + geo.oob_size as usize;
        // Byte `i` of the page image (data ++ spare), if the read fetched it.
        fn byte<'a>(
            data: &'a mut [&mut [u8]],
            oob: &'a mut [u8],
            page_size: usize,
            i: usize,
        ) -> Option<&'a mut u8> {
            if i >= page_size {
                return oob.get_mut(i - page_size);
            }
            let mut off = i;
            for buf in data.iter_mut() {
                if off < buf.len() {
                    return Some(&mut buf[off]);
                }
                off -= buf.len();
            }
            None
        }
        for o in list {
            match o {
                Overlay::Unreadable => return Err(()),
                Overlay::Xor { offset, mask } => {
                    if let Some(b) = byte(data, oob, page_size, offset % total) {
                        *b ^= mask;
                    }
                }
                Overlay::Set { offset, bytes } => {
                    for (k, &v) in bytes.iter().enumerate() {
                        if let Some(b) = byte(data, oob, page_size, (offset + k) % total) {
                            *b = v;
                        }
                    }
                }
                Overlay::Replace {
                    data_seed,
                    oob: spare,
                } => {
                    let mut rng = Rng::new(*data_seed);
                    for buf in data.iter_mut() {
                        rng.fill(buf);
                    }
                    for (k, b) in oob.iter_mut().enumerate() {
                        *b = spare.get(k).copied().unwrap_or(0xFF);
                    }
                }
            }
        }
        Ok(())
    }
}

impl<N: Nand> Nand for Corrupted<N> {
    type Error = CorruptedError<N::Error>;

    fn geometry(&self) -> Geometry {
        self.inner.geometry()
    }

    fn read_page(
        &mut self,
        ppa: Ppa,
        data: &mut [&mut [u8]],
        oob: &mut [u8],
    ) -> Result<ReadStatus, Self::Error> {
        let status = self
            .inner
            .read_page(ppa, data, oob)
            .map_err(CorruptedError::Inner)?;
        self.apply(ppa, data, oob)
            .map_err(|()| CorruptedError::Unreadable)?;
        Ok(status)
    }

    fn program_page(&mut self, ppa: Ppa, data: &[&[u8]], oob: &[u8]) -> Result<(), Self::Error> {
        self.inner
            .program_page(ppa, data, oob)
            .map_err(CorruptedError::Inner)?;
        self.overlays.remove(&(ppa.block.0, ppa.page));
        Ok(())
    }

    fn erase_block(&mut self, block: BlockIdx) -> Result<(), Self::Error> {
        self.inner
            .erase_block(block)
            .map_err(CorruptedError::Inner)?;
        let pages = self.inner.geometry().pages_per_block;
        for p in 0..pages {
            self.overlays.remove(&(block.0, p));
        }
        Ok(())
    }

    fn is_bad_block(&mut self, block: BlockIdx) -> Result<bool, Self::Error> {
        self.inner
            .is_bad_block(block)
            .map_err(CorruptedError::Inner)
    }

    fn mark_bad_block(&mut self, block: BlockIdx) -> Result<(), Self::Error> {
        self.inner
            .mark_bad_block(block)
            .map_err(CorruptedError::Inner)
    }

    fn sync(&mut self) -> Result<(), Self::Error> {
        self.inner.sync().map_err(CorruptedError::Inner)
    }
}

/// Reads every LBA of `ftl` and judges each against `history`: `Ok` reads
/// must be zeros or a version written to that LBA. Returns what each LBA
/// read as (`None` for a read error).
pub fn read_all<N: Nand>(
    ftl: &mut Ftl<N, SlotPool<Vec<u8>>>,
    history: &History,
) -> Result<Vec<Option<Seen>>, String> {
    let ss = ftl.sector_size();
    let mut buf = vec![0u8; ss];
    let mut out = Vec::with_capacity(ftl.logical_sectors() as usize);
    for lba in 0..ftl.logical_sectors() {
        match ftl.read(ftl_core::Lba(lba), &mut buf) {
            Ok(()) => {
                let seen = classify(lba, &buf)?;
                if !history.plausible(lba, seen) {
                    return Err(format!("lba {lba}: {seen:?} was never written there"));
                }
                out.push(Some(seen));
            }
            Err(_) => out.push(None),
        }
    }
    Ok(out)
}
