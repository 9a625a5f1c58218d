//! Our whole engine (a wg-core `Device` and the host duties of wg_core.h:
//! staging, polling, deadlines) against boringtun's `Tunn`, datagrams carried
//! by hand in memory (see `wg_interop_tests::Harness`).
//!
//! Clocks: our `Time` and boringtun's thread-local `MockClock` advance
//! together in `Harness::tick`; boringtun's timers run every 250 ms as its
//! own device runs them. Nothing here reads a real clock, so every result
//! is the same on every run (boringtun's ephemeral keys and cookie secrets
//! are random, but no outcome depends on their values).

use wg_core::{Decap, Encap, Error};
use wg_interop_tests::ns::{KEEPALIVE_TIMEOUT, REKEY_AFTER_TIME, REKEY_TIMEOUT, T0_MONO, T0_REAL};
use wg_interop_tests::*;

const TICK: u64 = 250 * MSEC;

fn psk(b: u8) -> Option<[u8; 32]> {
    Some([b; 32])
}

/// The receiver index a data message is addressed to.
fn receiver_index(datagram: &[u8]) -> u32 {
    u32::from_le_bytes(datagram[4..8].try_into().unwrap())
}

fn no_errors(h: &Harness) {
    assert!(h.our_errors.is_empty(), "our errors: {:?}", h.our_errors);
    assert!(
        h.bt_errors.is_empty(),
        "boringtun errors: {:?}",
        h.bt_errors
    );
}

/// Sums the lengths of the datagrams sent one way.
fn wire_bytes(h: &Harness, dir: Dir) -> u64 {
    h.log
        .iter()
        .filter(|s| s.dir == dir)
        .map(|s| s.bytes.len() as u64)
        .sum()
}

// --- Handshakes ---------------------------------------------------------

#[test]
fn handshake_initiated_by_us() {
    let mut h = Harness::new(Config::default());
    let pkt = from_us(false, 84, 1);
    assert!(matches!(h.send_from_us(&pkt), Ok(Encap::Staged { .. })));
    assert_eq!(h.staged.len(), 1);

    let (dir, init) = h.wire.pop_front().unwrap();
    assert_eq!((dir, init.len(), init[0]), (Dir::ToBt, 148, INITIATION));
    assert!(h.wire.is_empty(), "one initiation only");
    assert_eq!(h.deliver_to_bt(&init).unwrap(), BtOut::Network);

    let (dir, resp) = h.wire.pop_front().unwrap();
    assert_eq!((dir, resp.len(), resp[0]), (Dir::ToUs, 92, RESPONSE));
    assert!(h.wire.is_empty());
    let r = h.deliver_to_us(&resp).unwrap();
    assert_eq!(
        (r.action, r.peer, r.poll),
        (Decap::Done, Some(h.peer), true)
    );

    // The flush sent the staged packet, so no keepalive follows it.
    assert!(h.staged.is_empty());
    assert_eq!(h.wire.len(), 1);
    let (dir, data) = h.wire.pop_front().unwrap();
    assert_eq!((dir, data[0]), (Dir::ToBt, DATA));
    assert_eq!(h.deliver_to_bt(&data).unwrap(), BtOut::Tunnel);
    assert_eq!(h.bt_delivered, vec![pkt]);

    // Our data confirmed the session to boringtun: it answers on it at once.
    let back = from_bt(false, 60, 2);
    assert_eq!(h.send_from_bt(&back).unwrap(), BtOut::Network);
    assert_eq!(h.wire.back().unwrap().1[0], DATA);
    h.pump();
    assert_eq!(h.us_delivered, vec![back]);
    no_errors(&h);

    let info = h.dev.peer_info(h.peer).unwrap();
    assert_eq!(
        info.last_handshake,
        (T0_REAL / NSEC, (T0_REAL % NSEC) as u32)
    );
    assert_eq!(info.endpoint, Some(BT_ENDPOINT));
    assert_eq!(info.tx_bytes, wire_bytes(&h, Dir::ToBt));
    assert_eq!(info.rx_bytes, wire_bytes(&h, Dir::ToUs));
}

#[test]
fn handshake_initiated_by_us_with_nothing_staged_is_confirmed_by_a_keepalive() {
    // A persistent keepalive starts a handshake with no data to send.
    let mut h = Harness::new(Config {
        our_keepalive: Some(25),
        ..Config::default()
    });
    assert_eq!(h.count(Dir::ToBt, INITIATION), 1);
    h.pump();
    assert_eq!(h.count(Dir::ToUs, RESPONSE), 1);
    let keepalives: Vec<_> = h.sent(Dir::ToBt, DATA).collect();
    assert_eq!(keepalives.len(), 1);
    assert_eq!(keepalives[0].bytes.len(), DATA_OVERHEAD);
    // boringtun, a responder, uses a session only once the initiator has
    // used it: our keepalive did, so it sends data without a handshake.
    let pkt = from_bt(false, 100, 7);
    assert_eq!(h.send_from_bt(&pkt).unwrap(), BtOut::Network);
    assert_eq!(h.wire.back().unwrap().1[0], DATA);
    h.pump();
    assert_eq!(h.us_delivered, vec![pkt]);
    assert_eq!(h.count(Dir::ToUs, INITIATION), 0);
    no_errors(&h);
}

