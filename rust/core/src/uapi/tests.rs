//! Tests of `uapi`.

use super::format::{write_endpoint, write_ipv6, write_prefix};
use super::*;
use alloc::format;
use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;
use proptest::prelude::*;

const EINVAL: i64 = -22;

fn hex(b: u8) -> String {
    format!("{b:02x}").repeat(32)
}

use crate::testutil::{add, peer, v4, v6};

const DB8: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
const LL1: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

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
        add(v6(DB8, 32)),
        AllowedIpChange {
            prefix: v4([0; 4], 0),
            remove: true,
        },
    ];
    let mut b = peer(2);
    b.update_only = true;
    b.preshared_key = Some(None);
    b.persistent_keepalive = Some(0);
    b.endpoint = Some(Endpoint::V6 {
        addr: LL1,
        port: 1,
        flowinfo: 0,
        scope_id: 3,
    });
    b.allowed_ips = vec![add(v6([0; 16], 0))];
    let mut c = peer(3);
    c.remove = true;
    full.peers = vec![a, b, c];

    let mut remove_key = DeviceUpdate::default();
    remove_key.private_key = Some(None);
    remove_key.listen_port = Some(0);
    remove_key.user_cookie = Some(0);

    let mut only_peers = DeviceUpdate::default();
    let mut p = peer(0xff);
    p.endpoint = Some(Endpoint::V6 {
        addr: [0xff; 16],
        port: 65535,
        flowinfo: 0,
        scope_id: 0,
    });
    only_peers.peers = vec![p, peer(0xff)];
    vec![DeviceUpdate::default(), full, remove_key, only_peers]
}

#[test]
fn set_round_trips() {
    for u in updates() {
        let mut s = String::new();
        format_set(&u, &mut s);
        assert_eq!(parse_set(&s), Ok(u.clone()), "{s}");
        // Framed, with the terminating blank line and CRLF endings.
        let req = format_set_request(&u);
        let body = req.strip_prefix("set=1\n").unwrap();
        assert_eq!(parse_set(body), Ok(u.clone()));
        assert_eq!(parse_set(&body.replace('\n', "\r\n")), Ok(u.clone()));
    }
}

/// What wg(8)'s userspace_set_device() writes for a typical `wg set`,
/// byte for byte, and what we read from it.
#[test]
fn parses_what_wg_sends() {
    let body = format!(
        "private_key={}\nlisten_port=51820\nfwmark=0\nreplace_peers=true\n\
         public_key={}\npreshared_key={}\nendpoint=[fe80::1%3]:51820\n\
         persistent_keepalive_interval=25\nreplace_allowed_ips=true\n\
         allowed_ip=10.0.0.0/24\nallowed_ip=2001:db8::/32\n\
         public_key={}\nremove=true\n\n",
        hex(0xab),
        hex(1),
        "00".repeat(32),
        hex(2)
    );
    let u = parse_set(&body).unwrap();
    let mut a = peer(1);
    a.preshared_key = Some(None);
    a.endpoint = Some(Endpoint::V6 {
        addr: LL1,
        port: 51820,
        flowinfo: 0,
        scope_id: 3,
    });
    a.persistent_keepalive = Some(25);
    a.replace_allowed_ips = true;
    a.allowed_ips = vec![add(v4([10, 0, 0, 0], 24)), add(v6(DB8, 32))];
    let mut b = peer(2);
    b.remove = true;
    let mut want = DeviceUpdate::default();
    want.private_key = Some(Some([0xab; 32]));
    want.listen_port = Some(51820);
    want.user_cookie = Some(0);
    want.replace_peers = true;
    want.peers = vec![a, b];
    assert_eq!(u, want);
    let mut s = String::new();
    format_set(&want, &mut s);
    assert_eq!(s, body.trim_end_matches('\n').to_string() + "\n");
}

