/*
 * Row similarity.  Float64: one BLAS dsyrk: centre (Pearson) or not
 * (cosine), S = Z Z' (/ D), then divide by max(norm_a * norm_b, eps).
 * Float32 (docs/algorithm.md section 21): the
 * centred rows scaled to unit norm in float64 and rounded once to float32,
 * their products by sgemm in blocks of rows, each product then multiplied
 * in float64 by den / max(den, eps) (1 unless a norm is tiny).
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "kernels/simil.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Copy Z, centring each row for Pearson.  NULL on failure (error set). */
static double *prepared_rows(const double *Z, int64_t V, int64_t D, mudsc_similarity kind)
{
	size_t n;
	double *W;

	if (!mudsc__mul_size((size_t)V, (size_t)D, &n) || !mudsc__mul_size(n, sizeof(double), &n)) {
		mudsc__err(MUDSC_E_NOMEM, "similarity: %lld x %lld features overflow", (long long)V,
		          (long long)D);
		return NULL;
	}
	W = mudsc__alloc(n, "similarity features");
	if (W == NULL)
		return NULL;
	for (int64_t v = 0; v < V; v++) {
		const double *z = Z + v * D;
		double *w = W + v * D, mean = 0.0;
		for (int64_t d = 0; d < D; d++) {
			if (!isfinite(z[d])) {
				free(W);
				mudsc__err(MUDSC_E_NUMERIC, "similarity: feature row %lld, column %lld is %g",
				          (long long)v, (long long)d, z[d]);
				return NULL;
			}
			mean += z[d];
		}
		mean = kind == MUDSC_SIMILARITY_CORRELATION ? mean / (double)D : 0.0;
		for (int64_t d = 0; d < D; d++)
			w[d] = z[d] - mean;
	}
	return W;
}

/* mudsc__row_chains_float and _double (simil.h), one body. */
#define ROW_CHAIN_SUMS(T)                                                                        \
	void mudsc__row_chains_##T(double *t, const T *x, size_t stride, size_t n, const double *m,  \
	                           bool sq)                                                          \
	{                                                                                            \
		double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0, s4 = 0.0, s5 = 0.0, s6 = 0.0, s7 = 0.0;   \
		const T *x0 = x, *x1 = x0 + stride, *x2 = x1 + stride, *x3 = x2 + stride;                \
		const T *x4 = x3 + stride, *x5 = x4 + stride, *x6 = x5 + stride, *x7 = x6 + stride;      \
		if (sq) {                                                                                \
			for (size_t e = 0; e < n; e++) {                                                     \
				double d0 = (double)x0[e] - m[0], d1 = (double)x1[e] - m[1];                     \
				double d2 = (double)x2[e] - m[2], d3 = (double)x3[e] - m[3];                     \
				double d4 = (double)x4[e] - m[4], d5 = (double)x5[e] - m[5];                     \
				double d6 = (double)x6[e] - m[6], d7 = (double)x7[e] - m[7];                     \
				s0 += d0 * d0, s1 += d1 * d1, s2 += d2 * d2, s3 += d3 * d3;                      \
				s4 += d4 * d4, s5 += d5 * d5, s6 += d6 * d6, s7 += d7 * d7;                      \
			}                                                                                    \
		} else {                                                                                 \
			for (size_t e = 0; e < n; e++) {                                                     \
				s0 += (double)x0[e], s1 += (double)x1[e], s2 += (double)x2[e];                   \
				s3 += (double)x3[e], s4 += (double)x4[e], s5 += (double)x5[e];                   \
				s6 += (double)x6[e], s7 += (double)x7[e];                                        \
			}                                                                                    \
		}                                                                                        \
		t[0] = s0, t[1] = s1, t[2] = s2, t[3] = s3, t[4] = s4, t[5] = s5, t[6] = s6, t[7] = s7;  \
	}

ROW_CHAIN_SUMS(float)
ROW_CHAIN_SUMS(double)

struct stats_job {
	double *mu, *norm, *inv;
	const double *F;
	size_t V, D;
	mudsc_similarity kind;
};

/* Rows of one task: enough that a task is worth its claim. */
#define STAT_ROWS 16

/* Row r's statistics, a row at a time: the definition (and the first
 * non-finite entry's error). */
