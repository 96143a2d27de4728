/*
 * The MuDSC loop.  Working correspondences `cur` are re-matched point by
 * point, in a seeded random order per sweep (MUDSC_SWEEP_GRAPH_FIRST: the
 * first sweep in the graph's point order, docs/algorithm.md 10.2); after
 * each sweep the set is copied to `best` when the sweep's objective is
 * strictly the largest so far.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "matcher/loop.h"
#include "matcher/weight_sim.h"
#include "matcher/weight_sim_align.h"

struct loop_state {
	const struct loop_input *in;
	size_t P;
	int32_t N;
	struct point_corr *cur, *best;
	/* similarities in the method's layout (align: the (N-1) x C x C anchor
	 * blocks, weight_sim_align.h; zip: NC x NC), buffers of the widest point */
	const double *Sw; /* the current point's S_w: Sw_own (zip) or align's cache */
	double *Sw_own, *S;
	double *Sa;       /* S_a on demand (in->fetch), or align's blocks of in->S_a */
	int64_t *order;
	uint64_t *versions;       /* per point: bumped when its correspondence changes */
	struct wsim_cache *cache; /* per point, for align's S_w */
	int64_t *prev;            /* NC: the assignment before a re-match */
	struct wsim_buffers buf;  /* feature buffers reused across points and sweeps */
	bool keep_caches;         /* align: every point's cross blocks kept (loop.h) */
};

static int64_t stacked(const struct loop_state *ls, size_t p)
{
	return (int64_t)ls->N * ls->in->plan->points[p].width;
}

static bool align(const struct loop_state *ls)
{
	return ls->in->opts->method == MUDSC_METHOD_ALIGN;
}

/* Entries of point p's similarities in the method's layout. */
static size_t sim_len(const struct loop_state *ls, size_t p)
{
	size_t C = (size_t)ls->in->plan->points[p].width, N = (size_t)ls->N;
	return align(ls) ? (N - 1) * C * C : N * C * N * C;
}

static double pair_mean(const struct loop_state *ls, size_t p, const double *X)
{
	if (align(ls))
		return mudsc__anchor_pair_mean(&ls->cur[p], X, ls->N, ls->in->plan->points[p].width);
	return mudsc__corr_pair_mean(&ls->cur[p], X, stacked(ls, p));
}

static mudsc_status match_from(struct loop_state *ls, size_t p, const double *S)
{
	const struct plan_point *pt = &ls->in->plan->points[p];
	struct point_corr *c = &ls->cur[p];
	size_t nc = (size_t)stacked(ls, p);
	bool was_set = c->set;
	int64_t width_before = c->width_out;
	mudsc_status st;

	if (was_set)
		memcpy(ls->prev, c->assign, nc * sizeof *ls->prev);
	st = mudsc__match_point(c, S, ls->N, pt->width, pt->groups, ls->in->opts, ls->in->ex);
	if (st == MUDSC_OK && (!was_set || width_before != c->width_out ||
	                       memcmp(ls->prev, c->assign, nc * sizeof *ls->prev) != 0))
		ls->versions[p]++;
	return st;
}

/* S_w of point p under the current correspondences. */
static mudsc_status weight_similarity(struct loop_state *ls, size_t p)
{
	const struct loop_input *in = ls->in;
	const mudsc_matcher_options *o = in->opts;
	if (o->method == MUDSC_METHOD_ALIGN)
		return mudsc__weight_similarity_align(&ls->Sw, &ls->buf, in->plan, p, ls->cur,
		                                     ls->versions, &ls->cache[p], o->similarity, o->eps,
		                                     o->weight_precision, in->ex);
	ls->Sw = ls->Sw_own;
	return mudsc__weight_similarity(ls->Sw_own, &ls->buf, in->plan, p, ls->cur, o->similarity,
	                               o->eps, o->weight_precision, in->ex);
}

/* Point p's S_a, or NULL without activations: given, or fetched on demand. */
static mudsc_status activations(struct loop_state *ls, size_t p, const double **Sa)
{
	const struct loop_input *in = ls->in;

	*Sa = NULL;
	if (in->S_a != NULL && align(ls)) {
		mudsc__anchor_blocks_of(ls->Sa, in->S_a[p], ls->N, in->plan->points[p].width);
		*Sa = ls->Sa;
	} else if (in->S_a != NULL)
		*Sa = in->S_a[p];
	else if (in->fetch != NULL) {
		mudsc_status st = in->fetch(in->fetch_ctx, p, ls->Sa);
		if (st != MUDSC_OK)
			return st;
		*Sa = ls->Sa;
	}
	return MUDSC_OK;
}

