//! The text of `wg show`: the pretty, coloured listing and the
//! tab-separated forms meant for scripts (`dump` and the single fields).
//!
//! Everything here is pure: the caller passes the device, the time "now"
//! and the style, and gets the exact bytes wg(8) would print.

use std::cmp::Ordering;
use std::fmt::Write as _;

use wg_core::config::{DeviceInfo, PeerInfo};

use super::common::{display_name, endpoint_text, key_base64, prefix_text};
use crate::terminal::{Term, BOLD, FG_CYAN, FG_GREEN, FG_RED, FG_YELLOW, RESET};

/// How the pretty listing looks.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    /// Keep the ANSI colours (else they are filtered out).
    pub color: bool,
    /// Print private and preshared keys instead of "(hidden)".
    pub show_keys: bool,
}

/// The scriptable forms: `wg show <iface> <field>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    PublicKey,
    PrivateKey,
    ListenPort,
    Fwmark,
    Peers,
    PresharedKeys,
    Endpoints,
    AllowedIps,
    LatestHandshakes,
    PersistentKeepalive,
    Transfer,
    Dump,
}

impl Field {
    pub fn parse(word: &str) -> Option<Field> {
        Some(match word {
            "public-key" => Field::PublicKey,
            "private-key" => Field::PrivateKey,
            "listen-port" => Field::ListenPort,
            "fwmark" => Field::Fwmark,
            "peers" => Field::Peers,
            "preshared-keys" => Field::PresharedKeys,
            "endpoints" => Field::Endpoints,
            "allowed-ips" => Field::AllowedIps,
            "latest-handshakes" => Field::LatestHandshakes,
            "persistent-keepalive" => Field::PersistentKeepalive,
            "transfer" => Field::Transfer,
            "dump" => Field::Dump,
            _ => return None,
        })
    }
}

fn never_shook_hands(p: &PeerInfo) -> bool {
    p.last_handshake == (0, 0)
}

/// The pretty listing's peer order: most recent handshake first, peers that
/// never completed one last, ties kept in the device's order.
fn handshake_order(a: &PeerInfo, b: &PeerInfo) -> Ordering {
    match (never_shook_hands(a), never_shook_hands(b)) {
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        // wg(8) keeps seconds in a signed 64-bit field.
        _ => (b.last_handshake.0 as i64, b.last_handshake.1)
            .cmp(&(a.last_handshake.0 as i64, a.last_handshake.1)),
    }
}

/// Peers in the order the pretty listing shows them.
pub fn sorted_peers(dev: &DeviceInfo) -> Vec<&PeerInfo> {
    let mut peers: Vec<&PeerInfo> = dev.peers.iter().collect();
    peers.sort_by(|a, b| handshake_order(a, b));
    peers
}

/// "1 year, 2 days, 1 minute" with cyan units; empty for zero.
pub fn pretty_time(mut left: u64) -> String {
    const UNITS: [(&str, u64); 5] = [
        ("year", 365 * 24 * 60 * 60),
        ("day", 24 * 60 * 60),
        ("hour", 60 * 60),
        ("minute", 60),
        ("second", 1),
    ];
    let mut out = String::new();
    for (unit, size) in UNITS {
        let n = left / size;
        left %= size;
        if n == 0 {
            continue;
        }
        if !out.is_empty() {
            out.push_str(", ");
        }
        let plural = if n == 1 { "" } else { "s" };
        let _ = write!(out, "{n} {FG_CYAN}{unit}{plural}{RESET}");
    }
    out
}

/// How long ago a handshake was, against the wall clock `now`.
pub fn ago(handshake_sec: i64, now: i64) -> String {
    match now.cmp(&handshake_sec) {
        Ordering::Equal => "Now".to_string(),
        Ordering::Less => {
            format!("({FG_RED}System clock wound backward; connection problems may ensue.{RESET})")
        }
        Ordering::Greater => {
            let elapsed = now.wrapping_sub(handshake_sec) as u64;
            format!("{} ago", pretty_time(elapsed))
        }
    }
}

pub fn every(seconds: u16) -> String {
    format!("every {}", pretty_time(u64::from(seconds)))
}

