/*
 * The one sizing rule of every public array getter (include/mudsc/common.h):
 * capacity 0 returns the size (out may be NULL), a capacity too small is
 * MUDSC_E_RANGE with nothing written (and *needed still set), out NULL with
 * capacity > 0 is MUDSC_E_INVALID, and a larger capacity writes exactly
 * *needed elements.  tests/python/test_api_shape.py checks that this list is
 * every getter whose header declares (out, capacity, needed).
 */
#include <math.h>
#include <string.h>

#include "suites.h"
#include "testutil.h"

enum { N = 2, C = 3, NC = N * C, ROWS = 5 };

struct world {
	double w0[N][C][2], b0[N][C], w1[N][1][C];
	mudsc_model *models[N];
	mudsc_graph *graph;
	mudsc_matcher *matcher;
	mudsc_accum *accum;
	mudsc_field *field; /* K = 2, ROWS inputs, per-input detail kept */
};

/* Two 2-3-1 MLPs (model 1 a permuted copy of model 0), a matcher that has
 * run, an accumulator with ROWS observations. */
static void make_world(struct world *w)
{
	static const int perm[C] = {2, 0, 1};
	int64_t s0[2] = {C, 2}, c0 = C, s1[2] = {1, C}, hidden = C;
	mudsc_mlp_options mo = MUDSC_MLP_OPTIONS_INIT;
	double x[ROWS * C];

	for (int c = 0; c < C; c++) {
		w->w0[0][c][0] = c + 1.0;
		w->w0[0][c][1] = 1.0 / (c + 1);
		w->b0[0][c] = c * 0.5;
		w->w1[0][0][c] = 3.0 - c;
	}
	for (int c = 0; c < C; c++) {
		memcpy(w->w0[1][c], w->w0[0][perm[c]], sizeof w->w0[1][c]);
		w->b0[1][c] = w->b0[0][perm[c]];
		w->w1[1][0][c] = w->w1[0][0][perm[c]];
	}
	for (int i = 0; i < N; i++) {
		ck_assert_ok(mudsc_model_new(&w->models[i]));
		ck_assert_ok(mudsc_model_add(w->models[i], "layers.0.weight", MUDSC_DTYPE_F64, 2, s0,
		                             w->w0[i], MUDSC_BORROW));
		ck_assert_ok(mudsc_model_add(w->models[i], "layers.0.bias", MUDSC_DTYPE_F64, 1, &c0,
		                             w->b0[i], MUDSC_BORROW));
		ck_assert_ok(mudsc_model_add(w->models[i], "layers.1.weight", MUDSC_DTYPE_F64, 2, s1,
		                             w->w1[i], MUDSC_BORROW));
		/* two tensors no point binds, for mudsc_graph_unbound */
		ck_assert_ok(mudsc_model_add(w->models[i], "extra", MUDSC_DTYPE_F64, 1, &c0, w->b0[i],
		                             MUDSC_BORROW));
		ck_assert_ok(mudsc_model_add(w->models[i], "extra.too", MUDSC_DTYPE_F64, 1, &c0,
		                             w->b0[i], MUDSC_BORROW));
	}
	mo.n_hidden = 1;
	mo.hidden = &hidden;
	ck_assert_ok(mudsc_graph_build_mlp(&w->graph, &mo));
	ck_assert_ok(mudsc_matcher_new(&w->matcher, w->graph, (const mudsc_model *const *)w->models,
	                               N, NULL));
	ck_assert_ok(mudsc_matcher_run(w->matcher));
	ck_assert_ok(mudsc_accum_new(&w->accum, N, C, NULL));
	for (int k = 0; k < ROWS * C; k++)
		x[k] = sin(k * 0.7) + k % 3;
	mudsc_features f = {.dtype = MUDSC_DTYPE_F64, .rank = 2, .shape = {ROWS, C},
	                    .feature_axis = -1, .data = x};
	ck_assert_ok(mudsc_accum_update(w->accum, 0, &f));
	ck_assert_ok(mudsc_accum_update(w->accum, 1, &f));
	{
		mudsc_field_options fo = MUDSC_FIELD_OPTIONS_INIT;
		fo.steps = 2;
		fo.keep_inputs = 1;
		ck_assert_ok(mudsc_field_new(&w->field, N, C, &fo));
		ck_assert_ok(mudsc_field_begin(w->field, &f, NULL));
		for (int k = 0; k < 2 * N; k++)
			ck_assert_ok(mudsc_field_update(w->field, k % N, &f));
	}
}

static void free_world(struct world *w)
{
	mudsc_accum_free(w->accum);
	mudsc_field_free(w->field);
	mudsc_matcher_free(w->matcher);
	mudsc_graph_free(w->graph);
	for (int i = 0; i < N; i++)
		mudsc_model_free(w->models[i]);
}

/* One getter as the test calls it: elements of esize bytes. */
struct getter {
	const char *name;
	size_t esize;
	size_t expect; /* the element count for the world above */
	mudsc_status (*call)(struct world *w, void *out, size_t capacity, size_t *needed);
	size_t least; /* the fewest elements the world gives (0: 2, so that a capacity can
	                 be too small; 1 for a per-point getter: the world has one point) */
};

