/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * The host layer on Linux (see host.h): threads, locks, time, randomness,
 * UDP sockets, TUN devices and unix sockets for the model of FreeBSD's
 * kernel.  Compiled against Linux's headers only; errors are returned as
 * FreeBSD errno values, the numbers the model's callers expect.
 */
#define	_GNU_SOURCE
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <asm/prctl.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "host.h"

/* Linux errno -> FreeBSD errno, for the values the model passes on. */
static int
bsd_errno(int e)
{

	switch (e) {
	case EAGAIN:		return (35);
	case EINPROGRESS:	return (36);
	case ENOTSOCK:		return (38);
	case EDESTADDRREQ:	return (39);
	case EMSGSIZE:		return (40);
	case EPROTONOSUPPORT:	return (43);
	case EOPNOTSUPP:	return (45);
	case EAFNOSUPPORT:	return (47);
	case EADDRINUSE:	return (48);
	case EADDRNOTAVAIL:	return (49);
	case ENETDOWN:		return (50);
	case ENETUNREACH:	return (51);
	case ECONNRESET:	return (54);
	case ENOBUFS:		return (55);
	case ECONNREFUSED:	return (61);
	case EHOSTDOWN:		return (64);
	case EHOSTUNREACH:	return (65);
	default:
		return (e < 35 ? e : 5 /* EIO */);
	}
}

void
host_write(int fd, const char *buf, unsigned long len)
{

	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return;
		}
		buf += n;
		len -= n;
	}
}

void
host_abort(void)
{

	abort();
}

void
host_exit(int status)
{

	exit(status);
}

void
host_backtrace(void)
{
	void *pcs[64];
	int n;

	n = backtrace(pcs, 64);
	backtrace_symbols_fd(pcs, n, 2);
}

const char *
host_getenv(const char *name)
{

	return (getenv(name));
}

int
host_vsnprintf(char *buf, unsigned long len, const char *fmt, va_list ap)
{

	return (vsnprintf(buf, len, fmt, ap));
}

void *
host_alloc(unsigned long size)
{

	return (calloc(1, size == 0 ? 1 : size));
}

void *
host_alloc_aligned(unsigned long size, unsigned long align)
{
	void *p;

	if (align < sizeof(void *))
		align = sizeof(void *);
	if (posix_memalign(&p, align, size == 0 ? 1 : size) != 0)
		return (NULL);
	memset(p, 0, size);
	return (p);
}

void
host_free(void *p)
{

	free(p);
}

struct host_thread {
	pthread_t	 t;
	void		(*fn)(void *);
	void		*arg;
};

static void *
thread_main(void *arg)
{
	struct host_thread *t = arg;

	t->fn(t->arg);
	return (NULL);
}

host_thread_t *
host_thread_create(void (*fn)(void *), void *arg)
{
	struct host_thread *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		abort();
	t->fn = fn;
	t->arg = arg;
	if (pthread_create(&t->t, NULL, thread_main, t) != 0)
		abort();
	return (t);
}

void
host_thread_join(host_thread_t *t)
{

	pthread_join(t->t, NULL);
	free(t);
}

/*
 * FreeBSD's amd64 curthread is %gs:0 (struct pcpu).  Linux userland
 * leaves GS alone (TLS is FS), so each thread can point it at its own.
 */
void
host_set_gsbase(void *base)
{

	if (syscall(SYS_arch_prctl, ARCH_SET_GS, (unsigned long)base) != 0) {
		perror("kharness: arch_prctl(ARCH_SET_GS)");
		abort();
	}
}

int
host_gettid(void)
{

	return ((int)syscall(SYS_gettid));
}

void
host_yield(void)
{

	sched_yield();
}

int
host_ncpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return (n < 1 ? 1 : n > 64 ? 64 : (int)n);
}

struct host_mutex {
	pthread_mutex_t	m;
};
struct host_cond {
	pthread_cond_t	c;
};

host_mutex_t *
host_mutex_new(void)
{
	host_mutex_t *m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		abort();
	pthread_mutex_init(&m->m, NULL);
	return (m);
}

void
host_mutex_free(host_mutex_t *m)
{

	pthread_mutex_destroy(&m->m);
	free(m);
}

void
host_mutex_lock(host_mutex_t *m)
{

	pthread_mutex_lock(&m->m);
}

void
host_mutex_unlock(host_mutex_t *m)
{

	pthread_mutex_unlock(&m->m);
}

host_cond_t *
host_cond_new(void)
{
	pthread_condattr_t a;
	host_cond_t *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		abort();
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&c->c, &a);
	pthread_condattr_destroy(&a);
	return (c);
}

