/*
 * The streaming engine (white box, through its door lib/stream/stream.h)
 * with a consumer of its own that records every block: the rows it hands
 * over must be the views' values minus the shifts computed here from the
 * definition, in stream order, each once, for every dtype, stride,
 * feature axis, lead pattern and non-finite policy.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stream/stream.h"
#include "suites.h"
#include "testutil.h"

/* ---- a recording consumer --------------------------------------------- */

struct recorder {
	size_t cols;        /* columns recorded per row: n_models * width (+ 1 with ones) */
	bool ones;
	double *rows;       /* every row received, as double (exact for float rows) */
	size_t nrows;
	size_t blocks;
	size_t block_rows[64];
	int f64;            /* -1 before the first block */
	size_t work_bytes;  /* what work_bytes answers */
	int work_asked;
};

static size_t rec_work_bytes(void *ctx, bool f64)
{
	struct recorder *r = ctx;

	r->work_asked++;
	ck_assert_int_eq(r->f64, -1);
	r->f64 = f64;
	return r->work_bytes;
}

static void rec_consume(void *ctx, const mudsc__stream_block *b)
{
	struct recorder *r = ctx;

	ck_assert_int_eq(b->first, (int64_t)r->nrows); /* stream order, each row once */
	ck_assert_int_eq(b->f64, r->f64);
	ck_assert_uint_ge(b->nrows, 1);
	ck_assert_uint_ge(b->ld, r->cols);
	ck_assert_uint_eq(b->ld % 16, 0);
	if (r->work_bytes > 0)
		ck_assert(b->work != NULL && (uintptr_t)b->work % 64 == 0);
	else
		ck_assert_ptr_null(b->work);
	r->rows = realloc(r->rows, (r->nrows + b->nrows) * r->cols * sizeof *r->rows);
	ck_assert_ptr_nonnull(r->rows);
	for (size_t i = 0; i < b->nrows; i++)
		for (size_t c = 0; c < r->cols; c++) {
			const size_t at = i * b->ld + c;
			double v = b->f64 ? ((const double *)b->rows)[at] : ((const float *)b->rows)[at];
			r->rows[(r->nrows + i) * r->cols + c] = v;
		}
	if (r->blocks < 64)
		r->block_rows[r->blocks] = b->nrows;
	r->blocks++;
	r->nrows += b->nrows;
}

static const mudsc__stream_consumer recorder_consumer = { rec_work_bytes, rec_consume };

static mudsc__stream *new_engine(struct recorder *r, const mudsc__stream_config *cfg)
{
	mudsc__stream *s = NULL;

	memset(r, 0, sizeof *r);
	r->ones = cfg->ones;
	r->cols = (size_t)cfg->n_models * (size_t)cfg->width + (cfg->ones ? 1 : 0);
	r->f64 = -1;
	ck_assert_ok(mudsc__stream_new(&s, cfg, &recorder_consumer, r));
	return s;
}

static void free_engine(mudsc__stream *s, struct recorder *r)
{
	mudsc__stream_free(s);
	free(r->rows);
	r->rows = NULL;
}

static mudsc__stream_config config(int32_t n, int64_t w, int64_t block, int64_t lead)
{
	mudsc__stream_config c;

	mudsc__stream_config_init(&c, n, w);
	c.block_rows = block;
	c.max_lead = lead;
	return c;
}

/* ---- data: values exact in every dtype --------------------------------- */

/* W = 9: the F16C route converts 8 at a time and leaves a tail of 1 */
enum { W = 9, ROWS = 40 };

/* Observation k, feature c of model m: multiples of 1/4 below 32 in
 * magnitude, exact in F16 and BF16 too. */
static double value(int m, int k, int c)
{
	return (double)(((k * 7 + c * 13 + m * 5) % 61) - 30 + (c == 1 ? 40 : 0)) / 4.0;
}

/* The logical (ROWS, W) matrix of model m as dtype, rows contiguous. */
static void *encode(int m, mudsc_dtype dtype)
{
	double vals[ROWS * W];
	void *buf = malloc(ROWS * W * mudsc_dtype_size(dtype));

	for (int k = 0; k < ROWS; k++)
		for (int c = 0; c < W; c++)
			vals[k * W + c] = value(m, k, c);
	mudsc__convert_from_f64(dtype, vals, ROWS * W, buf);
	return buf;
}

static mudsc_features rows_view(mudsc_dtype dtype, const void *data, int64_t n)
{
	mudsc_features f = { .dtype = dtype, .rank = 2, .shape = { n, W }, .feature_axis = -1,
	                     .data = data };
	return f;
}

