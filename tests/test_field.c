/*
 * Suite `field`: the quadrature rules against closed forms (Gauss-Legendre
 * K = 1..5 nodes and weights, exactness on polynomials of degree 2K - 1,
 * the Riemann rules) -- the first use of the LAPACKE shim's dstev -- and
 * the field accumulator on cases computed by hand: the cosine, the path's
 * cumulative sum, the zero-norm convention, per-step and per-input detail,
 * F16/F32 views with strides, shards merged in both orders, bytes and files.
 * (Random models against the NumPy oracle: tests/python/test_field.py.)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/convert.h"
#include "mudsc/mudsc.h"
#include "suites.h"
#include "testutil.h"

/* Gauss-Legendre on [-1, 1] for K = 1..5, the positive half (nodes then
 * weights), in closed form. */
static void closed_gauss(int k, double *x, double *w)
{
	const double s = sqrt(6.0 / 5.0), r = sqrt(10.0 / 7.0);
	double nx[5] = {0}, nw[5] = {0};

	switch (k) {
	case 1: nx[0] = 0; nw[0] = 2; break;
	case 2: nx[0] = -1 / sqrt(3.0); nw[0] = 1; break;
	case 3: nx[0] = -sqrt(0.6); nx[1] = 0; nw[0] = 5.0 / 9; nw[1] = 8.0 / 9; break;
	case 4:
		nx[0] = -sqrt(3.0 / 7 + 2.0 / 7 * s); nx[1] = -sqrt(3.0 / 7 - 2.0 / 7 * s);
		nw[0] = (18 - sqrt(30.0)) / 36; nw[1] = (18 + sqrt(30.0)) / 36;
		break;
	default:
		nx[0] = -sqrt(5 + 2 * r) / 3; nx[1] = -sqrt(5 - 2 * r) / 3; nx[2] = 0;
		nw[0] = (322 - 13 * sqrt(70.0)) / 900; nw[1] = (322 + 13 * sqrt(70.0)) / 900;
		nw[2] = 128.0 / 225;
		break;
	}
	for (int j = 0; j < k; j++) {
		int m = j < (k + 1) / 2 ? j : k - 1 - j;
		x[j] = j < (k + 1) / 2 ? nx[m] : -nx[m];
		w[j] = nw[m];
	}
}

START_TEST(test_gauss_legendre_closed_forms)
{
	double t[5], w[5], cx[5], cw[5];

	for (int k = 1; k <= 5; k++) {
		ck_assert_ok(mudsc_quadrature(t, w, MUDSC_QUAD_GAUSS_LEGENDRE, k));
		closed_gauss(k, cx, cw);
		for (int j = 0; j < k; j++) {
			ck_assert_double_eq_tol(t[j], (1 + cx[j]) / 2, 1e-15);
			ck_assert_double_eq_tol(w[j], cw[j] / 2, 1e-15);
		}
		for (int p = 0; p < 2 * k; p++) { /* exact on degree <= 2K - 1 */
			double q = 0;
			for (int j = 0; j < k; j++)
				q += w[j] * pow(t[j], p);
			ck_assert_double_eq_tol(q, 1.0 / (p + 1), 1e-15);
		}
		if (k >= 2) { /* and not on degree 2K: the rule is not exact past it */
			double q = 0;
			for (int j = 0; j < k; j++)
				q += w[j] * pow(t[j], 2 * k);
			ck_assert(fabs(q - 1.0 / (2 * k + 1)) > 1e-6);
		}
	}
}
END_TEST

