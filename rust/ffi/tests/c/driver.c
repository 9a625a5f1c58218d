/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * Drives two cores through sys/wg_core.h only, the way the if_wg.ko shim
 * will: configure each from SIOCSWG-format nvlist bytes, run a handshake
 * with a staged packet, exchange data both ways, read the configuration
 * back with the SIOCGWG size negotiation, and check the error paths.
 *
 * Usage: driver A.nvl B.nvl   (made by the Rust test from wg_core's codec)
 * Exit status 0 and "c driver: ok" on success.
 */
#include <sys/random.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wg_core.h"
#include "wg_host.h"

#define	CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n",		\
		    __FILE__, __LINE__, #cond);				\
		exit(1);						\
	}								\
} while (0)

#define	CHECK_RC(call) do {						\
	int rc_ = (call);						\
	if (rc_ != 0) {							\
		fprintf(stderr, "%s:%d: %s returned %d\n",		\
		    __FILE__, __LINE__, #call, rc_);			\
		exit(1);						\
	}								\
} while (0)

/* Host services. */
void
wg_host_random(void *buf, size_t len)
{
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		n = getrandom((char *)buf + off, len - off, 0);
		if (n <= 0)
			abort();
		off += (size_t)n;
	}
}

void *
wg_host_alloc(size_t size, size_t align)
{
	void *p;

	if (align < sizeof(void *))
		align = sizeof(void *);
	return (posix_memalign(&p, align, size) == 0 ? p : NULL);
}

void
wg_host_free(void *ptr, size_t size, size_t align)
{
	(void)size;
	(void)align;
	free(ptr);
}

void
wg_host_log(int level, const char *msg, size_t len)
{
	fprintf(stderr, "core[%d]: %.*s\n", level, (int)len, msg);
}

#define	MAX_STAGED	8
#define	BUFSZ		(WG_CORE_HEADROOM + 2048 + WG_CORE_TAILROOM)

struct pkt {
	uint8_t	data[BUFSZ];
	size_t	len;
};

struct host {
	const char		*name;
	struct wg_core_dev	*dev;
	struct wg_endpoint	 addr;
	uint32_t		 peer;
	int			 touched;
	struct pkt		 staged[MAX_STAGED];
	int			 nstaged;
	struct pkt		 delivered;
	int			 ndelivered;
};

/* One datagram in flight. */
static struct pkt wire;
static int wire_to = -1;
static struct host hosts[2];
static struct wg_time now = { 1000000000000ULL, 1700000000000000000ULL };

static void
peer_cb(void *arg, uint32_t peer, int event)
{
	struct host *h = arg;

	CHECK(event == WG_CORE_PEER_TOUCHED);
	h->peer = peer;
	h->touched++;
}

static void
transmit(int from, const uint8_t *buf, size_t len)
{
	CHECK(wire_to == -1);
	CHECK(len <= sizeof(wire.data));
	memcpy(wire.data, buf, len);
	wire.len = len;
	wire_to = 1 - from;
}

static void poll_peer(int side);

static void
encap(int side, const uint8_t *ip, size_t len, int to_peer)
{
	struct host *h = &hosts[side];
	struct wg_core_encap_result res;
	uint8_t buf[BUFSZ];

	memcpy(buf + WG_CORE_HEADROOM, ip, len);
	if (to_peer)
		CHECK_RC(wg_core_encapsulate_to(h->dev, h->peer, &now, buf,
		    sizeof(buf), len, &res));
	else
		CHECK_RC(wg_core_encapsulate(h->dev, &now, buf, sizeof(buf),
		    len, &res));
	CHECK(res.peer == h->peer);
	if (res.action == WG_CORE_ENCAP_SEND) {
		CHECK(res.endpoint.port == hosts[1 - side].addr.port);
		transmit(side, buf, res.len);
		if (res.poll)
			poll_peer(side);
	} else {
		CHECK(res.action == WG_CORE_ENCAP_STAGED);
		CHECK(h->nstaged < MAX_STAGED);
		memcpy(h->staged[h->nstaged].data, ip, len);
		h->staged[h->nstaged++].len = len;
		poll_peer(side);
	}
}

static void
poll_peer(int side)
{
	struct host *h = &hosts[side];
	struct wg_core_poll_result res;
	uint8_t out[WG_CORE_HANDSHAKE_MAX];
	struct pkt staged[MAX_STAGED];
	int i, n;

	for (;;) {
		CHECK_RC(wg_core_poll_peer(h->dev, h->peer, &now, out,
		    sizeof(out), &res));
		switch (res.action) {
		case WG_CORE_PEER_SEND:
			transmit(side, out, res.len);
			break;
		case WG_CORE_PEER_FLUSH_STAGED:
			n = h->nstaged;
			memcpy(staged, h->staged, sizeof(staged));
			h->nstaged = 0;
			for (i = 0; i < n; i++)
				encap(side, staged[i].data, staged[i].len, 1);
			break;
		case WG_CORE_PEER_DROP_STAGED:
			h->nstaged = 0;
			break;
		case WG_CORE_PEER_IDLE:
			CHECK(res.has_deadline);
			CHECK(res.deadline > now.mono_ns);
			return;
		default:
			CHECK(!"unknown poll action");
		}
	}
}

