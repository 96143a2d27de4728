/*
 * The streaming engine (see stream.h): its state, the lead buffer across
 * models and the hand-over of complete blocks to the consumer.  Reading a
 * chunk is in view.c, writing its rows in rows.c.
 *
 * SPDX-License-Identifier: MIT
 */
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stream/engine.h"

void mudsc__stream_config_init(mudsc__stream_config *cfg, int32_t n_models, int64_t width)
{
	const mudsc__stream_config defaults = {
		.n_models = n_models,
		.width = width,
		.nonfinite = MUDSC_NONFINITE_ERROR,
		.max_lead = MUDSC__STREAM_MAX_LEAD,
		.block_rows = MUDSC__STREAM_BLOCK_ROWS,
		.rows = MUDSC__STREAM_ROWS_AUTO,
		.shift = true,
		.ones = false,
	};

	*cfg = defaults;
}

mudsc_status mudsc__stream_check_block_rows(int64_t rows, const char *what, const char *fn)
{
	if (rows < 1 || rows > INT_MAX)
		return mudsc__err(MUDSC_E_INVALID, "%s: %s = %" PRId64 " not in 1..%d", fn, what, rows,
		                 INT_MAX);
	return MUDSC_OK;
}

/* Elements of a buffer row: nc features, the ones column, padded to 64
 * bytes of floats. */
static size_t row_stride(size_t nc, bool ones)
{
	return (nc + (ones ? 1 : 0) + 15) / 16 * 16;
}

bool mudsc__stream_fits(const mudsc__stream_config *cfg)
{
	size_t bytes;

	if (cfg->n_models < 1 || cfg->width < 1 || cfg->width > INT_MAX / cfg->n_models)
		return false;
	/* the row buffer in doubles, the larger element */
	return mudsc__mul_size((size_t)cfg->block_rows + (size_t)cfg->max_lead,
	                       ((size_t)cfg->n_models * (size_t)cfg->width + 16) * sizeof(double),
	                       &bytes);
}

static bool config_valid(const mudsc__stream_config *c)
{
	return (c->nonfinite == MUDSC_NONFINITE_ERROR || c->nonfinite == MUDSC_NONFINITE_ZERO) &&
	       c->max_lead >= 0 && c->max_lead <= INT64_MAX / 2 && c->block_rows >= 1 &&
	       c->block_rows <= INT_MAX && c->rows >= MUDSC__STREAM_ROWS_AUTO &&
	       c->rows <= MUDSC__STREAM_ROWS_F64 && mudsc__stream_fits(c);
}

/* The fixed-size arrays in one allocation (s->state), doubles first so
 * every piece is aligned: shift, scratch and saved, seen and chunks, shiftf and
 * rowf, has_shift.  False on overflow or no memory. */
static bool alloc_state(mudsc__stream *s)
{
	const size_t n = (size_t)s->cfg.n_models, w = (size_t)s->cfg.width, nc = s->nc;
	size_t units, bytes;
	unsigned char *p;

	/* 8 bytes for each double and int64, 4 for each float, 1 for each flag */
	if (!mudsc__add_size(nc, w, &units) || !mudsc__mul_size(units, 12, &bytes) ||
	    !mudsc__add_size(bytes, 8 * w, &bytes) || !mudsc__add_size(bytes, 17 * n, &bytes)) {
		mudsc__err(MUDSC_E_NOMEM, "accumulator state: size overflows");
		return false;
	}
	s->state = p = mudsc__calloc(1, bytes, "accumulator state");
	if (p == NULL)
		return false;
	s->shift = (double *)(void *)p;
	s->scratch = s->shift + nc;
	s->saved = s->scratch + w;
	s->seen = (int64_t *)(void *)(s->saved + w);
	s->chunks = s->seen + n;
	s->shiftf = (float *)(void *)(s->chunks + n);
	s->rowf = s->shiftf + nc;
	s->has_shift = (unsigned char *)(s->rowf + w);
	return true;
}

