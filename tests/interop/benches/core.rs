//! Printed figures (docs/DESIGN.md section 6), not timed tests:
//! `cargo bench -p wg-interop-tests --bench core` prints lines of the form
//! `figure NAME VALUE UNIT`.
//!
//! - transport: after a handshake, round trips of 1420-byte packets (sealed
//!   by one side, opened by the other), in MB/s of plaintext, for two
//!   wg-core devices (ring's AEAD, each through its whole packet path:
//!   routing, sealing, opening, replay and allowed-IPs checks), two
//!   boringtun `Tunn`s, and wg-core's portable AEAD alone (the kernel's,
//!   with the same header and tag framing);
//! - handshakes: complete handshakes a second (initiation made, consumed
//!   and answered, response consumed, and the initiator's first keepalive,
//!   which boringtun makes inside consuming the response) for two wg-core
//!   devices and two boringtun `Tunn`s.
//!
//! Each measurement runs ~1 s after a warm-up; rounds alternate wg-core and
//! boringtun so both see the same machine state, and the best round counts.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use boringtun::noise::rate_limiter::RateLimiter;
use boringtun::noise::{Tunn, TunnResult};
use boringtun::x25519::{PublicKey, StaticSecret};
use wg_core::allowedips::IpPrefix;
use wg_core::device::{DATA_HEADROOM, DATA_TAILROOM, MAX_HANDSHAKE_LEN};
use wg_core::{crypto, Decap, Device, Encap, PeerAction, PeerId, Time};
use wg_interop_tests::{
    bt_private, bt_public, device_with_peer, ipv4_packet, our_private, our_public, MockClock,
    BT_ENDPOINT, BT_V4, NSEC, OUR_ENDPOINT, OUR_V4, T0,
};

const PKT: usize = 1420;
const ROUNDS: usize = 3;
const RUN: Duration = Duration::from_millis(1000);
const WARMUP: Duration = Duration::from_millis(200);
/// Between two handshakes: more than REKEY_TIMEOUT (one initiation per
/// peer per 5 s) and the responder's 20 ms flood interval.
const HANDSHAKE_GAP: u64 = 6 * NSEC;

/// Runs `batch` (which does some units of work and says how many) for
/// about `run`; returns units per second.
fn rate(run: Duration, mut batch: impl FnMut() -> u64) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    loop {
        n += batch();
        let t = start.elapsed();
        if t >= run {
            return n as f64 / t.as_secs_f64();
        }
    }
}

/// Warms up, then measures.
fn measure(mut batch: impl FnMut() -> u64) -> f64 {
    rate(WARMUP, &mut batch);
    rate(RUN, batch)
}

fn figure(name: &str, value: f64, unit: &str) {
    println!("figure {name} {value:.2} {unit}");
}

// --- wg-core -----------------------------------------------------------------

/// Two wg-core devices, A (our key, at OUR_ENDPOINT) and B (at
/// BT_ENDPOINT), each the other's peer.
struct CorePair {
    a: Device,
    pa: PeerId,
    b: Device,
    now: Time,
    buf: Vec<u8>,
    out: [u8; MAX_HANDSHAKE_LEN],
    out2: [u8; MAX_HANDSHAKE_LEN],
}

impl CorePair {
    fn new() -> CorePair {
        let (a, pa) = device_with_peer(
            1,
            T0,
            our_private(),
            bt_public(),
            Some(BT_ENDPOINT),
            &[IpPrefix::new_v4(BT_V4, 32).unwrap()],
            None,
            None,
        );
        let (b, _) = device_with_peer(
            2,
            T0,
            bt_private(),
            our_public(),
            Some(OUR_ENDPOINT),
            &[IpPrefix::new_v4(OUR_V4, 32).unwrap()],
            None,
            None,
        );
        let mut p = CorePair {
            a,
            pa,
            b,
            now: T0,
            buf: vec![0u8; DATA_HEADROOM + PKT + DATA_TAILROOM],
            out: [0; MAX_HANDSHAKE_LEN],
            out2: [0; MAX_HANDSHAKE_LEN],
        };
        // The first handshake, started by a staged keepalive.
        p.handshake();
        p
    }

