/*
 * Zip and group zip (docs/algorithm.md section 9).
 *
 * The rule is the oracle's greedy: repeatedly merge the first maximum of the
 * working matrix W in row-major order.  Rescanning W for every merge costs
 * O(n^2) a step; instead each active row keeps the maximum of its upper part
 * (columns > row) and its first argmax.  Because W stays symmetric, the
 * first row-major maximum of the whole matrix is the upper-part maximum of
 * the first row holding the global maximum, at that row's first argmax, so
 * the choice is the oracle's exactly.  A merge changes row/column x, removes
 * y and may clear one model's block; only rows whose recorded maximum was
 * invalidated are rescanned, which makes a run about O(n^2).
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "kernels/kernels.h"

MUDSC_API mudsc_status mudsc_match_options_init(mudsc_match_options *opts)
{
	return mudsc__options_init(opts, MUDSC__OPTIONS_MATCH, "mudsc_match_options_init");
}

typedef struct zipper {
	double *W;      /* n x n working matrix, inactive rows/columns at -inf */
	int64_t n;      /* units */
	int64_t Cm;     /* units per model */
	double a;
	int64_t *budget;  /* per model */
	bool *active;
	int64_t *parent;  /* cluster y joined parent[y]; -1 for an active representative */
	double *best;     /* maximum of W[r, r+1..n) */
	int64_t *arg;     /* its first column, -1 if the row is all -inf */
	int64_t *dirty;   /* rows to rescan */
	bool *is_dirty;
	int64_t ndirty;
} zipper;

static inline double *wrow(const zipper *z, int64_t r)
{
	return z->W + (size_t)r * (size_t)z->n;
}

static void rescan(zipper *z, int64_t r)
{
	const double *w = wrow(z, r);
	double m = -INFINITY;
	int64_t at = -1;
	for (int64_t c = r + 1; c < z->n; c++)
		if (w[c] > m) {
			m = w[c];
			at = c;
		}
	z->best[r] = m;
	z->arg[r] = at;
}

static void mark(zipper *z, int64_t r)
{
	if (!z->is_dirty[r]) {
		z->is_dirty[r] = true;
		z->dirty[z->ndirty++] = r;
	}
}

/* Within-model budget of model m is spent: no two of its active
 * representatives may merge any more. */
static void clear_model(zipper *z, int64_t m)
{
	int64_t lo = m * z->Cm, hi = lo + z->Cm;
	for (int64_t r = lo; r < hi; r++) {
		if (!z->active[r])
			continue;
		double *w = wrow(z, r);
		for (int64_t c = lo; c < hi; c++)
			if (z->active[c])
				w[c] = -INFINITY;
		if (z->arg[r] >= lo && z->arg[r] < hi)
			mark(z, r);
	}
}

/* Row x becomes the merged cluster's row (min, then scaled or masked),
 * column x mirrors it, column y goes to -inf (row y is not read again:
 * rows of inactive clusters never are); the recorded maxima of
 * rows above x and y are updated or marked for rescan. */
static void merge_rows(zipper *z, int64_t x, int64_t y)
{
	int64_t n = z->n, mx = x / z->Cm, my = y / z->Cm;
	double *wx = wrow(z, x), *wy = wrow(z, y);
	for (int64_t c = 0; c < n; c++) {
		double v = wx[c] < wy[c] ? wx[c] : wy[c];
		if (z->a > 0)
			v *= z->a;
		else if (z->active[c] && (c / z->Cm == mx || c / z->Cm == my))
			v = -INFINITY;
		wx[c] = v;
	}
	wx[x] = -INFINITY;
	wx[y] = -INFINITY;
	/* Rows of inactive clusters (y's from now on) are never read again:
	 * only the active rows get the new columns. */
	for (int64_t c = 0; c < n; c++) {
		if (!z->active[c])
			continue;
		z->W[(size_t)c * (size_t)n + (size_t)y] = -INFINITY;
		z->W[(size_t)c * (size_t)n + (size_t)x] = wx[c];
	}
	z->active[y] = false;
	z->parent[y] = x;
	for (int64_t r = 0; r < x; r++) {
		if (!z->active[r] || z->is_dirty[r])
			continue;
		double v = wx[r];
		if (z->arg[r] == y)
			mark(z, r);
		else if (z->arg[r] == x) {
			if (v < z->best[r])
				mark(z, r);
			else
				z->best[r] = v;
		} else if (v > z->best[r] || (v == z->best[r] && z->arg[r] >= 0 && x < z->arg[r])) {
			z->best[r] = v;
			z->arg[r] = x;
		}
	}
	for (int64_t r = x + 1; r < y; r++)
		if (z->active[r] && z->arg[r] == y)
			mark(z, r);
	mark(z, x);
}

