/*
 * mudsc_accum: streaming activation statistics (see include/mudsc/accum.h
 * for the numerics).  This file: creation, update, block processing and
 * the results.  Merge and serialization live in merge.c and
 * serialize.c.
 *
 * SPDX-License-Identifier: MIT
 */
#include <inttypes.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "accum/accum.h"
#include "core/core.h"

#define ACCUM_EPS 1e-7

MUDSC_API mudsc_status mudsc_accum_options_init(mudsc_accum_options *opts)
{
	return mudsc__options_init(opts, MUDSC__OPTIONS_ACCUM, "mudsc_accum_options_init");
}

mudsc_status mudsc__accum_options_check(mudsc_accum_options *out, const mudsc_accum_options *in,
                                       const char *fn)
{
	mudsc_accum_options o;
	mudsc_status st = mudsc__options_read(&o, in, MUDSC__OPTIONS_ACCUM, fn);

	if (st != MUDSC_OK)
		return st;
	if (o.nonfinite != MUDSC_NONFINITE_ERROR && o.nonfinite != MUDSC_NONFINITE_ZERO)
		return mudsc__err(MUDSC_E_INVALID, "%s: options->nonfinite = %d is not a mudsc_nonfinite",
		                 fn, (int)o.nonfinite);
	if (o.max_lead < 0 || o.max_lead > INT64_MAX / 2)
		return mudsc__err(MUDSC_E_INVALID, "%s: options->max_lead = %" PRId64 " out of range", fn,
		                 o.max_lead);
	if (o.threads < 0)
		return mudsc__err(MUDSC_E_INVALID, "%s: options->threads = %d, must be >= 0", fn,
		                 (int)o.threads);
	*out = o;
	return MUDSC_OK;
}

/* The row buffer of block_rows + max_lead rows of (nc + 1, padded) doubles
 * must be addressable. */
static bool rows_fit(size_t nc, int64_t block_rows, int64_t max_lead)
{
	size_t bytes;
	return mudsc__mul_size((size_t)block_rows + (size_t)max_lead, (nc + 16) * sizeof(double),
	                      &bytes);
}

