/*
 * mudsc_matcher: runs MuDSC on N models described by a graph, with
 * optional activation statistics per merge point, and produces the
 * correspondences, their scores and the merged model.
 *
 * What it computes is docs/algorithm.md (sections 5, 10 and 11; CCA: section 22):
 * S = alpha*S_w + (1-alpha)*S_a; without
 * activations weight matching (alpha taken as 1); with activations and
 * alpha = 0 one activation-only matching; otherwise activation-initialised,
 * seeded coordinate descent over the points keeping the best sweep.
 *
 * Accuracy: similarities and merged tensors are computed in double; merged
 * tensors are rounded once to the models' dtype.  Discrete results (the
 * permutations and zip assignments) equal those of the NumPy oracle in
 * tests/oracle on problems without ties.
 *
 * After merging BatchNorm networks, re-estimate the BatchNorm running
 * statistics on a few calibration batches: the merged running statistics
 * are only averages (the paper does the same).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_MATCHER_H
#define MUDSC_MATCHER_H

#include "accum.h"
#include "common.h"
#include "graph.h"
#include "model.h"

MUDSC_BEGIN_DECLS

/**
 * Opaque matcher.  Belongs to one thread at a time; matchers on different
 * threads are independent and may share their models.
 *
 * Threads: options.threads is the matcher's own thread count (0 = the
 * process-wide count mudsc_blas_get_threads(), read at the start of each call;
 * at most 256 are used).  The matcher's own loops use it: the N-1
 * assignments of align with N > 2 (each point of each sweep) and the merged
 * tensors of mudsc_matcher_merge(), mudsc_matcher_transform() and their
 * _to_file() forms, one tensor per thread at a time (each holding scratch of about three double
 * copies of its tensor; the _to_file() forms cut large tensors into blocks of rows).  Loops too small to gain from threads run on the
 * calling thread.  These loops give bit-identical results for every count.
 * The progress callback is always called on the thread that called
 * mudsc_matcher_run().
 *  - BLIS (-Dblas=blis): the matcher's BLAS calls also run with this count,
 *    each call with its own BLIS runtime object (rntm_t), so matchers on
 *    different threads get their own counts; with 0 they follow BLIS's
 *    process-wide setting.  BLIS shares rows and columns among threads, not
 *    sums, and the tests find the same bits for 1, 2 and 4 threads.
 *  - OpenBLAS (the default build): BLAS has one process-wide count, the
 *    host's (mudsc_blas_set_threads() or OPENBLAS_NUM_THREADS); the matcher
 *    never changes it, so options.threads counts only the matcher's own
 *    loops.  OpenBLAS's own count may change the last bits of its sums,
 *    hence of the similarities (measured: 1 and 2 OpenBLAS threads differ).
 */
typedef struct mudsc_matcher mudsc_matcher;

/**
 * How units are matched.
 *
 * MUDSC_METHOD_CCA (CCA Merge, Horoi et al. 2024; docs/algorithm.md
 * section 22) gives every model i >= 1 a dense C x C transform M_i onto
 * model 0's units from a canonical correlation analysis of the point's
 * activation covariances (model 0's block, model i's, and the cross block),
 * regularised by opts->cca_ridge; its inverse transpose U_i = M_i^-T takes
 * the consuming side.  Merged tensors are sum_i w_i T_i' with those dense
 * matrices on the bound axes (OUT: M_i, IN: U_i), exactly as for align.
 * With groups (heads) and opts->use_groups = 1 the transforms are block
 * diagonal, one CCA per group; a residual stream point gets one transform
 * for every tensor bound to it.  CCA needs activation statistics in the
 * full mode for every point (without them mudsc_matcher_run() is
 * MUDSC_E_STATE; cross-block statistics are MUDSC_E_UNSUPPORTED); it reads
 * covariances, not correlations (mudsc_matcher_set_activation_similarity()
 * then takes the host's NC x NC stacked covariance).  It does no weight
 * matching (opts->alpha, max_iter and patience are not used; sweeps = 0).
 * Results: mudsc_matcher_matrix() returns the dense M_i and U_i;
 * mudsc_matcher_assignment() and _permutation() are MUDSC_E_STATE (so are
 * the calls built on them: mudsc_repair(), mudsc_partial_merge()); a
 * point's score is the mean canonical correlation of the regularised
 * problem.  Singular covariances (a dead unit with cca_ridge = 0) are
 * MUDSC_E_NUMERIC naming the point and the model.  Accuracy: the
 * transforms come from LAPACK's eigen- and singular value decompositions in
 * double; the merged tensors agree with tests/oracle/cca_ref.py within
 * 1e-6 (relative to the tensor's largest entry) when the smallest
 * regularised eigenvalue and the smallest canonical correlation are not
 * tiny (the transform's condition is the covariances' square root's).
 * Dense transforms do not commute with the nonlinearity between a layer
 * and its consumer: the merge is exact only for linear maps (a model
 * merged with a permuted copy of itself comes back within rounding).
 */
