/*
 * The LAPACKE shim's calls (lapack.h), row-major through LAPACKE.
 *
 * SPDX-License-Identifier: MIT
 */
#include "core/lapack.h"

#include <lapacke.h>

/* Whether every dimension fits lapack_int (32 bits in Debian's LAPACKE). */
static int fits(int64_t n, int64_t ld)
{
	return n >= 0 && ld >= (n > 1 ? n : 1) && ld <= (int64_t)INT32_MAX;
}

static int info_of(lapack_int info)
{
	return info < 0 ? -1 : (int)info;
}

int mudsc__lapack_dstev(int64_t n, double *d, double *e, double *z, int64_t ldz)
{
	if (!fits(n, z ? ldz : (n > 1 ? n : 1)) || d == NULL || (n > 1 && e == NULL))
		return -1;
	if (n == 0)
		return 0;
	return info_of(LAPACKE_dstev(LAPACK_ROW_MAJOR, z ? 'V' : 'N', (lapack_int)n, d, e, z,
	                             z ? (lapack_int)ldz : 1));
}

int mudsc__lapack_dsyevd(int64_t n, double *a, int64_t lda, double *w)
{
	if (!fits(n, lda) || a == NULL || w == NULL)
		return -1;
	if (n == 0)
		return 0;
	return info_of(LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)n, a,
	                              (lapack_int)lda, w));
}

int mudsc__lapack_dgesdd(int64_t m, int64_t n, double *a, int64_t lda, double *s, double *u,
                         int64_t ldu, double *vt, int64_t ldvt)
{
	if (!fits(m, ldu) || !fits(n, lda) || !fits(n, ldvt) ||
	    a == NULL || s == NULL || u == NULL || vt == NULL)
		return -1;
	if (m == 0 || n == 0)
		return 0;
	return info_of(LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'A', (lapack_int)m, (lapack_int)n, a,
	                              (lapack_int)lda, s, u, (lapack_int)ldu, vt,
	                              (lapack_int)ldvt));
}

int mudsc__lapack_dposv(int64_t n, int64_t nrhs, double *a, int64_t lda, double *b,
                        int64_t ldb)
{
	if (!fits(n, lda) || nrhs < 0 || ldb < (nrhs > 1 ? nrhs : 1) || ldb > (int64_t)INT32_MAX ||
	    a == NULL || b == NULL)
		return -1;
	if (n == 0 || nrhs == 0)
		return 0;
	return info_of(LAPACKE_dposv(LAPACK_ROW_MAJOR, 'U', (lapack_int)n, (lapack_int)nrhs, a,
	                             (lapack_int)lda, b, (lapack_int)ldb));
}
