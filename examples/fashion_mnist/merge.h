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

/* Check the linked library against the headers and set the BLAS threads. */
int merge_setup(int threads);

/* The net's parameters as a model that borrows them (no copy; the library
 * may write into them through mudsc_average).  -1 with the library's
 * message on stderr. */
int mlp_as_model(mudsc_model **out, const struct mlp *net);

struct merger {
	const struct mlp *nets[2];
	mudsc_model *models[2]; /* borrow the nets' parameters */
	mudsc_graph *graph;
	mudsc_stats *stats;  /* the calibration statistics at the site, one accumulator per point */
	mudsc_accum *accums[MLP_MAX_LAYERS]; /* the set's accumulators (borrowed from stats) */
	mudsc_stats *pre_stats; /* every point's pre-activation statistics, for REPAIR */
	size_t n_points;
	int site;               /* MUDSC_SITE_POST or MUDSC_SITE_PRE: what accums observe */
	const struct dataset *calib; /* the calibration images (REPAIR measures on them) */
	int64_t batch;
	int repair_output;      /* 1: REPAIR also corrects the output layer (mudsc_repair_layer) */
};

/*
 * Wrap a and b (same shapes; they must stay alive and unchanged while the
 * merger lives) and build their graph.  -1 with the library's message on
 * stderr on failure (everything released).
 */
int merger_new(struct merger *m, const struct mlp *a, const struct mlp *b, int site);

/*
 * Feed every image of calib through both networks and stream each hidden
 * layer's features at the graph's site (after the ReLU by default, before
 * it with site MUDSC_SITE_PRE) into that point's accumulator, and the
 * pre-activations into pre_stats.  calib must outlive the merger.
 */
int merger_calibrate(struct merger *m, const struct dataset *calib, int64_t batch);

struct merge_spec {
	mudsc_method method;  /* align, zip or CCA */
	double alpha;         /* weight of the weight-space similarity */
	int use_activations;  /* 0: weight matching only (alpha is then 1) */
	int average_only;     /* 1: no matching at all, the weight-averaging baseline
	                         (mudsc_average) */
	int repair;           /* 1: REPAIR the merge (mudsc_repair, point by point) */
};

/*
 * Match with spec, merge with equal weights and copy the merged tensors
 * into out (allocated here, free with mlp_free).  *sweeps (may be NULL)
 * receives the matcher's sweep count.
 */
int merger_run(struct merger *m, const struct merge_spec *spec, struct mlp *out, int32_t *sweeps);

/*
 * As merger_run (spec not average_only), but the output layer, instead of
 * its REPAIR, re-solved by least squares towards the mean of the two
 * networks' unit-normalised outputs on the calibration images
 * (mudsc_lsq_layer_new, docs/algorithm.md 23.4), once per relative ridge:
 * outs[k] (free each with mlp_free) with ridges[k], k < n_ridges.  The
 * hidden points are REPAIRed first if spec->repair.
 */
int merger_run_lsq(struct merger *m, const struct merge_spec *spec, const double *ridges,
                   int n_ridges, struct mlp *outs);

/*
 * Partial zipping: match and merge the first depth points only (spec's
 * method and alpha, with activations) and unwrap the two networks trunk +
 * head i into heads[0], heads[1] (free with mlp_free); *params receives
 * the parameter count of trunk + both heads.
 */
int merger_run_partial(struct merger *m, const struct merge_spec *spec, int32_t depth,
                       struct mlp heads[2], int64_t *params);

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
