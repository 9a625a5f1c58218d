/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * In-process tests of the module through the model (kharness test NAME):
 * the lifecycle of interfaces, VNETs and the module itself, hostile
 * ioctls, and all of it concurrently with traffic, with or without
 * M_NOWAIT failures.  Interfaces talk to each other over loopback UDP
 * sockets; the stack side is simulated (packets handed to if_output as
 * ip_output would), so no TUN device is needed.  After every destroy the
 * module's memory (M_WG) must be back where it was, and mbufs and sockets
 * at zero; kldunload's malloc_uninit(M_WG) checks the rest.
 *
 * The SIOCSWG nvlists are packed here by a small libnv packer (only what
 * these tests send; the product's codec is the core's).
 */
#include "kh.h"

#include <sys/jail.h>
#include <sys/mbuf.h>
#include <sys/socket.h>
#include <sys/sockio.h>
#include <net/if.h>
#include <net/if_var.h>
#include <net/if_private.h>
#include <net/route.h>
#include <net/vnet.h>
#include <netinet/in.h>
#include <netinet/in_systm.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/icmp6.h>

#include "../ctl.h"
#include "if_wg_ioctl.h"
#include "testlib.h"

int	kh_test_main(const char *name);
int	kh_test_defect(const char *name);
int	kh_check_clean(const char *when);

extern struct malloc_type M_WG[1];

/* Tests of the defects fixed in the shim (t_defects.c), when linked. */
__weak_symbol int
kh_test_defect(const char *name)
{

	kh_log("unknown test defect-%s", name);
	return (2);
}

static int kh_failures;
extern volatile int kh_so_fail_opt;	/* uipc_socket.c */

#define	CHECK(cond, ...) do {						\
	if (!(cond)) {							\
		kh_log("FAIL %s:%d: %s", __FILE__, __LINE__, #cond);	\
		kh_log(__VA_ARGS__);					\
		kh_failures++;						\
	}								\
} while (0)

/* A device: its key, port, and at most one peer. */
struct tdev {
	char		name[IFNAMSIZ];
	uint8_t		priv[32];
	uint8_t		pub[32];
	uint16_t	port;
};

/*
 * SIOCSWG.  The core allocates under its locks only with M_NOWAIT, so
 * with faults injected a request may fail with ENOMEM, changing nothing:
 * then it is asked again, as an administrator would.
 */
static int t_enomem;

static int
t_set(const char *name, struct nvb *b)
{
	size_t size;
	int error, tries;

	nvb_finish(b);
	for (tries = 0; tries < 200; tries++) {
		size = b->len;
		error = t_ioctl(KH_CTL_SIOCSWG, name, b->buf, b->len, &size, 0);
		if (error != ENOMEM)
			break;
		if (kh_trace_udp)
			kh_log("SIOCSWG %s: ENOMEM", name);
		__atomic_add_fetch(&t_enomem, 1, __ATOMIC_RELAXED);
	}
	return (error);
}

/* Creates a device with a fresh key on port 0, up; learns its port. */
static int
t_dev_create(struct tdev *d)
{
	struct nvb b = { .len = 0 };
	uint8_t *g;
	size_t glen;
	int64_t port;
	if_t ifp;
	int error;

	if ((error = kh_if_create("wg", d->name, sizeof(d->name))) != 0)
		return (error);
	arc4random_buf(d->priv, sizeof(d->priv));
	nvb_header(&b);
	nvb_binary(&b, "private-key", d->priv, 32);
	if ((error = t_set(d->name, &b)) != 0)
		return (error);
	if ((ifp = kh_ifunit(d->name)) == NULL)
		return (ENXIO);
	error = kh_if_setup(ifp, 1);
	kh_if_rele(ifp);
	if (error != 0)
		return (error);
	if ((error = t_get(d->name, &g, &glen, 0)) != 0)
		return (error);
	error = nv_find32(g, glen, "public-key", d->pub);
	port = nv_find_number(g, glen, "listen-port");
	d->port = port > 0 && port <= UINT16_MAX ? port : 0;
	host_free(g);
	if (port == 0)
		return (EADDRNOTAVAIL);
	return (error);
}

