/* Matching kernels (experimental.h): closed-form cases and argument checks.  The
 * comparisons with SciPy and the oracle are in tests/python/test_match.py. */
#include <math.h>
#include <stdlib.h>

#include "kernels/kernels.h"
#include "suites.h"
#include "mudsc/experimental.h"
#include "testutil.h"

START_TEST(lap_identity)
{
	enum { n = 5 };
	double S[n * n] = {0};
	for (int i = 0; i < n; i++)
		S[i * n + i] = 1;
	int64_t x[n];
	double obj = -1;
	ck_assert_ok(mudsc_lap_solve(x, &obj, S, n));
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(x[i], i);
	ck_assert_double_eq(obj, 5.0);
}
END_TEST

START_TEST(lap_hand_worked)
{
	/* The six permutations score 6, 11, 5, 9, 7, 6: the best is (0, 2, 1). */
	const double S[9] = {4, 1, 3, 2, 0, 5, 3, 2, 2};
	int64_t x[3];
	double obj = 0;
	ck_assert_ok(mudsc_lap_solve(x, &obj, S, 3));
	ck_assert_int_eq(x[0], 0);
	ck_assert_int_eq(x[1], 2);
	ck_assert_int_eq(x[2], 1);
	ck_assert_double_eq(obj, 11.0);
}
END_TEST

START_TEST(lap_anti_diagonal_and_minus_inf)
{
	enum { n = 6 };
	double S[n * n];
	for (int i = 0; i < n * n; i++)
		S[i] = -INFINITY;
	for (int i = 0; i < n; i++)
		S[i * n + (n - 1 - i)] = -2.5; /* the only finite assignment */
	int64_t x[n];
	double obj = 0;
	ck_assert_ok(mudsc_lap_solve(x, &obj, S, n));
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(x[i], n - 1 - i);
	ck_assert_double_eq(obj, -15.0);
}
END_TEST

START_TEST(lap_small_sizes)
{
	int64_t x[1] = {-7};
	double obj = -7;
	ck_assert_ok(mudsc_lap_solve(x, &obj, NULL, 0));
	ck_assert_int_eq(x[0], -7);
	ck_assert_double_eq(obj, 0.0);
	const double one = -3.25;
	ck_assert_ok(mudsc_lap_solve(x, NULL, &one, 1));
	ck_assert_int_eq(x[0], 0);
}
END_TEST

START_TEST(lap_infeasible)
{
	const double ninf = -INFINITY;
	/* row 1 is all -inf */
	const double S[9] = {1, 2, 3, ninf, ninf, ninf, 4, 5, 6};
	int64_t x[3] = {-7, -7, -7};
	double obj = -7;
	ck_assert_status(mudsc_lap_solve(x, &obj, S, 3), MUDSC_E_NUMERIC);
	ck_assert_int_eq(x[0], -7);
	ck_assert_double_eq(obj, -7);
	/* every column finite somewhere, but rows 0 and 1 both need column 2 */
	const double T[9] = {ninf, ninf, 1, ninf, ninf, 2, 1, 1, 1};
	ck_assert_status(mudsc_lap_solve(x, &obj, T, 3), MUDSC_E_NUMERIC);
	ck_assert_int_eq(x[0], -7);
}
END_TEST

START_TEST(lap_bad_args)
{
	double S[4] = {1, 2, 3, 4};
	int64_t x[2];
	ck_assert_status(mudsc_lap_solve(NULL, NULL, S, 2), MUDSC_E_INVALID);
	ck_assert_error_has("col_of_row");
	ck_assert_status(mudsc_lap_solve(x, NULL, NULL, 2), MUDSC_E_INVALID);
	ck_assert_error_has("'S'");
	ck_assert_status(mudsc_lap_solve(x, NULL, S, -1), MUDSC_E_INVALID);
	ck_assert_error_has("'n'");
	S[3] = NAN;
	ck_assert_status(mudsc_lap_solve(x, NULL, S, 2), MUDSC_E_NUMERIC);
	ck_assert_error_has("S[1, 1]");
	S[3] = INFINITY;
	ck_assert_status(mudsc_lap_solve(x, NULL, S, 2), MUDSC_E_NUMERIC);
}
END_TEST

