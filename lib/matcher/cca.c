/*
 * CCA merging (docs/algorithm.md section 22).  For model i >= 1 and each
 * group block of g units at a point, with the blocks of the stacked
 * covariance C00 (model 0), Cii and C0i:
 *   Sx = C00 + gx I, Sy = Cii + gy I   (g = ridge * mean diagonal entry)
 *   A  = Sx^-1/2 C0i Sy^-1/2 = U diag(s) V'          (SVD)
 *   M_i = Sy^-1/2 V U' Sx^1/2,  U_i = Sy^1/2 V U' Sx^-1/2 = M_i^-T
 * (symmetric square roots from the eigendecompositions).  M_0 = U_0 = I.
 *
 * SPDX-License-Identifier: MIT
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "matcher/cca.h"

static const char fn[] = "mudsc_matcher_run";

/* Scratch of one block size g (every array g x g but w and s). */
struct cca_work {
	double *Sx, *Sy, *Sxy, *xr, *xi, *yr, *yi, *Q, *T, *T2, *U, *Vt, *w, *s;
	const struct mudsc__exec *ex;
};

static void work_free(struct cca_work *k)
{
	double **f[] = {&k->Sx, &k->Sy, &k->Sxy, &k->xr, &k->xi, &k->yr, &k->yi,
	                &k->Q,  &k->T,  &k->T2,  &k->U,  &k->Vt, &k->w,  &k->s};
	for (size_t j = 0; j < sizeof f / sizeof f[0]; j++) {
		free(*f[j]);
		*f[j] = NULL;
	}
}

static mudsc_status work_alloc(struct cca_work *k, int64_t g, const struct mudsc__exec *ex)
{
	size_t gg = (size_t)g * (size_t)g;
	double **sq[] = {&k->Sx, &k->Sy, &k->Sxy, &k->xr, &k->xi, &k->yr,
	                 &k->yi, &k->Q,  &k->T,   &k->T2, &k->U,  &k->Vt};
	bool ok = true;

	memset(k, 0, sizeof *k);
	for (size_t j = 0; j < sizeof sq / sizeof sq[0]; j++)
		ok = (*sq[j] = mudsc__alloc(gg * sizeof(double), "CCA scratch")) != NULL && ok;
	ok = (k->w = mudsc__alloc((size_t)g * sizeof(double), "CCA scratch")) != NULL && ok;
	ok = (k->s = mudsc__alloc((size_t)g * sizeof(double), "CCA scratch")) != NULL && ok;
	k->ex = ex;
	if (ok)
		return MUDSC_OK;
	work_free(k);
	return MUDSC_E_NOMEM;
}

/* dst (g x g) = the block of S (ld nc) at rows r0, columns c0; false if
 * an entry is not finite. */
static bool take_block(double *dst, const double *S, size_t nc, size_t r0, size_t c0, int64_t g)
{
	for (int64_t a = 0; a < g; a++)
		for (int64_t b = 0; b < g; b++) {
			double v = S[(r0 + (size_t)a) * nc + c0 + (size_t)b];
			if (!isfinite(v))
				return false;
			dst[a * g + b] = v;
		}
	return true;
}

/* S (g x g, destroyed) plus the ridge: its symmetric square root and
 * inverse square root into root and inv.  MUDSC_E_NUMERIC when an
 * eigenvalue is not above max(0, the largest * g * DBL_EPSILON). */
static mudsc_status roots(double *root, double *inv, double *S, int64_t g, double ridge,
                          struct cca_work *k, const char *point, int32_t model)
{
	double trace = 0.0, gamma, top;

