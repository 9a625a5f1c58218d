//! ChaCha20 (RFC 8439 section 2.4), six blocks at a time in AVX2 registers
//! (three groups of two blocks, a block's rows in a register's 128-bit
//! lane), with Poly1305 fused into the same pass: the scalar MAC of one
//! chunk runs on the integer units between the vector half rounds that make
//! the keystream of another (`blocks6`), so the two overlap instead of
//! taking turns over the data.
//!
//! Every function here is `#[target_feature(enable = "avx2,bmi2")]` (BMI2:
//! the MAC's 64x64-bit products with MULX, which leaves the flags alone and
//! takes any registers: about a fifth fewer instructions a block than MUL):
//! in the kernel object the whole crate is compiled for both anyway; in
//! userspace builds lib.rs calls them only after CPUID said both.

#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::*;

use crate::poly::{Mac, Poly};

/// The keystream bytes of one `blocks6` call.
pub const CHUNK: usize = 384;

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

// The double round as inline assembly, three two-block groups interleaved
// instruction by instruction. Why not intrinsics: on Zen 1 the vector
// scheduler sees few instructions at a time and the rotations' shifts all
// go to one pipe, so the order matters; LLVM regrouped the intrinsics
// into one quarter round after another (one dependency chain at a time)
// and rewrote the byte rotations into twice the shuffles. The assembly
// keeps the order: the same step for the three groups, then the next.
//
// Layout: a group is two blocks, one per 128-bit lane; `a`, `b`, `c`, `d`
// are the state's four rows (a: constants, b and c: the key, d: counter
// and nonce). The diagonal round is the column round after rotating rows
// b, c and d by one, two and three words (vpshufd), undone after it.

/// `op` on each group: `{d0} = op {d0}, {s0}` ...
macro_rules! op3 {
    ($op:literal, $d:literal, $s:literal) => {
        concat!(
            $op, " {", $d, "0}, {", $d, "0}, {", $s, "0}\n", $op, " {", $d, "1}, {", $d, "1}, {",
            $s, "1}\n", $op, " {", $d, "2}, {", $d, "2}, {", $s, "2}\n",
        )
    };
}

/// The byte-shuffle rotations (by 16 and by 8) of row d: mask `m`.
macro_rules! shufb3 {
    ($m:literal) => {
        concat!(
            "vpshufb {d0}, {d0}, {",
            $m,
            "}\n",
            "vpshufb {d1}, {d1}, {",
            $m,
            "}\n",
            "vpshufb {d2}, {d2}, {",
            $m,
            "}\n",
        )
    };
}

/// Row b rotated left by `l` (`r` = 32 - `l`): shift, shift, or.
macro_rules! rot3 {
    ($l:literal, $r:literal) => {
        concat!(
            "vpsrld {t0}, {b0}, ",
            $r,
            "\n",
            "vpsrld {t1}, {b1}, ",
            $r,
            "\n",
            "vpslld {b0}, {b0}, ",
            $l,
            "\n",
            "vpslld {b1}, {b1}, ",
            $l,
            "\n",
            "vpor {b0}, {b0}, {t0}\n",
            "vpor {b1}, {b1}, {t1}\n",
            "vpsrld {t0}, {b2}, ",
            $r,
            "\n",
            "vpslld {b2}, {b2}, ",
            $l,
            "\n",
            "vpor {b2}, {b2}, {t0}\n",
        )
    };
}

/// Row `r` of each group rotated by whole words (vpshufd `imm`).
macro_rules! words3 {
    ($r:literal, $imm:literal) => {
        concat!(
            "vpshufd {",
            $r,
            "0}, {",
            $r,
            "0}, ",
            $imm,
            "\n",
            "vpshufd {",
            $r,
            "1}, {",
            $r,
            "1}, ",
            $imm,
            "\n",
            "vpshufd {",
            $r,
            "2}, {",
            $r,
            "2}, ",
            $imm,
            "\n",
        )
    };
}

