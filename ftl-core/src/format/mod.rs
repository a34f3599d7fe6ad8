//! zcftl's on-flash formats, each with its encoder and decoder side by side.
//!
//! Every structure written to flash carries a magic, a version and a crc32;
//! decoders never panic on what they read. `le` is the one little-endian
//! helper all of them (and the simulator's image and the daemon's journal)
//! share.

pub mod le;