/* a's peer is b, at 127.0.0.1:b->port, allowed 10.0.0.N/32. */
static int
t_peer(struct tdev *a, struct tdev *b, int bn, int keepalive)
{
	struct nvb v = { .len = 0 };
	struct sockaddr_in sin;
	uint8_t ip[4] = { 10, 0, 0, bn };

	memset(&sin, 0, sizeof(sin));
	sin.sin_len = sizeof(sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons(b->port);
	sin.sin_addr.s_addr = htonl(0x7f000001);
	nvb_header(&v);
	nvb_pair(&v, 11, "peers", 0, 1);
	nvb_header(&v);
	nvb_binary(&v, "public-key", b->pub, 32);
	nvb_binary(&v, "endpoint", &sin, sizeof(sin));
	if (keepalive)
		nvb_number(&v, "persistent-keepalive-interval", keepalive);
	nvb_bool(&v, "replace-allowedips", 1);
	nvb_pair(&v, 11, "allowed-ips", 0, 1);
	nvb_header(&v);
	nvb_number(&v, "cidr", 32);
	nvb_binary(&v, "ipv4", ip, 4);
	nvb_next(&v);
	nvb_next(&v);
	return (t_set(a->name, &v));
}

/* What ip_output or ip6_output hands the interface: pkt, len bytes. */
static int
t_output(const char *name, const uint8_t *pkt, int len)
{
	struct epoch_tracker et;
	struct sockaddr sa;
	struct mbuf *m;
	if_t ifp;
	int error;

	if ((ifp = kh_ifunit(name)) == NULL)
		return (ENXIO);
	if ((m = m_get2(len + max_linkhdr, M_NOWAIT, MT_DATA, M_PKTHDR)) ==
	    NULL) {
		kh_if_rele(ifp);
		return (ENOBUFS);
	}
	m->m_data += max_linkhdr;
	m->m_len = m->m_pkthdr.len = len;
	memcpy(mtod(m, uint8_t *), pkt, len);
	memset(&sa, 0, sizeof(sa));
	sa.sa_len = sizeof(sa);
	sa.sa_family = pkt[0] >> 4 == 6 ? AF_INET6 : AF_INET;
	NET_EPOCH_ENTER(et);
	{ CURVNET_SET(ifp->if_vnet);
	error = ifp->if_output(ifp, m, &sa, NULL);
	CURVNET_RESTORE(); }
	NET_EPOCH_EXIT(et);
	kh_if_rele(ifp);
	return (error);
}

/* What ip_output does: an IPv4 packet from 10.0.0.src to 10.0.0.dst. */
static int
t_send(const char *name, int src, int dst, int len)
{
	uint8_t *p;
	int error;

	if ((p = host_alloc(len)) == NULL)
		return (ENOBUFS);
	memset(p, 0xab, len);
	p[0] = 0x45;
	p[2] = len >> 8;
	p[3] = len & 0xff;
	p[8] = 64;
	p[9] = 17;
	p[12] = 10, p[13] = 0, p[14] = 0, p[15] = src;
	p[16] = 10, p[17] = 0, p[18] = 0, p[19] = dst;
	error = t_output(name, p, len);
	host_free(p);
	return (error);
}

static uint64_t
t_ipackets(const char *name)
{
	uint64_t n;
	if_t ifp;

	if ((ifp = kh_ifunit(name)) == NULL)
		return (0);
	n = kh_if_counter(ifp, IFCOUNTER_IPACKETS);
	kh_if_rele(ifp);
	return (n);
}

/* Waits up to ms for name to have received at least n packets. */
static int
t_wait_rx(const char *name, uint64_t n, int ms)
{

	while (t_ipackets(name) < n && ms > 0) {
		host_sleep_ns(10000000ULL);
		ms -= 10;
	}
	return (t_ipackets(name) >= n);
}

/* What an administrator would look at when traffic stops: counters, wg show. */
static void
t_diag(const char *name)
{
	uint8_t *g;
	size_t glen, i;
	if_t ifp;
	int n;

	if ((ifp = kh_ifunit(name)) == NULL) {
		kh_log("%s: gone", name);
		return;
	}
	kh_log("%s: ipackets %ju opackets %ju oerrors %ju ierrors %ju "
	    "iqdrops %ju", name,
	    (uintmax_t)kh_if_counter(ifp, IFCOUNTER_IPACKETS),
	    (uintmax_t)kh_if_counter(ifp, IFCOUNTER_OPACKETS),
	    (uintmax_t)kh_if_counter(ifp, IFCOUNTER_OERRORS),
	    (uintmax_t)kh_if_counter(ifp, IFCOUNTER_IERRORS),
	    (uintmax_t)kh_if_counter(ifp, IFCOUNTER_IQDROPS));
	kh_if_rele(ifp);
	/* The run has failed already: let the diagnosis itself through. */
	kh_fault_set(0);
	if (t_get(name, &g, &glen, 0) != 0) {
		kh_log("%s: SIOCGWG failed", name);
		return;
	}
	for (i = 0, n = 0; i + 11 <= glen; i++)
		if (memcmp(g + i, "public-key", 11) == 0)
			n++;
	kh_log("%s: %d public keys; peer rx-bytes %jd tx-bytes %jd", name, n,
	    (intmax_t)nv_find_number(g, glen, "rx-bytes"),
	    (intmax_t)nv_find_number(g, glen, "tx-bytes"));
	host_free(g);
}

/*
 * Traffic recovers: from `from` (10.0.0.src) to 10.0.0.dst, a packet every
 * 50 ms until `to` has received n more.  Packets and handshakes may be
 * dropped when allocations fail, and a later one must get through.  A
 * handshake is retried every REKEY_TIMEOUT (5 s) and takes about ten
 * M_NOWAIT allocations on its way, so at 1% a round fails about one time
 * in ten: 15 s (three rounds) failed about one run of 50 cycles in ten,
 * where 60 s (twelve rounds) would fail once in 10^10.
 */
static int
t_reach(const char *from, int src, const char *to, int dst, int n)
{
	uint64_t want = t_ipackets(to) + n;
	int ms, limit, errors;

	limit = kh_fault_get() != 0 ? 60000 : 15000;
	errors = 0;
	for (ms = 0; ms < limit && t_ipackets(to) < want; ms += 50) {
		if (t_send(from, src, dst, 100 + ms % 1300) != 0)
			errors++;
		host_sleep_ns(50000000ULL);
	}
	if (t_ipackets(to) < want)
		kh_log("%s: %ju packets in, %ju wanted; %d of %d sends failed",
		    to, (uintmax_t)t_ipackets(to), (uintmax_t)want, errors,
		    ms / 50);
	return (t_ipackets(to) >= want);
}

static void
t_boot(void)
{

	kh_boot();
	kh_socket_init_model();
	kh_kldload();
}

static int
t_unload(void)
{

	kh_kldunload();
	if (kh_check_clean("kldunload") != 0)
		kh_failures++;
	kh_callout_fini_model();
	return (kh_failures != 0);
}

/* Two devices talking; destroyed; memory back to where it was. */
static int
t_pair_cycle(int i, long base)
{
	struct tdev a, b;
	u_long faults;
	int error, n;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	error = t_dev_create(&a);
	CHECK(error == 0, "create a: %d", error);
	error = t_dev_create(&b);
	CHECK(error == 0, "create b: %d", error);
	if (kh_failures)
		return (1);
	CHECK((error = t_peer(&a, &b, 2, 0)) == 0, "peer a->b: %d", error);
	CHECK((error = t_peer(&b, &a, 1, 0)) == 0, "peer b->a: %d", error);
	/*
	 * The first packets are staged, the handshake flushes them; all
	 * three arrive unless an allocation failed meanwhile (read after
	 * the wait: a fault may hit while it lasts).
	 */
	faults = kh_faults_injected;
	for (n = 0; n < 3; n++)
		(void)t_send(a.name, 1, 2, 100 + 300 * n);
	CHECK(t_wait_rx(b.name, 3, 5000) || kh_faults_injected != faults,
	    "cycle %d: b received %ju of 3", i, (uintmax_t)t_ipackets(b.name));
	CHECK(t_reach(a.name, 1, b.name, 2, 1), "cycle %d: a cannot reach b",
	    i);
	CHECK(t_reach(b.name, 2, a.name, 1, 1), "cycle %d: b cannot reach a",
	    i);
	if (kh_failures) {
		t_diag(a.name);
		t_diag(b.name);
	}
	/* Data in flight while the interfaces go. */
	for (n = 0; n < 20; n++)
		(void)t_send(a.name, 1, 2, 500);
	CHECK(kh_if_destroy(b.name) == 0, "destroy b");
	for (n = 0; n < 20; n++)
		(void)t_send(a.name, 1, 2, 500);
	CHECK(kh_if_destroy(a.name) == 0, "destroy a");
	CHECK(kh_malloc_outstanding(M_WG) == base,
	    "cycle %d: M_WG %ld allocations after destroy, %ld before", i,
	    kh_malloc_outstanding(M_WG), base);
	CHECK(kh_mbuf_outstanding() == 0, "cycle %d: %ld mbufs left", i,
	    kh_mbuf_outstanding());
	CHECK(kh_socket_count() == 0, "cycle %d: %ld sockets left", i,
	    kh_socket_count());
	return (kh_failures != 0);
}

static int
t_lifecycle(int loops)
{
	long base;
	int i;

	t_boot();
	{ CURVNET_SET(vnet0);
	base = kh_malloc_outstanding(M_WG);
	for (i = 0; i < loops && kh_failures == 0; i++)
		(void)t_pair_cycle(i, base);
	CURVNET_RESTORE(); }
	kh_log("lifecycle: %d create/handshake/data/destroy cycles (%lu "
	    "M_NOWAIT failures injected, %d SIOCSWG answered ENOMEM)", i,
	    kh_faults_injected, t_enomem);
	return (t_unload());
}

/* VNETs: same names in several, moves, jails removed, unload with all. */
static int
t_vnets(int loops)
{
	struct prison *j1, *j2;
	struct tdev d0, d1, e1;
	char n[IFNAMSIZ];
	if_t ifp;
	int i;

	t_boot();
	for (i = 0; i < loops && kh_failures == 0; i++) {
		j1 = kh_jail_create("j1");
		j2 = kh_jail_create("j2");
		memset(&d0, 0, sizeof(d0));
		memset(&d1, 0, sizeof(d1));
		memset(&e1, 0, sizeof(e1));
		{ CURVNET_SET(vnet0);
		CHECK(t_dev_create(&d0) == 0, "vnet0 create");
		CURVNET_RESTORE(); }
		/* A thread of jail 1 creates its own: its credential. */
		kh_curthread()->td.td_ucred = kh_jail_cred(j1);
		{ CURVNET_SET(j1->pr_vnet);
		CHECK(t_dev_create(&d1) == 0, "j1 create");
		CHECK(strcmp(d0.name, d1.name) == 0,
		    "unit numbers per VNET: %s and %s", d0.name, d1.name);
		CHECK(t_dev_create(&e1) == 0, "j1 create 2");
		CHECK(t_peer(&d1, &e1, 2, 0) == 0, "j1 peer");
		CHECK(t_peer(&e1, &d1, 1, 0) == 0, "j1 peer back");
		CHECK(t_reach(d1.name, 1, e1.name, 2, 1), "j1 traffic");
		CURVNET_RESTORE(); }
		kh_curthread()->td.td_ucred = kh_cred_default();
		/* wg0 of vnet0 into jail 2 (ifconfig wg0 vnet j2), and back. */
		{ CURVNET_SET(vnet0);
		ifp = kh_ifunit(d0.name);
		CHECK(ifp != NULL, "vnet0 %s", d0.name);
		CHECK(kh_if_vmove(ifp, j2->pr_vnet) == 0, "vmove to j2");
		CURVNET_RESTORE(); }
		{ CURVNET_SET(j2->pr_vnet);
		CHECK(kh_if_setup(ifp, 1) == 0, "up in j2");
		CHECK(kh_if_vmove(ifp, vnet0) == 0, "vmove back");
		CURVNET_RESTORE(); }
		/* Again into j2, and j2 goes with it inside: it comes home. */
		CHECK(kh_if_vmove(ifp, j2->pr_vnet) == 0, "vmove to j2 again");
		kh_if_rele(ifp);
		kh_jail_remove(j2);
		{ CURVNET_SET(vnet0);
		ifp = kh_ifunit(d0.name);
		CHECK(ifp != NULL, "%s home after j2 died", d0.name);
		if (ifp != NULL)
			kh_if_rele(ifp);
		CURVNET_RESTORE(); }
		/* Jail 1 dies with its two interfaces (and their sockets). */
		kh_jail_remove(j1);
		/* vnet0's goes by destroy, or by kldunload at the last loop. */
		if (i + 1 < loops) {
			{ CURVNET_SET(vnet0);
			strlcpy(n, d0.name, sizeof(n));
			CHECK(kh_if_destroy(n) == 0, "destroy %s", n);
			CURVNET_RESTORE(); }
		}
	}
	kh_log("vnets: %d rounds of VNETs, moves and jail removals (%lu "
	    "M_NOWAIT failures injected)", i, kh_faults_injected);
	return (t_unload());
}

/* Hostile SIOCSWG/SIOCGWG through copyin/copyout. */
static int
t_ioctls(int loops)
{
	struct tdev d;
	struct nvb b = { .len = 0 };
	uint8_t *g, buf[512];
	size_t len, size;
	uint64_t x;
	int error, i, j;

	t_boot();
	{ CURVNET_SET(vnet0);
	memset(&d, 0, sizeof(d));
	CHECK(t_dev_create(&d) == 0, "create");
	/* No buffer, zero size, huge size, nonexistent interface. */
	size = 0;
	CHECK(t_ioctl(KH_CTL_SIOCSWG, d.name, NULL, 0, &size,
	    KH_CTL_F_NULLDATA) == EFAULT, "SIOCSWG NULL");
	size = 1ULL << 40;
	CHECK(t_ioctl(KH_CTL_SIOCSWG, d.name, buf, 16, &size, 0) == E2BIG,
	    "SIOCSWG 2^40");
	size = 100;
	CHECK(t_ioctl(KH_CTL_SIOCSWG, d.name, buf, 16, &size, 0) == EFAULT,
	    "SIOCSWG size beyond the buffer");
	size = 0;
	CHECK(t_ioctl(KH_CTL_SIOCGWG, "wg77", NULL, 0, &size, 0) == ENXIO,
	    "no such interface");
	/* Unprivileged: no set, no keys. */
	nvb_header(&b);
	nvb_number(&b, "listen-port", 1);
	nvb_finish(&b);
	size = b.len;
	CHECK(t_ioctl(KH_CTL_SIOCSWG, d.name, b.buf, b.len, &size,
	    KH_CTL_F_UNPRIV) == EPERM, "unprivileged SIOCSWG");
	CHECK(t_get(d.name, &g, &len, KH_CTL_F_UNPRIV) == 0, "get unpriv");
	CHECK(nv_find32(g, len, "private-key", buf) == ENOENT,
	    "unprivileged SIOCGWG shows the private key");
	host_free(g);
	CHECK(t_get(d.name, &g, &len, 0) == 0, "get");
	CHECK(nv_find32(g, len, "private-key", buf) == 0 &&
	    memcmp(buf, d.priv, 32) == 0, "privileged SIOCGWG: private key");
	/* A buffer one byte short: ENOSPC. */
	size = len - 1;
	CHECK(t_ioctl(KH_CTL_SIOCGWG, d.name, g, len - 1, &size, 0) == ENOSPC,
	    "SIOCGWG short buffer");
	host_free(g);
	/* Garbage, truncations and bit flips of a valid request. */
	memset(&b, 0, sizeof(b));
	nvb_header(&b);
	nvb_number(&b, "listen-port", d.port);
	nvb_number(&b, "persistent-keepalive-interval", 25);
	nvb_finish(&b);
	for (i = 0; i < loops; i++) {
		memcpy(buf, b.buf, b.len);
		len = b.len;
		arc4random_buf(&x, sizeof(x));
		switch (i % 3) {
		case 0:
			len = x % b.len + 1;
			break;
		case 1:
			for (j = 0; j < 1 + (int)(x % 4); j++)
				buf[(x >> (8 * j + 8)) % b.len] ^= 1 << (x % 8);
			break;
		default:
			arc4random_buf(buf, sizeof(buf));
			len = x % sizeof(buf) + 1;
		}
		size = len;
		error = t_ioctl(KH_CTL_SIOCSWG, d.name, buf, len, &size, 0);
		CHECK(error == 0 || error == EINVAL || error == EBADMSG ||
		    error == E2BIG || error == EADDRINUSE || error == ENOSPC,
		    "hostile SIOCSWG %d: error %d", i, error);
		if (kh_failures)
			break;
	}
	/* Still configured, still answering. */
	CHECK(t_get(d.name, &g, &len, 0) == 0, "get after the garbage");
	CHECK(nv_find32(g, len, "private-key", buf) == 0 &&
	    memcmp(buf, d.priv, 32) == 0, "the private key survived");
	host_free(g);
	CURVNET_RESTORE(); }
	kh_log("ioctls: %d hostile SIOCSWG requests", loops);
	return (t_unload());
}

/* Configuration and destroy from other threads while traffic flows. */
struct t_race {
	struct tdev	*a, *b;
	volatile int	 stop;
	int		 sent, sets, gets;
};

static void
t_race_traffic(void *arg)
{
	struct t_race *r = arg;

	{ CURVNET_SET(vnet0);
	int n;

	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		n = __atomic_add_fetch(&r->sent, 1, __ATOMIC_RELAXED);
		if (t_send(r->a->name, 1, 2, 200 + n % 1200) == ENXIO)
			break;
		if (n % 64 == 0)
			host_sleep_ns(1000000);
	}
	CURVNET_RESTORE(); }
}

