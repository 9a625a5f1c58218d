//! FreeBSD if_wg's configuration ioctls over the typed model of
//! [`crate::config`]: the nvlists of `SIOCSWG` (set) and `SIOCGWG` (get),
//! with the keys, types and order of FreeBSD's `sys/dev/wg/if_wg.c` and of
//! wireguard-tools' `ipc-freebsd.h`.
//!
//! The kernel side is [`decode_set`] and [`encode_get`]; the tool side is
//! [`encode_set`] and [`decode_get`].
//!
//! Where we differ from FreeBSD, and why:
//! - A known key of the wrong type is `Error::Invalid`; FreeBSD's typed
//!   lookups silently skip it, turning a malformed request into a partial one.
//! - Endpoints are checked: a `sockaddr_in` of 16 bytes with family AF_INET
//!   or a `sockaddr_in6` of 28 bytes with AF_INET6, `sa_len` equal to the
//!   length. FreeBSD copies any blob of up to 28 bytes.
//! - An allowed-IP `flags` number with a bit other than "remove" set is
//!   `Error::Invalid`, as on Linux: an unknown operation must not become an
//!   add.
//! - A known key given twice in one list (possible only in lists flagged
//!   `NV_FLAG_NO_UNIQUE`) is `Error::Invalid`; FreeBSD takes the first.
//! - An all-zero preshared key decodes as "clear" (`Some(None)`): it is how
//!   wg(8) clears one and what a zero key means to the handshake anyway.
//! - The whole request is decoded and checked before anything is applied;
//!   FreeBSD applies keys as it goes and keeps them on a later error.

use alloc::vec::Vec;

use crate::allowedips::IpPrefix;
use crate::config::{AllowedIpChange, DeviceInfo, DeviceUpdate, Key, Limits, PeerInfo, PeerUpdate};
use crate::endpoint::Endpoint;
use crate::nvlist::{self, try_push, Nvlist, UnpackLimits, Value};
use crate::{Error, Result};

/// FreeBSD's address family numbers.
const AF_INET: u8 = 2;
const AF_INET6: u8 = 28;
/// `sizeof(struct sockaddr_in)` and `sizeof(struct sockaddr_in6)` on FreeBSD.
pub const SOCKADDR_IN_LEN: usize = 16;
pub const SOCKADDR_IN6_LEN: usize = 28;
/// Bit 0 of an allowed IP's `flags` (wireguard-tools'
/// `WGALLOWEDIP_REMOVE_ME`).
const ALLOWEDIP_REMOVE: u64 = 1;
const NSEC_PER_SEC: u64 = 1_000_000_000;

/// What the nvlist decoder may spend on a request that fits `limits`. The
/// per-item byte bounds are generous upper bounds on what wg(8) sends for a
/// peer (two keys, an endpoint, names and headers: under 512 bytes) and for
/// an allowed IP (under 160), so a request at the limits always fits.
pub fn unpack_limits(limits: &Limits) -> UnpackLimits {
    let peers = limits.max_peers;
    let aips = limits.max_allowed_ips_total;
    UnpackLimits {
        max_size: peers
            .saturating_mul(512)
            .saturating_add(aips.saturating_mul(160))
            .saturating_add(4096),
        // Peers are at depth 1 and their allowed IPs at depth 2; the slack
        // leaves room for keys a newer wg(8) might nest.
        max_depth: 4,
        max_pairs: peers
            .saturating_mul(16)
            .saturating_add(aips.saturating_mul(8))
            .saturating_add(64),
        max_array_items: peers.max(limits.max_allowed_ips_per_peer),
    }
}

fn unpack_top(buf: &[u8], limits: &UnpackLimits) -> Result<Nvlist> {
    let nvl = nvlist::unpack(buf, limits)?;
    // Both FreeBSD and wg(8) unpack with flags 0, which libnv requires the
    // top list's flags to equal.
    if nvl.flags != 0 {
        return Err(Error::BadMessage);
    }
    Ok(nvl)
}

