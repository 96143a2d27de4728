/*
 * The least-squares correction (PLeaS-style; docs/algorithm.md section
 * 23): per point, the merged layer's weight and bias that best map the
 * merged network's inputs to the weighted mean of the source models'
 * outputs in merged coordinates, by a ridge-regularised normal-equation
 * solve from streamed cross products.
 *
 * The host's views are read by the one streaming engine (lib/stream), two
 * engines per update: the N source outputs (width C each; their consumer
 * maps every row into the C' targets of the call) and the inputs (width
 * D with the ones column; their consumer adds X~'X~ and X~'T).  Engines
 * are made per update so that a failed update leaves nothing behind.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "correct/correct.h"
#include "stream/stream.h"

#define LSQ_BLOCK_ROWS 1024

struct mudsc_lsq {
	char *what;                 /* "point 'p'" or "layer 'X.weight'", for messages */
	char *wname, *bname;        /* the producer's weight and bias */
	int32_t wrank;
	int64_t wshape[MUDSC_MAX_RANK];
	int32_t n;                  /* models */
	int64_t c, cw, d;           /* source width C, merged width C', inputs D */
	int64_t *assign;            /* N*C */
	double *coef;               /* N*C: w_i / (the member weights of assign[u]) */
	double *g;                  /* (D+1) x (D+1), upper triangle */
	double *h;                  /* (D+1) x C' */
	double tsq;                 /* sum of |t|^2 */
	int64_t rows;
};

/* The consumers' state during one update. */
struct call {
	const mudsc_lsq *l;
	double *t;                  /* the call's n x C' targets */
	double tsq;
	double *g, *h;              /* the handle's sums (the inputs' consumer adds to them) */
};

static mudsc_status inner(mudsc_status st, const char *fn, const char *point)
{
	if (st == MUDSC_OK)
		return st;
	char msg[512];
	snprintf(msg, sizeof msg, "%s", mudsc_error_message());
	return mudsc__err(st, "%s: point '%s': %s", fn, point, msg);
}

/* The weight's input size D, checking the producer in model (fn names the call). */
static mudsc_status producer_shapes(const mudsc_lsq *l, const mudsc_model *model,
                                    const char *fn, const char *arg)
{
	mudsc_tensor w, b;

	if (mudsc_model_find(&w, model, l->wname) != MUDSC_OK ||
	    mudsc_model_find(&b, model, l->bname) != MUDSC_OK)
		return mudsc__err(MUDSC_E_NOT_FOUND, "%s: %s: tensor '%s' or '%s' is not in %s",
		                 fn, l->what, l->wname, l->bname, arg);
	bool same = w.rank == l->wrank && b.rank == 1 && b.shape[0] == l->cw;
	for (int32_t k = 0; same && k < w.rank; k++)
		same = w.shape[k] == l->wshape[k];
	if (!same)
		return mudsc__err(MUDSC_E_MISMATCH, "%s: %s: tensors '%s' and '%s' of %s do "
		                                   "not have the shapes the handle was made for", fn,
		                 l->what, l->wname, l->bname, arg);
	if (!mudsc_dtype_is_float(w.dtype) || !mudsc_dtype_is_float(b.dtype))
		return mudsc__err(MUDSC_E_UNSUPPORTED, "%s: %s: '%s' or '%s' is not a float "
		                                      "tensor", fn, l->what, l->wname, l->bname);
	return MUDSC_OK;
}

/* W~ = [W b] of model, C' x (D+1), in double (shapes checked). */
static mudsc_status read_layer(double **out, const mudsc_lsq *l, const mudsc_model *model)
{
	mudsc_tensor w, b;
	size_t d1 = (size_t)l->d + 1, cw = (size_t)l->cw;
	double *wt = mudsc__alloc(cw * d1 * sizeof(double) + 1, "least-squares weights");
	double *tmp = mudsc__alloc(cw * (size_t)l->d * sizeof(double) + 1, "least-squares weights");

	if (!wt || !tmp) {
		free(wt);
		free(tmp);
		return MUDSC_E_NOMEM;
	}
	mudsc_model_find(&w, model, l->wname);
	mudsc_model_find(&b, model, l->bname);
	mudsc__convert_to_f64(w.dtype, w.data, cw * (size_t)l->d, tmp);
	for (size_t j = 0; j < cw; j++)
		memcpy(wt + j * d1, tmp + j * (size_t)l->d, (size_t)l->d * sizeof(double));
	mudsc__convert_to_f64(b.dtype, b.data, cw, tmp);
	for (size_t j = 0; j < cw; j++)
		wt[j * d1 + (size_t)l->d] = tmp[j];
	free(tmp);
	*out = wt;
	return MUDSC_OK;
}

