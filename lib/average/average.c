/*
 * mudsc_average and mudsc_average_aligned: dst = sum_i w_i * model_i,
 * each float element summed in double in model order and rounded once
 * (docs/algorithm.md section 16).  Everything is checked before the first
 * byte of dst is written; the element loop allocates nothing (a stack
 * buffer of doubles per chunk).
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "average/average.h"
#include "matcher/matcher.h"
#include "model/model.h"

/* No contraction of a product and a sum into a fused multiply-add: the
 * definition rounds every product (docs/algorithm.md 16.1).  gcc in C11
 * mode does not contract; clang contracts by default, and inside the
 * functions compiled for FMA (the float filter, which inlines the double
 * vectors for its fallback) it would fuse the double products and sums. */
#ifdef __clang__
#pragma clang fp contract(off)
#endif

/* Elements averaged through one stack buffer: 8 KiB of doubles stay in L1. */
#define CHUNK 1024
/* Most models whose tensor pointers one task keeps on its stack; more are
 * looked up again per chunk. */
#define STACK_MODELS 32

MUDSC_API mudsc_status mudsc_average_options_init(mudsc_average_options *opts)
{
	return mudsc__options_init(opts, MUDSC__OPTIONS_AVERAGE, "mudsc_average_options_init");
}

/* Model m's tensor called like t0 (index k of models[0]): its own index k
 * when the models share their order (the usual case), else by name. */
static const struct model_tensor *tensor_like(const mudsc_model *m, size_t k,
                                              const struct model_tensor *t0)
{
	if (k < m->count && strcmp(m->tensors[k].name, t0->name) == 0)
		return &m->tensors[k];
	return mudsc__model_lookup(m, t0->name);
}

static void label(char *buf, size_t len, long i)
{
	if (i < 0)
		snprintf(buf, len, "dst");
	else
		snprintf(buf, len, "models[%ld]", i);
}

/* m (models[i], or dst for i = -1) against models[0]. */
static mudsc_status check_like(const char *fn, const mudsc_model *m, long i,
                               const mudsc_model *m0)
{
	char who[32];

	label(who, sizeof who, i);
	if (m->count != m0->count)
		return mudsc__err(MUDSC_E_MISMATCH, "%s: %s has %zu tensors, models[0] has %zu", fn, who,
		                 m->count, m0->count);
	for (size_t k = 0; k < m0->count; k++) {
		const struct model_tensor *t0 = &m0->tensors[k], *t = tensor_like(m, k, t0);
		if (t == NULL)
			return mudsc__err(MUDSC_E_NOT_FOUND, "%s: tensor '%s' of models[0] is not in %s",
			                 fn, t0->name, who);
		if (t->dtype != t0->dtype)
			return mudsc__err(MUDSC_E_MISMATCH, "%s: tensor '%s' is %s in %s, %s in models[0]",
			                 fn, t0->name, mudsc_dtype_name(t->dtype), who,
			                 mudsc_dtype_name(t0->dtype));
		if (t->rank != t0->rank ||
		    memcmp(t->shape, t0->shape, (size_t)t0->rank * sizeof *t0->shape) != 0)
			return mudsc__err(MUDSC_E_SHAPE,
			                 "%s: tensor '%s' has another shape in %s than in models[0]", fn,
			                 t0->name, who);
	}
	return MUDSC_OK;
}

static bool in_mapping(const mudsc_model *m, const void *p)
{
	uintptr_t a = (uintptr_t)m->backing_addr, q = (uintptr_t)p;
	return m->backing == BACKING_MMAP && q >= a && q < a + m->backing_len;
}

static mudsc_status check_dst(const char *fn, const mudsc_model *dst)
{
	if (mudsc_model_is_frozen(dst))
		return mudsc__err(MUDSC_E_STATE, "%s: dst is frozen (shared) and cannot be written", fn);
	for (size_t k = 0; k < dst->count; k++)
		if (dst->tensors[k].nbytes > 0 && in_mapping(dst, dst->tensors[k].data))
			return mudsc__err(MUDSC_E_STATE,
			                 "%s: tensor '%s' of dst lives in a read-only file mapping (load "
			                 "dst with MUDSC_LOAD_READ to write into it)",
			                 fn, dst->tensors[k].name);
	return MUDSC_OK;
}

static mudsc_status check_weights(const char *fn, const double *w, size_t n)
{
	double sum = 0.0;

	if (w == NULL)
		return MUDSC_OK;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(w[i]))
			return mudsc__err(MUDSC_E_INVALID, "%s: weights[%zu] = %g is not finite", fn, i,
			                 w[i]);
		sum += w[i];
	}
	if (!(fabs(sum - 1.0) <= 1e-6))
		return mudsc__err(MUDSC_E_INVALID,
		                 "%s: weights sum to %.17g, not 1 (within 1e-6): pass weights that sum "
		                 "to 1, or NULL for 1/N each",
		                 fn, sum);
	return MUDSC_OK;
}

/* ---- the element loop ---------------------------------------------------- */

struct average_job {
	size_t n;                       /* models */
	const mudsc_model *const *models;
	const double *w;                /* n weights */
	size_t k;                       /* the tensor, index in models[0] */
	void *out;                      /* dst's tensor memory */
	size_t numel;
	const mudsc_model *dst;
};

static const void *src_of(const struct average_job *j, size_t i)
{
	const struct model_tensor *t0 = &j->models[0]->tensors[j->k];
	return tensor_like(j->models[i], j->k, t0)->data;
}

/* More models than STACK_MODELS: each input looked up and converted to
 * double per chunk (the same sums in the same order). */
static void many_chunk(const struct average_job *j, mudsc_dtype dtype, unsigned char *out,
                       size_t at, size_t m, double *acc)
{
	double tmp[CHUNK];
	const size_t size = mudsc_dtype_size(dtype);
	for (size_t i = 0; i < j->n; i++) {
		const unsigned char *x = (const unsigned char *)src_of(j, i) + at * size;
		mudsc__convert_to_f64(dtype, x, m, tmp);
		for (size_t e = 0; e < m; e++)
			acc[e] = i == 0 ? j->w[0] * tmp[e] : acc[e] + j->w[i] * tmp[e];
	}
	mudsc__convert_from_f64(dtype, acc, m, out);
}

/* The inputs x advanced by done elements of 4 bytes, in tail. */
static inline const unsigned char *const *tail_of(const unsigned char **tail,
                                                  const unsigned char *const *x, size_t n,
                                                  size_t done)
{
	for (size_t i = 0; i < n; i++)
		tail[i] = x[i] + 4 * done;
	return tail;
}

static inline double ld32(const unsigned char *p, size_t e)
{
	float f;
	memcpy(&f, p + 4 * e, 4);
	return (double)f;
}

#if defined(__SSE2__)
#include <emmintrin.h>
#define AVERAGE_SSE2 1

/* The F32 sums four elements at a time with SSE2 (every x86-64 has it):
 * the same products and additions in the same order as the scalar loop
 * (no fused multiply-add), so the same bits.  Returns the elements done. */
