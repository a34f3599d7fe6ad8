//! The image header: magic, version, geometry and creation seed, sealed by
//! a crc32. It is everything needed to interpret the rest of the file (see
//! [`super::layout`]).
//!
//! ```text
//!  offset  field                              (all integers little-endian)
//!   0      magic "ZCFTLNND"                   8 bytes
//!   8      version = 4 (1 to 3 still read)    u32
//!  12      header length = 64                 u32
//!  16      channels, dies/channel,
//!          planes/die                         3 × u16
//!  22      reserved (0); version 1 kept the
//!          FTL's over-provisioning % here     u8
//!  23      reserved (0)                       u8
//!  24      blocks/plane, pages/block,
//!          page size, sector size, oob size   5 × u32
//!  44      partitions (version 4; else 0)     u16
//!  46      reserved (0)                       u16
//!  48      creation seed                      u64
//!  56      reserved (0)                       u32
//!  60      crc32 of bytes 0..60               u32
//!  64      (zero up to HEADER_BLOCK)
//! ```
//!
//! Version 2 dropped the FTL's over-provisioning from the NAND's header: it
//! is the FTL's choice, and the FTL records its capacity on the media
//! itself. Version 1 images still open; their byte 22 is kept as read and
//! means nothing to the simulator.
//!
//! Version 3 changed no byte of the header, only the rest of the file: the
//! pages' spare areas moved out from between their data into a region of
//! their own (see [`super::layout`]), so a page of zeros costs the disk of
//! its spare only. Versions 1 and 2 images still open, and keep
//! their interleaved records.
//!
//! Version 4 added one field, and no byte of the rest: how many equal
//! parts the blocks are split into, each its own FTL (`ftl-ublk`'s shards,
//! see [`crate::part`]). Earlier versions read as one part.
//!
//! Decoding checks, in this order: the magic (is this our file at all),
//! the length, the version (a later version may lay the rest out
//! differently), the crc, the geometry, and last that the header re-encodes
//! to the very bytes read, so no reserved field carries a value this
//! version would silently drop.

use ftl_core::format::le;
use ftl_core::{Geometry, GeometryError};

/// The image's magic bytes.
pub const MAGIC: [u8; 8] = *b"ZCFTLNND";
/// The image version this build writes (it also reads versions 1 to 3).
pub const VERSION: u32 = 4;
/// The version that kept the FTL's over-provisioning in byte 22.
const VERSION_1: u32 = 1;
/// The last version with each page's spare right after its data.
const VERSION_2: u32 = 2;
/// The last version without a partition count.
const VERSION_3: u32 = 3;

/// The versions this build reads, and what sets each apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Version {
    /// Page records interleaved; byte 22 held the over-provisioning (%)
    /// the FTL was formatted with, kept as read.
    V1 {
        /// Byte 22 as read.
        op: u8,
    },
    /// Page records interleaved; byte 22 reserved.
    V2,
    /// Page data and spare areas in separate regions.
    V3,
    /// Version 3's layout with a partition count (written now).
    V4 {
        /// Equal parts the blocks are split into (at least 1).
        partitions: u16,
    },
}

impl Version {
    /// The number in the header.
    pub(crate) fn number(self) -> u32 {
        match self {
            Version::V1 { .. } => VERSION_1,
            Version::V2 => VERSION_2,
            Version::V3 => VERSION_3,
            Version::V4 { .. } => VERSION,
        }
    }

    /// Whether each page's spare area follows its data (versions 1 and
    /// 2), rather than living in a region of its own.
    pub(crate) fn interleaved(self) -> bool {
        matches!(self, Version::V1 { .. } | Version::V2)
    }

    /// Equal parts the blocks are split into: 1 before version 4.
    pub(crate) fn partitions(self) -> u16 {
        match self {
            Version::V4 { partitions } => partitions,
            _ => 1,
        }
    }
}

/// Bytes of the header that are used (and covered by its crc).
pub const HEADER_LEN: usize = 64;

const VERSION_AT: usize = 8;
const LEN_AT: usize = 12;
const CHANNELS_AT: usize = 16;
const DIES_AT: usize = 18;
const PLANES_AT: usize = 20;
const OP_AT: usize = 22;
const BLOCKS_PER_PLANE_AT: usize = 24;
const PAGES_PER_BLOCK_AT: usize = 28;
const PAGE_SIZE_AT: usize = 32;
const SECTOR_SIZE_AT: usize = 36;
const OOB_SIZE_AT: usize = 40;
const PARTITIONS_AT: usize = 44;
const SEED_AT: usize = 48;
const CRC_AT: usize = 60;