#[test]
fn handshake_initiated_by_boringtun() {
    let mut h = Harness::new(Config::default());
    let pkt = from_bt(false, 100, 3);
    // No session: boringtun queues the packet and sends an initiation.
    assert_eq!(h.send_from_bt(&pkt).unwrap(), BtOut::Network);
    let (dir, init) = h.wire.pop_front().unwrap();
    assert_eq!((dir, init.len(), init[0]), (Dir::ToUs, 148, INITIATION));

    let r = h.deliver_to_us(&init).unwrap();
    assert_eq!(r.action, Decap::Reply { len: 92 });
    assert_eq!(r.peer, Some(h.peer));
    let (dir, resp) = h.wire.pop_front().unwrap();
    assert_eq!((dir, resp[0]), (Dir::ToBt, RESPONSE));

    // boringtun answers the response with a keepalive, then its queue.
    assert_eq!(h.deliver_to_bt(&resp).unwrap(), BtOut::Network);
    let out: Vec<_> = h.wire.iter().map(|(d, b)| (*d, b[0], b.len())).collect();
    assert_eq!(
        out,
        vec![
            (Dir::ToUs, DATA, DATA_OVERHEAD),
            (Dir::ToUs, DATA, pkt.len() + DATA_OVERHEAD)
        ]
    );
    h.pump();
    assert_eq!(h.us_delivered, vec![pkt]);

    // The keepalive confirmed the session to us: we send without staging.
    let back = from_us(false, 70, 4);
    assert!(matches!(h.send_from_us(&back), Ok(Encap::Send { .. })));
    h.pump();
    assert_eq!(h.bt_delivered, vec![back]);
    no_errors(&h);
    let info = h.dev.peer_info(h.peer).unwrap();
    assert_eq!(info.last_handshake.0, T0_REAL / NSEC);
    assert_eq!(info.tx_bytes, wire_bytes(&h, Dir::ToBt));
    assert_eq!(info.rx_bytes, wire_bytes(&h, Dir::ToUs));
}

// --- Data ---------------------------------------------------------------

/// What wg-core pads a plaintext of `len` to under an MTU (Linux's rule:
/// a multiple of 16, never beyond the MTU unless the packet already is).
fn padded(len: usize, mtu: usize) -> usize {
    let aligned = (len + 15) & !15;
    if len > mtu {
        aligned
    } else {
        aligned.min(mtu)
    }
}

#[test]
fn data_both_ways_every_size_v4_and_v6() {
    let mut h = Harness::new(Config::default());
    h.handshake_from_us(&from_us(false, 20, 0));
    let v4 = [
        20,
        21,
        40,
        84,
        1280,
        1419,
        1420,
        1421,
        1500,
        9000,
        16384,
        65000,
        MAX_INNER_PADDED - 1,
        MAX_INNER_PADDED,
    ];
    let v6 = [40, 41, 60, 1280, 1420, 1500, 9000, MAX_INNER_PADDED];
    let cases = v4
        .iter()
        .map(|&n| (false, n))
        .chain(v6.iter().map(|&n| (true, n)));
    for (i, (v6, len)) in cases.enumerate() {
        let fill = i as u8;
        let ours = from_us(v6, len, fill);
        let enc = h.send_from_us(&ours).unwrap();
        let Encap::Send { len: dlen, .. } = enc else {
            panic!("{enc:?}");
        };
        assert_eq!(
            dlen,
            DATA_OVERHEAD + padded(len, 1420),
            "our padding of {len}"
        );
        assert!(dlen <= MAX_DATAGRAM);
        h.pump();
        assert_eq!(
            h.bt_delivered.last().unwrap(),
            &ours,
            "to boringtun: v6 {v6} len {len}"
        );

        let theirs = from_bt(v6, len, fill ^ 0x55);
        assert_eq!(h.send_from_bt(&theirs).unwrap(), BtOut::Network);
        h.pump();
        assert_eq!(
            h.us_delivered.last().unwrap(),
            &theirs,
            "to us: v6 {v6} len {len}"
        );
    }
    assert_eq!(h.bt_delivered.len(), 1 + v4.len() + v6.len());
    assert_eq!(h.us_delivered.len(), v4.len() + v6.len());

    // Keepalives (size 0) both ways: consumed, nothing delivered.
    let enc = h.send_to_peer_from_us(&[]).unwrap();
    assert!(matches!(
        enc,
        Encap::Send {
            len: DATA_OVERHEAD,
            ..
        }
    ));
    let (_, ka) = h.wire.pop_front().unwrap();
    assert_eq!(h.deliver_to_bt(&ka).unwrap(), BtOut::Done);
    assert_eq!(h.send_from_bt(&[]).unwrap(), BtOut::Network);
    let (_, ka) = h.wire.pop_front().unwrap();
    assert_eq!(ka.len(), DATA_OVERHEAD);
    let r = h.deliver_to_us(&ka).unwrap();
    assert_eq!((r.action, r.peer), (Decap::Done, Some(h.peer)));
    assert_eq!(h.bt_delivered.len(), 1 + v4.len() + v6.len());
    assert_eq!(h.us_delivered.len(), v4.len() + v6.len());
    no_errors(&h);
}