/// The index of `name` among `known` under `list`'s case rule, refusing a
/// known key seen before in the same list.
fn known_key(list: &Nvlist, name: &[u8], known: &[&str], seen: &mut u32) -> Result<Option<usize>> {
    let Some(i) = known.iter().position(|k| list.name_is(name, k)) else {
        return Ok(None);
    };
    let bit = 1u32.checked_shl(i as u32).unwrap_or(0);
    if *seen & bit != 0 {
        return Err(Error::Invalid);
    }
    *seen |= bit;
    Ok(Some(i))
}

fn as_bool(v: &Value) -> Result<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        _ => Err(Error::Invalid),
    }
}

fn as_number(v: &Value) -> Result<u64> {
    match v {
        Value::Number(n) => Ok(*n),
        _ => Err(Error::Invalid),
    }
}

fn as_u16(v: &Value) -> Result<u16> {
    u16::try_from(as_number(v)?).map_err(|_| Error::Invalid)
}

fn as_u32(v: &Value) -> Result<u32> {
    u32::try_from(as_number(v)?).map_err(|_| Error::Invalid)
}

fn as_binary(v: &Value) -> Result<&[u8]> {
    match v {
        Value::Binary(b) => Ok(b),
        _ => Err(Error::Invalid),
    }
}

fn as_fixed<const N: usize>(v: &Value) -> Result<[u8; N]> {
    as_binary(v)?.try_into().map_err(|_| Error::Invalid)
}

fn as_lists(v: &Value) -> Result<&[Nvlist]> {
    match v {
        Value::NvlistArray(a) => Ok(a),
        _ => Err(Error::Invalid),
    }
}

/// A zero key means "none" to FreeBSD's handshake and to wg(8).
fn nonzero_key(k: Key) -> Option<Key> {
    (k != [0; 32]).then_some(k)
}

/// The bytes of a FreeBSD `struct sockaddr_in` or `sockaddr_in6` for `e`,
/// and how many of them are used: port and flow label in network order,
/// scope id in host order, `sin_zero` zero.
pub fn encode_sockaddr(e: &Endpoint) -> ([u8; SOCKADDR_IN6_LEN], usize) {
    let mut b = [0u8; SOCKADDR_IN6_LEN];
    match *e {
        Endpoint::V4 { addr, port } => {
            b[0] = SOCKADDR_IN_LEN as u8;
            b[1] = AF_INET;
            b[2..4].copy_from_slice(&port.to_be_bytes());
            b[4..8].copy_from_slice(&addr);
            (b, SOCKADDR_IN_LEN)
        }
        Endpoint::V6 {
            addr,
            port,
            flowinfo,
            scope_id,
        } => {
            b[0] = SOCKADDR_IN6_LEN as u8;
            b[1] = AF_INET6;
            b[2..4].copy_from_slice(&port.to_be_bytes());
            b[4..8].copy_from_slice(&flowinfo.to_be_bytes());
            b[8..24].copy_from_slice(&addr);
            b[24..28].copy_from_slice(&scope_id.to_ne_bytes());
            (b, SOCKADDR_IN6_LEN)
        }
    }
}

/// Parses a FreeBSD `sockaddr_in`/`sockaddr_in6`. `check_sa_len` also
/// demands that the leading length byte match; FreeBSD hands back whatever
/// length byte it was given, so a reader of `SIOCGWG` does not insist.
pub fn decode_sockaddr(b: &[u8], check_sa_len: bool) -> Result<Endpoint> {
    if let Ok(a) = <&[u8; SOCKADDR_IN_LEN]>::try_from(b) {
        if a[1] != AF_INET || (check_sa_len && usize::from(a[0]) != SOCKADDR_IN_LEN) {
            return Err(Error::Invalid);
        }
        return Ok(Endpoint::V4 {
            addr: [a[4], a[5], a[6], a[7]],
            port: u16::from_be_bytes([a[2], a[3]]),
        });
    }
    if let Ok(a) = <&[u8; SOCKADDR_IN6_LEN]>::try_from(b) {
        if a[1] != AF_INET6 || (check_sa_len && usize::from(a[0]) != SOCKADDR_IN6_LEN) {
            return Err(Error::Invalid);
        }
        let mut addr = [0u8; 16];
        addr.copy_from_slice(&a[8..24]);
        return Ok(Endpoint::V6 {
            addr,
            port: u16::from_be_bytes([a[2], a[3]]),
            flowinfo: u32::from_be_bytes([a[4], a[5], a[6], a[7]]),
            scope_id: u32::from_ne_bytes([a[24], a[25], a[26], a[27]]),
        });
    }
    Err(Error::Invalid)
}

