//! Tests of `noise`.

use super::*;
use crate::cookie::{CookieChecker, CookieMaker};
use crate::messages::classify;

// Raw nanoseconds keep the arithmetic of these tests short; `wall` and
// `mono` type them at the calls.
const NSEC: u64 = 1_000_000_000;
const T0: u64 = 1_700_000_000 * NSEC;
const MS: u64 = 1_000_000;

fn wall(ns: u64) -> WallTime {
    WallTime::from_nanos(ns)
}

fn mono(ns: u64) -> Instant {
    Instant::from_nanos(ns)
}

fn key(b: u8) -> [u8; 32] {
    let mut k = [b; 32];
    crypto::clamp_private_key(&mut k);
    k
}

struct Pair {
    a: StaticIdentity,
    b: StaticIdentity,
    ha: Handshake,
    hb: Handshake,
}

fn pair(psk_a: Option<[u8; 32]>, psk_b: Option<[u8; 32]>) -> Pair {
    let a = StaticIdentity::new(key(1));
    let b = StaticIdentity::new(key(2));
    let ha = Handshake::new(&a, b.public, psk_a);
    let hb = Handshake::new(&b, a.public, psk_b);
    Pair { a, b, ha, hb }
}

fn initiation(p: &mut Pair, index: u32, real_ns: u64) -> [u8; INITIATION_LEN] {
    let mut m = [0u8; INITIATION_LEN];
    p.ha.create_initiation(&p.a, index, key(0x10), wall(real_ns), &mut m)
        .unwrap();
    m
}

fn respond(
    p: &mut Pair,
    m: &[u8; INITIATION_LEN],
    now: u64,
) -> Result<(SessionKeys, [u8; RESPONSE_LEN])> {
    let ci = decrypt_initiation(&p.b, m)?;
    assert_eq!(ci.remote_static(), &p.a.public);
    let mut r = [0u8; RESPONSE_LEN];
    let keys =
        p.hb.consume_initiation_and_respond(&p.b, &ci, 77, key(0x20), mono(now), &mut r)?;
    Ok((keys, r))
}

#[test]
fn initial_constants_match_their_definition() {
    assert_eq!(INITIAL_CHAINING_KEY, crypto::hash(&[CONSTRUCTION]));
    assert_eq!(
        INITIAL_HASH,
        crypto::hash(&[&INITIAL_CHAINING_KEY, IDENTIFIER])
    );
    assert_eq!(TIMESTAMP_GRANULARITY.as_nanos(), 1 << 24);
}

#[test]
fn tai64n_encoding() {
    assert_eq!(tai64n(wall(0)), [0x40, 0, 0, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0]);
    // 1_700_000_000 = 0x6553f100; 123_456_789 ns rounds down to 7 * 2^24.
    let t = tai64n(wall(1_700_000_000 * NSEC + 123_456_789));
    let mut want = [0u8; 12];
    want[..8].copy_from_slice(&((1u64 << 62) + 10 + 1_700_000_000).to_be_bytes());
    want[8..].copy_from_slice(&(7u32 << 24).to_be_bytes());
    assert_eq!(t, want);
    assert_eq!(&t[..8], &[0x40, 0, 0, 0, 0x65, 0x53, 0xf1, 0x0a]);
    // Within one granule the stamp does not move; across granules and
    // seconds it grows in byte order.
    assert_eq!(tai64n(wall(T0)), tai64n(wall(T0 + (1 << 24) - 1)));
    assert!(tai64n(wall(T0 + (1 << 24))) > tai64n(wall(T0)));
    assert!(tai64n(wall(T0 + NSEC)) > tai64n(wall(T0 + NSEC - 1)));
    let last = tai64n(wall(u64::MAX));
    assert_eq!(
        u32::from_be_bytes(last[8..].try_into().unwrap()) % (1 << 24),
        0
    );
    assert!(u32::from_be_bytes(last[8..].try_into().unwrap()) < 1_000_000_000);
}

