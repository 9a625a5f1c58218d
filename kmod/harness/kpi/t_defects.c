/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * In-process tests of the defects of issue 15 fixed in kmod/if_wg.c:
 * kharness test defect-NAME (tests/defects.sh runs them, each in a
 * network namespace of its own with KH_NO_TUN=1 and KH_NCPUS=1, so that
 * the module has one taskqueue: a peer's task stalled in sosend() holds
 * back the handshake task behind it).  Each boots the model, loads the
 * module, drives it through the control door's ioctls and real UDP
 * datagrams on 127.0.0.1, and ends with the leak checks of a clean
 * kldunload.  0: pass, 1: fail, 2: no such test.
 */
#include "kh.h"

#include <sys/mbuf.h>
#include <sys/socket.h>
#include <sys/sockio.h>
#include <net/if.h>
#include <net/if_clone.h>
#include <net/if_var.h>
#include <net/if_private.h>
#include <net/vnet.h>
#include <netinet/in.h>
#include <netinet/ip.h>

#include "../ctl.h"

int	kh_test_defect(const char *name);
int	kh_ctl_exec(const struct kh_ctl_req *req, char *buf, uint64_t *buflen,
	    uint64_t *size);

/* Knobs of the socket model (uipc_socket.c). */
extern volatile uint64_t kh_so_stall_ns;
extern volatile int kh_so_fail_opt;
extern volatile int kh_so_rx_tags;
extern volatile uint32_t kh_so_rx_cookie;
extern struct malloc_type M_WG[1];

#define	T_MS	1000000ULL

static int t_failed;

#define	T_CHECK(cond, ...) do {						\
	if (!(cond)) {							\
		kh_log("FAIL: " __VA_ARGS__);				\
		t_failed = 1;						\
	}								\
} while (0)

/* A packed nvlist, as libnv's nvlist_pack() writes it (little-endian). */
struct nvb {
	uint8_t		buf[8192];
	size_t		len;
	size_t		hdr[64];
	int		nhdr;
};

static void
nvb_put(struct nvb *b, const void *p, size_t n)
{

	if (b->len + n > sizeof(b->buf))
		kh_panic("nvb: too long");
	memcpy(b->buf + b->len, p, n);
	b->len += n;
}

static void
nvb_u64(struct nvb *b, uint64_t v)
{

	nvb_put(b, &v, sizeof(v));
}

/* A list's header; its size is patched by nvb_done. */
static void
nvb_list(struct nvb *b)
{
	uint8_t h[3] = { 0x6c, 0, 0 };

	b->hdr[b->nhdr++] = b->len;
	nvb_put(b, h, sizeof(h));
	nvb_u64(b, 0);
	nvb_u64(b, 0);
}

static void
nvb_pair(struct nvb *b, uint8_t type, const char *name, uint64_t datasize,
    uint64_t nitems)
{
	uint16_t ns = strlen(name) + 1;

	nvb_put(b, &type, 1);
	nvb_put(b, &ns, 2);
	nvb_u64(b, datasize);
	nvb_u64(b, nitems);
	nvb_put(b, name, ns);
}

static void
nvb_bin(struct nvb *b, const char *name, const void *p, size_t n)
{

	nvb_pair(b, 7, name, n, 0);
	nvb_put(b, p, n);
}

static void
nvb_num(struct nvb *b, const char *name, uint64_t v)
{

	nvb_pair(b, 3, name, 8, 0);
	nvb_u64(b, v);
}

static void
nvb_bool(struct nvb *b, const char *name, int v)
{
	uint8_t c = v != 0;

	nvb_pair(b, 2, name, 1, 0);
	nvb_put(b, &c, 1);
}

/* An array of n lists: then n times nvb_list ... nvb_next. */
static void
nvb_array(struct nvb *b, const char *name, int n)
{

	nvb_pair(b, 11, name, 0, n);
}

static void
nvb_next(struct nvb *b)
{

	nvb_pair(b, 254, "", 0, 0);
}

static void
nvb_done(struct nvb *b)
{
	uint64_t size;
	int i;

	/* Each header counts to the end of the whole buffer (libnv). */
	for (i = 0; i < b->nhdr; i++) {
		size = b->len - (b->hdr[i] + 19);
		memcpy(b->buf + b->hdr[i] + 11, &size, sizeof(size));
	}
}

