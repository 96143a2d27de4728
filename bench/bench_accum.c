/*
 * Update throughput of mudsc_accum against cblas_ssyrk on the same shape,
 * measured in the same run.  Default: N = 2, C = 512, chunks of 4096
 * observations (2-D rows), f32; then f16 and bf16 input, and f32 laid out
 * NCHW (features on axis 1, strided).  Prints one JSON
 * object.  Usage: bench-accum [N C chunk reps trials block_rows]
 *
 * Work is counted as (N*C)^2 * n multiply-adds for both (a full syrk of the
 * stacked n x NC matrix computes half of them, as does the accumulator: the
 * figure compares like with like).
 *
 * SPDX-License-Identifier: MIT
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mudsc/experimental.h"
#include "mudsc/mudsc.h"

#include "bench_util.h"

static uint16_t to_bf16(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	u += 0x7fffu + ((u >> 16) & 1u);
	return (uint16_t)(u >> 16);
}

/* IEEE half, round to nearest (normal range only, enough for N(0,1) data) */
static uint16_t to_f16(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
	uint32_t a = u & 0x7fffffffu;
	if (a < 0x38800000u)
		return sign;
	a -= 0x38000000u;
	a += 0xfffu + ((a >> 13) & 1u);
	return (uint16_t)(sign | (a >> 13));
}

static void die(void)
{
	fprintf(stderr, "%s\n", mudsc_error_message());
	exit(1);
}

/* Chunks of n observations as (n, C) rows. */
static mudsc_features rows_layout(mudsc_dtype dtype, int64_t C, int64_t n)
{
	mudsc_features f = { .dtype = dtype, .rank = 2, .shape = { n, C }, .feature_axis = -1 };
	return f;
}

/* The same chunks laid out NCHW (B, C, H, W) = (n/64, C, 8, 8), features on axis 1. */
static mudsc_features nchw_layout(int64_t C, int64_t n)
{
	mudsc_features f = { .dtype = MUDSC_DTYPE_F32, .rank = 4, .shape = { n / 64, C, 8, 8 },
	                     .feature_axis = 1 };
	return f;
}

/* One trial: `reps` rounds of one chunk per model, laid out as f says
 * (seconds per round). */
static double time_accum(mudsc_accum *acc, mudsc_features f, int N, int reps, void **data)
{
	double t0 = now();

	for (int r = 0; r < reps; r++)
		for (int i = 0; i < N; i++) {
			f.data = data[i];
			if (mudsc_accum_update(acc, i, &f) != MUDSC_OK)
				die();
		}
	return (now() - t0) / reps;
}

static double time_ssyrk(int nc, int n, int reps, const float *a, float *c)
{
	double t0 = now();

	for (int r = 0; r < reps; r++)
		cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, nc, n, 1.0f, a, nc, 1.0f, c, nc);
	return (now() - t0) / reps;
}

static double min2(double a, double b)
{
	return a < b ? a : b;
}

