/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * kharness: a model of mbuf(9), the network buffers of FreeBSD 14.
 *
 * It follows FreeBSD's sys/kern/kern_mbuf.c (zones, m_get2, m_get3,
 * m_getjcl, m_getm2, m_clget, mb_free_ext, m_freem), sys/kern/uipc_mbuf.c
 * (chain manipulation: m_adj, m_copydata, m_copym, m_dup, m_pullup,
 * m_split, m_defrag, m_collapse, m_unshare, ...), sys/kern/uipc_mbuf2.c
 * (m_pulldown, packet tags) and the inline half in sys/sys/mbuf.h, which
 * callers compile unchanged against the real header.  It is a model, not
 * FreeBSD: the UMA zones are replaced by one host allocation per object,
 * with no caches, so that AddressSanitizer sees every use after free, and
 * every object is kept in a table of live objects so that the contracts
 * that FreeBSD checks only under INVARIANTS (or not at all) fail the run
 * here (kh_panic):
 *
 *  - freeing an mbuf, cluster or tag twice;
 *  - handing a packet (a chain whose first mbuf has M_PKTHDR) whose
 *    m_pkthdr.len disagrees with the sum of its m_len to a function that
 *    works on packets;
 *  - offsets and lengths outside the chain (FreeBSD's KASSERT messages);
 *  - packet header and tag operations on an mbuf without a packet header;
 *  - using an mbuf that was freed while its cluster was shared (it stays
 *    allocated until the last reference goes, as in FreeBSD, but is dead).
 *
 * M_NOWAIT allocations ask kh_fault() first and fail when told to;
 * M_WAITOK ones never fail but call kh_check_sleep() first.  Unmapped
 * (M_EXTPG) mbufs, send tags and MAC labels are not modelled.
 */

#include "kh.h"

#include <sys/mbuf.h>
#include <vm/uma.h>

/*
 * Objects the model tracks.  Each host allocation is a header (the hash
 * chain entry) followed by the object itself; the hash holds live objects
 * only, so checking a pointer never reads freed memory.
 */
enum {
	KHK_MBUF,
	KHK_CLUST,
	KHK_JUMBOP,
	KHK_JUMBO9,
	KHK_JUMBO16,
	KHK_TAG,
	KHK_NKINDS
};

static const char *const kh_kind_name[KHK_NKINDS] = {
	"mbuf", "cluster (2k)", "jumbo cluster (page)", "jumbo cluster (9k)",
	"jumbo cluster (16k)", "m_tag"
};

struct kh_mbobj {
	struct kh_mbobj	*ko_next;	/* hash chain */
	void		*ko_obj;
	int		 ko_kind;
	int		 ko_size;
	int		 ko_dead;	/* freed mbuf kept for its cluster */
};

/*
 * A multiple of 16: the objects keep malloc's alignment, which is all the
 * mbuf code asks (m_dat 8-byte aligned), not the UMA zones' MSIZE.
 */
#define	KH_MBHDR	64
CTASSERT(sizeof(struct kh_mbobj) <= KH_MBHDR);

#define	KH_MBHASH	4096
static struct kh_mbobj *kh_mbhash[KH_MBHASH];
static long kh_mblive[KHK_NKINDS];
static long kh_mbdead;
static host_mutex_t *kh_mbmtx;

/*
 * The zones.  uma_zone_t is opaque to its users, so the model's own
 * descriptors stand behind the pointers.
 */
struct kh_mbzone {
	const char	*kz_name;	/* for a debugger */
	int		 kz_kind;	/* of the objects it hands out */
	int		 kz_size;
};

static struct kh_mbzone kh_zone_mbuf = { MBUF_MEM_NAME, KHK_MBUF, MSIZE };
static struct kh_mbzone kh_zone_clust =
    { MBUF_CLUSTER_MEM_NAME, KHK_CLUST, MCLBYTES };
static struct kh_mbzone kh_zone_pack =
    { MBUF_PACKET_MEM_NAME, KHK_MBUF, MSIZE };
static struct kh_mbzone kh_zone_jumbop =
    { MBUF_JUMBOP_MEM_NAME, KHK_JUMBOP, MJUMPAGESIZE };
static struct kh_mbzone kh_zone_jumbo9 =
    { MBUF_JUMBO9_MEM_NAME, KHK_JUMBO9, MJUM9BYTES };
static struct kh_mbzone kh_zone_jumbo16 =
    { MBUF_JUMBO16_MEM_NAME, KHK_JUMBO16, MJUM16BYTES };

uma_zone_t	zone_mbuf = (uma_zone_t)&kh_zone_mbuf;
uma_zone_t	zone_clust = (uma_zone_t)&kh_zone_clust;
uma_zone_t	zone_pack = (uma_zone_t)&kh_zone_pack;
uma_zone_t	zone_jumbop = (uma_zone_t)&kh_zone_jumbop;
uma_zone_t	zone_jumbo9 = (uma_zone_t)&kh_zone_jumbo9;
uma_zone_t	zone_jumbo16 = (uma_zone_t)&kh_zone_jumbo16;
uma_zone_t	zone_extpgs = NULL;	/* M_EXTPG is not modelled */

/* Tunables and globals of kern_mbuf.c and uipc_mbuf.c. */
int		nmbufs = 1 << 20;
int		nmbclusters = 1 << 18;
int		nmbjumbop = 1 << 16;
int		nmbjumbo9 = 1 << 14;
int		nmbjumbo16 = 1 << 13;
bool		mb_use_ext_pgs = false;
/*
 * What domaininit() and the protocols leave them at on amd64.  Weak: the
 * interface model (if.c) may define max_linkhdr too.
 */
u_int		max_linkhdr __weak_symbol = 16;
u_int		max_protohdr __weak_symbol = 60;	/* ip6_hdr + tcphdr */
u_int		max_hdr __weak_symbol = 16 + 60;
u_int		max_datalen __weak_symbol = MHLEN - (16 + 60);

/*
 * Where an allocation comes from: the fault injection site and the
 * sleeping operation kh_check_sleep() names.
 */
struct kh_mbsite {
	const char	*fault;
	const char	*sleep;
};
#define	KH_MBSITE(var, name)						\
	static const struct kh_mbsite var = { name, name " M_WAITOK" }

KH_MBSITE(site_get, "m_get");
KH_MBSITE(site_gethdr, "m_gethdr");
KH_MBSITE(site_get_raw, "m_get_raw");
KH_MBSITE(site_getcl, "m_getcl");
KH_MBSITE(site_clget, "m_clget");
KH_MBSITE(site_cljget, "m_cljget");
KH_MBSITE(site_get2, "m_get2");
KH_MBSITE(site_get3, "m_get3");
KH_MBSITE(site_getjcl, "m_getjcl");
KH_MBSITE(site_tag, "m_tag_alloc");

#define	KH_ASSERT(cond, args) do {					\
	if (__predict_false(!(cond)))					\
		kh_panic args;						\
} while (0)