/* One peer: key, endpoint 127.0.0.1:port (0: none), one IPv4 /32. */
static void
nvb_peer(struct nvb *b, const uint8_t key[32], uint16_t port,
    const char ip[4])
{
	struct sockaddr_in sin;

	nvb_list(b);
	nvb_bin(b, "public-key", key, 32);
	if (port != 0) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_len = sizeof(sin);
		sin.sin_family = AF_INET;
		sin.sin_port = htons(port);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		nvb_bin(b, "endpoint", &sin, sizeof(sin));
	}
	nvb_array(b, "allowed-ips", 1);
	nvb_list(b);
	nvb_bin(b, "ipv4", ip, 4);
	nvb_num(b, "cidr", 32);
	nvb_next(b);
	nvb_next(b);
}

/* ioctl(SIOCSWG) / ioctl(SIOCGWG) through the door's code. */
static int
t_set(const char *ifname, struct nvb *b)
{
	struct kh_ctl_req req;
	uint64_t buflen, size;

	memset(&req, 0, sizeof(req));
	req.op = KH_CTL_SIOCSWG;
	strlcpy(req.name, ifname, sizeof(req.name));
	req.size = b->len;
	buflen = b->len;
	return (kh_ctl_exec(&req, (char *)b->buf, &buflen, &size));
}

static int
t_get(const char *ifname, void *buf, uint64_t cap, uint64_t wgdsize,
    int flags, uint64_t *sizep)
{
	struct kh_ctl_req req;
	uint64_t buflen, size;
	int error;

	memset(&req, 0, sizeof(req));
	req.op = KH_CTL_SIOCGWG;
	req.flags = flags;
	strlcpy(req.name, ifname, sizeof(req.name));
	req.size = wgdsize;
	buflen = cap;
	size = 0;
	error = kh_ctl_exec(&req, buf, &buflen, &size);
	if (sizep != NULL)
		*sizep = size;
	return (error);
}

/* The first binary of that name in a packed answer (the interface's). */
static int
t_find_bin(const uint8_t *buf, size_t len, const char *name, uint8_t *out,
    size_t n)
{
	size_t i, ns = strlen(name) + 1;

	for (i = 19 + 19; i + ns + n <= len; i++)
		if (memcmp(buf + i, name, ns) == 0 && buf[i - 19] == 7) {
			memcpy(out, buf + i + ns, n);
			return (0);
		}
	return (ENOENT);
}

static int
t_find_num(const uint8_t *buf, size_t len, const char *name, uint64_t *v)
{
	size_t i, ns = strlen(name) + 1;

	for (i = 19 + 19; i + ns + 8 <= len; i++)
		if (memcmp(buf + i, name, ns) == 0 && buf[i - 19] == 3) {
			memcpy(v, buf + i + ns, 8);
			return (0);
		}
	return (ENOENT);
}

/* The interface's public key and listen port, as SIOCGWG shows them. */
static int
t_show(const char *ifname, uint8_t pub[32], uint64_t *port)
{
	uint8_t *buf;
	uint64_t size;
	int error;

	buf = host_alloc(65536);
	error = t_get(ifname, buf, 65536, 65536, 0, &size);
	if (error == 0 && pub != NULL)
		error = t_find_bin(buf, size, "public-key", pub, 32);
	if (error == 0 && port != NULL && t_find_num(buf, size,
	    "listen-port", port) != 0)
		*port = 0;
	host_free(buf);
	return (error);
}

static void
t_key(uint8_t key[32])
{

	host_random(key, 32);
	key[0] &= 248;
	key[31] = (key[31] & 127) | 64;
}

/* A UDP port of 127.0.0.1 free now; with keep, the socket holding it. */
static uint16_t
t_port(int *keep)
{
	struct host_addr a;
	int fd;

	fd = host_udp_open(4);
	memset(&a, 0, sizeof(a));
	a.family = 4;
	a.addr[0] = 127;
	a.addr[3] = 1;
	if (fd < 0 || host_udp_bind(fd, &a) != 0 || host_udp_local(fd, &a) != 0)
		kh_panic("t_port: no socket");
	if (keep != NULL)
		*keep = fd;
	else
		host_close(fd);
	return (a.port);
}

static void
t_sendto(int fd, uint16_t port, const void *buf, size_t len)
{
	struct host_addr a;

	memset(&a, 0, sizeof(a));
	a.family = 4;
	a.port = port;
	a.addr[0] = 127;
	a.addr[3] = 1;
	if (host_udp_sendto(fd, buf, len, &a) != (long)len)
		kh_log("sendto %u: failed", port);
}