mudsc_status mudsc__accum_alloc(mudsc_accum **out, int32_t n_models, int64_t width,
                               const mudsc_accum_options *opts)
{
	mudsc_accum *acc = mudsc__calloc(1, sizeof *acc, "accumulator");
	size_t nc = (size_t)n_models * (size_t)width, nc2;

	if (acc == NULL)
		return MUDSC_E_NOMEM;
	acc->n_models = n_models;
	acc->width = width;
	acc->nc = nc;
	acc->opts = *opts;
	acc->block_rows = MUDSC__ACCUM_BLOCK_ROWS;
	acc->cap = (size_t)acc->block_rows + (size_t)opts->max_lead;
	nc2 = nc * nc; /* checked by the callers: nc <= INT_MAX, nc * nc * 8 fits */
	acc->seen = mudsc__calloc((size_t)n_models, sizeof *acc->seen, "accumulator counts");
	acc->chunks = mudsc__calloc((size_t)n_models, sizeof *acc->chunks, "accumulator counts");
	acc->has_shift = mudsc__calloc((size_t)n_models, 1, "accumulator flags");
	acc->shift = acc->seen ? mudsc__calloc(nc, sizeof(double), "accumulator shifts") : NULL;
	acc->sum = acc->shift ? mudsc__calloc(nc, sizeof(double), "accumulator sums") : NULL;
	acc->prod = acc->sum ? mudsc__calloc(nc2, sizeof(double), "accumulator products") : NULL;
	acc->scratch = acc->prod ? mudsc__calloc((size_t)width, sizeof(double), "accumulator row")
	                         : NULL;
	acc->shiftf = acc->scratch ? mudsc__calloc(nc, sizeof(float), "accumulator shifts") : NULL;
	acc->rowf = acc->shiftf ? mudsc__calloc((size_t)width, sizeof(float), "accumulator row")
	                        : NULL;
	/* row stride: nc features, the ones column, padded to 64 bytes */
	acc->ld = (nc + 1 + 15) / 16 * 16;
	if (acc->chunks == NULL || acc->has_shift == NULL || acc->rowf == NULL) {
		mudsc_accum_free(acc);
		return MUDSC_E_NOMEM;
	}
	*out = acc;
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_accum_new(mudsc_accum **out, int32_t n_models, int64_t width,
                                       const mudsc_accum_options *options)
{
	mudsc_accum_options opts;
	size_t nc, bytes;
	mudsc_status st;

	MUDSC__CHECK_NULL(out);
	if (n_models < 2)
		return mudsc__err(MUDSC_E_INVALID, "mudsc_accum_new: n_models = %d, must be >= 2",
		                 (int)n_models);
	if (width < 1)
		return mudsc__err(MUDSC_E_INVALID, "mudsc_accum_new: width = %" PRId64 ", must be >= 1",
		                 width);
	st = mudsc__accum_options_check(&opts, options, "mudsc_accum_new");
	if (st != MUDSC_OK)
		return st;
	if (width > INT_MAX / n_models ||
	    !mudsc__mul_size((size_t)n_models * (size_t)width, (size_t)n_models * (size_t)width,
	                    &nc) ||
	    !mudsc__mul_size(nc, sizeof(double), &bytes) ||
	    !rows_fit((size_t)n_models * (size_t)width, MUDSC__ACCUM_BLOCK_ROWS, opts.max_lead))
		return mudsc__err(MUDSC_E_INVALID,
		                 "mudsc_accum_new: n_models = %d x width = %" PRId64
		                 " (with block_rows + max_lead rows) is too large",
		                 (int)n_models, width);
	return mudsc__accum_alloc(out, n_models, width, &opts);
}

MUDSC_API mudsc_status mudsc_accum_set_block_rows(mudsc_accum *accum, int64_t rows)
{
	MUDSC__CHECK_NULL(accum);
	if (rows < 1 || rows > INT_MAX)
		return mudsc__err(MUDSC_E_INVALID,
		                 "mudsc_accum_set_block_rows: argument 'rows' = %" PRId64 " not in 1..%d",
		                 rows, INT_MAX);
	if (accum->rows != NULL)
		return mudsc__err(MUDSC_E_STATE, "mudsc_accum_set_block_rows: too late: the first "
		                                "update with observations has sized the row buffer");
	if (!rows_fit(accum->nc, rows, accum->opts.max_lead))
		return mudsc__err(MUDSC_E_INVALID,
		                 "mudsc_accum_set_block_rows: %" PRId64 " rows + max_lead = %" PRId64
		                 " of %zu features are too large", rows, accum->opts.max_lead, accum->nc);
	accum->block_rows = rows;
	accum->cap = (size_t)rows + (size_t)accum->opts.max_lead;
	return MUDSC_OK;
}

MUDSC_API void mudsc_accum_free(mudsc_accum *accum)
{
	if (accum == NULL)
		return;
	free(accum->seen);
	free(accum->chunks);
	free(accum->has_shift);
	free(accum->shift);
	free(accum->sum);
	free(accum->prod);
	free(accum->scratch);
	free(accum->shiftf);
	free(accum->rowf);
	free(accum->rows);
	free(accum->blk);
	free(accum);
}

MUDSC_API int32_t mudsc_accum_models(const mudsc_accum *accum)
{
	return accum ? accum->n_models : 0;
}

MUDSC_API int64_t mudsc_accum_width(const mudsc_accum *accum)
{
	return accum ? accum->width : 0;
}

static int64_t min_seen(const mudsc_accum *acc)
{
	int64_t m = acc->seen[0];

	for (int32_t i = 1; i < acc->n_models; i++)
		if (acc->seen[i] < m)
			m = acc->seen[i];
	return m;
}

static int64_t max_seen(const mudsc_accum *acc)
{
	int64_t m = acc->seen[0];

	for (int32_t i = 1; i < acc->n_models; i++)
		if (acc->seen[i] > m)
			m = acc->seen[i];
	return m;
}

MUDSC_API mudsc_status mudsc_accum_count(int64_t *out, const mudsc_accum *accum, int32_t model)
{
	MUDSC__CHECK_NULL(accum);
	MUDSC__CHECK_NULL(out);
	if (model < -1 || model >= accum->n_models)
		return mudsc__err(MUDSC_E_RANGE,
		                 "mudsc_accum_count: argument 'model' = %d not in -1..%d", (int)model,
		                 (int)accum->n_models - 1);
	*out = model < 0 ? min_seen(accum) : accum->seen[model];
	return MUDSC_OK;
}

/* ---- blocks into the sums --------------------------------------------- */

static void add_f32_to_f64(double *restrict dst, const float *restrict src, size_t n);

void mudsc__accum_set_shift(mudsc_accum *acc, size_t u, double value)
{
	acc->shiftf[u] = (float)value;
	acc->shift[u] = (double)acc->shiftf[u];
}

/* Add k buffered rows starting at row r0 to the sums: one syrk over the
 * rows and their ones column gives the products and (last column) the
 * column sums; float blocks are added into double. */
static void process_rows(mudsc_accum *acc, size_t r0, size_t k)
{
	const size_t nc = acc->nc, n1 = nc + 1;

	if (acc->rows_f64) {
		const double *a = (const double *)acc->rows + r0 * acc->ld;
		const double *blk = acc->blk;
		cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)n1, (int)k, 1.0, a,
		            (int)acc->ld, 0.0, acc->blk, (int)n1);
		for (size_t u = 0; u < nc; u++) {
			double *dst = acc->prod + u * nc;
			const double *src = blk + u * n1;
			for (size_t v = u; v < nc; v++)
				dst[v] += src[v];
			acc->sum[u] += src[nc];
		}
		return;
	}
	const float *a = (const float *)acc->rows + r0 * acc->ld;
	const float *blk = acc->blk;
	cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)n1, (int)k, 1.0f, a, (int)acc->ld,
	            0.0f, acc->blk, (int)n1);
	for (size_t u = 0; u < nc; u++) {
		add_f32_to_f64(acc->prod + u * nc + u, blk + u * n1 + u, nc - u);
		acc->sum[u] += blk[u * n1 + nc];
	}
}