/// Four quarter rounds on the rows of each group (RFC 8439 2.1).
macro_rules! quarter3 {
    () => {
        concat!(
            op3!("vpaddd", "a", "b"),
            op3!("vpxor", "d", "a"),
            shufb3!("m16"),
            op3!("vpaddd", "c", "d"),
            op3!("vpxor", "b", "c"),
            rot3!("12", "20"),
            op3!("vpaddd", "a", "b"),
            op3!("vpxor", "d", "a"),
            shufb3!("m8"),
            op3!("vpaddd", "c", "d"),
            op3!("vpxor", "b", "c"),
            rot3!("7", "25"),
        )
    };
}

/// One half of a double round: the quarter rounds, then rows b, c, d
/// rotated by `ib`, `ic`, `id` (into the diagonal order, or back).
macro_rules! half_round {
    ($a:ident, $b:ident, $c:ident, $d:ident, $m16:ident, $m8:ident,
     $ib:literal, $ic:literal, $id:literal) => {
        // SAFETY: registers only (nomem, nostack, flags kept); the VEX
        // instructions need AVX2, which every caller (blocks6) requires.
        core::arch::asm!(
            quarter3!(),
            words3!("b", $ib),
            words3!("c", $ic),
            words3!("d", $id),
            a0 = inout(ymm_reg) $a[0], a1 = inout(ymm_reg) $a[1], a2 = inout(ymm_reg) $a[2],
            b0 = inout(ymm_reg) $b[0], b1 = inout(ymm_reg) $b[1], b2 = inout(ymm_reg) $b[2],
            c0 = inout(ymm_reg) $c[0], c1 = inout(ymm_reg) $c[1], c2 = inout(ymm_reg) $c[2],
            d0 = inout(ymm_reg) $d[0], d1 = inout(ymm_reg) $d[1], d2 = inout(ymm_reg) $d[2],
            m16 = in(ymm_reg) $m16, m8 = in(ymm_reg) $m8,
            t0 = out(ymm_reg) _, t1 = out(ymm_reg) _,
            options(nomem, nostack, preserves_flags),
        )
    };
}

/// Six keystream blocks `ctr..ctr + 6`, stored at `out` or XORed into it
/// (CHUNK bytes); meanwhile the `mac_len` bytes at `mac_in` (whole 16-byte
/// blocks) go through `mac`, spread over the 20 half rounds, so that the
/// scalar MAC runs on the integer units while the vector units make the
/// keystream. `mac_in` may be the bytes at `out` (open): they are read
/// during the rounds, and written only after them. Never inlined: its
/// callers' frames stay small for the kernel stack, and
/// kbuild/fpu-allow.txt names a stable function.
///
/// # Safety
/// The CPU has AVX2 and BMI2; `out` is valid for CHUNK bytes (read too if `xor`);
/// `mac_in` is valid for `mac_len` bytes of reads, `mac_len` a multiple of
/// 16, and nothing else writes them during the call.
#[inline(never)]
#[target_feature(enable = "avx2,bmi2")]
pub unsafe fn blocks6(
    c: &Cipher,
    ctr: u32,
    out: *mut u8,
    xor: bool,
    mac: &mut Poly,
    mac_in: *const u8,
    mac_len: usize,
) {
    let ra = _mm256_set_epi32(
        0x6b20_6574,
        0x7962_2d32,
        0x3320_646e,
        0x6170_7865,
        0x6b20_6574,
        0x7962_2d32,
        0x3320_646e,
        0x6170_7865,
    );
    let rb = _mm256_broadcastsi128_si256(_mm_loadu_si128(c.key.as_ptr().cast()));
    let rc = _mm256_broadcastsi128_si256(_mm_loadu_si128(c.key.as_ptr().add(4).cast()));
    let n = |i: u32| {
        _mm256_set_epi32(
            c.nonce[2] as i32,
            c.nonce[1] as i32,
            c.nonce[0] as i32,
            ctr.wrapping_add(i + 1) as i32,
            c.nonce[2] as i32,
            c.nonce[1] as i32,
            c.nonce[0] as i32,
            ctr.wrapping_add(i) as i32,
        )
    };
    let rd = [n(0), n(2), n(4)];
    let m16 = _mm256_set_epi8(
        13, 12, 15, 14, 9, 8, 11, 10, 5, 4, 7, 6, 1, 0, 3, 2, 13, 12, 15, 14, 9, 8, 11, 10, 5, 4,
        7, 6, 1, 0, 3, 2,
    );
    let m8 = _mm256_set_epi8(
        14, 13, 12, 15, 10, 9, 8, 11, 6, 5, 4, 7, 2, 1, 0, 3, 14, 13, 12, 15, 10, 9, 8, 11, 6, 5,
        4, 7, 2, 1, 0, 3,
    );
    let (mut a, mut b, mut cc, mut d) = ([ra; 3], [rb; 3], [rc; 3], rd);
    // The MAC's blocks spread evenly over the 20 half rounds: each takes
    // nb / 20 blocks, and the first nb % 20 one more.
    let nb = mac_len / 16;
    let (q, mut extra) = (nb / 20, nb % 20);
    let mut p = mac_in;
    // (A macro, not a closure: a call here would spill every vector
    // register, all of them caller-saved.)
    macro_rules! slot {
        () => {
            let now = 16 * (q + usize::from(extra > 0));
            extra = extra.saturating_sub(1);
            // SAFETY: at most nb blocks in all (20 * q + nb % 20) at
            // `mac_in` (the caller's contract); nothing writes them meanwhile.
            mac.blocks(core::slice::from_raw_parts(p, now));
            p = p.add(now);
        };
    }
    for _ in 0..10 {
        slot!();
        half_round!(a, b, cc, d, m16, m8, "0x39", "0x4e", "0x93");
        slot!();
        half_round!(a, b, cc, d, m16, m8, "0x93", "0x4e", "0x39");
    }
    for g in 0..3 {
        let rows = [
            _mm256_add_epi32(a[g], ra),
            _mm256_add_epi32(b[g], rb),
            _mm256_add_epi32(cc[g], rc),
            _mm256_add_epi32(d[g], rd[g]),
        ];
        for (i, r) in rows.iter().enumerate() {
            // Block 2g is the low lanes, block 2g + 1 the high ones.
            let halves = [
                _mm256_castsi256_si128(*r),
                _mm256_extracti128_si256::<1>(*r),
            ];
            for (h, v) in halves.into_iter().enumerate() {
                // SAFETY: 128 * g + 64 * h + 16 * i + 16 <= CHUNK bytes at
                // `out`; unaligned access.
                let q = out.add(128 * g + 64 * h + 16 * i).cast::<__m128i>();
                if xor {
                    _mm_storeu_si128(q, _mm_xor_si128(_mm_loadu_si128(q), v));
                } else {
                    _mm_storeu_si128(q, v);
                }
            }
        }
    }
}

