/*
 * Building the match plan from a validated graph and N models: one plan
 * tensor per bound tensor, or per part of a split tensor (all parts, so the
 * merged tensor can be re-joined), with the point and role of each axis and
 * each point's weight-feature list.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "model/model.h"
#include "matcher/plan.h"
#include "matcher/plan_build.h"

struct builder {
	const mudsc_graph *graph;
	const mudsc_model *const *models;
	struct mudsc__plan *plan;
	size_t cap;
	struct mudsc__strmap first; /* tensor name -> its first plan tensor */
};

/* "[4, 3]" into buf (cap bytes; cut short if it must be). */
static const char *shape_text(char *buf, size_t cap, int32_t rank, const int64_t *shape)
{
	size_t used = 0;
	int n = snprintf(buf, cap, "[");

	for (int32_t d = 0; n >= 0 && (used += (size_t)n) < cap && d < rank; d++)
		n = snprintf(buf + used, cap - used, "%s%lld", d ? ", " : "", (long long)shape[d]);
	if (n >= 0 && used < cap)
		snprintf(buf + used, cap - used, "]");
	return buf;
}

/* Every tensor of model 0 must exist in every model with the same dtype
 * and shape: bound ones are transformed, the others averaged, and either
 * reads each model's copy.  The messages name the function the host
 * called, the tensor and both models. */
static mudsc_status check_same(const struct builder *b, const char *name)
{
	const struct model_tensor *t0 = mudsc__model_lookup(b->models[0], name);
	char s0[128], s1[128];

	for (int32_t i = 1; i < b->plan->n_models; i++) {
		const struct model_tensor *t = mudsc__model_lookup(b->models[i], name);
		if (t == NULL)
			return mudsc__err(MUDSC_E_MISMATCH,
			                 "mudsc_matcher_new: tensor '%s' of model 0 is missing from model %d "
			                 "(argument 'models')",
			                 name, (int)i);
		if (t->dtype != t0->dtype)
			return mudsc__err(MUDSC_E_MISMATCH,
			                 "mudsc_matcher_new: tensor '%s' differs in dtype between model 0 "
			                 "(%s) and model %d (%s) (argument 'models')",
			                 name, mudsc_dtype_name(t0->dtype), (int)i, mudsc_dtype_name(t->dtype));
		bool same = t->rank == t0->rank;
		for (int32_t d = 0; same && d < t->rank; d++)
			same = t->shape[d] == t0->shape[d];
		if (!same)
			return mudsc__err(MUDSC_E_MISMATCH,
			                 "mudsc_matcher_new: tensor '%s' differs in shape between model 0 "
			                 "%s and model %d %s (argument 'models')",
			                 name, shape_text(s0, sizeof s0, t0->rank, t0->shape), (int)i,
			                 shape_text(s1, sizeof s1, t->rank, t->shape));
	}
	return MUDSC_OK;
}

/* Fill the axis -> point table of plan tensor t from the graph. */
static mudsc_status bind_axes(const struct builder *b, struct plan_tensor *t)
{
	size_t n = mudsc__graph_bindings_of(b->graph, t->name, t->part, NULL, 0);
	struct graph_ref *refs = mudsc__calloc(n + 1, sizeof *refs, "binding list");

	if (refs == NULL)
		return MUDSC_E_NOMEM;
	mudsc__graph_bindings_of(b->graph, t->name, t->part, refs, n);
	for (size_t k = 0; k < n; k++) {
		const struct graph_binding *gb =
			&b->graph->points[refs[k].point].bindings[refs[k].binding];
		t->point[t->plan_axis[gb->axis]] = (int32_t)refs[k].point;
		t->role[t->plan_axis[gb->axis]] = (uint8_t)gb->role;
	}
	free(refs);
	return MUDSC_OK;
}

/* The plan axes of t from the model tensor mt: an axis with a repeated
 * whole-tensor binding (repeat k) becomes (length / k, k). */
static mudsc_status plan_axes(const struct builder *b, struct plan_tensor *t,
                              const struct model_tensor *mt)
{
	int64_t repeat[MUDSC_MAX_RANK];
	struct graph_ref refs[2 * MUDSC_MAX_RANK];
	size_t n = mudsc__graph_bindings_of(b->graph, t->name, -1, refs, 2 * MUDSC_MAX_RANK);
	int32_t r = 0;

	for (int32_t a = 0; a < MUDSC_MAX_RANK; a++)
		repeat[a] = 1;
	for (size_t k = 0; k < n; k++) {
		const struct graph_binding *gb =
			&b->graph->points[refs[k].point].bindings[refs[k].binding];
		repeat[gb->axis] = gb->repeat;
	}
	t->model_rank = mt->rank;
	for (int32_t a = 0; a < mt->rank; a++) {
		if (r + 1 + (repeat[a] > 1) > MUDSC_MAX_RANK)
			return mudsc__err(MUDSC_E_UNSUPPORTED,
			                 "mudsc_matcher_new: tensor '%s': rank %d with repeated bindings "
			                 "needs more than %d axes", t->name, (int)mt->rank, MUDSC_MAX_RANK);
		t->plan_axis[a] = (int8_t)r;
		t->model_axis[r] = (int8_t)a;
		t->whole_shape[r++] = mt->shape[a] / repeat[a];
		if (repeat[a] > 1) {
			t->model_axis[r] = (int8_t)a;
			t->whole_shape[r++] = repeat[a];
		}
	}
	t->rank = r;
	memcpy(t->shape, t->whole_shape, sizeof t->shape);
	return MUDSC_OK;
}