START_TEST(test_gauss_legendre_large)
{
	double t[129], w[129];
	const int ks[] = {50, 129};

	for (size_t c = 0; c < sizeof ks / sizeof ks[0]; c++) {
		int k = ks[c];
		double sum = 0, m2 = 0;
		ck_assert_ok(mudsc_quadrature(t, w, MUDSC_QUAD_GAUSS_LEGENDRE, k));
		for (int j = 0; j < k; j++) {
			ck_assert(t[j] > 0 && t[j] < 1 && w[j] > 0);
			if (j > 0)
				ck_assert(t[j] > t[j - 1]);
			ck_assert_double_eq_tol(t[j], 1 - t[k - 1 - j], 2e-16);
			ck_assert(w[j] == w[k - 1 - j]);
			sum += w[j];
			m2 += w[j] * t[j] * t[j];
		}
		ck_assert_double_eq_tol(sum, 1, 1e-13);
		ck_assert_double_eq_tol(m2, 1.0 / 3, 1e-13);
	}
}
END_TEST

START_TEST(test_riemann_rules)
{
	double t[4], w[4];

	ck_assert_ok(mudsc_quadrature(t, w, MUDSC_QUAD_RIEMANN_LEFT, 4));
	ck_assert(t[0] == 0 && t[3] == 0.75 && w[2] == 0.25);
	ck_assert_ok(mudsc_quadrature(t, w, MUDSC_QUAD_RIEMANN_RIGHT, 4));
	ck_assert(t[0] == 0.25 && t[3] == 1 && w[0] == 0.25);
	ck_assert_ok(mudsc_quadrature(t, w, MUDSC_QUAD_RIEMANN_MIDDLE, 4));
	ck_assert(t[0] == 0.125 && t[3] == 0.875 && w[1] == 0.25);
	ck_assert_ok(mudsc_quadrature(t, w, MUDSC_QUAD_RIEMANN_TRAPEZOID, 4));
	ck_assert(t[0] == 0 && t[3] == 1 && w[0] == 1.0 / 6 && w[1] == 1.0 / 3);
}
END_TEST

static mudsc_features rows(int32_t dtype, int64_t n, int64_t d, const void *data)
{
	mudsc_features v = {.dtype = dtype, .rank = 2, .shape = {n, d}, .feature_axis = 1,
	                    .data = data};
	return v;
}

/* K = 1 (Gauss-Legendre: t = 1/2, w = 1), D = 2, three inputs:
 *   x = (1, 1): F_0 = (1, 0), F_1 = (1, 1): 1 - 1/sqrt 2;
 *   x = b: both fields zero: cos = 1, distance 0;
 *   x = (1, 1), model 0's gradient 0: one zero field: cos = 0, distance 1. */
START_TEST(test_hand_cosines)
{
	const double x[6] = {1, 1, 0.5, 0.5, 1, 1}, b[6] = {0, 0, 0.5, 0.5, 0, 0};
	const double g0[6] = {1, 0, 3, 4, 0, 0}, g1[6] = {1, 1, 1, 2, 5, 6};
	mudsc_field_options o = MUDSC_FIELD_OPTIONS_INIT;
	mudsc_features vx = rows(MUDSC_DTYPE_F64, 3, 2, x), vb = rows(MUDSC_DTYPE_F64, 3, 2, b);
	mudsc_features v0 = rows(MUDSC_DTYPE_F64, 3, 2, g0), v1 = rows(MUDSC_DTYPE_F64, 3, 2, g1);
	mudsc_field *f;
	double d[4], per[12], t, w;
	size_t need = 0;

	o.steps = 1;
	o.keep_inputs = 1;
	ck_assert_ok(mudsc_field_new(&f, 2, 2, &o));
	ck_assert_ok(mudsc_field_points(&t, &w, f));
	ck_assert(t == 0.5 && w == 1);
	ck_assert_ok(mudsc_field_begin(f, &vx, &vb));
	ck_assert_ok(mudsc_field_update(f, 1, &v1));
	ck_assert_int_eq(mudsc_field_inputs(f), 0);
	ck_assert_ok(mudsc_field_update(f, 0, &v0));
	ck_assert_int_eq(mudsc_field_inputs(f), 3);
	ck_assert_ok(mudsc_field_distances(d, 4, &need, f));
	ck_assert_uint_eq(need, 4);
	ck_assert(d[0] == 0 && d[3] == 0 && d[1] == d[2]);
	ck_assert_double_eq_tol(d[1], (2 - 1 / sqrt(2.0)) / 3, 1e-15);
	ck_assert_ok(mudsc_field_input_distances(per, 12, NULL, f));
	ck_assert_double_eq_tol(per[1], 1 - 1 / sqrt(2.0), 1e-15);
	ck_assert(per[5] == 0 && per[9] == 1);
	mudsc_field_free(f);
}
END_TEST

