/*
 * Merged tensors: along each bound axis contract model i's tensor with
 * Mhat_i (OUT) or U_i (IN), then take sum_i w_i T_i'; split parts are
 * transformed one by one and re-joined along the split axis.  The
 * matrices are the correspondence's 0/1 matrices (align, zip: a gather
 * with scales, axis_ops.h) or its dense transforms (CCA: a product per
 * outer block, dense_contract()).
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "matcher/axis_ops.h"
#include "core/core.h"
#include "matcher/merge_apply.h"
#include "model/model.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* The transformed shape of a plan tensor (bound axes at their merged width). */
static size_t out_shape(const struct plan_tensor *t, const struct point_corr *corr,
                        int64_t *shape)
{
	size_t n = 1;
	for (int32_t d = 0; d < t->rank; d++) {
		shape[d] = t->point[d] >= 0 ? corr[t->point[d]].width_out : t->shape[d];
		n *= (size_t)shape[d];
	}
	return n;
}

/* dst (outer x Lout x inner) = the axis of src (outer x L x inner)
 * contracted with the dense L x Lout matrix X: dst[o] = X' src[o].  One
 * BLAS thread setting per call (the merge's tasks are its threads). */
static void dense_contract(double *dst, const double *src, size_t outer, int64_t L, size_t inner,
                           const double *X, int64_t Lout)
{
	const struct mudsc__exec one = mudsc__exec_make(1);
	for (size_t o = 0; o < outer; o++)
		mudsc__blas_dgemm(&one, true, false, Lout, (int64_t)inner, L, 1.0, X, Lout,
		                  src + o * (size_t)L * inner, (int64_t)inner, 0.0,
		                  dst + o * (size_t)Lout * inner, (int64_t)inner);
}

/* s->scale = the scales of model i's L units along axis d of t (Mhat_i for
 * an OUT axis, U_i for an IN axis); MUDSC_E_INVALID, naming the tensor and
 * the point, when a merged unit has zero total weight. */
static mudsc_status axis_scales(const struct mudsc__plan *plan, const struct point_corr *c,
                                const struct plan_tensor *t, int32_t d, int64_t L, int32_t i,
                                const double *weights, struct mudsc__merge_scratch *s)
{
	if (mudsc__corr_scales(c, plan->n_models, L, i,
	                       t->role[d] == MUDSC_ROLE_OUT ? MUDSC__MATRIX_MERGE_HAT
	                                                    : MUDSC_MATRIX_UNMERGE,
	                       weights, s->counts, s->scale))
		return MUDSC_OK;
	return mudsc__err(MUDSC_E_INVALID,
	                  "merge: tensor '%s': a merged unit of point '%s' has zero total "
	                  "weight (argument 'weights')",
	                  t->name, plan->points[t->point[d]].name);
}

/* Model i's rows of a (non-part) plan tensor t that reach merged rows
 * [r0, r1) of axis 0, loaded into a (double) and brought to those rows
 * (axis 0 contracted, into b when it is bound): the rows in increasing
 * order, so every merged row sums the same terms in the same order as the
 * whole tensor's contraction.  shape[0] becomes r1 - r0; returns the
 * buffer holding the result (a or b). */
static double *rows_in(const struct mudsc__plan *plan, const struct point_corr *corr,
                       const struct plan_tensor *t, int32_t i, const double *weights,
                       struct mudsc__merge_scratch *s, int64_t *shape, size_t r0, size_t r1,
                       mudsc_status *st)
{
	const struct point_corr *c = t->point[0] >= 0 ? &corr[t->point[0]] : NULL;
	size_t L = (size_t)shape[0], row = mudsc__plan_numel(t) / (L ? L : 1), m = 0;
	size_t width = mudsc_dtype_size(t->dtype);
	const unsigned char *src = t->data[i];

	*st = MUDSC_OK;
	shape[0] = (int64_t)(r1 - r0);
	if (c == NULL) { /* unbound: the rows themselves */
		mudsc__convert_to_f64(t->dtype, src + r0 * row * width, (r1 - r0) * row, s->a);
		return s->a;
	}
	if ((*st = axis_scales(plan, c, t, 0, (int64_t)L, i, weights, s)) != MUDSC_OK)
		return NULL;
	const int64_t *assign = c->assign + (size_t)i * L;
	for (size_t v = 0; v < L; v++)
		if (assign[v] >= (int64_t)r0 && assign[v] < (int64_t)r1) {
			mudsc__convert_to_f64(t->dtype, src + v * row * width, row, s->a + m * row);
			s->sel_assign[m] = assign[v] - (int64_t)r0;
			s->sel_scale[m++] = s->scale[v];
		}
	mudsc__axis_contract(s->b, s->a, 1, (int64_t)m, row, s->sel_assign, s->sel_scale,
	                     (int64_t)(r1 - r0));
	return s->b;
}