/* Move complete buffered observations into the sums: whole blocks only, or
 * (all) every complete one; then slide the rest to the buffer's front. */
static void flush_rows(mudsc_accum *acc, bool all)
{
	const size_t block = (size_t)acc->block_rows;
	size_t complete = (size_t)(min_seen(acc) - acc->done);
	size_t take = all ? complete : complete / block * block;
	size_t left, esize;

	if (take == 0 || acc->rows == NULL)
		return;
	for (size_t r = 0; r < take; r += block)
		process_rows(acc, r, take - r < block ? take - r : block);
	left = (size_t)(max_seen(acc) - acc->done) - take;
	esize = acc->rows_f64 ? sizeof(double) : sizeof(float);
	if (left > 0)
		memmove(acc->rows, (unsigned char *)acc->rows + take * acc->ld * esize,
		        left * acc->ld * esize);
	acc->done += (int64_t)take;
}

mudsc_status mudsc__accum_settle(mudsc_accum *acc, const char *fn)
{
	int64_t lo = min_seen(acc), hi = max_seen(acc);

	if (lo != hi)
		return mudsc__err(MUDSC_E_MISMATCH,
		                 "%s: the models' observation counts differ (from %" PRId64 " to %" PRId64
		                 "): every model must deliver the same observations",
		                 fn, lo, hi);
	flush_rows(acc, true);
	return MUDSC_OK;
}

/* ---- update ------------------------------------------------------------ */

