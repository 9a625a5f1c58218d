//! Text forms shared by `wg show` and `wg showconf`: interface names,
//! addresses and endpoints as the C library writes them.
//!
//! Addresses go through the platform's own inet_ntop/getnameinfo rather
//! than a Rust rendering, because wg(8) uses those and their output differs
//! between C libraries (IPv4-compatible IPv6 forms, scope names).

use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_void};

use wg_core::allowedips::IpPrefix;
use wg_core::endpoint::Endpoint;

/// `perror`'s text for an error.
pub use crate::cmd_util::error_text as strerror;
/// Keys print in wireguard-tools' base64; the codec runs on secrets, so
/// there is one, constant-time, in `keys`.
pub use crate::keys::to_base64 as key_base64;

/// Longest interface name the kernel keeps, without the NUL (IFNAMSIZ - 1).
const IFNAME_MAX: usize = 15;

/// The name wg(8) prints for an interface: it keeps only what fits in the
/// kernel's name buffer.
pub fn display_name(name: &str) -> &str {
    if name.len() <= IFNAME_MAX {
        return name;
    }
    let mut end = IFNAME_MAX;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

extern "C" {
    // In every Unix C library; the libc crate does not bind it.
    fn inet_ntop(
        af: c_int,
        src: *const c_void,
        dst: *mut c_char,
        size: libc::socklen_t,
    ) -> *const c_char;
}

/// The address of a prefix as inet_ntop(3) writes it, or None when the C
/// library refuses it.
pub fn prefix_addr(prefix: &IpPrefix) -> Option<String> {
    // Room for the longest IPv6 text (INET6_ADDRSTRLEN) and the NUL.
    let mut buf = [0 as c_char; 48];
    let (af, src): (c_int, &[u8]) = match prefix {
        IpPrefix::V4(a, _) => (libc::AF_INET, a),
        IpPrefix::V6(a, _) => (libc::AF_INET6, a),
    };
    // SAFETY: src holds the 4 or 16 address bytes the family calls for,
    // and buf is writable for the length passed; inet_ntop NUL-terminates
    // on success and returns NULL otherwise.
    let ret = unsafe {
        inet_ntop(
            af,
            src.as_ptr().cast(),
            buf.as_mut_ptr(),
            buf.len() as libc::socklen_t,
        )
    };
    if ret.is_null() {
        return None;
    }
    // SAFETY: on success buf holds a NUL-terminated string.
    let text = unsafe { CStr::from_ptr(buf.as_ptr()) };
    Some(text.to_string_lossy().into_owned())
}

/// "address/cidr", the form of `allowed ips`; an address the C library
/// cannot write shows as empty, as in wg(8).
pub fn prefix_text(prefix: &IpPrefix) -> (String, u8) {
    (prefix_addr(prefix).unwrap_or_default(), prefix.cidr())
}

/// An endpoint as getnameinfo(3) writes it numerically, IPv6 in brackets
/// (with "%scope" when the C library adds one). Err carries the resolver's
/// error text.
pub fn endpoint_text(ep: &Endpoint) -> Result<String, String> {
    let mut host = [0 as c_char; 4097];
    let mut serv = [0 as c_char; 513];
    let flags = libc::NI_DGRAM | libc::NI_NUMERICSERV | libc::NI_NUMERICHOST;
    let ret = match *ep {
        Endpoint::V4 { addr, port } => {
            let sa = sockaddr_v4(addr, port);
            // SAFETY: sa is a complete sockaddr_in whose size is passed;
            // host and serv are writable for the lengths passed.
            unsafe {
                libc::getnameinfo(
                    (&sa as *const libc::sockaddr_in).cast(),
                    std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                    host.as_mut_ptr(),
                    host.len() as _,
                    serv.as_mut_ptr(),
                    serv.len() as _,
                    flags,
                )
            }
        }
        Endpoint::V6 {
            addr,
            port,
            flowinfo,
            scope_id,
        } => {
            let sa = sockaddr_v6(addr, port, flowinfo, scope_id);
            // SAFETY: as above, for a complete sockaddr_in6.
            unsafe {
                libc::getnameinfo(
                    (&sa as *const libc::sockaddr_in6).cast(),
                    std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                    host.as_mut_ptr(),
                    host.len() as _,
                    serv.as_mut_ptr(),
                    serv.len() as _,
                    flags,
                )
            }
        }
    };
    if ret != 0 {
        // SAFETY: gai_strerror returns a static NUL-terminated string (or
        // NULL on exotic libraries, checked).
        let msg = unsafe { libc::gai_strerror(ret) };
        if msg.is_null() {
            return Err(String::new());
        }
        // SAFETY: non-NULL, NUL-terminated, static.
        return Err(unsafe { CStr::from_ptr(msg) }
            .to_string_lossy()
            .into_owned());
    }
    // SAFETY: getnameinfo succeeded, so both buffers are NUL-terminated.
    let (host, serv) = unsafe {
        (
            CStr::from_ptr(host.as_ptr()).to_string_lossy().into_owned(),
            CStr::from_ptr(serv.as_ptr()).to_string_lossy().into_owned(),
        )
    };
    if matches!(ep, Endpoint::V6 { .. }) && host.contains(':') {
        Ok(format!("[{host}]:{serv}"))
    } else {
        Ok(format!("{host}:{serv}"))
    }
}

fn sockaddr_v4(addr: [u8; 4], port: u16) -> libc::sockaddr_in {
    // SAFETY: sockaddr_in is plain old data; all-zero is a valid value.
    let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    sa.sin_family = libc::AF_INET as libc::sa_family_t;
    sa.sin_port = port.to_be();
    sa.sin_addr = libc::in_addr {
        s_addr: u32::from_ne_bytes(addr),
    };
    #[cfg(any(
        target_os = "freebsd",
        target_os = "macos",
        target_os = "openbsd",
        target_os = "netbsd"
    ))]
    {
        sa.sin_len = std::mem::size_of::<libc::sockaddr_in>() as u8;
    }
    sa
}

