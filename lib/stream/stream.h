/*
 * The stream room's door: the N-model row reader that every streaming
 * statistic of the library is fed by.
 *
 * A host streams each of N models' features in chunks (mudsc_features
 * views: F16, BF16, F32 or F64, any rank, a feature axis of `width`
 * entries, element strides that may be negative or 0).  Model i's k-th
 * observation and model j's k-th are the same input, but the models'
 * chunks arrive separately, interleaved and of different sizes.  The engine
 * reads each observation once, applies the non-finite policy, subtracts
 * its model's shift, and writes it into a row of its buffer:
 *
 *     row r = [ model 0's width values | model 1's | ... | 1 (optional) | pad ]
 *
 * for observation done + r.  A model that is ahead of the slowest waits in
 * the buffer (at most max_lead observations).  Whenever block_rows
 * observations are complete in every model, the engine hands them to its
 * consumer as one block; settling (mudsc__stream_settle) also hands over
 * the last, partial block.  Blocks arrive in stream order, each row exactly
 * once.
 *
 * Consumers.  The consumer owns what is computed from the rows; the engine
 * owns everything about reading them.
 *   - mudsc_accum (lib/accum), the first: one syrk per block of the rows
 *     with their ones column gives the sums of products and the column
 *     sums; it keeps only those sums, merge, serialization and the results.
 *   - The ModelGiF field accumulator (lib/field), the second: N models,
 *     D = width gradient values per observation (one input at one path
 *     point), streamed per model; per observation it needs all N models'
 *     D-vectors side by side for pairwise work (dot products and norms of
 *     the field curves).  It configures shift = false (cosines need the raw
 *     values), ones = false, rows = AUTO (float rows hold F32/F16/BF16
 *     gradients exactly; F64 ones get double rows), and uses
 *     mudsc__stream_block.first, counted from the open batch's first
 *     observation, to know which (step, input) a row is; it settles at the
 *     end of every batch.  Merged or loaded shards need no engine state (the
 *     field's sums are per batch).  It also reads its inputs and baselines
 *     through a one-model engine of its own, for the view rules and checks.
 *   - Cross-block statistics (a later issue) read the same rows with
 *     their own GEMMs.
 *
 * Numbers (docs/algorithm.md sections 2.1, 2.2 and 2.4 state them for the
 * accumulator).  A shift is the mean of its feature over the model's first
 * non-empty chunk (summed in double in observation order, after the
 * non-finite policy), rounded to a float value.  Double rows hold x - s in
 * double.  Float rows hold x - s rounded once to float: computed in float
 * on the fast routes (s is a float value), through double elsewhere, the
 * same value whenever x - s is exact in double.  A non-finite value is an
 * error (MUDSC_E_NUMERIC naming the model, its chunk and the position as an
 * index of the view; nothing of the chunk is consumed) or is replaced by 0
 * before shifting.
 *
 * Threads: an engine belongs to one thread at a time (its owner's).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_STREAM_ROOM_H
#define MUDSC_STREAM_ROOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "mudsc/accum.h"

/* Observations per block unless configured otherwise. */
#define MUDSC__STREAM_BLOCK_ROWS 4096
/* Observations a model may be ahead unless configured otherwise. */
#define MUDSC__STREAM_MAX_LEAD 16384

/* The rows' element type. */
typedef enum mudsc__stream_rows {
	MUDSC__STREAM_ROWS_AUTO = 0, /* float, or double if the first non-empty chunk is F64 */
	MUDSC__STREAM_ROWS_F32 = 1,
	MUDSC__STREAM_ROWS_F64 = 2
} mudsc__stream_rows;

/* What an engine reads and how.  Start from mudsc__stream_config_init(). */
typedef struct mudsc__stream_config {
	int32_t n_models;   /* >= 1 */
	int64_t width;      /* features of each model per observation, >= 1 */
	int32_t nonfinite;  /* a mudsc_nonfinite */
	int64_t max_lead;   /* observations a model may be ahead of the slowest, >= 0 */
	int64_t block_rows; /* observations per block, 1..INT_MAX */
	int32_t rows;       /* a mudsc__stream_rows */
	bool shift;         /* subtract each model's first-chunk mean (else rows are x) */
	bool ones;          /* column n_models * width of every row holds 1 */
} mudsc__stream_config;

