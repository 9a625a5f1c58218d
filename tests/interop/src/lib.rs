//! Cross-implementation tests live in tests/; this library is what they and
//! the bench (benches/core.rs) share: inner-packet builders, deterministic
//! keys and configuration, and [`Harness`], a host that drives one wg-core
//! [`Device`] against one boringtun [`Tunn`], carrying every datagram by
//! hand in memory.
//!
//! Time: our side takes a [`Time`] with every call; boringtun reads
//! `mock_instant::Instant` (feature `mock-instant`), whose clock is
//! *thread-local* in mock_instant 0.3 (the `sync` feature is off), so each
//! test thread has its own. [`Harness::tick`] moves both clocks together.
//! boringtun's handshake timestamps are the real wall clock at the `Tunn`'s
//! creation plus mock time elapsed since.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

pub use boringtun::noise::errors::WireGuardError;
use boringtun::noise::rate_limiter::RateLimiter;
use boringtun::noise::{Tunn, TunnResult};
use boringtun::x25519::{PublicKey, StaticSecret};
pub use mock_instant::MockClock;
use wg_core::allowedips::IpPrefix;
use wg_core::config::{AllowedIpChange, DeviceUpdate, Key, PeerUpdate};
use wg_core::consts::MAX_STAGED_PACKETS;
use wg_core::device::{DATA_HEADROOM, DATA_TAILROOM, MAX_HANDSHAKE_LEN};
use wg_core::testutil::SeededRng;
use wg_core::{crypto, Decap, Device, Encap, Endpoint, Error, PeerAction, PeerId, Received, Time};

pub const NSEC: u64 = 1_000_000_000;
pub const MSEC: u64 = 1_000_000;
/// Our side's clock at the start of every harness.
pub const T0: Time = wg_core::testutil::T0;

/// The harness keeps its clocks as raw nanoseconds, boringtun's mock clock
/// being one; these are the engine's protocol constants in that unit.
pub mod ns {
    use wg_core::consts;
    pub const KEEPALIVE_TIMEOUT: u64 = consts::KEEPALIVE_TIMEOUT.as_nanos();
    pub const REKEY_TIMEOUT: u64 = consts::REKEY_TIMEOUT.as_nanos();
    pub const REKEY_AFTER_TIME: u64 = consts::REKEY_AFTER_TIME.as_nanos();
    pub const T0_MONO: u64 = super::T0.mono.as_nanos();
    pub const T0_REAL: u64 = super::T0.real.as_nanos();
}

/// Outer addresses: ours, and boringtun's.
pub const OUR_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
pub const OUR_PORT: u16 = 51820;
pub const OUR_ENDPOINT: Endpoint = Endpoint::V4 {
    addr: [192, 0, 2, 1],
    port: OUR_PORT,
};
pub const BT_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
pub const BT_PORT: u16 = 51821;
pub const BT_ENDPOINT: Endpoint = Endpoint::V4 {
    addr: [198, 51, 100, 2],
    port: BT_PORT,
};

/// Tunnel addresses: ours, and boringtun's (its allowed IPs on our side).
pub const OUR_V4: [u8; 4] = [10, 0, 0, 1];
pub const BT_V4: [u8; 4] = [10, 0, 0, 2];
pub const OUR_V6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
pub const BT_V6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

/// Message types, the first byte of every datagram.
pub const INITIATION: u8 = 1;
pub const RESPONSE: u8 = 2;
pub const COOKIE_REPLY: u8 = 3;
pub const DATA: u8 = 4;

/// The largest UDP payload (a datagram must fit a 16-bit UDP length).
pub const MAX_DATAGRAM: usize = 65535;
/// A data message adds a 16-byte header and a 16-byte tag.
pub const DATA_OVERHEAD: usize = 32;
/// The largest inner packet that fits a datagram unpadded (boringtun never
/// pads): 65535 - 32.
pub const MAX_INNER_UNPADDED: usize = MAX_DATAGRAM - DATA_OVERHEAD;
/// The largest inner packet that fits once padded to a multiple of 16, as
/// wg-core pads any packet longer than its MTU: 65503 rounded down to 16.
pub const MAX_INNER_PADDED: usize = MAX_INNER_UNPADDED & !15;

