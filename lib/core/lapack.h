/*
 * The LAPACKE shim: every LAPACK call of the library goes through these.
 * Matrices are row-major with row stride ld.  Each returns 0 on success,
 * LAPACK's positive info when the factorisation or iteration fails (no
 * convergence, a matrix not positive definite), and -1 when a dimension
 * does not fit LAPACK's integer or an argument is invalid (a caller's bug:
 * callers check sizes and say which argument was wrong).
 *
 * Threads: LAPACK calls the process's BLAS, with that BLAS's own thread
 * setting; the handles' BLAS thread counts do not reach it.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_LAPACK_H
#define MUDSC_LAPACK_H

#include <stdint.h>

/* Eigenvalues (ascending, into d) and, when z is not NULL, orthonormal
 * eigenvectors (the columns of the n x n z) of the symmetric tridiagonal
 * matrix with diagonal d[0..n-1] and off-diagonal e[0..n-2]; e is
 * destroyed.  (dstev: the Golub-Welsch quadrature rules use it.) */
int mudsc__lapack_dstev(int64_t n, double *d, double *e, double *z, int64_t ldz);

/* Eigenvalues (ascending, into w[0..n-1]) and orthonormal eigenvectors
 * (the columns of a, overwritten) of the symmetric n x n matrix whose
 * upper triangle a holds (dsyevd, divide and conquer). */
int mudsc__lapack_dsyevd(int64_t n, double *a, int64_t lda, double *w);

/* The singular value decomposition a = u diag(s) vt of the m x n matrix a
 * (destroyed): s[0..min(m,n)-1] descending, u m x m and vt n x n
 * orthogonal (dgesdd, divide and conquer, every vector computed).  (The
 * CCA transforms of matcher/cca.c use it.) */
int mudsc__lapack_dgesdd(int64_t m, int64_t n, double *a, int64_t lda, double *s, double *u,
                         int64_t ldu, double *vt, int64_t ldvt);

/* Solve A X = B for the symmetric positive definite n x n A (its upper
 * triangle in a, overwritten by the Cholesky factor) and the n x nrhs
 * right-hand sides b (overwritten by X) (dposv).  A positive info: A is
 * not positive definite (the least-squares correction, lib/correct/lsq.c). */
int mudsc__lapack_dposv(int64_t n, int64_t nrhs, double *a, int64_t lda, double *b,
                        int64_t ldb);

#endif /* MUDSC_LAPACK_H */