typedef enum mudsc_method {
	MUDSC_METHOD_ALIGN = 0, /**< permutations onto model 0 (the anchor) */
	MUDSC_METHOD_ZIP = 1,   /**< ZipIt!-style merging, also within models */
	MUDSC_METHOD_CCA = 2    /**< dense CCA transforms onto model 0 (see above) */
} mudsc_method;

/** Similarity of units. */
typedef enum mudsc_similarity {
	MUDSC_SIMILARITY_CORRELATION = 0, /**< Pearson correlation (default) */
	MUDSC_SIMILARITY_COSINE = 1       /**< cosine similarity (weight space only; S_a is
	                                       always a correlation) */
} mudsc_similarity;

/**
 * Arithmetic of the weight-similarity products S_w (the GEMMs over the
 * weight features, docs/algorithm.md sections 4 and 17).
 * Features are built, centred and normalised in float64 either way; with
 * float32 the unit-norm rows are rounded to float32 and multiplied by
 * sgemm / ssyrk, and every S_w entry is then within (D + 2) u / (1 - (D + 2) u)
 * of the float64 value, u = 2^-24, D the point's feature length (the
 * reduction length); typically within a few sqrt(D) u.  Discrete results
 * are the same in both precisions unless a decision is closer than that
 * (a near tie).
 */
typedef enum mudsc_precision {
	MUDSC_PRECISION_F32 = 0, /**< float32 products (default): about twice the speed */
	MUDSC_PRECISION_F64 = 1  /**< float64 products, as the oracle computes them */
} mudsc_precision;

/**
 * Order of the points within a sweep of the coordinate descent
 * (docs/algorithm.md section 10, "Sweep order").
 */
typedef enum mudsc_sweep_order {
	MUDSC_SWEEP_RANDOM = 0,     /**< every sweep in a random order drawn from opts->seed
	                                 (default; the paper's weight matching) */
	MUDSC_SWEEP_GRAPH_FIRST = 1 /**< the first sweep in the graph's point order (0, 1, ...,
	                                 the network's order for traced and built graphs), the
	                                 later sweeps in the random orders of
	                                 MUDSC_SWEEP_RANDOM */
} mudsc_sweep_order;

/**
 * Progress callback, called after each point is re-matched: the point's
 * index, the sweep (0-based) and the point's combined score.  Return
 * non-zero to cancel: mudsc_matcher_run() then returns MUDSC_E_CANCELLED
 * and the matcher keeps the results it had before the run.
 */
typedef int (*mudsc_progress_fn)(int64_t point, int32_t sweep, double score, void *user);

/**
 * Matcher options.  Initialise with MUDSC_MATCHER_OPTIONS_INIT or
 * mudsc_matcher_options_init(), then set fields; the struct grows as
 * described in common.h ("Options structs that grow").
 */