/* rows [k0, k0 + n) of an encode()d buffer */
static mudsc_features rows_at(mudsc_dtype dtype, const void *data, int64_t k0, int64_t n)
{
	return rows_view(dtype, (const unsigned char *)data + k0 * W * mudsc_dtype_size(dtype), n);
}

/* The shift of model m, feature c from its first chunk [k0, k0 + n): the
 * mean in double, rounded to float. */
static double first_mean(int m, int k0, int n, int c)
{
	double sum = 0.0;

	for (int k = k0; k < k0 + n; k++)
		sum += value(m, k, c);
	return (double)(float)(sum / n);
}

/* All W shifts of model m from its first n observations. */
static void first_shifts(int m, int n, double *sh)
{
	for (int c = 0; c < W; c++)
		sh[c] = first_mean(m, 0, n, c);
}

/* Recorded row r, model m's columns, equal (bit for bit) to observation
 * obs's values minus shifts sh: in double, or rounded to float. */
static void expect_row(const struct recorder *r, size_t row, int m, const double *x,
                       const double *sh)
{
	for (int c = 0; c < W; c++) {
		double want = x[c] - sh[c];
		if (!r->f64)
			want = (double)(float)want;
		ck_assert_msg(r->rows[row * r->cols + (size_t)m * W + (size_t)c] == want,
		              "row %zu, model %d, feature %d: %a, want %a", row, m, c,
		              r->rows[row * r->cols + (size_t)m * W + (size_t)c], want);
	}
}

/* expect_row() for observation k of model m's data */
static void expect_obs(const struct recorder *r, size_t row, int m, int k, const double *sh)
{
	double x[W];

	for (int c = 0; c < W; c++)
		x[c] = value(m, k, c);
	expect_row(r, row, m, x, sh);
}

static void expect_model(const struct recorder *r, int m, int first_chunk, int64_t nrows)
{
	double sh[W];

	ck_assert_uint_eq(r->nrows, (size_t)nrows);
	first_shifts(m, first_chunk, sh);
	for (int64_t k = 0; k < nrows; k++)
		expect_obs(r, (size_t)k, m, (int)k, sh);
}

/* ---- dtypes and shifts ------------------------------------------------- */

/* Each dtype for model 0 against the next for model 1; the first chunk
 * (7 observations) fixes each model's shift, the later ones do not; rows
 * are double when the first chunk is F64.  Blocks of 4, the last partial. */
START_TEST(test_dtypes_and_first_chunk_shift)
{
	const mudsc_dtype types[4] = { MUDSC_DTYPE_F16, MUDSC_DTYPE_BF16, MUDSC_DTYPE_F32,
		                           MUDSC_DTYPE_F64 };
	const mudsc__stream_config cfg = config(2, W, 4, 64);

	for (int t = 0; t < 4; t++) {
		mudsc_dtype d0 = types[t], d1 = types[(t + 1) % 4];
		void *x0 = encode(0, d0), *x1 = encode(1, d1);
		struct recorder r;
		mudsc__stream *s = new_engine(&r, &cfg);
		mudsc_features f;

		f = rows_at(d0, x0, 0, 7);
		ck_assert_ok(mudsc__stream_update(s, 0, &f, "test"));
		f = rows_at(d1, x1, 0, 7);
		ck_assert_ok(mudsc__stream_update(s, 1, &f, "test"));
		ck_assert_uint_eq(r.nrows, 4); /* one whole block so far */
		f = rows_at(d0, x0, 7, ROWS - 7);
		ck_assert_ok(mudsc__stream_update(s, 0, &f, "test"));
		f = rows_at(d1, x1, 7, ROWS - 7);
		ck_assert_ok(mudsc__stream_update(s, 1, &f, "test"));
		ck_assert_ok(mudsc__stream_settle(s, "test"));
		ck_assert_int_eq(r.f64, d0 == MUDSC_DTYPE_F64);
		ck_assert_int_eq(r.work_asked, 1);
		ck_assert_uint_eq(r.blocks, ROWS / 4);
		for (size_t b = 0; b < r.blocks; b++)
			ck_assert_uint_eq(r.block_rows[b], 4);
		expect_model(&r, 0, 7, ROWS);
		expect_model(&r, 1, 7, ROWS);
		for (int c = 0; c < W; c++)
			ck_assert(mudsc__stream_shifts(s)[W + c] == first_mean(1, 0, 7, c));
		ck_assert_int_eq(mudsc__stream_done(s), ROWS);
		free_engine(s, &r);
		free(x0);
		free(x1);
	}
}
END_TEST

/* ---- strides and feature axes ------------------------------------------ */