static size_t f32_sse2(unsigned char *out, const unsigned char *const *x, const double *w,
                       size_t n, size_t m)
{
	__m128d wv[4];
	size_t e = 0;

	for (size_t i = 0; i < n; i++)
		wv[i] = _mm_set1_pd(w[i]);
	/* one loop per count, the inputs unrolled: term i of elements e..e+3 */
#define TERM(i, op)                                                                             \
	do {                                                                                       \
		__m128 v = _mm_loadu_ps((const float *)(const void *)(x[i] + 4 * e));                 \
		lo = op(lo, _mm_mul_pd(wv[i], _mm_cvtps_pd(v)));                                       \
		hi = op(hi, _mm_mul_pd(wv[i], _mm_cvtps_pd(_mm_movehl_ps(v, v))));                     \
	} while (0)
#define FIRST(acc, t) (t)
#define STORE()                                                                                 \
	_mm_storeu_ps((float *)(void *)(out + 4 * e), _mm_movelh_ps(_mm_cvtpd_ps(lo), _mm_cvtpd_ps(hi)))
	__m128d lo = _mm_setzero_pd(), hi = _mm_setzero_pd();
	switch (n) {
	case 1:
		for (; e + 4 <= m; e += 4) {
			TERM(0, FIRST);
			STORE();
		}
		break;
	case 2:
		for (; e + 4 <= m; e += 4) {
			TERM(0, FIRST);
			TERM(1, _mm_add_pd);
			STORE();
		}
		break;
	case 3:
		for (; e + 4 <= m; e += 4) {
			TERM(0, FIRST);
			TERM(1, _mm_add_pd);
			TERM(2, _mm_add_pd);
			STORE();
		}
		break;
	default:
		for (; e + 4 <= m; e += 4) {
			TERM(0, FIRST);
			TERM(1, _mm_add_pd);
			TERM(2, _mm_add_pd);
			TERM(3, _mm_add_pd);
			STORE();
		}
		break;
	}
#undef TERM
#undef FIRST
#undef STORE
	return e;
}
#endif

#if defined(__GNUC__) && defined(__x86_64__)
#define AVERAGE_AVX2 1
static bool have_avx2(void);
static bool have_avx512(void);
static size_t f32_avx2(unsigned char *out, const unsigned char *const *x, const double *w,
                       size_t n, size_t m);
static size_t f32_avx512(unsigned char *out, const unsigned char *const *x, const double *w,
                         size_t n, size_t m);
#endif

/* F32, the fast path: out[e] = (float)(w0 x0[e] + w1 x1[e] + ...), the sum
 * left to right in double; up to four inputs in one pass without a buffer
 * (one loop per count, so each vectorises), more through acc.  path: the
 * portable one (SSE2 and scalar), AVX2 (MUDSC__AVERAGE_DOUBLE and _FILTER)
 * or AVX-512 (_AVX512 and _FAST), each where the CPU has it (else the next
 * below); the same bits on every path. */
static void f32_chunk(unsigned char *out, const unsigned char *const *x, const double *w,
                      size_t n, size_t m, double *acc, int path)
{
	size_t i;
	(void)path;
#ifdef AVERAGE_SSE2
	const unsigned char *tail[4]; /* the inputs past what SSE2 (and AVX2) did */
	if (n <= 4) {
		size_t done = 0;
#ifdef AVERAGE_AVX2
		if (path >= MUDSC__AVERAGE_AVX512 && have_avx512())
			done = f32_avx512(out, x, w, n, m);
		else if (path != MUDSC__AVERAGE_PORTABLE && have_avx2())
			done = f32_avx2(out, x, w, n, m);
#endif
		done += f32_sse2(out + 4 * done, tail_of(tail, x, n, done), w, n, m - done);
		for (i = 0; i < n; i++)
			tail[i] = x[i] + 4 * done;
		x = tail;
		out += 4 * done;
		m -= done;
	}
#endif
	switch (n) {
	case 1:
		for (size_t e = 0; e < m; e++)
			acc[e] = w[0] * ld32(x[0], e);
		break;
	case 2:
		for (size_t e = 0; e < m; e++)
			acc[e] = w[0] * ld32(x[0], e) + w[1] * ld32(x[1], e);
		break;
	case 3:
		for (size_t e = 0; e < m; e++)
			acc[e] = w[0] * ld32(x[0], e) + w[1] * ld32(x[1], e) + w[2] * ld32(x[2], e);
		break;
	default:
		for (size_t e = 0; e < m; e++)
			acc[e] = w[0] * ld32(x[0], e) + w[1] * ld32(x[1], e) + w[2] * ld32(x[2], e) +
			         w[3] * ld32(x[3], e);
		for (i = 4; i < n; i++)
			for (size_t e = 0; e < m; e++)
				acc[e] += w[i] * ld32(x[i], e);
		break;
	}
	for (size_t e = 0; e < m; e++) {
		float f = (float)acc[e];
		memcpy(out + 4 * e, &f, 4);
	}
}

/* F64: the same sums, stored as they are. */
static void f64_chunk(unsigned char *out, const unsigned char *const *x, const double *w,
                      size_t n, size_t m, double *acc)
{
	for (size_t e = 0; e < m; e++) {
		double d;
		memcpy(&d, x[0] + 8 * e, 8);
		acc[e] = w[0] * d;
	}
	for (size_t i = 1; i < n; i++)
		for (size_t e = 0; e < m; e++) {
			double d;
			memcpy(&d, x[i] + 8 * e, 8);
			acc[e] += w[i] * d;
		}
	memcpy(out, acc, m * 8);
}

/* F16 and BF16: each input converted exactly to double through the row
 * converters, summed, then rounded once by core/convert.c (the portable
 * path, and the one for CPUs without AVX2 and F16C). */
static void half_chunk(mudsc_dtype dtype, unsigned char *out, const unsigned char *const *x,
                       const double *w, size_t n, size_t m, double *acc)
{
	float tmp[CHUNK]; /* F16 and BF16 are exact in float (F16 through F16C) */
	mudsc__convert_to_f32(dtype, x[0], m, tmp);
	for (size_t e = 0; e < m; e++)
		acc[e] = w[0] * (double)tmp[e];
	for (size_t i = 1; i < n; i++) {
		mudsc__convert_to_f32(dtype, x[i], m, tmp);
		for (size_t e = 0; e < m; e++)
			acc[e] += w[i] * (double)tmp[e];
	}
	mudsc__convert_from_f64(dtype, acc, m, out);
}

#ifdef AVERAGE_AVX2
#include <immintrin.h>
#define AVX2_TARGET __attribute__((target("avx2,f16c")))
#define AVX2_INLINE AVX2_TARGET static inline __attribute__((always_inline))