static mudsc_status row_stats_one(const struct stats_job *j, size_t r)
{
	size_t D = j->D;
	const double *f = j->F + r * D;
	double mean = 0.0, ss = 0.0;

	for (size_t k = 0; k < D; k++) {
		if (!isfinite(f[k]))
			return mudsc__err(MUDSC_E_NUMERIC, "similarity: feature row %zu, column %zu is %g", r,
			                  k, f[k]);
		mean += f[k];
	}
	mean = j->kind == MUDSC_SIMILARITY_CORRELATION ? mean / (double)D : 0.0;
	for (size_t k = 0; k < D; k++)
		ss += (f[k] - mean) * (f[k] - mean);
	j->mu[r] = mean;
	j->norm[r] = j->kind == MUDSC_SIMILARITY_CORRELATION ? sqrt(ss / (double)D) : sqrt(ss);
	j->inv[r] = ss > 0.0 ? 1.0 / sqrt(ss) : 0.0;
	return MUDSC_OK;
}

/* Rows r .. r + MUDSC__ROW_CHAINS - 1 together (the same sums, so the same
 * bits); a non-finite sum (a non-finite entry, or an overflow) sends
 * them a row at a time, to the definition's result or error. */
static mudsc_status row_stats_chained(const struct stats_job *j, size_t r)
{
	double mean[MUDSC__ROW_CHAINS], ss[MUDSC__ROW_CHAINS];
	size_t D = j->D;
	bool corr = j->kind == MUDSC_SIMILARITY_CORRELATION;

	mudsc__row_chains_double(mean, j->F + r * D, D, D, NULL, false);
	for (size_t q = 0; q < MUDSC__ROW_CHAINS; q++)
		if (!isfinite(mean[q])) {
			for (size_t k = 0; k < MUDSC__ROW_CHAINS; k++) {
				mudsc_status st = row_stats_one(j, r + k);
				if (st != MUDSC_OK)
					return st;
			}
			return MUDSC_OK;
		}
	for (size_t q = 0; q < MUDSC__ROW_CHAINS; q++)
		mean[q] = corr ? mean[q] / (double)D : 0.0;
	mudsc__row_chains_double(ss, j->F + r * D, D, D, mean, true);
	for (size_t q = 0; q < MUDSC__ROW_CHAINS; q++) {
		j->mu[r + q] = mean[q];
		j->norm[r + q] = corr ? sqrt(ss[q] / (double)D) : sqrt(ss[q]);
		j->inv[r + q] = ss[q] > 0.0 ? 1.0 / sqrt(ss[q]) : 0.0;
	}
	return MUDSC_OK;
}

static mudsc_status stats_task(void *ctx, size_t task)
{
	const struct stats_job *j = ctx;
	size_t r = task * STAT_ROWS, end = r + STAT_ROWS < j->V ? r + STAT_ROWS : j->V;
	mudsc_status st = MUDSC_OK;

	for (; st == MUDSC_OK && r + MUDSC__ROW_CHAINS <= end; r += MUDSC__ROW_CHAINS)
		st = row_stats_chained(j, r);
	for (; st == MUDSC_OK && r < end; r++)
		st = row_stats_one(j, r);
	return st;
}

mudsc_status mudsc__row_stats(double *mu, double *norm, double *inv, const double *F, size_t V,
                             size_t D, mudsc_similarity kind, const struct mudsc__exec *ex)
{
	struct stats_job j = {.mu = mu, .norm = norm, .inv = inv, .F = F, .V = V, .D = D,
	                      .kind = kind};
	return mudsc__parallel_for(ex, (V + STAT_ROWS - 1) / STAT_ROWS, 2.0 * (double)V * (double)D,
	                           stats_task, &j);
}

struct unit_job {
	float *U;
	const double *F, *mu, *inv;
	size_t D;
};

#define UNIT_ROWS 16

/* u[k] = float32((f[k] - m) * s) for k < n (SSE2: two at a time, the
 * same operations). */