/* Model 0 through one layout of the same logical matrix (fed in chunks of
 * 10), model 1 as plain F32 rows: model 0's columns must hold the logical
 * values in observation order, whatever the layout. */
static void check_layout(mudsc_features f0, int64_t chunk_step_elems, const double *logical,
                         int64_t nobs, int64_t chunk)
{
	const mudsc__stream_config cfg = config(2, W, 8, 64);
	void *x1 = encode(1, MUDSC_DTYPE_F32);
	struct recorder r;
	mudsc__stream *s = new_engine(&r, &cfg);
	const unsigned char *base = f0.data;
	double sh[W] = { 0 }, sh1[W];

	for (int64_t k0 = 0; k0 < nobs; k0 += chunk) {
		mudsc_features g = rows_at(MUDSC_DTYPE_F32, x1, k0, chunk);
		f0.data = base + k0 / chunk * chunk_step_elems * (int64_t)mudsc_dtype_size(f0.dtype);
		ck_assert_ok(mudsc__stream_update(s, 0, &f0, "test"));
		ck_assert_ok(mudsc__stream_update(s, 1, &g, "test"));
	}
	ck_assert_ok(mudsc__stream_settle(s, "test"));
	ck_assert_uint_eq(r.nrows, (size_t)nobs);
	for (int c = 0; c < W; c++) {
		for (int64_t k = 0; k < chunk; k++)
			sh[c] += logical[k * W + c];
		sh[c] = (double)(float)(sh[c] / (double)chunk);
	}
	first_shifts(1, (int)chunk, sh1);
	for (int64_t k = 0; k < nobs; k++) {
		expect_row(&r, (size_t)k, 0, logical + k * W, sh);
		expect_obs(&r, (size_t)k, 1, (int)k, sh1);
	}
	free_engine(s, &r);
	free(x1);
}

START_TEST(test_strides_and_feature_axes)
{
	enum { B = 4, HW = 10, N = B * HW, P = W + 2 };
	static float nchw[B * W * HW], cn[W * N], padded[N * P], rev[N * W];
	static unsigned char unaligned[N * W * 4 + 1];
	static uint16_t nchw16[B * W * HW];
	double logical[N * W], repeated[N * W];

	for (int k = 0; k < N; k++)
		for (int c = 0; c < W; c++) {
			const float v = (float)value(0, k, c);
			logical[k * W + c] = v;
			repeated[k * W + c] = value(0, (k / 10) * 10, c);
			nchw[((k / HW) * W + c) * HW + k % HW] = v;           /* (B, C, H*W), axis 1 */
			nchw16[((k / HW) * W + c) * HW + k % HW] = mudsc__f32_to_f16(v);
			cn[c * N + k] = v;                                    /* (C, n), axis 0 */
			padded[k * P + 1 + c] = v;                            /* rows P apart, offset 1 */
			rev[(N - 1 - k) * W + (W - 1 - c)] = v;               /* both axes reversed */
			memcpy(unaligned + 1 + 4 * (k * W + c), &v, 4);
		}
	/* NCHW: one batch image (10 observations along the contiguous axis) a chunk */
	mudsc_features f = { .dtype = MUDSC_DTYPE_F32, .rank = 3, .shape = { 1, W, HW },
	                     .feature_axis = 1, .data = nchw };
	check_layout(f, W * HW, logical, N, HW);
	f.dtype = MUDSC_DTYPE_F16;
	f.data = nchw16;
	check_layout(f, W * HW, logical, N, HW);
	/* (C, n) with features on axis 0, a column block a chunk */
	int64_t cn_strides[2] = { N, 1 };
	mudsc_features g = { .dtype = MUDSC_DTYPE_F32, .rank = 2, .shape = { W, 10 },
	                     .strides = cn_strides, .feature_axis = 0, .data = cn };
	check_layout(g, 10, logical, N, 10);
	/* (B, T, C) with rows P apart and a feature offset, axis -1 */
	int64_t pad_strides[3] = { 5 * P, P, 1 };
	mudsc_features h = { .dtype = MUDSC_DTYPE_F32, .rank = 3, .shape = { 2, 5, W },
	                     .strides = pad_strides, .feature_axis = -1, .data = padded + 1 };
	check_layout(h, 10 * P, logical, N, 10);
	/* negative strides on both axes: start at the last element */
	int64_t rev_strides[2] = { -W, -1 };
	mudsc_features q = { .dtype = MUDSC_DTYPE_F32, .rank = 2, .shape = { 10, W },
	                     .strides = rev_strides, .feature_axis = 1,
	                     .data = rev + N * W - 1 };
	check_layout(q, -10 * W, logical, N, 10);
	/* stride 0 along the observations: one observation 10 times a chunk */
	int64_t zero_strides[2] = { 0, 1 };
	mudsc_features z = { .dtype = MUDSC_DTYPE_F32, .rank = 2, .shape = { 10, W },
	                     .strides = zero_strides, .feature_axis = 1, .data = nchw };
	for (int k = 0; k < N; k += 10)
		for (int c = 0; c < W; c++)
			nchw[k * W + c] = (float)value(0, k, c); /* rows 0, 10, 20, 30 at k * W */
	check_layout(z, 10 * W, repeated, N, 10);
	/* unaligned F32 rows (the general route) */
	mudsc_features u = rows_view(MUDSC_DTYPE_F32, unaligned + 1, 10);
	check_layout(u, 10 * W, logical, N, 10);
}
END_TEST

