use super::*;
use crate::allowedips::IpPrefix;
use crate::config::AllowedIpChange;
use crate::consts::MAX_STAGED_PACKETS;
use crate::testutil::{SeededRng, T0};
use crate::time::{Duration, Instant};
use std::collections::VecDeque;
use std::vec;
use std::vec::Vec;

const SEC: Duration = Duration::SECOND;
const NS: Duration = Duration::from_nanos(1);

const A_ADDR: Endpoint = Endpoint::V4 {
    addr: [192, 0, 2, 1],
    port: 51820,
};
const B_ADDR: Endpoint = Endpoint::V4 {
    addr: [198, 51, 100, 2],
    port: 51821,
};

fn key(seed: u8) -> Key {
    let mut k = [seed; 32];
    crypto::clamp_private_key(&mut k);
    k
}

/// An IPv4 packet from `src` to `dst` carrying `payload`.
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

struct Side {
    dev: Device,
    addr: Endpoint,
    staged: VecDeque<Vec<u8>>,
    delivered: Vec<Vec<u8>>,
    tunnel_ip: [u8; 4],
}

struct Pair {
    sides: [Side; 2],
    now: Time,
    /// (destination side, source endpoint, datagram)
    wire: VecDeque<(usize, Endpoint, Vec<u8>)>,
    /// Every datagram ever sent, for replay tests.
    log: Vec<(usize, Endpoint, Vec<u8>)>,
}

fn peer_update(
    public: Key,
    endpoint: Option<Endpoint>,
    allowed: [u8; 4],
    psk: Option<Key>,
) -> PeerUpdate {
    PeerUpdate {
        public_key: public,
        endpoint,
        preshared_key: psk.map(Some),
        allowed_ips: vec![AllowedIpChange {
            prefix: IpPrefix::new_v4(allowed, 32).unwrap(),
            remove: false,
        }],
        ..Default::default()
    }
}

impl Pair {
    fn new(psk: Option<Key>) -> Pair {
        let (ka, kb) = (key(1), key(2));
        let (pa, pb) = (crypto::public_key(&ka), crypto::public_key(&kb));
        let mk = |seed, k: Key, peer_pub, peer_ep, peer_ip, own_ip, addr| {
            let dev = Device::new(Box::new(SeededRng::new(seed))).unwrap();
            dev.set_config(
                T0,
                &DeviceUpdate {
                    private_key: Some(Some(k)),
                    listen_port: Some(51820),
                    peers: vec![peer_update(peer_pub, peer_ep, peer_ip, psk)],
                    ..Default::default()
                },
            )
            .unwrap();
            Side {
                dev,
                addr,
                staged: VecDeque::new(),
                delivered: Vec::new(),
                tunnel_ip: own_ip,
            }
        };
        Pair {
            sides: [
                mk(
                    1,
                    ka,
                    pb,
                    Some(B_ADDR),
                    [10, 0, 0, 2],
                    [10, 0, 0, 1],
                    A_ADDR,
                ),
                mk(
                    2,
                    kb,
                    pa,
                    Some(A_ADDR),
                    [10, 0, 0, 1],
                    [10, 0, 0, 2],
                    B_ADDR,
                ),
            ],
            now: T0,
            wire: VecDeque::new(),
            log: Vec::new(),
        }
    }

    fn peer(&self, side: usize) -> PeerId {
        self.sides[side].dev.peer_ids()[0]
    }

    fn transmit(&mut self, from: usize, bytes: Vec<u8>) {
        let src = self.sides[from].addr;
        self.log.push((1 - from, src, bytes.clone()));
        self.wire.push_back((1 - from, src, bytes));
    }

    fn send_ip(&mut self, from: usize, payload: &[u8]) {
        let other = self.sides[1 - from].tunnel_ip;
        let pkt = ipv4(self.sides[from].tunnel_ip, other, payload);
        self.encap(from, pkt, None);
    }

