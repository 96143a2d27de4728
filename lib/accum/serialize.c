/*
 * mudsc_accum_serialize / _deserialize: the versioned little-endian byte
 * format documented in include/mudsc/accum.h.  The stored statistics are
 * implementation-neutral (count, means, centred sums of products), not the
 * accumulator's internal shifted sums.
 *
 * SPDX-License-Identifier: MIT
 */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "accum/accum.h"

#define ACCUM_MAGIC "MUDSCACC"
#define ACCUM_VERSION 1u
#define ACCUM_HEADER 40u

static void put_u64(unsigned char *p, uint64_t v)
{
	for (int k = 0; k < 8; k++)
		p[k] = (unsigned char)(v >> (8 * k));
}

static uint64_t get_u64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int k = 7; k >= 0; k--)
		v = (v << 8) | p[k];
	return v;
}

static void put_u32(unsigned char *p, uint32_t v)
{
	for (int k = 0; k < 4; k++)
		p[k] = (unsigned char)(v >> (8 * k));
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_f64(unsigned char *p, double d)
{
	uint64_t v;

	memcpy(&v, &d, 8);
	put_u64(p, v);
}

static double get_f64(const unsigned char *p)
{
	uint64_t v = get_u64(p);
	double d;

	memcpy(&d, &v, 8);
	return d;
}

#define ACCUM_FLAG_CROSS 1u

/* Total size for N models of width C (N C <= INT32_MAX); false on overflow. */
static bool serialized_size(uint64_t N, uint64_t C, bool cross, size_t *out)
{
	const uint64_t nc = N * C;
	size_t tri, body;

	if (cross) /* NC means, NC squares, (N-1) C^2 cross sums: below 2^93 */
		return mudsc__mul_size((size_t)C, (size_t)C, &tri) &&
		       mudsc__mul_size(tri, (size_t)(N - 1), &tri) &&
		       mudsc__add_size(tri, 2 * (size_t)nc, &body) && mudsc__mul_size(body, 8, &body) &&
		       mudsc__add_size(body, ACCUM_HEADER + 8, out);
	if (nc > SIZE_MAX / 16 || !mudsc__mul_size((size_t)nc, (size_t)nc + 1, &tri))
		return false;
	tri /= 2;
	return mudsc__add_size((size_t)nc, tri, &body) && mudsc__mul_size(body, 8, &body) &&
	       mudsc__add_size(body, ACCUM_HEADER + 8, out);
}

/* The centred sum of products of a stored pair a <= b over n (M = S2 - S1 S1'/n). */
static double centred(const mudsc_accum *acc, double s2, size_t a, size_t b, double n)
{
	double m = s2 - acc->sum[a] * (acc->sum[b] / n);
	/* a constant feature's variance may round to -tiny: store 0 */
	return a == b ? fmax(m, 0.0) : m;
}

MUDSC_API mudsc_status mudsc_accum_serialize(void **out_buf, size_t *out_len, mudsc_accum *accum)
{
	unsigned char *buf, *p;
	const double *shift;
	size_t len, nc;
	int64_t done;
	double n;
	mudsc_status st;

	MUDSC__CHECK_NULL(accum);
	MUDSC__CHECK_NULL(out_buf);
	MUDSC__CHECK_NULL(out_len);
	st = mudsc__stream_settle(accum->stream, "mudsc_accum_serialize");
	if (st != MUDSC_OK)
		return st;
	nc = accum->nc;
	done = mudsc__stream_done(accum->stream);
	shift = mudsc__stream_shifts(accum->stream);
	if (!serialized_size((uint64_t)accum->n_models, (uint64_t)accum->width,
	                     accum->mode == MUDSC_STATS_CROSS, &len))
		return mudsc__err(MUDSC_E_NOMEM, "mudsc_accum_serialize: size overflows");
	buf = mudsc__alloc(len, "serialized accumulator");
	if (buf == NULL)
		return MUDSC_E_NOMEM;
	memcpy(buf, ACCUM_MAGIC, 8);
	put_u32(buf + 8, ACCUM_VERSION);
	put_u32(buf + 12, accum->mode == MUDSC_STATS_CROSS ? ACCUM_FLAG_CROSS : 0u);
	put_u64(buf + 16, (uint64_t)accum->n_models);
	put_u64(buf + 24, (uint64_t)accum->width);
	put_u64(buf + 32, (uint64_t)done);
	p = buf + ACCUM_HEADER;
	n = done ? (double)done : 1.0;
	/* means: the values' (within the float range) are; rounding may take
	 * one a few ulps past it, clamping takes it back (MUDSC__ACCUM_MEAN_MAX) */
	for (size_t u = 0; u < nc; u++, p += 8)
		put_f64(p, done ? fmin(fmax(shift[u] + accum->sum[u] / n, -FLT_MAX), FLT_MAX) : 0.0);
	if (accum->mode == MUDSC_STATS_CROSS) {
		const size_t C = (size_t)accum->width;
		for (size_t u = 0; u < nc; u++, p += 8)
			put_f64(p, centred(accum, accum->sq[u], u, u, n));
		for (size_t i = 1; i < (size_t)accum->n_models; i++)
			for (size_t a = 0; a < C; a++)
				for (size_t b = 0; b < C; b++, p += 8)
					put_f64(p, centred(accum, accum->cross[((i - 1) * C + a) * C + b], a,
					                   i * C + b, n));
	} else {
		for (size_t a = 0; a < nc; a++)
			for (size_t b = a; b < nc; b++, p += 8)
				put_f64(p, centred(accum, accum->prod[a * nc + b], a, b, n));
	}
	put_u64(p, mudsc__fnv1a(buf, (size_t)(p - buf)));
	*out_buf = buf;
	*out_len = len;
	return MUDSC_OK;
}

static mudsc_status parse_error(const char *rule)
{
	return mudsc__err(MUDSC_E_PARSE, "mudsc_accum_deserialize: argument 'buf': %s", rule);
}

/* Header checks; fills n_models, width, count and the mode. */
static mudsc_status check_header(const unsigned char *b, size_t len, int32_t *n_models,
                                 int64_t *width, int64_t *count, int32_t *mode)
{
	uint64_t N, C, n;
	size_t want = 0;

	if (len < ACCUM_HEADER + 8)
		return mudsc__err(MUDSC_E_PARSE,
		                 "mudsc_accum_deserialize: argument 'len' = %zu is shorter than the "
		                 "%u-byte header",
		                 len, ACCUM_HEADER + 8);
	if (memcmp(b, ACCUM_MAGIC, 8) != 0)
		return parse_error("bad magic (not a serialized mudsc_accum)");
	if (get_u32(b + 8) != ACCUM_VERSION)
		return mudsc__err(MUDSC_E_PARSE,
		                 "mudsc_accum_deserialize: format version %" PRIu32
		                 " is not supported (this library reads version %u)",
		                 get_u32(b + 8), ACCUM_VERSION);
	if ((get_u32(b + 12) & ~ACCUM_FLAG_CROSS) != 0)
		return parse_error("unknown flags");
	*mode = get_u32(b + 12) & ACCUM_FLAG_CROSS ? MUDSC_STATS_CROSS : MUDSC_STATS_FULL;
	N = get_u64(b + 16);
	C = get_u64(b + 24);
	n = get_u64(b + 32);
	if (N < 2 || N > INT32_MAX)
		return mudsc__err(MUDSC_E_PARSE, "mudsc_accum_deserialize: N = %" PRIu64 " not >= 2", N);
	if (C < 1 || C > INT32_MAX || N * C > INT32_MAX)
		return mudsc__err(MUDSC_E_PARSE, "mudsc_accum_deserialize: C = %" PRIu64 " out of range",
		                 C);
	if (n > INT64_MAX / 2)
		return parse_error("observation count out of range");
	if (!serialized_size(N, C, *mode == MUDSC_STATS_CROSS, &want) || want != len)
		return mudsc__err(MUDSC_E_PARSE,
		                 "mudsc_accum_deserialize: argument 'len' = %zu, N = %" PRIu64
		                 " and C = %" PRIu64 " need %zu bytes",
		                 len, N, C, want);
	if (get_u64(b + len - 8) != mudsc__fnv1a(b, len - 8))
		return parse_error("hash mismatch (corrupt bytes)");
	*n_models = (int32_t)N;
	*width = (int64_t)C;
	*count = (int64_t)n;
	return MUDSC_OK;
}

/* One centred sum of products v of units a <= b. */
static mudsc_status check_m(double v, size_t a, size_t c, int64_t count)
{
	if (!isfinite(v))
		return parse_error("a sum of products is not finite");
	if (a == c && v < 0.0)
		return parse_error("a variance is negative");
	if (fabs(v) > MUDSC__ACCUM_M_MAX)
		return mudsc__err(MUDSC_E_PARSE,
		                 "mudsc_accum_deserialize: argument 'buf': sum of products "
		                 "(%zu, %zu) = %g is larger than %g, which the sums hold",
		                 a, c, v, MUDSC__ACCUM_M_MAX);
	if (count == 0 && v != 0.0)
		return parse_error("n = 0 but a sum of products is not 0");
	return MUDSC_OK;
}

/* Values: finite means and products within what the sums hold
 * (accum/accum.h), non-negative variances, all 0 when n = 0. */
static mudsc_status check_values(const unsigned char *b, int32_t N, int64_t C, int32_t mode,
                                 int64_t count)
{
	const size_t nc = (size_t)N * (size_t)C;
	const unsigned char *p = b + ACCUM_HEADER;
	mudsc_status st = MUDSC_OK;

	for (size_t u = 0; u < nc; u++, p += 8) {
		const double mu = get_f64(p);
		if (!isfinite(mu))
			return parse_error("a mean is not finite");
		if (fabs(mu) > MUDSC__ACCUM_MEAN_MAX)
			return mudsc__err(MUDSC_E_PARSE,
			                 "mudsc_accum_deserialize: argument 'buf': mean %zu = %g is outside "
			                 "the float range the accumulator holds",
			                 u, mu);
		if (count == 0 && mu != 0.0)
			return parse_error("n = 0 but a mean is not 0");
	}
	if (mode == MUDSC_STATS_CROSS) {
		for (size_t u = 0; u < nc && st == MUDSC_OK; u++, p += 8)
			st = check_m(get_f64(p), u, u, count);
		for (size_t i = 1; i < (size_t)N; i++)
			for (size_t a = 0; a < (size_t)C; a++)
				for (size_t c = 0; c < (size_t)C && st == MUDSC_OK; c++, p += 8)
					st = check_m(get_f64(p), a, i * (size_t)C + c, count);
		return st;
	}
	for (size_t a = 0; a < nc; a++)
		for (size_t c = a; c < nc && st == MUDSC_OK; c++, p += 8)
			st = check_m(get_f64(p), a, c, count);
	return st;
}

static void load_state(mudsc_accum *acc, const unsigned char *b, int64_t count)
{
	const size_t nc = acc->nc;
	const unsigned char *p = b + ACCUM_HEADER;
	const double *shift = mudsc__stream_shifts(acc->stream);
	const double n = count > 0 ? (double)count : 1.0;

	/* shifts: the means rounded to float (the accumulator's invariant);
	 * S1 = n (mu - s) and S2 = M + S1 S1' / n around them */
	for (size_t u = 0; u < nc; u++, p += 8) {
		const double mu = get_f64(p);
		mudsc__stream_set_shift(acc->stream, u, mu);
		acc->sum[u] = count > 0 ? n * (mu - shift[u]) : 0.0;
	}
	if (acc->mode == MUDSC_STATS_CROSS) {
		const size_t C = (size_t)acc->width;
		for (size_t u = 0; u < nc; u++, p += 8)
			acc->sq[u] = get_f64(p) + acc->sum[u] * (acc->sum[u] / n);
		for (size_t i = 1; i < (size_t)acc->n_models; i++)
			for (size_t a = 0; a < C; a++)
				for (size_t c = 0; c < C; c++, p += 8)
					acc->cross[((i - 1) * C + a) * C + c] =
						get_f64(p) + acc->sum[a] * (acc->sum[i * C + c] / n);
	} else {
		for (size_t a = 0; a < nc; a++)
			for (size_t c = a; c < nc; c++, p += 8)
				acc->prod[a * nc + c] = get_f64(p) + acc->sum[a] * (acc->sum[c] / n);
	}
	mudsc__stream_set_done(acc->stream, count);
}

MUDSC_API mudsc_status mudsc_accum_deserialize(mudsc_accum **out, const void *buf, size_t len,
                                               const mudsc_accum_options *options)
{
	struct mudsc__accum_config cfg;
	int32_t N = 0, mode = MUDSC_STATS_FULL;
	int64_t C = 0, count = 0;
	mudsc_accum *acc;
	mudsc_status st;

	MUDSC__CHECK_NULL(out);
	MUDSC__CHECK_NULL(buf);
	st = mudsc__accum_options_check(&cfg, options, "mudsc_accum_deserialize");
	if (st == MUDSC_OK)
		st = check_header(buf, len, &N, &C, &count, &mode);
	if (st == MUDSC_OK)
		st = check_values(buf, N, C, mode, count);
	cfg.mode = mode; /* the bytes' mode, whatever the options say */
	cfg.stream.ones = mode == MUDSC_STATS_FULL;
	if (st == MUDSC_OK)
		st = mudsc__accum_create(&acc, N, C, &cfg, "mudsc_accum_deserialize");
	if (st != MUDSC_OK)
		return st;
	load_state(acc, buf, count);
	*out = acc;
	return MUDSC_OK;
}
