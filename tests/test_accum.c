/*
 * mudsc_accum: every bad input with its status, closed-form statistics.
 * Numbers against NumPy (all dtypes, axes, strides, merge, serialize) are
 * in tests/python/test_accum.py.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mudsc/experimental.h"
#include "suites.h"
#include "testutil.h"

static mudsc_features rows_f64(const double *data, int64_t n, int64_t c)
{
	mudsc_features f = { .dtype = MUDSC_DTYPE_F64, .rank = 2, .shape = { n, c },
	                     .feature_axis = -1, .data = data };
	return f;
}

static mudsc_accum *new_accum(int32_t n, int64_t c)
{
	mudsc_accum *acc = NULL;
	ck_assert_ok(mudsc_accum_new(&acc, n, c, NULL));
	return acc;
}

/* Observations model `model` (-1: every model) has delivered. */
static void expect_count(const mudsc_accum *acc, int32_t model, int64_t want)
{
	int64_t n = -1;

	ck_assert_ok(mudsc_accum_count(&n, acc, model));
	ck_assert_int_eq(n, want);
}

START_TEST(test_new_rejects_bad_arguments)
{
	mudsc_accum *acc = NULL;
	mudsc_accum_options o = MUDSC_ACCUM_OPTIONS_INIT, d;

	ck_assert_status(mudsc_accum_new(NULL, 2, 3, NULL), MUDSC_E_INVALID);
	ck_assert_status(mudsc_accum_new(&acc, 1, 3, NULL), MUDSC_E_INVALID);
	ck_assert_error_has("n_models");
	ck_assert_status(mudsc_accum_new(&acc, 2, 0, NULL), MUDSC_E_INVALID);
	ck_assert_error_has("width");
	/* issue 11, defect 11b: the size computation must not overflow, and the
	 * message says what overflows ("needs 0 bytes" before) */
	ck_assert_status(mudsc_accum_new(&acc, INT32_MAX, 1, NULL), MUDSC_E_INVALID);
	ck_assert_error_has("mudsc_accum_new: n_models = 2147483647 x width = 1: the sums of "
	                    "products need 8 x 2147483647^2 bytes, which overflows size_t");
	ck_assert_status(mudsc_accum_new(&acc, INT32_MAX, 2, NULL), MUDSC_E_INVALID);
	ck_assert_error_has("= 4294967294 features, more than 2147483647 (the BLAS index limit)");
	ck_assert_status(mudsc_accum_new(&acc, 2, INT64_MAX, NULL), MUDSC_E_INVALID);
	ck_assert_error_has("width = 9223372036854775807");
	o.max_lead = INT64_MAX / 2;
	ck_assert_status(mudsc_accum_new(&acc, 2, 3, &o), MUDSC_E_INVALID);
	ck_assert_error_has("a row buffer of block_rows + max_lead = 4096 + 4611686018427387903 rows "
	                    "of 6 features overflows size_t");
	o.max_lead = 16384;
	o.nonfinite = 7;
	ck_assert_status(mudsc_accum_new(&acc, 2, 3, &o), MUDSC_E_INVALID);
	ck_assert_error_has("nonfinite");
	o.nonfinite = MUDSC_NONFINITE_ZERO;
	o.threads = -1;
	ck_assert_status(mudsc_accum_new(&acc, 2, 3, &o), MUDSC_E_INVALID);
	ck_assert_error_has("options->threads = -1");
	o.threads = 0;
	o.max_lead = -1;
	ck_assert_status(mudsc_accum_new(&acc, 2, 3, &o), MUDSC_E_INVALID);
	o.size = 0;
	ck_assert_status(mudsc_accum_new(&acc, 2, 3, &o), MUDSC_E_INVALID);
	ck_assert_ptr_null(acc);
	ck_assert_status(mudsc_accum_options_init(NULL), MUDSC_E_INVALID);
	ck_assert_ok(mudsc_accum_options_init(&d));
	ck_assert_uint_eq(d.size, sizeof d);
	ck_assert_int_eq(d.nonfinite, MUDSC_NONFINITE_ERROR);
	ck_assert_int_eq(d.max_lead, 16384);
	ck_assert_int_eq(d.threads, 0);
	mudsc_accum_free(NULL);
}
END_TEST

START_TEST(test_block_rows_only_before_the_first_observations)
{
	mudsc_accum *acc = new_accum(2, 3);
	double x[6] = { 1, 2, 3, 4, 5, 6 };
	mudsc_features f = rows_f64(x, 2, 3);

	ck_assert_status(mudsc_accum_set_block_rows(NULL, 8), MUDSC_E_INVALID);
	ck_assert_status(mudsc_accum_set_block_rows(acc, 0), MUDSC_E_INVALID);
	ck_assert_error_has("'rows' = 0");
	ck_assert_status(mudsc_accum_set_block_rows(acc, (int64_t)INT32_MAX + 1), MUDSC_E_INVALID);
	ck_assert_ok(mudsc_accum_set_block_rows(acc, 8));
	f.shape[0] = 0; /* an empty update sizes nothing */
	ck_assert_ok(mudsc_accum_update(acc, 0, &f));
	ck_assert_ok(mudsc_accum_set_block_rows(acc, 1));
	f.shape[0] = 2;
	ck_assert_ok(mudsc_accum_update(acc, 0, &f));
	ck_assert_status(mudsc_accum_set_block_rows(acc, 16), MUDSC_E_STATE);
	ck_assert_error_has("fixed once the first observations arrived");
	mudsc_accum_free(acc);
}
END_TEST

