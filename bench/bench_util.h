/*
 * What every C bench needs: a monotonic clock, the library's message on a
 * failed call, and a comparison for qsort of doubles (medians).  Header-only
 * (static functions): each bench is one translation unit.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_BENCH_UTIL_H
#define MUDSC_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mudsc/mudsc.h"

/* Seconds on the monotonic clock. */
static inline double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Exit with the library's message unless st is MUDSC_OK. */
static inline void check(mudsc_status st)
{
	if (st != MUDSC_OK) {
		fprintf(stderr, "%s\n", mudsc_error_message());
		exit(1);
	}
}

/* qsort's comparison of doubles, ascending. */
static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

#endif /* MUDSC_BENCH_UTIL_H */
