/* Threads per handle: a matcher's results (sweeps, objectives, assignments,
 * scores, merged and transformed models) and an accumulator's correlation
 * are bit-identical for 1, 2 and 4 threads; a run never changes the
 * process-wide BLAS count; a wide point's weight similarity (features,
 * row statistics, unit rows and products on the threads) gives the same
 * matching bit for bit for 1 and 3 threads, both precisions; a failure
 * inside the threaded merge is reported as with one thread (the first
 * failing tensor's message). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/convert.h"
#include "matcher/weight_sim_align.h"
#include "suites.h"
#include "testutil.h"
#include "threads_fixture.h"

/* Few sweeps: the suite also runs under valgrind, where zip's sweeps are slow. */
struct config {
	int32_t method, n, activations, sweeps;
};

static const struct config configs[] = {
	{MUDSC_METHOD_ALIGN, 3, 1, 3},
	{MUDSC_METHOD_ALIGN, 4, 0, 2},
	{MUDSC_METHOD_ZIP, 3, 0, 1},
};

static void run_config(struct tf_result *r, const struct tf_models *f, const struct config *c,
                       int32_t threads)
{
	mudsc_matcher_options o = MUDSC_MATCHER_OPTIONS_INIT;
	mudsc_matcher *m;

	o.method = c->method;
	o.max_iter = c->sweeps;
	o.patience = 1;
	o.threads = threads;
	ck_assert_ok(mudsc_matcher_new(&m, f->graph, f->view, f->n, &o));
	if (c->activations)
		ck_assert_ok(tf_give_activations(m, f, 64, 7));
	ck_assert_ok(tf_run(r, m, f->n, NULL));
	mudsc_matcher_free(m);
}

START_TEST(same_results_for_every_thread_count)
{
	const struct config *c = &configs[_i];
	struct tf_models f;
	struct tf_result one, more;

	ck_assert_ok(tf_models_make(&f, c->n, 11));
	run_config(&one, &f, c, 1);
	ck_assert_int_ge(one.sweeps, 1);
	for (int32_t threads = 2; threads <= 4; threads *= 2) {
		run_config(&more, &f, c, threads);
		const char *diff = tf_diff(&one, &more);
		ck_assert_msg(diff == NULL, "%s differ with %d threads", diff, (int)threads);
		tf_result_free(&more);
	}
	tf_result_free(&one);
	tf_models_free(&f);
}
END_TEST

static int expected_blas_threads;

static int check_blas_threads(int64_t point, int32_t sweep, double score, void *user)
{
	(void)point;
	(void)sweep;
	(void)score;
	++*(int *)user;
	ck_assert_int_eq(mudsc_blas_get_threads(), expected_blas_threads);
	return 0;
}

START_TEST(run_leaves_the_process_wide_blas_count)
{
	struct tf_models f;
	struct tf_result r;
	mudsc_matcher_options o = MUDSC_MATCHER_OPTIONS_INIT;
	mudsc_matcher *m;
	int before = mudsc_blas_get_threads(), calls = 0;

	ck_assert_ok(tf_models_make(&f, 3, 5));
	ck_assert_ok(mudsc_blas_set_threads(2));
	expected_blas_threads = mudsc_blas_get_threads();
	o.threads = 3;
	o.max_iter = 2;
	o.progress = check_blas_threads;
	o.progress_user = &calls;
	ck_assert_ok(mudsc_matcher_new(&m, f.graph, f.view, 3, &o));
	ck_assert_ok(tf_run(&r, m, 3, NULL));
	ck_assert_int_gt(calls, 0);
	ck_assert_int_eq(mudsc_blas_get_threads(), expected_blas_threads);
	tf_result_free(&r);
	mudsc_matcher_free(m);
	tf_models_free(&f);
	ck_assert_ok(mudsc_blas_set_threads(before));
}
END_TEST

