/*
 * Randomly permuted copies of a model along a graph (mudsc_permute_model):
 * the function-preservation check of docs/tracing.md.  The graph is
 * resolved into a match plan of one model, so splits, concatenations and
 * repeated bindings are permuted exactly as merging moves them.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "matcher/axis_ops.h"
#include "matcher/plan.h"
#include "matcher/plan_build.h"
#include "model/model.h"
#include "mudsc/matcher.h"

/* perm[j] = the unit placed at j: a shuffle inside each of the point's
 * groups, from a generator seeded by (seed, point) alone. */
static void point_perm(int64_t *perm, int64_t width, int64_t groups, size_t point, uint64_t seed)
{
	struct mudsc__rng rng;
	int64_t size = width / groups;

	mudsc__rng_seed(&rng, seed ^ (0xD1B54A32D192ED03ull * ((uint64_t)point + 1u)));
	for (int64_t g = 0; g < groups; g++) {
		mudsc__rng_order(&rng, perm + g * size, size);
		for (int64_t j = 0; j < size; j++)
			perm[g * size + j] += g * size;
	}
}

/* assign[u] = where unit u goes (the inverse of perm) for every point, or
 * only for `only` (others NULL: left as they are). */
static mudsc_status all_assigns(int64_t ***out, const mudsc_graph *graph, uint64_t seed,
                                int64_t only)
{
	size_t n = mudsc_graph_point_count(graph);
	int64_t **a = mudsc__calloc(n + 1, sizeof *a, "permutations");

	if (a == NULL)
		return MUDSC_E_NOMEM;
	for (size_t p = 0; p < n; p++) {
		mudsc_point_info info;
		int64_t *perm;
		if (only >= 0 && (size_t)only != p)
			continue;
		mudsc_graph_point_at(&info, graph, p);
		perm = mudsc__alloc((size_t)info.width * sizeof *perm, "permutation");
		a[p] = mudsc__alloc((size_t)info.width * sizeof *a[p], "permutation");
		if (perm == NULL || a[p] == NULL) {
			free(perm);
			*out = a;
			return MUDSC_E_NOMEM;
		}
		point_perm(perm, info.width, info.groups, p, seed);
		for (int64_t j = 0; j < info.width; j++)
			a[p][perm[j]] = j;
		free(perm);
	}
	*out = a;
	return MUDSC_OK;
}

/* dst (outer x L x inner elements of es bytes) = src with unit u of the
 * middle axis moved to assign[u]: a gather of whole inner blocks. */
static void gather(unsigned char *dst, const unsigned char *src, size_t outer, size_t L,
                   size_t inner, const int64_t *assign, size_t es)
{
	size_t block = inner * es;

	for (size_t o = 0; o < outer; o++)
		for (size_t u = 0; u < L; u++)
			memcpy(dst + (o * L + (size_t)assign[u]) * block, src + (o * L + u) * block, block);
}

/* Rows [offset, offset + len) of the split axis (whole length W) of every
 * outer block, between the whole tensor and a part's own buffer. */
static void part_copy(unsigned char *part, unsigned char *whole, size_t outer, size_t W,
                      size_t offset, size_t len, size_t block, int to_whole)
{
	for (size_t o = 0; o < outer; o++) {
		unsigned char *w = whole + (o * W + offset) * block, *p = part + o * len * block;
		memcpy(to_whole ? w : p, to_whole ? p : w, len * block);
	}
}

/* Plan tensor t (model data src) permuted along its bound axes into the
 * whole tensor dst; a and b are scratch of its size in bytes.  The values
 * are moved, never converted, so the copy is exact in every dtype. */
static void permute_part(const struct plan_tensor *t, int64_t *const *assign, unsigned char *dst,
                         const unsigned char *src, unsigned char *a, unsigned char *b)
{
	size_t es = mudsc_dtype_size(t->dtype), n = mudsc__plan_numel(t), outer, inner;

	if (t->part < 0) {
		memcpy(a, src, n * es);
	} else {
		mudsc__axis_split(t->rank, t->shape, t->split_axis, &outer, &inner);
		part_copy(a, (unsigned char *)src, outer, (size_t)t->whole_shape[t->split_axis],
		          (size_t)t->part_offset, (size_t)t->shape[t->split_axis], inner * es, 0);
	}
	for (int32_t d = 0; d < t->rank; d++) {
		if (t->point[d] < 0 || assign[t->point[d]] == NULL)
			continue;
		mudsc__axis_split(t->rank, t->shape, d, &outer, &inner);
		gather(b, a, outer, (size_t)t->shape[d], inner, assign[t->point[d]], es);
		unsigned char *tmp = a;
		a = b;
		b = tmp;
	}
	if (t->part < 0) {
		memcpy(dst, a, n * es);
		return;
	}
	mudsc__axis_split(t->rank, t->shape, t->split_axis, &outer, &inner);
	part_copy(a, dst, outer, (size_t)t->whole_shape[t->split_axis], (size_t)t->part_offset,
	          (size_t)t->shape[t->split_axis], inner * es, 1);
}