static void
t_race_config(void *arg)
{
	struct t_race *r = arg;
	uint8_t *g;
	size_t len;

	{ CURVNET_SET(vnet0);
	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		/* Peers re-set (allowed IPs replaced) and read back. */
		if (t_peer(r->b, r->a, 1, r->sets % 3) == ENXIO)
			break;
		r->sets++;
		if (t_get(r->b->name, &g, &len, r->gets % 2 ?
		    KH_CTL_F_UNPRIV : 0) == 0)
			host_free(g);
		r->gets++;
	}
	CURVNET_RESTORE(); }
}

static int
t_race(int loops)
{
	struct t_race r;
	struct tdev a, b;
	host_thread_t *t1, *t2, *t3;
	long base;
	int i;

	t_boot();
	{ CURVNET_SET(vnet0);
	base = kh_malloc_outstanding(M_WG);
	for (i = 0; i < loops && kh_failures == 0; i++) {
		memset(&a, 0, sizeof(a));
		memset(&b, 0, sizeof(b));
		memset(&r, 0, sizeof(r));
		CHECK(t_dev_create(&a) == 0 && t_dev_create(&b) == 0,
		    "create");
		if (kh_failures)
			break;
		CHECK(t_peer(&a, &b, 2, 1) == 0, "peer a");
		CHECK(t_peer(&b, &a, 1, 0) == 0, "peer b");
		r.a = &a;
		r.b = &b;
		t1 = kh_thread_start("traffic", 0, t_race_traffic, &r);
		t2 = kh_thread_start("traffic2", 1, t_race_traffic, &r);
		t3 = kh_thread_start("config", 1, t_race_config, &r);
		host_sleep_ns(150000000ULL);
		/* Down and up under traffic, then destroy under it. */
		{
			if_t ifp = kh_ifunit(a.name);
			(void)kh_if_setup(ifp, 0);
			(void)kh_if_setup(ifp, 1);
			kh_if_rele(ifp);
		}
		host_sleep_ns(50000000ULL);
		CHECK(kh_if_destroy(i % 2 ? a.name : b.name) == 0, "destroy 1");
		host_sleep_ns(20000000ULL);
		CHECK(kh_if_destroy(i % 2 ? b.name : a.name) == 0, "destroy 2");
		__atomic_store_n(&r.stop, 1, __ATOMIC_RELAXED);
		host_thread_join(t1);
		host_thread_join(t2);
		host_thread_join(t3);
		CHECK(kh_malloc_outstanding(M_WG) == base,
		    "race %d: M_WG %ld after destroy, %ld before", i,
		    kh_malloc_outstanding(M_WG), base);
		CHECK(kh_mbuf_outstanding() == 0, "race %d: %ld mbufs", i,
		    kh_mbuf_outstanding());
	}
	CURVNET_RESTORE(); }
	kh_log("race: %d rounds of traffic, reconfiguration, down/up and "
	    "destroy from other threads (%lu M_NOWAIT failures injected)", i,
	    kh_faults_injected);
	return (t_unload());
}

