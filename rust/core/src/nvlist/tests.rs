//! Tests of `nvlist`.

use super::*;
use alloc::vec;
use proptest::prelude::*;

fn lim() -> UnpackLimits {
    UnpackLimits::default()
}

/// `{"listen-port": 51820}`, little-endian, field by field.
#[rustfmt::skip]
const LISTEN_PORT_LE: [u8; 58] = [
    // nvlist header
    0x6c,                                           // magic
    0x00,                                           // version
    0x00,                                           // flags
    0, 0, 0, 0, 0, 0, 0, 0,                         // descriptors
    39, 0, 0, 0, 0, 0, 0, 0,                        // size: 58 - 19
    // pair header
    NV_TYPE_NUMBER,                                 // type 3
    12, 0,                                          // namesize: "listen-port\0"
    8, 0, 0, 0, 0, 0, 0, 0,                         // datasize
    0, 0, 0, 0, 0, 0, 0, 0,                         // nitems
    b'l', b'i', b's', b't', b'e', b'n', b'-', b'p', b'o', b'r', b't', 0,
    0x6c, 0xca, 0, 0, 0, 0, 0, 0,                   // 51820 = 0xca6c
];

/// The same list as a big-endian host packs it.
#[rustfmt::skip]
const LISTEN_PORT_BE: [u8; 58] = [
    0x6c, 0x00,
    0x80,                                           // flags: big-endian
    0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 39,                        // size
    NV_TYPE_NUMBER,
    0, 12,                                          // namesize
    0, 0, 0, 0, 0, 0, 0, 8,                         // datasize
    0, 0, 0, 0, 0, 0, 0, 0,
    b'l', b'i', b's', b't', b'e', b'n', b'-', b'p', b'o', b'r', b't', 0,
    0, 0, 0, 0, 0, 0, 0xca, 0x6c,
];

/// `{"a": {"b": true}}`: a nested list and a bool.
#[rustfmt::skip]
const NESTED: [u8; 101] = [
    // [0] top header
    0x6c, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0,
    82, 0, 0, 0, 0, 0, 0, 0,                        // size: 101 - 19
    // [19] pair "a": nvlist
    NV_TYPE_NVLIST,
    2, 0,                                           // namesize "a\0"
    41, 0, 0, 0, 0, 0, 0, 0,                        // datasize: child header 19 + pair 22
    0, 0, 0, 0, 0, 0, 0, 0,
    b'a', 0,
    // [40] child header
    0x6c, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0,
    42, 0, 0, 0, 0, 0, 0, 0,                        // size: 101 - 59
    // [59] pair "b": bool
    NV_TYPE_BOOL,
    2, 0,
    1, 0, 0, 0, 0, 0, 0, 0,                         // datasize
    0, 0, 0, 0, 0, 0, 0, 0,
    b'b', 0,
    1,                                              // true
    // [81] terminator of the child
    NV_TYPE_NVLIST_UP,
    1, 0,                                           // namesize: "\0"
    0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0,
    0,
];

/// `{"arr": [{"x": 1}, {}]}`: an array of two lists, the second empty.
#[rustfmt::skip]
const ARRAY: [u8; 149] = [
    // [0] top header
    0x6c, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0,
    130, 0, 0, 0, 0, 0, 0, 0,                       // size: 149 - 19
    // [19] pair "arr": nvlist array
    NV_TYPE_NVLIST_ARRAY,
    4, 0,                                           // namesize "arr\0"
    0, 0, 0, 0, 0, 0, 0, 0,                         // datasize 0
    2, 0, 0, 0, 0, 0, 0, 0,                         // nitems 2
    b'a', b'r', b'r', 0,
    // [42] element 0 header
    0x6c, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0,
    88, 0, 0, 0, 0, 0, 0, 0,                        // size: 149 - 61
    // [61] pair "x": number 1
    NV_TYPE_NUMBER,
    2, 0,
    8, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0,
    b'x', 0,
    1, 0, 0, 0, 0, 0, 0, 0,
    // [90] terminator of element 0
    NV_TYPE_NVLIST_ARRAY_NEXT,
    1, 0,
    0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0,
    0,
    // [110] element 1 header
    0x6c, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0,
    20, 0, 0, 0, 0, 0, 0, 0,                        // size: 149 - 129
    // [129] terminator of element 1
    NV_TYPE_NVLIST_ARRAY_NEXT,
    1, 0,
    0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0,
    0,
];