void
host_cond_free(host_cond_t *c)
{

	pthread_cond_destroy(&c->c);
	free(c);
}

void
host_cond_wait(host_cond_t *c, host_mutex_t *m)
{

	pthread_cond_wait(&c->c, &m->m);
}

int
host_cond_timedwait(host_cond_t *c, host_mutex_t *m, unsigned long long abs_ns)
{
	struct timespec ts;

	ts.tv_sec = abs_ns / 1000000000ULL;
	ts.tv_nsec = abs_ns % 1000000000ULL;
	return (pthread_cond_timedwait(&c->c, &m->m, &ts) == ETIMEDOUT);
}

void
host_cond_broadcast(host_cond_t *c)
{

	pthread_cond_broadcast(&c->c);
}

unsigned long long
host_monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1000000000ULL + ts.tv_nsec);
}

unsigned long long
host_realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (ts.tv_sec * 1000000000ULL + ts.tv_nsec);
}

void
host_sleep_ns(unsigned long long ns)
{
	struct timespec ts = { ns / 1000000000ULL, ns % 1000000000ULL };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

void
host_random(void *buf, unsigned long len)
{
	unsigned char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			abort();
		}
		p += n;
		len -= n;
	}
}

/* Sockets. */

static socklen_t
to_sockaddr(const struct host_addr *a, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (a->family == 4) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(a->port);
		memcpy(&sin->sin_addr, a->addr, 4);
		return (sizeof(*sin));
	}
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(a->port);
	sin6->sin6_scope_id = a->scope_id;
	sin6->sin6_flowinfo = htonl(a->flowinfo);
	memcpy(&sin6->sin6_addr, a->addr, 16);
	return (sizeof(*sin6));
}

static void
from_sockaddr(const struct sockaddr_storage *ss, struct host_addr *a)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

	memset(a, 0, sizeof(*a));
	if (ss->ss_family == AF_INET) {
		a->family = 4;
		a->port = ntohs(sin->sin_port);
		memcpy(a->addr, &sin->sin_addr, 4);
	} else {
		a->family = 6;
		a->port = ntohs(sin6->sin6_port);
		a->scope_id = sin6->sin6_scope_id;
		a->flowinfo = ntohl(sin6->sin6_flowinfo);
		memcpy(a->addr, &sin6->sin6_addr, 16);
	}
}

int
host_udp_open(int family)
{
	int fd;

	fd = socket(family == 4 ? AF_INET : AF_INET6,
	    SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
	return (fd < 0 ? -bsd_errno(errno) : fd);
}

int
host_udp_bind(int fd, const struct host_addr *a)
{
	struct sockaddr_storage ss;
	socklen_t len;

	len = to_sockaddr(a, &ss);
	return (bind(fd, (struct sockaddr *)&ss, len) != 0 ?
	    -bsd_errno(errno) : 0);
}

int
host_udp_local(int fd, struct host_addr *a)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return (-bsd_errno(errno));
	from_sockaddr(&ss, a);
	return (0);
}

int
host_udp_set_v6only(int fd)
{
	int one = 1;

	return (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
	    sizeof(one)) != 0 ? -bsd_errno(errno) : 0);
}

int
host_udp_set_buf(int fd, int sndbuf, int rcvbuf)
{

	if (sndbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf,
	    sizeof(sndbuf)) != 0)
		return (-bsd_errno(errno));
	if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
	    sizeof(rcvbuf)) != 0)
		return (-bsd_errno(errno));
	return (0);
}

int
host_udp_set_mark(int fd, unsigned int mark)
{

	return (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) != 0 ?
	    -bsd_errno(errno) : 0);
}

int
host_route_src(int family, const unsigned char *dst, unsigned char *src)
{
	struct host_addr a = { .family = family, .port = 9 };
	struct sockaddr_storage ss;
	socklen_t len;
	int error, fd;

	if ((fd = host_udp_open(family)) < 0)
		return (fd);
	memcpy(a.addr, dst, family == 4 ? 4 : 16);
	len = to_sockaddr(&a, &ss);
	error = 0;
	if (connect(fd, (struct sockaddr *)&ss, len) != 0)
		error = -bsd_errno(errno);
	else if (host_udp_local(fd, &a) != 0)
		error = -5;
	else
		memcpy(src, a.addr, family == 4 ? 4 : 16);
	close(fd);
	return (error);
}