static uint64_t
t_counter(const char *ifname, int cnt)
{
	if_t ifp;
	uint64_t v;

	if ((ifp = kh_ifunit(ifname)) == NULL)
		kh_panic("no interface %s", ifname);
	v = kh_if_counter(ifp, cnt);
	kh_if_rele(ifp);
	return (v);
}

static int
t_setup(const char *ifname, int up)
{
	if_t ifp;
	int error;

	if ((ifp = kh_ifunit(ifname)) == NULL)
		kh_panic("no interface %s", ifname);
	error = kh_if_setup(ifp, up);
	kh_if_rele(ifp);
	return (error);
}

static int
t_running(const char *ifname)
{
	if_t ifp;
	int r;

	if ((ifp = kh_ifunit(ifname)) == NULL)
		kh_panic("no interface %s", ifname);
	r = (ifp->if_drv_flags & IFF_DRV_RUNNING) != 0;
	kh_if_rele(ifp);
	return (r);
}

/* An IPv4 packet of len bytes from 10.9.0.1 to dst, into ifp's output. */
static int
t_transmit(const char *ifname, const char dst[4], int len)
{
	struct mbuf *m;
	struct ip *ip;
	if_t ifp;
	int error;

	if ((ifp = kh_ifunit(ifname)) == NULL)
		kh_panic("no interface %s", ifname);
	m = m_get3(max_linkhdr + len, M_WAITOK, MT_DATA, M_PKTHDR);
	m->m_data += max_linkhdr;
	m->m_len = m->m_pkthdr.len = len;
	memset(mtod(m, void *), 0, len);
	ip = mtod(m, struct ip *);
	ip->ip_v = 4;
	ip->ip_hl = sizeof(*ip) >> 2;
	ip->ip_len = htons(len);
	ip->ip_ttl = 64;
	ip->ip_p = IPPROTO_UDP;
	ip->ip_src.s_addr = htonl(0x0a090001);
	memcpy(&ip->ip_dst, dst, 4);
	error = ifp->if_transmit(ifp, m);
	kh_if_rele(ifp);
	return (error);
}

static void
t_boot(void)
{

	kh_boot();
	kh_socket_init_model();
	kh_kldload();
}

/* kldunload and the checks of kh_foreground's clean shutdown. */
static int
t_unload(void)
{

	kh_kldunload();
	if (kh_mbuf_outstanding() != 0) {
		kh_log("FAIL: %ld mbufs, clusters or tags leaked",
		    kh_mbuf_outstanding());
		kh_mbuf_report();
		t_failed = 1;
	}
	T_CHECK(kh_socket_count() == 0, "%ld sockets left open",
	    kh_socket_count());
	T_CHECK(kh_if_count() == 0, "%d interfaces left", kh_if_count());
	kh_callout_fini_model();
	return (t_failed);
}

static const char t_ip1[4] = { 10, 9, 0, 1 };
static const char t_ip2[4] = { 10, 9, 0, 2 };

/*
 * wg0 up on a port of its own with one peer (endpoint: a port of ours),
 * then that peer's task stalled for stall_ns in sosend(), sending the
 * initiation a packet for the peer asks for.  With one taskqueue, the
 * handshake task waits behind it: what arrives meanwhile stays queued.
 * Returns wg0's port.
 */
static uint16_t
t_stalled_wg0(uint64_t stall_ns)
{
	uint8_t key[32], peer[32];
	char name[IFNAMSIZ];
	struct nvb b;
	uint16_t port;
	int i;

	if (kh_ncpus != 1)
		kh_panic("run with KH_NCPUS=1 (one taskqueue)");
	if (kh_if_create("wg", name, sizeof(name)) != 0 ||
	    strcmp(name, "wg0") != 0)
		kh_panic("cannot create wg0");
	t_key(key);
	t_key(peer);
	port = t_port(NULL);
	memset(&b, 0, sizeof(b));
	nvb_list(&b);
	nvb_bin(&b, "private-key", key, 32);
	nvb_num(&b, "listen-port", port);
	nvb_array(&b, "peers", 1);
	nvb_peer(&b, peer, t_port(NULL), t_ip2);
	nvb_done(&b);
	if (t_set("wg0", &b) != 0 || t_setup("wg0", 1) != 0 ||
	    !t_running("wg0"))
		kh_panic("wg0 does not come up");
	host_sleep_ns(50 * T_MS);	/* the poll of wg_up is done */
	__atomic_store_n(&kh_so_stall_ns, stall_ns, __ATOMIC_RELEASE);
	(void)t_transmit("wg0", t_ip2, 64);
	for (i = 0; i < 200 &&
	    __atomic_load_n(&kh_so_stall_ns, __ATOMIC_ACQUIRE) != 0; i++)
		host_sleep_ns(5 * T_MS);
	if (__atomic_load_n(&kh_so_stall_ns, __ATOMIC_ACQUIRE) != 0)
		kh_panic("the peer's task never sent");
	return (port);
}

