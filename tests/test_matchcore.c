/* Building blocks of the matcher against closed forms: the seeded order,
 * row similarity, axis contraction and transposition (white box). */
#include <math.h>

#include "matcher/matcher.h"
#include "core/core.h"
#include "kernels/kernels.h"
#include "suites.h"
#include "testutil.h"

START_TEST(splitmix64_published_values)
{
	struct mudsc__rng rng;
	mudsc__rng_seed(&rng, 0);
	/* reference outputs of splitmix64 seeded with 0 */
	ck_assert_uint_eq(mudsc__rng_next(&rng), 0xe220a8397b1dcdafull);
	ck_assert_uint_eq(mudsc__rng_next(&rng), 0x6e789e6aa1b965f4ull);
	ck_assert_uint_eq(mudsc__rng_next(&rng), 0x06c45d188009454full);
}
END_TEST

START_TEST(fisher_yates_order)
{
	/* From the published values: k=3: j = v0 % 4 = 3 (no swap); k=2: j = v1 % 3 = 0
	 * (swap 2 and 0); k=1: j = v2 % 2 = 1 (no swap): [2, 1, 0, 3]. */
	struct mudsc__rng rng;
	int64_t order[4];
	int64_t expect[4];
	uint64_t v[3] = {0xe220a8397b1dcdafull, 0x6e789e6aa1b965f4ull, 0x06c45d188009454full};
	for (int i = 0; i < 4; i++)
		expect[i] = i;
	for (int k = 3, t = 0; k >= 1; k--, t++) {
		int64_t j = (int64_t)(v[t] % (uint64_t)(k + 1)), s = expect[k];
		expect[k] = expect[j];
		expect[j] = s;
	}
	ck_assert_int_eq(expect[0], 2);
	ck_assert_int_eq(expect[3], 3);
	mudsc__rng_seed(&rng, 0);
	mudsc__rng_order(&rng, order, 4);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(order[i], expect[i]);
}
END_TEST

START_TEST(pearson_closed_forms)
{
	/* rows: x, 2x+5 (corr 1), reversed x (corr -1), constant (0 by the eps rule), shifted by 1e8 */
	double Z[5 * 4] = {1, 2, 3, 4, 7, 9, 11, 13, 4, 3, 2, 1, 5, 5, 5, 5,
	                   1e8 + 1, 1e8 + 2, 1e8 + 3, 1e8 + 4};
	double S[25];
	struct mudsc__exec two = mudsc__exec_make(2); /* with BLIS: a 2-thread rntm_t */
	/* float32 products: within (D + 2) u of the float64 value (D = 4) */
	for (int f64 = 0; f64 < 2; f64++) {
		double tol = f64 ? 1e-12 : 6.0 * 0x1p-24;
		ck_assert_ok(mudsc__similarity_rows(S, Z, 5, 4, MUDSC_SIMILARITY_CORRELATION, 1e-7,
		                                    f64 ? MUDSC_PRECISION_F64 : MUDSC_PRECISION_F32,
		                                    NULL, &two));
		ck_assert_double_eq_tol(S[0 * 5 + 1], 1.0, tol);
		ck_assert_double_eq_tol(S[0 * 5 + 2], -1.0, tol);
		ck_assert_double_eq_tol(S[0 * 5 + 3], 0.0, tol);
		ck_assert_double_eq_tol(S[3 * 5 + 3], 0.0, tol);
		ck_assert_double_eq_tol(S[0 * 5 + 4], 1.0, f64 ? 1e-9 : tol);
		for (int a = 0; a < 5; a++)
			for (int b = 0; b < 5; b++)
				ck_assert(S[a * 5 + b] == S[b * 5 + a]); /* exactly symmetric */
	}
}
END_TEST

