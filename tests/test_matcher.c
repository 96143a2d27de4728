/* mudsc_matcher from C: a network merged with a permuted copy of itself is
 * the network (align and zip), the permutation is recovered, and every bad
 * input has its status; run under valgrind for leaks on all paths. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "suites.h"
#include "testutil.h"

enum { D_IN = 5, H1 = 6, H2 = 4, D_OUT = 3 };
static const int64_t P1[H1] = {3, 0, 5, 1, 4, 2};
static const int64_t P2[H2] = {2, 3, 1, 0};

struct mlp {
	double w0[H1][D_IN], b0[H1], w1[H2][H1], b1[H2], w2[D_OUT][H2], b2[D_OUT];
};

static double lcg(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (double)(*s >> 11) / 9007199254740992.0 - 0.5;
}

static void random_mlp(struct mlp *a)
{
	uint64_t s = 42;
	double *p = (double *)a;
	for (size_t i = 0; i < sizeof *a / sizeof(double); i++)
		p[i] = lcg(&s);
}

/* b = a with hidden units permuted: b's unit j is a's unit P[j]. */
static void permuted(struct mlp *b, const struct mlp *a)
{
	for (int j = 0; j < H1; j++) {
		for (int k = 0; k < D_IN; k++)
			b->w0[j][k] = a->w0[P1[j]][k];
		b->b0[j] = a->b0[P1[j]];
	}
	for (int j = 0; j < H2; j++) {
		for (int k = 0; k < H1; k++)
			b->w1[j][k] = a->w1[P2[j]][P1[k]];
		b->b1[j] = a->b1[P2[j]];
	}
	for (int j = 0; j < D_OUT; j++) {
		for (int k = 0; k < H2; k++)
			b->w2[j][k] = a->w2[j][P2[k]];
		b->b2[j] = a->b2[j];
	}
}

static mudsc_model *as_model(struct mlp *n)
{
	mudsc_model *m;
	int64_t s0[2] = {H1, D_IN}, s1[2] = {H2, H1}, s2[2] = {D_OUT, H2};
	int64_t c0 = H1, c1 = H2, c2 = D_OUT;
	ck_assert_ok(mudsc_model_new(&m));
	ck_assert_ok(mudsc_model_add(m, "layers.0.weight", MUDSC_DTYPE_F64, 2, s0, n->w0, MUDSC_BORROW));
	ck_assert_ok(mudsc_model_add(m, "layers.0.bias", MUDSC_DTYPE_F64, 1, &c0, n->b0, MUDSC_BORROW));
	ck_assert_ok(mudsc_model_add(m, "layers.1.weight", MUDSC_DTYPE_F64, 2, s1, n->w1, MUDSC_BORROW));
	ck_assert_ok(mudsc_model_add(m, "layers.1.bias", MUDSC_DTYPE_F64, 1, &c1, n->b1, MUDSC_BORROW));
	ck_assert_ok(mudsc_model_add(m, "layers.2.weight", MUDSC_DTYPE_F64, 2, s2, n->w2, MUDSC_BORROW));
	ck_assert_ok(mudsc_model_add(m, "layers.2.bias", MUDSC_DTYPE_F64, 1, &c2, n->b2, MUDSC_BORROW));
	return m;
}

static mudsc_graph *mlp_graph(void)
{
	mudsc_graph *g;
	int64_t hidden[2] = {H1, H2};
	mudsc_mlp_options o = MUDSC_MLP_OPTIONS_INIT;
	o.n_hidden = 2;
	o.hidden = hidden;
	ck_assert_ok(mudsc_graph_build_mlp(&g, &o));
	return g;
}

struct fixture {
	struct mlp a, b;
	mudsc_model *models[2];
	const mudsc_model *shared[2]; /* the same models, as the matcher takes them */
	mudsc_graph *graph;
};

static void setup_fixture(struct fixture *f)
{
	random_mlp(&f->a);
	permuted(&f->b, &f->a);
	f->models[0] = as_model(&f->a);
	f->models[1] = as_model(&f->b);
	f->shared[0] = f->models[0];
	f->shared[1] = f->models[1];
	f->graph = mlp_graph();
}

static void teardown_fixture(struct fixture *f)
{
	mudsc_model_free(f->models[0]);
	mudsc_model_free(f->models[1]);
	mudsc_graph_free(f->graph);
}

