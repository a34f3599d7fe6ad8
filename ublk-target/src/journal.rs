//! The crash journal: what a daemon crash would otherwise lose, in a
//! shared file under `/dev/shm` that outlives the process (not a reboot —
//! a power cut may lose unflushed data, a daemon crash may not).
//!
//! With `UBLK_F_USER_RECOVERY` the kernel keeps `/dev/ublkbN` while the
//! daemon restarts, and the file system on it never notices: writes the
//! daemon acknowledged must still read back. Everything already programmed
//! is in the NAND image (a shared mapping, so the page cache keeps it when
//! the process dies); what is not is listed by
//! `Ftl::unflushed_writes`/`unflushed_trims` — at most a page of host data
//! and one trim record. So the daemon's slot pool lives in this file, and
//! after every FTL operation (before any request it served is completed)
//! the daemon publishes the list: trims, then `(lba, slot, epoch)` writes.
//! While an operation runs, the list also carries its *intent* (the blocks
//! being committed, the range being trimmed): a commit may supersede and
//! reuse a listed slot before the operation ends, and the intent is the
//! newer value.
//!
//! A successor mounts the image, replays the list in order, skipping a
//! write whose slot's epoch changed (the slot was reused, which the FTL
//! only does once its data is on flash or superseded by a later record),
//! flushes, and only then replaces the journal. Replaying is idempotent, so
//! a crash during recovery just replays again.
//!
//! Layout (little-endian), one file per image, named by the image's device
//! and inode numbers:
//!
//! ```text
//! 0     header: "ZCJL", version, image dev, ino, slots, slot size,
//!       record capacity, image path; crc32 at 2044
//! 2048  active generation (u64, outside the crc; the commit point)
//! 4096  copy A, then copy B: generation, image sequence, count, crc32,
//!       then count records of 16 bytes (lba | TRIM bit, slot or sectors,
//!       epoch)
//! ...   the slot pool: epochs, then slots (`sys/slots.rs`)
//! ```
//!
//! Publishing writes the inactive copy, then stores the new generation:
//! a crash at any instant leaves the previous list or the new one whole.
//!
//! The header page and the two copies are mapped apart: after opening, the
//! header page is reached only as atomic words (the active generation),
//! the copies only as bytes, and neither view can overlap the other.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use ftl_core::format::le;
use simulator::mmap::{Atomics, Mapping, Populate};

use crate::slots::{pool_len, SlotPool};
use crate::spec::BLOCK_SIZE;

/// Where journals live: RAM that outlives processes, not reboots.
pub const JOURNAL_DIR: &str = "/dev/shm/zcftl";

const MAGIC: &[u8; 4] = b"ZCJL";
const VERSION: u32 = 1;
const PAGE: usize = 4096;
const HEADER_LEN: usize = PAGE;
const HEADER_CRC_AT: usize = 2044;
const ACTIVE_AT: usize = 2048;
const PATH_AT: usize = 40;
const PATH_MAX: usize = HEADER_CRC_AT - PATH_AT;
const COPY_HEADER: usize = 32;
const RECORD_LEN: usize = 16;
const TRIM_BIT: u64 = 1 << 63;

/// The image a journal belongs to: its file's identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageId {
    dev: u64,
    ino: u64,
}

impl ImageId {
    /// The identity of the file at `path`.
    pub fn of(path: &Path) -> io::Result<ImageId> {
        let m = std::fs::metadata(path)?;
        Ok(ImageId {
            dev: m.dev(),
            ino: m.ino(),
        })
    }

    /// The journal of this image's partition `part` (its FTL shard) in
    /// `dir`. Partition 0's is named as an unpartitioned image's.
    pub fn journal_path(&self, dir: &Path, part: u16) -> PathBuf {
        match part {
            0 => dir.join(format!("{:x}-{:x}.journal", self.dev, self.ino)),
            k => dir.join(format!("{:x}-{:x}.{k}.journal", self.dev, self.ino)),
        }
    }

