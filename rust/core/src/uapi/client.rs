//! The client side: parsing a daemon's answer to `get=1`.

use super::*;

/// Reads a daemon's answer to "get=1" as wg(8)'s `userspace_get_device()`
/// reads it, for tools: the key=value lines up to the blank line that ends
/// the answer, whose "errno=N" line says whether it succeeded. See
/// [`parse_get_with`]; IPv6 endpoint zones must be numeric here.
pub fn parse_get(response: &[u8]) -> core::result::Result<DeviceInfo, UapiError> {
    parse_get_with(response, &|_| None)
}

/// [`parse_get`], with `zone_index` to turn an IPv6 endpoint's zone name
/// (wireguard-go prints the zone as it was set, usually an interface name)
/// into a scope id; numeric zones need no help.
///
/// What wg(8) accepts, we accept:
/// - device keys (`private_key`, `listen_port`, `fwmark`) count only
///   before the first `public_key`, peer keys only after it, `errno`
///   anywhere; unknown or misplaced keys are skipped, so newer daemons
///   may add keys;
/// - a line without '=' or without its '\n', a known key with a value
///   wg(8) would refuse, or no blank line or no "errno=" before the end is
///   a protocol error (`-EPROTO`);
/// - "errno=N" other than 0 is the error `-N`. wg(8) takes only digits
///   there; wireguard-go writes a failed get as "errno=-N", so a sign is
///   allowed too rather than hiding its errno behind EPROTO.
///
/// An all-zero key means none (wireguard-go writes zeros for a peer
/// without a preshared key). UAPI has no device public key, so it is
/// derived from the private key, as wg(8) does. Anything after the blank
/// line is not read.
pub fn parse_get_with(
    response: &[u8],
    zone_index: &dyn Fn(&str) -> Option<u32>,
) -> core::result::Result<DeviceInfo, UapiError> {
    let mut info = DeviceInfo {
        private_key: None,
        public_key: None,
        listen_port: 0,
        user_cookie: 0,
        peers: alloc::vec::Vec::new(),
    };
    let mut status = None;
    let mut rest = response;
    loop {
        // A last line without its '\n' is wg(8)'s protocol error too.
        let nl = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(UapiError::PROTOCOL)?;
        let (line, tail) = rest.split_at(nl);
        rest = tail.get(1..).unwrap_or_default();
        if line.is_empty() {
            break;
        }
        // wg(8) reads lines as C strings: a NUL cuts off the '\n'.
        if line.contains(&0) {
            return Err(UapiError::PROTOCOL);
        }
        let eq = line
            .iter()
            .position(|&b| b == b'=')
            .ok_or(UapiError::PROTOCOL)?;
        let (key, value) = line.split_at(eq);
        let value = value.get(1..).unwrap_or_default();
        get_line(&mut info, &mut status, key, value, zone_index).map_err(|e| {
            if e == UapiError::NO_MEMORY {
                e
            } else {
                UapiError::PROTOCOL
            }
        })?;
    }
    match status {
        Some(0) => {
            info.public_key = info.private_key.as_ref().map(crate::crypto::public_key);
            Ok(info)
        }
        Some(n) => Err(UapiError { errno: -n }),
        None => Err(UapiError::PROTOCOL),
    }
}

