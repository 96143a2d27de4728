/*
 * Benchmark of the matching kernels.  Prints one JSON object on stdout:
 *   lap: seconds of mudsc_lap_solve (best of --reps) for n = 1024 and 2048
 *        on uniform [0, 1) and correlation-like matrices;
 *   zip: seconds of mudsc_zip_solve at NC = 2048 (N = 2, r = a = 0.5, b = 1)
 *        against a naive greedy that rescans the whole matrix for every
 *        merge (same rule, O(n^3)), and whether both chose the same merges.
 * With --dir DIR every matrix is also written to DIR/<name>.f64 (raw
 * little-endian float64, row-major) so that bench/lap_vs_scipy.py can time
 * SciPy on exactly the same input.  Usage: bench-match [--dir DIR] [--reps K]
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mudsc/experimental.h"
#include "mudsc/mudsc.h"

#include "bench_util.h"

static uint64_t rng_state = 12345;

static uint64_t next_u64(void)
{
	uint64_t z = (rng_state += 0x9E3779B97F4A7C15u);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
	return z ^ (z >> 31);
}

static double uniform(void)
{
	return (double)(next_u64() >> 11) * 0x1.0p-53;
}

static double gaussian(void)
{
	double u = uniform(), v = uniform();
	return sqrt(-2.0 * log(1.0 - u)) * cos(6.283185307179586 * v);
}

static void *xmalloc(size_t bytes)
{
	void *p = malloc(bytes);
	if (!p) {
		fprintf(stderr, "bench-match: out of memory (%zu bytes)\n", bytes);
		exit(2);
	}
	return p;
}

/* Rows of F (units x m) centred and scaled to unit norm, so dot products
 * are Pearson correlations. */
static void standardise(double *F, int64_t units, int64_t m)
{
	for (int64_t u = 0; u < units; u++) {
		double *f = F + u * m, mean = 0, ss = 0;
		for (int64_t k = 0; k < m; k++)
			mean += f[k];
		mean /= (double)m;
		for (int64_t k = 0; k < m; k++) {
			f[k] -= mean;
			ss += f[k] * f[k];
		}
		double s = ss > 0 ? 1.0 / sqrt(ss) : 0;
		for (int64_t k = 0; k < m; k++)
			f[k] *= s;
	}
}

static double dot(const double *a, const double *b, int64_t m)
{
	double s = 0;
	for (int64_t k = 0; k < m; k++)
		s += a[k] * b[k];
	return s;
}

/* S[i, j] = corr(feature i of A, feature j of B), A and B independent
 * random features with m observations. */
static double *correlation_like(int64_t n, int64_t m)
{
	double *A = xmalloc((size_t)(2 * n * m) * sizeof *A), *B = A + n * m;
	for (int64_t k = 0; k < 2 * n * m; k++)
		A[k] = gaussian();
	standardise(A, 2 * n, m);
	double *S = xmalloc((size_t)(n * n) * sizeof *S);
	for (int64_t i = 0; i < n; i++)
		for (int64_t j = 0; j < n; j++)
			S[i * n + j] = dot(A + i * m, B + j * m, m);
	free(A);
	return S;
}

/* Symmetric NC x NC correlation of two models whose units are noisy,
 * permuted copies of each other (what zip sees in practice). */
static double *zip_matrix(int64_t N, int64_t C, int64_t m)
{
	int64_t NC = N * C;
	double *F = xmalloc((size_t)(NC * m) * sizeof *F);
	for (int64_t k = 0; k < C * m; k++)
		F[k] = gaussian();
	for (int64_t i = 1; i < N; i++)
		for (int64_t c = 0; c < C; c++) {
			int64_t src = (c * 7 + i * 13) % C; /* a fixed shuffle (7 odd, C a power of 2) */
			for (int64_t k = 0; k < m; k++)
				F[(i * C + c) * m + k] = 0.7 * F[src * m + k] + 0.7 * gaussian();
		}
	standardise(F, NC, m);
	double *S = xmalloc((size_t)(NC * NC) * sizeof *S);
	for (int64_t u = 0; u < NC; u++)
		for (int64_t v = u; v < NC; v++)
			S[u * NC + v] = S[v * NC + u] = dot(F + u * m, F + v * m, m);
	free(F);
	return S;
}

static void save(const char *dir, const char *name, const double *S, size_t count)
{
	if (!dir)
		return;
	char path[4096];
	snprintf(path, sizeof path, "%s/%s.f64", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(S, sizeof *S, count, f) != count || fclose(f) != 0) {
		fprintf(stderr, "bench-match: cannot write %s\n", path);
		exit(2);
	}
}

static double time_lap(const double *S, int64_t n, int reps, double *objective)
{
	int64_t *x = xmalloc((size_t)n * sizeof *x);
	double best = INFINITY;
	for (int r = 0; r < reps; r++) {
		double t0 = now();
		if (mudsc_lap_solve(x, objective, S, n) != MUDSC_OK) {
			fprintf(stderr, "bench-match: lap failed: %s\n", mudsc_error_message());
			exit(1);
		}
		double t = now() - t0;
		best = t < best ? t : best;
	}
	free(x);
	return best;
}

/* ---- the naive zip baseline: the rule as written, full scan per merge --- */

