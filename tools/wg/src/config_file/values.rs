//! The values wg reads from configuration files and `wg set` arguments:
//! ports, fwmarks, keys, addresses, allowed IPs, endpoints and keepalive
//! intervals, each accepted and rejected with wireguard-tools' words.

use std::io::Write;
use std::time::Duration;

use wg_core::allowedips::IpPrefix;
use wg_core::config::AllowedIpChange;
use wg_core::endpoint::Endpoint;

use super::resolve::{self, Resolver};
use crate::cmd_util::quoted;
use crate::keys::{self, Key};

/// A value wg refuses. The message is printed as it is, with a newline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub message: Vec<u8>,
    /// wg exits at once, without the usual "Configuration parsing error".
    pub exit_now: bool,
}

impl ParseError {
    pub fn new(message: impl Into<Vec<u8>>) -> Self {
        ParseError {
            message: message.into(),
            exit_now: false,
        }
    }
}

pub type Parsed<T> = Result<T, ParseError>;

/// What parsing a value may touch besides the value: warnings go to
/// `diag` (stderr in the tool), names go to `resolver`.
pub struct Ctx<'a> {
    pub diag: &'a mut dyn Write,
    pub resolver: &'a mut dyn Resolver,
}

impl Ctx<'_> {
    fn warn(&mut self, line: &[u8]) {
        let _ = self.diag.write_all(line);
        let _ = self.diag.write_all(b"\n");
    }
}

fn is_digit(c: u8) -> bool {
    c.is_ascii_digit()
}

/// Digits only, in `radix`, at most `max`; leading zeros are fine.
fn digits_upto(text: &[u8], radix: u32, max: u64) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    let mut value: u64 = 0;
    for &c in text {
        let d = char::from(c).to_digit(radix)?;
        value = value
            .checked_mul(u64::from(radix))?
            .checked_add(u64::from(d))?;
        if value > max {
            return None;
        }
    }
    Some(value)
}

/// A UDP port: a number or a service name, as getaddrinfo reads it.
pub fn port(ctx: &mut Ctx, value: &[u8]) -> Parsed<u16> {
    if value.is_empty() {
        return Err(ParseError::new("Unable to parse empty port"));
    }
    match ctx.resolver.lookup(None, value) {
        Ok(Some(ep)) => Ok(ep.port()),
        Ok(None) => Err(ParseError::new(quoted(
            "Neither IPv4 nor IPv6 address found",
            value,
        ))),
        Err(e) => Err(ParseError::new(quoted(&e.text, value))),
    }
}

/// `off`, a decimal number, or `0x` and hex digits, up to 32 bits.
pub fn fwmark(value: &[u8]) -> Parsed<u32> {
    if value.eq_ignore_ascii_case(b"off") {
        return Ok(0);
    }
    let parsed = match value {
        [b'0', b'x', rest @ ..] if !rest.is_empty() => digits_upto(rest, 16, u64::from(u32::MAX)),
        [first, ..] if is_digit(*first) => digits_upto(value, 10, u64::from(u32::MAX)),
        _ => None,
    };
    parsed
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| ParseError::new(quoted("Fwmark is neither 0/off nor 0-0xffffffff", value)))
}

/// `off` or 0..=65535 seconds in decimal.
pub fn persistent_keepalive(value: &[u8]) -> Parsed<u16> {
    if value.eq_ignore_ascii_case(b"off") {
        return Ok(0);
    }
    let parsed = match value.first() {
        Some(c) if is_digit(*c) => digits_upto(value, 10, 65535),
        _ => None,
    };
    parsed.and_then(|v| u16::try_from(v).ok()).ok_or_else(|| {
        ParseError::new(quoted(
            "Persistent keepalive interval is neither 0/off nor 1-65535",
            value,
        ))
    })
}

pub fn key(value: &[u8]) -> Parsed<Key> {
    keys::from_base64(value)
        .ok_or_else(|| ParseError::new(quoted("Key is not the correct length or format", value)))
}

enum Ip {
    V4([u8; 4]),
    V6([u8; 16]),
}

