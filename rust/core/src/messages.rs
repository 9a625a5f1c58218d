//! The four WireGuard messages on the wire (whitepaper section 5.4).
//!
//! Every integer is little-endian. A message starts with a 32-bit type whose
//! upper three bytes are reserved zeros; checking the whole word (rather than
//! the first byte) is what makes a non-zero reserved byte an unknown type, as
//! in Linux and wireguard-go.

use crate::crypto::{KEY_LEN, MAC_LEN, TAG_LEN};
use crate::{Error, Result};

pub const MSG_INITIATION: u32 = 1;
pub const MSG_RESPONSE: u32 = 2;
pub const MSG_COOKIE_REPLY: u32 = 3;
pub const MSG_DATA: u32 = 4;

pub const TYPE_OFF: usize = 0;
pub const TYPE_LEN: usize = 4;
pub const INDEX_LEN: usize = 4;
pub const TIMESTAMP_LEN: usize = 12;
/// Both MACs close every handshake message, so they sit at the same distance
/// from its end whatever its type.
pub const MACS_LEN: usize = 2 * MAC_LEN;

// Handshake initiation.
pub const INITIATION_LEN: usize = 148;
pub const INITIATION_SENDER_OFF: usize = 4;
pub const INITIATION_EPHEMERAL_OFF: usize = 8;
pub const INITIATION_STATIC_OFF: usize = 40;
pub const INITIATION_STATIC_LEN: usize = KEY_LEN + TAG_LEN;
pub const INITIATION_TIMESTAMP_OFF: usize = 88;
pub const INITIATION_TIMESTAMP_LEN: usize = TIMESTAMP_LEN + TAG_LEN;
pub const INITIATION_MAC1_OFF: usize = 116;
pub const INITIATION_MAC2_OFF: usize = 132;

// Handshake response.
pub const RESPONSE_LEN: usize = 92;
pub const RESPONSE_SENDER_OFF: usize = 4;
pub const RESPONSE_RECEIVER_OFF: usize = 8;
pub const RESPONSE_EPHEMERAL_OFF: usize = 12;
pub const RESPONSE_EMPTY_OFF: usize = 44;
pub const RESPONSE_EMPTY_LEN: usize = TAG_LEN;
pub const RESPONSE_MAC1_OFF: usize = 60;
pub const RESPONSE_MAC2_OFF: usize = 76;

// Cookie reply.
pub const COOKIE_REPLY_LEN: usize = 64;
pub const COOKIE_REPLY_RECEIVER_OFF: usize = 4;
pub const COOKIE_REPLY_NONCE_OFF: usize = 8;
pub const COOKIE_REPLY_NONCE_LEN: usize = 24;
pub const COOKIE_REPLY_COOKIE_OFF: usize = 32;
pub const COOKIE_LEN: usize = 16;
pub const COOKIE_REPLY_COOKIE_LEN: usize = COOKIE_LEN + TAG_LEN;

// Transport data.
pub const DATA_RECEIVER_OFF: usize = 4;
pub const DATA_COUNTER_OFF: usize = 8;
pub const DATA_PAYLOAD_OFF: usize = 16;
pub const DATA_HEADER_LEN: usize = 16;
pub const DATA_TAG_LEN: usize = TAG_LEN;
/// A keepalive: a header and the tag of an empty plaintext.
pub const DATA_MIN_LEN: usize = DATA_HEADER_LEN + DATA_TAG_LEN;
/// Plaintexts are zero-padded to a multiple of this, which hides their
/// exact length (whitepaper section 5.4.6).
pub const DATA_PADDING: usize = 16;

// The layouts above must add up to the message lengths.
const _: () = assert!(INITIATION_MAC1_OFF == INITIATION_TIMESTAMP_OFF + INITIATION_TIMESTAMP_LEN);
const _: () = assert!(INITIATION_STATIC_OFF + INITIATION_STATIC_LEN == INITIATION_TIMESTAMP_OFF);
const _: () = assert!(INITIATION_MAC2_OFF + MAC_LEN == INITIATION_LEN);
const _: () = assert!(INITIATION_MAC1_OFF == INITIATION_LEN - MACS_LEN);
const _: () = assert!(RESPONSE_EMPTY_OFF + RESPONSE_EMPTY_LEN == RESPONSE_MAC1_OFF);
const _: () = assert!(RESPONSE_MAC2_OFF + MAC_LEN == RESPONSE_LEN);
const _: () = assert!(RESPONSE_MAC1_OFF == RESPONSE_LEN - MACS_LEN);
const _: () = assert!(COOKIE_REPLY_COOKIE_OFF + COOKIE_REPLY_COOKIE_LEN == COOKIE_REPLY_LEN);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    Initiation,
    Response,
    CookieReply,
    Data,
}

