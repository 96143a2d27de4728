/*
 * Private interface between the matching kernels (lap.c, align.c, zip.c).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_MATCH_INTERNAL_H
#define MUDSC_MATCH_INTERNAL_H

#include <math.h>

#include "core/core.h"
#include "kernels/simil.h"
#include "mudsc/experimental.h"

/* Maximising assignment on the n x n matrix whose entry (i, j) is
 * S[i*ld + j] (a block of a larger matrix when ld > n).  Entries must be
 * finite or -inf (callers check).  x[i] = column of row i.  MUDSC_E_NUMERIC
 * (with a message) when no assignment avoids every -inf entry; MUDSC_E_NOMEM.
 * x is written only on success. */
mudsc_status mudsc__lap_core(int64_t *x, const double *S, size_t ld, int64_t n);

/* The widest screen mudsc__lap_core may use, in columns: 8 (AVX-512, the
 * default), 4 (AVX2) or 2 (SSE2); it uses the widest the CPU has up to
 * this, which mudsc__lap_widest() returns.  Tests compare the widths:
 * every decision is the same scalar comparison either way. */
extern int mudsc__lap_width;
int mudsc__lap_widest(void);

/* MUDSC_E_NUMERIC naming fn, argument 'S' and the first entry that is NaN or
 * +inf among the rows x cols row-major entries of S; MUDSC_OK otherwise. */
mudsc_status mudsc__match_check_entries(const char *fn, const double *S, int64_t rows,
                                       int64_t cols);

/* Block assignment of group align/zip for model i >= 1: bperm[g] = block of
 * model i matched to anchor block g; inner (G*Cg entries, may be NULL) gets
 * inner[g*Cg + k] = unit within block bperm[g] matched to unit k of anchor
 * block g.  S is NC x NC with ld = N*C.  Errors as mudsc__lap_core. */
mudsc_status mudsc__block_assign(int64_t *bperm, int64_t *inner, const double *S, size_t ld,
                                int64_t i, int64_t C, int64_t G);

/* mudsc_align_solve() with the N-1 model assignments on ex's threads (the
 * public kernel runs them on the calling thread). */
mudsc_status mudsc__align_solve(int64_t *perm, double *score, const double *S, int64_t N,
                               int64_t C, int64_t G, const struct mudsc__exec *ex);

/* The same with only the anchor rows' cross blocks (the matcher's align
 * layout): X is (N-1) x C x C, block i-1 = S[0:C, iC:(i+1)C] of the NC x NC
 * S, so the N-1 assignments read exactly what mudsc__align_solve() reads;
 * the same perm and score bits.  Entries checked are X's. */
mudsc_status mudsc__align_solve_blocks(int64_t *perm, double *score, const double *X, int64_t N,
                                      int64_t C, int64_t G, const struct mudsc__exec *ex);

/* Common argument checks of align and zip, messages prefixed with fn:
 * S non-NULL, N, C, G > 0 (MUDSC_E_INVALID), C % G == 0 (MUDSC_E_SHAPE),
 * NC x NC doubles addressable (MUDSC_E_INVALID), entries finite or -inf
 * (MUDSC_E_NUMERIC). */
mudsc_status mudsc__match_check_args(const char *fn, const double *S, int64_t N, int64_t C,
                                    int64_t G);

/* Left-to-right sum of count values divided by count (NaN for none), as the
 * oracle computes means: these feed discrete decisions. */
static inline double mudsc__match_mean(double sum, int64_t count)
{
	return count > 0 ? sum / (double)count : (double)NAN;
}

#endif /* MUDSC_MATCH_INTERNAL_H */