#[test]
fn parse_details() {
    // Upper-case hex, an all-zero private key, host bits, protocol_version.
    let body = format!(
        "private_key={}\npublic_key={}\nprotocol_version=1\nallowed_ip=10.1.2.3/8\n\
         allowed_ip=-::ffff:1.2.3.4/128\nendpoint=[::ffff:192.0.2.1]:80",
        "00".repeat(32),
        "AB".repeat(32)
    );
    let u = parse_set(&body).unwrap();
    assert_eq!(u.private_key, Some(None));
    assert_eq!(u.peers[0].public_key, [0xab; 32]);
    let mapped = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4];
    assert_eq!(
        u.peers[0].allowed_ips,
        [
            add(v4([10, 0, 0, 0], 8)),
            AllowedIpChange {
                prefix: v6(mapped, 128),
                remove: true
            }
        ]
    );
    assert!(matches!(
        u.peers[0].endpoint,
        Some(Endpoint::V6 { port: 80, addr, .. }) if addr[10..] == [0xff, 0xff, 192, 0, 2, 1]
    ));
    // replace_allowed_ips drops the allowed IPs given before it.
    let body = format!(
        "public_key={}\nallowed_ip=1.0.0.0/8\nreplace_allowed_ips=true\nallowed_ip=2.0.0.0/8\n",
        hex(1)
    );
    let u = parse_set(&body).unwrap();
    assert!(u.peers[0].replace_allowed_ips);
    assert_eq!(u.peers[0].allowed_ips, [add(v4([2, 0, 0, 0], 8))]);
    // The same peer twice is two updates, applied in order; the last
    // value of a key wins within one.
    let body = format!(
        "public_key={k}\nendpoint=1.1.1.1:1\nendpoint=2.2.2.2:2\npublic_key={k}\n",
        k = hex(1)
    );
    let u = parse_set(&body).unwrap();
    assert_eq!(u.peers.len(), 2);
    assert_eq!(
        u.peers[0].endpoint,
        Some(Endpoint::V4 {
            addr: [2; 4],
            port: 2
        })
    );
    // Values may hold '=', leading zeros are decimal, and blank lines
    // after the end are fine.
    assert_eq!(
        parse_set("listen_port=00080\n\n\n").unwrap().listen_port,
        Some(80)
    );
    assert_eq!(parse_set("").unwrap(), DeviceUpdate::default());
    assert_eq!(parse_set("\n").unwrap(), DeviceUpdate::default());
    assert_eq!(
        parse_set("fwmark=4294967295").unwrap().user_cookie,
        Some(u32::MAX)
    );
    // IPv6 spellings netip accepts.
    for (text, want) in [
        ("::/0", v6([0; 16], 0)),
        (
            "::1/128",
            v6(
                {
                    let mut a = [0; 16];
                    a[15] = 1;
                    a
                },
                128,
            ),
        ),
        ("2001:DB8::/32", v6(DB8, 32)),
        ("2001:db8:0:0:0:0:0:0/32", v6(DB8, 32)),
        ("2001:db8::0:0/32", v6(DB8, 32)),
        (
            "::ffff:0.0.0.0/96",
            v6([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0], 96),
        ),
        (
            "1:2:3:4:5:6:1.2.3.4/128",
            v6([0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 1, 2, 3, 4], 128),
        ),
    ] {
        let u = parse_set(&format!("public_key={}\nallowed_ip={text}", hex(1))).unwrap();
        assert_eq!(u.peers[0].allowed_ips, [add(want)], "{text}");
    }
}

fn err(body: &str) -> i64 {
    parse_set(body).unwrap_err().errno
}

fn peer_err(line: &str) -> i64 {
    err(&format!("public_key={}\n{line}\n", hex(1)))
}