	for (int64_t a = 0; a < g; a++)
		trace += S[a * g + a];
	gamma = ridge * trace / (double)g;
	for (int64_t a = 0; a < g; a++)
		S[a * g + a] += gamma;
	if (!isfinite(trace) || !isfinite(gamma))
		return mudsc__err(MUDSC_E_NUMERIC, "%s: point '%s': model %d's covariance overflows "
		                                  "(its trace is %g)", fn, point, (int)model, trace);
	if (mudsc__lapack_dsyevd(g, S, g, k->w) != 0)
		return mudsc__err(MUDSC_E_NUMERIC, "%s: point '%s': the eigendecomposition of model "
		                                  "%d's covariance failed", fn, point, (int)model);
	top = k->w[g - 1];
	if (!(k->w[0] > 0.0) || !(k->w[0] > top * (double)g * DBL_EPSILON))
		return mudsc__err(MUDSC_E_NUMERIC,
		                 "%s: point '%s': model %d's covariance plus the ridge is singular "
		                 "(eigenvalues %g .. %g): raise opts->cca_ridge (now %g)",
		                 fn, point, (int)model, k->w[0], top, ridge);
	/* root = Q diag(sqrt w) Q', inv = Q diag(1/sqrt w) Q' (Q: columns of S) */
	for (int pass = 0; pass < 2; pass++) {
		for (int64_t a = 0; a < g; a++)
			for (int64_t b = 0; b < g; b++) {
				double r = sqrt(k->w[b]);
				k->Q[a * g + b] = S[a * g + b] * (pass == 0 ? r : 1.0 / r);
			}
		mudsc__blas_dgemm(k->ex, false, true, g, g, g, 1.0, k->Q, g, S, g, 0.0,
		                  pass == 0 ? root : inv, g);
	}
	return MUDSC_OK;
}

static bool all_finite(const double *x, size_t n)
{
	for (size_t j = 0; j < n; j++)
		if (!isfinite(x[j]))
			return false;
	return true;
}

/* C = op(A) op(B) (g x g). */
static void mul(const struct cca_work *k, double *C, const double *A, bool ta, const double *B,
                bool tb, int64_t g)
{
	mudsc__blas_dgemm(k->ex, ta, tb, g, g, g, 1.0, A, g, B, g, 0.0, C, g);
}

/* Model i's block b: its merge and unmerge blocks into the dense arrays;
 * *score += the sum of the canonical correlations. */
static mudsc_status one_block(struct point_corr *c, const double *S, int64_t N, int64_t C,
                              int64_t g, int64_t b, int32_t i, double ridge, struct cca_work *k,
                              const char *point, double *score)
{
	size_t nc = (size_t)(N * C), x0 = (size_t)(b * g), y0 = (size_t)(i * C + b * g);
	mudsc_status st;

	if (!take_block(k->Sx, S, nc, x0, x0, g) || !take_block(k->Sy, S, nc, y0, y0, g) ||
	    !take_block(k->Sxy, S, nc, x0, y0, g))
		return mudsc__err(MUDSC_E_NUMERIC, "%s: point '%s': the covariance of models 0 and %d "
		                                  "is not finite", fn, point, (int)i);
	if ((st = roots(k->xr, k->xi, k->Sx, g, ridge, k, point, 0)) != MUDSC_OK ||
	    (st = roots(k->yr, k->yi, k->Sy, g, ridge, k, point, i)) != MUDSC_OK)
		return st;
	mul(k, k->T, k->xi, false, k->Sxy, false, g); /* A = Sx^-1/2 C0i Sy^-1/2 */
	mul(k, k->T2, k->T, false, k->yi, false, g);
	if (!all_finite(k->T2, (size_t)(g * g)) ||
	    mudsc__lapack_dgesdd(g, g, k->T2, g, k->s, k->U, g, k->Vt, g) != 0)
		return mudsc__err(MUDSC_E_NUMERIC, "%s: point '%s': the SVD of models 0 and %d's "
		                                  "whitened cross-covariance failed", fn, point, (int)i);
	for (int64_t j = 0; j < g; j++)
		*score += k->s[j];
	mul(k, k->Q, k->U, false, k->Vt, false, g); /* Q = U V' (orthogonal) */
	/* M_i = Sy^-1/2 Q' Sx^1/2, U_i = Sy^1/2 Q' Sx^-1/2 */
	for (int pass = 0; pass < 2; pass++) {
		double *dst = (pass == 0 ? c->dense : c->dense_un) + (size_t)i * (size_t)(C * C);
		mul(k, k->T, pass == 0 ? k->yi : k->yr, false, k->Q, true, g);
		mul(k, k->T2, k->T, false, pass == 0 ? k->xr : k->xi, false, g);
		if (!all_finite(k->T2, (size_t)(g * g)))
			return mudsc__err(MUDSC_E_NUMERIC, "%s: point '%s': model %d's transform is not "
			                                  "finite", fn, point, (int)i);
		for (int64_t u = 0; u < g; u++)
			memcpy(dst + (size_t)(b * g + u) * (size_t)C + (size_t)(b * g),
			       k->T2 + u * g, (size_t)g * sizeof *dst);
	}
	return MUDSC_OK;
}

