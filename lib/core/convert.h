/*
 * Conversions between the float dtypes the numeric routines accept
 * (F16, BF16, F32, F64) and float/double.  Sources may be unaligned.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_CONVERT_H
#define MUDSC_CONVERT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mudsc/common.h"

/* IEEE binary16 -> binary32, exact (subnormals, inf and NaN kept). */
float mudsc__f16_to_f32(uint16_t h);
/* binary32 -> binary16, round to nearest even; overflow to inf, NaN stays NaN. */
uint16_t mudsc__f32_to_f16(float f);
/* bfloat16 -> binary32, exact. */
static inline float mudsc__bf16_to_f32(uint16_t b)
{
	uint32_t u = (uint32_t)b << 16;
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}
/* binary32 -> bfloat16, round to nearest even; NaN stays NaN. */
uint16_t mudsc__f32_to_bf16(float f);

/* Read element i of a contiguous float array of the given dtype (F16, BF16,
 * F32 or F64) as double.  src may be unaligned. */
double mudsc__load_f64(mudsc_dtype dtype, const void *src, size_t i);

/* Convert n contiguous elements to double / float. */
void mudsc__convert_to_f64(mudsc_dtype dtype, const void *src, size_t n, double *dst);
void mudsc__convert_to_f32(mudsc_dtype dtype, const void *src, size_t n, float *dst);

/* Store n doubles as dtype (F16/BF16 rounded to nearest even through float;
 * F32 rounded to nearest). */
void mudsc__convert_from_f64(mudsc_dtype dtype, const double *src, size_t n, void *dst);

#endif /* MUDSC_CONVERT_H */
