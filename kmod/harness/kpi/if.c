/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * ifnet(9), if_clone, bpf(4) taps and netisr, after sys/net/if.c,
 * sys/net/if_clone.c, sys/net/bpf.c and sys/net/netisr.c.
 *
 * The stack side of an interface is a Linux TUN device of the same name:
 * what Linux routes into it reaches the driver's if_output, in the net
 * epoch and the interface's VNET, as ip_output() calls it; what the
 * driver hands to netisr_dispatch() comes out of it.  Enforced: attach,
 * detach and free in order and where sleeping is allowed; netisr_dispatch
 * only in the net epoch, with curvnet the receiving interface's VNET and
 * the protocol matching the packet; BPF_MTAP2 with a valid packet; an
 * interface left in a VNET that is destroyed is a leak.
 *
 * VNETs are logical: every interface's TUN lives in the one Linux network
 * namespace the harness runs in, wherever the interface moves.
 */
#include "kh.h"

#include <sys/mbuf.h>
#include <sys/syslog.h>
#include <sys/socket.h>
#include <sys/sockio.h>
#include <machine/stdarg.h>
#include <net/bpf.h>
#include <net/if.h>
#include <net/if_clone.h>
#include <net/if_var.h>
#include <net/if_private.h>
#include <net/netisr.h>
#include <net/vnet.h>
#include <netinet/in.h>
#include <netinet6/in6_var.h>
#include <netinet6/nd6.h>

/* (net/if.h has macros named ifc_*: these fields are kc_*.) */
struct if_clone {
	char			 kc_name[IFNAMSIZ];
	struct vnet		*kc_vnet;
	struct if_clone_addreq	 kc_req;
	LIST_ENTRY(if_clone)	 kc_link;
	uint64_t		 kc_units[4];	/* in use, up to 256 */
};

struct kh_ifnet {
	struct ifnet		 ifn;		/* first: if_t points here */
	LIST_ENTRY(kh_ifnet)	 link;
	struct if_clone		*cloner;
	int			 attached;
	volatile int		 refs;		/* if_ref; the allocation's */
	int			 tunfd;
	host_thread_t		*reader;
	volatile int		 stop;
	uint64_t		 counters[IFCOUNTERS];
	uint64_t		 bpf_taps;
	uint64_t		 dispatched;
	int			 last_fib;	/* of the last packet dispatched */
	struct in6_ifextra	 in6;
	struct nd_ifinfo	 nd;
	struct bpf_if_ext	 bpf;
};

#define	KH_IF(ifp)	((struct kh_ifnet *)(ifp))

struct malloc_type M_KH_IFNET[1] = {{ .ks_shortdesc = "ifnet" }};
static host_mutex_t *kh_if_mtx;		/* the lists below */
static LIST_HEAD(, kh_ifnet) kh_ifs = LIST_HEAD_INITIALIZER(kh_ifs);
static LIST_HEAD(, if_clone) kh_cloners = LIST_HEAD_INITIALIZER(kh_cloners);
static int kh_if_notun;

void
kh_if_init_model(void)
{

	kh_if_mtx = host_mutex_new();
	malloc_init(M_KH_IFNET);
	kh_if_notun = host_getenv("KH_NO_TUN") != NULL;
}

/*
 * ifnet(9).  The accessors are plain loads and stores in FreeBSD, read
 * without locks all over the stack: aligned words are single-copy atomic
 * on every platform it runs on.  Here they are relaxed atomics, which is
 * the same code on amd64 and what ThreadSanitizer needs to agree.
 */

if_t
if_alloc(u_char type)
{
	struct kh_ifnet *ki;

	kh_check_sleep("if_alloc");
	ki = malloc(sizeof(*ki), M_KH_IFNET, M_WAITOK | M_ZERO);
	ki->ifn.if_type = type;
	ki->ifn.if_index = 0;
	ki->ifn.if_link_state = LINK_STATE_UNKNOWN;
	ki->tunfd = -1;
	ki->refs = 1;
	ki->in6.nd_ifinfo = &ki->nd;
	IF_AFDATA_LOCK_INIT(&ki->ifn);
	return (&ki->ifn);
}