static mudsc_status g_unbound(struct world *w, void *out, size_t cap, size_t *needed)
{
	return mudsc_graph_unbound(out, cap, needed, w->graph, w->models[0]);
}
static mudsc_status g_correlation(struct world *w, void *out, size_t cap, size_t *needed)
{
	return mudsc_accum_correlation(out, cap, needed, w->accum);
}
static mudsc_status g_cross_correlation(struct world *w, void *out, size_t cap, size_t *needed)
{
	return mudsc_accum_cross_correlation(out, cap, needed, w->accum);
}
static mudsc_status g_covariance(struct world *w, void *out, size_t cap, size_t *needed)
{
	return mudsc_accum_covariance(out, cap, needed, w->accum);
}
static mudsc_status g_means(struct world *w, void *out, size_t cap, size_t *needed)
{
	return mudsc_accum_means(out, cap, needed, w->accum);
}
static mudsc_status g_stddevs(struct world *w, void *out, size_t cap, size_t *needed)
{
	return mudsc_accum_stddevs(out, cap, needed, w->accum);
}
static mudsc_status g_objectives(struct world *w, void *out, size_t cap, size_t *needed)
{
	return mudsc_matcher_objectives(out, cap, needed, w->matcher);
}
static mudsc_status g_assignment(struct world *w, void *out, size_t cap, size_t *needed)
{
	return mudsc_matcher_assignment(out, cap, needed, w->matcher, 0);
}
static mudsc_status g_point_alphas(struct world *w, void *out, size_t cap, size_t *needed)
{
	return mudsc_matcher_point_alphas(out, cap, needed, w->matcher);
}
static mudsc_status g_matrix(struct world *w, void *out, size_t cap, size_t *needed)
{
	return mudsc_matcher_matrix(out, cap, needed, w->matcher, 0, 1, MUDSC_MATRIX_MERGE);
}
static mudsc_status g_permutation(struct world *w, void *out, size_t cap, size_t *needed)
{
	return mudsc_matcher_permutation(out, cap, needed, w->matcher, 0, 1);
}
static mudsc_status g_field(struct world *w, void *out, size_t cap, size_t *needed)
{
	return mudsc_field_distances(out, cap, needed, w->field);
}
static mudsc_status g_field_steps(struct world *w, void *out, size_t cap, size_t *needed)
{
	return mudsc_field_step_distances(out, cap, needed, w->field);
}
static mudsc_status g_field_inputs(struct world *w, void *out, size_t cap, size_t *needed)
{
	return mudsc_field_input_distances(out, cap, needed, w->field);
}
static mudsc_status g_permute_point(struct world *w, void *out, size_t cap, size_t *needed)
{
	return mudsc_permute_point(out, cap, needed, w->graph, 0, 7);
}

static const struct getter getters[] = {
	{"mudsc_graph_unbound", sizeof(size_t), 2, g_unbound, 0},
	{"mudsc_accum_correlation", sizeof(double), NC * NC, g_correlation, 0},
	{"mudsc_accum_covariance", sizeof(double), NC * NC, g_covariance, 0},
	{"mudsc_accum_cross_correlation", sizeof(double), (N - 1) * C * C, g_cross_correlation, 0},
	{"mudsc_accum_means", sizeof(double), NC, g_means, 0},
	{"mudsc_accum_stddevs", sizeof(double), NC, g_stddevs, 0},
	{"mudsc_matcher_objectives", sizeof(double), 0 /* the sweeps: from the matcher */,
	 g_objectives, 0},
	{"mudsc_matcher_assignment", sizeof(int64_t), NC, g_assignment, 0},
	{"mudsc_matcher_point_alphas", sizeof(double), 1 /* the world's one point */, g_point_alphas,
	 1},
	{"mudsc_matcher_matrix", sizeof(double), C * C, g_matrix, 0},
	{"mudsc_matcher_permutation", sizeof(int64_t), C, g_permutation, 0},
	{"mudsc_field_distances", sizeof(double), N * N, g_field, 0},
	{"mudsc_field_step_distances", sizeof(double), 2 * N * N, g_field_steps, 0},
	{"mudsc_field_input_distances", sizeof(double), ROWS * N * N, g_field_inputs, 0},
	{"mudsc_permute_point", sizeof(int64_t), C, g_permute_point, 0},
};
enum { N_GETTERS = sizeof getters / sizeof getters[0] };

/* Errors that come before the size leave *needed alone; capacity 0 asks
 * for the size only, so state errors wait for a capacity. */
