//! A host's own per-engine state, as wgd keeps it: staged packets and the
//! one deadline per peer it was last given.

use crate::net::Addr;
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
    /// Its users send nothing until then.
    pub quiet_until: u64,
    /// The host reports load to the engine until then.
    pub loaded_until: u64,
    /// The last event that restarts a peer's handshake attempt from zero
    /// as far as the host can see (a packet for it, a datagram from it,
    /// configuration touching it, a thaw): the attempt must give up or
    /// succeed within REKEY_ATTEMPT_TIME's bound after it.
    pub last_reset: BTreeMap<PeerId, u64>,
    /// When the host last handed the engine a packet for the peer.
    pub last_traffic: BTreeMap<PeerId, u64>,
    /// The handshake gave up (DropStaged) then, and nothing has asked for
    /// a new one since.
    pub gave_up: BTreeMap<PeerId, u64>,
    /// Where the peer's last authenticated handshake message or data came
    /// from: where the engine must send to it now (roaming), until the
    /// configuration sets an endpoint.
    pub roamed: BTreeMap<PeerId, Addr>,
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
            quiet_until: 0,
            loaded_until: 0,
            last_reset: BTreeMap::new(),
            last_traffic: BTreeMap::new(),
            gave_up: BTreeMap::new(),
            roamed: BTreeMap::new(),
        }
    }

    pub fn frozen(&self, now: u64) -> bool {
        now < self.frozen_until
    }

    /// Something asked for a handshake: a new attempt, and no give-up.
    pub fn reset(&mut self, peer: PeerId, now: u64) {
        self.last_reset.insert(peer, now);
        self.gave_up.remove(&peer);
    }

    /// The peer is gone: nothing of it stays.
    pub fn forget(&mut self, peer: PeerId) {
        self.deadlines.remove(&peer);
        self.attempts.remove(&peer);
        self.last_reset.remove(&peer);
        self.last_traffic.remove(&peer);
        self.gave_up.remove(&peer);
        self.roamed.remove(&peer);
    }
}
