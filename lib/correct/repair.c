/*
 * REPAIR (docs/algorithm.md, section 17): per merged unit, the scale and
 * shift that give it its source units' weighted mean statistics, folded
 * into the point's producer tensors of a copy of the merged model.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "correct/correct.h"
#include "mudsc/stats.h"

static const char FN[] = "mudsc_repair";

/* One corrected point: its producer and C' scales and shifts. */
struct fix {
	bool on;
	struct mudsc__producer pr;
	int64_t width;
	double *scale, *shift;
};

/* Re-raise the error of a public call made inside with FN's prefix. */
static mudsc_status inner(mudsc_status st, const char *point)
{
	if (st == MUDSC_OK)
		return st;
	char msg[512];
	snprintf(msg, sizeof msg, "%s", mudsc_error_message());
	return mudsc__err(st, "%s: point '%s': %s", FN, point, msg);
}

/* owner: who has the width, ending in the noun before it ("point 'p' has
 * merged width"). */
static mudsc_status check_moments(const char *fn, const char *what, const mudsc_moments *m,
                                  size_t q, const char *owner, int64_t width)
{
	if (m->width != width)
		return mudsc__err(MUDSC_E_MISMATCH, "%s: %s[%zu].width = %lld but %s %lld", fn, what, q,
		                 (long long)m->width, owner, (long long)width);
	if (m->mean == NULL || m->std == NULL)
		return mudsc__err(MUDSC_E_INVALID, "%s: %s[%zu].%s is NULL", fn, what, q,
		                 m->mean == NULL ? "mean" : "std");
	for (int64_t j = 0; j < width; j++)
		if (!isfinite(m->mean[j]) || !isfinite(m->std[j]) || m->std[j] < 0.0)
			return mudsc__err(MUDSC_E_INVALID, "%s: %s[%zu] unit %lld: mean %g, std "
			                                  "%g (need finite, std >= 0)", fn, what, q,
			                 (long long)j, m->mean[j], m->std[j]);
	return MUDSC_OK;
}

static mudsc_status check_point_moments(const mudsc_moments *m, size_t q, const char *name,
                                        int64_t width)
{
	char owner[320];

	snprintf(owner, sizeof owner, "point '%s' has merged width", name);
	return check_moments(FN, "merged_stats", m, q, owner, width);
}

/* The producer tensors must have the merged width along axis 0. */
static mudsc_status check_producer(const struct fix *f, const mudsc_model *merged,
                                   const char *name)
{
	for (size_t k = 0; k < f->pr.n_scale; k++) {
		mudsc_tensor t;

		if (mudsc_model_find(&t, merged, f->pr.scale[k]) != MUDSC_OK)
			return mudsc__err(MUDSC_E_NOT_FOUND, "%s: point '%s': tensor '%s' is not in merged",
			                 FN, name, f->pr.scale[k]);
		if (t.rank < 1 || t.shape[0] != f->width)
			return mudsc__err(MUDSC_E_MISMATCH, "%s: point '%s': tensor '%s' has %lld rows, "
			                                   "the point's merged width is %lld", FN, name,
			                 f->pr.scale[k], t.rank < 1 ? 0LL : (long long)t.shape[0],
			                 (long long)f->width);
		if (!mudsc_dtype_is_float(t.dtype))
			return mudsc__err(MUDSC_E_UNSUPPORTED, "%s: point '%s': tensor '%s' is not a float "
			                                      "tensor", FN, name, f->pr.scale[k]);
	}
	return MUDSC_OK;
}

/* Unit j's scale and shift from its targets and merged moments m (17.1). */
static void unit_fix(struct fix *f, size_t j, double t_mean, double t_std, const mudsc_moments *m,
                     double min_std)
{
	double s = m->std[j] > min_std ? t_std / m->std[j] : 1.0;

	f->scale[j] = s;
	f->shift[j] = t_mean - s * m->mean[j];
}