START_TEST(test_update_rejects_bad_views)
{
	mudsc_accum *acc = new_accum(2, 3);
	double x[6] = { 1, 2, 3, 4, 5, 6 };
	mudsc_features f = rows_f64(x, 2, 3);
	int64_t n = -1;

	ck_assert_int_eq(mudsc_accum_models(acc), 2);
	ck_assert_int_eq(mudsc_accum_width(acc), 3);
	ck_assert_status(mudsc_accum_update(NULL, 0, &f), MUDSC_E_INVALID);
	ck_assert_status(mudsc_accum_update(acc, 0, NULL), MUDSC_E_INVALID);
	ck_assert_status(mudsc_accum_update(acc, 2, &f), MUDSC_E_RANGE);
	ck_assert_error_has("'model' = 2");
	ck_assert_status(mudsc_accum_update(acc, -1, &f), MUDSC_E_RANGE);
	f.shape[1] = 2;
	f.shape[0] = 3;
	ck_assert_status(mudsc_accum_update(acc, 0, &f), MUDSC_E_SHAPE);
	ck_assert_error_has("width is 3");
	f = rows_f64(x, 2, 3);
	f.feature_axis = 2;
	ck_assert_status(mudsc_accum_update(acc, 0, &f), MUDSC_E_SHAPE);
	f.feature_axis = -3;
	ck_assert_status(mudsc_accum_update(acc, 0, &f), MUDSC_E_SHAPE);
	f.feature_axis = 1;
	f.rank = 0;
	ck_assert_status(mudsc_accum_update(acc, 0, &f), MUDSC_E_SHAPE);
	f.rank = 9;
	ck_assert_status(mudsc_accum_update(acc, 0, &f), MUDSC_E_SHAPE);
	f.rank = 2;
	f.dtype = MUDSC_DTYPE_I32;
	ck_assert_status(mudsc_accum_update(acc, 0, &f), MUDSC_E_INVALID);
	f.dtype = MUDSC_DTYPE_F64;
	f.shape[0] = -1;
	ck_assert_status(mudsc_accum_update(acc, 0, &f), MUDSC_E_SHAPE);
	f.shape[0] = 2;
	f.data = NULL;
	ck_assert_status(mudsc_accum_update(acc, 0, &f), MUDSC_E_INVALID);
	expect_count(acc, 0, 0);
	/* an empty chunk is fine and counts nothing */
	f.shape[0] = 0;
	ck_assert_ok(mudsc_accum_update(acc, 0, &f));
	ck_assert_status(mudsc_accum_count(&n, acc, 2), MUDSC_E_RANGE);
	ck_assert_status(mudsc_accum_count(&n, acc, -2), MUDSC_E_RANGE);
	ck_assert_status(mudsc_accum_count(NULL, acc, 0), MUDSC_E_INVALID);
	mudsc_accum_free(acc);
}
END_TEST

/* Issue 11, defect 5: strides whose byte offsets overflow int64 were
 * accepted and read before the buffer (UBSan: signed overflow). */
START_TEST(test_update_refuses_overflowing_strides)
{
	mudsc_accum *acc = new_accum(2, 1);
	float x[4] = { 1, 2, 3, 4 };
	int64_t strides[3] = { INT64_MAX, 1, 1 };
	mudsc_features f = { .dtype = MUDSC_DTYPE_F32, .rank = 2, .shape = { 2, 1 },
	                     .strides = strides, .feature_axis = -1, .data = x };

	ck_assert_status(mudsc_accum_update(acc, 0, &f), MUDSC_E_INVALID);
	ck_assert_error_has("mudsc_accum_update: features->strides[0] = 9223372036854775807");
	/* the element offset fits, the byte offset (x 4) does not */
	strides[0] = INT64_MAX / 2;
	ck_assert_status(mudsc_accum_update(acc, 0, &f), MUDSC_E_INVALID);
	ck_assert_error_has("strides[0]");
	/* each axis fits, their sum does not */
	f.rank = 3;
	f.shape[0] = 2;
	f.shape[1] = 2;
	f.shape[2] = 1;
	strides[0] = strides[1] = INT64_MAX / 6;
	ck_assert_status(mudsc_accum_update(acc, 0, &f), MUDSC_E_INVALID);
	ck_assert_error_has("strides[1]");
	strides[0] = strides[1] = INT64_MIN / 6;
	ck_assert_status(mudsc_accum_update(acc, 0, &f), MUDSC_E_INVALID);
	/* a feature axis stride counts the same way */
	f.rank = 2;
	f.shape[0] = 1;
	f.shape[1] = 2;
	f.feature_axis = 1;
	strides[0] = 1;
	strides[1] = INT64_MIN;
	mudsc_accum_free(acc);
	acc = new_accum(2, 2);
	ck_assert_status(mudsc_accum_update(acc, 0, &f), MUDSC_E_INVALID);
	ck_assert_error_has("strides[1] = -9223372036854775808");
	expect_count(acc, 0, 0);
	/* an empty view with huge extents reads nothing and is fine */
	f.rank = 3;
	f.shape[0] = 0;
	f.shape[1] = INT64_MAX;
	f.shape[2] = 2;
	f.feature_axis = 2;
	f.strides = NULL;
	ck_assert_ok(mudsc_accum_update(acc, 0, &f));
	/* large strides that fit are read where they point (a negative one too) */
	strides[0] = -1;
	strides[1] = 2;
	f.rank = 2;
	f.shape[0] = 2;
	f.shape[1] = 2;
	f.feature_axis = 1;
	f.strides = strides;
	f.data = x + 1; /* rows (2, 4) and (1, 3) */
	ck_assert_ok(mudsc_accum_update(acc, 0, &f));
	expect_count(acc, 0, 2);
	mudsc_accum_free(acc);
}
END_TEST