/// `count / 2^shift` with two decimals, rounded as C's "%.2f" rounds the
/// double wg(8) computes: the byte count is first converted to a double
/// (which may round it), after that every step is exact, and the final
/// rounding is to nearest with ties to even.
fn two_decimals(count: u64, shift: u32) -> String {
    let as_double = count as f64 as u128;
    let scaled = as_double * 100;
    let mut hundredths = scaled >> shift;
    let rest = scaled & ((1u128 << shift) - 1);
    let half = 1u128 << (shift - 1);
    if rest > half || (rest == half && hundredths % 2 == 1) {
        hundredths += 1;
    }
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

/// "123 B", "1.50 KiB", ... "2.00 TiB" with a cyan unit.
pub fn bytes(b: u64) -> String {
    const KIB: u64 = 1024;
    let (number, unit) = if b < KIB {
        (b.to_string(), "B")
    } else if b < KIB * KIB {
        (two_decimals(b, 10), "KiB")
    } else if b < KIB * KIB * KIB {
        (two_decimals(b, 20), "MiB")
    } else if b < KIB * KIB * KIB * KIB {
        (two_decimals(b, 30), "GiB")
    } else {
        (two_decimals(b, 40), "TiB")
    };
    format!("{number} {FG_CYAN}{unit}{RESET}")
}

fn secret(key: &[u8; 32], style: &Style) -> String {
    if style.show_keys {
        key_base64(key)
    } else {
        "(hidden)".to_string()
    }
}

fn key_or_none(key: Option<&[u8; 32]>) -> String {
    key.map_or_else(|| "(none)".to_string(), key_base64)
}

fn endpoint_or_none(p: &PeerInfo) -> String {
    match &p.endpoint {
        // The resolver's error text stands in for an endpoint it cannot
        // write, as in wg(8).
        Some(ep) => endpoint_text(ep).unwrap_or_else(|e| e),
        None => "(none)".to_string(),
    }
}

fn fwmark_text(fwmark: u32) -> String {
    if fwmark == 0 {
        "off".to_string()
    } else {
        format!("0x{fwmark:x}")
    }
}

/// The pretty listing of one interface, without the blank line that
/// separates interfaces in `wg show all`.
pub fn pretty(name: &str, dev: &DeviceInfo, now: i64, style: &Style) -> String {
    let mut t = Term::new(style.color);
    let name = display_name(name);
    t.put(RESET);
    t.put(&format!(
        "{FG_GREEN}{BOLD}interface{RESET}: {FG_GREEN}{name}{RESET}\n"
    ));
    if let Some(k) = &dev.public_key {
        t.put(&format!("  {BOLD}public key{RESET}: {}\n", key_base64(k)));
    }
    if let Some(k) = &dev.private_key {
        t.put(&format!(
            "  {BOLD}private key{RESET}: {}\n",
            secret(k, style)
        ));
    }
    if dev.listen_port != 0 {
        t.put(&format!(
            "  {BOLD}listening port{RESET}: {}\n",
            dev.listen_port
        ));
    }
    if dev.user_cookie != 0 {
        t.put(&format!("  {BOLD}fwmark{RESET}: 0x{:x}\n", dev.user_cookie));
    }
    let peers = sorted_peers(dev);
    if !peers.is_empty() {
        t.put("\n");
    }
    for (i, p) in peers.iter().enumerate() {
        t.put(&format!(
            "{FG_YELLOW}{BOLD}peer{RESET}: {FG_YELLOW}{}{RESET}\n",
            key_base64(&p.public_key)
        ));
        if let Some(k) = &p.preshared_key {
            t.put(&format!(
                "  {BOLD}preshared key{RESET}: {}\n",
                secret(k, style)
            ));
        }
        if p.endpoint.is_some() {
            t.put(&format!(
                "  {BOLD}endpoint{RESET}: {}\n",
                endpoint_or_none(p)
            ));
        }
        t.put(&format!("  {BOLD}allowed ips{RESET}: "));
        if p.allowed_ips.is_empty() {
            t.put("(none)\n");
        }
        for (j, prefix) in p.allowed_ips.iter().enumerate() {
            let (addr, cidr) = prefix_text(prefix);
            let sep = if j + 1 < p.allowed_ips.len() {
                ", "
            } else {
                "\n"
            };
            t.put(&format!("{addr}{FG_CYAN}/{RESET}{cidr}{sep}"));
        }
        // Only the seconds decide whether the line appears.
        if p.last_handshake.0 != 0 {
            let when = ago(p.last_handshake.0 as i64, now);
            t.put(&format!("  {BOLD}latest handshake{RESET}: {when}\n"));
        }
        if p.rx_bytes != 0 || p.tx_bytes != 0 {
            t.put(&format!("  {BOLD}transfer{RESET}: "));
            t.put(&format!("{} received, ", bytes(p.rx_bytes)));
            t.put(&format!("{} sent\n", bytes(p.tx_bytes)));
        }
        if p.persistent_keepalive != 0 {
            t.put(&format!(
                "  {BOLD}persistent keepalive{RESET}: {}\n",
                every(p.persistent_keepalive)
            ));
        }
        if i + 1 < peers.len() {
            t.put("\n");
        }
    }
    t.into_string()
}

fn allowed_ips_joined(p: &PeerInfo, sep: char, end: char) -> String {
    let mut out = String::new();
    if p.allowed_ips.is_empty() {
        out.push_str("(none)");
        out.push(end);
        return out;
    }
    for (j, prefix) in p.allowed_ips.iter().enumerate() {
        let (addr, cidr) = prefix_text(prefix);
        let c = if j + 1 < p.allowed_ips.len() {
            sep
        } else {
            end
        };
        let _ = write!(out, "{addr}/{cidr}{c}");
    }
    out
}

/// `wg show <iface> dump`: one line for the interface, one per peer, in
/// the device's order.
pub fn dump(name: &str, dev: &DeviceInfo, with_interface: bool) -> String {
    let name = display_name(name);
    let prefix = if with_interface {
        format!("{name}\t")
    } else {
        String::new()
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{prefix}{}\t{}\t{}\t{}",
        key_or_none(dev.private_key.as_ref()),
        key_or_none(dev.public_key.as_ref()),
        dev.listen_port,
        fwmark_text(dev.user_cookie)
    );
    for p in &dev.peers {
        let keepalive = match p.persistent_keepalive {
            0 => "off".to_string(),
            n => n.to_string(),
        };
        let _ = writeln!(
            out,
            "{prefix}{}\t{}\t{}\t{}{}\t{}\t{}\t{keepalive}",
            key_base64(&p.public_key),
            key_or_none(p.preshared_key.as_ref()),
            endpoint_or_none(p),
            allowed_ips_joined(p, ',', '\t'),
            p.last_handshake.0,
            p.rx_bytes,
            p.tx_bytes,
        );
    }
    out
}

/// `wg show <iface> <field>`; with_interface prefixes the interface name
/// and a tab, as `wg show all <field>` does.
pub fn field(name: &str, dev: &DeviceInfo, field: Field, with_interface: bool) -> String {
    let name = display_name(name);
    let prefix = if with_interface {
        format!("{name}\t")
    } else {
        String::new()
    };
    let mut out = String::new();
    match field {
        Field::PublicKey => {
            let _ = writeln!(out, "{prefix}{}", key_or_none(dev.public_key.as_ref()));
        }
        Field::PrivateKey => {
            let _ = writeln!(out, "{prefix}{}", key_or_none(dev.private_key.as_ref()));
        }
        Field::ListenPort => {
            let _ = writeln!(out, "{prefix}{}", dev.listen_port);
        }
        Field::Fwmark => {
            let _ = writeln!(out, "{prefix}{}", fwmark_text(dev.user_cookie));
        }
        Field::Endpoints => {
            // wg(8) writes the interface name once, before the first peer
            // (and even when there is none); scripts may rely on it.
            out.push_str(&prefix);
            for p in &dev.peers {
                let _ = writeln!(
                    out,
                    "{}\t{}",
                    key_base64(&p.public_key),
                    endpoint_or_none(p)
                );
            }
        }
        Field::AllowedIps => {
            for p in &dev.peers {
                let _ = write!(
                    out,
                    "{prefix}{}\t{}",
                    key_base64(&p.public_key),
                    allowed_ips_joined(p, ' ', '\n')
                );
            }
        }
        Field::LatestHandshakes => {
            for p in &dev.peers {
                let _ = writeln!(
                    out,
                    "{prefix}{}\t{}",
                    key_base64(&p.public_key),
                    p.last_handshake.0
                );
            }
        }
        Field::Transfer => {
            for p in &dev.peers {
                let _ = writeln!(
                    out,
                    "{prefix}{}\t{}\t{}",
                    key_base64(&p.public_key),
                    p.rx_bytes,
                    p.tx_bytes
                );
            }
        }
        Field::PersistentKeepalive => {
            for p in &dev.peers {
                let k = key_base64(&p.public_key);
                match p.persistent_keepalive {
                    0 => {
                        let _ = writeln!(out, "{prefix}{k}\toff");
                    }
                    n => {
                        let _ = writeln!(out, "{prefix}{k}\t{n}");
                    }
                }
            }
        }
        Field::PresharedKeys => {
            for p in &dev.peers {
                let _ = writeln!(
                    out,
                    "{prefix}{}\t{}",
                    key_base64(&p.public_key),
                    key_or_none(p.preshared_key.as_ref())
                );
            }
        }
        Field::Peers => {
            for p in &dev.peers {
                let _ = writeln!(out, "{prefix}{}", key_base64(&p.public_key));
            }
        }
        Field::Dump => return dump(name, dev, with_interface),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use wg_core::allowedips::IpPrefix;
    use wg_core::endpoint::Endpoint;

    const NOW: i64 = 1_700_000_000;

    fn key(b: u8) -> [u8; 32] {
        [b; 32]
    }

    fn b64(b: u8) -> String {
        key_base64(&key(b))
    }

    fn peer(b: u8, handshake: (u64, u32)) -> PeerInfo {
        PeerInfo {
            public_key: key(b),
            preshared_key: None,
            endpoint: None,
            last_handshake: handshake,
            rx_bytes: 0,
            tx_bytes: 0,
            persistent_keepalive: 0,
            allowed_ips: Vec::new(),
        }
    }

    fn v6(s: &str) -> [u8; 16] {
        s.parse::<std::net::Ipv6Addr>()
            .map(|a| a.octets())
            .unwrap_or([0; 16])
    }

    /// Peer 1: all fields; peer 2: never shook hands, nothing set; peer 3:
    /// IPv6 endpoint, handshake 3 hours ago.
    fn device() -> DeviceInfo {
        let mut p1 = peer(1, ((NOW - 65) as u64, 5));
        p1.preshared_key = Some(key(9));
        p1.endpoint = Some(Endpoint::V4 {
            addr: [192, 0, 2, 7],
            port: 51820,
        });
        p1.rx_bytes = 1536;
        p1.tx_bytes = 3 * 1024 * 1024;
        p1.persistent_keepalive = 25;
        p1.allowed_ips = vec![
            IpPrefix::V4([10, 0, 0, 0], 24),
            IpPrefix::V6(v6("fd00::"), 64),
        ];
        let p2 = peer(2, (0, 0));
        let mut p3 = peer(3, ((NOW - 3 * 3600) as u64, 0));
        p3.endpoint = Some(Endpoint::V6 {
            addr: v6("2001:db8::1"),
            port: 443,
            flowinfo: 0,
            scope_id: 0,
        });
        p3.allowed_ips = vec![IpPrefix::V4([10, 0, 1, 1], 32)];
        p3.rx_bytes = 1000;
        DeviceInfo {
            private_key: Some(key(7)),
            public_key: Some(key(8)),
            listen_port: 51820,
            user_cookie: 0x1234,
            peers: vec![p2, p3, p1],
        }
    }

    fn empty_device() -> DeviceInfo {
        DeviceInfo {
            private_key: None,
            public_key: None,
            listen_port: 0,
            user_cookie: 0,
            peers: Vec::new(),
        }
    }

    const PLAIN: Style = Style {
        color: false,
        show_keys: false,
    };

    #[test]
    fn field_words() {
        assert_eq!(Field::parse("dump"), Some(Field::Dump));
        assert_eq!(
            Field::parse("persistent-keepalive"),
            Some(Field::PersistentKeepalive)
        );
        assert_eq!(
            Field::parse("latest-handshakes"),
            Some(Field::LatestHandshakes)
        );
        assert_eq!(Field::parse("Dump"), None);
        assert_eq!(Field::parse("jc"), None);
    }

    #[test]
    fn time_at_every_unit() {
        let plain = |s: u64| crate::terminal::strip_ansi(&pretty_time(s));
        assert_eq!(plain(0), "");
        assert_eq!(plain(1), "1 second");
        assert_eq!(plain(59), "59 seconds");
        assert_eq!(plain(60), "1 minute");
        assert_eq!(plain(65), "1 minute, 5 seconds");
        assert_eq!(plain(3599), "59 minutes, 59 seconds");
        assert_eq!(plain(3600), "1 hour");
        assert_eq!(plain(7261), "2 hours, 1 minute, 1 second");
        assert_eq!(plain(86_400), "1 day");
        assert_eq!(plain(86_400 * 364 + 1), "364 days, 1 second");
        assert_eq!(plain(365 * 86_400), "1 year");
        assert_eq!(
            plain(2 * 365 * 86_400 + 86_400 + 3600 + 60 + 1),
            "2 years, 1 day, 1 hour, 1 minute, 1 second"
        );
        assert_eq!(
            pretty_time(65),
            "1 \x1b[36mminute\x1b[0m, 5 \x1b[36mseconds\x1b[0m"
        );
    }

    #[test]
    fn handshake_age() {
        assert_eq!(ago(NOW, NOW), "Now");
        assert_eq!(
            ago(NOW - 65, NOW),
            "1 \x1b[36mminute\x1b[0m, 5 \x1b[36mseconds\x1b[0m ago"
        );
        assert_eq!(
            ago(NOW + 1, NOW),
            "(\x1b[31mSystem clock wound backward; connection problems may ensue.\x1b[0m)"
        );
        assert_eq!(every(25), "every 25 \x1b[36mseconds\x1b[0m");
        assert_eq!(
            crate::terminal::strip_ansi(&every(65535)),
            "every 18 hours, 12 minutes, 15 seconds"
        );
    }

    #[test]
    fn sizes_at_every_threshold() {
        let plain = |b: u64| crate::terminal::strip_ansi(&bytes(b));
        assert_eq!(plain(0), "0 B");
        assert_eq!(plain(1023), "1023 B");
        assert_eq!(plain(1024), "1.00 KiB");
        assert_eq!(plain(1536), "1.50 KiB");
        // 1.125 and 1.375 are exact ties: to even, as printf does.
        assert_eq!(plain(1152), "1.12 KiB");
        assert_eq!(plain(1408), "1.38 KiB");
        assert_eq!(plain(1024 * 1024 - 1), "1024.00 KiB");
        assert_eq!(plain(1024 * 1024), "1.00 MiB");
        assert_eq!(plain(4_781_506), "4.56 MiB");
        assert_eq!(plain((1 << 30) - 1), "1024.00 MiB");
        assert_eq!(plain(1 << 30), "1.00 GiB");
        assert_eq!(plain((1 << 40) - 1), "1024.00 GiB");
        assert_eq!(plain(1 << 40), "1.00 TiB");
        assert_eq!(plain(5 * (1 << 40) + (1 << 38)), "5.25 TiB");
        assert_eq!(plain(u64::MAX), "16777216.00 TiB");
        assert_eq!(bytes(5), "5 \x1b[36mB\x1b[0m");
    }

    #[test]
    fn sort_by_latest_handshake() {
        let mut dev = device();
        dev.peers.push(peer(4, (0, 0)));
        dev.peers.push(peer(5, ((NOW - 65) as u64, 9)));
        dev.peers.push(peer(6, (0, 1)));
        let order: Vec<u8> = sorted_peers(&dev).iter().map(|p| p.public_key[0]).collect();
        // Newest first (nanoseconds break the tie), "never" peers last in
        // their original order; a handshake with only nanoseconds counts.
        assert_eq!(order, vec![5, 1, 3, 6, 2, 4]);
    }

    #[test]
    fn pretty_plain_hidden() {
        let expected = format!(
            "interface: wg0\n  public key: {pk}\n  private key: (hidden)\n  listening port: 51820\n  fwmark: 0x1234\n\n\
             peer: {p1}\n  preshared key: (hidden)\n  endpoint: 192.0.2.7:51820\n  allowed ips: 10.0.0.0/24, fd00::/64\n  \
             latest handshake: 1 minute, 5 seconds ago\n  transfer: 1.50 KiB received, 3.00 MiB sent\n  persistent keepalive: every 25 seconds\n\n\
             peer: {p3}\n  endpoint: [2001:db8::1]:443\n  allowed ips: 10.0.1.1/32\n  latest handshake: 3 hours ago\n  transfer: 1000 B received, 0 B sent\n\n\
             peer: {p2}\n  allowed ips: (none)\n",
            pk = b64(8),
            p1 = b64(1),
            p2 = b64(2),
            p3 = b64(3)
        );
        assert_eq!(pretty("wg0", &device(), NOW, &PLAIN), expected);
    }

    #[test]
    fn pretty_shows_keys_when_asked() {
        let style = Style {
            color: false,
            show_keys: true,
        };
        let out = pretty("wg0", &device(), NOW, &style);
        assert!(out.contains(&format!("  private key: {}\n", b64(7))));
        assert!(out.contains(&format!("  preshared key: {}\n", b64(9))));
        assert!(!out.contains("(hidden)"));
    }

    #[test]
    fn pretty_in_colour() {
        let style = Style {
            color: true,
            show_keys: false,
        };
        let mut dev = empty_device();
        dev.listen_port = 1;
        let mut p = peer(1, (NOW as u64, 0));
        p.allowed_ips = vec![IpPrefix::V4([10, 0, 0, 1], 32)];
        dev.peers.push(p);
        let expected = format!(
            "\x1b[0m\x1b[32m\x1b[1minterface\x1b[0m: \x1b[32mwg0\x1b[0m\n  \x1b[1mlistening port\x1b[0m: 1\n\n\
             \x1b[33m\x1b[1mpeer\x1b[0m: \x1b[33m{}\x1b[0m\n  \x1b[1mallowed ips\x1b[0m: 10.0.0.1\x1b[36m/\x1b[0m32\n  \
             \x1b[1mlatest handshake\x1b[0m: Now\n",
            b64(1)
        );
        assert_eq!(pretty("wg0", &dev, NOW, &style), expected);
    }

    #[test]
    fn pretty_bare_interface() {
        assert_eq!(
            pretty("wg0", &empty_device(), NOW, &PLAIN),
            "interface: wg0\n"
        );
        assert_eq!(
            pretty("a-very-long-interface-name", &empty_device(), NOW, &PLAIN),
            "interface: a-very-long-int\n"
        );
    }

    #[test]
    fn pretty_clock_backward_and_nanosecond_only_handshake() {
        let mut dev = empty_device();
        dev.peers.push(peer(1, ((NOW + 10) as u64, 0)));
        dev.peers.push(peer(2, (0, 5)));
        let out = pretty("wg0", &dev, NOW, &PLAIN);
        let expected = format!(
            "interface: wg0\n\npeer: {}\n  allowed ips: (none)\n  latest handshake: (System clock wound backward; connection problems may ensue.)\n\n\
             peer: {}\n  allowed ips: (none)\n",
            b64(1),
            b64(2)
        );
        assert_eq!(out, expected);
    }

    #[test]
    fn dump_lines() {
        let expected = format!(
            "{sk}\t{pk}\t51820\t0x1234\n\
             {p2}\t(none)\t(none)\t(none)\t0\t0\t0\toff\n\
             {p3}\t(none)\t[2001:db8::1]:443\t10.0.1.1/32\t{h3}\t1000\t0\toff\n\
             {p1}\t{psk}\t192.0.2.7:51820\t10.0.0.0/24,fd00::/64\t{h1}\t1536\t3145728\t25\n",
            sk = b64(7),
            pk = b64(8),
            p1 = b64(1),
            p2 = b64(2),
            p3 = b64(3),
            psk = b64(9),
            h1 = NOW - 65,
            h3 = NOW - 3 * 3600
        );
        assert_eq!(dump("wg0", &device(), false), expected);
        let with: String = expected.lines().map(|l| format!("wg0\t{l}\n")).collect();
        assert_eq!(dump("wg0", &device(), true), with);
        assert_eq!(field("wg0", &device(), Field::Dump, true), with);
        assert_eq!(
            dump("wg0", &empty_device(), false),
            "(none)\t(none)\t0\toff\n"
        );
    }

    #[test]
    fn single_fields() {
        let dev = device();
        let f = |which| field("wg0", &dev, which, false);
        assert_eq!(f(Field::PublicKey), format!("{}\n", b64(8)));
        assert_eq!(f(Field::PrivateKey), format!("{}\n", b64(7)));
        assert_eq!(f(Field::ListenPort), "51820\n");
        assert_eq!(f(Field::Fwmark), "0x1234\n");
        assert_eq!(
            f(Field::Peers),
            format!("{}\n{}\n{}\n", b64(2), b64(3), b64(1))
        );
        assert_eq!(
            f(Field::PresharedKeys),
            format!(
                "{}\t(none)\n{}\t(none)\n{}\t{}\n",
                b64(2),
                b64(3),
                b64(1),
                b64(9)
            )
        );
        assert_eq!(
            f(Field::Endpoints),
            format!(
                "{}\t(none)\n{}\t[2001:db8::1]:443\n{}\t192.0.2.7:51820\n",
                b64(2),
                b64(3),
                b64(1)
            )
        );
        assert_eq!(
            f(Field::AllowedIps),
            format!(
                "{}\t(none)\n{}\t10.0.1.1/32\n{}\t10.0.0.0/24 fd00::/64\n",
                b64(2),
                b64(3),
                b64(1)
            )
        );
        assert_eq!(
            f(Field::LatestHandshakes),
            format!(
                "{}\t0\n{}\t{}\n{}\t{}\n",
                b64(2),
                b64(3),
                NOW - 3 * 3600,
                b64(1),
                NOW - 65
            )
        );
        assert_eq!(
            f(Field::Transfer),
            format!(
                "{}\t0\t0\n{}\t1000\t0\n{}\t1536\t3145728\n",
                b64(2),
                b64(3),
                b64(1)
            )
        );
        assert_eq!(
            f(Field::PersistentKeepalive),
            format!("{}\toff\n{}\toff\n{}\t25\n", b64(2), b64(3), b64(1))
        );
    }

    #[test]
    fn fields_with_interface_prefix() {
        let dev = device();
        assert_eq!(field("wg0", &dev, Field::ListenPort, true), "wg0\t51820\n");
        assert_eq!(
            field("wg0", &dev, Field::Peers, true),
            format!("wg0\t{}\nwg0\t{}\nwg0\t{}\n", b64(2), b64(3), b64(1))
        );
        // Endpoints carry the name once only, even with no peers at all.
        assert_eq!(
            field("wg0", &dev, Field::Endpoints, true),
            format!(
                "wg0\t{}\t(none)\n{}\t[2001:db8::1]:443\n{}\t192.0.2.7:51820\n",
                b64(2),
                b64(3),
                b64(1)
            )
        );
        let empty = empty_device();
        assert_eq!(field("wg0", &empty, Field::Endpoints, true), "wg0\t");
        assert_eq!(field("wg0", &empty, Field::Peers, true), "");
        assert_eq!(
            field("wg0", &empty, Field::PublicKey, true),
            "wg0\t(none)\n"
        );
        assert_eq!(field("wg0", &empty, Field::Fwmark, false), "off\n");
    }
}
