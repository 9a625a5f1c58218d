/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * kharness: a model of the FreeBSD kernel interfaces kmod/if_wg.c calls,
 * compiled against FreeBSD's kernel headers (those `make check-freebsd`
 * uses) so that the shim, compiled unchanged beside it, sees the same
 * structures and macros as in a kernel.  Linux comes in only through
 * host/host.h.
 *
 * Every model enforces its contract and fails loudly (kh_panic): sleeping
 * where FreeBSD forbids it, lock order reversals, unpaired epoch sections,
 * leaked or doubly freed memory.  It is a model of FreeBSD, not FreeBSD:
 * each file names the FreeBSD source it follows.
 */
#ifndef _KH_H_
#define	_KH_H_

#include <sys/param.h>
#include <sys/systm.h>
#include <sys/kernel.h>
#include <sys/lock.h>
#include <sys/malloc.h>
#include <sys/mutex.h>
#include <sys/pcpu.h>
#include <sys/proc.h>

#include "../host/host.h"

/*
 * A harness thread: FreeBSD's struct thread first (curthread points here,
 * through the GS base, as on amd64), then what the model tracks.
 */
#define	KH_MAXLOCKS	32
struct kh_lock_held {
	struct lock_object	*lo;
	const char		*file;
	int			 line;
	int			 shared;
};
struct kh_thread {
	struct thread		 td;
	struct pcpu		*pcpu;
	char			 name[32];
	int			 nheld;
	struct kh_lock_held	 held[KH_MAXLOCKS];
	int			 epochnest;	/* net epoch sections */
	int			 fpu;		/* in fpu_kern_enter */
	int			 unprivileged;	/* priv_check: EPERM */
	struct proc		 proc;		/* its own: p_fibnum (setfib) */
};

/* Fails the run: message, where, a backtrace, abort(). */
void	kh_panic(const char *fmt, ...) __dead2 __printflike(1, 2);
/* log(9) calls so far (the core logs through the shim's wg_host_log). */
extern volatile u_long kh_log_count;
/* A line on stderr, prefixed "kharness: ". */
void	kh_log(const char *fmt, ...) __printflike(1, 2);
/* The thread's own pcpu; NULL on a thread the model never adopted. */
extern __thread struct pcpu *kh_self_pcpu;

static inline struct kh_thread *
kh_curthread(void)
{

	if (kh_self_pcpu == NULL)
		kh_panic("a kernel interface called on a thread the model "
		    "does not know");
	return ((struct kh_thread *)curthread);
}
struct kh_thread *kh_curthread_or_null(void);


/*
 * Fails the run unless the current thread may sleep: no mutex or rwlock
 * held, no critical section, no epoch section, no THREAD_NO_SLEEPING().
 * what names the sleeping call (the message names it).
 */
void	kh_check_sleep(const char *what);

/*
 * Fault injection for M_NOWAIT allocations: true when this one is to fail
 * (KH_FAULT_RATE per million, from a seed; see kern_malloc.c).
 */
bool	kh_fault(const char *site);

/* Threads of the model (taskqueues, callouts, sockets, the control door). */
struct kh_thread *kh_thread_self_init(const char *name, int cpu);
void	kh_thread_self_fini(void);
host_thread_t *kh_thread_start(const char *name, int cpu,
	    void (*fn)(void *), void *arg);
extern int kh_ncpus;
void	kh_cpus_init(void);
uint64_t kh_sbinuptime(void);

/* Module, VNETs, jails, credentials, user memory (kern_module.c). */
struct prison;
struct vnet;
extern struct malloc_type M_KH_KERN[1], M_KH_TASKQUEUE[1];
void	kh_boot(void);
void	kh_kldload(void);
/* kldload that may fail as FreeBSD's does (ENOEXEC: MOD_LOAD refused). */
int	kh_kldload_try(void);
void	kh_kldunload(void);
struct ucred *kh_cred_default(void);
struct vnet *kh_vnet_create(void);
void	kh_vnet_destroy(struct vnet *vnet);
struct prison *kh_jail_create(const char *name);
struct ucred *kh_jail_cred(struct prison *pr);
void	kh_jail_remove(struct prison *pr);
void	*kh_uregion_add(void *kaddr, size_t len);
void	kh_uregion_clear(void);
void	kh_callout_fini_model(void);

/* mbufs (kern_mbuf.c) */
void	kh_mbuf_init_model(void);

/* Interfaces (if.c) */
void	kh_if_init_model(void);
void	kh_if_return_home(struct vnet *vnet);
void	kh_if_check_vnet_empty(struct vnet *vnet);
struct ifnet;
int	kh_if_create(const char *name, char *out, size_t outlen);
struct ifnet *kh_ifunit(const char *name);	/* held */
void	kh_if_rele(struct ifnet *ifp);
int	kh_if_destroy(const char *name);
int	kh_if_setup(struct ifnet *ifp, int up);
int	kh_if_setmtu(struct ifnet *ifp, int mtu);
int	kh_if_rename(struct ifnet *ifp, const char *newname);
int	kh_if_vmove(struct ifnet *ifp, struct vnet *to);
size_t	kh_if_list(const char *group, char *buf, size_t len);
uint64_t kh_if_counter(struct ifnet *ifp, int cnt);
uint64_t kh_if_taps(struct ifnet *ifp);
/* The FIB (M_GETFIB) of the last packet the interface dispatched. */
int	kh_if_last_fib(struct ifnet *ifp);
int	kh_if_count(void);
int	kh_if_sync_tun(struct vnet *vnet);

/* Sockets (uipc_socket.c) */
void	kh_socket_init_model(void);
long	kh_socket_count(void);
/* Open sockets whose FIB is fib, after adding add (0: just count). */
#define	KH_SO_FIBS	16
long	kh_so_fib_count(int fib, int add);
/* ICMP and ICMPv6 errors icmp_error()/icmp6_error() sent (ip_icmp.c). */
extern volatile u_long kh_icmp_sent, kh_icmp6_sent;

/* Set-up of each model, in order (kern_main.c calls them). */
void	kh_lock_init_model(void);
void	kh_malloc_init_model(void);
void	kh_epoch_init_model(void);
void	kh_callout_init_model(void);

/* M_NOWAIT failures per million from now on (0: none). */
void	kh_fault_set(uint32_t ppm);
uint32_t kh_fault_get(void);
extern int kh_trace_udp;
extern volatile u_long kh_faults_injected;

/*
 * free(9) and friends call this: a block about to be freed must not hold
 * an armed callout, a queued or running task.
 */
void	kh_check_free(const void *p, size_t len);
int	kh_callout_check_free(const void *p, size_t len);
int	kh_task_check_free(const void *p, size_t len);

/* Outstanding allocations, for the leak checks. */
long	kh_malloc_total(struct malloc_type *mtp);
long	kh_malloc_outstanding(struct malloc_type *mtp);
long	kh_mbuf_outstanding(void);	/* mbufs + clusters + m_tags */
void	kh_malloc_report(void);
void	kh_mbuf_report(void);

/* Lock bookkeeping shared by the lock models (kern_lock.c). */
void	kh_lock_acquired(struct lock_object *lo, int shared,
	    const char *file, int line);
void	kh_lock_released(struct lock_object *lo, const char *file, int line);
int	kh_lock_owned(struct lock_object *lo);	/* 0, 1 shared, 2 excl. */
void	kh_lock_destroyed(struct lock_object *lo);

#endif
