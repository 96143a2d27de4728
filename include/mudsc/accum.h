/*
 * mudsc_accum: exact, streaming, mergeable activation statistics for one
 * merge point and N models (the S_a of docs/algorithm.md section 2).
 *
 * The host streams each model's features in chunks; the accumulator keeps
 * O((N*C)^2) state whatever the stream length and returns, at any time, the
 * NC x NC Pearson correlation (and covariance, means, standard deviations)
 * of the stacked features Z = [X_0 ... X_{N-1}], exact over the whole
 * stream.  Accumulators over disjoint data merge (Chan's parallel formula)
 * and serialize to a versioned byte format (docs in mudsc_accum_serialize()).
 *
 * Numerics: every feature u is shifted by a constant s_u (the mean of the
 * first chunk its model delivered), so the shifted values are of the size
 * of the spread, not of the mean.  The shifted rows are gathered into a
 * block; the block's Z'Z is one BLAS syrk (ssyrk on float for F32, F16 and
 * BF16 input, dsyrk on double for F64 input) added into double sums; the
 * column sums are kept in double.  At the end
 *     mu = s + S1/n,  Sigma = S2/n - (S1/n)(S1/n)'   (population, divided by n)
 * which is stable because S1/n is small against the spread.  Shifts are
 * rounded to float values, so for float input x - s is one rounding.
 * Each block's syrk also covers a column of ones, which yields the column
 * sums.  Accuracy measured by bench/accum_accuracy.py: 10^6 observations
 * with means 1e4 times the spread, F32 input, every correlation within
 * 1e-7 of float64 NumPy (3.4e-7 when each model's first chunk is a single
 * observation, the poorest shift: a first chunk of many observations is
 * best).
 *
 * Range (docs/algorithm.md 2.7): the sums never overflow.  An update's
 * values must lie within the float range (|x| <= FLT_MAX ~ 3.4e38, for
 * every dtype, F64 included) and, with float rows, within
 * sqrt(FLT_MAX / (2 block_rows)) of their shift (2.0e17 with blocks of
 * 4096), so that no block's float sums can overflow; a value past either
 * bound is MUDSC_E_NUMERIC naming the model, the chunk, the position and
 * the feature (whatever the non-finite policy), and nothing of the chunk
 * is consumed.  (F64 rows take any spread within the float range.)  Hence
 * every result is finite, serialize always writes bytes deserialize
 * accepts, and deserialize and merge refuse states past the same range
 * (|mean| past the float range, a centred sum of products past 2^990).
 *
 * Threads: an accumulator belongs to one thread at a time; use one per
 * thread and merge them.  Its thread count is opts->threads (0 = the
 * process-wide count mudsc_blas_get_threads(), read at each call).  The
 * finalisation of the covariance and the correlation uses it (their rows;
 * small results stay on the calling thread), and so do a cross-block
 * update's moments and the additions of its products into the double
 * sums (ranges of units and of entries), with bit-identical results for
 * every count.  With BLIS the BLAS calls of updates use it too, each
 * call with its own BLIS runtime object; with OpenBLAS the BLAS count is
 * the host's, process-wide (mudsc_blas_set_threads()), never changed by
 * the library.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_ACCUM_H
#define MUDSC_ACCUM_H

#include "common.h"

MUDSC_BEGIN_DECLS

/** Opaque streaming accumulator for one merge point and N models. */
typedef struct mudsc_accum mudsc_accum;

/** What update() does with a NaN or infinite input value. */
typedef enum mudsc_nonfinite {
	MUDSC_NONFINITE_ERROR = 0, /**< fail with MUDSC_E_NUMERIC naming model, chunk and position */
	MUDSC_NONFINITE_ZERO = 1   /**< replace the value by 0 (what the paper's code does) */
} mudsc_nonfinite;

/**
 * What an accumulator keeps (opts->mode).  Cross-block statistics are what
 * align needs and no more: the C x C cross blocks of model 0 with each
 * model i and every unit's mean and variance, 8 ((N-1) C^2 + 2 N C) bytes
 * of sums instead of 8 (NC)^2.  Each block of observations costs N-1
 * GEMMs (sgemm for float rows, dgemm for F64 rows) of C x C over the
 * block's rows, added into double sums, plus the units' sums and sums of
 * squares in double; the shifts, the range rules and the accuracy are the
 * full mode's (docs/algorithm.md sections 2 and 14).  Such an accumulator
 * has no NC x NC results: mudsc_accum_correlation() and _covariance() are
 * MUDSC_E_UNSUPPORTED; use mudsc_accum_cross_correlation().  The matcher
 * takes it for align, and refuses it for zip (MUDSC_E_UNSUPPORTED: zip
 * needs every pair, the full mode).
 */
