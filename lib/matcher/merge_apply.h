/*
 * Producing merged tensors from correspondences (docs/algorithm.md
 * section 11).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_MERGE_APPLY_H
#define MUDSC_MERGE_APPLY_H

#include "matcher/corr.h"
#include "matcher/plan.h"

/*
 * A new model with every tensor of models[0]'s order:
 *  - only < 0: merged, sum_i w_i T_i' (bound tensors), sum_i w_i T_i (other
 *    float tensors), model 0's bytes (non-float tensors);
 *  - only = i: model i's tensors transformed (T_i'), nothing averaged.
 * Every tensor keeps its dtype.  The tensors are computed on ex's threads,
 * one tensor per task; the result does not depend on the thread count.
 */
mudsc_status mudsc__merge_apply(mudsc_model **out, const struct mudsc__plan *plan,
                               const struct point_corr *corr, const mudsc_model *const *models,
                               const double *weights, int32_t only,
                               const struct mudsc__exec *ex);

#endif /* MUDSC_MERGE_APPLY_H */
