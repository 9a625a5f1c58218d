//! Our handshake, MACs and cookies against boringtun's `Tunn`, an
//! implementation written independently of this crate: a handshake both
//! sides accept and data both sides decrypt is evidence that we speak
//! WireGuard, not merely a protocol consistent with itself.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use boringtun::noise::rate_limiter::RateLimiter;
use boringtun::noise::{Tunn, TunnResult};
use rand_core::{OsRng, RngCore};
use wg_core::cookie::{CookieChecker, CookieMaker};
use wg_core::messages::{
    self, MessageType, COOKIE_REPLY_LEN, DATA_HEADER_LEN, DATA_PADDING, DATA_TAG_LEN,
    INITIATION_LEN, RESPONSE_LEN,
};
use wg_core::noise::{decrypt_initiation, Handshake, SessionKeys, StaticIdentity};
use wg_core::{crypto, Duration, Instant, WallTime};
use x25519_dalek::{PublicKey, StaticSecret};

const NSEC: Duration = Duration::SECOND;
/// Our monotonic clock; its origin is arbitrary.
const MONO: Instant = Instant::from_nanos(5_000 * NSEC.as_nanos());
const PEER_ADDR: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
/// How our checker sees PEER_ADDR:51820.
const PEER_SRC: [u8; 6] = [192, 0, 2, 7, 0xca, 0x6c];
const INNER_A: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 1);
const INNER_B: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 2);

fn random32() -> [u8; 32] {
    let mut k = [0u8; 32];
    OsRng.fill_bytes(&mut k);
    k
}

fn random_private() -> [u8; 32] {
    let mut k = random32();
    crypto::clamp_private_key(&mut k);
    k
}

fn real_now_ns() -> WallTime {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    WallTime::EPOCH + d.as_secs() * NSEC + Duration::from_nanos(d.subsec_nanos().into())
}

/// Our side (A) and boringtun's (B), configured as each other's peer.
struct Peers {
    a: StaticIdentity,
    b_public: [u8; 32],
    tunn: Tunn,
    handshake: Handshake,
    maker: CookieMaker,
    checker: CookieChecker,
}

fn peers(our_psk: Option<[u8; 32]>, their_psk: Option<[u8; 32]>, limiter: Option<u64>) -> Peers {
    let a = StaticIdentity::new(random_private());
    let b_secret = StaticSecret::random_from_rng(OsRng);
    let b_public = PublicKey::from(&b_secret);
    let limiter = limiter.map(|limit| Arc::new(RateLimiter::new(&b_public, limit)));
    let tunn = Tunn::new(
        b_secret,
        PublicKey::from(a.public),
        their_psk,
        None,
        0x42,
        limiter,
    );
    let b_public = b_public.to_bytes();
    Peers {
        handshake: Handshake::new(&a, b_public, our_psk),
        maker: CookieMaker::new(&b_public),
        checker: CookieChecker::new(&a.public),
        a,
        b_public,
        tunn,
    }
}

/// A minimal IPv4/UDP packet: boringtun checks the version, the total length
/// and reads the source address, so those must be right.
fn ipv4_packet(src: Ipv4Addr, dst: Ipv4Addr, payload: &[u8]) -> Vec<u8> {
    let total = 20 + payload.len();
    let mut p = vec![0u8; 20];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&src.octets());
    p[16..20].copy_from_slice(&dst.octets());
    p.extend_from_slice(payload);
    p
}

/// A transport data message built by hand from our session keys, padded as
/// the whitepaper asks.
fn seal_data(keys: &SessionKeys, counter: u64, packet: &[u8]) -> Vec<u8> {
    let padded = packet.len().div_ceil(DATA_PADDING) * DATA_PADDING;
    let mut out = vec![0u8; DATA_HEADER_LEN + padded + DATA_TAG_LEN];
    let hdr: &mut [u8; DATA_HEADER_LEN] = (&mut out[..DATA_HEADER_LEN]).try_into().unwrap();
    messages::write_data_header(hdr, keys.remote_index, counter);
    let body = &mut out[DATA_HEADER_LEN..DATA_HEADER_LEN + padded];
    body[..packet.len()].copy_from_slice(packet);
    let tag = crypto::aead_seal(&keys.send, counter, &[], body);
    out[DATA_HEADER_LEN + padded..].copy_from_slice(&tag);
    out
}