/* ---- the lead buffer across models ------------------------------------- */

START_TEST(test_lead_buffer_across_models)
{
	const mudsc__stream_config cfg = config(3, W, 4, 6);
	void *x[3] = { encode(0, MUDSC_DTYPE_F32), encode(1, MUDSC_DTYPE_F32),
		           encode(2, MUDSC_DTYPE_F32) };
	struct recorder r;
	mudsc__stream *s = new_engine(&r, &cfg);
	mudsc_features f;

	f = rows_at(MUDSC_DTYPE_F32, x[0], 0, 6);
	ck_assert_ok(mudsc__stream_update(s, 0, &f, "test")); /* 6 ahead: the limit */
	f = rows_at(MUDSC_DTYPE_F32, x[0], 6, 1);
	ck_assert_status(mudsc__stream_update(s, 0, &f, "test"), MUDSC_E_STATE);
	ck_assert_error_has("test: model 0 would be 7 observations ahead");
	ck_assert_error_has("max_lead = 6");
	f = rows_at(MUDSC_DTYPE_F32, x[1], 0, 5);
	ck_assert_ok(mudsc__stream_update(s, 1, &f, "test"));
	f = rows_at(MUDSC_DTYPE_F32, x[2], 0, 2);
	ck_assert_ok(mudsc__stream_update(s, 2, &f, "test"));
	ck_assert_uint_eq(r.nrows, 0); /* only 2 complete: no whole block */
	f = rows_at(MUDSC_DTYPE_F32, x[2], 2, 3);
	ck_assert_ok(mudsc__stream_update(s, 2, &f, "test"));
	ck_assert_uint_eq(r.nrows, 4);
	ck_assert_int_eq(mudsc__stream_count(s, -1), 5);
	ck_assert_int_eq(mudsc__stream_count(s, 0), 6);
	ck_assert_int_eq(mudsc__stream_done(s), 4);
	ck_assert_status(mudsc__stream_settle(s, "test"), MUDSC_E_MISMATCH);
	ck_assert_error_has("test: the models' observation counts differ (from 5 to 6)");
	ck_assert_uint_eq(r.nrows, 4); /* nothing handed over by a failed settle */
	f = rows_at(MUDSC_DTYPE_F32, x[1], 5, 6);
	ck_assert_ok(mudsc__stream_update(s, 1, &f, "test"));
	f = rows_at(MUDSC_DTYPE_F32, x[2], 5, 6);
	ck_assert_ok(mudsc__stream_update(s, 2, &f, "test"));
	ck_assert_uint_eq(r.nrows, 4);
	/* model 0 catches up by a chunk larger than the room left in the
	 * buffer (block 4 + lead 6): a block goes to the consumer midway */
	f = rows_at(MUDSC_DTYPE_F32, x[0], 6, 10);
	ck_assert_ok(mudsc__stream_update(s, 0, &f, "test"));
	ck_assert_uint_eq(r.nrows, 8);
	f = rows_at(MUDSC_DTYPE_F32, x[1], 11, 5);
	ck_assert_ok(mudsc__stream_update(s, 1, &f, "test"));
	f = rows_at(MUDSC_DTYPE_F32, x[2], 11, 5);
	ck_assert_ok(mudsc__stream_update(s, 2, &f, "test"));
	ck_assert_uint_eq(r.nrows, 16);
	ck_assert_ok(mudsc__stream_settle(s, "test"));
	ck_assert_uint_eq(r.nrows, 16);
	ck_assert_uint_eq(r.blocks, 4);
	for (int m = 0; m < 3; m++) {
		double sh[W];
		first_shifts(m, m == 0 ? 6 : m == 1 ? 5 : 2, sh);
		for (int k = 0; k < 16; k++)
			expect_obs(&r, (size_t)k, m, k, sh);
	}
	free_engine(s, &r);
	for (int m = 0; m < 3; m++)
		free(x[m]);
}
END_TEST

