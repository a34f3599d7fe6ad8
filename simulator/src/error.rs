//! [`SimError`]: a [`NandErrorKind`] plus where, during what, and why.

use core::fmt;

use ftl_core::{BlockIdx, NandError, NandErrorKind, Ppa};

/// The kind of NAND operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// `read_page`.
    Read,
    /// `program_page`.
    Program,
    /// `erase_block`.
    Erase,
    /// `is_bad_block`.
    QueryBad,
    /// `mark_bad_block`.
    MarkBad,
    /// `sync`.
    Sync,
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OpKind::Read => "read",
            OpKind::Program => "program",
            OpKind::Erase => "erase",
            OpKind::QueryBad => "bad-block query",
            OpKind::MarkBad => "bad-block mark",
            OpKind::Sync => "sync",
        })
    }
}

/// What an operation addressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// One page.
    Page(Ppa),
    /// One erase block.
    Block(BlockIdx),
    /// The whole array (`sync`).
    Array,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Page(p) => write!(f, "{p}"),
            Target::Block(b) => write!(f, "{b}"),
            Target::Array => f.write_str("array"),
        }
    }
}

/// A failed simulator operation.
#[derive(Debug)]
pub struct SimError {
    kind: NandErrorKind,
    op: OpKind,
    target: Target,
    detail: &'static str,
    io: Option<std::io::Error>,
}

impl SimError {
    pub(crate) fn new(
        kind: NandErrorKind,
        op: OpKind,
        target: Target,
        detail: &'static str,
    ) -> Self {
        SimError {
            kind,
            op,
            target,
            detail,
            io: None,
        }
    }

    pub(crate) fn io(op: OpKind, err: std::io::Error) -> Self {
        SimError {
            kind: NandErrorKind::Other,
            op,
            target: Target::Array,
            detail: "backing file I/O failed",
            io: Some(err),
        }
    }

    /// The operation that failed.
    pub fn op(&self) -> OpKind {
        self.op
    }

    /// What it addressed.
    pub fn target(&self) -> Target {
        self.target
    }

    /// Why, in a few words.
    pub fn detail(&self) -> &'static str {
        self.detail
    }
}

impl NandError for SimError {
    fn kind(&self) -> NandErrorKind {
        self.kind
    }
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {}: {} ({})",
            self.op, self.target, self.kind, self.detail
        )?;
        if let Some(e) = &self.io {
            write!(f, ": {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SimError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.io.as_ref().map(|e| e as _)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_op_target_kind_and_detail() {
        let e = SimError::new(
            NandErrorKind::ProgramOrder,
            OpKind::Program,
            Target::Page(Ppa::new(BlockIdx(3), 5)),
            "page is not erased",
        );
        assert_eq!(
            e.to_string(),
            "program of block 3 page 5: program violates page order (page is not erased)"
        );
        assert_eq!(e.kind(), NandErrorKind::ProgramOrder);
    }
}