/// `{"k": binary 01 02 03, "f": false}`.
#[rustfmt::skip]
const BINARY_BOOL: [u8; 65] = [
    0x6c, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0,
    46, 0, 0, 0, 0, 0, 0, 0,                        // size: 65 - 19
    // [19] pair "k": binary
    NV_TYPE_BINARY,
    2, 0,
    3, 0, 0, 0, 0, 0, 0, 0,                         // datasize 3
    0, 0, 0, 0, 0, 0, 0, 0,
    b'k', 0,
    1, 2, 3,
    // [43] pair "f": bool
    NV_TYPE_BOOL,
    2, 0,
    1, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0,
    b'f', 0,
    0,                                              // false
];

fn listen_port() -> Nvlist {
    let mut l = Nvlist::new();
    l.add_number("listen-port", 51820).unwrap();
    l
}

fn nested() -> Nvlist {
    let mut child = Nvlist::new();
    child.add_bool("b", true).unwrap();
    let mut l = Nvlist::new();
    l.add_nvlist("a", child).unwrap();
    l
}

fn array() -> Nvlist {
    let mut e0 = Nvlist::new();
    e0.add_number("x", 1).unwrap();
    let mut l = Nvlist::new();
    l.add_nvlist_array("arr", vec![e0, Nvlist::new()]).unwrap();
    l
}

fn binary_bool() -> Nvlist {
    let mut l = Nvlist::new();
    l.add_binary("k", &[1, 2, 3]).unwrap();
    l.add_bool("f", false).unwrap();
    l
}

fn vectors() -> Vec<(Nvlist, &'static [u8])> {
    vec![
        (listen_port(), &LISTEN_PORT_LE[..]),
        (nested(), &NESTED[..]),
        (array(), &ARRAY[..]),
        (binary_bool(), &BINARY_BOOL[..]),
    ]
}

#[cfg(target_endian = "little")]
#[test]
fn packs_byte_exact() {
    for (nvl, bytes) in vectors() {
        assert_eq!(pack(&nvl).unwrap(), bytes);
        assert_eq!(packed_size(&nvl), bytes.len());
    }
}

#[test]
fn unpacks_vectors() {
    for (nvl, bytes) in vectors() {
        assert_eq!(unpack(bytes, &lim()).unwrap(), nvl);
    }
    let l = unpack(&ARRAY, &lim()).unwrap();
    let arr = l.get_nvlist_array("arr").unwrap();
    assert_eq!(arr.len(), 2);
    assert_eq!(arr[0].get_number("x"), Some(1));
    assert!(arr[1].is_empty());
    let n = unpack(&NESTED, &lim()).unwrap();
    assert_eq!(n.get_nvlist("a").unwrap().get_bool("b"), Some(true));
    assert_eq!(n.get_number("a"), None);
}

#[test]
fn big_endian_unpacks_to_same_values() {
    assert_eq!(unpack(&LISTEN_PORT_BE, &lim()).unwrap(), listen_port());
}

#[test]
fn big_endian_arrays_and_nested() {
    // {"n": [7, 2^40], "arr": [{"c": {"b": true}}]} as a big-endian host
    // packs it: every multi-byte field big-endian, flag 0x80 in every
    // header, sizes patched in once the length is known.
    fn header(b: &mut Vec<u8>, at: &mut Vec<usize>) {
        at.push(b.len());
        b.extend_from_slice(&[0x6c, 0, 0x80]);
        b.extend_from_slice(&[0; 16]);
    }
    fn pair(b: &mut Vec<u8>, ty: u8, name: &[u8], datasize: u64, nitems: u64) {
        b.push(ty);
        b.extend_from_slice(&(name.len() as u16 + 1).to_be_bytes());
        b.extend_from_slice(&datasize.to_be_bytes());
        b.extend_from_slice(&nitems.to_be_bytes());
        b.extend_from_slice(name);
        b.push(0);
    }
    let (mut b, mut at) = (Vec::new(), Vec::new());
    header(&mut b, &mut at);
    pair(&mut b, NV_TYPE_NUMBER_ARRAY, b"n", 16, 2);
    b.extend_from_slice(&7u64.to_be_bytes());
    b.extend_from_slice(&(1u64 << 40).to_be_bytes());
    pair(&mut b, NV_TYPE_NVLIST_ARRAY, b"arr", 0, 1);
    header(&mut b, &mut at);
    pair(&mut b, NV_TYPE_NVLIST, b"c", 41, 0);
    header(&mut b, &mut at);
    pair(&mut b, NV_TYPE_BOOL, b"b", 1, 0);
    b.push(1);
    pair(&mut b, NV_TYPE_NVLIST_UP, b"", 0, 0);
    pair(&mut b, NV_TYPE_NVLIST_ARRAY_NEXT, b"", 0, 0);
    for &h in &at {
        let size = (b.len() - h - NVLIST_HEADER_SIZE) as u64;
        b[h + 11..h + 19].copy_from_slice(&size.to_be_bytes());
    }

    let mut c = Nvlist::new();
    c.add_bool("b", true).unwrap();
    let mut e = Nvlist::new();
    e.add_nvlist("c", c).unwrap();
    let mut want = Nvlist::new();
    want.add_number_array("n", &[7, 1 << 40]).unwrap();
    want.add_nvlist_array("arr", vec![e]).unwrap();
    assert_eq!(unpack(&b, &lim()).unwrap(), want);
    assert_eq!(pack(&want).unwrap().len(), b.len());
}

