//! Just enough of IPv4 and IPv6 headers to route and check tunnel packets.

use crate::allowedips::IpAddrBytes;
use crate::{Error, Result};

/// The addresses and true length of an inner packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InnerHeader {
    pub src: IpAddrBytes,
    pub dst: IpAddrBytes,
    /// Length the header claims; the rest of the plaintext is padding.
    pub len: usize,
}

fn arr<const N: usize>(b: &[u8], off: usize) -> Result<[u8; N]> {
    b.get(off..off + N)
        .and_then(|s| s.try_into().ok())
        .ok_or(Error::BadInnerPacket)
}

/// Parses the header of an IPv4 or IPv6 packet. A header that claims more
/// bytes than `pkt` holds is an error; fewer is fine (padding follows).
pub fn parse(pkt: &[u8]) -> Result<InnerHeader> {
    let first = *pkt.first().ok_or(Error::BadInnerPacket)?;
    match first >> 4 {
        4 => {
            if pkt.len() < 20 || (first & 0x0f) < 5 {
                return Err(Error::BadInnerPacket);
            }
            let len = u16::from_be_bytes(arr(pkt, 2)?) as usize;
            if len < 20 || len > pkt.len() {
                return Err(Error::BadInnerPacket);
            }
            Ok(InnerHeader {
                src: IpAddrBytes::V4(arr(pkt, 12)?),
                dst: IpAddrBytes::V4(arr(pkt, 16)?),
                len,
            })
        }
        6 => {
            if pkt.len() < 40 {
                return Err(Error::BadInnerPacket);
            }
            let len = 40 + u16::from_be_bytes(arr(pkt, 4)?) as usize;
            if len > pkt.len() {
                return Err(Error::BadInnerPacket);
            }
            Ok(InnerHeader {
                src: IpAddrBytes::V6(arr(pkt, 8)?),
                dst: IpAddrBytes::V6(arr(pkt, 24)?),
                len,
            })
        }
        _ => Err(Error::BadInnerPacket),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_v6_and_garbage() {
        let mut v4 = [0u8; 24];
        v4[0] = 0x45;
        v4[2..4].copy_from_slice(&20u16.to_be_bytes());
        v4[12..16].copy_from_slice(&[10, 0, 0, 1]);
        v4[16..20].copy_from_slice(&[10, 0, 0, 2]);
        let h = parse(&v4).unwrap();
        assert_eq!(h.len, 20);
        assert_eq!(h.dst, IpAddrBytes::V4([10, 0, 0, 2]));
        v4[2..4].copy_from_slice(&25u16.to_be_bytes());
        assert!(parse(&v4).is_err());
        let mut v6 = [0u8; 48];
        v6[0] = 0x60;
        v6[4..6].copy_from_slice(&8u16.to_be_bytes());
        v6[39] = 1;
        let h = parse(&v6).unwrap();
        assert_eq!(h.len, 48);
        assert!(parse(&v6[..47]).is_err());
        assert!(parse(&[]).is_err());
        assert!(parse(&[0x45; 19]).is_err());
        assert!(parse(&[0x10; 64]).is_err());
    }
}
