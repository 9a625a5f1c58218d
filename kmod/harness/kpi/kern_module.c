/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * Loading and unloading the module, VNETs, jails and credentials.
 *
 * kldload: the module's SYSINITs (linker set set_sysinit_set) run in
 * (subsystem, order) order, as linker_file_sysinit() does
 * (sys/kern/kern_linker.c); DECLARE_MODULE's module_register_init() sends
 * MOD_LOAD (sys/kern/kern_module.c).  kldunload: MOD_UNLOAD first, then
 * the SYSUNINITs in reverse order.  The model itself has no SYSINIT, so
 * every entry of the set is the module's.
 *
 * VNETs after sys/net/vnet.c: each has a copy of the set_vnet section,
 * vnet_data_base = copy - __start_set_vnet, so the shim's inline VNET()
 * reads its own instance; VNET_SYSINITs run for each existing VNET and
 * each new one; destroying a VNET first sends interfaces on loan back
 * home (vnet_if_return), then runs the VNET_SYSUNINITs in reverse order.
 *
 * Jails (sys/kern/kern_jail.c): a VNET jail has a prison whose pr_vnet is
 * its VNET and a root credential.  Removing it calls the OSD
 * PR_METHOD_REMOVE methods; then every reference to its credential must
 * be gone, or the jail could never die (the model fails the run there).
 *
 * copyin(9)/copyout(9): user memory is a table of regions a control
 * request lends (kh_uregion_*); an address outside them is EFAULT.
 */
#include "kh.h"

#include <sys/jail.h>
#include <sys/linker_set.h>
#include <sys/module.h>
#include <sys/osd.h>
#include <sys/priv.h>
#include <sys/sx.h>
#include <sys/ucred.h>
#include <net/vnet.h>

/* The set_vnet and set_pcpu sections exist whatever the module defines. */
static char kh_vnet_pad __section("set_vnet") __used;
static char kh_pcpu_pad __section("set_pcpu") __used;
SET_DECLARE(sysinit_set, struct sysinit);
SET_DECLARE(sysuninit_set, struct sysinit);

struct vnet *vnet0;
struct vnet_list_head vnet_head = LIST_HEAD_INITIALIZER(vnet_head);
struct sx vnet_sxlock;
static TAILQ_HEAD(, vnet_sysinit) kh_vnet_ctors =
    TAILQ_HEAD_INITIALIZER(kh_vnet_ctors);
static TAILQ_HEAD(, vnet_sysinit) kh_vnet_dtors =
    TAILQ_HEAD_INITIALIZER(kh_vnet_dtors);
static char *kh_vnet_master;	/* set_vnet as the module left it at load */

struct malloc_type M_KH_KERN[1] = {{ .ks_shortdesc = "kharness" }};

/* Jails. */
struct prison prison0;
static struct ucred kh_cred0;
#define	KH_CRED_BASE	1000000	/* static refs: never reaches zero */

struct ucred *
kh_cred_default(void)
{

	return (&kh_cred0);
}

struct ucred *
crhold(struct ucred *cr)
{

	if (__atomic_add_fetch(&cr->cr_ref, 1, __ATOMIC_RELAXED) <= 1)
		kh_panic("crhold of a freed credential %p", cr);
	return (cr);
}

void
crfree(struct ucred *cr)
{
	long r;

	r = __atomic_sub_fetch(&cr->cr_ref, 1, __ATOMIC_RELAXED);
	if (r < 0)
		kh_panic("crfree: credential %p released too often", cr);
	if (r == 0)
		free(cr, M_KH_KERN);
}

int
priv_check(struct thread *td, int priv)
{
	struct kh_thread *kt = (struct kh_thread *)td;

	(void)priv;
	if (td != curthread)
		kh_panic("priv_check for another thread");
	return (kt->unprivileged ? EPERM : 0);
}

