//! Errors of the engine. Every input path returns one of these instead of
//! panicking; at the C boundary each maps to an errno.

use core::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    // Wire input.
    /// A datagram shorter or longer than its message type allows.
    BadLength,
    /// A datagram whose type field is not one of the four message types.
    UnknownMessageType,
    /// MAC1 did not verify: the sender does not know our public key.
    BadMac1,
    /// MAC2 missing or wrong while under load.
    BadMac2,
    /// An AEAD tag did not verify.
    DecryptFailed,
    /// A public key gives the zero point under X25519.
    BadPublicKey,
    /// The initiation's static key is not one of our peers.
    UnknownPeer,
    /// No session or handshake holds this receiver index.
    UnknownIndex,
    /// A handshake message that does not fit the handshake's state.
    UnexpectedMessage,
    /// A TAI64N timestamp not newer than the last one from this peer.
    ReplayedTimestamp,
    /// Initiations from this peer arrive faster than allowed.
    InitiationFlood,
    /// A data counter already seen, or too old for the window.
    ReplayedCounter,
    /// The session is past REJECT_AFTER_TIME or REJECT_AFTER_MESSAGES.
    SessionExpired,
    /// The decrypted packet's source address is not allowed for its peer.
    SourceNotAllowed,
    /// The decrypted packet is not a valid IPv4 or IPv6 packet.
    BadInnerPacket,
    /// No peer has an allowed IP that covers the packet's destination.
    NoRoute,
    /// The peer has no endpoint to send to.
    NoEndpoint,
    /// The caller's buffer lacks head- or tailroom for the transform.
    BufferTooSmall,

    // Configuration and resources.
    /// A value out of range or of the wrong shape (an endpoint of another
    /// family or length, a port of 0, a prefix length past the address).
    Invalid,
    /// The request itself is over a limit: its size or nesting, or more
    /// peers, or allowed IPs for one peer or in all, than a device may
    /// hold, in the one request. Also a packet too large to seal.
    TooBig,
    /// The request is within the limits, but applying it would leave the
    /// device holding more than they allow: peers, allowed IPs in all, or
    /// allowed IPs of one peer. Nothing was changed.
    Full,
    /// No such peer.
    NotFound,
    /// Already present.
    Exists,
    /// The allocator said no.
    NoMemory,
    /// The output does not fit the buffer the caller gave.
    NoSpace,
    /// Malformed serialized configuration (nvlist, UAPI text).
    BadMessage,
}

impl Error {
    /// The errno a FreeBSD or POSIX caller expects for this error.
    pub fn errno(self) -> i32 {
        use crate::errno::*;
        use Error::*;
        match self {
            BadLength | UnknownMessageType | BadInnerPacket => EINVAL,
            BadMac1 | BadMac2 | DecryptFailed | BadPublicKey | UnknownPeer => EAUTH,
            UnknownIndex | UnexpectedMessage | ReplayedTimestamp | ReplayedCounter => EAUTH,
            InitiationFlood => ENOBUFS,
            SessionExpired => EAUTH,
            SourceNotAllowed => EPERM,
            NoRoute => EHOSTUNREACH,
            NoEndpoint => EDESTADDRREQ,
            BufferTooSmall => EMSGSIZE,
            Invalid => EINVAL,
            TooBig => E2BIG,
            Full => ENOSPC,
            NotFound => ENOENT,
            Exists => EEXIST,
            NoMemory => ENOMEM,
            NoSpace => ENOSPC,
            BadMessage => EBADMSG,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

pub type Result<T> = core::result::Result<T, Error>;