    /// Removes every journal of this image in `dir` (the image was
    /// reformatted or deleted: what they held is void).
    pub fn remove_journals(&self, dir: &Path) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let prefix = format!("{:x}-{:x}.", self.dev, self.ino);
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(&prefix) && name.ends_with(".journal") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// One step of a replay, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record {
    /// `sectors` blocks from `lba` were trimmed.
    Trim {
        /// First block.
        lba: u64,
        /// Blocks.
        sectors: u32,
    },
    /// `lba`'s data is in `slot`, if the slot's epoch is still `epoch`.
    Write {
        /// The block.
        lba: u64,
        /// The pool slot holding its data.
        slot: u32,
        /// The slot's epoch when the record was made.
        epoch: u32,
    },
}

impl Record {
    fn encode(&self, out: &mut [u8]) {
        let (a, b, c) = match *self {
            Record::Trim { lba, sectors } => (lba | TRIM_BIT, sectors, 0),
            Record::Write { lba, slot, epoch } => (lba, slot, epoch),
        };
        le::put_u64(out, 0, a);
        le::put_u32(out, 8, b);
        le::put_u32(out, 12, c);
    }

    fn decode(b: &[u8]) -> Record {
        let a = le64(b, 0);
        let (x, y) = (le32(b, 8), le32(b, 12));
        if a & TRIM_BIT != 0 {
            Record::Trim {
                lba: a & !TRIM_BIT,
                sectors: x,
            }
        } else {
            Record::Write {
                lba: a,
                slot: x,
                epoch: y,
            }
        }
    }
}

/// The `u64` at `at` of a fixed-size region (in bounds by construction;
/// zero otherwise, which no check accepts).
fn le64(b: &[u8], at: usize) -> u64 {
    le::u64_at(b, at).unwrap_or(0)
}

/// The `u32` at `at` of a fixed-size region (see [`le64`]).
fn le32(b: &[u8], at: usize) -> u32 {
    le::u32_at(b, at).unwrap_or(0)
}

/// Where things sit in a journal of `slots` slots and `records` records.
#[derive(Clone, Copy, Debug)]
struct Layout {
    slots: u32,
    records: u32,
    copy_len: usize,
}

impl Layout {
    fn new(slots: u32, records: u32) -> Layout {
        let copy_len = (COPY_HEADER + records as usize * RECORD_LEN).div_ceil(PAGE) * PAGE;
        Layout {
            slots,
            records,
            copy_len,
        }
    }

    fn meta_len(&self) -> usize {
        HEADER_LEN + 2 * self.copy_len
    }

    fn copies_len(&self) -> usize {
        2 * self.copy_len
    }

    fn file_len(&self) -> u64 {
        (self.meta_len() + pool_len(self.slots)) as u64
    }

    /// Where copy `generation % 2` starts in the copies' mapping (which
    /// starts at `HEADER_LEN` in the file).
    fn copy_at(&self, generation: u64) -> usize {
        (generation % 2) as usize * self.copy_len
    }
}

/// Why a journal could not be opened, read or published to. Messages name
/// the file; the daemon prints them after what it was doing.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The file could not be opened.
    #[error("cannot open the crash journal {}: {source}", path.display())]
    Open {
        /// The journal.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Shorter than its header.
    #[error("the crash journal {} is truncated", .0.display())]
    Truncated(PathBuf),
    /// Not a journal at all.
    #[error("{} is not a zcftl crash journal", .0.display())]
    Foreign(PathBuf),
    /// Written by another format version.
    #[error("the crash journal {} has version {found}, this ftl-ublk reads {VERSION}", path.display())]
    Version {
        /// The journal.
        path: PathBuf,
        /// The version in its header.
        found: u32,
    },
    /// The header fails its checksum.
    #[error("the crash journal {} has a damaged header", .0.display())]
    DamagedHeader(PathBuf),
    /// The journal of a different image file.
    #[error("the crash journal {} belongs to another image", .0.display())]
    OtherImage(PathBuf),
    /// A header whose sizes cannot be right.
    #[error("the crash journal {} has an impossible layout", .0.display())]
    Layout(PathBuf),
    /// A file whose length disagrees with its header.
    #[error("the crash journal {} is {len} bytes, its header says {want}", path.display())]
    Length {
        /// The journal.
        path: PathBuf,
        /// Its length.
        len: u64,
        /// The length its header implies.
        want: u64,
    },
    /// The file could not be mapped.
    #[error("cannot map the crash journal {}: {source}", path.display())]
    Map {
        /// The journal.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The active list's header is not that of the active generation.
    #[error("the crash journal's active list is damaged")]
    DamagedList,
    /// The active list fails its checksum.
    #[error("the crash journal's active list fails its checksum")]
    ListChecksum,
    /// More records than the journal was made for.
    #[error("{records} records do not fit the crash journal ({capacity})")]
    Full {
        /// Records offered.
        records: usize,
        /// Records the journal holds.
        capacity: usize,
    },
}

/// A replayable list: the image sequence it was taken at, and its records.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// `Ftl::sequence()` when published: a mounted image must not be older.
    pub seq: u64,
    /// What to replay, in order.
    pub records: Vec<Record>,
}

