//! MAC1, MAC2 and cookie replies (whitepaper section 5.4.7).
//!
//! MAC1 proves the sender knows the receiver's public key, which lets a
//! device drop garbage before any X25519 work. MAC2 proves the sender can
//! receive at its source address: under load a responder answers handshakes
//! with a cookie reply instead of doing DH, and only handshakes whose MAC2 is
//! keyed with that cookie get through. The cookie is a MAC of the source
//! address under a secret that changes every two minutes, so the responder
//! keeps no per-sender state.

use core::fmt;

use blake2::digest::{KeyInit, Mac, Update};
use blake2::Blake2sMac;
use chacha20poly1305::aead::generic_array::typenum::U16;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::consts::{COOKIE_SECRET_LATENCY, COOKIE_SECRET_MAX_AGE};
use crate::crypto::{self, HASH_LEN, KEY_LEN, MAC_LEN, TAG_LEN, XNONCE_LEN};
use crate::messages::{
    classify, read_array, read_u32, write_at, MessageType, COOKIE_LEN, COOKIE_REPLY_COOKIE_OFF,
    COOKIE_REPLY_LEN, COOKIE_REPLY_NONCE_OFF, COOKIE_REPLY_RECEIVER_OFF, INITIATION_LEN,
    INITIATION_SENDER_OFF, MACS_LEN, MSG_COOKIE_REPLY, RESPONSE_LEN, RESPONSE_SENDER_OFF, TYPE_OFF,
};
use crate::time::{Duration, Instant};
use crate::{Error, Result};

pub const LABEL_MAC1: &[u8; 8] = b"mac1----";
pub const LABEL_COOKIE: &[u8; 8] = b"cookie--";

const COOKIE_TAG_OFF: usize = COOKIE_REPLY_COOKIE_OFF + COOKIE_LEN;

/// Where mac1 starts in a handshake message of this length; MACs exist only
/// in initiations and responses.
fn mac1_offset(len: usize) -> Option<usize> {
    match len {
        INITIATION_LEN | RESPONSE_LEN => Some(len - MACS_LEN),
        _ => None,
    }
}

/// The message up to mac1 (what mac1 covers), mac1, and the message up to
/// mac2 (what mac2 covers).
fn mac_parts(msg: &[u8]) -> Option<(&[u8], [u8; MAC_LEN], &[u8])> {
    let off = mac1_offset(msg.len())?;
    let mac1 = read_array(msg, off)?;
    Some((msg.get(..off)?, mac1, msg.get(..off + MAC_LEN)?))
}

/// MAC keyed with a 16-byte cookie. `crypto::mac` takes 32-byte keys, and
/// BLAKE2s puts the key length in its parameter block, so zero-padding the
/// cookie would give a different (wrong) MAC.
fn cookie_mac(cookie: &[u8; COOKIE_LEN], data: &[u8]) -> [u8; MAC_LEN] {
    let mut m = match <Blake2sMac<U16> as KeyInit>::new_from_slice(cookie) {
        Ok(m) => m,
        // Keys up to 32 bytes are accepted.
        Err(_) => return [0; MAC_LEN],
    };
    Update::update(&mut m, data);
    m.finalize().into_bytes().into()
}

/// The birth of a value whose lifetime `max_age` has run out at `now`
/// (Linux: `wg_birthdate_has_expired`, which counts the boundary as expired).
fn expired(birth: Instant, max_age: Duration, now: Instant) -> bool {
    birth.has_aged(max_age, now)
}

/// Where a new cookie secret comes from when the current one has expired.
/// A closure is called only then: under load every handshake message is
/// checked, and drawing 32 random bytes from the host for each of them
/// (a syscall in wgd) would be work the flood buys for nothing. A plain
/// secret is accepted too (tests, vectors).
pub trait FreshSecret {
    fn draw(self) -> [u8; HASH_LEN];
}

impl FreshSecret for &[u8; HASH_LEN] {
    fn draw(self) -> [u8; HASH_LEN] {
        *self
    }
}

