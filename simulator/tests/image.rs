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
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nand.img");
    let mut n = SimNand::create_image(&path, geo(), opts()).unwrap();
    n.punch_erased_blocks(true);
    let used = disk_used;
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

/// Disk a file takes (not its length).
fn disk_used(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(path).unwrap().blocks() * 512
}

/// A block of all-zero pages, each with a spare the size the FTL writes
/// for four sectors (44 bytes), costs next to no disk: its data stays a
/// hole, and the spares are packed apart from it. With each spare between
/// two pages' data (versions 1 and 2) every spare write allocated at least
/// the file-system block around it: 1 MiB for this 4 MiB block on ext4,
/// and with large folios most of the data of a longer run of pages.
#[test]
fn a_block_of_zero_pages_costs_little_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nand.img");
    let g = ftl_core::Geometry::small(4, 256); // 4 MiB of data a block
    let mut n = SimNand::create_image(&path, g, SimOptions::default()).unwrap();
    n.punch_erased_blocks(true);
    let block_data = u64::from(g.pages_per_block) * u64::from(g.page_size);
    let block_spares = u64::from(g.pages_per_block) * u64::from(g.oob_size);
    let b = BlockIdx(1);
    n.sync().unwrap();
    let fresh = disk_used(&path);
    // Does this file system punch holes? An erase of a written block must
    // give its disk back.
    for p in 0..g.pages_per_block {
        program(
            &mut n,
            ppa(1, p),
            &pattern(p + 1, g.page_size as usize),
            &[],
        )
        .unwrap();
    }
    n.sync().unwrap();
    let written = disk_used(&path);
    n.erase_block(b).unwrap();
    n.sync().unwrap();
    let erased = disk_used(&path);
    if erased + block_data / 2 > written {
        eprintln!(
            "note: no hole punching here ({written} bytes used written, {erased} erased); \
             disk usage not checked"
        );
        return;
    }
    // All of it, spares too: what is left is the tables' share.
    assert!(
        erased < fresh + block_spares,
        "{erased} bytes used after the erase, {fresh} fresh"
    );
    let zeros = vec![0u8; g.page_size as usize];
    let oob: Vec<u8> = (0..44u8).map(|i| i.wrapping_mul(37) | 1).collect();
    for p in 0..g.pages_per_block {
        program(&mut n, ppa(1, p), &zeros, &oob).unwrap();
    }
    n.sync().unwrap();
    let cost = disk_used(&path) - erased;
    eprintln!(
        "{} zero pages with a 44-byte spare cost {cost} bytes of disk",
        g.pages_per_block
    );
    assert!(
        cost < block_data / 8,
        "{cost} bytes of disk for a block of zero pages ({block_data} data bytes)"
    );
    // And they read back as written.
    for p in [0, 1, g.pages_per_block - 1] {
        let (d, o) = read(&mut n, ppa(1, p)).unwrap();
        assert_eq!(d, zeros);
        assert_eq!(&o[..44], &oob[..]);
        assert!(o[44..].iter().all(|&x| x == 0xFF));
    }
}

/// Writes an image of version 1 or 2 by hand, from the drawing of those
/// versions (not through the simulator's own layout code): the header,
/// the tables, and page records of data then spare, in flat page order
/// from byte 12288 (for `geo()`: 16 blocks × 8 B and 128 page states each
/// fit in one 4 KiB). Pages (0, 0) and (1, 0) are programmed with
/// `pages[0]` and `pages[1]` and an 8-byte spare of 0xA0 and 0xA1; block 7
/// has been erased twice.
fn write_interleaved_image(path: &Path, version: u32, pages: &[Vec<u8>; 2]) {
    let g = geo();
    let (page_size, oob_size) = (g.page_size as usize, g.oob_size as usize);
    let record_len = page_size + oob_size;
    let (block_table, page_states, records) = (4096, 8192, 12288);
    let total = records + 16 * 8 * record_len;
    // The header: a new image's, with the old version number (and, for
    // version 1, the FTL's over-provisioning in byte 22), crc redone.
    {
        SimNand::create_image(path, g, SimOptions::with_seed(9)).unwrap();
    }
    let mut header = fs::read(path).unwrap()[..HEADER_LEN].to_vec();
    header[8..12].copy_from_slice(&version.to_le_bytes());
    header[22] = if version == 1 { 20 } else { 0 };
    header[44..46].fill(0); // no partition count before version 4
    let crc = crc32fast::hash(&header[..60]);
    header[60..64].copy_from_slice(&crc.to_le_bytes());
    let mut bytes = vec![0u8; total];
    bytes[..HEADER_LEN].copy_from_slice(&header);
    bytes[block_table + 7 * 8..block_table + 7 * 8 + 4].copy_from_slice(&2u32.to_le_bytes());
    for (i, data) in pages.iter().enumerate() {
        let flat = i * 8; // page 0 of block i
        bytes[page_states + flat] = 1; // programmed
        let at = records + flat * record_len;
        bytes[at..at + page_size].copy_from_slice(data);
        let spare = &mut bytes[at + page_size..at + record_len];
        spare.fill(0xFF);
        spare[..8].fill(0xA0 + i as u8);
    }
    fs::write(path, &bytes).unwrap();
}