/* The handle's label for messages, "<kind> '<name>'", into l->what. */
static mudsc_status set_label(mudsc_lsq *l, const char *kind, const char *name)
{
	size_t len = strlen(kind) + strlen(name) + 4;

	if (!(l->what = mudsc__alloc(len, "least-squares label")))
		return MUDSC_E_NOMEM;
	snprintf(l->what, len, "%s '%s'", kind, name);
	return MUDSC_OK;
}

/* The layer's weight `wname` (rank >= 2) and bias `bname`, the weight's
 * shape and D into l (the caller checks the rows and calls
 * producer_shapes). */
static mudsc_status set_layer(mudsc_lsq *l, const mudsc_model *merged, const char *wname,
                              const char *bname, const char *fn)
{
	mudsc_tensor w;

	if (mudsc_model_find(&w, merged, wname) != MUDSC_OK)
		return mudsc__err(MUDSC_E_NOT_FOUND, "%s: %s: tensor '%s' is not in merged", fn,
		                 l->what, wname);
	if (w.rank < 2)
		return mudsc__err(MUDSC_E_UNSUPPORTED, "%s: %s: tensor '%s' has rank %d; a layer's "
		                                      "weight needs rank >= 2", fn, l->what, wname,
		                 (int)w.rank);
	l->wname = mudsc__strdup(wname, "least-squares names");
	l->bname = mudsc__strdup(bname, "least-squares names");
	if (!l->wname || !l->bname)
		return MUDSC_E_NOMEM;
	l->wrank = w.rank;
	memcpy(l->wshape, w.shape, sizeof l->wshape);
	l->d = 1;
	for (int32_t k = 1; k < w.rank; k++)
		l->d *= w.shape[k];
	return MUDSC_OK;
}

/* The producer (the layer rule only) and its shapes into l. */
static mudsc_status find_layer(mudsc_lsq *l, const mudsc_graph *graph, size_t q,
                               const mudsc_model *merged, const char *fn)
{
	struct mudsc__producer pr;
	bool found;
	mudsc_tensor w;
	mudsc_status st;

	if ((st = mudsc__producer_find(&pr, &found, graph, q, merged, fn)) != MUDSC_OK)
		return st;
	if (found && mudsc_model_find(&w, merged, pr.scale[0]) == MUDSC_OK && w.rank >= 2) {
		if ((st = set_layer(l, merged, pr.scale[0], pr.shift, fn)) != MUDSC_OK)
			return st;
		if (l->wshape[0] != l->cw)
			return mudsc__err(MUDSC_E_MISMATCH, "%s: %s: tensor '%s' has %lld rows, the "
			                                   "merged width is %lld", fn, l->what, l->wname,
			                 (long long)l->wshape[0], (long long)l->cw);
		return producer_shapes(l, merged, fn, "merged");
	}
	return mudsc__err(MUDSC_E_UNSUPPORTED, "%s: %s: its OUT tensors are not one layer's "
	                                      "\"X.weight\" (rank >= 2) and \"X.bias\"", fn,
	                 l->what);
}

/* The handle's arrays: assignment, coefficients and sums (n, c, cw, d set). */
static mudsc_status alloc_sums(mudsc_lsq *l)
{
	size_t nc = (size_t)l->n * (size_t)l->c, d1 = (size_t)l->d + 1;

	l->assign = mudsc__calloc(nc, sizeof(int64_t), "least-squares assignment");
	l->coef = mudsc__calloc(nc, sizeof(double), "least-squares assignment");
	l->g = mudsc__calloc(d1 * (d1 + (size_t)l->cw), sizeof(double), "least-squares statistics");
	if (!l->assign || !l->coef || !l->g)
		return MUDSC_E_NOMEM;
	l->h = l->g + d1 * d1;
	return MUDSC_OK;
}

