/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * Kernel UDP sockets with a tunnelling callback, after
 * sys/kern/uipc_socket.c (socreate, sobind, sosend_dgram, sosetopt,
 * soclose) and sys/netinet/udp_usrreq.c (udp_set_kernel_tunneling,
 * udp_input/udp_append): each socket is a real UDP socket of the Linux
 * namespace; a thread per socket turns every datagram into an mbuf with
 * IP and UDP headers in front (as udp_input sees it) and calls the
 * callback in the net epoch, with curvnet the socket's VNET
 * (CRED_TO_VNET of the creating credential).  A FIB (SO_SETFIB) is the
 * socket's Linux mark (SO_MARK): policy routing on the mark stands for
 * the FIB's routing table.
 *
 * Enforced: the callback may be set once; sosend takes a valid packet,
 * consumes it always, and refuses a datagram over the send buffer
 * (sosend_dgram: EMSGSIZE; udp_sendspace is 9216 until SO_SNDBUF raises
 * it); socreate, sobind, soclose may sleep.  Unlike FreeBSD, soclose
 * waits for a callback in progress on its socket (a simplification: the
 * model cannot free a socket a thread still reads).
 */
#include "kh.h"

#include <sys/mbuf.h>
#include <sys/jail.h>
#include <sys/protosw.h>
#include <sys/socket.h>
#include <sys/socketvar.h>
#include <sys/sockopt.h>
#include <net/route.h>
#include <net/vnet.h>
#include <netinet/in.h>
#include <netinet/in_pcb.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/udp.h>
#include <netinet/udp_var.h>

#define	KH_UDP_SENDSPACE	9216		/* net.inet.udp.maxdgram */
#define	KH_UDP_RECVSPACE	42080
#define	KH_SB_MAX		(2 * 1024 * 1024)	/* kern.ipc.maxsockbuf */

struct kh_socket {
	struct socket		 so;
	struct inpcb		 inp;
	int			 family;	/* 4 or 6 */
	int			 fd;
	int			 bound;
	host_thread_t		*reader;
	volatile int		 stop;
	udp_tun_func_t		*tun_f;
	void			*tun_ctx;
	struct ucred		*cred;
};

#define	KH_SO(so)	((struct kh_socket *)(so))

struct malloc_type M_KH_SOCKET[1] = {{ .ks_shortdesc = "socket" }};
static volatile long kh_sockets;

/*
 * Test knobs (kharness test defect-*), each used once then reset:
 * kh_so_stall_ns makes the next sosend() take that long (a slow link
 * under a send, in the sender's net epoch section, as a driver's
 * if_transmit can be); kh_so_fail_opt makes the next sosetopt() of that
 * SOL_SOCKET option fail with ENOBUFS (sbreserve() or a MAC check can).
 */
volatile uint64_t kh_so_stall_ns;
volatile int kh_so_fail_opt;
/*
 * And kh_so_rx_tags tags of cookie kh_so_rx_cookie (each naming another
 * interface) on the next datagram received: what a datagram carries that
 * reaches udp_input() inline through that many decapsulations.
 */
volatile int kh_so_rx_tags;
volatile uint32_t kh_so_rx_cookie;
static char kh_so_rx_ifp;	/* the interface they name */

/* Open sockets per FIB, for the tests (FIBs beyond the last: the last). */
static volatile long kh_so_fibs[KH_SO_FIBS];

long
kh_so_fib_count(int fib, int add)
{
	fib = MIN((u_int)fib, KH_SO_FIBS - 1);
	return (__atomic_add_fetch(&kh_so_fibs[fib], add, __ATOMIC_RELAXED));
}

long
kh_socket_count(void)
{

	return (__atomic_load_n(&kh_sockets, __ATOMIC_RELAXED));
}

/* KH_TRACE_UDP: every datagram logged, ms, ports, message type, length. */
int kh_trace_udp;

void
kh_socket_init_model(void)
{

	malloc_init(M_KH_SOCKET);
	kh_trace_udp = host_getenv("KH_TRACE_UDP") != NULL;
}

int
socreate(int dom, struct socket **aso, int type, int proto,
    struct ucred *cred, struct thread *td)
{
	struct kh_socket *ks;
	int fd;