/// A colon makes it IPv6; anything else must be a dotted quad.
fn ip(value: &[u8]) -> Parsed<Ip> {
    let parsed = if value.contains(&b':') {
        resolve::parse_ipv6(value).map(Ip::V6)
    } else {
        resolve::parse_ipv4(value).map(Ip::V4)
    };
    parsed.ok_or_else(|| ParseError::new(quoted("Unable to parse IP address", value)))
}

/// True when bits past the prefix length are set.
fn has_host_bits(addr: &[u8], cidr: u64) -> bool {
    addr.iter().enumerate().any(|(i, &byte)| {
        let first_bit = (i as u64) * 8;
        let keep = cidr.saturating_sub(first_bit).min(8);
        let host_mask = if keep >= 8 { 0 } else { 0xffu8 >> keep };
        byte & host_mask != 0
    })
}

/// A comma-separated list of `address[/cidr]`; empty means none.
pub fn allowed_ips(ctx: &mut Ctx, value: &[u8]) -> Parsed<Vec<AllowedIpChange>> {
    let mut out = Vec::new();
    if value.is_empty() {
        return Ok(out);
    }
    for entry in value.split(|&c| c == b',') {
        let (addr_text, mask) = match entry.iter().position(|&c| c == b'/') {
            Some(at) => (&entry[..at], Some(&entry[at + 1..])),
            None => (entry, None),
        };
        let addr = ip(addr_text)?;
        let max = match addr {
            Ip::V4(_) => 32,
            Ip::V6(_) => 128,
        };
        let cidr = match mask {
            Some(m) if m.first().is_some_and(|&c| is_digit(c)) => digits_upto(m, 10, max),
            Some(_) => None,
            None => Some(max),
        }
        .ok_or_else(|| ParseError::new(quoted("AllowedIP is not in the correct format", entry)))?;
        let (bytes, prefix): (&[u8], _) = match &addr {
            Ip::V4(a) => (a, IpPrefix::new_v4(*a, cidr as u8)),
            Ip::V6(a) => (a, IpPrefix::new_v6(*a, cidr as u8)),
        };
        if let Some(m) = mask.filter(|_| has_host_bits(bytes, cidr)) {
            let mut line = b"Warning: AllowedIP has nonzero host part: ".to_vec();
            line.extend_from_slice(addr_text);
            line.push(b'/');
            line.extend_from_slice(m);
            ctx.warn(&line);
        }
        let prefix = prefix.map_err(|_| {
            ParseError::new(quoted("AllowedIP is not in the correct format", entry))
        })?;
        out.push(AllowedIpChange {
            prefix,
            remove: false,
        });
    }
    Ok(out)
}

/// The number of retries WG_ENDPOINT_RESOLUTION_RETRIES asks for; None is
/// "infinity". Read like strtoul(3): spaces and a sign may lead, nothing
/// may follow, and an empty setting is zero.
fn retries(setting: Option<&[u8]>) -> Parsed<Option<u32>> {
    let Some(text) = setting else {
        return Ok(Some(15));
    };
    if text == b"infinity" {
        return Ok(None);
    }
    let bad = || ParseError {
        message: quoted("Unable to parse WG_ENDPOINT_RESOLUTION_RETRIES", text),
        exit_now: true,
    };
    let trimmed = text.trim_ascii_start();
    let (negative, digits) = match trimmed {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, trimmed),
    };
    if digits.is_empty() || !digits[0].is_ascii_digit() {
        // strtoul converted nothing: fine only if nothing was there at all.
        return if text.is_empty() {
            Ok(Some(0))
        } else {
            Err(bad())
        };
    }
    let value = digits_upto(digits, 10, i32::MAX as u64).ok_or_else(bad)?;
    if negative && value != 0 {
        return Err(bad());
    }
    Ok(Some(value as u32))
}