typedef struct mudsc_matcher_options {
	size_t size;                 /**< sizeof(mudsc_matcher_options) as compiled by the caller */
	int32_t method;              /**< a mudsc_method; default MUDSC_METHOD_ALIGN */
	double alpha;                /**< weight of S_w in [0, 1]; default 0.5 */
	int32_t similarity;          /**< a mudsc_similarity; default correlation */
	double zip_r;                /**< zip reduce ratio in (0, 1); default 0.5 */
	double zip_a;                /**< zip merged-row factor; default 0.5 */
	double zip_b;                /**< zip within-model budget factor; default 1 */
	int32_t use_groups;          /**< 1: respect the points' groups (default); 0: ignore them */
	int32_t max_iter;            /**< most sweeps, >= 1; default 100 */
	int32_t patience;            /**< sweeps without improvement before stopping, >= 1; default 5 */
	uint64_t seed;               /**< seed of the point order; default 0 */
	int32_t threads;             /**< this matcher's thread count, >= 0 (see "Threads" above);
	                                  0 (default) = mudsc_blas_get_threads() at each call */
	double eps;                  /**< denominator floor of the weight similarity S_w, > 0; default
	                                  1e-7 (S_a from an accumulator always uses 1e-7) */
	mudsc_progress_fn progress;  /**< may be NULL */
	void *progress_user;         /**< passed to progress */
	/* ---- fields appended after 0.2.0's first struct (see common.h) ---- */
	int64_t max_memory;          /**< memory budget in bytes, >= 0; 0 = no limit; default
	                                  MUDSC_MATCHER_MAX_MEMORY_DEFAULT (see "Memory budget") */
	int32_t weight_precision;    /**< a mudsc_precision: the arithmetic of S_w's products;
	                                  default MUDSC_PRECISION_F32 */
	double cca_ridge;            /**< CCA only: the ridge r >= 0, finite, relative: each
	                                  covariance block B (g x g) becomes B + r (tr B / g) I;
	                                  default 0.1 (docs/algorithm.md section 22) */
	int32_t sweep_order;         /**< a mudsc_sweep_order; default MUDSC_SWEEP_RANDOM */
} mudsc_matcher_options;

/**
 * The default memory budget, 8 GiB.  Memory budget: mudsc_matcher_new()
 * computes, from the graph, the models and the options, how much memory
 * the matcher's own buffers will take at their peak in mudsc_matcher_run()
 * (weight matching) and in mudsc_matcher_merge() / _transform() (the
 * models' own memory not counted).  The largest terms are quadratic in
 * N*C, the stacked width of a point: zip's S_w (and S with activations)
 * of the widest point and its working copy, align's cached cross blocks
 * ((N-1)*C^2 per point, which are align's S_w; its S and S_a are one
 * point's (N-1)*C^2 anchor blocks) and the activation similarities
 * ((N*C)^2 per point).  A figure over opts->max_memory is MUDSC_E_NOMEM at once, with
 * a message giving the figure, the budget and the option; nothing is
 * allocated.  mudsc_matcher_set_activations() and
 * _set_activation_similarity() check the figure of a run with activations
 * for every point the same way.  For example a point of width 40000 with
 * N = 2 (align's cross blocks, 40000 x 40000, are 12.8 GB) is refused
 * under the default.  0 turns the check off.
 */
#define MUDSC_MATCHER_MAX_MEMORY_DEFAULT ((int64_t)8 << 30)

#define MUDSC_MATCHER_OPTIONS_INIT                                                              \
	{                                                                                           \
		sizeof(mudsc_matcher_options), MUDSC_METHOD_ALIGN, 0.5, MUDSC_SIMILARITY_CORRELATION,   \
			0.5, 0.5, 1.0, 1, 100, 5, 0, 0, 1e-7, NULL, NULL, MUDSC_MATCHER_MAX_MEMORY_DEFAULT, \
			MUDSC_PRECISION_F32, 0.1, MUDSC_SWEEP_RANDOM                                        \
	}

/** Fill *opts with the defaults (opts->size included).  NULL: MUDSC_E_INVALID. */
MUDSC_API mudsc_status mudsc_matcher_options_init(mudsc_matcher_options *opts);

/**
 * Create a matcher for n_models >= 2 models described by graph.  The graph
 * is validated against every model (mudsc_graph_validate) and bound tensors
 * must agree in dtype and shape across models (MUDSC_E_MISMATCH).  The
 * matcher only reads the models, and keeps them immutable: each model not
 * yet frozen is frozen (as by mudsc_model_freeze; the flag is atomic, so
 * matchers created on several threads may share models).  Graph and models
 * must outlive the matcher unchanged.  opts may be NULL for the defaults;
 * out-of-range options give MUDSC_E_INVALID naming the field.  A point with
 * no binding is MUDSC_E_INVALID naming the point.  A problem whose run or
 * merge would take more memory than opts->max_memory is MUDSC_E_NOMEM
 * (see MUDSC_MATCHER_MAX_MEMORY_DEFAULT).
 */