/* kldunload with interfaces alive in several VNETs and traffic on them. */
static int
t_unload_busy(void)
{
	struct prison *j;
	struct tdev a, b, c;
	int n;

	t_boot();
	j = kh_jail_create("j");
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	{ CURVNET_SET(vnet0);
	CHECK(t_dev_create(&a) == 0 && t_dev_create(&b) == 0, "create");
	CHECK(t_peer(&a, &b, 2, 1) == 0 && t_peer(&b, &a, 1, 1) == 0, "peer");
	for (n = 0; n < 50; n++)
		(void)t_send(a.name, 1, 2, 1000);
	CURVNET_RESTORE(); }
	{ CURVNET_SET(j->pr_vnet);
	CHECK(t_dev_create(&c) == 0, "create in the jail");
	CURVNET_RESTORE(); }
	kh_kldunload();
	kh_jail_remove(j);
	if (kh_check_clean("kldunload") != 0)
		kh_failures++;
	kh_callout_fini_model();
	kh_log("unload-busy: unloaded with 3 interfaces in 2 VNETs");
	return (kh_failures != 0);
}

/* A jail created on another thread while the module unloads. */
struct t_late {
	struct prison	*pr;
};

static void
t_late_jail(void *arg)
{
	struct t_late *l = arg;

	host_sleep_ns((arc4random() % 2000) * 1000ULL);
	l->pr = kh_jail_create("late");
}