	kh_check_sleep("socreate");
	if (td != curthread)
		kh_panic("socreate for another thread");
	if (dom != AF_INET && dom != AF_INET6)
		return (EAFNOSUPPORT);
	if (type != SOCK_DGRAM || proto != IPPROTO_UDP)
		return (EPROTONOSUPPORT);
	if (cred == NULL || cred->cr_prison == NULL ||
	    cred->cr_prison->pr_vnet == NULL)
		kh_panic("socreate with a credential of no VNET");
	fd = host_udp_open(dom == AF_INET ? 4 : 6);
	if (fd < 0)
		return (-fd);
	ks = malloc(sizeof(*ks), M_KH_SOCKET, M_WAITOK | M_ZERO);
	ks->family = dom == AF_INET ? 4 : 6;
	ks->fd = fd;
	ks->so.so_type = type;
	ks->so.so_pcb = &ks->inp;
	ks->so.so_vnet = CRED_TO_VNET(cred);
	ks->so.so_snd.sb_hiwat = KH_UDP_SENDSPACE;
	ks->so.so_rcv.sb_hiwat = KH_UDP_RECVSPACE;
	ks->inp.inp_socket = &ks->so;
	ks->cred = crhold(cred);
	/* As socreate(): the FIB of the calling process (setfib(1)). */
	ks->so.so_fibnum = td->td_proc->p_fibnum;
	ks->inp.inp_inc.inc_fibnum = ks->so.so_fibnum;
	kh_so_fib_count(ks->so.so_fibnum, 1);
	__atomic_add_fetch(&kh_sockets, 1, __ATOMIC_RELAXED);
	*aso = &ks->so;
	return (0);
}

int
udp_set_kernel_tunneling(struct socket *so, udp_tun_func_t f,
    udp_tun_icmp_t i __unused, void *ctx)
{
	struct kh_socket *ks = KH_SO(so);

	if (ks->tun_f != NULL)
		return (EBUSY);
	ks->tun_f = f;
	ks->tun_ctx = ctx;
	return (0);
}

static int
kh_sa_to_host(const struct sockaddr *sa, struct host_addr *a, int family)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

	memset(a, 0, sizeof(*a));
	if (family == 4) {
		if (sa->sa_family != AF_INET || sa->sa_len != sizeof(*sin))
			return (EAFNOSUPPORT);
		a->family = 4;
		a->port = ntohs(sin->sin_port);
		memcpy(a->addr, &sin->sin_addr, 4);
	} else {
		if (sa->sa_family != AF_INET6 || sa->sa_len != sizeof(*sin6))
			return (EAFNOSUPPORT);
		a->family = 6;
		a->port = ntohs(sin6->sin6_port);
		a->scope_id = sin6->sin6_scope_id;
		a->flowinfo = ntohl(sin6->sin6_flowinfo);
		memcpy(a->addr, &sin6->sin6_addr, 16);
	}
	return (0);
}

/* udp_input: the datagram as the IP layer has it, headers in front. */
static struct mbuf *
kh_udp_mbuf(struct kh_socket *ks, const char *data, long n,
    const struct host_addr *from, int *offp)
{
	struct ip *ip;
	struct ip6_hdr *ip6;
	struct udphdr *uh;
	struct mbuf *m, *d;
	int hlen, off;

	hlen = ks->family == 4 ? sizeof(struct ip) : sizeof(struct ip6_hdr);
	off = hlen;
	d = NULL;
	if (max_linkhdr + hlen + sizeof(*uh) + n > MJUM16BYTES) {
		/*
		 * Longer than any cluster (a datagram of IP fragments put
		 * back together): the headers, then the data in an mbuf of
		 * its own, as ip_reass() chains the fragments.
		 */
		if ((d = m_get3(n, M_NOWAIT, MT_DATA, 0)) == NULL)
			return (NULL);
		m = m_get3(max_linkhdr + hlen + sizeof(*uh), M_NOWAIT,
		    MT_DATA, M_PKTHDR);
	} else {
		/* A receive buffer of a NIC: a cluster, 2 bytes in. */
		m = m_get3(max_linkhdr + hlen + sizeof(*uh) + n, M_NOWAIT,
		    MT_DATA, M_PKTHDR);
	}
	if (m == NULL) {
		m_freem(d);
		return (NULL);
	}
	m->m_data += max_linkhdr;
	m->m_len = m->m_pkthdr.len = hlen + sizeof(*uh) + n;
	if (d != NULL) {
		m->m_len = hlen + sizeof(*uh);
		d->m_len = n;
		memcpy(mtod(d, char *), data, n);
		m->m_next = d;
	}
	if (ks->family == 4) {
		ip = mtod(m, struct ip *);
		memset(ip, 0, sizeof(*ip));
		ip->ip_v = 4;
		ip->ip_hl = sizeof(*ip) >> 2;
		ip->ip_len = htons(m->m_len);
		ip->ip_ttl = 64;
		ip->ip_p = IPPROTO_UDP;
		memcpy(&ip->ip_src, from->addr, 4);
	} else {
		ip6 = mtod(m, struct ip6_hdr *);
		memset(ip6, 0, sizeof(*ip6));
		ip6->ip6_vfc = IPV6_VERSION;
		ip6->ip6_plen = htons(sizeof(*uh) + n);
		ip6->ip6_nxt = IPPROTO_UDP;
		ip6->ip6_hlim = 64;
		memcpy(&ip6->ip6_src, from->addr, 16);
	}
	uh = (struct udphdr *)(mtod(m, char *) + hlen);
	uh->uh_sport = htons(from->port);
	uh->uh_dport = ks->inp.inp_lport;
	uh->uh_ulen = htons(sizeof(*uh) + n);
	uh->uh_sum = 0;
	if (d == NULL)
		memcpy(uh + 1, data, n);
	*offp = off;
	return (m);
}