/* The first row (ascending) whose maximum is the largest. */
static int64_t top_row(const zipper *z)
{
	double m = -INFINITY;
	int64_t at = -1;
	for (int64_t r = 0; r < z->n; r++)
		if (z->active[r] && z->best[r] > m) {
			m = z->best[r];
			at = r;
		}
	return at;
}

/* Zip n = Nm*Cm units (W: their similarities, overwritten) down to Cp
 * clusters with the given per-model budget.  unit_of[u] = cluster of u
 * (numbered by smallest member); pairs gets the n - Cp merges. */
static mudsc_status zip_run(zipper *z, int64_t *unit_of, int64_t *pairs, int64_t Nm,
                            int64_t Cp, int64_t budget)
{
	int64_t n = z->n;
	for (int64_t m = 0; m < Nm; m++)
		z->budget[m] = budget;
	for (int64_t u = 0; u < n; u++) {
		wrow(z, u)[u] = -INFINITY;
		z->active[u] = true;
		z->parent[u] = -1;
		z->is_dirty[u] = false;
	}
	for (int64_t u = 0; u < n; u++)
		rescan(z, u);
	z->ndirty = 0;
	for (int64_t clusters = n, k = 0; clusters > Cp; clusters--, k++) {
		int64_t x = top_row(z);
		if (x < 0)
			return mudsc__err(MUDSC_E_NUMERIC,
			                 "zip: no admissible merge left with %lld clusters (target %lld)",
			                 (long long)clusters, (long long)Cp);
		int64_t y = z->arg[x];
		pairs[2 * k] = x;
		pairs[2 * k + 1] = y;
		int64_t mx = x / z->Cm;
		if (mx == y / z->Cm && --z->budget[mx] <= 0)
			clear_model(z, mx);
		merge_rows(z, x, y);
		for (int64_t d = 0; d < z->ndirty; d++) {
			int64_t r = z->dirty[d];
			z->is_dirty[r] = false;
			if (z->active[r])
				rescan(z, r);
		}
		z->ndirty = 0;
	}
	int64_t next = 0;
	for (int64_t u = 0; u < n; u++)
		if (z->active[u])
			unit_of[u] = next++;
	/* Representatives are smaller than their members, so walking up once
	 * in increasing order finds every root already numbered. */
	for (int64_t u = 0; u < n; u++)
		if (!z->active[u])
			unit_of[u] = unit_of[z->parent[u]];
	return MUDSC_OK;
}

/* Workspace for zipping up to n units of Nm models. */
static mudsc_status zipper_init(zipper *z, int64_t n, int64_t Nm)
{
	size_t un = (size_t)n;
	memset(z, 0, sizeof *z);
	z->W = mudsc__alloc(un * un * sizeof *z->W, "zip working matrix");
	z->budget = mudsc__alloc((size_t)Nm * sizeof *z->budget, "zip budgets");
	z->active = mudsc__alloc(un * sizeof *z->active, "zip active set");
	z->is_dirty = mudsc__alloc(un * sizeof *z->is_dirty, "zip flags");
	z->parent = mudsc__alloc(un * sizeof *z->parent, "zip clusters");
	z->best = mudsc__alloc(un * sizeof *z->best, "zip row maxima");
	z->arg = mudsc__alloc(un * sizeof *z->arg, "zip row argmax");
	z->dirty = mudsc__alloc(un * sizeof *z->dirty, "zip rescan list");
	bool ok = z->W && z->budget && z->active && z->is_dirty && z->parent && z->best && z->arg &&
	          z->dirty;
	return ok ? MUDSC_OK : MUDSC_E_NOMEM;
}

static void zipper_free(zipper *z)
{
	mudsc_free(z->W);
	mudsc_free(z->budget);
	mudsc_free(z->active);
	mudsc_free(z->is_dirty);
	mudsc_free(z->parent);
	mudsc_free(z->best);
	mudsc_free(z->arg);
	mudsc_free(z->dirty);
}

static int64_t zip_width(int64_t n, double r)
{
	return (int64_t)floor((double)n * (1.0 - r));
}

static int64_t zip_budget(int64_t n, int64_t Cp, int64_t N, double b)
{
	double B = floor((double)((n - Cp) / N) * b);
	const double lim = 4611686018427387904.0; /* 2^62: any budget beyond n acts alike */
	return B > lim ? (int64_t)lim : B < -lim ? -(int64_t)lim : (int64_t)B;
}