/// Decrypts a data message addressed to us; returns its counter and
/// plaintext (boringtun does not pad).
fn open_data(keys: &SessionKeys, datagram: &[u8]) -> (u64, Vec<u8>) {
    assert_eq!(messages::classify(datagram), Ok(MessageType::Data));
    assert_eq!(messages::receiver_index(datagram), Some(keys.local_index));
    let counter = messages::data_counter(datagram).unwrap();
    let split = datagram.len() - DATA_TAG_LEN;
    let mut body = datagram[DATA_HEADER_LEN..split].to_vec();
    let tag: [u8; DATA_TAG_LEN] = datagram[split..].try_into().unwrap();
    crypto::aead_open(&keys.recv, counter, &[], &mut body, &tag)
        .expect("boringtun's data decrypts");
    (counter, body)
}

fn to_network(r: TunnResult<'_>) -> Vec<u8> {
    match r {
        TunnResult::WriteToNetwork(p) => p.to_vec(),
        other => panic!("expected a datagram from boringtun, got {other:?}"),
    }
}

/// Our data reaches boringtun's tunnel side intact.
fn boringtun_accepts_data(p: &mut Peers, keys: &SessionKeys, counter: u64) {
    let packet = ipv4_packet(INNER_A, INNER_B, b"sent by wg-core, odd length");
    let datagram = seal_data(keys, counter, &packet);
    assert_eq!((datagram.len() - 32) % 16, 0);
    let mut dst = vec![0u8; 2048];
    match p.tunn.decapsulate(Some(PEER_ADDR), &datagram, &mut dst) {
        TunnResult::WriteToTunnelV4(got, src) => {
            assert_eq!(got, &packet[..]);
            assert_eq!(src, INNER_A);
        }
        other => panic!("boringtun refused our data: {other:?}"),
    }
}

/// boringtun's data decrypts with our keys, at the expected counter.
fn we_accept_data(p: &mut Peers, keys: &SessionKeys, counter: u64) {
    let packet = ipv4_packet(INNER_B, INNER_A, b"sent by boringtun");
    let mut dst = vec![0u8; 2048];
    let datagram = to_network(p.tunn.encapsulate(&packet, &mut dst));
    assert_eq!(open_data(keys, &datagram), (counter, packet));
}

/// We initiate; boringtun responds. Returns our keys.
fn we_initiate(p: &mut Peers) -> SessionKeys {
    let mut init = [0u8; INITIATION_LEN];
    p.handshake
        .create_initiation(
            &p.a,
            0x0123_4567,
            random_private(),
            real_now_ns(),
            &mut init,
        )
        .unwrap();
    p.maker.add_macs(&mut init, MONO);
    let mut dst = vec![0u8; 2048];
    let resp = to_network(p.tunn.decapsulate(Some(PEER_ADDR), &init, &mut dst));
    assert_eq!(messages::classify(&resp), Ok(MessageType::Response));
    assert_eq!(messages::receiver_index(&resp), Some(0x0123_4567));
    assert!(
        p.checker.check_mac1(&resp),
        "boringtun's mac1 on its response"
    );
    let resp: [u8; RESPONSE_LEN] = resp.try_into().unwrap();
    let keys = p
        .handshake
        .consume_response(&p.a, &resp)
        .expect("boringtun's response");
    assert!(keys.is_initiator);
    assert_eq!(keys.local_index, 0x0123_4567);
    assert_eq!(p.handshake.pending_local_index(), None);
    keys
}

fn we_initiate_and_exchange_data(psk: Option<[u8; 32]>) {
    let mut p = peers(psk, psk, None);
    let keys = we_initiate(&mut p);
    // The responder may only send once the initiator has, so we go first.
    boringtun_accepts_data(&mut p, &keys, 0);
    boringtun_accepts_data(&mut p, &keys, 1);
    we_accept_data(&mut p, &keys, 0);
    // A keepalive: the tag of an empty plaintext.
    let mut dst = vec![0u8; 2048];
    let ka = to_network(p.tunn.encapsulate(&[], &mut dst));
    assert_eq!(ka.len(), 32);
    assert_eq!(open_data(&keys, &ka), (1, Vec::new()));
    we_accept_data(&mut p, &keys, 2);
}

#[test]
fn we_initiate_without_psk() {
    we_initiate_and_exchange_data(None);
}

#[test]
fn we_initiate_with_psk() {
    we_initiate_and_exchange_data(Some(random32()));
}

