//! The journal file on its own: round trips, the commit point, and files
//! that are not what they claim (never a panic).

use super::*;

/// The assertions below look for words of the message.
trait Says {
    fn contains(&self, words: &str) -> bool;
}

impl Says for JournalError {
    fn contains(&self, words: &str) -> bool {
        self.to_string().contains(words)
    }
}

/// A scratch directory with an "image" file and a fresh journal for it
/// (4 slots, room for 8 records); removed on drop.
struct Case {
    dir: PathBuf,
    id: ImageId,
    path: PathBuf,
}

impl Case {
    fn new(name: &str) -> (Case, Journal, SlotPool) {
        let dir = std::env::temp_dir().join(format!("zcftl-journal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let img = dir.join("img");
        std::fs::write(&img, b"x").unwrap();
        let id = ImageId::of(&img).unwrap();
        let path = id.journal_path(&dir, 0);
        let (j, pool) = Journal::create(&path, id, &img, 4, 8).unwrap();
        (Case { dir, id, path }, j, pool)
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn sample() -> Vec<Record> {
    vec![
        Record::Trim { lba: 7, sectors: 3 },
        Record::Write {
            lba: 1 << 40,
            slot: 2,
            epoch: 9,
        },
    ]
}

#[test]
fn publish_then_reopen_reads_the_last_list() {
    let (c, mut j, mut pool) = Case::new("round");
    assert_eq!(j.read().unwrap(), Snapshot::default());
    pool.slot_mut(2).fill(0x11);
    j.publish(5, &sample()).unwrap();
    j.publish(6, &sample()[..1]).unwrap();
    assert!(j.publish(7, &[sample()[0]; 9]).is_err(), "over capacity");
    drop((j, pool));
    let (j, pool) = Journal::open(&c.path, c.id).unwrap();
    let snap = j.read().unwrap();
    assert_eq!((snap.seq, snap.records), (6, sample()[..1].to_vec()));
    assert!(pool.slot(2).iter().all(|&b| b == 0x11));
}

#[test]
fn a_torn_publish_leaves_the_previous_list() {
    let (_c, mut j, _pool) = Case::new("torn");
    j.publish(5, &sample()).unwrap();
    // A crash while the next copy is half written: garbage in the inactive
    // copy, the active generation not yet moved.
    let inactive = j.layout.copy_at(j.generation + 1);
    j.bytes_mut()[inactive..inactive + 40].fill(0xAB);
    let snap = j.read().unwrap();
    assert_eq!((snap.seq, snap.records), (5, sample()));
}

#[test]
fn foreign_damaged_and_mismatched_files_are_errors() {
    let (c, mut j, pool) = Case::new("bad");
    let (id, path) = (c.id, c.path.clone());
    j.publish(5, &sample()).unwrap();
    drop((j, pool));
    let good = std::fs::read(&path).unwrap();
    let other = ImageId { dev: 1, ino: 2 };
    let e = Journal::open(&path, other).err().unwrap();
    assert!(e.contains("another image"), "{e}");
    let mut flip = good.clone();
    flip[HEADER_LEN + 36] ^= 1; // a record byte of each copy
    flip[HEADER_LEN + j_copy_len(&good) + 36] ^= 1;
    std::fs::write(&path, &flip).unwrap();
    let (j, _p) = Journal::open(&path, id).unwrap();
    assert!(j.read().is_err(), "a damaged list is an error, not data");
    std::fs::write(&path, &good[..100]).unwrap();
    assert!(Journal::open(&path, id)
        .err()
        .unwrap()
        .contains("truncated"));
    std::fs::write(&path, vec![0u8; good.len()]).unwrap();
    assert!(Journal::open(&path, id)
        .err()
        .unwrap()
        .contains("not a zcftl"));
    // Random damage anywhere in the header page or the lists: an error or a
    // list that passed its checksum, never a panic.
    let mut seed = 0x9E37_79B9_u64;
    for _ in 0..300 {
        let mut bad = good.clone();
        for _ in 0..4 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let at = (seed >> 33) as usize % (HEADER_LEN + 2 * j_copy_len(&good));
            bad[at] ^= (seed >> 8) as u8 | 1;
        }
        std::fs::write(&path, &bad).unwrap();
        if let Ok((j, _p)) = Journal::open(&path, id) {
            let _ = j.read();
        }
    }
}

fn j_copy_len(file: &[u8]) -> usize {
    Layout::new(le32(file, 24), le32(file, 32)).copy_len
}
