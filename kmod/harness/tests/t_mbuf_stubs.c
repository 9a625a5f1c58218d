/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * kharness: what kpi/kern_mbuf.c needs from the rest of the model, for
 * its standalone test (tests/t_mbuf.c) only.  The model's own versions
 * live in kpi/kern_thread.c (kh_panic, kh_log, panic), kpi/kern_lock.c
 * (kh_check_sleep) and kpi/kern_malloc.c (kh_fault).  Compiled in the
 * FreeBSD header world like the model.
 */

#include "kh.h"

#include <machine/stdarg.h>

#include "t_mbuf.h"

/*
 * pcpu.h makes every object refer to the linker set of per-CPU data;
 * one entry makes the linker define its bounds.
 */
static uintptr_t t_pcpu_dummy __section("set_pcpu") __used;

int	t_fault_all;		/* every M_NOWAIT allocation fails */
long	t_fault_nth;		/* only the nth one from now fails (1 = next) */
long	t_fault_asked;
long	t_sleep_checks;
const char *t_fault_lastsite;

static void
t_out(const char *prefix, const char *fmt, va_list ap)
{
	char buf[1024];
	size_t n;
	int r;

	n = strlen(prefix);
	memcpy(buf, prefix, n);
	r = host_vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	if (r < 0)
		r = 0;
	n = MIN(n + (size_t)r, sizeof(buf) - 2);
	buf[n++] = '\n';
	host_write(2, buf, n);
}

void
kh_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	t_out("kharness: ", fmt, ap);
	va_end(ap);
}

void
kh_panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	t_out("kharness: PANIC: ", fmt, ap);
	va_end(ap);
	host_abort();
}

void
panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	t_out("kharness: PANIC: panic: ", fmt, ap);
	va_end(ap);
	host_abort();
}

bool
kh_fault(const char *site)
{

	t_fault_asked++;
	t_fault_lastsite = site;
	if (t_fault_all)
		return (true);
	if (t_fault_nth > 0 && --t_fault_nth == 0)
		return (true);
	return (false);
}

void
kh_check_sleep(const char *what __unused)
{

	t_sleep_checks++;
}
