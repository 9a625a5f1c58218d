/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * epoch(9), the preemptible network epoch only, after
 * sys/kern/subr_epoch.c: entering disables sleeping (THREAD_NO_SLEEPING,
 * as _epoch_enter_preempt does), sections must pair with their tracker on
 * the same thread, and epoch_wait_preempt() waits for every section that
 * began before it, may sleep, and must not be called from inside one.
 */
#include "kh.h"

#include <sys/epoch.h>

struct epoch {
	const char		*e_name;
};

static struct epoch kh_net_epoch = { "net_epoch" };
epoch_t net_epoch_preempt = &kh_net_epoch;

static host_mutex_t *kh_epoch_mtx;
static host_cond_t *kh_epoch_cv;
static TAILQ_HEAD(, epoch_tracker) kh_epoch_active =
    TAILQ_HEAD_INITIALIZER(kh_epoch_active);
static u_int kh_epoch_seq;

void
kh_epoch_init_model(void)
{

	kh_epoch_mtx = host_mutex_new();
	kh_epoch_cv = host_cond_new();
}

/*
 * The section's start is kept in et_section (ck's own field, opaque to
 * the caller) so that a wait can tell the sections it must outlast.
 */
#define	KH_ET_SEQ(et)	((et)->et_section.bucket)

void
_epoch_enter_preempt(epoch_t epoch, epoch_tracker_t et)
{
	struct kh_thread *kt = kh_curthread();

	if (epoch != net_epoch_preempt)
		kh_panic("epoch_enter_preempt: unknown epoch");
	et->et_td = &kt->td;
	THREAD_NO_SLEEPING();
	kt->epochnest++;
	host_mutex_lock(kh_epoch_mtx);
	KH_ET_SEQ(et) = ++kh_epoch_seq;
	TAILQ_INSERT_TAIL(&kh_epoch_active, et, et_link);
	host_mutex_unlock(kh_epoch_mtx);
}

void
_epoch_exit_preempt(epoch_t epoch, epoch_tracker_t et)
{
	struct kh_thread *kt = kh_curthread();

	if (epoch != net_epoch_preempt)
		kh_panic("epoch_exit_preempt: unknown epoch");
	if (kt->epochnest == 0 || et->et_td != &kt->td)
		kh_panic("epoch_exit_preempt: not in a section entered with "
		    "this tracker on this thread");
	if (kt->td.td_critnest != 0)
		kh_panic("epoch_exit_preempt in a critical section");
	host_mutex_lock(kh_epoch_mtx);
	TAILQ_REMOVE(&kh_epoch_active, et, et_link);
	host_cond_broadcast(kh_epoch_cv);
	host_mutex_unlock(kh_epoch_mtx);
	et->et_td = (void *)0xdeadbeef;
	kt->epochnest--;
	THREAD_SLEEPING_OK();
}

void
epoch_wait_preempt(epoch_t epoch)
{
	struct epoch_tracker *et;
	u_int seq;

	if (epoch != net_epoch_preempt)
		kh_panic("epoch_wait_preempt: unknown epoch");
	if (kh_curthread()->epochnest != 0)
		kh_panic("epoch_wait_preempt() called in the middle of an "
		    "epoch section of the same epoch");
	kh_check_sleep("epoch_wait_preempt");
	host_mutex_lock(kh_epoch_mtx);
	seq = kh_epoch_seq;
	for (;;) {
		TAILQ_FOREACH(et, &kh_epoch_active, et_link)
			if ((int)(KH_ET_SEQ(et) - seq) <= 0)
				break;
		if (et == NULL)
			break;
		host_cond_wait(kh_epoch_cv, kh_epoch_mtx);
	}
	host_mutex_unlock(kh_epoch_mtx);
}

int
in_epoch(epoch_t epoch)
{

	return (epoch == net_epoch_preempt && kh_curthread()->epochnest > 0);
}
