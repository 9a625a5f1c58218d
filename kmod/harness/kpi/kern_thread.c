/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * Threads, CPUs, clocks, randomness and the console of the model.
 *
 * curthread on amd64 is %gs:offsetof(struct pcpu, pc_curthread)
 * (machine/pcpu_aux.h), so every harness thread gets a struct pcpu of its
 * own and points its GS base at it: the shim's inline curthread,
 * curvnet, critical_enter() and THREAD_NO_SLEEPING() then work unchanged.
 * A thread "runs on" a CPU id (pc_cpuid) of mp_ncpus; several threads may
 * share one, which FreeBSD's code must tolerate anyway (preemption).
 *
 * Follows: sys/kern/kern_shutdown.c (panic), sys/kern/subr_prf.c (printf,
 * log), sys/kern/kern_tc.c (getnanouptime, getnanotime),
 * sys/libkern/arc4random.c, sys/kern/subr_smp.c (mp_ncpus, all_cpus).
 */
#include "kh.h"

#include <sys/cpuset.h>
#include <sys/smp.h>
#include <sys/syslog.h>
#include <machine/stdarg.h>

int mp_ncpus;
u_int mp_maxid;
cpuset_t all_cpus;
int kh_ncpus;

static host_mutex_t *kh_console;
static volatile int kh_panicking;

static void
kh_out(const char *prefix, const char *fmt, va_list ap)
{
	char buf[1024];
	size_t n;
	int r;

	n = strlen(prefix);
	memcpy(buf, prefix, n);
	r = host_vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	if (r < 0)
		r = 0;
	n = MIN(n + (size_t)r, sizeof(buf) - 2);
	if (n == 0 || buf[n - 1] != '\n')
		buf[n++] = '\n';
	if (kh_console != NULL)
		host_mutex_lock(kh_console);
	host_write(2, buf, n);
	if (kh_console != NULL)
		host_mutex_unlock(kh_console);
}

void
kh_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kh_out("kharness: ", fmt, ap);
	va_end(ap);
}

void
kh_panic(const char *fmt, ...)
{
	struct kh_thread *kt;
	va_list ap;
	char where[96];
	int i;

	if (__atomic_exchange_n(&kh_panicking, 1, __ATOMIC_SEQ_CST) != 0) {
		/* Another thread is reporting: let it finish. */
		host_sleep_ns(5000000000ULL);
		host_abort();
	}
	va_start(ap, fmt);
	kh_out("kharness: PANIC: ", fmt, ap);
	va_end(ap);
	kt = kh_curthread_or_null();
	if (kt != NULL) {
		snprintf(where, sizeof(where), "thread \"%s\" cpu %d",
		    kt->name, kt->pcpu->pc_cpuid);
		kh_log("%s, holding %d lock(s)%s", where, kt->nheld,
		    kt->epochnest ? ", in the net epoch" : "");
		for (i = 0; i < kt->nheld; i++)
			kh_log("  %s \"%s\" locked at %s:%d",
			    kt->held[i].shared ? "shared" : "exclusive",
			    kt->held[i].lo->lo_name, kt->held[i].file,
			    kt->held[i].line);
	}
	host_backtrace();
	host_abort();
}

/* The console of the kernel: printf(9), vprintf(9), log(9). */
int
vprintf(const char *fmt, va_list ap)
{

	kh_out("kernel: ", fmt, ap);
	return (0);
}

int
printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kh_out("kernel: ", fmt, ap);
	va_end(ap);
	return (0);
}

/* log(9): counted, so that tests can see a message was logged at all. */
volatile u_long kh_log_count;

void
log(int level, const char *fmt, ...)
{
	va_list ap;
	char prefix[32];

	__atomic_add_fetch(&kh_log_count, 1, __ATOMIC_RELAXED);
	snprintf(prefix, sizeof(prefix), "log<%d>: ", level);
	va_start(ap, fmt);
	kh_out(prefix, fmt, ap);
	va_end(ap);
}

void
panic(const char *fmt, ...)
{
	va_list ap;
	char buf[512];

	va_start(ap, fmt);
	host_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	kh_panic("panic(9): %s", buf);
}

int
snprintf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = host_vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return (r);
}

int
vsnprintf(char *buf, size_t len, const char *fmt, va_list ap)
{

	return (host_vsnprintf(buf, len, fmt, ap));
}

/* Threads. */

struct kh_thread *
kh_curthread_or_null(void)
{
	struct pcpu *pc;

	pc = __atomic_load_n(&kh_self_pcpu, __ATOMIC_RELAXED);
	return (pc == NULL ? NULL : (struct kh_thread *)pc->pc_curthread);
}

/*
 * Each thread's pcpu, kept also in a thread-local so that the model can
 * tell "no FreeBSD thread here" before touching %gs.
 */
__thread struct pcpu *kh_self_pcpu;
static volatile int kh_next_tid = 100000;