static mudsc_status add_tensor(struct builder *b, const char *name, int32_t part,
                               const struct graph_split *split)
{
	const struct model_tensor *mt = mudsc__model_lookup(b->models[0], name);
	struct plan_tensor *t;
	int64_t offset = 0, length = 0;
	mudsc_status st;

	st = mudsc__reserve_one((void **)&b->plan->tensors, &b->cap, b->plan->ntensors,
	                       sizeof *b->plan->tensors, "plan tensors");
	if (st != MUDSC_OK)
		return st;
	t = &b->plan->tensors[b->plan->ntensors];
	memset(t, 0, sizeof *t);
	t->name = mt->name;
	t->part = part;
	t->nparts = split ? (int32_t)split->n_parts : 1;
	t->dtype = mt->dtype;
	for (int32_t d = 0; d < MUDSC_MAX_RANK; d++)
		t->point[d] = -1;
	t->split_axis = -1;
	b->plan->ntensors++; /* counted now, so the plan frees what it holds */
	if ((st = plan_axes(b, t, mt)) != MUDSC_OK)
		return st;
	if (split) {
		/* a split axis is never repeated, so it is one plan axis */
		t->split_axis = t->plan_axis[split->axis];
		mudsc__graph_part_range(split, (size_t)part, mt->shape[split->axis], &offset, &length);
		t->shape[t->split_axis] = length;
		t->part_offset = offset;
	}
	t->data = mudsc__calloc((size_t)b->plan->n_models, sizeof *t->data, "plan tensor data");
	if (t->data == NULL)
		return MUDSC_E_NOMEM;
	for (int32_t i = 0; i < b->plan->n_models; i++)
		t->data[i] = mudsc__model_lookup(b->models[i], name)->data;
	return bind_axes(b, t);
}

/* The plan tensors of a bound tensor name, created on first sight. */
static mudsc_status tensor_index(struct builder *b, const char *name, size_t *first)
{
	const struct graph_split *split;
	mudsc_status st = MUDSC_OK;

	if (mudsc__strmap_get(&b->first, name, first))
		return MUDSC_OK;
	*first = b->plan->ntensors;
	split = mudsc__graph_split_of(b->graph, name);
	for (int32_t j = 0; j < (split ? (int32_t)split->n_parts : 1) && st == MUDSC_OK; j++)
		st = add_tensor(b, name, split ? j : -1, split);
	if (st == MUDSC_OK)
		st = mudsc__strmap_put(&b->first, b->plan->tensors[*first].name, *first);
	return st;
}

static mudsc_status add_feature(struct plan_point *pp, size_t *cap, int32_t tensor, int32_t axis)
{
	mudsc_status st = mudsc__reserve_one((void **)&pp->features, cap, pp->nfeatures,
	                                    sizeof *pp->features, "point features");
	if (st == MUDSC_OK)
		pp->features[pp->nfeatures++] = (struct plan_feature){tensor, axis};
	return st;
}

/* Point p's features: a whole binding of a split tensor counts once per part. */
static mudsc_status build_point(struct builder *b, size_t p)
{
	const struct graph_point *gp = &b->graph->points[p];
	struct plan_point *pp = &b->plan->points[p];
	size_t cap = 0, first;
	mudsc_status st = MUDSC_OK;

	pp->name = gp->name;
	pp->width = gp->width;
	pp->groups = gp->groups;
	for (size_t k = 0; k < gp->n_bindings && st == MUDSC_OK; k++) {
		const struct graph_binding *gb = &gp->bindings[k];
		if ((st = tensor_index(b, gb->tensor, &first)) != MUDSC_OK || gb->flags & MUDSC_BIND_IGNORE)
			continue;
		int32_t parts = b->plan->tensors[first].nparts;
		int32_t axis = b->plan->tensors[first].plan_axis[gb->axis];
		if (gb->part >= 0)
			st = add_feature(pp, &cap, (int32_t)(first + (size_t)gb->part), axis);
		else
			for (int32_t j = 0; j < parts && st == MUDSC_OK; j++)
				st = add_feature(pp, &cap, (int32_t)(first + (size_t)j), axis);
	}
	return st;
}

mudsc_status mudsc__plan_build(struct mudsc__plan *plan, const mudsc_graph *graph,
                              const mudsc_model *const *models, int32_t n_models)
{
	struct builder b = {.graph = graph, .models = models, .plan = plan};
	mudsc_status st;

	memset(plan, 0, sizeof *plan);
	plan->n_models = n_models;
	/* the validation's message, told as the matcher's */
	st = mudsc_graph_validate(graph, models, (size_t)n_models);
	if (st != MUDSC_OK)
		return mudsc__err_context(st, "mudsc_matcher_new");
	for (size_t k = 0; k < mudsc_model_count(models[0]) && st == MUDSC_OK; k++) {
		mudsc_tensor t;
		if ((st = mudsc_model_at(&t, models[0], k)) == MUDSC_OK)
			st = check_same(&b, t.name);
	}
	if (st != MUDSC_OK)
		return st;
	mudsc__strmap_init(&b.first);
	plan->points = mudsc__calloc(graph->n_points + 1, sizeof *plan->points, "plan points");
	if (plan->points == NULL)
		st = MUDSC_E_NOMEM;
	else
		plan->npoints = graph->n_points;
	for (size_t p = 0; p < graph->n_points && st == MUDSC_OK; p++)
		st = build_point(&b, p);
	mudsc__strmap_clear(&b.first);
	if (st != MUDSC_OK)
		mudsc__plan_free(plan);
	return st;
}
