/*
 * A chunk's observations into the engine's buffer rows, shifted, with the
 * non-finite policy.  Three routes give the same values (whenever x - s is
 * exact in double, see stream.h): float rows from contiguous features
 * (aligned F32 read in place, F16/BF16 converted to a float row first),
 * float rows from features strided but observations contiguous (NCHW: each
 * feature's run read contiguously and scattered down the rows), and the
 * general route through double for everything else (double rows, other
 * strides, unaligned F32, and any row holding a non-finite value, where
 * the policy applies).
 *
 * SPDX-License-Identifier: MIT
 */
#include <float.h>
#include <inttypes.h>
#include <math.h>

#include "stream/engine.h"

static mudsc_status nonfinite_error(const mudsc__stream *s, int32_t model,
                                    const struct mudsc__stream_view *v, int64_t obs, int64_t c,
                                    const char *fn)
{
	char pos[160];

	mudsc__stream_view_position(v, obs, c, pos, sizeof pos);
	return mudsc__err(MUDSC_E_NUMERIC,
	                 "%s: model %d, chunk %" PRId64 ": non-finite value at "
	                 "position %s (observation %" PRId64 " of the chunk, feature %" PRId64 ")",
	                 fn, (int)model, s->chunks[model], pos, obs, c);
}

static mudsc_status range_error(const mudsc__stream *s, int32_t model,
                                const struct mudsc__stream_view *v, int64_t obs, int64_t c,
                                double x, const char *fn)
{
	char pos[160];

	mudsc__stream_view_position(v, obs, c, pos, sizeof pos);
	if (!(fabs(x) <= FLT_MAX))
		return mudsc__err(MUDSC_E_NUMERIC,
		                 "%s: model %d, chunk %" PRId64 ": value %g at position %s (observation "
		                 "%" PRId64 " of the chunk, feature %" PRId64
		                 ") is outside the float range (|x| <= %g), which the sums hold",
		                 fn, (int)model, s->chunks[model], x, pos, obs, c, (double)FLT_MAX);
	return mudsc__err(MUDSC_E_NUMERIC,
	                 "%s: model %d, chunk %" PRId64 ": value %g at position %s (observation %" PRId64
	                 " of the chunk, feature %" PRId64 ") is %g from its shift %g; float rows summed "
	                 "in blocks of %" PRId64 " observations hold at most %g without overflow",
	                 fn, (int)model, s->chunks[model], x, pos, obs, c,
	                 x - s->shift[(size_t)model * (size_t)s->cfg.width + (size_t)c],
	                 s->shift[(size_t)model * (size_t)s->cfg.width + (size_t)c],
	                 s->cfg.block_rows, s->ymax);
}

/* Read observation obs of the view into s->scratch, applying the
 * non-finite policy; every value must then be within the float range
 * (MUDSC_E_NUMERIC otherwise, whatever the policy). */
static mudsc_status read_row(const mudsc__stream *s, int32_t model,
                             const struct mudsc__stream_view *v, int64_t obs, const char *fn)
{
	double *x = s->scratch;
	int64_t bad = mudsc__stream_view_row(v, obs, x);

	if (bad >= 0 && s->cfg.nonfinite == MUDSC_NONFINITE_ERROR)
		return nonfinite_error(s, model, v, obs, bad, fn);
	for (int64_t c = bad; c >= 0 && c < v->width; c++)
		if (!isfinite(x[c]))
			x[c] = 0.0;
	for (int64_t c = 0; c < v->width; c++)
		if (!(fabs(x[c]) <= FLT_MAX))
			return range_error(s, model, v, obs, c, x[c], fn);
	return MUDSC_OK;
}

/* The row in s->scratch (read_row()) shifted by model's shifts must be
 * within s->ymax (the bound float rows' block sums hold). */
