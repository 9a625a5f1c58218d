//! WireGuard's 32-byte keys as text (the 44-character base64 form `wg`
//! prints and reads) and fresh random keys. (The UAPI protocol's hex form
//! is wg-core's business.)
//!
//! Decoding accepts exactly what wireguard-tools accepts: 43 alphabet
//! characters and a final `=`, with the unused low bits of the last
//! character zero, so every key has one spelling. The codecs avoid
//! branching and table lookups on key bytes because they run on secrets.

use std::io;

pub use wg_core::config::Key;

pub const KEY_LEN: usize = 32;
/// Characters in a base64 key, padding included.
pub const KEY_B64_LEN: usize = 44;

/// All ones when `lo <= c <= hi`, else zero; no branch on `c`.
fn in_range(c: i32, lo: i32, hi: i32) -> i32 {
    // Both differences are negative exactly when c is inside the range,
    // and then the sign bit survives the AND and the shift smears it.
    ((lo - 1 - c) & (c - hi - 1)) >> 31
}

/// The alphabet character of a 6-bit value.
fn b64_char(v: u8) -> u8 {
    let v = i32::from(v);
    let mut c = v + i32::from(b'A');
    // Each step moves the values at or above a boundary onto the next run
    // of the alphabet: a-z, then 0-9, then '+', then '/'.
    c += in_range(v, 26, 63) & 6;
    c -= in_range(v, 52, 63) & 75;
    c -= in_range(v, 62, 63) & 15;
    c += in_range(v, 63, 63) & 3;
    (c & 0xff) as u8
}

/// The 6-bit value of an alphabet character, or -1.
fn b64_value(c: u8) -> i32 {
    let c = i32::from(c);
    let upper = in_range(c, i32::from(b'A'), i32::from(b'Z'));
    let lower = in_range(c, i32::from(b'a'), i32::from(b'z'));
    let digit = in_range(c, i32::from(b'0'), i32::from(b'9'));
    let plus = in_range(c, i32::from(b'+'), i32::from(b'+'));
    let slash = in_range(c, i32::from(b'/'), i32::from(b'/'));
    let value = (upper & (c - i32::from(b'A')))
        | (lower & (c - i32::from(b'a') + 26))
        | (digit & (c - i32::from(b'0') + 52))
        | (plus & 62)
        | (slash & 63);
    let valid = upper | lower | digit | plus | slash;
    value | !valid
}

pub fn to_base64(key: &Key) -> String {
    let mut out = Vec::with_capacity(KEY_B64_LEN);
    // 32 bytes are ten full groups of three and a final pair.
    for chunk in key.chunks(3) {
        let b0 = chunk.first().copied().unwrap_or(0);
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        out.push(b64_char(b0 >> 2));
        out.push(b64_char(((b0 << 4) | (b1 >> 4)) & 63));
        out.push(b64_char(((b1 << 2) | (b2 >> 6)) & 63));
        if chunk.len() == 3 {
            out.push(b64_char(b2 & 63));
        }
    }
    out.push(b'=');
    out.into_iter().map(char::from).collect()
}

/// The key a base64 string spells, or None for anything wg would reject.
pub fn from_base64(text: &[u8]) -> Option<Key> {
    if text.len() != KEY_B64_LEN || text[KEY_B64_LEN - 1] != b'=' {
        return None;
    }
    let mut key = [0u8; KEY_LEN];
    let mut bad = 0i32;
    for (group, out) in text[..40].chunks(4).zip(key.chunks_mut(3)) {
        let mut bits = 0i32;
        for &c in group {
            let v = b64_value(c);
            bad |= v;
            bits = (bits << 6) | (v & 63);
        }
        out[0] = (bits >> 16) as u8;
        out[1] = (bits >> 8) as u8;
        out[2] = bits as u8;
    }
    let (v0, v1, v2) = (
        b64_value(text[40]),
        b64_value(text[41]),
        b64_value(text[42]),
    );
    bad |= v0 | v1 | v2;
    // The last character carries four bits of key and two that must be zero.
    bad |= -(v2 & 3);
    let bits = ((v0 & 63) << 12) | ((v1 & 63) << 6) | (v2 & 63);
    key[30] = (bits >> 10) as u8;
    key[31] = (bits >> 2) as u8;
    // `bad` is negative iff some character was invalid or non-canonical.
    if bad < 0 {
        None
    } else {
        Some(key)
    }
}

pub fn is_zero(key: &Key) -> bool {
    key.iter().fold(0u8, |acc, &b| acc | b) == 0
}

/// 32 bytes from the kernel's random source.
pub fn random_key() -> io::Result<Key> {
    let mut key = [0u8; KEY_LEN];
    let mut filled = 0;
    while filled < KEY_LEN {
        let rest = &mut key[filled..];
        // SAFETY: the pointer and length describe `rest`, a live, writable
        // buffer that getrandom fills at most `rest.len()` bytes of.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        filled += n.unsigned_abs();
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7748's Alice private key and its public key, in wg's base64.
    const ALICE_PRIV: &str = "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=";
    const ALICE_PUB: &str = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";

    #[test]
    fn base64_round_trips_every_byte_value() {
        for start in 0..=255u8 {
            let mut key = [0u8; 32];
            for (i, b) in key.iter_mut().enumerate() {
                *b = start.wrapping_add((i as u8).wrapping_mul(37));
            }
            let text = to_base64(&key);
            assert_eq!(text.len(), KEY_B64_LEN);
            assert_eq!(from_base64(text.as_bytes()), Some(key));
        }
    }

    #[test]
    fn base64_matches_known_encodings() {
        assert_eq!(
            to_base64(&[0; 32]),
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
        );
        assert_eq!(
            to_base64(&[0xff; 32]),
            "//////////////////////////////////////////8="
        );
        let key = from_base64(ALICE_PRIV.as_bytes()).unwrap();
        assert_eq!(key[0], 0x77);
        assert_eq!(key[31], 0x2a);
        assert_eq!(to_base64(&wg_core::crypto::public_key(&key)), ALICE_PUB);
    }

    #[test]
    fn base64_rejects_what_wg_rejects() {
        let good = ALICE_PRIV.as_bytes();
        assert!(from_base64(&good[..43]).is_none(), "short");
        assert!(from_base64(&[good, b"A"].concat()).is_none(), "long");
        let mut no_pad = good.to_vec();
        no_pad[43] = b'A';
        assert!(from_base64(&no_pad).is_none(), "no padding");
        // Non-canonical: the last character's two spare bits are set.
        assert!(from_base64(b"ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ=").is_none());
        assert!(from_base64(b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=").is_none());
        assert!(from_base64(b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE=").is_some());
        for bad in [
            b'=', b'-', b'_', b' ', 0u8, 0x80, 0xff, b'@', b'[', b'`', b'{', b':',
        ] {
            for pos in [0, 17, 39, 40, 42] {
                let mut t = good.to_vec();
                t[pos] = bad;
                assert!(from_base64(&t).is_none(), "byte {bad:#x} at {pos}");
            }
        }
    }

    #[test]
    fn random_keys_differ() {
        let a = random_key().unwrap();
        let b = random_key().unwrap();
        assert_ne!(a, b);
        assert!(!is_zero(&a));
        assert!(is_zero(&[0; 32]));
    }
}
