/*
 * A statistics set's file (docs/stats-format.md): a safetensors file of
 * the raw state of every point's accumulator, written and read by
 * lib/model's checked safetensors writer and reader (and saved atomically
 * by mudsc_model_save()).
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accum/accum.h"
#include "stats/stats.h"

#define STATS_FORMAT "mudsc.stats"
#define STATS_VERSION "1"       /* full-mode sets: the bytes of issue 12, unchanged */
#define STATS_VERSION_CROSS "2" /* sets of cross-block statistics (metadata mode) */

/* The tensors of a point, by suffix (none is a suffix of another, so
 * point name + suffix never collide across points): full mode shift, sum,
 * prod, count; cross mode shift, sum, sq, cross, count. */
enum { T_SHIFT, T_SUM, T_PROD, T_COUNT, T_SQ, T_CROSS, T_KINDS };
static const char *const suffix[T_KINDS] = { ".shift", ".sum", ".prod", ".count", ".sq",
	                                          ".cross" };

/* The tensor kinds of a point in mode `mode`, and their number. */
static int point_kinds(int32_t mode, int *kinds)
{
	static const int full[] = { T_SHIFT, T_SUM, T_PROD, T_COUNT };
	static const int cross[] = { T_SHIFT, T_SUM, T_SQ, T_CROSS, T_COUNT };

	if (mode == MUDSC_STATS_CROSS) {
		memcpy(kinds, cross, sizeof cross);
		return 5;
	}
	memcpy(kinds, full, sizeof full);
	return 4;
}

/* A set's mode: every point's (one set, one options struct). */
static int32_t set_mode(const mudsc_stats *s)
{
	return s->n_points > 0 ? mudsc_accum_mode(s->acc[0]) : MUDSC_STATS_FULL;
}

/* "<name><suffix>" into a fresh string (NULL on NOMEM). */
static char *tensor_name(const char *point, int kind)
{
	size_t a = strlen(point), b = strlen(suffix[kind]);
	char *s = mudsc__alloc(a + b + 1, "tensor name");

	if (s != NULL) {
		memcpy(s, point, a);
		memcpy(s + a, suffix[kind], b + 1);
	}
	return s;
}

static mudsc_status set_meta_i64(mudsc_model *m, const char *key, int64_t v)
{
	char text[32];

	snprintf(text, sizeof text, "%" PRId64, v);
	return mudsc_model_set_meta(m, key, text);
}

static mudsc_status set_point_meta(mudsc_model *m, size_t p, const char *what, const char *text,
                                   int64_t v)
{
	char key[64];

	snprintf(key, sizeof key, "point.%zu.%s", p, what);
	return text ? mudsc_model_set_meta(m, key, text) : set_meta_i64(m, key, v);
}

/* A set as a model whose tensors are borrowed: from the raw buffers in
 * keep (two per point: its shifts, sums and squares or products, and its
 * counts) and, for cross blocks, from the accumulators themselves, which
 * must not change while the model is in use. */
struct saved {
	mudsc_model *m;
	void **keep;
	size_t nkeep;
};

static void saved_free(struct saved *v)
{
	mudsc_model_free(v->m);
	for (size_t k = 0; v->keep != NULL && k < v->nkeep; k++)
		free(v->keep[k]);
	free(v->keep);
	memset(v, 0, sizeof *v);
}

/* Add point p's tensors and metadata to m, borrowed: its raw shifts, sums
 * and squares or packed products into a buffer kept in keep[0] (the
 * counts in keep[1]), its cross blocks (cross mode) read in place. */
