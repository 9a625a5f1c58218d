//! The device: one WireGuard interface's whole protocol state machine.
//!
//! A host drives it with four calls, each handing in the time:
//! - [`Device::encapsulate`] an IP packet from the tunnel: route it to a
//!   peer and seal it in place, or tell the host to stage it while a
//!   handshake runs;
//! - [`Device::decapsulate`] a datagram from the network: a handshake
//!   message (answered into `out`), a cookie reply, or data opened in place;
//! - [`Device::poll_peer`] whenever a result says so or a peer's deadline
//!   passes: it returns one thing to do (send this, flush or drop staged
//!   packets) or `Idle` with the next deadline;
//! - [`Device::set_config`] / [`Device::config`] for configuration.
//!
//! Locking: configuration takes the table lock for writing; every packet
//! takes it for reading and then the one peer's lock, so packets of
//! different peers never contend and configuration never sees a half-done
//! packet. Nothing on the packet paths allocates.

use crate::allowedips::{AllowedIps, IpAddrBytes, IpPrefix};
use crate::config::{DeviceInfo, DeviceUpdate, Key, Limits, PeerInfo, PeerUpdate};
use crate::consts::{
    KEEPALIVE_TIMEOUT, REJECT_AFTER_TIME, REKEY_AFTER_MESSAGES, REKEY_AFTER_TIME, REKEY_TIMEOUT,
    REKEY_TIMEOUT_JITTER_MAX,
};
use crate::cookie::{CookieChecker, CookieMaker};
use crate::crypto;
use crate::endpoint::Endpoint;
use crate::index::{IndexCodec, MAX_SLOTS, TAG_MASK};
use crate::keymap::KeyMap;
use crate::keypair::{self, KeyRing, Keypair, Slot};
use crate::messages::{self, MessageType};
use crate::noise::{Handshake, StaticIdentity};
use crate::sync::{Mutex, RwLock};
use crate::time::{Deadline, Duration, Instant, Time, WallTime};
use crate::timers::{TimerEvent, Timers, MAX_TIMER_HANDSHAKES};
use crate::{ip, Error, Result};
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use zeroize::Zeroize;

/// Bytes a host leaves before an IP packet handed to `encapsulate`: the
/// data message header is written there.
pub const DATA_HEADROOM: usize = messages::DATA_HEADER_LEN;
/// Bytes a host leaves after it: up to 15 of padding and the 16-byte tag.
pub const DATA_TAILROOM: usize = 15 + messages::DATA_TAG_LEN;
/// The largest handshake message, hence the size of an `out` buffer.
pub const MAX_HANDSHAKE_LEN: usize = messages::INITIATION_LEN;

/// Randomness, from the host (arc4random in the kernel, getrandom in
/// userspace, a seeded generator in simulations).
pub trait Rng: Send + Sync {
    fn fill(&self, buf: &mut [u8]);
}

/// A peer as hosts name it: stable while the peer exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub u32);

/// What to do with a packet given to [`Device::encapsulate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encap {
    /// `buf[..len]` is a data message: send it to `endpoint`. If `poll`,
    /// the peer has work or an earlier deadline: poll it.
    Send {
        peer: PeerId,
        endpoint: Endpoint,
        len: usize,
        poll: bool,
    },
    /// No usable session: keep the packet for this peer (at most
    /// `consts::MAX_STAGED_PACKETS`, dropping the oldest) and poll the peer;
    /// it will say when to hand the staged packets back.
    Staged { peer: PeerId },
}

/// What to do with a datagram given to [`Device::decapsulate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decap {
    /// Consumed (a keepalive, a cookie reply).
    Done,
    /// Send `out[..len]` back to the datagram's source.
    Reply { len: usize },
    /// `buf[offset..offset + len]` is an IP packet from the peer: deliver it.
    Tunnel { offset: usize, len: usize },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    pub action: Decap,
    /// The peer the datagram authenticated as, if any.
    pub peer: Option<PeerId>,
    /// The peer has work, or a deadline earlier than the one `poll_peer`
    /// last reported: call [`Device::poll_peer`] for it.
    pub poll: bool,
}

/// One thing a peer needs done, from [`Device::poll_peer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerAction {
    /// Send `out[..len]` to `endpoint`.
    Send { endpoint: Endpoint, len: usize },
    /// A session is ready: hand every staged packet back through
    /// [`Device::encapsulate_to`], in order, then poll again.
    FlushStaged,
    /// The handshake gave up: free the staged packets.
    DropStaged,
    /// Nothing to do until `next_deadline`, if any.
    Idle { next_deadline: Option<Instant> },
}

/// What a configuration change did to peers, so hosts can free or wake
/// their per-peer state (staged packets, callouts).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigChanges {
    pub removed: Vec<PeerId>,
    /// Peers created or changed: poll them.
    pub touched: Vec<PeerId>,
}