fn prefix(cidr: u64, v4: Option<[u8; 4]>, v6: Option<[u8; 16]>) -> Result<Option<IpPrefix>> {
    let cidr = u8::try_from(cidr).map_err(|_| Error::Invalid)?;
    // FreeBSD looks at "ipv4" first and ignores "ipv6" when both are there.
    match (v4, v6) {
        (Some(a), _) => IpPrefix::new_v4(a, cidr).map(Some),
        (None, Some(a)) => IpPrefix::new_v6(a, cidr).map(Some),
        (None, None) => Ok(None),
    }
}

/// One element of `allowed-ips`. Like FreeBSD, an element without `cidr` or
/// without an address is skipped.
fn decode_allowed_ip(e: &Nvlist) -> Result<Option<AllowedIpChange>> {
    const KEYS: [&str; 4] = ["cidr", "ipv4", "ipv6", "flags"];
    let (mut cidr, mut v4, mut v6, mut flags) = (None, None, None, 0u64);
    let mut seen = 0;
    for (name, v) in &e.pairs {
        match known_key(e, name, &KEYS, &mut seen)? {
            Some(0) => cidr = Some(as_number(v)?),
            Some(1) => v4 = Some(as_fixed::<4>(v)?),
            Some(2) => v6 = Some(as_fixed::<16>(v)?),
            Some(3) => flags = as_number(v)?,
            _ => {}
        }
    }
    if flags & !ALLOWEDIP_REMOVE != 0 {
        return Err(Error::Invalid);
    }
    let Some(cidr) = cidr else {
        return Ok(None);
    };
    Ok(prefix(cidr, v4, v6)?.map(|prefix| AllowedIpChange {
        prefix,
        remove: flags & ALLOWEDIP_REMOVE != 0,
    }))
}

fn decode_peer_update(e: &Nvlist, limits: &Limits) -> Result<PeerUpdate> {
    const KEYS: [&str; 7] = [
        "public-key",
        "remove",
        "replace-allowedips",
        "endpoint",
        "preshared-key",
        "persistent-keepalive-interval",
        "allowed-ips",
    ];
    let mut p = PeerUpdate::default();
    let mut seen = 0;
    for (name, v) in &e.pairs {
        match known_key(e, name, &KEYS, &mut seen)? {
            Some(0) => p.public_key = as_fixed(v)?,
            Some(1) => p.remove = as_bool(v)?,
            Some(2) => p.replace_allowed_ips = as_bool(v)?,
            Some(3) => p.endpoint = Some(decode_sockaddr(as_binary(v)?, true)?),
            Some(4) => p.preshared_key = Some(nonzero_key(as_fixed(v)?)),
            Some(5) => p.persistent_keepalive = Some(as_u16(v)?),
            Some(6) => {
                let aips = as_lists(v)?;
                if aips.len() > limits.max_allowed_ips_per_peer {
                    return Err(Error::TooBig);
                }
                p.allowed_ips
                    .try_reserve_exact(aips.len())
                    .map_err(|_| Error::NoMemory)?;
                for a in aips {
                    if let Some(change) = decode_allowed_ip(a)? {
                        p.allowed_ips.push(change);
                    }
                }
            }
            _ => {}
        }
    }
    // FreeBSD's wg_peer_add() refuses a peer without a key (EINVAL).
    if seen & 1 == 0 {
        return Err(Error::Invalid);
    }
    Ok(p)
}

