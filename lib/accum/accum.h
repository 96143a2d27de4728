/*
 * Private state of mudsc_accum, shared by accum.c (streaming and results),
 * view.c (reading feature views), merge.c and
 * serialize.c.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_ACCUM_INTERNAL_H
#define MUDSC_ACCUM_INTERNAL_H

#include <stdbool.h>

#include "core/core.h"
#include "mudsc/accum.h"
#include "mudsc/experimental.h"

/* Observations per BLAS block unless mudsc_accum_set_block_rows() says otherwise. */
#define MUDSC__ACCUM_BLOCK_ROWS 4096

/*
 * Statistics: `done` observations are in the sums.  For stacked unit u with
 * shift s_u, sum[u] = sum_k (z_ku - s_u) and prod[a*nc + b] (a <= b, the
 * upper triangle only) = sum_k (z_ka - s_a)(z_kb - s_b), all double.
 *
 * Rows not yet in the sums sit in `rows` (cap rows of ld >= nc + 1
 * elements, float or double, already shifted): buffer row r is observation
 * done + r; model i's columns [i*C, (i+1)*C) are filled for
 * r < seen[i] - done.  Column nc holds 1 in every row, so the block's syrk
 * also yields the column sums (its last column) at BLAS speed.
 *
 * Shifts are always float-representable, so float rows are x - s computed
 * in float (exact shift, one rounding), the same value as through double.
 */
struct mudsc_accum {
	int32_t n_models;
	int64_t width;
	size_t nc;                   /* n_models * width */
	mudsc_accum_options opts;
	int64_t block_rows;          /* observations per syrk (mudsc_accum_set_block_rows) */
	int64_t *seen;               /* per model: observations delivered */
	int64_t *chunks;             /* per model: non-empty chunks accepted (error messages) */
	unsigned char *has_shift;    /* per model: shift fixed by its first chunk */
	int64_t done;
	double *shift;               /* nc */
	double *sum;                 /* nc */
	double *prod;                /* nc * nc, upper triangle used */
	float *shiftf;               /* nc, the shifts as float (exact) */
	double *scratch;             /* width doubles: one gathered row */
	float *rowf;                 /* width floats: one converted F16/BF16 row */
	void *rows;                  /* cap * ld floats or doubles, NULL before the first update */
	void *blk;                   /* (nc+1)^2 floats or doubles: one block's syrk */
	bool rows_f64;
	size_t cap;                  /* rows capacity: block_rows + max_lead */
	size_t ld;                   /* row stride of `rows`, elements */
};

/* Allocate an accumulator with zeroed statistics and no row buffer
 * (arguments already checked). */
mudsc_status mudsc__accum_alloc(mudsc_accum **out, int32_t n_models, int64_t width,
                               const mudsc_accum_options *opts);

/* Move every complete buffered observation into the sums; MUDSC_E_MISMATCH
 * (naming fn) if the models' counts differ. */
mudsc_status mudsc__accum_settle(mudsc_accum *acc, const char *fn);

/* Set shift[u] to value rounded to float (and shiftf[u]); the caller
 * keeps the sums consistent with it. */
void mudsc__accum_set_shift(mudsc_accum *acc, size_t u, double value);

/* Validated options (NULL = defaults) into *out; MUDSC_E_INVALID names fn. */
mudsc_status mudsc__accum_options_check(mudsc_accum_options *out, const mudsc_accum_options *in,
                                       const char *fn);

/* ---- view.c: reading a mudsc_features view ---------------------- */

/* A checked feature view: observations in C order of the non-feature axes. */
struct accum_view {
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
mudsc_status mudsc__accum_view_check(struct accum_view *v, const mudsc_features *x, int64_t width,
                                    const char *fn);

/* Read observation `obs` (0-based, C order) into dst[width] as double.
 * Returns the index of the first non-finite value, or -1. */
int64_t mudsc__accum_view_row(const struct accum_view *v, int64_t obs, double *dst);

/* Address of observation obs's first feature. */
const unsigned char *mudsc__accum_view_at(const struct accum_view *v, int64_t obs);

/* Format the view position of (obs, feature) as "(i0, i1, ...)" into buf. */
void mudsc__accum_view_position(const struct accum_view *v, int64_t obs, int64_t feature,
                               char *buf, size_t len);

#endif /* MUDSC_ACCUM_INTERNAL_H */
