/*
 * Suite `bad_input`: one table of bad calls across the public API (models,
 * safetensors bytes and files, graphs and their JSON, the ready builders'
 * options, accumulators and their features, matcher options and calls,
 * array getters' sizing, version, BLAS threads, the experimental kernels).
 * Each row is one call with the exact status it must return and a
 * substring of mudsc_error_message() that names what was wrong; the message
 * must also start with the name of the called function (the row's prefix,
 * or the function its call names).
 *
 * Every row writes only into `struct outs`, which is filled with a sentinel
 * byte before the call and must hold nothing else afterwards (outputs
 * untouched on failure), and the fixture's handles must keep their counts
 * (no partial write).  Rows whose call legitimately sets *needed (the
 * sizing rule of common.h: also with MUDSC_E_RANGE) pass `f->needed`, and
 * the row gives the value it must receive.  Each row is its own Check test
 * (a loop test over the table) with a fresh fixture, so under valgrind
 * (CK_FORK=no) a leak is charged to the suite.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mudsc/experimental.h"
#include "mudsc/mudsc.h"
#include "suites.h"
#include "testutil.h"

/* An MLP 3-4-4-2 (points "layers.0" and "layers.1", width 4). */
enum { IN = 3, H = 4, OUT = 2, NC = 2 * H, ROWS = 8 };

struct fx {
	mudsc_model *m[2];          /* the MLPs, frozen by the matchers */
	mudsc_model *fresh;         /* a mutable model with one tensor "w" and metadata */
	mudsc_model *wide, *f64;    /* model 1 with layers.0 of width 5; in F64 */
	const mudsc_model *pair[2], *pair_wide[2], *pair_f64[2], *pair_null[2];
	mudsc_graph *graph, *empty_graph, *split_graph;
	mudsc_accum *acc, *acc_empty, *acc3, *acc_lead;
	mudsc_field *gif, *gif3, *gif_open, *gif_done; /* N = 2 (3), D = H, K = 2 */
	void *gif_buf;              /* gif_done's bytes */
	size_t gif_len;
	mudsc_matcher *ran, *unrun, *zip, *part_acts;
	void *st_buf;               /* model 0 as safetensors bytes */
	size_t st_len;
	char *json;
	size_t json_len;
	void *acc_buf;              /* acc serialized */
	size_t acc_len;
	float w[2][H * IN + H + H * H + H + OUT * H + OUT];
	double w64[H * IN];
	double x[ROWS * H];
	double S[NC * NC];          /* a symmetric similarity */
	size_t needed;              /* for rows that must receive *needed */
	size_t counts[10];          /* handle counts before the call */
};

/* Everything a row may write: filled with SENTINEL before the call. */
struct outs {
	void *p[2];
	size_t idx, len, needed;
	int64_t i64[64];
	double d[64];
	int32_t i32;
	mudsc_tensor tensor;
	mudsc_point_info point;
	mudsc_binding_info binding;
	mudsc_split_info split;
	const char *key, *value;
};
#define SENTINEL 0xA5

static struct fx F;
static const int64_t concat_sizes_bad[2] = {3, 0};
static struct outs O;

static const char *const qkv_parts[] = {"q", "k", "v"};
static const char *const dup_parts[] = {"q", "q"};
static const int64_t hidden2[] = {H, H};
static const int64_t hidden_bad[] = {H, 0};

static float *add_layer(mudsc_model *m, float *p, int k, int64_t out, int64_t in)
{
	char name[32];
	int64_t shape[2] = {out, in};

	snprintf(name, sizeof name, "layers.%d.weight", k);
	ck_assert_ok(mudsc_model_add(m, name, MUDSC_DTYPE_F32, 2, shape, p, MUDSC_BORROW));
	p += out * in;
	snprintf(name, sizeof name, "layers.%d.bias", k);
	ck_assert_ok(mudsc_model_add(m, name, MUDSC_DTYPE_F32, 1, shape, p, MUDSC_BORROW));
	return p + out;
}

static mudsc_model *make_mlp(float *w, int64_t h0)
{
	mudsc_model *m = NULL;
	float *p = w;

	ck_assert_ok(mudsc_model_new(&m));
	p = add_layer(m, p, 0, h0, IN);
	p = add_layer(m, p, 1, H, h0);
	add_layer(m, p, 2, OUT, H);
	return m;
}

static mudsc_accum *make_accum(int32_t n, int64_t max_lead, int64_t rows)
{
	mudsc_accum_options o = MUDSC_ACCUM_OPTIONS_INIT;
	mudsc_accum *a = NULL;
	mudsc_features v = {.dtype = MUDSC_DTYPE_F64, .rank = 2, .shape = {rows, H},
	                    .feature_axis = 1, .data = F.x};

	o.max_lead = max_lead;
	ck_assert_ok(mudsc_accum_new(&a, n, H, &o));
	for (int32_t i = 0; i < n && rows > 0; i++)
		ck_assert_ok(mudsc_accum_update(a, i, &v));
	return a;
}

static void snapshot(size_t *c)
{
	int64_t n = 0;

	c[0] = mudsc_model_count(F.fresh);
	c[1] = mudsc_model_meta_count(F.fresh);
	c[2] = mudsc_graph_point_count(F.graph);
	c[3] = mudsc_graph_split_count(F.split_graph);
	c[4] = mudsc_graph_point_count(F.empty_graph);
	ck_assert_ok(mudsc_accum_count(&n, F.acc, -1));
	c[5] = (size_t)n;
	ck_assert_ok(mudsc_accum_count(&n, F.acc_lead, 0));
	c[6] = (size_t)n;
	c[7] = (size_t)mudsc_matcher_sweeps(F.ran);
	c[8] = (size_t)mudsc_field_inputs(F.gif_done);
	c[9] = (size_t)mudsc_field_inputs(F.gif);
}

static void setup(void)
{
	mudsc_mlp_options mo = MUDSC_MLP_OPTIONS_INIT;
	mudsc_matcher_options zo = MUDSC_MATCHER_OPTIONS_INIT;
	int64_t shape[2] = {H, IN};
	uint64_t s = 12345;

	memset(&F, 0, sizeof F);
	for (size_t i = 0; i < sizeof F.w / sizeof F.w[0][0]; i++) {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		(&F.w[0][0])[i] = (float)((double)(s >> 11) / 9007199254740992.0 - 0.5);
	}
	for (size_t i = 0; i < ROWS * H; i++) {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		F.x[i] = (double)(s >> 11) / 9007199254740992.0;
	}
	for (size_t i = 0; i < H * IN; i++)
		F.w64[i] = F.w[1][i];
	for (size_t a = 0; a < NC; a++)
		for (size_t b = 0; b < NC; b++)
			F.S[a * NC + b] = a == b ? 1.0 : 1.0 / (double)(1 + a + b);

	F.m[0] = make_mlp(F.w[0], H);
	F.m[1] = make_mlp(F.w[1], H);
	F.wide = make_mlp(F.w[1], H + 1);
	ck_assert_ok(mudsc_model_new(&F.f64));
	ck_assert_ok(mudsc_model_add(F.f64, "layers.0.weight", MUDSC_DTYPE_F64, 2, shape, F.w64,
	                             MUDSC_BORROW));
	for (size_t i = 1; i < mudsc_model_count(F.m[1]); i++) {
		mudsc_tensor t;
		ck_assert_ok(mudsc_model_at(&t, F.m[1], i));
		ck_assert_ok(mudsc_model_add(F.f64, t.name, t.dtype, t.rank, t.shape, t.data,
		                             MUDSC_BORROW));
	}
	ck_assert_ok(mudsc_model_new(&F.fresh));
	ck_assert_ok(mudsc_model_add(F.fresh, "w", MUDSC_DTYPE_F32, 2, shape, F.w[0], MUDSC_COPY));
	ck_assert_ok(mudsc_model_set_meta(F.fresh, "format", "pt"));
	ck_assert_ok(mudsc_model_save_buffer(&F.st_buf, &F.st_len, F.m[0]));
	F.pair[0] = F.pair_wide[0] = F.pair_f64[0] = F.pair_null[0] = F.m[0];
	F.pair[1] = F.m[1];
	F.pair_wide[1] = F.wide;
	F.pair_f64[1] = F.f64;

	mo.n_hidden = 2;
	mo.hidden = hidden2;
	ck_assert_ok(mudsc_graph_build_mlp(&F.graph, &mo));
	ck_assert_ok(mudsc_graph_to_json(&F.json, &F.json_len, F.graph));
	ck_assert_ok(mudsc_graph_new(&F.empty_graph));
	ck_assert_ok(mudsc_graph_new(&F.split_graph));
	ck_assert_ok(mudsc_graph_add_point(NULL, F.split_graph, "attn", 3 * H, 1));
	ck_assert_ok(mudsc_graph_add_split(F.split_graph, "qkv.weight", 0, 3, qkv_parts));

	F.acc = make_accum(2, 16384, ROWS);
	F.acc_empty = make_accum(2, 16384, 0);
	F.acc3 = make_accum(3, 16384, ROWS);
	F.acc_lead = make_accum(2, 2, 0);
	{
		mudsc_features v = {.dtype = MUDSC_DTYPE_F64, .rank = 2, .shape = {1, H},
		                    .feature_axis = 1, .data = F.x};
		ck_assert_ok(mudsc_accum_update(F.acc_lead, 0, &v)); /* one ahead of model 1 */
	}
	ck_assert_ok(mudsc_accum_serialize(&F.acc_buf, &F.acc_len, F.acc));
	{
		mudsc_field_options fo = MUDSC_FIELD_OPTIONS_INIT;
		mudsc_features x = {.dtype = MUDSC_DTYPE_F64, .rank = 2, .shape = {ROWS, H},
		                    .feature_axis = 1, .data = F.x};
		fo.steps = 2;
		fo.max_lead = ROWS;
		ck_assert_ok(mudsc_field_new(&F.gif, 2, H, &fo));
		ck_assert_ok(mudsc_field_new(&F.gif3, 3, H, &fo));
		ck_assert_ok(mudsc_field_new(&F.gif_open, 2, H, &fo));
		ck_assert_ok(mudsc_field_new(&F.gif_done, 2, H, &fo));
		ck_assert_ok(mudsc_field_begin(F.gif_open, &x, NULL));
		ck_assert_ok(mudsc_field_update(F.gif_open, 0, &x)); /* step 1 of model 0 */
		ck_assert_ok(mudsc_field_begin(F.gif_done, &x, NULL));
		for (int k = 0; k < 2; k++)
			for (int i = 0; i < 2; i++)
				ck_assert_ok(mudsc_field_update(F.gif_done, i, &x));
		ck_assert_int_eq(mudsc_field_inputs(F.gif_done), ROWS);
		ck_assert_ok(mudsc_field_save_buffer(&F.gif_buf, &F.gif_len, F.gif_done));
	}

	ck_assert_ok(mudsc_matcher_new(&F.ran, F.graph, F.pair, 2, NULL));
	ck_assert_ok(mudsc_matcher_run(F.ran));
	ck_assert_ok(mudsc_matcher_new(&F.unrun, F.graph, F.pair, 2, NULL));
	zo.method = MUDSC_METHOD_ZIP;
	ck_assert_ok(mudsc_matcher_new(&F.zip, F.graph, F.pair, 2, &zo));
	ck_assert_ok(mudsc_matcher_run(F.zip));
	ck_assert_ok(mudsc_matcher_new(&F.part_acts, F.graph, F.pair, 2, NULL));
	ck_assert_ok(mudsc_matcher_set_activations(F.part_acts, 0, F.acc));

	F.needed = 0;
	snapshot(F.counts);
	memset(&O, SENTINEL, sizeof O);
	mudsc_error_clear();
}

static void teardown(void)
{
	mudsc_matcher_free(F.ran);
	mudsc_matcher_free(F.unrun);
	mudsc_matcher_free(F.zip);
	mudsc_matcher_free(F.part_acts);
	mudsc_accum_free(F.acc);
	mudsc_accum_free(F.acc_empty);
	mudsc_accum_free(F.acc3);
	mudsc_accum_free(F.acc_lead);
	mudsc_field_free(F.gif);
	mudsc_field_free(F.gif3);
	mudsc_field_free(F.gif_open);
	mudsc_field_free(F.gif_done);
	mudsc_free(F.gif_buf);
	mudsc_graph_free(F.graph);
	mudsc_graph_free(F.empty_graph);
	mudsc_graph_free(F.split_graph);
	for (int i = 0; i < 2; i++)
		mudsc_model_free(F.m[i]);
	mudsc_model_free(F.fresh);
	mudsc_model_free(F.wide);
	mudsc_model_free(F.f64);
	mudsc_free(F.st_buf);
	mudsc_free(F.json);
	mudsc_free(F.acc_buf);
}

/* ---- calls that need a few statements ------------------------------- */

static int64_t shape_neg[2] = {H, -1};
static int64_t shape_big[2] = {INT64_MAX, 2};
static int64_t shape_ok[2] = {H, IN};

/* safetensors bytes of model 0 with the header length field replaced */
static mudsc_status load_with_header_len(uint64_t hlen)
{
	static uint8_t buf[4096];
	size_t n = F.st_len < sizeof buf ? F.st_len : sizeof buf;

	memcpy(buf, F.st_buf, n);
	for (int i = 0; i < 8; i++)
		buf[i] = (uint8_t)(hlen >> (8 * i));
	return mudsc_model_load_buffer((mudsc_model **)&O.p[0], buf, n, MUDSC_COPY);
}

/* safetensors bytes of model 0 with byte `at` of the header set to c */
static mudsc_status load_with_byte(size_t at, uint8_t c)
{
	static uint8_t buf[4096];
	size_t n = F.st_len < sizeof buf ? F.st_len : sizeof buf;

	memcpy(buf, F.st_buf, n);
	buf[at] = c;
	return mudsc_model_load_buffer((mudsc_model **)&O.p[0], buf, n, MUDSC_COPY);
}

static mudsc_status json_with(const char *from, const char *to)
{
	static char text[8192];
	const char *at = strstr(F.json, from);
	size_t head;

	ck_assert_ptr_nonnull(at);
	head = (size_t)(at - F.json);
	ck_assert_uint_lt(F.json_len + strlen(to), sizeof text);
	memcpy(text, F.json, head);
	strcpy(text + head, to);
	strcat(text, at + strlen(from));
	return mudsc_graph_from_json((mudsc_graph **)&O.p[0], text, strlen(text));
}

static mudsc_status accum_bytes_with(size_t at, uint8_t xor_mask)
{
	static uint8_t buf[8192];

	ck_assert_uint_le(F.acc_len, sizeof buf);
	memcpy(buf, F.acc_buf, F.acc_len);
	buf[at] ^= xor_mask;
	return mudsc_accum_deserialize((mudsc_accum **)&O.p[0], buf, F.acc_len, NULL);
}

static mudsc_status update_with(int32_t model, int32_t dtype, int32_t rank, int64_t rows,
                                int64_t width, int32_t axis, const void *data,
                                const int64_t *strides)
{
	mudsc_features v = {.dtype = dtype, .rank = rank, .shape = {rows, width},
	                    .feature_axis = axis, .data = data, .strides = strides};
	return mudsc_accum_update(F.acc, model, &v);
}

static mudsc_status update_nan(void)
{
	static double x[2 * H];

	for (int i = 0; i < 2 * H; i++)
		x[i] = i == H + 2 ? NAN : 0.25 * i;
	return update_with(0, MUDSC_DTYPE_F64, 2, 2, H, 1, x, NULL);
}

/* f32 values near FLT_MAX: the sums would overflow */
static mudsc_status update_f32_huge(void)
{
	static float x[2 * H];

	mudsc_features v = {.dtype = MUDSC_DTYPE_F32, .rank = 2, .shape = {2, H},
	                    .feature_axis = 1, .data = x};
	mudsc_accum *a = NULL;
	mudsc_status st;

	for (int i = 0; i < 2 * H; i++)
		x[i] = i == H + 1 ? 3e38f : 0.25f * (float)i;
	ck_assert_ok(mudsc_accum_new(&a, 2, H, NULL)); /* a fresh one: f32 rows */
	st = mudsc_accum_update(a, 0, &v);
	mudsc_accum_free(a);
	return st;
}

/* element strides whose byte offsets overflow int64 */
static mudsc_status update_strides_overflow(void)
{
	static const int64_t strides[2] = {INT64_MAX, 1};
	return update_with(0, MUDSC_DTYPE_F64, 2, 2, H, 1, F.x, strides);
}

static mudsc_status update_too_far_ahead(void)
{
	mudsc_features v = {.dtype = MUDSC_DTYPE_F64, .rank = 2, .shape = {2, H},
	                    .feature_axis = 1, .data = F.x};
	return mudsc_accum_update(F.acc_lead, 0, &v);
}

#define WITH_ACCUM_OPTS(field, value)                                                           \
	static mudsc_status accum_new_##field(void)                                                 \
	{                                                                                           \
		mudsc_accum_options o = MUDSC_ACCUM_OPTIONS_INIT;                                       \
		o.field = (value);                                                                      \
		return mudsc_accum_new((mudsc_accum **)&O.p[0], 2, H, &o);                              \
	}
