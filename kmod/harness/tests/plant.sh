#!/bin/sh
# Each contract the model enforces, broken on purpose (kpi/plant.c): the
# run must stop with the model's own message for that rule.  A check that
# silently passed would let its plant finish ("not caught", exit 0).
#
# usage: sh kmod/harness/tests/plant.sh [KHARNESS]
set -u
here=$(cd "$(dirname "$0")" && pwd)
KHARNESS=${1:-${KHARNESS:-$here/../../../target/kharness/asan/kharness}}
passed=0
failed=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# plant NAME EXPECTED-TEXT
plant() {
	"$KHARNESS" plant "$1" > "$out" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ] && grep -q -e "$2" "$out"; then
		echo "ok - plant $1 caught"
		passed=$((passed + 1))
	else
		echo "not ok - plant $1 (exit $rc; expected \"$2\")"
		sed 's/^/#   /' "$out" | head -n 8
		failed=$((failed + 1))
	fi
}

plant sleep-mutex 'malloc(M_WAITOK): may sleep with non-sleepable mutex "plant a"'
plant sleep-epoch 'malloc(M_WAITOK): may sleep, in the net epoch'
plant sleep-nosleeping 'sleeping is disabled (THREAD_NO_SLEEPING)'
plant sx-under-mutex 'sx_xlock: may sleep with non-sleepable mutex'
plant drain-under-mutex 'callout_drain: may sleep with non-sleepable mutex'
plant taskqueue-drain-in-epoch 'taskqueue_drain: may sleep, in the net epoch'
plant epoch-wait-in-epoch 'epoch_wait_preempt() called in the middle of an epoch section'
plant epoch-unpaired 'not in a section entered with this tracker'
plant epoch-left-open 'returned holding locks, in an epoch section'
plant lock-order-reversal 'witness: lock order reversal: "plant b"'
plant duplicate-lock 'acquiring duplicate lock of same type "plant a"'
plant mtx-assert 'mutex "plant a" assertion'
plant unlock-not-owner 'does not hold it'
plant destroy-held 'destroying mutex "plant a" while it is held'
plant malloc-leak 'malloc type "plant" leaked memory on destroy (1 allocations'
plant free-wrong-type 'allocated as "plant", freed as "plant2"'
plant use-after-free 'heap-use-after-free'
plant mbuf-leak 'mbufs, clusters or tags leaked'
plant mbuf-double-free 'kharness: PANIC: .*free'
plant callout-freed-armed 'holding a callout that is armed'
plant task-freed-queued 'holding a task that is queued'
plant no-vnet "null pointer of type 'struct vnet'"
plant wrong-vnet 'netisr_dispatch: curvnet .* is not the VNET'
plant copyout-kernel-address 'copyout to a kernel address: EFAULT'
plant fpu-lock-inside 'mutex "plant a" taken in a critical section'
plant fpu-sleep-inside 'malloc(M_WAITOK): may sleep, in a critical section'
plant fpu-malloc-inside 'malloc("plant") in a critical section'
plant fpu-nested 'recursive fpu_kern_enter while in PCB_FPUNOSAVE state'
plant fpu-leave-unpaired 'fpu_kern_leave without fpu_kern_enter'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
