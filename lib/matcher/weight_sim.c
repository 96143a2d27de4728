/*
 * Weight features: for each non-ignored binding of the point, model i's
 * tensor with every other bound axis brought into its point's merged order
 * (IN axis: M_i, OUT axis: U_i), the bound axis moved to the front and
 * flattened; blocks side by side.  S_w = row similarity of the NC x D stack.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "matcher/axis_ops.h"
#include "core/core.h"
#include "matcher/weight_sim.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Shape of feature f after the other axes are transformed; returns numel. */
static size_t transformed_shape(const struct plan_tensor *t, int32_t axis, size_t p,
                                const struct point_corr *corr, int64_t *shape)
{
	size_t n = 1;
	for (int32_t d = 0; d < t->rank; d++) {
		int32_t q = t->point[d];
		shape[d] = t->shape[d];
		if (d != axis && q >= 0 && (size_t)q != p && corr[q].set)
			shape[d] = corr[q].width_out;
		n *= (size_t)shape[d];
	}
	return n;
}

/* Largest intermediate any feature needs: axes are transformed one at a
 * time, so every stage fits the shape with each axis at max(before, after). */
static size_t scratch_size(const struct mudsc__plan *plan, const struct plan_point *pt, size_t p,
                           const struct point_corr *corr, size_t *D)
{
	int64_t shape[MUDSC_MAX_RANK];
	size_t most = 0;

	*D = 0;
	for (size_t f = 0; f < pt->nfeatures; f++) {
		const struct plan_tensor *t = &plan->tensors[pt->features[f].tensor];
		size_t after = transformed_shape(t, pt->features[f].axis, p, corr, shape);
		size_t bound = 1;
		for (int32_t d = 0; d < t->rank; d++)
			bound *= (size_t)(shape[d] > t->shape[d] ? shape[d] : t->shape[d]);
		if (bound > most)
			most = bound;
		*D += after / (size_t)pt->width;
	}
	return most;
}

/* The tensor's axes other than `axis` whose transform moves something:
 * for each, its inverse permutation in inv[d] (NULL: untransformed), taken
 * from idx.  False when some transform is not a permutation of scale 1
 * (zip's merges): the feature then takes the general route. */
static bool axis_permutations(const struct plan_tensor *t, int32_t axis, size_t p, int32_t i,
                              const struct point_corr *corr, int32_t N, const int64_t **inv,
                              int64_t *idx, double *scale, int64_t *counts)
{
	for (int32_t d = 0; d < t->rank; d++) {
		int32_t q = t->point[d];
		int64_t L = t->shape[d];
		inv[d] = NULL;
		if (d == axis || q < 0 || (size_t)q == p || !corr[q].set)
			continue;
		const int64_t *assign = corr[q].assign + (size_t)i * (size_t)L;
		if (mudsc__axis_is_identity(assign, L, corr[q].width_out))
			continue;
		if (corr[q].width_out != L)
			return false;
		mudsc__corr_scales(&corr[q], N, L, i,
		                  t->role[d] == MUDSC_ROLE_IN ? MUDSC_MATRIX_MERGE : MUDSC_MATRIX_UNMERGE,
		                  NULL, counts, scale);
		for (int64_t j = 0; j < L; j++)
			idx[j] = -1;
		for (int64_t u = 0; u < L; u++) {
			if (scale[u] != 1.0 || assign[u] < 0 || assign[u] >= L || idx[assign[u]] >= 0)
				return false;
			idx[assign[u]] = u;
		}
		inv[d] = idx;
		idx += L;
	}
	return true;
}

/* Offsets (in elements of the source) of the C-order multi-indices of axes
 * [from, to), each axis d at source index inv[d][j] (or j), stride st[d]. */
static size_t offsets(int64_t *off, const int64_t *shape, const int64_t *st,
                      const int64_t *const *inv, int32_t from, int32_t to)
{
	size_t n = 1;
	off[0] = 0;
	for (int32_t d = from; d < to; d++) {
		size_t L = (size_t)shape[d];
		for (size_t k = n; k-- > 0;)
			for (size_t j = L; j-- > 0;)
				off[k * L + j] = off[k] + (inv[d] ? inv[d][j] : (int64_t)j) * st[d];
		n *= L;
	}
	return n;
}

/* Element counts of the offset tables a feature's gather needs. */
static size_t gather_index_size(const struct plan_tensor *t, int32_t axis)
{
	size_t outer = 1, inner = 1, perms = 0;
	for (int32_t d = 0; d < t->rank; d++) {
		perms += (size_t)t->shape[d];
		if (d < axis)
			outer *= (size_t)t->shape[d];
		else if (d > axis)
			inner *= (size_t)t->shape[d];
	}
	return perms + outer + inner + 1;
}

/* A tensor's values for a pass: read in place (whole F32 or F64 tensors),
 * else copied as float64 into a; element k of the tensor is element k - lo
 * of data (lo > 0: a float copy of the span a window of columns reads). */
struct source {
	const void *data;
	int kind; /* 1: float, 2: double in place, 0: double in a, 3: F16/BF16 in place */
	mudsc_dtype dtype;
	size_t lo;
};

static struct source source_of(const struct plan_tensor *t, int32_t model, double *a)
{
	struct source s = {t->data[model], 0, t->dtype, 0};
	if (t->part < 0 && t->dtype == MUDSC_DTYPE_F32)
		s.kind = 1;
	else if (t->part < 0 && t->dtype == MUDSC_DTYPE_F64)
		s.kind = 2;
	else {
		mudsc__plan_load(t, model, a);
		s.data = a;
	}
	return s;
}

/* The same for the float32 unit rows: whole 16-bit float tensors are read
 * in place (kind 3, converted exactly as they are read: no copy of the
 * tensor), the rest as source_of. */
static struct source source_units(const struct plan_tensor *t, int32_t model, double *a)
{
	if (t->part < 0 && (t->dtype == MUDSC_DTYPE_F16 || t->dtype == MUDSC_DTYPE_BF16))
		return (struct source){t->data[model], 3, t->dtype, 0};
	return source_of(t, model, a);
}