START_TEST(first_failing_tensor_is_reported)
{
	static const double weights[3] = {1.0, -1.0, 0.0}; /* every merged unit weighs 0 */
	struct tf_models f;
	mudsc_matcher_options o = MUDSC_MATCHER_OPTIONS_INIT;
	mudsc_matcher *m;
	mudsc_model *merged = NULL;
	char first[1024];

	ck_assert_ok(tf_models_make(&f, 3, 3));
	o.max_iter = 1;
	for (int32_t threads = 1; threads <= 4; threads *= 4) {
		o.threads = threads;
		ck_assert_ok(mudsc_matcher_new(&m, f.graph, f.view, 3, &o));
		ck_assert_ok(mudsc_matcher_run(m));
		ck_assert_status(mudsc_matcher_merge(&merged, m, weights), MUDSC_E_INVALID);
		ck_assert_ptr_null(merged);
		if (threads == 1)
			snprintf(first, sizeof first, "%s", mudsc_error_message());
		ck_assert_str_eq(mudsc_error_message(), first);
		mudsc_matcher_free(m);
	}
	ck_assert_msg(strstr(first, "'layers.0.weight'") != NULL, "%s", first);
	tf_models_free(&f);
}
END_TEST

/* Accumulators of 2 x 256 features with 1, 2 and 4 threads fed the same
 * observations: their NC = 512 rows are finalised on their threads (and,
 * with BLIS, their updates' BLAS calls use them). */
enum { ACC_N = 2, ACC_C = 256, ACC_ROWS = 40, ACC_NC = ACC_N * ACC_C };

static mudsc_accum *filled_accum(int32_t threads, double *x)
{
	mudsc_accum_options o = MUDSC_ACCUM_OPTIONS_INIT;
	mudsc_accum *acc;
	uint64_t s = 99;

	o.threads = threads;
	ck_assert_ok(mudsc_accum_new(&acc, ACC_N, ACC_C, &o));
	for (int32_t i = 0; i < ACC_N; i++) {
		mudsc_features v = {.dtype = MUDSC_DTYPE_F64, .rank = 2, .shape = {ACC_ROWS, ACC_C},
		                    .feature_axis = 1, .data = x};
		for (size_t k = 0; k < ACC_ROWS * ACC_C; k++) {
			s = s * 6364136223846793005ull + 1442695040888963407ull;
			x[k] = (double)(s >> 11) / 9007199254740992.0 + (double)(k % ACC_C) * 1e-3;
		}
		ck_assert_ok(mudsc_accum_update(acc, i, &v));
	}
	return acc;
}

START_TEST(correlation_same_for_every_thread_count)
{
	static double x[ACC_ROWS * ACC_C], one[ACC_NC * ACC_NC], more[ACC_NC * ACC_NC],
		cov1[ACC_NC * ACC_NC], cov[ACC_NC * ACC_NC];
	mudsc_accum *acc = filled_accum(1, x);

	ck_assert_ok(mudsc_accum_correlation(one, ACC_NC * ACC_NC, NULL, acc));
	ck_assert_ok(mudsc_accum_covariance(cov1, ACC_NC * ACC_NC, NULL, acc));
	mudsc_accum_free(acc);
	for (int a = 0; a < ACC_NC; a++)
		ck_assert_double_eq_tol(one[a * ACC_NC + a], 1.0, 1e-12);
	for (int32_t threads = 2; threads <= 4; threads *= 2) {
		acc = filled_accum(threads, x);
		ck_assert_ok(mudsc_accum_correlation(more, ACC_NC * ACC_NC, NULL, acc));
		ck_assert_ok(mudsc_accum_covariance(cov, ACC_NC * ACC_NC, NULL, acc));
		ck_assert_msg(memcmp(one, more, sizeof one) == 0, "correlation, %d threads", threads);
		ck_assert_msg(memcmp(cov1, cov, sizeof cov) == 0, "covariance, %d threads", threads);
		mudsc_accum_free(acc);
	}
}
END_TEST