static mudsc_status check_options(const char *fn, const mudsc_match_options *o)
{
	if (!(o->r > 0 && o->r < 1))
		return mudsc__err(MUDSC_E_INVALID, "%s: argument 'opts->r' = %g is not in (0, 1)", fn,
		                 o->r);
	if (!isfinite(o->a))
		return mudsc__err(MUDSC_E_INVALID, "%s: argument 'opts->a' = %g is not finite", fn,
		                 o->a);
	if (!isfinite(o->b))
		return mudsc__err(MUDSC_E_INVALID, "%s: argument 'opts->b' = %g is not finite", fn,
		                 o->b);
	return MUDSC_OK;
}

/* Whether S is symmetric, in 32 x 32 tiles: a tile and its mirror stay in
 * cache, where a row against a column would not. */
static bool symmetric(const double *S, size_t n)
{
	bool ok = true;
	for (size_t i0 = 0; i0 < n; i0 += 32)
		for (size_t j0 = i0; j0 < n; j0 += 32) {
			size_t i1 = n - i0 < 32 ? n : i0 + 32, j1 = n - j0 < 32 ? n : j0 + 32;
			for (size_t i = i0; i < i1; i++)
				for (size_t j = j0 > i ? j0 : i + 1; j < j1; j++)
					ok &= S[i * n + j] == S[j * n + i];
			if (!ok)
				return false;
		}
	return true;
}

/* The first asymmetric pair in row-major order is named (searched for only
 * when symmetric() found one). */
static mudsc_status check_symmetric(const char *fn, const double *S, size_t n)
{
	if (symmetric(S, n))
		return MUDSC_OK;
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (S[i * n + j] != S[j * n + i])
				return mudsc__err(MUDSC_E_INVALID,
				                 "%s: argument 'S' is not symmetric: S[%zu, %zu] = %.17g but "
				                 "S[%zu, %zu] = %.17g",
				                 fn, i, j, S[i * n + j], j, i, S[j * n + i]);
	return MUDSC_OK;
}

/* Stacked indices of bundle g: anchor block g, then block bperm_i[g] of
 * every model i >= 1 (bperms: (N-1) x G). */
static void bundle_index(int64_t *idx, const int64_t *bperms, int64_t g, int64_t N, int64_t C,
                         int64_t G)
{
	int64_t Cg = C / G;
	for (int64_t i = 0; i < N; i++) {
		int64_t h = i == 0 ? g : bperms[(i - 1) * G + g];
		for (int64_t k = 0; k < Cg; k++)
			idx[i * Cg + k] = i * C + h * Cg + k;
	}
}

typedef struct zip_job {
	const double *S;
	int64_t N, C, G, NC;
	int64_t Cp, Cgp; /* total and per-bundle widths */
	const mudsc_match_options *o;
	int64_t *unit_of, *pairs; /* results (NC and 2*(NC - Cp)) */
} zip_job;

static mudsc_status zip_bundles(const zip_job *J, zipper *z, const int64_t *bperms)
{
	int64_t n = J->NC / J->G, NC = J->NC;
	int64_t *idx = mudsc__alloc((size_t)n * sizeof *idx, "zip bundle index");
	int64_t *sub = mudsc__alloc((size_t)n * sizeof *sub, "zip bundle units");
	int64_t *subpairs = mudsc__alloc((size_t)n * 2 * sizeof *subpairs, "zip bundle pairs");
	mudsc_status st = idx && sub && subpairs ? MUDSC_OK : MUDSC_E_NOMEM;
	int64_t budget = zip_budget(n, J->Cgp, J->N, J->o->b), merges = n - J->Cgp;
	for (int64_t g = 0; g < J->G && st == MUDSC_OK; g++) {
		if (J->G == 1) {
			for (int64_t u = 0; u < n; u++)
				idx[u] = u;
			memcpy(z->W, J->S, (size_t)n * (size_t)n * sizeof *z->W);
		} else {
			bundle_index(idx, bperms, g, J->N, J->C, J->G);
			for (int64_t p = 0; p < n; p++)
				for (int64_t q = 0; q < n; q++)
					z->W[(size_t)p * (size_t)n + (size_t)q] =
					    J->S[(size_t)idx[p] * (size_t)NC + (size_t)idx[q]];
		}
		z->n = n;
		z->Cm = J->C / J->G;
		z->a = J->o->a;
		st = zip_run(z, sub, subpairs, J->N, J->Cgp, budget);
		for (int64_t u = 0; u < n && st == MUDSC_OK; u++)
			J->unit_of[idx[u]] = g * J->Cgp + sub[u];
		for (int64_t k = 0; k < 2 * merges && st == MUDSC_OK; k++)
			J->pairs[2 * g * merges + k] = idx[subpairs[k]];
	}
	mudsc_free(idx);
	mudsc_free(sub);
	mudsc_free(subpairs);
	return st;
}

