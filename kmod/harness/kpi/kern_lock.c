/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * mutex(9), rwlock(9), sx(9) and a small WITNESS.
 *
 * A module is built with LOCK_DEBUG (sys/_lock.h: KLD_MODULE), so every
 * lock operation of the shim is a call into this file, with its file and
 * line.  The lock word keeps FreeBSD's meaning (owner or unlocked); the
 * model's state hangs off lo_witness, WITNESS's own field.
 *
 * Enforced, as sys/kern/subr_witness.c, kern_mutex.c, kern_rwlock.c and
 * kern_sx.c do on an INVARIANTS+WITNESS kernel:
 * - lock order: every "held A, then took B" between lock classes (a class
 *   is a name, as WITNESS groups them) is recorded; taking B while holding
 *   A when B -> ... -> A was seen before is a reversal; two locks of one
 *   class nested is a duplicate acquire unless DUPOK;
 * - recursion on a non-recursive lock, unlock by a non-owner, destroy of a
 *   held lock, double initialisation;
 * - sleepable (sx) after non-sleepable (mtx, rw), and no sleeping with a
 *   non-sleepable lock held, in a critical section or in an epoch section
 *   (kh_check_sleep, used by every call that can sleep);
 * - mtx_assert, rw_assert, sx_assert exactly, for this thread.
 */
#include "kh.h"

#include <sys/rwlock.h>
#include <sys/sx.h>

enum { KH_MTX, KH_RW, KH_SX };
static const char *kh_kind[] = { "mutex", "rwlock", "sx" };

struct kh_lock {
	host_mutex_t		*m;
	host_cond_t		*cv;
	struct kh_thread	*owner;		/* exclusive */
	int			 readers;	/* shared holders */
	int			 kind;
	int			 cls;
	int			 dupok;
	const char		*file;		/* last exclusive acquire */
	int			 line;
};

/* WITNESS: lock classes by name and the order seen between them. */
#define	KH_MAXCLASS	128
static host_mutex_t *kh_witness_mtx;
static const char *kh_cls_name[KH_MAXCLASS];
static int kh_ncls;
static unsigned char kh_order[KH_MAXCLASS][KH_MAXCLASS];
static const char *kh_order_file[KH_MAXCLASS][KH_MAXCLASS];
static int kh_order_line[KH_MAXCLASS][KH_MAXCLASS];
static int kh_witness_off;

void
kh_lock_init_model(void)
{

	kh_witness_mtx = host_mutex_new();
	kh_witness_off = host_getenv("KH_NO_WITNESS") != NULL;
}

static int
kh_class(const char *name)
{
	int i;

	host_mutex_lock(kh_witness_mtx);
	for (i = 0; i < kh_ncls; i++)
		if (strcmp(kh_cls_name[i], name) == 0)
			break;
	if (i == kh_ncls) {
		if (kh_ncls == KH_MAXCLASS)
			kh_panic("witness: more than %d lock classes",
			    KH_MAXCLASS);
		kh_cls_name[kh_ncls++] = name;
	}
	host_mutex_unlock(kh_witness_mtx);
	return (i);
}

/* Is there a path from a to b in the order graph?  Under kh_witness_mtx. */
static int
kh_reaches(int a, int b, unsigned char *seen)
{
	int i;

	if (a == b)
		return (1);
	seen[a] = 1;
	for (i = 0; i < kh_ncls; i++)
		if (kh_order[a][i] && !seen[i] && kh_reaches(i, b, seen))
			return (1);
	return (0);
}

static void
kh_witness_check(struct kh_thread *kt, struct lock_object *lo,
    struct kh_lock *l, const char *file, int line)
{
	unsigned char seen[KH_MAXCLASS];
	struct kh_lock *h;
	int i, a, b;