#define	KH_MAXOSD	8
static osd_method_t kh_osd_jail[KH_MAXOSD][PR_MAXMETHOD];
static int kh_osd_used[KH_MAXOSD];

int
osd_register(u_int type, osd_destructor_t destructor __unused,
    osd_method_t *methods)
{
	int i;

	if (type != OSD_JAIL)
		kh_panic("osd_register: only jail OSD is modelled");
	kh_check_sleep("osd_register");
	for (i = 0; i < KH_MAXOSD; i++)
		if (!kh_osd_used[i])
			break;
	if (i == KH_MAXOSD)
		kh_panic("osd_register: no slot");
	kh_osd_used[i] = 1;
	if (methods != NULL)
		memcpy(kh_osd_jail[i], methods, sizeof(kh_osd_jail[i]));
	return (i + 1);
}

void
osd_deregister(u_int type, u_int slot)
{

	if (type != OSD_JAIL || slot < 1 || slot > KH_MAXOSD ||
	    !kh_osd_used[slot - 1])
		kh_panic("osd_deregister: bad slot %u", slot);
	kh_check_sleep("osd_deregister");
	kh_osd_used[slot - 1] = 0;
	memset(kh_osd_jail[slot - 1], 0, sizeof(kh_osd_jail[0]));
}

/* VNETs. */

void
vnet_register_sysinit(void *arg)
{
	struct vnet_sysinit *vs = arg, *o;
	struct vnet *vnet;

	sx_xlock(&vnet_sxlock);
	TAILQ_FOREACH(o, &kh_vnet_ctors, link)
		if (o->subsystem > vs->subsystem || (o->subsystem ==
		    vs->subsystem && o->order > vs->order))
			break;
	if (o == NULL)
		TAILQ_INSERT_TAIL(&kh_vnet_ctors, vs, link);
	else
		TAILQ_INSERT_BEFORE(o, vs, link);
	LIST_FOREACH(vnet, &vnet_head, vnet_le) {
		CURVNET_SET_QUIET(vnet);
		vs->func(vs->arg);
		CURVNET_RESTORE();
	}
	sx_xunlock(&vnet_sxlock);
}

void
vnet_deregister_sysinit(void *arg)
{
	struct vnet_sysinit *vs = arg;

	sx_xlock(&vnet_sxlock);
	TAILQ_REMOVE(&kh_vnet_ctors, vs, link);
	sx_xunlock(&vnet_sxlock);
}

void
vnet_register_sysuninit(void *arg)
{
	struct vnet_sysinit *vs = arg, *o;

	sx_xlock(&vnet_sxlock);
	TAILQ_FOREACH(o, &kh_vnet_dtors, link)
		if (o->subsystem < vs->subsystem || (o->subsystem ==
		    vs->subsystem && o->order < vs->order))
			break;
	if (o == NULL)
		TAILQ_INSERT_TAIL(&kh_vnet_dtors, vs, link);
	else
		TAILQ_INSERT_BEFORE(o, vs, link);
	sx_xunlock(&vnet_sxlock);
}

/* As vnet.c: the destructor runs on every VNET as the module goes. */
void
vnet_deregister_sysuninit(void *arg)
{
	struct vnet_sysinit *vs = arg;
	struct vnet *vnet;

	sx_xlock(&vnet_sxlock);
	LIST_FOREACH(vnet, &vnet_head, vnet_le) {
		CURVNET_SET_QUIET(vnet);
		vs->func(vs->arg);
		CURVNET_RESTORE();
	}
	TAILQ_REMOVE(&kh_vnet_dtors, vs, link);
	sx_xunlock(&vnet_sxlock);
}

/* The bytes of set_vnet: every VNET's copy of the VNET_DEFINEs. */
static size_t
kh_vnet_size(void)
{

	return ((char *)&__stop_set_vnet - (char *)&__start_set_vnet);
}