#[test]
fn errors() {
    assert_eq!(UapiError::INVALID.errno, EINVAL);
    // wireguard-go's -EPROTO: 71 on Linux, 92 on FreeBSD.
    #[cfg(target_os = "linux")]
    assert_eq!(UapiError::PROTOCOL.errno, -71);
    #[cfg(target_os = "freebsd")]
    assert_eq!(UapiError::PROTOCOL.errno, -92);
    let proto = UapiError::PROTOCOL.errno;
    // Missing '=' is the only protocol error, as in wireguard-go.
    assert_eq!(err("listen_port"), proto);
    assert_eq!(peer_err("endpoint"), proto);
    assert_eq!(err("listen_port=1\n\nlisten_port=2\n"), proto);
    // Keys.
    for bad in [
        "".to_string(),
        "00".repeat(31),
        "00".repeat(33),
        "0".repeat(63),
        "g".repeat(64),
        " ".repeat(64),
        format!("{} ", hex(1)),
        format!("+{}", &hex(1)[1..]),
    ] {
        assert_eq!(err(&format!("private_key={bad}")), EINVAL, "{bad}");
        assert_eq!(err(&format!("public_key={bad}")), EINVAL, "{bad}");
        assert_eq!(peer_err(&format!("preshared_key={bad}")), EINVAL, "{bad}");
    }
    // Unknown keys, and keys of the wrong section.
    assert_eq!(err("color=blue"), EINVAL);
    assert_eq!(err("=1"), EINVAL);
    assert_eq!(err("Listen_port=1"), EINVAL);
    assert_eq!(peer_err("color=blue"), EINVAL);
    assert_eq!(err("endpoint=1.2.3.4:1"), EINVAL);
    assert_eq!(err(&format!("preshared_key={}", hex(1))), EINVAL);
    assert_eq!(err("allowed_ip=10.0.0.0/8"), EINVAL);
    assert_eq!(err("protocol_version=1"), EINVAL);
    assert_eq!(err("remove=true"), EINVAL);
    assert_eq!(peer_err("listen_port=1"), EINVAL);
    assert_eq!(peer_err("replace_peers=true"), EINVAL);
    assert_eq!(peer_err(&format!("private_key={}", hex(1))), EINVAL);
    // Numbers.
    for line in [
        "listen_port=65536",
        "listen_port=-1",
        "listen_port=+1",
        "listen_port=",
        "listen_port= 1",
        "listen_port=0x10",
        "listen_port=1_0",
        "fwmark=4294967296",
        "fwmark=99999999999999999999999",
    ] {
        assert_eq!(err(line), EINVAL, "{line}");
    }
    assert_eq!(peer_err("persistent_keepalive_interval=65536"), EINVAL);
    assert_eq!(peer_err("persistent_keepalive_interval="), EINVAL);
    // Flags take only "true".
    assert_eq!(err("replace_peers=false"), EINVAL);
    assert_eq!(err("replace_peers="), EINVAL);
    assert_eq!(peer_err("remove=1"), EINVAL);
    assert_eq!(peer_err("update_only=True"), EINVAL);
    assert_eq!(peer_err("replace_allowed_ips=yes"), EINVAL);
    // protocol_version must be 1.
    assert_eq!(peer_err("protocol_version=2"), EINVAL);
    assert_eq!(peer_err("protocol_version=01"), EINVAL);
    assert_eq!(peer_err("protocol_version="), EINVAL);
    // Endpoints.
    for e in [
        "",
        "1.2.3.4",
        "1.2.3.4:",
        ":51820",
        "1.2.3.4:65536",
        "1.2.3.4:0",
        "1.2.3.4:-1",
        "1.2.3:1",
        "1.2.3.4.5:1",
        "1.2.3.256:1",
        "01.2.3.4:1",
        "[1.2.3.4]:1",
        "::1:51820",
        "[::1]51820",
        "[::1:51820",
        "::1]:51820",
        "[]:1",
        "[fe80::1%]:1",
        "[fe80::1%em0]:1",
        "[fe80::1%4294967296]:1",
        "[::1::2]:1",
        "[1:2:3:4:5:6:7:8:9]:1",
        "[1:2:3:4:5:6:7]:1",
        "[1:2:3:4:5:6:7::8]:1",
        "[12345::]:1",
        "[::g]:1",
        "example.com:51820",
    ] {
        assert_eq!(peer_err(&format!("endpoint={e}")), EINVAL, "{e}");
    }
    // Allowed IPs.
    for a in [
        "",
        "-",
        "--10.0.0.0/8",
        "10.0.0.0",
        "10.0.0.0/",
        "10.0.0.0/33",
        "10.0.0.0/08",
        "10.0.0.0/+8",
        "10.0.0.0/-8",
        "10.0.0.0/8 ",
        "::/129",
        "::/1000000000000000000000",
        "fe80::%1/64",
        "10.0.0/8",
        "1.2.3.4::/64",
        "::1.2.3.4:5/128",
        "1:2:3:4:5:6:7:1.2.3.4/128",
        "/8",
    ] {
        assert_eq!(peer_err(&format!("allowed_ip={a}")), EINVAL, "{a}");
    }
}

