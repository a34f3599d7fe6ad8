//! Driving an [`Ssd`] with a [`RequestSource`] in simulated time: closed
//! loop at a queue depth, or open loop at the source's arrival times.
//!
//! **Closed loop** keeps `qd` requests outstanding: each next request is
//! submitted when the earliest outstanding one completes (all `qd` at time
//! 0 to start). **Open loop** submits each request at its arrival time
//! times `time_scale` (a trace's timestamps; 0.5 replays twice as fast),
//! however many are outstanding. Either way submissions never go back in
//! time, which is what the [`Ssd`]'s timeline needs.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::ssd::{Ssd, SsdError};
use crate::workload::{Request, RequestSource, TraceError};

/// Why a replay stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The source failed (a bad trace line: file and line named).
    #[error(transparent)]
    Source(#[from] TraceError),
    /// The device failed a request.
    #[error("request {index} ({req:?}): {source}")]
    Device {
        /// 0-based index of the request.
        index: u64,
        /// The request.
        req: Request,
        /// What the device said.
        source: SsdError,
    },
}

/// How to drive.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pace {
    /// `qd` requests outstanding (at least 1).
    Closed {
        /// Queue depth.
        qd: u32,
    },
    /// At arrival × `time_scale`.
    Open {
        /// Multiplier of arrival times.
        time_scale: f64,
    },
}

/// What a replay did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Replayed {
    /// Requests served.
    pub requests: u64,
    /// The first submission (ns).
    pub first_ns: u64,
    /// The last completion (ns).
    pub last_done_ns: u64,
}

/// Serves up to `limit` requests of `source` on `ssd` (all of it with
/// `None`), calling `done(request, submitted, completed)` for each.
pub fn replay(
    ssd: &mut Ssd,
    source: &mut dyn RequestSource,
    pace: Pace,
    limit: Option<u64>,
    mut done: impl FnMut(&Request, u64, u64),
) -> Result<Replayed, ReplayError> {
    replay_observed(ssd, source, pace, limit, |_, req, at, completed| {
        done(req, at, completed)
    })
}

/// [`replay`], with the device handed to `done(ssd, request, submitted,
/// completed)` too, so a caller can read its counters between requests
/// (`ftl-sim`'s write amplification per interval).
pub fn replay_observed(
    ssd: &mut Ssd,
    source: &mut dyn RequestSource,
    pace: Pace,
    limit: Option<u64>,
    mut done: impl FnMut(&Ssd, &Request, u64, u64),
) -> Result<Replayed, ReplayError> {
    let mut outstanding: BinaryHeap<Reverse<u64>> = BinaryHeap::new();
    let mut out = Replayed::default();
    let mut now = 0u64;
    let mut first = None;
    while limit.map_or(true, |l| out.requests < l) {
        let Some(req) = source.next_request()? else {
            break;
        };
        let at = match pace {
            Pace::Closed { qd } => {
                if outstanding.len() >= qd.max(1) as usize {
                    let Reverse(t) = outstanding.pop().expect("qd ≥ 1 outstanding");
                    now = now.max(t);
                }
                now
            }
            Pace::Open { time_scale } => {
                let t = (req.arrival_ns as f64 * time_scale) as u64;
                now = now.max(t);
                now
            }
        };
        let completed = ssd.submit(&req, at).map_err(|source| ReplayError::Device {
            index: out.requests,
            req,
            source,
        })?;
        if let Pace::Closed { .. } = pace {
            outstanding.push(Reverse(completed));
        }
        first.get_or_insert(at);
        out.last_done_ns = out.last_done_ns.max(completed);
        out.requests += 1;
        done(ssd, &req, at, completed);
    }
    out.first_ns = first.unwrap_or(0);
    Ok(out)
}
