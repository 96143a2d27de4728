/*
 * The match plan: freeing and reading tensors (parts) as doubles.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>

#include "matcher/axis_ops.h"
#include "core/core.h"
#include "matcher/plan.h"

void mudsc__plan_free(struct mudsc__plan *plan)
{
	if (plan == NULL)
		return;
	for (size_t t = 0; t < plan->ntensors; t++)
		free(plan->tensors[t].data);
	for (size_t p = 0; p < plan->npoints; p++)
		free(plan->points[p].features);
	free(plan->tensors);
	free(plan->points);
	plan->tensors = NULL;
	plan->points = NULL;
	plan->ntensors = plan->npoints = 0;
}

void mudsc__plan_model_shape(const struct plan_tensor *t, int64_t *shape)
{
	int64_t model[MUDSC_MAX_RANK];

	for (int32_t a = 0; a < MUDSC_MAX_RANK; a++)
		model[a] = a < t->model_rank ? 1 : 0;
	for (int32_t d = 0; d < t->rank; d++)
		model[t->model_axis[d]] *= shape[d];
	for (int32_t a = 0; a < MUDSC_MAX_RANK; a++)
		shape[a] = model[a];
}

size_t mudsc__plan_numel(const struct plan_tensor *t)
{
	size_t n = 1;
	for (int32_t d = 0; d < t->rank; d++)
		n *= (size_t)t->shape[d];
	return n;
}

void mudsc__plan_load(const struct plan_tensor *t, int32_t model, double *dst)
{
	const void *src = t->data[model];
	size_t outer, inner, L, piece;

	if (t->part < 0) {
		mudsc__convert_to_f64(t->dtype, src, mudsc__plan_numel(t), dst);
		return;
	}
	/* the part is rows [offset, offset + length) of the split axis, in every outer block */
	mudsc__axis_split(t->rank, t->whole_shape, t->split_axis, &outer, &inner);
	L = (size_t)t->whole_shape[t->split_axis];
	piece = (size_t)t->shape[t->split_axis] * inner;
	for (size_t o = 0; o < outer; o++) {
		size_t from = o * L * inner + (size_t)t->part_offset * inner;
		const unsigned char *s = (const unsigned char *)src + from * mudsc_dtype_size(t->dtype);
		mudsc__convert_to_f64(t->dtype, s, piece, dst + o * piece);
	}
}
