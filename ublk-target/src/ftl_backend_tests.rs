//! The FTL backend on a simulated NAND: data integrity through the same
//! transfers the queues use, zeroing, persistence across a remount, and
//! concurrent handles on a cache small enough to run out.

use std::sync::atomic::AtomicU64;

use ftl_core::Geometry;
use simulator::{SimNand, SimOptions};

use super::*;
use crate::copy::Bounce;

fn small_geometry() -> Geometry {
    Geometry::small(64, 16, 20)
}

fn backend(handles: u32, cache_bytes: usize) -> FtlBackend {
    let nand = SimNand::new_ram(small_geometry(), SimOptions::default()).unwrap();
    FtlBackend::new(nand, true, handles, cache_bytes).unwrap()
}

/// Block `lba`'s content in generation `gen`.
fn pattern(lba: u64, gen: u32) -> Vec<u8> {
    let mut v = vec![0u8; 4096];
    for (i, b) in v.iter_mut().enumerate() {
        *b = (lba as u32)
            .wrapping_mul(31)
            .wrapping_add(gen * 7 + i as u32 / 64) as u8;
    }
    v[..8].copy_from_slice(&lba.to_le_bytes());
    v[8..12].copy_from_slice(&gen.to_le_bytes());
    v
}

fn write(b: &FtlBackend, h: u32, lba: u64, data: &[u8], fua: bool) -> Result<(), IoError> {
    let c = AtomicU64::new(0);
    let mut buf = data.to_vec();
    b.write(
        h,
        lba,
        (data.len() / 4096) as u32,
        fua,
        &mut Bounce::new(&mut buf, &c),
    )
}

fn read(b: &FtlBackend, h: u32, lba: u64, n: u32) -> Vec<u8> {
    let c = AtomicU64::new(0);
    let mut buf = vec![0xa5u8; n as usize * 4096];
    b.read(h, lba, n, &mut Bounce::new(&mut buf, &c)).unwrap();
    buf
}

#[test]
fn round_trip_zeroes_and_discard() {
    let b = backend(2, 0);
    let data: Vec<u8> = (0..4).flat_map(|i| pattern(10 + i, 1)).collect();
    write(&b, 0, 10, &data, false).unwrap();
    assert_eq!(read(&b, 1, 10, 4), data);
    assert!(
        read(&b, 1, 100, 2).iter().all(|&x| x == 0),
        "never written reads zeros"
    );
    b.write_zeroes(0, 11, 1).unwrap();
    b.discard(12, 1).unwrap();
    let back = read(&b, 0, 10, 4);
    assert_eq!(&back[..4096], &data[..4096]);
    assert!(back[4096..3 * 4096].iter().all(|&x| x == 0));
    assert_eq!(&back[3 * 4096..], &data[3 * 4096..]);
    let s = b.stats();
    let get = |k: &str| s.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
    assert_eq!(
        get("ftl_bytes_copied"),
        Some(((4 + 4 + 2 + 4) * 4096).into())
    );
    assert_eq!(get("zero_fill_bytes"), Some(4096.into()));
}

#[test]
fn out_of_range_and_oversized_requests_fail_cleanly() {
    let b = backend(1, 0);
    let end = b.blocks();
    assert_eq!(
        write(&b, 0, end, &pattern(0, 0), false),
        Err(IoError::OutOfRange)
    );
    let big = vec![0u8; (MAX_IO_BLOCKS + 1) * 4096];
    assert!(write(&b, 0, 0, &big, false).is_err());
    // The handle is still usable afterwards.
    write(&b, 0, 0, &pattern(0, 0), false).unwrap();
    assert_eq!(read(&b, 0, 0, 1), pattern(0, 0));
}

/// A transfer that moves only part of the payload.
struct Short;

impl Transfer for Short {
    fn copy_in(&mut self, dst: &IoList<'_>) -> Result<usize, IoError> {
        Ok(dst.bytes() / 2)
    }
    fn copy_out(&mut self, src: &IoList<'_>) -> Result<usize, IoError> {
        Ok(src.bytes() - 1)
    }
}

#[test]
fn short_copy_aborts_and_leaves_old_data() {
    let b = backend(1, 0);
    write(&b, 0, 5, &pattern(5, 1), false).unwrap();
    let e = b.write(0, 5, 1, false, &mut Short);
    assert!(matches!(e, Err(IoError::ShortCopy { .. })));
    assert!(matches!(
        b.read(0, 5, 1, &mut Short),
        Err(IoError::ShortCopy { .. })
    ));
    // The aborted write changed nothing, and the read grant was ended.
    assert_eq!(read(&b, 0, 5, 1), pattern(5, 1));
}