/* K = 2, left Riemann (t = 0, 1/2; w = 1/2): the path's cumulative sum.
 * x = (1, 2), b = 0; model 0: g = (1, 0), (0, 1); model 1: (1, 0), (1, 0).
 * Step 1: F_0 = F_1 = (1/2, 0): 0.  Step 2: F_0 = (1/2, 1), F_1 = (1, 0):
 * 1 - 1/sqrt 5.  The distance is their mean.  Fed as one (2, 1, 2) view
 * per model, in F16 (the values are exact halves). */
START_TEST(test_hand_path)
{
	const double x[2] = {1, 2};
	const double g0[4] = {1, 0, 0, 1}, g1[4] = {1, 0, 1, 0};
	uint16_t h0[4], h1[4];
	mudsc_field_options o = MUDSC_FIELD_OPTIONS_INIT;
	mudsc_features vx = rows(MUDSC_DTYPE_F64, 1, 2, x);
	mudsc_features v0 = {.dtype = MUDSC_DTYPE_F16, .rank = 3, .shape = {2, 1, 2},
	                     .feature_axis = -1, .data = h0};
	mudsc_features v1 = v0;
	mudsc_field *f;
	double d[4], steps[8];

	for (int i = 0; i < 4; i++) {
		h0[i] = mudsc__f64_to_f16(g0[i]);
		h1[i] = mudsc__f64_to_f16(g1[i]);
	}
	v1.data = h1;
	o.rule = MUDSC_QUAD_RIEMANN_LEFT;
	o.steps = 2;
	ck_assert_ok(mudsc_field_new(&f, 2, 2, &o));
	ck_assert_ok(mudsc_field_begin(f, &vx, NULL));
	ck_assert_ok(mudsc_field_update(f, 0, &v0));
	ck_assert_ok(mudsc_field_update(f, 1, &v1));
	ck_assert_ok(mudsc_field_distances(d, 4, NULL, f));
	ck_assert_double_eq_tol(d[1], (1 - 1 / sqrt(5.0)) / 2, 1e-15);
	ck_assert_ok(mudsc_field_step_distances(steps, 8, NULL, f));
	ck_assert(steps[1] == 0);
	ck_assert_double_eq_tol(steps[5], 1 - 1 / sqrt(5.0), 1e-15);
	mudsc_field_free(f);
}
END_TEST

/* Random gradients, N = 3, two shards of batches: merged in both orders,
 * through bytes and a file, equal the single stream (1e-12 relative). */
static void feed(mudsc_field *f, const double *x, const float *g, int64_t m0, int64_t m1,
                 int64_t k, int64_t m, int64_t d, int64_t batch)
{
	for (int64_t s0 = m0; s0 < m1; s0 += batch) {
		int64_t nb = s0 + batch < m1 ? batch : m1 - s0;
		mudsc_features vx = rows(MUDSC_DTYPE_F64, nb, d, x + s0 * d);
		ck_assert_ok(mudsc_field_begin(f, &vx, NULL));
		for (int64_t s = 0; s < k; s++)
			for (int32_t i = 0; i < 3; i++) {
				/* model i's gradients (k, m, d), transposed view (d, nb) */
				const float *p = g + ((i * k + s) * m + s0) * d;
				int64_t strides[2] = {1, d};
				mudsc_features v = {.dtype = MUDSC_DTYPE_F32, .rank = 2, .shape = {d, nb},
				                    .strides = strides, .feature_axis = 0, .data = p};
				ck_assert_ok(mudsc_field_update(f, i, &v));
			}
	}
}

