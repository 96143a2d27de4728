/* Execution contexts and the parallel-for (white box): every task runs
 * once whatever the thread count, the reported failure is the lowest
 * failing task's (as a serial loop reports it), and a failure on a worker
 * thread reaches the calling thread with its message. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "core/core.h"
#include "suites.h"
#include "testutil.h"

/* Work estimate that makes the loops use their threads. */
#define SPREAD (2 * MUDSC__PARALLEL_MIN_WORK)

struct count_ctx {
	atomic_int runs[200];
	size_t fail_a, fail_b; /* tasks that fail (SIZE_MAX: none) */
};

static mudsc_status count_task(void *arg, size_t k)
{
	struct count_ctx *c = arg;
	atomic_fetch_add(&c->runs[k], 1);
	if (k == c->fail_a || k == c->fail_b)
		return mudsc__err(MUDSC_E_NUMERIC, "task %zu failed", k);
	return MUDSC_OK;
}

START_TEST(every_task_runs_once)
{
	static const int32_t threads[] = {1, 2, 4, 7};
	static const size_t counts[] = {0, 1, 3, 200};
	for (size_t t = 0; t < 4; t++)
		for (size_t n = 0; n < 4; n++) {
			struct count_ctx c = {.fail_a = SIZE_MAX, .fail_b = SIZE_MAX};
			struct mudsc__exec ex = mudsc__exec_make(threads[t]);
			ck_assert_ok(mudsc__parallel_for(&ex, counts[n], SPREAD, count_task, &c));
			for (size_t k = 0; k < 200; k++)
				ck_assert_int_eq(atomic_load(&c.runs[k]), k < counts[n] ? 1 : 0);
			memset(&c, 0, sizeof c); /* and on the calling thread alone */
			c.fail_a = c.fail_b = SIZE_MAX;
			ck_assert_ok(mudsc__parallel_for(&ex, counts[n], 1.0, count_task, &c));
			for (size_t k = 0; k < 200; k++)
				ck_assert_int_eq(atomic_load(&c.runs[k]), k < counts[n] ? 1 : 0);
		}
}
END_TEST

START_TEST(lowest_failure_is_reported)
{
	for (int32_t threads = 1; threads <= 4; threads++) {
		struct count_ctx c = {.fail_a = 37, .fail_b = 5};
		struct mudsc__exec ex = mudsc__exec_make(threads);
		mudsc_error_clear();
		ck_assert_status(mudsc__parallel_for(&ex, 200, SPREAD, count_task, &c), MUDSC_E_NUMERIC);
		ck_assert_str_eq(mudsc_error_message(), "task 5 failed");
		for (size_t k = 0; k <= 5; k++) /* everything a serial loop runs, ran */
			ck_assert_int_eq(atomic_load(&c.runs[k]), 1);
	}
}
END_TEST

/* Two tasks that wait for each other, so they run on two threads; the one
 * on the worker fails (which task that is depends on which thread claims
 * first: under TSan pthread_create waits for the new thread, which then
 * takes task 0). */
struct pair_ctx {
	atomic_int arrived;
	pthread_t caller;
	size_t failed; /* the task that ran on the worker */
};

static mudsc_status pair_task(void *arg, size_t k)
{
	struct pair_ctx *c = arg;
	struct timespec pause = {0, 100000};
	atomic_fetch_add(&c->arrived, 1);
	for (int i = 0; i < 20000 && atomic_load(&c->arrived) < 2; i++)
		nanosleep(&pause, NULL);
	if (pthread_equal(pthread_self(), c->caller))
		return MUDSC_OK;
	c->failed = k;
	return mudsc__err(MUDSC_E_RANGE, "task %zu failed on a worker", k);
}

START_TEST(worker_failure_reaches_caller)
{
	struct mudsc__exec ex = mudsc__exec_make(2);
	for (int round = 0; round < 10; round++) {
		struct pair_ctx c = {.caller = pthread_self(), .failed = SIZE_MAX};
		char expect[64];
		mudsc_error_clear();
		ck_assert_status(mudsc__parallel_for(&ex, 2, SPREAD, pair_task, &c), MUDSC_E_RANGE);
		ck_assert_int_eq(atomic_load(&c.arrived), 2);
		ck_assert_uint_lt(c.failed, 2);
		snprintf(expect, sizeof expect, "task %zu failed on a worker", c.failed);
		ck_assert_str_eq(mudsc_error_message(), expect);
	}
}
END_TEST

START_TEST(contexts_from_options)
{
	struct mudsc__exec ex = mudsc__exec_make(3);
	ck_assert_int_eq(ex.threads, 3);
	ck_assert_int_eq(ex.blas, 3);
	ex = mudsc__exec_make(0); /* the process-wide count, BLAS left to its own setting */
	ck_assert_int_eq(ex.threads, mudsc_blas_get_threads());
	ck_assert_int_eq(ex.blas, 0);
	ex = mudsc__exec_make(100000);
	ck_assert_int_eq(ex.threads, MUDSC__MAX_THREADS);
	ck_assert_int_eq(ex.blas, MUDSC__MAX_THREADS);
	ck_assert_int_eq(MUDSC__EXEC_SERIAL.threads, 1);
}
END_TEST

Suite *suite_exec(void)
{
	Suite *s = suite_create("exec");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, every_task_runs_once);
	tcase_add_test(tc, lowest_failure_is_reported);
	tcase_add_test(tc, worker_failure_reaches_caller);
	tcase_add_test(tc, contexts_from_options);
	suite_add_tcase(s, tc);
	return s;
}
