/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * The harness's host layer: what the model of FreeBSD's kernel (kpi/,
 * compiled against FreeBSD's headers) gets from Linux (host/host_linux.c,
 * compiled against Linux's).  As in NetBSD's rump kernels, the two header
 * worlds meet only here, so this file uses builtin C types alone: no
 * <stdint.h>, no struct of either system.
 *
 * Errors come back as negative FreeBSD errno values where a call can fail
 * (the host layer translates Linux's numbers).
 */
#ifndef _KH_HOST_H_
#define	_KH_HOST_H_

/* Output and death. */
void	host_write(int fd, const char *buf, unsigned long len);
void	host_abort(void) __attribute__((__noreturn__));
void	host_exit(int status) __attribute__((__noreturn__));
void	host_backtrace(void);
const char *host_getenv(const char *name);
int	host_vsnprintf(char *buf, unsigned long len, const char *fmt,
	    __builtin_va_list ap);

/* Memory (the sanitizers' malloc). */
void	*host_alloc(unsigned long size);		/* zeroed; NULL: none */
void	*host_alloc_aligned(unsigned long size, unsigned long align);
void	host_free(void *p);

/* Threads.  The GS base is the FreeBSD side's per-thread struct pcpu. */
typedef struct host_thread host_thread_t;
host_thread_t *host_thread_create(void (*fn)(void *), void *arg);
void	host_thread_join(host_thread_t *t);
void	host_set_gsbase(void *base);
int	host_gettid(void);
void	host_yield(void);
int	host_ncpus(void);

/* A mutex and condition variables (the model's own locks are built on them). */
typedef struct host_mutex host_mutex_t;
typedef struct host_cond host_cond_t;
host_mutex_t *host_mutex_new(void);
void	host_mutex_free(host_mutex_t *m);
void	host_mutex_lock(host_mutex_t *m);
void	host_mutex_unlock(host_mutex_t *m);
host_cond_t *host_cond_new(void);
void	host_cond_free(host_cond_t *c);
void	host_cond_wait(host_cond_t *c, host_mutex_t *m);
/* 0: signalled (or spurious), 1: timed out.  abs_ns on host_monotonic_ns. */
int	host_cond_timedwait(host_cond_t *c, host_mutex_t *m,
	    unsigned long long abs_ns);
void	host_cond_broadcast(host_cond_t *c);

/* Time and randomness. */
unsigned long long host_monotonic_ns(void);
unsigned long long host_realtime_ns(void);
void	host_sleep_ns(unsigned long long ns);
void	host_random(void *buf, unsigned long len);

/*
 * UDP sockets of the namespace the harness runs in.  Addresses are raw:
 * family 4 (4 bytes) or 6 (16 bytes, with scope), port in host order.
 */
struct host_addr {
	int		family;		/* 4 or 6 */
	unsigned short	port;
	unsigned char	addr[16];
	unsigned int	scope_id;
	unsigned int	flowinfo;
};
int	host_udp_open(int family);			/* fd, or -errno */
int	host_udp_bind(int fd, const struct host_addr *a); /* 0 or -errno */
int	host_udp_local(int fd, struct host_addr *a);
int	host_udp_set_v6only(int fd);
int	host_udp_set_buf(int fd, int sndbuf, int rcvbuf);
/* SO_MARK: the model of a FIB is a mark that policy routing follows. */
int	host_udp_set_mark(int fd, unsigned int mark);
/* The source address the namespace's routing picks towards dst. */
int	host_route_src(int family, const unsigned char *dst,
	    unsigned char *src);
/* A whole IP packet (header included) handed to the namespace's stack. */
int	host_ip_output(int family, const void *pkt, unsigned long len);
/* Bytes sent, or -errno. */
long	host_udp_sendto(int fd, const void *buf, unsigned long len,
	    const struct host_addr *to);
/* Waits up to timeout_ms; bytes, 0 on timeout... -errno. */
long	host_udp_recvfrom(int fd, void *buf, unsigned long len,
	    struct host_addr *from, int timeout_ms);
void	host_close(int fd);

/* TUN devices: the stack side of an interface. */
int	host_tun_open(const char *name, int mtu);	/* fd or -errno */
int	host_tun_rename(int fd, const char *oldname, const char *newname);
int	host_tun_set_mtu(const char *name, int mtu);
int	host_tun_set_up(const char *name, int up);
/* The Linux side's own state of the device: up, and its MTU. */
int	host_tun_get(const char *name, int *up, int *mtu);
long	host_tun_read(int fd, void *buf, unsigned long len, int timeout_ms);
long	host_tun_write(int fd, const void *buf, unsigned long len);

/* The control socket (kharness's "system call" door). */
int	host_unix_listen(const char *path);		/* fd or -errno */
int	host_unix_accept(int fd, int timeout_ms);	/* fd, 0: timeout, -errno */
int	host_unix_connect(const char *path);
long	host_read_full(int fd, void *buf, unsigned long len);
long	host_write_full(int fd, const void *buf, unsigned long len);
int	host_unlink(const char *path);
int	host_mkdir_p(const char *path, int mode);


/* Processes and signals (kharness -f: the UAPI bridge, SIGTERM/SIGINT). */
int	host_spawn(char *const argv[]);		/* pid or -errno */
void	host_kill_wait(int pid);
/*
 * Background mode (as wireguard-go without -f): forks; the parent waits
 * until the child calls host_daemon_ready() (exits 0) or dies (exits 1).
 * Call before any thread exists.
 */
void	host_daemon_start(void);
void	host_daemon_ready(void);
/* *flag becomes 1 on SIGTERM, SIGINT or SIGHUP. */
void	host_catch_signals(volatile int *flag);
/* The directory of the running executable, for its companion tools. */
int	host_exe_dir(char *buf, unsigned long len);
int	host_path_exists(const char *path);
/* A whole file, host_alloc'ed (host_free it); NULL on error. */
void	*host_read_file(const char *path, unsigned long *len);
int	host_write_file(const char *path, const void *buf, unsigned long len);

#endif
