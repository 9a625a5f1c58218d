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
    KEEPALIVE_TIMEOUT, NSEC, REJECT_AFTER_TIME, REKEY_AFTER_MESSAGES, REKEY_AFTER_TIME,
    REKEY_TIMEOUT, REKEY_TIMEOUT_JITTER_MAX,
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

/// The time, as the host reads it: monotonic for every timer, real (since
/// the Unix epoch) for handshake timestamps and `latest handshake`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Time {
    pub mono: u64,
    pub real: u64,
}

impl Time {
    pub fn new(mono: u64, real: u64) -> Self {
        Time { mono, real }
    }

    pub fn plus(self, ns: u64) -> Self {
        Time {
            mono: self.mono + ns,
            real: self.real + ns,
        }
    }
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
    /// Nothing to do until `next_deadline` (monotonic ns), if any.
    Idle { next_deadline: Option<u64> },
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
    last_handshake_real: u64,
    next_tag: u32,
    flags: u32,
    /// The deadline the host was last given (by `Idle`); a packet that arms
    /// an earlier timer must make the host poll so it re-arms its callout.
    reported_deadline: Option<u64>,
}

impl PeerState {
    /// Whether the host must poll: pending work, or a deadline the host
    /// does not know about yet.
    fn needs_poll(&self) -> bool {
        if self.flags & WORK != 0 {
            return true;
        }
        match (self.timers.next_deadline(), self.reported_deadline) {
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
pub const UNDER_LOAD_AFTER: u64 = NSEC;

struct LoadMeter {
    forced: AtomicBool,
    threshold: AtomicU32,
    second: AtomicU64,
    count: AtomicU32,
    /// Monotonic ns of the last message that found the rate at or above
    /// the threshold (0: never). As in Linux, the device is under load
    /// while that holds and for [`UNDER_LOAD_AFTER`] after, measured from
    /// that instant: not to the end of the next whole second, which kept
    /// it under load up to two seconds after a flood stopped.
    last: AtomicU64,
}

impl LoadMeter {
    fn note_and_check(&self, now: u64) -> bool {
        let sec = now / NSEC;
        if self.second.swap(sec, Ordering::Relaxed) != sec {
            self.count.store(0, Ordering::Relaxed);
        }
        let n = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        // A host's deep queue counts as the rate does: Linux sets
        // last_under_load whenever a message is handled with the queue
        // deep, so the load outlasts the drained queue by a second too.
        if n >= self.threshold.load(Ordering::Relaxed) || self.forced.load(Ordering::Relaxed) {
            self.last.store(now.max(1), Ordering::Relaxed);
            return true;
        }
        self.is_under_load(now)
    }

    fn is_under_load(&self, now: u64) -> bool {
        if self.forced.load(Ordering::Relaxed) {
            return true;
        }
        let last = self.last.load(Ordering::Relaxed);
        // Linux: !wg_birthdate_has_expired(last_under_load, 1).
        last != 0 && now < last.saturating_add(UNDER_LOAD_AFTER)
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

fn jitter(rng: &dyn Rng) -> u64 {
    let mut b = [0u8; 8];
    rng.fill(&mut b);
    u64::from_le_bytes(b) % REKEY_TIMEOUT_JITTER_MAX
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

/// What a configuration update needs, found before anything changes.
#[derive(Default)]
struct Plan {
    /// Peers to create, in the order the update creates them.
    creates: Vec<Key>,
    v4_routes: usize,
    v6_routes: usize,
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
        last_handshake_real: 0,
        next_tag: first_tag & TAG_MASK,
        flags: 0,
        reported_deadline: None,
    }
}

/// A packet whose counter is reserved, waiting for its crypto.
struct Sealing {
    counter: u64,
    remote_index: u32,
    padded: usize,
    total: usize,
}

impl Sealing {
    /// Pads and seals `buf[16..16 + len]` in place with the keypair the
    /// counter was reserved from, and writes the header.
    fn seal(&self, keys: &KeyRing, buf: &mut [u8], len: usize) -> Result<()> {
        // The read lock held since `reserve` keeps the keypair the counter
        // came from current: no search for it.
        let kp = keys.current().ok_or(Error::UnknownIndex)?;
        let (key, _) = kp.keys();
        let (body, tail) = self.body(buf, len)?;
        *tail = crypto::aead_seal(key, self.counter, &[], body);
        self.write_header(buf)
    }

    /// The padded plaintext (padding zeroed) and the tag's room.
    fn body<'b>(&self, buf: &'b mut [u8], len: usize) -> Result<(&'b mut [u8], &'b mut [u8; 16])> {
        let frame = buf.get_mut(..self.total).ok_or(Error::BufferTooSmall)?;
        let rest = frame
            .get_mut(DATA_HEADROOM..)
            .ok_or(Error::BufferTooSmall)?;
        let (body, tail) = rest.split_at_mut(self.padded);
        body.get_mut(len..).ok_or(Error::BufferTooSmall)?.fill(0);
        let tail = tail.try_into().map_err(|_| Error::BufferTooSmall)?;
        Ok((body, tail))
    }

    fn write_header(&self, buf: &mut [u8]) -> Result<()> {
        let hdr = buf.get_mut(..DATA_HEADROOM).ok_or(Error::BufferTooSmall)?;
        let hdr: &mut [u8; 16] = hdr.try_into().map_err(|_| Error::BufferTooSmall)?;
        messages::write_data_header(hdr, self.remote_index, self.counter);
        Ok(())
    }
}

/// At most this many packets per [`Device::encapsulate_batch`] call: its
/// bookkeeping lives on the (kernel) stack.
pub const ENCAP_BATCH: usize = 8;

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

    /// Routes an IP packet at `buf[DATA_HEADROOM..DATA_HEADROOM + len]` to
    /// its peer by destination and seals it in place.
    pub fn encapsulate(&self, now: Time, buf: &mut [u8], len: usize) -> Result<Encap> {
        let pkt = buf
            .get(DATA_HEADROOM..DATA_HEADROOM + len)
            .ok_or(Error::BufferTooSmall)?;
        let hdr = ip::parse(pkt)?;
        let t = self.tables.read();
        let slot = t.allowed.lookup(&hdr.dst).ok_or(Error::NoRoute)?;
        let peer = t.peer(slot).ok_or(Error::NoRoute)?;
        self.encap_locked(peer, slot, now, buf, len)
    }

    /// Seals a packet for a given peer (staged packets, keepalives with
    /// `len == 0`).
    pub fn encapsulate_to(
        &self,
        peer: PeerId,
        now: Time,
        buf: &mut [u8],
        len: usize,
    ) -> Result<Encap> {
        let t = self.tables.read();
        let p = t.peer(peer.0).ok_or(Error::NotFound)?;
        self.encap_locked(p, peer.0, now, buf, len)
    }

    fn encap_locked(
        &self,
        peer: &Peer,
        slot: u32,
        now: Time,
        buf: &mut [u8],
        len: usize,
    ) -> Result<Encap> {
        let mut st = peer.state.lock();
        let endpoint = st.endpoint.ok_or(Error::NoEndpoint)?;
        let keys = peer.keys.read();
        let Some(sealing) = self.reserve(&keys, &mut st, now, buf.len(), len)? else {
            st.flags |= WANT_INITIATION;
            return Ok(Encap::Staged { peer: PeerId(slot) });
        };
        let poll = st.needs_poll();
        // The crypto runs outside the peer's lock, under the shared keys
        // lock only, so other packets of this peer proceed in parallel.
        drop(st);
        sealing.seal(&keys, buf, len)?;
        Ok(Encap::Send {
            peer: PeerId(slot),
            endpoint,
            len: sealing.total,
            poll,
        })
    }

    /// Seals a train of IP packets (each `(buf, len)` as for
    /// [`Device::encapsulate`], routed again alike); `out[i]` gets packet
    /// i's result. Consecutive packets of one peer share one hold of its
    /// locks and one [`crypto::aead_seal_batch`]: in the kernel, one FPU
    /// section for their crypto, entered after the locked work (routing,
    /// counters, timers) and left before the headers are written. At most
    /// [`ENCAP_BATCH`] packets; the rest of `out` is left as it was.
    pub fn encapsulate_batch(
        &self,
        now: Time,
        pkts: &mut [(&mut [u8], usize)],
        out: &mut [Result<Encap>],
    ) {
        let n = pkts.len().min(out.len()).min(ENCAP_BATCH);
        let t = self.tables.read();
        let route = |(buf, len): &(&mut [u8], usize)| -> Result<u32> {
            let pkt = buf
                .get(DATA_HEADROOM..DATA_HEADROOM.saturating_add(*len))
                .ok_or(Error::BufferTooSmall)?;
            let hdr = ip::parse(pkt)?;
            t.allowed.lookup(&hdr.dst).ok_or(Error::NoRoute)
        };
        let mut i = 0;
        while i < n {
            let slot = match route(&pkts[i]) {
                Ok(s) => s,
                Err(e) => {
                    out[i] = Err(e);
                    i += 1;
                    continue;
                }
            };
            let mut j = i + 1;
            while j < n && route(&pkts[j]) == Ok(slot) {
                j += 1;
            }
            match t.peer(slot) {
                Some(peer) => self.encap_run(peer, slot, now, &mut pkts[i..j], &mut out[i..j]),
                None => out[i..j].fill(Err(Error::NoRoute)),
            }
            i = j;
        }
    }

    /// `encapsulate_batch` for packets of one peer (at most ENCAP_BATCH).
    fn encap_run(
        &self,
        peer: &Peer,
        slot: u32,
        now: Time,
        pkts: &mut [(&mut [u8], usize)],
        out: &mut [Result<Encap>],
    ) {
        let mut st = peer.state.lock();
        let Some(endpoint) = st.endpoint else {
            out.fill(Err(Error::NoEndpoint));
            return;
        };
        let keys = peer.keys.read();
        let mut sealing: [Option<Sealing>; ENCAP_BATCH] = [const { None }; ENCAP_BATCH];
        for ((s, o), (buf, len)) in sealing.iter_mut().zip(out.iter_mut()).zip(pkts.iter()) {
            *o = match self.reserve(&keys, &mut st, now, buf.len(), *len) {
                Ok(r) => {
                    if r.is_none() {
                        st.flags |= WANT_INITIATION;
                    }
                    *s = r;
                    Ok(Encap::Staged { peer: PeerId(slot) })
                }
                Err(e) => Err(e),
            };
        }
        let poll = st.needs_poll();
        // As in encap_locked: the crypto outside the peer's lock, under the
        // shared keys lock, which keeps the reserved keypair current.
        drop(st);
        let Some(kp) = keys.current() else {
            for (s, o) in sealing.iter().zip(out.iter_mut()) {
                if s.is_some() {
                    *o = Err(Error::UnknownIndex);
                }
            }
            return;
        };
        let (key, _) = kp.keys();
        let mut jobs: [Option<crypto::SealJob<'_>>; ENCAP_BATCH] = [const { None }; ENCAP_BATCH];
        for (((job, s), o), (buf, len)) in jobs
            .iter_mut()
            .zip(sealing.iter())
            .zip(out.iter_mut())
            .zip(pkts.iter_mut())
        {
            if let Some(s) = s {
                match s.body(buf, *len) {
                    Ok((body, tag)) => {
                        *job = Some(crypto::SealJob {
                            key,
                            counter: s.counter,
                            body,
                            tag,
                        })
                    }
                    Err(e) => *o = Err(e),
                }
            }
        }
        crypto::aead_seal_batch(&mut jobs);
        for ((s, o), (buf, _)) in sealing.iter().zip(out.iter_mut()).zip(pkts.iter_mut()) {
            if let (Some(s), Ok(_)) = (s, &o) {
                *o = s.write_header(buf).map(|()| Encap::Send {
                    peer: PeerId(slot),
                    endpoint,
                    len: s.total,
                    poll,
                });
            }
        }
    }

    /// Reserves a counter of the current keypair for a packet of `len`
    /// bytes and does the bookkeeping of sending it; None when there is no
    /// usable keypair.
    fn reserve(
        &self,
        keys: &KeyRing,
        st: &mut PeerState,
        now: Time,
        buflen: usize,
        len: usize,
    ) -> Result<Option<Sealing>> {
        let mtu = self.mtu.load(Ordering::Relaxed) as usize;
        let padded = padded_len(len, mtu)?;
        let total = DATA_HEADROOM + padded + messages::DATA_TAG_LEN;
        if buflen < total {
            return Err(Error::BufferTooSmall);
        }
        let Some(kp) = keys.current() else {
            return Ok(None);
        };
        let Some((counter, _)) = kp.next_send(now.mono) else {
            return Ok(None);
        };
        let rekey = counter >= REKEY_AFTER_MESSAGES
            || (kp.is_initiator && now.mono.saturating_sub(kp.birth) >= REKEY_AFTER_TIME);
        st.tx_bytes += total as u64;
        st.flags |= SENT_SINCE_FLUSH;
        st.timers
            .any_authenticated_packet_traversal(now.mono, st.persistent_keepalive);
        st.timers.any_authenticated_packet_sent();
        if len > 0 && !st.timers.new_handshake_armed() {
            st.timers.data_sent(now.mono, jitter(&*self.rng));
        }
        if rekey {
            st.flags |= WANT_INITIATION;
        }
        Ok(Some(Sealing {
            counter,
            remote_index: kp.remote_index,
            padded,
            total,
        }))
    }

    /// Handles one datagram from `src`. Handshake answers go to `out`,
    /// which must hold [`MAX_HANDSHAKE_LEN`] bytes.
    pub fn decapsulate(
        &self,
        now: Time,
        src: Endpoint,
        buf: &mut [u8],
        out: &mut [u8],
    ) -> Result<Received> {
        match messages::classify(buf)? {
            MessageType::Data => self.recv_data(now, src, buf),
            MessageType::Initiation => self.recv_initiation(now, src, buf, out),
            MessageType::Response => self.recv_response(now, src, buf, out),
            MessageType::CookieReply => self.recv_cookie_reply(now, buf),
        }
    }

    /// MAC checks common to initiations and responses. Returns the answer
    /// when a cookie reply was written to `out` instead.
    fn check_macs(
        &self,
        now: Time,
        src: &Endpoint,
        msg: &[u8],
        out: &mut [u8],
    ) -> Result<Option<Received>> {
        let under_load = self.load.note_and_check(now.mono);
        let mut cookie = self.cookie.lock();
        if !cookie.check_mac1(msg) {
            return Err(Error::BadMac1);
        }
        if !under_load {
            return Ok(None);
        }
        let mut srcb = [0u8; 18];
        let n = src.cookie_bytes(&mut srcb);
        // A new secret is drawn only when the old one expires (every two
        // minutes), not for each message of a flood.
        let fresh = || random_key(&*self.rng);
        let nonce = || {
            let mut n = [0u8; 24];
            self.rng.fill(&mut n);
            n
        };
        let reply: &mut [u8; messages::COOKIE_REPLY_LEN] = out
            .get_mut(..messages::COOKIE_REPLY_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or(Error::BufferTooSmall)?;
        if cookie.check_mac2_or_reply(msg, &srcb[..n], now.mono, fresh, nonce, reply)? {
            return Ok(None);
        }
        Ok(Some(Received {
            action: Decap::Reply {
                len: messages::COOKIE_REPLY_LEN,
            },
            peer: None,
            poll: false,
        }))
    }

    fn new_index(&self, slot: u32, keys: &KeyRing, st: &mut PeerState) -> u32 {
        // Skip tags still naming a live session so indices stay unique.
        loop {
            st.next_tag = (st.next_tag + 1) & TAG_MASK;
            let idx = self.codec.encode(slot, st.next_tag);
            let live =
                keys.indices().any(|i| i == idx) || st.handshake.pending_local_index() == Some(idx);
            if !live {
                return idx;
            }
        }
    }

    fn recv_initiation(
        &self,
        now: Time,
        src: Endpoint,
        buf: &mut [u8],
        out: &mut [u8],
    ) -> Result<Received> {
        let t = self.tables.read();
        let identity = t.identity.as_ref().ok_or(Error::UnknownPeer)?;
        if let Some(reply) = self.check_macs(now, &src, buf, out)? {
            return Ok(reply);
        }
        let msg: &[u8; messages::INITIATION_LEN] =
            (&*buf).try_into().map_err(|_| Error::BadLength)?;
        let partial = crate::noise::decrypt_initiation(identity, msg)?;
        let slot = t
            .by_key
            .get(partial.remote_static())
            .ok_or(Error::UnknownPeer)?;
        let peer = t.peer(slot).ok_or(Error::UnknownPeer)?;
        let mut st = peer.state.lock();
        let local_index = self.new_index(slot, &peer.keys.read(), &mut st);
        let mut eph = random_key(&*self.rng);
        let resp: &mut [u8; messages::RESPONSE_LEN] = out
            .get_mut(..messages::RESPONSE_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or(Error::BufferTooSmall)?;
        let keys = st.handshake.consume_initiation_and_respond(
            identity,
            &partial,
            local_index,
            eph,
            now.mono,
            resp,
        );
        eph.zeroize();
        let keys = keys?;
        st.cookie.add_macs(resp, now.mono);
        peer.keys
            .write()
            .install(keypair::boxed(Keypair::new(&keys, now.mono)?)?);
        st.endpoint = Some(src);
        st.rx_bytes += buf.len() as u64;
        st.tx_bytes += messages::RESPONSE_LEN as u64;
        let ka = st.persistent_keepalive;
        st.timers.any_authenticated_packet_received();
        st.timers.any_authenticated_packet_traversal(now.mono, ka);
        st.timers.any_authenticated_packet_sent();
        st.timers.session_derived(now.mono);
        Ok(Received {
            action: Decap::Reply {
                len: messages::RESPONSE_LEN,
            },
            peer: Some(PeerId(slot)),
            poll: st.needs_poll(),
        })
    }

    fn peer_for_index<'t>(&self, t: &'t Tables, index: u32) -> Result<(u32, &'t Peer)> {
        let slot = self.codec.slot(index);
        let peer = t.peer(slot).ok_or(Error::UnknownIndex)?;
        Ok((slot, peer))
    }

    fn recv_response(
        &self,
        now: Time,
        src: Endpoint,
        buf: &mut [u8],
        out: &mut [u8],
    ) -> Result<Received> {
        let t = self.tables.read();
        let identity = t.identity.as_ref().ok_or(Error::UnknownIndex)?;
        if let Some(reply) = self.check_macs(now, &src, buf, out)? {
            return Ok(reply);
        }
        let index = messages::receiver_index(buf).ok_or(Error::BadLength)?;
        let (slot, peer) = self.peer_for_index(&t, index)?;
        let mut st = peer.state.lock();
        if st.handshake.pending_local_index() != Some(index) {
            return Err(Error::UnknownIndex);
        }
        let msg: &[u8; messages::RESPONSE_LEN] =
            (&*buf).try_into().map_err(|_| Error::BadLength)?;
        let keys = st.handshake.consume_response(identity, msg)?;
        peer.keys
            .write()
            .install(keypair::boxed(Keypair::new(&keys, now.mono)?)?);
        st.endpoint = Some(src);
        st.rx_bytes += buf.len() as u64;
        st.last_handshake_real = now.real;
        let ka = st.persistent_keepalive;
        st.timers.handshake_complete();
        st.timers.session_derived(now.mono);
        st.timers.any_authenticated_packet_received();
        st.timers.any_authenticated_packet_traversal(now.mono, ka);
        st.flags = (st.flags | FLUSH_STAGED | KEEPALIVE_IF_SILENT) & !SENT_SINCE_FLUSH;
        Ok(Received {
            action: Decap::Done,
            peer: Some(PeerId(slot)),
            poll: true,
        })
    }

    fn recv_cookie_reply(&self, now: Time, buf: &[u8]) -> Result<Received> {
        let t = self.tables.read();
        let index = messages::receiver_index(buf).ok_or(Error::BadLength)?;
        let (slot, peer) = self.peer_for_index(&t, index)?;
        let msg: &[u8; messages::COOKIE_REPLY_LEN] =
            buf.try_into().map_err(|_| Error::BadLength)?;
        let mut st = peer.state.lock();
        st.cookie.consume_reply(msg, now.mono)?;
        Ok(Received {
            action: Decap::Done,
            peer: Some(PeerId(slot)),
            poll: st.needs_poll(),
        })
    }

    fn recv_data(&self, now: Time, src: Endpoint, buf: &mut [u8]) -> Result<Received> {
        let t = self.tables.read();
        let index = messages::receiver_index(buf).ok_or(Error::BadLength)?;
        let counter = messages::data_counter(buf).ok_or(Error::BadLength)?;
        let (slot, peer) = self.peer_for_index(&t, index)?;
        let total = buf.len();
        // The crypto runs under the shared keys lock only, in parallel with
        // other packets of this peer; the peer's lock comes after.
        // What keep_key_fresh needs of the current keypair is read under
        // the same shared lock as the crypto, not taken again later.
        let (which, fresh) = {
            let keys = peer.keys.read();
            let which = keys.find(index).ok_or(Error::UnknownIndex)?;
            let kp = keys.get(which).ok_or(Error::UnknownIndex)?;
            let key = kp
                .recv_key_for(counter, now.mono)
                .ok_or(Error::SessionExpired)?;
            let (_head, rest) = buf.split_at_mut(DATA_HEADROOM);
            let (body, tag) = rest.split_at_mut(total - DATA_HEADROOM - messages::DATA_TAG_LEN);
            let tag: &[u8; 16] = (&*tag).try_into().map_err(|_| Error::BadLength)?;
            crypto::aead_open(key, counter, &[], body, tag).map_err(|_| Error::DecryptFailed)?;
            if !kp.accept_counter(counter) {
                return Err(Error::ReplayedCounter);
            }
            let fresh = keys
                .current()
                .map(|c| (c.is_initiator, c.birth, c.usable_for_sending(now.mono)));
            (which, fresh)
        };
        let mut st = peer.state.lock();
        if which == Slot::Next {
            let mut keys = peer.keys.write();
            // A handshake may have replaced `next` meanwhile; confirm only
            // the keypair this packet came under.
            if keys
                .next
                .as_ref()
                .is_some_and(|k| k[0].local_index == index)
                && keys.confirm_next()
            {
                st.timers.handshake_complete();
                st.last_handshake_real = now.real;
                st.flags = (st.flags | FLUSH_STAGED) & !SENT_SINCE_FLUSH;
            }
        }
        // Roaming: the last authenticated source is where the peer is now.
        st.endpoint = Some(src);
        st.rx_bytes += total as u64;
        let ka = st.persistent_keepalive;
        st.timers.any_authenticated_packet_received();
        st.timers.any_authenticated_packet_traversal(now.mono, ka);
        // A confirmation just made `next` current: judge that one.
        let fresh = if which == Slot::Next {
            peer.keys
                .read()
                .current()
                .map(|c| (c.is_initiator, c.birth, c.usable_for_sending(now.mono)))
        } else {
            fresh
        };
        if let Some((is_initiator, birth, usable)) = fresh {
            let old = now.mono.saturating_sub(birth)
                >= REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT;
            if is_initiator && usable && old && !st.timers.sent_lastminute_handshake {
                st.timers.sent_lastminute_handshake = true;
                st.flags |= WANT_INITIATION;
            }
        }
        let plain = buf
            .get(DATA_HEADROOM..total - messages::DATA_TAG_LEN)
            .ok_or(Error::BadLength)?;
        let action = if plain.is_empty() {
            Decap::Done
        } else {
            st.timers.data_received(now.mono);
            let hdr = ip::parse(plain)?;
            if t.allowed.lookup(&hdr.src) != Some(slot) {
                return Err(Error::SourceNotAllowed);
            }
            Decap::Tunnel {
                offset: DATA_HEADROOM,
                len: hdr.len,
            }
        };
        Ok(Received {
            action,
            peer: Some(PeerId(slot)),
            poll: st.needs_poll(),
        })
    }

    /// Runs the peer's expired timers and returns the next thing to do.
    /// Call until it returns `Idle`; `out` must hold [`MAX_HANDSHAKE_LEN`]
    /// bytes (a keepalive needs 32).
    pub fn poll_peer(&self, peer: PeerId, now: Time, out: &mut [u8]) -> Result<PeerAction> {
        let t = self.tables.read();
        let p = t.peer(peer.0).ok_or(Error::NotFound)?;
        let mut st = p.state.lock();
        while let Some(ev) = st.timers.take_expired(now.mono) {
            match ev {
                TimerEvent::RetransmitHandshake => {
                    if st.timers.handshake_attempts > MAX_TIMER_HANDSHAKES {
                        st.timers.cancel_send_keepalive();
                        st.timers.arm_zero_key_material_if_idle(now.mono);
                        st.flags |= DROP_STAGED;
                    } else {
                        st.timers.handshake_attempts += 1;
                        st.flags |= WANT_INITIATION_RETRY;
                    }
                }
                TimerEvent::SendKeepalive => {
                    st.flags |= WANT_KEEPALIVE;
                    st.timers.rearm_send_keepalive_if_needed(now.mono);
                }
                TimerEvent::NewHandshake => st.flags |= WANT_INITIATION,
                TimerEvent::ZeroKeyMaterial => {
                    p.keys.write().clear();
                    st.handshake.clear();
                }
                TimerEvent::PersistentKeepalive => {
                    if st.persistent_keepalive != 0 {
                        st.flags |= WANT_KEEPALIVE;
                    }
                }
            }
        }
        loop {
            let f = st.flags;
            if f & DROP_STAGED != 0 {
                st.flags &= !(DROP_STAGED | FLUSH_STAGED);
                return Ok(PeerAction::DropStaged);
            }
            if f & FLUSH_STAGED != 0 {
                st.flags &= !FLUSH_STAGED;
                return Ok(PeerAction::FlushStaged);
            }
            if f & KEEPALIVE_IF_SILENT != 0 {
                st.flags &= !KEEPALIVE_IF_SILENT;
                if f & SENT_SINCE_FLUSH == 0 {
                    st.flags |= WANT_KEEPALIVE;
                }
                continue;
            }
            if f & (WANT_INITIATION | WANT_INITIATION_RETRY) != 0 {
                st.flags &= !(WANT_INITIATION | WANT_INITIATION_RETRY);
                let retry = f & WANT_INITIATION_RETRY != 0;
                if let Some(action) = self.initiate(&t, peer.0, &mut st, now, retry, out)? {
                    return Ok(action);
                }
                continue;
            }
            if f & WANT_KEEPALIVE != 0 {
                st.flags &= !WANT_KEEPALIVE;
                let Some(endpoint) = st.endpoint else {
                    continue;
                };
                let buf = out
                    .get_mut(..DATA_HEADROOM + messages::DATA_TAG_LEN)
                    .ok_or(Error::BufferTooSmall)?;
                // 32 bytes: sealed under the peer's lock, unlike data.
                let keys = p.keys.read();
                match self.reserve(&keys, &mut st, now, buf.len(), 0)? {
                    Some(sealing) => {
                        sealing.seal(&keys, buf, 0)?;
                        return Ok(PeerAction::Send {
                            endpoint,
                            len: sealing.total,
                        });
                    }
                    None => {
                        st.flags |= WANT_INITIATION;
                        continue;
                    }
                }
            }
            let next_deadline = st.timers.next_deadline();
            st.reported_deadline = next_deadline;
            return Ok(PeerAction::Idle { next_deadline });
        }
    }

    fn initiate(
        &self,
        t: &Tables,
        slot: u32,
        st: &mut PeerState,
        now: Time,
        retry: bool,
        out: &mut [u8],
    ) -> Result<Option<PeerAction>> {
        if !retry {
            st.timers.handshake_attempts = 0;
        }
        let (Some(identity), Some(endpoint)) = (t.identity.as_ref(), st.endpoint) else {
            return Ok(None);
        };
        if !st.timers.may_send_initiation(now.mono) {
            return Ok(None);
        }
        let msg: &mut [u8; messages::INITIATION_LEN] = out
            .get_mut(..messages::INITIATION_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or(Error::BufferTooSmall)?;
        let peer = t.peer(slot).ok_or(Error::NotFound)?;
        let local_index = self.new_index(slot, &peer.keys.read(), st);
        let mut eph = random_key(&*self.rng);
        let made = st
            .handshake
            .create_initiation(identity, local_index, eph, now.real, msg);
        eph.zeroize();
        made?;
        st.cookie.add_macs(msg, now.mono);
        st.timers.last_sent_handshake = Some(now.mono);
        st.tx_bytes += messages::INITIATION_LEN as u64;
        let ka = st.persistent_keepalive;
        st.timers.any_authenticated_packet_traversal(now.mono, ka);
        st.timers.any_authenticated_packet_sent();
        st.timers.handshake_initiated(now.mono, jitter(&*self.rng));
        Ok(Some(PeerAction::Send {
            endpoint,
            len: messages::INITIATION_LEN,
        }))
    }

    /// Applies a configuration change, all or nothing: the whole update is
    /// checked against the limits and the current state, and room is made
    /// for everything it adds (peers, their locks, table slots, routes),
    /// before any of it takes effect. Every allocation here is fallible, so
    /// a host that will not wait for memory under the engine's locks turns
    /// a shortage into NoMemory and an unchanged configuration.
    pub fn set_config(&self, now: Time, update: &DeviceUpdate) -> Result<ConfigChanges> {
        let new_identity: Option<Option<StaticIdentity>> = update
            .private_key
            .as_ref()
            .map(|k| k.map(StaticIdentity::new));
        let mut t = self.tables.write();
        let our_public = match &new_identity {
            Some(id) => id.as_ref().map(|i| i.public),
            None => t.identity.as_ref().map(|i| i.public),
        };
        let plan = Self::check(&t, update, our_public)?;

        // Make room for all of it first.
        let local = match &new_identity {
            Some(Some(id)) => id,
            Some(None) => &t.placeholder,
            None => t.local_identity(),
        };
        let mut fresh: Vec<PeerBox> = Vec::new();
        fresh
            .try_reserve_exact(plan.creates.len())
            .map_err(|_| Error::NoMemory)?;
        for key in &plan.creates {
            // apply_peer sets the preshared key and the rest. A random
            // first tag: a peer created in a freed slot must not hand out
            // the receiver indices its predecessor used.
            let mut tag = [0u8; 4];
            self.rng.fill(&mut tag);
            fresh.push(new_peer(local, *key, u32::from_le_bytes(tag))?);
        }
        let existing = t.peer_count();
        let mut changes = ConfigChanges::default();
        // A peer may be created and removed by the same update.
        let removable = existing + plan.creates.len();
        changes
            .removed
            .try_reserve_exact(removable)
            .map_err(|_| Error::NoMemory)?;
        changes
            .touched
            .try_reserve_exact(update.peers.len())
            .map_err(|_| Error::NoMemory)?;
        let slots_needed = plan.creates.len().saturating_sub(t.free_slots.len());
        t.peers
            .try_reserve(slots_needed)
            .map_err(|_| Error::NoMemory)?;
        t.free_slots
            .try_reserve(removable)
            .map_err(|_| Error::NoMemory)?;
        t.by_key.try_reserve(plan.creates.len())?;
        t.allowed.reserve_routes(plan.v4_routes, plan.v6_routes)?;

        // Nothing below allocates or fails.
        if update.replace_peers {
            for s in 0..t.peers.len() as u32 {
                if t.peer(s).is_some() {
                    Self::remove_slot(&mut t, s);
                    changes.removed.push(PeerId(s));
                }
            }
        }
        if let Some(id) = new_identity {
            self.set_identity(&mut t, id, &mut changes);
        }
        if let Some(port) = update.listen_port {
            if port != t.listen_port {
                t.bound_port = 0;
            }
            t.listen_port = port;
        }
        if let Some(c) = update.user_cookie {
            t.user_cookie = c;
        }
        let mut fresh = fresh.into_iter();
        for p in &update.peers {
            if Some(p.public_key) == our_public {
                continue;
            }
            Self::apply_peer(&mut t, now, p, &mut fresh, &mut changes);
        }
        Ok(changes)
    }

    /// Checks an update as `set_config` would, without applying it, and
    /// returns the listen port and user cookie it would leave: a host binds
    /// its sockets first, so that a port in use fails the whole request.
    pub fn check_config(&self, update: &DeviceUpdate) -> Result<(u16, u32)> {
        let our_public = match &update.private_key {
            Some(Some(k)) => Some(crypto::public_key(k)),
            _ => None,
        };
        let t = self.tables.read();
        let our_public = match &update.private_key {
            Some(_) => our_public,
            None => t.identity.as_ref().map(|i| i.public),
        };
        Self::check(&t, update, our_public)?;
        Ok((
            update.listen_port.unwrap_or(t.listen_port),
            update.user_cookie.unwrap_or(t.user_cookie),
        ))
    }

    /// The update's shape against the limits, then what depends on the
    /// current state: which peers it creates and how many routes it may
    /// add.
    #[inline(never)]
    fn check(t: &Tables, update: &DeviceUpdate, our_public: Option<Key>) -> Result<Plan> {
        update.validate(&t.limits)?;
        let mut plan = Plan::default();
        plan.creates
            .try_reserve_exact(update.peers.len())
            .map_err(|_| Error::NoMemory)?;
        // Counting each peer's routes takes a pass over the table, needed
        // only when one peer could end up over its limit.
        let per_peer = t.limits.max_allowed_ips_per_peer;
        let request_routes = update.peers.iter().map(|p| p.allowed_ips.len()).sum();
        let counts =
            if !update.replace_peers && t.allowed.len().saturating_add(request_routes) > per_peer {
                Some(Self::routes_per_slot(t)?)
            } else {
                None
            };
        // Replay the list against which peers exist, so that a key removed
        // and then listed again is created again, and a key listed twice
        // is created once: `creates` is in the order apply_peer meets them.
        // `present` holds 0 for a removed key, else 1 + the key's routes.
        let mut present = KeyMap::new(0);
        present.try_reserve(update.peers.len())?;
        let mut route_adds = 0usize;
        let base_peers = if update.replace_peers {
            0
        } else {
            t.peer_count()
        };
        // Peers once the update is applied: removals make room for
        // creations in the same request (wg syncconf at the limit).
        let mut after = base_peers;
        for p in &update.peers {
            if Some(p.public_key) == our_public {
                continue;
            }
            let prior = present.get(&p.public_key);
            let slot = if update.replace_peers {
                None
            } else {
                t.by_key.get(&p.public_key)
            };
            let exists = match prior {
                Some(v) => v >= 1,
                None => slot.is_some(),
            };
            if p.remove {
                if exists {
                    after = after.saturating_sub(1);
                }
                present.insert(p.public_key, 0)?;
                continue;
            }
            if !exists && p.update_only {
                continue;
            }
            if !exists {
                plan.creates.push(p.public_key);
                after += 1;
            }
            let mut routes = match (prior, slot, &counts) {
                (Some(v), _, _) => v.saturating_sub(1) as usize,
                (None, Some(s), Some(c)) => c.get(s as usize).copied().unwrap_or(0) as usize,
                _ => 0,
            };
            if p.replace_allowed_ips {
                routes = 0;
            }
            for a in p.allowed_ips.iter().filter(|a| !a.remove) {
                route_adds += 1;
                routes += 1;
                match a.prefix {
                    IpPrefix::V4(_, c) if c <= 32 => plan.v4_routes += 1,
                    IpPrefix::V6(_, c) if c <= 128 => plan.v6_routes += 1,
                    _ => return Err(Error::Invalid),
                }
            }
            // Counted before duplicates merge, as the total below is.
            if routes > per_peer {
                return Err(Error::Full);
            }
            present.insert(p.public_key, u32::try_from(routes + 1).unwrap_or(u32::MAX))?;
        }
        // Slots are taken before removals free theirs when an update
        // creates first, so the slot bound counts every creation.
        if after > t.limits.max_peers || base_peers + plan.creates.len() > MAX_SLOTS as usize {
            return Err(Error::Full);
        }
        let base_routes = if update.replace_peers {
            0
        } else {
            t.allowed.len()
        };
        if base_routes + route_adds > t.limits.max_allowed_ips_total {
            return Err(Error::Full);
        }
        Ok(plan)
    }

    /// How many routes each peer slot has.
    fn routes_per_slot(t: &Tables) -> Result<Vec<u32>> {
        let mut counts = Vec::new();
        counts
            .try_reserve_exact(t.peers.len())
            .map_err(|_| Error::NoMemory)?;
        counts.resize(t.peers.len(), 0u32);
        for (_, slot) in t.allowed.iter() {
            if let Some(c) = counts.get_mut(slot as usize) {
                *c = c.saturating_add(1);
            }
        }
        Ok(counts)
    }

    #[inline(never)]
    fn set_identity(
        &self,
        t: &mut Tables,
        id: Option<StaticIdentity>,
        changes: &mut ConfigChanges,
    ) {
        let same = match (&id, &t.identity) {
            (Some(a), Some(b)) => a.public == b.public,
            (None, None) => true,
            _ => false,
        };
        if same {
            return;
        }
        t.identity = id;
        if let Some(public) = t.identity.as_ref().map(|i| i.public) {
            // A peer with our own public key makes no sense: FreeBSD and
            // Linux remove it.
            if let Some(s) = t.by_key.get(&public) {
                Self::remove_slot(t, s);
                changes.removed.push(PeerId(s));
            }
        }
        self.cookie
            .lock()
            .set_local_public(&t.local_identity().public);
        let Tables {
            peers,
            identity,
            placeholder,
            ..
        } = t;
        let local = identity.as_ref().unwrap_or(placeholder);
        for p in peers.iter().flatten() {
            let p = &p[0];
            let mut st = p.state.lock();
            st.handshake.set_local_identity(local);
            p.keys.read().forbid_sending();
        }
    }

    /// Frees a peer's slot. Cannot fail: `free_slots` has room reserved.
    fn remove_slot(t: &mut Tables, slot: u32) {
        if let Some(Some(p)) = t.peers.get_mut(slot as usize).map(|s| s.take()) {
            t.by_key.remove(&p[0].public);
            t.allowed.remove_value(slot);
            if t.free_slots.len() < t.free_slots.capacity() {
                t.free_slots.push(slot);
            }
            // Dropping the peer zeroizes its keys.
            drop(p);
        }
    }

    // Kept out of set_config so the kernel stack frame of a SIOCSWG stays
    // small (kbuild/audit.py caps frames at 2 KiB). Cannot fail: the peers
    // it creates come from `fresh`, and room for slots, keys and routes was
    // reserved.
    #[inline(never)]
    fn apply_peer(
        t: &mut Tables,
        now: Time,
        p: &PeerUpdate,
        fresh: &mut impl Iterator<Item = PeerBox>,
        changes: &mut ConfigChanges,
    ) {
        let existing = t.by_key.get(&p.public_key);
        if p.remove {
            if let Some(s) = existing {
                Self::remove_slot(t, s);
                changes.removed.push(PeerId(s));
            }
            return;
        }
        let slot = match existing {
            Some(s) => s,
            None if p.update_only => return,
            None => {
                let Some(peer) = fresh.next() else { return };
                let s = match t.free_slots.pop() {
                    Some(s) => {
                        if let Some(e) = t.peers.get_mut(s as usize) {
                            *e = Some(peer);
                        }
                        s
                    }
                    None => {
                        t.peers.push(Some(peer));
                        (t.peers.len() - 1) as u32
                    }
                };
                let inserted = t.by_key.insert(p.public_key, s);
                debug_assert!(inserted.is_ok(), "room reserved before");
                s
            }
        };
        if changes.touched.len() < changes.touched.capacity() {
            changes.touched.push(PeerId(slot));
        }
        if let Some(peer) = t.peer(slot) {
            let mut st = peer.state.lock();
            if let Some(psk) = p.preshared_key {
                st.handshake.set_psk(psk.filter(|k| *k != [0; 32]));
            }
            if let Some(e) = p.endpoint {
                st.endpoint = Some(e);
            }
            if let Some(ka) = p.persistent_keepalive {
                let was = st.persistent_keepalive;
                st.persistent_keepalive = ka;
                st.timers.set_persistent_keepalive(now.mono, ka);
                if ka != 0 && ka != was {
                    // As Linux: a newly set keepalive is sent right away,
                    // which also opens a NAT mapping.
                    st.flags |= WANT_KEEPALIVE;
                }
            }
        }
        if p.replace_allowed_ips {
            t.allowed.remove_value(slot);
        }
        for a in &p.allowed_ips {
            if a.remove {
                t.allowed.remove(&a.prefix, slot);
            } else {
                let inserted = t.allowed.insert(a.prefix, slot);
                debug_assert!(inserted.is_ok(), "room reserved before");
            }
        }
    }

    /// One peer's public information and counters (no preshared key).
    pub fn peer_info(&self, peer: PeerId) -> Option<PeerInfo> {
        let t = self.tables.read();
        let p = t.peer(peer.0)?;
        Self::info_of(&t, p, peer.0, false).ok()
    }

    fn info_of(t: &Tables, p: &Peer, slot: u32, privileged: bool) -> Result<PeerInfo> {
        Ok(Self::info_with(
            p,
            t.allowed.try_prefixes_of(slot)?,
            privileged,
        ))
    }

    fn info_with(p: &Peer, allowed_ips: Vec<IpPrefix>, privileged: bool) -> PeerInfo {
        let st = p.state.lock();
        PeerInfo {
            public_key: p.public,
            preshared_key: if privileged { st.handshake.psk() } else { None },
            endpoint: st.endpoint,
            last_handshake: (
                st.last_handshake_real / NSEC,
                (st.last_handshake_real % NSEC) as u32,
            ),
            rx_bytes: st.rx_bytes,
            tx_bytes: st.tx_bytes,
            persistent_keepalive: st.persistent_keepalive,
            allowed_ips,
        }
    }

    /// The configuration and statistics, as `wg show` wants them, peers in
    /// the order they were added (slots are reused). Secret keys only for
    /// `privileged` callers. NoMemory when the copy cannot be allocated.
    pub fn config(&self, privileged: bool) -> Result<DeviceInfo> {
        let t = self.tables.read();
        let mut peers = Vec::new();
        peers
            .try_reserve_exact(t.peer_count())
            .map_err(|_| Error::NoMemory)?;
        // Every peer's prefixes from one pass over the table: a pass per
        // peer made the configuration of 100k peers and 1M routes take
        // hours to read.
        let counts = Self::routes_per_slot(&t)?;
        let mut by_slot: Vec<Vec<IpPrefix>> = Vec::new();
        by_slot
            .try_reserve_exact(counts.len())
            .map_err(|_| Error::NoMemory)?;
        for &n in &counts {
            let mut v = Vec::new();
            v.try_reserve_exact(n as usize)
                .map_err(|_| Error::NoMemory)?;
            by_slot.push(v);
        }
        for (prefix, slot) in t.allowed.iter() {
            if let Some(v) = by_slot.get_mut(slot as usize) {
                if v.len() < v.capacity() {
                    v.push(prefix);
                }
            }
        }
        for (p, aips) in t.peers.iter().zip(by_slot) {
            if let Some(p) = p {
                let mut aips = aips;
                crate::sort::heapsort(&mut aips);
                peers.push(Self::info_with(&p[0], aips, privileged));
            }
        }
        Ok(DeviceInfo {
            private_key: if privileged {
                t.identity.as_ref().map(|i| i.private)
            } else {
                None
            },
            public_key: t.identity.as_ref().map(|i| i.public),
            listen_port: if t.listen_port != 0 {
                t.listen_port
            } else {
                t.bound_port
            },
            user_cookie: t.user_cookie,
            peers,
        })
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
    pub fn peer_deadline(&self, peer: PeerId) -> Option<u64> {
        let t = self.tables.read();
        let p = t.peer(peer.0)?;
        let d = p.state.lock().timers.next_deadline();
        d
    }
}

#[cfg(test)]
mod tests;