/* Issue 11, defect 10: buffers sized by max_lead grow with use: a
 * max_lead of 2^40 observations (a row buffer of 70 TB if allocated up
 * front, as before: MUDSC_E_NOMEM) streams like the default. */
START_TEST(test_large_max_lead_costs_nothing_unused)
{
	mudsc_accum_options o = MUDSC_ACCUM_OPTIONS_INIT;
	mudsc_accum *acc = NULL;
	double x[8] = { 1, 2, 2, 5, 3, 4, 4, 9 }, corr[4];
	mudsc_features f = rows_f64(x, 4, 2);

	o.max_lead = INT64_C(1) << 40;
	ck_assert_ok(mudsc_accum_new(&acc, 2, 1, &o));
	f.shape[1] = 1;
	f.shape[0] = 8;
	ck_assert_ok(mudsc_accum_update(acc, 0, &f));
	ck_assert_ok(mudsc_accum_update(acc, 1, &f));
	ck_assert_ok(mudsc_accum_correlation(corr, 4, NULL, acc));
	ck_assert_double_eq_tol(corr[1], 1.0, 1e-12);
	mudsc_accum_free(acc);
}
END_TEST

START_TEST(test_results_need_equal_counts_and_data)
{
	mudsc_accum *acc = new_accum(2, 2), *other = new_accum(2, 2);
	double x[6] = { 1, 2, 3, 4, 5, 7 }, out[16], sentinel[16];
	mudsc_features f = rows_f64(x, 3, 2);
	void *buf = NULL;
	size_t len = 0;

	for (int k = 0; k < 16; k++)
		out[k] = sentinel[k] = 42.0 + k;
	ck_assert_status(mudsc_accum_correlation(out, 16, NULL, acc), MUDSC_E_STATE);
	ck_assert_error_has("no observations");
	ck_assert_ok(mudsc_accum_update(acc, 0, &f));
	f.shape[0] = 2;
	ck_assert_ok(mudsc_accum_update(acc, 1, &f));
	ck_assert_status(mudsc_accum_correlation(out, 16, NULL, acc), MUDSC_E_MISMATCH);
	ck_assert_error_has("from 2 to 3");
	ck_assert_status(mudsc_accum_covariance(out, 16, NULL, acc), MUDSC_E_MISMATCH);
	ck_assert_status(mudsc_accum_means(out, 4, NULL, acc), MUDSC_E_MISMATCH);
	ck_assert_status(mudsc_accum_stddevs(out, 4, NULL, acc), MUDSC_E_MISMATCH);
	ck_assert_status(mudsc_accum_serialize(&buf, &len, acc), MUDSC_E_MISMATCH);
	ck_assert_status(mudsc_accum_merge(other, acc), MUDSC_E_MISMATCH);
	ck_assert_status(mudsc_accum_merge(acc, other), MUDSC_E_MISMATCH);
	ck_assert_mem_eq(out, sentinel, sizeof out);
	ck_assert_ptr_null(buf);
	ck_assert_status(mudsc_accum_correlation(out, 15, NULL, acc), MUDSC_E_RANGE);
	ck_assert_status(mudsc_accum_means(out, 3, NULL, acc), MUDSC_E_RANGE);
	ck_assert_status(mudsc_accum_correlation(NULL, 16, NULL, acc), MUDSC_E_INVALID);
	ck_assert_status(mudsc_accum_correlation(out, 16, NULL, NULL), MUDSC_E_INVALID);
	ck_assert_mem_eq(out, sentinel, sizeof out);
	ck_assert_status(mudsc_accum_merge(acc, acc), MUDSC_E_INVALID);
	mudsc_accum_free(acc);
	mudsc_accum_free(other);
}
END_TEST

