/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * Services the host (the if_wg.ko shim, or a test driver) provides to the
 * Rust core.  The core calls nothing else: no clock, no sockets, no locks
 * of the host's.  The Rust declarations are generated from this file by
 * bindgen (`make bindings`) and committed; a test checks they are fresh.
 */
#ifndef _WG_HOST_H_
#define	_WG_HOST_H_

#ifdef _KERNEL
#include <sys/types.h>
#else
#include <stddef.h>
#include <stdint.h>
#endif

/* Fills buf with len cryptographically random bytes; cannot fail. */
void	wg_host_random(void *buf, size_t len);

/*
 * Memory.  The core allocates while it applies a configuration (an ioctl,
 * which may sleep: the host may wait for memory there) and once per
 * completed handshake, for the session's keypair (often in the network
 * epoch: the host must not sleep, and may return NULL, which drops that
 * handshake).  Nothing else allocates; packets never do.  align is a power
 * of two.
 */
void	*wg_host_alloc(size_t size, size_t align);
void	wg_host_free(void *ptr, size_t size, size_t align);

/* Log levels, as syslog(3) numbers them. */
#define	WG_HOST_LOG_ERR		3
#define	WG_HOST_LOG_WARNING	4
#define	WG_HOST_LOG_INFO	6
#define	WG_HOST_LOG_DEBUG	7

/* A message of len bytes, not NUL-terminated, never holding key material. */
void	wg_host_log(int level, const char *msg, size_t len);

/*
 * Locks for the core's state, in kernel builds (userspace builds spin).  A
 * mutex maps to mtx(9) (MTX_DEF) and an rwlock to rw(9), never to spin
 * locks: a holder preempted by a spinner, or pinned to its CPU in the
 * network epoch, could leave every CPU spinning.  The core holds them
 * briefly, never sleeps under them, and allocates under them only
 * fallibly, so while one is held the host must not sleep in wg_host_alloc
 * (FreeBSD: THREAD_NO_SLEEPING() while held).  create returns NULL when
 * out of memory.  name is the lock's class, a static string the host may
 * keep: WITNESS orders lock classes by name, so the core gives each kind
 * of lock its own (tables, peer, peer keys, replay, cookie) and a real
 * reversal between them shows.
 */
void	*wg_host_mutex_create(const char *name);
void	wg_host_mutex_destroy(void *m);
void	wg_host_mutex_lock(void *m);
void	wg_host_mutex_unlock(void *m);
void	*wg_host_rwlock_create(const char *name);
void	wg_host_rwlock_destroy(void *l);
void	wg_host_rwlock_rlock(void *l);
void	wg_host_rwlock_runlock(void *l);
void	wg_host_rwlock_wlock(void *l);
void	wg_host_rwlock_wunlock(void *l);

/*
 * FPU sections, for the vector ChaCha20-Poly1305 of amd64 kernel builds
 * (only those call them; wg_core_simd_select says whether they are used).
 * The core calls wg_host_fpu_enter before vector code and wg_host_fpu_leave
 * after it, on the same thread, with nothing else in between: no lock
 * taken, no allocation, no logging, no sleep, no second section.  It may
 * hold its own locks across a section (taken before, released after).
 * The shim: fpu_kern_enter(curthread, NULL, FPU_KERN_NOCTX) and
 * fpu_kern_leave(curthread, NULL), a critical section that saves nothing.
 */
void	wg_host_fpu_enter(void);
void	wg_host_fpu_leave(void);

/*
 * The core's panic handler ends here (kernel builds only; no input is
 * meant to reach it).  Must not return: the shim calls panic(9).
 */
void	wg_host_panic(const char *msg, size_t len);

#endif /* !_WG_HOST_H_ */
