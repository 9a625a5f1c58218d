//! The receive path: two devices that completed a handshake, and an input
//! that is a sequence of operations on them — arbitrary datagrams from
//! arbitrary sources, data messages with live receiver indices and
//! counters, handshake messages with valid MACs, valid cookie replies,
//! fully valid initiations from a forged initiator state, real datagrams
//! delivered late, twice, mutated or never, and time passing.
//!
//! After every input the pair must still work: the network is drained and a
//! fresh packet must cross each way within the protocol's timer bounds.
//! Throughout, a plaintext is delivered only if its peer sealed it and not
//! yet delivered (no forgery, no double decryption), and only from the
//! peer's allowed source addresses.
//!
//! The pair persists across inputs (a handshake per input would cost more
//! than the input) and is rebuilt every [`RESET_EVERY`] inputs. A crash that
//! needs earlier inputs' state does not reproduce from its artifact alone;
//! `WG_FUZZ_FRESH=1` rebuilds the pair for every input, which makes every
//! run a function of its input (use it to reproduce and minimise).

use std::collections::VecDeque;
use std::sync::Mutex;

use arbitrary::{Result, Unstructured};
use wg_core::cookie::{CookieMaker, LABEL_COOKIE};
use wg_core::device::{DATA_HEADROOM, DATA_TAILROOM, MAX_HANDSHAKE_LEN};
use wg_core::messages;
use wg_core::noise::{Handshake, StaticIdentity};
use wg_core::testutil::{SeededRng, T0};
use wg_core::{config, crypto, Decap, Device, Encap, Endpoint, PeerAction, PeerId, Time};

const MS: u64 = 1_000_000;
const SEC: u64 = 1_000_000_000;
/// Inputs between rebuilds of the pair, so that a long campaign does not
/// drift into states (clocks near overflow) no host reaches.
pub const RESET_EVERY: u64 = 10_000;
/// Inputs between health checks (each may need a handshake, the costliest
/// thing here); with `WG_FUZZ_FRESH` every input is checked.
pub const HEALTH_EVERY: u64 = 8;
/// Operations per input; more would only slow the fuzzer down.
const MAX_OPS: usize = 64;
/// Operations per input that cost a handshake's X25519 work (a forged
/// valid initiation, sessions cleared): ~70% of the time went to X25519
/// when inputs could hold 64 of them, and a third in one input reaches no
/// state that two and the persisting pair do not. Beyond it they are no-ops.
const MAX_HEAVY_OPS: u32 = 2;
/// Waits of a second or more per input. Each one can fire a handshake
/// retry or rekey (up to eight X25519s once answered); uncapped they were
/// half of all X25519 work. The pair persists, so longer waits still add up
/// across inputs. Beyond it they are no-ops.
const MAX_LONG_WAITS: u32 = 4;
const WIRE_CAP: usize = 64;
const HISTORY_CAP: usize = 32;
/// Plaintexts remembered per side: more than the wire and history can ever
/// deliver, so a legitimate delivery always finds its entry.
const PENDING_CAP: usize = 512;

fn private(side: usize) -> config::Key {
    let mut k = [side as u8 + 1; 32];
    crypto::clamp_private_key(&mut k);
    k
}

pub fn addr(side: usize) -> Endpoint {
    Endpoint::V4 {
        addr: [192, 0, 2, side as u8 + 1],
        port: 51820 + side as u16,
    }
}

fn tunnel_v4(side: usize) -> [u8; 4] {
    [10, 0, 0, side as u8 + 1]
}

fn tunnel_v6(side: usize) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[0] = 0xfd;
    a[15] = side as u8 + 1;
    a
}

/// An IPv4 packet with a correct header length field.
pub fn ipv4(src: [u8; 4], dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 20 + payload.len()];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&src);
    p[16..20].copy_from_slice(&dst);
    p[20..].copy_from_slice(payload);
    p
}

pub fn ipv6(src: [u8; 16], dst: [u8; 16], payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 40 + payload.len()];
    p[0] = 0x60;
    p[4..6].copy_from_slice(&(payload.len() as u16).to_be_bytes());
    p[6] = 17;
    p[7] = 64;
    p[8..24].copy_from_slice(&src);
    p[24..40].copy_from_slice(&dst);
    p[40..].copy_from_slice(payload);
    p
}

