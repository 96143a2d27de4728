/*
 * Merged tensors: along each bound axis contract model i's tensor with
 * Mhat_i (OUT) or U_i (IN), then take sum_i w_i T_i'; split parts are
 * transformed one by one and re-joined along the split axis.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>
#include <string.h>

#include "matcher/axis_ops.h"
#include "core/core.h"
#include "matcher/merge_apply.h"
#include "model/model.h"

struct merge_scratch {
	double *a, *b, *acc, *scale;
	int64_t *counts;
	size_t cap;  /* elements of a, b, acc */
};

/* The transformed shape of a plan tensor (bound axes at their merged width). */
static size_t out_shape(const struct plan_tensor *t, const struct point_corr *corr,
                        int64_t *shape)
{
	size_t n = 1;
	for (int32_t d = 0; d < t->rank; d++) {
		shape[d] = t->point[d] >= 0 ? corr[t->point[d]].width_out : t->shape[d];
		n *= (size_t)shape[d];
	}
	return n;
}

/* acc += w * T_i' for one plan tensor. */
static mudsc_status add_transformed(const struct mudsc__plan *plan, const struct point_corr *corr,
                                    const struct plan_tensor *t, int32_t i, double w,
                                    const double *weights, struct merge_scratch *s)
{
	int64_t shape[MUDSC_MAX_RANK];
	double *a = s->a, *b = s->b;
	size_t outer, inner, n;

	memcpy(shape, t->shape, sizeof shape);
	mudsc__plan_load(t, i, a);
	for (int32_t d = 0; d < t->rank; d++) {
		const struct point_corr *c = t->point[d] >= 0 ? &corr[t->point[d]] : NULL;
		if (c == NULL)
			continue;
		if (!mudsc__corr_scales(c, plan->n_models, shape[d], i,
		                       t->role[d] == MUDSC_ROLE_OUT ? MUDSC__MATRIX_MERGE_HAT : MUDSC_MATRIX_UNMERGE, weights,
		                       s->counts, s->scale))
			return mudsc__err(MUDSC_E_INVALID,
			                 "merge: tensor '%s': a merged unit of point '%s' has zero total "
			                 "weight (argument 'weights')",
			                 t->name, plan->points[t->point[d]].name);
		mudsc__axis_split(t->rank, shape, d, &outer, &inner);
		mudsc__axis_contract(b, a, outer, shape[d], inner, c->assign + (size_t)i * shape[d],
		                    s->scale, c->width_out);
		shape[d] = c->width_out;
		double *tmp = a;
		a = b;
		b = tmp;
	}
	n = out_shape(t, corr, shape);
	for (size_t k = 0; k < n; k++)
		s->acc[k] += w * a[k];
	return MUDSC_OK;
}

/* Scatter a part's result (acc) into the re-joined whole (double). */
static void scatter_part(double *whole, const double *part, const struct plan_tensor *t,
                         const int64_t *part_shape, int64_t offset, int64_t whole_len)
{
	size_t outer, inner;
	mudsc__axis_split(t->rank, part_shape, t->split_axis, &outer, &inner);
	size_t piece = (size_t)part_shape[t->split_axis] * inner;
	for (size_t o = 0; o < outer; o++)
		memcpy(whole + (o * (size_t)whole_len + (size_t)offset) * inner, part + o * piece,
		       piece * sizeof *whole);
}

static mudsc_status scratch_reserve(struct merge_scratch *s, size_t need)
{
	if (need <= s->cap)
		return MUDSC_OK;
	free(s->a);
	free(s->b);
	free(s->acc);
	s->a = mudsc__alloc(need * sizeof *s->a, "merge scratch");
	s->b = mudsc__alloc(need * sizeof *s->b, "merge scratch");
	s->acc = mudsc__alloc(need * sizeof *s->acc, "merge scratch");
	s->cap = (s->a && s->b && s->acc) ? need : 0;
	return s->cap ? MUDSC_OK : MUDSC_E_NOMEM;
}

