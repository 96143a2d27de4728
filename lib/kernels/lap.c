/*
 * Dense linear assignment (maximising), exact.
 *
 * Jonker-Volgenant: column reduction, reduction transfer, two rounds of
 * augmenting row reduction, then one shortest augmenting path (Dijkstra on
 * reduced costs) per row still free.  The solver minimises the cost
 * c(i, j) = -S[i, j]; -inf similarities are +inf costs (forbidden pairs).
 * Column duals v are always finite: a column without a finite entry is
 * rejected up front, and only scanned (finite-distance) columns move.
 * The row scans of phases 2 and 3 are screened two columns at a time with
 * SSE2 where available (eight with AVX-512, else four with AVX2, and the
 * column reduction's minima as wide, where the CPU has it); every decision
 * is still taken by the same sequential scalar comparisons, so results do
 * not depend on the path.
 * Ties between optimal assignments are resolved deterministically (by the
 * order of the scans), not by any documented rule.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <string.h>

#if defined(__SSE2__) && !defined(MUDSC_LAP_SCALAR) /* the latter: test the plain path */
#include <emmintrin.h>
#define LAP_SSE2 1
#else
#define LAP_SSE2 0
#endif

/* AVX-512 screens eight columns at a time, AVX2 four, where the CPU has
 * it (asked at run time; the build targets baseline x86-64): the same
 * decisions. */
#if LAP_SSE2 && defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define LAP_AVX512 1
#define LAP_AVX2 1
#define AVX512_TARGET __attribute__((target("avx512f")))
#define AVX2_TARGET __attribute__((target("avx2")))
#else
#define LAP_AVX512 0
#define LAP_AVX2 0
#endif

#include "kernels/kernels.h"

typedef struct lap {
	const double *S; /* similarity, entry (i, j) at S[i*ld + j] */
	size_t ld;
	int64_t n;
	int64_t *x;    /* column of row, -1 if free */
	int64_t *y;    /* row of column, -1 if free */
	double *v;     /* column duals of the minimisation */
	double *d;     /* phase 3: distance of each column */
	double *dt;    /* phase 3: d while the column is tentative, else +inf */
	bool *tent;    /* phase 3: column still tentative */
	int64_t *pred; /* predecessor row of each column on its path */
	int64_t *cols; /* phase 3: scanned columns, then those waiting at the minimum */
	int64_t *free_rows;
	int64_t nfree;
	int width; /* columns per screen: 8 (AVX-512), 4 (AVX2) or 2 (SSE2 or none) */
} lap;

int mudsc__lap_width = 8;

int mudsc__lap_widest(void)
{
#if LAP_AVX512
	if (mudsc__cpu_has(MUDSC__CPU_AVX512F))
		return 8;
#endif
#if LAP_AVX2
	if (mudsc__cpu_has(MUDSC__CPU_AVX2))
		return 4;
#endif
	return 2;
}

/* The screens' width: the widest this CPU has, at most mudsc__lap_width. */
static int lap_width(void)
{
	int w = mudsc__lap_widest();
	return w < mudsc__lap_width ? w : mudsc__lap_width;
}

static inline const double *row_of(const lap *L, int64_t i)
{
	return L->S + (size_t)i * L->ld;
}

static mudsc_status infeasible(const char *what, int64_t k)
{
	return mudsc__err(MUDSC_E_NUMERIC,
	                 "lap: no assignment avoids every -inf entry (%s %lld has no finite "
	                 "completion)", what, (long long)k);
}

/* v[j] = min_i c(i, j), scanning rows so memory is read in order; the
 * argmin row takes column j unless it already has one (columns are visited
 * from the last, as JV do).  count[i] = number of columns whose minimum
 * row i is. */
#if LAP_AVX512
/* -s[0..7], the sign flipped as a bit (as the scalar negation does). */
AVX512_TARGET static inline __m512d neg8(const double *s)
{
	__m512i sign = _mm512_set1_epi64((long long)0x8000000000000000ULL);
	return _mm512_castsi512_pd(_mm512_xor_si512(_mm512_castpd_si512(_mm512_loadu_pd(s)), sign));
}

/* column_reduction's minima for the columns [0, n8) (n8 = n rounded down
 * to a multiple of eight), eight columns at a time: each column's own
 * comparisons, rows in increasing order (-S as a sign-bit flip, as the
 * negation does). */