fn round_trip(psk: Option<[u8; 32]>) {
    let mut p = pair(psk, psk);
    let m = initiation(&mut p, 42, T0);
    assert_eq!(p.ha.pending_local_index(), Some(42));
    assert_eq!(classify(&m), Ok(crate::messages::MessageType::Initiation));
    assert_eq!(&m[116..], &[0u8; 32]);
    let (kb, r) = respond(&mut p, &m, 5 * NSEC).unwrap();
    assert_eq!(classify(&r), Ok(crate::messages::MessageType::Response));
    assert_eq!(&r[60..], &[0u8; 32]);
    let ka = p.ha.consume_response(&p.a, &r).unwrap();
    assert_eq!(p.ha.pending_local_index(), None);
    assert_eq!(ka.send, kb.recv);
    assert_eq!(ka.recv, kb.send);
    assert_ne!(ka.send, ka.recv);
    assert_eq!(
        (ka.local_index, ka.remote_index, ka.is_initiator),
        (42, 77, true)
    );
    assert_eq!(
        (kb.local_index, kb.remote_index, kb.is_initiator),
        (77, 42, false)
    );
    // The response is consumed once.
    assert_eq!(
        p.ha.consume_response(&p.a, &r).unwrap_err(),
        Error::UnexpectedMessage
    );
}

#[test]
fn round_trip_without_psk() {
    round_trip(None);
}

#[test]
fn round_trip_with_psk() {
    round_trip(Some([0x55; 32]));
}

#[test]
fn zero_psk_is_no_psk() {
    let mut p = pair(Some([0; 32]), None);
    let m = initiation(&mut p, 1, T0);
    let (_, r) = respond(&mut p, &m, 0).unwrap();
    p.ha.consume_response(&p.a, &r).unwrap();
}

#[test]
fn psk_changes_keys() {
    let mut p = pair(None, None);
    let m = initiation(&mut p, 1, T0);
    let (k1, _) = respond(&mut p, &m, 0).unwrap();
    let mut q = pair(Some([9; 32]), Some([9; 32]));
    let m = initiation(&mut q, 1, T0);
    let (k2, _) = respond(&mut q, &m, 0).unwrap();
    assert_ne!(k1.send, k2.send);
}

#[test]
fn mismatched_psk_fails() {
    for (pa, pb) in [
        (Some([1; 32]), None),
        (None, Some([1; 32])),
        (Some([1; 32]), Some([2; 32])),
    ] {
        let mut p = pair(pa, pb);
        let m = initiation(&mut p, 1, T0);
        // The PSK enters only after the responder's ephemeral, so the
        // responder cannot tell; the initiator's check catches it.
        let (_, r) = respond(&mut p, &m, 0).unwrap();
        assert_eq!(
            p.ha.consume_response(&p.a, &r).unwrap_err(),
            Error::DecryptFailed
        );
        assert_eq!(p.ha.pending_local_index(), Some(1));
        // Fixing the PSK lets the same response through.
        p.ha.set_psk(pb);
        p.ha.consume_response(&p.a, &r).unwrap();
    }
}

#[test]
fn set_psk_on_responder() {
    let mut p = pair(Some([3; 32]), None);
    assert_eq!((p.ha.psk(), p.hb.psk()), (Some([3; 32]), None));
    p.hb.set_psk(Some([3; 32]));
    assert_eq!(p.hb.psk(), Some([3; 32]));
    let m = initiation(&mut p, 1, T0);
    let (_, r) = respond(&mut p, &m, 0).unwrap();
    p.ha.consume_response(&p.a, &r).unwrap();
}

/// Bytes Noise authenticates: everything before mac1 except the sender
/// index, which only mac1 covers (see `tampering_any_byte_fails`).
fn noise_covered_initiation(i: usize) -> bool {
    i < 116 && !(4..8).contains(&i)
}

#[test]
fn tampered_initiation_fails() {
    let mut p = pair(None, None);
    let m = initiation(&mut p, 1, T0);
    for i in (0..INITIATION_LEN).filter(|&i| noise_covered_initiation(i)) {
        for bit in [0x01, 0x80] {
            let mut t = m;
            t[i] ^= bit;
            assert!(respond(&mut p, &t, 0).is_err(), "byte {i} bit {bit:#x}");
        }
    }
    // Failures left no trace: the genuine message still goes through.
    let (_, r) = respond(&mut p, &m, 0).unwrap();
    p.ha.consume_response(&p.a, &r).unwrap();
}

