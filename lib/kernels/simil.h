/*
 * Similarity between the rows of a feature matrix (Pearson or cosine), the
 * S_w of docs/algorithm.md sections 3 and 4.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_SIMIL_H
#define MUDSC_SIMIL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/core.h" /* struct mudsc__exec */
#include "mudsc/common.h"
#include "mudsc/matcher.h" /* mudsc_similarity */

/*
 * S (V x V, row-major) = similarity between the V rows of Z (V x D,
 * row-major), D >= 1 columns as observations; exactly symmetric (the upper
 * triangle is computed and mirrored).  Z is not modified.  Products in
 * `precision` (float32: mudsc__unit_products).  BLAS runs with ex's
 * threads; tally (may be NULL) gets the products' flops and seconds.  Errors: MUDSC_E_NOMEM, MUDSC_E_NUMERIC for a non-finite
 * entry of Z.
 */
mudsc_status mudsc__similarity_rows(double *S, const double *Z, int64_t V, int64_t D,
                                   mudsc_similarity kind, double eps, mudsc_precision precision,
                                   struct mudsc__tally *tally, const struct mudsc__exec *ex);

/*
 * Row statistics of the V x D rows of F: mu[r] = the row's mean
 * (Pearson) or 0 (cosine), norm[r] = sqrt(ss / D) (Pearson) or sqrt(ss)
 * (cosine) with ss = sum (f - mu)^2, and inv[r] = 1 / sqrt(ss) (0 for a
 * zero row): the factor that makes the centred row unit-norm.  Sums in
 * float64, left to right.  MUDSC_E_NUMERIC for a non-finite entry.
 */
mudsc_status mudsc__row_stats(double *mu, double *norm, double *inv, const double *F, size_t V,
                             size_t D, mudsc_similarity kind, const struct mudsc__exec *ex);

/* Rows whose sums mudsc__row_chains_* compute at once: that many
 * independent chains of additions, so the sums run at the adder's
 * throughput, not its latency (each row's sum is still its own chain, left
 * to right: the same bits as a row at a time). */
#define MUDSC__ROW_CHAINS 8

/* t[r] = sum over e < n of x[r * stride + e] (sq: of (x - m[r])^2; m is
 * read only then), each from 0.0 in increasing e, in float64, for the
 * MUDSC__ROW_CHAINS rows r. */
void mudsc__row_chains_float(double *t, const float *x, size_t stride, size_t n, const double *m,
                             bool sq);
void mudsc__row_chains_double(double *t, const double *x, size_t stride, size_t n,
                              const double *m, bool sq);

/* U[r] = float32((F[r] - mu[r]) * inv[r]) for the V rows of F (each
 * rounded once), on ex's threads: rows are independent, so the result does
 * not depend on the thread count. */
void mudsc__unit_rows_f32(float *U, const double *F, size_t V, size_t D, const double *mu,
                         const double *inv, const struct mudsc__exec *ex);

/* Rows of the float32 product in one block call. */
#define MUDSC__UNIT_BLOCK 512

/*
 * out[a*ldo + b] = (A_a . B_b) * den / max(den, eps), den = normA[a] *
 * normB[b], for the m unit rows A (m x D) and n unit rows B (n x D): the
 * products by sgemm (float32 accumulation), the factor in float64.  With
 * upper (A == B, m == n) only b >= a is written, each block's square part
 * by ssyrk (half a gemm's flops) and the rest by sgemm.  scratch holds
 * MUDSC__UNIT_BLOCK * n floats.  tally (may be NULL) gets the sgemm
 * calls' flops and seconds.  BLAS runs with ex's threads; sgemm's
 * result does not depend on them for a given BLAS build (each entry is
 * one dot product in a blocking fixed by the shapes).
 */
void mudsc__unit_products(double *out, size_t ldo, const float *A, size_t m, const float *B,
                         size_t n, size_t D, const double *normA, const double *normB,
                         double eps, bool upper, float *scratch, struct mudsc__tally *tally,
                         const struct mudsc__exec *ex);

/* S (V x V) = the float32 similarity of the unit rows U (V x D) with row
 * norms norm: mudsc__unit_products' upper triangle, mirrored (exactly
 * symmetric).  scratch holds min(V, MUDSC__UNIT_BLOCK) * V floats. */
void mudsc__unit_similarity(double *S, const float *U, size_t V, size_t D, const double *norm,
                            double eps, float *scratch, struct mudsc__tally *tally,
                            const struct mudsc__exec *ex);

#endif /* MUDSC_SIMIL_H */