START_TEST(cosine_closed_forms)
{
	double Z[3 * 2] = {1, 0, 0, 2, 3, 3};
	double S[9];
	for (int f64 = 0; f64 < 2; f64++) {
		double tol = f64 ? 1e-15 : 4.0 * 0x1p-24;
		ck_assert_ok(mudsc__similarity_rows(S, Z, 3, 2, MUDSC_SIMILARITY_COSINE, 1e-7,
		                                    f64 ? MUDSC_PRECISION_F64 : MUDSC_PRECISION_F32,
		                                    NULL, &MUDSC__EXEC_SERIAL));
		ck_assert_double_eq_tol(S[0 * 3 + 1], 0.0, tol);
		ck_assert_double_eq_tol(S[0 * 3 + 2], sqrt(0.5), tol);
		ck_assert_double_eq_tol(S[1 * 3 + 1], 1.0, tol);
	}
}
END_TEST

START_TEST(similarity_rejects_bad_input)
{
	double Z[2] = {1, NAN}, S[4];
	for (int32_t prec = MUDSC_PRECISION_F32; prec <= MUDSC_PRECISION_F64; prec++) {
		ck_assert_status(mudsc__similarity_rows(S, Z, 2, 1, MUDSC_SIMILARITY_CORRELATION, 1e-7,
		                                        (mudsc_precision)prec, NULL,
		                                        &MUDSC__EXEC_SERIAL),
		                 MUDSC_E_NUMERIC);
		ck_assert_error_has("row 1");
		ck_assert_status(mudsc__similarity_rows(S, Z, 2, 0, MUDSC_SIMILARITY_CORRELATION, 1e-7,
		                                        (mudsc_precision)prec, NULL,
		                                        &MUDSC__EXEC_SERIAL),
		                 MUDSC_E_SHAPE);
	}
}
END_TEST

START_TEST(contract_and_transpose)
{
	/* T (2 x 3 x 2); contract axis 1 (L = 3) into Lout = 2 with units 0 and 2
	 * merged into column 1 at weight 0.5, unit 1 into column 0 at weight 2. */
	double T[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	int64_t assign[3] = {1, 0, 1};
	double scale[3] = {0.5, 2.0, 0.5};
	double out[8], front[12];
	int64_t shape[3] = {2, 3, 2};
	size_t outer, inner;

	mudsc__axis_split(3, shape, 1, &outer, &inner);
	ck_assert_uint_eq(outer, 2);
	ck_assert_uint_eq(inner, 2);
	mudsc__axis_contract(out, T, outer, 3, inner, assign, scale, 2);
	double expect[8] = {6, 8, 3, 4, 18, 20, 9, 10};
	for (int i = 0; i < 8; i++)
		ck_assert_double_eq(out[i], expect[i]);
	mudsc__axis_to_front(front, outer * inner, T, outer, 3, inner);
	/* front[u, o*2 + i] = T[o, u, i] */
	double expect_front[12] = {1, 2, 7, 8, 3, 4, 9, 10, 5, 6, 11, 12};
	for (int i = 0; i < 12; i++)
		ck_assert_double_eq(front[i], expect_front[i]);
	/* into rows of a wider matrix (leading dimension 6, 2 columns of padding) */
	double wide[18] = {0};
	mudsc__axis_to_front(wide, 6, T, outer, 3, inner);
	for (int u = 0; u < 3; u++)
		for (int k = 0; k < 4; k++)
			ck_assert_double_eq(wide[u * 6 + k], expect_front[u * 4 + k]);
	ck_assert_int_eq(mudsc__axis_is_identity((const int64_t[]){0, 1, 2}, 3, 3), 1);
	ck_assert_int_eq(mudsc__axis_is_identity((const int64_t[]){0, 2, 1}, 3, 3), 0);
	ck_assert_int_eq(mudsc__axis_is_identity((const int64_t[]){0, 1, 1}, 3, 2), 0);
}
END_TEST

Suite *suite_matchcore(void)
{
	Suite *s = suite_create("matchcore");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, splitmix64_published_values);
	tcase_add_test(tc, fisher_yates_order);
	tcase_add_test(tc, pearson_closed_forms);
	tcase_add_test(tc, cosine_closed_forms);
	tcase_add_test(tc, similarity_rejects_bad_input);
	tcase_add_test(tc, contract_and_transpose);
	suite_add_tcase(s, tc);
	return s;
}