#[test]
fn tampered_response_fails() {
    let mut p = pair(Some([7; 32]), Some([7; 32]));
    let m = initiation(&mut p, 1, T0);
    let (_, r) = respond(&mut p, &m, 0).unwrap();
    // The sender index (4..8) is covered by mac1 only.
    for i in (0..60).filter(|i| !(4..8).contains(i)) {
        for bit in [0x01, 0x80] {
            let mut t = r;
            t[i] ^= bit;
            assert!(p.ha.consume_response(&p.a, &t).is_err(), "byte {i}");
            assert_eq!(p.ha.pending_local_index(), Some(1));
        }
    }
    p.ha.consume_response(&p.a, &r).unwrap();
}

/// With the cookie layer in front, as the device runs it, every byte of
/// both messages is covered: mac1 fails for all but mac2, which the
/// under-load check catches.
#[test]
fn tampering_any_byte_fails() {
    let mut p = pair(None, None);
    let mut checker_b = CookieChecker::new(&p.b.public);
    let mut checker_a = CookieChecker::new(&p.a.public);
    let mut maker_a = CookieMaker::new(&p.b.public);
    let mut maker_b = CookieMaker::new(&p.a.public);
    let src = [10, 0, 0, 1, 0x12, 0x34];
    let secret = [0x77; 32];

    // Give A a cookie from B so that A's mac2 is meaningful.
    let mut m = initiation(&mut p, 1, T0);
    maker_a.add_macs(&mut m, Instant::ZERO);
    let mut reply = [0u8; 64];
    checker_b
        .create_reply(&m, &src, Instant::ZERO, &secret, [3; 24], &mut reply)
        .unwrap();
    maker_a.consume_reply(&reply, Instant::ZERO).unwrap();

    let mut m = initiation(&mut p, 1, T0);
    maker_a.add_macs(&mut m, Instant::ZERO);
    let accepts_init =
        |c: &mut CookieChecker, hs: &mut Handshake, t: &[u8; 148], under_load: bool| {
            c.check_mac1(t)
                && (!under_load || c.check_mac2(t, &src, Instant::ZERO, &secret))
                && decrypt_initiation(&p.b, t).is_ok_and(|ci| {
                    let mut r = [0u8; 92];
                    hs.consume_initiation_and_respond(&p.b, &ci, 2, key(9), Instant::ZERO, &mut r)
                        .is_ok()
                })
        };
    for i in 0..INITIATION_LEN {
        let mut t = m;
        t[i] ^= 0x04;
        assert!(
            !accepts_init(&mut checker_b, &mut p.hb, &t, true),
            "initiation byte {i}"
        );
        if i < 132 {
            assert!(
                !accepts_init(&mut checker_b, &mut p.hb, &t, false),
                "initiation byte {i}"
            );
        }
    }
    let mut r = [0u8; RESPONSE_LEN];
    let ci = decrypt_initiation(&p.b, &m).unwrap();
    p.hb.consume_initiation_and_respond(&p.b, &ci, 2, key(9), Instant::ZERO, &mut r)
        .unwrap();
    maker_b.add_macs(&mut r, Instant::ZERO);
    let mut creply = [0u8; 64];
    checker_a
        .create_reply(&r, &src, Instant::ZERO, &secret, [4; 24], &mut creply)
        .unwrap();
    maker_b.consume_reply(&creply, Instant::ZERO).unwrap();
    // The response is rebuilt with mac2 now that B holds A's cookie.
    maker_b.add_macs(&mut r, Instant::ZERO);
    for i in 0..RESPONSE_LEN {
        let mut t = r;
        t[i] ^= 0x04;
        let ok = checker_a.check_mac1(&t)
            && checker_a.check_mac2(&t, &src, Instant::ZERO, &secret)
            && p.ha.consume_response(&p.a, &t).is_ok();
        assert!(!ok, "response byte {i}");
    }
    assert!(checker_a.check_mac1(&r) && checker_a.check_mac2(&r, &src, Instant::ZERO, &secret));
    p.ha.consume_response(&p.a, &r).unwrap();
}

#[test]
fn replayed_initiation_rejected() {
    let mut p = pair(None, None);
    let m = initiation(&mut p, 1, T0);
    respond(&mut p, &m, 0).unwrap();
    // Well past the flood interval, the same message is still refused.
    assert_eq!(
        respond(&mut p, &m, 10 * NSEC).unwrap_err(),
        Error::ReplayedTimestamp
    );
    // So is a fresh message whose clock did not advance a granule.
    let same = initiation(&mut p, 2, T0 + 1000);
    assert_eq!(
        respond(&mut p, &same, 20 * NSEC).unwrap_err(),
        Error::ReplayedTimestamp
    );
    let older = initiation(&mut p, 3, T0 - NSEC);
    assert_eq!(
        respond(&mut p, &older, 30 * NSEC).unwrap_err(),
        Error::ReplayedTimestamp
    );
    let newer = initiation(&mut p, 4, T0 + NSEC);
    respond(&mut p, &newer, 40 * NSEC).unwrap();
}