START_TEST(align_planted_permutation)
{
	/* Model 1 unit p[j] is anchor unit j's twin (similarity 1, else 0). */
	enum { N = 3, C = 4, NC = N * C };
	const int64_t p[2][C] = {{2, 0, 3, 1}, {3, 2, 1, 0}};
	double S[NC * NC] = {0};
	for (int i = 1; i < N; i++)
		for (int j = 0; j < C; j++) {
			int u = j, w = i * C + (int)p[i - 1][j];
			S[u * NC + w] = S[w * NC + u] = 1;
		}
	int64_t perm[NC];
	double score = 0;
	ck_assert_ok(mudsc_align_solve(perm, &score, S, N, C, 1));
	for (int j = 0; j < C; j++) {
		ck_assert_int_eq(perm[j], j);
		ck_assert_int_eq(perm[C + j], p[0][j]);
		ck_assert_int_eq(perm[2 * C + j], p[1][j]);
	}
	ck_assert_double_eq(score, 1.0);
	/* G = 2: the second model's planted map swaps the blocks and reverses
	 * each, which group align can express; the first model's map spreads
	 * over both blocks, so any block choice matches 2 of its 4 units. */
	ck_assert_ok(mudsc_align_solve(perm, &score, S, N, C, 2));
	for (int j = 0; j < C; j++)
		ck_assert_int_eq(perm[2 * C + j], p[1][j]);
	ck_assert_double_eq(score, 0.75);
}
END_TEST

START_TEST(align_one_model)
{
	const double S[4] = {1, 0, 0, 1};
	int64_t perm[2] = {-7, -7};
	double score = 0;
	ck_assert_ok(mudsc_align_solve(perm, &score, S, 1, 2, 1));
	ck_assert_int_eq(perm[0], 0);
	ck_assert_int_eq(perm[1], 1);
	ck_assert(isnan(score));
}
END_TEST

START_TEST(zip_hand_worked)
{
	/* N = C = 2, r = 0.5: C' = 2, budget 1.  Merge (0, 3) at 0.9; row 0
	 * becomes min(.,.) * 0.5 = 0.05, so (1, 2) at 0.8 comes next. */
	const double S[16] = {1, .1, .1, .9, .1, 1, .8, .1, .1, .8, 1, .1, .9, .1, .1, 1};
	int64_t unit_of[4], pairs[8], width = 0;
	double score = 0;
	ck_assert_ok(mudsc_zip_solve(unit_of, &width, pairs, &score, S, 2, 2, 1, NULL));
	ck_assert_int_eq(width, 2);
	const int64_t want_u[4] = {0, 1, 1, 0}, want_p[4] = {0, 3, 1, 2};
	for (int k = 0; k < 4; k++) {
		ck_assert_int_eq(unit_of[k], want_u[k]);
		ck_assert_int_eq(pairs[k], want_p[k]);
	}
	ck_assert_double_eq_tol(score, 0.85, 1e-15);
}
END_TEST