#[test]
fn every_truncation_fails() {
    for (_, bytes) in vectors() {
        for n in 0..bytes.len() {
            assert_eq!(
                unpack(&bytes[..n], &lim()),
                Err(Error::BadMessage),
                "len {n}"
            );
        }
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert_eq!(unpack(&longer, &lim()), Err(Error::BadMessage));
    }
}

#[test]
fn flipped_bytes_never_panic() {
    for (_, bytes) in vectors() {
        for i in 0..bytes.len() {
            for mask in [0x01u8, 0x02, 0x10, 0x80, 0xff] {
                let mut b = bytes.to_vec();
                b[i] ^= mask;
                let _ = unpack(&b, &lim());
            }
        }
    }
}

#[test]
fn header_checks() {
    let bad = |i: usize, v: u8| {
        let mut b = LISTEN_PORT_LE.to_vec();
        b[i] = v;
        unpack(&b, &lim())
    };
    assert_eq!(bad(0, 0x6d), Err(Error::BadMessage)); // magic
    assert_eq!(bad(1, 1), Err(Error::BadMessage)); // version
    assert_eq!(bad(2, 0x04), Err(Error::BadMessage)); // unknown flag
    assert_eq!(bad(3, 1), Err(Error::BadMessage)); // descriptors
    assert_eq!(bad(11, 38), Err(Error::BadMessage)); // size
    assert_eq!(bad(19, 0), Err(Error::BadMessage)); // type 0
    assert_eq!(bad(19, 13), Err(Error::BadMessage)); // type 13
    assert_eq!(bad(19, NV_TYPE_DESCRIPTOR), Err(Error::BadMessage));
    assert_eq!(bad(20, 11), Err(Error::BadMessage)); // namesize != strlen + 1
    assert_eq!(bad(20, 13), Err(Error::BadMessage));
    assert_eq!(bad(41, 0), Err(Error::BadMessage)); // NUL inside the name
    assert_eq!(bad(49, b'x'), Err(Error::BadMessage)); // name not terminated
    assert_eq!(bad(22, 7), Err(Error::BadMessage)); // number of datasize 7
                                                    // Public flags are accepted and kept.
    assert_eq!(bad(2, NV_FLAG_NO_UNIQUE).unwrap().flags, NV_FLAG_NO_UNIQUE);
}

#[test]
fn value_checks() {
    let mut b = BINARY_BOOL.to_vec();
    b[64] = 2; // bool neither 0 nor 1
    assert_eq!(unpack(&b, &lim()), Err(Error::BadMessage));
    // A nested list closed by "next" instead of "up", or not at all.
    let b = nested_packed_with(Tweak::Next);
    assert_eq!(unpack(&b, &lim()), Err(Error::BadMessage));
    let b = nested_packed_with(Tweak::Missing);
    assert_eq!(unpack(&b, &lim()), Err(Error::BadMessage));
    // An element closed by "up" instead of "next".
    let mut a = ARRAY.to_vec();
    a[90] = NV_TYPE_NVLIST_UP;
    assert_eq!(unpack(&a, &lim()), Err(Error::BadMessage));
    // An nvlist pair of datasize 0.
    let mut n = NESTED.to_vec();
    n[22] = 0;
    assert_eq!(unpack(&n, &lim()), Err(Error::BadMessage));
    // An nvlist array of 0 items.
    let mut a = ARRAY.to_vec();
    a[30] = 0;
    assert_eq!(unpack(&a, &lim()), Err(Error::BadMessage));
}

enum Tweak {
    Next,
    Missing,
}

/// NESTED with its "up" terminator replaced or cut off (sizes fixed).
fn nested_packed_with(t: Tweak) -> Vec<u8> {
    let mut b = NESTED.to_vec();
    match t {
        Tweak::Next => b[81] = NV_TYPE_NVLIST_ARRAY_NEXT,
        Tweak::Missing => {
            b.truncate(81);
            b[11] = 62;
            b[51] = 22;
        }
    }
    b
}

