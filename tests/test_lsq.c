/*
 * mudsc_lsq_*: the least-squares correction (docs/algorithm.md section
 * 23) against closed forms.  Two F64 copies of one MLP 3-4-4-2 are merged
 * by weight matching; at point "layers.1" (D = C = 4) the sources' outputs
 * are exact affine maps A_i x + c_i of the inputs, so with ridge 0 the
 * solve must return the mean of the maps through the correspondence; a
 * large ridge keeps the merged layer; chunking, strides and F32 views
 * change nothing; a failed update keeps nothing; the error is the mean
 * square of the residual.  Numbers against the NumPy/SciPy oracle are in
 * tests/python/test_lsq.py.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "testutil.h"

enum { IN = 3, H = 4, OUTW = 2, ROWS = 60 };

struct lfx {
	double w[H * IN + H + H * H + H + OUTW * H + OUTW];
	double a[2][H * H], c[2][H];   /* the sources' maps at layers.1 */
	double x[ROWS * H];            /* the merged network's inputs of layers.1 */
	double y[2][ROWS * H];         /* the sources' outputs */
	mudsc_model *m, *merged;
	mudsc_graph *g;
	mudsc_matcher *mt;
	int64_t assign[2 * H];
};

static double lcg(uint64_t *s)
{
	*s = *s * 6364136223846793005u + 1442695040888963407u;
	return (double)(*s >> 11) / 9007199254740992.0 - 0.5;
}

static void add(mudsc_model *m, const char *name, int32_t rank, int64_t r, int64_t c,
                const double *p)
{
	int64_t shape[2] = {r, c};
	ck_assert_ok(mudsc_model_add(m, name, MUDSC_DTYPE_F64, rank, shape, p, MUDSC_BORROW));
}

static void setup(struct lfx *f)
{
	mudsc_mlp_options mo = MUDSC_MLP_OPTIONS_INIT;
	static const int64_t hidden[2] = {H, H};
	uint64_t s = 777;
	size_t needed;

	memset(f, 0, sizeof *f);
	for (size_t i = 0; i < sizeof f->w / sizeof f->w[0]; i++)
		f->w[i] = lcg(&s);
	for (int i = 0; i < 2; i++) {
		for (int k = 0; k < H * H; k++)
			f->a[i][k] = lcg(&s);
		for (int k = 0; k < H; k++)
			f->c[i][k] = lcg(&s);
	}
	for (int k = 0; k < ROWS * H; k++)
		f->x[k] = 2.0 * lcg(&s);
	for (int i = 0; i < 2; i++)
		for (int r = 0; r < ROWS; r++)
			for (int j = 0; j < H; j++) {
				double v = f->c[i][j];
				for (int k = 0; k < H; k++)
					v += f->a[i][j * H + k] * f->x[r * H + k];
				f->y[i][r * H + j] = v;
			}
	const double *p = f->w;
	ck_assert_ok(mudsc_model_new(&f->m));
	add(f->m, "layers.0.weight", 2, H, IN, p), p += H * IN;
	add(f->m, "layers.0.bias", 1, H, 0, p), p += H;
	add(f->m, "layers.1.weight", 2, H, H, p), p += H * H;
	add(f->m, "layers.1.bias", 1, H, 0, p), p += H;
	add(f->m, "layers.2.weight", 2, OUTW, H, p), p += OUTW * H;
	add(f->m, "layers.2.bias", 1, OUTW, 0, p);
	mo.n_hidden = 2;
	mo.hidden = hidden;
	ck_assert_ok(mudsc_graph_build_mlp(&f->g, &mo));
	const mudsc_model *pair[2] = {f->m, f->m};
	ck_assert_ok(mudsc_matcher_new(&f->mt, f->g, pair, 2, NULL));
	ck_assert_ok(mudsc_matcher_run(f->mt));
	ck_assert_ok(mudsc_matcher_merge(&f->merged, f->mt, NULL));
	ck_assert_ok(mudsc_matcher_assignment(f->assign, 2 * H, &needed, f->mt, 1));
}

static void teardown(struct lfx *f)
{
	mudsc_model_free(f->merged);
	mudsc_matcher_free(f->mt);
	mudsc_graph_free(f->g);
	mudsc_model_free(f->m);
}