int
host_ip_output(int family, const void *pkt, unsigned long len)
{
	struct host_addr a = { .family = family };
	struct sockaddr_storage ss;
	socklen_t sl;
	ssize_t n;
	int fd;

	/* IPPROTO_RAW: the header is ours (IP_HDRINCL, IPV6_HDRINCL). */
	fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_RAW | SOCK_CLOEXEC,
	    IPPROTO_RAW);
	if (fd < 0)
		return (-bsd_errno(errno));
	memcpy(a.addr, (const unsigned char *)pkt + (family == 4 ? 16 : 24),
	    family == 4 ? 4 : 16);
	sl = to_sockaddr(&a, &ss);
	n = sendto(fd, pkt, len, 0, (struct sockaddr *)&ss, sl);
	close(fd);
	return (n < 0 ? -bsd_errno(errno) : 0);
}

long
host_udp_sendto(int fd, const void *buf, unsigned long len,
    const struct host_addr *to)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	ssize_t n;

	sl = to_sockaddr(to, &ss);
	n = sendto(fd, buf, len, MSG_DONTWAIT, (struct sockaddr *)&ss, sl);
	return (n < 0 ? -bsd_errno(errno) : n);
}

long
host_udp_recvfrom(int fd, void *buf, unsigned long len, struct host_addr *from,
    int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	ssize_t n;
	int r;

	r = poll(&pfd, 1, timeout_ms);
	if (r == 0)
		return (0);
	if (r < 0)
		return (errno == EINTR ? 0 : -bsd_errno(errno));
	n = recvfrom(fd, buf, len, MSG_DONTWAIT | MSG_TRUNC,
	    (struct sockaddr *)&ss, &sl);
	if (n < 0)
		return (errno == EAGAIN || errno == EINTR ? 0 :
		    -bsd_errno(errno));
	if ((unsigned long)n > len)
		return (-40);	/* EMSGSIZE: truncated */
	from_sockaddr(&ss, from);
	/* A zero-length datagram is told apart from a timeout by the caller. */
	return (n == 0 ? -1000 : n);
}

void
host_close(int fd)
{

	close(fd);
}

/* TUN. */

static int
ifreq_ioctl(unsigned long req, struct ifreq *ifr)
{
	int fd, r;

	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return (-bsd_errno(errno));
	r = ioctl(fd, req, ifr);
	r = r < 0 ? -bsd_errno(errno) : 0;
	close(fd);
	return (r);
}

int
host_tun_open(const char *name, int mtu)
{
	struct ifreq ifr;
	int fd, r;

	if ((fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC)) < 0)
		return (-bsd_errno(errno));
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		r = -bsd_errno(errno);
		close(fd);
		return (r);
	}
	(void)host_tun_set_mtu(name, mtu);
	return (fd);
}

int
host_tun_rename(int fd, const char *oldname, const char *newname)
{
	struct ifreq ifr;

	(void)fd;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", oldname);
	snprintf(ifr.ifr_newname, IFNAMSIZ, "%s", newname);
	return (ifreq_ioctl(SIOCSIFNAME, &ifr));
}

int
host_tun_set_mtu(const char *name, int mtu)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	ifr.ifr_mtu = mtu;
	return (ifreq_ioctl(SIOCSIFMTU, &ifr));
}

int
host_tun_set_up(const char *name, int up)
{
	struct ifreq ifr;
	int r;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if ((r = ifreq_ioctl(SIOCGIFFLAGS, &ifr)) != 0)
		return (r);
	if (up)
		ifr.ifr_flags |= IFF_UP;
	else
		ifr.ifr_flags &= ~IFF_UP;
	return (ifreq_ioctl(SIOCSIFFLAGS, &ifr));
}

long
host_tun_read(int fd, void *buf, unsigned long len, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;
	int r;

	r = poll(&pfd, 1, timeout_ms);
	if (r <= 0)
		return (r < 0 && errno != EINTR ? -bsd_errno(errno) : 0);
	n = read(fd, buf, len);
	if (n < 0)
		return (errno == EAGAIN || errno == EINTR ? 0 :
		    -bsd_errno(errno));
	return (n);
}

long
host_tun_write(int fd, const void *buf, unsigned long len)
{
	ssize_t n;

	n = write(fd, buf, len);
	return (n < 0 ? -bsd_errno(errno) : n);
}

/* Unix sockets. */

int
host_unix_listen(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return (-63);	/* ENAMETOOLONG */
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return (-bsd_errno(errno));
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    chmod(path, 0600) != 0 || listen(fd, 16) != 0) {
		int e = errno;
		close(fd);
		return (-bsd_errno(e));
	}
	return (fd);
}

