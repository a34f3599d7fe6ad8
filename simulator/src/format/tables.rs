//! The two tables between the header and the pages (see
//! [`super::layout`]): an entry per block and a state byte per page.
//!
//! ```text
//!  block-table entry, BLOCK_ENTRY_LEN = 8 bytes    page-state byte
//!  0  erase count (completed erases)  u32 LE       0  erased
//!  4  flags                           u8           1  programmed
//!       bit 0  bad                                 2  torn
//!       bit 1  factory bad                         3..=255 refused
//!       bit 2  needs erase
//!       bits 3..=7 refused
//!  5  reserved (0)                    3 × u8
//! ```
//!
//! All zeros is a fresh block (good, never erased) and an erased page, so a
//! freshly sized image needs no table written. The tables carry no checksum
//! of their own: their shape is the header's version, and every byte value
//! outside the drawing is refused on open. Across a block, outside one that
//! needs an erase, the non-erased pages form a prefix: programs go in page
//! order, and only an interrupted erase leaves holes.

use ftl_core::format::le;

/// Bytes of one block-table entry.
pub const BLOCK_ENTRY_LEN: u64 = 8;

/// The state of one page, as kept in the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PageState {
    /// Erased: reads 0xFF, may be programmed (in order).
    Erased,
    /// Programmed completely.
    Programmed,
    /// Indeterminate after an interrupted or failed program or erase: reads
    /// back whatever it holds; must be erased before it is programmed.
    Torn,
}

const PAGE_ERASED: u8 = 0;
const PAGE_PROGRAMMED: u8 = 1;
const PAGE_TORN: u8 = 2;

const ERASE_COUNT_AT: usize = 0;
const FLAGS_AT: usize = 4;
const RESERVED_AT: usize = 5;
const ENTRY_LEN: usize = BLOCK_ENTRY_LEN as usize;

const FLAG_BAD: u8 = 1;
const FLAG_FACTORY_BAD: u8 = 2;
const FLAG_NEEDS_ERASE: u8 = 4;
const FLAGS_KNOWN: u8 = FLAG_BAD | FLAG_FACTORY_BAD | FLAG_NEEDS_ERASE;

/// Table names as an [`crate::ImageError::Damaged`] reports them.
const BLOCK_TABLE: &str = "block table";
const PAGE_STATE_TABLE: &str = "page-state table";

/// Why one table entry was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum EntryError {
    /// A block entry of the wrong length (or missing).
    #[error("block entry is {0} bytes, not {ENTRY_LEN}")]
    Length(usize),
    /// Flag bits this version does not define.
    #[error("unknown block flags {0:#04x}")]
    UnknownFlags(u8),
    /// A reserved byte of a block entry is not zero.
    #[error("reserved bytes not zero")]
    Reserved,
    /// A page-state byte this version does not define (or missing).
    #[error("unknown page state {0:?}")]
    UnknownState(Option<u8>),
    /// A written page above an erased one, in a block that needs no erase.
    #[error("a written page above an erased one")]
    Hole,
}

/// A table refused on open: which table, which entry, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{table} is damaged at entry {index}: {why}")]
pub(crate) struct TableError {
    /// "block table" or "page-state table".
    pub(crate) table: &'static str,
    /// The block or flat page index.
    pub(crate) index: u64,
    /// What is wrong with it.
    pub(crate) why: EntryError,
}

impl PageState {
    /// The state a byte of the page-state table stands for.
    pub(crate) fn decode(b: u8) -> Result<PageState, EntryError> {
        match b {
            PAGE_ERASED => Ok(PageState::Erased),
            PAGE_PROGRAMMED => Ok(PageState::Programmed),
            PAGE_TORN => Ok(PageState::Torn),
            _ => Err(EntryError::UnknownState(Some(b))),
        }
    }

    /// The page-state table's byte for this state.
    pub(crate) fn encode(self) -> u8 {
        match self {
            PageState::Erased => PAGE_ERASED,
            PageState::Programmed => PAGE_PROGRAMMED,
            PageState::Torn => PAGE_TORN,
        }
    }
}

/// One block-table entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct BlockEntry {
    pub(crate) erase_count: u32,
    flags: u8,
}

impl BlockEntry {
    pub(crate) fn is_bad(&self) -> bool {
        self.flags & FLAG_BAD != 0
    }

    pub(crate) fn needs_erase(&self) -> bool {
        self.flags & FLAG_NEEDS_ERASE != 0
    }

    /// Marks the block bad; `factory` records that it came that way.
    pub(crate) fn set_bad(&mut self, factory: bool) {
        self.flags |= FLAG_BAD;
        if factory {
            self.flags |= FLAG_FACTORY_BAD;
        }
    }

