/*
 * One point's matching through the kernels (zip as experimental.h exports it,
 * align with the matcher's threads): align or zip, grouped or not, turned
 * into a point_corr with its scored pairs.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>

#include "kernels/kernels.h"
#include "matcher/match_point.h"
#include "mudsc/experimental.h"

static mudsc_status align_point(struct point_corr *c, const double *S, int32_t N, int64_t C,
                                int64_t G, const struct mudsc__exec *ex)
{
	int64_t *perm = mudsc__alloc((size_t)N * (size_t)C * sizeof *perm, "permutations");
	mudsc_status st;
	size_t k = 0;

	if (perm == NULL)
		return MUDSC_E_NOMEM;
	st = mudsc__align_solve_blocks(perm, &c->score[2], S, N, C, G, ex);
	if (st == MUDSC_OK) {
		/* merged unit j is anchor unit j; model i's unit perm[i*C + j] joins it */
		for (int32_t i = 0; i < N; i++)
			for (int64_t j = 0; j < C; j++)
				c->assign[(size_t)i * (size_t)C + (size_t)perm[i * C + j]] = j;
		for (int32_t i = 1; i < N; i++)
			for (int64_t j = 0; j < C; j++, k++) {
				c->pairs[2 * k] = j;
				c->pairs[2 * k + 1] = (int64_t)i * C + perm[i * C + j];
			}
		c->npairs = k;
		c->width_out = C;
	}
	free(perm);
	return st;
}

static mudsc_status zip_point(struct point_corr *c, const double *S, int32_t N, int64_t C,
                              int64_t G, const mudsc_matcher_options *mo)
{
	mudsc_match_options zip = MUDSC_MATCH_OPTIONS_INIT;
	mudsc_status st;

	zip.r = mo->zip_r;
	zip.a = mo->zip_a;
	zip.b = mo->zip_b;
	st = mudsc_zip_solve(c->assign, &c->width_out, c->pairs, &c->score[2], S, N, C, G, &zip);
	if (st == MUDSC_OK)
		c->npairs = (size_t)((int64_t)N * C - c->width_out);
	return st;
}

mudsc_status mudsc__match_point(struct point_corr *out, const double *S, int32_t N, int64_t C,
                               int64_t groups, const mudsc_matcher_options *opts,
                               const struct mudsc__exec *ex)
{
	struct point_corr c = {0};
	size_t NC = (size_t)N * (size_t)C;
	int64_t G = opts->use_groups ? groups : 1;
	mudsc_status st;

	c.assign = mudsc__alloc(NC * sizeof *c.assign, "correspondence");
	c.pairs = mudsc__alloc(2 * NC * sizeof *c.pairs, "correspondence pairs");
	if (c.assign == NULL || c.pairs == NULL) {
		mudsc__corr_free(&c);
		return MUDSC_E_NOMEM;
	}
	st = opts->method == MUDSC_METHOD_ZIP ? zip_point(&c, S, N, C, G, opts)
	                                      : align_point(&c, S, N, C, G, ex);
	if (st != MUDSC_OK) {
		mudsc__corr_free(&c);
		return st;
	}
	c.set = true;
	mudsc__corr_free(out);
	*out = c;
	return MUDSC_OK;
}