/* Delivers the datagram on the wire, if any; returns its decap action. */
static int
pump_one(void)
{
	struct wg_core_decap_result res;
	uint8_t out[WG_CORE_HANDSHAKE_MAX];
	struct pkt p;
	struct host *h;
	int to;

	if (wire_to < 0)
		return (-1);
	to = wire_to;
	h = &hosts[to];
	p = wire;
	wire_to = -1;
	CHECK_RC(wg_core_decapsulate(h->dev, &now, &hosts[1 - to].addr,
	    p.data, p.len, out, sizeof(out), &res));
	switch (res.action) {
	case WG_CORE_DECAP_REPLY:
		transmit(to, out, res.len);
		break;
	case WG_CORE_DECAP_TUNNEL:
		CHECK(res.offset + res.len <= p.len);
		memcpy(h->delivered.data, p.data + res.offset, res.len);
		h->delivered.len = res.len;
		h->ndelivered++;
		break;
	case WG_CORE_DECAP_DONE:
		break;
	default:
		CHECK(!"unknown decap action");
	}
	if (res.poll) {
		CHECK(res.peer == h->peer);
		poll_peer(to);
	}
	return ((int)res.action);
}

static void
pump(void)
{
	while (pump_one() >= 0)
		;
}

static size_t
ipv4(uint8_t *p, const uint8_t src[4], const uint8_t dst[4], const char *msg)
{
	size_t len = 20 + strlen(msg);

	memset(p, 0, 20);
	p[0] = 0x45;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	p[8] = 64;
	p[9] = 17;
	memcpy(p + 12, src, 4);
	memcpy(p + 16, dst, 4);
	memcpy(p + 20, msg, strlen(msg));
	return (len);
}