static mudsc_status add_point(mudsc_model *m, mudsc_stats *s, size_t p, const char *fn,
                              void **keep)
{
	const size_t N = (size_t)s->n_models, C = (size_t)s->widths[p], NC = N * C;
	const size_t packed = mudsc__accum_packed(s->acc[p]);
	const bool cross = mudsc_accum_mode(s->acc[p]) == MUDSC_STATS_CROSS;
	const int64_t nc_shape[2] = { (int64_t)N, (int64_t)C };
	const int64_t prod_shape[1] = { (int64_t)packed };
	const int64_t cross_shape[3] = { (int64_t)N - 1, (int64_t)C, (int64_t)C };
	const int64_t count_shape[1] = { (int64_t)N };
	/* shift, sum, then prod (full) or sq (cross) */
	double *shift = mudsc__calloc(cross ? 3 * NC : 2 * NC + packed, sizeof(double), "raw sums");
	double *second = shift ? shift + 2 * NC : NULL;
	int64_t *counts = mudsc__calloc(N, sizeof *counts, "counts");
	int64_t count = 0;
	int kinds[5], nk = point_kinds(mudsc_accum_mode(s->acc[p]), kinds);
	struct mudsc__accum_raw raw;
	mudsc_status st = shift && counts ? MUDSC_OK : MUDSC_E_NOMEM;

	keep[0] = shift;
	keep[1] = counts;
	if (st == MUDSC_OK) {
		st = mudsc__accum_raw_get(s->acc[p], shift, shift + NC, second, NULL, &count,
		                          "mudsc_accum_serialize");
		if (st != MUDSC_OK)
			st = mudsc__err_context(st, "%s: point %zu '%s'", fn, p, s->names[p]);
	}
	mudsc__accum_raw_of(&raw, s->acc[p]);
	for (size_t i = 0; i < N; i++)
		counts[i] = count;
	for (int j = 0; st == MUDSC_OK && j < nk; j++) {
		const int k = kinds[j];
		char *name = tensor_name(s->names[p], k);
		if (name == NULL) {
			st = MUDSC_E_NOMEM;
			break;
		}
		if (k == T_COUNT)
			st = mudsc_model_add(m, name, MUDSC_DTYPE_I64, 1, count_shape, counts, MUDSC_BORROW);
		else if (k == T_PROD)
			st = mudsc_model_add(m, name, MUDSC_DTYPE_F64, 1, prod_shape, second, MUDSC_BORROW);
		else if (k == T_CROSS)
			st = mudsc_model_add(m, name, MUDSC_DTYPE_F64, 3, cross_shape, raw.cross,
			                     MUDSC_BORROW);
		else
			st = mudsc_model_add(m, name, MUDSC_DTYPE_F64, 2, nc_shape,
			                     k == T_SUM ? shift + NC : k == T_SQ ? second : shift,
			                     MUDSC_BORROW);
		free(name);
	}
	if (st == MUDSC_OK)
		st = set_point_meta(m, p, "name", s->names[p], 0);
	if (st == MUDSC_OK)
		st = set_point_meta(m, p, "width", NULL, s->widths[p]);
	if (st == MUDSC_OK)
		st = set_point_meta(m, p, "count", NULL, count);
	return st;
}

/* The set as a model of borrowed tensors (docs/stats-format.md): no copy
 * of a cross block, one packed copy of full-mode products. */
