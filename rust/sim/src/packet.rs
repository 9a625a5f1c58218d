//! Inner IP packets of the simulation: IPv4 or IPv6 with a unique id in the
//! payload, so every packet can be traced from the sender's tunnel to a
//! receiver's.

use wg_core::allowedips::IpAddrBytes;

/// Protocol number 253: reserved for experiments (RFC 3692).
const PROTO: u8 = 253;
const MAGIC: [u8; 4] = *b"wgsm";

/// A packet from `src` to `dst` (one family) carrying `id`, padded to
/// `extra` more bytes of filler.
pub fn build(src: IpAddrBytes, dst: IpAddrBytes, id: u64, extra: usize) -> Vec<u8> {
    let header = match src {
        IpAddrBytes::V4(_) => 20,
        IpAddrBytes::V6(_) => 40,
    };
    let total = header + MAGIC.len() + 8 + extra;
    let mut p = vec![0u8; total];
    match (src, dst) {
        (IpAddrBytes::V4(s), IpAddrBytes::V4(d)) => {
            p[0] = 0x45;
            p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
            p[8] = 64;
            p[9] = PROTO;
            p[12..16].copy_from_slice(&s);
            p[16..20].copy_from_slice(&d);
        }
        (IpAddrBytes::V6(s), IpAddrBytes::V6(d)) => {
            p[0] = 0x60;
            p[4..6].copy_from_slice(&((total - 40) as u16).to_be_bytes());
            p[6] = PROTO;
            p[7] = 64;
            p[8..24].copy_from_slice(&s);
            p[24..40].copy_from_slice(&d);
        }
        // Mixed families: a packet no stack would send, which no route
        // takes (an IPv4 header with a zero source).
        _ => p[0] = 0x45,
    }
    p[header..header + 4].copy_from_slice(&MAGIC);
    p[header + 4..header + 12].copy_from_slice(&id.to_le_bytes());
    for (i, b) in p[header + 12..].iter_mut().enumerate() {
        *b = (id as u8).wrapping_add(i as u8);
    }
    p
}

fn header_len(pkt: &[u8]) -> Option<usize> {
    match (pkt.first()? >> 4, pkt.len()) {
        (4, n) if n >= 32 && pkt[9] == PROTO => Some(20),
        (6, n) if n >= 52 && pkt[6] == PROTO => Some(40),
        _ => None,
    }
}

/// The id a delivered packet carries, if it is one of ours.
pub fn id_of(pkt: &[u8]) -> Option<u64> {
    let h = header_len(pkt)?;
    if pkt[h..h + 4] != MAGIC {
        return None;
    }
    Some(u64::from_le_bytes(pkt[h + 4..h + 12].try_into().ok()?))
}

pub fn src_of(pkt: &[u8]) -> Option<IpAddrBytes> {
    match header_len(pkt)? {
        20 => Some(IpAddrBytes::V4(pkt.get(12..16)?.try_into().ok()?)),
        _ => Some(IpAddrBytes::V6(pkt.get(8..24)?.try_into().ok()?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let (s, d) = (
            IpAddrBytes::V4([10, 1, 0, 1]),
            IpAddrBytes::V4([10, 2, 0, 1]),
        );
        let p = build(s, d, 77, 13);
        assert_eq!(id_of(&p), Some(77));
        assert_eq!(src_of(&p), Some(s));
        let hdr = wg_core::ip::parse(&p).unwrap();
        assert_eq!((hdr.len, hdr.dst), (p.len(), d));
        let (s, d) = (IpAddrBytes::V6([0xfd; 16]), IpAddrBytes::V6([0xfe; 16]));
        let p = build(s, d, 78, 0);
        assert_eq!(id_of(&p), Some(78));
        assert_eq!(src_of(&p), Some(s));
        let hdr = wg_core::ip::parse(&p).unwrap();
        assert_eq!((hdr.len, hdr.src, hdr.dst), (p.len(), s, d));
    }
}