static uint8_t *
read_file(const char *path, size_t *lenp)
{
	FILE *f;
	uint8_t *buf;
	long n;

	f = fopen(path, "rb");
	CHECK(f != NULL);
	CHECK(fseek(f, 0, SEEK_END) == 0);
	n = ftell(f);
	CHECK(n > 0);
	rewind(f);
	buf = malloc((size_t)n);
	CHECK(buf != NULL);
	CHECK(fread(buf, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	*lenp = (size_t)n;
	return (buf);
}

static void
check_error_paths(struct wg_core_dev *dev)
{
	struct wg_core_decap_result dres;
	struct wg_core_encap_result eres;
	struct wg_endpoint src = hosts[0].addr;
	uint8_t out[WG_CORE_HANDSHAKE_MAX], junk[200];
	size_t len;

	CHECK(wg_core_dev_create(NULL) == EFAULT);
	CHECK(wg_core_encapsulate(dev, &now, NULL, 0, 0, &eres) == EFAULT);
	CHECK(wg_core_decapsulate(dev, NULL, &src, junk, 10, out,
	    sizeof(out), &dres) == EFAULT);
	/* Garbage of each message type, at each handshake size. */
	for (int type = 0; type < 6; type++) {
		for (len = 1; len < sizeof(junk); len += 13) {
			memset(junk, 0xa5, sizeof(junk));
			junk[0] = (uint8_t)type;
			junk[1] = junk[2] = junk[3] = 0;
			CHECK(wg_core_decapsulate(dev, &now, &src, junk, len,
			    out, sizeof(out), &dres) != 0);
		}
	}
	src.family = 99;
	CHECK(wg_core_decapsulate(dev, &now, &src, junk, 148, out,
	    sizeof(out), &dres) == EINVAL);
	/* A configuration that is not an nvlist changes nothing. */
	memset(junk, 0x6c, sizeof(junk));
	CHECK(wg_core_set_config(dev, &now, junk, sizeof(junk), NULL,
	    NULL) != 0);
	CHECK(wg_core_set_config(dev, &now, NULL, 0, NULL, NULL) == EFAULT);
	CHECK(wg_core_poll_peer(dev, 12345, &now, out, sizeof(out),
	    &(struct wg_core_poll_result){ 0 }) == ENOENT);
}

int
main(int argc, char **argv)
{
	static const uint8_t ip_a[4] = { 10, 0, 0, 1 }, ip_b[4] = { 10, 0, 0, 2 };
	struct wg_core_peer_stats sa, sb;
	uint8_t pkt[256], *nvl, *got;
	size_t nvl_len, len, need;
	int i;

	CHECK(argc == 3);
	for (i = 0; i < 2; i++) {
		struct host *h = &hosts[i];

		h->name = i == 0 ? "A" : "B";
		h->addr.family = WG_CORE_AF_INET;
		h->addr.port = (uint16_t)(51820 + i);
		h->addr.addr[0] = 192;
		h->addr.addr[1] = 0;
		h->addr.addr[2] = 2;
		h->addr.addr[3] = (uint8_t)(1 + i);
		CHECK_RC(wg_core_dev_create(&h->dev));
		wg_core_dev_set_mtu(h->dev, 1420);
		nvl = read_file(argv[1 + i], &nvl_len);
		CHECK_RC(wg_core_set_config(h->dev, &now, nvl, nvl_len,
		    peer_cb, h));
		free(nvl);
		CHECK(h->touched == 1);
	}

	/* A's first packet is staged and starts the handshake. */
	len = ipv4(pkt, ip_a, ip_b, "hello from C");
	encap(0, pkt, len, 0);
	CHECK(hosts[0].nstaged == 1);
	CHECK(wire_to == 1 && wire.len == 148);
	pump();
	CHECK(hosts[0].nstaged == 0);
	CHECK(hosts[1].ndelivered == 1);
	CHECK(hosts[1].delivered.len == len);
	CHECK(memcmp(hosts[1].delivered.data, pkt, len) == 0);

	/* B answers at once: its session was confirmed by A's data. */
	len = ipv4(pkt, ip_b, ip_a, "and back");
	encap(1, pkt, len, 0);
	CHECK(hosts[1].nstaged == 0);
	pump();
	CHECK(hosts[0].ndelivered == 1);
	CHECK(memcmp(hosts[0].delivered.data, pkt, len) == 0);

	/* Counters agree across the two sides. */
	CHECK_RC(wg_core_peer_stats(hosts[0].dev, hosts[0].peer, &sa));
	CHECK_RC(wg_core_peer_stats(hosts[1].dev, hosts[1].peer, &sb));
	CHECK(sa.tx_bytes == sb.rx_bytes && sb.tx_bytes == sa.rx_bytes);
	CHECK(sa.last_handshake_sec == now.real_ns / 1000000000ULL);

	/* Routing without sealing, and the socket parameters. */
	{
		uint32_t peer = WG_CORE_NO_PEER;
		uint32_t cookie = 1;
		uint16_t port = 0;

		len = ipv4(pkt, ip_a, ip_b, "route me");
		CHECK_RC(wg_core_route(hosts[0].dev, pkt, len, &peer));
		CHECK(peer == hosts[0].peer);
		len = ipv4(pkt, ip_a, (const uint8_t[4]){ 10, 9, 9, 9 }, "x");
		CHECK(wg_core_route(hosts[0].dev, pkt, len, &peer) == ENOENT);
		CHECK(wg_core_route(hosts[0].dev, pkt, 3, &peer) == EINVAL);
		CHECK_RC(wg_core_get_listen_port(hosts[0].dev, &port, &cookie));
		CHECK(port == 51820 && cookie == 0);
		/* A dry run of B's configuration on A reports its port. */
		nvl = read_file(argv[2], &nvl_len);
		port = 0;
		CHECK_RC(wg_core_check_config(hosts[0].dev, nvl, nvl_len,
		    &port, &cookie));
		CHECK(port == 51821);
		CHECK(wg_core_check_config(hosts[0].dev, nvl, 5, &port,
		    &cookie) != 0);
		free(nvl);
		CHECK_RC(wg_core_get_listen_port(hosts[0].dev, &port, &cookie));
		CHECK(port == 51820);
	}

	/* SIOCGWG's size negotiation. */
	need = 0;
	CHECK_RC(wg_core_get_config(hosts[0].dev, 1, NULL, &need));
	CHECK(need > 0);
	len = need - 1;
	got = malloc(need);
	CHECK(got != NULL);
	CHECK(wg_core_get_config(hosts[0].dev, 1, got, &len) == ENOSPC);
	len = need;
	CHECK_RC(wg_core_get_config(hosts[0].dev, 1, got, &len));
	CHECK(len == need);
	CHECK(got[0] == 0x6c);	/* libnv's magic */
	len = 0;
	CHECK_RC(wg_core_get_config(hosts[0].dev, 0, NULL, &len));
	CHECK(len < need);	/* no private key for the unprivileged */
	free(got);

	check_error_paths(hosts[1].dev);

	/* Down: sessions are forgotten; the next packet is staged again. */
	wg_core_dev_clear_sessions(hosts[0].dev);
	len = ipv4(pkt, ip_a, ip_b, "after down");
	encap(0, pkt, len, 0);
	CHECK(hosts[0].nstaged == 1);

	for (i = 0; i < 2; i++)
		wg_core_dev_destroy(hosts[i].dev);
	wg_core_dev_destroy(NULL);
	printf("c driver: ok\n");
	return (0);
}
