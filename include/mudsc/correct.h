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

/**
 * REPAIR of one layer whose units correspond by index in all N models, so
 * that no point matches them: the output layer of models whose outputs
 * share one space (an embedding compared with fixed class embeddings,
 * logits over the same classes), which the merge averages unpermuted
 * (docs/algorithm.md 17.5).  A new model *out (owned) is `merged` with
 * unit j of that layer brought to the weighted mean of the N source
 * models' unit j: target mean = sum_i w_i sources[i].mean[j] / sum_i w_i,
 * target std likewise, then s_j and t_j exactly as mudsc_repair (17.1) and
 * folded the same way: row j of `weight` (rank >= 1, axis 0 the layer's C
 * units: a Linear or conv weight, or a norm's rank-1 weight) and `bias`
 * (rank 1, C) multiplied by s_j, then t_j added to bias[j].  Every other
 * tensor and the metadata are copied; values in double, rounded once.
 *
 * sources: n_models entries, entry i model i's statistics of the layer's
 * output (width C, population standard deviations) on the calibration
 * data; merged_stats: the merged model's, on the same data, measured after
 * every earlier correction (after mudsc_repair of the points before the
 * layer).  weights: the merge weights (n_models values, NULL = 1/N).
 *
 * Errors: MUDSC_E_INVALID (NULL arguments, n_models < 1, weight and bias
 * the same name, NULL, non-finite or negative statistics, non-finite
 * weights or weights summing to 0, bad options), MUDSC_E_NOT_FOUND (weight
 * or bias not in merged), MUDSC_E_MISMATCH (ranks, bias rows not the
 * weight's, a width not C), MUDSC_E_UNSUPPORTED (a non-float tensor),
 * MUDSC_E_NOMEM.  *out is untouched on error.  Accuracy as mudsc_repair
 * (tests/oracle/repair_ref.py, 1e-12 on F64 models).
 */
MUDSC_API mudsc_status mudsc_repair_layer(mudsc_model **out, const mudsc_model *merged,
                                          const char *weight, const char *bias,
                                          const mudsc_moments *sources, int32_t n_models,
                                          const mudsc_moments *merged_stats,
                                          const double *weights,
                                          const mudsc_repair_options *opts);

/* ---- least-squares correction (PLeaS-style; docs/algorithm.md section 23) ---- */

/**
 * Least-squares correction options.  Initialise with MUDSC_LSQ_OPTIONS_INIT
 * or mudsc_lsq_options_init(); the struct grows as common.h describes
 * (mudsc_options_size(MUDSC_OPTIONS_LSQ)).
 */
typedef struct mudsc_lsq_options {
	size_t size;  /**< sizeof(mudsc_lsq_options) as the caller compiled it */
	double ridge; /**< the relative ridge r >= 0 (finite): the solve adds
	                   lambda = r * trace(G) / (D + 1) times |W - W_merged|^2 to the squared
	                   error (docs/algorithm.md 23.1), so r = 0 is plain least squares and a
	                   large r keeps the merged weights; default 1e-4 */
} mudsc_lsq_options;

#define MUDSC_LSQ_OPTIONS_INIT {sizeof(mudsc_lsq_options), 1e-4}

/** Fill *opts with the defaults (MUDSC_LSQ_OPTIONS_INIT).  NULL: MUDSC_E_INVALID. */
MUDSC_API mudsc_status mudsc_lsq_options_init(mudsc_lsq_options *opts);