/* Waits up to 2 s until n more mbufs are held than base. */
static long
t_wait_held(long base, long n)
{
	int i;

	for (i = 0; i < 400 && kh_mbuf_outstanding() - base < n; i++)
		host_sleep_ns(5 * T_MS);
	return (kh_mbuf_outstanding() - base);
}

/*
 * Item 7: a handshake message queued while up must not reach the core
 * once the interface is going down (wg_down purges the queue and the
 * handshake task drops what it would have opened).  The message is
 * junk, so had it reached the core, ierrors would count it.
 */
static int
t_hsq_down(void)
{
	uint8_t msg[148];
	uint64_t ierr0, ierr1;
	uint16_t port;
	long base, held;
	int fd;

	t_boot();
	CURVNET_SET(vnet0);
	port = t_stalled_wg0(500 * T_MS);
	base = kh_mbuf_outstanding();
	memset(msg, 0xa5, sizeof(msg));
	msg[0] = 1;
	msg[1] = msg[2] = msg[3] = 0;
	fd = host_udp_open(4);
	t_sendto(fd, port, msg, sizeof(msg));
	held = t_wait_held(base, 1);
	T_CHECK(held >= 1, "the initiation was not queued (%ld)", held);
	ierr0 = t_counter("wg0", IFCOUNTER_IERRORS);
	T_CHECK(t_setup("wg0", 0) == 0, "down failed");
	host_sleep_ns(300 * T_MS);
	ierr1 = t_counter("wg0", IFCOUNTER_IERRORS);
	T_CHECK(ierr1 == ierr0, "a handshake queued before down was opened "
	    "after it (ierrors %ju -> %ju)", (uintmax_t)ierr0,
	    (uintmax_t)ierr1);
	host_close(fd);
	CURVNET_RESTORE();
	return (t_unload());
}

/*
 * Item 4: only exact-size initiations (148), responses (92) and cookie
 * replies (64) may wait in the handshake queue; anything else is dropped
 * at once and counted in ierrors.  The handshake task is held back, so
 * what is admitted stays queued, visible as mbufs held.
 */
static int
t_hsq_admit(void)
{
	static const struct {
		uint8_t	type;
		int	len;
	} bad[] = {
		{ 1, 1400 }, { 1, 147 }, { 1, 149 }, { 2, 148 }, { 3, 92 },
		{ 2, 64 }, { 5, 148 }, { 0x81, 148 }, { 4, 31 }, { 0, 16 },
	}, good[] = { { 1, 148 }, { 2, 92 }, { 3, 64 } };
	uint8_t msg[1400];
	uint64_t ierr0, ierr1, n;
	uint16_t port;
	long base, held;
	int fd, i, k;

	t_boot();
	CURVNET_SET(vnet0);
	port = t_stalled_wg0(1500 * T_MS);
	base = kh_mbuf_outstanding();
	ierr0 = t_counter("wg0", IFCOUNTER_IERRORS);
	fd = host_udp_open(4);
	n = 0;
	for (k = 0; k < 50; k++) {
		for (i = 0; i < (int)nitems(bad); i++) {
			memset(msg, 0x5a, sizeof(msg));
			msg[0] = bad[i].type;
			msg[1] = msg[2] = msg[3] = 0;
			t_sendto(fd, port, msg, bad[i].len);
			n++;
		}
		/* A type with a non-zero reserved byte is no type. */
		msg[0] = 1;
		msg[3] = 1;
		t_sendto(fd, port, msg, 148);
		n++;
		host_sleep_ns(2 * T_MS);
	}
	host_sleep_ns(200 * T_MS);
	held = kh_mbuf_outstanding() - base;
	ierr1 = t_counter("wg0", IFCOUNTER_IERRORS);
	T_CHECK(held == 0, "%ld malformed handshake datagrams queued", held);
	/* (The host may drop a few before the socket reads them.) */
	T_CHECK(ierr1 - ierr0 <= n && ierr1 - ierr0 >= n * 9 / 10, "%ju of "
	    "%ju malformed datagrams counted in ierrors",
	    (uintmax_t)(ierr1 - ierr0), (uintmax_t)n);
	/* The three real kinds still get in. */
	for (i = 0; i < (int)nitems(good); i++) {
		memset(msg, 0x5a, sizeof(msg));
		msg[0] = good[i].type;
		msg[1] = msg[2] = msg[3] = 0;
		t_sendto(fd, port, msg, good[i].len);
	}
	held = t_wait_held(base, nitems(good));
	/* (Each holds an mbuf, a tag and maybe a cluster.) */
	T_CHECK(held >= (long)nitems(good), "%ld objects held for %zu "
	    "well-formed handshake datagrams", held, nitems(good));
	host_close(fd);
	T_CHECK(t_setup("wg0", 0) == 0, "down failed");
	CURVNET_RESTORE();
	return (t_unload());
}

