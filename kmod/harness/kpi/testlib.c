/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * The tests' libnv packer and ioctl helpers (testlib.h).
 */
#include "kh.h"

#include "../ctl.h"
#include "testlib.h"

void
nvb_bytes(struct nvb *b, const void *p, size_t n)
{

	if (b->len + n > sizeof(b->buf))
		kh_panic("nvb: too long");
	memcpy(b->buf + b->len, p, n);
	b->len += n;
}

void
nvb_header(struct nvb *b)
{
	uint8_t h[19] = { 0x6c, 0, 0 };

	b->hdr[b->nhdr++] = b->len;
	nvb_bytes(b, h, sizeof(h));
}

void
nvb_pair(struct nvb *b, uint8_t type, const char *name, uint64_t datasize,
    uint64_t nitems)
{
	uint16_t ns = strlen(name) + 1;

	nvb_bytes(b, &type, 1);
	nvb_bytes(b, &ns, 2);
	nvb_bytes(b, &datasize, 8);
	nvb_bytes(b, &nitems, 8);
	nvb_bytes(b, name, ns);
}

void
nvb_number(struct nvb *b, const char *name, uint64_t v)
{

	nvb_pair(b, 3, name, 8, 0);
	nvb_bytes(b, &v, 8);
}

void
nvb_bool(struct nvb *b, const char *name, int v)
{
	uint8_t c = v != 0;

	nvb_pair(b, 2, name, 1, 0);
	nvb_bytes(b, &c, 1);
}

void
nvb_binary(struct nvb *b, const char *name, const void *p, size_t n)
{

	nvb_pair(b, 7, name, n, 0);
	nvb_bytes(b, p, n);
}

void
nvb_next(struct nvb *b)
{

	nvb_pair(b, 254, "", 0, 0);
}

size_t
nvb_finish(struct nvb *b)
{
	uint64_t size;
	int i;

	for (i = 0; i < b->nhdr; i++) {
		size = b->len - b->hdr[i] - 19;
		memcpy(b->buf + b->hdr[i] + 11, &size, 8);
	}
	return (b->len);
}

int
t_ioctl(int op, const char *name, void *buf, size_t buflen, size_t *size,
    int flags)
{
	struct kh_ctl_req req;
	uint64_t bl = buflen, sz = *size;
	int error;

	memset(&req, 0, sizeof(req));
	req.op = op;
	req.flags = flags;
	strlcpy(req.name, name, sizeof(req.name));
	req.size = *size;
	req.buflen = buflen;
	error = kh_ctl_exec(&req, buf, &bl, &sz);
	*size = sz;
	return (error);
}

/* SIOCGWG as wg(8) does it: the size, then the nvlist. */
int
t_get(const char *name, uint8_t **out, size_t *len, int flags)
{
	size_t size = 0;
	int error;

	if ((error = t_ioctl(KH_CTL_SIOCGWG, name, NULL, 0, &size, flags)))
		return (error);
	*out = host_alloc(size + 1);
	*len = size;
	error = t_ioctl(KH_CTL_SIOCGWG, name, *out, size, len, flags);
	if (error != 0) {
		host_free(*out);
		*out = NULL;
	}
	return (error);
}

/*
 * The value of the first pair NAME of nvpair type TYPE and VLEN bytes in a
 * packed list, or NULL.  A packed pair is a 19-byte header (type, name
 * size, data size, items), the name with its NUL, then the value.
 */
static const uint8_t *
nv_find(const uint8_t *b, size_t len, int type, const char *name, size_t vlen)
{
	size_t n = strlen(name) + 1, i;
	uint64_t ds;

	for (i = 19; i + 19 + n + vlen <= len; i++) {
		if (b[i] != type || memcmp(b + i + 19, name, n) != 0)
			continue;
		memcpy(&ds, b + i + 3, 8);
		if (ds == vlen)
			return (b + i + 19 + n);
	}
	return (NULL);
}

/* The value of the first number pair NAME in a packed list, or -1. */
int64_t
nv_find_number(const uint8_t *b, size_t len, const char *name)
{
	const uint8_t *v;
	uint64_t x;

	if ((v = nv_find(b, len, 3, name, 8)) == NULL)
		return (-1);
	memcpy(&x, v, 8);
	return ((int64_t)x);
}

/* The value of the first binary pair NAME of 32 bytes in a packed list. */
int
nv_find32(const uint8_t *b, size_t len, const char *name, uint8_t out[32])
{
	const uint8_t *v;

	if ((v = nv_find(b, len, 7, name, 32)) == NULL)
		return (ENOENT);
	memcpy(out, v, 32);
	return (0);
}

