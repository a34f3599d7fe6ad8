//! The image: its bytes in RAM or in a locked, mapped file, and the checks
//! that refuse a foreign, damaged, truncated or busy file *before*
//! anything is written to it.
//!
//! The byte layout, one layout for RAM and file backing, is drawn and
//! encoded in `src/format/` (`layout.rs`, `header.rs`, `tables.rs`); this
//! module only moves those bytes between a file (or a `Vec`) and the
//! medium, and knows none of their offsets. Its constants are re-exported
//! here.

use std::fs::{File, OpenOptions};
use std::io;
use std::num::NonZeroUsize;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ftl_core::GeometryError;
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::format::header::{Header, HeaderError};
use crate::format::layout::Layout;
use crate::format::tables::{self, TableError};
use crate::mmap::Mapping;
use crate::options::OptionsError;

pub use crate::format::header::{HEADER_LEN, MAGIC, VERSION};
pub use crate::format::layout::HEADER_BLOCK;
pub use crate::format::tables::BLOCK_ENTRY_LEN;

/// Why an image could not be created or opened. A refused file is never
/// modified.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// The file could not be opened, read, sized or mapped.
    #[error("{}: {source}", path.display())]
    Io {
        /// The image file.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// The path names a directory, device, FIFO or socket.
    #[error("{}: not a regular file", .0.display())]
    NotAFile(PathBuf),
    /// The file does not start with the image magic.
    #[error("not a zcftl NAND image (bad magic)")]
    BadMagic,
    /// The header's checksum does not match its bytes.
    #[error("image header is damaged (crc mismatch)")]
    HeaderCrc,
    /// A header from another version of the format.
    #[error("image version {0} not supported")]
    Version(u32),
    /// Another opener holds the image's lock.
    #[error("image is in use by another process")]
    InUse,
    /// The file is shorter than its geometry requires.
    #[error("image is truncated: expected {expected} bytes, found {found}")]
    Truncated {
        /// Bytes the geometry requires.
        expected: u64,
        /// Bytes in the file.
        found: u64,
    },
    /// The file is longer than its geometry requires.
    #[error("image has the wrong size: expected {expected} bytes, found {found}")]
    Oversized {
        /// Bytes the geometry requires.
        expected: u64,
        /// Bytes in the file.
        found: u64,
    },
    /// The header's checksum is right but a table entry is impossible.
    #[error("image {table} is damaged at entry {index}")]
    Damaged {
        /// "block table" or "page-state table".
        table: &'static str,
        /// The block or flat page index.
        index: u64,
    },
    /// The geometry (given, or read from the header) is not usable.
    #[error("invalid geometry: {0}")]
    Geometry(#[from] GeometryError),
    /// The options are inconsistent.
    #[error("invalid simulator options: {0}")]
    Options(#[from] OptionsError),
    /// The blocks do not split into this many usable equal parts.
    #[error(
        "{blocks_per_plane} blocks a plane do not split into {partitions} usable equal partitions"
    )]
    Partitions {
        /// The partitions asked for (or read).
        partitions: u16,
        /// Blocks per plane of the whole array.
        blocks_per_plane: u32,
    },
    /// The image would not fit in this machine's address space.
    #[error("image of {0} bytes is too large to map")]
    TooLarge(u64),
}

/// The size of the image as a `usize`, if it is mappable and not empty.
fn total_usize(layout: &Layout) -> Result<NonZeroUsize, ImageError> {
    usize::try_from(layout.total)
        .ok()
        .and_then(NonZeroUsize::new)
        .ok_or(ImageError::TooLarge(layout.total))
}

impl From<HeaderError> for ImageError {
    fn from(e: HeaderError) -> ImageError {
        match e {
            HeaderError::BadMagic => ImageError::BadMagic,
            // Too short for a header is a truncated file; the header's
            // share of a file is a whole HEADER_BLOCK.
            HeaderError::Short { found } => ImageError::Truncated {
                expected: HEADER_BLOCK,
                found: found as u64,
            },
            HeaderError::Version(v) => ImageError::Version(v),
            // A reserved field set behind a good crc is damage all the same.
            HeaderError::Crc | HeaderError::NotCanonical => ImageError::HeaderCrc,
            HeaderError::Geometry(g) => ImageError::Geometry(g),
            HeaderError::Partitions {
                partitions,
                blocks_per_plane,
            } => ImageError::Partitions {
                partitions,
                blocks_per_plane,
            },
        }
    }
}

impl From<TableError> for ImageError {
    fn from(e: TableError) -> ImageError {
        ImageError::Damaged {
            table: e.table,
            index: e.index,
        }
    }
}

