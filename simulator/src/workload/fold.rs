//! Folding a trace's addresses onto a smaller (or any) device.
//!
//! The rule: the device's usable size, the *modulus*, is its size rounded
//! down to a multiple of the alignment (the FTL's sector, say 4 KiB); every
//! byte of a request goes to its trace address modulo the modulus. A
//! request that crosses the end after folding is split: the part up to the
//! end, then the rest from 0 (more pieces if it is longer than the device,
//! which no real trace has). Pieces keep the request's op and arrival.
//!
//! Why split rather than shift a crossing request back to fit: with a
//! per-byte rule two trace requests that overlapped still overlap, and one
//! that rewrote a block still rewrites the same block — the overwrite
//! pattern, which is what drives an FTL's garbage collection, survives the
//! folding. Why the modulus is a multiple of the alignment: a request
//! aligned to the FTL's sector in the trace stays aligned after folding.
//!
//! Flushes pass through untouched.

use super::{Op, Request, RequestSource, TraceError};

/// A device size and alignment nothing can be folded onto.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot fold onto a device of {device_bytes} bytes aligned to {align_bytes}: it must hold at least one aligned unit")]
pub struct FoldError {
    /// The device size given.
    pub device_bytes: u64,
    /// The alignment given.
    pub align_bytes: u64,
}

/// Folds requests onto `0..modulus()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Folder {
    modulus: u64,
}

impl Folder {
    /// Folds onto a device of `device_bytes`, using only its first
    /// `device_bytes` rounded down to a multiple of `align_bytes`.
    pub fn new(device_bytes: u64, align_bytes: u64) -> Result<Self, FoldError> {
        let err = FoldError {
            device_bytes,
            align_bytes,
        };
        let modulus = device_bytes
            .checked_div(align_bytes)
            .ok_or(err)?
            .checked_mul(align_bytes)
            .ok_or(err)?;
        if modulus == 0 {
            return Err(err);
        }
        Ok(Folder { modulus })
    }

    /// The bytes addresses are folded into: `0..modulus()`.
    pub fn modulus(&self) -> u64 {
        self.modulus
    }

    /// The pieces `req` becomes: one unless it crosses the device's end.
    pub fn fold(&self, req: Request) -> Pieces {
        Pieces {
            template: req,
            offset: if req.op == Op::Flush {
                req.offset_bytes
            } else {
                req.offset_bytes % self.modulus
            },
            remaining: req.len_bytes,
            modulus: self.modulus,
            first: true,
        }
    }
}

/// The pieces of one folded request, in address order from the request's
/// folded start (see [`Folder::fold`]).
#[derive(Clone, Debug)]
pub struct Pieces {
    template: Request,
    offset: u64,
    remaining: u64,
    modulus: u64,
    first: bool,
}

impl Iterator for Pieces {
    type Item = Request;

    fn next(&mut self) -> Option<Request> {
        if self.template.op == Op::Flush || self.template.len_bytes == 0 {
            // Passed through (a flush) or kept as one empty piece.
            return core::mem::take(&mut self.first).then_some(Request {
                offset_bytes: self.offset,
                ..self.template
            });
        }
        if self.remaining == 0 {
            return None;
        }
        let len = self.remaining.min(self.modulus - self.offset);
        let piece = Request {
            offset_bytes: self.offset,
            len_bytes: len,
            ..self.template
        };
        self.remaining -= len;
        self.offset = 0;
        self.first = false;
        Some(piece)
    }
}

/// A [`RequestSource`] whose requests are folded by a [`Folder`]: every
/// request it yields ends at or before `folder.modulus()`.
#[derive(Debug)]
pub struct FoldedSource<S> {
    inner: S,
    folder: Folder,
    pending: Option<Pieces>,
}

impl<S: RequestSource> FoldedSource<S> {
    /// Folds `inner`'s requests with `folder`.
    pub fn new(inner: S, folder: Folder) -> Self {
        FoldedSource {
            inner,
            folder,
            pending: None,
        }
    }

