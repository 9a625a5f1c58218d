//! The data path never allocates: a counting global allocator watches data
//! both ways, keepalives and timers, and must see nothing. A completed
//! handshake allocates exactly once, its keypair (boxed so that idle peers
//! stay small, as Linux does), and nothing else. (In the kernel the
//! allocator is malloc(9) with M_NOWAIT; failure drops the handshake.) With
//! the userspace `aws-lc` X25519, handshakes also allocate inside
//! aws-lc-rs; the kernel build never has it, and `cargo test -p wg-core`
//! checks the portable build.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use wg_core::allowedips::IpPrefix;
use wg_core::config::{AllowedIpChange, DeviceUpdate, PeerUpdate};
use wg_core::device::{Rng, DATA_HEADROOM, DATA_TAILROOM, MAX_HANDSHAKE_LEN};
use wg_core::{
    crypto, Decap, Device, Duration, Encap, Endpoint, Instant, PeerAction, Time, WallTime,
};

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: defers every operation to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(|c| c.get())
}

struct Counter(AtomicU64);
impl Rng for Counter {
    fn fill(&self, buf: &mut [u8]) {
        for b in buf {
            *b = (self.0.fetch_add(0x9E37_79B9, Ordering::Relaxed) >> 7) as u8;
        }
    }
}

fn device(own: u8, peer: u8, ep: Endpoint, peer_ip: [u8; 4]) -> Device {
    let dev = Device::new(Box::new(Counter(AtomicU64::new(own as u64)))).unwrap();
    let mut k = [own; 32];
    crypto::clamp_private_key(&mut k);
    let mut pk = [peer; 32];
    crypto::clamp_private_key(&mut pk);
    dev.set_config(
        Time::from_nanos(1, 1),
        &DeviceUpdate {
            private_key: Some(Some(k)),
            peers: vec![PeerUpdate {
                public_key: crypto::public_key(&pk),
                endpoint: Some(ep),
                allowed_ips: vec![AllowedIpChange {
                    prefix: IpPrefix::new_v4(peer_ip, 32).unwrap(),
                    remove: false,
                }],
                ..Default::default()
            }],
            ..Default::default()
        },
    )
    .unwrap();
    dev
}

fn packet(buf: &mut [u8], src: [u8; 4], dst: [u8; 4], len: usize) {
    let p = &mut buf[DATA_HEADROOM..DATA_HEADROOM + len];
    p.fill(0x55);
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    p[12..16].copy_from_slice(&src);
    p[16..20].copy_from_slice(&dst);
}

#[test]
fn packet_paths_do_not_allocate() {
    let ea = Endpoint::V4 {
        addr: [192, 0, 2, 1],
        port: 1,
    };
    let eb = Endpoint::V4 {
        addr: [192, 0, 2, 2],
        port: 2,
    };
    let a = device(1, 2, eb, [10, 0, 0, 2]);
    let b = device(2, 1, ea, [10, 0, 0, 1]);
    let (pa, pb) = (a.peer_ids()[0], b.peer_ids()[0]);
    let mut now = Time::new(
        Instant::ZERO + Duration::from_secs(10),
        WallTime::EPOCH + Duration::from_secs(1_700_000_000),
    );
    let mut buf = vec![0u8; DATA_HEADROOM + 1420 + DATA_TAILROOM];
    let mut out = [0u8; MAX_HANDSHAKE_LEN];
    let mut out2 = [0u8; MAX_HANDSHAKE_LEN];
    let mut delivered = 0;

    let mut handshake_allocs = 0;
    let mut data_allocs = 0;
    for round in 0..3u64 {
        let before = allocs();
        // Either no session yet or a rekey is due: A's packet is staged or
        // sent, and polling A yields the initiation when one is wanted.
        packet(&mut buf, [10, 0, 0, 1], [10, 0, 0, 2], 1420);
        let staged = matches!(
            a.encapsulate(now, &mut buf, 1420).unwrap(),
            Encap::Staged { .. }
        );
        assert_eq!(staged, round == 0);
        if let PeerAction::Send { len, .. } = a.poll_peer(pa, now, &mut out).unwrap() {
            let r = b.decapsulate(now, ea, &mut out[..len], &mut out2).unwrap();
            let Decap::Reply { len } = r.action else {
                panic!("no response")
            };
            let r = a.decapsulate(now, eb, &mut out2[..len], &mut out).unwrap();
            assert!(r.poll);
            while let Ok(act) = a.poll_peer(pa, now, &mut out) {
                match act {
                    PeerAction::FlushStaged => {}
                    PeerAction::Send { len, .. } => {
                        b.decapsulate(now, ea, &mut out[..len], &mut out2).unwrap();
                    }
                    _ => break,
                }
            }
        }
        handshake_allocs += allocs() - before;
        let before = allocs();
        for i in 0..500 {
            let (from, to, fe, src, dst) = if i % 2 == 0 {
                (&a, &b, ea, [10, 0, 0, 1], [10, 0, 0, 2])
            } else {
                (&b, &a, eb, [10, 0, 0, 2], [10, 0, 0, 1])
            };
            packet(&mut buf, src, dst, 1420);
            let Encap::Send { len, .. } = from.encapsulate(now, &mut buf, 1420).unwrap() else {
                panic!("no session")
            };
            let r = to.decapsulate(now, fe, &mut buf[..len], &mut out).unwrap();
            if let Decap::Tunnel { .. } = r.action {
                delivered += 1;
            }
        }
        // Keepalives and timers.
        now = now.plus(Duration::from_secs(11));
        for (d, p) in [(&a, pa), (&b, pb)] {
            while let Ok(PeerAction::Send { .. }) = d.poll_peer(p, now, &mut out) {}
        }
        now = now.plus(Duration::from_secs(121));
        data_allocs += allocs() - before;
    }
    assert!(delivered >= 1000, "traffic flowed ({delivered})");
    assert_eq!(
        data_allocs, 0,
        "the data path allocated {data_allocs} times"
    );
    if !cfg!(feature = "aws-lc") {
        // Three handshakes; each installs one keypair on each side.
        assert_eq!(
            handshake_allocs,
            3 * 2,
            "handshakes allocated {handshake_allocs} times"
        );
    }
}
