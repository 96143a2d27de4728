/*
 * The match plan: a graph resolved against N models, in the form the
 * matcher works on.  Split tensors are replaced by their parts, and a
 * whole-tensor binding beside part bindings is repeated on every part (the
 * weight-similarity columns are then the same set; Pearson and cosine do
 * not depend on the order of observations).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_PLAN_H
#define MUDSC_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mudsc/graph.h" /* mudsc_role */
#include "mudsc/model.h"

/*
 * One tensor, or one part of a split tensor, with the point bound to each
 * axis.  Plan axes are the model tensor's axes, except that an axis bound
 * with repeat k (mudsc_graph_bind_repeat) is viewed as two, (C, k), which
 * C order makes a free reshape: a unit's k entries then move as the inner
 * block of axis C.  rank, shape, whole_shape, split_axis and point[] are
 * in plan axes; plan_axis[] / model_axis[] map between the two.
 */
struct plan_tensor {
	const char *name;                  /* the model tensor's name (borrowed) */
	int32_t part, nparts, split_axis;  /* part = -1: the whole tensor */
	int64_t part_offset;               /* where the part starts on the split axis */
	int32_t rank;                      /* plan axes */
	int32_t model_rank;
	int8_t plan_axis[MUDSC_MAX_RANK];  /* model axis -> its (first) plan axis */
	int8_t model_axis[MUDSC_MAX_RANK]; /* plan axis -> model axis */
	int64_t shape[MUDSC_MAX_RANK];     /* of this part (or the whole) */
	int64_t whole_shape[MUDSC_MAX_RANK];
	int32_t point[MUDSC_MAX_RANK];     /* point bound to each axis, -1 for none */
	uint8_t role[MUDSC_MAX_RANK];      /* mudsc_role of each bound axis */
	mudsc_dtype dtype;
	const void **data;                 /* per model: the whole tensor's data (borrowed) */
};

/* A non-ignored binding: a weight-similarity feature block. */
struct plan_feature {
	int32_t tensor; /* index into plan.tensors */
	int32_t axis;
};

struct plan_point {
	const char *name; /* borrowed from the graph */
	int64_t width, groups;
	struct plan_feature *features;
	size_t nfeatures;
};

struct mudsc__plan {
	int32_t n_models;
	struct plan_tensor *tensors;
	size_t ntensors;
	struct plan_point *points;
	size_t npoints;
};

void mudsc__plan_free(struct mudsc__plan *plan);

/* Model i's plan tensor t as doubles (the part's slice of the whole tensor),
 * into dst of numel(t->shape) elements. */
void mudsc__plan_load(const struct plan_tensor *t, int32_t model, double *dst);

/* Collapse a shape in t's plan axes (in place) to the model tensor's axes. */
void mudsc__plan_model_shape(const struct plan_tensor *t, int64_t *shape);

/* Number of elements of a plan tensor. */
size_t mudsc__plan_numel(const struct plan_tensor *t);

#endif /* MUDSC_PLAN_H */