MUDSC_API mudsc_status mudsc_matcher_new(mudsc_matcher **out, const mudsc_graph *graph,
                                         const mudsc_model *const *models, int32_t n_models,
                                         const mudsc_matcher_options *opts);

/** Free a matcher.  NULL is a no-op. */
MUDSC_API void mudsc_matcher_free(mudsc_matcher *matcher);

/**
 * Give point `point` its activation statistics: the accumulator's NC x NC
 * correlation is copied (its covariance for MUDSC_METHOD_CCA; the
 * accumulator may be freed afterwards).  The
 * accumulator must have the matcher's number of models and the point's
 * width (MUDSC_E_MISMATCH).  A cross-block accumulator (MUDSC_STATS_CROSS)
 * gives the blocks of model 0 against each model and their mirror, 0
 * elsewhere: all that align reads; with opts->method = MUDSC_METHOD_ZIP it
 * is MUDSC_E_UNSUPPORTED (zip needs the full mode).  Activations must be
 * given for every point or for none (checked by run()); this call drops
 * statistics on demand (mudsc_matcher_set_stats() and its kin) if any
 * were set.  MUDSC_E_NOMEM, before anything is copied, when a run with
 * activations for every point would exceed opts->max_memory.
 */
MUDSC_API mudsc_status mudsc_matcher_set_activations(mudsc_matcher *matcher, size_t point,
                                                     mudsc_accum *accum);

/**
 * Give point `point` an activation similarity S_a computed by the host:
 * len = (N*C)^2 doubles, row-major, finite, exactly symmetric.  Copied.
 * For MUDSC_METHOD_CCA it is the stacked covariance instead.
 * The memory budget is checked as by mudsc_matcher_set_activations().
 */
MUDSC_API mudsc_status mudsc_matcher_set_activation_similarity(mudsc_matcher *matcher,
                                                               size_t point, const double *S_a,
                                                               size_t len);

/**
 * Statistics on demand: the source of every point's activation statistics
 * is a statistics set (mudsc_matcher_set_stats(), stats.h), a statistics
 * file (mudsc_matcher_set_stats_file()) or a host callback
 * (mudsc_matcher_set_stats_callback()).  The matcher reads a point's
 * statistics whenever it matches that point -- once for the activation
 * initialisation, then once per sweep -- and computes its S_a into one
 * buffer of the widest point; it never keeps all points' dense matrices.
 * The three sources give bit-identical results, the same as
 * mudsc_matcher_set_activations() of every point's accumulator.  Setting a
 * source replaces any activations given before (and the previous source).
 *
 * Peak memory of mudsc_matcher_run() with statistics on demand, in bytes
 * (the models' own memory not counted), with N models, point widths C_p,
 * W = max_p N C_p, X = (N-1) (max_p C_p)^2, T = min(threads, N - 1), G_p
 * the groups (1 without), I = opts->max_iter and align, which holds a
 * point's S_a and S as its (N-1) x C_p x C_p anchor blocks (model 0
 * against each model i: all that align reads) and whose S_w is the cached
 * cross blocks counted in F (docs/algorithm.md section 25):
 *     H + 8 X + L                         (opts->alpha = 0)
 *     H + 8 X + 8 X + F + L               (alpha > 0: S_a and S)
 *   L = 8 (9 sum_p N C_p + I) + max_p [40 N C_p + T (65 C_p / G_p + B_p)],
 *       B_p = 8 (G_p^2 + G_p C_p + G_p + C_p) for G_p > 1, else 0
 *       (the correspondences, the kept ones and the assignments);
 *   F = the weight features and align's cached cross blocks, as without
 *       activations (16 N C_p per point and the widest point's 8 (N-1) C_p^2
 *       of blocks; the other points' blocks are kept between matchings,
 *       beyond this figure, only while all points' total at most 1 GiB and
 *       the figure plus them fits opts->max_memory (or max_memory = 0),
 *       else a point's are released after it is matched; plus the widest point's
 *       features: in float32 one chunk of unit rows, at most
 *       max(2^24, N C_p) floats since a larger tensor is cut into blocks
 *       of columns, a block of 512 x C_p product floats and per worker
 *       the float copy of at most 2^24 elements of a 16-bit tensor
 *       (read in place otherwise), section 25);
 *   H = the statistics the matcher holds: for mudsc_matcher_set_stats()
 *       the set's file bytes (docs/stats-format.md), about
 *       8 sum_p (2 N C_p + N C_p (N C_p + 1) / 2) in the full mode and
 *       8 sum_p (3 N C_p + (N-1) C_p^2) in the cross mode; 0 for a file
 *       (mapped: its pages are the page cache's, read a point at a time)
 *       and for the callback (the host's).
 * Zip holds S_w, S and S_a dense: 8 W^2 each in place of 8 X, and S_w
 * beside F.  mudsc_matcher_set_stats*() check
 * this figure against opts->max_memory (MUDSC_E_NOMEM, the message giving
 * the figure), counting one point at a time.
 */