    /// One complete handshake started by A, as a host drives it.
    fn handshake(&mut self) {
        self.now = self.now.plus(wg_core::Duration::from_nanos(HANDSHAKE_GAP));
        let now = self.now;
        self.a.clear_sessions(self.pa);
        // A keepalive to send and no session: staged, and A initiates.
        let mut ka = [0u8; DATA_HEADROOM + DATA_TAILROOM];
        let r = self.a.encapsulate_to(self.pa, now, &mut ka, 0).unwrap();
        assert!(matches!(r, Encap::Staged { .. }));
        let PeerAction::Send { len, .. } = self.a.poll_peer(self.pa, now, &mut self.out).unwrap()
        else {
            panic!("no initiation");
        };
        // B consumes it and responds.
        let r = self
            .b
            .decapsulate(now, OUR_ENDPOINT, &mut self.out[..len], &mut self.out2)
            .unwrap();
        let Decap::Reply { len } = r.action else {
            panic!("no response: {r:?}");
        };
        // A consumes the response; polled, it flushes the keepalive.
        let r = self
            .a
            .decapsulate(now, BT_ENDPOINT, &mut self.out2[..len], &mut self.out)
            .unwrap();
        assert!(r.poll);
        loop {
            match self.a.poll_peer(self.pa, now, &mut self.out).unwrap() {
                PeerAction::FlushStaged => {
                    let r = self.a.encapsulate_to(self.pa, now, &mut ka, 0).unwrap();
                    assert!(matches!(r, Encap::Send { len: 32, .. }));
                    black_box(&ka);
                }
                PeerAction::Idle { .. } => break,
                other => panic!("{other:?}"),
            }
        }
    }

    /// Puts a 1420-byte packet from A to B in the buffer.
    fn load_packet(&mut self) {
        let pkt = ipv4_packet(OUR_V4, BT_V4, PKT, 7);
        self.buf[DATA_HEADROOM..DATA_HEADROOM + PKT].copy_from_slice(&pkt);
    }

    /// Seals the packet at A, opens it at B: in place, so the buffer holds
    /// the plaintext again afterwards.
    fn round_trip(&mut self) {
        let Encap::Send { len, .. } = self.a.encapsulate(self.now, &mut self.buf, PKT).unwrap()
        else {
            panic!("no session");
        };
        let r = self
            .b
            .decapsulate(
                self.now,
                OUR_ENDPOINT,
                black_box(&mut self.buf[..len]),
                &mut self.out,
            )
            .unwrap();
        assert_eq!(
            r.action,
            Decap::Tunnel {
                offset: DATA_HEADROOM,
                len: PKT
            }
        );
    }
}

// --- boringtun ------------------------------------------------------------------

const BT_SRC: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));

/// Two boringtun `Tunn`s with the same keys as `CorePair`. Their rate
/// limiters never report load (boringtun's own would, past 10 handshake
/// messages a second, unless `update_timers` ran every second).
struct BtPair {
    a: Tunn,
    b: Tunn,
    pkt: Vec<u8>,
    d1: Vec<u8>,
    d2: Vec<u8>,
    d3: Vec<u8>,
}

impl BtPair {
    fn new() -> BtPair {
        let sa = StaticSecret::from(our_private());
        let sb = StaticSecret::from(bt_private());
        let (pa, pb) = (PublicKey::from(&sa), PublicKey::from(&sb));
        let la = Arc::new(RateLimiter::new(&pa, u64::MAX));
        let lb = Arc::new(RateLimiter::new(&pb, u64::MAX));
        let mut p = BtPair {
            a: Tunn::new(sa, pb, None, None, 1, Some(la)),
            b: Tunn::new(sb, pa, None, None, 2, Some(lb)),
            pkt: ipv4_packet(OUR_V4, BT_V4, PKT, 7),
            d1: vec![0u8; PKT + 64],
            d2: vec![0u8; PKT + 64],
            d3: vec![0u8; PKT + 64],
        };
        p.handshake();
        // B uses the session once A's keepalive confirms it.
        let ka = match p.a.encapsulate(&[], &mut p.d1) {
            TunnResult::WriteToNetwork(ka) => ka,
            other => panic!("{other:?}"),
        };
        assert!(matches!(
            p.b.decapsulate(BT_SRC, ka, &mut p.d2),
            TunnResult::Done
        ));
        p
    }