static mudsc_status nonfinite_error(const mudsc_accum *acc, int32_t model,
                                    const struct accum_view *v, int64_t obs, int64_t c)
{
	char pos[160];

	mudsc__accum_view_position(v, obs, c, pos, sizeof pos);
	return mudsc__err(MUDSC_E_NUMERIC,
	                 "mudsc_accum_update: model %d, chunk %" PRId64 ": non-finite value at "
	                 "position %s (observation %" PRId64 " of the chunk, feature %" PRId64 ")",
	                 (int)model, acc->chunks[model], pos, obs, c);
}

/* Read observation obs of the view into acc->scratch, applying the
 * non-finite policy. */
static mudsc_status read_row(const mudsc_accum *acc, int32_t model, const struct accum_view *v,
                             int64_t obs)
{
	double *x = acc->scratch;
	int64_t bad = mudsc__accum_view_row(v, obs, x);

	if (bad < 0)
		return MUDSC_OK;
	if (acc->opts.nonfinite == MUDSC_NONFINITE_ERROR)
		return nonfinite_error(acc, model, v, obs, bad);
	for (int64_t c = bad; c < v->width; c++)
		if (!isfinite(x[c]))
			x[c] = 0.0;
	return MUDSC_OK;
}

/* A model's first chunk fixes its shift: the chunk's mean per feature, so
 * later shifted values are of the size of the spread. Also checks every
 * value (nothing is consumed if one is bad). */
static mudsc_status set_shift(mudsc_accum *acc, int32_t model, const struct accum_view *v)
{
	double *s = acc->shift + (size_t)model * (size_t)acc->width;
	mudsc_status st;

	for (int64_t c = 0; c < acc->width; c++)
		s[c] = 0.0;
	for (int64_t k = 0; k < v->nobs; k++) {
		st = read_row(acc, model, v, k);
		if (st != MUDSC_OK)
			return st;
		for (int64_t c = 0; c < acc->width; c++)
			s[c] += acc->scratch[c];
	}
	for (int64_t c = 0; c < acc->width; c++)
		mudsc__accum_set_shift(acc, (size_t)model * (size_t)acc->width + (size_t)c,
		                      s[c] / (double)v->nobs);
	acc->has_shift[model] = 1;
	return MUDSC_OK;
}

static mudsc_status check_all_finite(const mudsc_accum *acc, int32_t model,
                                     const struct accum_view *v)
{
	for (int64_t k = 0; k < v->nobs; k++) {
		int64_t bad = mudsc__accum_view_row(v, k, acc->scratch);
		if (bad >= 0)
			return nonfinite_error(acc, model, v, k, bad);
	}
	return MUDSC_OK;
}

/* dst = src - s in float (s is exact in float, one rounding, the value the
 * double route gives); returns nonzero if a source value is not finite.
 * Blocks of 8 with a fixed inner count: -O2 vectorizes them (SLP) where it
 * leaves a plain loop of unknown count scalar. */
static int shift_row_f32(float *restrict dst, const float *restrict src,
                         const float *restrict s, size_t n)
{
	int bad = 0;
	size_t c = 0;

	for (; c + 8 <= n; c += 8) {
		int b8[8];
		for (int j = 0; j < 8; j++) {
			const float x = src[c + j];
			b8[j] = !(fabsf(x) <= FLT_MAX);
			dst[c + j] = x - s[c + j];
		}
		for (int j = 0; j < 8; j++)
			bad |= b8[j];
	}
	for (; c < n; c++) {
		const float x = src[c];
		bad |= !(fabsf(x) <= FLT_MAX);
		dst[c] = x - s[c];
	}
	return bad;
}

/* dst[v] += src[v] for v in [0, n), float into double, in blocks of 8 (as
 * above). */
static void add_f32_to_f64(double *restrict dst, const float *restrict src, size_t n)
{
	size_t v = 0;

	for (; v + 8 <= n; v += 8)
		for (int j = 0; j < 8; j++)
			dst[v + j] += (double)src[v + j];
	for (; v < n; v++)
		dst[v] += (double)src[v];
}

