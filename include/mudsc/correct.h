/*
 * Corrections of a merged model after matching: REPAIR (Jordan et al.,
 * ICLR 2023) rescales and shifts every merged unit so that its mean and
 * standard deviation on the calibration data equal the weighted mean of
 * its source units', folded into the point's OUT tensors.  What it
 * computes is docs/algorithm.md, section 17.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_CORRECT_H
#define MUDSC_CORRECT_H

#include "common.h"
#include "graph.h"
#include "matcher.h"
#include "model.h"
#include "stats.h"

MUDSC_BEGIN_DECLS

/**
 * Per-unit statistics of one point of the merged model, measured by the
 * host on the same calibration data as the source statistics and at the
 * same site (the pre-activation site, docs/graph-format.md "Sites"):
 * width means and width population standard deviations (divided by n, as
 * mudsc_accum_stddevs()), borrowed during the call.  mean = NULL skips the
 * point (it is left as merged).
 */
typedef struct mudsc_moments {
	int64_t width;       /**< the merged point's width C' (mudsc_matcher_point_result) */
	const double *mean;  /**< width means, finite; NULL: leave the point */
	const double *std;   /**< width standard deviations, finite and >= 0 */
} mudsc_moments;

/**
 * REPAIR options.  Initialise with MUDSC_REPAIR_OPTIONS_INIT or
 * mudsc_repair_options_init(); the struct grows as common.h describes.
 */
typedef struct mudsc_repair_options {
	size_t size;    /**< sizeof(mudsc_repair_options) as the caller compiled it */
	double min_std; /**< a merged unit whose standard deviation is <= min_std (a dead or
	                     constant unit) is shifted only, its scale kept at 1; >= 0, default
	                     1e-8 */
} mudsc_repair_options;

#define MUDSC_REPAIR_OPTIONS_INIT {sizeof(mudsc_repair_options), 1e-8}

/** Fill *opts with the defaults (MUDSC_REPAIR_OPTIONS_INIT).  NULL: MUDSC_E_INVALID. */
MUDSC_API mudsc_status mudsc_repair_options_init(mudsc_repair_options *opts);

/**
 * REPAIR the merged model `merged` (what mudsc_matcher_merge(matcher,
 * weights) returned, or any model with its tensors and shapes) into a new
 * model *out (owned: mudsc_model_free()).
 *
 * graph: the matcher's graph (its points, in order, the matcher's).
 * sources: the source models' statistics at each point (mudsc_stats with
 * the matcher's N; points looked up by name, width C), at the same site
 * as merged_stats.  merged_stats: n_points = the graph's point count
 * entries, entry q for point q (width C'_q).  weights: the merge weights
 * (N values, NULL = 1/N each), used for the targets.
 *
 * For every point q with merged_stats[q].mean != NULL, merged unit j gets
 * the target mean and standard deviation: the weighted mean over all its
 * members u (assign[u] = j, mudsc_matcher_assignment) of their means and
 * standard deviations, weight w_i for a member of model i.  Then
 * scale s_j = target std / merged std (1 when merged std <= min_std) and
 * shift t_j = target mean - s_j * merged mean are folded into the point's
 * producer (docs/algorithm.md 14.2): a norm (a module N whose "N.weight"
 * and "N.bias" are both rank-1 OUT tensors of the point: its weight and
 * bias scaled, the shift added to the bias), or else a layer (exactly one
 * OUT tensor "X.weight" of rank >= 2 and its "X.bias": rows of both
 * scaled along axis 0, the shift added to the bias).  Bindings flagged
 * MUDSC_BIND_IGNORE (running statistics) are left alone.  A point with
 * statistics whose OUT tensors fit neither rule (a residual stream with
 * several producers, split parts, no bias) is left as merged and reported
 * through the log callback (INFO).  Every other tensor is copied;
 * metadata too.  Values are computed in double and rounded once to the
 * tensor's dtype.
 *
 * Errors: MUDSC_E_INVALID (NULL arguments, n_points differing from the
 * graph's, non-finite or negative statistics, non-finite weights, a
 * merged unit whose members' weights sum to 0, bad options naming
 * opts->field), MUDSC_E_STATE (the matcher has not run), MUDSC_E_MISMATCH
 * (sources with another N, a point missing from sources or of another
 * width, merged_stats[q].width or a producer tensor's axis 0 not C'_q),
 * MUDSC_E_NOT_FOUND (a producer tensor missing from merged), the errors of
 * mudsc_accum_means() naming the point, MUDSC_E_NOMEM.  *out is untouched
 * on error.
 *
 * Accuracy: the corrected tensors equal tests/oracle/repair_ref.py to
 * 1e-12 relative for F64 models (tested to 1e-6 on F32, where the one
 * rounding dominates).  With pre-activation statistics the repaired
 * model's statistics are the targets up to rounding, so a second REPAIR
 * with its statistics changes nothing (tested).
 */
MUDSC_API mudsc_status mudsc_repair(mudsc_model **out, const mudsc_matcher *matcher,
                                    const mudsc_graph *graph, const mudsc_model *merged,
                                    mudsc_stats *sources, const mudsc_moments *merged_stats,
                                    size_t n_points, const double *weights,
                                    const mudsc_repair_options *opts);

MUDSC_END_DECLS

#endif /* MUDSC_CORRECT_H */