/* Largest stage of any plan tensor (each axis at max(before, after)). */
static size_t largest_stage(const struct mudsc__plan *plan, const struct point_corr *corr)
{
	size_t most = 1;
	for (size_t k = 0; k < plan->ntensors; k++) {
		const struct plan_tensor *t = &plan->tensors[k];
		size_t n = 1;
		for (int32_t d = 0; d < t->rank; d++) {
			int64_t after = t->point[d] >= 0 ? corr[t->point[d]].width_out : t->shape[d];
			n *= (size_t)(after > t->shape[d] ? after : t->shape[d]);
		}
		if (n > most)
			most = n;
	}
	return most;
}

/* The re-joined merged shape of the model tensor starting at plan tensor k. */
static size_t merged_shape(const struct mudsc__plan *plan, const struct point_corr *corr, size_t k,
                           int64_t *whole_shape)
{
	const struct plan_tensor *t0 = &plan->tensors[k];
	int64_t shape[MUDSC_MAX_RANK];
	size_t n = 1;

	out_shape(t0, corr, whole_shape);
	if (t0->part >= 0) {
		whole_shape[t0->split_axis] = 0;
		for (int32_t j = 0; j < t0->nparts; j++) {
			out_shape(&plan->tensors[k + (size_t)j], corr, shape);
			whole_shape[t0->split_axis] += shape[t0->split_axis];
		}
	}
	for (int32_t d = 0; d < t0->rank; d++)
		n *= (size_t)whole_shape[d];
	return n;
}

/* Merge the plan tensors k .. k+nparts-1 (one model tensor) into `whole`
 * (double), with the re-joined shape in whole_shape. */
static mudsc_status merge_one(const struct mudsc__plan *plan, const struct point_corr *corr,
                              size_t k, const double *weights, int32_t only,
                              struct merge_scratch *s, double *whole, int64_t *whole_shape)
{
	const struct plan_tensor *t0 = &plan->tensors[k];
	int32_t parts = t0->part < 0 ? 1 : t0->nparts;
	int64_t offset = 0, shape[MUDSC_MAX_RANK];
	mudsc_status st;

	merged_shape(plan, corr, k, whole_shape);
	for (int32_t j = 0; j < parts; j++) {
		const struct plan_tensor *t = &plan->tensors[k + (size_t)j];
		size_t n = out_shape(t, corr, shape);
		memset(s->acc, 0, n * sizeof *s->acc);
		for (int32_t i = 0; i < plan->n_models; i++) {
			if (only >= 0 && i != only)
				continue;
			st = add_transformed(plan, corr, t, i, only >= 0 ? 1.0 : weights[i], weights, s);
			if (st != MUDSC_OK)
				return st;
		}
		if (t->part < 0) {
			memcpy(whole, s->acc, n * sizeof *whole);
		} else {
			for (int32_t d = 0; d < t->rank; d++)
				if (d != t->split_axis && shape[d] != whole_shape[d])
					return mudsc__err(MUDSC_E_SHAPE,
					                 "merge: parts of '%s' have different merged lengths on "
					                 "axis %d (%lld and %lld)",
					                 t->name, (int)d, (long long)shape[d],
					                 (long long)whole_shape[d]);
			scatter_part(whole, s->acc, t, shape, offset, whole_shape[t->split_axis]);
			offset += shape[t->split_axis];
		}
	}
	return MUDSC_OK;
}

static mudsc_status add_converted(mudsc_model *dst, const char *name, mudsc_dtype dtype,
                                  int32_t rank, const int64_t *shape, const double *values)
{
	size_t n = 1;
	for (int32_t d = 0; d < rank; d++)
		n *= (size_t)shape[d];
	void *bytes = mudsc__alloc(n * mudsc_dtype_size(dtype) + 1, "merged tensor");
	if (bytes == NULL)
		return MUDSC_E_NOMEM;
	mudsc__convert_from_f64(dtype, values, n, bytes);
	mudsc_status st = mudsc_model_add(dst, name, dtype, rank, shape, bytes, MUDSC_COPY);
	free(bytes);
	return st;
}

/* A tensor bound to no point: weighted sum (float, when merging), else the
 * bytes of one model (model 0, or the one transformed). */
