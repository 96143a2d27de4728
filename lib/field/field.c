/*
 * mudsc_field: ModelGiF distances of N models (mudsc/field.h,
 * docs/algorithm.md section 14).  The gradients come through the
 * stream engine (lib/stream, its second consumer): every complete row is
 * one observation, (step s, input b) of the open batch, with the N
 * models' D gradient values side by side, in double.
 *
 * SPDX-License-Identifier: MIT
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "field/field.h"

MUDSC_API mudsc_status mudsc_field_options_init(mudsc_field_options *opts)
{
	return mudsc__options_init(opts, MUDSC__OPTIONS_FIELD, "mudsc_field_options_init");
}

/* The engine's messages name its view 'features'; ours name the argument
 * as the header spells it. */
static mudsc_status rename_view(mudsc_status st, const char *arg)
{
	char msg[MUDSC__ERRMSG_MAX], out[MUDSC__ERRMSG_MAX];
	const char *hit;
	bool member = false;

	if (st == MUDSC_OK)
		return st;
	snprintf(msg, sizeof msg, "%s", mudsc_error_message());
	hit = strstr(msg, "argument 'features'");
	if (hit == NULL && (hit = strstr(msg, "features->")) != NULL)
		member = true;
	if (hit == NULL)
		return st;
	if (member) /* features->strides[...] */
		snprintf(out, sizeof out, "%.*s%s%s", (int)(hit - msg), msg, arg, hit + 8);
	else
		snprintf(out, sizeof out, "%.*sargument '%s'%s", (int)(hit - msg), msg, arg,
		         hit + strlen("argument 'features'"));
	return mudsc__err(st, "%s", out);
}

/* ---- the consumer: rows of the open batch ------------------------------ */

static void add_rows(void *ctx, const mudsc__stream_block *blk)
{
	mudsc_field *f = ctx;
	const size_t n = (size_t)f->n, d = (size_t)f->d, nn = n * n, bsz = (size_t)f->batch;
	const struct mudsc__exec ex = MUDSC__EXEC_SERIAL;

	for (size_t r = 0; r < blk->nrows; r++) {
		size_t o = (size_t)(blk->first - f->first) + r;
		size_t s = o / bsz, b = o % bsz;
		const double w = f->weights[s], *xb = f->xb + b * d;
		double *sums = f->step_sums + s * nn;
		double *per = f->keep_inputs ? f->batch_inputs + b * nn : NULL;

		for (size_t i = 0; i < n; i++) {
			double *c = f->cum + (i * bsz + b) * d, *fi = f->f + i * d;
			if (blk->f64) {
				const double *g = (const double *)blk->rows + r * blk->ld + i * d;
				for (size_t u = 0; u < d; u++) {
					c[u] += w * g[u];
					fi[u] = xb[u] * c[u];
				}
			} else { /* float rows hold F32/F16/BF16 values exactly */
				const float *g = (const float *)blk->rows + r * blk->ld + i * d;
				for (size_t u = 0; u < d; u++) {
					c[u] += w * (double)g[u];
					fi[u] = xb[u] * c[u];
				}
			}
		}
		/* the Gram matrix of the N fields (upper triangle): dots and norms */
		mudsc__blas_dsyrk(&ex, false, f->n, f->d, 1.0, f->f, f->d, 0.0, f->gram, f->n);
		for (size_t i = 0; i < n; i++) {
			const double ni = f->gram[i * n + i];
			for (size_t j = i + 1; j < n; j++) {
				const double nj = f->gram[j * n + j];
				double cs, v;
				if (ni == 0.0 || nj == 0.0)
					cs = ni == nj ? 1.0 : 0.0;
				else
					cs = f->gram[i * n + j] / (sqrt(ni) * sqrt(nj));
				cs = cs > 1.0 ? 1.0 : cs < -1.0 ? -1.0 : cs;
				v = 1.0 - cs;
				sums[i * n + j] += v;
				if (per)
					per[i * n + j] += v;
			}
		}
	}
}

static const mudsc__stream_consumer field_consumer = {NULL, add_rows};

/* ---- handle --------------------------------------------------------------- */