/* The vector kernels prefetch every input PREFETCH bytes ahead of their
 * loads, one line per 64 bytes read: on the machine of bench/README.md the
 * hardware prefetchers alone left the loops waiting for memory (2 to 4
 * input streams at 0.3-0.7 of memcpy's rate, in-cache kernels 2-3 times
 * faster than that).  A prefetch never faults, so reading past the end is
 * harmless (the address is formed as an integer: C has no pointer past the
 * end of an input). */
#define PREFETCH 1536
#define PREFETCH_INPUTS(x, nn, byte)                                                            \
	do {                                                                                       \
		for (size_t i_ = 0; i_ < (nn); i_++)                                                   \
			_mm_prefetch((const char *)((uintptr_t)(x)[i_] + (byte) + PREFETCH), _MM_HINT_T0); \
	} while (0)

/* The kernels copy the input pointers to a local array first: stores
 * through the unsigned char output may alias anything the caller passed,
 * so reading x[i] in the loop would reload each pointer after each store. */
#define LOCAL_INPUTS(x, xs, n)                                                                  \
	const unsigned char *x[STACK_MODELS];                                                      \
	for (size_t i_ = 0; i_ < (n); i_++)                                                        \
		x[i_] = (xs)[i_]

/* LOOP(dtype, nn) with nn a constant for 1 to 4 models (so that the loop
 * over them unrolls), else n. */
#define BY_COUNT(LOOP, dtype, n)                                                                \
	do {                                                                                       \
		switch (n) {                                                                           \
		case 1:                                                                                \
			LOOP(dtype, 1);                                                                    \
			break;                                                                             \
		case 2:                                                                                \
			LOOP(dtype, 2);                                                                    \
			break;                                                                             \
		case 3:                                                                                \
			LOOP(dtype, 3);                                                                    \
			break;                                                                             \
		case 4:                                                                                \
			LOOP(dtype, 4);                                                                    \
			break;                                                                             \
		default:                                                                               \
			LOOP(dtype, n);                                                                    \
			break;                                                                             \
		}                                                                                      \
	} while (0)

/* The x86-64 path for F16 and BF16 (docs/algorithm.md section 16): eight
 * elements at a time, the same products and sums in double in model order
 * as half_chunk (no fused multiply-add: the target has none), then one
 * rounding of each double sum to the dtype, nearest even, bit for bit the
 * values of mudsc__f64_to_f16 / mudsc__f64_to_bf16 (NaNs included; BF16
 * blocks holding a NaN or a sum below 2^-126 go through half_chunk). */

/* Sums of elements e..e+7 (lo: the first four) of the n inputs. */
AVX2_INLINE void sum8(mudsc_dtype dtype, const unsigned char *const *x, const double *w,
                      size_t n, size_t e, __m256d *lo, __m256d *hi)
{
	for (size_t i = 0; i < n; i++) {
		__m128i h = _mm_loadu_si128((const __m128i *)(const void *)(x[i] + 2 * e));
		__m256 f = dtype == MUDSC_DTYPE_F16
		                   ? _mm256_cvtph_ps(h)
		                   : _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
		__m256d wv = _mm256_set1_pd(w[i]);
		__m256d pl = _mm256_mul_pd(wv, _mm256_cvtps_pd(_mm256_castps256_ps128(f)));
		__m256d ph = _mm256_mul_pd(wv, _mm256_cvtps_pd(_mm256_extractf128_ps(f, 1)));
		*lo = i == 0 ? pl : _mm256_add_pd(*lo, pl);
		*hi = i == 0 ? ph : _mm256_add_pd(*hi, ph);
	}
}

/* Four doubles rounded to odd at float's 24 bits on their bits: the 29
 * dropped bits cleared, bit 29 set when any was set; the result is exact
 * in float when |d| is in float's normal range, and cvtpd_ps only moves
 * it.  Outside that range (see f16_avx2) the float is wrong but its F16
 * rounding is not. */
AVX2_INLINE __m128 odd4(__m256d d)
{
	const __m256i drop = _mm256_set1_epi64x(0x1fffffff), sticky = _mm256_set1_epi64x(0x20000000);
	__m256i u = _mm256_castpd_si256(d);
	__m256i exact = _mm256_cmpeq_epi64(_mm256_and_si256(u, drop), _mm256_setzero_si256());
	u = _mm256_or_si256(_mm256_andnot_si256(drop, u), _mm256_andnot_si256(exact, sticky));
	return _mm256_cvtpd_ps(_mm256_castsi256_pd(u));
}

/* F16: round-to-odd in float, then F16C's nearest even (11 bits: float's
 * 24 are >= 11 + 2, so the two roundings are one).  Sums of magnitude
 * 2^128 or more give a float of at least 2^128 (inf) where round-to-odd
 * would give FLT_MAX: both are inf in F16; sums below 2^-126 give a float
 * of at most 2^-126 where round-to-odd gives another one: both are a zero
 * of the sum's sign in F16.  A NaN becomes the quiet NaN of its sign
 * without payload (what mudsc__f32_to_f16 gives). */
AVX2_INLINE void f16_store8(unsigned char *out, __m256d lo, __m256d hi)
{
	const __m256i sign = _mm256_set1_epi32(INT32_MIN), qnan = _mm256_set1_epi32(0x7fc00000);
	__m256 f = _mm256_set_m128(odd4(hi), odd4(lo));
	__m256 nan = _mm256_cmp_ps(f, f, _CMP_UNORD_Q);
	__m256 canon = _mm256_castsi256_ps(
	    _mm256_or_si256(_mm256_and_si256(_mm256_castps_si256(f), sign), qnan));
	f = _mm256_blendv_ps(f, canon, nan);
	_mm_storeu_si128((__m128i *)(void *)out, _mm256_cvtps_ph(f, _MM_FROUND_TO_NEAREST_INT));
}

/* BF16 blocks that the vector rounding serves: every |d| >= 2^-126 or
 * d = 0 (not NaN). */
AVX2_INLINE bool bf16_ok(__m256d lo, __m256d hi)
{
	const __m256d abs = _mm256_castsi256_pd(_mm256_set1_epi64x(INT64_C(0x7fffffffffffffff)));
	const __m256d tiny = _mm256_set1_pd(0x1p-126), zero = _mm256_setzero_pd();
	__m256d bad_lo = _mm256_and_pd(_mm256_cmp_pd(_mm256_and_pd(lo, abs), tiny, _CMP_NGE_UQ),
	                               _mm256_cmp_pd(lo, zero, _CMP_NEQ_UQ));
	__m256d bad_hi = _mm256_and_pd(_mm256_cmp_pd(_mm256_and_pd(hi, abs), tiny, _CMP_NGE_UQ),
	                               _mm256_cmp_pd(hi, zero, _CMP_NEQ_UQ));
	return _mm256_testz_pd(_mm256_or_pd(bad_lo, bad_hi), _mm256_or_pd(bad_lo, bad_hi)) != 0;
}

/* BF16 of four doubles with |d| >= 2^-126 or d = 0 (bf16_ok), as floats
 * holding the BF16 value: rounded to nearest even at 8 bits on the
 * double's bits (add 2^44 - 1 plus the last kept bit, clear the 45 dropped
 * ones; a carry into the exponent is the next binade), one rounding; the
 * result is exact in float, or at least 2^128, which cvtpd_ps makes inf
 * (the BF16 overflow); inf stays inf. */
