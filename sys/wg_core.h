/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * What the Rust core (libwg_ffi.a) exports to the if_wg.ko shim.
 *
 * The core is sans-IO: the host hands it packets, the time and (through
 * wg_host.h) randomness, and it answers with what to do.  Every function
 * returns 0 or an errno and never panics on any input.  All calls on one
 * device may be made concurrently from any number of threads; packets of
 * different peers do not contend.
 *
 * A host's duties, in short:
 * - encapsulate: put the IP packet at buf + WG_CORE_HEADROOM with at least
 *   WG_CORE_TAILROOM bytes after it.  SEND: transmit buf[0..len] to the
 *   endpoint, and poll the peer if poll is set.  STAGED: keep the packet on
 *   the peer's queue (at most WG_CORE_MAX_STAGED, dropping the oldest) and
 *   poll the peer.
 * - decapsulate: REPLY: send out[0..len] back to the source.  TUNNEL:
 *   buf[offset..offset+len] is an IP packet for the stack.  If poll is set,
 *   poll the peer.
 * - poll_peer, until it answers IDLE, whenever told to and when the peer's
 *   deadline passes (a result's poll flag is also set when a packet armed a
 *   timer earlier than the deadline IDLE last gave, so a host that keeps
 *   one callout per peer, armed from IDLE, never misses a timer): SEND
 *   out[0..len] to the endpoint; FLUSH_STAGED: pass every staged packet, in
 *   order, to wg_core_encapsulate_to (or to wg_core_encapsulate, which
 *   routes it again: safer if the peer may have been removed meanwhile, as
 *   peer ids are reused); DROP_STAGED: free them.  IDLE carries the next
 *   deadline to arm a callout for.
 *
 * Errors of configuration (wg_core_set_config, wg_core_check_config):
 *   EFAULT   a NULL pointer, or an empty request;
 *   EBADMSG  the bytes are not a packed nvlist;
 *   E2BIG    the request itself is over a limit: its size or nesting depth
 *            (bounds derived from the limits below), or more peers, allowed
 *            IPs of one peer, or allowed IPs in all than the limits allow,
 *            in the one request;
 *   ENOSPC   the request is within the limits but the device would hold
 *            more than they allow once it is applied: peers, allowed IPs
 *            in all, or allowed IPs of one peer (counting what it has);
 *   EINVAL   a bad value: a key of the wrong type or size, an endpoint
 *            that is not a sockaddr_in of 16 or a sockaddr_in6 of 28 bytes
 *            with the matching family and sa_len, a port of 0, a prefix
 *            length past the address, an unknown allowed-IP flag;
 *   ENOMEM   memory for the change could not be had.
 * On every error nothing changed.  Packet calls answer EINVAL for a source
 * endpoint of an unknown family.
 */
#ifndef _WG_CORE_H_
#define	_WG_CORE_H_

#ifdef _KERNEL
#include <sys/types.h>
#else
#include <stddef.h>
#include <stdint.h>
#endif

struct wg_core_dev;

#define	WG_CORE_HEADROOM	16	/* data message header */
#define	WG_CORE_TAILROOM	31	/* padding (15) and tag (16) */
#define	WG_CORE_HANDSHAKE_MAX	148	/* size of an out buffer */
#define	WG_CORE_MAX_STAGED	128
#define	WG_CORE_KEY_LEN		32
#define	WG_CORE_NO_PEER		UINT32_MAX

/* Times in nanoseconds: monotonic for timers, real for timestamps. */
struct wg_time {
	uint64_t	mono_ns;
	uint64_t	real_ns;
};

#define	WG_CORE_AF_INET		4
#define	WG_CORE_AF_INET6	6

/* An outer UDP address; port in host byte order. */
struct wg_endpoint {
	uint8_t		family;		/* WG_CORE_AF_INET or _INET6 */
	uint8_t		pad;
	uint16_t	port;
	uint32_t	flowinfo;
	uint32_t	scope_id;
	uint8_t		addr[16];	/* IPv4 in the first 4 bytes */
};

#define	WG_CORE_ENCAP_SEND	1
#define	WG_CORE_ENCAP_STAGED	2

struct wg_core_encap_result {
	uint32_t		action;
	uint32_t		peer;
	uint32_t		poll;		/* non-zero: poll this peer */
	uint32_t		pad;
	size_t			len;
	struct wg_endpoint	endpoint;
};

