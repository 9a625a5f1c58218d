/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * malloc(9), after sys/kern/kern_malloc.c: per-type accounting, flags
 * checked as INVARIANTS does, M_WAITOK only where the thread may sleep,
 * M_NOWAIT failing on demand (fault injection), and at malloc_uninit() a
 * type with allocations left is a leak: the run fails, where FreeBSD only
 * prints "memory type ... leaked memory on destroy".
 *
 * Every block carries a header before it; ASan (the host's allocator)
 * catches use after free and double free, the header a free with the
 * wrong type.  A freed block must not hold an armed callout or a queued
 * task (kern_timeout.c, kern_taskqueue.c check it).
 */
#include "kh.h"

#define	KH_MALLOC_MAGIC	0x6b686d61u	/* "kham" */

struct kh_mhdr {
	uint32_t		 magic;
	uint32_t		 pad;
	struct malloc_type	*type;
	size_t			 size;
	void			*base;		/* what host_alloc gave */
};

#define	KH_MAXTYPES	64
static struct {
	struct malloc_type	*type;
	long			 live;
	long			 bytes;
	long			 total;
} kh_types[KH_MAXTYPES];
static int kh_ntypes;
static host_mutex_t *kh_malloc_mtx;

/* Fault injection (KH_FAULT_PPM per million M_NOWAIT calls, KH_FAULT_SEED). */
static uint32_t kh_fault_ppm;
static uint64_t kh_fault_state;
/*
 * KH_FAULT_DATAPATH=1: spare the control door's threads (ioctls), where
 * the core's allocations under its locks answer ENOMEM and change
 * nothing (the in-process tests check that and retry); the network tests
 * then see only the data path's failures.
 */
static int kh_fault_datapath;
volatile u_long kh_faults_injected;

void
kh_malloc_init_model(void)
{
	const char *e;

	kh_malloc_mtx = host_mutex_new();
	if ((e = host_getenv("KH_FAULT_PPM")) != NULL)
		kh_fault_ppm = strtoul(e, NULL, 10);
	kh_fault_state = 0x9e3779b97f4a7c15ULL;
	kh_fault_datapath = host_getenv("KH_FAULT_DATAPATH") != NULL;
	if ((e = host_getenv("KH_FAULT_SEED")) != NULL)
		kh_fault_state ^= strtoul(e, NULL, 10) * 0xbf58476d1ce4e5b9ULL;
}

void
kh_fault_set(uint32_t ppm)
{

	__atomic_store_n(&kh_fault_ppm, ppm, __ATOMIC_RELAXED);
}

uint32_t
kh_fault_get(void)
{

	return (__atomic_load_n(&kh_fault_ppm, __ATOMIC_RELAXED));
}

bool
kh_fault(const char *site __unused)
{
	uint64_t x;

	struct kh_thread *kt;

	if (__atomic_load_n(&kh_fault_ppm, __ATOMIC_RELAXED) == 0)
		return (false);
	if (kh_fault_datapath && (kt = kh_curthread_or_null()) != NULL &&
	    strncmp(kt->name, "door", 4) == 0)
		return (false);
	/* splitmix64 over a shared counter: seeded, cheap, thread-safe. */
	x = __atomic_add_fetch(&kh_fault_state, 0x9e3779b97f4a7c15ULL,
	    __ATOMIC_RELAXED);
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	x ^= x >> 31;
	if (x % 1000000 >= kh_fault_ppm)
		return (false);
	__atomic_add_fetch(&kh_faults_injected, 1, __ATOMIC_RELAXED);
	return (true);
}

static int
kh_type_slot(struct malloc_type *mtp)
{
	int i;

	for (i = 0; i < kh_ntypes; i++)
		if (kh_types[i].type == mtp)
			return (i);
	return (-1);
}

void
malloc_init(void *data)
{
	struct malloc_type *mtp = data;

	host_mutex_lock(kh_malloc_mtx);
	if (kh_type_slot(mtp) >= 0)
		kh_panic("malloc_init: type \"%s\" registered twice",
		    mtp->ks_shortdesc);
	if (kh_ntypes == KH_MAXTYPES)
		kh_panic("malloc_init: too many types");
	kh_types[kh_ntypes].type = mtp;
	kh_types[kh_ntypes].live = 0;
	kh_types[kh_ntypes].bytes = 0;
	kh_ntypes++;
	host_mutex_unlock(kh_malloc_mtx);
}

void
malloc_uninit(void *data)
{
	struct malloc_type *mtp = data;
	long live, bytes;
	int i;

	host_mutex_lock(kh_malloc_mtx);
	if ((i = kh_type_slot(mtp)) < 0)
		kh_panic("malloc_uninit: type \"%s\" not registered",
		    mtp->ks_shortdesc);
	live = kh_types[i].live;
	bytes = kh_types[i].bytes;
	kh_types[i] = kh_types[--kh_ntypes];
	host_mutex_unlock(kh_malloc_mtx);
	if (live != 0)
		kh_panic("malloc type \"%s\" leaked memory on destroy (%ld "
		    "allocations, %ld bytes leaked)", mtp->ks_shortdesc, live,
		    bytes);
}

long
kh_malloc_outstanding(struct malloc_type *mtp)
{
	long n;
	int i;

	host_mutex_lock(kh_malloc_mtx);
	i = kh_type_slot(mtp);
	n = i < 0 ? 0 : kh_types[i].live;
	host_mutex_unlock(kh_malloc_mtx);
	return (n);
}

long
kh_malloc_total(struct malloc_type *mtp)
{
	long n;
	int i;

	host_mutex_lock(kh_malloc_mtx);
	i = kh_type_slot(mtp);
	n = i < 0 ? 0 : kh_types[i].total;
	host_mutex_unlock(kh_malloc_mtx);
	return (n);
}

void
kh_malloc_report(void)
{
	int i;

	host_mutex_lock(kh_malloc_mtx);
	for (i = 0; i < kh_ntypes; i++)
		kh_log("malloc type %-12s %6ld live %9ld bytes %8ld total",
		    kh_types[i].type->ks_shortdesc, kh_types[i].live,
		    kh_types[i].bytes, kh_types[i].total);
	host_mutex_unlock(kh_malloc_mtx);
}

static void
kh_account(struct malloc_type *mtp, long n, long bytes)
{
	int i;

	host_mutex_lock(kh_malloc_mtx);
	if ((i = kh_type_slot(mtp)) < 0)
		kh_panic("malloc with unregistered type %p (\"%s\")", mtp,
		    mtp->ks_shortdesc);
	kh_types[i].live += n;
	kh_types[i].bytes += bytes;
	if (n > 0)
		kh_types[i].total += n;
	host_mutex_unlock(kh_malloc_mtx);
}

static void *
kh_malloc(size_t size, size_t align, struct malloc_type *mtp, int flags)
{
	struct kh_thread *kt;
	struct kh_mhdr *h;
	char *base, *p;
	size_t hdr;

	if (((flags & M_WAITOK) != 0) == ((flags & M_NOWAIT) != 0))
		kh_panic("malloc(\"%s\"): flags %#x: exactly one of M_WAITOK "
		    "and M_NOWAIT", mtp->ks_shortdesc, flags);
	if ((flags & M_WAITOK) != 0)
		kh_check_sleep("malloc(M_WAITOK)");
	/* uma_zalloc_debug(): not even M_NOWAIT in a critical section. */
	if ((kt = kh_curthread_or_null()) != NULL && kt->td.td_critnest != 0)
		kh_panic("malloc(\"%s\") in a critical section",
		    mtp->ks_shortdesc);
	if ((flags & M_NOWAIT) != 0 && kh_fault("malloc"))
		return (NULL);
	/*
	 * kmem's zones are powers of two carved from pages: a block is
	 * aligned to its size class, up to a page (struct socket and others
	 * with cache-line aligned members rely on it).
	 */
	if (align == 0) {
		for (align = 16; align < size && align < PAGE_SIZE; align <<= 1)
			;
	}
	hdr = roundup2(sizeof(*h), MAX(align, 16));
	base = host_alloc(hdr + size + align);
	if (base == NULL) {
		if ((flags & M_WAITOK) != 0)
			kh_panic("malloc(M_WAITOK) of %zu bytes: out of memory",
			    size);
		return (NULL);
	}
	p = (char *)roundup2((uintptr_t)base + hdr, MAX(align, 16));
	h = (struct kh_mhdr *)p - 1;
	h->magic = KH_MALLOC_MAGIC;
	h->type = mtp;
	h->size = size;
	h->base = base;
	kh_account(mtp, 1, size);
	/*
	 * FreeBSD's malloc returns garbage without M_ZERO; the host's is
	 * zeroed, so poison it to find reads of uninitialised fields.
	 */
	if ((flags & M_ZERO) != 0)
		memset(p, 0, size);
	else
		memset(p, 0xdb, size);
	return (p);
}

void *
(malloc)(size_t size, struct malloc_type *mtp, int flags)
{

	return (kh_malloc(size, 0, mtp, flags));
}

void *
malloc_aligned(size_t size, size_t align, struct malloc_type *mtp, int flags)
{

	if (align == 0 || !powerof2(align) || align > PAGE_SIZE)
		kh_panic("malloc_aligned: bad alignment %zu", align);
	return (kh_malloc(size, align, mtp, flags));
}

void *
mallocarray(size_t nmemb, size_t size, struct malloc_type *mtp, int flags)
{

	if (size != 0 && nmemb > SIZE_MAX / size)
		kh_panic("mallocarray: %zu * %zu overflowed", nmemb, size);
	return (kh_malloc(nmemb * size, 0, mtp, flags));
}

void
free(void *p, struct malloc_type *mtp)
{
	struct kh_mhdr *h;

	if (p == NULL)
		return;
	h = (struct kh_mhdr *)p - 1;
	if (h->magic != KH_MALLOC_MAGIC)
		kh_panic("free(%p, \"%s\"): not a malloc(9) block (or freed "
		    "twice)", p, mtp->ks_shortdesc);
	if (h->type != mtp)
		kh_panic("free(%p): allocated as \"%s\", freed as \"%s\"", p,
		    h->type->ks_shortdesc, mtp->ks_shortdesc);
	kh_check_free(p, h->size);
	kh_account(mtp, -1, -(long)h->size);
	h->magic = 0;
	host_free(h->base);
}

void
zfree(void *p, struct malloc_type *mtp)
{
	struct kh_mhdr *h;

	if (p != NULL) {
		h = (struct kh_mhdr *)p - 1;
		explicit_bzero(p, h->size);
	}
	free(p, mtp);
}
