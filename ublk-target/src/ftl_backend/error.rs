//! What can go wrong opening the FTL backend ([`OpenError`], and
//! [`ReplayError`] inside it), and how an FTL error on the I/O path becomes
//! the [`IoError`] a request fails with.

use std::io;
use std::path::PathBuf;

use ftl_core::Error;

use super::FtlError;
use crate::backend::IoError;
use crate::journal::JournalError;

/// Why the FTL backend could not be opened. The CLI prints these after
/// `image PATH: `, so each names the way out.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// An image that was never formatted.
    #[error("the image holds no zcftl FTL (never formatted?): run `ftl-ublk format --image PATH` (erases it)")]
    NotFormatted,
    /// An FTL whose metadata contradicts itself.
    #[error("the FTL on the image is inconsistent and cannot be mounted: use another --image, or `ftl-ublk format` it (erases it)")]
    Inconsistent,
    /// Any other failure to format or mount.
    #[error("cannot mount the FTL: {0}")]
    Mount(FtlError),
    /// The private slot pool could not be mapped.
    #[error("cannot map the slot pool: {0}")]
    Pool(io::Error),
    /// The image's identity (which names its journal) is unknown.
    #[error("cannot stat the image: {0}")]
    StatImage(io::Error),
    /// A crashed daemon's journal that cannot be used.
    #[error("{0}; it holds writes acknowledged before a daemon crash: move it away to mount without them")]
    OldJournal(JournalError),
    /// The new journal could not be made.
    #[error("cannot create the crash journal {}: {source}", path.display())]
    CreateJournal {
        /// Where it was to be made.
        path: PathBuf,
        /// Why it was not.
        source: io::Error,
    },
    /// A journal too small for what this geometry can leave unflushed.
    #[error("the crash journal is too small for this geometry")]
    JournalTooSmall,
    /// Replaying a crashed daemon's journal failed.
    #[error("replaying the crash journal {}: {error}", path.display())]
    Replay {
        /// The journal.
        path: PathBuf,
        /// What went wrong.
        error: ReplayError,
    },
    /// The new journal could not replace the old one.
    #[error("cannot install the crash journal {}: {source}", path.display())]
    InstallJournal {
        /// Where it was to go.
        path: PathBuf,
        /// Why it did not.
        source: io::Error,
    },
    /// The image could not be mapped once per shard.
    #[error("cannot map the image's partitions: {0}")]
    Partitions(io::Error),
    /// One shard of several failed to open.
    #[error("shard {index} of {count}: {error}")]
    Shard {
        /// The shard (its partition of the image), from 0.
        index: u16,
        /// The image's shards.
        count: u16,
        /// What went wrong there.
        error: Box<OpenError>,
    },
}

/// Why a crashed daemon's journal could not be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// Its list could not be read.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The image is older than the journal: not the image it was made on.
    #[error("the image (sequence {image}) is older than the journal (sequence {journal}): was the image replaced by an older copy?")]
    ImageOlder {
        /// The mounted image's sequence.
        image: u64,
        /// The sequence the journal was published at.
        journal: u64,
    },
    /// The FTL refused a record.
    #[error("a journal record does not apply: {0}")]
    Record(FtlError),
    /// No slot could be lent for a record's data.
    #[error("a journal record does not apply: {0}")]
    Slot(IoError),
    /// The replayed state could not be flushed to the image.
    #[error("flushing the replay: {0}")]
    Flush(FtlError),
}

/// An FTL error on the I/O path, as the request's error.
pub(super) fn map_err(e: FtlError) -> IoError {
    match e {
        Error::OutOfRange => IoError::OutOfRange,
        Error::NoSpace => IoError::NoSpace,
        Error::CacheExhausted => IoError::CacheBusy,
        Error::Uncorrectable { lba } => IoError::Media(format!("uncorrectable data at {lba}")),
        other => IoError::Backend(other.to_string()),
    }
}