#define	WG_CORE_DECAP_DONE	0
#define	WG_CORE_DECAP_REPLY	1
#define	WG_CORE_DECAP_TUNNEL	2

struct wg_core_decap_result {
	uint32_t	action;
	uint32_t	peer;		/* or WG_CORE_NO_PEER */
	uint32_t	poll;		/* non-zero: poll this peer */
	uint32_t	pad;
	size_t		offset;
	size_t		len;
};

#define	WG_CORE_PEER_IDLE		0
#define	WG_CORE_PEER_SEND		1
#define	WG_CORE_PEER_FLUSH_STAGED	2
#define	WG_CORE_PEER_DROP_STAGED	3

struct wg_core_poll_result {
	uint32_t		action;
	uint32_t		has_deadline;
	uint64_t		deadline;	/* monotonic ns, if has_deadline */
	size_t			len;
	struct wg_endpoint	endpoint;
};

/* What a configuration change did to a peer, for wg_core_peer_cb. */
#define	WG_CORE_PEER_REMOVED	1	/* free its staged packets, stop its callout */
#define	WG_CORE_PEER_TOUCHED	2	/* created or changed: poll it */

typedef void wg_core_peer_cb(void *arg, uint32_t peer, int event);

struct wg_core_peer_stats {
	uint64_t	rx_bytes;
	uint64_t	tx_bytes;
	uint64_t	last_handshake_sec;	/* 0: never */
	uint64_t	last_handshake_nsec;
	uint8_t		public_key[WG_CORE_KEY_LEN];
};

/*
 * What one device may hold, so that untrusted configuration cannot exhaust
 * kernel memory.  Defaults: 262144 peers, 1048576 allowed IPs per peer,
 * 2097152 in all.  Lowering a limit below what the device holds removes
 * nothing; requests that would add more then fail with ENOSPC.
 */
struct wg_core_limits {
	uint64_t	max_peers;
	uint64_t	max_allowed_ips_per_peer;
	uint64_t	max_allowed_ips_total;
};

int	wg_core_dev_create(struct wg_core_dev **devp);
void	wg_core_dev_destroy(struct wg_core_dev *dev);
void	wg_core_dev_set_mtu(struct wg_core_dev *dev, uint32_t mtu);
void	wg_core_dev_set_under_load(struct wg_core_dev *dev, int under_load);
int	wg_core_dev_get_limits(struct wg_core_dev *dev,
	    struct wg_core_limits *lim);
int	wg_core_dev_set_limits(struct wg_core_dev *dev,
	    const struct wg_core_limits *lim);

int	wg_core_encapsulate(struct wg_core_dev *dev, const struct wg_time *now,
	    uint8_t *buf, size_t buflen, size_t len,
	    struct wg_core_encap_result *res);
int	wg_core_encapsulate_to(struct wg_core_dev *dev, uint32_t peer,
	    const struct wg_time *now, uint8_t *buf, size_t buflen, size_t len,
	    struct wg_core_encap_result *res);
/*
 * A train of IP packets (a peer's transmit queue), each sealed as
 * wg_core_encapsulate seals one (routed again; sent, staged or refused
 * alike): pkts[i].error is 0 with pkts[i].res filled, or the errno
 * wg_core_encapsulate would return.  Consecutive packets of one peer share
 * one hold of its locks and one FPU section for their crypto (see
 * wg_host_fpu_enter), at most WG_CORE_ENCAP_BATCH packets at a time.
 * Returns 0, or EFAULT for a NULL dev, now or pkts (with n > 0).
 */
#define	WG_CORE_ENCAP_BATCH	8

struct wg_core_encap_pkt {
	uint8_t				*buf;
	size_t				 buflen;
	size_t				 len;
	int				 error;
	struct wg_core_encap_result	 res;
};

int	wg_core_encapsulate_batch(struct wg_core_dev *dev,
	    const struct wg_time *now, struct wg_core_encap_pkt *pkts, size_t n);

/*
 * Whether transport ChaCha20-Poly1305 runs vector code (AVX2 on amd64,
 * inside wg_host_fpu_enter/leave) or the portable code: decided once at
 * load by the CPU's features, before the first device.  allow 0 forces the
 * portable code (tests, a tunable).  Returns 1 for vector, 0 for portable.
 */
int	wg_core_simd_select(int allow);

