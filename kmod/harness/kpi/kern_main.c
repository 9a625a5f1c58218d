/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * kharness: boots the model, loads the module (kmod/if_wg.c, linked in),
 * and serves the control door (ctl.h) where ioctl(2) and ifconfig(8)
 * would reach a FreeBSD kernel.
 *
 *   kharness [-s CTLPATH] -f NAME   like wireguard-go -f NAME: creates wg
 *                                   interface NAME, serves the door and,
 *                                   through kharness-uapi, the UAPI socket;
 *                                   SIGTERM/SIGINT, or the TUN device
 *                                   deleted (ip link del, wg-quick down),
 *                                   unloads the module and checks that
 *                                   nothing leaked.
 *   kharness [-s CTLPATH] NAME      the same in the background, as
 *                                   wireguard-go NAME (wg-quick's
 *                                   WG_QUICK_USERSPACE_IMPLEMENTATION).
 *   kharness ctl CTLPATH OP [ARGS]  a client of the door (create, destroy,
 *                                   up, down, mtu, list, stats, set FILE,
 *                                   get): what ifconfig would do.
 *   kharness test NAME              an in-process test (tests.c).
 *   kharness plant NAME             runs a planted contract violation: the
 *                                   model must stop it (plant.c).
 */
#include "kh.h"

#include <sys/jail.h>
#include <sys/socket.h>
#include <sys/sockio.h>
#include <net/if.h>
#include <net/if_var.h>
#include <net/if_private.h>
#include <net/vnet.h>

#include "../ctl.h"
#include "if_wg_ioctl.h"

int	kh_main(int argc, char **argv);
int	kh_test_main(const char *name);
int	kh_plant_main(const char *name);

static volatile int kh_stop;

/* Runs one request in this thread (a door thread, with curvnet set). */
int
kh_ctl_exec(const struct kh_ctl_req *req, char *buf, uint64_t *buflen,
    uint64_t *size)
{
	struct kh_thread *kt = kh_curthread();
	struct wg_data_io wgd;
	char name[IFNAMSIZ];
	if_t ifp;
	int error;

	memcpy(name, req->name, IFNAMSIZ);
	name[IFNAMSIZ - 1] = '\0';
	kt->unprivileged = (req->flags & KH_CTL_F_UNPRIV) != 0;
	error = 0;
	switch (req->op) {
	case KH_CTL_SIOCSWG:
	case KH_CTL_SIOCGWG:
		if ((ifp = kh_ifunit(name)) == NULL) {
			error = ENXIO;
			break;
		}
		memset(&wgd, 0, sizeof(wgd));
		memcpy(wgd.wgd_name, name, IFNAMSIZ);
		wgd.wgd_size = req->size;
		wgd.wgd_data = (req->flags & KH_CTL_F_NULLDATA) != 0 ? NULL :
		    kh_uregion_add(buf, *buflen);
		error = ifp->if_ioctl(ifp, req->op == KH_CTL_SIOCSWG ?
		    SIOCSWG : SIOCGWG, (caddr_t)&wgd);
		kh_uregion_clear();
		*size = wgd.wgd_size;
		kh_if_rele(ifp);
		break;
	case KH_CTL_LIST:
		*size = kh_if_list("wg", buf, *buflen);
		*buflen = MIN(*size, *buflen);
		break;
	case KH_CTL_CREATE:
		error = kh_if_create(name, buf, *buflen);
		*buflen = error == 0 ? strlen(buf) + 1 : 0;
		break;
	case KH_CTL_DESTROY:
		error = kh_if_destroy(name);
		break;
	case KH_CTL_SETUP:
	case KH_CTL_SETMTU:
	case KH_CTL_RENAME:
	case KH_CTL_STATS:
		if ((ifp = kh_ifunit(name)) == NULL) {
			error = ENXIO;
			break;
		}
		if (req->op == KH_CTL_SETUP)
			error = kh_if_setup(ifp, req->arg != 0);
		else if (req->op == KH_CTL_SETMTU)
			error = kh_if_setmtu(ifp, req->arg);
		else if (req->op == KH_CTL_RENAME) {
			buf[MIN(*buflen, IFNAMSIZ - 1)] = '\0';
			error = kh_if_rename(ifp, buf);
		} else {
			*size = snprintf(buf, *buflen,
			    "ipackets %ju\nopackets %ju\nierrors %ju\n"
			    "oerrors %ju\niqdrops %ju\noqdrops %ju\n"
			    "ibytes %ju\nobytes %ju\nbpf %ju\nmtu %u\n"
			    "up %d\nrunning %d\nlog %lu\nfaults %lu\n",
			    (uintmax_t)kh_if_counter(ifp, IFCOUNTER_IPACKETS),
			    (uintmax_t)kh_if_counter(ifp, IFCOUNTER_OPACKETS),
			    (uintmax_t)kh_if_counter(ifp, IFCOUNTER_IERRORS),
			    (uintmax_t)kh_if_counter(ifp, IFCOUNTER_OERRORS),
			    (uintmax_t)kh_if_counter(ifp, IFCOUNTER_IQDROPS),
			    (uintmax_t)kh_if_counter(ifp, IFCOUNTER_OQDROPS),
			    (uintmax_t)kh_if_counter(ifp, IFCOUNTER_IBYTES),
			    (uintmax_t)kh_if_counter(ifp, IFCOUNTER_OBYTES),
			    (uintmax_t)kh_if_taps(ifp), ifp->if_mtu,
			    (ifp->if_flags & IFF_UP) != 0,
			    (ifp->if_drv_flags & IFF_DRV_RUNNING) != 0,
			    kh_log_count, kh_faults_injected);
			*buflen = MIN(*size, *buflen);
		}
		kh_if_rele(ifp);
		break;
	default:
		error = EINVAL;
	}
	kt->unprivileged = 0;
	if (req->op != KH_CTL_SIOCSWG && req->op != KH_CTL_SIOCGWG &&
	    req->op != KH_CTL_LIST && req->op != KH_CTL_CREATE &&
	    req->op != KH_CTL_STATS)
		*buflen = 0;
	return (error);
}