const _: () = assert!(MAX_INNER_UNPADDED == 65503);
const _: () = assert!(MAX_INNER_PADDED == 65488);

fn clamped(seed: u8) -> Key {
    let mut k = [seed; 32];
    crypto::clamp_private_key(&mut k);
    k
}

/// Our static private key.
pub fn our_private() -> Key {
    clamped(0x11)
}

/// boringtun's static private key.
pub fn bt_private() -> Key {
    clamped(0x22)
}

pub fn our_public() -> Key {
    crypto::public_key(&our_private())
}

pub fn bt_public() -> Key {
    crypto::public_key(&bt_private())
}

/// Payload bytes that differ from packet to packet and position to position.
fn pattern(out: &mut [u8], fill: u8) {
    for (i, b) in out.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(31).wrapping_add(fill) ^ ((i >> 8) as u8);
    }
}

/// An IPv4/UDP packet of exactly `total_len` bytes (20..=65535).
pub fn ipv4_packet(src: [u8; 4], dst: [u8; 4], total_len: usize, fill: u8) -> Vec<u8> {
    assert!((20..=65535).contains(&total_len), "IPv4 length {total_len}");
    let mut p = vec![0u8; total_len];
    pattern(&mut p[20..], fill);
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(total_len as u16).to_be_bytes());
    p[4..6].copy_from_slice(&u16::from(fill).to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&src);
    p[16..20].copy_from_slice(&dst);
    let mut sum: u32 = p[..20]
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    p[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    p
}

/// An IPv6/UDP packet of exactly `total_len` bytes (40..=65575).
pub fn ipv6_packet(src: [u8; 16], dst: [u8; 16], total_len: usize, fill: u8) -> Vec<u8> {
    assert!(
        (40..=65535 + 40).contains(&total_len),
        "IPv6 length {total_len}"
    );
    let mut p = vec![0u8; total_len];
    pattern(&mut p[40..], fill);
    p[0] = 0x60;
    p[4..6].copy_from_slice(&((total_len - 40) as u16).to_be_bytes());
    p[6] = 17;
    p[7] = 64;
    p[8..24].copy_from_slice(&src);
    p[24..40].copy_from_slice(&dst);
    p
}

/// A packet from our tunnel address to boringtun's.
pub fn from_us(v6: bool, total_len: usize, fill: u8) -> Vec<u8> {
    if v6 {
        ipv6_packet(OUR_V6, BT_V6, total_len, fill)
    } else {
        ipv4_packet(OUR_V4, BT_V4, total_len, fill)
    }
}

/// A packet from boringtun's tunnel address to ours.
pub fn from_bt(v6: bool, total_len: usize, fill: u8) -> Vec<u8> {
    if v6 {
        ipv6_packet(BT_V6, OUR_V6, total_len, fill)
    } else {
        ipv4_packet(BT_V4, OUR_V4, total_len, fill)
    }
}

