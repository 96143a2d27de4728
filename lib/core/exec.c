/*
 * Execution contexts and the parallel-for: plain pthreads started for the
 * call, tasks handed out by one atomic counter, the first failing task's
 * error carried back to the calling thread.
 *
 * SPDX-License-Identifier: MIT
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "core/core.h"

static int32_t clamp_threads(int32_t n)
{
	return n < 1 ? 1 : n > MUDSC__MAX_THREADS ? MUDSC__MAX_THREADS : n;
}

struct mudsc__exec mudsc__exec_make(int32_t threads)
{
	struct mudsc__exec ex;

	ex.threads = clamp_threads(threads > 0 ? threads : (int32_t)mudsc_blas_get_threads());
	ex.blas = threads > 0 ? ex.threads : 0;
	return ex;
}

struct parallel_run {
	mudsc__task_fn fn;
	void *ctx;
	size_t ntasks;
	atomic_size_t next;      /* the next task to claim */
	atomic_size_t first_bad; /* the lowest failed task so far, ntasks if none */
	pthread_mutex_t lock;    /* guards err */
	struct mudsc__err_saved err;
};

/* Keep the failure of `task` if it is the lowest so far. */
static void record_failure(struct parallel_run *r, size_t task)
{
	pthread_mutex_lock(&r->lock);
	if (task < atomic_load(&r->first_bad)) {
		mudsc__err_save(&r->err);
		atomic_store(&r->first_bad, task);
	}
	pthread_mutex_unlock(&r->lock);
}

/* Claim and run tasks until none is left or one below the claim failed:
 * claims only grow, so every task below a failure has been claimed and
 * runs to its end, and the lowest failure is the one a serial loop meets. */
static void drain(struct parallel_run *r)
{
	for (;;) {
		size_t k = atomic_fetch_add(&r->next, 1);
		if (k >= r->ntasks || k > atomic_load(&r->first_bad))
			return;
		if (r->fn(r->ctx, k) != MUDSC_OK)
			record_failure(r, k);
	}
}

static void *worker(void *arg)
{
	drain(arg);
	return NULL;
}

static mudsc_status serial_for(size_t ntasks, mudsc__task_fn fn, void *ctx)
{
	for (size_t k = 0; k < ntasks; k++) {
		mudsc_status st = fn(ctx, k);
		if (st != MUDSC_OK)
			return st;
	}
	return MUDSC_OK;
}

mudsc_status mudsc__parallel_for(const struct mudsc__exec *ex, size_t ntasks, double work,
                                 mudsc__task_fn fn, void *ctx)
{
	pthread_t tid[MUDSC__MAX_THREADS];
	size_t want = (size_t)clamp_threads(ex->threads), started = 0;
	struct parallel_run r = {.fn = fn, .ctx = ctx, .ntasks = ntasks};

	if (want > ntasks)
		want = ntasks;
	if (!(work >= MUDSC__PARALLEL_MIN_WORK))
		want = 1;
	if (want <= 1 || pthread_mutex_init(&r.lock, NULL) != 0)
		return serial_for(ntasks, fn, ctx);
	atomic_init(&r.next, 0);
	atomic_init(&r.first_bad, ntasks);
	while (started + 1 < want && pthread_create(&tid[started], NULL, worker, &r) == 0)
		started++;
	drain(&r);
	for (size_t t = 0; t < started; t++)
		pthread_join(tid[t], NULL);
	pthread_mutex_destroy(&r.lock);
	if (atomic_load(&r.first_bad) < ntasks)
		return mudsc__err_raise(&r.err);
	return MUDSC_OK;
}

double mudsc__clock_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
