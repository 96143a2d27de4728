/* f16 and bf16 conversions against closed forms (white box: lib/core/convert.h). */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "suites.h"
#include "testutil.h"

/* The per-element checks of the exhaustive loops: Check's ck_assert marks
 * a point on every call, which made this suite take ~10 min under
 * valgrind; these reach Check only when a check fails. */
#define EXPECT_MSG(cond, ...)                                                                    \
	do {                                                                                         \
		if (!(cond))                                                                             \
			ck_abort_msg(__VA_ARGS__);                                                           \
	} while (0)
#define EXPECT(cond) EXPECT_MSG(cond, "failed: %s", #cond)

/* Reference binary16 decoding straight from the definition. */
static double f16_reference(uint16_t h)
{
	int sign = h >> 15, exp = (h >> 10) & 31, man = h & 1023;
	double v;
	if (exp == 31)
		return man ? NAN : (sign ? -INFINITY : INFINITY);
	v = exp ? ldexp(1.0 + man / 1024.0, exp - 15) : ldexp(man / 1024.0, -14);
	return sign ? -v : v;
}

START_TEST(f16_decode_all_patterns)
{
	for (uint32_t h = 0; h < 65536; h++) {
		double ref = f16_reference((uint16_t)h);
		float got = mudsc__f16_to_f32((uint16_t)h);
		if (isnan(ref))
			EXPECT_MSG(isnan(got), "pattern %04x", h);
		else
			EXPECT_MSG((double)got == ref, "pattern %04x: %g vs %g", h, got, ref);
	}
}
END_TEST

START_TEST(f16_encode_round_trips_and_rounds_to_even)
{
	for (uint32_t h = 0; h < 65536; h++) {
		float f = mudsc__f16_to_f32((uint16_t)h);
		if (isnan(f))
			continue;
		EXPECT_MSG(mudsc__f32_to_f16(f) == h, "pattern %04x", h);
	}
	/* 1 + 2^-11 is halfway between 1 and the next half: ties to even (1). */
	ck_assert_uint_eq(mudsc__f32_to_f16(1.0f + 0x1p-11f), 0x3c00);
	/* 1 + 3*2^-11 ties between 1+2^-10 (odd) and 1+2^-9 (even). */
	ck_assert_uint_eq(mudsc__f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02);
	ck_assert_uint_eq(mudsc__f32_to_f16(65504.0f), 0x7bff);
	ck_assert_uint_eq(mudsc__f32_to_f16(65520.0f), 0x7c00); /* overflow to inf */
	ck_assert_uint_eq(mudsc__f32_to_f16(0x1p-25f), 0x0000); /* tie to even zero */
	ck_assert_uint_eq(mudsc__f32_to_f16(0x1.8p-25f), 0x0001);
	EXPECT(isnan(mudsc__f16_to_f32(mudsc__f32_to_f16(NAN))));
	ck_assert_uint_eq(mudsc__f32_to_f16(-0.0f), 0x8000);
}
END_TEST

START_TEST(bf16_round_trip_and_rounding)
{
	for (uint32_t b = 0; b < 65536; b++) {
		float f = mudsc__bf16_to_f32((uint16_t)b);
		if (isnan(f))
			continue;
		EXPECT_MSG(mudsc__f32_to_bf16(f) == b, "pattern %04x", b);
	}
	ck_assert_uint_eq(mudsc__f32_to_bf16(1.0f + 0x1p-8f), 0x3f80); /* tie to even */
	ck_assert_uint_eq(mudsc__f32_to_bf16(1.0f + 0x1.8p-7f), 0x3f82);
	EXPECT(isnan(mudsc__bf16_to_f32(mudsc__f32_to_bf16(NAN))));
}
END_TEST

/* Doubles around every midpoint m between adjacent finite positive values
 * a < b of a 16-bit format: below m rounds to a, above to b, m itself to
 * the even one; the sign is kept.  The doubles just off m are within one
 * double ulp of it, where rounding through float would first land on m
 * and then tie: this is what "rounded once" means.  Closed form: a, b and
 * m are exact in double. */