/// The largest datagram is a 65535-byte UDP payload; a data message adds
/// 32 bytes. boringtun never pads, so it sends inner packets up to 65503
/// bytes. wg-core pads a packet longer than its MTU to a multiple of 16 but
/// never past what fits a datagram, so it too carries up to 65503 bytes,
/// and refuses more with TooBig instead of making a datagram no UDP socket
/// can send.
#[test]
fn largest_datagrams() {
    let mut h = Harness::new(Config::default());
    h.handshake_from_us(&from_us(false, 20, 0));

    for v6 in [false, true] {
        let big = from_us(v6, MAX_INNER_PADDED, 1);
        let enc = h.send_from_us(&big).unwrap();
        assert!(matches!(enc, Encap::Send { len: 65520, .. }), "{enc:?}");
        h.pump();
        assert_eq!(h.bt_delivered.last().unwrap(), &big);

        let big = from_bt(v6, MAX_INNER_UNPADDED, 2);
        assert_eq!(h.send_from_bt(&big).unwrap(), BtOut::Network);
        assert_eq!(h.wire.back().unwrap().1.len(), MAX_DATAGRAM);
        h.pump();
        assert_eq!(h.us_delivered.last().unwrap(), &big);
    }

    // Past MAX_INNER_PADDED the padding stops at the datagram limit.
    for len in [MAX_INNER_PADDED + 1, MAX_INNER_UNPADDED] {
        let p = from_us(false, len, 3);
        let enc = h.send_from_us(&p).unwrap();
        assert!(
            matches!(
                enc,
                Encap::Send {
                    len: MAX_DATAGRAM,
                    ..
                }
            ),
            "{enc:?}"
        );
        h.pump();
        assert_eq!(h.bt_delivered.last().unwrap(), &p);
    }
    // One byte more cannot be carried at all.
    let over = from_us(false, MAX_INNER_UNPADDED + 1, 3);
    assert_eq!(h.send_from_us(&over).unwrap_err(), Error::TooBig);

    // Padding is capped by the MTU: at 65503 the unpadded maximum fits.
    h.dev.set_mtu(MAX_INNER_UNPADDED as u32);
    for v6 in [false, true] {
        let big = from_us(v6, MAX_INNER_UNPADDED, 4);
        let enc = h.send_from_us(&big).unwrap();
        assert!(
            matches!(
                enc,
                Encap::Send {
                    len: MAX_DATAGRAM,
                    ..
                }
            ),
            "{enc:?}"
        );
        h.pump();
        assert_eq!(h.bt_delivered.last().unwrap(), &big);
    }
    no_errors(&h);
}

// --- Preshared keys -----------------------------------------------------

#[test]
fn psk_on_both_sides_either_initiator() {
    let cfg = Config {
        our_psk: psk(0x5a),
        bt_psk: psk(0x5a),
        ..Config::default()
    };
    let mut h = Harness::new(cfg);
    h.handshake_from_us(&from_us(false, 100, 1));
    h.handshake_from_bt(&from_bt(true, 100, 2));
    no_errors(&h);

    let mut h = Harness::new(cfg);
    h.handshake_from_bt(&from_bt(false, 100, 3));
    h.send_from_us(&from_us(true, 100, 4)).unwrap();
    h.pump();
    assert_eq!(h.bt_delivered, vec![from_us(true, 100, 4)]);
    no_errors(&h);
}

