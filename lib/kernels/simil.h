/*
 * Similarity between the rows of a feature matrix (Pearson or cosine), the
 * S_w of docs/algorithm.md sections 3 and 4.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_SIMIL_H
#define MUDSC_SIMIL_H

#include <stdint.h>

#include "core/core.h" /* struct mudsc__exec */
#include "mudsc/common.h"
#include "mudsc/matcher.h" /* mudsc_similarity */

/*
 * S (V x V, row-major) = similarity between the V rows of Z (V x D,
 * row-major), D >= 1 columns as observations; exactly symmetric (the upper
 * triangle is computed and mirrored).  Z is not modified.  BLAS runs with
 * ex's threads.  Errors: MUDSC_E_NOMEM, MUDSC_E_NUMERIC for a non-finite
 * entry of Z.
 */
mudsc_status mudsc__similarity_rows(double *S, const double *Z, int64_t V, int64_t D,
                                   mudsc_similarity kind, double eps,
                                   const struct mudsc__exec *ex);

#endif /* MUDSC_SIMIL_H */
