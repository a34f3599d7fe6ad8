//! [`NandPart`]: one of the equal parts a [`SimNand`]'s blocks are split
//! into, a [`Nand`] of its own, so that several FTLs (ftl-ublk's shards)
//! run side by side on one array, each behind its own lock.
//!
//! Part `k` of `n` holds, in every plane of every die, the `k`-th run of
//! `blocks_per_plane / n` blocks: its geometry is the array's with
//! `blocks_per_plane / n`, so each part keeps every channel, die and plane
//! (the die parallelism) and a part's block `b` is a block of the same
//! plane as in the whole array. The count lives in the image header
//! (version 4), so an image always opens split as it was made.
//!
//! **Who owns the array.** A file image's parts are independent: each
//! maps the image file again ([`SimNand`]'s own `share`), under the one
//! file lock, with its own fault streams, power switch and counters, and
//! touches only its own blocks' bytes (data, spare, table entries), so no
//! part ever waits for another. A RAM array cannot be mapped twice: its
//! parts share it behind one mutex, held for one NAND operation at a time,
//! and share its one power switch too (a cut stops every part, as the
//! crash and kill tests need). One part alone owns its array either way.
//! Errors name the whole array's address.

use std::io;
use std::sync::{Arc, Mutex};

use ftl_core::nand::check_block;
use ftl_core::{BlockIdx, Geometry, Nand, Ppa, ReadStatus};

use crate::error::{OpKind, SimError, Target};
use crate::reader::ImageReader;
use crate::sim::SimNand;

/// The geometry of each of `partitions` equal parts of `geo`: `None`
/// unless the count divides the blocks per plane. Whether the part is a
/// usable geometry is the caller's to check.
pub fn partition_geometry(geo: &Geometry, partitions: u16) -> Option<Geometry> {
    let n = u32::from(partitions);
    (n > 0 && geo.blocks_per_plane % n == 0).then(|| Geometry {
        blocks_per_plane: geo.blocks_per_plane / n,
        ..*geo
    })
}

/// Where a part's blocks sit in the whole array.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PartMap {
    /// The part's geometry.
    pub geo: Geometry,
    /// The first block-in-plane of the part's run in each plane.
    first: u32,
    /// Blocks per plane of the whole array.
    whole: u32,
}

impl PartMap {
    /// The whole array as its one part.
    pub fn whole(geo: &Geometry) -> PartMap {
        PartMap {
            geo: *geo,
            first: 0,
            whole: geo.blocks_per_plane,
        }
    }

    /// Part `index` of `count` (the count already checked to divide the
    /// blocks per plane).
    fn part(geo: &Geometry, index: u16, count: u16) -> PartMap {
        let part = partition_geometry(geo, count).expect("the header checked the count");
        PartMap {
            geo: part,
            first: u32::from(index) * part.blocks_per_plane,
            whole: geo.blocks_per_plane,
        }
    }

    /// The whole array's block for the part's `block` (inside the part).
    pub fn block(&self, block: BlockIdx) -> BlockIdx {
        let per = self.geo.blocks_per_plane;
        BlockIdx(block.0 / per * self.whole + self.first + block.0 % per)
    }

    /// The whole array's page for the part's `ppa`.
    pub fn ppa(&self, ppa: Ppa) -> Ppa {
        Ppa::new(self.block(ppa.block), ppa.page)
    }
}

/// One part of a [`SimNand`] ([`SimNand::into_parts`]).
#[derive(Debug)]
pub struct NandPart {
    array: Array,
    map: PartMap,
    index: u16,
    count: u16,
}

/// The array a part works on (see the module's docs).
#[derive(Debug)]
enum Array {
    /// Its own: the only part, or a file image's own mapping.
    Own(Box<SimNand>),
    /// A RAM array all its parts share.
    Shared(Arc<Mutex<SimNand>>),
}

impl Array {
    fn with<T>(&mut self, f: impl FnOnce(&mut SimNand) -> T) -> T {
        match self {
            Array::Own(s) => f(s),
            // A panic while a NAND operation ran leaves the array as the
            // simulator left it: its own checks stand, so go on.
            Array::Shared(m) => f(&mut m.lock().unwrap_or_else(|p| p.into_inner())),
        }
    }

