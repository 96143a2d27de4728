/*
 * ModelGiF: the functional distance of N models over one input space by
 * their gradient fields (docs/algorithm.md section 14), streamed,
 * mergeable and savable, and the quadrature rules of its path.
 *
 * For an input x, a baseline b and path points x_k = b + t_k (x - b)
 * (k = 1..K, the nodes t_k and weights w_k of a rule on [0, 1]), the host
 * computes each model's input-gradient g_k = d f_target(x_k) / dx (autograd)
 * and streams it in; the library forms the field curve
 *     F(x, k) = (x - b) * sum_{j <= k} w_j g_j        (elementwise)
 * and keeps, for every pair of models (f, h), the running sums of
 * 1 - cos(F_f(x, k), F_h(x, k)) in double.  The distance is their mean over
 * the inputs and the steps: an N x N matrix, symmetric, 0 on the diagonal,
 * each entry in [0, 2].
 *
 * Streaming order.  The host opens a batch of B inputs with
 * mudsc_field_begin() (the inputs and the baselines, once), then streams
 * each model's gradients for the batch in step-major order: model i's
 * observations are (step 1, inputs 1..B), (step 2, inputs 1..B), ...,
 * (step K, inputs 1..B), in chunks of any size (a (B, D) array per step,
 * or a (S, B, D) array of S steps).  The models' chunks may interleave in
 * any way, but a model may be at most opts->max_lead observations ahead
 * of the slowest: the library keeps O(N * D * (B + lead)) doubles, never
 * O(N * D * K * inputs).  So the cheap order is, per batch, per step, per
 * model (lead B); a host that runs one model through all K steps of a
 * batch before the next model needs max_lead >= K * B and that memory.
 * The batch closes by itself when every model has delivered its B * K
 * observations; the next mudsc_field_begin() opens the next batch.
 *
 * Threads: a handle belongs to one thread at a time; use one per thread
 * (each a shard of the inputs) and merge them.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_FIELD_H
#define MUDSC_FIELD_H

#include "common.h"
#include "accum.h"

MUDSC_BEGIN_DECLS

/** Quadrature rules of [0, 1] (mudsc_quadrature()). */
typedef enum mudsc_quad_rule {
	MUDSC_QUAD_GAUSS_LEGENDRE = 0, /**< Gauss-Legendre (Golub-Welsch): exact on degree 2K-1 */
	MUDSC_QUAD_RIEMANN_LEFT = 1,   /**< t_k = (k-1)/K, w_k = 1/K */
	MUDSC_QUAD_RIEMANN_RIGHT = 2,  /**< t_k = k/K, w_k = 1/K */
	MUDSC_QUAD_RIEMANN_MIDDLE = 3, /**< t_k = (k-1/2)/K, w_k = 1/K */
	MUDSC_QUAD_RIEMANN_TRAPEZOID = 4 /**< t_k = (k-1)/(K-1), w_k = 1/(K-1), halved at the
	                                      ends; K >= 2 */
} mudsc_quad_rule;

/** The largest number of steps K of a rule (the Golub-Welsch eigenvectors are K x K). */
#define MUDSC_QUAD_MAX_STEPS 4096

/**
 * The nodes t_1 < ... < t_K in [0, 1] (nodes[0..steps-1]) and weights
 * (weights[0..steps-1], positive, summing to 1) of a rule with K = steps
 * points.  Gauss-Legendre: the Golub-Welsch method (the eigenvalues and
 * first eigenvector components of the Jacobi matrix of the Legendre
 * polynomials, LAPACK dstev), symmetrised about 1/2; nodes and weights
 * within 1e-14 of the closed forms, the rule integrating polynomials of
 * degree <= 2K-1 to 1e-14 relative.  Riemann rules: the closed forms in
 * mudsc_quad_rule (K >= 2 for the trapezoid).
 * Errors: MUDSC_E_INVALID (NULL nodes or weights, rule not a
 * mudsc_quad_rule, steps outside 1..MUDSC_QUAD_MAX_STEPS or 1 for the
 * trapezoid), MUDSC_E_NUMERIC (the eigenvalue iteration failed),
 * MUDSC_E_NOMEM.  On error nothing is written.
 */
MUDSC_API mudsc_status mudsc_quadrature(double *nodes, double *weights, int32_t rule,
                                        int64_t steps);

/** Opaque field-distance accumulator for N models and inputs of size D. */
typedef struct mudsc_field mudsc_field;

/**
 * Options of mudsc_field_new() (and the streaming knobs of
 * mudsc_field_load_buffer()).  Start from MUDSC_FIELD_OPTIONS_INIT or
 * mudsc_field_options_init(); the struct grows as common.h describes.
 */