static void assert_merged_is(const mudsc_model *merged, const mudsc_model *expect, double tol)
{
	mudsc_tensor x, y;
	ck_assert_uint_eq(mudsc_model_count(merged), mudsc_model_count(expect));
	for (size_t i = 0; i < mudsc_model_count(expect); i++) {
		ck_assert_ok(mudsc_model_at(&x, expect, i));
		ck_assert_ok(mudsc_model_find(&y, merged, x.name));
		ck_assert_uint_eq(x.nbytes, y.nbytes);
		for (size_t k = 0; k < x.nbytes / 8; k++)
			ck_assert_msg(fabs(((const double *)x.data)[k] - ((const double *)y.data)[k]) <= tol,
			              "%s[%zu]", x.name, k);
	}
}

START_TEST(permuted_copy_merges_to_itself)
{
	struct fixture f;
	mudsc_matcher_options o = MUDSC_MATCHER_OPTIONS_INIT;
	mudsc_matcher *m;
	mudsc_model *merged, *back;
	int64_t perm[H1], perm2[H2];

	setup_fixture(&f);
	o.method = _i == 0 ? MUDSC_METHOD_ALIGN : MUDSC_METHOD_ZIP;
	ck_assert_ok(mudsc_matcher_new(&m, f.graph, f.shared, 2, &o));
	ck_assert_int_eq(mudsc_model_is_frozen(f.models[1]), 1);
	ck_assert_ok(mudsc_matcher_run(m));
	ck_assert_int_ge(mudsc_matcher_sweeps(m), 1);
	ck_assert_ok(mudsc_matcher_merge(&merged, m, NULL));
	assert_merged_is(merged, f.models[0], 1e-12);
	{
		/* model 1's unmerge matrix of point 0 sends its unit j to anchor unit P1[j] */
		double U[H1 * H1];
		int64_t width;
		ck_assert_ok(mudsc_matcher_point_result(&width, NULL, m, 0));
		ck_assert_int_eq(width, H1);
		ck_assert_ok(mudsc_matcher_matrix(U, H1 * H1, NULL, m, 0, 1, MUDSC_MATRIX_UNMERGE));
		for (int j = 0; j < H1; j++)
			for (int k = 0; k < H1; k++)
				ck_assert(U[j * H1 + k] == (k == P1[j] ? 1.0 : 0.0));
		ck_assert_status(mudsc_matcher_matrix(U, 5, NULL, m, 0, 1, MUDSC_MATRIX_MERGE),
		                 MUDSC_E_RANGE);
		ck_assert_status(mudsc_matcher_matrix(U, H1 * H1, NULL, m, 0, 2, MUDSC_MATRIX_MERGE),
		                 MUDSC_E_RANGE);
		ck_assert_status(mudsc_matcher_matrix(U, H1 * H1, NULL, m, 0, 1,
		                                      (mudsc_matrix_kind)7),
		                 MUDSC_E_INVALID);
	}
	mudsc_model_free(merged);
	if (_i == 0) {
		/* anchor unit k is model 1's unit j with P1[j] = k */
		ck_assert_ok(mudsc_matcher_permutation(perm, H1, NULL, m, 0, 1));
		ck_assert_ok(mudsc_matcher_permutation(perm2, H2, NULL, m, 1, 1));
		for (int j = 0; j < H1; j++)
			ck_assert_int_eq(perm[P1[j]], j);
		for (int j = 0; j < H2; j++)
			ck_assert_int_eq(perm2[P2[j]], j);
		ck_assert_ok(mudsc_matcher_transform(&back, m, 1));
		assert_merged_is(back, f.models[0], 0.0);
		mudsc_model_free(back);
	} else {
		ck_assert_status(mudsc_matcher_permutation(perm, H1, NULL, m, 0, 1), MUDSC_E_STATE);
	}
	mudsc_matcher_free(m);
	teardown_fixture(&f);
}
END_TEST

static int cancel_at_third(int64_t point, int32_t sweep, double score, void *user)
{
	(void)point;
	(void)sweep;
	(void)score;
	return ++*(int *)user == 3;
}

