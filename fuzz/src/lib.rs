//! The harnesses behind the cargo fuzz targets in `fuzz_targets/`, kept in
//! a library so that `seed-corpus` and the unit tests here drive exactly
//! the code the fuzzer runs.

pub mod allowedips;
pub mod nvlist;
pub mod receive;
pub mod seeds;
pub mod uapi;
