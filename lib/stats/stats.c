/*
 * mudsc_stats: a graph's activation statistics, one accumulator per point
 * (include/mudsc/stats.h).  This file: the set, its updates and merges.
 * The file format lives in stats_file.c.
 *
 * SPDX-License-Identifier: MIT
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "accum/accum.h"
#include "stats/stats.h"

MUDSC_API void mudsc_stats_free(mudsc_stats *stats)
{
	if (stats == NULL)
		return;
	for (size_t p = 0; p < stats->n_points; p++) {
		if (stats->acc)
			mudsc_accum_free(stats->acc[p]);
		if (stats->names)
			free(stats->names[p]);
	}
	mudsc__strmap_clear(&stats->by_name);
	free(stats->acc);
	free(stats->names);
	free(stats->widths);
	free(stats);
}

mudsc_status mudsc__stats_create(mudsc_stats **out, int32_t n_models, size_t n_points,
                                const char *const *names, const int64_t *widths,
                                const mudsc_accum_options *options, const char *fn)
{
	mudsc_stats *s = mudsc__calloc(1, sizeof *s, "statistics set");
	mudsc_status st = MUDSC_OK;

	if (s == NULL)
		return MUDSC_E_NOMEM;
	mudsc__strmap_init(&s->by_name);
	s->n_models = n_models;
	s->n_points = n_points;
	s->names = mudsc__calloc(n_points, sizeof *s->names, "statistics set names");
	s->widths = mudsc__calloc(n_points, sizeof *s->widths, "statistics set widths");
	s->acc = mudsc__calloc(n_points, sizeof *s->acc, "statistics set accumulators");
	if (s->names == NULL || s->widths == NULL || s->acc == NULL)
		st = MUDSC_E_NOMEM;
	for (size_t p = 0; st == MUDSC_OK && p < n_points; p++) {
		s->widths[p] = widths[p];
		s->names[p] = mudsc__strdup(names[p], "statistics set point name");
		if (s->names[p] == NULL) {
			st = MUDSC_E_NOMEM;
			break;
		}
		st = mudsc__strmap_put(&s->by_name, s->names[p], p);
		if (st == MUDSC_OK)
			st = mudsc_accum_new(&s->acc[p], n_models, widths[p], options);
		if (st != MUDSC_OK && st != MUDSC_E_NOMEM)
			st = mudsc__err_context(st, "%s: point %zu '%s'", fn, p, names[p]);
	}
	if (st != MUDSC_OK) {
		mudsc_stats_free(s);
		return st;
	}
	*out = s;
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_stats_new(mudsc_stats **out, const mudsc_graph *graph,
                                       int32_t n_models, const mudsc_accum_options *options)
{
	const char **names;
	int64_t *widths;
	size_t n;
	mudsc_status st = MUDSC_OK;

	MUDSC__CHECK_NULL(out);
	MUDSC__CHECK_NULL(graph);
	if (n_models < 2)
		return mudsc__err(MUDSC_E_INVALID, "mudsc_stats_new: n_models = %d, must be >= 2",
		                 (int)n_models);
	n = mudsc_graph_point_count(graph);
	if (n == 0)
		return mudsc__err(MUDSC_E_INVALID, "mudsc_stats_new: argument 'graph' has no points");
	names = mudsc__calloc(n, sizeof *names, "point names");
	widths = mudsc__calloc(n, sizeof *widths, "point widths");
	if (names == NULL || widths == NULL)
		st = MUDSC_E_NOMEM;
	for (size_t p = 0; st == MUDSC_OK && p < n; p++) {
		mudsc_point_info info;
		st = mudsc_graph_point_at(&info, graph, p);
		names[p] = info.name;
		widths[p] = info.width;
	}
	if (st == MUDSC_OK)
		st = mudsc__stats_create(out, n_models, n, names, widths, options, "mudsc_stats_new");
	free(names);
	free(widths);
	return st;
}

MUDSC_API int32_t mudsc_stats_models(const mudsc_stats *stats)
{
	return stats ? stats->n_models : 0;
}

MUDSC_API size_t mudsc_stats_point_count(const mudsc_stats *stats)
{
	return stats ? stats->n_points : 0;
}

static mudsc_status check_point(const mudsc_stats *s, size_t point, const char *fn)
{
	if (point >= s->n_points)
		return mudsc__err(MUDSC_E_RANGE, "%s: argument 'point' = %zu, the set has %zu points",
		                 fn, point, s->n_points);
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_stats_point_at(const char **name, int64_t *width,
                                            const mudsc_stats *stats, size_t point)
{
	mudsc_status st;

	MUDSC__CHECK_NULL(stats);
	if ((st = check_point(stats, point, "mudsc_stats_point_at")) != MUDSC_OK)
		return st;
	if (name)
		*name = stats->names[point];
	if (width)
		*width = stats->widths[point];
	return MUDSC_OK;
}

/* The point called name; MUDSC_E_NOT_FOUND naming fn and name. */
static mudsc_status find(size_t *index, const mudsc_stats *s, const char *name, const char *fn)
{
	if (!mudsc__strmap_get(&s->by_name, name, index))
		return mudsc__err(MUDSC_E_NOT_FOUND, "%s: argument 'name': the set has no point '%s'",
		                 fn, name);
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_stats_point_find(size_t *index, const mudsc_stats *stats,
                                              const char *name)
{
	MUDSC__CHECK_NULL(index);
	MUDSC__CHECK_NULL(stats);
	MUDSC__CHECK_NULL(name);
	return find(index, stats, name, "mudsc_stats_point_find");
}

MUDSC_API mudsc_status mudsc_stats_point(mudsc_accum **out, const mudsc_stats *stats,
                                         size_t point)
{
	mudsc_status st;

	MUDSC__CHECK_NULL(out);
	MUDSC__CHECK_NULL(stats);
	if ((st = check_point(stats, point, "mudsc_stats_point")) != MUDSC_OK)
		return st;
	*out = stats->acc[point];
	return MUDSC_OK;
}

static mudsc_status update(mudsc_stats *s, size_t point, int32_t model,
                           const mudsc_features *features, const char *fn)
{
	mudsc_status st = mudsc_accum_update(s->acc[point], model, features);

	if (st != MUDSC_OK && st != MUDSC_E_NOMEM)
		st = mudsc__err_context(st, "%s: point %zu '%s'", fn, point, s->names[point]);
	return st;
}

MUDSC_API mudsc_status mudsc_stats_update(mudsc_stats *stats, size_t point, int32_t model,
                                          const mudsc_features *features)
{
	mudsc_status st;

	MUDSC__CHECK_NULL(stats);
	MUDSC__CHECK_NULL(features);
	if ((st = check_point(stats, point, "mudsc_stats_update")) != MUDSC_OK)
		return st;
	return update(stats, point, model, features, "mudsc_stats_update");
}

MUDSC_API mudsc_status mudsc_stats_update_named(mudsc_stats *stats, const char *name,
                                                int32_t model, const mudsc_features *features)
{
	size_t point;
	mudsc_status st;

	MUDSC__CHECK_NULL(stats);
	MUDSC__CHECK_NULL(name);
	MUDSC__CHECK_NULL(features);
	if ((st = find(&point, stats, name, "mudsc_stats_update_named")) != MUDSC_OK)
		return st;
	return update(stats, point, model, features, "mudsc_stats_update_named");
}

/* MUDSC_E_MISMATCH naming the first difference of N or points. */
static mudsc_status same_shape(const mudsc_stats *dst, const mudsc_stats *src)
{
	if (dst->n_models != src->n_models)
		return mudsc__err(MUDSC_E_MISMATCH, "mudsc_stats_merge: dst has N = %d models, src %d",
		                 (int)dst->n_models, (int)src->n_models);
	if (dst->n_points != src->n_points)
		return mudsc__err(MUDSC_E_MISMATCH, "mudsc_stats_merge: dst has %zu points, src %zu",
		                 dst->n_points, src->n_points);
	for (size_t p = 0; p < dst->n_points; p++)
		if (strcmp(dst->names[p], src->names[p]) != 0 || dst->widths[p] != src->widths[p])
			return mudsc__err(MUDSC_E_MISMATCH,
			                 "mudsc_stats_merge: point %zu is '%s' of width %" PRId64
			                 " in dst, '%s' of width %" PRId64 " in src",
			                 p, dst->names[p], dst->widths[p], src->names[p], src->widths[p]);
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_stats_merge(mudsc_stats *dst, mudsc_stats *src)
{
	size_t most = 0;
	double *work;
	mudsc_status st;

	MUDSC__CHECK_NULL(dst);
	MUDSC__CHECK_NULL(src);
	if (dst == src)
		return mudsc__err(MUDSC_E_INVALID, "mudsc_stats_merge: 'dst' and 'src' are the same");
	if ((st = same_shape(dst, src)) != MUDSC_OK)
		return st;
	for (size_t p = 0; p < dst->n_points; p++) {
		size_t nc = (size_t)dst->n_models * (size_t)dst->widths[p];
		most = nc > most ? nc : most;
	}
	work = mudsc__calloc(most, sizeof *work, "merge differences");
	if (work == NULL)
		return MUDSC_E_NOMEM;
	/* every point checked before any changes: then the merges cannot fail */
	for (size_t p = 0; st == MUDSC_OK && p < dst->n_points; p++) {
		st = mudsc__accum_merge_check(dst->acc[p], src->acc[p], work, "mudsc_accum_merge");
		if (st != MUDSC_OK)
			st = mudsc__err_context(st, "mudsc_stats_merge: point %zu '%s'", p,
			                        dst->names[p]);
	}
	for (size_t p = 0; st == MUDSC_OK && p < dst->n_points; p++)
		mudsc__accum_merge_apply(dst->acc[p], src->acc[p], work);
	free(work);
	return st;
}
