/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * Planted contract violations: `kharness plant NAME` commits one, and the
 * model must stop the run with the message tests/plant.sh expects.  Each
 * is the smallest kernel code that breaks one rule the model claims to
 * enforce; if a check were lost, its plant would run to the end and exit
 * 0, and the test would fail.
 */
#include "kh.h"

#include <sys/callout.h>
#include <sys/epoch.h>
#include <sys/mbuf.h>
#include <sys/rwlock.h>
#include <sys/socket.h>
#include <sys/sx.h>
#include <sys/taskqueue.h>
#include <machine/fpu.h>
#include <net/if.h>
#include <net/if_var.h>
#include <net/if_private.h>
#include <net/netisr.h>
#include <net/vnet.h>

int	kh_plant_main(const char *name);
int	kh_check_clean(const char *when);

static struct malloc_type M_PLANT[1] = {{ .ks_shortdesc = "plant" }};
static struct malloc_type M_PLANT2[1] = {{ .ks_shortdesc = "plant2" }};
VNET_DEFINE_STATIC(int, kh_plant_v);
#define	V_kh_plant_v	VNET(kh_plant_v)

struct plant_obj {
	struct callout	co;
	struct task	task;
	int		x;
};

static void
plant_nop(void *arg __unused)
{
}

static void
plant_task_slow(void *arg __unused, int pending __unused)
{

	host_sleep_ns(300000000ULL);
}

static void
plant_task_nop(void *arg __unused, int pending __unused)
{
}

static void
plant_task_epoch(void *arg __unused, int pending __unused)
{
	static struct epoch_tracker et;

	NET_EPOCH_ENTER(et);	/* and returns without leaving it */
}

static struct taskqueue *plant_tq;

static struct taskqueue *
plant_taskqueue(void)
{

	plant_tq = taskqueue_create("plant", M_WAITOK,
	    taskqueue_thread_enqueue, &plant_tq);
	taskqueue_start_threads_cpuset(&plant_tq, 1, 0, NULL, "plant tq");
	return (plant_tq);
}

