//! File images: round trip across close and reopen with the rules still
//! enforced, and every kind of unusable file refused without a byte changed.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use ftl_core::{BlockIdx, Nand, NandErrorKind};
use simulator::image::{HEADER_BLOCK, HEADER_LEN};
use simulator::{FactoryBadBlocks, ImageError, PageState, SimNand, SimOptions};

fn opts() -> SimOptions {
    SimOptions {
        seed: 42,
        factory_bad_blocks: FactoryBadBlocks::List(vec![BlockIdx(3)]),
        ..SimOptions::default()
    }
}

#[test]
fn image_round_trips_across_close_and_reopen_with_rules_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nand.img");
    let page = pattern(5, 2048);
    {
        let mut n = SimNand::create_image(&path, geo(), opts()).unwrap();
        program(&mut n, ppa(0, 0), &page, &[0xAB; 8]).unwrap();
        program(&mut n, ppa(0, 1), &page, &[]).unwrap();
        n.erase_block(BlockIdx(7)).unwrap();
        n.erase_block(BlockIdx(7)).unwrap();
        n.mark_bad_block(BlockIdx(11)).unwrap();
        n.sync().unwrap();
    }
    // Reopen: geometry from the header, options ignored for bad blocks.
    let mut n = SimNand::open_image(&path, SimOptions::default()).unwrap();
    assert_eq!(n.geometry(), geo());
    let (d, o) = read(&mut n, ppa(0, 0)).unwrap();
    assert_eq!(d, page);
    assert_eq!(&o[..8], &[0xAB; 8]);
    assert!(o[8..].iter().all(|&b| b == 0xFF));
    assert_eq!(n.erase_count(BlockIdx(7)), Some(2));
    assert!(
        n.is_bad_block(BlockIdx(3)).unwrap(),
        "factory mark persists"
    );
    assert!(n.is_bad_block(BlockIdx(11)).unwrap(), "grown mark persists");
    assert!(!n.is_bad_block(BlockIdx(4)).unwrap());
    assert_eq!(n.page_state(ppa(0, 1)), Some(PageState::Programmed));
    // The rules survive: no second program, no skipping, next page is 2.
    assert_eq!(
        kind(program(&mut n, ppa(0, 1), &page, &[])),
        NandErrorKind::ProgramOrder
    );
    assert_eq!(
        kind(program(&mut n, ppa(0, 3), &page, &[])),
        NandErrorKind::ProgramOrder
    );
    assert_eq!(kind(n.erase_block(BlockIdx(11))), NandErrorKind::BadBlock);
    program(&mut n, ppa(0, 2), &page, &[]).unwrap();
    assert_eq!(n.stats().violations, 3);
}

#[test]
fn create_truncates_an_old_image_to_all_erased() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nand.img");
    {
        let mut n = SimNand::create_image(&path, geo(), opts()).unwrap();
        program(&mut n, ppa(0, 0), &pattern(1, 2048), &[]).unwrap();
    }
    let mut n = SimNand::create_image(&path, geo(), SimOptions::default()).unwrap();
    assert_eq!(n.page_state(ppa(0, 0)), Some(PageState::Erased));
    assert!(!n.is_bad_block(BlockIdx(3)).unwrap());
}

/// Opens `path` expecting a refusal, and checks the file is byte-for-byte
/// unchanged (and its length too).
fn refused(path: &Path) -> ImageError {
    let before = fs::read(path).unwrap();
    let err = match SimNand::open_image(path, SimOptions::default()) {
        Ok(_) => panic!("{} was accepted", path.display()),
        Err(e) => e,
    };
    assert_eq!(
        fs::read(path).unwrap(),
        before,
        "refused file was modified ({err})"
    );
    // Display is one line.
    assert!(!err.to_string().contains('\n'), "{err}");
    err
}

fn fresh_image(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("nand.img");
    let mut n = SimNand::create_image(&path, geo(), opts()).unwrap();
    program(&mut n, ppa(1, 0), &pattern(2, 2048), &[]).unwrap();
    drop(n);
    path
}

#[test]
fn a_foreign_file_is_refused_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    fs::write(
        &path,
        b"just some text, certainly not a NAND image\n".repeat(200),
    )
    .unwrap();
    let e = refused(&path);
    assert!(matches!(e, ImageError::BadMagic), "{e}");
    assert_eq!(e.to_string(), "not a zcftl NAND image (bad magic)");
    // Empty files too.
    fs::write(&path, b"").unwrap();
    assert!(matches!(refused(&path), ImageError::BadMagic));
}

#[test]
fn a_damaged_header_is_refused_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = fresh_image(dir.path());
    let mut bytes = fs::read(&path).unwrap();
    bytes[30] ^= 0x04; // inside the geometry
    fs::write(&path, &bytes).unwrap();
    let e = refused(&path);
    assert!(matches!(e, ImageError::HeaderCrc), "{e}");
    assert_eq!(e.to_string(), "image header is damaged (crc mismatch)");
}

#[test]
fn an_unknown_version_is_refused_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = fresh_image(dir.path());
    let mut bytes = fs::read(&path).unwrap();
    bytes[8..12].copy_from_slice(&7u32.to_le_bytes());
    fs::write(&path, &bytes).unwrap();
    let e = refused(&path);
    assert_eq!(e.to_string(), "image version 7 not supported");
}