    fn with_ref<T>(&self, f: impl FnOnce(&SimNand) -> T) -> T {
        match self {
            Array::Own(s) => f(s),
            Array::Shared(m) => f(&m.lock().unwrap_or_else(|p| p.into_inner())),
        }
    }
}

impl SimNand {
    /// Splits the array into its [`SimNand::partitions`] parts, in order:
    /// a file image's parts each through a mapping of their own, a RAM
    /// array's sharing it (see the module's docs). With one partition, the
    /// one part is the whole array. Fails if the image cannot be mapped
    /// again.
    pub fn into_parts(self) -> io::Result<Vec<NandPart>> {
        let count = self.partitions();
        let geo = ftl_core::Nand::geometry(&self);
        let part = |array, index| NandPart {
            array,
            map: PartMap::part(&geo, index, count),
            index,
            count,
        };
        if count == 1 {
            return Ok(vec![part(Array::Own(Box::new(self)), 0)]);
        }
        let mut parts = Vec::with_capacity(usize::from(count));
        for k in 1..count {
            match self.share() {
                Some(own) => parts.push(part(Array::Own(Box::new(own?)), k)),
                // RAM (so already at the first share): one array for all.
                None => {
                    let shared = Arc::new(Mutex::new(self));
                    return Ok((0..count)
                        .map(|k| part(Array::Shared(shared.clone()), k))
                        .collect());
                }
            }
        }
        parts.insert(0, part(Array::Own(Box::new(self)), 0));
        Ok(parts)
    }
}

impl NandPart {
    /// This part's number, from 0.
    pub fn index(&self) -> u16 {
        self.index
    }

    /// How many parts the array has.
    pub fn count(&self) -> u16 {
        self.count
    }

    /// Runs `f` on the array this part works on: a shared RAM array
    /// (locked; its power switch and counters are every part's), or this
    /// part's own. Touch only this part's blocks through it.
    pub fn with_array<T>(&mut self, f: impl FnOnce(&mut SimNand) -> T) -> T {
        self.array.with(f)
    }

    /// Where power was cut on this part's array, if it was (see
    /// [`SimNand::last_cut`]).
    pub fn last_cut(&self) -> Option<crate::CutReport> {
        self.array.with_ref(SimNand::last_cut)
    }

    /// The array back: the part's own, or a shared one once every other
    /// part is dropped.
    pub fn into_array(self) -> Option<SimNand> {
        match self.array {
            Array::Own(s) => Some(*s),
            Array::Shared(m) => {
                Arc::into_inner(m).map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner()))
            }
        }
    }

    /// A reader of this part's pages for other threads (see
    /// [`SimNand::reader`]).
    pub fn reader(&self) -> Option<Result<ImageReader, SimError>> {
        let map = self.map;
        self.array
            .with_ref(SimNand::reader)
            .map(|r| r.map(|r| r.for_part(map)))
    }

    /// The array's address of `block`, or an error for a block outside
    /// the part (checked here: inside the array it could be another
    /// part's).
    fn block(&self, block: BlockIdx, op: OpKind) -> Result<BlockIdx, SimError> {
        check_block(&self.map.geo, block).map_err(|kind| {
            SimError::new(kind, op, Target::Block(block), "block outside the part")
        })?;
        Ok(self.map.block(block))
    }

    /// The array's address of `ppa` (the array checks the page).
    fn page(&self, ppa: Ppa, op: OpKind) -> Result<Ppa, SimError> {
        Ok(Ppa::new(self.block(ppa.block, op)?, ppa.page))
    }
}

impl Nand for NandPart {
    type Error = SimError;

    fn geometry(&self) -> Geometry {
        self.map.geo
    }

    fn read_page(
        &mut self,
        ppa: Ppa,
        data: &mut [&mut [u8]],
        oob: &mut [u8],
    ) -> Result<ReadStatus, SimError> {
        let at = self.page(ppa, OpKind::Read)?;
        self.array.with(|s| s.read_page(at, data, oob))
    }

    fn program_page(&mut self, ppa: Ppa, data: &[&[u8]], oob: &[u8]) -> Result<(), SimError> {
        let at = self.page(ppa, OpKind::Program)?;
        self.array.with(|s| s.program_page(at, data, oob))
    }

