/*
 * Partial zipping (ZipIt!, Stoica et al., ICLR 2024): merge the points up
 * to a chosen depth only.  The merged model is a shared trunk plus one head
 * per source model; docs/algorithm.md, section 19.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_PARTIAL_H
#define MUDSC_PARTIAL_H

#include "common.h"
#include "graph.h"
#include "matcher.h"
#include "model.h"

MUDSC_BEGIN_DECLS

/**
 * The graph of graph's first `depth` points (1 <= depth <= the point
 * count, else MUDSC_E_RANGE): the same names, widths, groups, sites and
 * bindings, and the split declarations those bindings name.  A matcher on
 * it matches (and merges) only those points.  Free with mudsc_graph_free().
 * Errors: MUDSC_E_INVALID (NULL), MUDSC_E_RANGE, MUDSC_E_NOMEM.
 */
MUDSC_API mudsc_status mudsc_graph_prefix(mudsc_graph **out, const mudsc_graph *graph,
                                          size_t depth);

/**
 * The partially merged model of a matcher that ran on `trunk` (a prefix
 * graph, mudsc_graph_prefix()), into *out (owned: mudsc_model_free()).
 *
 * Trunk tensors: those of model 0 with an OUT binding on a trunk point,
 * and every tensor of the same module (its name up to the last '.', e.g.
 * a BatchNorm's num_batches_tracked); they come from
 * mudsc_matcher_merge(weights), under their own names, in model 0's
 * order.  Then, for each model i in order, every other tensor, named
 * "heads.<i>.<name>", from mudsc_matcher_transform(i): axes bound IN to a
 * trunk point are contracted with model i's unmerge matrix U_i (the first
 * head layers read the merged trunk), the rest are model i's own values.
 * So trunk + the tensors of head i (prefix removed) is a complete network
 * of the source architecture, at the trunk's merged widths.
 * Errors: MUDSC_E_INVALID (NULL matcher, trunk or out; weights as
 * mudsc_matcher_merge()), MUDSC_E_STATE (not run), the errors of
 * mudsc_matcher_merge() and _transform(), MUDSC_E_NOMEM.  Accuracy: the
 * tensors are those of mudsc_matcher_merge() and _transform() (equal to
 * tests/oracle/partial_ref.py to 1e-12, tests/python/test_partial.py).
 */
MUDSC_API mudsc_status mudsc_partial_merge(mudsc_model **out, const mudsc_matcher *matcher,
                                           const mudsc_graph *trunk, const double *weights);

MUDSC_END_DECLS

#endif /* MUDSC_PARTIAL_H */