static int
t_reload(int loops)
{
	struct t_late late;
	struct prison *j;
	struct tdev a, b;
	host_thread_t *t;
	int i;

	kh_boot();
	kh_socket_init_model();
	for (i = 0; i < loops && kh_failures == 0; i++) {
		kh_kldload();
		j = kh_jail_create("j");
		memset(&a, 0, sizeof(a));
		memset(&b, 0, sizeof(b));
		{ CURVNET_SET(vnet0);
		CHECK(t_dev_create(&a) == 0, "create in vnet0");
		CURVNET_RESTORE(); }
		{ CURVNET_SET(j->pr_vnet);
		CHECK(t_dev_create(&b) == 0, "create in the jail");
		CURVNET_RESTORE(); }
		late.pr = NULL;
		t = kh_thread_start("jail -c", 1, t_late_jail, &late);
		kh_kldunload();
		host_thread_join(t);
		kh_jail_remove(late.pr);
		kh_jail_remove(j);
		CHECK(kh_if_count() == 0, "reload %d: %d interfaces left", i,
		    kh_if_count());
		CHECK(kh_mbuf_outstanding() == 0, "reload %d: mbufs", i);
		CHECK(kh_socket_count() == 0, "reload %d: sockets", i);
	}
	kh_callout_fini_model();
	kh_log("reload: %d kldload/kldunload rounds, a jail created during "
	    "each unload", i);
	return (kh_failures != 0);
}

