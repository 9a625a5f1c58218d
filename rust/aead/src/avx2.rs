//! ChaCha20 (RFC 8439 section 2.4), eight blocks at once in AVX2 registers
//! (one 32-bit lane per block), with Poly1305 fused into the same pass: the
//! scalar MAC of one 512-byte chunk runs on the integer units between the
//! vector rounds that make the next chunk's keystream (`gen`), so the two
//! overlap instead of taking turns over the data.
//!
//! Every function here is `#[target_feature(enable = "avx2")]`: in the
//! kernel object the whole crate is compiled for AVX2 anyway; in userspace
//! builds lib.rs calls them only after CPUID said AVX2.

#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::*;

use crate::poly::Mac;

pub const CHUNK: usize = 512;

/// The ChaCha20 state words that do not change between chunks.
pub struct Cipher {
    key: [u32; 8],
    nonce: [u32; 3],
}

impl Cipher {
    pub fn new(key: &[u8; 32], nonce: &[u8; 12]) -> Cipher {
        let mut k = [0u32; 8];
        for (w, b) in k.iter_mut().zip(key.chunks_exact(4)) {
            *w = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
        let mut n = [0u32; 3];
        for (w, b) in n.iter_mut().zip(nonce.chunks_exact(4)) {
            *w = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
        Cipher { key: k, nonce: n }
    }

    pub fn wipe(&mut self) {
        for w in self.key.iter_mut() {
            // SAFETY: a valid, exclusive reference to a u32.
            unsafe { core::ptr::write_volatile(w, 0) };
        }
    }
}

/// The byte shuffles of the 16- and 8-bit rotations, kept opaque to the
/// compiler (black_box): seeing them as constants, LLVM rewrote
/// rot8(d ^ a) as rot8(d) ^ rot8(a) and rot16 as two word shuffles, twice
/// the shuffles on the ports the shifts also need (Zen 1: the bottleneck).
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn rot_masks() -> (__m256i, __m256i) {
    let m16 = _mm256_set_epi8(
        13, 12, 15, 14, 9, 8, 11, 10, 5, 4, 7, 6, 1, 0, 3, 2, 13, 12, 15, 14, 9, 8, 11, 10, 5, 4,
        7, 6, 1, 0, 3, 2,
    );
    let m8 = _mm256_set_epi8(
        14, 13, 12, 15, 10, 9, 8, 11, 6, 5, 4, 7, 2, 1, 0, 3, 14, 13, 12, 15, 10, 9, 8, 11, 6, 5,
        4, 7, 2, 1, 0, 3,
    );
    (core::hint::black_box(m16), core::hint::black_box(m8))
}

#[inline]
#[target_feature(enable = "avx2")]
unsafe fn rot12(x: __m256i) -> __m256i {
    _mm256_or_si256(_mm256_slli_epi32(x, 12), _mm256_srli_epi32(x, 20))
}

#[inline]
#[target_feature(enable = "avx2")]
unsafe fn rot7(x: __m256i) -> __m256i {
    _mm256_or_si256(_mm256_slli_epi32(x, 7), _mm256_srli_epi32(x, 25))
}

#[inline]
#[target_feature(enable = "avx2")]
unsafe fn qr(x: &mut [__m256i; 16], m: (__m256i, __m256i), a: usize, b: usize, c: usize, d: usize) {
    x[a] = _mm256_add_epi32(x[a], x[b]);
    x[d] = _mm256_shuffle_epi8(_mm256_xor_si256(x[d], x[a]), m.0);
    x[c] = _mm256_add_epi32(x[c], x[d]);
    x[b] = rot12(_mm256_xor_si256(x[b], x[c]));
    x[a] = _mm256_add_epi32(x[a], x[b]);
    x[d] = _mm256_shuffle_epi8(_mm256_xor_si256(x[d], x[a]), m.1);
    x[c] = _mm256_add_epi32(x[c], x[d]);
    x[b] = rot7(_mm256_xor_si256(x[b], x[c]));
}

/// 8x8 transpose of 32-bit words: `r[i]` lane j becomes `r[j]` lane i.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn transpose(r: [__m256i; 8]) -> [__m256i; 8] {
    let t0 = _mm256_unpacklo_epi32(r[0], r[1]);
    let t1 = _mm256_unpackhi_epi32(r[0], r[1]);
    let t2 = _mm256_unpacklo_epi32(r[2], r[3]);
    let t3 = _mm256_unpackhi_epi32(r[2], r[3]);
    let t4 = _mm256_unpacklo_epi32(r[4], r[5]);
    let t5 = _mm256_unpackhi_epi32(r[4], r[5]);
    let t6 = _mm256_unpacklo_epi32(r[6], r[7]);
    let t7 = _mm256_unpackhi_epi32(r[6], r[7]);
    let u0 = _mm256_unpacklo_epi64(t0, t2);
    let u1 = _mm256_unpackhi_epi64(t0, t2);
    let u2 = _mm256_unpacklo_epi64(t1, t3);
    let u3 = _mm256_unpackhi_epi64(t1, t3);
    let u4 = _mm256_unpacklo_epi64(t4, t6);
    let u5 = _mm256_unpackhi_epi64(t4, t6);
    let u6 = _mm256_unpacklo_epi64(t5, t7);
    let u7 = _mm256_unpackhi_epi64(t5, t7);
    [
        _mm256_permute2x128_si256(u0, u4, 0x20),
        _mm256_permute2x128_si256(u1, u5, 0x20),
        _mm256_permute2x128_si256(u2, u6, 0x20),
        _mm256_permute2x128_si256(u3, u7, 0x20),
        _mm256_permute2x128_si256(u0, u4, 0x31),
        _mm256_permute2x128_si256(u1, u5, 0x31),
        _mm256_permute2x128_si256(u2, u6, 0x31),
        _mm256_permute2x128_si256(u3, u7, 0x31),
    ]
}

/// Keystream blocks `ctr..ctr + 8` into `ks`; meanwhile the whole 16-byte
/// blocks of `mac_in` go through `mac` (which must hold no partial block).
///
/// # Safety
/// The CPU has AVX2.
#[inline]
pub unsafe fn gen(c: &Cipher, ctr: u32, ks: &mut [u8; CHUNK], mac: &mut Mac, mac_in: &[u8]) {
    blocks8(c, ctr, ks.as_mut_ptr(), false, mac, mac_in)
}

/// As [`gen`], but XORs the keystream straight into the CHUNK bytes at
/// `data` (a whole chunk) instead of storing it: no round trip through a
/// buffer. `mac_in` may be those same bytes (open: the MAC reads the
/// ciphertext during the rounds, before the XOR writes it).
///
/// # Safety
/// The CPU has AVX2; `data` is valid for CHUNK bytes of reads and writes
/// and `mac_in` is not written through anything but `data` meanwhile.
#[inline]
pub unsafe fn gen_xor(c: &Cipher, ctr: u32, data: *mut u8, mac: &mut Mac, mac_in: &[u8]) {
    blocks8(c, ctr, data, true, mac, mac_in)
}

/// Eight keystream blocks, stored at `out` or XORed into it (CHUNK bytes).
/// Never inlined: its callers' frames stay small for the kernel stack, and
/// kbuild/fpu-allow.txt names a stable function.
///
/// # Safety
/// The CPU has AVX2; `out` is valid for CHUNK bytes (read too if `xor`).
#[inline(never)]
#[target_feature(enable = "avx2")]
unsafe fn blocks8(c: &Cipher, ctr: u32, out: *mut u8, xor: bool, mac: &mut Mac, mac_in: &[u8]) {
    let s = |v: u32| _mm256_set1_epi32(v as i32);
    let ctrs = _mm256_add_epi32(s(ctr), _mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0));
    let init = [
        s(0x6170_7865),
        s(0x3320_646e),
        s(0x7962_2d32),
        s(0x6b20_6574),
        s(c.key[0]),
        s(c.key[1]),
        s(c.key[2]),
        s(c.key[3]),
        s(c.key[4]),
        s(c.key[5]),
        s(c.key[6]),
        s(c.key[7]),
        ctrs,
        s(c.nonce[0]),
        s(c.nonce[1]),
        s(c.nonce[2]),
    ];
    let mut x = init;
    let m = rot_masks();
    // The MAC's blocks spread evenly over the 10 double rounds.
    let mut rest = &mac_in[..mac_in.len() & !15];
    let step = rest.len().div_ceil(160) * 16;
    for _ in 0..10 {
        let (now, later) = rest.split_at(rest.len().min(step));
        mac.poly.blocks(now);
        rest = later;
        qr(&mut x, m, 0, 4, 8, 12);
        qr(&mut x, m, 1, 5, 9, 13);
        qr(&mut x, m, 2, 6, 10, 14);
        qr(&mut x, m, 3, 7, 11, 15);
        qr(&mut x, m, 0, 5, 10, 15);
        qr(&mut x, m, 1, 6, 11, 12);
        qr(&mut x, m, 2, 7, 8, 13);
        qr(&mut x, m, 3, 4, 9, 14);
    }
    mac.poly.blocks(rest);
    for (xi, ii) in x.iter_mut().zip(init.iter()) {
        *xi = _mm256_add_epi32(*xi, *ii);
    }
    let lo = transpose([x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]]);
    let hi = transpose([x[8], x[9], x[10], x[11], x[12], x[13], x[14], x[15]]);
    for j in 0..8 {
        // SAFETY: 64 * j + 64 <= CHUNK bytes at `out`; unaligned access.
        let a = out.add(64 * j).cast::<__m256i>();
        let b = out.add(64 * j + 32).cast::<__m256i>();
        if xor {
            _mm256_storeu_si256(a, _mm256_xor_si256(_mm256_loadu_si256(a), lo[j]));
            _mm256_storeu_si256(b, _mm256_xor_si256(_mm256_loadu_si256(b), hi[j]));
        } else {
            _mm256_storeu_si256(a, lo[j]);
            _mm256_storeu_si256(b, hi[j]);
        }
    }
}

