/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * kharness: the standalone test of the mbuf(9) model (kpi/kern_mbuf.c).
 * Compiled in the FreeBSD header world like the model, linked with
 * t_mbuf_stubs.c and a Linux host layer; tests/build-t_mbuf.sh runs it.
 *
 * Chains are built with random shapes (small mbufs, clusters, jumbo
 * clusters, room left in front, short and empty mbufs) and every operation
 * is checked against a flat copy of the packet, by m_sanity() and by the
 * count of objects in use.  Planted violations run in forked children that
 * must die with the model's panic message.
 */

#include "kh.h"

#include <sys/mbuf.h>
#include <machine/stdarg.h>

#include "t_mbuf.h"

#define	T_SEED		0x6b686d62756654ULL
#define	T_MAXPKT	20000

static int t_passed, t_failed, t_curfail;
static uint64_t t_rng = T_SEED;
static u_char t_ref[T_MAXPKT + 1024], t_buf[T_MAXPKT + 1024];
static u_char t_src[T_MAXPKT];

static void
t_printf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = host_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	if (n > 0)
		host_write(1, buf, n);
}

/* Fails the current test and leaves it (it may leak: that is reported). */
#define	T(cond) do {							\
	if (!(cond)) {							\
		t_printf("  line %d: %s\n", __LINE__, #cond);		\
		t_curfail = 1;						\
		return;							\
	}								\
} while (0)

static uint32_t
rnd(void)
{

	/* xorshift64* */
	t_rng ^= t_rng >> 12;
	t_rng ^= t_rng << 25;
	t_rng ^= t_rng >> 27;
	return ((uint32_t)((t_rng * 0x2545f4914f6cdd1dULL) >> 32));
}

static void
rnd_fill(u_char *p, int len)
{
	int i;

	for (i = 0; i < len; i++)
		p[i] = rnd();
}

static int	t_allwritable(struct mbuf *m);

static int
t_count(struct mbuf *m)
{
	int n;

	for (n = 0; m != NULL; m = m->m_next)
		n++;
	return (n);
}

/*
 * A packet of len bytes from data, in mbufs of random kinds; NULL only if
 * an allocation fails (never without fault injection).  kinds limits the
 * kinds: bit 0 mbufs, 1 clusters, 2 page clusters, 3 m_get2.
 */
static struct mbuf *
t_chain_kinds(const u_char *data, int len, int kinds, int pkthdr)
{
	struct mbuf *top, *m, **mp;
	int first, flags, kind, lead, off, room, seg;

	top = NULL;
	mp = &top;
	off = 0;
	first = 1;
	do {
		do
			kind = rnd() % 4;
		while ((kinds & (1 << kind)) == 0);
		flags = first && pkthdr ? M_PKTHDR : 0;
		switch (kind) {
		case 0:
			m = flags ? m_gethdr(M_NOWAIT, MT_DATA) :
			    m_get(M_NOWAIT, MT_DATA);
			break;
		case 1:
			m = m_getcl(M_NOWAIT, MT_DATA, flags);
			break;
		case 2:
			m = m_getjcl(M_NOWAIT, MT_DATA, flags, MJUMPAGESIZE);
			break;
		default:
			m = m_get2(rnd() % 3000 + 1, M_NOWAIT, MT_DATA, flags);
			break;
		}
		if (m == NULL) {
			m_freem(top);
			return (NULL);
		}
		room = M_SIZE(m);
		lead = rnd() % 4 == 0 ? rnd() % (room / 4 + 1) : 0;
		m->m_data += lead;
		room -= lead;
		seg = len - off;
		if (seg > room)
			seg = room;
		if (rnd() % 3 == 0)
			seg = rnd() % (seg + 1);
		memcpy(mtod(m, char *), data + off, seg);
		m->m_len = seg;
		off += seg;
		*mp = m;
		mp = &m->m_next;
		first = 0;
	} while (off < len);
	if (pkthdr)
		top->m_pkthdr.len = len;
	return (top);
}

static struct mbuf *
t_chain(const u_char *data, int len)
{

	return (t_chain_kinds(data, len, 0xf, 1));
}

/* The chain holds exactly len bytes equal to ref. */
static int
t_same(struct mbuf *m, const u_char *ref, int len)
{

	if (m_length(m, NULL) != (u_int)len)
		return (0);
	if ((m->m_flags & M_PKTHDR) && m->m_pkthdr.len != len)
		return (0);
	if (m_sanity(m, 0) != 1)
		return (0);
	m_copydata(m, 0, len, (caddr_t)t_buf);
	return (memcmp(t_buf, ref, len) == 0);
}

