/*
 * Private state of mudsc_accum, shared by accum.c (creation, the block
 * consumer and results), merge.c and serialize.c.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_ACCUM_INTERNAL_H
#define MUDSC_ACCUM_INTERNAL_H

#include <stdbool.h>

#include "core/core.h"
#include "mudsc/accum.h"
#include "mudsc/experimental.h"
#include "stream/stream.h"

/*
 * Statistics: mudsc__stream_done(stream) observations are in the sums.
 * For stacked unit u with shift s_u (the engine's, mudsc__stream_shifts),
 * sum[u] = sum_k (z_ku - s_u) and prod[a*nc + b] (a <= b, the upper
 * triangle only) = sum_k (z_ka - s_a)(z_kb - s_b), all double.
 *
 * The streaming engine (lib/stream) reads the chunks, buffers the models
 * that are ahead and hands complete blocks of shifted rows, with a ones
 * column, to the accumulator: one syrk per block (into the engine-held
 * workspace) gives the products and, in its last column, the column sums.
 */
struct mudsc_accum {
	int32_t n_models;
	int64_t width;
	size_t nc;                   /* n_models * width */
	mudsc__stream *stream;
	int32_t threads;             /* options.threads: 0 = the process-wide count */
	int32_t mode;                /* a mudsc_stats_mode */
	double *sum;                 /* nc */
	double *prod;                /* full: nc * nc, upper triangle used; cross: NULL */
	double *sq;                  /* cross: nc, sum_k (z_ku - s_u)^2; full: NULL */
	double *cross;               /* cross: (N-1) C C, [(i-1) C + a] C + b =
	                                sum_k (z_k,a - s_a)(z_k,iC+b - s_iC+b); full: NULL */
};

/*
 * A point's raw statistics wherever they live -- an accumulator, or the
 * tensors of a statistics file (any alignment: read with memcpy) -- for
 * the one finalisation of correlations (accum.c), so that an accumulator
 * and a file of its state give the same bits.  prod: the full mode's
 * products, dense nc x nc (packed false, an accumulator) or the packed
 * upper triangle (packed true, a file); sq and cross: the cross mode's.
 */
struct mudsc__accum_raw {
	int32_t mode, n_models;
	int64_t width, count;
	size_t nc;
	bool packed;
	const void *sum, *prod, *sq, *cross;
};

/* The raw view of an accumulator (settled by the caller). */
void mudsc__accum_raw_of(struct mudsc__accum_raw *r, const mudsc_accum *acc);

/* Point p's activation similarity S (nc x nc, row-major) from raw
 * statistics with count > 0, on ex's threads: the full mode's correlation
 * (anchor_only false: every entry, the bits of mudsc_accum_correlation()),
 * or only the blocks of model 0 against each model i and their mirror,
 * every other entry 0 (cross mode, or anchor_only).  sd: nc doubles of
 * scratch.  Cannot fail. */
void mudsc__accum_raw_similarity(double *S, const struct mudsc__accum_raw *r, bool anchor_only,
                                double *sd, const struct mudsc__exec *ex);

/* The anchor blocks of that similarity, (N-1) x C x C (block i-1, row a,
 * column b = S[a, iC + b]: the matcher's align layout), the same bits as
 * mudsc__accum_raw_similarity() there, any mode.  Cannot fail. */
void mudsc__accum_raw_anchor_blocks(double *X, const struct mudsc__accum_raw *r, double *sd,
                                   const struct mudsc__exec *ex);

/* Point p's NC x NC population covariance from full-mode raw statistics
 * with count > 0: the bits of mudsc_accum_covariance() (the CCA
 * matcher's statistics on demand).  Cannot fail. */
void mudsc__accum_raw_covariance(double *S, const struct mudsc__accum_raw *r,
                                 const struct mudsc__exec *ex);

/*
 * What the sums hold (docs/algorithm.md 2.7): updates take values within
 * the float range and float rows within their block bound (lib/stream), so
 * their sums stay far below these limits; deserialize and merge, the two
 * other ways in, refuse states past them, so that every state serializes
 * to bytes deserialize accepts and every result is finite.
 *   MUDSC__ACCUM_MEAN_MAX  |mean|: FLT_MAX plus a quarter of its float ulp
 *                          (still FLT_MAX as a float, the shift)
 *   MUDSC__ACCUM_M_MAX     |centred sum of products| = 2^990: a sum of
 *                          products over n <= 2^62 observations of values
 *                          within the float range is < 2^320, which the
 *                          rounding of an entry near 2^990 absorbs, and a
 *                          correlation entry (<= M_MAX / 1e-7) stays finite
 */
