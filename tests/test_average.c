/*
 * Suite `average`: mudsc_average and mudsc_average_aligned.  Expected
 * values are closed forms: cases where one rounding of the exact weighted
 * sum and a rounding after every partial sum differ (F16, BF16, F32), ties
 * to even, and for random F32/F64 inputs the definition written out
 * (double sum in model order, one cast).  NumPy checks of every dtype are
 * in tests/python/test_binding_average.py.  Also: weights, in place with
 * dst aliasing an input, non-float tensors, outputs untouched on every
 * error, file-mapped dst, thread counts giving the same bits, and the
 * aligned average recovering a permuted copy.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "average/average.h"
#include "core/core.h"
#include "suites.h"
#include "testutil.h"

static mudsc_model *one_tensor(const char *name, mudsc_dtype dtype, int64_t n, const void *data)
{
	mudsc_model *m = NULL;
	ck_assert_ok(mudsc_model_new(&m));
	ck_assert_ok(mudsc_model_add(m, name, dtype, 1, &n, data, MUDSC_BORROW));
	return m;
}

/* Three one-element models of dtype with bits a, b, c (16-bit dtypes). */
static uint16_t average3_u16(mudsc_dtype dtype, uint16_t a, uint16_t b, uint16_t c,
                             const double *w)
{
	uint16_t x[3] = {a, b, c}, out = 0xFFFF;
	mudsc_model *m[3], *dst;
	for (int i = 0; i < 3; i++)
		m[i] = one_tensor("t", dtype, 1, &x[i]);
	dst = one_tensor("t", dtype, 1, &out);
	ck_assert_ok(mudsc_average(dst, 3, (const mudsc_model *const *)m, w, NULL));
	for (int i = 0; i < 3; i++)
		mudsc_model_free(m[i]);
	mudsc_model_free(dst);
	return out;
}

/* 0.5*2050 + 0.25 + 0.25 = 1025.5, a tie between 1025 and 1026 in F16
 * (spacing 1 there): one rounding gives the even 1026; rounding after
 * each partial sum would keep 1025. */
START_TEST(test_f16_one_rounding)
{
	static const double w[3] = {0.5, 0.25, 0.25};
	/* 2050 = 0x6801, 1.0 = 0x3C00, 1026 = 0x6402 */
	ck_assert_uint_eq(average3_u16(MUDSC_DTYPE_F16, 0x6801, 0x3C00, 0x3C00, w), 0x6402);
	/* (1 + (1 + 2^-10)) / 2 = 1 + 2^-11, a tie: the even one is 1.0 */
	static const double half[3] = {0.5, 0.5, 0.0};
	ck_assert_uint_eq(average3_u16(MUDSC_DTYPE_F16, 0x3C00, 0x3C01, 0, half), 0x3C00);
	/* ((1 + 2^-10) + (1 + 2^-9)) / 2 = 1 + 3*2^-11: tie, even is 1 + 2^-9 */
	ck_assert_uint_eq(average3_u16(MUDSC_DTYPE_F16, 0x3C01, 0x3C02, 0, half), 0x3C02);
	/* 1/3 each of 1, 1, 1 + 2^-9: 1 + (2/3) 2^-10 rounds up to 1 + 2^-10 */
	ck_assert_uint_eq(average3_u16(MUDSC_DTYPE_F16, 0x3C00, 0x3C00, 0x3C02, NULL), 0x3C01);
}
END_TEST

/* The same in BF16: 0.5*258 + 0.25 + 0.25 = 129.5, a tie (spacing 1 in
 * [128, 256)): one rounding gives 130, partial roundings 129. */
START_TEST(test_bf16_one_rounding)
{
	static const double w[3] = {0.5, 0.25, 0.25};
	/* 258 = 0x4381, 1.0 = 0x3F80, 130 = 0x4302 */
	ck_assert_uint_eq(average3_u16(MUDSC_DTYPE_BF16, 0x4381, 0x3F80, 0x3F80, w), 0x4302);
	/* 1 + 2^-7/3 (1/3 each of 1, 1, 1 + 2^-7 = 0x3F81): rounds to 1 */
	ck_assert_uint_eq(average3_u16(MUDSC_DTYPE_BF16, 0x3F80, 0x3F80, 0x3F81, NULL), 0x3F80);
}
END_TEST

static double lcg(uint64_t *s)
{
	*s = *s * 6364136223846793005u + 1442695040888963407u;
	return (double)(*s >> 11) / 9007199254740992.0 - 0.5;
}

enum { N3 = 3, LEN = 5000 };

/* F32 and F64: random inputs against the definition written out, and the
 * F32 tie 0.5*(2^24 + 2) + 0.25 + 0.25 = 2^23 + 1.5 (spacing 1): 2^23 + 2. */
START_TEST(test_f32_f64_definition)
{
	static float xf[N3][LEN], outf[LEN];
	static double xd[N3][LEN], outd[LEN];
	static const double w[N3] = {0.5, 0.25, 0.25};
	mudsc_model *mf[N3], *md[N3], *df, *dd;
	uint64_t s = 7;

	for (int i = 0; i < N3; i++)
		for (int k = 0; k < LEN; k++) {
			xd[i][k] = lcg(&s) * 100.0;
			xf[i][k] = (float)xd[i][k];
		}
	xf[0][0] = 16777218.0f;
	xf[1][0] = xf[2][0] = 1.0f;
	for (int i = 0; i < N3; i++) {
		mf[i] = one_tensor("x", MUDSC_DTYPE_F32, LEN, xf[i]);
		md[i] = one_tensor("x", MUDSC_DTYPE_F64, LEN, xd[i]);
	}
	df = one_tensor("x", MUDSC_DTYPE_F32, LEN, outf);
	dd = one_tensor("x", MUDSC_DTYPE_F64, LEN, outd);
	ck_assert_ok(mudsc_average(df, N3, (const mudsc_model *const *)mf, w, NULL));
	ck_assert_ok(mudsc_average(dd, N3, (const mudsc_model *const *)md, w, NULL));
	ck_assert_float_eq(outf[0], 8388610.0f);
	for (int k = 1; k < LEN; k++) {
		double ef = w[0] * (double)xf[0][k];
		double ed = w[0] * xd[0][k];
		for (int i = 1; i < N3; i++) {
			ef += w[i] * (double)xf[i][k];
			ed += w[i] * xd[i][k];
		}
		ck_assert_msg(outf[k] == (float)ef, "f32 element %d", k);
		ck_assert_msg(outd[k] == ed, "f64 element %d", k);
	}
	for (int i = 0; i < N3; i++) {
		mudsc_model_free(mf[i]);
		mudsc_model_free(md[i]);
	}
	mudsc_model_free(df);
	mudsc_model_free(dd);
}
END_TEST

