/*
 * mudsc_matcher: options, inputs, the run and its results.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "matcher/budget.h"
#include "matcher/cca.h"
#include "matcher/matcher.h"
#include "matcher/merge_apply.h"
#include "matcher/merge_file.h"
#include "mudsc/matcher.h"
#include "matcher/loop.h"
#include "matcher/plan_build.h"
#include "matcher/report.h"
#include "model/model.h"
#include "stats/stats.h"
#include "accum/accum.h"

struct mudsc_matcher {
	mudsc_matcher_options opts;
	const mudsc_model **models;
	struct mudsc__plan plan;
	double **S_a;              /* per point, NULL until given */
	/* statistics on demand (matcher.h): a view of a file or of a set's
	 * bytes with the view's point of every plan point, or a callback */
	struct mudsc__stats_view *view;
	size_t *view_point;
	mudsc_stats_point_fn stats_fn;
	void *stats_user;
	struct loop_result result; /* valid when ran */
	struct mudsc__budget budget; /* what run() and merge() will allocate */
	size_t ignored_bindings;   /* MUDSC_BIND_IGNORE bindings: the advice after merge() */
	double *point_alpha;       /* per point (npoints), or NULL: opts.alpha everywhere */
	bool ran;
};

MUDSC_API mudsc_status mudsc_matcher_options_init(mudsc_matcher_options *opts)
{
	return mudsc__options_init(opts, MUDSC__OPTIONS_MATCHER, "mudsc_matcher_options_init");
}

static mudsc_status bad_option(const char *field, double value)
{
	return mudsc__err(MUDSC_E_INVALID, "mudsc_matcher_new: opts->%s = %g is out of range",
	                 field, value);
}

static mudsc_status check_options(const mudsc_matcher_options *o)
{
	if (o->method != MUDSC_METHOD_ALIGN && o->method != MUDSC_METHOD_ZIP &&
	    o->method != MUDSC_METHOD_CCA)
		return bad_option("method", o->method);
	if (!(o->alpha >= 0.0 && o->alpha <= 1.0))
		return bad_option("alpha", o->alpha);
	if (o->similarity != MUDSC_SIMILARITY_CORRELATION && o->similarity != MUDSC_SIMILARITY_COSINE)
		return bad_option("similarity", o->similarity);
	if (!(o->zip_r > 0.0 && o->zip_r < 1.0))
		return bad_option("zip_r", o->zip_r);
	if (!isfinite(o->zip_a))
		return bad_option("zip_a", o->zip_a);
	if (!isfinite(o->zip_b) || o->zip_b < 0.0)
		return bad_option("zip_b", o->zip_b);
	if (o->use_groups != 0 && o->use_groups != 1)
		return bad_option("use_groups", o->use_groups);
	if (o->max_iter < 1)
		return bad_option("max_iter", o->max_iter);
	if (o->patience < 1)
		return bad_option("patience", o->patience);
	if (o->threads < 0)
		return bad_option("threads", o->threads);
	if (!(o->eps > 0.0) || !isfinite(o->eps))
		return bad_option("eps", o->eps);
	if (o->max_memory < 0)
		return bad_option("max_memory", (double)o->max_memory);
	if (o->weight_precision != MUDSC_PRECISION_F32 && o->weight_precision != MUDSC_PRECISION_F64)
		return bad_option("weight_precision", o->weight_precision);
	if (!(o->cca_ridge >= 0.0) || !isfinite(o->cca_ridge))
		return bad_option("cca_ridge", o->cca_ridge);
	if (o->sweep_order != MUDSC_SWEEP_RANDOM && o->sweep_order != MUDSC_SWEEP_GRAPH_FIRST)
		return bad_option("sweep_order", o->sweep_order);
	return MUDSC_OK;
}

MUDSC_API void mudsc_matcher_free(mudsc_matcher *m)
{
	if (m == NULL)
		return;
	for (size_t p = 0; m->S_a != NULL && p < m->plan.npoints; p++)
		free(m->S_a[p]);
	free(m->S_a);
	mudsc__stats_view_free(m->view);
	free(m->view_point);
	mudsc__loop_result_free(&m->result, m->plan.npoints);
	mudsc__plan_free(&m->plan);
	free(m->point_alpha);
	free(m->models);
	free(m);
}

/* Every point has a binding: a point without one has nothing to match by
 * and nothing to merge (issue 11, defect 11a: refused here, not at run()). */
