/*
 * The libmudsc side of the example.  Every library call is checked; a
 * failure prints mudsc_error_message() and the status name on stderr.
 *
 * Activation site: by default the features are observed AFTER each hidden
 * layer's ReLU (the next layer's input), as the paper's code does and as
 * the MLP builder's default site says; --site pre observes the Linear's
 * output instead (the builder's MUDSC_SITE_PRE).  Either is valid, since a
 * permutation of a layer's units commutes with the unit-wise ReLU.  After
 * the ReLU, units that never fire are constant (correlation 0 with every
 * unit) instead of carrying pre-activation noise.
 *
 * REPAIR always uses the pre-activation statistics (docs/algorithm.md
 * section 17.2: the correction is exact there), point by point in order,
 * each point measured on the merged net whose earlier points are repaired;
 * then (repair_output, the default) the output layer, whose 128 units the
 * two networks share (both are compared with the same class embeddings),
 * by mudsc_repair_layer (section 17.5).
 *
 * The output least squares (merger_run_lsq) replaces that last step: the
 * output layer is re-solved (mudsc_lsq_layer_new, section 23.4) so that
 * on the calibration images its outputs from the merged net's own inputs
 * best match the mean of the two networks' unit-normalised outputs.  The
 * logits are cosines with shared class embeddings, so that mean is the
 * output ensemble's decision function.
 *
 * SPDX-License-Identifier: MIT
 */
#include "merge.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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

	opts.site = m->site;
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