START_TEST(errors_before_the_size)
{
	struct world w;
	mudsc_matcher *fresh;
	mudsc_accum *empty;
	size_t needed = 77;
	int64_t perm[C];

	make_world(&w);
	ck_assert_status(mudsc_matcher_assignment(NULL, 0, &needed, w.matcher, 9), MUDSC_E_RANGE);
	ck_assert_status(mudsc_matcher_permutation(NULL, 0, &needed, w.matcher, 0, 5), MUDSC_E_RANGE);
	ck_assert_status(mudsc_matcher_objectives(NULL, 0, &needed, NULL), MUDSC_E_INVALID);
	ck_assert_status(mudsc_graph_unbound(NULL, 0, &needed, NULL, w.models[0]), MUDSC_E_INVALID);
	ck_assert_uint_eq(needed, 77);
	/* a matcher that has not run: sizes known from the graph only */
	ck_assert_ok(mudsc_matcher_new(&fresh, w.graph, (const mudsc_model *const *)w.models, N,
	                               NULL));
	ck_assert_ok(mudsc_matcher_permutation(NULL, 0, &needed, fresh, 0, 1));
	ck_assert_uint_eq(needed, C);
	ck_assert_status(mudsc_matcher_permutation(perm, C, NULL, fresh, 0, 1), MUDSC_E_STATE);
	ck_assert_status(mudsc_matcher_objectives(NULL, 0, &needed, fresh), MUDSC_E_STATE);
	ck_assert_status(mudsc_matcher_matrix(NULL, 0, &needed, fresh, 0, 1, MUDSC_MATRIX_MERGE),
	                 MUDSC_E_STATE);
	mudsc_matcher_free(fresh);
	/* an accumulator without observations: the size, then MUDSC_E_STATE */
	ck_assert_ok(mudsc_accum_new(&empty, N, C, NULL));
	ck_assert_ok(mudsc_accum_means(NULL, 0, &needed, empty));
	ck_assert_uint_eq(needed, NC);
	ck_assert_status(mudsc_accum_means((double[NC]){0}, NC, NULL, empty), MUDSC_E_STATE);
	mudsc_accum_free(empty);
	/* a field without inputs: the size, then MUDSC_E_STATE */
	{
		mudsc_field *none;
		ck_assert_ok(mudsc_field_new(&none, N, C, NULL));
		ck_assert_ok(mudsc_field_distances(NULL, 0, &needed, none));
		ck_assert_uint_eq(needed, N * N);
		ck_assert_status(mudsc_field_distances((double[N * N]){0}, N * N, NULL, none),
		                 MUDSC_E_STATE);
		mudsc_field_free(none);
	}
	free_world(&w);
}
END_TEST

START_TEST(capacity_zero_gives_the_size)
{
	const struct getter *g = &getters[_i];
	struct world w;
	size_t needed = 12345, expect;

	make_world(&w);
	expect = g->expect ? g->expect : (size_t)mudsc_matcher_sweeps(w.matcher);
	ck_assert_uint_ge(expect, g->least ? g->least : 2); /* so that a capacity can be too small */
	ck_assert_msg(g->call(&w, NULL, 0, &needed) == MUDSC_OK, "%s: %s", g->name,
	              mudsc_error_message());
	ck_assert_uint_eq(needed, expect);
	ck_assert_ok(g->call(&w, NULL, 0, NULL)); /* needed may be NULL */
	free_world(&w);
}
END_TEST

START_TEST(too_small_is_range_and_writes_nothing)
{
	const struct getter *g = &getters[_i];
	struct world w;
	unsigned char buf[1024], sentinel[1024];
	size_t needed = 0, n;

	make_world(&w);
	ck_assert_ok(g->call(&w, NULL, 0, &n));
	ck_assert_uint_le((n + 1) * g->esize, sizeof buf);
	memset(buf, 0xa5, sizeof buf);
	memcpy(sentinel, buf, sizeof buf);
	ck_assert_uint_ge(n, g->least ? g->least : 2);
	for (size_t cap = 1; cap < n; cap++) {
		needed = 0;
		ck_assert_status(g->call(&w, buf, cap, &needed), MUDSC_E_RANGE);
		ck_assert_error_has(g->name);
		ck_assert_uint_eq(needed, n);
		ck_assert_mem_eq(buf, sentinel, sizeof buf);
	}
	ck_assert_status(g->call(&w, NULL, n, NULL), MUDSC_E_INVALID);
	ck_assert_error_has("'out' is NULL");
	/* room for one more: exactly n elements are written */
	ck_assert_ok(g->call(&w, buf, n + 1, &needed));
	ck_assert_uint_eq(needed, n);
	ck_assert_mem_eq(buf + n * g->esize, sentinel + n * g->esize, sizeof buf - n * g->esize);
	ck_assert_msg(memcmp(buf, sentinel, n * g->esize) != 0, "%s wrote nothing", g->name);
	free_world(&w);
}
END_TEST

Suite *suite_getters(void)
{
	Suite *s = suite_create("getters");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, errors_before_the_size);
	tcase_add_loop_test(tc, capacity_zero_gives_the_size, 0, N_GETTERS);
	tcase_add_loop_test(tc, too_small_is_range_and_writes_nothing, 0, N_GETTERS);
	suite_add_tcase(s, tc);
	return s;
}
