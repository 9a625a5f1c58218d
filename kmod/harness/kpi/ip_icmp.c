/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * ICMP errors and FIBs: icmp_error() after sys/netinet/ip_icmp.c
 * (icmp_error, icmp_reflect, icmp_send), icmp6_error() after
 * sys/netinet6/icmp6.c (icmp6_error, icmp6_reflect), and the number of
 * FIBs (V_rt_numfibs, sys/net/route.c).
 *
 * Enforced: called in the net epoch with curvnet set, with a packet
 * header mbuf at its IP header, which is consumed.  Modelled: the
 * refusals (a non-first fragment, an ICMP error about an ICMP error, a
 * multicast, experimental or zero source, a link-layer broadcast or
 * multicast), the quote (IPv4: the header and 8 bytes, net.inet.icmp.
 * quotelen, or the whole TCP header; IPv6: as much as fits in 1280
 * bytes), the rate
 * limits (net.inet.icmp.icmplim 200/s; net.inet6.icmp6.errppslimit
 * 100/s) and the checksums.  The error is then sent as icmp_reflect()
 * does, from the address the route back to the sender gives, but through
 * the Linux namespace's own stack (a raw socket): Linux's routing stands
 * for FreeBSD's, and a sender on this host gets the error over loopback
 * as it would from FreeBSD.  Each error sent is counted for the tests
 * (kh_icmp_sent, kh_icmp6_sent).
 */
#include "kh.h"

#include <sys/epoch.h>
#include <sys/mbuf.h>
#include <sys/socket.h>
#include <net/if.h>
#include <net/route.h>
#include <net/vnet.h>
#include <netinet/in.h>
#include <netinet/in_systm.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/ip6.h>
#include <netinet/icmp6.h>

VNET_DEFINE(uint32_t, _rt_numfibs) = 1;		/* net.fibs */

volatile u_long kh_icmp_sent, kh_icmp6_sent;

#define	KH_ICMP_QUOTELEN	8	/* net.inet.icmp.quotelen */
#define	KH_ICMP_LIM		200	/* net.inet.icmp.icmplim */
#define	KH_ICMP6_LIM		100	/* net.inet6.icmp6.errppslimit */

/* ppsratecheck(9): at most lim in each second. */
static int
kh_icmp_ratecheck(volatile uint64_t *sec, volatile int *count, int lim)
{
	uint64_t now = host_monotonic_ns() / 1000000000ULL;

	if (__atomic_exchange_n(sec, now, __ATOMIC_RELAXED) != now)
		__atomic_store_n(count, 0, __ATOMIC_RELAXED);
	return (__atomic_add_fetch(count, 1, __ATOMIC_RELAXED) <= lim);
}

/* The Internet checksum of len bytes, added to sum. */
static uint16_t
kh_cksum(uint32_t sum, const uint8_t *p, size_t len)
{

	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (len > 0)
		sum += (uint32_t)p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (htons((uint16_t)~sum));
}

static void
kh_icmp_contract(struct mbuf *m, const char *fn)
{

	if (kh_curthread()->epochnest == 0)
		kh_panic("%s outside the net epoch", fn);
	if (curvnet == NULL)
		kh_panic("%s without curvnet", fn);
	if ((m->m_flags & M_PKTHDR) == 0)
		kh_panic("%s: no packet header", fn);
}

void
icmp_error(struct mbuf *n, int type, int code, uint32_t dest __unused,
    int mtu __unused)
{
	static volatile uint64_t sec;
	static volatile int count;
	uint8_t pkt[sizeof(struct ip) + ICMP_MINLEN + 60 + 60];
	struct ip *oip, *nip;
	struct icmp *icp;
	u_int hlen, iplen, elen, qlen;
	uint8_t th[13];
	in_addr_t src;

	kh_icmp_contract(n, "icmp_error");
	if (type < 0 || type > ICMP_MAXTYPE)
		kh_panic("icmp_error: type %d", type);
	if ((n->m_flags & (M_DECRYPTED | M_BCAST | M_MCAST)) != 0 ||
	    n->m_len < (int)sizeof(struct ip) + ICMP_MINLEN)
		goto freeit;
	oip = mtod(n, struct ip *);
	hlen = oip->ip_hl << 2;
	if (hlen < sizeof(struct ip) || n->m_len < (int)hlen + ICMP_MINLEN ||
	    (oip->ip_off & htons(~(IP_MF | IP_DF))) != 0)
		goto freeit;
	if (oip->ip_p == IPPROTO_ICMP && !ICMP_INFOTYPE(
	    ((struct icmp *)((caddr_t)oip + hlen))->icmp_type))
		goto freeit;
	src = ntohl(oip->ip_src.s_addr);
	if (IN_MULTICAST(src) || IN_EXPERIMENTAL(src) || IN_ZERONET(src))
		goto freeit;
	if (!kh_icmp_ratecheck(&sec, &count, KH_ICMP_LIM))
		goto freeit;

	/* The quote: the header (options too), then quotelen bytes or more. */
	iplen = MAX(ntohs(oip->ip_len), hlen);
	elen = MAX(ICMP_MINLEN, MIN(KH_ICMP_QUOTELEN, iplen - hlen));
	if (oip->ip_p == IPPROTO_TCP && m_length(n, NULL) >= hlen + 13) {
		m_copydata(n, hlen, sizeof(th), (caddr_t)th);
		elen = MAX((u_int)(th[12] >> 4) << 2, elen);
	}
	qlen = MIN(hlen + elen, (u_int)m_length(n, NULL));
	memset(pkt, 0, sizeof(pkt));
	nip = (struct ip *)pkt;
	icp = (struct icmp *)(nip + 1);
	icp->icmp_type = type;
	icp->icmp_code = code;
	m_copydata(n, 0, qlen, (caddr_t)&icp->icmp_ip);
	icp->icmp_cksum = kh_cksum(0, (uint8_t *)icp, ICMP_MINLEN + qlen);
	nip->ip_v = IPVERSION;
	nip->ip_hl = sizeof(struct ip) >> 2;
	nip->ip_len = htons(sizeof(struct ip) + ICMP_MINLEN + qlen);
	nip->ip_ttl = 64;				/* V_ip_defttl */
	nip->ip_p = IPPROTO_ICMP;
	nip->ip_dst = oip->ip_src;
	/* icmp_reflect(): not sent to us, so the route back's address. */
	if (host_route_src(4, (uint8_t *)&nip->ip_dst,
	    (uint8_t *)&nip->ip_src) != 0)
		goto freeit;
	nip->ip_sum = kh_cksum(0, pkt, sizeof(struct ip));
	if (host_ip_output(4, pkt, ntohs(nip->ip_len)) == 0)
		__atomic_add_fetch(&kh_icmp_sent, 1, __ATOMIC_RELAXED);
freeit:
	m_freem(n);
}