static inline double source_at(struct source s, size_t k)
{
	k -= s.lo;
	if (s.kind == 3)
		return (double)mudsc__load_f32(s.dtype, s.data, k);
	if (s.kind == 1) {
		float x;
		memcpy(&x, (const unsigned char *)s.data + k * sizeof x, sizeof x);
		return (double)x;
	}
	double x;
	memcpy(&x, (const unsigned char *)s.data + k * sizeof x, sizeof x);
	return x;
}

/* The offset tables of a feature's gather (gather_rows): trailing
 * untransformed axes as runs, offsets of the outer and inner indices. */
struct gather_plan {
	int64_t st[MUDSC_MAX_RANK];
	size_t run, nout, nin, L;
	int64_t *off_out, *off_in;
};

static void gather_plan(struct gather_plan *g, const struct plan_tensor *t, int32_t axis,
                        const int64_t *const *inv, int64_t *tables)
{
	int32_t r = t->rank, tail = r;

	g->run = 1;
	g->L = (size_t)t->shape[axis];
	g->st[r - 1] = 1;
	for (int32_t d = r - 1; d > 0; d--)
		g->st[d - 1] = g->st[d] * t->shape[d];
	while (tail - 1 > axis && inv[tail - 1] == NULL)
		g->run *= (size_t)t->shape[--tail];
	g->off_out = tables;
	g->nout = offsets(g->off_out, t->shape, g->st, inv, 0, axis);
	g->off_in = g->off_out + g->nout;
	g->nin = offsets(g->off_in, t->shape, g->st, inv, axis + 1, tail);
}

/* The source elements [*lo, *hi) that columns [c0, c1) of a gather read. */
static void gather_span(const struct gather_plan *g, int32_t axis, size_t c0, size_t c1,
                        size_t *lo, size_t *hi)
{
	int64_t least = INT64_MAX, most = INT64_MIN;
	for (size_t b = c0 / g->run; b * g->run < c1; b++) {
		int64_t at = g->off_out[b / g->nin] + g->off_in[b % g->nin];
		size_t j0 = b * g->run < c0 ? c0 - b * g->run : 0;
		size_t j1 = (b + 1) * g->run > c1 ? c1 - b * g->run : g->run;
		least = at + (int64_t)j0 < least ? at + (int64_t)j0 : least;
		most = at + (int64_t)j1 > most ? at + (int64_t)j1 : most;
	}
	*lo = (size_t)least;
	*hi = (size_t)most + (g->L - 1) * (size_t)g->st[axis];
}

/* Rows gathered together by gather_rows: a tile of rows reads each
 * source cache line once while it is in cache when the point's axis is
 * not the tensor's first (the units are columns: an IN binding). */
#define GATHER_TILE 16

/* u[j] = fl32((x[j] - m) * k) for j < n, in double (SSE2: two at a time,
 * the same operations). */
static inline void unit_run(float *u, const float *x, double m, double k, size_t n)
{
	size_t j = 0;
#if defined(__SSE2__)
	__m128d mm = _mm_set1_pd(m), kk = _mm_set1_pd(k);
	for (; j + 4 <= n; j += 4) {
		__m128 xv = _mm_loadu_ps(x + j);
		__m128d lo = _mm_mul_pd(_mm_sub_pd(_mm_cvtps_pd(xv), mm), kk);
		__m128d hi = _mm_mul_pd(_mm_sub_pd(_mm_cvtps_pd(_mm_movehl_ps(xv, xv)), mm), kk);
		_mm_storeu_ps(u + j, _mm_movelh_ps(_mm_cvtpd_ps(lo), _mm_cvtpd_ps(hi)));
	}
#endif
	for (; j < n; j++)
		u[j] = (float)(((double)x[j] - m) * k);
}

/* n elements of row v from source element `at` on, to column col of the
 * row (see gather_rows). */
static inline void gather_run(double *F, float *U, size_t ld, double m, double k,
                              struct source src, bool typed_f32, size_t v, size_t col, size_t at,
                              size_t n)
{
	if (U != NULL && typed_f32) {
		unit_run(U + v * ld + col, (const float *)src.data + (at - src.lo), m, k, n);
	} else if (U != NULL) {
		float *u = U + v * ld + col;
		for (size_t j = 0; j < n; j++)
			u[j] = (float)((source_at(src, at + j) - m) * k);
	} else if (typed_f32) {
		double *d = F + v * ld + col;
		const float *x = (const float *)src.data + (at - src.lo);
		for (size_t j = 0; j < n; j++)
			d[j] = (double)x[j];
	} else if (src.kind != 0 && src.kind != 2) {
		double *d = F + v * ld + col;
		for (size_t j = 0; j < n; j++)
			d[j] = source_at(src, at + j);
	} else {
		memcpy(F + v * ld + col, (const double *)src.data + (at - src.lo), n * sizeof(double));
	}
}

/* gather_rows' unit rows when every run is one element and the rows are
 * not adjacent in the source (the units are the tensor's first axis, the
 * other axes permuted: a linear layer's OUT binding): row by row, each
 * element from its offset within the row. */
static void gather_units_scattered(float *U, size_t ld, const double *mu, const double *inv_row,
                                   const struct gather_plan *g, struct source src, size_t st,
                                   size_t c0, size_t c1)
{
	const float *x = src.data;
	for (size_t v = 0; v < g->L; v++) {
		size_t row = v * st - src.lo;
		float *u = U + v * ld;
		double m = mu[v], k = inv_row[v];
		size_t bo = c0 / g->nin, bi = c0 % g->nin;
		if (g->nout == 1) { /* one table (the axes after the units'): a plain loop */
			const int64_t *off = g->off_in + c0;
			for (size_t c = 0; c < c1 - c0; c++)
				u[c] = (float)(((double)x[row + (size_t)off[c]] - m) * k);
			continue;
		}
		for (size_t c = c0; c < c1; c++, bi = bi + 1 == g->nin ? (bo++, 0) : bi + 1)
			u[c - c0] =
			    (float)(((double)x[row + (size_t)(g->off_out[bo] + g->off_in[bi])] - m) * k);
	}
}