    fn encap(&mut self, from: usize, pkt: Vec<u8>, to: Option<PeerId>) {
        let mut buf = vec![0u8; DATA_HEADROOM + pkt.len() + DATA_TAILROOM];
        buf[DATA_HEADROOM..DATA_HEADROOM + pkt.len()].copy_from_slice(&pkt);
        let dev = &self.sides[from].dev;
        let r = match to {
            Some(p) => dev.encapsulate_to(p, self.now, &mut buf, pkt.len()),
            None => dev.encapsulate(self.now, &mut buf, pkt.len()),
        };
        match r.unwrap() {
            Encap::Send { len, endpoint, .. } => {
                assert_eq!(endpoint, self.sides[1 - from].addr);
                buf.truncate(len);
                self.transmit(from, buf);
            }
            Encap::Staged { peer } => {
                let s = &mut self.sides[from].staged;
                if s.len() == MAX_STAGED_PACKETS {
                    s.pop_front();
                }
                s.push_back(pkt);
                self.poll(from, peer);
            }
        }
    }

    fn poll(&mut self, side: usize, peer: PeerId) -> Option<Instant> {
        loop {
            let mut out = [0u8; MAX_HANDSHAKE_LEN];
            let action = self.sides[side]
                .dev
                .poll_peer(peer, self.now, &mut out)
                .unwrap();
            match action {
                PeerAction::Send { len, .. } => self.transmit(side, out[..len].to_vec()),
                PeerAction::FlushStaged => {
                    let staged: Vec<_> = self.sides[side].staged.drain(..).collect();
                    for pkt in staged {
                        self.encap(side, pkt, Some(peer));
                    }
                }
                PeerAction::DropStaged => self.sides[side].staged.clear(),
                PeerAction::Idle { next_deadline } => return next_deadline,
            }
        }
    }

    /// Delivers one datagram; returns the result for inspection.
    fn deliver(&mut self, to: usize, src: Endpoint, mut bytes: Vec<u8>) -> Result<Received> {
        let mut out = [0u8; MAX_HANDSHAKE_LEN];
        let r = self.sides[to]
            .dev
            .decapsulate(self.now, src, &mut bytes, &mut out)?;
        match r.action {
            Decap::Reply { len } => {
                let reply = out[..len].to_vec();
                let from = self.sides[to].addr;
                self.log.push((1 - to, from, reply.clone()));
                self.wire.push_back((1 - to, from, reply));
            }
            Decap::Tunnel { offset, len } => {
                self.sides[to]
                    .delivered
                    .push(bytes[offset..offset + len].to_vec());
            }
            Decap::Done => {}
        }
        if let (Some(p), true) = (r.peer, r.poll) {
            self.poll(to, p);
        }
        Ok(r)
    }

    fn pump(&mut self) {
        while let Some((to, src, bytes)) = self.wire.pop_front() {
            let _ = self.deliver(to, src, bytes);
        }
    }

    /// Moves time forward in steps, firing deadlines as a host would.
    fn advance(&mut self, span: Duration, step: Duration) {
        let end = self.now.mono + span;
        while self.now.mono < end {
            let s = step.min(end.since(self.now.mono));
            self.now = self.now.plus(s);
            for side in 0..2 {
                let p = self.peer(side);
                if self.sides[side]
                    .dev
                    .peer_deadline(p)
                    .is_some_and(|d| d <= self.now.mono)
                {
                    self.poll(side, p);
                }
            }
            self.pump();
        }
    }

    fn info(&self, side: usize) -> PeerInfo {
        self.sides[side].dev.config(true).unwrap().peers[0].clone()
    }
}

#[test]
fn handshake_then_data_both_ways() {
    let mut p = Pair::new(None);
    p.send_ip(0, b"hello");
    assert_eq!(p.sides[0].staged.len(), 1);
    assert_eq!(p.wire.len(), 1, "an initiation is on the wire");
    p.pump();
    assert!(p.sides[0].staged.is_empty());
    assert_eq!(p.sides[1].delivered.len(), 1);
    assert_eq!(&p.sides[1].delivered[0][20..], b"hello");
    p.send_ip(1, b"world");
    p.pump();
    assert_eq!(&p.sides[0].delivered[0][20..], b"world");
    let (a, b) = (p.info(0), p.info(1));
    assert_eq!(a.tx_bytes, b.rx_bytes);
    assert_eq!(b.tx_bytes, a.rx_bytes);
    assert!(a.last_handshake.0 > 0 && b.last_handshake.0 > 0);
}