int
kh_plant_main(const char *name)
{
	struct epoch_tracker et, et2;
	struct mtx a, b;
	struct sx s;
	struct plant_obj *o;
	struct task t1;
	struct mbuf *m;
	char created[IFNAMSIZ];
	void *p;
	if_t ifp;

	kh_boot();
	malloc_init(M_PLANT);
	malloc_init(M_PLANT2);
	/* lock_init(9) insists on memory not already holding a lock. */
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&s, 0, sizeof(s));
	mtx_init(&a, "plant a", NULL, MTX_DEF);
	mtx_init(&b, "plant b", NULL, MTX_DEF);
	if (strcmp(name, "sleep-mutex") == 0) {
		mtx_lock(&a);
		p = malloc(16, M_PLANT, M_WAITOK);
	} else if (strcmp(name, "fpu-lock-inside") == 0) {
		fpu_kern_enter(curthread, NULL, FPU_KERN_NOCTX);
		mtx_lock(&a);
	} else if (strcmp(name, "fpu-sleep-inside") == 0) {
		fpu_kern_enter(curthread, NULL, FPU_KERN_NOCTX);
		p = malloc(16, M_PLANT, M_WAITOK);
	} else if (strcmp(name, "fpu-malloc-inside") == 0) {
		fpu_kern_enter(curthread, NULL, FPU_KERN_NOCTX);
		p = malloc(16, M_PLANT, M_NOWAIT);
	} else if (strcmp(name, "fpu-nested") == 0) {
		fpu_kern_enter(curthread, NULL, FPU_KERN_NOCTX);
		fpu_kern_enter(curthread, NULL, FPU_KERN_NOCTX);
	} else if (strcmp(name, "fpu-leave-unpaired") == 0) {
		fpu_kern_leave(curthread, NULL);
	} else if (strcmp(name, "sleep-epoch") == 0) {
		NET_EPOCH_ENTER(et);
		p = malloc(16, M_PLANT, M_WAITOK);
	} else if (strcmp(name, "sleep-nosleeping") == 0) {
		THREAD_NO_SLEEPING();
		p = malloc(16, M_PLANT, M_WAITOK);
	} else if (strcmp(name, "sx-under-mutex") == 0) {
		sx_init(&s, "plant sx");
		mtx_lock(&a);
		sx_xlock(&s);
	} else if (strcmp(name, "drain-under-mutex") == 0) {
		o = malloc(sizeof(*o), M_PLANT, M_WAITOK | M_ZERO);
		callout_init(&o->co, 1);
		mtx_lock(&a);
		callout_drain(&o->co);
	} else if (strcmp(name, "taskqueue-drain-in-epoch") == 0) {
		TASK_INIT(&t1, 0, plant_task_nop, NULL);
		plant_taskqueue();
		NET_EPOCH_ENTER(et);
		taskqueue_drain(plant_tq, &t1);
	} else if (strcmp(name, "epoch-wait-in-epoch") == 0) {
		NET_EPOCH_ENTER(et);
		NET_EPOCH_WAIT();
	} else if (strcmp(name, "epoch-unpaired") == 0) {
		NET_EPOCH_ENTER(et);
		NET_EPOCH_EXIT(et2);
	} else if (strcmp(name, "epoch-left-open") == 0) {
		TASK_INIT(&t1, 0, plant_task_epoch, NULL);
		taskqueue_enqueue(plant_taskqueue(), &t1);
		host_sleep_ns(2000000000ULL);
	} else if (strcmp(name, "lock-order-reversal") == 0) {
		mtx_lock(&a);
		mtx_lock(&b);
		mtx_unlock(&b);
		mtx_unlock(&a);
		mtx_lock(&b);
		mtx_lock(&a);
	} else if (strcmp(name, "duplicate-lock") == 0) {
		mtx_destroy(&b);
		mtx_init(&b, "plant a", NULL, MTX_DEF);
		mtx_lock(&a);
		mtx_lock(&b);
	} else if (strcmp(name, "mtx-assert") == 0) {
		mtx_assert(&a, MA_OWNED);
	} else if (strcmp(name, "unlock-not-owner") == 0) {
		mtx_unlock(&a);
	} else if (strcmp(name, "destroy-held") == 0) {
		mtx_lock(&a);
		mtx_destroy(&a);
	} else if (strcmp(name, "malloc-leak") == 0) {
		p = malloc(16, M_PLANT, M_WAITOK);
		malloc_uninit(M_PLANT);
	} else if (strcmp(name, "free-wrong-type") == 0) {
		p = malloc(16, M_PLANT, M_WAITOK);
		free(p, M_PLANT2);
	} else if (strcmp(name, "use-after-free") == 0) {
		o = malloc(sizeof(*o), M_PLANT, M_WAITOK | M_ZERO);
		free(o, M_PLANT);
		o->x = 1;
	} else if (strcmp(name, "mbuf-leak") == 0) {
		m = m_get2(100, M_WAITOK, MT_DATA, M_PKTHDR);
		(void)m;
		return (kh_check_clean("plant"));
	} else if (strcmp(name, "mbuf-double-free") == 0) {
		m = m_get2(100, M_WAITOK, MT_DATA, M_PKTHDR);
		m_freem(m);
		m_freem(m);
	} else if (strcmp(name, "callout-freed-armed") == 0) {
		o = malloc(sizeof(*o), M_PLANT, M_WAITOK | M_ZERO);
		callout_init(&o->co, 1);
		callout_reset_sbt(&o->co, SBT_1S * 10, 0, plant_nop, o, 0);
		free(o, M_PLANT);
	} else if (strcmp(name, "task-freed-queued") == 0) {
		o = malloc(sizeof(*o), M_PLANT, M_WAITOK | M_ZERO);
		TASK_INIT(&t1, 0, plant_task_slow, NULL);
		TASK_INIT(&o->task, 0, plant_task_nop, NULL);
		plant_taskqueue();
		taskqueue_enqueue(plant_tq, &t1);
		taskqueue_enqueue(plant_tq, &o->task);
		free(o, M_PLANT);
	} else if (strcmp(name, "no-vnet") == 0) {
		V_kh_plant_v = 1;	/* curvnet is NULL here */
	} else if (strcmp(name, "wrong-vnet") == 0) {
		kh_socket_init_model();
		kh_kldload();
		CURVNET_SET(vnet0);
		if (kh_if_create("wg", created, sizeof(created)) != 0)
			return (1);
		ifp = kh_ifunit(created);
		CURVNET_RESTORE();
		m = m_get2(64, M_WAITOK, MT_DATA, M_PKTHDR);
		memset(mtod(m, char *), 0x45, 64);
		m->m_len = m->m_pkthdr.len = 64;
		m->m_pkthdr.rcvif = ifp;
		{
			CURVNET_SET(kh_vnet_create());
			NET_EPOCH_ENTER(et);
			netisr_dispatch(NETISR_IP, m);
			NET_EPOCH_EXIT(et);
			CURVNET_RESTORE();
		}
	} else if (strcmp(name, "copyout-kernel-address") == 0) {
		/* Not a panic: EFAULT, as for any address not the caller's. */
		if (copyout(&et, &et2, sizeof(et)) != EFAULT)
			return (0);
		kh_log("copyout to a kernel address: EFAULT");
		return (3);
	} else {
		kh_log("unknown plant %s", name);
		return (2);
	}
	kh_log("plant %s: not caught", name);
	return (0);
}