START_TEST(test_merge_needs_same_shape)
{
	mudsc_accum *a = new_accum(2, 2), *b = new_accum(3, 2), *c = new_accum(2, 3);

	ck_assert_status(mudsc_accum_merge(a, b), MUDSC_E_MISMATCH);
	ck_assert_status(mudsc_accum_merge(a, c), MUDSC_E_MISMATCH);
	ck_assert_status(mudsc_accum_merge(NULL, c), MUDSC_E_INVALID);
	mudsc_accum_free(a);
	mudsc_accum_free(b);
	mudsc_accum_free(c);
}
END_TEST

START_TEST(test_lead_is_bounded)
{
	mudsc_accum_options o = MUDSC_ACCUM_OPTIONS_INIT;
	mudsc_accum *acc = NULL;
	double x[20] = { 0 };
	mudsc_features f = rows_f64(x, 5, 2);

	for (int k = 0; k < 20; k++)
		x[k] = k * 0.5;
	o.max_lead = 8;
	ck_assert_ok(mudsc_accum_new(&acc, 2, 2, &o));
	ck_assert_ok(mudsc_accum_set_block_rows(acc, 2));
	ck_assert_ok(mudsc_accum_update(acc, 0, &f));
	f.shape[0] = 3;
	ck_assert_ok(mudsc_accum_update(acc, 0, &f)); /* 8 ahead: the limit */
	f.shape[0] = 1;
	ck_assert_status(mudsc_accum_update(acc, 0, &f), MUDSC_E_STATE);
	ck_assert_error_has("max_lead = 8");
	expect_count(acc, 0, 8);
	expect_count(acc, -1, 0);
	mudsc_accum_free(acc);
}
END_TEST

START_TEST(test_nonfinite_is_an_error_by_default)
{
	mudsc_accum *acc = new_accum(2, 3);
	float x[6] = { 1, 2, 3, 4, 5, INFINITY };
	mudsc_features f = { .dtype = MUDSC_DTYPE_F32, .rank = 2, .shape = { 2, 3 },
	                     .feature_axis = 1, .data = x };

	ck_assert_status(mudsc_accum_update(acc, 1, &f), MUDSC_E_NUMERIC);
	ck_assert_error_has("model 1, chunk 0");
	ck_assert_error_has("(1, 2)");
	x[5] = 6;
	ck_assert_ok(mudsc_accum_update(acc, 1, &f));
	x[1] = NAN;
	ck_assert_status(mudsc_accum_update(acc, 1, &f), MUDSC_E_NUMERIC);
	ck_assert_error_has("model 1, chunk 1");
	ck_assert_error_has("(0, 1)");
	expect_count(acc, 1, 2);
	mudsc_accum_free(acc);
}
END_TEST

/* Z = [x, 5, 2x + 3, -x] for x = 1..4: closed-form statistics. */
START_TEST(test_closed_form_statistics)
{
	mudsc_accum *acc = new_accum(2, 2);
	double m0[8] = { 1, 5, 2, 5, 3, 5, 4, 5 }, m1[8] = { 5, -1, 7, -2, 9, -3, 11, -4 };
	double corr[16], cov[16], mean[4], sd[4];
	mudsc_features f0 = rows_f64(m0, 4, 2), f1 = rows_f64(m1, 2, 2);
	const double v = 1.25; /* population variance of 1..4 */
	const double want_corr[16] = { 1, 0, 1, -1, 0, 0, 0, 0, 1, 0, 1, -1, -1, 0, -1, 1 };
	const double want_cov[16] = { v, 0, 2 * v, -v, 0, 0, 0, 0,
	                              2 * v, 0, 4 * v, -2 * v, -v, 0, -2 * v, v };
	const double want_mean[4] = { 2.5, 5, 8, -2.5 };

	ck_assert_ok(mudsc_accum_update(acc, 0, &f0));
	ck_assert_ok(mudsc_accum_update(acc, 1, &f1));
	f1.data = m1 + 4;
	ck_assert_ok(mudsc_accum_update(acc, 1, &f1));
	ck_assert_ok(mudsc_accum_correlation(corr, 16, NULL, acc));
	ck_assert_ok(mudsc_accum_covariance(cov, 16, NULL, acc));
	ck_assert_ok(mudsc_accum_means(mean, 4, NULL, acc));
	ck_assert_ok(mudsc_accum_stddevs(sd, 4, NULL, acc));
	for (int k = 0; k < 16; k++) {
		ck_assert_double_eq_tol(corr[k], want_corr[k], 1e-12);
		ck_assert_double_eq_tol(cov[k], want_cov[k], 1e-12);
	}
	for (int k = 0; k < 4; k++) {
		ck_assert_double_eq_tol(mean[k], want_mean[k], 1e-12);
		ck_assert_double_eq_tol(sd[k], sqrt(want_cov[5 * k]), 1e-12);
	}
	mudsc_accum_free(acc);
}
END_TEST

