//! Under the engine's locks a kernel host will not wait for memory: it
//! fails the allocation instead (FreeBSD: the shim's lock hooks mark the
//! thread as unable to sleep, and wg_host_alloc then uses M_NOWAIT). This
//! test plays that host: a lock backend that counts the locks a thread
//! holds, and an allocator that fails the Nth allocation made while one is
//! held, for every N until the request succeeds. An infallible allocation
//! under a lock would abort the process; every request must instead fail
//! cleanly with NoMemory, change nothing, and work once memory is back.
//!
//! The portable build only, which is the kernel's: aws-lc-rs (userspace
//! X25519) allocates infallibly, and userspace spins instead of registering
//! host locks. `make test` runs `cargo test -p wg-core`, which has no aws-lc.
#![cfg(not(feature = "aws-lc"))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use wg_core::allowedips::IpPrefix;
use wg_core::config::{AllowedIpChange, DeviceUpdate, PeerUpdate};
use wg_core::device::{Rng, DATA_HEADROOM, DATA_TAILROOM, MAX_HANDSHAKE_LEN};
use wg_core::sync::{set_lock_backend, LockBackend};
use wg_core::{
    crypto, Decap, Device, Duration, Encap, Endpoint, Error, Instant, PeerAction, Time, WallTime,
};

thread_local! {
    static HELD: Cell<usize> = const { Cell::new(0) };
}
static STARVE: AtomicBool = AtomicBool::new(false);
static REFUSED: AtomicUsize = AtomicUsize::new(0);
/// Which allocation under a lock fails (counted from 0), in `fail_nth`.
static FAIL_AT: AtomicUsize = AtomicUsize::new(usize::MAX);
static SEEN: AtomicUsize = AtomicUsize::new(0);

struct StarvedUnderLocks;

fn refuse() -> bool {
    if !HELD.try_with(|h| h.get() > 0).unwrap_or(false) {
        return false;
    }
    if STARVE.load(Ordering::Relaxed) {
        return true;
    }
    SEEN.fetch_add(1, Ordering::Relaxed) == FAIL_AT.load(Ordering::Relaxed)
}

/// Runs `op` failing the 0th, 1st, 2nd... allocation under a lock until it
/// succeeds; each failure must be NoMemory and pass `unchanged`. Returns
/// how many allocations under locks a successful run makes.
fn fail_nth<T: std::fmt::Debug>(
    mut op: impl FnMut() -> wg_core::Result<T>,
    unchanged: impl Fn(),
) -> usize {
    for n in 0.. {
        SEEN.store(0, Ordering::Relaxed);
        FAIL_AT.store(n, Ordering::Relaxed);
        let r = op();
        FAIL_AT.store(usize::MAX, Ordering::Relaxed);
        match r {
            Ok(_) => return n,
            Err(e) => {
                assert_eq!(e, Error::NoMemory, "failing allocation {n}");
                unchanged();
            }
        }
    }
    unreachable!()
}

