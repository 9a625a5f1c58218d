//! The configuration each device is meant to have, as its operator would
//! write it: the sim applies it to the engines and judges deliveries by it.

use crate::net::{endpoint, public_addr, PORT};
use crate::scenario::Fams;
use std::collections::BTreeMap;
use wg_core::allowedips::{IpAddrBytes, IpPrefix};
use wg_core::config::{AllowedIpChange, DeviceUpdate, Key, PeerUpdate};
use wg_core::{crypto, PeerId};

/// The site behind device `dev` in its `gen`-th numbering, in IPv4
/// (10.dev.gen.0/24) or IPv6 (fd00:0:dev:gen::/64).
pub fn prefix(dev: usize, gen: u8, v6: bool) -> IpPrefix {
    match site_addr(dev, gen, 0, v6) {
        IpAddrBytes::V4(mut a) => {
            a[3] = 0;
            IpPrefix::new_v4(a, 24).expect("a /24 is valid")
        }
        IpAddrBytes::V6(mut a) => {
            a[8..].fill(0);
            IpPrefix::new_v6(a, 64).expect("a /64 is valid")
        }
    }
}

/// A host address inside that site.
pub fn site_addr(dev: usize, gen: u8, host: u8, v6: bool) -> IpAddrBytes {
    if v6 {
        let mut a = [
            0xfd,
            0,
            0,
            0,
            (dev >> 8) as u8,
            dev as u8 + 1,
            0,
            gen,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
        ];
        a[15] = host.max(1);
        IpAddrBytes::V6(a)
    } else {
        IpAddrBytes::V4([10, dev as u8 + 1, gen, host.max(1)])
    }
}

/// One device's view of one of its peers.
#[derive(Clone, Debug)]
pub struct PeerView {
    /// The public key configured for the peer (lags a key rotation).
    pub key: Key,
    /// The peer's site numbering configured as its allowed IPs.
    pub gen: u8,
    /// The families of the peer's site: its allowed IPs.
    pub inner: Fams,
    pub knows_endpoint: bool,
    /// The configured endpoint is the peer's IPv6 address.
    pub ep6: bool,
    pub keepalive: u16,
    /// Configured now (a removed peer waits to be re-added).
    pub present: bool,
    /// When the engine got this peer entry (monotonic): nothing sealed
    /// before may be delivered through it.
    pub added_at: u64,
    pub id: Option<PeerId>,
}

impl PeerView {
    pub fn update(&self, of: usize) -> PeerUpdate {
        PeerUpdate {
            public_key: self.key,
            endpoint: self
                .knows_endpoint
                .then(|| endpoint(public_addr(of, self.ep6))),
            persistent_keepalive: Some(self.keepalive),
            replace_allowed_ips: true,
            allowed_ips: self
                .inner
                .list()
                .into_iter()
                .map(|v6| AllowedIpChange {
                    prefix: prefix(of, self.gen, v6),
                    remove: false,
                })
                .collect(),
            ..Default::default()
        }
    }

    pub fn allows(&self, of: usize, src: IpAddrBytes) -> bool {
        self.inner
            .list()
            .into_iter()
            .any(|v6| prefix(of, self.gen, v6).contains_addr(&src))
    }
}

#[derive(Clone, Debug)]
pub struct DevModel {
    pub private: Key,
    pub public: Key,
    /// Every public key this device ever had: sessions made under an old
    /// one may still receive.
    pub keys_held: Vec<Key>,
    pub gen: u8,
    pub peers: BTreeMap<usize, PeerView>,
    /// Added to the shared clock's real time (clock jumps).
    pub real_offset: i64,
}

impl DevModel {
    pub fn new(private: Key) -> DevModel {
        let public = crypto::public_key(&private);
        DevModel {
            private,
            public,
            keys_held: vec![public],
            gen: 0,
            peers: BTreeMap::new(),
            real_offset: 0,
        }
    }

    pub fn set_key(&mut self, private: Key) {
        self.private = private;
        self.public = crypto::public_key(&private);
        self.keys_held.push(self.public);
    }

    /// The whole configuration, as a restarted device is given it.
    pub fn full_update(&self) -> DeviceUpdate {
        DeviceUpdate {
            private_key: Some(Some(self.private)),
            listen_port: Some(PORT),
            replace_peers: true,
            peers: self
                .peers
                .iter()
                .filter(|(_, v)| v.present)
                .map(|(of, v)| v.update(*of))
                .collect(),
            ..Default::default()
        }
    }

    pub fn present_peers(&self) -> usize {
        self.peers.values().filter(|v| v.present).count()
    }

    /// Routes the engine must hold: one per family of each present peer.
    pub fn routes(&self) -> usize {
        self.peers
            .values()
            .filter(|v| v.present)
            .map(|v| v.inner.count())
            .sum()
    }

    /// Which peer device a PeerId of this engine stands for.
    pub fn dev_of(&self, id: PeerId) -> Option<usize> {
        self.peers
            .iter()
            .find(|(_, v)| v.present && v.id == Some(id))
            .map(|(d, _)| *d)
    }
}
