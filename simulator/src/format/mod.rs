//! The image file format, one module per on-disk structure: [`layout`]
//! (where each part of the file lives), [`header`] and [`tables`] (the
//! block table and the page-state table). Each module holds its drawing, its
//! constants and its encoder and decoder side by side, and knows nothing of
//! files, mappings or NAND rules: `image` and `media` call it and know no
//! byte offsets of their own.
//!
//! Integers are little-endian, read and written through
//! [`ftl_core::format::le`], the one helper every zcftl format shares.

pub(crate) mod header;
pub(crate) mod layout;
pub(crate) mod tables;