struct kh_conn {
	int	fd;
};

static void
kh_door_conn(void *arg)
{
	struct kh_conn *c = arg;
	struct kh_ctl_req req;
	struct kh_ctl_resp resp;
	uint64_t buflen, size;
	char *buf;
	long n;

	CURVNET_SET(vnet0);
	for (;;) {
		n = host_read_full(c->fd, &req, sizeof(req));
		if (n != sizeof(req) || req.magic != KH_CTL_MAGIC ||
		    req.buflen > KH_CTL_BUFMAX)
			break;
		buflen = req.buflen;
		buf = host_alloc(buflen + 1);
		if (buf == NULL ||
		    host_read_full(c->fd, buf, buflen) != (long)buflen) {
			host_free(buf);
			break;
		}
		size = req.size;
		memset(&resp, 0, sizeof(resp));
		resp.magic = KH_CTL_MAGIC;
		resp.error = kh_ctl_exec(&req, buf, &buflen, &size);
		resp.size = size;
		resp.buflen = buflen;
		n = host_write_full(c->fd, &resp, sizeof(resp));
		if (n == sizeof(resp) && buflen > 0)
			n = host_write_full(c->fd, buf, buflen) ==
			    (long)buflen ? (long)sizeof(resp) : -1;
		host_free(buf);
		if (n != sizeof(resp))
			break;
	}
	CURVNET_RESTORE();
	host_close(c->fd);
	host_free(c);
}

#define	KH_MAXCONN	64
static host_thread_t *kh_conns[KH_MAXCONN];
static int kh_nconns;

/* Accepts until kh_stop; mirrors the TUN devices' state meanwhile. */
static void
kh_door_loop(int lfd)
{
	struct kh_conn *c;
	int fd, i;

	while (!kh_stop) {
		fd = host_unix_accept(lfd, 100);
		if (fd > 0) {
			c = host_alloc(sizeof(*c));
			c->fd = fd;
			if (kh_nconns == KH_MAXCONN) {
				host_thread_join(kh_conns[0]);
				for (i = 1; i < KH_MAXCONN; i++)
					kh_conns[i - 1] = kh_conns[i];
				kh_nconns--;
			}
			kh_conns[kh_nconns++] = kh_thread_start("door", 0,
			    kh_door_conn, c);
		}
		CURVNET_SET(vnet0);
		/* Its interfaces gone (ip link del): as wireguard-go, go. */
		(void)kh_if_sync_tun(vnet0);
		if (kh_if_count() == 0)
			kh_stop = 1;
		CURVNET_RESTORE();
	}
}

/* The leak checks of a clean shutdown: nothing of the module remains. */
int	kh_check_clean(const char *when);