void
if_initname(if_t ifp, const char *name, int unit)
{

	ifp->if_dname = name;
	ifp->if_dunit = unit;
	if (unit != IF_DUNIT_NONE)
		snprintf(ifp->if_xname, IFNAMSIZ, "%s%d", name, unit);
	else
		strlcpy(ifp->if_xname, name, IFNAMSIZ);
}

static struct kh_ifnet *
kh_ifunit_locked(const char *name, struct vnet *vnet)
{
	struct kh_ifnet *ki;

	LIST_FOREACH(ki, &kh_ifs, link)
		if (ki->attached && ki->ifn.if_vnet == vnet &&
		    strcmp(ki->ifn.if_xname, name) == 0)
			return (ki);
	return (NULL);
}

/* The stack's side: packets Linux routes into the TUN device. */
static void
kh_if_reader(void *arg)
{
	struct kh_ifnet *ki = arg;
	struct epoch_tracker et;
	struct sockaddr dst;
	struct mbuf *m;
	char *buf;
	long n;

	buf = host_alloc(65536);
	while (!__atomic_load_n(&ki->stop, __ATOMIC_ACQUIRE)) {
		n = host_tun_read(ki->tunfd, buf, 65536, 50);
		if (n <= 0)
			continue;
		if ((ki->ifn.if_flags & IFF_UP) == 0)
			continue;		/* ip_output: ENETDOWN */
		/* As ip_output hands it over: room for a link header. */
		m = m_get2(n + max_linkhdr, M_NOWAIT, MT_DATA, M_PKTHDR);
		if (m == NULL)
			continue;
		m->m_data += max_linkhdr;
		memcpy(mtod(m, char *), buf, n);
		m->m_len = m->m_pkthdr.len = n;
		memset(&dst, 0, sizeof(dst));
		dst.sa_len = sizeof(dst);
		dst.sa_family = (buf[0] >> 4) == 6 ? AF_INET6 : AF_INET;
		NET_EPOCH_ENTER(et);
		CURVNET_SET(ki->ifn.if_vnet);
		(void)ki->ifn.if_output(&ki->ifn, m, &dst, NULL);
		CURVNET_RESTORE();
		NET_EPOCH_EXIT(et);
	}
	host_free(buf);
}

void
if_attach(if_t ifp)
{
	struct kh_ifnet *ki = KH_IF(ifp);
	int fd;

	kh_check_sleep("if_attach");
	if (curvnet == NULL)
		kh_panic("if_attach(%s) with no current VNET", ifp->if_xname);
	if (ki->attached)
		kh_panic("if_attach(%s) twice", ifp->if_xname);
	if (ifp->if_output == NULL || ifp->if_ioctl == NULL)
		kh_panic("if_attach(%s) without if_output or if_ioctl",
		    ifp->if_xname);
	host_mutex_lock(kh_if_mtx);
	if (kh_ifunit_locked(ifp->if_xname, curvnet) != NULL)
		kh_panic("if_attach: %s exists in this VNET", ifp->if_xname);
	ifp->if_vnet = curvnet;
	if (ifp->if_home_vnet == NULL)
		ifp->if_home_vnet = curvnet;
	ifp->if_afdata[AF_INET6] = &ki->in6;
	ki->attached = 1;
	LIST_INSERT_HEAD(&kh_ifs, ki, link);
	host_mutex_unlock(kh_if_mtx);
	if (!kh_if_notun && ki->tunfd < 0) {
		fd = host_tun_open(ifp->if_xname, ifp->if_mtu);
		if (fd < 0)
			kh_log("%s: no TUN device (error %d): no stack side",
			    ifp->if_xname, -fd);
		else {
			ki->tunfd = fd;
			ki->stop = 0;
			ki->reader = kh_thread_start(ifp->if_xname, 0,
			    kh_if_reader, ki);
		}
	}
}

static void
kh_if_unlink(struct kh_ifnet *ki)
{

	host_mutex_lock(kh_if_mtx);
	LIST_REMOVE(ki, link);
	ki->attached = 0;
	host_mutex_unlock(kh_if_mtx);
}

