//! The Noise_IKpsk2 handshake of WireGuard (whitepaper section 5.4).
//!
//! The responder's work is split in two because it cannot know which peer an
//! initiation comes from before decrypting the initiator's static key:
//! [`decrypt_initiation`] runs at device level with only our identity, then
//! the peer's [`Handshake`] finishes with its precomputed static-static DH,
//! the anti-replay and anti-flood checks, and writes the response.
//!
//! MAC1 and MAC2 are not handled here: [`crate::cookie`] fills and checks
//! them, and must have checked MAC1 before a message reaches this module.
//! Nothing here reads a clock or draws randomness: ephemeral keys, indices and
//! times come from the caller.

use core::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::consts::{INITIATIONS_PER_SECOND, NSEC};
use crate::crypto::{self, HASH_LEN, KEY_LEN, TAG_LEN};
use crate::messages::{
    read_array, read_u32, write_at, INITIATION_EPHEMERAL_OFF, INITIATION_LEN,
    INITIATION_SENDER_OFF, INITIATION_STATIC_OFF, INITIATION_TIMESTAMP_OFF, MSG_INITIATION,
    MSG_RESPONSE, RESPONSE_EMPTY_OFF, RESPONSE_EPHEMERAL_OFF, RESPONSE_LEN, RESPONSE_RECEIVER_OFF,
    RESPONSE_SENDER_OFF, TIMESTAMP_LEN, TYPE_OFF,
};
use crate::{Error, Result};

pub const CONSTRUCTION: &[u8] = b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
pub const IDENTIFIER: &[u8] = b"WireGuard v1 zx2c4 Jason@zx2c4.com";

/// HASH(CONSTRUCTION): every handshake starts its chaining key here.
pub const INITIAL_CHAINING_KEY: [u8; HASH_LEN] = [
    0x60, 0xe2, 0x6d, 0xae, 0xf3, 0x27, 0xef, 0xc0, 0x2e, 0xc3, 0x35, 0xe2, 0xa0, 0x25, 0xd2, 0xd0,
    0x16, 0xeb, 0x42, 0x06, 0xf8, 0x72, 0x77, 0xf5, 0x2d, 0x38, 0xd1, 0x98, 0x8b, 0x78, 0xcd, 0x36,
];

/// HASH(INITIAL_CHAINING_KEY || IDENTIFIER): the hash before the responder's
/// static key is mixed in.
pub const INITIAL_HASH: [u8; HASH_LEN] = [
    0x22, 0x11, 0xb3, 0x61, 0x08, 0x1a, 0xc5, 0x66, 0x69, 0x12, 0x43, 0xdb, 0x45, 0x8a, 0xd5, 0x32,
    0x2d, 0x9c, 0x6c, 0x66, 0x22, 0x93, 0xe8, 0xb7, 0x0e, 0xe1, 0x9c, 0x65, 0xba, 0x07, 0x9e, 0xf3,
];

/// TAI64 labels 1970-01-01 00:00:10 TAI (the Unix epoch) 2^62 + 10. Linux
/// uses this offset; sharing it keeps our stamps ordered against Linux's
/// when a peer key moves between the two implementations.
const TAI64_EPOCH: u64 = (1 << 62) + 10;

/// Finer timestamps add nothing against replay, since a peer may only send
/// INITIATIONS_PER_SECOND initiations anyway, but would disclose our precise
/// clock to whoever can decrypt them. Linux rounds down to this power of two.
const TIMESTAMP_GRANULARITY_NS: u64 = round_down_pow2(NSEC / INITIATIONS_PER_SECOND);

/// Shortest allowed interval between two accepted initiations from one peer.
const INITIATION_INTERVAL_NS: u64 = NSEC / INITIATIONS_PER_SECOND;

const fn round_down_pow2(x: u64) -> u64 {
    if x == 0 {
        0
    } else {
        1 << (63 - x.leading_zeros())
    }
}