typedef struct mudsc_field_options {
	size_t size;         /**< sizeof(mudsc_field_options) */
	int32_t rule;        /**< a mudsc_quad_rule; default MUDSC_QUAD_GAUSS_LEGENDRE */
	int32_t steps;       /**< K, the path points; default 50 (as the public code) */
	int32_t nonfinite;   /**< a mudsc_nonfinite for gradients; default MUDSC_NONFINITE_ERROR */
	int32_t keep_inputs; /**< 1: keep each input's distances (mudsc_field_input_distances(),
	                          N(N-1)/2 doubles per input); default 0 */
	int64_t max_lead;    /**< observations one model may be ahead of the slowest (buffered,
	                          N * D doubles each when used); default 16384, >= 0 */
	int64_t block_rows;  /**< complete observations processed together; default 256,
	                          1..2^31-1 (memory: N * D doubles each) */
} mudsc_field_options;

/** Default options. */
#define MUDSC_FIELD_OPTIONS_INIT { sizeof(mudsc_field_options), 0, 50, 0, 0, 16384, 256 }

/** Fill *opts with the defaults (same as MUDSC_FIELD_OPTIONS_INIT).  NULL: MUDSC_E_INVALID. */
MUDSC_API mudsc_status mudsc_field_options_init(mudsc_field_options *opts);

/**
 * Create an accumulator for n_models >= 2 models whose inputs have
 * input_size >= 1 values (D: a C x H x W image has D = C*H*W).  opts may
 * be NULL (defaults).  Memory: (K + 1) N^2 doubles of sums; per batch of
 * B inputs (N + 1) B D doubles (the running sums and x - b), plus the
 * row buffer of opts->block_rows + the models' lead rows of N * D doubles.
 * Free with mudsc_field_free().
 * Errors: MUDSC_E_INVALID (NULL out, n_models < 2, input_size < 1, bad
 * options naming opts->field), MUDSC_E_NOMEM.
 */
MUDSC_API mudsc_status mudsc_field_new(mudsc_field **out, int32_t n_models, int64_t input_size,
                                       const mudsc_field_options *opts);

/** Free an accumulator.  NULL is a no-op. */
MUDSC_API void mudsc_field_free(mudsc_field *field);

/** N (0 for NULL). */
MUDSC_API int32_t mudsc_field_models(const mudsc_field *field);

/** D (0 for NULL). */
MUDSC_API int64_t mudsc_field_input_size(const mudsc_field *field);

/** K (0 for NULL). */
MUDSC_API int32_t mudsc_field_steps(const mudsc_field *field);

/** The rule, a mudsc_quad_rule (-1 for NULL). */
MUDSC_API int32_t mudsc_field_rule(const mudsc_field *field);

/** Inputs of the closed batches so far, merged shards included (0 for NULL). */
MUDSC_API int64_t mudsc_field_inputs(const mudsc_field *field);

/**
 * The path's nodes t_k and weights w_k (mudsc_quadrature() of the
 * handle's rule and K), K entries each; either may be NULL.  The host
 * evaluates its models at x_k = b + t_k (x - b).
 * Errors: MUDSC_E_INVALID (NULL field).
 */
MUDSC_API mudsc_status mudsc_field_points(double *nodes, double *weights,
                                          const mudsc_field *field);

/**
 * Open a batch: inputs and baselines are mudsc_features views whose
 * feature axis has D entries and whose other axes (C order) are the B
 * inputs of the batch (a (B, D) array with feature_axis 1 or -1; any
 * float dtype and strides as for activations).  baselines NULL means
 * zeros; otherwise it has the B observations of inputs.  The library keeps
 * x - b in double.  B = 0 is allowed (an empty batch, closed at once).
 * Errors: MUDSC_E_INVALID (NULL field or inputs, a bad view),
 * MUDSC_E_SHAPE (a view's width is not D, or baselines' B differs),
 * MUDSC_E_NUMERIC (a non-finite input or baseline, whatever the policy),
 * MUDSC_E_STATE (the previous batch is not complete), MUDSC_E_NOMEM.
 * On error the handle is unchanged.
 */
MUDSC_API mudsc_status mudsc_field_begin(mudsc_field *field, const mudsc_features *inputs,
                                         const mudsc_features *baselines);