START_TEST(bad_inputs_and_cancel)
{
	struct fixture f;
	mudsc_matcher_options o = MUDSC_MATCHER_OPTIONS_INIT;
	mudsc_matcher *m;
	mudsc_model *merged;
	mudsc_accum *acc;
	int calls = 0;
	double S[4 * H1 * H1] = {0};

	setup_fixture(&f);
	o.alpha = -0.1;
	ck_assert_status(mudsc_matcher_new(&m, f.graph, f.shared, 2, &o), MUDSC_E_INVALID);
	ck_assert_error_has("alpha");
	o.alpha = 0.5;
	o.zip_r = 0.0;
	ck_assert_status(mudsc_matcher_new(&m, f.graph, f.shared, 2, &o), MUDSC_E_INVALID);
	ck_assert_error_has("zip_r");
	o.zip_r = 0.5;
	o.size = 8;
	ck_assert_status(mudsc_matcher_new(&m, f.graph, f.shared, 2, &o), MUDSC_E_INVALID);
	ck_assert_error_has("is not a size of mudsc_matcher_options");
	o.size = sizeof o;
	ck_assert_status(mudsc_matcher_new(&m, f.graph, f.shared, 1, &o), MUDSC_E_INVALID);
	ck_assert_status(mudsc_matcher_new(&m, NULL, f.shared, 2, &o), MUDSC_E_INVALID);
	{
		/* an unbound tensor missing from model 1, or of another shape there: refused
		 * at new() (merge() would read what is not there) */
		mudsc_model *short_b;
		const mudsc_model *pair[2] = {f.models[0], NULL};
		int64_t two = 2;
		ck_assert_ok(mudsc_model_new(&short_b));
		for (size_t k = 0; k + 1 < mudsc_model_count(f.models[1]); k++) {
			mudsc_tensor t;
			ck_assert_ok(mudsc_model_at(&t, f.models[1], k));
			ck_assert_ok(mudsc_model_add(short_b, t.name, t.dtype, t.rank, t.shape, t.data,
			                             MUDSC_BORROW));
		}
		pair[1] = short_b;
		ck_assert_status(mudsc_matcher_new(&m, f.graph, pair, 2, &o), MUDSC_E_MISMATCH);
		ck_assert_error_has("mudsc_matcher_new: tensor 'layers.2.bias' of model 0 is missing from model 1");
		ck_assert_ok(mudsc_model_add(short_b, "layers.2.bias", MUDSC_DTYPE_F64, 1, &two,
		                             f.b.b2, MUDSC_BORROW));
		ck_assert_status(mudsc_matcher_new(&m, f.graph, pair, 2, &o), MUDSC_E_MISMATCH);
		ck_assert_error_has("mudsc_matcher_new: tensor 'layers.2.bias' differs in ");
		mudsc_model_free(short_b);
	}

	o.progress = cancel_at_third;
	o.progress_user = &calls;
	ck_assert_ok(mudsc_matcher_new(&m, f.graph, f.shared, 2, &o));
	ck_assert_status(mudsc_matcher_merge(&merged, m, NULL), MUDSC_E_STATE);
	/* an accumulator of the wrong width for point 0 */
	ck_assert_ok(mudsc_accum_new(&acc, 2, H2, NULL));
	ck_assert_status(mudsc_matcher_set_activations(m, 0, acc), MUDSC_E_MISMATCH);
	mudsc_accum_free(acc);
	/* ... and one of the right width for 3 models instead of 2 */
	ck_assert_ok(mudsc_accum_new(&acc, 3, H1, NULL));
	ck_assert_status(mudsc_matcher_set_activations(m, 0, acc), MUDSC_E_MISMATCH);
	ck_assert_error_has("3 models");
	mudsc_accum_free(acc);
	ck_assert_status(mudsc_matcher_set_activation_similarity(m, 5, S, 4 * H1 * H1), MUDSC_E_RANGE);
	for (int i = 0; i < 2 * H1; i++)
		S[i * 2 * H1 + i] = 1.0;
	ck_assert_ok(mudsc_matcher_set_activation_similarity(m, 0, S, 4 * H1 * H1));
	ck_assert_status(mudsc_matcher_run(m), MUDSC_E_STATE); /* point 1 has none */
	ck_assert_error_has("layers");
	mudsc_matcher_free(m);

	ck_assert_ok(mudsc_matcher_new(&m, f.graph, f.shared, 2, &o));
	ck_assert_status(mudsc_matcher_run(m), MUDSC_E_CANCELLED);
	ck_assert_int_eq(calls, 3);
	ck_assert_int_eq(mudsc_matcher_sweeps(m), -1); /* nothing published */
	ck_assert_status(mudsc_matcher_merge(&merged, m, NULL), MUDSC_E_STATE);
	mudsc_matcher_free(m);
	mudsc_matcher_free(NULL);
	teardown_fixture(&f);
}
END_TEST

/* ---- the log callback: what the matcher tells the host ---------------- */

