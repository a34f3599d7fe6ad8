//! `cli_text`: `ftl-ublk`'s real command line and its size and geometry
//! parsers (`ftl_ublk::args`, `ftl_ublk::spec`) on arbitrary text.
//!
//! - parsing any argument vector never panics (clap returns an error);
//! - `parse_size` never panics, and a size it accepts prints back to
//!   itself in bytes;
//! - `geometry_for` never panics, and a geometry it returns is valid, has
//!   the block device's 4096-byte sectors and fits in the size asked for.

use arbitrary::Arbitrary;
use clap::Parser;
use ftl_ublk::args::{Cli, Command};
use ftl_ublk::spec::{geometry_for, parse_size, BLOCK_SIZE};

/// Most words tried after `ftl-ublk`.
pub const MAX_WORDS: usize = 12;

/// A `cli_text` case.
#[derive(Arbitrary, Clone, Debug)]
pub struct Input {
    /// Words after `ftl-ublk` (the first few: add, del, ... are likely
    /// from the dictionary the fuzzer builds).
    pub argv: Vec<String>,
    /// A `--size` text.
    pub size: String,
    /// A `--geometry` text.
    pub geometry: String,
    /// Whether `size` and `geometry` are given to `geometry_for`.
    pub given: (bool, bool),
}

/// Runs one case.
pub fn run(input: &Input) -> Result<(), String> {
    let words = input.argv.iter().take(MAX_WORDS).map(String::as_str);
    if let Ok(cli) = Cli::try_parse_from(std::iter::once("ftl-ublk").chain(words)) {
        match &cli.command {
            Command::Add(a) => check_geometry(a.size.as_deref(), a.geometry.as_deref())?,
            Command::Format(f) => check_geometry(f.size.as_deref(), f.geometry.as_deref())?,
            _ => {}
        }
    }
    if let Ok(n) = parse_size(&input.size) {
        if parse_size(&n.to_string()) != Ok(n) {
            return Err(format!("size {:?} = {n} does not print back", input.size));
        }
    }
    let size = input.given.0.then_some(input.size.as_str());
    let geometry = input.given.1.then_some(input.geometry.as_str());
    check_geometry(size, geometry)
}

fn check_geometry(size: Option<&str>, geometry: Option<&str>) -> Result<(), String> {
    let Ok(g) = geometry_for(size, geometry) else {
        return Ok(());
    };
    if let Err(e) = g.validate() {
        return Err(format!(
            "geometry_for returned an invalid geometry ({e}): {g:?}"
        ));
    }
    if g.sector_size != BLOCK_SIZE {
        return Err(format!(
            "geometry_for returned {}-byte sectors",
            g.sector_size
        ));
    }
    if let Some(Ok(want)) = size.map(parse_size) {
        if g.raw_bytes() > want {
            return Err(format!("{} raw bytes for --size {want}", g.raw_bytes()));
        }
    }
    Ok(())
}