/* Cross-block accumulators (N = 2 and 3, C = 640, blocks of 512 rows, F64
 * and F32 chunks): the moments of the 3 x 512-unit ranges and the
 * additions of the 2 x 2^18-entry ranges of each product run on the
 * threads (lib/accum/accum.c, cross_task).  The state is bit-identical for
 * 1 and 3 threads, and the means, standard deviations and sampled cross
 * correlations (every range's first and last entries and 40 others per
 * block) equal a two-pass double computation here, to the rounding of the
 * rows' type. */
enum { XC_C = 640, XC_ROWS = 700, XC_BLOCK = 512, XC_CHUNK = 300 };

static mudsc_accum *cross_accum(int32_t n, int32_t threads, const double *x, bool f32)
{
	mudsc_accum_options o = MUDSC_ACCUM_OPTIONS_INIT;
	mudsc_accum *acc;
	static float xf[3 * XC_ROWS * XC_C];

	o.mode = MUDSC_STATS_CROSS;
	o.threads = threads;
	ck_assert_ok(mudsc_accum_new(&acc, n, XC_C, &o));
	ck_assert_ok(mudsc_accum_set_block_rows(acc, XC_BLOCK));
	for (size_t k = 0; k < (size_t)n * XC_ROWS * XC_C; k++)
		xf[k] = (float)x[k];
	for (int64_t r = 0; r < XC_ROWS; r += XC_CHUNK)
		for (int32_t i = 0; i < n; i++) {
			const int64_t rows = XC_ROWS - r < XC_CHUNK ? XC_ROWS - r : XC_CHUNK;
			const size_t at = ((size_t)i * XC_ROWS + (size_t)r) * XC_C;
			mudsc_features v = {.dtype = f32 ? MUDSC_DTYPE_F32 : MUDSC_DTYPE_F64, .rank = 2,
			                    .shape = {rows, XC_C}, .feature_axis = 1};
			v.data = f32 ? (const void *)(xf + at) : (const void *)(x + at);
			ck_assert_ok(mudsc_accum_update(acc, i, &v));
		}
	return acc;
}

/* The correlation of model 0's unit a and model i's unit b, two passes in double. */
static double cross_entry(const double *x, int32_t i, size_t a, size_t b, const double *mean,
                          const double *sd)
{
	double s = 0.0;
	for (size_t r = 0; r < XC_ROWS; r++)
		s += (x[r * XC_C + a] - mean[a]) *
		     (x[((size_t)i * XC_ROWS + r) * XC_C + b] - mean[(size_t)i * XC_C + b]);
	return s / XC_ROWS / fmax(sd[a] * sd[(size_t)i * XC_C + b], 1e-7);
}

