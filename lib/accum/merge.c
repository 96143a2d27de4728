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

static void merge_into(mudsc_accum *dst, const mudsc_accum *src, double *d)
{
	const size_t nc = dst->nc;
	const double na = (double)mudsc__stream_done(dst->stream);
	const double nb = (double)mudsc__stream_done(src->stream), n = na + nb;
	const double w = na * nb / n;

	mean_difference(dst, src, d);
	for (size_t a = 0; a < nc; a++) {
		/* new S1/n relative to dst's shift: old mean offset plus d * nb / n */
		const double ma = dst->sum[a] / na, mb = src->sum[a] / nb;
		const double ra = ma + d[a] * nb / n;
		for (size_t b = a; b < nc; b++) {
			const double mab = dst->sum[b] / na, mbb = src->sum[b] / nb;
			const double rb = mab + d[b] * nb / n;
			const double m2 = (dst->prod[a * nc + b] - na * ma * mab) +
			                  (src->prod[a * nc + b] - nb * mb * mbb) + d[a] * d[b] * w;
			dst->prod[a * nc + b] = m2 + n * ra * rb;
		}
	}
	/* sums after the products: the loop above reads the old ones */
	for (size_t a = 0; a < nc; a++)
		dst->sum[a] = n * (dst->sum[a] / na + d[a] * nb / n);
}

/* dst takes src's shifts (float values: set again unchanged) and sums. */
static void copy_state(mudsc_accum *dst, const mudsc_accum *src)
{
	const size_t nc = dst->nc;
	const double *shift = mudsc__stream_shifts(src->stream);

	for (size_t u = 0; u < nc; u++)
		mudsc__stream_set_shift(dst->stream, u, shift[u]);
	memcpy(dst->sum, src->sum, nc * sizeof *dst->sum);
	memcpy(dst->prod, src->prod, nc * nc * sizeof *dst->prod);
}

MUDSC_API mudsc_status mudsc_accum_merge(mudsc_accum *dst, mudsc_accum *src)
{
	int64_t n_src, n_dst;
	mudsc_status st;
	double *d;

	MUDSC__CHECK_NULL(dst);
	MUDSC__CHECK_NULL(src);
	if (dst == src)
		return mudsc__err(MUDSC_E_INVALID, "mudsc_accum_merge: 'dst' and 'src' are the same");
	if (dst->n_models != src->n_models || dst->width != src->width)
		return mudsc__err(MUDSC_E_MISMATCH,
		                 "mudsc_accum_merge: dst has %d models x width %lld, src %d x %lld",
		                 (int)dst->n_models, (long long)dst->width, (int)src->n_models,
		                 (long long)src->width);
	if ((st = mudsc__stream_settle(src->stream, "mudsc_accum_merge (src)")) != MUDSC_OK ||
	    (st = mudsc__stream_settle(dst->stream, "mudsc_accum_merge (dst)")) != MUDSC_OK)
		return st;
	n_src = mudsc__stream_done(src->stream);
	n_dst = mudsc__stream_done(dst->stream);
	if (n_src == 0)
		return MUDSC_OK;
	if (n_dst == 0) {
		copy_state(dst, src);
	} else {
		d = mudsc__calloc(dst->nc, sizeof *d, "merge differences");
		if (d == NULL)
			return MUDSC_E_NOMEM;
		merge_into(dst, src, d);
		free(d);
	}
	mudsc__stream_set_done(dst->stream, n_dst + n_src);
	return MUDSC_OK;
}