static mudsc_status init_from_activations(struct loop_state *ls)
{
	for (size_t p = 0; p < ls->P; p++) {
		const double *Sa;
		mudsc_status st = activations(ls, p, &Sa);
		if (st == MUDSC_OK)
			st = match_from(ls, p, Sa);
		if (st != MUDSC_OK)
			return st;
		double s = pair_mean(ls, p, Sa);
		ls->cur[p].score[0] = NAN;
		ls->cur[p].score[1] = s;
		ls->cur[p].score[2] = s;
	}
	return MUDSC_OK;
}

/* Re-match point p from S = alpha*S_w + (1-alpha)*S_a; records its scores. */
static mudsc_status rematch(struct loop_state *ls, size_t p)
{
	const struct loop_input *in = ls->in;
	size_t n = sim_len(ls, p);
	const double *Sa;
	const double alpha = in->point_alpha ? in->point_alpha[p] : in->opts->alpha;
	mudsc_status st = activations(ls, p, &Sa);

	if (st == MUDSC_OK)
		st = weight_similarity(ls, p);
	if (st != MUDSC_OK)
		return st;
	if (Sa != NULL)
		for (size_t k = 0; k < n; k++)
			ls->S[k] = alpha * ls->Sw[k] + (1.0 - alpha) * Sa[k];
	st = match_from(ls, p, Sa != NULL ? ls->S : ls->Sw);
	if (st != MUDSC_OK)
		return st;
	ls->cur[p].score[0] = pair_mean(ls, p, ls->Sw);
	ls->cur[p].score[1] = Sa ? pair_mean(ls, p, Sa) : NAN;
	ls->cur[p].score[2] = Sa ? pair_mean(ls, p, ls->S) : ls->cur[p].score[0];
	return MUDSC_OK;
}

static mudsc_status keep_best(struct loop_state *ls)
{
	for (size_t p = 0; p < ls->P; p++) {
		mudsc__corr_free(&ls->best[p]);
		if (mudsc__corr_copy(&ls->best[p], &ls->cur[p], stacked(ls, p)) != MUDSC_OK)
			return MUDSC_E_NOMEM;
	}
	return MUDSC_OK;
}

/* One sweep; *objective = mean over points (in point order) of the S scores.
 * The order is drawn every sweep, so that with MUDSC_SWEEP_GRAPH_FIRST the
 * later sweeps visit the points in the orders of MUDSC_SWEEP_RANDOM. */
static mudsc_status sweep(struct loop_state *ls, struct mudsc__rng *rng, int32_t index,
                          double *objective)
{
	const mudsc_matcher_options *o = ls->in->opts;
	double sum = 0.0;

	mudsc__rng_order(rng, ls->order, (int64_t)ls->P);
	if (index == 0 && o->sweep_order == MUDSC_SWEEP_GRAPH_FIRST)
		for (size_t k = 0; k < ls->P; k++)
			ls->order[k] = (int64_t)k;
	for (size_t k = 0; k < ls->P; k++) {
		size_t p = (size_t)ls->order[k];
		mudsc_status st = rematch(ls, p);
		if (st != MUDSC_OK)
			return st;
		if (!ls->keep_caches)
			mudsc__wsim_cache_release(&ls->cache[p]);
		if (o->progress != NULL &&
		    o->progress((int64_t)p, index, ls->cur[p].score[2], o->progress_user))
			return mudsc__err(MUDSC_E_CANCELLED,
			                 "MuDSC loop cancelled by the progress callback at sweep %d, point "
			                 "'%s'",
			                 (int)index, ls->in->plan->points[p].name);
	}
	for (size_t p = 0; p < ls->P; p++)
		sum += ls->cur[p].score[2];
	*objective = sum / (double)ls->P;
	return MUDSC_OK;
}

static mudsc_status descend(struct loop_state *ls, struct loop_result *res)
{
	struct mudsc__rng rng;
	double best = -INFINITY;
	int32_t since_best = 0;

	mudsc__rng_seed(&rng, ls->in->opts->seed);
	for (int32_t s = 0; s < ls->in->opts->max_iter; s++) {
		double objective = 0.0, t0 = mudsc__clock_seconds();
		ls->buf.products = (struct mudsc__tally){0};
		mudsc_status st = sweep(ls, &rng, s, &objective);
		if (st != MUDSC_OK)
			return st;
		mudsc__log(MUDSC_LOG_DEBUG,
		           "mudsc_matcher_run: sweep %d: %.3f s, of which S_w's products %.6g flops "
		           "in %.3f s",
		           (int)s, mudsc__clock_seconds() - t0, ls->buf.products.flops,
		           ls->buf.products.seconds);
		res->objectives[s] = objective;
		res->sweeps = s + 1;
		mudsc__log(MUDSC_LOG_INFO, "mudsc_matcher_run: sweep %d: objective %.9g%s", (int)s,
		           objective, objective > best ? " (the best so far)" : "");
		if (objective > best) {
			best = objective;
			since_best = 0;
			res->best_sweep = s;
			if ((st = keep_best(ls)) != MUDSC_OK)
				return st;
		} else if (++since_best >= ls->in->opts->patience) {
			break;
		}
	}
	return MUDSC_OK;
}

