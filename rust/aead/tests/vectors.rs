//! wg-aead against RFC 8439, Wycheproof, ring and RustCrypto: every length
//! 0..2048, split buffers, the C entry points, tampering.

use ring::aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey, CHACHA20_POLY1305};
use wg_aead::{open, seal, wg_aead_simd_open, wg_aead_simd_seal, WgAeadSeg};

fn h(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A deterministic byte pattern (no RNG: the tests stay reproducible).
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn ring_seal(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> [u8; 16] {
    let k = LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, key).unwrap());
    let t = k
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key(*nonce), Aad::from(aad), buf)
        .unwrap();
    t.as_ref().try_into().unwrap()
}

fn ring_open(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], buf: &mut [u8], tag: &[u8; 16]) -> bool {
    let k = LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, key).unwrap());
    k.open_in_place_separate_tag(
        Nonce::assume_unique_for_key(*nonce),
        Aad::from(aad),
        Tag::from(*tag),
        buf,
        0..,
    )
    .is_ok()
}

/// RFC 8439 section 2.8.2.
#[test]
fn rfc8439_2_8_2() {
    let key: [u8; 32] = h("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
        .try_into()
        .unwrap();
    let nonce: [u8; 12] = h("070000004041424344454647").try_into().unwrap();
    let aad = h("50515253c0c1c2c3c4c5c6c7");
    let pt = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
    let ct = h(
        "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6
        3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36
        92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc
        3ff4def08e4b7a9de576d26586cec64b6116",
    );
    let tag: [u8; 16] = h("1ae10b594f09e26a7e902ecbd0600691").try_into().unwrap();
    let mut buf = pt.to_vec();
    assert_eq!(seal(&key, &nonce, &aad, &mut [&mut buf[..]]), tag);
    assert_eq!(buf, ct);
    assert!(open(&key, &nonce, &aad, &mut [&mut buf[..]], &tag));
    assert_eq!(&buf[..], &pt[..]);
    // Split at every point: same bytes.
    for cut in 0..=pt.len() {
        let mut buf = pt.to_vec();
        let (a, b) = buf.split_at_mut(cut);
        assert_eq!(seal(&key, &nonce, &aad, &mut [a, b]), tag);
        assert_eq!(buf, ct);
    }
}

/// Every ChaCha20-Poly1305 test of Wycheproof: valid ones seal to the
/// expected bytes and open; invalid ones (modified tags, ciphertexts) do
/// not open. Nonce sizes other than 12 are not ours to take.
#[test]
fn wycheproof() {
    use wycheproof::aead::{TestName, TestSet};
    use wycheproof::TestResult;
    let set = TestSet::load(TestName::ChaCha20Poly1305).unwrap();
    let mut n = 0;
    for g in &set.test_groups {
        if g.nonce_size != 96 || g.key_size != 256 || g.tag_size != 128 {
            continue;
        }
        for t in &g.tests {
            let key: [u8; 32] = t.key.as_ref().try_into().unwrap();
            let nonce: [u8; 12] = t.nonce.as_ref().try_into().unwrap();
            let tag: [u8; 16] = t.tag.as_ref().try_into().unwrap();
            let mut buf = t.ct.to_vec();
            let ok = open(&key, &nonce, &t.aad, &mut [&mut buf[..]], &tag);
            match t.result {
                TestResult::Valid => {
                    assert!(ok, "tc {}", t.tc_id);
                    assert_eq!(&buf[..], &t.pt[..], "tc {}", t.tc_id);
                    let mut buf = t.pt.to_vec();
                    assert_eq!(seal(&key, &nonce, &t.aad, &mut [&mut buf[..]]), tag);
                    assert_eq!(&buf[..], &t.ct[..], "tc {}", t.tc_id);
                }
                TestResult::Invalid => assert!(!ok, "tc {}", t.tc_id),
                TestResult::Acceptable => {}
            }
            n += 1;
        }
    }
    assert!(n > 250, "only {n} Wycheproof tests ran");
}

/// Tags and ciphertexts equal ring's and RustCrypto's on every length
/// 0..2048, with and without AAD; then open, and a flipped bit is refused.
#[test]
fn every_length_against_ring() {
    for len in 0..2048usize {
        let key: [u8; 32] = pattern(32, len as u64).try_into().unwrap();
        let nonce: [u8; 12] = pattern(12, !(len as u64)).try_into().unwrap();
        let aad = pattern(len % 37, len as u64 + 7);
        let pt = pattern(len, len as u64 + 1);
        let mut ours = pt.clone();
        let t = seal(&key, &nonce, &aad, &mut [&mut ours[..]]);
        let mut theirs = pt.clone();
        assert_eq!(t, ring_seal(&key, &nonce, &aad, &mut theirs), "len {len}");
        assert_eq!(ours, theirs, "len {len}");
        let mut rc = pt.clone();
        assert_eq!(
            t,
            wg_aead::rustcrypto::seal(&key, &nonce, &aad, &mut [&mut rc[..]])
        );
        assert!(ring_open(&key, &nonce, &aad, &mut theirs, &t));
        assert!(open(&key, &nonce, &aad, &mut [&mut ours[..]], &t));
        assert_eq!(ours, pt);
        let mut bad = t;
        bad[len % 16] ^= 1 << (len % 8);
        let mut again = pt.clone();
        seal(&key, &nonce, &aad, &mut [&mut again[..]]);
        assert!(!open(&key, &nonce, &aad, &mut [&mut again[..]], &bad));
        if len > 0 {
            let mut again = pt.clone();
            seal(&key, &nonce, &aad, &mut [&mut again[..]]);
            again[len / 2] ^= 0x80;
            assert!(!open(&key, &nonce, &aad, &mut [&mut again[..]], &t));
        }
    }
}

/// mbuf-chain-like split buffers: pieces of uneven lengths (1, 15, 17, 63,
/// 65, 511, 513 ... bytes, empty ones too) give the bytes of one piece.
#[test]
fn split_buffers() {
    let cuts: &[usize] = &[0, 1, 15, 16, 17, 63, 64, 65, 100, 448, 511, 512, 513];
    for len in [0usize, 1, 64, 447, 448, 449, 960, 1420, 1500, 2047] {
        let key: [u8; 32] = pattern(32, 99 + len as u64).try_into().unwrap();
        let nonce = [7u8; 12];
        let pt = pattern(len, len as u64);
        let mut whole = pt.clone();
        let t = ring_seal(&key, &nonce, b"hdr", &mut whole);
        for (i, &a) in cuts.iter().enumerate() {
            for &b in &cuts[i..] {
                let (a, b) = (a.min(len), b.min(len));
                let mut buf = pt.clone();
                let (p0, rest) = buf.split_at_mut(a);
                let (p1, p2) = rest.split_at_mut(b - a);
                let (p1a, p1b) = p1.split_at_mut(0);
                assert_eq!(seal(&key, &nonce, b"hdr", &mut [p0, p1a, p1b, p2]), t);
                assert_eq!(buf, whole, "len {len} cuts {a} {b}");
                let (p0, rest) = buf.split_at_mut(a);
                let (p1, p2) = rest.split_at_mut(b - a);
                assert!(open(&key, &nonce, b"hdr", &mut [p0, p1, p2], &t));
                assert_eq!(buf, pt);
            }
        }
    }
}

/// The C entry points (what the kernel calls): one piece and three, a bad
/// tag, and refused arguments.
#[test]
fn c_entry_points() {
    let key = [3u8; 32];
    let nonce = [5u8; 12];
    let pt = pattern(1420, 3);
    let mut expect = pt.clone();
    let t = ring_seal(&key, &nonce, &[], &mut expect);
    let mut buf = pt.clone();
    let (a, rest) = buf.split_at_mut(100);
    let (b, c) = rest.split_at_mut(700);
    let segs = [
        WgAeadSeg {
            ptr: a.as_mut_ptr(),
            len: a.len(),
        },
        WgAeadSeg {
            ptr: b.as_mut_ptr(),
            len: b.len(),
        },
        WgAeadSeg {
            ptr: c.as_mut_ptr(),
            len: c.len(),
        },
    ];
    let mut tag = [0u8; 16];
    // SAFETY: every pointer names live memory of the length given.
    let r = unsafe {
        wg_aead_simd_seal(
            key.as_ptr(),
            nonce.as_ptr(),
            std::ptr::null(),
            0,
            segs.as_ptr(),
            3,
            tag.as_mut_ptr(),
        )
    };
    assert_eq!(r, 0);
    assert_eq!(tag, t);
    assert_eq!(buf, expect);
    let seg = WgAeadSeg {
        ptr: buf.as_mut_ptr(),
        len: buf.len(),
    };
    let mut bad = t;
    bad[0] ^= 1;
    // SAFETY: as above.
    unsafe {
        assert_eq!(
            wg_aead_simd_open(
                key.as_ptr(),
                nonce.as_ptr(),
                std::ptr::null(),
                0,
                &seg,
                1,
                bad.as_ptr()
            ),
            -1
        );
        // A failed open may have decrypted in place: seal again first.
    }
    let mut buf = expect.clone();
    let seg = WgAeadSeg {
        ptr: buf.as_mut_ptr(),
        len: buf.len(),
    };
    // SAFETY: as above.
    unsafe {
        assert_eq!(
            wg_aead_simd_open(
                key.as_ptr(),
                nonce.as_ptr(),
                std::ptr::null(),
                0,
                &seg,
                1,
                t.as_ptr()
            ),
            0
        );
    }
    assert_eq!(buf, pt);
    let null_seg = WgAeadSeg {
        ptr: std::ptr::null_mut(),
        len: 5,
    };
    // SAFETY: the entry points refuse NULL with a length before reading.
    unsafe {
        assert_eq!(
            wg_aead_simd_seal(
                key.as_ptr(),
                nonce.as_ptr(),
                std::ptr::null(),
                0,
                &null_seg,
                1,
                tag.as_mut_ptr()
            ),
            -1
        );
        assert_eq!(
            wg_aead_simd_seal(
                key.as_ptr(),
                nonce.as_ptr(),
                std::ptr::null(),
                3,
                &seg,
                1,
                tag.as_mut_ptr()
            ),
            -1
        );
        assert_eq!(
            wg_aead_simd_seal(
                std::ptr::null(),
                nonce.as_ptr(),
                std::ptr::null(),
                0,
                &seg,
                1,
                tag.as_mut_ptr()
            ),
            -1
        );
        assert_eq!(
            wg_aead_simd_seal(
                key.as_ptr(),
                nonce.as_ptr(),
                std::ptr::null(),
                0,
                segs.as_ptr(),
                wg_aead::MAX_SEGS + 1,
                tag.as_mut_ptr()
            ),
            -1
        );
    }
}