enum { LOG_CAP = 64 };
struct log_capture {
	int n;
	mudsc_log_level level[LOG_CAP];
	char text[LOG_CAP][1024];
};

static void capture(mudsc_log_level level, const char *message, void *user)
{
	struct log_capture *c = user;
	if (c->n < LOG_CAP) {
		c->level[c->n] = level;
		snprintf(c->text[c->n], sizeof c->text[0], "%s", message);
	}
	c->n++;
}

/* Index of the first captured message containing sub at level, or -1. */
static int find_log(const struct log_capture *c, mudsc_log_level level, const char *sub)
{
	for (int k = 0; k < c->n && k < LOG_CAP; k++)
		if (c->level[k] == level && strstr(c->text[k], sub) != NULL)
			return k;
	return -1;
}

START_TEST(log_messages_tell_the_host)
{
	struct fixture f;
	struct log_capture cap = {0};
	mudsc_matcher *m;
	mudsc_model *merged;
	double obj[128];
	int sweeps = 0;

	setup_fixture(&f);
	mudsc_log_set_callback(capture, MUDSC_LOG_INFO, &cap);
	ck_assert_ok(mudsc_matcher_new(&m, f.graph, f.shared, 2, NULL));
	/* the MLP builder leaves the output layer's bias unbound */
	ck_assert_int_ge(find_log(&cap, MUDSC_LOG_INFO, "'layers.2.bias' is bound to no point"), 0);
	ck_assert_int_lt(find_log(&cap, MUDSC_LOG_INFO, "'layers.0.bias'"), 0);
	ck_assert_ok(mudsc_matcher_run(m));
	ck_assert_int_ge(find_log(&cap, MUDSC_LOG_WARNING, "alpha = 0.5 is taken as 1"), 0);
	/* one message per sweep, carrying the objective the getter returns */
	ck_assert_ok(mudsc_matcher_objectives(obj, 128, NULL, m));
	for (int k = 0; k < cap.n && k < LOG_CAP; k++) {
		int s;
		double v;
		const char *at = strstr(cap.text[k], "sweep ");
		if (at == NULL || sscanf(at, "sweep %d: objective %lg", &s, &v) != 2)
			continue;
		ck_assert_int_eq(s, sweeps);
		ck_assert(fabs(v - obj[s]) <= 1e-8 * fmax(1.0, fabs(obj[s])));
		sweeps++;
	}
	ck_assert_int_eq(sweeps, mudsc_matcher_sweeps(m));
	ck_assert_ok(mudsc_matcher_merge(&merged, m, NULL));
	ck_assert_int_lt(find_log(&cap, MUDSC_LOG_INFO, "re-estimate"), 0); /* nothing ignored */
	mudsc_model_free(merged);
	mudsc_matcher_free(m);

	/* a level filters: WARNING lets the alpha notice through, not the INFO ones */
	cap.n = 0;
	mudsc_log_set_callback(capture, MUDSC_LOG_WARNING, &cap);
	ck_assert_ok(mudsc_matcher_new(&m, f.graph, f.shared, 2, NULL));
	ck_assert_ok(mudsc_matcher_run(m));
	ck_assert_int_eq(cap.n, 1);
	ck_assert_int_eq(cap.level[0], MUDSC_LOG_WARNING);
	mudsc_matcher_free(m);

	/* removed: silence */
	cap.n = 0;
	mudsc_log_set_callback(NULL, MUDSC_LOG_DEBUG, NULL);
	ck_assert_ok(mudsc_matcher_new(&m, f.graph, f.shared, 2, NULL));
	ck_assert_ok(mudsc_matcher_run(m));
	mudsc_matcher_free(m);
	ck_assert_int_eq(cap.n, 0);
	teardown_fixture(&f);
}
END_TEST

/* A graph whose first point binds the bias with MUDSC_BIND_IGNORE, as
 * BatchNorm running statistics are bound: merge() advises re-estimation. */