    /// The source it folds.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: RequestSource> RequestSource for FoldedSource<S> {
    fn next_request(&mut self) -> Result<Option<Request>, TraceError> {
        loop {
            if let Some(piece) = self.pending.as_mut().and_then(Iterator::next) {
                return Ok(Some(piece));
            }
            match self.inner.next_request()? {
                Some(req) => self.pending = Some(self.folder.fold(req)),
                None => return Ok(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(op: Op, offset_bytes: u64, len_bytes: u64) -> Request {
        Request {
            arrival_ns: 77,
            op,
            offset_bytes,
            len_bytes,
        }
    }

    fn pieces(f: &Folder, r: Request) -> Vec<(u64, u64)> {
        f.fold(r)
            .inspect(|p| {
                assert_eq!((p.op, p.arrival_ns), (r.op, r.arrival_ns));
                assert!(p.end_bytes() <= f.modulus());
            })
            .map(|p| (p.offset_bytes, p.len_bytes))
            .collect()
    }

    #[test]
    fn the_modulus_is_the_aligned_device() {
        assert_eq!(Folder::new(10_000, 4096).unwrap().modulus(), 8192);
        assert_eq!(Folder::new(1 << 30, 512).unwrap().modulus(), 1 << 30);
        assert_eq!(Folder::new(u64::MAX, 1).unwrap().modulus(), u64::MAX);
        assert!(Folder::new(4095, 4096).is_err());
        assert!(Folder::new(0, 512).is_err());
        assert!(Folder::new(4096, 0).is_err());
    }

    #[test]
    fn inside_wrapped_and_split() {
        let f = Folder::new(1 << 20, 4096).unwrap();
        let m = 1u64 << 20;
        assert_eq!(pieces(&f, req(Op::Write, 4096, 8192)), [(4096, 8192)]);
        // Folded whole: each byte at its address modulo the device.
        assert_eq!(
            pieces(&f, req(Op::Read, 5 * m + 4096, 8192)),
            [(4096, 8192)]
        );
        // Crossing the end: split, the rest from 0.
        assert_eq!(
            pieces(&f, req(Op::Write, 3 * m - 4096, 12288)),
            [(m - 4096, 4096), (0, 8192)]
        );
        // Ending exactly at the end: one piece.
        assert_eq!(
            pieces(&f, req(Op::Trim, m - 4096, 4096)),
            [(m - 4096, 4096)]
        );
        // Longer than the device: wraps as often as it must.
        assert_eq!(
            pieces(&f, req(Op::Write, 4096, 2 * m + 4096)),
            [(4096, m - 4096), (0, m), (0, 8192)]
        );
        // Huge addresses.
        assert_eq!(
            pieces(&f, req(Op::Read, u64::MAX - 511, 512)),
            [((u64::MAX - 511) % m, 512)]
        );
    }

    #[test]
    fn flushes_and_empty_requests_pass_as_one() {
        let f = Folder::new(8192, 4096).unwrap();
        assert_eq!(pieces(&f, req(Op::Flush, 0, 0)), [(0, 0)]);
        assert_eq!(pieces(&f, req(Op::Write, 8192 + 512, 0)), [(512, 0)]);
    }

    #[test]
    fn a_folded_source_yields_every_piece() {
        struct Two(Vec<Request>);
        impl RequestSource for Two {
            fn next_request(&mut self) -> Result<Option<Request>, TraceError> {
                Ok(self.0.pop())
            }
        }
        let src = Two(vec![
            req(Op::Read, 0, 512),
            req(Op::Write, 8192 - 512, 1024),
        ]);
        let mut f = FoldedSource::new(src, Folder::new(8192, 512).unwrap());
        let mut got = Vec::new();
        while let Some(r) = f.next_request().unwrap() {
            got.push((r.op, r.offset_bytes, r.len_bytes));
        }
        assert_eq!(
            got,
            [
                (Op::Write, 8192 - 512, 512),
                (Op::Write, 0, 512),
                (Op::Read, 0, 512)
            ]
        );
        assert!(f.inner().0.is_empty());
    }
}
