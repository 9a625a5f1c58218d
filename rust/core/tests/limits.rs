//! Limits: what a device may hold, the error each overrun gets, and that
//! the large sizes docs/DESIGN.md promises (100k peers, 1M allowed-IPs routes)
//! fit and work.
//!
//! - `limits_answer_clear_errors`: a request over a limit is `TooBig`
//!   (E2BIG), a request that would leave the device over one is `Full`
//!   (ENOSPC), a bad value is `Invalid` (EINVAL), through the model, the
//!   nvlist decoder and UAPI, and nothing changes on error.
//! - `many_peers_and_routes_fit`: 2 000 peers and 20 000 routes, always on.
//! - `hundred_thousand_peers_and_a_million_routes` (ignored: X25519 per
//!   peer is slow in debug builds): the full size, run with
//!   `cargo test --release -p wg-core --test limits -- --ignored --nocapture`.
//!
//! Both sizes print `figure bytes_per_peer N B` and `figure bytes_per_route
//! N B`, measured with a counting global allocator (live heap bytes of the
//! device before and after).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

use wg_core::allowedips::{IpAddrBytes, IpPrefix};
use wg_core::config::{AllowedIpChange, DeviceUpdate, Key, Limits, PeerUpdate};
use wg_core::device::{Rng, DATA_HEADROOM, DATA_TAILROOM, MAX_HANDSHAKE_LEN};
use wg_core::nvlist::{self, Nvlist, UnpackLimits};
use wg_core::uapi::{parse_set, UapiError};
use wg_core::{crypto, nvconfig, Decap, Device, Encap, Endpoint, Error, PeerAction, PeerId, Time};

const T0: Time = Time::from_nanos(1_000_000_000_000, 1_700_000_000_000_000_000);

/// SplitMix64 (wg_core's testutil is not built for integration tests).
struct SeededRng(std::sync::atomic::AtomicU64);

impl SeededRng {
    fn new(seed: u64) -> Self {
        SeededRng(std::sync::atomic::AtomicU64::new(seed))
    }
}

impl Rng for SeededRng {
    fn fill(&self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let mut z = self
                .0
                .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
                .wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
    }
}

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: defers every operation to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Live heap bytes. The tests of this file run one at a time (`serial`),
/// so another test's allocations do not count.
fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn clamped(seed: u8) -> Key {
    let mut k = [seed; 32];
    crypto::clamp_private_key(&mut k);
    k
}

/// Peer `i`'s public key: any 32 bytes will do for a peer nobody
/// handshakes with (X25519 takes every u-coordinate).
fn peer_key(i: u32) -> Key {
    let mut k = [0u8; 32];
    k[..4].copy_from_slice(&i.to_le_bytes());
    k[4..8].copy_from_slice(&(i ^ 0x5a5a_5a5a).wrapping_mul(0x9E37_79B9).to_le_bytes());
    k[31] = 0x42;
    k
}

/// The `j`-th route of peer `i` when each has `per` of them: distinct /32s
/// from 10.0.0.0/8 upwards.
fn route(i: u32, j: u32, per: u32) -> [u8; 4] {
    let n = (10u32 << 24) + i * per + j;
    n.to_be_bytes()
}

fn add(prefix: IpPrefix) -> AllowedIpChange {
    AllowedIpChange {
        prefix,
        remove: false,
    }
}

fn v4(a: [u8; 4], c: u8) -> IpPrefix {
    IpPrefix::new_v4(a, c).unwrap()
}

fn device() -> Device {
    let dev = Device::new(Box::new(SeededRng::new(7))).unwrap();
    dev.set_config(
        T0,
        &DeviceUpdate {
            private_key: Some(Some(clamped(1))),
            listen_port: Some(51820),
            ..Default::default()
        },
    )
    .unwrap();
    dev
}

fn figure(name: &str, value: f64, unit: &str) {
    println!("figure {name} {value:.0} {unit}");
}

