//! Every op through [`serve`] with a fake backend (a RAM disk over a real
//! slot pool, one slot per block) and the copy-mode transfer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::*;
use crate::copy::Bounce;
use crate::slots::SlotPool;

const BLOCKS: u32 = 16;

#[derive(Default)]
struct Log {
    written: Vec<bool>,
    flushes: u32,
    fua_writes: u32,
    durable_flushes_at_fua: u32,
    fail_next: Option<IoError>,
    handles: Vec<u32>,
    discards: u32,
    zeroes_written: u32,
}

struct Fake {
    pool: Mutex<SlotPool>,
    log: Mutex<Log>,
}

impl Fake {
    fn new() -> Fake {
        let log = Log {
            written: vec![false; BLOCKS as usize],
            ..Log::default()
        };
        Fake {
            pool: Mutex::new(SlotPool::new(BLOCKS).unwrap()),
            log: Mutex::new(log),
        }
    }
    fn fail(&self) -> Result<(), IoError> {
        match self.log.lock().unwrap().fail_next.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Backend for Fake {
    fn blocks(&self) -> u64 {
        BLOCKS.into()
    }
    fn read(&self, h: u32, lba: u64, n: u32, xfer: &mut dyn Transfer) -> Result<(), IoError> {
        self.fail()?;
        let mut pool = self.pool.lock().unwrap();
        let mut l = pool.io_list();
        for b in lba..lba + u64::from(n) {
            if self.log.lock().unwrap().written[b as usize] {
                l.push_slot(b as u32)?;
            } else {
                l.push_zero()?;
            }
        }
        self.log.lock().unwrap().handles.push(h);
        let got = xfer.copy_out(&l)?;
        if got != l.bytes() {
            return Err(IoError::ShortCopy {
                want: l.bytes(),
                got,
            });
        }
        Ok(())
    }
    fn write(
        &self,
        h: u32,
        lba: u64,
        n: u32,
        fua: bool,
        xfer: &mut dyn Transfer,
    ) -> Result<(), IoError> {
        self.fail()?;
        let mut pool = self.pool.lock().unwrap();
        let mut l = pool.io_list();
        for b in lba..lba + u64::from(n) {
            l.push_slot(b as u32)?;
        }
        let got = xfer.copy_in(&l)?;
        if got != l.bytes() {
            return Err(IoError::ShortCopy {
                want: l.bytes(),
                got,
            });
        }
        let mut log = self.log.lock().unwrap();
        log.handles.push(h);
        for b in lba..lba + u64::from(n) {
            log.written[b as usize] = true;
        }
        if fua {
            log.fua_writes += 1;
            log.durable_flushes_at_fua += 1;
        }
        Ok(())
    }
    fn flush(&self) -> Result<(), IoError> {
        self.fail()?;
        self.log.lock().unwrap().flushes += 1;
        Ok(())
    }
    fn discard(&self, lba: u64, n: u32) -> Result<(), IoError> {
        self.fail()?;
        let mut log = self.log.lock().unwrap();
        log.discards += 1;
        for b in lba..lba + u64::from(n) {
            log.written[b as usize] = false;
        }
        Ok(())
    }
    fn write_zeroes(&self, _h: u32, lba: u64, n: u32) -> Result<(), IoError> {
        self.fail()?;
        let mut log = self.log.lock().unwrap();
        log.zeroes_written += n;
        for b in lba..lba + u64::from(n) {
            log.written[b as usize] = false;
        }
        Ok(())
    }
    fn stats(&self) -> Vec<(&'static str, serde_json::Value)> {
        Vec::new()
    }
}

/// 512-byte sectors of block `b`.
fn sec(b: u64) -> u64 {
    b * 8
}

fn write(f: &Fake, lba: u64, data: &mut [u8], flags: u32, copied: &AtomicU64) -> i32 {
    let n = (data.len() / 512) as u32;
    serve(
        f,
        3,
        op::WRITE as u32 | flags,
        sec(lba),
        n,
        &mut Bounce::new(data, copied),
    )
}

fn read(f: &Fake, lba: u64, blocks: usize, copied: &AtomicU64) -> (i32, Vec<u8>) {
    let mut buf = vec![0xeeu8; blocks * 4096];
    let r = serve(
        f,
        4,
        op::READ as u32,
        sec(lba),
        (blocks * 8) as u32,
        &mut Bounce::new(&mut buf, copied),
    );
    (r, buf)
}

#[test]
fn write_then_read_round_trips_and_counts_copies() {
    let f = Fake::new();
    let c = AtomicU64::new(0);
    let mut data: Vec<u8> = (0..3 * 4096u32).map(|i| (i * 7 % 256) as u8).collect();
    assert_eq!(write(&f, 5, &mut data, 0, &c), 3 * 4096);
    let (r, back) = read(&f, 5, 3, &c);
    assert_eq!(r, 3 * 4096);
    assert_eq!(back, data);
    assert_eq!(c.load(Ordering::Relaxed), 6 * 4096);
    assert_eq!(f.log.lock().unwrap().handles, vec![3, 4]);
}

#[test]
fn unwritten_blocks_read_as_zeros() {
    let f = Fake::new();
    let c = AtomicU64::new(0);
    let mut one = vec![9u8; 4096];
    write(&f, 1, &mut one, 0, &c);
    let (r, back) = read(&f, 0, 3, &c);
    assert_eq!(r, 3 * 4096);
    assert!(back[..4096].iter().all(|&b| b == 0));
    assert!(back[4096..8192].iter().all(|&b| b == 9));
    assert!(back[8192..].iter().all(|&b| b == 0));
}

#[test]
fn fua_write_is_flagged_to_the_backend() {
    let f = Fake::new();
    let c = AtomicU64::new(0);
    let mut d = vec![1u8; 4096];
    assert_eq!(write(&f, 0, &mut d, op::F_FUA, &c), 4096);
    assert_eq!(write(&f, 1, &mut d, 0, &c), 4096);
    assert_eq!(f.log.lock().unwrap().fua_writes, 1);
}

#[test]
fn flush_discard_write_zeroes_complete_with_zero() {
    let f = Fake::new();
    let c = AtomicU64::new(0);
    let mut d = vec![5u8; 8192];
    write(&f, 2, &mut d, 0, &c);
    let mut none = [0u8; 0];
    let mut x = Bounce::new(&mut none, &c);
    assert_eq!(serve(&f, 0, op::FLUSH as u32, 0, 0, &mut x), 0);
    assert_eq!(f.log.lock().unwrap().flushes, 1);
    assert_eq!(serve(&f, 0, op::DISCARD as u32, sec(2), 8, &mut x), 0);
    assert_eq!(serve(&f, 0, op::WRITE_ZEROES as u32, sec(3), 8, &mut x), 0);
    let (_, back) = read(&f, 2, 2, &c);
    assert!(back.iter().all(|&b| b == 0));
    // Plain WRITE_ZEROES deallocates (a discard); NOUNMAP writes zeros.
    assert_eq!(f.log.lock().unwrap().discards, 2);
    assert_eq!(f.log.lock().unwrap().zeroes_written, 0);
    let nounmap = op::WRITE_ZEROES as u32 | op::F_NOUNMAP;
    assert_eq!(serve(&f, 0, nounmap, sec(4), 16, &mut x), 0);
    assert_eq!(f.log.lock().unwrap().zeroes_written, 2);
    assert_eq!(f.log.lock().unwrap().discards, 2);
}

#[test]
fn bad_requests_map_to_errnos() {
    let f = Fake::new();
    let c = AtomicU64::new(0);
    let mut buf = vec![0u8; 4096];
    let mut x = Bounce::new(&mut buf, &c);
    // Past the end.
    assert_eq!(
        serve(&f, 0, op::READ as u32, sec(BLOCKS.into()), 8, &mut x),
        -libc::EINVAL
    );
    assert_eq!(
        serve(&f, 0, op::DISCARD as u32, sec(15), 16, &mut x),
        -libc::EINVAL
    );
    // Not 4 KiB aligned.
    assert_eq!(serve(&f, 0, op::WRITE as u32, 1, 8, &mut x), -libc::EINVAL);
    assert_eq!(serve(&f, 0, op::READ as u32, 0, 4, &mut x), -libc::EINVAL);
    // Unknown ops (WRITE_SAME, zone ops).
    assert_eq!(serve(&f, 0, 4, 0, 8, &mut x), -libc::EOPNOTSUPP);
    assert_eq!(serve(&f, 0, 13, 0, 8, &mut x), -libc::EOPNOTSUPP);
    // Backend failures.
    f.log.lock().unwrap().fail_next = Some(IoError::NoSpace);
    assert_eq!(serve(&f, 0, op::WRITE as u32, 0, 8, &mut x), -libc::ENOSPC);
    f.log.lock().unwrap().fail_next = Some(IoError::Media("ecc".into()));
    assert_eq!(serve(&f, 0, op::READ as u32, 0, 8, &mut x), -libc::ENODATA);
    f.log.lock().unwrap().fail_next = Some(IoError::CacheBusy);
    assert_eq!(serve(&f, 0, op::FLUSH as u32, 0, 0, &mut x), -libc::EIO);
}

#[test]
fn short_copy_fails_the_request() {
    let f = Fake::new();
    let c = AtomicU64::new(0);
    // The tag buffer holds one block but the request claims two.
    let mut small = vec![1u8; 4096];
    let r = serve(
        &f,
        0,
        op::WRITE as u32,
        0,
        16,
        &mut Bounce::new(&mut small, &c),
    );
    assert_eq!(r, -libc::EIO);
    let mut small = vec![1u8; 4096];
    let r = serve(
        &f,
        0,
        op::READ as u32,
        0,
        16,
        &mut Bounce::new(&mut small, &c),
    );
    assert_eq!(r, -libc::EIO);
}

#[test]
fn decode_units() {
    assert_eq!(
        decode(op::READ as u32, 16, 24),
        Ok(Request::Read { lba: 2, n: 3 })
    );
    assert_eq!(
        decode(op::WRITE as u32 | op::F_FUA, 0, 8),
        Ok(Request::Write {
            lba: 0,
            n: 1,
            fua: true
        })
    );
    assert_eq!(decode(op::FLUSH as u32, 0, 0), Ok(Request::Flush));
    assert_eq!(decode(op::READ as u32, 0, 0), Err(IoError::Misaligned));
}
