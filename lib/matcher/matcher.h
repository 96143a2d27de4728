/*
 * The matcher room's door: the plan of a run (plan.h, plan_build.h), the
 * correspondences (corr.h), the MuDSC loop (loop.h), weight similarity
 * (weight_sim*.h), tensor axis operations (axis_ops.h), the merged
 * tensors (merge_apply.h) and their streamed output (merge_file.h).  Only mudsc_matcher (matcher.c) and white-box
 * tests use them.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_MATCHER_ROOM_H
#define MUDSC_MATCHER_ROOM_H

#include "matcher/axis_ops.h"
#include "matcher/budget.h"
#include "matcher/corr.h"
#include "matcher/loop.h"
#include "matcher/merge_apply.h"
#include "matcher/merge_file.h"
#include "matcher/plan.h"
#include "matcher/plan_build.h"
#include "matcher/report.h"
#include "matcher/weight_sim.h"
#include "matcher/weight_sim_align.h"

/* For the average room: MUDSC_OK and *n_models when the matcher has run;
 * else the status and message of mudsc_matcher_merge()'s check, naming fn. */
mudsc_status mudsc__matcher_ran(const mudsc_matcher *m, const char *fn, int32_t *n_models);

#endif /* MUDSC_MATCHER_ROOM_H */
