//! The typed configuration model, shared by every encoding (FreeBSD's nvlist
//! ioctls, the cross-platform UAPI text) and every host.
//!
//! A [`DeviceUpdate`] says what to change, with the semantics of
//! wireguard-tools' `wg set`: absent fields are left alone, `replace_peers`
//! and `replace_allowed_ips` start from empty, `remove` deletes a peer,
//! `update_only` never creates one. [`DeviceUpdate::validate`] checks the
//! whole update against the limits before anything is applied, so a bad
//! request changes nothing.

use crate::allowedips::IpPrefix;
use crate::endpoint::Endpoint;
use crate::{Error, Result};
use alloc::vec::Vec;
use core::fmt;
use zeroize::Zeroize;

pub type Key = [u8; 32];

/// Limits on what one device may hold, so that untrusted configuration
/// cannot exhaust kernel memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_peers: usize,
    pub max_allowed_ips_per_peer: usize,
    pub max_allowed_ips_total: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // 100k peers and 1M routes must fit (docs/DESIGN.md section 6); the
            // caps sit a little above with room to spare.
            max_peers: 1 << 18,
            max_allowed_ips_per_peer: 1 << 20,
            max_allowed_ips_total: 1 << 21,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllowedIpChange {
    pub prefix: IpPrefix,
    /// Remove this prefix from the peer instead of adding it (FreeBSD's
    /// `flags` bit 0, UAPI `allowed_ip=-...`).
    pub remove: bool,
}

#[derive(Clone, Default, PartialEq, Eq)]
pub struct PeerUpdate {
    pub public_key: Key,
    pub remove: bool,
    pub update_only: bool,
    /// Some(None) clears the preshared key (an all-zero key means none too).
    pub preshared_key: Option<Option<Key>>,
    pub endpoint: Option<Endpoint>,
    /// Seconds; 0 turns it off.
    pub persistent_keepalive: Option<u16>,
    pub replace_allowed_ips: bool,
    pub allowed_ips: Vec<AllowedIpChange>,
}

#[derive(Clone, Default, PartialEq, Eq)]
pub struct DeviceUpdate {
    /// Some(None) removes the private key.
    pub private_key: Option<Option<Key>>,
    pub listen_port: Option<u16>,
    /// FreeBSD's user cookie (SO_USER_COOKIE) or Linux's fwmark; 0 = off.
    pub user_cookie: Option<u32>,
    pub replace_peers: bool,
    pub peers: Vec<PeerUpdate>,
}

impl DeviceUpdate {
    /// Wipes the keys the request carries. Updates are built with struct
    /// update syntax, which a Drop impl would forbid, so hosts call this
    /// once the update is applied.
    pub fn zeroize_secrets(&mut self) {
        if let Some(Some(k)) = self.private_key.as_mut() {
            k.zeroize();
        }
        for p in &mut self.peers {
            if let Some(Some(k)) = p.preshared_key.as_mut() {
                k.zeroize();
            }
        }
    }

    /// Checks the shape of the update against `limits`. The device checks
    /// what depends on its state (peer counts after the change) itself.
    pub fn validate(&self, limits: &Limits) -> Result<()> {
        if self.peers.len() > limits.max_peers {
            return Err(Error::TooBig);
        }
        let mut total = 0usize;
        for p in &self.peers {
            if p.allowed_ips.len() > limits.max_allowed_ips_per_peer {
                return Err(Error::TooBig);
            }
            total = total.saturating_add(p.allowed_ips.len());
            if let Some(Endpoint::V4 { port: 0, .. } | Endpoint::V6 { port: 0, .. }) = p.endpoint {
                return Err(Error::Invalid);
            }
        }
        if total > limits.max_allowed_ips_total {
            return Err(Error::TooBig);
        }
        Ok(())
    }
}

/// What `wg show` needs of a peer.
#[derive(Clone, PartialEq, Eq)]
pub struct PeerInfo {
    pub public_key: Key,
    /// None for unprivileged callers or when no key is set.
    pub preshared_key: Option<Key>,
    pub endpoint: Option<Endpoint>,
    /// Real time of the last completed handshake: (seconds, nanoseconds)
    /// since the epoch; (0, 0) = never.
    pub last_handshake: (u64, u32),
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub persistent_keepalive: u16,
    pub allowed_ips: Vec<IpPrefix>,
}

impl Drop for PeerInfo {
    fn drop(&mut self) {
        if let Some(k) = self.preshared_key.as_mut() {
            k.zeroize();
        }
    }
}

/// What `wg show` needs of the device.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// None for unprivileged callers or when no key is set.
    pub private_key: Option<Key>,
    pub public_key: Option<Key>,
    pub listen_port: u16,
    pub user_cookie: u32,
    pub peers: Vec<PeerInfo>,
}

impl Drop for DeviceInfo {
    fn drop(&mut self) {
        if let Some(k) = self.private_key.as_mut() {
            k.zeroize();
        }
    }
}

// Debug output says whether a secret key is there, never what it is: a
// host or a test failure that prints a configuration must not print its
// keys (rust/core/tests/no_keys_in_logs.rs).

fn secret(k: &Option<Key>) -> fmt::Arguments<'static> {
    match k {
        None => format_args!("None"),
        Some(_) => format_args!("Some(<secret>)"),
    }
}

fn secret_change(k: &Option<Option<Key>>) -> fmt::Arguments<'static> {
    match k {
        None => format_args!("None"),
        Some(None) => format_args!("Some(None)"),
        Some(Some(_)) => format_args!("Some(Some(<secret>))"),
    }
}

impl fmt::Debug for PeerUpdate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerUpdate")
            .field("public_key", &self.public_key)
            .field("remove", &self.remove)
            .field("update_only", &self.update_only)
            .field("preshared_key", &secret_change(&self.preshared_key))
            .field("endpoint", &self.endpoint)
            .field("persistent_keepalive", &self.persistent_keepalive)
            .field("replace_allowed_ips", &self.replace_allowed_ips)
            .field("allowed_ips", &self.allowed_ips)
            .finish()
    }
}

impl fmt::Debug for DeviceUpdate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceUpdate")
            .field("private_key", &secret_change(&self.private_key))
            .field("listen_port", &self.listen_port)
            .field("user_cookie", &self.user_cookie)
            .field("replace_peers", &self.replace_peers)
            .field("peers", &self.peers)
            .finish()
    }
}

impl fmt::Debug for PeerInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerInfo")
            .field("public_key", &self.public_key)
            .field("preshared_key", &secret(&self.preshared_key))
            .field("endpoint", &self.endpoint)
            .field("last_handshake", &self.last_handshake)
            .field("rx_bytes", &self.rx_bytes)
            .field("tx_bytes", &self.tx_bytes)
            .field("persistent_keepalive", &self.persistent_keepalive)
            .field("allowed_ips", &self.allowed_ips)
            .finish()
    }
}

impl fmt::Debug for DeviceInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceInfo")
            .field("private_key", &secret(&self.private_key))
            .field("public_key", &self.public_key)
            .field("listen_port", &self.listen_port)
            .field("user_cookie", &self.user_cookie)
            .field("peers", &self.peers)
            .finish()
    }
}