/// Decodes a `SIOCSWG` request as FreeBSD's `wgc_set()` reads it, refusing
/// what FreeBSD would refuse and more (see the module notes), and checks
/// the result against `limits` with [`DeviceUpdate::validate`].
///
/// An all-zero private key removes the key: that is what wg(8) sends for
/// `private-key /dev/null`. (FreeBSD's own if_wg clamps it into a real
/// identity instead; Linux and the UAPI daemons remove it, as we do.)
pub fn decode_set(buf: &[u8], limits: &Limits) -> Result<DeviceUpdate> {
    const KEYS: [&str; 5] = [
        "replace-peers",
        "listen-port",
        "private-key",
        "user-cookie",
        "peers",
    ];
    let nvl = unpack_top(buf, &unpack_limits(limits))?;
    let mut u = DeviceUpdate::default();
    let mut seen = 0;
    for (name, v) in &nvl.pairs {
        match known_key(&nvl, name, &KEYS, &mut seen)? {
            Some(0) => u.replace_peers = as_bool(v)?,
            Some(1) => u.listen_port = Some(as_u16(v)?),
            Some(2) => {
                let k = as_fixed(v)?;
                u.private_key = Some((k != [0; 32]).then_some(k));
            }
            Some(3) => u.user_cookie = Some(as_u32(v)?),
            Some(4) => {
                let peers = as_lists(v)?;
                if peers.len() > limits.max_peers {
                    return Err(Error::TooBig);
                }
                u.peers
                    .try_reserve_exact(peers.len())
                    .map_err(|_| Error::NoMemory)?;
                for e in peers {
                    u.peers.push(decode_peer_update(e, limits)?);
                }
            }
            _ => {}
        }
    }
    u.validate(limits)?;
    Ok(u)
}

fn add_allowed_ip_fields(l: &mut Nvlist, p: &IpPrefix) -> Result<()> {
    match p {
        IpPrefix::V4(a, _) => l.add_binary("ipv4", a),
        IpPrefix::V6(a, _) => l.add_binary("ipv6", a),
    }
}

fn encode_peer_update(p: &PeerUpdate) -> Result<Nvlist> {
    // There is no "update only" in FreeBSD's ABI; dropping it would turn
    // a request that must not create peers into one that does.
    if p.update_only {
        return Err(Error::Invalid);
    }
    let mut l = Nvlist::new();
    l.add_binary("public-key", &p.public_key)?;
    match &p.preshared_key {
        Some(Some(k)) => l.add_binary("preshared-key", k)?,
        Some(None) => l.add_binary("preshared-key", &[0; 32])?,
        None => {}
    }
    if let Some(ka) = p.persistent_keepalive {
        l.add_number("persistent-keepalive-interval", ka.into())?;
    }
    if let Some(e) = &p.endpoint {
        let (b, n) = encode_sockaddr(e);
        l.add_binary("endpoint", b.get(..n).ok_or(Error::Invalid)?)?;
    }
    if p.replace_allowed_ips {
        l.add_bool("replace-allowedips", true)?;
    }
    if p.remove {
        l.add_bool("remove", true)?;
    }
    if !p.allowed_ips.is_empty() {
        let mut aips = Vec::new();
        aips.try_reserve_exact(p.allowed_ips.len())
            .map_err(|_| Error::NoMemory)?;
        for a in &p.allowed_ips {
            let mut e = Nvlist::new();
            if a.remove {
                e.add_number("flags", ALLOWEDIP_REMOVE)?;
            }
            e.add_number("cidr", a.prefix.cidr().into())?;
            add_allowed_ip_fields(&mut e, &a.prefix)?;
            aips.push(e);
        }
        l.add_nvlist_array("allowed-ips", aips)?;
    }
    Ok(l)
}

