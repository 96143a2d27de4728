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

/* The element loop of mudsc_average on rows, for the tests: out[e] =
 * sum_i w[i] * x[i][e] (i < n, in order, in double) rounded once to dtype
 * (F16, BF16, F32 or F64), e < m; n <= 32 (more: nothing is written).
 * simd false forces the portable path for F16 and BF16, true takes the
 * AVX2/F16C path when the CPU has it (the same bits, docs/algorithm.md
 * section 16). */
void mudsc__average_rows(mudsc_dtype dtype, void *out, const void *const *x, const double *w,
                         size_t n, size_t m, bool simd);

#endif /* MUDSC_AVERAGE_ROOM_H */