	if (kh_witness_off)
		return;
	b = l->cls;
	for (i = 0; i < kt->nheld; i++) {
		h = (struct kh_lock *)kt->held[i].lo->lo_witness;
		a = h->cls;
		if (a == b) {
			if (l->dupok || h->dupok)
				continue;
			kh_panic("witness: acquiring duplicate lock of same "
			    "type \"%s\" at %s:%d (first at %s:%d)",
			    lo->lo_name, file, line, kt->held[i].file,
			    kt->held[i].line);
		}
		host_mutex_lock(kh_witness_mtx);
		if (!kh_order[a][b]) {
			memset(seen, 0, sizeof(seen));
			if (kh_reaches(b, a, seen)) {
				host_mutex_unlock(kh_witness_mtx);
				kh_panic("witness: lock order reversal: "
				    "\"%s\" (held since %s:%d) then \"%s\" at "
				    "%s:%d, but the established order is "
				    "\"%s\" before \"%s\"", kh_cls_name[a],
				    kt->held[i].file, kt->held[i].line,
				    kh_cls_name[b], file, line,
				    kh_cls_name[b], kh_cls_name[a]);
			}
			kh_order[a][b] = 1;
			kh_order_file[a][b] = file;
			kh_order_line[a][b] = line;
		}
		host_mutex_unlock(kh_witness_mtx);
	}
}

void
kh_check_sleep(const char *what)
{
	struct kh_thread *kt = kh_curthread();
	struct kh_lock *l;
	int i;

	if (kt->td.td_critnest != 0)
		kh_panic("%s: may sleep, in a critical section", what);
	if (kt->epochnest != 0)
		kh_panic("%s: may sleep, in the net epoch", what);
	for (i = 0; i < kt->nheld; i++) {
		l = (struct kh_lock *)kt->held[i].lo->lo_witness;
		if (l->kind != KH_SX)
			kh_panic("%s: may sleep with non-sleepable %s \"%s\" "
			    "held (locked at %s:%d)", what, kh_kind[l->kind],
			    kt->held[i].lo->lo_name, kt->held[i].file,
			    kt->held[i].line);
	}
	if (kt->td.td_no_sleeping != 0)
		kh_panic("%s: may sleep, where sleeping is disabled "
		    "(THREAD_NO_SLEEPING)", what);
}

static struct kh_lock *
kh_lock_of(struct lock_object *lo, const char *op)
{

	if ((lo->lo_flags & LO_INITIALIZED) == 0 || lo->lo_witness == NULL)
		kh_panic("%s of an uninitialised or destroyed lock %p", op,
		    lo);
	return ((struct kh_lock *)lo->lo_witness);
}

static void
kh_lock_init(struct lock_object *lo, const char *name, int kind, int dupok)
{
	struct kh_lock *l;

	if ((lo->lo_flags & LO_INITIALIZED) != 0)
		kh_panic("lock \"%s\" %p already initialized", name, lo);
	l = host_alloc(sizeof(*l));
	if (l == NULL)
		host_abort();
	l->m = host_mutex_new();
	l->cv = host_cond_new();
	l->kind = kind;
	l->dupok = dupok;
	l->cls = kh_class(name);
	lo->lo_name = name;
	lo->lo_flags = LO_INITIALIZED | (kind == KH_SX ? LO_SLEEPABLE : 0);
	lo->lo_witness = (struct witness *)l;
}

static void
kh_lock_fini(struct lock_object *lo)
{
	struct kh_lock *l = kh_lock_of(lo, "destroy");

	if (l->owner != NULL || l->readers != 0)
		kh_panic("destroying %s \"%s\" while it is held (%s:%d)",
		    kh_kind[l->kind], lo->lo_name,
		    l->file != NULL ? l->file : "?", l->line);
	lo->lo_flags &= ~LO_INITIALIZED;
	lo->lo_witness = NULL;
	host_cond_free(l->cv);
	host_mutex_free(l->m);
	host_free(l);
}

static void
kh_held_push(struct kh_thread *kt, struct lock_object *lo, int shared,
    const char *file, int line)
{

	if (kt->nheld == KH_MAXLOCKS)
		kh_panic("more than %d locks held", KH_MAXLOCKS);
	kt->held[kt->nheld].lo = lo;
	kt->held[kt->nheld].shared = shared;
	kt->held[kt->nheld].file = file;
	kt->held[kt->nheld].line = line;
	kt->nheld++;
}

static int
kh_held_find(struct kh_thread *kt, struct lock_object *lo)
{
	int i;

	for (i = kt->nheld - 1; i >= 0; i--)
		if (kt->held[i].lo == lo)
			return (i);
	return (-1);
}

