//! Tests of `allowedips`.

use super::*;
use alloc::vec;
use proptest::prelude::*;

fn p4(a: [u8; 4], c: u8) -> IpPrefix {
    IpPrefix::new_v4(a, c).unwrap()
}

fn p6(a: [u8; 16], c: u8) -> IpPrefix {
    IpPrefix::new_v6(a, c).unwrap()
}

fn v6(words: [u16; 8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (i, w) in words.iter().enumerate() {
        out[2 * i..2 * i + 2].copy_from_slice(&w.to_be_bytes());
    }
    out
}

#[test]
fn node_sizes() {
    assert_eq!(core::mem::size_of::<Node<V4Key, u32>>(), 24);
    assert_eq!(core::mem::size_of::<Node<V6Key, u32>>(), 36);
}

#[test]
fn prefix_construction() {
    assert_eq!(p4([10, 1, 2, 3], 8), IpPrefix::V4([10, 0, 0, 0], 8));
    assert_eq!(p4([10, 1, 2, 3], 0), IpPrefix::V4([0; 4], 0));
    assert_eq!(p4([10, 1, 2, 3], 32), IpPrefix::V4([10, 1, 2, 3], 32));
    assert_eq!(p4([10, 1, 2, 255], 25), IpPrefix::V4([10, 1, 2, 128], 25));
    assert_eq!(IpPrefix::new_v4([0; 4], 33), Err(Error::Invalid));
    assert_eq!(IpPrefix::new_v4([0; 4], 255), Err(Error::Invalid));
    assert_eq!(IpPrefix::new_v6([0; 16], 129), Err(Error::Invalid));
    assert_eq!(
        p6(v6([0x2001, 0xdb8, 0xffff, 1, 2, 3, 4, 5]), 36),
        IpPrefix::V6(v6([0x2001, 0xdb8, 0xf000, 0, 0, 0, 0, 0]), 36)
    );
    assert_eq!(p6([0xff; 16], 128), IpPrefix::V6([0xff; 16], 128));
    assert_eq!(p6([0xff; 16], 0).cidr(), 0);

    let net = p4([192, 168, 0, 0], 16);
    assert!(net.contains_addr(&IpAddrBytes::V4([192, 168, 255, 1])));
    assert!(!net.contains_addr(&IpAddrBytes::V4([192, 169, 0, 0])));
    assert!(!net.contains_addr(&IpAddrBytes::V6([0; 16])));
    assert!(p6([0; 16], 0).contains_addr(&IpAddrBytes::V6([0xff; 16])));
    // Hand-built prefixes: unmasked bits are ignored, bad cidrs cover nothing.
    assert!(IpPrefix::V4([10, 9, 9, 9], 8).contains_addr(&IpAddrBytes::V4([10, 0, 0, 1])));
    assert!(!IpPrefix::V4([10, 0, 0, 1], 40).contains_addr(&IpAddrBytes::V4([10, 0, 0, 1])));
}

#[test]
fn v4_longest_prefix_match() {
    let mut t = AllowedIps::new();
    t.insert(p4([10, 0, 0, 0], 8), 1u32).unwrap();
    t.insert(p4([10, 1, 0, 0], 16), 2).unwrap();
    t.insert(p4([10, 1, 2, 0], 24), 3).unwrap();
    t.insert(p4([10, 1, 2, 3], 32), 4).unwrap();
    t.insert(p4([10, 128, 0, 0], 9), 5).unwrap();
    assert_eq!(t.len(), 5);
    assert_eq!(t.lookup_v4([10, 1, 2, 3]), Some(4));
    assert_eq!(t.lookup_v4([10, 1, 2, 4]), Some(3));
    assert_eq!(t.lookup_v4([10, 1, 3, 4]), Some(2));
    assert_eq!(t.lookup_v4([10, 2, 3, 4]), Some(1));
    assert_eq!(t.lookup_v4([10, 200, 3, 4]), Some(5));
    assert_eq!(t.lookup_v4([11, 1, 2, 3]), None);
    assert_eq!(t.lookup(&IpAddrBytes::V4([10, 1, 2, 3])), Some(4));
    // The other family is a separate table.
    assert_eq!(t.lookup_v6([10; 16]), None);

    assert!(t.remove(&p4([10, 1, 0, 0], 16), 2));
    assert_eq!(t.lookup_v4([10, 1, 3, 4]), Some(1));
    assert_eq!(t.lookup_v4([10, 1, 2, 4]), Some(3));
    assert!(!t.remove(&p4([10, 1, 0, 0], 16), 2));
    assert_eq!(t.len(), 4);
}

#[test]
fn v6_longest_prefix_match() {
    let mut t = AllowedIps::new();
    let a = v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0]);
    t.insert(p6(a, 32), 1u32).unwrap();
    t.insert(p6(v6([0x2001, 0xdb8, 0xaaaa, 0, 0, 0, 0, 0]), 48), 2)
        .unwrap();
    t.insert(p6(v6([0x2001, 0xdb8, 0xaaaa, 0, 0, 0, 0, 1]), 128), 3)
        .unwrap();
    t.insert(p6(v6([0xfe80, 0, 0, 0, 0, 0, 0, 0]), 10), 4)
        .unwrap();
    assert_eq!(
        t.lookup_v6(v6([0x2001, 0xdb8, 0xaaaa, 0, 0, 0, 0, 1])),
        Some(3)
    );
    assert_eq!(
        t.lookup_v6(v6([0x2001, 0xdb8, 0xaaaa, 0, 0, 0, 0, 2])),
        Some(2)
    );
    assert_eq!(
        t.lookup_v6(v6([0x2001, 0xdb8, 0xaaab, 0, 0, 0, 0, 1])),
        Some(1)
    );
    assert_eq!(t.lookup_v6(v6([0x2001, 0xdb9, 0, 0, 0, 0, 0, 1])), None);
    assert_eq!(t.lookup_v6(v6([0xfebf, 1, 0, 0, 0, 0, 0, 1])), Some(4));
    assert_eq!(t.lookup_v6(v6([0xfec0, 1, 0, 0, 0, 0, 0, 1])), None);
    assert_eq!(t.lookup_v4([0x20, 0x01, 0x0d, 0xb8]), None);
}