#if defined(__SSE2__)
/* Four units' elements (units v..v+3, adjacent in the source) of the four
 * columns whose source rows are s[0..3], as unit_run computes them, stored
 * transposed: unit v + r's four columns at u + r ld. */
static inline void units_block4(float *u, size_t ld, const float *const *s, size_t v,
                                const double *mu, const double *inv_row)
{
	__m128d m01 = _mm_loadu_pd(mu + v), m23 = _mm_loadu_pd(mu + v + 2);
	__m128d k01 = _mm_loadu_pd(inv_row + v), k23 = _mm_loadu_pd(inv_row + v + 2);
	__m128 r[4];
	for (int q = 0; q < 4; q++) {
		__m128 xv = _mm_loadu_ps(s[q] + v);
		__m128d lo = _mm_mul_pd(_mm_sub_pd(_mm_cvtps_pd(xv), m01), k01);
		__m128d hi = _mm_mul_pd(_mm_sub_pd(_mm_cvtps_pd(_mm_movehl_ps(xv, xv)), m23), k23);
		r[q] = _mm_movelh_ps(_mm_cvtpd_ps(lo), _mm_cvtpd_ps(hi));
	}
	_MM_TRANSPOSE4_PS(r[0], r[1], r[2], r[3]);
	for (int q = 0; q < 4; q++)
		_mm_storeu_ps(u + (size_t)q * ld, r[q]);
}

/* Columns ahead whose source lines gather_units_transposed prefetches. */
#define TRANSPOSE_AHEAD 16

/* gather_rows' unit rows when the units are adjacent in the source (the
 * tensor's last axis, runs of one element: a linear layer's IN binding): a
 * transpose, GATHER_TILE units at a time (one source line per column), 4 x 4
 * blocks in registers; every element by unit_run's operations, so the same
 * bits as the element-by-element loop. */
static void gather_units_transposed(float *U, size_t ld, const double *mu, const double *inv_row,
                                    const struct gather_plan *g, struct source src, size_t c0,
                                    size_t c1)
{
	const float *x = src.data;
	for (size_t v0 = 0; v0 < g->L; v0 += GATHER_TILE) {
		size_t v1 = g->L - v0 < GATHER_TILE ? g->L : v0 + GATHER_TILE;
		size_t bo = c0 / g->nin, bi = c0 % g->nin;
		/* the source line of column c + TRANSPOSE_AHEAD, asked for ahead: a
		 * column's lines are a row apart, too far for the hardware's prefetch */
		size_t po = bo, pi = bi;
		for (size_t c = c0; c < c0 + TRANSPOSE_AHEAD && c < c1; c++)
			pi = pi + 1 == g->nin ? (po++, 0) : pi + 1;
		for (size_t c = c0; c < c1;) {
			const float *s[4];
			size_t n = c1 - c < 4 ? c1 - c : 4, v = v0;
			for (size_t q = 0; q < n; q++, bi = bi + 1 == g->nin ? (bo++, 0) : bi + 1)
				s[q] = x + ((size_t)(g->off_out[bo] + g->off_in[bi]) - src.lo);
			for (size_t q = 0; q < n && c + q + TRANSPOSE_AHEAD < c1; q++) {
				_mm_prefetch((const char *)(x + ((size_t)(g->off_out[po] + g->off_in[pi]) -
				                                 src.lo) + v0),
				             _MM_HINT_T0);
				pi = pi + 1 == g->nin ? (po++, 0) : pi + 1;
			}
			for (; n == 4 && v + 4 <= v1; v += 4)
				units_block4(U + v * ld + (c - c0), ld, s, v, mu, inv_row);
			for (; v < v1; v++)
				for (size_t q = 0; q < n; q++)
					U[v * ld + (c - c0) + q] =
					    (float)(((double)s[q][v] - mu[v]) * inv_row[v]);
			c += n;
		}
	}
}
#endif

/*
 * One pass for a feature whose transforms are permutations: rows gathered
 * from the source, axis moved to the front, the trailing untransformed axes
 * copied as runs.  Into F (double, row stride ld) when U is NULL, else into
 * U (float, row stride ld) as fl32((x - mu[v]) * inv[v]) for row v.  Only
 * the feature's columns [c0, c1) (in the gathered order), column c at
 * c - c0 of the row.  Rows GATHER_TILE at a time, run by run (every
 * element written once, by the same operations in any order).
 */
static void gather_rows(double *F, float *U, size_t ld, const double *mu, const double *inv_row,
                        const struct gather_plan *g, struct source src, int32_t axis, size_t c0,
                        size_t c1)
{
	size_t run = g->run, b0 = c0 / run, st = (size_t)g->st[axis];
	bool typed_f32 = src.kind == 1 && (uintptr_t)src.data % sizeof(float) == 0;

	if (U != NULL && typed_f32 && run == 1 && st != 1) {
		gather_units_scattered(U, ld, mu, inv_row, g, src, st, c0, c1);
		return;
	}
#if defined(__SSE2__)
	if (U != NULL && typed_f32 && run == 1 && st == 1) {
		gather_units_transposed(U, ld, mu, inv_row, g, src, c0, c1);
		return;
	}
#endif
	for (size_t v0 = 0; v0 < g->L; v0 += GATHER_TILE) {
		size_t v1 = g->L - v0 < GATHER_TILE ? g->L : v0 + GATHER_TILE;
		/* run b starts at off_out[b / nin] + off_in[b % nin]: both kept as counters */
		size_t bo = b0 / g->nin, bi = b0 % g->nin;
		for (size_t b = b0; b * run < c1; b++, bi = bi + 1 == g->nin ? (bo++, 0) : bi + 1) {
			size_t j0 = b * run < c0 ? c0 - b * run : 0;
			size_t j1 = (b + 1) * run > c1 ? c1 - b * run : run;
			size_t at = (size_t)(g->off_out[bo] + g->off_in[bi]) + j0;
			for (size_t v = v0; v < v1; v++)
				gather_run(F, U, ld, U ? mu[v] : 0.0, U ? inv_row[v] : 1.0, src, typed_f32, v,
				           b * run + j0 - c0, at + v * st, j1 - j0);
		}
	}
}

