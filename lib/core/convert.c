/*
 * Float dtype conversions (see convert.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>

#include "core/convert.h"

static inline uint32_t f32_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return u;
}

static inline float bits_f32(uint32_t u)
{
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

float mudsc__f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
	uint32_t exp = (h >> 10) & 0x1fu;
	uint32_t man = h & 0x3ffu;

	if (exp == 0x1f) /* inf or NaN: keep the payload's top bits */
		return bits_f32(sign | 0x7f800000u | (man << 13));
	if (exp != 0)
		return bits_f32(sign | ((exp + 112u) << 23) | (man << 13));
	if (man == 0)
		return bits_f32(sign);
	/* subnormal: value = man * 2^-24, exact in binary32 */
	float v = (float)man * 5.9604644775390625e-8f;
	return (h & 0x8000u) ? -v : v;
}

uint16_t mudsc__f32_to_f16(float f)
{
	uint32_t u = f32_bits(f);
	uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
	uint32_t abs = u & 0x7fffffffu;

	if (abs >= 0x7f800000u) /* inf or NaN */
		return (uint16_t)(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u));
	if (abs >= 0x477ff000u) /* rounds to >= 65520: overflow to inf */
		return (uint16_t)(sign | 0x7c00u);
	if (abs < 0x38800000u) { /* below the smallest normal half: subnormal or zero */
		if (abs < 0x33000000u) /* below half the smallest subnormal: rounds to 0 */
			return sign;
		uint32_t exp = abs >> 23;
		uint32_t man = (abs & 0x7fffffu) | 0x800000u;
		uint32_t shift = 126u - exp; /* 14 .. 24 */
		uint32_t half = man >> shift;
		uint32_t rem = man & ((1u << shift) - 1u);
		uint32_t mid = 1u << (shift - 1u);
		if (rem > mid || (rem == mid && (half & 1u)))
			half++;
		return (uint16_t)(sign | half);
	}
	/* normal: rebias exponent, round the 13 dropped mantissa bits to nearest even */
	uint32_t r = abs - 0x38000000u; /* exponent bias 127 -> 15 */
	uint32_t lsb = (r >> 13) & 1u;
	r += 0xfffu + lsb;
	return (uint16_t)(sign | (r >> 13));
}

uint16_t mudsc__f32_to_bf16(float f)
{
	uint32_t u = f32_bits(f);

	if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: keep it quiet */
		return (uint16_t)((u >> 16) | 0x40u);
	u += 0x7fffu + ((u >> 16) & 1u);
	return (uint16_t)(u >> 16);
}

double mudsc__load_f64(mudsc_dtype dtype, const void *src, size_t i)
{
	const unsigned char *p = src;
	double d;

	switch (dtype) {
	case MUDSC_DTYPE_F16:
	case MUDSC_DTYPE_BF16:
	case MUDSC_DTYPE_F32:
		return mudsc__load_f32(dtype, src, i);
	case MUDSC_DTYPE_F64:
		memcpy(&d, p + 8 * i, 8);
		return d;
	default:
		return 0.0;
	}
}

/* ---- F16C: x86 half conversions, detected at run time ------------------- */

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define CONVERT_X86 1
#include <cpuid.h>
#include <immintrin.h>
#include <stdatomic.h>

/* CPUID leaf 1, ECX; XCR0 bits of the SSE and AVX register state. */
#define CPUID1_ECX_OSXSAVE (1u << 27)
#define CPUID1_ECX_AVX (1u << 28)
#define CPUID1_ECX_F16C (1u << 29)
#define XCR0_SSE_AVX 0x6u

/* F16C writes YMM registers: the CPU needs F16C and AVX, and the OS must
 * save YMM state on context switches (OSXSAVE set, XCR0 has SSE and AVX),
 * or the instructions fault. */
static bool f16c_detect(void)
{
	unsigned int eax, ebx, ecx, edx;
	uint32_t xcr0, xcr0_high;
	const unsigned int need = CPUID1_ECX_OSXSAVE | CPUID1_ECX_AVX | CPUID1_ECX_F16C;

	if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || (ecx & need) != need)
		return false;
	/* inline asm: the _xgetbv intrinsic would need the xsave target */
	__asm__ volatile("xgetbv" : "=a"(xcr0), "=d"(xcr0_high) : "c"(0));
	return (xcr0 & XCR0_SSE_AVX) == XCR0_SSE_AVX;
}