mudsc_status mudsc__stream_new(mudsc__stream **out, const mudsc__stream_config *cfg,
                               const mudsc__stream_consumer *consumer, void *ctx)
{
	mudsc__stream *s;

	if (!config_valid(cfg) || consumer == NULL || consumer->consume == NULL)
		return mudsc__err(MUDSC_E_INVALID, "mudsc__stream_new: configuration out of range");
	s = mudsc__calloc(1, sizeof *s, "accumulator");
	if (s == NULL)
		return MUDSC_E_NOMEM;
	s->cfg = *cfg;
	s->consumer = *consumer;
	s->ctx = ctx;
	s->nc = (size_t)cfg->n_models * (size_t)cfg->width;
	s->cap = (size_t)cfg->block_rows + (size_t)cfg->max_lead;
	s->ld = row_stride(s->nc, cfg->ones);
	if (!alloc_state(s)) {
		free(s);
		return MUDSC_E_NOMEM;
	}
	*out = s;
	return MUDSC_OK;
}

void mudsc__stream_free(mudsc__stream *s)
{
	if (s == NULL)
		return;
	free(s->state);
	free(s->rows);
	free(s->work);
	free(s);
}

mudsc_status mudsc__stream_set_block_rows(mudsc__stream *s, int64_t rows, const char *fn)
{
	mudsc__stream_config c = s->cfg;
	mudsc_status st = mudsc__stream_check_block_rows(rows, "argument 'rows'", fn);

	if (st != MUDSC_OK)
		return st;
	if (s->started)
		return mudsc__err(MUDSC_E_STATE,
		                 "%s: the block size is fixed once the first observations arrived", fn);
	c.block_rows = rows;
	if (!mudsc__stream_fits(&c))
		return mudsc__err(MUDSC_E_INVALID,
		                 "%s: argument 'rows' = %" PRId64 ": with max_lead = %" PRId64
		                 " the row buffer would be too large",
		                 fn, rows, c.max_lead);
	s->cfg = c;
	s->cap = (size_t)rows + (size_t)c.max_lead;
	return MUDSC_OK;
}

/* ---- counts and shifts ------------------------------------------------- */

/* The smallest and the largest of the models' counts. */
static void seen_range(const mudsc__stream *s, int64_t *lo, int64_t *hi)
{
	*lo = *hi = s->seen[0];
	for (int32_t i = 1; i < s->cfg.n_models; i++) {
		if (s->seen[i] < *lo)
			*lo = s->seen[i];
		if (s->seen[i] > *hi)
			*hi = s->seen[i];
	}
}

int64_t mudsc__stream_count(const mudsc__stream *s, int32_t model)
{
	int64_t lo, hi;

	if (model >= 0)
		return s->seen[model];
	seen_range(s, &lo, &hi);
	return lo;
}

int64_t mudsc__stream_done(const mudsc__stream *s)
{
	return s->done;
}

const double *mudsc__stream_shifts(const mudsc__stream *s)
{
	return s->shift;
}

void mudsc__stream_set_shift(mudsc__stream *s, size_t u, double value)
{
	s->shiftf[u] = (float)value;
	s->shift[u] = (double)s->shiftf[u];
}

void mudsc__stream_set_done(mudsc__stream *s, int64_t count)
{
	s->done = count;
	for (int32_t i = 0; i < s->cfg.n_models; i++) {
		s->seen[i] = count;
		s->has_shift[i] = count > 0;
	}
}

/* ---- blocks to the consumer -------------------------------------------- */

/* Hand complete buffered observations to the consumer: whole blocks only,
 * or (all) every complete one; then slide the rest to the buffer's front. */
static void flush_rows(mudsc__stream *s, bool all)
{
	const size_t block = (size_t)s->cfg.block_rows;
	const size_t esize = s->rows_f64 ? sizeof(double) : sizeof(float);
	int64_t lo, hi;
	size_t complete, take, left;

	seen_range(s, &lo, &hi);
	complete = (size_t)(lo - s->done);
	take = all ? complete : complete / block * block;
	if (take == 0 || s->rows == NULL)
		return;
	for (size_t r = 0; r < take; r += block) {
		const mudsc__stream_block b = {
			.rows = (const unsigned char *)s->rows + r * s->ld * esize,
			.nrows = take - r < block ? take - r : block,
			.ld = s->ld,
			.f64 = s->rows_f64,
			.first = s->done + (int64_t)r,
			.work = s->work,
		};
		s->consumer.consume(s->ctx, &b);
	}
	left = (size_t)(hi - s->done) - take;
	if (left > 0)
		memmove(s->rows, (unsigned char *)s->rows + take * s->ld * esize, left * s->ld * esize);
	s->done += (int64_t)take;
}