/* Model i's block of feature f into F rows [i*C, (i+1)*C), columns from col. */
static void feature_block(double *F, size_t D, size_t col, const struct mudsc__plan *plan,
                          size_t p, const struct plan_feature *feat, int32_t i,
                          const struct point_corr *corr, struct wsim_scratch *sc)
{
	const struct plan_tensor *t = &plan->tensors[feat->tensor];
	int64_t shape[MUDSC_MAX_RANK];
	size_t outer, inner;
	int64_t C = plan->points[p].width;
	double *a = sc->a, *b = sc->b;
	const int64_t *inv[MUDSC_MAX_RANK];

	if (axis_permutations(t, feat->axis, p, i, corr, plan->n_models, inv, sc->idx, sc->scale,
	                      sc->counts)) {
		size_t perms = 0;
		for (int32_t d = 0; d < t->rank; d++)
			perms += inv[d] ? (size_t)t->shape[d] : 0;
		struct gather_plan g;
		gather_plan(&g, t, feat->axis, inv, sc->idx + perms);
		gather_rows(F + (size_t)i * (size_t)C * D + col, NULL, D, NULL, NULL, &g,
		            source_of(t, i, a), feat->axis, 0, mudsc__plan_numel(t) / g.L);
		return;
	}
	memcpy(shape, t->shape, sizeof shape);
	mudsc__plan_load(t, i, a);
	for (int32_t d = 0; d < t->rank; d++) {
		int32_t q = t->point[d];
		if (d == feat->axis || q < 0 || (size_t)q == p || !corr[q].set)
			continue;
		const int64_t *assign = corr[q].assign + (size_t)i * (size_t)shape[d];
		if (mudsc__axis_is_identity(assign, shape[d], corr[q].width_out))
			continue; /* model 0 under align: nothing moves (and M, U are 1 there) */
		mudsc__corr_scales(&corr[q], plan->n_models, shape[d], i,
		                  t->role[d] == MUDSC_ROLE_IN ? MUDSC_MATRIX_MERGE : MUDSC_MATRIX_UNMERGE,
		                  NULL, sc->counts, sc->scale);
		mudsc__axis_split(t->rank, shape, d, &outer, &inner);
		mudsc__axis_contract(b, a, outer, shape[d], inner, assign, sc->scale,
		                     corr[q].width_out);
		shape[d] = corr[q].width_out;
		double *tmp = a;
		a = b;
		b = tmp;
	}
	mudsc__axis_split(t->rank, shape, feat->axis, &outer, &inner);
	mudsc__axis_to_front(F + (size_t)i * (size_t)C * D + col, D, a, outer, C, inner);
}

static int64_t widest_point(const struct mudsc__plan *plan, const struct point_corr *corr)
{
	int64_t most = 1;
	for (size_t q = 0; q < plan->npoints; q++) {
		if (plan->points[q].width > most)
			most = plan->points[q].width;
		if (corr[q].set && corr[q].width_out > most)
			most = corr[q].width_out;
	}
	return most;
}

void mudsc__wsim_buffers_free(struct wsim_buffers *buf)
{
	free(buf->F);
	free(buf->U);
	free(buf->G);
	for (size_t k = 0; k < MUDSC__WSIM_SLOTS; k++) {
		free(buf->slot[k].a);
		free(buf->slot[k].b);
		free(buf->slot[k].scale);
		free(buf->slot[k].counts);
		free(buf->slot[k].idx);
	}
	memset(buf, 0, sizeof *buf);
}

/* Grow *p to hold n elements of size bytes (contents not kept). */
static mudsc_status reserve(void **p, size_t *cap, size_t n, size_t size, const char *what)
{
	size_t bytes;

	if (n <= *cap)
		return MUDSC_OK;
	if (!mudsc__mul_size(n, size, &bytes))
		return mudsc__err(MUDSC_E_NOMEM, "size overflow: %zu elements of %s", n, what);
	free(*p);
	*p = mudsc__alloc_big(bytes, what);
	*cap = *p ? n : 0;
	return *p ? MUDSC_OK : MUDSC_E_NOMEM;
}

static mudsc_status reserve_slot(struct wsim_scratch *s, size_t nab, size_t nscale, int32_t N,
                                 size_t nidx, bool general)
{
	mudsc_status st = reserve((void **)&s->a, &s->cap_a, nab, sizeof *s->a, "feature scratch");
	if (st == MUDSC_OK)
		st = reserve((void **)&s->idx, &s->cap_idx, nidx, sizeof *s->idx, "feature offsets");
	if (st == MUDSC_OK && general) /* the second stage buffer: feature_block's general route */
		st = reserve((void **)&s->b, &s->cap_b, nab, sizeof *s->b, "feature scratch");
	if (st == MUDSC_OK)
		st = reserve((void **)&s->scale, &s->cap_scale, nscale, sizeof *s->scale,
		             "merge scales");
	if (st == MUDSC_OK)
		st = reserve((void **)&s->counts, &s->cap_counts, nscale * (size_t)N,
		             sizeof *s->counts, "member counts");
	return st;
}

/* The feature length and scratch of the widest point: reserved at the
 * first call, so later points rarely grow (and re-fault) the buffers. */
static void plan_extent(const struct mudsc__plan *plan, const struct point_corr *corr,
                        size_t *nF, size_t *scratch)
{
	*nF = *scratch = 0;
	for (size_t q = 0; q < plan->npoints; q++) {
		size_t Dq, sq = scratch_size(plan, &plan->points[q], q, corr, &Dq);
		size_t n = (size_t)plan->n_models * (size_t)plan->points[q].width * Dq;
		*nF = n > *nF ? n : *nF;
		*scratch = sq > *scratch ? sq : *scratch;
	}
}

