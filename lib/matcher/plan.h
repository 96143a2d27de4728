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

/* One tensor, or one part of a split tensor, with the point bound to each axis. */
struct plan_tensor {
	const char *name;                  /* the model tensor's name (borrowed) */
	int32_t part, nparts, split_axis;  /* part = -1: the whole tensor */
	int32_t rank;
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

/* Number of elements of a plan tensor. */
size_t mudsc__plan_numel(const struct plan_tensor *t);

#endif /* MUDSC_PLAN_H */