static mudsc_status check_shifted(const mudsc__stream *s, int32_t model,
                                  const struct mudsc__stream_view *v, int64_t obs, const char *fn)
{
	const double *sh = s->shift + (size_t)model * (size_t)s->cfg.width;

	for (int64_t c = 0; c < v->width; c++)
		if (!(fabs(s->scratch[c] - sh[c]) <= s->ymax))
			return range_error(s, model, v, obs, c, s->scratch[c], fn);
	return MUDSC_OK;
}

/* The chunk's mean per feature, so later shifted values are of the size of
 * the spread.  Checks every value too (nothing is consumed if one is bad). */
mudsc_status mudsc__stream_first_shift(mudsc__stream *s, int32_t model,
                                      const struct mudsc__stream_view *v, const char *fn)
{
	const size_t w = (size_t)s->cfg.width, col = (size_t)model * w;
	double *sum = s->shift + col;
	mudsc_status st;

	for (size_t c = 0; c < w; c++)
		sum[c] = 0.0;
	for (int64_t k = 0; k < v->nobs; k++) {
		st = read_row(s, model, v, k, fn);
		if (st != MUDSC_OK)
			return st;
		for (size_t c = 0; c < w; c++)
			sum[c] += s->scratch[c];
	}
	for (size_t c = 0; c < w; c++)
		mudsc__stream_set_shift(s, col + c, sum[c] / (double)v->nobs);
	s->has_shift[model] = 1;
	return MUDSC_OK;
}

mudsc_status mudsc__stream_check_values(const mudsc__stream *s, int32_t model,
                                       const struct mudsc__stream_view *v, const char *fn)
{
	mudsc_status st;

	for (int64_t k = 0; k < v->nobs; k++)
		if ((st = read_row(s, model, v, k, fn)) != MUDSC_OK ||
		    (st = check_shifted(s, model, v, k, fn)) != MUDSC_OK)
			return st;
	return MUDSC_OK;
}

/* dst = src - sh in float (sh is exact in float, one rounding, the value
 * the double route gives); returns nonzero if a shifted value is not
 * within ymax (a non-finite source value included).  Blocks of 8 with a fixed inner count: -O2 vectorizes them (SLP)
 * where it leaves a plain loop of unknown count scalar. */
static int shift_row_f32(float *restrict dst, const float *restrict src,
                         const float *restrict sh, size_t n, float ymax)
{
	int bad = 0;
	size_t c = 0;

	for (; c + 8 <= n; c += 8) {
		int b8[8];
		for (int j = 0; j < 8; j++) {
			const float y = src[c + j] - sh[c + j];
			b8[j] = !(fabsf(y) <= ymax);
			dst[c + j] = y;
		}
		for (int j = 0; j < 8; j++)
			bad |= b8[j];
	}
	for (; c < n; c++) {
		const float y = src[c] - sh[c];
		bad |= !(fabsf(y) <= ymax);
		dst[c] = y;
	}
	return bad;
}

/* The route for float rows from contiguous features.  False when it does
 * not apply or met a value out of range (non-finite, or shifted past ymax) (the general route then handles the
 * row, with the non-finite policy). */
static bool fast_row(mudsc__stream *s, const struct mudsc__stream_view *v, int64_t obs,
                     float *dst, const float *sh)
{
	const size_t w = (size_t)s->cfg.width;
	const unsigned char *p;
	const float *src;

	if (s->rows_f64 || v->fstride != 1 || v->dtype == MUDSC_DTYPE_F64)
		return false;
	p = mudsc__stream_view_at(v, obs);
	if (v->dtype == MUDSC_DTYPE_F32) {
		if ((uintptr_t)p % _Alignof(float) != 0)
			return false;
		src = (const float *)(const void *)p;
	} else {
		mudsc__convert_to_f32(v->dtype, p, w, s->rowf);
		src = s->rowf;
	}
	return shift_row_f32(dst, src, sh, w, s->ymaxf) == 0;
}

/* Features strided, observations contiguous (NCHW with features on axis
 * 1): how many observations from obs on lie along the innermost
 * observation axis, at most max; 0 when that route does not apply. */