#[test]
fn psk_mismatch_never_completes() {
    for (ours, theirs) in [(psk(1), psk(2)), (psk(1), None), (None, psk(2))] {
        let cfg = Config {
            our_psk: ours,
            bt_psk: theirs,
            ..Config::default()
        };
        // We initiate: boringtun answers (the PSK enters only the
        // response), and we cannot open its response.
        let mut h = Harness::new(cfg);
        h.send_from_us(&from_us(false, 100, 1)).unwrap();
        h.advance(30 * NSEC, TICK);
        assert!(h.bt_delivered.is_empty() && h.us_delivered.is_empty());
        assert_eq!(h.staged.len(), 1, "still waiting");
        assert!(h.count(Dir::ToBt, INITIATION) >= 5, "retries");
        assert!(h.count(Dir::ToUs, RESPONSE) >= 5);
        assert!(!h.our_errors.is_empty());
        assert!(
            h.our_errors.iter().all(|e| *e == Error::DecryptFailed),
            "{:?}",
            h.our_errors
        );
        assert_eq!(h.dev.peer_info(h.peer).unwrap().last_handshake, (0, 0));

        // boringtun initiates: it cannot open our response.
        let mut h = Harness::new(cfg);
        h.send_from_bt(&from_bt(false, 100, 2)).unwrap();
        h.advance(30 * NSEC, TICK);
        assert!(h.bt_delivered.is_empty() && h.us_delivered.is_empty());
        assert!(h.count(Dir::ToUs, INITIATION) >= 5);
        assert!(h.count(Dir::ToBt, RESPONSE) >= 5);
        assert_eq!(h.count(Dir::ToUs, DATA), 0);
        assert!(!h.bt_errors.is_empty());
        assert!(
            h.bt_errors
                .iter()
                .all(|e| matches!(e, WireGuardError::InvalidAeadTag)),
            "{:?}",
            h.bt_errors
        );
    }
}

// --- Cookies under load ---------------------------------------------------

fn mac2(msg: &[u8]) -> &[u8] {
    &msg[msg.len() - 16..]
}

#[test]
fn under_load_we_send_a_cookie_and_boringtun_retries_with_mac2() {
    let mut h = Harness::new(Config::default());
    h.dev.set_under_load(true);
    let pkt = from_bt(false, 100, 5);
    h.send_from_bt(&pkt).unwrap();
    h.pump();
    assert_eq!(h.count(Dir::ToBt, COOKIE_REPLY), 1);
    assert_eq!(h.count(Dir::ToBt, RESPONSE), 0);
    assert_eq!(
        mac2(&h.sent(Dir::ToUs, INITIATION).next().unwrap().bytes),
        [0; 16]
    );
    // boringtun took the cookie (an error would be listed).
    no_errors(&h);

    // boringtun retries after REKEY_TIMEOUT, with mac2 this time.
    h.advance(REKEY_TIMEOUT + NSEC, TICK);
    let inits: Vec<_> = h.sent(Dir::ToUs, INITIATION).collect();
    assert_eq!(inits.len(), 2);
    assert_ne!(mac2(&inits[1].bytes), [0; 16]);
    assert_eq!(h.count(Dir::ToBt, COOKIE_REPLY), 1);
    assert_eq!(h.count(Dir::ToBt, RESPONSE), 1);
    assert_eq!(h.us_delivered, vec![pkt]);
    // Still under load, and traffic flows.
    h.send_from_us(&from_us(false, 90, 6)).unwrap();
    h.pump();
    assert_eq!(h.bt_delivered, vec![from_us(false, 90, 6)]);
    no_errors(&h);
}

#[test]
fn boringtun_under_load_cookies_our_initiation_and_we_retry_with_mac2() {
    // A limit of 0: boringtun demands mac2 on every handshake message.
    let mut h = Harness::new(Config {
        bt_limit: Some(0),
        ..Config::default()
    });
    let pkt = from_us(false, 100, 6);
    h.send_from_us(&pkt).unwrap();
    h.pump();
    assert_eq!(h.count(Dir::ToUs, COOKIE_REPLY), 1);
    assert_eq!(h.count(Dir::ToUs, RESPONSE), 0);
    assert_eq!(
        mac2(&h.sent(Dir::ToBt, INITIATION).next().unwrap().bytes),
        [0; 16]
    );
    // Our device took the cookie.
    no_errors(&h);
    assert_eq!(h.staged.len(), 1);

    // Our retry (REKEY_TIMEOUT + jitter) carries a mac2 boringtun accepts.
    h.advance(REKEY_TIMEOUT + NSEC, TICK);
    let inits: Vec<_> = h.sent(Dir::ToBt, INITIATION).collect();
    assert_eq!(inits.len(), 2);
    assert_ne!(mac2(&inits[1].bytes), [0; 16]);
    assert_eq!(h.count(Dir::ToUs, COOKIE_REPLY), 1);
    assert_eq!(h.count(Dir::ToUs, RESPONSE), 1);
    assert_eq!(h.bt_delivered, vec![pkt]);
    assert!(h.staged.is_empty());
    no_errors(&h);
}