AVX512_TARGET static int64_t column_min8(lap *L, int64_t *argmin)
{
	int64_t n8 = L->n - L->n % 8;
	for (int64_t i = 0; i < L->n; i++) {
		const double *s = row_of(L, i);
		__m512i row = _mm512_set1_epi64((long long)i);
		for (int64_t j = 0; j < n8; j += 8) {
			__m512d c = neg8(s + j);
			__m512d v = _mm512_loadu_pd(L->v + j);
			__mmask8 lt = _mm512_cmp_pd_mask(c, v, _CMP_LT_OQ);
			_mm512_storeu_pd(L->v + j, _mm512_mask_blend_pd(lt, v, c));
			_mm512_mask_storeu_epi64(argmin + j, lt, row);
		}
	}
	return n8;
}
#endif

#if LAP_AVX2
/* -s[0..3], the sign flipped as a bit. */
AVX2_TARGET static inline __m256d neg4(const double *s)
{
	return _mm256_xor_pd(_mm256_loadu_pd(s), _mm256_set1_pd(-0.0));
}

/* column_min8 four columns at a time, over [0, n4). */
AVX2_TARGET static int64_t column_min4(lap *L, int64_t *argmin)
{
	int64_t n4 = L->n - L->n % 4;
	for (int64_t i = 0; i < L->n; i++) {
		const double *s = row_of(L, i);
		__m256i row = _mm256_set1_epi64x((long long)i);
		for (int64_t j = 0; j < n4; j += 4) {
			__m256d c = neg4(s + j);
			__m256d v = _mm256_loadu_pd(L->v + j);
			__m256d lt = _mm256_cmp_pd(c, v, _CMP_LT_OQ);
			_mm256_storeu_pd(L->v + j, _mm256_blendv_pd(v, c, lt));
			_mm256_maskstore_epi64((long long *)(argmin + j), _mm256_castpd_si256(lt), row);
		}
	}
	return n4;
}
#endif

static mudsc_status column_reduction(lap *L, int64_t *argmin, int64_t *count)
{
	int64_t n = L->n, j0 = 0;
	for (int64_t j = 0; j < n; j++) {
		L->v[j] = INFINITY;
		argmin[j] = -1;
	}
#if LAP_AVX512
	if (L->width == 8)
		j0 = column_min8(L, argmin);
#endif
#if LAP_AVX2
	if (L->width == 4)
		j0 = column_min4(L, argmin);
#endif
	for (int64_t i = 0; i < n && j0 < n; i++) {
		const double *s = row_of(L, i);
		for (int64_t j = j0; j < n; j++) {
			double c = -s[j];
			if (c < L->v[j]) {
				L->v[j] = c;
				argmin[j] = i;
			}
		}
	}
	for (int64_t i = 0; i < n; i++) {
		L->x[i] = -1;
		count[i] = 0;
	}
	for (int64_t j = n - 1; j >= 0; j--) {
		if (argmin[j] < 0)
			return infeasible("column", j);
		int64_t i = argmin[j];
		count[i]++;
		if (L->x[i] < 0) {
			L->x[i] = j;
			L->y[j] = i;
		} else {
			L->y[j] = -1;
		}
	}
	return MUDSC_OK;
}

/* A row that owns exactly one column lowers that column's dual by its
 * slack to the second best column: the assignment stays tight and other
 * rows find the column less attractive, which saves augmentations. */
static void reduction_transfer(lap *L, const int64_t *count)
{
	int64_t n = L->n;
	L->nfree = 0;
	for (int64_t i = 0; i < n; i++) {
		if (L->x[i] < 0) {
			L->free_rows[L->nfree++] = i;
			continue;
		}
		if (count[i] != 1)
			continue;
		int64_t j1 = L->x[i];
		const double *s = row_of(L, i);
		double mu = INFINITY;
		for (int64_t j = 0; j < n; j++) {
			double h = -s[j] - L->v[j];
			if (j != j1 && h < mu)
				mu = h;
		}
		if (isfinite(mu))
			L->v[j1] -= mu;
	}
}

/* Reduced costs -S[i, j] - v[j] of two consecutive columns, computed
 * exactly as the scalar expression (negation, then two subtractions). */
