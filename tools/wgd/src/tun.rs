//! The Linux TUN device: /dev/net/tun with TUNSETIFF (IFF_TUN | IFF_NO_PI,
//! and IFF_VNET_HDR with TUNSETOFFLOAD when offloads are on), and its MTU
//! set with SIOCSIFMTU.

use crate::sys::cvt;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// _IOW('T', 202, int)
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const IFF_TUN: libc::c_short = 0x0001;
const IFF_NO_PI: libc::c_short = 0x1000;
const IFF_VNET_HDR: libc::c_short = 0x4000;
/// _IOW('T', 208, unsigned int)
const TUNSETOFFLOAD: libc::c_ulong = 0x4004_54d0;
const TUN_F_CSUM: libc::c_uint = 0x01;
const TUN_F_TSO4: libc::c_uint = 0x02;
const TUN_F_TSO6: libc::c_uint = 0x04;
const TUN_F_USO4: libc::c_uint = 0x20;
const TUN_F_USO6: libc::c_uint = 0x40;

/// What the device does beyond plain packets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Offloads {
    /// Every read and write carries a virtio_net_hdr (offload.rs).
    pub vnet_hdr: bool,
    /// The kernel may hand over TCP super-packets (TSO4/TSO6).
    pub tso: bool,
    /// ... and UDP ones (USO, Linux 6.2 and later).
    pub uso: bool,
}

/// The MTU wireguard-go gives a new interface.
pub const DEFAULT_MTU: u32 = 1420;

/// Checks an interface name as the kernel's dev_valid_name does, so the
/// user gets a clear message instead of an ioctl's EINVAL.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("interface name is empty".into());
    }
    if name.len() >= libc::IFNAMSIZ {
        return Err(format!(
            "interface name '{name}' is too long ({} bytes, at most {})",
            name.len(),
            libc::IFNAMSIZ - 1
        ));
    }
    if name == "." || name == ".." {
        return Err(format!("interface name '{name}' is not allowed"));
    }
    if name
        .bytes()
        .any(|b| b == b'/' || b == b':' || b == 0 || b.is_ascii_whitespace())
    {
        return Err(format!(
            "interface name '{name}' contains '/', ':', NUL or whitespace"
        ));
    }
    Ok(())
}

fn ifreq_for(name: &str) -> libc::ifreq {
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in ifr.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    ifr
}

fn set_offload(file: &File, flags: libc::c_uint) -> io::Result<()> {
    // SAFETY: the fd is open; TUNSETOFFLOAD takes its argument by value.
    cvt(unsafe { libc::ioctl(file.as_raw_fd(), TUNSETOFFLOAD as _, flags as libc::c_ulong) })?;
    Ok(())
}

/// Creates (or attaches to) the TUN interface `name`; returns the device
/// file, the name the kernel gave it and the offloads in force. With
/// `offload`, asks for virtio-net headers and TSO/USO, falling back step by
/// step to what the kernel and the device accept (a pre-made device may
/// refuse the vnet header; kernels before 6.2 lack USO).
pub fn create(name: &str, offload: bool) -> io::Result<(File, String, Offloads)> {
    let open = || {
        OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/net/tun")
    };
    let mut file = open()?;
    let mut ifr = ifreq_for(name);
    let mut off = Offloads::default();
    let mut rc = -1;
    if offload {
        ifr.ifr_ifru.ifru_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR;
        // SAFETY: the fd is open; `ifr` is a valid ifreq that TUNSETIFF
        // reads and writes (the kernel fills in the final name).
        rc = unsafe { libc::ioctl(file.as_raw_fd(), TUNSETIFF as _, &mut ifr) };
        off.vnet_hdr = rc == 0;
    }
    if rc != 0 {
        if offload {
            // A failed TUNSETIFF leaves the file unattached; start afresh.
            file = open()?;
        }
        ifr = ifreq_for(name);
        ifr.ifr_ifru.ifru_flags = IFF_TUN | IFF_NO_PI;
        // SAFETY: as above.
        cvt(unsafe { libc::ioctl(file.as_raw_fd(), TUNSETIFF as _, &mut ifr) })?;
    }
    if off.vnet_hdr {
        let tso = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
        if set_offload(&file, tso | TUN_F_USO4 | TUN_F_USO6).is_ok() {
            off.tso = true;
            off.uso = true;
        } else if set_offload(&file, tso).is_ok() {
            off.tso = true;
        }
        // Neither: the headers stay (they cannot be turned off on an
        // attached file) and every packet comes with GSO_NONE.
    }
    let actual: Vec<u8> = ifr
        .ifr_name
        .iter()
        .take_while(|c| **c != 0)
        .map(|c| *c as u8)
        .collect();
    Ok((file, String::from_utf8_lossy(&actual).into_owned(), off))
}

fn ctl_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2) call; the result is checked before use.
    let fd = cvt(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `fd` was just returned by socket(2) and is owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sets the interface's MTU (SIOCSIFMTU).
pub fn set_mtu(name: &str, mtu: u32) -> io::Result<()> {
    let sock = ctl_socket()?;
    let mut ifr = ifreq_for(name);
    ifr.ifr_ifru.ifru_mtu = mtu as libc::c_int;
    // SAFETY: `sock` is an open socket and `ifr` a valid ifreq.
    cvt(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFMTU as _, &ifr) })?;
    Ok(())
}

/// Reads the interface's MTU (SIOCGIFMTU).
pub fn get_mtu(name: &str) -> io::Result<u32> {
    let sock = ctl_socket()?;
    let mut ifr = ifreq_for(name);
    // SAFETY: `sock` is an open socket and `ifr` a valid, writable ifreq.
    cvt(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFMTU as _, &mut ifr) })?;
    // SAFETY: SIOCGIFMTU filled in the mtu member of the union.
    Ok(unsafe { ifr.ifr_ifru.ifru_mtu } as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("wg0").is_ok());
        assert!(check_name("a23456789012345").is_ok());
        assert!(check_name("a234567890123456").is_err());
        assert!(check_name("").is_err());
        assert!(check_name("..").is_err());
        assert!(check_name("a/b").is_err());
        assert!(check_name("a b").is_err());
    }
}