/* Whether axis d of t (bound to c) is a permutation for model i: one
 * member of model i in every merged unit (seen: units of scratch). */
static bool axis_is_permutation(const struct point_corr *c, const struct plan_tensor *t,
                                int32_t d, int32_t i, int64_t *seen)
{
	int64_t L = t->shape[d];
	const int64_t *assign = c->assign + (size_t)i * (size_t)L;

	if (c->dense != NULL || c->width_out != L)
		return false;
	for (int64_t u = 0; u < L; u++)
		seen[u] = 0;
	for (int64_t u = 0; u < L; u++) {
		if (assign[u] < 0 || assign[u] >= L || seen[assign[u]])
			return false;
		seen[assign[u]] = 1;
	}
	return true;
}

/* *perm = every bound axis of the whole tensor t is a permutation for
 * model i, with each axis's scales in s->axis_scale + d * units (computed
 * in axis order, so a zero-weight unit fails at the axis the axis-by-axis
 * route fails at). */
static mudsc_status permuted_axes(bool *perm, const struct mudsc__plan *plan,
                                  const struct point_corr *corr, const struct plan_tensor *t,
                                  int32_t i, const double *weights, struct mudsc__merge_scratch *s)
{
	bool bound = false;
	*perm = t->part < 0;
	for (int32_t d = 0; d < t->rank && *perm; d++) {
		const struct point_corr *c = t->point[d] >= 0 ? &corr[t->point[d]] : NULL;
		if (c == NULL)
			continue;
		if (!axis_is_permutation(c, t, d, i, s->sel_assign)) {
			*perm = false;
			break;
		}
		mudsc_status st = axis_scales(plan, c, t, d, t->shape[d], i, weights, s);
		if (st != MUDSC_OK)
			return st;
		memcpy(s->axis_scale + (size_t)d * s->units, s->scale,
		       (size_t)t->shape[d] * sizeof *s->scale);
		bound = true;
	}
	*perm = *perm && bound;
	return MUDSC_OK;
}

/* acc[j] += w * (0 + fl * (0 + f[nf-1] * (... (0 + f[0] * x[j])))) for
 * j < n: one run of add_permuted, the factors of the outer axes f (nf of
 * them, the first applied first) and of the last bound axis fl. */
#define PERMUTED_RUN(T)                                                                          \
	static void permuted_run_##T(double *acc, const T *x, size_t n, const double *f, int32_t nf, \
	                             double fl, double w)                                            \
	{                                                                                            \
		for (size_t j = 0; j < n; j++) {                                                         \
			double v = (double)x[j];                                                             \
			for (int32_t q = 0; q < nf; q++)                                                     \
				v = 0.0 + f[q] * v;                                                              \
			acc[j] += w * (0.0 + fl * v);                                                        \
		}                                                                                        \
	}

PERMUTED_RUN(float)
PERMUTED_RUN(double)

/* permuted_run_float with one outer factor (a conv or linear weight's
 * OUT axis), two elements at a time with SSE2: the same operations. */
static void permuted_run_f1(double *acc, const float *x, size_t n, double f, double fl, double w)
{
	size_t j = 0;
#if defined(__SSE2__)
	__m128d zero = _mm_setzero_pd(), ff = _mm_set1_pd(f), fll = _mm_set1_pd(fl);
	__m128d ww = _mm_set1_pd(w);
	for (; j + 2 <= n; j += 2) {
		__m128d v = _mm_cvtps_pd(_mm_castsi128_ps(_mm_loadl_epi64((const void *)(x + j))));
		v = _mm_add_pd(zero, _mm_mul_pd(fll, _mm_add_pd(zero, _mm_mul_pd(ff, v))));
		_mm_storeu_pd(acc + j, _mm_add_pd(_mm_loadu_pd(acc + j), _mm_mul_pd(ww, v)));
	}
#endif
	for (; j < n; j++)
		acc[j] += w * (0.0 + fl * (0.0 + f * (double)x[j]));
}