static void
t_alloc(void)
{
	struct mbuf *m, *n;
	long out, sleeps;
	void *cl;
	int size;

	out = kh_mbuf_outstanding();
	m = m_get(M_NOWAIT, MT_DATA);
	T(m != NULL && kh_mbuf_outstanding() == out + 1);
	T(m->m_flags == 0 && m->m_len == 0 && m->m_data == m->m_dat);
	T(M_SIZE(m) == MLEN && M_WRITABLE(m) && M_TRAILINGSPACE(m) == MLEN);
	m_free(m);
	T(kh_mbuf_outstanding() == out);

	m = m_gethdr(M_NOWAIT, MT_DATA);
	T(m != NULL && (m->m_flags & M_PKTHDR) && m->m_pkthdr.len == 0);
	T(M_SIZE(m) == MHLEN && SLIST_EMPTY(&m->m_pkthdr.tags));
	m_freem(m);

	m = m_getcl(M_NOWAIT, MT_DATA, M_PKTHDR);
	T(m != NULL && kh_mbuf_outstanding() == out + 2);
	T((m->m_flags & (M_EXT | M_PKTHDR)) == (M_EXT | M_PKTHDR));
	T(m->m_ext.ext_type == EXT_PACKET && m->m_ext.ext_size == MCLBYTES);
	T(m_extrefcnt(m) == 1 && M_WRITABLE(m));
	T(M_TRAILINGSPACE(m) == MCLBYTES && M_LEADINGSPACE(m) == 0);
	m_freem(m);
	T(kh_mbuf_outstanding() == out);

	m = m_get2(MHLEN, M_NOWAIT, MT_DATA, M_PKTHDR);
	T(m != NULL && (m->m_flags & M_EXT) == 0);
	m_freem(m);
	m = m_get2(MLEN, M_NOWAIT, MT_DATA, 0);
	T(m != NULL && (m->m_flags & M_EXT) == 0);
	m_freem(m);
	m = m_get2(MHLEN + 1, M_NOWAIT, MT_DATA, M_PKTHDR);
	T(m != NULL && m->m_ext.ext_type == EXT_PACKET);
	m_freem(m);
	m = m_get2(3000, M_NOWAIT, MT_DATA, M_PKTHDR);
	T(m != NULL && m->m_ext.ext_type == EXT_JUMBOP &&
	    M_SIZE(m) == MJUMPAGESIZE);
	m_freem(m);
	T(m_get2(MJUMPAGESIZE + 1, M_NOWAIT, MT_DATA, 0) == NULL);

	m = m_get3(100, M_NOWAIT, MT_DATA, M_PKTHDR);
	T(m != NULL && (m->m_flags & M_EXT) == 0);
	m_freem(m);
	m = m_get3(9000, M_NOWAIT, MT_DATA, M_PKTHDR);
	T(m != NULL && m->m_ext.ext_type == EXT_JUMBO9);
	m_freem(m);
	m = m_get3(MJUM9BYTES + 1, M_NOWAIT, MT_DATA, M_PKTHDR);
	T(m != NULL && m->m_ext.ext_type == EXT_JUMBO16 &&
	    M_TRAILINGSPACE(m) == MJUM16BYTES);
	m_freem(m);
	T(m_get3(MJUM16BYTES + 1, M_NOWAIT, MT_DATA, 0) == NULL);

	for (size = 0; size < 4; size++) {
		int sizes[] = { MCLBYTES, MJUMPAGESIZE, MJUM9BYTES,
		    MJUM16BYTES };

		m = m_getjcl(M_NOWAIT, MT_DATA, 0, sizes[size]);
		T(m != NULL && M_SIZE(m) == sizes[size]);
		T(kh_mbuf_outstanding() == out + 2);
		m_freem(m);
	}

	m = m_get(M_NOWAIT, MT_DATA);
	T(m != NULL && m_clget(m, M_NOWAIT) != 0);
	T(m->m_ext.ext_type == EXT_CLUSTER && m->m_data == m->m_ext.ext_buf);
	m_freem(m);
	m = m_get(M_NOWAIT, MT_DATA);
	T(m_cljget(m, M_NOWAIT, MJUM9BYTES) != NULL);
	T(m->m_ext.ext_type == EXT_JUMBO9);
	m_freem(m);
	cl = m_cljget(NULL, M_NOWAIT, MJUMPAGESIZE);
	T(cl != NULL && kh_mbuf_outstanding() == out + 1);
	m = m_get(M_NOWAIT, MT_DATA);
	m_cljset(m, cl, EXT_JUMBOP);
	T(M_SIZE(m) == MJUMPAGESIZE);
	m_freem(m);
	cl = m_cljget(NULL, M_NOWAIT, MJUM16BYTES);
	uma_zfree(zone_jumbo16, cl);

	m = m_gethdr_raw(M_NOWAIT, MT_DATA);
	T(m != NULL);
	m_init(m, M_NOWAIT, MT_DATA, M_PKTHDR);
	T(m->m_flags == M_PKTHDR && m->m_len == 0);
	m_freem(m);

	sleeps = t_sleep_checks;
	m = m_get2(1000, M_WAITOK, MT_DATA, M_PKTHDR);
	T(m != NULL && t_sleep_checks > sleeps);
	m_freem(m);

	m = m_getm2(NULL, 10000, M_NOWAIT, MT_DATA, M_PKTHDR | M_EOR);
	T(m != NULL && (m->m_flags & M_PKTHDR));
	for (size = 0, n = m; n != NULL; n = n->m_next) {
		size += M_SIZE(n);
		T(n->m_next != NULL || (n->m_flags & M_EOR));
	}
	T(size >= 10000);
	n = m_getm2(m, 100, M_NOWAIT, MT_DATA, M_PKTHDR);
	T(n == m && t_count(m) >= 2);
	m_freem(m);
	T(kh_mbuf_outstanding() == out);
}

