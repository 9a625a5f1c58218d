//! The C ABI of the core (`sys/wg_core.h`), for the if_wg.ko shim.
//!
//! Everything here is translation: C pointers and structs into the core's
//! types and back, errors into errno values. The protocol lives in
//! `wg-core`; the types of `sys/*.h` come from bindgen (see `bindings.rs`),
//! so their layout is C's by construction.
#![no_std]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

#[allow(
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    dead_code,
    clippy::all
)]
#[rustfmt::skip]
mod bindings;

// The kernel build (`--no-default-features --features kernel`): global
// allocator and panic handler over the host's services. Not with `std`,
// which brings its own, nor in this crate's unit tests.
#[cfg(all(feature = "kernel", not(feature = "std"), not(test)))]
mod kernel;

// The kernel build's vector AEAD (amd64), registered with the core below.
#[cfg(all(feature = "kernel-simd", target_arch = "x86_64"))]
mod simd;

use alloc::boxed::Box;
use bindings::{
    wg_core_decap_result, wg_core_encap_result, wg_core_limits, wg_core_peer_cb,
    wg_core_peer_stats, wg_core_poll_result, wg_endpoint, wg_time,
};
use core::slice;
use wg_core::config::{DeviceUpdate, Key, Limits};
use wg_core::device::{ConfigChanges, Rng};
use wg_core::{Decap, Device, Encap, Endpoint, Error, PeerAction, PeerId, Time};

const EINVAL: i32 = 22;
const EFAULT: i32 = 14;
const ENOSPC: i32 = 28;
const ENOENT: i32 = 2;

/// Randomness from the host's `wg_host_random`.
struct HostRng;

impl Rng for HostRng {
    fn fill(&self, buf: &mut [u8]) {
        // SAFETY: `buf` is a valid, writable region of `buf.len()` bytes; the
        // host's contract is to fill exactly that many.
        unsafe { bindings::wg_host_random(buf.as_mut_ptr().cast(), buf.len()) }
    }
}

/// The opaque handle C code holds.
#[allow(non_camel_case_types)]
pub struct wg_core_dev {
    dev: Device,
}

fn time_of(now: *const wg_time) -> Option<Time> {
    // SAFETY: the caller passes NULL or a pointer to a live wg_time.
    let now = unsafe { now.as_ref() }?;
    Some(Time::from_nanos(now.mono_ns, now.real_ns))
}

fn endpoint_from_c(e: &wg_endpoint) -> Option<Endpoint> {
    match e.family as u32 {
        bindings::WG_CORE_AF_INET => {
            let mut addr = [0u8; 4];
            addr.copy_from_slice(&e.addr[..4]);
            Some(Endpoint::V4 { addr, port: e.port })
        }
        bindings::WG_CORE_AF_INET6 => Some(Endpoint::V6 {
            addr: e.addr,
            port: e.port,
            flowinfo: e.flowinfo,
            scope_id: e.scope_id,
        }),
        _ => None,
    }
}

fn endpoint_to_c(e: &Endpoint) -> wg_endpoint {
    let mut c = wg_endpoint {
        family: 0,
        pad: 0,
        port: e.port(),
        flowinfo: 0,
        scope_id: 0,
        addr: [0; 16],
    };
    match *e {
        Endpoint::V4 { addr, .. } => {
            c.family = bindings::WG_CORE_AF_INET as u8;
            c.addr[..4].copy_from_slice(&addr);
        }
        Endpoint::V6 {
            addr,
            flowinfo,
            scope_id,
            ..
        } => {
            c.family = bindings::WG_CORE_AF_INET6 as u8;
            c.addr = addr;
            c.flowinfo = flowinfo;
            c.scope_id = scope_id;
        }
    }
    c
}