/* permuted_run_f1 for runs of one element (the last bound axis is the
 * tensor's last): element u of x to acc[assign[u] * st], by the same
 * operations, without a call per element. */
static void scattered_f1(double *acc, const int64_t *assign, int64_t st, const float *x,
                         int64_t n, double f, const double *f_last, double w)
{
	for (int64_t u = 0; u < n; u++)
		acc[assign[u] * st] += w * (0.0 + f_last[u] * (0.0 + f * (double)x[u]));
}

/*
 * acc += w * T_i' for a whole tensor whose bound axes are all permutations
 * (permuted_axes): every element moved once to its place through the
 * axes' scales in axis order (0 + f x for each, the permutation route of
 * mudsc__axis_contract), then w times it added: the operations of the
 * axis-by-axis route, without its passes.  The last bound axis is the
 * inner loop, the unbound axes after it contiguous runs.  Float32 tensors
 * are read in place, others from their double copy.
 */
static void add_permuted(const struct point_corr *corr, const struct plan_tensor *t, int32_t i,
                         double w, struct mudsc__merge_scratch *s)
{
	int32_t last = t->rank - 1, nf;
	int64_t st[MUDSC_MAX_RANK], idx[MUDSC_MAX_RANK] = {0};
	const int64_t *assign[MUDSC_MAX_RANK];
	size_t run = 1, blocks = 1;
	bool in_place = t->dtype == MUDSC_DTYPE_F32 && (uintptr_t)t->data[i] % sizeof(float) == 0;
	const float *xf = in_place ? t->data[i] : NULL;
	double f[MUDSC_MAX_RANK];

	if (!in_place)
		mudsc__plan_load(t, i, s->a);
	while (t->point[last] < 0)
		run *= (size_t)t->shape[last--];
	st[t->rank - 1] = 1;
	for (int32_t d = t->rank - 1; d > 0; d--)
		st[d - 1] = st[d] * t->shape[d];
	for (int32_t d = 0; d <= last; d++) {
		assign[d] = t->point[d] >= 0 ? corr[t->point[d]].assign + (size_t)i * (size_t)t->shape[d]
		                             : NULL;
		blocks *= d < last ? (size_t)t->shape[d] : 1;
	}
	const double *f_last = s->axis_scale + (size_t)last * s->units;
	for (size_t b = 0, k = 0; b < blocks; b++) {
		int64_t base = 0;
		nf = 0;
		for (int32_t d = 0; d < last; d++) {
			base += (assign[d] ? assign[d][idx[d]] : idx[d]) * st[d];
			if (assign[d])
				f[nf++] = s->axis_scale[(size_t)d * s->units + (size_t)idx[d]];
		}
		if (run == 1 && xf != NULL && nf == 1) { /* a linear weight: one element per unit */
			scattered_f1(s->acc + base, assign[last], st[last], xf + k, t->shape[last], f[0],
			             f_last, w);
			k += (size_t)t->shape[last];
		} else {
			for (int64_t u = 0; u < t->shape[last]; u++, k += run) {
				double *acc = s->acc + base + assign[last][u] * st[last];
				if (xf != NULL && nf == 1)
					permuted_run_f1(acc, xf + k, run, f[0], f_last[u], w);
				else if (xf != NULL)
					permuted_run_float(acc, xf + k, run, f, nf, f_last[u], w);
				else
					permuted_run_double(acc, s->a + k, run, f, nf, f_last[u], w);
			}
		}
		for (int32_t d = last - 1; d >= 0 && ++idx[d] == t->shape[d]; d--)
			idx[d] = 0;
	}
}

/* acc += w * T_i' for one plan tensor; with rows (r0 < r1) only merged rows
 * [r0, r1) of axis 0 (a non-part tensor whose axis 0 has no dense
 * transform), the same bits as those rows of the whole. */
