//! A host's own per-engine state, as wgd keeps it: staged packets and the
//! one deadline per peer it was last given.

use std::collections::{BTreeMap, VecDeque};
use wg_core::{Device, PeerId};

pub struct Host {
    pub dev: Device,
    /// Bumped when the device restarts: older timers and sessions are void.
    pub inc: u32,
    /// Packet ids waiting for a session, oldest first.
    pub staged: BTreeMap<PeerId, VecDeque<u64>>,
    pub deadlines: BTreeMap<PeerId, u64>,
    /// When the last initiation of a still unanswered handshake left.
    pub attempts: BTreeMap<PeerId, u64>,
    /// Suspended until then: no receiving, no timers, no sending.
    pub frozen_until: u64,
    /// Most peers configured at once: slots must be reused, not grown.
    pub peak_peers: usize,
}

impl Host {
    pub fn new(dev: Device, inc: u32) -> Host {
        Host {
            dev,
            inc,
            staged: BTreeMap::new(),
            deadlines: BTreeMap::new(),
            attempts: BTreeMap::new(),
            frozen_until: 0,
            peak_peers: 0,
        }
    }

    pub fn frozen(&self, now: u64) -> bool {
        now < self.frozen_until
    }
}
