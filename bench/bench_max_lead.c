/*
 * The cost of a large max_lead (issue 11, defect 10): the first update of
 * an accumulator (one model's chunk of 15,680 observations, then the other
 * model's) with the default max_lead and with max_lead = 10^7, fresh
 * accumulators each rep, the two settings interleaved; medians.  Before
 * the row buffer grew with use, the 10^7 case allocated and cleared
 * (block_rows + max_lead) rows up front: 30-52 s on a busy machine.
 * Usage: bench-max-lead [C chunk reps]   (defaults 64, 15680, 9; N = 2, F32)
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mudsc/mudsc.h"

#include "bench_util.h"

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void die(void)
{
	fprintf(stderr, "%s\n", mudsc_error_message());
	exit(1);
}

/* Seconds for the first update of model 0, and for that plus model 1's. */
static void first_updates(int64_t max_lead, int64_t C, int64_t n, const float *x, double *t0,
                          double *t01)
{
	mudsc_accum_options o = MUDSC_ACCUM_OPTIONS_INIT;
	mudsc_features f = { .dtype = MUDSC_DTYPE_F32, .rank = 2, .shape = { n, C },
	                     .feature_axis = -1, .data = x };
	mudsc_accum *acc = NULL;
	double start;

	o.max_lead = max_lead;
	if (mudsc_accum_new(&acc, 2, C, &o) != MUDSC_OK)
		die();
	start = now();
	if (mudsc_accum_update(acc, 0, &f) != MUDSC_OK)
		die();
	*t0 = now() - start;
	if (mudsc_accum_update(acc, 1, &f) != MUDSC_OK)
		die();
	*t01 = now() - start;
	mudsc_accum_free(acc);
}

int main(int argc, char **argv)
{
	const int64_t C = argc > 1 ? atoll(argv[1]) : 64;
	const int64_t n = argc > 2 ? atoll(argv[2]) : 15680;
	const int reps = argc > 3 ? atoi(argv[3]) : 9;
	const int64_t big = 10000000;
	double d0[64], d01[64], b0[64], b01[64];
	float *x;

	if (C < 1 || n < 1 || reps < 1 || reps > 64)
		return 2;
	x = malloc((size_t)n * (size_t)C * sizeof *x);
	if (x == NULL)
		return 2;
	srand(1);
	for (size_t k = 0; k < (size_t)n * (size_t)C; k++)
		x[k] = (float)rand() / (float)RAND_MAX;
	first_updates(16384, C, n, x, &d0[0], &d01[0]); /* warm-up (BLAS threads) */
	for (int r = 0; r < reps; r++) {
		first_updates(16384, C, n, x, &d0[r], &d01[r]);
		first_updates(big, C, n, x, &b0[r], &b01[r]);
	}
	printf("{\n  \"bench\": \"accum_max_lead\",\n  \"N\": 2, \"C\": %lld, \"chunk\": %lld, "
	       "\"reps\": %d,\n"
	       "  \"default_first_update_s\": %.5f,\n  \"default_both_updates_s\": %.5f,\n"
	       "  \"max_lead_1e7_first_update_s\": %.5f,\n  \"max_lead_1e7_both_updates_s\": %.5f,\n"
	       "  \"ratio_both\": %.3f\n}\n",
	       (long long)C, (long long)n, reps, median(d0, reps), median(d01, reps),
	       median(b0, reps), median(b01, reps), median(b01, reps) / median(d01, reps));
	free(x);
	return 0;
}