#[test]
fn boringtun_under_load_cookies_our_response_and_we_answer_with_mac2() {
    let mut h = Harness::new(Config {
        bt_limit: Some(0),
        ..Config::default()
    });
    let pkt = from_bt(false, 100, 8);
    h.send_from_bt(&pkt).unwrap();
    h.pump();
    // boringtun checks responses too: ours gets a cookie reply, addressed
    // to the index our response named, and our device takes it.
    assert_eq!(h.count(Dir::ToBt, RESPONSE), 1);
    assert_eq!(h.count(Dir::ToUs, COOKIE_REPLY), 1);
    no_errors(&h);
    assert!(h.us_delivered.is_empty());

    // boringtun's retry gets a response with mac2, which it accepts.
    h.advance(REKEY_TIMEOUT + NSEC, TICK);
    let resps: Vec<_> = h.sent(Dir::ToBt, RESPONSE).collect();
    assert_eq!(resps.len(), 2);
    assert_ne!(mac2(&resps[1].bytes), [0; 16]);
    assert_eq!(h.count(Dir::ToUs, COOKIE_REPLY), 1);
    assert_eq!(h.us_delivered, vec![pkt]);
    no_errors(&h);
}

// --- Rekeying -------------------------------------------------------------

/// Traffic both ways every `period` for `total`; checks all of it arrives.
fn traffic(h: &mut Harness, total: u64, period: u64) {
    let mut n = 0u8;
    let end = h.now.mono.as_nanos() + total;
    while h.now.mono.as_nanos() < end {
        h.advance(period, TICK);
        n = n.wrapping_add(1);
        let (a, b) = (
            from_us(n.is_multiple_of(2), 200, n),
            from_bt(n.is_multiple_of(3), 300, n),
        );
        let (na, nb) = (h.bt_delivered.len(), h.us_delivered.len());
        h.send_from_us(&a).unwrap();
        h.pump();
        h.send_from_bt(&b).unwrap();
        h.pump();
        assert_eq!(
            h.bt_delivered.len(),
            na + 1,
            "lost at {}",
            h.now.mono.as_nanos() - T0_MONO
        );
        assert_eq!(h.bt_delivered.last().unwrap(), &a);
        assert_eq!(
            h.us_delivered.len(),
            nb + 1,
            "lost at {}",
            h.now.mono.as_nanos() - T0_MONO
        );
        assert_eq!(h.us_delivered.last().unwrap(), &b);
    }
}

#[test]
fn rekey_after_time_we_initiate() {
    let mut h = Harness::new(Config::default());
    h.handshake_from_us(&from_us(false, 100, 0));
    let born = h.now.mono.as_nanos();
    traffic(&mut h, 160 * NSEC, 10 * NSEC);
    // We rekeyed once, as the initiator, after REKEY_AFTER_TIME; boringtun
    // (the responder) never did.
    let inits: Vec<_> = h.sent(Dir::ToBt, INITIATION).map(|s| s.at).collect();
    assert_eq!(inits.len(), 2, "{inits:?}");
    assert!(inits[1] >= born + REKEY_AFTER_TIME);
    assert_eq!(h.count(Dir::ToUs, INITIATION), 0);
    // Both sides now use the new session.
    let first = receiver_index(&h.sent(Dir::ToBt, DATA).next().unwrap().bytes);
    let last = receiver_index(&h.sent(Dir::ToBt, DATA).last().unwrap().bytes);
    assert_ne!(first, last);
    let first = receiver_index(&h.sent(Dir::ToUs, DATA).next().unwrap().bytes);
    let last = receiver_index(&h.sent(Dir::ToUs, DATA).last().unwrap().bytes);
    assert_ne!(first, last);
    let (secs, _) = h.dev.peer_info(h.peer).unwrap().last_handshake;
    assert!(secs * NSEC >= T0_REAL + REKEY_AFTER_TIME);
    no_errors(&h);
}

#[test]
fn rekey_after_time_boringtun_initiates() {
    let mut h = Harness::new(Config::default());
    h.handshake_from_bt(&from_bt(false, 100, 0));
    let born = h.now.mono.as_nanos();
    traffic(&mut h, 160 * NSEC, 10 * NSEC);
    let inits: Vec<_> = h.sent(Dir::ToUs, INITIATION).map(|s| s.at).collect();
    assert_eq!(inits.len(), 2, "{inits:?}");
    // boringtun rekeys at its first timer tick past REKEY_AFTER_TIME.
    assert!(inits[1] >= born + REKEY_AFTER_TIME && inits[1] <= born + REKEY_AFTER_TIME + NSEC);
    assert_eq!(h.count(Dir::ToBt, INITIATION), 0);
    let first = receiver_index(&h.sent(Dir::ToBt, DATA).next().unwrap().bytes);
    let last = receiver_index(&h.sent(Dir::ToBt, DATA).last().unwrap().bytes);
    assert_ne!(first, last);
    let (secs, _) = h.dev.peer_info(h.peer).unwrap().last_handshake;
    assert!(secs * NSEC >= T0_REAL + REKEY_AFTER_TIME);
    no_errors(&h);
}

