/*
 * The matcher's memory budget (options.max_memory): what run(), merge()
 * and transform() will allocate, computed from the plan before any of it
 * is allocated, so a problem too large is refused at once
 * (issue 11, defect 8).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_BUDGET_H
#define MUDSC_BUDGET_H

#include "matcher/plan.h"
#include "mudsc/matcher.h"
#include "mudsc/model.h"

/* Bytes (as doubles: the figures may exceed any size_t of the host) of the
 * matcher's own buffers at their peak, the models not counted.  The
 * quadratic buffers (similarities, zip's working matrix, align's cached
 * cross blocks, the activation similarities) are counted exactly, the
 * linear ones as an upper bound.  Align holds S_a and S as (N-1) x C x C
 * anchor blocks and its S_w is the cached cross blocks (no copy); zip
 * holds S_w, S and S_a as N*C x N*C. */
struct mudsc__budget {
	double run;       /* run() without activations (weight matching) */
	double run_acts;  /* run() with activations for every point, their copies included */
	double run_demand; /* run() with statistics on demand, the held statistics not
	                      included: one S_a of the widest point (matcher.h's formula) */
	double merge;     /* merge() or transform() after a run, the kept results included */
	double acts;      /* the activation similarities alone: sum over points of (N*C)^2 */
	double widest;    /* one (N*C)^2 matrix of the widest point */
	double sim;       /* one similarity of it in the method's layout: align's
	                     (N-1) C^2 anchor blocks (S_a, S), zip's (N*C)^2 */
	size_t wide_point; /* its index */
	/* Align's cross blocks (weight_sim_align.h): the figures above count
	 * only the widest point's (and every point's linear terms).  Every
	 * point's are kept between matchings when they total at most 1 GiB
	 * (keep_rule) and the run's figure plus cache_extra, the other points'
	 * blocks, fits opts->max_memory (mudsc__budget_keep_caches). */
	bool keep_rule;
	double cache_extra;
};

/* Whether a run whose figure is `need` keeps every point's cross blocks:
 * keep_rule, and need + cache_extra within o->max_memory (or no limit). */
bool mudsc__budget_keep_caches(const struct mudsc__budget *b, double need,
                               const mudsc_matcher_options *o);

/* The figures for plan under the (validated) options o, models[0] and
 * `threads` threads of the matcher's own loops. */
void mudsc__budget_estimate(struct mudsc__budget *b, const struct mudsc__plan *plan,
                           const mudsc_matcher_options *o, const mudsc_model *model0,
                           int32_t threads);

/* MUDSC_OK when need <= o->max_memory (or max_memory is 0), else
 * MUDSC_E_NOMEM with a message from fn naming what needs it (`what`), the
 * figure, the budget, the option and the widest point. */
mudsc_status mudsc__budget_check(const struct mudsc__budget *b, double need, const char *what,
                                const struct mudsc__plan *plan, const mudsc_matcher_options *o,
                                const char *fn);

#endif /* MUDSC_BUDGET_H */
