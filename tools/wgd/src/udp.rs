//! The outer UDP sockets: one IPv4 and one IPv6 (IPV6_V6ONLY) on the same
//! port, never connected, so endpoints may roam.
//!
//! With offloads on (issue 13), datagrams of equal size to one endpoint go
//! out as one train with UDP_SEGMENT (GSO: one sendmsg, the kernel cuts it),
//! and UDP_GRO hands over trains of datagrams from one sender in one
//! recvmsg, cut by the caller at the size a control message gives. Both
//! fall back when the kernel refuses: a train goes out with sendmmsg, and
//! datagrams are received one per recvfrom.

use crate::sys::cvt;
use std::io;
use std::mem::size_of;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

/// Socket buffer size asked for (wireguard-go's 7 MiB).
const SOCKET_BUFFER: libc::c_int = 7 << 20;
const SOL_UDP: libc::c_int = 17;
const UDP_SEGMENT: libc::c_int = 103;
const UDP_GRO: libc::c_int = 104;
/// Datagrams in one GSO train (the kernel's UDP_MAX_SEGMENTS is 64 before
/// Linux 6.7, 128 after).
pub const MAX_TRAIN_SEGS: usize = 64;
/// Bytes in one GSO train: a UDP payload fits 65535 bytes less the IPv6
/// (40) or IPv4 (20) header and the UDP header.
pub const MAX_TRAIN_BYTES: usize = 65535 - 48;

/// Datagrams one receive call may return without UDP_GRO (recvmmsg), and
/// the room for each: a whole UDP payload, so nothing is truncated.
pub const RECV_SLOTS: usize = 16;
pub const RECV_SLOT: usize = 65536;

/// One receive: `buf[start..start + len]` from `from`, datagrams of `seg`
/// bytes (a GRO train) or one datagram (`seg == len`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    pub start: usize,
    pub len: usize,
    pub from: SocketAddr,
    pub seg: usize,
}

/// The buffers of a receiving thread, reused for every call.
pub struct RecvBatch {
    pub buf: Vec<u8>,
    pub got: Vec<Received>,
}

impl Default for RecvBatch {
    fn default() -> Self {
        RecvBatch {
            buf: vec![0u8; RECV_SLOTS * RECV_SLOT],
            got: Vec::with_capacity(RECV_SLOTS),
        }
    }
}

/// Where datagram trains go: the sockets, or a test's recorder.
pub trait TrainSink {
    /// Sends `buf` to `to` as datagrams of `seg` bytes (the last may be
    /// shorter).
    fn send_train(&self, buf: &[u8], seg: usize, to: SocketAddr) -> io::Result<()>;
}

/// One sealed datagram in a send buffer: `buf[start..start + len]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Datagram {
    pub to: SocketAddr,
    pub start: usize,
    pub len: usize,
}

/// Sends datagrams laid out back to back in `buf` as few trains as the
/// rules allow: one endpoint, one size (a shorter datagram ends its train),
/// contiguous, at most [`MAX_TRAIN_SEGS`] and [`MAX_TRAIN_BYTES`]. Returns
/// the first error; the other trains are still sent.
pub fn send_trains<S: TrainSink + ?Sized>(
    sink: &S,
    buf: &[u8],
    dgrams: &[Datagram],
) -> io::Result<()> {
    let mut r = Ok(());
    let mut i = 0;
    while i < dgrams.len() {
        let first = dgrams[i];
        let mut end = first.start + first.len;
        let mut j = i + 1;
        while j < dgrams.len() && j - i < MAX_TRAIN_SEGS {
            let d = dgrams[j];
            if d.to != first.to
                || d.start != end
                || d.len > first.len
                || end + d.len - first.start > MAX_TRAIN_BYTES
            {
                break;
            }
            end += d.len;
            j += 1;
            if d.len < first.len {
                break;
            }
        }
        let e = match buf.get(first.start..end) {
            Some(b) => sink.send_train(b, first.len, first.to),
            None => Err(io::Error::from_raw_os_error(libc::EINVAL)),
        };
        if r.is_ok() {
            r = e;
        }
        i = j;
    }
    r
}

