/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * kharness ctl: a client of the control door, for scripts; what
 * ifconfig(8) does to a FreeBSD kernel, and raw SIOCSWG/SIOCGWG for tests
 * of hostile input.  Prints the errno's number on failure and exits 1.
 *
 *   kharness ctl DOOR [-u] create NAME | destroy NAME | up NAME | down NAME
 *       | mtu NAME N | rename NAME NEW | list | stats NAME
 *       | set NAME FILE [SIZE]   SIOCSWG with FILE's bytes (wgd_size SIZE)
 *       | get NAME [SIZE]        SIOCGWG: prints "size N", then the bytes
 *                                 in hex when SIZE (default: asks first)
 *       | null NAME set|get SIZE wgd_data NULL with wgd_size SIZE
 *   -u: the caller lacks PRIV_NET_WG.
 */
#include "kh.h"

#include <machine/stdarg.h>

#include "../ctl.h"

static int
kh_call(const char *door, struct kh_ctl_req *req, const void *in,
    void *out, uint64_t outcap, struct kh_ctl_resp *resp)
{
	char *buf;
	int fd;
	long n;

	if ((fd = host_unix_connect(door)) < 0) {
		kh_log("%s: error %d", door, -fd);
		return (-1);
	}
	req->magic = KH_CTL_MAGIC;
	buf = host_alloc(req->buflen + 1);
	if (in != NULL)
		memcpy(buf, in, req->buflen);
	n = host_write_full(fd, req, sizeof(*req));
	if (n == sizeof(*req) && req->buflen > 0)
		n = host_write_full(fd, buf, req->buflen) ==
		    (long)req->buflen ? (long)sizeof(*req) : -1;
	host_free(buf);
	if (n != sizeof(*req) ||
	    host_read_full(fd, resp, sizeof(*resp)) != sizeof(*resp) ||
	    resp->magic != KH_CTL_MAGIC || resp->buflen > outcap ||
	    host_read_full(fd, out, resp->buflen) != (long)resp->buflen) {
		kh_log("%s: broken answer", door);
		host_close(fd);
		return (-1);
	}
	host_close(fd);
	return (0);
}

static void
kh_print(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	host_write(1, buf, MIN((size_t)n, sizeof(buf) - 1));
}

int
kh_ctl_client(int argc, char **argv)
{
	struct kh_ctl_req req;
	struct kh_ctl_resp resp;
	const char *door, *op;
	static char out[1 << 20];
	char *in = NULL;
	unsigned long inlen = 0;
	uint64_t i;

	if (argc < 2)
		return (2);
	door = argv[0];
	argv++;
	argc--;
	memset(&req, 0, sizeof(req));
	if (strcmp(argv[0], "-u") == 0) {
		req.flags |= KH_CTL_F_UNPRIV;
		argv++;
		argc--;
	}
	op = argv[0];
	if (argc >= 2)
		strlcpy(req.name, argv[1], sizeof(req.name));
	if (strcmp(op, "create") == 0 && argc == 2) {
		req.op = KH_CTL_CREATE;
		req.buflen = 16;
	} else if (strcmp(op, "destroy") == 0 && argc == 2)
		req.op = KH_CTL_DESTROY;
	else if ((strcmp(op, "up") == 0 || strcmp(op, "down") == 0) &&
	    argc == 2) {
		req.op = KH_CTL_SETUP;
		req.arg = op[0] == 'u';
	} else if (strcmp(op, "mtu") == 0 && argc == 3) {
		req.op = KH_CTL_SETMTU;
		req.arg = strtoul(argv[2], NULL, 10);
	} else if (strcmp(op, "rename") == 0 && argc == 3) {
		req.op = KH_CTL_RENAME;
		in = argv[2];
		req.buflen = strlen(in) + 1;
	} else if (strcmp(op, "list") == 0 && argc == 1) {
		req.op = KH_CTL_LIST;
		req.buflen = 4096;
	} else if (strcmp(op, "stats") == 0 && argc == 2) {
		req.op = KH_CTL_STATS;
		req.buflen = 4096;
	} else if (strcmp(op, "set") == 0 && (argc == 3 || argc == 4)) {
		req.op = KH_CTL_SIOCSWG;
		if ((in = host_read_file(argv[2], &inlen)) == NULL) {
			kh_log("%s: cannot read", argv[2]);
			return (1);
		}
		req.buflen = inlen;
		req.size = argc == 4 ? strtoul(argv[3], NULL, 10) : inlen;
	} else if (strcmp(op, "get") == 0 && (argc == 2 || argc == 3)) {
		req.op = KH_CTL_SIOCGWG;
		if (argc == 3)
			req.size = strtoul(argv[2], NULL, 10);
		else {
			if (kh_call(door, &req, NULL, out, sizeof(out),
			    &resp) != 0)
				return (1);
			if (resp.error != 0) {
				kh_print("error %d\n", resp.error);
				return (1);
			}
			req.size = resp.size;
		}
		req.buflen = req.size;
	} else if (strcmp(op, "null") == 0 && argc == 4) {
		req.op = strcmp(argv[2], "set") == 0 ? KH_CTL_SIOCSWG :
		    KH_CTL_SIOCGWG;
		req.flags |= KH_CTL_F_NULLDATA;
		req.size = strtoul(argv[3], NULL, 10);
	} else
		return (2);
	if (req.buflen > sizeof(out)) {
		kh_log("buffer too big");
		return (1);
	}
	if (kh_call(door, &req, in, out, sizeof(out), &resp) != 0)
		return (1);
	if (inlen > 0)
		host_free(in);
	if (resp.error != 0) {
		kh_print("error %d\n", resp.error);
		if (req.op == KH_CTL_SIOCGWG)
			kh_print("size %ju\n", (uintmax_t)resp.size);
		return (1);
	}
	switch (req.op) {
	case KH_CTL_CREATE:
		kh_print("%s\n", out);
		break;
	case KH_CTL_LIST:
		for (i = 0; i < resp.buflen; i += strlen(out + i) + 1)
			kh_print("%s\n", out + i);
		break;
	case KH_CTL_STATS:
		host_write(1, out, resp.buflen);
		break;
	case KH_CTL_SIOCGWG:
		kh_print("size %ju\n", (uintmax_t)resp.size);
		for (i = 0; i < resp.buflen && i < resp.size; i++)
			kh_print("%02x%s", (unsigned char)out[i],
			    i + 1 == resp.buflen || i + 1 == resp.size ||
			    i % 32 == 31 ? "\n" : "");
		break;
	}
	return (0);
}
