//! Keys are wiped before their memory goes back to the allocator, checked
//! through the C ABI as a kernel host would see it.
//!
//! The global allocator of this test binary is the whole process's, the
//! core's included (the userspace build of wg-ffi allocates through Rust's
//! global allocator, as the kernel build does through wg_host_alloc). On
//! every free made during a C ABI call it scans the block for the secrets
//! the scenario knows: the interface's private key, the peer's preshared
//! key, the static-static DH, the session keys of two handshakes (learned
//! by playing the peer with the core's own Noise code), and every 32-byte
//! draw from `wg_host_random` (the placeholder key, handshake ephemerals,
//! the cookie secret). A block that still holds one is a leak.
//!
//! Scenario: create a device, configure a private key and a peer with a
//! preshared key, read the configuration back (privileged), handshake as
//! responder and confirm the session with data, clear the sessions, handshake
//! as initiator, remove the peer, destroy the device.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::RwLock;

use wg_core::config::{AllowedIpChange, DeviceUpdate, Key, PeerUpdate};
use wg_core::cookie::CookieMaker;
use wg_core::noise::{decrypt_initiation, Handshake, StaticIdentity};
use wg_core::{allowedips::IpPrefix, crypto, nvconfig, Endpoint, Instant, WallTime};
use wg_ffi as _;

// --- the C ABI, declared as sys/wg_core.h declares it ------------------------