START_TEST(log_advises_reestimation_after_merge)
{
	struct fixture f;
	struct log_capture cap = {0};
	mudsc_graph *g;
	mudsc_matcher *m;
	mudsc_model *merged;
	size_t p0, p1;
	int k;

	setup_fixture(&f);
	ck_assert_ok(mudsc_graph_new(&g));
	ck_assert_ok(mudsc_graph_add_point(&p0, g, "h0", H1, 1));
	ck_assert_ok(mudsc_graph_bind(g, p0, "layers.0.weight", NULL, 0, MUDSC_ROLE_OUT, 0));
	ck_assert_ok(mudsc_graph_bind(g, p0, "layers.0.bias", NULL, 0, MUDSC_ROLE_OUT,
	                              MUDSC_BIND_IGNORE));
	ck_assert_ok(mudsc_graph_bind(g, p0, "layers.1.weight", NULL, 1, MUDSC_ROLE_IN, 0));
	ck_assert_ok(mudsc_graph_add_point(&p1, g, "h1", H2, 1));
	ck_assert_ok(mudsc_graph_bind(g, p1, "layers.1.weight", NULL, 0, MUDSC_ROLE_OUT, 0));
	ck_assert_ok(mudsc_graph_bind(g, p1, "layers.1.bias", NULL, 0, MUDSC_ROLE_OUT, 0));
	ck_assert_ok(mudsc_graph_bind(g, p1, "layers.2.weight", NULL, 1, MUDSC_ROLE_IN, 0));
	mudsc_log_set_callback(capture, MUDSC_LOG_INFO, &cap);
	ck_assert_ok(mudsc_matcher_new(&m, g, f.shared, 2, NULL));
	ck_assert_ok(mudsc_matcher_run(m));
	ck_assert_int_lt(find_log(&cap, MUDSC_LOG_INFO, "re-estimate"), 0); /* not before merge */
	ck_assert_ok(mudsc_matcher_merge(&merged, m, NULL));
	k = find_log(&cap, MUDSC_LOG_INFO, "re-estimate them");
	ck_assert_int_ge(k, 0);
	ck_assert_ptr_nonnull(strstr(cap.text[k], "1 bound axes"));
	mudsc_log_set_callback(NULL, MUDSC_LOG_WARNING, NULL);
	mudsc_model_free(merged);
	mudsc_matcher_free(m);
	mudsc_graph_free(g);
	teardown_fixture(&f);
}
END_TEST

/* Matchers created on two threads over the same models (not yet frozen):
 * both freeze them through the const models they are given, a race-free
 * write (run this suite under ThreadSanitizer to see it). */
static void *new_and_run(void *arg)
{
	const struct fixture *f = arg;
	mudsc_matcher *m = NULL;
	mudsc_status st = mudsc_matcher_new(&m, f->graph, f->shared, 2, NULL);
	if (st == MUDSC_OK)
		st = mudsc_matcher_run(m);
	mudsc_matcher_free(m);
	return (void *)(intptr_t)st;
}

START_TEST(matchers_on_two_threads_share_models)
{
	struct fixture f;
	pthread_t th[2];
	void *st[2];

	setup_fixture(&f);
	ck_assert_int_eq(mudsc_model_is_frozen(f.models[0]), 0);
	for (int k = 0; k < 2; k++)
		ck_assert_int_eq(pthread_create(&th[k], NULL, new_and_run, &f), 0);
	for (int k = 0; k < 2; k++) {
		ck_assert_int_eq(pthread_join(th[k], &st[k]), 0);
		ck_assert_int_eq((intptr_t)st[k], MUDSC_OK);
	}
	ck_assert_int_eq(mudsc_model_is_frozen(f.models[0]), 1);
	ck_assert_int_eq(mudsc_model_is_frozen(f.models[1]), 1);
	ck_assert_status(mudsc_model_remove(f.models[0], "layers.0.bias"), MUDSC_E_STATE);
	teardown_fixture(&f);
}
END_TEST

/* ---- issue 11: reliability ---------------------------------------------- */

/* An MLP 3-4-2 (one hidden point of width 4), model k's values from seed k. */
enum { R_IN = 3, R_H = 4, R_OUT = 2 };
struct small_mlp {
	double w0[R_H][R_IN], b0[R_H], w1[R_OUT][R_H], b1[R_OUT];
};

/* A model of an MLP in-h-out with one hidden layer: borrowed f64 tensors. */
static mudsc_model *mlp1_model(int64_t in, int64_t h, int64_t out, const double *w0,
                               const double *b0, const double *w1, const double *b1)
{
	mudsc_model *m;
	int64_t s0[2] = {h, in}, s1[2] = {out, h};
	ck_assert_ok(mudsc_model_new(&m));
	ck_assert_ok(mudsc_model_add(m, "layers.0.weight", MUDSC_DTYPE_F64, 2, s0, w0, MUDSC_BORROW));
	ck_assert_ok(mudsc_model_add(m, "layers.0.bias", MUDSC_DTYPE_F64, 1, &h, b0, MUDSC_BORROW));
	ck_assert_ok(mudsc_model_add(m, "layers.1.weight", MUDSC_DTYPE_F64, 2, s1, w1, MUDSC_BORROW));
	ck_assert_ok(mudsc_model_add(m, "layers.1.bias", MUDSC_DTYPE_F64, 1, &out, b1, MUDSC_BORROW));
	return m;
}