fn sample_info() -> DeviceInfo {
    DeviceInfo {
        private_key: Some([0xe8; 32]),
        public_key: Some([0x77; 32]),
        listen_port: 51820,
        user_cookie: 0x1234,
        peers: vec![
            PeerInfo {
                public_key: [0x11; 32],
                preshared_key: Some([0x22; 32]),
                endpoint: Some(Endpoint::V4 {
                    addr: [192, 0, 2, 1],
                    port: 51820,
                }),
                last_handshake: (1_700_000_000, 123_456_789),
                rx_bytes: 1024,
                tx_bytes: 2048,
                persistent_keepalive: 25,
                allowed_ips: vec![v4([10, 0, 0, 0], 24), v4([192, 168, 7, 1], 32), v6(DB8, 32)],
            },
            PeerInfo {
                public_key: [0x33; 32],
                preshared_key: None,
                // 2001:db8:0:0:1:0:0:1: two runs of two zeros; netip
                // compresses the first.
                endpoint: Some(Endpoint::V6 {
                    addr: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1],
                    port: 443,
                    flowinfo: 9,
                    scope_id: 0,
                }),
                last_handshake: (0, 0),
                rx_bytes: u64::MAX,
                tx_bytes: 0,
                persistent_keepalive: 0,
                allowed_ips: vec![
                    v6([0; 16], 0),
                    v6([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 64),
                    v6([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1], 128),
                    v6([0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0], 128),
                ],
            },
        ],
    }
}

/// What wireguard-go's IpcGetOperation prints for the same state:
/// keys as lowercase hex via keyf(), the private key only when
/// non-zero, listen_port and fwmark only when non-zero, no device
/// public key; per peer public_key, preshared_key (zeros when none),
/// protocol_version=1, endpoint via netip.AddrPort.String (flow label
/// not shown), the handshake time split from one nanosecond count,
/// tx before rx, the keepalive, then netip.Prefix.String per allowed
/// IP (IPv4-mapped as ::ffff:a.b.c.d, one zero group never "::").
#[test]
fn get_is_byte_exact() {
    let want = format!(
        "private_key={}\n\
         listen_port=51820\n\
         fwmark=4660\n\
         public_key={}\n\
         preshared_key={}\n\
         protocol_version=1\n\
         endpoint=192.0.2.1:51820\n\
         last_handshake_time_sec=1700000000\n\
         last_handshake_time_nsec=123456789\n\
         tx_bytes=2048\n\
         rx_bytes=1024\n\
         persistent_keepalive_interval=25\n\
         allowed_ip=10.0.0.0/24\n\
         allowed_ip=192.168.7.1/32\n\
         allowed_ip=2001:db8::/32\n\
         public_key={}\n\
         preshared_key={}\n\
         protocol_version=1\n\
         endpoint=[2001:db8::1:0:0:1]:443\n\
         last_handshake_time_sec=0\n\
         last_handshake_time_nsec=0\n\
         tx_bytes=0\n\
         rx_bytes=18446744073709551615\n\
         persistent_keepalive_interval=0\n\
         allowed_ip=::/0\n\
         allowed_ip=fe80::/64\n\
         allowed_ip=::ffff:10.0.0.1/128\n\
         allowed_ip=0:1::2:0/128\n",
        hex(0xe8),
        hex(0x11),
        hex(0x22),
        hex(0x33),
        hex(0)
    );
    let mut out = String::new();
    format_get(&sample_info(), &mut out);
    assert_eq!(out, want);
    format_errno(0, &mut out);
    assert!(out.ends_with("allowed_ip=0:1::2:0/128\nerrno=0\n\n"));
}