static mudsc_status add_unbound(mudsc_model *dst, const mudsc_model *const *models, int32_t N,
                                const struct model_tensor *t0, const double *weights,
                                int32_t only, double *buf, double *sum)
{
	size_t n = t0->nbytes / mudsc_dtype_size(t0->dtype);

	if (!mudsc_dtype_is_float(t0->dtype) || only >= 0) {
		const struct model_tensor *t = mudsc__model_lookup(models[only >= 0 ? only : 0], t0->name);
		return mudsc_model_add(dst, t->name, t->dtype, t->rank, t->shape, t->data, MUDSC_COPY);
	}
	memset(sum, 0, n * sizeof *sum);
	for (int32_t i = 0; i < N; i++) {
		const struct model_tensor *t = mudsc__model_lookup(models[i], t0->name);
		mudsc__convert_to_f64(t->dtype, t->data, n, buf);
		for (size_t k = 0; k < n; k++)
			sum[k] += weights[i] * buf[k];
	}
	return add_converted(dst, t0->name, t0->dtype, t0->rank, t0->shape, sum);
}

static size_t largest_tensor(const mudsc_model *m)
{
	size_t most = 1;
	for (size_t k = 0; k < m->count; k++) {
		size_t n = m->tensors[k].nbytes / mudsc_dtype_size(m->tensors[k].dtype);
		if (n > most)
			most = n;
	}
	return most;
}

mudsc_status mudsc__merge_apply(mudsc_model **out, const struct mudsc__plan *plan,
                               const struct point_corr *corr, const mudsc_model *const *models,
                               const double *weights, int32_t only)
{
	const mudsc_model *m0 = models[0];
	struct merge_scratch s = {0};
	struct mudsc__strmap first_part;
	size_t width = 1, big = largest_tensor(m0), stage = largest_stage(plan, corr);
	double *whole = NULL;
	mudsc_model *dst = NULL;
	mudsc_status st;

	mudsc__strmap_init(&first_part);
	for (size_t q = 0; q < plan->npoints; q++)
		if ((size_t)corr[q].width_out * (size_t)plan->n_models > width)
			width = (size_t)corr[q].width_out * (size_t)plan->n_models;
	size_t whole_cap = 1;
	for (size_t k = 0; k < plan->ntensors; k++) {
		int64_t shape[MUDSC_MAX_RANK];
		size_t n = plan->tensors[k].part <= 0 ? merged_shape(plan, corr, k, shape) : 0;
		whole_cap = n > whole_cap ? n : whole_cap;
	}
	st = scratch_reserve(&s, stage > big ? stage : big);
	s.scale = mudsc__alloc(width * sizeof *s.scale, "merge scales");
	s.counts = mudsc__alloc(width * sizeof *s.counts, "member counts");
	whole = mudsc__alloc(whole_cap * sizeof *whole, "merged tensor");
	if (st == MUDSC_OK && (s.scale == NULL || s.counts == NULL || whole == NULL))
		st = MUDSC_E_NOMEM;
	for (size_t k = 0; k < plan->ntensors && st == MUDSC_OK; k++)
		if (plan->tensors[k].part <= 0)
			st = mudsc__strmap_put(&first_part, plan->tensors[k].name, k);
	if (st == MUDSC_OK)
		st = mudsc_model_new(&dst);
	for (size_t k = 0; k < m0->count && st == MUDSC_OK; k++) {
		const struct model_tensor *t0 = &m0->tensors[k];
		int64_t shape[MUDSC_MAX_RANK];
		size_t at;
		if (!mudsc__strmap_get(&first_part, t0->name, &at)) {
			st = add_unbound(dst, models, plan->n_models, t0, weights, only, s.a, s.acc);
			continue;
		}
		st = merge_one(plan, corr, at, weights, only, &s, whole, shape);
		if (st == MUDSC_OK)
			st = add_converted(dst, t0->name, t0->dtype, t0->rank, shape, whole);
	}
	mudsc__strmap_clear(&first_part);
	free(s.a);
	free(s.b);
	free(s.acc);
	free(s.scale);
	free(s.counts);
	free(whole);
	if (st != MUDSC_OK) {
		mudsc_model_free(dst);
		return st;
	}
	*out = dst;
	return MUDSC_OK;
}
