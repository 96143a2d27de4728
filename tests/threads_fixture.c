/* See threads_fixture.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "threads_fixture.h"

static double lcg(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (double)(*s >> 11) / 9007199254740992.0 - 0.5;
}

static const int64_t widths[4] = {TF_IN, TF_H1, TF_H2, TF_OUT};

static size_t model_floats(void)
{
	size_t n = TF_EXTRA;
	for (int l = 0; l < 3; l++)
		n += (size_t)(widths[l + 1] * widths[l] + widths[l + 1]);
	return n;
}

/* layers.{l}.weight (out x in) and .bias, then extra.table, in one block
 * of floats. */
static mudsc_status random_model(mudsc_model **out, float *w, uint64_t *seed)
{
	mudsc_status st = mudsc_model_new(out);
	for (size_t k = 0; k < model_floats(); k++)
		w[k] = (float)lcg(seed);
	for (int l = 0; l < 3 && st == MUDSC_OK; l++) {
		char name[32];
		int64_t shape[2] = {widths[l + 1], widths[l]};
		snprintf(name, sizeof name, "layers.%d.weight", l);
		st = mudsc_model_add(*out, name, MUDSC_DTYPE_F32, 2, shape, w, MUDSC_BORROW);
		w += shape[0] * shape[1];
		snprintf(name, sizeof name, "layers.%d.bias", l);
		if (st == MUDSC_OK)
			st = mudsc_model_add(*out, name, MUDSC_DTYPE_F32, 1, shape, w, MUDSC_BORROW);
		w += shape[0];
	}
	if (st == MUDSC_OK) {
		int64_t extra = TF_EXTRA;
		st = mudsc_model_add(*out, "extra.table", MUDSC_DTYPE_F32, 1, &extra, w, MUDSC_BORROW);
	}
	return st;
}

mudsc_status tf_models_make(struct tf_models *f, int32_t n, uint64_t seed)
{
	int64_t hidden[2] = {TF_H1, TF_H2};
	mudsc_mlp_options o = MUDSC_MLP_OPTIONS_INIT;
	mudsc_status st = MUDSC_OK;

	memset(f, 0, sizeof *f);
	f->n = n;
	f->view = (const mudsc_model *const *)f->models;
	for (int32_t i = 0; i < n && st == MUDSC_OK; i++) {
		f->weights[i] = malloc(model_floats() * sizeof(float));
		st = f->weights[i] ? random_model(&f->models[i], f->weights[i], &seed) : MUDSC_E_NOMEM;
	}
	o.n_hidden = 2;
	o.hidden = hidden;
	if (st == MUDSC_OK)
		st = mudsc_graph_build_mlp(&f->graph, &o);
	return st;
}

void tf_models_free(struct tf_models *f)
{
	for (int32_t i = 0; i < f->n; i++) {
		mudsc_model_free(f->models[i]);
		free(f->weights[i]);
	}
	mudsc_graph_free(f->graph);
}

/* Point p's features: a shared signal seen through each model plus noise. */
static mudsc_status point_activations(mudsc_matcher *m, int32_t n, size_t p, int64_t C,
                                      int64_t rows, uint64_t *seed)
{
	double *x = malloc((size_t)(rows * C) * sizeof *x);
	double *base = malloc((size_t)(rows * C) * sizeof *base);
	mudsc_accum *acc = NULL;
	mudsc_status st = x && base ? mudsc_accum_new(&acc, n, C, NULL) : MUDSC_E_NOMEM;

	for (int64_t k = 0; st == MUDSC_OK && k < rows * C; k++)
		base[k] = lcg(seed);
	for (int32_t i = 0; i < n && st == MUDSC_OK; i++) {
		mudsc_features v = {.dtype = MUDSC_DTYPE_F64, .rank = 2, .shape = {rows, C},
		                    .feature_axis = 1, .data = x};
		for (int64_t k = 0; k < rows * C; k++)
			x[k] = base[k] + 0.5 * lcg(seed);
		st = mudsc_accum_update(acc, i, &v);
	}
	if (st == MUDSC_OK)
		st = mudsc_matcher_set_activations(m, p, acc);
	mudsc_accum_free(acc);
	free(x);
	free(base);
	return st;
}

mudsc_status tf_give_activations(mudsc_matcher *m, const struct tf_models *f, int64_t rows,
                                 uint64_t seed)
{
	mudsc_status st = point_activations(m, f->n, 0, TF_H1, rows, &seed);
	return st == MUDSC_OK ? point_activations(m, f->n, 1, TF_H2, rows, &seed) : st;
}

/* The public getters of a run's results, in one place. */
static mudsc_status collect(struct tf_result *r, const mudsc_matcher *m, int32_t n)
{
	static const int64_t point_width[TF_POINTS] = {TF_H1, TF_H2};
	mudsc_status st;

	r->sweeps = mudsc_matcher_sweeps(m);
	r->best_sweep = mudsc_matcher_best_sweep(m);
	if (r->sweeps < 0 || r->sweeps > 128)
		return MUDSC_E_INTERNAL;
	st = mudsc_matcher_objectives(r->objectives, (size_t)r->sweeps, NULL, m);
	for (size_t p = 0; p < TF_POINTS && st == MUDSC_OK; p++) {
		st = mudsc_matcher_assignment(r->assign[p], (size_t)(n * point_width[p]), NULL, m, p);
		if (st == MUDSC_OK)
			st = mudsc_matcher_point_result(&r->width[p], r->scores[p], m, p);
	}
	return st;
}