/* The per-unit coefficients w_i / den_j. */
static mudsc_status coefficients(mudsc_lsq *l, const double *weights, const char *fn)
{
	size_t nc = (size_t)l->n * (size_t)l->c;
	double *den = mudsc__calloc((size_t)l->cw + 1, sizeof(double), "least-squares weights");

	if (!den)
		return MUDSC_E_NOMEM;
	for (size_t u = 0; u < nc; u++)
		den[l->assign[u]] += weights ? weights[u / (size_t)l->c] : 1.0 / l->n;
	for (int64_t j = 0; j < l->cw; j++)
		if (den[j] == 0.0) {
			free(den);
			return mudsc__err(MUDSC_E_INVALID, "%s: %s: the members of merged unit %lld "
			                                  "have total weight 0", fn, l->what, (long long)j);
		}
	for (size_t u = 0; u < nc; u++)
		l->coef[u] = (weights ? weights[u / (size_t)l->c] : 1.0 / l->n) / den[l->assign[u]];
	free(den);
	return MUDSC_OK;
}

static mudsc_status lsq_setup(mudsc_lsq *l, const mudsc_matcher *matcher,
                              const mudsc_graph *graph, const mudsc_model *merged,
                              const char *point, const double *weights, const char *fn)
{
	mudsc_point_info pi;
	size_t q, needed = 0;
	mudsc_status st;

	if (mudsc_graph_point_find(&q, graph, point) != MUDSC_OK)
		return mudsc__err(MUDSC_E_NOT_FOUND, "%s: point '%s' is not in graph", fn, point);
	if ((st = set_label(l, "point", point)) != MUDSC_OK)
		return st;
	if ((st = mudsc_graph_point_at(&pi, graph, q)) != MUDSC_OK ||
	    (st = inner(mudsc_matcher_point_result(&l->cw, NULL, matcher, q), fn, point)) != MUDSC_OK ||
	    (st = inner(mudsc_matcher_assignment(NULL, 0, &needed, matcher, q), fn, point)) != MUDSC_OK)
		return st;
	l->c = pi.width;
	l->n = (int32_t)(needed / (size_t)pi.width);
	if ((st = mudsc__correct_check_weights(weights, l->n, fn)) != MUDSC_OK ||
	    (st = find_layer(l, graph, q, merged, fn)) != MUDSC_OK)
		return st;
	if ((st = alloc_sums(l)) != MUDSC_OK ||
	    (st = inner(mudsc_matcher_assignment(l->assign, needed, NULL, matcher, q), fn,
	                point)) != MUDSC_OK)
		return st;
	return coefficients(l, weights, fn);
}

MUDSC_API void mudsc_lsq_free(mudsc_lsq *lsq)
{
	if (!lsq)
		return;
	free(lsq->what);
	free(lsq->wname);
	free(lsq->bname);
	free(lsq->assign);
	free(lsq->coef);
	free(lsq->g);
	free(lsq);
}

MUDSC_API mudsc_status mudsc_lsq_new(mudsc_lsq **out, const mudsc_matcher *matcher,
                                     const mudsc_graph *graph, const mudsc_model *merged,
                                     const char *point, const double *weights)
{
	static const char fn[] = "mudsc_lsq_new";
	mudsc_lsq *l;
	mudsc_status st;

	MUDSC__CHECK_NULL(out);
	MUDSC__CHECK_NULL(matcher);
	MUDSC__CHECK_NULL(graph);
	MUDSC__CHECK_NULL(merged);
	MUDSC__CHECK_NULL(point);
	if (!(l = mudsc__calloc(1, sizeof *l, "a least-squares handle")))
		return MUDSC_E_NOMEM;
	if ((st = lsq_setup(l, matcher, graph, merged, point, weights, fn)) != MUDSC_OK) {
		mudsc_lsq_free(l);
		return st;
	}
	*out = l;
	return MUDSC_OK;
}

/* A layer whose units correspond by index: unit u = i*C + j of the sources
 * is merged unit j, and n_models, C = C' come from the arguments. */
