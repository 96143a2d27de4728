/*
 * Align's S_w with row statistics computed once and cross blocks cached
 * (see weight_sim_align.h for why this is exact).
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "matcher/weight_sim_align.h"

void mudsc__wsim_cache_free(struct wsim_cache *c)
{
	free(c->mu);
	free(c->norm);
	free(c->inv);
	free(c->cross);
	free(c->deps);
	free(c->dep_versions);
	memset(c, 0, sizeof *c);
}

bool mudsc__wsim_keep_caches(const struct mudsc__plan *plan)
{
	double total = 0.0, N = (double)plan->n_models;
	for (size_t p = 0; p < plan->npoints; p++)
		total += 8.0 * (N - 1.0) * (double)plan->points[p].width * (double)plan->points[p].width;
	return total <= mudsc__wsim_cache_keep;
}

void mudsc__wsim_cache_release(struct wsim_cache *c)
{
	free(c->cross);
	c->cross = NULL;
	c->cross_valid = false;
}

/* The points bound to other axes of p's feature tensors. */
static mudsc_status find_deps(struct wsim_cache *c, const struct mudsc__plan *plan, size_t p)
{
	bool *seen = mudsc__calloc(plan->npoints + 1, sizeof *seen, "dependency set");
	if (seen == NULL)
		return MUDSC_E_NOMEM;
	const struct plan_point *pt = &plan->points[p];
	for (size_t f = 0; f < pt->nfeatures; f++) {
		const struct plan_tensor *t = &plan->tensors[pt->features[f].tensor];
		for (int32_t d = 0; d < t->rank; d++)
			if (d != pt->features[f].axis && t->point[d] >= 0 && (size_t)t->point[d] != p)
				seen[t->point[d]] = true;
	}
	c->deps = mudsc__calloc(plan->npoints + 1, sizeof *c->deps, "dependencies");
	c->dep_versions = mudsc__calloc(plan->npoints + 1, sizeof *c->dep_versions, "versions");
	if (c->deps == NULL || c->dep_versions == NULL) {
		free(seen);
		return MUDSC_E_NOMEM;
	}
	for (size_t q = 0; q < plan->npoints; q++)
		if (seen[q])
			c->deps[c->ndeps++] = (int32_t)q;
	free(seen);
	return MUDSC_OK;
}

static mudsc_status alloc_stats(struct wsim_cache *c, size_t NC)
{
	if (c->mu == NULL)
		c->mu = mudsc__alloc(NC * sizeof *c->mu, "row means");
	if (c->norm == NULL)
		c->norm = mudsc__alloc(NC * sizeof *c->norm, "row norms");
	if (c->inv == NULL)
		c->inv = mudsc__alloc(NC * sizeof *c->inv, "row scales");
	return c->mu && c->norm && c->inv ? MUDSC_OK : MUDSC_E_NOMEM;
}

/* Row means and norms: column permutations do not change them. */
static mudsc_status row_stats(struct wsim_cache *c, const double *F, size_t NC, size_t D,
                              mudsc_similarity kind, const struct mudsc__exec *ex)
{
	mudsc_status st = alloc_stats(c, NC);

	if (st == MUDSC_OK)
		st = mudsc__row_stats(c->mu, c->norm, c->inv, F, NC, D, kind, ex);
	if (st != MUDSC_OK)
		return st;
	c->D = D;
	c->stats_ready = true;
	return MUDSC_OK;
}

size_t mudsc__wsim_chunk_floats = MUDSC__WSIM_CHUNK_FLOATS;
double mudsc__wsim_cache_keep = MUDSC__WSIM_CACHE_KEEP;

/* The end of the chunk of columns starting at g0 (the point's features'
 * columns side by side): the features from there while N C x the columns
 * stays within mudsc__wsim_chunk_floats; when the first one does not fit,
 * its next max(1, chunk / NC) columns alone (a large tensor in row blocks:
 * its unit rows are never held whole).  D = every feature's columns. */
static size_t chunk_end(const struct mudsc__plan *plan, size_t p, size_t g0, size_t NC)
{
	size_t cs = 0, nf = plan->points[p].nfeatures, most = mudsc__wsim_chunk_floats / NC;
	size_t end = g0;

	most = most < 1 ? 1 : most;
	for (size_t f = 0; f < nf; f++) {
		size_t c = mudsc__feature_columns(plan, p, f), f_end = cs + c;
		cs = f_end;
		if (f_end <= end)
			continue;
		if (f_end - g0 <= most) { /* the rest of this feature fits */
			end = f_end;
			continue;
		}
		if (end == g0) /* the first does not fit: a block of its columns */
			end = g0 + most;
		break;
	}
	return end;
}