void
icmp6_error(struct mbuf *m, int type, int code, int param)
{
	static volatile uint64_t sec;
	static volatile int count;
	uint8_t pkt[1280];
	struct ip6_hdr *oip6, *nip6;
	struct icmp6_hdr *icp, *oicp;
	struct in6_addr src6, dst6;
	uint32_t sum;
	u_int qlen, i;

	kh_icmp_contract(m, "icmp6_error");
	if (m->m_len < (int)sizeof(struct ip6_hdr))
		goto freeit;
	oip6 = mtod(m, struct ip6_hdr *);
	/* Aligned copies: struct ip6_hdr is packed. */
	memcpy(&src6, &oip6->ip6_src, sizeof(src6));
	memcpy(&dst6, &oip6->ip6_dst, sizeof(dst6));
	/* RFC 4443 2.4 (e): no error about a multicast packet... */
	if (((m->m_flags & (M_BCAST | M_MCAST)) != 0 ||
	    IN6_IS_ADDR_MULTICAST(&dst6)) &&
	    type != ICMP6_PACKET_TOO_BIG &&
	    !(type == ICMP6_PARAM_PROB && code == ICMP6_PARAMPROB_OPTION))
		goto freeit;
	if (IN6_IS_ADDR_UNSPECIFIED(&src6) || IN6_IS_ADDR_MULTICAST(&src6))
		goto freeit;
	/* ...nor about an error or a redirect (first header only). */
	if (oip6->ip6_nxt == IPPROTO_ICMPV6 && m->m_len >=
	    (int)(sizeof(*oip6) + sizeof(*oicp))) {
		oicp = (struct icmp6_hdr *)(oip6 + 1);
		if (oicp->icmp6_type < ICMP6_ECHO_REQUEST ||
		    oicp->icmp6_type == ND_REDIRECT)
			goto freeit;
	}
	if (!kh_icmp_ratecheck(&sec, &count, KH_ICMP6_LIM))
		goto freeit;

	qlen = MIN((u_int)m_length(m, NULL),
	    sizeof(pkt) - sizeof(*nip6) - sizeof(*icp));
	memset(pkt, 0, sizeof(*nip6) + sizeof(*icp));
	nip6 = (struct ip6_hdr *)pkt;
	icp = (struct icmp6_hdr *)(nip6 + 1);
	icp->icmp6_type = type;
	icp->icmp6_code = code;
	icp->icmp6_pptr = htonl((uint32_t)param);
	m_copydata(m, 0, qlen, (caddr_t)(icp + 1));
	nip6->ip6_vfc = IPV6_VERSION;
	nip6->ip6_plen = htons(sizeof(*icp) + qlen);
	nip6->ip6_nxt = IPPROTO_ICMPV6;
	nip6->ip6_hlim = 64;				/* V_ip6_defhlim */
	nip6->ip6_dst = oip6->ip6_src;
	if (host_route_src(6, (uint8_t *)&nip6->ip6_dst,
	    (uint8_t *)&nip6->ip6_src) != 0)
		goto freeit;
	/* The pseudo-header: addresses, length, next header. */
	for (sum = 0, i = 0; i < 32; i += 2)
		sum += (uint32_t)pkt[8 + i] << 8 | pkt[9 + i];
	sum += sizeof(*icp) + qlen + IPPROTO_ICMPV6;
	icp->icmp6_cksum = kh_cksum(sum, (uint8_t *)icp, sizeof(*icp) + qlen);
	if (host_ip_output(6, pkt, sizeof(*nip6) + sizeof(*icp) + qlen) == 0)
		__atomic_add_fetch(&kh_icmp6_sent, 1, __ATOMIC_RELAXED);
freeit:
	m_freem(m);
}