START_TEST(test_shards_bytes_files)
{
	enum { K = 4, M = 10, D = 3 };
	static float g[3 * K * M * D];
	static double x[M * D];
	mudsc_field_options o = MUDSC_FIELD_OPTIONS_INIT;
	mudsc_field *whole, *a, *b, *ab, *ba, *re;
	double dw[9], d1[9], d2[9];
	void *buf, *buf2;
	size_t len, len2;
	char path[] = "/tmp/mudsc-field-XXXXXX";
	int fd;
	unsigned s = 12345;

	for (size_t i = 0; i < sizeof g / sizeof g[0]; i++) {
		s = s * 1103515245u + 12345u;
		g[i] = (float)((s >> 8) % 2001) / 1000.0f - 1.0f;
	}
	for (size_t i = 0; i < M * D; i++)
		x[i] = 0.1 * (double)(i % 7) - 0.2;
	o.steps = K;
	o.keep_inputs = 1;
	ck_assert_ok(mudsc_field_new(&whole, 3, D, &o));
	ck_assert_ok(mudsc_field_new(&a, 3, D, &o));
	ck_assert_ok(mudsc_field_new(&b, 3, D, &o));
	feed(whole, x, g, 0, M, K, M, D, 4);
	feed(a, x, g, 0, 3, K, M, D, 2);
	feed(b, x, g, 3, M, K, M, D, 3);
	ck_assert_ok(mudsc_field_save_buffer(&buf, &len, a));
	ck_assert_ok(mudsc_field_load_buffer(&ab, buf, len, NULL));
	ck_assert_ok(mudsc_field_save_buffer(&buf2, &len2, ab));
	ck_assert_uint_eq(len, len2);
	ck_assert(memcmp(buf, buf2, len) == 0);
	mudsc_free(buf2);
	ck_assert_ok(mudsc_field_merge(ab, b));
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_ok(mudsc_field_save(b, path));
	ck_assert_ok(mudsc_field_load(&ba, path, NULL));
	unlink(path);
	ck_assert_ok(mudsc_field_merge(ba, a));
	ck_assert_int_eq(mudsc_field_inputs(ab), M);
	ck_assert_int_eq(mudsc_field_inputs(ba), M);
	ck_assert_ok(mudsc_field_distances(dw, 9, NULL, whole));
	ck_assert_ok(mudsc_field_distances(d1, 9, NULL, ab));
	ck_assert_ok(mudsc_field_distances(d2, 9, NULL, ba));
	for (int i = 0; i < 9; i++) {
		ck_assert_double_eq_tol(d1[i], dw[i], 1e-12 * dw[1]);
		ck_assert_double_eq_tol(d2[i], dw[i], 1e-12 * dw[1]);
	}
	ck_assert(dw[1] > 0.1 && dw[5] > 0.1);
	/* a loaded field streams on */
	ck_assert_ok(mudsc_field_load_buffer(&re, buf, len, NULL));
	feed(re, x, g, 3, M, K, M, D, 5);
	ck_assert_ok(mudsc_field_distances(d1, 9, NULL, re));
	for (int i = 0; i < 9; i++)
		ck_assert_double_eq_tol(d1[i], dw[i], 1e-12 * dw[1]);
	mudsc_free(buf);
	mudsc_field_free(whole);
	mudsc_field_free(a);
	mudsc_field_free(b);
	mudsc_field_free(ab);
	mudsc_field_free(ba);
	mudsc_field_free(re);
}
END_TEST

Suite *suite_field(void)
{
	Suite *s = suite_create("field");
	TCase *tc = tcase_create("field");

	tcase_add_test(tc, test_gauss_legendre_closed_forms);
	tcase_add_test(tc, test_gauss_legendre_large);
	tcase_add_test(tc, test_riemann_rules);
	tcase_add_test(tc, test_hand_cosines);
	tcase_add_test(tc, test_hand_path);
	tcase_add_test(tc, test_shards_bytes_files);
	suite_add_tcase(s, tc);
	return s;
}