static mudsc_status layer_setup(mudsc_lsq *l, const mudsc_model *merged, const char *weight,
                                const char *bias, int32_t n_models, const double *weights,
                                const char *fn)
{
	mudsc_status st;

	if ((st = set_label(l, "layer", weight)) != MUDSC_OK ||
	    (st = mudsc__correct_check_weights(weights, n_models, fn)) != MUDSC_OK ||
	    (st = set_layer(l, merged, weight, bias, fn)) != MUDSC_OK)
		return st;
	l->n = n_models;
	l->c = l->cw = l->wshape[0];
	if ((st = producer_shapes(l, merged, fn, "merged")) != MUDSC_OK ||
	    (st = alloc_sums(l)) != MUDSC_OK)
		return st;
	for (size_t u = 0; u < (size_t)n_models * (size_t)l->c; u++)
		l->assign[u] = (int64_t)(u % (size_t)l->c);
	return coefficients(l, weights, fn);
}

MUDSC_API mudsc_status mudsc_lsq_layer_new(mudsc_lsq **out, const mudsc_model *merged,
                                           const char *weight, const char *bias,
                                           int32_t n_models, const double *weights)
{
	static const char fn[] = "mudsc_lsq_layer_new";
	mudsc_lsq *l;
	mudsc_status st;

	MUDSC__CHECK_NULL(out);
	MUDSC__CHECK_NULL(merged);
	MUDSC__CHECK_NULL(weight);
	MUDSC__CHECK_NULL(bias);
	if (n_models < 1)
		return mudsc__err(MUDSC_E_INVALID, "%s: n_models = %d (need >= 1)", fn, (int)n_models);
	if (strcmp(weight, bias) == 0)
		return mudsc__err(MUDSC_E_INVALID, "%s: weight and bias are both '%s'", fn, weight);
	if (!(l = mudsc__calloc(1, sizeof *l, "a least-squares handle")))
		return MUDSC_E_NOMEM;
	if ((st = layer_setup(l, merged, weight, bias, n_models, weights, fn)) != MUDSC_OK) {
		mudsc_lsq_free(l);
		return st;
	}
	*out = l;
	return MUDSC_OK;
}

MUDSC_API int64_t mudsc_lsq_rows(const mudsc_lsq *lsq)
{
	return lsq ? lsq->rows : 0;
}

/* ---- update: two engines over the call's views ------------------------ */

/* Source rows -> the call's targets t = sum_u coef[u] y[u] e_{assign[u]}. */
static void consume_outputs(void *ctx, const mudsc__stream_block *b)
{
	struct call *k = ctx;
	const mudsc_lsq *l = k->l;
	size_t nc = (size_t)l->n * (size_t)l->c, cw = (size_t)l->cw;

	for (size_t r = 0; r < b->nrows; r++) {
		const double *y = (const double *)b->rows + r * b->ld;
		double *t = k->t + ((size_t)b->first + r) * cw;

		memset(t, 0, cw * sizeof(double));
		for (size_t u = 0; u < nc; u++)
			t[l->assign[u]] += l->coef[u] * y[u];
		for (size_t j = 0; j < cw; j++)
			k->tsq += t[j] * t[j];
	}
}

/* Input rows (x, 1) -> G += X~'X~, H += X~'T. */
static void consume_inputs(void *ctx, const mudsc__stream_block *b)
{
	const struct call *k = ctx;
	const mudsc_lsq *l = k->l;
	const struct mudsc__exec ex = MUDSC__EXEC_SERIAL;
	int64_t d1 = l->d + 1;

	mudsc__blas_dsyrk(&ex, true, d1, (int64_t)b->nrows, 1.0, b->rows, (int64_t)b->ld, 1.0, k->g,
	                  d1);
	mudsc__blas_dgemm(&ex, true, false, d1, l->cw, (int64_t)b->nrows, 1.0, b->rows,
	                  (int64_t)b->ld, k->t + (size_t)b->first * (size_t)l->cw, l->cw, 1.0, k->h,
	                  l->cw);
}

/* Observations of a view (-1 when the view's rank or axis is bad: the
 * engine then says what). */