    /// One complete handshake started by A.
    fn handshake(&mut self) {
        // Timestamps come from the mock clock; a new one must be later.
        MockClock::advance(Duration::from_nanos(HANDSHAKE_GAP));
        let init = match self.a.format_handshake_initiation(&mut self.d1, true) {
            TunnResult::WriteToNetwork(p) => p,
            other => panic!("no initiation: {other:?}"),
        };
        let resp = match self.b.decapsulate(BT_SRC, init, &mut self.d2) {
            TunnResult::WriteToNetwork(p) => p,
            other => panic!("no response: {other:?}"),
        };
        // Consuming the response makes a keepalive.
        match self.a.decapsulate(BT_SRC, resp, &mut self.d3) {
            TunnResult::WriteToNetwork(ka) => {
                black_box(ka);
            }
            other => panic!("no keepalive: {other:?}"),
        }
        while let TunnResult::WriteToNetwork(p) = self.a.decapsulate(None, &[], &mut self.d3) {
            black_box(p);
        }
    }

    fn round_trip(&mut self) {
        let sealed = match self.a.encapsulate(black_box(&self.pkt), &mut self.d1) {
            TunnResult::WriteToNetwork(p) => p,
            other => panic!("no session: {other:?}"),
        };
        match self.b.decapsulate(BT_SRC, black_box(sealed), &mut self.d2) {
            TunnResult::WriteToTunnelV4(p, _) => assert_eq!(p.len(), PKT),
            other => panic!("not delivered: {other:?}"),
        }
    }
}

// --- the portable AEAD ----------------------------------------------------------

/// wg-core's portable ChaCha20-Poly1305 alone, framed as a data message.
struct Portable {
    key: [u8; 32],
    counter: u64,
    buf: Vec<u8>,
}

impl Portable {
    fn new() -> Portable {
        let mut buf = vec![0u8; DATA_HEADROOM + PKT + 16];
        buf[DATA_HEADROOM..DATA_HEADROOM + PKT]
            .copy_from_slice(&ipv4_packet(OUR_V4, BT_V4, PKT, 7));
        Portable {
            key: crypto::hash(&[b"bench key".as_slice()]),
            counter: 0,
            buf,
        }
    }

    fn round_trip(&mut self) {
        let counter = self.counter;
        self.counter += 1;
        let (head, rest) = self.buf.split_at_mut(DATA_HEADROOM);
        let (body, tail) = rest.split_at_mut(PKT);
        head[..4].copy_from_slice(&4u32.to_le_bytes());
        head[4..8].copy_from_slice(&0x1234u32.to_le_bytes());
        head[8..16].copy_from_slice(&counter.to_le_bytes());
        let tag = crypto::aead_seal_portable(&self.key, counter, &[], body);
        tail.copy_from_slice(&tag);
        let buf = black_box(&mut self.buf);
        let (head, rest) = buf.split_at_mut(DATA_HEADROOM);
        let (body, tail) = rest.split_at_mut(PKT);
        let counter = u64::from_le_bytes(head[8..16].try_into().unwrap());
        let tag: [u8; 16] = (&*tail).try_into().unwrap();
        crypto::aead_open_portable(&self.key, counter, &[], body, &tag).unwrap();
    }
}

// --- ChaCha20-Poly1305 candidates for the kernel (issue 12) ----------------------

/// One seal and one open of a 1420-byte packet with each candidate AEAD,
/// WireGuard's way (empty AAD, the counter as nonce).
struct Candidates {
    key: [u8; 32],
    counter: u64,
    buf: Vec<u8>,
    copy: Vec<u8>,
}

fn wg_nonce(counter: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&counter.to_le_bytes());
    n
}