typedef enum mudsc_stats_mode {
	MUDSC_STATS_FULL = 0, /**< the NC x NC sums of products (default): align and zip */
	MUDSC_STATS_CROSS = 1 /**< the cross blocks of model 0 with each model and the units'
	                           moments: align only */
} mudsc_stats_mode;

/**
 * Options of mudsc_accum_new() and mudsc_accum_deserialize().  Start from
 * MUDSC_ACCUM_OPTIONS_INIT or mudsc_accum_options_init(); the struct grows
 * as described in common.h ("Options structs that grow").  The number of
 * observations per BLAS block is a tuning knob of the experimental API
 * (mudsc_accum_set_block_rows() in experimental.h; default 4096).
 */
typedef struct mudsc_accum_options {
	size_t size;              /**< sizeof(mudsc_accum_options) */
	int32_t nonfinite;        /**< a mudsc_nonfinite; default MUDSC_NONFINITE_ERROR */
	int64_t max_lead;         /**< how many observations one model may be ahead of the
	                               slowest model (they are buffered until the others'
	                               matching observations arrive); default 16384, >= 0 */
	int32_t threads;          /**< the accumulator's thread count, >= 0; 0 (default) = the
	                               process-wide setting (mudsc_blas_get_threads()); see
	                               "Threads" above */
	/* ---- fields appended after 0.2.0's first struct (see common.h) ---- */
	int32_t mode;             /**< a mudsc_stats_mode; default MUDSC_STATS_FULL.  Ignored by
	                               mudsc_accum_deserialize() and the statistics-set loaders:
	                               the bytes say their mode */
} mudsc_accum_options;

/** Default options. */
#define MUDSC_ACCUM_OPTIONS_INIT { sizeof(mudsc_accum_options), 0, 16384, 0, MUDSC_STATS_FULL }

/** Fill *opts with the defaults (same as MUDSC_ACCUM_OPTIONS_INIT).  NULL: MUDSC_E_INVALID. */
MUDSC_API mudsc_status mudsc_accum_options_init(mudsc_accum_options *opts);

/**
 * A borrowed view of a chunk of one model's features: a tensor of any rank
 * whose axis `feature_axis` has the point's width C; every index of the
 * other axes (in C order) is one observation.  Examples: NCHW conv
 * features with feature_axis 1 (B*H*W observations); (B, T, C) tokens
 * with feature_axis -1; (n, C) rows with feature_axis 1 or -1.
 */
typedef struct mudsc_features {
	int32_t dtype;                 /**< a mudsc_dtype: F32, F64, F16 or BF16 */
	int32_t rank;                  /**< 1 .. MUDSC_MAX_RANK */
	int64_t shape[MUDSC_MAX_RANK]; /**< first `rank` entries, each >= 0 */
	const int64_t *strides;        /**< element (not byte) strides, `rank` entries, may be
	                                    negative or 0; NULL = C order (contiguous) */
	int32_t feature_axis;          /**< the axis holding the C features; negative counts
	                                    from the end (-1 = last) */
	const void *data;              /**< first element; may be unaligned; NULL only if empty */
} mudsc_features;

/**
 * Create an accumulator for n_models >= 2 models of width >= 1 features.
 * opts may be NULL (defaults).  Memory: 8 (NC)^2 bytes of double sums,
 * plus, allocated at the first update, a block result of (NC+1)^2 floats,
 * and a row buffer of (NC + 1, padded to 16) floats per row (doubles for
 * both if that first update is F64).  Cross mode (opts->mode): 8 ((N-1)
 * C^2 + 2 NC) bytes of sums, a block result of C^2 floats, rows of NC
 * (padded to 16) floats, no ones column.  The row buffer grows with use, by
 * doubling, to the rows the models' lead actually needs, at most
 * block_rows + max_lead rows (block_rows being 4096 unless
 * mudsc_accum_set_block_rows() says otherwise): a large max_lead costs
 * nothing until a model runs that far ahead.  It does not grow with the
 * stream.  Free it with mudsc_accum_free().
 * Errors: MUDSC_E_INVALID (NULL out, n_models < 2, width < 1, bad options,
 * sizes that are not addressable: N*C > INT_MAX, or 8 (NC)^2 bytes of sums
 * or the largest row buffer overflowing size_t, the message says which),
 * MUDSC_E_NOMEM.
 */