/// A device with our identity and one peer.
#[allow(clippy::too_many_arguments)]
pub fn device_with_peer(
    seed: u64,
    now: Time,
    private: Key,
    peer_public: Key,
    peer_endpoint: Option<Endpoint>,
    allowed: &[IpPrefix],
    psk: Option<Key>,
    keepalive: Option<u16>,
) -> (Device, PeerId) {
    let dev = Device::new(Box::new(SeededRng::new(seed))).unwrap();
    dev.set_config(
        now,
        &DeviceUpdate {
            private_key: Some(Some(private)),
            listen_port: Some(OUR_PORT),
            peers: vec![PeerUpdate {
                public_key: peer_public,
                endpoint: peer_endpoint,
                preshared_key: psk.map(Some),
                persistent_keepalive: keepalive,
                allowed_ips: allowed
                    .iter()
                    .map(|p| AllowedIpChange {
                        prefix: *p,
                        remove: false,
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        },
    )
    .expect("configuration");
    let peer = dev.peer_by_key(&peer_public).expect("peer exists");
    (dev, peer)
}

/// boringtun's tunnel addresses, as our allowed IPs for it.
pub fn bt_allowed_ips() -> Vec<IpPrefix> {
    vec![
        IpPrefix::new_v4(BT_V4, 32).unwrap(),
        IpPrefix::new_v6(BT_V6, 128).unwrap(),
    ]
}

/// What both sides are configured with.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub our_psk: Option<Key>,
    pub bt_psk: Option<Key>,
    /// boringtun's rate limiter: `None` is the `Tunn`'s own (10 handshake
    /// messages a second, reset by `update_timers`); `Some(limit)` a
    /// `RateLimiter` of that limit, never reset (0 demands a cookie of every
    /// handshake message).
    pub bt_limit: Option<u64>,
    pub our_keepalive: Option<u16>,
    pub bt_keepalive: Option<u16>,
    /// boringtun's 24-bit peer index.
    pub bt_index: u32,
    /// Seed of our device's generator.
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            our_psk: None,
            bt_psk: None,
            bt_limit: None,
            our_keepalive: None,
            bt_keepalive: None,
            bt_index: 0x42,
            seed: 1,
        }
    }
}

/// boringtun's side of `cfg`.
pub fn bt_tunn(cfg: &Config) -> Tunn {
    let secret = StaticSecret::from(bt_private());
    let limiter = cfg
        .bt_limit
        .map(|limit| Arc::new(RateLimiter::new(&PublicKey::from(&secret), limit)));
    Tunn::new(
        secret,
        PublicKey::from(our_public()),
        cfg.bt_psk,
        cfg.bt_keepalive,
        cfg.bt_index,
        limiter,
    )
}

/// Which way a datagram travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// From boringtun to our device.
    ToUs,
    /// From our device to boringtun.
    ToBt,
}

/// A datagram as sent, for replay and timing checks.
#[derive(Clone, Debug)]
pub struct Sent {
    pub dir: Dir,
    /// Our monotonic time when it was sent.
    pub at: u64,
    pub bytes: Vec<u8>,
}

impl Sent {
    pub fn ty(&self) -> u8 {
        self.bytes.first().copied().unwrap_or(0)
    }
}

/// How the harness, as our host, learns when to poll the peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostMode {
    /// Re-reads `peer_deadline` at every tick (a timer wheel that looks at
    /// the engine's deadlines), like the engine's own test harness.
    Scan,
    /// wg_core.h to the letter: one callout, armed from each `Idle` answer
    /// (and after configuration); polls only when told to (`Staged`,
    /// `Received::poll`) or when that callout expires.
    Callout,
}

/// What boringtun did with a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BtOut {
    /// Consumed (keepalive, cookie reply).
    Done,
    /// Answered (response, cookie reply, keepalive, queued data).
    Network,
    /// Delivered an inner packet to its tunnel.
    Tunnel,
}

enum Owned {
    Done,
    Err(WireGuardError),
    Net(Vec<u8>),
    Tun(Vec<u8>),
}

fn own(r: TunnResult<'_>) -> Owned {
    match r {
        TunnResult::Done => Owned::Done,
        TunnResult::Err(e) => Owned::Err(e),
        TunnResult::WriteToNetwork(p) => Owned::Net(p.to_vec()),
        TunnResult::WriteToTunnelV4(p, _) | TunnResult::WriteToTunnelV6(p, _) => {
            Owned::Tun(p.to_vec())
        }
    }
}

/// One wg-core device (with its host's staging queue and timers) and one
/// boringtun `Tunn`, each the other's only peer.
pub struct Harness {
    pub cfg: Config,
    pub host: HostMode,
    /// Our time; boringtun's mock clock moves with it.
    pub now: Time,
    pub dev: Device,
    pub peer: PeerId,
    /// Packets our host keeps while a handshake runs.
    pub staged: VecDeque<Vec<u8>>,
    /// How many staged packets the engine told us to drop.
    pub dropped: usize,
    /// The callout of `HostMode::Callout`.
    pub callout: Option<u64>,
    /// Inner packets our device delivered to its tunnel.
    pub us_delivered: Vec<Vec<u8>>,
    pub tunn: Tunn,
    /// Inner packets boringtun delivered to its tunnel.
    pub bt_delivered: Vec<Vec<u8>>,
    /// Datagrams in flight.
    pub wire: VecDeque<(Dir, Vec<u8>)>,
    /// Every datagram ever sent.
    pub log: Vec<Sent>,
    /// Errors our device returned while `pump` delivered.
    pub our_errors: Vec<Error>,
    /// Errors boringtun returned while `pump` delivered or its timers ran.
    pub bt_errors: Vec<WireGuardError>,
    bt_buf: Vec<u8>,
}

