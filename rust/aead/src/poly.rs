//! Poly1305 (RFC 8439 section 2.5) in 64-bit limbs: h in 2^64 + 2^64 + a few
//! bits, r in two 64-bit words, products in u128. Constant time: no branch
//! and no table depends on the key or the data (x86-64's MUL takes the same
//! time whatever its operands).
//!
//! AEAD input is always whole 16-byte blocks (RFC 8439 pads the AAD and
//! the ciphertext with zeros), so only full blocks, each with the 2^128
//! bit, are ever hashed here; `Mac` keeps the partial block between pieces.

pub struct Poly {
    r0: u64,
    r1: u64,
    // r1 + r1 / 4: r1 is a multiple of 4 (clamping), so r1 * 2^128 is
    // (r1 / 4) * 2^130, which is (r1 / 4) * 5 mod 2^130 - 5.
    s1: u64,
    h0: u64,
    h1: u64,
    h2: u64,
    pad0: u64,
    pad1: u64,
}

fn le64(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[..8]);
    u64::from_le_bytes(w)
}

impl Poly {
    pub fn new(key: &[u8; 32]) -> Poly {
        let r0 = le64(&key[0..8]) & 0x0fff_fffc_0fff_ffff;
        let r1 = le64(&key[8..16]) & 0x0fff_fffc_0fff_fffc;
        Poly {
            r0,
            r1,
            s1: r1 + (r1 >> 2),
            h0: 0,
            h1: 0,
            h2: 0,
            pad0: le64(&key[16..24]),
            pad1: le64(&key[24..32]),
        }
    }

    /// Hashes whole 16-byte blocks of `m` (a trailing partial block is
    /// ignored: callers pass multiples of 16).
    #[inline(always)]
    pub fn blocks(&mut self, m: &[u8]) {
        let (r0, r1, s1) = (self.r0, self.r1, self.s1);
        let (mut h0, mut h1, mut h2) = (self.h0, self.h1, self.h2);
        for b in m.chunks_exact(16) {
            // h += m + 2^128
            let d = u128::from(h0) + u128::from(le64(&b[0..8]));
            h0 = d as u64;
            let d = u128::from(h1) + u128::from(le64(&b[8..16])) + (d >> 64);
            h1 = d as u64;
            h2 = h2 + (d >> 64) as u64 + 1;
            // h *= r, partly reduced mod 2^130 - 5. h2 <= 6 and r0, r1 <
            // 2^60, s1 < 2^61, so no sum below overflows.
            let d0 = u128::from(h0) * u128::from(r0) + u128::from(h1) * u128::from(s1);
            // h2 * s1 < 8 * 2^61 and h2 * r0 < 2^63: one-word products,
            // cheaper than the 64x64->128 ones.
            let d1 = u128::from(h0) * u128::from(r1)
                + u128::from(h1) * u128::from(r0)
                + u128::from(h2 * s1);
            let d2 = h2 * r0;
            let d1 = d1 + (d0 >> 64);
            let d2 = d2 + (d1 >> 64) as u64;
            // Bits 130 and up (d2 >> 2) come back times 5: 4x + x.
            let c = (d2 & !3) + (d2 >> 2);
            let d = u128::from(d0 as u64) + u128::from(c);
            h0 = d as u64;
            let d = u128::from(d1 as u64) + (d >> 64);
            h1 = d as u64;
            h2 = (d2 & 3) + (d >> 64) as u64;
        }
        self.h0 = h0;
        self.h1 = h1;
        self.h2 = h2;
    }

    /// The tag: h fully reduced mod 2^130 - 5, plus s, mod 2^128.
    pub fn finish(&self) -> [u8; 16] {
        let (h0, h1, h2) = (self.h0, self.h1, self.h2);
        // g = h + 5; h >= p exactly when g reaches 2^130. Selected by mask,
        // not by a branch.
        let d = u128::from(h0) + 5;
        let g0 = d as u64;
        let d = u128::from(h1) + (d >> 64);
        let g1 = d as u64;
        let g2 = h2 + (d >> 64) as u64;
        let mask = 0u64.wrapping_sub(g2 >> 2);
        let h0 = (h0 & !mask) | (g0 & mask);
        let h1 = (h1 & !mask) | (g1 & mask);
        let d = u128::from(h0) + u128::from(self.pad0);
        let t0 = d as u64;
        let t1 = h1.wrapping_add(self.pad1).wrapping_add((d >> 64) as u64);
        let mut tag = [0u8; 16];
        tag[..8].copy_from_slice(&t0.to_le_bytes());
        tag[8..].copy_from_slice(&t1.to_le_bytes());
        tag
    }

    /// Zeroes the key and the state (volatile: not removed as dead stores).
    pub fn wipe(&mut self) {
        for w in [
            &mut self.r0,
            &mut self.r1,
            &mut self.s1,
            &mut self.h0,
            &mut self.h1,
            &mut self.h2,
            &mut self.pad0,
            &mut self.pad1,
        ] {
            // SAFETY: a valid, exclusive reference to a u64.
            unsafe { core::ptr::write_volatile(w, 0) };
        }
    }
}

/// Poly1305 over a stream that arrives in pieces of any length: a partial
/// block waits in `carry` for the next piece; `pad` is RFC 8439's pad16.
pub struct Mac {
    pub poly: Poly,
    carry: [u8; 16],
    used: usize,
}

impl Mac {
    pub fn new(key: &[u8; 32]) -> Mac {
        Mac {
            poly: Poly::new(key),
            carry: [0; 16],
            used: 0,
        }
    }

    // Inlined into the AVX2 paths, to run with their BMI2 (MULX).
    #[inline(always)]
    pub fn update(&mut self, mut data: &[u8]) {
        if self.used > 0 {
            let take = (16 - self.used).min(data.len());
            let (head, rest) = data.split_at(take);
            self.carry[self.used..self.used + take].copy_from_slice(head);
            self.used += take;
            data = rest;
            if self.used < 16 {
                return;
            }
            let block = self.carry;
            self.poly.blocks(&block);
            self.used = 0;
        }
        let whole = data.len() & !15;
        let (blocks, rest) = data.split_at(whole);
        self.poly.blocks(blocks);
        self.carry[..rest.len()].copy_from_slice(rest);
        self.used = rest.len();
    }

    pub fn pad(&mut self) {
        if self.used > 0 {
            self.carry[self.used..].fill(0);
            let block = self.carry;
            self.poly.blocks(&block);
            self.used = 0;
        }
    }

    pub fn finish(mut self, aad_len: usize, ct_len: usize) -> [u8; 16] {
        self.pad();
        let mut lens = [0u8; 16];
        lens[..8].copy_from_slice(&(aad_len as u64).to_le_bytes());
        lens[8..].copy_from_slice(&(ct_len as u64).to_le_bytes());
        self.poly.blocks(&lens);
        let tag = self.poly.finish();
        self.poly.wipe();
        crate::wipe(&mut self.carry);
        tag
    }
}
