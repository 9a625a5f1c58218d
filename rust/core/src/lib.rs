//! The WireGuard protocol engine of if_wg: sans-IO and `no_std`.
//!
//! Hosts (the FreeBSD kernel shim, the `wgd` daemon, the tests) hand the
//! engine bytes, the time and randomness; it answers with what to do. It never
//! sends, sleeps, reads a clock or allocates on the data path, which is what
//! lets one body of code run in the kernel, in userspace and in a simulator.
//! [`device::Device`] is the entry point; the other modules are its parts.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod allowedips;
pub mod config;
pub mod consts;
pub mod cookie;
pub mod crypto;
pub mod device;
pub mod endpoint;
pub mod errno;
pub mod error;
pub mod index;
pub mod ip;
pub mod keymap;
pub mod keypair;
pub mod messages;
pub mod noise;
pub mod nvconfig;
pub mod nvlist;
pub mod replay;
pub mod sort;
pub mod sync;
#[cfg(any(test, feature = "testutil"))]
pub mod testutil;
pub mod time;
pub mod timers;
#[cfg(feature = "uapi")]
pub mod uapi;

pub use device::{Decap, Device, Encap, PeerAction, PeerId, Received};
pub use endpoint::Endpoint;
pub use error::{Error, Result};
pub use time::{Deadline, Duration, Instant, Time, WallTime};
