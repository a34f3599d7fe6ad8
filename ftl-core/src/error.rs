//! The FTL's error, generic over the NAND driver's error.

use core::fmt;

use crate::addr::Lba;
use crate::config::ConfigError;
use crate::nand::{NandError, NandErrorKind};

/// What an FTL operation can fail with.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error<E> {
    /// A device error the FTL could not work around (or power loss).
    Nand(E),
    /// The configuration or geometry is unusable.
    Config(ConfigError),
    /// An LBA range beyond the device, or a command over `max_io_sectors`.
    OutOfRange,
    /// A handle out of range, or already holding an open grant.
    BadHandle,
    /// Every slot is held by commands in flight: retry after some finish.
    CacheExhausted,
    /// No reclaimable space left (too many blocks retired).
    NoSpace,
    /// The sector's flash copy is lost to an uncorrectable read.
    Uncorrectable {
        /// The first affected LBA.
        lba: Lba,
    },
    /// The media holds zcftl data that contradicts itself.
    Corrupted,
    /// The media holds data that is not zcftl's.
    Foreign,
}

impl<E> Error<E> {
    /// Whether the failure is power loss (the device must be re-opened).
    pub fn is_power_loss(&self) -> bool
    where
        E: NandError,
    {
        matches!(self, Error::Nand(e) if e.kind() == NandErrorKind::PowerLoss)
    }
}

impl<E: fmt::Debug> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Nand(e) => write!(f, "NAND error: {e:?}"),
            Error::Config(c) => write!(f, "{c}"),
            Error::OutOfRange => write!(f, "LBA range out of bounds"),
            Error::BadHandle => write!(f, "command handle out of range or busy"),
            Error::CacheExhausted => write!(f, "all cache slots are in use by commands in flight"),
            Error::NoSpace => write!(f, "no reclaimable space left on the device"),
            Error::Uncorrectable { lba } => write!(f, "uncorrectable data at {lba}"),
            Error::Corrupted => write!(f, "the flash holds inconsistent zcftl data"),
            Error::Foreign => write!(f, "the flash holds data that is not zcftl's"),
        }
    }
}

#[cfg(feature = "std")]
impl<E: fmt::Debug> std::error::Error for Error<E> {}

impl<E> From<ConfigError> for Error<E> {
    fn from(c: ConfigError) -> Self {
        Error::Config(c)
    }
}