/* F16 -> float for n contiguous halves; with the x86 F16C instructions
 * when the CPU has them (checked at run time), 8 at a time. */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#define ACCUM_HAVE_F16C 1
__attribute__((target("avx,f16c"))) static size_t f16_row_f16c(float *dst,
                                                                 const unsigned char *p, size_t n)
{
	size_t c = 0;

	for (; c + 8 <= n; c += 8) {
		__m128i h = _mm_loadu_si128((const __m128i *)(const void *)(p + 2 * c));
		_mm256_storeu_ps(dst + c, _mm256_cvtph_ps(h));
	}
	return c;
}
#endif

static void f16_row(float *dst, const unsigned char *p, size_t n)
{
	size_t c = 0;
	uint16_t h;

#ifdef ACCUM_HAVE_F16C
	if (__builtin_cpu_supports("f16c"))
		c = f16_row_f16c(dst, p, n);
#endif
	for (; c < n; c++) {
		memcpy(&h, p + 2 * c, 2);
		dst[c] = mudsc__f16_to_f32(h);
	}
}

/* The fast route for float rows from contiguous features: F32 read in
 * place, F16/BF16 converted to a float row first.  Returns false when it
 * does not apply or met a non-finite value (the general route then
 * handles the row, with the non-finite policy). */
static bool fast_row(mudsc_accum *acc, const struct accum_view *v, int64_t obs, float *dst,
                     const float *s)
{
	const unsigned char *p;
	const size_t w = (size_t)acc->width;
	const float *src;
	uint16_t h;

	if (acc->rows_f64 || v->fstride != 1)
		return false;
	p = mudsc__accum_view_at(v, obs);
	switch (v->dtype) {
	case MUDSC_DTYPE_F32:
		if ((uintptr_t)p % _Alignof(float) != 0)
			return false;
		src = (const float *)(const void *)p;
		break;
	case MUDSC_DTYPE_F16:
		f16_row(acc->rowf, p, w);
		src = acc->rowf;
		break;
	case MUDSC_DTYPE_BF16:
		for (size_t c = 0; c < w; c++) {
			memcpy(&h, p + 2 * c, 2);
			acc->rowf[c] = mudsc__bf16_to_f32(h);
		}
		src = acc->rowf;
		break;
	default:
		return false;
	}
	return shift_row_f32(dst, src, s, w) == 0;
}

/* Features strided, observations contiguous (NCHW with features on axis
 * 1): how many observations from obs on lie along the innermost
 * observation axis, at most max; 0 when that route does not apply. */
static size_t run_length(const mudsc_accum *acc, const struct accum_view *v, int64_t obs,
                         size_t max)
{
	int64_t inner, left;

	if (acc->rows_f64 || v->fstride == 1 || v->orank == 0 || v->ostride[v->orank - 1] != 1)
		return 0;
	inner = v->oshape[v->orank - 1];
	left = inner - obs % inner;
	return (size_t)left < max ? (size_t)left : max;
}

/* Load element j of a contiguous F32/F16/BF16 run as float. */
static inline float load_f(mudsc_dtype dtype, const unsigned char *q, size_t j)
{
	uint16_t h;
	float f;

	if (dtype == MUDSC_DTYPE_F32) {
		memcpy(&f, q + 4 * j, 4);
		return f;
	}
	memcpy(&h, q + 2 * j, 2);
	return dtype == MUDSC_DTYPE_F16 ? mudsc__f16_to_f32(h) : mudsc__bf16_to_f32(h);
}

/* The route for `run` observations along a contiguous axis: read each
 * feature's run contiguously and scatter it down the buffer's rows (a
 * transpose).  False if a value is not finite (the per-row route then
 * applies the non-finite policy); the rows written are then rewritten. */
