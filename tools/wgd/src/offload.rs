//! TUN offloads (issue 13): the virtio-net header that a TUN opened with
//! IFF_VNET_HDR puts before every packet, segmentation of the super-packets
//! the kernel hands over once TUNSETOFFLOAD allows TSO/USO, and coalescing
//! (GRO) of decrypted TCP segments into super-packets for the TUN write.
//!
//! Everything here works on untrusted bytes: the kernel's header is
//! checked against the packet (a bad one is dropped and counted by the
//! caller), and a packet that cannot be parsed is never coalesced.

use crate::icmp::checksum;

/// struct virtio_net_hdr (without num_buffers): what TUNSETVNETHDRSZ's
/// default of 10 bytes holds.
pub const VNET_HDR_LEN: usize = 10;

pub const F_NEEDS_CSUM: u8 = 1;
pub const F_DATA_VALID: u8 = 2;
pub const GSO_NONE: u8 = 0;
pub const GSO_TCPV4: u8 = 1;
pub const GSO_TCPV6: u8 = 4;
pub const GSO_UDP_L4: u8 = 5;
pub const GSO_ECN: u8 = 0x80;

const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const TCP_FIN: u8 = 0x01;
const TCP_PSH: u8 = 0x08;
const TCP_ACK: u8 = 0x10;
const TCP_CWR: u8 = 0x80;

/// The header's fields. On x86 and arm64 TUN uses little-endian for them
/// (legacy virtio endianness is the host's; Linux TUN defaults to it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VnetHdr {
    pub flags: u8,
    pub gso_type: u8,
    pub hdr_len: u16,
    pub gso_size: u16,
    pub csum_start: u16,
    pub csum_offset: u16,
}

impl VnetHdr {
    pub fn parse(b: &[u8]) -> Option<VnetHdr> {
        let b = b.get(..VNET_HDR_LEN)?;
        let u = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        Some(VnetHdr {
            flags: b[0],
            gso_type: b[1],
            hdr_len: u(2),
            gso_size: u(4),
            csum_start: u(6),
            csum_offset: u(8),
        })
    }

    pub fn write(&self, b: &mut [u8; VNET_HDR_LEN]) {
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&self.hdr_len.to_le_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_le_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_le_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_le_bytes());
    }
}

/// Why a packet from the TUN was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// A gso_type we do not know, or one that does not fit the packet.
    GsoType,
    /// gso_size zero, or no room for a segment.
    GsoSize,
    /// Headers (or csum_start/csum_offset) beyond the packet.
    Headers,
}