#define MUDSC__ACCUM_MEAN_MAX 0x1.fffffe8p+127
#define MUDSC__ACCUM_M_MAX 0x1p+990

/* An accumulator's activation similarity into S (nc x nc) as
 * mudsc__accum_raw_similarity() (anchor_only false): the errors of
 * mudsc_accum_correlation() (MUDSC_E_MISMATCH, MUDSC_E_STATE) named fn,
 * MUDSC_E_NOMEM; any mode. */
mudsc_status mudsc__accum_similarity(double *S, mudsc_accum *acc, const char *fn);

/* mudsc__accum_similarity() into the anchor-block layout
 * (mudsc__accum_raw_anchor_blocks()), with its errors. */
mudsc_status mudsc__accum_anchor_blocks(double *X, mudsc_accum *acc, const char *fn);

/* Checked options: the engine's configuration (its sizes are set by
 * mudsc__accum_create()) and the accumulator's thread count. */
struct mudsc__accum_config {
	mudsc__stream_config stream;
	int32_t threads;
	int32_t mode;
};

/* Options (NULL = defaults) checked and turned into *out; MUDSC_E_INVALID
 * names fn. */
mudsc_status mudsc__accum_options_check(struct mudsc__accum_config *out,
                                       const mudsc_accum_options *in, const char *fn);

/* An accumulator with zeroed statistics for n_models >= 2 x width >= 1 and
 * a checked configuration; MUDSC_E_INVALID (naming fn, with the size or
 * that it overflows size_t) if its sizes are too large, MUDSC_E_NOMEM. */
mudsc_status mudsc__accum_create(mudsc_accum **out, int32_t n_models, int64_t width,
                                const struct mudsc__accum_config *cfg, const char *fn);

/* ---- raw state (lib/stats: one file for a set) ----------------------- */

/* Entries of the packed upper triangle of the products: nc (nc + 1) / 2
 * (full mode), or of the cross blocks: (N-1) C^2 (cross mode). */
size_t mudsc__accum_packed(const mudsc_accum *acc);

/* Settle (MUDSC_E_MISMATCH naming fn if the models' counts differ), then
 * copy the raw state: shift[nc], sum[nc] (sum_k (z_ku - s_u)), then
 * full mode: second = prod[packed] (the products' upper triangle row by
 * row, a <= b), third unused (may be NULL); cross mode: second = sq[nc],
 * third = cross[(N-1) C C] (as struct mudsc_accum), or NULL: not copied
 * (mudsc__accum_raw_of() reads them in place); and the observation
 * count.  Output pointers may be unaligned (memcpy). */
mudsc_status mudsc__accum_raw_get(mudsc_accum *acc, void *shift, void *sum, void *second,
                                 void *third, int64_t *count, const char *fn);

/* The checks of raw state (r packed, shift[nc]) before it is used:
 * MUDSC_E_PARSE naming fn and what (the point's name, say) unless the
 * count is in [0, INT64_MAX / 2], shifts are float values, sums and
 * products are finite, everything is 0 when the count is 0, and the means
 * and centred sums of products are within what the sums hold
 * (MUDSC__ACCUM_MEAN_MAX, MUDSC__ACCUM_M_MAX). */
mudsc_status mudsc__accum_raw_check(const struct mudsc__accum_raw *r, const void *shift,
                                   const char *fn, const char *what);

/* Replace a fresh accumulator's state (nothing streamed into it yet) by
 * raw state as written by mudsc__accum_raw_get() (inputs may be
 * unaligned), checked first by mudsc__accum_raw_check(): nothing changes
 * on failure. */
mudsc_status mudsc__accum_raw_set(mudsc_accum *acc, const void *shift, const void *sum,
                                 const void *second, const void *third, int64_t count,
                                 const char *fn, const char *what);

/* mudsc_accum_merge() in two steps for a set of accumulators that must
 * merge all or nothing: _merge_check() settles both and makes every check
 * of the merge (same statuses, messages naming fn), changing no
 * statistics; _merge_apply() then merges and cannot fail.  work holds at
 * least dst's nc doubles. */
mudsc_status mudsc__accum_merge_check(mudsc_accum *dst, mudsc_accum *src, double *work,
                                     const char *fn);
void mudsc__accum_merge_apply(mudsc_accum *dst, const mudsc_accum *src, double *work);

#endif /* MUDSC_ACCUM_INTERNAL_H */