impl Candidates {
    fn new() -> Candidates {
        Candidates {
            key: crypto::hash(&[b"candidate key".as_slice()]),
            counter: 0,
            buf: ipv4_packet(OUR_V4, BT_V4, PKT, 9),
            copy: vec![0u8; PKT],
        }
    }

    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// ring, through wg-core's userspace seam (what wgd runs).
    fn ring(&mut self) {
        let c = self.next();
        let tag = crypto::aead_seal(&self.key, c, &[], &mut self.buf);
        crypto::aead_open(&self.key, c, &[], black_box(&mut self.buf), &tag).unwrap();
    }

    /// (a) libcrux-chacha20poly1305 (HACL*'s portable code; 0.0.10 has no
    /// SIMD path). Not in place: it seals into a second buffer.
    fn libcrux(&mut self) {
        let n = wg_nonce(self.next());
        let mut tag = [0u8; 16];
        libcrux_chacha20poly1305::encrypt_detached(
            &self.key,
            &self.buf,
            &mut self.copy,
            &mut tag,
            &[],
            &n,
        )
        .unwrap();
        libcrux_chacha20poly1305::decrypt_detached(
            &self.key,
            &mut self.buf,
            black_box(&self.copy),
            &tag,
            &[],
            &n,
        )
        .unwrap();
    }

    /// (b) RustCrypto chacha20 0.9 + poly1305 0.8 with their AVX2 backends
    /// (selected by CPUID; this CPU has AVX2), two passes.
    fn rustcrypto(&mut self) {
        let n = wg_nonce(self.next());
        let tag = wg_aead::rustcrypto::seal(&self.key, &n, &[], &mut [&mut self.buf[..]]);
        assert!(wg_aead::rustcrypto::open(
            &self.key,
            &n,
            &[],
            &mut [black_box(&mut self.buf[..])],
            &tag
        ));
    }

    /// (c) wg-aead's own core::arch code: ChaCha20 eight blocks at a time
    /// in AVX2 with a 64-bit Poly1305 fused into the same pass; what the
    /// kernel object is compiled from.
    fn own(&mut self) {
        let n = wg_nonce(self.next());
        let tag = wg_aead::seal(&self.key, &n, &[], &mut [&mut self.buf[..]]);
        assert!(wg_aead::open(
            &self.key,
            &n,
            &[],
            &mut [black_box(&mut self.buf[..])],
            &tag
        ));
    }

    /// The kernel build's transport code path: wg-core's kernel seam (the
    /// SIMD object inside an FPU section when the CPU has AVX2, else the
    /// portable code), as Device::encapsulate/decapsulate call it.
    fn kernel(&mut self) {
        let c = self.next();
        let tag = crypto::aead_seal_kernel(&self.key, c, &[], &mut self.buf);
        crypto::aead_open_kernel(&self.key, c, &[], black_box(&mut self.buf), &tag).unwrap();
    }
}

