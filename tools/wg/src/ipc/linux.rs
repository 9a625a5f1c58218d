//! Linux's kernel backend, as far as this `wg` goes: for a name without a
//! UAPI socket, wireguard-tools asks the kernel over generic netlink
//! (`mnlg_socket_open("wireguard")`, then `WG_CMD_GET_DEVICE` or
//! `WG_CMD_SET_DEVICE`), and what it prints is the errno of that exchange.
//! This module makes the same exchange up to the point where it fails:
//!
//! - the netlink socket cannot be opened or bound: that errno;
//! - the kernel has no generic netlink family `wireguard` (no module, or
//!   one that cannot be loaded): its ENOENT, which wireguard-tools turns
//!   into EPROTONOSUPPORT ("Protocol not supported");
//! - the family exists: a `WG_CMD_GET_DEVICE` dump for the name, and the
//!   kernel's answer: ENODEV (no such interface), EOPNOTSUPP (not a
//!   WireGuard interface), EPERM (not allowed), EINVAL (a bad name)...
//!   The set command fails in the same cases with the same errno (both
//!   look the interface up the same way, under the same permission).
//!
//! A real kernel WireGuard interface is found but not read or changed:
//! this `wg` does not speak the kernel's configuration attributes, and
//! answers EOPNOTSUPP.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use wg_core::config::{DeviceInfo, DeviceUpdate};

const NETLINK_GENERIC: libc::c_int = 16;
const NLMSG_HDRLEN: usize = 16;
const GENL_HDRLEN: usize = 4;
const NLA_HDRLEN: usize = 4;

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_MULTI: u16 = 0x2;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;

const NLMSG_NOOP: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_OVERRUN: u16 = 4;

const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;

const WG_GENL_NAME: &str = "wireguard";
const WG_GENL_VERSION: u8 = 1;
const WG_CMD_GET_DEVICE: u8 = 0;
const WGDEVICE_A_IFNAME: u16 = 2;

/// Bounds every wait for the kernel's answer.
const RECV_TIMEOUT_SECS: libc::time_t = 5;

pub fn get(name: &str) -> io::Result<DeviceInfo> {
    Err(io::Error::from_raw_os_error(kernel_errno(name)))
}

pub fn set(name: &str, _update: &DeviceUpdate) -> io::Result<()> {
    Err(io::Error::from_raw_os_error(kernel_errno(name)))
}

/// The errno wireguard-tools' kernel backend ends with for `name`.
fn kernel_errno(name: &str) -> i32 {
    let sock = match Genl::open() {
        Ok(s) => s,
        Err(e) => return e,
    };
    let family = match sock.family_id(WG_GENL_NAME) {
        Ok(id) => id,
        Err(e) => return e,
    };
    match sock.get_device(family, name) {
        Err(e) => e,
        // A kernel WireGuard interface: not something this wg reads.
        Ok(()) => libc::EOPNOTSUPP,
    }
}

