//! ICMP errors for packets the tunnel cannot carry (issue 14): a packet
//! read from the TUN whose destination no peer allows, or whose peer has no
//! endpoint, gets an ICMP host unreachable (IPv4 type 3 code 1) or ICMPv6
//! address unreachable (type 1 code 3) written back into the TUN, as
//! Linux's WireGuard does with icmp_ndo_send. `ping` then prints
//! "Destination Host Unreachable" at once instead of timing out.
//!
//! Source address: the unreachable destination itself. The error is
//! written into the TUN, so the kernel receives it as arriving on the wg
//! interface; Linux drops an arriving IPv4 packet whose source is one of its
//! own addresses ("martian source"), so the interface's address cannot be
//! used this way, and a raw socket would need a second path out (and
//! CAP_NET_RAW, and its own routing choices). The destination address
//! passes the kernel's checks (it is routed through this interface, so the
//! reverse-path filter accepts it) and tells the user which address is
//! unreachable ("From 10.98.0.77 ... Destination Host Unreachable").
//!
//! The stack's rules (RFC 1122 3.2.2, RFC 4443 2.4(e)): no error about an
//! ICMP error (or an ICMP type we do not know, or an ICMPv6 redirect), a
//! non-first fragment, or a packet from or to an unspecified, multicast or
//! broadcast address. The original is quoted as far as RFC 1812 4.3.2.3
//! allows for IPv4 (the whole error at most 576 bytes) and RFC 4443 2.4(c)
//! for IPv6 (at most 1280 bytes).
//!
//! Rate: one token bucket per interface, [`RATE_PER_SEC`] errors per
//! second with a burst of [`RATE_BURST`], FreeBSD's icmplim (200/s). A
//! per-destination limit (Linux's 1/s per peer) would need a table keyed by
//! address; the global bucket already bounds the cost of a local program
//! blasting at an unrouted address to a few hundred small TUN writes a
//! second, and a `ping` sees every answer.

/// Largest IPv4 error (RFC 1812 4.3.2.3).
pub const V4_MAX: usize = 576;
/// Largest IPv6 error: the minimum MTU (RFC 4443 2.4(c)).
pub const V6_MAX: usize = 1280;
/// Errors per second the bucket refills.
pub const RATE_PER_SEC: u64 = 200;
/// Errors the bucket holds.
pub const RATE_BURST: u64 = 50;

const V4_HDR: usize = 20;
const V6_HDR: usize = 40;
const ICMP_HDR: usize = 8;
const PROTO_ICMP: u8 = 1;
const PROTO_ICMPV6: u8 = 58;
/// Hop limit of our errors (Linux's default ip_default_ttl).
const TTL: u8 = 64;