static void unit_row(float *u, const double *f, double m, double s, size_t n)
{
	size_t k = 0;
#if defined(__SSE2__)
	__m128d mm = _mm_set1_pd(m), ss = _mm_set1_pd(s);
	for (; k + 4 <= n; k += 4) {
		__m128d lo = _mm_mul_pd(_mm_sub_pd(_mm_loadu_pd(f + k), mm), ss);
		__m128d hi = _mm_mul_pd(_mm_sub_pd(_mm_loadu_pd(f + k + 2), mm), ss);
		_mm_storeu_ps(u + k, _mm_movelh_ps(_mm_cvtpd_ps(lo), _mm_cvtpd_ps(hi)));
	}
#endif
	for (; k < n; k++)
		u[k] = (float)((f[k] - m) * s);
}

static mudsc_status unit_task(void *ctx, size_t task)
{
	const struct unit_job *j = ctx;
	size_t D = j->D;
	for (size_t r = task * UNIT_ROWS, end = r + UNIT_ROWS; r < end; r++)
		unit_row(j->U + r * D, j->F + r * D, j->mu[r], j->inv[r], D);
	return MUDSC_OK;
}

void mudsc__unit_rows_f32(float *U, const double *F, size_t V, size_t D, const double *mu,
                         const double *inv, const struct mudsc__exec *ex)
{
	struct unit_job j = {.U = U, .F = F, .mu = mu, .inv = inv, .D = D};
	size_t whole = V / UNIT_ROWS;

	mudsc__parallel_for(ex, whole, 2.0 * (double)(whole * UNIT_ROWS) * (double)D, unit_task, &j);
	for (size_t r = whole * UNIT_ROWS; r < V; r++)
		unit_row(U + r * D, F + r * D, mu[r], inv[r], D);
}

/* Products of a block of `rows` unit rows A against the cols rows B into
 * scratch (rows x cols); with upper (B = A from the block's first row on)
 * the square part by ssyrk (its upper triangle only, half the flops of a
 * gemm) and the rest by sgemm.  Returns the flops done. */
static double block_products(float *scratch, const float *A, size_t rows, const float *B,
                             size_t cols, size_t D, bool upper, const struct mudsc__exec *ex)
{
	size_t sq = upper ? rows : 0;
	double flops = 2.0 * (double)rows * (double)(cols - sq) * (double)D;

	if (upper) { /* ssyrk's multiply-adds: rows (rows + 1) / 2 entries of D each */
		mudsc__blas_ssyrk(ex, false, (int64_t)rows, (int64_t)D, 1.0f, A, (int64_t)D, 0.0f,
		                  scratch, (int64_t)cols);
		flops += (double)rows * (double)(rows + 1) * (double)D;
	}
	if (cols > sq)
		mudsc__blas_sgemm(ex, false, true, (int64_t)rows, (int64_t)(cols - sq), (int64_t)D,
		                  1.0f, A, (int64_t)D, B + sq * D, (int64_t)D, 0.0f, scratch + sq,
		                  (int64_t)cols);
	return flops;
}

void mudsc__unit_products(double *out, size_t ldo, const float *A, size_t m, const float *B,
                         size_t n, size_t D, const double *normA, const double *normB,
                         double eps, bool upper, float *scratch, struct mudsc__tally *tally,
                         const struct mudsc__exec *ex)
{
	for (size_t a0 = 0; a0 < m; a0 += MUDSC__UNIT_BLOCK) {
		size_t rows = m - a0 < MUDSC__UNIT_BLOCK ? m - a0 : MUDSC__UNIT_BLOCK;
		size_t b0 = upper ? a0 : 0, cols = n - b0;
		double t0 = tally ? mudsc__clock_seconds() : 0.0;
		double flops = block_products(scratch, A + a0 * D, rows, B + b0 * D, cols, D, upper, ex);
		if (tally) {
			tally->seconds += mudsc__clock_seconds() - t0;
			tally->flops += flops;
		}
		for (size_t r = 0; r < rows; r++) {
			size_t a = a0 + r;
			const float *g = scratch + r * cols;
			double *o = out + a * ldo;
			for (size_t b = upper ? a : 0; b < n; b++) {
				double den = normA[a] * normB[b], s = (double)g[b - b0];
				o[b] = den >= eps ? s : s * (den / eps);
			}
		}
	}
}

/* S[b][a] = S[a][b] for a < b, in 32 x 32 tiles (a tile and its mirror
 * stay in cache). */