int main(int argc, char **argv)
{
	int N = argc > 1 ? atoi(argv[1]) : 2;
	int64_t C = argc > 2 ? atoll(argv[2]) : 512;
	int64_t n = argc > 3 ? atoll(argv[3]) : 4096;
	int reps = argc > 4 ? atoi(argv[4]) : 3;
	int trials = argc > 5 ? atoi(argv[5]) : 9;
	int64_t block_rows = argc > 6 ? atoll(argv[6]) : 0; /* 0: the library's */
	char block_rows_json[32] = "\"default\"";
	size_t nc = (size_t)N * (size_t)C, per = (size_t)n * (size_t)C;
	void *f32[16], *f16[16], *bf16[16];
	float *stack = malloc(sizeof(float) * nc * (size_t)n), *cmat = calloc(nc * nc, sizeof(float));

	if (N < 2 || N > 16 || C < 1 || n < 1 || reps < 1 || trials < 1 || !stack || !cmat)
		return 2;
	srand(1);
	for (int i = 0; i < N; i++) {
		float *x = malloc(per * sizeof(float));
		uint16_t *h = malloc(per * 2), *b = malloc(per * 2);
		for (size_t k = 0; k < per; k++) {
			/* sum of uniforms: roughly normal, mean 3 */
			float v = 0;
			for (int t = 0; t < 4; t++)
				v += (float)rand() / (float)RAND_MAX;
			x[k] = 1.0f + v;
			h[k] = to_f16(x[k]);
			b[k] = to_bf16(x[k]);
		}
		f32[i] = x;
		f16[i] = h;
		bf16[i] = b;
		for (int64_t r = 0; r < n; r++)
			memcpy(stack + (size_t)r * nc + (size_t)i * (size_t)C, x + (size_t)r * (size_t)C,
			       (size_t)C * sizeof(float));
	}
	double macs = (double)nc * (double)nc * (double)n;
	double t_syrk = 1e30, t_f32 = 1e30, t_f16 = 1e30, t_bf16 = 1e30, t_nchw = 1e30;
	mudsc_accum *a32 = NULL, *a16 = NULL, *ab16 = NULL, *anchw = NULL;
	const mudsc_features l32 = rows_layout(MUDSC_DTYPE_F32, C, n);
	const mudsc_features l16 = rows_layout(MUDSC_DTYPE_F16, C, n);
	const mudsc_features lb16 = rows_layout(MUDSC_DTYPE_BF16, C, n);
	const mudsc_features lnchw = nchw_layout(C, n);
	if (mudsc_accum_new(&a32, N, C, NULL) || mudsc_accum_new(&a16, N, C, NULL) ||
	    mudsc_accum_new(&ab16, N, C, NULL) || mudsc_accum_new(&anchw, N, C, NULL))
		die();
	if (block_rows > 0) {
		snprintf(block_rows_json, sizeof block_rows_json, "%lld", (long long)block_rows);
		if (mudsc_accum_set_block_rows(a32, block_rows) ||
		    mudsc_accum_set_block_rows(a16, block_rows) ||
		    mudsc_accum_set_block_rows(ab16, block_rows) ||
		    mudsc_accum_set_block_rows(anchw, block_rows))
			die();
	}
	/* warm-up (row buffers, BLAS threads), then interleaved trials, best
	 * of each: the machine may be shared, the best trial is the least
	 * disturbed one. */
	time_ssyrk((int)nc, (int)n, 1, stack, cmat);
	time_accum(a32, l32, N, 1, f32);
	time_accum(a16, l16, N, 1, f16);
	time_accum(ab16, lb16, N, 1, bf16);
	if (n % 64 == 0)
		time_accum(anchw, lnchw, N, 1, f32);
	for (int trial = 0; trial < trials; trial++) {
		t_syrk = min2(t_syrk, time_ssyrk((int)nc, (int)n, reps, stack, cmat));
		t_f32 = min2(t_f32, time_accum(a32, l32, N, reps, f32));
		t_f16 = min2(t_f16, time_accum(a16, l16, N, reps, f16));
		t_bf16 = min2(t_bf16, time_accum(ab16, lb16, N, reps, bf16));
		if (n % 64 == 0)
			t_nchw = min2(t_nchw, time_accum(anchw, lnchw, N, reps, f32));
	}
	mudsc_accum_free(a32);
	mudsc_accum_free(a16);
	mudsc_accum_free(ab16);
	mudsc_accum_free(anchw);
	printf("{\n  \"bench\": \"accum_update\",\n  \"blas\": \"%s\",\n  \"blas_threads\": %d,\n"
	       "  \"N\": %d, \"C\": %lld, \"chunk\": %lld, \"reps\": %d, \"trials\": %d, \"block_rows\": %s,\n"
	       "  \"ssyrk_gmacs\": %.2f,\n  \"update_f32_gmacs\": %.2f,\n"
	       "  \"update_f16_gmacs\": %.2f,\n  \"update_bf16_gmacs\": %.2f,\n"
	       "  \"update_f32_nchw_gmacs\": %.2f,\n"
	       "  \"f32_vs_ssyrk\": %.3f,\n  \"f16_time_vs_f32\": %.3f,\n  \"bf16_time_vs_f32\": %.3f,\n"
	       "  \"nchw_time_vs_rows\": %.3f\n}\n",
	       mudsc_blas_info(), mudsc_blas_get_threads(), N, (long long)C, (long long)n, reps, trials, block_rows_json,
	       macs / t_syrk * 1e-9, macs / t_f32 * 1e-9, macs / t_f16 * 1e-9,
	       macs / t_bf16 * 1e-9, macs / t_nchw * 1e-9, t_syrk / t_f32, t_f16 / t_f32,
	       t_bf16 / t_f32, t_nchw / t_f32);
	for (int i = 0; i < N; i++) {
		free(f32[i]);
		free(f16[i]);
		free(bf16[i]);
	}
	free(stack);
	free(cmat);
	return 0;
}