/// Splits `host:port` or `[host]:port`.
fn split_endpoint(value: &[u8]) -> Parsed<(&[u8], &[u8])> {
    let no_port = || ParseError::new(quoted("Unable to find port of endpoint", value));
    if let Some(rest) = value.strip_prefix(b"[") {
        let close = rest.iter().position(|&c| c == b']').ok_or_else(|| {
            ParseError::new(quoted("Unable to find matching brace of endpoint", value))
        })?;
        match &rest[close + 1..] {
            [b':', port @ ..] if !port.is_empty() => Ok((&rest[..close], port)),
            _ => Err(no_port()),
        }
    } else {
        match value.iter().rposition(|&c| c == b':') {
            Some(colon) if colon + 1 < value.len() => Ok((&value[..colon], &value[colon + 1..])),
            _ => Err(no_port()),
        }
    }
}

const FIRST_PAUSE_US: u64 = 1_000_000;
const LONGEST_PAUSE_US: u64 = 20_000_000;

/// An endpoint, resolving host names; transient failures are retried
/// with growing pauses, as many times as WG_ENDPOINT_RESOLUTION_RETRIES
/// allows.
pub fn endpoint(ctx: &mut Ctx, value: &[u8]) -> Parsed<Endpoint> {
    let mut retries_left = retries(ctx.resolver.retries_setting().as_deref())?;
    if value.is_empty() {
        return Err(ParseError::new("Unable to parse empty endpoint"));
    }
    let (host, service) = split_endpoint(value)?;
    let mut pause_us = FIRST_PAUSE_US;
    loop {
        let err = match ctx.resolver.lookup(Some(host), service) {
            Ok(Some(ep)) => return Ok(ep),
            Ok(None) => {
                return Err(ParseError::new(quoted(
                    "Neither IPv4 nor IPv6 address found",
                    value,
                )))
            }
            Err(e) => e,
        };
        let give_up = err.permanent
            || match retries_left.as_mut() {
                Some(0) => true,
                Some(n) => {
                    *n -= 1;
                    false
                }
                None => false,
            };
        if give_up {
            return Err(ParseError::new(quoted(&err.text, value)));
        }
        let mut line = quoted(&err.text, value);
        line.extend_from_slice(
            format!(". Trying again in {:.2} seconds...", pause_us as f64 / 1e6).as_bytes(),
        );
        ctx.warn(&line);
        ctx.resolver.sleep(Duration::from_micros(pause_us));
        pause_us = LONGEST_PAUSE_US.min(pause_us * 6 / 5);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config_file::resolve::{LookupError, SystemResolver};

    /// Answers from a script, records pauses, never touches the network.
    #[derive(Default)]
    pub(crate) struct Scripted {
        pub answers: Vec<Result<Option<Endpoint>, LookupError>>,
        pub asked: Vec<(Option<Vec<u8>>, Vec<u8>)>,
        pub pauses: Vec<Duration>,
        pub retries: Option<Vec<u8>>,
    }

    impl Resolver for Scripted {
        fn lookup(
            &mut self,
            host: Option<&[u8]>,
            service: &[u8],
        ) -> Result<Option<Endpoint>, LookupError> {
            self.asked
                .push((host.map(<[u8]>::to_vec), service.to_vec()));
            if self.answers.is_empty() {
                // Past the script: the real resolver (numeric input only).
                return SystemResolver.lookup(host, service);
            }
            self.answers.remove(0)
        }
        fn sleep(&mut self, pause: Duration) {
            self.pauses.push(pause);
        }
        fn retries_setting(&self) -> Option<Vec<u8>> {
            self.retries.clone()
        }
    }

    pub(crate) fn with_ctx<T>(r: &mut Scripted, f: impl FnOnce(&mut Ctx) -> T) -> (T, String) {
        let mut diag = Vec::new();
        let out = {
            let mut ctx = Ctx {
                diag: &mut diag,
                resolver: r,
            };
            f(&mut ctx)
        };
        (out, String::from_utf8_lossy(&diag).into_owned())
    }

    fn msg<T: std::fmt::Debug>(r: Parsed<T>) -> String {
        String::from_utf8_lossy(&r.unwrap_err().message).into_owned()
    }

    fn transient() -> LookupError {
        LookupError {
            permanent: false,
            text: "Temporary failure in name resolution".into(),
        }
    }

    #[test]
    fn fwmarks() {
        assert_eq!(fwmark(b"off"), Ok(0));
        assert_eq!(fwmark(b"OfF"), Ok(0));
        assert_eq!(fwmark(b"0"), Ok(0));
        assert_eq!(fwmark(b"00042"), Ok(42));
        assert_eq!(fwmark(b"0x1F"), Ok(31));
        assert_eq!(fwmark(b"0xffffffff"), Ok(u32::MAX));
        assert_eq!(fwmark(b"4294967295"), Ok(u32::MAX));
        assert_eq!(fwmark(b"0x0000000000000000001"), Ok(1));
        for bad in [
            &b""[..],
            b"4294967296",
            b"0x100000000",
            b"0x",
            b"0X10",
            b"0xg",
            b" 1",
            b"+1",
            b"-1",
            b"1 ",
            b"x1",
            b"99999999999999999999999",
        ] {
            assert!(fwmark(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(
            msg(fwmark(b"abc")),
            "Fwmark is neither 0/off nor 0-0xffffffff: `abc'"
        );
    }

    #[test]
    fn keepalives() {
        assert_eq!(persistent_keepalive(b"off"), Ok(0));
        assert_eq!(persistent_keepalive(b"OFF"), Ok(0));
        assert_eq!(persistent_keepalive(b"0"), Ok(0));
        assert_eq!(persistent_keepalive(b"25"), Ok(25));
        assert_eq!(persistent_keepalive(b"065535"), Ok(65535));
        for bad in [&b""[..], b"65536", b"-1", b"+1", b" 1", b"1s", b"0x10"] {
            assert!(
                persistent_keepalive(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(
            msg(persistent_keepalive(b"70000")),
            "Persistent keepalive interval is neither 0/off nor 1-65535: `70000'"
        );
    }

    #[test]
    fn ports_go_through_the_resolver() {
        let mut r = Scripted::default();
        let (p, _) = with_ctx(&mut r, |c| port(c, b"51820"));
        assert_eq!(p, Ok(51820));
        let (p, _) = with_ctx(&mut r, |c| port(c, b"0"));
        assert_eq!(p, Ok(0));
        let (p, _) = with_ctx(&mut r, |c| port(c, b""));
        assert_eq!(msg(p), "Unable to parse empty port");
        let (p, _) = with_ctx(&mut r, |c| port(c, b"abc"));
        assert_eq!(msg(p), "Servname not supported for ai_socktype: `abc'");
        assert_eq!(r.asked[0], (None, b"51820".to_vec()));
        let mut r = Scripted {
            answers: vec![Ok(None)],
            ..Default::default()
        };
        let (p, _) = with_ctx(&mut r, |c| port(c, b"1"));
        assert_eq!(msg(p), "Neither IPv4 nor IPv6 address found: `1'");
    }

    fn v4(a: [u8; 4], cidr: u8) -> AllowedIpChange {
        AllowedIpChange {
            prefix: IpPrefix::new_v4(a, cidr).unwrap(),
            remove: false,
        }
    }

    #[test]
    fn allowed_ip_lists() {
        let mut r = Scripted::default();
        let (got, warn) = with_ctx(&mut r, |c| {
            allowed_ips(c, b"10.0.0.0/8,192.168.1.1,::/0,fd00::1/128")
        });
        let got = got.unwrap();
        assert_eq!(warn, "");
        assert_eq!(got.len(), 4);
        assert_eq!(got[0], v4([10, 0, 0, 0], 8));
        assert_eq!(got[1], v4([192, 168, 1, 1], 32));
        assert_eq!(got[2].prefix, IpPrefix::new_v6([0; 16], 0).unwrap());
        assert_eq!(got[3].prefix.cidr(), 128);
        let (got, _) = with_ctx(&mut r, |c| allowed_ips(c, b""));
        assert_eq!(got, Ok(vec![]));
        let (got, _) = with_ctx(&mut r, |c| allowed_ips(c, b"10.0.0.0/008"));
        assert_eq!(got, Ok(vec![v4([10, 0, 0, 0], 8)]));
    }

    #[test]
    fn allowed_ip_host_bits_warn_but_pass() {
        let mut r = Scripted::default();
        let (got, warn) = with_ctx(&mut r, |c| {
            allowed_ips(c, b"10.1.2.3/8,fd00::1/64,10.0.0.1/32")
        });
        assert_eq!(got.unwrap()[0], v4([10, 0, 0, 0], 8));
        assert_eq!(
            warn,
            "Warning: AllowedIP has nonzero host part: 10.1.2.3/8\nWarning: AllowedIP has nonzero host part: fd00::1/64\n"
        );
        assert!(!has_host_bits(&[10, 0, 0, 0], 8));
        assert!(has_host_bits(&[10, 0, 0, 1], 31));
        assert!(!has_host_bits(&[255; 4], 32));
        assert!(has_host_bits(&[0, 0, 0, 128], 24));
        assert!(!has_host_bits(&[0; 4], 0));
    }

    #[test]
    fn allowed_ip_errors() {
        let mut r = Scripted::default();
        let cases: &[(&[u8], &str)] = &[
            (
                b"10.0.0.0/33",
                "AllowedIP is not in the correct format: `10.0.0.0/33'",
            ),
            (
                b"::/129",
                "AllowedIP is not in the correct format: `::/129'",
            ),
            (
                b"10.0.0.0/",
                "AllowedIP is not in the correct format: `10.0.0.0/'",
            ),
            (
                b"10.0.0.0/+8",
                "AllowedIP is not in the correct format: `10.0.0.0/+8'",
            ),
            (
                b"10.0.0.0/8/8",
                "AllowedIP is not in the correct format: `10.0.0.0/8/8'",
            ),
            (
                b"1.2.3.4/32,10.0.0.0/8x",
                "AllowedIP is not in the correct format: `10.0.0.0/8x'",
            ),
            (b"10.0.0/8", "Unable to parse IP address: `10.0.0'"),
            (b"-10.0.0.0/8", "Unable to parse IP address: `-10.0.0.0'"),
            (b"1.2.3.4,", "Unable to parse IP address: `'"),
            (b",1.2.3.4", "Unable to parse IP address: `'"),
            (b"/8", "Unable to parse IP address: `'"),
            (
                b"fe80::1%eth0/64",
                "Unable to parse IP address: `fe80::1%eth0'",
            ),
            (
                b"example.com/32",
                "Unable to parse IP address: `example.com'",
            ),
        ];
        for (input, want) in cases {
            let (got, _) = with_ctx(&mut r, |c| allowed_ips(c, input));
            assert_eq!(msg(got), *want);
        }
    }

    #[test]
    fn endpoints_split_like_wg() {
        let mut r = Scripted::default();
        let (got, _) = with_ctx(&mut r, |c| endpoint(c, b"192.0.2.1:51820"));
        assert_eq!(
            got,
            Ok(Endpoint::V4 {
                addr: [192, 0, 2, 1],
                port: 51820
            })
        );
        let (got, _) = with_ctx(&mut r, |c| endpoint(c, b"[2001:db8::1]:443"));
        assert!(matches!(got, Ok(Endpoint::V6 { port: 443, .. })));
        // Without brackets the last colon separates the port.
        let (got, _) = with_ctx(&mut r, |c| endpoint(c, b"2001:db8::1:443"));
        assert!(matches!(got, Ok(Endpoint::V6 { port: 443, .. })));
        let cases: &[(&[u8], &str)] = &[
            (b"", "Unable to parse empty endpoint"),
            (b"[::1", "Unable to find matching brace of endpoint: `[::1'"),
            (b"[::1]", "Unable to find port of endpoint: `[::1]'"),
            (b"[::1]:", "Unable to find port of endpoint: `[::1]:'"),
            (b"[::1]x1", "Unable to find port of endpoint: `[::1]x1'"),
            (b"1.2.3.4", "Unable to find port of endpoint: `1.2.3.4'"),
            (b"1.2.3.4:", "Unable to find port of endpoint: `1.2.3.4:'"),
        ];
        for (input, want) in cases {
            let (got, _) = with_ctx(&mut r, |c| endpoint(c, input));
            assert_eq!(msg(got), *want);
        }
        assert!(r.pauses.is_empty());
    }

    #[test]
    fn endpoint_lookups_retry_transient_failures() {
        let ok = Ok(Some(Endpoint::V4 {
            addr: [1, 2, 3, 4],
            port: 5,
        }));
        let mut r = Scripted {
            answers: vec![Err(transient()), Err(transient()), ok],
            ..Default::default()
        };
        let (got, warn) = with_ctx(&mut r, |c| endpoint(c, b"vpn.example:5"));
        assert!(got.is_ok());
        assert_eq!(
            warn,
            "Temporary failure in name resolution: `vpn.example:5'. Trying again in 1.00 seconds...\n\
             Temporary failure in name resolution: `vpn.example:5'. Trying again in 1.20 seconds...\n"
        );
        assert_eq!(r.asked[0], (Some(b"vpn.example".to_vec()), b"5".to_vec()));
        assert_eq!(
            r.pauses,
            [Duration::from_millis(1000), Duration::from_millis(1200)]
        );
    }

    #[test]
    fn endpoint_retries_are_bounded_by_the_environment() {
        let mut r = Scripted {
            answers: vec![Err(transient()); 40],
            ..Default::default()
        };
        let (got, _) = with_ctx(&mut r, |c| endpoint(c, b"h:1"));
        assert_eq!(msg(got), "Temporary failure in name resolution: `h:1'");
        // Fifteen retries by default: sixteen attempts.
        assert_eq!(r.asked.len(), 16);
        assert_eq!(r.pauses.len(), 15);
        assert_eq!(r.pauses[14], Duration::from_micros(12_839_178));
        assert_eq!(r.pauses[5], Duration::from_micros(2_488_320));

        for (setting, attempts) in [(&b"0"[..], 1), (b"3", 4), (b"", 1), (b" +2", 3), (b"-0", 1)] {
            let mut r = Scripted {
                answers: vec![Err(transient()); 40],
                retries: Some(setting.to_vec()),
                ..Default::default()
            };
            let _ = with_ctx(&mut r, |c| endpoint(c, b"h:1"));
            assert_eq!(
                r.asked.len(),
                attempts,
                "{}",
                String::from_utf8_lossy(setting)
            );
        }

        let mut answers = vec![Err(transient()); 30];
        answers.push(Ok(Some(Endpoint::V4 {
            addr: [1, 2, 3, 4],
            port: 1,
        })));
        let mut r = Scripted {
            answers,
            retries: Some(b"infinity".to_vec()),
            ..Default::default()
        };
        let (got, _) = with_ctx(&mut r, |c| endpoint(c, b"h:1"));
        assert!(got.is_ok());
        assert_eq!(r.pauses.len(), 30);
        // The pause grows by a fifth each time up to twenty seconds.
        assert_eq!(r.pauses[16], Duration::from_micros(18_488_415));
        assert_eq!(r.pauses[17], Duration::from_secs(20));
        assert_eq!(r.pauses[29], Duration::from_secs(20));
    }

    #[test]
    fn permanent_failures_are_not_retried() {
        let mut r = Scripted {
            answers: vec![Err(LookupError {
                permanent: true,
                text: "Name or service not known".into(),
            })],
            ..Default::default()
        };
        let (got, warn) = with_ctx(&mut r, |c| endpoint(c, b"nowhere.invalid:1"));
        assert_eq!(msg(got), "Name or service not known: `nowhere.invalid:1'");
        assert_eq!(warn, "");
    }

    #[test]
    fn bad_retry_settings_end_the_program() {
        for setting in [&b"x"[..], b"-1", b"5x", b"2147483648", b" "] {
            let mut r = Scripted {
                retries: Some(setting.to_vec()),
                ..Default::default()
            };
            // Checked before the endpoint itself, even an empty one.
            let (got, _) = with_ctx(&mut r, |c| endpoint(c, b""));
            let err = got.unwrap_err();
            assert!(err.exit_now);
            let mut want = b"Unable to parse WG_ENDPOINT_RESOLUTION_RETRIES: `".to_vec();
            want.extend_from_slice(setting);
            want.push(b'\'');
            assert_eq!(err.message, want);
        }
        assert_eq!(retries(Some(b"2147483647")), Ok(Some(i32::MAX as u32)));
    }
}
