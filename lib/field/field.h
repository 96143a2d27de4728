/*
 * The field room's door: ModelGiF field distances (mudsc_field, public
 * header mudsc/field.h) and the quadrature rules of their path.
 *
 *   quad.c        mudsc_quadrature(): Gauss-Legendre by Golub-Welsch
 *                 (core/lapack.h dstev) and the Riemann rules
 *   field.c       the handle: batches, the stream engine's consumer (the
 *                 engine's second consumer after lib/accum), merge, results
 *   field_file.c  the "MUDSCGIF" byte format (docs/field-format.md)
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_FIELD_ROOM_H
#define MUDSC_FIELD_ROOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "mudsc/field.h"
#include "stream/stream.h"

/* The state every part of the room shares.  Pair sums are kept for i < j
 * at index i * N + j of an N x N block. */
struct mudsc_field {
	int32_t n;                 /* N */
	int32_t k;                 /* K */
	int32_t rule;
	bool keep_inputs;
	int64_t d;                 /* D */
	mudsc_field_options opts;
	double *nodes, *weights;   /* K each */
	double *step_sums;         /* K * N * N: sum over inputs of 1 - cos at step k */
	int64_t inputs;            /* inputs of closed batches */
	double *input_sums;        /* inputs * N * N (keep_inputs): sum over steps */
	size_t input_cap;          /* inputs input_sums has room for */
	mudsc__stream_config cfg;  /* the engine's */
	mudsc__stream *stream;     /* NULL until the first batch opens */
	/* the open batch */
	bool open;
	int64_t batch;             /* B */
	int64_t first;             /* stream index of the batch's first observation */
	double *xb;                /* B * D: x - b */
	double *cum;               /* N * B * D: running sum of w_k g_k per model and input */
	double *batch_inputs;      /* B * N * N (keep_inputs) */
	double *f;                 /* N * D: the field of one row (from the first batch on) */
	double *gram;              /* N * N: the fields' dot products (upper triangle) */
	size_t batch_cap;          /* B the batch buffers have room for */
};

/* quad.c: the rule into nodes and weights (arguments checked by the caller,
 * except the eigenvalue failure, MUDSC_E_NUMERIC naming fn). */
mudsc_status mudsc__quad_fill(double *nodes, double *weights, int32_t rule, int64_t steps,
                             const char *fn);

/* field.c: a handle of the given shape with sums zeroed and no inputs
 * (load uses it); opts already taken. */
mudsc_status mudsc__field_create(mudsc_field **out, int32_t n, int64_t d, int32_t rule,
                                int32_t k, bool keep_inputs, const mudsc_field_options *opts,
                                const char *fn);

/* field.c: room for `count` inputs in input_sums. */
mudsc_status mudsc__field_reserve_inputs(mudsc_field *f, int64_t count);

#endif /* MUDSC_FIELD_ROOM_H */