/* Issue 11, defect 10: the buffer grows with the lead actually taken
 * (here from 1 row to 40, several reallocations with rows waiting in it)
 * and a max_lead far beyond memory costs nothing until it is used. */
START_TEST(test_lead_buffer_grows_with_use)
{
	for (int f64 = 0; f64 < 2; f64++) {
		const mudsc_dtype dt = f64 ? MUDSC_DTYPE_F64 : MUDSC_DTYPE_F32;
		mudsc__stream_config cfg = config(2, W, 4, INT64_C(1) << 40);
		void *x[2] = { encode(0, dt), encode(1, dt) };
		struct recorder r;
		mudsc__stream *s = new_engine(&r, &cfg);
		mudsc_features f;
		int k = 0;

		/* model 0 runs ahead in chunks 1, 2, 3, ... (39 rows waiting) */
		for (int n = 1; k + n <= ROWS - 1; k += n, n++) {
			f = rows_at(dt, x[0], k, n);
			ck_assert_ok(mudsc__stream_update(s, 0, &f, "test"));
		}
		ck_assert_uint_eq(r.nrows, 0);
		/* model 1 catches up in chunks of 7, then both finish */
		for (int j = 0; j < k; j += 7) {
			f = rows_at(dt, x[1], j, j + 7 <= k ? 7 : k - j);
			ck_assert_ok(mudsc__stream_update(s, 1, &f, "test"));
		}
		f = rows_at(dt, x[1], k, ROWS - k);
		ck_assert_ok(mudsc__stream_update(s, 1, &f, "test"));
		f = rows_at(dt, x[0], k, ROWS - k);
		ck_assert_ok(mudsc__stream_update(s, 0, &f, "test"));
		ck_assert_ok(mudsc__stream_settle(s, "test"));
		ck_assert_int_eq(r.f64, f64);
		ck_assert_uint_eq(r.nrows, ROWS);
		for (int m = 0; m < 2; m++) {
			double sh[W];
			first_shifts(m, m == 0 ? 1 : 7, sh);
			for (int j = 0; j < ROWS; j++)
				expect_obs(&r, (size_t)j, m, j, sh);
		}
		free_engine(s, &r);
		free(x[0]);
		free(x[1]);
	}
}
END_TEST

/* ---- non-finite values -------------------------------------------------- */

START_TEST(test_nonfinite_error_consumes_nothing)
{
	const mudsc__stream_config cfg = config(2, W, 2, 4);
	float bad[6 * W], big[8 * W];
	void *x1 = encode(1, MUDSC_DTYPE_F32);
	struct recorder r;
	mudsc__stream *s = new_engine(&r, &cfg);
	mudsc_features f = rows_view(MUDSC_DTYPE_F32, bad, 2);

	for (int k = 0; k < 6 * W; k++)
		bad[k] = (float)value(0, k / W, k % W);
	bad[1 * W + 2] = INFINITY;
	ck_assert_status(mudsc__stream_update(s, 0, &f, "fn_x"), MUDSC_E_NUMERIC);
	ck_assert_error_has("fn_x: model 0, chunk 0: non-finite value at position (1, 2)");
	ck_assert_error_has("(observation 1 of the chunk, feature 2)");
	ck_assert_int_eq(mudsc__stream_count(s, 0), 0);
	bad[1 * W + 2] = 1.0f;
	ck_assert_ok(mudsc__stream_update(s, 0, &f, "fn_x"));
	/* the second chunk as a (C, n) view: the position is (feature, observation) */
	bad[3 * W + 2] = NAN;
	int64_t tr[2] = { 1, W };
	mudsc_features t = { .dtype = MUDSC_DTYPE_F32, .rank = 2, .shape = { W, 2 }, .strides = tr,
	                     .feature_axis = 0, .data = bad + 2 * W };
	ck_assert_status(mudsc__stream_update(s, 0, &t, "fn_x"), MUDSC_E_NUMERIC);
	ck_assert_error_has("model 0, chunk 1: non-finite value at position (2, 1)");
	ck_assert_int_eq(mudsc__stream_count(s, 0), 2);
	f = rows_at(MUDSC_DTYPE_F32, x1, 0, 6);
	ck_assert_ok(mudsc__stream_update(s, 1, &f, "fn_x"));
	ck_assert_uint_eq(r.nrows, 2);
	/* a chunk larger than the buffer (2 + 4) with its bad value last: the
	 * whole chunk is checked before any block is handed over */
	for (int k = 0; k < 8 * W; k++)
		big[k] = 2.0f;
	big[8 * W - 1] = -INFINITY;
	f = rows_view(MUDSC_DTYPE_F32, big, 8);
	ck_assert_status(mudsc__stream_update(s, 0, &f, "fn_x"), MUDSC_E_NUMERIC);
	ck_assert_error_has("model 0, chunk 1: non-finite value at position (7, 8)");
	ck_assert_uint_eq(r.nrows, 2);
	ck_assert_int_eq(mudsc__stream_count(s, 0), 2);
	ck_assert_int_eq(mudsc__stream_count(s, 1), 6);
	/* after the errors the stream goes on as if they had not been */
	f = rows_at(MUDSC_DTYPE_F32, x1, 0, 4); /* model 1's values as model 0's rows 2..5 */
	ck_assert_ok(mudsc__stream_update(s, 0, &f, "fn_x"));
	ck_assert_ok(mudsc__stream_settle(s, "fn_x"));
	ck_assert_uint_eq(r.nrows, 6);
	free_engine(s, &r);
	free(x1);
}
END_TEST