fn last_errno() -> i32 {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// One generic netlink request with one string attribute, as libmnl lays
/// it out (`mnl_attr_put_strz`: the NUL counted, padded to 4).
fn request(ty: u16, flags: u16, seq: u32, cmd: u8, version: u8, attr: u16, value: &str) -> Vec<u8> {
    let alen = NLA_HDRLEN + value.len() + 1;
    let total = NLMSG_HDRLEN + GENL_HDRLEN + align4(alen);
    let mut m = Vec::with_capacity(total);
    m.extend_from_slice(&(total as u32).to_ne_bytes());
    m.extend_from_slice(&ty.to_ne_bytes());
    m.extend_from_slice(&flags.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&[cmd, version, 0, 0]);
    m.extend_from_slice(&(alen as u16).to_ne_bytes());
    m.extend_from_slice(&attr.to_ne_bytes());
    m.extend_from_slice(value.as_bytes());
    m.resize(total, 0);
    m
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// What one message of an answer means for the exchange.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// Read on.
    More,
    /// The exchange ended well.
    Done,
    /// The exchange failed with this errno.
    Failed(i32),
}

/// libmnl's control callbacks as wireguard-tools installs them
/// (`mnlg_cb_error`, `mnlg_cb_stop`); data messages go to `data`.
fn on_message(ty: u16, flags: u16, payload: &[u8], data: &mut dyn FnMut(&[u8]) -> Step) -> Step {
    let errno_of = |e: i32| if e < 0 { e.wrapping_neg() } else { e };
    match ty {
        NLMSG_NOOP | NLMSG_OVERRUN => Step::More,
        NLMSG_ERROR => {
            // struct nlmsgerr: the error, then the request's header.
            if payload.len() < 4 + NLMSG_HDRLEN {
                return Step::Failed(libc::EBADMSG);
            }
            match u32_at(payload, 0).map(|e| e as i32) {
                Some(0) => Step::Done,
                Some(e) => Step::Failed(errno_of(e)),
                None => Step::Failed(libc::EBADMSG),
            }
        }
        NLMSG_DONE => {
            if flags & NLM_F_MULTI != 0 && payload.len() == 4 {
                match u32_at(payload, 0).map(|e| e as i32) {
                    Some(0) | None => Step::Done,
                    Some(e) => Step::Failed(errno_of(e)),
                }
            } else {
                Step::Done
            }
        }
        _ => data(payload),
    }
}

/// Runs `on_message` over the messages of one datagram that answer `seq`.
fn on_datagram(buf: &[u8], seq: u32, data: &mut dyn FnMut(&[u8]) -> Step) -> Step {
    let mut at = 0;
    while at + NLMSG_HDRLEN <= buf.len() {
        let (Some(len), Some(ty), Some(flags), Some(mseq)) = (
            u32_at(buf, at),
            u16_at(buf, at + 4),
            u16_at(buf, at + 6),
            u32_at(buf, at + 8),
        ) else {
            break;
        };
        let len = len as usize;
        if len < NLMSG_HDRLEN || at + len > buf.len() {
            return Step::Failed(libc::EBADMSG);
        }
        if mseq == seq {
            let step = on_message(ty, flags, &buf[at + NLMSG_HDRLEN..at + len], data);
            if step != Step::More {
                return step;
            }
        }
        at += align4(len);
    }
    Step::More
}

/// The `CTRL_ATTR_FAMILY_ID` of a `CTRL_CMD_GETFAMILY` answer (the payload
/// after the netlink header).
fn family_id_of(payload: &[u8]) -> Option<u16> {
    let mut at = GENL_HDRLEN;
    while at + NLA_HDRLEN <= payload.len() {
        let len = u16_at(payload, at)? as usize;
        let ty = u16_at(payload, at + 2)? & 0x3fff;
        if len < NLA_HDRLEN || at + len > payload.len() {
            return None;
        }
        if ty == CTRL_ATTR_FAMILY_ID && len == NLA_HDRLEN + 2 {
            return u16_at(payload, at + NLA_HDRLEN);
        }
        at += align4(len);
    }
    None
}

/// A bound NETLINK_GENERIC socket.
struct Genl {
    fd: OwnedFd,
}

impl Genl {
    fn open() -> Result<Genl, i32> {
        // SAFETY: socket(2) takes no pointers; the result is checked.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                NETLINK_GENERIC,
            )
        };
        if fd < 0 {
            return Err(last_errno());
        }
        // SAFETY: fd is a fresh descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: an all-zero sockaddr_nl is valid (nl_pid 0: the kernel
        // picks the port, as MNL_SOCKET_AUTOPID).
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // SAFETY: `addr` is a valid sockaddr_nl of the size passed.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(last_errno());
        }
        let tv = libc::timeval {
            tv_sec: RECV_TIMEOUT_SECS,
            tv_usec: 0,
        };
        // SAFETY: `tv` is a valid timeval of the size passed. A failure
        // only loses the bound on the wait.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            );
        }
        Ok(Genl { fd })
    }

    /// Sends `msg` and reads answers to `seq` until one ends the exchange.
    fn exchange(
        &self,
        msg: &[u8],
        seq: u32,
        data: &mut dyn FnMut(&[u8]) -> Step,
    ) -> Result<(), i32> {
        // SAFETY: an all-zero sockaddr_nl addresses the kernel.
        let mut to: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        to.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // SAFETY: `msg` and `to` are valid for the lengths passed.
        let r = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                msg.as_ptr().cast(),
                msg.len(),
                0,
                (&to as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(last_errno());
        }
        let mut buf = vec![0u8; 32768];
        // Bounded: every read waits at most RECV_TIMEOUT_SECS, and a dump
        // of one interface is a handful of datagrams.
        for _ in 0..4096 {
            // SAFETY: `buf` is valid for writes of its length.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_TRUNC,
                )
            };
            if n < 0 {
                let e = last_errno();
                if e == libc::EINTR {
                    continue;
                }
                return Err(e);
            }
            let n = n as usize;
            if n == 0 {
                // libmnl stops here with errno unset: ENOSYS upstream.
                return Err(libc::ENOSYS);
            }
            if n > buf.len() {
                return Err(libc::ENOSPC);
            }
            match on_datagram(&buf[..n], seq, data) {
                Step::More => {}
                Step::Done => return Ok(()),
                Step::Failed(e) => return Err(e),
            }
        }
        Err(libc::EIO)
    }

    /// `mnlg_socket_open`: the family's id; a missing family is
    /// EPROTONOSUPPORT, as wireguard-tools maps the kernel's ENOENT.
    fn family_id(&self, family: &str) -> Result<u16, i32> {
        let seq = seq();
        let msg = request(
            GENL_ID_CTRL,
            NLM_F_REQUEST | NLM_F_ACK,
            seq,
            CTRL_CMD_GETFAMILY,
            1,
            CTRL_ATTR_FAMILY_NAME,
            family,
        );
        let mut id = None;
        let r = self.exchange(&msg, seq, &mut |payload| match family_id_of(payload) {
            Some(i) => {
                id = Some(i);
                Step::More
            }
            // get_family_id_cb fails with errno unset: ENOSYS upstream.
            None => Step::Failed(libc::ENOSYS),
        });
        match r {
            Err(libc::ENOENT) => Err(libc::EPROTONOSUPPORT),
            Err(e) => Err(e),
            Ok(()) => id.ok_or(libc::ENOSYS),
        }
    }

    /// `WG_CMD_GET_DEVICE` for `name`, as wireguard-tools dumps it: Ok
    /// once the kernel starts describing the interface.
    fn get_device(&self, family: u16, name: &str) -> Result<(), i32> {
        let seq = seq();
        let msg = request(
            family,
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP,
            seq,
            WG_CMD_GET_DEVICE,
            WG_GENL_VERSION,
            WGDEVICE_A_IFNAME,
            name,
        );
        let mut found = false;
        let r = self.exchange(&msg, seq, &mut |_| {
            found = true;
            Step::Done
        });
        match r {
            Ok(()) if found => Ok(()),
            // An empty dump: wireguard-tools would show an empty device;
            // nothing this wg can read either.
            Ok(()) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// A sequence number, as libmnl's users pick it (the time).
fn seq() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(ty: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let len = NLMSG_HDRLEN + payload.len();
        let mut m = Vec::new();
        m.extend_from_slice(&(len as u32).to_ne_bytes());
        m.extend_from_slice(&ty.to_ne_bytes());
        m.extend_from_slice(&flags.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(payload);
        m.resize(align4(len), 0);
        m
    }

    fn nlmsgerr(e: i32) -> Vec<u8> {
        let mut p = e.to_ne_bytes().to_vec();
        p.extend_from_slice(&[0; NLMSG_HDRLEN]);
        p
    }

    #[test]
    fn requests_are_laid_out_as_libmnl_does() {
        let m = request(
            GENL_ID_CTRL,
            NLM_F_REQUEST | NLM_F_ACK,
            7,
            CTRL_CMD_GETFAMILY,
            1,
            CTRL_ATTR_FAMILY_NAME,
            "wireguard",
        );
        // 16 + 4 + align4(4 + 10) = 36.
        assert_eq!(m.len(), 36);
        assert_eq!(u32_at(&m, 0), Some(36));
        assert_eq!(u16_at(&m, 4), Some(GENL_ID_CTRL));
        assert_eq!(u16_at(&m, 6), Some(5));
        assert_eq!(u32_at(&m, 8), Some(7));
        assert_eq!(&m[16..20], &[CTRL_CMD_GETFAMILY, 1, 0, 0]);
        assert_eq!(u16_at(&m, 20), Some(14));
        assert_eq!(u16_at(&m, 22), Some(CTRL_ATTR_FAMILY_NAME));
        assert_eq!(&m[24..34], b"wireguard\0");
        assert_eq!(&m[34..], &[0, 0]);
    }

    #[test]
    fn answers_map_to_errnos() {
        let mut never = |_: &[u8]| -> Step { panic!("no data expected") };
        let e = msg(NLMSG_ERROR, 0, 9, &nlmsgerr(-libc::ENOENT));
        assert_eq!(on_datagram(&e, 9, &mut never), Step::Failed(libc::ENOENT));
        let e = msg(NLMSG_ERROR, 0, 9, &nlmsgerr(-libc::ENODEV));
        assert_eq!(on_datagram(&e, 9, &mut never), Step::Failed(libc::ENODEV));
        let ack = msg(NLMSG_ERROR, 0, 9, &nlmsgerr(0));
        assert_eq!(on_datagram(&ack, 9, &mut never), Step::Done);
        // Another exchange's answer is skipped.
        assert_eq!(on_datagram(&e, 8, &mut never), Step::More);
        // A short error message.
        let short = msg(NLMSG_ERROR, 0, 9, &[1, 2, 3, 4]);
        assert_eq!(
            on_datagram(&short, 9, &mut never),
            Step::Failed(libc::EBADMSG)
        );
        // A dump's end with an error.
        let done = msg(NLMSG_DONE, NLM_F_MULTI, 9, &(-libc::EPERM).to_ne_bytes());
        assert_eq!(on_datagram(&done, 9, &mut never), Step::Failed(libc::EPERM));
        let done = msg(NLMSG_DONE, NLM_F_MULTI, 9, &0i32.to_ne_bytes());
        assert_eq!(on_datagram(&done, 9, &mut never), Step::Done);
    }

    #[test]
    fn family_id_is_found_among_attributes() {
        let mut p = vec![CTRL_CMD_GETFAMILY, 2, 0, 0];
        // CTRL_ATTR_FAMILY_NAME "wireguard", then CTRL_ATTR_FAMILY_ID 0x1d.
        p.extend_from_slice(&14u16.to_ne_bytes());
        p.extend_from_slice(&CTRL_ATTR_FAMILY_NAME.to_ne_bytes());
        p.extend_from_slice(b"wireguard\0\0\0");
        p.extend_from_slice(&6u16.to_ne_bytes());
        p.extend_from_slice(&CTRL_ATTR_FAMILY_ID.to_ne_bytes());
        p.extend_from_slice(&0x1du16.to_ne_bytes());
        p.extend_from_slice(&[0, 0]);
        assert_eq!(family_id_of(&p), Some(0x1d));
        assert_eq!(family_id_of(&p[..20]), None);
        let m = [
            msg(GENL_ID_CTRL, 0, 3, &p),
            msg(NLMSG_ERROR, 0, 3, &nlmsgerr(0)),
        ]
        .concat();
        let mut id = None;
        let step = on_datagram(&m, 3, &mut |payload| {
            id = family_id_of(payload);
            Step::More
        });
        assert_eq!((step, id), (Step::Done, Some(0x1d)));
    }

    /// On this machine, whatever its kernel: the answer is an errno, never
    /// a hang, and a missing family reads as EPROTONOSUPPORT.
    #[test]
    fn the_kernel_answers_for_a_missing_name() {
        let e = kernel_errno("wgnosuch9");
        assert_ne!(e, 0);
        if let Ok(s) = Genl::open() {
            // The controller's own family is always there; it has no
            // command 0, and says so as an errno.
            assert_eq!(s.family_id("nlctrl"), Ok(GENL_ID_CTRL));
            assert_eq!(
                s.get_device(GENL_ID_CTRL, "wgnosuch9"),
                Err(libc::EOPNOTSUPP)
            );
            assert_eq!(s.family_id("nosuchfam9"), Err(libc::EPROTONOSUPPORT));
            if s.family_id(WG_GENL_NAME) == Err(libc::EPROTONOSUPPORT) {
                assert_eq!(e, libc::EPROTONOSUPPORT);
            }
        }
    }
}