#if LAP_SSE2
static inline __m128d reduced2(const double *s, const double *v, __m128d shift)
{
	__m128d neg = _mm_xor_pd(_mm_loadu_pd(s), _mm_set1_pd(-0.0));
	return _mm_sub_pd(_mm_sub_pd(neg, _mm_loadu_pd(v)), shift);
}
#endif

#if LAP_AVX512
/* reduced2 for eight consecutive columns. */
AVX512_TARGET static inline __m512d reduced8(const double *s, const double *v, __m512d shift)
{
	return _mm512_sub_pd(_mm512_sub_pd(neg8(s), _mm512_loadu_pd(v)), shift);
}
#endif

#if LAP_AVX2
/* reduced2 for four consecutive columns. */
AVX2_TARGET static inline __m256d reduced4(const double *s, const double *v, __m256d shift)
{
	return _mm256_sub_pd(_mm256_sub_pd(neg4(s), _mm256_loadu_pd(v)), shift);
}
#endif

/* Offer h (column j) to the running two smallest (a, ja) <= (b, jb). */
static inline void push_two(double h, int64_t j, double *a, int64_t *ja, double *b, int64_t *jb)
{
	if (h < *b) {
		if (h < *a) {
			*b = *a;
			*jb = *ja;
			*a = h;
			*ja = j;
		} else {
			*b = h;
			*jb = j;
		}
	}
}

/* Smallest and second smallest reduced cost of row i (first index on ties,
 * as one sequential scan with strict <).  The SSE2 path only tests two
 * columns at a time against the current second smallest and hands the rare
 * candidates to the same sequential update. */
#if LAP_AVX512
/* two_smallest's screen eight columns at a time over columns [*j, ...):
 * a column not below the second smallest at the start of its block is not
 * below it later (it only falls), and candidates go through push_two in
 * column order. */
AVX512_TARGET static void two_smallest8(const double *s, const double *v, int64_t n, int64_t *j,
                                        double *a, int64_t *ja, double *b, int64_t *jb)
{
	__m512d zero = _mm512_setzero_pd();
	for (; *j + 8 <= n; *j += 8) {
		__m512d h = reduced8(s + *j, v + *j, zero);
		if (_mm512_cmp_pd_mask(h, _mm512_set1_pd(*b), _CMP_LT_OQ)) {
			double hh[8];
			_mm512_storeu_pd(hh, h);
			for (int l = 0; l < 8; l++)
				push_two(hh[l], *j + l, a, ja, b, jb);
		}
	}
}
#endif

#if LAP_AVX2
/* two_smallest8 four columns at a time. */
AVX2_TARGET static void two_smallest4(const double *s, const double *v, int64_t n, int64_t *j,
                                      double *a, int64_t *ja, double *b, int64_t *jb)
{
	__m256d zero = _mm256_setzero_pd();
	for (; *j + 4 <= n; *j += 4) {
		__m256d h = reduced4(s + *j, v + *j, zero);
		if (_mm256_movemask_pd(_mm256_cmp_pd(h, _mm256_set1_pd(*b), _CMP_LT_OQ))) {
			double hh[4];
			_mm256_storeu_pd(hh, h);
			for (int l = 0; l < 4; l++)
				push_two(hh[l], *j + l, a, ja, b, jb);
		}
	}
}
#endif

static void two_smallest(const lap *L, int64_t i, double *u1, int64_t *j1, double *u2,
                         int64_t *j2)
{
	const double *s = row_of(L, i);
	const double *v = L->v;
	double a = INFINITY, b = INFINITY;
	int64_t ja = -1, jb = -1, j = 0, n = L->n;
#if LAP_AVX512
	if (L->width == 8)
		two_smallest8(s, v, n, &j, &a, &ja, &b, &jb);
#endif
#if LAP_AVX2
	if (L->width == 4)
		two_smallest4(s, v, n, &j, &a, &ja, &b, &jb);
#endif
#if LAP_SSE2
	__m128d zero = _mm_setzero_pd();
	for (; j + 2 <= n; j += 2) {
		__m128d h = reduced2(s + j, v + j, zero); /* x - 0 == x, also for -0 */
		if (_mm_movemask_pd(_mm_cmplt_pd(h, _mm_set1_pd(b)))) {
			double hh[2];
			_mm_storeu_pd(hh, h);
			push_two(hh[0], j, &a, &ja, &b, &jb);
			push_two(hh[1], j + 1, &a, &ja, &b, &jb);
		}
	}
#endif
	for (; j < n; j++)
		push_two(-s[j] - v[j], j, &a, &ja, &b, &jb);
	*u1 = a;
	*j1 = ja;
	*u2 = b;
	*j2 = jb;
}

