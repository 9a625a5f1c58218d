//! The WireGuard protocol engine of if_wg: sans-IO and `no_std`.
//!
//! Hosts (the FreeBSD kernel shim, the `wgd` daemon, the tests) hand the
//! engine bytes, the time and randomness; it answers with what to do. It never
//! sends, sleeps, reads a clock or allocates on the data path, which is what
//! lets one body of code run in the kernel, in userspace and in a simulator.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod allowedips;
pub mod consts;
pub mod cookie;
pub mod crypto;
pub mod error;
pub mod messages;
pub mod noise;
pub mod replay;

pub use error::{Error, Result};
