/*
 * Streamed merged output: the merged (or transformed) model written to a
 * safetensors file tensor by tensor, the header computed first from the
 * merged shapes, atomically.  The tensors are those of merge_apply.c (the
 * same tasks), computed a window of `threads` tensors at a time, so the
 * memory held at once is that window's scratch, not the whole model.  A
 * large tensor (more than MUDSC__MERGE_BLOCK stage doubles) that can be
 * cut (mudsc__merge_job_blockable) is computed and written in blocks of
 * rows instead, `threads` sub-blocks at a time: its scratch is that of the
 * block, never the whole tensor's, and the bytes are the same.  Each of
 * the `threads` sub-block slots keeps its stage buffers from one block to
 * the next while blocked tensors follow each other; they are freed before
 * a window of whole tensors, whose tasks have their own.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "matcher/merge_file.h"
#include "model/model.h"

size_t mudsc__merge_block = MUDSC__MERGE_BLOCK;

struct file_job {
	struct mudsc__merge_job job;
	const struct mudsc__exec *ex;
	struct model_tensor *desc; /* the result's tensors, model 0's order */
	size_t count;
	size_t lo, hi;             /* the window computed: tensors lo .. hi-1 */
	unsigned char *blocked;    /* per tensor: written in blocks of rows */
	unsigned char *piece;      /* a block's bytes */
	size_t piece_cap;
	struct mudsc__merge_scratch *slot; /* per sub-block of a block: its stage buffers */
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

/* The rows of one block of a large tensor, cut into sub-blocks for the
 * threads. */
struct rows_job {
	const struct mudsc__merge_job *job;
	size_t k, r0, r1, per, row_bytes;
	unsigned char *bytes;
	struct mudsc__merge_scratch *slot; /* sub-block s uses slot[s] (s < threads) */
};

static mudsc_status rows_task(void *arg, size_t s)
{
	const struct rows_job *r = arg;
	size_t a = r->r0 + s * r->per, b = a + r->per < r->r1 ? a + r->per : r->r1;
	return mudsc__merge_job_rows(r->job, r->k, a, b, r->bytes + (a - r->r0) * r->row_bytes,
	                             &r->slot[s]);
}

static void free_slots(struct file_job *f)
{
	for (int32_t s = 0; s < f->ex->threads; s++)
		mudsc__merge_scratch_free(&f->slot[s]);
}

/* Rows per sub-block of tensor k: MUDSC__MERGE_BLOCK stage doubles (at
 * least one row). */
static size_t block_rows(const struct file_job *f, size_t k, size_t *rows)
{
	size_t row_stage = 1;
	(void)mudsc__merge_job_blockable(&f->job, k, rows, &row_stage);
	size_t per = mudsc__merge_block / row_stage;
	return per < 1 ? 1 : per;
}

/* The piece of blocked tensor k at byte offset: rows of `threads`
 * sub-blocks, computed in parallel. */
static mudsc_status next_block(struct file_job *f, size_t k, size_t offset, const void **data,
                               size_t *nbytes)
{
	size_t rows, per = block_rows(f, k, &rows), T = (size_t)f->ex->threads;
	size_t row_bytes = f->desc[k].nbytes / rows, r0 = offset / row_bytes;
	size_t r1 = r0 + per * T < rows ? r0 + per * T : rows;
	struct rows_job r = {&f->job, k, r0, r1, per, row_bytes, NULL, f->slot};

	if ((r1 - r0) * row_bytes > f->piece_cap) {
		size_t cap = (per * T < rows ? per * T : rows) * row_bytes;
		free(f->piece);
		f->piece = mudsc__alloc(cap, "merged rows");
		f->piece_cap = f->piece ? cap : 0;
		if (f->piece == NULL)
			return MUDSC_E_NOMEM;
	}
	r.bytes = f->piece;
	mudsc_status st = mudsc__parallel_for(f->ex, (r1 - r0 + per - 1) / per,
	                                      window_work(f, k, k + 1) * (double)(r1 - r0) /
	                                          (double)rows,
	                                      rows_task, &r);
	if (st != MUDSC_OK)
		return st;
	*data = f->piece;
	*nbytes = (r1 - r0) * row_bytes;
	return MUDSC_OK;
}

static mudsc_status next_tensor(void *arg, size_t k, size_t offset, const void **data,
                                size_t *nbytes)
{
	struct file_job *f = arg;

	if (k == 0 && offset == 0)
		f->written = 0;
	if (offset == 0 && f->progress != NULL &&
	    f->progress((int64_t)k, -1, f->total ? (double)f->written / (double)f->total : 0.0,
	                f->progress_user))
		return mudsc__err(MUDSC_E_CANCELLED, "%s: cancelled by the progress callback before "
		                                    "tensor %zu of %zu; nothing was written",
		                  f->fn, k, f->count);
	if (f->blocked[k]) {
		release_window(f);
		mudsc_status st = next_block(f, k, offset, data, nbytes);
		if (st == MUDSC_OK)
			f->written += *nbytes;
		return st;
	}
	if (k < f->lo || k >= f->hi) {
		release_window(f);
		free_slots(f);
		struct window w = {&f->job, k};
		size_t hi = k + 1, end = k + (size_t)f->ex->threads;
		end = end > f->count ? f->count : end;
		while (hi < end && !f->blocked[hi]) /* a window of whole tensors */
			hi++;
		mudsc_status st =
			mudsc__parallel_for(f->ex, hi - k, window_work(f, k, hi), window_task, &w);
		f->lo = k;
		f->hi = hi;
		if (st != MUDSC_OK)
			return st;
	}
	mudsc__merge_job_describe(&f->desc[k], &f->job, k);
	*data = f->desc[k].data;
	*nbytes = f->desc[k].nbytes;
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
		f.blocked = mudsc__calloc(f.count + 1, 1, "blocked tensors");
		f.slot = mudsc__calloc((size_t)ex->threads, sizeof *f.slot, "merge scratch slots");
		st = f.desc == NULL || f.blocked == NULL || f.slot == NULL ? MUDSC_E_NOMEM : MUDSC_OK;
	}
	for (size_t k = 0; k < f.count && st == MUDSC_OK; k++) {
		size_t rows, row_stage;
		mudsc__merge_job_describe(&f.desc[k], &f.job, k);
		f.total += f.desc[k].nbytes;
		f.blocked[k] = mudsc__merge_job_blockable(&f.job, k, &rows, &row_stage) &&
		               (double)rows * (double)row_stage > (double)mudsc__merge_block;
	}
	if (st == MUDSC_OK)
		st = mudsc__safetensors_write_stream(fn, path, f.desc, f.count, next_tensor, &f);
	if (st == MUDSC_OK && progress != NULL)
		(void)progress((int64_t)f.count, -1, 1.0, progress_user);
	if (f.slot != NULL)
		free_slots(&f);
	free(f.desc);
	free(f.blocked);
	free(f.piece);
	free(f.slot);
	mudsc__merge_job_clear(&f.job);
	return st;
}