/// # Safety
/// `dev` is NULL or a handle from `wg_core_dev_create` not yet destroyed.
unsafe fn dev_ref<'a>(dev: *const wg_core_dev) -> Option<&'a Device> {
    // SAFETY: per this function's contract.
    unsafe { dev.as_ref() }.map(|d| &d.dev)
}

/// # Safety
/// `p` is NULL or valid for `len` bytes of writes for the call's duration.
unsafe fn buf_mut<'a>(p: *mut u8, len: usize) -> Option<&'a mut [u8]> {
    if p.is_null() {
        return None;
    }
    // SAFETY: non-null, and valid for `len` bytes per the contract.
    Some(unsafe { slice::from_raw_parts_mut(p, len) })
}

fn err(e: Error) -> i32 {
    e.errno()
}

/// The kernel build's vector AEAD and the shim's FPU sections, before any
/// transport packet (once; later calls find them registered).
fn register_simd() {
    #[cfg(all(feature = "kernel-simd", target_arch = "x86_64"))]
    let _ = wg_core::crypto::set_simd_backend(&simd::KERNEL_SIMD);
}

/// Decides, once at load, whether transport ChaCha20-Poly1305 runs the
/// vector code (AVX2 on amd64, in FPU sections) or the portable code:
/// vector when `allow` is nonzero and the build and the CPU have it. Returns
/// 1 for vector, 0 for portable. `allow` 0 forces the portable path
/// (tests; a tunable).
#[no_mangle]
pub extern "C" fn wg_core_simd_select(allow: i32) -> i32 {
    register_simd();
    i32::from(wg_core::crypto::simd_select(allow != 0))
}

/// # Safety
/// `devp` is NULL or valid for writing one pointer.
#[no_mangle]
pub unsafe extern "C" fn wg_core_dev_create(devp: *mut *mut wg_core_dev) -> i32 {
    if devp.is_null() {
        return EFAULT;
    }
    // The kernel's locks before the first lock is made (once; later calls
    // find it registered).
    #[cfg(all(feature = "kernel", not(feature = "std"), not(test)))]
    let _ = wg_core::sync::set_lock_backend(&kernel::HOST_LOCKS);
    register_simd();
    let dev = match Device::new(Box::new(HostRng)) {
        Ok(dev) => Box::new(wg_core_dev { dev }),
        Err(e) => return err(e),
    };
    // SAFETY: devp is non-null and points to writable storage for a pointer.
    unsafe { *devp = Box::into_raw(dev) };
    0
}

/// # Safety
/// `dev` is NULL or a handle from `wg_core_dev_create`, with no call on it
/// in progress or to come.
#[no_mangle]
pub unsafe extern "C" fn wg_core_dev_destroy(dev: *mut wg_core_dev) {
    if !dev.is_null() {
        // SAFETY: created by Box::into_raw in wg_core_dev_create and, per the
        // contract, not used again; dropping it zeroizes every key.
        drop(unsafe { Box::from_raw(dev) });
    }
}

/// # Safety
/// `dev` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn wg_core_dev_set_mtu(dev: *mut wg_core_dev, mtu: u32) {
    // SAFETY: per the contract.
    if let Some(d) = unsafe { dev_ref(dev) } {
        d.set_mtu(mtu);
    }
}

/// # Safety
/// `dev` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn wg_core_set_bound_port(dev: *mut wg_core_dev, port: u16) {
    // SAFETY: per the contract.
    if let Some(d) = unsafe { dev_ref(dev) } {
        d.set_bound_port(port);
    }
}

/// # Safety
/// `dev` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn wg_core_dev_clear_sessions(dev: *mut wg_core_dev) {
    // SAFETY: per the contract.
    if let Some(d) = unsafe { dev_ref(dev) } {
        d.clear_all_sessions();
    }
}

/// # Safety
/// `dev` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn wg_core_dev_set_under_load(dev: *mut wg_core_dev, under_load: i32) {
    // SAFETY: per the contract.
    if let Some(d) = unsafe { dev_ref(dev) } {
        d.set_under_load(under_load != 0);
    }
}