/// An open journal: its header page and two list copies, mapped shared.
pub struct Journal {
    /// The header page, as atomic words: only the active generation is
    /// used once the header was checked.
    header: Atomics<AtomicU64>,
    /// The two list copies.
    copies: Mapping,
    layout: Layout,
    generation: u64,
    last: Vec<Record>,
}

impl Journal {
    /// Creates (replacing any file there) a journal at `path` for `image`,
    /// with an empty list, room for `records` records and a pool of `slots`
    /// slots, which it returns too.
    pub fn create(
        path: &Path,
        image: ImageId,
        image_path: &Path,
        slots: u32,
        records: u32,
    ) -> io::Result<(Journal, SlotPool)> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let layout = Layout::new(slots, records);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        file.set_len(layout.file_len())?;
        let mut header = [0u8; HEADER_LEN];
        header[0..4].copy_from_slice(MAGIC);
        le::put_u32(&mut header, 4, VERSION);
        le::put_u64(&mut header, 8, image.dev);
        le::put_u64(&mut header, 16, image.ino);
        le::put_u32(&mut header, 24, slots);
        le::put_u32(&mut header, 28, BLOCK_SIZE);
        le::put_u32(&mut header, 32, records);
        let p = image_path.as_os_str().as_encoded_bytes();
        let p = &p[..p.len().min(PATH_MAX)];
        le::put_u32(&mut header, 36, p.len() as u32);
        header[PATH_AT..PATH_AT + p.len()].copy_from_slice(p);
        let crc = crc32fast::hash(&header[..HEADER_CRC_AT]);
        le::put_u32(&mut header, HEADER_CRC_AT, crc);
        file.write_all_at(&header, 0)?;
        Self::map(&file, layout)
    }

    fn map(file: &File, layout: Layout) -> io::Result<(Journal, SlotPool)> {
        let header = Mapping::shared(file, 0, HEADER_LEN, Populate(true))?.into_atomics();
        let copies = Mapping::shared(file, HEADER_LEN as u64, layout.copies_len(), Populate(true))?;
        let pool = SlotPool::in_file(file, layout.meta_len() as u64, layout.slots)?;
        let mut j = Journal {
            header,
            copies,
            layout,
            generation: 0,
            // Sized once: publishing allocates nothing.
            last: Vec::with_capacity(layout.records as usize),
        };
        j.generation = j.active().load(Ordering::Acquire);
        Ok((j, pool))
    }

    /// Opens the journal at `path`, which must belong to `image`. Nothing in
    /// the file can make this panic: a foreign, truncated or damaged file is
    /// an error saying what it is.
    pub fn open(path: &Path, image: ImageId) -> Result<(Journal, SlotPool), JournalError> {
        let p = || path.to_path_buf();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|source| JournalError::Open { path: p(), source })?;
        let mut h = [0u8; HEADER_LEN];
        file.read_exact_at(&mut h, 0)
            .map_err(|_| JournalError::Truncated(p()))?;
        if &h[0..4] != MAGIC {
            return Err(JournalError::Foreign(p()));
        }
        if le32(&h, 4) != VERSION {
            return Err(JournalError::Version {
                path: p(),
                found: le32(&h, 4),
            });
        }
        if crc32fast::hash(&h[..HEADER_CRC_AT]) != le32(&h, HEADER_CRC_AT) {
            return Err(JournalError::DamagedHeader(p()));
        }
        let found = ImageId {
            dev: le64(&h, 8),
            ino: le64(&h, 16),
        };
        if found != image {
            return Err(JournalError::OtherImage(p()));
        }
        let (slots, slot_size, records) = (le32(&h, 24), le32(&h, 28), le32(&h, 32));
        if slot_size != BLOCK_SIZE || slots == 0 || records > 1 << 20 {
            return Err(JournalError::Layout(p()));
        }
        let layout = Layout::new(slots, records);
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len != layout.file_len() {
            return Err(JournalError::Length {
                path: p(),
                len,
                want: layout.file_len(),
            });
        }
        Self::map(&file, layout).map_err(|source| JournalError::Map { path: p(), source })
    }

    fn active(&self) -> &AtomicU64 {
        // ACTIVE_AT is 8-aligned and inside the header page.
        &self.header.words()[ACTIVE_AT / 8]
    }

    /// The two copies' bytes (offsets as [`Layout::copy_at`]).
    fn bytes(&self) -> &[u8] {
        self.copies.bytes()
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        self.copies.bytes_mut()
    }

    /// Records the journal can hold.
    pub fn capacity(&self) -> usize {
        self.layout.records as usize
    }

    /// The published list. Errors if the active copy fails its checks.
    pub fn read(&self) -> Result<Snapshot, JournalError> {
        let g = self.generation;
        if g == 0 {
            return Ok(Snapshot::default());
        }
        let at = self.layout.copy_at(g);
        let b = self.bytes();
        let c = &b[at..at + self.layout.copy_len];
        let n = le32(c, 16) as usize;
        if le64(c, 0) != g || n > self.capacity() {
            return Err(JournalError::DamagedList);
        }
        let body = &c[COPY_HEADER..COPY_HEADER + n * RECORD_LEN];
        let mut h = crc32fast::Hasher::new();
        h.update(&c[0..20]);
        h.update(body);
        if h.finalize() != le32(c, 20) {
            return Err(JournalError::ListChecksum);
        }
        Ok(Snapshot {
            seq: le64(c, 8),
            records: body.chunks_exact(RECORD_LEN).map(Record::decode).collect(),
        })
    }

    /// Publishes `records` taken at image sequence `seq`, unless they are
    /// what was published last. Errors (publishing nothing) if they do not
    /// fit.
    pub fn publish(&mut self, seq: u64, records: &[Record]) -> Result<(), JournalError> {
        if records == self.last.as_slice() && self.generation != 0 {
            return Ok(());
        }
        if records.len() > self.capacity() {
            return Err(JournalError::Full {
                records: records.len(),
                capacity: self.capacity(),
            });
        }
        let g = self.generation + 1;
        let at = self.layout.copy_at(g);
        let copy_len = self.layout.copy_len;
        let c = &mut self.bytes_mut()[at..at + copy_len];
        le::put_u64(c, 0, g);
        le::put_u64(c, 8, seq);
        le::put_u32(c, 16, records.len() as u32);
        for (r, out) in records
            .iter()
            .zip(c[COPY_HEADER..].chunks_exact_mut(RECORD_LEN))
        {
            r.encode(out);
        }
        let mut h = crc32fast::Hasher::new();
        h.update(&c[0..20]);
        h.update(&c[COPY_HEADER..COPY_HEADER + records.len() * RECORD_LEN]);
        le::put_u32(c, 20, h.finalize());
        // The commit point: the copy is whole before it becomes active.
        self.active().store(g, Ordering::Release);
        self.generation = g;
        self.last.clear();
        self.last.extend_from_slice(records);
        Ok(())
    }
}

#[cfg(test)]
#[path = "journal_tests.rs"]
mod tests;