AVX2_INLINE __m128 bf16_4(__m256d d)
{
	const __m256i half = _mm256_set1_epi64x(INT64_C(0x00000fffffffffff)),
	              one = _mm256_set1_epi64x(1),
	              drop = _mm256_set1_epi64x(INT64_C(0x00001fffffffffff));
	__m256i u = _mm256_castpd_si256(d);
	__m256i lsb = _mm256_and_si256(_mm256_srli_epi64(u, 45), one);
	u = _mm256_add_epi64(u, _mm256_add_epi64(half, lsb));
	return _mm256_cvtpd_ps(_mm256_castsi256_pd(_mm256_andnot_si256(drop, u)));
}

AVX2_INLINE void bf16_store8(unsigned char *out, __m256d lo, __m256d hi)
{
	__m256i r = _mm256_srli_epi32(_mm256_castps_si256(_mm256_set_m128(bf16_4(hi), bf16_4(lo))), 16);
	r = _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), _MM_SHUFFLE(3, 1, 2, 0));
	_mm_storeu_si128((__m128i *)(void *)out, _mm256_castsi256_si128(r));
}

/* One block of eight elements (e..e+7) through the double vectors: the
 * exact path, bit for bit the definition; a BF16 block that bf16_ok
 * refuses goes through half_chunk. */
AVX2_INLINE void exact8(mudsc_dtype dtype, unsigned char *out, const unsigned char *const *x,
                        const double *w, size_t n, size_t e)
{
	__m256d lo = _mm256_setzero_pd(), hi = lo;
	sum8(dtype, x, w, n, e, &lo, &hi);
	if (dtype == MUDSC_DTYPE_F16) {
		f16_store8(out + 2 * e, lo, hi);
	} else if (bf16_ok(lo, hi)) {
		bf16_store8(out + 2 * e, lo, hi);
	} else {
		const unsigned char *at[STACK_MODELS];
		double acc8[8];
		for (size_t i = 0; i < n; i++)
			at[i] = x[i] + 2 * e;
		half_chunk(dtype, out + 2 * e, at, w, n, 8, acc8);
	}
}

/* Elements 0..8*(m/8) of one chunk; returns how many were done.  One loop
 * per count of models up to 4, so that the loop over them unrolls. */
#define HALF_LOOP(dtype, nn)                                                                    \
	for (; e + 8 <= m; e += 8) {                                                               \
		if (e % 32 == 0)                                                                       \
			PREFETCH_INPUTS(x, nn, 2 * e);                                                     \
		exact8(dtype, out, x, w, nn, e);                                                       \
	}

#define HALF_KERNEL(name, dtype)                                                                \
	AVX2_TARGET static size_t name(unsigned char *out, const unsigned char *const *xs,         \
	                               const double *w, size_t n, size_t m)                        \
	{                                                                                          \
		size_t e = 0;                                                                          \
		LOCAL_INPUTS(x, xs, n);                                                                \
		BY_COUNT(HALF_LOOP, dtype, n);                                                         \
		return e;                                                                              \
	}

HALF_KERNEL(f16_avx2, MUDSC_DTYPE_F16)
HALF_KERNEL(bf16_avx2, MUDSC_DTYPE_BF16)
#undef HALF_KERNEL
#undef HALF_LOOP

/* ---- the float filter for F16 and BF16 (docs/algorithm.md 16.4) ---------- */

#define FILTER_TARGET __attribute__((target("avx2,f16c,fma")))
#define FILTER_INLINE FILTER_TARGET static inline __attribute__((always_inline))

/* The bound of 16.4: |S - s| <= FILTER_C(n) A + FILTER_TAU for the float
 * sum S, the float sum A of the |products| and the definition's double
 * sum s, n models; weights 0 or of magnitude in [2^-60, 2^60]. */
#define FILTER_C(n) ((float)((n) + 3) * 0x1p-24f)
#define FILTER_TAU 0x1p-120f
#define FILTER_BIG 0x1p120f

/* Eight F16 or BF16 values, exactly, as floats. */
FILTER_INLINE __m256 load8_ps(mudsc_dtype dtype, const unsigned char *p)
{
	__m128i h = _mm_loadu_si128((const __m128i *)(const void *)p);
	if (dtype == MUDSC_DTYPE_F16)
		return _mm256_cvtph_ps(h);
	return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

/* Eight finite floats rounded to the dtype, nearest even (F16C; for BF16
 * on the float's bits: add 0x7fff plus the last kept bit, keep the high
 * half, which rounds every finite float, subnormals and the overflow to
 * inf included). */
FILTER_INLINE __m128i round8(mudsc_dtype dtype, __m256 f)
{
	if (dtype == MUDSC_DTYPE_F16)
		return _mm256_cvtps_ph(f, _MM_FROUND_TO_NEAREST_INT);
	__m256i u = _mm256_castps_si256(f);
	__m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
	u = _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), lsb)),
	                      16);
	u = _mm256_permute4x64_epi64(_mm256_packus_epi32(u, u), _MM_SHUFFLE(3, 1, 2, 0));
	return _mm256_castsi256_si128(u);
}

/* Lanes where p = w x (w a power of two, x the input f) is exact: all
 * of them for F16 (|p| in [2^-84, 2^77)); for BF16 where p is 0 from a
 * zero x or of magnitude >= 2^-126 (no bits lost below float's normal
 * range). */
FILTER_INLINE __m256 exact_product(mudsc_dtype dtype, __m256 p, __m256 f)
{
	if (dtype == MUDSC_DTYPE_F16)
		return _mm256_castsi256_ps(_mm256_set1_epi32(-1));
	const __m256 abs = _mm256_castsi256_ps(_mm256_set1_epi32(INT32_MAX));
	return _mm256_or_ps(_mm256_cmp_ps(_mm256_and_ps(p, abs), _mm256_set1_ps(0x1p-126f), _CMP_GE_OQ),
	                    _mm256_cmp_ps(f, _mm256_setzero_ps(), _CMP_EQ_OQ));
}

/* Eight elements: S and A in float with fused multiply-adds (any order
 * would do; model order here), the interval [S - B, S + B] around the
 * definition's double sum, and its two ends rounded to the dtype.  Where
 * both ends give the same bits for all eight and A < 2^120 (finite, not
 * NaN), those bits are the definition's (monotonic rounding); otherwise
 * the block goes through the exact double vectors (exact8). */
