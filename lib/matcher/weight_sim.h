/*
 * S_w of one point under the other points' current correspondences
 * (docs/algorithm.md section 4).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_WEIGHT_SIM_H
#define MUDSC_WEIGHT_SIM_H

#include "matcher/corr.h"
#include "matcher/plan.h"
#include "kernels/kernels.h"

/* One worker's scratch for feature building: two stage buffers, the merge
 * scales and member counts. */
struct wsim_scratch {
	double *a, *b, *scale;
	int64_t *counts, *idx; /* idx: inverse permutations and offset tables */
	size_t cap_a, cap_b, cap_scale, cap_counts, cap_idx;
};

/* Most workers building one point's features (one per model at most). */
#define MUDSC__WSIM_SLOTS 64

/* Buffers reused from one call to the next, so large feature matrices are
 * not allocated (and page-faulted in) for every point of every sweep: the
 * first call reserves for the widest point of the plan. */
struct wsim_buffers {
	double *F;
	float *U, *G; /* float32 products: the unit rows and a block of products */
	size_t cap_F, cap_U, cap_G;
	struct wsim_scratch slot[MUDSC__WSIM_SLOTS];
	struct mudsc__tally products; /* S_w's GEMMs: flops and seconds, summed */
};

void mudsc__wsim_buffers_free(struct wsim_buffers *buf);

/* The NC x D weight features of point p, in buf->F (valid until the next
 * call); the models' blocks are built on up to min(N, ex->threads) threads,
 * each block by one thread, so F does not depend on the thread count. */
mudsc_status mudsc__weight_features(size_t *D, struct wsim_buffers *buf,
                                   const struct mudsc__plan *plan, size_t p,
                                   const struct point_corr *corr, const struct mudsc__exec *ex);

/*
 * For float32 products when every transform of point p's features is a
 * permutation (align): the unit rows of columns [g0, g1) of the point (its
 * features' mudsc__feature_columns() side by side in binding order, so a
 * range may start or end inside a tensor: U is NC x Dc floats in buf->U,
 * Dc = g1 - g0) straight from the models' tensors, with no float64
 * feature matrix; first the row statistics mu, norm, inv (NC each, over
 * all D columns of all features, as mudsc__row_stats defines them, but
 * summed over the tensors' elements in storage order) unless stats_ready.
 * 16-bit float tensors are read in place (no copy of the tensor: the span
 * a range reads is converted into the worker's scratch when it has at most
 * mudsc__wsim_span_floats floats, else element by element; the same
 * values).  *D = the point's whole feature length.  Models on up to
 * min(N, ex->threads) threads, each model by one.  *done = false (nothing
 * computed) when a transform is not a permutation.  Errors:
 * MUDSC_E_NUMERIC for a non-finite entry, MUDSC_E_NOMEM.
 */
mudsc_status mudsc__weight_units_f32(bool *done, size_t *D, struct wsim_buffers *buf,
                                    const struct mudsc__plan *plan, size_t p,
                                    const struct point_corr *corr, double *mu, double *norm,
                                    double *inv, bool stats_ready, mudsc_similarity kind,
                                    size_t g0, size_t g1, const struct mudsc__exec *ex);

/* The most floats of a 16-bit tensor's span converted at once for the unit
 * rows (per worker); larger spans are read element by element.  Tests
 * lower it (0: always element by element). */
#define MUDSC__WSIM_SPAN_FLOATS ((size_t)1 << 24)
extern size_t mudsc__wsim_span_floats;

/* Columns of point p's feature f untransformed (its tensor's elements / C). */
size_t mudsc__feature_columns(const struct mudsc__plan *plan, size_t p, size_t f);

/* Room in buf->U for n floats and in buf->G for the product blocks of
 * rows of length cols (MUDSC__UNIT_BLOCK x cols). */
mudsc_status mudsc__wsim_reserve_f32(struct wsim_buffers *buf, size_t n, size_t cols);

/* S (NC x NC) for point p; corr has one entry per point (unset = untransformed);
 * products in `precision`; BLAS runs with ex's threads. */
mudsc_status mudsc__weight_similarity(double *S, struct wsim_buffers *buf,
                                     const struct mudsc__plan *plan, size_t p,
                                     const struct point_corr *corr, mudsc_similarity kind,
                                     double eps, mudsc_precision precision,
                                     const struct mudsc__exec *ex);

#endif /* MUDSC_WEIGHT_SIM_H */