/// Encodes `real_ns` (nanoseconds since the Unix epoch) as the TAI64N label
/// of an initiation: 8 bytes of big-endian seconds, 4 of big-endian nanos.
pub fn tai64n(real_ns: u64) -> [u8; TIMESTAMP_LEN] {
    let secs = real_ns / NSEC;
    let nanos = (real_ns % NSEC) & !(TIMESTAMP_GRANULARITY_NS - 1);
    let mut out = [0u8; TIMESTAMP_LEN];
    let (s, n) = out.split_at_mut(8);
    // u64::MAX / NSEC is about 1.8e10, far below 2^62: no overflow.
    s.copy_from_slice(&(TAI64_EPOCH + secs).to_be_bytes());
    // Below NSEC, so it fits in 32 bits.
    n.copy_from_slice(&(nanos as u32).to_be_bytes());
    out
}

/// The interface's long-term key pair.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct StaticIdentity {
    pub private: [u8; KEY_LEN],
    pub public: [u8; KEY_LEN],
}

impl StaticIdentity {
    pub fn new(private: [u8; KEY_LEN]) -> Self {
        let public = crypto::public_key(&private);
        Self { private, public }
    }
}

impl fmt::Debug for StaticIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticIdentity")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// The transport keys a completed handshake yields.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct SessionKeys {
    pub send: [u8; KEY_LEN],
    pub recv: [u8; KEY_LEN],
    /// The index peers put in messages to us for this session.
    pub local_index: u32,
    /// The index we put in messages to the peer.
    pub remote_index: u32,
    /// The initiator may send at once; the responder must wait for the first
    /// data packet, which confirms that the initiator derived the same keys.
    pub is_initiator: bool,
}

impl fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionKeys")
            .field("local_index", &self.local_index)
            .field("remote_index", &self.remote_index)
            .field("is_initiator", &self.is_initiator)
            .finish_non_exhaustive()
    }
}

/// The running chaining key and hash of the Noise symmetric state.
#[derive(Zeroize, ZeroizeOnDrop)]
struct Symmetric {
    ck: [u8; HASH_LEN],
    h: [u8; HASH_LEN],
}

type Key = Zeroizing<[u8; KEY_LEN]>;

impl Symmetric {
    fn mix_hash(&mut self, data: &[u8]) {
        self.h = crypto::hash(&[&self.h, data]);
    }

    fn mix_key(&mut self, input: &[u8]) {
        self.ck = crypto::kdf1(&self.ck, input);
    }

    fn mix_key_and_key(&mut self, input: &[u8]) -> Key {
        let (ck, key) = crypto::kdf2(&self.ck, input);
        self.ck = ck;
        Zeroizing::new(key)
    }

    fn mix_psk(&mut self, psk: &[u8; KEY_LEN]) -> Key {
        let (ck, tau, key) = crypto::kdf3(&self.ck, psk);
        self.ck = ck;
        let tau = Zeroizing::new(tau);
        self.mix_hash(&tau[..]);
        Zeroizing::new(key)
    }

    /// Encrypts `buf` in place with the hash as associated data and mixes the
    /// ciphertext into the hash; returns the tag.
    fn seal_and_hash(&mut self, key: &Key, buf: &mut [u8]) -> [u8; TAG_LEN] {
        let tag = crypto::aead_seal(key, 0, &self.h, buf);
        self.h = crypto::hash(&[&self.h, buf, &tag]);
        tag
    }

    /// Inverse of [`Self::seal_and_hash`]; the hash moves on only when the
    /// tag verifies.
    fn open_and_hash<const N: usize>(
        &mut self,
        key: &Key,
        ciphertext: &[u8; N],
        tag: &[u8; TAG_LEN],
    ) -> Result<Zeroizing<[u8; N]>> {
        let mut plain = Zeroizing::new(*ciphertext);
        crypto::aead_open(key, 0, &self.h, &mut plain[..], tag)
            .map_err(|_| Error::DecryptFailed)?;
        self.h = crypto::hash(&[&self.h, ciphertext, tag]);
        Ok(plain)
    }

