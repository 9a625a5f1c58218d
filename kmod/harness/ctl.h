/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * kharness's control door: the "system calls" of the harness, on a unix
 * stream socket (default /var/run/kharness/<first interface>.ctl, or
 * kharness -s PATH).  It stands where ioctl(2) and ifconfig(8) stand on
 * FreeBSD: our wg's FreeBSD backend (WG_KHARNESS_SOCKET=PATH), the UAPI
 * bridge (kharness-uapi) and the tests send requests; kharness runs them
 * in a thread of the model with a credential, copyin(9)/copyout(9) against
 * the request's buffer as the caller's memory.
 *
 * Built only from builtin types: included from both header worlds and
 * mirrored in Rust (kmod/harness/ctl, crate kharness-ctl).  All integers
 * little-endian.
 *
 * Request:  struct kh_ctl_req, then buflen bytes (the caller's buffer).
 * Response: struct kh_ctl_resp, then buflen bytes (that buffer afterwards).
 * One request after another on a connection, until the caller closes it.
 */
#ifndef _KH_CTL_H_
#define	_KH_CTL_H_

#define	KH_CTL_MAGIC	0x3177686bU	/* "khw1" */
#define	KH_CTL_NAMSIZ	16		/* IFNAMSIZ */
#define	KH_CTL_BUFMAX	(64U << 20)	/* the door's own limit */

enum kh_ctl_op {
	/* ioctl(s, SIOCSWG / SIOCGWG, &(struct wg_data_io){ name, data, size }) */
	KH_CTL_SIOCSWG = 1,
	KH_CTL_SIOCGWG = 2,
	/* SIOCGIFGMEMB on group "wg": answer buffer = names, each NUL-ended */
	KH_CTL_LIST = 3,
	/* ifconfig NAME create ("wg": next unit); answer buffer = the name */
	KH_CTL_CREATE = 4,
	KH_CTL_DESTROY = 5,		/* ifconfig NAME destroy */
	KH_CTL_SETUP = 6,		/* ifconfig NAME up (arg 1) / down (0) */
	KH_CTL_SETMTU = 7,		/* ifconfig NAME mtu ARG */
	KH_CTL_RENAME = 8,		/* ifconfig NAME name BUF */
	KH_CTL_STATS = 9,		/* counters, text in the answer buffer */
};

/* flags */
#define	KH_CTL_F_UNPRIV		0x1	/* caller lacks PRIV_NET_WG */
#define	KH_CTL_F_NULLDATA	0x2	/* wgd_data is NULL (not the buffer) */

struct kh_ctl_req {
	unsigned int		magic;
	unsigned int		op;
	char			name[KH_CTL_NAMSIZ];
	unsigned int		flags;
	unsigned int		arg;
	unsigned long long	size;	/* wgd_size as the caller sets it */
	unsigned long long	buflen;	/* bytes of the caller's buffer */
};					/* 48 bytes */

struct kh_ctl_resp {
	unsigned int		magic;
	int			error;	/* FreeBSD errno; 0: success */
	unsigned long long	size;	/* wgd_size after the call */
	unsigned long long	buflen;
};					/* 24 bytes */

#endif