/* Replaced by 0 before shifting (so the first chunk's mean counts a 0
 * there), on the row routes and on the transposing route. */
START_TEST(test_nonfinite_zero_policy)
{
	mudsc__stream_config cfg = config(2, W, 4, 16);
	uint16_t h[4 * W];
	float nchw[W * 4];
	double x0[4][W], sh0[W] = { 0 }, sh1[W] = { 0 };
	struct recorder r;
	mudsc__stream *s;

	cfg.nonfinite = MUDSC_NONFINITE_ZERO;
	s = new_engine(&r, &cfg);
	for (int k = 0; k < 4; k++)
		for (int c = 0; c < W; c++) {
			x0[k][c] = value(0, k, c);
			h[k * W + c] = mudsc__f32_to_f16((float)x0[k][c]);
			nchw[c * 4 + k] = (float)value(1, k, c);
		}
	h[0 * W + 1] = 0x7c00; /* +inf */
	h[3 * W + 2] = 0xfe00; /* NaN */
	nchw[2 * 4 + 1] = NAN; /* model 1, observation 1, feature 2 */
	x0[0][1] = 0.0;
	x0[3][2] = 0.0;
	mudsc_features f = rows_view(MUDSC_DTYPE_F16, h, 4);
	mudsc_features g = { .dtype = MUDSC_DTYPE_F32, .rank = 3, .shape = { 1, W, 4 },
	                     .feature_axis = 1, .data = nchw };
	ck_assert_ok(mudsc__stream_update(s, 0, &f, "test"));
	ck_assert_ok(mudsc__stream_update(s, 1, &g, "test"));
	ck_assert_ok(mudsc__stream_settle(s, "test"));
	ck_assert_uint_eq(r.nrows, 4);
	for (int c = 0; c < W; c++) {
		for (int k = 0; k < 4; k++) {
			sh0[c] += x0[k][c];
			sh1[c] += k == 1 && c == 2 ? 0.0 : value(1, k, c);
		}
		sh0[c] = (double)(float)(sh0[c] / 4);
		sh1[c] = (double)(float)(sh1[c] / 4);
	}
	for (int k = 0; k < 4; k++) {
		double x1[W];
		for (int c = 0; c < W; c++)
			x1[c] = k == 1 && c == 2 ? 0.0 : value(1, k, c);
		expect_row(&r, (size_t)k, 0, x0[k], sh0);
		expect_row(&r, (size_t)k, 1, x1, sh1);
	}
	free_engine(s, &r);
}
END_TEST

/* ---- configuration: no shift, ones column, row types, workspace -------- */