    /// (T_first, T_second) = KDF2(C, ""): initiator-to-responder, then the
    /// other direction.
    fn split(&self) -> (Key, Key) {
        let (a, b) = crypto::kdf2(&self.ck, &[]);
        (Zeroizing::new(a), Zeroizing::new(b))
    }
}

fn dh(private: &[u8; KEY_LEN], public: &[u8; KEY_LEN]) -> Result<Key> {
    crypto::dh(private, public)
        .map(Zeroizing::new)
        .map_err(|_| Error::BadPublicKey)
}

fn check_type(msg: &[u8], expected: u32) -> Result<()> {
    match read_u32(msg, TYPE_OFF) {
        Some(t) if t == expected => Ok(()),
        _ => Err(Error::UnknownMessageType),
    }
}

fn field<const N: usize>(msg: &[u8], off: usize) -> Result<[u8; N]> {
    read_array(msg, off).ok_or(Error::BadLength)
}

fn put(out: &mut [u8], off: usize, src: &[u8]) -> Result<()> {
    if write_at(out, off, src) {
        Ok(())
    } else {
        Err(Error::NoSpace)
    }
}

const STATIC_TAG_OFF: usize = INITIATION_STATIC_OFF + KEY_LEN;
const TIMESTAMP_TAG_OFF: usize = INITIATION_TIMESTAMP_OFF + TIMESTAMP_LEN;

/// An initiation whose sender's static key is decrypted but whose timestamp
/// is not: the responder's state between [`decrypt_initiation`] and
/// [`Handshake::consume_initiation_and_respond`].
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct ConsumedInitiation {
    local_public: [u8; KEY_LEN],
    remote_static: [u8; KEY_LEN],
    sender_index: u32,
    remote_ephemeral: [u8; KEY_LEN],
    chaining_key: [u8; HASH_LEN],
    hash: [u8; HASH_LEN],
    encrypted_timestamp: [u8; TIMESTAMP_LEN],
    timestamp_tag: [u8; TAG_LEN],
}

impl ConsumedInitiation {
    /// The initiator's static public key, authenticated by the AEAD: the key
    /// to look the peer up by.
    pub fn remote_static(&self) -> &[u8; KEY_LEN] {
        &self.remote_static
    }

    /// The index the initiator chose; our response is addressed to it.
    pub fn sender_index(&self) -> u32 {
        self.sender_index
    }
}

impl fmt::Debug for ConsumedInitiation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsumedInitiation")
            .field("remote_static", &self.remote_static)
            .field("sender_index", &self.sender_index)
            .finish_non_exhaustive()
    }
}

/// Responder, first half: decrypts the initiator's static key with our
/// identity alone. MACs must have been checked by the caller.
pub fn decrypt_initiation(
    local: &StaticIdentity,
    msg: &[u8; INITIATION_LEN],
) -> Result<ConsumedInitiation> {
    check_type(msg, MSG_INITIATION)?;
    let sender_index = read_u32(msg, INITIATION_SENDER_OFF).ok_or(Error::BadLength)?;
    let e: [u8; KEY_LEN] = field(msg, INITIATION_EPHEMERAL_OFF)?;
    let enc_static: [u8; KEY_LEN] = field(msg, INITIATION_STATIC_OFF)?;
    let static_tag: [u8; TAG_LEN] = field(msg, STATIC_TAG_OFF)?;
    let encrypted_timestamp: [u8; TIMESTAMP_LEN] = field(msg, INITIATION_TIMESTAMP_OFF)?;
    let timestamp_tag: [u8; TAG_LEN] = field(msg, TIMESTAMP_TAG_OFF)?;

    let mut sym = Symmetric {
        ck: INITIAL_CHAINING_KEY,
        h: crypto::hash(&[&INITIAL_HASH, &local.public]),
    };
    sym.mix_hash(&e);
    sym.mix_key(&e);
    let key = sym.mix_key_and_key(&dh(&local.private, &e)?[..]);
    let remote_static = sym.open_and_hash(&key, &enc_static, &static_tag)?;

    Ok(ConsumedInitiation {
        local_public: local.public,
        remote_static: *remote_static,
        sender_index,
        remote_ephemeral: e,
        chaining_key: sym.ck,
        hash: sym.h,
        encrypted_timestamp,
        timestamp_tag,
    })
}

