//! Inner IP packets of the simulation: IPv4 with a unique id in the payload,
//! so every packet can be traced from the sender's tunnel to a receiver's.

/// Protocol number 253: reserved for experiments (RFC 3692).
const PROTO: u8 = 253;
const HEADER: usize = 20;
const MAGIC: [u8; 4] = *b"wgsm";

/// An IPv4 packet from `src` to `dst` carrying `id`, padded to `extra`
/// more bytes of filler.
pub fn build(src: [u8; 4], dst: [u8; 4], id: u64, extra: usize) -> Vec<u8> {
    let total = HEADER + MAGIC.len() + 8 + extra;
    let mut p = vec![0u8; total];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p[8] = 64;
    p[9] = PROTO;
    p[12..16].copy_from_slice(&src);
    p[16..20].copy_from_slice(&dst);
    p[HEADER..HEADER + 4].copy_from_slice(&MAGIC);
    p[HEADER + 4..HEADER + 12].copy_from_slice(&id.to_le_bytes());
    for (i, b) in p[HEADER + 12..].iter_mut().enumerate() {
        *b = (id as u8).wrapping_add(i as u8);
    }
    p
}

/// The id a delivered packet carries, if it is one of ours.
pub fn id_of(pkt: &[u8]) -> Option<u64> {
    if pkt.len() < HEADER + 12 || pkt[9] != PROTO || pkt[HEADER..HEADER + 4] != MAGIC {
        return None;
    }
    Some(u64::from_le_bytes(
        pkt[HEADER + 4..HEADER + 12].try_into().ok()?,
    ))
}

pub fn src_of(pkt: &[u8]) -> Option<[u8; 4]> {
    pkt.get(12..16)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let p = build([10, 1, 0, 1], [10, 2, 0, 1], 77, 13);
        assert_eq!(id_of(&p), Some(77));
        assert_eq!(src_of(&p), Some([10, 1, 0, 1]));
        let hdr = wg_core::ip::parse(&p).unwrap();
        assert_eq!(hdr.len, p.len());
    }
}