/**
 * A host's source of statistics: set *out to point `point`'s accumulator
 * (the matcher's point index, its name and width given), or return an
 * error status (passed on by mudsc_matcher_run(), with the point named).
 * The accumulator is borrowed: the matcher reads it (its correlation,
 * processing buffered observations) before the callback is called again or
 * run() returns, and never frees it.  It must have the matcher's N and the
 * point's width (MUDSC_E_MISMATCH), observations, and for zip the full
 * mode (MUDSC_E_UNSUPPORTED).  Called on the thread that called run().
 */
typedef mudsc_status (*mudsc_stats_point_fn)(mudsc_accum **out, size_t point, const char *name,
                                             int64_t width, void *user);

/**
 * Statistics on demand from a statistics file (docs/stats-format.md,
 * either mode), mapped, not read: every rule of mudsc_stats_load() is
 * checked now (all values are read once), and every matcher point must be
 * in the file by name with its width, the file's N the matcher's
 * (MUDSC_E_MISMATCH naming the point); a cross-block file with zip is
 * MUDSC_E_UNSUPPORTED.  The file must stay unchanged while the matcher
 * lives.  All or nothing.  Errors: MUDSC_E_INVALID (NULL), MUDSC_E_IO,
 * MUDSC_E_PARSE, MUDSC_E_MISMATCH, MUDSC_E_STATE (a point without
 * observations), MUDSC_E_UNSUPPORTED, MUDSC_E_NOMEM (also the memory
 * budget, see "Statistics on demand").
 */
MUDSC_API mudsc_status mudsc_matcher_set_stats_file(mudsc_matcher *matcher, const char *path);

/**
 * Statistics on demand from a host callback (see mudsc_stats_point_fn),
 * called with `user` whenever run() matches a point.  Nothing is checked
 * before run() but the memory budget (H = 0).  Errors: MUDSC_E_INVALID
 * (NULL matcher or fn), MUDSC_E_NOMEM (the budget).
 */
MUDSC_API mudsc_status mudsc_matcher_set_stats_callback(mudsc_matcher *matcher,
                                                        mudsc_stats_point_fn fn, void *user);

/**
 * Run the matching.  Errors: MUDSC_E_STATE (activations for some points
 * only), MUDSC_E_CANCELLED, MUDSC_E_NUMERIC (zip constraints leave no merge),
 * MUDSC_E_NOMEM.  On error the previous results (if any) are kept.
 */
MUDSC_API mudsc_status mudsc_matcher_run(mudsc_matcher *matcher);

/** Number of sweeps of the last run (0 for activation-only matching; -1 before any run). */
MUDSC_API int32_t mudsc_matcher_sweeps(const mudsc_matcher *matcher);

/** The sweep whose correspondences were kept (-1: the activation initialisation). */
MUDSC_API int32_t mudsc_matcher_best_sweep(const mudsc_matcher *matcher);

/**
 * The objective of each sweep of the last run (mean over points of the
 * combined matched similarity); *needed = the sweeps.  The sizing rule of
 * array getters (common.h).  MUDSC_E_STATE before a successful run.
 */