mudsc_status mudsc__stream_settle(mudsc__stream *s, const char *fn)
{
	int64_t lo, hi;

	seen_range(s, &lo, &hi);
	if (lo != hi)
		return mudsc__err(MUDSC_E_MISMATCH,
		                 "%s: the models' observation counts differ (from %" PRId64 " to %" PRId64
		                 "): every model must deliver the same observations",
		                 fn, lo, hi);
	flush_rows(s, true);
	return MUDSC_OK;
}

/* ---- update ------------------------------------------------------------ */

/* A 64-byte aligned allocation (BLAS packs faster from aligned rows) of
 * at least `bytes`, rounded up to whole cache lines; NULL with the error
 * set (what names it). */
static void *alloc_aligned(size_t bytes, const char *what)
{
	const size_t align = 64;
	void *p;

	if (bytes > SIZE_MAX - align) {
		mudsc__err(MUDSC_E_NOMEM, "%s: size overflows", what);
		return NULL;
	}
	bytes = (bytes + align - 1) / align * align;
	p = aligned_alloc(align, bytes ? bytes : align);
	if (p == NULL)
		mudsc__err(MUDSC_E_NOMEM, "out of memory allocating %zu bytes for %s", bytes, what);
	return p;
}

/* At the first non-empty update: the rows' type (the configuration's or
 * that chunk's) and the consumer's workspace, zeroed once.  The rows
 * themselves are allocated by reserve_rows(), as the lead grows. */
static mudsc_status start_rows(mudsc__stream *s, mudsc_dtype dtype)
{
	const bool f64 = s->cfg.rows == MUDSC__STREAM_ROWS_F64 ||
	                 (s->cfg.rows == MUDSC__STREAM_ROWS_AUTO && dtype == MUDSC_DTYPE_F64);
	const size_t work = s->consumer.work_bytes ? s->consumer.work_bytes(s->ctx, f64) : 0;

	s->work = NULL;
	if (work > 0) {
		s->work = alloc_aligned(work, "accumulator workspace");
		if (s->work == NULL)
			return MUDSC_E_NOMEM;
		memset(s->work, 0, work);
	}
	s->rows_f64 = f64;
	s->started = true;
	/* the block sums of float rows: nrows * ymax^2 <= FLT_MAX / 2 */
	s->ymaxf = f64 ? INFINITY
	               : nextafterf((float)sqrt(FLT_MAX / (2.0 * (double)s->cfg.block_rows)), 0.0f);
	s->ymax = (double)s->ymaxf;
	return MUDSC_OK;
}

/* Room for `need` rows (need <= cap): the buffer grows with the lead the
 * models actually take, by doubling, up to block_rows + max_lead rows, so
 * a large max_lead costs nothing until it is used.  New rows are zeroed
 * with the ones column set; the old rows move over unchanged.  Nothing
 * changes on MUDSC_E_NOMEM. */
static mudsc_status reserve_rows(mudsc__stream *s, size_t need)
{
	const size_t esize = s->rows_f64 ? sizeof(double) : sizeof(float);
	const size_t row = s->ld * esize; /* the sizes up to cap rows were checked */
	size_t rows = s->alloc > s->cap / 2 ? s->cap : 2 * s->alloc;
	unsigned char *p;

	if (need <= s->alloc)
		return MUDSC_OK;
	if (rows < need)
		rows = need;
	if (rows > s->cap)
		rows = s->cap;
	p = alloc_aligned(rows * row, "accumulator row buffer");
	if (p == NULL)
		return MUDSC_E_NOMEM;
	if (s->alloc > 0)
		memcpy(p, s->rows, s->alloc * row);
	memset(p + s->alloc * row, 0, (rows - s->alloc) * row);
	for (size_t r = s->alloc; s->cfg.ones && r < rows; r++) {
		if (s->rows_f64)
			((double *)(void *)p)[r * s->ld + s->nc] = 1.0;
		else
			((float *)(void *)p)[r * s->ld + s->nc] = 1.0f;
	}
	free(s->rows);
	s->rows = p;
	s->alloc = rows;
	return MUDSC_OK;
}