static int64_t observations(const mudsc_features *x)
{
	if (x->rank < 1 || x->rank > MUDSC_MAX_RANK)
		return -1;
	int32_t axis = x->feature_axis < 0 ? x->feature_axis + x->rank : x->feature_axis;
	if (axis < 0 || axis >= x->rank)
		return -1;
	int64_t n = 1;
	for (int32_t k = 0; k < x->rank; k++) {
		if (x->shape[k] < 0)
			return -1;
		if (k != axis)
			n = x->shape[k] != 0 && n > INT64_MAX / x->shape[k] ? INT64_MAX : n * x->shape[k];
	}
	return n;
}

static mudsc_status run_engine(int32_t n_models, int64_t width, bool ones, int64_t lead,
                               void (*consume)(void *, const mudsc__stream_block *),
                               struct call *k, const mudsc_features *views, const char *fn)
{
	mudsc__stream_config cfg;
	mudsc__stream_consumer cons = {NULL, consume};
	mudsc__stream *s;
	mudsc_status st;

	mudsc__stream_config_init(&cfg, n_models, width);
	cfg.shift = false;
	cfg.ones = ones;
	cfg.rows = MUDSC__STREAM_ROWS_F64;
	cfg.block_rows = LSQ_BLOCK_ROWS;
	cfg.max_lead = lead;
	if (!mudsc__stream_fits(&cfg))
		return mudsc__err(MUDSC_E_INVALID, "%s: %lld observations of width %lld are too many for "
		                                  "one update", fn, (long long)lead, (long long)width);
	if ((st = mudsc__stream_new(&s, &cfg, &cons, k)) != MUDSC_OK)
		return st;
	for (int32_t i = 0; i < n_models && st == MUDSC_OK; i++)
		st = mudsc__stream_update(s, i, &views[i], fn);
	if (st == MUDSC_OK)
		st = mudsc__stream_settle(s, fn);
	mudsc__stream_free(s);
	return st;
}

MUDSC_API mudsc_status mudsc_lsq_update(mudsc_lsq *lsq, const mudsc_features *inputs,
                                        const mudsc_features *outputs, int32_t n_models)
{
	static const char fn[] = "mudsc_lsq_update";
	mudsc_status st;

	MUDSC__CHECK_NULL(lsq);
	MUDSC__CHECK_NULL(inputs);
	MUDSC__CHECK_NULL(outputs);
	if (n_models != lsq->n)
		return mudsc__err(MUDSC_E_MISMATCH, "%s: n_models = %d but the handle has %d models", fn,
		                 (int)n_models, (int)lsq->n);
	int64_t nobs = observations(inputs);
	for (int32_t i = 0; i < n_models && nobs >= 0; i++) {
		int64_t ni = observations(&outputs[i]);
		if (ni >= 0 && ni != nobs)
			return mudsc__err(MUDSC_E_MISMATCH, "%s: outputs[%d] has %lld observations, inputs "
			                                   "%lld", fn, (int)i, (long long)ni, (long long)nobs);
	}
	if (nobs == 0)
		return MUDSC_OK;
	int64_t lead = nobs > 0 ? nobs : 0;
	size_t d1 = (size_t)lsq->d + 1, cw = (size_t)lsq->cw;
	struct call k = {lsq, NULL, 0.0, NULL, NULL};
	if (nobs > 0 && (uint64_t)nobs > SIZE_MAX / sizeof(double) / (cw + 1))
		return mudsc__err(MUDSC_E_NOMEM, "%s: %lld observations do not fit in memory", fn,
		                 (long long)nobs);
	k.t = mudsc__alloc_big((size_t)lead * cw * sizeof(double) + 1, "least-squares targets");
	k.g = mudsc__alloc_big(d1 * (d1 + cw) * sizeof(double), "least-squares statistics");
	if (!k.t || !k.g) {
		free(k.t);
		free(k.g);
		return MUDSC_E_NOMEM;
	}
	/* the sums of this call go into a copy, committed when every view was read */
	memcpy(k.g, lsq->g, d1 * (d1 + cw) * sizeof(double));
	k.h = k.g + d1 * d1;
	st = run_engine(lsq->n, lsq->c, false, lead, consume_outputs, &k, outputs,
	                "mudsc_lsq_update: outputs");
	if (st == MUDSC_OK)
		st = run_engine(1, lsq->d, true, 0, consume_inputs, &k, inputs,
		                "mudsc_lsq_update: inputs");
	if (st == MUDSC_OK) {
		memcpy(lsq->g, k.g, d1 * (d1 + cw) * sizeof(double));
		lsq->tsq += k.tsq;
		lsq->rows += nobs;
	}
	free(k.t);
	free(k.g);
	return st;
}