/* A one-observation stream: zero covariance, the eps clamp gives 0. */
START_TEST(test_single_observation)
{
	mudsc_accum *acc = new_accum(2, 1);
	double a = 3.0, b = -1.0, corr[4];
	mudsc_features f = rows_f64(&a, 1, 1);

	ck_assert_ok(mudsc_accum_update(acc, 0, &f));
	f.data = &b;
	ck_assert_ok(mudsc_accum_update(acc, 1, &f));
	ck_assert_ok(mudsc_accum_correlation(corr, 4, NULL, acc));
	for (int k = 0; k < 4; k++)
		ck_assert_double_eq(corr[k], 0.0);
	mudsc_accum_free(acc);
}
END_TEST

static void *serialized(size_t *len)
{
	mudsc_accum *acc = new_accum(2, 2);
	double x[8] = { 1, 3, 2, 5, 3, 7, 7, 15 }; /* second = 2 first + 1 */
	mudsc_features f = rows_f64(x, 4, 2);
	void *buf = NULL;

	ck_assert_ok(mudsc_accum_update(acc, 0, &f));
	ck_assert_ok(mudsc_accum_update(acc, 1, &f));
	ck_assert_ok(mudsc_accum_serialize(&buf, len, acc));
	mudsc_accum_free(acc);
	return buf;
}

static void expect_parse_error(const unsigned char *buf, size_t len, const char *what)
{
	mudsc_accum *acc = NULL;

	ck_assert_status(mudsc_accum_deserialize(&acc, buf, len, NULL), MUDSC_E_PARSE);
	ck_assert_error_has(what);
	ck_assert_ptr_null(acc);
}

/* Store v little-endian at p (the format is little-endian on every host). */
static void put_le(unsigned char *p, uint64_t v, int bytes)
{
	for (int k = 0; k < bytes; k++)
		p[k] = (unsigned char)(v >> (8 * k));
}

START_TEST(test_corrupt_serialized_bytes)
{
	size_t len;
	unsigned char *good = serialized(&len), *bad = malloc(len);
	mudsc_accum *acc = NULL;
	double corr[16];

	ck_assert_uint_eq(len, 40 + 8 * (4 + 10) + 8);
	ck_assert_ok(mudsc_accum_deserialize(&acc, good, len, NULL));
	ck_assert_ok(mudsc_accum_correlation(corr, 16, NULL, acc));
	ck_assert_double_eq_tol(corr[1], 1.0, 1e-12);
	mudsc_accum_free(acc);
	acc = NULL;
	ck_assert_status(mudsc_accum_deserialize(NULL, good, len, NULL), MUDSC_E_INVALID);
	ck_assert_status(mudsc_accum_deserialize(&acc, NULL, len, NULL), MUDSC_E_INVALID);
	expect_parse_error(good, 0, "shorter");
	expect_parse_error(good, len - 1, "need");
	memcpy(bad, good, len);
	bad[0] = 'X';
	expect_parse_error(bad, len, "magic");
	memcpy(bad, good, len);
	put_le(bad + 8, 2, 4);
	expect_parse_error(bad, len, "version 2");
	memcpy(bad, good, len);
	put_le(bad + 12, 2, 4); /* bit 0 is the cross mode; bit 1 is unknown */
	expect_parse_error(bad, len, "flags");
	memcpy(bad, good, len);
	put_le(bad + 12, 1, 4); /* cross mode: the size of a full-mode state is wrong */
	expect_parse_error(bad, len, "need");
	memcpy(bad, good, len);
	put_le(bad + 16, 1, 8);
	expect_parse_error(bad, len, "N = 1");
	memcpy(bad, good, len);
	put_le(bad + 24, 0, 8);
	expect_parse_error(bad, len, "C = 0");
	memcpy(bad, good, len);
	put_le(bad + 24, 3, 8);
	expect_parse_error(bad, len, "need");
	memcpy(bad, good, len);
	bad[60] ^= 0x10;
	expect_parse_error(bad, len, "hash");
	free(bad);
	mudsc_free(good);
}
END_TEST

/* ---- issue 11, defect 4: large finite values --------------------------- */

/* A (n, 1) column of float values as features. */
static mudsc_features column_f32(const float *x, int64_t n)
{
	mudsc_features f = { .dtype = MUDSC_DTYPE_F32, .rank = 2, .shape = { n, 1 },
	                     .feature_axis = -1, .data = x };
	return f;
}

/* f32 +-3e38 gave MUDSC_OK and an all-NaN correlation, then serialize wrote
 * bytes deserialize rejected.  Now the update is MUDSC_E_NUMERIC naming
 * the model, chunk and feature, and nothing of it stays (not even the
 * shift it would have fixed). */