/// MB/s of plaintext sealed and opened, per candidate: the best of many
/// short slices, the candidates taking turns slice by slice, so that a
/// machine shared with other work treats them alike (a whole-second round
/// each swung the ratio by a third here).
fn candidates() {
    const SLICES: usize = 60;
    const SLICE: Duration = Duration::from_millis(25);
    let mut c = Candidates::new();
    let batch = 16u64;
    let names = ["ring", "libcrux", "rustcrypto_avx2", "own_avx2", "kernel"];
    let mut best = [0f64; 5];
    let run = |i: usize, c: &mut Candidates, t: Duration| {
        rate(t, || {
            for _ in 0..batch {
                match i {
                    0 => c.ring(),
                    1 => c.libcrux(),
                    2 => c.rustcrypto(),
                    3 => c.own(),
                    _ => c.kernel(),
                }
            }
            batch * PKT as u64
        }) / 1e6
    };
    for i in 0..names.len() {
        run(i, &mut c, WARMUP);
    }
    for _ in 0..SLICES {
        for (i, b) in best.iter_mut().enumerate() {
            *b = b.max(run(i, &mut c, SLICE));
        }
    }
    eprintln!(
        "aead (best of {SLICES} slices of {} ms): ring {:.1} MB/s, libcrux {:.1}, \
         rustcrypto avx2 {:.1}, own avx2 {:.1}, kernel path {:.1}",
        SLICE.as_millis(),
        best[0],
        best[1],
        best[2],
        best[3],
        best[4]
    );
    for (n, v) in names.iter().zip(best) {
        figure(&format!("aead_{n}_mbps"), v, "MB/s");
        if *n != "ring" {
            figure(&format!("aead_{n}_vs_ring"), v / best[0], "x");
        }
    }
    // The kernel path on 1 and on 2 threads at once (each its own key and
    // buffer, as two per-CPU taskqueues sealing for two peers): packets/s
    // of seal + open in all. The best of a few 200 ms runs each.
    let threads = |n: usize| -> f64 {
        (0..5)
            .map(|_| {
                std::thread::scope(|s| {
                    let hs: Vec<_> = (0..n)
                        .map(|_| {
                            s.spawn(|| {
                                let mut c = Candidates::new();
                                rate(Duration::from_millis(200), || {
                                    for _ in 0..batch {
                                        c.kernel();
                                    }
                                    batch
                                })
                            })
                        })
                        .collect();
                    hs.into_iter().map(|h| h.join().unwrap_or(0.0)).sum::<f64>()
                })
            })
            .fold(0f64, f64::max)
    };
    let (one, two) = (threads(1), threads(2));
    figure("kernel_transport_1thread_pps", one, "packets/s");
    figure("kernel_transport_2threads_pps", two, "packets/s");
    figure("kernel_transport_2threads_scaling", two / one, "x");
    // Alone on its line, as issue 12 asks: the kernel build's transport
    // crypto (seal + open of 1420-byte packets) against ring, same run.
    println!("kernel_transport_vs_ring {:.2}", best[4] / best[0]);
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs us once,
    // quickly, as a smoke test.
    let smoke = !std::env::args().any(|a| a == "--bench");

    // WG_BENCH=aead: the AEAD candidates alone (issue 12's figures).
    if !smoke && std::env::var("WG_BENCH").as_deref() == Ok("aead") {
        candidates();
        return;
    }

    let mut core = CorePair::new();
    core.load_packet();
    let mut bt = BtPair::new();
    let mut portable = Portable::new();
    if smoke {
        core.round_trip();
        core.handshake();
        bt.round_trip();
        bt.handshake();
        portable.round_trip();
        let mut c = Candidates::new();
        c.ring();
        c.libcrux();
        c.rustcrypto();
        c.own();
        c.kernel();
        println!("bench core: smoke run passed (run with `cargo bench` for figures)");
        return;
    }

    let batch = 64u64;
    let mut best = [0f64; 5];
    for round in 0..ROUNDS {
        let r = [
            measure(|| {
                for _ in 0..batch {
                    core.round_trip();
                }
                batch * PKT as u64
            }) / 1e6,
            measure(|| {
                for _ in 0..batch {
                    bt.round_trip();
                }
                batch * PKT as u64
            }) / 1e6,
            measure(|| {
                for _ in 0..batch {
                    portable.round_trip();
                }
                batch * PKT as u64
            }) / 1e6,
            measure(|| {
                for _ in 0..8 {
                    core.handshake();
                }
                8
            }),
            measure(|| {
                for _ in 0..8 {
                    bt.handshake();
                }
                8
            }),
        ];
        eprintln!(
            "round {}: transport core {:.1} MB/s, boringtun {:.1} MB/s, portable {:.1} MB/s; \
             handshakes core {:.0}/s, boringtun {:.0}/s",
            round + 1,
            r[0],
            r[1],
            r[2],
            r[3],
            r[4]
        );
        for (b, v) in best.iter_mut().zip(r) {
            *b = b.max(v);
        }
    }
    let [core_t, bt_t, portable_t, core_h, bt_h] = best;
    figure("transport_core_mbps", core_t, "MB/s");
    figure("transport_boringtun_mbps", bt_t, "MB/s");
    figure("transport_vs_boringtun_ratio", core_t / bt_t, "x");
    figure("transport_portable_mbps", portable_t, "MB/s");
    figure(
        "bytes_per_peer",
        wg_core::Device::bytes_per_peer() as f64,
        "B",
    );
    figure("handshake_core_per_sec", core_h, "/s");
    figure("handshake_boringtun_per_sec", bt_h, "/s");
    figure("handshake_vs_boringtun_ratio", core_h / bt_h, "x");
    candidates();
}