/// # Safety
/// `dev` is NULL or a live handle; `lim` is NULL or valid for writing.
#[no_mangle]
pub unsafe extern "C" fn wg_core_dev_get_limits(
    dev: *mut wg_core_dev,
    lim: *mut wg_core_limits,
) -> i32 {
    // SAFETY: per the contract.
    let (Some(d), Some(lim)) = (unsafe { dev_ref(dev) }, unsafe { lim.as_mut() }) else {
        return EFAULT;
    };
    let l = d.limits();
    lim.max_peers = l.max_peers as u64;
    lim.max_allowed_ips_per_peer = l.max_allowed_ips_per_peer as u64;
    lim.max_allowed_ips_total = l.max_allowed_ips_total as u64;
    0
}

/// # Safety
/// `dev` is NULL or a live handle; `lim` is NULL or valid for reading.
#[no_mangle]
pub unsafe extern "C" fn wg_core_dev_set_limits(
    dev: *mut wg_core_dev,
    lim: *const wg_core_limits,
) -> i32 {
    // SAFETY: per the contract.
    let (Some(d), Some(lim)) = (unsafe { dev_ref(dev) }, unsafe { lim.as_ref() }) else {
        return EFAULT;
    };
    // Saturating: a limit past what the platform can count is no limit.
    let n = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    d.set_limits(Limits {
        max_peers: n(lim.max_peers),
        max_allowed_ips_per_peer: n(lim.max_allowed_ips_per_peer),
        max_allowed_ips_total: n(lim.max_allowed_ips_total),
    });
    0
}

fn fill_encap(r: Encap, res: &mut wg_core_encap_result) {
    match r {
        Encap::Send {
            peer,
            endpoint,
            len,
            poll,
        } => {
            res.action = bindings::WG_CORE_ENCAP_SEND;
            res.peer = peer.0;
            res.poll = poll as u32;
            res.len = len;
            res.endpoint = endpoint_to_c(&endpoint);
        }
        Encap::Staged { peer } => {
            res.action = bindings::WG_CORE_ENCAP_STAGED;
            res.peer = peer.0;
            res.poll = 1;
            res.len = 0;
        }
    }
}

/// # Safety
/// `dev` is NULL or a live handle, `now` NULL or valid, `pkts` NULL or valid
/// for `n` entries whose `buf` is NULL or valid for `buflen` bytes, no two
/// overlapping.
#[no_mangle]
pub unsafe extern "C" fn wg_core_encapsulate_batch(
    dev: *mut wg_core_dev,
    now: *const wg_time,
    pkts: *mut bindings::wg_core_encap_pkt,
    n: usize,
) -> i32 {
    const B: usize = wg_core::device::ENCAP_BATCH;
    // SAFETY: per the contract.
    let (Some(d), Some(now)) = (unsafe { dev_ref(dev) }, time_of(now)) else {
        return EFAULT;
    };
    if n == 0 {
        return 0;
    }
    if pkts.is_null() {
        return EFAULT;
    }
    // SAFETY: non-null and valid for n entries, per the contract.
    let pkts = unsafe { slice::from_raw_parts_mut(pkts, n) };
    for run in pkts.chunks_mut(B) {
        let mut bufs: [(&mut [u8], usize); B] = core::array::from_fn(|_| (&mut [][..], 0));
        let mut out: [wg_core::Result<Encap>; B] = [Err(Error::BufferTooSmall); B];
        for (b, p) in bufs.iter_mut().zip(run.iter()) {
            // SAFETY: NULL or valid for buflen bytes, not overlapping
            // another packet's, per the contract. A NULL buffer stays
            // empty: the core refuses it (BufferTooSmall), as EFAULT below.
            if let Some(buf) = unsafe { buf_mut(p.buf, p.buflen) } {
                *b = (buf, p.len);
            }
        }
        let k = run.len();
        d.encapsulate_batch(now, &mut bufs[..k], &mut out[..k]);
        for (p, r) in run.iter_mut().zip(out) {
            p.error = if p.buf.is_null() {
                EFAULT
            } else {
                match r {
                    Ok(r) => {
                        fill_encap(r, &mut p.res);
                        0
                    }
                    Err(e) => err(e),
                }
            };
        }
    }
    0
}