/// Identifies a datagram by its type word and checks that its length fits
/// that type, so later stages may rely on the fixed layouts.
pub fn classify(buf: &[u8]) -> Result<MessageType> {
    classify_head(buf, buf.len())
}

/// [`classify`] from the first bytes of a datagram of `len` bytes: what a
/// host's socket layer can tell before it copies or queues the datagram.
pub fn classify_head(head: &[u8], len: usize) -> Result<MessageType> {
    let ty = read_u32(head, TYPE_OFF).ok_or(Error::BadLength)?;
    let (kind, fits) = match ty {
        MSG_INITIATION => (MessageType::Initiation, len == INITIATION_LEN),
        MSG_RESPONSE => (MessageType::Response, len == RESPONSE_LEN),
        MSG_COOKIE_REPLY => (MessageType::CookieReply, len == COOKIE_REPLY_LEN),
        MSG_DATA => (MessageType::Data, len >= DATA_MIN_LEN),
        _ => return Err(Error::UnknownMessageType),
    };
    if fits {
        Ok(kind)
    } else {
        Err(Error::BadLength)
    }
}

/// The little-endian u32 at `off`, or `None` when `buf` is too short.
pub fn read_u32(buf: &[u8], off: usize) -> Option<u32> {
    let end = off.checked_add(4)?;
    let bytes: [u8; 4] = buf.get(off..end)?.try_into().ok()?;
    Some(u32::from_le_bytes(bytes))
}

/// The little-endian u64 at `off`, or `None` when `buf` is too short.
pub fn read_u64(buf: &[u8], off: usize) -> Option<u64> {
    let end = off.checked_add(8)?;
    let bytes: [u8; 8] = buf.get(off..end)?.try_into().ok()?;
    Some(u64::from_le_bytes(bytes))
}

/// The `N` bytes at `off` as an array, or `None` when `buf` is too short.
pub fn read_array<const N: usize>(buf: &[u8], off: usize) -> Option<[u8; N]> {
    let end = off.checked_add(N)?;
    buf.get(off..end)?.try_into().ok()
}

/// Copies `src` into `buf` at `off`. Returns false, writing nothing, when it
/// does not fit, so layout mistakes surface as errors rather than panics.
pub fn write_at(buf: &mut [u8], off: usize, src: &[u8]) -> bool {
    let Some(end) = off.checked_add(src.len()) else {
        return false;
    };
    match buf.get_mut(off..end) {
        Some(dst) => {
            dst.copy_from_slice(src);
            true
        }
        None => false,
    }
}

/// The index the sender chose for itself (initiation and response only):
/// what a cookie reply or a response must be addressed to.
pub fn sender_index(buf: &[u8]) -> Option<u32> {
    match classify(buf).ok()? {
        MessageType::Initiation => read_u32(buf, INITIATION_SENDER_OFF),
        MessageType::Response => read_u32(buf, RESPONSE_SENDER_OFF),
        MessageType::CookieReply | MessageType::Data => None,
    }
}

/// The index we chose for ourselves that a message is addressed to, which
/// is how a receiver finds the handshake or session; an initiation has none.
pub fn receiver_index(buf: &[u8]) -> Option<u32> {
    match classify(buf).ok()? {
        MessageType::Initiation => None,
        MessageType::Response => read_u32(buf, RESPONSE_RECEIVER_OFF),
        MessageType::CookieReply => read_u32(buf, COOKIE_REPLY_RECEIVER_OFF),
        MessageType::Data => read_u32(buf, DATA_RECEIVER_OFF),
    }
}

/// The nonce counter of a transport data message.
pub fn data_counter(buf: &[u8]) -> Option<u64> {
    match classify(buf).ok()? {
        MessageType::Data => read_u64(buf, DATA_COUNTER_OFF),
        _ => None,
    }
}