/* F32 with 1, 2, 4 and 5 inputs (the SSE2 loops of each count, the tail
 * past a multiple of four, and the buffered path past four inputs)
 * against the definition. */
START_TEST(test_f32_counts)
{
	enum { N = 5, LEN37 = 37 };
	static const double w[N][N] = {{1.0}, {0.25, 0.75}, {0}, {0.1, 0.2, 0.3, 0.4},
	                               {0.3, -0.1, 0.2, 0.4, 0.2}};
	float x[N][LEN37], out[LEN37];
	mudsc_model *m[N], *d;
	uint64_t s = 9;

	for (int i = 0; i < N; i++) {
		for (int k = 0; k < LEN37; k++)
			x[i][k] = (float)(lcg(&s) * 8.0);
		m[i] = one_tensor("x", MUDSC_DTYPE_F32, LEN37, x[i]);
	}
	d = one_tensor("x", MUDSC_DTYPE_F32, LEN37, out);
	for (int n = 1; n <= N; n++) {
		if (n == 3)
			continue; /* test_f32_f64_definition */
		ck_assert_ok(mudsc_average(d, n, (const mudsc_model *const *)m, w[n - 1], NULL));
		for (int k = 0; k < LEN37; k++) {
			double e = w[n - 1][0] * (double)x[0][k];
			for (int i = 1; i < n; i++)
				e += w[n - 1][i] * (double)x[i][k];
			ck_assert_msg(out[k] == (float)e, "n = %d, element %d", n, k);
		}
	}
	for (int i = 0; i < N; i++)
		mudsc_model_free(m[i]);
	mudsc_model_free(d);
}
END_TEST

/* Two tensors (a float one and an I32 one), inputs in different orders;
 * dst is model 0 itself (the Lookaround average step); NULL weights. */
START_TEST(test_in_place_alias_and_non_float)
{
	float a[4] = {1, 2, 3, 4}, b[4] = {3, 4, 5, 6}, ref_out[4];
	int32_t ia[2] = {7, 8}, ib[2] = {100, 200};
	int64_t n4 = 4, n2 = 2;
	mudsc_model *ma, *mb, *ref;
	const mudsc_model *pair[2];

	ck_assert_ok(mudsc_model_new(&ma));
	ck_assert_ok(mudsc_model_add(ma, "w", MUDSC_DTYPE_F32, 1, &n4, a, MUDSC_BORROW));
	ck_assert_ok(mudsc_model_add(ma, "count", MUDSC_DTYPE_I32, 1, &n2, ia, MUDSC_BORROW));
	ck_assert_ok(mudsc_model_new(&mb));
	ck_assert_ok(mudsc_model_add(mb, "count", MUDSC_DTYPE_I32, 1, &n2, ib, MUDSC_BORROW));
	ck_assert_ok(mudsc_model_add(mb, "w", MUDSC_DTYPE_F32, 1, &n4, b, MUDSC_BORROW));
	ref = one_tensor("w", MUDSC_DTYPE_F32, 4, ref_out);
	pair[0] = ma;
	pair[1] = mb;
	ck_assert_ok(mudsc_average(ma, 2, pair, NULL, NULL));
	for (int k = 0; k < 4; k++)
		ck_assert_float_eq(a[k], (float)(k + 2));
	ck_assert_int_eq(ia[0], 7);
	ck_assert_int_eq(ia[1], 8);
	/* into model 1 (a non-float tensor is model 0's: copied over) */
	ck_assert_ok(mudsc_average(mb, 2, pair, (const double[]){0.75, 0.25}, NULL));
	for (int k = 0; k < 4; k++)
		ck_assert_float_eq(b[k], (float)k + 2.25f);
	ck_assert_int_eq(ib[0], 7);
	ck_assert_int_eq(ib[1], 8);
	/* extrapolation: weights 2 and -1 (sum 1) */
	b[0] = 0.0f;
	ck_assert_ok(mudsc_average(ma, 2, pair, (const double[]){2.0, -1.0}, NULL));
	ck_assert_float_eq(a[0], 4.0f);
	(void)ref_out;
	mudsc_model_free(ref);
	mudsc_model_free(ma);
	mudsc_model_free(mb);
}
END_TEST

