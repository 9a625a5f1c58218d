/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * kharness: what the standalone mbuf test (t_mbuf.c) shares with its
 * stubs (t_mbuf_stubs.c) and its Linux side (t_mbuf_host.c).  Builtin
 * types only: both header worlds include it.
 */
#ifndef _T_MBUF_H_
#define	_T_MBUF_H_

/* The stubs' fault injection and sleep checks. */
extern int	t_fault_all;
extern long	t_fault_nth;
extern long	t_fault_asked;
extern long	t_sleep_checks;
extern const char *t_fault_lastsite;

/*
 * Runs fn in a forked child with its stderr captured into out (NUL
 * terminated).  Returns the exit status, or minus the signal that ended
 * it.
 */
int	t_host_child(void (*fn)(void), char *out, unsigned long outlen);

#endif