WITH_ACCUM_OPTS(size, 1)
WITH_ACCUM_OPTS(nonfinite, 5)
WITH_ACCUM_OPTS(max_lead, -1)
WITH_ACCUM_OPTS(threads, -1)
WITH_ACCUM_OPTS(mode, 7)

/* A cross-block accumulator of F.x's rows for both models (issue 13). */
static mudsc_accum *cross_accum(void)
{
	mudsc_accum_options o = MUDSC_ACCUM_OPTIONS_INIT;
	mudsc_features v = {.dtype = MUDSC_DTYPE_F64, .rank = 2, .shape = {ROWS, H},
	                    .feature_axis = 1, .data = F.x};
	mudsc_accum *a = NULL;

	o.mode = MUDSC_STATS_CROSS;
	ck_assert_ok(mudsc_accum_new(&a, 2, H, &o));
	ck_assert_ok(mudsc_accum_update(a, 0, &v));
	ck_assert_ok(mudsc_accum_update(a, 1, &v));
	return a;
}

static mudsc_status cross_correlation_of_cross(void)
{
	mudsc_accum *a = cross_accum();
	mudsc_status st = mudsc_accum_correlation(O.d, 64, &F.needed, a);

	mudsc_accum_free(a);
	return st;
}

static mudsc_status cross_activations_for_zip(void)
{
	mudsc_accum *a = cross_accum();
	mudsc_status st = mudsc_matcher_set_activations(F.zip, 0, a);

	mudsc_accum_free(a);
	return st;
}

/* CCA (issue 18): a CCA matcher of the fixture's MLPs, freed by the helpers */
static mudsc_matcher *cca_matcher(double ridge)
{
	mudsc_matcher_options o = MUDSC_MATCHER_OPTIONS_INIT;
	mudsc_matcher *m = NULL;

	o.method = MUDSC_METHOD_CCA;
	o.cca_ridge = ridge;
	ck_assert_ok(mudsc_matcher_new(&m, F.graph, F.pair, 2, &o));
	return m;
}

static mudsc_status cross_activations_for_cca(void)
{
	mudsc_matcher *m = cca_matcher(0.1);
	mudsc_accum *a = cross_accum();
	mudsc_status st = mudsc_matcher_set_activations(m, 0, a);

	mudsc_accum_free(a);
	mudsc_matcher_free(m);
	return st;
}

static mudsc_status cca_run_without_stats(void)
{
	mudsc_matcher *m = cca_matcher(0.1);
	mudsc_status st = mudsc_matcher_run(m);

	mudsc_matcher_free(m);
	return st;
}

/* Covariances I but for unit `dead` (stacked index), 0: singular without a
 * ridge.  dead < 0: every point regular, and the run succeeds. */
static mudsc_matcher *cca_with_covariance(double ridge, int dead)
{
	mudsc_matcher *m = cca_matcher(ridge);
	double S[NC * NC] = {0};

	for (int a = 0; a < NC; a++)
		S[a * NC + a] = a == dead ? 0.0 : 1.0 + 0.1 * a;
	S[0 * NC + H] = S[H * NC + 0] = 0.5; /* a cross entry */
	for (size_t p = 0; p < 2; p++)
		ck_assert_ok(mudsc_matcher_set_activation_similarity(m, p, S, NC * NC));
	return m;
}

static mudsc_status cca_run_singular(void)
{
	mudsc_matcher *m = cca_with_covariance(0.0, H + 1);
	mudsc_status st = mudsc_matcher_run(m);

	mudsc_matcher_free(m);
	return st;
}

/* the discrete getters of a CCA result (the run succeeds, merge works) */
static mudsc_status cca_getter(int which)
{
	mudsc_matcher *m = cca_with_covariance(0.0, -1);
	mudsc_model *merged = NULL;
	double M[H * H];
	mudsc_status st;

	ck_assert_ok(mudsc_matcher_run(m));
	ck_assert_ok(mudsc_matcher_matrix(M, H * H, NULL, m, 0, 1, MUDSC_MATRIX_UNMERGE));
	ck_assert_ok(mudsc_matcher_merge(&merged, m, NULL));
	mudsc_model_free(merged);
	st = which == 0 ? mudsc_matcher_assignment(O.i64, 8, NULL, m, 0)
	                : mudsc_matcher_permutation(O.i64, 8, NULL, m, 0, 1);
	mudsc_matcher_free(m);
	return st;
}

static mudsc_status cca_assignment(void)
{
	return cca_getter(0);
}

static mudsc_status cca_permutation(void)
{
	return cca_getter(1);
}

static mudsc_status no_stats(mudsc_accum **out, size_t point, const char *name, int64_t width,
                             void *user)
{
	(void)out, (void)point, (void)name, (void)width, (void)user;
	return MUDSC_E_NOT_FOUND;
}

static mudsc_status run_with_failing_callback(void)
{
	ck_assert_ok(mudsc_matcher_set_stats_callback(F.unrun, no_stats, NULL));
	return mudsc_matcher_run(F.unrun);
}


#define WITH_MATCHER_OPTS(tag, field, value)                                                    \
	static mudsc_status matcher_new_##tag(void)                                                 \
	{                                                                                           \
		mudsc_matcher_options o = MUDSC_MATCHER_OPTIONS_INIT;                                   \
		o.field = (value);                                                                      \
		return mudsc_matcher_new((mudsc_matcher **)&O.p[0], F.graph, F.pair, 2, &o);            \
	}
WITH_MATCHER_OPTS(size, size, 7)
WITH_MATCHER_OPTS(method, method, 3)
WITH_MATCHER_OPTS(alpha, alpha, 1.5)
WITH_MATCHER_OPTS(alpha_nan, alpha, NAN)
WITH_MATCHER_OPTS(similarity, similarity, 9)
WITH_MATCHER_OPTS(zip_r, zip_r, 1.0)
WITH_MATCHER_OPTS(zip_b, zip_b, INFINITY)
WITH_MATCHER_OPTS(use_groups, use_groups, 2)
WITH_MATCHER_OPTS(max_iter, max_iter, 0)
WITH_MATCHER_OPTS(patience, patience, 0)
WITH_MATCHER_OPTS(threads, threads, -1)
WITH_MATCHER_OPTS(eps, eps, 0.0)
WITH_MATCHER_OPTS(max_memory, max_memory, -1)
WITH_MATCHER_OPTS(weight_precision, weight_precision, 2)
WITH_MATCHER_OPTS(cca_ridge, cca_ridge, -1.0)
WITH_MATCHER_OPTS(cca_ridge_nan, cca_ridge, NAN)
WITH_MATCHER_OPTS(sweep_order, sweep_order, 2)

/* a graph with a point that has no bindings: refused at new() */
static mudsc_status matcher_new_unbound_point(void)
{
	mudsc_mlp_options mo = MUDSC_MLP_OPTIONS_INIT;
	mudsc_graph *g = NULL;
	mudsc_status st;

	mo.n_hidden = 2;
	mo.hidden = hidden2;
	ck_assert_ok(mudsc_graph_build_mlp(&g, &mo));
	ck_assert_ok(mudsc_graph_add_point(NULL, g, "lonely", H, 1));
	st = mudsc_matcher_new((mudsc_matcher **)&O.p[0], g, F.pair, 2, NULL);
	mudsc_graph_free(g);
	return st;
}

static mudsc_status matcher_new_missing(void)
{
	const mudsc_model *pair[2] = {F.m[0], F.fresh};
	return mudsc_matcher_new((mudsc_matcher **)&O.p[0], F.graph, pair, 2, NULL);
}

#define WITH_MLP_OPTS(tag, field, value)                                                        \
	static mudsc_status mlp_##tag(void)                                                         \
	{                                                                                           \
		mudsc_mlp_options o = MUDSC_MLP_OPTIONS_INIT;                                           \
		o.n_hidden = 2;                                                                         \
		o.hidden = hidden2;                                                                     \
		o.field = (value);                                                                      \
		return mudsc_graph_build_mlp((mudsc_graph **)&O.p[0], &o);                              \
	}
WITH_MLP_OPTS(size, size, 3)
WITH_MLP_OPTS(n_hidden, n_hidden, 0)
WITH_MLP_OPTS(hidden, hidden, NULL)
WITH_MLP_OPTS(hidden_1, hidden, hidden_bad)
WITH_MLP_OPTS(prefix, prefix, NULL)
WITH_MLP_OPTS(bias, bias, 2)
WITH_MLP_OPTS(site, site, 2)
WITH_MLP_OPTS(template, layer_template, "fc")

/* one hidden layer: still two layers, so still two names needed */
static mudsc_status mlp_template_1(void)
{
	mudsc_mlp_options o = MUDSC_MLP_OPTIONS_INIT;
	o.n_hidden = 1;
	o.hidden = hidden2;
	o.layer_template = "fc";
	return mudsc_graph_build_mlp((mudsc_graph **)&O.p[0], &o);
}

#define WITH_RESNET_OPTS(tag, field, value)                                                     \
	static mudsc_status resnet_##tag(void)                                                      \
	{                                                                                           \
		mudsc_resnet_options o = MUDSC_RESNET_OPTIONS_INIT;                                     \
		o.field = (value);                                                                      \
		return mudsc_graph_build_resnet((mudsc_graph **)&O.p[0], &o);                           \
	}
WITH_RESNET_OPTS(n_stages, n_stages, 5)
WITH_RESNET_OPTS(blocks, blocks[1], 0)
WITH_RESNET_OPTS(widths, widths[2], 0)
WITH_RESNET_OPTS(norm, norm, 7)
WITH_RESNET_OPTS(bottleneck, bottleneck, 3)
WITH_RESNET_OPTS(site, site, -1)
WITH_RESNET_OPTS(stem_width, stem_width, 0)
WITH_RESNET_OPTS(widths_big, widths[0], INT64_MAX)
WITH_RESNET_OPTS(shortcut_same, shortcut_norm, "shortcut.0")
WITH_RESNET_OPTS(shortcut_block, shortcut_conv, "conv2")

/* GroupNorm(G): G must divide every width (stem 16, widths 16, 32, 64) */
static mudsc_status resnet_groups(int64_t groups, int64_t width0)
{
	mudsc_resnet_options o = MUDSC_RESNET_OPTIONS_INIT;
	o.norm = MUDSC_NORM_GROUP;
	o.norm_groups = groups;
	o.widths[0] = width0;
	return mudsc_graph_build_resnet((mudsc_graph **)&O.p[0], &o);
}

static mudsc_status resnet_preset(const char *name, int64_t mult)
{
	static mudsc_resnet_options o;
	mudsc_status st;

	ck_assert_ok(mudsc_resnet_options_init(&o));
	memcpy(&O.d[0], &o, sizeof o < sizeof O.d ? sizeof o : sizeof O.d);
	st = mudsc_resnet_options_preset(&o, name, mult);
	/* the options must be untouched too: compare with the copy */
	if (memcmp(&O.d[0], &o, sizeof o < sizeof O.d ? sizeof o : sizeof O.d) != 0)
		ck_abort_msg("mudsc_resnet_options_preset changed the options on failure");
	memset(&O.d[0], SENTINEL, sizeof O.d);
	return st;
}

#define WITH_VIT_OPTS(tag, field, value)                                                        \
	static mudsc_status vit_##tag(void)                                                         \
	{                                                                                           \
		mudsc_vit_options o = MUDSC_VIT_OPTIONS_INIT;                                           \
		o.depth = 2;                                                                            \
		o.field = (value);                                                                      \
		return mudsc_graph_build_vit((mudsc_graph **)&O.p[0], &o);                              \
	}
WITH_VIT_OPTS(heads, heads, 5)
WITH_VIT_OPTS(depth, depth, 0)
WITH_VIT_OPTS(dim, dim, 0)
WITH_VIT_OPTS(block_template, block_template, NULL)
WITH_VIT_OPTS(block_template_fixed, block_template, "block")
WITH_VIT_OPTS(mlp_dim, mlp_dim, 0)
WITH_VIT_OPTS(qkv_bias, qkv_bias, 2)
WITH_VIT_OPTS(patch_embed, patch_embed, -1)
WITH_VIT_OPTS(cls_token, cls_token, 7)
WITH_VIT_OPTS(pos_embed, pos_embed, 2)
WITH_VIT_OPTS(final_norm, final_norm, 3)
WITH_VIT_OPTS(head, head, 2)

#define WITH_LLAMA_OPTS(tag, field, value)                                                      \
	static mudsc_status llama_##tag(void)                                                       \
	{                                                                                           \
		mudsc_llama_options o = MUDSC_LLAMA_OPTIONS_INIT;                                       \
		o.n_layers = 2;                                                                         \
		o.field = (value);                                                                      \
		return mudsc_graph_build_llama((mudsc_graph **)&O.p[0], &o);                            \
	}
WITH_LLAMA_OPTS(dim, dim, 0)
WITH_LLAMA_OPTS(n_layers, n_layers, 0)
WITH_LLAMA_OPTS(num_heads, num_heads, 0)
WITH_LLAMA_OPTS(num_kv_heads, num_kv_heads, 5)
WITH_LLAMA_OPTS(head_dim, head_dim, -1)
WITH_LLAMA_OPTS(mlp_dim, mlp_dim, 0)
WITH_LLAMA_OPTS(attention_bias, attention_bias, 2)
WITH_LLAMA_OPTS(prefix, prefix, NULL)
WITH_LLAMA_OPTS(layer_template, layer_template, "layer")

static mudsc_status llama_head_dim_divides(void)
{
	mudsc_llama_options o = MUDSC_LLAMA_OPTIONS_INIT;
	o.num_heads = o.num_kv_heads = 3; /* 4096 / 3 is not whole, head_dim 0 */
	return mudsc_graph_build_llama((mudsc_graph **)&O.p[0], &o);
}

static mudsc_status llama_head_dim_overflow(void)
{
	mudsc_llama_options o = MUDSC_LLAMA_OPTIONS_INIT;
	o.head_dim = INT64_MAX / 2;
	return mudsc_graph_build_llama((mudsc_graph **)&O.p[0], &o);
}

static mudsc_status llama_size(void)
{
	mudsc_llama_options o = MUDSC_LLAMA_OPTIONS_INIT;
	o.size = 1;
	return mudsc_graph_build_llama((mudsc_graph **)&O.p[0], &o);
}

#define WITH_GPT2_OPTS(tag, field, value)                                                       \
	static mudsc_status gpt2_##tag(void)                                                        \
	{                                                                                           \
		mudsc_gpt2_options o = MUDSC_GPT2_OPTIONS_INIT;                                         \
		o.field = (value);                                                                      \
		return mudsc_graph_build_gpt2((mudsc_graph **)&O.p[0], &o);                             \
	}
WITH_GPT2_OPTS(dim, dim, 0)
WITH_GPT2_OPTS(n_layers, n_layers, 0)
WITH_GPT2_OPTS(heads, heads, 5)
WITH_GPT2_OPTS(mlp_dim, mlp_dim, 0)
WITH_GPT2_OPTS(lm_head, lm_head, 2)
WITH_GPT2_OPTS(block_template, block_template, "blk")
WITH_GPT2_OPTS(prefix, prefix, NULL)

static mudsc_status set_similarity_asymmetric(void)
{
	static double S[NC * NC];

	memcpy(S, F.S, sizeof S);
	S[1] += 0.25;
	return mudsc_matcher_set_activation_similarity(F.unrun, 0, S, NC * NC);
}

static mudsc_status set_similarity_nan(void)
{
	static double S[NC * NC];

	memcpy(S, F.S, sizeof S);
	S[NC + 1] = NAN;
	return mudsc_matcher_set_activation_similarity(F.unrun, 0, S, NC * NC);
}

/* ---- field distances (field.h) ---------------------------------------- */

static mudsc_status field_new_with(int which)
{
	mudsc_field_options o = MUDSC_FIELD_OPTIONS_INIT;

	switch (which) {
	case 0: o.steps = 0; break;
	case 1: o.rule = 9; break;
	case 2: o.size = 3; break;
	case 3: o.keep_inputs = 2; break;
	case 4: o.block_rows = 0; break;
	case 5: o.rule = MUDSC_QUAD_RIEMANN_TRAPEZOID; o.steps = 1; break;
	default: o.max_lead = -1; break;
	}
	return mudsc_field_new((mudsc_field **)&O.p[0], 2, H, &o);
}

static mudsc_status field_begin_with(mudsc_field *f, int64_t rows, int64_t width,
                                     int64_t base_rows, int nan)
{
	static double x[ROWS * (H + 1)];
	mudsc_features v = {.dtype = MUDSC_DTYPE_F64, .rank = 2, .shape = {rows, width},
	                    .feature_axis = 1, .data = x};
	mudsc_features b = {.dtype = MUDSC_DTYPE_F64, .rank = 2, .shape = {base_rows, width},
	                    .feature_axis = 1, .data = x};

	for (int i = 0; i < ROWS * (H + 1); i++)
		x[i] = nan && i == 5 ? INFINITY : 0.25 * i;
	return mudsc_field_begin(f, &v, base_rows >= 0 ? &b : NULL);
}

static mudsc_status field_update_with(mudsc_field *f, int32_t model, int64_t rows, int64_t width)
{
	static double g[3 * ROWS * (H + 1)];
	mudsc_features v = {.dtype = MUDSC_DTYPE_F64, .rank = 2, .shape = {rows, width},
	                    .feature_axis = 1, .data = g};

	return mudsc_field_update(f, model, &v);
}

