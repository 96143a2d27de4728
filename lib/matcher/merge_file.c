/*
 * Streamed merged output: the merged (or transformed) model written to a
 * safetensors file tensor by tensor, the header computed first from the
 * merged shapes, atomically.  The tensors are those of merge_apply.c (the
 * same tasks), computed a window of `threads` tensors at a time, so the
 * memory held at once is that window's scratch, not the whole model.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>

#include "core/core.h"
#include "matcher/merge_file.h"
#include "model/model.h"

struct file_job {
	struct mudsc__merge_job job;
	const struct mudsc__exec *ex;
	struct model_tensor *desc; /* the result's tensors, model 0's order */
	size_t count;
	size_t lo, hi;             /* the window computed: tensors lo .. hi-1 */
	size_t total, written;     /* bytes of all tensors, bytes before tensor k */
	mudsc_progress_fn progress;
	void *progress_user;
	const char *fn;
};

struct window {
	struct mudsc__merge_job *job;
	size_t lo;
};

static mudsc_status window_task(void *arg, size_t k)
{
	struct window *w = arg;
	return mudsc__merge_job_task(w->job, w->lo + k);
}

static void release_window(struct file_job *f)
{
	for (size_t k = f->lo; k < f->hi; k++)
		mudsc__merge_job_release(&f->job, k);
	f->lo = f->hi = 0;
}

/* The rough work of tensors lo .. hi-1 (as merge_apply's whole loop). */
static double window_work(const struct file_job *f, size_t lo, size_t hi)
{
	double elements = 0.0;
	for (size_t k = lo; k < hi; k++)
		elements += (double)(f->desc[k].nbytes / mudsc_dtype_size(f->desc[k].dtype));
	return 4.0 * elements * (double)f->job.plan->n_models;
}

static mudsc_status next_tensor(void *arg, size_t k, const void **data)
{
	struct file_job *f = arg;

	if (k == 0)
		f->written = 0;
	if (f->progress != NULL &&
	    f->progress((int64_t)k, -1, f->total ? (double)f->written / (double)f->total : 0.0,
	                f->progress_user))
		return mudsc__err(MUDSC_E_CANCELLED, "%s: cancelled by the progress callback before "
		                                    "tensor %zu of %zu; nothing was written",
		                  f->fn, k, f->count);
	if (k < f->lo || k >= f->hi) {
		release_window(f);
		struct window w = {&f->job, k};
		size_t hi = k + (size_t)f->ex->threads;
		hi = hi > f->count ? f->count : hi;
		mudsc_status st =
			mudsc__parallel_for(f->ex, hi - k, window_work(f, k, hi), window_task, &w);
		f->lo = k;
		f->hi = hi;
		if (st != MUDSC_OK)
			return st;
	}
	mudsc__merge_job_describe(&f->desc[k], &f->job, k);
	*data = f->desc[k].data;
	f->written += f->desc[k].nbytes;
	return MUDSC_OK;
}

mudsc_status mudsc__merge_to_file(const char *fn, const char *path,
                                 const struct mudsc__plan *plan, const struct point_corr *corr,
                                 const mudsc_model *const *models, const double *weights,
                                 int32_t only, const struct mudsc__exec *ex,
                                 mudsc_progress_fn progress, void *progress_user)
{
	struct file_job f = {.ex = ex, .count = models[0]->count, .progress = progress,
	                     .progress_user = progress_user, .fn = fn};
	double work;
	mudsc_status st = mudsc__merge_job_init(&f.job, plan, corr, models, weights, only, &work);

	if (st == MUDSC_OK) {
		f.desc = mudsc__calloc(f.count + 1, sizeof *f.desc, "merged tensor descriptors");
		st = f.desc == NULL ? MUDSC_E_NOMEM : MUDSC_OK;
	}
	for (size_t k = 0; k < f.count && st == MUDSC_OK; k++) {
		mudsc__merge_job_describe(&f.desc[k], &f.job, k);
		f.total += f.desc[k].nbytes;
	}
	if (st == MUDSC_OK)
		st = mudsc__safetensors_write_stream(fn, path, f.desc, f.count, next_tensor, &f);
	if (st == MUDSC_OK && progress != NULL)
		(void)progress((int64_t)f.count, -1, 1.0, progress_user);
	free(f.desc);
	mudsc__merge_job_clear(&f.job);
	return st;
}