static mudsc_status add_transformed(const struct mudsc__plan *plan, const struct point_corr *corr,
                                    const struct plan_tensor *t, int32_t i, double w,
                                    const double *weights, struct mudsc__merge_scratch *s,
                                    size_t r0, size_t r1)
{
	int64_t shape[MUDSC_MAX_RANK];
	double *a = s->a, *b = s->b;
	size_t outer, inner, n;
	int32_t d0 = 0;

	memcpy(shape, t->shape, sizeof shape);
	if (r0 < r1) {
		mudsc_status st;
		a = rows_in(plan, corr, t, i, weights, s, shape, r0, r1, &st);
		if (a == NULL)
			return st;
		b = a == s->a ? s->b : s->a;
		d0 = 1;
	} else {
		bool perm;
		mudsc_status st = permuted_axes(&perm, plan, corr, t, i, weights, s);
		if (st != MUDSC_OK || perm) {
			if (perm)
				add_permuted(corr, t, i, w, s);
			return st;
		}
		mudsc__plan_load(t, i, a);
	}
	for (int32_t d = d0; d < t->rank; d++) {
		const struct point_corr *c = t->point[d] >= 0 ? &corr[t->point[d]] : NULL;
		if (c == NULL)
			continue;
		mudsc__axis_split(t->rank, shape, d, &outer, &inner);
		if (c->dense != NULL) {
			/* Mhat_i = M_i: every merged unit has one member per model */
			size_t block = (size_t)shape[d] * (size_t)c->width_out * (size_t)i;
			dense_contract(b, a, outer, shape[d], inner,
			               (t->role[d] == MUDSC_ROLE_OUT ? c->dense : c->dense_un) + block,
			               c->width_out);
		} else {
			mudsc_status st = axis_scales(plan, c, t, d, shape[d], i, weights, s);
			if (st != MUDSC_OK)
				return st;
			mudsc__axis_contract(b, a, outer, shape[d], inner,
			                    c->assign + (size_t)i * shape[d], s->scale, c->width_out);
		}
		shape[d] = c->width_out;
		double *tmp = a;
		a = b;
		b = tmp;
	}
	n = out_shape(t, corr, shape);
	if (r0 < r1)
		n = n / (size_t)shape[0] * (r1 - r0);
	for (size_t k = 0; k < n; k++)
		s->acc[k] += w * a[k];
	return MUDSC_OK;
}

/* Scatter a part's result (acc) into the re-joined whole (double). */
static void scatter_part(double *whole, const double *part, const struct plan_tensor *t,
                         const int64_t *part_shape, int64_t offset, int64_t whole_len)
{
	size_t outer, inner;
	mudsc__axis_split(t->rank, part_shape, t->split_axis, &outer, &inner);
	size_t piece = (size_t)part_shape[t->split_axis] * inner;
	for (size_t o = 0; o < outer; o++)
		memcpy(whole + (o * (size_t)whole_len + (size_t)offset) * inner, part + o * piece,
		       piece * sizeof *whole);
}

/* The largest stage of plan tensor t (each axis at max(before, after)). */
static size_t stage_size(const struct plan_tensor *t, const struct point_corr *corr)
{
	size_t n = 1;
	for (int32_t d = 0; d < t->rank; d++) {
		int64_t after = t->point[d] >= 0 ? corr[t->point[d]].width_out : t->shape[d];
		n *= (size_t)(after > t->shape[d] ? after : t->shape[d]);
	}
	return n;
}

static void scratch_free(struct mudsc__merge_scratch *s)
{
	free(s->a);
	free(s->b);
	free(s->acc);
	free(s->scale);
	free(s->counts);
	free(s->sel_scale);
	free(s->sel_assign);
	free(s->axis_scale);
}

/* One task's scratch: a, b, acc of `need` doubles, scale of `units`
 * entries (one per unit of a model: C), counts of `members` (N*C'). */