/// Decodes and checks the header at the start of a file; `bytes` may be
/// short (a file too short for a header).
fn decode_header(bytes: &[u8]) -> Result<Header, ImageError> {
    Ok(Header::decode(bytes)?)
}

/// Where the bytes of an image live.
#[derive(Debug)]
pub(crate) enum Backing {
    /// A `Vec` laid out exactly like a file image.
    Ram(Vec<u8>),
    /// A locked, mapped image file.
    File(FileImage),
}

impl Backing {
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Backing::Ram(v) => v,
            Backing::File(f) => f.map.bytes(),
        }
    }

    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        match self {
            Backing::Ram(v) => v,
            Backing::File(f) => f.map.bytes_mut(),
        }
    }

    /// Gives the storage under `range` back: a file image punches a hole
    /// there (it then reads as zeros and takes no disk), so a sparse image
    /// stays sparse however often its blocks are erased. `true` if the
    /// range now reads as zeros; RAM keeps its bytes (`false`).
    pub(crate) fn discard(&mut self, range: std::ops::Range<u64>) -> bool {
        match self {
            Backing::Ram(_) => false,
            Backing::File(f) => f.punch(range),
        }
    }

    /// The same file image, mapped again (see [`FileImage::share`]); `None`
    /// for RAM, which cannot be shared.
    pub(crate) fn share(&self) -> Option<io::Result<Backing>> {
        match self {
            Backing::Ram(_) => None,
            Backing::File(f) => Some(f.share().map(Backing::File)),
        }
    }

    /// A second descriptor of the image file, if it is one (for an
    /// [`ImageReader`](crate::ImageReader)).
    pub(crate) fn reopen(&self) -> Option<io::Result<File>> {
        match self {
            Backing::Ram(_) => None,
            Backing::File(f) => Some(f.file.try_clone()),
        }
    }

    /// Makes every write so far durable: `msync(MS_SYNC)` then `fsync`.
    pub(crate) fn sync(&mut self) -> io::Result<()> {
        match self {
            Backing::Ram(_) => Ok(()),
            Backing::File(f) => {
                f.map.sync()?;
                f.file.sync_all()
            }
        }
    }

    /// A zeroed RAM image with `header` written.
    pub(crate) fn new_ram(layout: &Layout, header: &Header) -> Result<Backing, ImageError> {
        let len = total_usize(layout)?.get();
        let mut v = vec![0u8; len];
        v[..HEADER_LEN].copy_from_slice(&header.encode());
        Ok(Backing::Ram(v))
    }
}

/// An open image file: the lock, the read-write handle and the mapping.
#[derive(Debug)]
pub(crate) struct FileImage {
    // Field order is drop order: unmap, close the writer, then unlock
    // (once the last partition sharing the lock lets go).
    map: Mapping,
    file: File,
    _lock: Arc<Flock<File>>,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ImageError + '_ {
    move |source| ImageError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Refuses anything but a regular file (or, for `create`, nothing yet)
/// before opening it: opening a FIFO would block, and a device is no image.
fn check_regular(path: &Path, may_be_absent: bool) -> Result<(), ImageError> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(_) => Err(ImageError::NotAFile(path.to_path_buf())),
        Err(e) if may_be_absent && e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(path)(e)),
    }
}

fn lock(path: &Path, file: File) -> Result<Flock<File>, ImageError> {
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(l) => Ok(l),
        Err((_, Errno::EWOULDBLOCK)) => Err(ImageError::InUse),
        Err((_, e)) => Err(io_err(path)(e.into())),
    }
}

impl FileImage {
    /// The same file, mapped again, under the same lock: a partition's own
    /// view of the image (`part.rs`). Writes through either mapping land in
    /// the one page cache; the partitions write disjoint bytes.
    pub(crate) fn share(&self) -> io::Result<FileImage> {
        let file = self.file.try_clone()?;
        let len = NonZeroUsize::new(self.map.len())
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        let map = Mapping::new(&file, len)?;
        map.advise_random();
        Ok(FileImage {
            map,
            file,
            _lock: self._lock.clone(),
        })
    }

    /// Punches a hole over `range`; `false` if the file system cannot.
    fn punch(&self, range: std::ops::Range<u64>) -> bool {
        use nix::fcntl::{fallocate, FallocateFlags};
        let (Ok(at), Ok(len)) = (
            i64::try_from(range.start),
            i64::try_from(range.end - range.start),
        ) else {
            return false;
        };
        fallocate(
            &self.file,
            FallocateFlags::FALLOC_FL_PUNCH_HOLE | FallocateFlags::FALLOC_FL_KEEP_SIZE,
            at,
            len,
        )
        .is_ok()
    }

