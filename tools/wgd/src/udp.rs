//! The outer UDP sockets: one IPv4 and one IPv6 (IPV6_V6ONLY) on the same
//! port, never connected, so endpoints may roam.

use crate::sys::cvt;
use std::io;
use std::mem::size_of;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

/// Socket buffer size asked for (wireguard-go's 7 MiB).
const SOCKET_BUFFER: libc::c_int = 7 << 20;

/// A bound pair of sockets. Readers hold an `Arc<Bind>`; `close` stops them.
pub struct Bind {
    pub v4: Option<UdpSocket>,
    pub v6: Option<UdpSocket>,
    pub port: u16,
    closed: AtomicBool,
}

fn set_int(
    fd: libc::c_int,
    level: libc::c_int,
    opt: libc::c_int,
    v: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `v` lives across the call and its size is passed correctly.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            level,
            opt,
            (&v as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

fn bind_one(v6: bool, port: u16, mark: u32) -> io::Result<UdpSocket> {
    let family = if v6 { libc::AF_INET6 } else { libc::AF_INET };
    // SAFETY: plain socket(2) call; the result is checked before use.
    let fd = cvt(unsafe { libc::socket(family, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `fd` was just returned by socket(2) and nothing else owns it.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    if v6 {
        set_int(fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 1)?;
    }
    if mark != 0 {
        set_int(fd, libc::SOL_SOCKET, libc::SO_MARK, mark as libc::c_int)?;
    }
    // Large buffers, as wireguard-go: the FORCE variants pass the sysctl
    // caps when privileged; otherwise take what the caps allow.
    for (force, plain) in [
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
    ] {
        if set_int(fd, libc::SOL_SOCKET, force, SOCKET_BUFFER).is_err() {
            let _ = set_int(fd, libc::SOL_SOCKET, plain, SOCKET_BUFFER);
        }
    }
    let rc = if v6 {
        // SAFETY: sockaddr_in6 is plain old data; all-zero is `::`.
        let mut sa: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
        sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
        sa.sin6_port = port.to_be();
        // SAFETY: `sa` is a valid sockaddr_in6 and its size is passed.
        unsafe {
            libc::bind(
                fd,
                (&sa as *const libc::sockaddr_in6).cast(),
                size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            )
        }
    } else {
        // SAFETY: sockaddr_in is plain old data; all-zero is 0.0.0.0.
        let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        sa.sin_family = libc::AF_INET as libc::sa_family_t;
        sa.sin_port = port.to_be();
        // SAFETY: `sa` is a valid sockaddr_in and its size is passed.
        unsafe {
            libc::bind(
                fd,
                (&sa as *const libc::sockaddr_in).cast(),
                size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        }
    };
    cvt(rc)?;
    Ok(UdpSocket::from(owned))
}

fn no_family(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EAFNOSUPPORT) | Some(libc::EADDRNOTAVAIL) | Some(libc::EPROTONOSUPPORT)
    )
}

impl Bind {
    /// Binds both families to `port` (0: a random port, the same for both,
    /// retried a few times when the v6 half of a random port is taken). A
    /// family the host lacks is skipped; at least one must bind.
    pub fn open(port: u16, mark: u32) -> io::Result<Bind> {
        let tries = if port == 0 { 100 } else { 1 };
        let mut last = io::Error::from_raw_os_error(libc::EADDRINUSE);
        for _ in 0..tries {
            let v4 = match bind_one(false, port, mark) {
                Ok(s) => Some(s),
                Err(e) if no_family(&e) => None,
                Err(e) => return Err(e),
            };
            let bound = match &v4 {
                Some(s) => s.local_addr()?.port(),
                None => port,
            };
            let v6 = match bind_one(true, bound, mark) {
                Ok(s) => Some(s),
                Err(e) if no_family(&e) => None,
                Err(e) if port == 0 && e.raw_os_error() == Some(libc::EADDRINUSE) => {
                    last = e;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let port = match (&v4, &v6) {
                (None, None) => return Err(io::Error::from_raw_os_error(libc::EAFNOSUPPORT)),
                (_, Some(s)) => s.local_addr()?.port(),
                (Some(s), None) => s.local_addr()?.port(),
            };
            return Ok(Bind {
                v4,
                v6,
                port,
                closed: AtomicBool::new(false),
            });
        }
        Err(last)
    }

    pub fn set_mark(&self, mark: u32) -> io::Result<()> {
        for s in self.v4.iter().chain(self.v6.iter()) {
            set_int(
                s.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_MARK,
                mark as libc::c_int,
            )?;
        }
        Ok(())
    }

    /// Sends one datagram from the socket of the endpoint's family.
    pub fn send(&self, buf: &[u8], to: SocketAddr) -> io::Result<()> {
        let sock = match to {
            SocketAddr::V4(_) => self.v4.as_ref(),
            SocketAddr::V6(_) => self.v6.as_ref(),
        };
        match sock {
            Some(s) => s.send_to(buf, to).map(|_| ()),
            None => Err(io::Error::from_raw_os_error(libc::EAFNOSUPPORT)),
        }
    }

    /// Stops the readers: they see `is_closed` once shutdown(2) wakes them.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        for s in self.v4.iter().chain(self.v6.iter()) {
            // SAFETY: the fd is open while `self` lives; shutdown only wakes
            // blocked receivers.
            unsafe { libc::shutdown(s.as_raw_fd(), libc::SHUT_RDWR) };
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}