START_TEST(cross_blocks_same_for_every_thread_count)
{
	static double x[3 * XC_ROWS * XC_C], X[2 * XC_C * XC_C];
	const size_t CC = (size_t)XC_C * XC_C, NC = 3 * XC_C;
	double mean[3 * XC_C], sd[3 * XC_C], got_mean[3 * XC_C], got_sd[3 * XC_C];
	uint64_t seed = 5;

	/* model i's unit b follows model 0's unit (3 b + i) % C, plus noise */
	for (size_t r = 0; r < XC_ROWS; r++)
		for (size_t i = 0; i < 3; i++)
			for (size_t b = 0; b < XC_C; b++) {
				seed = seed * 6364136223846793005ull + 1442695040888963407ull;
				double e = (double)(seed >> 11) / 9007199254740992.0 - 0.5;
				x[(i * XC_ROWS + r) * XC_C + b] =
					i == 0 ? 3.0 + e + 1e-3 * (double)b
					       : 0.7 * x[r * XC_C + (3 * b + i) % XC_C] + 0.5 * e;
			}
	for (size_t u = 0; u < NC; u++) {
		const size_t i = u / XC_C, c = u % XC_C;
		double s = 0.0, q = 0.0;
		for (size_t r = 0; r < XC_ROWS; r++)
			s += x[(i * XC_ROWS + r) * XC_C + c];
		mean[u] = s / XC_ROWS;
		for (size_t r = 0; r < XC_ROWS; r++)
			q += (x[(i * XC_ROWS + r) * XC_C + c] - mean[u]) *
			     (x[(i * XC_ROWS + r) * XC_C + c] - mean[u]);
		sd[u] = sqrt(q / XC_ROWS);
	}
	for (int32_t n = 2; n <= 3; n++)
		for (int f32 = 0; f32 <= 1; f32++) {
			const double tol = f32 ? 2e-4 : 1e-10;
			mudsc_accum *one = cross_accum(n, 1, x, f32), *more = cross_accum(n, 3, x, f32);
			void *b1, *b3;
			size_t l1, l3;
			ck_assert_ok(mudsc_accum_serialize(&b1, &l1, one));
			ck_assert_ok(mudsc_accum_serialize(&b3, &l3, more));
			ck_assert_msg(l1 == l3 && memcmp(b1, b3, l1) == 0,
			              "N = %d, %s: the state differs with 3 threads", (int)n,
			              f32 ? "F32" : "F64");
			mudsc_free(b1);
			mudsc_free(b3);
			ck_assert_ok(mudsc_accum_means(got_mean, NC, NULL, more));
			ck_assert_ok(mudsc_accum_stddevs(got_sd, NC, NULL, more));
			ck_assert_ok(mudsc_accum_cross_correlation(X, 2 * CC, NULL, more));
			for (size_t u = 0; u < (size_t)n * XC_C; u++) {
				ck_assert_double_eq_tol(got_mean[u], mean[u], tol * 10.0);
				ck_assert_double_eq_tol(got_sd[u], sd[u], tol);
			}
			for (int32_t i = 1; i < n; i++)
				for (size_t e = 0; e < 44; e++) {
					/* the ranges' ends: 0, 2^18 - 1, 2^18, CC - 1; then spread out */
					const size_t ends[4] = {0, (1u << 18) - 1, 1u << 18, CC - 1};
					const size_t v = e < 4 ? ends[e] : (e * 104729u + 7u * (size_t)i) % CC;
					const double want = cross_entry(x, i, v / XC_C, v % XC_C, mean, sd);
					ck_assert_msg(fabs(X[(size_t)(i - 1) * CC + v] - want) <= tol,
					              "N = %d, %s, model %d, entry %zu: %.17g, expected %.17g",
					              (int)n, f32 ? "F32" : "F64", (int)i, v,
					              X[(size_t)(i - 1) * CC + v], want);
				}
			mudsc_accum_free(one);
			mudsc_accum_free(more);
		}
}
END_TEST

/* Weight matching and weight zip on the wide MLP, both precisions, N = 2
 * and 3: sweeps, objectives, scores and assignments bit for bit with 1 and
 * 3 threads (3 threads are min(N, 3) workers: 2 for N = 2, 3 for N = 3). */
START_TEST(weight_similarity_same_for_every_thread_count)
{
	struct tf_wide f;
	struct tf_wide_result one, more;

	ck_assert_ok(tf_wide_make(&f, 3));
	for (int32_t n = 2; n <= 3; n++)
		for (int32_t method = MUDSC_METHOD_ALIGN; method <= MUDSC_METHOD_ZIP; method++)
			for (int32_t prec = MUDSC_PRECISION_F32; prec <= MUDSC_PRECISION_F64; prec++) {
				ck_assert_ok(tf_wide_run(&one, &f, n, method, prec, 1));
				ck_assert_int_ge(one.sweeps, 1);
				ck_assert_ok(tf_wide_run(&more, &f, n, method, prec, 3));
				ck_assert_msg(memcmp(&one, &more, sizeof one) == 0,
				              "N = %d, method %d, precision %d: results differ with 3 threads",
				              (int)n, (int)method, (int)prec);
			}
	tf_wide_free(&f);
}
END_TEST