fn sockaddr_v6(addr: [u8; 16], port: u16, flowinfo: u32, scope_id: u32) -> libc::sockaddr_in6 {
    // SAFETY: sockaddr_in6 is plain old data; all-zero is a valid value.
    let mut sa: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
    sa.sin6_port = port.to_be();
    sa.sin6_flowinfo = flowinfo;
    sa.sin6_addr = libc::in6_addr { s6_addr: addr };
    sa.sin6_scope_id = scope_id;
    #[cfg(any(
        target_os = "freebsd",
        target_os = "macos",
        target_os = "openbsd",
        target_os = "netbsd"
    ))]
    {
        sa.sin6_len = std::mem::size_of::<libc::sockaddr_in6>() as u8;
    }
    sa
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(s: &str) -> [u8; 16] {
        s.parse::<std::net::Ipv6Addr>()
            .map(|a| a.octets())
            .unwrap_or([0; 16])
    }

    #[test]
    fn names_are_cut_to_the_kernel_buffer() {
        assert_eq!(display_name("wg0"), "wg0");
        assert_eq!(display_name("abcdefghijklmno"), "abcdefghijklmno");
        assert_eq!(display_name("abcdefghijklmnopq"), "abcdefghijklmno");
        // Never splits a character.
        assert_eq!(display_name("abcdefghijklmnéé"), "abcdefghijklmn");
    }

    #[test]
    fn prefixes() {
        assert_eq!(
            prefix_addr(&IpPrefix::V4([10, 0, 0, 1], 32)).as_deref(),
            Some("10.0.0.1")
        );
        assert_eq!(
            prefix_addr(&IpPrefix::V6(v6("fd00::1"), 128)).as_deref(),
            Some("fd00::1")
        );
        assert_eq!(
            prefix_addr(&IpPrefix::V6([0; 16], 0)).as_deref(),
            Some("::")
        );
        assert_eq!(
            prefix_addr(&IpPrefix::V6(v6("2001:db8:0:1:0:0:0:1"), 64)).as_deref(),
            Some("2001:db8:0:1::1")
        );
        assert_eq!(
            prefix_addr(&IpPrefix::V6(v6("::ffff:1.2.3.4"), 128)).as_deref(),
            Some("::ffff:1.2.3.4")
        );
        assert_eq!(
            prefix_text(&IpPrefix::V4([192, 168, 0, 0], 16)),
            ("192.168.0.0".to_string(), 16)
        );
    }

    #[test]
    fn endpoints() {
        let ep = Endpoint::V4 {
            addr: [192, 0, 2, 1],
            port: 51820,
        };
        assert_eq!(endpoint_text(&ep).as_deref(), Ok("192.0.2.1:51820"));
        let ep = Endpoint::V6 {
            addr: v6("2001:db8::1"),
            port: 443,
            flowinfo: 0,
            scope_id: 0,
        };
        assert_eq!(endpoint_text(&ep).as_deref(), Ok("[2001:db8::1]:443"));
        // A scope on a global address is written as a number.
        let ep = Endpoint::V6 {
            addr: v6("2001:db8::2"),
            port: 1,
            flowinfo: 7,
            scope_id: 42,
        };
        assert_eq!(endpoint_text(&ep).as_deref(), Ok("[2001:db8::2%42]:1"));
    }
}
