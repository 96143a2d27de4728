/*
 * Axis contraction and transposition for the matcher (see axis_ops.h).
 * Both are bandwidth-bound gathers; the inner dimension is contiguous.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>
#include <string.h>

#include "matcher/axis_ops.h"

void mudsc__axis_split(int32_t rank, const int64_t *shape, int32_t axis, size_t *outer,
                      size_t *inner)
{
	*outer = 1;
	*inner = 1;
	for (int32_t d = 0; d < axis; d++)
		*outer *= (size_t)shape[d];
	for (int32_t d = axis + 1; d < rank; d++)
		*inner *= (size_t)shape[d];
}

/* 1 if assign maps [0, L) one-to-one onto [0, Lout) (L == Lout); seen:
 * Lout bytes of scratch. */
static int is_bijection(const int64_t *assign, int64_t L, int64_t Lout, unsigned char *seen)
{
	if (L != Lout)
		return 0;
	memset(seen, 0, (size_t)Lout);
	for (int64_t u = 0; u < L; u++) {
		if (assign[u] < 0 || assign[u] >= Lout || seen[assign[u]])
			return 0;
		seen[assign[u]] = 1;
	}
	return 1;
}

void mudsc__axis_contract(double *dst, const double *src, size_t outer, int64_t L, size_t inner,
                         const int64_t *assign, const double *scale, int64_t Lout)
{
	/* A permutation (align, every transform): each destination row has
	 * exactly one source row, so it is written once as 0 + f * x, the same
	 * operations as the general path (zeroed, then one f * x added) without
	 * the zeroing pass and the read-back. */
	unsigned char small[4096], *seen = (size_t)Lout <= sizeof small ? small : malloc((size_t)Lout);
	int perm = seen != NULL && is_bijection(assign, L, Lout, seen);
	if (seen != small)
		free(seen);
	if (perm) {
		for (size_t o = 0; o < outer; o++) {
			const double *s = src + o * (size_t)L * inner;
			double *d = dst + o * (size_t)Lout * inner;
			for (int64_t u = 0; u < L; u++) {
				double f = scale ? scale[u] : 1.0;
				const double *su = s + (size_t)u * inner;
				double *dj = d + (size_t)assign[u] * inner;
				for (size_t i = 0; i < inner; i++)
					dj[i] = 0.0 + f * su[i];
			}
		}
		return;
	}
	memset(dst, 0, outer * (size_t)Lout * inner * sizeof *dst);
	for (size_t o = 0; o < outer; o++) {
		const double *s = src + o * (size_t)L * inner;
		double *d = dst + o * (size_t)Lout * inner;
		for (int64_t u = 0; u < L; u++) {
			if (assign[u] < 0)
				continue;
			double f = scale ? scale[u] : 1.0;
			const double *su = s + (size_t)u * inner;
			double *dj = d + (size_t)assign[u] * inner;
			for (size_t i = 0; i < inner; i++)
				dj[i] += f * su[i];
		}
	}
}

void mudsc__axis_to_front(double *dst, size_t ld, const double *src, size_t outer, int64_t L,
                         size_t inner)
{
	if (inner >= 16) {
		for (size_t o = 0; o < outer; o++)
			for (int64_t u = 0; u < L; u++)
				memcpy(dst + (size_t)u * ld + o * inner,
				       src + (o * (size_t)L + (size_t)u) * inner, inner * sizeof *dst);
		return;
	}
	/* short pieces (an IN axis with a 3x3 kernel: 9): copied row by row of
	 * dst, which is then written in order, without a call per piece */
	for (int64_t u = 0; u < L; u++) {
		double *d = dst + (size_t)u * ld;
		const double *s = src + (size_t)u * inner;
		for (size_t o = 0; o < outer; o++, d += inner, s += (size_t)L * inner)
			for (size_t i = 0; i < inner; i++)
				d[i] = s[i];
	}
}

int mudsc__axis_is_identity(const int64_t *assign, int64_t L, int64_t Lout)
{
	if (L != Lout)
		return 0;
	for (int64_t u = 0; u < L; u++)
		if (assign[u] != u)
			return 0;
	return 1;
}