/// The `SIOCSWG` request wireguard-tools' `kernel_set_device()` sends for
/// `update`, key for key and in its order.
///
/// Removing the private key (`Some(None)`) is sent as 32 zero bytes, as
/// wg(8) sends `private-key /dev/null`; `decode_set` reads it back as a
/// removal. `Error::Invalid` for what the ABI cannot say: `update_only`
/// peers.
pub fn encode_set(update: &DeviceUpdate) -> Result<Vec<u8>> {
    let mut l = Nvlist::new();
    match &update.private_key {
        Some(Some(k)) => l.add_binary("private-key", k)?,
        Some(None) => l.add_binary("private-key", &[0; 32])?,
        None => {}
    }
    if let Some(port) = update.listen_port {
        l.add_number("listen-port", port.into())?;
    }
    if let Some(cookie) = update.user_cookie {
        l.add_number("user-cookie", cookie.into())?;
    }
    if update.replace_peers {
        l.add_bool("replace-peers", true)?;
    }
    if !update.peers.is_empty() {
        l.add_nvlist_array("peers", encode_each(&update.peers, encode_peer_update)?)?;
    }
    nvlist::pack(&l)
}

/// Encodes each item, failing with NoMemory rather than aborting when the
/// list cannot be allocated.
fn encode_each<T>(items: &[T], encode: fn(&T) -> Result<Nvlist>) -> Result<Vec<Nvlist>> {
    let mut out = Vec::new();
    out.try_reserve_exact(items.len())
        .map_err(|_| Error::NoMemory)?;
    for item in items {
        out.push(encode(item)?);
    }
    Ok(out)
}

fn encode_peer_info(p: &PeerInfo) -> Result<Nvlist> {
    let mut l = Nvlist::new();
    l.add_binary("public-key", &p.public_key)?;
    if let Some(k) = &p.preshared_key {
        l.add_binary("preshared-key", k)?;
    }
    if let Some(e) = &p.endpoint {
        let (b, n) = encode_sockaddr(e);
        l.add_binary("endpoint", b.get(..n).ok_or(Error::Invalid)?)?;
    }
    // FreeBSD's struct wg_timespec64: two uint64_t in host order.
    let (sec, nsec) = p.last_handshake;
    let mut ts = [0u8; 16];
    ts[..8].copy_from_slice(&sec.to_ne_bytes());
    ts[8..].copy_from_slice(&u64::from(nsec).to_ne_bytes());
    l.add_binary("last-handshake-time", &ts)?;
    l.add_number(
        "persistent-keepalive-interval",
        p.persistent_keepalive.into(),
    )?;
    l.add_number("rx-bytes", p.rx_bytes)?;
    l.add_number("tx-bytes", p.tx_bytes)?;
    if !p.allowed_ips.is_empty() {
        let mut aips = Vec::new();
        aips.try_reserve_exact(p.allowed_ips.len())
            .map_err(|_| Error::NoMemory)?;
        for a in &p.allowed_ips {
            // FreeBSD adds the address before the prefix length here.
            let mut e = Nvlist::new();
            add_allowed_ip_fields(&mut e, a)?;
            e.add_number("cidr", a.cidr().into())?;
            aips.push(e);
        }
        l.add_nvlist_array("allowed-ips", aips)?;
    }
    Ok(l)
}

/// The `SIOCGWG` answer FreeBSD's `wgc_get()` builds for `info`, key for
/// key and in its order. The caller decides privilege by leaving the
/// private and preshared keys `None`.
///
/// The bytes hold those keys: wipe them once copied out.
pub fn encode_get(info: &DeviceInfo) -> Result<Vec<u8>> {
    let mut l = Nvlist::new();
    if info.listen_port != 0 {
        l.add_number("listen-port", info.listen_port.into())?;
    }
    if info.user_cookie != 0 {
        l.add_number("user-cookie", info.user_cookie.into())?;
    }
    if let Some(k) = &info.public_key {
        l.add_binary("public-key", k)?;
    }
    if let Some(k) = &info.private_key {
        l.add_binary("private-key", k)?;
    }
    if !info.peers.is_empty() {
        l.add_nvlist_array("peers", encode_each(&info.peers, encode_peer_info)?)?;
    }
    nvlist::pack(&l)
}