/* b's listen port changes under a's traffic; a follows b as it roams. */
static int
t_port_change(int loops)
{
	struct nvb v;
	struct tdev a, b;
	size_t size;
	int i, n, error;

	t_boot();
	{ CURVNET_SET(vnet0);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	CHECK(t_dev_create(&a) == 0 && t_dev_create(&b) == 0, "create");
	CHECK(t_peer(&a, &b, 2, 0) == 0 && t_peer(&b, &a, 1, 1) == 0, "peer");
	CHECK(t_reach(a.name, 1, b.name, 2, 1), "a reaches b");
	for (i = 0; i < loops && kh_failures == 0; i++) {
		memset(&v, 0, sizeof(v));
		nvb_header(&v);
		nvb_number(&v, "listen-port", 20000 + arc4random() % 20000);
		nvb_finish(&v);
		size = v.len;
		for (n = 0; n < 10; n++)
			(void)t_send(a.name, 1, 2, 300);
		error = t_ioctl(KH_CTL_SIOCSWG, b.name, v.buf, v.len, &size, 0);
		CHECK(error == 0 || error == EADDRINUSE,
		    "listen-port change: %d", error);
		/* b's keepalive, from its new port, moves a's endpoint. */
		CHECK(t_reach(b.name, 2, a.name, 1, 1), "round %d: b reaches a",
		    i);
		CHECK(t_reach(a.name, 1, b.name, 2, 1), "round %d: a reaches b "
		    "at its new port", i);
	}
	CURVNET_RESTORE(); }
	kh_log("port-change: %d listen-port changes under traffic", i);
	return (t_unload());
}

/* SIOCGTUNFIB/SIOCSTUNFIB as ifioctl() passes them: *fib in and out. */
static int
t_fib(const char *name, u_long cmd, u_int *fib, int unpriv)
{
	struct ifreq ifr;
	if_t ifp;
	int error;

	if ((ifp = kh_ifunit(name)) == NULL)
		return (ENXIO);
	memset(&ifr, 0, sizeof(ifr));
	strlcpy(ifr.ifr_name, name, IFNAMSIZ);
	ifr.ifr_fib = *fib;
	kh_curthread()->unprivileged = unpriv;
	CURVNET_SET(ifp->if_vnet);
	error = ifp->if_ioctl(ifp, cmd, (caddr_t)&ifr);
	CURVNET_RESTORE();
	kh_curthread()->unprivileged = 0;
	*fib = ifr.ifr_fib;
	kh_if_rele(ifp);
	return (error);
}

/*
 * ifconfig wgN tunnelfib: the FIB of the tunnel's sockets, the creating
 * process's at first; kept across rebinding and down/up whatever the FIB
 * of the thread that does them; checked; decapsulated packets keep the
 * interface's own FIB.
 */
