/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * What the harness's tests and its ioctl fuzz target share: a little
 * libnv packer (numbers, binaries, bools, nvlist arrays: only what the
 * tests send; the product's codec is the core's) and ioctls through the
 * control door's path (copyin/copyout against a buffer lent as user
 * memory).
 */
#ifndef _KH_TESTLIB_H_
#define	_KH_TESTLIB_H_

struct kh_ctl_req;

struct nvb {
	uint8_t	 buf[4096];
	size_t	 len;
	size_t	 hdr[16];	/* offsets of headers, sizes patched at end */
	int	 nhdr;
};

void	nvb_header(struct nvb *b);
void	nvb_pair(struct nvb *b, uint8_t type, const char *name,
	    uint64_t datasize, uint64_t nitems);
void	nvb_number(struct nvb *b, const char *name, uint64_t v);
void	nvb_bool(struct nvb *b, const char *name, int v);
void	nvb_binary(struct nvb *b, const char *name, const void *p, size_t n);
void	nvb_next(struct nvb *b);
size_t	nvb_finish(struct nvb *b);

int	kh_ctl_exec(const struct kh_ctl_req *req, char *buf, uint64_t *buflen,
	    uint64_t *size);
/* One SIOCSWG/SIOCGWG (KH_CTL_*) with buf as the caller's memory. */
int	t_ioctl(int op, const char *name, void *buf, size_t buflen,
	    size_t *size, int flags);
/* SIOCGWG as wg(8) does it: the size, then the list (host_free it). */
int	t_get(const char *name, uint8_t **out, size_t *len, int flags);
/* The first number pair NAME in a packed list, or -1. */
int64_t	nv_find_number(const uint8_t *b, size_t len, const char *name);
/* The first binary pair NAME of 32 bytes in a packed list. */
int	nv_find32(const uint8_t *b, size_t len, const char *name,
	    uint8_t out[32]);

#endif
