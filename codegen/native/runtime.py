"""The native parallel-for runtime, as LLVM IR text compiled once per process by ``codegen.jit``.

Input: the machine name (for the futex syscall number and the spin-wait hint). Output: IR that
defines

    void graphnn_parallel_for(void (*fn)(void **args, i64 start, i64 end), void **args,
                              i64 extent, i64 grain, i64 threads)
    void graphnn_parallel_reset(void)     (in a forked child: forget the parent's threads)

Design: a pool of detached pthreads (created on first need, at most ``MAX_WORKERS``) sleeping on
a futex. One caller at a time owns the pool (``lock``, taken with a compare-and-swap); a second
concurrent caller does not wait but runs its whole range on its own thread, so concurrent calls
from Python threads are correct and never deadlock. The owner publishes the job (fn, args,
extent, chunk size), opens ``gate`` for this generation and bumps ``state`` = generation << 10 |
active workers, one word so a woken worker reads the generation and whether it may help
atomically. A helping worker first joins through the gate (a compare-and-swap that fails once
the generation changed or the gate closed), and only then reads the job. Everyone, the caller
included, claims chunks of iterations with an atomic add on ``next`` (dynamic scheduling: a
descheduled thread delays only its own chunk). When the range is exhausted the caller closes the
gate, which tells it how many workers joined, and waits until that many have incremented
``left``; workers that wake late find the gate closed and never delay the caller. Waiting spins
``SPIN`` rounds with a pause hint (back-to-back calls stay in user space), then sleeps in
futex(FUTEX_WAIT_PRIVATE); sleeper counts let the waker skip the wake syscall when nobody sleeps
(the Dekker pattern, seq_cst on both sides). Participants are min(threads, ceil(extent /
grain)): below two, the range runs inline with no synchronization at all, so small loops never
pay for threads.
"""

from __future__ import annotations

import ctypes
import functools
import numbers
import os
import platform
import sys

# The pool's numbers, each written into the IR below:
MAX_WORKERS = 63                # worker threads at most: their count fits WORKER_BITS
MAX_THREADS = MAX_WORKERS + 1   # participants of one parallel loop at most: its caller + workers
# pause-hinted polls before a waiter sleeps in the kernel: 30-100 us (a pause is 64-140
# cycles), longer than the serial stretches between one kernel's parallel loops. At 300 polls
# (about 5 us) the workers of an MLP step (batch 64) fell asleep between its loops and paid a
# futex wake-up each time: the step took 170-300 us from run to run on 2 cores, as long as on
# 1 (291-299 us); at 3000 it took 160-183 us in every run (at 30000 160-172).
SPIN = 3000
WORKER_BITS = 10                # state = generation << WORKER_BITS | active workers (< 1024)
# the generation wraps within state's 32 bits less the worker bits and the sign bit
GENERATION_MASK = (1 << (31 - WORKER_BITS)) - 1
GATE_CLOSED = 1 << 31           # gate = generation << 32 | GATE_CLOSED | workers joined
JOINED_MASK = GATE_CLOSED - 1   # the joined count below the closed bit
CHUNKS_PER_PARTICIPANT = 4      # a slow participant delays at most about a quarter of its share
WAKE_ALL = (1 << 31) - 1        # futex wake count: every waiter (INT_MAX)
# Linux's futex(2): the private (one process) wait and wake operations, and the syscall
# number per machine (a machine not listed gets the serial runtime)
FUTEX_WAIT_PRIVATE = 0 | 128    # FUTEX_WAIT | FUTEX_PRIVATE_FLAG
FUTEX_WAKE_PRIVATE = 1 | 128    # FUTEX_WAKE | FUTEX_PRIVATE_FLAG
_FUTEX_SYSCALL = {"x86_64": 202, "amd64": 202, "aarch64": 98, "arm64": 98}
_PAUSE = {"x86_64": "call void @llvm.x86.sse2.pause()", "amd64": "call void @llvm.x86.sse2.pause()",
          "aarch64": 'call void asm sideeffect "yield", ""()',
          "arm64": 'call void asm sideeffect "yield", ""()'}
_PAUSE_DECLARATION = "declare void @llvm.x86.sse2.pause()"


