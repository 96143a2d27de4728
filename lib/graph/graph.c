/*
 * mudsc_graph: building a graph description by calls, and its accessors.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "core/core.h"

MUDSC_API mudsc_status mudsc_graph_new(mudsc_graph **out)
{
	MUDSC__CHECK_NULL(out);
	*out = mudsc__calloc(1, sizeof **out, "mudsc_graph");
	if (*out == NULL)
		return MUDSC_E_NOMEM;
	mudsc__strmap_init(&(*out)->point_by_name);
	mudsc__strmap_init(&(*out)->tensor_by_name);
	return MUDSC_OK;
}

static void free_point(struct graph_point *p)
{
	free(p->bindings);
	free(p->name);
	free(p->site_name);
}

static void free_split(struct graph_split *s)
{
	for (size_t k = 0; k < s->n_parts; k++)
		free(s->parts[k]);
	free(s->parts);
	free(s->sizes);
	free(s->part_first);
	mudsc__strmap_clear(&s->part_by_name);
}

MUDSC_API void mudsc_graph_free(mudsc_graph *graph)
{
	if (graph == NULL)
		return;
	for (size_t p = 0; p < graph->n_points; p++)
		free_point(&graph->points[p]);
	free(graph->points);
	for (size_t s = 0; s < graph->n_splits; s++)
		free_split(&graph->splits[s]);
	free(graph->splits);
	for (size_t t = 0; t < graph->n_tensors; t++)
		free(graph->tensors[t].name);
	free(graph->tensors);
	mudsc__strmap_clear(&graph->point_by_name);
	mudsc__strmap_clear(&graph->tensor_by_name);
	free(graph);
}

MUDSC_API mudsc_status mudsc_graph_add_point(size_t *index, mudsc_graph *graph, const char *name,
                                             int64_t width, int64_t groups)
{
	struct graph_point p = {0};
	mudsc_status st;

	MUDSC__CHECK_NULL(graph);
	MUDSC__CHECK_NULL(name);
	if (name[0] == '\0')
		return mudsc__err(MUDSC_E_INVALID, "mudsc_graph_add_point: argument 'name' is empty");
	if (mudsc__strmap_get(&graph->point_by_name, name, NULL))
		return mudsc__err(MUDSC_E_EXISTS, "mudsc_graph_add_point: a point named '%s' already "
		                                 "exists", name);
	if (width < 1 || groups < 1 || width % groups != 0)
		return mudsc__err(MUDSC_E_SHAPE, "mudsc_graph_add_point: point '%s': width %lld and "
		                                "groups %lld (need width >= 1, groups >= 1, groups "
		                                "dividing width)", name, (long long)width,
		                 (long long)groups);
	st = mudsc__reserve_one((void **)&graph->points, &graph->cap_points, graph->n_points,
	                       sizeof *graph->points, "graph points");
	if (st != MUDSC_OK)
		return st;
	p.name = mudsc__strdup(name, "point name");
	if (p.name == NULL)
		return MUDSC_E_NOMEM;
	p.width = width;
	p.groups = groups;
	if (mudsc__strmap_put(&graph->point_by_name, p.name, graph->n_points) != MUDSC_OK) {
		free(p.name);
		return MUDSC_E_NOMEM;
	}
	if (index != NULL)
		*index = graph->n_points;
	graph->points[graph->n_points++] = p;
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_graph_set_site(mudsc_graph *graph, size_t point, const char *name,
                                            int32_t axis)
{
	char *copy;

	MUDSC__CHECK_NULL(graph);
	MUDSC__CHECK_NULL(name);
	if (point >= graph->n_points)
		return mudsc__err(MUDSC_E_RANGE, "mudsc_graph_set_site: argument 'point' = %zu, the "
		                                "graph has %zu points", point, graph->n_points);
	if (name[0] == '\0')
		return mudsc__err(MUDSC_E_INVALID, "mudsc_graph_set_site: argument 'name' is empty");
	copy = mudsc__strdup(name, "site name");
	if (copy == NULL)
		return MUDSC_E_NOMEM;
	free(graph->points[point].site_name);
	graph->points[point].site_name = copy;
	graph->points[point].site_axis = axis;
	graph->points[point].site_offset = 0;
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_graph_set_site_offset(mudsc_graph *graph, size_t point,
                                                   int64_t offset)
{
	MUDSC__CHECK_NULL(graph);
	if (point >= graph->n_points)
		return mudsc__err(MUDSC_E_RANGE, "mudsc_graph_set_site_offset: argument 'point' = %zu, "
		                                "the graph has %zu points", point, graph->n_points);
	if (offset < 0)
		return mudsc__err(MUDSC_E_RANGE, "mudsc_graph_set_site_offset: argument 'offset' = %lld "
		                                "(need >= 0)", (long long)offset);
	if (graph->points[point].site_name == NULL)
		return mudsc__err(MUDSC_E_INVALID, "mudsc_graph_set_site_offset: point '%s' has no site "
		                                  "(mudsc_graph_set_site first)",
		                 graph->points[point].name);
	graph->points[point].site_offset = offset;
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_graph_site_offset(int64_t *offset, const mudsc_graph *graph,
                                               size_t point)
{
	MUDSC__CHECK_NULL(offset);
	MUDSC__CHECK_NULL(graph);
	if (point >= graph->n_points)
		return mudsc__err(MUDSC_E_RANGE, "mudsc_graph_site_offset: argument 'point' = %zu, the "
		                                "graph has %zu points", point, graph->n_points);
	*offset = graph->points[point].site_offset;
	return MUDSC_OK;
}

const struct graph_tensor *mudsc__graph_tensor(const mudsc_graph *graph, const char *name)
{
	size_t t;

	return mudsc__strmap_get(&graph->tensor_by_name, name, &t) ? &graph->tensors[t] : NULL;
}

/* A new record (no split, no bindings) for tensor `name`, which no
 * binding or split names yet: the last fallible step of mudsc_graph_bind
 * and mudsc_graph_add_split, so a failure leaves the graph as it was. */
