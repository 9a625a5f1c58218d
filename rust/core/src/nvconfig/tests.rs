//! Tests of `nvconfig`.

use super::*;
use crate::nvlist::{NV_FLAG_IGNORE_CASE, NV_FLAG_NO_UNIQUE};
use alloc::vec;

fn lim() -> Limits {
    Limits::default()
}

use crate::testutil::{add, peer, v4, v6};

fn ep6() -> Endpoint {
    Endpoint::V6 {
        addr: [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        port: 51821,
        flowinfo: 0x0001_2345,
        scope_id: 7,
    }
}

fn updates() -> Vec<DeviceUpdate> {
    let mut full = DeviceUpdate::default();
    full.private_key = Some(Some([9; 32]));
    full.listen_port = Some(51820);
    full.user_cookie = Some(u32::MAX);
    full.replace_peers = true;
    let mut a = peer(1);
    a.preshared_key = Some(Some([3; 32]));
    a.endpoint = Some(Endpoint::V4 {
        addr: [192, 0, 2, 1],
        port: 51820,
    });
    a.persistent_keepalive = Some(25);
    a.replace_allowed_ips = true;
    a.allowed_ips = vec![
        add(v4([10, 0, 0, 0], 24)),
        add(v6(
            [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            32,
        )),
        AllowedIpChange {
            prefix: v4([0; 4], 0),
            remove: true,
        },
    ];
    let mut b = peer(2);
    b.preshared_key = Some(None);
    b.endpoint = Some(ep6());
    b.persistent_keepalive = Some(0);
    let mut c = peer(3);
    c.remove = true;
    full.peers = vec![a, b, c];

    let mut only_port = DeviceUpdate::default();
    only_port.listen_port = Some(0);
    vec![DeviceUpdate::default(), only_port, full]
}

#[test]
fn set_round_trips() {
    for u in updates() {
        let bytes = encode_set(&u).unwrap();
        assert_eq!(decode_set(&bytes, &lim()).unwrap(), u);
    }
}

fn info() -> DeviceInfo {
    DeviceInfo {
        private_key: Some([5; 32]),
        public_key: Some([6; 32]),
        listen_port: 51820,
        user_cookie: 42,
        peers: vec![
            PeerInfo {
                public_key: [1; 32],
                preshared_key: Some([2; 32]),
                endpoint: Some(Endpoint::V4 {
                    addr: [198, 51, 100, 7],
                    port: 1234,
                }),
                last_handshake: (1_700_000_000, 999_999_999),
                rx_bytes: 1 << 40,
                tx_bytes: 17,
                persistent_keepalive: 25,
                allowed_ips: vec![v4([10, 1, 0, 0], 16), v6([0xfd; 16], 128)],
            },
            PeerInfo {
                public_key: [3; 32],
                preshared_key: None,
                endpoint: Some(ep6()),
                last_handshake: (0, 0),
                rx_bytes: 0,
                tx_bytes: 0,
                persistent_keepalive: 0,
                allowed_ips: vec![],
            },
        ],
    }
}

#[test]
fn get_round_trips() {
    let i = info();
    assert_eq!(decode_get(&encode_get(&i).unwrap()).unwrap(), i);
    let bare = DeviceInfo {
        private_key: None,
        public_key: None,
        listen_port: 0,
        user_cookie: 0,
        peers: vec![],
    };
    let bytes = encode_get(&bare).unwrap();
    // Nothing to say: an empty list.
    assert_eq!(bytes.len(), 19);
    assert_eq!(decode_get(&bytes).unwrap(), bare);
}

fn names(l: &Nvlist) -> Vec<&str> {
    l.pairs
        .iter()
        .map(|(n, _)| core::str::from_utf8(n).unwrap())
        .collect()
}

#[test]
fn get_uses_freebsd_key_order() {
    let l = nvlist::unpack(&encode_get(&info()).unwrap(), &Default::default()).unwrap();
    assert_eq!(
        names(&l),
        [
            "listen-port",
            "user-cookie",
            "public-key",
            "private-key",
            "peers"
        ]
    );
    let peers = l.get_nvlist_array("peers").unwrap();
    assert_eq!(
        names(&peers[0]),
        [
            "public-key",
            "preshared-key",
            "endpoint",
            "last-handshake-time",
            "persistent-keepalive-interval",
            "rx-bytes",
            "tx-bytes",
            "allowed-ips",
        ]
    );
    let aips = peers[0].get_nvlist_array("allowed-ips").unwrap();
    assert_eq!(names(&aips[0]), ["ipv4", "cidr"]);
    assert_eq!(names(&aips[1]), ["ipv6", "cidr"]);
    assert_eq!(
        names(&peers[1]),
        [
            "public-key",
            "endpoint",
            "last-handshake-time",
            "persistent-keepalive-interval",
            "rx-bytes",
            "tx-bytes",
        ]
    );
    #[cfg(target_endian = "little")]
    {
        let ts = peers[0].get_binary("last-handshake-time").unwrap();
        let mut want = Vec::new();
        want.extend_from_slice(&1_700_000_000u64.to_le_bytes());
        want.extend_from_slice(&999_999_999u64.to_le_bytes());
        assert_eq!(ts, &want[..]);
        // sockaddr_in6: len, family 28, port, flowinfo, address, scope.
        let e = peers[1].get_binary("endpoint").unwrap();
        let mut want = vec![28, 28, 0xca, 0x6d, 0, 1, 0x23, 0x45];
        want.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        want.extend_from_slice(&[7, 0, 0, 0]);
        assert_eq!(e, &want[..]);
    }
}

#[test]
fn set_uses_wg_key_order() {
    let u = updates().pop().unwrap();
    let l = nvlist::unpack(&encode_set(&u).unwrap(), &Default::default()).unwrap();
    assert_eq!(
        names(&l),
        [
            "private-key",
            "listen-port",
            "user-cookie",
            "replace-peers",
            "peers"
        ]
    );
    let peers = l.get_nvlist_array("peers").unwrap();
    assert_eq!(
        names(&peers[0]),
        [
            "public-key",
            "preshared-key",
            "persistent-keepalive-interval",
            "endpoint",
            "replace-allowedips",
            "allowed-ips",
        ]
    );
    let aips = peers[0].get_nvlist_array("allowed-ips").unwrap();
    assert_eq!(names(&aips[0]), ["cidr", "ipv4"]);
    assert_eq!(names(&aips[2]), ["flags", "cidr", "ipv4"]);
    assert_eq!(names(&peers[2]), ["public-key", "remove"]);
    assert_eq!(peers[1].get_binary("preshared-key"), Some(&[0u8; 32][..]));
}

/// What wg(8) sends for `wg set wg0 listen-port 51820 peer <11..11>
/// endpoint 192.0.2.1:51820 allowed-ips 10.0.0.0/24`, by hand.
#[cfg(target_endian = "little")]
#[rustfmt::skip]
fn small_set_request() -> Vec<u8> {
    let mut b: Vec<u8> = Vec::new();
    let u64le = |b: &mut Vec<u8>, v: u64| b.extend_from_slice(&v.to_le_bytes());
    // [0] top header: magic, version, flags, descriptors, size 358 - 19
    b.extend_from_slice(&[0x6c, 0, 0]); u64le(&mut b, 0); u64le(&mut b, 339);
    // [19] "listen-port": type number, namesize 12, datasize 8, nitems 0
    b.push(3); b.extend_from_slice(&[12, 0]); u64le(&mut b, 8); u64le(&mut b, 0);
    b.extend_from_slice(b"listen-port\0");
    u64le(&mut b, 51820);
    // [58] "peers": type nvlist array, namesize 6, datasize 0, nitems 1
    b.push(11); b.extend_from_slice(&[6, 0]); u64le(&mut b, 0); u64le(&mut b, 1);
    b.extend_from_slice(b"peers\0");
    // [83] peer header, size 358 - 102
    b.extend_from_slice(&[0x6c, 0, 0]); u64le(&mut b, 0); u64le(&mut b, 256);
    // [102] "public-key": type binary, namesize 11, datasize 32
    b.push(7); b.extend_from_slice(&[11, 0]); u64le(&mut b, 32); u64le(&mut b, 0);
    b.extend_from_slice(b"public-key\0");
    b.extend_from_slice(&[0x11; 32]);
    // [164] "endpoint": binary of 16, a sockaddr_in
    b.push(7); b.extend_from_slice(&[9, 0]); u64le(&mut b, 16); u64le(&mut b, 0);
    b.extend_from_slice(b"endpoint\0");
    b.extend_from_slice(&[
        16, 2,                  // sin_len, sin_family AF_INET
        0xca, 0x6c,             // sin_port 51820, network order
        192, 0, 2, 1,           // sin_addr
        0, 0, 0, 0, 0, 0, 0, 0, // sin_zero
    ]);
    // [208] "allowed-ips": nvlist array, namesize 12, nitems 1
    b.push(11); b.extend_from_slice(&[12, 0]); u64le(&mut b, 0); u64le(&mut b, 1);
    b.extend_from_slice(b"allowed-ips\0");
    // [239] allowed-ip header, size 358 - 258
    b.extend_from_slice(&[0x6c, 0, 0]); u64le(&mut b, 0); u64le(&mut b, 100);
    // [258] "cidr": number 24
    b.push(3); b.extend_from_slice(&[5, 0]); u64le(&mut b, 8); u64le(&mut b, 0);
    b.extend_from_slice(b"cidr\0");
    u64le(&mut b, 24);
    // [290] "ipv4": binary of 4
    b.push(7); b.extend_from_slice(&[5, 0]); u64le(&mut b, 4); u64le(&mut b, 0);
    b.extend_from_slice(b"ipv4\0");
    b.extend_from_slice(&[10, 0, 0, 0]);
    // [318] end of the allowed-ip element: type 254, namesize 1, name ""
    b.push(254); b.extend_from_slice(&[1, 0]); u64le(&mut b, 0); u64le(&mut b, 0); b.push(0);
    // [338] end of the peer element
    b.push(254); b.extend_from_slice(&[1, 0]); u64le(&mut b, 0); u64le(&mut b, 0); b.push(0);
    assert_eq!(b.len(), 358);
    b
}

#[cfg(target_endian = "little")]
#[test]
fn small_set_request_is_byte_exact() {
    let mut p = peer(0x11);
    p.endpoint = Some(Endpoint::V4 {
        addr: [192, 0, 2, 1],
        port: 51820,
    });
    p.allowed_ips = vec![add(v4([10, 0, 0, 0], 24))];
    let mut u = DeviceUpdate::default();
    u.listen_port = Some(51820);
    u.peers = vec![p];
    let bytes = small_set_request();
    assert_eq!(encode_set(&u).unwrap(), bytes);
    assert_eq!(decode_set(&bytes, &lim()).unwrap(), u);
}

/// Bytes written as hex, one field a line, with a comment after '#'
/// saying what the field is and, for headers, its offset.
fn annotated_hex(text: &str) -> Vec<u8> {
    let digits: alloc::string::String = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
        .collect();
    hex::decode(digits).unwrap()
}

/// `wg setconf` of a small but complete configuration: private key,
/// listen port, replace-peers; peer A with a preshared key, keepalive,
/// an IPv4 endpoint, replace-allowedips and an IPv4 and an IPv6
/// allowed IP; peer B with an IPv6 endpoint. Laid out by hand from
/// libnv's format (little-endian host): every header's size counts the
/// bytes from its end to the end of the buffer; nvlist arrays have
/// datasize 0 and nitems N, and each element ends in a type-254 pair.
const FULL_SET_REQUEST: &str = r#"
6c 00 00 0000000000000000 6103000000000000  # [0] top-level header: magic, version 0, flags 0, descriptors 0, size 865
07 0c00 2000000000000000 0000000000000000  # [19] private-key: type 7 (binary), namesize 12, datasize 32, nitems 0
707269766174652d6b657900  # "private-key\0"
aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa  # the private key, 32 bytes
03 0c00 0800000000000000 0000000000000000  # [82] listen-port: type 3 (number), namesize 12, datasize 8, nitems 0
6c697374656e2d706f727400  # "listen-port\0"
6cca000000000000  # 51820
02 0e00 0100000000000000 0000000000000000  # [121] replace-peers: type 2 (bool), namesize 14, datasize 1, nitems 0
7265706c6163652d706565727300  # "replace-peers\0"
01  # true
0b 0600 0000000000000000 0200000000000000  # [155] peers: type 11 (nvlist array), namesize 6, datasize 0, nitems 2
706565727300  # "peers\0"
6c 00 00 0000000000000000 ad02000000000000  # [180] peer A: magic, version 0, flags 0, descriptors 0, size 685
07 0b00 2000000000000000 0000000000000000  # [199] public-key: type 7 (binary), namesize 11, datasize 32, nitems 0
7075626c69632d6b657900  # "public-key\0"
1111111111111111111111111111111111111111111111111111111111111111  # peer A's public key
07 0e00 2000000000000000 0000000000000000  # [261] preshared-key: type 7 (binary), namesize 14, datasize 32, nitems 0
7072657368617265642d6b657900  # "preshared-key\0"
2222222222222222222222222222222222222222222222222222222222222222  # its preshared key
03 1e00 0800000000000000 0000000000000000  # [326] persistent-keepalive-interval: type 3 (number), namesize 30, datasize 8, nitems 0
70657273697374656e742d6b656570616c6976652d696e74657276616c00  # "persistent-keepalive-interval\0"
1900000000000000  # 25 seconds
07 0900 1000000000000000 0000000000000000  # [383] endpoint: type 7 (binary), namesize 9, datasize 16, nitems 0
656e64706f696e7400  # "endpoint\0"
1002ca6cc00002010000000000000000  # sockaddr_in: sin_len 16, AF_INET 2, port 51820 (network order), 192.0.2.1, sin_zero
02 1300 0100000000000000 0000000000000000  # [427] replace-allowedips: type 2 (bool), namesize 19, datasize 1, nitems 0
7265706c6163652d616c6c6f77656469707300  # "replace-allowedips\0"
01  # true
0b 0c00 0000000000000000 0200000000000000  # [466] allowed-ips: type 11 (nvlist array), namesize 12, datasize 0, nitems 2
616c6c6f7765642d69707300  # "allowed-ips\0"
6c 00 00 0000000000000000 7001000000000000  # [497] allowed IP 0: magic, version 0, flags 0, descriptors 0, size 368
03 0500 0800000000000000 0000000000000000  # [516] cidr: type 3 (number), namesize 5, datasize 8, nitems 0
6369647200  # "cidr\0"
1800000000000000  # 24
07 0500 0400000000000000 0000000000000000  # [548] ipv4: type 7 (binary), namesize 5, datasize 4, nitems 0
6970763400  # "ipv4\0"
0a000000  # 10.0.0.0
fe 0100 0000000000000000 0000000000000000 00  # [576] end of allowed IP 0: type 254, namesize 1, name ""
6c 00 00 0000000000000000 0d01000000000000  # [596] allowed IP 1: magic, version 0, flags 0, descriptors 0, size 269
03 0500 0800000000000000 0000000000000000  # [615] cidr: type 3 (number), namesize 5, datasize 8, nitems 0
6369647200  # "cidr\0"
2000000000000000  # 32
07 0500 1000000000000000 0000000000000000  # [647] ipv6: type 7 (binary), namesize 5, datasize 16, nitems 0
6970763600  # "ipv6\0"
20010db8000000000000000000000000  # 2001:db8::
fe 0100 0000000000000000 0000000000000000 00  # [687] end of allowed IP 1: type 254, namesize 1, name ""
fe 0100 0000000000000000 0000000000000000 00  # [707] end of peer A: type 254, namesize 1, name ""
6c 00 00 0000000000000000 8a00000000000000  # [727] peer B: magic, version 0, flags 0, descriptors 0, size 138
07 0b00 2000000000000000 0000000000000000  # [746] public-key: type 7 (binary), namesize 11, datasize 32, nitems 0
7075626c69632d6b657900  # "public-key\0"
3333333333333333333333333333333333333333333333333333333333333333  # peer B's public key
07 0900 1c00000000000000 0000000000000000  # [808] endpoint: type 7 (binary), namesize 9, datasize 28, nitems 0
656e64706f696e7400  # "endpoint\0"
1c1cca6d0000000020010db800000000000000000000000100000000  # sockaddr_in6: sin6_len 28, AF_INET6 28, port 51821, flowinfo 0, 2001:db8::1, scope id 0
fe 0100 0000000000000000 0000000000000000 00  # [864] end of peer B: type 254, namesize 1, name ""
"#;

/// What FreeBSD's `wgc_get()` answers a privileged caller for a
/// device with a listen port, keys and one peer, in its key order
/// (the address before the prefix length in allowed IPs).
const FULL_GET_ANSWER: &str = r#"
6c 00 00 0000000000000000 c902000000000000  # [0] top-level header: magic, version 0, flags 0, descriptors 0, size 713
03 0c00 0800000000000000 0000000000000000  # [19] listen-port: type 3 (number), namesize 12, datasize 8, nitems 0
6c697374656e2d706f727400  # "listen-port\0"
6cca000000000000  # 51820
07 0b00 2000000000000000 0000000000000000  # [58] public-key: type 7 (binary), namesize 11, datasize 32, nitems 0
7075626c69632d6b657900  # "public-key\0"
7777777777777777777777777777777777777777777777777777777777777777  # the public key
07 0c00 2000000000000000 0000000000000000  # [120] private-key: type 7 (binary), namesize 12, datasize 32, nitems 0
707269766174652d6b657900  # "private-key\0"
aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa  # the private key (privileged callers only)
0b 0600 0000000000000000 0100000000000000  # [183] peers: type 11 (nvlist array), namesize 6, datasize 0, nitems 1
706565727300  # "peers\0"
6c 00 00 0000000000000000 f901000000000000  # [208] the peer: magic, version 0, flags 0, descriptors 0, size 505
07 0b00 2000000000000000 0000000000000000  # [227] public-key: type 7 (binary), namesize 11, datasize 32, nitems 0
7075626c69632d6b657900  # "public-key\0"
1111111111111111111111111111111111111111111111111111111111111111  # the peer's public key
07 0e00 2000000000000000 0000000000000000  # [289] preshared-key: type 7 (binary), namesize 14, datasize 32, nitems 0
7072657368617265642d6b657900  # "preshared-key\0"
2222222222222222222222222222222222222222222222222222222222222222  # its preshared key (privileged callers only)
07 0900 1000000000000000 0000000000000000  # [354] endpoint: type 7 (binary), namesize 9, datasize 16, nitems 0
656e64706f696e7400  # "endpoint\0"
1002ca6cc00002010000000000000000  # sockaddr_in: 192.0.2.1:51820
07 1400 1000000000000000 0000000000000000  # [398] last-handshake-time: type 7 (binary), namesize 20, datasize 16, nitems 0
6c6173742d68616e647368616b652d74696d6500  # "last-handshake-time\0"
00f15365000000000500000000000000  # struct wg_timespec64: 1700000000 s, 5 ns
03 1e00 0800000000000000 0000000000000000  # [453] persistent-keepalive-interval: type 3 (number), namesize 30, datasize 8, nitems 0
70657273697374656e742d6b656570616c6976652d696e74657276616c00  # "persistent-keepalive-interval\0"
1900000000000000  # 25
03 0900 0800000000000000 0000000000000000  # [510] rx-bytes: type 3 (number), namesize 9, datasize 8, nitems 0
72782d627974657300  # "rx-bytes\0"
0004000000000000  # 1024
03 0900 0800000000000000 0000000000000000  # [546] tx-bytes: type 3 (number), namesize 9, datasize 8, nitems 0
74782d627974657300  # "tx-bytes\0"
0008000000000000  # 2048
0b 0c00 0000000000000000 0100000000000000  # [582] allowed-ips: type 11 (nvlist array), namesize 12, datasize 0, nitems 1
616c6c6f7765642d69707300  # "allowed-ips\0"
6c 00 00 0000000000000000 6400000000000000  # [613] the allowed IP: magic, version 0, flags 0, descriptors 0, size 100
07 0500 0400000000000000 0000000000000000  # [632] ipv4: type 7 (binary), namesize 5, datasize 4, nitems 0
6970763400  # "ipv4\0"
0a000000  # 10.0.0.0
03 0500 0800000000000000 0000000000000000  # [660] cidr: type 3 (number), namesize 5, datasize 8, nitems 0
6369647200  # "cidr\0"
1800000000000000  # 24
fe 0100 0000000000000000 0000000000000000 00  # [692] end of the allowed IP: type 254, namesize 1, name ""
fe 0100 0000000000000000 0000000000000000 00  # [712] end of the peer: type 254, namesize 1, name ""
"#;

fn full_update() -> DeviceUpdate {
    let mut a = peer(0x11);
    a.preshared_key = Some(Some([0x22; 32]));
    a.persistent_keepalive = Some(25);
    a.endpoint = Some(Endpoint::V4 {
        addr: [192, 0, 2, 1],
        port: 51820,
    });
    a.replace_allowed_ips = true;
    a.allowed_ips = vec![
        add(v4([10, 0, 0, 0], 24)),
        add(v6(
            [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            32,
        )),
    ];
    let mut b = peer(0x33);
    b.endpoint = Some(Endpoint::V6 {
        addr: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        port: 51821,
        flowinfo: 0,
        scope_id: 0,
    });
    let mut u = DeviceUpdate::default();
    u.private_key = Some(Some([0xaa; 32]));
    u.listen_port = Some(51820);
    u.replace_peers = true;
    u.peers = vec![a, b];
    u
}

fn full_info() -> DeviceInfo {
    DeviceInfo {
        private_key: Some([0xaa; 32]),
        public_key: Some([0x77; 32]),
        listen_port: 51820,
        user_cookie: 0,
        peers: vec![PeerInfo {
            public_key: [0x11; 32],
            preshared_key: Some([0x22; 32]),
            endpoint: Some(Endpoint::V4 {
                addr: [192, 0, 2, 1],
                port: 51820,
            }),
            last_handshake: (1_700_000_000, 5),
            rx_bytes: 1024,
            tx_bytes: 2048,
            persistent_keepalive: 25,
            allowed_ips: vec![v4([10, 0, 0, 0], 24)],
        }],
    }
}

#[cfg(target_endian = "little")]
#[test]
fn full_set_request_is_byte_exact() {
    let bytes = annotated_hex(FULL_SET_REQUEST);
    assert_eq!(bytes.len(), 884);
    assert_eq!(encode_set(&full_update()).unwrap(), bytes);
    assert_eq!(decode_set(&bytes, &lim()).unwrap(), full_update());
}

#[cfg(target_endian = "little")]
#[test]
fn full_get_answer_is_byte_exact() {
    let bytes = annotated_hex(FULL_GET_ANSWER);
    assert_eq!(bytes.len(), 732);
    assert_eq!(encode_get(&full_info()).unwrap(), bytes);
    assert_eq!(decode_get(&bytes).unwrap(), full_info());
}

/// SIOCGWG's size handshake: the size the kernel reports for a zero-
/// sized request (`packed_size` of the list) is the length of what it
/// then copies out, and the top header's own size field agrees.
#[cfg(target_endian = "little")]
#[test]
fn reported_sizes_are_buffer_lengths() {
    let small = {
        #[allow(clippy::field_reassign_with_default)]
        let mut u = DeviceUpdate::default();
        u.listen_port = Some(51820);
        encode_set(&u).unwrap()
    };
    // docs/DESIGN.md's example: {"listen-port": 51820} is 58 bytes.
    assert_eq!(small.len(), 58);
    for bytes in [
        annotated_hex(FULL_SET_REQUEST),
        annotated_hex(FULL_GET_ANSWER),
        small_set_request(),
        small,
        encode_get(&info()).unwrap(),
    ] {
        let l = nvlist::unpack(&bytes, &Default::default()).unwrap();
        assert_eq!(nvlist::packed_size(&l), bytes.len());
        let mut size = [0u8; 8];
        size.copy_from_slice(&bytes[11..19]);
        assert_eq!(u64::from_le_bytes(size), bytes.len() as u64 - 19);
    }
    // A size one short or one long is refused, as libnv refuses it.
    let mut bytes = annotated_hex(FULL_GET_ANSWER);
    bytes[11] -= 1;
    assert!(decode_get(&bytes).is_err());
    bytes[11] += 2;
    assert!(decode_get(&bytes).is_err());
}

/// A request whose single peer holds `pairs` (and a public key unless
/// one is among them).
fn with_peer(pairs: Vec<(&str, Value)>) -> Vec<u8> {
    let mut p = Nvlist::new();
    if !pairs.iter().any(|(n, _)| *n == "public-key") {
        p.add_binary("public-key", &[1; 32]).unwrap();
    }
    for (n, v) in pairs {
        p.push(n.as_bytes(), v).unwrap();
    }
    let mut l = Nvlist::new();
    l.add_nvlist_array("peers", vec![p]).unwrap();
    nvlist::pack(&l).unwrap()
}

fn with_top(pairs: Vec<(&str, Value)>) -> Vec<u8> {
    let mut l = Nvlist::new();
    for (n, v) in pairs {
        l.push(n.as_bytes(), v).unwrap();
    }
    nvlist::pack(&l).unwrap()
}

fn aip(pairs: Vec<(&str, Value)>) -> Value {
    let mut a = Nvlist::new();
    for (n, v) in pairs {
        a.push(n.as_bytes(), v).unwrap();
    }
    Value::NvlistArray(vec![a])
}

fn set(b: &[u8]) -> Result<DeviceUpdate> {
    decode_set(b, &lim())
}

#[test]
fn bad_endpoints() {
    let sin = |len: u8, fam: u8| {
        let mut s = vec![len, fam, 0xca, 0x6c, 192, 0, 2, 1];
        s.extend_from_slice(&[0; 8]);
        s
    };
    let bad = |b: Vec<u8>| set(&with_peer(vec![("endpoint", Value::Binary(b))]));
    assert!(bad(sin(16, 2)).is_ok());
    assert_eq!(bad(sin(16, 28)), Err(Error::Invalid)); // family of v6, size of v4
    assert_eq!(bad(sin(16, 1)), Err(Error::Invalid)); // AF_UNIX
    assert_eq!(bad(sin(0, 2)), Err(Error::Invalid)); // sa_len
    assert_eq!(bad(sin(28, 2)), Err(Error::Invalid));
    let mut long = sin(16, 2);
    long.extend_from_slice(&[0; 4]);
    assert_eq!(bad(long), Err(Error::Invalid)); // 20 bytes
    assert_eq!(bad(sin(16, 2)[..15].to_vec()), Err(Error::Invalid));
    let (s6, n) = encode_sockaddr(&ep6());
    assert_eq!(n, 28);
    assert!(bad(s6.to_vec()).is_ok());
    let mut s = s6;
    s[1] = 10; // Linux's AF_INET6
    assert_eq!(bad(s.to_vec()), Err(Error::Invalid));
    let mut s = s6;
    s[0] = 16;
    assert_eq!(bad(s.to_vec()), Err(Error::Invalid));
    // Port 0 is refused by DeviceUpdate::validate.
    let mut p0 = sin(16, 2);
    p0[2] = 0;
    p0[3] = 0;
    assert_eq!(bad(p0), Err(Error::Invalid));
    // The GET direction forgives a wrong sa_len.
    assert!(decode_sockaddr(&sin(0, 2), false).is_ok());
    assert_eq!(decode_sockaddr(&sin(0, 2), true), Err(Error::Invalid));
}

#[test]
fn bad_allowed_ips() {
    let one = |pairs| set(&with_peer(vec![("allowed-ips", aip(pairs))]));
    let n = Value::Number;
    let bin = |b: &[u8]| Value::Binary(b.to_vec());
    assert!(one(vec![("cidr", n(32)), ("ipv4", bin(&[1; 4]))]).is_ok());
    assert_eq!(
        one(vec![("cidr", n(33)), ("ipv4", bin(&[1; 4]))]),
        Err(Error::Invalid)
    );
    assert!(one(vec![("cidr", n(128)), ("ipv6", bin(&[1; 16]))]).is_ok());
    assert_eq!(
        one(vec![("cidr", n(129)), ("ipv6", bin(&[1; 16]))]),
        Err(Error::Invalid)
    );
    assert_eq!(
        one(vec![("cidr", n(1 << 40)), ("ipv6", bin(&[1; 16]))]),
        Err(Error::Invalid)
    );
    assert_eq!(
        one(vec![("cidr", n(8)), ("ipv4", bin(&[1; 16]))]),
        Err(Error::Invalid)
    );
    assert_eq!(
        one(vec![("cidr", n(8)), ("ipv6", bin(&[1; 4]))]),
        Err(Error::Invalid)
    );
    assert_eq!(
        one(vec![("cidr", Value::Bool(true)), ("ipv4", bin(&[1; 4]))]),
        Err(Error::Invalid)
    );
    assert_eq!(
        one(vec![
            ("flags", n(2)),
            ("cidr", n(8)),
            ("ipv4", bin(&[1; 4]))
        ]),
        Err(Error::Invalid)
    );
    // Host bits are masked; flags bit 0 removes.
    let u = one(vec![
        ("flags", n(1)),
        ("cidr", n(8)),
        ("ipv4", bin(&[10, 1, 2, 3])),
    ])
    .unwrap();
    assert_eq!(
        u.peers[0].allowed_ips,
        [AllowedIpChange {
            prefix: IpPrefix::V4([10, 0, 0, 0], 8),
            remove: true
        }]
    );
    // As FreeBSD: entries without a cidr or an address are skipped, and
    // "ipv4" wins over "ipv6".
    let u = one(vec![("ipv4", bin(&[1; 4]))]).unwrap();
    assert!(u.peers[0].allowed_ips.is_empty());
    let u = one(vec![("cidr", n(8))]).unwrap();
    assert!(u.peers[0].allowed_ips.is_empty());
    let u = one(vec![
        ("cidr", n(8)),
        ("ipv6", bin(&[1; 16])),
        ("ipv4", bin(&[1; 4])),
    ])
    .unwrap();
    assert_eq!(
        u.peers[0].allowed_ips[0].prefix,
        IpPrefix::V4([1, 0, 0, 0], 8)
    );
}

#[test]
fn bad_values() {
    let bin = |n: usize| Value::Binary(vec![7; n]);
    assert_eq!(
        set(&with_top(vec![("private-key", bin(31))])),
        Err(Error::Invalid)
    );
    assert_eq!(
        set(&with_top(vec![("private-key", bin(33))])),
        Err(Error::Invalid)
    );
    assert_eq!(
        set(&with_peer(vec![("public-key", bin(31))])),
        Err(Error::Invalid)
    );
    assert_eq!(
        set(&with_peer(vec![("preshared-key", bin(31))])),
        Err(Error::Invalid)
    );
    assert_eq!(
        set(&with_top(vec![("listen-port", Value::Number(65536))])),
        Err(Error::Invalid)
    );
    assert_eq!(
        set(&with_top(vec![("listen-port", Value::Number(65535))]))
            .unwrap()
            .listen_port,
        Some(65535)
    );
    assert_eq!(
        set(&with_top(vec![("user-cookie", Value::Number(1 << 32))])),
        Err(Error::Invalid)
    );
    assert_eq!(
        set(&with_peer(vec![(
            "persistent-keepalive-interval",
            Value::Number(65536)
        )])),
        Err(Error::Invalid)
    );
    // Wrong types for known keys.
    assert_eq!(
        set(&with_top(vec![(
            "listen-port",
            Value::String(b"1".to_vec())
        )])),
        Err(Error::Invalid)
    );
    assert_eq!(
        set(&with_top(vec![("replace-peers", Value::Number(1))])),
        Err(Error::Invalid)
    );
    assert_eq!(
        set(&with_top(vec![("peers", Value::Nvlist(Nvlist::new()))])),
        Err(Error::Invalid)
    );
    assert_eq!(
        set(&with_peer(vec![("remove", Value::Number(1))])),
        Err(Error::Invalid)
    );
    assert_eq!(
        set(&with_peer(vec![("allowed-ips", bin(4))])),
        Err(Error::Invalid)
    );
    // Unknown keys are ignored, at every level.
    let u = set(&with_top(vec![
        ("fwmark", Value::Number(1)),
        ("listen-port", Value::Number(1)),
    ]))
    .unwrap();
    assert_eq!(u.listen_port, Some(1));
    assert!(set(&with_peer(vec![("color", Value::Null)])).is_ok());
    // A zero private key is wg(8)'s `private-key /dev/null`: a removal.
    let zero = set(&with_top(vec![("private-key", Value::Binary(vec![0; 32]))])).unwrap();
    assert_eq!(zero.private_key, Some(None));
}

#[test]
fn missing_public_key() {
    let mut p = Nvlist::new();
    p.add_bool("remove", true).unwrap();
    let mut l = Nvlist::new();
    l.add_nvlist_array("peers", vec![p]).unwrap();
    assert_eq!(set(&nvlist::pack(&l).unwrap()), Err(Error::Invalid));
}

#[test]
fn sub_list_flags() {
    // Element lists may carry their own flags; names then follow them.
    let mut p = Nvlist::with_flags(NV_FLAG_IGNORE_CASE);
    p.add_binary("Public-Key", &[4; 32]).unwrap();
    let mut l = Nvlist::new();
    l.add_nvlist_array("peers", vec![p]).unwrap();
    let u = set(&nvlist::pack(&l).unwrap()).unwrap();
    assert_eq!(u.peers[0].public_key, [4; 32]);
    // A known key twice in a no-unique list is ambiguous.
    let mut p = Nvlist::with_flags(NV_FLAG_NO_UNIQUE);
    p.add_binary("public-key", &[4; 32]).unwrap();
    p.add_binary("public-key", &[5; 32]).unwrap();
    let mut l = Nvlist::new();
    l.add_nvlist_array("peers", vec![p]).unwrap();
    assert_eq!(set(&nvlist::pack(&l).unwrap()), Err(Error::Invalid));
    // libnv's unpack(…, 0) refuses a flagged top list.
    let mut l = Nvlist::with_flags(NV_FLAG_NO_UNIQUE);
    l.add_number("listen-port", 1).unwrap();
    assert_eq!(set(&nvlist::pack(&l).unwrap()), Err(Error::BadMessage));
    assert_eq!(
        decode_get(&nvlist::pack(&l).unwrap()),
        Err(Error::BadMessage)
    );
}

#[test]
fn malformed_and_limits() {
    assert_eq!(set(&[]), Err(Error::BadMessage));
    assert_eq!(set(&[0x6c; 40]), Err(Error::BadMessage));
    assert_eq!(decode_get(&[1, 2, 3]), Err(Error::BadMessage));

    let tiny = Limits {
        max_peers: 1,
        max_allowed_ips_per_peer: 1,
        max_allowed_ips_total: 1,
    };
    let two_peers = encode_set(&{
        let mut u = DeviceUpdate::default();
        u.peers = vec![peer(1), peer(2)];
        u
    })
    .unwrap();
    assert!(decode_set(&two_peers, &lim()).is_ok());
    assert_eq!(decode_set(&two_peers, &tiny), Err(Error::TooBig));
    let mut p = peer(1);
    p.allowed_ips = vec![add(v4([1; 4], 32)), add(v4([2; 4], 32))];
    let two_aips = encode_set(&{
        let mut u = DeviceUpdate::default();
        u.peers = vec![p];
        u
    })
    .unwrap();
    assert_eq!(decode_set(&two_aips, &tiny), Err(Error::TooBig));

    // Size: the bound derived from the limits.
    let none = Limits {
        max_peers: 0,
        max_allowed_ips_per_peer: 0,
        max_allowed_ips_total: 0,
    };
    let big = with_top(vec![("padding", Value::Binary(vec![0; 5000]))]);
    assert!(set(&big).is_ok());
    assert_eq!(decode_set(&big, &none), Err(Error::TooBig));

    // Depth: lists nested deeper than any key of ours are refused.
    let mut deep = Nvlist::new();
    deep.add_number("x", 1).unwrap();
    for _ in 0..5 {
        let mut up = Nvlist::new();
        up.add_nvlist("unknown", deep).unwrap();
        deep = up;
    }
    assert_eq!(set(&nvlist::pack(&deep).unwrap()), Err(Error::TooBig));
}

#[test]
fn encode_set_refuses_the_inexpressible() {
    // Removing the key is expressible: 32 zeros, read back as removal.
    let mut u = DeviceUpdate::default();
    u.private_key = Some(None);
    let packed = encode_set(&u).unwrap();
    assert_eq!(decode_set(&packed, &Limits::default()).unwrap(), u);
    let mut p = peer(1);
    p.update_only = true;
    let mut u = DeviceUpdate::default();
    u.peers = vec![p];
    assert_eq!(encode_set(&u), Err(Error::Invalid));
}

#[test]
fn decode_get_checks() {
    let with_peer_get = |pairs: Vec<(&str, Value)>| {
        let mut p = Nvlist::new();
        p.add_binary("public-key", &[1; 32]).unwrap();
        for (n, v) in pairs {
            p.push(n.as_bytes(), v).unwrap();
        }
        let mut l = Nvlist::new();
        l.add_nvlist_array("peers", vec![p]).unwrap();
        decode_get(&nvlist::pack(&l).unwrap())
    };
    let mut ts = Vec::new();
    ts.extend_from_slice(&5u64.to_ne_bytes());
    ts.extend_from_slice(&NSEC_PER_SEC.to_ne_bytes());
    assert_eq!(
        with_peer_get(vec![("last-handshake-time", Value::Binary(ts))]),
        Err(Error::Invalid)
    );
    assert_eq!(
        with_peer_get(vec![("last-handshake-time", Value::Binary(vec![0; 8]))]),
        Err(Error::Invalid)
    );
    // A zero preshared key is no key, as wg(8) reads it.
    let i = with_peer_get(vec![("preshared-key", Value::Binary(vec![0; 32]))]).unwrap();
    assert_eq!(i.peers[0].preshared_key, None);
    assert_eq!(
        decode_get(&with_top(vec![("listen-port", Value::Number(1 << 16))])),
        Err(Error::Invalid)
    );
    let mut no_key = Nvlist::new();
    no_key.add_number("rx-bytes", 1).unwrap();
    let mut l = Nvlist::new();
    l.add_nvlist_array("peers", vec![no_key]).unwrap();
    assert_eq!(decode_get(&nvlist::pack(&l).unwrap()), Err(Error::Invalid));
}