/// The initiator's state between sending an initiation and its response.
#[derive(Zeroize, ZeroizeOnDrop)]
struct Pending {
    local_index: u32,
    ephemeral_private: [u8; KEY_LEN],
    chaining_key: [u8; HASH_LEN],
    hash: [u8; HASH_LEN],
}

enum State {
    Zeroed,
    InitiationSent(Pending),
}

/// One peer's handshake state.
pub struct Handshake {
    remote_static: [u8; KEY_LEN],
    /// The identity `static_static` was computed with, to notice a caller
    /// passing another one.
    local_public: [u8; KEY_LEN],
    /// DH(our static, their static) never changes for a peer, and computing
    /// it once saves one of the five X25519 operations per handshake. `None`
    /// when it is the zero point: no handshake with that key can be secure.
    static_static: Option<[u8; KEY_LEN]>,
    /// HASH(INITIAL_HASH || their static): where our initiations start.
    initiator_hash: [u8; HASH_LEN],
    /// All zeros when no preshared key is configured, as the protocol says.
    psk: [u8; KEY_LEN],
    state: State,
    latest_timestamp: [u8; TIMESTAMP_LEN],
    last_initiation_consumed: Option<u64>,
}

impl Drop for Handshake {
    fn drop(&mut self) {
        self.static_static.zeroize();
        self.psk.zeroize();
        self.clear();
    }
}

impl fmt::Debug for Handshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handshake")
            .field("remote_static", &self.remote_static)
            .field("pending_local_index", &self.pending_local_index())
            .finish_non_exhaustive()
    }
}

impl Handshake {
    // Not inlined: its X25519 temporaries would otherwise sit in the frame
    // of whoever builds a peer (kernel frames stay under 2 KiB).
    #[inline(never)]
    pub fn new(
        local: &StaticIdentity,
        remote_static: [u8; KEY_LEN],
        psk: Option<[u8; KEY_LEN]>,
    ) -> Self {
        Self {
            remote_static,
            local_public: local.public,
            static_static: crypto::dh(&local.private, &remote_static).ok(),
            initiator_hash: crypto::hash(&[&INITIAL_HASH, &remote_static]),
            psk: psk.unwrap_or([0; KEY_LEN]),
            state: State::Zeroed,
            latest_timestamp: [0; TIMESTAMP_LEN],
            last_initiation_consumed: None,
        }
    }

    /// Follows a change of the interface key. An initiation in flight was
    /// made with the old key and can no longer complete, so it is dropped.
    pub fn set_local_identity(&mut self, local: &StaticIdentity) {
        self.static_static.zeroize();
        self.static_static = crypto::dh(&local.private, &self.remote_static).ok();
        self.local_public = local.public;
        self.clear();
    }

    pub fn set_psk(&mut self, psk: Option<[u8; KEY_LEN]>) {
        self.psk.zeroize();
        self.psk = psk.unwrap_or([0; KEY_LEN]);
    }

    /// The configured preshared key; `None` when unset (all zeros).
    pub fn psk(&self) -> Option<[u8; KEY_LEN]> {
        if crypto::ct_eq(&self.psk, &[0; KEY_LEN]) {
            None
        } else {
            Some(self.psk)
        }
    }

    pub fn remote_static(&self) -> &[u8; KEY_LEN] {
        &self.remote_static
    }

    /// Whether DH with this peer's key is usable at all.
    pub fn can_handshake(&self) -> bool {
        self.static_static.is_some()
    }

    /// Forgets an initiation in flight; replay and flood history is kept.
    pub fn clear(&mut self) {
        // Dropping `Pending` zeroizes it.
        self.state = State::Zeroed;
    }

