//! Deterministic seed inputs for every target: valid messages and
//! requests, so the fuzzer starts past the outer checks. Every target
//! binary writes them when asked ([`write_if_asked`]), so seeding needs no
//! second build; nothing here is committed as binary files.

use std::path::Path;

use wg_core::allowedips::IpPrefix;
use wg_core::config::{AllowedIpChange, DeviceInfo, DeviceUpdate, PeerInfo, PeerUpdate};
use wg_core::nvlist::{self, Nvlist};
use wg_core::{crypto, nvconfig, uapi, Endpoint};

fn key(seed: u8) -> [u8; 32] {
    let mut k = [seed; 32];
    crypto::clamp_private_key(&mut k);
    k
}

fn aip(prefix: IpPrefix, remove: bool) -> AllowedIpChange {
    AllowedIpChange { prefix, remove }
}

fn v4(a: [u8; 4], c: u8) -> IpPrefix {
    IpPrefix::new_v4(a, c).expect("prefix")
}

fn v6(a: [u8; 16], c: u8) -> IpPrefix {
    IpPrefix::new_v6(a, c).expect("prefix")
}

const V6_EP: Endpoint = Endpoint::V6 {
    addr: [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    port: 51820,
    flowinfo: 0,
    scope_id: 0,
};

/// A device with a key and one peer: what `nvlist` applies updates to.
pub fn base_config() -> DeviceUpdate {
    DeviceUpdate {
        private_key: Some(Some(key(1))),
        listen_port: Some(51820),
        peers: vec![PeerUpdate {
            public_key: crypto::public_key(&key(2)),
            endpoint: Some(Endpoint::V4 {
                addr: [192, 0, 2, 2],
                port: 51820,
            }),
            allowed_ips: vec![aip(v4([10, 0, 0, 2], 32), false)],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Updates that exercise every field of the model.
pub fn updates() -> Vec<DeviceUpdate> {
    let full_peer = PeerUpdate {
        public_key: crypto::public_key(&key(3)),
        preshared_key: Some(Some([7; 32])),
        endpoint: Some(V6_EP),
        persistent_keepalive: Some(25),
        replace_allowed_ips: true,
        allowed_ips: vec![
            aip(v4([10, 1, 0, 0], 16), false),
            aip(
                v6([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 8),
                false,
            ),
            aip(v4([10, 1, 2, 0], 24), true),
        ],
        ..Default::default()
    };
    vec![
        base_config(),
        DeviceUpdate {
            private_key: Some(None),
            user_cookie: Some(0x1234),
            replace_peers: true,
            peers: vec![full_peer.clone()],
            ..Default::default()
        },
        DeviceUpdate {
            listen_port: Some(0),
            peers: vec![
                PeerUpdate {
                    public_key: crypto::public_key(&key(2)),
                    remove: true,
                    ..Default::default()
                },
                PeerUpdate {
                    preshared_key: Some(None),
                    ..full_peer
                },
            ],
            ..Default::default()
        },
    ]
}

/// `get` answers with every field.
pub fn infos() -> Vec<DeviceInfo> {
    let peer = |k: u8, psk: Option<[u8; 32]>, ep: Option<Endpoint>| PeerInfo {
        public_key: crypto::public_key(&key(k)),
        preshared_key: psk,
        endpoint: ep,
        last_handshake: (1_700_000_000, 123_456_789),
        rx_bytes: 1234,
        tx_bytes: 5678,
        persistent_keepalive: 25,
        allowed_ips: vec![v4([10, 0, 0, 0], 24), v6([0xfd; 16], 64)],
    };
    vec![
        DeviceInfo {
            private_key: Some(key(1)),
            public_key: Some(crypto::public_key(&key(1))),
            listen_port: 51820,
            user_cookie: 42,
            peers: vec![
                peer(2, Some([9; 32]), Some(V6_EP)),
                peer(
                    3,
                    None,
                    Some(Endpoint::V4 {
                        addr: [198, 51, 100, 7],
                        port: 4500,
                    }),
                ),
            ],
        },
        DeviceInfo {
            private_key: None,
            public_key: None,
            listen_port: 0,
            user_cookie: 0,
            peers: vec![peer(4, None, None)],
        },
    ]
}

/// Generic nvlists with every value type and some nesting.
fn nvlists() -> Vec<Nvlist> {
    let mut inner = Nvlist::new();
    inner.add_number("cidr", 24).expect("nv");
    inner.add_binary("ipv4", &[10, 0, 0, 0]).expect("nv");
    let mut l = Nvlist::new();
    l.add_null("null").expect("nv");
    l.add_bool("bool", true).expect("nv");
    l.add_number("number", 51820).expect("nv");
    l.add_string("string", b"wg0").expect("nv");
    l.add_binary("binary", &[1, 2, 3]).expect("nv");
    l.add_bool_array("bools", &[true, false]).expect("nv");
    l.add_number_array("numbers", &[1, 2, 3]).expect("nv");
    l.add_string_array("strings", vec![b"a".to_vec(), b"bc".to_vec()])
        .expect("nv");
    l.add_nvlist("nested", inner.clone()).expect("nv");
    l.add_nvlist_array("array", vec![inner.clone(), inner])
        .expect("nv");
    vec![l]
}

/// `{"listen-port": 51820}` packed big-endian, as a big-endian host's
/// libnv writes it (`pack` only writes the host's order).
fn big_endian_listen_port() -> Vec<u8> {
    let mut b = vec![0x6c, 0, 0x80];
    b.extend(0u64.to_be_bytes());
    b.extend(39u64.to_be_bytes());
    b.push(3);
    b.extend(12u16.to_be_bytes());
    b.extend(8u64.to_be_bytes());
    b.extend(0u64.to_be_bytes());
    b.extend(b"listen-port\0");
    b.extend(51820u64.to_be_bytes());
    b
}

/// Receive-target inputs: one operation byte (bit 7 the side, bit 6 a
/// flag, the rest the operation, see `receive.rs`) and its arguments.
fn receive_inputs() -> Vec<Vec<u8>> {
    let seal_and_deliver = |side: u8, kind: u8| {
        let mut v = vec![(side << 7) | 2, kind, 5];
        v.extend_from_slice(b"hello");
        v.extend_from_slice(&[3, 0, 0, 0]); // deliver it, real source, unmodified
        v
    };
    let mut out = vec![
        seal_and_deliver(0, 0),
        seal_and_deliver(1, 1),
        seal_and_deliver(0, 2),
        seal_and_deliver(0, 5),
    ];
    // Delivered, then replayed from history (twice, once mutated).
    let mut replay = seal_and_deliver(1, 0);
    replay.extend_from_slice(&[4, 0, 0, 0, 4, 0, 0, 1, 0, 40, 0x55]);
    out.push(replay);
    // A data message with a live index and counter (+1), fuzzed body.
    let mut data = vec![1, 0, 0, 192, 1, 32];
    data.extend(std::iter::repeat_n(0xab, 48));
    out.push(data);
    // Under load, then an initiation and a response with a valid mac1:
    // cookie replies come back and teach the outsider its cookie.
    let mut load = vec![0x80 | 10, 1, 0x80 | 5, 0];
    load.extend(std::iter::repeat_n(0x11, 144));
    load.push(1); // valid mac1
    load.extend_from_slice(&[0x80 | 5, 0]);
    load.extend(std::iter::repeat_n(0x22, 144));
    load.push(1);
    load.extend_from_slice(&[6, 0]);
    load.extend(std::iter::repeat_n(0x33, 88));
    load.extend_from_slice(&[0, 1]);
    out.push(load);
    // A valid cookie reply after a rekey, and time passing.
    out.push(vec![
        11,
        7,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        1,
        0x40 | 8,
        200,
        0,
    ]);
    // Forged valid initiations, fresh and replayed, then time jumps.
    let mut forged = vec![12, 0, 0];
    forged.extend(std::iter::repeat_n(0x42, 32));
    forged.extend_from_slice(&[1, 2, 3, 4, 0, 1]);
    forged.extend_from_slice(&[4, 0, 0, 0]);
    forged.extend_from_slice(&[0x40 | 8, 181, 0, 9, 0x80 | 9, 13]);
    out.push(forged);
    out
}

fn allowedips_inputs() -> Vec<Vec<u8>> {
    // SplitMix64 bytes: varied but fixed.
    let mut state = 0x5eed_u64;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) as u8
    };
    (0..8)
        .map(|i| (0..(64 << (i % 4))).map(|_| next()).collect())
        .collect()
}

/// Every target's seeds, as (target, name, bytes).
pub fn all() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut out = Vec::new();
    for (i, l) in nvlists().iter().enumerate() {
        let mut b = vec![0];
        b.extend(nvlist::pack(l).expect("pack"));
        out.push(("nvlist", format!("generic-{i}"), b));
    }
    for (i, which) in [0u8, 1].into_iter().enumerate() {
        let mut b = vec![which];
        b.extend(big_endian_listen_port());
        out.push(("nvlist", format!("big-endian-{i}"), b));
    }
    for (i, u) in updates().iter().enumerate() {
        let mut b = vec![1];
        b.extend(nvconfig::encode_set(u).expect("encode_set"));
        out.push(("nvlist", format!("set-{i}"), b));
        let mut t = vec![0];
        let mut body = String::new();
        uapi::format_set(u, &mut body);
        t.extend(body.as_bytes());
        t.push(b'\n');
        out.push(("uapi", format!("set-{i}"), t));
    }
    for (i, info) in infos().iter().enumerate() {
        let mut b = vec![2];
        b.extend(nvconfig::encode_get(info).expect("encode_get"));
        out.push(("nvlist", format!("get-{i}"), b));
        let mut t = vec![1];
        let mut body = String::new();
        uapi::format_get(info, &mut body);
        uapi::format_errno(0, &mut body);
        t.extend(body.as_bytes());
        out.push(("uapi", format!("get-{i}"), t));
    }
    for (i, b) in receive_inputs().into_iter().enumerate() {
        out.push(("receive", format!("ops-{i}"), b));
    }
    for (i, b) in allowedips_inputs().into_iter().enumerate() {
        out.push(("allowedips", format!("ops-{i}"), b));
    }
    out
}

/// Writes the seeds under `dir/<target>/seed-<name>`.
pub fn write(dir: &Path) -> std::io::Result<usize> {
    let seeds = all();
    for (target, name, bytes) in &seeds {
        let d = dir.join(target);
        std::fs::create_dir_all(&d)?;
        std::fs::write(d.join(format!("seed-{name}")), bytes)?;
    }
    Ok(seeds.len())
}

/// With `WG_FUZZ_SEED_DIR` set, writes every target's seeds there and
/// exits: `WG_FUZZ_SEED_DIR=corpus .../receive` seeds all four corpora.
/// Called from each target's libFuzzer initialisation.
pub fn write_if_asked() {
    let Some(dir) = std::env::var_os("WG_FUZZ_SEED_DIR") else {
        return;
    };
    match write(Path::new(&dir)) {
        Ok(n) => {
            println!("seeds: {n} written under {}", dir.to_string_lossy());
            std::process::exit(0);
        }
        Err(e) => {
            eprintln!("seeds: {e}");
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    /// Every seed runs clean through its harness: a seed that crashed
    /// would make every fuzzing run fail at once.
    #[test]
    fn seeds_pass_their_harness() {
        for (target, name, bytes) in super::all() {
            match target {
                "nvlist" => crate::nvlist::run(&bytes),
                "uapi" => crate::uapi::run(&bytes),
                "receive" => {
                    let mut w = crate::receive::World::new();
                    w.run_input(&bytes);
                }
                "allowedips" => crate::allowedips::run(&bytes),
                other => panic!("unknown target {other} for {name}"),
            }
        }
    }
}
