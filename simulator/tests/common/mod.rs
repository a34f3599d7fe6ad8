//! Helpers shared by the simulator's integration tests.
#![allow(dead_code)] // each test binary uses a different subset

use ftl_core::{BlockIdx, Geometry, Nand, NandError, NandErrorKind, Ppa};
use simulator::{SimNand, SimOptions};

/// 16 blocks × 8 pages × 2 KiB (4 × 512 B sectors) + 64 B spare: small
/// enough that thousands of operations take milliseconds.
pub fn geo() -> Geometry {
    let g = Geometry {
        channels: 1,
        dies_per_channel: 1,
        planes_per_die: 1,
        blocks_per_plane: 16,
        pages_per_block: 8,
        page_size: 2048,
        sector_size: 512,
        oob_size: 64,
    };
    g.validate().expect("test geometry is valid");
    g
}

pub fn ram(opts: SimOptions) -> SimNand {
    SimNand::new_ram(geo(), opts).expect("RAM simulator")
}

pub fn ppa(block: u32, page: u32) -> Ppa {
    Ppa::new(BlockIdx(block), page)
}

/// A page's worth of bytes derived from `tag`, so every page differs.
pub fn pattern(tag: u32, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u32)
                .wrapping_mul(31)
                .wrapping_add(tag.wrapping_mul(97)) as u8
        })
        .collect()
}

/// Programs `data` (one buffer) with `oob`.
pub fn program<N: Nand>(n: &mut N, p: Ppa, data: &[u8], oob: &[u8]) -> Result<(), N::Error> {
    n.program_page(p, &[data], oob)
}

/// Reads a whole page and its full spare area.
pub fn read<N: Nand>(n: &mut N, p: Ppa) -> Result<(Vec<u8>, Vec<u8>), N::Error> {
    let g = n.geometry();
    let mut d = vec![0u8; g.page_size as usize];
    let mut o = vec![0u8; g.oob_size as usize];
    n.read_page(p, &mut [&mut d[..]], &mut o)?;
    Ok((d, o))
}

/// The error kind of a result that must have failed.
pub fn kind<T: std::fmt::Debug, E: NandError>(r: Result<T, E>) -> NandErrorKind {
    match r {
        Ok(v) => panic!("expected an error, got Ok({v:?})"),
        Err(e) => e.kind(),
    }
}
