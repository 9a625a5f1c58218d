//! The outer UDP address of a peer.

/// Where a peer's datagrams come from and go to. Scope id and flow label are
/// carried for IPv6 link-local endpoints; the engine only stores them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    V4 {
        addr: [u8; 4],
        port: u16,
    },
    V6 {
        addr: [u8; 16],
        port: u16,
        flowinfo: u32,
        scope_id: u32,
    },
}

impl Endpoint {
    pub fn port(&self) -> u16 {
        match *self {
            Endpoint::V4 { port, .. } | Endpoint::V6 { port, .. } => port,
        }
    }

    /// The bytes a cookie MAC is computed over: address, then port (big
    /// endian). Only this host ever checks them, so any stable form works.
    pub fn cookie_bytes(&self, out: &mut [u8; 18]) -> usize {
        match *self {
            Endpoint::V4 { addr, port } => {
                out[..4].copy_from_slice(&addr);
                out[4..6].copy_from_slice(&port.to_be_bytes());
                6
            }
            Endpoint::V6 { addr, port, .. } => {
                out[..16].copy_from_slice(&addr);
                out[16..18].copy_from_slice(&port.to_be_bytes());
                18
            }
        }
    }
}

#[cfg(feature = "std")]
impl From<std::net::SocketAddr> for Endpoint {
    fn from(sa: std::net::SocketAddr) -> Self {
        match sa {
            std::net::SocketAddr::V4(a) => Endpoint::V4 {
                addr: a.ip().octets(),
                port: a.port(),
            },
            std::net::SocketAddr::V6(a) => Endpoint::V6 {
                addr: a.ip().octets(),
                port: a.port(),
                flowinfo: a.flowinfo(),
                scope_id: a.scope_id(),
            },
        }
    }
}

#[cfg(feature = "std")]
impl From<Endpoint> for std::net::SocketAddr {
    fn from(e: Endpoint) -> Self {
        match e {
            Endpoint::V4 { addr, port } => (std::net::Ipv4Addr::from(addr), port).into(),
            Endpoint::V6 {
                addr,
                port,
                flowinfo,
                scope_id,
            } => std::net::SocketAddr::V6(std::net::SocketAddrV6::new(
                addr.into(),
                port,
                flowinfo,
                scope_id,
            )),
        }
    }
}