impl Harness {
    pub fn new(cfg: Config) -> Harness {
        Self::with_host(cfg, HostMode::Scan)
    }

    pub fn with_host(cfg: Config, host: HostMode) -> Harness {
        let (dev, peer) = Self::our_device(&cfg, cfg.seed, T0);
        let mut h = Harness {
            cfg,
            host,
            now: T0,
            dev,
            peer,
            staged: VecDeque::new(),
            dropped: 0,
            callout: None,
            us_delivered: Vec::new(),
            tunn: bt_tunn(&cfg),
            bt_delivered: Vec::new(),
            wire: VecDeque::new(),
            log: Vec::new(),
            our_errors: Vec::new(),
            bt_errors: Vec::new(),
            bt_buf: vec![0u8; MAX_DATAGRAM + 2 * DATA_OVERHEAD + 64],
        };
        // Peers created by configuration are polled.
        h.poll_us().expect("poll after configuration");
        h
    }

    fn our_device(cfg: &Config, seed: u64, now: Time) -> (Device, PeerId) {
        device_with_peer(
            seed,
            now,
            our_private(),
            bt_public(),
            Some(BT_ENDPOINT),
            &bt_allowed_ips(),
            cfg.our_psk,
            cfg.our_keepalive,
        )
    }

    /// Our host restarts: a fresh device (another seed) configured the
    /// same, nothing staged. The clock goes on.
    pub fn restart_us(&mut self, seed: u64) {
        let (dev, peer) = Self::our_device(&self.cfg, seed, self.now);
        self.dev = dev;
        self.peer = peer;
        self.staged.clear();
        self.callout = None;
        self.poll_us().expect("poll after configuration");
    }

    /// boringtun restarts: a fresh `Tunn` configured the same.
    pub fn restart_bt(&mut self) {
        self.tunn = bt_tunn(&self.cfg);
    }

    fn transmit(&mut self, dir: Dir, bytes: Vec<u8>) {
        self.log.push(Sent {
            dir,
            at: self.now.mono.as_nanos(),
            bytes: bytes.clone(),
        });
        self.wire.push_back((dir, bytes));
    }

    fn stage(&mut self, pkt: &[u8]) {
        if self.staged.len() == MAX_STAGED_PACKETS {
            self.staged.pop_front();
        }
        self.staged.push_back(pkt.to_vec());
    }

    /// Our tunnel hands `pkt` to the device (routed by destination).
    pub fn send_from_us(&mut self, pkt: &[u8]) -> Result<Encap, Error> {
        let mut buf = vec![0u8; DATA_HEADROOM + pkt.len() + DATA_TAILROOM];
        buf[DATA_HEADROOM..DATA_HEADROOM + pkt.len()].copy_from_slice(pkt);
        let r = self.dev.encapsulate(self.now, &mut buf, pkt.len())?;
        self.after_encap(r, buf, pkt)
    }

    /// Seals `pkt` for boringtun without routing (a zero length is a
    /// keepalive).
    pub fn send_to_peer_from_us(&mut self, pkt: &[u8]) -> Result<Encap, Error> {
        let mut buf = vec![0u8; DATA_HEADROOM + pkt.len() + DATA_TAILROOM];
        buf[DATA_HEADROOM..DATA_HEADROOM + pkt.len()].copy_from_slice(pkt);
        let r = self
            .dev
            .encapsulate_to(self.peer, self.now, &mut buf, pkt.len())?;
        self.after_encap(r, buf, pkt)
    }