/// Counters of the device as a whole.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeviceStats {
    pub peers: usize,
    pub allowed_ips: usize,
    pub under_load: bool,
}

// Work a peer has pending, set by packet paths and timers, taken by poll.
const WANT_INITIATION: u32 = 1 << 0;
const WANT_INITIATION_RETRY: u32 = 1 << 1;
const WANT_KEEPALIVE: u32 = 1 << 2;
const FLUSH_STAGED: u32 = 1 << 3;
const DROP_STAGED: u32 = 1 << 4;
/// After a flush, send a keepalive unless the flush sent data (Linux's
/// `wg_packet_send_keepalive` after a handshake response).
const KEEPALIVE_IF_SILENT: u32 = 1 << 5;
const WORK: u32 = WANT_INITIATION
    | WANT_INITIATION_RETRY
    | WANT_KEEPALIVE
    | FLUSH_STAGED
    | DROP_STAGED
    | KEEPALIVE_IF_SILENT;
const SENT_SINCE_FLUSH: u32 = 1 << 8;

struct PeerState {
    handshake: Handshake,
    cookie: CookieMaker,
    timers: Timers,
    endpoint: Option<Endpoint>,
    persistent_keepalive: u16,
    rx_bytes: u64,
    tx_bytes: u64,
    last_handshake_real: WallTime,
    next_tag: u32,
    flags: u32,
    /// The deadline the host was last given (by `Idle`); a packet that arms
    /// an earlier timer must make the host poll so it re-arms its callout.
    reported_deadline: Deadline,
}

impl PeerState {
    /// Whether the host must poll: pending work, or a deadline the host
    /// does not know about yet.
    fn needs_poll(&self) -> bool {
        if self.flags & WORK != 0 {
            return true;
        }
        match (self.timers.next_deadline(), self.reported_deadline.get()) {
            (Some(d), Some(r)) => d < r,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }
}

/// A peer on the heap, boxed fallibly (as an array of one, the shape a
/// fallible allocation gives without unsafe code).
type PeerBox = Box<[Peer; 1]>;

/// Lock order: `state`, then `keys`. Packet crypto holds only a read lock
/// on `keys`, so packets of one peer are sealed and opened in parallel;
/// installing or dropping a keypair takes the write lock under `state`.
struct Peer {
    public: Key,
    state: Mutex<PeerState>,
    keys: RwLock<KeyRing>,
}

struct Tables {
    identity: Option<StaticIdentity>,
    /// Stands in for a missing private key so that every peer always has a
    /// Handshake; nothing is sent or accepted without `identity`.
    placeholder: StaticIdentity,
    listen_port: u16,
    /// The port the host's socket actually got when `listen_port` is 0
    /// (any): what `wg show` reports, as wireguard-go and FreeBSD do.
    bound_port: u16,
    user_cookie: u32,
    peers: Vec<Option<PeerBox>>,
    free_slots: Vec<u32>,
    by_key: KeyMap,
    allowed: AllowedIps<u32>,
    limits: Limits,
}

impl Tables {
    fn peer(&self, slot: u32) -> Option<&Peer> {
        self.peers.get(slot as usize)?.as_deref().map(|p| &p[0])
    }

    fn local_identity(&self) -> &StaticIdentity {
        self.identity.as_ref().unwrap_or(&self.placeholder)
    }

    fn peer_count(&self) -> usize {
        self.by_key.len()
    }
}

/// Handshake messages per second from which the device considers itself
/// under load. Linux looks at the depth of its handshake queue (an eighth
/// of 4096); a sans-IO engine has no queue, so it counts a rate, and a host
/// that has a queue can say so with `set_under_load`.
pub const DEFAULT_LOAD_THRESHOLD: u32 = 1024;

/// How long the device stays under load after the last time the load
/// condition held (Linux's `last_under_load` in receive.c, wireguard-go's
/// `UnderLoadAfterTime`).
pub const UNDER_LOAD_AFTER: Duration = Duration::SECOND;

struct LoadMeter {
    forced: AtomicBool,
    threshold: AtomicU32,
    second: AtomicU64,
    count: AtomicU32,
    /// The monotonic instant, in ns, of the last message that found the
    /// rate at or above the threshold (0: never; an atomic holds no
    /// `Deadline`). As in Linux, the device is under load
    /// while that holds and for [`UNDER_LOAD_AFTER`] after, measured from
    /// that instant: not to the end of the next whole second, which kept
    /// it under load up to two seconds after a flood stopped.
    last: AtomicU64,
}

impl LoadMeter {
    fn note_and_check(&self, now: Instant) -> bool {
        let sec = now.second();
        if self.second.swap(sec, Ordering::Relaxed) != sec {
            self.count.store(0, Ordering::Relaxed);
        }
        let n = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        // A host's deep queue counts as the rate does: Linux sets
        // last_under_load whenever a message is handled with the queue
        // deep, so the load outlasts the drained queue by a second too.
        if n >= self.threshold.load(Ordering::Relaxed) || self.forced.load(Ordering::Relaxed) {
            self.last.store(now.as_nanos().max(1), Ordering::Relaxed);
            return true;
        }
        self.is_under_load(now)
    }