static void
t_copydata(void)
{
	struct mbuf *m;
	int i, k, len, l, newlen, off;

	for (i = 0; i < 3000; i++) {
		len = rnd() % 9000;
		rnd_fill(t_ref, len);
		m = t_chain(t_ref, len);
		T(m != NULL && t_same(m, t_ref, len));
		for (k = 0; k < 4; k++) {
			off = rnd() % (len + 1);
			l = rnd() % (len - off + 1);
			m_copydata(m, off, l, (caddr_t)t_buf);
			T(memcmp(t_buf, t_ref + off, l) == 0);
		}
		for (k = 0; k < 3; k++) {
			off = rnd() % (len + 300);
			/*
			 * Past the end, FreeBSD's m_copyback() of nothing
			 * adds the gap without counting it in m_pkthdr.len.
			 */
			l = rnd() % 800 + (off > len ? 1 : 0);
			rnd_fill(t_src, l);
			m_copyback(m, off, l, (c_caddr_t)t_src);
			if (off > len)
				memset(t_ref + len, 0, off - len);
			memcpy(t_ref + off, t_src, l);
			newlen = off + l > len ? off + l : len;
			len = newlen;
			T(t_same(m, t_ref, len));
		}
		m_freem(m);
	}
}

static void
t_adj(void)
{
	struct mbuf *m;
	int a, b, i, len;

	for (i = 0; i < 1500; i++) {
		len = rnd() % 6000;
		rnd_fill(t_ref, len);
		m = t_chain(t_ref, len);
		T(m != NULL);
		a = rnd() % (len + 50);
		if (rnd() % 2) {
			m_adj(m, a);
			a = a > len ? len : a;
			T(t_same(m, t_ref + a, len - a));
			len -= a;
			memmove(t_ref, t_ref + a, len);
		} else {
			m_adj(m, -a);
			a = a > len ? len : a;
			len -= a;
			T(t_same(m, t_ref, len));
		}
		/* Then from both ends. */
		a = len ? rnd() % (len + 1) : 0;
		b = rnd() % (len - a + 1);
		m_adj(m, a);
		m_adj(m, -b);
		T(t_same(m, t_ref + a, len - a - b));
		m_freem(m);
	}
}

static void
t_pullup(void)
{
	struct mbuf *m;
	long out;
	int i, len, p;

	out = kh_mbuf_outstanding();
	for (i = 0; i < 1500; i++) {
		len = 1 + rnd() % 5000;
		rnd_fill(t_ref, len);
		m = t_chain(t_ref, len);
		T(m != NULL);
		p = 1 + rnd() % (len < MHLEN ? len : MHLEN);
		m = m_pullup(m, p);
		T(m != NULL && m->m_len >= p && t_same(m, t_ref, len));
		m_freem(m);
	}
	T(kh_mbuf_outstanding() == out);

	/* More than an mbuf holds: fails and frees the chain. */
	m = m_gethdr(M_NOWAIT, MT_DATA);
	m->m_len = m->m_pkthdr.len = 10;
	T(m_append(m, 2000, (c_caddr_t)t_ref));
	T(m_pullup(m, MHLEN + 1) == NULL);
	T(kh_mbuf_outstanding() == out);

	/* m_copyup leaves room in front. */
	m = t_chain(t_ref, 1000);
	m = m_copyup(m, 40, 16);
	T(m != NULL && m->m_len >= 40 && M_LEADINGSPACE(m) >= 16);
	T(t_same(m, t_ref, 1000));
	m_freem(m);
}

