/*
 * Tensor axis operations of the matcher, on double C-order tensors viewed
 * as (outer, L, inner) around the axis of length L.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_AXIS_OPS_H
#define MUDSC_AXIS_OPS_H

#include <stddef.h>
#include <stdint.h>

/* outer = product of shape[0..axis), inner = product of shape(axis..rank). */
void mudsc__axis_split(int32_t rank, const int64_t *shape, int32_t axis, size_t *outer,
                      size_t *inner);

/*
 * Contract `axis` (length L) with the L x Lout matrix X whose row u has a
 * single entry scale[u] (scale NULL = 1) in column assign[u] (assign[u] < 0:
 * an empty row): dst[o, j, i] = sum over u with assign[u] = j of
 * scale[u] * src[o, u, i].  dst (outer x Lout x inner) is overwritten.
 * Merge, unmerge and the weighted merge matrices all have this form.
 */
void mudsc__axis_contract(double *dst, const double *src, size_t outer, int64_t L, size_t inner,
                         const int64_t *assign, const double *scale, int64_t Lout);

/* dst (L rows of outer*inner, row u at dst + u*ld) = src (outer x L x inner)
 * with the axis moved to the front. */
void mudsc__axis_to_front(double *dst, size_t ld, const double *src, size_t outer, int64_t L,
                         size_t inner);

/* 1 if assign (length L) is the identity onto Lout = L units, else 0. */
int mudsc__axis_is_identity(const int64_t *assign, int64_t L, int64_t Lout);

#endif /* MUDSC_AXIS_OPS_H */