#[repr(C)]
struct WgTime {
    mono_ns: u64,
    real_ns: u64,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct WgEndpoint {
    family: u8,
    pad: u8,
    port: u16,
    flowinfo: u32,
    scope_id: u32,
    addr: [u8; 16],
}

#[repr(C)]
#[derive(Default)]
struct DecapResult {
    action: u32,
    peer: u32,
    poll: u32,
    pad: u32,
    offset: usize,
    len: usize,
}

#[repr(C)]
#[derive(Default)]
struct EncapResult {
    action: u32,
    peer: u32,
    poll: u32,
    pad: u32,
    len: usize,
    endpoint: WgEndpoint,
}

#[repr(C)]
#[derive(Default)]
struct PollResult {
    action: u32,
    has_deadline: u32,
    deadline: u64,
    len: usize,
    endpoint: WgEndpoint,
}

enum Dev {}

type PeerCb = Option<unsafe extern "C" fn(*mut core::ffi::c_void, u32, i32)>;

extern "C" {
    fn wg_core_dev_create(devp: *mut *mut Dev) -> i32;
    fn wg_core_dev_destroy(dev: *mut Dev);
    fn wg_core_set_config(
        dev: *mut Dev,
        now: *const WgTime,
        nvl: *const u8,
        len: usize,
        cb: PeerCb,
        arg: *mut core::ffi::c_void,
    ) -> i32;
    fn wg_core_check_config(
        dev: *mut Dev,
        nvl: *const u8,
        len: usize,
        port: *mut u16,
        cookie: *mut u32,
    ) -> i32;
    fn wg_core_get_config(dev: *mut Dev, privileged: i32, buf: *mut u8, lenp: *mut usize) -> i32;
    fn wg_core_decapsulate(
        dev: *mut Dev,
        now: *const WgTime,
        src: *const WgEndpoint,
        buf: *mut u8,
        len: usize,
        out: *mut u8,
        outlen: usize,
        res: *mut DecapResult,
    ) -> i32;
    fn wg_core_encapsulate(
        dev: *mut Dev,
        now: *const WgTime,
        buf: *mut u8,
        buflen: usize,
        len: usize,
        res: *mut EncapResult,
    ) -> i32;
    fn wg_core_poll_peer(
        dev: *mut Dev,
        peer: u32,
        now: *const WgTime,
        out: *mut u8,
        outlen: usize,
        res: *mut PollResult,
    ) -> i32;
    fn wg_core_dev_clear_sessions(dev: *mut Dev);
}

const DECAP_DONE: u32 = 0;
const DECAP_REPLY: u32 = 1;
const ENCAP_STAGED: u32 = 2;
const PEER_SEND: u32 = 1;
const PEER_FLUSH_STAGED: u32 = 2;

// --- the scanning allocator ----------------------------------------------------

const MAX_SECRETS: usize = 64;

struct Secrets {
    keys: [[u8; 32]; MAX_SECRETS],
    names: [&'static str; MAX_SECRETS],
    n: usize,
}

static SECRETS: RwLock<Secrets> = RwLock::new(Secrets {
    keys: [[0; 32]; MAX_SECRETS],
    names: [""; MAX_SECRETS],
    n: 0,
});
/// How many freed blocks held each secret.
static FOUND: [AtomicUsize; MAX_SECRETS] = [const { AtomicUsize::new(0) }; MAX_SECRETS];

thread_local! {
    /// Set during C ABI calls of this thread: what is freed then is the
    /// core's.
    static ARMED: Cell<bool> = const { Cell::new(false) };
}

fn remember(name: &'static str, key: &[u8; 32]) {
    let mut s = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    if s.n < MAX_SECRETS && !s.keys[..s.n].contains(key) {
        let n = s.n;
        s.keys[n] = *key;
        s.names[n] = name;
        s.n += 1;
    }
}

fn scan(block: &[u8]) {
    let s = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    for (key, found) in s.keys[..s.n].iter().zip(&FOUND) {
        if block.windows(32).any(|w| w == key) {
            found.fetch_add(1, Ordering::Relaxed);
        }
    }
}

struct Scanning;

// SAFETY: defers every operation to the system allocator; the scan only
// reads the block it is handed, before handing it back.
unsafe impl GlobalAlloc for Scanning {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ARMED.try_with(|a| a.get()).unwrap_or(false) {
            // SAFETY: `ptr` is a live block of `layout.size()` bytes (the
            // GlobalAlloc contract), all of it initialised or not read as
            // anything but bytes.
            scan(unsafe { std::slice::from_raw_parts(ptr, layout.size()) });
        }
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    // realloc: the default (alloc, copy, dealloc) frees through `dealloc`,
    // so a block a Vec outgrows is scanned too.
}

#[global_allocator]
static GLOBAL: Scanning = Scanning;

/// Runs a C ABI call with the scanner armed.
fn abi<T>(f: impl FnOnce() -> T) -> T {
    ARMED.with(|a| a.set(true));
    let r = f();
    ARMED.with(|a| a.set(false));
    r
}

/// Secrets found in freed blocks so far, by name.
fn leaks() -> Vec<(&'static str, usize)> {
    let s = SECRETS.read().unwrap();
    (0..s.n)
        .filter_map(|i| {
            let n = FOUND[i].load(Ordering::Relaxed);
            (n > 0).then_some((s.names[i], n))
        })
        .collect()
}

// --- the host's services ---------------------------------------------------------

static RNG: AtomicU64 = AtomicU64::new(0x5eed);

/// # Safety
/// `buf` is valid for `len` bytes of writes (sys/wg_host.h).
#[no_mangle]
pub unsafe extern "C" fn wg_host_random(buf: *mut core::ffi::c_void, len: usize) {
    // SAFETY: per the contract.
    let out = unsafe { std::slice::from_raw_parts_mut(buf.cast::<u8>(), len) };
    for chunk in out.chunks_mut(8) {
        let mut z = RNG
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
    }
    // Private keys, ephemerals and cookie secrets are the 32-byte draws.
    if let Ok(k) = <&[u8; 32]>::try_from(&*out) {
        remember("a 32-byte random draw", k);
    }
}

// --- the scenario ----------------------------------------------------------------

fn clamped(seed: u8) -> Key {
    let mut k = [seed; 32];
    crypto::clamp_private_key(&mut k);
    k
}

const PEER_EP: Endpoint = Endpoint::V4 {
    addr: [198, 51, 100, 9],
    port: 40000,
};

fn c_endpoint(e: Endpoint) -> WgEndpoint {
    let Endpoint::V4 { addr, port } = e else {
        unreachable!()
    };
    let mut c = WgEndpoint {
        family: 4,
        port,
        ..Default::default()
    };
    c.addr[..4].copy_from_slice(&addr);
    c
}

fn time(s: u64) -> WgTime {
    WgTime {
        mono_ns: 1_000_000_000_000 + s * 1_000_000_000,
        real_ns: 1_700_000_000_000_000_000 + s * 1_000_000_000,
    }
}

struct Host {
    dev: *mut Dev,
}

impl Host {
    fn set(&self, update: &DeviceUpdate, now: &WgTime) {
        let mut nvl = nvconfig::encode_set(update).unwrap();
        let rc = abi(|| {
            // SAFETY: a live device; nvl and now valid for the call.
            unsafe {
                wg_core_set_config(
                    self.dev,
                    now,
                    nvl.as_ptr(),
                    nvl.len(),
                    None,
                    std::ptr::null_mut(),
                )
            }
        });
        assert_eq!(rc, 0);
        let (mut port, mut cookie) = (0u16, 0u32);
        let rc = abi(|| {
            // SAFETY: as above, with valid out pointers.
            unsafe {
                wg_core_check_config(self.dev, nvl.as_ptr(), nvl.len(), &mut port, &mut cookie)
            }
        });
        assert_eq!(rc, 0);
        // The host's own copy: wiped, as kmod's explicit_bzero does.
        nvl.fill(0);
    }