static void
t_pulldown(void)
{
	struct mbuf *m, *c, *n;
	long out;
	int i, len, off, l, noff;

	out = kh_mbuf_outstanding();
	for (i = 0; i < 2000; i++) {
		len = 1 + rnd() % 9000;
		rnd_fill(t_ref, len);
		/*
		 * Mbufs and 2k clusters: as in FreeBSD, cutting more than
		 * MCLBYTES off a page cluster fails.
		 */
		m = t_chain_kinds(t_ref, len, 0x3, 1);
		/* Shared clusters are not writable: other paths. */
		c = i % 2 ? m_copym(m, 0, M_COPYALL, M_NOWAIT) : NULL;
		off = rnd() % len;
		l = 1 + rnd() % (len - off);
		if (l > MCLBYTES)
			l = MCLBYTES;
		noff = -1;
		n = m_pulldown(m, off, l, i % 3 ? &noff : NULL);
		T(n != NULL);
		if (noff == -1)
			noff = 0;
		T(n->m_len - noff >= l);
		T(memcmp(mtod(n, u_char *) + noff, t_ref + off, l) == 0);
		T(t_same(m, t_ref, len));
		m_freem(m);
		if (c != NULL) {
			T(t_same(c, t_ref, len));
			m_freem(c);
		}
	}
	/* Past the end: fails and frees the chain. */
	m = t_chain(t_ref, 100);
	T(m_pulldown(m, 60, 41, NULL) == NULL);
	T(kh_mbuf_outstanding() == out);
}

static void
t_defrag(void)
{
	struct mbuf *m, *d;
	int i, len, max;

	for (i = 0; i < 400; i++) {
		len = rnd() % 12000;
		rnd_fill(t_ref, len);
		m = t_chain(t_ref, len);
		T(m != NULL);
		if (i % 2) {
			d = m_defrag(m, M_NOWAIT);
			T(d != NULL && t_same(d, t_ref, len));
			T(t_count(d) <= (len + MCLBYTES - 1) / MCLBYTES + 1);
			m_freem(d);
		} else {
			max = 2 + rnd() % 6;
			d = m_collapse(m, M_NOWAIT, max);
			if (d != NULL)
				T(d == m && t_count(d) <= max);
			/* Failed or not, the chain is intact. */
			T(t_same(m, t_ref, len));
			m_freem(m);
		}
	}
	/* Without a packet header m_defrag returns the chain as it is. */
	m = t_chain_kinds(t_ref, 500, 1, 0);
	T(m_defrag(m, M_NOWAIT) == m);
	m_freem(m);
}

static int
t_allwritable(struct mbuf *m)
{

	for (; m != NULL; m = m->m_next)
		if (!M_WRITABLE(m))
			return (0);
	return (1);
}

static int
t_nonewritable_ext(struct mbuf *m)
{

	for (; m != NULL; m = m->m_next)
		if ((m->m_flags & M_EXT) && M_WRITABLE(m))
			return (0);
	return (1);
}

static void
t_unshare(void)
{
	struct mbuf *m, *c, *u;
	long out;
	int i, len, off, l;

	out = kh_mbuf_outstanding();
	for (i = 0; i < 300; i++) {
		len = 1 + rnd() % 9000;
		rnd_fill(t_ref, len);
		m = t_chain_kinds(t_ref, len, 0x6 | (i & 1), 1);
		T(m != NULL && t_allwritable(m));
		c = m_copym(m, 0, M_COPYALL, M_NOWAIT);
		T(c != NULL && t_same(c, t_ref, len));
		T(t_nonewritable_ext(c) && t_nonewritable_ext(m));
		switch (i % 3) {
		case 0:
			u = m_unshare(c, M_NOWAIT);
			T(u != NULL && t_allwritable(u));
			T(t_same(u, t_ref, len));
			T(t_allwritable(m) && t_same(m, t_ref, len));
			m_freem(u);
			m_freem(m);
			break;
		case 1:
			/*
			 * The original goes first: its mbufs stay allocated,
			 * holding the counts, until the copy goes too.
			 */
			m_freem(m);
			T(kh_mbuf_outstanding() > out);
			T(t_allwritable(c) && t_same(c, t_ref, len));
			u = m_unshare(c, M_NOWAIT);
			T(u == c);
			m_freem(u);
			break;
		default:
			m_freem(c);
			off = rnd() % len;
			l = rnd() % (len - off + 1);
			c = m_copym(m, off, l, M_NOWAIT);
			T(l == 0 || c != NULL);
			if (c != NULL) {
				T(m_length(c, NULL) == (u_int)l);
				m_copydata(c, 0, l, (caddr_t)t_buf);
				T(memcmp(t_buf, t_ref + off, l) == 0);
				m_freem(c);
			}
			c = m_copypacket(m, M_NOWAIT);
			T(c != NULL && t_same(c, t_ref, len));
			m_freem(m);
			m_freem(c);
			break;
		}
		T(kh_mbuf_outstanding() == out);
	}
}

static void
t_split(void)
{
	struct mbuf *m, *n;
	int i, len, s;

	for (i = 0; i < 1000; i++) {
		len = rnd() % 8000;
		rnd_fill(t_ref, len);
		m = t_chain(t_ref, len);
		s = rnd() % (len + 1);
		n = m_split(m, s, M_NOWAIT);
		T(n != NULL && (n->m_flags & M_PKTHDR));
		T(t_same(m, t_ref, s) && t_same(n, t_ref + s, len - s));
		m_catpkt(m, n);
		T(t_same(m, t_ref, len));
		m_freem(m);
	}
	/* Without packet headers, and m_cat. */
	for (i = 0; i < 300; i++) {
		len = 1 + rnd() % 8000;
		rnd_fill(t_ref, len);
		m = t_chain_kinds(t_ref, len, 0xf, 0);
		s = rnd() % len;
		n = m_split(m, s, M_NOWAIT);
		T(n != NULL && m_length(m, NULL) == (u_int)s);
		m_cat(m, n);
		T(t_same(m, t_ref, len));
		m_freem(m);
	}
}