    pub fn pending_local_index(&self) -> Option<u32> {
        match &self.state {
            State::InitiationSent(p) => Some(p.local_index),
            State::Zeroed => None,
        }
    }

    fn follow_identity(&mut self, local: &StaticIdentity) {
        if self.local_public != local.public {
            self.set_local_identity(local);
        }
    }

    fn static_static(&self) -> Result<Key> {
        self.static_static
            .map(Zeroizing::new)
            .ok_or(Error::BadPublicKey)
    }

    /// Writes a full 148-byte initiation with mac1/mac2 left zero
    /// (`cookie::CookieMaker` fills them) and remembers it as in flight,
    /// replacing any earlier one.
    pub fn create_initiation(
        &mut self,
        local: &StaticIdentity,
        local_index: u32,
        ephemeral_private: [u8; KEY_LEN],
        real_ns: u64,
        out: &mut [u8; INITIATION_LEN],
    ) -> Result<()> {
        self.follow_identity(local);
        let ss = self.static_static()?;
        let ephemeral_private = Zeroizing::new(ephemeral_private);
        let e = crypto::public_key(&ephemeral_private);

        let mut sym = Symmetric {
            ck: INITIAL_CHAINING_KEY,
            h: self.initiator_hash,
        };
        sym.mix_hash(&e);
        sym.mix_key(&e);
        let key = sym.mix_key_and_key(&dh(&ephemeral_private, &self.remote_static)?[..]);
        let mut enc_static = local.public;
        let static_tag = sym.seal_and_hash(&key, &mut enc_static);
        let key = sym.mix_key_and_key(&ss[..]);
        let mut enc_timestamp = tai64n(real_ns);
        let timestamp_tag = sym.seal_and_hash(&key, &mut enc_timestamp);

        out.fill(0);
        put(out, TYPE_OFF, &MSG_INITIATION.to_le_bytes())?;
        put(out, INITIATION_SENDER_OFF, &local_index.to_le_bytes())?;
        put(out, INITIATION_EPHEMERAL_OFF, &e)?;
        put(out, INITIATION_STATIC_OFF, &enc_static)?;
        put(out, STATIC_TAG_OFF, &static_tag)?;
        put(out, INITIATION_TIMESTAMP_OFF, &enc_timestamp)?;
        put(out, TIMESTAMP_TAG_OFF, &timestamp_tag)?;

        self.state = State::InitiationSent(Pending {
            local_index,
            ephemeral_private: *ephemeral_private,
            chaining_key: sym.ck,
            hash: sym.h,
        });
        Ok(())
    }

    /// Responder, second half: decrypts and checks the timestamp against
    /// replay and flooding, writes the response (MACs zero) and returns the
    /// session keys. Nothing is remembered unless everything verified.
    ///
    /// Like Linux, answering drops an initiation of ours in flight: both
    /// peers' handshakes share one state, and the session made here
    /// supersedes it.
    pub fn consume_initiation_and_respond(
        &mut self,
        local: &StaticIdentity,
        init: &ConsumedInitiation,
        local_index: u32,
        ephemeral_private: [u8; KEY_LEN],
        now: u64,
        out: &mut [u8; RESPONSE_LEN],
    ) -> Result<SessionKeys> {
        if init.local_public != local.public {
            return Err(Error::UnexpectedMessage);
        }
        if init.remote_static != self.remote_static {
            return Err(Error::UnknownPeer);
        }
        self.follow_identity(local);
        let ss = self.static_static()?;

        let mut sym = Symmetric {
            ck: init.chaining_key,
            h: init.hash,
        };
        let key = sym.mix_key_and_key(&ss[..]);
        let timestamp = sym.open_and_hash(&key, &init.encrypted_timestamp, &init.timestamp_tag)?;
        // Big-endian seconds then nanoseconds: byte order is time order.
        if *timestamp <= self.latest_timestamp {
            return Err(Error::ReplayedTimestamp);
        }
        if let Some(last) = self.last_initiation_consumed {
            if last.saturating_add(INITIATION_INTERVAL_NS) > now {
                return Err(Error::InitiationFlood);
            }
        }

        let ephemeral_private = Zeroizing::new(ephemeral_private);
        let e = crypto::public_key(&ephemeral_private);
        sym.mix_hash(&e);
        sym.mix_key(&e);
        sym.mix_key(&dh(&ephemeral_private, &init.remote_ephemeral)?[..]);
        sym.mix_key(&dh(&ephemeral_private, &self.remote_static)?[..]);
        let key = sym.mix_psk(&self.psk);
        let empty_tag = sym.seal_and_hash(&key, &mut []);
        let (recv, send) = sym.split();

        out.fill(0);
        put(out, TYPE_OFF, &MSG_RESPONSE.to_le_bytes())?;
        put(out, RESPONSE_SENDER_OFF, &local_index.to_le_bytes())?;
        put(out, RESPONSE_RECEIVER_OFF, &init.sender_index.to_le_bytes())?;
        put(out, RESPONSE_EPHEMERAL_OFF, &e)?;
        put(out, RESPONSE_EMPTY_OFF, &empty_tag)?;

        self.latest_timestamp = *timestamp;
        self.last_initiation_consumed = Some(now);
        self.clear();
        Ok(SessionKeys {
            send: *send,
            recv: *recv,
            local_index,
            remote_index: init.sender_index,
            is_initiator: false,
        })
    }