#[test]
fn flood_rejected() {
    let mut p = pair(None, None);
    let start = 1000 * NSEC;
    let m1 = initiation(&mut p, 1, T0);
    respond(&mut p, &m1, start).unwrap();
    let m2 = initiation(&mut p, 2, T0 + NSEC);
    let interval = NSEC / INITIATIONS_PER_SECOND;
    assert_eq!(
        respond(&mut p, &m2, start + interval - 1).unwrap_err(),
        Error::InitiationFlood
    );
    assert_eq!(
        respond(&mut p, &m2, start).unwrap_err(),
        Error::InitiationFlood
    );
    // A rejected initiation did not update the replay or flood state.
    respond(&mut p, &m2, start + interval).unwrap();
    let m3 = initiation(&mut p, 3, T0 + 2 * NSEC);
    assert_eq!(
        respond(&mut p, &m3, start + interval + 10 * MS).unwrap_err(),
        Error::InitiationFlood
    );
    respond(&mut p, &m3, start + 2 * interval).unwrap();
}

#[test]
fn first_initiation_at_time_zero_is_not_a_flood() {
    let mut p = pair(None, None);
    let m = initiation(&mut p, 1, T0);
    respond(&mut p, &m, 0).unwrap();
}

#[test]
fn wrong_receiver_index() {
    let mut p = pair(None, None);
    let m = initiation(&mut p, 1, T0);
    let (_, mut r) = respond(&mut p, &m, 0).unwrap();
    r[8] ^= 1;
    assert_eq!(
        p.ha.consume_response(&p.a, &r).unwrap_err(),
        Error::UnknownIndex
    );
    // A newer initiation replaces the one in flight: the first response
    // now answers an index we no longer use.
    r[8] ^= 1;
    initiation(&mut p, 2, T0 + NSEC);
    assert_eq!(
        p.ha.consume_response(&p.a, &r).unwrap_err(),
        Error::UnknownIndex
    );
}

#[test]
fn response_without_initiation() {
    let mut p = pair(None, None);
    let m = initiation(&mut p, 1, T0);
    let (_, r) = respond(&mut p, &m, 0).unwrap();
    p.ha.clear();
    assert_eq!(p.ha.pending_local_index(), None);
    assert_eq!(
        p.ha.consume_response(&p.a, &r).unwrap_err(),
        Error::UnexpectedMessage
    );
    // The responder keeps no state after responding.
    assert_eq!(
        p.hb.consume_response(&p.b, &r).unwrap_err(),
        Error::UnexpectedMessage
    );
}

#[test]
fn responding_drops_our_own_initiation() {
    let mut p = pair(None, None);
    let mut mb = [0u8; INITIATION_LEN];
    p.hb.create_initiation(&p.b, 9, key(0x30), wall(T0), &mut mb)
        .unwrap();
    assert_eq!(p.hb.pending_local_index(), Some(9));
    let m = initiation(&mut p, 1, T0);
    respond(&mut p, &m, 0).unwrap();
    assert_eq!(p.hb.pending_local_index(), None);
}

#[test]
fn wrong_types_rejected() {
    let mut p = pair(None, None);
    let m = initiation(&mut p, 1, T0);
    for (i, v) in [(0, 2), (1, 1), (3, 1)] {
        let mut t = m;
        t[i] = v;
        assert_eq!(
            decrypt_initiation(&p.b, &t).unwrap_err(),
            Error::UnknownMessageType
        );
    }
    let (_, r) = respond(&mut p, &m, 0).unwrap();
    let mut t = r;
    t[0] = 1;
    assert_eq!(
        p.ha.consume_response(&p.a, &t).unwrap_err(),
        Error::UnknownMessageType
    );
}

