/*
 * The libmudsc side of the example.  Every library call is checked; a
 * failure prints mudsc_error_message() and the status name on stderr.
 *
 * Activation site: the features are observed AFTER each hidden layer's
 * ReLU, as the paper's code does (it hooks the activation modules).  The
 * MLP builder records the Linear's output as the site; either is valid,
 * since a permutation of a layer's units commutes with the unit-wise ReLU.
 * After the ReLU, units that never fire are constant (correlation 0 with
 * every unit) instead of carrying pre-activation noise.
 *
 * SPDX-License-Identifier: MIT
 */
#include "merge.h"

#include <stdio.h>
#include <string.h>

static int lib_fail(const char *what)
{
	fprintf(stderr, "fashion_mnist: %s: %s (%s)\n", what, mudsc_error_message(),
	        mudsc_status_name(mudsc_error_status()));
	return -1;
}

int merge_setup(int threads)
{
	if (MUDSC_CHECK_VERSION() != MUDSC_OK)
		return lib_fail("libmudsc version check");
	if (mudsc_blas_set_threads(threads) != MUDSC_OK)
		return lib_fail("setting the BLAS threads");
	return 0;
}

static void tensor_name(char *buf, size_t len, int32_t layer, const char *kind)
{
	snprintf(buf, len, "layers.%d.%s", layer, kind);
}

int mlp_as_model(mudsc_model **out, const struct mlp *net)
{
	mudsc_model *model;
	char name[64];

	if (mudsc_model_new(&model) != MUDSC_OK)
		return lib_fail("creating a model");
	for (int32_t k = 0; k < net->n_layers; k++) {
		int64_t shape[2] = {net->width[k + 1], net->width[k]};

		tensor_name(name, sizeof(name), k, "weight");
		if (mudsc_model_add(model, name, MUDSC_DTYPE_F32, 2, shape, net->w[k], MUDSC_BORROW) !=
		    MUDSC_OK)
			goto fail;
		tensor_name(name, sizeof(name), k, "bias");
		if (mudsc_model_add(model, name, MUDSC_DTYPE_F32, 1, shape, net->b[k], MUDSC_BORROW) !=
		    MUDSC_OK)
			goto fail;
	}
	*out = model;
	return 0;
fail:
	lib_fail("adding a tensor");
	mudsc_model_free(model);
	return -1;
}

static int build_graph(struct merger *m, const struct mlp *net)
{
	mudsc_mlp_options opts = MUDSC_MLP_OPTIONS_INIT; /* "layers.{i}", with biases */

	opts.n_hidden = (size_t)(net->n_layers - 1);
	opts.hidden = net->width + 1;
	if (mudsc_graph_build_mlp(&m->graph, &opts) != MUDSC_OK)
		return lib_fail("building the MLP graph");
	m->n_points = mudsc_graph_point_count(m->graph);
	if (m->n_points != opts.n_hidden) {
		fprintf(stderr, "fashion_mnist: the MLP graph has %zu points for %zu hidden layers\n",
		        m->n_points, opts.n_hidden);
		return -1;
	}
	return 0;
}

int merger_new(struct merger *m, const struct mlp *a, const struct mlp *b)
{
	memset(m, 0, sizeof(*m));
	m->nets[0] = a;
	m->nets[1] = b;
	if (a->n_layers < 2 || mlp_as_model(&m->models[0], a) != 0 ||
	    mlp_as_model(&m->models[1], b) != 0 || build_graph(m, a) != 0)
		goto fail;
	if (mudsc_stats_new(&m->stats, m->graph, 2, NULL) != MUDSC_OK) {
		lib_fail("creating the statistics set");
		goto fail;
	}
	for (size_t p = 0; p < m->n_points; p++)
		if (mudsc_stats_point(&m->accums[p], m->stats, p) != MUDSC_OK) {
			lib_fail("taking a point's accumulator");
			goto fail;
		}
	return 0;
fail:
	merger_free(m);
	return -1;
}

