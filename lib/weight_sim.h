/*
 * S_w of one point under the other points' current correspondences
 * (docs/algorithm-choices.md section 2).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_WEIGHT_SIM_H
#define MUDSC_WEIGHT_SIM_H

#include "corr.h"
#include "plan.h"
#include "simil.h"

/* The NC x D weight features of point p (owned: free()). */
mudsc_status mudsc_weight_features(double **F, size_t *D, const struct mudsc_plan *plan, size_t p,
                                   const struct point_corr *corr);

/* S (NC x NC) for point p; corr has one entry per point (unset = untransformed). */
mudsc_status mudsc_weight_similarity(double *S, const struct mudsc_plan *plan, size_t p,
                                     const struct point_corr *corr, enum mudsc_simil_kind kind,
                                     double eps);

#endif /* MUDSC_WEIGHT_SIM_H */