def available_cores() -> int:
    """How many cores this process may run on: its CPU affinity (which `taskset`, cgroups'
    cpusets and container runtimes narrow), not the machine's count; at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def thread_count(threads: object) -> int:
    """A `threads` option as the count native code gets: None is `available_cores()`; an int
    of at least 1 (bool excepted) is clamped to MAX_THREADS, beyond which the runtime starts no
    thread (and a huge count would overflow the native arithmetic on it); anything else raises
    TypeError or ValueError.

    >>> thread_count(2), thread_count(1 << 64) == MAX_THREADS
    (2, True)
    """
    if threads is None:
        return min(available_cores(), MAX_THREADS)
    if isinstance(threads, bool) or not isinstance(threads, numbers.Integral):
        raise TypeError(f"threads must be a positive int or None, got {threads!r}")
    if threads < 1:
        raise ValueError(f"threads must be a positive int or None, got {threads!r}")
    return min(int(threads), MAX_THREADS)

# Without a known futex syscall the entry point runs every range inline: correct, not parallel.
_SERIAL_RUNTIME = """
define void @graphnn_parallel_for(ptr %fn, ptr %args, i64 %extent, i64 %grain, i64 %threads) {
  call void %fn(ptr %args, i64 0, i64 %extent)
  ret void
}
define void @graphnn_parallel_reset() {
  ret void
}
"""

_POOL_RUNTIME = r"""
@lock = internal global i32 0           ; 1 while a caller owns the pool
@state = internal global i32 0          ; generation << 10 | active workers (futex word)
@gate = internal global i64 0          ; generation << 32 | closed << 31 | workers joined
@left = internal global i32 0           ; joined workers that finished (futex word)
@sleepers = internal global i32 0       ; workers inside futex_wait on @state
@main_sleeping = internal global i32 0  ; the owner inside futex_wait on @left
@started = internal global i64 0        ; worker threads created so far
@job.fn = internal global ptr null
@job.args = internal global ptr null
@job.extent = internal global i64 0
@job.chunk = internal global i64 0
@job.next = internal global i64 0       ; first unclaimed iteration
@slots = internal global [{max_workers} x i64] zeroinitializer  ; worker index, per thread

declare i64 @syscall(i64, ...)
declare i32 @pthread_create(ptr, ptr, ptr, ptr)
declare i32 @pthread_detach(i64)
{pause_declaration}

define internal void @futex_wait(ptr %word, i32 %expected) {{
  %e = zext i32 %expected to i64
  %r = call i64 (i64, ...) @syscall(i64 {futex}, ptr %word, i64 {futex_wait}, i64 %e, ptr null)
  ret void
}}

define internal void @futex_wake(ptr %word, i64 %count) {{
  %r = call i64 (i64, ...) @syscall(i64 {futex}, ptr %word, i64 {futex_wake}, i64 %count)
  ret void
}}

; Return once *word != expected: spin first, then sleep (futex_wait returns at once if the
; word already changed, so a wake between the check and the sleep is never lost).
define internal void @wait_change(ptr %word, i32 %expected, ptr %sleepers) {{
entry:
  br label %check
check:
  %n = phi i32 [0, %entry], [%n1, %pause], [0, %sleep]
  %v = load atomic i32, ptr %word acquire, align 4
  %changed = icmp ne i32 %v, %expected
  br i1 %changed, label %done, label %count
count:
  %n1 = add i32 %n, 1
  %spinning = icmp ult i32 %n1, {spin}
  br i1 %spinning, label %pause, label %sleep
pause:
  {pause}
  br label %check
sleep:
  %s0 = atomicrmw add ptr %sleepers, i32 1 seq_cst
  call void @futex_wait(ptr %word, i32 %expected)
  %s1 = atomicrmw sub ptr %sleepers, i32 1 seq_cst
  br label %check
done:
  ret void
}}

; Claim chunks of the current job until its range is exhausted.
define internal void @run_chunks() {{
entry:
  %fn = load ptr, ptr @job.fn
  %args = load ptr, ptr @job.args
  %extent = load i64, ptr @job.extent
  %chunk = load i64, ptr @job.chunk
  br label %claim
claim:
  %start = atomicrmw add ptr @job.next, i64 %chunk monotonic
  %more = icmp slt i64 %start, %extent
  br i1 %more, label %run, label %done
run:
  %end0 = add i64 %start, %chunk
  %over = icmp sgt i64 %end0, %extent
  %end = select i1 %over, i64 %extent, i64 %end0
  call void %fn(ptr %args, i64 %start, i64 %end)
  br label %claim
done:
  ret void
}}

