/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * taskqueue(9), thread queues only, after sys/kern/subr_taskqueue.c: a
 * task queued twice runs once with ta_pending counting the requests;
 * handlers run on the queue's threads (really in parallel across queues);
 * taskqueue_drain may sleep and waits until the task is neither queued nor
 * running; taskqueue_free runs what is queued, then stops the threads.
 * A queued or running task must not be freed (kh_task_check_free).
 */
#include "kh.h"

#include <sys/cpuset.h>
#include <sys/limits.h>
#include <sys/taskqueue.h>
#include <machine/stdarg.h>

struct taskqueue {
	STAILQ_HEAD(, task)	 tq_queue;
	char			 tq_name[32];
	host_mutex_t		*tq_mtx;
	host_cond_t		*tq_cv;		/* work, or stop */
	host_cond_t		*tq_done;	/* a task finished */
	struct task		*tq_running[8];
	int			 tq_nthreads;
	host_thread_t		*tq_threads[8];
	struct kh_thread	*tq_kt[8];
	int			 tq_stop;
	int			 tq_cpu;
	LIST_ENTRY(taskqueue)	 tq_all;
};

static host_mutex_t *kh_tq_all_mtx;
static LIST_HEAD(, taskqueue) kh_tq_all = LIST_HEAD_INITIALIZER(kh_tq_all);

struct malloc_type M_KH_TASKQUEUE[1] = {{ .ks_shortdesc = "taskqueue" }};

/* Is this thread the queue's thread number i? */
static int
kh_tq_self(struct taskqueue *tq, int i)
{

	return (tq->tq_kt[i] != NULL && tq->tq_kt[i] == kh_curthread_or_null());
}

void
taskqueue_thread_enqueue(void *context __unused)
{
	/* Only a marker: our queues wake their own threads. */
}

struct taskqueue *
taskqueue_create(const char *name, int mflags, taskqueue_enqueue_fn enqueue,
    void *context __unused)
{
	struct taskqueue *tq;

	if (enqueue != taskqueue_thread_enqueue)
		kh_panic("taskqueue_create(\"%s\"): only thread queues are "
		    "modelled", name);
	tq = malloc(sizeof(*tq), M_KH_TASKQUEUE, mflags | M_ZERO);
	if (tq == NULL)
		return (NULL);
	STAILQ_INIT(&tq->tq_queue);
	strlcpy(tq->tq_name, name, sizeof(tq->tq_name));
	tq->tq_mtx = host_mutex_new();
	tq->tq_cv = host_cond_new();
	tq->tq_done = host_cond_new();
	if (kh_tq_all_mtx == NULL)
		kh_tq_all_mtx = host_mutex_new();
	host_mutex_lock(kh_tq_all_mtx);
	LIST_INSERT_HEAD(&kh_tq_all, tq, tq_all);
	host_mutex_unlock(kh_tq_all_mtx);
	return (tq);
}

struct kh_tq_thread {
	struct taskqueue	*tq;
	int			 slot;
};

static void
kh_tq_loop(void *arg)
{
	struct kh_tq_thread *a = arg;
	struct taskqueue *tq = a->tq;
	struct kh_thread *kt = kh_curthread();
	int slot = a->slot, pending;
	struct task *t;

	host_free(a);
	host_mutex_lock(tq->tq_mtx);
	tq->tq_kt[slot] = kt;
	for (;;) {
		t = STAILQ_FIRST(&tq->tq_queue);
		if (t == NULL) {
			if (tq->tq_stop)
				break;
			host_cond_wait(tq->tq_cv, tq->tq_mtx);
			continue;
		}
		STAILQ_REMOVE_HEAD(&tq->tq_queue, ta_link);
		pending = t->ta_pending;
		t->ta_pending = 0;
		tq->tq_running[slot] = t;
		host_mutex_unlock(tq->tq_mtx);
		t->ta_func(t->ta_context, pending);
		if (kt->nheld != 0 || kt->epochnest != 0 ||
		    kt->td.td_no_sleeping != 0 || kt->td.td_critnest != 0)
			kh_panic("task %p of \"%s\" returned holding locks, in "
			    "an epoch section or with sleeping disabled",
			    t->ta_func, tq->tq_name);
		host_mutex_lock(tq->tq_mtx);
		tq->tq_running[slot] = NULL;
		host_cond_broadcast(tq->tq_done);
	}
	host_mutex_unlock(tq->tq_mtx);
}