#[test]
fn flushed_data_and_zeroes_survive_a_remount() {
    let path = std::env::temp_dir().join(format!("ftl-ublk-be-{}.img", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let nand = SimNand::create_image(&path, small_geometry(), SimOptions::default()).unwrap();
    let b = FtlBackend::new(nand, true, 2, 0).unwrap();
    let n = b.blocks().min(600);
    for lba in 0..n {
        write(&b, (lba % 2) as u32, lba, &pattern(lba, 1), lba % 50 == 0).unwrap();
    }
    for lba in (0..n).step_by(3) {
        write(&b, 0, lba, &pattern(lba, 2), false).unwrap();
    }
    b.write_zeroes(1, 20, 10).unwrap();
    b.shutdown().unwrap();
    drop(b);
    let nand = SimNand::open_image(&path, SimOptions::default()).unwrap();
    let b = FtlBackend::new(nand, false, 2, 0).unwrap();
    for lba in 0..n {
        let want = if (20..30).contains(&lba) {
            vec![0u8; 4096]
        } else {
            pattern(lba, if lba % 3 == 0 { 2 } else { 1 })
        };
        assert_eq!(read(&b, 0, lba, 1), want, "lba {lba}");
    }
    drop(b);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn concurrent_handles_on_a_tiny_cache() {
    // The FTL's minimum cache: writers and readers on four threads keep
    // running it out, so grants wait, flush and retry.
    let b = std::sync::Arc::new(backend(4, 0));
    let per = b.blocks() / 4;
    std::thread::scope(|s| {
        for t in 0..4u32 {
            let b = b.clone();
            s.spawn(move || {
                let base = u64::from(t) * per;
                let mut gen = vec![0u32; per as usize];
                let mut x = 0x9e37_79b9_u64 ^ u64::from(t);
                for step in 0..400u32 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let n = 1 + (x % 16) as u32;
                    let off = (x >> 8) % (per - u64::from(n));
                    if x % 3 == 0 {
                        let got = read(&b, t, base + off, n);
                        for i in 0..u64::from(n) {
                            let g = gen[(off + i) as usize];
                            let want = if g == 0 {
                                vec![0; 4096]
                            } else {
                                pattern(base + off + i, g)
                            };
                            assert_eq!(
                                &got[i as usize * 4096..][..4096],
                                &want[..],
                                "t{t} lba {}",
                                base + off + i
                            );
                        }
                    } else {
                        let data: Vec<u8> = (0..u64::from(n))
                            .flat_map(|i| pattern(base + off + i, step + 1))
                            .collect();
                        write(&b, t, base + off, &data, step % 37 == 0).unwrap();
                        for i in 0..n as usize {
                            gen[off as usize + i] = step + 1;
                        }
                    }
                }
            });
        }
    });
}

#[test]
fn fua_and_flush_are_durable_without_a_clean_shutdown() {
    let path = std::env::temp_dir().join(format!("ftl-ublk-fua-{}.img", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let nand = SimNand::create_image(&path, small_geometry(), SimOptions::default()).unwrap();
    let b = FtlBackend::new(nand, true, 1, 0).unwrap();
    write(&b, 0, 7, &pattern(7, 1), true).unwrap();
    write(&b, 0, 9, &pattern(9, 1), false).unwrap();
    b.flush().unwrap();
    // Acknowledged but neither FUA nor flushed: the volatile write cache
    // the device advertises (shows the test can tell the difference).
    write(&b, 0, 11, &pattern(11, 1), false).unwrap();
    // No shutdown: the daemon dies here. What FUA and FLUSH covered is on the image.
    drop(b);
    let nand = SimNand::open_image(&path, SimOptions::default()).unwrap();
    let b = FtlBackend::new(nand, false, 1, 0).unwrap();
    assert_eq!(read(&b, 0, 7, 1), pattern(7, 1));
    assert_eq!(read(&b, 0, 9, 1), pattern(9, 1));
    assert_eq!(
        read(&b, 0, 11, 1),
        vec![0u8; 4096],
        "unflushed write survived"
    );
    drop(b);
    std::fs::remove_file(&path).unwrap();
}