MUDSC_API mudsc_status mudsc_matcher_objectives(double *out, size_t capacity, size_t *needed,
                                                const mudsc_matcher *matcher);

/**
 * Point results of the last run: *width_out = C' (C for align), and
 * scores[0..2] = mean matched S_w, S_a and S (NaN where not computed).
 * Either output may be NULL.  MUDSC_E_STATE before a successful run,
 * MUDSC_E_RANGE for a bad point.
 */
MUDSC_API mudsc_status mudsc_matcher_point_result(int64_t *width_out, double *scores,
                                                  const mudsc_matcher *matcher, size_t point);

/**
 * The merged unit of every stacked unit u = i*C + c of the point
 * (*needed = N*C).  This is the correspondence: P[u, out[u]] = 1; the merge
 * matrix of model i is its block with each column divided by model i's
 * member count, the unmerge matrix the block itself.  The sizing rule of
 * array getters (common.h); MUDSC_E_RANGE for a bad point, MUDSC_E_STATE
 * (with capacity > 0) before a successful run.
 */
MUDSC_API mudsc_status mudsc_matcher_assignment(int64_t *out, size_t capacity, size_t *needed,
                                                const mudsc_matcher *matcher, size_t point);

/** Which matrix mudsc_matcher_matrix() returns. */
typedef enum mudsc_matrix_kind {
	MUDSC_MATRIX_MERGE = 0,  /**< M_i: model i's block of P, each non-empty column divided by
	                              model i's member count (for align: the permutation; for
	                              CCA: the dense transform) */
	MUDSC_MATRIX_UNMERGE = 1 /**< U_i: model i's block of P (0/1; for CCA: M_i^-T) */
} mudsc_matrix_kind;

/**
 * Model `model`'s C x C' merge or unmerge matrix of the point, row-major
 * (*needed = C * C'; C' from mudsc_matcher_point_result()).  The sizing
 * rule of array getters (common.h); MUDSC_E_STATE before a successful run,
 * MUDSC_E_RANGE for a bad point or model, MUDSC_E_INVALID for a bad kind.
 */
MUDSC_API mudsc_status mudsc_matcher_matrix(double *out, size_t capacity, size_t *needed,
                                            const mudsc_matcher *matcher, size_t point,
                                            int32_t model, mudsc_matrix_kind kind);

/**
 * Align only: out[j] (*needed = C) = the unit of `model` matched to anchor
 * unit j (the identity for model 0).  The sizing rule of array getters
 * (common.h); MUDSC_E_RANGE for a bad point or model, MUDSC_E_STATE (with
 * capacity > 0) before a successful run or for zip results.
 */
MUDSC_API mudsc_status mudsc_matcher_permutation(int64_t *out, size_t capacity, size_t *needed,
                                                 const mudsc_matcher *matcher, size_t point,
                                                 int32_t model);

/**
 * The merged model: every tensor of model 0's order, bound ones transformed
 * and averaged with weights (n_models values, NULL = 1/N each), other float
 * tensors averaged, non-float ones (BatchNorm's num_batches_tracked) taken
 * from model 0.  Tensors keep their dtype.  Owned: mudsc_model_free().
 */
MUDSC_API mudsc_status mudsc_matcher_merge(mudsc_model **out, const mudsc_matcher *matcher,
                                           const double *weights);

/**
 * Model `model` brought into the merged order without averaging (for align:
 * model i permuted into model 0's order), for hosts that interpolate
 * themselves.  Owned: mudsc_model_free().
 */
MUDSC_API mudsc_status mudsc_matcher_transform(mudsc_model **out, const mudsc_matcher *matcher,
                                               int32_t model);