#define	T_COOKIE	1733300000

static void
t_tags(void)
{
	struct mbuf *m, *n, *d, *c;
	struct m_tag *t, *t2, *dt;
	long out;

	out = kh_mbuf_outstanding();
	m = m_gethdr(M_NOWAIT, MT_DATA);
	t = m_tag_alloc(T_COOKIE, 7, 16, M_NOWAIT);
	t2 = m_tag_alloc(T_COOKIE, 8 | MTAG_PERSISTENT, 4, M_NOWAIT | M_ZERO);
	T(m != NULL && t != NULL && t2 != NULL);
	T(kh_mbuf_outstanding() == out + 3);
	memcpy(t + 1, "sixteen bytes!!", 16);
	m_tag_prepend(m, t);
	m_tag_prepend(m, t2);
	T(m_append(m, 1000, (c_caddr_t)t_ref));
	T(m_tag_locate(m, T_COOKIE, 7, NULL) == t);
	T(m_tag_locate(m, T_COOKIE, 9, NULL) == NULL);

	/* Moved with the header. */
	n = m_gethdr(M_NOWAIT, MT_DATA);
	m_move_pkthdr(n, m);
	T((m->m_flags & M_PKTHDR) == 0);
	n->m_next = m;
	T(m_tag_locate(n, T_COOKIE, 7, NULL) == t);
	T(t_same(n, t_ref, 1000));

	/* Copied, deep, by m_dup and m_copym. */
	d = m_dup(n, M_NOWAIT);
	T(d != NULL && t_same(d, t_ref, 1000) && t_allwritable(d));
	dt = m_tag_locate(d, T_COOKIE, 7, NULL);
	T(dt != NULL && dt != t && dt->m_tag_len == 16);
	T(memcmp(dt + 1, "sixteen bytes!!", 16) == 0);
	c = m_copym(n, 0, M_COPYALL, M_NOWAIT);
	T(c != NULL && m_tag_locate(c, T_COOKIE, 8 | MTAG_PERSISTENT, NULL)
	    != NULL);
	T(kh_mbuf_outstanding() > out + 3);
	kh_mbuf_report();

	m_tag_delete(d, dt);
	T(m_tag_locate(d, T_COOKIE, 7, NULL) == NULL);
	T(m_tag_locate(n, T_COOKIE, 7, NULL) == t);
	m_tag_delete_nonpersistent(c);
	T(m_tag_first(c) != NULL && m_tag_next(c, m_tag_first(c)) == NULL);
	m_demote_pkthdr(c);
	T((c->m_flags & M_PKTHDR) == 0);

	m_freem(n);
	m_freem(d);
	m_freem(c);
	T(kh_mbuf_outstanding() == out);
}

static int
t_sum(void *arg, void *data, u_int len)
{
	u_int *sum = arg;
	u_char *p = data;

	while (len-- > 0)
		*sum += *p++;
	return (0);
}

static void
t_devcopy(char *from, caddr_t to, u_int len)
{

	memcpy(to, from, len);
}

static void
t_misc(void)
{
	struct mbuf *m, *p;
	u_int sum, want;
	long out;
	int i, off;

	out = kh_mbuf_outstanding();
	rnd_fill(t_ref, 6000);

	m = m_gethdr(M_NOWAIT, MT_DATA);
	m->m_data += 8;
	T(m_append(m, 5000, (c_caddr_t)t_ref));
	T(t_same(m, t_ref, 5000) && t_count(m) > 1);

	/* Into the room in front, then into a new mbuf. */
	memmove(t_ref + 4, t_ref, 5000);
	M_PREPEND(m, 4, M_NOWAIT);
	T(m != NULL);
	memcpy(mtod(m, char *), "abcd", 4);
	memcpy(t_ref, "abcd", 4);
	T(t_same(m, t_ref, 5004));
	memmove(t_ref + 60, t_ref, 5004);
	memset(t_ref, 'x', 60);
	p = m;
	M_PREPEND(m, 60, M_NOWAIT);
	T(m != NULL && m != p && (p->m_flags & M_PKTHDR) == 0);
	memset(mtod(m, char *), 'x', 60);
	T(t_same(m, t_ref, 5064));

	p = m_getptr(m, 3000, &off);
	T(p != NULL && mtod(p, u_char *)[off] == t_ref[3000]);
	T(m_getptr(m, 5064, &off) != NULL && off == m_last(m)->m_len);
	T(m_getptr(m, 5065, &off) == NULL);

	sum = want = 0;
	for (i = 100; i < 4100; i++)
		want += t_ref[i];
	T(m_apply(m, 100, 4000, t_sum, &sum) == 0 && sum == want);

	m->m_pkthdr.len = 1;
	T(m_fixhdr(m) == 5064 && m->m_pkthdr.len == 5064);
	m_print(m, 8);
	m_demote(m, 0, 0);
	T(m->m_flags & M_PKTHDR);
	m_freem(m);

	m = m_devget((char *)t_ref, 3000, 2, NULL, NULL);
	T(m != NULL && t_same(m, t_ref, 3000));
	m_freem(m);
	m = m_devget((char *)t_ref, 40, 0, NULL, t_devcopy);
	T(m != NULL && t_same(m, t_ref, 40) && M_LEADINGSPACE(m) > 0);
	m_freem(m);
	T(kh_mbuf_outstanding() == out);
}

