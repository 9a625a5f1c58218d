/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * if_wg: the kernel side of a WireGuard interface whose engine is the
 * sans-IO Rust core (sys/wg_core.h), which seals, opens, routes and keeps
 * every timer.  This file moves bytes and time between it and the kernel
 * (cloner per VNET, ifnet, UDP sockets, mbufs, callouts, taskqueues, bpf,
 * SIOCSWG/SIOCGWG) and provides the services of sys/wg_host.h.
 *
 * Transmit: the core names a packet's peer; the packet joins that peer's
 * queue and the peer's task seals and sends it.  The core seals a peer's
 * packets under its own lock, so each peer has one task and peers spread
 * over one taskqueue per CPU: in parallel, each in order, sharing no lock.
 * Receive: the UDP tunnelling callback (net epoch) opens data messages and
 * hands the inner packet to netisr; handshakes, costly and what a flood is
 * made of, go through a bounded queue to a task, and its depth tells the
 * core it is under load.  Timers: a callout per peer at the core's next
 * deadline schedules the peer's task, which polls.  Configuration holds
 * the softc's sx lock and may sleep; the peer table and the sockets are
 * read in the net epoch, and writers wait for it before freeing.
 *
 * The socket lives in the VNET of the thread that created the interface,
 * through the credential kept then, wherever the interface moves later
 * (as with FreeBSD's if_wg and Linux): a jail can have a wg interface as
 * its only way out, the traffic leaving through the host's stack.  When
 * the creating jail is removed, a jail hook drops that credential and the
 * socket, so that the jail can die.
 */

#include "opt_inet.h"
#include "opt_inet6.h"

#include <sys/param.h>
#include <sys/systm.h>
#include <sys/callout.h>
#include <sys/cpuset.h>
#include <sys/epoch.h>
#include <sys/jail.h>
#include <sys/kernel.h>
#include <sys/lock.h>
#include <sys/malloc.h>
#include <sys/mbuf.h>
#include <sys/module.h>
#include <sys/mutex.h>
#include <sys/rwlock.h>
#include <sys/osd.h>
#include <sys/priority.h>
#include <sys/priv.h>
#include <sys/proc.h>
#include <sys/smp.h>
#include <sys/socket.h>
#include <sys/socketvar.h>
#include <sys/sockio.h>
#include <sys/sockopt.h>
#include <sys/sx.h>
#include <sys/syslog.h>
#include <sys/taskqueue.h>
#include <sys/ucred.h>

#ifdef __amd64__
#include <machine/fpu.h>
#endif

#include <net/bpf.h>
#include <net/if.h>
#include <net/if_clone.h>
#include <net/if_types.h>
#include <net/if_var.h>
#include <net/if_private.h>	/* ND_IFINFO() of FreeBSD 14 reads it */
#include <net/netisr.h>
#include <net/route.h>
#include <net/vnet.h>

#include <netinet/in.h>
#include <netinet/in_pcb.h>
#include <netinet/in_systm.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/udp.h>
#include <netinet/udp_var.h>
#ifdef INET6
#include <netinet/icmp6.h>
#include <netinet6/in6_var.h>
#include <netinet6/nd6.h>
#endif

#include "wg_core.h"
#include "wg_host.h"
#include "if_wg_ioctl.h"

#define	WG_NAME		"wg"
#define	WG_MTU_DEFAULT	1420
/* The largest packet m_get3() holds with the core's room around it. */
#define	WG_MTU_MAX	(MJUM16BYTES - WG_CORE_HEADROOM - WG_CORE_TAILROOM)
/* Socket buffers: the data message of a packet of WG_MTU_MAX, at least. */
#define	WG_SOCKBUF	MJUM16BYTES
/* SIOCSWG: FreeBSD's driver takes up to 2 GiB; 10k peers need ~2 MiB. */
#define	WG_NVL_MAX	(16 * 1024 * 1024)
#define	WG_TXQ_MAX	1024		/* per peer, waiting to be sealed */
#define	WG_HSQ_MAX	4096		/* per interface, handshakes to open */
#define	WG_HSQ_LOAD	(WG_HSQ_MAX / 8)	/* from there: under load */
#define	WG_POLL_MAX	64		/* poll answers before yielding */
#define	WG_HS_BATCH	16		/* handshakes opened before yielding */
#define	WG_PEERS_MAX	(1U << 24)	/* ids; the core stops at 2^18 */
#define	WG_MAX_LOOPS	8		/* wg inside wg */
#define	WG_NS_PER_S	1000000000ULL

/* m_tag cookies: "wgrl" counts loops, "wgrs" holds a handshake's source. */
#define	MTAG_WG_LOOP	0x7767726c
#define	MTAG_WG_SRC	0x77677273

MALLOC_DEFINE(M_WG, "if_wg", "WireGuard interface");

/* The shim's side of one peer of the core, found by the core's peer id. */
struct wg_peer {
	struct wg_softc		*p_sc;
	uint32_t		 p_id;
	struct taskqueue	*p_tq;
	struct task		 p_task;	/* poll, seal, send */
	struct callout		 p_timer;	/* the core's next deadline */
	struct mtx		 p_mtx;		/* the fields below */
	struct mbufq		 p_txq;		/* routed, to be sealed */
	struct mbufq		 p_staged;	/* waiting for a session */
	u_int			 p_flags;	/* atomic: read unlocked */
	struct wg_peer		*p_next;	/* on a list of peers to free */
};
#define	WGP_SCHED	0x01		/* p_task is queued */
#define	WGP_POLL	0x02		/* p_task is to poll the core */
#define	WGP_DEAD	0x04		/* being freed: queue, arm nothing */

/* Peers by id: replaced whole to grow, read in the net epoch. */
struct wg_ptab {
	uint32_t		 pt_len;
	struct wg_ptab		*pt_next;	/* on a list to free */
	struct wg_peer		*pt_peer[];
};

struct wg_softc {
	LIST_ENTRY(wg_softc)	 sc_entry;	/* wg_list */
	if_t			 sc_ifp;
	struct wg_core_dev	*sc_dev;
	struct sx		 sc_lock;	/* configuration, up, down */
	struct ucred		*sc_cred;	/* creator's: the socket VNET */
	struct socket		*sc_so[2];	/* IPv4, IPv6; net epoch */
	uint16_t		 sc_port;	/* listen port configured */
	uint16_t		 sc_bound;	/* listen port bound */
	uint32_t		 sc_cookie;	/* SO_USER_COOKIE */
	int			 sc_fib;	/* the sockets' FIB: tunnelfib */
	int			 sc_dying;
	u_int			 sc_tqoff;	/* spreads softcs over CPUs */
	struct wg_ptab		*sc_ptab;	/* net epoch */
	struct mtx		 sc_hs_mtx;	/* sc_hsq */
	struct mbufq		 sc_hsq;	/* handshake messages to open */
	struct task		 sc_hs_task;
	u_int			 sc_underload;	/* sc_hs_mtx */
};

/* What a configuration change retires, to free once readers are gone. */
struct wg_cfgctx {
	struct wg_softc		*c_sc;
	struct wg_peer		*c_dead;
	struct wg_ptab		*c_tabs;
};

union wg_sockaddr {
	struct sockaddr		 sa;
	struct sockaddr_in	 in4;
	struct sockaddr_in6	 in6;
};

/*
 * Guards wg_list and the softc pointer of each ifnet: ioctls hold it
 * shared, so destroy (exclusive) cannot free a softc in use.
 */
static struct sx wg_sx;
SX_SYSINIT(wg_sx, &wg_sx, "if_wg list");
static LIST_HEAD(, wg_softc) wg_list = LIST_HEAD_INITIALIZER(wg_list);

static struct taskqueue **wg_tq;	/* one per CPU */
static u_int wg_ntq;
static u_int wg_osd_slot;

VNET_DEFINE_STATIC(struct if_clone *, wg_cloner);
#define	V_wg_cloner	VNET(wg_cloner)

static void	wg_peer_task(void *, int);
static bool	wg_udp_input(struct mbuf *, int, struct inpcb *,
		    const struct sockaddr *, void *);

/* Services for the core (sys/wg_host.h). */

void
wg_host_random(void *buf, size_t len)
{

	arc4random_buf(buf, len);
}

/*
 * The core allocates applying SIOCSWG and once per completed handshake,
 * in the net epoch too: this sleeps only where the thread may, and the
 * core copes with NULL (ENOMEM, or the handshake dropped).  malloc(9)
 * aligns to a pointer; malloc_aligned(9) does up to a page.
 */
void *
wg_host_alloc(size_t size, size_t align)
{
	int flags;

	flags = THREAD_CAN_SLEEP() ? M_WAITOK : M_NOWAIT;
	if (align <= sizeof(void *))
		return (malloc(MAX(size, 1), M_WG, flags));
	if (align > PAGE_SIZE)
		return (NULL);
	return (malloc_aligned(MAX(size, 1), align, M_WG, flags));
}

/*
 * The core's locks: mtx(9) and rw(9), never spin locks (a spinning CPU can
 * starve a preempted holder).  While one is held the thread may not sleep,
 * so wg_host_alloc does not wait for memory under a core lock, and
 * WITNESS catches anything that would.
 */
void *
wg_host_mutex_create(const char *name)
{
	struct mtx *m;

	if ((m = wg_host_alloc(sizeof(*m), 0)) != NULL) {
		memset(m, 0, sizeof(*m));
		mtx_init(m, name, NULL, MTX_DEF);
	}
	return (m);
}

void
wg_host_mutex_destroy(void *m)
{

	mtx_destroy((struct mtx *)m);
	free(m, M_WG);
}

void
wg_host_mutex_lock(void *m)
{

	mtx_lock((struct mtx *)m);
	THREAD_NO_SLEEPING();
}

void
wg_host_mutex_unlock(void *m)
{

	THREAD_SLEEPING_OK();
	mtx_unlock((struct mtx *)m);
}

void *
wg_host_rwlock_create(const char *name)
{
	struct rwlock *l;

	if ((l = wg_host_alloc(sizeof(*l), 0)) != NULL) {
		memset(l, 0, sizeof(*l));
		rw_init(l, name);
	}
	return (l);
}

void
wg_host_rwlock_destroy(void *l)
{

	rw_destroy((struct rwlock *)l);
	free(l, M_WG);
}

void
wg_host_rwlock_rlock(void *l)
{

	rw_rlock((struct rwlock *)l);
	THREAD_NO_SLEEPING();
}

void
wg_host_rwlock_runlock(void *l)
{

	THREAD_SLEEPING_OK();
	rw_runlock((struct rwlock *)l);
}

void
wg_host_rwlock_wlock(void *l)
{

	rw_wlock((struct rwlock *)l);
	THREAD_NO_SLEEPING();
}

void
wg_host_rwlock_wunlock(void *l)
{

	THREAD_SLEEPING_OK();
	rw_wunlock((struct rwlock *)l);
}

void
wg_host_free(void *ptr, size_t size __unused, size_t align __unused)
{

	free(ptr, M_WG);
}

void
wg_host_log(int level, const char *msg, size_t len)
{

	if (level < LOG_EMERG || level > LOG_DEBUG)
		level = LOG_INFO;
	log(level, "if_wg: %.*s\n", (int)MIN(len, 1024), msg);
}

#ifdef __amd64__
/*
 * Around the core's vector ChaCha20-Poly1305 (amd64 only), which saves no
 * FPU state: a NOCTX section is a critical section; the core runs nothing
 * else inside (no lock, no allocation, no sleep, no second section).
 */
void
wg_host_fpu_enter(void)
{

	fpu_kern_enter(curthread, NULL, FPU_KERN_NOCTX);
}

void
wg_host_fpu_leave(void)
{

	fpu_kern_leave(curthread, NULL);
}
#endif

void
wg_host_panic(const char *msg, size_t len)
{

	panic("if_wg: core: %.*s", (int)MIN(len, 1024), msg);
}

/* Helpers. */

/* The core's clocks: uptime for its timers, UTC for handshake stamps. */
static void
wg_now(struct wg_time *t)
{
	struct timespec ts;

	getnanouptime(&ts);
	t->mono_ns = ts.tv_sec * WG_NS_PER_S + ts.tv_nsec;
	getnanotime(&ts);
	t->real_ns = ts.tv_sec * WG_NS_PER_S + ts.tv_nsec;
}

/* The core's endpoint as a sockaddr; EINVAL for a family it has not. */
static int
wg_endpoint_to_sa(const struct wg_endpoint *e, union wg_sockaddr *u)
{
	size_t len = sizeof(*u);

	return (wg_core_endpoint_to_sockaddr(e, u, &len));
}

/*
 * The core works in place on one contiguous, writable buffer with head-
 * and tailroom.  Most packets already are such an mbuf (a received
 * cluster keeps the room of the link header it lost); the others are
 * copied once into a fresh one.  Consumes m on failure.
 */
static struct mbuf *
wg_shape(struct mbuf *m, int head, int tail)
{
	struct mbuf *n;
	int len;

	len = m->m_pkthdr.len;
	if (m->m_next == NULL && M_WRITABLE(m) &&
	    M_LEADINGSPACE(m) >= head && M_TRAILINGSPACE(m) >= tail)
		return (m);
	n = NULL;
	/*
	 * m_get3() holds up to MJUM16BYTES.  On receive (no room asked) a
	 * data message of an inner packet of WG_MTU_MAX is longer than
	 * WG_MTU_MAX itself, so the bound is on the whole buffer.
	 */
	if (len <= MJUM16BYTES - head - tail)
		n = m_get3(head + len + tail, M_NOWAIT, MT_DATA, M_PKTHDR);
	if (n != NULL) {
		m_move_pkthdr(n, m);	/* keeps the loop counter */
		n->m_data += head;
		m_copydata(m, 0, len, mtod(n, caddr_t));
		n->m_len = len;
	}
	m_freem(m);
	return (n);
}

/*
 * A packet crossing the tunnel becomes a new packet: what the stack on the
 * other side knew of it (offload requests, hashes, link flags, tags) must
 * not follow, except our loop counter and the MAC label.
 */
static void
wg_scrub(struct mbuf *m, if_t rcvif)
{
	struct m_tag *t, *next;

	m->m_flags &= ~(M_BCAST | M_MCAST | M_PROMISC | M_VLANTAG |
	    M_PROTOFLAGS);
	M_HASHTYPE_CLEAR(m);
	m->m_pkthdr.rcvif = rcvif;
	m->m_pkthdr.csum_flags = 0;
	m->m_pkthdr.PH_per.sixtyfour[0] = 0;
	m->m_pkthdr.PH_loc.sixtyfour[0] = 0;
	for (t = m_tag_first(m); t != NULL; t = next) {
		next = m_tag_next(m, t);
		if (t->m_tag_cookie != MTAG_WG_LOOP &&
		    t->m_tag_id != PACKET_TAG_MACLABEL)
			m_tag_delete(m, t);
	}
}

/* Per-peer host state. */

static struct wg_peer *
wg_peer_lookup(struct wg_softc *sc, uint32_t id)
{
	struct wg_ptab *pt;

	NET_EPOCH_ASSERT();
	pt = atomic_load_consume_ptr(&sc->sc_ptab);
	if (pt == NULL || id >= pt->pt_len)
		return (NULL);
	return (atomic_load_consume_ptr(&pt->pt_peer[id]));
}

/* Schedules the peer's task unless it is queued already or dying. */
static void
wg_peer_kick(struct wg_peer *p, int flags)
{
	int sched;

	mtx_lock(&p->p_mtx);
	sched = (p->p_flags & (WGP_SCHED | WGP_DEAD)) == 0;
	if ((p->p_flags & WGP_DEAD) == 0)
		atomic_set_int(&p->p_flags, flags | WGP_SCHED);
	mtx_unlock(&p->p_mtx);
	if (sched)
		taskqueue_enqueue(p->p_tq, &p->p_task);
}

static void
wg_peer_kick_id(struct wg_softc *sc, uint32_t id, int flags)
{
	struct epoch_tracker et;
	struct wg_peer *p;

	NET_EPOCH_ENTER(et);
	if ((p = wg_peer_lookup(sc, id)) != NULL)
		wg_peer_kick(p, flags);
	NET_EPOCH_EXIT(et);
}

/* The callout only hands over to the task, where polling may sleep. */
static void
wg_peer_timer(void *arg)
{

	wg_peer_kick(arg, WGP_POLL);
}

/* Under sc_lock, may sleep.  A table it outgrows goes to c->c_tabs. */
static struct wg_peer *
wg_peer_create(struct wg_softc *sc, uint32_t id, struct wg_cfgctx *c)
{
	struct wg_ptab *pt, *npt;
	struct wg_peer *p;
	uint32_t len;

	sx_assert(&sc->sc_lock, SA_XLOCKED);
	if (id >= WG_PEERS_MAX)
		return (NULL);
	if ((pt = sc->sc_ptab) == NULL || id >= pt->pt_len) {
		for (len = 16; len <= id; len *= 2)
			;
		npt = malloc(sizeof(*npt) + len * sizeof(npt->pt_peer[0]),
		    M_WG, M_WAITOK | M_ZERO);
		npt->pt_len = len;
		if (pt != NULL) {
			memcpy(npt->pt_peer, pt->pt_peer,
			    pt->pt_len * sizeof(pt->pt_peer[0]));
			pt->pt_next = c->c_tabs;
			c->c_tabs = pt;
		}
		atomic_store_rel_ptr((volatile uintptr_t *)&sc->sc_ptab,
		    (uintptr_t)npt);
		pt = npt;
	}
	p = malloc(sizeof(*p), M_WG, M_WAITOK | M_ZERO);
	p->p_sc = sc;
	p->p_id = id;
	p->p_tq = wg_tq[(id + sc->sc_tqoff) % wg_ntq];
	TASK_INIT(&p->p_task, 0, wg_peer_task, p);
	callout_init(&p->p_timer, 1);
	mtx_init(&p->p_mtx, "wg peer", NULL, MTX_DEF);
	mbufq_init(&p->p_txq, WG_TXQ_MAX);
	mbufq_init(&p->p_staged, WG_CORE_MAX_STAGED);
	atomic_store_rel_ptr((volatile uintptr_t *)&pt->pt_peer[id],
	    (uintptr_t)p);
	return (p);
}

/*
 * Unpublishes and stops a peer; wg_cfg_finish() frees it once its task,
 * its callout and the readers in the epoch are done with it.
 */
static void
wg_peer_remove(struct wg_softc *sc, uint32_t id, struct wg_cfgctx *c)
{
	struct wg_ptab *pt;
	struct wg_peer *p;

	sx_assert(&sc->sc_lock, SA_XLOCKED);
	pt = sc->sc_ptab;
	if (pt == NULL || id >= pt->pt_len || (p = pt->pt_peer[id]) == NULL)
		return;
	atomic_store_rel_ptr((volatile uintptr_t *)&pt->pt_peer[id], 0);
	mtx_lock(&p->p_mtx);
	atomic_set_int(&p->p_flags, WGP_DEAD);
	mtx_unlock(&p->p_mtx);
	callout_stop(&p->p_timer);
	p->p_next = c->c_dead;
	c->c_dead = p;
}

/* The core reports a configuration change (wg_core_peer_cb). */
static void
wg_peer_event(void *arg, uint32_t id, int event)
{
	struct wg_cfgctx *c = arg;
	struct wg_softc *sc = c->c_sc;
	struct wg_peer *p;

	if (event == WG_CORE_PEER_REMOVED)
		wg_peer_remove(sc, id, c);
	else if (event == WG_CORE_PEER_TOUCHED) {
		p = NULL;
		if (sc->sc_ptab != NULL && id < sc->sc_ptab->pt_len)
			p = sc->sc_ptab->pt_peer[id];
		if (p != NULL || (p = wg_peer_create(sc, id, c)) != NULL)
			wg_peer_kick(p, WGP_POLL);
	}
}

/* Frees what a configuration change retired; sleeps. */
static void
wg_cfg_finish(struct wg_cfgctx *c)
{
	struct wg_peer *p;
	struct wg_ptab *pt;

	if (c->c_dead == NULL && c->c_tabs == NULL)
		return;
	for (p = c->c_dead; p != NULL; p = p->p_next) {
		callout_drain(&p->p_timer);
		taskqueue_drain(p->p_tq, &p->p_task);
	}
	NET_EPOCH_WAIT();
	while ((p = c->c_dead) != NULL) {
		c->c_dead = p->p_next;
		mbufq_drain(&p->p_txq);
		mbufq_drain(&p->p_staged);
		mtx_destroy(&p->p_mtx);
		free(p, M_WG);
	}
	while ((pt = c->c_tabs) != NULL) {
		c->c_tabs = pt->pt_next;
		free(pt, M_WG);
	}
}

/*
 * Interface down: stops the peers' timers and drops their queues.  With
 * kill (destroy), frees them all.  Under sc_lock.
 */
static void
wg_peers_stop(struct wg_softc *sc, int kill)
{
	struct wg_cfgctx c = { .c_sc = sc };
	struct wg_ptab *pt;
	struct wg_peer *p;
	uint32_t i;

	sx_assert(&sc->sc_lock, SA_XLOCKED);
	if ((pt = sc->sc_ptab) == NULL)
		return;
	for (i = 0; i < pt->pt_len; i++) {
		if ((p = pt->pt_peer[i]) == NULL)
			continue;
		if (kill) {
			wg_peer_remove(sc, i, &c);
			continue;
		}
		mtx_lock(&p->p_mtx);
		callout_stop(&p->p_timer);
		mbufq_drain(&p->p_txq);
		mbufq_drain(&p->p_staged);
		mtx_unlock(&p->p_mtx);
	}
	if (kill) {
		atomic_store_rel_ptr((volatile uintptr_t *)&sc->sc_ptab, 0);
		pt->pt_next = NULL;
		c.c_tabs = pt;
		wg_cfg_finish(&c);
	}
}

/* Sockets. */

static int
wg_so_setopt(struct socket *so, int level, int name, void *val, size_t len)
{
	struct sockopt sopt = {
		.sopt_dir = SOPT_SET,
		.sopt_level = level,
		.sopt_name = name,
		.sopt_val = val,
		.sopt_valsize = len,
	};

	return (sosetopt(so, &sopt));
}

/*
 * A kernel UDP socket of the family of e, bound to e's port (0: any, and
 * e learns which one).  ENOENT: the family is not available here.
 */
static int
wg_so_create(struct wg_softc *sc, struct wg_endpoint *e, uint32_t cookie,
    struct socket **sop)
{
	union wg_sockaddr u;
	struct socket *so;
	int error, one = 1, sbsize = WG_SOCKBUF;

	*sop = NULL;
	(void)wg_endpoint_to_sa(e, &u);
	error = socreate(u.sa.sa_family, &so, SOCK_DGRAM, IPPROTO_UDP,
	    sc->sc_cred, curthread);
	if (error != 0)
		return (error == EAFNOSUPPORT || error == EPROTONOSUPPORT ?
		    ENOENT : error);
	/* Cannot fail: a new socket has no callback yet. */
	error = udp_set_kernel_tunneling(so, wg_udp_input, NULL, sc);
	if (error == 0 && cookie != 0)
		error = wg_so_setopt(so, SOL_SOCKET, SO_USER_COOKIE, &cookie,
		    sizeof(cookie));
	/* socreate() gave it the FIB of the thread, not the tunnel's. */
	if (error == 0)
		error = wg_so_setopt(so, SOL_SOCKET, SO_SETFIB, &sc->sc_fib,
		    sizeof(sc->sc_fib));
	/*
	 * A new UDP socket's send buffer is udp_sendspace
	 * (net.inet.udp.maxdgram, 9216), and sosend_dgram() refuses a
	 * longer datagram (EMSGSIZE): every MTU the interface takes must
	 * fit, as must its datagrams in the receive buffer.
	 */
	if (error == 0 && so->so_snd.sb_hiwat < WG_SOCKBUF)
		error = wg_so_setopt(so, SOL_SOCKET, SO_SNDBUF, &sbsize,
		    sizeof(sbsize));
	if (error == 0 && so->so_rcv.sb_hiwat < WG_SOCKBUF)
		error = wg_so_setopt(so, SOL_SOCKET, SO_RCVBUF, &sbsize,
		    sizeof(sbsize));
	/* The IPv4 socket has the port: never share it, whatever sysctls. */
	if (error == 0 && u.sa.sa_family == AF_INET6)
		error = wg_so_setopt(so, IPPROTO_IPV6, IPV6_V6ONLY, &one,
		    sizeof(one));
	if (error == 0)
		error = sobind(so, &u.sa, curthread);
	if (error != 0) {
		soclose(so);
		return (error == EADDRNOTAVAIL ? ENOENT : error);
	}
	if (e->port == 0)
		e->port = ntohs(sotoinpcb(so)->inp_lport);
	*sop = so;
	return (0);
}

/* Swaps in new sockets (or none) and closes the old ones. */
static void
wg_so_set(struct wg_softc *sc, struct socket *so4, struct socket *so6)
{
	struct socket *old[2];
	int i;

	sx_assert(&sc->sc_lock, SA_XLOCKED);
	old[0] = sc->sc_so[0];
	old[1] = sc->sc_so[1];
	atomic_store_rel_ptr((volatile uintptr_t *)&sc->sc_so[0],
	    (uintptr_t)so4);
	atomic_store_rel_ptr((volatile uintptr_t *)&sc->sc_so[1],
	    (uintptr_t)so6);
	if (old[0] == NULL && old[1] == NULL)
		return;
	NET_EPOCH_WAIT();	/* senders use them in the epoch */
	for (i = 0; i < 2; i++)
		if (old[i] != NULL)
			soclose(old[i]);
}

/*
 * Binds both families on port (0: any, the same for both) without touching
 * the current sockets.
 */
static int
wg_so_bind(struct wg_softc *sc, uint16_t port, uint32_t cookie,
    struct socket *so[2], uint16_t *bound)
{
	struct wg_endpoint e = { .family = WG_CORE_AF_INET, .port = port };
	int error;

	sx_assert(&sc->sc_lock, SA_XLOCKED);
	so[0] = so[1] = NULL;
	if (sc->sc_cred == NULL)
		return (EBUSY);		/* the creating jail is gone */
	error = wg_so_create(sc, &e, cookie, &so[0]);
	if (error == 0 || error == ENOENT) {
		e.family = WG_CORE_AF_INET6;
		error = wg_so_create(sc, &e, cookie, &so[1]);
	}
	if (error == ENOENT)
		error = so[0] == NULL ? EADDRNOTAVAIL : 0;
	if (error != 0 && so[0] != NULL) {
		soclose(so[0]);
		so[0] = NULL;
	}
	*bound = e.port;
	return (error);
}

/* Puts sockets wg_so_bind() made in place of the current ones. */
static void
wg_so_install(struct wg_softc *sc, struct socket *so[2], uint16_t port,
    uint16_t bound, uint32_t cookie)
{

	wg_so_set(sc, so[0], so[1]);
	sc->sc_port = port;
	sc->sc_bound = bound;
	sc->sc_cookie = cookie;
	/* SIOCGWG shows the port a listen port of 0 got. */
	wg_core_set_bound_port(sc->sc_dev, bound);
}

/*
 * Sets an int-sized socket option (SO_USER_COOKIE, SO_SETFIB) on the
 * current sockets; on failure, puts old back on those already changed.
 */
static int
wg_so_setall(struct wg_softc *sc, int name, int val, int old)
{
	int error, i;

	sx_assert(&sc->sc_lock, SA_XLOCKED);
	for (i = 0, error = 0; i < 2 && error == 0; i++)
		if (sc->sc_so[i] != NULL)
			error = wg_so_setopt(sc->sc_so[i], SOL_SOCKET, name,
			    &val, sizeof(val));
	if (error != 0)
		while (--i > 0)
			if (sc->sc_so[i - 1] != NULL)
				(void)wg_so_setopt(sc->sc_so[i - 1],
				    SOL_SOCKET, name, &old, sizeof(old));
	return (error);
}

/* Binds, and only then replaces the current sockets. */
static int
wg_so_open(struct wg_softc *sc, uint16_t port, uint32_t cookie)
{
	struct socket *so[2];
	uint16_t bound;
	int error;

	if ((error = wg_so_bind(sc, port, cookie, so, &bound)) != 0)
		return (error);
	wg_so_install(sc, so, port, bound, cookie);
	return (0);
}

/* Sends a datagram (consumed) to e; from any data path context. */
static int
wg_send(struct wg_softc *sc, const struct wg_endpoint *e, struct mbuf *m)
{
	struct epoch_tracker et;
	union wg_sockaddr u;
	struct socket *so;
	int error, len;

	len = m->m_pkthdr.len;
	wg_scrub(m, NULL);
	NET_EPOCH_ENTER(et);
	so = NULL;
	if (wg_endpoint_to_sa(e, &u) == 0)
		so = atomic_load_consume_ptr(
		    &sc->sc_so[u.sa.sa_family == AF_INET6]);
	if (so != NULL)
		error = sosend(so, &u.sa, NULL, m, NULL, 0, curthread);
	else {
		m_freem(m);
		error = ENETDOWN;
	}
	NET_EPOCH_EXIT(et);
	if (error == 0) {
		if_inc_counter(sc->sc_ifp, IFCOUNTER_OPACKETS, 1);
		if_inc_counter(sc->sc_ifp, IFCOUNTER_OBYTES, len);
	} else
		if_inc_counter(sc->sc_ifp, IFCOUNTER_OERRORS, 1);
	return (error);
}

/* Sends a copy of a message the core wrote to its out buffer. */
static void
wg_send_buf(struct wg_softc *sc, const struct wg_endpoint *e,
    const uint8_t *buf, size_t len)
{
	struct mbuf *m;

	if ((m = m_get2(len, M_NOWAIT, MT_DATA, M_PKTHDR)) == NULL) {
		if_inc_counter(sc->sc_ifp, IFCOUNTER_OQDROPS, 1);
		return;
	}
	memcpy(mtod(m, void *), buf, len);
	m->m_len = m->m_pkthdr.len = len;
	(void)wg_send(sc, e, m);
}

/* Receive. */

/*
 * A packet is delivered inline, in the thread of its datagram's input:
 * a tunnel inside a tunnel recurses on the kernel stack, a level per
 * decapsulation (netisr_dispatch, ip_input, udp_input, wg_udp_input...).
 * The levels are counted with the transmit side's tags (WG_MAX_LOOPS in
 * all, as if_tunnel_check_nesting counts them), but the tag names no
 * interface: a packet forwarded out of the interface it came in on (a
 * hub between peers) is no loop.  0, or the packet is to be dropped.
 */
static int
wg_rx_nesting(struct mbuf *m)
{
	struct m_tag *t;
	int count;

	count = 1;
	t = NULL;
	while ((t = m_tag_locate(m, MTAG_WG_LOOP, 0, t)) != NULL)
		count++;
	if (count > WG_MAX_LOOPS)
		return (ELOOP);
	if ((t = m_tag_alloc(MTAG_WG_LOOP, 0, sizeof(if_t), M_NOWAIT)) ==
	    NULL)
		return (ENOMEM);
	*(if_t *)(t + 1) = NULL;
	m_tag_prepend(m, t);
	return (0);
}

/* Hands a packet the core opened to the stack, as received on ifp. */
static void
wg_deliver(struct wg_softc *sc, struct mbuf *m, size_t off, size_t len)
{
	if_t ifp = sc->sc_ifp;
	uint32_t af;
	int isr;

	m->m_data += off;
	m->m_len = m->m_pkthdr.len = len;
	af = len > 0 ? *mtod(m, uint8_t *) >> 4 : 0;
	if (af != 4 && af != 6) {
		m_freem(m);
		return;
	}
	af = af == 4 ? AF_INET : AF_INET6;
	isr = af == AF_INET ? NETISR_IP : NETISR_IPV6;
	wg_scrub(m, ifp);
	if (wg_rx_nesting(m) != 0) {
		if_inc_counter(ifp, IFCOUNTER_IERRORS, 1);
		m_freem(m);
		return;
	}
	M_SETFIB(m, if_getfib(ifp));
	if_inc_counter(ifp, IFCOUNTER_IPACKETS, 1);
	if_inc_counter(ifp, IFCOUNTER_IBYTES, len);
	BPF_MTAP2(ifp, &af, sizeof(af), m);
	/* The socket's VNET need not be the interface's. */
	CURVNET_SET(if_getvnet(ifp));
	netisr_dispatch(isr, m);
	CURVNET_RESTORE();
}

/* Opens a message from src (m contiguous and writable; consumed). */
static void
wg_decap(struct wg_softc *sc, const struct wg_endpoint *src, struct mbuf *m)
{
	struct wg_core_decap_result res;
	struct wg_time now;
	uint8_t out[WG_CORE_HANDSHAKE_MAX];

	wg_now(&now);
	if (wg_core_decapsulate(sc->sc_dev, &now, src, mtod(m, uint8_t *),
	    m->m_len, out, sizeof(out), &res) != 0) {
		if_inc_counter(sc->sc_ifp, IFCOUNTER_IERRORS, 1);
		m_freem(m);
		return;
	}
	if (res.action == WG_CORE_DECAP_TUNNEL &&
	    res.offset <= (size_t)m->m_len &&
	    res.len <= (size_t)m->m_len - res.offset)
		wg_deliver(sc, m, res.offset, res.len);
	else {
		m_freem(m);
		if (res.action == WG_CORE_DECAP_REPLY && res.len <= sizeof(out))
			wg_send_buf(sc, src, out, res.len);
	}
	if (res.poll != 0 && res.peer != WG_CORE_NO_PEER)
		wg_peer_kick_id(sc, res.peer, WGP_POLL);
}

/*
 * Tells the core whether the handshake queue is deep, under sc_hs_mtx so
 * that it hears the changes in the order they happen: with a lock-free
 * flag, a drain's "not loaded" could overtake an enqueue's "loaded" and
 * leave the core demanding cookies with an empty queue.
 */
static void
wg_hs_set_load(struct wg_softc *sc, u_int deep)
{

	mtx_assert(&sc->sc_hs_mtx, MA_OWNED);
	if (sc->sc_underload != deep) {
		sc->sc_underload = deep;
		wg_core_dev_set_under_load(sc->sc_dev, deep);
	}
}

/*
 * The sockets' tunnelling callback, in the stack's thread and the net
 * epoch; m is the datagram from its IP header on.  Always takes it.
 */
static bool
wg_udp_input(struct mbuf *m, int off, struct inpcb *inp __unused,
    const struct sockaddr *sa, void *arg)
{
	struct wg_softc *sc = arg;
	struct wg_endpoint src;
	struct m_tag *t;
	uint8_t hdr[4];
	int error, kind, len;

	m_adj(m, off + sizeof(struct udphdr));
	len = m->m_pkthdr.len;
	m_copydata(m, 0, MIN(len, (int)sizeof(hdr)), (caddr_t)hdr);
	/*
	 * What is no WireGuard message is dropped here, before it costs a
	 * copy, a place in the handshake queue or a say in "under load".
	 */
	kind = wg_core_datagram_kind(hdr, MIN(len, (int)sizeof(hdr)), len);
	if (kind == 0 ||
	    wg_core_endpoint_from_sockaddr(sa, sa->sa_len, &src) != 0) {
		if_inc_counter(sc->sc_ifp, IFCOUNTER_IERRORS, 1);
		m_freem(m);
		return (true);
	}
	m = wg_shape(m, 0, 0);
	if (m != NULL && kind == WG_CORE_DGRAM_DATA) {
		wg_decap(sc, &src, m);
		return (true);
	}

	/* Handshakes go to the task, their source in a tag. */
	error = ENOBUFS;
	if (m != NULL &&
	    (t = m_tag_alloc(MTAG_WG_SRC, 0, sizeof(src), M_NOWAIT)) != NULL) {
		memcpy(t + 1, &src, sizeof(src));
		m_tag_prepend(m, t);
		mtx_lock(&sc->sc_hs_mtx);
		error = mbufq_enqueue(&sc->sc_hsq, m);
		if (mbufq_len(&sc->sc_hsq) >= WG_HSQ_LOAD)
			wg_hs_set_load(sc, 1);
		mtx_unlock(&sc->sc_hs_mtx);
	}
	if (error != 0) {
		m_freem(m);
		if_inc_counter(sc->sc_ifp, IFCOUNTER_IQDROPS, 1);
		return (true);
	}
	taskqueue_enqueue(wg_tq[sc->sc_tqoff], &sc->sc_hs_task);
	return (true);
}

/* Drops the handshakes waiting to be opened. */
static void
wg_hs_purge(struct wg_softc *sc)
{
	struct mbufq q;

	mbufq_init(&q, 0);
	mtx_lock(&sc->sc_hs_mtx);
	mbufq_concat(&q, &sc->sc_hsq);
	wg_hs_set_load(sc, 0);
	mtx_unlock(&sc->sc_hs_mtx);
	mbufq_drain(&q);
}

static void
wg_hs_task(void *arg, int pending __unused)
{
	struct wg_softc *sc = arg;
	struct epoch_tracker et;
	struct wg_endpoint src;
	struct m_tag *t;
	struct mbuf *m;
	int i;

	for (i = 0; i < WG_HS_BATCH; i++) {
		/*
		 * Going down: what arrived while up is not opened, or it
		 * could make a session once wg_down() has cleared them.
		 */
		if ((if_getdrvflags(sc->sc_ifp) & IFF_DRV_RUNNING) == 0) {
			wg_hs_purge(sc);
			return;
		}
		mtx_lock(&sc->sc_hs_mtx);
		m = mbufq_dequeue(&sc->sc_hsq);
		mtx_unlock(&sc->sc_hs_mtx);
		if (m == NULL)
			break;
		if ((t = m_tag_locate(m, MTAG_WG_SRC, 0, NULL)) == NULL) {
			m_freem(m);
			continue;
		}
		/* wg_decap frees m, its tags with it, before it replies. */
		memcpy(&src, t + 1, sizeof(src));
		NET_EPOCH_ENTER(et);
		wg_decap(sc, &src, m);
		NET_EPOCH_EXIT(et);
	}
	if (i == WG_HS_BATCH) {
		/*
		 * A flood refills the queue as fast as it drains: requeued
		 * behind them, the peers' tasks on this CPU still run.
		 */
		taskqueue_enqueue(wg_tq[sc->sc_tqoff], &sc->sc_hs_task);
		return;
	}
	/* Drained: the core's own rate meter takes over again. */
	mtx_lock(&sc->sc_hs_mtx);
	if (mbufq_len(&sc->sc_hsq) < WG_HSQ_LOAD)
		wg_hs_set_load(sc, 0);
	mtx_unlock(&sc->sc_hs_mtx);
}

/* Transmit. */

/*
 * No peer, or a peer with no endpoint: the sender hears so at once, as
 * from Linux's WireGuard (FreeBSD's driver sends ICMPv6 code 0, no route).
 * In the net epoch and the interface's VNET; m (at its IP header) consumed.
 */
static void
wg_unreach(if_t ifp, struct mbuf *m)
{

	NET_EPOCH_ASSERT();
	if_inc_counter(ifp, IFCOUNTER_OERRORS, 1);
	switch (*mtod(m, uint8_t *) >> 4) {
#ifdef INET
	case 4:
		icmp_error(m, ICMP_UNREACH, ICMP_UNREACH_HOST, 0, 0);
		break;
#endif
#ifdef INET6
	case 6:
		icmp6_error(m, ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_ADDR, 0);
		break;
#endif
	default:
		m_freem(m);
	}
}

/* Keeps a packet the core cannot seal yet on its peer (oldest out). */
static void
wg_stage(struct wg_softc *sc, uint32_t id, struct mbuf *m)
{
	struct epoch_tracker et;
	struct mbuf *old = NULL;
	struct wg_peer *p;

	NET_EPOCH_ENTER(et);
	if ((p = wg_peer_lookup(sc, id)) != NULL) {
		mtx_lock(&p->p_mtx);
		if ((p->p_flags & WGP_DEAD) == 0) {
			if (mbufq_full(&p->p_staged))
				old = mbufq_dequeue(&p->p_staged);
			(void)mbufq_enqueue(&p->p_staged, m);
			m = NULL;
		}
		mtx_unlock(&p->p_mtx);
	}
	NET_EPOCH_EXIT(et);
	if (old != NULL || m != NULL) {
		m_freem(old);
		m_freem(m);
		if_inc_counter(sc->sc_ifp, IFCOUNTER_OQDROPS, 1);
	}
}

/* Sends or stages m (consumed) as the core's answer for it says. */
static void
wg_encap_done(struct wg_softc *sc, struct mbuf *m, int error,
    const struct wg_core_encap_result *res, size_t buflen)
{
	struct epoch_tracker et;

	/* Refused before sealing: m still holds the packet. */
	if (error == EHOSTUNREACH || error == EDESTADDRREQ) {
		NET_EPOCH_ENTER(et);
		CURVNET_SET(if_getvnet(sc->sc_ifp));
		wg_unreach(sc->sc_ifp, m);
		CURVNET_RESTORE();
		NET_EPOCH_EXIT(et);
		return;
	}
	if (error != 0) {
		if_inc_counter(sc->sc_ifp, IFCOUNTER_OERRORS, 1);
		m_freem(m);
		return;
	}
	if (res->action == WG_CORE_ENCAP_SEND && res->len <= buflen) {
		m->m_data -= WG_CORE_HEADROOM;
		m->m_len = m->m_pkthdr.len = res->len;
		(void)wg_send(sc, &res->endpoint, m);
	} else if (res->action == WG_CORE_ENCAP_STAGED)
		wg_stage(sc, res->peer, m);
	else
		m_freem(m);
	if (res->poll != 0)
		wg_peer_kick_id(sc, res->peer, WGP_POLL);
}

/*
 * Seals the IP packets of q at their data (the core's room around each;
 * consumed), then sends or stages each.  The core routes them again rather
 * than being given a peer id, staged packets included: a packet is never
 * sealed for a new peer that took over the id of the one it was queued
 * for.  A batch at a time: one FPU section for the crypto of each run of
 * a peer's packets, not one per packet.
 */
static void
wg_encap(struct wg_softc *sc, struct mbufq *q)
{
	struct wg_core_encap_pkt pk[WG_CORE_ENCAP_BATCH];
	struct mbuf *ms[WG_CORE_ENCAP_BATCH], *m;
	struct wg_time now;
	size_t i, n;

	for (;;) {
		for (n = 0; n < nitems(pk) && (m = mbufq_dequeue(q)) != NULL;
		    n++) {
			ms[n] = m;
			pk[n].buf = mtod(m, uint8_t *) - WG_CORE_HEADROOM;
			pk[n].buflen = WG_CORE_HEADROOM + m->m_len +
			    M_TRAILINGSPACE(m);
			pk[n].len = m->m_len;
		}
		if (n == 0)
			return;
		wg_now(&now);
		(void)wg_core_encapsulate_batch(sc->sc_dev, &now, pk, n);
		for (i = 0; i < n; i++)
			wg_encap_done(sc, ms[i], pk[i].error, &pk[i].res,
			    pk[i].buflen);
	}
}

/* Polls the core for a peer until it is idle, then arms the callout. */
static void
wg_peer_poll(struct wg_peer *p)
{
	struct wg_softc *sc = p->p_sc;
	struct wg_core_poll_result res;
	struct wg_time now;
	struct mbufq q;
	uint8_t out[WG_CORE_HANDSHAKE_MAX];
	sbintime_t sbt;
	uint64_t delta;
	int i;

	for (i = 0; i < WG_POLL_MAX; i++) {
		/* Removed: its id may already name a new peer. */
		if ((atomic_load_int(&p->p_flags) & WGP_DEAD) != 0)
			return;
		wg_now(&now);
		if (wg_core_poll_peer(sc->sc_dev, p->p_id, &now, out,
		    sizeof(out), &res) != 0)
			return;		/* ENOENT: removed meanwhile */
		if (res.action == WG_CORE_PEER_IDLE)
			break;
		if (res.action == WG_CORE_PEER_SEND && res.len <= sizeof(out))
			wg_send_buf(sc, &res.endpoint, out, res.len);
		if (res.action != WG_CORE_PEER_FLUSH_STAGED &&
		    res.action != WG_CORE_PEER_DROP_STAGED)
			continue;
		mbufq_init(&q, 0);
		mtx_lock(&p->p_mtx);
		mbufq_concat(&q, &p->p_staged);
		mtx_unlock(&p->p_mtx);
		if (res.action == WG_CORE_PEER_DROP_STAGED)
			mbufq_drain(&q);
		wg_encap(sc, &q);
	}
	if (i == WG_POLL_MAX) {
		/* A busy peer lets the others on this CPU run first. */
		wg_peer_kick(p, WGP_POLL);
		return;
	}
	mtx_lock(&p->p_mtx);
	if ((p->p_flags & WGP_DEAD) != 0 ||
	    (if_getdrvflags(sc->sc_ifp) & IFF_DRV_RUNNING) == 0)
		;
	else if (res.has_deadline == 0)
		callout_stop(&p->p_timer);
	else {
		/* At most a day ahead: the core re-arms on every poll. */
		delta = res.deadline > now.mono_ns ?
		    MIN(res.deadline - now.mono_ns, 86400 * WG_NS_PER_S) : 0;
		/*
		 * Whole seconds apart: the nstosbt() of older headers (before
		 * __stime64_scale64) split them off only from SBT_1S ns
		 * (4.3 s) and overflowed from 2 s.
		 */
		sbt = (sbintime_t)(delta / WG_NS_PER_S) * SBT_1S +
		    nstosbt(delta % WG_NS_PER_S);
		callout_reset_sbt(&p->p_timer, sbt, SBT_1MS, wg_peer_timer, p,
		    0);
	}
	mtx_unlock(&p->p_mtx);
}

/* A peer's work, in order: timers and staged packets, then its queue. */
static void
wg_peer_task(void *arg, int pending __unused)
{
	struct wg_peer *p = arg;
	struct wg_softc *sc = p->p_sc;
	struct mbufq q;
	int flags;

	mbufq_init(&q, 0);
	mtx_lock(&p->p_mtx);
	flags = p->p_flags;
	atomic_clear_int(&p->p_flags, WGP_SCHED | WGP_POLL);
	mbufq_concat(&q, &p->p_txq);
	mtx_unlock(&p->p_mtx);
	if ((flags & WGP_DEAD) != 0 ||
	    (if_getdrvflags(sc->sc_ifp) & IFF_DRV_RUNNING) == 0) {
		mbufq_drain(&q);
		return;
	}
	if ((flags & WGP_POLL) != 0)
		wg_peer_poll(p);
	wg_encap(sc, &q);
}

/*
 * af: AF_INET or AF_INET6 from the stack, or 0 to read it from m.  In the
 * net epoch, so that once destroy has waited for it no one is here.
 */
static int
wg_xmit(if_t ifp, struct mbuf *m, uint32_t af)
{
	struct epoch_tracker et;
	struct wg_softc *sc;
	struct wg_peer *p;
	uint32_t id, v;
	int error, sched;

	NET_EPOCH_ENTER(et);
	sc = if_getsoftc(ifp);
	error = ENETDOWN;
	if (sc == NULL || (if_getdrvflags(ifp) & IFF_DRV_RUNNING) == 0)
		goto drop;
	error = EAFNOSUPPORT;
	if (m->m_pkthdr.len == 0)
		goto drop;
	if ((m = wg_shape(m, WG_CORE_HEADROOM, WG_CORE_TAILROOM)) == NULL) {
		NET_EPOCH_EXIT(et);
		if_inc_counter(ifp, IFCOUNTER_OQDROPS, 1);
		return (ENOBUFS);
	}
	v = *mtod(m, uint8_t *) >> 4;
	v = v == 4 ? AF_INET : v == 6 ? AF_INET6 : AF_UNSPEC;
	if (v == AF_UNSPEC || (af != 0 && af != v))
		goto drop;
	BPF_MTAP2(ifp, &v, sizeof(v), m);
	error = ELOOP;
	if (if_tunnel_check_nesting(ifp, m, MTAG_WG_LOOP, WG_MAX_LOOPS) != 0)
		goto drop;
	if (wg_core_route(sc->sc_dev, mtod(m, uint8_t *), m->m_len, &id) !=
	    0 || (p = wg_peer_lookup(sc, id)) == NULL) {
		wg_unreach(ifp, m);
		NET_EPOCH_EXIT(et);
		return (EHOSTUNREACH);
	}

	error = ENETDOWN;
	sched = 0;
	mtx_lock(&p->p_mtx);
	if ((p->p_flags & WGP_DEAD) == 0 &&
	    (error = mbufq_enqueue(&p->p_txq, m)) == 0 &&
	    (p->p_flags & WGP_SCHED) == 0) {
		atomic_set_int(&p->p_flags, WGP_SCHED);
		sched = 1;
	}
	mtx_unlock(&p->p_mtx);
	if (sched)
		taskqueue_enqueue(p->p_tq, &p->p_task);
	NET_EPOCH_EXIT(et);
	if (error != 0) {
		if_inc_counter(ifp, IFCOUNTER_OQDROPS, 1);
		m_freem(m);
	}
	return (error);
drop:
	NET_EPOCH_EXIT(et);
	if_inc_counter(ifp, IFCOUNTER_OERRORS, 1);
	m_freem(m);
	return (error);
}

static int
wg_transmit(if_t ifp, struct mbuf *m)
{

	return (wg_xmit(ifp, m, 0));
}

static int
wg_output(if_t ifp, struct mbuf *m, const struct sockaddr *dst,
    struct route *ro)
{
	uint32_t af;

	/*
	 * bpf(4) writes on DLT_NULL carry the family in sa_data; dst is the
	 * gateway, of the other family for IPv4 routes via IPv6 next hops.
	 */
	if (dst->sa_family == AF_UNSPEC)
		memcpy(&af, dst->sa_data, sizeof(af));
	else
		af = RO_GET_FAMILY(ro, dst);
	if (af != AF_INET && af != AF_INET6) {
		if_inc_counter(ifp, IFCOUNTER_OERRORS, 1);
		m_freem(m);
		return (EAFNOSUPPORT);
	}
	return (wg_xmit(ifp, m, af));
}

/* No ifnet queue: peers' queues empty when their task runs. */
static void
wg_qflush(if_t ifp __unused)
{
}

/* Up and down, under sc_lock. */

static void	wg_up_finish(struct wg_softc *);

static int
wg_up(struct wg_softc *sc)
{
	if_t ifp = sc->sc_ifp;
	uint16_t port;
	uint32_t cookie;
	int error;

	sx_assert(&sc->sc_lock, SA_XLOCKED);
	if (sc->sc_dying)
		return (ENXIO);
	if ((if_getdrvflags(ifp) & IFF_DRV_RUNNING) != 0)
		return (0);
	/* With no port configured, any port, as elsewhere. */
	(void)wg_core_get_listen_port(sc->sc_dev, &port, &cookie);
	if ((error = wg_so_open(sc, port, cookie)) != 0) {
		if_printf(ifp, "cannot bind UDP port %u: error %d\n", port,
		    error);
		return (error);
	}
	wg_up_finish(sc);
	return (0);
}

/* The sockets are in place: running, and the peers' timers go again. */
static void
wg_up_finish(struct wg_softc *sc)
{
	if_t ifp = sc->sc_ifp;
	struct epoch_tracker et;
	struct wg_ptab *pt;
	uint32_t i;

	sx_assert(&sc->sc_lock, SA_XLOCKED);
	if_setdrvflagbits(ifp, IFF_DRV_RUNNING, 0);
	if_link_state_change(ifp, LINK_STATE_UP);
	/* Timers stopped while down; polled, the core catches up. */
	NET_EPOCH_ENTER(et);
	pt = sc->sc_ptab;
	for (i = 0; pt != NULL && i < pt->pt_len; i++)
		if (pt->pt_peer[i] != NULL)
			wg_peer_kick(pt->pt_peer[i], WGP_POLL);
	NET_EPOCH_EXIT(et);
}

static void
wg_down(struct wg_softc *sc)
{
	if_t ifp = sc->sc_ifp;

	sx_assert(&sc->sc_lock, SA_XLOCKED);
	if ((if_getdrvflags(ifp) & IFF_DRV_RUNNING) == 0)
		return;
	if_setdrvflagbits(ifp, 0, IFF_DRV_RUNNING);
	if_link_state_change(ifp, LINK_STATE_DOWN);
	wg_peers_stop(sc, 0);
	wg_so_set(sc, NULL, NULL);
	/*
	 * The sockets are closed, so nothing more is queued; the handshake
	 * task, seeing the interface down, opens nothing more.  Purged as
	 * FreeBSD's driver does, before the sessions are cleared: a queued
	 * initiation opened later would make a session on a down interface.
	 */
	taskqueue_drain(wg_tq[sc->sc_tqoff], &sc->sc_hs_task);
	wg_hs_purge(sc);
	/* As Linux and FreeBSD's driver: sessions do not outlive "down". */
	wg_core_dev_clear_sessions(sc->sc_dev);
}

/* Configuration ioctls. */

/*
 * All or nothing, the socket included: the request is checked, a new
 * listen port bound (in use: the request fails) and a new cookie set on
 * the sockets (put back if the core refuses) before the core applies it
 * and new sockets replace the old.  An interface up but waiting for its
 * port tries again to come up; that failing fails no request.
 */
static int
wgc_set_locked(struct wg_softc *sc, struct wg_cfgctx *c, const uint8_t *buf,
    size_t len)
{
	struct socket *so[2] = { NULL, NULL };
	struct wg_time now;
	uint32_t cookie;
	uint16_t bound, port;
	bool recookie, rebind, running, waiting;
	int error;

	sx_assert(&sc->sc_lock, SA_XLOCKED);
	error = wg_core_check_config(sc->sc_dev, buf, len, &port, &cookie);
	if (error != 0)
		return (error);
	running = (if_getdrvflags(sc->sc_ifp) & IFF_DRV_RUNNING) != 0;
	waiting = !running && (if_getflags(sc->sc_ifp) & IFF_UP) != 0 &&
	    sc->sc_cred != NULL && !sc->sc_dying;
	/* Naming the port a listen port of 0 already got needs no rebind. */
	rebind = (running && port != sc->sc_port &&
	    !(port != 0 && port == sc->sc_bound)) ||
	    (waiting && port != sc->sc_port);
	recookie = running && !rebind && cookie != sc->sc_cookie;
	bound = sc->sc_bound;
	if (rebind && (error = wg_so_bind(sc, port, cookie, so, &bound)) != 0)
		return (error);
	if (recookie && (error = wg_so_setall(sc, SO_USER_COOKIE, cookie,
	    sc->sc_cookie)) != 0)
		return (error);
	wg_now(&now);
	error = wg_core_set_config(sc->sc_dev, &now, buf, len, wg_peer_event,
	    c);
	if (error != 0) {
		if (so[0] != NULL)
			soclose(so[0]);
		if (so[1] != NULL)
			soclose(so[1]);
		if (recookie)
			(void)wg_so_setall(sc, SO_USER_COOKIE, sc->sc_cookie,
			    cookie);
		return (error);
	}
	if (rebind)
		wg_so_install(sc, so, port, bound, cookie);
	else if (running) {
		sc->sc_port = port;
		if (recookie)
			sc->sc_cookie = cookie;
		wg_core_set_bound_port(sc->sc_dev, bound);
	}
	if (waiting && rebind)
		wg_up_finish(sc);
	else if (waiting)
		(void)wg_up(sc);
	return (0);
}

static int
wgc_set(struct wg_softc *sc, struct wg_data_io *wgd)
{
	struct wg_cfgctx c = { .c_sc = sc };
	uint8_t *buf;
	size_t len;
	int error;

	len = wgd->wgd_size;
	if (wgd->wgd_data == NULL || len == 0)
		return (EFAULT);
	if (len > WG_NVL_MAX)
		return (E2BIG);
	buf = malloc(len, M_WG, M_WAITOK);
	if ((error = copyin(wgd->wgd_data, buf, len)) == 0) {
		sx_xlock(&sc->sc_lock);
		error = wgc_set_locked(sc, &c, buf, len);
		sx_xunlock(&sc->sc_lock);
		wg_cfg_finish(&c);
	}
	/* It may hold the private key and preshared keys. */
	explicit_bzero(buf, len);
	free(buf, M_WG);
	return (error);
}

/*
 * As FreeBSD's wgc_get: a wgd_size of 0 asks for the size; a size short
 * of the configuration is ENOSPC; else it is copied out (copyout(9):
 * EFAULT for NULL) and wgd_size says how much.  It may grow between the
 * two calls to the core (SIOCSWG, roaming), and a caller whose buffer
 * still holds it must get it, not ENOSPC.
 */
static int
wgc_get(struct wg_softc *sc, struct wg_data_io *wgd)
{
	uint8_t *buf;
	size_t alloc, need, len;
	int error, privileged;

	/* Who may see keys is decided as FreeBSD's if_wg does. */
	privileged = priv_check(curthread, PRIV_NET_WG) == 0;
	for (;;) {
		need = 0;
		sx_slock(&sc->sc_lock);
		error = wg_core_get_config(sc->sc_dev, privileged, NULL, &need);
		sx_sunlock(&sc->sc_lock);
		if (error != 0)
			return (error);
		if (wgd->wgd_size == 0) {
			wgd->wgd_size = need;
			return (0);
		}
		if (wgd->wgd_size < need)
			return (ENOSPC);
		/* Room for some growth, within what the caller offers. */
		alloc = MIN(wgd->wgd_size, need + need / 2 + 1024);
		buf = malloc(alloc, M_WG, M_WAITOK);
		len = alloc;
		sx_slock(&sc->sc_lock);
		error = wg_core_get_config(sc->sc_dev, privileged, buf, &len);
		sx_sunlock(&sc->sc_lock);
		if (error == 0 &&
		    (error = copyout(buf, wgd->wgd_data, len)) == 0)
			wgd->wgd_size = len;
		explicit_bzero(buf, alloc);	/* the private key, maybe */
		free(buf, M_WG);
		/* The core's ENOSPC: it grew past alloc; measure again. */
		if (error != ENOSPC)
			return (error);
	}
}

/* The interface. */

/*
 * Moved to another VNET (ifconfig wg0 vnet jail): addresses and routes
 * stayed behind, so it goes down; up again there, it binds its sockets in
 * its creator's VNET as before.
 */
static void
wg_reassign(if_t ifp, struct vnet *vnet __unused, char *unused __unused)
{
	struct wg_softc *sc;

	sx_slock(&wg_sx);
	if ((sc = if_getsoftc(ifp)) != NULL) {
		sx_xlock(&sc->sc_lock);
		wg_down(sc);
		sx_xunlock(&sc->sc_lock);
	}
	sx_sunlock(&wg_sx);
}

static int
wg_ioctl(if_t ifp, u_long cmd, caddr_t data)
{
	struct ifreq *ifr = (struct ifreq *)data;
	struct wg_softc *sc;
	int error = 0;

	/*
	 * No-ops, answered before wg_sx: the stack sends them from its
	 * address and multicast code (in6_notify_ifa(), if_addmulti()),
	 * not only from ioctls, so maybe where sleeping is not allowed.
	 * Addresses do not bring it up, as on Linux; ifconfig does.
	 * Multicast goes wherever allowed IPs say.
	 */
	if (cmd == SIOCSIFADDR || cmd == SIOCADDMULTI || cmd == SIOCDELMULTI)
		return (0);
	sx_slock(&wg_sx);
	if ((sc = if_getsoftc(ifp)) == NULL) {
		sx_sunlock(&wg_sx);
		return (ENXIO);
	}
	switch (cmd) {
	case SIOCSWG:
		if ((error = priv_check(curthread, PRIV_NET_WG)) == 0)
			error = wgc_set(sc, (struct wg_data_io *)data);
		break;
	case SIOCGWG:
		error = wgc_get(sc, (struct wg_data_io *)data);
		break;
	case SIOCSIFFLAGS:
		/* ifioctl() ignores what this returns; wg_up() logs. */
		sx_xlock(&sc->sc_lock);
		if ((if_getflags(ifp) & IFF_UP) != 0)
			error = wg_up(sc);
		else
			wg_down(sc);
		sx_xunlock(&sc->sc_lock);
		break;
	case SIOCGTUNFIB:
		ifr->ifr_fib = sc->sc_fib;
		break;
	case SIOCSTUNFIB:
		/*
		 * As FreeBSD's driver, but the FIB is checked while down too
		 * (it would only fail the next "up"), and a failure on one
		 * socket puts the other back.
		 */
		error = priv_check(curthread, PRIV_NET_WG);
		if (error == 0)
			error = priv_check(curthread, PRIV_NET_SETIFFIB);
		if (error == 0 && ifr->ifr_fib >= rt_numfibs)
			error = EINVAL;
		if (error != 0)
			break;
		sx_xlock(&sc->sc_lock);
		error = wg_so_setall(sc, SO_SETFIB, ifr->ifr_fib, sc->sc_fib);
		if (error == 0)
			sc->sc_fib = ifr->ifr_fib;
		sx_xunlock(&sc->sc_lock);
		break;
	case SIOCSIFMTU:
		if (ifr->ifr_mtu <= 0 || ifr->ifr_mtu > WG_MTU_MAX) {
			error = EINVAL;
			break;
		}
		if_setmtu(ifp, ifr->ifr_mtu);
		wg_core_dev_set_mtu(sc->sc_dev, ifr->ifr_mtu);
		break;
	default:
		/* SIOCGIFMTU and its kind are answered by ifioctl() itself. */
		error = ENOTTY;
		break;
	}
	sx_sunlock(&wg_sx);
	return (error);
}

/* The cloner, per VNET. */

static int
wg_clone_create(struct if_clone *ifc __unused, char *name __unused,
    size_t len __unused, struct ifc_data *ifd, if_t *ifpp)
{
	struct wg_softc *sc;
	if_t ifp;
	int error;

	sc = malloc(sizeof(*sc), M_WG, M_WAITOK | M_ZERO);
	if ((error = wg_core_dev_create(&sc->sc_dev)) != 0) {
		free(sc, M_WG);
		return (error);
	}
	sx_init(&sc->sc_lock, "wg config");
	mtx_init(&sc->sc_hs_mtx, "wg handshakes", NULL, MTX_DEF);
	mbufq_init(&sc->sc_hsq, WG_HSQ_MAX);
	TASK_INIT(&sc->sc_hs_task, 0, wg_hs_task, sc);
	sc->sc_tqoff = arc4random() % wg_ntq;
	sc->sc_cred = crhold(curthread->td_ucred);
	sc->sc_fib = curthread->td_proc->p_fibnum;	/* as setfib(1) says */

	/*
	 * Not IFF_POINTOPOINT, as FreeBSD's if_wg: that would demand a
	 * destination with every address, and wg reaches many peers.
	 */
	ifp = sc->sc_ifp = if_alloc(IFT_WIREGUARD);
	if_setsoftc(ifp, sc);
	if_initname(ifp, WG_NAME, ifd->unit);
	if_setflags(ifp, IFF_NOARP | IFF_MULTICAST);
	if_setmtu(ifp, WG_MTU_DEFAULT);
	wg_core_dev_set_mtu(sc->sc_dev, WG_MTU_DEFAULT);
	if_setcapabilities(ifp, IFCAP_LINKSTATE);
	if_setcapenable(ifp, IFCAP_LINKSTATE);
	if_setioctlfn(ifp, wg_ioctl);
	if_settransmitfn(ifp, wg_transmit);
	if_setoutputfn(ifp, wg_output);
	if_setqflushfn(ifp, wg_qflush);
	if_setreassignfn(ifp, wg_reassign);
	if_attach(ifp);
	bpfattach(ifp, DLT_NULL, sizeof(uint32_t));
#ifdef INET6
	/* No link-local address or DAD on a tunnel of allowed IPs. */
	ND_IFINFO(ifp)->flags &= ~ND6_IFF_AUTO_LINKLOCAL;
	ND_IFINFO(ifp)->flags |= ND6_IFF_NO_DAD;
#endif
	/* The cloner puts it in group "wg", where wg(8) looks. */
	sx_xlock(&wg_sx);
	LIST_INSERT_HEAD(&wg_list, sc, sc_entry);
	sx_xunlock(&wg_sx);
	*ifpp = ifp;
	return (0);
}

/* Also how every interface of a VNET that goes away ends. */
static int
wg_clone_destroy(struct if_clone *ifc __unused, if_t ifp,
    uint32_t flags __unused)
{
	struct wg_softc *sc;
	struct ucred *cred;

	sx_xlock(&wg_sx);
	sc = if_getsoftc(ifp);
	if_setsoftc(ifp, NULL);		/* from now on ioctls: ENXIO */
	LIST_REMOVE(sc, sc_entry);
	sx_xunlock(&wg_sx);

	sx_xlock(&sc->sc_lock);
	sc->sc_dying = 1;
	wg_down(sc);			/* sockets closed: no more input */
	cred = sc->sc_cred;
	sc->sc_cred = NULL;
	sx_xunlock(&sc->sc_lock);

	/*
	 * For whoever saw the softc, and for the tunnelling callbacks that
	 * found a socket before soclose() unhashed it: none of them may
	 * still be delivering to ifp when it is detached.
	 */
	NET_EPOCH_WAIT();
	taskqueue_drain(wg_tq[sc->sc_tqoff], &sc->sc_hs_task);
	mbufq_drain(&sc->sc_hsq);
	bpfdetach(ifp);
	if_detach(ifp);
	sx_xlock(&sc->sc_lock);
	wg_peers_stop(sc, 1);
	sx_xunlock(&sc->sc_lock);

	wg_core_dev_destroy(sc->sc_dev);
	if_free(ifp);
	if (cred != NULL)
		crfree(cred);
	mtx_destroy(&sc->sc_hs_mtx);
	sx_destroy(&sc->sc_lock);
	free(sc, M_WG);
	return (0);
}

static int wg_loaded;		/* MOD_LOAD succeeded */

/* The cloner of the current VNET; EEXIST: a "wg" cloner is there. */
static int
wg_cloner_attach(void)
{
	struct if_clone_addreq req = {
		.flags = IFC_F_AUTOUNIT,
		.create_f = wg_clone_create,
		.destroy_f = wg_clone_destroy,
	};

	if (V_wg_cloner == NULL)
		V_wg_cloner = ifc_attach_cloner(WG_NAME, &req);
	return (V_wg_cloner == NULL ? EEXIST : 0);
}

/*
 * A new VNET's cloner (those of the VNETs there at load time MOD_LOAD
 * attached, or refused to load).  Nothing after a failed MOD_LOAD: the
 * kernel still runs the file's SYSINITs before unloading it.
 */
static void
wg_vnet_init(const void *unused __unused)
{

	if (wg_loaded && wg_cloner_attach() != 0)
		printf("if_wg: cloner \"%s\" exists already in a new VNET\n",
		    WG_NAME);
}
VNET_SYSINIT(wg_vnet_init, SI_SUB_PROTO_IFATTACHDOMAIN, SI_ORDER_ANY,
    wg_vnet_init, NULL);

/* Destroys the VNET's wg interfaces, wherever they live now. */
static void
wg_vnet_uninit(const void *unused __unused)
{

	if (V_wg_cloner != NULL) {
		ifc_detach_cloner(V_wg_cloner);
		V_wg_cloner = NULL;
	}
}
VNET_SYSUNINIT(wg_vnet_uninit, SI_SUB_PROTO_IFATTACHDOMAIN, SI_ORDER_ANY,
    wg_vnet_uninit, NULL);

/*
 * A jail is being removed: the interfaces it created let go of its
 * credential (their sockets close), or it could never die.
 */
static int
wg_prison_remove(void *obj, void *data __unused)
{
	const struct prison *pr = obj;
	struct wg_softc *sc;
	struct ucred *cred;

	sx_slock(&wg_sx);
	LIST_FOREACH(sc, &wg_list, sc_entry) {
		sx_xlock(&sc->sc_lock);
		if ((cred = sc->sc_cred) != NULL && cred->cr_prison == pr) {
			wg_down(sc);
			sc->sc_cred = NULL;
			crfree(cred);
		}
		sx_xunlock(&sc->sc_lock);
	}
	sx_sunlock(&wg_sx);
	return (0);
}

/* The module. */

/* Detaches every VNET's cloner (destroying its interfaces). */
static void
wg_cloners_detach(void)
{
	VNET_ITERATOR_DECL(vnet_iter);

	VNET_LIST_RLOCK();
	VNET_FOREACH(vnet_iter) {
		CURVNET_SET(vnet_iter);
		wg_vnet_uninit(NULL);
		CURVNET_RESTORE();
	}
	VNET_LIST_RUNLOCK();
}

/*
 * FreeBSD's own driver attaches the same cloner "wg": in a kernel with
 * device wg, MOD_LOAD fails rather than load a driver that can create no
 * interface.  It attaches the cloners of the VNETs that exist, so that it
 * can fail; wg_vnet_init() those of later VNETs.
 */
static void	wg_unload(void);

static int
wg_load(void)
{
	osd_method_t methods[PR_MAXMETHOD] = {
		[PR_METHOD_REMOVE] = wg_prison_remove,
	};
	VNET_ITERATOR_DECL(vnet_iter);
	cpuset_t mask;
	u_int cpu;
	int error;

	wg_tq = mallocarray(mp_ncpus, sizeof(*wg_tq), M_WG,
	    M_WAITOK | M_ZERO);
	CPU_FOREACH(cpu) {
		if (wg_ntq == (u_int)mp_ncpus)
			break;
		wg_tq[wg_ntq] = taskqueue_create("if_wg", M_WAITOK,
		    taskqueue_thread_enqueue, &wg_tq[wg_ntq]);
		CPU_SETOF(cpu, &mask);
		taskqueue_start_threads_cpuset(&wg_tq[wg_ntq++], 1, PI_NET,
		    &mask, "wg tq %u", cpu);
	}
	wg_osd_slot = osd_jail_register(NULL, methods);
	/* ChaCha20-Poly1305: AVX2 if the CPU has it, decided once here. */
	(void)wg_core_simd_select(1);
	error = 0;
	VNET_LIST_RLOCK();
	VNET_FOREACH(vnet_iter) {
		CURVNET_SET(vnet_iter);
		if (error == 0)
			error = wg_cloner_attach();
		CURVNET_RESTORE();
	}
	VNET_LIST_RUNLOCK();
	if (error == 0) {
		wg_loaded = 1;
		return (0);
	}
	printf("if_wg: not loaded: an interface cloner \"%s\" exists "
	    "already (FreeBSD's wg(4): kldunload if_wg, or a kernel "
	    "without device wg)\n", WG_NAME);
	wg_unload();
	return (error);
}

/*
 * MOD_UNLOAD comes before the VNET uninit functions: every VNET's cloner
 * is detached here, destroying every interface before their taskqueues
 * go away.  Also what undoes a MOD_LOAD that failed, and the kernel's
 * MOD_UNLOAD after it finds nothing to undo.
 */
static void
wg_unload(void)
{

	wg_loaded = 0;
	wg_cloners_detach();
	NET_EPOCH_WAIT();
	if (wg_osd_slot != 0) {
		osd_jail_deregister(wg_osd_slot);
		wg_osd_slot = 0;
	}
	while (wg_ntq > 0)
		taskqueue_free(wg_tq[--wg_ntq]);
	free(wg_tq, M_WG);
	wg_tq = NULL;
}

static int
wg_modevent(module_t mod __unused, int what, void *arg __unused)
{

	switch (what) {
	case MOD_LOAD:
		return (wg_load());
	case MOD_UNLOAD:
		wg_unload();
		return (0);
	default:
		return (EOPNOTSUPP);
	}
}

/*
 * File if_wg.ko as FreeBSD's driver (module "wg"): the kernel loads
 * neither beside the other (EEXIST).  Module "if_wg": ifconfig(8) finds it
 * loaded for "ifconfig wg create", and kldstat -m tells the two apart.
 */
static moduledata_t wg_moduledata = {
	"if_wg",
	wg_modevent,
	NULL
};

DECLARE_MODULE(if_wg, wg_moduledata, SI_SUB_PSEUDO, SI_ORDER_ANY);
MODULE_VERSION(if_wg, 1);