/// # Safety
/// Pointers are NULL or valid: `buf` for `buflen` bytes, the others for
/// their types; `dev` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn wg_core_encapsulate(
    dev: *mut wg_core_dev,
    now: *const wg_time,
    buf: *mut u8,
    buflen: usize,
    len: usize,
    res: *mut wg_core_encap_result,
) -> i32 {
    // SAFETY: per the contract.
    unsafe { encap(dev, None, now, buf, buflen, len, res) }
}

/// # Safety
/// As `wg_core_encapsulate`.
#[no_mangle]
pub unsafe extern "C" fn wg_core_encapsulate_to(
    dev: *mut wg_core_dev,
    peer: u32,
    now: *const wg_time,
    buf: *mut u8,
    buflen: usize,
    len: usize,
    res: *mut wg_core_encap_result,
) -> i32 {
    // SAFETY: per the contract.
    unsafe { encap(dev, Some(PeerId(peer)), now, buf, buflen, len, res) }
}

/// # Safety
/// As `wg_core_encapsulate`.
unsafe fn encap(
    dev: *mut wg_core_dev,
    peer: Option<PeerId>,
    now: *const wg_time,
    buf: *mut u8,
    buflen: usize,
    len: usize,
    res: *mut wg_core_encap_result,
) -> i32 {
    // SAFETY: per the contract of the callers.
    let (Some(d), Some(now), Some(buf), Some(res)) = (
        unsafe { dev_ref(dev) },
        time_of(now),
        unsafe { buf_mut(buf, buflen) },
        unsafe { res.as_mut() },
    ) else {
        return EFAULT;
    };
    let r = match peer {
        Some(p) => d.encapsulate_to(p, now, buf, len),
        None => d.encapsulate(now, buf, len),
    };
    match r {
        Ok(r) => {
            fill_encap(r, res);
            0
        }
        Err(e) => err(e),
    }
}

/// # Safety
/// Pointers are NULL or valid: `buf` for `len` bytes, `out` for `outlen`
/// bytes, the others for their types; `dev` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn wg_core_decapsulate(
    dev: *mut wg_core_dev,
    now: *const wg_time,
    src: *const wg_endpoint,
    buf: *mut u8,
    len: usize,
    out: *mut u8,
    outlen: usize,
    res: *mut wg_core_decap_result,
) -> i32 {
    // SAFETY: per the contract.
    let (Some(d), Some(now), Some(src), Some(buf), Some(out), Some(res)) = (
        unsafe { dev_ref(dev) },
        time_of(now),
        unsafe { src.as_ref() },
        unsafe { buf_mut(buf, len) },
        unsafe { buf_mut(out, outlen) },
        unsafe { res.as_mut() },
    ) else {
        return EFAULT;
    };
    let Some(src) = endpoint_from_c(src) else {
        return EINVAL;
    };
    match d.decapsulate(now, src, buf, out) {
        Ok(r) => {
            res.peer = r.peer.map_or(u32::MAX, |p| p.0);
            res.poll = r.poll as u32;
            res.offset = 0;
            res.len = 0;
            match r.action {
                Decap::Done => res.action = bindings::WG_CORE_DECAP_DONE,
                Decap::Reply { len } => {
                    res.action = bindings::WG_CORE_DECAP_REPLY;
                    res.len = len;
                }
                Decap::Tunnel { offset, len } => {
                    res.action = bindings::WG_CORE_DECAP_TUNNEL;
                    res.offset = offset;
                    res.len = len;
                }
            }
            0
        }
        Err(e) => err(e),
    }
}