    /// Initiator: consumes the response to our initiation in flight and
    /// returns the session keys. A response that fails to verify leaves the
    /// initiation in flight, so a forged one cannot cancel the handshake.
    pub fn consume_response(
        &mut self,
        local: &StaticIdentity,
        msg: &[u8; RESPONSE_LEN],
    ) -> Result<SessionKeys> {
        check_type(msg, MSG_RESPONSE)?;
        let State::InitiationSent(pending) = &self.state else {
            return Err(Error::UnexpectedMessage);
        };
        if local.public != self.local_public {
            return Err(Error::UnexpectedMessage);
        }
        let receiver = read_u32(msg, RESPONSE_RECEIVER_OFF).ok_or(Error::BadLength)?;
        if receiver != pending.local_index {
            return Err(Error::UnknownIndex);
        }
        let sender = read_u32(msg, RESPONSE_SENDER_OFF).ok_or(Error::BadLength)?;
        let e: [u8; KEY_LEN] = field(msg, RESPONSE_EPHEMERAL_OFF)?;
        let empty_tag: [u8; TAG_LEN] = field(msg, RESPONSE_EMPTY_OFF)?;

        let mut sym = Symmetric {
            ck: pending.chaining_key,
            h: pending.hash,
        };
        sym.mix_hash(&e);
        sym.mix_key(&e);
        sym.mix_key(&dh(&pending.ephemeral_private, &e)?[..]);
        sym.mix_key(&dh(&local.private, &e)?[..]);
        let key = sym.mix_psk(&self.psk);
        sym.open_and_hash::<0>(&key, &[], &empty_tag)?;
        let (send, recv) = sym.split();

        let local_index = pending.local_index;
        self.clear();
        Ok(SessionKeys {
            send: *send,
            recv: *recv,
            local_index,
            remote_index: sender,
            is_initiator: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cookie::{CookieChecker, CookieMaker};
    use crate::messages::classify;

    const T0: u64 = 1_700_000_000 * NSEC;
    const MS: u64 = 1_000_000;

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
        p.ha.create_initiation(&p.a, index, key(0x10), real_ns, &mut m)
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
            p.hb.consume_initiation_and_respond(&p.b, &ci, 77, key(0x20), now, &mut r)?;
        Ok((keys, r))
    }

    #[test]
    fn initial_constants_match_their_definition() {
        assert_eq!(INITIAL_CHAINING_KEY, crypto::hash(&[CONSTRUCTION]));
        assert_eq!(
            INITIAL_HASH,
            crypto::hash(&[&INITIAL_CHAINING_KEY, IDENTIFIER])
        );
        assert_eq!(TIMESTAMP_GRANULARITY_NS, 1 << 24);
    }

    #[test]
    fn tai64n_encoding() {
        assert_eq!(tai64n(0), [0x40, 0, 0, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0]);
        // 1_700_000_000 = 0x6553f100; 123_456_789 ns rounds down to 7 * 2^24.
        let t = tai64n(1_700_000_000 * NSEC + 123_456_789);
        let mut want = [0u8; 12];
        want[..8].copy_from_slice(&((1u64 << 62) + 10 + 1_700_000_000).to_be_bytes());
        want[8..].copy_from_slice(&(7u32 << 24).to_be_bytes());
        assert_eq!(t, want);
        assert_eq!(&t[..8], &[0x40, 0, 0, 0, 0x65, 0x53, 0xf1, 0x0a]);
        // Within one granule the stamp does not move; across granules and
        // seconds it grows in byte order.
        assert_eq!(tai64n(T0), tai64n(T0 + (1 << 24) - 1));
        assert!(tai64n(T0 + (1 << 24)) > tai64n(T0));
        assert!(tai64n(T0 + NSEC) > tai64n(T0 + NSEC - 1));
        let last = tai64n(u64::MAX);
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
        maker_a.add_macs(&mut m, 0);
        let mut reply = [0u8; 64];
        checker_b
            .create_reply(&m, &src, 0, &secret, [3; 24], &mut reply)
            .unwrap();
        maker_a.consume_reply(&reply, 0).unwrap();

        let mut m = initiation(&mut p, 1, T0);
        maker_a.add_macs(&mut m, 0);
        let accepts_init =
            |c: &mut CookieChecker, hs: &mut Handshake, t: &[u8; 148], under_load: bool| {
                c.check_mac1(t)
                    && (!under_load || c.check_mac2(t, &src, 0, &secret))
                    && decrypt_initiation(&p.b, t).is_ok_and(|ci| {
                        let mut r = [0u8; 92];
                        hs.consume_initiation_and_respond(&p.b, &ci, 2, key(9), 0, &mut r)
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
        p.hb.consume_initiation_and_respond(&p.b, &ci, 2, key(9), 0, &mut r)
            .unwrap();
        maker_b.add_macs(&mut r, 0);
        let mut creply = [0u8; 64];
        checker_a
            .create_reply(&r, &src, 0, &secret, [4; 24], &mut creply)
            .unwrap();
        maker_b.consume_reply(&creply, 0).unwrap();
        // The response is rebuilt with mac2 now that B holds A's cookie.
        maker_b.add_macs(&mut r, 0);
        for i in 0..RESPONSE_LEN {
            let mut t = r;
            t[i] ^= 0x04;
            let ok = checker_a.check_mac1(&t)
                && checker_a.check_mac2(&t, &src, 0, &secret)
                && p.ha.consume_response(&p.a, &t).is_ok();
            assert!(!ok, "response byte {i}");
        }
        assert!(checker_a.check_mac1(&r) && checker_a.check_mac2(&r, &src, 0, &secret));
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
        p.hb.create_initiation(&p.b, 9, key(0x30), T0, &mut mb)
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
            hc.consume_initiation_and_respond(&p.b, &ci, 1, key(4), 0, &mut r)
                .unwrap_err(),
            Error::UnknownPeer
        );
        // Decrypted under one identity, finished under another.
        assert_eq!(
            p.hb.consume_initiation_and_respond(&c, &ci, 1, key(4), 0, &mut r)
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
            h.create_initiation(&a, 1, key(2), T0, &mut m).unwrap_err(),
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
        p.ha.create_initiation(&a2, 3, key(6), T0, &mut m).unwrap();
        let ci = decrypt_initiation(&p.b, &m).unwrap();
        assert_eq!(ci.remote_static(), &a2.public);
        // Passing another identity than the one the handshake knows makes it
        // follow, as set_local_identity would.
        let mut m = [0u8; INITIATION_LEN];
        p.ha.create_initiation(&p.a, 4, key(6), T0 + NSEC, &mut m)
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
}
