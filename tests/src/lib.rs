//! Shared test machinery for zcftl's integration tests (and fuzz targets).
pub mod crash;
pub mod rng;