/* Every mismatch with its status, dst untouched each time. */
START_TEST(test_mismatches_leave_dst)
{
	float x[6] = {1, 2, 3, 4, 5, 6}, y[6] = {6, 5, 4, 3, 2, 1}, out[6];
	double x64[6] = {0};
	int64_t s23[2] = {2, 3}, s32[2] = {3, 2};
	mudsc_model *m0, *mshape, *mdtype, *mname, *mcount, *dst;
	const mudsc_model *two[2];
	static const double bad_w[2][2] = {{0.5, INFINITY}, {0.5, 0.6}};

	ck_assert_ok(mudsc_model_new(&m0));
	ck_assert_ok(mudsc_model_add(m0, "a", MUDSC_DTYPE_F32, 2, s23, x, MUDSC_BORROW));
	ck_assert_ok(mudsc_model_new(&mshape));
	ck_assert_ok(mudsc_model_add(mshape, "a", MUDSC_DTYPE_F32, 2, s32, y, MUDSC_BORROW));
	ck_assert_ok(mudsc_model_new(&mdtype));
	ck_assert_ok(mudsc_model_add(mdtype, "a", MUDSC_DTYPE_F64, 2, s23, x64, MUDSC_BORROW));
	ck_assert_ok(mudsc_model_new(&mname));
	ck_assert_ok(mudsc_model_add(mname, "b", MUDSC_DTYPE_F32, 2, s23, y, MUDSC_BORROW));
	ck_assert_ok(mudsc_model_new(&mcount));
	ck_assert_ok(mudsc_model_add(mcount, "a", MUDSC_DTYPE_F32, 2, s23, y, MUDSC_BORROW));
	ck_assert_ok(mudsc_model_add(mcount, "b", MUDSC_DTYPE_F32, 2, s23, y, MUDSC_BORROW));
	ck_assert_ok(mudsc_model_new(&dst));
	ck_assert_ok(mudsc_model_add(dst, "a", MUDSC_DTYPE_F32, 2, s23, out, MUDSC_BORROW));
	memset(out, 0x5A, sizeof out);

	two[0] = m0;
	two[1] = mshape;
	ck_assert_status(mudsc_average(dst, 2, two, NULL, NULL), MUDSC_E_SHAPE);
	ck_assert_error_has("mudsc_average: tensor 'a' has another shape in models[1]");
	two[1] = mdtype;
	ck_assert_status(mudsc_average(dst, 2, two, NULL, NULL), MUDSC_E_MISMATCH);
	ck_assert_error_has("'a' is F64 in models[1], F32 in models[0]");
	two[1] = mname;
	ck_assert_status(mudsc_average(dst, 2, two, NULL, NULL), MUDSC_E_NOT_FOUND);
	ck_assert_error_has("tensor 'a' of models[0] is not in models[1]");
	two[1] = mcount;
	ck_assert_status(mudsc_average(dst, 2, two, NULL, NULL), MUDSC_E_MISMATCH);
	ck_assert_error_has("models[1] has 2 tensors, models[0] has 1");
	two[1] = m0;
	ck_assert_status(mudsc_average(dst, 2, two, bad_w[0], NULL), MUDSC_E_INVALID);
	ck_assert_error_has("weights[1] = inf is not finite");
	ck_assert_status(mudsc_average(dst, 2, two, bad_w[1], NULL), MUDSC_E_INVALID);
	ck_assert_error_has("weights sum to 1.1");
	ck_assert_status(mudsc_average(mshape, 2, two, NULL, NULL), MUDSC_E_SHAPE);
	ck_assert_error_has("another shape in dst");
	ck_assert_status(mudsc_average(mname, 2, two, NULL, NULL), MUDSC_E_NOT_FOUND);
	ck_assert_error_has("is not in dst");
	for (size_t k = 0; k < sizeof out; k++)
		ck_assert_uint_eq(((unsigned char *)out)[k], 0x5A);
	for (int k = 0; k < 6; k++)
		ck_assert_float_eq(y[k], (float)(6 - k));
	ck_assert_ok(mudsc_model_freeze(dst));
	ck_assert_status(mudsc_average(dst, 2, two, NULL, NULL), MUDSC_E_STATE);
	ck_assert_error_has("dst is frozen");
	/* a single model with weight NULL copies it */
	mudsc_model_free(dst);
	ck_assert_ok(mudsc_model_new(&dst));
	ck_assert_ok(mudsc_model_add(dst, "a", MUDSC_DTYPE_F32, 2, s23, out, MUDSC_BORROW));
	ck_assert_ok(mudsc_average(dst, 1, two, NULL, NULL));
	ck_assert_int_eq(memcmp(out, x, sizeof x), 0);
	mudsc_model_free(m0);
	mudsc_model_free(mshape);
	mudsc_model_free(mdtype);
	mudsc_model_free(mname);
	mudsc_model_free(mcount);
	mudsc_model_free(dst);
}
END_TEST

/* A dst loaded from a file: mapped is refused, read into memory works. */
START_TEST(test_mapped_dst)
{
	float x[3] = {1, 2, 3}, y[3] = {3, 4, 5};
	char path[] = "/tmp/mudsc_average_XXXXXX";
	int fd = mkstemp(path);
	mudsc_model *m0 = one_tensor("t", MUDSC_DTYPE_F32, 3, x), *m1, *mapped, *read;
	const mudsc_model *two[2];
	mudsc_tensor t;

	ck_assert_int_ge(fd, 0);
	close(fd);
	m1 = one_tensor("t", MUDSC_DTYPE_F32, 3, y);
	ck_assert_ok(mudsc_model_save(m0, path));
	ck_assert_ok(mudsc_model_load_mode(&mapped, path, MUDSC_LOAD_MAP));
	ck_assert_ok(mudsc_model_load_mode(&read, path, MUDSC_LOAD_READ));
	unlink(path);
	two[0] = m0;
	two[1] = m1;
	ck_assert_status(mudsc_average(mapped, 2, two, NULL, NULL), MUDSC_E_STATE);
	ck_assert_error_has("read-only file mapping");
	/* a mapped model is a fine input */
	two[0] = mapped;
	ck_assert_ok(mudsc_average(read, 2, two, NULL, NULL));
	ck_assert_ok(mudsc_model_find(&t, read, "t"));
	ck_assert_float_eq(((const float *)t.data)[2], 4.0f);
	mudsc_model_free(m0);
	mudsc_model_free(m1);
	mudsc_model_free(mapped);
	mudsc_model_free(read);
}
END_TEST

/* Thread counts give the same bits, on a tensor large enough for threads
 * (F16 and F32), and options of an older size work. */