static bool fast_run(mudsc_accum *acc, const struct accum_view *v, int64_t obs, size_t run,
                     float *dst, const float *s)
{
	const unsigned char *p = mudsc__accum_view_at(v, obs);
	const ptrdiff_t fstep = (ptrdiff_t)v->fstride * (ptrdiff_t)v->esize;
	const size_t ld = acc->ld;
	int bad = 0;

	if (v->dtype == MUDSC_DTYPE_F64)
		return false;
	for (int64_t c = 0; c < acc->width; c++) {
		const unsigned char *q = p + c * fstep;
		const float sc = s[c];
		for (size_t j = 0; j < run; j++) {
			const float x = load_f(v->dtype, q, j);
			bad |= !(fabsf(x) <= FLT_MAX);
			dst[j * ld + (size_t)c] = x - sc;
		}
	}
	return !bad;
}

/* Observation obs into buffer row `row` by the general route: through
 * double, with the non-finite policy. */
static mudsc_status write_row_general(mudsc_accum *acc, int32_t model,
                                      const struct accum_view *v, int64_t obs, size_t row)
{
	const size_t w = (size_t)acc->width, col = (size_t)model * w;
	const double *s = acc->shift + col;
	const double *x = acc->scratch;
	mudsc_status st = read_row(acc, model, v, obs);

	if (st != MUDSC_OK)
		return st;
	if (acc->rows_f64) {
		double *dst = (double *)acc->rows + row * acc->ld + col;
		for (size_t c = 0; c < w; c++)
			dst[c] = x[c] - s[c];
	} else {
		float *dst = (float *)acc->rows + row * acc->ld + col;
		for (size_t c = 0; c < w; c++)
			dst[c] = (float)(x[c] - s[c]);
	}
	return MUDSC_OK;
}

/* Write observations [k0, k0 + cnt) of the view, shifted, into buffer rows
 * starting at row pos, model's columns. */
static mudsc_status write_rows(mudsc_accum *acc, int32_t model, const struct accum_view *v,
                               int64_t k0, size_t cnt, size_t pos)
{
	const size_t col = (size_t)model * (size_t)acc->width;
	float *const rowsf = acc->rows_f64 ? NULL : (float *)acc->rows;
	mudsc_status st;
	size_t k = 0;

	while (k < cnt) {
		const int64_t obs = k0 + (int64_t)k;
		size_t run = run_length(acc, v, obs, cnt - k);
		if (run > 1 &&
		    fast_run(acc, v, obs, run, rowsf + (pos + k) * acc->ld + col, acc->shiftf + col)) {
			k += run;
			continue;
		}
		if (run == 0)
			run = 1;
		for (size_t j = k; j < k + run; j++) {
			if (rowsf && fast_row(acc, v, k0 + (int64_t)j, rowsf + (pos + j) * acc->ld + col,
			                      acc->shiftf + col))
				continue;
			st = write_row_general(acc, model, v, k0 + (int64_t)j, pos + j);
			if (st != MUDSC_OK)
				return st;
		}
		k += run;
	}
	return MUDSC_OK;
}

/* Zeroed memory aligned to a cache line (BLAS packs faster from aligned
 * rows); sizes were checked against overflow by mudsc_accum_new(). */
static void *alloc_aligned(size_t bytes, const char *what)
{
	const size_t align = 64;
	size_t rounded = (bytes + align - 1) / align * align;
	void *p = aligned_alloc(align, rounded ? rounded : align);

	if (p == NULL) {
		mudsc__err(MUDSC_E_NOMEM, "out of memory allocating %zu bytes for %s", bytes, what);
		return NULL;
	}
	memset(p, 0, rounded);
	return p;
}