/* The stage doubles the float32 unit rows of point p need per worker: a
 * part's float64 copy (source_of), the float copy of a 16-bit tensor's
 * span (window_source: at most mudsc__wsim_span_floats floats); nothing
 * for whole F32 / F64 tensors, read in place. */
static size_t units_scratch(const struct mudsc__plan *plan, size_t p)
{
	const struct plan_point *pt = &plan->points[p];
	size_t most = 1;
	for (size_t f = 0; f < pt->nfeatures; f++) {
		const struct plan_tensor *t = &plan->tensors[pt->features[f].tensor];
		size_t n = mudsc__plan_numel(t);
		if (t->part < 0 && (t->dtype == MUDSC_DTYPE_F32 || t->dtype == MUDSC_DTYPE_F64))
			n = 0;
		else if (t->part < 0 && (t->dtype == MUDSC_DTYPE_F16 || t->dtype == MUDSC_DTYPE_BF16))
			n = ((n < mudsc__wsim_span_floats ? n : mudsc__wsim_span_floats) + 1) / 2;
		most = n > most ? n : most;
	}
	return most;
}

struct feature_job {
	struct wsim_buffers *buf;
	const struct mudsc__plan *plan;
	const struct point_corr *corr;
	size_t p, D, slots;
};

/* Slot k builds the blocks of models k, k + slots, ... with its scratch. */
static mudsc_status feature_task(void *ctx, size_t k)
{
	const struct feature_job *j = ctx;
	const struct plan_point *pt = &j->plan->points[j->p];
	struct wsim_scratch *s = &j->buf->slot[k];

	for (int32_t i = (int32_t)k; i < j->plan->n_models; i += (int32_t)j->slots) {
		size_t col = 0;
		for (size_t f = 0; f < pt->nfeatures; f++) {
			int64_t shape[MUDSC_MAX_RANK];
			const struct plan_tensor *t = &j->plan->tensors[pt->features[f].tensor];
			feature_block(j->buf->F, j->D, col, j->plan, j->p, &pt->features[f], i, j->corr, s);
			col += transformed_shape(t, pt->features[f].axis, j->p, j->corr, shape) /
			       (size_t)pt->width;
		}
	}
	return MUDSC_OK;
}

/* The checks and per-worker scratch of point p: *D its feature length,
 * *slots the workers (min(N, threads)), each slot's scratch reserved. */
static mudsc_status prepare_point(size_t *D, size_t *slots, struct wsim_buffers *buf,
                                  const struct mudsc__plan *plan, size_t p,
                                  const struct point_corr *corr, bool general,
                                  const struct mudsc__exec *ex)
{
	const struct plan_point *pt = &plan->points[p];
	int32_t N = plan->n_models;
	size_t scratch = scratch_size(plan, pt, p, corr, D), nidx = 1, most_F, most_scratch;
	size_t k = (size_t)(ex->threads < N ? ex->threads : N);
	int64_t wide = widest_point(plan, corr);
	mudsc_status st = MUDSC_OK;

	if (pt->nfeatures == 0 || *D == 0)
		return mudsc__err(MUDSC_E_INVALID,
		                 "weight similarity: point '%s' has no non-ignored binding with elements",
		                 pt->name);
	*slots = k < 1 ? 1 : k > MUDSC__WSIM_SLOTS ? MUDSC__WSIM_SLOTS : k;
	if (!general) { /* the unit rows' stage: this point's, at the first call every point's */
		bool first = buf->slot[0].cap_a == 0;
		scratch = units_scratch(plan, p);
		for (size_t q = 0; first && q < plan->npoints; q++) {
			size_t n = units_scratch(plan, q);
			scratch = n > scratch ? n : scratch;
		}
	} else if (buf->slot[0].cap_a == 0) { /* the first call: room for the widest point */
		plan_extent(plan, corr, &most_F, &most_scratch);
		scratch = most_scratch > scratch ? most_scratch : scratch;
	}
	for (size_t f = 0; f < pt->nfeatures; f++) {
		size_t n = gather_index_size(&plan->tensors[pt->features[f].tensor],
		                             pt->features[f].axis);
		nidx = n > nidx ? n : nidx;
	}
	for (size_t j = 0; j < *slots && st == MUDSC_OK; j++)
		st = reserve_slot(&buf->slot[j], scratch, (size_t)wide, N, nidx, general);
	if (st != MUDSC_OK)
		mudsc__wsim_buffers_free(buf);
	return st;
}

/* n, or the largest feature matrix of the plan when *cap is still 0. */
static size_t first_reserve(size_t n, size_t cap, const struct mudsc__plan *plan,
                            const struct point_corr *corr)
{
	size_t most_F, most_scratch;
	if (cap != 0)
		return n;
	plan_extent(plan, corr, &most_F, &most_scratch);
	return most_F > n ? most_F : n;
}

mudsc_status mudsc__weight_features(size_t *D_out, struct wsim_buffers *buf,
                                   const struct mudsc__plan *plan, size_t p,
                                   const struct point_corr *corr, const struct mudsc__exec *ex)
{
	size_t D, slots, nF;
	mudsc_status st = prepare_point(&D, &slots, buf, plan, p, corr, true, ex);

	if (st != MUDSC_OK)
		return st;
	nF = (size_t)plan->n_models * (size_t)plan->points[p].width * D;
	st = reserve((void **)&buf->F, &buf->cap_F, first_reserve(nF, buf->cap_F, plan, corr),
	             sizeof *buf->F, "weight features");
	if (st != MUDSC_OK) {
		mudsc__wsim_buffers_free(buf);
		return st;
	}
	struct feature_job j = {.buf = buf, .plan = plan, .corr = corr, .p = p, .D = D,
	                        .slots = slots};
	mudsc__parallel_for(ex, slots, (double)nF * 4.0, feature_task, &j);
	*D_out = D;
	return MUDSC_OK;
}

