/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * fpu_kern_enter/fpu_kern_leave(9), amd64, as the shim uses them: only
 * FPU_KERN_NOCTX with a NULL context, the form that saves no state of its
 * own and therefore must not be left until the vector code is done.
 *
 * Follows: sys/amd64/amd64/fpu.c.  fpu_kern_enter(td, NULL,
 * FPU_KERN_NOCTX) asserts it is not already inside such a section
 * ("recursive fpu_kern_enter while in PCB_FPUNOSAVE state"), then
 * critical_enter()s and marks the PCB (PCB_FPUNOSAVE); fpu_kern_leave
 * asserts a NULL ctx ("non-null ctx after FPU_KERN_NOCTX") and the
 * critical section (CRITICAL_ASSERT), clears the mark and critical_exit()s.
 * So between the two nothing may sleep, block on a lock, or enter another
 * section: the model's critical section already fails sleeping calls and
 * mutex/rwlock acquisitions (kern_lock.c), and here it also fails nesting,
 * a context, a leave without an enter or on another thread's behalf, and
 * a critical section entered inside and not left before fpu_kern_leave.
 * The vector registers themselves are the host's: the harness is a Linux
 * process, whose registers Linux saves.
 */
#include "kh.h"

#include <machine/fpu.h>

void
fpu_kern_enter(struct thread *td, struct fpu_kern_ctx *ctx, u_int flags)
{
	struct kh_thread *kt = kh_curthread();

	if (td != &kt->td)
		kh_panic("fpu_kern_enter: td %p is not curthread %p", td,
		    &kt->td);
	if ((flags & FPU_KERN_NOCTX) == 0)
		kh_panic("fpu_kern_enter: flags %#x: only FPU_KERN_NOCTX is "
		    "modelled (the shim saves no context)", flags);
	if (ctx != NULL)
		kh_panic("fpu_kern_enter: FPU_KERN_NOCTX with a context");
	if (kt->fpu != 0)
		kh_panic("fpu_kern_enter: recursive fpu_kern_enter while in "
		    "PCB_FPUNOSAVE state");
	/*
	 * critical_enter() as sys/sys/systm.h inlines it for the kernel: the
	 * model is compiled as a module (KLD_MODULE), where the name means
	 * critical_enter_KBI(), which nothing here calls otherwise.  No
	 * preemption to defer: the model's threads are host threads.
	 */
	kt->td.td_critnest++;
	__compiler_membar();
	/* Depth of the section's own critical section, checked at leave. */
	kt->fpu = kt->td.td_critnest;
}

int
fpu_kern_leave(struct thread *td, struct fpu_kern_ctx *ctx)
{
	struct kh_thread *kt = kh_curthread();

	if (td != &kt->td)
		kh_panic("fpu_kern_leave: td %p is not curthread %p", td,
		    &kt->td);
	if (kt->fpu == 0)
		kh_panic("fpu_kern_leave without fpu_kern_enter");
	if (ctx != NULL)
		kh_panic("fpu_kern_leave: non-null ctx after FPU_KERN_NOCTX");
	if (kt->td.td_critnest != kt->fpu)
		kh_panic("fpu_kern_leave: critical section depth %d, %d at "
		    "fpu_kern_enter (one entered or left inside the section)",
		    kt->td.td_critnest, kt->fpu);
	kt->fpu = 0;
	__compiler_membar();
	kt->td.td_critnest--;	/* critical_exit(), as above */
	return (0);
}
