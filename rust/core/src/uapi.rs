//! The cross-platform UAPI text protocol
//! (<https://www.wireguard.com/xplatform/>) over the typed model of
//! [`crate::config`]: what `wg(8)` writes to a userspace implementation's
//! socket (`set=1`) and what it reads back (`get=1`).
//!
//! The daemon side is [`parse_set`], [`format_get`] and [`format_errno`];
//! the client side (wg(8)) is [`format_set`], which writes a request as
//! wireguard-tools' `ipc-uapi.h` does, and [`parse_get`], which reads an
//! answer as it does.
//!
//! Keys, checks and errno values follow wireguard-go's `device/uapi.go`,
//! `ipc/uapi_*.go` and its `net/netip` parsers, so that `wg` sees the same
//! answers from us as from wireguard-go:
//! - A line without `=` is a protocol error (`-EPROTO`); every other
//!   failure, unknown keys included, is `-EINVAL`.
//! - Device keys (`private_key`, `listen_port`, `fwmark`, `replace_peers`)
//!   are only valid before the first `public_key`; after it every key but
//!   `public_key` is a peer key. So a peer key before any `public_key`, or a
//!   device key after one, is an unknown key: `-EINVAL`.
//! - wireguard-go applies each line as it reads it. We parse the whole
//!   request first and hand back a [`DeviceUpdate`] the caller applies
//!   all-or-nothing; where order matters we keep its effect:
//!   `replace_allowed_ips=true` drops the allowed IPs given for that peer
//!   before it, as wireguard-go's `RemoveByPeer` would.
//!
//! Where we differ from wireguard-go, and why:
//! - An IPv6 endpoint's zone must be a numeric scope id (`[fe80::1%3]:51820`):
//!   this crate is `no_std` and cannot map interface names to indexes.
//!   wg(8) writes names (getnameinfo without `NI_NUMERICSCOPE`), so the
//!   daemon must translate `%em0` to `%2` before calling [`parse_set`] if it
//!   wants link-local endpoints by name.
//! - An endpoint with port 0 is refused here (`-EINVAL`), as
//!   [`DeviceUpdate::validate`] would refuse it later; wireguard-go accepts
//!   it and then cannot send.
//! - Text after the blank line that ends a request is `-EPROTO`: the caller
//!   promised to cut the request there, and wireguard-go would read it as
//!   the next operation.

use alloc::string::String;
use core::fmt::Write;

use crate::allowedips::IpPrefix;
use crate::config::{AllowedIpChange, DeviceInfo, DeviceUpdate, Key, PeerInfo, PeerUpdate};
use crate::endpoint::Endpoint;

/// The errno table of the core; wg(8) reads these as i64.
mod errno {
    use crate::errno as e;
    pub const EIO: i64 = e::EIO as i64;
    pub const EINVAL: i64 = e::EINVAL as i64;
    pub const ENOMEM: i64 = e::ENOMEM as i64;
    pub const EPROTO: i64 = e::host::EPROTO as i64;
    pub const EADDRINUSE: i64 = e::host::EADDRINUSE as i64;
    pub const IPC_UNKNOWN: i64 = e::IPC_UNKNOWN as i64;
}

/// An error answered as "errno=N". N is negative, as wireguard-go writes
/// it and as wg(8)'s `userspace_set_device()` expects (it sets
/// `errno = -N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UapiError {
    pub errno: i64,
}

impl UapiError {
    /// wireguard-go's `IpcErrorIO`: reading or writing the socket failed.
    pub const IO: Self = Self { errno: -errno::EIO };
    /// `IpcErrorProtocol`: a line without `=`.
    pub const PROTOCOL: Self = Self {
        errno: -errno::EPROTO,
    };
    /// `IpcErrorInvalid`: a bad value or an unknown key.
    pub const INVALID: Self = Self {
        errno: -errno::EINVAL,
    };
    /// `IpcErrorPortInUse`: binding the listen port (or setting the mark)
    /// failed.
    pub const PORT_IN_USE: Self = Self {
        errno: -errno::EADDRINUSE,
    };
    /// `IpcErrorUnknown`: anything else.
    pub const UNKNOWN: Self = Self {
        errno: -errno::IPC_UNKNOWN,
    };
    /// Not in wireguard-go (Go has no failing allocation); what a request
    /// too big for memory gets here.
    pub const NO_MEMORY: Self = Self {
        errno: -errno::ENOMEM,
    };
}

