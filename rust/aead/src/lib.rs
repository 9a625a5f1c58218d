//! ChaCha20-Poly1305 (RFC 8439) behind two C entry points that take only
//! pointers and lengths: the vector code of if_wg.ko.
//!
//! Why a crate of its own: the kernel build of the core is soft-float (no
//! SSE/AVX register may be touched outside fpu_kern_enter/leave), and on a
//! soft-float target `#[target_feature(enable = "avx2")]` is lowered to
//! scalar code. So kbuild/build-kernel-lib.sh compiles this crate alone for
//! a hard-float kernel target (kbuild/x86_64-ifwg-kernel-simd.json: AVX2
//! and BMI2, kernel code model, static relocations, no red zone) and links
//! the object beside the core. Only `wg_aead_simd_seal` and
//! `wg_aead_simd_open` stay global; they take and return integers and
//! pointers, so no vector register crosses the soft-float ABI, and the core
//! calls them only inside an FPU section (wg_core::crypto's `FpuSection`).
//!
//! The code is this crate's own (candidate (c) of issue 12, the fastest
//! measured; README's performance section has the figures): ChaCha20 six
//! blocks at a time in AVX2 registers (its rounds as inline assembly, in
//! the order Zen 1 needs) with a scalar 64-bit Poly1305 fused into the same
//! pass (avx2.rs, poly.rs), over one buffer or over split
//! buffers (an mbuf chain's segments) without copying them together.
//! RustCrypto's `chacha20`/`poly1305` (candidate (b)) stay as the fallback
//! of userspace builds on CPUs without AVX2 and as a reference in tests.
#![no_std]

// The own code is x86-64's (AVX2); elsewhere RustCrypto's serves.
#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod poly;

pub const KEY_LEN: usize = 32;
pub const NONCE_LEN: usize = 12;
pub const TAG_LEN: usize = 16;

/// One piece of a message: `len` bytes at `ptr` (sealed or opened in
/// place). C layout; the core passes an array of them.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct WgAeadSeg {
    pub ptr: *mut u8,
    pub len: usize,
}

/// Zeroes key material so that it does not outlive the call on the stack.
/// Aligned 8-byte stores for the middle: a keystream buffer is hundreds of
/// bytes, and a store a byte took about half as long as making them.
fn wipe(buf: &mut [u8]) {
    // SAFETY: every bit pattern is a valid u64 and a valid u8.
    let (head, mid, tail) = unsafe { buf.align_to_mut::<u64>() };
    for w in mid.iter_mut() {
        // SAFETY: `w` is a valid, aligned, exclusive reference; a volatile
        // write keeps the compiler from dropping the store as dead.
        unsafe { core::ptr::write_volatile(w, 0) };
    }
    for b in head.iter_mut().chain(tail.iter_mut()) {
        // SAFETY: as above, for a byte.
        unsafe { core::ptr::write_volatile(b, 0) };
    }
}