MUDSC_API mudsc_status mudsc_accum_new(mudsc_accum **out, int32_t n_models, int64_t width,
                                       const mudsc_accum_options *opts);

/** Free an accumulator.  NULL is a no-op. */
MUDSC_API void mudsc_accum_free(mudsc_accum *accum);

/** Number of models N. */
MUDSC_API int32_t mudsc_accum_models(const mudsc_accum *accum);

/** Width C of each model's features. */
MUDSC_API int64_t mudsc_accum_width(const mudsc_accum *accum);

/**
 * Add a chunk of model `model`'s features: its next observations, in
 * order.  Model i's k-th observation must be the same input as model j's
 * k-th: chunks of different models may interleave and have different
 * sizes.  Observations of a model that is ahead of the slowest one are
 * buffered (at most opts->max_lead of them).  The data are read during
 * the call only.  The first update of a model fixes that model's shift.
 * The first update of the accumulator fixes its rows' type (float, or
 * double if that update is F64); an update allocates only when the models'
 * lead needs more buffered rows than ever before (MUDSC_E_NOMEM then).
 * On error nothing is consumed.
 * Errors: MUDSC_E_INVALID (NULL, bad dtype), MUDSC_E_RANGE (model out of
 * [0, N)), MUDSC_E_SHAPE (rank, axis or width != C), MUDSC_E_STATE (the
 * model would be more than max_lead observations ahead), MUDSC_E_NUMERIC
 * (non-finite value with the default policy; the message names the model,
 * the chunk (the model's k-th accepted non-empty update, from 0) and the
 * position as an index of the view; also, under either policy, for a
 * value outside the float range or, with float rows, farther from its
 * shift than the block bound, see "Range" above), MUDSC_E_RANGE (the
 * model's count would pass INT64_MAX / 2), MUDSC_E_INVALID (strides whose
 * byte offsets overflow int64, naming features->strides[d]), MUDSC_E_NOMEM.
 */
MUDSC_API mudsc_status mudsc_accum_update(mudsc_accum *accum, int32_t model,
                                          const mudsc_features *features);

/**
 * Observations model `model` has delivered (*out), or with model = -1 the
 * number every model has delivered (the count the statistics cover).
 * Errors: MUDSC_E_INVALID (NULL), MUDSC_E_RANGE (model).
 */
MUDSC_API mudsc_status mudsc_accum_count(int64_t *out, const mudsc_accum *accum, int32_t model);

/**
 * The NC x NC Pearson correlation, row-major, unit u = i*C + c:
 * S[a][b] = Sigma[a][b] / max(sigma_a sigma_b, 1e-7), exactly symmetric.
 * The sizing rule of array getters (common.h): *needed = NC*NC; with
 * capacity 0 only the size is asked (no other check is made).
 * Statistics are not consumed: more updates (and more results) may
 * follow.  The call processes buffered complete observations, hence the
 * non-const accumulator.
 * Errors: MUDSC_E_INVALID (NULL accum, or NULL out with capacity > 0),
 * MUDSC_E_RANGE (capacity < NC*NC), MUDSC_E_MISMATCH (the models'
 * observation counts differ), MUDSC_E_STATE (no observations yet),
 * MUDSC_E_UNSUPPORTED (a cross-block accumulator, with capacity > 0).  out
 * is untouched on error.
 */
MUDSC_API mudsc_status mudsc_accum_correlation(double *out, size_t capacity, size_t *needed,
                                               mudsc_accum *accum);

/** The NC x NC population covariance (divided by n), row-major, symmetric.  As _correlation(). */
MUDSC_API mudsc_status mudsc_accum_covariance(double *out, size_t capacity, size_t *needed,
                                              mudsc_accum *accum);

