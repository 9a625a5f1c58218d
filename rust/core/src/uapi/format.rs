//! Writing UAPI text: `get` answers, errno lines and `set` requests.

use super::*;

fn write_key(out: &mut String, name: &str, k: &Key) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(name.len() + 66);
    out.push_str(name);
    out.push('=');
    for b in k {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out.push('\n');
}

/// Go's `netip.Addr.String` for IPv6: lowercase groups without leading
/// zeros; the first longest run of two or more zero groups becomes "::";
/// IPv4-mapped addresses end in dotted decimal.
pub(super) fn write_ipv6(out: &mut String, a: &[u8; 16]) {
    let mut g = [0u16; 8];
    for (d, b) in g.iter_mut().zip(a.chunks_exact(2)) {
        *d = b.iter().fold(0u16, |acc, &x| (acc << 8) | u16::from(x));
    }
    if let [0, 0, 0, 0, 0, 0xffff, hi, lo] = g {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        let _ = write!(out, "::ffff:{a}.{b}.{c}.{d}");
        return;
    }
    // The longest run of zeros, the first of equals; runs of one stay.
    let (mut best_start, mut best_len) = (8usize, 0usize);
    let mut i = 0;
    while i < 8 {
        let run = g.iter().skip(i).take_while(|&&x| x == 0).count();
        if run >= 2 && run > best_len {
            best_start = i;
            best_len = run;
        }
        i += run.max(1);
    }
    let mut i = 0;
    while i < 8 {
        if i == best_start {
            out.push_str("::");
            i += best_len;
            continue;
        }
        if i > 0 && i != best_start + best_len {
            out.push(':');
        }
        let _ = write!(out, "{:x}", g.get(i).copied().unwrap_or(0));
        i += 1;
    }
}

fn write_ipv4(out: &mut String, [a, b, c, d]: &[u8; 4]) {
    let _ = write!(out, "{a}.{b}.{c}.{d}");
}

/// `netip.AddrPort.String`: "[v6%zone]:port" with the zone only when there
/// is a scope id.
pub(super) fn write_endpoint(out: &mut String, e: &Endpoint) {
    match e {
        Endpoint::V4 { addr, port } => {
            write_ipv4(out, addr);
            let _ = write!(out, ":{port}");
        }
        Endpoint::V6 {
            addr,
            port,
            scope_id,
            ..
        } => {
            out.push('[');
            write_ipv6(out, addr);
            if *scope_id != 0 {
                let _ = write!(out, "%{scope_id}");
            }
            let _ = write!(out, "]:{port}");
        }
    }
}

pub(super) fn write_prefix(out: &mut String, p: &IpPrefix) {
    match p {
        IpPrefix::V4(a, c) => {
            write_ipv4(out, a);
            let _ = write!(out, "/{c}");
        }
        IpPrefix::V6(a, c) => {
            write_ipv6(out, a);
            let _ = write!(out, "/{c}");
        }
    }
}

fn write_peer_info(out: &mut String, p: &PeerInfo) {
    write_key(out, "public_key", &p.public_key);
    // wireguard-go always writes the key, zeros when there is none; wg(8)
    // reads a zero key as none.
    write_key(
        out,
        "preshared_key",
        p.preshared_key.as_ref().unwrap_or(&ZERO_KEY),
    );
    out.push_str("protocol_version=1\n");
    if let Some(e) = &p.endpoint {
        out.push_str("endpoint=");
        write_endpoint(out, e);
        out.push('\n');
    }
    // wireguard-go derives both from one nanosecond count, so the
    // nanoseconds are always below a second; normalise a sloppy caller's.
    let (sec, nsec) = p.last_handshake;
    let sec = sec.saturating_add(u64::from(nsec / 1_000_000_000));
    let nsec = nsec % 1_000_000_000;
    let _ = write!(
        out,
        "last_handshake_time_sec={sec}\nlast_handshake_time_nsec={nsec}\n\
         tx_bytes={}\nrx_bytes={}\npersistent_keepalive_interval={}\n",
        p.tx_bytes, p.rx_bytes, p.persistent_keepalive
    );
    for a in &p.allowed_ips {
        out.push_str("allowed_ip=");
        write_prefix(out, a);
        out.push('\n');
    }
}

/// Writes a `get=1` answer's key=value lines for `info` in wireguard-go's
/// order (`IpcGetOperation`), without the "errno=0\n\n" the caller adds.
/// wireguard-go writes no device public key (wg(8) derives it from the
/// private key), so `info.public_key` is not used. The text holds the
/// keys: wipe it once sent.
pub fn format_get(info: &DeviceInfo, out: &mut String) {
    // wireguard-go hides a zero private key, as if none were set.
    if let Some(k) = info.private_key.as_ref().filter(|k| **k != ZERO_KEY) {
        write_key(out, "private_key", k);
    }
    if info.listen_port != 0 {
        let _ = writeln!(out, "listen_port={}", info.listen_port);
    }
    if info.user_cookie != 0 {
        let _ = writeln!(out, "fwmark={}", info.user_cookie);
    }
    for p in &info.peers {
        write_peer_info(out, p);
    }
}

/// "errno=N\n\n", the status line that ends every answer.
pub fn format_errno(errno: i64, out: &mut String) {
    let _ = write!(out, "errno={errno}\n\n");
}

/// Writes the body of a `set=1` request for `update` (without "set=1\n"
/// and the blank line) in wg(8)'s order (`userspace_set_device()`), plus
/// what wg(8) never sends but wireguard-go reads: `update_only`, removal
/// of the private or preshared key as a zero key, and `allowed_ip=-`.
/// Like wg(8), nothing but the key follows `remove=true`: wireguard-go
/// would ignore it. Every update [`parse_set`] returns formats back to
/// text it parses to the same update, except a removed peer's other
/// fields.
pub fn format_set(update: &DeviceUpdate, out: &mut String) {
    if let Some(k) = &update.private_key {
        write_key(out, "private_key", k.as_ref().unwrap_or(&ZERO_KEY));
    }
    if let Some(port) = update.listen_port {
        let _ = writeln!(out, "listen_port={port}");
    }
    if let Some(mark) = update.user_cookie {
        let _ = writeln!(out, "fwmark={mark}");
    }
    if update.replace_peers {
        out.push_str("replace_peers=true\n");
    }
    for p in &update.peers {
        write_key(out, "public_key", &p.public_key);
        if p.update_only {
            out.push_str("update_only=true\n");
        }
        if p.remove {
            out.push_str("remove=true\n");
            continue;
        }
        if let Some(k) = &p.preshared_key {
            write_key(out, "preshared_key", k.as_ref().unwrap_or(&ZERO_KEY));
        }
        if let Some(e) = &p.endpoint {
            out.push_str("endpoint=");
            write_endpoint(out, e);
            out.push('\n');
        }
        if let Some(ka) = p.persistent_keepalive {
            let _ = writeln!(out, "persistent_keepalive_interval={ka}");
        }
        if p.replace_allowed_ips {
            out.push_str("replace_allowed_ips=true\n");
        }
        for a in &p.allowed_ips {
            out.push_str(if a.remove {
                "allowed_ip=-"
            } else {
                "allowed_ip="
            });
            write_prefix(out, &a.prefix);
            out.push('\n');
        }
    }
}

/// The request as a whole, framed: "set=1\n", the body, the blank line.
/// A convenience for clients and tests.
pub fn format_set_request(update: &DeviceUpdate) -> String {
    let mut s = String::from("set=1\n");
    format_set(update, &mut s);
    s.push('\n');
    s
}