#[test]
fn get_edge_cases() {
    let mut info = sample_info();
    info.private_key = Some([0; 32]);
    info.listen_port = 0;
    info.user_cookie = 0;
    info.peers.truncate(1);
    info.peers[0].endpoint = Some(Endpoint::V6 {
        addr: LL1,
        port: 1,
        flowinfo: 0,
        scope_id: 7,
    });
    info.peers[0].last_handshake = (5, 2_500_000_000);
    info.peers[0].allowed_ips.clear();
    let mut out = String::new();
    format_get(&info, &mut out);
    assert!(out.starts_with("public_key="), "{out}");
    assert!(out.contains("\nendpoint=[fe80::1%7]:1\n"));
    assert!(out.contains("\nlast_handshake_time_sec=7\nlast_handshake_time_nsec=500000000\n"));
    assert!(!out.contains("allowed_ip"));
    info.private_key = None;
    info.peers.clear();
    let mut out = String::new();
    format_get(&info, &mut out);
    assert_eq!(out, "");
}

#[test]
fn ipv6_text() {
    let cases: [([u16; 8], &str); 9] = [
        ([0; 8], "::"),
        ([0, 0, 0, 0, 0, 0, 0, 1], "::1"),
        ([1, 0, 0, 0, 0, 0, 0, 0], "1::"),
        ([1, 0, 1, 0, 1, 0, 1, 0], "1:0:1:0:1:0:1:0"),
        ([1, 0, 0, 1, 0, 0, 0, 1], "1:0:0:1::1"),
        ([0xabcd, 0xef, 0, 0, 0, 0, 0, 0xffff], "abcd:ef::ffff"),
        ([0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304], "::ffff:1.2.3.4"),
        ([0, 0, 0, 0, 0, 0, 0x0102, 0x0304], "::102:304"),
        ([0, 0, 0, 0, 0xffff, 0, 0, 0], "::ffff:0:0:0"),
    ];
    for (g, text) in cases {
        let mut a = [0u8; 16];
        for (o, v) in a.chunks_exact_mut(2).zip(g) {
            o.copy_from_slice(&v.to_be_bytes());
        }
        let mut s = String::new();
        write_ipv6(&mut s, &a);
        assert_eq!(s, text);
        assert_eq!(parse_ipv6(text), Ok((a, None)));
    }
}

#[test]
fn errno_line() {
    let mut s = String::new();
    format_errno(UapiError::INVALID.errno, &mut s);
    assert_eq!(s, "errno=-22\n\n");
    assert_eq!(UapiError::from(crate::Error::Invalid), UapiError::INVALID);
    assert_eq!(UapiError::from(crate::Error::NoMemory).errno, -12);
}

/// `sample_info()` as a client sees it after a get: the public key
/// derived, the flow label (which UAPI does not carry) gone.
fn sample_info_as_read() -> DeviceInfo {
    let mut info = sample_info();
    info.public_key = info.private_key.as_ref().map(crate::crypto::public_key);
    for p in &mut info.peers {
        if let Some(Endpoint::V6 { flowinfo, .. }) = p.endpoint.as_mut() {
            *flowinfo = 0;
        }
    }
    info
}

fn answer(info: &DeviceInfo) -> String {
    let mut s = String::new();
    format_get(info, &mut s);
    format_errno(0, &mut s);
    s
}

#[test]
fn get_round_trips() {
    let want = sample_info_as_read();
    assert_eq!(parse_get(answer(&sample_info()).as_bytes()), Ok(want));
    // The public key is derived, never taken on trust from the model.
    let mut info = sample_info();
    info.public_key = None;
    let got = parse_get(answer(&info).as_bytes()).unwrap();
    assert_eq!(got.public_key, sample_info_as_read().public_key);
    assert_ne!(got.public_key, Some([0x77; 32]));
}