static mudsc_status scratch_alloc(struct mudsc__merge_scratch *s, size_t need, size_t units,
                                  size_t members)
{
	s->a = mudsc__alloc(need * sizeof *s->a, "merge scratch");
	s->b = mudsc__alloc(need * sizeof *s->b, "merge scratch");
	s->acc = mudsc__alloc(need * sizeof *s->acc, "merge scratch");
	s->scale = mudsc__alloc(units * sizeof *s->scale, "merge scales");
	s->counts = mudsc__alloc(members * sizeof *s->counts, "member counts");
	s->sel_scale = mudsc__alloc(units * sizeof *s->sel_scale, "merge scales");
	s->sel_assign = mudsc__alloc(units * sizeof *s->sel_assign, "block rows");
	s->axis_scale = mudsc__alloc(MUDSC_MAX_RANK * units * sizeof *s->axis_scale, "merge scales");
	s->cap = need;
	s->units = units;
	if (s->a && s->b && s->acc && s->scale && s->counts && s->sel_scale && s->sel_assign &&
	    s->axis_scale)
		return MUDSC_OK;
	scratch_free(s);
	return MUDSC_E_NOMEM;
}

/* The re-joined merged shape of the model tensor starting at plan tensor k. */
static size_t merged_shape(const struct mudsc__plan *plan, const struct point_corr *corr, size_t k,
                           int64_t *whole_shape)
{
	const struct plan_tensor *t0 = &plan->tensors[k];
	int64_t shape[MUDSC_MAX_RANK];
	size_t n = 1;

	out_shape(t0, corr, whole_shape);
	if (t0->part >= 0) {
		whole_shape[t0->split_axis] = 0;
		for (int32_t j = 0; j < t0->nparts; j++) {
			out_shape(&plan->tensors[k + (size_t)j], corr, shape);
			whole_shape[t0->split_axis] += shape[t0->split_axis];
		}
	}
	for (int32_t d = 0; d < t0->rank; d++)
		n *= (size_t)whole_shape[d];
	return n;
}

/* Merge the plan tensors k .. k+nparts-1 (one model tensor) into `whole`
 * (double), with the re-joined shape in whole_shape. */
static mudsc_status merge_one(const struct mudsc__plan *plan, const struct point_corr *corr,
                              size_t k, const double *weights, int32_t only,
                              struct mudsc__merge_scratch *s, double *whole, int64_t *whole_shape)
{
	const struct plan_tensor *t0 = &plan->tensors[k];
	int32_t parts = t0->part < 0 ? 1 : t0->nparts;
	int64_t offset = 0, shape[MUDSC_MAX_RANK];
	mudsc_status st;

	merged_shape(plan, corr, k, whole_shape);
	for (int32_t j = 0; j < parts; j++) {
		const struct plan_tensor *t = &plan->tensors[k + (size_t)j];
		size_t n = out_shape(t, corr, shape);
		memset(s->acc, 0, n * sizeof *s->acc);
		for (int32_t i = 0; i < plan->n_models; i++) {
			if (only >= 0 && i != only)
				continue;
			st = add_transformed(plan, corr, t, i, only >= 0 ? 1.0 : weights[i], weights, s,
			                     0, 0);
			if (st != MUDSC_OK)
				return st;
		}
		if (t->part < 0) {
			if (whole != NULL) /* NULL: the result stays in s->acc */
				memcpy(whole, s->acc, n * sizeof *whole);
		} else {
			for (int32_t d = 0; d < t->rank; d++)
				if (d != t->split_axis && shape[d] != whole_shape[d])
					return mudsc__err(MUDSC_E_SHAPE,
					                 "merge: parts of '%s' have different merged lengths on "
					                 "axis %d (%lld and %lld)",
					                 t->name, (int)d, (long long)shape[d],
					                 (long long)whole_shape[d]);
			scatter_part(whole, s->acc, t, shape, offset, whole_shape[t->split_axis]);
			offset += shape[t->split_axis];
		}
	}
	return MUDSC_OK;
}

/* The values (double) rounded once to dtype, in new bytes (NULL: NOMEM). */
static void *to_dtype(mudsc_dtype dtype, const double *values, size_t n)
{
	void *bytes = mudsc__alloc(n * mudsc_dtype_size(dtype) + 1, "merged tensor");
	if (bytes != NULL)
		mudsc__convert_from_f64(dtype, values, n, bytes);
	return bytes;
}