#[test]
fn responder_confirms_with_keepalive_when_nothing_staged() {
    let mut p = Pair::new(Some([9; 32]));
    // A keepalive set by configuration starts the handshake with no data.
    p.sides[0]
        .dev
        .set_config(
            p.now,
            &DeviceUpdate {
                peers: vec![PeerUpdate {
                    public_key: crypto::public_key(&key(2)),
                    persistent_keepalive: Some(25),
                    ..Default::default()
                }],
                ..Default::default()
            },
        )
        .unwrap();
    let pa = p.peer(0);
    p.poll(0, pa);
    p.pump();
    // B got the confirming keepalive: it can now send at once.
    p.send_ip(1, b"first");
    assert!(p.sides[1].staged.is_empty());
    p.pump();
    assert_eq!(p.sides[0].delivered.len(), 1);
}

#[test]
fn psk_mismatch_never_completes() {
    let mut p = Pair::new(Some([1; 32]));
    p.sides[1]
        .dev
        .set_config(
            p.now,
            &DeviceUpdate {
                peers: vec![PeerUpdate {
                    public_key: crypto::public_key(&key(1)),
                    preshared_key: Some(Some([2; 32])),
                    ..Default::default()
                }],
                ..Default::default()
            },
        )
        .unwrap();
    p.send_ip(0, b"x");
    p.pump();
    assert!(p.sides[1].delivered.is_empty());
    assert_eq!(p.sides[0].staged.len(), 1);
}

#[test]
fn replayed_and_tampered_data_rejected() {
    let mut p = Pair::new(None);
    p.send_ip(0, b"one");
    p.pump();
    let data: Vec<_> = p
        .log
        .iter()
        .filter(|(to, _, b)| *to == 1 && b[0] == 4)
        .cloned()
        .collect();
    let (to, src, bytes) = data.last().unwrap().clone();
    assert_eq!(
        p.deliver(to, src, bytes.clone()).unwrap_err(),
        Error::ReplayedCounter
    );
    p.send_ip(0, b"two");
    let (to, src, mut bytes) = p.wire.pop_front().unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 1;
    assert_eq!(p.deliver(to, src, bytes).unwrap_err(), Error::DecryptFailed);
    assert_eq!(p.sides[1].delivered.len(), 1);
}

#[test]
fn source_outside_allowed_ips_dropped() {
    let mut p = Pair::new(None);
    p.send_ip(0, b"ok");
    p.pump();
    let bad = ipv4([10, 9, 9, 9], [10, 0, 0, 2], b"spoof");
    let peer = p.peer(0);
    p.encap(0, bad, Some(peer));
    let (to, src, bytes) = p.wire.pop_front().unwrap();
    assert_eq!(
        p.deliver(to, src, bytes).unwrap_err(),
        Error::SourceNotAllowed
    );
}

#[test]
fn rekey_after_time_and_old_sessions_expire() {
    let mut p = Pair::new(None);
    p.send_ip(0, b"a");
    p.pump();
    let first = p.info(0).last_handshake;
    // Traffic keeps flowing past REKEY_AFTER_TIME: the initiator rekeys.
    for _ in 0..14 {
        p.advance(10 * SEC, SEC);
        p.send_ip(0, b"tick");
        p.pump();
        p.send_ip(1, b"tock");
        p.pump();
    }
    assert!(p.info(0).last_handshake > first, "a new handshake happened");
    assert_eq!(p.sides[1].delivered.len(), 15);
    assert_eq!(p.sides[0].delivered.len(), 14);
}

/// Runs side 0's timers for `secs` with everything it sends lost; returns
/// the initiations it sent.
fn lose_everything(p: &mut Pair, secs: u64) -> usize {
    let pa = p.peer(0);
    let mut initiations = p.wire.drain(..).filter(|(_, _, b)| b[0] == 1).count();
    for _ in 0..secs * 4 {
        p.now = p.now.plus(SEC / 4);
        if p.sides[0]
            .dev
            .peer_deadline(pa)
            .is_some_and(|d| d <= p.now.mono)
        {
            p.poll(0, pa);
        }
        initiations += p.wire.drain(..).filter(|(_, _, b)| b[0] == 1).count();
    }
    initiations
}

