/*
 * mudsc_accum: streaming activation statistics (see include/mudsc/accum.h
 * for the numerics).  This file: creation, the consumer of the streaming
 * engine's blocks (lib/stream reads the chunks) and the results.  Merge
 * and serialization live in merge.c and serialize.c.
 *
 * SPDX-License-Identifier: MIT
 */
#include <inttypes.h>
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

mudsc_status mudsc__accum_options_check(struct mudsc__accum_config *out,
                                       const mudsc_accum_options *in, const char *fn)
{
	mudsc_accum_options o;
	mudsc__stream_config c;
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
	if (o.mode != MUDSC_STATS_FULL && o.mode != MUDSC_STATS_CROSS)
		return mudsc__err(MUDSC_E_INVALID, "%s: opts->mode = %d is not a mudsc_stats_mode", fn,
		                 (int)o.mode);
	/* Rows with a ones column: the syrk of a block then also yields the column sums.
	 * The block size is the engine's until mudsc_accum_set_block_rows(). */
	mudsc__stream_config_init(&c, 0, 0);
	c.nonfinite = o.nonfinite;
	c.max_lead = o.max_lead;
	c.ones = o.mode == MUDSC_STATS_FULL;
	out->stream = c;
	out->threads = o.threads;
	out->mode = o.mode;
	return MUDSC_OK;
}

static size_t block_work_bytes(void *ctx, bool f64);
static void add_block(void *ctx, const mudsc__stream_block *b);

static const mudsc__stream_consumer accum_consumer = { block_work_bytes, add_block };

/* MUDSC_E_INVALID naming fn unless the sizes are addressable: NC within
 * BLAS ints, the 8 (NC)^2 bytes of sums and the largest row buffer within
 * size_t.  The message gives the size, or says that it overflows. */
static mudsc_status check_sizes(const mudsc__stream_config *c, int32_t mode, size_t *nc2,
                               const char *fn)
{
	const int64_t nc = (int64_t)c->n_models * c->width; /* both <= INT32_MAX here */
	size_t bytes;

	if (nc > INT_MAX)
		return mudsc__err(MUDSC_E_INVALID,
		                 "%s: n_models = %d x width = %" PRId64 " = %" PRId64
		                 " features, more than %d (the BLAS index limit)",
		                 fn, (int)c->n_models, c->width, nc, INT_MAX);
	if (mode == MUDSC_STATS_CROSS) /* the cross blocks: (N-1) C^2 < nc^2 */
		*nc2 = (size_t)(c->n_models - 1) * (size_t)c->width * (size_t)c->width;
	else if (!mudsc__mul_size((size_t)nc, (size_t)nc, nc2))
		*nc2 = SIZE_MAX;
	if (*nc2 == SIZE_MAX || !mudsc__mul_size(*nc2, sizeof(double), &bytes))
		return mudsc__err(MUDSC_E_INVALID,
		                 "%s: n_models = %d x width = %" PRId64 ": the sums of products need "
		                 "8 x %" PRId64 "^2 bytes, which overflows size_t",
		                 fn, (int)c->n_models, c->width, nc);
	if (!mudsc__stream_fits(c))
		return mudsc__err(MUDSC_E_INVALID,
		                 "%s: n_models = %d x width = %" PRId64 ": a row buffer of block_rows + "
		                 "max_lead = %" PRId64 " + %" PRId64 " rows of %" PRId64
		                 " features overflows size_t",
		                 fn, (int)c->n_models, c->width, c->block_rows, c->max_lead, nc);
	return MUDSC_OK;
}