/**
 * The statistics of the least-squares correction of one point's producer
 * layer (docs/algorithm.md section 23): a weight "X.weight" of rank >= 2
 * (C' rows of D = the product of its other axes) and its bias "X.bias", the
 * point's only OUT tensors (the layer rule of docs/algorithm.md 14.2).  It
 * holds, in double, G = sum x~ x~' ((D+1) x (D+1)), H = sum x~ t'
 * ((D+1) x C') and the sum of |t|^2 over the observations, where x~ = (x, 1)
 * is an observation of the merged network's input to the layer and t its
 * target: merged unit j's target is the weighted mean, over its members u
 * (assign[u] = j, mudsc_matcher_assignment; model i = u / C has weight
 * w_i), of the source models' outputs of that layer on the same input.
 * Memory: 8((D+1)^2 + (D+1)C' + 2NC) bytes, plus during an update of n
 * observations a second copy of the sums, 8 n C' bytes of targets and the
 * streaming engine's rows (n rows of NC doubles for the sources, 1024 of
 * D + 1 for the inputs): it grows with the chunk, never with the data
 * (docs/algorithm.md 23.2).
 * Threads: a handle belongs to one thread at a time.
 */
typedef struct mudsc_lsq mudsc_lsq;

/**
 * Start the statistics of point `point` (its name in graph) into *out
 * (owned: mudsc_lsq_free()).  matcher: has run on graph (its
 * correspondence maps the source outputs into merged coordinates, for align
 * and zip, any N).  merged: the merged model (read for the producer's names
 * and shapes only).  weights: the merge weights (N values, NULL = 1/N),
 * copied.
 * Errors: MUDSC_E_INVALID (NULL arguments, non-finite weights, a merged
 * unit whose members' weights sum to 0), MUDSC_E_NOT_FOUND (no point
 * `point`, a producer tensor missing from merged), MUDSC_E_STATE (the
 * matcher has not run, or ran MUDSC_METHOD_CCA, which has no
 * correspondence), MUDSC_E_UNSUPPORTED (the point's OUT tensors are
 * not one layer's weight and bias, or not float), MUDSC_E_MISMATCH (the
 * producer's axis 0 is not C'), MUDSC_E_NOMEM.  *out untouched on error.
 */
MUDSC_API mudsc_status mudsc_lsq_new(mudsc_lsq **out, const mudsc_matcher *matcher,
                                     const mudsc_graph *graph, const mudsc_model *merged,
                                     const char *point, const double *weights);

/**
 * Start the statistics of one layer whose units correspond by index in all
 * N models, so that no point matches them (an output layer whose units the
 * models share, the twin of mudsc_repair_layer; docs/algorithm.md 23.4),
 * into *out (owned: mudsc_lsq_free()).  weight ("X.weight", rank >= 2, C
 * rows of D = the product of its other axes) and bias ("X.bias", rank 1,
 * C) name the layer in merged (read for names and shapes only).  Merged
 * unit j's target is sum_i w_i y_i[j] / sum_i w_i, the weighted mean of
 * unit j of the N outputs mudsc_lsq_update() is given (whatever the host
 * passes: raw outputs, or e.g. unit-normalised ones when the models'
 * outputs are compared by cosine).  weights: n_models values (NULL = 1/N),
 * copied.  mudsc_lsq_update, _rows, _error and _solve then work as for a
 * point's handle (outputs[i] of width C in the shared unit order); memory
 * as there with C' = C.
 * Errors: MUDSC_E_INVALID (NULL arguments, n_models < 1, weight and bias
 * the same name, non-finite weights or weights summing to 0),
 * MUDSC_E_NOT_FOUND (weight or bias not in merged), MUDSC_E_UNSUPPORTED
 * (weight of rank < 2, a non-float tensor), MUDSC_E_MISMATCH (bias not
 * rank 1 with the weight's C rows), MUDSC_E_NOMEM.  *out untouched on
 * error.  Accuracy: as mudsc_lsq_solve (tests/oracle/lsq_ref.py).
 */
MUDSC_API mudsc_status mudsc_lsq_layer_new(mudsc_lsq **out, const mudsc_model *merged,
                                           const char *weight, const char *bias,
                                           int32_t n_models, const double *weights);

/** Free the handle (NULL is a no-op). */
MUDSC_API void mudsc_lsq_free(mudsc_lsq *lsq);