static mudsc_status field_load_flipped(size_t at)
{
	static uint8_t buf[4096];

	ck_assert_uint_le(F.gif_len, sizeof buf);
	memcpy(buf, F.gif_buf, F.gif_len);
	buf[at] ^= 1;
	return mudsc_field_load_buffer((mudsc_field **)&O.p[0], buf, F.gif_len, NULL);
}

static const double weights_nan[2] = {0.5, NAN};
static const double weights_two[2] = {1.0, 1.0};
static const mudsc_average_options average_size3 = {.size = 3};
static const mudsc_average_options average_threads_neg = {.size = sizeof average_threads_neg,
                                                          .threads = -1};

static const double alphas_ok[2] = {0.25, 0.75}, alphas_bad[2] = {0.5, -0.5};

static int score_zero(double *score, const mudsc_model *merged, double alpha, void *user)
{
	(void)merged, (void)alpha, (void)user;
	*score = 0.0;
	return 0;
}

static int score_stop(double *score, const mudsc_model *merged, double alpha, void *user)
{
	(void)merged, (void)alpha, (void)user, (void)score;
	return 1;
}

static int score_nan(double *score, const mudsc_model *merged, double alpha, void *user)
{
	(void)merged, (void)alpha, (void)user;
	*score = NAN;
	return 0;
}

/* mudsc_matcher_search_alpha writing only into O */
#define SEARCH "mudsc_matcher_search_alpha"
#define search(matcher, alphas, n, fn)                                                          \
	mudsc_matcher_search_alpha(&O.d[0], &O.d[1], matcher, alphas, n, NULL, fn, NULL)

/* mudsc_matcher_search_point_alphas writing only into O (2 points) */
#define PSEARCH "mudsc_matcher_search_point_alphas"
#define psearch(matcher, alphas, n, rounds, fn)                                                 \
	mudsc_matcher_search_point_alphas(&O.d[0], &O.d[8], matcher, alphas, n, rounds, NULL, fn,   \
	                                  NULL)
#define SETPA "mudsc_matcher_set_point_alphas"

/* mudsc_repair with one thing wrong: a source set of the MLP's points (the
 * fixture's rows as both models' features), the merge of F.ran, and
 * merged statistics of width H; everything made here is freed here. */
enum repair_bad { R_OUT, R_MATCHER, R_SOURCES, R_N_POINTS, R_STATE, R_MIN_STD, R_SIZE, R_WIDTH,
                  R_STD, R_WEIGHTS, R_ZERO_WEIGHTS };

static mudsc_status repair_bad(enum repair_bad what)
{
	static const double zero_w[2] = {0.0, 0.0};
	double mean[H] = {0.1, 0.2, 0.3, 0.4}, sd[H] = {1, 1, 1, 1}, bad_sd[H] = {1, -1, 1, 1};
	mudsc_moments ms[2] = {{H, mean, sd}, {H, mean, what == R_STD ? bad_sd : sd}};
	mudsc_repair_options o = MUDSC_REPAIR_OPTIONS_INIT;
	mudsc_stats *stats = NULL;
	mudsc_model *merged = NULL;
	mudsc_features f = {MUDSC_DTYPE_F64, 2, {ROWS, H}, NULL, -1, F.x};
	mudsc_status st;

	if (mudsc_stats_new(&stats, F.graph, 2, NULL) != MUDSC_OK ||
	    mudsc_matcher_merge(&merged, F.ran, NULL) != MUDSC_OK)
		ck_abort_msg("repair_bad: setup failed: %s", mudsc_error_message());
	for (size_t q = 0; q < 2; q++)
		for (int32_t i = 0; i < 2; i++)
			ck_assert_ok(mudsc_stats_update(stats, q, i, &f));
	if (what == R_MIN_STD)
		o.min_std = -1.0;
	if (what == R_SIZE)
		o.size = 1;
	if (what == R_WIDTH)
		ms[0].width = H + 1;
	st = mudsc_repair(what == R_OUT ? NULL : (mudsc_model **)&O.p[0],
	                  what == R_MATCHER ? NULL : what == R_STATE ? F.unrun : F.ran, F.graph,
	                  merged, what == R_SOURCES ? NULL : stats, ms, what == R_N_POINTS ? 1 : 2,
	                  what == R_WEIGHTS ? weights_nan : what == R_ZERO_WEIGHTS ? zero_w : NULL,
	                  &o);
	mudsc_stats_free(stats);
	mudsc_model_free(merged);
	return st;
}
/* mudsc_repair_layer with one thing wrong, on the output layer "layers.2"
 * (2 units) of the merge of F.ran; everything made here is freed here. */
enum repair_layer_bad { RL_OUT, RL_WEIGHT, RL_N, RL_SAME, RL_MISSING, RL_RANK, RL_WIDTH, RL_NULL,
                        RL_STD, RL_WEIGHTS, RL_ZERO_WEIGHTS, RL_MIN_STD };

static mudsc_status repair_layer_bad(enum repair_layer_bad what)
{
	static const double zero_w[2] = {0.0, 0.0};
	double mean[2] = {0.1, 0.2}, sd[2] = {1, 1}, bad_sd[2] = {1, NAN};
	mudsc_moments src[2] = {{2, mean, sd}, {2, mean, what == RL_STD ? bad_sd : sd}};
	mudsc_moments ms = {what == RL_WIDTH ? 3 : 2, what == RL_NULL ? NULL : mean, sd};
	mudsc_repair_options o = MUDSC_REPAIR_OPTIONS_INIT;
	mudsc_model *merged = NULL;
	mudsc_status st;

	if (mudsc_matcher_merge(&merged, F.ran, NULL) != MUDSC_OK)
		ck_abort_msg("repair_layer_bad: setup failed: %s", mudsc_error_message());
	if (what == RL_MIN_STD)
		o.min_std = NAN;
	st = mudsc_repair_layer(what == RL_OUT ? NULL : (mudsc_model **)&O.p[0], merged,
	                        what == RL_WEIGHT ? NULL : what == RL_MISSING ? "nope.weight"
	                                                  : what == RL_RANK ? "layers.2.bias"
	                                                                    : "layers.2.weight",
	                        what == RL_SAME ? "layers.2.weight"
	                        : what == RL_RANK ? "layers.2.weight" : "layers.2.bias",
	                        src, what == RL_N ? 0 : 2, &ms,
	                        what == RL_WEIGHTS ? weights_nan
	                        : what == RL_ZERO_WEIGHTS ? zero_w : NULL, &o);
	mudsc_model_free(merged);
	return st;
}

/* mudsc_lsq_layer_new with one thing wrong, on the output layer "layers.2"
 * of the merge of F.ran (as repair_layer_bad); everything made here is
 * freed here. */
enum lsq_layer_bad { LL_OUT, LL_MERGED, LL_BIAS, LL_N, LL_SAME, LL_MISSING, LL_RANK, LL_WIDTH,
                     LL_WEIGHTS, LL_ZERO_WEIGHTS };

static mudsc_status lsq_layer_bad(enum lsq_layer_bad what)
{
	static const double zero_w[2] = {0.0, 0.0};
	mudsc_model *merged = NULL;
	mudsc_status st;

	if (mudsc_matcher_merge(&merged, F.ran, NULL) != MUDSC_OK)
		ck_abort_msg("lsq_layer_bad: setup failed: %s", mudsc_error_message());
	st = mudsc_lsq_layer_new(what == LL_OUT ? NULL : (mudsc_lsq **)&O.p[0],
	                         what == LL_MERGED ? NULL : merged,
	                         what == LL_MISSING ? "nope.weight"
	                         : what == LL_RANK ? "layers.2.bias" : "layers.2.weight",
	                         what == LL_BIAS ? NULL
	                         : what == LL_SAME ? "layers.2.weight"
	                         : what == LL_RANK ? "layers.1.bias"
	                         : what == LL_WIDTH ? "layers.1.bias" : "layers.2.bias",
	                         what == LL_N ? 0 : 2,
	                         what == LL_WEIGHTS ? weights_nan
	                         : what == LL_ZERO_WEIGHTS ? zero_w : NULL);
	mudsc_model_free(merged);
	return st;
}

/* The mudsc_lsq_* calls with one thing wrong, on point "layers.1" of the
 * merge of F.ran (inputs and outputs: the fixture's rows, width H); the
 * handle, when the call is not mudsc_lsq_new, holds ROWS observations
 * (none for L_EMPTY); everything made here is freed here, and the handle's
 * row count must not change on a failed update. */
enum lsq_bad { L_OUT, L_MATCHER, L_POINT, L_NOT_FOUND, L_STATE, L_WEIGHTS, L_ZERO_WEIGHTS,
               L_UNSUPPORTED, L_UPDATE_LSQ, L_UPDATE_OUTPUTS, L_UPDATE_N, L_UPDATE_ROWS,
               L_UPDATE_WIDTH, L_UPDATE_NAN, L_SOLVE_OUT, L_SOLVE_RIDGE, L_SOLVE_SIZE, L_EMPTY,
               L_SINGULAR, L_SOLVE_SHAPE, L_ERROR_ERR, L_ERROR_EMPTY };

static mudsc_status lsq_bad(enum lsq_bad what)
{
	static const double zero_w[2] = {0.0, 0.0};
	mudsc_lsq_options o = MUDSC_LSQ_OPTIONS_INIT;
	mudsc_model *merged = NULL, *other = NULL;
	mudsc_lsq *l = NULL;
	double nan_x[ROWS * H];
	mudsc_features x = {MUDSC_DTYPE_F64, 2, {ROWS, H}, NULL, -1, F.x};
	mudsc_features y[2] = {x, x};
	mudsc_status st;

	if (mudsc_matcher_merge(&merged, F.ran, NULL) != MUDSC_OK)
		ck_abort_msg("lsq_bad: setup failed: %s", mudsc_error_message());
	if (what <= L_UNSUPPORTED) {
		const char *point = what == L_POINT ? NULL : what == L_NOT_FOUND ? "nope" : "layers.1";
		if (what == L_UNSUPPORTED) { /* merged with an integer layers.1.weight */
			static const int32_t ints[H * H];
			if (mudsc_model_new(&other) != MUDSC_OK)
				ck_abort_msg("lsq_bad: setup failed: %s", mudsc_error_message());
			for (size_t k = 0; k < mudsc_model_count(merged); k++) {
				mudsc_tensor t;
				ck_assert_ok(mudsc_model_at(&t, merged, k));
				int w1 = strcmp(t.name, "layers.1.weight") == 0;
				ck_assert_ok(mudsc_model_add(other, t.name, w1 ? MUDSC_DTYPE_I32 : t.dtype,
				                             t.rank, t.shape, w1 ? (const void *)ints : t.data,
				                             MUDSC_BORROW));
			}
			st = mudsc_lsq_new((mudsc_lsq **)&O.p[0], F.ran, F.graph, other, "layers.1", NULL);
			mudsc_model_free(other);
		} else {
			st = mudsc_lsq_new(what == L_OUT ? NULL : (mudsc_lsq **)&O.p[0],
			                   what == L_MATCHER ? NULL : what == L_STATE ? F.unrun : F.ran,
			                   F.graph, merged, point,
			                   what == L_WEIGHTS ? weights_nan
			                   : what == L_ZERO_WEIGHTS ? zero_w : NULL);
		}
		mudsc_model_free(merged);
		return st;
	}
	if (mudsc_lsq_new(&l, F.ran, F.graph, merged, "layers.1", NULL) != MUDSC_OK ||
	    (what != L_EMPTY && what != L_ERROR_EMPTY && what != L_SINGULAR &&
	     mudsc_lsq_update(l, &x, y, 2) != MUDSC_OK))
		ck_abort_msg("lsq_bad: setup failed: %s", mudsc_error_message());
	int64_t rows = mudsc_lsq_rows(l);
	memcpy(nan_x, F.x, sizeof nan_x);
	nan_x[3 * H + 1] = NAN;
	switch (what) {
	case L_UPDATE_LSQ:
		st = mudsc_lsq_update(NULL, &x, y, 2);
		break;
	case L_UPDATE_OUTPUTS:
		st = mudsc_lsq_update(l, &x, NULL, 2);
		break;
	case L_UPDATE_N:
		st = mudsc_lsq_update(l, &x, y, 3);
		break;
	case L_UPDATE_ROWS:
		y[1].shape[0] = ROWS - 1;
		st = mudsc_lsq_update(l, &x, y, 2);
		break;
	case L_UPDATE_WIDTH:
		x.shape[1] = H - 1;
		x.shape[0] = ROWS;
		st = mudsc_lsq_update(l, &x, y, 2);
		break;
	case L_UPDATE_NAN:
		y[1].data = nan_x;
		st = mudsc_lsq_update(l, &x, y, 2);
		break;
	case L_SOLVE_OUT:
		st = mudsc_lsq_solve(NULL, l, merged, NULL);
		break;
	case L_SOLVE_RIDGE:
		o.ridge = -1.0;
		st = mudsc_lsq_solve((mudsc_model **)&O.p[0], l, merged, &o);
		break;
	case L_SOLVE_SIZE:
		o.size = 1;
		st = mudsc_lsq_solve((mudsc_model **)&O.p[0], l, merged, &o);
		break;
	case L_EMPTY:
		st = mudsc_lsq_solve((mudsc_model **)&O.p[0], l, merged, NULL);
		break;
	case L_SINGULAR: /* two observations cannot span D + 1 = 5 dimensions */
		x.shape[0] = y[0].shape[0] = y[1].shape[0] = 2;
		if (mudsc_lsq_update(l, &x, y, 2) != MUDSC_OK)
			ck_abort_msg("lsq_bad: setup failed: %s", mudsc_error_message());
		rows = mudsc_lsq_rows(l);
		o.ridge = 0.0;
		st = mudsc_lsq_solve((mudsc_model **)&O.p[0], l, merged, &o);
		break;
	case L_SOLVE_SHAPE:
		/* F.m[0] has the shapes (in F32): accepted */
		ck_assert_ok(mudsc_lsq_solve(&other, l, F.m[0], NULL));
		mudsc_model_free(other);
		other = NULL;
		st = mudsc_lsq_solve((mudsc_model **)&O.p[0], l, F.fresh, NULL);
		break;
	case L_ERROR_ERR:
		st = mudsc_lsq_error(NULL, l, merged);
		break;
	case L_ERROR_EMPTY:
		st = mudsc_lsq_error(&O.d[0], l, merged);
		break;
	default:
		st = MUDSC_OK;
	}
	ck_assert_int_eq(mudsc_lsq_rows(l), rows);
	mudsc_lsq_free(l);
	mudsc_model_free(other);
	mudsc_model_free(merged);
	return st;
}
static const double S_nan[4] = {1, NAN, 0, 1};
static const double S_asym[4] = {1, 0.5, 0, 1};

/* ---- the table ------------------------------------------------------ */

struct bad_case {
	const char *call;     /* the call as written */
	mudsc_status status;  /* the exact status */
	const char *prefix;   /* how the message starts: the library function called (NULL:
	                         the one the call names) */
	const char *message;  /* names the argument */
	size_t needed;        /* 0, or what f->needed must receive */
	mudsc_status (*run)(void);
};

#define ROW(id, status, prefix, message, needed, ...)                                                  \
	static mudsc_status case_##id(void) { return (__VA_ARGS__); }