static mudsc_features rows_view(const double *p, int64_t first, int64_t n)
{
	mudsc_features v = {.dtype = MUDSC_DTYPE_F64, .rank = 2, .shape = {n, H},
	                    .feature_axis = 1, .data = p + first * H};
	return v;
}

/* Add observations [first, first + n). */
static mudsc_status feed(mudsc_lsq *l, const struct lfx *f, int64_t first, int64_t n)
{
	mudsc_features x = rows_view(f->x, first, n);
	mudsc_features y[2] = {rows_view(f->y[0], first, n), rows_view(f->y[1], first, n)};
	return mudsc_lsq_update(l, &x, y, 2);
}

static mudsc_model *solved(const mudsc_lsq *l, const mudsc_model *merged, double ridge)
{
	mudsc_lsq_options o;
	mudsc_model *out = NULL;

	ck_assert_ok(mudsc_lsq_options_init(&o));
	o.ridge = ridge;
	ck_assert_ok(mudsc_lsq_solve(&out, l, merged, &o));
	return out;
}

static const double *tensor(const mudsc_model *m, const char *name)
{
	mudsc_tensor t;
	ck_assert_ok(mudsc_model_find(&t, m, name));
	return t.data;
}

START_TEST(test_exact_affine_targets_are_recovered)
{
	struct lfx f;
	mudsc_lsq *l = NULL;
	double before, after;

	setup(&f);
	ck_assert_ok(mudsc_lsq_new(&l, f.mt, f.g, f.merged, "layers.1", NULL));
	ck_assert_int_eq(mudsc_lsq_rows(l), 0);
	ck_assert_ok(feed(l, &f, 0, ROWS));
	ck_assert_int_eq(mudsc_lsq_rows(l), ROWS);
	mudsc_model *out = solved(l, f.merged, 0.0);
	/* merged unit j = the mean of its members' maps (align: one per model) */
	double ew[H * H] = {0}, eb[H] = {0};
	for (int u = 0; u < 2 * H; u++) {
		int i = u / H, c = u % H;
		int64_t j = f.assign[u];
		for (int k = 0; k < H; k++)
			ew[j * H + k] += 0.5 * f.a[i][c * H + k];
		eb[j] += 0.5 * f.c[i][c];
	}
	const double *w = tensor(out, "layers.1.weight"), *b = tensor(out, "layers.1.bias");
	for (int k = 0; k < H * H; k++)
		ck_assert_double_eq_tol(w[k], ew[k], 1e-10);
	for (int k = 0; k < H; k++)
		ck_assert_double_eq_tol(b[k], eb[k], 1e-10);
	/* every other tensor is merged's */
	ck_assert_int_eq(mudsc_model_count(out), mudsc_model_count(f.merged));
	ck_assert_mem_eq(tensor(out, "layers.2.weight"), tensor(f.merged, "layers.2.weight"),
	                 OUTW * H * sizeof(double));
	ck_assert_mem_eq(tensor(out, "layers.0.weight"), tensor(f.merged, "layers.0.weight"),
	                 H * IN * sizeof(double));
	/* the error: positive before, ~0 after (the targets are exactly affine) */
	ck_assert_ok(mudsc_lsq_error(&before, l, f.merged));
	ck_assert_ok(mudsc_lsq_error(&after, l, out));
	ck_assert_double_gt(before, 1e-3);
	ck_assert_double_lt(after, 1e-12);
	/* the default ridge moves the solution a little, and not past the error of merged */
	mudsc_model *dflt = NULL;
	ck_assert_ok(mudsc_lsq_solve(&dflt, l, f.merged, NULL));
	double mid;
	ck_assert_ok(mudsc_lsq_error(&mid, l, dflt));
	ck_assert_double_lt(mid, 1e-4 * before);
	/* a huge ridge keeps the merged layer */
	mudsc_model *kept = solved(l, f.merged, 1e12);
	const double *mw = tensor(f.merged, "layers.1.weight"), *kw = tensor(kept, "layers.1.weight");
	for (int k = 0; k < H * H; k++)
		ck_assert_double_eq_tol(kw[k], mw[k], 1e-9);
	mudsc_model_free(kept);
	mudsc_model_free(dflt);
	mudsc_model_free(out);
	mudsc_lsq_free(l);
	teardown(&f);
}
END_TEST