    fn erase_block(&mut self, block: BlockIdx) -> Result<(), SimError> {
        let at = self.block(block, OpKind::Erase)?;
        self.array.with(|s| s.erase_block(at))
    }

    fn is_bad_block(&mut self, block: BlockIdx) -> Result<bool, SimError> {
        let at = self.block(block, OpKind::QueryBad)?;
        self.array.with(|s| s.is_bad_block(at))
    }

    fn mark_bad_block(&mut self, block: BlockIdx) -> Result<(), SimError> {
        let at = self.block(block, OpKind::MarkBad)?;
        self.array.with(|s| s.mark_bad_block(at))
    }

    fn sync(&mut self) -> Result<(), SimError> {
        self.array.with(|s| s.sync())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SimOptions;
    use ftl_core::{NandError, NandErrorKind};

    fn geometry() -> Geometry {
        Geometry {
            channels: 2,
            dies_per_channel: 1,
            planes_per_die: 2,
            blocks_per_plane: 12,
            ..Geometry::small(12, 4)
        }
    }

    #[test]
    fn parts_tile_the_array_and_keep_every_plane() {
        let geo = geometry();
        for count in [1u16, 2, 3, 4, 6, 12] {
            let mut seen = vec![None; geo.total_blocks() as usize];
            for index in 0..count {
                let m = PartMap::part(&geo, index, count);
                assert_eq!(m.geo.total_blocks() * u32::from(count), geo.total_blocks());
                for b in 0..m.geo.total_blocks() {
                    let g = m.block(BlockIdx(b));
                    // Same channel, die and plane as in the part's geometry.
                    let (ch, d, p, _) = geo.block_location(g);
                    let (pc, pd, pp, _) = m.geo.block_location(BlockIdx(b));
                    assert_eq!((ch, d, p), (pc, pd, pp));
                    assert_eq!(seen[g.0 as usize].replace((index, b)), None);
                }
            }
            assert!(seen.iter().all(Option::is_some), "{count} parts");
        }
    }

    #[test]
    fn a_part_programs_and_reads_only_its_own_blocks() {
        let geo = geometry();
        let nand = SimNand::new_ram_partitioned(geo, 3, SimOptions::with_seed(5)).unwrap();
        let mut parts = nand.into_parts().unwrap();
        assert_eq!(parts.len(), 3);
        let page = vec![7u8; geo.page_size as usize];
        let mut out = vec![0u8; geo.page_size as usize];
        for (k, p) in parts.iter_mut().enumerate() {
            let b = BlockIdx(5);
            if p.is_bad_block(b).unwrap() {
                continue;
            }
            let data = vec![k as u8 + 1; geo.page_size as usize];
            p.program_page(Ppa::new(b, 0), &[&data], &[k as u8; 8])
                .unwrap();
            p.read_page(Ppa::new(b, 0), &mut [&mut out], &mut [])
                .unwrap();
            assert_eq!(out, data);
            // Outside the part: refused, nothing touched.
            let e = p
                .program_page(Ppa::new(BlockIdx(16), 0), &[&page], &[])
                .unwrap_err();
            assert_eq!(e.kind(), NandErrorKind::OutOfBounds);
        }
        // Each part's page landed in its own run of the same plane.
        let last = parts.pop().unwrap();
        drop(parts);
        let mut whole = last.into_array().expect("the last part");
        for k in 0..3u16 {
            let at = Ppa::new(BlockIdx(12 + u32::from(k) * 4 + 1), 0);
            assert_eq!(PartMap::part(&geo, k, 3).block(BlockIdx(5)), at.block);
            if whole.is_bad_block(at.block).unwrap() {
                continue;
            }
            assert_eq!(whole.page_state(at), Some(crate::PageState::Programmed));
            whole.read_page(at, &mut [&mut out], &mut []).unwrap();
            assert!(out.iter().all(|&x| x == k as u8 + 1));
        }
    }

    #[test]
    fn an_image_reopens_split_as_made_and_a_part_reader_reads_its_part() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nand.img");
        let geo = geometry();
        let nand = SimNand::create_partitioned_image(&path, geo, 2, SimOptions::default()).unwrap();
        let mut parts = nand.into_parts().unwrap();
        let data = vec![0x5au8; geo.page_size as usize];
        let at = Ppa::new(BlockIdx(9), 0);
        parts[1].program_page(at, &[&data], &[1, 2, 3]).unwrap();
        let reader = parts[1].reader().unwrap().unwrap();
        let mut out = vec![0u8; geo.page_size as usize];
        let mut oob = [0u8; 3];
        reader.read_page(at, &mut [&mut out], &mut oob).unwrap();
        assert_eq!((out.as_slice(), oob), (data.as_slice(), [1, 2, 3]));
        // Part 0's block 9 is another block: still erased (a hole here).
        parts[0]
            .reader()
            .unwrap()
            .unwrap()
            .read_page(at, &mut [&mut out], &mut oob)
            .unwrap();
        assert!(out.iter().all(|&x| x == 0));
        drop(reader);
        drop(parts);
        let again = SimNand::open_image(&path, SimOptions::default()).unwrap();
        assert_eq!(again.partitions(), 2);
        assert_eq!(again.into_parts().unwrap().len(), 2);
    }

