/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * The configuration ioctls, with the layout and numbers of FreeBSD's own
 * if_wg (sys/dev/wg/if_wg.h) and wireguard-tools' ipc-freebsd.h, so that
 * stock wg(8) drives this driver.  The data is a packed nvlist.
 */
#ifndef _IF_WG_IOCTL_H_
#define	_IF_WG_IOCTL_H_

#include <sys/types.h>
#include <sys/ioccom.h>
#include <net/if.h>

/* The name comes first, as in struct ifreq: ifioctl() finds the ifnet. */
struct wg_data_io {
	char	 wgd_name[IFNAMSIZ];
	void	*wgd_data;		/* packed nvlist in user memory */
	size_t	 wgd_size;		/* its size; SIOCGWG: 0 asks for it */
};

#define	SIOCSWG	_IOWR('i', 210, struct wg_data_io)
#define	SIOCGWG	_IOWR('i', 211, struct wg_data_io)

#ifdef __LP64__
/* The values wg(8) was built with on amd64 and arm64. */
_Static_assert(sizeof(struct wg_data_io) == 32, "wg_data_io layout");
_Static_assert(SIOCSWG == 0xc02069d2, "SIOCSWG");
_Static_assert(SIOCGWG == 0xc02069d3, "SIOCGWG");
#endif

#endif /* !_IF_WG_IOCTL_H_ */