struct Side {
    dev: Device,
    peer: PeerId,
    public: config::Key,
    staged: VecDeque<Vec<u8>>,
    /// Plaintexts the other side sealed for this one, not yet delivered.
    pending: VecDeque<Vec<u8>>,
    /// Receiver indices this side answers to, newest last.
    indices: VecDeque<u32>,
    /// The last data counter sent to this side.
    counter: u64,
    /// mac1 of the last handshake message this side sent: the associated
    /// data of a cookie reply it will accept.
    last_mac1: Option<[u8; 16]>,
    /// An outsider who knows this side's public key (valid mac1, and mac2
    /// once it has been given a cookie).
    attacker: CookieMaker,
    /// The other side's identity, used to forge fully valid initiations.
    shadow: Option<Handshake>,
    /// The other side's static identity (its public key costs an X25519).
    other_ident: StaticIdentity,
    /// An authenticated message came from an address other than the
    /// peer's real one: the device rightly roamed there, where this world
    /// delivers nothing, so the health check puts the endpoint back as an
    /// administrator would (`wg set ... endpoint`).
    roamed: bool,
}

pub struct World {
    sides: [Side; 2],
    now: Time,
    /// (destination side, source, datagram)
    wire: VecDeque<(usize, Endpoint, Vec<u8>)>,
    history: VecDeque<(usize, Vec<u8>)>,
    health_n: u64,
    health_seen: bool,
    inputs: u64,
    /// Heavy operations run in the current input (see MAX_HEAVY_OPS).
    heavy: u32,
    /// Long waits run in the current input (see MAX_LONG_WAITS).
    long_waits: u32,
    trace: Vec<String>,
}

