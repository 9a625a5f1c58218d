/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * kharness: the Linux side of the standalone mbuf test, compiled against
 * Linux's headers, without the FreeBSD flags: t_host_child(), which runs a
 * planted violation in a child.  The host_* functions are the model's own
 * host layer, host/host_linux.c, linked beside it.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../host/host.h"
#include "t_mbuf.h"


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