/* The most unit-row floats any chunk of any point of the plan needs (N C
 * x the chunk's columns) and the widest point: what the first call
 * reserves, so the unit rows are allocated (and their pages faulted in)
 * once a run, not again at every wider point.  Pages not written stay
 * unmapped, so this does not raise the peak. */
static void widest_chunks(const struct mudsc__plan *plan, size_t *units, size_t *width)
{
	*units = *width = 0;
	for (size_t p = 0; p < plan->npoints; p++) {
		size_t C = (size_t)plan->points[p].width, NC = (size_t)plan->n_models * C, cols = 0;
		for (size_t f = 0; f < plan->points[p].nfeatures; f++)
			cols += mudsc__feature_columns(plan, p, f);
		for (size_t g0 = 0, g1; g0 < cols; g0 = g1) {
			g1 = chunk_end(plan, p, g0, NC);
			*units = NC * (g1 - g0) > *units ? NC * (g1 - g0) : *units;
		}
		*width = C > *width ? C : *width;
	}
}

/* The factor of mudsc__unit_products on one row of products: x[b] = v when
 * den = na nb[b] >= eps, else v den / eps. */
static void den_factor(double *x, double na, const double *nb, size_t C, double eps)
{
	for (size_t b = 0; b < C; b++) {
		double den = na * nb[b], v = x[b];
		x[b] = den >= eps ? v : v * (den / eps);
	}
}

/* acc (rows x C, ld C) = (first) or += the float32 products of unit rows
 * A (rows x Dc) and B (C x Dc), by blocks of MUDSC__UNIT_BLOCK rows; with
 * norms (na, nb: the only chunk) each row then takes den_factor while it
 * is in cache. */
static void add_products(double *acc, const float *A, size_t rows, const float *B, size_t C,
                         size_t Dc, bool first, const double *na, const double *nb, double eps,
                         float *G, struct mudsc__tally *tally, const struct mudsc__exec *ex)
{
	for (size_t a0 = 0; a0 < rows; a0 += MUDSC__UNIT_BLOCK) {
		size_t m = rows - a0 < MUDSC__UNIT_BLOCK ? rows - a0 : MUDSC__UNIT_BLOCK;
		double t0 = mudsc__clock_seconds();
		mudsc__blas_sgemm(ex, false, true, (int64_t)m, (int64_t)C, (int64_t)Dc, 1.0f,
		                  A + a0 * Dc, (int64_t)Dc, B, (int64_t)Dc, 0.0f, G, (int64_t)C);
		tally->seconds += mudsc__clock_seconds() - t0;
		tally->flops += 2.0 * (double)m * (double)C * (double)Dc;
		for (size_t r = 0; r < m; r++) {
			double *o = acc + (a0 + r) * C;
			const float *g = G + r * C;
			if (first)
				for (size_t b = 0; b < C; b++)
					o[b] = (double)g[b];
			else
				for (size_t b = 0; b < C; b++)
					o[b] += (double)g[b];
			if (na != NULL)
				den_factor(o, na[a0 + r], nb, C, eps);
		}
	}
}

/*
 * The cross blocks from float32 products of unit rows built chunk by chunk
 * (tensor by tensor, chunk_end): each chunk's sgemm products, rounded to
 * double, summed over the chunks in binding order, then the factor of
 * mudsc__unit_products (den = norm_a norm_b; s when den >= eps, else
 * s den / eps).  One chunk (a point whose unit rows fit the budget) is
 * exactly mudsc__unit_products over all D columns.  *done = false (nothing
 * computed) when a transform is not a permutation.
 */