/* Item 8: SIOCGWG with wgd_data NULL, as FreeBSD's wgc_get answers. */
static int
t_get_null(void)
{
	uint8_t key[32];
	char name[IFNAMSIZ];
	struct nvb b;
	uint64_t need, size;
	int error;

	t_boot();
	CURVNET_SET(vnet0);
	if (kh_if_create("wg", name, sizeof(name)) != 0)
		kh_panic("cannot create wg0");
	t_key(key);
	memset(&b, 0, sizeof(b));
	nvb_list(&b);
	nvb_bin(&b, "private-key", key, 32);
	nvb_done(&b);
	T_CHECK(t_set("wg0", &b) == 0, "SIOCSWG failed");
	error = t_get("wg0", NULL, 0, 0, KH_CTL_F_NULLDATA, &need);
	T_CHECK(error == 0 && need > 0, "size query: error %d size %ju",
	    error, (uintmax_t)need);
	/* wgc_get: ENOSPC for a short size, then copyout(9) to NULL. */
	error = t_get("wg0", NULL, 0, need - 1, KH_CTL_F_NULLDATA, &size);
	T_CHECK(error == ENOSPC, "NULL, short size: error %d", error);
	error = t_get("wg0", NULL, 0, need + 100, KH_CTL_F_NULLDATA, &size);
	T_CHECK(error == EFAULT, "NULL, size %ju: error %d",
	    (uintmax_t)(need + 100), error);
	CURVNET_RESTORE();
	return (t_unload());
}

static volatile int t_race_stop;

/* Adds and removes a peer of wg0 as fast as SIOCSWG goes. */
static void
t_race_writer(void *arg __unused)
{
	uint8_t peer[32];
	struct nvb add, del;

	CURVNET_SET(vnet0);
	t_key(peer);
	memset(&add, 0, sizeof(add));
	nvb_list(&add);
	nvb_array(&add, "peers", 1);
	nvb_peer(&add, peer, 51820, t_ip2);
	nvb_done(&add);
	memset(&del, 0, sizeof(del));
	nvb_list(&del);
	nvb_array(&del, "peers", 1);
	nvb_list(&del);
	nvb_bin(&del, "public-key", peer, 32);
	nvb_bool(&del, "remove", 1);
	nvb_next(&del);
	nvb_done(&del);
	while (!__atomic_load_n(&t_race_stop, __ATOMIC_ACQUIRE)) {
		if (t_set("wg0", &add) != 0 || t_set("wg0", &del) != 0)
			kh_panic("SIOCSWG failed");
	}
	CURVNET_RESTORE();
}

/*
 * Item 8: a caller whose wgd_size holds the configuration gets it, even
 * when the configuration grows while the ioctl runs (FreeBSD packs once
 * and compares with wgd_size): ENOSPC only for a size that is too small.
 */
static int
t_get_race(void)
{
	uint8_t key[32], *buf;
	char name[IFNAMSIZ];
	host_thread_t *w;
	struct nvb b;
	uint64_t size, t0;
	int error, n, nospc, other;

	t_boot();
	CURVNET_SET(vnet0);
	if (kh_if_create("wg", name, sizeof(name)) != 0)
		kh_panic("cannot create wg0");
	t_key(key);
	memset(&b, 0, sizeof(b));
	nvb_list(&b);
	nvb_bin(&b, "private-key", key, 32);
	nvb_done(&b);
	T_CHECK(t_set("wg0", &b) == 0, "SIOCSWG failed");
	w = kh_thread_start("writer", 0, t_race_writer, NULL);
	buf = host_alloc(65536);
	n = nospc = other = 0;
	t0 = host_monotonic_ns();
	while (host_monotonic_ns() - t0 < 3000 * T_MS) {
		error = t_get("wg0", buf, 65536, 65536, 0, &size);
		if (error == ENOSPC)
			nospc++;
		else if (error != 0)
			other++;
		n++;
	}
	__atomic_store_n(&t_race_stop, 1, __ATOMIC_RELEASE);
	host_thread_join(w);
	host_free(buf);
	kh_log("%d reads, %d ENOSPC, %d other errors", n, nospc, other);
	T_CHECK(nospc == 0 && other == 0, "SIOCGWG with a 64 KiB buffer "
	    "failed %d times with ENOSPC, %d otherwise, of %d", nospc, other,
	    n);
	CURVNET_RESTORE();
	return (t_unload());
}