void
if_detach(if_t ifp)
{
	struct kh_ifnet *ki = KH_IF(ifp);

	kh_check_sleep("if_detach");
	if (!ki->attached)
		kh_panic("if_detach(%s): not attached", ifp->if_xname);
	if (ifp->if_bpf != NULL)
		kh_panic("if_detach(%s) before bpfdetach", ifp->if_xname);
	kh_if_unlink(ki);
	if (ki->reader != NULL) {
		__atomic_store_n(&ki->stop, 1, __ATOMIC_RELEASE);
		host_thread_join(ki->reader);
		ki->reader = NULL;
	}
	if (ki->tunfd >= 0) {
		host_close(ki->tunfd);
		ki->tunfd = -1;
	}
	ifp->if_afdata[AF_INET6] = NULL;
}

void
if_free(if_t ifp)
{
	struct kh_ifnet *ki = KH_IF(ifp);

	kh_check_sleep("if_free");
	if (ki->attached)
		kh_panic("if_free(%s) of an attached interface",
		    ifp->if_xname);
	kh_if_rele(ifp);
}

/* if_rele(): the last reference frees, as FreeBSD's deferred if_free. */
void
kh_if_rele(if_t ifp)
{
	struct kh_ifnet *ki = KH_IF(ifp);

	if (__atomic_sub_fetch(&ki->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	IF_AFDATA_DESTROY(ifp);
	free(ki, M_KH_IFNET);
}

int
if_setsoftc(if_t ifp, void *softc)
{

	__atomic_store_n(&ifp->if_softc, softc, __ATOMIC_RELAXED);
	return (0);
}

void *
if_getsoftc(if_t ifp)
{

	return (__atomic_load_n(&ifp->if_softc, __ATOMIC_RELAXED));
}

int
if_setflags(if_t ifp, int flags)
{

	__atomic_store_n(&ifp->if_flags, flags, __ATOMIC_RELAXED);
	return (0);
}

int
if_getflags(const if_t ifp)
{

	return (__atomic_load_n(&ifp->if_flags, __ATOMIC_RELAXED));
}

int
if_setdrvflagbits(if_t ifp, int set, int clear)
{

	int o = __atomic_load_n(&ifp->if_drv_flags, __ATOMIC_RELAXED);

	__atomic_store_n(&ifp->if_drv_flags, (o | set) & ~clear,
	    __ATOMIC_RELAXED);
	return (0);
}

int
if_getdrvflags(const if_t ifp)
{

	return (__atomic_load_n(&ifp->if_drv_flags, __ATOMIC_RELAXED));
}

int
if_setmtu(if_t ifp, int mtu)
{

	ifp->if_mtu = mtu;
	return (0);
}

int
if_setcapabilities(if_t ifp, int caps)
{

	ifp->if_capabilities = caps;
	return (0);
}

int
if_setcapenable(if_t ifp, int caps)
{

	ifp->if_capenable = caps;
	return (0);
}

void
if_setioctlfn(if_t ifp, if_ioctl_fn_t fn)
{

	ifp->if_ioctl = fn;
}

void
if_setoutputfn(if_t ifp, if_output_fn_t fn)
{

	ifp->if_output = fn;
}

void
if_settransmitfn(if_t ifp, if_transmit_fn_t fn)
{

	ifp->if_transmit = fn;
}

void
if_setqflushfn(if_t ifp, if_qflush_fn_t fn)
{

	ifp->if_qflush = fn;
}

void
if_setreassignfn(if_t ifp, if_reassign_fn_t fn)
{

	ifp->if_reassign = fn;
}

u_int
if_getfib(if_t ifp)
{

	return (ifp->if_fib);
}

struct vnet *
if_getvnet(const if_t ifp)
{

	return (ifp->if_vnet);
}

void *
if_getafdata(if_t ifp, int af)
{

	return (ifp->if_afdata[af]);
}

void
if_inc_counter(if_t ifp, ift_counter cnt, int64_t inc)
{

	if ((u_int)cnt >= IFCOUNTERS)
		kh_panic("if_inc_counter(%s): counter %d", ifp->if_xname, cnt);
	__atomic_add_fetch(&KH_IF(ifp)->counters[cnt], inc, __ATOMIC_RELAXED);
}

uint64_t
kh_if_counter(if_t ifp, int cnt)
{

	return (__atomic_load_n(&KH_IF(ifp)->counters[cnt], __ATOMIC_RELAXED));
}

void
if_link_state_change(if_t ifp, int state)
{

	ifp->if_link_state = state;
}

int
if_printf(if_t ifp, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("%s: %s", ifp->if_xname, buf);
	return (0);
}

/* As sys/net/if.c: a tag per interface crossed, a loop is an error. */
int
if_tunnel_check_nesting(if_t ifp, struct mbuf *m, uint32_t cookie, int limit)
{
	struct m_tag *mtag;
	int count;

	count = 1;
	mtag = NULL;
	while ((mtag = m_tag_locate(m, cookie, 0, mtag)) != NULL) {
		if (*(if_t *)(mtag + 1) == ifp) {
			log(LOG_NOTICE, "%s: loop detected\n", ifp->if_xname);
			return (EIO);
		}
		count++;
	}
	if (count > limit) {
		log(LOG_NOTICE, "%s: if_output recursively called too many "
		    "times(%d)\n", ifp->if_xname, count);
		return (EIO);
	}
	mtag = m_tag_alloc(cookie, 0, sizeof(if_t), M_NOWAIT);
	if (mtag == NULL)
		return (ENOMEM);
	*(if_t *)(mtag + 1) = ifp;
	m_tag_prepend(m, mtag);
	return (0);
}

/* bpf(4) */

void
bpfattach(if_t ifp, u_int dlt, u_int hdrlen)
{

	if (dlt != DLT_NULL || hdrlen != sizeof(uint32_t))
		kh_panic("bpfattach(%s): only DLT_NULL is modelled",
		    ifp->if_xname);
	CK_LIST_INIT(&KH_IF(ifp)->bpf.bif_dlist);
	ifp->if_bpf = (struct bpf_if *)&KH_IF(ifp)->bpf;
}

void
bpfdetach(if_t ifp)
{

	if (ifp->if_bpf == NULL)
		kh_panic("bpfdetach(%s) without bpfattach", ifp->if_xname);
	ifp->if_bpf = NULL;
}

void
bpf_mtap2_if(if_t ifp, void *data, u_int dlen, struct mbuf *m)
{
	uint32_t af;
	int len;
	struct mbuf *n;

	if (ifp->if_bpf == NULL)
		kh_panic("BPF_MTAP2(%s) after bpfdetach", ifp->if_xname);
	if (dlen != sizeof(af))
		kh_panic("BPF_MTAP2(%s): DLT_NULL header of %u bytes",
		    ifp->if_xname, dlen);
	memcpy(&af, data, sizeof(af));
	if (af != AF_INET && af != AF_INET6)
		kh_panic("BPF_MTAP2(%s): family %u", ifp->if_xname, af);
	if ((m->m_flags & M_PKTHDR) == 0)
		kh_panic("BPF_MTAP2(%s): no packet header", ifp->if_xname);
	for (len = 0, n = m; n != NULL; n = n->m_next)
		len += n->m_len;
	if (len != m->m_pkthdr.len)
		kh_panic("BPF_MTAP2(%s): m_pkthdr.len %d, chain %d",
		    ifp->if_xname, m->m_pkthdr.len, len);
	__atomic_add_fetch(&KH_IF(ifp)->bpf_taps, 1, __ATOMIC_RELAXED);
}

/* netisr(9): the packet leaves through the receiving interface's TUN. */
int
netisr_dispatch(u_int proto, struct mbuf *m)
{
	struct kh_ifnet *ki;
	if_t ifp;
	char *buf;
	int v;

	if (kh_curthread()->epochnest == 0)
		kh_panic("netisr_dispatch outside the net epoch");
	if ((m->m_flags & M_PKTHDR) == 0 || (ifp = m->m_pkthdr.rcvif) == NULL)
		kh_panic("netisr_dispatch: no packet header or rcvif");
	ki = KH_IF(ifp);
	if (curvnet != ifp->if_vnet)
		kh_panic("netisr_dispatch: curvnet %p is not the VNET %p of "
		    "%s", curvnet, ifp->if_vnet, ifp->if_xname);
	if (!ki->attached)
		kh_panic("netisr_dispatch: %s is detached", ifp->if_xname);
	if (m->m_pkthdr.len <= 0)
		kh_panic("netisr_dispatch: empty packet");
	v = *mtod(m, uint8_t *) >> 4;
	if (!((proto == NETISR_IP && v == 4) || (proto == NETISR_IPV6 &&
	    v == 6)))
		kh_panic("netisr_dispatch: protocol %u for an IPv%d packet",
		    proto, v);
	__atomic_add_fetch(&ki->dispatched, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&ki->last_fib, M_GETFIB(m), __ATOMIC_RELAXED);
	if (ki->tunfd >= 0) {
		buf = host_alloc(m->m_pkthdr.len);
		m_copydata(m, 0, m->m_pkthdr.len, buf);
		(void)host_tun_write(ki->tunfd, buf, m->m_pkthdr.len);
		host_free(buf);
	}
	m_freem(m);
	return (0);
}

/* if_clone */

static struct if_clone *
kh_cloner_find(const char *name, struct vnet *vnet)
{
	struct if_clone *ifc;

	LIST_FOREACH(ifc, &kh_cloners, kc_link)
		if (ifc->kc_vnet == vnet && strcmp(ifc->kc_name, name) == 0)
			return (ifc);
	return (NULL);
}

/* if_clone.c: a second cloner of one name in a VNET is EEXIST: NULL. */
struct if_clone *
ifc_attach_cloner(const char *name, struct if_clone_addreq *req)
{
	struct if_clone *ifc;

	kh_check_sleep("ifc_attach_cloner");
	if (curvnet == NULL)
		kh_panic("ifc_attach_cloner(\"%s\") with no current VNET",
		    name);
	if (req->create_f == NULL || req->destroy_f == NULL)
		kh_panic("ifc_attach_cloner(\"%s\"): no create or destroy",
		    name);
	host_mutex_lock(kh_if_mtx);
	if (kh_cloner_find(name, curvnet) != NULL) {
		host_mutex_unlock(kh_if_mtx);
		return (NULL);
	}
	ifc = host_alloc(sizeof(*ifc));
	strlcpy(ifc->kc_name, name, sizeof(ifc->kc_name));
	ifc->kc_vnet = curvnet;
	ifc->kc_req = *req;
	LIST_INSERT_HEAD(&kh_cloners, ifc, kc_link);
	host_mutex_unlock(kh_if_mtx);
	return (ifc);
}

static void
kh_unit_free(struct if_clone *ifc, int unit)
{

	if (unit >= 0 && unit < 256)
		ifc->kc_units[unit / 64] &= ~(1ULL << (unit % 64));
}

/* Destroys each interface the cloner made, wherever it is now. */
void
ifc_detach_cloner(struct if_clone *ifc)
{
	struct kh_ifnet *ki;
	int unit;

	kh_check_sleep("ifc_detach_cloner");
	for (;;) {
		host_mutex_lock(kh_if_mtx);
		LIST_FOREACH(ki, &kh_ifs, link)
			if (ki->cloner == ifc)
				break;
		if (ki == NULL) {
			LIST_REMOVE(ifc, kc_link);
			host_mutex_unlock(kh_if_mtx);
			break;
		}
		ki->cloner = NULL;
		host_mutex_unlock(kh_if_mtx);
		unit = ki->ifn.if_dunit;
		CURVNET_SET_QUIET(ki->ifn.if_vnet);
		(void)ifc->kc_req.destroy_f(ifc, &ki->ifn, IFC_F_FORCE);
		CURVNET_RESTORE();
		kh_unit_free(ifc, unit);
	}
	host_free(ifc);
}

/* ifconfig NAME create, in the current VNET: the name of the new one. */
int
kh_if_create(const char *name, char *out, size_t outlen)
{
	struct ifc_data ifd = { 0 };
	struct if_clone *ifc;
	struct kh_ifnet *ki;
	char prefix[IFNAMSIZ];
	if_t ifp;
	int error, unit;
	size_t n;

	kh_check_sleep("if_clone_create");
	for (n = 0; name[n] != '\0' && (name[n] < '0' || name[n] > '9'); n++)
		;
	if (n == 0 || n >= IFNAMSIZ)
		return (EINVAL);
	memcpy(prefix, name, n);
	prefix[n] = '\0';
	unit = -1;
	if (name[n] != '\0') {
		unit = strtol(name + n, NULL, 10);
		if (unit < 0 || unit >= 256)
			return (EINVAL);
	}
	host_mutex_lock(kh_if_mtx);
	if ((ifc = kh_cloner_find(prefix, curvnet)) == NULL) {
		host_mutex_unlock(kh_if_mtx);
		return (EINVAL);
	}
	if (unit < 0) {
		if ((ifc->kc_req.flags & IFC_F_AUTOUNIT) == 0) {
			host_mutex_unlock(kh_if_mtx);
			return (EINVAL);
		}
		for (unit = 0; unit < 256; unit++)
			if ((ifc->kc_units[unit / 64] &
			    (1ULL << (unit % 64))) == 0)
				break;
		if (unit == 256) {
			host_mutex_unlock(kh_if_mtx);
			return (ENOSPC);
		}
	} else if ((ifc->kc_units[unit / 64] & (1ULL << (unit % 64))) != 0) {
		host_mutex_unlock(kh_if_mtx);
		return (EEXIST);
	}
	ifc->kc_units[unit / 64] |= 1ULL << (unit % 64);
	host_mutex_unlock(kh_if_mtx);

	ifd.unit = unit;
	ifd.vnet = curvnet;
	ifp = NULL;
	error = ifc->kc_req.create_f(ifc, prefix, IFNAMSIZ, &ifd, &ifp);
	if (error != 0) {
		host_mutex_lock(kh_if_mtx);
		kh_unit_free(ifc, unit);
		host_mutex_unlock(kh_if_mtx);
		return (error);
	}
	ki = KH_IF(ifp);
	if (!ki->attached)
		kh_panic("%s: create_f returned an unattached interface",
		    prefix);
	host_mutex_lock(kh_if_mtx);
	ki->cloner = ifc;
	host_mutex_unlock(kh_if_mtx);
	strlcpy(out, ifp->if_xname, outlen);
	return (0);
}

/* ifunit_ref(): an interface of the current VNET, held (kh_if_rele). */
if_t
kh_ifunit(const char *name)
{
	struct kh_ifnet *ki;

	host_mutex_lock(kh_if_mtx);
	ki = kh_ifunit_locked(name, curvnet);
	if (ki != NULL)
		__atomic_add_fetch(&ki->refs, 1, __ATOMIC_ACQ_REL);
	host_mutex_unlock(kh_if_mtx);
	return (ki == NULL ? NULL : &ki->ifn);
}

/* ifconfig NAME destroy: only by the cloner of this VNET that made it. */
int
kh_if_destroy(const char *name)
{
	struct if_clone *ifc;
	struct kh_ifnet *ki;
	int error, unit;

	kh_check_sleep("if_clone_destroy");
	host_mutex_lock(kh_if_mtx);
	ki = kh_ifunit_locked(name, curvnet);
	if (ki == NULL || (ifc = ki->cloner) == NULL ||
	    ifc->kc_vnet != curvnet ||
	    strcmp(ifc->kc_name, ki->ifn.if_dname) != 0) {
		host_mutex_unlock(kh_if_mtx);
		return (ki == NULL ? ENXIO : EINVAL);
	}
	ki->cloner = NULL;
	unit = ki->ifn.if_dunit;
	host_mutex_unlock(kh_if_mtx);
	error = ifc->kc_req.destroy_f(ifc, &ki->ifn, 0);
	host_mutex_lock(kh_if_mtx);
	if (error == 0)
		kh_unit_free(ifc, unit);
	else
		ki->cloner = ifc;
	host_mutex_unlock(kh_if_mtx);
	return (error);
}

/* if_vmove(): reassign, then attach in the other VNET under its name. */
int
kh_if_vmove(if_t ifp, struct vnet *to)
{
	kh_check_sleep("if_vmove");
	host_mutex_lock(kh_if_mtx);
	if (kh_ifunit_locked(ifp->if_xname, to) != NULL) {
		host_mutex_unlock(kh_if_mtx);
		return (EEXIST);
	}
	host_mutex_unlock(kh_if_mtx);
	if (ifp->if_reassign != NULL) {
		CURVNET_SET_QUIET(ifp->if_vnet);
		ifp->if_reassign(ifp, to, NULL);
		CURVNET_RESTORE();
	}
	host_mutex_lock(kh_if_mtx);
	ifp->if_vnet = to;
	host_mutex_unlock(kh_if_mtx);
	return (0);
}

void
kh_if_return_home(struct vnet *vnet)
{
	struct kh_ifnet *ki;

	for (;;) {
		host_mutex_lock(kh_if_mtx);
		LIST_FOREACH(ki, &kh_ifs, link)
			if (ki->ifn.if_vnet == vnet &&
			    ki->ifn.if_home_vnet != vnet)
				break;
		host_mutex_unlock(kh_if_mtx);
		if (ki == NULL)
			break;
		if (kh_if_vmove(&ki->ifn, ki->ifn.if_home_vnet) != 0)
			kh_panic("%s cannot return to its home VNET",
			    ki->ifn.if_xname);
	}
}

void
kh_if_check_vnet_empty(struct vnet *vnet)
{
	struct kh_ifnet *ki;

	host_mutex_lock(kh_if_mtx);
	LIST_FOREACH(ki, &kh_ifs, link)
		if (ki->ifn.if_vnet == vnet)
			kh_panic("VNET %p destroyed with %s still attached",
			    vnet, ki->ifn.if_xname);
	host_mutex_unlock(kh_if_mtx);
}

/* ifconfig NAME up/down and mtu: ifhwioctl() and the driver's ioctl. */
int
kh_if_setup(if_t ifp, int up)
{
	struct ifreq ifr;
	int error;

	kh_check_sleep("ifioctl");
	memset(&ifr, 0, sizeof(ifr));
	strlcpy(ifr.ifr_name, ifp->if_xname, IFNAMSIZ);
	if (up)
		ifp->if_flags |= IFF_UP;
	else
		ifp->if_flags &= ~IFF_UP;
	ifr.ifr_flags = ifp->if_flags;
	CURVNET_SET(ifp->if_vnet);
	error = ifp->if_ioctl(ifp, SIOCSIFFLAGS, (caddr_t)&ifr);
	CURVNET_RESTORE();
	if (KH_IF(ifp)->tunfd >= 0)
		(void)host_tun_set_up(ifp->if_xname, up);
	return (error);
}

int
kh_if_setmtu(if_t ifp, int mtu)
{
	struct ifreq ifr;
	int error;

	kh_check_sleep("ifioctl");
	if (mtu < IF_MINMTU || mtu > IF_MAXMTU)
		return (EINVAL);
	memset(&ifr, 0, sizeof(ifr));
	strlcpy(ifr.ifr_name, ifp->if_xname, IFNAMSIZ);
	ifr.ifr_mtu = mtu;
	CURVNET_SET(ifp->if_vnet);
	error = ifp->if_ioctl(ifp, SIOCSIFMTU, (caddr_t)&ifr);
	CURVNET_RESTORE();
	if (error == 0 && ifp->if_mtu != mtu)
		kh_panic("%s: SIOCSIFMTU succeeded, if_mtu %u", ifp->if_xname,
		    ifp->if_mtu);
	if (error == 0 && KH_IF(ifp)->tunfd >= 0)
		(void)host_tun_set_mtu(ifp->if_xname, mtu);
	return (error);
}

int
kh_if_rename(if_t ifp, const char *newname)
{
	struct kh_ifnet *ki = KH_IF(ifp);
	char old[IFNAMSIZ];

	kh_check_sleep("if_rename");
	if (newname[0] == '\0' || strlen(newname) >= IFNAMSIZ)
		return (EINVAL);
	host_mutex_lock(kh_if_mtx);
	if (kh_ifunit_locked(newname, ifp->if_vnet) != NULL) {
		host_mutex_unlock(kh_if_mtx);
		return (EEXIST);
	}
	strlcpy(old, ifp->if_xname, sizeof(old));
	strlcpy(ifp->if_xname, newname, IFNAMSIZ);
	host_mutex_unlock(kh_if_mtx);
	if (ki->tunfd >= 0)
		(void)host_tun_rename(ki->tunfd, old, newname);
	return (0);
}

/* The names of the wg group (the cloner's interfaces) in this VNET. */
size_t
kh_if_list(const char *group, char *buf, size_t len)
{
	struct kh_ifnet *ki;
	size_t n = 0, l;

	host_mutex_lock(kh_if_mtx);
	LIST_FOREACH(ki, &kh_ifs, link) {
		if (ki->ifn.if_vnet != curvnet ||
		    strcmp(ki->ifn.if_dname, group) != 0)
			continue;
		l = strlen(ki->ifn.if_xname) + 1;
		if (n + l <= len)
			memcpy(buf + n, ki->ifn.if_xname, l);
		n += l;
	}
	host_mutex_unlock(kh_if_mtx);
	return (n);
}

int
kh_if_last_fib(if_t ifp)
{

	return (__atomic_load_n(&KH_IF(ifp)->last_fib, __ATOMIC_RELAXED));
}

uint64_t
kh_if_taps(if_t ifp)
{

	return (__atomic_load_n(&KH_IF(ifp)->bpf_taps, __ATOMIC_RELAXED));
}

int
kh_if_count(void)
{
	struct kh_ifnet *ki;
	int n = 0;

	host_mutex_lock(kh_if_mtx);
	LIST_FOREACH(ki, &kh_ifs, link)
		n++;
	host_mutex_unlock(kh_if_mtx);
	return (n);
}

/*
 * `ip link set NAME up|mtu N` on the TUN device is `ifconfig NAME up|mtu
 * N`, and `ip link del NAME` is `ifconfig NAME destroy`: the door's loop
 * mirrors the Linux side into the interface, so that scripts written for
 * wireguard-go drive the module unchanged.  Returns how many interfaces
 * it destroyed.
 */
int
kh_if_sync_tun(struct vnet *vnet)
{
	int gone = 0;
	struct kh_ifnet *ki;
	char names[32][IFNAMSIZ];
	int i, n = 0, up, mtu;
	if_t ifp;

	host_mutex_lock(kh_if_mtx);
	LIST_FOREACH(ki, &kh_ifs, link)
		if (ki->ifn.if_vnet == vnet && ki->tunfd >= 0 && n < 32)
			strlcpy(names[n++], ki->ifn.if_xname, IFNAMSIZ);
	host_mutex_unlock(kh_if_mtx);
	for (i = 0; i < n; i++) {
		if ((ifp = kh_ifunit(names[i])) == NULL)
			continue;
		if (host_tun_get(names[i], &up, &mtu) == -ENODEV) {
			kh_if_rele(ifp);
			if (kh_if_destroy(names[i]) == 0)
				gone++;
			continue;
		}
		if (host_tun_get(names[i], &up, &mtu) == 0) {
			if (up != ((ifp->if_flags & IFF_UP) != 0))
				(void)kh_if_setup(ifp, up);
			if (mtu != (int)ifp->if_mtu &&
			    kh_if_setmtu(ifp, mtu) != 0)
				(void)host_tun_set_mtu(names[i], ifp->if_mtu);
		}
		kh_if_rele(ifp);
	}
	return (gone);
}