/* Tensor by tensor, in blocks of columns (docs/algorithm.md section 25;
 * and with the cross blocks released after each matching, 25.3): with a
 * chunk budget of 7 N C floats the wide MLP's hidden point (w0, b0, w1 of
 * layer 1: 600, 1 and 16 columns) is cut into chunks of at most 7 columns,
 * w0 in 86 blocks whose last 5 columns are joined by b0, then w1 in blocks
 * of 7, 7 and 2.  Weight matching in float32 then gives the assignments
 * of one chunk, objectives within the float32 bound of section 21,
 * (D+2)u/(1-(D+2)u) with D = 617, of the float64 run, and the same bits
 * for 1 and 3 threads. */
START_TEST(weight_similarity_tensor_by_tensor)
{
	struct tf_wide f;
	struct tf_wide_result one, chunked, f64, more;
	const double u = 0x1p-24, Du = (617.0 + 2.0) * u, bound = Du / (1.0 - Du);

	ck_assert_ok(tf_wide_make(&f, 3));
	for (int32_t n = 2; n <= 3; n++) {
		mudsc__wsim_chunk_floats = MUDSC__WSIM_CHUNK_FLOATS;
		ck_assert_ok(tf_wide_run(&one, &f, n, MUDSC_METHOD_ALIGN, MUDSC_PRECISION_F32, 1));
		ck_assert_ok(tf_wide_run(&f64, &f, n, MUDSC_METHOD_ALIGN, MUDSC_PRECISION_F64, 1));
		mudsc__wsim_chunk_floats = 7 * (size_t)n * TF_WIDE_H;
		ck_assert_ok(tf_wide_run(&chunked, &f, n, MUDSC_METHOD_ALIGN, MUDSC_PRECISION_F32, 1));
		ck_assert_int_eq(chunked.sweeps, one.sweeps);
		ck_assert_int_eq(chunked.sweeps, f64.sweeps);
		ck_assert_msg(memcmp(chunked.assign, one.assign, sizeof one.assign) == 0,
		              "N = %d: tensor by tensor changed the assignments", (int)n);
		for (int32_t s = 0; s < chunked.sweeps; s++)
			ck_assert_msg(fabs(chunked.objectives[s] - f64.objectives[s]) <= bound,
			              "N = %d, sweep %d: %.17g against float64 %.17g", (int)n, (int)s,
			              chunked.objectives[s], f64.objectives[s]);
		ck_assert_ok(tf_wide_run(&more, &f, n, MUDSC_METHOD_ALIGN, MUDSC_PRECISION_F32, 3));
		ck_assert_msg(memcmp(&chunked, &more, sizeof more) == 0,
		              "N = %d: tensor by tensor differs with 3 threads", (int)n);
		/* the cross blocks released after every matching: the same bits */
		mudsc__wsim_cache_keep = 0.0;
		ck_assert_ok(tf_wide_run(&more, &f, n, MUDSC_METHOD_ALIGN, MUDSC_PRECISION_F32, 2));
		mudsc__wsim_cache_keep = MUDSC__WSIM_CACHE_KEEP;
		ck_assert_msg(memcmp(&chunked, &more, sizeof more) == 0,
		              "N = %d: released cross blocks change the result", (int)n);
	}
	mudsc__wsim_chunk_floats = MUDSC__WSIM_CHUNK_FLOATS;
	tf_wide_free(&f);
}
END_TEST

/* The fixture's models with every tensor rounded to F16. */
static void wide_f16(struct tf_wide *h, const struct tf_wide *f, int32_t n)
{
	*h = *f;
	for (int32_t i = 0; i < n; i++) {
		ck_assert_ok(mudsc_model_new(&h->m[i]));
		for (size_t k = 0; k < mudsc_model_count(f->m[i]); k++) {
			mudsc_tensor t;
			ck_assert_ok(mudsc_model_at(&t, f->m[i], k));
			size_t numel = t.nbytes / 4;
			uint16_t *x = malloc(numel * sizeof *x + 2);
			for (size_t e = 0; e < numel; e++)
				x[e] = mudsc__f32_to_f16(((const float *)t.data)[e]);
			ck_assert_ok(mudsc_model_add(h->m[i], t.name, MUDSC_DTYPE_F16, t.rank, t.shape, x,
			                             MUDSC_COPY));
			free(x);
		}
	}
}