/* wg0 (10.9.0.1) and wg1 (10.9.0.2), peers of each other on 127.0.0.1. */
static void
t_pair(void)
{
	uint8_t key0[32], key1[32], pub0[32], pub1[32];
	char name[IFNAMSIZ];
	struct nvb b;
	uint16_t port0, port1;

	if (kh_if_create("wg", name, sizeof(name)) != 0 ||
	    kh_if_create("wg", name, sizeof(name)) != 0)
		kh_panic("cannot create wg0 and wg1");
	t_key(key0);
	t_key(key1);
	port0 = t_port(NULL);
	port1 = t_port(NULL);
	memset(&b, 0, sizeof(b));
	nvb_list(&b);
	nvb_bin(&b, "private-key", key0, 32);
	nvb_num(&b, "listen-port", port0);
	nvb_done(&b);
	T_CHECK(t_set("wg0", &b) == 0, "SIOCSWG wg0 failed");
	memset(&b, 0, sizeof(b));
	nvb_list(&b);
	nvb_bin(&b, "private-key", key1, 32);
	nvb_num(&b, "listen-port", port1);
	nvb_done(&b);
	T_CHECK(t_set("wg1", &b) == 0, "SIOCSWG wg1 failed");
	if (t_show("wg0", pub0, NULL) != 0 || t_show("wg1", pub1, NULL) != 0)
		kh_panic("no public keys");
	memset(&b, 0, sizeof(b));
	nvb_list(&b);
	nvb_array(&b, "peers", 1);
	nvb_peer(&b, pub1, port1, t_ip2);
	nvb_done(&b);
	T_CHECK(t_set("wg0", &b) == 0, "SIOCSWG wg0 peer failed");
	memset(&b, 0, sizeof(b));
	nvb_list(&b);
	nvb_array(&b, "peers", 1);
	nvb_peer(&b, pub0, port0, t_ip1);
	nvb_done(&b);
	T_CHECK(t_set("wg1", &b) == 0, "SIOCSWG wg1 peer failed");
}

/* Waits up to 3 s until wg1 has received n packets in all. */
static uint64_t
t_wait_wg1(uint64_t n)
{
	int i;

	for (i = 0; i < 300 && t_counter("wg1", IFCOUNTER_IPACKETS) < n; i++)
		host_sleep_ns(10 * T_MS);
	return (t_counter("wg1", IFCOUNTER_IPACKETS));
}

/*
 * Item 3: a packet of the largest MTU crosses a tunnel between two
 * interfaces of the module (the sealed datagram is over udp_sendspace).
 */
static int
t_jumbo(void)
{
	if_t ifp;
	int i, mtu;

	t_boot();
	CURVNET_SET(vnet0);
	t_pair();
	/* The largest MTU the interface takes, on both ends. */
	for (mtu = 16384; mtu > 1280; mtu--) {
		ifp = kh_ifunit("wg0");
		i = kh_if_setmtu(ifp, mtu);
		kh_if_rele(ifp);
		if (i == 0)
			break;
	}
	ifp = kh_ifunit("wg1");
	T_CHECK(kh_if_setmtu(ifp, mtu) == 0, "wg1 refuses MTU %d", mtu);
	kh_if_rele(ifp);
	kh_log("MTU %d", mtu);
	T_CHECK(mtu > 9216, "the largest MTU is %d", mtu);
	T_CHECK(t_setup("wg0", 1) == 0 && t_setup("wg1", 1) == 0, "up failed");
	/* The first is staged for the handshake; then each goes at once. */
	for (i = 0; i < 3; i++) {
		(void)t_transmit("wg0", t_ip2, mtu);
		host_sleep_ns(300 * T_MS);
	}
	T_CHECK(t_wait_wg1(3) == 3, "%ju of 3 packets of %d bytes crossed "
	    "(wg0 oerrors %ju)", (uintmax_t)t_counter("wg1",
	    IFCOUNTER_IPACKETS), mtu,
	    (uintmax_t)t_counter("wg0", IFCOUNTER_OERRORS));
	CURVNET_RESTORE();
	return (t_unload());
}