#[test]
fn empty_binary_and_strings() {
    let mut b = BINARY_BOOL.to_vec();
    // Binary of datasize 0: the three data bytes then parse as a pair.
    b[22] = 0;
    assert!(unpack(&b, &lim()).is_err());
    let mut l = Nvlist::new();
    l.add_string("s", b"hello").unwrap();
    l.add_string_array("sa", vec![b"a".to_vec(), Vec::new(), b"bc".to_vec()])
        .unwrap();
    l.add_bool_array("ba", &[true, false]).unwrap();
    l.add_number_array("na", &[1, u64::MAX]).unwrap();
    l.add_null("z").unwrap();
    let p = pack(&l).unwrap();
    let u = unpack(&p, &lim()).unwrap();
    assert_eq!(u, l);
    assert_eq!(u.get_string("s"), Some(&b"hello"[..]));
    assert!(u.get_null("z"));
    // A string whose NUL is moved inside.
    let at = p.windows(6).position(|w| w == b"hello\0").unwrap();
    let mut q = p.clone();
    q[at + 2] = 0;
    q[at + 5] = b'x';
    assert_eq!(unpack(&q, &lim()), Err(Error::BadMessage));
    // A string array whose item count disagrees with its NULs.
    let at = p.windows(3).position(|w| w == b"sa\0").unwrap();
    let mut q = p.clone();
    q[at - 8] = 2; // nitems
    assert_eq!(unpack(&q, &lim()), Err(Error::BadMessage));
    // A bool array holding 2.
    let at = p.windows(3).position(|w| w == b"ba\0").unwrap();
    let mut q = p;
    q[at + 3] = 2;
    assert_eq!(unpack(&q, &lim()), Err(Error::BadMessage));
}

#[test]
fn duplicates() {
    let mut l = Nvlist::new();
    l.add_number("a", 1).unwrap();
    l.add_number("a", 2).unwrap();
    assert_eq!(pack(&l), Err(Error::Invalid));
    l.flags = NV_FLAG_NO_UNIQUE;
    let p = pack(&l).unwrap();
    let u = unpack(&p, &lim()).unwrap();
    assert_eq!(u.get_number("a"), Some(1));
    // The same bytes without the no-unique flag.
    let mut q = p.clone();
    q[2] = 0;
    assert_eq!(unpack(&q, &lim()), Err(Error::BadMessage));
    // Case-insensitive lists treat "A" and "a" as one name.
    let mut c = Nvlist::with_flags(NV_FLAG_IGNORE_CASE);
    c.add_number("a", 1).unwrap();
    c.add_number("A", 2).unwrap();
    assert_eq!(pack(&c), Err(Error::Invalid));
    c.pairs.pop();
    assert_eq!(c.get_number("A"), Some(1));
    // Typed lookups skip pairs of another type, as libnv's do.
    let mut t = Nvlist::with_flags(NV_FLAG_NO_UNIQUE);
    t.add_bool("k", true).unwrap();
    t.add_number("k", 9).unwrap();
    assert_eq!(t.get_number("k"), Some(9));
    assert_eq!(t.get("k"), Some(&Value::Bool(true)));
}

#[test]
fn pack_refuses_what_libnv_refuses() {
    let refuse = |f: &dyn Fn(&mut Nvlist)| {
        let mut l = Nvlist::new();
        f(&mut l);
        pack(&l)
    };
    assert_eq!(
        refuse(&|l| l.add_binary("b", &[]).unwrap()),
        Err(Error::Invalid)
    );
    assert_eq!(
        refuse(&|l| l.add_string("s", b"a\0b").unwrap()),
        Err(Error::Invalid)
    );
    assert_eq!(
        refuse(&|l| l.add_number_array("n", &[]).unwrap()),
        Err(Error::Invalid)
    );
    assert_eq!(
        refuse(&|l| l.add_nvlist_array("l", vec![]).unwrap()),
        Err(Error::Invalid)
    );
    assert_eq!(
        refuse(&|l| l.push(b"a\0", Value::Null).unwrap()),
        Err(Error::Invalid)
    );
    assert_eq!(
        refuse(&|l| l.push(&[b'n'; 2048], Value::Null).unwrap()),
        Err(Error::Invalid)
    );
    assert!(refuse(&|l| l.push(&[b'n'; 2047], Value::Null).unwrap()).is_ok());
    assert_eq!(refuse(&|l| l.flags = 0x80), Err(Error::Invalid));
    let mut l = Nvlist::new();
    l.add_null("").unwrap();
    assert_eq!(unpack(&pack(&l).unwrap(), &lim()).unwrap(), l);
}