static mudsc_status alloc_rows(mudsc_accum *acc, mudsc_dtype dtype)
{
	const bool f64 = dtype == MUDSC_DTYPE_F64;
	const size_t esize = f64 ? sizeof(double) : sizeof(float), n1 = acc->nc + 1;

	acc->rows = alloc_aligned(acc->cap * acc->ld * esize, "accumulator row buffer");
	acc->blk = acc->rows ? alloc_aligned(n1 * n1 * esize, "accumulator block") : NULL;
	if (acc->blk == NULL) {
		free(acc->rows);
		acc->rows = NULL;
		return MUDSC_E_NOMEM;
	}
	/* the ones column (rows move whole, so it stays in place) */
	for (size_t r = 0; r < acc->cap; r++) {
		if (f64)
			((double *)acc->rows)[r * acc->ld + acc->nc] = 1.0;
		else
			((float *)acc->rows)[r * acc->ld + acc->nc] = 1.0f;
	}
	acc->rows_f64 = f64;
	return MUDSC_OK;
}

static mudsc_status check_lead(const mudsc_accum *acc, int32_t model, int64_t nobs)
{
	int64_t after = acc->seen[model] + nobs, slowest = after;

	for (int32_t j = 0; j < acc->n_models; j++)
		if (j != model && acc->seen[j] < slowest)
			slowest = acc->seen[j];
	if (after - slowest > acc->opts.max_lead)
		return mudsc__err(MUDSC_E_STATE,
		                 "mudsc_accum_update: model %d would be %" PRId64
		                 " observations ahead of the slowest model, more than max_lead = %" PRId64
		                 " (feed the other models first, use smaller chunks, or raise "
		                 "options.max_lead)",
		                 (int)model, after - slowest, acc->opts.max_lead);
	return MUDSC_OK;
}

/* Feed the chunk through the buffer; when it does not fit at once, whole
 * blocks are processed in between (every value was checked beforehand). */