START_TEST(test_chunks_strides_and_f32_change_nothing)
{
	struct lfx f;
	mudsc_lsq *one = NULL, *many = NULL, *strided = NULL;

	setup(&f);
	ck_assert_ok(mudsc_lsq_new(&one, f.mt, f.g, f.merged, "layers.1", NULL));
	ck_assert_ok(mudsc_lsq_new(&many, f.mt, f.g, f.merged, "layers.1", NULL));
	ck_assert_ok(mudsc_lsq_new(&strided, f.mt, f.g, f.merged, "layers.1", NULL));
	ck_assert_ok(feed(one, &f, 0, ROWS));
	for (int64_t r = 0; r < ROWS; r += 7)
		ck_assert_ok(feed(many, &f, r, r + 7 <= ROWS ? 7 : ROWS - r));
	ck_assert_ok(feed(many, &f, 0, 0)); /* empty chunks are nothing */
	ck_assert_int_eq(mudsc_lsq_rows(many), ROWS);
	/* transposed views: features along axis 0, observations strided */
	static const int64_t tstrides[2] = {1, H};
	mudsc_features x = {.dtype = MUDSC_DTYPE_F64, .rank = 2, .shape = {H, ROWS},
	                    .strides = tstrides, .feature_axis = 0, .data = f.x};
	mudsc_features y[2] = {x, x};
	y[0].data = f.y[0];
	y[1].data = f.y[1];
	ck_assert_ok(mudsc_lsq_update(strided, &x, y, 2));
	mudsc_model *a = solved(one, f.merged, 1e-3), *b = solved(many, f.merged, 1e-3),
	            *c = solved(strided, f.merged, 1e-3);
	const double *wa = tensor(a, "layers.1.weight"), *wb = tensor(b, "layers.1.weight"),
	             *wc = tensor(c, "layers.1.weight");
	for (int k = 0; k < H * H; k++) {
		ck_assert_double_eq_tol(wa[k], wb[k], 1e-12);
		ck_assert_double_eq_tol(wa[k], wc[k], 1e-12);
	}
	/* F32 inputs: the values rounded once, so close to the F64 result */
	float xf[ROWS * H], yf[2][ROWS * H];
	for (int k = 0; k < ROWS * H; k++) {
		xf[k] = (float)f.x[k];
		yf[0][k] = (float)f.y[0][k];
		yf[1][k] = (float)f.y[1][k];
	}
	mudsc_lsq *l32 = NULL;
	ck_assert_ok(mudsc_lsq_new(&l32, f.mt, f.g, f.merged, "layers.1", NULL));
	mudsc_features x32 = {.dtype = MUDSC_DTYPE_F32, .rank = 2, .shape = {ROWS, H},
	                      .feature_axis = -1, .data = xf};
	mudsc_features y32[2] = {x32, x32};
	y32[0].data = yf[0];
	y32[1].data = yf[1];
	ck_assert_ok(mudsc_lsq_update(l32, &x32, y32, 2));
	mudsc_model *d = solved(l32, f.merged, 1e-3);
	const double *wd = tensor(d, "layers.1.weight");
	for (int k = 0; k < H * H; k++)
		ck_assert_double_eq_tol(wa[k], wd[k], 1e-5);
	mudsc_model_free(a);
	mudsc_model_free(b);
	mudsc_model_free(c);
	mudsc_model_free(d);
	mudsc_lsq_free(one);
	mudsc_lsq_free(many);
	mudsc_lsq_free(strided);
	mudsc_lsq_free(l32);
	teardown(&f);
}
END_TEST