impl From<crate::Error> for UapiError {
    /// For the daemon applying a parsed update: the errors the device can
    /// return for a configuration keep their errno (one table with the
    /// kernel's, `Error::errno`; these values are the same on every Unix),
    /// and every other failure to apply a value is EINVAL, as wireguard-go
    /// answers it, peer creation included.
    fn from(e: crate::Error) -> Self {
        use crate::Error;
        let n = match e {
            Error::NoMemory | Error::TooBig | Error::Full | Error::NotFound | Error::Exists => {
                i64::from(e.errno())
            }
            _ => errno::EINVAL,
        };
        Self { errno: -n }
    }
}

type Result<T> = core::result::Result<T, UapiError>;

const ZERO_KEY: Key = [0; 32];

/// Parses the body of a `set=1` request: the lines after "set=1" up to the
/// blank line that ends it (which may be included, as may nothing but
/// blank lines after it). Lines end in "\n", or "\r\n" as Go's
/// `bufio.ScanLines` also allows. Nothing is applied here, so the caller
/// can apply the result all-or-nothing; on error any key read so far is
/// wiped.
pub fn parse_set(body: &str) -> core::result::Result<DeviceUpdate, UapiError> {
    let mut u = DeviceUpdate::default();
    match parse_into(body, &mut u) {
        Ok(()) => Ok(u),
        Err(e) => {
            u.zeroize_secrets();
            Err(e)
        }
    }
}

fn parse_into(body: &str, u: &mut DeviceUpdate) -> Result<()> {
    let mut lines = body.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    for line in lines.by_ref() {
        if line.is_empty() {
            break;
        }
        // The first '=' splits, as Go's strings.Cut: values may hold more.
        let (key, value) = line.split_once('=').ok_or(UapiError::PROTOCOL)?;
        if key == "public_key" {
            let public_key = parse_hex_key(value)?;
            u.peers.try_reserve(1).map_err(|_| UapiError::NO_MEMORY)?;
            u.peers.push(PeerUpdate {
                public_key,
                ..PeerUpdate::default()
            });
            continue;
        }
        // The peers list is empty exactly while we are still in the device
        // section: peers only start at a public_key line.
        match u.peers.last_mut() {
            Some(p) => peer_line(p, key, value)?,
            None => device_line(u, key, value)?,
        }
    }
    if lines.any(|l| !l.is_empty()) {
        return Err(UapiError::PROTOCOL);
    }
    Ok(())
}

fn device_line(u: &mut DeviceUpdate, key: &str, value: &str) -> Result<()> {
    match key {
        "private_key" => {
            // Decoded in place so that the error path's zeroize_secrets()
            // wipes a half-read key too.
            let slot = u.private_key.insert(Some(ZERO_KEY));
            if let Some(k) = slot.as_mut() {
                decode_hex_key(value, k)?;
            }
            // wireguard-go's FromMaybeZeroHex: a zero key removes ours.
            if *slot == Some(ZERO_KEY) {
                *slot = None;
            }
        }
        "listen_port" => u.listen_port = Some(parse_u16(value)?),
        "fwmark" => u.user_cookie = Some(parse_u32(value)?),
        "replace_peers" => {
            expect_true(value)?;
            u.replace_peers = true;
        }
        // protocol_version and the other peer keys included: wireguard-go
        // only knows them after a public_key.
        _ => return Err(UapiError::INVALID),
    }
    Ok(())
}

fn peer_line(p: &mut PeerUpdate, key: &str, value: &str) -> Result<()> {
    match key {
        "update_only" => {
            expect_true(value)?;
            p.update_only = true;
        }
        "remove" => {
            expect_true(value)?;
            p.remove = true;
        }
        "preshared_key" => {
            let slot = p.preshared_key.insert(Some(ZERO_KEY));
            if let Some(k) = slot.as_mut() {
                decode_hex_key(value, k)?;
            }
            // A zero key is how wg(8) clears one.
            if *slot == Some(ZERO_KEY) {
                *slot = None;
            }
        }
        "endpoint" => p.endpoint = Some(parse_endpoint(value)?),
        "persistent_keepalive_interval" => p.persistent_keepalive = Some(parse_u16(value)?),
        "replace_allowed_ips" => {
            expect_true(value)?;
            p.replace_allowed_ips = true;
            // wireguard-go empties the peer's table at this line, so the
            // allowed IPs given before it in this request go as well.
            p.allowed_ips.clear();
        }
        "allowed_ip" => {
            // A leading '-' removes the prefix (wireguard-go since 2025).
            let (remove, text) = match value.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, value),
            };
            let prefix = parse_prefix(text)?;
            p.allowed_ips
                .try_reserve(1)
                .map_err(|_| UapiError::NO_MEMORY)?;
            p.allowed_ips.push(AllowedIpChange { prefix, remove });
        }
        "protocol_version" => {
            if value != "1" {
                return Err(UapiError::INVALID);
            }
        }
        _ => return Err(UapiError::INVALID),
    }
    Ok(())
}