/**
 * Add model `model`'s next gradient observations of the open batch
 * (step-major: observation s * B + b is step s+1 of input b), a view of
 * width D as mudsc_accum_update() takes (its dtype, rank, strides and
 * feature axis rules).  Gradients are read as double; non-finite values
 * follow opts->nonfinite.  The batch closes when every model has
 * delivered its B * K observations.  Precision: the first gradients the
 * handle takes fix how it buffers them: F32, F16 or BF16 ones as float
 * (their values exactly; a later F64 chunk is then rounded to float once),
 * F64 ones as double; every sum is double either way.  Range: with float
 * buffering, |g| <= sqrt(FLT_MAX / (2 opts->block_rows)) (8.1e17 with the
 * default 256); with double buffering |g| <= FLT_MAX.
 * Errors: MUDSC_E_INVALID (NULL, a bad view), MUDSC_E_RANGE (model),
 * MUDSC_E_SHAPE (width), MUDSC_E_STATE (no open batch, more than the
 * batch's B * K observations, a lead past opts->max_lead),
 * MUDSC_E_NUMERIC (non-finite with the error policy; a value past the
 * float range), MUDSC_E_NOMEM.  On error nothing of the chunk is taken.
 */
MUDSC_API mudsc_status mudsc_field_update(mudsc_field *field, int32_t model,
                                          const mudsc_features *gradients);

/**
 * Add src's sums into dst: same N, D, rule, K and keep_inputs
 * (MUDSC_E_MISMATCH naming the first that differs).  Merged in any order,
 * shards give the distances of one stream to rounding (1e-12 relative);
 * with keep_inputs, src's inputs follow dst's.  Neither may have an open
 * batch (MUDSC_E_STATE); dst == src is MUDSC_E_INVALID; MUDSC_E_NOMEM.
 * All or nothing; src is unchanged.
 */
MUDSC_API mudsc_status mudsc_field_merge(mudsc_field *dst, const mudsc_field *src);

/**
 * The N x N distances (row-major, sizing rule of common.h: capacity
 * N * N): entry (f, h) is the mean over the inputs and the K steps of
 * 1 - cos(F_f(x, k), F_h(x, k)), computed from double sums; symmetric, 0
 * on the diagonal.  Errors: MUDSC_E_INVALID (NULL field), the sizing
 * errors, and, when asked to write (capacity > 0), MUDSC_E_STATE (an open
 * batch, or no inputs yet).
 */
MUDSC_API mudsc_status mudsc_field_distances(double *out, size_t capacity, size_t *needed,
                                             const mudsc_field *field);

/**
 * Per-step detail: K matrices N x N (step-major, capacity K * N * N), the
 * mean over the inputs of 1 - cos at step k.  Their mean over k is
 * mudsc_field_distances().  Errors as mudsc_field_distances().
 */
MUDSC_API mudsc_status mudsc_field_step_distances(double *out, size_t capacity, size_t *needed,
                                                  const mudsc_field *field);

/**
 * Per-input detail (only with opts->keep_inputs): M matrices N x N, one
 * per input in stream order (merged shards: dst's, then src's), the mean
 * over the steps of 1 - cos (the size counts the closed batches' inputs).
 * Errors as mudsc_field_distances(), and MUDSC_E_STATE without
 * keep_inputs (before the size).
 */
MUDSC_API mudsc_status mudsc_field_input_distances(double *out, size_t capacity,
                                                   size_t *needed, const mudsc_field *field);

/**
 * Serialize the sums (docs/field-format.md, "MUDSCGIF" version 1);
 * *out_buf is the caller's (release with mudsc_free()).  MUDSC_E_STATE
 * with an open batch; MUDSC_E_INVALID (NULL), MUDSC_E_NOMEM.
 */
MUDSC_API mudsc_status mudsc_field_save_buffer(void **out_buf, size_t *out_len,
                                               const mudsc_field *field);

/** Save to a file atomically (as mudsc_model_save()); errors as above, MUDSC_E_IO. */
MUDSC_API mudsc_status mudsc_field_save(const mudsc_field *field, const char *path);

/**
 * Rebuild an accumulator from mudsc_field_save_buffer() bytes: N, D, the
 * rule, K and keep_inputs come from the bytes, the streaming knobs
 * (nonfinite, max_lead, block_rows) from opts (NULL = defaults; its rule,
 * steps and keep_inputs are not used).  Bytes that are not a version-1
 * field, or whose header, length, checksum or sums break a rule of
 * docs/field-format.md, are MUDSC_E_PARSE saying which; MUDSC_E_INVALID
 * (NULL, bad opts), MUDSC_E_NOMEM.  It can stream more batches and be
 * merged; a save of it gives the same bytes.
 */
MUDSC_API mudsc_status mudsc_field_load_buffer(mudsc_field **out, const void *buf, size_t len,
                                               const mudsc_field_options *opts);

/** mudsc_field_load_buffer() of a file; MUDSC_E_IO if unreadable. */
MUDSC_API mudsc_status mudsc_field_load(mudsc_field **out, const char *path,
                                        const mudsc_field_options *opts);

MUDSC_END_DECLS

#endif /* MUDSC_FIELD_H */