static u_int
kh_so_port(struct kh_socket *ks)
{

	return (ntohs(ks->inp.inp_lport));
}

static void
kh_udp_reader(void *arg)
{
	struct kh_socket *ks = arg;
	struct epoch_tracker et;
	struct sockaddr_in6 sin6;
	struct sockaddr_in sin;
	struct sockaddr *sa;
	struct host_addr from;
	struct mbuf *m;
	struct m_tag *t;
	char *buf;
	long n;
	int i, off;
	bool taken;

	buf = host_alloc(65536);
	while (!__atomic_load_n(&ks->stop, __ATOMIC_ACQUIRE)) {
		n = host_udp_recvfrom(ks->fd, buf, 65536, &from, 20);
		if (n == -1000)
			n = 0;		/* an empty datagram */
		else if (n <= 0)
			continue;
		if (ks->tun_f == NULL)
			continue;	/* sbappend: no kernel reader */
		if (kh_trace_udp)
			kh_log("%llu udp rx %u<-%u type %d len %ld",
			    host_monotonic_ns() / 1000000, kh_so_port(ks),
			    from.port, n > 0 ? buf[0] : -1, n);
		m = kh_udp_mbuf(ks, buf, n, &from, &off);
		if (m == NULL)
			continue;	/* udp_input: dropped, counted */
		for (i = __atomic_exchange_n(&kh_so_rx_tags, 0,
		    __ATOMIC_ACQ_REL); i > 0; i--) {
			if ((t = m_tag_alloc(__atomic_load_n(&kh_so_rx_cookie,
			    __ATOMIC_ACQUIRE), 0, sizeof(void *), M_NOWAIT)) ==
			    NULL)
				break;
			*(void **)(t + 1) = &kh_so_rx_ifp;
			m_tag_prepend(m, t);
		}
		if (from.family == 4) {
			memset(&sin, 0, sizeof(sin));
			sin.sin_len = sizeof(sin);
			sin.sin_family = AF_INET;
			sin.sin_port = htons(from.port);
			memcpy(&sin.sin_addr, from.addr, 4);
			sa = (struct sockaddr *)&sin;
		} else {
			memset(&sin6, 0, sizeof(sin6));
			sin6.sin6_len = sizeof(sin6);
			sin6.sin6_family = AF_INET6;
			sin6.sin6_port = htons(from.port);
			sin6.sin6_scope_id = from.scope_id;
			memcpy(&sin6.sin6_addr, from.addr, 16);
			sa = (struct sockaddr *)&sin6;
		}
		NET_EPOCH_ENTER(et);
		CURVNET_SET(ks->so.so_vnet);
		taken = ks->tun_f(m, off, &ks->inp, sa, ks->tun_ctx);
		CURVNET_RESTORE();
		NET_EPOCH_EXIT(et);
		if (!taken)
			m_freem(m);
	}
	host_free(buf);
}

int
sobind(struct socket *so, struct sockaddr *nam, struct thread *td)
{
	struct kh_socket *ks = KH_SO(so);
	struct host_addr a;
	int error;

	kh_check_sleep("sobind");
	if (td != curthread)
		kh_panic("sobind for another thread");
	if (ks->bound)
		return (EINVAL);
	if ((error = kh_sa_to_host(nam, &a, ks->family)) != 0)
		return (error);
	if ((error = -host_udp_bind(ks->fd, &a)) != 0)
		return (error);
	(void)host_udp_local(ks->fd, &a);
	ks->inp.inp_lport = htons(a.port);
	ks->bound = 1;
	(void)host_udp_set_buf(ks->fd, ks->so.so_snd.sb_hiwat,
	    ks->so.so_rcv.sb_hiwat);
	ks->reader = kh_thread_start(ks->family == 4 ? "udp4" : "udp6", 0,
	    kh_udp_reader, ks);
	return (0);
}

int
sosend(struct socket *so, struct sockaddr *addr, struct uio *uio,
    struct mbuf *top, struct mbuf *control, int flags __unused,
    struct thread *td)
{
	struct kh_socket *ks = KH_SO(so);
	struct host_addr a;
	struct mbuf *n;
	char *buf;
	long r;
	int error, len;