static void check_midpoints(float (*decode)(uint16_t), uint16_t (*encode)(double),
                            uint16_t top, const char *name)
{
	for (uint32_t a = 0; a < top; a++) {
		const double lo = decode((uint16_t)a), hi = decode((uint16_t)(a + 1));
		const double m = lo + (hi - lo) / 2;
		const uint16_t even = (a & 1u) ? (uint16_t)(a + 1) : (uint16_t)a;
		EXPECT_MSG(encode(nextafter(m, 0.0)) == a, "%s %04x: below midpoint", name, a);
		EXPECT_MSG(encode(nextafter(m, INFINITY)) == a + 1, "%s %04x: above", name, a);
		EXPECT_MSG(encode(m) == even, "%s %04x: tie", name, a);
		EXPECT_MSG(encode(-nextafter(m, INFINITY)) == (0x8000u | (a + 1)), "%s -%04x", name,
		              a);
		EXPECT_MSG(encode(lo) == a, "%s %04x: exact", name, a);
	}
}

START_TEST(f64_to_16_bit_rounds_once)
{
	check_midpoints(mudsc__f16_to_f32, mudsc__f64_to_f16, 0x7bff, "f16"); /* to 65504 */
	check_midpoints(mudsc__bf16_to_f32, mudsc__f64_to_bf16, 0x7f7f, "bf16");
	/* the case double rounding gets wrong: 1 + 2^-11 + 2^-40 is above the
	 * midpoint of 1 and 1 + 2^-10, but rounds to that midpoint in float */
	ck_assert_uint_eq(mudsc__f64_to_f16(1.0 + 0x1p-11 + 0x1p-40), 0x3c01);
	ck_assert_uint_eq(mudsc__f32_to_f16((float)(1.0 + 0x1p-11 + 0x1p-40)), 0x3c00);
	/* overflow: at and above 65520 to inf, the largest half below */
	ck_assert_uint_eq(mudsc__f64_to_f16(65519.999), 0x7bff);
	ck_assert_uint_eq(mudsc__f64_to_f16(65520.0), 0x7c00);
	ck_assert_uint_eq(mudsc__f64_to_f16(1e300), 0x7c00);
	ck_assert_uint_eq(mudsc__f64_to_bf16(1e300), 0x7f80);
	ck_assert_uint_eq(mudsc__f64_to_bf16(-1e300), 0xff80);
	/* below float's range: zero of the right sign; NaN stays NaN */
	ck_assert_uint_eq(mudsc__f64_to_f16(1e-300), 0x0000);
	ck_assert_uint_eq(mudsc__f64_to_bf16(-1e-300), 0x8000);
	EXPECT(isnan(mudsc__f16_to_f32(mudsc__f64_to_f16(NAN))));
	EXPECT(isnan(mudsc__bf16_to_f32(mudsc__f64_to_bf16(NAN))));
	ck_assert_uint_eq(mudsc__f64_to_f16(INFINITY), 0x7c00);
}
END_TEST

START_TEST(bulk_conversions)
{
	double src[5] = {1.5, -2.25, 0.0, 1e-3, 3.0e38};
	unsigned char buf[5 * 8 + 1];
	double back[5];
	float fback[5];
	mudsc_dtype types[4] = {MUDSC_DTYPE_F16, MUDSC_DTYPE_BF16, MUDSC_DTYPE_F32, MUDSC_DTYPE_F64};
	for (int t = 0; t < 4; t++) {
		/* write at an odd address: the converters must not assume alignment */
		mudsc__convert_from_f64(types[t], src, 5, buf + 1);
		mudsc__convert_to_f64(types[t], buf + 1, 5, back);
		mudsc__convert_to_f32(types[t], buf + 1, 5, fback);
		for (int i = 0; i < 3; i++) /* exactly representable in every type */
			EXPECT(back[i] == src[i] && (double)fback[i] == src[i]);
		double tol = types[t] == MUDSC_DTYPE_F64 ? 0 : types[t] == MUDSC_DTYPE_F32 ? 1e-7 : 1e-2;
		EXPECT_MSG(fabs(back[3] - 1e-3) <= tol * 1e-3 + 1e-9, "type %d", t);
		if (types[t] == MUDSC_DTYPE_F16)
			EXPECT(isinf(back[4]));
	}
}
END_TEST

/* Both results the same float: bit for bit, or both NaN (F16C quiets a
 * signalling NaN, the scalar route keeps it as it is). */