/// `data ^= ks[..data.len()]`.
///
/// # Safety
/// The CPU has AVX2 and BMI2; `data.len() <= ks.len()`.
#[target_feature(enable = "avx2,bmi2")]
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
/// path): CHUNK bytes at a time, with a read position.
pub struct Stream<'a> {
    c: &'a Cipher,
    ks: [u8; CHUNK],
    pos: usize,
    ctr: u32,
}

impl<'a> Stream<'a> {
    /// Generates blocks 0..6: the Poly1305 key is block 0's first 32 bytes,
    /// the message starts at block 1.
    ///
    /// # Safety
    /// The CPU has AVX2 and BMI2.
    #[target_feature(enable = "avx2,bmi2")]
    pub unsafe fn start(c: &'a Cipher) -> (Stream<'a>, Mac) {
        let mut ks = core::mem::MaybeUninit::<[u8; CHUNK]>::uninit();
        let k = ks.as_mut_ptr().cast::<u8>();
        let mut none = Poly::new(&[0; 32]);
        blocks6(c, 0, k, false, &mut none, k, 0);
        let st = Stream {
            c,
            // SAFETY: blocks6 (xor false) wrote all CHUNK bytes.
            ks: ks.assume_init(),
            pos: 64,
            ctr: 6,
        };
        let mut otk = [0u8; 32];
        otk.copy_from_slice(&st.ks[..32]);
        let mac = Mac::new(&otk);
        crate::wipe(&mut otk);
        (st, mac)
    }

