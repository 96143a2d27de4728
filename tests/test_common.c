/* Status codes, error messages, versions, dtypes, BLAS information. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>

#include "core/core.h" /* mudsc__log: white box */
#include "suites.h"
#include "testutil.h"

START_TEST(status_codes_are_stable)
{
	/* The numeric values are ABI: a change here is a break. */
	ck_assert_int_eq(MUDSC_OK, 0);
	ck_assert_int_eq(MUDSC_E_INVALID, -1);
	ck_assert_int_eq(MUDSC_E_SHAPE, -2);
	ck_assert_int_eq(MUDSC_E_NOMEM, -3);
	ck_assert_int_eq(MUDSC_E_PARSE, -4);
	ck_assert_int_eq(MUDSC_E_IO, -5);
	ck_assert_int_eq(MUDSC_E_STATE, -6);
	ck_assert_int_eq(MUDSC_E_NUMERIC, -7);
	ck_assert_int_eq(MUDSC_E_UNSUPPORTED, -8);
	ck_assert_int_eq(MUDSC_E_CANCELLED, -9);
	ck_assert_int_eq(MUDSC_E_NOT_FOUND, -10);
	ck_assert_int_eq(MUDSC_E_EXISTS, -11);
	ck_assert_int_eq(MUDSC_E_RANGE, -12);
	ck_assert_int_eq(MUDSC_E_MISMATCH, -13);
	ck_assert_int_eq(MUDSC_E_INTERNAL, -14);
}
END_TEST

START_TEST(status_text_never_null)
{
	for (int s = -20; s <= 2; s++) {
		ck_assert_ptr_nonnull(mudsc_status_str((mudsc_status)s));
		ck_assert_ptr_nonnull(mudsc_status_name((mudsc_status)s));
	}
	ck_assert_str_eq(mudsc_status_name(MUDSC_E_PARSE), "MUDSC_E_PARSE");
	ck_assert_str_eq(mudsc_status_str(MUDSC_E_NOMEM), "out of memory");
	ck_assert_str_eq(mudsc_status_str((mudsc_status)-999), "unknown status");
}
END_TEST

START_TEST(last_error_names_argument)
{
	mudsc_error_clear();
	ck_assert_str_eq(mudsc_error_message(), "no error");
	ck_assert_int_eq(mudsc_error_status(), MUDSC_OK);
	ck_assert_status(mudsc_model_new(NULL), MUDSC_E_INVALID);
	ck_assert_error_has("out");
	ck_assert_int_eq(mudsc_error_status(), MUDSC_E_INVALID);
	mudsc_error_clear();
	ck_assert_str_eq(mudsc_error_message(), "no error");
}
END_TEST

static void *other_thread(void *arg)
{
	(void)arg;
	/* A fresh thread sees no error even though the main thread has one. */
	int clean = mudsc_error_status() == MUDSC_OK;
	int32_t d;
	mudsc_dtype_from_name(&d, "NOPE");
	return (void *)(intptr_t)clean;
}

START_TEST(last_error_is_thread_local)
{
	pthread_t t;
	void *clean;

	ck_assert_status(mudsc_blas_set_threads(0), MUDSC_E_INVALID);
	ck_assert_int_eq(pthread_create(&t, NULL, other_thread, NULL), 0);
	ck_assert_int_eq(pthread_join(t, &clean), 0);
	ck_assert_int_eq((int)(intptr_t)clean, 1);
	/* The other thread's failure did not overwrite ours. */
	ck_assert_int_eq(mudsc_error_status(), MUDSC_E_INVALID);
	ck_assert_error_has("mudsc_blas_set_threads");
}
END_TEST

START_TEST(version_agrees)
{
	char expect[32];
	ck_assert_uint_eq(mudsc_version(), MUDSC_VERSION_NUMBER);
	ck_assert_str_eq(mudsc_version_string(), MUDSC_VERSION_STRING);
	snprintf(expect, sizeof expect, "%d.%d.%d", MUDSC_VERSION_MAJOR, MUDSC_VERSION_MINOR,
	         MUDSC_VERSION_PATCH);
	ck_assert_str_eq(mudsc_version_string(), expect);
	ck_assert_ok(MUDSC_CHECK_VERSION());
	ck_assert_status(mudsc_version_check((MUDSC_VERSION_MAJOR + 1) * 10000u), MUDSC_E_MISMATCH);
	ck_assert_status(mudsc_version_check(MUDSC_VERSION_NUMBER + 1), MUDSC_E_MISMATCH);
	ck_assert_error_has("headers 0.2.1 but linked with library 0.2.0");
	/* 0.x: another minor release is another ABI, older or newer */
	ck_assert_int_eq(MUDSC_VERSION_MAJOR, 0);
	ck_assert_status(mudsc_version_check(MUDSC_VERSION_NUMBER - 100), MUDSC_E_MISMATCH);
	ck_assert_status(mudsc_version_check(MUDSC_VERSION_NUMBER + 100), MUDSC_E_MISMATCH);
	/* an older patch release of the same minor is served */
	ck_assert_ok(mudsc_version_check(MUDSC_VERSION_NUMBER - MUDSC_VERSION_PATCH));
}
END_TEST