/* One round of augmenting row reduction over the free rows.  A displaced
 * row is retried at once when the dual strictly dropped, else deferred to
 * the next round; the step cap only guards against floating-point cycling
 * (whatever is left free goes to the exact augmentation phase). */
static mudsc_status row_reduction(lap *L)
{
	int64_t *F = L->free_rows;
	int64_t prev = L->nfree, k = 0, nf = 0;
	int64_t steps = 0, cap = 8 * L->n + 16;
	while (k < prev) {
		if (steps++ > cap) {
			memmove(F + nf, F + k, (size_t)(prev - k) * sizeof *F);
			nf += prev - k;
			break;
		}
		int64_t i = F[k++];
		double u1, u2;
		int64_t j1, j2;
		two_smallest(L, i, &u1, &j1, &u2, &j2);
		if (!isfinite(u1))
			return infeasible("row", i);
		int64_t i0 = L->y[j1];
		bool dropped = false;
		if (u1 < u2) {
			if (isfinite(u2)) {
				L->v[j1] -= u2 - u1;
				dropped = true;
			}
		} else if (i0 >= 0) {
			j1 = j2;
			i0 = L->y[j2];
		}
		if (i0 >= 0) {
			L->x[i0] = -1;
			if (dropped)
				F[--k] = i0;
			else
				F[nf++] = i0;
		}
		L->x[i] = j1;
		L->y[j1] = i;
	}
	L->nfree = nf;
	return MUDSC_OK;
}

/* Phase 3 reads every scanned row in column order (sequential, so the
 * hardware prefetcher streams it even when S is far larger than the
 * cache) rather than only its tentative columns in a scrambled order.
 * d[j] is the tentative distance of column j; dt[j] is d[j] while j is
 * tentative and +inf once it waits or is scanned, so the minimum search is
 * a plain pass.  A scanned or waiting column cannot improve mathematically
 * (reduced costs are >= 0); the flag guards against rounding. */

/* Smallest dt (four accumulators: no long dependency chain). */
static double min_tentative(const double *dt, int64_t n)
{
	double m[4] = {INFINITY, INFINITY, INFINITY, INFINITY};
	int64_t j = 0;
	for (; j + 4 <= n; j += 4)
		for (int l = 0; l < 4; l++)
			m[l] = dt[j + l] < m[l] ? dt[j + l] : m[l];
	for (; j < n; j++)
		m[0] = dt[j] < m[0] ? dt[j] : m[0];
	double r = m[0];
	for (int l = 1; l < 4; l++)
		r = m[l] < r ? m[l] : r;
	return r;
}

/* Column j leaves the tentative set for the waiting list; returns j if it
 * is free (the path ends there), else -1. */
static int64_t enqueue(lap *L, int64_t j, int64_t *up)
{
	L->tent[j] = false;
	L->dt[j] = INFINITY;
	L->cols[(*up)++] = j;
	return L->y[j] < 0 ? j : -1;
}

/* Column j at distance h through row i: true if it is free and reached at
 * dmin (the path ends there). */
static inline bool relax(lap *L, int64_t j, double h, int64_t i, double dmin, int64_t *up)
{
	if (h < L->d[j] && L->tent[j]) {
		L->d[j] = L->dt[j] = h;
		L->pred[j] = i;
		if (h == dmin && enqueue(L, j, up) >= 0)
			return true;
	}
	return false;
}

/* Relax every tentative column through row i, reached by column j1 at
 * distance dmin.  Columns reaching dmin join the waiting list; returns a
 * free one reached at dmin (the path's end), else -1. */
#if LAP_AVX512
/* scan_row's screen eight columns at a time over columns [*j, ...): a
 * relaxation changes only its own column, so the block's screen against d
 * stays valid while its candidates are relaxed in column order. */