/* Complete observations handed to the consumer. */
typedef struct mudsc__stream_block {
	const void *rows; /* nrows rows, ld elements apart: float, or double if f64 */
	size_t nrows;     /* 1..block_rows */
	size_t ld;        /* >= n_models * width (+ 1 with the ones column), a multiple of 16 */
	bool f64;
	int64_t first;    /* stream index of the block's first observation */
	void *work;       /* the consumer's workspace (see work_bytes), or NULL */
} mudsc__stream_block;

/* The consumer's side.  consume must not fail: every value was checked
 * before the engine accepted it, so a block is only ever arithmetic. */
typedef struct mudsc__stream_consumer {
	/* Bytes of workspace handed with every block (64-byte aligned, zeroed
	 * once), asked once at the first non-empty update, by then the rows'
	 * type is fixed.  NULL: none. */
	size_t (*work_bytes)(void *ctx, bool f64);
	void (*consume)(void *ctx, const mudsc__stream_block *block);
} mudsc__stream_consumer;

typedef struct mudsc__stream mudsc__stream;

/* Defaults: nonfinite error, MUDSC__STREAM_MAX_LEAD, MUDSC__STREAM_BLOCK_ROWS,
 * rows AUTO, shift on, no ones column. */
void mudsc__stream_config_init(mudsc__stream_config *cfg, int32_t n_models, int64_t width);

/* MUDSC_E_INVALID naming fn and `what` unless 1 <= rows <= INT_MAX: the one
 * range check of a block size (options field or setter argument). */
mudsc_status mudsc__stream_check_block_rows(int64_t rows, const char *what, const char *fn);

/* Whether the engine's sizes are addressable: n_models * width <= INT_MAX
 * (BLAS ints) and the row buffer's (block_rows + max_lead) rows. */
bool mudsc__stream_fits(const mudsc__stream_config *cfg);

/* A new engine (no row buffer yet: updates allocate it as the models'
 * lead needs rows, doubling, up to block_rows + max_lead rows).
 * cfg must be in range (callers check with their own messages; otherwise
 * MUDSC_E_INVALID); ctx is passed to the consumer's calls.  MUDSC_E_NOMEM. */
mudsc_status mudsc__stream_new(mudsc__stream **out, const mudsc__stream_config *cfg,
                               const mudsc__stream_consumer *consumer, void *ctx);
void mudsc__stream_free(mudsc__stream *s);

/* Change the block size before the first non-empty update; MUDSC_E_STATE
 * (naming fn) after it, MUDSC_E_INVALID for rows out of range or a buffer
 * that would not be addressable. */
mudsc_status mudsc__stream_set_block_rows(mudsc__stream *s, int64_t rows, const char *fn);

/* Add model's next observations (messages name fn): MUDSC_E_RANGE (model),
 * MUDSC_E_INVALID / MUDSC_E_SHAPE (the view), MUDSC_E_STATE (max_lead),
 * MUDSC_E_NUMERIC (non-finite, policy error), MUDSC_E_NOMEM (the row
 * buffer growing).  On error nothing is consumed.  Complete blocks go to the
 * consumer before it returns. */
mudsc_status mudsc__stream_update(mudsc__stream *s, int32_t model, const mudsc_features *x,
                                  const char *fn);

/* Hand every complete buffered observation to the consumer (the last
 * block may be partial).  MUDSC_E_MISMATCH naming fn if the models'
 * counts differ (nothing is handed over then). */
mudsc_status mudsc__stream_settle(mudsc__stream *s, const char *fn);

/* Observations model `model` delivered; model -1: the smallest count. */
int64_t mudsc__stream_count(const mudsc__stream *s, int32_t model);

/* Observations handed to the consumer so far. */
int64_t mudsc__stream_done(const mudsc__stream *s);

/* The n_models * width shifts (each a float value), zero until set. */
const double *mudsc__stream_shifts(const mudsc__stream *s);

/* Set unit u's shift to value rounded to float.  For a consumer that
 * rebuilds its state (merge, deserialize); it keeps its sums consistent. */
void mudsc__stream_set_shift(mudsc__stream *s, size_t u, double value);

/* After settling: declare that `count` observations are in the consumer's
 * state (merge, deserialize) and every model's shift is fixed if count > 0.
 * Later updates continue from there. */
void mudsc__stream_set_done(mudsc__stream *s, int64_t count);

#endif /* MUDSC_STREAM_ROOM_H */