/// # Safety
/// Pointers are NULL or valid: `out` for `outlen` bytes, the others for
/// their types; `dev` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn wg_core_poll_peer(
    dev: *mut wg_core_dev,
    peer: u32,
    now: *const wg_time,
    out: *mut u8,
    outlen: usize,
    res: *mut wg_core_poll_result,
) -> i32 {
    // SAFETY: per the contract.
    let (Some(d), Some(now), Some(out), Some(res)) = (
        unsafe { dev_ref(dev) },
        time_of(now),
        unsafe { buf_mut(out, outlen) },
        unsafe { res.as_mut() },
    ) else {
        return EFAULT;
    };
    match d.poll_peer(PeerId(peer), now, out) {
        Ok(a) => {
            res.has_deadline = 0;
            res.deadline = 0;
            res.len = 0;
            match a {
                PeerAction::Send { endpoint, len } => {
                    res.action = bindings::WG_CORE_PEER_SEND;
                    res.len = len;
                    res.endpoint = endpoint_to_c(&endpoint);
                }
                PeerAction::FlushStaged => res.action = bindings::WG_CORE_PEER_FLUSH_STAGED,
                PeerAction::DropStaged => res.action = bindings::WG_CORE_PEER_DROP_STAGED,
                PeerAction::Idle { next_deadline } => {
                    res.action = bindings::WG_CORE_PEER_IDLE;
                    if let Some(t) = next_deadline {
                        res.has_deadline = 1;
                        res.deadline = t.as_nanos();
                    }
                }
            }
            0
        }
        Err(e) => err(e),
    }
}

fn report(changes: &ConfigChanges, cb: wg_core_peer_cb, arg: *mut core::ffi::c_void) {
    let Some(cb) = cb else { return };
    for p in &changes.removed {
        // SAFETY: the host registered `cb` with `arg` for exactly this call.
        unsafe { cb(arg, p.0, bindings::WG_CORE_PEER_REMOVED as i32) };
    }
    for p in &changes.touched {
        // SAFETY: as above.
        unsafe { cb(arg, p.0, bindings::WG_CORE_PEER_TOUCHED as i32) };
    }
}

/// # Safety
/// Pointers are NULL or valid: `nvl` for `len` bytes of reads, `now` for
/// its type; `dev` is a live handle; `cb`, if set, may be called with `arg`.
#[no_mangle]
pub unsafe extern "C" fn wg_core_set_config(
    dev: *mut wg_core_dev,
    now: *const wg_time,
    nvl: *const u8,
    len: usize,
    cb: wg_core_peer_cb,
    arg: *mut core::ffi::c_void,
) -> i32 {
    // SAFETY: per the contract.
    let (Some(d), Some(now)) = (unsafe { dev_ref(dev) }, time_of(now)) else {
        return EFAULT;
    };
    if nvl.is_null() || len == 0 {
        return EFAULT;
    }
    // SAFETY: non-null and valid for `len` bytes of reads per the contract.
    let bytes = unsafe { slice::from_raw_parts(nvl, len) };
    let mut update = match decode_set(bytes, d) {
        Ok(u) => u,
        Err(e) => return err(e),
    };
    let r = apply_set(d, now, &update);
    update.zeroize_secrets();
    match r {
        Ok(changes) => {
            report(&changes, cb, arg);
            0
        }
        Err(e) => err(e),
    }
}

/// Decoding a SET and applying it each get their own stack frame: inlined
/// together into `wg_core_set_config` (fat LTO) they made one frame of
/// 2.2 KiB, more than the kernel build lets one function have
/// (kbuild/audit.py).
#[inline(never)]
fn decode_set(bytes: &[u8], d: &Device) -> Result<DeviceUpdate, Error> {
    wg_core::nvconfig::decode_set(bytes, &d.limits())
}

