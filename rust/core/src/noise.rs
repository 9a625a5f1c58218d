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

use crate::consts::INITIATIONS_PER_SECOND;
use crate::crypto::{self, HASH_LEN, KEY_LEN, TAG_LEN};
use crate::messages::{
    read_array, read_u32, write_at, INITIATION_EPHEMERAL_OFF, INITIATION_LEN,
    INITIATION_SENDER_OFF, INITIATION_STATIC_OFF, INITIATION_TIMESTAMP_OFF, MSG_INITIATION,
    MSG_RESPONSE, RESPONSE_EMPTY_OFF, RESPONSE_EPHEMERAL_OFF, RESPONSE_LEN, RESPONSE_RECEIVER_OFF,
    RESPONSE_SENDER_OFF, TIMESTAMP_LEN, TYPE_OFF,
};
use crate::time::{Duration, Instant, WallTime};
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
const TIMESTAMP_GRANULARITY: Duration = INITIATION_INTERVAL.round_down_pow2();

/// Shortest allowed interval between two accepted initiations from one peer.
const INITIATION_INTERVAL: Duration = Duration::SECOND.div(INITIATIONS_PER_SECOND);

/// Encodes `real` as the TAI64N label of an initiation: 8 bytes of
/// big-endian seconds, 4 of big-endian nanoseconds.
pub fn tai64n(real: WallTime) -> [u8; TIMESTAMP_LEN] {
    let since = real.since_epoch();
    // The nanoseconds are rounded down within their second.
    let nanos = Duration::from_nanos(since.subsec_nanos().into()).floor_pow2(TIMESTAMP_GRANULARITY);
    let mut out = [0u8; TIMESTAMP_LEN];
    let (s, n) = out.split_at_mut(8);
    // u64::MAX ns is about 1.8e10 s, far below 2^62: no overflow.
    s.copy_from_slice(&(TAI64_EPOCH + since.as_secs()).to_be_bytes());
    n.copy_from_slice(&nanos.subsec_nanos().to_be_bytes());
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
    last_initiation_consumed: Option<Instant>,
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
        real: WallTime,
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
        let mut enc_timestamp = tai64n(real);
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
        now: Instant,
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
            if !last.has_aged(INITIATION_INTERVAL, now) {
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
mod tests;