#define FILTER_LOOP(dtype, nn, dyadic)                                                          \
	for (; e + 8 <= m; e += 8) {                                                               \
		if (e % 32 == 0)                                                                       \
			PREFETCH_INPUTS(x, nn, 2 * e);                                                     \
		__m256 f = load8_ps(dtype, x[0] + 2 * e);                                              \
		__m256 s = _mm256_mul_ps(wv[0], f);                                                    \
		__m256 a = _mm256_mul_ps(av[0], _mm256_and_ps(f, abs));                                \
		__m256 ex = dyadic ? exact_product(dtype, s, f) : s;                                   \
		for (size_t i = 1; i < (nn); i++) {                                                    \
			f = load8_ps(dtype, x[i] + 2 * e);                                                 \
			if (dyadic) {                                                                      \
				__m256 p = _mm256_mul_ps(wv[i], f), t = _mm256_add_ps(s, p);                    \
				ex = _mm256_and_ps(ex, exact_product(dtype, p, f));                             \
				ex = _mm256_and_ps(ex, _mm256_cmp_ps(_mm256_sub_ps(t, p), s, _CMP_EQ_OQ));     \
				ex = _mm256_and_ps(ex, _mm256_cmp_ps(_mm256_sub_ps(t, s), p, _CMP_EQ_OQ));     \
				s = t;                                                                         \
			} else {                                                                           \
				s = _mm256_fmadd_ps(wv[i], f, s);                                              \
			}                                                                                  \
			a = _mm256_fmadd_ps(av[i], _mm256_and_ps(f, abs), a);                              \
		}                                                                                      \
		__m256 b = _mm256_fmadd_ps(c, a, tau);                                                 \
		if (dyadic)                                                                            \
			b = _mm256_andnot_ps(ex, b);                                                       \
		__m128i rl = round8(dtype, _mm256_sub_ps(s, b));                                       \
		__m128i rh = round8(dtype, _mm256_add_ps(s, b));                                       \
		int finite = _mm256_movemask_ps(_mm256_cmp_ps(a, big, _CMP_LT_OQ));                    \
		int same = _mm_movemask_epi8(_mm_cmpeq_epi16(rl, rh));                                 \
		if (finite == 0xff && same == 0xffff)                                                  \
			_mm_storeu_si128((__m128i *)(void *)(out + 2 * e), rl);                            \
		else                                                                                   \
			exact8(dtype, out, x, w, nn, e);                                                   \
	}

#define FILTER_KERNEL(name, dtype)                                                              \
	FILTER_TARGET static size_t name(unsigned char *out, const unsigned char *const *xs,       \
	                                 const double *w, size_t n, size_t m, bool dyadic)         \
	{                                                                                          \
		LOCAL_INPUTS(x, xs, n);                                                                \
		const __m256 abs = _mm256_castsi256_ps(_mm256_set1_epi32(INT32_MAX));                  \
		const __m256 c = _mm256_set1_ps(FILTER_C(n)), tau = _mm256_set1_ps(FILTER_TAU);        \
		const __m256 big = _mm256_set1_ps(FILTER_BIG);                                         \
		__m256 wv[STACK_MODELS], av[STACK_MODELS];                                             \
		size_t e = 0;                                                                          \
		for (size_t i = 0; i < n; i++) {                                                       \
			wv[i] = _mm256_set1_ps((float)w[i]);                                               \
			av[i] = _mm256_and_ps(wv[i], abs);                                                 \
		}                                                                                      \
		switch (n + (dyadic ? 8 : 0)) {                                                        \
		case 1:                                                                                \
			FILTER_LOOP(dtype, 1, false);                                                      \
			break;                                                                             \
		case 2:                                                                                \
			FILTER_LOOP(dtype, 2, false);                                                      \
			break;                                                                             \
		case 3:                                                                                \
			FILTER_LOOP(dtype, 3, false);                                                      \
			break;                                                                             \
		case 4:                                                                                \
			FILTER_LOOP(dtype, 4, false);                                                      \
			break;                                                                             \
		case 8 + 2:                                                                            \
			FILTER_LOOP(dtype, 2, true);                                                       \
			break;                                                                             \
		case 8 + 4:                                                                            \
			FILTER_LOOP(dtype, 4, true);                                                       \
			break;                                                                             \
		default:                                                                               \
			if (dyadic)                                                                        \
				FILTER_LOOP(dtype, n, true)                                                    \
			else                                                                               \
				FILTER_LOOP(dtype, n, false)                                                   \
			break;                                                                             \
		}                                                                                      \
		return e;                                                                              \
	}

FILTER_KERNEL(f16_filter, MUDSC_DTYPE_F16)
FILTER_KERNEL(bf16_filter, MUDSC_DTYPE_BF16)
#undef FILTER_KERNEL
#undef FILTER_LOOP

/* The filter's bound holds for weights that are 0 or of magnitude in
 * [2^-60, 2^60] (float then holds each weight within 2^-24 relative and
 * no product of a finite input overflows unseen: A catches it); *dyadic
 * tells whether each is also 0 or a power of two (1/2, 1/4: float holds
 * it exactly and its products are exact). */
static bool filter_weights(const double *w, size_t n, bool *dyadic)
{
	*dyadic = true;
	for (size_t i = 0; i < n; i++) {
		double a = fabs(w[i]);
		int ex;
		if (a != 0.0 && !(a >= 0x1p-60 && a <= 0x1p60))
			return false;
		if (a != 0.0 && frexp(a, &ex) != 0.5)
			*dyadic = false;
	}
	return true;
}

/* F32 with AVX: the SSE2 loop (f32_sse2) eight elements wide, the same
 * products and sums, so the same bits. */
#define F32_LOOP(dtype_, nn)                                                                    \
	for (; e + 8 <= m; e += 8) {                                                               \
		if (e % 16 == 0)                                                                       \
			PREFETCH_INPUTS(x, nn, 4 * e);                                                     \
		__m256d lo = _mm256_setzero_pd(), hi = lo;                                             \
		for (size_t i = 0; i < (nn); i++) {                                                    \
			__m256 f = _mm256_loadu_ps((const float *)(const void *)(x[i] + 4 * e));           \
			__m256d wv = _mm256_set1_pd(w[i]);                                                 \
			__m256d pl = _mm256_mul_pd(wv, _mm256_cvtps_pd(_mm256_castps256_ps128(f)));        \
			__m256d ph = _mm256_mul_pd(wv, _mm256_cvtps_pd(_mm256_extractf128_ps(f, 1)));      \
			lo = i == 0 ? pl : _mm256_add_pd(lo, pl);                                          \
			hi = i == 0 ? ph : _mm256_add_pd(hi, ph);                                          \
		}                                                                                      \
		_mm256_storeu_ps((float *)(void *)(out + 4 * e),                                       \
		                 _mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo)));           \
	}

AVX2_TARGET static size_t f32_avx2(unsigned char *out, const unsigned char *const *xs,
                                   const double *w, size_t n, size_t m)
{
	size_t e = 0;
	LOCAL_INPUTS(x, xs, n);
	BY_COUNT(F32_LOOP, MUDSC_DTYPE_F32, n); /* n <= 4 */
	return e;
}
#undef F32_LOOP

/* AVX2 and F16C: F16C (and the OS's YMM state) through core/convert.c,
 * AVX2 through core/cpu.c (clang-14's runtime does not know "f16c"). */