static size_t run_length(const mudsc__stream *s, const struct mudsc__stream_view *v,
                         int64_t obs, size_t max)
{
	int64_t inner, left;

	if (s->rows_f64 || v->fstride == 1 || v->orank == 0 || v->ostride[v->orank - 1] != 1)
		return 0;
	inner = v->oshape[v->orank - 1];
	left = inner - obs % inner;
	return (size_t)left < max ? (size_t)left : max;
}

/* The route for `run` observations along a contiguous axis: read each
 * feature's run contiguously and scatter it down the buffer's rows (a
 * transpose).  False if a value is out of range (the per-row route then
 * applies the non-finite policy and reports it); the rows written are then rewritten. */
static bool fast_run(mudsc__stream *s, const struct mudsc__stream_view *v, int64_t obs,
                     size_t run, float *dst, const float *sh)
{
	const unsigned char *p = mudsc__stream_view_at(v, obs);
	const ptrdiff_t fstep = (ptrdiff_t)v->fstride * (ptrdiff_t)v->esize;
	const mudsc_dtype dtype = v->dtype;
	const size_t ld = s->ld;
	const float ymax = s->ymaxf;
	int bad = 0;

	if (dtype == MUDSC_DTYPE_F64)
		return false;
	for (int64_t c = 0; c < s->cfg.width; c++) {
		const unsigned char *q = p + c * fstep;
		const float sc = sh[c];
		for (size_t j = 0; j < run; j++) {
			const float y = mudsc__load_f32(dtype, q, j) - sc;
			bad |= !(fabsf(y) <= ymax);
			dst[j * ld + (size_t)c] = y;
		}
	}
	return !bad;
}

/* Observation obs into buffer row `row` by the general route: through
 * double, with the non-finite policy. */
static mudsc_status write_row_general(mudsc__stream *s, int32_t model,
                                      const struct mudsc__stream_view *v, int64_t obs,
                                      size_t row, const char *fn)
{
	const size_t w = (size_t)s->cfg.width, col = (size_t)model * w;
	const double *sh = s->shift + col;
	const double *x = s->scratch;
	mudsc_status st = read_row(s, model, v, obs, fn);

	if (st == MUDSC_OK)
		st = check_shifted(s, model, v, obs, fn);
	if (st != MUDSC_OK)
		return st;
	if (s->rows_f64) {
		double *dst = (double *)s->rows + row * s->ld + col;
		for (size_t c = 0; c < w; c++)
			dst[c] = x[c] - sh[c];
	} else {
		float *dst = (float *)s->rows + row * s->ld + col;
		for (size_t c = 0; c < w; c++)
			dst[c] = (float)(x[c] - sh[c]);
	}
	return MUDSC_OK;
}

mudsc_status mudsc__stream_write_rows(mudsc__stream *s, int32_t model,
                                     const struct mudsc__stream_view *v, int64_t k0, size_t cnt,
                                     size_t pos, const char *fn)
{
	const size_t col = (size_t)model * (size_t)s->cfg.width;
	float *const rowsf = s->rows_f64 ? NULL : (float *)s->rows;
	const float *const sh = s->shiftf + col;
	mudsc_status st;
	size_t k = 0;

	while (k < cnt) {
		const int64_t obs = k0 + (int64_t)k;
		size_t run = run_length(s, v, obs, cnt - k);
		if (run > 1 && fast_run(s, v, obs, run, rowsf + (pos + k) * s->ld + col, sh)) {
			k += run;
			continue;
		}
		if (run == 0)
			run = 1;
		for (size_t j = k; j < k + run; j++) {
			if (rowsf && fast_row(s, v, k0 + (int64_t)j, rowsf + (pos + j) * s->ld + col, sh))
				continue;
			st = write_row_general(s, model, v, k0 + (int64_t)j, pos + j, fn);
			if (st != MUDSC_OK)
				return st;
		}
		k += run;
	}
	return MUDSC_OK;
}
