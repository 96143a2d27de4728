/*
 * Checking a graph description against models, and listing the tensors it
 * leaves unbound.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "core/core.h"
#include "model/model.h"

static mudsc_status check_split(const struct graph_split *s, const mudsc_model *model, size_t m)
{
	const struct model_tensor *t = mudsc__model_lookup(model, s->tensor);

	if (t == NULL)
		return mudsc__err(MUDSC_E_NOT_FOUND, "mudsc_graph_validate: model %zu: split tensor '%s' "
		                                    "not found", m, s->tensor);
	if (s->axis >= t->rank)
		return mudsc__err(MUDSC_E_SHAPE, "mudsc_graph_validate: model %zu: split tensor '%s' "
		                                "axis %d, the tensor has rank %d", m, s->tensor,
		                 (int)s->axis, (int)t->rank);
	if (s->sizes != NULL) {
		int64_t sum = 0;
		for (size_t k = 0; k < s->n_parts; k++)
			sum += s->sizes[k];
		if (sum != t->shape[s->axis])
			return mudsc__err(MUDSC_E_SHAPE, "mudsc_graph_validate: model %zu: concatenated "
			                                "tensor '%s' axis %d has length %lld, its parts' "
			                                "sizes add up to %lld", m, s->tensor, (int)s->axis,
			                 (long long)t->shape[s->axis], (long long)sum);
		return MUDSC_OK;
	}
	if (t->shape[s->axis] % (int64_t)s->n_parts != 0)
		return mudsc__err(MUDSC_E_SHAPE, "mudsc_graph_validate: model %zu: split tensor '%s' "
		                                "axis %d has length %lld, not divisible into %zu parts",
		                 m, s->tensor, (int)s->axis, (long long)t->shape[s->axis], s->n_parts);
	return MUDSC_OK;
}

/* Length of the bound axis: the tensor's, or a part's along the split axis. */
static int64_t bound_length(const mudsc_graph *graph, const struct graph_binding *b,
                            const struct model_tensor *t)
{
	int64_t len = t->shape[b->axis], offset;

	if (b->part >= 0) {
		const struct graph_split *s = mudsc__graph_split_of(graph, b->tensor);
		if (s->axis == b->axis)
			mudsc__graph_part_range(s, (size_t)b->part, t->shape[b->axis], &offset, &len);
	}
	return len;
}

static mudsc_status check_binding(const mudsc_graph *graph, const struct graph_point *p,
                                  size_t bi, const mudsc_model *model, size_t m)
{
	const struct graph_binding *b = &p->bindings[bi];
	const struct model_tensor *t = mudsc__model_lookup(model, b->tensor);
	int64_t len;

	if (t == NULL)
		return mudsc__err(MUDSC_E_NOT_FOUND, "mudsc_graph_validate: model %zu: point '%s' "
		                                    "binding %zu: tensor '%s' not found", m, p->name, bi,
		                 b->tensor);
	if (!mudsc_dtype_is_float(t->dtype))
		return mudsc__err(MUDSC_E_UNSUPPORTED, "mudsc_graph_validate: model %zu: point '%s': "
		                                      "tensor '%s' has dtype %s; bound tensors must be "
		                                      "F16, BF16, F32 or F64", m, p->name, b->tensor,
		                 mudsc_dtype_name(t->dtype));
	if (b->axis >= t->rank)
		return mudsc__err(MUDSC_E_SHAPE, "mudsc_graph_validate: model %zu: point '%s': tensor "
		                                "'%s' axis %d, the tensor has rank %d", m, p->name,
		                 b->tensor, (int)b->axis, (int)t->rank);
	len = bound_length(graph, b, t);
	if (b->repeat != 1 && len != p->width * b->repeat)
		return mudsc__err(MUDSC_E_SHAPE, "mudsc_graph_validate: model %zu: point '%s' has width "
		                                "%lld but tensor '%s' axis %d (repeat %lld) has length "
		                                "%lld, not width * repeat", m, p->name,
		                 (long long)p->width, b->tensor, (int)b->axis, (long long)b->repeat,
		                 (long long)len);
	if (b->repeat == 1 && len != p->width)
		return mudsc__err(MUDSC_E_SHAPE, "mudsc_graph_validate: model %zu: point '%s' has width "
		                                "%lld but tensor '%s'%s axis %d has length %lld", m,
		                 p->name, (long long)p->width, b->tensor, b->part >= 0 ? " (a part)" : "",
		                 (int)b->axis, (long long)len);
	return MUDSC_OK;
}

