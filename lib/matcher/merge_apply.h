/*
 * Producing merged tensors from correspondences (docs/algorithm.md
 * section 11).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_MERGE_APPLY_H
#define MUDSC_MERGE_APPLY_H

#include "core/core.h"
#include "matcher/corr.h"
#include "matcher/plan.h"
#include "model/model.h"

/*
 * A new model with every tensor of models[0]'s order:
 *  - only < 0: merged, sum_i w_i T_i' (bound tensors), sum_i w_i T_i (other
 *    float tensors), model 0's bytes (non-float tensors);
 *  - only = i: model i's tensors transformed (T_i'), nothing averaged.
 * Every tensor keeps its dtype.  The tensors are computed on ex's threads,
 * one tensor per task; the result does not depend on the thread count.
 */
mudsc_status mudsc__merge_apply(mudsc_model **out, const struct mudsc__plan *plan,
                               const struct point_corr *corr, const mudsc_model *const *models,
                               const double *weights, int32_t only,
                               const struct mudsc__exec *ex);

/*
 * The same tensors one by one, for the streamed output (merge_file.c).  A
 * job's task k (mudsc__merge_job_task, a mudsc__task_fn over model 0's
 * tensors) computes tensor k's new bytes, if it has any (bound tensors,
 * and unbound float ones when merging); the others are taken as they are
 * from one model.
 */
struct mudsc__merged_tensor {
	void *bytes; /* NULL until computed, and for tensors taken as they are */
	int64_t shape[MUDSC_MAX_RANK];
};

struct mudsc__merge_job {
	const struct mudsc__plan *plan;
	const struct point_corr *corr;
	const mudsc_model *const *models;
	const double *weights;
	int32_t only;
	struct mudsc__strmap first_part; /* tensor name -> its first plan tensor */
	size_t units;                    /* entries of the scale buffers: the widest C */
	size_t members;                  /* entries of the count buffers: the widest N*C' */
	struct mudsc__merged_tensor *out; /* one per tensor of model 0; task k writes out[k] */
};

/* Set up a job (arguments as mudsc__merge_apply); *work = the rough work
 * of all tasks, for mudsc__parallel_for.  Clear it even on failure. */
mudsc_status mudsc__merge_job_init(struct mudsc__merge_job *j, const struct mudsc__plan *plan,
                                  const struct point_corr *corr,
                                  const mudsc_model *const *models, const double *weights,
                                  int32_t only, double *work);
mudsc_status mudsc__merge_job_task(void *job, size_t k);
/* Tensor k of the result: name, dtype, rank, shape and nbytes at any time
 * (the header), data once task k ran (or at once for a tensor taken as it
 * is).  Everything borrowed from the job and the models. */
void mudsc__merge_job_describe(struct model_tensor *desc, const struct mudsc__merge_job *j,
                               size_t k);
/* The stage doubles of one sub-block of rows of the streamed output. */
#ifndef MUDSC__MERGE_BLOCK
#define MUDSC__MERGE_BLOCK ((size_t)1 << 21)
#endif
extern size_t mudsc__merge_block; /* the value used; tests lower it */
/*
 * Blocks of rows, for a large tensor of the streamed output: whether model
 * 0's tensor k can be produced by mudsc__merge_job_rows (a bound tensor of
 * one plan tensor, not split into parts, whose axis 0 is unbound or matched
 * by an assignment, not CCA's dense transform); *rows = its merged axis-0
 * length, *row_stage = the scratch doubles of one row in each of the three
 * stage buffers (each axis at max(before, after), as a whole tensor's).
 */
bool mudsc__merge_job_blockable(const struct mudsc__merge_job *j, size_t k, size_t *rows,
                               size_t *row_stage);
/* A caller's stage buffers for mudsc__merge_job_rows, kept from one block
 * to the next (zero-initialise; mudsc__merge_scratch_free when done). */
struct mudsc__merge_scratch {
	double *a, *b, *acc, *scale, *sel_scale;
	int64_t *counts, *sel_assign; /* sel_*: the rows of a block (rows_in) */
	size_t cap;                   /* elements of a, b, acc */
	double *axis_scale; /* add_permuted: every bound axis's scales, MUDSC_MAX_RANK x units */
	size_t units;
};
void mudsc__merge_scratch_free(struct mudsc__merge_scratch *s);
/*
 * Merged rows [r0, r1) of axis 0 of tensor k into bytes ((r1 - r0) rows of
 * its dtype, C order): the bits of those rows of the whole tensor (each
 * merged row sums the same terms in the same order).  Scratch: s's three
 * buffers of m x row_stage doubles, m = the most rows of one model that
 * reach the block (r1 - r0 for a permutation), grown when a block needs
 * more and otherwise reused.  Safe to call from several threads at once
 * on different blocks, each with its own s.
 */
mudsc_status mudsc__merge_job_rows(const struct mudsc__merge_job *j, size_t k, size_t r0,
                                  size_t r1, void *bytes, struct mudsc__merge_scratch *s);
/* Free tensor k's computed bytes (a later task k computes them again). */
void mudsc__merge_job_release(struct mudsc__merge_job *j, size_t k);
void mudsc__merge_job_clear(struct mudsc__merge_job *j);

#endif /* MUDSC_MERGE_APPLY_H */