int
kh_check_clean(const char *when)
{
	int bad = 0;

	if (kh_mbuf_outstanding() != 0) {
		kh_log("%s: %ld mbufs, clusters or tags leaked", when,
		    kh_mbuf_outstanding());
		kh_mbuf_report();
		bad = 1;
	}
	if (kh_socket_count() != 0) {
		kh_log("%s: %ld sockets left open", when, kh_socket_count());
		bad = 1;
	}
	if (kh_if_count() != 0) {
		kh_log("%s: %d interfaces left", when, kh_if_count());
		bad = 1;
	}
	return (bad);
}

static void
kh_usage(void)
{

	kh_log("usage: kharness [-s CTLPATH] -f NAME | kharness ctl CTLPATH "
	    "OP [ARG] | kharness test NAME | kharness plant NAME");
	host_exit(2);
}

int	kh_ctl_client(int argc, char **argv);

static int
kh_foreground(const char *name, const char *door, int background)
{
	char path[256], dir[200], exe[256], created[IFNAMSIZ];
	char *argv[5];
	int bad, error, lfd, pid;
	if_t ifp;

	if (strlen(name) >= IFNAMSIZ) {
		kh_log("%s: name too long", name);
		return (1);
	}
	if (background)
		host_daemon_start();
	kh_boot();
	kh_socket_init_model();
	kh_kldload();
	CURVNET_SET(vnet0);
	error = kh_if_create("wg", created, sizeof(created));
	if (error == 0 && strcmp(created, name) != 0) {
		ifp = kh_ifunit(created);
		error = kh_if_rename(ifp, name);
		kh_if_rele(ifp);
	}
	CURVNET_RESTORE();
	if (error != 0) {
		kh_log("cannot create %s: error %d", name, error);
		return (1);
	}
	if (door == NULL) {
		(void)host_mkdir_p("/var/run/kharness", 0755);
		snprintf(path, sizeof(path), "/var/run/kharness/%s.ctl", name);
		door = path;
	}
	if ((lfd = host_unix_listen(door)) < 0) {
		kh_log("%s: error %d", door, -lfd);
		return (1);
	}
	host_catch_signals(&kh_stop);
	pid = -1;
	if (host_getenv("KHARNESS_UAPI") != NULL)
		strlcpy(exe, host_getenv("KHARNESS_UAPI"), sizeof(exe));
	else if (host_exe_dir(dir, sizeof(dir)) == 0) {
		/* Built as target/kharness/SAN/kharness, beside cargo's. */
		snprintf(exe, sizeof(exe), "%s/../../release/kharness-uapi",
		    dir);
	} else
		exe[0] = '\0';
	if (exe[0] != '\0' && strcmp(exe, "none") != 0 &&
	    host_path_exists(exe)) {
		argv[0] = exe;
		argv[1] = "--ctl";
		argv[2] = __DECONST(char *, door);
		argv[3] = __DECONST(char *, name);
		argv[4] = NULL;
		pid = host_spawn(argv);
	} else
		kh_log("no UAPI bridge (%s): the control door only", exe);
	kh_log("%s: module loaded, interface created, door %s", name, door);
	if (pid > 0)
		host_sleep_ns(200000000ULL);	/* the bridge's socket */
	host_daemon_ready();
	kh_door_loop(lfd);
	if (pid > 0)
		host_kill_wait(pid);
	host_close(lfd);
	(void)host_unlink(door);
	while (kh_nconns > 0)
		host_thread_join(kh_conns[--kh_nconns]);
	kh_kldunload();
	bad = kh_check_clean("kldunload");
	kh_callout_fini_model();
	if (!bad)
		kh_log("%s: unloaded, nothing leaked", name);
	return (bad);
}

int
kh_main(int argc, char **argv)
{
	const char *door = NULL, *name = NULL;
	int background = 0, i;

	if (argc >= 2 && strcmp(argv[1], "ctl") == 0)
		return (kh_ctl_client(argc - 2, argv + 2));
	if (argc == 3 && strcmp(argv[1], "test") == 0)
		return (kh_test_main(argv[2]));
	if (argc == 3 && strcmp(argv[1], "plant") == 0)
		return (kh_plant_main(argv[2]));
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-s") == 0 && i + 1 < argc)
			door = argv[++i];
		else if ((strcmp(argv[i], "-f") == 0 ||
		    strcmp(argv[i], "--foreground") == 0) && i + 1 < argc)
			name = argv[++i];
		else if (argv[i][0] != '-' && name == NULL && i + 1 == argc) {
			name = argv[i];
			background = host_getenv("WG_PROCESS_FOREGROUND") ==
			    NULL;
		} else
			kh_usage();
	}
	if (name == NULL)
		kh_usage();
	return (kh_foreground(name, door, background));
}