static mudsc_status validate_one(const mudsc_graph *graph, const mudsc_model *model, size_t m)
{
	mudsc_status st;

	/* splits first: part lengths are only meaningful once the split fits */
	for (size_t s = 0; s < graph->n_splits; s++)
		if ((st = check_split(&graph->splits[s], model, m)) != MUDSC_OK)
			return st;
	for (size_t p = 0; p < graph->n_points; p++)
		for (size_t b = 0; b < graph->points[p].n_bindings; b++)
			if ((st = check_binding(graph, &graph->points[p], b, model, m)) != MUDSC_OK)
				return st;
	return MUDSC_OK;
}

/* Tensor name of model m has the shape it has in model 0. */
static mudsc_status check_same_shape(const char *name, const mudsc_model *first,
                                     const mudsc_model *model, size_t m)
{
	const struct model_tensor *a = mudsc__model_lookup(first, name);
	const struct model_tensor *b = mudsc__model_lookup(model, name);
	bool same = a->rank == b->rank;

	for (int32_t i = 0; same && i < a->rank; i++)
		same = a->shape[i] == b->shape[i];
	if (same)
		return MUDSC_OK;
	for (int32_t i = 0; i < a->rank && i < b->rank; i++)
		if (a->shape[i] != b->shape[i])
			return mudsc__err(MUDSC_E_MISMATCH, "mudsc_graph_validate: tensor '%s' axis %d has "
			                                   "length %lld in model 0 but %lld in model %zu",
			                 name, (int)i, (long long)a->shape[i], (long long)b->shape[i], m);
	return mudsc__err(MUDSC_E_MISMATCH, "mudsc_graph_validate: tensor '%s' has rank %d in model 0 "
	                                   "but %d in model %zu", name, (int)a->rank, (int)b->rank, m);
}

/* Bound and split tensors have the same shape in every model (each model
 * already passed validate_one, so they exist). */
static mudsc_status same_shapes(const mudsc_graph *graph, const mudsc_model *const *models,
                                size_t m)
{
	mudsc_status st;

	for (size_t s = 0; s < graph->n_splits; s++)
		if ((st = check_same_shape(graph->splits[s].tensor, models[0], models[m], m)) != MUDSC_OK)
			return st;
	for (size_t p = 0; p < graph->n_points; p++)
		for (size_t b = 0; b < graph->points[p].n_bindings; b++) {
			st = check_same_shape(graph->points[p].bindings[b].tensor, models[0], models[m], m);
			if (st != MUDSC_OK)
				return st;
		}
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_graph_validate(const mudsc_graph *graph,
                                            const mudsc_model *const *models, int32_t n_models)
{
	mudsc_status st;

	MUDSC__CHECK_NULL(graph);
	MUDSC__CHECK_NULL(models);
	MUDSC__CHECK_ARG(n_models >= 1, "n_models");
	for (size_t m = 0; m < (size_t)n_models; m++) {
		if (models[m] == NULL)
			return mudsc__err(MUDSC_E_INVALID, "mudsc_graph_validate: models[%zu] is NULL", m);
		if ((st = validate_one(graph, models[m], m)) != MUDSC_OK)
			return st;
		if (m > 0 && (st = same_shapes(graph, models, m)) != MUDSC_OK)
			return st;
	}
	return MUDSC_OK;
}

/* unbound[i]: tensor i of model is bound to no point; *count: how many are. */
static void mark_unbound(const mudsc_graph *graph, const mudsc_model *model, bool *unbound,
                         size_t *count)
{
	*count = 0;
	for (size_t i = 0; i < model->count; i++) {
		const struct graph_tensor *t = mudsc__graph_tensor(graph, model->tensors[i].name);
		unbound[i] = t == NULL || t->n_bindings == 0;
		*count += unbound[i];
	}
}

MUDSC_API mudsc_status mudsc_graph_unbound(size_t *out, size_t capacity, size_t *needed,
                                           const mudsc_graph *graph, const mudsc_model *model)
{
	bool *unbound, fill = false;
	size_t n = 0;
	mudsc_status st;

	MUDSC__CHECK_NULL(graph);
	MUDSC__CHECK_NULL(model);
	unbound = mudsc__calloc(model->count, sizeof *unbound, "unbound flags");
	if (unbound == NULL)
		return MUDSC_E_NOMEM;
	mark_unbound(graph, model, unbound, &n);
	st = mudsc__array_out(&fill, out, capacity, needed, n, "mudsc_graph_unbound");
	for (size_t i = 0, k = 0; st == MUDSC_OK && fill && i < model->count; i++)
		if (unbound[i])
			out[k++] = i;
	free(unbound);
	return st;
}