/* External storage of a driver, with its own free routine and count. */
static int t_extfreed;
static char t_extbuf[512];

static void
t_extfree(struct mbuf *m)
{

	if (m->m_ext.ext_buf == t_extbuf && m->m_ext.ext_arg1 == t_extbuf)
		t_extfreed++;
}

static void
t_ext(void)
{
	struct mbuf *m, *c;
	u_int refs;

	t_extfreed = 0;
	m = m_gethdr(M_NOWAIT, MT_DATA);
	m_extadd(m, t_extbuf, sizeof(t_extbuf), t_extfree, t_extbuf, NULL, 0,
	    EXT_NET_DRV);
	m->m_len = m->m_pkthdr.len = 100;
	T(M_WRITABLE(m) && m_sanity(m, 0));
	c = m_copym(m, 0, M_COPYALL, M_NOWAIT);
	T(c != NULL && !M_WRITABLE(m) && !M_WRITABLE(c));
	T(mtod(c, char *) == t_extbuf);
	m_freem(m);
	T(t_extfreed == 0 && M_WRITABLE(c));
	m_freem(c);
	T(t_extfreed == 1);

	/* A count outside the mbufs (m_extaddref, EXT_EXTREF). */
	refs = 0;
	m = m_get(M_NOWAIT, MT_DATA);
	m_extaddref(m, t_extbuf, sizeof(t_extbuf), &refs, t_extfree,
	    t_extbuf, NULL);
	m->m_len = 10;
	T(refs == 1);
	c = m_copym(m, 0, 10, M_NOWAIT);
	T(c != NULL && refs == 2 && !M_WRITABLE(c));
	m_freem(m);
	T(refs == 1 && t_extfreed == 1);
	m_freem(c);
	T(t_extfreed == 2);
}

