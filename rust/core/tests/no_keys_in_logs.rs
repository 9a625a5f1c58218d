//! No key material in what the core formats: its Debug and Display output
//! (what a host logs or a failing test prints) and its error values.
//!
//! - `formatted_state_has_no_secret_keys`: a device with a private key and a
//!   peer with a preshared key, its configuration read back with the keys,
//!   the requests that set them (model, nvlist, UAPI), the handshake state
//!   and every error of a run of bad inputs are formatted with `{:?}` and
//!   `{}`; none may hold either key as hex, base64, Rust's byte-list form
//!   or raw bytes.
//! - `debug_derives_hold_no_secret_fields`: a scan of the core's sources:
//!   no type with a derived Debug has a field named like a secret, and no
//!   format macro outside tests names one.

use std::fmt::Write as _;

use wg_core::config::{AllowedIpChange, DeviceUpdate, Key, PeerUpdate};
use wg_core::device::{Rng, MAX_HANDSHAKE_LEN};
use wg_core::noise::{Handshake, StaticIdentity};
use wg_core::{allowedips::IpPrefix, crypto, nvconfig, uapi, Device, Endpoint, Time};

struct Counter(std::sync::atomic::AtomicU64);

impl Rng for Counter {
    fn fill(&self, buf: &mut [u8]) {
        for b in buf {
            *b = (self
                .0
                .fetch_add(0x9E37_79B9, std::sync::atomic::Ordering::Relaxed)
                >> 7) as u8;
        }
    }
}

const T0: Time = Time::from_nanos(1_000_000_000_000, 1_700_000_000_000_000_000);