    fn is_under_load(&self, now: Instant) -> bool {
        if self.forced.load(Ordering::Relaxed) {
            return true;
        }
        let last = self.last.load(Ordering::Relaxed);
        // Linux: !wg_birthdate_has_expired(last_under_load, 1).
        last != 0 && !Instant::from_nanos(last).has_aged(UNDER_LOAD_AFTER, now)
    }
}

pub struct Device {
    rng: Box<dyn Rng>,
    tables: RwLock<Tables>,
    cookie: Mutex<CookieChecker>,
    codec: IndexCodec,
    load: LoadMeter,
    mtu: AtomicU32,
}

fn random_key(rng: &dyn Rng) -> [u8; 32] {
    let mut k = [0u8; 32];
    rng.fill(&mut k);
    k
}

fn jitter(rng: &dyn Rng) -> Duration {
    let mut b = [0u8; 8];
    rng.fill(&mut b);
    REKEY_TIMEOUT_JITTER_MAX.below(u64::from_le_bytes(b))
}

/// The largest plaintext a data message can carry: a UDP payload is at most
/// 65535 bytes, of which the header and tag take 32.
pub const MAX_PLAINTEXT: usize = 65535 - DATA_HEADROOM - messages::DATA_TAG_LEN;

/// Padding as Linux computes it: to a multiple of 16, never beyond the MTU,
/// and never beyond what fits a datagram.
fn padded_len(len: usize, mtu: usize) -> Result<usize> {
    if len > MAX_PLAINTEXT {
        return Err(Error::TooBig);
    }
    let aligned = ((len + 15) & !15).min(MAX_PLAINTEXT);
    if mtu == 0 || len > mtu {
        Ok(aligned)
    } else {
        Ok(aligned.min(mtu).max(len))
    }
}

/// A peer with its locks, allocated fallibly. Not inlined: the peer is
/// built on the stack before it moves to the heap, and a kernel SIOCSWG
/// frame must stay under 2 KiB (kbuild/audit.py).
#[inline(never)]
fn new_peer(local: &StaticIdentity, public: Key, first_tag: u32) -> Result<PeerBox> {
    let state = Mutex::new_with(c"wg peer", || new_state(local, public, first_tag))?;
    let keys = RwLock::new(c"wg peer keys", KeyRing::default())?;
    let mut v = Vec::new();
    v.try_reserve_exact(1).map_err(|_| Error::NoMemory)?;
    v.push(Peer {
        public,
        state,
        keys,
    });
    v.into_boxed_slice().try_into().map_err(|_| Error::NoMemory)
}

#[inline(never)]
fn new_state(local: &StaticIdentity, public: Key, first_tag: u32) -> PeerState {
    PeerState {
        handshake: Handshake::new(local, public, None),
        cookie: CookieMaker::new(&public),
        timers: Timers::default(),
        endpoint: None,
        persistent_keepalive: 0,
        rx_bytes: 0,
        tx_bytes: 0,
        last_handshake_real: WallTime::EPOCH,
        next_tag: first_tag & TAG_MASK,
        flags: 0,
        reported_deadline: Deadline::NONE,
    }
}

mod config;
mod poll;
mod receive;
mod send;

pub use send::ENCAP_BATCH;

impl Device {
    /// Fails only when the host has no memory for the device's locks.
    pub fn new(rng: Box<dyn Rng>) -> Result<Self> {
        let mut seed = [0u8; 16];
        rng.fill(&mut seed);
        let mut placeholder_key = random_key(&*rng);
        let placeholder = StaticIdentity::new(placeholder_key);
        placeholder_key.zeroize();
        let cookie = CookieChecker::new(&placeholder.public);
        Ok(Device {
            rng,
            tables: RwLock::new(
                c"wg tables",
                Tables {
                    identity: None,
                    placeholder,
                    listen_port: 0,
                    bound_port: 0,
                    user_cookie: 0,
                    peers: Vec::new(),
                    free_slots: Vec::new(),
                    by_key: KeyMap::new(
                        u64::from_le_bytes([
                            seed[0], seed[1], seed[2], seed[3], seed[4], seed[5], seed[6], seed[7],
                        ]) ^ 0x5bd1_e995,
                    ),
                    allowed: AllowedIps::new(),
                    limits: Limits::default(),
                },
            )?,
            cookie: Mutex::new(c"wg cookie", cookie)?,
            codec: IndexCodec::new(seed),
            load: LoadMeter {
                forced: AtomicBool::new(false),
                threshold: AtomicU32::new(DEFAULT_LOAD_THRESHOLD),
                second: AtomicU64::new(0),
                count: AtomicU32::new(0),
                last: AtomicU64::new(0),
            },
            mtu: AtomicU32::new(1420),
        })
    }