bool mudsc__cpu_has_f16c(void)
{
	/* 0: not detected yet, 1: no, 2: yes.  Threads racing on the first
	 * call all store the same answer. */
	static atomic_int state;
	int s = atomic_load_explicit(&state, memory_order_relaxed);

	if (s == 0) {
		s = f16c_detect() ? 2 : 1;
		atomic_store_explicit(&state, s, memory_order_relaxed);
	}
	return s == 2;
}

__attribute__((target("avx,f16c"))) static size_t f16_row_f16c(float *dst,
                                                                 const unsigned char *p, size_t n)
{
	size_t c = 0;

	for (; c + 8 <= n; c += 8) {
		__m128i h = _mm_loadu_si128((const __m128i *)(const void *)(p + 2 * c));
		_mm256_storeu_ps(dst + c, _mm256_cvtph_ps(h));
	}
	return c;
}
#else
bool mudsc__cpu_has_f16c(void)
{
	return false;
}
#endif

void mudsc__f16_row_to_f32(float *dst, const void *src, size_t n, bool use_f16c)
{
	const unsigned char *p = src;
	size_t c = 0;
	uint16_t h;

#ifdef CONVERT_X86
	if (use_f16c && mudsc__cpu_has_f16c())
		c = f16_row_f16c(dst, p, n);
#else
	(void)use_f16c;
#endif
	for (; c < n; c++) {
		memcpy(&h, p + 2 * c, 2);
		dst[c] = mudsc__f16_to_f32(h);
	}
}

/* ---- rows --------------------------------------------------------------- */

void mudsc__convert_strided_to_f64(mudsc_dtype dtype, const void *src, ptrdiff_t step, size_t n,
                                  double *dst)
{
	const unsigned char *p = src;
	uint16_t h;
	float f;

	/* One loop per dtype so the inner loop has no switch. */
	switch (dtype) {
	case MUDSC_DTYPE_F32:
		for (size_t k = 0; k < n; k++, p += step) {
			memcpy(&f, p, 4);
			dst[k] = f;
		}
		return;
	case MUDSC_DTYPE_F64:
		for (size_t k = 0; k < n; k++, p += step)
			memcpy(&dst[k], p, 8);
		return;
	case MUDSC_DTYPE_F16:
		for (size_t k = 0; k < n; k++, p += step) {
			memcpy(&h, p, 2);
			dst[k] = mudsc__f16_to_f32(h);
		}
		return;
	case MUDSC_DTYPE_BF16:
		for (size_t k = 0; k < n; k++, p += step) {
			memcpy(&h, p, 2);
			dst[k] = mudsc__bf16_to_f32(h);
		}
		return;
	default:
		for (size_t k = 0; k < n; k++)
			dst[k] = 0.0;
		return;
	}
}

void mudsc__convert_to_f64(mudsc_dtype dtype, const void *src, size_t n, double *dst)
{
	if (dtype == MUDSC_DTYPE_F64) {
		memcpy(dst, src, n * sizeof *dst);
		return;
	}
	mudsc__convert_strided_to_f64(dtype, src, (ptrdiff_t)mudsc_dtype_size(dtype), n, dst);
}

void mudsc__convert_to_f32(mudsc_dtype dtype, const void *src, size_t n, float *dst)
{
	const unsigned char *p = src;
	uint16_t h;

	switch (dtype) {
	case MUDSC_DTYPE_F32:
		memcpy(dst, src, n * sizeof *dst);
		return;
	case MUDSC_DTYPE_F16:
		mudsc__f16_row_to_f32(dst, src, n, true);
		return;
	case MUDSC_DTYPE_BF16:
		for (size_t i = 0; i < n; i++) {
			memcpy(&h, p + 2 * i, 2);
			dst[i] = mudsc__bf16_to_f32(h);
		}
		return;
	default:
		for (size_t i = 0; i < n; i++)
			dst[i] = (float)mudsc__load_f64(dtype, src, i);
		return;
	}
}

/* d rounded to float by round-to-odd: truncated toward zero, with the last
 * bit set when inexact.  Rounding that float to F16 (11 bits) or BF16
 * (8 bits) to nearest even then equals rounding d directly, because float's
 * 24 bits are at least 2p + 2 (Boldo and Melquiond, "When double rounding
 * is odd"); plain (float)d would round twice and miss ties. */