START_TEST(test_shift_off_ones_and_row_types)
{
	const int32_t types[3] = { MUDSC__STREAM_ROWS_AUTO, MUDSC__STREAM_ROWS_F32,
		                       MUDSC__STREAM_ROWS_F64 };
	void *x0 = encode(0, MUDSC_DTYPE_F64), *x1 = encode(1, MUDSC_DTYPE_F16);
	const double zero[W] = { 0 };

	for (int t = 0; t < 3; t++)
		for (int variant = 0; variant < 2; variant++) {
			mudsc__stream_config cfg = config(2, W, 16, 64);
			double sh0[W], sh1[W];
			struct recorder r;
			mudsc__stream *s;
			mudsc_features f;

			cfg.rows = types[t];
			cfg.shift = variant == 1;
			cfg.ones = variant == 0;
			s = new_engine(&r, &cfg);
			r.work_bytes = variant ? 100 : 0;
			f = rows_at(MUDSC_DTYPE_F16, x1, 0, 10);
			ck_assert_ok(mudsc__stream_update(s, 1, &f, "test")); /* F16 first */
			f = rows_at(MUDSC_DTYPE_F64, x0, 0, ROWS);
			ck_assert_ok(mudsc__stream_update(s, 0, &f, "test"));
			f = rows_at(MUDSC_DTYPE_F16, x1, 10, ROWS - 10);
			ck_assert_ok(mudsc__stream_update(s, 1, &f, "test"));
			ck_assert_ok(mudsc__stream_settle(s, "test"));
			ck_assert_int_eq(r.f64, cfg.rows == MUDSC__STREAM_ROWS_F64);
			ck_assert_uint_eq(r.nrows, ROWS);
			ck_assert_uint_eq(r.blocks, 3); /* 16 + 16 + 8 */
			ck_assert_uint_eq(r.block_rows[2], 8);
			first_shifts(0, ROWS, sh0);
			first_shifts(1, 10, sh1);
			for (int k = 0; k < ROWS; k++) {
				expect_obs(&r, (size_t)k, 0, k, cfg.shift ? sh0 : zero);
				expect_obs(&r, (size_t)k, 1, k, cfg.shift ? sh1 : zero);
				if (cfg.ones)
					ck_assert(r.rows[(size_t)k * r.cols + 2 * W] == 1.0);
			}
			free_engine(s, &r);
		}
	free(x0);
	free(x1);
}
END_TEST

/* ---- state a consumer rebuilds: shifts and counts ---------------------- */

START_TEST(test_set_shift_and_done)
{
	const mudsc__stream_config cfg = config(2, W, 4, 8);
	void *x0 = encode(0, MUDSC_DTYPE_F32), *x1 = encode(1, MUDSC_DTYPE_F32);
	struct recorder r;
	mudsc__stream *s = new_engine(&r, &cfg);
	double sh[2 * W];
	mudsc_features f;

	for (size_t u = 0; u < 2 * W; u++) {
		mudsc__stream_set_shift(s, u, 0.1 * (double)(u + 1));
		sh[u] = (double)(float)(0.1 * (double)(u + 1)); /* rounded to float */
		ck_assert(mudsc__stream_shifts(s)[u] == sh[u]);
	}
	mudsc__stream_set_done(s, 5);
	ck_assert_int_eq(mudsc__stream_count(s, 0), 5);
	ck_assert_int_eq(mudsc__stream_count(s, 1), 5);
	ck_assert_int_eq(mudsc__stream_done(s), 5);
	/* the shifts stay (they are fixed once count > 0); blocks continue at 5 */
	r.nrows = 5;
	r.rows = calloc(5 * r.cols, sizeof *r.rows);
	f = rows_at(MUDSC_DTYPE_F32, x0, 0, 4);
	ck_assert_ok(mudsc__stream_update(s, 0, &f, "test"));
	f = rows_at(MUDSC_DTYPE_F32, x1, 0, 4);
	ck_assert_ok(mudsc__stream_update(s, 1, &f, "test"));
	ck_assert_uint_eq(r.nrows, 9);
	for (int k = 0; k < 4; k++) {
		expect_obs(&r, (size_t)k + 5, 0, k, sh);
		expect_obs(&r, (size_t)k + 5, 1, k, sh + W);
	}
	free_engine(s, &r);
	/* a count near the limit: a broadcast view (stride 0) of 2^59
	 * observations would overflow the count (issue 11, defect 5) */
	s = new_engine(&r, &cfg);
	mudsc__stream_set_done(s, INT64_MAX / 2 - 10);
	{
		const int64_t zero[2] = { 0, 1 };
		f = rows_at(MUDSC_DTYPE_F32, x0, 0, 1);
		f.shape[0] = INT64_C(1) << 59;
		f.strides = zero;
		ck_assert_status(mudsc__stream_update(s, 0, &f, "test"), MUDSC_E_RANGE);
		ck_assert_error_has("test: argument 'features': 576460752303423488 observations");
	}
	ck_assert_int_eq(mudsc__stream_count(s, 0), INT64_MAX / 2 - 10);
	free_engine(s, &r);
	/* count 0: the next first chunk fixes the shifts again */
	s = new_engine(&r, &cfg);
	mudsc__stream_set_shift(s, 0, 99.0);
	mudsc__stream_set_done(s, 0);
	f = rows_at(MUDSC_DTYPE_F32, x0, 0, 4);
	ck_assert_ok(mudsc__stream_update(s, 0, &f, "test"));
	ck_assert(mudsc__stream_shifts(s)[0] == first_mean(0, 0, 4, 0));
	free_engine(s, &r);
	free(x0);
	free(x1);
}
END_TEST

/* ---- block size, configuration and bad views --------------------------- */