/// Tags compared in constant time.
#[cfg(target_arch = "x86_64")]
fn tag_eq(a: &[u8; TAG_LEN], b: &[u8; TAG_LEN]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

/// Whether the AVX2 code may run: always in the kernel object (compiled
/// for AVX2 and BMI2, and called only when the core's CPUID check passed);
/// by CPUID, once, in userspace builds.
#[cfg(target_arch = "x86_64")]
fn have_avx2() -> bool {
    if cfg!(all(target_feature = "avx2", target_feature = "bmi2")) {
        return true;
    }
    use core::sync::atomic::{AtomicU8, Ordering};
    static HAVE: AtomicU8 = AtomicU8::new(0);
    match HAVE.load(Ordering::Relaxed) {
        1 => false,
        2 => true,
        _ => {
            let on = cpu_has_avx2();
            HAVE.store(if on { 2 } else { 1 }, Ordering::Relaxed);
            on
        }
    }
}

/// Seals the pieces in place, in order, as one message; returns the tag.
/// AVX2 when the CPU has it, else RustCrypto's code (same bytes).
pub fn seal(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    segs: &mut [&mut [u8]],
) -> [u8; TAG_LEN] {
    #[cfg(target_arch = "x86_64")]
    if have_avx2() {
        let mut c = avx2::Cipher::new(key, nonce);
        // SAFETY: the CPU has AVX2 and BMI2 (checked above).
        let tag = unsafe {
            match segs {
                [one] => avx2::seal(&c, aad, one),
                _ => seal_stream(&c, aad, segs),
            }
        };
        c.wipe();
        return tag;
    }
    rustcrypto::seal(key, nonce, aad, segs)
}

/// Opens the pieces in place when `tag` verifies (compared in constant
/// time). On failure the pieces hold unspecified bytes (callers drop them).
pub fn open(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    segs: &mut [&mut [u8]],
    tag: &[u8; TAG_LEN],
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if have_avx2() {
        let mut c = avx2::Cipher::new(key, nonce);
        // SAFETY: the CPU has AVX2 and BMI2 (checked above).
        let ok = unsafe {
            match segs {
                [one] => avx2::open(&c, aad, one, tag),
                _ => open_stream(&c, aad, segs, tag),
            }
        };
        c.wipe();
        return ok;
    }
    rustcrypto::open(key, nonce, aad, segs, tag)
}

/// The split-buffer path: the keystream and the MAC run as streams over the
/// pieces (whose lengths need not be multiples of 64 or 16).
///
/// # Safety
/// The CPU has AVX2 and BMI2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi2")]
unsafe fn seal_stream(c: &avx2::Cipher, aad: &[u8], segs: &mut [&mut [u8]]) -> [u8; TAG_LEN] {
    let (mut st, mut mac) = avx2::Stream::start(c);
    mac.update(aad);
    mac.pad();
    let mut total = 0usize;
    for seg in segs.iter_mut() {
        st.apply(seg);
        mac.update(seg);
        total += seg.len();
    }
    st.wipe();
    mac.finish(aad.len(), total)
}

/// # Safety
/// The CPU has AVX2 and BMI2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi2")]
unsafe fn open_stream(
    c: &avx2::Cipher,
    aad: &[u8],
    segs: &mut [&mut [u8]],
    tag: &[u8; TAG_LEN],
) -> bool {
    let (mut st, mut mac) = avx2::Stream::start(c);
    mac.update(aad);
    mac.pad();
    let mut total = 0usize;
    for seg in segs.iter_mut() {
        mac.update(seg);
        st.apply(seg);
        total += seg.len();
    }
    st.wipe();
    tag_eq(&mac.finish(aad.len(), total), tag)
}

/// Candidate (b) of issue 12, kept for the benchmark and as a second
/// reference in tests: RustCrypto's `chacha20` 0.9 and `poly1305` 0.8 (their
/// AVX2 backends by CPUID), two passes over the data.
pub mod rustcrypto {
    use super::{wipe, KEY_LEN, NONCE_LEN, TAG_LEN};
    use chacha20::cipher::{KeyIvInit, StreamCipher};
    use chacha20::ChaCha20;
    use poly1305::universal_hash::{KeyInit, UniversalHash};
    use poly1305::Poly1305;
    use subtle::ConstantTimeEq;

    struct Mac {
        poly: Poly1305,
        carry: [u8; 16],
        used: usize,
    }

    impl Mac {
        fn update(&mut self, mut data: &[u8]) {
            if self.used > 0 {
                let take = (16 - self.used).min(data.len());
                let (head, rest) = data.split_at(take);
                self.carry[self.used..self.used + take].copy_from_slice(head);
                self.used += take;
                data = rest;
                if self.used < 16 {
                    return;
                }
                self.poly.update_padded(&self.carry);
                self.used = 0;
            }
            let whole = data.len() & !15;
            let (blocks, rest) = data.split_at(whole);
            // A multiple of 16 bytes: update_padded adds no padding here.
            self.poly.update_padded(blocks);
            self.carry[..rest.len()].copy_from_slice(rest);
            self.used = rest.len();
        }

        fn pad(&mut self) {
            if self.used > 0 {
                self.carry[self.used..].fill(0);
                self.poly.update_padded(&self.carry);
                self.used = 0;
            }
        }

        fn finish(mut self, aad_len: usize, ct_len: usize) -> [u8; TAG_LEN] {
            self.pad();
            let mut lens = [0u8; 16];
            lens[..8].copy_from_slice(&(aad_len as u64).to_le_bytes());
            lens[8..].copy_from_slice(&(ct_len as u64).to_le_bytes());
            self.poly.update_padded(&lens);
            wipe(&mut self.carry);
            self.poly.finalize().into()
        }
    }

    fn start(key: &[u8; KEY_LEN], nonce: &[u8; NONCE_LEN], aad: &[u8]) -> (ChaCha20, Mac) {
        let mut cipher = ChaCha20::new(key.into(), nonce.into());
        let mut block0 = [0u8; 64];
        cipher.apply_keystream(&mut block0);
        let mut otk = [0u8; 32];
        otk.copy_from_slice(&block0[..32]);
        let mut mac = Mac {
            poly: Poly1305::new(&otk.into()),
            carry: [0; 16],
            used: 0,
        };
        wipe(&mut block0);
        wipe(&mut otk);
        mac.update(aad);
        mac.pad();
        (cipher, mac)
    }

    pub fn seal(
        key: &[u8; KEY_LEN],
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        segs: &mut [&mut [u8]],
    ) -> [u8; TAG_LEN] {
        let (mut cipher, mut mac) = start(key, nonce, aad);
        let mut total = 0usize;
        for seg in segs.iter_mut() {
            cipher.apply_keystream(seg);
            mac.update(seg);
            total += seg.len();
        }
        mac.finish(aad.len(), total)
    }

    pub fn open(
        key: &[u8; KEY_LEN],
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        segs: &mut [&mut [u8]],
        tag: &[u8; TAG_LEN],
    ) -> bool {
        let (mut cipher, mut mac) = start(key, nonce, aad);
        let mut total = 0usize;
        for seg in segs.iter() {
            mac.update(seg);
            total += seg.len();
        }
        let ok: bool = mac.finish(aad.len(), total).ct_eq(tag).into();
        if ok {
            for seg in segs.iter_mut() {
                cipher.apply_keystream(seg);
            }
        }
        ok
    }
}

/// Up to this many pieces per message: an mbuf chain longer than this is
/// made contiguous by the caller first (what m_pullup/m_defrag are for).
pub const MAX_SEGS: usize = 16;

/// The C arguments as slices, on the stack; None for a NULL pointer with a
/// nonzero length or more than [`MAX_SEGS`] pieces.
///
/// # Safety
/// `segs` points to `nsegs` valid `WgAeadSeg`s (or is NULL with 0), each
/// naming `len` writable bytes (or NULL with 0), not overlapping.
unsafe fn with_segs<R>(
    segs: *const WgAeadSeg,
    nsegs: usize,
    f: impl FnOnce(&mut [&mut [u8]]) -> R,
) -> Option<R> {
    if nsegs > MAX_SEGS || (segs.is_null() && nsegs != 0) {
        return None;
    }
    let mut empty: [[u8; 0]; MAX_SEGS] = [[]; MAX_SEGS];
    let mut slices: [&mut [u8]; MAX_SEGS] = empty.each_mut().map(|e| &mut e[..]);
    for (i, slot) in slices.iter_mut().enumerate().take(nsegs) {
        // SAFETY: i < nsegs, and the caller vouches for nsegs entries.
        let s = unsafe { *segs.add(i) };
        if s.len == 0 {
            continue;
        }
        if s.ptr.is_null() {
            return None;
        }
        // SAFETY: the caller vouches that the piece is `len` writable bytes,
        // exclusive to this call and not overlapping another piece.
        *slot = unsafe { core::slice::from_raw_parts_mut(s.ptr, s.len) };
    }
    Some(f(&mut slices[..nsegs]))
}

/// # Safety
/// `ptr` is NULL with `len` 0, or points to `len` readable bytes.
unsafe fn bytes<'a>(ptr: *const u8, len: usize) -> Option<&'a [u8]> {
    if len == 0 {
        return Some(&[]);
    }
    if ptr.is_null() {
        return None;
    }
    // SAFETY: non-NULL and `len` readable bytes, by the caller's contract.
    Some(unsafe { core::slice::from_raw_parts(ptr, len) })
}

/// Seals `nsegs` pieces in place as one message and writes the 16-byte tag
/// to `tag`. Returns 0, or -1 (nothing done) for invalid arguments.
///
/// # Safety
/// `key` (32 bytes), `nonce` (12), `tag` (16, writable) are valid; `aad` is
/// `aad_len` readable bytes (NULL if 0); `segs` as for `with_segs`. In the
/// kernel: called only between fpu_kern_enter and fpu_kern_leave.
#[no_mangle]
pub unsafe extern "C" fn wg_aead_simd_seal(
    key: *const u8,
    nonce: *const u8,
    aad: *const u8,
    aad_len: usize,
    segs: *const WgAeadSeg,
    nsegs: usize,
    tag: *mut u8,
) -> i32 {
    if key.is_null() || nonce.is_null() || tag.is_null() {
        return -1;
    }
    // SAFETY: non-NULL, and sized as the caller's contract says.
    let (key, nonce) = unsafe {
        (
            &*key.cast::<[u8; KEY_LEN]>(),
            &*nonce.cast::<[u8; NONCE_LEN]>(),
        )
    };
    // SAFETY: as the caller's contract says.
    let Some(aad) = (unsafe { bytes(aad, aad_len) }) else {
        return -1;
    };
    // SAFETY: as the caller's contract says.
    match unsafe { with_segs(segs, nsegs, |s| seal(key, nonce, aad, s)) } {
        Some(t) => {
            // SAFETY: `tag` is 16 writable bytes.
            unsafe { tag.cast::<[u8; TAG_LEN]>().write_unaligned(t) };
            0
        }
        None => -1,
    }
}

/// Opens `nsegs` pieces in place when the 16-byte `tag` verifies. Returns 0,
/// or -1 for a wrong tag (the pieces then hold unspecified bytes, which the
/// caller drops) or invalid arguments (nothing done).
///
/// # Safety
/// As [`wg_aead_simd_seal`], with `tag` 16 readable bytes.
#[no_mangle]
pub unsafe extern "C" fn wg_aead_simd_open(
    key: *const u8,
    nonce: *const u8,
    aad: *const u8,
    aad_len: usize,
    segs: *const WgAeadSeg,
    nsegs: usize,
    tag: *const u8,
) -> i32 {
    if key.is_null() || nonce.is_null() || tag.is_null() {
        return -1;
    }
    // SAFETY: non-NULL, and sized as the caller's contract says.
    let (key, nonce, tag) = unsafe {
        (
            &*key.cast::<[u8; KEY_LEN]>(),
            &*nonce.cast::<[u8; NONCE_LEN]>(),
            tag.cast::<[u8; TAG_LEN]>().read_unaligned(),
        )
    };
    // SAFETY: as the caller's contract says.
    let Some(aad) = (unsafe { bytes(aad, aad_len) }) else {
        return -1;
    };
    // SAFETY: as the caller's contract says.
    match unsafe { with_segs(segs, nsegs, |s| open(key, nonce, aad, s, &tag)) } {
        Some(true) => 0,
        _ => -1,
    }
}

/// The kernel object's panic handler. Nothing above panics on any input
/// (slicing is by checked lengths); should it ever, the kernel panics with
/// a message, as the core's own handler does.
#[cfg(all(feature = "kernel", not(test)))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    extern "C" {
        fn wg_host_panic(msg: *const u8, len: usize);
    }
    const MSG: &[u8] = b"wg_aead: panic in the vector object";
    // SAFETY: MSG is a static buffer of MSG.len() bytes; the host's
    // wg_host_panic (sys/wg_host.h) does not return.
    unsafe { wg_host_panic(MSG.as_ptr(), MSG.len()) };
    loop {}
}