/* A bound tensor (plan tensors at .. at+nparts-1) merged or transformed. */
static mudsc_status bound_tensor(const struct mudsc__merge_job *j, size_t at,
                                 const struct model_tensor *t0, struct mudsc__merged_tensor *out)
{
	const struct plan_tensor *first = &j->plan->tensors[at];
	int32_t parts = first->part < 0 ? 1 : first->nparts;
	struct mudsc__merge_scratch s = {0};
	size_t stage = 1, n = merged_shape(j->plan, j->corr, at, out->shape);
	mudsc_status st;

	for (int32_t p = 0; p < parts; p++) {
		size_t need = stage_size(&j->plan->tensors[at + (size_t)p], j->corr);
		stage = need > stage ? need : stage;
	}
	if (parts == 1 && first->part < 0) { /* one plan tensor: its result is s.acc, no copy */
		st = scratch_alloc(&s, stage, j->units, j->members);
		if (st == MUDSC_OK)
			st = merge_one(j->plan, j->corr, at, j->weights, j->only, &s, NULL, out->shape);
		if (st == MUDSC_OK && (out->bytes = to_dtype(t0->dtype, s.acc, n)) == NULL)
			st = MUDSC_E_NOMEM;
		if (s.a != NULL)
			scratch_free(&s);
		return st;
	}
	double *whole = mudsc__alloc(n * sizeof *whole, "merged tensor");
	st = whole ? scratch_alloc(&s, stage, j->units, j->members) : MUDSC_E_NOMEM;
	if (st == MUDSC_OK) {
		st = merge_one(j->plan, j->corr, at, j->weights, j->only, &s, whole, out->shape);
		scratch_free(&s);
	}
	if (st == MUDSC_OK && (out->bytes = to_dtype(t0->dtype, whole, n)) == NULL)
		st = MUDSC_E_NOMEM;
	free(whole);
	return st;
}

/* A float tensor bound to no point, merged: the weighted sum. */
static mudsc_status averaged_tensor(const struct mudsc__merge_job *j, const struct model_tensor *t0,
                                    struct mudsc__merged_tensor *out)
{
	size_t n = t0->nbytes / mudsc_dtype_size(t0->dtype);
	double *buf = mudsc__alloc(n * sizeof *buf, "merge scratch");
	double *sum = mudsc__calloc(n, sizeof *sum, "merge scratch");
	mudsc_status st = buf && sum ? MUDSC_OK : MUDSC_E_NOMEM;

	for (int32_t i = 0; i < j->plan->n_models && st == MUDSC_OK; i++) {
		const struct model_tensor *t = mudsc__model_lookup(j->models[i], t0->name);
		mudsc__convert_to_f64(t->dtype, t->data, n, buf);
		for (size_t k = 0; k < n; k++)
			sum[k] += j->weights[i] * buf[k];
	}
	memcpy(out->shape, t0->shape, sizeof out->shape);
	if (st == MUDSC_OK && (out->bytes = to_dtype(t0->dtype, sum, n)) == NULL)
		st = MUDSC_E_NOMEM;
	free(buf);
	free(sum);
	return st;
}

bool mudsc__merge_job_blockable(const struct mudsc__merge_job *j, size_t k, size_t *rows,
                               size_t *row_stage)
{
	const struct model_tensor *t0 = &j->models[0]->tensors[k];
	int64_t shape[MUDSC_MAX_RANK];
	size_t at;

	if (!mudsc__strmap_get(&j->first_part, t0->name, &at))
		return false;
	const struct plan_tensor *t = &j->plan->tensors[at];
	if (t->part >= 0 || t->rank < 1 ||
	    (t->point[0] >= 0 && j->corr[t->point[0]].dense != NULL))
		return false;
	out_shape(t, j->corr, shape);
	size_t L0 = (size_t)(shape[0] > t->shape[0] ? shape[0] : t->shape[0]);
	*rows = (size_t)shape[0];
	*row_stage = L0 > 0 ? stage_size(t, j->corr) / L0 : 0;
	return *rows > 0 && *row_stage > 0;
}

/* s's a, b and acc of at least `need` doubles (kept when they are), its
 * scales and counts for the job's widest point. */
static mudsc_status scratch_reserve(struct mudsc__merge_scratch *s, size_t need,
                                    const struct mudsc__merge_job *j)
{
	if (s->a != NULL && need <= s->cap)
		return MUDSC_OK;
	mudsc__merge_scratch_free(s);
	mudsc_status st = scratch_alloc(s, need, j->units, j->members);
	if (st != MUDSC_OK) /* scratch_alloc freed what it had */
		memset(s, 0, sizeof *s);
	return st;
}

