//! The limits and their errno through the C ABI, as the kernel shim sees
//! them (sys/wg_core.h, "Errors of configuration"), with a capturing
//! `wg_host_log` that must never hear key material on any of these error
//! paths (the core does not log today; this holds it to that contract).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use wg_core::config::{AllowedIpChange, DeviceUpdate, Key, PeerUpdate};
use wg_core::nvlist::{self, Nvlist};
use wg_core::{allowedips::IpPrefix, crypto, nvconfig};
use wg_ffi as _;

#[repr(C)]
struct WgTime {
    mono_ns: u64,
    real_ns: u64,
}

#[repr(C)]
#[derive(Default)]
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
#[derive(Default, Debug, PartialEq)]
struct Limits {
    max_peers: u64,
    max_allowed_ips_per_peer: u64,
    max_allowed_ips_total: u64,
}

enum Dev {}

type PeerCb = Option<unsafe extern "C" fn(*mut core::ffi::c_void, u32, i32)>;

extern "C" {
    fn wg_core_dev_create(devp: *mut *mut Dev) -> i32;
    fn wg_core_dev_destroy(dev: *mut Dev);
    fn wg_core_dev_get_limits(dev: *mut Dev, lim: *mut Limits) -> i32;
    fn wg_core_dev_set_limits(dev: *mut Dev, lim: *const Limits) -> i32;
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
}

const E2BIG: i32 = 7;
const EINVAL: i32 = 22;
const ENOSPC: i32 = 28;
const EFAULT: i32 = 14;
const EBADMSG: i32 = 89;

static RNG: AtomicU64 = AtomicU64::new(1);
static LOG: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// # Safety
/// `buf` is valid for `len` bytes of writes (sys/wg_host.h).
#[no_mangle]
pub unsafe extern "C" fn wg_host_random(buf: *mut core::ffi::c_void, len: usize) {
    // SAFETY: per the contract.
    let out = unsafe { std::slice::from_raw_parts_mut(buf.cast::<u8>(), len) };
    for b in out {
        *b = (RNG.fetch_add(0x9E37_79B9, Ordering::Relaxed) >> 7) as u8;
    }
}

/// # Safety
/// `msg` is valid for `len` bytes of reads (sys/wg_host.h).
#[no_mangle]
pub unsafe extern "C" fn wg_host_log(_level: i32, msg: *const core::ffi::c_char, len: usize) {
    // SAFETY: per the contract.
    let m = unsafe { std::slice::from_raw_parts(msg.cast::<u8>(), len) };
    let mut log = LOG.lock().unwrap_or_else(|e| e.into_inner());
    log.extend_from_slice(m);
    log.push(b'\n');
}

fn clamped(seed: u8) -> Key {
    let mut k = [seed; 32];
    crypto::clamp_private_key(&mut k);
    k
}

fn peer_key(i: u32) -> Key {
    let mut k = [0x42; 32];
    k[..4].copy_from_slice(&i.to_le_bytes());
    k
}

const NOW: WgTime = WgTime {
    mono_ns: 1_000_000_000_000,
    real_ns: 1_700_000_000_000_000_000,
};

struct Host(*mut Dev);

impl Host {
    fn new() -> Host {
        let mut d = std::ptr::null_mut();
        // SAFETY: d is valid for writing one pointer.
        assert_eq!(unsafe { wg_core_dev_create(&mut d) }, 0);
        Host(d)
    }

    /// set_config's errno, after check_config agreed with it.
    fn set_bytes(&self, nvl: &[u8]) -> i32 {
        let (mut port, mut cookie) = (0u16, 0u32);
        // SAFETY: a live device; nvl valid for its length.
        let checked = unsafe {
            wg_core_check_config(self.0, nvl.as_ptr(), nvl.len(), &mut port, &mut cookie)
        };
        // SAFETY: as above.
        let rc = unsafe {
            wg_core_set_config(
                self.0,
                &NOW,
                nvl.as_ptr(),
                nvl.len(),
                None,
                std::ptr::null_mut(),
            )
        };
        assert_eq!(checked, rc, "check_config and set_config agree");
        rc
    }

    fn set(&self, u: &DeviceUpdate) -> i32 {
        self.set_bytes(&nvconfig::encode_set(u).unwrap())
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        // SAFETY: created by wg_core_dev_create, not used again.
        unsafe { wg_core_dev_destroy(self.0) }
    }
}

fn peer(i: u32, routes: &[[u8; 4]]) -> PeerUpdate {
    PeerUpdate {
        public_key: peer_key(i),
        allowed_ips: routes
            .iter()
            .map(|a| AllowedIpChange {
                prefix: IpPrefix::new_v4(*a, 32).unwrap(),
                remove: false,
            })
            .collect(),
        ..Default::default()
    }
}

fn peers(range: std::ops::Range<u32>) -> DeviceUpdate {
    DeviceUpdate {
        peers: range.map(|i| peer(i, &[])).collect(),
        ..Default::default()
    }
}

/// A SET giving peer 0 the endpoint `sa`.
fn with_endpoint(sa: &[u8]) -> Vec<u8> {
    let mut p = Nvlist::new();
    p.add_binary("public-key", &peer_key(0)).unwrap();
    p.add_binary("endpoint", sa).unwrap();
    let mut top = Nvlist::new();
    top.add_nvlist_array("peers", vec![p]).unwrap();
    nvlist::pack(&top).unwrap()
}