    /// Creates (or truncates) `path` as an all-erased image with `header`.
    pub(crate) fn create(
        path: &Path,
        layout: &Layout,
        header: &Header,
    ) -> Result<FileImage, ImageError> {
        let len = total_usize(layout)?;
        check_regular(path, true)?;
        // No O_TRUNC: a busy image must be refused before it is touched.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io_err(path))?;
        let lock = lock(path, file)?;
        let file = lock.try_clone().map_err(io_err(path))?;
        file.set_len(0).map_err(io_err(path))?;
        file.set_len(layout.total).map_err(io_err(path))?;
        file.write_all_at(&header.encode(), 0)
            .map_err(io_err(path))?;
        let map = Mapping::new(&file, len).map_err(io_err(path))?;
        // NAND pages are read one at a time, anywhere: no readahead.
        map.advise_random();
        Ok(FileImage {
            map,
            file,
            _lock: Arc::new(lock),
        })
    }

    /// Opens an existing image. Everything is checked through a read-only
    /// handle first; only a valid image is reopened for writing and mapped.
    pub(crate) fn open(path: &Path) -> Result<(FileImage, Header, Layout), ImageError> {
        check_regular(path, false)?;
        let ro = File::open(path).map_err(io_err(path))?;
        let lock = lock(path, ro)?;
        let found = lock.metadata().map_err(io_err(path))?.len();
        let mut head = [0u8; HEADER_LEN];
        let n = read_prefix(&lock, &mut head).map_err(io_err(path))?;
        let header = decode_header(&head[..n])?;
        // The version read decides where the pages are: an image keeps the
        // layout it was created with.
        let layout =
            Layout::new(&header.geometry, header.version).ok_or(ImageError::TooLarge(u64::MAX))?;
        if found < layout.total {
            return Err(ImageError::Truncated {
                expected: layout.total,
                found,
            });
        }
        if found > layout.total {
            return Err(ImageError::Oversized {
                expected: layout.total,
                found,
            });
        }
        let len = total_usize(&layout)?;
        let tables_at = layout.tables();
        let table_len = usize::try_from(tables_at.end - tables_at.start)
            .map_err(|_| ImageError::TooLarge(layout.total))?;
        let mut tables = vec![0u8; table_len];
        lock.read_exact_at(&mut tables, tables_at.start)
            .map_err(io_err(path))?;
        let (block_table, page_states) = layout
            .split_tables(&tables)
            .ok_or(ImageError::TooLarge(layout.total))?;
        tables::check(
            block_table,
            page_states,
            layout.blocks,
            layout.pages_per_block,
        )?;

        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(io_err(path))?;
        let map = Mapping::new(&file, len).map_err(io_err(path))?;
        // NAND pages are read one at a time, anywhere: no readahead.
        map.advise_random();
        Ok((
            FileImage {
                map,
                file,
                _lock: Arc::new(lock),
            },
            header,
            layout,
        ))
    }
}

/// Reads as much of `buf` as the file holds from offset 0.
fn read_prefix(file: &File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ftl_core::Geometry;

    #[test]
    fn header_round_trips_and_every_byte_is_protected() {
        let h = Header::new(Geometry::small(16, 8), 0xDEAD_BEEF_0123_4567);
        let b = h.encode();
        assert_eq!(decode_header(&b).unwrap(), h);
        for i in 0..HEADER_LEN {
            let mut d = b;
            d[i] ^= 0x10;
            let e = decode_header(&d).unwrap_err();
            let want_magic = i < 8;
            let want_version = (8..12).contains(&i);
            match e {
                ImageError::BadMagic => assert!(want_magic, "byte {i}"),
                ImageError::Version(_) => assert!(want_version, "byte {i}"),
                ImageError::HeaderCrc => assert!(!want_magic && !want_version, "byte {i}"),
                other => panic!("byte {i}: unexpected {other}"),
            }
        }
    }

    #[test]
    fn short_or_foreign_headers_are_refused() {
        assert!(matches!(decode_header(b"ZCF"), Err(ImageError::BadMagic)));
        assert!(matches!(
            decode_header(b"#!/bin/sh\n"),
            Err(ImageError::BadMagic)
        ));
        assert!(matches!(
            decode_header(b"ZCFTLNND\x01\0\0\0"),
            Err(ImageError::Truncated { found: 12, .. })
        ));
    }
}
