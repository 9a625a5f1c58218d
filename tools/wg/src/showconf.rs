//! `wg showconf <interface>`: the interface's configuration in the file
//! format `wg setconf` reads back, laid out exactly as wg(8) lays it out.

use std::fmt::Write as _;
use std::io::{self, Write};

use crate::ipc::{self, DeviceInfo};
use crate::show::common::{endpoint_text, key_base64, prefix_addr, strerror};

/// The configuration text of a device, peers in the device's order.
pub fn render(dev: &DeviceInfo) -> String {
    let mut out = String::from("[Interface]\n");
    if dev.listen_port != 0 {
        let _ = writeln!(out, "ListenPort = {}", dev.listen_port);
    }
    if dev.user_cookie != 0 {
        let _ = writeln!(out, "FwMark = 0x{:x}", dev.user_cookie);
    }
    if let Some(k) = &dev.private_key {
        let _ = writeln!(out, "PrivateKey = {}", key_base64(k));
    }
    out.push('\n');
    for (i, p) in dev.peers.iter().enumerate() {
        let _ = writeln!(out, "[Peer]\nPublicKey = {}", key_base64(&p.public_key));
        if let Some(k) = &p.preshared_key {
            let _ = writeln!(out, "PresharedKey = {}", key_base64(k));
        }
        if !p.allowed_ips.is_empty() {
            out.push_str("AllowedIPs = ");
            for (j, prefix) in p.allowed_ips.iter().enumerate() {
                // An address the C library cannot write is left out, the
                // separator decided by position as wg(8) decides it.
                let Some(addr) = prefix_addr(prefix) else {
                    continue;
                };
                let _ = write!(out, "{addr}/{}", prefix.cidr());
                if j + 1 < p.allowed_ips.len() {
                    out.push_str(", ");
                }
            }
            out.push('\n');
        }
        if let Some(ep) = &p.endpoint {
            // An endpoint the resolver cannot write is left out entirely.
            if let Ok(text) = endpoint_text(ep) {
                let _ = writeln!(out, "Endpoint = {text}");
            }
        }
        if p.persistent_keepalive != 0 {
            let _ = writeln!(out, "PersistentKeepalive = {}", p.persistent_keepalive);
        }
        if i + 1 < dev.peers.len() {
            out.push('\n');
        }
    }
    out
}

/// `wg showconf <interface>`; args[0] is the subcommand's own name.
pub fn run(prog: &str, args: &[String]) -> i32 {
    let command = args.first().map_or("showconf", String::as_str);
    if args.len() != 2 {
        eprintln!("Usage: {prog} {command} <interface>");
        return 1;
    }
    let dev = match ipc::get_device(&args[1]) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("Unable to access interface: {}", strerror(&e));
            return 1;
        }
    };
    let mut out = io::stdout().lock();
    let _ = out.write_all(render(&dev).as_bytes());
    let _ = out.flush();
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use wg_core::allowedips::IpPrefix;
    use wg_core::config::PeerInfo;
    use wg_core::endpoint::Endpoint;

    fn b64(b: u8) -> String {
        key_base64(&[b; 32])
    }

    fn peer(b: u8) -> PeerInfo {
        PeerInfo {
            public_key: [b; 32],
            preshared_key: None,
            endpoint: None,
            last_handshake: (1, 0),
            rx_bytes: 5,
            tx_bytes: 6,
            persistent_keepalive: 0,
            allowed_ips: Vec::new(),
        }
    }

    fn bare() -> DeviceInfo {
        DeviceInfo {
            private_key: None,
            public_key: None,
            listen_port: 0,
            user_cookie: 0,
            peers: Vec::new(),
        }
    }

    #[test]
    fn bare_interface_keeps_its_blank_line() {
        assert_eq!(render(&bare()), "[Interface]\n\n");
    }

    #[test]
    fn full_configuration() {
        let mut p1 = peer(1);
        p1.preshared_key = Some([9; 32]);
        p1.allowed_ips = vec![
            IpPrefix::V4([10, 0, 0, 0], 8),
            IpPrefix::V6([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 128),
        ];
        p1.endpoint = Some(Endpoint::V6 {
            addr: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            port: 51820,
            flowinfo: 0,
            scope_id: 0,
        });
        p1.persistent_keepalive = 25;
        let mut p2 = peer(2);
        p2.endpoint = Some(Endpoint::V4 {
            addr: [192, 0, 2, 1],
            port: 1,
        });
        let p3 = peer(3);
        let dev = DeviceInfo {
            private_key: Some([7; 32]),
            public_key: Some([8; 32]),
            listen_port: 51820,
            user_cookie: 0xbeef,
            peers: vec![p1, p2, p3],
        };
        let expected = format!(
            "[Interface]\nListenPort = 51820\nFwMark = 0xbeef\nPrivateKey = {sk}\n\n\
             [Peer]\nPublicKey = {k1}\nPresharedKey = {psk}\nAllowedIPs = 10.0.0.0/8, fd00::1/128\n\
             Endpoint = [2001:db8::1]:51820\nPersistentKeepalive = 25\n\n\
             [Peer]\nPublicKey = {k2}\nEndpoint = 192.0.2.1:1\n\n\
             [Peer]\nPublicKey = {k3}\n",
            sk = b64(7),
            k1 = b64(1),
            psk = b64(9),
            k2 = b64(2),
            k3 = b64(3)
        );
        assert_eq!(render(&dev), expected);
    }

    #[test]
    fn usage_errors() {
        assert_eq!(run("wg", &["showconf".to_string()]), 1);
        assert_eq!(run("wg", &["showconf".into(), "a".into(), "b".into()]), 1);
    }
}
