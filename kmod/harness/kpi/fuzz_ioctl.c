/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * libFuzzer target: SIOCSWG and SIOCGWG through the shim's real ioctl
 * path (wg_ioctl, copyin/copyout, the core's nvlist decoder and its
 * all-or-nothing configuration), on one interface that stays up.
 *
 * Input: byte 0 chooses the request (privileged or not, SIOCSWG or
 * SIOCGWG, the wgd_size claimed against the buffer lent); the rest is
 * the caller's buffer.  After each input: the interface still answers
 * SIOCGWG with its own private key (a refused request changed nothing
 * that matters), mbufs do not pile up, and a replace-peers request
 * brings it back to no peers so inputs stay independent.
 *
 * Built by `make kharness-fuzz` (clang, -fsanitize=fuzzer,address);
 * KH_FUZZ_SEEDS=DIR writes a seed corpus and exits.
 */
#include "kh.h"

#include <sys/socket.h>
#include <net/if.h>
#include <net/if_var.h>
#include <netinet/in.h>

#include "../ctl.h"
#include "testlib.h"

int	LLVMFuzzerInitialize(int *argc, char ***argv);
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fz_name[IFNAMSIZ];
static uint8_t fz_priv[32];

static void
fz_seed(const char *dir, int n, const void *p, size_t len)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/seed%02d", dir, n);
	if (host_write_file(path, p, len) != 0)
		kh_panic("cannot write %s", path);
}

/* Valid requests of every kind the decoder knows, as seeds. */
static void
fz_seeds(const char *dir)
{
	struct nvb b;
	struct sockaddr_in6 sin6;
	struct sockaddr_in sin;
	uint8_t key[32], ip6[16] = { 0xfd, 0 }, ip4[4] = { 10, 1, 2, 3 };
	uint8_t out[4097];
	int n = 0;

	memset(&sin, 0, sizeof(sin));
	sin.sin_len = sizeof(sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons(51820);
	sin.sin_addr.s_addr = htonl(0x7f000001);
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_len = sizeof(sin6);
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(51821);
	sin6.sin6_addr.s6_addr[15] = 1;
	arc4random_buf(key, sizeof(key));

	memset(&b, 0, sizeof(b));
	nvb_header(&b);
	nvb_number(&b, "listen-port", 51820);
	nvb_finish(&b);
	out[0] = 0;
	memcpy(out + 1, b.buf, b.len);
	fz_seed(dir, n++, out, b.len + 1);

	memset(&b, 0, sizeof(b));
	nvb_header(&b);
	nvb_bool(&b, "replace-peers", 1);
	nvb_binary(&b, "private-key", key, 32);
	nvb_number(&b, "user-cookie", 7);
	nvb_pair(&b, 11, "peers", 0, 2);
	nvb_header(&b);
	nvb_binary(&b, "public-key", key, 32);
	nvb_binary(&b, "preshared-key", key, 32);
	nvb_binary(&b, "endpoint", &sin, sizeof(sin));
	nvb_number(&b, "persistent-keepalive-interval", 25);
	nvb_bool(&b, "replace-allowedips", 1);
	nvb_pair(&b, 11, "allowed-ips", 0, 2);
	nvb_header(&b);
	nvb_number(&b, "cidr", 24);
	nvb_binary(&b, "ipv4", ip4, 4);
	nvb_next(&b);
	nvb_header(&b);
	nvb_number(&b, "cidr", 64);
	nvb_binary(&b, "ipv6", ip6, 16);
	nvb_next(&b);
	nvb_next(&b);
	key[0] ^= 1;
	nvb_header(&b);
	nvb_binary(&b, "public-key", key, 32);
	nvb_binary(&b, "endpoint", &sin6, sizeof(sin6));
	nvb_bool(&b, "remove", 1);
	nvb_next(&b);
	nvb_finish(&b);
	out[0] = 0;
	memcpy(out + 1, b.buf, b.len);
	fz_seed(dir, n++, out, b.len + 1);
	out[0] = 1;		/* the same, unprivileged */
	fz_seed(dir, n++, out, b.len + 1);
	out[0] = 2;		/* SIOCGWG */
	fz_seed(dir, n++, out, 64);
}

static void
fz_reset(void)
{
	struct nvb b;
	size_t size;
	int error;

	memset(&b, 0, sizeof(b));
	nvb_header(&b);
	nvb_bool(&b, "replace-peers", 1);
	nvb_binary(&b, "private-key", fz_priv, 32);
	nvb_finish(&b);
	size = b.len;
	error = t_ioctl(KH_CTL_SIOCSWG, fz_name, b.buf, b.len, &size, 0);
	if (error != 0)
		kh_panic("fuzz: resetting the interface failed: %d", error);
}

int
LLVMFuzzerInitialize(int *argc __unused, char ***argv __unused)
{
	const char *dir;
	if_t ifp;
	int error;

	kh_boot();
	kh_socket_init_model();
	if ((dir = host_getenv("KH_FUZZ_SEEDS")) != NULL) {
		fz_seeds(dir);
		host_exit(0);
	}
	kh_kldload();
	curthread->td_vnet = vnet0;
	if ((error = kh_if_create("wg", fz_name, sizeof(fz_name))) != 0)
		kh_panic("fuzz: create: %d", error);
	arc4random_buf(fz_priv, sizeof(fz_priv));
	fz_reset();
	ifp = kh_ifunit(fz_name);
	if (kh_if_setup(ifp, 1) != 0)
		kh_panic("fuzz: up");
	kh_if_rele(ifp);
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[1 << 16];
	uint8_t key[32], *g;
	size_t len, wgd;
	int flags, op;

	if (size < 1 || size - 1 > sizeof(buf))
		return (0);
	len = size - 1;
	memcpy(buf, data + 1, len);
	flags = (data[0] & 1) != 0 ? KH_CTL_F_UNPRIV : 0;
	op = (data[0] & 2) != 0 ? KH_CTL_SIOCGWG : KH_CTL_SIOCSWG;
	/* Sometimes claim another size than the buffer lent, or none. */
	switch ((data[0] >> 2) & 3) {
	case 0:
		wgd = len;
		break;
	case 1:
		wgd = 0;
		break;
	case 2:
		wgd = len + (data[0] >> 4);
		break;
	default:
		wgd = len / 2;
		flags |= (data[0] & 0x40) != 0 ? KH_CTL_F_NULLDATA : 0;
	}
	(void)t_ioctl(op, fz_name, buf, len, &wgd, flags);

	if (t_get(fz_name, &g, &len, 0) != 0)
		kh_panic("fuzz: SIOCGWG fails after an input");
	if (nv_find32(g, len, "private-key", key) != 0 ||
	    memcmp(key, fz_priv, 32) != 0) {
		/* Only a privileged SIOCSWG may change the key. */
		if (op != KH_CTL_SIOCSWG || (flags & KH_CTL_F_UNPRIV) != 0)
			kh_panic("fuzz: the private key changed without a "
			    "privileged SIOCSWG");
	}
	host_free(g);
	fz_reset();
	/*
	 * Up, with peers and endpoints, the interface sends handshakes of its
	 * own: a few mbufs are in flight at any time, a leak grows without
	 * bound.
	 */
	if (kh_mbuf_outstanding() > 4096)
		kh_panic("fuzz: %ld mbufs outstanding", kh_mbuf_outstanding());
	return (0);
}