fn boringtun_initiates_and_exchanges_data(psk: Option<[u8; 32]>) {
    let mut p = peers(psk, psk, None);
    let mut dst = vec![0u8; 2048];
    let init = to_network(p.tunn.format_handshake_initiation(&mut dst, false));
    assert_eq!(messages::classify(&init), Ok(MessageType::Initiation));
    assert!(
        p.checker.check_mac1(&init),
        "boringtun's mac1 on its initiation"
    );
    let their_index = messages::sender_index(&init).unwrap();
    let init: [u8; INITIATION_LEN] = init.try_into().unwrap();

    let partial = decrypt_initiation(&p.a, &init).expect("boringtun's initiation");
    assert_eq!(partial.remote_static(), &p.b_public);
    assert_eq!(partial.sender_index(), their_index);
    let mut resp = [0u8; RESPONSE_LEN];
    let keys = p
        .handshake
        .consume_initiation_and_respond(
            &p.a,
            &partial,
            0x00ab_cdef,
            random_private(),
            MONO,
            &mut resp,
        )
        .expect("boringtun's timestamp");
    assert!(!keys.is_initiator);
    assert_eq!(keys.remote_index, their_index);
    p.maker.add_macs(&mut resp, MONO);

    // boringtun confirms the session with a keepalive.
    let ka = to_network(p.tunn.decapsulate(Some(PEER_ADDR), &resp, &mut dst));
    assert_eq!(open_data(&keys, &ka), (0, Vec::new()));
    we_accept_data(&mut p, &keys, 1);
    boringtun_accepts_data(&mut p, &keys, 0);
    we_accept_data(&mut p, &keys, 2);

    // Replaying boringtun's initiation to us is refused by the timestamp.
    let again = decrypt_initiation(&p.a, &init).unwrap();
    let err = p
        .handshake
        .consume_initiation_and_respond(
            &p.a,
            &again,
            1,
            random_private(),
            MONO + 10 * NSEC,
            &mut resp,
        )
        .unwrap_err();
    assert_eq!(err, wg_core::Error::ReplayedTimestamp);
}

#[test]
fn boringtun_initiates_without_psk() {
    boringtun_initiates_and_exchanges_data(None);
}

#[test]
fn boringtun_initiates_with_psk() {
    boringtun_initiates_and_exchanges_data(Some(random32()));
}

#[test]
fn mismatched_psk_fails_both_ways() {
    for (ours, theirs) in [
        (Some(random32()), None),
        (None, Some(random32())),
        (Some(random32()), Some(random32())),
    ] {
        // Our initiation: boringtun cannot tell (the PSK enters after its
        // ephemeral), so it responds and we refuse the response.
        let mut p = peers(ours, theirs, None);
        let mut init = [0u8; INITIATION_LEN];
        p.handshake
            .create_initiation(&p.a, 1, random_private(), real_now_ns(), &mut init)
            .unwrap();
        p.maker.add_macs(&mut init, MONO);
        let mut dst = vec![0u8; 2048];
        let resp: [u8; RESPONSE_LEN] =
            to_network(p.tunn.decapsulate(Some(PEER_ADDR), &init, &mut dst))
                .try_into()
                .unwrap();
        assert_eq!(
            p.handshake.consume_response(&p.a, &resp).unwrap_err(),
            wg_core::Error::DecryptFailed
        );

        // boringtun's initiation: it refuses our response.
        let mut p = peers(ours, theirs, None);
        let init: [u8; INITIATION_LEN] =
            to_network(p.tunn.format_handshake_initiation(&mut dst, false))
                .try_into()
                .unwrap();
        let partial = decrypt_initiation(&p.a, &init).unwrap();
        let mut resp = [0u8; RESPONSE_LEN];
        p.handshake
            .consume_initiation_and_respond(&p.a, &partial, 2, random_private(), MONO, &mut resp)
            .unwrap();
        p.maker.add_macs(&mut resp, MONO);
        match p.tunn.decapsulate(Some(PEER_ADDR), &resp, &mut dst) {
            TunnResult::Err(_) => {}
            other => panic!("boringtun accepted a response under another PSK: {other:?}"),
        }
    }
}

