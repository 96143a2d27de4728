/*
 * Float dtype conversions (see convert.h).
 *
 * SPDX-License-Identifier: MIT
 */
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
	uint16_t h;
	float f;
	double d;

	switch (dtype) {
	case MUDSC_DTYPE_F16:
		memcpy(&h, p + 2 * i, 2);
		return mudsc__f16_to_f32(h);
	case MUDSC_DTYPE_BF16:
		memcpy(&h, p + 2 * i, 2);
		return mudsc__bf16_to_f32(h);
	case MUDSC_DTYPE_F32:
		memcpy(&f, p + 4 * i, 4);
		return f;
	case MUDSC_DTYPE_F64:
		memcpy(&d, p + 8 * i, 8);
		return d;
	default:
		return 0.0;
	}
}

void mudsc__convert_to_f64(mudsc_dtype dtype, const void *src, size_t n, double *dst)
{
	if (dtype == MUDSC_DTYPE_F64) {
		memcpy(dst, src, n * sizeof *dst);
		return;
	}
	for (size_t i = 0; i < n; i++)
		dst[i] = mudsc__load_f64(dtype, src, i);
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
		for (size_t i = 0; i < n; i++) {
			memcpy(&h, p + 2 * i, 2);
			dst[i] = mudsc__f16_to_f32(h);
		}
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

void mudsc__convert_from_f64(mudsc_dtype dtype, const double *src, size_t n, void *dst)
{
	unsigned char *p = dst;
	uint16_t h;
	float f;

	for (size_t i = 0; i < n; i++) {
		switch (dtype) {
		case MUDSC_DTYPE_F16:
			h = mudsc__f32_to_f16((float)src[i]);
			memcpy(p + 2 * i, &h, 2);
			break;
		case MUDSC_DTYPE_BF16:
			h = mudsc__f32_to_bf16((float)src[i]);
			memcpy(p + 2 * i, &h, 2);
			break;
		case MUDSC_DTYPE_F32:
			f = (float)src[i];
			memcpy(p + 4 * i, &f, 4);
			break;
		case MUDSC_DTYPE_F64:
			memcpy(p + 8 * i, &src[i], 8);
			break;
		default:
			return;
		}
	}
}