#[test]
fn unanswered_handshake_retries_then_gives_up() {
    let mut p = Pair::new(None);
    p.send_ip(0, b"never arrives");
    assert_eq!(p.sides[0].staged.len(), 1);
    let n = lose_everything(&mut p, 200);
    // As Linux: the first initiation and MAX_TIMER_HANDSHAKES + 1 retries
    // ("did not complete after 20 attempts"), then it gives up and drops
    // what was staged.
    assert_eq!(n as u32, MAX_TIMER_HANDSHAKES + 2);
    assert!(p.sides[0].staged.is_empty());
}

#[test]
fn silence_after_sending_starts_a_new_handshake() {
    let mut p = Pair::new(None);
    p.send_ip(0, b"a");
    p.pump();
    // B disappears: A's data goes unanswered, so after KEEPALIVE_TIMEOUT +
    // REKEY_TIMEOUT (+ jitter) A starts a handshake.
    p.send_ip(0, b"lost");
    assert_eq!(lose_everything(&mut p, 14), 0);
    assert_eq!(lose_everything(&mut p, 2), 1);
}

#[test]
fn cookie_reply_under_load() {
    let mut p = Pair::new(None);
    p.sides[1].dev.set_under_load(true);
    p.send_ip(0, b"hi");
    // Initiation -> cookie reply -> A stores the cookie; the retry carries MAC2.
    p.pump();
    assert_eq!(p.sides[1].delivered.len(), 0);
    assert!(
        p.log.iter().any(|(_, _, b)| b[0] == 3),
        "a cookie reply was sent"
    );
    p.advance(6 * SEC, SEC / 4);
    assert_eq!(p.sides[1].delivered.len(), 1);
}

#[test]
fn roaming_follows_authenticated_source() {
    let mut p = Pair::new(None);
    p.send_ip(0, b"a");
    p.pump();
    let moved = Endpoint::V4 {
        addr: [203, 0, 113, 7],
        port: 40000,
    };
    p.sides[0].addr = moved;
    p.send_ip(0, b"b");
    p.pump();
    assert_eq!(p.sides[1].dev.peer_endpoint(p.peer(1)), Some(moved));
    // A forged packet from elsewhere does not move it.
    let mut junk = p.log.last().unwrap().2.clone();
    let n = junk.len();
    junk[n - 2] ^= 0xff;
    let _ = p.deliver(1, B_ADDR, junk);
    assert_eq!(p.sides[1].dev.peer_endpoint(p.peer(1)), Some(moved));
}

#[test]
fn restart_mid_session_recovers() {
    let mut p = Pair::new(None);
    p.send_ip(0, b"a");
    p.pump();
    // B restarts with the same configuration and no sessions.
    let fresh = Pair::new(None);
    let [_, b] = fresh.sides;
    p.sides[1] = b;
    p.send_ip(1, b"after restart");
    p.pump();
    assert_eq!(p.sides[0].delivered.len(), 1);
    p.send_ip(0, b"back");
    p.pump();
    assert_eq!(p.sides[1].delivered.len(), 1);
}

#[test]
fn garbage_of_every_type_is_an_error() {
    let p = Pair::new(None);
    let dev = &p.sides[1].dev;
    let mut out = [0u8; MAX_HANDSHAKE_LEN];
    for ty in 0u8..=5 {
        for len in [
            0usize, 1, 4, 31, 32, 63, 64, 65, 91, 92, 93, 147, 148, 149, 1500,
        ] {
            let mut b = vec![0xa5u8; len];
            if let Some(x) = b.first_mut() {
                *x = ty;
            }
            for r in b.iter_mut().skip(1).take(3) {
                *r = 0;
            }
            assert!(
                dev.decapsulate(T0, A_ADDR, &mut b, &mut out).is_err(),
                "type {ty} len {len}"
            );
        }
    }
    // Too-small output and packet buffers are errors too.
    let mut tiny = [0u8; 4];
    let mut pkt = ipv4([10, 0, 0, 2], [10, 0, 0, 1], b"x");
    let n = pkt.len();
    assert_eq!(
        dev.encapsulate(T0, &mut pkt, n).unwrap_err(),
        Error::BufferTooSmall
    );
    assert!(dev.poll_peer(PeerId(999), T0, &mut tiny).is_err());
}