#[test]
fn truncated_inputs_never_reach_the_handshake() {
    let mut p = pair(None, None);
    let m = initiation(&mut p, 1, T0);
    let m2 = initiation(&mut p, 1, T0 + NSEC);
    let (_, r) = respond(&mut p, &m2, 0).unwrap();
    for n in 0..INITIATION_LEN {
        assert!(classify(&m[..n]).is_err());
        assert!(<&[u8; INITIATION_LEN]>::try_from(&m[..n]).is_err());
    }
    for n in 0..RESPONSE_LEN {
        assert!(classify(&r[..n]).is_err());
        assert!(<&[u8; RESPONSE_LEN]>::try_from(&r[..n]).is_err());
    }
}

#[test]
fn wrong_responder_identity() {
    let mut p = pair(None, None);
    let m = initiation(&mut p, 1, T0);
    let c = StaticIdentity::new(key(3));
    assert_eq!(
        decrypt_initiation(&c, &m).unwrap_err(),
        Error::DecryptFailed
    );
}

#[test]
fn initiation_for_another_peer() {
    let mut p = pair(None, None);
    let m = initiation(&mut p, 1, T0);
    let ci = decrypt_initiation(&p.b, &m).unwrap();
    let c = StaticIdentity::new(key(3));
    let mut hc = Handshake::new(&p.b, c.public, None);
    let mut r = [0u8; RESPONSE_LEN];
    assert_eq!(
        hc.consume_initiation_and_respond(&p.b, &ci, 1, key(4), Instant::ZERO, &mut r)
            .unwrap_err(),
        Error::UnknownPeer
    );
    // Decrypted under one identity, finished under another.
    assert_eq!(
        p.hb.consume_initiation_and_respond(&c, &ci, 1, key(4), Instant::ZERO, &mut r)
            .unwrap_err(),
        Error::UnexpectedMessage
    );
}

#[test]
fn low_order_keys_rejected() {
    let a = StaticIdentity::new(key(1));
    let mut h = Handshake::new(&a, [0; 32], None);
    assert!(!h.can_handshake());
    let mut m = [0u8; INITIATION_LEN];
    assert_eq!(
        h.create_initiation(&a, 1, key(2), wall(T0), &mut m)
            .unwrap_err(),
        Error::BadPublicKey
    );
    assert_eq!(h.pending_local_index(), None);

    // A zero ephemeral from the network.
    let mut p = pair(None, None);
    let mut m = initiation(&mut p, 1, T0);
    m[8..40].fill(0);
    assert_eq!(
        decrypt_initiation(&p.b, &m).unwrap_err(),
        Error::BadPublicKey
    );
    let m = initiation(&mut p, 1, T0);
    let (_, mut r) = respond(&mut p, &m, 0).unwrap();
    r[12..44].fill(0);
    r[12] = 1;
    assert_eq!(
        p.ha.consume_response(&p.a, &r).unwrap_err(),
        Error::BadPublicKey
    );
}

#[test]
fn changing_identity() {
    let mut p = pair(None, None);
    initiation(&mut p, 1, T0);
    let a2 = StaticIdentity::new(key(5));
    p.ha.set_local_identity(&a2);
    assert_eq!(p.ha.pending_local_index(), None);
    // B does not know a2: the initiation decrypts but names a stranger.
    let mut m = [0u8; INITIATION_LEN];
    p.ha.create_initiation(&a2, 3, key(6), wall(T0), &mut m)
        .unwrap();
    let ci = decrypt_initiation(&p.b, &m).unwrap();
    assert_eq!(ci.remote_static(), &a2.public);
    // Passing another identity than the one the handshake knows makes it
    // follow, as set_local_identity would.
    let mut m = [0u8; INITIATION_LEN];
    p.ha.create_initiation(&p.a, 4, key(6), wall(T0 + NSEC), &mut m)
        .unwrap();
    let (_, r) = respond(&mut p, &m, 0).unwrap();
    assert_eq!(
        p.ha.consume_response(&a2, &r).unwrap_err(),
        Error::UnexpectedMessage
    );
    p.ha.consume_response(&p.a, &r).unwrap();
}

#[test]
fn debug_hides_secrets() {
    let p = pair(Some([0xab; 32]), None);
    let s = std::format!("{:?} {:?}", p.a, p.ha);
    assert!(!s.contains(&std::format!("{:?}", p.a.private)), "{s}");
    assert!(!s.contains(&std::format!("{:?}", [0xabu8; 32])), "{s}");
}