#[test]
fn a_truncated_or_padded_image_is_refused_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = fresh_image(dir.path());
    let full = fs::metadata(&path).unwrap().len();
    let f = fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(full - 100).unwrap();
    drop(f);
    let e = refused(&path);
    assert_eq!(
        e.to_string(),
        format!(
            "image is truncated: expected {full} bytes, found {}",
            full - 100
        )
    );
    // Cut inside the header.
    let f = fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(HEADER_LEN as u64 - 1).unwrap();
    drop(f);
    assert!(matches!(refused(&path), ImageError::Truncated { .. }));
    // Longer than the geometry says.
    let path = fresh_image(dir.path());
    let f = fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(full + 1).unwrap();
    drop(f);
    assert!(matches!(refused(&path), ImageError::Oversized { .. }));
}

#[test]
fn damaged_tables_are_refused_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = fresh_image(dir.path());
    let mut bytes = fs::read(&path).unwrap();
    // Block 2's flags byte gets an unknown bit.
    bytes[HEADER_BLOCK as usize + 2 * 8 + 4] = 0x80;
    fs::write(&path, &bytes).unwrap();
    let e = refused(&path);
    assert_eq!(e.to_string(), "image block table is damaged at entry 2");

    // A hole in a block's written prefix: page 0 erased, page 1 programmed.
    let path = fresh_image(dir.path());
    let mut bytes = fs::read(&path).unwrap();
    let states = 2 * HEADER_BLOCK as usize; // 16 blocks × 8 B fit in one 4 KiB
    bytes[states + 4 * 8 + 1] = 1;
    fs::write(&path, &bytes).unwrap();
    let e = refused(&path);
    assert_eq!(
        e.to_string(),
        "image page-state table is damaged at entry 33"
    );
}

#[test]
fn a_busy_image_is_refused_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = fresh_image(dir.path());
    let first = SimNand::open_image(&path, SimOptions::default()).unwrap();
    let e = refused(&path);
    assert!(matches!(e, ImageError::InUse), "{e}");
    assert_eq!(e.to_string(), "image is in use by another process");
    // create_image must not clobber it either.
    let before = fs::read(&path).unwrap();
    let e = SimNand::create_image(&path, geo(), SimOptions::default()).unwrap_err();
    assert!(matches!(e, ImageError::InUse), "{e}");
    assert_eq!(fs::read(&path).unwrap(), before);
    drop(first);
    SimNand::open_image(&path, SimOptions::default()).unwrap();
}

#[test]
fn a_missing_file_names_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.img");
    let e = SimNand::open_image(&path, SimOptions::default()).unwrap_err();
    assert!(matches!(e, ImageError::Io { .. }), "{e}");
    assert!(e.to_string().contains("absent.img"), "{e}");
}

#[test]
fn a_fresh_image_is_sparse() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.img");
    let g = ftl_core::Geometry::default(); // 1 GiB of pages
    let n = SimNand::create_image(&path, g, SimOptions::default()).unwrap();
    drop(n);
    let meta = fs::metadata(&path).unwrap();
    assert!(meta.len() > 1 << 30);
    use std::os::unix::fs::MetadataExt;
    assert!(
        meta.blocks() * 512 < 16 << 20,
        "{} bytes allocated",
        meta.blocks() * 512
    );
}

#[test]
fn a_directory_is_not_an_image() {
    let dir = tempfile::tempdir().unwrap();
    let e = SimNand::open_image(dir.path(), SimOptions::default()).unwrap_err();
    assert!(matches!(e, ImageError::NotAFile(_)), "{e}");
    let e = SimNand::create_image(dir.path(), geo(), SimOptions::default()).unwrap_err();
    assert!(matches!(e, ImageError::NotAFile(_)), "{e}");
}

#[test]
fn sim_nand_can_move_to_another_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<SimNand>();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nand.img");
    let mut n = SimNand::create_image(&path, geo(), SimOptions::default()).unwrap();
    program(&mut n, ppa(0, 0), &pattern(3, 2048), &[]).unwrap();
    let mut n = std::thread::spawn(move || n).join().unwrap();
    assert_eq!(read(&mut n, ppa(0, 0)).unwrap().0, pattern(3, 2048));
}

#[test]
fn erased_blocks_give_their_disk_back_and_zero_sectors_cost_none() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nand.img");
    let mut n = SimNand::create_image(&path, geo(), opts()).unwrap();
    let used = |p: &Path| fs::metadata(p).unwrap().blocks() * 512;
    let g = geo();
    let b = BlockIdx(5);
    n.erase_block(b).unwrap();
    let before = used(&path);
    // A block of data costs disk; erased again, it costs none.
    for p in 0..g.pages_per_block {
        program(
            &mut n,
            ppa(5, p),
            &pattern(p + 1, g.page_size as usize),
            &[],
        )
        .unwrap();
    }
    n.sync().unwrap();
    let full = used(&path);
    assert!(full >= before + u64::from(g.pages_per_block) * u64::from(g.page_size) / 2);
    n.erase_block(b).unwrap();
    n.sync().unwrap();
    assert!(used(&path) < full - u64::from(g.pages_per_block) * u64::from(g.page_size) / 2);
    // Zero sectors after an erase: not written, and they read back as
    // zeros, not as the block's old data; other sectors as written.
    let mut page = vec![0u8; g.page_size as usize];
    page[..g.sector_size as usize].fill(0x77);
    program(&mut n, ppa(5, 0), &page, &[]).unwrap();
    let (d, _) = read(&mut n, ppa(5, 0)).unwrap();
    assert_eq!(d, page);
}