    /// The tunnel MTU, which caps padding (0: no cap).
    pub fn set_mtu(&self, mtu: u32) {
        self.mtu.store(mtu, Ordering::Relaxed);
    }

    pub fn limits(&self) -> Limits {
        self.tables.read().limits
    }

    pub fn set_limits(&self, limits: Limits) {
        self.tables.write().limits = limits;
    }

    /// The host's own view of load (e.g. its handshake queue is deep).
    pub fn set_under_load(&self, forced: bool) {
        self.load.forced.store(forced, Ordering::Relaxed);
    }

    /// Handshake messages per second that count as load.
    pub fn set_load_threshold(&self, per_second: u32) {
        self.load
            .threshold
            .store(per_second.max(1), Ordering::Relaxed);
    }

    /// Bytes one peer costs in the device, routes aside (the peer, its box
    /// and its slot in the tables); docs/DESIGN.md's target is 1 KiB.
    pub const fn bytes_per_peer() -> usize {
        core::mem::size_of::<Peer>()
            + core::mem::size_of::<Option<Box<Peer>>>()
            + core::mem::size_of::<(Key, u32)>()
    }

    pub fn stats(&self, now: Time) -> DeviceStats {
        let t = self.tables.read();
        DeviceStats {
            peers: t.peer_count(),
            allowed_ips: t.allowed.len(),
            under_load: self.load.is_under_load(now.mono),
        }
    }

    pub fn public_key(&self) -> Option<Key> {
        self.tables.read().identity.as_ref().map(|i| i.public)
    }

    /// The configured listen port (0: any).
    pub fn listen_port(&self) -> u16 {
        self.tables.read().listen_port
    }

    /// Tells the engine which port the host bound, for a configured port of
    /// 0; reported by `config` until the configured port changes.
    pub fn set_bound_port(&self, port: u16) {
        self.tables.write().bound_port = port;
    }

    pub fn user_cookie(&self) -> u32 {
        self.tables.read().user_cookie
    }

    pub fn peer_by_key(&self, public: &Key) -> Option<PeerId> {
        self.tables.read().by_key.get(public).map(PeerId)
    }

    pub fn peer_ids(&self) -> Vec<PeerId> {
        let t = self.tables.read();
        (0..t.peers.len() as u32)
            .filter(|s| t.peer(*s).is_some())
            .map(PeerId)
            .collect()
    }

    pub fn peer_endpoint(&self, peer: PeerId) -> Option<Endpoint> {
        let t = self.tables.read();
        let e = t.peer(peer.0)?.state.lock().endpoint;
        e
    }

    /// The peer an IP packet routes to by its destination, without sealing
    /// it (hosts that queue per peer before sealing).
    pub fn route_packet(&self, pkt: &[u8]) -> Result<PeerId> {
        let hdr = ip::parse(pkt)?;
        self.route(&hdr.dst).ok_or(Error::NoRoute)
    }

    /// Looks up which peer an address routes to (the `wg` tool and tests).
    pub fn route(&self, addr: &IpAddrBytes) -> Option<PeerId> {
        self.tables.read().allowed.lookup(addr).map(PeerId)
    }

    /// Forgets every session of a peer (e.g. on interface down).
    pub fn clear_sessions(&self, peer: PeerId) {
        let t = self.tables.read();
        if let Some(p) = t.peer(peer.0) {
            let mut st = p.state.lock();
            p.keys.write().clear();
            st.handshake.clear();
            st.timers.stop();
            st.flags = 0;
        }
    }

    /// Forgets every session and handshake of every peer (interface down,
    /// as Linux and FreeBSD do): keys are wiped, timers stopped.
    pub fn clear_all_sessions(&self) {
        let t = self.tables.read();
        for p in t.peers.iter().flatten() {
            let p = &p[0];
            let mut st = p.state.lock();
            p.keys.write().clear();
            st.handshake.clear();
            // Everything, the initiation rate limit too: the first packet
            // after "up" starts a handshake at once.
            st.timers = Timers::default();
            st.flags = 0;
        }
    }

    /// Earliest deadline of a peer, for hosts that re-arm after config.
    pub fn peer_deadline(&self, peer: PeerId) -> Option<Instant> {
        let t = self.tables.read();
        let p = t.peer(peer.0)?;
        let d = p.state.lock().timers.next_deadline();
        d
    }
}

#[cfg(test)]
mod tests;