/// The header: everything needed to interpret the rest of the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) geometry: Geometry,
    pub(crate) seed: u64,
    /// The version read (a new image's is [`VERSION`]); it decides the
    /// layout of the rest of the file.
    pub(crate) version: Version,
}

/// Why bytes are not a header this build can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HeaderError {
    /// The bytes do not start with [`MAGIC`].
    #[error("bad magic")]
    BadMagic,
    /// Fewer than [`HEADER_LEN`] bytes.
    #[error("header is {found} bytes, needs {HEADER_LEN}")]
    Short {
        /// Bytes given.
        found: usize,
    },
    /// A version other than 1, 2 or [`VERSION`].
    #[error("version {0} not supported")]
    Version(u32),
    /// The crc32 does not match bytes `0..60`.
    #[error("crc mismatch")]
    Crc,
    /// The crc matches but the geometry is unusable.
    #[error("invalid geometry: {0}")]
    Geometry(GeometryError),
    /// The crc matches but a reserved or length field holds a value this
    /// version never writes.
    #[error("reserved field not zero")]
    NotCanonical,
    #[error("{partitions} partitions of {blocks_per_plane} blocks a plane")]
    Partitions {
        partitions: u16,
        blocks_per_plane: u32,
    },
}

impl Header {
    /// A header of the version this build writes.
    pub(crate) fn new(geometry: Geometry, seed: u64) -> Self {
        Header {
            geometry,
            seed,
            version: Version::V4 { partitions: 1 },
        }
    }

    /// This header with its blocks split into `partitions` equal parts.
    pub(crate) fn with_partitions(self, partitions: u16) -> Result<Header, HeaderError> {
        Self::check_partitions(&self.geometry, partitions)?;
        Ok(Header {
            version: Version::V4 { partitions },
            ..self
        })
    }

    /// Whether `partitions` equal parts of `geometry` are each a usable
    /// geometry (see [`crate::part`]).
    pub(crate) fn check_partitions(
        geometry: &Geometry,
        partitions: u16,
    ) -> Result<(), HeaderError> {
        let bad = HeaderError::Partitions {
            partitions,
            blocks_per_plane: geometry.blocks_per_plane,
        };
        match crate::part::partition_geometry(geometry, partitions) {
            Some(part) => part.validate().map_err(|_| bad),
            None => Err(bad),
        }
    }

    /// The header's bytes, crc included.
    pub(crate) fn encode(&self) -> [u8; HEADER_LEN] {
        let g = &self.geometry;
        let mut b = [0u8; HEADER_LEN];
        b[..MAGIC.len()].copy_from_slice(&MAGIC);
        le::put_u32(&mut b, VERSION_AT, self.version.number());
        le::put_u32(&mut b, LEN_AT, HEADER_LEN as u32);
        le::put_u16(&mut b, CHANNELS_AT, g.channels);
        le::put_u16(&mut b, DIES_AT, g.dies_per_channel);
        le::put_u16(&mut b, PLANES_AT, g.planes_per_die);
        b[OP_AT] = match self.version {
            Version::V1 { op } => op,
            Version::V2 | Version::V3 | Version::V4 { .. } => 0,
        };
        if let Version::V4 { partitions } = self.version {
            le::put_u16(&mut b, PARTITIONS_AT, partitions);
        }
        le::put_u32(&mut b, BLOCKS_PER_PLANE_AT, g.blocks_per_plane);
        le::put_u32(&mut b, PAGES_PER_BLOCK_AT, g.pages_per_block);
        le::put_u32(&mut b, PAGE_SIZE_AT, g.page_size);
        le::put_u32(&mut b, SECTOR_SIZE_AT, g.sector_size);
        le::put_u32(&mut b, OOB_SIZE_AT, g.oob_size);
        le::put_u64(&mut b, SEED_AT, self.seed);
        let crc = crc32fast::hash(&b[..CRC_AT]);
        le::put_u32(&mut b, CRC_AT, crc);
        b
    }

