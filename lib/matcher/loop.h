/*
 * The MuDSC loop (docs/algorithm.md section 10): activation
 * initialisation, then seeded coordinate descent in weight space keeping
 * the best sweep.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_LOOP_H
#define MUDSC_LOOP_H

#include "matcher/match_point.h"
#include "matcher/plan.h"
#include "kernels/kernels.h"

struct loop_input {
	const struct mudsc__plan *plan;
	const double *const *S_a;          /* per point (NC x NC), or NULL: weight matching only */
	/* Statistics on demand (S_a NULL, fetch set): point p's S_a into S in
	 * the method's layout (align: the (N-1) x C x C anchor blocks of
	 * weight_sim_align.h; zip: NC x NC), called whenever the loop matches
	 * p; one buffer of the widest point is all the loop keeps. */
	mudsc_status (*fetch)(void *ctx, size_t p, double *S);
	void *fetch_ctx;
	const mudsc_matcher_options *opts; /* the matcher's, validated */
	const double *point_alpha;         /* per point, or NULL: opts->alpha everywhere */
	const struct mudsc__exec *ex;      /* the matcher's threads */
	bool keep_caches;                  /* align: every point's cross blocks kept between
	                                      matchings (mudsc__budget_keep_caches) */
};

struct loop_result {
	struct point_corr *corr; /* npoints: the kept correspondences and their scores */
	double *objectives;      /* per sweep */
	int32_t sweeps, best_sweep;
};

mudsc_status mudsc__loop_run(struct loop_result *res, const struct loop_input *in);
void mudsc__loop_result_free(struct loop_result *res, size_t npoints);

#endif /* MUDSC_LOOP_H */