#define CASES(X)                                                                                \
	/* models */                                                                                \
	X(model_new_out, MUDSC_E_INVALID, NULL, "'out'", 0, mudsc_model_new(NULL))                        \
	X(model_add_model, MUDSC_E_INVALID, NULL, "'model'", 0,                                           \
	  mudsc_model_add(NULL, "x", MUDSC_DTYPE_F32, 2, shape_ok, F.w[0], MUDSC_COPY))             \
	X(model_add_name, MUDSC_E_INVALID, NULL, "'name'", 0,                                             \
	  mudsc_model_add(F.fresh, NULL, MUDSC_DTYPE_F32, 2, shape_ok, F.w[0], MUDSC_COPY))         \
	X(model_add_name_empty, MUDSC_E_INVALID, NULL, "'name'", 0,                                       \
	  mudsc_model_add(F.fresh, "", MUDSC_DTYPE_F32, 2, shape_ok, F.w[0], MUDSC_COPY))           \
	X(model_add_dtype, MUDSC_E_INVALID, NULL, "dtype 99", 0,                                          \
	  mudsc_model_add(F.fresh, "x", (mudsc_dtype)99, 2, shape_ok, F.w[0], MUDSC_COPY))          \
	X(model_add_rank_neg, MUDSC_E_SHAPE, NULL, "rank -1", 0,                                          \
	  mudsc_model_add(F.fresh, "x", MUDSC_DTYPE_F32, -1, shape_ok, F.w[0], MUDSC_COPY))         \
	X(model_add_rank_big, MUDSC_E_SHAPE, NULL, "rank 9", 0,                                           \
	  mudsc_model_add(F.fresh, "x", MUDSC_DTYPE_F32, 9, shape_ok, F.w[0], MUDSC_COPY))          \
	X(model_add_shape, MUDSC_E_INVALID, NULL, "'shape'", 0,                                           \
	  mudsc_model_add(F.fresh, "x", MUDSC_DTYPE_F32, 2, NULL, F.w[0], MUDSC_COPY))              \
	X(model_add_shape_neg, MUDSC_E_SHAPE, NULL, "shape[1]", 0,                                        \
	  mudsc_model_add(F.fresh, "x", MUDSC_DTYPE_F32, 2, shape_neg, F.w[0], MUDSC_COPY))         \
	X(model_add_shape_overflow, MUDSC_E_SHAPE, NULL, "overflows", 0,                                  \
	  mudsc_model_add(F.fresh, "x", MUDSC_DTYPE_F32, 2, shape_big, F.w[0], MUDSC_BORROW))       \
	X(model_add_data, MUDSC_E_INVALID, NULL, "'data'", 0,                                             \
	  mudsc_model_add(F.fresh, "x", MUDSC_DTYPE_F32, 2, shape_ok, NULL, MUDSC_COPY))            \
	X(model_add_mode, MUDSC_E_INVALID, NULL, "'mode'", 0,                                             \
	  mudsc_model_add(F.fresh, "x", MUDSC_DTYPE_F32, 2, shape_ok, F.w[0], (mudsc_add_mode)7))   \
	X(model_add_exists, MUDSC_E_EXISTS, NULL, "'w'", 0,                                               \
	  mudsc_model_add(F.fresh, "w", MUDSC_DTYPE_F32, 2, shape_ok, F.w[0], MUDSC_COPY))          \
	X(model_add_frozen, MUDSC_E_STATE, NULL, "frozen", 0,                                             \
	  mudsc_model_add(F.m[0], "x", MUDSC_DTYPE_F32, 2, shape_ok, F.w[0], MUDSC_COPY))           \
	X(model_remove_absent, MUDSC_E_NOT_FOUND, NULL, "'nope'", 0, mudsc_model_remove(F.fresh, "nope")) \
	X(model_remove_frozen, MUDSC_E_STATE, NULL, "frozen", 0,                                          \
	  mudsc_model_remove(F.m[0], "layers.0.bias"))                                              \
	X(model_at_index, MUDSC_E_RANGE, NULL, "index 1", 0, mudsc_model_at(&O.tensor, F.fresh, 1))       \
	X(model_at_out, MUDSC_E_INVALID, NULL, "'out'", 0, mudsc_model_at(NULL, F.fresh, 0))              \
	X(model_find_absent, MUDSC_E_NOT_FOUND, NULL, "'nope'", 0,                                        \
	  mudsc_model_find(&O.tensor, F.fresh, "nope"))                                             \
	X(model_find_name, MUDSC_E_INVALID, NULL, "'name'", 0, mudsc_model_find(&O.tensor, F.fresh, NULL)) \
	X(model_set_meta_key, MUDSC_E_INVALID, NULL, "'key'", 0, mudsc_model_set_meta(F.fresh, NULL, "v")) \
	X(model_set_meta_value, MUDSC_E_INVALID, NULL, "'value'", 0,                                      \
	  mudsc_model_set_meta(F.fresh, "k", NULL))                                                 \
	X(model_set_meta_frozen, MUDSC_E_STATE, NULL, "frozen", 0, mudsc_model_set_meta(F.m[0], "k", "v")) \
	X(model_meta_at_index, MUDSC_E_RANGE, NULL, "index 1", 0,                                         \
	  mudsc_model_meta_at(&O.key, &O.value, F.fresh, 1))                                        \
	X(model_freeze_model, MUDSC_E_INVALID, NULL, "'model'", 0, mudsc_model_freeze(NULL))              \
	/* safetensors bytes and files */                                                           \
	X(load_buffer_out, MUDSC_E_INVALID, NULL, "'out'", 0,                                             \
	  mudsc_model_load_buffer(NULL, F.st_buf, F.st_len, MUDSC_COPY))                            \
	X(load_buffer_buf, MUDSC_E_INVALID, NULL, "'buf'", 0,                                             \
	  mudsc_model_load_buffer((mudsc_model **)&O.p[0], NULL, 16, MUDSC_COPY))                   \
	X(load_buffer_mode, MUDSC_E_INVALID, NULL, "'mode'", 0,                                           \
	  mudsc_model_load_buffer((mudsc_model **)&O.p[0], F.st_buf, F.st_len, (mudsc_add_mode)5))  \
	X(load_buffer_short, MUDSC_E_PARSE, NULL, "8-byte header", 0,                                     \
	  mudsc_model_load_buffer((mudsc_model **)&O.p[0], F.st_buf, 7, MUDSC_COPY))                \
	X(load_buffer_header_cap, MUDSC_E_PARSE, "mudsc_model_load_buffer", "cap", 0, load_with_header_len(UINT64_MAX / 2))    \
	X(load_buffer_header_past_end, MUDSC_E_PARSE, "mudsc_model_load_buffer", "past the end", 0, load_with_header_len(5000))      \
	X(load_buffer_not_object, MUDSC_E_PARSE, "mudsc_model_load_buffer", "'{'", 0, load_with_byte(8, '['))                  \
	X(load_buffer_trailing, MUDSC_E_PARSE, NULL, "safetensors: tensors cover", 0,                                    \
	  mudsc_model_load_buffer((mudsc_model **)&O.p[0], F.st_buf, F.st_len - 1, MUDSC_COPY))     \
	X(load_path, MUDSC_E_INVALID, NULL, "'path'", 0, mudsc_model_load((mudsc_model **)&O.p[0], NULL))  \
	X(load_mode_mode, MUDSC_E_INVALID, NULL, "'mode' = 7", 0, mudsc_model_load_mode((mudsc_model **)&O.p[0], "/nonexistent/m.safetensors", (mudsc_load_mode)7)) \
	X(load_mode_path, MUDSC_E_INVALID, NULL, "'path'", 0, mudsc_model_load_mode((mudsc_model **)&O.p[0], NULL, MUDSC_LOAD_READ)) \
	X(load_mode_out, MUDSC_E_INVALID, NULL, "'out'", 0, mudsc_model_load_mode(NULL, "/nonexistent/m.safetensors", MUDSC_LOAD_READ)) \
	X(load_missing, MUDSC_E_IO, NULL, "/nonexistent/m.safetensors", 0,                                \
	  mudsc_model_load((mudsc_model **)&O.p[0], "/nonexistent/m.safetensors"))                  \
	X(save_model, MUDSC_E_INVALID, NULL, "'model'", 0, mudsc_model_save(NULL, "/tmp/x.safetensors"))  \
	X(save_path, MUDSC_E_INVALID, NULL, "'path'", 0, mudsc_model_save(F.m[0], NULL))                  \
	X(save_folder, MUDSC_E_IO, NULL, "/nonexistent/m.safetensors", 0,                                 \
	  mudsc_model_save(F.m[0], "/nonexistent/m.safetensors"))                                   \
	X(save_buffer_out, MUDSC_E_INVALID, NULL, "'out_buf'", 0, mudsc_model_save_buffer(NULL, &O.len, F.m[0])) \
	X(save_buffer_len, MUDSC_E_INVALID, NULL, "'out_len'", 0,                                         \
	  mudsc_model_save_buffer(&O.p[0], NULL, F.m[0]))                                           \
	X(dtype_from_name_unknown, MUDSC_E_NOT_FOUND, NULL, "'F33'", 0, mudsc_dtype_from_name(&O.i32, "F33")) \
	X(dtype_from_name_name, MUDSC_E_INVALID, NULL, "'name'", 0, mudsc_dtype_from_name(&O.i32, NULL))  \
	/* graphs */                                                                                \
	X(graph_new_out, MUDSC_E_INVALID, NULL, "'out'", 0, mudsc_graph_new(NULL))                        \
	X(add_point_name, MUDSC_E_INVALID, NULL, "'name'", 0,                                             \
	  mudsc_graph_add_point(&O.idx, F.empty_graph, NULL, 4, 1))                                 \
	X(add_point_width, MUDSC_E_SHAPE, NULL, "width 0", 0,                                             \
	  mudsc_graph_add_point(&O.idx, F.empty_graph, "p", 0, 1))                                  \
	X(add_point_groups, MUDSC_E_SHAPE, NULL, "groups 0", 0,                                           \
	  mudsc_graph_add_point(&O.idx, F.empty_graph, "p", 4, 0))                                  \
	X(add_point_divides, MUDSC_E_SHAPE, NULL, "groups 3", 0,                                          \
	  mudsc_graph_add_point(&O.idx, F.empty_graph, "p", 4, 3))                                  \
	X(add_point_exists, MUDSC_E_EXISTS, NULL, "'layers.0'", 0,                                        \
	  mudsc_graph_add_point(&O.idx, F.graph, "layers.0", 4, 1))                                 \
	X(set_site_point, MUDSC_E_RANGE, NULL, "'point' = 2", 0, mudsc_graph_set_site(F.graph, 2, "fc", -1)) \
	X(set_site_name, MUDSC_E_INVALID, NULL, "'name'", 0, mudsc_graph_set_site(F.graph, 0, NULL, -1))  \
	X(set_site_offset_point, MUDSC_E_RANGE, NULL, "'point' = 2", 0,                                  \
	  mudsc_graph_set_site_offset(F.graph, 2, 4))                                               \
	X(set_site_offset_negative, MUDSC_E_RANGE, NULL, "'offset' = -1", 0,                              \
	  mudsc_graph_set_site_offset(F.graph, 0, -1))                                              \
	X(set_site_offset_no_site, MUDSC_E_INVALID, NULL, "'attn' has no site", 0,                        \
	  mudsc_graph_set_site_offset(F.split_graph, 0, 4))                                         \
	X(site_offset_point, MUDSC_E_RANGE, NULL, "'point' = 2", 0,                                      \
	  mudsc_graph_site_offset(&O.i64[0], F.graph, 2))                                           \
	X(site_offset_null, MUDSC_E_INVALID, NULL, "'offset'", 0, mudsc_graph_site_offset(NULL, F.graph, 0)) \
	X(add_split_parts_count, MUDSC_E_INVALID, NULL, "'n_parts' = 1", 0,                               \
	  mudsc_graph_add_split(F.split_graph, "w", 0, 1, qkv_parts))                               \
	X(add_split_parts_dup, MUDSC_E_EXISTS, NULL, "part 'q' named twice", 0,                                           \
	  mudsc_graph_add_split(F.split_graph, "w", 0, 2, dup_parts))                               \
	X(add_split_parts_null, MUDSC_E_INVALID, NULL, "'parts'", 0,                                      \
	  mudsc_graph_add_split(F.split_graph, "w", 0, 3, NULL))                                    \
	X(add_split_axis, MUDSC_E_SHAPE, NULL, "axis -1", 0,                                              \
	  mudsc_graph_add_split(F.split_graph, "w", -1, 3, qkv_parts))                              \
	X(add_split_twice, MUDSC_E_EXISTS, NULL, "'qkv.weight'", 0,                                       \
	  mudsc_graph_add_split(F.split_graph, "qkv.weight", 1, 3, qkv_parts))                      \
	X(add_concat_sizes_null, MUDSC_E_INVALID, NULL, "'sizes'", 0,                                     \
	  mudsc_graph_add_concat(F.split_graph, "w", 1, 2, qkv_parts, NULL))                        \
	X(add_concat_size_zero, MUDSC_E_SHAPE, NULL, "sizes[1] = 0", 0,                                   \
	  mudsc_graph_add_concat(F.split_graph, "w", 1, 2, qkv_parts, concat_sizes_bad))            \
	X(add_concat_parts_count, MUDSC_E_INVALID, NULL, "'n_parts' = 1", 0,                              \
	  mudsc_graph_add_concat(F.split_graph, "w", 1, 1, qkv_parts, concat_sizes_bad))            \
	X(bind_repeat_zero, MUDSC_E_SHAPE, NULL, "'repeat' = 0", 0,                                      \
	  mudsc_graph_bind_repeat(F.graph, 0, "x", NULL, 1, MUDSC_ROLE_IN, 0, 0))                   \
	X(bind_repeat_part, MUDSC_E_UNSUPPORTED, NULL, "'part'", 0,                                      \
	  mudsc_graph_bind_repeat(F.split_graph, 0, "qkv.weight", "q", 1, MUDSC_ROLE_IN, 0, 2))     \
	X(bind_repeat_split_axis, MUDSC_E_UNSUPPORTED, NULL, "split", 0,                                 \
	  mudsc_graph_bind_repeat(F.split_graph, 0, "qkv.weight", NULL, 0, MUDSC_ROLE_IN, 0, 2))    \
	X(bind_repeat_point, MUDSC_E_RANGE, NULL, "'point' = 2", 0,                                       \
	  mudsc_graph_bind_repeat(F.graph, 2, "x", NULL, 0, MUDSC_ROLE_OUT, 0, 2))                  \
	X(bind_repeat_tensor, MUDSC_E_INVALID, NULL, "'tensor'", 0,                                       \
	  mudsc_graph_bind_repeat(F.graph, 0, NULL, NULL, 0, MUDSC_ROLE_OUT, 0, 2))                 \
	X(bind_point, MUDSC_E_RANGE, NULL, "'point' = 2", 0,                                              \
	  mudsc_graph_bind(F.graph, 2, "x", NULL, 0, MUDSC_ROLE_OUT, 0))                            \
	X(bind_tensor, MUDSC_E_INVALID, NULL, "'tensor'", 0,                                              \
	  mudsc_graph_bind(F.graph, 0, NULL, NULL, 0, MUDSC_ROLE_OUT, 0))                           \
	X(bind_role, MUDSC_E_INVALID, NULL, "role", 0,                                                    \
	  mudsc_graph_bind(F.graph, 0, "x", NULL, 0, (mudsc_role)5, 0))                             \
	X(bind_flags, MUDSC_E_INVALID, NULL, "flags", 0,                                                  \
	  mudsc_graph_bind(F.graph, 0, "x", NULL, 0, MUDSC_ROLE_OUT, 8))                            \
	X(bind_axis, MUDSC_E_SHAPE, NULL, "axis -1", 0,                                                   \
	  mudsc_graph_bind(F.graph, 0, "x", NULL, -1, MUDSC_ROLE_OUT, 0))                           \
	X(bind_twice, MUDSC_E_EXISTS, NULL, "'layers.0.weight'", 0,                                       \
	  mudsc_graph_bind(F.graph, 1, "layers.0.weight", NULL, 0, MUDSC_ROLE_OUT, 0))              \
	X(bind_part_unknown, MUDSC_E_NOT_FOUND, NULL, "'o'", 0,                                           \
	  mudsc_graph_bind(F.split_graph, 0, "qkv.weight", "o", 0, MUDSC_ROLE_OUT, 0))              \
	X(bind_split_axis, MUDSC_E_INVALID, NULL, "split along axis 0", 0,                                        \
	  mudsc_graph_bind(F.split_graph, 0, "qkv.weight", NULL, 0, MUDSC_ROLE_OUT, 0))             \
	X(point_at_index, MUDSC_E_RANGE, NULL, "'index' = 2", 0, mudsc_graph_point_at(&O.point, F.graph, 2)) \
	X(point_find_absent, MUDSC_E_NOT_FOUND, NULL, "'nope'", 0,                                        \
	  mudsc_graph_point_find(&O.idx, F.graph, "nope"))                                          \
	X(binding_at_point, MUDSC_E_RANGE, NULL, "'point' = 2", 0,                                        \
	  mudsc_graph_binding_at(&O.binding, F.graph, 2, 0))                                        \
	X(binding_at_index, MUDSC_E_RANGE, NULL, "'index' = 99", 0,                                       \
	  mudsc_graph_binding_at(&O.binding, F.graph, 0, 99))                                       \
	X(split_at_index, MUDSC_E_RANGE, NULL, "'index' = 1", 0,                                          \
	  mudsc_graph_split_at(&O.split, F.split_graph, 1))                                         \
	X(validate_n_models, MUDSC_E_INVALID, NULL, "'n_models'", 0, mudsc_graph_validate(F.graph, F.pair, 0)) \
	X(validate_models, MUDSC_E_INVALID, NULL, "'models'", 0, mudsc_graph_validate(F.graph, NULL, 2))  \
	X(validate_missing, MUDSC_E_NOT_FOUND, NULL, "'layers.0.weight'", 0,                              \
	  mudsc_graph_validate(F.graph, (const mudsc_model *const *)&F.fresh, 1))                   \
	X(validate_width, MUDSC_E_SHAPE, NULL, "model 1", 0, mudsc_graph_validate(F.graph, F.pair_wide, 2)) \
	X(unbound_model, MUDSC_E_INVALID, NULL, "'model'", 0,                                             \
	  mudsc_graph_unbound((size_t *)O.i64, 8, &O.needed, F.graph, NULL))                        \
	X(unbound_capacity, MUDSC_E_RANGE, NULL, "'capacity' = 2", 6,                                     \
	  mudsc_graph_unbound((size_t *)O.i64, 2, &F.needed, F.empty_graph, F.m[0]))                \
	X(unbound_out, MUDSC_E_INVALID, NULL, "'out'", 6,                                                 \
	  mudsc_graph_unbound(NULL, 8, &F.needed, F.empty_graph, F.m[0]))                           \
	/* graph JSON */                                                                            \
	X(from_json_text, MUDSC_E_INVALID, NULL, "'text'", 0,                                             \
	  mudsc_graph_from_json((mudsc_graph **)&O.p[0], NULL, 10))                                 \
	X(from_json_out, MUDSC_E_INVALID, NULL, "'out'", 0, mudsc_graph_from_json(NULL, F.json, F.json_len)) \
	X(from_json_syntax, MUDSC_E_PARSE, NULL, "graph JSON, line 1, column 15", 0,                                             \
	  mudsc_graph_from_json((mudsc_graph **)&O.p[0], "{\"version\": 1,,}", 16))                 \
	X(from_json_version, MUDSC_E_PARSE, "mudsc_graph_from_json", "version", 0, json_with("\"version\": 1", "\"version\": 7")) \
	X(from_json_width, MUDSC_E_SHAPE, "mudsc_graph_from_json", "points[0].width", 0, json_with("\"width\": 4", "\"width\": 0")) \
	X(from_json_role, MUDSC_E_PARSE, "mudsc_graph_from_json", "role", 0, json_with("\"role\": \"out\"", "\"role\": \"up\"")) \
	X(load_json_missing, MUDSC_E_IO, NULL, "/nonexistent/g.json", 0,                                  \
	  mudsc_graph_load_json((mudsc_graph **)&O.p[0], "/nonexistent/g.json"))                    \
	X(to_json_out, MUDSC_E_INVALID, NULL, "'out_text'", 0, mudsc_graph_to_json(NULL, &O.len, F.graph)) \
	X(save_json_folder, MUDSC_E_IO, NULL, "/nonexistent/g.json", 0,                                   \
	  mudsc_graph_save_json(F.graph, "/nonexistent/g.json"))                                    \
	/* the ready builders' options */                                                           \
	X(mlp_options_init_opts, MUDSC_E_INVALID, NULL, "'opts'", 0, mudsc_mlp_options_init(NULL))        \
	X(build_mlp_defaults, MUDSC_E_INVALID, NULL, "opts->n_hidden = 0", 0,                                       \
	  mudsc_graph_build_mlp((mudsc_graph **)&O.p[0], NULL))                                     \
	X(build_mlp_size, MUDSC_E_INVALID, "mudsc_graph_build_mlp", "opts->size = 3", 0, mlp_size())                      \
	X(build_mlp_n_hidden, MUDSC_E_INVALID, "mudsc_graph_build_mlp", "opts->n_hidden = 0", 0, mlp_n_hidden())                       \
	X(build_mlp_hidden, MUDSC_E_INVALID, "mudsc_graph_build_mlp", "opts->hidden must", 0, mlp_hidden())                             \
	X(build_mlp_hidden_1, MUDSC_E_INVALID, "mudsc_graph_build_mlp", "opts->hidden[1] = 0", 0, mlp_hidden_1())                      \
	X(build_mlp_prefix, MUDSC_E_INVALID, "mudsc_graph_build_mlp", "opts->prefix is NULL", 0, mlp_prefix())                             \
	X(build_mlp_bias, MUDSC_E_INVALID, "mudsc_graph_build_mlp", "opts->bias = 2", 0, mlp_bias()) \
	X(build_mlp_site, MUDSC_E_INVALID, "mudsc_graph_build_mlp", "opts->site = 2", 0, mlp_site()) \
	X(build_mlp_template, MUDSC_E_INVALID, "mudsc_graph_build_mlp", "opts->layer_template = 'fc' has no \"{i}\"", 0, mlp_template()) \
	X(build_mlp_template_1, MUDSC_E_INVALID, "mudsc_graph_build_mlp", "opts->layer_template = 'fc' has no \"{i}\"", 0, mlp_template_1()) \
	X(build_mlp_out, MUDSC_E_INVALID, NULL, "'out'", 0, mudsc_graph_build_mlp(NULL, NULL)) \
	X(build_resnet_n_stages, MUDSC_E_INVALID, "mudsc_graph_build_resnet", "opts->n_stages = 5", 0, resnet_n_stages())                 \
	X(build_resnet_blocks, MUDSC_E_INVALID, "mudsc_graph_build_resnet", "opts->blocks[1] = 0", 0, resnet_blocks())                    \
	X(build_resnet_widths, MUDSC_E_INVALID, "mudsc_graph_build_resnet", "opts->widths[2] = 0", 0, resnet_widths())                    \
	X(build_resnet_norm, MUDSC_E_INVALID, "mudsc_graph_build_resnet", "opts->norm = 7", 0, resnet_norm())                             \
	X(build_resnet_bottleneck, MUDSC_E_INVALID, "mudsc_graph_build_resnet", "opts->bottleneck = 3", 0, resnet_bottleneck())           \
	X(build_resnet_site, MUDSC_E_INVALID, "mudsc_graph_build_resnet", "opts->site = -1", 0, resnet_site())           \
	X(build_resnet_stem_width, MUDSC_E_INVALID, "mudsc_graph_build_resnet", "opts->stem_width = 0", 0, resnet_stem_width()) \
	X(build_resnet_widths_big, MUDSC_E_INVALID, "mudsc_graph_build_resnet", "opts->widths[0] = 9223372036854775807", 0, resnet_widths_big()) \
	X(build_resnet_groups_stem, MUDSC_E_INVALID, "mudsc_graph_build_resnet", "opts->norm_groups = 3 does not divide opts->stem_width = 16", 0, resnet_groups(3, 16)) \
	X(build_resnet_groups_width, MUDSC_E_INVALID, "mudsc_graph_build_resnet", "opts->norm_groups = 8 does not divide opts->widths[0] = 12", 0, resnet_groups(8, 12)) \
	X(build_resnet_groups_zero, MUDSC_E_INVALID, "mudsc_graph_build_resnet", "opts->norm_groups = 0", 0, resnet_groups(0, 16)) \
	X(build_resnet_shortcut_same, MUDSC_E_INVALID, "mudsc_graph_build_resnet", "opts->shortcut_norm = 'shortcut.0' is the same as opts->shortcut_conv", 0, resnet_shortcut_same()) \
	X(build_resnet_shortcut_block, MUDSC_E_INVALID, "mudsc_graph_build_resnet", "opts->shortcut_conv = 'conv2'", 0, resnet_shortcut_block()) \
	X(build_resnet_out, MUDSC_E_INVALID, NULL, "'out'", 0, mudsc_graph_build_resnet(NULL, NULL)) \
	X(resnet_preset_name, MUDSC_E_NOT_FOUND, "mudsc_resnet_options_preset", "'resnet19'", 0, resnet_preset("resnet19", 1))     \
	X(resnet_preset_multiplier, MUDSC_E_INVALID, "mudsc_resnet_options_preset", "width_multiplier", 0,                         \
	  resnet_preset("resnet20", 0))                                                             \
	X(build_vit_heads, MUDSC_E_INVALID, "mudsc_graph_build_vit", "opts->heads = 5", 0, vit_heads())                                \
	X(build_vit_depth, MUDSC_E_INVALID, "mudsc_graph_build_vit", "opts->depth = 0", 0, vit_depth())                                \
	X(build_vit_dim, MUDSC_E_INVALID, "mudsc_graph_build_vit", "opts->dim = 0", 0, vit_dim())                                      \
	X(build_vit_block_template, MUDSC_E_INVALID, "mudsc_graph_build_vit", "opts->block_template is NULL", 0, vit_block_template())     \
	X(build_vit_block_template_fixed, MUDSC_E_INVALID, "mudsc_graph_build_vit", "opts->block_template = 'block' has no \"{i}\"", 0, vit_block_template_fixed()) \
	X(build_vit_mlp_dim, MUDSC_E_INVALID, "mudsc_graph_build_vit", "opts->mlp_dim = 0", 0, vit_mlp_dim()) \
	X(build_vit_qkv_bias, MUDSC_E_INVALID, "mudsc_graph_build_vit", "opts->qkv_bias = 2", 0, vit_qkv_bias()) \
	X(build_vit_patch_embed, MUDSC_E_INVALID, "mudsc_graph_build_vit", "opts->patch_embed = -1", 0, vit_patch_embed()) \
	X(build_vit_cls_token, MUDSC_E_INVALID, "mudsc_graph_build_vit", "opts->cls_token = 7", 0, vit_cls_token()) \
	X(build_vit_pos_embed, MUDSC_E_INVALID, "mudsc_graph_build_vit", "opts->pos_embed = 2", 0, vit_pos_embed()) \
	X(build_vit_final_norm, MUDSC_E_INVALID, "mudsc_graph_build_vit", "opts->final_norm = 3", 0, vit_final_norm()) \
	X(build_vit_head, MUDSC_E_INVALID, "mudsc_graph_build_vit", "opts->head = 2", 0, vit_head()) \
	X(build_vit_out, MUDSC_E_INVALID, NULL, "'out'", 0, mudsc_graph_build_vit(NULL, NULL)) \
	X(llama_options_init_opts, MUDSC_E_INVALID, NULL, "'opts'", 0, mudsc_llama_options_init(NULL)) \
	X(build_llama_dim, MUDSC_E_INVALID, "mudsc_graph_build_llama", "opts->dim = 0", 0, llama_dim()) \
	X(build_llama_n_layers, MUDSC_E_INVALID, "mudsc_graph_build_llama", "opts->n_layers = 0", 0, llama_n_layers()) \
	X(build_llama_num_heads, MUDSC_E_INVALID, "mudsc_graph_build_llama", "opts->num_heads = 0", 0, llama_num_heads()) \
	X(build_llama_num_kv_heads, MUDSC_E_INVALID, "mudsc_graph_build_llama", "opts->num_kv_heads = 5", 0, llama_num_kv_heads()) \
	X(build_llama_head_dim, MUDSC_E_INVALID, "mudsc_graph_build_llama", "opts->head_dim = -1", 0, llama_head_dim()) \
	X(build_llama_head_dim_divides, MUDSC_E_INVALID, "mudsc_graph_build_llama", "opts->head_dim = 0", 0, llama_head_dim_divides()) \
	X(build_llama_head_dim_overflow, MUDSC_E_INVALID, "mudsc_graph_build_llama", "does not fit an int64", 0, llama_head_dim_overflow()) \
	X(build_llama_mlp_dim, MUDSC_E_INVALID, "mudsc_graph_build_llama", "opts->mlp_dim = 0", 0, llama_mlp_dim()) \
	X(build_llama_attention_bias, MUDSC_E_INVALID, "mudsc_graph_build_llama", "opts->attention_bias = 2", 0, llama_attention_bias()) \
	X(build_llama_prefix, MUDSC_E_INVALID, "mudsc_graph_build_llama", "opts->prefix is NULL", 0, llama_prefix()) \
	X(build_llama_layer_template, MUDSC_E_INVALID, "mudsc_graph_build_llama", "opts->layer_template = 'layer' has no \"{i}\"", 0, llama_layer_template()) \
	X(build_llama_size, MUDSC_E_INVALID, "mudsc_graph_build_llama", "opts->size = 1", 0, llama_size()) \
	X(build_llama_out, MUDSC_E_INVALID, NULL, "'out'", 0, mudsc_graph_build_llama(NULL, NULL)) \
	X(gpt2_options_init_opts, MUDSC_E_INVALID, NULL, "'opts'", 0, mudsc_gpt2_options_init(NULL)) \
	X(build_gpt2_dim, MUDSC_E_INVALID, "mudsc_graph_build_gpt2", "opts->dim = 0", 0, gpt2_dim()) \
	X(build_gpt2_n_layers, MUDSC_E_INVALID, "mudsc_graph_build_gpt2", "opts->n_layers = 0", 0, gpt2_n_layers()) \
	X(build_gpt2_heads, MUDSC_E_INVALID, "mudsc_graph_build_gpt2", "opts->heads = 5", 0, gpt2_heads()) \
	X(build_gpt2_mlp_dim, MUDSC_E_INVALID, "mudsc_graph_build_gpt2", "opts->mlp_dim = 0", 0, gpt2_mlp_dim()) \
	X(build_gpt2_lm_head, MUDSC_E_INVALID, "mudsc_graph_build_gpt2", "opts->lm_head = 2", 0, gpt2_lm_head()) \
	X(build_gpt2_block_template, MUDSC_E_INVALID, "mudsc_graph_build_gpt2", "opts->block_template = 'blk' has no \"{i}\"", 0, gpt2_block_template()) \
	X(build_gpt2_prefix, MUDSC_E_INVALID, "mudsc_graph_build_gpt2", "opts->prefix is NULL", 0, gpt2_prefix()) \
	X(build_gpt2_out, MUDSC_E_INVALID, NULL, "'out'", 0, mudsc_graph_build_gpt2(NULL, NULL)) \
	/* accumulators and features */                                                             \
	X(accum_options_init_opts, MUDSC_E_INVALID, NULL, "'opts'", 0, mudsc_accum_options_init(NULL))    \
	X(accum_new_out, MUDSC_E_INVALID, NULL, "'out'", 0, mudsc_accum_new(NULL, 2, H, NULL))            \
	X(accum_new_n_models, MUDSC_E_INVALID, NULL, "n_models", 0,                                       \
	  mudsc_accum_new((mudsc_accum **)&O.p[0], 1, H, NULL))                                     \
	X(accum_new_width, MUDSC_E_INVALID, NULL, "width", 0,                                             \
	  mudsc_accum_new((mudsc_accum **)&O.p[0], 2, 0, NULL))                                     \
	X(accum_new_size, MUDSC_E_INVALID, "mudsc_accum_new", "opts->size = 1", 0, accum_new_size())                \
	X(accum_new_nonfinite, MUDSC_E_INVALID, "mudsc_accum_new", "nonfinite", 0, accum_new_nonfinite())              \
	X(accum_new_max_lead, MUDSC_E_INVALID, "mudsc_accum_new", "max_lead", 0, accum_new_max_lead())                 \
	X(accum_new_threads, MUDSC_E_INVALID, "mudsc_accum_new", "threads", 0, accum_new_threads())                    \
	X(accum_new_mode, MUDSC_E_INVALID, "mudsc_accum_new", "opts->mode = 7", 0, accum_new_mode())                   \
	X(correlation_of_cross, MUDSC_E_UNSUPPORTED, "mudsc_accum_correlation", "mudsc_accum_cross_correlation()", NC * NC, \
	  cross_correlation_of_cross())                                                               \
	X(cross_correlation_capacity, MUDSC_E_RANGE, NULL, "'capacity' = 3", H * H,                     \
	  mudsc_accum_cross_correlation(O.d, 3, &F.needed, F.acc))                                  \
	X(cross_correlation_accum, MUDSC_E_INVALID, NULL, "'accum'", 0,                                 \
	  mudsc_accum_cross_correlation(O.d, 64, NULL, NULL))                                       \
	X(cross_correlation_empty, MUDSC_E_STATE, NULL, "observation", H * H,                           \
	  mudsc_accum_cross_correlation(O.d, 64, &F.needed, F.acc_empty))                           \
	X(set_activations_cross_zip, MUDSC_E_UNSUPPORTED, "mudsc_matcher_set_activations", "zip (opts->method = MUDSC_METHOD_ZIP) needs the full mode", 0, \
	  cross_activations_for_zip())                                                                \
	X(set_stats_file_matcher, MUDSC_E_INVALID, NULL, "'matcher'", 0,                                \
	  mudsc_matcher_set_stats_file(NULL, "x"))                                                  \
	X(set_stats_file_path, MUDSC_E_INVALID, NULL, "'path'", 0,                                      \
	  mudsc_matcher_set_stats_file(F.unrun, NULL))                                              \
	X(set_stats_file_missing, MUDSC_E_IO, NULL, "argument 'path'", 0,                               \
	  mudsc_matcher_set_stats_file(F.unrun, "/nonexistent/stats.safetensors"))                  \
	X(set_stats_callback_fn, MUDSC_E_INVALID, NULL, "'fn'", 0,                                      \
	  mudsc_matcher_set_stats_callback(F.unrun, NULL, NULL))                                    \
	X(set_stats_callback_matcher, MUDSC_E_INVALID, NULL, "'matcher'", 0,                            \
	  mudsc_matcher_set_stats_callback(NULL, no_stats, NULL))                                   \
	X(run_stats_callback_fails, MUDSC_E_NOT_FOUND, "mudsc_matcher_run", "point 'layers.0': the statistics callback failed", 0, \
	  run_with_failing_callback())                                                                \
	X(update_model, MUDSC_E_RANGE, "mudsc_accum_update", "model", 0,                                                  \
	  update_with(2, MUDSC_DTYPE_F64, 2, ROWS, H, 1, F.x, NULL))                                \
	X(update_features, MUDSC_E_INVALID, NULL, "'features'", 0, mudsc_accum_update(F.acc, 0, NULL))    \
	X(update_dtype, MUDSC_E_INVALID, "mudsc_accum_update", "dtype", 0,                                                \
	  update_with(0, MUDSC_DTYPE_I32, 2, ROWS, H, 1, F.x, NULL))                                \
	X(update_rank, MUDSC_E_SHAPE, "mudsc_accum_update", "rank", 0, update_with(0, MUDSC_DTYPE_F64, 0, ROWS, H, 1, F.x, NULL)) \
	X(update_axis, MUDSC_E_SHAPE, "mudsc_accum_update", "feature_axis", 0,                                            \
	  update_with(0, MUDSC_DTYPE_F64, 2, ROWS, H, 5, F.x, NULL))                                \
	X(update_width, MUDSC_E_SHAPE, "mudsc_accum_update", "width", 0,                                                  \
	  update_with(0, MUDSC_DTYPE_F64, 2, 2, H + 1, 1, F.x, NULL))                               \
	X(update_shape, MUDSC_E_SHAPE, "mudsc_accum_update", "shape", 0,                                               \
	  update_with(0, MUDSC_DTYPE_F64, 2, -1, H, 1, F.x, NULL))                                  \
	X(update_data, MUDSC_E_INVALID, "mudsc_accum_update", "data", 0,                                                  \
	  update_with(0, MUDSC_DTYPE_F64, 2, ROWS, H, 1, NULL, NULL))                               \
	X(update_nan, MUDSC_E_NUMERIC, "mudsc_accum_update", "model 0", 0, update_nan())                                  \
	X(update_f32_huge, MUDSC_E_NUMERIC, "mudsc_accum_update", "model 0, chunk", 0, update_f32_huge()) \
	X(update_strides_overflow, MUDSC_E_INVALID, "mudsc_accum_update", "features->strides[0] = 9223372036854775807", 0, update_strides_overflow()) \
	X(accum_new_models_huge, MUDSC_E_INVALID, NULL, "8 x 2147483647^2 bytes", 0, mudsc_accum_new((mudsc_accum **)&O.p[0], INT32_MAX, 1, NULL)) \
	X(update_max_lead, MUDSC_E_STATE, "mudsc_accum_update", "max_lead", 0, update_too_far_ahead())                    \
	X(count_model, MUDSC_E_RANGE, NULL, "model", 0, mudsc_accum_count(&O.i64[0], F.acc, 5))           \
	X(count_out, MUDSC_E_INVALID, NULL, "'out'", 0, mudsc_accum_count(NULL, F.acc, 0))                \
	X(correlation_capacity, MUDSC_E_RANGE, NULL, "'capacity' = 10", NC * NC,                          \
	  mudsc_accum_correlation(O.d, 10, &F.needed, F.acc))                                       \
	X(correlation_out, MUDSC_E_INVALID, NULL, "'out'", NC * NC,                                       \
	  mudsc_accum_correlation(NULL, NC * NC, &F.needed, F.acc))                                 \
	X(correlation_empty, MUDSC_E_STATE, NULL, "observation", NC * NC,                                       \
	  mudsc_accum_correlation(O.d, 64, &F.needed, F.acc_empty))                                 \
	X(correlation_unequal, MUDSC_E_MISMATCH, NULL, "count", NC * NC,                                        \
	  mudsc_accum_correlation(O.d, 64, &F.needed, F.acc_lead))                                  \
	X(means_capacity, MUDSC_E_RANGE, NULL, "'capacity' = 3", NC, mudsc_accum_means(O.d, 3, &F.needed, F.acc)) \
	X(stddevs_empty, MUDSC_E_STATE, NULL, "observation", NC,                                           \
	  mudsc_accum_stddevs(O.d, 64, &F.needed, F.acc_empty))                                     \
	X(covariance_accum, MUDSC_E_INVALID, NULL, "'accum'", 0,                                          \
	  mudsc_accum_covariance(O.d, 64, &O.needed, NULL))                                         \
	X(merge_self, MUDSC_E_INVALID, NULL, "src", 0, mudsc_accum_merge(F.acc, F.acc))                   \
	X(merge_models, MUDSC_E_MISMATCH, NULL, "3", 0, mudsc_accum_merge(F.acc, F.acc3))                 \
	X(merge_buffered, MUDSC_E_MISMATCH, NULL, "(src)", 0, mudsc_accum_merge(F.acc, F.acc_lead))    \
	X(serialize_out, MUDSC_E_INVALID, NULL, "'out_buf'", 0, mudsc_accum_serialize(NULL, &O.len, F.acc)) \
	X(serialize_unequal, MUDSC_E_MISMATCH, NULL, "count", 0,                                          \
	  mudsc_accum_serialize(&O.p[0], &O.len, F.acc_lead))                                       \
	X(deserialize_buf, MUDSC_E_INVALID, NULL, "'buf'", 0,                                             \
	  mudsc_accum_deserialize((mudsc_accum **)&O.p[0], NULL, 64, NULL))                         \
	X(deserialize_short, MUDSC_E_PARSE, NULL, "'len' = 20", 0,                                             \
	  mudsc_accum_deserialize((mudsc_accum **)&O.p[0], F.acc_buf, 20, NULL))                    \
	X(deserialize_magic, MUDSC_E_PARSE, "mudsc_accum_deserialize", "magic", 0, accum_bytes_with(0, 0x20))                  \
	X(deserialize_version, MUDSC_E_PARSE, "mudsc_accum_deserialize", "version", 0, accum_bytes_with(8, 0x02))              \
	X(deserialize_hash, MUDSC_E_PARSE, "mudsc_accum_deserialize", "hash", 0, accum_bytes_with(48, 0x01))                   \
	X(set_block_rows_rows, MUDSC_E_INVALID, NULL, "rows", 0, mudsc_accum_set_block_rows(F.acc_empty, 0)) \
	X(set_block_rows_state, MUDSC_E_STATE, NULL, "first observations", 0, mudsc_accum_set_block_rows(F.acc, 64))  \
	/* matchers */                                                                              \
	X(matcher_options_init_opts, MUDSC_E_INVALID, NULL, "'opts'", 0, mudsc_matcher_options_init(NULL)) \
	X(matcher_new_out, MUDSC_E_INVALID, NULL, "'out'", 0, mudsc_matcher_new(NULL, F.graph, F.pair, 2, NULL)) \
	X(matcher_new_graph, MUDSC_E_INVALID, NULL, "'graph'", 0,                                         \
	  mudsc_matcher_new((mudsc_matcher **)&O.p[0], NULL, F.pair, 2, NULL))                      \
	X(matcher_new_models, MUDSC_E_INVALID, NULL, "'models'", 0,                                       \
	  mudsc_matcher_new((mudsc_matcher **)&O.p[0], F.graph, NULL, 2, NULL))                     \
	X(matcher_new_n_models, MUDSC_E_INVALID, NULL, "n_models", 0,                                     \
	  mudsc_matcher_new((mudsc_matcher **)&O.p[0], F.graph, F.pair, 1, NULL))                   \
	X(matcher_new_model_null, MUDSC_E_INVALID, NULL, "models[1]", 0,                                  \
	  mudsc_matcher_new((mudsc_matcher **)&O.p[0], F.graph, F.pair_null, 2, NULL))              \
	X(matcher_new_width, MUDSC_E_SHAPE, NULL, "mudsc_graph_validate: model 1", 0,                   \
	  mudsc_matcher_new((mudsc_matcher **)&O.p[0], F.graph, F.pair_wide, 2, NULL))              \
	X(matcher_new_dtype, MUDSC_E_MISMATCH, NULL, "tensor 'layers.0.weight' differs in dtype between model 0 (F32) and model 1 (F64)", 0, \
	  mudsc_matcher_new((mudsc_matcher **)&O.p[0], F.graph, F.pair_f64, 2, NULL))               \
	X(matcher_new_size, MUDSC_E_INVALID, "mudsc_matcher_new", "opts->size = 7", 0, matcher_new_size())            \
	X(matcher_new_method, MUDSC_E_INVALID, "mudsc_matcher_new", "method", 0, matcher_new_method())                   \
	X(matcher_new_alpha, MUDSC_E_INVALID, "mudsc_matcher_new", "alpha", 0, matcher_new_alpha())                      \
	X(matcher_new_alpha_nan, MUDSC_E_INVALID, "mudsc_matcher_new", "alpha", 0, matcher_new_alpha_nan())              \
	X(matcher_new_similarity, MUDSC_E_INVALID, "mudsc_matcher_new", "similarity", 0, matcher_new_similarity())       \
	X(matcher_new_zip_r, MUDSC_E_INVALID, "mudsc_matcher_new", "zip_r", 0, matcher_new_zip_r())                      \
	X(matcher_new_zip_b, MUDSC_E_INVALID, "mudsc_matcher_new", "zip_b", 0, matcher_new_zip_b())                      \
	X(matcher_new_use_groups, MUDSC_E_INVALID, "mudsc_matcher_new", "use_groups", 0, matcher_new_use_groups())       \
	X(matcher_new_max_iter, MUDSC_E_INVALID, "mudsc_matcher_new", "max_iter", 0, matcher_new_max_iter())             \
	X(matcher_new_patience, MUDSC_E_INVALID, "mudsc_matcher_new", "patience", 0, matcher_new_patience())             \
	X(matcher_new_threads, MUDSC_E_INVALID, "mudsc_matcher_new", "threads", 0, matcher_new_threads())                \
	X(matcher_new_eps, MUDSC_E_INVALID, "mudsc_matcher_new", "eps", 0, matcher_new_eps())                            \
	X(matcher_new_max_memory, MUDSC_E_INVALID, "mudsc_matcher_new", "opts->max_memory = -1", 0, matcher_new_max_memory()) \
	X(matcher_new_weight_precision, MUDSC_E_INVALID, "mudsc_matcher_new", "opts->weight_precision = 2", 0, matcher_new_weight_precision()) \
	X(matcher_new_cca_ridge, MUDSC_E_INVALID, "mudsc_matcher_new", "opts->cca_ridge = -1", 0, matcher_new_cca_ridge()) \
	X(matcher_new_cca_ridge_nan, MUDSC_E_INVALID, "mudsc_matcher_new", "opts->cca_ridge = nan", 0, matcher_new_cca_ridge_nan()) \
	X(set_activations_cross_cca, MUDSC_E_UNSUPPORTED, "mudsc_matcher_set_activations", "CCA (opts->method = MUDSC_METHOD_CCA) needs the full mode", 0, \
	  cross_activations_for_cca())                                                              \
	X(run_cca_without_stats, MUDSC_E_STATE, "mudsc_matcher_run", "CCA (opts->method = MUDSC_METHOD_CCA) needs activation statistics", 0, \
	  cca_run_without_stats())                                                                  \
	X(run_cca_singular, MUDSC_E_NUMERIC, "mudsc_matcher_run", "point 'layers.0': model 1's covariance plus the ridge is singular", 0, \
	  cca_run_singular())                                                                       \
	X(assignment_cca, MUDSC_E_STATE, "mudsc_matcher_assignment", "are dense transforms", 0, cca_assignment()) \
	X(permutation_cca, MUDSC_E_STATE, "mudsc_matcher_permutation", "are dense transforms", 0, cca_permutation()) \
	X(matcher_new_sweep_order, MUDSC_E_INVALID, "mudsc_matcher_new", "opts->sweep_order = 2", 0, matcher_new_sweep_order()) \
	X(matcher_new_unbound_point, MUDSC_E_INVALID, "mudsc_matcher_new", "point 'lonely' (index 2) of argument 'graph' has no bindings", 0, matcher_new_unbound_point()) \
	X(matcher_new_missing, MUDSC_E_NOT_FOUND, "mudsc_matcher_new", "'layers.0.weight'", 0, matcher_new_missing()) \
	X(set_activations_point, MUDSC_E_RANGE, NULL, "point", 0,                                         \
	  mudsc_matcher_set_activations(F.unrun, 2, F.acc))                                         \
	X(set_activations_accum, MUDSC_E_INVALID, NULL, "'accum'", 0,                                     \
	  mudsc_matcher_set_activations(F.unrun, 0, NULL))                                          \
	X(set_activations_models, MUDSC_E_MISMATCH, NULL, "3", 0,                                         \
	  mudsc_matcher_set_activations(F.unrun, 0, F.acc3))                                        \
	X(set_similarity_len, MUDSC_E_SHAPE, NULL, "len", 0,                                              \
	  mudsc_matcher_set_activation_similarity(F.unrun, 0, F.S, NC * NC - 1))                    \
	X(set_similarity_symmetric, MUDSC_E_INVALID, "mudsc_matcher_set_activation_similarity", "symmetric", 0, set_similarity_asymmetric())   \
	X(set_similarity_nan, MUDSC_E_NUMERIC, "mudsc_matcher_set_activation_similarity", "S_a", 0, set_similarity_nan())                      \
	X(run_matcher, MUDSC_E_INVALID, NULL, "argument 'matcher' is NULL", 0, mudsc_matcher_run(NULL)) \
	X(set_activations_matcher, MUDSC_E_INVALID, NULL, "argument 'matcher' is NULL", 0, mudsc_matcher_set_activations(NULL, 0, F.acc)) \
	X(set_similarity_matcher, MUDSC_E_INVALID, NULL, "argument 'matcher' is NULL", 0, mudsc_matcher_set_activation_similarity(NULL, 0, F.S, NC * NC)) \
	X(objectives_matcher, MUDSC_E_INVALID, NULL, "argument 'matcher' is NULL", 0, mudsc_matcher_objectives(O.d, 64, &O.needed, NULL)) \
	X(merge_matcher, MUDSC_E_INVALID, NULL, "argument 'matcher' is NULL", 0, mudsc_matcher_merge((mudsc_model **)&O.p[0], NULL, NULL)) \
	X(run_partial_activations, MUDSC_E_STATE, NULL, "activations", 0, mudsc_matcher_run(F.part_acts)) \
	X(objectives_state, MUDSC_E_STATE, NULL, "run", 0,                                                \
	  mudsc_matcher_objectives(O.d, 64, &O.needed, F.unrun))                                    \
	X(point_result_point, MUDSC_E_RANGE, NULL, "point", 0,                                            \
	  mudsc_matcher_point_result(&O.i64[0], O.d, F.ran, 2))                                     \
	X(point_result_state, MUDSC_E_STATE, NULL, "run", 0,                                              \
	  mudsc_matcher_point_result(&O.i64[0], O.d, F.unrun, 0))                                   \
	X(assignment_point, MUDSC_E_RANGE, NULL, "point", 0,                                              \
	  mudsc_matcher_assignment(O.i64, 64, &O.needed, F.ran, 2))                                 \
	X(assignment_capacity, MUDSC_E_RANGE, NULL, "'capacity' = 4", NC,                                 \
	  mudsc_matcher_assignment(O.i64, 4, &F.needed, F.ran, 0))                                  \
	X(matrix_kind, MUDSC_E_INVALID, NULL, "kind", 0,                                                  \
	  mudsc_matcher_matrix(O.d, 64, &O.needed, F.ran, 0, 0, (mudsc_matrix_kind)5))              \
	X(matrix_model, MUDSC_E_RANGE, NULL, "model", 0,                                                  \
	  mudsc_matcher_matrix(O.d, 64, &O.needed, F.ran, 0, 2, MUDSC_MATRIX_MERGE))                \
	X(permutation_zip, MUDSC_E_STATE, NULL, "zip", H,                                                 \
	  mudsc_matcher_permutation(O.i64, 64, &F.needed, F.zip, 0, 1))                             \
	X(permutation_model, MUDSC_E_RANGE, NULL, "model", 0,                                             \
	  mudsc_matcher_permutation(O.i64, 64, &O.needed, F.ran, 0, -1))                            \
	X(merge_state, MUDSC_E_STATE, NULL, "run", 0,                                                     \
	  mudsc_matcher_merge((mudsc_model **)&O.p[0], F.unrun, NULL))                              \
	X(merge_out, MUDSC_E_INVALID, NULL, "'out'", 0, mudsc_matcher_merge(NULL, F.ran, NULL))           \
	X(merge_weights, MUDSC_E_INVALID, NULL, "weights[1]", 0,                                          \
	  mudsc_matcher_merge((mudsc_model **)&O.p[0], F.ran, weights_nan))                         \
	X(permute_model_point, MUDSC_E_RANGE, NULL, "'point' = -2", 0,                                    \
	  mudsc_permute_model((mudsc_model **)&O.p[0], F.graph, F.m[0], 1, -2))                     \
	X(permute_model_past, MUDSC_E_RANGE, NULL, "'point' = 2", 0,                                      \
	  mudsc_permute_model((mudsc_model **)&O.p[0], F.graph, F.m[0], 1, 2))                      \
	X(permute_model_graph, MUDSC_E_INVALID, NULL, "'graph'", 0,                                       \
	  mudsc_permute_model((mudsc_model **)&O.p[0], NULL, F.m[0], 1, -1))                        \
	X(permute_model_mismatch, MUDSC_E_SHAPE, NULL, "width", 0,                                        \
	  mudsc_permute_model((mudsc_model **)&O.p[0], F.graph, F.wide, 1, -1))                     \
	X(permute_point_range, MUDSC_E_RANGE, NULL, "'point' = 2", 0,                                     \
	  mudsc_permute_point(O.i64, 64, &O.needed, F.graph, 2, 1))                                 \
	X(permute_point_small, MUDSC_E_RANGE, NULL, "capacity", 4,                                        \
	  mudsc_permute_point(O.i64, 2, &F.needed, F.graph, 0, 1))                                  \
	X(transform_model, MUDSC_E_RANGE, NULL, "model", 0,                                               \
	  mudsc_matcher_transform((mudsc_model **)&O.p[0], F.ran, 2))                               \
	X(transform_state, MUDSC_E_STATE, NULL, "run", 0,                                                 \
	  mudsc_matcher_transform((mudsc_model **)&O.p[0], F.unrun, 1))                             \
	X(merge_to_file_matcher, MUDSC_E_INVALID, NULL, "argument 'matcher' is NULL", 0,                \
	  mudsc_matcher_merge_to_file(NULL, "/tmp/mudsc-bad-never.safetensors", NULL))              \
	X(merge_to_file_path, MUDSC_E_INVALID, NULL, "'path'", 0,                                        \
	  mudsc_matcher_merge_to_file(F.ran, NULL, NULL))                                           \
	X(merge_to_file_state, MUDSC_E_STATE, NULL, "run", 0,                                            \
	  mudsc_matcher_merge_to_file(F.unrun, "/tmp/mudsc-bad-never.safetensors", NULL))           \
	X(merge_to_file_weights, MUDSC_E_INVALID, NULL, "weights[1]", 0,                                 \
	  mudsc_matcher_merge_to_file(F.ran, "/tmp/mudsc-bad-never.safetensors", weights_nan))      \
	X(merge_to_file_folder, MUDSC_E_IO, NULL, "/nonexistent/m.safetensors", 0,                       \
	  mudsc_matcher_merge_to_file(F.ran, "/nonexistent/m.safetensors", NULL))                   \
	X(transform_to_file_model, MUDSC_E_RANGE, NULL, "model 2", 0,                                    \
	  mudsc_matcher_transform_to_file(F.ran, "/tmp/mudsc-bad-never.safetensors", 2))            \
	X(transform_to_file_state, MUDSC_E_STATE, NULL, "run", 0,                                        \
	  mudsc_matcher_transform_to_file(F.unrun, "/tmp/mudsc-bad-never.safetensors", 1))          \
	X(transform_to_file_path, MUDSC_E_INVALID, NULL, "'path'", 0,                                    \
	  mudsc_matcher_transform_to_file(F.ran, NULL, 0))                                          \
	/* field distances and the quadrature rules */                                            \
	X(quadrature_nodes, MUDSC_E_INVALID, NULL, "'nodes'", 0, mudsc_quadrature(NULL, O.d, 0, 5))      \
	X(quadrature_weights, MUDSC_E_INVALID, NULL, "'weights'", 0, mudsc_quadrature(O.d, NULL, 0, 5))  \
	X(quadrature_rule, MUDSC_E_INVALID, NULL, "rule = 7", 0, mudsc_quadrature(O.d, &O.d[32], 7, 5))  \
	X(quadrature_steps, MUDSC_E_INVALID, NULL, "steps = 1", 0,                                   \
	  mudsc_quadrature(O.d, &O.d[32], MUDSC_QUAD_RIEMANN_TRAPEZOID, 1))                         \
	X(quadrature_steps_big, MUDSC_E_INVALID, NULL, "steps = 5000", 0,                            \
	  mudsc_quadrature(O.d, &O.d[32], 0, 5000))                                                 \
	X(field_options_init_opts, MUDSC_E_INVALID, NULL, "'opts'", 0, mudsc_field_options_init(NULL)) \
	X(field_new_out, MUDSC_E_INVALID, NULL, "'out'", 0, mudsc_field_new(NULL, 2, H, NULL))          \
	X(field_new_models, MUDSC_E_INVALID, NULL, "'n_models' = 1", 0,                              \
	  mudsc_field_new((mudsc_field **)&O.p[0], 1, H, NULL))                                     \
	X(field_new_size, MUDSC_E_INVALID, NULL, "'input_size' = 0", 0,                              \
	  mudsc_field_new((mudsc_field **)&O.p[0], 2, 0, NULL))                                     \
	X(field_new_steps, MUDSC_E_INVALID, "mudsc_field_new", "opts->steps", 0, field_new_with(0))   \
	X(field_new_rule, MUDSC_E_INVALID, "mudsc_field_new", "opts->rule", 0, field_new_with(1))     \
	X(field_new_opts_size, MUDSC_E_INVALID, "mudsc_field_new", "opts->size", 0, field_new_with(2)) \
	X(field_new_keep, MUDSC_E_INVALID, "mudsc_field_new", "opts->keep_inputs", 0, field_new_with(3)) \
	X(field_new_block_rows, MUDSC_E_INVALID, "mudsc_field_new", "opts->block_rows", 0,          \
	  field_new_with(4))                                                                        \
	X(field_new_trapezoid, MUDSC_E_INVALID, "mudsc_field_new", "opts->steps", 0, field_new_with(5)) \
	X(field_new_lead, MUDSC_E_INVALID, "mudsc_field_new", "opts->max_lead", 0, field_new_with(6)) \
	X(field_points_field, MUDSC_E_INVALID, NULL, "'field'", 0, mudsc_field_points(O.d, O.d, NULL)) \
	X(field_begin_field, MUDSC_E_INVALID, NULL, "'field'", 0, mudsc_field_begin(NULL, NULL, NULL)) \
	X(field_begin_inputs, MUDSC_E_INVALID, NULL, "'inputs'", 0, mudsc_field_begin(F.gif, NULL, NULL)) \
	X(field_begin_width, MUDSC_E_SHAPE, "mudsc_field_begin", "'inputs'", 0,                     \
	  field_begin_with(F.gif, ROWS, H + 1, -1, 0))                                              \
	X(field_begin_rank, MUDSC_E_SHAPE, "mudsc_field_begin", "'inputs'", 0,                      \
	  field_begin_with(F.gif, ROWS, -1, -1, 0))                                                 \
	X(field_begin_baselines, MUDSC_E_SHAPE, "mudsc_field_begin", "'baselines'", 0,              \
	  field_begin_with(F.gif, ROWS, H, ROWS - 1, 0))                                            \
	X(field_begin_nan, MUDSC_E_NUMERIC, "mudsc_field_begin", "non-finite", 0,                   \
	  field_begin_with(F.gif, ROWS, H, ROWS, 1))                                                \
	X(field_begin_open, MUDSC_E_STATE, "mudsc_field_begin", "not complete", 0,                  \
	  field_begin_with(F.gif_open, ROWS, H, -1, 0))                                             \
	X(field_update_field, MUDSC_E_INVALID, NULL, "'field'", 0, mudsc_field_update(NULL, 0, NULL))  \
	X(field_update_gradients, MUDSC_E_INVALID, NULL, "'gradients'", 0,                           \
	  mudsc_field_update(F.gif_open, 0, NULL))                                                  \
	X(field_update_model, MUDSC_E_RANGE, "mudsc_field_update", "'model' = 2", 0,                \
	  field_update_with(F.gif_open, 2, ROWS, H))                                                \
	X(field_update_closed, MUDSC_E_STATE, "mudsc_field_update", "no open batch", 0,             \
	  field_update_with(F.gif, 0, ROWS, H))                                                     \
	X(field_update_past, MUDSC_E_STATE, "mudsc_field_update", "past the batch", 0,              \
	  field_update_with(F.gif_open, 1, 3 * ROWS, H))                                            \
	X(field_update_lead, MUDSC_E_STATE, "mudsc_field_update", "max_lead", 0,                    \
	  field_update_with(F.gif_open, 0, ROWS, H))                                                \
	X(field_update_width, MUDSC_E_SHAPE, "mudsc_field_update", "'gradients'", 0,                \
	  field_update_with(F.gif_open, 1, ROWS, H + 1))                                            \
	X(field_merge_dst, MUDSC_E_INVALID, NULL, "'dst'", 0, mudsc_field_merge(NULL, F.gif))            \
	X(field_merge_same, MUDSC_E_INVALID, NULL, "same", 0, mudsc_field_merge(F.gif, F.gif))           \
	X(field_merge_open, MUDSC_E_STATE, NULL, "'src'", 0, mudsc_field_merge(F.gif, F.gif_open))       \
	X(field_merge_models, MUDSC_E_MISMATCH, NULL, "n_models", 0, mudsc_field_merge(F.gif, F.gif3))   \
	X(field_distances_field, MUDSC_E_INVALID, NULL, "'field'", 0,                                \
	  mudsc_field_distances(O.d, 4, NULL, NULL))                                                \
	X(field_distances_none, MUDSC_E_STATE, NULL, "no inputs", 0,                                 \
	  mudsc_field_distances(O.d, 4, NULL, F.gif))                                               \
	X(field_distances_open, MUDSC_E_STATE, NULL, "open batch", 0,                                \
	  mudsc_field_distances(O.d, 4, NULL, F.gif_open))                                          \
	X(field_distances_capacity, MUDSC_E_RANGE, NULL, "capacity", 4,                              \
	  mudsc_field_distances(O.d, 2, &F.needed, F.gif_done))                                     \
	X(field_step_distances_out, MUDSC_E_INVALID, NULL, "'out'", 8,                                \
	  mudsc_field_step_distances(NULL, 8, &F.needed, F.gif_done))                               \
	X(field_input_distances_keep, MUDSC_E_STATE, NULL, "keep_inputs", 0,                         \
	  mudsc_field_input_distances(O.d, 64, NULL, F.gif_done))                                   \
	X(field_save_buffer_open, MUDSC_E_STATE, NULL, "open batch", 0,                              \
	  mudsc_field_save_buffer(&O.p[0], &O.len, F.gif_open))                                     \
	X(field_save_path, MUDSC_E_INVALID, NULL, "'path'", 0, mudsc_field_save(F.gif, NULL))            \
	X(field_load_buffer_out, MUDSC_E_INVALID, NULL, "'out'", 0,                                  \
	  mudsc_field_load_buffer(NULL, F.gif_buf, F.gif_len, NULL))                                \
	X(field_load_buffer_magic, MUDSC_E_PARSE, "mudsc_field_load_buffer", "magic", 0,            \
	  field_load_flipped(0))                                                                    \
	X(field_load_buffer_checksum, MUDSC_E_PARSE, "mudsc_field_load_buffer", "checksum", 0,      \
	  field_load_flipped(50))                                                                   \
	X(field_load_buffer_short, MUDSC_E_PARSE, NULL, "shorter", 0,                                \
	  mudsc_field_load_buffer((mudsc_field **)&O.p[0], F.gif_buf, 20, NULL))                    \
	X(field_load_io, MUDSC_E_IO, NULL, "/nonexistent/field", 0,                                   \
	  mudsc_field_load((mudsc_field **)&O.p[0], "/nonexistent/field", NULL))                    \
	/* averaging (average.h) */                                                                 \
	X(average_dst, MUDSC_E_INVALID, NULL, "'dst'", 0, mudsc_average(NULL, 2, F.pair, NULL, NULL))   \
	X(average_models, MUDSC_E_INVALID, NULL, "'models'", 0,                                       \
	  mudsc_average(F.fresh, 2, NULL, NULL, NULL))                                              \
	X(average_n_models, MUDSC_E_INVALID, NULL, "'n_models' is 0 (need >= 1)", 0,                              \
	  mudsc_average(F.fresh, 0, F.pair, NULL, NULL))                                            \
	X(average_null_model, MUDSC_E_INVALID, NULL, "models[1] is NULL", 0,                          \
	  mudsc_average(F.fresh, 2, F.pair_null, NULL, NULL))                                       \
	X(average_weights_nan, MUDSC_E_INVALID, NULL, "weights[1]", 0,                                \
	  mudsc_average(F.fresh, 2, F.pair, weights_nan, NULL))                                     \
	X(average_weights_sum, MUDSC_E_INVALID, NULL, "weights sum to 2", 0,                          \
	  mudsc_average(F.fresh, 2, F.pair, weights_two, NULL))                                     \
	X(average_opts_size, MUDSC_E_INVALID, NULL, "opts->size = 3", 0,                              \
	  mudsc_average(F.fresh, 2, F.pair, NULL, &average_size3))                                  \
	X(average_opts_threads, MUDSC_E_INVALID, NULL, "opts->threads = -1", 0,                       \
	  mudsc_average(F.fresh, 2, F.pair, NULL, &average_threads_neg))                            \
	X(average_count, MUDSC_E_MISMATCH, NULL, "dst has 1 tensors", 0,                              \
	  mudsc_average(F.fresh, 2, F.pair, NULL, NULL))                                            \
	X(average_shape, MUDSC_E_SHAPE, NULL, "'layers.0.weight' has another shape in models[1]", 0,  \
	  mudsc_average(F.wide, 2, F.pair_wide, NULL, NULL))                                        \
	X(average_dtype, MUDSC_E_MISMATCH, NULL, "is F64 in models[1]", 0,                            \
	  mudsc_average(F.wide, 2, F.pair_f64, NULL, NULL))                                         \
	X(average_frozen, MUDSC_E_STATE, NULL, "frozen", 0, mudsc_average(F.m[1], 2, F.pair, NULL, NULL)) \
	X(average_options_init, MUDSC_E_INVALID, NULL, "'opts'", 0, mudsc_average_options_init(NULL))  \
	X(average_aligned_dst, MUDSC_E_INVALID, NULL, "'dst'", 0,                                     \
	  mudsc_average_aligned(NULL, F.ran, NULL, NULL))                                           \
	X(average_aligned_matcher, MUDSC_E_INVALID, NULL, "'matcher'", 0,                             \
	  mudsc_average_aligned(F.wide, NULL, NULL, NULL))                                          \
	X(average_aligned_state, MUDSC_E_STATE, NULL, "run", 0,                                       \
	  mudsc_average_aligned(F.wide, F.unrun, NULL, NULL))                                       \
	X(average_aligned_weights, MUDSC_E_INVALID, NULL, "weights sum to 2", 0,                      \
	  mudsc_average_aligned(F.wide, F.ran, weights_two, NULL))                                  \
	X(average_aligned_frozen, MUDSC_E_STATE, NULL, "frozen", 0,                                   \
	  mudsc_average_aligned(F.m[0], F.ran, NULL, NULL))                                         \
	X(average_aligned_zip, MUDSC_E_SHAPE, NULL, "another shape in dst", 0,                        \
	  mudsc_average_aligned(F.wide, F.zip, NULL, NULL))                                         \
	/* alpha search */                                                                          \
	X(search_matcher, MUDSC_E_INVALID, SEARCH, "'matcher'", 0, search(NULL, alphas_ok, 2, score_zero)) \
	X(search_alphas, MUDSC_E_INVALID, SEARCH, "'alphas'", 0, search(F.ran, NULL, 2, score_zero))       \
	X(search_score, MUDSC_E_INVALID, SEARCH, "'score'", 0, search(F.ran, alphas_ok, 2, NULL))          \
	X(search_n_alphas, MUDSC_E_INVALID, SEARCH, "n_alphas = 0", 0, search(F.ran, alphas_ok, 0, score_zero)) \
	X(search_alpha_range, MUDSC_E_INVALID, SEARCH, "alphas[1] = -0.5", 0,                               \
	  search(F.ran, alphas_bad, 2, score_zero))                                                 \
	X(search_cancel, MUDSC_E_CANCELLED, SEARCH, "cancelled at alphas[0]", 0,                            \
	  search(F.ran, alphas_ok, 2, score_stop))                                                  \
	X(search_nan, MUDSC_E_NUMERIC, SEARCH, "(need finite)", 0, search(F.ran, alphas_ok, 2, score_nan)) \
	/* per-point alphas */                                                                      \
	X(psearch_matcher, MUDSC_E_INVALID, PSEARCH, "'matcher'", 0,                                  \
	  psearch(NULL, alphas_ok, 2, 1, score_zero))                                               \
	X(psearch_alphas, MUDSC_E_INVALID, PSEARCH, "'alphas'", 0, psearch(F.ran, NULL, 2, 1, score_zero)) \
	X(psearch_score, MUDSC_E_INVALID, PSEARCH, "'score'", 0, psearch(F.ran, alphas_ok, 2, 1, NULL)) \
	X(psearch_n_alphas, MUDSC_E_INVALID, PSEARCH, "n_alphas = 0", 0,                              \
	  psearch(F.ran, alphas_ok, 0, 1, score_zero))                                              \
	X(psearch_rounds, MUDSC_E_INVALID, PSEARCH, "rounds = -1", 0,                                 \
	  psearch(F.ran, alphas_ok, 2, -1, score_zero))                                             \
	X(psearch_alpha_range, MUDSC_E_INVALID, PSEARCH, "alphas[1] = -0.5", 0,                       \
	  psearch(F.ran, alphas_bad, 2, 1, score_zero))                                             \
	X(psearch_cancel, MUDSC_E_CANCELLED, PSEARCH, "cancelled at alphas[0]", 0,                    \
	  psearch(F.ran, alphas_ok, 2, 1, score_stop))                                              \
	X(psearch_nan, MUDSC_E_NUMERIC, PSEARCH, "(need finite)", 0,                                  \
	  psearch(F.ran, alphas_ok, 2, 1, score_nan))                                               \
	X(set_point_alphas_matcher, MUDSC_E_INVALID, SETPA, "'matcher'", 0,                           \
	  mudsc_matcher_set_point_alphas(NULL, alphas_ok, 2))                                       \
	X(set_point_alphas_n, MUDSC_E_INVALID, SETPA, "n_points = 1", 0,                              \
	  mudsc_matcher_set_point_alphas(F.ran, alphas_ok, 1))                                      \
	X(set_point_alphas_range, MUDSC_E_INVALID, SETPA, "alphas[1] = -0.5", 0,                      \
	  mudsc_matcher_set_point_alphas(F.ran, alphas_bad, 2))                                     \
	X(point_alphas_matcher, MUDSC_E_INVALID, "mudsc_matcher_point_alphas", "'matcher'", 0,        \
	  mudsc_matcher_point_alphas(&O.d[0], 2, &O.needed, NULL))                                  \
	/* partial zipping */                                                                       \
	X(prefix_out, MUDSC_E_INVALID, NULL, "'out'", 0, mudsc_graph_prefix(NULL, F.graph, 1))            \
	X(prefix_graph, MUDSC_E_INVALID, NULL, "'graph'", 0,                                              \
	  mudsc_graph_prefix((mudsc_graph **)&O.p[0], NULL, 1))                                     \
	X(prefix_zero, MUDSC_E_RANGE, NULL, "depth = 0 outside 1..2", 0,                                  \
	  mudsc_graph_prefix((mudsc_graph **)&O.p[0], F.graph, 0))                                  \
	X(prefix_deep, MUDSC_E_RANGE, NULL, "depth = 3", 0,                                               \
	  mudsc_graph_prefix((mudsc_graph **)&O.p[0], F.graph, 3))                                  \
	X(partial_out, MUDSC_E_INVALID, NULL, "'out'", 0, mudsc_partial_merge(NULL, F.ran, F.graph, NULL)) \
	X(partial_matcher, MUDSC_E_INVALID, NULL, "'matcher'", 0,                                         \
	  mudsc_partial_merge((mudsc_model **)&O.p[0], NULL, F.graph, NULL))                        \
	X(partial_trunk, MUDSC_E_INVALID, NULL, "'trunk'", 0,                                             \
	  mudsc_partial_merge((mudsc_model **)&O.p[0], F.ran, NULL, NULL))                          \
	X(partial_empty, MUDSC_E_INVALID, NULL, "trunk has no points", 0,                                 \
	  mudsc_partial_merge((mudsc_model **)&O.p[0], F.ran, F.empty_graph, NULL))                 \
	X(partial_state, MUDSC_E_STATE, NULL, "run", 0,                                                   \
	  mudsc_partial_merge((mudsc_model **)&O.p[0], F.unrun, F.graph, NULL))                     \
	X(partial_weights, MUDSC_E_INVALID, NULL, "weights[1]", 0,                                        \
	  mudsc_partial_merge((mudsc_model **)&O.p[0], F.ran, F.graph, weights_nan))                \
	/* REPAIR */                                                                                \
	X(repair_out, MUDSC_E_INVALID, "mudsc_repair", "'out'", 0, repair_bad(R_OUT))                    \
	X(repair_matcher, MUDSC_E_INVALID, "mudsc_repair", "'matcher'", 0, repair_bad(R_MATCHER))        \
	X(repair_sources, MUDSC_E_INVALID, "mudsc_repair", "'sources'", 0, repair_bad(R_SOURCES))        \
	X(repair_n_points, MUDSC_E_INVALID, "mudsc_repair", "n_points = 1", 0, repair_bad(R_N_POINTS))   \
	X(repair_state, MUDSC_E_STATE, "mudsc_repair", "point 'layers.0'", 0, repair_bad(R_STATE))      \
	X(repair_min_std, MUDSC_E_INVALID, "mudsc_repair", "opts->min_std", 0, repair_bad(R_MIN_STD))    \
	X(repair_size, MUDSC_E_INVALID, "mudsc_repair", "opts->size", 0, repair_bad(R_SIZE))             \
	X(repair_width, MUDSC_E_MISMATCH, "mudsc_repair", "merged_stats[0].width = 5", 0,                 \
	  repair_bad(R_WIDTH))                                                                      \
	X(repair_std, MUDSC_E_INVALID, "mudsc_repair", "merged_stats[1] unit 1", 0, repair_bad(R_STD))   \
	X(repair_weights, MUDSC_E_INVALID, "mudsc_repair", "weights[1]", 0, repair_bad(R_WEIGHTS))       \
	X(repair_zero_weights, MUDSC_E_INVALID, "mudsc_repair", "total weight 0", 0,                      \
	  repair_bad(R_ZERO_WEIGHTS))                                                               \
	X(repair_options_init_opts, MUDSC_E_INVALID, NULL, "'opts'", 0, mudsc_repair_options_init(NULL)) \
	X(repair_layer_out, MUDSC_E_INVALID, "mudsc_repair_layer", "'out'", 0,                            \
	  repair_layer_bad(RL_OUT))                                                                 \
	X(repair_layer_weight, MUDSC_E_INVALID, "mudsc_repair_layer", "'weight'", 0,                      \
	  repair_layer_bad(RL_WEIGHT))                                                              \
	X(repair_layer_n, MUDSC_E_INVALID, "mudsc_repair_layer", "n_models = 0", 0,                       \
	  repair_layer_bad(RL_N))                                                                   \
	X(repair_layer_same, MUDSC_E_INVALID, "mudsc_repair_layer", "both 'layers.2.weight'", 0,          \
	  repair_layer_bad(RL_SAME))                                                                \
	X(repair_layer_missing, MUDSC_E_NOT_FOUND, "mudsc_repair_layer", "'nope.weight'", 0,              \
	  repair_layer_bad(RL_MISSING))                                                             \
	X(repair_layer_rank, MUDSC_E_MISMATCH, "mudsc_repair_layer", "bias 'layers.2.weight' has rank 2", \
	  0, repair_layer_bad(RL_RANK))                                                             \
	X(repair_layer_width, MUDSC_E_MISMATCH, "mudsc_repair_layer", "merged_stats[0].width = 3", 0,     \
	  repair_layer_bad(RL_WIDTH))                                                               \
	X(repair_layer_null, MUDSC_E_INVALID, "mudsc_repair_layer", "merged_stats[0].mean is NULL", 0,    \
	  repair_layer_bad(RL_NULL))                                                                \
	X(repair_layer_std, MUDSC_E_INVALID, "mudsc_repair_layer", "sources[1] unit 1", 0,                \
	  repair_layer_bad(RL_STD))                                                                 \
	X(repair_layer_weights, MUDSC_E_INVALID, "mudsc_repair_layer", "weights[1]", 0,                   \
	  repair_layer_bad(RL_WEIGHTS))                                                             \
	X(repair_layer_zero_weights, MUDSC_E_INVALID, "mudsc_repair_layer", "sum to 0", 0,                \
	  repair_layer_bad(RL_ZERO_WEIGHTS))                                                        \
	X(repair_layer_min_std, MUDSC_E_INVALID, "mudsc_repair_layer", "opts->min_std", 0,                \
	  repair_layer_bad(RL_MIN_STD))                                                             \
	/* least-squares correction */                                                              \
	X(lsq_new_out, MUDSC_E_INVALID, "mudsc_lsq_new", "'out'", 0, lsq_bad(L_OUT))                     \
	X(lsq_new_matcher, MUDSC_E_INVALID, "mudsc_lsq_new", "'matcher'", 0, lsq_bad(L_MATCHER))         \
	X(lsq_new_point, MUDSC_E_INVALID, "mudsc_lsq_new", "'point'", 0, lsq_bad(L_POINT))               \
	X(lsq_new_not_found, MUDSC_E_NOT_FOUND, "mudsc_lsq_new", "point 'nope'", 0,                      \
	  lsq_bad(L_NOT_FOUND))                                                                     \
	X(lsq_new_state, MUDSC_E_STATE, "mudsc_lsq_new", "point 'layers.1'", 0, lsq_bad(L_STATE))         \
	X(lsq_new_weights, MUDSC_E_INVALID, "mudsc_lsq_new", "weights[1]", 0, lsq_bad(L_WEIGHTS))         \
	X(lsq_new_zero_weights, MUDSC_E_INVALID, "mudsc_lsq_new", "total weight 0", 0,                   \
	  lsq_bad(L_ZERO_WEIGHTS))                                                                  \
	X(lsq_new_dtype, MUDSC_E_UNSUPPORTED, "mudsc_lsq_new", "not a float", 0,                       \
	  lsq_bad(L_UNSUPPORTED))                                                                   \
	X(lsq_update_lsq, MUDSC_E_INVALID, "mudsc_lsq_update", "'lsq'", 0, lsq_bad(L_UPDATE_LSQ))        \
	X(lsq_update_outputs, MUDSC_E_INVALID, "mudsc_lsq_update", "'outputs'", 0,                       \
	  lsq_bad(L_UPDATE_OUTPUTS))                                                                \
	X(lsq_update_n, MUDSC_E_MISMATCH, "mudsc_lsq_update", "n_models = 3", 0, lsq_bad(L_UPDATE_N))    \
	X(lsq_update_rows, MUDSC_E_MISMATCH, "mudsc_lsq_update", "outputs[1] has 7 observations", 0,     \
	  lsq_bad(L_UPDATE_ROWS))                                                                   \
	X(lsq_update_width, MUDSC_E_SHAPE, "mudsc_lsq_update", "inputs", 0, lsq_bad(L_UPDATE_WIDTH))     \
	X(lsq_update_nan, MUDSC_E_NUMERIC, "mudsc_lsq_update", "outputs: model 1", 0,                    \
	  lsq_bad(L_UPDATE_NAN))                                                                    \
	X(lsq_solve_out, MUDSC_E_INVALID, "mudsc_lsq_solve", "'out'", 0, lsq_bad(L_SOLVE_OUT))           \
	X(lsq_solve_ridge, MUDSC_E_INVALID, "mudsc_lsq_solve", "opts->ridge", 0, lsq_bad(L_SOLVE_RIDGE)) \
	X(lsq_solve_size, MUDSC_E_INVALID, "mudsc_lsq_solve", "opts->size", 0, lsq_bad(L_SOLVE_SIZE))    \
	X(lsq_solve_empty, MUDSC_E_STATE, "mudsc_lsq_solve", "no observations", 0, lsq_bad(L_EMPTY))    \
	X(lsq_solve_singular, MUDSC_E_NUMERIC, "mudsc_lsq_solve", "not positive definite", 0,            \
	  lsq_bad(L_SINGULAR))                                                                      \
	X(lsq_solve_shape, MUDSC_E_NOT_FOUND, "mudsc_lsq_solve", "is not in merged", 0,                  \
	  lsq_bad(L_SOLVE_SHAPE))                                                                   \
	X(lsq_error_err, MUDSC_E_INVALID, "mudsc_lsq_error", "'err'", 0, lsq_bad(L_ERROR_ERR))           \
	X(lsq_error_empty, MUDSC_E_STATE, "mudsc_lsq_error", "no observations", 0,                       \
	  lsq_bad(L_ERROR_EMPTY))                                                                   \
	X(lsq_options_init_opts, MUDSC_E_INVALID, NULL, "'opts'", 0, mudsc_lsq_options_init(NULL))       \
	X(lsq_layer_out, MUDSC_E_INVALID, "mudsc_lsq_layer_new", "'out'", 0, lsq_layer_bad(LL_OUT))      \
	X(lsq_layer_merged, MUDSC_E_INVALID, "mudsc_lsq_layer_new", "'merged'", 0,                       \
	  lsq_layer_bad(LL_MERGED))                                                                 \
	X(lsq_layer_bias, MUDSC_E_INVALID, "mudsc_lsq_layer_new", "'bias'", 0, lsq_layer_bad(LL_BIAS))   \
	X(lsq_layer_n, MUDSC_E_INVALID, "mudsc_lsq_layer_new", "n_models = 0", 0,                        \
	  lsq_layer_bad(LL_N))                                                                      \
	X(lsq_layer_same, MUDSC_E_INVALID, "mudsc_lsq_layer_new", "both 'layers.2.weight'", 0,           \
	  lsq_layer_bad(LL_SAME))                                                                   \
	X(lsq_layer_missing, MUDSC_E_NOT_FOUND, "mudsc_lsq_layer_new", "'nope.weight'", 0,               \
	  lsq_layer_bad(LL_MISSING))                                                                \
	X(lsq_layer_rank, MUDSC_E_UNSUPPORTED, "mudsc_lsq_layer_new", "has rank 1", 0,                   \
	  lsq_layer_bad(LL_RANK))                                                                   \
	X(lsq_layer_width, MUDSC_E_MISMATCH, "mudsc_lsq_layer_new", "do not have the shapes", 0,         \
	  lsq_layer_bad(LL_WIDTH))                                                                  \
	X(lsq_layer_weights, MUDSC_E_INVALID, "mudsc_lsq_layer_new", "weights[1]", 0,                    \
	  lsq_layer_bad(LL_WEIGHTS))                                                                \
	X(lsq_layer_zero_weights, MUDSC_E_INVALID, "mudsc_lsq_layer_new", "total weight 0", 0,           \
	  lsq_layer_bad(LL_ZERO_WEIGHTS))                                                           \
	/* version and BLAS threads */                                                              \
	X(version_check_old_major, MUDSC_E_MISMATCH, NULL, "header", 0, mudsc_version_check(0))            \
	X(version_check_newer, MUDSC_E_MISMATCH, NULL, "header", 0,                                       \
	  mudsc_version_check(MUDSC_VERSION_NUMBER + 1))                                            \
	X(blas_set_threads_zero, MUDSC_E_INVALID, NULL, "n = 0", 0, mudsc_blas_set_threads(0))              \
	X(blas_set_threads_neg, MUDSC_E_INVALID, NULL, "n = -4", 0, mudsc_blas_set_threads(-4))              \
	/* the experimental kernels */                                                              \
	X(match_options_init_opts, MUDSC_E_INVALID, NULL, "'opts'", 0, mudsc_match_options_init(NULL))    \
	X(lap_solve_n, MUDSC_E_INVALID, NULL, "'n'", 0, mudsc_lap_solve(O.i64, &O.d[0], F.S, -1))         \
	X(lap_solve_nan, MUDSC_E_NUMERIC, NULL, "'S' has a non-finite entry", 0, mudsc_lap_solve(O.i64, &O.d[0], S_nan, 2))      \
	X(align_solve_groups, MUDSC_E_SHAPE, NULL, "G", 0,                                                \
	  mudsc_align_solve(O.i64, &O.d[0], F.S, 2, H, 3))                                          \
	X(zip_solve_symmetric, MUDSC_E_INVALID, NULL, "symmetric", 0,                                     \
	  mudsc_zip_solve(O.i64, &O.i64[40], NULL, &O.d[0], S_asym, 2, 1, 1, NULL))