static int
t_tunnelfib(int loops)
{
	struct nvb v;
	struct tdev a, b;
	size_t size;
	u_int fib;
	if_t ifp;
	int i, port;

	t_boot();
	{ CURVNET_SET(vnet0);
	V_rt_numfibs = 4;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	curthread->td_proc->p_fibnum = 3;	/* setfib 3 ifconfig wg create */
	CHECK(t_dev_create(&a) == 0, "create");
	curthread->td_proc->p_fibnum = 0;
	fib = 99;
	CHECK(t_fib(a.name, SIOCGTUNFIB, &fib, 0) == 0 && fib == 3,
	    "tunnelfib of an interface created in FIB 3: %u", fib);
	CHECK(kh_so_fib_count(3, 0) == 2, "sockets in FIB 3: %ld",
	    kh_so_fib_count(3, 0));
	fib = 4;
	CHECK(t_fib(a.name, SIOCSTUNFIB, &fib, 0) == EINVAL, "FIB 4 of 4");
	fib = 1;
	CHECK(t_fib(a.name, SIOCSTUNFIB, &fib, 1) == EPERM, "unprivileged");
	kh_so_fail_opt = SO_SETFIB;
	CHECK(t_fib(a.name, SIOCSTUNFIB, &fib, 0) == ENOBUFS, "sosetopt fails");
	kh_so_fail_opt = 0;
	CHECK(kh_so_fib_count(3, 0) == 2, "a failed change changed sockets");
	CHECK(t_fib(a.name, SIOCSTUNFIB, &fib, 0) == 0, "tunnelfib 1");
	fib = 99;
	CHECK(t_fib(a.name, SIOCGTUNFIB, &fib, 0) == 0 && fib == 1,
	    "tunnelfib reads %u", fib);
	CHECK(kh_so_fib_count(1, 0) == 2 && kh_so_fib_count(3, 0) == 0,
	    "sockets moved to FIB 1");
	/* Rebound and brought up again by a thread in FIB 2. */
	curthread->td_proc->p_fibnum = 2;
	for (i = 0; i < loops; i++) {
		memset(&v, 0, sizeof(v));
		nvb_header(&v);
		port = 20000 + arc4random() % 20000;
		nvb_number(&v, "listen-port", port);
		nvb_finish(&v);
		size = v.len;
		if (t_ioctl(KH_CTL_SIOCSWG, a.name, v.buf, v.len, &size, 0) == 0)
			a.port = port;
		if ((ifp = kh_ifunit(a.name)) != NULL) {
			CHECK(kh_if_setup(ifp, 0) == 0 && kh_if_setup(ifp, 1) ==
			    0, "down, up");
			kh_if_rele(ifp);
		}
		CHECK(kh_so_fib_count(1, 0) == 2 && kh_so_fib_count(2, 0) == 0,
		    "round %d: sockets left FIB 1", i);
	}
	curthread->td_proc->p_fibnum = 0;
	/* Traffic: b's tunnel in FIB 1, its interface in FIB 2. */
	CHECK(t_dev_create(&b) == 0, "create b");
	fib = 1;
	CHECK(t_fib(b.name, SIOCSTUNFIB, &fib, 0) == 0, "b tunnelfib 1");
	CHECK(t_peer(&a, &b, 2, 0) == 0 && t_peer(&b, &a, 1, 0) == 0, "peer");
	if ((ifp = kh_ifunit(b.name)) != NULL) {
		ifp->if_fib = 2;		/* ifconfig wgN fib 2 */
		CHECK(t_reach(a.name, 1, b.name, 2, 3), "a reaches b");
		CHECK(kh_if_last_fib(ifp) == 2, "decapsulated into FIB %d",
		    kh_if_last_fib(ifp));
		kh_if_rele(ifp);
	}
	CURVNET_RESTORE(); }
	kh_log("tunnelfib: %d rebinds and down/up in FIB 1", loops);
	return (t_unload());
}

/* An IPv4 packet from 127.0.0.1 to 10.0.0.dst: proto, first byte, off. */
static int
t_output4(const char *name, int dst, int proto, int b0, int off)
{
	uint8_t p[48];

	memset(p, 0, sizeof(p));
	p[0] = 0x45;
	p[3] = sizeof(p);
	p[6] = off >> 8, p[7] = off & 0xff;
	p[8] = 64;
	p[9] = proto;
	p[12] = 127, p[15] = 1;
	p[16] = 10, p[19] = dst;
	p[20] = b0;
	return (t_output(name, p, sizeof(p)));
}

/* Waits up to 2 s for *counter to reach n. */
static int
t_wait_count(volatile u_long *counter, u_long n)
{
	int ms;

	for (ms = 0; ms < 2000 && *counter < n; ms += 10)
		host_sleep_ns(10000000ULL);
	return (*counter >= n);
}

/*
 * ICMP host/address unreachable: for a packet to no peer (at once, in
 * if_output) and to a peer without an endpoint (from its task); never
 * about an ICMP error or a later fragment; rate-limited by the stack.
 */