START_TEST(test_a_failed_update_keeps_nothing)
{
	struct lfx f;
	mudsc_lsq *l = NULL, *ref = NULL;
	double bad[ROWS * H];

	setup(&f);
	ck_assert_ok(mudsc_lsq_new(&l, f.mt, f.g, f.merged, "layers.1", NULL));
	ck_assert_ok(mudsc_lsq_new(&ref, f.mt, f.g, f.merged, "layers.1", NULL));
	ck_assert_ok(feed(l, &f, 0, 30));
	ck_assert_ok(feed(ref, &f, 0, 30));
	memcpy(bad, f.y[1], sizeof bad);
	bad[40 * H + 2] = NAN;
	mudsc_features x = rows_view(f.x, 30, 30);
	mudsc_features y[2] = {rows_view(f.y[0], 30, 30), rows_view(bad, 30, 30)};
	ck_assert_status(mudsc_lsq_update(l, &x, y, 2), MUDSC_E_NUMERIC);
	ck_assert_error_has("mudsc_lsq_update: outputs: model 1");
	mudsc_features xb = rows_view(bad, 30, 30), yg[2] = {rows_view(f.y[0], 30, 30),
	                                                    rows_view(f.y[1], 30, 30)};
	ck_assert_status(mudsc_lsq_update(l, &xb, yg, 2), MUDSC_E_NUMERIC);
	ck_assert_error_has("mudsc_lsq_update: inputs");
	ck_assert_int_eq(mudsc_lsq_rows(l), 30);
	ck_assert_ok(feed(l, &f, 30, 30));
	ck_assert_ok(feed(ref, &f, 30, 30));
	mudsc_model *a = solved(l, f.merged, 0.0), *b = solved(ref, f.merged, 0.0);
	ck_assert_mem_eq(tensor(a, "layers.1.weight"), tensor(b, "layers.1.weight"),
	                 H * H * sizeof(double));
	mudsc_model_free(a);
	mudsc_model_free(b);
	mudsc_lsq_free(l);
	mudsc_lsq_free(ref);
	teardown(&f);
}
END_TEST

START_TEST(test_options_and_unsupported_points)
{
	struct lfx f;
	mudsc_lsq_options o = MUDSC_LSQ_OPTIONS_INIT;
	mudsc_lsq *l = NULL;

	ck_assert_uint_eq(mudsc_options_size(MUDSC_OPTIONS_LSQ), sizeof(mudsc_lsq_options));
	ck_assert_double_eq(o.ridge, 1e-4);
	mudsc_lsq_free(NULL);
	ck_assert_int_eq(mudsc_lsq_rows(NULL), 0);
	setup(&f);
	/* a merged model without the bias: no layer rule fits */
	mudsc_model *nb = NULL;
	ck_assert_ok(mudsc_model_new(&nb));
	for (size_t k = 0; k < mudsc_model_count(f.merged); k++) {
		mudsc_tensor t;
		ck_assert_ok(mudsc_model_at(&t, f.merged, k));
		if (strcmp(t.name, "layers.1.bias") != 0)
			ck_assert_ok(mudsc_model_add(nb, t.name, t.dtype, t.rank, t.shape, t.data,
			                             MUDSC_BORROW));
	}
	ck_assert_status(mudsc_lsq_new(&l, f.mt, f.g, nb, "layers.1", NULL), MUDSC_E_NOT_FOUND);
	ck_assert_ptr_null(l);
	/* zip of the pair runs too (merged units with members of one model) */
	mudsc_matcher_options zo = MUDSC_MATCHER_OPTIONS_INIT;
	mudsc_matcher *zip = NULL;
	mudsc_model *zm = NULL;
	const mudsc_model *pair[2] = {f.m, f.m};
	zo.method = MUDSC_METHOD_ZIP;
	ck_assert_ok(mudsc_matcher_new(&zip, f.g, pair, 2, &zo));
	ck_assert_ok(mudsc_matcher_run(zip));
	ck_assert_ok(mudsc_matcher_merge(&zm, zip, NULL));
	ck_assert_ok(mudsc_lsq_new(&l, zip, f.g, zm, "layers.0", NULL));
	mudsc_lsq_free(l);
	mudsc_model_free(zm);
	mudsc_matcher_free(zip);
	mudsc_model_free(nb);
	teardown(&f);
}
END_TEST

/* A layer whose units correspond by index (mudsc_lsq_layer_new): unit j's
 * target is the weighted mean of the sources' unit j, so with exact affine
 * targets and ridge 0 the solve returns the weighted mean of the maps,
 * w = (1, 3) / 4, whatever the matcher's correspondence. */