static mudsc_status new_tensor(mudsc_graph *graph, const char *name, size_t *index)
{
	struct graph_tensor t = {.split = -1, .whole = MUDSC__GRAPH_NO_REF};
	mudsc_status st;

	st = mudsc__reserve_one((void **)&graph->tensors, &graph->cap_tensors, graph->n_tensors,
	                       sizeof *graph->tensors, "graph tensors");
	if (st != MUDSC_OK)
		return st;
	if ((t.name = mudsc__strdup(name, "tensor name")) == NULL)
		return MUDSC_E_NOMEM;
	if (mudsc__strmap_put(&graph->tensor_by_name, t.name, graph->n_tensors) != MUDSC_OK) {
		free(t.name);
		return MUDSC_E_NOMEM;
	}
	*index = graph->n_tensors;
	graph->tensors[graph->n_tensors++] = t;
	return MUDSC_OK;
}

const struct graph_split *mudsc__graph_split_of(const mudsc_graph *graph, const char *tensor)
{
	const struct graph_tensor *t = mudsc__graph_tensor(graph, tensor);

	return t != NULL && t->split >= 0 ? &graph->splits[t->split] : NULL;
}

static const struct graph_binding *binding_at(const mudsc_graph *graph, struct graph_ref ref)
{
	return &graph->points[ref.point].bindings[ref.binding];
}

/* The name of the part binding b binds, or NULL for the whole tensor. */
static const char *part_name(const mudsc_graph *graph, const struct graph_binding *b)
{
	if (b->part < 0)
		return NULL;
	return graph->splits[graph->tensors[b->tensor_index].split].parts[b->part];
}

/* The binding of the chain from `first` on `axis`, or NULL; *steps counts
 * the bindings looked at. */
static const struct graph_binding *chain_axis(const mudsc_graph *graph, struct graph_ref first,
                                              int32_t axis, size_t *point, size_t *steps)
{
	for (struct graph_ref r = first; r.point != SIZE_MAX; r = binding_at(graph, r)->next)
		if (++*steps, binding_at(graph, r)->axis == axis) {
			*point = r.point;
			return binding_at(graph, r);
		}
	return NULL;
}