void mudsc__merge_scratch_free(struct mudsc__merge_scratch *s)
{
	if (s->a != NULL)
		scratch_free(s);
	memset(s, 0, sizeof *s);
}

mudsc_status mudsc__merge_job_rows(const struct mudsc__merge_job *j, size_t k, size_t r0,
                                  size_t r1, void *bytes, struct mudsc__merge_scratch *s)
{
	const struct model_tensor *t0 = &j->models[0]->tensors[k];
	int64_t shape[MUDSC_MAX_RANK];
	size_t at, rows, row_stage, most = r1 - r0;
	mudsc_status st = MUDSC_OK;

	if (!mudsc__merge_job_blockable(j, k, &rows, &row_stage) || r0 >= r1 || r1 > rows)
		return mudsc__err(MUDSC_E_INTERNAL, "merge: tensor '%s': rows %zu..%zu of %zu",
		                  t0->name, r0, r1, rows);
	(void)mudsc__strmap_get(&j->first_part, t0->name, &at);
	const struct plan_tensor *t = &j->plan->tensors[at];
	if (t->point[0] >= 0) /* the most rows of one model that reach the block (zip: several) */
		for (int32_t i = 0; i < j->plan->n_models; i++) {
			const int64_t *assign = j->corr[t->point[0]].assign + (size_t)i * (size_t)t->shape[0];
			size_t m = 0;
			for (int64_t v = 0; v < t->shape[0]; v++)
				m += assign[v] >= (int64_t)r0 && assign[v] < (int64_t)r1;
			most = m > most ? m : most;
		}
	size_t n = out_shape(t, j->corr, shape) / rows * (r1 - r0);
	if ((st = scratch_reserve(s, most * row_stage, j)) != MUDSC_OK)
		return st;
	memset(s->acc, 0, n * sizeof *s->acc);
	for (int32_t i = 0; i < j->plan->n_models && st == MUDSC_OK; i++)
		if (j->only < 0 || i == j->only)
			st = add_transformed(j->plan, j->corr, t, i, j->only >= 0 ? 1.0 : j->weights[i],
			                     j->weights, s, r0, r1);
	if (st == MUDSC_OK)
		mudsc__convert_from_f64(t0->dtype, s->acc, n, bytes);
	return st;
}

/* Task k: model 0's tensor k.  Non-float unbound tensors (and every unbound
 * one when transforming) need no work: their bytes are taken as they are. */
mudsc_status mudsc__merge_job_task(void *arg, size_t k)
{
	struct mudsc__merge_job *j = arg;
	const struct model_tensor *t0 = &j->models[0]->tensors[k];
	size_t at;

	if (mudsc__strmap_get(&j->first_part, t0->name, &at))
		return bound_tensor(j, at, t0, &j->out[k]);
	if (mudsc_dtype_is_float(t0->dtype) && j->only < 0)
		return averaged_tensor(j, t0, &j->out[k]);
	return MUDSC_OK;
}

void mudsc__merge_job_describe(struct model_tensor *desc, const struct mudsc__merge_job *j,
                               size_t k)
{
	const struct model_tensor *t0 = &j->models[0]->tensors[k];
	size_t at, n;

	memset(desc, 0, sizeof *desc);
	if (mudsc__strmap_get(&j->first_part, t0->name, &at)) {
		n = merged_shape(j->plan, j->corr, at, desc->shape);
		/* the plan's view of repeated axes, (C, k), joined again */
		mudsc__plan_model_shape(&j->plan->tensors[at], desc->shape);
	} else if (mudsc_dtype_is_float(t0->dtype) && j->only < 0) {
		memcpy(desc->shape, t0->shape, sizeof desc->shape);
		n = t0->nbytes / mudsc_dtype_size(t0->dtype);
	} else {
		/* taken as it is from one model */
		*desc = *mudsc__model_lookup(j->models[j->only >= 0 ? j->only : 0], t0->name);
		desc->owned = NULL;
		return;
	}
	desc->name = t0->name;
	desc->dtype = t0->dtype;
	desc->rank = t0->rank;
	desc->nbytes = n * mudsc_dtype_size(t0->dtype);
	desc->data = j->out[k].bytes;
}