static mudsc_status to_model(struct saved *out, mudsc_stats *s, const char *fn)
{
	struct saved v = {0};
	mudsc_status st = mudsc_model_new(&v.m);

	if (st != MUDSC_OK)
		return st;
	const bool cross = set_mode(s) == MUDSC_STATS_CROSS;

	v.nkeep = 2 * s->n_points;
	v.keep = mudsc__calloc(v.nkeep + 1, sizeof *v.keep, "raw buffers");
	if (v.keep == NULL)
		st = MUDSC_E_NOMEM;
	if (st == MUDSC_OK)
		st = mudsc_model_set_meta(v.m, "format", STATS_FORMAT);
	if (st == MUDSC_OK)
		st = mudsc_model_set_meta(v.m, "format_version",
		                          cross ? STATS_VERSION_CROSS : STATS_VERSION);
	if (st == MUDSC_OK && cross)
		st = mudsc_model_set_meta(v.m, "mode", "cross");
	if (st == MUDSC_OK)
		st = set_meta_i64(v.m, "n_models", s->n_models);
	if (st == MUDSC_OK)
		st = set_meta_i64(v.m, "points", (int64_t)s->n_points);
	for (size_t p = 0; st == MUDSC_OK && p < s->n_points; p++)
		st = add_point(v.m, s, p, fn, v.keep + 2 * p);
	if (st != MUDSC_OK) {
		saved_free(&v);
		return st;
	}
	*out = v;
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_stats_save_buffer(void **out_buf, size_t *out_len,
                                               mudsc_stats *stats)
{
	struct saved v;
	mudsc_status st;

	MUDSC__CHECK_NULL(out_buf);
	MUDSC__CHECK_NULL(out_len);
	MUDSC__CHECK_NULL(stats);
	st = to_model(&v, stats, "mudsc_stats_save_buffer");
	if (st != MUDSC_OK)
		return st;
	st = mudsc_model_save_buffer(out_buf, out_len, v.m);
	saved_free(&v);
	return st;
}

MUDSC_API mudsc_status mudsc_stats_save(mudsc_stats *stats, const char *path)
{
	struct saved v;
	mudsc_status st;

	MUDSC__CHECK_NULL(stats);
	MUDSC__CHECK_NULL(path);
	st = to_model(&v, stats, "mudsc_stats_save");
	if (st != MUDSC_OK)
		return st;
	st = mudsc_model_save(v.m, path);
	saved_free(&v);
	if (st != MUDSC_OK && st != MUDSC_E_NOMEM)
		st = mudsc__err_context(st, "mudsc_stats_save: argument 'path'");
	return st;
}

/* ---- loading ----------------------------------------------------------- */

/* What a load checks against (the points and N of a graph, or of a set
 * `like`: at most one of the two is set; neither: the file's own points,
 * for a view), and how its messages name the call and the input. */
struct expect {
	const mudsc_graph *graph;
	const mudsc_stats *like;
	int32_t n_models;
	const char *fn;  /* "mudsc_stats_load_buffer" */
	const char *arg; /* "buf" or "path" */
};

/* The expected number of points, and point p's name and width. */
static size_t expect_count(const struct expect *e, size_t file_points)
{
	if (e->like == NULL && e->graph == NULL)
		return file_points;
	return e->like ? e->like->n_points : mudsc_graph_point_count(e->graph);
}

static mudsc_status expect_point(const char **name, int64_t *width, const struct expect *e,
                                 size_t p)
{
	mudsc_point_info info;
	mudsc_status st;

	if (e->like) {
		*name = e->like->names[p];
		*width = e->like->widths[p];
		return MUDSC_OK;
	}
	if (e->graph == NULL) { /* a view: the file's own points */
		*name = NULL;
		*width = 0;
		return MUDSC_OK;
	}
	if ((st = mudsc_graph_point_at(&info, e->graph, p)) != MUDSC_OK)
		return st;
	*name = info.name;
	*width = info.width;
	return MUDSC_OK;
}

/* One point of the file, checked: its tensors and count. */
struct file_point {
	mudsc_tensor t[T_KINDS];
	int64_t count;
	const char *name; /* the file's (metadata, lives as long as the model) */
	int64_t width;
};

static mudsc_status parse_error(const struct expect *e, const char *fmt, ...)
	MUDSC__PRINTF(2, 3);

static mudsc_status parse_error(const struct expect *e, const char *fmt, ...)
{
	char rule[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rule, sizeof rule, fmt, ap);
	va_end(ap);
	return mudsc__err(MUDSC_E_PARSE, "%s: argument '%s': %s", e->fn, e->arg, rule);
}

/* The metadata entry key as a decimal integer in [lo, hi]. */
static mudsc_status meta_int(int64_t *out, const mudsc_model *m, const char *key, int64_t lo,
                             int64_t hi, const struct expect *e)
{
	const char *text = mudsc_model_get_meta(m, key);
	char *end;
	long long v;

	if (text == NULL)
		return parse_error(e, "metadata '%s' is missing", key);
	errno = 0;
	v = strtoll(text, &end, 10);
	if (!(text[0] == '-' || (text[0] >= '0' && text[0] <= '9')) || *end != '\0' || errno != 0 ||
	    v < lo || v > hi)
		return mudsc__err(MUDSC_E_PARSE,
		                 "%s: argument '%s': metadata '%s' = \"%.64s\" is not an integer in "
		                 "[%" PRId64 ", %" PRId64 "]",
		                 e->fn, e->arg, key, text, lo, hi);
	*out = (int64_t)v;
	return MUDSC_OK;
}

/* The file's header metadata: format, version (1: full mode; 2: the
 * metadata 'mode', "full" or "cross"), N and the point count, then N and
 * the point count against the expectation.  *points: the file's count. */
static mudsc_status check_header(const mudsc_model *m, const struct expect *e, int64_t *N,
                                 int32_t *mode, int64_t *points_out)
{
	const char *format = mudsc_model_get_meta(m, "format");
	const char *version = mudsc_model_get_meta(m, "format_version");
	const char *mode_text = mudsc_model_get_meta(m, "mode");
	int64_t points = 0;
	size_t want;
	const char *against = e->like ? "argument 'like'" : "argument 'graph'";
	int kinds[5], nk;
	mudsc_status st;

	if (format == NULL || strcmp(format, STATS_FORMAT) != 0)
		return parse_error(e, "metadata 'format' is '%.64s', not '%s' (not a statistics set)",
		                   format ? format : "(missing)", STATS_FORMAT);
	if (version == NULL ||
	    (strcmp(version, STATS_VERSION) != 0 && strcmp(version, STATS_VERSION_CROSS) != 0))
		return parse_error(e,
		                   "metadata 'format_version' is '%.64s': this library reads versions "
		                   "%s and %s",
		                   version ? version : "(missing)", STATS_VERSION, STATS_VERSION_CROSS);
	*mode = MUDSC_STATS_FULL;
	if (strcmp(version, STATS_VERSION_CROSS) == 0) {
		if (mode_text != NULL && strcmp(mode_text, "cross") == 0)
			*mode = MUDSC_STATS_CROSS;
		else if (mode_text == NULL || strcmp(mode_text, "full") != 0)
			return parse_error(e, "metadata 'mode' is '%.64s', not 'full' or 'cross' "
			                      "(format_version 2)",
			                   mode_text ? mode_text : "(missing)");
	}
	if ((st = meta_int(N, m, "n_models", 2, INT32_MAX, e)) != MUDSC_OK ||
	    (st = meta_int(&points, m, "points", 1, INT32_MAX, e)) != MUDSC_OK)
		return st;
	nk = point_kinds(*mode, kinds);
	if ((uint64_t)points * (uint64_t)nk != (uint64_t)mudsc_model_count(m))
		return mudsc__err(MUDSC_E_PARSE,
		                 "%s: argument '%s': %zu tensors, but %" PRId64 " points need %" PRId64,
		                 e->fn, e->arg, mudsc_model_count(m), points, points * nk);
	want = expect_count(e, (size_t)points);
	*points_out = points;
	if (e->n_models != 0 && *N != e->n_models)
		return mudsc__err(MUDSC_E_MISMATCH,
		                 "%s: the set has N = %" PRId64 " models, argument 'n_models' = %d",
		                 e->fn, *N, (int)e->n_models);
	if ((size_t)points != want)
		return mudsc__err(MUDSC_E_MISMATCH,
		                 "%s: the set has %" PRId64 " points, %s has %zu", e->fn, points,
		                 against, want);
	return MUDSC_OK;
}

/* A point's tensor of kind k, checked for dtype and shape. */
static mudsc_status point_tensor(mudsc_tensor *t, const mudsc_model *m, const char *point,
                                 int kind, int64_t N, int64_t C, const struct expect *e)
{
	const uint64_t nc = (uint64_t)N * (uint64_t)C, packed = nc * (nc + 1) / 2;
	const uint64_t cc = (uint64_t)C * (uint64_t)C;
	char *name = tensor_name(point, kind);
	mudsc_status st;
	bool ok;

	if (name == NULL)
		return MUDSC_E_NOMEM;
	st = mudsc_model_find(t, m, name);
	if (st != MUDSC_OK) {
		st = parse_error(e, "tensor '%.200s' is missing", name);
	} else {
		if (kind == T_COUNT)
			ok = t->dtype == MUDSC_DTYPE_I64 && t->rank == 1 && t->shape[0] == N;
		else if (kind == T_PROD)
			ok = t->dtype == MUDSC_DTYPE_F64 && t->rank == 1 &&
			     (uint64_t)t->shape[0] == packed;
		else if (kind == T_CROSS)
			ok = t->dtype == MUDSC_DTYPE_F64 && t->rank == 3 && t->shape[0] == N - 1 &&
			     t->shape[1] == C && t->shape[2] == C && cc <= SIZE_MAX / 8;
		else
			ok = t->dtype == MUDSC_DTYPE_F64 && t->rank == 2 && t->shape[0] == N &&
			     t->shape[1] == C;
		if (!ok)
			st = parse_error(e,
			                 "tensor '%.200s' has the wrong dtype or shape (docs/stats-format.md)",
			                 name);
	}
	free(name);
	return st;
}

/* Point p of the file, checked against the graph's point (name, width)
 * and N: metadata, tensors and counts, before anything is allocated for
 * it (so the sizes are those of tensors the input holds). */
static mudsc_status check_point(struct file_point *fp, const mudsc_model *m, size_t p, int64_t N,
                                int32_t mode, const struct expect *e)
{
	int kinds[5], nk = point_kinds(mode, kinds);
	char key[64];
	const char *name, *want_name = NULL;
	const char *against = e->like ? "argument 'like'" : "argument 'graph'";
	int64_t width = 0, want_width = 0, c;
	mudsc_status st = expect_point(&want_name, &want_width, e, p);
	struct {
		const char *name;
		int64_t width;
	} info = { want_name, want_width };

	if (st != MUDSC_OK)
		return st;
	snprintf(key, sizeof key, "point.%zu.name", p);
	name = mudsc_model_get_meta(m, key);
	if (name == NULL)
		return parse_error(e, "metadata '%s' is missing", key);
	if (info.name == NULL)
		info.name = name; /* a view: the file's own point */
	if (strcmp(name, info.name) != 0)
		return mudsc__err(MUDSC_E_MISMATCH,
		                 "%s: point %zu of the set is '%.200s', of %s '%.200s'", e->fn, p,
		                 name, against, info.name);
	snprintf(key, sizeof key, "point.%zu.width", p);
	if ((st = meta_int(&width, m, key, 1, INT32_MAX, e)) != MUDSC_OK)
		return st;
	if (info.width == 0)
		info.width = width;
	fp->name = name;
	fp->width = width;
	if (width != info.width)
		return mudsc__err(MUDSC_E_MISMATCH,
		                 "%s: point %zu '%.200s' has width %" PRId64 " in the set, %" PRId64
		                 " in %s",
		                 e->fn, p, info.name, width, info.width, against);
	if (N * width > INT32_MAX)
		return mudsc__err(MUDSC_E_PARSE,
		                 "%s: argument '%s': point '%.200s': N = %" PRId64 " x width %" PRId64
		                 " features, more than %d",
		                 e->fn, e->arg, info.name, N, width, INT32_MAX);
	snprintf(key, sizeof key, "point.%zu.count", p);
	if ((st = meta_int(&fp->count, m, key, 0, INT64_MAX / 2, e)) != MUDSC_OK)
		return st;
	for (int j = 0; j < nk; j++)
		if ((st = point_tensor(&fp->t[kinds[j]], m, info.name, kinds[j], N, width, e)) !=
		    MUDSC_OK)
			return st;
	for (int64_t i = 0; i < N; i++) {
		memcpy(&c, (const unsigned char *)fp->t[T_COUNT].data + (size_t)i * sizeof c, sizeof c);
		if (c != fp->count)
			return mudsc__err(MUDSC_E_PARSE,
			                 "%s: argument '%s': point '%.200s': model %" PRId64
			                 "'s count %" PRId64 " is not the metadata's %" PRId64,
			                 e->fn, e->arg, info.name, i, c, fp->count);
	}
	return MUDSC_OK;
}

static mudsc_status from_model(mudsc_stats **out, const mudsc_model *m, const struct expect *e,
                               const mudsc_accum_options *options)
{
	size_t np;
	struct file_point *fp;
	mudsc_stats *s = NULL;
	mudsc_accum_options o;
	char what[320];
	int64_t N = 0, points = 0;
	int32_t mode = MUDSC_STATS_FULL;
	mudsc_status st = check_header(m, e, &N, &mode, &points);

	if (st == MUDSC_OK)
		st = mudsc__options_read(&o, options, MUDSC__OPTIONS_ACCUM, e->fn);
	if (st != MUDSC_OK)
		return st;
	o.mode = mode; /* the file's */
	np = expect_count(e, (size_t)points);
	fp = mudsc__calloc(np, sizeof *fp, "statistics set points");
	if (fp == NULL)
		return MUDSC_E_NOMEM;
	for (size_t p = 0; st == MUDSC_OK && p < np; p++)
		st = check_point(&fp[p], m, p, N, mode, e);
	if (st == MUDSC_OK && e->like)
		st = mudsc__stats_create(&s, (int32_t)N, np, (const char *const *)e->like->names,
		                         e->like->widths, &o, e->fn);
	else if (st == MUDSC_OK)
		st = mudsc_stats_new(&s, e->graph, (int32_t)N, &o);
	for (size_t p = 0; st == MUDSC_OK && p < np; p++) {
		const int second = mode == MUDSC_STATS_CROSS ? T_SQ : T_PROD;
		snprintf(what, sizeof what, "argument '%s': point '%.200s'", e->arg, s->names[p]);
		st = mudsc__accum_raw_set(s->acc[p], fp[p].t[T_SHIFT].data, fp[p].t[T_SUM].data,
		                          fp[p].t[second].data, fp[p].t[T_CROSS].data, fp[p].count,
		                          e->fn, what);
	}
	free(fp);
	if (st != MUDSC_OK) {
		mudsc_stats_free(s);
		return st;
	}
	*out = s;
	return MUDSC_OK;
}

/* MUDSC_E_INVALID naming fn unless n_models is 0 or >= 2. */
static mudsc_status check_n_models(int32_t n_models, const char *fn)
{
	if (n_models != 0 && n_models < 2)
		return mudsc__err(MUDSC_E_INVALID, "%s: argument 'n_models' = %d, must be 0 or >= 2", fn,
		                 (int)n_models);
	return MUDSC_OK;
}

/* The set of m, which the safetensors reader returned with status st;
 * frees m. */
static mudsc_status finish_load(mudsc_stats **out, mudsc_model *m, mudsc_status st,
                                const struct expect *e, const mudsc_accum_options *options)
{
	if (st != MUDSC_OK)
		return st == MUDSC_E_NOMEM
		           ? st
		           : mudsc__err_context(st, "%s: argument '%s'", e->fn, e->arg);
	st = from_model(out, m, e, options);
	mudsc_model_free(m);
	return st;
}

MUDSC_API mudsc_status mudsc_stats_load_buffer(mudsc_stats **out, const void *buf, size_t len,
                                               const mudsc_graph *graph, int32_t n_models,
                                               const mudsc_accum_options *options)
{
	const struct expect e = { graph, NULL, n_models, "mudsc_stats_load_buffer", "buf" };
	mudsc_model *m = NULL;
	mudsc_status st;

	MUDSC__CHECK_NULL(out);
	MUDSC__CHECK_NULL(buf);
	MUDSC__CHECK_NULL(graph);
	if ((st = check_n_models(n_models, e.fn)) != MUDSC_OK)
		return st;
	st = mudsc_model_load_buffer(&m, buf, len, MUDSC_BORROW);
	return finish_load(out, m, st, &e, options);
}

MUDSC_API mudsc_status mudsc_stats_load(mudsc_stats **out, const char *path,
                                        const mudsc_graph *graph, int32_t n_models,
                                        const mudsc_accum_options *options)
{
	const struct expect e = { graph, NULL, n_models, "mudsc_stats_load", "path" };
	mudsc_model *m = NULL;
	mudsc_status st;

	MUDSC__CHECK_NULL(out);
	MUDSC__CHECK_NULL(path);
	MUDSC__CHECK_NULL(graph);
	if ((st = check_n_models(n_models, e.fn)) != MUDSC_OK)
		return st;
	st = mudsc_model_load_mode(&m, path, MUDSC_LOAD_READ);
	return finish_load(out, m, st, &e, options);
}

MUDSC_API mudsc_status mudsc_stats_load_buffer_like(mudsc_stats **out, const void *buf,
                                                    size_t len, const mudsc_stats *like,
                                                    const mudsc_accum_options *options)
{
	struct expect e = { NULL, like, 0, "mudsc_stats_load_buffer_like", "buf" };
	mudsc_model *m = NULL;
	mudsc_status st;

	MUDSC__CHECK_NULL(out);
	MUDSC__CHECK_NULL(buf);
	MUDSC__CHECK_NULL(like);
	e.n_models = like->n_models;
	st = mudsc_model_load_buffer(&m, buf, len, MUDSC_BORROW);
	return finish_load(out, m, st, &e, options);
}

MUDSC_API mudsc_status mudsc_stats_replace_buffer(mudsc_stats *stats, const void *buf,
                                                  size_t len)
{
	struct expect e = { NULL, stats, 0, "mudsc_stats_replace_buffer", "buf" };
	struct file_point fp;
	mudsc_model *m = NULL;
	mudsc_stats *tmp = NULL;
	char what[320];
	int64_t N = 0, points = 0;
	int32_t mode = MUDSC_STATS_FULL;
	mudsc_status st;

	MUDSC__CHECK_NULL(stats);
	MUDSC__CHECK_NULL(buf);
	e.n_models = stats->n_models;
	st = mudsc_model_load_buffer(&m, buf, len, MUDSC_BORROW);
	if (st != MUDSC_OK)
		return st == MUDSC_E_NOMEM ? st : mudsc__err_context(st, "%s: argument 'buf'", e.fn);
	/* every check on a scratch set first: then setting stats cannot fail */
	st = from_model(&tmp, m, &e, NULL);
	mudsc_stats_free(tmp);
	if (st == MUDSC_OK)
		st = check_header(m, &e, &N, &mode, &points);
	if (st == MUDSC_OK && mode != set_mode(stats))
		st = mudsc__err(MUDSC_E_MISMATCH,
		                "%s: argument 'buf' holds %s statistics, argument 'stats' keeps %s ones",
		                e.fn, mode == MUDSC_STATS_CROSS ? "cross-block" : "full",
		                set_mode(stats) == MUDSC_STATS_CROSS ? "cross-block" : "full");
	for (size_t p = 0; st == MUDSC_OK && p < stats->n_points; p++) {
		const int second = mode == MUDSC_STATS_CROSS ? T_SQ : T_PROD;
		st = check_point(&fp, m, p, N, mode, &e);
		snprintf(what, sizeof what, "argument 'buf': point '%.200s'", stats->names[p]);
		if (st == MUDSC_OK)
			st = mudsc__accum_raw_set(stats->acc[p], fp.t[T_SHIFT].data, fp.t[T_SUM].data,
			                          fp.t[second].data, fp.t[T_CROSS].data, fp.count, e.fn,
			                          what);
	}
	mudsc_model_free(m);
	return st;
}

/* ---- a view: a file read in place (the matcher's statistics on demand) -- */

void mudsc__stats_view_free(struct mudsc__stats_view *v)
{
	if (v == NULL)
		return;
	mudsc__strmap_clear(&v->by_name);
	free(v->points);
	mudsc_model_free(v->model);
	mudsc_free(v->bytes);
	free(v);
}

/* Every check of a load against the file's own points. */
static mudsc_status view_check(struct mudsc__stats_view *v, const struct expect *e)
{
	char what[320];
	int64_t N = 0, points = 0;
	int32_t mode = MUDSC_STATS_FULL;
	struct file_point fp;
	mudsc_status st = check_header(v->model, e, &N, &mode, &points);

	if (st != MUDSC_OK)
		return st;
	v->n_models = (int32_t)N;
	v->mode = mode;
	v->points = mudsc__calloc((size_t)points, sizeof *v->points, "statistics view points");
	if (v->points == NULL)
		return MUDSC_E_NOMEM;
	v->n_points = (size_t)points;
	for (size_t p = 0; st == MUDSC_OK && p < v->n_points; p++) {
		struct mudsc__stats_view_point *vp = &v->points[p];
		struct mudsc__accum_raw r;
		memset(&fp, 0, sizeof fp);
		if ((st = check_point(&fp, v->model, p, N, mode, e)) != MUDSC_OK)
			break;
		*vp = (struct mudsc__stats_view_point){
			.name = fp.name,
			.width = fp.width,
			.count = fp.count,
			.shift = fp.t[T_SHIFT].data,
			.sum = fp.t[T_SUM].data,
			.second = fp.t[mode == MUDSC_STATS_CROSS ? T_SQ : T_PROD].data,
			.third = fp.t[T_CROSS].data,
		};
		mudsc__stats_view_raw(v, p, &r);
		snprintf(what, sizeof what, "argument '%s': point '%.200s'", e->arg, vp->name);
		st = mudsc__accum_raw_check(&r, vp->shift, e->fn, what);
		if (st == MUDSC_OK) {
			size_t seen;
			if (mudsc__strmap_get(&v->by_name, vp->name, &seen))
				st = parse_error(e, "point '%.200s' is there twice", vp->name);
			else
				st = mudsc__strmap_put(&v->by_name, vp->name, p);
		}
	}
	return st;
}

mudsc_status mudsc__stats_view_open(struct mudsc__stats_view **out, mudsc_model *model,
                                   void *bytes, size_t held, const char *fn, const char *arg)
{
	const struct expect e = { NULL, NULL, 0, fn, arg };
	struct mudsc__stats_view *v = mudsc__calloc(1, sizeof *v, "statistics view");
	mudsc_status st;

	if (v == NULL) {
		mudsc_model_free(model);
		mudsc_free(bytes);
		return MUDSC_E_NOMEM;
	}
	mudsc__strmap_init(&v->by_name);
	v->model = model;
	v->bytes = bytes;
	v->held = held;
	st = view_check(v, &e);
	if (st != MUDSC_OK) {
		mudsc__stats_view_free(v);
		return st;
	}
	*out = v;
	return MUDSC_OK;
}

bool mudsc__stats_view_find(const struct mudsc__stats_view *v, const char *name, size_t *k)
{
	return mudsc__strmap_get(&v->by_name, name, k);
}

void mudsc__stats_view_raw(const struct mudsc__stats_view *v, size_t k,
                          struct mudsc__accum_raw *r)
{
	const struct mudsc__stats_view_point *vp = &v->points[k];

	*r = (struct mudsc__accum_raw){
		.mode = v->mode,
		.n_models = v->n_models,
		.width = vp->width,
		.count = vp->count,
		.nc = (size_t)v->n_models * (size_t)vp->width,
		.packed = true,
		.sum = vp->sum,
		.prod = vp->second,
		.sq = vp->second,
		.cross = vp->third,
	};
}
