//! The virtual network: who owns which outer address (NAT mappings
//! included) and what a link does to a datagram on its way.

use crate::prng::Prng;
use crate::scenario::{LinkFaults, MS};
use std::collections::{BTreeMap, BTreeSet};
use wg_core::Endpoint;

pub const PORT: u16 = 51820;

/// An outer address and port, orderable (Endpoint is not): IPv6, with
/// IPv4 as v4-mapped (::ffff:a.b.c.d).
pub type Addr = ([u8; 16], u16);

pub fn mapped(a: [u8; 4]) -> [u8; 16] {
    let mut m = [0u8; 16];
    m[10] = 0xff;
    m[11] = 0xff;
    m[12..].copy_from_slice(&a);
    m
}

pub fn is_v4(a: &Addr) -> bool {
    a.0[..10] == [0; 10] && a.0[10..12] == [0xff, 0xff]
}

pub fn addr(e: &Endpoint) -> Option<Addr> {
    match *e {
        Endpoint::V4 { addr, port } => Some((mapped(addr), port)),
        Endpoint::V6 { addr, port, .. } => Some((addr, port)),
    }
}

pub fn endpoint(a: Addr) -> Endpoint {
    if is_v4(&a) {
        let mut v4 = [0u8; 4];
        v4.copy_from_slice(&a.0[12..]);
        Endpoint::V4 {
            addr: v4,
            port: a.1,
        }
    } else {
        Endpoint::V6 {
            addr: a.0,
            port: a.1,
            flowinfo: 0,
            scope_id: 0,
        }
    }
}