    fn after_encap(&mut self, r: Encap, mut buf: Vec<u8>, pkt: &[u8]) -> Result<Encap, Error> {
        match r {
            Encap::Send {
                endpoint,
                len,
                peer,
                poll,
            } => {
                assert_eq!(endpoint, BT_ENDPOINT);
                assert_eq!(peer, self.peer);
                buf.truncate(len);
                self.transmit(Dir::ToBt, buf);
                if poll {
                    self.poll_us()?;
                }
            }
            Encap::Staged { peer } => {
                assert_eq!(peer, self.peer);
                self.stage(pkt);
                self.poll_us()?;
            }
        }
        Ok(r)
    }

    /// Polls our peer until it is idle, doing what it says; returns the
    /// next deadline.
    pub fn poll_us(&mut self) -> Result<Option<u64>, Error> {
        for _ in 0..1000 {
            let mut out = [0u8; MAX_HANDSHAKE_LEN];
            match self.dev.poll_peer(self.peer, self.now, &mut out)? {
                PeerAction::Send { endpoint, len } => {
                    assert_eq!(endpoint, BT_ENDPOINT);
                    self.transmit(Dir::ToBt, out[..len].to_vec());
                }
                PeerAction::FlushStaged => {
                    let mut staged: VecDeque<Vec<u8>> = self.staged.drain(..).collect();
                    while let Some(pkt) = staged.pop_front() {
                        let mut buf = vec![0u8; DATA_HEADROOM + pkt.len() + DATA_TAILROOM];
                        buf[DATA_HEADROOM..DATA_HEADROOM + pkt.len()].copy_from_slice(&pkt);
                        match self
                            .dev
                            .encapsulate_to(self.peer, self.now, &mut buf, pkt.len())?
                        {
                            Encap::Send { len, endpoint, .. } => {
                                assert_eq!(endpoint, BT_ENDPOINT);
                                buf.truncate(len);
                                self.transmit(Dir::ToBt, buf);
                            }
                            Encap::Staged { .. } => {
                                // No session after all: keep the rest, in order.
                                self.staged.push_back(pkt);
                                self.staged.extend(staged.drain(..));
                            }
                        }
                    }
                }
                PeerAction::DropStaged => {
                    self.dropped += self.staged.len();
                    self.staged.clear();
                }
                PeerAction::Idle { next_deadline } => {
                    let due = next_deadline.map(wg_core::Instant::as_nanos);
                    self.callout = due;
                    return Ok(due);
                }
            }
        }
        panic!("poll_peer never went idle");
    }

    /// boringtun's tunnel hands it `pkt`.
    pub fn send_from_bt(&mut self, pkt: &[u8]) -> Result<BtOut, WireGuardError> {
        match own(self.tunn.encapsulate(pkt, &mut self.bt_buf)) {
            Owned::Net(v) => {
                self.transmit(Dir::ToUs, v);
                Ok(BtOut::Network)
            }
            Owned::Done => Ok(BtOut::Done),
            Owned::Err(e) => Err(e),
            Owned::Tun(_) => unreachable!("encapsulate delivers nothing"),
        }
    }

    /// Runs boringtun's timers once (its device does every 250 ms).
    pub fn bt_timers(&mut self) {
        match own(self.tunn.update_timers(&mut self.bt_buf)) {
            Owned::Net(v) => self.transmit(Dir::ToUs, v),
            Owned::Err(e) => self.bt_errors.push(e),
            Owned::Done | Owned::Tun(_) => {}
        }
    }

    /// Hands a datagram from boringtun to our device.
    pub fn deliver_to_us(&mut self, bytes: &[u8]) -> Result<Received, Error> {
        let mut buf = bytes.to_vec();
        let mut out = [0u8; MAX_HANDSHAKE_LEN];
        let r = self
            .dev
            .decapsulate(self.now, BT_ENDPOINT, &mut buf, &mut out)?;
        match r.action {
            Decap::Reply { len } => self.transmit(Dir::ToBt, out[..len].to_vec()),
            Decap::Tunnel { offset, len } => {
                self.us_delivered.push(buf[offset..offset + len].to_vec())
            }
            Decap::Done => {}
        }
        if let (true, Some(p)) = (r.poll, r.peer) {
            assert_eq!(p, self.peer);
            self.poll_us()?;
        }
        Ok(r)
    }