/* 16-bit tensors read in place (section 25.2): the float copy of the span
 * a block of columns reads and the element-by-element reads
 * (mudsc__wsim_span_floats = 0) give the same bits, with one chunk and in
 * blocks of 7 columns; the blocks give the assignments of one chunk and
 * objectives within twice the float32 bound of it (each is within the
 * bound of float64; no float64 run, to keep the suite short under
 * valgrind). */
START_TEST(weight_similarity_f16_in_place)
{
	struct tf_wide f, h;
	struct tf_wide_result one, elem, chunked, chunked_elem;
	const double u = 0x1p-24, Du = (617.0 + 2.0) * u, bound = Du / (1.0 - Du);
	const int32_t n = 2;

	ck_assert_ok(tf_wide_make(&f, n));
	wide_f16(&h, &f, n);
	ck_assert_ok(tf_wide_run(&one, &h, n, MUDSC_METHOD_ALIGN, MUDSC_PRECISION_F32, 2));
	mudsc__wsim_span_floats = 0;
	ck_assert_ok(tf_wide_run(&elem, &h, n, MUDSC_METHOD_ALIGN, MUDSC_PRECISION_F32, 2));
	ck_assert_msg(memcmp(&one, &elem, sizeof one) == 0, "element reads differ from the span");
	mudsc__wsim_chunk_floats = 7 * (size_t)n * TF_WIDE_H;
	ck_assert_ok(tf_wide_run(&chunked_elem, &h, n, MUDSC_METHOD_ALIGN, MUDSC_PRECISION_F32, 2));
	mudsc__wsim_span_floats = MUDSC__WSIM_SPAN_FLOATS;
	ck_assert_ok(tf_wide_run(&chunked, &h, n, MUDSC_METHOD_ALIGN, MUDSC_PRECISION_F32, 2));
	mudsc__wsim_chunk_floats = MUDSC__WSIM_CHUNK_FLOATS;
	ck_assert_msg(memcmp(&chunked, &chunked_elem, sizeof one) == 0,
	              "blocks: element reads differ from the span");
	ck_assert_int_eq(chunked.sweeps, one.sweeps);
	ck_assert_msg(memcmp(chunked.assign, one.assign, sizeof one.assign) == 0,
	              "blocks of columns changed the assignments");
	for (int32_t s = 0; s < chunked.sweeps; s++)
		ck_assert_msg(fabs(chunked.objectives[s] - one.objectives[s]) <= 2.0 * bound,
		              "sweep %d: %.17g against one chunk %.17g", (int)s, chunked.objectives[s],
		              one.objectives[s]);
	for (int32_t i = 0; i < n; i++)
		mudsc_model_free(h.m[i]);
	tf_wide_free(&f);
}
END_TEST

Suite *suite_threads(void)
{
	Suite *s = suite_create("threads");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, same_results_for_every_thread_count, 0,
	                    (int)(sizeof configs / sizeof configs[0]));
	tcase_add_test(tc, run_leaves_the_process_wide_blas_count);
	tcase_add_test(tc, first_failing_tensor_is_reported);
	tcase_add_test(tc, correlation_same_for_every_thread_count);
	tcase_add_test(tc, cross_blocks_same_for_every_thread_count);
	tcase_add_test(tc, weight_similarity_same_for_every_thread_count);
	tcase_add_test(tc, weight_similarity_tensor_by_tensor);
	tcase_add_test(tc, weight_similarity_f16_in_place);
	suite_add_tcase(s, tc);
	return s;
}
