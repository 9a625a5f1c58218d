//! Allowed-IPs operations against a naive model: a list of (prefix, value)
//! searched linearly for the longest match. The model shares no code with
//! the trie (its own masking, its own matching), so a trie bug cannot hide
//! in both.

use arbitrary::{Result, Unstructured};
use wg_core::allowedips::{AllowedIps, IpAddrBytes, IpPrefix};

/// An address family-free view: the top `bits` of an address as u128.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ModelPrefix {
    v6: bool,
    /// The address left-aligned in 128 bits, host bits cleared.
    addr: u128,
    cidr: u8,
}

fn bits(v6: bool) -> u8 {
    if v6 {
        128
    } else {
        32
    }
}

fn mask(cidr: u8) -> u128 {
    if cidr == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(cidr))
    }
}

fn left_align(addr: &IpAddrBytes) -> (bool, u128) {
    match addr {
        IpAddrBytes::V4(a) => (false, u128::from(u32::from_be_bytes(*a)) << 96),
        IpAddrBytes::V6(a) => (true, u128::from_be_bytes(*a)),
    }
}

impl ModelPrefix {
    /// None when the cidr is too long for the family (the trie refuses it).
    fn of(p: &IpPrefix) -> Option<Self> {
        let (v6, addr, cidr) = match *p {
            IpPrefix::V4(a, c) => (false, left_align(&IpAddrBytes::V4(a)).1, c),
            IpPrefix::V6(a, c) => (true, left_align(&IpAddrBytes::V6(a)).1, c),
        };
        (cidr <= bits(v6)).then(|| ModelPrefix {
            v6,
            addr: addr & mask(cidr),
            cidr,
        })
    }

    fn to_prefix(self) -> IpPrefix {
        if self.v6 {
            IpPrefix::V6(self.addr.to_be_bytes(), self.cidr)
        } else {
            IpPrefix::V4(((self.addr >> 96) as u32).to_be_bytes(), self.cidr)
        }
    }

    fn covers(&self, addr: &IpAddrBytes) -> bool {
        let (v6, a) = left_align(addr);
        v6 == self.v6 && a & mask(self.cidr) == self.addr
    }
}

#[derive(Default)]
struct Model {
    routes: Vec<(ModelPrefix, u8)>,
}

impl Model {
    fn insert(&mut self, p: ModelPrefix, v: u8) {
        match self.routes.iter_mut().find(|(q, _)| *q == p) {
            Some(r) => r.1 = v,
            None => self.routes.push((p, v)),
        }
    }

    fn remove(&mut self, p: ModelPrefix, v: u8) -> bool {
        let before = self.routes.len();
        self.routes.retain(|r| *r != (p, v));
        self.routes.len() != before
    }

    fn lookup(&self, addr: &IpAddrBytes) -> Option<u8> {
        self.routes
            .iter()
            .filter(|(p, _)| p.covers(addr))
            .max_by_key(|(p, _)| p.cidr)
            .map(|&(_, v)| v)
    }
}

/// Addresses drawn near a few bases the input picks, so that prefixes
/// nest and split each other instead of landing in disjoint corners.
struct AddrGen {
    v4: [[u8; 4]; 4],
    v6: [[u8; 16]; 4],
}

impl AddrGen {
    fn new(u: &mut Unstructured) -> Result<Self> {
        Ok(AddrGen {
            v4: u.arbitrary()?,
            v6: u.arbitrary()?,
        })
    }

    fn addr(&self, u: &mut Unstructured, v6: bool) -> Result<IpAddrBytes> {
        let sel: u8 = u.arbitrary()?;
        let base = usize::from(sel & 3);
        // Flip one bit of the base (or none, or take raw bytes): neighbours
        // on both sides of every split point.
        let flip: u8 = u.arbitrary()?;
        Ok(if v6 {
            let mut a = self.v6[base];
            match sel >> 6 {
                0 => {}
                1 | 2 => a[usize::from(flip / 8 % 16)] ^= 0x80 >> (flip % 8),
                _ => a = u.arbitrary()?,
            }
            IpAddrBytes::V6(a)
        } else {
            let mut a = self.v4[base];
            match sel >> 6 {
                0 => {}
                1 | 2 => a[usize::from(flip / 8 % 4)] ^= 0x80 >> (flip % 8),
                _ => a = u.arbitrary()?,
            }
            IpAddrBytes::V4(a)
        })
    }

