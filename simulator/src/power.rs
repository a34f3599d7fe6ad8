//! Power cuts: a countdown over mutating operations, what an interrupted
//! operation leaves behind, and the report of where and during what the
//! power failed.
//!
//! Mutating operations — program, erase, bad-block mark — that reach the
//! medium are numbered from 1 over the simulator's life ([`Power::ops_done`]
//! counts the completed ones). Calls refused by argument or rule checks
//! never reach the medium and are not numbered; reads are never numbered.
//!
//! NAND does not fail clean: an interrupted program leaves its page erased,
//! partly programmed (some bits still 1) or as garbage; an interrupted erase
//! leaves some pages erased and the rest half-erased garbage, and the block
//! needing a fresh erase. Which one is drawn from the seed.

use ftl_core::{BlockIdx, Ppa};

use crate::error::{OpKind, Target};
use crate::rng::Rng;

/// What an interrupted (or failed) program left in its page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PageTear {
    /// Nothing was programmed: the page reads all 0xFF.
    Erased,
    /// A prefix was programmed; past it some bits never left 1.
    Partial,
    /// Random bytes.
    Garbage,
}

/// What an interrupted operation left behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tear {
    /// A program: the page is torn this way.
    Program(PageTear),
    /// An erase: `erased` pages came out erased, `garbage` half-erased.
    Erase {
        /// Pages left erased.
        erased: u32,
        /// Pages left as half-erased garbage (state torn).
        garbage: u32,
    },
    /// A bad-block mark: whether it landed.
    MarkBad {
        /// The block reads as bad after the cut.
        landed: bool,
    },
}

/// Where and during what the power failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CutReport {
    /// The interrupted operation's number (see the module docs): one more
    /// than `ops_done()` at the time of the cut.
    pub op_index: u64,
    /// The interrupted operation.
    pub op: OpKind,
    /// The page or block it addressed.
    pub target: Target,
    /// What it left behind.
    pub tear: Tear,
}

/// The power-cut countdown and the state after a cut.
#[derive(Clone, Debug, Default)]
pub(crate) struct Power {
    ops_done: u64,
    /// Mutating operations still allowed to complete before the cut.
    remaining: Option<u64>,
    lost: bool,
    last: Option<CutReport>,
}

impl Power {
    pub(crate) fn ops_done(&self) -> u64 {
        self.ops_done
    }

    pub(crate) fn is_lost(&self) -> bool {
        self.lost
    }

    pub(crate) fn last_cut(&self) -> Option<CutReport> {
        self.last
    }

    /// Lets `n` more mutating operations complete and interrupts the next.
    pub(crate) fn cut_after(&mut self, n: u64) {
        self.remaining = Some(n);
    }

    /// Disarms any countdown.
    pub(crate) fn disarm(&mut self) {
        self.remaining = None;
    }

    /// Power comes back: operations run again, the medium as the cut left it.
    pub(crate) fn restore(&mut self) {
        self.lost = false;
        self.remaining = None;
    }

    /// Whether the mutating operation about to run is the interrupted one.
    pub(crate) fn cuts_now(&self) -> bool {
        self.remaining == Some(0)
    }

    /// Counts a completed mutating operation.
    pub(crate) fn completed(&mut self) {
        self.ops_done += 1;
        if let Some(r) = self.remaining.as_mut() {
            *r = r.saturating_sub(1);
        }
    }

    /// Records the cut: power stays lost until `restore`.
    pub(crate) fn cut(&mut self, op: OpKind, target: Target, tear: Tear) -> CutReport {
        let report = CutReport {
            op_index: self.ops_done + 1,
            op,
            target,
            tear,
        };
        self.lost = true;
        self.remaining = None;
        self.last = Some(report);
        report
    }
}