    pub(crate) fn set_needs_erase(&mut self, needs: bool) {
        if needs {
            self.flags |= FLAG_NEEDS_ERASE;
        } else {
            self.flags &= !FLAG_NEEDS_ERASE;
        }
    }

    /// Decodes exactly [`BLOCK_ENTRY_LEN`] bytes. Never panics.
    pub(crate) fn decode(bytes: &[u8]) -> Result<BlockEntry, EntryError> {
        let b: &[u8; ENTRY_LEN] = bytes
            .try_into()
            .map_err(|_| EntryError::Length(bytes.len()))?;
        let erase_count = le::u32_at(b, ERASE_COUNT_AT).ok_or(EntryError::Length(bytes.len()))?;
        let flags = b[FLAGS_AT];
        if flags & !FLAGS_KNOWN != 0 {
            return Err(EntryError::UnknownFlags(flags));
        }
        if b[RESERVED_AT..] != [0; ENTRY_LEN - RESERVED_AT] {
            return Err(EntryError::Reserved);
        }
        Ok(BlockEntry { erase_count, flags })
    }

    pub(crate) fn encode(&self) -> [u8; ENTRY_LEN] {
        let mut b = [0u8; ENTRY_LEN];
        le::put_u32(&mut b, ERASE_COUNT_AT, self.erase_count);
        b[FLAGS_AT] = self.flags;
        b
    }
}