START_TEST(test_large_values_are_refused_where_they_arrive)
{
	mudsc_accum *acc = new_accum(2, 2), *back = NULL;
	float big[6] = { 1, 3e38f, 2, -3e38f, 3, 3e38f };
	float ok[6] = { 1, 10, 2, 20, 4, 40 };
	double mean[4], corr[16];
	mudsc_features f = column_f32(big, 3);
	void *buf = NULL;
	size_t len = 0;

	f.shape[1] = 2;
	ck_assert_ok(mudsc_accum_update(acc, 1, (f.data = ok, &f)));
	ck_assert_status(mudsc_accum_update(acc, 1, (f.data = big, &f)), MUDSC_E_NUMERIC);
	ck_assert_error_has("mudsc_accum_update: model 1, chunk 1: value 3e+38 at position (0, 1) "
	                    "(observation 0 of the chunk, feature 1)");
	ck_assert_error_has("float rows summed in blocks of 4096 observations hold at most");
	/* model 0's first chunk: refused, and its shift is not fixed by it */
	ck_assert_status(mudsc_accum_update(acc, 0, &f), MUDSC_E_NUMERIC);
	ck_assert_error_has("model 0, chunk 0: value 3e+38 at position (0, 1) (observation 0 of the "
	                    "chunk, feature 1) is 2e+38 from its shift 1e+38");
	expect_count(acc, 0, 0);
	expect_count(acc, 1, 3);
	ck_assert_ok(mudsc_accum_update(acc, 0, (f.data = ok, &f)));
	ck_assert_ok(mudsc_accum_means(mean, 4, NULL, acc));
	ck_assert_double_eq_tol(mean[0], 7.0 / 3, 1e-6);
	ck_assert_double_eq_tol(mean[1], 70.0 / 3, 1e-5);
	ck_assert_ok(mudsc_accum_correlation(corr, 16, NULL, acc));
	for (int k = 0; k < 16; k++)
		ck_assert(isfinite(corr[k]));
	ck_assert_double_eq_tol(corr[1], 1.0, 1e-6);
	ck_assert_ok(mudsc_accum_serialize(&buf, &len, acc));
	ck_assert_ok(mudsc_accum_deserialize(&back, buf, len, NULL));
	mudsc_accum_free(back);
	mudsc_free(buf);
	mudsc_accum_free(acc);

	/* 3e38 is fine where its distance from the shift is small: F64 values
	 * at the float maximum with a spread of 1e30 (double rows), and a
	 * constant F32 3e38 */
	for (int k = 0; k < 2; k++) {
		const double hi[4] = { 3e38, 3e38 + 1e30, 3e38 - 1e30, 3e38 + 2e30 };
		const float flat[4] = { 3e38f, 3e38f, 3e38f, 3e38f };
		mudsc_features g = k ? column_f32(flat, 4) : rows_f64(hi, 4, 1);
		acc = new_accum(2, 1);
		ck_assert_ok(mudsc_accum_update(acc, 0, &g));
		ck_assert_ok(mudsc_accum_update(acc, 1, &g));
		ck_assert_ok(mudsc_accum_correlation(corr, 4, NULL, acc));
		ck_assert_double_eq_tol(corr[1], k ? 0.0 : 1.0, 1e-6);
		ck_assert_ok(mudsc_accum_means(mean, 2, NULL, acc));
		ck_assert_double_eq_tol(mean[0], k ? (double)3e38f : 3e38 + 0.5e30, 1e24);
		ck_assert_ok(mudsc_accum_serialize(&buf, &len, acc));
		ck_assert_ok(mudsc_accum_deserialize(&back, buf, len, NULL));
		mudsc_accum_free(back);
		mudsc_free(buf);
		mudsc_accum_free(acc);
	}
}
END_TEST

/* f64 +-1e300: outside the float range (the shifts and the sums' range):
 * refused under either non-finite policy, also in a chunk larger than the
 * buffer (whose first rows would otherwise be consumed midway). */
START_TEST(test_large_f64_values_are_refused)
{
	mudsc_accum_options o = MUDSC_ACCUM_OPTIONS_INIT;
	double x[16];
	mudsc_features f = rows_f64(x, 8, 1);

	for (int k = 0; k < 16; k++)
		x[k] = k;
	x[13] = -1e300;
	for (int zero = 0; zero < 2; zero++) {
		mudsc_accum *acc = NULL;
		o.nonfinite = zero ? MUDSC_NONFINITE_ZERO : MUDSC_NONFINITE_ERROR;
		o.max_lead = 8;
		ck_assert_ok(mudsc_accum_new(&acc, 2, 1, &o));
		ck_assert_ok(mudsc_accum_set_block_rows(acc, 4));
		f.shape[0] = 8;
		ck_assert_ok(mudsc_accum_update(acc, 1, &f));
		/* 16 rows, room for 12: blocks would go to the sums midway */
		f.shape[0] = 16;
		ck_assert_status(mudsc_accum_update(acc, 0, &f), MUDSC_E_NUMERIC);
		ck_assert_error_has("model 0, chunk 0: value -1e+300 at position (13, 0)");
		ck_assert_error_has("outside the float range");
		expect_count(acc, 0, 0);
		expect_count(acc, -1, 0);
		mudsc_accum_free(acc);
	}
}
END_TEST

static uint64_t fnv1a64(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325u;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3u;
	}
	return h;
}

/* Store the f64 value at offset `at` and fix the hash. */
static void patch_f64(unsigned char *buf, size_t len, size_t at, double v)
{
	uint64_t u;

	memcpy(&u, &v, 8);
	put_le(buf + at, u, 8);
	put_le(buf + len - 8, fnv1a64(buf, len - 8), 8);
}

/* The other ways in: deserialize refuses states whose sums could
 * overflow (so every accepted state serializes to accepted bytes and
 * finalises to finite results), merge refuses a union past them, with
 * nothing of dst changed. */