/// Images of versions 1 and 2 keep their interleaved records: they open,
/// read back what was written, and what the simulator writes into them
/// lands in their layout, not the new one; an erase gives back only its
/// own block's records.
#[test]
fn images_of_interleaved_versions_still_open_and_work() {
    let g = geo();
    let (page_size, record_len) = (g.page_size as usize, (g.page_size + g.oob_size) as usize);
    let records = 12288;
    for version in [1, 2] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.img");
        let pages = [pattern(11, page_size), pattern(12, page_size)];
        write_interleaved_image(&path, version, &pages);
        let len = fs::metadata(&path).unwrap().len();
        let third = pattern(13, page_size);
        {
            let mut n = SimNand::open_image(&path, SimOptions::default()).unwrap();
            assert_eq!(n.geometry(), g);
            for (i, data) in pages.iter().enumerate() {
                let (d, o) = read(&mut n, ppa(i as u32, 0)).unwrap();
                assert_eq!(&d, data, "version {version}");
                assert_eq!(&o[..8], &[0xA0 + i as u8; 8]);
                assert!(o[8..].iter().all(|&b| b == 0xFF));
            }
            assert_eq!(n.erase_count(BlockIdx(7)), Some(2));
            assert_eq!(n.page_state(ppa(0, 1)), Some(PageState::Erased));
            // Programs follow the rules and go into the old records.
            program(&mut n, ppa(1, 1), &third, &[0xC3; 4]).unwrap();
            assert_eq!(
                kind(program(&mut n, ppa(1, 3), &third, &[])),
                NandErrorKind::ProgramOrder
            );
            // Erasing block 0 (a hole punched over it) leaves block 1 be.
            n.erase_block(BlockIdx(0)).unwrap();
            n.sync().unwrap();
        }
        let bytes = fs::read(&path).unwrap();
        assert_eq!(bytes.len() as u64, len, "the file keeps its size");
        assert_eq!(bytes[8], version as u8, "and its version");
        let at = records + 9 * record_len; // page 1 of block 1
        assert_eq!(&bytes[at..at + page_size], &third[..]);
        assert_eq!(&bytes[at + page_size..at + page_size + 4], &[0xC3; 4]);
        assert!(bytes[at + page_size + 4..at + record_len]
            .iter()
            .all(|&b| b == 0xFF));
        let mut n = SimNand::open_image(&path, SimOptions::default()).unwrap();
        assert_eq!(n.page_state(ppa(0, 0)), Some(PageState::Erased));
        assert_eq!(read(&mut n, ppa(0, 0)).unwrap().0, vec![0xFF; page_size]);
        assert_eq!(read(&mut n, ppa(1, 0)).unwrap().0, pages[1]);
        let (d, o) = read(&mut n, ppa(1, 1)).unwrap();
        assert_eq!((d, &o[..4]), (third.clone(), &[0xC3; 4][..]));
        assert_eq!(n.erase_count(BlockIdx(0)), Some(1));
    }
}

/// A new image is version 4 (version 3's layout and a partition count):
/// page data from byte 12288 (for `geo()`), then the spares from the next
/// 4 KiB boundary after the last page's data, each page's in flat order.
#[test]
fn a_new_image_keeps_data_and_spares_apart() {
    let g = geo();
    let (page_size, oob_size) = (g.page_size as usize, g.oob_size as usize);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nand.img");
    let data = pattern(21, page_size);
    {
        let mut n = SimNand::create_image(&path, g, SimOptions::default()).unwrap();
        program(&mut n, ppa(2, 0), &data, &[0x5A; 6]).unwrap();
        n.sync().unwrap();
    }
    let mut bytes = fs::read(&path).unwrap();
    assert_eq!(bytes[8], 4, "version");
    assert_eq!(&bytes[44..46], &[1, 0], "partitions");
    let (data_at, spares) = (12288, 12288 + 128 * page_size); // already aligned
    assert_eq!(bytes.len(), spares + 128 * oob_size);
    let at = data_at + 16 * page_size; // block 2, page 0
    assert_eq!(&bytes[at..at + page_size], &data[..]);
    let at = spares + 16 * oob_size;
    assert_eq!(&bytes[at..at + 6], &[0x5A; 6]);
    assert!(bytes[at + 6..at + oob_size].iter().all(|&b| b == 0xFF));
    // The same bytes as version 3 (no partition count) open as one
    // partition, and read the page back.
    bytes[8] = 3;
    bytes[44] = 0;
    let crc = crc32fast::hash(&bytes[..60]);
    bytes[60..64].copy_from_slice(&crc.to_le_bytes());
    fs::write(&path, &bytes).unwrap();
    let mut n = SimNand::open_image(&path, SimOptions::default()).unwrap();
    assert_eq!(n.partitions(), 1);
    assert_eq!(read(&mut n, ppa(2, 0)).unwrap().0, data);
}