    #[test]
    fn a_count_that_does_not_split_the_blocks_is_refused() {
        let geo = geometry();
        for n in [0u16, 5, 24] {
            let e = SimNand::new_ram_partitioned(geo, n, SimOptions::default()).unwrap_err();
            assert!(
                matches!(e, crate::ImageError::Partitions { .. }),
                "{n}: {e}"
            );
        }
    }

    #[test]
    fn a_shared_ram_array_has_one_power_switch() {
        let nand = SimNand::new_ram_partitioned(geometry(), 2, SimOptions::with_seed(5)).unwrap();
        let mut parts = nand.into_parts().unwrap();
        parts[0].with_array(|s| s.power_cut_after(0));
        let data = vec![1u8; geometry().page_size as usize];
        let e = parts[1]
            .program_page(Ppa::new(BlockIdx(3), 0), &[&data], &[])
            .unwrap_err();
        assert_eq!(e.kind(), NandErrorKind::PowerLoss);
        assert!(parts[0].last_cut().is_some() && parts[1].last_cut().is_some());
    }

    /// A file image's parts program side by side, each through its own
    /// mapping, and everything lands: reopened, every part reads its own.
    #[test]
    fn file_parts_program_concurrently_without_a_shared_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nand.img");
        let geo = geometry();
        let nand = SimNand::create_partitioned_image(&path, geo, 3, SimOptions::default()).unwrap();
        let parts = nand.into_parts().unwrap();
        let fill = |k: u16, b: u32, p: u32| (k as u32 * 7 + b * 3 + p) as u8;
        let written: Vec<Vec<(BlockIdx, u32)>> = std::thread::scope(|s| {
            let workers: Vec<_> = parts
                .into_iter()
                .map(|mut part| {
                    s.spawn(move || {
                        let k = part.index();
                        let mut done = Vec::new();
                        for b in 0..part.geometry().total_blocks() {
                            let b = BlockIdx(b);
                            if part.is_bad_block(b).unwrap() {
                                continue;
                            }
                            for p in 0..geo.pages_per_block {
                                let data = vec![fill(k, b.0, p); geo.page_size as usize];
                                part.program_page(Ppa::new(b, p), &[&data], &[k as u8])
                                    .unwrap();
                                done.push((b, p));
                            }
                        }
                        part.sync().unwrap();
                        done
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        let again = SimNand::open_image(&path, SimOptions::default()).unwrap();
        let mut parts = again.into_parts().unwrap();
        let mut out = vec![0u8; geo.page_size as usize];
        let mut oob = [0u8; 1];
        for (k, part) in parts.iter_mut().enumerate() {
            assert!(!written[k].is_empty());
            for &(b, p) in &written[k] {
                part.read_page(Ppa::new(b, p), &mut [&mut out], &mut oob)
                    .unwrap();
                let want = fill(k as u16, b.0, p);
                assert!(
                    out.iter().all(|&x| x == want),
                    "part {k} block {} page {p}",
                    b.0
                );
                assert_eq!(oob[0], k as u8);
            }
        }
    }
}