#[test]
fn default_routes() {
    let mut t = AllowedIps::new();
    t.insert(p4([1, 2, 3, 4], 0), 7u8).unwrap();
    t.insert(p6([9; 16], 0), 8).unwrap();
    assert_eq!(t.lookup_v4([0, 0, 0, 0]), Some(7));
    assert_eq!(t.lookup_v4([255; 4]), Some(7));
    assert_eq!(t.lookup_v6([0; 16]), Some(8));
    assert_eq!(t.lookup_v6([0xff; 16]), Some(8));
    t.insert(p4([128, 0, 0, 0], 1), 9).unwrap();
    assert_eq!(t.lookup_v4([200, 0, 0, 0]), Some(9));
    assert_eq!(t.lookup_v4([100, 0, 0, 0]), Some(7));
    assert_eq!(t.prefixes_of(7), vec![IpPrefix::V4([0; 4], 0)]);
    assert!(t.remove(&p4([0; 4], 0), 7));
    assert_eq!(t.lookup_v4([100, 0, 0, 0]), None);
    assert_eq!(t.lookup_v4([200, 0, 0, 0]), Some(9));
}

#[test]
fn host_routes() {
    let mut t = AllowedIps::new();
    t.insert(p4([192, 0, 2, 1], 32), 1u32).unwrap();
    t.insert(p4([192, 0, 2, 0], 32), 2).unwrap();
    t.insert(p6([0xff; 16], 128), 3).unwrap();
    let mut almost = [0xff; 16];
    almost[15] = 0xfe;
    t.insert(p6(almost, 128), 4).unwrap();
    assert_eq!(t.lookup_v4([192, 0, 2, 1]), Some(1));
    assert_eq!(t.lookup_v4([192, 0, 2, 0]), Some(2));
    assert_eq!(t.lookup_v4([192, 0, 2, 2]), None);
    assert_eq!(t.lookup_v6([0xff; 16]), Some(3));
    assert_eq!(t.lookup_v6(almost), Some(4));
    almost[15] = 0xfd;
    assert_eq!(t.lookup_v6(almost), None);
}

#[test]
fn overlapping_prefixes_and_moves() {
    let mut t = AllowedIps::new();
    t.insert(p4([10, 0, 0, 0], 8), 1u32).unwrap();
    t.insert(p4([10, 0, 0, 0], 16), 2).unwrap();
    t.insert(p4([10, 0, 0, 0], 24), 1).unwrap();
    assert_eq!(t.lookup_v4([10, 0, 0, 1]), Some(1));
    assert_eq!(t.lookup_v4([10, 0, 1, 1]), Some(2));
    assert_eq!(t.lookup_v4([10, 1, 1, 1]), Some(1));

    // Same prefix, another value: it moves, it is not duplicated.
    t.insert(p4([10, 0, 0, 0], 16), 3).unwrap();
    assert_eq!(t.len(), 3);
    assert_eq!(t.lookup_v4([10, 0, 1, 1]), Some(3));
    assert!(t.prefixes_of(2).is_empty());
    assert!(!t.remove(&p4([10, 0, 0, 0], 16), 2));
    assert_eq!(
        t.prefixes_of(1),
        vec![p4([10, 0, 0, 0], 8), p4([10, 0, 0, 0], 24)]
    );

    // Host bits do not matter for insert or remove.
    t.insert(IpPrefix::V4([10, 0, 0, 99], 24), 4).unwrap();
    assert_eq!(t.len(), 3);
    assert_eq!(t.lookup_v4([10, 0, 0, 1]), Some(4));
    assert!(t.remove(&IpPrefix::V4([10, 0, 0, 77], 24), 4));
    assert_eq!(t.lookup_v4([10, 0, 0, 1]), Some(3));

    t.remove_value(3);
    assert_eq!(t.lookup_v4([10, 0, 0, 1]), Some(1));
    assert_eq!(t.len(), 1);
    t.remove_value(1);
    assert!(t.is_empty());
    assert_eq!(t.v4.root, NIL);
}