static mudsc_status check_points_bound(const mudsc_graph *graph)
{
	for (size_t p = 0; p < mudsc_graph_point_count(graph); p++) {
		mudsc_point_info info;
		mudsc_status st = mudsc_graph_point_at(&info, graph, p);
		if (st != MUDSC_OK)
			return st;
		if (info.binding_count == 0)
			return mudsc__err(MUDSC_E_INVALID,
			                 "mudsc_matcher_new: point '%s' (index %zu) of argument 'graph' has "
			                 "no bindings: bind a tensor axis to it or remove it",
			                 info.name, p);
	}
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_matcher_new(mudsc_matcher **out, const mudsc_graph *graph,
                                         const mudsc_model *const *models, int32_t n_models,
                                         const mudsc_matcher_options *opts)
{
	mudsc_matcher_options o;
	mudsc_matcher *m;
	mudsc_status st;

	MUDSC__CHECK_NULL(out);
	MUDSC__CHECK_NULL(graph);
	MUDSC__CHECK_NULL(models);
	if (n_models < 2)
		return mudsc__err(MUDSC_E_INVALID, "mudsc_matcher_new: n_models = %d, need at least 2",
		                 (int)n_models);
	for (int32_t i = 0; i < n_models; i++)
		if (models[i] == NULL)
			return mudsc__err(MUDSC_E_INVALID, "mudsc_matcher_new: models[%d] is NULL", (int)i);
	if ((st = mudsc__options_read(&o, opts, MUDSC__OPTIONS_MATCHER, "mudsc_matcher_new")) !=
	        MUDSC_OK ||
	    (st = check_options(&o)) != MUDSC_OK || (st = check_points_bound(graph)) != MUDSC_OK)
		return st;
	m = mudsc__calloc(1, sizeof *m, "mudsc_matcher");
	if (m == NULL)
		return MUDSC_E_NOMEM;
	m->opts = o;
	m->models = mudsc__calloc((size_t)n_models, sizeof *m->models, "models");
	st = m->models != NULL ? MUDSC_OK : MUDSC_E_NOMEM;
	if (st == MUDSC_OK)
		st = mudsc__plan_build(&m->plan, graph, models, n_models);
	if (st == MUDSC_OK) {
		mudsc__budget_estimate(&m->budget, &m->plan, &o, models[0],
		                      mudsc__exec_make(o.threads).threads);
		st = mudsc__budget_check(&m->budget, m->budget.run, "mudsc_matcher_run()", &m->plan,
		                        &o, "mudsc_matcher_new");
	}
	if (st == MUDSC_OK)
		st = mudsc__budget_check(&m->budget, m->budget.merge, "mudsc_matcher_merge()",
		                        &m->plan, &o, "mudsc_matcher_new");
	if (st == MUDSC_OK) {
		m->S_a = mudsc__calloc(m->plan.npoints + 1, sizeof *m->S_a, "activation similarities");
		if (m->S_a == NULL)
			st = MUDSC_E_NOMEM;
	}
	if (st != MUDSC_OK) {
		mudsc_matcher_free(m);
		return st;
	}
	for (int32_t i = 0; i < n_models; i++) {
		mudsc__model_freeze_shared(models[i]);
		m->models[i] = models[i];
	}
	m->result.sweeps = -1;
	m->result.best_sweep = -1;
	m->ignored_bindings = mudsc__count_ignored_bindings(graph);
	mudsc__report_unbound(graph, models[0]);
	*out = m;
	return MUDSC_OK;
}

static int64_t stacked_width(const mudsc_matcher *m, size_t point)
{
	return (int64_t)m->plan.n_models * m->plan.points[point].width;
}

static mudsc_status check_point(const mudsc_matcher *m, size_t point, const char *fn)
{
	if (point >= m->plan.npoints)
		return mudsc__err(MUDSC_E_RANGE, "%s: point %zu >= point count %zu", fn, point,
		                 m->plan.npoints);
	return MUDSC_OK;
}

/* A run with activations for every point, and a merge beside them, fit the
 * memory budget. */
static mudsc_status check_acts_budget(const mudsc_matcher *m, const char *fn)
{
	const struct mudsc__budget *b = &m->budget;
	double merge = b->acts + b->merge;
	double need = b->run_acts > merge ? b->run_acts : merge;
	return mudsc__budget_check(b, need, "mudsc_matcher_run() with activations", &m->plan,
	                          &m->opts, fn);
}

/* MUDSC_E_UNSUPPORTED naming fn and the point unless the statistics'
 * mode serves the matcher's method (zip needs the full mode). */
static mudsc_status check_mode(const mudsc_matcher *m, int32_t mode, const char *point,
                               const char *fn)
{
	if (mode == MUDSC_STATS_CROSS && m->opts.method != MUDSC_METHOD_ALIGN)
		return mudsc__err(MUDSC_E_UNSUPPORTED,
		                 "%s: point '%s': cross-block statistics (opts->mode = "
		                 "MUDSC_STATS_CROSS) serve align only; %s (opts->method = %s) needs "
		                 "the full mode (MUDSC_STATS_FULL)",
		                 fn, point, m->opts.method == MUDSC_METHOD_ZIP ? "zip" : "CCA",
		                 m->opts.method == MUDSC_METHOD_ZIP ? "MUDSC_METHOD_ZIP"
		                                                    : "MUDSC_METHOD_CCA");
	return MUDSC_OK;
}

/* Forget the source of statistics on demand, if any. */
static void drop_source(mudsc_matcher *m)
{
	mudsc__stats_view_free(m->view);
	free(m->view_point);
	m->view = NULL;
	m->view_point = NULL;
	m->stats_fn = NULL;
	m->stats_user = NULL;
}

/* Forget every point's dense S_a. */
static void drop_dense(mudsc_matcher *m)
{
	for (size_t p = 0; p < m->plan.npoints; p++) {
		free(m->S_a[p]);
		m->S_a[p] = NULL;
	}
}

/* Make (view, its points) or (fn, user) the source of statistics on
 * demand, in place of any previous source and of every dense S_a. */
static void use_source(mudsc_matcher *m, struct mudsc__stats_view *v, size_t *vp,
                       mudsc_stats_point_fn fn, void *user)
{
	drop_source(m);
	drop_dense(m);
	m->view = v;
	m->view_point = vp;
	m->stats_fn = fn;
	m->stats_user = user;
}

/* A run and a merge with statistics on demand, holding `held` bytes of
 * statistics, fit the memory budget (matcher.h's formula). */
static mudsc_status check_demand_budget(const mudsc_matcher *m, double held, const char *fn)
{
	const struct mudsc__budget *b = &m->budget;
	double need = held + (b->run_demand > b->merge ? b->run_demand : b->merge);
	return mudsc__budget_check(b, need, "mudsc_matcher_run() with statistics on demand",
	                          &m->plan, &m->opts, fn);
}

/* Install a view as the source (all or nothing; the view is the
 * matcher's, freed on failure): every plan point in it by name with its
 * width and observations, its N the matcher's, its mode the method's. */
static mudsc_status install_view(mudsc_matcher *m, struct mudsc__stats_view *v, const char *arg,
                                 const char *fn)
{
	const size_t np = m->plan.npoints;
	size_t *vp = mudsc__calloc(np + 1, sizeof *vp, "statistics points");
	mudsc_status st = vp ? MUDSC_OK : MUDSC_E_NOMEM;

	if (st == MUDSC_OK && v->n_models != m->plan.n_models)
		st = mudsc__err(MUDSC_E_MISMATCH, "%s: argument '%s' has N = %d models, the matcher %d",
		                fn, arg, (int)v->n_models, (int)m->plan.n_models);
	for (size_t p = 0; st == MUDSC_OK && p < np; p++) {
		const struct plan_point *pt = &m->plan.points[p];
		if (!mudsc__stats_view_find(v, pt->name, &vp[p]))
			st = mudsc__err(MUDSC_E_MISMATCH, "%s: argument '%s' has no point '%s'", fn, arg,
			                pt->name);
		else if (v->points[vp[p]].width != pt->width)
			st = mudsc__err(MUDSC_E_MISMATCH,
			                "%s: point '%s' has width %lld in argument '%s', %lld in the "
			                "matcher",
			                fn, pt->name, (long long)v->points[vp[p]].width, arg,
			                (long long)pt->width);
		else if (v->points[vp[p]].count == 0)
			st = mudsc__err(MUDSC_E_STATE, "%s: point '%s': no observations yet", fn, pt->name);
		else
			st = check_mode(m, v->mode, pt->name, fn);
	}
	if (st == MUDSC_OK)
		st = check_demand_budget(m, (double)v->held, fn);
	if (st != MUDSC_OK) {
		free(vp);
		mudsc__stats_view_free(v);
		return st;
	}
	use_source(m, v, vp, NULL, NULL);
	return MUDSC_OK;
}

/* What the method reads from an accumulator into S (NC x NC): the
 * correlation, or the covariance for CCA (docs/algorithm.md section 22). */
static mudsc_status point_stats(double *S, mudsc_accum *acc, const mudsc_matcher *m)
{
	size_t nc = (size_t)mudsc_accum_models(acc) * (size_t)mudsc_accum_width(acc);
	if (m->opts.method == MUDSC_METHOD_CCA)
		return mudsc_accum_covariance(S, nc * nc, NULL, acc);
	return mudsc__accum_similarity(S, acc, "mudsc_accum_correlation");
}

/* The loop's fetch: point p's S_a into S from the source. */
static mudsc_status fetch_stats(void *ctx, size_t p, double *S)
{
	static const char fn[] = "mudsc_matcher_run";
	mudsc_matcher *m = ctx;
	const struct plan_point *pt = &m->plan.points[p];
	const struct mudsc__exec ex = mudsc__exec_make(m->opts.threads);
	struct mudsc__accum_raw r;
	mudsc_accum *acc = NULL;
	bool align = m->opts.method == MUDSC_METHOD_ALIGN; /* S in align's layout (loop.h) */
	double *sd;
	mudsc_status st;

	if (m->view != NULL) {
		sd = mudsc__alloc((size_t)stacked_width(m, p) * sizeof *sd, "standard deviations");
		if (sd == NULL)
			return MUDSC_E_NOMEM;
		mudsc__stats_view_raw(m->view, m->view_point[p], &r);
		if (m->opts.method == MUDSC_METHOD_CCA)
			mudsc__accum_raw_covariance(S, &r, &ex);
		else if (align)
			mudsc__accum_raw_anchor_blocks(S, &r, sd, &ex);
		else
			mudsc__accum_raw_similarity(S, &r, false, sd, &ex);
		free(sd);
		return MUDSC_OK;
	}
	st = m->stats_fn(&acc, p, pt->name, pt->width, m->stats_user);
	if (st != MUDSC_OK)
		return mudsc__err_context(st, "%s: point '%s': the statistics callback failed (%s)", fn,
		                         pt->name, mudsc_status_name(st));
	if (acc == NULL)
		return mudsc__err(MUDSC_E_INVALID,
		                 "%s: point '%s': the statistics callback gave no accumulator", fn,
		                 pt->name);
	if (mudsc_accum_models(acc) != m->plan.n_models || mudsc_accum_width(acc) != pt->width)
		return mudsc__err(MUDSC_E_MISMATCH,
		                 "%s: point '%s': the statistics callback's accumulator has %d models "
		                 "of width %lld, the point needs %d of width %lld",
		                 fn, pt->name, (int)mudsc_accum_models(acc),
		                 (long long)mudsc_accum_width(acc), (int)m->plan.n_models,
		                 (long long)pt->width);
	if ((st = check_mode(m, mudsc_accum_mode(acc), pt->name, fn)) != MUDSC_OK)
		return st;
	st = align ? mudsc__accum_anchor_blocks(S, acc, "mudsc_accum_correlation")
	           : point_stats(S, acc, m);
	if (st != MUDSC_OK)
		return mudsc__err_context(st, "%s: point '%s'", fn, pt->name);
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_matcher_set_stats_file(mudsc_matcher *m, const char *path)
{
	static const char fn[] = "mudsc_matcher_set_stats_file";
	struct mudsc__stats_view *v;
	mudsc_model *model = NULL;
	mudsc_status st;

	MUDSC__CHECK_NULL_AS(m, "matcher");
	MUDSC__CHECK_NULL(path);
	st = mudsc_model_load_mode(&model, path, MUDSC_LOAD_MAP);
	if (st != MUDSC_OK)
		return st == MUDSC_E_NOMEM ? st : mudsc__err_context(st, "%s: argument 'path'", fn);
	if ((st = mudsc__stats_view_open(&v, model, NULL, 0, fn, "path")) != MUDSC_OK)
		return st;
	return install_view(m, v, "path", fn);
}

MUDSC_API mudsc_status mudsc_matcher_set_stats_callback(mudsc_matcher *m,
                                                        mudsc_stats_point_fn fn, void *user)
{
	mudsc_status st;

	MUDSC__CHECK_NULL_AS(m, "matcher");
	MUDSC__CHECK_NULL(fn);
	if ((st = check_demand_budget(m, 0.0, "mudsc_matcher_set_stats_callback")) != MUDSC_OK)
		return st;
	use_source(m, NULL, NULL, fn, user);
	return MUDSC_OK;
}

/* Replace point p's S_a by a fresh NC x NC buffer, returned (NULL on NOMEM). */
static double *fresh_sa(mudsc_matcher *m, size_t point)
{
	size_t nc = (size_t)stacked_width(m, point);
	double *S = mudsc__alloc_big(nc * nc * sizeof *S, "activation similarity");
	if (S != NULL) {
		free(m->S_a[point]);
		m->S_a[point] = S;
	}
	return S;
}

MUDSC_API mudsc_status mudsc_matcher_set_activations(mudsc_matcher *m, size_t point,
                                                     mudsc_accum *accum)
{
	size_t nc;
	double *S;
	mudsc_status st;

	MUDSC__CHECK_NULL_AS(m, "matcher");
	MUDSC__CHECK_NULL(accum);
	if ((st = check_point(m, point, "mudsc_matcher_set_activations")) != MUDSC_OK)
		return st;
	if (mudsc_accum_models(accum) != m->plan.n_models ||
	    mudsc_accum_width(accum) != m->plan.points[point].width)
		return mudsc__err(MUDSC_E_MISMATCH,
		                 "mudsc_matcher_set_activations: accumulator has %d models of width "
		                 "%lld, point '%s' needs %d of width %lld",
		                 (int)mudsc_accum_models(accum), (long long)mudsc_accum_width(accum),
		                 m->plan.points[point].name, (int)m->plan.n_models,
		                 (long long)m->plan.points[point].width);
	if ((st = check_mode(m, mudsc_accum_mode(accum), m->plan.points[point].name,
	                     "mudsc_matcher_set_activations")) != MUDSC_OK ||
	    (st = check_acts_budget(m, "mudsc_matcher_set_activations")) != MUDSC_OK)
		return st;
	nc = (size_t)stacked_width(m, point);
	S = mudsc__alloc(nc * nc * sizeof *S, "activation similarity");
	if (S == NULL)
		return MUDSC_E_NOMEM;
	st = point_stats(S, accum, m);
	if (st != MUDSC_OK) {
		free(S);
		return mudsc__err_context(st, "mudsc_matcher_set_activations: point '%s'",
		                         m->plan.points[point].name);
	}
	drop_source(m);
	free(m->S_a[point]);
	m->S_a[point] = S;
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_matcher_set_stats(mudsc_matcher *m, mudsc_stats *stats)
{
	static const char fn[] = "mudsc_matcher_set_stats";
	struct mudsc__stats_view *v;
	mudsc_model *model = NULL;
	void *bytes = NULL;
	size_t len = 0;
	mudsc_status st;

	MUDSC__CHECK_NULL(m);
	MUDSC__CHECK_NULL(stats);
	if (mudsc_stats_models(stats) != m->plan.n_models)
		return mudsc__err(MUDSC_E_MISMATCH,
		                 "%s: argument 'stats' has N = %d models, the matcher %d", fn,
		                 (int)mudsc_stats_models(stats), (int)m->plan.n_models);
	/* the set's raw sums, as its file holds them: read a point at a time */
	st = mudsc_stats_save_buffer(&bytes, &len, stats);
	if (st != MUDSC_OK)
		return st == MUDSC_E_NOMEM ? st : mudsc__err_context(st, "%s: argument 'stats'", fn);
	st = mudsc_model_load_buffer(&model, bytes, len, MUDSC_BORROW);
	if (st != MUDSC_OK) {
		mudsc_free(bytes);
		return st;
	}
	if ((st = mudsc__stats_view_open(&v, model, bytes, len, fn, "stats")) != MUDSC_OK)
		return st;
	return install_view(m, v, "stats", fn);
}

/* Tiles of S_a checked at once (check_similarity): a tile and its mirror
 * stay in cache, where a row against a column would not. */
#define SIMILARITY_TILE 32

/* Whether every entry of S is finite and S is symmetric, tile by tile. */
static bool similarity_ok(const double *S, size_t nc)
{
	bool ok = true;
	for (size_t a0 = 0; a0 < nc; a0 += SIMILARITY_TILE)
		for (size_t b0 = a0; b0 < nc; b0 += SIMILARITY_TILE) {
			size_t a1 = nc - a0 < SIMILARITY_TILE ? nc : a0 + SIMILARITY_TILE;
			size_t b1 = nc - b0 < SIMILARITY_TILE ? nc : b0 + SIMILARITY_TILE;
			for (size_t a = a0; a < a1; a++)
				for (size_t b = b0 > a ? b0 : a; b < b1; b++)
					ok &= isfinite(S[a * nc + b]) && S[a * nc + b] == S[b * nc + a];
			if (!ok)
				return false;
		}
	return true;
}

/* The first bad entry in row-major order of the upper triangle (the one
 * named; found again only when similarity_ok() saw one). */
static mudsc_status check_similarity(const double *S, size_t nc, const char *point)
{
	if (similarity_ok(S, nc))
		return MUDSC_OK;
	for (size_t a = 0; a < nc; a++)
		for (size_t b = a; b < nc; b++) {
			if (!isfinite(S[a * nc + b]))
				return mudsc__err(MUDSC_E_NUMERIC,
				                 "mudsc_matcher_set_activation_similarity: point '%s': S_a[%zu, "
				                 "%zu] is not finite",
				                 point, a, b);
			if (S[a * nc + b] != S[b * nc + a])
				return mudsc__err(MUDSC_E_INVALID,
				                 "mudsc_matcher_set_activation_similarity: point '%s': S_a is "
				                 "not symmetric at [%zu, %zu]",
				                 point, a, b);
		}
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_matcher_set_activation_similarity(mudsc_matcher *m, size_t point,
                                                               const double *S_a, size_t len)
{
	size_t nc;
	double *S;
	mudsc_status st;

	MUDSC__CHECK_NULL_AS(m, "matcher");
	MUDSC__CHECK_NULL(S_a);
	if ((st = check_point(m, point, "mudsc_matcher_set_activation_similarity")) != MUDSC_OK)
		return st;
	nc = (size_t)stacked_width(m, point);
	if (len != nc * nc)
		return mudsc__err(MUDSC_E_SHAPE,
		                 "mudsc_matcher_set_activation_similarity: point '%s': len = %zu, "
		                 "expected (N*C)^2 = %zu",
		                 m->plan.points[point].name, len, nc * nc);
	if ((st = check_acts_budget(m, "mudsc_matcher_set_activation_similarity")) != MUDSC_OK ||
	    (st = check_similarity(S_a, nc, m->plan.points[point].name)) != MUDSC_OK)
		return st;
	S = fresh_sa(m, point);
	if (S == NULL)
		return MUDSC_E_NOMEM;
	memcpy(S, S_a, len * sizeof *S);
	drop_source(m);
	return MUDSC_OK;
}

/* All points have S_a (returns 1), none (0), or some: MUDSC_E_STATE. */
static mudsc_status activations_given(const mudsc_matcher *m, bool *all)
{
	size_t given = 0;
	if (m->view != NULL || m->stats_fn != NULL) {
		*all = true;
		return MUDSC_OK;
	}
	for (size_t p = 0; p < m->plan.npoints; p++)
		given += m->S_a[p] != NULL;
	*all = given > 0;
	if (given == 0 || given == m->plan.npoints)
		return MUDSC_OK;
	for (size_t p = 0; p < m->plan.npoints; p++)
		if (m->S_a[p] == NULL)
			return mudsc__err(MUDSC_E_STATE,
			                 "mudsc_matcher_run: activations given for %zu of %zu points but not "
			                 "for point '%s'",
			                 given, m->plan.npoints, m->plan.points[p].name);
	return MUDSC_E_INTERNAL;
}

/* The figure of a run from the current source of activations (the one its
 * setter checked against the budget), the other points' cross blocks not
 * counted. */
static double run_figure(const mudsc_matcher *m, bool acts)
{
	const struct mudsc__budget *b = &m->budget;

	if (m->view != NULL || m->stats_fn != NULL)
		return (m->view != NULL ? (double)m->view->held : 0.0) + b->run_demand;
	return acts ? b->run_acts : b->run;
}

MUDSC_API mudsc_status mudsc_matcher_run(mudsc_matcher *m)
{
	struct loop_input in;
	struct loop_result res;
	struct mudsc__exec ex;
	bool acts;
	mudsc_status st;

	MUDSC__CHECK_NULL_AS(m, "matcher");
	if ((st = activations_given(m, &acts)) != MUDSC_OK)
		return st;
	ex = mudsc__exec_make(m->opts.threads);
	in = (struct loop_input){
		.plan = &m->plan,
		.S_a = acts && m->view == NULL && m->stats_fn == NULL ? (const double *const *)m->S_a
		                                                      : NULL,
		.fetch = m->view != NULL || m->stats_fn != NULL ? fetch_stats : NULL,
		.fetch_ctx = m,
		.opts = &m->opts,
		.point_alpha = m->point_alpha,
		.ex = &ex,
		.keep_caches = mudsc__budget_keep_caches(&m->budget, run_figure(m, acts), &m->opts),
	};
	if (m->opts.method == MUDSC_METHOD_ALIGN && m->budget.cache_extra > 0.0)
		mudsc__log(MUDSC_LOG_DEBUG,
		           "mudsc_matcher_run: %s (the other points' cross blocks: %.0f bytes, %s)",
		           in.keep_caches ? "every point's cross blocks are kept between matchings"
		                          : "a point's cross blocks are freed after it is matched",
		           m->budget.cache_extra,
		           in.keep_caches ? "within the budget"
		           : !m->budget.keep_rule ? "all points' over 1 GiB"
		                                  : "beyond what opts->max_memory leaves");
	st = m->opts.method == MUDSC_METHOD_CCA ? mudsc__cca_run(&res, &in)
	                                        : mudsc__loop_run(&res, &in);
	if (st != MUDSC_OK)
		return st;
	mudsc__loop_result_free(&m->result, m->plan.npoints);
	m->result = res;
	m->ran = true;
	return MUDSC_OK;
}

MUDSC_API int32_t mudsc_matcher_sweeps(const mudsc_matcher *m)
{
	return m != NULL && m->ran ? m->result.sweeps : -1;
}

MUDSC_API int32_t mudsc_matcher_best_sweep(const mudsc_matcher *m)
{
	return m != NULL && m->ran ? m->result.best_sweep : -1;
}

static mudsc_status check_ran(const mudsc_matcher *m, const char *fn)
{
	if (m == NULL)
		return mudsc__err(MUDSC_E_INVALID, "%s: argument 'matcher' is NULL", fn);
	if (!m->ran)
		return mudsc__err(MUDSC_E_STATE, "%s: no successful mudsc_matcher_run() yet", fn);
	return MUDSC_OK;
}

mudsc_status mudsc__matcher_ran(const mudsc_matcher *m, const char *fn, int32_t *n_models)
{
	mudsc_status st = check_ran(m, fn);
	if (st == MUDSC_OK)
		*n_models = m->plan.n_models;
	return st;
}

MUDSC_API mudsc_status mudsc_matcher_objectives(double *out, size_t capacity, size_t *needed,
                                                const mudsc_matcher *m)
{
	bool fill;
	mudsc_status st = check_ran(m, "mudsc_matcher_objectives");

	if (st == MUDSC_OK)
		st = mudsc__array_out(&fill, out, capacity, needed, (size_t)m->result.sweeps,
		                     "mudsc_matcher_objectives");
	if (st != MUDSC_OK || !fill)
		return st;
	memcpy(out, m->result.objectives, (size_t)m->result.sweeps * sizeof *out);
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_matcher_point_result(int64_t *width_out, double *scores,
                                                  const mudsc_matcher *m, size_t point)
{
	mudsc_status st = check_ran(m, "mudsc_matcher_point_result");
	if (st == MUDSC_OK)
		st = check_point(m, point, "mudsc_matcher_point_result");
	if (st != MUDSC_OK)
		return st;
	if (width_out != NULL)
		*width_out = m->result.corr[point].width_out;
	if (scores != NULL)
		memcpy(scores, m->result.corr[point].score, 3 * sizeof *scores);
	return MUDSC_OK;
}

/* The checks every per-point getter makes: the matcher, the point and the
 * model index (0 for getters of every model). */
static mudsc_status check_getter(const mudsc_matcher *m, size_t point, int32_t model,
                                 const char *fn)
{
	mudsc_status st;

	if (m == NULL)
		return mudsc__err(MUDSC_E_INVALID, "%s: argument 'matcher' is NULL", fn);
	if ((st = check_point(m, point, fn)) != MUDSC_OK)
		return st;
	if (model < 0 || model >= m->plan.n_models)
		return mudsc__err(MUDSC_E_RANGE, "%s: model %d outside 0..%d", fn, (int)model,
		                 (int)m->plan.n_models - 1);
	return MUDSC_OK;
}

/* MUDSC_E_STATE for the getters of discrete results under CCA. */
static mudsc_status not_discrete(const char *fn)
{
	return mudsc__err(MUDSC_E_STATE, "%s: CCA results (opts->method = MUDSC_METHOD_CCA) are "
	                                "dense transforms, not assignments; use "
	                                "mudsc_matcher_matrix()", fn);
}

MUDSC_API mudsc_status mudsc_matcher_assignment(int64_t *out, size_t capacity, size_t *needed,
                                                const mudsc_matcher *m, size_t point)
{
	static const char fn[] = "mudsc_matcher_assignment";
	bool fill;
	mudsc_status st = check_getter(m, point, 0, fn);

	if (st == MUDSC_OK && m->opts.method == MUDSC_METHOD_CCA)
		return not_discrete(fn);

	if (st == MUDSC_OK)
		st = mudsc__array_out(&fill, out, capacity, needed, (size_t)stacked_width(m, point), fn);
	if (st != MUDSC_OK || !fill || (st = check_ran(m, fn)) != MUDSC_OK)
		return st;
	memcpy(out, m->result.corr[point].assign, (size_t)stacked_width(m, point) * sizeof *out);
	return MUDSC_OK;
}

/* Model `model`'s merge or unmerge matrix of the point into out (C x C'). */
static mudsc_status fill_matrix(double *out, const mudsc_matcher *m, size_t point, int32_t model,
                                mudsc_matrix_kind kind)
{
	const struct point_corr *c = &m->result.corr[point];
	int64_t C = m->plan.points[point].width;
	double *scale = mudsc__alloc((size_t)C * sizeof *scale, "matrix scales");
	int64_t *counts = mudsc__alloc((size_t)m->plan.n_models * (size_t)c->width_out *
	                              sizeof *counts, "member counts");

	if (c->dense != NULL) {
		size_t CC = (size_t)C * (size_t)c->width_out;
		memcpy(out, (kind == MUDSC_MATRIX_MERGE ? c->dense : c->dense_un) + (size_t)model * CC,
		       CC * sizeof *out);
		free(scale);
		free(counts);
		return MUDSC_OK;
	}
	if (scale == NULL || counts == NULL) {
		free(scale);
		free(counts);
		return MUDSC_E_NOMEM;
	}
	mudsc__corr_scales(c, m->plan.n_models, C, model,
	                  kind, NULL, counts, scale);
	memset(out, 0, (size_t)C * (size_t)c->width_out * sizeof *out);
	for (int64_t u = 0; u < C; u++)
		out[u * c->width_out + c->assign[model * C + u]] = scale[u];
	free(scale);
	free(counts);
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_matcher_matrix(double *out, size_t capacity, size_t *needed,
                                            const mudsc_matcher *m, size_t point,
                                            int32_t model, mudsc_matrix_kind kind)
{
	static const char fn[] = "mudsc_matcher_matrix";
	bool fill;
	mudsc_status st = check_getter(m, point, model, fn);

	if (st == MUDSC_OK && kind != MUDSC_MATRIX_MERGE && kind != MUDSC_MATRIX_UNMERGE)
		st = mudsc__err(MUDSC_E_INVALID, "%s: argument 'kind' = %d is unknown", fn, (int)kind);
	if (st == MUDSC_OK)
		st = check_ran(m, fn); /* C' is a result */
	if (st == MUDSC_OK)
		st = mudsc__array_out(&fill, out, capacity, needed,
		                     (size_t)m->plan.points[point].width *
		                         (size_t)m->result.corr[point].width_out, fn);
	if (st != MUDSC_OK || !fill)
		return st;
	return fill_matrix(out, m, point, model, kind);
}

MUDSC_API mudsc_status mudsc_matcher_permutation(int64_t *out, size_t capacity, size_t *needed,
                                                 const mudsc_matcher *m, size_t point,
                                                 int32_t model)
{
	static const char fn[] = "mudsc_matcher_permutation";
	bool fill;
	mudsc_status st = check_getter(m, point, model, fn);
	int64_t C;

	if (st == MUDSC_OK && m->opts.method == MUDSC_METHOD_CCA)
		return not_discrete(fn);

	if (st == MUDSC_OK)
		st = mudsc__array_out(&fill, out, capacity, needed, (size_t)m->plan.points[point].width,
		                     fn);
	if (st != MUDSC_OK || !fill || (st = check_ran(m, fn)) != MUDSC_OK)
		return st;
	if (m->opts.method != MUDSC_METHOD_ALIGN)
		return mudsc__err(MUDSC_E_STATE, "%s: zip results are not permutations; use "
		                                "mudsc_matcher_assignment()", fn);
	C = m->plan.points[point].width;
	const int64_t *assign = m->result.corr[point].assign + (size_t)model * (size_t)C;
	for (int64_t u = 0; u < C; u++)
		out[assign[u]] = u;
	return MUDSC_OK;
}

/* The merge weights (weights, or 1/N each when NULL), checked finite;
 * *out owned (free()). */
static mudsc_status merge_weights(double **out, const mudsc_matcher *m, const double *weights,
                                  const char *fn)
{
	double *w = mudsc__alloc((size_t)m->plan.n_models * sizeof *w, "merge weights");
	if (w == NULL)
		return MUDSC_E_NOMEM;
	for (int32_t i = 0; i < m->plan.n_models; i++) {
		w[i] = weights ? weights[i] : 1.0 / (double)m->plan.n_models;
		if (!isfinite(w[i])) {
			double bad = w[i];
			free(w);
			return mudsc__err(MUDSC_E_INVALID, "%s: weights[%d] = %g is not finite", fn,
			                 (int)i, bad);
		}
	}
	*out = w;
	return MUDSC_OK;
}

static mudsc_status check_model(const mudsc_matcher *m, int32_t model, const char *fn)
{
	if (model < 0 || model >= m->plan.n_models)
		return mudsc__err(MUDSC_E_RANGE, "%s: model %d outside 0..%d", fn, (int)model,
		                 (int)m->plan.n_models - 1);
	return MUDSC_OK;
}

/* The merged (only < 0) or transformed (only = model) model, into *out or
 * streamed to path; the caller checked its own NULL arguments. */
static mudsc_status produce(mudsc_model **out, const char *path, const mudsc_matcher *m,
                            const double *weights, int32_t only, const char *fn)
{
	struct mudsc__exec ex;
	double *w = NULL;
	mudsc_status st;

	if ((only >= 0 && (st = check_model(m, only, fn)) != MUDSC_OK) ||
	    (st = merge_weights(&w, m, only >= 0 ? NULL : weights, fn)) != MUDSC_OK)
		return st;
	ex = mudsc__exec_make(m->opts.threads);
	if (path == NULL)
		st = mudsc__merge_apply(out, &m->plan, m->result.corr, m->models, w, only, &ex);
	else
		st = mudsc__merge_to_file(fn, path, &m->plan, m->result.corr, m->models, w, only, &ex,
		                         m->opts.progress, m->opts.progress_user);
	free(w);
	if (st == MUDSC_OK && only < 0)
		mudsc__report_merged(m->ignored_bindings);
	return st;
}

MUDSC_API mudsc_status mudsc_matcher_merge(mudsc_model **out, const mudsc_matcher *m,
                                           const double *weights)
{
	mudsc_status st = check_ran(m, __func__);
	if (st != MUDSC_OK)
		return st;
	MUDSC__CHECK_NULL(out);
	return produce(out, NULL, m, weights, -1, __func__);
}

/* Run the matcher as it stands, merge, and score the merged model into *s
 * (alpha: what the callback is told); *stop: the callback's answer.  What
 * both searches do per candidate; they word the errors. */
static mudsc_status run_and_score(double *s, int *stop, mudsc_matcher *m, const double *weights,
                                  double alpha, mudsc_score_fn score, void *user)
{
	mudsc_model *merged = NULL;
	mudsc_status st;

	if ((st = mudsc_matcher_run(m)) != MUDSC_OK ||
	    (st = mudsc_matcher_merge(&merged, m, weights)) != MUDSC_OK)
		return st;
	*stop = score(s, merged, alpha, user);
	mudsc_model_free(merged);
	return MUDSC_OK;
}

/* One candidate of the alpha search: run, merge, score into *s. */
static mudsc_status search_candidate(double *s, mudsc_matcher *m, double alpha, size_t k,
                                     const double *weights, mudsc_score_fn score, void *user,
                                     const char *fn)
{
	int stop;
	mudsc_status st;

	m->opts.alpha = alpha;
	if ((st = run_and_score(s, &stop, m, weights, alpha, score, user)) != MUDSC_OK)
		return st;
	if (stop)
		return mudsc__err(MUDSC_E_CANCELLED, "%s: the score callback cancelled at alphas[%zu] "
		                                    "= %g", fn, k, alpha);
	if (!isfinite(*s))
		return mudsc__err(MUDSC_E_NUMERIC, "%s: the score of alphas[%zu] = %g is %g (need "
		                                  "finite)", fn, k, alpha, *s);
	return MUDSC_OK;
}

static mudsc_status check_alphas(const double *alphas, size_t n, const char *what,
                                 const char *fn)
{
	for (size_t k = 0; k < n; k++)
		if (!(alphas[k] >= 0.0 && alphas[k] <= 1.0))
			return mudsc__err(MUDSC_E_INVALID, "%s: %s[%zu] = %g is outside [0, 1]", fn, what,
			                 k, alphas[k]);
	return MUDSC_OK;
}

/* The arguments both searches share. */
static mudsc_status check_search(const mudsc_matcher *m, const double *alphas, size_t n_alphas,
                                 mudsc_score_fn score, const char *fn)
{
	if (m == NULL || alphas == NULL || score == NULL)
		return mudsc__err(MUDSC_E_INVALID, "%s: argument '%s' is NULL", fn,
		                 m == NULL ? "matcher" : alphas == NULL ? "alphas" : "score");
	if (n_alphas == 0)
		return mudsc__err(MUDSC_E_INVALID, "%s: n_alphas = 0", fn);
	return check_alphas(alphas, n_alphas, "alphas", fn);
}

/* The global search of section 18 (arguments checked), every candidate
 * with one alpha at every point; sc: n_alphas scores.  On success the
 * matcher holds the best candidate's results, its alpha, and no per-point
 * alphas; on error it keeps everything it had. */
struct matcher_state {
	struct loop_result result;
	bool ran;
	double alpha, *point_alpha;
};

static mudsc_status search_global(double *best_alpha, double *sc, mudsc_matcher *m,
                                  const double *alphas, size_t n_alphas, const double *weights,
                                  mudsc_score_fn score, void *user, const char *fn,
                                  struct matcher_state *old)
{
	/* the results before the call, kept aside; the best candidate's so far */
	struct loop_result saved = m->result, best = {.best_sweep = -1};
	bool saved_ran = m->ran;
	double saved_alpha = m->opts.alpha, *saved_point = m->point_alpha;
	size_t kbest = 0;
	mudsc_status st = MUDSC_OK;

	m->point_alpha = NULL;
	m->result = (struct loop_result){.best_sweep = -1};
	m->ran = false;
	for (size_t k = 0; k < n_alphas && st == MUDSC_OK; k++) {
		st = search_candidate(&sc[k], m, alphas[k], k, weights, score, user, fn);
		if (st == MUDSC_OK && (k == 0 || sc[k] > sc[kbest])) {
			mudsc__loop_result_free(&best, m->plan.npoints);
			best = m->result;
			kbest = k;
		} else {
			mudsc__loop_result_free(&m->result, m->plan.npoints);
		}
		m->result = (struct loop_result){.best_sweep = -1};
		m->ran = false;
	}
	if (st != MUDSC_OK) {
		mudsc__loop_result_free(&best, m->plan.npoints);
		m->result = saved;
		m->ran = saved_ran;
		m->opts.alpha = saved_alpha;
		m->point_alpha = saved_point;
		return st;
	}
	if (old) /* the caller takes the state before the call */
		*old = (struct matcher_state){saved, saved_ran, saved_alpha, saved_point};
	else {
		mudsc__loop_result_free(&saved, m->plan.npoints);
		free(saved_point);
	}
	m->result = best;
	m->ran = true;
	m->opts.alpha = alphas[kbest];
	*best_alpha = alphas[kbest];
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_matcher_search_alpha(double *best_alpha, double *scores,
                                                  mudsc_matcher *m, const double *alphas,
                                                  size_t n_alphas, const double *weights,
                                                  mudsc_score_fn score, void *user)
{
	static const char fn[] = "mudsc_matcher_search_alpha";
	mudsc_status st;
	double best;

	if ((st = check_search(m, alphas, n_alphas, score, fn)) != MUDSC_OK)
		return st;
	double *sc = mudsc__alloc(n_alphas * sizeof *sc, "alpha search scores");
	if (sc == NULL)
		return MUDSC_E_NOMEM;
	st = search_global(&best, sc, m, alphas, n_alphas, weights, score, user, fn, NULL);
	if (st == MUDSC_OK) {
		if (best_alpha)
			*best_alpha = best;
		if (scores)
			memcpy(scores, sc, n_alphas * sizeof *sc);
	}
	free(sc);
	return st;
}

/* ---- per-point alphas (docs/algorithm.md section 24) -------------------- */

MUDSC_API mudsc_status mudsc_matcher_set_point_alphas(mudsc_matcher *m, const double *alphas,
                                                      size_t n_points)
{
	static const char fn[] = "mudsc_matcher_set_point_alphas";
	mudsc_status st;

	MUDSC__CHECK_NULL_AS(m, "matcher");
	if (alphas == NULL) {
		free(m->point_alpha);
		m->point_alpha = NULL;
		return MUDSC_OK;
	}
	if (n_points != m->plan.npoints)
		return mudsc__err(MUDSC_E_INVALID, "%s: n_points = %zu but the graph has %zu points", fn,
		                 n_points, m->plan.npoints);
	if ((st = check_alphas(alphas, n_points, "alphas", fn)) != MUDSC_OK)
		return st;
	double *a = mudsc__alloc((n_points ? n_points : 1) * sizeof *a, "per-point alphas");
	if (a == NULL)
		return MUDSC_E_NOMEM;
	memcpy(a, alphas, n_points * sizeof *a);
	free(m->point_alpha);
	m->point_alpha = a;
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_matcher_point_alphas(double *out, size_t capacity, size_t *needed,
                                                  const mudsc_matcher *m)
{
	bool fill;
	mudsc_status st;

	MUDSC__CHECK_NULL_AS(m, "matcher");
	if ((st = mudsc__array_out(&fill, out, capacity, needed, m->plan.npoints,
	                           "mudsc_matcher_point_alphas")) != MUDSC_OK || !fill)
		return st;
	for (size_t p = 0; p < m->plan.npoints; p++)
		out[p] = m->point_alpha ? m->point_alpha[p] : m->opts.alpha;
	return MUDSC_OK;
}

/* One candidate of the per-point search: the matcher's point alphas as set,
 * run, merge, score (the alpha tried at point p passed to the callback). */
static mudsc_status point_candidate(double *s, mudsc_matcher *m, size_t p, const double *weights,
                                    mudsc_score_fn score, void *user)
{
	static const char fn[] = "mudsc_matcher_search_point_alphas";
	int stop;
	mudsc_status st;
	double alpha = m->point_alpha[p];

	if ((st = run_and_score(s, &stop, m, weights, alpha, score, user)) != MUDSC_OK)
		return st;
	if (stop)
		return mudsc__err(MUDSC_E_CANCELLED, "%s: the score callback cancelled at point '%s', "
		                                    "alpha %g", fn, m->plan.points[p].name, alpha);
	if (!isfinite(*s))
		return mudsc__err(MUDSC_E_NUMERIC, "%s: the score at point '%s', alpha %g is %g (need "
		                                  "finite)", fn, m->plan.points[p].name, alpha, *s);
	return MUDSC_OK;
}

/* The coordinate rounds of section 24 from the global phase's state (the
 * matcher holds the global best's results; a[] its alpha everywhere,
 * *best its score).  m->point_alpha is a (owned by the caller here). */
static mudsc_status point_rounds(double *best, double *a, mudsc_matcher *m, const double *alphas,
                                 size_t n_alphas, int32_t rounds, const double *weights,
                                 mudsc_score_fn score, void *user)
{
	size_t P = m->plan.npoints;
	mudsc_status st = MUDSC_OK;

	for (int32_t r = 0; r < rounds && st == MUDSC_OK; r++) {
		bool changed = false;
		for (size_t p = 0; p < P && st == MUDSC_OK; p++) {
			double keep = a[p], s, pick = keep, pick_s = *best;
			struct loop_result kept = m->result, cand = {.best_sweep = -1};

			m->result = (struct loop_result){.best_sweep = -1};
			m->ran = false;
			for (size_t k = 0; k < n_alphas && st == MUDSC_OK; k++) {
				if (alphas[k] == keep)
					continue;
				a[p] = alphas[k];
				st = point_candidate(&s, m, p, weights, score, user);
				if (st == MUDSC_OK && s > pick_s) {
					mudsc__loop_result_free(&cand, P);
					cand = m->result;
					pick = alphas[k];
					pick_s = s;
				} else {
					mudsc__loop_result_free(&m->result, P);
				}
				m->result = (struct loop_result){.best_sweep = -1};
				m->ran = false;
			}
			if (st == MUDSC_OK && pick != keep) {
				mudsc__loop_result_free(&kept, P);
				m->result = cand;
				a[p] = pick;
				*best = pick_s;
				changed = true;
			} else {
				mudsc__loop_result_free(&cand, P);
				m->result = kept;
				a[p] = keep;
			}
			m->ran = true;
		}
		if (!changed)
			break;
	}
	return st;
}

MUDSC_API mudsc_status mudsc_matcher_search_point_alphas(double *point_alphas, double *best_score,
                                                         mudsc_matcher *m, const double *alphas,
                                                         size_t n_alphas, int32_t rounds,
                                                         const double *weights,
                                                         mudsc_score_fn score, void *user)
{
	static const char fn[] = "mudsc_matcher_search_point_alphas";
	struct matcher_state old;
	double best_alpha, best;
	mudsc_status st;

	if ((st = check_search(m, alphas, n_alphas, score, fn)) != MUDSC_OK)
		return st;
	if (rounds < 0)
		return mudsc__err(MUDSC_E_INVALID, "%s: rounds = %d (need >= 0)", fn, (int)rounds);
	size_t P = m->plan.npoints;
	double *sc = mudsc__alloc(n_alphas * sizeof *sc, "alpha search scores");
	double *a = mudsc__alloc((P ? P : 1) * sizeof *a, "per-point alphas");
	if (sc == NULL || a == NULL) {
		free(sc);
		free(a);
		return MUDSC_E_NOMEM;
	}
	/* phase 1: the global search (section 18); the old state is handed back */
	st = search_global(&best_alpha, sc, m, alphas, n_alphas, weights, score, user, fn, &old);
	if (st != MUDSC_OK) { /* the matcher is as before the call */
		free(a);
		free(sc);
		return st;
	}
	best = sc[0];
	for (size_t k = 1; k < n_alphas; k++)
		best = sc[k] > best ? sc[k] : best;
	for (size_t p = 0; p < P; p++)
		a[p] = best_alpha;
	m->point_alpha = a;
	/* phase 2: coordinate rounds over the points */
	st = point_rounds(&best, a, m, alphas, n_alphas, rounds, weights, score, user);
	free(sc);
	if (st != MUDSC_OK) { /* back to the state before the call */
		mudsc__loop_result_free(&m->result, P);
		free(a);
		m->result = old.result;
		m->ran = old.ran;
		m->opts.alpha = old.alpha;
		m->point_alpha = old.point_alpha;
		return st;
	}
	mudsc__loop_result_free(&old.result, P);
	free(old.point_alpha);
	if (point_alphas)
		memcpy(point_alphas, a, P * sizeof *a);
	if (best_score)
		*best_score = best;
	return MUDSC_OK; /* m->point_alpha = a; opts.alpha: the global best */
}

MUDSC_API mudsc_status mudsc_matcher_transform(mudsc_model **out, const mudsc_matcher *m,
                                               int32_t model)
{
	mudsc_status st = check_ran(m, __func__);
	if (st != MUDSC_OK)
		return st;
	MUDSC__CHECK_NULL(out);
	return produce(out, NULL, m, NULL, model, __func__);
}

MUDSC_API mudsc_status mudsc_matcher_merge_to_file(const mudsc_matcher *m, const char *path,
                                                   const double *weights)
{
	mudsc_status st = check_ran(m, __func__);
	if (st != MUDSC_OK)
		return st;
	MUDSC__CHECK_NULL(path);
	return produce(NULL, path, m, weights, -1, __func__);
}

MUDSC_API mudsc_status mudsc_matcher_transform_to_file(const mudsc_matcher *m, const char *path,
                                                       int32_t model)
{
	mudsc_status st = check_ran(m, __func__);
	if (st != MUDSC_OK)
		return st;
	MUDSC__CHECK_NULL(path);
	return produce(NULL, path, m, NULL, model, __func__);
}
