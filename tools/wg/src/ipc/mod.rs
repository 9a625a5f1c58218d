//! Talking to WireGuard interfaces: the FreeBSD kernel's SIOCSWG/SIOCGWG
//! ioctls (nvlist) and the cross-platform UAPI socket in
//! /var/run/wireguard/, picked per interface as wireguard-tools picks:
//! a live UAPI socket wins, any other name goes to the kernel. On Linux
//! "the kernel" is its generic netlink family `wireguard`, asked as
//! wireguard-tools asks it, so that the errno (and the message) for a name
//! it does not serve is the same: EPROTONOSUPPORT without the family,
//! the kernel's own answer (ENODEV...) with it (see linux.rs). Elsewhere
//! off FreeBSD the kernel knows no names (ENODEV).

use std::io;
use std::path::Path;
pub use wg_core::config::{DeviceInfo, DeviceUpdate};

// Built and unit-tested everywhere; on Linux only its listing is used.
#[cfg_attr(target_os = "linux", allow(dead_code))]
mod freebsd;
#[cfg(target_os = "linux")]
mod linux;
mod uapi;

#[cfg(not(target_os = "linux"))]
use freebsd as kernel;
/// The kernel backend for names without a UAPI socket.
#[cfg(target_os = "linux")]
use linux as kernel;

fn socket_dir() -> &'static Path {
    Path::new(uapi::SOCKET_DIR)
}

/// Every WireGuard interface on the system: the kernel's, then the
/// userspace daemons' in directory order, as wg(8) lists them (so `wg
/// show` prints them in the same order), each name once.
pub fn list_devices() -> io::Result<Vec<String>> {
    let mut names = freebsd::list()?;
    for name in uapi::list(socket_dir())? {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Ok(names)
}

/// The configuration and state of one interface. The public key is always
/// filled in when a private key is set.
pub fn get_device(name: &str) -> io::Result<DeviceInfo> {
    if uapi::has_interface(socket_dir(), name) {
        uapi::get(socket_dir(), name)
    } else {
        kernel::get(name)
    }
}

/// Applies an update to one interface.
pub fn set_device(name: &str, update: &DeviceUpdate) -> io::Result<()> {
    if uapi::has_interface(socket_dir(), name) {
        uapi::set(socket_dir(), name, update)
    } else {
        kernel::set(name, update)
    }
}