#define	T_MTAG_WG_LOOP	0x7767726c	/* if_wg.c's MTAG_WG_LOOP */
#define	T_MAX_LOOPS	8		/* if_wg.c's WG_MAX_LOOPS */

/*
 * Receive-side nesting: a packet that wg1 opens is delivered inline, in
 * the thread of its datagram's input; a datagram that got there through
 * as many decapsulations as the limit allows (their tags on it) is
 * dropped rather than delivered one level deeper.
 */
static int
t_rx_nesting(void)
{
	uint64_t base, ierr;
	int i;

	t_boot();
	CURVNET_SET(vnet0);
	t_pair();
	T_CHECK(t_setup("wg0", 1) == 0 && t_setup("wg1", 1) == 0, "up failed");
	for (i = 0; i < 10 && t_counter("wg1", IFCOUNTER_IPACKETS) == 0; i++) {
		(void)t_transmit("wg0", t_ip2, 100);
		(void)t_wait_wg1(1);
	}
	base = t_counter("wg1", IFCOUNTER_IPACKETS);
	T_CHECK(base > 0, "no packet crossed");
	ierr = t_counter("wg1", IFCOUNTER_IERRORS);
	/* One level short of the limit: delivered. */
	__atomic_store_n(&kh_so_rx_cookie, T_MTAG_WG_LOOP, __ATOMIC_RELEASE);
	__atomic_store_n(&kh_so_rx_tags, T_MAX_LOOPS - 1, __ATOMIC_RELEASE);
	(void)t_transmit("wg0", t_ip2, 100);
	T_CHECK(t_wait_wg1(base + 1) == base + 1, "a packet %d levels deep "
	    "was not delivered", T_MAX_LOOPS);
	T_CHECK(__atomic_load_n(&kh_so_rx_tags, __ATOMIC_ACQUIRE) == 0,
	    "no datagram took the tags");
	/* At the limit: dropped, counted. */
	__atomic_store_n(&kh_so_rx_tags, T_MAX_LOOPS, __ATOMIC_RELEASE);
	(void)t_transmit("wg0", t_ip2, 100);
	host_sleep_ns(500 * T_MS);
	T_CHECK(__atomic_load_n(&kh_so_rx_tags, __ATOMIC_ACQUIRE) == 0,
	    "no datagram took the tags");
	T_CHECK(t_counter("wg1", IFCOUNTER_IPACKETS) == base + 1, "a packet "
	    "%d levels deep was delivered", T_MAX_LOOPS + 1);
	T_CHECK(t_counter("wg1", IFCOUNTER_IERRORS) == ierr + 1, "ierrors "
	    "%ju -> %ju", (uintmax_t)ierr,
	    (uintmax_t)t_counter("wg1", IFCOUNTER_IERRORS));
	CURVNET_RESTORE();
	return (t_unload());
}

/* SIOCSWG must change nothing when it fails: the same key and port. */
static void
t_same(const char *what, const uint8_t pub[32], uint64_t port)
{
	uint8_t now[32];
	uint64_t nport;

	if (t_show("wg0", now, &nport) != 0)
		kh_panic("SIOCGWG failed");
	T_CHECK(memcmp(now, pub, 32) == 0, "%s: a failed SIOCSWG changed the "
	    "private key", what);
	T_CHECK(nport == port, "%s: a failed SIOCSWG changed the listen port "
	    "%ju -> %ju", what, (uintmax_t)port, (uintmax_t)nport);
}

/*
 * Item 6: SIOCSWG is all or nothing when the socket step fails: a new
 * port that cannot be bound while the interface waits to come up, and
 * a cookie the socket refuses while it runs.
 */