AVX512_TARGET static int64_t scan_row8(lap *L, const double *si, double u1, int64_t i,
                                       double dmin, int64_t *up, int64_t *j)
{
	const double *v = L->v;
	__m512d vu = _mm512_set1_pd(u1);
	for (; *j + 8 <= L->n; *j += 8) {
		__m512d h = reduced8(si + *j, v + *j, vu);
		if (MUDSC__UNLIKELY(_mm512_cmp_pd_mask(h, _mm512_loadu_pd(L->d + *j), _CMP_LT_OQ))) {
			double hh[8];
			_mm512_storeu_pd(hh, h);
			for (int l = 0; l < 8; l++)
				if (relax(L, *j + l, hh[l], i, dmin, up))
					return *j + l;
		}
	}
	return -1;
}
#endif

#if LAP_AVX2
/* scan_row8 four columns at a time. */
AVX2_TARGET static int64_t scan_row4(lap *L, const double *si, double u1, int64_t i,
                                     double dmin, int64_t *up, int64_t *j)
{
	const double *v = L->v;
	__m256d vu = _mm256_set1_pd(u1);
	for (; *j + 4 <= L->n; *j += 4) {
		__m256d h = reduced4(si + *j, v + *j, vu);
		__m256d lt = _mm256_cmp_pd(h, _mm256_loadu_pd(L->d + *j), _CMP_LT_OQ);
		if (MUDSC__UNLIKELY(_mm256_movemask_pd(lt))) {
			double hh[4];
			_mm256_storeu_pd(hh, h);
			for (int l = 0; l < 4; l++)
				if (relax(L, *j + l, hh[l], i, dmin, up))
					return *j + l;
		}
	}
	return -1;
}
#endif

static int64_t scan_row(lap *L, int64_t i, int64_t j1, double dmin, int64_t *up)
{
	const double *si = row_of(L, i), *v = L->v;
	double *d = L->d;
	double u1 = -si[j1] - v[j1] - dmin;
	int64_t j = 0, n = L->n;
#if LAP_AVX512
	if (L->width == 8) {
		int64_t end = scan_row8(L, si, u1, i, dmin, up, &j);
		if (end >= 0)
			return end;
	}
#endif
#if LAP_AVX2
	if (L->width == 4) {
		int64_t end = scan_row4(L, si, u1, i, dmin, up, &j);
		if (end >= 0)
			return end;
	}
#endif
#if LAP_SSE2
	__m128d vu = _mm_set1_pd(u1);
	for (; j + 2 <= n; j += 2) {
		__m128d h = reduced2(si + j, v + j, vu);
		if (MUDSC__UNLIKELY(_mm_movemask_pd(_mm_cmplt_pd(h, _mm_loadu_pd(d + j))))) {
			double hh[2];
			_mm_storeu_pd(hh, h);
			for (int l = 0; l < 2; l++)
				if (relax(L, j + l, hh[l], i, dmin, up))
					return j + l;
		}
	}
#endif
	for (; j < n; j++)
		if (relax(L, j, -si[j] - v[j] - u1, i, dmin, up))
			return j;
	return -1;
}

/* Shortest augmenting path from free row f (Dijkstra on reduced costs),
 * then dual update and augmentation.  cols[0..low) are scanned columns,
 * cols[low..up) wait at the current minimum distance. */
static mudsc_status augment(lap *L, int64_t f)
{
	int64_t n = L->n, *cols = L->cols, *y = L->y;
	const double *s = row_of(L, f);
	for (int64_t j = 0; j < n; j++) {
		L->d[j] = L->dt[j] = -s[j] - L->v[j];
		L->pred[j] = f;
		L->tent[j] = true;
	}
	int64_t low = 0, up = 0, end = -1;
	double dmin = 0;
	while (end < 0) {
		if (low == up) {
			dmin = min_tentative(L->dt, n);
			if (!isfinite(dmin))
				return infeasible("row", f);
			for (int64_t j = 0; j < n && end < 0; j++)
				if (L->dt[j] == dmin)
					end = enqueue(L, j, &up);
			if (end >= 0)
				break;
		}
		int64_t j1 = cols[low++];
		end = scan_row(L, y[j1], j1, dmin, &up);
	}
	for (int64_t k = 0; k < low; k++)
		L->v[cols[k]] += L->d[cols[k]] - dmin;
	for (int64_t j = end;;) {
		int64_t i = L->pred[j];
		y[j] = i;
		int64_t next = L->x[i];
		L->x[i] = j;
		if (i == f)
			break;
		j = next;
	}
	return MUDSC_OK;
}