/**
 * The merged model of mudsc_matcher_merge() written straight to a
 * safetensors file at path, tensor by tensor: the header is computed
 * first from the merged shapes, then each tensor is computed and written
 * in model 0's order.  The file's bytes are those of mudsc_matcher_merge()
 * followed by mudsc_model_save() (no metadata).  Memory: instead of the
 * whole merged model, one window of tensors at a time, `threads` tensors
 * (see "Threads"), each holding its merged bytes and three double stage
 * buffers of itself as scratch.  A bound tensor of more than 2^21 stage
 * elements whose first axis is unbound or matched by an assignment (every
 * large tensor of align and zip: embeddings, lm_head, MLP weights) is
 * computed and written in blocks of rows instead, `threads` sub-blocks of
 * about 2^21 stage elements each (3 x 16 MiB of doubles per thread, plus
 * the block's bytes), with the same bytes; so the extra memory is about
 * max(threads x 50 MiB, 3 x 8 bytes x the largest tensor that cannot be
 * cut: a tensor split into parts, a CCA transform on its first axis).
 * Atomic as mudsc_model_save(): on any error, cancellation included,
 * nothing is left at path and a file already there is unchanged.
 * Progress: opts.progress (if set) is called on the calling thread before
 * each tensor k with (point = k, sweep = -1, score = the fraction of the
 * data bytes written so far), and once after the file is in place with
 * (point = the tensor count, sweep = -1, score = 1); returning non-zero
 * before a tensor cancels: MUDSC_E_CANCELLED.
 * Errors: MUDSC_E_INVALID (NULL matcher or path, a weight not finite:
 * "weights[i]"), MUDSC_E_STATE (no successful run), MUDSC_E_IO (naming
 * path: a folder that does not exist or cannot be written, a full disk),
 * MUDSC_E_CANCELLED, MUDSC_E_NOMEM.
 */
MUDSC_API mudsc_status mudsc_matcher_merge_to_file(const mudsc_matcher *matcher, const char *path,
                                                   const double *weights);

/**
 * mudsc_matcher_transform() written straight to a safetensors file, as
 * mudsc_matcher_merge_to_file() (same streaming, atomicity, progress and
 * errors; MUDSC_E_RANGE for a bad model).
 */
MUDSC_API mudsc_status mudsc_matcher_transform_to_file(const mudsc_matcher *matcher,
                                                       const char *path, int32_t model);

/* ---- randomly permuted copies (the function-preservation check) ------ */

/**
 * A copy of `model` with the units of every point of `graph` (or only of
 * point `point`; -1 = all) permuted at random: each bound axis is
 * permuted by its point's permutation, through splits, concatenations and
 * repeated bindings exactly as the matcher moves units, and tensors bound
 * to no point are copied unchanged.  A graph that describes the network
 * correctly leaves its function unchanged by this (up to rounding: the
 * copy's values are the model's, moved), which is the check
 * mudsc.torch.verify_graph() runs and a C host can run with its own
 * forward pass (docs/tracing.md).
 * Point p's permutation depends only on seed and p (mudsc_permute_point()
 * gives it); with groups G it shuffles each block of width/G consecutive
 * units within itself.  The graph is checked against the model first
 * (mudsc_graph_validate()'s errors, under this function's name);
 * MUDSC_E_RANGE for point < -1 or past the end.  *out is owned by the
 * caller (mudsc_model_free()); model is only read.
 */
MUDSC_API mudsc_status mudsc_permute_model(mudsc_model **out, const mudsc_graph *graph,
                                           const mudsc_model *model, uint64_t seed,
                                           int64_t point);

/**
 * The permutation mudsc_permute_model() applies to point `point` with
 * seed: out[j] (*needed = width) = the original unit placed at position j
 * (as PyTorch indexing W[out]).  The sizing rule of array getters
 * (common.h); MUDSC_E_RANGE for a point past the end.
 */
MUDSC_API mudsc_status mudsc_permute_point(int64_t *out, size_t capacity, size_t *needed,
                                           const mudsc_graph *graph, size_t point, uint64_t seed);

/* ---- alpha search ------------------------------------------------------ */

/**
 * Scores a candidate of mudsc_matcher_search_alpha(): *score receives how
 * good `merged` is (higher is better, finite), typically its accuracy on
 * held-out data; merged is borrowed during the call only.  Return 0 to go
 * on, non-zero to cancel the search.
 */
typedef int (*mudsc_score_fn)(double *score, const mudsc_model *merged, double alpha,
                              void *user);