/// wireguard-go only accepts the literal "true" for its flag keys.
fn expect_true(value: &str) -> Result<()> {
    if value == "true" {
        Ok(())
    } else {
        Err(UapiError::INVALID)
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Exactly 64 hex digits of either case, as Go's `hex.DecodeString` plus
/// wireguard-go's length check accept.
fn decode_hex_key(s: &str, out: &mut Key) -> Result<()> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return Err(UapiError::INVALID);
    }
    for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
        let (hi, lo) = match pair {
            [h, l] => (hex_val(*h), hex_val(*l)),
            _ => (None, None),
        };
        *o = (hi.ok_or(UapiError::INVALID)? << 4) | lo.ok_or(UapiError::INVALID)?;
    }
    Ok(())
}

fn parse_hex_key(s: &str) -> Result<Key> {
    let mut k = ZERO_KEY;
    decode_hex_key(s, &mut k)?;
    Ok(k)
}

/// Go's `strconv.ParseUint(s, 10, bits)`: one or more ASCII digits
/// (leading zeros allowed, no sign), at most `max`.
fn parse_uint(s: &str, max: u64) -> Result<u64> {
    if s.is_empty() {
        return Err(UapiError::INVALID);
    }
    let mut n: u64 = 0;
    for c in s.bytes() {
        let d = match c {
            b'0'..=b'9' => u64::from(c - b'0'),
            _ => return Err(UapiError::INVALID),
        };
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(d))
            .filter(|&n| n <= max)
            .ok_or(UapiError::INVALID)?;
    }
    Ok(n)
}

fn parse_u16(s: &str) -> Result<u16> {
    u16::try_from(parse_uint(s, u16::MAX.into())?).map_err(|_| UapiError::INVALID)
}

fn parse_u32(s: &str) -> Result<u32> {
    u32::try_from(parse_uint(s, u32::MAX.into())?).map_err(|_| UapiError::INVALID)
}

/// An address as Go's `netip.ParseAddr` reads it.
#[derive(Debug, PartialEq, Eq)]
enum Addr<'a> {
    V4([u8; 4]),
    /// The zone, if any, is non-empty.
    V6([u8; 16], Option<&'a str>),
}

/// `netip.ParseAddr`: the first '.', ':' or '%' decides the family.
fn parse_addr(s: &str) -> Result<Addr<'_>> {
    match s.bytes().find(|c| matches!(c, b'.' | b':' | b'%')) {
        Some(b'.') => parse_ipv4(s).map(Addr::V4),
        Some(b':') => parse_ipv6(s).map(|(a, z)| Addr::V6(a, z)),
        _ => Err(UapiError::INVALID),
    }
}

/// Four decimal fields of 0..=255 without leading zeros, as netip.
fn parse_ipv4(s: &str) -> Result<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut fields = s.split('.');
    for o in out.iter_mut() {
        let f = fields.next().ok_or(UapiError::INVALID)?;
        if f.len() > 1 && f.starts_with('0') {
            return Err(UapiError::INVALID);
        }
        *o = u8::try_from(parse_uint(f, 255)?).map_err(|_| UapiError::INVALID)?;
    }
    if fields.next().is_some() {
        return Err(UapiError::INVALID);
    }
    Ok(out)
}

/// One to four hex digits.
fn parse_group(g: &str) -> Result<u16> {
    if g.is_empty() || g.len() > 4 {
        return Err(UapiError::INVALID);
    }
    g.bytes().try_fold(0u16, |acc, c| {
        hex_val(c)
            .map(|d| (acc << 4) | u16::from(d))
            .ok_or(UapiError::INVALID)
    })
}

/// Appends the 16-bit groups of `part` (colon-separated, maybe empty, the
/// last maybe a dotted IPv4 address when `v4_last`) to `out`.
fn push_groups(part: &str, v4_last: bool, out: &mut [u16; 8], n: &mut usize) -> Result<()> {
    if part.is_empty() {
        return Ok(());
    }
    let mut it = part.split(':').peekable();
    while let Some(g) = it.next() {
        let last = it.peek().is_none();
        if last && v4_last && g.contains('.') {
            let [a, b, c, d] = parse_ipv4(g)?;
            for v in [u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d])] {
                *out.get_mut(*n).ok_or(UapiError::INVALID)? = v;
                *n += 1;
            }
        } else {
            *out.get_mut(*n).ok_or(UapiError::INVALID)? = parse_group(g)?;
            *n += 1;
        }
    }
    Ok(())
}