/* Entries of the widest point's similarity in the method's layout. */
static size_t widest_sim(const struct loop_state *ls)
{
	size_t most = 1;
	for (size_t p = 0; p < ls->P; p++)
		most = sim_len(ls, p) > most ? sim_len(ls, p) : most;
	return most;
}

static size_t widest_stack(const struct mudsc__plan *plan)
{
	size_t most = 1;
	for (size_t p = 0; p < plan->npoints; p++) {
		size_t nc = (size_t)plan->n_models * (size_t)plan->points[p].width;
		most = nc > most ? nc : most;
	}
	return most;
}

static void free_corrs(struct point_corr *c, size_t P)
{
	if (c == NULL)
		return;
	for (size_t p = 0; p < P; p++)
		mudsc__corr_free(&c[p]);
	free(c);
}

void mudsc__loop_result_free(struct loop_result *res, size_t npoints)
{
	free_corrs(res->corr, npoints);
	free(res->objectives);
	memset(res, 0, sizeof *res);
}

mudsc_status mudsc__loop_run(struct loop_result *res, const struct loop_input *in)
{
	struct loop_state ls = {.in = in, .P = in->plan->npoints, .N = in->plan->n_models};
	struct loop_result r = {.best_sweep = -1};
	size_t nc = widest_stack(in->plan), ns = widest_sim(&ls);
	ls.keep_caches = in->keep_caches;
	bool acts = in->S_a != NULL || in->fetch != NULL;
	bool weights = !acts || in->opts->alpha > 0.0;

	if (in->point_alpha) { /* per-point alphas: sweeps when any point uses S_w */
		bool any = false;
		for (size_t p = 0; p < ls.P; p++)
			any = any || in->point_alpha[p] > 0.0;
		weights = !acts || any;
	}
	mudsc_status st = MUDSC_OK;

	ls.cur = mudsc__calloc(ls.P + 1, sizeof *ls.cur, "correspondences");
	ls.best = mudsc__calloc(ls.P + 1, sizeof *ls.best, "correspondences");
	ls.order = mudsc__calloc(ls.P + 1, sizeof *ls.order, "point order");
	ls.versions = mudsc__calloc(ls.P + 1, sizeof *ls.versions, "versions");
	ls.cache = mudsc__calloc(ls.P + 1, sizeof *ls.cache, "similarity caches");
	ls.prev = mudsc__calloc(nc + 1, sizeof *ls.prev, "previous assignment");
	r.objectives = mudsc__calloc((size_t)in->opts->max_iter + 1, sizeof *r.objectives,
	                             "objectives");
	bool own_sw = weights && !align(&ls), own_sa = in->S_a ? align(&ls) : in->fetch != NULL;
	ls.Sw_own = own_sw ? mudsc__alloc_big(ns * sizeof *ls.Sw_own, "S_w") : NULL;
	ls.S = weights && acts ? mudsc__alloc_big(ns * sizeof *ls.S, "S") : NULL;
	ls.Sa = own_sa ? mudsc__alloc_big(ns * sizeof *ls.Sa, "S_a") : NULL;
	if (!ls.cur || !ls.best || !ls.order || !r.objectives || !ls.versions || !ls.cache ||
	    !ls.prev || (own_sw && !ls.Sw_own) || (weights && acts && !ls.S) || (own_sa && !ls.Sa))
		st = MUDSC_E_NOMEM;
	if (!acts && in->opts->alpha < 1.0 && !in->point_alpha)
		mudsc__log(MUDSC_LOG_WARNING,
		           "mudsc_matcher_run: no activations were given: alpha = %g is taken as 1 "
		           "(weight matching)",
		           in->opts->alpha);
	if (st == MUDSC_OK && acts)
		st = init_from_activations(&ls);
	if (st == MUDSC_OK && !weights)
		st = keep_best(&ls); /* alpha = 0: the initialisation is the result */
	if (st == MUDSC_OK && weights && ls.P > 0)
		st = descend(&ls, &r);
	free_corrs(ls.cur, ls.P);
	for (size_t p = 0; ls.cache != NULL && p < ls.P; p++)
		mudsc__wsim_cache_free(&ls.cache[p]);
	free(ls.cache);
	mudsc__wsim_buffers_free(&ls.buf);
	free(ls.versions);
	free(ls.prev);
	free(ls.order);
	free(ls.Sw_own);
	free(ls.S);
	free(ls.Sa);
	if (st != MUDSC_OK) {
		free_corrs(ls.best, ls.P);
		free(r.objectives);
		return st;
	}
	r.corr = ls.best;
	*res = r;
	return MUDSC_OK;
}
