//! Property tests of the UAPI codec: generated configurations and answers
//! survive a round trip, and no input makes the parsers panic.

use super::*;

fn any_key() -> impl Strategy<Value = Key> {
    // Never the zero key, which reads back as "none".
    any::<[u8; 32]>().prop_map(|mut k| {
        k[0] |= 1;
        k
    })
}

fn any_prefix() -> impl Strategy<Value = IpPrefix> {
    prop_oneof![
        (any::<[u8; 4]>(), 0u8..=32).prop_map(|(a, c)| v4(a, c)),
        (any::<[u8; 16]>(), 0u8..=128).prop_map(|(a, c)| v6(a, c)),
    ]
}

fn any_endpoint() -> impl Strategy<Value = Endpoint> {
    prop_oneof![
        (any::<[u8; 4]>(), 1u16..).prop_map(|(addr, port)| Endpoint::V4 { addr, port }),
        (any::<[u8; 16]>(), 1u16.., any::<u32>()).prop_map(|(addr, port, scope_id)| {
            Endpoint::V6 {
                addr,
                port,
                flowinfo: 0,
                scope_id,
            }
        }),
    ]
}

fn any_peer() -> impl Strategy<Value = PeerUpdate> {
    (
        any_key(),
        any::<(bool, bool, bool)>(),
        proptest::option::of(proptest::option::of(any_key())),
        proptest::option::of(any_endpoint()),
        proptest::option::of(any::<u16>()),
        proptest::collection::vec((any_prefix(), any::<bool>()), 0..4),
    )
        .prop_map(|(k, (remove, update_only, replace), psk, ep, ka, aips)| {
            let mut p = PeerUpdate::default();
            p.public_key = k;
            p.remove = remove;
            p.update_only = update_only;
            if !remove {
                p.preshared_key = psk;
                p.endpoint = ep;
                p.persistent_keepalive = ka;
                p.replace_allowed_ips = replace;
                p.allowed_ips = aips
                    .into_iter()
                    .map(|(prefix, remove)| AllowedIpChange { prefix, remove })
                    .collect();
            }
            p
        })
}

fn any_update() -> impl Strategy<Value = DeviceUpdate> {
    (
        proptest::option::of(proptest::option::of(any_key())),
        proptest::option::of(any::<u16>()),
        proptest::option::of(any::<u32>()),
        any::<bool>(),
        proptest::collection::vec(any_peer(), 0..4),
    )
        .prop_map(
            |(private_key, listen_port, user_cookie, replace_peers, peers)| {
                let mut u = DeviceUpdate::default();
                u.private_key = private_key;
                u.listen_port = listen_port;
                u.user_cookie = user_cookie;
                u.replace_peers = replace_peers;
                u.peers = peers;
                u
            },
        )
}

fn any_peer_info() -> impl Strategy<Value = PeerInfo> {
    (
        any_key(),
        proptest::option::of(any_key()),
        proptest::option::of(any_endpoint()),
        (0u64..=i64::MAX as u64, 0u32..1_000_000_000),
        any::<(u64, u64, u16)>(),
        proptest::collection::vec(any_prefix(), 0..4),
    )
        .prop_map(
            |(
                public_key,
                preshared_key,
                endpoint,
                last_handshake,
                (rx_bytes, tx_bytes, persistent_keepalive),
                allowed_ips,
            )| PeerInfo {
                public_key,
                preshared_key,
                endpoint,
                last_handshake,
                rx_bytes,
                tx_bytes,
                persistent_keepalive,
                allowed_ips,
            },
        )
}

fn any_info() -> impl Strategy<Value = DeviceInfo> {
    (
        proptest::option::of(any_key()),
        any::<(u16, u32)>(),
        proptest::collection::vec(any_peer_info(), 0..4),
    )
        .prop_map(
            |(private_key, (listen_port, user_cookie), peers)| DeviceInfo {
                private_key,
                public_key: None,
                listen_port,
                user_cookie,
                peers,
            },
        )
}

/// Lines that look like requests, to get past the key checks.
fn request_like() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("private_key"),
        Just("listen_port"),
        Just("fwmark"),
        Just("replace_peers"),
        Just("public_key"),
        Just("remove"),
        Just("update_only"),
        Just("preshared_key"),
        Just("endpoint"),
        Just("persistent_keepalive_interval"),
        Just("replace_allowed_ips"),
        Just("allowed_ip"),
        Just("protocol_version"),
    ];
    let value = prop_oneof![
        "[0-9a-fA-F]{64}",
        "[-0-9a-fA-F.:/%\\[\\]]{0,48}",
        "-?[0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,3}",
        "\\[[0-9a-f:]{0,30}(%[0-9]{1,3})?\\]:[0-9]{1,6}",
        Just("true".to_string()),
        "[0-9]{1,12}",
    ];
    proptest::collection::vec((key, value), 0..12).prop_map(|lines| {
        lines
            .into_iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect::<String>()
    })
}

proptest! {
    #[test]
    fn updates_round_trip(u in any_update()) {
        let mut s = String::new();
        format_set(&u, &mut s);
        prop_assert_eq!(parse_set(&s), Ok(u));
    }

    #[test]
    fn garbage_never_panics(s in any::<String>()) {
        let _ = parse_set(&s);
    }

    #[test]
    fn near_misses_never_panic_and_reformat_stably(s in request_like()) {
        if let Ok(u) = parse_set(&s) {
            // What we accept, we can say again, and it means the same.
            let mut s1 = String::new();
            format_set(&u, &mut s1);
            let u1 = parse_set(&s1);
            prop_assert!(u1.is_ok(), "{} -> {}", s, s1);
            let mut s2 = String::new();
            format_set(&u1.unwrap(), &mut s2);
            prop_assert_eq!(s1, s2);
        }
    }

    #[test]
    fn infos_round_trip(i in any_info()) {
        let mut want = i.clone();
        want.public_key = want.private_key.as_ref().map(crate::crypto::public_key);
        prop_assert_eq!(parse_get(answer(&i).as_bytes()), Ok(want));
    }

    #[test]
    fn get_garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_get(&b);
    }

    #[test]
    fn get_near_misses_never_panic(s in request_like(), status in "errno=-?[0-9]{1,11}\n\n") {
        let _ = parse_get(format!("{s}{status}").as_bytes());
    }

    #[test]
    fn addresses_round_trip(p in any_prefix(), e in any_endpoint()) {
        let mut s = String::new();
        write_prefix(&mut s, &p);
        prop_assert_eq!(parse_prefix(&s), Ok(p));
        let mut s = String::new();
        write_endpoint(&mut s, &e);
        prop_assert_eq!(parse_endpoint(&s), Ok(e));
    }
}