    fn prefix(&self, u: &mut Unstructured) -> Result<IpPrefix> {
        let v6: bool = u.arbitrary()?;
        let cidr: u8 = u.arbitrary()?;
        // Mostly valid lengths, sometimes anything (the trie must refuse).
        let cidr = if cidr >= 0xf0 {
            cidr
        } else {
            cidr % (bits(v6) + 1)
        };
        Ok(match self.addr(u, v6)? {
            IpAddrBytes::V4(a) => IpPrefix::V4(a, cidr),
            IpAddrBytes::V6(a) => IpPrefix::V6(a, cidr),
        })
    }
}

/// Runs the operations encoded in `data`; panics on any disagreement.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let _ = run_ops(&mut u);
}

fn run_ops(u: &mut Unstructured) -> Result<()> {
    let gen = AddrGen::new(u)?;
    let mut trie: AllowedIps<u8> = AllowedIps::new();
    let mut model = Model::default();
    while !u.is_empty() {
        let op: u8 = u.arbitrary()?;
        let value = op >> 4;
        match op % 8 {
            0..=2 => {
                let p = gen.prefix(u)?;
                let r = trie.insert(p, value);
                match ModelPrefix::of(&p) {
                    Some(m) => {
                        assert!(r.is_ok(), "insert {p:?} failed: {r:?}");
                        model.insert(m, value);
                    }
                    None => assert!(r.is_err(), "insert of invalid {p:?} accepted"),
                }
                check_around(&trie, &model, &p);
            }
            3 => {
                let p = gen.prefix(u)?;
                let removed = trie.remove(&p, value);
                let expected = ModelPrefix::of(&p).is_some_and(|m| model.remove(m, value));
                assert_eq!(removed, expected, "remove {p:?} -> {value}");
                check_around(&trie, &model, &p);
            }
            4 => {
                trie.remove_value(value);
                model.routes.retain(|&(_, v)| v != value);
                check_routes(&trie, &model);
            }
            5 | 6 => {
                let v6: bool = u.arbitrary()?;
                let a = gen.addr(u, v6)?;
                assert_eq!(trie.lookup(&a), model.lookup(&a), "lookup {a:?}");
            }
            _ => {
                check_routes(&trie, &model);
            }
        }
        assert_eq!(trie.len(), model.routes.len(), "route count");
    }
    check_all(&trie, &model);
    Ok(())
}

/// Lookups at a prefix's first and last address and just outside it.
fn check_around(trie: &AllowedIps<u8>, model: &Model, p: &IpPrefix) {
    let Some(m) = ModelPrefix::of(p) else {
        return;
    };
    let host = !mask(m.cidr) & mask(bits(m.v6));
    let step = 1u128 << (128 - u32::from(bits(m.v6)));
    for a in [
        m.addr,
        m.addr | host,
        m.addr.wrapping_sub(step),
        (m.addr | host).wrapping_add(step),
    ] {
        let addr = if m.v6 {
            IpAddrBytes::V6(a.to_be_bytes())
        } else {
            IpAddrBytes::V4(((a >> 96) as u32).to_be_bytes())
        };
        assert_eq!(trie.lookup(&addr), model.lookup(&addr), "lookup {addr:?}");
    }
}

/// The same routes (linear in the table: cheap enough after any op).
fn check_routes(trie: &AllowedIps<u8>, model: &Model) -> Vec<(IpPrefix, u8)> {
    let mut got: Vec<(IpPrefix, u8)> = trie.iter().collect();
    let mut want: Vec<(IpPrefix, u8)> = model
        .routes
        .iter()
        .map(|&(p, v)| (p.to_prefix(), v))
        .collect();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want, "routes");
    want
}

/// The whole table, once per input (quadratic with the model): the same
/// routes per value, and every route's own address and edges look up as
/// the model says.
fn check_all(trie: &AllowedIps<u8>, model: &Model) {
    let want = check_routes(trie, model);
    for v in 0..16u8 {
        let mine: Vec<IpPrefix> = want.iter().filter(|r| r.1 == v).map(|r| r.0).collect();
        assert_eq!(trie.prefixes_of(v), mine, "prefixes_of({v})");
    }
    for (p, _) in &want {
        check_around(trie, model, p);
    }
}
