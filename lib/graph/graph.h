/*
 * The inside of mudsc_graph, for the modules that build, read, validate
 * and match graphs.  Plain arrays in the order things were added:
 *
 *   graph->points[p]                 a merge point
 *     .bindings[b]                   its bound axes, in binding order
 *       .tensor, .part, .axis, ...   part = index into the tensor's split
 *                                    (graph->splits[split].parts), or -1
 *   graph->splits[s]                 fused tensors cut into named parts
 *   graph->tensors[t]                every tensor named by a binding or a
 *                                    split, found by name in tensor_by_name
 *
 * Every lookup by name is a hash lookup, so building and reading a graph
 * costs time linear in its size (issue 11, defect 7): the bindings of one
 * tensor are chained (graph_binding.next) from the tensor, the whole-tensor
 * ones from graph_tensor.whole and those of part k from split.part_first[k].
 * Each chain holds at most MUDSC_MAX_RANK bindings (one per axis).
 *
 * Invariants kept by graph.c: point names are unique; width % groups == 0;
 * a (tensor, part, axis) is bound at most once, and a whole-tensor binding
 * of a split tensor is never on the split axis nor on an axis some part
 * binds; every part index refers to the split of the same tensor.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_GRAPH_INTERNAL_H
#define MUDSC_GRAPH_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include "mudsc/graph.h"

/* Where a binding lives: graph->points[point].bindings[binding]. */
struct graph_ref {
	size_t point, binding;
};

/* The end of a chain of bindings. */
#define MUDSC__GRAPH_NO_REF ((struct graph_ref){SIZE_MAX, SIZE_MAX})

struct graph_binding {
	const char *tensor; /* borrowed: graph->tensors[tensor_index].name */
	size_t tensor_index;
	int32_t part; /* index of the part in the tensor's split, or -1: whole tensor */
	int32_t axis; /* axis of the tensor, or of the part (same numbering) */
	mudsc_role role;
	uint32_t flags; /* MUDSC_BIND_IGNORE */
	int64_t repeat; /* each unit occupies `repeat` consecutive entries of the axis (>= 1) */
	struct graph_ref next; /* the next binding of the same (tensor, part) chain */
};

struct graph_point {
	char *name;
	int64_t width, groups;
	char *site_name; /* NULL: no site recorded */
	int32_t site_axis;
	int64_t site_offset; /* the point's first feature on the site's axis */
	struct graph_binding *bindings;
	size_t n_bindings, cap_bindings;
};

struct graph_split {
	const char *tensor; /* borrowed: graph->tensors[...].name */
	int32_t axis;
	char **parts;
	size_t n_parts;
	int64_t *sizes; /* [n_parts] lengths of a concatenation, or NULL: equal parts */
	struct mudsc__strmap part_by_name;  /* part name -> k */
	struct graph_ref *part_first;       /* [n_parts]: chain of part k's bindings */
};

struct graph_tensor {
	char *name;
	int32_t split;          /* index into graph->splits, or -1 */
	uint32_t part_axes;     /* bit a: some part of the tensor binds axis a */
	size_t n_bindings;      /* whole and part bindings */
	struct graph_ref whole; /* chain of the whole-tensor bindings */
};

struct mudsc_graph {
	struct graph_point *points;
	size_t n_points, cap_points;
	struct graph_split *splits;
	size_t n_splits, cap_splits;
	struct graph_tensor *tensors;
	size_t n_tensors, cap_tensors;
	struct mudsc__strmap point_by_name;  /* name -> index into points */
	struct mudsc__strmap tensor_by_name; /* name -> index into tensors */
	/* bindings looked at by the clash checks of bind and add_split, the
	 * tests' measure of their cost: at most MUDSC_MAX_RANK per call (the
	 * scan before issue 11 looked at every binding of the graph) */
	size_t clash_steps;
};

/* The tensor record of name, or NULL when no binding or split names it. */
const struct graph_tensor *mudsc__graph_tensor(const mudsc_graph *graph, const char *name);

/* Offset and length of part k of split s on an axis of length L. */
void mudsc__graph_part_range(const struct graph_split *s, size_t k, int64_t L, int64_t *offset,
                            int64_t *length);