/* Append the chain from `first` to refs (at most cap in all). */
static size_t chain_refs(const mudsc_graph *graph, struct graph_ref first, struct graph_ref *refs,
                         size_t n, size_t cap)
{
	for (struct graph_ref r = first; r.point != SIZE_MAX && n < cap; r = binding_at(graph, r)->next)
		refs[n++] = r;
	return n;
}

size_t mudsc__graph_bindings_of(const mudsc_graph *graph, const char *tensor, int32_t part,
                               struct graph_ref *out, size_t cap)
{
	const struct graph_tensor *t = mudsc__graph_tensor(graph, tensor);
	struct graph_ref refs[2 * MUDSC_MAX_RANK];
	size_t n;

	if (t == NULL)
		return 0;
	n = chain_refs(graph, t->whole, refs, 0, 2 * MUDSC_MAX_RANK);
	if (part >= 0 && t->split >= 0 && (size_t)part < graph->splits[t->split].n_parts)
		n = chain_refs(graph, graph->splits[t->split].part_first[part], refs, n,
		               2 * MUDSC_MAX_RANK);
	/* point order, then binding order (a handful: insertion sort) */
	for (size_t i = 1; i < n; i++) {
		struct graph_ref r = refs[i];
		size_t j = i;
		for (; j > 0 && (refs[j - 1].point > r.point ||
		                 (refs[j - 1].point == r.point && refs[j - 1].binding > r.binding));
		     j--)
			refs[j] = refs[j - 1];
		refs[j] = r;
	}
	for (size_t i = 0; i < n && i < cap && out != NULL; i++)
		out[i] = refs[i];
	return n;
}

/* The binding that a new (tensor, part, axis) would clash with: one on the
 * same axis of the same part, or of the whole tensor, or, for a
 * whole-tensor binding, of any part.  NULL if none; else *point is its point. */
static const struct graph_binding *find_clash(const mudsc_graph *graph,
                                              const struct graph_tensor *t, int32_t part,
                                              int32_t axis, size_t *point, size_t *steps)
{
	const struct graph_split *s;
	const struct graph_binding *b;

	if (t == NULL)
		return NULL;
	if ((b = chain_axis(graph, t->whole, axis, point, steps)) != NULL || t->split < 0)
		return b;
	s = &graph->splits[t->split];
	if (part >= 0)
		return chain_axis(graph, s->part_first[part], axis, point, steps);
	if ((t->part_axes >> axis & 1u) == 0)
		return NULL;
	/* some part binds the axis: find which (a refusal, so once) */
	for (size_t k = 0; k < s->n_parts; k++)
		if ((b = chain_axis(graph, s->part_first[k], axis, point, steps)) != NULL)
			return b;
	return NULL;
}

static mudsc_status check_split_args(const char *fn, const char *tensor, int32_t axis,
                                     size_t n_parts, const char *const *parts)
{
	if (tensor[0] == '\0')
		return mudsc__err(MUDSC_E_INVALID, "%s: argument 'tensor' is empty", fn);
	if (axis < 0)
		return mudsc__err(MUDSC_E_SHAPE, "%s: tensor '%s': axis %d is negative", fn, tensor,
		                 (int)axis);
	if (n_parts < 2 || n_parts > INT32_MAX)
		return mudsc__err(MUDSC_E_INVALID, "%s: tensor '%s': 'n_parts' = %zu (need at least 2)",
		                 fn, tensor, n_parts);
	if (parts == NULL)
		return mudsc__err(MUDSC_E_INVALID, "%s: argument 'parts' is NULL", fn);
	return MUDSC_OK;
}