/**
 * Alpha search (docs/algorithm.md section 18): for each alphas[k] in order
 * (n_alphas >= 1 values in [0, 1]), run the matcher with that alpha, merge
 * with weights (as mudsc_matcher_merge(); NULL = 1/N) and call
 * score(&s, merged, alphas[k], user).  The activation statistics and the
 * graph's weight features are prepared once and reused by every candidate.
 * Afterwards the matcher holds the results of the first candidate with the
 * highest score, and its options' alpha is that candidate's;
 * *best_alpha (may be NULL) receives it and scores (may be NULL; else
 * n_alphas doubles) every candidate's score.
 * Errors: MUDSC_E_INVALID (NULL matcher, alphas or score, n_alphas = 0,
 * alphas[k] outside [0, 1], a non-finite weight), MUDSC_E_NUMERIC (a
 * non-finite score, naming k), MUDSC_E_CANCELLED (score returned
 * non-zero), the errors of mudsc_matcher_run() and mudsc_matcher_merge().
 * On error the matcher keeps its alpha and the results it had before the
 * call, and the outputs are untouched.  Every candidate uses one alpha at
 * every point: per-point alphas set before (mudsc_matcher_set_point_alphas)
 * are dropped on success, kept on error.
 */
MUDSC_API mudsc_status mudsc_matcher_search_alpha(double *best_alpha, double *scores,
                                                  mudsc_matcher *matcher, const double *alphas,
                                                  size_t n_alphas, const double *weights,
                                                  mudsc_score_fn score, void *user);

/* ---- per-point alphas (docs/algorithm.md section 24) -------------------- */

/**
 * Per-point alphas: mudsc_matcher_run() then re-matches point p from
 * S = alphas[p] S_w + (1 - alphas[p]) S_a instead of opts.alpha (the loop
 * sweeps when any alphas[p] > 0; without activations every alpha is taken
 * as 1).  n_points = the graph's point count, values in [0, 1], copied.
 * alphas = NULL: back to opts.alpha at every point.  The results change at
 * the next run.  Errors: MUDSC_E_INVALID (NULL matcher, n_points differing
 * from the graph's, a value outside [0, 1]), MUDSC_E_NOMEM; on error
 * nothing changes.
 */
MUDSC_API mudsc_status mudsc_matcher_set_point_alphas(mudsc_matcher *matcher,
                                                      const double *alphas, size_t n_points);

/**
 * The alpha each point is matched with (per-point alphas, or opts.alpha
 * at every point when none are set): the sizing rule of array getters
 * (common.h), *needed = the graph's point count.  MUDSC_E_INVALID for a
 * NULL matcher.
 */
MUDSC_API mudsc_status mudsc_matcher_point_alphas(double *out, size_t capacity, size_t *needed,
                                                  const mudsc_matcher *matcher);

/**
 * Alpha search with per-point alphas (docs/algorithm.md section 24): first
 * the global search of mudsc_matcher_search_alpha() over alphas (one alpha
 * everywhere, a* the first best); then up to `rounds` coordinate rounds:
 * for each point p in graph order, every other value of alphas is tried at
 * p with the other points' alphas fixed (run, merge with weights,
 * score(&s, merged, the value tried at p, user)), and the first value with
 * the highest score is kept if it is strictly better than the best so far.
 * A round that changes no point ends the search.  Candidates: n_alphas +
 * at most rounds * P * (n_alphas - 1).  The statistics and weight features
 * are prepared once for all (as the global search).  rounds = 0 is the
 * global search.  Afterwards the matcher holds the best candidate's
 * results, its per-point alphas (mudsc_matcher_point_alphas()) and
 * opts.alpha = a*; point_alphas (may be NULL; else the graph's point count
 * doubles) and *best_score (may be NULL) receive them and the best score.
 * Errors: those of mudsc_matcher_search_alpha() (naming this function) and
 * MUDSC_E_INVALID for rounds < 0.  On error the matcher keeps its alpha,
 * per-point alphas and results from before the call, and the outputs are
 * untouched.
 */
MUDSC_API mudsc_status mudsc_matcher_search_point_alphas(double *point_alphas, double *best_score,
                                                         mudsc_matcher *matcher,
                                                         const double *alphas, size_t n_alphas,
                                                         int32_t rounds, const double *weights,
                                                         mudsc_score_fn score, void *user);

MUDSC_END_DECLS

#endif /* MUDSC_MATCHER_H */
