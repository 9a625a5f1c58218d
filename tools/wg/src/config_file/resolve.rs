//! The C library's name and address parsers, called directly: wg's
//! grammar is defined by what getaddrinfo(3) and inet_pton(3) accept (port
//! names from /etc/services, `1.2.3` as an IPv4 host, scope ids), and the
//! retry rule needs getaddrinfo's own error codes, which std's resolver
//! hides.

use std::ffi::{CStr, CString};
use std::io;
use std::time::Duration;

use wg_core::endpoint::Endpoint;

/// getaddrinfo's failure: its code and the text wg prints for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LookupError {
    pub permanent: bool,
    pub text: String,
}

/// Where names are looked up; tests substitute a scripted one.
pub trait Resolver {
    /// The first address for `host` and `service` (a UDP port number or
    /// name); `host` None asks for the wildcard address, which is how wg
    /// turns a port name into a number. Ok(None) when the first answer is
    /// neither IPv4 nor IPv6.
    fn lookup(
        &mut self,
        host: Option<&[u8]>,
        service: &[u8],
    ) -> Result<Option<Endpoint>, LookupError>;
    fn sleep(&mut self, pause: Duration);
    /// WG_ENDPOINT_RESOLUTION_RETRIES as set in the environment.
    fn retries_setting(&self) -> Option<Vec<u8>>;
}

#[cfg(target_os = "linux")]
mod eai {
    // glibc's values; the libc crate does not carry them for glibc.
    pub const NONAME: i32 = -2;
    pub const FAIL: i32 = -4;
    pub const NODATA: i32 = -5;
    pub const SERVICE: i32 = -8;
    pub const SYSTEM: i32 = -11;
}

#[cfg(not(target_os = "linux"))]
mod eai {
    pub const NONAME: i32 = libc::EAI_NONAME;
    pub const FAIL: i32 = libc::EAI_FAIL;
    // FreeBSD dropped EAI_NODATA; this value never matches a real code.
    pub const NODATA: i32 = i32::MIN;
    pub const SERVICE: i32 = libc::EAI_SERVICE;
    pub const SYSTEM: i32 = libc::EAI_SYSTEM;
}

fn gai_text(code: i32, os_error: io::Error) -> String {
    if code == eai::SYSTEM {
        return crate::cmd_util::error_text(&os_error);
    }
    // SAFETY: gai_strerror returns a pointer to a static NUL-terminated
    // string (or NULL, checked) for any code.
    let ptr = unsafe { libc::gai_strerror(code) };
    if ptr.is_null() {
        return format!("Unknown error {code}");
    }
    // SAFETY: non-null and NUL-terminated per the above; the text is static.
    unsafe { CStr::from_ptr(ptr) }
        .to_string_lossy()
        .into_owned()
}

/// A service that getaddrinfo reads as a number (after leading spaces and
/// a plus sign) but that no port number can hold.
fn numeric_beyond_u16(service: &[u8]) -> bool {
    let digits = service.trim_ascii_start();
    let digits = digits.strip_prefix(b"+").unwrap_or(digits);
    !digits.is_empty()
        && digits.iter().all(u8::is_ascii_digit)
        && digits
            .iter()
            .try_fold(0u32, |n, &d| {
                n.checked_mul(10)?
                    .checked_add(u32::from(d - b'0'))
                    .filter(|&v| v <= 65535)
            })
            .is_none()
}

/// The real resolver: getaddrinfo(3), std::thread::sleep and the process
/// environment.
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn lookup(
        &mut self,
        host: Option<&[u8]>,
        service: &[u8],
    ) -> Result<Option<Endpoint>, LookupError> {
        // Arguments and config lines cannot hold NUL; if one ever does, the
        // name cannot exist.
        let nul_error = || LookupError {
            permanent: true,
            text: gai_text(eai::NONAME, io::Error::from_raw_os_error(0)),
        };
        let host = match host {
            Some(h) => Some(CString::new(h).map_err(|_| nul_error())?),
            None => None,
        };
        if numeric_beyond_u16(service) {
            // glibc would take the number modulo 65536 (so 65536 means
            // "any port"); refuse it as FreeBSD's libc does.
            return Err(LookupError {
                permanent: false,
                text: gai_text(eai::SERVICE, io::Error::from_raw_os_error(0)),
            });
        }
        let service = CString::new(service).map_err(|_| nul_error())?;
        // SAFETY: addrinfo is plain data; all-zero is its documented empty
        // hints value, completed below.
        let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
        hints.ai_family = libc::AF_UNSPEC;
        hints.ai_socktype = libc::SOCK_DGRAM;
        hints.ai_protocol = libc::IPPROTO_UDP;
        if host.is_none() {
            hints.ai_flags = libc::AI_PASSIVE;
        }
        let mut res: *mut libc::addrinfo = std::ptr::null_mut();
        let host_ptr = host.as_ref().map_or(std::ptr::null(), |h| h.as_ptr());
        // SAFETY: host_ptr is NULL or a live C string, service is a live C
        // string, hints is initialised and res is a valid out-pointer.
        let code = unsafe { libc::getaddrinfo(host_ptr, service.as_ptr(), &hints, &mut res) };
        if code != 0 {
            let os_error = io::Error::last_os_error();
            let permanent = code == eai::NONAME || code == eai::FAIL || code == eai::NODATA;
            return Err(LookupError {
                permanent,
                text: gai_text(code, os_error),
            });
        }
        // SAFETY: on success res points to a list getaddrinfo allocated; we
        // read its first entry and free the whole list exactly once.
        let found = unsafe {
            let found = if res.is_null() {
                None
            } else {
                endpoint_of(&*res)
            };
            libc::freeaddrinfo(res);
            found
        };
        Ok(found)
    }

    fn sleep(&mut self, pause: Duration) {
        std::thread::sleep(pause);
    }

    fn retries_setting(&self) -> Option<Vec<u8>> {
        use std::os::unix::ffi::OsStringExt;
        std::env::var_os("WG_ENDPOINT_RESOLUTION_RETRIES").map(|v| v.into_vec())
    }
}