START_TEST(test_threads_same_bits)
{
	enum { BIG = 3 * 65536 + 17 };
	float *x[3], *o1 = malloc(BIG * sizeof *o1), *o4 = malloc(BIG * sizeof *o4);
	mudsc_model *m[3], *d1, *d4;
	mudsc_average_options opts;
	uint64_t s = 3;

	for (int i = 0; i < 3; i++) {
		x[i] = malloc(BIG * sizeof *x[i]);
		for (size_t k = 0; k < BIG; k++)
			x[i][k] = (float)lcg(&s);
		m[i] = one_tensor("t", MUDSC_DTYPE_F32, BIG, x[i]);
	}
	d1 = one_tensor("t", MUDSC_DTYPE_F32, BIG, o1);
	d4 = one_tensor("t", MUDSC_DTYPE_F32, BIG, o4);
	ck_assert_ok(mudsc_average_options_init(&opts));
	ck_assert_int_eq(opts.threads, 0);
	opts.threads = 1;
	ck_assert_ok(mudsc_average(d1, 3, (const mudsc_model *const *)m, NULL, &opts));
	opts.threads = 4;
	ck_assert_ok(mudsc_average(d4, 3, (const mudsc_model *const *)m, NULL, &opts));
	ck_assert_int_eq(memcmp(o1, o4, BIG * sizeof *o1), 0);
	{
		const double w = 1.0 / 3.0;
		const size_t k = BIG - 1;
		ck_assert_float_eq(o1[k], (float)(w * x[0][k] + w * x[1][k] + w * x[2][k]));
	}
	for (int i = 0; i < 3; i++) {
		mudsc_model_free(m[i]);
		free(x[i]);
	}
	mudsc_model_free(d1);
	mudsc_model_free(d4);
	free(o1);
	free(o4);
}
END_TEST

/* An MLP and a copy with its hidden units permuted: the aligned average
 * with weights 1/2 is the MLP itself (exactly: every element is the mean
 * of two equal values), while the plain average is not. */
START_TEST(test_aligned_recovers_permuted_copy)
{
	enum { IN = 3, H = 5, OUT = 2 };
	static const int perm[H] = {3, 0, 4, 1, 2};
	float w0[H * IN], b0[H], w1[OUT * H], b1[OUT];
	float pw0[H * IN], pb0[H], pw1[OUT * H];
	float ow0[H * IN], ob0[H], ow1[OUT * H], ob1[OUT];
	int64_t s0[2] = {H, IN}, s1[2] = {OUT, H}, sh[1] = {H}, so[1] = {OUT};
	const int64_t hidden[1] = {H};
	mudsc_mlp_options mo = MUDSC_MLP_OPTIONS_INIT;
	mudsc_model *a, *b, *dst;
	mudsc_graph *g;
	mudsc_matcher *m;
	const mudsc_model *two[2];
	uint64_t s = 11;

	for (int k = 0; k < H * IN; k++)
		w0[k] = (float)lcg(&s);
	for (int k = 0; k < H; k++)
		b0[k] = (float)lcg(&s);
	for (int k = 0; k < OUT * H; k++)
		w1[k] = (float)lcg(&s);
	for (int k = 0; k < OUT; k++)
		b1[k] = (float)lcg(&s);
	for (int u = 0; u < H; u++) {
		for (int c = 0; c < IN; c++)
			pw0[u * IN + c] = w0[perm[u] * IN + c];
		pb0[u] = b0[perm[u]];
		for (int o = 0; o < OUT; o++)
			pw1[o * H + u] = w1[o * H + perm[u]];
	}
#define ADD4(model, W0, B0, W1, B1)                                                              \
	ck_assert_ok(mudsc_model_new(&model));                                                      \
	ck_assert_ok(mudsc_model_add(model, "layers.0.weight", MUDSC_DTYPE_F32, 2, s0, W0, MUDSC_BORROW)); \
	ck_assert_ok(mudsc_model_add(model, "layers.0.bias", MUDSC_DTYPE_F32, 1, sh, B0, MUDSC_BORROW));   \
	ck_assert_ok(mudsc_model_add(model, "layers.1.weight", MUDSC_DTYPE_F32, 2, s1, W1, MUDSC_BORROW)); \
	ck_assert_ok(mudsc_model_add(model, "layers.1.bias", MUDSC_DTYPE_F32, 1, so, B1, MUDSC_BORROW))
	ADD4(a, w0, b0, w1, b1);
	ADD4(b, pw0, pb0, pw1, b1);
	ADD4(dst, ow0, ob0, ow1, ob1);
#undef ADD4
	mo.n_hidden = 1;
	mo.hidden = hidden;
	ck_assert_ok(mudsc_graph_build_mlp(&g, &mo));
	two[0] = a;
	two[1] = b;
	ck_assert_ok(mudsc_matcher_new(&m, g, two, 2, NULL));
	ck_assert_ok(mudsc_matcher_run(m));
	ck_assert_ok(mudsc_average_aligned(dst, m, NULL, NULL));
	ck_assert_int_eq(memcmp(ow0, w0, sizeof w0), 0);
	ck_assert_int_eq(memcmp(ob0, b0, sizeof b0), 0);
	ck_assert_int_eq(memcmp(ow1, w1, sizeof w1), 0);
	ck_assert_int_eq(memcmp(ob1, b1, sizeof b1), 0);
	ck_assert_ok(mudsc_average(dst, 2, two, NULL, NULL));
	ck_assert_int_ne(memcmp(ow0, w0, sizeof w0), 0);
	mudsc_matcher_free(m);
	mudsc_graph_free(g);
	mudsc_model_free(a);
	mudsc_model_free(b);
	mudsc_model_free(dst);
}
END_TEST

/* ---- the AVX2/F16C path against the definition, bit for bit ------------- */