START_TEST(zip_bad_args)
{
	const double S[16] = {1, .1, .1, .9, .1, 1, .8, .1, .1, .8, 1, .1, .9, .1, .1, 1};
	int64_t unit_of[4] = {-7, -7, -7, -7}, width = -7;
	mudsc_match_options o = MUDSC_MATCH_OPTIONS_INIT;
	ck_assert_status(mudsc_zip_solve(NULL, &width, NULL, NULL, S, 2, 2, 1, &o), MUDSC_E_INVALID);
	ck_assert_error_has("unit_of");
	ck_assert_status(mudsc_zip_solve(unit_of, NULL, NULL, NULL, S, 2, 2, 1, &o), MUDSC_E_INVALID);
	ck_assert_error_has("width");
	ck_assert_status(mudsc_zip_solve(unit_of, &width, NULL, NULL, NULL, 2, 2, 1, &o),
	                 MUDSC_E_INVALID);
	ck_assert_error_has("'S'");
	ck_assert_status(mudsc_zip_solve(unit_of, &width, NULL, NULL, S, 2, -2, 1, &o),
	                 MUDSC_E_INVALID);
	ck_assert_error_has("'C'");
	ck_assert_status(mudsc_zip_solve(unit_of, &width, NULL, NULL, S, 2, 2, 3, &o), MUDSC_E_SHAPE);
	ck_assert_error_has("'G'");
	o.r = 1.5;
	ck_assert_status(mudsc_zip_solve(unit_of, &width, NULL, NULL, S, 2, 2, 1, &o),
	                 MUDSC_E_INVALID);
	ck_assert_error_has("opts->r");
	o.r = NAN;
	ck_assert_status(mudsc_zip_solve(unit_of, &width, NULL, NULL, S, 2, 2, 1, &o),
	                 MUDSC_E_INVALID);
	mudsc_match_options_init(&o);
	o.size = 4;
	ck_assert_status(mudsc_zip_solve(unit_of, &width, NULL, NULL, S, 2, 2, 1, &o),
	                 MUDSC_E_INVALID);
	ck_assert_error_has("is not a size of mudsc_match_options");
	ck_assert_int_eq(unit_of[0], -7);
	ck_assert_int_eq(width, -7);
	ck_assert_status(mudsc_match_options_init(NULL), MUDSC_E_INVALID);
}
END_TEST

/* The symmetry check runs in 32 x 32 tiles, but names the first asymmetric
 * pair in row-major order (here (0, 35), in a later tile than (1, 2)), and
 * sees pairs in the ragged last tiles. */
START_TEST(zip_names_first_asymmetric_pair)
{
	enum { n = 40 };
	static double S[n * n];
	int64_t unit_of[n], width;
	for (size_t k = 0; k < n * n; k++)
		S[k] = k % (n + 1) == 0 ? 1.0 : 0.5;
	S[1 * n + 2] = 0.625;
	S[0 * n + 35] = 0.75;
	ck_assert_status(mudsc_zip_solve(unit_of, &width, NULL, NULL, S, 2, n / 2, 1, NULL),
	                 MUDSC_E_INVALID);
	ck_assert_error_has("S[0, 35] = 0.75 but S[35, 0] = 0.5");
	S[0 * n + 35] = S[1 * n + 2] = 0.5;
	S[39 * n + 33] = 0.25;
	ck_assert_status(mudsc_zip_solve(unit_of, &width, NULL, NULL, S, 2, n / 2, 1, NULL),
	                 MUDSC_E_INVALID);
	ck_assert_error_has("S[33, 39] = 0.5 but S[39, 33] = 0.25");
	S[39 * n + 33] = 0.5;
	ck_assert_ok(mudsc_zip_solve(unit_of, &width, NULL, NULL, S, 2, n / 2, 1, NULL));
}
END_TEST

