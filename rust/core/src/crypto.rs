//! The cryptographic primitives WireGuard names, as small functions.
//!
//! HASH, MAC, HMAC and the KDFs are BLAKE2s; DH is X25519; AEAD is
//! ChaCha20-Poly1305 with the counter as nonce; XAEAD (cookies) is
//! XChaCha20-Poly1305. The ChaCha20-Poly1305 calls go through one seam so
//! that userspace builds can use `ring` (feature `ring`) while the kernel
//! uses [`kern`]: the AVX2 object of crate wg-aead inside an FPU section
//! when the CPU has AVX2 (decided once, [`simd_select`]), else the portable
//! RustCrypto code.

use blake2::digest::{FixedOutput, KeyInit, Mac, Update};
use blake2::{Blake2s256, Blake2sMac};
use chacha20poly1305::aead::generic_array::typenum::U16;
use chacha20poly1305::aead::AeadInPlace;
use core::marker::PhantomData;
use core::sync::atomic::{AtomicU8, Ordering};
use zeroize::Zeroize;

pub const KEY_LEN: usize = 32;
pub const HASH_LEN: usize = 32;
pub const MAC_LEN: usize = 16;
pub const TAG_LEN: usize = 16;
pub const XNONCE_LEN: usize = 24;

/// The AEAD tag did not verify (or the key agreement produced the zero point).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CryptoError;

/// HASH(a || b || ...): BLAKE2s-256.
pub fn hash(parts: &[&[u8]]) -> [u8; HASH_LEN] {
    let mut h = Blake2s256::default();
    for p in parts {
        Update::update(&mut h, p);
    }
    h.finalize_fixed().into()
}

/// MAC(key, a || b || ...): keyed BLAKE2s with a 16-byte output.
pub fn mac(key: &[u8; KEY_LEN], parts: &[&[u8]]) -> [u8; MAC_LEN] {
    // A 32-byte key is always accepted by keyed BLAKE2s.
    let mut m = match <Blake2sMac<U16> as KeyInit>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return [0; MAC_LEN],
    };
    for p in parts {
        Update::update(&mut m, p);
    }
    m.finalize().into_bytes().into()
}

const HMAC_BLOCK: usize = 64;

/// HMAC(key, input) over BLAKE2s-256 (RFC 2104 with a 64-byte block).
pub fn hmac(key: &[u8; KEY_LEN], parts: &[&[u8]]) -> [u8; HASH_LEN] {
    let mut pad = [0u8; HMAC_BLOCK];
    pad[..KEY_LEN].copy_from_slice(key);
    for b in pad.iter_mut() {
        *b ^= 0x36;
    }
    let mut inner = Blake2s256::default();
    Update::update(&mut inner, &pad);
    for p in parts {
        Update::update(&mut inner, p);
    }
    let mut ihash: [u8; HASH_LEN] = inner.finalize_fixed().into();
    for b in pad.iter_mut() {
        *b ^= 0x36 ^ 0x5c;
    }
    let mut outer = Blake2s256::default();
    Update::update(&mut outer, &pad);
    Update::update(&mut outer, &ihash);
    let out = outer.finalize_fixed().into();
    pad.zeroize();
    ihash.zeroize();
    out
}

/// KDF1(key, input): the first output of HKDF over HMAC-BLAKE2s.
pub fn kdf1(key: &[u8; KEY_LEN], input: &[u8]) -> [u8; KEY_LEN] {
    let mut prk = hmac(key, &[input]);
    let t1 = hmac(&prk, &[&[0x1]]);
    prk.zeroize();
    t1
}

/// KDF2(key, input): two chained outputs.
pub fn kdf2(key: &[u8; KEY_LEN], input: &[u8]) -> ([u8; KEY_LEN], [u8; KEY_LEN]) {
    let mut prk = hmac(key, &[input]);
    let t1 = hmac(&prk, &[&[0x1]]);
    let t2 = hmac(&prk, &[&t1, &[0x2]]);
    prk.zeroize();
    (t1, t2)
}

/// KDF3(key, input): three chained outputs.
pub fn kdf3(key: &[u8; KEY_LEN], input: &[u8]) -> ([u8; KEY_LEN], [u8; KEY_LEN], [u8; KEY_LEN]) {
    let mut prk = hmac(key, &[input]);
    let t1 = hmac(&prk, &[&[0x1]]);
    let t2 = hmac(&prk, &[&t1, &[0x2]]);
    let t3 = hmac(&prk, &[&t2, &[0x3]]);
    prk.zeroize();
    (t1, t2, t3)
}