static float round_to_odd_f32(double d)
{
	float f = (float)d;
	uint32_t u;

	if (isnan(d) || (double)f == d)
		return f;
	u = f32_bits(f);
	if (fabs((double)f) > fabs(d))
		u--; /* (float)d rounded away from zero (inf included): step back */
	return bits_f32(u | 1u);
}

uint16_t mudsc__f64_to_f16(double d)
{
	return mudsc__f32_to_f16(round_to_odd_f32(d));
}

uint16_t mudsc__f64_to_bf16(double d)
{
	return mudsc__f32_to_bf16(round_to_odd_f32(d));
}

#ifdef CONVERT_X86
/* Eight at a time: each double rounded to odd in float (exact for the
 * second rounding, as above), then F16C's round to nearest even: the same
 * bits as mudsc__f64_to_f16 (a NaN included: quiet, its sign, no payload). */
__attribute__((target("avx,f16c"))) static size_t f16_from_f64_f16c(unsigned char *p,
                                                                      const double *src, size_t n)
{
	float odd[8];
	size_t c = 0;

	for (; c + 8 <= n; c += 8) {
		for (size_t k = 0; k < 8; k++) {
			odd[k] = round_to_odd_f32(src[c + k]);
			if (isnan(odd[k])) /* the NaN mudsc__f32_to_f16 gives: sign, no payload */
				odd[k] = bits_f32((f32_bits(odd[k]) & 0x80000000u) | 0x7fc00000u);
		}
		__m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(odd), _MM_FROUND_TO_NEAREST_INT);
		_mm_storeu_si128((__m128i *)(void *)(p + 2 * c), h);
	}
	return c;
}
#endif

/* d to BF16 for |d| in [2^-126, 2^128) (a normal float, bar overflow):
 * rounded to nearest even at 8 significant bits directly on the double's
 * bits (add 2^44 - 1 plus the last kept bit, clear the 45 dropped ones),
 * which leaves a value float holds exactly.  Others (subnormal results,
 * zero, inf, NaN) go through mudsc__f64_to_bf16; the same value either way. */
static inline uint16_t f64_to_bf16_row(double d)
{
	uint64_t u, a;
	double r;
	float f;
	uint32_t b;

	memcpy(&u, &d, 8);
	a = u & UINT64_C(0x7fffffffffffffff);
	if (a < UINT64_C(0x3810000000000000) || a >= UINT64_C(0x47f0000000000000))
		return mudsc__f64_to_bf16(d);
	u += UINT64_C(0x00000fffffffffff) + ((u >> 45) & 1u);
	u &= ~UINT64_C(0x00001fffffffffff);
	if ((u & UINT64_C(0x7fffffffffffffff)) >= UINT64_C(0x47f0000000000000))
		return (uint16_t)((u >> 48) & 0x8000u) | 0x7f80u; /* rounded up to 2^128: inf */
	memcpy(&r, &u, 8);
	f = (float)r;
	memcpy(&b, &f, 4);
	return (uint16_t)(b >> 16);
}

void mudsc__convert_from_f64(mudsc_dtype dtype, const double *src, size_t n, void *dst)
{
	unsigned char *p = dst;
	size_t i = 0;
	uint16_t h;
	float f;

	/* One loop per dtype so the inner loop has no switch. */
	switch (dtype) {
	case MUDSC_DTYPE_F16:
#ifdef CONVERT_X86
		if (mudsc__cpu_has_f16c())
			i = f16_from_f64_f16c(p, src, n);
#endif
		for (; i < n; i++) {
			h = mudsc__f64_to_f16(src[i]);
			memcpy(p + 2 * i, &h, 2);
		}
		return;
	case MUDSC_DTYPE_BF16:
		for (; i < n; i++) {
			h = f64_to_bf16_row(src[i]);
			memcpy(p + 2 * i, &h, 2);
		}
		return;
	case MUDSC_DTYPE_F32:
		for (; i < n; i++) {
			f = (float)src[i];
			memcpy(p + 4 * i, &f, 4);
		}
		return;
	case MUDSC_DTYPE_F64:
		memcpy(p, src, n * sizeof *src);
		return;
	default:
		return;
	}
}