int
host_unix_accept(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int c, r;

	r = poll(&pfd, 1, timeout_ms);
	if (r <= 0)
		return (r < 0 && errno != EINTR ? -bsd_errno(errno) : 0);
	c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return (errno == EAGAIN || errno == EINTR ? 0 :
		    -bsd_errno(errno));
	return (c);
}

int
host_unix_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return (-63);
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return (-bsd_errno(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		int e = errno;
		close(fd);
		return (-bsd_errno(e));
	}
	return (fd);
}

long
host_read_full(int fd, void *buf, unsigned long len)
{
	unsigned char *p = buf;
	unsigned long done = 0;
	ssize_t n;

	while (done < len) {
		n = read(fd, p + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return (-bsd_errno(errno));
		if (n == 0)
			break;
		done += n;
	}
	return ((long)done);
}

long
host_write_full(int fd, const void *buf, unsigned long len)
{
	const unsigned char *p = buf;
	unsigned long done = 0;
	ssize_t n;

	while (done < len) {
		n = send(fd, p + done, len - done, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return (n < 0 ? -bsd_errno(errno) : -5);
		done += n;
	}
	return ((long)done);
}

int
host_unlink(const char *path)
{

	return (unlink(path) != 0 ? -bsd_errno(errno) : 0);
}

int
host_mkdir_p(const char *path, int mode)
{
	char buf[256];
	char *s;

	if (strlen(path) >= sizeof(buf))
		return (-63);
	strcpy(buf, path);
	for (s = buf + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(buf, mode) != 0 && errno != EEXIST)
			return (-bsd_errno(errno));
		*s = '/';
	}
	if (mkdir(buf, mode) != 0 && errno != EEXIST)
		return (-bsd_errno(errno));
	return (0);
}

/* Processes. */

#include <signal.h>
#include <sys/wait.h>

int
host_spawn(char *const argv[])
{
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return (-bsd_errno(errno));
	if (pid == 0) {
		/* The child must not inherit the parent's GS-based world. */
		execv(argv[0], argv);
		_exit(127);
	}
	return ((int)pid);
}

void
host_kill_wait(int pid)
{
	int status;

	kill(pid, SIGTERM);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

static volatile int *host_sigflag;

static void
host_on_signal(int sig)
{

	(void)sig;
	if (host_sigflag != NULL)
		*host_sigflag = 1;
}

void
host_catch_signals(volatile int *flag)
{
	struct sigaction sa;

	host_sigflag = flag;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = host_on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int
host_exe_dir(char *buf, unsigned long len)
{
	ssize_t n;
	char *s;

	n = readlink("/proc/self/exe", buf, len - 1);
	if (n < 0)
		return (-bsd_errno(errno));
	buf[n] = '\0';
	if ((s = strrchr(buf, '/')) != NULL)
		*s = '\0';
	return (0);
}

int
host_path_exists(const char *path)
{

	return (access(path, X_OK) == 0);
}

int
host_tun_get(const char *name, int *up, int *mtu)
{
	struct ifreq ifr;
	int r;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if ((r = ifreq_ioctl(SIOCGIFFLAGS, &ifr)) != 0)
		return (r);
	*up = (ifr.ifr_flags & IFF_UP) != 0;
	if ((r = ifreq_ioctl(SIOCGIFMTU, &ifr)) != 0)
		return (r);
	*mtu = ifr.ifr_mtu;
	return (0);
}

void *
host_read_file(const char *path, unsigned long *len)
{
	FILE *f;
	char *buf;
	long n;

	if ((f = fopen(path, "rb")) == NULL)
		return (NULL);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(n + 1);
	if (buf == NULL || fread(buf, 1, n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return (NULL);
	}
	fclose(f);
	*len = n;
	return (buf);
}

int
host_write_file(const char *path, const void *buf, unsigned long len)
{
	FILE *f;
	int r;

	if ((f = fopen(path, "wb")) == NULL)
		return (-bsd_errno(errno));
	r = fwrite(buf, 1, len, f) == len ? 0 : -5;
	if (fclose(f) != 0 && r == 0)
		r = -5;
	return (r);
}

static int host_daemon_fd = -1;

void
host_daemon_start(void)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe(p) != 0)
		abort();
	if ((pid = fork()) < 0)
		abort();
	if (pid > 0) {
		close(p[1]);
		_exit(read(p[0], &c, 1) == 1 ? 0 : 1);
	}
	close(p[0]);
	setsid();
	host_daemon_fd = p[1];
}

void
host_daemon_ready(void)
{

	if (host_daemon_fd >= 0) {
		(void)write(host_daemon_fd, "", 1);
		close(host_daemon_fd);
		host_daemon_fd = -1;
	}
}