/// See [`decode_set`].
#[inline(never)]
fn apply_set(d: &Device, now: Time, update: &DeviceUpdate) -> Result<ConfigChanges, Error> {
    d.set_config(now, update)
}

/// # Safety
/// `lenp` is NULL or valid; `buf` is NULL or valid for `*lenp` bytes;
/// `dev` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn wg_core_get_config(
    dev: *mut wg_core_dev,
    privileged: i32,
    buf: *mut u8,
    lenp: *mut usize,
) -> i32 {
    // SAFETY: per the contract.
    let (Some(d), Some(lenp)) = (unsafe { dev_ref(dev) }, unsafe { lenp.as_mut() }) else {
        return EFAULT;
    };
    let info = match d.config(privileged != 0) {
        Ok(i) => i,
        Err(e) => return err(e),
    };
    let mut packed = match wg_core::nvconfig::encode_get(&info) {
        Ok(p) => p,
        Err(e) => return err(e),
    };
    let rc = if *lenp == 0 {
        *lenp = packed.len();
        0
    } else if *lenp < packed.len() {
        ENOSPC
    // SAFETY: `buf` is valid for `*lenp` bytes per the contract.
    } else if let Some(out) = unsafe { buf_mut(buf, *lenp) } {
        out[..packed.len()].copy_from_slice(&packed);
        *lenp = packed.len();
        0
    } else {
        EFAULT
    };
    // The buffer may hold the private key.
    zeroize::Zeroize::zeroize(packed.as_mut_slice());
    rc
}

/// # Safety
/// `st` is NULL or valid; `dev` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn wg_core_peer_stats(
    dev: *mut wg_core_dev,
    peer: u32,
    st: *mut wg_core_peer_stats,
) -> i32 {
    // SAFETY: per the contract.
    let (Some(d), Some(st)) = (unsafe { dev_ref(dev) }, unsafe { st.as_mut() }) else {
        return EFAULT;
    };
    let Some(info) = d.peer_info(PeerId(peer)) else {
        return ENOENT;
    };
    st.rx_bytes = info.rx_bytes;
    st.tx_bytes = info.tx_bytes;
    st.last_handshake_sec = info.last_handshake.0;
    st.last_handshake_nsec = info.last_handshake.1 as u64;
    let k: Key = info.public_key;
    st.public_key = k;
    0
}

/// # Safety
/// `head` is NULL or valid for `headlen` bytes of reads.
#[no_mangle]
pub unsafe extern "C" fn wg_core_datagram_kind(head: *const u8, headlen: usize, len: usize) -> i32 {
    if head.is_null() {
        return 0;
    }
    // SAFETY: non-null and valid for `headlen` bytes of reads per the contract.
    let head = unsafe { slice::from_raw_parts(head, headlen) };
    match wg_core::messages::classify_head(head, len) {
        Ok(wg_core::messages::MessageType::Data) => bindings::WG_CORE_DGRAM_DATA as i32,
        Ok(_) => bindings::WG_CORE_DGRAM_HANDSHAKE as i32,
        Err(_) => 0,
    }
}

/// The socket layer's addresses in the configuration's codec of FreeBSD's
/// sockaddrs (`nvconfig`), so that the shim need not know their layout.
///
/// # Safety
/// `sa` is NULL or valid for `salen` bytes of reads; `e` is NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn wg_core_endpoint_from_sockaddr(
    sa: *const u8,
    salen: usize,
    e: *mut wg_endpoint,
) -> i32 {
    // SAFETY: per the contract.
    let Some(out) = (unsafe { e.as_mut() }) else {
        return EFAULT;
    };
    if sa.is_null() {
        return EFAULT;
    }
    // SAFETY: non-null and valid for `salen` bytes of reads per the contract.
    let b = unsafe { slice::from_raw_parts(sa, salen) };
    match wg_core::nvconfig::decode_sockaddr(b, true) {
        Ok(ep) => {
            *out = endpoint_to_c(&ep);
            0
        }
        Err(e) => err(e),
    }
}