static mudsc_status check_lead(const mudsc__stream *s, int32_t model, int64_t nobs,
                               const char *fn)
{
	int64_t after, slowest;

	/* counts stay <= INT64_MAX / 2 (the serialized format's limit), so the
	 * sums below cannot overflow */
	if (nobs > INT64_MAX / 2 - s->seen[model])
		return mudsc__err(MUDSC_E_RANGE,
		                 "%s: argument 'features': %" PRId64 " observations would take model %d's "
		                 "count (%" PRId64 ") past %" PRId64,
		                 fn, nobs, (int)model, s->seen[model], INT64_MAX / 2);
	after = s->seen[model] + nobs;
	slowest = after;
	for (int32_t j = 0; j < s->cfg.n_models; j++)
		if (j != model && s->seen[j] < slowest)
			slowest = s->seen[j];
	if (after - slowest > s->cfg.max_lead)
		return mudsc__err(MUDSC_E_STATE,
		                 "%s: model %d would be %" PRId64
		                 " observations ahead of the slowest model, more than max_lead = %" PRId64
		                 " (feed the other models first, use smaller chunks, or raise "
		                 "options.max_lead)",
		                 fn, (int)model, after - slowest, s->cfg.max_lead);
	return MUDSC_OK;
}

/* Feed the chunk through the buffer; when it does not fit at once, whole
 * blocks go to the consumer in between (every value was checked before). */
static mudsc_status feed(mudsc__stream *s, int32_t model, const struct mudsc__stream_view *v,
                         const char *fn)
{
	int64_t k = 0;
	mudsc_status st;

	while (k < v->nobs) {
		size_t pos = (size_t)(s->seen[model] - s->done);
		if (pos == s->cap) {
			flush_rows(s, false);
			pos = (size_t)(s->seen[model] - s->done);
			if (pos == s->cap)
				return mudsc__err(MUDSC_E_INTERNAL, "%s: row buffer stuck", fn);
		}
		size_t cnt = s->cap - pos;
		if ((int64_t)cnt > v->nobs - k)
			cnt = (size_t)(v->nobs - k);
		st = mudsc__stream_write_rows(s, model, v, k, cnt, pos, fn);
		if (st != MUDSC_OK)
			return st;
		s->seen[model] += (int64_t)cnt;
		k += (int64_t)cnt;
	}
	return MUDSC_OK;
}

mudsc_status mudsc__stream_update(mudsc__stream *s, int32_t model, const mudsc_features *x,
                                  const char *fn)
{
	const size_t w = (size_t)s->cfg.width, col = (size_t)model * w;
	struct mudsc__stream_view v;
	mudsc_status st;
	size_t end;
	bool fresh;

	if (model < 0 || model >= s->cfg.n_models)
		return mudsc__err(MUDSC_E_RANGE, "%s: argument 'model' = %d not in 0..%d", fn,
		                 (int)model, (int)s->cfg.n_models - 1);
	st = mudsc__stream_view_check(&v, x, s->cfg.width, fn);
	if (st != MUDSC_OK || v.nobs == 0)
		return st;
	st = check_lead(s, model, v.nobs, fn);
	if (st != MUDSC_OK)
		return st;
	if (!s->started && (st = start_rows(s, v.dtype)) != MUDSC_OK)
		return st;
	/* the rows this chunk reaches (feed() hands blocks over at cap) */
	end = (size_t)(s->seen[model] - s->done) + (size_t)v.nobs;
	if ((st = reserve_rows(s, end < s->cap ? end : s->cap)) != MUDSC_OK)
		return st;
	/* a first chunk fixes the shift (checking its values on the way); its
	 * values' distance from it, and any chunk's that feed() would hand
	 * over midway, are checked before a row is consumed */
	fresh = s->cfg.shift && !s->has_shift[model];
	if (fresh) {
		memcpy(s->saved, s->shift + col, w * sizeof *s->saved);
		st = mudsc__stream_first_shift(s, model, &v, fn);
	}
	if (st == MUDSC_OK && end > s->cap)
		st = mudsc__stream_check_values(s, model, &v, fn);
	if (st == MUDSC_OK)
		st = feed(s, model, &v, fn);
	if (st != MUDSC_OK) {
		if (fresh) { /* unfix the shift: nothing of the chunk stays */
			for (size_t c = 0; c < w; c++)
				mudsc__stream_set_shift(s, col + c, s->saved[c]);
			s->has_shift[model] = 0;
		}
		return st;
	}
	s->chunks[model]++;
	flush_rows(s, false);
	return MUDSC_OK;
}