START_TEST(test_states_past_the_sums_range_are_refused)
{
	size_t len, len2;
	unsigned char *good = serialized(&len), *bad = malloc(len);
	mudsc_accum *a = NULL, *b = NULL;
	double cov[16], cov2[16];
	void *buf = NULL;

	/* layout: 40-byte header, 4 means, 10 products (a <= b), hash */
	memcpy(bad, good, len);
	patch_f64(bad, len, 40 + 8, 1e300);
	expect_parse_error(bad, len, "mean 1 = 1e+300 is outside the float range");
	memcpy(bad, good, len);
	patch_f64(bad, len, 40 + 32 + 8 * 4, 1e305); /* M[1][1] */
	expect_parse_error(bad, len, "sum of products (1, 1) = 1e+305 is larger than");
	memcpy(bad, good, len);
	put_le(bad + 32, 0, 8); /* n = 0 with values */
	put_le(bad + len - 8, fnv1a64(bad, len - 8), 8);
	expect_parse_error(bad, len, "n = 0 but a mean is not 0");
	/* at the limits: accepted, finite results, serialized back and accepted */
	memcpy(bad, good, len);
	patch_f64(bad, len, 40, 0x1.fffffe8p+127);
	patch_f64(bad, len, 40 + 8, -0x1.fffffe8p+127);
	for (int k = 0; k < 10; k++)
		patch_f64(bad, len, 40 + 32 + 8 * (size_t)k, (k == 0 || k == 4 || k == 7 || k == 9) ?
		                                                 0x1p+990 : -0x1p+990);
	ck_assert_ok(mudsc_accum_deserialize(&a, bad, len, NULL));
	ck_assert_ok(mudsc_accum_correlation(cov, 16, NULL, a));
	for (int k = 0; k < 16; k++)
		ck_assert(isfinite(cov[k]));
	ck_assert_ok(mudsc_accum_serialize(&buf, &len2, a));
	ck_assert_ok(mudsc_accum_deserialize(&b, buf, len2, NULL));
	mudsc_free(buf);
	/* merging two of them passes 2^990: refused, dst unchanged */
	ck_assert_ok(mudsc_accum_covariance(cov, 16, NULL, a));
	ck_assert_status(mudsc_accum_merge(a, b), MUDSC_E_NUMERIC);
	ck_assert_error_has("mudsc_accum_merge: the merged sum of products of model 0, feature 0");
	ck_assert_ok(mudsc_accum_covariance(cov2, 16, NULL, a));
	ck_assert_mem_eq(cov, cov2, sizeof cov);
	mudsc_accum_free(a);
	mudsc_accum_free(b);
	free(bad);
	mudsc_free(good);
}
END_TEST

/* Two-pass double correlation of the n x nc matrix z: the naive reference
 * for the mixed workload below (the NumPy comparisons are in pytest). */
static void naive_corr(const double *z, int n, int nc, double *out)
{
	double mu[16] = { 0 }, sd[16];

	for (int r = 0; r < n; r++)
		for (int u = 0; u < nc; u++)
			mu[u] += z[r * nc + u] / n;
	for (int a = 0; a < nc; a++)
		for (int b = 0; b < nc; b++) {
			double s = 0;
			for (int r = 0; r < n; r++)
				s += (z[r * nc + a] - mu[a]) * (z[r * nc + b] - mu[b]);
			out[a * nc + b] = s / n;
		}
	for (int u = 0; u < nc; u++)
		sd[u] = sqrt(out[u * nc + u]);
	for (int a = 0; a < nc; a++)
		for (int b = 0; b < nc; b++)
			out[a * nc + b] /= fmax(sd[a] * sd[b], 1e-7);
}

/* Every route in one run (so valgrind sees them): F32 rows, F16 NCHW
 * (transposing route), BF16 rows, F64, chunks larger than the buffer,
 * serialize, deserialize, merge. */