// `FnOnce` is a fundamental trait, so this cannot overlap the impl above.
impl<F: FnOnce() -> [u8; HASH_LEN]> FreshSecret for F {
    fn draw(self) -> [u8; HASH_LEN] {
        self()
    }
}

/// Responder side, one per device.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct CookieChecker {
    mac1_key: [u8; HASH_LEN],
    cookie_key: [u8; HASH_LEN],
    secret: [u8; HASH_LEN],
    /// `None` until the first cookie is needed: the secret comes from the
    /// caller then, since this module draws no randomness.
    #[zeroize(skip)]
    secret_birth: Option<Instant>,
}

impl fmt::Debug for CookieChecker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieChecker")
            .field("secret_birth", &self.secret_birth)
            .finish_non_exhaustive()
    }
}

impl CookieChecker {
    pub fn new(local_public: &[u8; KEY_LEN]) -> Self {
        Self {
            mac1_key: crypto::hash(&[LABEL_MAC1, local_public]),
            cookie_key: crypto::hash(&[LABEL_COOKIE, local_public]),
            secret: [0; HASH_LEN],
            secret_birth: None,
        }
    }

    /// Follows a change of the interface key. The secret stays: cookies do
    /// not depend on the key.
    pub fn set_local_public(&mut self, local_public: &[u8; KEY_LEN]) {
        self.mac1_key = crypto::hash(&[LABEL_MAC1, local_public]);
        self.cookie_key = crypto::hash(&[LABEL_COOKIE, local_public]);
    }

    /// Checks mac1 of a whole initiation or response; false for anything
    /// else.
    pub fn check_mac1(&self, msg: &[u8]) -> bool {
        let Some((covered, mac1, _)) = mac_parts(msg) else {
            return false;
        };
        crypto::ct_eq(&crypto::mac(&self.mac1_key, &[covered]), &mac1)
    }

    /// Whether the next cookie needs a new secret.
    pub fn secret_due(&self, now: Instant) -> bool {
        self.secret_birth
            .is_none_or(|birth| expired(birth, COOKIE_SECRET_MAX_AGE, now))
    }

    fn cookie(
        &mut self,
        src: &[u8],
        now: Instant,
        fresh_secret: impl FreshSecret,
    ) -> Zeroizing<[u8; COOKIE_LEN]> {
        if self.secret_due(now) {
            let mut fresh = Zeroizing::new(fresh_secret.draw());
            core::mem::swap(&mut self.secret, &mut *fresh);
            self.secret_birth = Some(now);
        }
        Zeroizing::new(crypto::mac(&self.secret, &[src]))
    }

    /// Checks mac2 of a whole initiation or response against the cookie
    /// `src` (the datagram's source address, in any encoding stable for the
    /// device) would have been given; `fresh_secret` is drawn only if the
    /// current secret has expired. With [`Self::create_reply`], the two
    /// halves of [`Self::check_mac2_or_reply`] (the device's call), kept
    /// for the tests that hold that one to them.
    #[cfg(any(test, feature = "testutil"))]
    pub fn check_mac2(
        &mut self,
        msg: &[u8],
        src: &[u8],
        now: Instant,
        fresh_secret: impl FreshSecret,
    ) -> bool {
        let Some((_, _, covered)) = mac_parts(msg) else {
            return false;
        };
        // mac2 follows what it covers.
        let Some(mac2) = read_array::<MAC_LEN>(msg, covered.len()) else {
            return false;
        };
        let cookie = self.cookie(src, now, fresh_secret);
        crypto::ct_eq(&cookie_mac(&cookie, covered), &mac2)
    }