static bool have_avx2(void)
{
	return mudsc__cpu_has_f16c() && mudsc__cpu_has(MUDSC__CPU_AVX2);
}

/* AVX2 and F16C (have_avx2) and FMA. */
static bool have_fma(void)
{
	return have_avx2() && mudsc__cpu_has(MUDSC__CPU_FMA);
}

/* ---- AVX-512: the double vectors sixteen elements wide (16.5) ------------ */

#define AVX512_TARGET __attribute__((target("avx512f,avx512vl")))
#define AVX512_INLINE AVX512_TARGET static inline __attribute__((always_inline))

/* Sixteen F16 or BF16 values (32 bytes at p), exactly, as two vectors of
 * eight doubles. */
AVX512_INLINE void load16_pd(mudsc_dtype dtype, const unsigned char *p, __m512d *lo, __m512d *hi)
{
	__m512 f;
	if (dtype == MUDSC_DTYPE_F16)
		f = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)p));
	else
		f = _mm512_castsi512_ps(_mm512_slli_epi32(
		    _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(const void *)p)), 16));
	*lo = _mm512_cvtps_pd(_mm512_castps512_ps256(f));
	*hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(f), 1)));
}

/* Eight doubles rounded to odd in float, bit for bit core/convert.c's
 * round_to_odd_f32 over the whole range: the conversion toward zero (float
 * subnormals, and FLT_MAX for finite |d| >= 2^128, included), with the last
 * bit set where it was inexact; NaNs as the plain conversion gives them. */
AVX512_INLINE __m256i odd8(__m512d d)
{
	__m256 f = _mm512_cvt_roundpd_ps(d, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
	__mmask8 inexact = _mm512_cmp_pd_mask(_mm512_cvtps_pd(f), d, _CMP_NEQ_OQ);
	__m256i u = _mm256_castps_si256(f);
	return _mm256_mask_or_epi32(u, inexact, u, _mm256_set1_epi32(1));
}

/* Sixteen double sums rounded once to the dtype and stored (32 bytes at
 * out): round to odd in float (odd8), then core/convert.c's second
 * rounding of that float: F16C's nearest even for F16 (a NaN made the quiet
 * NaN of its sign without payload first, as mudsc__f32_to_f16 does); for
 * BF16 the float's bits plus 0x7fff plus the last kept bit, the high half,
 * as mudsc__f32_to_bf16.  A NaN needs no case of its own there: every NaN
 * of these sums is quiet (made or passed on by a conversion or an
 * arithmetic operation) and has its low 16 float bits zero (BF16 inputs
 * carry 7 payload bits, which every step passes on unchanged or replaces by
 * the default NaN's), so the addition leaves its high half, quiet bit set,
 * which is what mudsc__f32_to_bf16 gives (16.5). */
AVX512_INLINE void store16(mudsc_dtype dtype, unsigned char *out, __m512d lo, __m512d hi)
{
	__m512i u = _mm512_inserti64x4(_mm512_castsi256_si512(odd8(lo)), odd8(hi), 1);
	__m256i r;
	if (dtype == MUDSC_DTYPE_F16) {
		/* NaN lanes: (u & sign) | quiet NaN */
		__mmask16 nan =
		    _mm512_cmp_ps_mask(_mm512_castsi512_ps(u), _mm512_castsi512_ps(u), _CMP_UNORD_Q);
		u = _mm512_mask_ternarylogic_epi32(u, nan, _mm512_set1_epi32(INT32_MIN),
		                                   _mm512_set1_epi32(0x7fc00000), 0xea);
		r = _mm512_cvtps_ph(_mm512_castsi512_ps(u), _MM_FROUND_TO_NEAREST_INT);
	} else {
		__m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
		__m512i v = _mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));
		r = _mm512_cvtepi32_epi16(_mm512_srli_epi32(v, 16));
	}
	_mm256_storeu_si256((__m256i *)(void *)out, r);
}

/* Sums of elements e..e+15 of the nn inputs, in double in model order
 * (no fused multiply-add: the target has none, and C11 mode and the
 * pragma above forbid contracting). */
#define SUM16(dtype, nn, e, lo, hi)                                                             \
	do {                                                                                       \
		__m512d a_, b_;                                                                        \
		load16_pd(dtype, x[0] + 2 * (e), &a_, &b_);                                            \
		lo = _mm512_mul_pd(wv[0], a_);                                                         \
		hi = _mm512_mul_pd(wv[0], b_);                                                         \
		for (size_t i_ = 1; i_ < (nn); i_++) {                                                 \
			load16_pd(dtype, x[i_] + 2 * (e), &a_, &b_);                                       \
			lo = _mm512_add_pd(lo, _mm512_mul_pd(wv[i_], a_));                                 \
			hi = _mm512_add_pd(hi, _mm512_mul_pd(wv[i_], b_));                                 \
		}                                                                                      \
	} while (0)

/* 32 elements a step (one prefetched line of each input), then one more
 * step of 16 if there is room; returns the elements done. */
#define HALF512_LOOP(dtype, nn)                                                                 \
	do {                                                                                       \
		__m512d lo, hi;                                                                        \
		for (; e + 32 <= m; e += 32) {                                                         \
			PREFETCH_INPUTS(x, nn, 2 * e);                                                     \
			SUM16(dtype, nn, e, lo, hi);                                                       \
			store16(dtype, out + 2 * e, lo, hi);                                               \
			SUM16(dtype, nn, e + 16, lo, hi);                                                  \
			store16(dtype, out + 2 * (e + 16), lo, hi);                                        \
		}                                                                                      \
		if (e + 16 <= m) {                                                                     \
			SUM16(dtype, nn, e, lo, hi);                                                       \
			store16(dtype, out + 2 * e, lo, hi);                                               \
			e += 16;                                                                           \
		}                                                                                      \
	} while (0)

#define HALF512_KERNEL(name, dtype)                                                             \
	AVX512_TARGET static size_t name(unsigned char *out, const unsigned char *const *xs,       \
	                                 const double *w, size_t n, size_t m)                      \
	{                                                                                          \
		__m512d wv[STACK_MODELS];                                                              \
		size_t e = 0;                                                                          \
		LOCAL_INPUTS(x, xs, n);                                                                \
		for (size_t i = 0; i < n; i++)                                                         \
			wv[i] = _mm512_set1_pd(w[i]);                                                      \
		BY_COUNT(HALF512_LOOP, dtype, n);                                                      \
		return e;                                                                              \
	}

HALF512_KERNEL(f16_avx512, MUDSC_DTYPE_F16)
HALF512_KERNEL(bf16_avx512, MUDSC_DTYPE_BF16)
#undef HALF512_KERNEL
#undef HALF512_LOOP
#undef SUM16

/* F32: sixteen elements a step, the products and sums of f32_sse2 (the
 * same bits), one prefetched line of each input. */