    /// # Safety
    /// The CPU has AVX2 and BMI2.
    #[target_feature(enable = "avx2,bmi2")]
    pub unsafe fn apply(&mut self, mut data: &mut [u8]) {
        while !data.is_empty() {
            if self.pos == CHUNK {
                let mut none = Poly::new(&[0; 32]);
                let ks = self.ks.as_mut_ptr();
                blocks6(self.c, self.ctr, ks, false, &mut none, ks, 0);
                self.ctr = self.ctr.wrapping_add(6);
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
/// The CPU has AVX2 and BMI2.
#[target_feature(enable = "avx2,bmi2")]
pub unsafe fn seal(c: &Cipher, aad: &[u8], buf: &mut [u8]) -> [u8; 16] {
    let (mut st, mut mac) = Stream::start(c);
    mac.update(aad);
    mac.pad();
    let total = buf.len();
    // Chunk 0: the CHUNK - 64 bytes after block 0 of the first keystream.
    let first = total.min(CHUNK - 64);
    xor(&mut buf[..first], &st.ks[64..64 + first]);
    // Each later chunk's keystream is made while the MAC takes the
    // previous chunk's ciphertext (a different part of `buf`).
    let p = buf.as_mut_ptr();
    let (mut done, mut off) = (0usize, first);
    while off < total {
        let n = (total - off).min(CHUNK);
        // SAFETY: off + n <= total bytes at `p`; the MAC reads
        // `done..off`, which this call does not write.
        if n == CHUNK {
            blocks6(
                c,
                st.ctr,
                p.add(off),
                true,
                &mut mac.poly,
                p.add(done),
                off - done,
            );
        } else {
            let ks = st.ks.as_mut_ptr();
            blocks6(c, st.ctr, ks, false, &mut mac.poly, p.add(done), off - done);
            xor(core::slice::from_raw_parts_mut(p.add(off), n), &st.ks[..n]);
        }
        st.ctr = st.ctr.wrapping_add(6);
        done = off;
        off += n;
    }
    // The last chunk never went through `blocks6`'s MAC.
    mac.update(&buf[done..]);
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
/// The CPU has AVX2 and BMI2.
#[target_feature(enable = "avx2,bmi2")]
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
        let p = buf.as_mut_ptr();
        // The second chunk's keystream, while the MAC takes chunks 0 and 1
        // (whole blocks; chunk 0 is whole, CHUNK - 64 bytes).
        let n = (total - first).min(CHUNK);
        // SAFETY: first + n <= total bytes at `p`, not written meanwhile
        // but by blocks6 itself, after its rounds (the MAC reads them
        // during the rounds).
        if n == CHUNK {
            blocks6(c, st.ctr, p.add(first), true, &mut mac.poly, p, first + n);
        } else {
            let mut ks1 = core::mem::MaybeUninit::<[u8; CHUNK]>::uninit();
            let k1 = ks1.as_mut_ptr().cast::<u8>();
            blocks6(c, st.ctr, k1, false, &mut mac.poly, p, (first + n) & !15);
            // SAFETY: blocks6 (xor false) wrote all CHUNK bytes.
            let mut ks1 = ks1.assume_init();
            mac.update(&buf[(first + n) & !15..first + n]);
            xor(&mut buf[first..first + n], &ks1[..n]);
            crate::wipe(&mut ks1);
        }
        st.ctr = st.ctr.wrapping_add(6);
        let (c0, rest) = buf.split_at_mut(first);
        xor(c0, &st.ks[64..]);
        let rest = &mut rest[n..];
        // Every chunk before this one was whole (CHUNK - 64 or CHUNK
        // bytes), so the MAC holds no partial block and `blocks6` may feed
        // it blocks.
        let p = rest.as_mut_ptr();
        let len = rest.len();
        let mut off = 0;
        while off < len {
            let n = (len - off).min(CHUNK);
            let q = p.add(off);
            if n == CHUNK {
                // SAFETY: the MAC reads the chunk (through `q`) during the
                // rounds; blocks6 writes it (through `q`) after them.
                blocks6(c, st.ctr, q, true, &mut mac.poly, q, n);
            } else {
                let ks = st.ks.as_mut_ptr();
                // SAFETY: n bytes at `q`, read only during this call.
                blocks6(c, st.ctr, ks, false, &mut mac.poly, q, n & !15);
                let now = core::slice::from_raw_parts_mut(q, n);
                mac.update(&now[n & !15..]);
                xor(now, &st.ks[..n]);
            }
            st.ctr = st.ctr.wrapping_add(6);
            off += n;
        }
    }
    st.wipe();
    crate::tag_eq(&mac.finish(aad.len(), total), tag)
}
