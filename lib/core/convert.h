/*
 * Conversions between the float dtypes the numeric routines accept
 * (F16, BF16, F32, F64) and float/double: the library's one set of them,
 * scalar and row-wise.  Sources may be unaligned.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_CONVERT_H
#define MUDSC_CONVERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mudsc/common.h"

/* ---- scalars ------------------------------------------------------------ */

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

/* binary64 -> binary16 / bfloat16, correctly rounded (to nearest even, one
 * rounding: no double rounding through float); overflow to inf, NaN stays NaN. */
uint16_t mudsc__f64_to_f16(double d);
uint16_t mudsc__f64_to_bf16(double d);

/* Element i of a contiguous F32, F16, BF16 (exact) or F64 (rounded) array
 * as float.  Inline: loops that read one element at a time (the streaming
 * engine's transposing route) keep the conversion in the loop body. */
static inline float mudsc__load_f32(mudsc_dtype dtype, const void *src, size_t i)
{
	const unsigned char *p = src;
	uint16_t h;
	float f;
	double d;

	if (dtype == MUDSC_DTYPE_F32) {
		memcpy(&f, p + 4 * i, 4);
		return f;
	}
	if (dtype == MUDSC_DTYPE_F64) {
		memcpy(&d, p + 8 * i, 8);
		return (float)d;
	}
	memcpy(&h, p + 2 * i, 2);
	return dtype == MUDSC_DTYPE_F16 ? mudsc__f16_to_f32(h) : mudsc__bf16_to_f32(h);
}

/* Read element i of a contiguous float array of the given dtype (F16, BF16,
 * F32 or F64) as double.  src may be unaligned. */
double mudsc__load_f64(mudsc_dtype dtype, const void *src, size_t i);

/* ---- rows --------------------------------------------------------------- */

/* Whether this machine runs the x86 F16C conversions: the CPU has F16C and
 * AVX (CPUID) and the OS saves the AVX registers (OSXSAVE and XCR0).
 * Detected on the first call, then cached; safe from any thread.  False on
 * other architectures. */
bool mudsc__cpu_has_f16c(void);

/* n contiguous halves to float, exact.  With use_f16c and a machine that
 * has F16C, 8 at a time with the F16C instructions (the same values; a
 * signalling NaN comes out quiet), else one at a time. */
void mudsc__f16_row_to_f32(float *dst, const void *src, size_t n, bool use_f16c);

/* Convert n contiguous elements to double / float (F16 through F16C when
 * the machine has it). */
void mudsc__convert_to_f64(mudsc_dtype dtype, const void *src, size_t n, double *dst);
void mudsc__convert_to_f32(mudsc_dtype dtype, const void *src, size_t n, float *dst);

/* Convert n elements that lie `step` bytes apart (negative or 0 allowed)
 * to double: dst[k] = element at src + k * step. */
void mudsc__convert_strided_to_f64(mudsc_dtype dtype, const void *src, ptrdiff_t step, size_t n,
                                  double *dst);

/* Store n doubles as dtype, each rounded once to nearest even (F16 and BF16
 * through mudsc__f64_to_f16/bf16, F32 by the cast). */
void mudsc__convert_from_f64(mudsc_dtype dtype, const double *src, size_t n, void *dst);

#endif /* MUDSC_CONVERT_H */