impl World {
    /// Two devices, each the other's only peer, after a handshake and a
    /// packet each way.
    pub fn new() -> World {
        let mk = |side: usize| {
            let dev = Device::new(Box::new(SeededRng::new(side as u64 + 1))).expect("device");
            let other = 1 - side;
            let other_pub = crypto::public_key(&private(other));
            dev.set_config(
                T0,
                &config::DeviceUpdate {
                    private_key: Some(Some(private(side))),
                    listen_port: Some(addr(side).port()),
                    peers: vec![config::PeerUpdate {
                        public_key: other_pub,
                        endpoint: Some(addr(other)),
                        allowed_ips: vec![
                            config::AllowedIpChange {
                                prefix: wg_core::allowedips::IpPrefix::new_v4(tunnel_v4(other), 32)
                                    .expect("prefix"),
                                remove: false,
                            },
                            config::AllowedIpChange {
                                prefix: wg_core::allowedips::IpPrefix::new_v6(
                                    tunnel_v6(other),
                                    128,
                                )
                                .expect("prefix"),
                                remove: false,
                            },
                        ],
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            )
            .expect("configuration");
            let peer = dev.peer_ids()[0];
            let public = crypto::public_key(&private(side));
            Side {
                dev,
                peer,
                public,
                staged: VecDeque::new(),
                pending: VecDeque::new(),
                indices: VecDeque::new(),
                counter: 0,
                last_mac1: None,
                attacker: CookieMaker::new(&public),
                shadow: None,
                other_ident: StaticIdentity::new(private(other)),
                roamed: false,
            }
        };
        let mut w = World {
            sides: [mk(0), mk(1)],
            now: T0,
            wire: VecDeque::new(),
            history: VecDeque::new(),
            health_n: 0,
            health_seen: false,
            inputs: 0,
            heavy: 0,
            long_waits: 0,
            trace: Vec::new(),
        };
        w.check_health();
        w
    }

    /// Records what the harness learns from a datagram `from` sends, and
    /// puts it on the wire.
    fn emit(&mut self, from: usize, bytes: Vec<u8>) {
        let to = 1 - from;
        match messages::classify(&bytes) {
            Ok(messages::MessageType::Initiation | messages::MessageType::Response) => {
                if let Some(i) = messages::sender_index(&bytes) {
                    remember(&mut self.sides[from].indices, i);
                }
                let off = bytes.len() - messages::MACS_LEN;
                self.sides[from].last_mac1 = messages::read_array(&bytes, off);
            }
            Ok(messages::MessageType::Data) => {
                if let Some(i) = messages::receiver_index(&bytes) {
                    remember(&mut self.sides[to].indices, i);
                }
                if let Some(c) = messages::data_counter(&bytes) {
                    self.sides[to].counter = c;
                }
            }
            _ => {}
        }
        push_capped(&mut self.history, (to, bytes.clone()), HISTORY_CAP);
        push_capped(&mut self.wire, (to, addr(from), bytes), WIRE_CAP);
    }

    /// Seals `pkt` at `from`: routed by destination, or straight to the
    /// peer (which is how staged packets and keepalives go).
    fn seal(&mut self, from: usize, pkt: Vec<u8>, direct: bool) {
        let mut buf = vec![0u8; DATA_HEADROOM + pkt.len() + DATA_TAILROOM];
        buf[DATA_HEADROOM..DATA_HEADROOM + pkt.len()].copy_from_slice(&pkt);
        let s = &self.sides[from];
        let r = if direct {
            s.dev.encapsulate_to(s.peer, self.now, &mut buf, pkt.len())
        } else {
            s.dev.encapsulate(self.now, &mut buf, pkt.len())
        };
        match r {
            Ok(Encap::Send {
                len, poll, peer, ..
            }) => {
                assert_eq!(peer, self.sides[from].peer, "sealed for another peer");
                buf.truncate(len);
                if !pkt.is_empty() {
                    push_capped(&mut self.sides[1 - from].pending, pkt, PENDING_CAP);
                }
                self.emit(from, buf);
                if poll {
                    self.poll(from);
                }
            }
            Ok(Encap::Staged { peer }) => {
                assert_eq!(peer, self.sides[from].peer, "staged for another peer");
                push_capped(
                    &mut self.sides[from].staged,
                    pkt,
                    wg_core::consts::MAX_STAGED_PACKETS,
                );
                self.poll(from);
            }
            Err(_) => {}
        }
    }

    fn poll(&mut self, side: usize) {
        for _ in 0..1000 {
            let mut out = [0u8; MAX_HANDSHAKE_LEN];
            let s = &self.sides[side];
            let action = s
                .dev
                .poll_peer(s.peer, self.now, &mut out)
                .unwrap_or_else(|e| panic!("poll_peer: {e:?}\n{}", self.trace.join("\n")));
            match action {
                PeerAction::Send { len, .. } => self.emit(side, out[..len].to_vec()),
                PeerAction::FlushStaged => {
                    let staged: Vec<_> = self.sides[side].staged.drain(..).collect();
                    for pkt in staged {
                        self.seal(side, pkt, true);
                    }
                }
                PeerAction::DropStaged => self.sides[side].staged.clear(),
                PeerAction::Idle { .. } => return,
            }
        }
        panic!("poll_peer never went idle\n{}", self.trace.join("\n"));
    }

    /// Hands a datagram to `to` as if from `src`; returns the answer it
    /// wrote for the source, if any (the caller decides where it goes).
    fn receive(&mut self, to: usize, src: Endpoint, mut bytes: Vec<u8>) -> Option<Vec<u8>> {
        let mut out = [0u8; MAX_HANDSHAKE_LEN];
        let side = &self.sides[to];
        let before = side.dev.peer_endpoint(side.peer);
        let r = side.dev.decapsulate(self.now, src, &mut bytes, &mut out);
        let after = side.dev.peer_endpoint(side.peer);
        // These errors come after the AEAD authenticated the datagram (its
        // inner packet is bad): the endpoint may move, as in Linux.
        let after_auth = matches!(
            r,
            Err(wg_core::Error::SourceNotAllowed | wg_core::Error::BadInnerPacket)
        );
        let r = match r {
            Ok(r) if r.peer.is_some() => r,
            other => {
                if after_auth {
                    if before != after && src != addr(1 - to) {
                        self.sides[to].roamed = true;
                    }
                } else {
                    // Only an authenticated message may move the endpoint.
                    assert_eq!(
                        before, after,
                        "an unauthenticated datagram from {src:?} moved the endpoint"
                    );
                }
                other.ok()?
            }
        };
        if let Some(p) = r.peer {
            assert_eq!(p, self.sides[to].peer, "authenticated as an unknown peer");
            if src != addr(1 - to) {
                self.sides[to].roamed = true;
            }
        }
        let reply = match r.action {
            Decap::Reply { len } => Some(out[..len].to_vec()),
            Decap::Tunnel { offset, len } => {
                assert!(r.peer.is_some(), "tunnel packet without a peer");
                let got = bytes
                    .get(offset..offset + len)
                    .unwrap_or_else(|| panic!("tunnel range {offset}+{len} out of the buffer"));
                self.delivered(to, got.to_vec());
                None
            }
            Decap::Done => None,
        };
        if r.poll {
            self.poll(to);
        }
        reply
    }

    /// A datagram from the network: answers go back on the wire when the
    /// source is the other side's real address, and are lost otherwise.
    fn deliver(&mut self, to: usize, src: Endpoint, bytes: Vec<u8>) {
        if let Some(reply) = self.receive(to, src, bytes) {
            if src == addr(1 - to) {
                self.emit(to, reply);
            }
        }
    }

    /// Checks a plaintext `to` delivered: sealed by its peer, not delivered
    /// before, from an allowed source.
    fn delivered(&mut self, to: usize, got: Vec<u8>) {
        let other = 1 - to;
        let src_ok = match got.first().map(|b| b >> 4) {
            Some(4) => got.get(12..16) == Some(&tunnel_v4(other)[..]),
            Some(6) => got.get(8..24) == Some(&tunnel_v6(other)[..]),
            _ => false,
        };
        assert!(
            src_ok,
            "delivered a packet from outside the peer's allowed IPs: {got:02x?}\n{}",
            self.trace.join("\n")
        );
        // Decrypted plaintext is what was sealed, zero padded; the inner
        // header's length may cut it short or reach into the padding.
        let matches = |sealed: &Vec<u8>| {
            let n = sealed.len().min(got.len());
            sealed[..n] == got[..n] && got[n..].iter().all(|&b| b == 0)
        };
        let pending = &mut self.sides[to].pending;
        match pending.iter().position(matches) {
            Some(i) => {
                pending.remove(i);
            }
            None => panic!(
                "delivered a plaintext never sealed or already delivered: {got:02x?}\n{}",
                self.trace.join("\n")
            ),
        }
        if got.get(20..26) == Some(&b"health"[..]) {
            let n = got
                .get(26..34)
                .map(|b| u64::from_le_bytes(b.try_into().unwrap()));
            if n == Some(self.health_n) {
                self.health_seen = true;
            }
        }
    }

    /// Delivers everything on the wire, answers included.
    fn settle(&mut self) {
        for _ in 0..10_000 {
            let Some((to, src, bytes)) = self.wire.pop_front() else {
                return;
            };
            self.deliver(to, src, bytes);
        }
        panic!("the wire never drained\n{}", self.trace.join("\n"));
    }

    fn advance(&mut self, ns: u64) {
        self.now = self.now.plus(wg_core::Duration::from_nanos(ns));
        self.poll(0);
        self.poll(1);
    }

    /// Both directions work: a fresh packet crosses each way once the
    /// network is reliable again, within the handshake retry bounds.
    pub fn check_health(&mut self) {
        self.settle();
        self.restore_endpoints();
        for from in [1, 0] {
            self.health_n += 1;
            self.health_seen = false;
            let mut payload = b"health".to_vec();
            payload.extend_from_slice(&self.health_n.to_le_bytes());
            let pkt = ipv4(tunnel_v4(from), tunnel_v4(1 - from), &payload);
            self.seal(from, pkt.clone(), false);
            // Retries give up after 90 s (DropStaged); send again then. Three
            // minutes covers a cookie round, a timestamp from the future of
            // a forged initiation aside, and a rekey. Steps of 100 ms, finer
            // than the retries' jitter (up to 333 ms): with 500 ms steps two
            // sides that initiate at once (each initiation replaces the
            // other side's own pending one) kept retrying in the same step,
            // every time, which real time's jitter breaks.
            for round in 0..2000u32 {
                self.settle();
                if self.health_seen {
                    break;
                }
                if round % 500 == 499 {
                    self.seal(from, pkt.clone(), false);
                }
                self.advance(SEC / 10);
            }
            assert!(
                self.health_seen,
                "side {from} cannot reach side {} any more\n{}",
                1 - from,
                self.trace.join("\n")
            );
        }
    }

    /// Undoes roaming to addresses this world never delivers to (see
    /// `Side::roamed`); otherwise both sides can end up sending into the
    /// void, each waiting for the other to speak first, as real WireGuard
    /// would.
    fn restore_endpoints(&mut self) {
        for to in 0..2 {
            if !std::mem::take(&mut self.sides[to].roamed) {
                continue;
            }
            let other_pub = self.sides[1 - to].public;
            let update = config::DeviceUpdate {
                peers: vec![config::PeerUpdate {
                    public_key: other_pub,
                    endpoint: Some(addr(1 - to)),
                    update_only: true,
                    ..Default::default()
                }],
                ..Default::default()
            };
            self.trace
                .push(format!("endpoint of side {to}'s peer set back"));
            self.sides[to]
                .dev
                .set_config(self.now, &update)
                .expect("setting an endpoint");
        }
    }

    fn src(&self, u: &mut Unstructured, to: usize) -> Result<Endpoint> {
        Ok(match u.arbitrary::<u8>()? % 5 {
            0 | 1 => addr(1 - to),
            2 => Endpoint::V4 {
                addr: u.arbitrary()?,
                port: u.arbitrary()?,
            },
            3 => Endpoint::V6 {
                addr: u.arbitrary()?,
                port: u.arbitrary()?,
                flowinfo: u.arbitrary()?,
                scope_id: u.arbitrary()?,
            },
            _ => addr(to),
        })
    }

    /// A receiver index `to` knows, mostly.
    fn index(&self, u: &mut Unstructured, to: usize) -> Result<u32> {
        let sel: u8 = u.arbitrary()?;
        let known = &self.sides[to].indices;
        if sel < 224 && !known.is_empty() {
            Ok(known[usize::from(sel) % known.len()])
        } else {
            u.arbitrary()
        }
    }

    /// A handshake message of `len` bytes with `ty` and fuzzed contents,
    /// and MACs an outsider who knows `to`'s public key can compute.
    fn handshake_msg(
        &mut self,
        u: &mut Unstructured,
        to: usize,
        ty: u32,
        len: usize,
    ) -> Result<Vec<u8>> {
        let mut m = vec![0u8; len];
        let body = u.bytes((len - 4).min(u.len()))?;
        m[4..4 + body.len()].copy_from_slice(body);
        m[..4].copy_from_slice(&ty.to_le_bytes());
        if ty == messages::MSG_RESPONSE {
            let r = self.index(u, to)?;
            m[messages::RESPONSE_RECEIVER_OFF..messages::RESPONSE_RECEIVER_OFF + 4]
                .copy_from_slice(&r.to_le_bytes());
        }
        self.macs(u, to, &mut m)?;
        Ok(m)
    }

    fn macs(&mut self, u: &mut Unstructured, to: usize, m: &mut [u8]) -> Result<()> {
        if u.arbitrary::<u8>()? % 4 != 0 {
            self.sides[to].attacker.add_macs(m, self.now.mono);
        }
        Ok(())
    }

    /// An answer to an outsider's message: cookie replies teach the
    /// outsider its cookie, answers to the real address go on the wire.
    fn outsider_answer(&mut self, to: usize, src: Endpoint, reply: Option<Vec<u8>>) {
        let Some(reply) = reply else {
            return;
        };
        if let Ok(r) = <[u8; messages::COOKIE_REPLY_LEN]>::try_from(&reply[..]) {
            let _ = self.sides[to].attacker.consume_reply(&r, self.now.mono);
        }
        if src == addr(1 - to) {
            self.emit(to, reply);
        }
    }

    fn op(&mut self, u: &mut Unstructured) -> Result<()> {
        let tag: u8 = u.arbitrary()?;
        // Bit 7 picks the side, bit 6 is a flag, the rest the operation.
        let side = usize::from(tag >> 7);
        let flag = tag & 0x40 != 0;
        let op = (tag & 0x3f) % 14;
        if (op == 11 || op == 12) && !spend(&mut self.heavy, MAX_HEAVY_OPS) {
            return Ok(());
        }
        match op {
            0 => {
                let src = self.src(u, side)?;
                let n = usize::from(u.arbitrary::<u16>()? % 2048).min(u.len());
                let bytes = u.bytes(n)?.to_vec();
                self.trace
                    .push(format!("raw to {side} from {src:?}: {bytes:02x?}"));
                self.deliver(side, src, bytes);
            }
            1 => {
                let src = self.src(u, side)?;
                let index = self.index(u, side)?;
                let counter = match u.arbitrary::<u8>()? {
                    0..=191 => self.sides[side]
                        .counter
                        .wrapping_add_signed(i64::from(u.arbitrary::<i8>()?)),
                    _ => u.arbitrary()?,
                };
                let n = 16 + usize::from(u.arbitrary::<u8>()?);
                let mut m = vec![0u8; messages::DATA_HEADER_LEN + n];
                m[..4].copy_from_slice(&messages::MSG_DATA.to_le_bytes());
                m[4..8].copy_from_slice(&index.to_le_bytes());
                m[8..16].copy_from_slice(&counter.to_le_bytes());
                let body = u.bytes(n.min(u.len()))?;
                m[16..16 + body.len()].copy_from_slice(body);
                self.trace
                    .push(format!("data to {side} idx {index:#x} ctr {counter}"));
                self.deliver(side, src, m);
            }
            2 => {
                let kind: u8 = u.arbitrary()?;
                let n = usize::from(u.arbitrary::<u8>()?).min(u.len());
                let payload = u.bytes(n)?.to_vec();
                let (me, other) = (side, 1 - side);
                let pkt = match kind % 6 {
                    0 => ipv4(tunnel_v4(me), tunnel_v4(other), &payload),
                    1 => ipv6(tunnel_v6(me), tunnel_v6(other), &payload),
                    // Plaintext the receiver must parse and may refuse.
                    2 => payload,
                    3 => ipv4(u.arbitrary()?, tunnel_v4(other), &payload),
                    4 => ipv6(u.arbitrary()?, tunnel_v6(other), &payload),
                    _ => Vec::new(),
                };
                self.trace.push(format!("seal at {side}: {pkt:02x?}"));
                // Only well-formed packets to the peer are routed; the rest go direct.
                let routed = kind.is_multiple_of(6);
                self.seal(side, pkt, !routed);
            }
            3 | 4 => {
                let from_history = op == 4;
                let i = usize::from(u.arbitrary::<u8>()?);
                let item = if from_history {
                    let n = self.history.len();
                    // Newest first: the datagram just delivered is 0.
                    (n > 0).then(|| self.history[n - 1 - i % n].clone())
                } else {
                    let n = self.wire.len();
                    (n > 0)
                        .then(|| self.wire.remove(i % n))
                        .flatten()
                        .map(|(to, _, b)| (to, b))
                };
                let Some((to, mut bytes)) = item else {
                    return Ok(());
                };
                let src = self.src(u, to)?;
                let m: u8 = u.arbitrary()?;
                if m & 1 == 1 && !bytes.is_empty() {
                    let pos = usize::from(u.arbitrary::<u16>()?) % bytes.len();
                    bytes[pos] ^= u.arbitrary::<u8>()?.max(1);
                }
                if m & 2 == 2 {
                    let keep = usize::from(u.arbitrary::<u16>()?) % (bytes.len() + 1);
                    bytes.truncate(keep);
                }
                self.trace.push(format!(
                    "{} to {to} from {src:?} (mutation {m}): {} bytes",
                    if from_history { "replay" } else { "deliver" },
                    bytes.len()
                ));
                self.deliver(to, src, bytes);
            }
            5 | 6 => {
                let (ty, len) = if op == 5 {
                    (messages::MSG_INITIATION, messages::INITIATION_LEN)
                } else {
                    (messages::MSG_RESPONSE, messages::RESPONSE_LEN)
                };
                let src = self.src(u, side)?;
                let m = self.handshake_msg(u, side, ty, len)?;
                self.trace
                    .push(format!("handshake type {ty} to {side} from {src:?}"));
                let reply = self.receive(side, src, m);
                self.outsider_answer(side, src, reply);
            }
            7 => {
                let index = self.index(u, side)?;
                let nonce: [u8; 24] = u.arbitrary()?;
                let mut cookie: [u8; 16] = u.arbitrary()?;
                let valid = u.arbitrary::<bool>()?;
                let mut tag_bytes: [u8; 16] = u.arbitrary()?;
                if valid {
                    // As the peer would: keyed by its public key, bound to
                    // the mac1 of this side's last handshake message.
                    let key = crypto::hash(&[LABEL_COOKIE, &self.sides[1 - side].public]);
                    let aad = self.sides[side].last_mac1.unwrap_or_default();
                    tag_bytes = crypto::xaead_seal(&key, &nonce, &aad, &mut cookie);
                }
                let mut m = vec![0u8; messages::COOKIE_REPLY_LEN];
                m[..4].copy_from_slice(&messages::MSG_COOKIE_REPLY.to_le_bytes());
                m[4..8].copy_from_slice(&index.to_le_bytes());
                m[8..32].copy_from_slice(&nonce);
                m[32..48].copy_from_slice(&cookie);
                m[48..64].copy_from_slice(&tag_bytes);
                let src = self.src(u, side)?;
                self.trace.push(format!(
                    "cookie reply to {side} idx {index:#x} valid {valid}"
                ));
                self.deliver(side, src, m);
            }
            8 => {
                let n = u64::from(u.arbitrary::<u16>()?);
                let ns = if flag { (n % 600) * SEC } else { n * MS };
                if ns >= SEC && !spend(&mut self.long_waits, MAX_LONG_WAITS) {
                    return Ok(());
                }
                self.trace.push(format!("advance {ns} ns"));
                self.advance(ns);
            }
            9 => {
                self.trace.push(format!("poll {side}"));
                self.poll(side);
            }
            10 => {
                let on = u.arbitrary::<bool>()?;
                self.trace.push(format!("under load {side}: {on}"));
                self.sides[side].dev.set_under_load(on);
            }
            11 => {
                // Forget the sessions and start over: the next packet stages
                // and an initiation goes out.
                self.trace.push(format!("clear sessions at {side}"));
                let s = &self.sides[side];
                s.dev.clear_sessions(s.peer);
                self.seal(
                    side,
                    ipv4(tunnel_v4(side), tunnel_v4(1 - side), b"x"),
                    false,
                );
            }
            12 => {
                // A fully valid initiation made with the other side's key:
                // what the real peer could send, with any timestamp up to
                // now and any ephemeral key.
                let back = u64::from(u.arbitrary::<u16>()?) * MS;
                let eph: [u8; 32] = u.arbitrary()?;
                let index: u32 = u.arbitrary()?;
                let src = self.src(u, side)?;
                let public = self.sides[side].public;
                let s = &mut self.sides[side];
                let me = &s.other_ident;
                let shadow = s
                    .shadow
                    .get_or_insert_with(|| Handshake::new(me, public, None));
                let mut m = [0u8; messages::INITIATION_LEN];
                if shadow
                    .create_initiation(
                        me,
                        index,
                        eph,
                        self.now.real - wg_core::Duration::from_nanos(back),
                        &mut m,
                    )
                    .is_err()
                {
                    return Ok(());
                }
                let mut m = m.to_vec();
                self.macs(u, side, &mut m)?;
                self.trace.push(format!(
                    "forged initiation to {side} from {src:?}, {back} ns old"
                ));
                let reply = self.receive(side, src, m);
                self.outsider_answer(side, src, reply);
            }
            _ => {
                self.trace.push("settle".into());
                self.settle();
            }
        }
        Ok(())
    }

    /// Runs one input's operations and the health check; the trace holds
    /// every operation since the last check, for its failure message.
    pub fn run_input(&mut self, data: &[u8]) {
        self.run_ops(data);
        self.check_health();
        self.trace.clear();
    }

    fn run_ops(&mut self, data: &[u8]) {
        self.inputs += 1;
        self.heavy = 0;
        self.long_waits = 0;
        self.trace.push(format!("-- input {}", self.inputs));
        let mut u = Unstructured::new(data);
        for _ in 0..MAX_OPS {
            if u.is_empty() || self.op(&mut u).is_err() {
                break;
            }
        }
    }
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}

/// Counts one more rationed operation of this input; false once `max` ran.
fn spend(used: &mut u32, max: u32) -> bool {
    if *used >= max {
        return false;
    }
    *used += 1;
    true
}

fn remember(list: &mut VecDeque<u32>, i: u32) {
    if !list.contains(&i) {
        push_capped(list, i, 8);
    }
}

fn push_capped<T>(q: &mut VecDeque<T>, item: T, cap: usize) {
    if q.len() == cap {
        q.pop_front();
    }
    q.push_back(item);
}

static WORLD: Mutex<Option<World>> = Mutex::new(None);

pub fn run(data: &[u8]) {
    let fresh = std::env::var_os("WG_FUZZ_FRESH").is_some();
    let mut guard = WORLD.lock().unwrap_or_else(|e| e.into_inner());
    let stale = guard
        .as_ref()
        .is_none_or(|w| fresh || w.inputs >= RESET_EVERY);
    if stale {
        *guard = Some(World::new());
    }
    if let Some(w) = guard.as_mut() {
        if fresh || w.inputs % HEALTH_EVERY == HEALTH_EVERY - 1 {
            w.run_input(data);
        } else {
            w.run_ops(data);
        }
    }
}