#define F32_512_LOOP(dtype_, nn)                                                                \
	for (; e + 16 <= m; e += 16) {                                                             \
		PREFETCH_INPUTS(x, nn, 4 * e);                                                         \
		__m512d lo = _mm512_mul_pd(wv[0], _mm512_cvtps_pd(_mm256_loadu_ps(                     \
		                                      (const float *)(const void *)(x[0] + 4 * e)))); \
		__m512d hi = _mm512_mul_pd(wv[0], _mm512_cvtps_pd(_mm256_loadu_ps(                     \
		                                      (const float *)(const void *)(x[0] + 4 * e + 32)))); \
		for (size_t i = 1; i < (nn); i++) {                                                    \
			const float *p_ = (const float *)(const void *)(x[i] + 4 * e);                     \
			lo = _mm512_add_pd(lo, _mm512_mul_pd(wv[i], _mm512_cvtps_pd(_mm256_loadu_ps(p_))));  \
			hi = _mm512_add_pd(hi, _mm512_mul_pd(wv[i], _mm512_cvtps_pd(_mm256_loadu_ps(p_ + 8)))); \
		}                                                                                      \
		_mm512_storeu_ps((float *)(void *)(out + 4 * e),                                       \
		                 _mm512_castpd_ps(_mm512_insertf64x4(                                  \
		                     _mm512_castpd256_pd512(_mm256_castps_pd(_mm512_cvtpd_ps(lo))),    \
		                     _mm256_castps_pd(_mm512_cvtpd_ps(hi)), 1)));                      \
	}

AVX512_TARGET static size_t f32_avx512(unsigned char *out, const unsigned char *const *xs,
                                       const double *w, size_t n, size_t m)
{
	__m512d wv[4];
	size_t e = 0;
	LOCAL_INPUTS(x, xs, n);
	for (size_t i = 0; i < n; i++)
		wv[i] = _mm512_set1_pd(w[i]);
	BY_COUNT(F32_512_LOOP, MUDSC_DTYPE_F32, n); /* n <= 4 */
	return e;
}
#undef F32_512_LOOP

/* AVX-512 F and VL (with the OS's ZMM state: the compiler's runtime asks
 * XGETBV too); F16C comes with them. */
static bool have_avx512(void)
{
	return have_avx2() && mudsc__cpu_has(MUDSC__CPU_AVX512F | MUDSC__CPU_AVX512VL);
}
#endif

/* F16 and BF16 rows through path, or the best path below it that the CPU
 * has (MUDSC__AVERAGE_AVX512 and _FAST: the AVX-512 double vectors;
 * _FILTER: the float filter when the CPU has FMA and the weights suit it;
 * else, and _DOUBLE: the AVX2 double vectors, when the CPU has AVX2 and
 * F16C); the tail (m mod 16 or 8) and other CPUs through half_chunk.  The
 * same bits on every path. */
static void half_rows(mudsc_dtype dtype, unsigned char *out, const unsigned char *const *x,
                      const double *w, size_t n, size_t m, double *acc, int path)
{
#ifdef AVERAGE_AVX2
	if (path != MUDSC__AVERAGE_PORTABLE && n <= STACK_MODELS && have_avx2()) {
		const unsigned char *tail[STACK_MODELS];
		size_t done;
		bool dyadic;
		if (path >= MUDSC__AVERAGE_AVX512 && have_avx512())
			done = dtype == MUDSC_DTYPE_F16 ? f16_avx512(out, x, w, n, m)
			                                : bf16_avx512(out, x, w, n, m);
		else if (path >= MUDSC__AVERAGE_FILTER && have_fma() && filter_weights(w, n, &dyadic))
			done = dtype == MUDSC_DTYPE_F16 ? f16_filter(out, x, w, n, m, dyadic)
			                                : bf16_filter(out, x, w, n, m, dyadic);
		else
			done = dtype == MUDSC_DTYPE_F16 ? f16_avx2(out, x, w, n, m)
			                                : bf16_avx2(out, x, w, n, m);
		if (done == m)
			return;
		for (size_t i = 0; i < n; i++)
			tail[i] = x[i] + 2 * done;
		half_chunk(dtype, out + 2 * done, tail, w, n, m - done, acc);
		return;
	}
#else
	(void)path;
#endif
	half_chunk(dtype, out, x, w, n, m, acc);
}

int mudsc__average_best_path(void)
{
#ifdef AVERAGE_AVX2
	if (have_avx512())
		return MUDSC__AVERAGE_AVX512;
	if (have_fma())
		return MUDSC__AVERAGE_FILTER;
	if (have_avx2())
		return MUDSC__AVERAGE_DOUBLE;
#endif
	return MUDSC__AVERAGE_PORTABLE;
}

void mudsc__average_rows(mudsc_dtype dtype, void *out, const void *const *x, const double *w,
                         size_t n, size_t m, int path)
{
	const size_t size = mudsc_dtype_size(dtype);
	const unsigned char *at[STACK_MODELS];
	double acc[CHUNK];

	if (n == 0 || n > STACK_MODELS)
		return;
	for (size_t done = 0; done < m; done += CHUNK) {
		size_t c = m - done < CHUNK ? m - done : CHUNK;
		unsigned char *o = (unsigned char *)out + done * size;
		for (size_t i = 0; i < n; i++)
			at[i] = (const unsigned char *)x[i] + done * size;
		if (dtype == MUDSC_DTYPE_F32)
			f32_chunk(o, at, w, n, c, acc, path);
		else if (dtype == MUDSC_DTYPE_F64)
			f64_chunk(o, at, w, n, c, acc);
		else
			half_rows(dtype, o, at, w, n, c, acc, path);
	}
}

/* The job's tasks run over every float tensor: task t is a piece of at
 * most MUDSC__AVERAGE_TASK elements of one tensor, the tensors in
 * models[0]'s order (one parallel for per call, not one per tensor). */
static size_t tensor_tasks(const struct model_tensor *t0)
{
	size_t numel;
	if (t0->nbytes == 0 || !mudsc_dtype_is_float(t0->dtype))
		return 0;
	numel = t0->nbytes / mudsc_dtype_size(t0->dtype);
	return (numel + MUDSC__AVERAGE_TASK - 1) / MUDSC__AVERAGE_TASK;
}