/* The definition, element by element: the sum in double in model order,
 * rounded once by the scalar converters of core/convert.c (tested there
 * over every pattern). */
static uint16_t half_def(mudsc_dtype dtype, const uint16_t *const *x, const double *w, size_t n,
                         size_t e)
{
	double s = 0.0;
	for (size_t i = 0; i < n; i++) {
		double v = dtype == MUDSC_DTYPE_F16 ? (double)mudsc__f16_to_f32(x[i][e])
		                                    : (double)mudsc__bf16_to_f32(x[i][e]);
		s = i == 0 ? w[0] * v : s + w[i] * v;
	}
	return dtype == MUDSC_DTYPE_F16 ? mudsc__f64_to_f16(s) : mudsc__f64_to_bf16(s);
}

/* The paths of mudsc__average_rows (the best one, the AVX-512 double
 * vectors, the float filter, the AVX2 double vectors, the portable loop;
 * those the CPU lacks run as the best below, see test_paths) against
 * half_def over m elements: the count of differing elements (0 expected);
 * the first one is reported in msg.
 * A NaN made of several NaNs may carry either's sign and payload (the
 * order of a commutative add is the compiler's), so where the definition
 * is NaN from n > 1 inputs the results need only be NaNs. */
static size_t half_diffs(mudsc_dtype dtype, const uint16_t *const *x, const double *w, size_t n,
                         size_t m, char *msg, size_t len)
{
	enum { PATHS = 5 };
	static const int paths[PATHS] = {MUDSC__AVERAGE_FAST, MUDSC__AVERAGE_AVX512,
	                                 MUDSC__AVERAGE_FILTER, MUDSC__AVERAGE_DOUBLE,
	                                 MUDSC__AVERAGE_PORTABLE};
	uint16_t *got[PATHS];
	size_t bad = 0;

	for (int p = 0; p < PATHS; p++) {
		got[p] = malloc(m * 2);
		ck_assert_ptr_nonnull(got[p]);
		mudsc__average_rows(dtype, got[p], (const void *const *)x, w, n, m, paths[p]);
	}
	for (size_t e = 0; e < m; e++) {
		uint16_t want = half_def(dtype, x, w, n, e);
		bool nan_ok = n > 1, same = true;
		for (int p = 0; p < PATHS; p++) {
			float fw = dtype == MUDSC_DTYPE_F16 ? mudsc__f16_to_f32(want)
			                                    : mudsc__bf16_to_f32(want);
			float fg = dtype == MUDSC_DTYPE_F16 ? mudsc__f16_to_f32(got[p][e])
			                                    : mudsc__bf16_to_f32(got[p][e]);
			nan_ok = nan_ok && isnan(fw) && isnan(fg);
			same = same && got[p][e] == want;
		}
		if (!nan_ok && !same) {
			if (bad++ == 0)
				snprintf(msg, len,
				         "%s n=%zu element %zu (x0=%04x): definition %04x, best %04x, "
				         "AVX-512 %04x, filter %04x, double vectors %04x, portable %04x",
				         mudsc_dtype_name(dtype), n, e, (unsigned)x[0][e], (unsigned)want,
				         (unsigned)got[0][e], (unsigned)got[1][e], (unsigned)got[2][e],
				         (unsigned)got[3][e], (unsigned)got[4][e]);
		}
	}
	for (int p = 0; p < PATHS; p++)
		free(got[p]);
	return bad;
}

#define EXPECT_SAME(dtype, x, w, n, m)                                                         \
	do {                                                                                       \
		char msg_[240] = "";                                                                   \
		size_t bad_ = half_diffs(dtype, x, w, n, m, msg_, sizeof msg_);                        \
		if (bad_ != 0)                                                                         \
			ck_abort_msg("%zu elements differ; first: %s", bad_, msg_);                         \
	} while (0)

static const mudsc_dtype HALVES[2] = {MUDSC_DTYPE_F16, MUDSC_DTYPE_BF16};

/* K = 1: every 16-bit pattern (NaNs, infinities, subnormals, zeros)
 * times weights that keep it, halve it (subnormal ties), scale it past
 * the largest finite value (overflow), or round it (1/3, 0.1). */
START_TEST(test_simd_every_pattern)
{
	static const double ws[] = {1.0, 0.5, 0.25, 3.0, 1.0 / 3.0, 0.1, -1.0, 0x1p-10, 0x1p20};
	uint16_t *x0 = malloc(65536 * 2);
	const uint16_t *x[1] = {x0};

	ck_assert_ptr_nonnull(x0);
	for (uint32_t p = 0; p < 65536; p++)
		x0[p] = (uint16_t)p;
	for (int d = 0; d < 2; d++)
		for (size_t k = 0; k < sizeof ws / sizeof ws[0]; k++)
			EXPECT_SAME(HALVES[d], x, &ws[k], 1, 65536);
	free(x0);
}
END_TEST

/* K = 2 and 3 over every pattern of x0 with x1 and x2 its neighbours, its
 * negation (cancellation to zero or a subnormal), the next binade, and a
 * fixed partner; weights that make ties (1/2, 1/4), overflow (1, 1) and
 * sums that land next to half-way between two results. */
