/*
 * The raw state of an accumulator, out and back in: what a statistics
 * set's file stores (lib/stats, docs/stats-format.md).  Unlike the byte
 * format of serialize.c this is the accumulator's own state (shifts,
 * shifted sums, sums of products), so that a save and a load give back
 * the same bits.
 *
 * SPDX-License-Identifier: MIT
 */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "accum/accum.h"

size_t mudsc__accum_packed(const mudsc_accum *acc)
{
	const size_t C = (size_t)acc->width;

	if (acc->mode == MUDSC_STATS_CROSS)
		return (size_t)(acc->n_models - 1) * C * C;
	return acc->nc * (acc->nc + 1) / 2;
}

static void put(void *base, size_t k, double v)
{
	memcpy((unsigned char *)base + k * sizeof v, &v, sizeof v);
}

static double get(const void *base, size_t k)
{
	double v;

	memcpy(&v, (const unsigned char *)base + k * sizeof v, sizeof v);
	return v;
}

void mudsc__accum_raw_of(struct mudsc__accum_raw *r, const mudsc_accum *acc)
{
	*r = (struct mudsc__accum_raw){
		.mode = acc->mode,
		.n_models = acc->n_models,
		.width = acc->width,
		.count = mudsc__stream_done(acc->stream),
		.nc = acc->nc,
		.packed = false,
		.sum = acc->sum,
		.prod = acc->prod,
		.sq = acc->sq,
		.cross = acc->cross,
	};
}

mudsc_status mudsc__accum_raw_get(mudsc_accum *acc, void *shift, void *sum, void *second,
                                 void *third, int64_t *count, const char *fn)
{
	const size_t nc = acc->nc;
	const double *s;
	size_t k = 0;
	mudsc_status st = mudsc__stream_settle(acc->stream, fn);

	if (st != MUDSC_OK)
		return st;
	s = mudsc__stream_shifts(acc->stream);
	for (size_t u = 0; u < nc; u++) {
		put(shift, u, s[u]);
		put(sum, u, acc->sum[u]);
	}
	if (acc->mode == MUDSC_STATS_CROSS) {
		memcpy(second, acc->sq, nc * sizeof *acc->sq);
		if (third != NULL)
			memcpy(third, acc->cross, mudsc__accum_packed(acc) * sizeof *acc->cross);
	} else {
		for (size_t a = 0; a < nc; a++)
			for (size_t b = a; b < nc; b++)
				put(second, k++, acc->prod[a * nc + b]);
	}
	*count = mudsc__stream_done(acc->stream);
	return MUDSC_OK;
}

static mudsc_status bad(const char *fn, const char *what, const char *rule, size_t u)
{
	return mudsc__err(MUDSC_E_PARSE, "%s: %s: %s (entry %zu)", fn, what, rule, u);
}

/* One stored sum of products p of units a and b (the k-th stored entry):
 * finite, 0 without observations, its centred value within M_MAX. */
static mudsc_status check_product(const struct mudsc__accum_raw *r, double p, size_t a, size_t b,
                                  size_t k, double n, const char *fn, const char *what)
{
	const double m = p - get(r->sum, a) * (get(r->sum, b) / n);

	if (!isfinite(p))
		return bad(fn, what, "a sum of products is not finite", k);
	if (r->count == 0 && p != 0.0)
		return bad(fn, what, "count 0 but a sum of products is not 0", k);
	if (!(fabs(m) <= MUDSC__ACCUM_M_MAX))
		return bad(fn, what, "a centred sum of products is larger than the sums hold", k);
	return MUDSC_OK;
}

mudsc_status mudsc__accum_raw_check(const struct mudsc__accum_raw *r, const void *shift,
                                   const char *fn, const char *what)
{
	const size_t nc = r->nc, C = (size_t)r->width;
	const double n = r->count > 0 ? (double)r->count : 1.0;
	size_t k = 0;
	mudsc_status st = MUDSC_OK;

	if (r->count < 0 || r->count > INT64_MAX / 2)
		return mudsc__err(MUDSC_E_PARSE, "%s: %s: count %" PRId64 " not in [0, %" PRId64 "]",
		                 fn, what, r->count, INT64_MAX / 2);
	for (size_t u = 0; u < nc; u++) {
		const double s = get(shift, u), s1 = get(r->sum, u);
		if (!(fabs(s) <= FLT_MAX) || (double)(float)s != s)
			return bad(fn, what, "a shift is not a finite float value", u);
		if (!isfinite(s1))
			return bad(fn, what, "a shifted sum is not finite", u);
		if (r->count == 0 && (s != 0.0 || s1 != 0.0))
			return bad(fn, what, "count 0 but a shift or a sum is not 0", u);
		if (!(fabs(s + s1 / n) <= MUDSC__ACCUM_MEAN_MAX))
			return bad(fn, what, "a mean is outside the float range the accumulator holds", u);
	}
	if (r->mode != MUDSC_STATS_CROSS) {
		for (size_t a = 0; a < nc; a++)
			for (size_t b = a; b < nc && st == MUDSC_OK; b++, k++)
				st = check_product(r, get(r->prod, k), a, b, k, n, fn, what);
		return st;
	}
	for (size_t u = 0; u < nc && st == MUDSC_OK; u++)
		st = check_product(r, get(r->sq, u), u, u, u, n, fn, what);
	for (size_t i = 1; i < (size_t)r->n_models; i++)
		for (size_t a = 0; a < C; a++)
			for (size_t b = 0; b < C && st == MUDSC_OK; b++, k++)
				st = check_product(r, get(r->cross, k), a, i * C + b, nc + k, n, fn, what);
	return st;
}

mudsc_status mudsc__accum_raw_set(mudsc_accum *acc, const void *shift, const void *sum,
                                 const void *second, const void *third, int64_t count,
                                 const char *fn, const char *what)
{
	const size_t nc = acc->nc;
	struct mudsc__accum_raw r;
	size_t k = 0;
	mudsc_status st;

	mudsc__accum_raw_of(&r, acc);
	r.packed = true;
	r.count = count;
	r.sum = sum;
	r.prod = second;
	r.sq = second;
	r.cross = third;
	if ((st = mudsc__accum_raw_check(&r, shift, fn, what)) != MUDSC_OK)
		return st;
	for (size_t u = 0; u < nc; u++) {
		mudsc__stream_set_shift(acc->stream, u, get(shift, u));
		acc->sum[u] = get(sum, u);
	}
	if (acc->mode == MUDSC_STATS_CROSS) {
		memcpy(acc->sq, second, nc * sizeof *acc->sq);
		memcpy(acc->cross, third, mudsc__accum_packed(acc) * sizeof *acc->cross);
	} else {
		for (size_t a = 0; a < nc; a++)
			for (size_t b = a; b < nc; b++)
				acc->prod[a * nc + b] = get(second, k++);
	}
	mudsc__stream_set_done(acc->stream, count);
	return MUDSC_OK;
}