/// A bound pair of sockets. Readers hold an `Arc<Bind>`; `close` stops them.
pub struct Bind {
    pub v4: Option<UdpSocket>,
    pub v6: Option<UdpSocket>,
    pub port: u16,
    closed: AtomicBool,
    /// UDP_SEGMENT may be used (offloads on and not refused yet).
    gso: AtomicBool,
    /// UDP_GRO is on for the v4 / v6 socket.
    pub gro: [bool; 2],
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

fn sockaddr_of(a: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain old data; all-zero is valid.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    match a {
        SocketAddr::V4(v) => {
            // SAFETY: sockaddr_storage is larger than and aligned for
            // sockaddr_in.
            let sin = unsafe {
                &mut *(&mut ss as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>()
            };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = v.port().to_be();
            sin.sin_addr.s_addr = u32::from_ne_bytes(v.ip().octets());
            (ss, size_of::<libc::sockaddr_in>() as libc::socklen_t)
        }
        SocketAddr::V6(v) => {
            // SAFETY: sockaddr_storage is larger than and aligned for
            // sockaddr_in6.
            let sin6 = unsafe {
                &mut *(&mut ss as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = v.port().to_be();
            sin6.sin6_addr.s6_addr = v.ip().octets();
            sin6.sin6_flowinfo = v.flowinfo();
            sin6.sin6_scope_id = v.scope_id();
            (ss, size_of::<libc::sockaddr_in6>() as libc::socklen_t)
        }
    }
}

fn addr_from(ss: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match libc::c_int::from(ss.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let sin =
                unsafe { &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = std::net::Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Some(SocketAddr::new(ip.into(), u16::from_be(sin.sin_port)))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let sin6 =
                unsafe { &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Some(SocketAddr::V6(std::net::SocketAddrV6::new(
                sin6.sin6_addr.s6_addr.into(),
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
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
    pub fn open(port: u16, mark: u32, offload: bool) -> io::Result<Bind> {
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
            let gro_on = |s: &Option<UdpSocket>| {
                offload
                    && s.as_ref()
                        .is_some_and(|s| set_int(s.as_raw_fd(), SOL_UDP, UDP_GRO, 1).is_ok())
            };
            let gro = [gro_on(&v4), gro_on(&v6)];
            return Ok(Bind {
                v4,
                v6,
                port,
                closed: AtomicBool::new(false),
                gso: AtomicBool::new(offload),
                gro,
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

    fn sock_for(&self, to: &SocketAddr) -> io::Result<&UdpSocket> {
        match to {
            SocketAddr::V4(_) => self.v4.as_ref(),
            SocketAddr::V6(_) => self.v6.as_ref(),
        }
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EAFNOSUPPORT))
    }

    /// One sendmsg with UDP_SEGMENT.
    fn send_gso(&self, sock: &UdpSocket, buf: &[u8], seg: usize, to: SocketAddr) -> io::Result<()> {
        let (mut sa, salen) = sockaddr_of(to);
        let mut iov = libc::iovec {
            iov_base: buf.as_ptr() as *mut libc::c_void,
            iov_len: buf.len(),
        };
        // u64s keep the control buffer aligned for cmsghdr.
        let mut cbuf = [0u64; 4];
        // SAFETY: msghdr is plain old data; all-zero is a valid value.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = (&mut sa as *mut libc::sockaddr_storage).cast();
        msg.msg_namelen = salen;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        // SAFETY: CMSG_SPACE only computes a size.
        msg.msg_controllen = unsafe { libc::CMSG_SPACE(2) } as _;
        // SAFETY: msg_control points at `cbuf`, large enough for one cmsg
        // with 2 bytes of data (CMSG_SPACE(2) = 24 <= 32), so the first
        // header and its data are within it.
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = SOL_UDP;
            (*c).cmsg_type = UDP_SEGMENT;
            (*c).cmsg_len = libc::CMSG_LEN(2) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<u16>(), seg as u16);
        }
        // SAFETY: every pointer in `msg` is valid for the call: the
        // address, the iovec over `buf` (only read), the control buffer.
        let n = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Receives what is there into `b`: one GRO train when the socket
    /// coalesces, else up to [`RECV_SLOTS`] datagrams with one recvmmsg
    /// (waiting for the first only). Empty after close.
    pub fn recv_batch(&self, v6: bool, b: &mut RecvBatch) -> io::Result<()> {
        b.got.clear();
        if self.gro[usize::from(v6)] {
            let (len, from, seg) = self.recv(v6, &mut b.buf[..RECV_SLOT])?;
            b.got.push(Received {
                start: 0,
                len,
                from,
                seg,
            });
            return Ok(());
        }
        let sock = if v6 { &self.v6 } else { &self.v4 }
            .as_ref()
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EAFNOSUPPORT))?;
        // SAFETY: plain old data; all-zero is valid for each.
        let mut names: [libc::sockaddr_storage; RECV_SLOTS] = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut iov: [libc::iovec; RECV_SLOTS] = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut msgs: [libc::mmsghdr; RECV_SLOTS] = unsafe { std::mem::zeroed() };
        for (i, chunk) in b.buf.chunks_mut(RECV_SLOT).take(RECV_SLOTS).enumerate() {
            iov[i] = libc::iovec {
                iov_base: chunk.as_mut_ptr().cast(),
                iov_len: chunk.len(),
            };
            let h = &mut msgs[i].msg_hdr;
            h.msg_name = (&mut names[i] as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_iov = &mut iov[i];
            h.msg_iovlen = 1;
        }
        // SAFETY: each mmsghdr points at its own address storage and at an
        // iovec over its own RECV_SLOT bytes of `b.buf`, all alive and
        // writable for the call.
        let n = unsafe {
            libc::recvmmsg(
                sock.as_raw_fd(),
                msgs.as_mut_ptr(),
                RECV_SLOTS as libc::c_uint,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        for (i, m) in msgs.iter().enumerate().take(n as usize) {
            // A datagram larger than its slot cannot be one of ours.
            if m.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                continue;
            }
            let Some(from) = addr_from(&names[i]) else {
                continue;
            };
            let len = m.msg_len as usize;
            b.got.push(Received {
                start: i * RECV_SLOT,
                len,
                from,
                seg: len,
            });
        }
        Ok(())
    }

    /// Receives one datagram or one GRO train into `buf`; returns its
    /// length, the sender and the size of its datagrams (the length when
    /// the kernel did not coalesce).
    pub fn recv(&self, v6: bool, buf: &mut [u8]) -> io::Result<(usize, SocketAddr, usize)> {
        let sock = if v6 { &self.v6 } else { &self.v4 }
            .as_ref()
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EAFNOSUPPORT))?;
        if !self.gro[usize::from(v6)] {
            let (n, src) = sock.recv_from(buf)?;
            return Ok((n, src, n));
        }
        // SAFETY: sockaddr_storage is plain old data; all-zero is valid.
        let mut sa: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let mut cbuf = [0u64; 8];
        // SAFETY: as in send_gso.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = (&mut sa as *mut libc::sockaddr_storage).cast();
        msg.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = size_of::<[u64; 8]>() as _;
        // SAFETY: every pointer in `msg` is valid and writable for the
        // sizes given: the address, the iovec over `buf`, the control
        // buffer.
        let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        let mut seg = n;
        // SAFETY: the kernel filled msg_controllen bytes of `cbuf`; the
        // CMSG macros walk only within them, and the UDP_GRO payload is an
        // int, read unaligned.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_level == SOL_UDP && (*c).cmsg_type == UDP_GRO {
                    let v = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::c_int>());
                    if v > 0 {
                        seg = v as usize;
                    }
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
        let src = addr_from(&sa).ok_or_else(|| io::Error::from_raw_os_error(libc::EAFNOSUPPORT))?;
        Ok((n, src, seg))
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

impl TrainSink for Bind {
    fn send_train(&self, buf: &[u8], seg: usize, to: SocketAddr) -> io::Result<()> {
        let sock = self.sock_for(&to)?;
        if buf.len() > seg && seg > 0 && self.gso.load(Ordering::Relaxed) {
            match self.send_gso(sock, buf, seg, to) {
                Ok(()) => return Ok(()),
                // No UDP GSO here (old kernel, or a device without
                // checksum offload): never again on these sockets.
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EIO) | Some(libc::ENOPROTOOPT) | Some(libc::EOPNOTSUPP)
                    ) =>
                {
                    self.gso.store(false, Ordering::Relaxed);
                }
                // This train only (e.g. a segment over the route's MTU).
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
                Err(e) => return Err(e),
            }
        }
        if buf.len() <= seg {
            return sock.send_to(buf, to).map(|_| ());
        }
        send_mmsg(sock, buf, seg.max(1), to)
    }
}

/// Sends `buf` cut into datagrams of `seg` bytes with sendmmsg: one
/// syscall for the train where UDP GSO is not to be had.
fn send_mmsg(sock: &UdpSocket, buf: &[u8], seg: usize, to: SocketAddr) -> io::Result<()> {
    let (mut sa, salen) = sockaddr_of(to);
    // SAFETY: iovec and mmsghdr are plain old data; all-zero is valid.
    let mut iov: [libc::iovec; MAX_TRAIN_SEGS] = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut msgs: [libc::mmsghdr; MAX_TRAIN_SEGS] = unsafe { std::mem::zeroed() };
    let mut chunks = buf.chunks(seg);
    loop {
        let mut k = 0;
        for d in chunks.by_ref().take(MAX_TRAIN_SEGS) {
            iov[k] = libc::iovec {
                iov_base: d.as_ptr() as *mut libc::c_void,
                iov_len: d.len(),
            };
            let h = &mut msgs[k].msg_hdr;
            h.msg_name = (&mut sa as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = salen;
            h.msg_iov = &mut iov[k];
            h.msg_iovlen = 1;
            k += 1;
        }
        if k == 0 {
            return Ok(());
        }
        let mut sent = 0;
        while sent < k {
            // SAFETY: msgs[sent..k] point at `sa` and at iovecs over `buf`,
            // all alive and unchanged for the call; the kernel only reads
            // them (and writes msg_len).
            let n = unsafe {
                libc::sendmmsg(
                    sock.as_raw_fd(),
                    msgs[sent..].as_mut_ptr(),
                    (k - sent) as libc::c_uint,
                    0,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            sent += (n as usize).max(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// Records trains as (start offset in the buffer, length, segment size, to).
    struct Rec<'a>(&'a [u8], RefCell<Vec<(usize, usize, usize, SocketAddr)>>);

    impl TrainSink for Rec<'_> {
        fn send_train(&self, buf: &[u8], seg: usize, to: SocketAddr) -> io::Result<()> {
            let start = buf.as_ptr() as usize - self.0.as_ptr() as usize;
            self.1.borrow_mut().push((start, buf.len(), seg, to));
            Ok(())
        }
    }

    #[test]
    fn trains_follow_the_rules() {
        let a: SocketAddr = "10.0.0.1:1".parse().unwrap();
        let b: SocketAddr = "[fd00::1]:2".parse().unwrap();
        let buf = vec![0u8; 400_000];
        let mut d = Vec::new();
        let mut at = 0;
        let mut push = |to, len| {
            d.push(Datagram { to, start: at, len });
            at += len;
        };
        for _ in 0..3 {
            push(a, 100);
        }
        push(a, 60); // shorter: ends the train
        push(a, 100);
        push(b, 100); // another endpoint
        push(b, 120); // larger: a new train
        for _ in 0..100 {
            push(b, 1452); // more than 64 KiB and 64 segments
        }
        let rec = Rec(&buf, RefCell::new(Vec::new()));
        send_trains(&rec, &buf, &d).unwrap();
        let t = rec.1.into_inner();
        assert_eq!(t[0], (0, 360, 100, a));
        assert_eq!(t[1], (360, 100, 100, a));
        assert_eq!(t[2], (460, 100, 100, b));
        assert_eq!(t[3].1, 120);
        // Every datagram is sent exactly once, in order, within limits.
        let total: usize = t.iter().map(|x| x.1).sum();
        assert_eq!(total, at);
        let mut next = 0;
        for (start, len, seg, _) in &t {
            assert_eq!(*start, next);
            assert!(*len <= MAX_TRAIN_BYTES && len.div_ceil(*seg) <= MAX_TRAIN_SEGS);
            next += len;
        }
    }

    #[test]
    fn gso_and_gro_on_loopback() {
        round_trip(true);
    }

    #[test]
    fn mmsg_without_offloads() {
        round_trip(false);
    }

    fn round_trip(offload: bool) {
        let tx = Bind::open(0, 0, offload).unwrap();
        let rx = Bind::open(0, 0, offload).unwrap();
        let to: SocketAddr = format!("127.0.0.1:{}", rx.port).parse().unwrap();
        let mut data = vec![0u8; 10 * 1000 + 300];
        for (i, b) in data.iter_mut().enumerate() {
            *b = (i / 1000) as u8;
        }
        tx.send_train(&data, 1000, to).unwrap();
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65536];
        rx.v4
            .as_ref()
            .unwrap()
            .set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .unwrap();
        let mut rb = RecvBatch::default();
        while got.len() < data.len() {
            if offload {
                let (n, _src, seg) = rx.recv(false, &mut buf).unwrap();
                for d in buf[..n].chunks(seg) {
                    assert!(d.len() <= 1000);
                    got.extend_from_slice(d);
                }
            } else {
                rx.recv_batch(false, &mut rb).unwrap();
                for r in &rb.got {
                    assert_eq!(r.from.ip(), to.ip());
                    got.extend_from_slice(&rb.buf[r.start..r.start + r.len]);
                }
            }
        }
        assert_eq!(got, data);
    }
}
