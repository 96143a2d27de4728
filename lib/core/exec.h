/*
 * How a handle runs its work: its execution context (the thread count of
 * the library's own loops and of its BLAS calls, made from the handle's
 * `threads` option) and the one parallel-for of the library.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_CORE_EXEC_H
#define MUDSC_CORE_EXEC_H

#include <stddef.h>
#include <stdint.h>

#include "mudsc/common.h"

/* Most threads one context uses, however many are asked for. */
#define MUDSC__MAX_THREADS 256

/*
 * A handle's execution context, made from its options at the start of each
 * call, so that 0 follows the process-wide setting of that moment.
 */
struct mudsc__exec {
	int32_t threads; /* threads of the library's own loops, 1..MUDSC__MAX_THREADS */
	int32_t blas;    /* with BLIS: threads of each BLAS call (1..MUDSC__MAX_THREADS), or 0
	                    for BLIS's process-wide setting; OpenBLAS's count is process-wide
	                    and this is not used */
};

/* One thread for everything (the public kernels, which have no handle). */
#define MUDSC__EXEC_SERIAL ((struct mudsc__exec){.threads = 1, .blas = 1})

/* The context of a handle whose option asks for `threads` (>= 0; 0 = the
 * process-wide count, mudsc_blas_get_threads()). */
struct mudsc__exec mudsc__exec_make(int32_t threads);

/* One task: works on item `task` only and writes only that item's output.
 * A failure returns its status with the thread's error message set. */
typedef mudsc_status (*mudsc__task_fn)(void *ctx, size_t task);

/* Below this much work (a rough count of inner-loop steps, all tasks
 * together) a loop runs on the calling thread: starting a thread costs tens
 * of microseconds. */
#define MUDSC__PARALLEL_MIN_WORK 1048576.0

/*
 * Run fn(ctx, k) for every k in [0, ntasks) on up to ex->threads threads,
 * the calling one included (on that one alone when work, the loop's rough
 * count of inner steps, is below MUDSC__PARALLEL_MIN_WORK).  Tasks are
 * claimed in increasing k; once a task
 * fails no higher one starts.  Returns MUDSC_OK, or the status and message
 * of the failing task with the lowest k, raised on the calling thread:
 * what a serial loop stopping at its first failure reports.  Tasks must not
 * call BLAS (their threads would multiply) and must not depend on each
 * other's order.  Never fails by itself: threads that cannot be started
 * leave their share to the others.
 */
mudsc_status mudsc__parallel_for(const struct mudsc__exec *ex, size_t ntasks, double work,
                                 mudsc__task_fn fn, void *ctx);

/* Seconds on the monotonic clock (for the figures the library logs). */
double mudsc__clock_seconds(void);

/* Work counted while it runs: flops of BLAS products and their seconds. */
struct mudsc__tally {
	double flops, seconds;
};

#endif /* MUDSC_CORE_EXEC_H */