START_TEST(test_simd_pairs_and_triples)
{
	static const uint16_t deltas[] = {1, 0xFFFF, 0x8000, 0x0400, 0x0080};
	static const double w2[][2] = {{0.5, 0.5}, {1.0, 1.0}, {0.75, 0.25}, {1.0, 0x1p-12},
	                               {1.0, -0x1p-9}};
	static const double w3[][3] = {
	    {1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0}, {0.5, 0.25, 0.25}, {1.0, 1.0, 0x1p-30}};
	uint16_t *x0 = malloc(65536 * 2), *x1 = malloc(65536 * 2), *x2 = malloc(65536 * 2);
	const uint16_t *x[3] = {x0, x1, x2};

	for (uint32_t p = 0; p < 65536; p++)
		x0[p] = (uint16_t)p;
	for (int d = 0; d < 2; d++)
		for (size_t a = 0; a < sizeof deltas / sizeof deltas[0]; a++) {
			for (uint32_t p = 0; p < 65536; p++) {
				x1[p] = (uint16_t)(p + deltas[a]);
				x2[p] = (uint16_t)(p ^ deltas[(a + 1) % 5]);
			}
			for (size_t k = 0; k < sizeof w2 / sizeof w2[0]; k++)
				EXPECT_SAME(HALVES[d], x, w2[k], 2, 65536);
			for (size_t k = 0; k < sizeof w3 / sizeof w3[0]; k++)
				EXPECT_SAME(HALVES[d], x, w3[k], 3, 65536);
		}
	free(x0);
	free(x1);
	free(x2);
}
END_TEST

/* Sums a hair beside a tie of the dtype: 1 + half an ulp +- 2^-40.  A
 * plain double -> float -> half would round twice (the float is the tie
 * itself, then to even); one rounding goes to the side of the hair.
 * Closed forms, in the vector part (8 elements) and the tail (1). */
START_TEST(test_simd_near_ties)
{
	/* F16: 1.0 = 0x3C00, 2^-11 = 0x1000, smallest subnormal 2^-24 = 0x0001 */
	static const double up[3] = {1.0, 1.0, 0x1p-16}, down[3] = {1.0, 1.0, -0x1p-16};
	/* BF16: 1.0 = 0x3F80, 2^-8 = 0x3B80, 2^-40 = 0x2B80 */
	static const double one3[3] = {1.0, 1.0, 1.0}, neg3[3] = {1.0, 1.0, -1.0};
	uint16_t a[9], b[9], c[9], out[9];
	const void *x[3] = {a, b, c};

	for (int e = 0; e < 9; e++) {
		a[e] = 0x3C00;
		b[e] = 0x1000;
		c[e] = 0x0001;
	}
	mudsc__average_rows(MUDSC_DTYPE_F16, out, x, up, 3, 9, MUDSC__AVERAGE_FAST);
	for (int e = 0; e < 9; e++)
		ck_assert_uint_eq(out[e], 0x3C01);
	mudsc__average_rows(MUDSC_DTYPE_F16, out, x, down, 3, 9, MUDSC__AVERAGE_FAST);
	for (int e = 0; e < 9; e++)
		ck_assert_uint_eq(out[e], 0x3C00);
	for (int e = 0; e < 9; e++) {
		a[e] = 0x3F80;
		b[e] = 0x3B80;
		c[e] = 0x2B80;
	}
	mudsc__average_rows(MUDSC_DTYPE_BF16, out, x, one3, 3, 9, MUDSC__AVERAGE_FAST);
	for (int e = 0; e < 9; e++)
		ck_assert_uint_eq(out[e], 0x3F81);
	mudsc__average_rows(MUDSC_DTYPE_BF16, out, x, neg3, 3, 9, MUDSC__AVERAGE_FAST);
	for (int e = 0; e < 9; e++)
		ck_assert_uint_eq(out[e], 0x3F80);
}
END_TEST

/* k rows of m 16-bit elements, buf[i] writable and x[i] the same row. */
static void rows_new(uint16_t **buf, const uint16_t **x, size_t k, size_t m)
{
	for (size_t i = 0; i < k; i++) {
		buf[i] = malloc(m * 2);
		ck_assert_ptr_nonnull(buf[i]);
		x[i] = buf[i];
	}
}

/* Random patterns (all 16 bits, and values near 1 as in training), K = 1
 * to 5, lengths with a tail, random weights summing to 1. */
START_TEST(test_simd_random)
{
	enum { M = 4099, KMAX = 5 };
	uint16_t *buf[KMAX];
	const uint16_t *x[KMAX];
	double w[KMAX];
	uint64_t s = 11;

	rows_new(buf, x, KMAX, M);
	for (int round = 0; round < 8; round++)
		for (int d = 0; d < 2; d++)
			for (size_t n = 1; n <= KMAX; n++) {
				double sum = 0.0;
				for (size_t i = 0; i < n; i++) {
					for (size_t e = 0; e < M; e++) {
						uint16_t r = (uint16_t)((lcg(&s) + 0.5) * 65536.0);
						/* odd rounds: exponent bits of ~1 (0x3B/0x3C, 0x3F) */
						if (round % 2)
							r = (uint16_t)((r & 0x03FF) | (d == 0 ? 0x3800 : 0x3F00));
						buf[i][e] = r;
					}
					w[i] = lcg(&s) + 1.0;
					sum += w[i];
				}
				for (size_t i = 0; i < n; i++)
					w[i] /= sum;
				EXPECT_SAME(HALVES[d], x, w, n, M - (size_t)round);
				if (d == 0) { /* F32: the AVX paths and the SSE2/scalar one, bit for bit */
					static const int f32_paths[3] = {MUDSC__AVERAGE_FAST, MUDSC__AVERAGE_AVX512,
					                                 MUDSC__AVERAGE_DOUBLE};
					const void *xf[KMAX];
					float *in[KMAX], *fast = malloc(M * 4), *port = malloc(M * 4);
					for (size_t i = 0; i < n; i++) {
						in[i] = malloc(M * 4);
						for (size_t e = 0; e < M; e++)
							in[i][e] = (float)lcg(&s) * (round % 2 ? 1.0f : 0x1p-100f);
						xf[i] = in[i];
					}
					mudsc__average_rows(MUDSC_DTYPE_F32, port, xf, w, n, M - (size_t)round,
					                    MUDSC__AVERAGE_PORTABLE);
					for (int p = 0; p < 3; p++) {
						mudsc__average_rows(MUDSC_DTYPE_F32, fast, xf, w, n, M - (size_t)round,
						                    f32_paths[p]);
						if (memcmp(fast, port, (M - (size_t)round) * 4) != 0)
							ck_abort_msg("F32 n=%zu: path %d and the portable one differ", n,
							             f32_paths[p]);
					}
					for (size_t i = 0; i < n; i++)
						free(in[i]);
					free(fast);
					free(port);
				}
			}
	for (int i = 0; i < KMAX; i++)
		free(buf[i]);
}
END_TEST

