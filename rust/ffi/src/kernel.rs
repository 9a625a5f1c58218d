//! What a `no_std` staticlib needs to live inside if_wg.ko: a global
//! allocator over the host's `wg_host_alloc`/`wg_host_free`, and a panic
//! handler that ends in the host's `wg_host_panic` (the shim calls
//! panic(9)).
//!
//! Built only with feature `kernel` and without `std` (the kernel build is
//! `--no-default-features --features kernel`, see kbuild/build-kernel-lib.sh).
//!
//! Allocation failure: `alloc` returns NULL, so `try_reserve` and friends
//! (used on every configuration path that can be asked for a lot) report
//! `Error::NoMemory`. An infallible allocation that fails goes to the
//! default alloc error handler of `no_std` + `alloc`, which panics (stable
//! since Rust 1.68; `#[alloc_error_handler]` stays unstable and is not
//! needed).

use crate::bindings;
use core::alloc::{GlobalAlloc, Layout};
use core::fmt::{self, Write};
use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

/// The Rust global allocator of the kernel build: the shim's malloc(9)
/// (`M_WG`), only for configuration-time structures.
struct HostAlloc;

// SAFETY: `wg_host_alloc` returns NULL or a block of at least `size` bytes
// aligned to `align` (a power of two, as `Layout` guarantees), which stays
// valid until handed back to `wg_host_free` with the same size and
// alignment; that is the contract of sys/wg_host.h, and the GlobalAlloc
// contract then holds for the methods below.
unsafe impl GlobalAlloc for HostAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: FFI call with plain integers; the host answers NULL on
        // failure, which is what GlobalAlloc::alloc must return then.
        unsafe { bindings::wg_host_alloc(layout.size(), layout.align()) }.cast()
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: per GlobalAlloc's contract `ptr` came from `alloc` above
        // with this same `layout`, so size and align are the ones the host
        // allocated it with.
        unsafe { bindings::wg_host_free(ptr.cast(), layout.size(), layout.align()) }
    }
}

#[global_allocator]
static ALLOCATOR: HostAlloc = HostAlloc;

/// Room for "wg_core panic: <message> at <file>:<line>:<col>"; longer text
/// is cut. A fixed buffer on the stack: no allocation while panicking.
const PANIC_MSG_MAX: usize = 160;

struct Truncating {
    buf: [u8; PANIC_MSG_MAX],
    len: usize,
}

impl Write for Truncating {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = PANIC_MSG_MAX - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        // Never an error: a cut message beats none.
        Ok(())
    }
}

/// Set by the first panic: a panic while formatting the first one's message
/// goes straight to the host with a fixed text instead of recursing.
static PANICKING: AtomicBool = AtomicBool::new(false);

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    let mut out = Truncating {
        buf: [0; PANIC_MSG_MAX],
        len: 0,
    };
    if PANICKING.swap(true, Ordering::Relaxed) {
        let _ = out.write_str("wg_core panic while panicking");
    } else {
        let _ = write!(out, "wg_core panic: {}", info.message());
        if let Some(loc) = info.location() {
            let _ = write!(out, " at {}:{}:{}", loc.file(), loc.line(), loc.column());
        }
    }
    // SAFETY: `out.buf[..out.len]` is initialised and lives for the call;
    // the host reads exactly `len` bytes and does not keep the pointer.
    unsafe { bindings::wg_host_panic(out.buf.as_ptr().cast(), out.len) };
    // wg_host_panic must not return; if a host breaks that, stop here.
    loop {
        core::hint::spin_loop();
    }
}

/// The core's locks over the host's mtx(9) and rw(9) (sys/wg_host.h): a
/// spin lock in a preemptive kernel can leave every CPU spinning on a
/// preempted holder. Registered by `wg_core_dev_create` before the first
/// device makes any lock.
use core::ffi::CStr;

pub struct HostLocks;

pub static HOST_LOCKS: HostLocks = HostLocks;

fn handle(p: *mut core::ffi::c_void) -> Option<usize> {
    (!p.is_null()).then_some(p as usize)
}

fn ptr(h: usize) -> *mut core::ffi::c_void {
    h as *mut core::ffi::c_void
}

// Every call below passes a handle that `*_create` returned and that the
// core frees only once, after its last use (wg_core::sync's contract).
impl wg_core::sync::LockBackend for HostLocks {
    fn mutex_new(&self, name: &'static CStr) -> Option<usize> {
        // SAFETY: name is NUL-terminated and static, as the host keeps it
        // for the lock's life; NULL means no memory.
        handle(unsafe { bindings::wg_host_mutex_create(name.as_ptr()) })
    }
    fn mutex_free(&self, h: usize) {
        // SAFETY: a live handle from wg_host_mutex_create, freed once.
        unsafe { bindings::wg_host_mutex_destroy(ptr(h)) }
    }
    fn mutex_lock(&self, h: usize) {
        // SAFETY: a live handle from wg_host_mutex_create.
        unsafe { bindings::wg_host_mutex_lock(ptr(h)) }
    }
    fn mutex_unlock(&self, h: usize) {
        // SAFETY: a live handle, locked by this thread (guards pair them).
        unsafe { bindings::wg_host_mutex_unlock(ptr(h)) }
    }
    fn rwlock_new(&self, name: &'static CStr) -> Option<usize> {
        // SAFETY: name is NUL-terminated and static, as the host keeps it
        // for the lock's life; NULL means no memory.
        handle(unsafe { bindings::wg_host_rwlock_create(name.as_ptr()) })
    }
    fn rwlock_free(&self, h: usize) {
        // SAFETY: a live handle from wg_host_rwlock_create, freed once.
        unsafe { bindings::wg_host_rwlock_destroy(ptr(h)) }
    }
    fn read_lock(&self, h: usize) {
        // SAFETY: a live handle from wg_host_rwlock_create.
        unsafe { bindings::wg_host_rwlock_rlock(ptr(h)) }
    }
    fn read_unlock(&self, h: usize) {
        // SAFETY: a live handle, read-locked by this thread.
        unsafe { bindings::wg_host_rwlock_runlock(ptr(h)) }
    }
    fn write_lock(&self, h: usize) {
        // SAFETY: a live handle from wg_host_rwlock_create.
        unsafe { bindings::wg_host_rwlock_wlock(ptr(h)) }
    }
    fn write_unlock(&self, h: usize) {
        // SAFETY: a live handle, write-locked by this thread.
        unsafe { bindings::wg_host_rwlock_wunlock(ptr(h)) }
    }
}
