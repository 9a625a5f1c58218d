/*-
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * ThreadSanitizer build only: FreeBSD's amd64 atomic(9) is plain loads and
 * stores with compiler barriers (x86 is strongly ordered) and lock-prefixed
 * inline assembly, none of which TSan can see, so every acquire/release
 * handoff would look like a race.  Here the same operations, with the same
 * orderings as atomic(9) documents them, are C11 atomics TSan understands.
 * FreeBSD's header is included first (its types and everything else stay),
 * then each operation is redefined as a macro over the builtins.
 */
#include_next <machine/atomic.h>

#ifndef _KH_TSAN_ATOMIC_H_
#define	_KH_TSAN_ATOMIC_H_

#undef	atomic_add_int
#define	atomic_add_int(p, v)	((void)__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_subtract_int
#define	atomic_subtract_int(p, v)	((void)__atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_set_int
#define	atomic_set_int(p, v)	((void)__atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_clear_int
#define	atomic_clear_int(p, v)	((void)__atomic_fetch_and((p), ~(v), __ATOMIC_SEQ_CST))
#undef	atomic_cmpset_int
#define	atomic_cmpset_int(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _e = (e); (int)__atomic_compare_exchange_n((p), &_e, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); })
#undef	atomic_fcmpset_int
#define	atomic_fcmpset_int(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _x = *(e); int _r = __atomic_compare_exchange_n((p), &_x, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); *(e) = _x; _r; })
#undef	atomic_add_acq_int
#define	atomic_add_acq_int(p, v)	((void)__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_subtract_acq_int
#define	atomic_subtract_acq_int(p, v)	((void)__atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_set_acq_int
#define	atomic_set_acq_int(p, v)	((void)__atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_clear_acq_int
#define	atomic_clear_acq_int(p, v)	((void)__atomic_fetch_and((p), ~(v), __ATOMIC_SEQ_CST))
#undef	atomic_cmpset_acq_int
#define	atomic_cmpset_acq_int(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _e = (e); (int)__atomic_compare_exchange_n((p), &_e, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); })
#undef	atomic_fcmpset_acq_int
#define	atomic_fcmpset_acq_int(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _x = *(e); int _r = __atomic_compare_exchange_n((p), &_x, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); *(e) = _x; _r; })
#undef	atomic_add_rel_int
#define	atomic_add_rel_int(p, v)	((void)__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_subtract_rel_int
#define	atomic_subtract_rel_int(p, v)	((void)__atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_set_rel_int
#define	atomic_set_rel_int(p, v)	((void)__atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_clear_rel_int
#define	atomic_clear_rel_int(p, v)	((void)__atomic_fetch_and((p), ~(v), __ATOMIC_SEQ_CST))
#undef	atomic_cmpset_rel_int
#define	atomic_cmpset_rel_int(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _e = (e); (int)__atomic_compare_exchange_n((p), &_e, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); })
#undef	atomic_fcmpset_rel_int
#define	atomic_fcmpset_rel_int(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _x = *(e); int _r = __atomic_compare_exchange_n((p), &_x, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); *(e) = _x; _r; })
#undef	atomic_fetchadd_int
#define	atomic_fetchadd_int(p, v)	__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#undef	atomic_swap_int
#define	atomic_swap_int(p, v)	__atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)
#undef	atomic_readandclear_int
#define	atomic_readandclear_int(p)	__atomic_exchange_n((p), 0, __ATOMIC_SEQ_CST)
#undef	atomic_testandset_int
#define	atomic_testandset_int(p, v)	((__atomic_fetch_or((p), (__typeof(*(p)))1 << ((v) & (sizeof(*(p)) * 8 - 1)), __ATOMIC_SEQ_CST) >> ((v) & (sizeof(*(p)) * 8 - 1))) & 1)
#undef	atomic_testandclear_int
#define	atomic_testandclear_int(p, v)	((__atomic_fetch_and((p), ~((__typeof(*(p)))1 << ((v) & (sizeof(*(p)) * 8 - 1))), __ATOMIC_SEQ_CST) >> ((v) & (sizeof(*(p)) * 8 - 1))) & 1)
#undef	atomic_load_acq_int
#define	atomic_load_acq_int(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
#undef	atomic_store_rel_int
#define	atomic_store_rel_int(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
#undef	atomic_load_int
#define	atomic_load_int(p)	__atomic_load_n((p), __ATOMIC_RELAXED)
#undef	atomic_store_int
#define	atomic_store_int(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)
#undef	atomic_add_long
#define	atomic_add_long(p, v)	((void)__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_subtract_long
#define	atomic_subtract_long(p, v)	((void)__atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_set_long
#define	atomic_set_long(p, v)	((void)__atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_clear_long
#define	atomic_clear_long(p, v)	((void)__atomic_fetch_and((p), ~(v), __ATOMIC_SEQ_CST))
#undef	atomic_cmpset_long
#define	atomic_cmpset_long(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _e = (e); (int)__atomic_compare_exchange_n((p), &_e, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); })
#undef	atomic_fcmpset_long
#define	atomic_fcmpset_long(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _x = *(e); int _r = __atomic_compare_exchange_n((p), &_x, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); *(e) = _x; _r; })
#undef	atomic_add_acq_long
#define	atomic_add_acq_long(p, v)	((void)__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_subtract_acq_long
#define	atomic_subtract_acq_long(p, v)	((void)__atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_set_acq_long
#define	atomic_set_acq_long(p, v)	((void)__atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_clear_acq_long
#define	atomic_clear_acq_long(p, v)	((void)__atomic_fetch_and((p), ~(v), __ATOMIC_SEQ_CST))
#undef	atomic_cmpset_acq_long
#define	atomic_cmpset_acq_long(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _e = (e); (int)__atomic_compare_exchange_n((p), &_e, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); })
#undef	atomic_fcmpset_acq_long
#define	atomic_fcmpset_acq_long(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _x = *(e); int _r = __atomic_compare_exchange_n((p), &_x, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); *(e) = _x; _r; })
#undef	atomic_add_rel_long
#define	atomic_add_rel_long(p, v)	((void)__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_subtract_rel_long
#define	atomic_subtract_rel_long(p, v)	((void)__atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_set_rel_long
#define	atomic_set_rel_long(p, v)	((void)__atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_clear_rel_long
#define	atomic_clear_rel_long(p, v)	((void)__atomic_fetch_and((p), ~(v), __ATOMIC_SEQ_CST))
#undef	atomic_cmpset_rel_long
#define	atomic_cmpset_rel_long(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _e = (e); (int)__atomic_compare_exchange_n((p), &_e, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); })
#undef	atomic_fcmpset_rel_long
#define	atomic_fcmpset_rel_long(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _x = *(e); int _r = __atomic_compare_exchange_n((p), &_x, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); *(e) = _x; _r; })
#undef	atomic_fetchadd_long
#define	atomic_fetchadd_long(p, v)	__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#undef	atomic_swap_long
#define	atomic_swap_long(p, v)	__atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)
#undef	atomic_readandclear_long
#define	atomic_readandclear_long(p)	__atomic_exchange_n((p), 0, __ATOMIC_SEQ_CST)
#undef	atomic_testandset_long
#define	atomic_testandset_long(p, v)	((__atomic_fetch_or((p), (__typeof(*(p)))1 << ((v) & (sizeof(*(p)) * 8 - 1)), __ATOMIC_SEQ_CST) >> ((v) & (sizeof(*(p)) * 8 - 1))) & 1)
#undef	atomic_testandclear_long
#define	atomic_testandclear_long(p, v)	((__atomic_fetch_and((p), ~((__typeof(*(p)))1 << ((v) & (sizeof(*(p)) * 8 - 1))), __ATOMIC_SEQ_CST) >> ((v) & (sizeof(*(p)) * 8 - 1))) & 1)
#undef	atomic_load_acq_long
#define	atomic_load_acq_long(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
#undef	atomic_store_rel_long
#define	atomic_store_rel_long(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
#undef	atomic_load_long
#define	atomic_load_long(p)	__atomic_load_n((p), __ATOMIC_RELAXED)
#undef	atomic_store_long
#define	atomic_store_long(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)
#undef	atomic_add_ptr
#define	atomic_add_ptr(p, v)	((void)__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_subtract_ptr
#define	atomic_subtract_ptr(p, v)	((void)__atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_set_ptr
#define	atomic_set_ptr(p, v)	((void)__atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_clear_ptr
#define	atomic_clear_ptr(p, v)	((void)__atomic_fetch_and((p), ~(v), __ATOMIC_SEQ_CST))
#undef	atomic_cmpset_ptr
#define	atomic_cmpset_ptr(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _e = (e); (int)__atomic_compare_exchange_n((p), &_e, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); })
#undef	atomic_fcmpset_ptr
#define	atomic_fcmpset_ptr(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _x = *(e); int _r = __atomic_compare_exchange_n((p), &_x, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); *(e) = _x; _r; })
#undef	atomic_add_acq_ptr
#define	atomic_add_acq_ptr(p, v)	((void)__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_subtract_acq_ptr
#define	atomic_subtract_acq_ptr(p, v)	((void)__atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_set_acq_ptr
#define	atomic_set_acq_ptr(p, v)	((void)__atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_clear_acq_ptr
#define	atomic_clear_acq_ptr(p, v)	((void)__atomic_fetch_and((p), ~(v), __ATOMIC_SEQ_CST))
#undef	atomic_cmpset_acq_ptr
#define	atomic_cmpset_acq_ptr(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _e = (e); (int)__atomic_compare_exchange_n((p), &_e, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); })
#undef	atomic_fcmpset_acq_ptr
#define	atomic_fcmpset_acq_ptr(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _x = *(e); int _r = __atomic_compare_exchange_n((p), &_x, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); *(e) = _x; _r; })
#undef	atomic_add_rel_ptr
#define	atomic_add_rel_ptr(p, v)	((void)__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_subtract_rel_ptr
#define	atomic_subtract_rel_ptr(p, v)	((void)__atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_set_rel_ptr
#define	atomic_set_rel_ptr(p, v)	((void)__atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_clear_rel_ptr
#define	atomic_clear_rel_ptr(p, v)	((void)__atomic_fetch_and((p), ~(v), __ATOMIC_SEQ_CST))
#undef	atomic_cmpset_rel_ptr
#define	atomic_cmpset_rel_ptr(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _e = (e); (int)__atomic_compare_exchange_n((p), &_e, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); })
#undef	atomic_fcmpset_rel_ptr
#define	atomic_fcmpset_rel_ptr(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _x = *(e); int _r = __atomic_compare_exchange_n((p), &_x, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); *(e) = _x; _r; })
#undef	atomic_fetchadd_ptr
#define	atomic_fetchadd_ptr(p, v)	__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#undef	atomic_swap_ptr
#define	atomic_swap_ptr(p, v)	__atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)
#undef	atomic_readandclear_ptr
#define	atomic_readandclear_ptr(p)	__atomic_exchange_n((p), 0, __ATOMIC_SEQ_CST)
#undef	atomic_testandset_ptr
#define	atomic_testandset_ptr(p, v)	((__atomic_fetch_or((p), (__typeof(*(p)))1 << ((v) & (sizeof(*(p)) * 8 - 1)), __ATOMIC_SEQ_CST) >> ((v) & (sizeof(*(p)) * 8 - 1))) & 1)
#undef	atomic_testandclear_ptr
#define	atomic_testandclear_ptr(p, v)	((__atomic_fetch_and((p), ~((__typeof(*(p)))1 << ((v) & (sizeof(*(p)) * 8 - 1))), __ATOMIC_SEQ_CST) >> ((v) & (sizeof(*(p)) * 8 - 1))) & 1)
#undef	atomic_load_acq_ptr
#define	atomic_load_acq_ptr(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
#undef	atomic_store_rel_ptr
#define	atomic_store_rel_ptr(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
#undef	atomic_load_ptr
#define	atomic_load_ptr(p)	__atomic_load_n((p), __ATOMIC_RELAXED)
#undef	atomic_store_ptr
#define	atomic_store_ptr(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)
#undef	atomic_add_32
#define	atomic_add_32(p, v)	((void)__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_subtract_32
#define	atomic_subtract_32(p, v)	((void)__atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_set_32
#define	atomic_set_32(p, v)	((void)__atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_clear_32
#define	atomic_clear_32(p, v)	((void)__atomic_fetch_and((p), ~(v), __ATOMIC_SEQ_CST))
#undef	atomic_cmpset_32
#define	atomic_cmpset_32(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _e = (e); (int)__atomic_compare_exchange_n((p), &_e, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); })
#undef	atomic_fcmpset_32
#define	atomic_fcmpset_32(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _x = *(e); int _r = __atomic_compare_exchange_n((p), &_x, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); *(e) = _x; _r; })
#undef	atomic_add_acq_32
#define	atomic_add_acq_32(p, v)	((void)__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_subtract_acq_32
#define	atomic_subtract_acq_32(p, v)	((void)__atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_set_acq_32
#define	atomic_set_acq_32(p, v)	((void)__atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_clear_acq_32
#define	atomic_clear_acq_32(p, v)	((void)__atomic_fetch_and((p), ~(v), __ATOMIC_SEQ_CST))
#undef	atomic_cmpset_acq_32
#define	atomic_cmpset_acq_32(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _e = (e); (int)__atomic_compare_exchange_n((p), &_e, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); })
#undef	atomic_fcmpset_acq_32
#define	atomic_fcmpset_acq_32(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _x = *(e); int _r = __atomic_compare_exchange_n((p), &_x, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); *(e) = _x; _r; })
#undef	atomic_add_rel_32
#define	atomic_add_rel_32(p, v)	((void)__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_subtract_rel_32
#define	atomic_subtract_rel_32(p, v)	((void)__atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_set_rel_32
#define	atomic_set_rel_32(p, v)	((void)__atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_clear_rel_32
#define	atomic_clear_rel_32(p, v)	((void)__atomic_fetch_and((p), ~(v), __ATOMIC_SEQ_CST))
#undef	atomic_cmpset_rel_32
#define	atomic_cmpset_rel_32(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _e = (e); (int)__atomic_compare_exchange_n((p), &_e, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); })
#undef	atomic_fcmpset_rel_32
#define	atomic_fcmpset_rel_32(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _x = *(e); int _r = __atomic_compare_exchange_n((p), &_x, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); *(e) = _x; _r; })
#undef	atomic_fetchadd_32
#define	atomic_fetchadd_32(p, v)	__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#undef	atomic_swap_32
#define	atomic_swap_32(p, v)	__atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)
#undef	atomic_readandclear_32
#define	atomic_readandclear_32(p)	__atomic_exchange_n((p), 0, __ATOMIC_SEQ_CST)
#undef	atomic_testandset_32
#define	atomic_testandset_32(p, v)	((__atomic_fetch_or((p), (__typeof(*(p)))1 << ((v) & (sizeof(*(p)) * 8 - 1)), __ATOMIC_SEQ_CST) >> ((v) & (sizeof(*(p)) * 8 - 1))) & 1)
#undef	atomic_testandclear_32
#define	atomic_testandclear_32(p, v)	((__atomic_fetch_and((p), ~((__typeof(*(p)))1 << ((v) & (sizeof(*(p)) * 8 - 1))), __ATOMIC_SEQ_CST) >> ((v) & (sizeof(*(p)) * 8 - 1))) & 1)
#undef	atomic_load_acq_32
#define	atomic_load_acq_32(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
#undef	atomic_store_rel_32
#define	atomic_store_rel_32(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
#undef	atomic_load_32
#define	atomic_load_32(p)	__atomic_load_n((p), __ATOMIC_RELAXED)
#undef	atomic_store_32
#define	atomic_store_32(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)
#undef	atomic_add_64
#define	atomic_add_64(p, v)	((void)__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_subtract_64
#define	atomic_subtract_64(p, v)	((void)__atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_set_64
#define	atomic_set_64(p, v)	((void)__atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_clear_64
#define	atomic_clear_64(p, v)	((void)__atomic_fetch_and((p), ~(v), __ATOMIC_SEQ_CST))
#undef	atomic_cmpset_64
#define	atomic_cmpset_64(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _e = (e); (int)__atomic_compare_exchange_n((p), &_e, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); })
#undef	atomic_fcmpset_64
#define	atomic_fcmpset_64(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _x = *(e); int _r = __atomic_compare_exchange_n((p), &_x, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); *(e) = _x; _r; })
#undef	atomic_add_acq_64
#define	atomic_add_acq_64(p, v)	((void)__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_subtract_acq_64
#define	atomic_subtract_acq_64(p, v)	((void)__atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_set_acq_64
#define	atomic_set_acq_64(p, v)	((void)__atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_clear_acq_64
#define	atomic_clear_acq_64(p, v)	((void)__atomic_fetch_and((p), ~(v), __ATOMIC_SEQ_CST))
#undef	atomic_cmpset_acq_64
#define	atomic_cmpset_acq_64(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _e = (e); (int)__atomic_compare_exchange_n((p), &_e, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); })
#undef	atomic_fcmpset_acq_64
#define	atomic_fcmpset_acq_64(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _x = *(e); int _r = __atomic_compare_exchange_n((p), &_x, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); *(e) = _x; _r; })
#undef	atomic_add_rel_64
#define	atomic_add_rel_64(p, v)	((void)__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_subtract_rel_64
#define	atomic_subtract_rel_64(p, v)	((void)__atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_set_rel_64
#define	atomic_set_rel_64(p, v)	((void)__atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_clear_rel_64
#define	atomic_clear_rel_64(p, v)	((void)__atomic_fetch_and((p), ~(v), __ATOMIC_SEQ_CST))
#undef	atomic_cmpset_rel_64
#define	atomic_cmpset_rel_64(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _e = (e); (int)__atomic_compare_exchange_n((p), &_e, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); })
#undef	atomic_fcmpset_rel_64
#define	atomic_fcmpset_rel_64(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _x = *(e); int _r = __atomic_compare_exchange_n((p), &_x, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); *(e) = _x; _r; })
#undef	atomic_fetchadd_64
#define	atomic_fetchadd_64(p, v)	__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#undef	atomic_swap_64
#define	atomic_swap_64(p, v)	__atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)
#undef	atomic_readandclear_64
#define	atomic_readandclear_64(p)	__atomic_exchange_n((p), 0, __ATOMIC_SEQ_CST)
#undef	atomic_testandset_64
#define	atomic_testandset_64(p, v)	((__atomic_fetch_or((p), (__typeof(*(p)))1 << ((v) & (sizeof(*(p)) * 8 - 1)), __ATOMIC_SEQ_CST) >> ((v) & (sizeof(*(p)) * 8 - 1))) & 1)
#undef	atomic_testandclear_64
#define	atomic_testandclear_64(p, v)	((__atomic_fetch_and((p), ~((__typeof(*(p)))1 << ((v) & (sizeof(*(p)) * 8 - 1))), __ATOMIC_SEQ_CST) >> ((v) & (sizeof(*(p)) * 8 - 1))) & 1)
#undef	atomic_load_acq_64
#define	atomic_load_acq_64(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
#undef	atomic_store_rel_64
#define	atomic_store_rel_64(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
#undef	atomic_load_64
#define	atomic_load_64(p)	__atomic_load_n((p), __ATOMIC_RELAXED)
#undef	atomic_store_64
#define	atomic_store_64(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)
#undef	atomic_add_char
#define	atomic_add_char(p, v)	((void)__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_subtract_char
#define	atomic_subtract_char(p, v)	((void)__atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_set_char
#define	atomic_set_char(p, v)	((void)__atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_clear_char
#define	atomic_clear_char(p, v)	((void)__atomic_fetch_and((p), ~(v), __ATOMIC_SEQ_CST))
#undef	atomic_cmpset_char
#define	atomic_cmpset_char(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _e = (e); (int)__atomic_compare_exchange_n((p), &_e, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); })
#undef	atomic_fcmpset_char
#define	atomic_fcmpset_char(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _x = *(e); int _r = __atomic_compare_exchange_n((p), &_x, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); *(e) = _x; _r; })
#undef	atomic_add_acq_char
#define	atomic_add_acq_char(p, v)	((void)__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_subtract_acq_char
#define	atomic_subtract_acq_char(p, v)	((void)__atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_set_acq_char
#define	atomic_set_acq_char(p, v)	((void)__atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_clear_acq_char
#define	atomic_clear_acq_char(p, v)	((void)__atomic_fetch_and((p), ~(v), __ATOMIC_SEQ_CST))
#undef	atomic_cmpset_acq_char
#define	atomic_cmpset_acq_char(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _e = (e); (int)__atomic_compare_exchange_n((p), &_e, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); })
#undef	atomic_fcmpset_acq_char
#define	atomic_fcmpset_acq_char(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _x = *(e); int _r = __atomic_compare_exchange_n((p), &_x, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); *(e) = _x; _r; })
#undef	atomic_add_rel_char
#define	atomic_add_rel_char(p, v)	((void)__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_subtract_rel_char
#define	atomic_subtract_rel_char(p, v)	((void)__atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_set_rel_char
#define	atomic_set_rel_char(p, v)	((void)__atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_clear_rel_char
#define	atomic_clear_rel_char(p, v)	((void)__atomic_fetch_and((p), ~(v), __ATOMIC_SEQ_CST))
#undef	atomic_cmpset_rel_char
#define	atomic_cmpset_rel_char(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _e = (e); (int)__atomic_compare_exchange_n((p), &_e, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); })
#undef	atomic_fcmpset_rel_char
#define	atomic_fcmpset_rel_char(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _x = *(e); int _r = __atomic_compare_exchange_n((p), &_x, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); *(e) = _x; _r; })
#undef	atomic_fetchadd_char
#define	atomic_fetchadd_char(p, v)	__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#undef	atomic_swap_char
#define	atomic_swap_char(p, v)	__atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)
#undef	atomic_readandclear_char
#define	atomic_readandclear_char(p)	__atomic_exchange_n((p), 0, __ATOMIC_SEQ_CST)
#undef	atomic_testandset_char
#define	atomic_testandset_char(p, v)	((__atomic_fetch_or((p), (__typeof(*(p)))1 << ((v) & (sizeof(*(p)) * 8 - 1)), __ATOMIC_SEQ_CST) >> ((v) & (sizeof(*(p)) * 8 - 1))) & 1)
#undef	atomic_testandclear_char
#define	atomic_testandclear_char(p, v)	((__atomic_fetch_and((p), ~((__typeof(*(p)))1 << ((v) & (sizeof(*(p)) * 8 - 1))), __ATOMIC_SEQ_CST) >> ((v) & (sizeof(*(p)) * 8 - 1))) & 1)
#undef	atomic_load_acq_char
#define	atomic_load_acq_char(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
#undef	atomic_store_rel_char
#define	atomic_store_rel_char(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
#undef	atomic_load_char
#define	atomic_load_char(p)	__atomic_load_n((p), __ATOMIC_RELAXED)
#undef	atomic_store_char
#define	atomic_store_char(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)
#undef	atomic_add_short
#define	atomic_add_short(p, v)	((void)__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_subtract_short
#define	atomic_subtract_short(p, v)	((void)__atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_set_short
#define	atomic_set_short(p, v)	((void)__atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_clear_short
#define	atomic_clear_short(p, v)	((void)__atomic_fetch_and((p), ~(v), __ATOMIC_SEQ_CST))
#undef	atomic_cmpset_short
#define	atomic_cmpset_short(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _e = (e); (int)__atomic_compare_exchange_n((p), &_e, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); })
#undef	atomic_fcmpset_short
#define	atomic_fcmpset_short(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _x = *(e); int _r = __atomic_compare_exchange_n((p), &_x, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); *(e) = _x; _r; })
#undef	atomic_add_acq_short
#define	atomic_add_acq_short(p, v)	((void)__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_subtract_acq_short
#define	atomic_subtract_acq_short(p, v)	((void)__atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_set_acq_short
#define	atomic_set_acq_short(p, v)	((void)__atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_clear_acq_short
#define	atomic_clear_acq_short(p, v)	((void)__atomic_fetch_and((p), ~(v), __ATOMIC_SEQ_CST))
#undef	atomic_cmpset_acq_short
#define	atomic_cmpset_acq_short(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _e = (e); (int)__atomic_compare_exchange_n((p), &_e, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); })
#undef	atomic_fcmpset_acq_short
#define	atomic_fcmpset_acq_short(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _x = *(e); int _r = __atomic_compare_exchange_n((p), &_x, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); *(e) = _x; _r; })
#undef	atomic_add_rel_short
#define	atomic_add_rel_short(p, v)	((void)__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_subtract_rel_short
#define	atomic_subtract_rel_short(p, v)	((void)__atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_set_rel_short
#define	atomic_set_rel_short(p, v)	((void)__atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_clear_rel_short
#define	atomic_clear_rel_short(p, v)	((void)__atomic_fetch_and((p), ~(v), __ATOMIC_SEQ_CST))
#undef	atomic_cmpset_rel_short
#define	atomic_cmpset_rel_short(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _e = (e); (int)__atomic_compare_exchange_n((p), &_e, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); })
#undef	atomic_fcmpset_rel_short
#define	atomic_fcmpset_rel_short(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _x = *(e); int _r = __atomic_compare_exchange_n((p), &_x, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); *(e) = _x; _r; })
#undef	atomic_fetchadd_short
#define	atomic_fetchadd_short(p, v)	__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#undef	atomic_swap_short
#define	atomic_swap_short(p, v)	__atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)
#undef	atomic_readandclear_short
#define	atomic_readandclear_short(p)	__atomic_exchange_n((p), 0, __ATOMIC_SEQ_CST)
#undef	atomic_testandset_short
#define	atomic_testandset_short(p, v)	((__atomic_fetch_or((p), (__typeof(*(p)))1 << ((v) & (sizeof(*(p)) * 8 - 1)), __ATOMIC_SEQ_CST) >> ((v) & (sizeof(*(p)) * 8 - 1))) & 1)
#undef	atomic_testandclear_short
#define	atomic_testandclear_short(p, v)	((__atomic_fetch_and((p), ~((__typeof(*(p)))1 << ((v) & (sizeof(*(p)) * 8 - 1))), __ATOMIC_SEQ_CST) >> ((v) & (sizeof(*(p)) * 8 - 1))) & 1)
#undef	atomic_load_acq_short
#define	atomic_load_acq_short(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
#undef	atomic_store_rel_short
#define	atomic_store_rel_short(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
#undef	atomic_load_short
#define	atomic_load_short(p)	__atomic_load_n((p), __ATOMIC_RELAXED)
#undef	atomic_store_short
#define	atomic_store_short(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)
#undef	atomic_add_8
#define	atomic_add_8(p, v)	((void)__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_subtract_8
#define	atomic_subtract_8(p, v)	((void)__atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_set_8
#define	atomic_set_8(p, v)	((void)__atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_clear_8
#define	atomic_clear_8(p, v)	((void)__atomic_fetch_and((p), ~(v), __ATOMIC_SEQ_CST))
#undef	atomic_cmpset_8
#define	atomic_cmpset_8(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _e = (e); (int)__atomic_compare_exchange_n((p), &_e, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); })
#undef	atomic_fcmpset_8
#define	atomic_fcmpset_8(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _x = *(e); int _r = __atomic_compare_exchange_n((p), &_x, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); *(e) = _x; _r; })
#undef	atomic_add_acq_8
#define	atomic_add_acq_8(p, v)	((void)__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_subtract_acq_8
#define	atomic_subtract_acq_8(p, v)	((void)__atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_set_acq_8
#define	atomic_set_acq_8(p, v)	((void)__atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_clear_acq_8
#define	atomic_clear_acq_8(p, v)	((void)__atomic_fetch_and((p), ~(v), __ATOMIC_SEQ_CST))
#undef	atomic_cmpset_acq_8
#define	atomic_cmpset_acq_8(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _e = (e); (int)__atomic_compare_exchange_n((p), &_e, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); })
#undef	atomic_fcmpset_acq_8
#define	atomic_fcmpset_acq_8(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _x = *(e); int _r = __atomic_compare_exchange_n((p), &_x, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); *(e) = _x; _r; })
#undef	atomic_add_rel_8
#define	atomic_add_rel_8(p, v)	((void)__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_subtract_rel_8
#define	atomic_subtract_rel_8(p, v)	((void)__atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_set_rel_8
#define	atomic_set_rel_8(p, v)	((void)__atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_clear_rel_8
#define	atomic_clear_rel_8(p, v)	((void)__atomic_fetch_and((p), ~(v), __ATOMIC_SEQ_CST))
#undef	atomic_cmpset_rel_8
#define	atomic_cmpset_rel_8(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _e = (e); (int)__atomic_compare_exchange_n((p), &_e, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); })
#undef	atomic_fcmpset_rel_8
#define	atomic_fcmpset_rel_8(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _x = *(e); int _r = __atomic_compare_exchange_n((p), &_x, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); *(e) = _x; _r; })
#undef	atomic_fetchadd_8
#define	atomic_fetchadd_8(p, v)	__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#undef	atomic_swap_8
#define	atomic_swap_8(p, v)	__atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)
#undef	atomic_readandclear_8
#define	atomic_readandclear_8(p)	__atomic_exchange_n((p), 0, __ATOMIC_SEQ_CST)
#undef	atomic_testandset_8
#define	atomic_testandset_8(p, v)	((__atomic_fetch_or((p), (__typeof(*(p)))1 << ((v) & (sizeof(*(p)) * 8 - 1)), __ATOMIC_SEQ_CST) >> ((v) & (sizeof(*(p)) * 8 - 1))) & 1)
#undef	atomic_testandclear_8
#define	atomic_testandclear_8(p, v)	((__atomic_fetch_and((p), ~((__typeof(*(p)))1 << ((v) & (sizeof(*(p)) * 8 - 1))), __ATOMIC_SEQ_CST) >> ((v) & (sizeof(*(p)) * 8 - 1))) & 1)
#undef	atomic_load_acq_8
#define	atomic_load_acq_8(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
#undef	atomic_store_rel_8
#define	atomic_store_rel_8(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
#undef	atomic_load_8
#define	atomic_load_8(p)	__atomic_load_n((p), __ATOMIC_RELAXED)
#undef	atomic_store_8
#define	atomic_store_8(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)
#undef	atomic_add_16
#define	atomic_add_16(p, v)	((void)__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_subtract_16
#define	atomic_subtract_16(p, v)	((void)__atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_set_16
#define	atomic_set_16(p, v)	((void)__atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_clear_16
#define	atomic_clear_16(p, v)	((void)__atomic_fetch_and((p), ~(v), __ATOMIC_SEQ_CST))
#undef	atomic_cmpset_16
#define	atomic_cmpset_16(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _e = (e); (int)__atomic_compare_exchange_n((p), &_e, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); })
#undef	atomic_fcmpset_16
#define	atomic_fcmpset_16(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _x = *(e); int _r = __atomic_compare_exchange_n((p), &_x, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); *(e) = _x; _r; })
#undef	atomic_add_acq_16
#define	atomic_add_acq_16(p, v)	((void)__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_subtract_acq_16
#define	atomic_subtract_acq_16(p, v)	((void)__atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_set_acq_16
#define	atomic_set_acq_16(p, v)	((void)__atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_clear_acq_16
#define	atomic_clear_acq_16(p, v)	((void)__atomic_fetch_and((p), ~(v), __ATOMIC_SEQ_CST))
#undef	atomic_cmpset_acq_16
#define	atomic_cmpset_acq_16(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _e = (e); (int)__atomic_compare_exchange_n((p), &_e, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); })
#undef	atomic_fcmpset_acq_16
#define	atomic_fcmpset_acq_16(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _x = *(e); int _r = __atomic_compare_exchange_n((p), &_x, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); *(e) = _x; _r; })
#undef	atomic_add_rel_16
#define	atomic_add_rel_16(p, v)	((void)__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_subtract_rel_16
#define	atomic_subtract_rel_16(p, v)	((void)__atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_set_rel_16
#define	atomic_set_rel_16(p, v)	((void)__atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST))
#undef	atomic_clear_rel_16
#define	atomic_clear_rel_16(p, v)	((void)__atomic_fetch_and((p), ~(v), __ATOMIC_SEQ_CST))
#undef	atomic_cmpset_rel_16
#define	atomic_cmpset_rel_16(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _e = (e); (int)__atomic_compare_exchange_n((p), &_e, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); })
#undef	atomic_fcmpset_rel_16
#define	atomic_fcmpset_rel_16(p, e, s)	__extension__ ({ __typeof(((void)0, *(p))) _x = *(e); int _r = __atomic_compare_exchange_n((p), &_x, (s), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); *(e) = _x; _r; })
#undef	atomic_fetchadd_16
#define	atomic_fetchadd_16(p, v)	__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#undef	atomic_swap_16
#define	atomic_swap_16(p, v)	__atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)
#undef	atomic_readandclear_16
#define	atomic_readandclear_16(p)	__atomic_exchange_n((p), 0, __ATOMIC_SEQ_CST)
#undef	atomic_testandset_16
#define	atomic_testandset_16(p, v)	((__atomic_fetch_or((p), (__typeof(*(p)))1 << ((v) & (sizeof(*(p)) * 8 - 1)), __ATOMIC_SEQ_CST) >> ((v) & (sizeof(*(p)) * 8 - 1))) & 1)
#undef	atomic_testandclear_16
#define	atomic_testandclear_16(p, v)	((__atomic_fetch_and((p), ~((__typeof(*(p)))1 << ((v) & (sizeof(*(p)) * 8 - 1))), __ATOMIC_SEQ_CST) >> ((v) & (sizeof(*(p)) * 8 - 1))) & 1)
#undef	atomic_load_acq_16
#define	atomic_load_acq_16(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
#undef	atomic_store_rel_16
#define	atomic_store_rel_16(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
#undef	atomic_load_16
#define	atomic_load_16(p)	__atomic_load_n((p), __ATOMIC_RELAXED)
#undef	atomic_store_16
#define	atomic_store_16(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)
#undef	atomic_load_consume_ptr
#define	atomic_load_consume_ptr(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
/* TSan models no fences (gcc refuses them): compiler barriers, as x86's. */
#undef	atomic_thread_fence_acq
#define	atomic_thread_fence_acq()	__asm __volatile("" : : : "memory")
#undef	atomic_thread_fence_rel
#define	atomic_thread_fence_rel()	__asm __volatile("" : : : "memory")
#undef	atomic_thread_fence_acq_rel
#define	atomic_thread_fence_acq_rel()	__asm __volatile("" : : : "memory")
#undef	atomic_thread_fence_seq_cst
#define	atomic_thread_fence_seq_cst()	__asm __volatile("" : : : "memory")

#endif