/* The float filter (docs/algorithm.md 16.4) on adversarial rows: for
 * K = 2..8 and weights equal (1/K), dyadic (powers of two), unequal,
 * extrapolating (negative) or tiny, every element's last input is chosen
 * so that the exact weighted sum lands on, or a few input ulps beside, a
 * midpoint between two values of the dtype (where the float interval
 * must not decide), in random binades (F16 subnormals; BF16 down to its
 * subnormals), with cancellation (x1 = -x0 nearby), zeros of both signs,
 * infinities and NaNs sprinkled in.  All three paths against the
 * definition, bit for bit. */
static uint16_t to_half(mudsc_dtype dtype, double v)
{
	return dtype == MUDSC_DTYPE_F16 ? mudsc__f64_to_f16(v) : mudsc__f64_to_bf16(v);
}

static double from_half(mudsc_dtype dtype, uint16_t h)
{
	return dtype == MUDSC_DTYPE_F16 ? (double)mudsc__f16_to_f32(h) : (double)mudsc__bf16_to_f32(h);
}

/* Uniform in [0, 1). */
static double u01(uint64_t *s)
{
	return lcg(s) + 0.5;
}

START_TEST(test_filter_adversarial)
{
	enum { M = 4096 + 3, KMAX = 8 };
	uint16_t *buf[KMAX];
	const uint16_t *x[KMAX];
	double w[KMAX];
	uint64_t s = 17;

	rows_new(buf, x, KMAX, M);
	for (int d = 0; d < 2; d++)
		for (size_t n = 2; n <= KMAX; n++)
			for (int kind = 0; kind < 5; kind++) {
				double sum = 0.0;
				for (size_t i = 0; i < n; i++) {
					switch (kind) {
					case 0: w[i] = 1.0 / (double)n; break;       /* the default */
					case 1: w[i] = 0.5; break;                   /* dyadic (2 and 4 sum to 1) */
					case 2: w[i] = u01(&s) + 0.5; break;         /* unequal */
					case 3: w[i] = i == 0 ? 2.0 : -1.0; break;   /* extrapolating */
					default: w[i] = i == 0 ? 1.0 : 0x1p-30; break; /* tiny partners */
					}
					sum += w[i];
				}
				if (kind == 1) /* 1/2 for n = 2, 1/4 for n = 4, else halves and quarters */
					for (size_t i = 0; i < n; i++)
						w[i] = n == 2 ? 0.5 : n == 4 ? 0.25 : (i == 0 ? 0.5 : 0.5 / (double)(n - 1));
				else if (kind == 3)
					w[n - 1] += 1.0 - sum;
				else if (kind != 4)
					for (size_t i = 0; i < n; i++)
						w[i] /= sum;
				for (size_t e = 0; e < M; e++) {
					/* a midpoint y of the dtype in a random binade */
					int lo = d == 0 ? -26 : -136, span = d == 0 ? 44 : 150;
					double mag = ldexp(1.0 + u01(&s), lo + (int)(u01(&s) * span));
					uint16_t a = to_half(HALVES[d], mag);
					double y = 0.5 * (from_half(HALVES[d], a) + from_half(HALVES[d], (uint16_t)(a + 1)));
					double rest = y;
					if (u01(&s) < 0.5)
						y = -y, rest = -rest;
					for (size_t i = 0; i + 1 < n; i++) {
						/* near y, or cancelling the previous input */
						double v = i > 0 && u01(&s) < 0.2 ? -from_half(HALVES[d], buf[i - 1][e]) * 1.001
						                                   : y * (0.75 + 0.5 * u01(&s));
						buf[i][e] = to_half(HALVES[d], v);
						rest -= w[i] * from_half(HALVES[d], buf[i][e]);
					}
					uint16_t last = to_half(HALVES[d], rest / w[n - 1]);
					/* on the midpoint, or 1-2 ulps of the last input beside it */
					double r = u01(&s);
					last = (uint16_t)(r < 0.6 ? last : r < 0.7 ? last + 1 : r < 0.8 ? last - 1 : r < 0.9 ? last + 2 : last - 2);
					buf[n - 1][e] = last;
					r = u01(&s);
					if (r < 0.01) /* specials: signed zeros, inf, NaN */
						buf[(size_t)(u01(&s) * (double)n)][e] =
						    r < 0.0025 ? 0x8000 : r < 0.005 ? 0x0000 : r < 0.0075 ? (d == 0 ? 0x7C00 : 0x7F80) : (d == 0 ? 0x7E01 : 0x7FC1);
				}
				EXPECT_SAME(HALVES[d], x, w, n, M);
			}
	for (int i = 0; i < KMAX; i++)
		free(buf[i]);
}
END_TEST

/* The dispatch: the path mudsc_average takes is the best this CPU has
 * (asked here through the compiler's CPU query, independently of the
 * library's), and it gives the bits of that path called by name; stderr
 * says which vector paths the row tests above ran, so a log shows what a
 * machine checked (the others ran as the best path below them). */