// SAFETY: defers to the system allocator, or reports failure (null), which
// GlobalAlloc allows.
unsafe impl GlobalAlloc for StarvedUnderLocks {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if refuse() {
            REFUSED.fetch_add(1, Ordering::Relaxed);
            return std::ptr::null_mut();
        }
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        if refuse() {
            REFUSED.fetch_add(1, Ordering::Relaxed);
            return std::ptr::null_mut();
        }
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static GLOBAL: StarvedUnderLocks = StarvedUnderLocks;

/// Locks that only count: the engine's spin locks inside still exclude.
struct Counting(AtomicUsize);

fn enter() {
    HELD.with(|h| h.set(h.get() + 1));
}
fn leave() {
    HELD.with(|h| h.set(h.get() - 1));
}

impl LockBackend for Counting {
    fn mutex_new(&self, _name: &'static core::ffi::CStr) -> Option<usize> {
        Some(self.0.fetch_add(1, Ordering::Relaxed))
    }
    fn mutex_free(&self, _: usize) {}
    fn mutex_lock(&self, _: usize) {
        enter()
    }
    fn mutex_unlock(&self, _: usize) {
        leave()
    }
    fn rwlock_new(&self, _name: &'static core::ffi::CStr) -> Option<usize> {
        Some(self.0.fetch_add(1, Ordering::Relaxed))
    }
    fn rwlock_free(&self, _: usize) {}
    fn read_lock(&self, _: usize) {
        enter()
    }
    fn read_unlock(&self, _: usize) {
        leave()
    }
    fn write_lock(&self, _: usize) {
        enter()
    }
    fn write_unlock(&self, _: usize) {
        leave()
    }
}

static BACKEND: Counting = Counting(AtomicUsize::new(1));

struct Seq(AtomicU64);
impl Rng for Seq {
    fn fill(&self, buf: &mut [u8]) {
        for b in buf {
            *b = (self.0.fetch_add(0x9E37_79B9, Ordering::Relaxed) >> 9) as u8;
        }
    }
}

fn key(seed: u8) -> [u8; 32] {
    let mut k = [seed; 32];
    crypto::clamp_private_key(&mut k);
    k
}

fn update(own: u8, peers: std::ops::Range<u8>, ep: Endpoint) -> DeviceUpdate {
    DeviceUpdate {
        private_key: Some(Some(key(own))),
        listen_port: Some(51820 + own as u16),
        peers: peers
            .map(|i| PeerUpdate {
                public_key: crypto::public_key(&key(i)),
                endpoint: Some(ep),
                allowed_ips: vec![AllowedIpChange {
                    prefix: IpPrefix::new_v4([10, 0, 0, i], 32).unwrap(),
                    remove: false,
                }],
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

#[test]
fn every_allocation_under_a_lock_may_fail() {
    assert!(set_lock_backend(&BACKEND));
    let (ea, eb) = (
        Endpoint::V4 {
            addr: [192, 0, 2, 1],
            port: 1,
        },
        Endpoint::V4 {
            addr: [192, 0, 2, 2],
            port: 2,
        },
    );
    let now = Time::new(
        Instant::ZERO + Duration::from_secs(10),
        WallTime::EPOCH + Duration::from_secs(1_700_000_000),
    );
    let a = Device::new(Box::new(Seq(AtomicU64::new(1)))).unwrap();
    let b = Device::new(Box::new(Seq(AtomicU64::new(2)))).unwrap();
    b.set_config(now, &update(2, 1..2, ea)).unwrap();

    // Configuration: refused whole, then accepted whole.
    STARVE.store(true, Ordering::Relaxed);
    let before = REFUSED.load(Ordering::Relaxed);
    assert_eq!(
        a.set_config(now, &update(1, 2..40, eb)).unwrap_err(),
        Error::NoMemory
    );
    assert!(
        REFUSED.load(Ordering::Relaxed) > before,
        "the allocator was asked"
    );
    STARVE.store(false, Ordering::Relaxed);
    assert!(a.config(true).unwrap().peers.is_empty());
    assert_eq!(a.config(true).unwrap().listen_port, 0);
    // Each allocation of a successful run, failed in turn.
    let n = fail_nth(
        || a.set_config(now, &update(1, 2..40, eb)),
        || assert!(a.config(true).unwrap().peers.is_empty()),
    );
    assert!(n > 38, "{n} allocations under locks for 38 peers");
    assert_eq!(a.config(true).unwrap().peers.len(), 38);
    // Changing existing peers and replacing them all, likewise.
    let snapshot = a.config(true).unwrap();
    let mut replace = update(1, 20..60, eb);
    replace.replace_peers = true;
    fail_nth(
        || a.set_config(now, &replace),
        || assert_eq!(a.config(true).unwrap(), snapshot),
    );
    assert_eq!(a.config(true).unwrap().peers.len(), 40);
    a.set_config(now, &update(1, 2..40, eb)).unwrap();
    fail_nth(|| a.config(true), || {});

    STARVE.store(true, Ordering::Relaxed);
    assert_eq!(a.config(true).unwrap_err(), Error::NoMemory);

    // A handshake: the keypair cannot be allocated, so it is dropped.
    let pa = a.peer_by_key(&crypto::public_key(&key(2))).unwrap();
    let mut buf = vec![0u8; DATA_HEADROOM + 100 + DATA_TAILROOM];
    buf[DATA_HEADROOM] = 0x45;
    buf[DATA_HEADROOM + 2..DATA_HEADROOM + 4].copy_from_slice(&100u16.to_be_bytes());
    buf[DATA_HEADROOM + 12..DATA_HEADROOM + 16].copy_from_slice(&[10, 0, 0, 1]);
    buf[DATA_HEADROOM + 16..DATA_HEADROOM + 20].copy_from_slice(&[10, 0, 0, 2]);
    assert!(matches!(
        a.encapsulate(now, &mut buf, 100),
        Ok(Encap::Staged { .. })
    ));
    let mut out = [0u8; MAX_HANDSHAKE_LEN];
    let mut out2 = [0u8; MAX_HANDSHAKE_LEN];
    let PeerAction::Send { len, .. } = a.poll_peer(pa, now, &mut out).unwrap() else {
        panic!("no initiation")
    };
    let init = out[..len].to_vec();
    let mut m = init.clone();
    assert_eq!(
        b.decapsulate(now, ea, &mut m, &mut out2).unwrap_err(),
        Error::NoMemory
    );

    // Memory is back: a later initiation completes.
    STARVE.store(false, Ordering::Relaxed);
    let later = now.plus(Duration::from_secs(6));
    let PeerAction::Send { len, .. } = a.poll_peer(pa, later, &mut out).unwrap() else {
        panic!("no retry")
    };
    let r = b
        .decapsulate(later, ea, &mut out[..len], &mut out2)
        .unwrap();
    let Decap::Reply { len } = r.action else {
        panic!("no response")
    };
    a.decapsulate(later, eb, &mut out2[..len], &mut out)
        .unwrap();
    assert!(matches!(
        a.poll_peer(pa, later, &mut out),
        Ok(PeerAction::FlushStaged)
    ));
}
