//! The kernel build's vector ChaCha20-Poly1305 (feature kernel-simd, amd64):
//! the separate hard-float object of crate wg-aead, which
//! kbuild/build-kernel-lib.sh links beside this soft-float library, run
//! inside the shim's FPU sections (sys/wg_host.h: wg_host_fpu_enter/leave,
//! fpu_kern_enter(curthread, NULL, FPU_KERN_NOCTX) and fpu_kern_leave).
//!
//! Its entry points take only pointers and lengths and return an int, so no
//! vector register crosses this soft-float ABI; they are declared here by
//! hand because they are the object's, not the host's (sys/ has no header
//! for them).

use crate::bindings;
use wg_core::crypto::{FpuSection, SimdBackend, KEY_LEN, TAG_LEN};

/// A piece of a message, wg-aead's `WgAeadSeg` (C layout).
#[repr(C)]
struct Seg {
    ptr: *mut u8,
    len: usize,
}

extern "C" {
    fn wg_aead_simd_seal(
        key: *const u8,
        nonce: *const u8,
        aad: *const u8,
        aad_len: usize,
        segs: *const Seg,
        nsegs: usize,
        tag: *mut u8,
    ) -> i32;
    fn wg_aead_simd_open(
        key: *const u8,
        nonce: *const u8,
        aad: *const u8,
        aad_len: usize,
        segs: *const Seg,
        nsegs: usize,
        tag: *const u8,
    ) -> i32;
}

pub struct KernelSimd;

pub static KERNEL_SIMD: KernelSimd = KernelSimd;

impl SimdBackend for KernelSimd {
    /// AVX2 and BMI2 (the vector object's MAC uses MULX) with the YMM state
    /// enabled by the kernel in XCR0 (FreeBSD's fpuinit sets it when the
    /// CPU has AVX); CPUID and XGETBV here, in soft-float code, since the
    /// vector object may run only in a section. As wg_aead::cpu_has_avx2.
    fn usable(&self) -> bool {
        #[allow(unused_imports)]
        use core::arch::x86_64::{__cpuid, __cpuid_count};
        #[allow(unused_unsafe)]
        // SAFETY: CPUID exists on every amd64 CPU and has no side effect.
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
        // SAFETY: XGETBV with ECX 0 reads XCR0; allowed once CR4.OSXSAVE is
        // set (CPUID's OSXSAVE, checked above); no memory, no vector
        // register.
        unsafe {
            core::arch::asm!("xgetbv", in("ecx") 0u32, out("eax") lo, out("edx") _,
                options(nomem, nostack, preserves_flags));
        }
        lo & 6 == 6
    }

    fn enter(&self) {
        // SAFETY: no arguments; the shim's contract (sys/wg_host.h) is a
        // NOCTX section on this thread until wg_host_fpu_leave.
        unsafe { bindings::wg_host_fpu_enter() }
    }

    fn leave(&self) {
        // SAFETY: pairs the enter of the FpuSection being dropped.
        unsafe { bindings::wg_host_fpu_leave() }
    }

    fn seal(
        &self,
        _sec: &FpuSection,
        key: &[u8; KEY_LEN],
        nonce: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
    ) -> [u8; TAG_LEN] {
        let seg = Seg {
            ptr: buf.as_mut_ptr(),
            len: buf.len(),
        };
        let mut tag = [0u8; TAG_LEN];
        // SAFETY: key, nonce and tag are arrays of the sizes the object
        // reads and writes; aad and the one segment are live slices of their
        // lengths, the segment exclusive; `_sec` proves the FPU section. It
        // fails only for NULL pointers or too many segments, neither here.
        let _ = unsafe {
            wg_aead_simd_seal(
                key.as_ptr(),
                nonce.as_ptr(),
                aad.as_ptr(),
                aad.len(),
                &seg,
                1,
                tag.as_mut_ptr(),
            )
        };
        tag
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
        let seg = Seg {
            ptr: buf.as_mut_ptr(),
            len: buf.len(),
        };
        // SAFETY: as in `seal`, with `tag` 16 readable bytes.
        unsafe {
            wg_aead_simd_open(
                key.as_ptr(),
                nonce.as_ptr(),
                aad.as_ptr(),
                aad.len(),
                &seg,
                1,
                tag.as_ptr(),
            ) == 0
        }
    }
}
