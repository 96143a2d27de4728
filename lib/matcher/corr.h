/*
 * A point's correspondence: which merged unit every stacked unit goes to,
 * and the matrices derived from it (docs/algorithm.md section 6).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_CORR_H
#define MUDSC_CORR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mudsc/matcher.h" /* mudsc_matrix_kind */

struct point_corr {
	bool set;
	int64_t width_out; /* C' */
	int64_t *assign;   /* N*C: merged unit of stacked unit u = i*C + c */
	int64_t *pairs;    /* 2*npairs stacked indices whose similarity is the score */
	size_t npairs;
	double score[3];   /* mean S_w, S_a, S at the pairs (NaN when not computed) */
	/* Dense transforms (CCA, docs/algorithm.md section 22), NULL otherwise:
	 * model i's C x C' merge matrix at dense + i*C*C', row-major (row u =
	 * model i's unit, column j = merged unit), and its unmerge matrix at
	 * dense_un + i*C*C'.  When set they replace assign's 0/1 matrices in
	 * the merged tensors; ndense = N*C*C' doubles in each. */
	double *dense, *dense_un;
	size_t ndense;
};

/* Which matrix mudsc__corr_scales() describes: a mudsc_matrix_kind
 * (MUDSC_MATRIX_MERGE: M_i, model i's own mean of its members;
 * MUDSC_MATRIX_UNMERGE: U_i, 0/1) or the one only merged tensors use: */
#define MUDSC__MATRIX_MERGE_HAT 2 /* Mhat_i: weighted mean over all members of all models */

void mudsc__corr_free(struct point_corr *c);
/* Deep copy; MUDSC_E_NOMEM leaves dst empty. */
mudsc_status mudsc__corr_copy(struct point_corr *dst, const struct point_corr *src, int64_t NC);

/*
 * scale (C) of model i's block of the chosen matrix: column assign[u] of row
 * u holds scale[u] (see axis_ops.h).  weights (N) only for MUDSC__MATRIX_MERGE_HAT.
 * counts is scratch of N * width_out int64.  Returns false when a merged
 * unit of model i has zero total weight (Mhat undefined), true otherwise.
 */
bool mudsc__corr_scales(const struct point_corr *c, int32_t N, int64_t C, int32_t model,
                       int32_t which, const double *weights, int64_t *counts,
                       double *scale);

/* Mean of X (NC x NC) over the correspondence's pairs, summed left to right. */
double mudsc__corr_pair_mean(const struct point_corr *c, const double *X, int64_t NC);

#endif /* MUDSC_CORR_H */