/* Point p's correspondence from its covariance S. */
static mudsc_status cca_point(struct point_corr *c, const double *S, const struct loop_input *in,
                              size_t p)
{
	const struct plan_point *pt = &in->plan->points[p];
	int64_t N = in->plan->n_models, C = pt->width;
	int64_t G = in->opts->use_groups ? pt->groups : 1, g = C / (G > 0 ? G : 1);
	size_t CC = (size_t)C * (size_t)C;
	struct cca_work k;
	double score = 0.0;
	mudsc_status st;

	memset(c, 0, sizeof *c);
	c->width_out = C;
	c->ndense = (size_t)N * CC;
	c->assign = mudsc__alloc((size_t)(N * C) * sizeof *c->assign, "correspondence");
	c->pairs = mudsc__alloc(sizeof *c->pairs, "correspondence pairs");
	c->dense = mudsc__calloc(c->ndense, sizeof *c->dense, "dense transforms");
	c->dense_un = mudsc__calloc(c->ndense, sizeof *c->dense_un, "dense transforms");
	if (c->assign == NULL || c->pairs == NULL || c->dense == NULL || c->dense_un == NULL ||
	    work_alloc(&k, g, in->ex) != MUDSC_OK) {
		mudsc__corr_free(c);
		return MUDSC_E_NOMEM;
	}
	for (int64_t u = 0; u < N * C; u++)
		c->assign[u] = u % C;
	for (int64_t u = 0; u < C; u++)
		c->dense[u * C + u] = c->dense_un[u * C + u] = 1.0;
	st = MUDSC_OK;
	for (int32_t i = 1; i < N && st == MUDSC_OK; i++)
		for (int64_t b = 0; b < G && st == MUDSC_OK; b++)
			st = one_block(c, S, N, C, g, b, i, in->opts->cca_ridge, &k, pt->name, &score);
	work_free(&k);
	if (st != MUDSC_OK) {
		mudsc__corr_free(c);
		return st;
	}
	c->set = true;
	c->score[0] = NAN;
	c->score[1] = c->score[2] = score / (double)((N - 1) * C);
	return MUDSC_OK;
}

mudsc_status mudsc__cca_run(struct loop_result *res, const struct loop_input *in)
{
	const struct mudsc__plan *plan = in->plan;
	struct loop_result r = {.sweeps = 0, .best_sweep = -1};
	size_t widest = 1;
	double *buf = NULL;
	mudsc_status st = MUDSC_OK;

	if (in->S_a == NULL && in->fetch == NULL)
		return mudsc__err(MUDSC_E_STATE,
		                 "%s: CCA (opts->method = MUDSC_METHOD_CCA) needs activation "
		                 "statistics for every point: give them with "
		                 "mudsc_matcher_set_activations() or mudsc_matcher_set_stats()", fn);
	for (size_t p = 0; p < plan->npoints; p++) {
		size_t nc = (size_t)plan->n_models * (size_t)plan->points[p].width;
		widest = nc * nc > widest ? nc * nc : widest;
	}
	r.corr = mudsc__calloc(plan->npoints + 1, sizeof *r.corr, "correspondences");
	r.objectives = mudsc__calloc(1, sizeof *r.objectives, "objectives");
	if (in->S_a == NULL)
		buf = mudsc__alloc(widest * sizeof *buf, "covariance");
	if (r.corr == NULL || r.objectives == NULL || (in->S_a == NULL && buf == NULL))
		st = MUDSC_E_NOMEM;
	for (size_t p = 0; p < plan->npoints && st == MUDSC_OK; p++) {
		const double *S = in->S_a != NULL ? in->S_a[p] : buf;
		if (in->S_a == NULL)
			st = in->fetch(in->fetch_ctx, p, buf);
		if (st == MUDSC_OK)
			st = cca_point(&r.corr[p], S, in, p);
	}
	free(buf);
	if (st != MUDSC_OK) {
		mudsc__loop_result_free(&r, plan->npoints);
		return st;
	}
	*res = r;
	return MUDSC_OK;
}