/// The one's-complement sum of `data` as 16-bit big-endian words (an odd
/// last byte padded with zero), added to `acc`, not yet folded.
fn sum(mut acc: u64, data: &[u8]) -> u64 {
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

/// Folds a sum to 16 bits and complements it: the Internet checksum.
fn finish(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// The Internet checksum of `data` (RFC 1071).
pub fn checksum(data: &[u8]) -> u16 {
    finish(sum(0, data))
}

/// The ICMPv6 checksum of `msg` from `src` to `dst` (RFC 8200 8.1's
/// pseudo-header: addresses, upper-layer length, next header).
pub fn checksum_v6(src: &[u8; 16], dst: &[u8; 16], msg: &[u8]) -> u16 {
    let mut acc = sum(0, src);
    acc = sum(acc, dst);
    acc += msg.len() as u64;
    acc += u64::from(PROTO_ICMPV6);
    finish(sum(acc, msg))
}

/// A token bucket over a monotonic clock in nanoseconds.
pub struct TokenBucket {
    /// Tokens times 1e9 (one token per `1e9 / rate` ns keeps integers).
    scaled: u64,
    last_ns: u64,
    rate: u64,
    burst: u64,
}

impl TokenBucket {
    pub const fn new(rate: u64, burst: u64) -> TokenBucket {
        TokenBucket {
            scaled: burst.saturating_mul(1_000_000_000),
            last_ns: 0,
            rate,
            burst,
        }
    }

    /// Takes a token if there is one at time `now_ns`.
    pub fn take(&mut self, now_ns: u64) -> bool {
        let cap = self.burst.saturating_mul(1_000_000_000);
        let dt = now_ns.saturating_sub(self.last_ns);
        self.last_ns = self.last_ns.max(now_ns);
        self.scaled = self
            .scaled
            .saturating_add(dt.saturating_mul(self.rate))
            .min(cap);
        if self.scaled >= 1_000_000_000 {
            self.scaled -= 1_000_000_000;
            true
        } else {
            false
        }
    }
}

fn v4_unicast(a: &[u8]) -> bool {
    // 0/8 (this network), 224/4 multicast, 240/4 reserved and the limited
    // broadcast.
    a[0] != 0 && a[0] < 224
}

fn v6_unicast(a: &[u8]) -> bool {
    a[0] != 0xff && a.iter().any(|b| *b != 0)
}

/// Whether an ICMP type is a query (an error may answer it); unknown types
/// count as errors, as Linux does.
fn icmp4_query(t: u8) -> bool {
    matches!(t, 0 | 8 | 13 | 14 | 15 | 16 | 17 | 18)
}

/// Builds the ICMP error for the IP packet `pkt` into `out` (at least
/// [`V6_MAX`] bytes); returns its length, or None when the rules above say
/// no error may be sent (or `pkt` is not a well-formed IP header).
pub fn unreachable(pkt: &[u8], out: &mut [u8]) -> Option<usize> {
    match pkt.first()? >> 4 {
        4 => unreachable_v4(pkt, out),
        6 => unreachable_v6(pkt, out),
        _ => None,
    }
}

fn unreachable_v4(pkt: &[u8], out: &mut [u8]) -> Option<usize> {
    let ihl = usize::from(pkt.first()? & 0x0f) * 4;
    if ihl < V4_HDR || pkt.len() < ihl {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([pkt[2], pkt[3]]));
    if total < ihl {
        return None;
    }
    let pkt = &pkt[..total.min(pkt.len())];
    let frag_off = u16::from_be_bytes([pkt[6], pkt[7]]) & 0x1fff;
    if frag_off != 0 {
        return None;
    }
    let (src, dst) = (&pkt[12..16], &pkt[16..20]);
    if !v4_unicast(src) || !v4_unicast(dst) {
        return None;
    }
    if pkt[9] == PROTO_ICMP && !icmp4_query(*pkt.get(ihl)?) {
        return None;
    }
    let quote = pkt.len().min(V4_MAX - V4_HDR - ICMP_HDR);
    let len = V4_HDR + ICMP_HDR + quote;
    let out = out.get_mut(..len)?;
    out[..V4_HDR].copy_from_slice(&[
        0x45,
        0xc0, // IPTOS_PREC_INTERNETCONTROL, as Linux marks its errors
        (len >> 8) as u8,
        len as u8,
        0,
        0,
        0,
        0,
        TTL,
        PROTO_ICMP,
        0,
        0,
        dst[0],
        dst[1],
        dst[2],
        dst[3],
        src[0],
        src[1],
        src[2],
        src[3],
    ]);
    let c = checksum(&out[..V4_HDR]);
    out[10..12].copy_from_slice(&c.to_be_bytes());
    let icmp = &mut out[V4_HDR..];
    icmp[..ICMP_HDR].copy_from_slice(&[3, 1, 0, 0, 0, 0, 0, 0]);
    icmp[ICMP_HDR..].copy_from_slice(&pkt[..quote]);
    let c = checksum(icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    Some(len)
}

/// Walks IPv6 extension headers: false when the packet is a non-first
/// fragment, an ICMPv6 error or redirect, or cannot be parsed.
fn v6_may_answer(pkt: &[u8]) -> bool {
    let mut nh = pkt[6];
    let mut off = V6_HDR;
    // A bounded walk: a chain longer than this is not worth an answer.
    for _ in 0..8 {
        match nh {
            // Hop-by-hop, routing, destination options.
            0 | 43 | 60 => {
                let Some(h) = pkt.get(off..off + 2) else {
                    return false;
                };
                nh = h[0];
                off += (usize::from(h[1]) + 1) * 8;
            }
            // Fragment: only the first may be answered.
            44 => {
                let Some(h) = pkt.get(off..off + 8) else {
                    return false;
                };
                if u16::from_be_bytes([h[2], h[3]]) & 0xfff8 != 0 {
                    return false;
                }
                nh = h[0];
                off += 8;
            }
            // Authentication header: its length is in 4-byte units.
            51 => {
                let Some(h) = pkt.get(off..off + 2) else {
                    return false;
                };
                nh = h[0];
                off += (usize::from(h[1]) + 2) * 4;
            }
            PROTO_ICMPV6 => {
                return match pkt.get(off) {
                    Some(t) => *t >= 128 && *t != 137,
                    None => false,
                };
            }
            _ => return true,
        }
    }
    false
}

fn unreachable_v6(pkt: &[u8], out: &mut [u8]) -> Option<usize> {
    if pkt.len() < V6_HDR {
        return None;
    }
    let payload = usize::from(u16::from_be_bytes([pkt[4], pkt[5]]));
    let pkt = &pkt[..(V6_HDR + payload).min(pkt.len())];
    let src: [u8; 16] = pkt[8..24].try_into().ok()?;
    let dst: [u8; 16] = pkt[24..40].try_into().ok()?;
    if !v6_unicast(&src) || !v6_unicast(&dst) || !v6_may_answer(pkt) {
        return None;
    }
    let quote = pkt.len().min(V6_MAX - V6_HDR - ICMP_HDR);
    let plen = ICMP_HDR + quote;
    let len = V6_HDR + plen;
    let out = out.get_mut(..len)?;
    out[..8].copy_from_slice(&[
        0x60,
        0,
        0,
        0,
        (plen >> 8) as u8,
        plen as u8,
        PROTO_ICMPV6,
        TTL,
    ]);
    // From the unreachable address back to the sender.
    out[8..24].copy_from_slice(&dst);
    out[24..40].copy_from_slice(&src);
    let icmp = &mut out[V6_HDR..];
    icmp[..ICMP_HDR].copy_from_slice(&[1, 3, 0, 0, 0, 0, 0, 0]);
    icmp[ICMP_HDR..].copy_from_slice(&pkt[..quote]);
    let c = checksum_v6(&dst, &src, icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    Some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An independent checksum: bytes summed one at a time into the high
    /// or low half of the word by position, folded at the end.
    fn ref_sum(parts: &[&[u8]]) -> u16 {
        let mut hi: u64 = 0;
        let mut lo: u64 = 0;
        let mut i = 0usize;
        for p in parts {
            for b in p.iter() {
                if i % 2 == 0 {
                    hi += u64::from(*b);
                } else {
                    lo += u64::from(*b);
                }
                i += 1;
            }
        }
        let mut s = hi * 256 + lo;
        while s > 0xffff {
            s = (s >> 16) + (s & 0xffff);
        }
        s as u16
    }

    fn ref_ok(parts: &[&[u8]]) -> bool {
        ref_sum(parts) == 0xffff
    }

    fn v4_echo(src: [u8; 4], dst: [u8; 4], payload: usize) -> Vec<u8> {
        let len = 20 + 8 + payload;
        let mut p = vec![0u8; len];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        p[8] = 64;
        p[9] = 1;
        p[12..16].copy_from_slice(&src);
        p[16..20].copy_from_slice(&dst);
        let c = checksum(&p[..20]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        p[20] = 8;
        for (i, b) in p[28..].iter_mut().enumerate() {
            *b = i as u8;
        }
        p
    }

    fn v6_packet(src: [u8; 16], dst: [u8; 16], nh: u8, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0u8; 40];
        p[0] = 0x60;
        p[4..6].copy_from_slice(&(payload.len() as u16).to_be_bytes());
        p[6] = nh;
        p[7] = 64;
        p[8..24].copy_from_slice(&src);
        p[24..40].copy_from_slice(&dst);
        p.extend_from_slice(payload);
        p
    }

    const A6: [u8; 16] = [0xfd, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const B6: [u8; 16] = [0xfd, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x77];

    #[test]
    fn checksum_matches_reference() {
        let mut x: u32 = 1;
        for n in 0..300 {
            let data: Vec<u8> = (0..n)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (x >> 16) as u8
                })
                .collect();
            assert_eq!(checksum(&data), !ref_sum(&[&data]), "len {n}");
        }
        // RFC 1071's example: 0001 f203 f4f5 f6f7 sums to ddf2.
        assert_eq!(checksum(&[0, 1, 0xf2, 3, 0xf4, 0xf5, 0xf6, 0xf7]), !0xddf2);
    }

    #[test]
    fn v4_host_unreachable() {
        let orig = v4_echo([10, 98, 0, 1], [10, 98, 0, 77], 56);
        let mut out = [0u8; V6_MAX];
        let n = unreachable(&orig, &mut out).expect("an error");
        let e = &out[..n];
        assert_eq!(n, 20 + 8 + orig.len());
        assert_eq!(e[0], 0x45);
        assert_eq!(usize::from(u16::from_be_bytes([e[2], e[3]])), n);
        assert_eq!(e[9], 1);
        assert_eq!(&e[12..16], &[10, 98, 0, 77]);
        assert_eq!(&e[16..20], &[10, 98, 0, 1]);
        assert!(ref_ok(&[&e[..20]]), "IPv4 header checksum");
        assert!(ref_ok(&[&e[20..]]), "ICMP checksum");
        assert_eq!((e[20], e[21]), (3, 1));
        assert_eq!(&e[28..], &orig[..]);
        // The error itself is an error: never answered.
        assert_eq!(unreachable(e, &mut [0u8; V6_MAX]), None);
    }

    #[test]
    fn v4_quote_capped_at_576() {
        let orig = v4_echo([10, 0, 0, 1], [10, 0, 0, 2], 1400);
        let mut out = [0u8; V6_MAX];
        let n = unreachable(&orig, &mut out).unwrap();
        assert_eq!(n, V4_MAX);
        assert_eq!(&out[28..n], &orig[..n - 28]);
        assert!(ref_ok(&[&out[20..n]]));
    }

    #[test]
    fn v4_rules() {
        let mut out = [0u8; V6_MAX];
        let ok = v4_echo([10, 0, 0, 1], [10, 0, 0, 2], 8);
        assert!(unreachable(&ok, &mut out).is_some());
        // Non-first fragment.
        let mut p = ok.clone();
        p[7] = 1;
        assert_eq!(unreachable(&p, &mut out), None);
        // First fragment with more to come: answered.
        let mut p = ok.clone();
        p[6] = 0x20;
        assert!(unreachable(&p, &mut out).is_some());
        for bad in [[0, 0, 0, 0], [224, 0, 0, 1], [255, 255, 255, 255]] {
            assert_eq!(unreachable(&v4_echo(bad, [10, 0, 0, 2], 8), &mut out), None);
            assert_eq!(unreachable(&v4_echo([10, 0, 0, 1], bad, 8), &mut out), None);
        }
        // ICMP errors (and unknown types) are not answered; queries are.
        for (t, answered) in [(0, true), (8, true), (3, false), (11, false), (99, false)] {
            let mut p = ok.clone();
            p[20] = t;
            assert_eq!(unreachable(&p, &mut out).is_some(), answered, "type {t}");
        }
        // UDP: answered whatever its payload.
        let mut p = ok.clone();
        p[9] = 17;
        p[20] = 3;
        assert!(unreachable(&p, &mut out).is_some());
    }

    #[test]
    fn v6_address_unreachable() {
        let mut icmp = vec![128u8, 0, 0, 0, 0, 1, 0, 1];
        icmp.extend((0..56).map(|i| i as u8));
        let orig = v6_packet(A6, B6, 58, &icmp);
        let mut out = [0u8; V6_MAX];
        let n = unreachable(&orig, &mut out).unwrap();
        let e = &out[..n];
        assert_eq!(e[0] >> 4, 6);
        assert_eq!(usize::from(u16::from_be_bytes([e[4], e[5]])), n - 40);
        assert_eq!(e[6], 58);
        assert_eq!(&e[8..24], &B6);
        assert_eq!(&e[24..40], &A6);
        assert_eq!((e[40], e[41]), (1, 3));
        let plen = ((n - 40) as u32).to_be_bytes();
        assert!(ref_ok(&[&e[8..40], &plen, &[0, 0, 0, 58], &e[40..]]));
        assert_eq!(&e[48..], &orig[..]);
        assert_eq!(unreachable(e, &mut [0u8; V6_MAX]), None);
    }

    #[test]
    fn v6_quote_capped_at_1280() {
        let orig = v6_packet(A6, B6, 17, &[7u8; 1400]);
        let mut out = [0u8; V6_MAX];
        let n = unreachable(&orig, &mut out).unwrap();
        assert_eq!(n, V6_MAX);
        let plen = ((n - 40) as u32).to_be_bytes();
        assert!(ref_ok(&[&out[8..40], &plen, &[0, 0, 0, 58], &out[40..n]]));
    }

    #[test]
    fn v6_rules() {
        let mut out = [0u8; V6_MAX];
        let mut mc = B6;
        mc[0] = 0xff;
        assert_eq!(unreachable(&v6_packet(A6, mc, 17, &[0; 8]), &mut out), None);
        assert_eq!(
            unreachable(&v6_packet([0; 16], B6, 17, &[0; 8]), &mut out),
            None
        );
        // An error or redirect behind a hop-by-hop header: not answered.
        for (t, answered) in [
            (1, false),
            (4, false),
            (137, false),
            (128, true),
            (135, true),
        ] {
            let mut pl = vec![58, 0, 1, 4, 0, 0, 0, 0];
            pl.extend_from_slice(&[t, 0, 0, 0, 0, 0, 0, 0]);
            let p = v6_packet(A6, B6, 0, &pl);
            assert_eq!(unreachable(&p, &mut out).is_some(), answered, "type {t}");
        }
        // Fragments: the first is answered, later ones not.
        for (off, answered) in [(0u16, true), (8u16 << 3, false)] {
            let mut pl = vec![17, 0, 0, 0, 0, 0, 0, 1];
            pl[2..4].copy_from_slice(&(off | 1).to_be_bytes());
            pl.extend_from_slice(&[0; 16]);
            let p = v6_packet(A6, B6, 44, &pl);
            assert_eq!(unreachable(&p, &mut out).is_some(), answered);
        }
        // A truncated extension chain: not answered.
        assert_eq!(unreachable(&v6_packet(A6, B6, 60, &[]), &mut out), None);
    }

    #[test]
    fn garbage_never_panics() {
        let mut x: u64 = 0x1234_5678_9abc_def0;
        let mut out = [0u8; V6_MAX];
        let mut small = [0u8; 30];
        let seeds = [
            v4_echo([10, 0, 0, 1], [10, 0, 0, 2], 100),
            v6_packet(A6, B6, 0, &[58, 0, 1, 4, 0, 0, 0, 0, 128, 0, 0, 0]),
        ];
        for i in 0..20_000 {
            let mut p = seeds[i % 2].clone();
            let cut = (x as usize) % (p.len() + 1);
            p.truncate(cut);
            for _ in 0..(i % 5) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if !p.is_empty() {
                    let at = (x as usize >> 8) % p.len();
                    p[at] = x as u8;
                }
            }
            if let Some(n) = unreachable(&p, &mut out) {
                assert!(n <= V6_MAX);
                let e = &out[..n];
                if e[0] >> 4 == 4 {
                    assert!(n <= V4_MAX);
                    assert!(ref_ok(&[&e[..20]]) && ref_ok(&[&e[20..]]));
                } else {
                    let plen = ((n - 40) as u32).to_be_bytes();
                    assert!(ref_ok(&[&e[8..40], &plen, &[0, 0, 0, 58], &e[40..]]));
                }
            }
            // A too-small output buffer is refused, not overrun.
            let _ = unreachable(&p, &mut small);
        }
    }

    #[test]
    fn bucket() {
        let mut b = TokenBucket::new(RATE_PER_SEC, RATE_BURST);
        let t0 = 5_000_000_000;
        let got = (0..1000).filter(|_| b.take(t0)).count();
        assert_eq!(got as u64, RATE_BURST);
        // One second later: RATE_PER_SEC more, capped by the burst.
        let got = (0..1000).filter(|_| b.take(t0 + 1_000_000_000)).count();
        assert_eq!(got as u64, RATE_BURST.min(RATE_PER_SEC));
        // 10 ms later: two tokens at 200/s.
        let got = (0..1000).filter(|_| b.take(t0 + 1_010_000_000)).count();
        assert_eq!(got, 2);
        // A clock going backwards gives nothing and breaks nothing.
        assert!(!b.take(t0));
    }
}
