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

/* Align keeps every point's cross blocks between its matchings when they
 * total at most this many bytes (8 sum_p (N-1) C_p^2) and the memory
 * budget has room for them (budget.h, mudsc__budget_keep_caches), else
 * only the point being matched (mudsc__wsim_cache_release after each): the
 * same bits, recomputed when next needed, and memory of one point's
 * blocks. */
#define MUDSC__WSIM_CACHE_KEEP ((double)((size_t)1 << 30))
extern double mudsc__wsim_cache_keep; /* that, lowered by tests */

/* Whether plan's cross blocks are kept (the rule above). */
bool mudsc__wsim_keep_caches(const struct mudsc__plan *plan);

/* Free the cross blocks (the row statistics stay): the next call
 * recomputes them. */
void mudsc__wsim_cache_release(struct wsim_cache *cache);

/* Float32 S_w is built tensor by tensor (docs/algorithm.md section 25):
 * the point's columns (its feature tensors', in binding order) are cut
 * into chunks of at most this many floats of unit rows (N C x the chunk's
 * columns: whole tensors while they fit, a larger tensor in blocks of
 * max(1, this / (N C)) columns), each chunk's sgemm products summed in
 * float64.  The default, 2^24 (64 MiB), keeps every point of a small
 * model in one chunk (the bits of a single product over all columns);
 * tests lower it to cut tensors into blocks. */
#define MUDSC__WSIM_CHUNK_FLOATS ((size_t)1 << 24)
extern size_t mudsc__wsim_chunk_floats;

/*
 * *Sw = point p's S_w in align's anchor-block layout: (N-1) x C x C, block
 * i-1 holding S_w[a, iC + b] for anchor unit a and model-i unit b (row
 * major), the entries of mudsc__weight_similarity() there; align reads no
 * other entry.  *Sw is cache->cross (no copy), valid until the next call
 * with this cache.  versions[q] changes whenever point q's correspondence
 * changes.  Products in `precision` (float32: sgemm over unit rows,
 * kernels/simil.h).  BLAS runs with ex's threads.
 */
mudsc_status mudsc__weight_similarity_align(const double **Sw, struct wsim_buffers *buf,
                                           const struct mudsc__plan *plan, size_t p,
                                           const struct point_corr *corr,
                                           const uint64_t *versions, struct wsim_cache *cache,
                                           mudsc_similarity kind, double eps,
                                           mudsc_precision precision,
                                           const struct mudsc__exec *ex);

/* mudsc__corr_pair_mean() of an align correspondence (pairs: anchor unit,
 * model-i unit) read from X in the anchor-block layout: the same values
 * summed in the same order, so the same bits. */
double mudsc__anchor_pair_mean(const struct point_corr *c, const double *X, int32_t N,
                              int64_t C);

/* X ((N-1) x C x C) = the anchor blocks of a dense NC x NC S. */
void mudsc__anchor_blocks_of(double *X, const double *S, int32_t N, int64_t C);

#endif /* MUDSC_WEIGHT_SIM_ALIGN_H */
