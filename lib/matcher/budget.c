/*
 * The matcher's memory budget: the figures of budget.h, term by term as
 * loop.c, weight_sim*.c, match_point.c, the kernels and merge_apply.c
 * allocate them.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/core.h"
#include "matcher/budget.h"
#include "matcher/weight_sim_align.h"
#include "model/model.h"

#define D8 8.0 /* bytes of a double or an int64 */

static double dmax(double a, double b)
{
	return a > b ? a : b;
}

static double dmin(double a, double b)
{
	return a < b ? a : b;
}

/* The merged width C' of point p under o (align: C; zip: G * floor(n(1-r))
 * with n = N*C/G, at least 1). */
static double merged_width(const struct mudsc__plan *plan, size_t p,
                           const mudsc_matcher_options *o)
{
	const struct plan_point *pt = &plan->points[p];
	double C = (double)pt->width, G = o->use_groups ? (double)pt->groups : 1.0;
	double n = (double)plan->n_models * C / G;
	if (o->method == MUDSC_METHOD_ALIGN)
		return C;
	return G * dmax(1.0, floor(n * (1.0 - o->zip_r)));
}

/* A plan tensor's elements with each bound axis at max(C, C') (`keep` left
 * at its length): an upper bound of every stage the feature and merge code
 * passes through. */
static double widest_stage(const struct plan_tensor *t, const double *Cp, int32_t keep)
{
	double n = 1.0;
	for (int32_t d = 0; d < t->rank; d++) {
		double len = (double)t->shape[d];
		if (d != keep && t->point[d] >= 0)
			len = dmax(len, Cp[t->point[d]]);
		n *= len;
	}
	return n;
}

/* The plan tensor's elements with every bound axis at C'. */
static double merged_numel(const struct plan_tensor *t, const double *Cp)
{
	double n = 1.0;
	for (int32_t d = 0; d < t->rank; d++)
		n *= t->point[d] >= 0 ? Cp[t->point[d]] : (double)t->shape[d];
	return n;
}

/* Point p's matching: the kernels' workspace (one point at a time). */
static double match_cost(const struct mudsc__plan *plan, size_t p, const mudsc_matcher_options *o,
                         double threads)
{
	double N = (double)plan->n_models, C = (double)plan->points[p].width, NC = N * C;
	double G = o->use_groups ? (double)plan->points[p].groups : 1.0;
	double block = G > 1.0 ? (G * G + G * C + G + C) * D8 : 0.0; /* block assignment */
	double corr = 3.0 * NC * D8;                                 /* the new correspondence */

	if (o->method == MUDSC_METHOD_ZIP) {
		double n = NC / G;
		return corr + n * n * D8 + 12.0 * n * D8 + 3.0 * NC * D8 + block;
	}
	/* align: the permutations, and per concurrent model a LAP workspace */
	double lap = (C / G) * (8.0 * D8 + 1.0);
	return corr + 2.0 * NC * D8 + dmin(threads, N - 1.0) * (lap + block);
}

/* Floats of float32 align's largest chunk of unit rows: the chunks of
 * weight_sim_align.c (chunk_end: features in binding order while N C x
 * columns stays within mudsc__wsim_chunk_floats; a larger tensor in blocks
 * of max(1, chunk / NC) columns, its last block joined by what follows). */
static double largest_chunk(const struct mudsc__plan *plan, size_t p, const double *Cp)
{
	const struct plan_point *pt = &plan->points[p];
	double NC = (double)plan->n_models * (double)pt->width, cols = 0.0, most = 0.0;
	double block = dmax(1.0, floor((double)mudsc__wsim_chunk_floats / NC));

	for (size_t f = 0; f < pt->nfeatures; f++) {
		const struct plan_tensor *t = &plan->tensors[pt->features[f].tensor];
		double c = widest_stage(t, Cp, pt->features[f].axis) / (double)pt->width;
		while (c > 0.0) {
			if (cols + c <= block) {
				cols += c;
				c = 0.0;
			} else if (cols == 0.0) { /* a block of this tensor's columns alone */
				most = dmax(most, block);
				c -= block;
			} else { /* the chunk ends before this tensor */
				most = dmax(most, cols);
				cols = 0.0;
			}
		}
	}
	return dmax(most, cols) * NC;
}

/* Bytes of the stage buffer one worker building float32 unit rows touches
 * for tensor t (weight_sim.c units_scratch): a part's float64 copy, a
 * 16-bit tensor's float span (at most mudsc__wsim_span_floats), nothing for
 * whole F32 / F64 tensors (read in place). */