struct kh_thread *
kh_thread_self_init(const char *name, int cpu)
{
	struct kh_thread *kt;
	struct pcpu *pc;

	if (kh_console == NULL)
		kh_console = host_mutex_new();
	pc = host_alloc_aligned(sizeof(*pc), PAGE_SIZE);
	kt = host_alloc(sizeof(*kt));
	if (pc == NULL || kt == NULL)
		host_abort();
	pc->pc_curthread = &kt->td;
	pc->pc_cpuid = cpu < 0 || kh_ncpus == 0 ? 0 : cpu % kh_ncpus;
	pc->pc_prvspace = pc;
	kt->pcpu = pc;
	kt->td.td_tid = __atomic_add_fetch(&kh_next_tid, 1, __ATOMIC_RELAXED);
	strlcpy(kt->name, name, sizeof(kt->name));
	strlcpy(kt->td.td_name, name, sizeof(kt->td.td_name));
	kt->td.td_ucred = kh_cred_default();
	kt->td.td_vnet = NULL;
	memset(&kt->proc, 0, sizeof(kt->proc));
	kt->td.td_proc = &kt->proc;
	kh_self_pcpu = pc;
	host_set_gsbase(pc);
	return (kt);
}

void
kh_thread_self_fini(void)
{
	struct kh_thread *kt = kh_curthread();

	if (kt->nheld != 0)
		kh_panic("thread \"%s\" exits holding %d lock(s)", kt->name,
		    kt->nheld);
	if (kt->epochnest != 0)
		kh_panic("thread \"%s\" exits in an epoch section", kt->name);
	if (kt->td.td_critnest != 0 || kt->td.td_no_sleeping != 0)
		kh_panic("thread \"%s\" exits in a critical section or with "
		    "sleeping disabled", kt->name);
	kh_self_pcpu = NULL;
	host_set_gsbase(NULL);
	host_free(kt->pcpu);
	host_free(kt);
}

struct kh_thread_start {
	char	  name[32];
	int	  cpu;
	void	(*fn)(void *);
	void	 *arg;
	struct ucred *cred;
	struct vnet *vnet;
};

static void
kh_thread_trampoline(void *arg)
{
	struct kh_thread_start s = *(struct kh_thread_start *)arg;
	struct kh_thread *kt;

	host_free(arg);
	kt = kh_thread_self_init(s.name, s.cpu);
	kt->td.td_ucred = s.cred;
	s.fn(s.arg);
	kh_thread_self_fini();
}

host_thread_t *
kh_thread_start(const char *name, int cpu, void (*fn)(void *), void *arg)
{
	struct kh_thread_start *s;

	s = host_alloc(sizeof(*s));
	if (s == NULL)
		host_abort();
	strlcpy(s->name, name, sizeof(s->name));
	s->cpu = cpu;
	s->fn = fn;
	s->arg = arg;
	s->cred = kh_cred_default();
	return (host_thread_create(kh_thread_trampoline, s));
}

void
kh_cpus_init(void)
{
	const char *e;
	int i;

	kh_ncpus = host_ncpus();
	if ((e = host_getenv("KH_NCPUS")) != NULL && e[0] >= '1' &&
	    e[0] <= '8')
		kh_ncpus = e[0] - '0';
	mp_ncpus = kh_ncpus;
	mp_maxid = kh_ncpus - 1;
	CPU_ZERO(&all_cpus);
	for (i = 0; i < kh_ncpus; i++)
		CPU_SET(i, &all_cpus);
}

/* Clocks (kern_tc.c): the "get" variants are the cheap, coarse ones. */
void
getnanouptime(struct timespec *ts)
{
	uint64_t ns = host_monotonic_ns();

	ts->tv_sec = ns / 1000000000ULL;
	ts->tv_nsec = ns % 1000000000ULL;
}

void
getnanotime(struct timespec *ts)
{
	uint64_t ns = host_realtime_ns();

	ts->tv_sec = ns / 1000000000ULL;
	ts->tv_nsec = ns % 1000000000ULL;
}

uint64_t
kh_sbinuptime(void)
{
	uint64_t ns = host_monotonic_ns();

	return ((ns / 1000000000ULL) * SBT_1S +
	    nstosbt(ns % 1000000000ULL));
}

/* Randomness (libkern/arc4random.c: a CSPRNG; here the host's). */
void
arc4random_buf(void *buf, size_t len)
{

	host_random(buf, len);
}

uint32_t
arc4random(void)
{
	uint32_t v;

	host_random(&v, sizeof(v));
	return (v);
}

void
explicit_bzero(void *p, size_t n)
{

	memset(p, 0, n);
	__asm __volatile("" : : "r"(p) : "memory");
}

size_t
strlcpy(char *dst, const char *src, size_t len)
{
	size_t n = strlen(src);

	if (len > 0) {
		size_t c = MIN(n, len - 1);
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return (n);
}
