//! Talking to WireGuard interfaces: the FreeBSD kernel's SIOCSWG/SIOCGWG
//! ioctls (nvlist) and the cross-platform UAPI socket in
//! /var/run/wireguard/, picked per interface as wireguard-tools picks:
//! a live UAPI socket wins, any other name goes to the kernel. Off
//! FreeBSD the kernel knows no names (ENODEV, as Linux's wg(8) says for a
//! name its kernel does not know).

use std::io;
use std::path::Path;
pub use wg_core::config::{DeviceInfo, DeviceUpdate};

mod freebsd;
mod uapi;

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
        freebsd::get(name)
    }
}

/// Applies an update to one interface.
pub fn set_device(name: &str, update: &DeviceUpdate) -> io::Result<()> {
    if uapi::has_interface(socket_dir(), name) {
        uapi::set(socket_dir(), name, update)
    } else {
        freebsd::set(name, update)
    }
}