    /// Writes the cookie reply to `msg`, an initiation or response whose
    /// mac1 the caller has verified. `nonce` must be random.
    #[cfg(any(test, feature = "testutil"))]
    pub fn create_reply(
        &mut self,
        msg: &[u8],
        src: &[u8],
        now: Instant,
        fresh_secret: impl FreshSecret,
        nonce: [u8; XNONCE_LEN],
        out: &mut [u8; COOKIE_REPLY_LEN],
    ) -> Result<()> {
        let cookie = self.cookie(src, now, fresh_secret);
        self.seal_reply(msg, cookie, nonce, out)
    }

    /// What a device under load does with a handshake message whose mac1
    /// it has verified: true if mac2 is right, else the cookie reply is
    /// written to `out`. The cookie is computed once for both (the flood
    /// path), and `nonce` is drawn only for a reply.
    pub fn check_mac2_or_reply(
        &mut self,
        msg: &[u8],
        src: &[u8],
        now: Instant,
        fresh_secret: impl FreshSecret,
        nonce: impl FnOnce() -> [u8; XNONCE_LEN],
        out: &mut [u8; COOKIE_REPLY_LEN],
    ) -> Result<bool> {
        let (_, _, covered) = mac_parts(msg).ok_or(Error::BadLength)?;
        let mac2 = read_array::<MAC_LEN>(msg, covered.len()).ok_or(Error::BadLength)?;
        let cookie = self.cookie(src, now, fresh_secret);
        if crypto::ct_eq(&cookie_mac(&cookie, covered), &mac2) {
            return Ok(true);
        }
        self.seal_reply(msg, cookie, nonce(), out)?;
        Ok(false)
    }

    fn seal_reply(
        &self,
        msg: &[u8],
        mut sealed: Zeroizing<[u8; COOKIE_LEN]>,
        nonce: [u8; XNONCE_LEN],
        out: &mut [u8; COOKIE_REPLY_LEN],
    ) -> Result<()> {
        let sender_off = match classify(msg)? {
            MessageType::Initiation => INITIATION_SENDER_OFF,
            MessageType::Response => RESPONSE_SENDER_OFF,
            MessageType::CookieReply | MessageType::Data => return Err(Error::UnexpectedMessage),
        };
        let sender = read_u32(msg, sender_off).ok_or(Error::BadLength)?;
        let (_, mac1, _) = mac_parts(msg).ok_or(Error::BadLength)?;
        // The initiator decrypts with the mac1 it sent as associated data,
        // which ties the reply to one message it really sent.
        let tag = crypto::xaead_seal(&self.cookie_key, &nonce, &mac1, &mut sealed[..]);

        out.fill(0);
        let ok = write_at(out, TYPE_OFF, &MSG_COOKIE_REPLY.to_le_bytes())
            && write_at(out, COOKIE_REPLY_RECEIVER_OFF, &sender.to_le_bytes())
            && write_at(out, COOKIE_REPLY_NONCE_OFF, &nonce)
            && write_at(out, COOKIE_REPLY_COOKIE_OFF, &sealed[..])
            && write_at(out, COOKIE_TAG_OFF, &tag);
        if ok {
            Ok(())
        } else {
            Err(Error::NoSpace)
        }
    }
}

/// Initiator side, one per peer: the keys come from the peer's public key.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct CookieMaker {
    mac1_key: [u8; HASH_LEN],
    cookie_key: [u8; HASH_LEN],
    /// The mac1 of our last handshake message, until a reply to it arrives;
    /// a reply is accepted once, as in Linux.
    last_mac1: Option<[u8; MAC_LEN]>,
    cookie: [u8; COOKIE_LEN],
    #[zeroize(skip)]
    cookie_birth: Option<Instant>,
}

impl fmt::Debug for CookieMaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieMaker")
            .field("cookie_birth", &self.cookie_birth)
            .finish_non_exhaustive()
    }
}

impl CookieMaker {
    pub fn new(peer_public: &[u8; KEY_LEN]) -> Self {
        Self {
            mac1_key: crypto::hash(&[LABEL_MAC1, peer_public]),
            cookie_key: crypto::hash(&[LABEL_COOKIE, peer_public]),
            last_mac1: None,
            cookie: [0; COOKIE_LEN],
            cookie_birth: None,
        }
    }