/// Rekeying on send is prompt even with one-way traffic: `encapsulate`
/// notes REKEY_AFTER_TIME and `Encap::Send` says poll, so the initiation
/// leaves with the packet that crossed the limit, as in Linux (an earlier
/// version waited for the next received packet to make the host poll).
#[test]
fn rekey_after_time_is_prompt_with_one_way_traffic() {
    let mut h = Harness::new(Config::default());
    h.handshake_from_us(&from_us(false, 100, 0));
    let born = h.now.mono.as_nanos();
    for n in 0..130u8 {
        h.advance(NSEC, TICK);
        h.send_from_us(&from_us(false, 100, n)).unwrap();
        h.pump();
    }
    let inits: Vec<_> = h
        .sent(Dir::ToBt, INITIATION)
        .map(|s| (s.at - born) / MSEC)
        .collect();
    assert_eq!(inits.len(), 2, "ms after the session began: {inits:?}");
    assert!(
        inits[1] <= (REKEY_AFTER_TIME + NSEC) / MSEC,
        "rekey sent {} ms after the session began",
        inits[1]
    );
}

// --- Replay and tampering -----------------------------------------------

/// Ways to damage a data message: (what, byte offset from the start or,
/// when negative, from the end, XOR mask).
const DAMAGE: [(&str, isize, u8); 9] = [
    ("type", 0, 0x01),
    ("reserved", 1, 0x01),
    ("receiver index", 4, 0x01),
    ("receiver index top", 7, 0x80),
    ("counter", 8, 0x01),
    ("counter top bit", 15, 0x80),
    ("ciphertext", 16 + 5, 0x10),
    ("last ciphertext byte", -17, 0x01),
    ("tag", -1, 0x80),
];

fn damaged(d: &[u8], off: isize, mask: u8) -> Vec<u8> {
    let mut v = d.to_vec();
    let i = if off < 0 {
        (d.len() as isize + off) as usize
    } else {
        off as usize
    };
    v[i] ^= mask;
    v
}

#[test]
fn replayed_and_tampered_packets_rejected_by_us() {
    let mut h = Harness::new(Config::default());
    h.handshake_from_bt(&from_bt(false, 100, 0));
    let p1 = from_bt(false, 200, 1);
    h.send_from_bt(&p1).unwrap();
    let (_, d1) = h.wire.pop_front().unwrap();
    assert!(matches!(
        h.deliver_to_us(&d1).unwrap().action,
        Decap::Tunnel { .. }
    ));
    assert_eq!(h.deliver_to_us(&d1).unwrap_err(), Error::ReplayedCounter);

    let p2 = from_bt(true, 300, 2);
    h.send_from_bt(&p2).unwrap();
    let (_, d2) = h.wire.pop_front().unwrap();
    for (what, off, mask) in DAMAGE {
        let r = h.deliver_to_us(&damaged(&d2, off, mask));
        assert!(r.is_err(), "{what}: {r:?}");
        // (A counter flipped to one already seen may be refused before
        // decryption; a huge one must fail decryption.)
        if what.contains("cipher") || what == "tag" || what == "counter top bit" {
            assert_eq!(r.unwrap_err(), Error::DecryptFailed, "{what}");
        }
    }
    let r = h.deliver_to_us(&d2[..d2.len() - 1]);
    assert_eq!(r.unwrap_err(), Error::DecryptFailed, "truncated");
    let r = h.deliver_to_us(&d2[..DATA_OVERHEAD - 1]);
    assert!(r.is_err(), "shorter than a keepalive");
    assert_eq!(h.us_delivered.len(), 2, "nothing damaged was delivered");

    // The damage (a huge counter among it) did not move the replay window.
    assert!(matches!(
        h.deliver_to_us(&d2).unwrap().action,
        Decap::Tunnel { .. }
    ));
    assert_eq!(h.us_delivered.last().unwrap(), &p2);
    assert_eq!(h.deliver_to_us(&d2).unwrap_err(), Error::ReplayedCounter);
    assert_eq!(h.deliver_to_us(&d1).unwrap_err(), Error::ReplayedCounter);

    // Handshake messages replay no better: the initiation's timestamp is
    // old, the response's handshake is gone.
    let init = h.sent(Dir::ToUs, INITIATION).next().unwrap().bytes.clone();
    assert_eq!(
        h.deliver_to_us(&init).unwrap_err(),
        Error::ReplayedTimestamp
    );
    assert!(h.wire.is_empty(), "no response to a replayed initiation");
    let mut h2 = Harness::new(Config::default());
    h2.handshake_from_us(&from_us(false, 100, 0));
    let resp = h2.sent(Dir::ToUs, RESPONSE).next().unwrap().bytes.clone();
    assert!(h2.deliver_to_us(&resp).is_err());
    assert!(h2.wire.is_empty());

    // Traffic goes on.
    h.send_from_bt(&p1).unwrap();
    h.pump();
    assert_eq!(h.us_delivered.last().unwrap(), &p1);
    assert!(h.bt_errors.is_empty());
}