define internal ptr @worker(ptr %slot) {{
entry:
  %index64 = load i64, ptr %slot
  %index = trunc i64 %index64 to i32
  br label %wait
wait:
  %seen = phi i32 [-1, %entry], [%s, %next]
  call void @wait_change(ptr @state, i32 %seen, ptr @sleepers)
  %s = load atomic i32, ptr @state acquire, align 4
  %active = and i32 %s, {worker_mask}
  %mine = icmp ult i32 %index, %active
  br i1 %mine, label %join, label %next
join:
  %generation = lshr i32 %s, {worker_bits}
  %generation64 = zext i32 %generation to i64
  %open_gate = shl i64 %generation64, 32
  br label %try
try:
  %g = load atomic i64, ptr @gate acquire, align 8
  %top = and i64 %g, {joined_clear}            ; generation and closed bit
  %is_open = icmp eq i64 %top, %open_gate
  br i1 %is_open, label %enter, label %next
enter:
  %g1 = add i64 %g, 1
  %cx = cmpxchg ptr @gate, i64 %g, i64 %g1 acq_rel acquire
  %joined = extractvalue {{ i64, i1 }} %cx, 1
  br i1 %joined, label %work, label %try
work:
  call void @run_chunks()
  %l = atomicrmw add ptr @left, i32 1 seq_cst
  %waiting = load atomic i32, ptr @main_sleeping seq_cst, align 4
  %asleep = icmp ne i32 %waiting, 0
  br i1 %asleep, label %wake, label %next
wake:
  call void @futex_wake(ptr @left, i64 1)
  br label %next
next:
  br label %wait
}}

; Make sure `want` workers exist; returns how many do (fewer if pthread_create fails).
define internal i64 @ensure_workers(i64 %want) {{
entry:
  %tid = alloca i64
  br label %check
check:
  %n = load i64, ptr @started
  %enough = icmp sge i64 %n, %want
  br i1 %enough, label %have, label %create
create:
  %slot = getelementptr [{max_workers} x i64], ptr @slots, i64 0, i64 %n
  store i64 %n, ptr %slot
  %rc = call i32 @pthread_create(ptr %tid, ptr null, ptr @worker, ptr %slot)
  %ok = icmp eq i32 %rc, 0
  br i1 %ok, label %created, label %failed
created:
  %t = load i64, ptr %tid
  %d = call i32 @pthread_detach(i64 %t)
  %n1 = add i64 %n, 1
  store i64 %n1, ptr @started
  br label %check
failed:
  ret i64 %n
have:
  ret i64 %want
}}

