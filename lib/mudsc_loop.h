/*
 * The MuDSC loop (docs/algorithm-choices.md section 7): activation
 * initialisation, then seeded coordinate descent in weight space keeping
 * the best sweep.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_LOOP_H
#define MUDSC_LOOP_H

#include "match_point.h"
#include "plan.h"
#include "simil.h"

/* Returns non-zero to cancel the run. */
typedef int (*loop_progress_fn)(int64_t point, int32_t sweep, double objective, void *user);

struct loop_input {
	const struct mudsc_plan *plan;
	const double *const *S_a; /* per point (NC x NC), or NULL: weight matching only */
	double alpha;
	enum mudsc_simil_kind kind;
	double eps;
	struct match_params match;
	int32_t max_iter, patience;
	uint64_t seed;
	loop_progress_fn progress;
	void *progress_user;
};

struct loop_result {
	struct point_corr *corr; /* npoints: the kept correspondences and their scores */
	double *objectives;      /* per sweep */
	int32_t sweeps, best_sweep;
};

mudsc_status mudsc_loop_run(struct loop_result *res, const struct loop_input *in);
void mudsc_loop_result_free(struct loop_result *res, size_t npoints);

#endif /* MUDSC_LOOP_H */
