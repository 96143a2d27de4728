/*
 * The stats room's door: mudsc_stats, a graph's activation statistics
 * (one accumulator per merge point), for stats.c (the set),
 * stats_file.c (its safetensors file) and the matcher (set_stats).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_STATS_ROOM_H
#define MUDSC_STATS_ROOM_H

#include "mudsc/stats.h"
#include "core/core.h"

struct mudsc_stats {
	int32_t n_models;
	size_t n_points;
	char **names;               /* n_points, owned */
	int64_t *widths;            /* n_points */
	mudsc_accum **acc;          /* n_points, owned */
	struct mudsc__strmap by_name; /* name -> point */
};

/* A set of n_models x the given points (names copied), each accumulator
 * created with options; fn names the caller in messages. */
mudsc_status mudsc__stats_create(mudsc_stats **out, int32_t n_models, size_t n_points,
                                const char *const *names, const int64_t *widths,
                                const mudsc_accum_options *options, const char *fn);

#endif /* MUDSC_STATS_ROOM_H */