mudsc_status tf_run(struct tf_result *r, mudsc_matcher *m, int32_t n, const double *weights)
{
	mudsc_status st;

	memset(r, 0, sizeof *r);
	st = mudsc_matcher_run(m);
	if (st == MUDSC_OK)
		st = collect(r, m, n);
	if (st == MUDSC_OK)
		st = mudsc_matcher_merge(&r->merged, m, weights);
	if (st == MUDSC_OK)
		st = mudsc_matcher_transform(&r->transformed, m, 1);
	return st;
}

void tf_result_free(struct tf_result *r)
{
	mudsc_model_free(r->merged);
	mudsc_model_free(r->transformed);
	r->merged = r->transformed = NULL;
}

const char *tf_models_differ(const mudsc_model *a, const mudsc_model *b)
{
	mudsc_tensor x, y;

	if (a == NULL || b == NULL)
		return a == b ? NULL : "one model is missing";
	if (mudsc_model_count(a) != mudsc_model_count(b))
		return "tensor counts differ";
	for (size_t k = 0; k < mudsc_model_count(a); k++) {
		if (mudsc_model_at(&x, a, k) != MUDSC_OK || mudsc_model_at(&y, b, k) != MUDSC_OK)
			return "a tensor cannot be read";
		if (strcmp(x.name, y.name) != 0 || x.dtype != y.dtype || x.rank != y.rank ||
		    memcmp(x.shape, y.shape, (size_t)x.rank * sizeof *x.shape) != 0 ||
		    x.nbytes != y.nbytes || memcmp(x.data, y.data, x.nbytes) != 0)
			return x.name;
	}
	return NULL;
}

const char *tf_diff(const struct tf_result *a, const struct tf_result *b)
{
	if (a->sweeps != b->sweeps || a->best_sweep != b->best_sweep)
		return "sweeps";
	if (memcmp(a->objectives, b->objectives, sizeof a->objectives) != 0)
		return "objectives";
	if (memcmp(a->assign, b->assign, sizeof a->assign) != 0)
		return "assignments";
	if (memcmp(a->width, b->width, sizeof a->width) != 0 ||
	    memcmp(a->scores, b->scores, sizeof a->scores) != 0)
		return "point scores";
	if (tf_models_differ(a->merged, b->merged) != NULL)
		return "merged model";
	if (tf_models_differ(a->transformed, b->transformed) != NULL)
		return "transformed model";
	return NULL;
}

mudsc_status tf_wide_make(struct tf_wide *f, int32_t n)
{
	const int64_t shapes[4][2] = {{TF_WIDE_H, TF_WIDE_IN},
	                              {TF_WIDE_H, 1},
	                              {TF_WIDE_OUT, TF_WIDE_H},
	                              {TF_WIDE_OUT, 1}};
	const char *names[4] = {"layers.0.weight", "layers.0.bias", "layers.1.weight",
	                        "layers.1.bias"};
	size_t total = 0;
	uint64_t seed = 5;
	int64_t hidden = TF_WIDE_H;
	mudsc_mlp_options o = MUDSC_MLP_OPTIONS_INIT;
	mudsc_status st = MUDSC_OK;

	memset(f, 0, sizeof *f);
	for (int k = 0; k < 4; k++)
		total += (size_t)(shapes[k][0] * shapes[k][1]);
	for (int32_t i = 0; i < n && i < TF_WIDE_MODELS && st == MUDSC_OK; i++) {
		float *w = f->w[i] = malloc(total * sizeof *w);
		if (w == NULL)
			return MUDSC_E_NOMEM;
		for (size_t k = 0; k < total; k++)
			w[k] = (float)lcg(&seed);
		st = mudsc_model_new(&f->m[i]);
		for (int k = 0; k < 4 && st == MUDSC_OK; k++) {
			int32_t rank = shapes[k][1] == 1 ? 1 : 2;
			st = mudsc_model_add(f->m[i], names[k], MUDSC_DTYPE_F32, rank, shapes[k], w,
			                     MUDSC_BORROW);
			w += shapes[k][0] * shapes[k][1];
		}
	}
	o.n_hidden = 1;
	o.hidden = &hidden;
	if (st == MUDSC_OK)
		st = mudsc_graph_build_mlp(&f->graph, &o);
	return st;
}

void tf_wide_free(struct tf_wide *f)
{
	for (int32_t i = 0; i < TF_WIDE_MODELS; i++) {
		mudsc_model_free(f->m[i]);
		free(f->w[i]);
	}
	mudsc_graph_free(f->graph);
}

mudsc_status tf_wide_run(struct tf_wide_result *r, const struct tf_wide *f, int32_t n,
                         int32_t method, int32_t precision, int32_t threads)
{
	mudsc_matcher_options o = MUDSC_MATCHER_OPTIONS_INIT;
	mudsc_matcher *m = NULL;
	size_t need;
	mudsc_status st;

	memset(r, 0, sizeof *r);
	o.method = method;
	o.weight_precision = precision;
	o.max_iter = 2;
	o.patience = 1;
	o.threads = threads;
	st = mudsc_matcher_new(&m, f->graph, (const mudsc_model *const *)f->m, n, &o);
	if (st == MUDSC_OK)
		st = mudsc_matcher_run(m);
	if (st == MUDSC_OK) {
		r->sweeps = mudsc_matcher_sweeps(m);
		st = mudsc_matcher_objectives(r->objectives, 4, &need, m);
	}
	if (st == MUDSC_OK)
		st = mudsc_matcher_point_result(&r->width, r->scores, m, 0);
	if (st == MUDSC_OK)
		st = mudsc_matcher_assignment(r->assign, TF_WIDE_MODELS * TF_WIDE_H, &need, m, 0);
	mudsc_matcher_free(m);
	return st;
}