	if (td != curthread)
		kh_panic("sosend for another thread");
	if (uio != NULL || control != NULL || top == NULL)
		kh_panic("sosend: only a packet of mbufs is modelled");
	if ((top->m_flags & M_PKTHDR) == 0)
		kh_panic("sosend: no packet header");
	for (len = 0, n = top; n != NULL; n = n->m_next)
		len += n->m_len;
	if (len != top->m_pkthdr.len)
		kh_panic("sosend: m_pkthdr.len %d, chain %d",
		    top->m_pkthdr.len, len);
	if ((r = __atomic_exchange_n(&kh_so_stall_ns, 0, __ATOMIC_ACQ_REL)) !=
	    0)
		host_sleep_ns(r);
	error = 0;
	if (addr == NULL)
		error = EDESTADDRREQ;
	else if ((u_int)len > so->so_snd.sb_hiwat)
		error = EMSGSIZE;	/* sosend_dgram: resid > space */
	else if ((error = kh_sa_to_host(addr, &a, ks->family)) == 0) {
		buf = host_alloc(len);
		m_copydata(top, 0, len, buf);
		r = host_udp_sendto(ks->fd, buf, len, &a);
		if (kh_trace_udp)
			kh_log("%llu udp tx %u->%u type %d len %d r %ld",
			    host_monotonic_ns() / 1000000,
			    kh_so_port(ks), a.port, len > 0 ? buf[0] : -1, len,
			    r);
		host_free(buf);
		error = r < 0 ? -r : 0;
		/* The host's buffer may be full: FreeBSD drops with ENOBUFS. */
		if (error == EAGAIN)
			error = ENOBUFS;
	}
	m_freem(top);
	return (error);
}

int
sosetopt(struct socket *so, struct sockopt *sopt)
{
	struct kh_socket *ks = KH_SO(so);
	int v;

	if (sopt->sopt_dir != SOPT_SET || sopt->sopt_td != NULL)
		kh_panic("sosetopt: only kernel SOPT_SET is modelled");
	if (sopt->sopt_valsize < sizeof(int))
		return (EINVAL);
	memcpy(&v, sopt->sopt_val, sizeof(v));
	if (sopt->sopt_level == SOL_SOCKET &&
	    __atomic_load_n(&kh_so_fail_opt, __ATOMIC_ACQUIRE) != 0 &&
	    __atomic_compare_exchange_n(&kh_so_fail_opt,
	    &(int){ sopt->sopt_name }, 0, false, __ATOMIC_ACQ_REL,
	    __ATOMIC_RELAXED))
		return (ENOBUFS);
	if (sopt->sopt_level == SOL_SOCKET) {
		switch (sopt->sopt_name) {
		case SO_USER_COOKIE:
			so->so_user_cookie = (uint32_t)v;
			return (0);
		case SO_SETFIB:
			/* The caller's VNET's count, as sosetopt() reads it. */
			if (curvnet == NULL)
				kh_panic("sosetopt(SO_SETFIB) without curvnet");
			if (v < 0 || (u_int)v >= V_rt_numfibs)
				return (EINVAL);
			kh_so_fib_count(so->so_fibnum, -1);
			kh_so_fib_count(v, 1);
			so->so_fibnum = v;
			ks->inp.inp_inc.inc_fibnum = v;
			/* FIB N: packets marked N, for "ip rule fwmark". */
			return (-host_udp_set_mark(ks->fd, v));
		case SO_SNDBUF:
		case SO_RCVBUF:
			if (v < 1 || v > KH_SB_MAX)
				return (ENOBUFS);
			if (sopt->sopt_name == SO_SNDBUF)
				so->so_snd.sb_hiwat = v;
			else
				so->so_rcv.sb_hiwat = v;
			(void)host_udp_set_buf(ks->fd, so->so_snd.sb_hiwat,
			    so->so_rcv.sb_hiwat);
			return (0);
		}
	} else if (sopt->sopt_level == IPPROTO_IPV6 &&
	    sopt->sopt_name == IPV6_V6ONLY) {
		if (ks->family != 6)
			return (EINVAL);
		return (v ? -host_udp_set_v6only(ks->fd) : EINVAL);
	}
	return (ENOPROTOOPT);
}

int
soclose(struct socket *so)
{
	struct kh_socket *ks = KH_SO(so);

	kh_check_sleep("soclose");
	if (ks->reader != NULL) {
		__atomic_store_n(&ks->stop, 1, __ATOMIC_RELEASE);
		host_thread_join(ks->reader);
	}
	host_close(ks->fd);
	kh_so_fib_count(so->so_fibnum, -1);
	crfree(ks->cred);
	__atomic_sub_fetch(&kh_sockets, 1, __ATOMIC_RELAXED);
	free(ks, M_KH_SOCKET);
	return (0);
}