/// Text as wireguard-go's IpcGetOperation writes it, with the zone of
/// a link-local endpoint as an interface name and a key wg(8) does not
/// know.
#[test]
fn get_reads_wireguard_go_text() {
    let text = format!(
        "private_key={}\n\
         listen_port=51820\n\
         public_key={}\n\
         preshared_key={}\n\
         protocol_version=1\n\
         endpoint=[fe80::1%eth0]:51821\n\
         last_handshake_time_sec=1700000000\n\
         last_handshake_time_nsec=5\n\
         tx_bytes=92\n\
         rx_bytes=148\n\
         persistent_keepalive_interval=0\n\
         some_future_key=whatever\n\
         allowed_ip=10.0.0.2/32\n\
         allowed_ip=fd00::2/128\n\
         public_key={}\n\
         preshared_key={}\n\
         protocol_version=1\n\
         last_handshake_time_sec=0\n\
         last_handshake_time_nsec=0\n\
         tx_bytes=0\n\
         rx_bytes=0\n\
         persistent_keepalive_interval=25\n\
         errno=0\n\
         \n",
        hex(0xe8),
        hex(0x11),
        hex(0),
        hex(0x33),
        hex(0x44),
    );
    let zones = |z: &str| (z == "eth0").then_some(2);
    let got = parse_get_with(text.as_bytes(), &zones).unwrap();
    assert_eq!(got.private_key, Some([0xe8; 32]));
    assert_eq!(got.public_key, Some(crate::crypto::public_key(&[0xe8; 32])));
    assert_eq!(got.listen_port, 51820);
    assert_eq!(got.user_cookie, 0);
    assert_eq!(got.peers.len(), 2);
    let a = &got.peers[0];
    assert_eq!(a.public_key, [0x11; 32]);
    assert_eq!(a.preshared_key, None);
    assert_eq!(
        a.endpoint,
        Some(Endpoint::V6 {
            addr: LL1,
            port: 51821,
            flowinfo: 0,
            scope_id: 2
        })
    );
    assert_eq!(a.last_handshake, (1_700_000_000, 5));
    assert_eq!((a.tx_bytes, a.rx_bytes), (92, 148));
    assert_eq!(
        a.allowed_ips,
        vec![v4([10, 0, 0, 2], 32), {
            let mut fd = [0u8; 16];
            fd[0] = 0xfd;
            fd[15] = 2;
            v6(fd, 128)
        }]
    );
    let b = &got.peers[1];
    assert_eq!(b.preshared_key, Some([0x44; 32]));
    assert_eq!(b.endpoint, None);
    assert_eq!(b.persistent_keepalive, 25);
    // Without a way to name zones, a named zone cannot be read.
    assert_eq!(parse_get(text.as_bytes()), Err(UapiError::PROTOCOL));
}

fn get_err(text: &str) -> i64 {
    parse_get(text.as_bytes()).unwrap_err().errno
}

#[test]
fn get_details() {
    let ok = |t: &str| parse_get(t.as_bytes()).unwrap();
    // An empty device, and the least a daemon can say.
    assert_eq!(ok("errno=0\n\n").peers.len(), 0);
    // Misplaced keys are skipped as wg(8) skips them: device keys
    // after a peer, peer keys before one.
    let i = ok(&format!(
        "endpoint=1.2.3.4:5\nallowed_ip=10.0.0.0/8\npublic_key={}\n\
         listen_port=7\nfwmark=9\nprivate_key={}\nerrno=0\n\n",
        hex(1),
        hex(2)
    ));
    assert_eq!((i.listen_port, i.user_cookie, i.private_key), (0, 0, None));
    assert_eq!(i.peers[0].endpoint, None);
    assert!(i.peers[0].allowed_ips.is_empty());
    // errno may come anywhere; the last one counts.
    assert_eq!(ok("errno=5\nlisten_port=3\nerrno=0\n\n").listen_port, 3);
    // Numbers: leading zeros, the largest values.
    let i = ok(&format!(
        "listen_port=065535\nfwmark=4294967295\npublic_key={}\n\
         rx_bytes=18446744073709551615\nlast_handshake_time_sec=9223372036854775807\n\
         last_handshake_time_nsec=2500000000\nallowed_ip=10.1.2.3/024\n\
         endpoint=[192.0.2.1]:0\nerrno=0\n\n",
        hex(1)
    ));
    assert_eq!((i.listen_port, i.user_cookie), (65535, u32::MAX));
    assert_eq!(i.peers[0].rx_bytes, u64::MAX);
    assert_eq!(
        i.peers[0].last_handshake,
        (i64::MAX as u64 + 2, 500_000_000)
    );
    assert_eq!(i.peers[0].allowed_ips, vec![v4([10, 1, 2, 0], 24)]);
    assert_eq!(
        i.peers[0].endpoint,
        Some(Endpoint::V4 {
            addr: [192, 0, 2, 1],
            port: 0
        })
    );
    // Unbracketed IPv6 splits at the last colon, numeric zones work
    // without help.
    let i = ok(&format!(
        "public_key={}\nendpoint=fe80::1%3:9\nerrno=0\n\n",
        hex(1)
    ));
    assert_eq!(
        i.peers[0].endpoint,
        Some(Endpoint::V6 {
            addr: LL1,
            port: 9,
            flowinfo: 0,
            scope_id: 3
        })
    );
    // Nothing after the blank line is read.
    assert_eq!(ok("errno=0\n\ngarbage").listen_port, 0);
    // Upper-case hex, as wg(8)'s key_from_hex takes.
    let i = ok(&format!("private_key={}\nerrno=0\n\n", "AB".repeat(32)));
    assert_eq!(i.private_key, Some([0xab; 32]));
}