/* Task t: its tensor (j->k, j->out set per task in a copy) and piece. */
static mudsc_status average_task(void *arg, size_t t)
{
	const struct average_job *all = arg;
	struct average_job one = *all, *j = &one;
	const mudsc_model *m0 = all->models[0];
	size_t k = 0, n_tasks;

	/* a linear walk: tensors are few next to the elements of a task */
	while ((n_tasks = tensor_tasks(&m0->tensors[k])) <= t) {
		t -= n_tasks;
		k++;
	}
	const struct model_tensor *t0 = &m0->tensors[k];
	const mudsc_dtype dtype = t0->dtype;
	const size_t size = mudsc_dtype_size(dtype);
	j->k = k;
	j->out = (void *)(uintptr_t)tensor_like(all->dst, k, t0)->data;
	j->numel = t0->nbytes / size;
	const size_t lo = t * MUDSC__AVERAGE_TASK;
	const size_t hi = lo + MUDSC__AVERAGE_TASK < j->numel ? lo + MUDSC__AVERAGE_TASK : j->numel;
	const unsigned char *base[STACK_MODELS], *x[STACK_MODELS];
	double acc[CHUNK];
	const size_t n = j->n < STACK_MODELS ? j->n : STACK_MODELS;
	const size_t rest = j->n - n; /* more models than the stack holds: in groups */

	for (size_t i = 0; i < n; i++)
		base[i] = src_of(j, i);
	for (size_t at = lo; at < hi; at += CHUNK) {
		size_t m = hi - at < CHUNK ? hi - at : CHUNK;
		unsigned char *out = (unsigned char *)j->out + at * size;
		for (size_t i = 0; i < n; i++)
			x[i] = base[i] + at * size;
		if (rest == 0 && dtype == MUDSC_DTYPE_F32)
			f32_chunk(out, x, j->w, n, m, acc, MUDSC__AVERAGE_FAST);
		else if (rest == 0 && dtype == MUDSC_DTYPE_F64)
			f64_chunk(out, x, j->w, n, m, acc);
		else if (rest == 0)
			half_rows(dtype, out, x, j->w, n, m, acc, MUDSC__AVERAGE_FAST);
		else
			many_chunk(j, dtype, out, at, m, acc);
	}
	return MUDSC_OK;
}

/* Write the average into dst; everything was checked.  Non-float tensors
 * are copied from models[0] first, then one parallel for averages all
 * float tensors. */
static mudsc_status average_into(mudsc_model *dst, size_t n, const mudsc_model *const *models,
                                 const double *w, const struct mudsc__exec *ex)
{
	const mudsc_model *m0 = models[0];
	struct average_job j = {.n = n, .models = models, .w = w, .dst = dst};
	size_t tasks = 0;
	double work = 0.0;

	for (size_t k = 0; k < m0->count; k++) {
		const struct model_tensor *t0 = &m0->tensors[k];
		const struct model_tensor *d = tensor_like(dst, k, t0);
		if (t0->nbytes == 0)
			continue;
		if (!mudsc_dtype_is_float(t0->dtype)) {
			if (d->data != t0->data)
				memmove((void *)(uintptr_t)d->data, t0->data, t0->nbytes);
			continue;
		}
		tasks += tensor_tasks(t0);
		work += (double)(t0->nbytes / mudsc_dtype_size(t0->dtype)) * (double)n;
	}
	if (tasks == 0)
		return MUDSC_OK;
	/* tasks never fail: the status is kept for the parallel-for's contract */
	return mudsc__parallel_for(ex, tasks, work, average_task, &j);
}

static mudsc_status take_options(mudsc_average_options *o, const mudsc_average_options *opts,
                                 const char *fn)
{
	mudsc_status st = mudsc__options_read(o, opts, MUDSC__OPTIONS_AVERAGE, fn);
	if (st == MUDSC_OK && o->threads < 0)
		return mudsc__err(MUDSC_E_INVALID, "%s: opts->threads = %d is negative", fn,
		                 (int)o->threads);
	return st;
}

static mudsc_status average_checked(const char *fn, mudsc_model *dst, size_t n_models,
                                    const mudsc_model *const *models, const double *weights,
                                    const mudsc_average_options *opts)
{
	mudsc_average_options o;
	struct mudsc__exec ex;
	double uniform[STACK_MODELS];
	double *w = (double *)(uintptr_t)weights;
	mudsc_status st;

	if (dst == NULL)
		return mudsc__err(MUDSC_E_INVALID, "%s: argument 'dst' is NULL", fn);
	if (models == NULL)
		return mudsc__err(MUDSC_E_INVALID, "%s: argument 'models' is NULL", fn);
	if (n_models == 0)
		return mudsc__err(MUDSC_E_INVALID, "%s: argument 'n_models' is 0", fn);
	for (size_t i = 0; i < n_models; i++)
		if (models[i] == NULL)
			return mudsc__err(MUDSC_E_INVALID, "%s: models[%zu] is NULL", fn, i);
	if ((st = take_options(&o, opts, fn)) != MUDSC_OK ||
	    (st = check_weights(fn, weights, n_models)) != MUDSC_OK)
		return st;
	for (size_t i = 1; i < n_models; i++)
		if ((st = check_like(fn, models[i], (long)i, models[0])) != MUDSC_OK)
			return st;
	if ((st = check_like(fn, dst, -1, models[0])) != MUDSC_OK ||
	    (st = check_dst(fn, dst)) != MUDSC_OK)
		return st;
	if (weights == NULL) {
		if (n_models > STACK_MODELS) {
			w = mudsc__alloc(n_models * sizeof *w, "average weights");
			if (w == NULL)
				return MUDSC_E_NOMEM;
		} else {
			w = uniform;
		}
		for (size_t i = 0; i < n_models; i++)
			w[i] = 1.0 / (double)n_models;
	}
	ex = mudsc__exec_make(o.threads);
	st = average_into(dst, n_models, models, w, &ex);
	if (w != weights && w != uniform)
		free(w);
	return st;
}

MUDSC_API mudsc_status mudsc_average(mudsc_model *dst, int32_t n_models,
                                     const mudsc_model *const *models, const double *weights,
                                     const mudsc_average_options *opts)
{
	if (dst != NULL && models != NULL && n_models < 1)
		return mudsc__err(MUDSC_E_INVALID, "mudsc_average: argument 'n_models' is %d (need >= 1)",
		                 (int)n_models);
	return average_checked("mudsc_average", dst, n_models < 0 ? 0 : (size_t)n_models, models,
	                       weights, opts);
}

MUDSC_API mudsc_status mudsc_average_aligned(mudsc_model *dst, const mudsc_matcher *matcher,
                                             const double *weights,
                                             const mudsc_average_options *opts)
{
	static const char fn[] = "mudsc_average_aligned";
	mudsc_average_options o;
	mudsc_model *merged = NULL;
	const mudsc_model *one[1];
	int32_t n = 0;
	mudsc_status st;

	if (dst == NULL)
		return mudsc__err(MUDSC_E_INVALID, "%s: argument 'dst' is NULL", fn);
	if ((st = mudsc__matcher_ran(matcher, fn, &n)) != MUDSC_OK ||
	    (st = take_options(&o, opts, fn)) != MUDSC_OK ||
	    (st = check_weights(fn, weights, (size_t)n)) != MUDSC_OK ||
	    (st = check_dst(fn, dst)) != MUDSC_OK)
		return st;
	/* the matcher's merge computes the aligned weighted sum, rounded once;
	 * copying it with weight 1 is exact (double holds every float dtype) */
	st = mudsc_matcher_merge(&merged, matcher, weights);
	if (st != MUDSC_OK)
		return st;
	one[0] = merged;
	st = average_checked(fn, dst, 1, one, NULL, &o);
	mudsc_model_free(merged);
	return st;
}