mudsc_status mudsc__wsim_reserve_f32(struct wsim_buffers *buf, size_t n, size_t cols)
{
	size_t block = cols < MUDSC__UNIT_BLOCK ? cols : MUDSC__UNIT_BLOCK;
	mudsc_status st = reserve((void **)&buf->U, &buf->cap_U, n, sizeof *buf->U, "unit rows");
	if (st == MUDSC_OK)
		st = reserve((void **)&buf->G, &buf->cap_G, block * cols, sizeof *buf->G,
		             "product block");
	return st;
}

static size_t point_columns(const struct mudsc__plan *plan, size_t p)
{
	size_t cols = 0;
	for (size_t f = 0; f < plan->points[p].nfeatures; f++)
		cols += mudsc__feature_columns(plan, p, f);
	return cols;
}

/* At the first call, room for the plan's largest unit rows and product
 * block, so that wider points later do not free and fault them in again
 * (pages not written are not resident). */
static mudsc_status reserve_zip_units(struct wsim_buffers *buf, const struct mudsc__plan *plan)
{
	size_t units = 1, width = 1;
	if (buf->cap_U != 0)
		return MUDSC_OK;
	for (size_t q = 0; q < plan->npoints; q++) {
		size_t NC = (size_t)plan->n_models * (size_t)plan->points[q].width;
		size_t need = NC * point_columns(plan, q);
		units = need > units ? need : units;
		width = NC > width ? NC : width;
	}
	return mudsc__wsim_reserve_f32(buf, units, width);
}

/* Zip's float32 S_w when every transform of the point's features is a
 * permutation: the unit rows straight from the tensors, as align builds
 * them (no float64 features), and their upper-triangle products.  *done =
 * false (nothing computed) when some transform merges units. */
static mudsc_status zip_units_similarity(bool *done, double *S, struct wsim_buffers *buf,
                                         const struct mudsc__plan *plan, size_t p,
                                         const struct point_corr *corr, mudsc_similarity kind,
                                         double eps, const struct mudsc__exec *ex)
{
	size_t NC = (size_t)plan->n_models * (size_t)plan->points[p].width, D;
	double *stats = mudsc__alloc(3 * NC * sizeof *stats, "similarity row statistics");
	mudsc_status st = stats ? reserve_zip_units(buf, plan) : MUDSC_E_NOMEM;

	*done = false;
	if (st == MUDSC_OK)
		st = mudsc__weight_units_f32(done, &D, buf, plan, p, corr, stats, stats + NC,
		                             stats + 2 * NC, false, kind, 0, point_columns(plan, p), ex);
	if (st == MUDSC_OK && *done)
		st = mudsc__wsim_reserve_f32(buf, NC * D, NC);
	if (st == MUDSC_OK && *done)
		mudsc__unit_similarity(S, buf->U, NC, D, stats + NC, eps, buf->G, &buf->products, ex);
	free(stats);
	return st;
}

mudsc_status mudsc__weight_similarity(double *S, struct wsim_buffers *buf,
                                     const struct mudsc__plan *plan, size_t p,
                                     const struct point_corr *corr, mudsc_similarity kind,
                                     double eps, mudsc_precision precision,
                                     const struct mudsc__exec *ex)
{
	size_t D;
	bool done = false;
	mudsc_status st = precision == MUDSC_PRECISION_F32
	                      ? zip_units_similarity(&done, S, buf, plan, p, corr, kind, eps, ex)
	                      : MUDSC_OK;

	if (st != MUDSC_OK || done)
		return st;
	st = mudsc__weight_features(&D, buf, plan, p, corr, ex);
	if (st != MUDSC_OK)
		return st;
	return mudsc__similarity_rows(S, buf->F, (int64_t)plan->n_models * plan->points[p].width,
	                             (int64_t)D, kind, eps, precision, &buf->products, ex);
}

struct units_job {
	struct wsim_buffers *buf;
	const struct mudsc__plan *plan;
	const struct point_corr *corr;
	size_t p, D, slots;
	size_t g0, g1, Dc; /* the columns gathered (all features side by side), g1 - g0 */
	double *mu, *norm, *inv;
	bool stats_ready;
	mudsc_similarity kind;
};

/* ROW_SUMS' sums when inner = 1: acc[v] += (0 + x[v]) or (0 + (x[v] - mu[v])^2)
 * for v < C, the same operations (SSE2 for float: two rows at a time). */
static void row_sums_inner1_float(double *acc, const float *x, size_t C, const double *mu,
                                  bool sq)
{
	size_t v = 0;
#if defined(__SSE2__)
	__m128d zero = _mm_setzero_pd();
	for (; v + 2 <= C; v += 2) {
		__m128d d = _mm_cvtps_pd(_mm_castsi128_ps(_mm_loadl_epi64((const void *)(x + v))));
		if (sq) {
			d = _mm_sub_pd(d, _mm_loadu_pd(mu + v));
			d = _mm_mul_pd(d, d);
		}
		_mm_storeu_pd(acc + v, _mm_add_pd(_mm_loadu_pd(acc + v), _mm_add_pd(zero, d)));
	}
#endif
	for (; v < C; v++) {
		double d = sq ? (double)x[v] - mu[v] : (double)x[v];
		acc[v] += 0.0 + (sq ? d * d : d);
	}
}

static void row_sums_inner1_double(double *acc, const double *x, size_t C, const double *mu,
                                   bool sq)
{
	for (size_t v = 0; v < C; v++) {
		double d = sq ? x[v] - mu[v] : x[v];
		acc[v] += 0.0 + (sq ? d * d : d);
	}
}

/* acc[v] += x (sq = false) or (x - mu[v])^2 (sq) over the elements of the
 * (outer, C, inner) tensor src, in storage order: per (o, v) a sum t from
 * 0.0 over e, then acc[v] += t; MUDSC__ROW_CHAINS rows' sums t at a time. */
