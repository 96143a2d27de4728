/*
 * S_w for align, fast: with align every correspondence is a permutation, so
 * the other axes' transforms only permute the feature columns.  Row means,
 * norms and the within-model blocks of S_w are then the same whatever the
 * correspondences, and align reads only the anchor-vs-model blocks.  So per
 * point we compute the row statistics once, and the C x C cross blocks
 * (centred F_0 F_i') only when a point the features depend on has a new
 * correspondence since the last time.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_WEIGHT_SIM_ALIGN_H
#define MUDSC_WEIGHT_SIM_ALIGN_H

#include <stdbool.h>

#include "matcher/weight_sim.h"

struct wsim_cache {
	bool stats_ready, cross_valid;
	double *mu, *norm, *inv; /* NC: row means (0 for cosine), norms, unit scales */
	double *cross;     /* (N-1) x C x C: the anchor-vs-model-i blocks of S_w */
	size_t D;
	int32_t *deps;     /* the other points the features depend on */
	size_t ndeps;
	uint64_t *dep_versions;
};

void mudsc__wsim_cache_free(struct wsim_cache *cache);

/*
 * S (NC x NC): the anchor-vs-model blocks of S_w (and their mirror), equal
 * to those of mudsc__weight_similarity(); the blocks within a model and
 * between two non-anchor models are 0 (align does not read them).
 * versions[q] changes whenever point q's correspondence changes.  Products
 * in `precision` (float32: sgemm over unit rows, kernels/simil.h).  BLAS runs
 * with ex's threads.
 */
mudsc_status mudsc__weight_similarity_align(double *S, struct wsim_buffers *buf,
                                           const struct mudsc__plan *plan, size_t p,
                                           const struct point_corr *corr,
                                           const uint64_t *versions, struct wsim_cache *cache,
                                           mudsc_similarity kind, double eps,
                                           mudsc_precision precision,
                                           const struct mudsc__exec *ex);

#endif /* MUDSC_WEIGHT_SIM_ALIGN_H */