static void
kh_held_pop(struct kh_thread *kt, int i)
{

	for (; i < kt->nheld - 1; i++)
		kt->held[i] = kt->held[i + 1];
	kt->nheld--;
}

/* Exclusive or shared acquire, blocking. */
static void
kh_acquire(struct lock_object *lo, int shared, const char *file, int line,
    volatile uintptr_t *word)
{
	struct kh_thread *kt = kh_curthread();
	struct kh_lock *l = kh_lock_of(lo, "lock");
	int i;

	if ((i = kh_held_find(kt, lo)) >= 0)
		kh_panic("%s \"%s\" recursed at %s:%d (held since %s:%d)",
		    kh_kind[l->kind], lo->lo_name, file, line,
		    kt->held[i].file, kt->held[i].line);
	if (l->kind == KH_SX) {
		/* sx may sleep: not under mtx/rw, not in an epoch. */
		kh_check_sleep(shared ? "sx_slock" : "sx_xlock");
	} else if (kt->td.td_critnest != 0)
		kh_panic("%s \"%s\" taken in a critical section at %s:%d",
		    kh_kind[l->kind], lo->lo_name, file, line);
	kh_witness_check(kt, lo, l, file, line);
	host_mutex_lock(l->m);
	if (shared) {
		while (l->owner != NULL)
			host_cond_wait(l->cv, l->m);
		l->readers++;
	} else {
		while (l->owner != NULL || l->readers != 0)
			host_cond_wait(l->cv, l->m);
		l->owner = kt;
		l->file = file;
		l->line = line;
		if (word != NULL)
			*word = (uintptr_t)&kt->td;
	}
	host_mutex_unlock(l->m);
	kh_held_push(kt, lo, shared, file, line);
}

static void
kh_release(struct lock_object *lo, int shared, const char *file, int line,
    volatile uintptr_t *word, uintptr_t unowned)
{
	struct kh_thread *kt = kh_curthread();
	struct kh_lock *l = kh_lock_of(lo, "unlock");
	int i;

	i = kh_held_find(kt, lo);
	if (i < 0 || kt->held[i].shared != shared)
		kh_panic("%s \"%s\": %s unlock at %s:%d by a thread that "
		    "does not hold it so", kh_kind[l->kind], lo->lo_name,
		    shared ? "shared" : "exclusive", file, line);
	kh_held_pop(kt, i);
	host_mutex_lock(l->m);
	if (shared)
		l->readers--;
	else {
		l->owner = NULL;
		if (word != NULL)
			*word = unowned;
	}
	host_cond_broadcast(l->cv);
	host_mutex_unlock(l->m);
}

static void
kh_assert(struct lock_object *lo, int what, const char *file, int line)
{
	struct kh_thread *kt = kh_curthread();
	struct kh_lock *l = kh_lock_of(lo, "assert");
	int i, ok;

	i = kh_held_find(kt, lo);
	switch (what & ~(LA_RECURSED | LA_NOTRECURSED)) {
	case LA_LOCKED:
		ok = i >= 0;
		break;
	case LA_SLOCKED:
		ok = i >= 0 && kt->held[i].shared;
		break;
	case LA_XLOCKED:
		ok = i >= 0 && !kt->held[i].shared;
		break;
	case LA_UNLOCKED:
		ok = i < 0;
		break;
	default:
		kh_panic("lock assert: unknown what %#x at %s:%d", what, file,
		    line);
	}
	if (!ok)
		kh_panic("%s \"%s\" assertion %#x failed at %s:%d",
		    kh_kind[l->kind], lo->lo_name, what, file, line);
}

int
kh_lock_owned(struct lock_object *lo)
{
	struct kh_thread *kt = kh_curthread();
	int i = kh_held_find(kt, lo);

	return (i < 0 ? 0 : kt->held[i].shared ? 1 : 2);
}

/* mutex(9): kern_mutex.c */

#define	KH_MTX(c)	__containerof(c, struct mtx, mtx_lock)