int
taskqueue_start_threads_cpuset(struct taskqueue **tqp, int count,
    int pri __unused, cpuset_t *mask, const char *name, ...)
{
	struct taskqueue *tq = *tqp;
	struct kh_tq_thread *a;
	char tname[32];
	va_list ap;
	int cpu, i;

	if (count < 1 || count > 8)
		kh_panic("taskqueue_start_threads: %d threads", count);
	va_start(ap, name);
	vsnprintf(tname, sizeof(tname), name, ap);
	va_end(ap);
	cpu = mask != NULL ? CPU_FFS(mask) - 1 : 0;
	tq->tq_cpu = cpu < 0 ? 0 : cpu;
	for (i = 0; i < count; i++) {
		a = host_alloc(sizeof(*a));
		a->tq = tq;
		a->slot = i;
		tq->tq_threads[i] = kh_thread_start(tname, tq->tq_cpu,
		    kh_tq_loop, a);
	}
	tq->tq_nthreads = count;
	return (0);
}

int
taskqueue_enqueue(struct taskqueue *tq, struct task *t)
{

	if (t->ta_func == NULL)
		kh_panic("taskqueue_enqueue: task %p never initialised", t);
	host_mutex_lock(tq->tq_mtx);
	if (tq->tq_stop)
		kh_panic("taskqueue_enqueue on \"%s\", being freed",
		    tq->tq_name);
	if (t->ta_pending > 0) {
		if (t->ta_pending < USHRT_MAX)
			t->ta_pending++;
	} else {
		STAILQ_INSERT_TAIL(&tq->tq_queue, t, ta_link);
		t->ta_pending = 1;
		host_cond_broadcast(tq->tq_cv);
	}
	host_mutex_unlock(tq->tq_mtx);
	return (0);
}

static int
kh_tq_busy(struct taskqueue *tq, struct task *t)
{
	int i;

	if (t->ta_pending > 0)
		return (1);
	for (i = 0; i < tq->tq_nthreads; i++)
		if (tq->tq_running[i] == t)
			return (1);
	return (0);
}

void
taskqueue_drain(struct taskqueue *tq, struct task *t)
{
	int i;

	kh_check_sleep("taskqueue_drain");
	host_mutex_lock(tq->tq_mtx);
	for (i = 0; i < tq->tq_nthreads; i++)
		if (tq->tq_running[i] == t && kh_tq_self(tq, i))
			kh_panic("taskqueue_drain of a task from itself");
	while (kh_tq_busy(tq, t))
		host_cond_wait(tq->tq_done, tq->tq_mtx);
	host_mutex_unlock(tq->tq_mtx);
}

void
taskqueue_free(struct taskqueue *tq)
{
	int i;

	kh_check_sleep("taskqueue_free");
	host_mutex_lock(tq->tq_mtx);
	tq->tq_stop = 1;
	host_cond_broadcast(tq->tq_cv);
	host_mutex_unlock(tq->tq_mtx);
	for (i = 0; i < tq->tq_nthreads; i++)
		host_thread_join(tq->tq_threads[i]);
	host_mutex_lock(kh_tq_all_mtx);
	LIST_REMOVE(tq, tq_all);
	host_mutex_unlock(kh_tq_all_mtx);
	host_cond_free(tq->tq_cv);
	host_cond_free(tq->tq_done);
	host_mutex_free(tq->tq_mtx);
	free(tq, M_KH_TASKQUEUE);
}

int
kh_task_check_free(const void *p, size_t len)
{
	const char *lo = p, *hi = lo + len;
	struct taskqueue *tq;
	struct task *t;
	int bad = 0, i;

	if (kh_tq_all_mtx == NULL)
		return (0);
	host_mutex_lock(kh_tq_all_mtx);
	LIST_FOREACH(tq, &kh_tq_all, tq_all) {
		if ((const char *)tq >= lo && (const char *)tq < hi)
			continue;	/* the queue itself */
		host_mutex_lock(tq->tq_mtx);
		STAILQ_FOREACH(t, &tq->tq_queue, ta_link)
			if ((const char *)t >= lo && (const char *)t < hi)
				bad = 1;
		for (i = 0; i < tq->tq_nthreads; i++) {
			t = tq->tq_running[i];
			if (t != NULL && (const char *)t >= lo &&
			    (const char *)t < hi && !kh_tq_self(tq, i))
				bad = 2;
		}
		host_mutex_unlock(tq->tq_mtx);
	}
	host_mutex_unlock(kh_tq_all_mtx);
	return (bad);
}
