//! zcftl's fuzz targets as plain functions.
//!
//! Each module holds one target's bounded [`arbitrary::Arbitrary`] input and
//! a `run(&Input) -> Result<(), String>` that returns `Err` for a violated
//! property (and panics only where the code under test panics). The
//! `fuzz_targets/*.rs` binaries are thin libFuzzer wrappers over these, and
//! `tests/replay.rs` replays the checked-in corpus and fixed seeds with a
//! plain `cargo test` on stable Rust.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cli_parse;
pub mod cli_text;
pub mod common;
pub mod image_header;
pub mod journal_file;
pub mod mount_garbage;
pub mod power_cut_ops;

/// Decodes `bytes` as a target's input exactly as `fuzz_target!` does
/// (`arbitrary_take_rest`); `None` when libFuzzer would skip them.
pub fn decode<'a, T: arbitrary::Arbitrary<'a>>(bytes: &'a [u8]) -> Option<T> {
    T::arbitrary_take_rest(arbitrary::Unstructured::new(bytes)).ok()
}