fn decode_peer_info(e: &Nvlist) -> Result<PeerInfo> {
    const KEYS: [&str; 8] = [
        "public-key",
        "preshared-key",
        "endpoint",
        "last-handshake-time",
        "persistent-keepalive-interval",
        "rx-bytes",
        "tx-bytes",
        "allowed-ips",
    ];
    let mut p = PeerInfo {
        public_key: [0; 32],
        preshared_key: None,
        endpoint: None,
        last_handshake: (0, 0),
        rx_bytes: 0,
        tx_bytes: 0,
        persistent_keepalive: 0,
        allowed_ips: Vec::new(),
    };
    let mut seen = 0;
    for (name, v) in &e.pairs {
        match known_key(e, name, &KEYS, &mut seen)? {
            Some(0) => p.public_key = as_fixed(v)?,
            Some(1) => p.preshared_key = nonzero_key(as_fixed(v)?),
            Some(2) => p.endpoint = Some(decode_sockaddr(as_binary(v)?, false)?),
            Some(3) => {
                let ts: [u8; 16] = as_fixed(v)?;
                let (sec, nsec) = ts.split_at(8);
                let sec = u64::from_ne_bytes(sec.try_into().map_err(|_| Error::Invalid)?);
                let nsec = u64::from_ne_bytes(nsec.try_into().map_err(|_| Error::Invalid)?);
                if nsec >= NSEC_PER_SEC {
                    return Err(Error::Invalid);
                }
                p.last_handshake = (sec, u32::try_from(nsec).map_err(|_| Error::Invalid)?);
            }
            Some(4) => p.persistent_keepalive = as_u16(v)?,
            Some(5) => p.rx_bytes = as_number(v)?,
            Some(6) => p.tx_bytes = as_number(v)?,
            Some(7) => {
                let aips = as_lists(v)?;
                p.allowed_ips
                    .try_reserve_exact(aips.len())
                    .map_err(|_| Error::NoMemory)?;
                for a in aips {
                    if let Some(change) = decode_allowed_ip(a)? {
                        if change.remove {
                            return Err(Error::Invalid);
                        }
                        p.allowed_ips.push(change.prefix);
                    }
                }
            }
            _ => {}
        }
    }
    if seen & 1 == 0 {
        return Err(Error::Invalid);
    }
    Ok(p)
}

/// Reads a `SIOCGWG` answer as wireguard-tools' `kernel_get_device()`
/// does, but refusing (`Error::Invalid`) values it would silently drop.
/// Absent numbers read as 0, absent keys as `None`.
pub fn decode_get(buf: &[u8]) -> Result<DeviceInfo> {
    const KEYS: [&str; 5] = [
        "listen-port",
        "user-cookie",
        "public-key",
        "private-key",
        "peers",
    ];
    let nvl = unpack_top(buf, &unpack_limits(&Limits::default()))?;
    let mut info = DeviceInfo {
        private_key: None,
        public_key: None,
        listen_port: 0,
        user_cookie: 0,
        peers: Vec::new(),
    };
    let mut seen = 0;
    for (name, v) in &nvl.pairs {
        match known_key(&nvl, name, &KEYS, &mut seen)? {
            Some(0) => info.listen_port = as_u16(v)?,
            Some(1) => info.user_cookie = as_u32(v)?,
            Some(2) => info.public_key = Some(as_fixed(v)?),
            Some(3) => info.private_key = Some(as_fixed(v)?),
            Some(4) => {
                let peers = as_lists(v)?;
                info.peers
                    .try_reserve_exact(peers.len())
                    .map_err(|_| Error::NoMemory)?;
                for e in peers {
                    try_push(&mut info.peers, decode_peer_info(e)?)?;
                }
            }
            _ => {}
        }
    }
    Ok(info)
}

// The config types wipe keys on Drop, which rules out the struct-update
// syntax this lint asks for.
#[allow(clippy::field_reassign_with_default)]
#[cfg(test)]
mod tests;