#define ROW_SUMS(T)                                                                              \
	for (size_t o = 0, k = 0; o < outer; o++) {                                                  \
		size_t v = 0;                                                                            \
		if (inner == 1) { /* one element per (o, v): across the rows */                         \
			row_sums_inner1_##T(acc, (const T *)src.data + k, C, mu, sq);                       \
			k += C;                                                                              \
			continue;                                                                            \
		}                                                                                        \
		for (; v + MUDSC__ROW_CHAINS <= C; v += MUDSC__ROW_CHAINS) {                             \
			double t[MUDSC__ROW_CHAINS];                                                         \
			mudsc__row_chains_##T(t, (const T *)src.data + k, inner, inner, mu + v, sq);         \
			k += MUDSC__ROW_CHAINS * inner;                                                      \
			for (size_t r = 0; r < MUDSC__ROW_CHAINS; r++)                                       \
				acc[v + r] += t[r];                                                              \
		}                                                                                        \
		for (; v < C; v++, k += inner) {                                                         \
			const T *x = (const T *)src.data + k;                                                \
			double t = 0.0, m = sq ? mu[v] : 0.0;                                                \
			if (sq)                                                                              \
				for (size_t e = 0; e < inner; e++)                                               \
					t += ((double)x[e] - m) * ((double)x[e] - m);                                \
			else                                                                                 \
				for (size_t e = 0; e < inner; e++)                                               \
					t += (double)x[e];                                                           \
			acc[v] += t;                                                                         \
		}                                                                                        \
	}

/* The same sums for a 16-bit float source read in place: converted a piece
 * at a time (exact), each element added in the same order as ROW_SUMS, so
 * the same bits as the sums over a float copy of the tensor. */
static void row_sums_16(double *acc, const double *mu, bool sq, struct source src, size_t outer,
                        size_t C, size_t inner)
{
	float x[1024];
	size_t n = outer * C * inner, e = 0, v = 0;
	double t = 0.0;

	for (size_t k0 = 0; k0 < n; k0 += sizeof x / sizeof *x) {
		size_t m = n - k0 < sizeof x / sizeof *x ? n - k0 : sizeof x / sizeof *x;
		mudsc__convert_to_f32(src.dtype, (const unsigned char *)src.data + k0 * 2, m, x);
		for (size_t k = 0; k < m; k++) {
			double d = (double)x[k] - (sq ? mu[v] : 0.0);
			t += sq ? d * d : (double)x[k];
			if (++e == inner) {
				acc[v] += t;
				t = 0.0;
				e = 0;
				v = v + 1 == C ? 0 : v + 1;
			}
		}
	}
}

static void row_sums(double *acc, const double *mu, bool sq, struct source src, size_t outer,
                     size_t C, size_t inner)
{
	if (src.kind == 3) {
		row_sums_16(acc, mu, sq, src, outer, C, inner);
	} else if (src.kind == 1) {
		ROW_SUMS(float)
	} else {
		ROW_SUMS(double)
	}
}

/* The first non-finite element of model i's rows (the message of
 * MUDSC_E_NUMERIC), or MUDSC_OK when a sum overflowed without one. */
static mudsc_status first_non_finite(const struct units_job *j, int32_t i,
                                     struct wsim_scratch *sc)
{
	const struct plan_point *pt = &j->plan->points[j->p];
	size_t C = (size_t)pt->width, col = 0;

	for (size_t f = 0; f < pt->nfeatures; f++) {
		const struct plan_tensor *t = &j->plan->tensors[pt->features[f].tensor];
		struct source src = source_units(t, i, sc->a);
		size_t outer, inner, k = 0;
		mudsc__axis_split(t->rank, t->shape, pt->features[f].axis, &outer, &inner);
		for (size_t o = 0; o < outer; o++)
			for (size_t v = 0; v < C; v++)
				for (size_t e = 0; e < inner; e++, k++) {
					double x = source_at(src, k);
					if (!isfinite(x))
						return mudsc__err(MUDSC_E_NUMERIC,
						                 "similarity: feature row %zu, column %zu is %g",
						                 (size_t)i * C + v, col + o * inner + e, x);
				}
		col += outer * inner;
	}
	return MUDSC_OK;
}

/* Model i's row statistics of point p from its tensors (a tensor's
 * elements of one row in storage order, the tensors in binding order): the
 * mean, then the squares about it, in float64.  Unaligned sources were
 * copied (source_of), so the typed loops read aligned data; a whole F32 or
 * F64 tensor in place is aligned when the model's data is (safetensors
 * offsets of such tensors are multiples of their size in practice), and
 * otherwise read through source_at. */
static mudsc_status source_stats(const struct units_job *j, int32_t i, struct wsim_scratch *sc)
{
	const struct plan_point *pt = &j->plan->points[j->p];
	size_t C = (size_t)pt->width, row0 = (size_t)i * C;
	double *mu = j->mu + row0, *ss = j->norm + row0;

	for (int pass = 0; pass < 2; pass++) {
		double *acc = pass ? ss : mu;
		for (size_t v = 0; v < C; v++)
			acc[v] = 0.0;
		for (size_t f = 0; f < pt->nfeatures; f++) {
			const struct plan_tensor *t = &j->plan->tensors[pt->features[f].tensor];
			struct source src = source_units(t, i, sc->a);
			size_t outer, inner, align = src.kind == 3 ? 1
			                             : src.kind == 1 ? sizeof(float) : sizeof(double);
			mudsc__axis_split(t->rank, t->shape, pt->features[f].axis, &outer, &inner);
			if ((uintptr_t)src.data % align != 0) { /* through source_at */
				for (size_t o = 0, k = 0; o < outer; o++)
					for (size_t v = 0; v < C; v++)
						for (size_t e = 0; e < inner; e++, k++) {
							double x = source_at(src, k);
							acc[v] += pass ? (x - mu[v]) * (x - mu[v]) : x;
						}
			} else {
				row_sums(acc, mu, pass == 1, src, outer, C, inner);
			}
		}
		for (size_t v = 0; pass == 0 && v < C; v++)
			if (!isfinite(mu[v])) {
				mudsc_status st = first_non_finite(j, i, sc);
				if (st != MUDSC_OK)
					return st;
				break;
			}
		if (pass == 0)
			for (size_t v = 0; v < C; v++)
				mu[v] = j->kind == MUDSC_SIMILARITY_CORRELATION ? mu[v] / (double)j->D : 0.0;
	}
	for (size_t v = 0; v < C; v++) {
		double q = ss[v];
		j->norm[row0 + v] = j->kind == MUDSC_SIMILARITY_CORRELATION ? sqrt(q / (double)j->D)
		                                                             : sqrt(q);
		j->inv[row0 + v] = q > 0.0 ? 1.0 / sqrt(q) : 0.0;
	}
	return MUDSC_OK;
}

