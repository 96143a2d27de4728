/*
 * The correct room's door: corrections of a merged model after matching
 * (include/mudsc/correct.h).  repair.c is REPAIR (docs/algorithm.md,
 * section 17), lsq.c the least-squares correction (section 23); they read the matcher, the graph and the statistics through
 * their public calls only.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_CORRECT_ROOM_H
#define MUDSC_CORRECT_ROOM_H

#include "mudsc/correct.h"
#include "core/core.h"

/* The producer of a point's units that REPAIR folds its correction into:
 * scale[0..n_scale-1] are scaled along axis 0, shift (one of them) also
 * receives the shift.  Names are borrowed from the graph. */
struct mudsc__producer {
	const char *scale[2];
	size_t n_scale;
	const char *shift;
};

/* Find point q's producer (docs/algorithm.md 14.2) among its OUT bindings,
 * ranks read from model.  *found = false when no rule fits.  Errors:
 * MUDSC_E_NOT_FOUND naming fn, the point and the tensor missing from model. */
mudsc_status mudsc__producer_find(struct mudsc__producer *out, bool *found,
                                  const mudsc_graph *graph, size_t q, const mudsc_model *model,
                                  const char *fn);

/* A new model *out holding src's metadata (the start of every corrected
 * copy: repair.c, lsq.c).  MUDSC_E_NOMEM; *out untouched on error. */
mudsc_status mudsc__correct_copy_start(mudsc_model **out, const mudsc_model *src);

/* MUDSC_E_INVALID naming fn and the first non-finite weights[i] of n
 * (weights NULL: the default 1/N, nothing to check); args.c. */
mudsc_status mudsc__correct_check_weights(const double *weights, int32_t n, const char *fn);

#endif /* MUDSC_CORRECT_ROOM_H */