static mudsc_status feed(mudsc_accum *acc, int32_t model, const struct accum_view *v)
{
	int64_t k = 0;
	mudsc_status st;

	while (k < v->nobs) {
		size_t pos = (size_t)(acc->seen[model] - acc->done);
		if (pos == acc->cap) {
			flush_rows(acc, false);
			pos = (size_t)(acc->seen[model] - acc->done);
			if (pos == acc->cap)
				return mudsc__err(MUDSC_E_INTERNAL, "mudsc_accum_update: row buffer stuck");
		}
		size_t cnt = acc->cap - pos;
		if ((int64_t)cnt > v->nobs - k)
			cnt = (size_t)(v->nobs - k);
		st = write_rows(acc, model, v, k, cnt, pos);
		if (st != MUDSC_OK)
			return st;
		acc->seen[model] += (int64_t)cnt;
		k += (int64_t)cnt;
	}
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_accum_update(mudsc_accum *accum, int32_t model,
                                          const mudsc_features *features)
{
	struct accum_view v;
	mudsc_status st;

	MUDSC__CHECK_NULL(accum);
	MUDSC__CHECK_NULL(features);
	if (model < 0 || model >= accum->n_models)
		return mudsc__err(MUDSC_E_RANGE, "mudsc_accum_update: argument 'model' = %d not in 0..%d",
		                 (int)model, (int)accum->n_models - 1);
	st = mudsc__accum_view_check(&v, features, accum->width, "mudsc_accum_update");
	if (st != MUDSC_OK || v.nobs == 0)
		return st;
	st = check_lead(accum, model, v.nobs);
	if (st != MUDSC_OK)
		return st;
	if (accum->rows == NULL && (st = alloc_rows(accum, v.dtype)) != MUDSC_OK)
		return st;
	if (!accum->has_shift[model])
		st = set_shift(accum, model, &v);
	else if (accum->opts.nonfinite == MUDSC_NONFINITE_ERROR &&
	         (size_t)(accum->seen[model] - accum->done) + (size_t)v.nobs > accum->cap)
		st = check_all_finite(accum, model, &v); /* feed() will process blocks midway */
	if (st == MUDSC_OK)
		st = feed(accum, model, &v);
	if (st != MUDSC_OK)
		return st;
	accum->chunks[model]++;
	flush_rows(accum, false);
	return MUDSC_OK;
}

/* ---- results ----------------------------------------------------------- */

/* The sizing rule for a result of n_stacked^k elements (k = 1 or 2), then
 * the statistics' state; *fill: write the result. */
static mudsc_status ready(bool *fill, mudsc_accum *acc, const double *out, size_t capacity,
                          size_t *needed, int k, const char *fn)
{
	mudsc_status st;

	*fill = false;
	if (acc == NULL)
		return mudsc__err(MUDSC_E_INVALID, "%s: argument 'accum' is NULL", fn);
	st = mudsc__array_out(fill, out, capacity, needed, k == 1 ? acc->nc : acc->nc * acc->nc, fn);
	if (st != MUDSC_OK || !*fill)
		return st;
	*fill = false;
	st = mudsc__accum_settle(acc, fn);
	if (st != MUDSC_OK)
		return st;
	if (acc->done == 0)
		return mudsc__err(MUDSC_E_STATE, "%s: no observations yet", fn);
	*fill = true;
	return MUDSC_OK;
}

/* Covariance into out (upper triangle and diagonal only). */
static void covariance_upper(const mudsc_accum *acc, double *out)
{
	const size_t nc = acc->nc;
	const double n = (double)acc->done;

	for (size_t a = 0; a < nc; a++) {
		const double ma = acc->sum[a] / n;
		for (size_t b = a; b < nc; b++)
			out[a * nc + b] = acc->prod[a * nc + b] / n - ma * (acc->sum[b] / n);
	}
}

static void mirror_upper(double *out, size_t nc)
{
	for (size_t a = 0; a < nc; a++)
		for (size_t b = a + 1; b < nc; b++)
			out[b * nc + a] = out[a * nc + b];
}

MUDSC_API mudsc_status mudsc_accum_covariance(double *out, size_t capacity, size_t *needed,
                                              mudsc_accum *accum)
{
	bool fill;
	mudsc_status st = ready(&fill, accum, out, capacity, needed, 2, "mudsc_accum_covariance");

	if (!fill)
		return st;
	covariance_upper(accum, out);
	mirror_upper(out, accum->nc);
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_accum_correlation(double *out, size_t capacity, size_t *needed,
                                               mudsc_accum *accum)
{
	bool fill;
	mudsc_status st = ready(&fill, accum, out, capacity, needed, 2, "mudsc_accum_correlation");
	size_t nc;

	if (!fill)
		return st;
	nc = accum->nc;
	covariance_upper(accum, out);
	/* Row a's off-diagonal entries read the variances still on the
	 * diagonal at b > a; a's own diagonal is replaced last. */
	for (size_t a = 0; a < nc; a++) {
		const double sa = sqrt(fmax(out[a * nc + a], 0.0));
		for (size_t b = a + 1; b < nc; b++) {
			const double sb = sqrt(fmax(out[b * nc + b], 0.0));
			out[a * nc + b] /= fmax(sa * sb, ACCUM_EPS);
		}
		out[a * nc + a] /= fmax(sa * sa, ACCUM_EPS);
	}
	mirror_upper(out, nc);
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_accum_means(double *out, size_t capacity, size_t *needed,
                                         mudsc_accum *accum)
{
	bool fill;
	mudsc_status st = ready(&fill, accum, out, capacity, needed, 1, "mudsc_accum_means");

	if (!fill)
		return st;
	for (size_t u = 0; u < accum->nc; u++)
		out[u] = accum->shift[u] + accum->sum[u] / (double)accum->done;
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_accum_stddevs(double *out, size_t capacity, size_t *needed,
                                           mudsc_accum *accum)
{
	bool fill;
	mudsc_status st = ready(&fill, accum, out, capacity, needed, 1, "mudsc_accum_stddevs");
	const double n = accum && accum->done ? (double)accum->done : 1.0;

	if (!fill)
		return st;
	for (size_t u = 0; u < accum->nc; u++) {
		const double m = accum->sum[u] / n;
		out[u] = sqrt(fmax(accum->prod[u * accum->nc + u] / n - m * m, 0.0));
	}
	return MUDSC_OK;
}