fn deep(depth: usize) -> Nvlist {
    let mut l = Nvlist::new();
    l.add_number("leaf", 1).unwrap();
    for _ in 0..depth {
        let mut p = Nvlist::new();
        p.add_nvlist("n", l).unwrap();
        l = p;
    }
    l
}

#[test]
fn limits() {
    let l = UnpackLimits {
        max_depth: 3,
        ..lim()
    };
    assert!(unpack(&pack(&deep(3)).unwrap(), &l).is_ok());
    assert_eq!(unpack(&pack(&deep(4)).unwrap(), &l), Err(Error::TooBig));
    // Deep nesting costs no stack.
    assert!(unpack(
        &pack(&deep(500)).unwrap(),
        &UnpackLimits {
            max_depth: 1000,
            ..lim()
        }
    )
    .is_ok());

    let small = UnpackLimits {
        max_size: 57,
        ..lim()
    };
    assert_eq!(unpack(&LISTEN_PORT_LE, &small), Err(Error::TooBig));

    let mut many = Nvlist::new();
    for i in 0..10u8 {
        many.push(&[b'a' + i], Value::Number(i.into())).unwrap();
    }
    let p = pack(&many).unwrap();
    assert!(unpack(
        &p,
        &UnpackLimits {
            max_pairs: 10,
            ..lim()
        }
    )
    .is_ok());
    assert_eq!(
        unpack(
            &p,
            &UnpackLimits {
                max_pairs: 9,
                ..lim()
            }
        ),
        Err(Error::TooBig)
    );
    // Array elements count as pairs.
    assert_eq!(
        unpack(
            &ARRAY,
            &UnpackLimits {
                max_pairs: 3,
                ..lim()
            }
        ),
        Err(Error::TooBig)
    );
    assert!(unpack(
        &ARRAY,
        &UnpackLimits {
            max_pairs: 4,
            ..lim()
        }
    )
    .is_ok());

    let items = UnpackLimits {
        max_array_items: 1,
        ..lim()
    };
    assert_eq!(unpack(&ARRAY, &items), Err(Error::TooBig));
    let mut na = Nvlist::new();
    na.add_number_array("n", &[1, 2]).unwrap();
    assert_eq!(unpack(&pack(&na).unwrap(), &items), Err(Error::TooBig));
}

fn arb_bytes(min: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(1u8..=255, min..6)
}

fn arb_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(Value::Number),
        arb_bytes(0).prop_map(Value::String),
        prop::collection::vec(any::<u8>(), 1..40).prop_map(Value::Binary),
        prop::collection::vec(any::<bool>(), 1..5).prop_map(Value::BoolArray),
        prop::collection::vec(any::<u64>(), 1..5).prop_map(Value::NumberArray),
        prop::collection::vec(arb_bytes(0), 1..4).prop_map(Value::StringArray),
    ]
}

fn arb_list(values: BoxedStrategy<Value>) -> impl Strategy<Value = Nvlist> {
    (prop::collection::vec(values, 0..5), 0u8..4).prop_map(|(vals, flags)| {
        let mut l = Nvlist::with_flags(flags);
        for (i, v) in vals.into_iter().enumerate() {
            // Distinct even without regard to case.
            l.push(alloc::format!("k{i}").as_bytes(), v).unwrap();
        }
        l
    })
}

fn arb_value() -> impl Strategy<Value = Value> {
    arb_leaf().prop_recursive(3, 24, 5, |inner| {
        let inner = inner.boxed();
        prop_oneof![
            arb_list(inner.clone()).prop_map(Value::Nvlist),
            prop::collection::vec(arb_list(inner), 1..3).prop_map(Value::NvlistArray),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn round_trips(l in arb_list(arb_value().boxed())) {
        let p = pack(&l).unwrap();
        prop_assert_eq!(p.len(), packed_size(&l));
        let u = unpack(&p, &lim()).unwrap();
        prop_assert_eq!(&u, &l);
        prop_assert_eq!(pack(&u).unwrap(), p);
    }

    #[test]
    fn random_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = unpack(&b, &lim());
    }

    #[test]
    fn mutations_never_panic(
        l in arb_list(arb_value().boxed()),
        edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..4),
    ) {
        let mut p = pack(&l).unwrap();
        for (i, v) in edits {
            let n = p.len();
            p[i % n] = v;
        }
        let _ = unpack(&p, &lim());
    }
}
