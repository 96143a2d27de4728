/*
 * Inside the stream room: the engine's state (stream.c), the checked view
 * of a chunk (view.c) and the routes that write a chunk's observations
 * into buffer rows (rows.c).  Not part of the door: consumers see only
 * stream.h.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_STREAM_ENGINE_H
#define MUDSC_STREAM_ENGINE_H

#include "stream/stream.h"

/*
 * Buffer row r is observation done + r; model i's columns [i*w, (i+1)*w)
 * are filled for r < seen[i] - done.  With the ones column, column nc
 * holds 1 in every row (rows move whole, so it stays in place).  Shifts
 * are float values, shiftf the same values as float.
 */
struct mudsc__stream {
	mudsc__stream_config cfg;
	mudsc__stream_consumer consumer;
	void *ctx;
	size_t nc;                /* n_models * width */
	void *state;              /* one allocation: the arrays below up to rowf, and has_shift */
	int64_t *seen;            /* per model: observations delivered */
	int64_t *chunks;          /* per model: non-empty chunks accepted (error messages) */
	unsigned char *has_shift; /* per model: shift fixed by its first chunk */
	int64_t done;             /* observations handed to the consumer */
	double *shift;            /* nc */
	float *shiftf;            /* nc */
	double *scratch;          /* width doubles: one gathered row */
	double *saved;            /* width doubles: a model's shifts before its first chunk */
	float *rowf;              /* width floats: one converted F16/BF16 row */
	void *rows;               /* alloc * ld floats or doubles, NULL until rows are needed */
	void *work;               /* the consumer's workspace (its own allocation), or NULL */
	bool started;             /* the first non-empty update fixed rows_f64 and work */
	bool rows_f64;
	size_t alloc;             /* rows allocated: grows with the lead, up to cap */
	size_t cap;               /* rows capacity: block_rows + max_lead */
	size_t ld;                /* row stride of `rows`, elements */
	/* The largest |x - shift| a row holds: sqrt(FLT_MAX / (2 block_rows))
	 * for float rows, so no sum of products over a block can overflow
	 * float; unbounded for double rows (|x| <= FLT_MAX is checked for all). */
	double ymax;
	float ymaxf;              /* the same, a float value */
};

/* ---- view.c: reading a mudsc_features view ---------------------------- */

/* A checked feature view: observations in C order of the non-feature axes. */
struct mudsc__stream_view {
	mudsc_dtype dtype;
	size_t esize;
	const unsigned char *data;
	int32_t orank;                      /* number of observation axes */
	int64_t oshape[MUDSC_MAX_RANK];
	int64_t ostride[MUDSC_MAX_RANK];
	int32_t oaxis[MUDSC_MAX_RANK];      /* axis of the original view (messages) */
	int32_t faxis;
	int64_t fstride;
	int64_t width;
	int64_t nobs;
};

/* Check a view against width (naming fn); fill *v. */
mudsc_status mudsc__stream_view_check(struct mudsc__stream_view *v, const mudsc_features *x,
                                     int64_t width, const char *fn);

/* Read observation `obs` (0-based, C order) into dst[width] as double.
 * Returns the index of the first non-finite value, or -1. */
int64_t mudsc__stream_view_row(const struct mudsc__stream_view *v, int64_t obs, double *dst);

/* Address of observation obs's first feature. */
const unsigned char *mudsc__stream_view_at(const struct mudsc__stream_view *v, int64_t obs);

/* Format the view position of (obs, feature) as "(i0, i1, ...)" into buf. */
void mudsc__stream_view_position(const struct mudsc__stream_view *v, int64_t obs,
                                int64_t feature, char *buf, size_t len);

/* ---- rows.c: a chunk into buffer rows --------------------------------- */

/* Fix model's shift from the chunk (the mean of its observations after the
 * non-finite policy), checking every value on the way; fn names the call. */
mudsc_status mudsc__stream_first_shift(mudsc__stream *s, int32_t model,
                                      const struct mudsc__stream_view *v, const char *fn);

/* Every value of the chunk as the rows will take it: MUDSC_E_NUMERIC
 * (naming fn) at the first non-finite one (policy error), the first one
 * outside the float range, or the first one farther than ymax from its
 * shift (the shift must be fixed). */
mudsc_status mudsc__stream_check_values(const mudsc__stream *s, int32_t model,
                                       const struct mudsc__stream_view *v, const char *fn);

/* Write observations [k0, k0 + cnt) of the view, shifted, into buffer rows
 * from row pos on, model's columns, applying the non-finite policy. */
mudsc_status mudsc__stream_write_rows(mudsc__stream *s, int32_t model,
                                     const struct mudsc__stream_view *v, int64_t k0, size_t cnt,
                                     size_t pos, const char *fn);

#endif /* MUDSC_STREAM_ENGINE_H */