static mudsc_graph *mlp1_graph(int64_t h)
{
	mudsc_graph *g;
	mudsc_mlp_options o = MUDSC_MLP_OPTIONS_INIT;
	o.n_hidden = 1;
	o.hidden = &h;
	ck_assert_ok(mudsc_graph_build_mlp(&g, &o));
	return g;
}

/* Two MLPs 3-4-2 (model i's values from seed + i) and their graph. */
struct small_pair {
	struct small_mlp n[2];
	mudsc_model *models[2];
	const mudsc_model *shared[2];
	mudsc_graph *g;
};

static void small_pair_setup(struct small_pair *f, uint64_t seed)
{
	for (int i = 0; i < 2; i++) {
		uint64_t s = seed + (uint64_t)i;
		double *p = (double *)&f->n[i];
		for (size_t k = 0; k < sizeof f->n[i] / sizeof(double); k++)
			p[k] = lcg(&s);
		f->shared[i] = f->models[i] = mlp1_model(R_IN, R_H, R_OUT, &f->n[i].w0[0][0],
		                                         f->n[i].b0, &f->n[i].w1[0][0], f->n[i].b1);
	}
	f->g = mlp1_graph(R_H);
}

static void small_pair_teardown(struct small_pair *f)
{
	for (int i = 0; i < 2; i++)
		mudsc_model_free(f->models[i]);
	mudsc_graph_free(f->g);
}

/* tensor `name` of m, element k */
static double at(const mudsc_model *m, const char *name, size_t k)
{
	mudsc_tensor t;
	ck_assert_ok(mudsc_model_find(&t, m, name));
	ck_assert_uint_gt(t.nbytes / 8, k);
	return ((const double *)t.data)[k];
}

/* Expected tensors when all N*C units collapse into C' = 1: the OUT axis
 * takes the mean of the members (Mhat = 1/4 per unit of a model, weights
 * 1/2), the IN axis their sum (U = 1); `only` >= 0: model only's T' alone. */
static void check_collapsed(const mudsc_model *got, const struct small_mlp *n, int only)
{
	double tol = 1e-14;
	int64_t shape_w0, shape_w1;
	mudsc_tensor t;

	ck_assert_ok(mudsc_model_find(&t, got, "layers.0.weight"));
	shape_w0 = t.shape[0];
	ck_assert_ok(mudsc_model_find(&t, got, "layers.1.weight"));
	shape_w1 = t.shape[1];
	ck_assert_int_eq(shape_w0, 1);
	ck_assert_int_eq(shape_w1, 1);
	for (int k = 0; k < R_IN; k++) {
		double e = 0.0;
		for (int i = 0; i < 2; i++)
			for (int u = 0; u < R_H; u++)
				if (only < 0 || only == i)
					e += n[i].w0[u][k] / (only < 0 ? 2.0 * R_H : (double)R_H);
		ck_assert_double_eq_tol(at(got, "layers.0.weight", (size_t)k), e, tol);
	}
	{
		double e = 0.0;
		for (int i = 0; i < 2; i++)
			for (int u = 0; u < R_H; u++)
				if (only < 0 || only == i)
					e += n[i].b0[u] / (only < 0 ? 2.0 * R_H : (double)R_H);
		ck_assert_double_eq_tol(at(got, "layers.0.bias", 0), e, tol);
	}
	for (int r = 0; r < R_OUT; r++) {
		double e = 0.0, eb = 0.0;
		for (int i = 0; i < 2; i++) {
			if (only >= 0 && only != i)
				continue;
			for (int u = 0; u < R_H; u++)
				e += n[i].w1[r][u] / (only < 0 ? 2.0 : 1.0);
			eb += n[i].b1[r] / (only < 0 ? 2.0 : 1.0);
		}
		ck_assert_double_eq_tol(at(got, "layers.1.weight", (size_t)r), e, tol);
		ck_assert_double_eq_tol(at(got, "layers.1.bias", (size_t)r), eb, tol);
	}
}

/* Defect 1: zip with C > N*C' (C = 4, N = 2, zip_r = 0.8: C' = 1) wrote C
 * merge scales into a buffer of N*C' (ASan: heap-buffer-overflow in
 * mudsc__corr_scales from mudsc_matcher_merge). */