#[test]
fn limits_and_their_errno_through_the_c_abi() {
    let private = clamped(0x51);
    let psk = [0x3c; 32];
    let h = Host::new();

    let mut lim = Limits::default();
    // SAFETY: a live device; lim valid.
    assert_eq!(unsafe { wg_core_dev_get_limits(h.0, &mut lim) }, 0);
    assert_eq!(
        lim,
        Limits {
            max_peers: 262_144,
            max_allowed_ips_per_peer: 1 << 20,
            max_allowed_ips_total: 1 << 21,
        }
    );
    let small = Limits {
        max_peers: 3,
        max_allowed_ips_per_peer: 2,
        max_allowed_ips_total: 4,
    };
    // SAFETY: a live device; small valid.
    assert_eq!(unsafe { wg_core_dev_set_limits(h.0, &small) }, 0);
    // SAFETY: NULL limits.
    assert_eq!(
        unsafe { wg_core_dev_set_limits(h.0, std::ptr::null()) },
        EFAULT
    );

    assert_eq!(
        h.set(&DeviceUpdate {
            private_key: Some(Some(private)),
            peers: vec![PeerUpdate {
                preshared_key: Some(Some(psk)),
                ..peer(0, &[[10, 0, 0, 1]])
            }],
            ..Default::default()
        }),
        0
    );
    // Peers: E2BIG for a request over the limit, ENOSPC for a device that
    // would be.
    assert_eq!(h.set(&peers(10..14)), E2BIG);
    assert_eq!(h.set(&peers(10..12)), 0);
    assert_eq!(h.set(&peers(20..21)), ENOSPC);
    // Allowed IPs of one peer, and in all.
    let a = |n: u8| [10, 0, 1, n];
    let one = |p: PeerUpdate| DeviceUpdate {
        peers: vec![p],
        ..Default::default()
    };
    assert_eq!(h.set(&one(peer(10, &[a(1), a(2), a(3)]))), E2BIG);
    assert_eq!(
        h.set(&one(peer(0, &[a(1), a(2)]))),
        ENOSPC,
        "peer 0 has one"
    );
    assert_eq!(h.set(&one(peer(10, &[a(1), a(2)]))), 0);
    assert_eq!(h.set(&one(peer(11, &[a(3), a(4)]))), ENOSPC, "5 > 4 in all");
    assert_eq!(
        h.set(&DeviceUpdate {
            peers: vec![
                peer(10, &[a(5)]),
                peer(11, &[a(6), a(7)]),
                peer(0, &[a(8), a(9)])
            ],
            ..Default::default()
        }),
        E2BIG,
        "5 > 4 in one request"
    );

    // Size and depth of the nvlist: E2BIG; not an nvlist: EBADMSG.
    let mut big = Nvlist::new();
    big.add_binary("x", &vec![0u8; 64 << 10]).unwrap();
    assert_eq!(h.set_bytes(&nvlist::pack(&big).unwrap()), E2BIG);
    let mut deep = Nvlist::new();
    deep.add_number("x", 1).unwrap();
    for _ in 0..10 {
        let mut up = Nvlist::new();
        up.add_nvlist("n", deep).unwrap();
        deep = up;
    }
    assert_eq!(h.set_bytes(&nvlist::pack(&deep).unwrap()), E2BIG);
    assert_eq!(h.set_bytes(b"not an nvlist at all, 32 bytes."), EBADMSG);

    // Endpoints: only sockaddr_in/16 and sockaddr_in6/28 with their family
    // and length; anything else EINVAL.
    let (sa4, n4) = nvconfig::encode_sockaddr(&wg_core::Endpoint::V4 {
        addr: [192, 0, 2, 1],
        port: 51820,
    });
    assert_eq!(h.set_bytes(&with_endpoint(&sa4[..n4])), 0);
    let mut fam = sa4;
    fam[1] = 1;
    let mut salen = sa4;
    salen[0] = 2;
    let mut port0 = sa4;
    port0[2..4].fill(0);
    for sa in [
        &fam[..n4],
        &salen[..n4],
        &port0[..n4],
        &sa4[..8],
        &sa4[..20],
    ] {
        assert_eq!(h.set_bytes(&with_endpoint(sa)), EINVAL, "{sa:?}");
    }
    // A datagram from a source of an unknown family: EINVAL.
    let src = WgEndpoint {
        family: 7,
        port: 1,
        ..Default::default()
    };
    let mut buf = [1u8; 148];
    let mut out = [0u8; 148];
    let mut r = DecapResult::default();
    // SAFETY: a live device; every buffer valid for its length.
    let rc = unsafe {
        wg_core_decapsulate(
            h.0,
            &NOW,
            &src,
            buf.as_mut_ptr(),
            148,
            out.as_mut_ptr(),
            148,
            &mut r,
        )
    };
    assert_eq!(rc, EINVAL);

    // Nothing on these paths put a key in the log.
    let log = LOG.lock().unwrap().clone();
    let text = String::from_utf8_lossy(&log);
    for k in [private, psk] {
        let hex: String = k.iter().map(|b| format!("{b:02x}")).collect();
        assert!(!text.to_lowercase().contains(&hex[..16]));
        assert!(!log.windows(8).any(|w| w == &k[..8]));
    }
    assert!(log.is_empty(), "the core logs nothing today: {text}");
}