/// The one's-complement sum of `data` as big-endian 16-bit words (an odd
/// last byte padded with zero), added to `acc`, not folded or complemented.
/// Eight bytes at a time: 2^32 is 1 modulo 0xffff, so the two 32-bit
/// halves of each big-endian u64 may be summed as they are and folded at
/// the end (a 64 KiB packet adds at most 2^13 * 2^33, far from overflow).
/// This runs over every segment and every coalesced packet.
fn sum(mut acc: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        acc += (w >> 32) + (w & 0xffff_ffff);
    }
    let mut words = chunks.remainder().chunks_exact(2);
    for w in &mut words {
        acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

fn fold(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The pseudo-header sum of an IPv4 or IPv6 packet `ip` for an upper-layer
/// protocol `proto` of `l4_len` bytes.
fn pseudo(ip: &[u8], v6: bool, proto: u8, l4_len: usize) -> u64 {
    let addrs = if v6 { &ip[8..40] } else { &ip[12..20] };
    sum(0, addrs) + l4_len as u64 + u64::from(proto)
}

/// A super-packet's layout, checked against its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    v6: bool,
    proto: u8,
    /// IP header length (IPv6: 40, no extension headers).
    l3: usize,
    /// IP + TCP/UDP header length.
    hdrs: usize,
    /// Payload bytes per segment (the last may carry fewer).
    mss: usize,
    /// Payload bytes in all.
    payload: usize,
}

impl Plan {
    /// How many packets the super-packet makes.
    pub fn count(&self) -> usize {
        self.payload.div_ceil(self.mss).max(1)
    }

    /// Length of segment `i`'s IP packet.
    pub fn seg_len(&self, i: usize) -> usize {
        self.hdrs + self.mss.min(self.payload.saturating_sub(i * self.mss))
    }
}

/// IP version, header length and L4 protocol of `pkt` (IPv6 without
/// extension headers only: the kernel's TSO/USO packets have none).
fn l3_of(pkt: &[u8]) -> Option<(bool, usize, u8)> {
    match pkt.first()? >> 4 {
        4 => {
            let l3 = usize::from(pkt[0] & 0x0f) * 4;
            if l3 < 20 || pkt.len() < l3 {
                return None;
            }
            Some((false, l3, pkt[9]))
        }
        6 if pkt.len() >= 40 => Some((true, 40, pkt[6])),
        _ => None,
    }
}

/// Checks a super-packet (`hdr.gso_type` not NONE) against its header.
/// The header lengths are taken from the packet, not from hdr_len, which
/// the kernel fills with the linear part's length and is only checked to
/// lie within the packet.
pub fn plan(hdr: &VnetHdr, pkt: &[u8]) -> Result<Plan, Malformed> {
    if usize::from(hdr.hdr_len) > pkt.len() {
        return Err(Malformed::Headers);
    }
    let (v6, l3, proto) = l3_of(pkt).ok_or(Malformed::Headers)?;
    let want = match hdr.gso_type & !GSO_ECN {
        GSO_TCPV4 if !v6 => PROTO_TCP,
        GSO_TCPV6 if v6 => PROTO_TCP,
        GSO_UDP_L4 => PROTO_UDP,
        _ => return Err(Malformed::GsoType),
    };
    if proto != want {
        return Err(Malformed::GsoType);
    }
    let l4 = if proto == PROTO_TCP {
        let off = *pkt.get(l3 + 12).ok_or(Malformed::Headers)?;
        usize::from(off >> 4) * 4
    } else {
        8
    };
    let hdrs = l3 + l4;
    // A TCP header is at least 20 bytes (data offset 5), UDP's 8.
    if l4 < 8 || (proto == PROTO_TCP && l4 < 20) || pkt.len() < hdrs {
        return Err(Malformed::Headers);
    }
    // An IP header that claims less than we read (trailing bytes) or more.
    let ip_len = if v6 {
        40 + usize::from(u16::from_be_bytes([pkt[4], pkt[5]]))
    } else {
        usize::from(u16::from_be_bytes([pkt[2], pkt[3]]))
    };
    // The kernel leaves the IP length of a super-packet as is; for
    // lengths past 64 KiB (BIG TCP) it writes 0. Trust the read length,
    // but refuse an IP length longer than what was read.
    if ip_len > pkt.len() {
        return Err(Malformed::Headers);
    }
    let mss = usize::from(hdr.gso_size);
    if mss == 0 {
        return Err(Malformed::GsoSize);
    }
    // Each segment must fit an IP packet.
    if hdrs + mss > 65535 {
        return Err(Malformed::GsoSize);
    }
    Ok(Plan {
        v6,
        proto,
        l3,
        hdrs,
        mss,
        payload: pkt.len() - hdrs,
    })
}

/// Writes segment `i` of the super-packet `pkt` (laid out by `p`) as a
/// complete IP packet with correct checksums into `dst`, which must hold
/// `p.seg_len(i)` bytes; returns that length.
pub fn write_segment(p: &Plan, pkt: &[u8], i: usize, dst: &mut [u8]) -> Option<usize> {
    let start = i.checked_mul(p.mss)?;
    let n = p.mss.min(p.payload.checked_sub(start)?);
    if n == 0 && i > 0 {
        return None;
    }
    let len = p.hdrs + n;
    let dst = dst.get_mut(..len)?;
    dst[..p.hdrs].copy_from_slice(pkt.get(..p.hdrs)?);
    dst[p.hdrs..].copy_from_slice(pkt.get(p.hdrs + start..p.hdrs + start + n)?);
    let last = start + n >= p.payload;
    let l4_len = len - p.l3;
    if p.v6 {
        dst[4..6].copy_from_slice(&(l4_len as u16).to_be_bytes());
    } else {
        dst[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        let id = u16::from_be_bytes([pkt[4], pkt[5]]).wrapping_add(i as u16);
        dst[4..6].copy_from_slice(&id.to_be_bytes());
        dst[10..12].copy_from_slice(&[0, 0]);
        let c = checksum(&dst[..p.l3]);
        dst[10..12].copy_from_slice(&c.to_be_bytes());
    }
    let l3 = p.l3;
    let coff = if p.proto == PROTO_TCP {
        let seq = u32::from_be_bytes([pkt[l3 + 4], pkt[l3 + 5], pkt[l3 + 6], pkt[l3 + 7]])
            .wrapping_add(start as u32);
        dst[l3 + 4..l3 + 8].copy_from_slice(&seq.to_be_bytes());
        // FIN and PSH only on the last segment, CWR only on the first
        // (what the kernel's tcp_gso_segment does).
        if !last {
            dst[l3 + 13] &= !(TCP_FIN | TCP_PSH);
        }
        if i > 0 {
            dst[l3 + 13] &= !TCP_CWR;
        }
        l3 + 16
    } else {
        dst[l3 + 4..l3 + 6].copy_from_slice(&(l4_len as u16).to_be_bytes());
        l3 + 6
    };
    dst[coff..coff + 2].copy_from_slice(&[0, 0]);
    let acc = pseudo(dst, p.v6, p.proto, l4_len);
    let mut c = !fold(sum(acc, &dst[l3..]));
    if p.proto == PROTO_UDP && c == 0 {
        c = 0xffff;
    }
    dst[coff..coff + 2].copy_from_slice(&c.to_be_bytes());
    Some(len)
}

/// Completes the checksum of a single packet marked NEEDS_CSUM: the field
/// at csum_start + csum_offset holds the pseudo-header sum; the sum from
/// csum_start to the end, complemented, replaces it.
pub fn complete_csum(hdr: &VnetHdr, pkt: &mut [u8]) -> Result<(), Malformed> {
    let start = usize::from(hdr.csum_start);
    let at = start + usize::from(hdr.csum_offset);
    if start >= pkt.len() || at + 2 > pkt.len() {
        return Err(Malformed::Headers);
    }
    let mut c = !fold(sum(0, &pkt[start..]));
    // UDP sends 0 as all ones (0 means "no checksum"); for TCP and ICMP
    // the two are the same in one's complement.
    if c == 0 {
        c = 0xffff;
    }
    pkt[at..at + 2].copy_from_slice(&c.to_be_bytes());
    Ok(())
}

/// Whether a complete TCP or UDP packet's checksum verifies.
pub fn l4_csum_ok(pkt: &[u8]) -> bool {
    let Some((v6, l3, proto)) = l3_of(pkt) else {
        return false;
    };
    let l4 = &pkt[l3..];
    fold(sum(pseudo(pkt, v6, proto, l4.len()), l4)) == 0xffff
}

/// The parts of a TCP packet that decide whether it may join a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct TcpSeg {
    v6: bool,
    l3: usize,
    hdrs: usize,
    seq: u32,
    flags: u8,
    payload: usize,
}

/// A TCP segment that may be coalesced: IPv4 without options or
/// fragmentation, or IPv6 without extension headers; ACK, optionally PSH,
/// nothing else; some payload; its IP length exactly its bytes.
fn tcp_seg(pkt: &[u8]) -> Option<TcpSeg> {
    let (v6, l3, proto) = l3_of(pkt)?;
    if proto != PROTO_TCP {
        return None;
    }
    if v6 {
        if 40 + usize::from(u16::from_be_bytes([pkt[4], pkt[5]])) != pkt.len() {
            return None;
        }
    } else {
        // No options; no MF flag, no fragment offset.
        // A bad header checksum is left for the kernel to drop: merging
        // would write a fresh one.
        if l3 != 20
            || usize::from(u16::from_be_bytes([pkt[2], pkt[3]])) != pkt.len()
            || u16::from_be_bytes([pkt[6], pkt[7]]) & 0x3fff != 0
            || checksum(&pkt[..20]) != 0
        {
            return None;
        }
    }
    let th = pkt.get(l3..l3 + 20)?;
    let hdrs = l3 + usize::from(th[12] >> 4) * 4;
    if hdrs < l3 + 20 || hdrs >= pkt.len() {
        return None;
    }
    let flags = th[13];
    if flags & !TCP_PSH != TCP_ACK {
        return None;
    }
    Some(TcpSeg {
        v6,
        l3,
        hdrs,
        seq: u32::from_be_bytes([th[4], th[5], th[6], th[7]]),
        flags,
        payload: pkt.len() - hdrs,
    })
}

/// Whether `b` may follow `a`'s flow by its headers alone: same addresses
/// and ports, same IP fields that Linux's GRO compares (TOS/traffic class,
/// TTL/hop limit, DF, flow label), same ack, window and options.
fn same_flow(a: &[u8], sa: &TcpSeg, b: &[u8], sb: &TcpSeg) -> bool {
    if sa.v6 != sb.v6 || sa.hdrs != sb.hdrs {
        return false;
    }
    let l3 = sa.l3;
    let ip_same = if sa.v6 {
        a[..4] == b[..4] && a[6..40] == b[6..40]
    } else {
        a[0..2] == b[0..2] && a[6..7] == b[6..7] && a[8..10] == b[8..10] && a[12..20] == b[12..20]
    };
    // Ports (0..4), ack (8..12), data offset (12), window (14..16),
    // urgent pointer (18..20) and options (20..).
    ip_same
        && a[l3..l3 + 4] == b[l3..l3 + 4]
        && a[l3 + 8..l3 + 13] == b[l3 + 8..l3 + 13]
        && a[l3 + 14..l3 + 16] == b[l3 + 14..l3 + 16]
        && a[l3 + 18..sa.hdrs] == b[l3 + 18..sb.hdrs]
}

/// Coalesced packets waiting for one TUN write: `[IP][TCP][payloads]`.
struct Flow {
    buf: Vec<u8>,
    seg: TcpSeg,
    next_seq: u32,
    mss: usize,
    count: usize,
    closed: bool,
}

/// Most flows kept open at once within a batch.
const MAX_FLOWS: usize = 8;
/// Largest IP packet a super-packet may become.
const MAX_SUPER: usize = 65535;

/// GRO for the TUN write: packets are pushed in arrival order; those of
/// one TCP flow that follow each other are merged; `flush` hands every
/// pending packet, with its virtio-net header, to the writer. Packets of
/// one flow keep their order; different flows may pass each other, as in
/// the kernel's GRO.
pub struct Coalescer {
    flows: Vec<Flow>,
    spare: Vec<Vec<u8>>,
    /// Packets merged into another (a figure for the logs and tests).
    pub merged: u64,
}

impl Default for Coalescer {
    fn default() -> Self {
        Self::new()
    }
}

impl Coalescer {
    pub fn new() -> Coalescer {
        Coalescer {
            flows: Vec::with_capacity(MAX_FLOWS),
            spare: Vec::new(),
            merged: 0,
        }
    }

    /// Adds one decrypted IP packet; `write` gets the packets that must go
    /// out before it (and the packet itself when it cannot be coalesced).
    pub fn push<E>(
        &mut self,
        pkt: &[u8],
        write: &mut impl FnMut(&[u8; VNET_HDR_LEN], &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let Some(s) = tcp_seg(pkt).filter(|_| l4_csum_ok(pkt)) else {
            // Not coalescible: everything pending goes first, so that a
            // flow's FIN or RST cannot overtake its data.
            self.flush(write)?;
            return write_plain(pkt, false, write);
        };
        let found = self
            .flows
            .iter()
            .position(|f| same_flow(&f.buf, &f.seg, pkt, &s));
        if let Some(i) = found {
            let f = &mut self.flows[i];
            let fits = !f.closed
                && f.next_seq == s.seq
                && s.payload <= f.mss
                && f.buf.len() + s.payload <= MAX_SUPER;
            if fits {
                f.buf.extend_from_slice(&pkt[s.hdrs..]);
                f.next_seq = f.next_seq.wrapping_add(s.payload as u32);
                f.count += 1;
                self.merged += 1;
                if s.payload < f.mss || s.flags & TCP_PSH != 0 {
                    let l3 = f.seg.l3;
                    f.buf[l3 + 13] |= s.flags & TCP_PSH;
                    f.closed = true;
                }
                return Ok(());
            }
            // Out of order or full: what is pending goes out first.
            let f = self.flows.swap_remove(i);
            self.emit(f, write)?;
        }
        if self.flows.len() >= MAX_FLOWS {
            let f = self.flows.swap_remove(0);
            self.emit(f, write)?;
        }
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(pkt);
        self.flows.push(Flow {
            buf,
            seg: s,
            next_seq: s.seq.wrapping_add(s.payload as u32),
            mss: s.payload,
            count: 1,
            closed: s.flags & TCP_PSH != 0,
        });
        Ok(())
    }

    /// Writes every pending packet.
    pub fn flush<E>(
        &mut self,
        write: &mut impl FnMut(&[u8; VNET_HDR_LEN], &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut r = Ok(());
        while let Some(f) = self.flows.pop() {
            // Keep going after a failed write: the others still go out.
            let e = self.emit(f, write);
            if r.is_ok() {
                r = e;
            }
        }
        r
    }

    fn emit<E>(
        &mut self,
        mut f: Flow,
        write: &mut impl FnMut(&[u8; VNET_HDR_LEN], &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let s = f.seg;
        let mut h = VnetHdr {
            // Each part's checksum was verified on the way in.
            flags: F_DATA_VALID,
            ..VnetHdr::default()
        };
        if f.count > 1 {
            let pkt = &mut f.buf[..];
            let len = pkt.len();
            let l4_len = len - s.l3;
            if s.v6 {
                pkt[4..6].copy_from_slice(&(l4_len as u16).to_be_bytes());
            } else {
                pkt[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                pkt[10..12].copy_from_slice(&[0, 0]);
                let c = checksum(&pkt[..20]);
                pkt[10..12].copy_from_slice(&c.to_be_bytes());
            }
            // CHECKSUM_PARTIAL: the field holds the pseudo-header sum; the
            // kernel (or the segmentation on a forward) completes it.
            let ps = fold(pseudo(pkt, s.v6, PROTO_TCP, l4_len));
            pkt[s.l3 + 16..s.l3 + 18].copy_from_slice(&ps.to_be_bytes());
            h = VnetHdr {
                flags: F_NEEDS_CSUM,
                gso_type: if s.v6 { GSO_TCPV6 } else { GSO_TCPV4 },
                hdr_len: s.hdrs as u16,
                gso_size: f.mss as u16,
                csum_start: s.l3 as u16,
                csum_offset: 16,
            };
        }
        let mut hb = [0u8; VNET_HDR_LEN];
        h.write(&mut hb);
        let r = write(&hb, &f.buf);
        if self.spare.len() < MAX_FLOWS {
            self.spare.push(f.buf);
        }
        r
    }
}

/// Writes one packet with a plain header (no GSO, checksums as they are).
fn write_plain<E>(
    pkt: &[u8],
    valid: bool,
    write: &mut impl FnMut(&[u8; VNET_HDR_LEN], &[u8]) -> Result<(), E>,
) -> Result<(), E> {
    let h = VnetHdr {
        flags: if valid { F_DATA_VALID } else { 0 },
        ..VnetHdr::default()
    };
    let mut hb = [0u8; VNET_HDR_LEN];
    h.write(&mut hb);
    write(&hb, pkt)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64*: deterministic randomness for the property tests.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// An independent Internet checksum check: the bytes summed one at a
    /// time as big-endian words of a u128, folded at the end; a region
    /// with a correct checksum in it sums to 0xffff.
    fn verifies(parts: &[&[u8]]) -> bool {
        let mut s: u128 = 0;
        let mut i = 0usize;
        for p in parts {
            for b in p.iter() {
                s += if i % 2 == 0 {
                    u128::from(*b) << 8
                } else {
                    u128::from(*b)
                };
                i += 1;
            }
        }
        while s > 0xffff {
            s = (s >> 16) + (s & 0xffff);
        }
        s == 0xffff
    }

    fn l4_verifies(pkt: &[u8]) -> bool {
        let v6 = pkt[0] >> 4 == 6;
        let (l3, proto, addrs) = if v6 {
            (40, pkt[6], &pkt[8..40])
        } else {
            (usize::from(pkt[0] & 15) * 4, pkt[9], &pkt[12..20])
        };
        let len = ((pkt.len() - l3) as u32).to_be_bytes();
        verifies(&[addrs, &len, &[0, 0, 0, proto], &pkt[l3..]])
    }

    const SRC4: [u8; 4] = [10, 98, 0, 1];
    const DST4: [u8; 4] = [10, 98, 0, 2];

    /// A TCP or UDP packet (IPv4 or IPv6) with `payload`, checksum left as
    /// the kernel leaves a TSO packet's: the pseudo-header sum.
    fn packet(v6: bool, proto: u8, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
        let l4h = if proto == PROTO_TCP { 32 } else { 8 };
        let l3 = if v6 { 40 } else { 20 };
        let mut p = vec![0u8; l3 + l4h];
        if v6 {
            p[0] = 0x60;
            p[4..6].copy_from_slice(&((l4h + payload.len()) as u16).to_be_bytes());
            p[6] = proto;
            p[7] = 64;
            p[8] = 0xfd;
            p[23] = 1;
            p[24] = 0xfd;
            p[39] = 2;
        } else {
            p[0] = 0x45;
            let tl = (l3 + l4h + payload.len()).min(65535) as u16;
            p[2..4].copy_from_slice(&tl.to_be_bytes());
            p[4..6].copy_from_slice(&[0x12, 0x34]);
            p[6] = 0x40;
            p[8] = 64;
            p[9] = proto;
            p[12..16].copy_from_slice(&SRC4);
            p[16..20].copy_from_slice(&DST4);
            let c = checksum(&p[..20]);
            p[10..12].copy_from_slice(&c.to_be_bytes());
        }
        p[l3..l3 + 4].copy_from_slice(&[0x9c, 0x40, 0x14, 0x51]);
        if proto == PROTO_TCP {
            p[l3 + 4..l3 + 8].copy_from_slice(&seq.to_be_bytes());
            p[l3 + 8..l3 + 12].copy_from_slice(&[0, 0, 0x10, 0]);
            p[l3 + 12] = 8 << 4;
            p[l3 + 13] = flags;
            p[l3 + 14..l3 + 16].copy_from_slice(&[0x01, 0xf5]);
            // NOP NOP timestamps.
            p[l3 + 20..l3 + 32].copy_from_slice(&[1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9]);
        } else {
            let ul = (l4h + payload.len()) as u16;
            p[l3 + 4..l3 + 6].copy_from_slice(&ul.to_be_bytes());
        }
        p.extend_from_slice(payload);
        p
    }

    /// Sets a full, correct L4 checksum (a packet as it leaves a peer).
    fn finish_l4(p: &mut [u8]) {
        let v6 = p[0] >> 4 == 6;
        let (l3, proto) = if v6 { (40, p[6]) } else { (20, p[9]) };
        let off = l3 + if proto == PROTO_TCP { 16 } else { 6 };
        p[off..off + 2].copy_from_slice(&[0, 0]);
        let c = !fold(sum(pseudo(p, v6, proto, p.len() - l3), &p[l3..]));
        p[off..off + 2].copy_from_slice(&c.to_be_bytes());
    }

    fn payload(r: &mut Rng, n: usize) -> Vec<u8> {
        (0..n).map(|_| r.next() as u8).collect()
    }

    fn segments(h: &VnetHdr, sup: &[u8]) -> Vec<Vec<u8>> {
        let p = plan(h, sup).expect("a valid plan");
        (0..p.count())
            .map(|i| {
                let mut d = vec![0u8; p.seg_len(i)];
                let n = write_segment(&p, sup, i, &mut d).expect("a segment");
                assert_eq!(n, d.len());
                d
            })
            .collect()
    }

    /// Split then merge gives the original stream; every segment verifies
    /// (independent checksum); the merged packet, once the kernel would
    /// complete its partial checksum, verifies too.
    #[test]
    fn tcp_split_then_merge() {
        let mut r = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..300 {
            let v6 = round % 2 == 1;
            let mss = 1 + r.below(1500);
            let n = r.below(64000 - 100);
            let data = payload(&mut r, n);
            let seq = r.next() as u32;
            let sup = packet(v6, PROTO_TCP, seq, TCP_ACK | TCP_PSH, &data);
            let h = VnetHdr {
                flags: F_NEEDS_CSUM,
                gso_type: if v6 { GSO_TCPV6 } else { GSO_TCPV4 },
                hdr_len: if v6 { 72 } else { 52 },
                gso_size: mss as u16,
                csum_start: if v6 { 40 } else { 20 },
                csum_offset: 16,
            };
            let segs = segments(&h, &sup);
            assert_eq!(segs.len(), n.div_ceil(mss).max(1));
            let mut stream = Vec::new();
            let mut next = seq;
            for (i, s) in segs.iter().enumerate() {
                assert!(l4_verifies(s), "segment {i} TCP checksum");
                assert!(l4_csum_ok(s));
                if !v6 {
                    assert!(verifies(&[&s[..20]]), "segment {i} IPv4 header");
                }
                let t = tcp_seg(s);
                let l3 = if v6 { 40 } else { 20 };
                assert_eq!(
                    u32::from_be_bytes(s[l3 + 4..l3 + 8].try_into().unwrap()),
                    next
                );
                let psh = s[l3 + 13] & TCP_PSH != 0;
                assert_eq!(psh, i + 1 == segs.len(), "PSH only on the last");
                if let Some(t) = t {
                    next = next.wrapping_add(t.payload as u32);
                }
                stream.extend_from_slice(&s[l3 + 32..]);
            }
            assert_eq!(stream, data);

            // Merge: one super-packet (or a few, at the 64 KiB bound).
            let mut c = Coalescer::new();
            let mut out: Vec<(VnetHdr, Vec<u8>)> = Vec::new();
            let mut w = |h: &[u8; VNET_HDR_LEN], p: &[u8]| -> Result<(), ()> {
                out.push((VnetHdr::parse(h).unwrap(), p.to_vec()));
                Ok(())
            };
            for s in &segs {
                c.push(s, &mut w).unwrap();
            }
            c.flush(&mut w).unwrap();
            let mut merged = Vec::new();
            for (h, p) in &mut out {
                let l3 = if v6 { 40 } else { 20 };
                if h.gso_type != GSO_NONE {
                    assert_eq!(h.flags, F_NEEDS_CSUM);
                    assert_eq!(usize::from(h.gso_size), mss.min(n));
                    if !v6 {
                        assert!(verifies(&[&p[..20]]), "merged IPv4 header");
                    }
                    complete_csum(h, p).unwrap();
                }
                assert!(l4_verifies(p), "merged TCP checksum");
                // Re-segmenting the merged packet gives the same segments.
                merged.extend_from_slice(&p[l3 + 32..]);
            }
            assert_eq!(merged, data);
            if n > 0 && n <= 65535 - 72 {
                assert_eq!(out.len(), 1, "one super-packet for {n} bytes, mss {mss}");
            }
        }
    }

    #[test]
    fn udp_segmentation() {
        let mut r = Rng(7);
        for round in 0..200 {
            let v6 = round % 2 == 0;
            let mss = 1 + r.below(1400);
            let n = r.below(60000);
            let data = payload(&mut r, n);
            let sup = packet(v6, PROTO_UDP, 0, 0, &data);
            let h = VnetHdr {
                flags: F_NEEDS_CSUM,
                gso_type: GSO_UDP_L4,
                hdr_len: 0,
                gso_size: mss as u16,
                csum_start: if v6 { 40 } else { 20 },
                csum_offset: 6,
            };
            let segs = segments(&h, &sup);
            let mut stream = Vec::new();
            for s in &segs {
                let l3 = if v6 { 40 } else { 20 };
                assert!(l4_verifies(s));
                assert_eq!(
                    usize::from(u16::from_be_bytes([s[l3 + 4], s[l3 + 5]])),
                    s.len() - l3
                );
                stream.extend_from_slice(&s[l3 + 8..]);
            }
            assert_eq!(stream, data);
        }
    }

    #[test]
    fn partial_checksum_completed() {
        let mut r = Rng(11);
        for round in 0..200 {
            let v6 = round % 2 == 0;
            let proto = if round % 3 == 0 { PROTO_UDP } else { PROTO_TCP };
            let n = r.below(3000);
            let mut p = packet(v6, proto, 5, TCP_ACK, &payload(&mut r, n));
            let l3 = if v6 { 40 } else { 20 };
            let off = if proto == PROTO_TCP { 16 } else { 6 };
            // What the kernel leaves: the pseudo-header sum, not inverted.
            let ps = fold(pseudo(&p, v6, proto, p.len() - l3));
            p[l3 + off..l3 + off + 2].copy_from_slice(&ps.to_be_bytes());
            let h = VnetHdr {
                flags: F_NEEDS_CSUM,
                csum_start: l3 as u16,
                csum_offset: off as u16,
                ..VnetHdr::default()
            };
            complete_csum(&h, &mut p).unwrap();
            assert!(l4_verifies(&p));
        }
    }

    #[test]
    fn malformed_headers_refused() {
        let sup = packet(false, PROTO_TCP, 1, TCP_ACK, &[1u8; 5000]);
        let good = VnetHdr {
            flags: F_NEEDS_CSUM,
            gso_type: GSO_TCPV4,
            hdr_len: 52,
            gso_size: 1000,
            csum_start: 20,
            csum_offset: 16,
        };
        assert!(plan(&good, &sup).is_ok());
        let bad = |f: &dyn Fn(&mut VnetHdr)| {
            let mut h = good;
            f(&mut h);
            plan(&h, &sup)
        };
        assert_eq!(bad(&|h| h.gso_size = 0), Err(Malformed::GsoSize));
        assert_eq!(bad(&|h| h.hdr_len = 6000), Err(Malformed::Headers));
        assert_eq!(bad(&|h| h.gso_type = 9), Err(Malformed::GsoType));
        assert_eq!(bad(&|h| h.gso_type = GSO_TCPV6), Err(Malformed::GsoType));
        assert_eq!(bad(&|h| h.gso_type = 3), Err(Malformed::GsoType));
        assert_eq!(plan(&good, &sup[..40]), Err(Malformed::Headers));
        // A TCP data offset under 5 words.
        let mut p = sup.clone();
        p[32] = 2 << 4;
        assert_eq!(plan(&good, &p), Err(Malformed::Headers));
        let mut p = sup.clone();
        p[9] = PROTO_UDP;
        assert_eq!(plan(&good, &p), Err(Malformed::GsoType));
        let h = VnetHdr {
            flags: F_NEEDS_CSUM,
            csum_start: 60,
            csum_offset: 2,
            ..VnetHdr::default()
        };
        assert_eq!(complete_csum(&h, &mut [0u8; 61]), Err(Malformed::Headers));
    }

    #[test]
    fn garbage_never_panics() {
        let mut r = Rng(0xdead_beef);
        let seeds = [
            packet(false, PROTO_TCP, 1, TCP_ACK, &[3u8; 3000]),
            packet(true, PROTO_TCP, 1, TCP_ACK, &[3u8; 3000]),
            packet(true, PROTO_UDP, 1, 0, &[3u8; 3000]),
        ];
        let mut dst = vec![0u8; 70000];
        let mut c = Coalescer::new();
        for i in 0..20_000 {
            let mut p = seeds[i % 3].clone();
            p.truncate(r.below(p.len() + 1));
            for _ in 0..r.below(4) {
                if !p.is_empty() {
                    let at = r.below(p.len().min(80));
                    p[at] = r.next() as u8;
                }
            }
            let mut hb = [0u8; VNET_HDR_LEN];
            for b in hb.iter_mut() {
                *b = r.next() as u8;
            }
            if i % 2 == 0 {
                hb[1] = [GSO_TCPV4, GSO_TCPV6, GSO_UDP_L4][r.below(3)];
                hb[4..6].copy_from_slice(&(r.below(2000) as u16).to_le_bytes());
            }
            let h = VnetHdr::parse(&hb).unwrap();
            if let Ok(pl) = plan(&h, &p) {
                for k in 0..pl.count().min(100) {
                    assert!(pl.seg_len(k) <= 65535);
                    let _ = write_segment(&pl, &p, k, &mut dst);
                }
            }
            let _ = complete_csum(&h, &mut p);
            c.push(&p, &mut |_: &[u8; VNET_HDR_LEN],
                             o: &[u8]|
             -> Result<(), ()> {
                assert!(o.len() <= 65535);
                Ok(())
            })
            .unwrap();
        }
    }

    /// Two interleaved flows and a gap: each flow's bytes come out in
    /// order, nothing is merged across the gap, and a non-TCP packet
    /// flushes what is pending before it.
    #[test]
    fn flows_keep_order() {
        let mut r = Rng(3);
        let mk = |v6: bool, seq: u32, d: &[u8]| {
            let mut p = packet(v6, PROTO_TCP, seq, TCP_ACK, d);
            finish_l4(&mut p);
            p
        };
        let a: Vec<Vec<u8>> = (0..6).map(|_| payload(&mut r, 1000)).collect();
        let mut input = Vec::new();
        for (i, d) in a.iter().enumerate() {
            // Flow v4 has a gap after segment 2 (segment 3 arrives last).
            if i != 3 {
                input.push(mk(false, 1000 + 1000 * i as u32, d));
            }
            input.push(mk(true, 5000 + 1000 * i as u32, d));
        }
        input.push(mk(false, 4000, &a[3]));
        let mut udp = packet(false, PROTO_UDP, 0, 0, b"hello");
        finish_l4(&mut udp);
        input.push(udp.clone());
        let mut out: Vec<(VnetHdr, Vec<u8>)> = Vec::new();
        let mut c = Coalescer::new();
        let mut w = |h: &[u8; VNET_HDR_LEN], p: &[u8]| -> Result<(), ()> {
            out.push((VnetHdr::parse(h).unwrap(), p.to_vec()));
            Ok(())
        };
        for p in &input {
            c.push(p, &mut w).unwrap();
        }
        c.flush(&mut w).unwrap();
        // The UDP packet is last: everything pending went out before it.
        assert_eq!(out.last().unwrap().1, udp);
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for (h, p) in &out[..out.len() - 1] {
            let is6 = p[0] >> 4 == 6;
            let l3 = if is6 { 40 } else { 20 };
            let seq = u32::from_be_bytes(p[l3 + 4..l3 + 8].try_into().unwrap());
            if h.gso_type == GSO_NONE {
                assert!(l4_verifies(p));
            }
            if is6 { &mut v6 } else { &mut v4 }.push((seq, p[l3 + 32..].to_vec()));
        }
        let cat = |v: &[(u32, Vec<u8>)]| v.iter().flat_map(|x| x.1.clone()).collect::<Vec<u8>>();
        assert_eq!(cat(&v6), a.concat());
        assert_eq!(v6.len(), 1, "flow v6 merged into one");
        // v4: segments 0..3 merged, then 4..6 after the gap, then 3.
        let seqs: Vec<u32> = v4.iter().map(|x| x.0).collect();
        assert_eq!(seqs, vec![1000, 5000, 4000]);
        // A bad checksum is never merged, and is handed on unchanged.
        let mut bad = mk(false, 1000, &a[0]);
        bad[60] ^= 1;
        let mut out2 = Vec::new();
        let mut c = Coalescer::new();
        let mut w2 = |h: &[u8; VNET_HDR_LEN], p: &[u8]| -> Result<(), ()> {
            out2.push((VnetHdr::parse(h).unwrap(), p.to_vec()));
            Ok(())
        };
        c.push(&bad, &mut w2).unwrap();
        c.push(&mk(false, 2000, &a[1]), &mut w2).unwrap();
        c.flush(&mut w2).unwrap();
        assert_eq!(out2.len(), 2);
        assert_eq!(out2[0].0.flags, 0);
        assert_eq!(out2[0].1, bad);
        // Nor is one with a bad IPv4 header checksum.
        let mut bad_ip = mk(false, 1000, &a[0]);
        bad_ip[8] = 7; // TTL changed, header checksum now wrong
        let mut out3 = Vec::new();
        let mut c = Coalescer::new();
        let mut w3 = |h: &[u8; VNET_HDR_LEN], p: &[u8]| -> Result<(), ()> {
            out3.push((VnetHdr::parse(h).unwrap(), p.to_vec()));
            Ok(())
        };
        c.push(&bad_ip, &mut w3).unwrap();
        c.push(&mk(false, 2000, &a[1]), &mut w3).unwrap();
        c.flush(&mut w3).unwrap();
        assert_eq!(out3.len(), 2);
        assert_eq!((out3[0].0.flags, &out3[0].1), (0, &bad_ip));
    }
}