START_TEST(zip_narrower_than_a_model_merges)
{
	struct small_pair f;
	mudsc_model *merged, *t;
	mudsc_matcher_options o = MUDSC_MATCHER_OPTIONS_INIT;
	mudsc_matcher *m;
	int64_t width, assign[2 * R_H];

	small_pair_setup(&f, 7);
	o.method = MUDSC_METHOD_ZIP;
	o.zip_r = 0.8;
	ck_assert_ok(mudsc_matcher_new(&m, f.g, f.shared, 2, &o));
	ck_assert_ok(mudsc_matcher_run(m));
	ck_assert_ok(mudsc_matcher_point_result(&width, NULL, m, 0));
	ck_assert_int_eq(width, 1);
	ck_assert_ok(mudsc_matcher_assignment(assign, 2 * R_H, NULL, m, 0));
	for (int u = 0; u < 2 * R_H; u++)
		ck_assert_int_eq(assign[u], 0);
	ck_assert_ok(mudsc_matcher_merge(&merged, m, NULL));
	check_collapsed(merged, f.n, -1);
	mudsc_model_free(merged);
	for (int i = 0; i < 2; i++) {
		ck_assert_ok(mudsc_matcher_transform(&t, m, i));
		check_collapsed(t, f.n, i);
		mudsc_model_free(t);
	}
	mudsc_matcher_free(m);
	small_pair_teardown(&f);
}
END_TEST

/* Defect 11a: a point with no bindings is refused by mudsc_matcher_new,
 * naming the point (it used to be accepted and fail only at run()). */
START_TEST(point_without_bindings_refused_at_new)
{
	struct small_pair f;
	mudsc_matcher *m = (mudsc_matcher *)&f; /* must stay untouched */
	mudsc_matcher *const before = m;

	small_pair_setup(&f, 7);
	ck_assert_ok(mudsc_graph_add_point(NULL, f.g, "lonely", 3, 1));
	ck_assert_status(mudsc_matcher_new(&m, f.g, f.shared, 2, NULL), MUDSC_E_INVALID);
	ck_assert_error_has("mudsc_matcher_new: point 'lonely'");
	ck_assert_error_has("no bindings");
	ck_assert_ptr_eq(m, before);
	small_pair_teardown(&f);
}
END_TEST

/* Defect 8: a point of width 40000 with N = 2 (align's cross blocks
 * alone: 40000^2 doubles, 12.8 GB; zip's S_w 80000^2, 51.2 GB) is refused
 * by mudsc_matcher_new under the default budget, at once and naming the
 * figure, the budget and the option; an older caller's struct (without
 * max_memory) gets the default; 0 means no limit. */
START_TEST(memory_budget_refuses_at_new)
{
	enum { W = 40000 };
	static double w0[2][W], b0[2][W], w1[2][W], b1[2][1];
	mudsc_model *models[2];
	const mudsc_model *shared[2];
	mudsc_graph *g = mlp1_graph(W);
	mudsc_matcher *m = NULL;
	mudsc_matcher_options o = MUDSC_MATCHER_OPTIONS_INIT;
	uint64_t seed = 3;

	for (int i = 0; i < 2; i++) {
		for (int k = 0; k < W; k++) {
			w0[i][k] = lcg(&seed);
			b0[i][k] = lcg(&seed);
			w1[i][k] = lcg(&seed);
		}
		shared[i] = models[i] = mlp1_model(1, W, 1, w0[i], b0[i], w1[i], b1[i]);
	}
	ck_assert_int_eq(o.max_memory, MUDSC_MATCHER_MAX_MEMORY_DEFAULT);
	for (int method = 0; method < 2; method++) {
		o.method = method;
		ck_assert_status(mudsc_matcher_new(&m, g, shared, 2, &o), MUDSC_E_NOMEM);
		ck_assert_ptr_null(m);
		ck_assert_error_has("mudsc_matcher_new: mudsc_matcher_run() would allocate about");
		ck_assert_error_has(method == 0 ? "'layers.0' has N*C = 80000 units, one similarity "
		                                  "(align's (N-1) x C x C anchor blocks) is 12.8 GB"
		                                : "'layers.0' has N*C = 80000 units, one similarity "
		                                  "(N*C x N*C) is 51.2 GB");
		ck_assert_error_has("opts->max_memory = 8589934592 bytes");
		ck_assert_error_has("opts->max_memory");
	}
	/* NULL options and an older caller's struct: the default budget */
	ck_assert_status(mudsc_matcher_new(&m, g, shared, 2, NULL), MUDSC_E_NOMEM);
	{
		/* exactly the bytes of 0.2.0's first struct (through progress_user) */
		size_t first = offsetof(mudsc_matcher_options, max_memory);
		unsigned char *old = malloc(first);
		o.size = first;
		memcpy(old, &o, first);
		o.size = sizeof o;
		ck_assert_status(mudsc_matcher_new(&m, g, shared, 2, (const void *)old), MUDSC_E_NOMEM);
		free(old);
	}
	o.max_memory = -1;
	ck_assert_status(mudsc_matcher_new(&m, g, shared, 2, &o), MUDSC_E_INVALID);
	ck_assert_error_has("opts->max_memory");
	o.max_memory = 0; /* no limit: accepted (and not run here) */
	ck_assert_ok(mudsc_matcher_new(&m, g, shared, 2, &o));
	mudsc_matcher_free(m);
	for (int i = 0; i < 2; i++)
		mudsc_model_free(models[i]);
	mudsc_graph_free(g);
}
END_TEST