#[test]
fn replayed_and_tampered_packets_rejected_by_boringtun() {
    let mut h = Harness::new(Config::default());
    h.handshake_from_us(&from_us(false, 100, 0));
    let p1 = from_us(false, 200, 1);
    h.send_from_us(&p1).unwrap();
    let (_, d1) = h.wire.pop_front().unwrap();
    assert_eq!(h.deliver_to_bt(&d1).unwrap(), BtOut::Tunnel);
    let r = h.deliver_to_bt(&d1);
    assert!(
        matches!(
            r,
            Err(WireGuardError::DuplicateCounter | WireGuardError::InvalidCounter)
        ),
        "{r:?}"
    );

    let p2 = from_us(true, 300, 2);
    h.send_from_us(&p2).unwrap();
    let (_, d2) = h.wire.pop_front().unwrap();
    for (what, off, mask) in DAMAGE {
        let r = h.deliver_to_bt(&damaged(&d2, off, mask));
        assert!(r.is_err(), "{what}: {r:?}");
        if what.contains("cipher") || what == "tag" || what.starts_with("counter") {
            assert!(
                matches!(r, Err(WireGuardError::InvalidAeadTag)),
                "{what}: {r:?}"
            );
        }
    }
    let r = h.deliver_to_bt(&d2[..d2.len() - 1]);
    assert!(matches!(r, Err(WireGuardError::InvalidAeadTag)), "{r:?}");
    assert_eq!(h.bt_delivered.len(), 2, "nothing damaged was delivered");

    assert_eq!(h.deliver_to_bt(&d2).unwrap(), BtOut::Tunnel);
    assert_eq!(h.bt_delivered.last().unwrap(), &p2);
    assert!(h.deliver_to_bt(&d2).is_err());
    assert!(h.deliver_to_bt(&d1).is_err());

    // A replayed initiation of ours carries an old timestamp.
    let init = h.sent(Dir::ToBt, INITIATION).next().unwrap().bytes.clone();
    let r = h.deliver_to_bt(&init);
    assert!(
        matches!(r, Err(WireGuardError::WrongTai64nTimestamp)),
        "{r:?}"
    );
    assert!(h.wire.is_empty());

    h.send_from_us(&p1).unwrap();
    h.pump();
    assert_eq!(h.bt_delivered.last().unwrap(), &p1);
    assert!(h.our_errors.is_empty());
}

// --- Restarts ---------------------------------------------------------------

#[test]
fn boringtun_restarts_and_sends_first() {
    let mut h = Harness::new(Config::default());
    h.handshake_from_us(&from_us(false, 100, 0));
    h.advance(3 * NSEC, TICK);
    h.restart_bt();
    // Its new initiation is answered; its queued packet arrives.
    h.handshake_from_bt(&from_bt(false, 100, 1));
    let p = from_us(true, 150, 2);
    assert!(matches!(h.send_from_us(&p), Ok(Encap::Send { .. })));
    h.pump();
    assert_eq!(h.bt_delivered.last().unwrap(), &p);
    no_errors(&h);
}

#[test]
fn boringtun_restarts_and_we_send_first() {
    let mut h = Harness::new(Config::default());
    h.handshake_from_us(&from_us(false, 100, 0));
    h.advance(3 * NSEC, TICK);
    h.restart_bt();
    // Our data on the old session is refused; hearing nothing back for
    // KEEPALIVE_TIMEOUT + REKEY_TIMEOUT, we start a new handshake.
    h.send_from_us(&from_us(false, 100, 1)).unwrap();
    h.pump();
    assert!(matches!(
        h.bt_errors.as_slice(),
        [WireGuardError::NoCurrentSession]
    ));
    h.bt_errors.clear();
    assert_eq!(h.count(Dir::ToBt, INITIATION), 1);
    h.advance(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + NSEC, TICK);
    assert_eq!(h.count(Dir::ToBt, INITIATION), 2);
    assert_eq!(h.count(Dir::ToUs, RESPONSE), 2);
    let p = from_us(false, 100, 2);
    h.send_from_us(&p).unwrap();
    h.pump();
    assert_eq!(h.bt_delivered.last().unwrap(), &p);
    let q = from_bt(false, 100, 3);
    assert_eq!(h.send_from_bt(&q).unwrap(), BtOut::Network);
    h.pump();
    assert_eq!(h.us_delivered.last().unwrap(), &q);
    no_errors(&h);
}

#[test]
fn we_restart_and_send_first() {
    let mut h = Harness::new(Config::default());
    h.handshake_from_us(&from_us(false, 100, 0));
    h.advance(3 * NSEC, TICK);
    h.restart_us(77);
    // A fresh device has no session: it stages and initiates, with a
    // timestamp later than its predecessor's, which boringtun accepts.
    h.handshake_from_us(&from_us(false, 100, 1));
    let q = from_bt(true, 100, 2);
    assert_eq!(h.send_from_bt(&q).unwrap(), BtOut::Network);
    h.pump();
    assert_eq!(h.us_delivered.last().unwrap(), &q);
    no_errors(&h);
}