static mudsc_status cross_blocks_chunked(bool *done, struct wsim_cache *c,
                                         struct wsim_buffers *buf,
                                         const struct mudsc__plan *plan, size_t p,
                                         const struct point_corr *corr, mudsc_similarity kind,
                                         double eps, const struct mudsc__exec *ex)
{
	int32_t N = plan->n_models;
	size_t Cs = (size_t)plan->points[p].width, NC = (size_t)N * Cs, D = 0;
	size_t nf = plan->points[p].nfeatures;
	mudsc_status st = alloc_stats(c, NC);

	*done = false;
	if (st == MUDSC_OK && buf->cap_U == 0) {
		size_t units, width;
		widest_chunks(plan, &units, &width);
		st = mudsc__wsim_reserve_f32(buf, units, width);
	}
	size_t cols = 0;
	bool one = false; /* the point's columns in one chunk */
	for (size_t f = 0; f < nf; f++)
		cols += mudsc__feature_columns(plan, p, f);
	for (size_t g0 = 0, g1; st == MUDSC_OK && g0 < cols; g0 = g1) {
		size_t Dc;
		bool ok;
		g1 = chunk_end(plan, p, g0, NC);
		Dc = g1 - g0;
		st = mudsc__weight_units_f32(&ok, &D, buf, plan, p, corr, c->mu, c->norm, c->inv,
		                             c->stats_ready, kind, g0, g1, ex);
		if (st != MUDSC_OK || !ok)
			return st;
		c->D = D;
		c->stats_ready = true;
		one = g0 == 0 && g1 == cols;
		for (int32_t i = 1; i < N; i++)
			add_products(c->cross + (size_t)(i - 1) * Cs * Cs, buf->U, Cs,
			             buf->U + (size_t)i * Cs * Dc, Cs, Dc, g0 == 0, one ? c->norm : NULL,
			             c->norm + (size_t)i * Cs, eps, buf->G, &buf->products, ex);
	}
	if (st != MUDSC_OK)
		return st;
	for (int32_t i = 1; i < N && !one; i++) /* several chunks: the factor on their sums */
		for (size_t a = 0; a < Cs; a++)
			den_factor(c->cross + ((size_t)(i - 1) * Cs + a) * Cs, c->norm[a],
			           c->norm + (size_t)i * Cs, Cs, eps);
	*done = true;
	return MUDSC_OK;
}

static bool cross_current(const struct wsim_cache *c, const uint64_t *versions)
{
	if (!c->cross_valid)
		return false;
	for (size_t k = 0; k < c->ndeps; k++)
		if (c->dep_versions[k] != versions[c->deps[k]])
			return false;
	return true;
}

/* The cross blocks from float32 products of the unit rows (sgemm); the
 * unit rows from buf->F unless `units` (already in buf->U). */
static mudsc_status cross_blocks_f32(struct wsim_cache *c, struct wsim_buffers *buf,
                                     int32_t N, int64_t C, size_t D, double eps, bool units,
                                     const struct mudsc__exec *ex)
{
	size_t NC = (size_t)N * (size_t)C, Cs = (size_t)C;
	mudsc_status st = mudsc__wsim_reserve_f32(buf, NC * D, Cs);

	if (st != MUDSC_OK)
		return st;
	if (!units)
		mudsc__unit_rows_f32(buf->U, buf->F, NC, D, c->mu, c->inv, ex);
	for (int32_t i = 1; i < N; i++)
		mudsc__unit_products(c->cross + (size_t)(i - 1) * Cs * Cs, Cs, buf->U, Cs,
		                     buf->U + (size_t)i * Cs * D, Cs, D, c->norm, c->norm + (size_t)i * Cs,
		                     eps, false, buf->G, &buf->products, ex);
	return MUDSC_OK;
}

/* cross_i = the S_w block of anchor rows and model-i columns: centred
 * F_0 F_i' (one gemm), divided by D (Pearson) and the row norms. */