CASES(ROW)
#undef ROW
#define ROW(id, st, prefix, msg, need, ...) {#__VA_ARGS__, st, prefix, msg, need, case_##id},
static const struct bad_case cases[] = {CASES(ROW)};
#undef ROW

START_TEST(test_bad_call)
{
	const struct bad_case *c = &cases[_i];
	struct outs sentinel;
	const char *msg;
	char fn[64];
	size_t after[10];
	mudsc_status st;

	memset(&sentinel, SENTINEL, sizeof sentinel);
	st = c->run();
	msg = mudsc_error_message();
	ck_assert_msg(st == c->status, "%s returned %s (%s), expected %s", c->call,
	              mudsc_status_name(st), msg, mudsc_status_name(c->status));
	ck_assert_msg(mudsc_error_status() == c->status, "%s: mudsc_error_status() is %s", c->call,
	              mudsc_status_name(mudsc_error_status()));
	ck_assert_msg(strstr(msg, c->message) != NULL, "%s: message '%s' lacks '%s'", c->call, msg,
	              c->message);
	/* the message starts with the name of the function called, then ':' or
	 * ' (' (a row calling a helper of this file gives the library function) */
	if (c->prefix == NULL) {
		size_t n = strcspn(c->call, "(");
		ck_assert_msg(strncmp(c->call, "mudsc_", 6) == 0 && n < sizeof fn,
		              "row '%s' calls a helper: give the library function", c->call);
		memcpy(fn, c->call, n);
		fn[n] = '\0';
	} else {
		snprintf(fn, sizeof fn, "%s", c->prefix);
	}
	ck_assert_msg(strncmp(msg, fn, strlen(fn)) == 0 &&
	                  (msg[strlen(fn)] == ':' || msg[strlen(fn)] == ' '),
	              "%s: message '%s' does not start with '%s'", c->call, msg, fn);
	ck_assert_msg(memcmp(&O, &sentinel, sizeof O) == 0, "%s wrote an output on failure", c->call);
	if (c->needed != 0)
		ck_assert_msg(F.needed == c->needed, "%s: *needed = %zu, expected %zu", c->call, F.needed,
		              c->needed);
	snapshot(after);
	for (int k = 0; k < 10; k++)
		ck_assert_msg(after[k] == F.counts[k], "%s changed a handle (count %d: %zu -> %zu)",
		              c->call, k, F.counts[k], after[k]);
}
END_TEST

Suite *suite_bad_input(void)
{
	Suite *s = suite_create("bad_input");
	TCase *tc = tcase_create("table");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_bad_call, 0, (int)(sizeof cases / sizeof cases[0]));
	suite_add_tcase(s, tc);
	return s;
}