/// Whether this CPU and OS can run the AVX2 code: CPUID's AVX, AVX2 and
/// BMI2 bits (the MAC multiplies with BMI2's MULX: every AVX2 CPU from
/// Intel's Haswell and AMD's Excavator on has it), OSXSAVE, and XCR0's SSE
/// and AVX state bits (the OS saves YMM).
#[cfg(target_arch = "x86_64")]
pub fn cpu_has_avx2() -> bool {
    #[allow(unused_imports)]
    use core::arch::x86_64::{__cpuid, __cpuid_count};
    #[allow(unused_unsafe)]
    // SAFETY: CPUID exists on every x86-64 CPU and has no side effect.
    let (max, l1) = unsafe { (__cpuid(0).eax, __cpuid(1)) };
    let osxsave_avx = (1 << 27) | (1 << 28);
    if max < 7 || l1.ecx & osxsave_avx != osxsave_avx {
        return false;
    }
    #[allow(unused_unsafe)]
    // SAFETY: leaf 7 exists (max >= 7); no side effect.
    let l7 = unsafe { __cpuid_count(7, 0) };
    let avx2_bmi2 = (1 << 5) | (1 << 8);
    if l7.ebx & avx2_bmi2 != avx2_bmi2 {
        return false;
    }
    let lo: u32;
    // SAFETY: XGETBV with ECX 0 reads XCR0; it is allowed at any privilege
    // level once CR4.OSXSAVE is set (CPUID's OSXSAVE, checked above) and
    // touches no memory and no vector register.
    unsafe {
        core::arch::asm!("xgetbv", in("ecx") 0u32, out("eax") lo, out("edx") _,
            options(nomem, nostack, preserves_flags));
    }
    lo & 6 == 6
}

/// No AVX2 outside x86-64.
#[cfg(not(target_arch = "x86_64"))]
pub fn cpu_has_avx2() -> bool {
    false
}