void mudsc__merge_job_release(struct mudsc__merge_job *j, size_t k)
{
	free(j->out[k].bytes);
	j->out[k].bytes = NULL;
}

/* The result in model 0's order, from the tasks' outputs (the merged bytes
 * handed over, not copied). */
static mudsc_status assemble(mudsc_model *dst, const struct mudsc__merge_job *j)
{
	mudsc_status st = MUDSC_OK;
	struct model_tensor d;

	for (size_t k = 0; k < j->models[0]->count && st == MUDSC_OK; k++) {
		mudsc__merge_job_describe(&d, j, k);
		if (j->out[k].bytes == NULL) { /* taken as it is from a model: copied */
			st = mudsc_model_add(dst, d.name, d.dtype, d.rank, d.shape, d.data, MUDSC_COPY);
			continue;
		}
		st = mudsc__model_add_owned(dst, d.name, d.dtype, d.rank, d.shape, j->out[k].bytes);
		if (st == MUDSC_OK)
			j->out[k].bytes = NULL; /* the merged model's now */
	}
	return st;
}

/* The name map, the scale and count widths and the loop's work (every
 * element of every model, loaded and contracted along a few axes).  A
 * scale has one entry per unit of a model (C), the counts one per merged
 * unit of each model (N*C'): zip may give C > N*C' (issue 11, defect 1). */
mudsc_status mudsc__merge_job_init(struct mudsc__merge_job *j, const struct mudsc__plan *plan,
                                  const struct point_corr *corr,
                                  const mudsc_model *const *models, const double *weights,
                                  int32_t only, double *work)
{
	*j = (struct mudsc__merge_job){.plan = plan, .corr = corr, .models = models,
	                               .weights = weights, .only = only};
	const mudsc_model *m0 = models[0];
	size_t elements = 0;
	mudsc_status st = MUDSC_OK;

	mudsc__strmap_init(&j->first_part);
	j->units = 1;
	j->members = 1;
	for (size_t q = 0; q < plan->npoints; q++) {
		size_t units = (size_t)plan->points[q].width;
		size_t members = (size_t)j->corr[q].width_out * (size_t)plan->n_models;
		j->units = units > j->units ? units : j->units;
		j->members = members > j->members ? members : j->members;
	}
	for (size_t k = 0; k < plan->ntensors && st == MUDSC_OK; k++)
		if (plan->tensors[k].part <= 0)
			st = mudsc__strmap_put(&j->first_part, plan->tensors[k].name, k);
	for (size_t k = 0; k < m0->count; k++)
		elements += m0->tensors[k].nbytes / mudsc_dtype_size(m0->tensors[k].dtype);
	*work = 4.0 * (double)elements * (double)plan->n_models;
	j->out = st == MUDSC_OK ? mudsc__calloc(m0->count + 1, sizeof *j->out, "merged tensors")
	                        : NULL;
	return st == MUDSC_OK && j->out == NULL ? MUDSC_E_NOMEM : st;
}

void mudsc__merge_job_clear(struct mudsc__merge_job *j)
{
	for (size_t k = 0; j->out != NULL && k < j->models[0]->count; k++)
		free(j->out[k].bytes);
	free(j->out);
	j->out = NULL;
	mudsc__strmap_clear(&j->first_part);
}

mudsc_status mudsc__merge_apply(mudsc_model **out, const struct mudsc__plan *plan,
                               const struct point_corr *corr, const mudsc_model *const *models,
                               const double *weights, int32_t only,
                               const struct mudsc__exec *ex)
{
	struct mudsc__merge_job j;
	mudsc_model *dst = NULL;
	double work = 0.0;
	mudsc_status st = mudsc__merge_job_init(&j, plan, corr, models, weights, only, &work);

	if (st == MUDSC_OK)
		st = mudsc__parallel_for(ex, models[0]->count, work, mudsc__merge_job_task, &j);
	if (st == MUDSC_OK)
		st = mudsc_model_new(&dst);
	if (st == MUDSC_OK)
		st = assemble(dst, &j);
	mudsc__merge_job_clear(&j);
	if (st != MUDSC_OK) {
		mudsc_model_free(dst);
		return st;
	}
	*out = dst;
	return MUDSC_OK;
}