static struct vnet *
kh_vnet_alloc(void)
{
	size_t len = kh_vnet_size();
	struct vnet *vnet;

	vnet = malloc(sizeof(*vnet), M_KH_KERN, M_WAITOK | M_ZERO);
	vnet->vnet_magic_n = VNET_MAGIC_N;
	vnet->vnet_data_mem = malloc(len, M_KH_KERN, M_WAITOK | M_ZERO);
	memcpy(vnet->vnet_data_mem, kh_vnet_master != NULL ? kh_vnet_master :
	    (char *)&__start_set_vnet, len);
	vnet->vnet_data_base = (uintptr_t)vnet->vnet_data_mem -
	    (uintptr_t)&__start_set_vnet;
	return (vnet);
}

struct vnet *
kh_vnet_create(void)
{
	struct vnet_sysinit *vs;
	struct vnet *vnet;

	vnet = kh_vnet_alloc();
	sx_xlock(&vnet_sxlock);
	LIST_INSERT_HEAD(&vnet_head, vnet, vnet_le);
	CURVNET_SET_QUIET(vnet);
	TAILQ_FOREACH(vs, &kh_vnet_ctors, link)
		vs->func(vs->arg);
	CURVNET_RESTORE();
	sx_xunlock(&vnet_sxlock);
	return (vnet);
}

void
kh_vnet_destroy(struct vnet *vnet)
{
	struct vnet_sysinit *vs;

	kh_if_return_home(vnet);
	sx_xlock(&vnet_sxlock);
	vnet->vnet_shutdown = true;
	CURVNET_SET_QUIET(vnet);
	TAILQ_FOREACH(vs, &kh_vnet_dtors, link)
		vs->func(vs->arg);
	CURVNET_RESTORE();
	LIST_REMOVE(vnet, vnet_le);
	sx_xunlock(&vnet_sxlock);
	kh_if_check_vnet_empty(vnet);
	vnet->vnet_magic_n = 0;
	free(vnet->vnet_data_mem, M_KH_KERN);
	free(vnet, M_KH_KERN);
}

struct prison *
kh_jail_create(const char *name)
{
	struct prison *pr;
	struct ucred *cr;

	pr = malloc(sizeof(*pr), M_KH_KERN, M_WAITOK | M_ZERO);
	strlcpy(pr->pr_name, name, sizeof(pr->pr_name));
	pr->pr_parent = &prison0;
	pr->pr_flags = PR_VNET;
	pr->pr_vnet = kh_vnet_create();
	cr = malloc(sizeof(*cr), M_KH_KERN, M_WAITOK | M_ZERO);
	cr->cr_ref = 1;
	cr->cr_prison = pr;
	pr->pr_sparep[0] = cr;		/* the jail's root */
	return (pr);
}

struct ucred *
kh_jail_cred(struct prison *pr)
{

	return (pr->pr_sparep[0]);
}

/* jail -r: the OSD remove methods, then the jail must be able to die. */
void
kh_jail_remove(struct prison *pr)
{
	struct ucred *cr = kh_jail_cred(pr);
	int i;

	for (i = 0; i < KH_MAXOSD; i++)
		if (kh_osd_used[i] && kh_osd_jail[i][PR_METHOD_REMOVE] != NULL)
			kh_osd_jail[i][PR_METHOD_REMOVE](pr, NULL);
	if (cr->cr_ref != 1)
		kh_panic("jail \"%s\" cannot die: %ld reference(s) to its "
		    "credential remain after PR_METHOD_REMOVE", pr->pr_name,
		    cr->cr_ref - 1);
	kh_vnet_destroy(pr->pr_vnet);
	crfree(cr);
	free(pr, M_KH_KERN);
}

/* Modules. */

static const moduledata_t *kh_module;
static int kh_load_error;	/* of the last MOD_LOAD */

/*
 * As sys/kern/kern_module.c: a failed MOD_LOAD is followed by MOD_UNLOAD
 * and the module is released; linker_load_file() then unloads the file
 * (kh_kldload_try).
 */