/* The budget is a threshold: the smallest budget new() accepts also lets
 * run() and merge() succeed, and activations, which need more (their
 * copies and S), are then refused by set_activation_similarity before
 * anything is copied. */
START_TEST(memory_budget_threshold_and_activations)
{
	struct small_pair f;
	mudsc_model *merged;
	mudsc_matcher_options o = MUDSC_MATCHER_OPTIONS_INIT;
	mudsc_matcher *m;
	int64_t lo = 1, hi = 1 << 30;
	double S[(2 * R_H) * (2 * R_H)] = {0};

	small_pair_setup(&f, 11);
	for (int k = 0; k < 2 * R_H; k++)
		S[k * 2 * R_H + k] = 1.0;
	o.threads = 1;
	o.max_memory = lo;
	ck_assert_status(mudsc_matcher_new(&m, f.g, f.shared, 2, &o), MUDSC_E_NOMEM);
	while (hi - lo > 1) { /* lo refused, hi accepted */
		o.max_memory = lo + (hi - lo) / 2;
		mudsc_status st = mudsc_matcher_new(&m, f.g, f.shared, 2, &o);
		ck_assert(st == MUDSC_OK || st == MUDSC_E_NOMEM);
		if (st == MUDSC_OK) {
			mudsc_matcher_free(m);
			hi = o.max_memory;
		} else {
			lo = o.max_memory;
		}
	}
	ck_assert_int_gt(hi, 1000);
	ck_assert_int_lt(hi, 1 << 20);
	o.max_memory = hi;
	ck_assert_ok(mudsc_matcher_new(&m, f.g, f.shared, 2, &o));
	ck_assert_ok(mudsc_matcher_run(m));
	ck_assert_ok(mudsc_matcher_merge(&merged, m, NULL));
	mudsc_model_free(merged);
	ck_assert_status(mudsc_matcher_set_activation_similarity(m, 0, S, sizeof S / sizeof *S),
	                 MUDSC_E_NOMEM);
	ck_assert_error_has("mudsc_matcher_set_activation_similarity: mudsc_matcher_run() with "
	                    "activations would allocate");
	mudsc_matcher_free(m);
	o.max_memory = 0;
	ck_assert_ok(mudsc_matcher_new(&m, f.g, f.shared, 2, &o));
	ck_assert_ok(mudsc_matcher_set_activation_similarity(m, 0, S, sizeof S / sizeof *S));
	mudsc_matcher_free(m);
	small_pair_teardown(&f);
}
END_TEST

Suite *suite_matcher(void)
{
	Suite *s = suite_create("matcher");
	TCase *tc = tcase_create("core");
	tcase_add_loop_test(tc, permuted_copy_merges_to_itself, 0, 2);
	tcase_add_test(tc, bad_inputs_and_cancel);
	tcase_add_test(tc, log_messages_tell_the_host);
	tcase_add_test(tc, log_advises_reestimation_after_merge);
	tcase_add_test(tc, matchers_on_two_threads_share_models);
	suite_add_tcase(s, tc);
	tc = tcase_create("reliability");
	tcase_add_test(tc, zip_narrower_than_a_model_merges);
	tcase_add_test(tc, point_without_bindings_refused_at_new);
	tcase_add_test(tc, memory_budget_refuses_at_new);
	tcase_add_test(tc, memory_budget_threshold_and_activations);
	suite_add_tcase(s, tc);
	return s;
}