#[test]
fn we_restart_and_boringtun_sends_first() {
    let mut h = Harness::new(Config::default());
    h.handshake_from_bt(&from_bt(false, 100, 0));
    h.advance(3 * NSEC, TICK);
    h.restart_us(78);
    // boringtun's data names a session we forgot.
    h.send_from_bt(&from_bt(false, 100, 1)).unwrap();
    h.pump();
    assert_eq!(h.our_errors, vec![Error::UnknownIndex]);
    h.our_errors.clear();
    // Hearing nothing back, boringtun initiates again after
    // KEEPALIVE_TIMEOUT + REKEY_TIMEOUT; we answer.
    h.advance(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + NSEC, TICK);
    assert_eq!(h.count(Dir::ToUs, INITIATION), 2);
    let p = from_bt(false, 100, 2);
    h.send_from_bt(&p).unwrap();
    h.pump();
    assert_eq!(h.us_delivered.last().unwrap(), &p);
    let q = from_us(false, 100, 3);
    assert!(matches!(h.send_from_us(&q), Ok(Encap::Send { .. })));
    h.pump();
    assert_eq!(h.bt_delivered.last().unwrap(), &q);
    no_errors(&h);
}

// --- Keepalives ---------------------------------------------------------------

#[test]
fn we_answer_data_with_a_keepalive_after_keepalive_timeout() {
    let mut h = Harness::new(Config::default());
    h.handshake_from_us(&from_us(false, 100, 0));
    h.advance(NSEC, TICK);
    let t = h.now.mono.as_nanos();
    h.send_from_bt(&from_bt(false, 100, 1)).unwrap();
    h.pump();
    assert_eq!(
        h.dev.peer_deadline(h.peer).map(wg_core::Instant::as_nanos),
        Some(t + KEEPALIVE_TIMEOUT)
    );
    let before = h.log.len();
    h.advance(KEEPALIVE_TIMEOUT - TICK, TICK);
    assert_eq!(h.log.len(), before, "nothing before KEEPALIVE_TIMEOUT");
    h.tick(TICK);
    let sent: Vec<_> = h.log[before..].iter().collect();
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].dir, sent[0].ty()), (Dir::ToBt, DATA));
    assert_eq!(sent[0].bytes.len(), DATA_OVERHEAD);
    assert_eq!(sent[0].at, t + KEEPALIVE_TIMEOUT);
    // boringtun took it as a keepalive; nobody says more.
    h.advance(30 * NSEC, TICK);
    assert_eq!(h.log.len(), before + 1);
    assert_eq!(h.bt_delivered.len(), 1);
    no_errors(&h);
}

#[test]
fn no_keepalive_when_we_answered_with_data() {
    let mut h = Harness::new(Config::default());
    h.handshake_from_us(&from_us(false, 100, 0));
    h.send_from_bt(&from_bt(false, 100, 1)).unwrap();
    h.pump();
    h.advance(3 * NSEC, TICK);
    h.send_from_us(&from_us(false, 100, 2)).unwrap();
    h.pump();
    let before = h.log.len();
    h.advance(30 * NSEC, TICK);
    // boringtun answers our data with its own keepalive after 10 s; we
    // consume it and send nothing.
    let after: Vec<_> = h.log[before..]
        .iter()
        .map(|s| (s.dir, s.bytes.len()))
        .collect();
    assert_eq!(after, vec![(Dir::ToUs, DATA_OVERHEAD)]);
    no_errors(&h);
}

/// A host that follows wg_core.h exactly (one callout, armed from each
/// IDLE; poll only when told to) still learns every deadline: receiving
/// data arms send_keepalive earlier than the callout, so `decapsulate` says
/// poll. The keepalive leaves 10 s after the first unanswered data packet
/// (the one carried by the handshake, 1 s before the second), as in Linux.
#[test]
fn callout_host_answers_data_with_a_keepalive() {
    let mut h = Harness::with_host(Config::default(), HostMode::Callout);
    h.handshake_from_bt(&from_bt(false, 100, 0));
    h.advance(NSEC, TICK);
    h.send_from_bt(&from_bt(false, 100, 1)).unwrap();
    h.pump();
    let t = h.now.mono.as_nanos();
    let before = h.log.len();
    h.advance(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + NSEC, TICK);
    let after: Vec<_> = h.log[before..]
        .iter()
        .map(|s| (s.dir, s.ty(), s.bytes.len(), (s.at - t) / MSEC))
        .collect();
    assert_eq!(
        after,
        vec![(
            Dir::ToBt,
            DATA,
            DATA_OVERHEAD,
            (KEEPALIVE_TIMEOUT - NSEC) / MSEC
        )]
    );
}
