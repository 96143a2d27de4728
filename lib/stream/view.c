/*
 * Reading a mudsc_features view (any rank, feature axis, element strides,
 * F32/F64/F16/BF16) one observation at a time.
 *
 * SPDX-License-Identifier: MIT
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "stream/engine.h"

static bool stream_dtype_ok(mudsc_dtype d)
{
	return d == MUDSC_DTYPE_F32 || d == MUDSC_DTYPE_F64 || d == MUDSC_DTYPE_F16 ||
	       d == MUDSC_DTYPE_BF16;
}

/* Every byte offset the reads derive from the strides, (shape[d] - 1) *
 * strides[d] * esize summed over the axes (the positive terms and the
 * negative ones apart: every partial sum lies between those two), must fit
 * int64 (and ptrdiff_t): then view_offset() and the feature steps cannot
 * overflow.  Shapes are >= 1 here. */
static mudsc_status check_offsets(const mudsc_features *x, const char *fn)
{
	const int64_t esize = (int64_t)mudsc_dtype_size(x->dtype);
	int64_t hi = 0, lo = 0, ext;

	for (int32_t d = 0; d < x->rank; d++) {
		if (__builtin_mul_overflow(x->shape[d] - 1, x->strides[d], &ext) ||
		    __builtin_mul_overflow(ext, esize, &ext) ||
		    __builtin_add_overflow(ext > 0 ? hi : lo, ext, ext > 0 ? &hi : &lo) ||
		    (int64_t)(ptrdiff_t)hi != hi || (int64_t)(ptrdiff_t)lo != lo)
			return mudsc__err(MUDSC_E_INVALID,
			                 "%s: features->strides[%d] = %" PRId64 " with shape[%d] = %" PRId64
			                 ": the byte offsets of the view overflow int64",
			                 fn, (int)d, x->strides[d], (int)d, x->shape[d]);
	}
	return MUDSC_OK;
}

mudsc_status mudsc__stream_view_check(struct mudsc__stream_view *v, const mudsc_features *x,
                                     int64_t width, const char *fn)
{
	int64_t cstride[MUDSC_MAX_RANK];
	size_t numel;
	int32_t axis;
	mudsc_status st;

	if (!stream_dtype_ok(x->dtype))
		return mudsc__err(MUDSC_E_INVALID,
		                 "%s: argument 'features': dtype %d is not F32, F64, F16 or BF16", fn,
		                 (int)x->dtype);
	if (x->rank < 1 || x->rank > MUDSC_MAX_RANK)
		return mudsc__err(MUDSC_E_SHAPE, "%s: argument 'features': rank %d not in 1..%d", fn,
		                 (int)x->rank, MUDSC_MAX_RANK);
	axis = x->feature_axis < 0 ? x->feature_axis + x->rank : x->feature_axis;
	if (axis < 0 || axis >= x->rank)
		return mudsc__err(MUDSC_E_SHAPE,
		                 "%s: argument 'features': feature_axis %d out of range for rank %d", fn,
		                 (int)x->feature_axis, (int)x->rank);
	if (!mudsc__shape_numel(x->rank, x->shape, &numel) || numel > (size_t)INT64_MAX)
		return mudsc__err(MUDSC_E_SHAPE,
		                 "%s: argument 'features': negative or overflowing shape", fn);
	if (x->shape[axis] != width)
		return mudsc__err(MUDSC_E_SHAPE,
		                 "%s: argument 'features': feature axis %d has %" PRId64
		                 " entries, the accumulator's width is %" PRId64,
		                 fn, (int)axis, x->shape[axis], width);
	if (x->data == NULL && numel > 0)
		return mudsc__err(MUDSC_E_INVALID, "%s: argument 'features': data is NULL", fn);

	memset(v, 0, sizeof *v);
	if (numel == 0) { /* nothing is read: no offsets to compute */
		v->dtype = x->dtype;
		v->width = width;
		return MUDSC_OK;
	}
	/* every shape >= 1 and numel <= INT64_MAX: these products fit */
	cstride[x->rank - 1] = 1;
	for (int32_t d = x->rank - 1; d > 0; d--)
		cstride[d - 1] = cstride[d] * x->shape[d];
	if (x->strides != NULL && (st = check_offsets(x, fn)) != MUDSC_OK)
		return st;
	v->dtype = x->dtype;
	v->esize = mudsc_dtype_size(x->dtype);
	v->data = x->data;
	v->faxis = axis;
	v->width = width;
	v->fstride = x->strides ? x->strides[axis] : cstride[axis];
	v->nobs = numel ? (int64_t)(numel / (size_t)width) : 0;
	for (int32_t d = 0; d < x->rank; d++) {
		if (d == axis)
			continue;
		v->oshape[v->orank] = x->shape[d];
		v->ostride[v->orank] = x->strides ? x->strides[d] : cstride[d];
		v->oaxis[v->orank] = d;
		v->orank++;
	}
	return MUDSC_OK;
}

/* Element offset of observation obs: its multi-index over the observation
 * axes, last axis fastest. */
static int64_t view_offset(const struct mudsc__stream_view *v, int64_t obs)
{
	int64_t off = 0;

	for (int32_t d = v->orank - 1; d >= 0; d--) {
		off += (obs % v->oshape[d]) * v->ostride[d];
		obs /= v->oshape[d];
	}
	return off;
}

static int64_t first_nonfinite(const double *x, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		if (!isfinite(x[i]))
			return i;
	return -1;
}

const unsigned char *mudsc__stream_view_at(const struct mudsc__stream_view *v, int64_t obs)
{
	return v->data + view_offset(v, obs) * (ptrdiff_t)v->esize;
}

int64_t mudsc__stream_view_row(const struct mudsc__stream_view *v, int64_t obs, double *dst)
{
	mudsc__convert_strided_to_f64(v->dtype, mudsc__stream_view_at(v, obs),
	                             (ptrdiff_t)v->fstride * (ptrdiff_t)v->esize, (size_t)v->width,
	                             dst);
	return first_nonfinite(dst, v->width);
}

void mudsc__stream_view_position(const struct mudsc__stream_view *v, int64_t obs,
                                int64_t feature, char *buf, size_t len)
{
	int64_t idx[MUDSC_MAX_RANK];
	size_t used = 0;
	int32_t rank = v->orank + 1;

	idx[v->faxis] = feature;
	for (int32_t d = v->orank - 1; d >= 0; d--) {
		idx[v->oaxis[d]] = obs % v->oshape[d];
		obs /= v->oshape[d];
	}
	buf[0] = '\0';
	for (int32_t d = 0; d < rank && used + 1 < len; d++) {
		int k = snprintf(buf + used, len - used, "%s%" PRId64, d ? ", " : "(", idx[d]);
		if (k < 0)
			return;
		used += (size_t)k;
	}
	if (used + 1 < len)
		snprintf(buf + used, len - used, ")");
}
