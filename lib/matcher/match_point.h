/*
 * Matching one point from its similarity S: align or zip, with or without
 * groups, into a point_corr with its scored pairs.  Align reads S in the
 * anchor-block layout, (N-1) x C x C (weight_sim_align.h); zip the dense
 * NC x NC.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_MATCH_POINT_H
#define MUDSC_MATCH_POINT_H

#include "core/core.h"
#include "matcher/corr.h"
#include "mudsc/matcher.h"

/* By the matcher's validated options (method, zip_r/a/b, use_groups); the
 * N-1 assignments of align run on ex's threads.  out is replaced (freed
 * first); on error out is left unset. */
mudsc_status mudsc__match_point(struct point_corr *out, const double *S, int32_t N, int64_t C,
                               int64_t groups, const mudsc_matcher_options *opts,
                               const struct mudsc__exec *ex);

#endif /* MUDSC_MATCH_POINT_H */