/* Targets, scales and shifts of point q (f->width = C' set). */
static mudsc_status point_fix(struct fix *f, const mudsc_matcher *matcher, mudsc_stats *sources,
                              size_t q, const mudsc_point_info *pi, const mudsc_moments *m,
                              const double *w, int32_t n, double min_std)
{
	size_t idx, nc = (size_t)n * (size_t)pi->width, cw = (size_t)f->width, needed = 0;
	int64_t width;
	mudsc_accum *acc;
	mudsc_status st;

	if ((st = inner(mudsc_matcher_assignment(NULL, 0, &needed, matcher, q), pi->name)) != MUDSC_OK)
		return st;
	if (needed != nc)
		return mudsc__err(MUDSC_E_MISMATCH, "%s: sources have %d models, the matcher %zu", FN,
		                 (int)n, needed / (size_t)pi->width);

	if ((st = mudsc_stats_point_find(&idx, sources, pi->name)) != MUDSC_OK)
		return mudsc__err(MUDSC_E_MISMATCH, "%s: point '%s' is not in sources", FN, pi->name);
	if ((st = inner(mudsc_stats_point_at(NULL, &width, sources, idx), pi->name)) != MUDSC_OK ||
	    (st = inner(mudsc_stats_point(&acc, sources, idx), pi->name)) != MUDSC_OK)
		return st;
	if (width != pi->width)
		return mudsc__err(MUDSC_E_MISMATCH, "%s: point '%s' has width %lld in sources, %lld in "
		                                   "graph", FN, pi->name, (long long)width,
		                 (long long)pi->width);
	double *mean = mudsc__calloc(2 * nc + 3 * cw, sizeof(double), "REPAIR statistics");
	int64_t *assign = mudsc__calloc(nc, sizeof(int64_t), "REPAIR assignment");
	if (!mean || !assign) {
		free(mean);
		free(assign);
		return MUDSC_E_NOMEM;
	}
	double *std = mean + nc, *tm = std + nc, *ts = tm + cw, *den = ts + cw;
	if ((st = inner(mudsc_accum_means(mean, nc, NULL, acc), pi->name)) != MUDSC_OK ||
	    (st = inner(mudsc_accum_stddevs(std, nc, NULL, acc), pi->name)) != MUDSC_OK ||
	    (st = inner(mudsc_matcher_assignment(assign, nc, NULL, matcher, q),
	                     pi->name)) != MUDSC_OK)
		goto done;
	/* weighted sums over the members of each merged unit, u increasing */
	for (size_t u = 0; u < nc; u++) {
		double wi = w ? w[u / (size_t)pi->width] : 1.0 / n;
		size_t j = (size_t)assign[u];

		tm[j] += wi * mean[u];
		ts[j] += wi * std[u];
		den[j] += wi;
	}
	for (size_t j = 0; j < cw; j++) {
		if (den[j] == 0.0) {
			st = mudsc__err(MUDSC_E_INVALID, "%s: point '%s': the members of merged unit %zu "
			                                "have total weight 0", FN, pi->name, j);
			goto done;
		}
		unit_fix(f, j, tm[j] / den[j], ts[j] / den[j], m, min_std);
	}
done:
	free(mean);
	free(assign);
	return st;
}

/* The corrected copy of tensor t: rows scaled, the shift added. */
static mudsc_status corrected(mudsc_model *dst, const mudsc_tensor *t, const struct fix *f,
                              bool shift)
{
	size_t numel = t->nbytes / mudsc_dtype_size(t->dtype), row = numel / (size_t)f->width;
	double *v = mudsc__alloc((numel ? numel : 1) * sizeof(double), "a repaired tensor");
	void *bytes = mudsc__alloc(t->nbytes ? t->nbytes : 1, "a repaired tensor");
	mudsc_status st;

	if (!v || !bytes) {
		free(v);
		free(bytes);
		return MUDSC_E_NOMEM;
	}
	mudsc__convert_to_f64(t->dtype, t->data, numel, v);
	for (size_t j = 0; j < (size_t)f->width; j++) {
		for (size_t k = 0; k < row; k++)
			v[j * row + k] *= f->scale[j];
		if (shift)
			v[j] += f->shift[j];
	}
	mudsc__convert_from_f64(t->dtype, v, numel, bytes);
	st = mudsc_model_add(dst, t->name, t->dtype, t->rank, t->shape, bytes, MUDSC_COPY);
	free(v);
	free(bytes);
	return st;
}

/* The output model: merged with the producers of the fixed points corrected. */
static mudsc_status build(mudsc_model **out, const mudsc_model *merged, const struct fix *fixes,
                          size_t n_points)
{
	mudsc_model *dst;
	mudsc_status st;

	if ((st = mudsc__correct_copy_start(&dst, merged)) != MUDSC_OK)
		return st;
	for (size_t k = 0; k < mudsc_model_count(merged) && st == MUDSC_OK; k++) {
		mudsc_tensor t;
		const struct fix *f = NULL;
		bool shift = false;

		if ((st = mudsc_model_at(&t, merged, k)) != MUDSC_OK)
			break;
		for (size_t q = 0; q < n_points && !f; q++)
			for (size_t i = 0; fixes[q].on && i < fixes[q].pr.n_scale; i++)
				if (strcmp(fixes[q].pr.scale[i], t.name) == 0) {
					f = &fixes[q];
					shift = strcmp(f->pr.shift, t.name) == 0;
				}
		if (f)
			st = corrected(dst, &t, f, shift);
		else
			st = mudsc_model_add(dst, t.name, t.dtype, t.rank, t.shape, t.data, MUDSC_COPY);
	}
	if (st != MUDSC_OK) {
		mudsc_model_free(dst);
		return st;
	}
	*out = dst;
	return MUDSC_OK;
}