/// One line of a get answer; any error but NO_MEMORY becomes EPROTO.
fn get_line(
    info: &mut DeviceInfo,
    status: &mut Option<i64>,
    key: &[u8],
    value: &[u8],
    zone_index: &dyn Fn(&str) -> Option<u32>,
) -> Result<()> {
    // Only the values of known keys need be text.
    let text = || core::str::from_utf8(value).map_err(|_| UapiError::PROTOCOL);
    if key == b"errno" {
        let t = text()?;
        let digits = t.strip_prefix('-').unwrap_or(t);
        *status = Some(
            i64::try_from(parse_uint(digits, i32::MAX as u64)?).map_err(|_| UapiError::PROTOCOL)?,
        );
        return Ok(());
    }
    if key == b"public_key" {
        let public_key = parse_hex_key(text()?)?;
        info.peers
            .try_reserve(1)
            .map_err(|_| UapiError::NO_MEMORY)?;
        info.peers.push(PeerInfo {
            public_key,
            preshared_key: None,
            endpoint: None,
            last_handshake: (0, 0),
            rx_bytes: 0,
            tx_bytes: 0,
            persistent_keepalive: 0,
            allowed_ips: alloc::vec::Vec::new(),
        });
        return Ok(());
    }
    let Some(p) = info.peers.last_mut() else {
        match key {
            b"private_key" => {
                let slot = info.private_key.insert(ZERO_KEY);
                decode_hex_key(text()?, slot)?;
                if *slot == ZERO_KEY {
                    info.private_key = None;
                }
            }
            b"listen_port" => info.listen_port = parse_u16(text()?)?,
            b"fwmark" => info.user_cookie = parse_u32(text()?)?,
            _ => {}
        }
        return Ok(());
    };
    match key {
        b"preshared_key" => {
            let slot = p.preshared_key.insert(ZERO_KEY);
            decode_hex_key(text()?, slot)?;
            if *slot == ZERO_KEY {
                p.preshared_key = None;
            }
        }
        b"endpoint" => p.endpoint = Some(parse_get_endpoint(text()?, zone_index)?),
        b"persistent_keepalive_interval" => p.persistent_keepalive = parse_u16(text()?)?,
        b"allowed_ip" => {
            let prefix = parse_get_prefix(text()?)?;
            p.allowed_ips
                .try_reserve(1)
                .map_err(|_| UapiError::NO_MEMORY)?;
            p.allowed_ips.push(prefix);
        }
        b"last_handshake_time_sec" => {
            let sec = parse_uint(text()?, i64::MAX as u64)?;
            p.last_handshake.0 = sec;
        }
        b"last_handshake_time_nsec" => {
            // The model keeps nanoseconds below a second; wg(8) takes up
            // to INT64_MAX, so carry the excess into the seconds.
            let nsec = parse_uint(text()?, i64::MAX as u64)?;
            let (sec, _) = p.last_handshake;
            let carry = nsec / 1_000_000_000;
            let nsec = u32::try_from(nsec % 1_000_000_000).map_err(|_| UapiError::PROTOCOL)?;
            p.last_handshake = (sec.saturating_add(carry), nsec);
        }
        b"rx_bytes" => p.rx_bytes = parse_uint(text()?, u64::MAX)?,
        b"tx_bytes" => p.tx_bytes = parse_uint(text()?, u64::MAX)?,
        _ => {}
    }
    Ok(())
}

/// An endpoint as wg(8) hands it to getaddrinfo(): "[host]:port" or
/// "host:port" split at the last ':', the host here numeric only, the
/// port digits. Port 0 is allowed: wireguard-go keeps and shows it.
fn parse_get_endpoint(s: &str, zone_index: &dyn Fn(&str) -> Option<u32>) -> Result<Endpoint> {
    let (host, port) = match s.strip_prefix('[') {
        Some(r) => {
            let (h, after) = r.split_once(']').ok_or(UapiError::PROTOCOL)?;
            (h, after.strip_prefix(':').ok_or(UapiError::PROTOCOL)?)
        }
        None => s.rsplit_once(':').ok_or(UapiError::PROTOCOL)?,
    };
    let port = parse_u16(port)?;
    match parse_addr(host)? {
        Addr::V4(addr) => Ok(Endpoint::V4 { addr, port }),
        Addr::V6(addr, zone) => {
            let scope_id = match zone {
                None => 0,
                Some(z) => match parse_u32(z) {
                    Ok(n) => n,
                    Err(_) => zone_index(z).ok_or(UapiError::PROTOCOL)?,
                },
            };
            Ok(Endpoint::V6 {
                addr,
                port,
                flowinfo: 0,
                scope_id,
            })
        }
    }
}

/// "address/cidr" as wg(8) reads it: split at the first '/', the family
/// decided by a ':' in the address, which takes no zone; the length is
/// decimal (leading zeros allowed) and at most 32 or 128.
fn parse_get_prefix(s: &str) -> Result<IpPrefix> {
    let (addr, bits) = s.split_once('/').ok_or(UapiError::PROTOCOL)?;
    let cidr = u8::try_from(parse_uint(bits, 128)?).map_err(|_| UapiError::PROTOCOL)?;
    let p = if addr.contains(':') {
        match parse_ipv6(addr)? {
            (a, None) => IpPrefix::new_v6(a, cidr),
            (_, Some(_)) => return Err(UapiError::PROTOCOL),
        }
    } else {
        IpPrefix::new_v4(parse_ipv4(addr)?, cidr)
    };
    p.map_err(|_| UapiError::PROTOCOL)
}