/// # Safety
/// `e` and `salen` are NULL or valid; `sa` is NULL or valid for `*salen`
/// bytes of writes.
#[no_mangle]
pub unsafe extern "C" fn wg_core_endpoint_to_sockaddr(
    e: *const wg_endpoint,
    sa: *mut u8,
    salen: *mut usize,
) -> i32 {
    // SAFETY: per the contract.
    let (Some(e), Some(len)) = (unsafe { e.as_ref() }, unsafe { salen.as_mut() }) else {
        return EFAULT;
    };
    if sa.is_null() {
        return EFAULT;
    }
    let Some(ep) = endpoint_from_c(e) else {
        return EINVAL;
    };
    let (b, n) = wg_core::nvconfig::encode_sockaddr(&ep);
    let Some(room) = b.get(..n).filter(|_| n <= *len) else {
        return ENOSPC;
    };
    // SAFETY: `sa` is valid for `*len` >= `n` bytes of writes per the
    // contract, and cannot overlap the local `b`.
    unsafe { core::ptr::copy_nonoverlapping(room.as_ptr(), sa, n) };
    *len = n;
    0
}

/// # Safety
/// `pkt` is NULL or valid for `len` bytes of reads; `peer` is NULL or
/// valid; `dev` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn wg_core_route(
    dev: *mut wg_core_dev,
    pkt: *const u8,
    len: usize,
    peer: *mut u32,
) -> i32 {
    // SAFETY: per the contract.
    let (Some(d), Some(out)) = (unsafe { dev_ref(dev) }, unsafe { peer.as_mut() }) else {
        return EFAULT;
    };
    if pkt.is_null() {
        return EFAULT;
    }
    // SAFETY: non-null and valid for `len` bytes of reads per the contract.
    let pkt = unsafe { slice::from_raw_parts(pkt, len) };
    match d.route_packet(pkt) {
        Ok(p) => {
            *out = p.0;
            0
        }
        Err(Error::NoRoute) => ENOENT,
        Err(e) => err(e),
    }
}

/// # Safety
/// `port` and `cookie` are NULL or valid; `dev` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn wg_core_get_listen_port(
    dev: *mut wg_core_dev,
    port: *mut u16,
    cookie: *mut u32,
) -> i32 {
    // SAFETY: per the contract.
    let (Some(d), Some(port), Some(cookie)) =
        (unsafe { dev_ref(dev) }, unsafe { port.as_mut() }, unsafe {
            cookie.as_mut()
        })
    else {
        return EFAULT;
    };
    *port = d.listen_port();
    *cookie = d.user_cookie();
    0
}

/// # Safety
/// `nvl` is NULL or valid for `len` bytes of reads; `port` and `cookie`
/// are NULL or valid; `dev` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn wg_core_check_config(
    dev: *mut wg_core_dev,
    nvl: *const u8,
    len: usize,
    port: *mut u16,
    cookie: *mut u32,
) -> i32 {
    // SAFETY: per the contract.
    let (Some(d), Some(port), Some(cookie)) =
        (unsafe { dev_ref(dev) }, unsafe { port.as_mut() }, unsafe {
            cookie.as_mut()
        })
    else {
        return EFAULT;
    };
    if nvl.is_null() || len == 0 {
        return EFAULT;
    }
    // SAFETY: non-null and valid for `len` bytes of reads per the contract.
    let bytes = unsafe { slice::from_raw_parts(nvl, len) };
    let mut update = match wg_core::nvconfig::decode_set(bytes, &d.limits()) {
        Ok(u) => u,
        Err(e) => return err(e),
    };
    let r = d.check_config(&update);
    update.zeroize_secrets();
    match r {
        Ok((p, c)) => {
            *port = p;
            *cookie = c;
            0
        }
        Err(e) => err(e),
    }
}