START_TEST(test_layer_by_index_recovers_the_weighted_maps)
{
	static const double wts[2] = {1.0, 3.0};
	struct lfx f;
	mudsc_lsq *l = NULL;
	double before, after;

	setup(&f);
	ck_assert_ok(mudsc_lsq_layer_new(&l, f.merged, "layers.1.weight", "layers.1.bias", 2, wts));
	ck_assert_ok(feed(l, &f, 0, ROWS / 2));
	ck_assert_ok(feed(l, &f, ROWS / 2, ROWS - ROWS / 2));
	ck_assert_int_eq(mudsc_lsq_rows(l), ROWS);
	mudsc_model *out = solved(l, f.merged, 0.0);
	const double *w = tensor(out, "layers.1.weight"), *b = tensor(out, "layers.1.bias");
	for (int k = 0; k < H * H; k++)
		ck_assert_double_eq_tol(w[k], 0.25 * f.a[0][k] + 0.75 * f.a[1][k], 1e-10);
	for (int k = 0; k < H; k++)
		ck_assert_double_eq_tol(b[k], 0.25 * f.c[0][k] + 0.75 * f.c[1][k], 1e-10);
	ck_assert_mem_eq(tensor(out, "layers.2.weight"), tensor(f.merged, "layers.2.weight"),
	                 OUTW * H * sizeof(double));
	ck_assert_ok(mudsc_lsq_error(&before, l, f.merged));
	ck_assert_ok(mudsc_lsq_error(&after, l, out));
	ck_assert_double_gt(before, 1e-3);
	ck_assert_double_lt(after, 1e-12);
	mudsc_model_free(out);
	mudsc_lsq_free(l);
	teardown(&f);
}
END_TEST

/* mudsc_lsq_layer_new's refusals name what is wrong; *out stays NULL. */
START_TEST(test_layer_refusals)
{
	static const double zero[2] = {0.0, 0.0};
	struct lfx f;
	mudsc_lsq *l = NULL;

	setup(&f);
	ck_assert_status(mudsc_lsq_layer_new(&l, f.merged, "layers.1.weight", "layers.1.bias", 0,
	                                     NULL), MUDSC_E_INVALID);
	ck_assert_status(mudsc_lsq_layer_new(&l, f.merged, "layers.1.bias", "layers.1.bias", 2,
	                                     NULL), MUDSC_E_INVALID);
	ck_assert_status(mudsc_lsq_layer_new(&l, f.merged, "layers.1.weight", "layers.1.bias", 2,
	                                     zero), MUDSC_E_INVALID);
	ck_assert_status(mudsc_lsq_layer_new(&l, f.merged, "nope.weight", "layers.1.bias", 2, NULL),
	                 MUDSC_E_NOT_FOUND);
	ck_assert_status(mudsc_lsq_layer_new(&l, f.merged, "layers.1.weight", "nope.bias", 2, NULL),
	                 MUDSC_E_NOT_FOUND);
	ck_assert_status(mudsc_lsq_layer_new(&l, f.merged, "layers.0.bias", "layers.1.bias", 2,
	                                     NULL), MUDSC_E_UNSUPPORTED);
	ck_assert_status(mudsc_lsq_layer_new(&l, f.merged, "layers.1.weight", "layers.2.bias", 2,
	                                     NULL), MUDSC_E_MISMATCH);
	ck_assert_ptr_null(l);
	ck_assert_ok(mudsc_lsq_layer_new(&l, f.merged, "layers.1.weight", "layers.1.bias", 3, NULL));
	ck_assert_status(feed(l, &f, 0, ROWS), MUDSC_E_MISMATCH); /* 2 outputs for 3 models */
	ck_assert_int_eq(mudsc_lsq_rows(l), 0);
	mudsc_lsq_free(l);
	teardown(&f);
}
END_TEST

Suite *suite_lsq(void)
{
	Suite *s = suite_create("lsq");
	TCase *tc = tcase_create("lsq");

	tcase_add_test(tc, test_exact_affine_targets_are_recovered);
	tcase_add_test(tc, test_chunks_strides_and_f32_change_nothing);
	tcase_add_test(tc, test_a_failed_update_keeps_nothing);
	tcase_add_test(tc, test_options_and_unsupported_points);
	tcase_add_test(tc, test_layer_by_index_recovers_the_weighted_maps);
	tcase_add_test(tc, test_layer_refusals);
	suite_add_tcase(s, tc);
	return s;
}