fn clamped(seed: u8) -> Key {
    let mut k = [seed; 32];
    crypto::clamp_private_key(&mut k);
    k
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64(k: &Key) -> String {
    let mut s = String::new();
    for c in k.chunks(3) {
        let n = c
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..=c.len() {
            s.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    s
}

/// Every form a key could take in text; 12 bytes of it are enough to say
/// it leaked.
fn forms(k: &Key) -> Vec<String> {
    let hex: String = k.iter().map(|b| format!("{b:02x}")).collect();
    let list = |sep: &str| {
        k[..12]
            .iter()
            .map(|b| b.to_string())
            .collect::<Vec<_>>()
            .join(sep)
    };
    vec![
        hex[..24].to_string(),
        hex[..24].to_uppercase(),
        base64(k)[..16].to_string(),
        list(", "),
        list(","),
        String::from_utf8_lossy(&k[..12]).into_owned(),
    ]
}

fn assert_clean(what: &str, text: &str, secrets: &[(&str, Key)]) {
    for (name, k) in secrets {
        for form in forms(k) {
            assert!(
                !text.contains(&form),
                "{what} shows {name} as {form:?}: {text}"
            );
        }
        assert!(
            !text.as_bytes().windows(12).any(|w| w == &k[..12]),
            "{what} holds {name}'s raw bytes"
        );
    }
}

#[test]
fn formatted_state_has_no_secret_keys() {
    let private = clamped(0x61);
    let psk = [0x7e; 32];
    let peer_private = clamped(0x62);
    let peer_public = crypto::public_key(&peer_private);
    let secrets = [("the private key", private), ("the preshared key", psk)];
    let mut text = String::new();

    let update = DeviceUpdate {
        private_key: Some(Some(private)),
        listen_port: Some(51820),
        peers: vec![PeerUpdate {
            public_key: peer_public,
            preshared_key: Some(Some(psk)),
            endpoint: Some(Endpoint::V4 {
                addr: [192, 0, 2, 9],
                port: 51820,
            }),
            allowed_ips: vec![AllowedIpChange {
                prefix: IpPrefix::new_v4([10, 0, 0, 2], 32).unwrap(),
                remove: false,
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    writeln!(text, "{update:?} {:?}", update.peers[0]).unwrap();
    let dev = Device::new(Box::new(Counter(0.into()))).unwrap();
    dev.set_config(T0, &update).unwrap();
    let info = dev.config(true).unwrap();
    assert_eq!(info.private_key, Some(private), "the keys are there");
    writeln!(text, "{info:?} {:?} {:#?}", info.peers[0], info).unwrap();

    // The same request through each codec a host parses.
    let nvl = nvconfig::encode_set(&update).unwrap();
    let decoded = nvconfig::decode_set(&nvl, &dev.limits()).unwrap();
    writeln!(text, "{decoded:?}").unwrap();
    // The unpacked nvlist itself, as a host debugging a request would print it.
    let raw = wg_core::nvlist::unpack(&nvl, &nvconfig::unpack_limits(&dev.limits())).unwrap();
    writeln!(text, "{raw:?}").unwrap();
    let mut body = String::new();
    uapi::format_set(&update, &mut body);
    writeln!(text, "{:?}", uapi::parse_set(&body).unwrap()).unwrap();
    let mut got = String::new();
    uapi::format_get(&info, &mut got);
    // (format_get is the privileged UAPI answer: it must carry the keys;
    // it is an answer to the owner, not a log line.)

    // Handshake state of both sides.
    let id = StaticIdentity::new(private);
    let hs = Handshake::new(&id, peer_public, Some(psk));
    writeln!(text, "{id:?} {hs:?}").unwrap();

    // Errors of bad input: every one formatted both ways.
    let mut errors = Vec::new();
    let mut bad = update.clone();
    bad.peers[0].endpoint = Some(Endpoint::V4 {
        addr: [192, 0, 2, 9],
        port: 0,
    });
    errors.push(dev.set_config(T0, &bad).unwrap_err());
    let mut nvl_bad = nvl.clone();
    let n = nvl_bad.len();
    nvl_bad[n / 2] ^= 0xff;
    if let Err(e) = nvconfig::decode_set(&nvl_bad, &dev.limits()) {
        errors.push(e);
    }
    errors.push(nvconfig::decode_set(&nvl[..n - 1], &dev.limits()).unwrap_err());
    let mut out = [0u8; MAX_HANDSHAKE_LEN];
    for len in [0, 1, 32, 92, 148, 200] {
        let mut junk = vec![1u8; len];
        if let Err(e) = dev.decapsulate(
            T0,
            Endpoint::V4 {
                addr: [1, 2, 3, 4],
                port: 5,
            },
            &mut junk,
            &mut out,
        ) {
            errors.push(e);
        }
    }
    for e in &errors {
        writeln!(text, "{e} {e:?} {:?}", uapi::UapiError::from(*e)).unwrap();
    }
    let bad_text = format!("private_key={}\n", "zz".repeat(32));
    writeln!(text, "{:?}", uapi::parse_set(&bad_text)).unwrap();

    assert!(errors.len() >= 6, "{errors:?}");
    assert_clean("formatted state", &text, &secrets);
    // The scan would see them: the privileged answer has the key in hex.
    assert!(forms(&private).iter().any(|f| got.contains(f)));
}

/// Names a secret goes by in the core's sources.
const SECRET_NAMES: [&str; 10] = [
    "private",
    "psk",
    "preshared",
    "secret",
    "send_key",
    "recv_key",
    "ephemeral",
    "chaining_key",
    "static_static",
    "cookie_key",
];

fn is_secret_name(s: &str) -> bool {
    SECRET_NAMES.iter().any(|n| s.contains(n))
}

#[test]
fn debug_derives_hold_no_secret_fields() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![];
    let mut dirs = vec![src];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") && !p.ends_with("tests.rs") {
                files.push(p);
            }
        }
    }
    let mut findings = vec![];
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        // Test modules may print what they like.
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        let lines: Vec<&str> = code.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            let t = l.trim();
            if t.starts_with("#[derive(") && t.contains("Debug") {
                // The item's fields, up to its closing brace.
                let mut depth = 0i32;
                for body in lines.iter().skip(i + 1) {
                    let b = body.split("//").next().unwrap_or("");
                    depth += b.matches('{').count() as i32 - b.matches('}').count() as i32;
                    if let Some((name, _)) = b.trim().trim_start_matches("pub ").split_once(':') {
                        if depth == 1 && is_secret_name(name) {
                            findings.push(format!(
                                "{}:{}: Debug shows `{}`",
                                f.display(),
                                i + 1,
                                name.trim()
                            ));
                        }
                    }
                    if depth <= 0 && b.contains('}') {
                        break;
                    }
                }
            }
            for mac in [
                "format!(",
                "write!(",
                "writeln!(",
                "println!(",
                "eprintln!(",
                "panic!(",
            ] {
                if let Some(at) = t.find(mac) {
                    let args = &t[at..];
                    if is_secret_name(args) {
                        findings.push(format!("{}:{}: {}", f.display(), i + 1, t));
                    }
                }
            }
        }
    }
    assert!(files.len() > 15, "scanned {} files", files.len());
    assert!(findings.is_empty(), "{}", findings.join("\n"));
}