static mudsc_status check_min_std(const mudsc_repair_options *o, const char *fn)
{
	if (!(o->min_std >= 0.0) || !isfinite(o->min_std))
		return mudsc__err(MUDSC_E_INVALID, "%s: opts->min_std = %g (need finite, >= 0)", fn,
		                 o->min_std);
	return MUDSC_OK;
}

static mudsc_status check_args(const mudsc_graph *graph, mudsc_stats *sources, size_t n_points,
                               const double *weights, const mudsc_repair_options *o)
{
	size_t np = mudsc_graph_point_count(graph);
	int32_t n = mudsc_stats_models(sources);

	if (n_points != np)
		return mudsc__err(MUDSC_E_INVALID, "%s: n_points = %zu but graph has %zu points", FN,
		                 n_points, np);
	mudsc_status st = check_min_std(o, FN);

	return st != MUDSC_OK ? st : mudsc__correct_check_weights(weights, n, FN);
}

/* Everything about point q: its merged width, producer, scales and shifts
 * (f->on false when it is skipped). */
static mudsc_status prepare(struct fix *f, const mudsc_matcher *matcher, const mudsc_graph *graph,
                            const mudsc_model *merged, mudsc_stats *sources, size_t q,
                            const mudsc_moments *m, const double *weights, int32_t n,
                            double min_std)
{
	mudsc_point_info pi;
	bool found;
	mudsc_status st;

	if (m->mean == NULL)
		return MUDSC_OK;
	if ((st = mudsc_graph_point_at(&pi, graph, q)) != MUDSC_OK ||
	    (st = inner(mudsc_matcher_point_result(&f->width, NULL, matcher, q), pi.name)) != MUDSC_OK ||
	    (st = check_point_moments(m, q, pi.name, f->width)) != MUDSC_OK ||
	    (st = mudsc__producer_find(&f->pr, &found, graph, q, merged, FN)) != MUDSC_OK)
		return st;
	if (!found) {
		mudsc__log(MUDSC_LOG_INFO, "%s: point '%s' has no single producer (a norm's weight "
		                          "and bias, or one layer's weight and bias): left as merged",
		          FN, pi.name);
		return MUDSC_OK;
	}
	if ((st = check_producer(f, merged, pi.name)) != MUDSC_OK)
		return st;
	f->scale = mudsc__calloc(2 * (size_t)f->width, sizeof(double), "REPAIR scales");
	if (!f->scale)
		return MUDSC_E_NOMEM;
	f->shift = f->scale + f->width;
	f->on = true;
	return point_fix(f, matcher, sources, q, &pi, m, weights, n, min_std);
}

MUDSC_API mudsc_status mudsc_repair(mudsc_model **out, const mudsc_matcher *matcher,
                                    const mudsc_graph *graph, const mudsc_model *merged,
                                    mudsc_stats *sources, const mudsc_moments *merged_stats,
                                    size_t n_points, const double *weights,
                                    const mudsc_repair_options *opts)
{
	mudsc_repair_options o;
	struct fix *fixes;
	mudsc_status st;

	MUDSC__CHECK_NULL(out);
	MUDSC__CHECK_NULL(matcher);
	MUDSC__CHECK_NULL(graph);
	MUDSC__CHECK_NULL(merged);
	MUDSC__CHECK_NULL(sources);
	MUDSC__CHECK_NULL(merged_stats);
	if ((st = mudsc__options_read(&o, opts, MUDSC__OPTIONS_REPAIR, FN)) != MUDSC_OK ||
	    (st = check_args(graph, sources, n_points, weights, &o)) != MUDSC_OK)
		return st;
	if (!(fixes = mudsc__calloc(n_points ? n_points : 1, sizeof *fixes, "REPAIR points")))
		return MUDSC_E_NOMEM;
	int32_t n = mudsc_stats_models(sources);
	for (size_t q = 0; q < n_points && st == MUDSC_OK; q++)
		st = prepare(&fixes[q], matcher, graph, merged, sources, q, &merged_stats[q], weights, n,
		             o.min_std);
	if (st == MUDSC_OK)
		st = build(out, merged, fixes, n_points);
	for (size_t q = 0; q < n_points; q++)
		free(fixes[q].scale);
	free(fixes);
	return st;
}