int merger_new(struct merger *m, const struct mlp *a, const struct mlp *b, int site)
{
	memset(m, 0, sizeof(*m));
	m->nets[0] = a;
	m->nets[1] = b;
	m->site = site;
	if (a->n_layers < 2 || mlp_as_model(&m->models[0], a) != 0 ||
	    mlp_as_model(&m->models[1], b) != 0 || build_graph(m, a) != 0)
		goto fail;
	if (mudsc_stats_new(&m->stats, m->graph, 2, NULL) != MUDSC_OK ||
	    mudsc_stats_new(&m->pre_stats, m->graph, 2, NULL) != MUDSC_OK) {
		lib_fail("creating the statistics sets");
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

	m->calib = calib;
	m->batch = batch;
	if (mlp_work_new(&work, m->nets[0], batch) != 0 || mlp_work_keep_pre(&work, m->nets[0]) != 0) {
		mlp_work_free(&work);
		return -1;
	}
	for (int64_t at = 0; at < calib->n && rc == 0; at += batch) {
		int64_t rows = calib->n - at < batch ? calib->n - at : batch;

		for (int32_t i = 0; i < 2 && rc == 0; i++) {
			mlp_forward(m->nets[i], &work, calib->x + at * FMNIST_PIXELS, rows);
			for (size_t p = 0; p < m->n_points && rc == 0; p++) {
				const float *site = m->site == MUDSC_SITE_PRE ? work.pre[p + 1] : work.act[p + 1];
				mudsc_features f = {MUDSC_DTYPE_F32, 2, {rows, m->nets[i]->width[p + 1]},
				                    NULL, -1, site};
				mudsc_features fp = f;

				fp.data = work.pre[p + 1];
				if (mudsc_accum_update(m->accums[p], i, &f) != MUDSC_OK ||
				    mudsc_stats_update(m->pre_stats, p, i, &fp) != MUDSC_OK)
					rc = lib_fail("streaming calibration features");
			}
		}
	}
	mlp_work_free(&work);
	return rc;
}

/* Copy the merged model's tensors into a new MLP (zip may change the
 * widths); layers >= head_from are read as "heads.<head>.layers.{k}.*". */
static int unwrap_layers(struct mlp *out, const mudsc_model *merged, int32_t n_layers,
                         int32_t head_from, int head);

static int unwrap_net(struct mlp *out, const mudsc_model *merged, int32_t n_layers)
{
	return unwrap_layers(out, merged, n_layers, n_layers, 0);
}

static int unwrap_layers(struct mlp *out, const mudsc_model *merged, int32_t n_layers,
                         int32_t head_from, int head)
{
	int64_t width[MLP_MAX_LAYERS + 1] = {0};
	mudsc_tensor w[MLP_MAX_LAYERS], b[MLP_MAX_LAYERS];
	char name[96];

	for (int32_t k = 0; k < n_layers; k++) {
		char base[64];

		tensor_name(base, sizeof(base), k, "weight");
		snprintf(name, sizeof(name), "heads.%d.%s", head, base);
		if (mudsc_model_find(&w[k], merged, k >= head_from ? name : base) != MUDSC_OK)
			return lib_fail("reading the merged model");
		tensor_name(base, sizeof(base), k, "bias");
		snprintf(name, sizeof(name), "heads.%d.%s", head, base);
		if (mudsc_model_find(&b[k], merged, k >= head_from ? name : base) != MUDSC_OK)
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

/* Mean and population std over the calibration images of layer p's output
 * before the ReLU (a hidden layer: point p's pre-activations; the last
 * layer: the output), in double (shifted by the first image's values). */
static int pre_moments(struct merger *m, const struct mlp *net, size_t p, double *mean, double *sd)
{
	int64_t w = net->width[p + 1], n = 0;
	int last = (int32_t)p == net->n_layers - 1;
	struct mlp_work work;
	double *s1 = calloc((size_t)(3 * w), sizeof(double)), *s2 = s1 ? s1 + w : NULL,
	       *shift = s1 ? s1 + 2 * w : NULL;

	if (!s1 || mlp_work_new(&work, net, m->batch) != 0) {
		free(s1);
		return -1;
	}
	if (mlp_work_keep_pre(&work, net) != 0) {
		mlp_work_free(&work);
		free(s1);
		return -1;
	}
	for (int64_t at = 0; at < m->calib->n; at += m->batch) {
		int64_t rows = m->calib->n - at < m->batch ? m->calib->n - at : m->batch;
		const float *z = last ? work.act[p + 1] : work.pre[p + 1];

		mlp_forward(net, &work, m->calib->x + at * FMNIST_PIXELS, rows);
		if (at == 0)
			for (int64_t j = 0; j < w; j++)
				shift[j] = z[j];
		for (int64_t r = 0; r < rows; r++)
			for (int64_t j = 0; j < w; j++) {
				double d = (double)z[r * w + j] - shift[j];
				s1[j] += d;
				s2[j] += d * d;
			}
		n += rows;
	}
	for (int64_t j = 0; j < w; j++) {
		double mu = s1[j] / (double)n, var = s2[j] / (double)n - mu * mu;
		mean[j] = shift[j] + mu;
		sd[j] = sqrt(var > 0.0 ? var : 0.0);
	}
	mlp_work_free(&work);
	free(s1);
	return 0;
}

/*
 * REPAIR the output layer of *merged (its hidden points already repaired):
 * each output unit to the mean of the two networks' statistics of the same
 * unit (mudsc_repair_layer), measured on the repaired net.
 */
static int repair_output(struct merger *m, mudsc_model **merged)
{
	int32_t last = m->nets[0]->n_layers - 1;
	int64_t w = m->nets[0]->width[last + 1];
	double *buf = malloc((size_t)(6 * w) * sizeof(double));
	char wname[64], bname[64];
	struct mlp net;
	mudsc_model *fixed = NULL;
	int rc = -1;

	if (!buf)
		return -1;
	if (unwrap_net(&net, *merged, m->nets[0]->n_layers) != 0) {
		free(buf);
		return -1;
	}
	if (pre_moments(m, m->nets[0], (size_t)last, buf, buf + w) == 0 &&
	    pre_moments(m, m->nets[1], (size_t)last, buf + 2 * w, buf + 3 * w) == 0 &&
	    pre_moments(m, &net, (size_t)last, buf + 4 * w, buf + 5 * w) == 0) {
		mudsc_moments src[2] = {{w, buf, buf + w}, {w, buf + 2 * w, buf + 3 * w}};
		mudsc_moments out = {w, buf + 4 * w, buf + 5 * w};

		tensor_name(wname, sizeof wname, last, "weight");
		tensor_name(bname, sizeof bname, last, "bias");
		if (mudsc_repair_layer(&fixed, *merged, wname, bname, src, 2, &out, NULL, NULL) !=
		    MUDSC_OK)
			lib_fail("REPAIR of the output layer");
		else {
			mudsc_model_free(*merged);
			*merged = fixed;
			rc = 0;
		}
	}
	mlp_free(&net);
	free(buf);
	return rc;
}

/*
 * REPAIR *merged (the matcher's merge) point by point: measure point p's
 * pre-activations on the net repaired so far, correct point p only; then,
 * with output, the output layer.
 */
static int repair_merged(struct merger *m, mudsc_matcher *matcher, mudsc_model **merged,
                         int output)
{
	mudsc_moments ms[MLP_MAX_LAYERS] = {{0}};
	double mean[2048], sd[2048];
	int rc = 0;

	for (size_t p = 0; p < m->n_points && rc == 0; p++) {
		struct mlp net;
		mudsc_model *fixed = NULL;

		if (unwrap_net(&net, *merged, m->nets[0]->n_layers) != 0)
			return -1;
		if (net.width[p + 1] > 2048 || pre_moments(m, &net, p, mean, sd) != 0) {
			mlp_free(&net);
			fprintf(stderr, "fashion_mnist: REPAIR statistics failed\n");
			return -1;
		}
		for (size_t q = 0; q < m->n_points; q++)
			ms[q] = (mudsc_moments){0, NULL, NULL};
		ms[p] = (mudsc_moments){net.width[p + 1], mean, sd};
		mlp_free(&net);
		if (mudsc_repair(&fixed, matcher, m->graph, *merged, m->pre_stats, ms, m->n_points, NULL,
		                 NULL) != MUDSC_OK)
			rc = lib_fail("REPAIR");
		else {
			mudsc_model_free(*merged);
			*merged = fixed;
		}
	}
	return rc == 0 && output ? repair_output(m, merged) : rc;
}

/* Each row of y (rows x w) scaled to unit length into out (a zero row stays 0). */
static void unit_rows(float *out, const float *y, int64_t rows, int64_t w)
{
	for (int64_t r = 0; r < rows; r++) {
		double ss = 0.0;

		for (int64_t j = 0; j < w; j++)
			ss += (double)y[r * w + j] * y[r * w + j];
		float scale = ss > 0.0 ? (float)(1.0 / sqrt(ss)) : 0.0f;
		for (int64_t j = 0; j < w; j++)
			out[r * w + j] = y[r * w + j] * scale;
	}
}

/*
 * Stream the calibration images into lsq: the merged net's inputs to its
 * output layer, and each network's unit-normalised outputs (the targets).
 */
static int stream_output_lsq(struct merger *m, mudsc_lsq *lsq, const struct mlp *net)
{
	int32_t last = net->n_layers - 1;
	int64_t d = net->width[last], c = net->width[last + 1];
	struct mlp_work work[3] = {{0}};
	float *unit = malloc((size_t)(2 * m->batch * c) * sizeof(float));
	const struct mlp *nets[3] = {net, m->nets[0], m->nets[1]};
	int rc = unit ? 0 : -1;

	for (int i = 0; i < 3 && rc == 0; i++)
		rc = mlp_work_new(&work[i], nets[i], m->batch);
	for (int64_t at = 0; at < m->calib->n && rc == 0; at += m->batch) {
		int64_t rows = m->calib->n - at < m->batch ? m->calib->n - at : m->batch;
		const float *x = m->calib->x + at * FMNIST_PIXELS;

		mlp_forward(net, &work[0], x, rows);
		for (int i = 0; i < 2; i++)
			unit_rows(unit + i * rows * c, mlp_forward(nets[i + 1], &work[i + 1], x, rows),
			          rows, c);
		mudsc_features in = {MUDSC_DTYPE_F32, 2, {rows, d}, NULL, -1, work[0].act[last]};
		mudsc_features out[2] = {{MUDSC_DTYPE_F32, 2, {rows, c}, NULL, -1, unit},
		                         {MUDSC_DTYPE_F32, 2, {rows, c}, NULL, -1, unit + rows * c}};
		if (mudsc_lsq_update(lsq, &in, out, 2) != MUDSC_OK)
			rc = lib_fail("streaming the output layer's least squares");
	}
	for (int i = 0; i < 3; i++)
		mlp_work_free(&work[i]);
	free(unit);
	return rc;
}

/*
 * Re-solve the output layer of merged by least squares towards the mean
 * of the two networks' unit-normalised outputs, once per ridge (relative,
 * mudsc_lsq_options): outs[k] with ridges[k].
 */
static int lsq_output(struct merger *m, const mudsc_model *merged, const double *ridges,
                      int n_ridges, struct mlp *outs)
{
	int32_t last = m->nets[0]->n_layers - 1;
	char wname[64], bname[64];
	struct mlp net;
	mudsc_lsq *lsq = NULL;
	int made = 0, rc = -1;

	tensor_name(wname, sizeof wname, last, "weight");
	tensor_name(bname, sizeof bname, last, "bias");
	if (unwrap_net(&net, merged, m->nets[0]->n_layers) != 0)
		return -1;
	if (mudsc_lsq_layer_new(&lsq, merged, wname, bname, 2, NULL) != MUDSC_OK) {
		lib_fail("the output layer's least squares");
		goto done;
	}
	if (stream_output_lsq(m, lsq, &net) != 0)
		goto done;
	for (; made < n_ridges; made++) {
		mudsc_lsq_options opts = MUDSC_LSQ_OPTIONS_INIT;
		mudsc_model *fixed = NULL;
		int bad;

		opts.ridge = ridges[made];
		if (mudsc_lsq_solve(&fixed, lsq, merged, &opts) != MUDSC_OK) {
			lib_fail("solving the output layer");
			goto done;
		}
		bad = unwrap_net(&outs[made], fixed, m->nets[0]->n_layers);
		mudsc_model_free(fixed);
		if (bad)
			goto done;
	}
	rc = 0;
done:
	if (rc != 0)
		while (made > 0)
			mlp_free(&outs[--made]);
	mudsc_lsq_free(lsq);
	mlp_free(&net);
	return rc;
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

/*
 * The matcher's merge of spec into *merged, REPAIRed if spec asks (the
 * output layer too with repair_out); *sweeps (may be NULL) the sweeps.
 */
static int merge_spec_model(mudsc_model **merged, struct merger *m, const struct merge_spec *spec,
                            int repair_out, int32_t *sweeps)
{
	mudsc_matcher *matcher = NULL;
	int rc = -1;

	*merged = NULL;
	if (run_matcher(&matcher, m, spec) != 0)
		return -1;
	if (mudsc_matcher_merge(merged, matcher, NULL) != MUDSC_OK)
		lib_fail("merging");
	else if (!spec->repair || repair_merged(m, matcher, merged, repair_out) == 0)
		rc = 0;
	if (rc == 0 && sweeps)
		*sweeps = mudsc_matcher_sweeps(matcher);
	if (rc != 0) {
		mudsc_model_free(*merged);
		*merged = NULL;
	}
	mudsc_matcher_free(matcher);
	return rc;
}

int merger_run(struct merger *m, const struct merge_spec *spec, struct mlp *out, int32_t *sweeps)
{
	mudsc_model *merged = NULL;
	int rc;

	if (spec->average_only) {
		if (sweeps)
			*sweeps = 0;
		return average_nets(m, out);
	}
	if (merge_spec_model(&merged, m, spec, m->repair_output, sweeps) != 0)
		return -1;
	rc = unwrap_net(out, merged, m->nets[0]->n_layers);
	mudsc_model_free(merged);
	return rc;
}

int merger_run_lsq(struct merger *m, const struct merge_spec *spec, const double *ridges,
                   int n_ridges, struct mlp *outs)
{
	mudsc_model *merged = NULL;
	int rc;

	if (spec->average_only || n_ridges < 1) {
		fprintf(stderr, "fashion_mnist: the output least squares needs a matching and a ridge\n");
		return -1;
	}
	if (merge_spec_model(&merged, m, spec, 0, NULL) != 0)
		return -1;
	rc = lsq_output(m, merged, ridges, n_ridges, outs);
	mudsc_model_free(merged);
	return rc;
}

int merger_run_partial(struct merger *m, const struct merge_spec *spec, int32_t depth,
                       struct mlp heads[2], int64_t *params)
{
	mudsc_matcher_options opts = MUDSC_MATCHER_OPTIONS_INIT;
	mudsc_graph *trunk = NULL;
	mudsc_matcher *matcher = NULL;
	mudsc_model *merged = NULL;
	int rc = -1, made = 0;

	opts.method = spec->method;
	opts.alpha = spec->alpha;
	if (mudsc_graph_prefix(&trunk, m->graph, (size_t)depth) != MUDSC_OK ||
	    mudsc_matcher_new(&matcher, trunk, (const mudsc_model *const *)m->models, 2, &opts) !=
	        MUDSC_OK) {
		lib_fail("preparing the partial merge");
		goto done;
	}
	for (int32_t p = 0; p < depth; p++)
		if (mudsc_matcher_set_activations(matcher, (size_t)p, m->accums[p]) != MUDSC_OK) {
			lib_fail("giving the matcher activations");
			goto done;
		}
	if (mudsc_matcher_run(matcher) != MUDSC_OK ||
	    mudsc_partial_merge(&merged, matcher, trunk, NULL) != MUDSC_OK) {
		lib_fail("partial merge");
		goto done;
	}
	for (; made < 2; made++)
		if (unwrap_layers(&heads[made], merged, m->nets[0]->n_layers, depth, made) != 0)
			goto done;
	*params = 0;
	for (size_t k = 0; k < mudsc_model_count(merged); k++) {
		mudsc_tensor t;

		mudsc_model_at(&t, merged, k);
		*params += (int64_t)(t.nbytes / sizeof(float));
	}
	rc = 0;
done:
	if (rc != 0)
		while (made > 0)
			mlp_free(&heads[--made]);
	mudsc_model_free(merged);
	mudsc_matcher_free(matcher);
	mudsc_graph_free(trunk);
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
	mudsc_stats_free(m->pre_stats);
	memset(m, 0, sizeof(*m));
}