#[test]
fn get_errors() {
    let eproto = UapiError::PROTOCOL.errno;
    // The daemon's errno, with or without wireguard-go's sign.
    assert_eq!(get_err("errno=-22\n\n"), EINVAL);
    assert_eq!(get_err("errno=2\n\n"), -2);
    assert_eq!(get_err("listen_port=1\nerrno=19\n\n"), -19);
    let one = hex(1);
    for bad in [
        "",
        "\n",
        "errno=0\n",
        "errno=0",
        "listen_port=1\n\n",
        "errno=\n\n",
        "errno=x\n\n",
        "errno=2147483648\n\n",
        "errno=--1\n\n",
        "no equals sign\nerrno=0\n\n",
        "listen_port=65536\nerrno=0\n\n",
        "listen_port=-1\nerrno=0\n\n",
        "listen_port=\nerrno=0\n\n",
        "listen_port=+1\nerrno=0\n\n",
        "fwmark=4294967296\nerrno=0\n\n",
        "private_key=00\nerrno=0\n\n",
        "public_key=zz\nerrno=0\n\n",
        "listen_port=1\0\nerrno=0\n\n",
        "listen_port=\u{e9}\nerrno=0\n\n",
    ] {
        assert_eq!(get_err(bad), eproto, "{bad:?}");
    }
    for line in [
        "preshared_key=1",
        "endpoint=",
        "endpoint=1.2.3.4",
        "endpoint=1.2.3.4:",
        "endpoint=1.2.3.4:65536",
        "endpoint=[::1]",
        "endpoint=[::1]x1",
        "endpoint=host.example:1",
        "endpoint=[fe80::1%]:1",
        "allowed_ip=10.0.0.0",
        "allowed_ip=10.0.0.0/33",
        "allowed_ip=::/129",
        "allowed_ip=10.0.0.0/",
        "allowed_ip=10.0.0.0/x",
        "allowed_ip=10.0.0.0/-1",
        "allowed_ip=010.0.0.0/8",
        "allowed_ip=fe80::%1/64",
        "allowed_ip=10.0.0.0/8/8",
        "persistent_keepalive_interval=65536",
        "rx_bytes=18446744073709551616",
        "tx_bytes=-1",
        "last_handshake_time_sec=9223372036854775808",
        "last_handshake_time_nsec=9223372036854775808",
    ] {
        let text = format!("public_key={one}\n{line}\nerrno=0\n\n");
        assert_eq!(get_err(&text), eproto, "{line}");
    }
    // An error after a good answer still fails the whole answer.
    let mut s = answer(&sample_info());
    s.truncate(s.len() - "errno=0\n\n".len());
    s.push_str("errno=-5\n\n");
    assert_eq!(get_err(&s), -5);
}

mod props;