static mudsc_status cross_blocks(struct wsim_cache *c, struct wsim_buffers *buf, int32_t N,
                                 int64_t C, size_t D, const uint64_t *versions,
                                 mudsc_similarity kind, double eps, mudsc_precision precision,
                                 bool units, const struct mudsc__exec *ex)
{
	size_t NC = (size_t)N * (size_t)C;
	double scale = kind == MUDSC_SIMILARITY_CORRELATION ? 1.0 / (double)D : 1.0;
	double *F = buf->F;

	if (c->cross == NULL) {
		c->cross = mudsc__alloc_big((size_t)(N - 1) * (size_t)C * (size_t)C * sizeof *c->cross,
		                       "cross blocks");
		if (c->cross == NULL)
			return MUDSC_E_NOMEM;
	}
	if (precision == MUDSC_PRECISION_F32) {
		mudsc_status st = cross_blocks_f32(c, buf, N, C, D, eps, units, ex);
		if (st != MUDSC_OK)
			return st;
		goto done;
	}
	for (size_t r = 0; r < NC; r++)
		for (size_t k = 0; k < D; k++)
			F[r * D + k] -= c->mu[r];
	for (int32_t i = 1; i < N; i++) {
		double *x = c->cross + (size_t)(i - 1) * (size_t)C * (size_t)C;
		const double *norm_i = c->norm + (size_t)i * (size_t)C;
		double t0 = mudsc__clock_seconds();
		mudsc__blas_dgemm(ex, false, true, C, C, (int64_t)D, 1.0, F, (int64_t)D,
		                  F + (size_t)i * (size_t)C * D, (int64_t)D, 0.0, x, C);
		buf->products.seconds += mudsc__clock_seconds() - t0;
		buf->products.flops += 2.0 * (double)C * (double)C * (double)D;
		for (int64_t a = 0; a < C; a++)
			for (int64_t b = 0; b < C; b++) {
				double den = c->norm[a] * norm_i[b];
				x[a * C + b] = x[a * C + b] * scale / (den > eps ? den : eps);
			}
	}
done:
	for (size_t k = 0; k < c->ndeps; k++)
		c->dep_versions[k] = versions[c->deps[k]];
	c->cross_valid = true;
	return MUDSC_OK;
}

double mudsc__anchor_pair_mean(const struct point_corr *c, const double *X, int32_t N,
                              int64_t C)
{
	size_t Cs = (size_t)C;
	double sum = 0.0;

	(void)N;
	if (c->npairs == 0)
		return NAN;
	for (size_t k = 0; k < c->npairs; k++) {
		size_t a = (size_t)c->pairs[2 * k], u = (size_t)c->pairs[2 * k + 1];
		size_t i = u / Cs; /* a < C: the anchor; u in model i >= 1 */
		sum += X[((i - 1) * Cs + a) * Cs + u % Cs];
	}
	return sum / (double)c->npairs;
}

void mudsc__anchor_blocks_of(double *X, const double *S, int32_t N, int64_t C)
{
	size_t Cs = (size_t)C, NC = (size_t)N * Cs;
	for (int32_t i = 1; i < N; i++)
		for (size_t a = 0; a < Cs; a++)
			memcpy(X + ((size_t)(i - 1) * Cs + a) * Cs, S + a * NC + (size_t)i * Cs,
			       Cs * sizeof *X);
}

mudsc_status mudsc__weight_similarity_align(const double **Sw, struct wsim_buffers *buf,
                                           const struct mudsc__plan *plan, size_t p,
                                           const struct point_corr *corr,
                                           const uint64_t *versions, struct wsim_cache *c,
                                           mudsc_similarity kind, double eps,
                                           mudsc_precision precision,
                                           const struct mudsc__exec *ex)
{
	int32_t N = plan->n_models;
	int64_t C = plan->points[p].width;
	mudsc_status st = MUDSC_OK;

	if (c->deps == NULL && (st = find_deps(c, plan, p)) != MUDSC_OK)
		return st;
	if (!cross_current(c, versions)) {
		size_t D = 0, NC = (size_t)N * (size_t)C;
		bool units = false;
		if (c->cross == NULL) {
			c->cross = mudsc__alloc_big((size_t)(N - 1) * (size_t)C * (size_t)C *
			                                sizeof *c->cross,
			                            "cross blocks");
			if (c->cross == NULL)
				return MUDSC_E_NOMEM;
		}
		/* float32: unit rows straight from the tensors, a chunk of tensors
		 * at a time (no float64 features, no NC x D matrix) */
		if (precision == MUDSC_PRECISION_F32)
			st = cross_blocks_chunked(&units, c, buf, plan, p, corr, kind, eps, ex);
		if (st != MUDSC_OK)
			return st;
		if (units) {
			for (size_t k = 0; k < c->ndeps; k++)
				c->dep_versions[k] = versions[c->deps[k]];
			c->cross_valid = true;
		} else {
			if ((st = mudsc__weight_features(&D, buf, plan, p, corr, ex)) != MUDSC_OK)
				return st;
			if (!c->stats_ready)
				st = row_stats(c, buf->F, NC, D, kind, ex);
			if (st == MUDSC_OK)
				st = cross_blocks(c, buf, N, C, D, versions, kind, eps, precision, false, ex);
			if (st != MUDSC_OK)
				return st;
		}
	}
	*Sw = c->cross;
	return MUDSC_OK;
}
