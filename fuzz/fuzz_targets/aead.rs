#![no_main]
// wg-aead (the kernel's vector ChaCha20-Poly1305) against ring, the
// reference: the same ciphertext and tag for any key, nonce, AAD and
// plaintext, sealed whole or split into pieces (an mbuf chain), each
// opening what the other sealed, and both refusing the same tampering.
//
// Input: 32 key bytes, 12 nonce bytes, one AAD length byte (mod 64), one
// byte of split control, one tamper byte, then AAD and plaintext.
use ring::aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey, CHACHA20_POLY1305};

fn ring_key(key: &[u8; 32]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, key).expect("32-byte key"))
}

/// Cuts `buf` at points derived from `ctl` (0 to 3 cuts, maybe empty pieces).
fn pieces(buf: &mut [u8], ctl: u8) -> Vec<&mut [u8]> {
    let n = buf.len();
    let mut cuts: Vec<usize> = (0..(ctl & 3) as usize)
        .map(|i| {
            if n == 0 {
                0
            } else {
                (ctl as usize * 131 + i * 977) % (n + 1)
            }
        })
        .collect();
    cuts.sort_unstable();
    let mut out = Vec::new();
    let mut rest = buf;
    let mut at = 0;
    for c in cuts {
        let (a, b) = rest.split_at_mut(c - at);
        out.push(a);
        rest = b;
        at = c;
    }
    out.push(rest);
    out
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if data.len() < 47 {
        return;
    }
    let key: [u8; 32] = data[..32].try_into().unwrap();
    let nonce: [u8; 12] = data[32..44].try_into().unwrap();
    let (aad_len, ctl, tamper) = (data[44] as usize % 64, data[45], data[46]);
    let rest = &data[47..];
    let aad = &rest[..aad_len.min(rest.len())];
    let pt = &rest[aad.len()..];

    let mut theirs = pt.to_vec();
    let rk = ring_key(&key);
    let rtag = rk
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut theirs,
        )
        .expect("ring seals");
    let rtag: [u8; 16] = rtag.as_ref().try_into().unwrap();

    let mut ours = pt.to_vec();
    let tag = wg_aead::seal(&key, &nonce, aad, &mut pieces(&mut ours, ctl));
    assert_eq!(tag, rtag, "tag differs from ring's");
    assert_eq!(ours, theirs, "ciphertext differs from ring's");

    // Tamper (or not): both must agree on whether it opens.
    let mut ct = ours.clone();
    let mut t = tag;
    match tamper % 3 {
        1 if !ct.is_empty() => {
            let i = tamper as usize * 7 % ct.len();
            ct[i] ^= 1 << (tamper % 8);
        }
        2 => t[tamper as usize % 16] ^= 1 << (tamper % 8),
        _ => {}
    }
    let mut theirs = ct.clone();
    let ring_ok = rk
        .open_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            Tag::from(t),
            &mut theirs,
            0..,
        )
        .is_ok();
    let ours_ok = wg_aead::open(
        &key,
        &nonce,
        aad,
        &mut pieces(&mut ct, ctl.rotate_left(3)),
        &t,
    );
    assert_eq!(ours_ok, ring_ok, "open disagrees with ring");
    if ours_ok {
        assert_eq!(ct, pt, "opened to other bytes");
        assert_eq!(theirs, pt);
    }
});