/// Fills the 16-byte header of a transport data message.
pub fn write_data_header(hdr: &mut [u8; DATA_HEADER_LEN], receiver: u32, counter: u64) {
    let (ty, rest) = hdr.split_at_mut(TYPE_LEN);
    let (idx, ctr) = rest.split_at_mut(INDEX_LEN);
    ty.copy_from_slice(&MSG_DATA.to_le_bytes());
    idx.copy_from_slice(&receiver.to_le_bytes());
    ctr.copy_from_slice(&counter.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(ty: u32, len: usize) -> std::vec::Vec<u8> {
        let mut v = std::vec![0u8; len];
        v[..4].copy_from_slice(&ty.to_le_bytes());
        v
    }

    #[test]
    fn classify_exact_lengths() {
        assert_eq!(classify(&msg(1, 148)), Ok(MessageType::Initiation));
        assert_eq!(classify(&msg(2, 92)), Ok(MessageType::Response));
        assert_eq!(classify(&msg(3, 64)), Ok(MessageType::CookieReply));
        assert_eq!(classify(&msg(4, 32)), Ok(MessageType::Data));
        assert_eq!(classify(&msg(4, 1500)), Ok(MessageType::Data));
        for (ty, len) in [(1, 148), (2, 92), (3, 64)] {
            assert_eq!(classify(&msg(ty, len - 1)), Err(Error::BadLength));
            assert_eq!(classify(&msg(ty, len + 1)), Err(Error::BadLength));
        }
        assert_eq!(classify(&msg(4, 31)), Err(Error::BadLength));
    }

    #[test]
    fn classify_head_judges_by_the_whole_length() {
        for (ty, len) in [(1u32, 148), (2, 92), (3, 64), (4, 32), (4, 9000)] {
            let head = ty.to_le_bytes();
            assert_eq!(classify_head(&head, len), classify(&msg(ty, len)));
            assert!(classify_head(&head, len + 1).is_ok() == (ty == 4));
        }
        assert_eq!(classify_head(&[4, 0, 0], 100), Err(Error::BadLength));
        assert_eq!(
            classify_head(&[5, 0, 0, 0], 100),
            Err(Error::UnknownMessageType)
        );
        // The reserved bytes are part of the type word.
        assert!(classify_head(&[1, 0, 0, 1], 148).is_err());
    }

    #[test]
    fn classify_rejects_unknown_types_and_short_input() {
        assert_eq!(classify(&[]), Err(Error::BadLength));
        assert_eq!(classify(&[1, 0, 0]), Err(Error::BadLength));
        assert_eq!(classify(&msg(0, 148)), Err(Error::UnknownMessageType));
        assert_eq!(classify(&msg(5, 148)), Err(Error::UnknownMessageType));
        for reserved in 1..4 {
            let mut m = msg(1, 148);
            m[reserved] = 1;
            assert_eq!(classify(&m), Err(Error::UnknownMessageType));
        }
    }

    #[test]
    fn classify_never_panics_on_any_prefix() {
        let m = msg(4, 200);
        for len in 0..m.len() {
            let _ = classify(&m[..len]);
            let _ = receiver_index(&m[..len]);
            let _ = data_counter(&m[..len]);
            let _ = sender_index(&m[..len]);
        }
    }

    #[test]
    fn indices_and_counter() {
        let mut r = msg(2, 92);
        r[4..8].copy_from_slice(&0x1111_2222u32.to_le_bytes());
        r[8..12].copy_from_slice(&0x3333_4444u32.to_le_bytes());
        assert_eq!(sender_index(&r), Some(0x1111_2222));
        assert_eq!(receiver_index(&r), Some(0x3333_4444));

        let mut i = msg(1, 148);
        i[4..8].copy_from_slice(&7u32.to_le_bytes());
        assert_eq!(sender_index(&i), Some(7));
        assert_eq!(receiver_index(&i), None);

        let mut c = msg(3, 64);
        c[4..8].copy_from_slice(&9u32.to_le_bytes());
        assert_eq!(receiver_index(&c), Some(9));
        assert_eq!(sender_index(&c), None);

        let mut d = std::vec![0u8; 48];
        let mut hdr = [0u8; 16];
        write_data_header(&mut hdr, 0xdead_beef, 0x0102_0304_0506_0708);
        assert_eq!(
            hdr,
            [4, 0, 0, 0, 0xef, 0xbe, 0xad, 0xde, 8, 7, 6, 5, 4, 3, 2, 1]
        );
        d[..16].copy_from_slice(&hdr);
        assert_eq!(classify(&d), Ok(MessageType::Data));
        assert_eq!(receiver_index(&d), Some(0xdead_beef));
        assert_eq!(data_counter(&d), Some(0x0102_0304_0506_0708));
        assert_eq!(data_counter(&r), None);
    }

    #[test]
    fn read_helpers_bounds() {
        assert_eq!(read_u32(&[1, 2, 3, 4], 0), Some(0x0403_0201));
        assert_eq!(read_u32(&[1, 2, 3, 4], 1), None);
        assert_eq!(read_u32(&[1, 2, 3, 4], usize::MAX), None);
        assert_eq!(read_u64(&[0; 8], usize::MAX - 3), None);
        assert_eq!(read_array::<2>(&[1, 2, 3], 1), Some([2, 3]));
        assert_eq!(read_array::<2>(&[1, 2, 3], 2), None);
        assert_eq!(read_array::<1>(&[1, 2, 3], usize::MAX), None);
        let mut b = [0u8; 4];
        assert!(write_at(&mut b, 2, &[7, 8]));
        assert_eq!(b, [0, 0, 7, 8]);
        assert!(!write_at(&mut b, 3, &[9, 9]));
        assert!(!write_at(&mut b, usize::MAX, &[9]));
        assert_eq!(b, [0, 0, 7, 8]);
    }
}