/// The address a device has in a family before any NAT rebinding, which
/// its peers are configured with.
pub fn public_addr(dev: usize, v6: bool) -> Addr {
    if v6 {
        let mut a = [
            0x20, 0x01, 0x0d, 0xb8, 0, 0x18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        a[14] = (dev >> 8) as u8;
        a[15] = dev as u8 + 1;
        (a, PORT)
    } else {
        (mapped([198, 18, (dev >> 8) as u8, dev as u8 + 1]), PORT)
    }
}

/// One copy of a datagram on its way: when it arrives, and whether a
/// fault changed it.
pub struct Copy {
    pub delay: u64,
    pub bytes: Vec<u8>,
    pub corrupted: bool,
}

pub struct Net {
    /// Where each device's datagrams appear to come from now, per family
    /// (IPv4, IPv6; none where it has no address of that family).
    pub external: Vec<[Option<Addr>; 2]>,
    routes: BTreeMap<Addr, usize>,
    links: BTreeMap<(usize, usize), LinkFaults>,
    down: BTreeSet<(usize, usize)>,
    /// Directed links on which handshake messages are dropped.
    blocked: BTreeSet<(usize, usize)>,
    pub healed: bool,
    next_port: u16,
}

/// Links between devices that are not peers (replays sent elsewhere).
const DEFAULT_LINK: LinkFaults = LinkFaults {
    loss: 0,
    dup: 0,
    reorder: 0,
    reorder_ns: 0,
    corrupt: 0,
    delay_ns: 10 * MS,
    jitter_ns: 0,
};

impl Net {
    /// `families[d]`: whether device d has IPv4, IPv6 outer addresses.
    pub fn new(families: &[(bool, bool)]) -> Net {
        let external: Vec<[Option<Addr>; 2]> = families
            .iter()
            .enumerate()
            .map(|(d, &(v4, v6))| {
                [
                    v4.then(|| public_addr(d, false)),
                    v6.then(|| public_addr(d, true)),
                ]
            })
            .collect();
        let routes = external
            .iter()
            .enumerate()
            .flat_map(|(d, a)| a.iter().flatten().map(move |a| (*a, d)))
            .collect();
        Net {
            external,
            routes,
            links: BTreeMap::new(),
            down: BTreeSet::new(),
            blocked: BTreeSet::new(),
            healed: false,
            next_port: 20000,
        }
    }

    pub fn set_link(&mut self, from: usize, to: usize, f: LinkFaults) {
        self.links.insert((from, to), f);
    }

    pub fn route(&self, a: &Addr) -> Option<usize> {
        self.routes.get(a).copied()
    }

    /// Where `dev`'s datagrams to `dst` come from: its address of that
    /// family, if it has one.
    pub fn source(&self, dev: usize, dst: &Addr) -> Option<Addr> {
        self.external[dev][usize::from(!is_v4(dst))]
    }

    /// Any of `dev`'s current addresses.
    pub fn any_addr(&self, rng: &mut Prng, dev: usize) -> Option<Addr> {
        let a = self.external[dev];
        match (a[0], a[1]) {
            (Some(x), Some(y)) => Some(if rng.chance(500) { x } else { y }),
            (x, y) => x.or(y),
        }
    }

    pub fn set_down(&mut self, a: usize, b: usize, down: bool) {
        for k in [(a, b), (b, a)] {
            if down {
                self.down.insert(k);
            } else {
                self.down.remove(&k);
            }
        }
    }

    pub fn set_blocked(&mut self, a: usize, b: usize, blocked: bool) {
        for k in [(a, b), (b, a)] {
            if blocked {
                self.blocked.insert(k);
            } else {
                self.blocked.remove(&k);
            }
        }
    }

    /// The NAT in front of `dev` picks a new mapping (sometimes a new
    /// address too); a NAT that forgets drops the old one.
    pub fn rebind(&mut self, rng: &mut Prng, dev: usize, forget: bool) -> Option<Addr> {
        let old = self.any_addr(rng, dev)?;
        let fam = usize::from(!is_v4(&old));
        self.next_port = self.next_port.wrapping_add(1).max(20000);
        let ip = if !rng.chance(300) {
            old.0
        } else if fam == 0 {
            mapped([100, 64, rng.below(256) as u8, rng.range(1, 254) as u8])
        } else {
            let mut a = [
                0x20, 0x01, 0x0d, 0xb8, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ];
            rng.bytes(&mut a[6..]);
            a
        };
        let new = (ip, self.next_port);
        if forget {
            self.routes.remove(&old);
        }
        // Never steal another device's mapping.
        if self.routes.contains_key(&new) {
            return Some(old);
        }
        self.routes.insert(new, dev);
        self.external[dev][fam] = Some(new);
        Some(new)
    }

    /// What the link from `from` to `to` does to `bytes`: no copy (lost),
    /// one, or two (duplicated), each possibly delayed or corrupted.
    pub fn carry(&self, rng: &mut Prng, from: usize, to: usize, bytes: Vec<u8>) -> Vec<Copy> {
        let f = self.links.get(&(from, to)).copied().unwrap_or(DEFAULT_LINK);
        let handshake = matches!(bytes.first(), Some(1..=3));
        if handshake && self.blocked.contains(&(from, to)) {
            return Vec::new();
        }
        if self.healed {
            return vec![Copy {
                delay: f.delay_ns.max(MS),
                bytes,
                corrupted: false,
            }];
        }
        if self.down.contains(&(from, to)) || rng.chance(f.loss) {
            return Vec::new();
        }
        let copies = if rng.chance(f.dup) { 2 } else { 1 };
        let mut out = Vec::with_capacity(copies);
        for _ in 0..copies {
            let mut delay = f.delay_ns.max(MS) + rng.below(f.jitter_ns + 1);
            if rng.chance(f.reorder) {
                delay += rng.below(f.reorder_ns + 1);
            }
            let mut b = bytes.clone();
            if rng.chance(f.corrupt) {
                corrupt(rng, &mut b);
            }
            // A flip undone by another, or a cut at the full length.
            let corrupted = b != bytes;
            out.push(Copy {
                delay,
                bytes: b,
                corrupted,
            });
        }
        out
    }
}

/// Flips a few bits, or cuts or extends the datagram.
fn corrupt(rng: &mut Prng, b: &mut Vec<u8>) {
    match rng.below(10) {
        0 => {
            let n = rng.below(b.len() as u64 + 1) as usize;
            b.truncate(n);
        }
        1 => {
            for _ in 0..rng.range(1, 32) {
                b.push(rng.next_u64() as u8);
            }
        }
        _ => {
            if b.is_empty() {
                return;
            }
            for _ in 0..rng.range(1, 3) {
                let i = rng.below(b.len() as u64) as usize;
                b[i] ^= 1 << rng.below(8);
            }
        }
    }
}