#[test]
fn invalid_prefixes_refused() {
    let mut t = AllowedIps::new();
    assert_eq!(
        t.insert(IpPrefix::V4([1, 2, 3, 4], 33), 1u32),
        Err(Error::Invalid)
    );
    assert_eq!(t.insert(IpPrefix::V6([1; 16], 129), 1), Err(Error::Invalid));
    assert!(!t.remove(&IpPrefix::V4([1, 2, 3, 4], 33), 1));
    assert!(t.is_empty());
}

#[test]
fn iter_prefixes_of_clear() {
    let mut t = AllowedIps::new();
    t.insert(p6([0x20; 16], 64), 1u32).unwrap();
    t.insert(p4([10, 0, 0, 0], 8), 1).unwrap();
    t.insert(p4([1, 0, 0, 0], 8), 1).unwrap();
    t.insert(p6([0x10; 16], 64), 1).unwrap();
    t.insert(p4([2, 0, 0, 0], 8), 2).unwrap();
    let want = vec![
        p4([1, 0, 0, 0], 8),
        p4([10, 0, 0, 0], 8),
        p6([0x10; 16], 64),
        p6([0x20; 16], 64),
    ];
    assert_eq!(t.prefixes_of(1), want);
    assert_eq!(t.try_prefixes_of(1).unwrap(), want);
    let mut all: Vec<_> = t.iter().collect();
    all.sort();
    assert_eq!(all.len(), 5);
    assert!(all.contains(&(p4([2, 0, 0, 0], 8), 2)));
    t.clear();
    assert!(t.is_empty());
    assert_eq!(t.iter().count(), 0);
    assert_eq!(t.memory_bytes(), 0);
    assert_eq!(t.lookup_v4([1, 0, 0, 0]), None);
}

#[test]
fn removal_reuses_nodes() {
    let mut t = AllowedIps::new();
    for round in 0..3u32 {
        for i in 0..200u32 {
            t.insert(p4((i * 7919).to_be_bytes(), 20 + (i % 13) as u8), i % 50)
                .unwrap();
        }
        for v in 0..50 {
            t.remove_value(v);
        }
        assert!(t.is_empty(), "round {round}");
        assert_eq!(t.v4.root, NIL);
        assert_eq!(t.v4.free_count, t.v4.nodes.len());
    }
    assert!(t.v4.nodes.len() <= 400);
}

#[test]
fn memory_per_route() {
    let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut t = AllowedIps::new();
    for i in 0..100_000u32 {
        let r = next();
        let cidr = 16 + (r >> 32) as u8 % 17;
        t.insert(IpPrefix::V4((r as u32).to_be_bytes(), cidr), i)
            .unwrap();
    }
    let per_route = t.memory_bytes() / t.len();
    std::println!(
        "{} v4 routes, {} nodes, {} bytes, {} bytes/route",
        t.len(),
        t.v4.nodes.len(),
        t.memory_bytes(),
        per_route
    );
    assert!(t.len() > 95_000);
    assert!(per_route < 100);
}

/// Addresses drawn from a few byte values so that prefixes nest and
/// collide often. Built from one integer, not an array strategy, whose
/// value trees overflow the test thread's stack in debug builds.
fn addr_bytes<const N: usize>(seed: u64) -> [u8; N] {
    const VALUES: [u8; 8] = [0x00, 0x00, 0x00, 0x80, 0xc0, 0x0f, 0xff, 0x01];
    core::array::from_fn(|i| VALUES[(seed >> (3 * (i % 21))) as usize % 8])
}

fn any_prefix() -> impl Strategy<Value = IpPrefix> {
    prop_oneof![
        (any::<u64>(), 0u8..=34).prop_map(|(s, c)| IpPrefix::V4(addr_bytes(s), c)),
        (any::<u64>(), 0u8..=130).prop_map(|(s, c)| IpPrefix::V6(addr_bytes(s), c)),
    ]
}

fn any_addr() -> impl Strategy<Value = IpAddrBytes> {
    prop_oneof![
        any::<u64>().prop_map(|s| IpAddrBytes::V4(addr_bytes(s))),
        any::<u64>().prop_map(|s| IpAddrBytes::V6(addr_bytes(s))),
    ]
}