define void @graphnn_parallel_for(ptr %fn, ptr %args, i64 %extent, i64 %grain, i64 %threads) {{
entry:
  %g_small = icmp slt i64 %grain, 1
  %g = select i1 %g_small, i64 1, i64 %grain
  %g1 = sub i64 %g, 1
  %e_pos = icmp sgt i64 %extent, 0
  %e = select i1 %e_pos, i64 %extent, i64 0
  %eg = add i64 %e, %g1
  %tasks = udiv i64 %eg, %g
  %fewer = icmp slt i64 %tasks, %threads
  %p0 = select i1 %fewer, i64 %tasks, i64 %threads
  %capped = icmp sgt i64 %p0, {max_participants}
  %p = select i1 %capped, i64 {max_participants}, i64 %p0
  %serial = icmp sle i64 %p, 1
  br i1 %serial, label %inline, label %try
inline:
  call void %fn(ptr %args, i64 0, i64 %extent)
  ret void
try:
  %cx = cmpxchg ptr @lock, i32 0, i32 1 acquire monotonic
  %got = extractvalue {{ i32, i1 }} %cx, 1
  br i1 %got, label %spawn, label %inline
spawn:
  %want = sub i64 %p, 1
  %workers = call i64 @ensure_workers(i64 %want)
  %none = icmp eq i64 %workers, 0
  br i1 %none, label %unlock_inline, label %publish
unlock_inline:
  store atomic i32 0, ptr @lock release, align 4
  br label %inline
publish:
  %participants = add i64 %workers, 1
  %pieces = mul i64 %participants, {chunks}
  %pm1 = sub i64 %pieces, 1
  %ep = add i64 %e, %pm1
  %c0 = udiv i64 %ep, %pieces
  %c_small = icmp slt i64 %c0, %g
  %chunk = select i1 %c_small, i64 %g, i64 %c0
  store ptr %fn, ptr @job.fn
  store ptr %args, ptr @job.args
  store i64 %e, ptr @job.extent
  store i64 %chunk, ptr @job.chunk
  store atomic i64 0, ptr @job.next monotonic, align 8
  store atomic i32 0, ptr @left monotonic, align 4
  %w32 = trunc i64 %workers to i32
  %old = load atomic i32, ptr @state monotonic, align 4
  %gen = lshr i32 %old, {worker_bits}
  %gen1 = add i32 %gen, 1
  %genm = and i32 %gen1, {generation_mask}
  %gen64 = zext i32 %genm to i64
  %gate_open = shl i64 %gen64, 32
  store atomic i64 %gate_open, ptr @gate release, align 8
  %shifted = shl i32 %genm, {worker_bits}
  %new = or i32 %shifted, %w32
  store atomic i32 %new, ptr @state seq_cst, align 4
  %sleeping = load atomic i32, ptr @sleepers seq_cst, align 4
  %any = icmp ne i32 %sleeping, 0
  br i1 %any, label %wake, label %work
wake:
  call void @futex_wake(ptr @state, i64 {wake_all})
  br label %work
work:
  call void @run_chunks()
  %closing = atomicrmw or ptr @gate, i64 {gate_closed} acq_rel   ; no worker may join any more
  %joined64 = and i64 %closing, {joined_mask}
  %joined = trunc i64 %joined64 to i32
  br label %join
join:
  %finished_count = load atomic i32, ptr @left acquire, align 4
  %finished = icmp eq i32 %finished_count, %joined
  br i1 %finished, label %release, label %wait
wait:
  call void @wait_change(ptr @left, i32 %finished_count, ptr @main_sleeping)
  br label %join
release:
  store atomic i32 0, ptr @lock release, align 4
  ret void
}}

define void @graphnn_parallel_reset() {{
  store i32 0, ptr @lock
  store i32 0, ptr @state
  store i64 0, ptr @gate
  store i32 0, ptr @left
  store i32 0, ptr @sleepers
  store i32 0, ptr @main_sleeping
  store i64 0, ptr @started
  ret void
}}
"""


def runtime_ir(machine: str | None = None) -> str:
    """IR text of the runtime for ``machine`` (default: this one, whose futex syscall is also
    probed: `futex_works`)."""
    futex = futex_syscall(machine)
    if futex is None:
        return _SERIAL_RUNTIME
    machine = (machine or platform.machine()).lower()
    pause = _PAUSE.get(machine, "")
    return _POOL_RUNTIME.format(
        futex=futex, futex_wait=FUTEX_WAIT_PRIVATE, futex_wake=FUTEX_WAKE_PRIVATE, spin=SPIN,
        max_workers=MAX_WORKERS, max_participants=MAX_THREADS, worker_bits=WORKER_BITS,
        worker_mask=(1 << WORKER_BITS) - 1, generation_mask=GENERATION_MASK,
        gate_closed=GATE_CLOSED, joined_mask=JOINED_MASK, joined_clear=-GATE_CLOSED,
        chunks=CHUNKS_PER_PARTICIPANT, wake_all=WAKE_ALL, pause=pause,
        pause_declaration=_PAUSE_DECLARATION if "x86" in pause else "")


def futex_syscall(machine: str | None = None) -> int | None:
    """The futex syscall number the pool uses on `machine` (default: this one, on Linux, where
    the number is probed too), or None for the serial runtime."""
    if machine is not None:
        return _FUTEX_SYSCALL.get(machine.lower())
    number = _FUTEX_SYSCALL.get(platform.machine().lower())
    if number is None or not sys.platform.startswith("linux") or not futex_works(number):
        return None
    return number


@functools.cache
def futex_works(number: int) -> bool:
    """The start-up probe of the futex facts: syscall `number` with FUTEX_WAKE_PRIVATE on a
    word nobody waits on wakes nobody and returns 0 (a wrong number or a kernel without futex
    returns -1)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        syscall = libc.syscall
    except (OSError, AttributeError):
        return False
    syscall.restype = ctypes.c_long
    word = ctypes.c_int32(0)
    return syscall(ctypes.c_long(number), ctypes.byref(word), ctypes.c_long(FUTEX_WAKE_PRIVATE),
                   ctypes.c_long(1)) == 0