/**
 * The cross blocks of the correlation, both modes: out[((i-1) C + a) C + b]
 * = S[a][i*C + b] of mudsc_accum_correlation() (model 0's unit a against
 * model i's unit b, i = 1..N-1), *needed = (N-1) C^2.  A full-mode
 * accumulator gives exactly the bits of the NC x NC correlation's entries.
 * As _correlation() (but for no mode MUDSC_E_UNSUPPORTED).
 */
MUDSC_API mudsc_status mudsc_accum_cross_correlation(double *out, size_t capacity,
                                                     size_t *needed, mudsc_accum *accum);

/** The accumulator's mudsc_stats_mode (MUDSC_STATS_FULL for NULL). */
MUDSC_API int32_t mudsc_accum_mode(const mudsc_accum *accum);

/** The NC means (*needed = NC).  As _correlation(), every mode. */
MUDSC_API mudsc_status mudsc_accum_means(double *out, size_t capacity, size_t *needed,
                                         mudsc_accum *accum);

/** The NC population standard deviations sqrt(max(Sigma[u][u], 0)).  As _means(), every mode. */
MUDSC_API mudsc_status mudsc_accum_stddevs(double *out, size_t capacity, size_t *needed,
                                           mudsc_accum *accum);

/**
 * Add src's statistics into dst: afterwards dst describes the union of the
 * two streams (Chan's parallel formula, in double); src is unchanged
 * (apart from processing its buffered complete observations).  dst and src
 * must have the same N, C and mode (MUDSC_E_MISMATCH) and no unmatched buffered
 * observations (MUDSC_E_MISMATCH, see mudsc_accum_count()).  dst keeps its
 * options and shifts.  dst == src: MUDSC_E_INVALID.  A union past the
 * range the sums hold (a mean outside the float range, a centred sum of
 * products past 2^990; see "Range") is MUDSC_E_NUMERIC naming the models
 * and features, a count past INT64_MAX / 2 MUDSC_E_RANGE; dst is
 * unchanged then.
 */
MUDSC_API mudsc_status mudsc_accum_merge(mudsc_accum *dst, mudsc_accum *src);

/**
 * Serialize the statistics to bytes; *out_buf is owned by the caller
 * (free with mudsc_free()).  Requires equal observation counts
 * (MUDSC_E_MISMATCH otherwise).  Format, version 1, all integers and
 * floats little-endian (IEEE binary64):
 *   offset 0   8 bytes  magic "MUDSCACC"
 *          8   u32      format version (1)
 *         12   u32      flags (0)
 *         16   u64      N
 *         24   u64      C
 *         32   u64      n, observations
 *         40   f64[NC]  means mu
 *              f64[NC(NC+1)/2]  centred sums of products M[a][b] = sum (z_a - mu_a)(z_b - mu_b),
 *                       upper triangle row by row (a <= b)
 *              u64      FNV-1a 64 hash of every byte before it
 * Cross mode (flags bit 0 set, the same version: readers that refuse
 * unknown flags refuse it), after n:
 *         40   f64[NC]  means mu
 *              f64[NC]  centred sums of squares M[u][u]
 *              f64[(N-1) C^2]  M[a][i*C + b], model 0's unit a against model
 *                       i's unit b, i = 1..N-1 then a then b
 *              u64      FNV-1a 64 hash of every byte before it
 * Options (non-finite policy, max_lead, threads) and block_rows are not
 * stored; the mode is (the flags).
 */
MUDSC_API mudsc_status mudsc_accum_serialize(void **out_buf, size_t *out_len, mudsc_accum *accum);

/**
 * Rebuild an accumulator from mudsc_accum_serialize() bytes, with the given
 * options (NULL = defaults; the mode is the bytes').  Checks size, magic,
 * version, flags (0 or 1), N >= 2,
 * C >= 1, the hash, finite values, non-negative variances, means within
 * the float range (|mean| <= FLT_MAX + 2^102, which still rounds to
 * FLT_MAX), centred sums of products within 2^990, and all values 0 when
 * n = 0; any failure is MUDSC_E_PARSE naming the rule.  Bytes written by
 * mudsc_accum_serialize() always pass (a mean rounded past FLT_MAX is
 * written as FLT_MAX).  The result accepts further updates
 * and merges.
 */
MUDSC_API mudsc_status mudsc_accum_deserialize(mudsc_accum **out, const void *buf, size_t len,
                                               const mudsc_accum_options *opts);

MUDSC_END_DECLS

#endif /* MUDSC_ACCUM_H */
