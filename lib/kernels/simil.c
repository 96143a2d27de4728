/*
 * Row similarity with one BLAS dsyrk: centre (Pearson) or not (cosine),
 * S = Z Z' (/ D), then divide by max(norm_a * norm_b, eps).
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "kernels/simil.h"

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

mudsc_status mudsc__similarity_rows(double *S, const double *Z, int64_t V, int64_t D,
                                   mudsc_similarity kind, double eps,
                                   const struct mudsc__exec *ex)
{
	double *W, *norm;
	double scale = kind == MUDSC_SIMILARITY_CORRELATION ? 1.0 / (double)D : 1.0;

	if (V < 1 || D < 1)
		return mudsc__err(MUDSC_E_SHAPE, "similarity: need V >= 1 rows and D >= 1 columns, got "
		                                "%lld x %lld", (long long)V, (long long)D);
	W = prepared_rows(Z, V, D, kind);
	if (W == NULL)
		return mudsc_error_status();
	norm = mudsc__alloc((size_t)V * sizeof *norm, "similarity norms");
	if (norm == NULL) {
		free(W);
		return MUDSC_E_NOMEM;
	}
	mudsc__blas_dsyrk(ex, false, V, D, scale, W, D, 0.0, S, V);
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