    /// Decodes and checks the header at the start of `bytes` (any bytes
    /// past [`HEADER_LEN`] are not looked at). Never panics.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Header, HeaderError> {
        if bytes.get(..MAGIC.len()) != Some(&MAGIC[..]) {
            return Err(HeaderError::BadMagic);
        }
        let short = HeaderError::Short { found: bytes.len() };
        let b = bytes.get(..HEADER_LEN).ok_or(short)?;
        let u16_at = |at| le::u16_at(b, at).ok_or(short);
        let u32_at = |at| le::u32_at(b, at).ok_or(short);
        let number = u32_at(VERSION_AT)?;
        if ![VERSION_1, VERSION_2, VERSION_3, VERSION].contains(&number) {
            return Err(HeaderError::Version(number));
        }
        if crc32fast::hash(&b[..CRC_AT]) != u32_at(CRC_AT)? {
            return Err(HeaderError::Crc);
        }
        let geometry = Geometry {
            channels: u16_at(CHANNELS_AT)?,
            dies_per_channel: u16_at(DIES_AT)?,
            planes_per_die: u16_at(PLANES_AT)?,
            blocks_per_plane: u32_at(BLOCKS_PER_PLANE_AT)?,
            pages_per_block: u32_at(PAGES_PER_BLOCK_AT)?,
            page_size: u32_at(PAGE_SIZE_AT)?,
            sector_size: u32_at(SECTOR_SIZE_AT)?,
            oob_size: u32_at(OOB_SIZE_AT)?,
        };
        geometry.validate().map_err(HeaderError::Geometry)?;
        let seed = le::u64_at(b, SEED_AT).ok_or(short)?;
        let op = *b.get(OP_AT).ok_or(short)?;
        let version = match number {
            // Version 1 always wrote a percentage there.
            VERSION_1 if !(1..=90).contains(&op) => return Err(HeaderError::NotCanonical),
            VERSION_1 => Version::V1 { op },
            VERSION_2 => Version::V2,
            VERSION_3 => Version::V3,
            // VERSION: the others were refused above
            _ => {
                let partitions = u16_at(PARTITIONS_AT)?;
                Self::check_partitions(&geometry, partitions)?;
                Version::V4 { partitions }
            }
        };
        let header = Header {
            geometry,
            seed,
            version,
        };
        // Paired check: what we decoded re-encodes to the very same bytes.
        if header.encode()[..] != *b {
            return Err(HeaderError::NotCanonical);
        }
        Ok(header)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ftl_core::format::oob;
    use proptest::prelude::*;

    /// Usable geometries of every shape: 1..=16 sectors a page of 512 B to
    /// 64 KiB, spare from the least the FTL needs upwards.
    fn geometry() -> impl Strategy<Value = Geometry> {
        (
            (1u16..=4, 1u16..=4, 1u16..=2, 1u32..=512),
            (1u32..=256, 9u32..=16, 1u32..=16, 0u32..=512),
        )
            .prop_map(|((ch, dies, planes, bpp), (ppb, shift, spp, spare))| {
                let sector_size = 1 << shift;
                Geometry {
                    channels: ch,
                    dies_per_channel: dies,
                    planes_per_die: planes,
                    blocks_per_plane: bpp,
                    pages_per_block: ppb,
                    page_size: sector_size * spp,
                    sector_size,
                    oob_size: oob::record_len(spp as usize) as u32 + spare,
                }
            })
            .prop_filter("a usable geometry", |g| g.validate().is_ok())
    }

    fn version() -> impl Strategy<Value = Version> {
        prop_oneof![
            (1u8..=90).prop_map(|op| Version::V1 { op }),
            Just(Version::V2),
            Just(Version::V3),
            Just(Version::V4 { partitions: 1 }),
        ]
    }

    fn header() -> impl Strategy<Value = Header> {
        (geometry(), any::<u64>(), version()).prop_map(|(geometry, seed, version)| Header {
            geometry,
            seed,
            version,
        })
    }

    /// Any field values at all, usable or not.
    fn any_geometry() -> impl Strategy<Value = Geometry> {
        (
            (any::<u16>(), any::<u16>(), any::<u16>()),
            (any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>()),
            any::<u32>(),
        )
            .prop_map(
                |((ch, dies, planes), (bpp, ppb, page, sector), oob)| Geometry {
                    channels: ch,
                    dies_per_channel: dies,
                    planes_per_die: planes,
                    blocks_per_plane: bpp,
                    pages_per_block: ppb,
                    page_size: page,
                    sector_size: sector,
                    oob_size: oob,
                },
            )
    }

