/*
 * mudsc_accum_merge: the union of two accumulators over disjoint data by
 * Chan's parallel formula, in double.
 *
 * With n = na + nb and d = mean_b - mean_a, the centred sums of products
 * combine as M = Ma + Mb + d d' na nb / n.  Each side's M is read from its
 * shifted sums (M = S2 - S1 S1'/n, stable because S1/n is small), and the
 * result is written back as shifted sums around dst's shifts.
 *
 * SPDX-License-Identifier: MIT
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accum/accum.h"

/* d[u] = mean_b[u] - mean_a[u], taking the shift difference apart so that
 * it does not round against the small shifted means. */
static void mean_difference(const mudsc_accum *a, const mudsc_accum *b, double *d)
{
	const double na = (double)mudsc__stream_done(a->stream);
	const double nb = (double)mudsc__stream_done(b->stream);
	const double *sa = mudsc__stream_shifts(a->stream), *sb = mudsc__stream_shifts(b->stream);

	for (size_t u = 0; u < a->nc; u++)
		d[u] = (sb[u] - sa[u]) + (b->sum[u] / nb - a->sum[u] / na);
}

/* The stored sum of products of units a <= b, a stored pair: every a <= b
 * in the full mode; a == b or a of model 0 and b of model i >= 1 in the
 * cross mode. */
static double *pair(const mudsc_accum *acc, size_t a, size_t b)
{
	const size_t C = (size_t)acc->width;

	if (acc->mode == MUDSC_STATS_CROSS)
		return a == b ? &acc->sq[a] : &acc->cross[((b / C - 1) * C + a) * C + b % C];
	return &acc->prod[a * acc->nc + b];
}

/* f(ctx, a, b) for every stored pair, until one fails. */
static mudsc_status each_pair(const mudsc_accum *acc,
                              mudsc_status (*f)(void *ctx, size_t a, size_t b), void *ctx)
{
	const size_t nc = acc->nc, C = (size_t)acc->width;
	mudsc_status st = MUDSC_OK;

	if (acc->mode != MUDSC_STATS_CROSS) {
		for (size_t a = 0; a < nc; a++)
			for (size_t b = a; b < nc && st == MUDSC_OK; b++)
				st = f(ctx, a, b);
		return st;
	}
	for (size_t u = 0; u < nc && st == MUDSC_OK; u++)
		st = f(ctx, u, u);
	for (size_t b = C; b < nc; b++)
		for (size_t a = 0; a < C && st == MUDSC_OK; a++)
			st = f(ctx, a, b);
	return st;
}

/* The merged centred sum of products M_ab (the formula above). */
static double merged_m2(const mudsc_accum *dst, const mudsc_accum *src, const double *d,
                        size_t a, size_t b, double na, double nb)
{
	const double ma = dst->sum[a] / na, mb = src->sum[a] / nb;
	const double mab = dst->sum[b] / na, mbb = src->sum[b] / nb;

	return (*pair(dst, a, b) - na * ma * mab) + (*pair(src, a, b) - nb * mb * mbb) +
	       d[a] * d[b] * (na * nb / (na + nb));
}

/* New S1/n of unit a relative to dst's shift: old mean offset plus d * nb / n. */
static double merged_offset(const mudsc_accum *dst, const double *d, size_t a, double na,
                            double nb)
{
	return dst->sum[a] / na + d[a] * nb / (na + nb);
}

struct merge_job {
	mudsc_accum *dst;
	const mudsc_accum *src;
	const double *d;
	double na, nb;
	const char *fn;
};

static mudsc_status check_pair(void *arg, size_t a, size_t b)
{
	const struct merge_job *j = arg;
	const size_t C = (size_t)j->dst->width;
	const double m2 = merged_m2(j->dst, j->src, j->d, a, b, j->na, j->nb);

	if (!(fabs(m2) <= MUDSC__ACCUM_M_MAX))
		return mudsc__err(MUDSC_E_NUMERIC,
		                 "%s: the merged sum of products of model %zu, "
		                 "feature %zu and model %zu, feature %zu (%g) is larger than %g, "
		                 "which the sums hold",
		                 j->fn, a / C, a % C, b / C, b % C, m2, MUDSC__ACCUM_M_MAX);
	return MUDSC_OK;
}

/* MUDSC_E_NUMERIC unless every merged mean and centred sum of products is
 * within what the sums hold (accum/accum.h): checked before anything of
 * dst changes. */
static mudsc_status merge_check(mudsc_accum *dst, const mudsc_accum *src, const double *d,
                                const char *fn)
{
	const size_t nc = dst->nc, C = (size_t)dst->width;
	struct merge_job j = {dst, src, d, (double)mudsc__stream_done(dst->stream),
	                      (double)mudsc__stream_done(src->stream), fn};
	const double *shift = mudsc__stream_shifts(dst->stream);

	for (size_t a = 0; a < nc; a++) {
		const double mu = shift[a] + merged_offset(dst, d, a, j.na, j.nb);
		if (!(fabs(mu) <= MUDSC__ACCUM_MEAN_MAX))
			return mudsc__err(MUDSC_E_NUMERIC,
			                 "%s: the merged mean of model %zu, feature %zu (%g) "
			                 "is outside the float range the accumulator holds",
			                 fn, a / C, a % C, mu);
	}
	return each_pair(dst, check_pair, &j);
}