MUDSC_API mudsc_status mudsc_repair_options_init(mudsc_repair_options *opts)
{
	return mudsc__options_init(opts, MUDSC__OPTIONS_REPAIR, "mudsc_repair_options_init");
}

/* ---- mudsc_repair_layer: a layer whose units correspond by index (17.5) ---- */

static const char LFN[] = "mudsc_repair_layer";

/* weight (rank >= 1) and bias (rank 1) of merged: float, c rows each. */
static mudsc_status check_layer(int64_t *c, const mudsc_model *merged, const char *weight,
                                const char *bias)
{
	const char *names[2] = {weight, bias};

	if (strcmp(weight, bias) == 0)
		return mudsc__err(MUDSC_E_INVALID, "%s: weight and bias are both '%s'", LFN, weight);
	for (int k = 0; k < 2; k++) {
		mudsc_tensor t;

		if (mudsc_model_find(&t, merged, names[k]) != MUDSC_OK)
			return mudsc__err(MUDSC_E_NOT_FOUND, "%s: tensor '%s' (%s) is not in merged", LFN,
			                 names[k], k ? "bias" : "weight");
		if (t.rank < 1 || (k == 1 && t.rank != 1))
			return mudsc__err(MUDSC_E_MISMATCH, "%s: %s '%s' has rank %d (need %s)", LFN,
			                 k ? "bias" : "weight", names[k], (int)t.rank, k ? "1" : ">= 1");
		if (!mudsc_dtype_is_float(t.dtype))
			return mudsc__err(MUDSC_E_UNSUPPORTED, "%s: tensor '%s' is not a float tensor",
			                 LFN, names[k]);
		if (k == 0)
			*c = t.shape[0];
		else if (t.shape[0] != *c)
			return mudsc__err(MUDSC_E_MISMATCH, "%s: bias '%s' has %lld rows, weight '%s' %lld",
			                 LFN, bias, (long long)t.shape[0], weight, (long long)*c);
	}
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_repair_layer(mudsc_model **out, const mudsc_model *merged,
                                          const char *weight, const char *bias,
                                          const mudsc_moments *sources, int32_t n_models,
                                          const mudsc_moments *merged_stats,
                                          const double *weights,
                                          const mudsc_repair_options *opts)
{
	mudsc_repair_options o;
	struct fix f = {0};
	int64_t c = 0;
	mudsc_status st;

	MUDSC__CHECK_NULL(out);
	MUDSC__CHECK_NULL(merged);
	MUDSC__CHECK_NULL(weight);
	MUDSC__CHECK_NULL(bias);
	MUDSC__CHECK_NULL(sources);
	MUDSC__CHECK_NULL(merged_stats);
	if (n_models < 1)
		return mudsc__err(MUDSC_E_INVALID, "%s: n_models = %d (need >= 1)", LFN, (int)n_models);
	if ((st = mudsc__options_read(&o, opts, MUDSC__OPTIONS_REPAIR, LFN)) != MUDSC_OK ||
	    (st = check_min_std(&o, LFN)) != MUDSC_OK ||
	    (st = check_layer(&c, merged, weight, bias)) != MUDSC_OK ||
	    (st = mudsc__correct_check_weights(weights, n_models, LFN)) != MUDSC_OK)
		return st;
	char owner[320];
	snprintf(owner, sizeof owner, "layer '%s' has width", weight);
	double den = 0.0;
	for (int32_t i = 0; i < n_models; i++) {
		if ((st = check_moments(LFN, "sources", &sources[i], (size_t)i, owner, c)) != MUDSC_OK)
			return st;
		den += weights ? weights[i] : 1.0 / n_models;
	}
	if ((st = check_moments(LFN, "merged_stats", merged_stats, 0, owner, c)) != MUDSC_OK)
		return st;
	if (den == 0.0)
		return mudsc__err(MUDSC_E_INVALID, "%s: the weights sum to 0", LFN);
	f.scale = mudsc__calloc(2 * (size_t)(c ? c : 1), sizeof(double), "REPAIR scales");
	if (!f.scale)
		return MUDSC_E_NOMEM;
	f.shift = f.scale + c;
	f.on = true;
	f.width = c;
	f.pr = (struct mudsc__producer){{weight, bias}, 2, bias};
	for (int64_t j = 0; j < c; j++) {
		double tm = 0.0, ts = 0.0;

		for (int32_t i = 0; i < n_models; i++) {
			double wi = weights ? weights[i] : 1.0 / n_models;

			tm += wi * sources[i].mean[j];
			ts += wi * sources[i].std[j];
		}
		unit_fix(&f, (size_t)j, tm / den, ts / den, merged_stats, o.min_std);
	}
	st = build(out, merged, &f, 1);
	free(f.scale);
	return st;
}