    proptest! {
        #[test]
        fn every_valid_header_round_trips(h in header()) {
            prop_assert_eq!(Header::decode(&h.encode()), Ok(h));
        }

        #[test]
        fn a_header_decodes_exactly_when_its_geometry_is_usable(
            geometry in any_geometry(),
            seed in any::<u64>(),
        ) {
            let h = Header::new(geometry, seed);
            let want = match geometry.validate() {
                Ok(()) => Ok(h),
                Err(e) => Err(HeaderError::Geometry(e)),
            };
            prop_assert_eq!(Header::decode(&h.encode()), want);
        }

        #[test]
        fn any_single_byte_corruption_is_refused(
            h in header(),
            at in 0..HEADER_LEN,
            mask in 1u8..=255,
        ) {
            let mut b = h.encode();
            b[at] ^= mask;
            let e = Header::decode(&b).unwrap_err();
            let want = match at {
                0..=7 => HeaderError::BadMagic,
                // Flipped to another known version: the crc catches it.
                8..=11 => match le::u32_at(&b, VERSION_AT).unwrap() {
                    VERSION | VERSION_1 | VERSION_2 | VERSION_3 => HeaderError::Crc,
                    v => HeaderError::Version(v),
                },
                _ => HeaderError::Crc,
            };
            prop_assert_eq!(e, want);
        }

        #[test]
        fn arbitrary_bytes_are_refused_or_canonical(
            bytes in proptest::collection::vec(any::<u8>(), 0..=2 * HEADER_LEN),
        ) {
            if let Ok(h) = Header::decode(&bytes) {
                prop_assert_eq!(&h.encode()[..], &bytes[..HEADER_LEN]);
            }
        }

        // Past the magic, version and crc: the geometry and reserved checks
        // see arbitrary field values behind a valid seal.
        #[test]
        fn sealed_arbitrary_fields_are_refused_or_canonical(
            fields in proptest::array::uniform32(any::<u8>()),
            tail in proptest::array::uniform16(any::<u8>()),
        ) {
            let mut b = [0u8; HEADER_LEN];
            b[..MAGIC.len()].copy_from_slice(&MAGIC);
            le::put_u32(&mut b, VERSION_AT, VERSION);
            b[LEN_AT..LEN_AT + 32].copy_from_slice(&fields);
            b[LEN_AT + 32..CRC_AT].copy_from_slice(&tail);
            let crc = crc32fast::hash(&b[..CRC_AT]);
            le::put_u32(&mut b, CRC_AT, crc);
            match Header::decode(&b) {
                Ok(h) => prop_assert_eq!(h.encode(), b),
                Err(e) => prop_assert!(
                    matches!(
                        e,
                        HeaderError::Geometry(_)
                            | HeaderError::NotCanonical
                            | HeaderError::Partitions { .. }
                    ),
                    "{e:?}"
                ),
            }
        }
    }

    /// Version 1's bytes, worked out by hand from the drawing: images
    /// written by earlier builds still open, and re-encode as read.
    #[test]
    fn the_bytes_of_version_1_are_pinned() {
        let h = Header {
            geometry: Geometry::small(16, 8),
            seed: 0x0123_4567_89AB_CDEF,
            version: Version::V1 { op: 20 },
        };
        #[rustfmt::skip]
        let want: [u8; HEADER_LEN] = [
            b'Z', b'C', b'F', b'T', b'L', b'N', b'N', b'D', 1, 0, 0, 0, 64, 0, 0, 0,
            1, 0, 1, 0, 1, 0, 20, 0, 16, 0, 0, 0, 8, 0, 0, 0,
            0x00, 0x40, 0, 0, 0x00, 0x10, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0,
            0xEF, 0xCD, 0xAB, 0x89, 0x67, 0x45, 0x23, 0x01, 0, 0, 0, 0, 0x5E, 0x65, 0x4A, 0xC8,
        ];
        assert_eq!(h.encode(), want);
        assert_eq!(Header::decode(&want), Ok(h));
    }

    /// Version 2's bytes (worked out the same way): byte 22 is reserved.
    #[test]
    fn the_bytes_of_version_2_are_pinned() {
        let h = Header {
            geometry: Geometry::small(16, 8),
            seed: 0x0123_4567_89AB_CDEF,
            version: Version::V2,
        };
        #[rustfmt::skip]
        let want: [u8; HEADER_LEN] = [
            b'Z', b'C', b'F', b'T', b'L', b'N', b'N', b'D', 2, 0, 0, 0, 64, 0, 0, 0,
            1, 0, 1, 0, 1, 0, 0, 0, 16, 0, 0, 0, 8, 0, 0, 0,
            0x00, 0x40, 0, 0, 0x00, 0x10, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0,
            0xEF, 0xCD, 0xAB, 0x89, 0x67, 0x45, 0x23, 0x01, 0, 0, 0, 0, 0x6f, 0x6f, 0x1d, 0x9c,
        ];
        assert_eq!(h.encode(), want);
        assert_eq!(Header::decode(&want), Ok(h));
    }

