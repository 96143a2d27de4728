/*
 * Quadrature rules of [0, 1] (mudsc_quadrature(), docs/algorithm.md
 * section 14.1): Gauss-Legendre by the Golub-Welsch eigenvalue method, and
 * the Riemann rules.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "field/field.h"

/*
 * Golub-Welsch: the Jacobi matrix of the Legendre polynomials on [-1, 1]
 * has diagonal 0 and off-diagonal beta_j = j / sqrt(4 j^2 - 1), j = 1..K-1;
 * its eigenvalues are the nodes and mu_0 v_0^2 (v_0 the first component of
 * the unit eigenvector, mu_0 = 2) the weights.  On [0, 1]: t = (1 + x)/2,
 * w = v_0^2.  The rule is symmetric about 1/2; the computed one is made
 * exactly so (the mean of each node and the mirror of its partner).
 */
static mudsc_status gauss_legendre(double *nodes, double *weights, int64_t k, const char *fn)
{
	size_t kk = (size_t)k;
	double *d = malloc(kk * sizeof *d);
	double *e = malloc(kk * sizeof *e);
	double *z = malloc(kk * kk * sizeof *z);
	mudsc_status st = MUDSC_OK;
	int info;

	if (d == NULL || e == NULL || z == NULL) {
		st = mudsc__err(MUDSC_E_NOMEM, "%s: out of memory for the %lld x %lld Jacobi matrix",
		                fn, (long long)k, (long long)k);
		goto out;
	}
	for (size_t j = 0; j < kk; j++) {
		double jj = (double)(j + 1);
		d[j] = 0.0;
		e[j] = jj / sqrt(4.0 * jj * jj - 1.0);
	}
	info = mudsc__lapack_dstev(k, d, e, z, k);
	if (info != 0) {
		st = mudsc__err(MUDSC_E_NUMERIC, "%s: the Golub-Welsch eigenvalue iteration failed "
		                "(LAPACK dstev info %d, steps %lld)", fn, info, (long long)k);
		goto out;
	}
	for (size_t j = 0; j < kk; j++) {
		size_t m = kk - 1 - j;
		double t = 0.25 * ((1.0 + d[j]) + (1.0 - d[m]));
		double w = 0.5 * (z[j] * z[j] + z[m] * z[m]);
		nodes[j] = j == m ? 0.5 : t;
		weights[j] = w;
	}
out:
	free(d);
	free(e);
	free(z);
	return st;
}

mudsc_status mudsc__quad_fill(double *nodes, double *weights, int32_t rule, int64_t steps,
                             const char *fn)
{
	double kd = (double)steps;

	if (rule == MUDSC_QUAD_GAUSS_LEGENDRE)
		return gauss_legendre(nodes, weights, steps, fn);
	for (int64_t j = 0; j < steps; j++) {
		double jd = (double)j;
		switch (rule) {
		case MUDSC_QUAD_RIEMANN_LEFT:
			nodes[j] = jd / kd;
			weights[j] = 1.0 / kd;
			break;
		case MUDSC_QUAD_RIEMANN_RIGHT:
			nodes[j] = (jd + 1.0) / kd;
			weights[j] = 1.0 / kd;
			break;
		case MUDSC_QUAD_RIEMANN_MIDDLE:
			nodes[j] = (jd + 0.5) / kd;
			weights[j] = 1.0 / kd;
			break;
		default: /* trapezoid, K >= 2 */
			nodes[j] = jd / (kd - 1.0);
			weights[j] = (j == 0 || j == steps - 1 ? 0.5 : 1.0) / (kd - 1.0);
			break;
		}
	}
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_quadrature(double *nodes, double *weights, int32_t rule,
                                        int64_t steps)
{
	double *t, *w;
	mudsc_status st;

	MUDSC__CHECK_NULL(nodes);
	MUDSC__CHECK_NULL(weights);
	if (rule < MUDSC_QUAD_GAUSS_LEGENDRE || rule > MUDSC_QUAD_RIEMANN_TRAPEZOID)
		return mudsc__err(MUDSC_E_INVALID, "mudsc_quadrature: rule = %d is not a "
		                  "mudsc_quad_rule (0..4)", (int)rule);
	if (steps < 1 || steps > MUDSC_QUAD_MAX_STEPS ||
	    (rule == MUDSC_QUAD_RIEMANN_TRAPEZOID && steps < 2))
		return mudsc__err(MUDSC_E_INVALID, "mudsc_quadrature: steps = %lld is out of range "
		                  "(%d..%d for this rule)", (long long)steps,
		                  rule == MUDSC_QUAD_RIEMANN_TRAPEZOID ? 2 : 1, MUDSC_QUAD_MAX_STEPS);
	t = mudsc__alloc(2 * (size_t)steps * sizeof *t, "mudsc_quadrature: the rule");
	if (t == NULL)
		return MUDSC_E_NOMEM;
	w = t + steps;
	st = mudsc__quad_fill(t, w, rule, steps, "mudsc_quadrature");
	if (st == MUDSC_OK) {
		memcpy(nodes, t, (size_t)steps * sizeof *t);
		memcpy(weights, w, (size_t)steps * sizeof *w);
	}
	free(t);
	return st;
}