mudsc_status mudsc__accum_create(mudsc_accum **out, int32_t n_models, int64_t width,
                                const struct mudsc__accum_config *cfg, const char *fn)
{
	mudsc__stream_config c = cfg->stream;
	mudsc_accum *acc;
	size_t nc, nc2 = 0;
	mudsc_status st;

	c.n_models = n_models;
	c.width = width;
	if (width > INT32_MAX)
		return mudsc__err(MUDSC_E_INVALID, "%s: width = %" PRId64 ", more than %d", fn, width,
		                 INT_MAX);
	st = check_sizes(&c, cfg->mode, &nc2, fn);
	if (st != MUDSC_OK)
		return st;
	acc = mudsc__calloc(1, sizeof *acc, "accumulator");
	if (acc == NULL)
		return MUDSC_E_NOMEM;
	nc = (size_t)n_models * (size_t)width;
	acc->n_models = n_models;
	acc->width = width;
	acc->nc = nc;
	acc->threads = cfg->threads;
	acc->mode = cfg->mode;
	acc->sum = mudsc__calloc(nc, sizeof(double), "accumulator sums");
	if (cfg->mode == MUDSC_STATS_CROSS) {
		acc->sq = mudsc__calloc(nc, sizeof(double), "accumulator sums of squares");
		acc->cross = mudsc__calloc(nc2, sizeof(double), "accumulator cross blocks");
	} else {
		acc->prod = mudsc__calloc(nc2, sizeof(double), "accumulator products");
	}
	st = acc->sum && (acc->prod || (acc->sq && acc->cross))
	         ? mudsc__stream_new(&acc->stream, &c, &accum_consumer, acc)
	         : MUDSC_E_NOMEM;
	if (st != MUDSC_OK) {
		mudsc_accum_free(acc);
		return st;
	}
	*out = acc;
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_accum_new(mudsc_accum **out, int32_t n_models, int64_t width,
                                       const mudsc_accum_options *options)
{
	struct mudsc__accum_config cfg;
	mudsc_status st;

	MUDSC__CHECK_NULL(out);
	if (n_models < 2)
		return mudsc__err(MUDSC_E_INVALID, "mudsc_accum_new: n_models = %d, must be >= 2",
		                 (int)n_models);
	if (width < 1)
		return mudsc__err(MUDSC_E_INVALID, "mudsc_accum_new: width = %" PRId64 ", must be >= 1",
		                 width);
	st = mudsc__accum_options_check(&cfg, options, "mudsc_accum_new");
	if (st != MUDSC_OK)
		return st;
	return mudsc__accum_create(out, n_models, width, &cfg, "mudsc_accum_new");
}

MUDSC_API mudsc_status mudsc_accum_set_block_rows(mudsc_accum *accum, int64_t rows)
{
	MUDSC__CHECK_NULL(accum);
	return mudsc__stream_set_block_rows(accum->stream, rows, "mudsc_accum_set_block_rows");
}

MUDSC_API void mudsc_accum_free(mudsc_accum *accum)
{
	if (accum == NULL)
		return;
	mudsc__stream_free(accum->stream);
	free(accum->sum);
	free(accum->prod);
	free(accum->sq);
	free(accum->cross);
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

MUDSC_API int32_t mudsc_accum_mode(const mudsc_accum *accum)
{
	return accum ? accum->mode : MUDSC_STATS_FULL;
}

MUDSC_API mudsc_status mudsc_accum_count(int64_t *out, const mudsc_accum *accum, int32_t model)
{
	MUDSC__CHECK_NULL(accum);
	MUDSC__CHECK_NULL(out);
	if (model < -1 || model >= accum->n_models)
		return mudsc__err(MUDSC_E_RANGE,
		                 "mudsc_accum_count: argument 'model' = %d not in -1..%d", (int)model,
		                 (int)accum->n_models - 1);
	*out = mudsc__stream_count(accum->stream, model);
	return MUDSC_OK;
}

/* ---- blocks into the sums --------------------------------------------- */

/* The accumulator's threads for this call (its BLAS with BLIS, its loops). */
static struct mudsc__exec accum_exec(const mudsc_accum *acc)
{
	return mudsc__exec_make(acc->threads);
}

/* The workspace: one block's (nc+1) x (nc+1) syrk, or (cross mode) one
 * C x C cross product, in the rows' type. */
static size_t block_work_bytes(void *ctx, bool f64)
{
	const mudsc_accum *acc = ctx;
	const size_t n1 = acc->nc + 1, C = (size_t)acc->width;

	if (acc->mode == MUDSC_STATS_CROSS)
		return C * C * (f64 ? sizeof(double) : sizeof(float));
	return n1 * n1 * (f64 ? sizeof(double) : sizeof(float));
}

/* dst[v] += src[v] for v in [0, n), float into double, in blocks of 8 with
 * a fixed inner count: -O2 vectorizes them (SLP) where it leaves a plain
 * loop of unknown count scalar. */
static void add_f32_to_f64(double *restrict dst, const float *restrict src, size_t n)
{
	size_t v = 0;

	for (; v + 8 <= n; v += 8)
		for (int j = 0; j < 8; j++)
			dst[v + j] += (double)src[v + j];
	for (; v < n; v++)
		dst[v] += (double)src[v];
}

/* Cross mode's work outside the GEMMs, on the accumulator's threads: tasks
 * [0, moment_tasks) add the block's rows to the sums and sums of squares of
 * CROSS_UNITS units each, in row order; the tasks after them add the
 * workspace's product of model i (float or double) into its double cross
 * block, CROSS_ENTRIES entries each.  Every sum gets the same terms in the
 * same order as one serial pass, so the bits do not depend on the threads. */
enum { CROSS_UNITS = 512, CROSS_ENTRIES = 1 << 18 };

struct cross_job {
	mudsc_accum *acc;
	const mudsc__stream_block *b;
	double *dst;          /* model i's cross block, C^2 */
	size_t moment_tasks;  /* 0 after the first model's product */
	size_t entries;       /* C^2 */
};

static mudsc_status cross_task(void *arg, size_t task)
{
	const struct cross_job *j = arg;
	const mudsc__stream_block *b = j->b;
	mudsc_accum *acc = j->acc;

	if (task < j->moment_tasks) {
		const size_t u0 = task * CROSS_UNITS;
		const size_t u1 = u0 + CROSS_UNITS < acc->nc ? u0 + CROSS_UNITS : acc->nc;
		double *restrict sum = acc->sum, *restrict sq = acc->sq;
		for (size_t r = 0; r < b->nrows; r++) {
			if (b->f64) {
				const double *row = (const double *)b->rows + r * b->ld;
				for (size_t u = u0; u < u1; u++) {
					sum[u] += row[u];
					sq[u] += row[u] * row[u];
				}
			} else {
				const float *row = (const float *)b->rows + r * b->ld;
				for (size_t u = u0; u < u1; u++) {
					const double x = (double)row[u];
					sum[u] += x;
					sq[u] += x * x;
				}
			}
		}
		return MUDSC_OK;
	}
	const size_t v0 = (task - j->moment_tasks) * CROSS_ENTRIES;
	const size_t n = j->entries - v0 < CROSS_ENTRIES ? j->entries - v0 : CROSS_ENTRIES;
	if (b->f64) {
		double *restrict dst = j->dst + v0;
		const double *restrict blk = (const double *)b->work + v0;
		for (size_t v = 0; v < n; v++)
			dst[v] += blk[v];
	} else {
		add_f32_to_f64(j->dst + v0, (const float *)b->work + v0, n);
	}
	return MUDSC_OK;
}

/* Cross mode: per model i >= 1 one GEMM X_0' X_i of the block into the
 * workspace, then (cross_task) the product added into the double cross
 * block, with the units' sums and sums of squares in double (row by row,
 * in stream order) beside the first model's. */
static void add_block_cross(mudsc_accum *acc, const mudsc__stream_block *b,
                            const struct mudsc__exec *ex)
{
	const size_t C = (size_t)acc->width, CC = C * C;
	struct cross_job j = {.acc = acc, .b = b, .entries = CC,
	                      .moment_tasks = (acc->nc + CROSS_UNITS - 1) / CROSS_UNITS};

	for (int32_t i = 1; i < acc->n_models; i++) {
		const size_t add_tasks = (CC + CROSS_ENTRIES - 1) / CROSS_ENTRIES;
		/* two sums per stacked value of a row, one addition per entry */
		const double work = 2.0 * (double)b->nrows * (double)acc->nc * (j.moment_tasks > 0) +
		                    (double)CC;
		if (b->f64) {
			const double *rows = b->rows;
			mudsc__blas_dgemm(ex, true, false, (int64_t)C, (int64_t)C, (int64_t)b->nrows, 1.0,
			                  rows, (int64_t)b->ld, rows + (size_t)i * C, (int64_t)b->ld, 0.0,
			                  b->work, (int64_t)C);
		} else {
			const float *rows = b->rows;
			mudsc__blas_sgemm(ex, true, false, (int64_t)C, (int64_t)C, (int64_t)b->nrows, 1.0f,
			                  rows, (int64_t)b->ld, rows + (size_t)i * C, (int64_t)b->ld, 0.0f,
			                  b->work, (int64_t)C);
		}
		j.dst = acc->cross + (size_t)(i - 1) * CC;
		/* tasks cannot fail: nothing to check */
		mudsc__parallel_for(ex, j.moment_tasks + add_tasks, work, cross_task, &j);
		j.moment_tasks = 0;
	}
}

/* Add a block of shifted rows to the sums: one syrk over the rows and
 * their ones column gives the products and (last column) the column sums;
 * float blocks are added into double. */
static void add_block(void *ctx, const mudsc__stream_block *b)
{
	mudsc_accum *acc = ctx;
	const size_t nc = acc->nc, n1 = nc + 1;
	const struct mudsc__exec ex = accum_exec(acc);

	if (acc->mode == MUDSC_STATS_CROSS) {
		add_block_cross(acc, b, &ex);
		return;
	}
	if (b->f64) {
		const double *blk = b->work;
		mudsc__blas_dsyrk(&ex, true, (int64_t)n1, (int64_t)b->nrows, 1.0, b->rows,
		                  (int64_t)b->ld, 0.0, b->work, (int64_t)n1);
		for (size_t u = 0; u < nc; u++) {
			double *dst = acc->prod + u * nc;
			const double *src = blk + u * n1;
			for (size_t v = u; v < nc; v++)
				dst[v] += src[v];
			acc->sum[u] += src[nc];
		}
		return;
	}
	const float *blk = b->work;
	mudsc__blas_ssyrk(&ex, true, (int64_t)n1, (int64_t)b->nrows, 1.0f, b->rows,
	                  (int64_t)b->ld, 0.0f, b->work, (int64_t)n1);
	for (size_t u = 0; u < nc; u++) {
		add_f32_to_f64(acc->prod + u * nc + u, blk + u * n1 + u, nc - u);
		acc->sum[u] += blk[u * n1 + nc];
	}
}

/* ---- update ------------------------------------------------------------ */

MUDSC_API mudsc_status mudsc_accum_update(mudsc_accum *accum, int32_t model,
                                          const mudsc_features *features)
{
	MUDSC__CHECK_NULL(accum);
	MUDSC__CHECK_NULL(features);
	return mudsc__stream_update(accum->stream, model, features, "mudsc_accum_update");
}

/* ---- results ----------------------------------------------------------- */

/* The sizing rule for a result of `count` elements, then the statistics'
 * state; *fill: write the result.  full: the result needs the full mode. */
static mudsc_status ready(bool *fill, mudsc_accum *acc, const double *out, size_t capacity,
                          size_t *needed, size_t count, bool full, const char *fn)
{
	mudsc_status st;

	*fill = false;
	if (acc == NULL)
		return mudsc__err(MUDSC_E_INVALID, "%s: argument 'accum' is NULL", fn);
	st = mudsc__array_out(fill, out, capacity, needed, count, fn);
	if (st != MUDSC_OK || !*fill)
		return st;
	*fill = false;
	if (full && acc->mode == MUDSC_STATS_CROSS)
		return mudsc__err(MUDSC_E_UNSUPPORTED,
		                 "%s: argument 'accum' keeps cross-block statistics (opts->mode = "
		                 "MUDSC_STATS_CROSS), not the NC x NC ones: use "
		                 "mudsc_accum_cross_correlation()",
		                 fn);
	st = mudsc__stream_settle(acc->stream, fn);
	if (st != MUDSC_OK)
		return st;
	if (mudsc__stream_done(acc->stream) == 0)
		return mudsc__err(MUDSC_E_STATE, "%s: no observations yet", fn);
	*fill = true;
	return MUDSC_OK;
}

static double load(const void *base, size_t k)
{
	double v;

	memcpy(&v, (const unsigned char *)base + k * sizeof v, sizeof v);
	return v;
}

/* The stored sum of products of units a <= b (a stored pair: in cross
 * mode a == b, or a of model 0 and b of another model). */
static double raw_product(const struct mudsc__accum_raw *r, size_t a, size_t b)
{
	const size_t nc = r->nc, C = (size_t)r->width;

	if (r->mode == MUDSC_STATS_CROSS)
		return a == b ? load(r->sq, a) : load(r->cross, ((b / C - 1) * C + a) * C + b % C);
	/* packed: row a starts at sum_{q < a} (nc - q) = a nc - a (a - 1) / 2 */
	return load(r->prod, r->packed ? a * nc - a * (a - 1) / 2 + (b - a) : a * nc + b);
}

/* Sigma[a][b] from the sums over n observations: the one expression every
 * result uses. */
static double cov_entry(const struct mudsc__accum_raw *r, size_t a, size_t b, double n)
{
	return raw_product(r, a, b) / n - (load(r->sum, a) / n) * (load(r->sum, b) / n);
}

/* The finalisation of an NC x NC result, one row per task: first the upper
 * triangle (covariance, or divided by max(sd_a sd_b, eps) when sd is
 * given), then the lower one mirrored.  anchor: only the blocks of model 0
 * against the others (rows of model 0, columns from C on), every other
 * entry 0.  Each task writes only its row. */
struct finalise_job {
	const struct mudsc__accum_raw *r;
	double n; /* observations */
	double *out;
	const double *sd; /* NULL: covariance */
	bool anchor;
};

static mudsc_status upper_row(void *arg, size_t a)
{
	const struct finalise_job *j = arg;
	const size_t nc = j->r->nc, C = (size_t)j->r->width;
	double *row = j->out + a * nc;
	size_t b0 = a;

	if (j->anchor) {
		memset(row + a, 0, (nc - a) * sizeof *row);
		if (a >= C)
			return MUDSC_OK;
		b0 = C;
	}
	for (size_t b = b0; b < nc; b++)
		row[b] = cov_entry(j->r, a, b, j->n);
	if (j->sd != NULL)
		for (size_t b = b0; b < nc; b++)
			row[b] /= fmax(j->sd[a] * j->sd[b], ACCUM_EPS);
	return MUDSC_OK;
}

static mudsc_status lower_row(void *arg, size_t b)
{
	const struct finalise_job *j = arg;
	const size_t nc = j->r->nc;

	for (size_t a = 0; a < b; a++)
		j->out[b * nc + a] = j->out[a * nc + b];
	return MUDSC_OK;
}

/* out = the covariance (sd NULL) or the correlation; the same bytes for
 * every thread count. */
static void finalise(const struct mudsc__accum_raw *r, double *out, const double *sd, bool anchor,
                     const struct mudsc__exec *ex)
{
	struct finalise_job j = {.r = r, .n = (double)r->count, .out = out, .sd = sd,
	                         .anchor = anchor};
	/* a few steps per entry: divisions above, column reads below */
	double work = 4.0 * (double)r->nc * (double)r->nc;

	/* tasks cannot fail: nothing to check */
	mudsc__parallel_for(ex, r->nc, work, upper_row, &j);
	mudsc__parallel_for(ex, r->nc, work, lower_row, &j);
}

/* sd[u] = sqrt(max(Sigma[u][u], 0)) for every unit. */
static void raw_stddevs(const struct mudsc__accum_raw *r, double *sd)
{
	const double n = (double)r->count;

	for (size_t u = 0; u < r->nc; u++)
		sd[u] = sqrt(fmax(cov_entry(r, u, u, n), 0.0));
}

void mudsc__accum_raw_similarity(double *S, const struct mudsc__accum_raw *r, bool anchor_only,
                                double *sd, const struct mudsc__exec *ex)
{
	raw_stddevs(r, sd);
	finalise(r, S, sd, anchor_only || r->mode == MUDSC_STATS_CROSS, ex);
}

void mudsc__accum_raw_covariance(double *S, const struct mudsc__accum_raw *r,
                                 const struct mudsc__exec *ex)
{
	finalise(r, S, NULL, false, ex);
}

/* Anchor row a of every block of the (N-1) x C x C layout: the
 * expression of upper_row, entry by entry (the same bits). */
struct blocks_job {
	const struct mudsc__accum_raw *r;
	double n, *out;
	const double *sd;
};

static mudsc_status blocks_row(void *arg, size_t a)
{
	const struct blocks_job *j = arg;
	const size_t C = (size_t)j->r->width, N = (size_t)j->r->n_models;

	for (size_t i = 1; i < N; i++) {
		double *row = j->out + ((i - 1) * C + a) * C;
		for (size_t b = 0; b < C; b++)
			row[b] = cov_entry(j->r, a, i * C + b, j->n);
		for (size_t b = 0; b < C; b++)
			row[b] /= fmax(j->sd[a] * j->sd[i * C + b], ACCUM_EPS);
	}
	return MUDSC_OK;
}

void mudsc__accum_raw_anchor_blocks(double *X, const struct mudsc__accum_raw *r, double *sd,
                                   const struct mudsc__exec *ex)
{
	struct blocks_job j = {.r = r, .n = (double)r->count, .out = X, .sd = sd};
	double work = 4.0 * (double)r->nc * (double)r->width;

	raw_stddevs(r, sd);
	mudsc__parallel_for(ex, (size_t)r->width, work, blocks_row, &j);
}

MUDSC_API mudsc_status mudsc_accum_covariance(double *out, size_t capacity, size_t *needed,
                                              mudsc_accum *accum)
{
	static const char fn[] = "mudsc_accum_covariance";
	struct mudsc__accum_raw r;
	struct mudsc__exec ex;
	bool fill;
	mudsc_status st = ready(&fill, accum, out, capacity, needed,
	                        accum ? accum->nc * accum->nc : 0, true, fn);

	if (!fill)
		return st;
	ex = accum_exec(accum);
	mudsc__accum_raw_of(&r, accum);
	finalise(&r, out, NULL, false, &ex);
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_accum_correlation(double *out, size_t capacity, size_t *needed,
                                               mudsc_accum *accum)
{
	static const char fn[] = "mudsc_accum_correlation";
	bool fill;
	mudsc_status st = ready(&fill, accum, out, capacity, needed,
	                        accum ? accum->nc * accum->nc : 0, true, fn);

	if (!fill)
		return st;
	return mudsc__accum_similarity(out, accum, fn);
}

/* The matcher's S_a of an accumulator: dense (blocks false) or in the
 * anchor-block layout. */
static mudsc_status similarity_of(double *S, mudsc_accum *acc, bool blocks, const char *fn)
{
	struct mudsc__accum_raw r;
	struct mudsc__exec ex;
	bool fill;
	mudsc_status st = ready(&fill, acc, S, 1, NULL, 1, false, fn);
	double *sd;

	if (!fill)
		return st;
	sd = mudsc__alloc(acc->nc * sizeof *sd, "standard deviations");
	if (sd == NULL)
		return MUDSC_E_NOMEM;
	ex = accum_exec(acc);
	mudsc__accum_raw_of(&r, acc);
	if (blocks)
		mudsc__accum_raw_anchor_blocks(S, &r, sd, &ex);
	else
		mudsc__accum_raw_similarity(S, &r, false, sd, &ex);
	free(sd);
	return MUDSC_OK;
}

mudsc_status mudsc__accum_similarity(double *S, mudsc_accum *acc, const char *fn)
{
	return similarity_of(S, acc, false, fn);
}

mudsc_status mudsc__accum_anchor_blocks(double *X, mudsc_accum *acc, const char *fn)
{
	return similarity_of(X, acc, true, fn);
}

MUDSC_API mudsc_status mudsc_accum_cross_correlation(double *out, size_t capacity,
                                                     size_t *needed, mudsc_accum *accum)
{
	static const char fn[] = "mudsc_accum_cross_correlation";
	struct mudsc__accum_raw r;
	size_t C, count = 0;
	bool fill;
	mudsc_status st;
	double *sd, n;

	if (accum != NULL)
		count = (size_t)(accum->n_models - 1) * (size_t)accum->width * (size_t)accum->width;
	st = ready(&fill, accum, out, capacity, needed, count, false, fn);
	if (!fill)
		return st;
	sd = mudsc__alloc(accum->nc * sizeof *sd, "standard deviations");
	if (sd == NULL)
		return MUDSC_E_NOMEM;
	mudsc__accum_raw_of(&r, accum);
	raw_stddevs(&r, sd);
	C = (size_t)accum->width;
	n = (double)r.count;
	/* the expression of upper_row, entry by entry */
	for (size_t i = 1; i < (size_t)accum->n_models; i++)
		for (size_t a = 0; a < C; a++)
			for (size_t b = 0; b < C; b++) {
				double v = cov_entry(&r, a, i * C + b, n);
				v /= fmax(sd[a] * sd[i * C + b], ACCUM_EPS);
				out[((i - 1) * C + a) * C + b] = v;
			}
	free(sd);
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_accum_means(double *out, size_t capacity, size_t *needed,
                                         mudsc_accum *accum)
{
	bool fill;
	mudsc_status st = ready(&fill, accum, out, capacity, needed, accum ? accum->nc : 0, false,
	                        "mudsc_accum_means");
	const double *shift;
	double n;

	if (!fill)
		return st;
	shift = mudsc__stream_shifts(accum->stream);
	n = (double)mudsc__stream_done(accum->stream);
	for (size_t u = 0; u < accum->nc; u++)
		out[u] = shift[u] + accum->sum[u] / n;
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_accum_stddevs(double *out, size_t capacity, size_t *needed,
                                           mudsc_accum *accum)
{
	struct mudsc__accum_raw r;
	bool fill;
	mudsc_status st = ready(&fill, accum, out, capacity, needed, accum ? accum->nc : 0, false,
	                        "mudsc_accum_stddevs");

	if (!fill)
		return st;
	mudsc__accum_raw_of(&r, accum);
	raw_stddevs(&r, out);
	return MUDSC_OK;
}