    /// Version 3's bytes: version 2's but for the version (and the crc).
    #[test]
    fn the_bytes_of_version_3_are_pinned() {
        let h = Header {
            geometry: Geometry::small(16, 8),
            seed: 0x0123_4567_89AB_CDEF,
            version: Version::V3,
        };
        #[rustfmt::skip]
        let want: [u8; HEADER_LEN] = [
            b'Z', b'C', b'F', b'T', b'L', b'N', b'N', b'D', 3, 0, 0, 0, 64, 0, 0, 0,
            1, 0, 1, 0, 1, 0, 0, 0, 16, 0, 0, 0, 8, 0, 0, 0,
            0x00, 0x40, 0, 0, 0x00, 0x10, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0,
            0xEF, 0xCD, 0xAB, 0x89, 0x67, 0x45, 0x23, 0x01, 0, 0, 0, 0, 0x62, 0x93, 0xd1, 0xf5,
        ];
        assert_eq!(h.encode(), want);
        assert_eq!(Header::decode(&want), Ok(h));
    }

    /// Version 4's bytes: version 3's with the partition count at 44.
    #[test]
    fn the_bytes_of_version_4_are_pinned() {
        let h = Header {
            geometry: Geometry::small(16, 8),
            seed: 0x0123_4567_89AB_CDEF,
            version: Version::V4 { partitions: 2 },
        };
        #[rustfmt::skip]
        let mut want: [u8; HEADER_LEN] = [
            b'Z', b'C', b'F', b'T', b'L', b'N', b'N', b'D', 4, 0, 0, 0, 64, 0, 0, 0,
            1, 0, 1, 0, 1, 0, 0, 0, 16, 0, 0, 0, 8, 0, 0, 0,
            0x00, 0x40, 0, 0, 0x00, 0x10, 0, 0, 0x80, 0, 0, 0, 2, 0, 0, 0,
            0xEF, 0xCD, 0xAB, 0x89, 0x67, 0x45, 0x23, 0x01, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        let crc = crc32fast::hash(&want[..CRC_AT]);
        le::put_u32(&mut want, CRC_AT, crc);
        assert_eq!(h.encode(), want);
        assert_eq!(Header::decode(&want), Ok(h));
        assert_eq!(Header::new(h.geometry, h.seed).version.partitions(), 1);
    }

    /// A partition count that does not split the blocks into usable equal
    /// parts is refused, behind a good crc too.
    #[test]
    fn partitions_must_split_the_blocks_evenly() {
        let geometry = Geometry::small(16, 8);
        for (n, ok) in [
            (0, false),
            (1, true),
            (2, true),
            (3, false),
            (16, true),
            (32, false),
        ] {
            let h = Header {
                geometry,
                seed: 1,
                version: Version::V4 { partitions: n },
            };
            let got = Header::decode(&h.encode());
            if ok {
                assert_eq!(got, Ok(h), "{n}");
            } else {
                assert_eq!(
                    got,
                    Err(HeaderError::Partitions {
                        partitions: n,
                        blocks_per_plane: 16
                    }),
                    "{n}"
                );
            }
        }
    }

    #[test]
    fn short_and_foreign_bytes_are_refused() {
        assert_eq!(Header::decode(b""), Err(HeaderError::BadMagic));
        assert_eq!(Header::decode(b"ZCF"), Err(HeaderError::BadMagic));
        assert_eq!(
            Header::decode(b"ZCFTLNND\x01\0\0\0"),
            Err(HeaderError::Short { found: 12 })
        );
    }

    #[test]
    fn a_nonzero_reserved_byte_behind_a_good_crc_is_refused() {
        let h = Header::new(Geometry::small(16, 8), 1);
        for at in [LEN_AT, 22, 23, 46, 56] {
            let mut b = h.encode();
            b[at] ^= 1;
            let crc = crc32fast::hash(&b[..CRC_AT]);
            le::put_u32(&mut b, CRC_AT, crc);
            assert_eq!(
                Header::decode(&b),
                Err(HeaderError::NotCanonical),
                "byte {at}"
            );
        }
    }
}