/// `netip.ParseAddr` for IPv6: eight groups, or fewer around a single
/// "::" that stands for at least one zero group; an IPv4 address may end
/// it; an optional non-empty "%zone" follows.
fn parse_ipv6(s: &str) -> Result<([u8; 16], Option<&str>)> {
    let (s, zone) = match s.split_once('%') {
        Some((_, "")) => return Err(UapiError::INVALID),
        Some((a, z)) => (a, Some(z)),
        None => (s, None),
    };
    let mut head = [0u16; 8];
    let mut tail = [0u16; 8];
    let (mut nh, mut nt) = (0usize, 0usize);
    let groups = match s.split_once("::") {
        Some((h, t)) => {
            if t.contains("::") {
                return Err(UapiError::INVALID);
            }
            // An IPv4 tail may only end the address.
            push_groups(h, false, &mut head, &mut nh)?;
            push_groups(t, true, &mut tail, &mut nt)?;
            // "::" must stand for at least one group.
            if nh + nt > 7 {
                return Err(UapiError::INVALID);
            }
            let mut g = [0u16; 8];
            for (d, v) in g.iter_mut().zip(head.iter().take(nh)) {
                *d = *v;
            }
            for (d, v) in g.iter_mut().skip(8 - nt).zip(tail.iter().take(nt)) {
                *d = *v;
            }
            g
        }
        None => {
            push_groups(s, true, &mut head, &mut nh)?;
            if nh != 8 {
                return Err(UapiError::INVALID);
            }
            head
        }
    };
    let mut out = [0u8; 16];
    for (o, g) in out.chunks_exact_mut(2).zip(groups) {
        o.copy_from_slice(&g.to_be_bytes());
    }
    Ok((out, zone))
}

/// `netip.ParsePrefix`: address, '/', a prefix length in decimal without
/// sign or leading zeros; no zone. Host bits are masked off by IpPrefix,
/// as wireguard-go's table does when it inserts.
fn parse_prefix(s: &str) -> Result<IpPrefix> {
    let (addr, bits) = s.rsplit_once('/').ok_or(UapiError::INVALID)?;
    if bits.len() > 1 && bits.starts_with('0') {
        return Err(UapiError::INVALID);
    }
    let cidr = u8::try_from(parse_uint(bits, 128)?).map_err(|_| UapiError::INVALID)?;
    let p = match parse_addr(addr)? {
        Addr::V4(a) => IpPrefix::new_v4(a, cidr),
        Addr::V6(a, None) => IpPrefix::new_v6(a, cidr),
        Addr::V6(_, Some(_)) => return Err(UapiError::INVALID),
    };
    p.map_err(|_| UapiError::INVALID)
}

/// `netip.ParseAddrPort` (what wireguard-go's StdNetBind.ParseEndpoint
/// uses): "a.b.c.d:port" or "[v6%zone]:port", split at the last ':'.
fn parse_endpoint(s: &str) -> Result<Endpoint> {
    let (host, port) = s.rsplit_once(':').ok_or(UapiError::INVALID)?;
    if host.is_empty() {
        return Err(UapiError::INVALID);
    }
    let port = parse_u16(port)?;
    let (host, bracketed) = match host.strip_prefix('[') {
        Some(h) => (h.strip_suffix(']').ok_or(UapiError::INVALID)?, true),
        None => (host, false),
    };
    // See the module notes: the engine refuses port 0 anyway.
    if port == 0 {
        return Err(UapiError::INVALID);
    }
    match (parse_addr(host)?, bracketed) {
        (Addr::V4(addr), false) => Ok(Endpoint::V4 { addr, port }),
        (Addr::V6(addr, zone), true) => {
            let scope_id = match zone {
                Some(z) => parse_u32(z)?,
                None => 0,
            };
            Ok(Endpoint::V6 {
                addr,
                port,
                flowinfo: 0,
                scope_id,
            })
        }
        // netip insists on brackets for IPv6 and refuses them for IPv4.
        _ => Err(UapiError::INVALID),
    }
}

mod client;
mod format;
pub use client::{parse_get, parse_get_with};
pub use format::{format_errno, format_get, format_set, format_set_request};

// The config types wipe keys on Drop, which rules out the struct-update
// syntax this lint asks for.
#[allow(clippy::field_reassign_with_default)]
#[cfg(test)]
mod tests;