static double units_stage(const struct plan_tensor *t, double numel)
{
	bool whole = t->part < 0;
	if (whole && (t->dtype == MUDSC_DTYPE_F32 || t->dtype == MUDSC_DTYPE_F64))
		return 0.0;
	if (whole && (t->dtype == MUDSC_DTYPE_F16 || t->dtype == MUDSC_DTYPE_BF16))
		return 4.0 * dmin(numel, (double)mudsc__wsim_span_floats);
	return numel * D8;
}

/* Point p's weight features: F (NC x D), the two stage buffers, and for
 * zip the similarity's own copy of F (align centres F in place).  Float32
 * align builds no F: its unit rows a chunk of tensors at a time and one
 * stage buffer. */
static double feature_cost(const struct mudsc__plan *plan, size_t p, const double *Cp,
                           const mudsc_matcher_options *o, double *F_out, double *stage_out)
{
	const struct plan_point *pt = &plan->points[p];
	double D = 0.0, stage = 0.0, units = 0.0, NC = (double)plan->n_models * (double)pt->width;
	double C = (double)pt->width;

	for (size_t f = 0; f < pt->nfeatures; f++) {
		const struct plan_tensor *t = &plan->tensors[pt->features[f].tensor];
		D += widest_stage(t, Cp, pt->features[f].axis) / (double)pt->width;
		stage = dmax(stage, widest_stage(t, Cp, -1));
		units = dmax(units, units_stage(t, widest_stage(t, Cp, -1)));
	}
	*F_out = NC * D * D8;
	*stage_out = 2.0 * stage * D8;
	if (o->weight_precision == MUDSC_PRECISION_F32 && o->method == MUDSC_METHOD_ALIGN) {
		/* the chunk's unit rows and a block of products */
		*F_out = 0.0;
		*stage_out = units;
		return largest_chunk(plan, p, Cp) * 4.0 + dmin(C, 512.0) * C * 4.0;
	}
	/* zip: the similarity's copy of F (float64), or in float32 its unit rows,
	 * a block of 512 rows of products and three row statistics */
	double f32 = NC * D * 4.0 + 512.0 * NC * 4.0 + 3.0 * NC * D8;
	if (o->method == MUDSC_METHOD_ZIP)
		return dmax(NC * D * D8 + NC * D8, o->weight_precision == MUDSC_PRECISION_F32 ? f32 : 0.0);
	return 0.0;
}

/* merge() / transform(): per task the double result, three stage buffers,
 * the scales and counts and the result's bytes; the results held until
 * assembled and the assembled copy. */
static double merge_cost(const struct mudsc__plan *plan, const double *Cp,
                         const mudsc_model *model0, double threads)
{
	double task = 0.0, out = 0.0, units = 1.0, members = 1.0;

	for (size_t q = 0; q < plan->npoints; q++) {
		units = dmax(units, (double)plan->points[q].width);
		members = dmax(members, (double)plan->n_models * Cp[q]);
	}
	for (size_t k = 0; k < model0->count; k++) {
		const struct model_tensor *t = &model0->tensors[k];
		double n = (double)(t->nbytes / mudsc_dtype_size(t->dtype));
		/* as an unbound float tensor: two double copies and its bytes */
		task = dmax(task, 2.0 * n * D8 + (double)t->nbytes);
		out += (double)t->nbytes;
	}
	for (size_t k = 0; k < plan->ntensors;) {
		const struct plan_tensor *t0 = &plan->tensors[k];
		size_t parts = t0->part < 0 ? 1 : (size_t)t0->nparts;
		double whole = 0.0, stage = 0.0, size = (double)mudsc_dtype_size(t0->dtype);
		double before = 1.0;
		for (int32_t d = 0; d < t0->rank; d++)
			before *= (double)t0->whole_shape[d];
		for (size_t j = 0; j < parts && k + j < plan->ntensors; j++) {
			whole += merged_numel(&plan->tensors[k + j], Cp);
			stage = dmax(stage, widest_stage(&plan->tensors[k + j], Cp, -1));
		}
		task = dmax(task, whole * (D8 + size) + 3.0 * stage * D8 + (units + members) * D8);
		out += (whole - before) * size;
		k += parts;
	}
	return 2.0 * dmax(out, 0.0) + dmin(threads, dmax(1.0, (double)model0->count)) * task;
}