static void
t_faults(void)
{
	struct mbuf *m, *d;
	long out, chain;
	int k, len;

	out = kh_mbuf_outstanding();
	t_fault_all = 1;
	T(m_get(M_NOWAIT, MT_DATA) == NULL);
	T(m_gethdr(M_NOWAIT, MT_DATA) == NULL);
	T(m_getcl(M_NOWAIT, MT_DATA, M_PKTHDR) == NULL);
	T(m_get2(100, M_NOWAIT, MT_DATA, M_PKTHDR) == NULL);
	T(strcmp(t_fault_lastsite, "m_get2") == 0);
	T(m_get2(1500, M_NOWAIT, MT_DATA, M_PKTHDR) == NULL);
	T(m_get2(3000, M_NOWAIT, MT_DATA, M_PKTHDR) == NULL);
	T(m_get3(9000, M_NOWAIT, MT_DATA, M_PKTHDR) == NULL);
	T(m_tag_alloc(T_COOKIE, 1, 8, M_NOWAIT) == NULL);
	/* M_WAITOK allocations never fail. */
	m = m_get2(3000, M_WAITOK, MT_DATA, M_PKTHDR);
	t_fault_all = 0;
	T(m != NULL);
	m_freem(m);
	T(kh_mbuf_outstanding() == out);

	/* The cluster fails after the mbuf succeeded. */
	t_fault_nth = 2;
	T(m_get2(3000, M_NOWAIT, MT_DATA, M_PKTHDR) == NULL);
	t_fault_nth = 2;
	T(m_get3(12000, M_NOWAIT, MT_DATA, M_PKTHDR) == NULL);
	t_fault_nth = 2;
	T(m_getcl(M_NOWAIT, MT_DATA, 0) == NULL);
	t_fault_nth = 0;
	T(kh_mbuf_outstanding() == out);

	/* Each allocation of m_dup, m_copym, m_defrag failing in turn. */
	len = 7000;
	rnd_fill(t_ref, len);
	for (k = 1;; k++) {
		m = t_chain(t_ref, len);
		m_tag_prepend(m, m_tag_alloc(T_COOKIE, 1, 8, M_NOWAIT));
		chain = kh_mbuf_outstanding();
		t_fault_nth = k;
		d = m_dup(m, M_NOWAIT);
		t_fault_nth = 0;
		if (d == NULL) {
			T(kh_mbuf_outstanding() == chain);
			T(t_same(m, t_ref, len));
			m_freem(m);
			continue;
		}
		T(t_same(d, t_ref, len) && t_allwritable(d));
		m_freem(d);
		m_freem(m);
		break;
	}
	T(k > 2);
	for (k = 1;; k++) {
		m = t_chain(t_ref, len);
		chain = kh_mbuf_outstanding();
		t_fault_nth = k;
		d = m_copym(m, 0, M_COPYALL, M_NOWAIT);
		t_fault_nth = 0;
		if (d == NULL) {
			T(kh_mbuf_outstanding() == chain);
			m_freem(m);
			continue;
		}
		T(t_same(d, t_ref, len));
		m_freem(d);
		m_freem(m);
		break;
	}
	for (k = 1;; k++) {
		m = t_chain(t_ref, len);
		chain = kh_mbuf_outstanding();
		t_fault_nth = k;
		d = m_defrag(m, M_NOWAIT);
		t_fault_nth = 0;
		if (d == NULL) {
			T(kh_mbuf_outstanding() == chain);
			T(t_same(m, t_ref, len));
			m_freem(m);
			continue;
		}
		T(t_same(d, t_ref, len));
		m_freem(d);
		break;
	}
	/* m_unshare and m_pullup free the chain when they fail. */
	for (k = 1;; k++) {
		m = t_chain_kinds(t_ref, len, 0x6, 1);
		d = m_copym(m, 0, M_COPYALL, M_NOWAIT);
		t_fault_nth = k;
		d = m_unshare(d, M_NOWAIT);
		t_fault_nth = 0;
		if (d == NULL) {
			T(t_allwritable(m));
			m_freem(m);
			T(kh_mbuf_outstanding() == out);
			continue;
		}
		T(t_same(d, t_ref, len));
		m_freem(d);
		m_freem(m);
		break;
	}
	m = t_chain_kinds(t_ref, len, 0x2, 1);
	t_fault_all = 1;
	T(m_pullup(m, 20) == NULL);
	t_fault_all = 0;
	/* m_getm2 gives all or nothing. */
	for (k = 1; k < 6; k++) {
		t_fault_nth = k;
		m = m_getm2(NULL, 9000, M_NOWAIT, MT_DATA, M_PKTHDR);
		t_fault_nth = 0;
		if (m != NULL)
			m_freem(m);
		T(m != NULL || kh_mbuf_outstanding() == out);
	}
	T(kh_mbuf_outstanding() == out);
}

/* Threads sharing clusters: the reference counts are atomic. */
static struct mbuf *t_shared;

static void
t_thread(void *arg)
{
	struct mbuf *c, *d;
	int i;

	for (i = 0; i < 20000; i++) {
		c = m_copym(t_shared, 0, M_COPYALL, M_NOWAIT);
		if (i % 4) {
			m_freem(c);
			continue;
		}
		d = m_copypacket(c, M_NOWAIT);
		if (i % 8) {
			m_freem(c);
			m_freem(d);
		} else {
			m_freem(d);
			m_freem(c);
		}
	}
}

static void
t_threads(void)
{
	host_thread_t *th[4];
	long out;
	int i;

	out = kh_mbuf_outstanding();
	rnd_fill(t_ref, 9000);
	t_shared = t_chain_kinds(t_ref, 9000, 0x6, 1);
	for (i = 0; i < 4; i++)
		th[i] = host_thread_create(t_thread, NULL);
	for (i = 0; i < 4; i++)
		host_thread_join(th[i]);
	T(t_allwritable(t_shared) && t_same(t_shared, t_ref, 9000));
	m_freem(t_shared);
	T(kh_mbuf_outstanding() == out);
}

/* Planted violations, each in a child that must die with a panic. */
static void
p_double_freem(void)
{
	struct mbuf *m;

	m = m_gethdr(M_NOWAIT, MT_DATA);
	m_freem(m);
	m_freem(m);
}

static void
p_copydata_offset(void)
{
	struct mbuf *m;

	m = t_chain(t_ref, 100);
	m_copydata(m, 101, 1, (caddr_t)t_buf);
}

static void
p_copydata_length(void)
{
	struct mbuf *m;

	m = t_chain(t_ref, 100);
	m_copydata(m, 50, 51, (caddr_t)t_buf);
}

static void
p_pktlen(void)
{
	struct mbuf *m;

	m = t_chain(t_ref, 100);
	m->m_pkthdr.len = 99;
	m_adj(m, 10);
}

static void
p_nopkthdr(void)
{
	struct mbuf *m;

	m = m_get(M_NOWAIT, MT_DATA);
	m->m_len = 10;
	(void)m_dup(m, M_NOWAIT);
}