int merger_calibrate(struct merger *m, const struct dataset *calib, int64_t batch)
{
	struct mlp_work work;
	int rc = 0;

	if (mlp_work_new(&work, m->nets[0], batch) != 0)
		return -1;
	for (int64_t at = 0; at < calib->n && rc == 0; at += batch) {
		int64_t rows = calib->n - at < batch ? calib->n - at : batch;

		for (int32_t i = 0; i < 2 && rc == 0; i++) {
			mlp_forward(m->nets[i], &work, calib->x + at * FMNIST_PIXELS, rows);
			for (size_t p = 0; p < m->n_points && rc == 0; p++) {
				mudsc_features f = {MUDSC_DTYPE_F32, 2, {rows, m->nets[i]->width[p + 1]},
				                    NULL, -1, work.act[p + 1]};

				if (mudsc_accum_update(m->accums[p], i, &f) != MUDSC_OK)
					rc = lib_fail("streaming calibration features");
			}
		}
	}
	mlp_work_free(&work);
	return rc;
}

/* Copy the merged model's tensors into a new MLP (zip may change the widths). */
static int unwrap_net(struct mlp *out, const mudsc_model *merged, int32_t n_layers)
{
	int64_t width[MLP_MAX_LAYERS + 1] = {0};
	mudsc_tensor w[MLP_MAX_LAYERS], b[MLP_MAX_LAYERS];
	char name[64];

	for (int32_t k = 0; k < n_layers; k++) {
		tensor_name(name, sizeof(name), k, "weight");
		if (mudsc_model_find(&w[k], merged, name) != MUDSC_OK)
			return lib_fail("reading the merged model");
		tensor_name(name, sizeof(name), k, "bias");
		if (mudsc_model_find(&b[k], merged, name) != MUDSC_OK)
			return lib_fail("reading the merged model");
		width[k] = w[k].shape[1];
		width[k + 1] = w[k].shape[0];
	}
	if (mlp_new(out, n_layers, width) != 0)
		return -1;
	for (int32_t k = 0; k < n_layers; k++) {
		if (w[k].dtype != MUDSC_DTYPE_F32 || b[k].dtype != MUDSC_DTYPE_F32 ||
		    w[k].nbytes != (size_t)(width[k] * width[k + 1]) * sizeof(float) ||
		    b[k].nbytes != (size_t)width[k + 1] * sizeof(float)) {
			fprintf(stderr, "fashion_mnist: merged layer %d is not F32 [%lld, %lld]\n", k,
			        (long long)width[k + 1], (long long)width[k]);
			mlp_free(out);
			return -1;
		}
		memcpy(out->w[k], w[k].data, w[k].nbytes);
		memcpy(out->b[k], b[k].data, b[k].nbytes);
	}
	return 0;
}

/* The weight-averaging baseline: mudsc_average straight into out's memory. */
static int average_nets(struct merger *m, struct mlp *out)
{
	mudsc_model *dst = NULL;
	int rc = -1;

	if (mlp_new_like(out, m->nets[0]) != 0)
		return -1;
	if (mlp_as_model(&dst, out) == 0) {
		if (mudsc_average(dst, 2, (const mudsc_model *const *)m->models, NULL, NULL) ==
		    MUDSC_OK)
			rc = 0;
		else
			lib_fail("averaging");
	}
	mudsc_model_free(dst);
	if (rc != 0)
		mlp_free(out);
	return rc;
}

/* A matcher that ran spec on the merger's models (*out; free it). */
static int run_matcher(mudsc_matcher **out, struct merger *m, const struct merge_spec *spec)
{
	mudsc_matcher_options opts = MUDSC_MATCHER_OPTIONS_INIT;
	mudsc_matcher *matcher = NULL;

	opts.method = spec->method;
	opts.alpha = spec->alpha;
	if (mudsc_matcher_new(&matcher, m->graph, (const mudsc_model *const *)m->models, 2, &opts) !=
	    MUDSC_OK)
		return lib_fail("creating the matcher");
	for (size_t p = 0; p < m->n_points && spec->use_activations; p++)
		if (mudsc_matcher_set_activations(matcher, p, m->accums[p]) != MUDSC_OK) {
			mudsc_matcher_free(matcher);
			return lib_fail("giving the matcher activations");
		}
	if (mudsc_matcher_run(matcher) != MUDSC_OK) {
		mudsc_matcher_free(matcher);
		return lib_fail("matching");
	}
	*out = matcher;
	return 0;
}

