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
#include "accum/accum.h"
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

/*
 * A statistics file read in place, for the matcher's statistics on
 * demand: the points of a mudsc_stats file (mapped, or bytes the view
 * owns), every rule of docs/stats-format.md checked at open, each point's
 * raw sums then read where they lie when the matcher matches it.
 */
struct mudsc__stats_view_point {
	const char *name; /* the file's, alive as long as the view */
	int64_t width, count;
	const void *shift, *sum, *second, *third; /* prod (full) or sq and cross */
};

struct mudsc__stats_view {
	mudsc_model *model; /* owned: mapped, or borrowing `bytes` */
	void *bytes;        /* owned (mudsc_free), or NULL */
	size_t held;        /* bytes allocated for it: len of `bytes`, 0 for a mapping */
	int32_t n_models, mode;
	size_t n_points;
	struct mudsc__stats_view_point *points;
	struct mudsc__strmap by_name;
};

/* A view of model (a loaded statistics file) and bytes (what model
 * borrows, or NULL), both owned by the view from the call on, also on
 * failure (freed then).  Every check of mudsc_stats_load_buffer() but the
 * graph's: MUDSC_E_PARSE naming fn and argument arg. */
mudsc_status mudsc__stats_view_open(struct mudsc__stats_view **out, mudsc_model *model,
                                   void *bytes, size_t held, const char *fn, const char *arg);
void mudsc__stats_view_free(struct mudsc__stats_view *v);

/* The view's point called name (false if absent). */
bool mudsc__stats_view_find(const struct mudsc__stats_view *v, const char *name, size_t *k);

/* Point k's raw statistics (accum/accum.h), read in place. */
void mudsc__stats_view_raw(const struct mudsc__stats_view *v, size_t k,
                          struct mudsc__accum_raw *r);

#endif /* MUDSC_STATS_ROOM_H */