START_TEST(test_mixed_workload)
{
	enum { N = 2, C = 5, NC = 10, ROWS = 96 };
	static double z[ROWS * NC], want[NC * NC], got[NC * NC];
	static float f32[ROWS * C];
	static uint16_t f16[ROWS * C], bf16[ROWS * C];
	mudsc_accum_options o = MUDSC_ACCUM_OPTIONS_INIT;
	mudsc_accum *a = NULL, *b = NULL, *c = NULL;
	void *buf = NULL;
	size_t len;
	unsigned seed = 7;

	/* values exact in bf16 (model 0: multiples of 1/2 below 64) and f16
	 * (model 1: multiples of 1/8 below 64) */
	for (int r = 0; r < ROWS; r++)
		for (int u = 0; u < NC; u++) {
			seed = seed * 1103515245u + 12345u;
			int k = (int)((seed >> 16) % 64) + (u % C == 2 ? (int)(r % 7) * 3 : 0);
			z[r * NC + u] = (u >= C ? k / 4 / 2.0 + z[r * NC + u - C] / 4.0 : k / 2.0);
		}
	naive_corr(z, ROWS, NC, want);
	/* model 0 rows 0..47 as F32 rows (chunks of 40 > block + lead) */
	for (int r = 0; r < 48; r++)
		for (int q = 0; q < C; q++)
			f32[r * C + q] = (float)z[r * NC + q];
	o.max_lead = 40;
	ck_assert_ok(mudsc_accum_new(&a, N, C, &o));
	ck_assert_ok(mudsc_accum_set_block_rows(a, 4));
	mudsc_features f = { .dtype = MUDSC_DTYPE_F32, .rank = 2, .shape = { 40, C },
	                     .feature_axis = 1, .data = f32 };
	ck_assert_ok(mudsc_accum_update(a, 0, &f));
	/* model 1 rows 0..47 as F16 NCHW (B, C, H, W) = (3, 5, 4, 4) */
	for (int r = 0; r < 48; r++)
		for (int q = 0; q < C; q++) {
			int bb = r / 16, hw = r % 16;
			float v = (float)z[r * NC + C + q];
			uint32_t bits;
			memcpy(&bits, &v, 4);
			/* exact values: rebias the exponent, keep 10 mantissa bits */
			f16[(bb * C + q) * 16 + hw] =
			    v == 0.0f ? 0
			              : (uint16_t)(((bits >> 16) & 0x8000u) |
			                           ((((bits >> 23) & 0xffu) - 112u) << 10) |
			                           ((bits >> 13) & 0x3ffu));
		}
	mudsc_features h = { .dtype = MUDSC_DTYPE_F16, .rank = 4, .shape = { 3, C, 4, 4 },
	                     .feature_axis = 1, .data = f16 };
	ck_assert_ok(mudsc_accum_update(a, 1, &h));
	f.shape[0] = 8;
	f.data = f32 + 40 * C;
	ck_assert_ok(mudsc_accum_update(a, 0, &f));
	ck_assert_ok(mudsc_accum_serialize(&buf, &len, a));
	ck_assert_ok(mudsc_accum_deserialize(&b, buf, len, &o));
	/* rows 48..95 into c: model 0 as BF16 rows, model 1 as F64 rows */
	for (int r = 48; r < ROWS; r++)
		for (int q = 0; q < C; q++) {
			float v = (float)z[r * NC + q];
			uint32_t bits;
			memcpy(&bits, &v, 4);
			bf16[(r - 48) * C + q] = (uint16_t)(bits >> 16);
		}
	ck_assert_ok(mudsc_accum_new(&c, N, C, &o));
	mudsc_features g = { .dtype = MUDSC_DTYPE_BF16, .rank = 2, .shape = { 48, C },
	                     .feature_axis = -1, .data = bf16 };
	ck_assert_status(mudsc_accum_update(c, 0, &g), MUDSC_E_STATE); /* 48 > max_lead */
	g.shape[0] = 24;
	ck_assert_ok(mudsc_accum_update(c, 0, &g));
	int64_t strides[2] = { NC, 1 };
	mudsc_features d = { .dtype = MUDSC_DTYPE_F64, .rank = 2, .shape = { 48, C },
	                     .strides = strides, .feature_axis = 1, .data = z + 48 * NC + C };
	ck_assert_ok(mudsc_accum_update(c, 1, &d));
	g.data = bf16 + 24 * C;
	ck_assert_ok(mudsc_accum_update(c, 0, &g));
	ck_assert_ok(mudsc_accum_merge(b, c));
	ck_assert_ok(mudsc_accum_correlation(got, NC * NC, NULL, b));
	for (int k = 0; k < NC * NC; k++)
		ck_assert_double_eq_tol(got[k], want[k], 1e-6);
	mudsc_free(buf);
	mudsc_accum_free(a);
	mudsc_accum_free(b);
	mudsc_accum_free(c);
}
END_TEST

Suite *suite_accum(void)
{
	Suite *s = suite_create("accum");
	TCase *tc = tcase_create("accum");

	tcase_add_test(tc, test_new_rejects_bad_arguments);
	tcase_add_test(tc, test_block_rows_only_before_the_first_observations);
	tcase_add_test(tc, test_update_rejects_bad_views);
	tcase_add_test(tc, test_update_refuses_overflowing_strides);
	tcase_add_test(tc, test_large_max_lead_costs_nothing_unused);
	tcase_add_test(tc, test_results_need_equal_counts_and_data);
	tcase_add_test(tc, test_merge_needs_same_shape);
	tcase_add_test(tc, test_lead_is_bounded);
	tcase_add_test(tc, test_nonfinite_is_an_error_by_default);
	tcase_add_test(tc, test_closed_form_statistics);
	tcase_add_test(tc, test_single_observation);
	tcase_add_test(tc, test_corrupt_serialized_bytes);
	tcase_add_test(tc, test_large_values_are_refused_where_they_arrive);
	tcase_add_test(tc, test_large_f64_values_are_refused);
	tcase_add_test(tc, test_states_past_the_sums_range_are_refused);
	tcase_add_test(tc, test_mixed_workload);
	suite_add_tcase(s, tc);
	return s;
}