/* Model tensor mt, bound: plan tensors at .. at + nparts - 1, permuted into dst. */
static mudsc_status permute_tensor(mudsc_model *dst, const struct mudsc__plan *plan, size_t at,
                                   const struct model_tensor *mt, int64_t *const *assign)
{
	const struct plan_tensor *t0 = &plan->tensors[at];
	int32_t parts = t0->part < 0 ? 1 : t0->nparts;
	unsigned char *bytes = mudsc__alloc(mt->nbytes + 1, "permuted tensor");
	unsigned char *a = mudsc__alloc(mt->nbytes + 1, "permute scratch");
	unsigned char *b = mudsc__alloc(mt->nbytes + 1, "permute scratch");
	mudsc_status st = bytes && a && b ? MUDSC_OK : MUDSC_E_NOMEM;

	for (int32_t j = 0; j < parts && st == MUDSC_OK; j++)
		permute_part(&plan->tensors[at + (size_t)j], assign, bytes, mt->data, a, b);
	if (st == MUDSC_OK)
		st = mudsc_model_add(dst, mt->name, mt->dtype, mt->rank, mt->shape, bytes, MUDSC_COPY);
	free(a);
	free(b);
	free(bytes);
	return st;
}

static mudsc_status permute_all(mudsc_model *dst, const struct mudsc__plan *plan,
                                const mudsc_model *model, int64_t *const *assign)
{
	struct mudsc__strmap first;
	mudsc_status st = MUDSC_OK;
	size_t at;

	mudsc__strmap_init(&first);
	for (size_t k = 0; k < plan->ntensors && st == MUDSC_OK; k++)
		if (plan->tensors[k].part <= 0)
			st = mudsc__strmap_put(&first, plan->tensors[k].name, k);
	for (size_t k = 0; k < model->count && st == MUDSC_OK; k++) {
		const struct model_tensor *mt = &model->tensors[k];
		if (mudsc__strmap_get(&first, mt->name, &at))
			st = permute_tensor(dst, plan, at, mt, assign);
		else
			st = mudsc_model_add(dst, mt->name, mt->dtype, mt->rank, mt->shape, mt->data,
			                     MUDSC_COPY);
	}
	mudsc__strmap_clear(&first);
	return st;
}

MUDSC_API mudsc_status mudsc_permute_model(mudsc_model **out, const mudsc_graph *graph,
                                           const mudsc_model *model, uint64_t seed,
                                           int64_t point)
{
	struct mudsc__plan plan;
	int64_t **assign = NULL;
	mudsc_model *dst = NULL;
	size_t n;
	mudsc_status st;

	MUDSC__CHECK_NULL(out);
	MUDSC__CHECK_NULL(graph);
	MUDSC__CHECK_NULL(model);
	n = mudsc_graph_point_count(graph);
	if (point < -1 || (point >= 0 && (uint64_t)point >= n))
		return mudsc__err(MUDSC_E_RANGE, "mudsc_permute_model: argument 'point' = %lld, the "
		                                "graph has %zu points (-1: all)", (long long)point, n);
	st = mudsc__plan_build(&plan, graph, &model, 1);
	if (st != MUDSC_OK)
		return mudsc__err_context(st, "mudsc_permute_model");
	st = all_assigns(&assign, graph, seed, point);
	if (st == MUDSC_OK)
		st = mudsc_model_new(&dst);
	if (st == MUDSC_OK)
		st = permute_all(dst, &plan, model, assign);
	for (size_t p = 0; assign != NULL && p < n; p++)
		free(assign[p]);
	free(assign);
	mudsc__plan_free(&plan);
	if (st != MUDSC_OK) {
		mudsc_model_free(dst);
		return st;
	}
	*out = dst;
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_permute_point(int64_t *out, size_t capacity, size_t *needed,
                                           const mudsc_graph *graph, size_t point, uint64_t seed)
{
	mudsc_point_info info;
	bool fill = false;
	mudsc_status st;

	MUDSC__CHECK_NULL(graph);
	if (point >= mudsc_graph_point_count(graph))
		return mudsc__err(MUDSC_E_RANGE, "mudsc_permute_point: argument 'point' = %zu, the "
		                                "graph has %zu points", point,
		                 mudsc_graph_point_count(graph));
	mudsc_graph_point_at(&info, graph, point);
	st = mudsc__array_out(&fill, out, capacity, needed, (size_t)info.width,
	                     "mudsc_permute_point");
	if (st == MUDSC_OK && fill)
		point_perm(out, info.width, info.groups, point, seed);
	return st;
}