/// `data ^= ks[..data.len()]`.
///
/// # Safety
/// The CPU has AVX2; `data.len() <= ks.len()`.
#[target_feature(enable = "avx2")]
pub unsafe fn xor(data: &mut [u8], ks: &[u8]) {
    let n = data.len().min(ks.len());
    let mut i = 0;
    let d = data.as_mut_ptr();
    let k = ks.as_ptr();
    while i + 32 <= n {
        // SAFETY: i + 32 <= n, within both slices; unaligned access.
        let v = _mm256_xor_si256(
            _mm256_loadu_si256(d.add(i).cast()),
            _mm256_loadu_si256(k.add(i).cast()),
        );
        _mm256_storeu_si256(d.add(i).cast(), v);
        i += 32;
    }
    while i < n {
        *d.add(i) ^= *k.add(i);
        i += 1;
    }
}

/// The keystream as a stream over pieces of any length (the split-buffer
/// path): 512 bytes at a time, with a read position.
pub struct Stream<'a> {
    c: &'a Cipher,
    ks: [u8; CHUNK],
    pos: usize,
    ctr: u32,
}

impl<'a> Stream<'a> {
    /// Generates blocks 0..8: the Poly1305 key is block 0's first 32 bytes,
    /// the message starts at block 1.
    ///
    /// # Safety
    /// The CPU has AVX2.
    #[target_feature(enable = "avx2")]
    pub unsafe fn start(c: &'a Cipher) -> (Stream<'a>, Mac) {
        let mut st = Stream {
            c,
            ks: [0; CHUNK],
            pos: 64,
            ctr: 8,
        };
        let mut none = Mac::new(&[0; 32]);
        gen(c, 0, &mut st.ks, &mut none, &[]);
        let mut otk = [0u8; 32];
        otk.copy_from_slice(&st.ks[..32]);
        let mac = Mac::new(&otk);
        crate::wipe(&mut otk);
        (st, mac)
    }

