/*
 * Everything the example asks of libmudsc: the two trained MLPs as
 * borrowed mudsc_models, their graph from the MLP builder, one activation
 * accumulator per merge point, and a merge by a matcher.  No merging logic
 * lives in the example: it only moves tensors in and out.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef FMNIST_MERGE_H
#define FMNIST_MERGE_H

#include <mudsc/mudsc.h>
#include <stddef.h>

#include "data.h"
#include "mlp.h"

/* The net's parameters as a model that borrows them (no copy; the library
 * may write into them through mudsc_average).  -1 with the library's
 * message on stderr. */
int mlp_as_model(mudsc_model **out, const struct mlp *net);

/* Check the linked library against the headers and set the BLAS threads. */
int merge_setup(int threads);

struct merger {
	const struct mlp *nets[2];
	mudsc_model *models[2]; /* borrow the nets' parameters */
	mudsc_graph *graph;
	mudsc_stats *stats;  /* the calibration statistics, one accumulator per point */
	mudsc_accum *accums[MLP_MAX_LAYERS]; /* the set's accumulators (borrowed from stats) */
	size_t n_points;
};

/*
 * Wrap a and b (same shapes; they must stay alive and unchanged while the
 * merger lives) and build their graph.  -1 with the library's message on
 * stderr on failure (everything released).
 */
int merger_new(struct merger *m, const struct mlp *a, const struct mlp *b);

/*
 * Feed every image of calib through both networks and stream each hidden
 * layer's post-ReLU features into that point's accumulator.
 */
int merger_calibrate(struct merger *m, const struct dataset *calib, int64_t batch);

struct merge_spec {
	mudsc_method method;  /* align or zip */
	double alpha;         /* weight of the weight-space similarity */
	int use_activations;  /* 0: weight matching only (alpha is then 1) */
	int average_only;     /* 1: no matching at all, the weight-averaging baseline
	                         (mudsc_average) */
};

/*
 * Match with spec, merge with equal weights and copy the merged tensors
 * into out (allocated here, free with mlp_free).  *sweeps (may be NULL)
 * receives the matcher's sweep count.
 */
int merger_run(struct merger *m, const struct merge_spec *spec, struct mlp *out, int32_t *sweeps);

/*
 * Write into the folder dir (which must exist) what the `mudsc` tool needs
 * to repeat the merge spec (activations, equal weights): net_a.safetensors,
 * net_b.safetensors, graph.json, stats.safetensors (the calibration
 * statistics), merge.yml (its config), and the example's own merge of
 * that spec, merged_example.safetensors.  -1 with a message on failure.
 */
int merger_export(struct merger *m, const struct merge_spec *spec, const char *dir);

void merger_free(struct merger *m);

#endif /* FMNIST_MERGE_H */