static mudsc_status merge_pair(void *arg, size_t a, size_t b)
{
	const struct merge_job *j = arg;
	const double n = j->na + j->nb;
	const double m2 = merged_m2(j->dst, j->src, j->d, a, b, j->na, j->nb);

	*pair(j->dst, a, b) = m2 + n * merged_offset(j->dst, j->d, a, j->na, j->nb) *
	                                merged_offset(j->dst, j->d, b, j->na, j->nb);
	return MUDSC_OK;
}

static void merge_into(mudsc_accum *dst, const mudsc_accum *src, const double *d)
{
	const size_t nc = dst->nc;
	struct merge_job j = {dst, src, d, (double)mudsc__stream_done(dst->stream),
	                      (double)mudsc__stream_done(src->stream), "merge"};
	const double n = j.na + j.nb;

	each_pair(dst, merge_pair, &j);
	/* sums after the products: the loop above reads the old ones */
	for (size_t a = 0; a < nc; a++)
		dst->sum[a] = n * merged_offset(dst, d, a, j.na, j.nb);
}

/* dst takes src's shifts (float values: set again unchanged) and sums. */
static void copy_state(mudsc_accum *dst, const mudsc_accum *src)
{
	const size_t nc = dst->nc;
	const double *shift = mudsc__stream_shifts(src->stream);

	for (size_t u = 0; u < nc; u++)
		mudsc__stream_set_shift(dst->stream, u, shift[u]);
	memcpy(dst->sum, src->sum, nc * sizeof *dst->sum);
	if (dst->mode == MUDSC_STATS_CROSS) {
		memcpy(dst->sq, src->sq, nc * sizeof *dst->sq);
		memcpy(dst->cross, src->cross, mudsc__accum_packed(dst) * sizeof *dst->cross);
	} else {
		memcpy(dst->prod, src->prod, nc * nc * sizeof *dst->prod);
	}
}

mudsc_status mudsc__accum_merge_check(mudsc_accum *dst, mudsc_accum *src, double *work,
                                     const char *fn)
{
	char what[96];
	int64_t n_src, n_dst;
	mudsc_status st;

	if (dst == src)
		return mudsc__err(MUDSC_E_INVALID, "%s: 'dst' and 'src' are the same", fn);
	if (dst->n_models != src->n_models || dst->width != src->width)
		return mudsc__err(MUDSC_E_MISMATCH, "%s: dst has %d models x width %lld, src %d x %lld",
		                 fn, (int)dst->n_models, (long long)dst->width, (int)src->n_models,
		                 (long long)src->width);
	if (dst->mode != src->mode)
		return mudsc__err(MUDSC_E_MISMATCH,
		                 "%s: dst keeps %s statistics, src %s (opts->mode): they do not merge", fn,
		                 dst->mode == MUDSC_STATS_CROSS ? "cross-block" : "full",
		                 src->mode == MUDSC_STATS_CROSS ? "cross-block" : "full");
	snprintf(what, sizeof what, "%s (src)", fn);
	if ((st = mudsc__stream_settle(src->stream, what)) != MUDSC_OK)
		return st;
	snprintf(what, sizeof what, "%s (dst)", fn);
	if ((st = mudsc__stream_settle(dst->stream, what)) != MUDSC_OK)
		return st;
	n_src = mudsc__stream_done(src->stream);
	n_dst = mudsc__stream_done(dst->stream);
	if (n_src == 0 || n_dst == 0)
		return MUDSC_OK;
	if (n_src > INT64_MAX / 2 - n_dst)
		return mudsc__err(MUDSC_E_RANGE,
		                 "%s: %" PRId64 " + %" PRId64
		                 " observations: the merged count would pass %" PRId64,
		                 fn, n_dst, n_src, INT64_MAX / 2);
	mean_difference(dst, src, work);
	return merge_check(dst, src, work, fn);
}

void mudsc__accum_merge_apply(mudsc_accum *dst, const mudsc_accum *src, double *work)
{
	const int64_t n_src = mudsc__stream_done(src->stream);
	const int64_t n_dst = mudsc__stream_done(dst->stream);

	if (n_src == 0)
		return;
	if (n_dst == 0) {
		copy_state(dst, src);
	} else {
		mean_difference(dst, src, work);
		merge_into(dst, src, work);
	}
	mudsc__stream_set_done(dst->stream, n_dst + n_src);
}

MUDSC_API mudsc_status mudsc_accum_merge(mudsc_accum *dst, mudsc_accum *src)
{
	mudsc_status st;
	double *d;

	MUDSC__CHECK_NULL(dst);
	MUDSC__CHECK_NULL(src);
	d = mudsc__calloc(dst->nc, sizeof *d, "merge differences");
	if (d == NULL)
		return MUDSC_E_NOMEM;
	st = mudsc__accum_merge_check(dst, src, d, "mudsc_accum_merge");
	if (st == MUDSC_OK)
		mudsc__accum_merge_apply(dst, src, d);
	free(d);
	return st;
}