/// Configures `peers` peers (the one at index `real` with a real key) and
/// then `per` routes each, measuring memory; checks lookups, `wg show`
/// and a handshake with the real one. Returns (bytes/peer, bytes/route).
fn fit_and_work(peers: u32, per: u32, real: u32) -> (f64, f64) {
    let _one = serial();
    let t = Instant::now();
    let other = clamped(9);
    let key_of = |i: u32| {
        if i == real {
            crypto::public_key(&other)
        } else {
            peer_key(i)
        }
    };
    let dev = device();

    let base = live();
    let update = DeviceUpdate {
        peers: (0..peers)
            .map(|i| PeerUpdate {
                public_key: key_of(i),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    drop(dev.set_config(T0, &update).unwrap());
    drop(update);
    let with_peers = live();
    assert_eq!(dev.stats(T0).peers, peers as usize);

    // Routes in batches, as a host would send them (SIOCSWG is capped).
    let batch = 10_000u32.div_ceil(per).max(1);
    for start in (0..peers).step_by(batch as usize) {
        let end = (start + batch).min(peers);
        let update = DeviceUpdate {
            peers: (start..end)
                .map(|i| PeerUpdate {
                    public_key: key_of(i),
                    update_only: true,
                    allowed_ips: (0..per).map(|j| add(v4(route(i, j, per), 32))).collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        drop(dev.set_config(T0, &update).unwrap());
    }
    let with_routes = live();
    let routes = peers as usize * per as usize;
    assert_eq!(dev.stats(T0).allowed_ips, routes);
    let per_peer = (with_peers - base) as f64 / peers as f64;
    let per_route = (with_routes - with_peers) as f64 / routes as f64;
    println!(
        "{peers} peers and {routes} routes configured in {:.2?}",
        t.elapsed()
    );

    // Lookups go to the right peer: a spread of samples, and the edges.
    let ids: Vec<PeerId> = (0..peers)
        .map(|i| dev.peer_by_key(&key_of(i)).unwrap())
        .collect();
    let step = (peers / 997).max(1);
    for i in (0..peers).step_by(step as usize).chain([peers - 1]) {
        for j in [0, per / 2, per - 1] {
            let a = route(i, j, per);
            assert_eq!(
                dev.route(&IpAddrBytes::V4(a)),
                Some(ids[i as usize]),
                "{a:?}"
            );
        }
    }
    assert_eq!(dev.route(&IpAddrBytes::V4(route(peers, 0, per))), None);

    // `wg show` of all of it, in one pass.
    let t = Instant::now();
    let info = dev.config(false).unwrap();
    assert_eq!(info.peers.len(), peers as usize);
    assert_eq!(
        info.peers
            .iter()
            .map(|p| p.allowed_ips.len())
            .sum::<usize>(),
        routes
    );
    assert_eq!(info.peers[real as usize].allowed_ips.len(), per as usize);
    drop(info);
    println!("config() of all of it in {:.2?}", t.elapsed());

    // A handshake with one of them, and data both ways.
    handshake_with(&dev, ids[real as usize], other, route(real, 0, per));
    (per_peer, per_route)
}

/// Peer `other` (at `its_ip`) handshakes with `dev` and data flows.
fn handshake_with(dev: &Device, id: PeerId, other: Key, its_ip: [u8; 4]) {
    let ep_dev = Endpoint::V4 {
        addr: [192, 0, 2, 1],
        port: 51820,
    };
    let ep_other = Endpoint::V4 {
        addr: [198, 51, 100, 9],
        port: 40000,
    };
    let b = Device::new(Box::new(SeededRng::new(8))).unwrap();
    b.set_config(
        T0,
        &DeviceUpdate {
            private_key: Some(Some(other)),
            peers: vec![PeerUpdate {
                public_key: dev.public_key().unwrap(),
                endpoint: Some(ep_dev),
                allowed_ips: vec![add(v4([0, 0, 0, 0], 0))],
                ..Default::default()
            }],
            ..Default::default()
        },
    )
    .unwrap();
    let pb = PeerId(0);
    let pkt = ip_packet(its_ip, [172, 16, 0, 1]);
    let mut buf = vec![0u8; DATA_HEADROOM + pkt.len() + DATA_TAILROOM];
    buf[DATA_HEADROOM..DATA_HEADROOM + pkt.len()].copy_from_slice(&pkt);
    assert!(matches!(
        b.encapsulate(T0, &mut buf, pkt.len()).unwrap(),
        Encap::Staged { .. }
    ));
    let mut out = [0u8; MAX_HANDSHAKE_LEN];
    let mut out2 = [0u8; MAX_HANDSHAKE_LEN];
    let PeerAction::Send { len, .. } = b.poll_peer(pb, T0, &mut out).unwrap() else {
        panic!("no initiation");
    };
    let r = dev
        .decapsulate(T0, ep_other, &mut out[..len], &mut out2)
        .unwrap();
    assert_eq!(r.peer, Some(id), "the initiation named the right peer");
    let Decap::Reply { len } = r.action else {
        panic!("no response");
    };
    b.decapsulate(T0, ep_dev, &mut out2[..len], &mut out)
        .unwrap();
    assert_eq!(
        b.poll_peer(pb, T0, &mut out).unwrap(),
        PeerAction::FlushStaged
    );
    let Encap::Send { len, .. } = b.encapsulate_to(pb, T0, &mut buf, pkt.len()).unwrap() else {
        panic!("no session");
    };
    let r = dev
        .decapsulate(T0, ep_other, &mut buf[..len], &mut out)
        .unwrap();
    assert_eq!(r.peer, Some(id));
    assert!(matches!(r.action, Decap::Tunnel { .. }), "{r:?}");
    // And back, routed by destination among all the routes.
    let back = ip_packet([172, 16, 0, 1], its_ip);
    let mut buf = vec![0u8; DATA_HEADROOM + back.len() + DATA_TAILROOM];
    buf[DATA_HEADROOM..DATA_HEADROOM + back.len()].copy_from_slice(&back);
    let Encap::Send { peer, len, .. } = dev.encapsulate(T0, &mut buf, back.len()).unwrap() else {
        panic!("no session back");
    };
    assert_eq!(peer, id);
    let r = b
        .decapsulate(T0, ep_dev, &mut buf[..len], &mut out)
        .unwrap();
    assert!(matches!(r.action, Decap::Tunnel { .. }), "{r:?}");
}

/// A minimal IPv4 header and 8 bytes of payload.
fn ip_packet(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
    let mut p = vec![0u8; 28];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&28u16.to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&src);
    p[16..20].copy_from_slice(&dst);
    p
}

#[test]
fn many_peers_and_routes_fit() {
    let (p, r) = fit_and_work(2_000, 10, 1234);
    figure("bytes_per_peer", p, "B");
    figure("bytes_per_route", r, "B");
    // docs/DESIGN.md: 1 KiB a peer, routes aside; flat memory per route.
    assert!(p <= 1024.0 * 1.5, "{p} bytes per peer");
    assert!(r <= 256.0, "{r} bytes per route");
}

#[test]
#[ignore = "100k X25519s: run in release (see the module notes)"]
fn hundred_thousand_peers_and_a_million_routes() {
    let (p, r) = fit_and_work(100_000, 10, 77_777);
    figure("bytes_per_peer", p, "B");
    figure("bytes_per_route", r, "B");
    assert!(p <= 1024.0 * 1.5, "{p} bytes per peer");
    assert!(r <= 256.0, "{r} bytes per route");
}

fn small_limits() -> Limits {
    Limits {
        max_peers: 4,
        max_allowed_ips_per_peer: 3,
        max_allowed_ips_total: 5,
    }
}

fn peer_with(i: u32, routes: &[[u8; 4]]) -> PeerUpdate {
    PeerUpdate {
        public_key: peer_key(i),
        allowed_ips: routes.iter().map(|a| add(v4(*a, 32))).collect(),
        ..Default::default()
    }
}

fn peers(range: std::ops::Range<u32>) -> DeviceUpdate {
    DeviceUpdate {
        peers: range.map(|i| peer_with(i, &[])).collect(),
        ..Default::default()
    }
}

/// `update` fails with `want` from check_config and set_config, and the
/// configuration stays as it was.
fn refused(dev: &Device, update: &DeviceUpdate, want: Error) {
    let before = dev.config(true).unwrap();
    assert_eq!(dev.check_config(update).unwrap_err(), want);
    assert_eq!(dev.set_config(T0, update).unwrap_err(), want);
    assert_eq!(dev.config(true).unwrap(), before, "nothing changed");
}

#[test]
fn limits_answer_clear_errors() {
    let _one = serial();
    let dev = device();
    dev.set_limits(small_limits());

    // Peers: more than the limit in one request is a request too big; a
    // request that fits but would overfill the device finds it full.
    refused(&dev, &peers(0..5), Error::TooBig);
    dev.set_config(T0, &peers(0..3)).unwrap();
    refused(&dev, &peers(10..12), Error::Full);
    // Listing existing peers again creates nothing.
    dev.set_config(T0, &peers(0..3)).unwrap();
    dev.set_config(T0, &peers(2..4)).unwrap();
    assert_eq!(dev.stats(T0).peers, 4);
    // Removing one and adding one in the same request fits.
    let mut swap = peers(9..10);
    swap.peers.insert(
        0,
        PeerUpdate {
            public_key: peer_key(0),
            remove: true,
            ..Default::default()
        },
    );
    dev.set_config(T0, &swap).unwrap();
    // replace_peers starts from none.
    dev.set_config(
        T0,
        &DeviceUpdate {
            replace_peers: true,
            ..peers(20..24)
        },
    )
    .unwrap();
    assert_eq!(dev.stats(T0).peers, 4);

    // Allowed IPs of one peer: too many in the request, or too many with
    // what the peer already has.
    let a = |n: u8| [10, 0, 0, n];
    refused(
        &dev,
        &DeviceUpdate {
            peers: vec![peer_with(20, &[a(1), a(2), a(3), a(4)])],
            ..Default::default()
        },
        Error::TooBig,
    );
    dev.set_config(
        T0,
        &DeviceUpdate {
            peers: vec![peer_with(20, &[a(1), a(2)])],
            ..Default::default()
        },
    )
    .unwrap();
    refused(
        &dev,
        &DeviceUpdate {
            peers: vec![peer_with(20, &[a(3), a(4)])],
            ..Default::default()
        },
        Error::Full,
    );
    // Replacing them starts the peer from none.
    dev.set_config(
        T0,
        &DeviceUpdate {
            peers: vec![PeerUpdate {
                replace_allowed_ips: true,
                ..peer_with(20, &[a(3), a(4), a(5)])
            }],
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(dev.stats(T0).allowed_ips, 3);
    // In all: 3 + 3 > 5 once applied; 6 > 5 in one request.
    refused(
        &dev,
        &DeviceUpdate {
            peers: vec![peer_with(21, &[a(6), a(7), a(8)])],
            ..Default::default()
        },
        Error::Full,
    );
    refused(
        &dev,
        &DeviceUpdate {
            peers: vec![
                peer_with(21, &[a(6), a(7)]),
                peer_with(22, &[a(8), a(9)]),
                peer_with(23, &[a(10), a(11)]),
            ],
            ..Default::default()
        },
        Error::TooBig,
    );
    dev.set_config(
        T0,
        &DeviceUpdate {
            peers: vec![peer_with(21, &[a(6), a(7)])],
            ..Default::default()
        },
    )
    .unwrap();

    // Endpoints: a port of 0 is a bad value.
    refused(
        &dev,
        &DeviceUpdate {
            peers: vec![PeerUpdate {
                endpoint: Some(Endpoint::V4 {
                    addr: [192, 0, 2, 1],
                    port: 0,
                }),
                ..peer_with(20, &[])
            }],
            ..Default::default()
        },
        Error::Invalid,
    );

    // The errno of each, through the C ABI's mapping and UAPI's.
    assert_eq!(Error::TooBig.errno(), 7);
    assert_eq!(Error::Full.errno(), 28);
    assert_eq!(Error::Invalid.errno(), 22);
    assert_eq!(UapiError::from(Error::TooBig).errno, -7);
    assert_eq!(UapiError::from(Error::Full).errno, -28);
    assert_eq!(UapiError::from(Error::Invalid).errno, -22);
}

/// The same limits reached through the UAPI text a daemon parses: the
/// parse succeeds and applying finds the device full.
#[test]
fn uapi_requests_over_the_limits() {
    let _one = serial();
    let dev = device();
    dev.set_limits(small_limits());
    let hex = |k: Key| k.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let mut body = String::new();
    for i in 0..5 {
        body.push_str(&format!("public_key={}\n", hex(peer_key(i))));
    }
    let update = parse_set(&body).unwrap();
    let e = dev.set_config(T0, &update).unwrap_err();
    assert_eq!(UapiError::from(e), UapiError { errno: -7 });
    let update = parse_set(&body[..body.len() / 5 * 3]).unwrap();
    dev.set_config(T0, &update).unwrap();
    let mut more = String::new();
    for i in 10..12 {
        more.push_str(&format!("public_key={}\n", hex(peer_key(i))));
    }
    let e = dev.set_config(T0, &parse_set(&more).unwrap()).unwrap_err();
    assert_eq!(UapiError::from(e), UapiError { errno: -28 });
    // A bad endpoint family or form is refused by the parser.
    let bad = format!("public_key={}\nendpoint=[::1%lo]:1\n", hex(peer_key(1)));
    assert_eq!(parse_set(&bad).unwrap_err(), UapiError::INVALID);
    let bad = format!("public_key={}\nendpoint=192.0.2.1:0\n", hex(peer_key(1)));
    assert_eq!(parse_set(&bad).unwrap_err(), UapiError::INVALID);
}

/// The nvlist decoder's limits: size and depth are E2BIG before any
/// value is looked at; endpoints of another family or length are EINVAL.
#[test]
fn nvlist_requests_over_the_limits() {
    let _one = serial();
    let limits = small_limits();
    let packed = nvconfig::encode_set(&peers(0..5)).unwrap();
    assert_eq!(
        nvconfig::decode_set(&packed, &limits).unwrap_err(),
        Error::TooBig
    );
    // Too large for any request within the limits.
    let max = nvconfig::unpack_limits(&limits).max_size;
    let mut big = Nvlist::new();
    big.add_binary("padding", &vec![0u8; max]).unwrap();
    let packed = nvlist::pack(&big).unwrap();
    assert_eq!(
        nvconfig::decode_set(&packed, &limits).unwrap_err(),
        Error::TooBig
    );
    // Nested deeper than any request is.
    let mut deep = Nvlist::new();
    deep.add_number("x", 1).unwrap();
    for _ in 0..UnpackLimits::default().max_depth + 2 {
        let mut up = Nvlist::new();
        up.add_nvlist("n", deep).unwrap();
        deep = up;
    }
    assert_eq!(
        nvconfig::decode_set(&nvlist::pack(&deep).unwrap(), &limits).unwrap_err(),
        Error::TooBig
    );
    // Endpoints: sockaddr_in of 16 and sockaddr_in6 of 28 bytes with their
    // family and length, nothing else.
    let ep = Endpoint::V4 {
        addr: [192, 0, 2, 1],
        port: 51820,
    };
    let (good, n) = nvconfig::encode_sockaddr(&ep);
    let with_endpoint = |sa: &[u8]| {
        let mut p = Nvlist::new();
        p.add_binary("public-key", &peer_key(1)).unwrap();
        p.add_binary("endpoint", sa).unwrap();
        let mut top = Nvlist::new();
        top.add_nvlist_array("peers", vec![p]).unwrap();
        nvconfig::decode_set(&nvlist::pack(&top).unwrap(), &limits)
    };
    assert_eq!(
        with_endpoint(&good[..n]).unwrap().peers[0].endpoint,
        Some(ep)
    );
    let mut wrong_family = good;
    wrong_family[1] = 28;
    let mut wrong_len = good;
    wrong_len[0] = 28;
    let mut unix = good;
    unix[1] = 1;
    for (what, sa) in [
        ("family AF_INET6 in 16 bytes", &wrong_family[..n]),
        ("sa_len 28 in 16 bytes", &wrong_len[..n]),
        ("family AF_UNIX", &unix[..n]),
        ("8 bytes", &good[..8]),
        ("24 bytes", &good[..24]),
    ] {
        assert_eq!(with_endpoint(sa).unwrap_err(), Error::Invalid, "{what}");
    }
}