static mudsc_status solve(lap *L)
{
	/* argmin and count borrow pred and cols: both are free until phase 3. */
	int64_t *argmin = L->pred, *count = L->cols;
	mudsc_status st = column_reduction(L, argmin, count);
	if (st != MUDSC_OK)
		return st;
	reduction_transfer(L, count);
	for (int round = 0; round < 2 && L->nfree > 0; round++)
		if ((st = row_reduction(L)) != MUDSC_OK)
			return st;
	for (int64_t k = 0; k < L->nfree; k++)
		if ((st = augment(L, L->free_rows[k])) != MUDSC_OK)
			return st;
	return MUDSC_OK;
}

mudsc_status mudsc__lap_core(int64_t *x, const double *S, size_t ld, int64_t n)
{
	if (n == 0)
		return MUDSC_OK;
	size_t un = (size_t)n, bytes;
	if (!mudsc__mul_size(un, 5 * sizeof(int64_t) + 3 * sizeof(double) + sizeof(bool), &bytes))
		return mudsc__err(MUDSC_E_NOMEM, "lap: workspace for n = %lld overflows",
		                 (long long)n);
	char *mem = mudsc__alloc(bytes, "lap workspace");
	if (!mem)
		return MUDSC_E_NOMEM;
	lap L = {.S = S, .ld = ld, .n = n, .width = lap_width()};
	L.v = (double *)mem;
	L.d = L.v + un;
	L.dt = L.d + un;
	L.x = (int64_t *)(L.dt + un);
	L.y = L.x + un;
	L.pred = L.y + un;
	L.cols = L.pred + un;
	L.free_rows = L.cols + un;
	L.tent = (bool *)(L.free_rows + un);
	mudsc_status st = solve(&L);
	if (st == MUDSC_OK)
		memcpy(x, L.x, un * sizeof *x);
	mudsc_free(mem);
	return st;
}

mudsc_status mudsc__match_check_entries(const char *fn, const double *S, int64_t rows,
                                       int64_t cols)
{
	for (int64_t i = 0; i < rows; i++) {
		const double *s = S + (size_t)i * (size_t)cols;
		for (int64_t j = 0; j < cols; j++)
			if (MUDSC__UNLIKELY(isnan(s[j]) || s[j] == INFINITY))
				return mudsc__err(MUDSC_E_NUMERIC,
				                 "%s: argument 'S' has a non-finite entry S[%lld, %lld] = %g "
				                 "(only -inf is allowed)",
				                 fn, (long long)i, (long long)j, s[j]);
	}
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_lap_solve(int64_t *col_of_row, double *objective, const double *S,
                                       int64_t n)
{
	MUDSC__CHECK_NULL(col_of_row);
	if (n < 0)
		return mudsc__err(MUDSC_E_INVALID, "mudsc_lap_solve: argument 'n' = %lld is negative",
		                 (long long)n);
	if (n > 0 && S == NULL)
		return mudsc__err(MUDSC_E_INVALID, "mudsc_lap_solve: argument 'S' is NULL (n = %lld)",
		                 (long long)n);
	size_t nn;
	if (!mudsc__mul_size((size_t)n, (size_t)n, &nn) || !mudsc__mul_size(nn, sizeof(double), &nn))
		return mudsc__err(MUDSC_E_INVALID, "mudsc_lap_solve: argument 'n' = %lld is too large",
		                 (long long)n);
	mudsc_status st = mudsc__match_check_entries("mudsc_lap_solve", S, n, n);
	if (st != MUDSC_OK)
		return st;
	int64_t *x = n > 0 ? mudsc__alloc((size_t)n * sizeof *x, "lap result") : NULL;
	if (n > 0 && !x)
		return MUDSC_E_NOMEM;
	st = mudsc__lap_core(x, S, (size_t)n, n);
	if (st == MUDSC_OK) {
		double sum = 0;
		for (int64_t i = 0; i < n; i++)
			sum += S[(size_t)i * (size_t)n + (size_t)x[i]];
		if (n > 0)
			memcpy(col_of_row, x, (size_t)n * sizeof *x);
		if (objective)
			*objective = sum;
	}
	mudsc_free(x);
	return st;
}