/// Tears a page whose data and spare already hold the intended bytes:
/// leaves it erased (all 0xFF), partly programmed, or as garbage. A
/// partial or garbage tear never equals the intended bytes.
///
/// The page is torn as one record, data then spare, wherever the image
/// keeps the two: the same seed tears it the same way in every layout.
pub(crate) fn tear_page(rng: &mut Rng, data: &mut [u8], spare: &mut [u8]) -> PageTear {
    let mut record = [&*data, &*spare].concat();
    let tear = tear_record(rng, &mut record);
    let (d, s) = record.split_at(data.len());
    data.copy_from_slice(d);
    spare.copy_from_slice(s);
    tear
}

fn tear_record(rng: &mut Rng, record: &mut [u8]) -> PageTear {
    let intended = record.to_vec();
    let tear = match rng.below(3) {
        0 => PageTear::Erased,
        1 => PageTear::Partial,
        _ => PageTear::Garbage,
    };
    match tear {
        PageTear::Erased => record.fill(0xFF),
        PageTear::Partial => {
            // Programming pulls bits from 1 to 0; cut short, some of the
            // bits past a point are still 1.
            let from = rng.below(record.len() as u64) as usize;
            for b in record[from..].iter_mut() {
                *b |= rng.next_u64() as u8;
            }
        }
        PageTear::Garbage => rng.fill(record),
    }
    if tear != PageTear::Erased && *record == intended[..] {
        // The draw happened to change nothing (e.g. intended bytes were
        // already 0xFF there); an indeterminate page may hold anything, so
        // make it visibly wrong rather than silently right.
        if let Some(b) = record.first_mut() {
            *b ^= 1;
        }
    }
    tear
}

/// Half-erases one page of an interrupted erase: erasing pulls bits toward
/// 1, so a random subset of its 0 bits are already 1.
pub(crate) fn half_erase(rng: &mut Rng, data: &mut [u8], spare: &mut [u8]) {
    for b in data.iter_mut().chain(spare.iter_mut()) {
        *b |= rng.next_u64() as u8;
    }
}

/// The target of a page operation (for reports).
pub(crate) fn page(ppa: Ppa) -> Target {
    Target::Page(ppa)
}

/// The target of a block operation (for reports).
pub(crate) fn block(b: BlockIdx) -> Target {
    Target::Block(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countdown_cuts_the_op_after_n() {
        let mut p = Power::default();
        p.cut_after(2);
        assert!(!p.cuts_now());
        p.completed();
        assert!(!p.cuts_now());
        p.completed();
        assert!(p.cuts_now());
        let r = p.cut(
            OpKind::Erase,
            block(BlockIdx(1)),
            Tear::MarkBad { landed: false },
        );
        assert_eq!(r.op_index, 3);
        assert!(p.is_lost());
        p.restore();
        assert!(!p.is_lost() && !p.cuts_now());
        assert_eq!(p.ops_done(), 2);
        assert_eq!(p.last_cut(), Some(r));
    }

    #[test]
    fn torn_pages_are_never_the_intended_bytes_unless_erased() {
        let mut rng = Rng::new(11);
        let mut kinds = [0u32; 3];
        for round in 0..300u32 {
            // Include all-0xFF and all-zero intended pages: the hard cases.
            let fill = match round % 3 {
                0 => 0xFF,
                1 => 0x00,
                _ => round as u8,
            };
            let intended = vec![fill; 64];
            let mut rec = intended.clone();
            let (data, spare) = rec.split_at_mut(48);
            let t = tear_page(&mut rng, data, spare);
            match t {
                PageTear::Erased => {
                    kinds[0] += 1;
                    assert!(rec.iter().all(|&b| b == 0xFF));
                }
                PageTear::Partial => {
                    kinds[1] += 1;
                    assert_ne!(rec, intended);
                }
                PageTear::Garbage => {
                    kinds[2] += 1;
                    assert_ne!(rec, intended);
                }
            }
        }
        assert!(kinds.iter().all(|&k| k > 50), "{kinds:?}");
    }
}