START_TEST(test_paths)
{
	static const char *const names[] = {"portable", "AVX2 double vectors", "AVX2 float filter",
	                                    "AVX-512 double vectors"};
	enum { M = 1000 + 7 };
	int best = mudsc__average_best_path();
	uint16_t *buf[3], fast[M], named[M];
	const uint16_t *x[3];
	const double w[3] = {0.2, 0.3, 0.5};
	uint64_t s = 23;

	ck_assert_int_ge(best, MUDSC__AVERAGE_PORTABLE);
	ck_assert_int_le(best, MUDSC__AVERAGE_AVX512);
#if defined(__GNUC__) && defined(__x86_64__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl"))
		ck_assert_int_eq(best, MUDSC__AVERAGE_AVX512);
	else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		ck_assert_int_ge(best, MUDSC__AVERAGE_FILTER); /* every such CPU has F16C */
	else
		ck_assert_int_le(best, MUDSC__AVERAGE_DOUBLE);
#endif
	fprintf(stderr, "average: this CPU runs the paths up to the %s (best: %d)\n", names[best],
	        best);
	rows_new(buf, x, 3, M);
	for (int d = 0; d < 2; d++) {
		for (size_t i = 0; i < 3; i++)
			for (size_t e = 0; e < M; e++)
				buf[i][e] = (uint16_t)((u01(&s) * 65536.0));
		mudsc__average_rows(HALVES[d], fast, (const void *const *)x, w, 3, M, MUDSC__AVERAGE_FAST);
		mudsc__average_rows(HALVES[d], named, (const void *const *)x, w, 3, M, best);
		ck_assert_int_eq(memcmp(fast, named, sizeof fast), 0);
		EXPECT_SAME(HALVES[d], x, w, 3, M);
	}
	for (int i = 0; i < 3; i++)
		free(buf[i]);
}
END_TEST

/* A model of several tensors of every float dtype, some longer than a
 * task: 1 and 3 threads give the same bits, and those of the rows. */
START_TEST(test_model_tasks_same_bits)
{
	static const mudsc_dtype dt[4] = {MUDSC_DTYPE_F16, MUDSC_DTYPE_BF16, MUDSC_DTYPE_F32,
	                                  MUDSC_DTYPE_F64};
	static const int64_t len[4] = {2 * 65536 + 5, 7, 65536 + 1, 300};
	unsigned char *in[3][4], *o1[4], *o3[4], *ref[4];
	mudsc_model *m[3], *d1, *d3;
	mudsc_average_options opts = MUDSC_AVERAGE_OPTIONS_INIT;
	uint64_t s = 5;

	for (int i = 0; i < 3; i++)
		ck_assert_ok(mudsc_model_new(&m[i]));
	ck_assert_ok(mudsc_model_new(&d1));
	ck_assert_ok(mudsc_model_new(&d3));
	for (int t = 0; t < 4; t++) {
		size_t bytes = (size_t)len[t] * mudsc_dtype_size(dt[t]);
		char name[16];
		snprintf(name, sizeof name, "t%d", t);
		for (int i = 0; i < 3; i++) {
			in[i][t] = malloc(bytes);
			for (size_t b = 0; b < bytes; b++)
				in[i][t][b] = (unsigned char)((lcg(&s) + 0.5) * 256.0);
			for (size_t b = mudsc_dtype_size(dt[t]) - 1; b < bytes; b += mudsc_dtype_size(dt[t]))
				in[i][t][b] = 0x3F; /* finite values near 1 (no NaN) */
			ck_assert_ok(mudsc_model_add(m[i], name, dt[t], 1, &len[t], in[i][t], MUDSC_BORROW));
		}
		o1[t] = calloc(1, bytes);
		o3[t] = calloc(1, bytes);
		ref[t] = calloc(1, bytes);
		ck_assert_ok(mudsc_model_add(d1, name, dt[t], 1, &len[t], o1[t], MUDSC_BORROW));
		ck_assert_ok(mudsc_model_add(d3, name, dt[t], 1, &len[t], o3[t], MUDSC_BORROW));
		{
			const void *x[3] = {in[0][t], in[1][t], in[2][t]};
			const double w[3] = {1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0};
			mudsc__average_rows(dt[t], ref[t], x, w, 3, (size_t)len[t],
			                    MUDSC__AVERAGE_PORTABLE);
		}
	}
	opts.threads = 1;
	ck_assert_ok(mudsc_average(d1, 3, (const mudsc_model *const *)m, NULL, &opts));
	opts.threads = 3;
	ck_assert_ok(mudsc_average(d3, 3, (const mudsc_model *const *)m, NULL, &opts));
	for (int t = 0; t < 4; t++) {
		size_t bytes = (size_t)len[t] * mudsc_dtype_size(dt[t]);
		ck_assert_int_eq(memcmp(o1[t], ref[t], bytes), 0);
		ck_assert_int_eq(memcmp(o3[t], ref[t], bytes), 0);
		for (int i = 0; i < 3; i++)
			free(in[i][t]);
		free(o1[t]);
		free(o3[t]);
		free(ref[t]);
	}
	for (int i = 0; i < 3; i++)
		mudsc_model_free(m[i]);
	mudsc_model_free(d1);
	mudsc_model_free(d3);
}
END_TEST

Suite *suite_average(void)
{
	Suite *s = suite_create("average");
	TCase *tc = tcase_create("average");

	tcase_add_test(tc, test_f16_one_rounding);
	tcase_add_test(tc, test_bf16_one_rounding);
	tcase_add_test(tc, test_f32_f64_definition);
	tcase_add_test(tc, test_f32_counts);
	tcase_add_test(tc, test_in_place_alias_and_non_float);
	tcase_add_test(tc, test_mismatches_leave_dst);
	tcase_add_test(tc, test_mapped_dst);
	tcase_add_test(tc, test_threads_same_bits);
	tcase_add_test(tc, test_aligned_recovers_permuted_copy);
	tcase_add_test(tc, test_simd_every_pattern);
	tcase_add_test(tc, test_simd_pairs_and_triples);
	tcase_add_test(tc, test_simd_near_ties);
	tcase_add_test(tc, test_simd_random);
	tcase_add_test(tc, test_filter_adversarial);
	tcase_add_test(tc, test_paths);
	tcase_add_test(tc, test_model_tasks_same_bits);
	suite_add_tcase(s, tc);
	return s;
}