    /// Hands a datagram from our device to boringtun, then drains what it
    /// queued (as its API asks: repeat with an empty datagram until Done).
    pub fn deliver_to_bt(&mut self, bytes: &[u8]) -> Result<BtOut, WireGuardError> {
        let src = Some(IpAddr::V4(OUR_IP));
        let out = match own(self.tunn.decapsulate(src, bytes, &mut self.bt_buf)) {
            Owned::Done => BtOut::Done,
            Owned::Err(e) => return Err(e),
            Owned::Tun(p) => {
                self.bt_delivered.push(p);
                BtOut::Tunnel
            }
            Owned::Net(v) => {
                self.transmit(Dir::ToUs, v);
                while let Owned::Net(v) = own(self.tunn.decapsulate(None, &[], &mut self.bt_buf)) {
                    self.transmit(Dir::ToUs, v);
                }
                BtOut::Network
            }
        };
        Ok(out)
    }

    /// Delivers every datagram in flight (and whatever they cause), noting
    /// errors; returns how many were delivered.
    pub fn pump(&mut self) -> usize {
        let mut n = 0;
        while let Some((dir, bytes)) = self.wire.pop_front() {
            n += 1;
            assert!(n < 100_000, "datagrams ping-pong forever");
            match dir {
                Dir::ToUs => {
                    if let Err(e) = self.deliver_to_us(&bytes) {
                        self.our_errors.push(e);
                    }
                }
                Dir::ToBt => {
                    if let Err(e) = self.deliver_to_bt(&bytes) {
                        self.bt_errors.push(e);
                    }
                }
            }
        }
        n
    }

    /// Drops every datagram in flight; returns them.
    pub fn lose_all(&mut self) -> Vec<(Dir, Vec<u8>)> {
        self.wire.drain(..).collect()
    }

    /// Moves both clocks by `step`, runs both sides' timers as their hosts
    /// would, and delivers what they send.
    pub fn tick(&mut self, step: u64) {
        self.now = self.now.plus(wg_core::Duration::from_nanos(step));
        MockClock::advance(Duration::from_nanos(step));
        self.bt_timers();
        let due = match self.host {
            HostMode::Scan => self
                .dev
                .peer_deadline(self.peer)
                .map(wg_core::Instant::as_nanos),
            HostMode::Callout => self.callout,
        };
        if due.is_some_and(|d| d <= self.now.mono.as_nanos()) {
            self.callout = None;
            self.poll_us().expect("poll at deadline");
        }
        self.pump();
    }

    /// `tick`s in steps of `step` for `ns`.
    pub fn advance(&mut self, ns: u64, step: u64) {
        let end = self.now.mono.as_nanos() + ns;
        while self.now.mono.as_nanos() < end {
            self.tick(step.min(end - self.now.mono.as_nanos()));
        }
    }

    /// Datagrams sent so far one way with a given message type.
    pub fn sent(&self, dir: Dir, ty: u8) -> impl Iterator<Item = &Sent> + '_ {
        self.log
            .iter()
            .filter(move |s| s.dir == dir && s.ty() == ty)
    }

    pub fn count(&self, dir: Dir, ty: u8) -> usize {
        self.sent(dir, ty).count()
    }

    /// Completes a handshake started by our side (a staged packet), which
    /// must deliver `pkt` to boringtun.
    pub fn handshake_from_us(&mut self, pkt: &[u8]) {
        let before = self.bt_delivered.len();
        self.send_from_us(pkt).expect("encapsulate");
        self.pump();
        assert_eq!(self.bt_delivered.len(), before + 1, "handshake from us");
        assert_eq!(self.bt_delivered.last().unwrap(), pkt);
    }

    /// Completes a handshake started by boringtun (a queued packet), which
    /// must deliver `pkt` to us.
    pub fn handshake_from_bt(&mut self, pkt: &[u8]) {
        let before = self.us_delivered.len();
        self.send_from_bt(pkt).expect("encapsulate");
        self.pump();
        assert_eq!(
            self.us_delivered.len(),
            before + 1,
            "handshake from boringtun"
        );
        assert_eq!(self.us_delivered.last().unwrap(), pkt);
    }
}