void
_mtx_init(volatile uintptr_t *c, const char *name, const char *type __unused,
    int opts)
{
	struct mtx *m = KH_MTX(c);

	if ((opts & MTX_SPIN) != 0)
		kh_panic("mtx_init(\"%s\"): spin mutexes are not modelled",
		    name);
	kh_lock_init(&m->lock_object, name, KH_MTX, (opts & MTX_DUPOK) != 0);
	m->mtx_lock = MTX_UNOWNED;
}

void
_mtx_destroy(volatile uintptr_t *c)
{

	kh_lock_fini(&KH_MTX(c)->lock_object);
}

void
__mtx_lock_flags(volatile uintptr_t *c, int opts __unused, const char *file,
    int line)
{

	kh_acquire(&KH_MTX(c)->lock_object, 0, file, line, c);
}

void
__mtx_unlock_flags(volatile uintptr_t *c, int opts __unused, const char *file,
    int line)
{

	kh_release(&KH_MTX(c)->lock_object, 0, file, line, c, MTX_UNOWNED);
}

void
__mtx_assert(const volatile uintptr_t *c, int what, const char *file,
    int line)
{
	int la;

	la = what == MA_OWNED ? LA_XLOCKED : what == MA_NOTOWNED ?
	    LA_UNLOCKED : LA_XLOCKED;
	kh_assert(&KH_MTX(c)->lock_object, la, file, line);
}

/* rwlock(9): kern_rwlock.c */

#define	KH_RW(c)	__containerof(c, struct rwlock, rw_lock)

void
_rw_init_flags(volatile uintptr_t *c, const char *name, int opts)
{
	struct rwlock *rw = KH_RW(c);

	kh_lock_init(&rw->lock_object, name, KH_RW, (opts & RW_DUPOK) != 0);
	rw->rw_lock = RW_UNLOCKED;
}

void
_rw_destroy(volatile uintptr_t *c)
{

	kh_lock_fini(&KH_RW(c)->lock_object);
}

void
_rw_wlock_cookie(volatile uintptr_t *c, const char *file, int line)
{

	kh_acquire(&KH_RW(c)->lock_object, 0, file, line, c);
}

void
_rw_wunlock_cookie(volatile uintptr_t *c, const char *file, int line)
{

	kh_release(&KH_RW(c)->lock_object, 0, file, line, c, RW_UNLOCKED);
}

void
__rw_rlock(volatile uintptr_t *c, const char *file, int line)
{

	kh_acquire(&KH_RW(c)->lock_object, 1, file, line, NULL);
}

void
_rw_runlock_cookie(volatile uintptr_t *c, const char *file, int line)
{

	kh_release(&KH_RW(c)->lock_object, 1, file, line, NULL, 0);
}

void
__rw_assert(const volatile uintptr_t *c, int what, const char *file, int line)
{

	kh_assert(&KH_RW(c)->lock_object, what, file, line);
}

/* sx(9): kern_sx.c */

void
sx_init_flags(struct sx *sx, const char *desc, int opts)
{

	kh_lock_init(&sx->lock_object, desc, KH_SX, (opts & SX_DUPOK) != 0);
	sx->sx_lock = SX_LOCK_UNLOCKED;
}

void
sx_sysinit(void *arg)
{
	struct sx_args *a = arg;

	sx_init_flags(a->sa_sx, a->sa_desc, a->sa_flags);
}

void
sx_destroy(struct sx *sx)
{

	kh_lock_fini(&sx->lock_object);
}

int
_sx_xlock(struct sx *sx, int opts __unused, const char *file, int line)
{

	kh_acquire(&sx->lock_object, 0, file, line, &sx->sx_lock);
	return (0);
}

int
_sx_slock(struct sx *sx, int opts __unused, const char *file, int line)
{

	kh_acquire(&sx->lock_object, 1, file, line, NULL);
	return (0);
}

void
_sx_xunlock(struct sx *sx, const char *file, int line)
{

	kh_release(&sx->lock_object, 0, file, line, &sx->sx_lock,
	    SX_LOCK_UNLOCKED);
}

void
_sx_sunlock(struct sx *sx, const char *file, int line)
{

	kh_release(&sx->lock_object, 1, file, line, NULL, 0);
}

void
_sx_assert(const struct sx *sx, int what, const char *file, int line)
{

	kh_assert(__DECONST(struct lock_object *, &sx->lock_object), what,
	    file, line);
}
