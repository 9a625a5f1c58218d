/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * callout(9), after sys/kern/kern_timeout.c: one softclock thread runs
 * callouts at their time, outside any lock of the caller's.  Enforced:
 * callout_init before use; callout_drain may sleep and waits for a
 * running handler; a callout must not be armed or running when the memory
 * holding it is freed (FreeBSD would run freed memory later).
 */
#include "kh.h"

#include <sys/callout.h>

static host_mutex_t *kh_co_mtx;
static host_cond_t *kh_co_cv;		/* softclock: new earliest time */
static host_cond_t *kh_co_done;		/* a handler finished */
static TAILQ_HEAD(, callout) kh_co_list = TAILQ_HEAD_INITIALIZER(kh_co_list);
static struct callout *kh_co_running;
static host_thread_t *kh_co_thread;
static int kh_co_stop;
static struct kh_thread *kh_co_kt;	/* the softclock thread */

#define	KH_CO_MAGIC	0x6b68636fu
/* c_cpu holds a magic while initialised: callout_init was called. */

static void
kh_softclock(void *arg __unused)
{
	struct callout *c;
	callout_func_t *fn;
	void *fnarg;
	sbintime_t now;
	uint64_t ns;

	kh_co_kt = kh_curthread();
	host_mutex_lock(kh_co_mtx);
	while (!kh_co_stop) {
		c = TAILQ_FIRST(&kh_co_list);
		now = kh_sbinuptime();
		if (c == NULL || c->c_time > now) {
			if (c == NULL)
				host_cond_wait(kh_co_cv, kh_co_mtx);
			else {
				ns = host_monotonic_ns() +
				    sbttons(c->c_time - now);
				(void)host_cond_timedwait(kh_co_cv, kh_co_mtx,
				    ns);
			}
			continue;
		}
		TAILQ_REMOVE(&kh_co_list, c, c_links.tqe);
		c->c_iflags &= ~CALLOUT_PENDING;
		fn = c->c_func;
		fnarg = c->c_arg;
		kh_co_running = c;
		host_mutex_unlock(kh_co_mtx);
		fn(fnarg);
		if (kh_curthread()->nheld != 0 ||
		    kh_curthread()->epochnest != 0)
			kh_panic("callout handler %p returned holding locks or "
			    "in an epoch section", fn);
		host_mutex_lock(kh_co_mtx);
		kh_co_running = NULL;
		host_cond_broadcast(kh_co_done);
	}
	host_mutex_unlock(kh_co_mtx);
}

void
kh_callout_init_model(void)
{

	kh_co_mtx = host_mutex_new();
	kh_co_cv = host_cond_new();
	kh_co_done = host_cond_new();
	kh_co_thread = kh_thread_start("softclock", 0, kh_softclock, NULL);
}

void
kh_callout_fini_model(void)
{

	host_mutex_lock(kh_co_mtx);
	if (!TAILQ_EMPTY(&kh_co_list))
		kh_panic("callouts still armed at shutdown (first: %p)",
		    TAILQ_FIRST(&kh_co_list)->c_func);
	kh_co_stop = 1;
	host_cond_broadcast(kh_co_cv);
	host_mutex_unlock(kh_co_mtx);
	host_thread_join(kh_co_thread);
}

void
callout_init(struct callout *c, int mpsafe)
{

	if (!mpsafe)
		kh_panic("callout_init: only MPSAFE callouts are modelled");
	memset(c, 0, sizeof(*c));
	c->c_cpu = KH_CO_MAGIC;
	c->c_iflags = CALLOUT_MPSAFE;
}

static void
kh_co_check(struct callout *c, const char *op)
{

	if (c->c_cpu != (int)KH_CO_MAGIC)
		kh_panic("%s on a callout never initialised (or freed)", op);
}

int
callout_reset_sbt_on(struct callout *c, sbintime_t sbt, sbintime_t prec,
    callout_func_t *fn, void *arg, int cpu __unused, int flags)
{
	struct callout *o;
	int was;

	kh_co_check(c, "callout_reset");
	if (fn == NULL)
		kh_panic("callout_reset: no function");
	host_mutex_lock(kh_co_mtx);
	was = (c->c_iflags & CALLOUT_PENDING) != 0;
	if (was)
		TAILQ_REMOVE(&kh_co_list, c, c_links.tqe);
	c->c_time = (flags & C_ABSOLUTE) != 0 ? sbt : kh_sbinuptime() + sbt;
	c->c_precision = prec;
	c->c_func = fn;
	c->c_arg = arg;
	c->c_iflags |= CALLOUT_PENDING;
	c->c_flags |= CALLOUT_ACTIVE;
	TAILQ_FOREACH(o, &kh_co_list, c_links.tqe)
		if (o->c_time > c->c_time)
			break;
	if (o == NULL)
		TAILQ_INSERT_TAIL(&kh_co_list, c, c_links.tqe);
	else
		TAILQ_INSERT_BEFORE(o, c, c_links.tqe);
	host_cond_broadcast(kh_co_cv);
	host_mutex_unlock(kh_co_mtx);
	return (was);
}

int
_callout_stop_safe(struct callout *c, int flags, void (*drain)(void *))
{
	int was;

	kh_co_check(c, (flags & CS_DRAIN) != 0 ? "callout_drain" :
	    "callout_stop");
	if (drain != NULL)
		kh_panic("callout_async_drain is not modelled");
	if ((flags & CS_DRAIN) != 0)
		kh_check_sleep("callout_drain");
	host_mutex_lock(kh_co_mtx);
	was = (c->c_iflags & CALLOUT_PENDING) != 0;
	if (was)
		TAILQ_REMOVE(&kh_co_list, c, c_links.tqe);
	c->c_iflags &= ~CALLOUT_PENDING;
	c->c_flags &= ~CALLOUT_ACTIVE;
	if ((flags & CS_DRAIN) != 0) {
		if (kh_co_running == c && kh_curthread() == kh_co_kt)
			kh_panic("callout_drain from its own handler");
		while (kh_co_running == c)
			host_cond_wait(kh_co_done, kh_co_mtx);
	}
	host_mutex_unlock(kh_co_mtx);
	return (was);
}

int
kh_callout_check_free(const void *p, size_t len)
{
	const char *lo = p, *hi = lo + len;
	struct callout *c;
	int bad = 0;

	if (kh_co_mtx == NULL)
		return (0);
	host_mutex_lock(kh_co_mtx);
	TAILQ_FOREACH(c, &kh_co_list, c_links.tqe)
		if ((const char *)c >= lo && (const char *)c < hi)
			bad = 1;
	if (kh_co_running != NULL && (const char *)kh_co_running >= lo &&
	    (const char *)kh_co_running < hi &&
	    kh_curthread_or_null() != kh_co_kt)
		bad = 2;
	host_mutex_unlock(kh_co_mtx);
	return (bad);
}