    fn decap(&self, now: &WgTime, msg: &mut [u8], out: &mut [u8]) -> DecapResult {
        let mut r = DecapResult::default();
        let src = c_endpoint(PEER_EP);
        let rc = abi(|| {
            // SAFETY: a live device; every buffer valid for its length.
            unsafe {
                wg_core_decapsulate(
                    self.dev,
                    now,
                    &src,
                    msg.as_mut_ptr(),
                    msg.len(),
                    out.as_mut_ptr(),
                    out.len(),
                    &mut r,
                )
            }
        });
        assert_eq!(rc, 0, "decapsulate");
        r
    }

    fn poll(&self, now: &WgTime, out: &mut [u8]) -> PollResult {
        let mut r = PollResult::default();
        let rc = abi(|| {
            // SAFETY: a live device; out valid for its length.
            unsafe { wg_core_poll_peer(self.dev, 0, now, out.as_mut_ptr(), out.len(), &mut r) }
        });
        assert_eq!(rc, 0, "poll");
        r
    }
}

/// A data message of `plain` under the session `(send key, receiver)`.
fn data_message(key: &Key, receiver: u32, counter: u64, plain: &[u8]) -> Vec<u8> {
    let mut m = vec![0u8; 16];
    m[0] = 4;
    m[4..8].copy_from_slice(&receiver.to_le_bytes());
    m[8..16].copy_from_slice(&counter.to_le_bytes());
    let mut body = plain.to_vec();
    let tag = crypto::aead_seal(key, counter, &[], &mut body);
    m.extend_from_slice(&body);
    m.extend_from_slice(&tag);
    m
}

fn ipv4(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
    let mut p = vec![0u8; 32];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&32u16.to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&src);
    p[16..20].copy_from_slice(&dst);
    p
}

#[test]
fn keys_are_wiped_before_their_memory_is_freed() {
    let dev_private = clamped(0x31);
    let dev_public = crypto::public_key(&dev_private);
    let peer_private = clamped(0x32);
    let peer_public = crypto::public_key(&peer_private);
    let psk = [0x5c; 32];
    remember("the private key", &dev_private);
    remember("the preshared key", &psk);
    remember(
        "the static-static DH",
        &crypto::dh(&dev_private, &peer_public).unwrap(),
    );

    let mut devp: *mut Dev = std::ptr::null_mut();
    // SAFETY: devp is valid for writing one pointer.
    assert_eq!(abi(|| unsafe { wg_core_dev_create(&mut devp) }), 0);
    let host = Host { dev: devp };
    let t0 = time(0);
    host.set(
        &DeviceUpdate {
            private_key: Some(Some(dev_private)),
            listen_port: Some(51820),
            peers: vec![PeerUpdate {
                public_key: peer_public,
                preshared_key: Some(Some(psk)),
                endpoint: Some(PEER_EP),
                allowed_ips: vec![AllowedIpChange {
                    prefix: IpPrefix::new_v4([10, 0, 0, 2], 32).unwrap(),
                    remove: false,
                }],
                ..Default::default()
            }],
            ..Default::default()
        },
        &t0,
    );

    // The configuration read back with its keys, as SIOCGWG does.
    let mut need = 0usize;
    // SAFETY: a live device; need valid.
    let rc = abi(|| unsafe { wg_core_get_config(devp, 1, std::ptr::null_mut(), &mut need) });
    assert_eq!(rc, 0);
    let mut got = vec![0u8; need];
    let mut len = need;
    // SAFETY: got is valid for len bytes.
    let rc = abi(|| unsafe { wg_core_get_config(devp, 1, got.as_mut_ptr(), &mut len) });
    assert_eq!(rc, 0);
    assert!(
        got.windows(32).any(|w| w == dev_private),
        "privileged GET has the key"
    );
    got.fill(0);

    // Handshake 1: the peer initiates; the device answers.
    let peer_id = StaticIdentity::new(peer_private);
    let mut hs = Handshake::new(&peer_id, dev_public, Some(psk));
    let mut macs = CookieMaker::new(&dev_public);
    let mut init = [0u8; 148];
    hs.create_initiation(
        &peer_id,
        0x1111,
        clamped(0x41),
        WallTime::from_nanos(t0.real_ns),
        &mut init,
    )
    .unwrap();
    macs.add_macs(&mut init, Instant::from_nanos(t0.mono_ns));
    let mut out = [0u8; 148];
    let r = host.decap(&t0, &mut init, &mut out);
    assert_eq!((r.action, r.len), (DECAP_REPLY, 92));
    let resp: [u8; 92] = out[..92].try_into().unwrap();
    let keys = hs.consume_response(&peer_id, &resp).unwrap();
    remember("session 1 key, peer to device", &keys.send);
    remember("session 1 key, device to peer", &keys.recv);
    // The first data message confirms the session at the device.
    let mut m = data_message(
        &keys.send,
        keys.remote_index,
        0,
        &ipv4([10, 0, 0, 2], [10, 0, 0, 1]),
    );
    let r = host.decap(&t0, &mut m, &mut out);
    assert_eq!(r.action, 2, "delivered");

    // Interface down: every session wiped.
    // SAFETY: a live device.
    abi(|| unsafe { wg_core_dev_clear_sessions(devp) });

    // Handshake 2: the device initiates for a staged packet.
    let t1 = time(10);
    let pkt = ipv4([10, 0, 0, 1], [10, 0, 0, 2]);
    let mut buf = vec![0u8; 16 + pkt.len() + 31];
    buf[16..16 + pkt.len()].copy_from_slice(&pkt);
    let mut er = EncapResult::default();
    let (bp, bl, pl) = (buf.as_mut_ptr(), buf.len(), pkt.len());
    // SAFETY: buf valid for bl bytes.
    let rc = abi(|| unsafe { wg_core_encapsulate(devp, &t1, bp, bl, pl, &mut er) });
    assert_eq!((rc, er.action), (0, ENCAP_STAGED));
    let p = host.poll(&t1, &mut out);
    assert_eq!((p.action, p.len), (PEER_SEND, 148));
    let init: [u8; 148] = out[..148].try_into().unwrap();
    let consumed = decrypt_initiation(&peer_id, &init).unwrap();
    let mut resp = [0u8; 92];
    let keys2 = hs
        .consume_initiation_and_respond(
            &peer_id,
            &consumed,
            0x2222,
            clamped(0x42),
            Instant::from_nanos(t1.mono_ns),
            &mut resp,
        )
        .unwrap();
    remember("session 2 key, peer to device", &keys2.send);
    remember("session 2 key, device to peer", &keys2.recv);
    macs.add_macs(&mut resp, Instant::from_nanos(t1.mono_ns));
    let r = host.decap(&t1, &mut resp, &mut out);
    assert_eq!(r.action, DECAP_DONE);
    assert_eq!(host.poll(&t1, &mut out).action, PEER_FLUSH_STAGED);

    // Remove the peer: its keys, session keys and handshake state go.
    host.set(
        &DeviceUpdate {
            peers: vec![PeerUpdate {
                public_key: peer_public,
                remove: true,
                ..Default::default()
            }],
            ..Default::default()
        },
        &time(11),
    );
    assert_eq!(leaks(), vec![], "secrets in memory freed by peer removal");

    // SAFETY: created above, not used again.
    abi(|| unsafe { wg_core_dev_destroy(devp) });
    assert_eq!(leaks(), vec![], "secrets in memory freed by the device");
    let known = SECRETS.read().unwrap().n;
    assert!(known >= 10, "the scan knew {known} secrets");

    // The scanner itself: a block freed with a key in it is seen.
    let planted = abi(|| {
        let v = dev_private.to_vec();
        drop(v);
        leaks()
    });
    assert_eq!(planted, vec![("the private key", 1)]);
}