/// The 96-bit AEAD nonce WireGuard builds from a 64-bit counter: 32 zero
/// bits then the little-endian counter.
fn nonce(counter: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&counter.to_le_bytes());
    n
}

/// AEAD(key, counter, plaintext, aad), in place; returns the detached tag.
pub fn aead_seal(key: &[u8; KEY_LEN], counter: u64, aad: &[u8], buf: &mut [u8]) -> [u8; TAG_LEN] {
    backend::seal(key, &nonce(counter), aad, buf)
}

/// Inverse of [`aead_seal`]: decrypts `buf` in place when `tag` verifies.
/// On failure `buf` is left unspecified (callers drop it).
pub fn aead_open(
    key: &[u8; KEY_LEN],
    counter: u64,
    aad: &[u8],
    buf: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> Result<(), CryptoError> {
    backend::open(key, &nonce(counter), aad, buf, tag)
}

/// Seals with the portable backend whatever the build; benchmarks use it to
/// print the kernel's transport speed from a userspace build.
pub fn aead_seal_portable(
    key: &[u8; KEY_LEN],
    counter: u64,
    aad: &[u8],
    buf: &mut [u8],
) -> [u8; TAG_LEN] {
    soft::seal(key, &nonce(counter), aad, buf)
}

/// Portable counterpart of [`aead_open`].
pub fn aead_open_portable(
    key: &[u8; KEY_LEN],
    counter: u64,
    aad: &[u8],
    buf: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> Result<(), CryptoError> {
    soft::open(key, &nonce(counter), aad, buf, tag)
}

/// XAEAD(key, nonce, plaintext, aad), used only by cookie replies.
pub fn xaead_seal(
    key: &[u8; KEY_LEN],
    nonce: &[u8; XNONCE_LEN],
    aad: &[u8],
    buf: &mut [u8],
) -> [u8; TAG_LEN] {
    let cipher = chacha20poly1305::XChaCha20Poly1305::new(key.into());
    match cipher.encrypt_in_place_detached(nonce.into(), aad, buf) {
        Ok(tag) => tag.into(),
        // Only reachable for inputs longer than 256 GiB.
        Err(_) => [0; TAG_LEN],
    }
}

/// Inverse of [`xaead_seal`].
pub fn xaead_open(
    key: &[u8; KEY_LEN],
    nonce: &[u8; XNONCE_LEN],
    aad: &[u8],
    buf: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> Result<(), CryptoError> {
    let cipher = chacha20poly1305::XChaCha20Poly1305::new(key.into());
    cipher
        .decrypt_in_place_detached(nonce.into(), aad, buf, tag.into())
        .map_err(|_| CryptoError)
}

/// The public key of a private key (X25519 scalar multiplication of the base
/// point; the scalar is clamped as RFC 7748 says).
pub fn public_key(private: &[u8; KEY_LEN]) -> [u8; KEY_LEN] {
    x25519::public_key(private)
}

/// DH(private, public). A result of all zeros (a low-order public key) is an
/// error, as in Linux: such a key would make the handshake key-independent.
pub fn dh(private: &[u8; KEY_LEN], public: &[u8; KEY_LEN]) -> Result<[u8; KEY_LEN], CryptoError> {
    x25519::dh(private, public)
}

/// x25519-dalek: portable, `no_std`, what the kernel runs.
mod dalek {
    use super::{CryptoError, KEY_LEN};

    #[allow(dead_code)]
    pub fn public_key(private: &[u8; KEY_LEN]) -> [u8; KEY_LEN] {
        let secret = x25519_dalek::StaticSecret::from(*private);
        x25519_dalek::PublicKey::from(&secret).to_bytes()
    }

    #[allow(dead_code)]
    pub fn dh(
        private: &[u8; KEY_LEN],
        public: &[u8; KEY_LEN],
    ) -> Result<[u8; KEY_LEN], CryptoError> {
        let secret = x25519_dalek::StaticSecret::from(*private);
        let shared = secret.diffie_hellman(&x25519_dalek::PublicKey::from(*public));
        if shared.was_contributory() {
            Ok(shared.to_bytes())
        } else {
            Err(CryptoError)
        }
    }
}

#[cfg(not(feature = "aws-lc"))]
use dalek as x25519;

/// aws-lc's X25519 (s2n-bignum on x86-64), for userspace handshakes. It
/// refuses an all-zero shared secret itself, like the dalek path.
#[cfg(feature = "aws-lc")]
mod x25519 {
    use super::{CryptoError, KEY_LEN};
    use aws_lc_rs::agreement::{agree, PrivateKey, UnparsedPublicKey, X25519};

    pub fn public_key(private: &[u8; KEY_LEN]) -> [u8; KEY_LEN] {
        let public = PrivateKey::from_private_key(&X25519, private)
            .ok()
            .and_then(|k| k.compute_public_key().ok())
            .and_then(|p| <[u8; KEY_LEN]>::try_from(p.as_ref()).ok());
        // aws-lc takes any 32 bytes; the fallback only guards its API.
        public.unwrap_or_else(|| super::dalek::public_key(private))
    }

    pub fn dh(
        private: &[u8; KEY_LEN],
        public: &[u8; KEY_LEN],
    ) -> Result<[u8; KEY_LEN], CryptoError> {
        let key = PrivateKey::from_private_key(&X25519, private).map_err(|_| CryptoError)?;
        agree(
            &key,
            UnparsedPublicKey::new(&X25519, public),
            CryptoError,
            |s| <[u8; KEY_LEN]>::try_from(s).map_err(|_| CryptoError),
        )
    }
}

/// Clamps a 32-byte random string into an X25519 private key, as `wg genkey`.
pub fn clamp_private_key(key: &mut [u8; KEY_LEN]) {
    key[0] &= 248;
    key[31] = (key[31] & 127) | 64;
}

/// Constant-time equality for secrets and MACs.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

mod soft {
    use super::{CryptoError, KEY_LEN, TAG_LEN};
    use chacha20poly1305::aead::{AeadInPlace, KeyInit};
    use chacha20poly1305::ChaCha20Poly1305;

    pub fn seal(
        key: &[u8; KEY_LEN],
        nonce: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
    ) -> [u8; TAG_LEN] {
        let cipher = ChaCha20Poly1305::new(key.into());
        match cipher.encrypt_in_place_detached(nonce.into(), aad, buf) {
            Ok(tag) => tag.into(),
            // Only reachable for inputs longer than 256 GiB.
            Err(_) => [0; TAG_LEN],
        }
    }

    pub fn open(
        key: &[u8; KEY_LEN],
        nonce: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), CryptoError> {
        let cipher = ChaCha20Poly1305::new(key.into());
        cipher
            .decrypt_in_place_detached(nonce.into(), aad, buf, tag.into())
            .map_err(|_| CryptoError)
    }
}

#[cfg(not(feature = "ring"))]
use kern as backend;

/// Seals with the kernel build's transport AEAD whatever the build (SIMD in
/// an FPU section when selected, else portable): benchmarks and tests
/// measure the kernel's path from userspace with it.
pub fn aead_seal_kernel(
    key: &[u8; KEY_LEN],
    counter: u64,
    aad: &[u8],
    buf: &mut [u8],
) -> [u8; TAG_LEN] {
    kern::seal(key, &nonce(counter), aad, buf)
}

/// Kernel-path counterpart of [`aead_open`].
pub fn aead_open_kernel(
    key: &[u8; KEY_LEN],
    counter: u64,
    aad: &[u8],
    buf: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> Result<(), CryptoError> {
    kern::open(key, &nonce(counter), aad, buf, tag)
}

/// One packet of a batch: `body` is sealed in place under `key` with
/// `counter`, and its tag written to `tag`.
pub struct SealJob<'a> {
    pub key: &'a [u8; KEY_LEN],
    pub counter: u64,
    pub body: &'a mut [u8],
    pub tag: &'a mut [u8; TAG_LEN],
}

/// Seals a train of packets: with SIMD selected, all of them inside one
/// FPU section (one fpu_kern_enter/leave for the batch, not one per
/// packet). The caller has done its locked work (routing, counters) and
/// passes only keys, counters and bytes, so nothing in the section can
/// reach a lock.
/// Empty slots (None) are skipped.
pub fn aead_seal_batch(jobs: &mut [Option<SealJob<'_>>]) {
    #[cfg(not(feature = "ring"))]
    if let Some(sec) = FpuSection::enter() {
        for j in jobs.iter_mut().flatten() {
            *j.tag = sec.seal(j.key, &nonce(j.counter), &[], j.body);
        }
        return;
    }
    for j in jobs.iter_mut().flatten() {
        *j.tag = aead_seal(j.key, j.counter, &[], j.body);
    }
}

/// The vector ChaCha20-Poly1305 and the FPU sections it must run in, as a
/// host provides them. The kernel shim's (crate wg-ffi, feature
/// kernel-simd): FreeBSD's fpu_kern_enter(curthread, NULL, FPU_KERN_NOCTX)
/// and fpu_kern_leave through sys/wg_host.h's wg_host_fpu_enter/leave, and
/// the separate hard-float object of crate wg-aead, whose entry points take
/// only pointers and lengths. Userspace builds (feature simd) have
/// [`UserSimd`]: no sections (the OS saves vector registers itself) and
/// wg-aead as an rlib.
///
/// `seal` and `open` take an [`FpuSection`], which only this module can
/// make: the type system proves every vector call is inside a section.
pub trait SimdBackend: Sync {
    /// The CPU and the OS support the vector code (AVX2, YMM state saved).
    fn usable(&self) -> bool;
    /// Starts a section: a critical section in the kernel, where nothing may
    /// sleep, take a lock, allocate, log, or enter another section.
    fn enter(&self);
    /// Ends the section [`SimdBackend::enter`] started.
    fn leave(&self);
    /// RFC 8439 AEAD seal of `buf` in place; returns the tag.
    fn seal(
        &self,
        sec: &FpuSection,
        key: &[u8; KEY_LEN],
        nonce: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
    ) -> [u8; TAG_LEN];
    /// Opens `buf` in place when `tag` verifies; false (buf unchanged) if not.
    fn open(
        &self,
        sec: &FpuSection,
        key: &[u8; KEY_LEN],
        nonce: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> bool;
}

static SIMD_BACKEND: spin::Once<&'static dyn SimdBackend> = spin::Once::new();

/// Registers the host's vector AEAD and FPU sections (the kernel build's
/// wg-ffi does, before the first device). Returns false if one was
/// registered before (that one stays).
pub fn set_simd_backend(backend: &'static dyn SimdBackend) -> bool {
    let mut ours = false;
    SIMD_BACKEND.call_once(|| {
        ours = true;
        backend
    });
    ours
}

/// The registered backend, or in userspace builds wg-aead's.
fn simd_backend() -> Option<&'static dyn SimdBackend> {
    #[cfg(feature = "simd")]
    {
        Some(*SIMD_BACKEND.call_once(|| &UserSimd))
    }
    #[cfg(not(feature = "simd"))]
    {
        SIMD_BACKEND.get().copied()
    }
}

const SIMD_UNDECIDED: u8 = 0;
const SIMD_OFF: u8 = 1;
const SIMD_ON: u8 = 2;
static SIMD: AtomicU8 = AtomicU8::new(SIMD_UNDECIDED);

/// Decides whether transport AEAD uses the vector code: yes when `allow`
/// and a backend is there (registered by the host, or wg-aead's in
/// userspace builds) whose CPU check passes. A host calls it once at load
/// (with `allow` false to force the portable path, as tests do); otherwise
/// the first packet decides with `allow` true. A later call changes the
/// decision (tests): packets in flight may take either path, and both give
/// the same bytes. Returns the decision.
pub fn simd_select(allow: bool) -> bool {
    let on = allow && simd_backend().is_some_and(|b| b.usable());
    SIMD.store(if on { SIMD_ON } else { SIMD_OFF }, Ordering::Relaxed);
    on
}

/// Whether transport AEAD uses the vector code (deciding now if no one has).
pub fn simd_active() -> bool {
    match SIMD.load(Ordering::Relaxed) {
        SIMD_ON => true,
        SIMD_OFF => false,
        _ => simd_select(true),
    }
}

/// Proof that this thread is inside the host's FPU section: made only by
/// [`FpuSection::enter`] (private), left when dropped.
///
/// Why no lock can be taken while a section lives: sections are made only
/// in this file, in `kern::seal`, `kern::open` and [`aead_seal_batch`], and
/// each holds its section across nothing but `SimdBackend::seal`/`open`
/// calls on keys, counters and byte slices. None of them is handed a
/// Device, peer or keypair, the only owners of locks (crate::sync), so no
/// lock is reachable from inside a section; the caller's locks were taken
/// before it and are released after it (holding a lock across a critical
/// section is allowed; taking one inside is not). Nothing here allocates or
/// logs either. Sections do not nest: none of these functions is called
/// from inside one, and the backends' seal/open call back into nothing.
pub struct FpuSection {
    backend: &'static dyn SimdBackend,
    // Not Send or Sync: the section belongs to this thread (and CPU).
    _here: PhantomData<*mut ()>,
}

impl FpuSection {
    /// Enters a section when the vector code is selected; None means use
    /// the portable code.
    fn enter() -> Option<FpuSection> {
        if !simd_active() {
            return None;
        }
        let backend = simd_backend()?;
        backend.enter();
        Some(FpuSection {
            backend,
            _here: PhantomData,
        })
    }

    fn seal(
        &self,
        key: &[u8; KEY_LEN],
        nonce: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
    ) -> [u8; TAG_LEN] {
        self.backend.seal(self, key, nonce, aad, buf)
    }

    fn open(
        &self,
        key: &[u8; KEY_LEN],
        nonce: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), CryptoError> {
        if self.backend.open(self, key, nonce, aad, buf, tag) {
            Ok(())
        } else {
            Err(CryptoError)
        }
    }
}

impl Drop for FpuSection {
    fn drop(&mut self) {
        self.backend.leave();
    }
}

/// Userspace builds' vector AEAD: wg-aead as an rlib (AVX2 by CPUID inside
/// RustCrypto's backends); no sections needed.
#[cfg(feature = "simd")]
pub struct UserSimd;

#[cfg(feature = "simd")]
impl SimdBackend for UserSimd {
    fn usable(&self) -> bool {
        wg_aead::cpu_has_avx2()
    }
    fn enter(&self) {}
    fn leave(&self) {}
    fn seal(
        &self,
        _sec: &FpuSection,
        key: &[u8; KEY_LEN],
        nonce: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
    ) -> [u8; TAG_LEN] {
        wg_aead::seal(key, nonce, aad, &mut [buf])
    }
    fn open(
        &self,
        _sec: &FpuSection,
        key: &[u8; KEY_LEN],
        nonce: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> bool {
        wg_aead::open(key, nonce, aad, &mut [buf], tag)
    }
}

/// The kernel's transport AEAD: the vector code when selected, else the
/// portable code. Same bytes either way (tests compare them).
mod kern {
    use super::{soft, CryptoError, FpuSection, KEY_LEN, TAG_LEN};

    pub fn seal(
        key: &[u8; KEY_LEN],
        nonce: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
    ) -> [u8; TAG_LEN] {
        match FpuSection::enter() {
            Some(sec) => sec.seal(key, nonce, aad, buf),
            None => soft::seal(key, nonce, aad, buf),
        }
    }

    pub fn open(
        key: &[u8; KEY_LEN],
        nonce: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), CryptoError> {
        match FpuSection::enter() {
            Some(sec) => sec.open(key, nonce, aad, buf, tag),
            None => soft::open(key, nonce, aad, buf, tag),
        }
    }
}

#[cfg(feature = "ring")]
mod backend {
    use super::{CryptoError, KEY_LEN, TAG_LEN};
    use ring::aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey, CHACHA20_POLY1305};

    fn key_of(key: &[u8; KEY_LEN]) -> Option<LessSafeKey> {
        UnboundKey::new(&CHACHA20_POLY1305, key)
            .ok()
            .map(LessSafeKey::new)
    }

    pub fn seal(
        key: &[u8; KEY_LEN],
        nonce: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
    ) -> [u8; TAG_LEN] {
        let Some(k) = key_of(key) else {
            return super::soft::seal(key, nonce, aad, buf);
        };
        match k.seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(*nonce),
            Aad::from(aad),
            buf,
        ) {
            Ok(tag) => {
                let mut out = [0u8; TAG_LEN];
                out.copy_from_slice(tag.as_ref());
                out
            }
            Err(_) => super::soft::seal(key, nonce, aad, buf),
        }
    }

    pub fn open(
        key: &[u8; KEY_LEN],
        nonce: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), CryptoError> {
        let k = key_of(key).ok_or(CryptoError)?;
        k.open_in_place_separate_tag(
            Nonce::assume_unique_for_key(*nonce),
            Aad::from(aad),
            Tag::from(*tag),
            buf,
            0..,
        )
        .map(|_| ())
        .map_err(|_| CryptoError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> std::vec::Vec<u8> {
        hex::decode(s.replace([' ', '\n'], "")).unwrap()
    }

    /// RFC 8439 section 2.8.2: the AEAD example.
    #[test]
    fn rfc8439_aead_vector() {
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
        let tag = h("1ae10b594f09e26a7e902ecbd0600691");
        for use_portable in [false, true] {
            let mut buf = pt.to_vec();
            let t = if use_portable {
                soft::seal(&key, &nonce, &aad, &mut buf)
            } else {
                backend::seal(&key, &nonce, &aad, &mut buf)
            };
            assert_eq!(buf, ct);
            assert_eq!(t.to_vec(), tag);
            let t: [u8; 16] = tag.clone().try_into().unwrap();
            backend::open(&key, &nonce, &aad, &mut buf, &t).unwrap();
            assert_eq!(&buf[..], &pt[..]);
            buf[3] ^= 1;
            assert!(soft::open(&key, &nonce, &aad, &mut buf, &t).is_err());
        }
    }

    /// The WireGuard nonce layout: the counter in the last 8 bytes, LE.
    #[test]
    fn counter_nonce_layout() {
        assert_eq!(
            nonce(0x0102030405060708),
            [0, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1]
        );
    }

    /// draft-irtf-cfrg-xchacha-03 appendix A.3.1.
    #[test]
    fn xchacha_vector() {
        let key: [u8; 32] = h("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
            .try_into()
            .unwrap();
        let nonce: [u8; 24] = h("404142434445464748494a4b4c4d4e4f5051525354555657")
            .try_into()
            .unwrap();
        let aad = h("50515253c0c1c2c3c4c5c6c7");
        let pt = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
        let ct = h(
            "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb
            731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452
            2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9
            21f9664c97637da9768812f615c68b13b52e",
        );
        let tag = h("c0875924c1c7987947deafd8780acf49");
        let mut buf = pt.to_vec();
        let t = xaead_seal(&key, &nonce, &aad, &mut buf);
        assert_eq!(buf, ct);
        assert_eq!(t.to_vec(), tag);
        xaead_open(&key, &nonce, &aad, &mut buf, &t).unwrap();
        assert_eq!(&buf[..], &pt[..]);
    }

    /// RFC 7748 section 5.2 (single iteration vectors) and 6.1 (DH).
    #[test]
    fn rfc7748_vectors() {
        let k: [u8; 32] = h("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4")
            .try_into()
            .unwrap();
        let u: [u8; 32] = h("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c")
            .try_into()
            .unwrap();
        assert_eq!(
            dh(&k, &u).unwrap().to_vec(),
            h("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552")
        );
        let a: [u8; 32] = h("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
            .try_into()
            .unwrap();
        let b: [u8; 32] = h("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
            .try_into()
            .unwrap();
        let pa = public_key(&a);
        let pb = public_key(&b);
        assert_eq!(
            pa.to_vec(),
            h("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
        );
        assert_eq!(
            pb.to_vec(),
            h("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
        );
        let shared = h("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
        assert_eq!(dh(&a, &pb).unwrap().to_vec(), shared);
        assert_eq!(dh(&b, &pa).unwrap().to_vec(), shared);
    }

    /// The userspace X25519 backend, when built, agrees with the portable one.
    #[test]
    fn x25519_backends_agree() {
        for seed in 0u8..8 {
            let a = [seed.wrapping_mul(37).wrapping_add(1); 32];
            let b = [seed.wrapping_mul(11).wrapping_add(5); 32];
            let pb = dalek::public_key(&b);
            assert_eq!(public_key(&a), dalek::public_key(&a));
            assert_eq!(dh(&a, &pb).unwrap(), dalek::dh(&a, &pb).unwrap());
        }
    }

    /// A low-order public key gives the zero point, which must be refused.
    #[test]
    fn low_order_point_rejected() {
        let a = [7u8; 32];
        assert!(dh(&a, &[0u8; 32]).is_err());
        let mut one = [0u8; 32];
        one[0] = 1;
        assert!(dh(&a, &one).is_err());
    }

    /// RFC 7693 appendix B gives BLAKE2b("abc"); BLAKE2s("abc") is its
    /// appendix's companion value from the reference implementation.
    #[test]
    fn blake2s_vectors() {
        assert_eq!(
            hash(&[b"abc"]).to_vec(),
            h("508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982")
        );
        assert_eq!(hash(&[b"a", b"bc"]), hash(&[b"abc"]));
        assert_eq!(
            hash(&[]).to_vec(),
            h("69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9")
        );
        // Keyed BLAKE2s-256 KAT from the BLAKE2 reference (blake2s-kat.txt,
        // key 00..1f, empty input).
        let key: [u8; 32] = core::array::from_fn(|i| i as u8);
        let mut m = <blake2::Blake2sMac256 as KeyInit>::new_from_slice(&key).unwrap();
        Update::update(&mut m, b"");
        assert_eq!(
            m.finalize().into_bytes().to_vec(),
            h("48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49")
        );
    }

    /// The construction string hashes the Noise protocol name, whose value
    /// every WireGuard implementation hard-codes.
    #[test]
    fn noise_construction_chaining_key() {
        assert_eq!(
            hash(&[b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"]).to_vec(),
            h("60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36")
        );
    }

    /// HMAC-BLAKE2s matches a generic HMAC built from the `blake2` crate.
    #[test]
    fn hmac_matches_generic_construction() {
        let key = [0x42u8; 32];
        let mut inner = [0x36u8; 64];
        let mut outer = [0x5cu8; 64];
        for i in 0..32 {
            inner[i] ^= key[i];
            outer[i] ^= key[i];
        }
        let ih = hash(&[&inner, b"input"]);
        let expect = hash(&[&outer, &ih]);
        assert_eq!(hmac(&key, &[b"in", b"put"]), expect);
        let (a, b) = kdf2(&key, b"x");
        assert_eq!(a, kdf1(&key, b"x"));
        let (a3, b3, _) = kdf3(&key, b"x");
        assert_eq!((a, b), (a3, b3));
    }

    /// The kernel's transport path (the vector code when this CPU has AVX2)
    /// gives the portable path's bytes on every length 0..2048, opens what
    /// the portable path sealed and refuses a flipped tag; the same with the
    /// vector code forced off. (Other tests may flip the selection
    /// meanwhile: both paths give the same bytes, so none can tell.)
    #[test]
    fn kernel_path_equals_portable() {
        for allow in [true, false] {
            simd_select(allow);
            for len in 0..2048usize {
                let key = hash(&[&len.to_le_bytes()]);
                let pt: std::vec::Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
                let mut a = pt.clone();
                let mut b = pt.clone();
                let ta = aead_seal_kernel(&key, len as u64, &[], &mut a);
                let tb = aead_seal_portable(&key, len as u64, &[], &mut b);
                assert_eq!((ta, &a), (tb, &b), "len {len} simd {allow}");
                aead_open_kernel(&key, len as u64, &[], &mut b, &tb).unwrap();
                assert_eq!(b, pt);
                let mut bad = ta;
                bad[len % 16] ^= 1;
                assert!(aead_open_kernel(&key, len as u64, &[], &mut a, &bad).is_err());
            }
        }
        simd_select(true);
    }

    /// A batch seals as packet-by-packet sealing does.
    #[test]
    fn batch_equals_single() {
        let key = hash(&[b"batch"]);
        let mut bufs: std::vec::Vec<std::vec::Vec<u8>> =
            (0..9).map(|i| std::vec![i as u8; 100 * i + 3]).collect();
        let expect: std::vec::Vec<_> = bufs
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let mut b = b.clone();
                let t = aead_seal_portable(&key, 40 + i as u64, &[], &mut b);
                (b, t)
            })
            .collect();
        let mut tags = [[0u8; TAG_LEN]; 9];
        let mut jobs: std::vec::Vec<Option<SealJob<'_>>> = bufs
            .iter_mut()
            .zip(tags.iter_mut())
            .enumerate()
            .map(|(i, (body, tag))| {
                Some(SealJob {
                    key: &key,
                    counter: 40 + i as u64,
                    body,
                    tag,
                })
            })
            .collect();
        jobs.insert(4, None);
        aead_seal_batch(&mut jobs);
        drop(jobs);
        for (i, (b, t)) in expect.iter().enumerate() {
            assert_eq!((&bufs[i], &tags[i]), (b, t), "packet {i}");
        }
    }
}