static int
t_set_atomic(void)
{
	uint8_t key[32], key2[32], pub[32];
	char name[IFNAMSIZ];
	struct nvb b;
	uint16_t busy1, busy2, port;
	int error, fd1, fd2;

	t_boot();
	CURVNET_SET(vnet0);
	if (kh_if_create("wg", name, sizeof(name)) != 0)
		kh_panic("cannot create wg0");
	t_key(key);
	t_key(key2);
	busy1 = t_port(&fd1);
	busy2 = t_port(&fd2);

	/* Up, but not running: its port is taken. */
	memset(&b, 0, sizeof(b));
	nvb_list(&b);
	nvb_bin(&b, "private-key", key, 32);
	nvb_num(&b, "listen-port", busy1);
	nvb_done(&b);
	T_CHECK(t_set("wg0", &b) == 0, "SIOCSWG failed");
	(void)t_setup("wg0", 1);
	T_CHECK(!t_running("wg0"), "wg0 runs on a port in use");
	if (t_show("wg0", pub, NULL) != 0)
		kh_panic("SIOCGWG failed");
	memset(&b, 0, sizeof(b));
	nvb_list(&b);
	nvb_bin(&b, "private-key", key2, 32);
	nvb_num(&b, "listen-port", busy2);
	nvb_done(&b);
	error = t_set("wg0", &b);
	T_CHECK(error == EADDRINUSE, "rebind to a port in use while waiting: "
	    "error %d", error);
	t_same("waiting", pub, busy1);
	T_CHECK(!t_running("wg0"), "wg0 runs on a port in use");

	/* Running: the cookie's setsockopt fails. */
	host_close(fd1);
	port = t_port(NULL);
	memset(&b, 0, sizeof(b));
	nvb_list(&b);
	nvb_num(&b, "listen-port", port);
	nvb_done(&b);
	T_CHECK(t_set("wg0", &b) == 0, "SIOCSWG of a free port failed");
	T_CHECK(t_running("wg0"), "wg0 does not run on a free port");
	memset(&b, 0, sizeof(b));
	nvb_list(&b);
	nvb_bin(&b, "private-key", key2, 32);
	nvb_num(&b, "user-cookie", 7);
	nvb_done(&b);
	__atomic_store_n(&kh_so_fail_opt, SO_USER_COOKIE, __ATOMIC_RELEASE);
	error = t_set("wg0", &b);
	__atomic_store_n(&kh_so_fail_opt, 0, __ATOMIC_RELEASE);
	T_CHECK(error == ENOBUFS, "cookie refused: error %d", error);
	t_same("cookie", pub, port);
	/* Then it goes through. */
	T_CHECK(t_set("wg0", &b) == 0, "SIOCSWG of a cookie failed");
	host_close(fd2);
	T_CHECK(t_setup("wg0", 0) == 0, "down failed");
	CURVNET_RESTORE();
	return (t_unload());
}

/* FreeBSD's own wg(4), as far as the cloner goes. */
static int
t_stock_create(struct if_clone *ifc __unused, char *name __unused,
    size_t len __unused, struct ifc_data *ifd __unused, if_t *ifpp __unused)
{

	return (ENXIO);
}

static int
t_stock_destroy(struct if_clone *ifc __unused, if_t ifp __unused,
    uint32_t flags __unused)
{

	return (0);
}

/*
 * Item 2: with FreeBSD's wg(4) already there (its "wg" cloner), the
 * module refuses to load and leaves nothing behind.
 */
static int
t_stock_first(void)
{
	struct if_clone_addreq req = {
		.flags = IFC_F_AUTOUNIT,
		.create_f = t_stock_create,
		.destroy_f = t_stock_destroy,
	};
	struct if_clone *stock;
	char name[IFNAMSIZ];
	int error;

	kh_boot();
	kh_socket_init_model();
	CURVNET_SET(vnet0);
	stock = ifc_attach_cloner("wg", &req);
	if (stock == NULL)
		kh_panic("cannot attach the stock cloner");
	error = kh_kldload_try();
	T_CHECK(error != 0, "the module loaded beside the stock wg(4)");
	T_CHECK(kh_if_create("wg", name, sizeof(name)) == ENXIO,
	    "\"ifconfig wg create\" does not reach the stock driver");
	T_CHECK(kh_socket_count() == 0, "sockets left");
	ifc_detach_cloner(stock);
	if (error == 0)
		kh_kldunload();
	CURVNET_RESTORE();
	/* The module can load once the stock driver is gone. */
	T_CHECK(kh_kldload_try() == 0, "the module does not load alone");
	return (t_unload());
}

int
kh_test_defect(const char *name)
{
	static const struct {
		const char	*name;
		int		(*fn)(void);
	} tests[] = {
		{ "hsq-down", t_hsq_down },
		{ "hsq-admit", t_hsq_admit },
		{ "get-null", t_get_null },
		{ "get-race", t_get_race },
		{ "jumbo", t_jumbo },
		{ "set-atomic", t_set_atomic },
		{ "stock-first", t_stock_first },
		{ "rx-nesting", t_rx_nesting },
	};
	int i;

	for (i = 0; i < (int)nitems(tests); i++)
		if (strcmp(name, tests[i].name) == 0)
			return (tests[i].fn());
	kh_log("unknown test defect-%s", name);
	return (2);
}