static void assert_same_float(float got, float want, uint32_t pattern)
{
	if (isnan(want)) {
		EXPECT_MSG(isnan(got), "pattern %04x: %g, want NaN", pattern, got);
		return;
	}
	EXPECT_MSG(memcmp(&got, &want, sizeof got) == 0, "pattern %04x: %a, want %a", pattern,
	              (double)got, (double)want);
}

/* Every half through the row converter, with and without F16C, from an odd
 * address, in lengths that leave a tail after the 8-wide steps: the values
 * of the closed form (and of the scalar converter, bit for bit). */
START_TEST(f16_row_all_patterns_with_and_without_f16c)
{
	enum { N = 65536 };
	unsigned char *src = malloc(2 * N + 1);
	float *dst = malloc(sizeof(float) * N);

	for (uint32_t h = 0; h < N; h++)
		memcpy(src + 1 + 2 * h, &(uint16_t){ (uint16_t)h }, 2);
	for (int fast = 0; fast <= 1; fast++) {
		const size_t lengths[3] = { N, N - 5, 13 };
		for (int l = 0; l < 3; l++) {
			for (size_t h = 0; h < N; h++)
				dst[h] = -7.0f;
			mudsc__f16_row_to_f32(dst, src + 1, lengths[l], fast);
			for (uint32_t h = 0; h < lengths[l]; h++) {
				double ref = f16_reference((uint16_t)h);
				assert_same_float(dst[h], mudsc__f16_to_f32((uint16_t)h), h);
				EXPECT_MSG(isnan(ref) || (double)dst[h] == ref, "pattern %04x", h);
			}
			for (size_t h = lengths[l]; h < N; h++)
				EXPECT(dst[h] == -7.0f); /* nothing written past n */
		}
	}
	/* the dtype-generic row converter takes the same route */
	mudsc__convert_to_f32(MUDSC_DTYPE_F16, src + 1, N, dst);
	for (uint32_t h = 0; h < N; h++)
		assert_same_float(dst[h], mudsc__f16_to_f32((uint16_t)h), h);
	free(src);
	free(dst);
}
END_TEST

static void *f16c_thread(void *out)
{
	*(bool *)out = mudsc__cpu_has_f16c();
	return NULL;
}

/* The detection: the same answer from racing threads and later calls; on
 * gcc, the answer of its own CPU model (F16C and AVX; gcc's check of AVX
 * includes the OS's YMM support). */