/* ---- error and solve --------------------------------------------------- */

/* G with its lower triangle filled. */
static void symmetric(double *a, const double *g, size_t n)
{
	for (size_t r = 0; r < n; r++)
		for (size_t c = 0; c < n; c++)
			a[r * n + c] = c >= r ? g[r * n + c] : g[c * n + r];
}

/* What error and solve both start from: observations present, the layer's
 * tensors in `model` (named `arg` in messages) of the handle's shapes, its
 * W~' read into *wt and a (D+1) x (D+1+C') work block in *a (`what` names
 * it); on failure nothing is allocated. */
static mudsc_status layer_work(double **wt, double **a, const mudsc_lsq *lsq,
                               const mudsc_model *model, const char *fn, const char *arg,
                               const char *what)
{
	mudsc_status st;

	if (lsq->rows == 0)
		return mudsc__err(MUDSC_E_STATE, "%s: %s: no observations yet", fn, lsq->what);
	if ((st = producer_shapes(lsq, model, fn, arg)) != MUDSC_OK ||
	    (st = read_layer(wt, lsq, model)) != MUDSC_OK)
		return st;
	size_t d1 = (size_t)lsq->d + 1, cw = (size_t)lsq->cw;
	*a = mudsc__alloc_big(d1 * (d1 + cw) * sizeof(double), what);
	if (*a == NULL) {
		free(*wt);
		return MUDSC_E_NOMEM;
	}
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_lsq_error(double *err, const mudsc_lsq *lsq,
                                       const mudsc_model *model)
{
	static const char fn[] = "mudsc_lsq_error";
	mudsc_status st;
	double *wt, *a;

	MUDSC__CHECK_NULL(err);
	MUDSC__CHECK_NULL(lsq);
	MUDSC__CHECK_NULL(model);
	if ((st = layer_work(&wt, &a, lsq, model, fn, "model", "least-squares error")) != MUDSC_OK)
		return st;
	size_t d1 = (size_t)lsq->d + 1, cw = (size_t)lsq->cw;
	double *gw = a + d1 * d1; /* G W~' : (D+1) x C' */
	const struct mudsc__exec ex = MUDSC__EXEC_SERIAL;
	symmetric(a, lsq->g, d1);
	mudsc__blas_dgemm(&ex, false, true, (int64_t)d1, (int64_t)cw, (int64_t)d1, 1.0, a,
	                  (int64_t)d1, wt, (int64_t)d1, 0.0, gw, (int64_t)cw);
	double quad = 0.0, lin = 0.0;
	for (size_t r = 0; r < d1; r++)
		for (size_t j = 0; j < cw; j++) {
			quad += wt[j * d1 + r] * gw[r * cw + j];
			lin += wt[j * d1 + r] * lsq->h[r * cw + j];
		}
	double e = (lsq->tsq - 2.0 * lin + quad) / ((double)lsq->rows * (double)cw);
	*err = e > 0.0 ? e : 0.0;
	free(a);
	free(wt);
	return MUDSC_OK;
}

/* A copy of merged with the two producer tensors replaced by wt's values. */
static mudsc_status build(mudsc_model **out, const mudsc_lsq *l, const mudsc_model *merged,
                          const double *wt)
{
	size_t d1 = (size_t)l->d + 1, cw = (size_t)l->cw;
	mudsc_model *dst;
	mudsc_status st;
	double *v = mudsc__alloc(cw * (size_t)l->d * sizeof(double) + 1, "corrected tensors");
	void *bytes = mudsc__alloc(cw * (size_t)l->d * sizeof(double) + 1, "corrected tensors");

	if (!v || !bytes) {
		free(v);
		free(bytes);
		return MUDSC_E_NOMEM;
	}
	if ((st = mudsc__correct_copy_start(&dst, merged)) != MUDSC_OK) {
		free(v);
		free(bytes);
		return st;
	}
	for (size_t k = 0; k < mudsc_model_count(merged) && st == MUDSC_OK; k++) {
		mudsc_tensor t;

		if ((st = mudsc_model_at(&t, merged, k)) != MUDSC_OK)
			break;
		bool is_w = strcmp(t.name, l->wname) == 0, is_b = strcmp(t.name, l->bname) == 0;
		if (!is_w && !is_b) {
			st = mudsc_model_add(dst, t.name, t.dtype, t.rank, t.shape, t.data, MUDSC_COPY);
			continue;
		}
		size_t row = is_w ? (size_t)l->d : 1, off = is_w ? 0 : (size_t)l->d;
		for (size_t j = 0; j < cw; j++)
			for (size_t c = 0; c < row; c++)
				v[j * row + c] = wt[j * d1 + off + c];
		mudsc__convert_from_f64(t.dtype, v, cw * row, bytes);
		st = mudsc_model_add(dst, t.name, t.dtype, t.rank, t.shape, bytes, MUDSC_COPY);
	}
	free(v);
	free(bytes);
	if (st != MUDSC_OK) {
		mudsc_model_free(dst);
		return st;
	}
	*out = dst;
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_lsq_solve(mudsc_model **out, const mudsc_lsq *lsq,
                                       const mudsc_model *merged, const mudsc_lsq_options *opts)
{
	static const char fn[] = "mudsc_lsq_solve";
	mudsc_lsq_options o;
	mudsc_status st;
	double *wt, *a;

	MUDSC__CHECK_NULL(out);
	MUDSC__CHECK_NULL(lsq);
	MUDSC__CHECK_NULL(merged);
	if ((st = mudsc__options_read(&o, opts, MUDSC__OPTIONS_LSQ, fn)) != MUDSC_OK)
		return st;
	if (!(o.ridge >= 0.0) || !isfinite(o.ridge))
		return mudsc__err(MUDSC_E_INVALID, "%s: opts->ridge = %g (need finite, >= 0)", fn,
		                 o.ridge);
	if ((st = layer_work(&wt, &a, lsq, merged, fn, "merged", "least-squares solve")) != MUDSC_OK)
		return st;
	size_t d1 = (size_t)lsq->d + 1, cw = (size_t)lsq->cw;
	double *b = a + d1 * d1, trace = 0.0;
	memcpy(a, lsq->g, d1 * d1 * sizeof(double));
	for (size_t r = 0; r < d1; r++)
		trace += a[r * d1 + r];
	double lambda = o.ridge * trace / (double)d1;
	for (size_t r = 0; r < d1; r++) {
		a[r * d1 + r] += lambda;
		for (size_t j = 0; j < cw; j++)
			b[r * cw + j] = lsq->h[r * cw + j] + lambda * wt[j * d1 + r];
	}
	int info = mudsc__lapack_dposv((int64_t)d1, (int64_t)cw, a, (int64_t)d1, b, (int64_t)cw);
	if (info != 0) {
		st = info > 0 ? mudsc__err(MUDSC_E_NUMERIC, "%s: %s: G + lambda I is not "
		                                           "positive definite (leading minor %d; the "
		                                           "inputs span fewer than D + 1 = %zu "
		                                           "dimensions: raise opts->ridge)", fn,
		                           lsq->what, info, d1)
		              : mudsc__err(MUDSC_E_INVALID, "%s: %s: the layer is too large for "
		                                           "LAPACK", fn, lsq->what);
	} else {
		for (size_t j = 0; j < cw; j++)
			for (size_t r = 0; r < d1; r++)
				wt[j * d1 + r] = b[r * cw + j];
		st = build(out, lsq, merged, wt);
	}
	free(a);
	free(wt);
	return st;
}

MUDSC_API mudsc_status mudsc_lsq_options_init(mudsc_lsq_options *opts)
{
	return mudsc__options_init(opts, MUDSC__OPTIONS_LSQ, "mudsc_lsq_options_init");
}