#[test]
fn boringtun_refuses_our_initiation_without_valid_mac1() {
    let mut p = peers(None, None, None);
    let mut init = [0u8; INITIATION_LEN];
    p.handshake
        .create_initiation(&p.a, 1, random_private(), real_now_ns(), &mut init)
        .unwrap();
    // mac1 left zero.
    let mut dst = vec![0u8; 2048];
    assert!(matches!(
        p.tunn.decapsulate(Some(PEER_ADDR), &init, &mut dst),
        TunnResult::Err(_)
    ));
    // mac1 under the wrong key.
    CookieMaker::new(&p.a.public).add_macs(&mut init, MONO);
    assert!(matches!(
        p.tunn.decapsulate(Some(PEER_ADDR), &init, &mut dst),
        TunnResult::Err(_)
    ));
    p.maker.add_macs(&mut init, MONO);
    to_network(p.tunn.decapsulate(Some(PEER_ADDR), &init, &mut dst));
}

/// boringtun under load answers our initiation with a cookie reply; our
/// maker takes the cookie and the next initiation's mac2 gets through.
#[test]
fn boringtun_cookie_reply_is_consumed_by_our_maker() {
    let mut p = peers(None, None, Some(0));
    let mut init = [0u8; INITIATION_LEN];
    p.handshake
        .create_initiation(&p.a, 0x77, random_private(), real_now_ns(), &mut init)
        .unwrap();
    p.maker.add_macs(&mut init, MONO);
    let mut dst = vec![0u8; 2048];
    let reply = to_network(p.tunn.decapsulate(Some(PEER_ADDR), &init, &mut dst));
    assert_eq!(messages::classify(&reply), Ok(MessageType::CookieReply));
    assert_eq!(messages::receiver_index(&reply), Some(0x77));
    let reply: [u8; COOKIE_REPLY_LEN] = reply.try_into().unwrap();
    p.maker
        .consume_reply(&reply, MONO)
        .expect("boringtun's cookie reply");

    p.maker.add_macs(&mut init, MONO + NSEC);
    assert_ne!(&init[132..], &[0u8; 16]);
    let resp: [u8; RESPONSE_LEN] = to_network(p.tunn.decapsulate(Some(PEER_ADDR), &init, &mut dst))
        .try_into()
        .unwrap();
    let keys = p.handshake.consume_response(&p.a, &resp).unwrap();
    boringtun_accepts_data(&mut p, &keys, 0);
}

/// Our checker answers boringtun's initiation with a cookie reply; boringtun
/// takes it, and its next initiation carries a mac2 our checker accepts.
#[test]
fn our_cookie_reply_is_consumed_by_boringtun() {
    let mut p = peers(None, None, None);
    let secret = random32();
    let mut dst = vec![0u8; 2048];
    let init = to_network(p.tunn.format_handshake_initiation(&mut dst, false));
    assert!(p.checker.check_mac1(&init));
    assert!(!p.checker.check_mac2(&init, &PEER_SRC, MONO, &secret));
    let mut reply = [0u8; COOKIE_REPLY_LEN];
    let mut nonce = [0u8; 24];
    OsRng.fill_bytes(&mut nonce);
    p.checker
        .create_reply(&init, &PEER_SRC, MONO, &secret, nonce, &mut reply)
        .unwrap();
    match p.tunn.decapsulate(Some(PEER_ADDR), &reply, &mut dst) {
        TunnResult::Done => {}
        other => panic!("boringtun refused our cookie reply: {other:?}"),
    }

    let init = to_network(p.tunn.format_handshake_initiation(&mut dst, true));
    assert!(p.checker.check_mac1(&init));
    assert!(
        p.checker.check_mac2(&init, &PEER_SRC, MONO + NSEC, &secret),
        "boringtun's mac2"
    );
    assert!(!p
        .checker
        .check_mac2(&init, &[192, 0, 2, 8, 0xca, 0x6c], MONO + NSEC, &secret));

    // The handshake then completes as usual.
    let init: [u8; INITIATION_LEN] = init.try_into().unwrap();
    let partial = decrypt_initiation(&p.a, &init).unwrap();
    let mut resp = [0u8; RESPONSE_LEN];
    let keys = p
        .handshake
        .consume_initiation_and_respond(&p.a, &partial, 9, random_private(), MONO + NSEC, &mut resp)
        .unwrap();
    p.maker.add_macs(&mut resp, MONO + NSEC);
    let ka = to_network(p.tunn.decapsulate(Some(PEER_ADDR), &resp, &mut dst));
    assert_eq!(open_data(&keys, &ka), (0, Vec::new()));
}