START_TEST(align_bad_args)
{
	const double S[16] = {0};
	int64_t perm[4] = {-7, -7, -7, -7};
	ck_assert_status(mudsc_align_solve(NULL, NULL, S, 2, 2, 1), MUDSC_E_INVALID);
	ck_assert_error_has("perm");
	ck_assert_status(mudsc_align_solve(perm, NULL, NULL, 2, 2, 1), MUDSC_E_INVALID);
	ck_assert_status(mudsc_align_solve(perm, NULL, S, 0, 2, 1), MUDSC_E_INVALID);
	ck_assert_error_has("'N'");
	ck_assert_status(mudsc_align_solve(perm, NULL, S, 2, 2, 0), MUDSC_E_INVALID);
	ck_assert_error_has("'G'");
	ck_assert_status(mudsc_align_solve(perm, NULL, S, 2, 2, 4), MUDSC_E_SHAPE);
	ck_assert_status(mudsc_align_solve(perm, NULL, S, INT64_MAX / 2, 4, 1), MUDSC_E_INVALID);
	ck_assert_error_has("too large");
	double T[16] = {0};
	T[0 * 4 + 2] = -INFINITY;
	T[0 * 4 + 3] = -INFINITY; /* anchor unit 0 can match nothing in model 1 */
	ck_assert_status(mudsc_align_solve(perm, NULL, T, 2, 2, 1), MUDSC_E_NUMERIC);
	ck_assert_int_eq(perm[0], -7);
}
END_TEST

/* Every screen width of the solver this CPU has (AVX-512's 8, AVX2's 4)
 * against SSE2's 2: small integer entries (many tied reduced costs and
 * optimal assignments, so tie-breaking shows) and some -inf, sizes around
 * the four- and eight-column blocks: the same assignment, and the
 * identity where an optimum is planted. */
START_TEST(lap_wide_screens_same_as_narrow)
{
	const int64_t sizes[] = {1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 40, 67};
	const int widths[] = {8, 4};
	uint64_t seed = 12345;
	for (size_t t = 0; t < sizeof sizes / sizeof *sizes; t++)
		for (int round = 0; round < 6; round++) {
			int64_t n = sizes[t];
			double *S = malloc((size_t)(n * n) * sizeof *S);
			int64_t *wide = malloc((size_t)n * sizeof *wide);
			int64_t *narrow = malloc((size_t)n * sizeof *narrow);
			ck_assert(S != NULL && wide != NULL && narrow != NULL);
			for (int64_t k = 0; k < n * n; k++) {
				seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
				int r = (int)(seed >> 59); /* 0..31 */
				bool off_diagonal = k % (n + 1) != 0; /* the identity stays feasible */
				if (round % 2 == 0)
					S[k] = (double)(r % 4);
				else
					S[k] = r == 0 && off_diagonal ? -INFINITY : (double)(r % 3) - 1.0;
			}
			if (round >= 4) /* a planted optimum: the diagonal above every other entry */
				for (int64_t i = 0; i < n; i++)
					S[i * n + i] = 10.0;
			mudsc__lap_width = 2;
			ck_assert_ok(mudsc__lap_core(narrow, S, (size_t)n, n));
			for (size_t w = 0; w < sizeof widths / sizeof *widths; w++) {
				if (widths[w] > mudsc__lap_widest())
					continue;
				mudsc__lap_width = widths[w];
				ck_assert_ok(mudsc__lap_core(wide, S, (size_t)n, n));
				for (int64_t i = 0; i < n; i++) {
					ck_assert_int_eq(wide[i], narrow[i]);
					if (round >= 4)
						ck_assert_int_eq(wide[i], i);
				}
			}
			mudsc__lap_width = 8;
			free(S);
			free(wide);
			free(narrow);
		}
}
END_TEST

Suite *suite_match(void)
{
	Suite *s = suite_create("match");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, lap_identity);
	tcase_add_test(tc, lap_hand_worked);
	tcase_add_test(tc, lap_anti_diagonal_and_minus_inf);
	tcase_add_test(tc, lap_small_sizes);
	tcase_add_test(tc, lap_infeasible);
	tcase_add_test(tc, lap_bad_args);
	tcase_add_test(tc, lap_wide_screens_same_as_narrow);
	tcase_add_test(tc, align_planted_permutation);
	tcase_add_test(tc, align_one_model);
	tcase_add_test(tc, align_bad_args);
	tcase_add_test(tc, zip_hand_worked);
	tcase_add_test(tc, zip_bad_args);
	tcase_add_test(tc, zip_names_first_asymmetric_pair);
	suite_add_tcase(s, tc);
	return s;
}
