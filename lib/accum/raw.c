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

mudsc_status mudsc__accum_raw_get(mudsc_accum *acc, void *shift, void *sum, void *prod,
                                 int64_t *count, const char *fn)
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
	for (size_t a = 0; a < nc; a++)
		for (size_t b = a; b < nc; b++)
			put(prod, k++, acc->prod[a * nc + b]);
	*count = mudsc__stream_done(acc->stream);
	return MUDSC_OK;
}

static mudsc_status bad(const char *fn, const char *what, const char *rule, size_t u)
{
	return mudsc__err(MUDSC_E_PARSE, "%s: %s: %s (entry %zu)", fn, what, rule, u);
}

/* The checks of mudsc__accum_raw_set(), before anything changes. */
static mudsc_status raw_check(const mudsc_accum *acc, const void *shift, const void *sum,
                              const void *prod, int64_t count, const char *fn, const char *what)
{
	const size_t nc = acc->nc;
	const double n = count > 0 ? (double)count : 1.0;
	size_t k = 0;

	if (count < 0 || count > INT64_MAX / 2)
		return mudsc__err(MUDSC_E_PARSE, "%s: %s: count %" PRId64 " not in [0, %" PRId64 "]",
		                 fn, what, count, INT64_MAX / 2);
	for (size_t u = 0; u < nc; u++) {
		const double s = get(shift, u), s1 = get(sum, u);
		if (!(fabs(s) <= FLT_MAX) || (double)(float)s != s)
			return bad(fn, what, "a shift is not a finite float value", u);
		if (!isfinite(s1))
			return bad(fn, what, "a shifted sum is not finite", u);
		if (count == 0 && (s != 0.0 || s1 != 0.0))
			return bad(fn, what, "count 0 but a shift or a sum is not 0", u);
		if (!(fabs(s + s1 / n) <= MUDSC__ACCUM_MEAN_MAX))
			return bad(fn, what, "a mean is outside the float range the accumulator holds", u);
	}
	for (size_t a = 0; a < nc; a++)
		for (size_t b = a; b < nc; b++, k++) {
			const double p = get(prod, k);
			const double m = p - get(sum, a) * (get(sum, b) / n);
			if (!isfinite(p))
				return bad(fn, what, "a sum of products is not finite", k);
			if (count == 0 && p != 0.0)
				return bad(fn, what, "count 0 but a sum of products is not 0", k);
			if (!(fabs(m) <= MUDSC__ACCUM_M_MAX))
				return bad(fn, what, "a centred sum of products is larger than the sums hold",
				           k);
		}
	return MUDSC_OK;
}

mudsc_status mudsc__accum_raw_set(mudsc_accum *acc, const void *shift, const void *sum,
                                 const void *prod, int64_t count, const char *fn,
                                 const char *what)
{
	const size_t nc = acc->nc;
	size_t k = 0;
	mudsc_status st = raw_check(acc, shift, sum, prod, count, fn, what);

	if (st != MUDSC_OK)
		return st;
	for (size_t u = 0; u < nc; u++) {
		mudsc__stream_set_shift(acc->stream, u, get(shift, u));
		acc->sum[u] = get(sum, u);
	}
	for (size_t a = 0; a < nc; a++)
		for (size_t b = a; b < nc; b++)
			acc->prod[a * nc + b] = get(prod, k++);
	mudsc__stream_set_done(acc->stream, count);
	return MUDSC_OK;
}