    /// Fills mac1 and mac2 of a whole initiation or response; leaves any
    /// other buffer alone. mac2 is zero unless we hold a cookie young enough
    /// that the responder's secret has surely not changed since.
    pub fn add_macs(&mut self, msg: &mut [u8], now: Instant) {
        let Some(off) = mac1_offset(msg.len()) else {
            return;
        };
        let Some(covered) = msg.get(..off) else {
            return;
        };
        let mac1 = crypto::mac(&self.mac1_key, &[covered]);
        if !write_at(msg, off, &mac1) {
            return;
        }
        self.last_mac1 = Some(mac1);

        let fresh = self.cookie_birth.is_some_and(|birth| {
            !expired(birth, COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_LATENCY, now)
        });
        let mac2 = match msg.get(..off + MAC_LEN) {
            Some(covered) if fresh => cookie_mac(&self.cookie, covered),
            _ => [0; MAC_LEN],
        };
        write_at(msg, off + MAC_LEN, &mac2);
    }

    /// Verifies and stores the cookie of a reply. The receiver index is the
    /// device's business (it chose this peer by it).
    pub fn consume_reply(&mut self, reply: &[u8; COOKIE_REPLY_LEN], now: Instant) -> Result<()> {
        if read_u32(reply, TYPE_OFF) != Some(MSG_COOKIE_REPLY) {
            return Err(Error::UnknownMessageType);
        }
        let Some(mac1) = self.last_mac1 else {
            return Err(Error::UnexpectedMessage);
        };
        let nonce: [u8; XNONCE_LEN] =
            read_array(reply, COOKIE_REPLY_NONCE_OFF).ok_or(Error::BadLength)?;
        let tag: [u8; TAG_LEN] = read_array(reply, COOKIE_TAG_OFF).ok_or(Error::BadLength)?;
        let mut cookie = Zeroizing::new(
            read_array::<COOKIE_LEN>(reply, COOKIE_REPLY_COOKIE_OFF).ok_or(Error::BadLength)?,
        );
        crypto::xaead_open(&self.cookie_key, &nonce, &mac1, &mut cookie[..], &tag)
            .map_err(|_| Error::DecryptFailed)?;
        self.cookie = *cookie;
        self.cookie_birth = Some(now);
        self.last_mac1 = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{Duration, Instant};

    const T0: Instant = Instant::ZERO;
    const SEC: Duration = Duration::SECOND;
    const NS: Duration = Duration::from_nanos(1);

    const PUB: [u8; 32] = [9; 32];
    const SRC: &[u8] = &[192, 0, 2, 1, 0xca, 0x6c];
    const SECRET: [u8; 32] = [0x5e; 32];

    fn message(len: usize, sender: u32) -> std::vec::Vec<u8> {
        let mut m: std::vec::Vec<u8> = (0..len).map(|i| i as u8).collect();
        let ty: u32 = if len == INITIATION_LEN { 1 } else { 2 };
        m[..4].copy_from_slice(&ty.to_le_bytes());
        m[4..8].copy_from_slice(&sender.to_le_bytes());
        m
    }

    fn h(s: &str) -> std::vec::Vec<u8> {
        hex::decode(s).unwrap()
    }

    /// Values from Python's hashlib.blake2s, an implementation independent
    /// of the `blake2` crate.
    #[test]
    fn mac_vectors() {
        let cookie: [u8; 16] = core::array::from_fn(|i| i as u8);
        assert_eq!(
            cookie_mac(&cookie, b"WireGuard cookie").to_vec(),
            h("cd68de3bffab9b4b1fcb68e4bc38674b")
        );
        let mut m = message(INITIATION_LEN, 0x0706_0504);
        CookieMaker::new(&PUB).add_macs(&mut m, T0);
        assert_eq!(m[116..132].to_vec(), h("23fdd0dcc8f3018a66764534126c0c86"));
    }

    #[test]
    fn mac1_round_trip() {
        let checker = CookieChecker::new(&PUB);
        let mut maker = CookieMaker::new(&PUB);
        for len in [INITIATION_LEN, RESPONSE_LEN] {
            let mut m = message(len, 1);
            assert!(!checker.check_mac1(&m));
            maker.add_macs(&mut m, T0);
            assert!(checker.check_mac1(&m));
            assert_eq!(&m[len - 16..], &[0u8; 16], "no cookie, no mac2");
            for i in 0..len - 16 {
                let mut t = m.clone();
                t[i] ^= 1;
                assert!(!checker.check_mac1(&t), "len {len} byte {i}");
            }
            assert!(!CookieChecker::new(&[8; 32]).check_mac1(&m));
        }
    }

    #[test]
    fn odd_lengths_are_refused() {
        let mut checker = CookieChecker::new(&PUB);
        let mut maker = CookieMaker::new(&PUB);
        for len in [0, 1, 31, 32, 64, 91, 93, 147, 149, 1500] {
            let mut m = std::vec![0u8; len];
            maker.add_macs(&mut m, T0);
            assert!(m.iter().all(|&b| b == 0), "len {len} written");
            assert!(!checker.check_mac1(&m));
            assert!(!checker.check_mac2(&m, SRC, T0, &SECRET));
            let mut out = [0u8; 64];
            assert!(checker
                .create_reply(&m, SRC, T0, &SECRET, [0; 24], &mut out)
                .is_err());
        }
        // Nothing was sent, so nothing can be consumed.
        let mut reply = [0u8; 64];
        reply[0] = 3;
        assert_eq!(
            maker.consume_reply(&reply, T0).unwrap_err(),
            Error::UnexpectedMessage
        );
        reply[0] = 2;
        assert_eq!(
            maker.consume_reply(&reply, T0).unwrap_err(),
            Error::UnknownMessageType
        );
    }

    /// Drives the exchange the device runs under load: handshake without
    /// mac2, cookie reply, handshake with mac2.
    fn get_cookie(checker: &mut CookieChecker, maker: &mut CookieMaker, now: Instant) {
        let mut m = message(INITIATION_LEN, 0xabcd);
        maker.add_macs(&mut m, now);
        assert!(checker.check_mac1(&m));
        assert!(!checker.check_mac2(&m, SRC, now, &SECRET));
        let mut reply = [0u8; 64];
        checker
            .create_reply(&m, SRC, now, &SECRET, [7; 24], &mut reply)
            .unwrap();
        assert_eq!(classify(&reply), Ok(MessageType::CookieReply));
        assert_eq!(crate::messages::receiver_index(&reply), Some(0xabcd));
        assert_eq!(&reply[8..32], &[7; 24]);
        maker.consume_reply(&reply, now).unwrap();
    }

    #[test]
    fn cookie_round_trip() {
        let mut checker = CookieChecker::new(&PUB);
        let mut maker = CookieMaker::new(&PUB);
        get_cookie(&mut checker, &mut maker, T0);
        for len in [INITIATION_LEN, RESPONSE_LEN] {
            let mut m = message(len, 5);
            maker.add_macs(&mut m, T0 + SEC);
            assert!(checker.check_mac1(&m));
            assert!(checker.check_mac2(&m, SRC, T0 + SEC, &SECRET));
            assert!(!checker.check_mac2(&m, &[192, 0, 2, 2, 0xca, 0x6c], T0 + SEC, &SECRET));
            for i in 0..len {
                let mut t = m.clone();
                t[i] ^= 0x10;
                assert!(
                    !checker.check_mac2(&t, SRC, T0 + SEC, &SECRET),
                    "len {len} byte {i}"
                );
            }
        }
    }

    #[test]
    fn reply_needs_the_right_mac1() {
        let mut checker = CookieChecker::new(&PUB);
        let mut maker = CookieMaker::new(&PUB);
        let mut first = message(INITIATION_LEN, 1);
        maker.add_macs(&mut first, T0);
        let mut reply = [0u8; 64];
        checker
            .create_reply(&first, SRC, T0, &SECRET, [1; 24], &mut reply)
            .unwrap();
        // A newer message was sent since: the reply is for a mac1 we no
        // longer expect.
        let mut second = message(INITIATION_LEN, 2);
        second[50] ^= 1;
        maker.add_macs(&mut second, T0);
        assert_eq!(
            maker.consume_reply(&reply, T0).unwrap_err(),
            Error::DecryptFailed
        );

        let mut reply = [0u8; 64];
        checker
            .create_reply(&second, SRC, T0, &SECRET, [1; 24], &mut reply)
            .unwrap();
        // Every byte but the receiver index (4..8), which only routes the
        // reply to a peer, is authenticated.
        for i in (0..64).filter(|i| !(4..8).contains(i)) {
            let mut t = reply;
            t[i] ^= 0x20;
            assert!(maker.consume_reply(&t, T0).is_err(), "byte {i}");
        }
        // A reply under another responder's key fails too.
        let mut other = [0u8; 64];
        CookieChecker::new(&[8; 32])
            .create_reply(&second, SRC, T0, &SECRET, [1; 24], &mut other)
            .unwrap();
        assert_eq!(
            maker.consume_reply(&other, T0).unwrap_err(),
            Error::DecryptFailed
        );

        maker.consume_reply(&reply, T0).unwrap();
        // One reply per message sent.
        assert_eq!(
            maker.consume_reply(&reply, T0).unwrap_err(),
            Error::UnexpectedMessage
        );
    }

    #[test]
    fn reply_to_a_response_and_not_to_others() {
        let mut checker = CookieChecker::new(&PUB);
        let mut maker = CookieMaker::new(&PUB);
        let mut r = message(RESPONSE_LEN, 0x55);
        maker.add_macs(&mut r, T0);
        let mut reply = [0u8; 64];
        checker
            .create_reply(&r, SRC, T0, &SECRET, [2; 24], &mut reply)
            .unwrap();
        assert_eq!(crate::messages::receiver_index(&reply), Some(0x55));
        maker.consume_reply(&reply, T0).unwrap();

        let mut data = std::vec![0u8; 64];
        data[0] = 4;
        assert_eq!(
            checker
                .create_reply(&data, SRC, T0, &SECRET, [2; 24], &mut reply)
                .unwrap_err(),
            Error::UnexpectedMessage
        );
        let mut bad = r.clone();
        bad[1] = 1;
        assert_eq!(
            checker
                .create_reply(&bad, SRC, T0, &SECRET, [2; 24], &mut reply)
                .unwrap_err(),
            Error::UnknownMessageType
        );
    }

    #[test]
    fn secret_rotation_invalidates_old_mac2() {
        let mut checker = CookieChecker::new(&PUB);
        let mut maker = CookieMaker::new(&PUB);
        let t0 = T0 + SEC * 1000;
        get_cookie(&mut checker, &mut maker, t0);
        let mut m = message(INITIATION_LEN, 5);
        maker.add_macs(&mut m, t0);
        let other_secret = [0x99; 32];
        // Until the secret is two minutes old a fresh secret is ignored.
        assert!(checker.check_mac2(&m, SRC, t0 + COOKIE_SECRET_MAX_AGE - NS, &other_secret));
        assert!(!checker.check_mac2(&m, SRC, t0 + COOKIE_SECRET_MAX_AGE, &other_secret));
        // The new secret is kept: giving the old bytes back later does not
        // restore the old cookie.
        assert!(!checker.check_mac2(&m, SRC, t0 + COOKIE_SECRET_MAX_AGE + NS, &SECRET));
        // A new cookie works again.
        let now = t0 + COOKIE_SECRET_MAX_AGE + NS * 2;
        let mut m = message(INITIATION_LEN, 6);
        maker.add_macs(&mut m, now);
        let mut reply = [0u8; 64];
        checker
            .create_reply(&m, SRC, now, &other_secret, [3; 24], &mut reply)
            .unwrap();
        maker.consume_reply(&reply, now).unwrap();
        maker.add_macs(&mut m, now);
        assert!(checker.check_mac2(&m, SRC, now, &other_secret));
    }

    /// Under load every handshake message is checked: the secret must be
    /// drawn once per rotation, not once per message (it was once per
    /// message, 32 bytes from the host each time).
    #[test]
    fn fresh_secret_is_drawn_only_when_due() {
        let mut checker = CookieChecker::new(&PUB);
        let mut maker = CookieMaker::new(&PUB);
        let draws = core::cell::Cell::new(0);
        let draw = || {
            draws.set(draws.get() + 1);
            SECRET
        };
        let mut m = message(INITIATION_LEN, 1);
        maker.add_macs(&mut m, T0);
        assert!(checker.secret_due(T0));
        let mut out = [0u8; 64];
        for i in 0..100 {
            assert!(!checker.check_mac2(&m, SRC, T0 + SEC * i, draw));
            checker
                .create_reply(&m, SRC, T0 + SEC * i, draw, [0; 24], &mut out)
                .unwrap();
        }
        assert_eq!(draws.get(), 1);
        assert!(!checker.secret_due(T0 + COOKIE_SECRET_MAX_AGE - NS));
        assert!(checker.secret_due(T0 + COOKIE_SECRET_MAX_AGE));
        checker.check_mac2(&m, SRC, T0 + COOKIE_SECRET_MAX_AGE, draw);
        checker.check_mac2(&m, SRC, T0 + COOKIE_SECRET_MAX_AGE + NS, draw);
        assert_eq!(draws.get(), 2);
    }

    #[test]
    fn check_or_reply_agrees_with_check_then_reply() {
        let mut checker = CookieChecker::new(&PUB);
        let mut maker = CookieMaker::new(&PUB);
        let mut m = message(INITIATION_LEN, 1);
        maker.add_macs(&mut m, T0);
        let mut want = [0u8; COOKIE_REPLY_LEN];
        assert!(!checker.check_mac2(&m, SRC, T0, &SECRET));
        checker
            .create_reply(&m, SRC, T0, &SECRET, [5; 24], &mut want)
            .unwrap();
        let mut got = [0u8; COOKIE_REPLY_LEN];
        let valid = checker
            .check_mac2_or_reply(&m, SRC, T0, &SECRET, || [5; 24], &mut got)
            .unwrap();
        assert!(!valid);
        assert_eq!(got, want);
        // With the cookie the reply carries, mac2 passes and no nonce is drawn.
        maker.consume_reply(&got, T0).unwrap();
        maker.add_macs(&mut m, T0);
        let valid = checker
            .check_mac2_or_reply(&m, SRC, T0, &SECRET, || unreachable!(), &mut got)
            .unwrap();
        assert!(valid);
    }

    #[test]
    fn maker_stops_using_an_old_cookie() {
        let mut checker = CookieChecker::new(&PUB);
        let mut maker = CookieMaker::new(&PUB);
        get_cookie(&mut checker, &mut maker, T0);
        let usable = T0 + COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_LATENCY;
        let mut m = message(INITIATION_LEN, 5);
        maker.add_macs(&mut m, usable - NS);
        assert_ne!(&m[132..], &[0u8; 16]);
        maker.add_macs(&mut m, usable);
        assert_eq!(&m[132..], &[0u8; 16]);
    }

    #[test]
    fn set_local_public_changes_mac1_key() {
        let mut checker = CookieChecker::new(&PUB);
        let mut m = message(RESPONSE_LEN, 1);
        CookieMaker::new(&[8; 32]).add_macs(&mut m, T0);
        assert!(!checker.check_mac1(&m));
        checker.set_local_public(&[8; 32]);
        assert!(checker.check_mac1(&m));
    }
}
