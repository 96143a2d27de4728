/* f16 and bf16 conversions against closed forms (white box: lib/core/convert.h). */
#include <math.h>
#include <stdint.h>

#include "core/core.h"
#include "suites.h"
#include "testutil.h"

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
			ck_assert_msg(isnan(got), "pattern %04x", h);
		else
			ck_assert_msg((double)got == ref, "pattern %04x: %g vs %g", h, got, ref);
	}
}
END_TEST

START_TEST(f16_encode_round_trips_and_rounds_to_even)
{
	for (uint32_t h = 0; h < 65536; h++) {
		float f = mudsc__f16_to_f32((uint16_t)h);
		if (isnan(f))
			continue;
		ck_assert_msg(mudsc__f32_to_f16(f) == h, "pattern %04x", h);
	}
	/* 1 + 2^-11 is halfway between 1 and the next half: ties to even (1). */
	ck_assert_uint_eq(mudsc__f32_to_f16(1.0f + 0x1p-11f), 0x3c00);
	/* 1 + 3*2^-11 ties between 1+2^-10 (odd) and 1+2^-9 (even). */
	ck_assert_uint_eq(mudsc__f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02);
	ck_assert_uint_eq(mudsc__f32_to_f16(65504.0f), 0x7bff);
	ck_assert_uint_eq(mudsc__f32_to_f16(65520.0f), 0x7c00); /* overflow to inf */
	ck_assert_uint_eq(mudsc__f32_to_f16(0x1p-25f), 0x0000); /* tie to even zero */
	ck_assert_uint_eq(mudsc__f32_to_f16(0x1.8p-25f), 0x0001);
	ck_assert(isnan(mudsc__f16_to_f32(mudsc__f32_to_f16(NAN))));
	ck_assert_uint_eq(mudsc__f32_to_f16(-0.0f), 0x8000);
}
END_TEST

START_TEST(bf16_round_trip_and_rounding)
{
	for (uint32_t b = 0; b < 65536; b++) {
		float f = mudsc__bf16_to_f32((uint16_t)b);
		if (isnan(f))
			continue;
		ck_assert_msg(mudsc__f32_to_bf16(f) == b, "pattern %04x", b);
	}
	ck_assert_uint_eq(mudsc__f32_to_bf16(1.0f + 0x1p-8f), 0x3f80); /* tie to even */
	ck_assert_uint_eq(mudsc__f32_to_bf16(1.0f + 0x1.8p-7f), 0x3f82);
	ck_assert(isnan(mudsc__bf16_to_f32(mudsc__f32_to_bf16(NAN))));
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
			ck_assert(back[i] == src[i] && (double)fback[i] == src[i]);
		double tol = types[t] == MUDSC_DTYPE_F64 ? 0 : types[t] == MUDSC_DTYPE_F32 ? 1e-7 : 1e-2;
		ck_assert_msg(fabs(back[3] - 1e-3) <= tol * 1e-3 + 1e-9, "type %d", t);
		if (types[t] == MUDSC_DTYPE_F16)
			ck_assert(isinf(back[4]));
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
	tcase_add_test(tc, bulk_conversions);
	suite_add_tcase(s, tc);
	return s;
}