START_TEST(f16c_detection_is_stable)
{
	pthread_t t[4];
	bool got[4];

	for (int k = 0; k < 4; k++)
		ck_assert_int_eq(pthread_create(&t[k], NULL, f16c_thread, &got[k]), 0);
	for (int k = 0; k < 4; k++)
		ck_assert_int_eq(pthread_join(t[k], NULL), 0);
	for (int k = 0; k < 4; k++)
		ck_assert_int_eq(got[k], mudsc__cpu_has_f16c());
#if defined(__GNUC__) && !defined(__clang__) && (defined(__x86_64__) || defined(__i386__))
	ck_assert_int_eq(mudsc__cpu_has_f16c(),
	                 __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx"));
#endif
}
END_TEST

/* Strided reads (steps negative, 0, and wider than an element) and the
 * scalar loaders give the values of the element-by-element definition. */
/* The row converter from double (F16 eight at a time through F16C, BF16
 * rounded on the double's bits) gives the scalar converters' values: for
 * every 16-bit pattern's value, the midpoints to its neighbour and the
 * doubles just beside them, values near overflow and below the normal
 * range, zeros, infinities (NaN: a NaN). */
static double bits_double(uint64_t u)
{
	double d;
	memcpy(&d, &u, 8);
	return d;
}

START_TEST(row_from_f64_equals_scalar)
{
	enum { PER = 7 };
	static double src[65536 * PER + 16];
	static uint16_t row[65536 * PER + 16];
	const mudsc_dtype types[2] = {MUDSC_DTYPE_F16, MUDSC_DTYPE_BF16};

	for (int t = 0; t < 2; t++) {
		size_t n = 0;
		for (uint32_t h = 0; h < 65536; h++) {
			double v = t == 0 ? mudsc__f16_to_f32((uint16_t)h) : mudsc__bf16_to_f32((uint16_t)h);
			double next = t == 0 ? mudsc__f16_to_f32((uint16_t)(h + 1))
			                     : mudsc__bf16_to_f32((uint16_t)(h + 1));
			double mid = isfinite(v) && isfinite(next) ? v + (next - v) / 2 : v;
			src[n++] = v;
			src[n++] = mid;
			src[n++] = nextafter(mid, INFINITY);
			src[n++] = nextafter(mid, -INFINITY);
			src[n++] = v * (1.0 + 0x1p-40);
			src[n++] = -mid;
			src[n++] = mid * 0x1p-130; /* the BF16 subnormal range */
		}
		src[n++] = bits_double(UINT64_C(0x47efffffffffffff)); /* just below 2^128 */
		src[n++] = bits_double(UINT64_C(0x47efe00000000000));
		src[n++] = bits_double(UINT64_C(0x47efe00000000001));
		src[n++] = -bits_double(UINT64_C(0x47efe00000000001));
		src[n++] = 0x1p128;
		src[n++] = 0x1p-126;
		src[n++] = nextafter(0x1p-126, 0.0);
		src[n++] = -0.0;
		src[n++] = INFINITY;
		src[n++] = -INFINITY;
		src[n++] = 65520.0;
		src[n++] = 65519.99;
		src[n++] = NAN;
		mudsc__convert_from_f64(types[t], src, n, row);
		for (size_t i = 0; i < n; i++) {
			uint16_t want = t == 0 ? mudsc__f64_to_f16(src[i]) : mudsc__f64_to_bf16(src[i]);
			if (isnan(src[i]))
				EXPECT_MSG((row[i] & 0x7fffu) > (t == 0 ? 0x7c00u : 0x7f80u),
				              "NaN %zu -> %04x", i, (unsigned)row[i]);
			else
				EXPECT_MSG(row[i] == want, "%s %zu: %.17g -> %04x, scalar %04x",
				              t == 0 ? "F16" : "BF16", i, src[i], (unsigned)row[i],
				              (unsigned)want);
		}
	}
}
END_TEST

START_TEST(strided_and_scalar_loads)
{
	const double src[6] = { 1.5, -2.25, 0.0, 0.125, -65504.0, 3.0 };
	mudsc_dtype types[4] = {MUDSC_DTYPE_F16, MUDSC_DTYPE_BF16, MUDSC_DTYPE_F32, MUDSC_DTYPE_F64};
	unsigned char buf[6 * 8 + 1];
	double got[6];

	for (int t = 0; t < 4; t++) {
		const ptrdiff_t es = (ptrdiff_t)mudsc_dtype_size(types[t]);
		mudsc__convert_from_f64(types[t], src, 6, buf + 1);
		for (size_t i = 0; i < 6; i++) {
			double want = types[t] == MUDSC_DTYPE_BF16 && i == 4 ? -65536.0 : src[i];
			EXPECT_MSG(mudsc__load_f64(types[t], buf + 1, i) == want, "type %d, %zu", t, i);
			EXPECT(mudsc__load_f32(types[t], buf + 1, i) == (float)want);
		}
		/* every second element from the last back: 3.0, 0.125, -2.25 */
		mudsc__convert_strided_to_f64(types[t], buf + 1 + 5 * es, -2 * es, 3, got);
		EXPECT(got[0] == 3.0 && got[1] == 0.125 && got[2] == -2.25);
		mudsc__convert_strided_to_f64(types[t], buf + 1, 0, 3, got); /* step 0: one element */
		EXPECT(got[0] == 1.5 && got[1] == 1.5 && got[2] == 1.5);
	}
}
END_TEST

Suite *suite_convert(void)
{
	Suite *s = suite_create("convert");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, f16_decode_all_patterns);
	tcase_add_test(tc, f16_encode_round_trips_and_rounds_to_even);
	tcase_add_test(tc, bf16_round_trip_and_rounding);
	tcase_add_test(tc, f64_to_16_bit_rounds_once);
	tcase_add_test(tc, bulk_conversions);
	tcase_add_test(tc, f16_row_all_patterns_with_and_without_f16c);
	tcase_add_test(tc, f16c_detection_is_stable);
	tcase_add_test(tc, strided_and_scalar_loads);
	tcase_add_test(tc, row_from_f64_equals_scalar);
	suite_add_tcase(s, tc);
	return s;
}