    /// # Safety
    /// The CPU has AVX2.
    #[target_feature(enable = "avx2")]
    pub unsafe fn apply(&mut self, mut data: &mut [u8]) {
        while !data.is_empty() {
            if self.pos == CHUNK {
                let mut none = Mac::new(&[0; 32]);
                gen(self.c, self.ctr, &mut self.ks, &mut none, &[]);
                self.ctr = self.ctr.wrapping_add(8);
                self.pos = 0;
            }
            let n = (CHUNK - self.pos).min(data.len());
            let (now, later) = data.split_at_mut(n);
            xor(now, &self.ks[self.pos..self.pos + n]);
            self.pos += n;
            data = later;
        }
    }

    pub fn wipe(&mut self) {
        crate::wipe(&mut self.ks);
    }
}

/// Seals `buf` in place (one piece, the fused path); returns the tag.
///
/// # Safety
/// The CPU has AVX2.
#[target_feature(enable = "avx2")]
pub unsafe fn seal(c: &Cipher, aad: &[u8], buf: &mut [u8]) -> [u8; 16] {
    let (mut st, mut mac) = Stream::start(c);
    mac.update(aad);
    mac.pad();
    let total = buf.len();
    // Chunk 0: the 448 bytes after block 0 of the first keystream.
    let first = total.min(CHUNK - 64);
    let (mut done, mut rest) = buf.split_at_mut(first);
    xor(done, &st.ks[64..64 + first]);
    // Each later chunk's keystream is made while the MAC takes the
    // previous chunk's ciphertext.
    while !rest.is_empty() {
        let n = rest.len().min(CHUNK);
        let (now, later) = rest.split_at_mut(n);
        if n == CHUNK {
            gen_xor(c, st.ctr, now.as_mut_ptr(), &mut mac, done);
        } else {
            gen(c, st.ctr, &mut st.ks, &mut mac, done);
            xor(now, &st.ks[..n]);
        }
        st.ctr = st.ctr.wrapping_add(8);
        done = now;
        rest = later;
    }
    // The last chunk never went through `gen`.
    mac.update(done);
    st.wipe();
    mac.finish(aad.len(), total)
}