int	wg_core_decapsulate(struct wg_core_dev *dev, const struct wg_time *now,
	    const struct wg_endpoint *src, uint8_t *buf, size_t len,
	    uint8_t *out, size_t outlen, struct wg_core_decap_result *res);
int	wg_core_poll_peer(struct wg_core_dev *dev, uint32_t peer,
	    const struct wg_time *now, uint8_t *out, size_t outlen,
	    struct wg_core_poll_result *res);

/*
 * Configuration in FreeBSD's SIOCSWG/SIOCGWG format (a packed nvlist), so
 * the shim passes the ioctl's bytes through.  set is all or nothing: on an
 * error nothing changed.  cb (may be NULL) hears of each removed or changed
 * peer once the change is made, with no lock of the core held (it may
 * sleep, and may call back into the core).  get: with *lenp == 0, *lenp is set to the
 * size needed and 0 returned; with a smaller *lenp, ENOSPC; otherwise the
 * nvlist is copied and *lenp set to its size.  Secret keys are included
 * only if privileged.
 */
int	wg_core_set_config(struct wg_core_dev *dev, const struct wg_time *now,
	    const uint8_t *nvl, size_t len, wg_core_peer_cb *cb, void *arg);
int	wg_core_get_config(struct wg_core_dev *dev, int privileged,
	    uint8_t *buf, size_t *lenp);

/*
 * The port the host's sockets actually bound when the configured listen
 * port is 0 (any), which SIOCGWG then reports, as FreeBSD's driver does.
 */
void	wg_core_set_bound_port(struct wg_core_dev *dev, uint16_t port);

/*
 * Checks an SIOCSWG nvlist as wg_core_set_config would, changing nothing,
 * and gives the listen port and user cookie it would leave, so the host
 * can bind the new port before applying: a port in use then fails the
 * request with nothing changed.
 */
int	wg_core_check_config(struct wg_core_dev *dev, const uint8_t *nvl,
	    size_t len, uint16_t *port, uint32_t *cookie);

int	wg_core_peer_stats(struct wg_core_dev *dev, uint32_t peer,
	    struct wg_core_peer_stats *st);

/*
 * Forgets every session and handshake (interface down): keys are wiped and
 * timers stopped; the next packet starts a new handshake.
 */
void	wg_core_dev_clear_sessions(struct wg_core_dev *dev);

/*
 * The peer the IP packet pkt[0..len] routes to by destination (allowed
 * IPs), without sealing it, so the host can queue packets per peer before
 * sealing them on that peer's task: 0 and *peer set; ENOENT when no peer's
 * allowed IPs cover the destination; EINVAL when pkt is not IPv4 or IPv6.
 */
int	wg_core_route(struct wg_core_dev *dev, const uint8_t *pkt, size_t len,
	    uint32_t *peer);

/*
 * What a datagram of len bytes whose first headlen bytes are head is, as
 * the socket layer may filter before copying or queueing it (FreeBSD's
 * wg_input does): WG_CORE_DGRAM_DATA (at least a header and a tag),
 * WG_CORE_DGRAM_HANDSHAKE (a handshake message of its exact size, the
 * reserved bytes zero), or 0: anything else, to drop.
 */
#define	WG_CORE_DGRAM_DATA	1
#define	WG_CORE_DGRAM_HANDSHAKE	2
int	wg_core_datagram_kind(const uint8_t *head, size_t headlen, size_t len);

/*
 * FreeBSD's struct sockaddr_in or sockaddr_in6 (salen bytes at sa, its
 * sa_len equal to salen; port and flow label in network order) as an
 * endpoint, and back: 0, or EINVAL for anything else.  To a sockaddr,
 * *salen is the room at sa on entry (ENOSPC if short), the length after.
 */
int	wg_core_endpoint_from_sockaddr(const void *sa, size_t salen,
	    struct wg_endpoint *e);
int	wg_core_endpoint_to_sockaddr(const struct wg_endpoint *e, void *sa,
	    size_t *salen);

/*
 * The configured listen port (0: none) and user cookie (SO_USER_COOKIE;
 * 0: none), which the host reads after wg_core_set_config to bind its
 * sockets.
 */
int	wg_core_get_listen_port(struct wg_core_dev *dev, uint16_t *port,
	    uint32_t *cookie);

#endif /* !_WG_CORE_H_ */
