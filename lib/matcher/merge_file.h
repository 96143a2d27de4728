/*
 * The merged or transformed model written straight to a safetensors file
 * (mudsc_matcher_merge_to_file(), _transform_to_file()).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_MERGE_FILE_H
#define MUDSC_MERGE_FILE_H

#include "mudsc/matcher.h"
#include "matcher/merge_apply.h"

/*
 * Write what mudsc__merge_apply(plan, corr, models, weights, only, ex)
 * returns to path, as mudsc_model_save() would, atomically, computing
 * ex->threads tensors at a time.  progress (may be NULL) is called before
 * each tensor k with (k, -1, fraction of the bytes written) and once at
 * the end with (count, -1, 1.0); non-zero before a tensor cancels
 * (MUDSC_E_CANCELLED, nothing left at path).  fn names the public call.
 */
mudsc_status mudsc__merge_to_file(const char *fn, const char *path,
                                 const struct mudsc__plan *plan, const struct point_corr *corr,
                                 const mudsc_model *const *models, const double *weights,
                                 int32_t only, const struct mudsc__exec *ex,
                                 mudsc_progress_fn progress, void *progress_user);

#endif /* MUDSC_MERGE_FILE_H */