/* 1 when the graph uses what only format version 2 can say (a concatenation
 * or a repeated binding), else 0. */
int mudsc__graph_needs_v2(const mudsc_graph *graph);

/* The split declared for tensor, or NULL. */
const struct graph_split *mudsc__graph_split_of(const mudsc_graph *graph, const char *tensor);

/*
 * Every binding that applies to `tensor` (part = -1) or to its part `part`
 * (>= 0): the bindings of exactly that (tensor, part), plus, for a part,
 * the whole-tensor bindings (which apply to every part), in point order
 * then binding order.  Writes at most cap refs to out (may be NULL) and
 * returns the total number (at most MUDSC_MAX_RANK); use it to find the
 * "other bound axes" of a tensor when building weight features.  Costs
 * one hash lookup and the few bindings found.
 */
size_t mudsc__graph_bindings_of(const mudsc_graph *graph, const char *tensor, int32_t part,
                               struct graph_ref *out, size_t cap);

/* Replace the first "{c}" placeholders (c = key) of template by value,
 * prepend prefix, write to buf (NUL-terminated).  Returns MUDSC_E_INVALID
 * naming `what` when the result does not fit. */
mudsc_status mudsc__graph_format_name(char *buf, size_t cap, const char *prefix,
                                     const char *template_, char key, int64_t value,
                                     const char *what);

/* Longest prefix, template or module name a builder option may hold; the
 * builders size their name buffers so that names built from options this
 * long are never cut (mudsc__graph_namef then cannot truncate). */
#define MUDSC__GRAPH_NAME_OPTION_MAX 64

/* snprintf for builder names whose parts were length-checked. */
void mudsc__graph_namef(char *buf, size_t cap, const char *fmt, ...) MUDSC__PRINTF(3, 4);

/* A name option of a builder: opts->field = value. */
struct mudsc__graph_name {
	const char *field; /* "prefix", for messages */
	const char *value;
	bool nonempty;     /* "" is refused */
	bool optional;     /* NULL is allowed (and means none) */
};

/* MUDSC_E_INVALID naming fn and the field of the first of the n names
 * that is NULL (unless optional), empty (when it must not be) or longer
 * than MUDSC__GRAPH_NAME_OPTION_MAX. */
mudsc_status mudsc__graph_check_names(const char *fn, const struct mudsc__graph_name *names,
                                     size_t n);

/* A ready builder, as its entry mudsc__graph_build() runs it. */
struct mudsc__graph_builder {
	enum mudsc__options_id options; /* its options struct */
	const char *fn;                 /* its public name, for messages */
	/* the field checks of its options (already through the size rule) */
	mudsc_status (*check)(const void *opts, const char *fn);
	/* add its points to an empty graph */
	mudsc_status (*build)(mudsc_graph *graph, const void *opts);
};

/* The entry of every ready builder: opts (NULL: the defaults) through the
 * size rule into a local copy, b->check, then b->build on a new graph that
 * is freed on failure; *out is written only on success. */
mudsc_status mudsc__graph_build(mudsc_graph **out, const void *opts,
                               const struct mudsc__graph_builder *b);

/* The field checks the builders share, each MUDSC_E_INVALID naming fn and
 * opts->field: value >= 1; value 0 or 1; a template with "{i}" when
 * count > 1 things (`what`, e.g. "blocks", counted by opts->count_field)
 * would otherwise share one name. */
mudsc_status mudsc__graph_check_positive(const char *fn, const char *field, int64_t value);
mudsc_status mudsc__graph_check_flag(const char *fn, const char *field, int32_t value);
mudsc_status mudsc__graph_check_template(const char *fn, const char *field,
                                        const char *template_, int32_t count, const char *what,
                                        const char *count_field);

/* Bind "<module>.<param>" (just module when param is "") to point. */
mudsc_status mudsc__graph_bind_param(mudsc_graph *graph, size_t point, const char *module,
                                    const char *param, const char *part, int32_t axis,
                                    mudsc_role role);

/* A LayerNorm's weight and bias, OUT axis 0 of point. */
mudsc_status mudsc__graph_bind_norm(mudsc_graph *graph, size_t point, const char *norm);

#endif /* MUDSC_GRAPH_INTERNAL_H */
