/*
 * CCA merging (docs/algorithm.md section 22): each model's dense
 * transform onto model 0's units from a canonical correlation analysis of
 * the point's covariances.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_CCA_H
#define MUDSC_CCA_H

#include "matcher/loop.h"

/*
 * The CCA "run": in->S_a[p] (or in->fetch) gives point p's stacked NC x NC
 * covariance (not a correlation).  Every point's correspondence gets
 * width_out = C, the identity assignment, no pairs, the dense merge and
 * unmerge matrices (corr.h) and score[1] = score[2] = the mean canonical
 * correlation of the regularised problem (score[0] NaN); sweeps = 0,
 * best_sweep = -1.  Errors: MUDSC_E_STATE (no statistics),
 * MUDSC_E_NUMERIC (a covariance not finite, or singular after the ridge,
 * naming the point and the model), MUDSC_E_NOMEM, a fetch's error;
 * *res is untouched on failure.
 */
mudsc_status mudsc__cca_run(struct loop_result *res, const struct loop_input *in);

#endif /* MUDSC_CCA_H */
