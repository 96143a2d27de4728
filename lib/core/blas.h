/*
 * The BLAS shim: every BLAS call of the library goes through these, with
 * the calling handle's execution context.  Matrices are row-major with row
 * strides lda, ldb, ldc; dimensions must fit in int (callers check).
 *
 * Threads: with BLIS each call gets ex->blas threads through its own
 * rntm_t and the typed _ex entry points (or BLIS's process-wide setting
 * when ex->blas is 0), so handles on different threads each get their own
 * count; with OpenBLAS the count is process-wide (mudsc_set_blas_threads())
 * and the shim never changes it.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_BLAS_H
#define MUDSC_BLAS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/exec.h"

/* The upper triangle of C (n x n) = alpha op(A) op(A)' + beta C, op(A)
 * n x k: A is n x k (trans false) or k x n (trans true). */
void mudsc__blas_dsyrk(const struct mudsc__exec *ex, bool trans, int64_t n, int64_t k,
                       double alpha, const double *A, int64_t lda, double beta, double *C,
                       int64_t ldc);
void mudsc__blas_ssyrk(const struct mudsc__exec *ex, bool trans, int64_t n, int64_t k,
                       float alpha, const float *A, int64_t lda, float beta, float *C,
                       int64_t ldc);

/* C (m x n) = alpha op(A) op(B) + beta C, op(A) m x k, op(B) k x n
 * (A stored k x m when trans_a, B stored n x k when trans_b). */
void mudsc__blas_dgemm(const struct mudsc__exec *ex, bool trans_a, bool trans_b, int64_t m,
                       int64_t n, int64_t k, double alpha, const double *A, int64_t lda,
                       const double *B, int64_t ldb, double beta, double *C, int64_t ldc);
void mudsc__blas_sgemm(const struct mudsc__exec *ex, bool trans_a, bool trans_b, int64_t m,
                       int64_t n, int64_t k, float alpha, const float *A, int64_t lda,
                       const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

#endif /* MUDSC_BLAS_H */