#[derive(Clone, Debug)]
enum Op {
    Insert(IpPrefix, u8),
    Remove(IpPrefix, u8),
    /// Removes the model's n-th route, so removals usually hit.
    RemoveExisting(usize),
    /// The bool picks the strategy, which the public call picks by
    /// size; both must agree with the model.
    RemoveValue(u8, bool),
    Lookup(IpAddrBytes),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (any_prefix(), 0u8..4).prop_map(|(p, v)| Op::Insert(p, v)),
        1 => (any_prefix(), 0u8..4).prop_map(|(p, v)| Op::Remove(p, v)),
        2 => any::<usize>().prop_map(Op::RemoveExisting),
        1 => (0u8..4, any::<bool>()).prop_map(|(v, b)| Op::RemoveValue(v, b)),
        6 => any_addr().prop_map(Op::Lookup),
    ]
}

fn normalize(p: IpPrefix) -> Option<IpPrefix> {
    match p {
        IpPrefix::V4(a, c) => IpPrefix::new_v4(a, c).ok(),
        IpPrefix::V6(a, c) => IpPrefix::new_v6(a, c).ok(),
    }
}

/// Bit by bit, independently of the trie's word arithmetic.
fn model_contains(p: &IpPrefix, addr: &IpAddrBytes) -> bool {
    let (net, a, cidr): (&[u8], &[u8], u8) = match (p, addr) {
        (IpPrefix::V4(n, c), IpAddrBytes::V4(a)) => (n, a, *c),
        (IpPrefix::V6(n, c), IpAddrBytes::V6(a)) => (n, a, *c),
        _ => return false,
    };
    let bit = |b: &[u8], i: usize| b[i / 8] >> (7 - i % 8) & 1;
    (0..usize::from(cidr)).all(|i| bit(net, i) == bit(a, i))
}

fn model_lookup(model: &[(IpPrefix, u8)], addr: &IpAddrBytes) -> Option<u8> {
    model
        .iter()
        .filter(|(p, _)| model_contains(p, addr))
        .max_by_key(|(p, _)| p.cidr())
        .map(|&(_, v)| v)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn matches_linear_model(ops in proptest::collection::vec(op(), 1..150)) {
        let mut t = AllowedIps::new();
        let mut model: Vec<(IpPrefix, u8)> = Vec::new();
        for op in ops {
            match op {
                Op::Insert(p, v) => {
                    let got = t.insert(p, v);
                    match normalize(p) {
                        None => prop_assert_eq!(got, Err(Error::Invalid)),
                        Some(p) => {
                            prop_assert_eq!(got, Ok(()));
                            match model.iter_mut().find(|(q, _)| *q == p) {
                                Some(e) => e.1 = v,
                                None => model.push((p, v)),
                            }
                        }
                    }
                }
                Op::Remove(p, v) => {
                    let want = normalize(p)
                        .and_then(|p| model.iter().position(|&e| e == (p, v)));
                    if let Some(i) = want {
                        model.swap_remove(i);
                    }
                    prop_assert_eq!(t.remove(&p, v), want.is_some());
                }
                Op::RemoveExisting(i) => {
                    if !model.is_empty() {
                        let (p, v) = model.swap_remove(i % model.len());
                        prop_assert!(t.remove(&p, v));
                        prop_assert!(!t.remove(&p, v));
                    }
                }
                Op::RemoveValue(v, one_pass) => {
                    model.retain(|&(_, w)| w != v);
                    if one_pass {
                        t.v4.remove_value_in_one_pass(v);
                        t.v6.remove_value_in_one_pass(v);
                    } else {
                        t.v4.remove_value_route_by_route(v);
                        t.v6.remove_value_route_by_route(v);
                    }
                }
                Op::Lookup(a) => {
                    prop_assert_eq!(t.lookup(&a), model_lookup(&model, &a));
                }
            }
            prop_assert_eq!(t.len(), model.len());
        }
        for v in 0..4 {
            let mut want: Vec<IpPrefix> =
                model.iter().filter(|e| e.1 == v).map(|e| e.0).collect();
            want.sort();
            prop_assert_eq!(t.prefixes_of(v), want);
        }
        let mut all: Vec<_> = t.iter().collect();
        all.sort();
        model.sort();
        prop_assert_eq!(all, model);
        // Pruning kept the trie compressed: a fork joins two subtrees,
        // so there are fewer forks than routes.
        let live = |nodes: usize, free: usize, routes: usize| {
            nodes - free <= (2 * routes).saturating_sub(1)
        };
        prop_assert!(live(t.v4.nodes.len(), t.v4.free_count, t.v4.routes));
        prop_assert!(live(t.v6.nodes.len(), t.v6.free_count, t.v6.routes));
    }
}
