/*
 * Resolving a graph against N models into a match plan.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_PLAN_BUILD_H
#define MUDSC_PLAN_BUILD_H

#include "mudsc/graph.h"
#include "matcher/plan.h"

/* Validates the graph against the models first (mudsc_graph_validate), then
 * checks that bound tensors agree in dtype and shape across models
 * (MUDSC_E_MISMATCH).  On error the plan is empty. */
mudsc_status mudsc__plan_build(struct mudsc__plan *plan, const mudsc_graph *graph,
                              const mudsc_model *const *models, int32_t n_models);

#endif /* MUDSC_PLAN_BUILD_H */
