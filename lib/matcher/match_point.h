/*
 * Matching one point from its similarity S (NC x NC): align or zip, with
 * or without groups, into a point_corr with its scored pairs.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_MATCH_POINT_H
#define MUDSC_MATCH_POINT_H

#include <stdbool.h>

#include "matcher/corr.h"
#include "mudsc/matcher.h"

struct match_params {
	int32_t method; /* a mudsc_method */
	double r, a, b;  /* zip */
	bool use_groups;
};

/* out is replaced (freed first); on error out is left unset. */
mudsc_status mudsc__match_point(struct point_corr *out, const double *S, int32_t N, int64_t C,
                               int64_t groups, const struct match_params *mp);

#endif /* MUDSC_MATCH_POINT_H */