mudsc_status mudsc__field_create(mudsc_field **out, int32_t n, int64_t d, int32_t rule,
                                int32_t k, bool keep_inputs, const mudsc_field_options *opts,
                                const char *fn)
{
	mudsc__stream_config c;
	mudsc_field *f;
	size_t nn = (size_t)n * (size_t)n, bytes;
	mudsc_status st;

	mudsc__stream_config_init(&c, n, d);
	c.nonfinite = opts->nonfinite;
	c.max_lead = opts->max_lead;
	c.block_rows = opts->block_rows;
	c.rows = MUDSC__STREAM_ROWS_AUTO; /* float rows for float input: exact, half the bytes */
	c.shift = false;
	c.ones = false;
	if (!mudsc__stream_fits(&c) || !mudsc__mul_size(nn, (size_t)k, &bytes) ||
	    !mudsc__mul_size(bytes, sizeof(double), &bytes) || d > (int64_t)(SIZE_MAX / 16) / n)
		return mudsc__err(MUDSC_E_INVALID, "%s: n_models = %d with input_size = %" PRId64
		                  " and the options' rows is too large to address", fn, (int)n, d);
	f = mudsc__calloc(1, sizeof *f, "a field accumulator");
	if (f == NULL)
		return MUDSC_E_NOMEM;
	f->n = n;
	f->d = d;
	f->rule = rule;
	f->k = k;
	f->keep_inputs = keep_inputs;
	f->opts = *opts;
	f->opts.rule = rule;
	f->opts.steps = k;
	f->opts.keep_inputs = keep_inputs;
	f->nodes = mudsc__alloc(2 * (size_t)k * sizeof(double), "the field's path");
	f->step_sums = mudsc__calloc(bytes, 1, "the field's sums");
	f->gram = mudsc__alloc(nn * sizeof(double), "the field's Gram matrix");
	if (f->nodes == NULL || f->step_sums == NULL || f->gram == NULL) {
		mudsc_field_free(f);
		return MUDSC_E_NOMEM;
	}
	f->weights = f->nodes + k;
	f->cfg = c;
	st = mudsc__quad_fill(f->nodes, f->weights, rule, k, fn);
	if (st != MUDSC_OK) {
		mudsc_field_free(f);
		return st;
	}
	*out = f;
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_field_new(mudsc_field **out, int32_t n_models, int64_t input_size,
                                       const mudsc_field_options *opts)
{
	const char *fn = "mudsc_field_new";
	mudsc_field_options o;
	mudsc_status st;

	MUDSC__CHECK_NULL(out);
	if (n_models < 2)
		return mudsc__err(MUDSC_E_INVALID, "%s: argument 'n_models' = %d must be >= 2", fn,
		                  (int)n_models);
	if (input_size < 1)
		return mudsc__err(MUDSC_E_INVALID, "%s: argument 'input_size' = %" PRId64
		                  " must be >= 1", fn, input_size);
	st = mudsc__options_read(&o, opts, MUDSC__OPTIONS_FIELD, fn);
	if (st != MUDSC_OK)
		return st;
	if (o.rule < MUDSC_QUAD_GAUSS_LEGENDRE || o.rule > MUDSC_QUAD_RIEMANN_TRAPEZOID)
		return mudsc__err(MUDSC_E_INVALID, "%s: opts->rule = %d is not a mudsc_quad_rule",
		                  fn, (int)o.rule);
	if (o.steps < (o.rule == MUDSC_QUAD_RIEMANN_TRAPEZOID ? 2 : 1) ||
	    o.steps > MUDSC_QUAD_MAX_STEPS)
		return mudsc__err(MUDSC_E_INVALID, "%s: opts->steps = %d is out of range (%d..%d "
		                  "for this rule)", fn, (int)o.steps,
		                  o.rule == MUDSC_QUAD_RIEMANN_TRAPEZOID ? 2 : 1, MUDSC_QUAD_MAX_STEPS);
	if (o.nonfinite != MUDSC_NONFINITE_ERROR && o.nonfinite != MUDSC_NONFINITE_ZERO)
		return mudsc__err(MUDSC_E_INVALID, "%s: opts->nonfinite = %d is not a mudsc_nonfinite",
		                  fn, (int)o.nonfinite);
	if (o.keep_inputs != 0 && o.keep_inputs != 1)
		return mudsc__err(MUDSC_E_INVALID, "%s: opts->keep_inputs = %d is not 0 or 1", fn,
		                  (int)o.keep_inputs);
	if (o.max_lead < 0)
		return mudsc__err(MUDSC_E_INVALID, "%s: opts->max_lead = %" PRId64 " must be >= 0",
		                  fn, o.max_lead);
	st = mudsc__stream_check_block_rows(o.block_rows, "opts->block_rows", fn);
	if (st != MUDSC_OK)
		return st;
	return mudsc__field_create(out, n_models, input_size, o.rule, o.steps, o.keep_inputs == 1,
	                           &o, fn);
}

static void free_batch(mudsc_field *f)
{
	free(f->xb);
	free(f->cum);
	free(f->batch_inputs);
	f->xb = f->cum = f->batch_inputs = NULL;
	f->batch_cap = 0;
}

MUDSC_API void mudsc_field_free(mudsc_field *field)
{
	if (field == NULL)
		return;
	mudsc__stream_free(field->stream);
	free_batch(field);
	free(field->nodes);
	free(field->step_sums);
	free(field->input_sums);
	free(field->f);
	free(field->gram);
	free(field);
}

MUDSC_API int32_t mudsc_field_models(const mudsc_field *field)
{
	return field ? field->n : 0;
}

MUDSC_API int64_t mudsc_field_input_size(const mudsc_field *field)
{
	return field ? field->d : 0;
}

MUDSC_API int32_t mudsc_field_steps(const mudsc_field *field)
{
	return field ? field->k : 0;
}

MUDSC_API int32_t mudsc_field_rule(const mudsc_field *field)
{
	return field ? field->rule : -1;
}

MUDSC_API int64_t mudsc_field_inputs(const mudsc_field *field)
{
	return field ? field->inputs : 0;
}

MUDSC_API mudsc_status mudsc_field_points(double *nodes, double *weights,
                                          const mudsc_field *field)
{
	MUDSC__CHECK_NULL(field);
	if (nodes)
		memcpy(nodes, field->nodes, (size_t)field->k * sizeof *nodes);
	if (weights)
		memcpy(weights, field->weights, (size_t)field->k * sizeof *weights);
	return MUDSC_OK;
}

mudsc_status mudsc__field_reserve_inputs(mudsc_field *f, int64_t count)
{
	size_t p = (size_t)f->n * (size_t)f->n, cap = f->input_cap ? f->input_cap : 64;
	double *q;

	if ((size_t)count <= f->input_cap)
		return MUDSC_OK;
	while (cap < (size_t)count)
		cap *= 2;
	q = mudsc__realloc_array(f->input_sums, cap, p * sizeof(double), "the per-input distances");
	if (q == NULL)
		return MUDSC_E_NOMEM;
	f->input_sums = q;
	f->input_cap = cap;
	return MUDSC_OK;
}

/* ---- batches ---------------------------------------------------------------- */

/* Read a (B, D) view into dst (B * D doubles), or subtract it (sign -1),
 * through a one-model engine (its view rules and value checks). */
struct read_ctx {
	double *dst;
	double sign;
	size_t d;
};

static void read_rows(void *ctx, const mudsc__stream_block *blk)
{
	struct read_ctx *rc = ctx;
	const double *rows = blk->rows;

	if (rc->dst == NULL) /* a view being checked only */
		return;
	for (size_t r = 0; r < blk->nrows; r++) {
		double *o = rc->dst + ((size_t)blk->first + r) * rc->d;
		const double *x = rows + r * blk->ld;
		for (size_t u = 0; u < rc->d; u++)
			o[u] += rc->sign * x[u];
	}
}

static const mudsc__stream_consumer read_consumer = {NULL, read_rows};

static int64_t view_nobs(const mudsc_features *x)
{
	int32_t axis;
	int64_t n = 1;

	if (x->rank < 1 || x->rank > MUDSC_MAX_RANK)
		return -1;
	axis = x->feature_axis < 0 ? x->feature_axis + x->rank : x->feature_axis;
	if (axis < 0 || axis >= x->rank)
		return -1;
	for (int32_t a = 0; a < x->rank; a++) {
		if (x->shape[a] < 0)
			return -1;
		if (a != axis && __builtin_mul_overflow(n, x->shape[a], &n))
			return -1;
	}
	return n;
}

static mudsc_status read_view(double *dst, double sign, const mudsc_field *f,
                              const mudsc_features *x, int64_t nobs, const char *arg)
{
	const char *fn = "mudsc_field_begin";
	mudsc__stream_config c;
	mudsc__stream *s;
	struct read_ctx rc = {dst, sign, (size_t)f->d};
	mudsc_status st;

	mudsc__stream_config_init(&c, 1, f->d);
	c.max_lead = 0;
	c.block_rows = nobs < 1 ? 1 : nobs;
	c.rows = MUDSC__STREAM_ROWS_F64;
	c.shift = false;
	if (!mudsc__stream_fits(&c))
		return mudsc__err(MUDSC_E_INVALID, "%s: argument '%s': %" PRId64 " inputs of %" PRId64
		                  " values are too many for one batch", fn, arg, nobs, f->d);
	st = mudsc__stream_new(&s, &c, &read_consumer, &rc);
	if (st != MUDSC_OK)
		return st;
	st = rename_view(mudsc__stream_update(s, 0, x, fn), arg);
	if (st == MUDSC_OK)
		st = mudsc__stream_settle(s, fn);
	mudsc__stream_free(s);
	return st;
}

/* The engine's message for a view whose shape view_nobs() refused. */
static mudsc_status bad_view(const mudsc_field *f, const mudsc_features *x, const char *arg)
{
	mudsc_status st = read_view(NULL, 1.0, f, x, 0, arg);

	return st != MUDSC_OK ? st : mudsc__err(MUDSC_E_SHAPE, "mudsc_field_begin: argument '%s': "
	                                        "negative or overflowing shape", arg);
}

MUDSC_API mudsc_status mudsc_field_begin(mudsc_field *field, const mudsc_features *inputs,
                                         const mudsc_features *baselines)
{
	const char *fn = "mudsc_field_begin";
	int64_t b, bb;
	size_t bd, need, nn;
	double *xb = NULL, *cum = NULL, *per = NULL;
	mudsc_status st;

	MUDSC__CHECK_NULL(field);
	MUDSC__CHECK_NULL(inputs);
	if (field->open)
		return mudsc__err(MUDSC_E_STATE, "%s: the open batch is not complete (every model "
		                  "must deliver its %" PRId64 " x %d observations first)", fn,
		                  field->batch, (int)field->k);
	b = view_nobs(inputs);
	if (b < 0) /* the engine says what is wrong with the view */
		return bad_view(field, inputs, "inputs");
	if (baselines) {
		bb = view_nobs(baselines);
		if (bb < 0)
			return bad_view(field, baselines, "baselines");
		if (bb != b)
			return mudsc__err(MUDSC_E_SHAPE, "%s: argument 'baselines' holds %" PRId64
			                  " inputs, argument 'inputs' %" PRId64, fn, bb, b);
	}
	nn = (size_t)field->n * (size_t)field->n;
	if (!mudsc__mul_size((size_t)b, (size_t)field->d, &bd) ||
	    !mudsc__mul_size(bd, (size_t)field->n, &need) || need > SIZE_MAX / sizeof(double) ||
	    b > INT64_MAX / 4 / field->k)
		return mudsc__err(MUDSC_E_INVALID, "%s: argument 'inputs': %" PRId64
		                  " inputs are too many for one batch", fn, b);
	xb = mudsc__calloc(bd ? bd : 1, sizeof *xb, "the batch's inputs");
	cum = mudsc__calloc(need ? need : 1, sizeof *cum, "the batch's running sums");
	if (field->keep_inputs)
		per = mudsc__calloc((size_t)(b ? b : 1), nn * sizeof *per, "the batch's per-input sums");
	if (xb == NULL || cum == NULL || (field->keep_inputs && per == NULL)) {
		st = MUDSC_E_NOMEM;
		goto fail;
	}
	st = read_view(xb, 1.0, field, inputs, b, "inputs");
	if (st == MUDSC_OK && baselines)
		st = read_view(xb, -1.0, field, baselines, b, "baselines");
	if (st == MUDSC_OK)
		for (size_t u = 0; u < bd; u++)
			if (!isfinite(xb[u])) {
				st = mudsc__err(MUDSC_E_NUMERIC, "%s: input %zu, value %zu: x - b is not "
				                "finite", fn, u / (size_t)field->d, u % (size_t)field->d);
				break;
			}
	if (st == MUDSC_OK && field->keep_inputs)
		st = mudsc__field_reserve_inputs(field, field->inputs + b);
	/* what depends on D is allocated by the first batch (a loaded file's
	 * D costs nothing until then) */
	if (st == MUDSC_OK && field->f == NULL &&
	    (field->f = mudsc__alloc((size_t)field->n * (size_t)field->d * sizeof(double),
	                             "the field's rows")) == NULL)
		st = MUDSC_E_NOMEM;
	if (st == MUDSC_OK && field->stream == NULL)
		st = mudsc__stream_new(&field->stream, &field->cfg, &field_consumer, field);
	if (st != MUDSC_OK)
		goto fail;
	free_batch(field);
	field->xb = xb;
	field->cum = cum;
	field->batch_inputs = per;
	field->batch = b;
	field->first = mudsc__stream_done(field->stream);
	field->open = b > 0;
	return MUDSC_OK;
fail:
	free(xb);
	free(cum);
	free(per);
	return st;
}

static void close_batch(mudsc_field *f)
{
	size_t nn = (size_t)f->n * (size_t)f->n;

	if (f->keep_inputs)
		memcpy(f->input_sums + (size_t)f->inputs * nn, f->batch_inputs,
		       (size_t)f->batch * nn * sizeof(double));
	f->inputs += f->batch;
	f->open = false;
	free_batch(f);
}

MUDSC_API mudsc_status mudsc_field_update(mudsc_field *field, int32_t model,
                                          const mudsc_features *gradients)
{
	const char *fn = "mudsc_field_update";
	int64_t nobs, end, have;
	mudsc_status st;

	MUDSC__CHECK_NULL(field);
	MUDSC__CHECK_NULL(gradients);
	if (model < 0 || model >= field->n)
		return mudsc__err(MUDSC_E_RANGE, "%s: argument 'model' = %d not in 0..%d", fn,
		                  (int)model, (int)field->n - 1);
	if (!field->open)
		return mudsc__err(MUDSC_E_STATE, "%s: no open batch (call mudsc_field_begin() with "
		                  "the batch's inputs first)", fn);
	nobs = view_nobs(gradients);
	end = field->first + field->batch * field->k;
	have = mudsc__stream_count(field->stream, model);
	if (nobs > end - have)
		return mudsc__err(MUDSC_E_STATE, "%s: model %d: %" PRId64 " observations would take "
		                  "it past the batch's %" PRId64 " inputs x %d steps (%" PRId64
		                  " to go)", fn, (int)model, nobs, field->batch, (int)field->k,
		                  end - have);
	st = rename_view(mudsc__stream_update(field->stream, model, gradients, fn), "gradients");
	if (st != MUDSC_OK)
		return st;
	if (mudsc__stream_count(field->stream, -1) == end) {
		st = mudsc__stream_settle(field->stream, fn);
		if (st != MUDSC_OK)
			return mudsc__err(MUDSC_E_INTERNAL, "%s: settling a complete batch failed", fn);
		close_batch(field);
	}
	return MUDSC_OK;
}

/* ---- merge and results --------------------------------------------------- */

static mudsc_status check_closed(const mudsc_field *f, const char *fn, const char *arg)
{
	if (f->open)
		return mudsc__err(MUDSC_E_STATE, "%s: argument '%s' has an open batch (%" PRId64
		                  " inputs; every model must deliver its observations first)", fn, arg,
		                  f->batch);
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_field_merge(mudsc_field *dst, const mudsc_field *src)
{
	const char *fn = "mudsc_field_merge";
	size_t nn, total;
	mudsc_status st;

	MUDSC__CHECK_NULL(dst);
	MUDSC__CHECK_NULL(src);
	if (dst == src)
		return mudsc__err(MUDSC_E_INVALID, "%s: arguments 'dst' and 'src' are the same "
		                  "accumulator", fn);
	if ((st = check_closed(dst, fn, "dst")) != MUDSC_OK ||
	    (st = check_closed(src, fn, "src")) != MUDSC_OK)
		return st;
	if (dst->n != src->n)
		return mudsc__err(MUDSC_E_MISMATCH, "%s: n_models differ (dst %d, src %d)", fn,
		                  (int)dst->n, (int)src->n);
	if (dst->d != src->d)
		return mudsc__err(MUDSC_E_MISMATCH, "%s: input_size differs (dst %" PRId64 ", src %"
		                  PRId64 ")", fn, dst->d, src->d);
	if (dst->rule != src->rule)
		return mudsc__err(MUDSC_E_MISMATCH, "%s: rule differs (dst %d, src %d)", fn,
		                  (int)dst->rule, (int)src->rule);
	if (dst->k != src->k)
		return mudsc__err(MUDSC_E_MISMATCH, "%s: steps differ (dst %d, src %d)", fn,
		                  (int)dst->k, (int)src->k);
	if (dst->keep_inputs != src->keep_inputs)
		return mudsc__err(MUDSC_E_MISMATCH, "%s: keep_inputs differs (dst %d, src %d)", fn,
		                  (int)dst->keep_inputs, (int)src->keep_inputs);
	if (src->inputs > INT64_MAX / 4 - dst->inputs)
		return mudsc__err(MUDSC_E_RANGE, "%s: the merged input count overflows", fn);
	nn = (size_t)dst->n * (size_t)dst->n;
	if (dst->keep_inputs) {
		st = mudsc__field_reserve_inputs(dst, dst->inputs + src->inputs);
		if (st != MUDSC_OK)
			return st;
		if (src->inputs > 0)
			memcpy(dst->input_sums + (size_t)dst->inputs * nn, src->input_sums,
			       (size_t)src->inputs * nn * sizeof(double));
	}
	total = (size_t)dst->k * nn;
	for (size_t u = 0; u < total; u++)
		dst->step_sums[u] += src->step_sums[u];
	dst->inputs += src->inputs;
	return MUDSC_OK;
}

/* out[m * nn + (i, j)] = sums[m * nn + (min, max)] * scale, mirrored, 0 on the diagonal. */
static void fill_matrices(double *out, const double *sums, size_t count, int32_t n,
                          double scale)
{
	const size_t nn = (size_t)n * (size_t)n;

	for (size_t m = 0; m < count; m++)
		for (size_t i = 0; i < (size_t)n; i++)
			for (size_t j = 0; j < (size_t)n; j++) {
				size_t a = i < j ? i : j, c = i < j ? j : i;
				out[m * nn + i * (size_t)n + j] =
					i == j ? 0.0 : sums[m * nn + a * (size_t)n + c] * scale;
			}
}

static mudsc_status result_state(const mudsc_field *f, const char *fn)
{
	mudsc_status st = check_closed(f, fn, "field");

	if (st == MUDSC_OK && f->inputs == 0)
		st = mudsc__err(MUDSC_E_STATE, "%s: no inputs yet (stream at least one batch)", fn);
	return st;
}

MUDSC_API mudsc_status mudsc_field_distances(double *out, size_t capacity, size_t *needed,
                                             const mudsc_field *field)
{
	const char *fn = "mudsc_field_distances";
	size_t nn, total;
	double *acc;
	bool fill;
	mudsc_status st;

	MUDSC__CHECK_NULL(field);
	nn = (size_t)field->n * (size_t)field->n;
	st = mudsc__array_out(&fill, out, capacity, needed, nn, fn);
	if (st != MUDSC_OK || !fill)
		return st;
	if ((st = result_state(field, fn)) != MUDSC_OK)
		return st;
	acc = mudsc__calloc(nn, sizeof *acc, "the distances");
	if (acc == NULL)
		return MUDSC_E_NOMEM;
	total = (size_t)field->k;
	for (size_t s = 0; s < total; s++)
		for (size_t u = 0; u < nn; u++)
			acc[u] += field->step_sums[s * nn + u];
	fill_matrices(out, acc, 1, field->n, 1.0 / ((double)field->inputs * (double)field->k));
	free(acc);
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_field_step_distances(double *out, size_t capacity, size_t *needed,
                                                  const mudsc_field *field)
{
	const char *fn = "mudsc_field_step_distances";
	bool fill;
	mudsc_status st;

	MUDSC__CHECK_NULL(field);
	st = mudsc__array_out(&fill, out, capacity, needed,
	                      (size_t)field->k * (size_t)field->n * (size_t)field->n, fn);
	if (st == MUDSC_OK && fill)
		st = result_state(field, fn);
	if (st == MUDSC_OK && fill)
		fill_matrices(out, field->step_sums, (size_t)field->k, field->n,
		              1.0 / (double)field->inputs);
	return st;
}

MUDSC_API mudsc_status mudsc_field_input_distances(double *out, size_t capacity,
                                                   size_t *needed, const mudsc_field *field)
{
	const char *fn = "mudsc_field_input_distances";
	size_t count;
	bool fill;
	mudsc_status st;

	MUDSC__CHECK_NULL(field);
	if (!field->keep_inputs)
		return mudsc__err(MUDSC_E_STATE, "%s: the accumulator keeps no per-input detail "
		                  "(create it with opts->keep_inputs = 1)", fn);
	if (!mudsc__mul_size((size_t)field->inputs, (size_t)field->n * (size_t)field->n, &count))
		return mudsc__err(MUDSC_E_RANGE, "%s: the detail's size overflows", fn);
	st = mudsc__array_out(&fill, out, capacity, needed, count, fn);
	if (st == MUDSC_OK && fill)
		st = result_state(field, fn);
	if (st == MUDSC_OK && fill)
		fill_matrices(out, field->input_sums, (size_t)field->inputs, field->n,
		              1.0 / (double)field->k);
	return st;
}
