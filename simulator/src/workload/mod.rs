//! Host workloads for the simulator. For now only the zipf sampler, moved
//! here from the `tests` crate so `ftl-sim` and the tests share one.

mod zipf;

pub use zipf::{scramble, Zipf, MAX_ZIPF_EXPONENT};