void mudsc__budget_estimate(struct mudsc__budget *b, const struct mudsc__plan *plan,
                           const mudsc_matcher_options *o, const mudsc_model *model0,
                           int32_t threads)
{
	const double N = (double)plan->n_models, T = (double)(threads > 0 ? threads : 1);
	double *Cp = malloc((plan->npoints + 1) * sizeof *Cp);
	double corr = 0.0, caches = 0.0, caches_linear = 0.0, match = 0.0, F = 0.0, stage = 0.0, copy = 0.0;
	double nc = 1.0;
	bool align = o->method == MUDSC_METHOD_ALIGN;

	*b = (struct mudsc__budget){0};
	if (Cp == NULL) { /* the figures are then the quadratic terms alone */
		for (size_t p = 0; p < plan->npoints; p++)
			nc = dmax(nc, N * (double)plan->points[p].width);
		b->widest = nc * nc * D8;
		b->sim = align ? (N - 1.0) * (nc / N) * (nc / N) * D8 : b->widest;
		b->run = b->run_acts = b->run_demand = b->merge = b->sim;
		return;
	}
	for (size_t p = 0; p < plan->npoints; p++)
		Cp[p] = merged_width(plan, p, o);
	for (size_t p = 0; p < plan->npoints; p++) {
		double C = (double)plan->points[p].width, NCp = N * C, f, s, c;
		if (NCp >= nc) {
			nc = NCp;
			b->wide_point = p;
		}
		corr += 3.0 * NCp * D8;
		b->acts += NCp * NCp * D8;
		if (align)
			caches += ((N - 1.0) * C * C + 2.0 * NCp) * D8, caches_linear += 2.0 * NCp * D8;
		match = dmax(match, match_cost(plan, p, o, T));
		c = feature_cost(plan, p, Cp, o, &f, &s);
		F = dmax(F, f);
		stage = dmax(stage, s * dmin(T, N)); /* one scratch per worker building features */
		copy = dmax(copy, c);
	}
	/* the figures count the widest point's cross blocks; align keeps the
	 * others' too when they are small and the budget has room for them
	 * (budget.h, weight_sim_align.h) */
	if (align) {
		double widest_only = ((N - 1.0) * (nc / N) * (nc / N)) * D8 + caches_linear;
		b->keep_rule = mudsc__wsim_keep_caches(plan);
		b->cache_extra = dmax(caches - widest_only, 0.0);
		caches = widest_only;
	}
	b->widest = nc * nc * D8;
	/* one similarity in the method's layout: align holds only the anchor
	 * blocks, (N-1) C^2 of the widest point (weight_sim_align.h) */
	b->sim = align ? (N - 1.0) * (nc / N) * (nc / N) * D8 : b->widest;
	/* the results kept from a previous run, the working and best sets */
	double results = 3.0 * corr + (double)o->max_iter * D8;
	/* S_w and its features; align's S_w is its cached cross blocks */
	double weights = (align ? 0.0 : b->widest) + F + stage + copy + caches;
	b->merge = corr + merge_cost(plan, Cp, model0, T);
	b->run = results + weights + match;
	/* with activations: their copies (align: and one point's anchor blocks
	 * of them), and S beside S_w unless alpha = 0 */
	b->run_acts = b->acts + (align ? b->sim : 0.0) + results + match +
	              (o->alpha > 0.0 ? weights + b->sim : 0.0);
	/* on demand: one point's S_a at a time instead of every point's */
	b->run_demand = b->sim + results + match + (o->alpha > 0.0 ? weights + b->sim : 0.0);
	free(Cp);
}

bool mudsc__budget_keep_caches(const struct mudsc__budget *b, double need,
                               const mudsc_matcher_options *o)
{
	return b->keep_rule && (o->max_memory == 0 || need + b->cache_extra <= (double)o->max_memory);
}

mudsc_status mudsc__budget_check(const struct mudsc__budget *b, double need, const char *what,
                                const struct mudsc__plan *plan, const mudsc_matcher_options *o,
                                const char *fn)
{
	const struct plan_point *wide;
	char others[128] = "";

	if (o->max_memory == 0 || need <= (double)o->max_memory)
		return MUDSC_OK;
	wide = &plan->points[b->wide_point];
	if (b->keep_rule && b->cache_extra > 0.0)
		snprintf(others, sizeof others,
		         "; keeping the other points' cross blocks, when the budget has room, takes "
		         "%.0f bytes more",
		         b->cache_extra);
	return mudsc__err(MUDSC_E_NOMEM,
	                 "%s: %s would allocate about %.0f bytes (%.3g GB; the widest point '%s' "
	                 "has N*C = %lld units, one similarity (%s) is %.3g GB%s), over the memory "
	                 "budget opts->max_memory = %lld bytes (%.3g GB): raise it"
	                 ", or set it to 0 for no limit",
	                 fn, what, need, need / 1e9, wide->name,
	                 (long long)plan->n_models * (long long)wide->width,
	                 o->method == MUDSC_METHOD_ALIGN ? "align's (N-1) x C x C anchor blocks"
	                                                 : "N*C x N*C",
	                 b->sim / 1e9, others,
	                 (long long)o->max_memory, (double)o->max_memory / 1e9);
}