/**
 * Add a chunk of observations: inputs, a mudsc_features view of the
 * merged network's inputs to the layer (width D: for a convolution the
 * unfolded patches, im2col, in the weight's (in, kh, kw) order), and
 * outputs[0..n_models-1], model i's outputs of the layer on the same
 * inputs (width C, the layer's pre-activation output with its bias, in
 * model i's own unit order), each with the same number of observations in
 * the same order.  Views are borrowed during the call (F32, F64, F16 or
 * BF16, any strides, as mudsc_accum_update()).  All or nothing: on error
 * the statistics are unchanged.
 * Errors: MUDSC_E_INVALID (NULL arguments, a bad view), MUDSC_E_MISMATCH
 * (n_models not the matcher's N, observation counts that differ),
 * MUDSC_E_SHAPE (a width that is not D or C), MUDSC_E_NUMERIC (a non-finite
 * value, naming the view), MUDSC_E_NOMEM.
 */
MUDSC_API mudsc_status mudsc_lsq_update(mudsc_lsq *lsq, const mudsc_features *inputs,
                                        const mudsc_features *outputs, int32_t n_models);

/** Observations added so far (0 for NULL). */
MUDSC_API int64_t mudsc_lsq_rows(const mudsc_lsq *lsq);

/**
 * The mean squared error of the layer of `model` (its producer tensors,
 * looked up by the handle's names; merged or a corrected copy) against the
 * targets over the observations so far: sum |W~ x~ - t|^2 / (n C'),
 * computed from the statistics (trace form, docs/algorithm.md 23.2), into
 * *err.  Absolute accuracy about 1e-13 times the targets' mean square.
 * Errors: MUDSC_E_INVALID (NULL), MUDSC_E_STATE (no observations),
 * MUDSC_E_NOT_FOUND / MUDSC_E_MISMATCH (the tensors missing or of other
 * shapes than at mudsc_lsq_new()).  *err untouched on error.
 */
MUDSC_API mudsc_status mudsc_lsq_error(double *err, const mudsc_lsq *lsq,
                                       const mudsc_model *model);

/**
 * Solve the corrected layer and write it into a copy *out of merged
 * (owned: mudsc_model_free()): W~ = [W b] (C' x (D+1)) minimises
 * |X~ W~' - T|^2 + lambda |W~ - W~_merged|^2, that is
 * (G + lambda I) W~' = H + lambda W~_merged' (Cholesky, through LAPACK),
 * lambda = opts->ridge * trace(G) / (D+1); docs/algorithm.md 23.1.  Every
 * other tensor and the metadata are copied; the two tensors are computed
 * in double and rounded once to their dtype.  All or nothing.
 * Errors: MUDSC_E_INVALID (NULL arguments, bad options naming
 * opts->field), MUDSC_E_STATE (no observations), MUDSC_E_NOT_FOUND /
 * MUDSC_E_MISMATCH (merged lacks the producer tensors or they changed
 * shape), MUDSC_E_NUMERIC (G + lambda I is not positive definite: ridge 0
 * with inputs that do not span D + 1 dimensions), MUDSC_E_NOMEM.
 * *out untouched on error.
 * Accuracy: the corrected tensors equal tests/oracle/lsq_ref.py (tested
 * to 1e-6 for F64 models, 1e-5 for F32 ones, whose stored values' rounding
 * dominates); a layer that already fits its targets exactly (a model
 * merged with a permuted copy of itself) comes back to rounding (tested);
 * and its error never exceeds the merged layer's (exactly: the objective
 * at the solution is at most its value at W~_merged).
 */
MUDSC_API mudsc_status mudsc_lsq_solve(mudsc_model **out, const mudsc_lsq *lsq,
                                       const mudsc_model *merged, const mudsc_lsq_options *opts);

MUDSC_END_DECLS

#endif /* MUDSC_CORRECT_H */