/// Checks both tables of an image being opened: `block_table` holds
/// `blocks` entries and `page_states` a byte for each of their
/// `pages_per_block` pages (padding left out). Every entry must decode, and
/// each block's written pages form a prefix unless it needs an erase.
/// Never panics; short slices are refused at the first missing entry.
pub(crate) fn check(
    block_table: &[u8],
    page_states: &[u8],
    blocks: u64,
    pages_per_block: u64,
) -> Result<(), TableError> {
    for b in 0..blocks {
        let damaged = |why| TableError {
            table: BLOCK_TABLE,
            index: b,
            why,
        };
        let at = b
            .checked_mul(BLOCK_ENTRY_LEN)
            .and_then(|at| usize::try_from(at).ok())
            .unwrap_or(usize::MAX);
        let rest = block_table.get(at..).unwrap_or_default();
        let bytes = rest
            .get(..ENTRY_LEN)
            .ok_or(damaged(EntryError::Length(rest.len())))?;
        let entry = BlockEntry::decode(bytes).map_err(damaged)?;
        let mut seen_erased = false;
        for p in 0..pages_per_block {
            let index = b.saturating_mul(pages_per_block).saturating_add(p);
            let damaged = |why| TableError {
                table: PAGE_STATE_TABLE,
                index,
                why,
            };
            let byte = usize::try_from(index)
                .ok()
                .and_then(|i| page_states.get(i).copied());
            let state = byte
                .ok_or(EntryError::UnknownState(None))
                .and_then(PageState::decode)
                .map_err(damaged)?;
            if state == PageState::Erased {
                seen_erased = true;
            } else if seen_erased && !entry.needs_erase() {
                return Err(damaged(EntryError::Hole));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn block_entries_round_trip_and_reject_unknown_bits() {
        let e = BlockEntry {
            erase_count: 0x0102_0304,
            flags: FLAG_BAD | FLAG_NEEDS_ERASE,
        };
        assert_eq!(BlockEntry::decode(&e.encode()).ok(), Some(e));
        assert_eq!(
            e.encode(),
            [4, 3, 2, 1, 5, 0, 0, 0],
            "the bytes of version 1"
        );
        assert_eq!(BlockEntry::decode(&[0, 0, 0, 0, 8, 0, 0, 0]).ok(), None);
        assert_eq!(BlockEntry::decode(&[0, 0, 0, 0, 0, 0, 1, 0]).ok(), None);
        assert_eq!(BlockEntry::decode(&[0, 0, 0]).ok(), None);
    }

    #[test]
    fn zeros_are_a_fresh_block_and_an_erased_page() {
        assert_eq!(
            BlockEntry::decode(&[0; ENTRY_LEN]),
            Ok(BlockEntry::default())
        );
        assert_eq!(PageState::decode(0), Ok(PageState::Erased));
        assert_eq!(check(&[0; 3 * ENTRY_LEN], &[0; 12], 3, 4), Ok(()));
    }

    #[test]
    fn every_state_byte_decodes_to_its_encoding_or_is_refused() {
        for b in 0..=u8::MAX {
            match PageState::decode(b) {
                Ok(s) => assert_eq!(s.encode(), b),
                Err(e) => assert_eq!(e, EntryError::UnknownState(Some(b))),
            }
        }
    }

    #[test]
    fn a_hole_is_refused_unless_the_block_needs_an_erase() {
        let mut entry = BlockEntry::default();
        let states = [0, 1, 0, 0];
        let e = check(&entry.encode(), &states, 1, 4).unwrap_err();
        assert_eq!(
            (e.table, e.index, e.why),
            (PAGE_STATE_TABLE, 1, EntryError::Hole)
        );
        entry.set_needs_erase(true);
        assert_eq!(check(&entry.encode(), &states, 1, 4), Ok(()));
    }

    fn entry() -> impl Strategy<Value = BlockEntry> {
        (any::<u32>(), 0..=FLAGS_KNOWN)
            .prop_map(|(erase_count, flags)| BlockEntry { erase_count, flags })
    }

    fn state() -> impl Strategy<Value = PageState> {
        prop_oneof![
            Just(PageState::Erased),
            Just(PageState::Programmed),
            Just(PageState::Torn),
        ]
    }

    /// Tables as the simulator leaves them: per block an entry and, unless
    /// it needs an erase, written pages (programmed or torn) as a prefix.
    fn tables() -> impl Strategy<Value = (Vec<u8>, Vec<u8>, u64, u64)> {
        (1u64..=8, 1u64..=8).prop_flat_map(|(blocks, ppb)| {
            let block = (
                entry(),
                0..=ppb,
                proptest::collection::vec(state(), ppb as usize),
            );
            proptest::collection::vec(block, blocks as usize).prop_map(move |bs| {
                let (mut table, mut states) = (Vec::new(), Vec::new());
                for (e, written, mut pages) in bs {
                    if !e.needs_erase() {
                        for (p, s) in pages.iter_mut().enumerate() {
                            if (p as u64) < written {
                                if *s == PageState::Erased {
                                    *s = PageState::Programmed;
                                }
                            } else {
                                *s = PageState::Erased;
                            }
                        }
                    }
                    table.extend_from_slice(&e.encode());
                    states.extend(pages.iter().map(|s| s.encode()));
                }
                (table, states, blocks, ppb)
            })
        })
    }

    proptest! {
        #[test]
        fn every_valid_entry_round_trips(e in entry()) {
            prop_assert_eq!(BlockEntry::decode(&e.encode()), Ok(e));
        }

        // No checksum guards an entry, so a corrupted erase count decodes;
        // but never to the value it was, and unknown bits never pass.
        #[test]
        fn a_corrupted_entry_is_refused_or_decodes_to_another_value(
            e in entry(),
            at in 0..ENTRY_LEN,
            mask in 1u8..=255,
        ) {
            let mut b = e.encode();
            b[at] ^= mask;
            match BlockEntry::decode(&b) {
                Ok(d) => {
                    prop_assert_ne!(d, e);
                    prop_assert!(at < RESERVED_AT);
                }
                Err(EntryError::UnknownFlags(_)) => prop_assert_eq!(at, FLAGS_AT),
                Err(EntryError::Reserved) => prop_assert!(at >= RESERVED_AT),
                Err(other) => prop_assert!(false, "{other:?}"),
            }
        }

        #[test]
        fn arbitrary_entry_bytes_are_refused_or_canonical(
            bytes in proptest::collection::vec(any::<u8>(), 0..=2 * ENTRY_LEN),
        ) {
            if let Ok(e) = BlockEntry::decode(&bytes) {
                prop_assert_eq!(&e.encode()[..], &bytes[..]);
            }
        }

        #[test]
        fn tables_the_simulator_writes_pass((table, states, blocks, ppb) in tables()) {
            prop_assert_eq!(check(&table, &states, blocks, ppb), Ok(()));
        }

        #[test]
        fn a_corrupted_state_byte_is_refused_or_still_consistent(
            (table, mut states, blocks, ppb) in tables(),
            at in any::<prop::sample::Index>(),
            value in any::<u8>(),
        ) {
            let at = at.index(states.len());
            states[at] = value;
            // Refused in the page's own block (a hole may show at a page
            // above the one that changed).
            if let Err(e) = check(&table, &states, blocks, ppb) {
                prop_assert_eq!(e.table, PAGE_STATE_TABLE);
                prop_assert_eq!(e.index / ppb, at as u64 / ppb);
            }
        }

        #[test]
        fn arbitrary_tables_never_panic(
            table in proptest::collection::vec(any::<u8>(), 0..=64),
            states in proptest::collection::vec(any::<u8>(), 0..=64),
            blocks in 0u64..=10,
            ppb in 0u64..=10,
        ) {
            let _ = check(&table, &states, blocks, ppb);
        }
    }
}