/// # Safety
/// `ai.ai_addr` must be NULL or point to `ai.ai_addrlen` readable bytes.
unsafe fn endpoint_of(ai: &libc::addrinfo) -> Option<Endpoint> {
    if ai.ai_addr.is_null() {
        return None;
    }
    let len = ai.ai_addrlen as usize;
    if ai.ai_family == libc::AF_INET && len == std::mem::size_of::<libc::sockaddr_in>() {
        // SAFETY: the family and length say this is a sockaddr_in; the
        // caller vouches that the bytes are readable.
        let sin = unsafe { std::ptr::read_unaligned(ai.ai_addr.cast::<libc::sockaddr_in>()) };
        Some(Endpoint::V4 {
            addr: sin.sin_addr.s_addr.to_ne_bytes(),
            port: u16::from_be(sin.sin_port),
        })
    } else if ai.ai_family == libc::AF_INET6 && len == std::mem::size_of::<libc::sockaddr_in6>() {
        // SAFETY: as above, for sockaddr_in6.
        let sin6 = unsafe { std::ptr::read_unaligned(ai.ai_addr.cast::<libc::sockaddr_in6>()) };
        Some(Endpoint::V6 {
            addr: sin6.sin6_addr.s6_addr,
            port: u16::from_be(sin6.sin6_port),
            flowinfo: sin6.sin6_flowinfo,
            scope_id: sin6.sin6_scope_id,
        })
    } else {
        None
    }
}

extern "C" {
    // POSIX; the libc crate does not declare it for every target.
    fn inet_pton(af: libc::c_int, src: *const libc::c_char, dst: *mut libc::c_void) -> libc::c_int;
}

fn pton<const N: usize>(af: libc::c_int, text: &[u8]) -> Option<[u8; N]> {
    let text = CString::new(text).ok()?;
    let mut out = [0u8; N];
    // SAFETY: text is a live C string; out has room for the 4 (AF_INET) or
    // 16 (AF_INET6) bytes inet_pton writes, as N is chosen per family.
    let ok = unsafe { inet_pton(af, text.as_ptr(), out.as_mut_ptr().cast()) };
    (ok == 1).then_some(out)
}

/// The C library's strict dotted-quad IPv4 parser.
pub fn parse_ipv4(text: &[u8]) -> Option<[u8; 4]> {
    pton::<4>(libc::AF_INET, text)
}

/// The C library's IPv6 parser (no scope ids, no brackets).
pub fn parse_ipv6(text: &[u8]) -> Option<[u8; 16]> {
    pton::<16>(libc::AF_INET6, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inet_pton_is_strict() {
        assert_eq!(parse_ipv4(b"10.1.2.3"), Some([10, 1, 2, 3]));
        for bad in [
            &b"10.1.2"[..],
            b"10.1.2.256",
            b"1.2.3.4 ",
            b"",
            b"01.2.3.4",
            b"1.2.3.4/8",
        ] {
            assert_eq!(parse_ipv4(bad), None, "{}", String::from_utf8_lossy(bad));
        }
        let mut v6 = [0u8; 16];
        v6[15] = 1;
        assert_eq!(parse_ipv6(b"::1"), Some(v6));
        assert_eq!(
            parse_ipv6(b"::ffff:1.2.3.4").map(|a| a[12..].to_vec()),
            Some(vec![1, 2, 3, 4])
        );
        for bad in [&b"::1%lo"[..], b"[::1]", b"1:2:3:4:5:6:7:8:9", b":::"] {
            assert_eq!(parse_ipv6(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn numeric_lookups_need_no_network() {
        let mut r = SystemResolver;
        assert_eq!(
            r.lookup(Some(b"192.0.2.1"), b"51820"),
            Ok(Some(Endpoint::V4 {
                addr: [192, 0, 2, 1],
                port: 51820
            }))
        );
        match r.lookup(Some(b"2001:db8::1"), b"7") {
            Ok(Some(Endpoint::V6 { addr, port: 7, .. })) => assert_eq!(addr[..2], [0x20, 0x01]),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            r.lookup(None, b"123").ok().flatten().map(|e| e.port()),
            Some(123)
        );
        for big in [&b"65536"[..], b"99999999999999999999", b" +70000"] {
            let err = r.lookup(None, big).unwrap_err();
            assert_eq!(err.text, "Servname not supported for ai_socktype");
            assert!(r.lookup(Some(b"192.0.2.1"), big).is_err());
        }
        assert_eq!(
            r.lookup(None, b"065535").ok().flatten().map(|e| e.port()),
            Some(65535)
        );
        assert_eq!(
            r.lookup(None, b" 7").ok().flatten().map(|e| e.port()),
            Some(7)
        );
        let err = r.lookup(None, b"no-such-service-name").unwrap_err();
        assert_eq!(err.text, "Servname not supported for ai_socktype");
        assert!(!err.permanent);
    }
}