void
module_register_init(const void *arg)
{
	const moduledata_t *data = arg;
	int error;

	if (kh_module != NULL)
		kh_panic("a second module \"%s\" registers", data->name);
	error = data->evhand(NULL, MOD_LOAD, data->priv);
	if (error != 0) {
		(void)data->evhand(NULL, MOD_UNLOAD, data->priv);
		kh_log("module_register_init: MOD_LOAD (%s) error %d",
		    data->name, error);
		kh_load_error = error;
		return;
	}
	kh_module = data;
}

static int
kh_sysinit_cmp(const struct sysinit *a, const struct sysinit *b)
{

	if (a->subsystem != b->subsystem)
		return (a->subsystem < b->subsystem ? -1 : 1);
	if (a->order != b->order)
		return (a->order < b->order ? -1 : 1);
	return (0);
}

static int
kh_sorted(struct sysinit ***begin, struct sysinit ***end, int reverse,
    struct sysinit ***out)
{
	struct sysinit **v, *t;
	int n, i, j, c;

	n = *end - *begin;
	v = malloc(n * sizeof(*v) + 1, M_KH_KERN, M_WAITOK);
	memcpy(v, *begin, n * sizeof(*v));
	for (i = 1; i < n; i++)		/* stable, like the kernel's */
		for (j = i; j > 0; j--) {
			c = kh_sysinit_cmp(v[j - 1], v[j]);
			if (reverse ? c >= 0 : c <= 0)
				break;
			t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	*out = v;
	return (n);
}

static void kh_sysuninit_all(void);

/*
 * kldload: 0, or as linker_load_file() when the module's MOD_LOAD failed:
 * the file's SYSUNINITs run (it is unloaded) and the error is ENOEXEC.
 */
int
kh_kldload_try(void)
{
	struct sysinit **begin = SET_BEGIN(sysinit_set);
	struct sysinit **end = SET_LIMIT(sysinit_set);
	struct sysinit **v;
	int i, n;

	kh_load_error = 0;
	n = kh_sorted(&begin, &end, 0, &v);
	kh_vnet_master = malloc(kh_vnet_size() + 1, M_KH_KERN, M_WAITOK);
	memcpy(kh_vnet_master, (char *)&__start_set_vnet, kh_vnet_size());
	CURVNET_SET(vnet0);
	for (i = 0; i < n; i++)
		v[i]->func(v[i]->udata);
	CURVNET_RESTORE();
	free(v, M_KH_KERN);
	if (kh_module == NULL && kh_load_error != 0) {
		kh_sysuninit_all();
		return (ENOEXEC);
	}
	if (kh_module == NULL)
		kh_panic("kldload: no DECLARE_MODULE in the module");
	return (0);
}

void
kh_kldload(void)
{
	int error;

	if ((error = kh_kldload_try()) != 0)
		kh_panic("kldload: error %d", error);
}

static void
kh_sysuninit_all(void)
{
	struct sysinit **begin = SET_BEGIN(sysuninit_set);
	struct sysinit **end = SET_LIMIT(sysuninit_set);
	struct sysinit **v;
	int i, n;

	n = kh_sorted(&begin, &end, 1, &v);
	CURVNET_SET(vnet0);
	for (i = 0; i < n; i++)
		v[i]->func(v[i]->udata);
	CURVNET_RESTORE();
	free(v, M_KH_KERN);
	free(kh_vnet_master, M_KH_KERN);
	kh_vnet_master = NULL;
}

void
kh_kldunload(void)
{
	int error;

	if (kh_module == NULL)
		kh_panic("kldunload: not loaded");
	CURVNET_SET(vnet0);
	error = kh_module->evhand(NULL, MOD_UNLOAD, kh_module->priv);
	if (error != 0)
		kh_panic("module \"%s\" refused MOD_UNLOAD: error %d",
		    kh_module->name, error);
	CURVNET_RESTORE();
	kh_sysuninit_all();
	kh_module = NULL;
}

/* Boot: the model, CPUs, VNET 0 and jail 0. */
void
kh_boot(void)
{

	kh_cpus_init();
	kh_lock_init_model();
	kh_malloc_init_model();
	kh_thread_self_init("kharness", 0);
	malloc_init(M_KH_KERN);
	malloc_init(M_KH_TASKQUEUE);
	kh_mbuf_init_model();
	kh_epoch_init_model();
	kh_callout_init_model();
	sx_init(&vnet_sxlock, "vnet_sxlock");
	kh_cred0.cr_ref = KH_CRED_BASE;
	kh_cred0.cr_prison = &prison0;
	strlcpy(prison0.pr_name, "0", sizeof(prison0.pr_name));
	prison0.pr_flags = PR_VNET;
	vnet0 = kh_vnet_alloc();
	LIST_INSERT_HEAD(&vnet_head, vnet0, vnet_le);
	prison0.pr_vnet = vnet0;
	kh_if_init_model();
}

/* User memory. */

#define	KH_MAXUREG	4
static __thread struct {
	uintptr_t	 uaddr;
	char		*kaddr;
	size_t		 len;
} kh_ureg[KH_MAXUREG];
static uintptr_t kh_unext = 0x00007f0000000000ULL;

/* Lends a buffer as user memory of this thread; returns its address. */
void *
kh_uregion_add(void *kaddr, size_t len)
{
	int i;

	for (i = 0; i < KH_MAXUREG; i++)
		if (kh_ureg[i].kaddr == NULL)
			break;
	if (i == KH_MAXUREG)
		kh_panic("kh_uregion_add: too many");
	kh_ureg[i].uaddr = __atomic_fetch_add(&kh_unext, 1ULL << 32,
	    __ATOMIC_RELAXED);
	kh_ureg[i].kaddr = kaddr;
	kh_ureg[i].len = len;
	return ((void *)kh_ureg[i].uaddr);
}

void
kh_uregion_clear(void)
{

	memset(kh_ureg, 0, sizeof(kh_ureg));
}

static char *
kh_uaddr(const void *uaddr, size_t len)
{
	uintptr_t u = (uintptr_t)uaddr;
	int i;

	for (i = 0; i < KH_MAXUREG; i++)
		if (kh_ureg[i].kaddr != NULL && u >= kh_ureg[i].uaddr &&
		    len <= kh_ureg[i].len &&
		    u - kh_ureg[i].uaddr <= kh_ureg[i].len - len)
			return (kh_ureg[i].kaddr + (u - kh_ureg[i].uaddr));
	return (NULL);
}

int
copyin(const void *uaddr, void *kaddr, size_t len)
{
	char *k;

	kh_check_sleep("copyin");	/* a fault may page in */
	if (len == 0)
		return (0);
	if ((k = kh_uaddr(uaddr, len)) == NULL)
		return (EFAULT);
	memcpy(kaddr, k, len);
	return (0);
}

int
copyout(const void *kaddr, void *uaddr, size_t len)
{
	char *k;

	kh_check_sleep("copyout");
	if (len == 0)
		return (0);
	if ((k = kh_uaddr(uaddr, len)) == NULL)
		return (EFAULT);
	memcpy(k, kaddr, len);
	return (0);
}

void
kh_check_free(const void *p, size_t len)
{
	int r;

	if ((r = kh_callout_check_free(p, len)) != 0)
		kh_panic("free of %zu bytes at %p holding a callout that is "
		    "%s", len, p, r == 1 ? "armed" : "running");
	if ((r = kh_task_check_free(p, len)) != 0)
		kh_panic("free of %zu bytes at %p holding a task that is %s",
		    len, p, r == 1 ? "queued" : "running");
}
