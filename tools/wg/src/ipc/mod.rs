//! Talking to WireGuard interfaces: the FreeBSD kernel's SIOCSWG/SIOCGWG
//! ioctls (nvlist) and the cross-platform UAPI socket in
//! /var/run/wireguard/, picked per interface as wireguard-tools picks:
//! a live UAPI socket wins, any other name goes to the kernel. On Linux
//! "the kernel" is its generic netlink family `wireguard`, asked as
//! wireguard-tools asks it, so that the errno (and the message) for a name
//! it does not serve is the same: EPROTONOSUPPORT without the family,
//! the kernel's own answer (ENODEV...) with it (see linux.rs). Elsewhere
//! off FreeBSD the kernel knows no names (ENODEV).
//!
//! With `WG_KHARNESS_SOCKET=PATH` (any system), "the kernel" is the
//! FreeBSD module's code running in kharness, reached through its control
//! door at PATH with the FreeBSD backend (see kharness.rs). The door's
//! interfaces come first, as wg(8) on FreeBSD lists the kernel's before
//! the userspace daemons'; and a name goes to the door first, to a UAPI
//! socket only when the door does not know it (ENXIO), since kharness's
//! own UAPI bridge serves the same names and the point is to use the
//! ioctls.
use std::io;
use std::path::Path;
pub use wg_core::config::{DeviceInfo, DeviceUpdate};

// Built and unit-tested everywhere; on Linux used through kharness's door.
mod freebsd;
mod kharness;
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
    let mut names = match kharness::door_from_env() {
        Some(door) => kharness::list(&door)?,
        None => freebsd::list()?,
    };
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
    if let Some(door) = kharness::door_from_env() {
        return match kharness::get(&door, name) {
            Err(e) if unknown_to_door(&e, name) => uapi::get(socket_dir(), name),
            r => r,
        };
    }
    if uapi::has_interface(socket_dir(), name) {
        uapi::get(socket_dir(), name)
    } else {
        kernel::get(name)
    }
}

/// Applies an update to one interface.
pub fn set_device(name: &str, update: &DeviceUpdate) -> io::Result<()> {
    if let Some(door) = kharness::door_from_env() {
        return match kharness::set(&door, name, update) {
            Err(e) if unknown_to_door(&e, name) => uapi::set(socket_dir(), name, update),
            r => r,
        };
    }
    if uapi::has_interface(socket_dir(), name) {
        uapi::set(socket_dir(), name, update)
    } else {
        kernel::set(name, update)
    }
}

/// The door's kernel has no interface `name` (ENXIO, FreeBSD's answer
/// before anything is done), but a userspace daemon serves it.
fn unknown_to_door(e: &io::Error, name: &str) -> bool {
    e.raw_os_error() == Some(libc::ENXIO) && uapi::has_interface(socket_dir(), name)
}
