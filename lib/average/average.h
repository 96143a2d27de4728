/*
 * The average room's door: weighted averaging of N models in place into a
 * destination model (average.c), plain and aligned through the matcher's
 * merge.  Nothing else of the library calls into it.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_AVERAGE_ROOM_H
#define MUDSC_AVERAGE_ROOM_H

#include "mudsc/average.h"
#include "core/core.h"

/* Elements of one task of the element loop (a tensor is cut into tasks of
 * this many elements, each averaged through a stack buffer of doubles). */
#define MUDSC__AVERAGE_TASK 65536

/* The paths of the element loop, for the tests (the same bits each,
 * docs/algorithm.md sections 16.4 and 16.5), slowest first: the portable C
 * loop; the AVX2 vectors summing in double (F16, BF16, F32); for F16 and
 * BF16 the float filter of 16.4 (AVX2, F16C and FMA; F32: AVX2), with the
 * AVX2 double vectors near a rounding boundary; the AVX-512 vectors
 * summing in double (F16, BF16, F32; 16.5); and _FAST, the best of them
 * the CPU has, which mudsc_average takes.  A path the CPU lacks runs as
 * the best one below it that it has. */
enum {
	MUDSC__AVERAGE_PORTABLE = 0,
	MUDSC__AVERAGE_DOUBLE = 1,
	MUDSC__AVERAGE_FILTER = 2,
	MUDSC__AVERAGE_AVX512 = 3,
	MUDSC__AVERAGE_FAST = 4
};

/* The path _FAST takes on this CPU (one of _PORTABLE .. _AVX512; F16 and
 * BF16 weights the filter cannot take go from _FILTER to _DOUBLE). */
int mudsc__average_best_path(void);

/* The element loop of mudsc_average on rows, for the tests: out[e] =
 * sum_i w[i] * x[i][e] (i < n, in order, in double) rounded once to dtype
 * (F16, BF16, F32 or F64), e < m; n <= 32 (more: nothing is written),
 * through path (one of the MUDSC__AVERAGE_ values). */
void mudsc__average_rows(mudsc_dtype dtype, void *out, const void *const *x, const double *w,
                         size_t n, size_t m, int path);

#endif /* MUDSC_AVERAGE_ROOM_H */