static void
p_move_nopkthdr(void)
{
	struct mbuf *m, *n;

	m = m_get(M_NOWAIT, MT_DATA);
	n = m_gethdr(M_NOWAIT, MT_DATA);
	m_move_pkthdr(n, m);
}

static void
p_dead(void)
{
	struct mbuf *m, *c;

	m = m_getcl(M_NOWAIT, MT_DATA, M_PKTHDR);
	m->m_len = m->m_pkthdr.len = 100;
	c = m_copym(m, 0, M_COPYALL, M_NOWAIT);
	m_freem(m);
	(void)c;
	m_freem(m);
}

static void
p_tag_stranger(void)
{
	struct mbuf *m;
	struct m_tag *t;

	m = m_gethdr(M_NOWAIT, MT_DATA);
	t = m_tag_alloc(T_COOKIE, 1, 8, M_NOWAIT);
	m_tag_delete(m, t);
}

static void
p_sanity(void)
{
	struct mbuf *m;

	m = t_chain(t_ref, 100);
	m_last(m)->m_len += MJUM16BYTES;
	m->m_pkthdr.len += MJUM16BYTES;
	(void)m_sanity(m, 0);
}

static void
p_use_after_free(void)
{
	struct mbuf *m;
	volatile int len;

	m = m_get(M_NOWAIT, MT_DATA);
	m_free(m);
	len = m->m_len;
	(void)len;
}

static void
t_planted(void (*fn)(void), const char *want, int ourpanic)
{
	static char out[16384];
	int st;

	st = t_host_child(fn, out, sizeof(out));
	if (st == 0 || strstr(out, want) == NULL ||
	    (ourpanic && strstr(out, "kharness: PANIC: ") == NULL)) {
		t_printf("  child exit %d, wanted \"%s\"; it said:\n%s\n", st,
		    want, out);
		t_curfail = 1;
	}
}

static void
t_violations(void)
{

	t_planted(p_double_freem, "is not allocated (freed twice?)", 1);
	t_planted(p_copydata_offset,
	    "m_copydata, offset > size of mbuf chain", 1);
	t_planted(p_copydata_length,
	    "m_copydata, length > size of mbuf chain", 1);
	t_planted(p_pktlen, "m_adj: m_pkthdr.len 99", 1);
	t_planted(p_nopkthdr, "m_dup: no mbuf packet header!", 1);
	t_planted(p_move_nopkthdr, "m_move_pkthdr: no mbuf packet header!",
	    1);
	t_planted(p_dead, "was freed (it is kept only while its cluster is "
	    "shared)", 1);
	t_planted(p_tag_stranger, "is not on mbuf", 1);
	t_planted(p_sanity, "m_data + m_len exeeds mbuf space", 1);
	t_planted(p_use_after_free, "heap-use-after-free", 0);
}

static void
t_run(const char *name, void (*fn)(void))
{
	long out;

	out = kh_mbuf_outstanding();
	t_curfail = 0;
	fn();
	if (!t_curfail && kh_mbuf_outstanding() != out) {
		t_printf("  %ld objects leaked\n", kh_mbuf_outstanding() - out);
		kh_mbuf_report();
		t_curfail = 1;
	}
	if (t_curfail) {
		t_failed++;
		t_printf("FAIL %s\n", name);
	} else {
		t_passed++;
		t_printf("ok   %s\n", name);
	}
}

int	main(void);

int
main(void)
{

	kh_mbuf_init_model();
	t_printf("t_mbuf: seed 0x%llx, MSIZE %d, MLEN %d, MHLEN %d\n",
	    (unsigned long long)T_SEED, MSIZE, (int)MLEN, (int)MHLEN);
	t_run("allocation", t_alloc);
	t_run("m_copydata/m_copyback", t_copydata);
	t_run("m_adj", t_adj);
	t_run("m_pullup/m_copyup", t_pullup);
	t_run("m_pulldown", t_pulldown);
	t_run("m_defrag/m_collapse", t_defrag);
	t_run("m_copym/m_unshare on shared clusters", t_unshare);
	t_run("m_split/m_cat", t_split);
	t_run("tags", t_tags);
	t_run("m_append/M_PREPEND/m_getptr/m_apply/m_devget", t_misc);
	t_run("external storage (m_extadd, m_extaddref)", t_ext);
	t_run("fault injection", t_faults);
	t_run("threads sharing clusters", t_threads);
	t_run("planted violations", t_violations);
	if (kh_mbuf_outstanding() != 0) {
		kh_mbuf_report();
		t_printf("FAIL %ld objects outstanding at the end\n",
		    kh_mbuf_outstanding());
		t_failed++;
	} else {
		t_printf("ok   nothing outstanding at the end\n");
		t_passed++;
	}
	t_printf("%d passed, %d failed\n", t_passed, t_failed);
	return (t_failed != 0);
}