START_TEST(test_block_rows_and_configuration)
{
	mudsc__stream_config cfg = config(2, W, 4, 8);
	void *x0 = encode(0, MUDSC_DTYPE_F32), *x1 = encode(1, MUDSC_DTYPE_F32);
	struct recorder r;
	mudsc__stream *s = new_engine(&r, &cfg), *t = NULL;
	mudsc_features f;

	ck_assert_status(mudsc__stream_set_block_rows(s, 0, "set_rows"), MUDSC_E_INVALID);
	ck_assert_error_has("set_rows: argument 'rows' = 0 not in 1..2147483647");
	ck_assert_status(mudsc__stream_set_block_rows(s, INT64_MAX, "set_rows"), MUDSC_E_INVALID);
	ck_assert_ok(mudsc__stream_set_block_rows(s, 3, "set_rows"));
	f = rows_at(MUDSC_DTYPE_F32, x0, 0, 0); /* empty: the block size stays open */
	ck_assert_ok(mudsc__stream_update(s, 0, &f, "test"));
	ck_assert_ok(mudsc__stream_set_block_rows(s, 5, "set_rows"));
	f = rows_at(MUDSC_DTYPE_F32, x0, 0, 8);
	ck_assert_ok(mudsc__stream_update(s, 0, &f, "test"));
	ck_assert_status(mudsc__stream_set_block_rows(s, 4, "set_rows"), MUDSC_E_STATE);
	ck_assert_error_has("set_rows: the block size is fixed");
	f = rows_at(MUDSC_DTYPE_F32, x1, 0, 11);
	ck_assert_ok(mudsc__stream_update(s, 1, &f, "test"));
	ck_assert_uint_eq(r.nrows, 5);
	f = rows_at(MUDSC_DTYPE_F32, x0, 8, 3);
	ck_assert_ok(mudsc__stream_update(s, 0, &f, "test"));
	ck_assert_uint_eq(r.nrows, 10);
	ck_assert_ok(mudsc__stream_settle(s, "test"));
	ck_assert_uint_eq(r.blocks, 3);
	ck_assert_uint_eq(r.block_rows[0], 5);
	ck_assert_uint_eq(r.block_rows[2], 1);
	/* bad arguments name fn */
	ck_assert_status(mudsc__stream_update(s, 2, &f, "fn_y"), MUDSC_E_RANGE);
	ck_assert_error_has("fn_y: argument 'model' = 2 not in 0..1");
	f.shape[1] = W + 1;
	ck_assert_status(mudsc__stream_update(s, 0, &f, "fn_y"), MUDSC_E_SHAPE);
	ck_assert_error_has("fn_y: argument 'features': feature axis 1 has 10 entries");
	f.shape[1] = W;
	f.dtype = MUDSC_DTYPE_I16;
	ck_assert_status(mudsc__stream_update(s, 0, &f, "fn_y"), MUDSC_E_INVALID);
	free_engine(s, &r);
	/* the one block-size check, the size limits, and a bad configuration */
	ck_assert_status(mudsc__stream_check_block_rows(-1, "options->block_rows", "f"),
	                 MUDSC_E_INVALID);
	ck_assert_error_has("f: options->block_rows = -1 not in 1..2147483647");
	ck_assert_ok(mudsc__stream_check_block_rows(1, "x", "f"));
	ck_assert(mudsc__stream_fits(&cfg));
	cfg.width = (int64_t)1 << 30;
	ck_assert(!mudsc__stream_fits(&cfg));
	cfg.width = W;
	cfg.max_lead = INT64_MAX / 2;
	ck_assert(!mudsc__stream_fits(&cfg));
	cfg.max_lead = 8;
	cfg.rows = 3;
	ck_assert_status(mudsc__stream_new(&t, &cfg, &recorder_consumer, &r), MUDSC_E_INVALID);
	ck_assert_ptr_null(t);
	free(x0);
	free(x1);
}
END_TEST

Suite *suite_stream(void)
{
	const TTest *tests[] = {
		test_dtypes_and_first_chunk_shift, test_strides_and_feature_axes,
		test_lead_buffer_across_models,    test_lead_buffer_grows_with_use,
		test_nonfinite_error_consumes_nothing,
		test_nonfinite_zero_policy,        test_shift_off_ones_and_row_types,
		test_set_shift_and_done,           test_block_rows_and_configuration,
	};
	Suite *s = suite_create("stream");
	TCase *tc = tcase_create("engine");

	for (size_t k = 0; k < sizeof tests / sizeof tests[0]; k++)
		tcase_add_test(tc, tests[k]);
	suite_add_tcase(s, tc);
	return s;
}