static int
t_unreach(int loops)
{
	struct nvb v = { .len = 0 };
	struct tdev a, b;
	uint8_t c[32], p6[48], ip[4] = { 10, 0, 0, 3 };
	uint64_t t0, oerr;
	u_long n;
	if_t ifp;
	int i;

	t_boot();
	{ CURVNET_SET(vnet0);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	CHECK(t_dev_create(&a) == 0 && t_dev_create(&b) == 0, "create");
	CHECK(t_peer(&a, &b, 2, 0) == 0 && t_peer(&b, &a, 1, 0) == 0, "peer");
	/* c: allowed 10.0.0.3, no endpoint. */
	arc4random_buf(c, sizeof(c));
	nvb_header(&v);
	nvb_pair(&v, 11, "peers", 0, 1);
	nvb_header(&v);
	nvb_binary(&v, "public-key", c, 32);
	nvb_pair(&v, 11, "allowed-ips", 0, 1);
	nvb_header(&v);
	nvb_number(&v, "cidr", 32);
	nvb_binary(&v, "ipv4", ip, 4);
	nvb_next(&v);
	nvb_next(&v);
	CHECK(t_set(a.name, &v) == 0, "peer without an endpoint");
	ifp = kh_ifunit(a.name);
	oerr = kh_if_counter(ifp, IFCOUNTER_OERRORS);

	n = kh_icmp_sent;
	CHECK(t_output4(a.name, 9, IPPROTO_UDP, 0, 0) == EHOSTUNREACH,
	    "no peer: EHOSTUNREACH");
	CHECK(kh_icmp_sent == n + 1, "no peer: one ICMP error");
	CHECK(t_output4(a.name, 9, IPPROTO_ICMP, ICMP_UNREACH, 0) ==
	    EHOSTUNREACH && kh_icmp_sent == n + 1, "an error about an error");
	CHECK(t_output4(a.name, 9, IPPROTO_UDP, 0, 185) == EHOSTUNREACH &&
	    kh_icmp_sent == n + 1, "an error about a later fragment");
	CHECK(t_output4(a.name, 9, IPPROTO_ICMP, ICMP_ECHO, 0) ==
	    EHOSTUNREACH && kh_icmp_sent == n + 2, "no error about a ping");
	CHECK(t_output4(a.name, 3, IPPROTO_UDP, 0, 0) == 0, "queued for c");
	CHECK(t_wait_count(&kh_icmp_sent, n + 3), "no endpoint: ICMP error");
	CHECK(t_reach(a.name, 1, b.name, 2, 1) && kh_icmp_sent == n + 3,
	    "an error about a packet that went");
	CHECK(kh_if_counter(ifp, IFCOUNTER_OERRORS) == oerr + 5,
	    "oerrors: %ju", (uintmax_t)(kh_if_counter(ifp,
	    IFCOUNTER_OERRORS) - oerr));

	/* IPv6, ::1 to fd00::9 (no peer). */
	memset(p6, 0, sizeof(p6));
	p6[0] = 0x60;
	p6[5] = sizeof(p6) - 40;
	p6[6] = IPPROTO_UDP;
	p6[7] = 64;
	p6[23] = 1;
	p6[24] = 0xfd, p6[39] = 9;
	n = kh_icmp6_sent;
	CHECK(t_output(a.name, p6, sizeof(p6)) == EHOSTUNREACH &&
	    kh_icmp6_sent == n + 1, "IPv6 no peer: one ICMPv6 error");
	p6[6] = IPPROTO_ICMPV6;
	p6[40] = ICMP6_DST_UNREACH;
	CHECK(t_output(a.name, p6, sizeof(p6)) == EHOSTUNREACH &&
	    kh_icmp6_sent == n + 1, "ICMPv6 error about an error");

	/* A flood gets icmplim (200/s) answers, not one each. */
	n = kh_icmp_sent;
	t0 = host_monotonic_ns();
	for (i = 0; i < loops; i++)
		(void)t_output4(a.name, 9, IPPROTO_UDP, 0, 0);
	CHECK(kh_icmp_sent - n <= 200 * ((host_monotonic_ns() - t0) /
	    1000000000ULL + 2), "%lu errors for %d packets",
	    kh_icmp_sent - n, loops);
	kh_log("unreach: %lu ICMP errors for %d packets to no peer",
	    kh_icmp_sent - n, loops);
	kh_if_rele(ifp);
	CURVNET_RESTORE(); }
	return (t_unload());
}

int
kh_test_main(const char *name)
{
	const char *e;
	int loops;

	if (strncmp(name, "defect-", 7) == 0)
		return (kh_test_defect(name + 7));
	loops = (e = host_getenv("KH_LOOPS")) != NULL ? strtol(e, NULL, 10) :
	    0;
	if (strcmp(name, "lifecycle") == 0)
		return (t_lifecycle(loops > 0 ? loops : 50));
	if (strcmp(name, "vnets") == 0)
		return (t_vnets(loops > 0 ? loops : 10));
	if (strcmp(name, "ioctls") == 0)
		return (t_ioctls(loops > 0 ? loops : 3000));
	if (strcmp(name, "race") == 0)
		return (t_race(loops > 0 ? loops : 10));
	if (strcmp(name, "unload-busy") == 0)
		return (t_unload_busy());
	if (strcmp(name, "reload") == 0)
		return (t_reload(loops > 0 ? loops : 20));
	if (strcmp(name, "port-change") == 0)
		return (t_port_change(loops > 0 ? loops : 10));
	if (strcmp(name, "tunnelfib") == 0)
		return (t_tunnelfib(loops > 0 ? loops : 10));
	if (strcmp(name, "unreach") == 0)
		return (t_unreach(loops > 0 ? loops : 1000));
	kh_log("unknown test %s", name);
	return (2);
}