#[test]
fn config_round_trip_and_all_or_nothing() {
    let dev = Device::new(Box::new(SeededRng::new(5))).unwrap();
    let k = key(7);
    let peers: Vec<PeerUpdate> = (0..3u8)
        .map(|i| {
            peer_update(
                crypto::public_key(&key(20 + i)),
                Some(B_ADDR),
                [10, 0, 1, i],
                None,
            )
        })
        .collect();
    dev.set_config(
        T0,
        &DeviceUpdate {
            private_key: Some(Some(k)),
            listen_port: Some(1234),
            user_cookie: Some(42),
            peers,
            ..Default::default()
        },
    )
    .unwrap();
    let info = dev.config(true).unwrap();
    assert_eq!(info.private_key, Some(k));
    assert_eq!(info.public_key, Some(crypto::public_key(&k)));
    assert_eq!(
        (info.listen_port, info.user_cookie, info.peers.len()),
        (1234, 42, 3)
    );
    assert_eq!(dev.config(false).unwrap().private_key, None);

    // Over the peer limit: nothing at all changes.
    dev.set_limits(Limits {
        max_peers: 4,
        ..Limits::default()
    });
    let too_many = DeviceUpdate {
        listen_port: Some(9999),
        peers: (0..2u8)
            .map(|i| peer_update(crypto::public_key(&key(40 + i)), None, [10, 0, 2, i], None))
            .collect(),
        ..Default::default()
    };
    assert_eq!(dev.check_config(&too_many).unwrap_err(), Error::Full);
    assert_eq!(dev.set_config(T0, &too_many).unwrap_err(), Error::Full);
    assert_eq!(dev.config(true).unwrap(), info);
    // A port of 0 (any) reports what the host bound, until it changes.
    dev.set_config(
        T0,
        &DeviceUpdate {
            listen_port: Some(0),
            ..Default::default()
        },
    )
    .unwrap();
    dev.set_bound_port(40000);
    assert_eq!(dev.config(true).unwrap().listen_port, 40000);
    dev.set_config(
        T0,
        &DeviceUpdate {
            listen_port: Some(1234),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(dev.config(true).unwrap().listen_port, 1234);
    assert_eq!(dev.config(true).unwrap(), info);
    // A dry run says which port a good update would leave, changing nothing.
    let port_only = DeviceUpdate {
        listen_port: Some(4321),
        ..Default::default()
    };
    assert_eq!(dev.check_config(&port_only), Ok((4321, 42)));
    assert_eq!(dev.config(true).unwrap(), info);

    // A peer with our own public key is ignored; update_only creates nothing;
    // remove removes; replace_allowed_ips replaces.
    let ch = dev
        .set_config(
            T0,
            &DeviceUpdate {
                peers: vec![
                    peer_update(crypto::public_key(&k), None, [1, 1, 1, 1], None),
                    PeerUpdate {
                        public_key: [3; 32],
                        update_only: true,
                        ..Default::default()
                    },
                    PeerUpdate {
                        public_key: crypto::public_key(&key(20)),
                        remove: true,
                        ..Default::default()
                    },
                    PeerUpdate {
                        public_key: crypto::public_key(&key(21)),
                        replace_allowed_ips: true,
                        allowed_ips: vec![AllowedIpChange {
                            prefix: IpPrefix::new_v4([10, 7, 0, 0], 16).unwrap(),
                            remove: false,
                        }],
                        ..Default::default()
                    },
                ],
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(ch.removed.len(), 1);
    let info = dev.config(true).unwrap();
    assert_eq!(info.peers.len(), 2);
    let p21 = info
        .peers
        .iter()
        .find(|p| p.public_key == crypto::public_key(&key(21)))
        .unwrap();
    assert_eq!(
        p21.allowed_ips,
        vec![IpPrefix::new_v4([10, 7, 0, 0], 16).unwrap()]
    );

    // replace_peers empties the table first.
    dev.set_config(
        T0,
        &DeviceUpdate {
            replace_peers: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(dev.config(true).unwrap().peers.is_empty());
}

#[test]
fn staged_queue_is_flushed_in_order() {
    let mut p = Pair::new(None);
    for i in 0..5u8 {
        p.send_ip(0, &[i; 3]);
    }
    assert_eq!(p.sides[0].staged.len(), 5);
    p.pump();
    let got: Vec<u8> = p.sides[1].delivered.iter().map(|d| d[20]).collect();
    assert_eq!(got, vec![0, 1, 2, 3, 4]);
}

#[test]
fn every_truncation_and_extension_of_real_messages_is_refused() {
    // Capture one real message of each type: initiation, response, cookie
    // reply (under load), data and keepalive.
    let mut p = Pair::new(None);
    p.sides[1].dev.set_under_load(true);
    p.send_ip(0, b"first");
    p.pump();
    p.sides[1].dev.set_under_load(false);
    p.advance(6 * SEC, SEC / 4);
    p.send_ip(1, b"reply");
    p.pump();
    let mut kinds = std::collections::BTreeMap::new();
    for (to, src, b) in &p.log {
        let kind = if b[0] == 4 && b.len() == 32 { 5 } else { b[0] };
        kinds.entry(kind).or_insert((*to, *src, b.clone()));
    }
    assert_eq!(kinds.keys().copied().collect::<Vec<_>>(), vec![1, 2, 3, 4]);

    // Fresh receivers, so nothing is refused merely as a replay.
    for (kind, (to, src, msg)) in kinds {
        let q = Pair::new(None);
        let dev = &q.sides[to].dev;
        let mut out = [0u8; MAX_HANDSHAKE_LEN];
        for cut in 0..msg.len() {
            let mut b = msg[..cut].to_vec();
            assert!(
                dev.decapsulate(p.now, src, &mut b, &mut out).is_err(),
                "type {kind} cut to {cut}"
            );
        }
        for extra in [1usize, 15, 16, 1000] {
            let mut b = msg.clone();
            b.extend(std::iter::repeat_n(0x5a, extra));
            assert!(
                dev.decapsulate(p.now, src, &mut b, &mut out).is_err(),
                "type {kind} plus {extra}"
            );
        }
        // Every single-bit flip of every byte.
        for i in 0..msg.len() {
            let mut b = msg.clone();
            b[i] ^= 0x80;
            let r = dev.decapsulate(p.now, src, &mut b, &mut out);
            assert!(
                r.is_err() || kind == 1,
                "type {kind} byte {i} flipped: {r:?}"
            );
        }
    }
}

#[test]
fn every_bit_flip_of_live_data_is_refused_and_the_original_still_works() {
    let mut p = Pair::new(None);
    p.send_ip(0, b"setup");
    p.pump();
    p.send_ip(0, b"the real one");
    let (to, src, msg) = p.wire.pop_front().unwrap();
    for i in 0..msg.len() {
        for bit in [0x01u8, 0x80] {
            let mut b = msg.clone();
            b[i] ^= bit;
            assert!(p.deliver(to, src, b).is_err(), "byte {i} bit {bit:#x}");
        }
    }
    for cut in 0..msg.len() {
        assert!(
            p.deliver(to, src, msg[..cut].to_vec()).is_err(),
            "cut {cut}"
        );
    }
    assert!(p.sides[1].delivered.len() == 1);
    p.deliver(to, src, msg.clone()).unwrap();
    assert_eq!(&p.sides[1].delivered[1][20..], b"the real one");
    assert_eq!(p.deliver(to, src, msg).unwrap_err(), Error::ReplayedCounter);
}

#[test]
fn print_bytes_per_peer() {
    // Printed for the record (`cargo test -- --nocapture`); the bound only
    // catches an accidental large array in the peer.
    let n = Device::bytes_per_peer();
    std::println!("figure bytes_per_peer {n} B");
    assert!(n < 4096, "{n}");
}

#[test]
fn one_peer_seals_and_opens_in_parallel() {
    let mut p = Pair::new(None);
    p.send_ip(0, b"setup");
    p.pump();
    p.send_ip(1, b"confirm");
    p.pump();
    let now = p.now;
    let (a, b) = (&p.sides[0].dev, &p.sides[1].dev);
    const THREADS: usize = 4;
    const EACH: usize = 400;
    // Seal from several threads at once for the same peer.
    let sealed: Vec<Vec<Vec<u8>>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..THREADS)
            .map(|t| {
                s.spawn(move || {
                    (0..EACH)
                        .map(|i| {
                            let pkt = ipv4([10, 0, 0, 1], [10, 0, 0, 2], &[t as u8, i as u8, 7]);
                            let mut buf = vec![0u8; DATA_HEADROOM + pkt.len() + DATA_TAILROOM];
                            buf[DATA_HEADROOM..DATA_HEADROOM + pkt.len()].copy_from_slice(&pkt);
                            let Encap::Send { len, .. } =
                                a.encapsulate(now, &mut buf, pkt.len()).unwrap()
                            else {
                                panic!("no session")
                            };
                            buf.truncate(len);
                            buf
                        })
                        .collect()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all: Vec<Vec<u8>> = sealed.into_iter().flatten().collect();
    // Counters are unique: no two threads reserved the same one.
    let mut counters: Vec<u64> = all
        .iter()
        .map(|d| messages::data_counter(d).unwrap())
        .collect();
    counters.sort_unstable();
    counters.dedup();
    assert_eq!(counters.len(), THREADS * EACH);
    // Open them from several threads, each roughly in counter order, and
    // each packet twice: exactly one copy of each may be accepted.
    all.sort_by_key(|d| messages::data_counter(d).unwrap());
    let accepted: usize = std::thread::scope(|s| {
        let hs: Vec<_> = (0..THREADS)
            .map(|t| {
                let all = &all;
                s.spawn(move || {
                    let mut ok = 0;
                    let mut out = [0u8; MAX_HANDSHAKE_LEN];
                    for d in all.iter().skip(t / 2).step_by(THREADS / 2) {
                        let mut d = d.clone();
                        if let Ok(r) = b.decapsulate(now, A_ADDR, &mut d, &mut out) {
                            assert!(matches!(r.action, Decap::Tunnel { .. }));
                            ok += 1;
                        }
                    }
                    ok
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(accepted, THREADS * EACH);
}

#[test]
fn a_peer_readded_in_its_old_slot_gets_fresh_receiver_indices() {
    // Found by the simulation: the per-peer tag restarted at zero, so a
    // peer removed and added again handed out its predecessor's indices.
    let mut p = Pair::new(None);
    let sender_index = |p: &Pair| -> [u8; 4] {
        let (_, _, bytes) = p.wire.back().expect("an initiation");
        bytes[4..8].try_into().unwrap()
    };
    p.send_ip(0, b"one");
    let first = sender_index(&p);
    let b_pub = crypto::public_key(&key(2));
    let slot = p.peer(0);
    let remove = DeviceUpdate {
        peers: vec![PeerUpdate {
            public_key: b_pub,
            remove: true,
            ..Default::default()
        }],
        ..Default::default()
    };
    p.sides[0].dev.set_config(p.now, &remove).unwrap();
    let readd = DeviceUpdate {
        peers: vec![peer_update(b_pub, Some(B_ADDR), [10, 0, 0, 2], None)],
        ..Default::default()
    };
    p.sides[0].dev.set_config(p.now, &readd).unwrap();
    assert_eq!(p.peer(0), slot, "the test needs the slot reused");
    p.wire.clear();
    p.sides[0].staged.clear();
    p.send_ip(0, b"two");
    assert_ne!(sender_index(&p), first);
}

mod load;

#[test]
fn lost_response_the_retry_completes() {
    let mut p = Pair::new(None);
    p.send_ip(0, b"first");
    let (to, src, init) = p.wire.pop_front().unwrap();
    assert_eq!((to, init[0]), (1, 1));
    p.deliver(1, src, init).unwrap();
    let (_, _, resp) = p.wire.pop_front().unwrap();
    assert_eq!(resp[0], 2, "the response, lost");
    p.advance(SEC * 6, SEC / 10);
    assert_eq!(p.sides[1].delivered.len(), 1);
}