static int64_t naive_zip(int64_t *pairs, const double *S, int64_t N, int64_t C, double r,
                         double a, double b)
{
	int64_t n = N * C, Cp = (int64_t)floor((double)n * (1.0 - r));
	int64_t B = (int64_t)floor((double)((n - Cp) / N) * b);
	double *W = xmalloc((size_t)(n * n) * sizeof *W);
	int64_t *budget = xmalloc((size_t)N * sizeof *budget);
	char *active = xmalloc((size_t)n);
	memcpy(W, S, (size_t)(n * n) * sizeof *W);
	for (int64_t u = 0; u < n; u++) {
		W[u * n + u] = -INFINITY;
		active[u] = 1;
	}
	for (int64_t i = 0; i < N; i++)
		budget[i] = B;
	int64_t k = 0;
	for (int64_t clusters = n; clusters > Cp; clusters--, k++) {
		int64_t at = 0;
		for (int64_t e = 1; e < n * n; e++)
			if (W[e] > W[at])
				at = e;
		if (W[at] == -INFINITY)
			break;
		int64_t x = at / n, y = at % n, mx = x / C, my = y / C;
		pairs[2 * k] = x;
		pairs[2 * k + 1] = y;
		if (mx == my && --budget[mx] <= 0)
			for (int64_t p = mx * C; p < (mx + 1) * C; p++)
				for (int64_t q = mx * C; q < (mx + 1) * C; q++)
					if (active[p] && active[q])
						W[p * n + q] = -INFINITY;
		for (int64_t c = 0; c < n; c++) {
			double v = fmin(W[x * n + c], W[y * n + c]);
			if (a > 0)
				v *= a;
			else if (active[c] && (c / C == mx || c / C == my))
				v = -INFINITY;
			W[x * n + c] = v;
		}
		for (int64_t c = 0; c < n; c++) {
			W[c * n + x] = W[x * n + c];
			W[y * n + c] = W[c * n + y] = -INFINITY;
		}
		W[x * n + x] = -INFINITY;
		active[y] = 0;
	}
	free(W);
	free(budget);
	free(active);
	return k;
}

int main(int argc, char **argv)
{
	const char *dir = NULL;
	int reps = 3;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--dir") && i + 1 < argc)
			dir = argv[++i];
		else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: %s [--dir DIR] [--reps K]\n", argv[0]);
			return 2;
		}
	}
	if (reps < 1)
		reps = 1;
	printf("{\"lap\": [");
	const int64_t sizes[2] = {1024, 2048};
	const char *kinds[2] = {"uniform", "corr"};
	for (int s = 0; s < 2; s++)
		for (int k = 0; k < 2; k++) {
			int64_t n = sizes[s];
			double *S;
			if (k == 0) {
				S = xmalloc((size_t)(n * n) * sizeof *S);
				for (int64_t e = 0; e < n * n; e++)
					S[e] = uniform();
			} else {
				S = correlation_like(n, 128);
			}
			char name[64];
			snprintf(name, sizeof name, "lap_%s_%lld", kinds[k], (long long)n);
			save(dir, name, S, (size_t)(n * n));
			double obj = 0, t = time_lap(S, n, reps, &obj);
			printf("%s{\"name\": \"%s\", \"kind\": \"%s\", \"n\": %lld, \"seconds\": %.6f, "
			       "\"objective\": %.17g}",
			       s + k ? ", " : "", name, kinds[k], (long long)n, t, obj);
			fflush(stdout);
			free(S);
		}
	int64_t N = 2, C = 1024, NC = N * C;
	double *S = zip_matrix(N, C, 128);
	save(dir, "zip_corr_2048", S, (size_t)(NC * NC));
	int64_t *unit_of = xmalloc((size_t)NC * sizeof *unit_of);
	int64_t *pairs = xmalloc((size_t)(2 * NC) * sizeof *pairs);
	int64_t *naive_pairs = xmalloc((size_t)(2 * NC) * sizeof *naive_pairs);
	int64_t width = 0;
	mudsc_match_options o = MUDSC_MATCH_OPTIONS_INIT;
	double fast = INFINITY;
	for (int r = 0; r < reps; r++) {
		double t0 = now();
		if (mudsc_zip_solve(unit_of, &width, pairs, NULL, S, N, C, 1, &o) != MUDSC_OK) {
			fprintf(stderr, "bench-match: zip failed: %s\n", mudsc_error_message());
			return 1;
		}
		double t = now() - t0;
		fast = t < fast ? t : fast;
	}
	double t0 = now();
	int64_t merges = naive_zip(naive_pairs, S, N, C, o.r, o.a, o.b);
	double naive = now() - t0;
	int agree = merges == NC - width &&
	            !memcmp(pairs, naive_pairs, (size_t)(2 * merges) * sizeof *pairs);
	printf("], \"zip\": {\"NC\": %lld, \"N\": %lld, \"r\": %g, \"a\": %g, \"b\": %g, "
	       "\"seconds\": %.6f, \"naive_seconds\": %.6f, \"speedup\": %.1f, \"agree\": %s}}\n",
	       (long long)NC, (long long)N, o.r, o.a, o.b, fast, naive, naive / fast,
	       agree ? "true" : "false");
	free(S);
	free(unit_of);
	free(pairs);
	free(naive_pairs);
	return agree ? 0 : 1;
}