int merger_run(struct merger *m, const struct merge_spec *spec, struct mlp *out, int32_t *sweeps)
{
	mudsc_matcher *matcher = NULL;
	mudsc_model *merged = NULL;
	int rc = -1;

	if (spec->average_only) {
		if (sweeps)
			*sweeps = 0;
		return average_nets(m, out);
	}
	if (run_matcher(&matcher, m, spec) != 0)
		return -1;
	if (mudsc_matcher_merge(&merged, matcher, NULL) != MUDSC_OK) {
		lib_fail("merging");
		goto done;
	}
	rc = unwrap_net(out, merged, m->nets[0]->n_layers);
	if (sweeps)
		*sweeps = mudsc_matcher_sweeps(matcher);
done:
	mudsc_model_free(merged);
	mudsc_matcher_free(matcher);
	return rc;
}

static int save_in(const char *dir, const char *name, char *path, size_t cap)
{
	if ((size_t)snprintf(path, cap, "%s/%s", dir, name) >= cap) {
		fprintf(stderr, "fashion_mnist: --export: the folder name is too long\n");
		return -1;
	}
	return 0;
}

int merger_export(struct merger *m, const struct merge_spec *spec, const char *dir)
{
	static const char *const nets[2] = {"net_a.safetensors", "net_b.safetensors"};
	mudsc_matcher *matcher = NULL;
	mudsc_model *merged = NULL;
	char path[4096];
	int rc = -1;

	for (int i = 0; i < 2; i++)
		if (save_in(dir, nets[i], path, sizeof path) != 0 ||
		    mudsc_model_save(m->models[i], path) != MUDSC_OK)
			return lib_fail("--export: saving a network");
	if (save_in(dir, "graph.json", path, sizeof path) != 0 ||
	    mudsc_graph_save_json(m->graph, path) != MUDSC_OK)
		return lib_fail("--export: saving the graph");
	if (save_in(dir, "stats.safetensors", path, sizeof path) != 0 ||
	    mudsc_stats_save(m->stats, path) != MUDSC_OK)
		return lib_fail("--export: saving the statistics");
	if (save_in(dir, "merge.yml", path, sizeof path) != 0)
		return -1;
	FILE *fp = fopen(path, "w");
	if (fp == NULL) {
		perror("fashion_mnist: --export: merge.yml");
		return -1;
	}
	fprintf(fp, "# Written by fashion_mnist --export: `mudsc merge merge.yml` repeats the\n"
	            "# example's %s merge at alpha = %.2f (chosen on held-out images).\n"
	            "models:\n  - path: %s\n  - path: %s\n"
	            "graph: graph.json\n"
	            "statistics: [stats.safetensors]\n"
	            "method: %s\nalpha: %.17g\nthreads: 1\n"
	            "output: merged_cli.safetensors\nreport: report.json\n",
	        spec->method == MUDSC_METHOD_ZIP ? "MuDSC zip" : "MuDSC align", spec->alpha,
	        nets[0], nets[1], spec->method == MUDSC_METHOD_ZIP ? "zip" : "align", spec->alpha);
	if (fclose(fp) != 0) {
		perror("fashion_mnist: --export: merge.yml");
		return -1;
	}
	if (run_matcher(&matcher, m, spec) != 0)
		return -1;
	if (save_in(dir, "merged_example.safetensors", path, sizeof path) == 0 &&
	    mudsc_matcher_merge(&merged, matcher, NULL) == MUDSC_OK &&
	    mudsc_model_save(merged, path) == MUDSC_OK)
		rc = 0;
	else
		lib_fail("--export: the example's own merge");
	mudsc_model_free(merged);
	mudsc_matcher_free(matcher);
	return rc;
}

void merger_free(struct merger *m)
{
	mudsc_stats_free(m->stats); /* and the accumulators it owns */
	mudsc_model_free(m->models[0]);
	mudsc_model_free(m->models[1]);
	mudsc_graph_free(m->graph);
	memset(m, 0, sizeof(*m));
}