START_TEST(dtype_table)
{
	static const struct {
		const char *name;
		size_t size;
		int is_float;
	} expect[MUDSC_DTYPE_COUNT_] = {
		{"BOOL", 1, 0}, {"U8", 1, 0},      {"I8", 1, 0},      {"U16", 2, 0},
		{"I16", 2, 0},  {"U32", 4, 0},     {"I32", 4, 0},     {"U64", 8, 0},
		{"I64", 8, 0},  {"F16", 2, 1},     {"BF16", 2, 1},    {"F32", 4, 1},
		{"F64", 8, 1},  {"F8_E4M3", 1, 0}, {"F8_E5M2", 1, 0}, {"F8_E8M0", 1, 0},
	};
	int32_t d;
	for (int i = 0; i < MUDSC_DTYPE_COUNT_; i++) {
		ck_assert_str_eq(mudsc_dtype_name((mudsc_dtype)i), expect[i].name);
		ck_assert_uint_eq(mudsc_dtype_size((mudsc_dtype)i), expect[i].size);
		ck_assert_int_eq(mudsc_dtype_is_float((mudsc_dtype)i), expect[i].is_float);
		ck_assert_ok(mudsc_dtype_from_name(&d, expect[i].name));
		ck_assert_int_eq(d, i);
	}
	ck_assert_ptr_null(mudsc_dtype_name(MUDSC_DTYPE_COUNT_));
	ck_assert_uint_eq(mudsc_dtype_size((mudsc_dtype)-1), 0);
	ck_assert_status(mudsc_dtype_from_name(&d, "f32"), MUDSC_E_NOT_FOUND);
	ck_assert_error_has("f32");
	ck_assert_status(mudsc_dtype_from_name(NULL, "F32"), MUDSC_E_INVALID);
}
END_TEST

START_TEST(blas_is_reported)
{
	int before = mudsc_blas_get_threads();
	ck_assert_int_ge(before, 1);
	ck_assert_ptr_nonnull(strstr(mudsc_blas_info(), "BL")); /* OpenBLAS or BLIS */
	ck_assert_ok(mudsc_blas_set_threads(1));
	ck_assert_int_eq(mudsc_blas_get_threads(), 1);
	ck_assert_ok(mudsc_blas_set_threads(before));
	ck_assert_status(mudsc_blas_set_threads(-3), MUDSC_E_INVALID);
}
END_TEST

struct log_capture {
	int calls;
};

static void capture_log(mudsc_log_level level, const char *msg, void *user)
{
	(void)level;
	(void)msg;
	((struct log_capture *)user)->calls++;
}

START_TEST(free_null_is_noop)
{
	struct log_capture cap = {0};
	mudsc_free(NULL);
	mudsc_model_free(NULL);
	mudsc_log_set_callback(capture_log, MUDSC_LOG_DEBUG, &cap);
	mudsc_log_set_callback(NULL, MUDSC_LOG_WARNING, NULL);
	ck_assert_int_eq(cap.calls, 0);
}
END_TEST

/* The log callback is safe to set while other threads log, and once
 * mudsc_log_set_callback() returns the old callback is never called again
 * (so a host may free its user data then). */
struct retiring {
	atomic_int retired; /* set after the callback was replaced */
	atomic_int late;    /* calls that arrived after that */
	atomic_int calls;
};

static void retiring_log(mudsc_log_level level, const char *msg, void *user)
{
	struct retiring *r = user;
	(void)level;
	(void)msg;
	atomic_fetch_add(&r->calls, 1);
	if (atomic_load(&r->retired))
		atomic_fetch_add(&r->late, 1);
}

static atomic_int logging_done;

static void *log_many(void *arg)
{
	(void)arg;
	for (int k = 0; k < 50000000 && !atomic_load(&logging_done); k++)
		mudsc__log(MUDSC_LOG_INFO, "message %d", k);
	return NULL;
}

START_TEST(log_callback_is_safe_to_replace)
{
	enum { ROUNDS = 200 };
	static struct retiring r[ROUNDS];
	pthread_t t[2];
	int late = 0, calls = 0;

	atomic_store(&logging_done, 0);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, log_many, NULL), 0);
	for (int k = 0; k < ROUNDS; k++) {
		mudsc_log_set_callback(retiring_log, MUDSC_LOG_INFO, &r[k]);
		/* let the loggers reach this callback (bounded: a starved machine
		 * still ends the test, and the calls > 0 check then says so) */
		for (int spin = 0; spin < 100000 && atomic_load(&r[k].calls) == 0; spin++)
			sched_yield();
		mudsc_log_set_callback(k % 2 ? NULL : retiring_log, MUDSC_LOG_INFO,
		                       k % 2 ? NULL : &r[(k + 1) % ROUNDS]);
		atomic_store(&r[k].retired, 1);
	}
	atomic_store(&logging_done, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	mudsc_log_set_callback(NULL, MUDSC_LOG_WARNING, NULL);
	for (int k = 0; k < ROUNDS; k++) {
		late += atomic_load(&r[k].late);
		calls += atomic_load(&r[k].calls);
	}
	ck_assert_int_eq(late, 0);
	ck_assert_int_gt(calls, 0); /* the messages did reach the callbacks */
}
END_TEST

Suite *suite_common(void)
{
	Suite *s = suite_create("common");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, status_codes_are_stable);
	tcase_add_test(tc, status_text_never_null);
	tcase_add_test(tc, last_error_names_argument);
	tcase_add_test(tc, last_error_is_thread_local);
	tcase_add_test(tc, version_agrees);
	tcase_add_test(tc, dtype_table);
	tcase_add_test(tc, blas_is_reported);
	tcase_add_test(tc, free_null_is_noop);
	tcase_add_test(tc, log_callback_is_safe_to_replace);
	suite_add_tcase(s, tc);
	return s;
}