size_t mudsc__wsim_span_floats = MUDSC__WSIM_SPAN_FLOATS;

/* The source of feature f's columns [c0, c1) for a gather: a 16-bit float
 * tensor read in place is converted (exactly) into the slot's scratch for
 * the span those columns read, when that span is at most
 * mudsc__wsim_span_floats (and fits the scratch), else read element by
 * element; the same values either way. */
static struct source window_source(const struct plan_tensor *t, int32_t i,
                                   const struct gather_plan *g, int32_t axis, size_t c0,
                                   size_t c1, struct wsim_scratch *sc)
{
	struct source src = source_units(t, i, sc->a);
	size_t lo, hi;

	if (src.kind != 3)
		return src;
	gather_span(g, axis, c0, c1, &lo, &hi);
	if (hi - lo > mudsc__wsim_span_floats || hi - lo > 2 * sc->cap_a)
		return src;
	float *f = (float *)(void *)sc->a;
	mudsc__convert_to_f32(t->dtype, (const unsigned char *)src.data + lo * 2, hi - lo, f);
	return (struct source){f, 1, MUDSC_DTYPE_F32, lo};
}

static mudsc_status units_task(void *ctx, size_t k)
{
	const struct units_job *j = ctx;
	const struct plan_point *pt = &j->plan->points[j->p];
	struct wsim_scratch *sc = &j->buf->slot[k];
	size_t C = (size_t)pt->width;

	for (int32_t i = (int32_t)k; i < j->plan->n_models; i += (int32_t)j->slots) {
		size_t cs = 0, row0 = (size_t)i * C;
		mudsc_status st = j->stats_ready ? MUDSC_OK : source_stats(j, i, sc);
		if (st != MUDSC_OK)
			return st;
		for (size_t f = 0; f < pt->nfeatures && cs < j->g1; f++) {
			size_t cf = mudsc__feature_columns(j->plan, j->p, f), f_lo = cs;
			cs += cf;
			if (cs <= j->g0)
				continue;
			/* this feature's columns [c0, c1) in the chunk, at column f_lo + c0 - g0 */
			size_t c0 = j->g0 > f_lo ? j->g0 - f_lo : 0;
			size_t c1 = j->g1 < cs ? j->g1 - f_lo : cf;
			const struct plan_tensor *t = &j->plan->tensors[pt->features[f].tensor];
			const int64_t *inv[MUDSC_MAX_RANK];
			int32_t axis = pt->features[f].axis;
			struct gather_plan g;
			size_t perms = 0;
			/* checked before the tasks started */
			(void)axis_permutations(t, axis, j->p, i, j->corr, j->plan->n_models, inv, sc->idx,
			                        sc->scale, sc->counts);
			for (int32_t d = 0; d < t->rank; d++)
				perms += inv[d] ? (size_t)t->shape[d] : 0;
			gather_plan(&g, t, axis, inv, sc->idx + perms);
			gather_rows(NULL, j->buf->U + row0 * j->Dc + (f_lo + c0 - j->g0), j->Dc,
			            j->mu + row0, j->inv + row0, &g,
			            window_source(t, i, &g, axis, c0, c1, sc), axis, c0, c1);
		}
	}
	return MUDSC_OK;
}

size_t mudsc__feature_columns(const struct mudsc__plan *plan, size_t p, size_t f)
{
	const struct plan_point *pt = &plan->points[p];
	const struct plan_tensor *t = &plan->tensors[pt->features[f].tensor];
	size_t outer, inner;
	mudsc__axis_split(t->rank, t->shape, pt->features[f].axis, &outer, &inner);
	return outer * inner;
}

mudsc_status mudsc__weight_units_f32(bool *done, size_t *D_out, struct wsim_buffers *buf,
                                    const struct mudsc__plan *plan, size_t p,
                                    const struct point_corr *corr, double *mu, double *norm,
                                    double *inv, bool stats_ready, mudsc_similarity kind,
                                    size_t g0, size_t g1, const struct mudsc__exec *ex)
{
	const struct plan_point *pt = &plan->points[p];
	int32_t N = plan->n_models;
	size_t D, slots, nU, Dc = g1 - g0;
	mudsc_status st = prepare_point(&D, &slots, buf, plan, p, corr, false, ex);

	*done = false;
	if (st != MUDSC_OK)
		return st;
	nU = (size_t)N * (size_t)pt->width * Dc;
	st = mudsc__wsim_reserve_f32(buf, nU, (size_t)pt->width);
	if (st != MUDSC_OK) {
		mudsc__wsim_buffers_free(buf);
		return st;
	}
	for (int32_t i = 0; i < N; i++)
		for (size_t f = 0; f < pt->nfeatures; f++) {
			const int64_t *inv_axes[MUDSC_MAX_RANK];
			struct wsim_scratch *sc = &buf->slot[0];
			if (!axis_permutations(&plan->tensors[pt->features[f].tensor],
			                       pt->features[f].axis, p, i, corr, N, inv_axes, sc->idx,
			                       sc->scale, sc->counts))
				return MUDSC_OK; /* a merge, not a permutation: the float64 route */
		}
	struct units_job j = {.buf = buf, .plan = plan, .corr = corr, .p = p, .D = D,
	                      .g0 = g0, .g1 = g1, .Dc = Dc,
	                      .slots = slots, .mu = mu, .norm = norm, .inv = inv,
	                      .stats_ready = stats_ready, .kind = kind};
	st = mudsc__parallel_for(ex, slots, (double)nU * 4.0, units_task, &j);
	if (st != MUDSC_OK)
		return st;
	*D_out = D;
	*done = true;
	return MUDSC_OK;
}