static host_mutex_t *
kh_mb_mtx(void)
{
	host_mutex_t *m, *n;

	m = __atomic_load_n(&kh_mbmtx, __ATOMIC_ACQUIRE);
	if (__predict_true(m != NULL))
		return (m);
	n = host_mutex_new();
	m = NULL;
	if (__atomic_compare_exchange_n(&kh_mbmtx, &m, n, false,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return (n);
	host_mutex_free(n);
	return (m);
}

static void
kh_mb_lock(void)
{

	host_mutex_lock(kh_mb_mtx());
}

static void
kh_mb_unlock(void)
{

	host_mutex_unlock(kh_mbmtx);
}

static u_int
kh_mb_hashidx(const void *p)
{
	uint64_t v;

	v = (uint64_t)(uintptr_t)p;
	v ^= v >> 29;
	v *= 0x9e3779b97f4a7c15ULL;
	return ((u_int)(v >> 40) & (KH_MBHASH - 1));
}

/* With the lock held. */
static struct kh_mbobj *
kh_mb_find(const void *p)
{
	struct kh_mbobj *ko;

	for (ko = kh_mbhash[kh_mb_hashidx(p)]; ko != NULL; ko = ko->ko_next)
		if (ko->ko_obj == p)
			return (ko);
	return (NULL);
}

/*
 * Fills fresh storage the way INVARIANTS' trash_ctor() does, so that
 * reading what nobody wrote is visible rather than a quiet zero.
 */
static void
kh_mb_trash(void *p, int size)
{
	uint32_t *w;
	int i;

	w = p;
	for (i = 0; i < size / 4; i++)
		w[i] = 0xdeadc0de;
}

static void *
kh_mb_alloc(int kind, int size, int how, const struct kh_mbsite *site)
{
	struct kh_mbobj *ko;
	char *base;
	u_int h;

	KH_ASSERT(((how & M_NOWAIT) != 0) != ((how & M_WAITOK) != 0),
	    ("%s: how 0x%x has not exactly one of M_NOWAIT and M_WAITOK",
	    site->fault, how));
	if (how & M_WAITOK)
		kh_check_sleep(site->sleep);
	else if (kh_fault(site->fault))
		return (NULL);
	base = host_alloc(KH_MBHDR + (unsigned long)size);
	if (base == NULL)
		kh_panic("%s: the host is out of memory (%d bytes)",
		    site->fault, size);
	ko = (struct kh_mbobj *)base;
	ko->ko_obj = base + KH_MBHDR;
	ko->ko_kind = kind;
	ko->ko_size = size;
	ko->ko_dead = 0;
	if (how & M_ZERO)
		bzero(ko->ko_obj, size);
	else
		kh_mb_trash(ko->ko_obj, size);
	h = kh_mb_hashidx(ko->ko_obj);
	kh_mb_lock();
	ko->ko_next = kh_mbhash[h];
	kh_mbhash[h] = ko;
	kh_mblive[kind]++;
	kh_mb_unlock();
	return (ko->ko_obj);
}

static void
kh_mb_release(void *p, int kind, const char *what)
{
	struct kh_mbobj *ko, **kop;

	kh_mb_lock();
	for (kop = &kh_mbhash[kh_mb_hashidx(p)]; (ko = *kop) != NULL;
	    kop = &ko->ko_next)
		if (ko->ko_obj == p)
			break;
	if (ko == NULL) {
		kh_mb_unlock();
		kh_panic("%s: %s %p is not allocated (freed twice?)", what,
		    kh_kind_name[kind], p);
	}
	if (ko->ko_kind != kind) {
		kh_mb_unlock();
		kh_panic("%s: %p is a %s, freed as a %s", what, p,
		    kh_kind_name[ko->ko_kind], kh_kind_name[kind]);
	}
	*kop = ko->ko_next;
	kh_mblive[kind]--;
	if (ko->ko_dead)
		kh_mbdead--;
	kh_mb_unlock();
	/* Poisoned for whoever holds a stale pointer without ASan. */
	kh_mb_trash(p, ko->ko_size);
	host_free(ko);
}

/* What the table says of an mbuf pointer. */
enum { KHS_LIVE, KHS_DEAD, KHS_FREE, KHS_OTHER };

static int
kh_mb_state_locked(const struct mbuf *m, int *kindp)
{
	struct kh_mbobj *ko;

	ko = kh_mb_find(m);
	if (ko == NULL)
		return (KHS_FREE);
	*kindp = ko->ko_kind;
	if (ko->ko_kind != KHK_MBUF)
		return (KHS_OTHER);
	return (ko->ko_dead ? KHS_DEAD : KHS_LIVE);
}

/* Without the lock: reports what kh_mb_state_locked() found. */
static void
kh_mb_badmbuf(const struct mbuf *m, int state, int kind, const char *what)
{

	switch (state) {
	case KHS_FREE:
		kh_panic("%s: mbuf %p is not allocated (freed twice?)", what,
		    m);
	case KHS_OTHER:
		kh_panic("%s: %p is a %s, not an mbuf", what, m,
		    kh_kind_name[kind]);
	default:
		kh_panic("%s: mbuf %p was freed (it is kept only while its "
		    "cluster is shared)", what, m);
	}
}

/*
 * Fails the run unless m is an allocated mbuf and, unless deadok, one in
 * use (not freed while holding a shared cluster's reference count).
 */
static void
kh_mb_checkmbuf(const struct mbuf *m, int deadok, const char *what)
{
	int kind, state;

	kind = KHK_MBUF;
	kh_mb_lock();
	state = kh_mb_state_locked(m, &kind);
	kh_mb_unlock();
	if (state != KHS_LIVE && (state != KHS_DEAD || !deadok))
		kh_mb_badmbuf(m, state, kind, what);
}

static void
kh_mb_checklive(const struct mbuf *m, const char *what)
{

	kh_mb_checkmbuf(m, 0, what);
}

/* The m is being freed but holds the reference count of its cluster. */
static void
kh_mb_setdead(struct mbuf *m)
{
	struct kh_mbobj *ko;

	kh_mb_lock();
	ko = kh_mb_find(m);
	if (ko != NULL && !ko->ko_dead) {
		ko->ko_dead = 1;
		kh_mbdead++;
	}
	kh_mb_unlock();
}

/*
 * The contract of the functions that take a packet: every mbuf of the
 * chain is in use and, when the first has a packet header, m_pkthdr.len
 * is the sum of the m_len.  FreeBSD trusts it (m_adj, m_dup, m_copym with
 * M_COPYALL...) and corrupts the chain or memory when it is wrong.
 */
static void
kh_mb_checkpkt(const struct mbuf *m0, const char *what)
{
	const struct mbuf *m;
	long len;
	int kind, n, state;

	KH_ASSERT(m0 != NULL, ("%s: NULL mbuf chain", what));
	len = 0;
	n = 0;
	kind = KHK_MBUF;
	state = KHS_LIVE;
	/* One lock for the chain; nothing is reported with it held. */
	kh_mb_lock();
	for (m = m0; m != NULL; m = m->m_next) {
		state = kh_mb_state_locked(m, &kind);
		if (state != KHS_LIVE || m->m_len < 0 ||
		    (m != m0 && (m->m_flags & M_PKTHDR) != 0) || ++n >= 1000000)
			break;
		len += m->m_len;
	}
	kh_mb_unlock();
	if (m != NULL) {
		if (state != KHS_LIVE)
			kh_mb_badmbuf(m, state, kind, what);
		KH_ASSERT(m->m_len >= 0, ("%s: mbuf %p of chain %p has m_len "
		    "%d", what, m, m0, m->m_len));
		KH_ASSERT(m == m0 || (m->m_flags & M_PKTHDR) == 0,
		    ("%s: M_PKTHDR on in-chain mbuf %p of %p", what, m, m0));
		kh_panic("%s: mbuf chain %p loops", what, m0);
	}
	if (m0->m_flags & M_PKTHDR)
		KH_ASSERT(m0->m_pkthdr.len == len, ("%s: m_pkthdr.len %d of "
		    "%p but its mbufs hold %ld bytes", what,
		    m0->m_pkthdr.len, m0, len));
}

static void
kh_mb_assertpkthdr(const struct mbuf *m, const char *what)
{

	KH_ASSERT(m != NULL && (m->m_flags & M_PKTHDR) != 0,
	    ("%s: no mbuf packet header!", what));
}

/*
 * Zone constructors and destructors (kern_mbuf.c: mb_ctor_mbuf,
 * mb_ctor_clust, mb_ctor_pack, mb_dtor_mbuf, mb_dtor_pack).
 */
static struct mbuf *
kh_mb_getmbuf(const struct mb_args *args, int how,
    const struct kh_mbsite *site)
{
	struct mbuf *m;

	m = kh_mb_alloc(KHK_MBUF, MSIZE, how, site);
	if (m == NULL)
		return (NULL);
	/* The caller initializes it (m_get_raw, m_gethdr_raw). */
	if (args->type == MT_NOINIT)
		return (m);
	KH_ASSERT((args->flags & M_NOFREE) == 0,
	    ("%s: M_NOFREE in the flags", site->fault));
	(void)m_init(m, how, args->type, args->flags);
	return (m);
}

static int
kh_mb_zonekind(uma_zone_t zone)
{

	return (((struct kh_mbzone *)zone)->kz_kind);
}

static void *
kh_mb_getclust(uma_zone_t zone, struct mbuf *m, int how,
    const struct kh_mbsite *site)
{
	struct kh_mbzone *kz;
	char *buf;

	kz = (struct kh_mbzone *)zone;
	buf = kh_mb_alloc(kz->kz_kind, kz->kz_size, how, site);
	if (buf != NULL && m != NULL) {
		m->m_ext.ext_buf = buf;
		m->m_data = m->m_ext.ext_buf;
		m->m_flags |= M_EXT;
		m->m_ext.ext_free = NULL;
		m->m_ext.ext_arg1 = NULL;
		m->m_ext.ext_arg2 = NULL;
		m->m_ext.ext_size = kz->kz_size;
		m->m_ext.ext_type = m_gettype(kz->kz_size);
		m->m_ext.ext_flags = EXT_FLAG_EMBREF;
		m->m_ext.ext_count = 1;
	}
	return (buf);
}

/*
 * The packet zone hands out an mbuf with a cluster already attached; the
 * model has no cache of such pairs and builds one each time.
 */
static struct mbuf *
kh_mb_getpack(const struct mb_args *args, int how,
    const struct kh_mbsite *site)
{
	struct mb_args raw;
	struct mbuf *m;

	raw.flags = 0;
	raw.type = MT_NOINIT;
	m = kh_mb_getmbuf(&raw, how, site);
	if (m == NULL)
		return (NULL);
	m->m_flags = 0;
	m->m_ext.ext_buf = NULL;
	if (kh_mb_getclust(zone_clust, m, how, site) == NULL) {
		kh_mb_release(m, KHK_MBUF, site->fault);
		return (NULL);
	}
	m->m_ext.ext_type = EXT_PACKET;
	KH_ASSERT((args->flags & M_NOFREE) == 0,
	    ("%s: M_NOFREE in the flags", site->fault));
	(void)m_init(m, how, args->type, args->flags);
	m->m_data = m->m_ext.ext_buf;
	m->m_flags = args->flags | M_EXT;
	return (m);
}

void *
uma_zalloc_arg(uma_zone_t zone, void *arg, int flags)
{
	struct mb_args *args;

	if (zone == zone_mbuf) {
		args = arg;
		KH_ASSERT(args != NULL, ("uma_zalloc_arg: mbuf zone without "
		    "mb_args"));
		return (kh_mb_getmbuf(args, flags, args->type == MT_NOINIT ?
		    &site_get_raw : (args->flags & M_PKTHDR) ? &site_gethdr :
		    &site_get));
	}
	if (zone == zone_pack) {
		args = arg;
		KH_ASSERT(args != NULL, ("uma_zalloc_arg: packet zone without "
		    "mb_args"));
		return (kh_mb_getpack(args, flags, &site_getcl));
	}
	if (zone == zone_clust || zone == zone_jumbop || zone == zone_jumbo9 ||
	    zone == zone_jumbo16)
		return (kh_mb_getclust(zone, arg, flags,
		    arg != NULL ? &site_clget : &site_cljget));
	kh_panic("uma_zalloc_arg: zone %p is not an mbuf zone (kharness "
	    "models only those)", zone);
}

void
uma_zfree_arg(uma_zone_t zone, void *item, void *arg __unused)
{
	struct mbuf *m;

	if (item == NULL)
		return;
	if (zone == zone_mbuf) {
		m = item;
		kh_mb_checkmbuf(m, 1, "uma_zfree(zone_mbuf)");
		KH_ASSERT((m->m_flags & M_NOFREE) == 0,
		    ("mb_dtor_mbuf: M_NOFREE set on %p", m));
		if ((m->m_flags & M_PKTHDR) && !SLIST_EMPTY(&m->m_pkthdr.tags))
			m_tag_delete_chain(m, NULL);
		kh_mb_release(m, KHK_MBUF, "uma_zfree(zone_mbuf)");
		return;
	}
	if (zone == zone_pack) {
		m = item;
		kh_mb_checkmbuf(m, 1, "uma_zfree(zone_pack)");
		if (m->m_flags & M_PKTHDR)
			m_tag_delete_chain(m, NULL);
		KH_ASSERT((m->m_flags & M_EXT) != 0 &&
		    m->m_ext.ext_type == EXT_PACKET &&
		    m->m_ext.ext_size == MCLBYTES && m->m_ext.ext_free == NULL,
		    ("mb_dtor_pack: %p is not a packet zone mbuf", m));
		kh_mb_release(m->m_ext.ext_buf, KHK_CLUST,
		    "uma_zfree(zone_pack)");
		kh_mb_release(m, KHK_MBUF, "uma_zfree(zone_pack)");
		return;
	}
	if (zone == zone_clust || zone == zone_jumbop || zone == zone_jumbo9 ||
	    zone == zone_jumbo16) {
		kh_mb_release(item, kh_mb_zonekind(zone), "uma_zfree(cluster)");
		return;
	}
	kh_panic("uma_zfree_arg: zone %p is not an mbuf zone (kharness "
	    "models only those)", zone);
}

/*
 * External storage (kern_mbuf.c: mb_free_ext, m_extadd; uipc_mbuf.c:
 * mb_dupcl).
 */
void
mb_free_ext(struct mbuf *m)
{
	volatile u_int *refcnt;
	struct mbuf *mref;
	int freembuf;

	kh_mb_checklive(m, "m_free");
	KH_ASSERT(m->m_flags & M_EXT, ("mb_free_ext: M_EXT not set on %p",
	    m));
	if (m->m_ext.ext_flags & EXT_FLAG_EMBREF) {
		refcnt = &m->m_ext.ext_count;
		mref = m;
	} else {
		KH_ASSERT(m->m_ext.ext_cnt != NULL,
		    ("mb_free_ext: no refcounting pointer on %p", m));
		refcnt = m->m_ext.ext_cnt;
		mref = __containerof(refcnt, struct mbuf, m_ext.ext_count);
		if (m->m_ext.ext_type != EXT_EXTREF)
			kh_mb_checkmbuf(mref, 1, "mb_free_ext (the mbuf "
			    "holding the reference count)");
	}
	if (m->m_flags & M_NOFREE) {
		freembuf = 0;
		KH_ASSERT(m->m_ext.ext_type == EXT_EXTREF ||
		    m->m_ext.ext_type == EXT_RXRING,
		    ("mb_free_ext: no-free mbuf %p has wrong type", m));
	} else
		freembuf = 1;
	KH_ASSERT(*refcnt >= 1, ("mb_free_ext: external storage of %p has "
	    "reference count %u (freed twice?)", m, *refcnt));

	/*
	 * The mbuf holding the count outlives its own free while others
	 * share the storage.  Marked before the count drops: once it has,
	 * another thread may free it and its address may be reused.
	 */
	if (m == mref && freembuf && *refcnt != 1)
		kh_mb_setdead(m);
	if (*refcnt == 1 || atomic_fetchadd_int(refcnt, -1) == 1) {
		switch (m->m_ext.ext_type) {
		case EXT_PACKET:
			if (*refcnt == 0)
				*refcnt = 1;
			uma_zfree(zone_pack, mref);
			break;
		case EXT_CLUSTER:
			uma_zfree(zone_clust, m->m_ext.ext_buf);
			uma_zfree(zone_mbuf, mref);
			break;
		case EXT_JUMBOP:
			uma_zfree(zone_jumbop, m->m_ext.ext_buf);
			uma_zfree(zone_mbuf, mref);
			break;
		case EXT_JUMBO9:
			uma_zfree(zone_jumbo9, m->m_ext.ext_buf);
			uma_zfree(zone_mbuf, mref);
			break;
		case EXT_JUMBO16:
			uma_zfree(zone_jumbo16, m->m_ext.ext_buf);
			uma_zfree(zone_mbuf, mref);
			break;
		case EXT_SFBUF:
		case EXT_NET_DRV:
		case EXT_MOD_TYPE:
		case EXT_DISPOSABLE:
			KH_ASSERT(mref->m_ext.ext_free != NULL,
			    ("mb_free_ext: ext_free not set"));
			mref->m_ext.ext_free(mref);
			uma_zfree(zone_mbuf, mref);
			break;
		case EXT_EXTREF:
			KH_ASSERT(m->m_ext.ext_free != NULL,
			    ("mb_free_ext: ext_free not set"));
			m->m_ext.ext_free(m);
			break;
		case EXT_RXRING:
			KH_ASSERT(m->m_ext.ext_free == NULL,
			    ("mb_free_ext: ext_free is set"));
			break;
		default:
			kh_panic("mb_free_ext: unknown ext_type %d on %p",
			    m->m_ext.ext_type, m);
		}
	}
	if (freembuf && m != mref)
		uma_zfree(zone_mbuf, m);
}

void
mb_free_extpg(struct mbuf *m)
{

	kh_panic("mb_free_extpg: unmapped (M_EXTPG) mbuf %p: not modelled",
	    m);
}

void
mb_dupcl(struct mbuf *n, struct mbuf *m)
{
	volatile u_int *refcnt;

	kh_mb_checklive(m, "mb_dupcl");
	kh_mb_checklive(n, "mb_dupcl");
	KH_ASSERT(m->m_flags & M_EXT, ("mb_dupcl: M_EXT not set on %p", m));
	KH_ASSERT(!(n->m_flags & M_EXT), ("mb_dupcl: M_EXT set on %p", n));

	/* Only the holder of the count carries the free routine. */
	if (m->m_ext.ext_type == EXT_EXTREF)
		bcopy(&m->m_ext, &n->m_ext, sizeof(struct m_ext));
	else
		bcopy(&m->m_ext, &n->m_ext, m_ext_copylen);
	n->m_flags |= M_EXT;
	n->m_flags |= m->m_flags & M_RDONLY;
	if (m->m_ext.ext_flags & EXT_FLAG_EMBREF) {
		refcnt = n->m_ext.ext_cnt = &m->m_ext.ext_count;
		n->m_ext.ext_flags &= ~EXT_FLAG_EMBREF;
	} else {
		KH_ASSERT(m->m_ext.ext_cnt != NULL,
		    ("mb_dupcl: no refcounting pointer on %p", m));
		refcnt = m->m_ext.ext_cnt;
	}
	KH_ASSERT(*refcnt >= 1, ("mb_dupcl: external storage of %p has "
	    "reference count %u", m, *refcnt));
	atomic_add_int(refcnt, 1);
}

void
m_extadd(struct mbuf *mb, char *buf, u_int size, m_ext_free_t freef,
    void *arg1, void *arg2, int flags, int type)
{

	KH_ASSERT(type != EXT_CLUSTER, ("m_extadd: EXT_CLUSTER not allowed"));
	mb->m_flags |= (M_EXT | flags);
	mb->m_ext.ext_buf = buf;
	mb->m_data = mb->m_ext.ext_buf;
	mb->m_ext.ext_size = size;
	mb->m_ext.ext_free = freef;
	mb->m_ext.ext_arg1 = arg1;
	mb->m_ext.ext_arg2 = arg2;
	mb->m_ext.ext_type = type;
	if (type != EXT_EXTREF) {
		mb->m_ext.ext_count = 1;
		mb->m_ext.ext_flags = EXT_FLAG_EMBREF;
	} else
		mb->m_ext.ext_flags = 0;
}

/*
 * The allocation KPI of kern_mbuf.c (m_get, m_gethdr and m_getcl are
 * inline in mbuf.h and come through uma_zalloc_arg()).
 */
int
m_clget(struct mbuf *m, int how)
{

	kh_mb_checklive(m, "m_clget");
	KH_ASSERT((m->m_flags & M_EXT) == 0, ("m_clget: mbuf %p has M_EXT",
	    m));
	m->m_ext.ext_buf = NULL;
	/*
	 * FreeBSD retries an M_NOWAIT failure after draining the packet
	 * zone's cache; the model has no cache, so one try decides.
	 */
	(void)kh_mb_getclust(zone_clust, m, how, &site_clget);
	return (m->m_flags & M_EXT);
}

void *
m_cljget(struct mbuf *m, int how, int size)
{

	if (m != NULL) {
		kh_mb_checklive(m, "m_cljget");
		KH_ASSERT((m->m_flags & M_EXT) == 0,
		    ("m_cljget: mbuf %p has M_EXT", m));
		m->m_ext.ext_buf = NULL;
	}
	return (kh_mb_getclust(m_getzone(size), m, how, &site_cljget));
}

struct mbuf *
m_get2(int size, int how, short type, int flags)
{
	struct mb_args args;
	struct mbuf *m;

	args.flags = flags;
	args.type = type;
	if (size <= MHLEN || (size <= MLEN && (flags & M_PKTHDR) == 0))
		return (kh_mb_getmbuf(&args, how, &site_get2));
	if (size <= MCLBYTES)
		return (kh_mb_getpack(&args, how, &site_get2));
	if (size > MJUMPAGESIZE)
		return (NULL);
	m = kh_mb_getmbuf(&args, how, &site_get2);
	if (m == NULL)
		return (NULL);
	if (kh_mb_getclust(zone_jumbop, m, how, &site_get2) == NULL) {
		m_free_raw(m);
		return (NULL);
	}
	return (m);
}

struct mbuf *
m_get3(int size, int how, short type, int flags)
{
	struct mb_args args;
	struct mbuf *m;

	if (size <= MJUMPAGESIZE)
		return (m_get2(size, how, type, flags));
	if (size > MJUM16BYTES)
		return (NULL);
	args.flags = flags;
	args.type = type;
	m = kh_mb_getmbuf(&args, how, &site_get3);
	if (m == NULL)
		return (NULL);
	if (kh_mb_getclust(size <= MJUM9BYTES ? zone_jumbo9 : zone_jumbo16,
	    m, how, &site_get3) == NULL) {
		m_free_raw(m);
		return (NULL);
	}
	return (m);
}

struct mbuf *
m_getjcl(int how, short type, int flags, int size)
{
	struct mb_args args;
	struct mbuf *m;

	args.flags = flags;
	args.type = type;
	if (size == MCLBYTES)
		return (kh_mb_getpack(&args, how, &site_getjcl));
	m = kh_mb_getmbuf(&args, how, &site_getjcl);
	if (m == NULL)
		return (NULL);
	if (kh_mb_getclust(m_getzone(size), m, how, &site_getjcl) == NULL) {
		m_free_raw(m);
		return (NULL);
	}
	return (m);
}

struct mbuf *
m_getm2(struct mbuf *m, int len, int how, short type, int flags)
{
	struct mbuf *mb, *nm, *mtail;

	KH_ASSERT(len >= 0, ("m_getm2: len is < 0"));
	nm = mtail = NULL;
	flags &= (M_PKTHDR | M_EOR);
	/* Only the first mbuf of a chain has a packet header. */
	if ((flags & M_PKTHDR) && m != NULL)
		flags &= ~M_PKTHDR;
	while (len > 0) {
		mb = NULL;
		if (len > MCLBYTES)
			mb = m_getjcl(M_NOWAIT, type, (flags & M_PKTHDR),
			    MJUMPAGESIZE);
		if (mb == NULL) {
			if (len >= MINCLSIZE)
				mb = m_getcl(how, type, (flags & M_PKTHDR));
			else if (flags & M_PKTHDR)
				mb = m_gethdr(how, type);
			else
				mb = m_get(how, type);
			if (mb == NULL) {
				m_freem(nm);
				return (NULL);
			}
		}
		len -= M_SIZE(mb);
		if (mtail != NULL)
			mtail->m_next = mb;
		else
			nm = mb;
		mtail = mb;
		flags &= ~M_PKTHDR;
	}
	if (flags & M_EOR)
		mtail->m_flags |= M_EOR;
	if (m != NULL) {
		for (mtail = m; mtail->m_next != NULL; mtail = mtail->m_next)
			;
		mtail->m_next = nm;
		mtail->m_flags &= ~M_EOR;
	} else
		m = nm;
	return (m);
}

void
m_freem(struct mbuf *mb)
{

	while (mb != NULL) {
		/* Before m_free() reads it: a freed mbuf is a double free. */
		kh_mb_checklive(mb, "m_freem");
		mb = m_free(mb);
	}
}

void
m_free_raw(struct mbuf *mb)
{

	uma_zfree(zone_mbuf, mb);
}

void
m_snd_tag_destroy(struct m_snd_tag *mst)
{

	kh_panic("m_snd_tag_destroy: send tag %p: send tags are not "
	    "modelled", mst);
}

/* Packet tags (uipc_mbuf2.c). */
struct m_tag *
m_tag_alloc(uint32_t cookie, uint16_t type, int len, int wait)
{
	struct m_tag *t;

	if (len < 0)
		return (NULL);
	/* FreeBSD truncates silently; a copy would then lose data. */
	KH_ASSERT(len <= 0xffff, ("m_tag_alloc: length %d does not fit "
	    "m_tag_len", len));
	t = kh_mb_alloc(KHK_TAG, (int)sizeof(struct m_tag) + len, wait,
	    &site_tag);
	if (t == NULL)
		return (NULL);
	m_tag_setup(t, cookie, type, len);
	t->m_tag_free = m_tag_free_default;
	return (t);
}

void
m_tag_free_default(struct m_tag *t)
{

	kh_mb_release(t, KHK_TAG, "m_tag_free_default");
}

void
m_tag_delete(struct mbuf *m, struct m_tag *t)
{
	struct m_tag *p;

	KH_ASSERT(m != NULL && t != NULL, ("m_tag_delete: null argument, "
	    "m %p t %p", m, t));
	kh_mb_assertpkthdr(m, "m_tag_delete");
	SLIST_FOREACH(p, &m->m_pkthdr.tags, m_tag_link)
		if (p == t)
			break;
	KH_ASSERT(p != NULL, ("m_tag_delete: tag %p is not on mbuf %p", t,
	    m));
	m_tag_unlink(m, t);
	m_tag_free(t);
}

void
m_tag_delete_chain(struct mbuf *m, struct m_tag *t)
{
	struct m_tag *p, *q;

	KH_ASSERT(m != NULL, ("m_tag_delete_chain: null mbuf"));
	kh_mb_assertpkthdr(m, "m_tag_delete_chain");
	if (t != NULL)
		p = t;
	else
		p = SLIST_FIRST(&m->m_pkthdr.tags);
	if (p == NULL)
		return;
	while ((q = SLIST_NEXT(p, m_tag_link)) != NULL)
		m_tag_delete(m, q);
	m_tag_delete(m, p);
}

void
m_tag_delete_nonpersistent(struct mbuf *m)
{
	struct m_tag *p, *q;

	kh_mb_assertpkthdr(m, "m_tag_delete_nonpersistent");
	SLIST_FOREACH_SAFE(p, &m->m_pkthdr.tags, m_tag_link, q)
		if ((p->m_tag_id & MTAG_PERSISTENT) == 0)
			m_tag_delete(m, p);
}

struct m_tag *
m_tag_locate(struct mbuf *m, uint32_t cookie, uint16_t type,
    struct m_tag *t)
{
	struct m_tag *p;

	KH_ASSERT(m != NULL, ("m_tag_locate: null mbuf"));
	kh_mb_assertpkthdr(m, "m_tag_locate");
	if (t == NULL)
		p = SLIST_FIRST(&m->m_pkthdr.tags);
	else
		p = SLIST_NEXT(t, m_tag_link);
	while (p != NULL) {
		if (p->m_tag_cookie == cookie && p->m_tag_id == type)
			return (p);
		p = SLIST_NEXT(p, m_tag_link);
	}
	return (NULL);
}

struct m_tag *
m_tag_copy(struct m_tag *t, int how)
{
	struct m_tag *p;

	KH_ASSERT(t != NULL, ("m_tag_copy: null tag"));
	p = m_tag_alloc(t->m_tag_cookie, t->m_tag_id, t->m_tag_len, how);
	if (p == NULL)
		return (NULL);
	bcopy(t + 1, p + 1, t->m_tag_len);
	return (p);
}

int
m_tag_copy_chain(struct mbuf *to, const struct mbuf *from, int how)
{
	struct m_tag *p, *t, *tprev;

	KH_ASSERT(to != NULL && from != NULL, ("m_tag_copy_chain: null "
	    "argument, to %p from %p", to, from));
	kh_mb_assertpkthdr(to, "m_tag_copy_chain");
	kh_mb_assertpkthdr(from, "m_tag_copy_chain");
	m_tag_delete_chain(to, NULL);
	tprev = NULL;
	SLIST_FOREACH(p, &from->m_pkthdr.tags, m_tag_link) {
		t = m_tag_copy(p, how);
		if (t == NULL) {
			m_tag_delete_chain(to, NULL);
			return (0);
		}
		if (tprev == NULL)
			SLIST_INSERT_HEAD(&to->m_pkthdr.tags, t, m_tag_link);
		else
			SLIST_INSERT_AFTER(tprev, t, m_tag_link);
		tprev = t;
	}
	return (1);
}

/* Packet headers (uipc_mbuf.c). */
int
m_pkthdr_init(struct mbuf *m, int how __unused)
{

	/* MAC labels (mac_mbuf_init) are not modelled. */
	m->m_data = m->m_pktdat;
	bzero(&m->m_pkthdr, sizeof(m->m_pkthdr));
	return (0);
}

void
m_move_pkthdr(struct mbuf *to, struct mbuf *from)
{

	kh_mb_checklive(to, "m_move_pkthdr");
	kh_mb_checklive(from, "m_move_pkthdr");
	kh_mb_assertpkthdr(from, "m_move_pkthdr");
	KH_ASSERT(to != from, ("m_move_pkthdr: %p to itself", to));
	/* As with options MAC (opt_global.h): to's own tags go. */
	if (to->m_flags & M_PKTHDR)
		m_tag_delete_chain(to, NULL);
	to->m_flags = (from->m_flags & M_COPYFLAGS) | (to->m_flags & M_EXT);
	if ((to->m_flags & M_EXT) == 0)
		to->m_data = to->m_pktdat;
	to->m_pkthdr = from->m_pkthdr;
	SLIST_INIT(&from->m_pkthdr.tags);
	from->m_flags &= ~M_PKTHDR;
}

int
m_dup_pkthdr(struct mbuf *to, const struct mbuf *from, int how)
{

	kh_mb_checklive(to, "m_dup_pkthdr");
	kh_mb_checklive(from, "m_dup_pkthdr");
	kh_mb_assertpkthdr(from, "m_dup_pkthdr");
	if (to->m_flags & M_PKTHDR)
		m_tag_delete_chain(to, NULL);
	to->m_flags = (from->m_flags & M_COPYFLAGS) | (to->m_flags & M_EXT);
	if ((to->m_flags & M_EXT) == 0)
		to->m_data = to->m_pktdat;
	to->m_pkthdr = from->m_pkthdr;
	SLIST_INIT(&to->m_pkthdr.tags);
	return (m_tag_copy_chain(to, from, how));
}

void
m_demote_pkthdr(struct mbuf *m)
{

	kh_mb_assertpkthdr(m, "m_demote_pkthdr");
	m_tag_delete_chain(m, NULL);
	m->m_flags &= ~M_PKTHDR;
	bzero(&m->m_pkthdr, sizeof(struct pkthdr));
}

void
m_demote(struct mbuf *m0, int all, int flags)
{
	struct mbuf *m;

	for (m = all ? m0 : m0->m_next; m != NULL; m = m->m_next) {
		kh_mb_checklive(m, "m_demote");
		KH_ASSERT(m->m_nextpkt == NULL, ("m_demote: m_nextpkt in m "
		    "%p, m0 %p", m, m0));
		if (m->m_flags & M_PKTHDR)
			m_demote_pkthdr(m);
		m->m_flags = m->m_flags & (M_EXT | M_RDONLY | M_NOFREE | flags);
	}
}

/*
 * FreeBSD's checks (INVARIANTS: a failure panics), and the model's: every
 * mbuf and cluster is allocated, reference counts are sane, no loops.
 */
int
m_sanity(struct mbuf *m0, int sanitize)
{
	struct mbuf *m, *mref;
	struct kh_mbobj *ko;
	caddr_t a, b;
	int ckind, csize, n, pktlen;
	u_int refs;

#define	KH_SANITY(cond, s) do {						\
	if (__predict_false(!(cond)))					\
		kh_panic("m_sanity: mbuf %p of chain %p: %s", m, m0, s); \
} while (0)

	KH_ASSERT(m0 != NULL, ("m_sanity: NULL mbuf"));
	pktlen = 0;
	n = 0;
	for (m = m0; m != NULL; m = m->m_next) {
		kh_mb_checklive(m, "m_sanity");
		KH_SANITY(++n < 1000000, "the chain loops");
		KH_SANITY(m->m_len >= 0, "negative m_len");
		KH_SANITY((m->m_flags & M_EXTPG) == 0,
		    "unmapped mbufs are not modelled");
		a = M_START(m);
		b = a + M_SIZE(m);
		KH_SANITY(m->m_data >= a,
		    "m_data outside mbuf data range left");
		KH_SANITY(m->m_data <= b,
		    "m_data outside mbuf data range right");
		KH_SANITY(m->m_data + m->m_len <= b,
		    "m_data + m_len exeeds mbuf space");
		if (m->m_flags & M_EXT) {
			refs = m_extrefcnt(m);
			KH_SANITY(refs >= 1 && refs < 1000000,
			    "bad external storage reference count");
			switch (m->m_ext.ext_type) {
			case EXT_CLUSTER:
			case EXT_PACKET:
			case EXT_JUMBOP:
			case EXT_JUMBO9:
			case EXT_JUMBO16:
				kh_mb_lock();
				ko = kh_mb_find(m->m_ext.ext_buf);
				ckind = ko != NULL ? ko->ko_kind : -1;
				csize = ko != NULL ? ko->ko_size : -1;
				kh_mb_unlock();
				KH_SANITY(ckind != -1 && ckind != KHK_MBUF &&
				    ckind != KHK_TAG &&
				    csize == (int)m->m_ext.ext_size,
				    "cluster not allocated or of another size");
				if (!(m->m_ext.ext_flags & EXT_FLAG_EMBREF)) {
					mref = __containerof(m->m_ext.ext_cnt,
					    struct mbuf, m_ext.ext_count);
					kh_mb_checkmbuf(mref, 1, "m_sanity "
					    "(the cluster's reference holder)");
					KH_SANITY(mref->m_ext.ext_buf ==
					    m->m_ext.ext_buf, "reference count "
					    "of another cluster");
				}
				break;
			default:
				break;
			}
		}
		if (m != m0 && m->m_nextpkt != NULL) {
			if (sanitize) {
				m_freem(m->m_nextpkt);
				m->m_nextpkt = (struct mbuf *)0xDEADC0DE;
			} else
				KH_SANITY(0, "m->m_nextpkt on in-chain mbuf");
		}
		if (m0->m_flags & M_PKTHDR)
			pktlen += m->m_len;
		if (m != m0 && m->m_flags & M_PKTHDR) {
			if (sanitize) {
				m_tag_delete_chain(m, NULL);
				bzero(&m->m_pkthdr, sizeof(m->m_pkthdr));
				m->m_flags &= ~M_PKTHDR;
			} else
				KH_SANITY(0, "M_PKTHDR on in-chain mbuf");
		}
	}
	m = m0;
	if ((m0->m_flags & M_PKTHDR) && pktlen != m0->m_pkthdr.len) {
		if (sanitize)
			m0->m_pkthdr.len = 0;
		else
			KH_SANITY(0, "m_pkthdr.len != mbuf chain length");
	}
	return (1);
#undef	KH_SANITY
}

/* Chains (uipc_mbuf.c). */
struct mbuf *
m_prepend(struct mbuf *m, int len, int how)
{
	struct mbuf *mn;

	kh_mb_checkpkt(m, "m_prepend");
	if (m->m_flags & M_PKTHDR)
		mn = m_gethdr(how, m->m_type);
	else
		mn = m_get(how, m->m_type);
	if (mn == NULL) {
		m_freem(m);
		return (NULL);
	}
	if (m->m_flags & M_PKTHDR)
		m_move_pkthdr(mn, m);
	mn->m_next = m;
	m = mn;
	KH_ASSERT(len >= 0 && len <= M_SIZE(m), ("m_prepend: %d bytes do "
	    "not fit an mbuf", len));
	if (len < M_SIZE(m))
		M_ALIGN(m, len);
	m->m_len = len;
	return (m);
}

struct mbuf *
m_copym(struct mbuf *m, int off0, int len, int wait)
{
	struct mbuf *n, **np, *top;
	int off, copyhdr;

	off = off0;
	copyhdr = 0;
	KH_ASSERT(off >= 0, ("m_copym, negative off %d", off));
	KH_ASSERT(len >= 0, ("m_copym, negative len %d", len));
	kh_mb_checkpkt(m, "m_copym");
	if (off == 0 && m->m_flags & M_PKTHDR)
		copyhdr = 1;
	while (off > 0) {
		KH_ASSERT(m != NULL, ("m_copym, offset > size of mbuf chain"));
		if (off < m->m_len)
			break;
		off -= m->m_len;
		m = m->m_next;
	}
	np = &top;
	top = NULL;
	while (len > 0) {
		if (m == NULL) {
			KH_ASSERT(len == M_COPYALL,
			    ("m_copym, length > size of mbuf chain"));
			break;
		}
		if (copyhdr)
			n = m_gethdr(wait, m->m_type);
		else
			n = m_get(wait, m->m_type);
		*np = n;
		if (n == NULL)
			goto nospace;
		if (copyhdr) {
			if (!m_dup_pkthdr(n, m, wait))
				goto nospace;
			if (len == M_COPYALL)
				n->m_pkthdr.len -= off0;
			else
				n->m_pkthdr.len = len;
			copyhdr = 0;
		}
		n->m_len = min(len, m->m_len - off);
		if (m->m_flags & M_EXT) {
			n->m_data = m->m_data + off;
			mb_dupcl(n, m);
		} else
			bcopy(mtod(m, caddr_t) + off, mtod(n, caddr_t),
			    (u_int)n->m_len);
		if (len != M_COPYALL)
			len -= n->m_len;
		off = 0;
		m = m->m_next;
		np = &n->m_next;
	}
	return (top);
nospace:
	m_freem(top);
	return (NULL);
}

struct mbuf *
m_copypacket(struct mbuf *m, int how)
{
	struct mbuf *top, *n, *o;

	kh_mb_checkpkt(m, "m_copypacket");
	kh_mb_assertpkthdr(m, "m_copypacket");
	n = m_get(how, m->m_type);
	top = n;
	if (n == NULL)
		goto nospace;
	if (!m_dup_pkthdr(n, m, how))
		goto nospace;
	n->m_len = m->m_len;
	if (m->m_flags & M_EXT) {
		n->m_data = m->m_data;
		mb_dupcl(n, m);
	} else {
		/* Keeps the room left in front for headers. */
		n->m_data = n->m_pktdat + (m->m_data - m->m_pktdat);
		bcopy(mtod(m, char *), mtod(n, char *), n->m_len);
	}
	m = m->m_next;
	while (m != NULL) {
		o = m_get(how, m->m_type);
		if (o == NULL)
			goto nospace;
		n->m_next = o;
		n = n->m_next;
		n->m_len = m->m_len;
		if (m->m_flags & M_EXT) {
			n->m_data = m->m_data;
			mb_dupcl(n, m);
		} else
			bcopy(mtod(m, char *), mtod(n, char *), n->m_len);
		m = m->m_next;
	}
	return (top);
nospace:
	m_freem(top);
	return (NULL);
}

void
m_copydata(const struct mbuf *m, int off, int len, caddr_t cp)
{
	u_int count;

	KH_ASSERT(off >= 0, ("m_copydata, negative off %d", off));
	KH_ASSERT(len >= 0, ("m_copydata, negative len %d", len));
	if (m != NULL)
		kh_mb_checkpkt(m, "m_copydata");
	while (off > 0) {
		KH_ASSERT(m != NULL,
		    ("m_copydata, offset > size of mbuf chain"));
		if (off < m->m_len)
			break;
		off -= m->m_len;
		m = m->m_next;
	}
	while (len > 0) {
		KH_ASSERT(m != NULL,
		    ("m_copydata, length > size of mbuf chain"));
		count = min(m->m_len - off, len);
		bcopy(mtod(m, caddr_t) + off, cp, count);
		len -= count;
		cp += count;
		off = 0;
		m = m->m_next;
	}
}

struct mbuf *
m_dup(const struct mbuf *m, int how)
{
	struct mbuf **p, *top, *n;
	int chunk, remain, moff, nsize;

	if (m == NULL)
		return (NULL);
	kh_mb_assertpkthdr(m, "m_dup");
	kh_mb_checkpkt(m, "m_dup");
	top = NULL;
	remain = m->m_pkthdr.len;
	moff = 0;
	p = &top;
	while (remain > 0 || top == NULL) {	/* allow m_pkthdr.len == 0 */
		if (remain >= MINCLSIZE) {
			n = m_getcl(how, m->m_type, 0);
			nsize = MCLBYTES;
		} else {
			n = m_get(how, m->m_type);
			nsize = MLEN;
		}
		if (n == NULL)
			goto nospace;
		if (top == NULL) {
			if (!m_dup_pkthdr(n, m, how)) {
				m_free(n);
				goto nospace;
			}
			if ((n->m_flags & M_EXT) == 0)
				nsize = MHLEN;
			n->m_flags &= ~M_RDONLY;
		}
		n->m_len = 0;
		*p = n;
		p = &n->m_next;
		while (n->m_len < nsize && m != NULL) {
			chunk = min(nsize - n->m_len, m->m_len - moff);
			bcopy(m->m_data + moff, n->m_data + n->m_len, chunk);
			moff += chunk;
			n->m_len += chunk;
			remain -= chunk;
			if (moff == m->m_len) {
				m = m->m_next;
				moff = 0;
			}
		}
		KH_ASSERT((remain > 0 && m != NULL) ||
		    (remain == 0 && m == NULL), ("m_dup: bogus m_pkthdr.len"));
	}
	return (top);
nospace:
	m_freem(top);
	return (NULL);
}

void
m_cat(struct mbuf *m, struct mbuf *n)
{

	kh_mb_checklive(m, "m_cat");
	while (m->m_next)
		m = m->m_next;
	while (n != NULL) {
		kh_mb_checklive(n, "m_cat");
		if (!M_WRITABLE(m) || (n->m_flags & M_EXTPG) != 0 ||
		    M_TRAILINGSPACE(m) < n->m_len) {
			m->m_next = n;
			return;
		}
		bcopy(mtod(n, caddr_t), mtod(m, caddr_t) + m->m_len,
		    (u_int)n->m_len);
		m->m_len += n->m_len;
		n = m_free(n);
	}
}

void
m_catpkt(struct mbuf *m, struct mbuf *n)
{

	kh_mb_assertpkthdr(m, "m_catpkt");
	kh_mb_assertpkthdr(n, "m_catpkt");
	kh_mb_checkpkt(m, "m_catpkt");
	kh_mb_checkpkt(n, "m_catpkt");
	m->m_pkthdr.len += n->m_pkthdr.len;
	m_demote(n, 1, 0);
	m_cat(m, n);
}

void
m_adj(struct mbuf *mp, int req_len)
{
	struct mbuf *m;
	int count, len;

	if ((m = mp) == NULL)
		return;
	kh_mb_checkpkt(mp, "m_adj");
	len = req_len;
	if (len >= 0) {
		/* From the head. */
		while (m != NULL && len > 0) {
			if (m->m_len <= len) {
				len -= m->m_len;
				m->m_len = 0;
				m = m->m_next;
			} else {
				m->m_len -= len;
				m->m_data += len;
				len = 0;
			}
		}
		if (mp->m_flags & M_PKTHDR)
			mp->m_pkthdr.len -= (req_len - len);
	} else {
		/*
		 * From the tail: when the last mbuf holds enough, it alone
		 * shrinks; otherwise the chain is cut at the new length.
		 */
		len = -len;
		count = 0;
		for (;;) {
			count += m->m_len;
			if (m->m_next == NULL)
				break;
			m = m->m_next;
		}
		if (m->m_len >= len) {
			m->m_len -= len;
			if (mp->m_flags & M_PKTHDR)
				mp->m_pkthdr.len -= len;
			return;
		}
		count -= len;
		if (count < 0)
			count = 0;
		m = mp;
		if (m->m_flags & M_PKTHDR)
			m->m_pkthdr.len = count;
		for (; m != NULL; m = m->m_next) {
			if (m->m_len >= count) {
				m->m_len = count;
				if (m->m_next != NULL) {
					m_freem(m->m_next);
					m->m_next = NULL;
				}
				break;
			}
			count -= m->m_len;
		}
	}
}

void
m_adj_decap(struct mbuf *mp, int len)
{
	uint8_t rsstype;

	m_adj(mp, len);
	if ((mp->m_flags & M_PKTHDR) != 0) {
		/* A hash of the inner headers stays; one of the outer goes. */
		rsstype = mp->m_pkthdr.rsstype;
		if ((rsstype & M_HASHTYPE_INNER) != 0)
			M_HASHTYPE_SET(mp, rsstype & ~M_HASHTYPE_INNER);
		else
			M_HASHTYPE_CLEAR(mp);
	}
}

struct mbuf *
m_pullup(struct mbuf *n, int len)
{
	struct mbuf *m;
	int count, space;

	kh_mb_checkpkt(n, "m_pullup");
	KH_ASSERT(len >= 0, ("m_pullup: negative len %d", len));
	/*
	 * Into the first mbuf if it has no cluster and room for len bytes
	 * where its data starts; otherwise into a new mbuf put in front.
	 */
	if ((n->m_flags & M_EXT) == 0 &&
	    n->m_data + len < &n->m_dat[MLEN] && n->m_next) {
		if (n->m_len >= len)
			return (n);
		m = n;
		n = n->m_next;
		len -= m->m_len;
	} else {
		if (len > MHLEN)
			goto bad;
		m = m_get(M_NOWAIT, n->m_type);
		if (m == NULL)
			goto bad;
		if (n->m_flags & M_PKTHDR)
			m_move_pkthdr(m, n);
	}
	space = &m->m_dat[MLEN] - (m->m_data + m->m_len);
	do {
		count = min(min(max(len, max_protohdr), space), n->m_len);
		bcopy(mtod(n, caddr_t), mtod(m, caddr_t) + m->m_len,
		    (u_int)count);
		len -= count;
		m->m_len += count;
		n->m_len -= count;
		space -= count;
		if (n->m_len)
			n->m_data += count;
		else
			n = m_free(n);
	} while (len > 0 && n);
	if (len > 0) {
		(void)m_free(m);
		goto bad;
	}
	m->m_next = n;
	return (m);
bad:
	m_freem(n);
	return (NULL);
}

struct mbuf *
m_copyup(struct mbuf *n, int len, int dstoff)
{
	struct mbuf *m;
	int count, space;

	kh_mb_checkpkt(n, "m_copyup");
	if (len > (MHLEN - dstoff))
		goto bad;
	m = m_get(M_NOWAIT, n->m_type);
	if (m == NULL)
		goto bad;
	if (n->m_flags & M_PKTHDR)
		m_move_pkthdr(m, n);
	m->m_data += dstoff;
	space = &m->m_dat[MLEN] - (m->m_data + m->m_len);
	do {
		count = min(min(max(len, max_protohdr), space), n->m_len);
		memcpy(mtod(m, caddr_t) + m->m_len, mtod(n, caddr_t),
		    (unsigned)count);
		len -= count;
		m->m_len += count;
		n->m_len -= count;
		space -= count;
		if (n->m_len)
			n->m_data += count;
		else
			n = m_free(n);
	} while (len > 0 && n);
	if (len > 0) {
		(void)m_free(m);
		goto bad;
	}
	m->m_next = n;
	return (m);
bad:
	m_freem(n);
	return (NULL);
}

static struct mbuf *
kh_m_split(struct mbuf *m0, int len0, int wait)
{
	struct mbuf *m, *n;
	u_int len, remain;

	len = len0;
	for (m = m0; m && len > m->m_len; m = m->m_next)
		len -= m->m_len;
	if (m == NULL)
		return (NULL);
	remain = m->m_len - len;
	if (m0->m_flags & M_PKTHDR && remain == 0) {
		n = m_gethdr(wait, m0->m_type);
		if (n == NULL)
			return (NULL);
		n->m_next = m->m_next;
		m->m_next = NULL;
		n->m_pkthdr.rcvif = m0->m_pkthdr.rcvif;
		n->m_pkthdr.len = m0->m_pkthdr.len - len0;
		m0->m_pkthdr.len = len0;
		return (n);
	} else if (m0->m_flags & M_PKTHDR) {
		n = m_gethdr(wait, m0->m_type);
		if (n == NULL)
			return (NULL);
		n->m_pkthdr.rcvif = m0->m_pkthdr.rcvif;
		n->m_pkthdr.len = m0->m_pkthdr.len - len0;
		m0->m_pkthdr.len = len0;
		if (m->m_flags & M_EXT)
			goto extpacket;
		if (remain > MHLEN) {
			/* m cannot be the lead packet */
			M_ALIGN(n, 0);
			n->m_next = kh_m_split(m, len, wait);
			if (n->m_next == NULL) {
				(void)m_free(n);
				/* As FreeBSD: the length is not put back. */
				return (NULL);
			} else {
				n->m_len = 0;
				return (n);
			}
		} else
			M_ALIGN(n, remain);
	} else if (remain == 0) {
		n = m->m_next;
		m->m_next = NULL;
		return (n);
	} else {
		n = m_get(wait, m->m_type);
		if (n == NULL)
			return (NULL);
		M_ALIGN(n, remain);
	}
extpacket:
	if (m->m_flags & M_EXT) {
		n->m_data = m->m_data + len;
		mb_dupcl(n, m);
	} else
		bcopy(mtod(m, caddr_t) + len, mtod(n, caddr_t), remain);
	n->m_len = remain;
	m->m_len = len;
	n->m_next = m->m_next;
	m->m_next = NULL;
	return (n);
}

struct mbuf *
m_split(struct mbuf *m0, int len0, int wait)
{

	kh_mb_checkpkt(m0, "m_split");
	KH_ASSERT(len0 >= 0, ("m_split: negative len %d", len0));
	return (kh_m_split(m0, len0, wait));
}

struct mbuf *
m_devget(char *buf, int totlen, int off, struct ifnet *ifp,
    void (*copy)(char *from, caddr_t to, u_int len))
{
	struct mbuf *m, *top, **mp;
	int len;

	if (off < 0 || off > MHLEN)
		return (NULL);
	top = NULL;
	mp = &top;
	while (totlen > 0) {
		if (top == NULL) {
			if (totlen + off >= MINCLSIZE) {
				m = m_getcl(M_NOWAIT, MT_DATA, M_PKTHDR);
				len = MCLBYTES;
			} else {
				m = m_gethdr(M_NOWAIT, MT_DATA);
				len = MHLEN;
				/* Room for a link header in front. */
				if (m && totlen + off + max_linkhdr <= MHLEN) {
					m->m_data += max_linkhdr;
					len -= max_linkhdr;
				}
			}
			if (m == NULL)
				return (NULL);
			m->m_pkthdr.rcvif = ifp;
			m->m_pkthdr.len = totlen;
		} else {
			if (totlen + off >= MINCLSIZE) {
				m = m_getcl(M_NOWAIT, MT_DATA, 0);
				len = MCLBYTES;
			} else {
				m = m_get(M_NOWAIT, MT_DATA);
				len = MLEN;
			}
			if (m == NULL) {
				m_freem(top);
				return (NULL);
			}
		}
		if (off) {
			m->m_data += off;
			len -= off;
			off = 0;
		}
		m->m_len = len = min(totlen, len);
		if (copy)
			copy(buf, mtod(m, caddr_t), (u_int)len);
		else
			bcopy(buf, mtod(m, caddr_t), (u_int)len);
		buf += len;
		*mp = m;
		mp = &m->m_next;
		totlen -= len;
	}
	return (top);
}

void
m_copyback(struct mbuf *m0, int off, int len, c_caddr_t cp)
{
	struct mbuf *m, *n;
	int mlen, totlen;

	if (m0 == NULL)
		return;
	kh_mb_checkpkt(m0, "m_copyback");
	KH_ASSERT(off >= 0 && len >= 0, ("m_copyback: negative off %d or "
	    "len %d", off, len));
	m = m0;
	totlen = 0;
	while (off > (mlen = m->m_len)) {
		off -= mlen;
		totlen += mlen;
		if (m->m_next == NULL) {
			n = m_get(M_NOWAIT, m->m_type);
			if (n == NULL)
				goto out;
			bzero(mtod(n, caddr_t), MLEN);
			n->m_len = min(MLEN, len + off);
			m->m_next = n;
		}
		m = m->m_next;
	}
	while (len > 0) {
		if (m->m_next == NULL && (len > m->m_len - off))
			m->m_len += min(len - (m->m_len - off),
			    M_TRAILINGSPACE(m));
		mlen = min(m->m_len - off, len);
		bcopy(cp, off + mtod(m, caddr_t), (u_int)mlen);
		cp += mlen;
		len -= mlen;
		mlen += off;
		off = 0;
		totlen += mlen;
		if (len == 0)
			break;
		if (m->m_next == NULL) {
			n = m_get(M_NOWAIT, m->m_type);
			if (n == NULL)
				break;
			n->m_len = min(MLEN, len);
			m->m_next = n;
		}
		m = m->m_next;
	}
out:
	if (((m = m0)->m_flags & M_PKTHDR) && (m->m_pkthdr.len < totlen))
		m->m_pkthdr.len = totlen;
}

int
m_append(struct mbuf *m0, int len, c_caddr_t cp)
{
	struct mbuf *m, *n;
	int remainder, space;

	kh_mb_checkpkt(m0, "m_append");
	for (m = m0; m->m_next != NULL; m = m->m_next)
		;
	remainder = len;
	space = M_TRAILINGSPACE(m);
	if (space > 0) {
		if (space > remainder)
			space = remainder;
		bcopy(cp, mtod(m, caddr_t) + m->m_len, space);
		m->m_len += space;
		cp += space;
		remainder -= space;
	}
	while (remainder > 0) {
		n = m_get(M_NOWAIT, m->m_type);
		if (n == NULL)
			break;
		n->m_len = min(MLEN, remainder);
		bcopy(cp, mtod(n, caddr_t), n->m_len);
		cp += n->m_len;
		remainder -= n->m_len;
		m->m_next = n;
		m = n;
	}
	if (m0->m_flags & M_PKTHDR)
		m0->m_pkthdr.len += len - remainder;
	return (remainder == 0);
}

int
m_apply(struct mbuf *m, int off, int len,
    int (*f)(void *, void *, u_int), void *arg)
{
	u_int count;
	int rval;

	KH_ASSERT(off >= 0, ("m_apply, negative off %d", off));
	KH_ASSERT(len >= 0, ("m_apply, negative len %d", len));
	if (m != NULL)
		kh_mb_checkpkt(m, "m_apply");
	while (off > 0) {
		KH_ASSERT(m != NULL, ("m_apply, offset > size of mbuf chain"));
		if (off < m->m_len)
			break;
		off -= m->m_len;
		m = m->m_next;
	}
	while (len > 0) {
		KH_ASSERT(m != NULL, ("m_apply, offset > size of mbuf chain"));
		count = min(m->m_len - off, len);
		rval = (*f)(arg, mtod(m, caddr_t) + off, count);
		if (rval)
			return (rval);
		len -= count;
		off = 0;
		m = m->m_next;
	}
	return (0);
}

struct mbuf *
m_getptr(struct mbuf *m, int loc, int *off)
{

	kh_mb_checkpkt(m, "m_getptr");
	while (loc >= 0) {
		if (m->m_len > loc) {
			*off = loc;
			return (m);
		}
		loc -= m->m_len;
		if (m->m_next == NULL) {
			if (loc == 0) {
				/* The end of the data. */
				*off = m->m_len;
				return (m);
			}
			return (NULL);
		}
		m = m->m_next;
	}
	return (NULL);
}

static char
kh_hexdigit(int v)
{

	return ("0123456789abcdef"[v & 0xf]);
}

void
m_print(const struct mbuf *m, int maxlen)
{
	const struct mbuf *m2;
	char line[3 * 32 + 1];
	const u_char *p;
	int i, j, len, pdata;

	if (m == NULL) {
		kh_log("mbuf: %p", m);
		return;
	}
	if (m->m_flags & M_PKTHDR)
		len = m->m_pkthdr.len;
	else
		len = -1;
	m2 = m;
	while (m2 != NULL && (len == -1 || len)) {
		pdata = m2->m_len;
		if (maxlen != -1 && pdata > maxlen)
			pdata = maxlen;
		kh_log("mbuf: %p len: %d, next: %p, flags 0x%x%s", m2,
		    m2->m_len, m2->m_next, (u_int)m2->m_flags,
		    (m2->m_flags & M_EXT) ? " (cluster)" : "");
		p = (const u_char *)m2->m_data;
		for (i = 0; i < pdata; i += 32) {
			for (j = 0; j < 32 && i + j < pdata; j++) {
				line[3 * j] = kh_hexdigit(p[i + j] >> 4);
				line[3 * j + 1] = kh_hexdigit(p[i + j]);
				line[3 * j + 2] = '-';
			}
			line[3 * j - 1] = '\0';
			kh_log("  %s", line);
		}
		if (len != -1)
			len -= m2->m_len;
		m2 = m2->m_next;
	}
	if (len > 0)
		kh_log("%d bytes unaccounted for.", len);
}

u_int
m_fixhdr(struct mbuf *m0)
{
	u_int len;

	kh_mb_assertpkthdr(m0, "m_fixhdr");
	len = m_length(m0, NULL);
	m0->m_pkthdr.len = len;
	return (len);
}

u_int
m_length(struct mbuf *m0, struct mbuf **last)
{
	struct mbuf *m;
	u_int len;

	len = 0;
	for (m = m0; m != NULL; m = m->m_next) {
		len += m->m_len;
		if (m->m_next == NULL)
			break;
	}
	if (last != NULL)
		*last = m;
	return (len);
}

struct mbuf *
m_defrag(struct mbuf *m0, int how)
{
	struct mbuf *m_new, *m_final;
	int progress, length;

	m_new = m_final = NULL;
	progress = 0;
	kh_mb_checklive(m0, "m_defrag");
	if (!(m0->m_flags & M_PKTHDR))
		return (m0);
	/* FreeBSD repairs m_pkthdr.len here instead of trusting it. */
	m_fixhdr(m0);
	if (m0->m_pkthdr.len > MHLEN)
		m_final = m_getcl(how, MT_DATA, M_PKTHDR);
	else
		m_final = m_gethdr(how, MT_DATA);
	if (m_final == NULL)
		goto nospace;
	if (m_dup_pkthdr(m_final, m0, how) == 0)
		goto nospace;
	m_new = m_final;
	while (progress < m0->m_pkthdr.len) {
		length = m0->m_pkthdr.len - progress;
		if (length > MCLBYTES)
			length = MCLBYTES;
		if (m_new == NULL) {
			if (length > MLEN)
				m_new = m_getcl(how, MT_DATA, 0);
			else
				m_new = m_get(how, MT_DATA);
			if (m_new == NULL)
				goto nospace;
		}
		m_copydata(m0, progress, length, mtod(m_new, caddr_t));
		progress += length;
		m_new->m_len = length;
		if (m_new != m_final)
			m_cat(m_final, m_new);
		m_new = NULL;
	}
	m_freem(m0);
	return (m_final);
nospace:
	if (m_final)
		m_freem(m_final);
	return (NULL);
}

struct mbuf *
m_collapse(struct mbuf *m0, int how, int maxfrags)
{
	struct mbuf *m, *n, *n2, **prev;
	u_int curfrags;

	kh_mb_checkpkt(m0, "m_collapse");
	curfrags = 0;
	for (m = m0; m != NULL; m = m->m_next)
		curfrags++;
	/*
	 * First into the trailing space of earlier mbufs, towards the
	 * front so that the packet header never moves.
	 */
	m = m0;
again:
	for (;;) {
		n = m->m_next;
		if (n == NULL)
			break;
		if (M_WRITABLE(m) && n->m_len < M_TRAILINGSPACE(m)) {
			bcopy(mtod(n, void *), mtod(m, char *) + m->m_len,
			    n->m_len);
			m->m_len += n->m_len;
			m->m_next = n->m_next;
			curfrags--;
			m_free(n);
			if (curfrags <= (u_int)maxfrags)
				return (m0);
		} else
			m = n;
	}
	KH_ASSERT(maxfrags > 1, ("maxfrags %u, but normal collapse failed",
	    maxfrags));
	/* Then two neighbours into a new cluster. */
	prev = &m0->m_next;
	while ((n = *prev) != NULL) {
		if ((n2 = n->m_next) != NULL &&
		    n->m_len + n2->m_len < MCLBYTES) {
			m = m_getcl(how, MT_DATA, 0);
			if (m == NULL)
				goto bad;
			bcopy(mtod(n, void *), mtod(m, void *), n->m_len);
			bcopy(mtod(n2, void *), mtod(m, char *) + n->m_len,
			    n2->m_len);
			m->m_len = n->m_len + n2->m_len;
			m->m_next = n2->m_next;
			*prev = m;
			curfrags--;
			m_free(n);
			m_free(n2);
			if (curfrags <= (u_int)maxfrags)
				return (m0);
			goto again;
		}
		prev = &n->m_next;
	}
bad:
	return (NULL);
}

struct mbuf *
m_unshare(struct mbuf *m0, int how)
{
	struct mbuf *m, *mprev, *n, *mfirst, *mlast;
	int cc, len, off;

	kh_mb_checkpkt(m0, "m_unshare");
	mprev = NULL;
	for (m = m0; m != NULL; m = mprev->m_next) {
		/*
		 * An mbuf without a cluster stays unless it fits the
		 * cluster before it, which keeps later clusters coalescing.
		 */
		if ((m->m_flags & M_EXT) == 0) {
			if (mprev && (mprev->m_flags & M_EXT) &&
			    m->m_len <= M_TRAILINGSPACE(mprev)) {
				memcpy(mtod(mprev, caddr_t) + mprev->m_len,
				    mtod(m, caddr_t), m->m_len);
				mprev->m_len += m->m_len;
				mprev->m_next = m->m_next;
				m_free(m);
			} else
				mprev = m;
			continue;
		}
		if (M_WRITABLE(m)) {
			mprev = m;
			continue;
		}
		/* Shared: copied, into the previous cluster if it fits. */
		if (mprev != NULL && (mprev->m_flags & M_EXT) &&
		    m->m_len <= M_TRAILINGSPACE(mprev)) {
			memcpy(mtod(mprev, caddr_t) + mprev->m_len,
			    mtod(m, caddr_t), m->m_len);
			mprev->m_len += m->m_len;
			mprev->m_next = m->m_next;
			m_free(m);
			continue;
		}
		n = m_getcl(how, m->m_type, m->m_flags & M_COPYFLAGS);
		if (n == NULL) {
			m_freem(m0);
			return (NULL);
		}
		if (m->m_flags & M_PKTHDR) {
			KH_ASSERT(mprev == NULL, ("m_unshare: m0 %p, m %p has "
			    "M_PKTHDR", m0, m));
			m_move_pkthdr(n, m);
		}
		len = m->m_len;
		off = 0;
		mfirst = n;
		mlast = NULL;
		for (;;) {
			cc = min(len, MCLBYTES);
			memcpy(mtod(n, caddr_t), mtod(m, caddr_t) + off, cc);
			n->m_len = cc;
			if (mlast != NULL)
				mlast->m_next = n;
			mlast = n;
			len -= cc;
			if (len <= 0)
				break;
			off += cc;
			n = m_getcl(how, m->m_type, m->m_flags & M_COPYFLAGS);
			if (n == NULL) {
				m_freem(mfirst);
				m_freem(m0);
				return (NULL);
			}
		}
		n->m_next = m->m_next;
		if (mprev == NULL)
			m0 = mfirst;
		else
			mprev->m_next = mfirst;
		m_free(m);
		mprev = mfirst;
	}
	return (m0);
}

/*
 * uipc_mbuf2.c: m_pulldown() and its m_dup1().  FreeBSD's m_dup1() gives
 * the copy of a chain's first mbuf a packet header too, although the copy
 * goes in the middle of the chain; the model leaves that out, as an
 * in-chain header is what its checks reject, and nothing reads it.
 */
static struct mbuf *
kh_m_dup1(struct mbuf *m, int off, int len, int wait)
{
	struct mbuf *n;

	if (len > MCLBYTES)
		return (NULL);
	n = m_get2(len, wait, m->m_type, 0);
	if (n == NULL)
		return (NULL);
	m_copydata(m, off, len, mtod(n, caddr_t));
	n->m_len = len;
	return (n);
}

struct mbuf *
m_pulldown(struct mbuf *m, int off, int len, int *offp)
{
	struct mbuf *n, *o;
	int hlen, tlen, olen;
	int writable;

	if (m == NULL)
		kh_panic("m == NULL in m_pulldown()");
	kh_mb_checkpkt(m, "m_pulldown");
	KH_ASSERT(off >= 0 && len >= 0, ("m_pulldown: negative off %d or "
	    "len %d", off, len));
	if (len > MCLBYTES) {
		m_freem(m);
		return (NULL);
	}
	n = m;
	while (n != NULL && off > 0) {
		if (n->m_len > off)
			break;
		off -= n->m_len;
		n = n->m_next;
	}
	/* Onto data, past empty mbufs. */
	while (n != NULL && n->m_len == 0)
		n = n->m_next;
	if (n == NULL) {
		m_freem(m);
		return (NULL);
	}
	/*
	 * As FreeBSD: only an mbuf without a cluster or with an unshared
	 * EXT_CLUSTER counts as writable, once, here.
	 */
	writable = 0;
	if ((n->m_flags & M_EXT) == 0 ||
	    (n->m_ext.ext_type == EXT_CLUSTER && M_WRITABLE(n)))
		writable = 1;

	/* Already contiguous where the caller accepts it. */
	if ((off == 0 || offp) && len <= n->m_len - off && writable)
		goto ok;

	/* Contiguous but not at the start: cut n in two. */
	if (len <= n->m_len - off) {
		o = kh_m_dup1(n, off, n->m_len - off, M_NOWAIT);
		if (o == NULL) {
			m_freem(m);
			return (NULL);
		}
		n->m_len = off;
		o->m_next = n->m_next;
		n->m_next = o;
		n = n->m_next;
		off = 0;
		goto ok;
	}

	/* hlen bytes at <n, off> and tlen from the mbufs after n. */
	hlen = n->m_len - off;
	tlen = len - hlen;
	olen = 0;
	for (o = n->m_next; o != NULL; o = o->m_next)
		olen += o->m_len;
	if (hlen + olen < len) {
		m_freem(m);
		return (NULL);
	}
	if ((off == 0 || offp) && M_TRAILINGSPACE(n) >= tlen && writable) {
		m_copydata(n->m_next, 0, tlen, mtod(n, caddr_t) + n->m_len);
		n->m_len += tlen;
		m_adj(n->m_next, tlen);
		goto ok;
	}
	/*
	 * Only when the next mbuf then holds all of it: the KAME code
	 * FreeBSD took this from did not check, and returned a short region.
	 */
	if ((off == 0 || offp) && M_LEADINGSPACE(n->m_next) >= hlen &&
	    writable && n->m_next->m_len >= tlen) {
		n->m_next->m_data -= hlen;
		n->m_next->m_len += hlen;
		bcopy(mtod(n, caddr_t) + off, mtod(n->m_next, caddr_t), hlen);
		n->m_len -= hlen;
		n = n->m_next;
		off = 0;
		goto ok;
	}

	/* No room at either end: a new mbuf between. */
	if (len > MLEN)
		o = m_getcl(M_NOWAIT, m->m_type, 0);
	else
		o = m_get(M_NOWAIT, m->m_type);
	if (o == NULL) {
		m_freem(m);
		return (NULL);
	}
	o->m_len = hlen;
	bcopy(mtod(n, caddr_t) + off, mtod(o, caddr_t), hlen);
	n->m_len -= hlen;
	m_copydata(n->m_next, 0, tlen, mtod(o, caddr_t) + o->m_len);
	o->m_len += tlen;
	m_adj(n->m_next, tlen);
	o->m_next = n->m_next;
	n->m_next = o;
	n = o;
	off = 0;
ok:
	if (offp)
		*offp = off;
	return (n);
}

void
max_linkhdr_grow(u_int new)
{

	if (new > max_linkhdr) {
		max_linkhdr = new;
		max_hdr = max_linkhdr + max_protohdr;
		max_datalen = MHLEN - max_hdr;
	}
}

void
max_protohdr_grow(u_int new)
{

	if (new > max_protohdr) {
		max_protohdr = new;
		max_hdr = max_linkhdr + max_protohdr;
		max_datalen = MHLEN - max_hdr;
	}
}

/* Set-up (kern_module.c: kh_boot); the first allocation would do it too. */
void
kh_mbuf_init_model(void)
{

	(void)kh_mb_mtx();
}

/* The leak checks (kh.h). */
long
kh_mbuf_outstanding(void)
{
	long n;
	int k;

	n = 0;
	kh_mb_lock();
	for (k = 0; k < KHK_NKINDS; k++)
		n += kh_mblive[k];
	kh_mb_unlock();
	return (n);
}

void
kh_mbuf_report(void)
{
	long live[KHK_NKINDS], dead;
	int k;

	kh_mb_lock();
	for (k = 0; k < KHK_NKINDS; k++)
		live[k] = kh_mblive[k];
	dead = kh_mbdead;
	kh_mb_unlock();
	kh_log("mbufs in use: %ld mbufs (%ld of them freed, kept for the "
	    "reference count of a shared cluster)", live[KHK_MBUF], dead);
	kh_log("mbufs in use: clusters %ld (2k), %ld (page), %ld (9k), "
	    "%ld (16k)", live[KHK_CLUST], live[KHK_JUMBOP], live[KHK_JUMBO9],
	    live[KHK_JUMBO16]);
	kh_log("mbufs in use: %ld m_tags", live[KHK_TAG]);
}