/// Opens `buf` in place (one piece, the fused path): all of the
/// ciphertext is there from the start, so its MAC runs inside the keystream
/// rounds, chunk 0's included (its decryption waits for the second chunk's
/// keystream). Returns whether `tag` verified (compared in constant time);
/// on failure `buf` holds unauthenticated plaintext, which callers drop.
///
/// # Safety
/// The CPU has AVX2.
#[target_feature(enable = "avx2")]
pub unsafe fn open(c: &Cipher, aad: &[u8], buf: &mut [u8], tag: &[u8; 16]) -> bool {
    let (mut st, mut mac) = Stream::start(c);
    mac.update(aad);
    mac.pad();
    let total = buf.len();
    let first = total.min(CHUNK - 64);
    if total == first {
        mac.update(buf);
        xor(buf, &st.ks[64..64 + first]);
    } else {
        let n = (total - first).min(CHUNK);
        let mut ks1 = [0u8; CHUNK];
        gen(c, st.ctr, &mut ks1, &mut mac, &buf[..first + n]);
        st.ctr = st.ctr.wrapping_add(8);
        mac.update(&buf[(first + n) & !15..first + n]);
        let (c0, rest) = buf.split_at_mut(first);
        xor(c0, &st.ks[64..]);
        let (c1, mut rest) = rest.split_at_mut(n);
        xor(c1, &ks1[..n]);
        crate::wipe(&mut ks1);
        while !rest.is_empty() {
            // Every chunk before this one was whole (448 or 512 bytes), so
            // the MAC holds no partial block and `gen` may feed it blocks.
            let n = rest.len().min(CHUNK);
            let (now, later) = rest.split_at_mut(n);
            if n == CHUNK {
                let p = now.as_mut_ptr();
                // SAFETY: the MAC reads the chunk (through `p`) during the
                // rounds; gen_xor writes it (through `p`) after them.
                let ct = core::slice::from_raw_parts(p, n);
                gen_xor(c, st.ctr, p, &mut mac, ct);
            } else {
                gen(c, st.ctr, &mut st.ks, &mut mac, now);
                mac.update(&now[n & !15..]);
                xor(now, &st.ks[..n]);
            }
            st.ctr = st.ctr.wrapping_add(8);
            rest = later;
        }
    }
    st.wipe();
    crate::tag_eq(&mac.finish(aad.len(), total), tag)
}