static mudsc_status zip_solve(const zip_job *J)
{
	int64_t N = J->N, G = J->G;
	int64_t *bperms = NULL;
	mudsc_status st = MUDSC_OK;
	if (G > 1) {
		bperms = mudsc__alloc((size_t)((N > 1 ? N - 1 : 1) * G) * sizeof *bperms,
		                     "zip block assignment");
		if (!bperms)
			return MUDSC_E_NOMEM;
		for (int64_t i = 1; i < N && st == MUDSC_OK; i++)
			st = mudsc__block_assign(bperms + (i - 1) * G, NULL, J->S, (size_t)J->NC, i, J->C,
			                        G);
	}
	zipper z;
	if (st == MUDSC_OK) {
		st = zipper_init(&z, J->NC / G, N);
		if (st == MUDSC_OK)
			st = zip_bundles(J, &z, bperms);
		zipper_free(&z);
	}
	mudsc_free(bperms);
	return st;
}

MUDSC_API mudsc_status mudsc_zip_solve(int64_t *unit_of, int64_t *width, int64_t *pairs,
                                       double *score, const double *S, int64_t N, int64_t C,
                                       int64_t G, const mudsc_match_options *opts)
{
	static const char fn[] = "mudsc_zip_solve";
	mudsc_match_options options;
	const mudsc_match_options *o = &options;
	if (unit_of == NULL)
		return mudsc__err(MUDSC_E_INVALID, "%s: argument 'unit_of' is NULL", fn);
	if (width == NULL)
		return mudsc__err(MUDSC_E_INVALID, "%s: argument 'width' is NULL", fn);
	mudsc_status st = mudsc__options_read(&options, opts, MUDSC__OPTIONS_MATCH, fn);
	if (st == MUDSC_OK)
		st = check_options(fn, o);
	if (st == MUDSC_OK)
		st = mudsc__match_check_args(fn, S, N, C, G);
	if (st != MUDSC_OK)
		return st;
	int64_t NC = N * C, n = NC / G, Cgp = zip_width(n, o->r);
	if (Cgp < 1 || Cgp >= n)
		return mudsc__err(MUDSC_E_INVALID,
		                 "%s: argument 'opts->r' = %g gives output width %lld for %lld units%s, "
		                 "outside [1, %lld]",
		                 fn, o->r, (long long)Cgp, (long long)n, G > 1 ? " per bundle" : "",
		                 (long long)(n - 1));
	if ((st = check_symmetric(fn, S, (size_t)NC)) != MUDSC_OK)
		return st;
	zip_job J = {.S = S, .N = N, .C = C, .G = G, .NC = NC, .Cp = G * Cgp, .Cgp = Cgp, .o = o};
	J.unit_of = mudsc__alloc((size_t)NC * sizeof *J.unit_of, "zip result");
	J.pairs = mudsc__alloc((size_t)(NC - J.Cp) * 2 * sizeof *J.pairs, "zip pairs");
	st = J.unit_of && J.pairs ? zip_solve(&J) : MUDSC_E_NOMEM;
	if (st == MUDSC_OK) {
		int64_t merges = NC - J.Cp;
		double sum = 0;
		for (int64_t k = 0; k < merges; k++)
			sum += S[(size_t)J.pairs[2 * k] * (size_t)NC + (size_t)J.pairs[2 * k + 1]];
		memcpy(unit_of, J.unit_of, (size_t)NC * sizeof *unit_of);
		*width = J.Cp;
		if (pairs)
			memcpy(pairs, J.pairs, (size_t)merges * 2 * sizeof *pairs);
		if (score)
			*score = mudsc__match_mean(sum, merges);
	} else if (st != MUDSC_E_NOMEM) {
		mudsc__err_context(st, "%s (N = %lld, C = %lld, G = %lld, r = %g)", fn, (long long)N,
		                  (long long)C, (long long)G, o->r);
	}
	mudsc_free(J.unit_of);
	mudsc_free(J.pairs);
	return st;
}