static void mirror_upper(double *S, size_t V)
{
	for (size_t a0 = 0; a0 < V; a0 += 32)
		for (size_t b0 = a0; b0 < V; b0 += 32)
			for (size_t b = b0; b < b0 + 32 && b < V; b++)
				for (size_t a = a0; a < a0 + 32 && a < b; a++)
					S[b * V + a] = S[a * V + b];
}

void mudsc__unit_similarity(double *S, const float *U, size_t V, size_t D, const double *norm,
                            double eps, float *scratch, struct mudsc__tally *tally,
                            const struct mudsc__exec *ex)
{
	mudsc__unit_products(S, V, U, V, U, V, D, norm, norm, eps, true, scratch, tally, ex);
	mirror_upper(S, V);
}

/* S for float32 products (the upper triangle by blocks, then mirrored). */
static mudsc_status similarity_f32(double *S, const double *Z, size_t V, size_t D,
                                   mudsc_similarity kind, double eps, struct mudsc__tally *tally,
                                   const struct mudsc__exec *ex)
{
	size_t n, block = V < MUDSC__UNIT_BLOCK ? V : MUDSC__UNIT_BLOCK;
	float *U, *scratch;
	double *stats;
	mudsc_status st;

	if (!mudsc__mul_size(V, D, &n) || !mudsc__mul_size(n, sizeof(float), &n))
		return mudsc__err(MUDSC_E_NOMEM, "similarity: %zu x %zu features overflow", V, D);
	U = mudsc__alloc(n, "similarity features");
	scratch = mudsc__alloc(block * V * sizeof *scratch, "similarity block");
	stats = mudsc__alloc(3 * V * sizeof *stats, "similarity row statistics");
	st = U && scratch && stats ? MUDSC_OK : MUDSC_E_NOMEM;
	if (st == MUDSC_OK)
		st = mudsc__row_stats(stats, stats + V, stats + 2 * V, Z, V, D, kind, ex);
	if (st == MUDSC_OK) {
		mudsc__unit_rows_f32(U, Z, V, D, stats, stats + 2 * V, ex);
		mudsc__unit_similarity(S, U, V, D, stats + V, eps, scratch, tally, ex);
	}
	free(stats);
	free(scratch);
	free(U);
	return st;
}

mudsc_status mudsc__similarity_rows(double *S, const double *Z, int64_t V, int64_t D,
                                   mudsc_similarity kind, double eps, mudsc_precision precision,
                                   struct mudsc__tally *tally, const struct mudsc__exec *ex)
{
	double *W, *norm, t0;
	double scale = kind == MUDSC_SIMILARITY_CORRELATION ? 1.0 / (double)D : 1.0;

	if (V < 1 || D < 1)
		return mudsc__err(MUDSC_E_SHAPE, "similarity: need V >= 1 rows and D >= 1 columns, got "
		                                "%lld x %lld", (long long)V, (long long)D);
	if (precision == MUDSC_PRECISION_F32)
		return similarity_f32(S, Z, (size_t)V, (size_t)D, kind, eps, tally, ex);
	W = prepared_rows(Z, V, D, kind);
	if (W == NULL)
		return mudsc_error_status();
	norm = mudsc__alloc((size_t)V * sizeof *norm, "similarity norms");
	if (norm == NULL) {
		free(W);
		return MUDSC_E_NOMEM;
	}
	t0 = tally ? mudsc__clock_seconds() : 0.0;
	mudsc__blas_dsyrk(ex, false, V, D, scale, W, D, 0.0, S, V);
	if (tally) {
		tally->seconds += mudsc__clock_seconds() - t0;
		tally->flops += (double)V * (double)(V + 1) * (double)D;
	}
	for (int64_t a = 0; a < V; a++)
		norm[a] = sqrt(fmax(S[a * V + a], 0.0));
	for (int64_t a = 0; a < V; a++) {
		for (int64_t b = a; b < V; b++) {
			double s = S[a * V + b] / fmax(norm[a] * norm[b], eps);
			S[a * V + b] = s;
			S[b * V + a] = s;
		}
	}
	free(norm);
	free(W);
	return MUDSC_OK;
}
