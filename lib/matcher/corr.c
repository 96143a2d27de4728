/*
 * Correspondences and their merge / unmerge matrices.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "matcher/corr.h"
#include "core/core.h"

void mudsc__corr_free(struct point_corr *c)
{
	free(c->assign);
	free(c->pairs);
	free(c->dense);
	free(c->dense_un);
	memset(c, 0, sizeof *c);
}

mudsc_status mudsc__corr_copy(struct point_corr *dst, const struct point_corr *src, int64_t NC)
{
	struct point_corr c = *src;

	c.assign = mudsc__alloc((size_t)NC * sizeof *c.assign, "correspondence");
	c.pairs = mudsc__alloc((2 * src->npairs + 1) * sizeof *c.pairs, "correspondence pairs");
	c.dense = c.dense_un = NULL;
	if (src->dense != NULL) {
		c.dense = mudsc__alloc(src->ndense * sizeof *c.dense, "dense transforms");
		c.dense_un = mudsc__alloc(src->ndense * sizeof *c.dense_un, "dense transforms");
	}
	if (c.assign == NULL || c.pairs == NULL ||
	    (src->dense != NULL && (c.dense == NULL || c.dense_un == NULL))) {
		free(c.assign);
		free(c.pairs);
		free(c.dense);
		free(c.dense_un);
		memset(dst, 0, sizeof *dst);
		return MUDSC_E_NOMEM;
	}
	memcpy(c.assign, src->assign, (size_t)NC * sizeof *c.assign);
	memcpy(c.pairs, src->pairs, 2 * src->npairs * sizeof *c.pairs);
	if (src->dense != NULL) {
		memcpy(c.dense, src->dense, src->ndense * sizeof *c.dense);
		memcpy(c.dense_un, src->dense_un, src->ndense * sizeof *c.dense_un);
	}
	*dst = c;
	return MUDSC_OK;
}

static void count_members(const struct point_corr *c, int32_t N, int64_t C, int64_t *counts)
{
	memset(counts, 0, (size_t)N * (size_t)c->width_out * sizeof *counts);
	for (int32_t i = 0; i < N; i++)
		for (int64_t u = 0; u < C; u++)
			counts[i * c->width_out + c->assign[i * C + u]]++;
}

bool mudsc__corr_scales(const struct point_corr *c, int32_t N, int64_t C, int32_t model,
                       int32_t which, const double *weights, int64_t *counts,
                       double *scale)
{
	const int64_t *assign = c->assign + model * C;
	double total = 0.0;

	if (which == MUDSC_MATRIX_UNMERGE) {
		for (int64_t u = 0; u < C; u++)
			scale[u] = 1.0;
		return true;
	}
	count_members(c, N, C, counts);
	if (which == MUDSC_MATRIX_MERGE) {
		for (int64_t u = 0; u < C; u++)
			scale[u] = 1.0 / (double)counts[model * c->width_out + assign[u]];
		return true;
	}
	/* W and the per-column weighted counts are summed in the same order
	 * (model 0 first), so align gives exactly W / W = 1 */
	for (int32_t k = 0; k < N; k++)
		total += weights[k];
	for (int64_t u = 0; u < C; u++) {
		double members = 0.0;
		for (int32_t k = 0; k < N; k++)
			members += weights[k] * (double)counts[k * c->width_out + assign[u]];
		if (members == 0.0)
			return false;
		scale[u] = total / members;
	}
	return true;
}

double mudsc__corr_pair_mean(const struct point_corr *c, const double *X, int64_t NC)
{
	double sum = 0.0;
	if (c->npairs == 0)
		return NAN;
	for (size_t k = 0; k < c->npairs; k++)
		sum += X[c->pairs[2 * k] * NC + c->pairs[2 * k + 1]];
	return sum / (double)c->npairs;
}
