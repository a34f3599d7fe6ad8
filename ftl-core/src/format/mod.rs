//! zcftl's on-flash formats, each with its encoder and decoder side by side
//! and a round-trip property test.
//!
//! | format | where it lives on flash |
//! |---|---|
//! | [`oob`] | the spare area of every programmed page |
//! | [`meta_page`] | the header of every meta-stream page |
//! | [`checkpoint`] | checkpoint chunks: directory + block table (meta stream) |
//! | [`trim_record`] | trim records (meta stream) |
//! | [`translation`] | translation pages: slices of the map (meta stream) |
//! | [`summary`] | block summaries, several to a page (meta stream) |
//!
//! Every structure carries a magic, a version and a crc32 (the spare-area
//! record's own crc, and its data crc over the whole page); decoders never
//! panic on what they read. [`le`] is the one little-endian helper all of
//! them — and the simulator's image file and the daemon's crash journal —
//! share.

pub mod checkpoint;
pub mod le;
pub mod meta_page;
pub mod oob;
pub mod summary;
pub mod translation;
pub mod trim_record;
