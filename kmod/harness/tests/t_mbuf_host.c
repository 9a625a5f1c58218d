/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * kharness: the Linux side of the standalone mbuf test, compiled against
 * Linux's headers, without the FreeBSD flags.  t_host_child() is always
 * here; the host_* functions kern_mbuf.c and the stubs call are here too
 * unless T_MBUF_CHILD_ONLY is defined, for when host/host_linux.c (the
 * model's real host layer) is linked instead.
 */

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../host/host.h"
#include "t_mbuf.h"

#ifndef T_MBUF_CHILD_ONLY
struct host_mutex {
	pthread_mutex_t	mtx;
};

struct host_thread {
	pthread_t	 tid;
	void		(*fn)(void *);
	void		*arg;
};

void
host_write(int fd, const char *buf, unsigned long len)
{
	ssize_t r;

	while (len > 0) {
		r = write(fd, buf, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		buf += r;
		len -= (unsigned long)r;
	}
}

void
host_abort(void)
{

	abort();
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

void
host_free(void *p)
{

	free(p);
}

host_mutex_t *
host_mutex_new(void)
{
	host_mutex_t *m;

	if ((m = malloc(sizeof(*m))) == NULL)
		abort();
	pthread_mutex_init(&m->mtx, NULL);
	return (m);
}

void
host_mutex_free(host_mutex_t *m)
{

	pthread_mutex_destroy(&m->mtx);
	free(m);
}

void
host_mutex_lock(host_mutex_t *m)
{

	pthread_mutex_lock(&m->mtx);
}

void
host_mutex_unlock(host_mutex_t *m)
{

	pthread_mutex_unlock(&m->mtx);
}

static void *
thread_main(void *arg)
{
	host_thread_t *t = arg;

	t->fn(t->arg);
	return (NULL);
}

host_thread_t *
host_thread_create(void (*fn)(void *), void *arg)
{
	host_thread_t *t;

	if ((t = malloc(sizeof(*t))) == NULL)
		abort();
	t->fn = fn;
	t->arg = arg;
	if (pthread_create(&t->tid, NULL, thread_main, t) != 0)
		abort();
	return (t);
}

void
host_thread_join(host_thread_t *t)
{

	pthread_join(t->tid, NULL);
	free(t);
}
#endif /* !T_MBUF_CHILD_ONLY */

int
t_host_child(void (*fn)(void), char *out, unsigned long outlen)
{
	unsigned long n;
	ssize_t r;
	pid_t pid;
	int fds[2], status;

	if (pipe(fds) != 0)
		abort();
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], 2);
		close(fds[1]);
		fn();
		/* Not caught: the parent sees a clean exit. */
		_exit(0);
	}
	close(fds[1]);
	n = 0;
	for (;;) {
		r = read(fds[0], out + n, outlen - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (unsigned long)r;
		if (n == outlen - 1) {
			char sink[512];

			/* Drains the rest so that the child never blocks. */
			while (read(fds[0], sink, sizeof(sink)) > 0)
				;
			break;
		}
	}
	out[n] = '\0';
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(status))
		return (-WTERMSIG(status));
	return (WEXITSTATUS(status));
}