/* Copy parts[] into s, with its name table; distinct non-empty names. */
static mudsc_status copy_parts(const char *fn, struct graph_split *s, const char *tensor,
                               size_t n_parts, const char *const *parts)
{
	s->parts = mudsc__calloc(n_parts, sizeof *s->parts, "split parts");
	if (s->parts == NULL)
		return MUDSC_E_NOMEM;
	for (size_t k = 0; k < n_parts; k++) {
		if (parts[k] == NULL || parts[k][0] == '\0')
			return mudsc__err(MUDSC_E_INVALID, "%s: tensor '%s': parts[%zu] is NULL or empty",
			                 fn, tensor, k);
		if (mudsc__strmap_get(&s->part_by_name, parts[k], NULL))
			return mudsc__err(MUDSC_E_EXISTS, "%s: tensor '%s': part '%s' named twice", fn,
			                 tensor, parts[k]);
		if ((s->parts[k] = mudsc__strdup(parts[k], "split part name")) == NULL)
			return MUDSC_E_NOMEM;
		s->n_parts = k + 1;
		if (mudsc__strmap_put(&s->part_by_name, s->parts[k], k) != MUDSC_OK)
			return MUDSC_E_NOMEM;
	}
	return MUDSC_OK;
}

/* A split (sizes NULL: equal parts) or a concatenation (sizes: the parts'
 * lengths); fn names the public call in messages. */
static mudsc_status add_split(mudsc_graph *graph, const char *tensor, int32_t axis, size_t n_parts,
                              const char *const *parts, const int64_t *sizes, const char *fn)
{
	struct graph_split s = {.axis = axis};
	const struct graph_tensor *t;
	size_t p, ti;
	mudsc_status st;

	if ((st = check_split_args(fn, tensor, axis, n_parts, parts)) != MUDSC_OK)
		return st;
	mudsc__strmap_init(&s.part_by_name);
	if ((st = copy_parts(fn, &s, tensor, n_parts, parts)) != MUDSC_OK)
		goto fail;
	if (sizes != NULL) {
		s.sizes = mudsc__calloc(n_parts, sizeof *s.sizes, "concatenation sizes");
		if (s.sizes == NULL) {
			st = MUDSC_E_NOMEM;
			goto fail;
		}
		for (size_t k = 0; k < n_parts; k++) {
			if (sizes[k] < 1) {
				st = mudsc__err(MUDSC_E_SHAPE, "%s: tensor '%s': sizes[%zu] = %lld (need >= 1)",
				                fn, tensor, k, (long long)sizes[k]);
				goto fail;
			}
			s.sizes[k] = sizes[k];
		}
	}
	t = mudsc__graph_tensor(graph, tensor);
	if (t != NULL && t->split >= 0) {
		st = mudsc__err(MUDSC_E_EXISTS, "%s: tensor '%s' is already split", fn, tensor);
		goto fail;
	}
	if (find_clash(graph, t, -1, axis, &p, &graph->clash_steps) != NULL) {
		st = mudsc__err(MUDSC_E_INVALID, "%s: tensor '%s' axis %d is already bound whole (to "
		                                "point '%s'); a split axis is bound through its parts",
		                fn, tensor, (int)axis, graph->points[p].name);
		goto fail;
	}
	s.part_first = mudsc__calloc(n_parts, sizeof *s.part_first, "split part bindings");
	if (s.part_first == NULL) {
		st = MUDSC_E_NOMEM;
		goto fail;
	}
	for (size_t k = 0; k < n_parts; k++)
		s.part_first[k] = MUDSC__GRAPH_NO_REF;
	if ((st = mudsc__reserve_one((void **)&graph->splits, &graph->cap_splits, graph->n_splits,
	                             sizeof *graph->splits, "graph splits")) != MUDSC_OK ||
	    (t == NULL && (st = new_tensor(graph, tensor, &ti)) != MUDSC_OK))
		goto fail;
	if (t != NULL)
		ti = (size_t)(t - graph->tensors);
	s.tensor = graph->tensors[ti].name;
	graph->tensors[ti].split = (int32_t)graph->n_splits;
	graph->splits[graph->n_splits++] = s;
	return MUDSC_OK;
fail:
	free_split(&s);
	return st;
}

MUDSC_API mudsc_status mudsc_graph_add_split(mudsc_graph *graph, const char *tensor, int32_t axis,
                                             size_t n_parts, const char *const *parts)
{
	MUDSC__CHECK_NULL(graph);
	MUDSC__CHECK_NULL(tensor);
	return add_split(graph, tensor, axis, n_parts, parts, NULL, "mudsc_graph_add_split");
}

