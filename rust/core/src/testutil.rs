//! Helpers shared by the engine's own tests: a seeded generator and a
//! two-device harness that carries datagrams between them.

use crate::device::Rng;
use crate::time::Time;
use core::sync::atomic::{AtomicU64, Ordering};

/// SplitMix64: deterministic, seeded, thread-safe enough for tests.
pub struct SeededRng(AtomicU64);

impl SeededRng {
    pub fn new(seed: u64) -> Self {
        SeededRng(AtomicU64::new(seed))
    }
}

impl Rng for SeededRng {
    fn fill(&self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let mut z = self
                .0
                .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
                .wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
    }
}

/// A start time far from zero, so that "never" and "long ago" differ.
pub const T0: Time = Time::from_nanos(1_000_000_000_000, 1_700_000_000_000_000_000);

/// Shorthands for configuration tests (nvlist and UAPI codecs).
pub fn v4(a: [u8; 4], c: u8) -> crate::allowedips::IpPrefix {
    crate::allowedips::IpPrefix::new_v4(a, c).unwrap()
}

pub fn v6(a: [u8; 16], c: u8) -> crate::allowedips::IpPrefix {
    crate::allowedips::IpPrefix::new_v6(a, c).unwrap()
}

pub fn add(prefix: crate::allowedips::IpPrefix) -> crate::config::AllowedIpChange {
    crate::config::AllowedIpChange {
        prefix,
        remove: false,
    }
}

pub fn peer(k: u8) -> crate::config::PeerUpdate {
    crate::config::PeerUpdate {
        public_key: [k; 32],
        ..Default::default()
    }
}