MUDSC_API mudsc_status mudsc_graph_add_concat(mudsc_graph *graph, const char *tensor, int32_t axis,
                                              size_t n_parts, const char *const *parts,
                                              const int64_t *sizes)
{
	MUDSC__CHECK_NULL(graph);
	MUDSC__CHECK_NULL(tensor);
	MUDSC__CHECK_NULL(sizes);
	return add_split(graph, tensor, axis, n_parts, parts, sizes, "mudsc_graph_add_concat");
}

void mudsc__graph_part_range(const struct graph_split *s, size_t k, int64_t L, int64_t *offset,
                            int64_t *length)
{
	if (s->sizes == NULL) {
		*length = L / (int64_t)s->n_parts;
		*offset = (int64_t)k * *length;
		return;
	}
	*offset = 0;
	for (size_t j = 0; j < k; j++)
		*offset += s->sizes[j];
	*length = s->sizes[k];
}

int mudsc__graph_needs_v2(const mudsc_graph *graph)
{
	for (size_t s = 0; s < graph->n_splits; s++)
		if (graph->splits[s].sizes != NULL)
			return 1;
	for (size_t p = 0; p < graph->n_points; p++) {
		if (graph->points[p].site_offset != 0)
			return 1;
		for (size_t b = 0; b < graph->points[p].n_bindings; b++)
			if (graph->points[p].bindings[b].repeat != 1)
				return 1;
	}
	return 0;
}

/* Resolve a part name of tensor (record t, NULL if none yet) to its index (-1 for NULL). */
static mudsc_status resolve_part(const char *fn, const mudsc_graph *graph,
                                 const struct graph_tensor *t,
                                 const char *tensor, const char *part, int32_t axis,
                                 int32_t *index)
{
	const struct graph_split *s = t != NULL && t->split >= 0 ? &graph->splits[t->split] : NULL;
	size_t k;

	*index = -1;
	if (part == NULL) {
		if (s != NULL && s->axis == axis)
			return mudsc__err(MUDSC_E_INVALID, "%s: tensor '%s' is split along axis %d, which "
			                                  "is bound through its parts only", fn, tensor,
			                 (int)axis);
		return MUDSC_OK;
	}
	if (s == NULL)
		return mudsc__err(MUDSC_E_NOT_FOUND, "%s: tensor '%s' has no split declared, so it has "
		                                    "no part '%s'", fn, tensor, part);
	if (!mudsc__strmap_get(&s->part_by_name, part, &k))
		return mudsc__err(MUDSC_E_NOT_FOUND, "%s: tensor '%s' has no part '%s'", fn, tensor,
		                 part);
	*index = (int32_t)k;
	return MUDSC_OK;
}

static mudsc_status check_bind_args(const char *fn, const mudsc_graph *graph, size_t point,
                                    const char *tensor, int32_t axis, mudsc_role role,
                                    uint32_t flags)
{
	if (point >= graph->n_points)
		return mudsc__err(MUDSC_E_RANGE, "%s: argument 'point' = %zu, the graph has %zu points",
		                 fn, point, graph->n_points);
	if (tensor[0] == '\0')
		return mudsc__err(MUDSC_E_INVALID, "%s: argument 'tensor' is empty", fn);
	if (axis < 0 || axis >= MUDSC_MAX_RANK)
		return mudsc__err(MUDSC_E_SHAPE, "%s: tensor '%s': axis %d outside 0..%d", fn, tensor,
		                 (int)axis, MUDSC_MAX_RANK - 1);
	if (role != MUDSC_ROLE_OUT && role != MUDSC_ROLE_IN)
		return mudsc__err(MUDSC_E_INVALID, "%s: tensor '%s': argument 'role' = %d is not "
		                                  "MUDSC_ROLE_OUT or MUDSC_ROLE_IN", fn, tensor,
		                 (int)role);
	if ((flags & ~MUDSC_BIND_IGNORE) != 0)
		return mudsc__err(MUDSC_E_INVALID, "%s: tensor '%s': unknown bits in 'flags' = 0x%x",
		                 fn, tensor, (unsigned)flags);
	return MUDSC_OK;
}

static mudsc_status bind(mudsc_graph *graph, size_t point, const char *tensor, const char *part,
                         int32_t axis, mudsc_role role, uint32_t flags, int64_t repeat,
                         const char *fn)
{
	struct graph_point *pt;
	const struct graph_tensor *known;
	struct graph_tensor *t;
	struct graph_ref *first;
	struct graph_binding bd = {.axis = axis, .role = role, .flags = flags, .repeat = repeat};
	size_t other;
	mudsc_status st;

	if ((st = check_bind_args(fn, graph, point, tensor, axis, role, flags)) != MUDSC_OK)
		return st;
	known = mudsc__graph_tensor(graph, tensor);
	if ((st = resolve_part(fn, graph, known, tensor, part, axis, &bd.part)) != MUDSC_OK)
		return st;
	if (find_clash(graph, known, bd.part, axis, &other, &graph->clash_steps) != NULL)
		return mudsc__err(MUDSC_E_EXISTS, "%s: tensor '%s'%s%s axis %d is already "
		                                 "bound to point '%s'", fn, tensor, part ? " part " : "",
		                 part ? part : "", (int)axis, graph->points[other].name);
	pt = &graph->points[point];
	st = mudsc__reserve_one((void **)&pt->bindings, &pt->cap_bindings, pt->n_bindings,
	                       sizeof *pt->bindings, "point bindings");
	if (st != MUDSC_OK)
		return st;
	if (known != NULL)
		bd.tensor_index = (size_t)(known - graph->tensors);
	else if ((st = new_tensor(graph, tensor, &bd.tensor_index)) != MUDSC_OK)
		return st;
	t = &graph->tensors[bd.tensor_index];
	bd.tensor = t->name;
	/* prepend to the chain of its (tensor, part); nothing fails from here */
	first = bd.part < 0 ? &t->whole : &graph->splits[t->split].part_first[bd.part];
	bd.next = *first;
	*first = (struct graph_ref){point, pt->n_bindings};
	if (bd.part >= 0)
		t->part_axes |= 1u << axis;
	t->n_bindings++;
	pt->bindings[pt->n_bindings++] = bd;
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_graph_bind(mudsc_graph *graph, size_t point, const char *tensor,
                                        const char *part, int32_t axis, mudsc_role role,
                                        uint32_t flags)
{
	MUDSC__CHECK_NULL(graph);
	MUDSC__CHECK_NULL(tensor);
	return bind(graph, point, tensor, part, axis, role, flags, 1, "mudsc_graph_bind");
}

MUDSC_API mudsc_status mudsc_graph_bind_repeat(mudsc_graph *graph, size_t point,
                                               const char *tensor, const char *part, int32_t axis,
                                               mudsc_role role, uint32_t flags, int64_t repeat)
{
	MUDSC__CHECK_NULL(graph);
	MUDSC__CHECK_NULL(tensor);
	if (repeat < 1)
		return mudsc__err(MUDSC_E_SHAPE, "mudsc_graph_bind_repeat: tensor '%s': argument "
		                                "'repeat' = %lld (need >= 1)", tensor, (long long)repeat);
	if (repeat > 1 && part != NULL)
		return mudsc__err(MUDSC_E_UNSUPPORTED, "mudsc_graph_bind_repeat: tensor '%s' part '%s': "
		                                      "a repeated binding is of a whole tensor only "
		                                      "(argument 'part')", tensor, part);
	if (repeat > 1) {
		const struct graph_split *sp = mudsc__graph_split_of(graph, tensor);
		if (sp != NULL && sp->axis == axis)
			return mudsc__err(MUDSC_E_UNSUPPORTED, "mudsc_graph_bind_repeat: tensor '%s' axis "
			                                      "%d is split; a repeated binding may not be "
			                                      "on a split axis (argument 'axis')", tensor,
			                 (int)axis);
	}
	return bind(graph, point, tensor, part, axis, role, flags, repeat, "mudsc_graph_bind_repeat");
}

/* The accessors' one prologue: graph and out are not NULL and index is below
 * count; the message reads "fn: argument 'arg' = i, the graph has n <items>",
 * or "point 'name' has n <items>" when point is not NULL. */
static mudsc_status check_access(const mudsc_graph *graph, const void *out, size_t index,
                                 size_t count, const char *fn, const char *arg, const char *point,
                                 const char *items)
{
	if (graph == NULL || out == NULL)
		return mudsc__err(MUDSC_E_INVALID, "%s: argument '%s' is NULL", fn,
		                 graph == NULL ? "graph" : "out");
	if (index < count)
		return MUDSC_OK;
	if (point == NULL)
		return mudsc__err(MUDSC_E_RANGE, "%s: argument '%s' = %zu, the graph has %zu %s", fn,
		                 arg, index, count, items);
	return mudsc__err(MUDSC_E_RANGE, "%s: argument '%s' = %zu, point '%s' has %zu %s", fn, arg,
	                 index, point, count, items);
}

MUDSC_API size_t mudsc_graph_point_count(const mudsc_graph *graph)
{
	return graph ? graph->n_points : 0;
}

MUDSC_API mudsc_status mudsc_graph_point_at(mudsc_point_info *out, const mudsc_graph *graph,
                                            size_t index)
{
	const struct graph_point *p;
	mudsc_status st;

	st = check_access(graph, out, index, graph ? graph->n_points : 0, "mudsc_graph_point_at",
	                  "index", NULL, "points");
	if (st != MUDSC_OK)
		return st;
	p = &graph->points[index];
	out->name = p->name;
	out->width = p->width;
	out->groups = p->groups;
	out->site_name = p->site_name;
	out->site_axis = p->site_name ? p->site_axis : 0;
	out->binding_count = p->n_bindings;
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_graph_point_find(size_t *index, const mudsc_graph *graph,
                                              const char *name)
{
	size_t i;

	MUDSC__CHECK_NULL(graph);
	MUDSC__CHECK_NULL(name);
	MUDSC__CHECK_NULL(index);
	if (!mudsc__strmap_get(&graph->point_by_name, name, &i))
		return mudsc__err(MUDSC_E_NOT_FOUND, "mudsc_graph_point_find: no point named '%s'", name);
	*index = i;
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_graph_binding_at(mudsc_binding_info *out, const mudsc_graph *graph,
                                              size_t point, size_t index)
{
	const struct graph_point *p;
	const struct graph_binding *b;
	mudsc_status st;

	st = check_access(graph, out, point, graph ? graph->n_points : 0, "mudsc_graph_binding_at",
	                  "point", NULL, "points");
	if (st != MUDSC_OK)
		return st;
	p = &graph->points[point];
	st = check_access(graph, out, index, p->n_bindings, "mudsc_graph_binding_at", "index", p->name,
	                  "bindings");
	if (st != MUDSC_OK)
		return st;
	b = &p->bindings[index];
	out->tensor = b->tensor;
	out->part = part_name(graph, b);
	out->axis = b->axis;
	out->role = b->role;
	out->flags = b->flags;
	out->repeat = b->repeat;
	return MUDSC_OK;
}

MUDSC_API size_t mudsc_graph_split_count(const mudsc_graph *graph)
{
	return graph ? graph->n_splits : 0;
}

MUDSC_API mudsc_status mudsc_graph_split_at(mudsc_split_info *out, const mudsc_graph *graph,
                                            size_t index)
{
	const struct graph_split *s;
	mudsc_status st;

	st = check_access(graph, out, index, graph ? graph->n_splits : 0, "mudsc_graph_split_at",
	                  "index", NULL, "splits");
	if (st != MUDSC_OK)
		return st;
	s = &graph->splits[index];
	out->tensor = s->tensor;
	out->axis = s->axis;
	out->part_count = s->n_parts;
	out->parts = (const char *const *)s->parts;
	out->sizes = s->sizes;
	return MUDSC_OK;
}
