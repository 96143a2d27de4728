/*
 * The BLAS shim's calls (blas.h): the typed expert interface with a
 * per-call rntm_t for BLIS, CBLAS for OpenBLAS.  syrk and gemm are written once for
 * both element types (p = d or s, T = double or float), as BLIS writes its
 * typed API.
 *
 * SPDX-License-Identifier: MIT
 */
#include "core/blas_vendor.h"
#include "core/core.h"

#define SYRK_SIGNATURE(p, T)                                                                     \
	void mudsc__blas_##p##syrk(const struct mudsc__exec *ex, bool trans, int64_t n, int64_t k,    \
	                           T alpha, const T *A, int64_t lda, T beta, T *C, int64_t ldc)

#define GEMM_SIGNATURE(p, T)                                                                     \
	void mudsc__blas_##p##gemm(const struct mudsc__exec *ex, bool trans_a, bool trans_b,          \
	                           int64_t m, int64_t n, int64_t k, T alpha, const T *A, int64_t lda, \
	                           const T *B, int64_t ldb, T beta, T *C, int64_t ldc)

#if defined(MUDSC_BLAS_BLIS)

/* The runtime object of one call: a fresh rntm_t with the context's count
 * (BLIS copies it; nothing is shared between calls or threads), or NULL for
 * BLIS's process-wide setting. */
static rntm_t *call_rntm(rntm_t *r, const struct mudsc__exec *ex)
{
	if (ex->blas < 1)
		return NULL;
	bli_rntm_init(r);
	bli_rntm_set_num_threads(ex->blas, r);
	return r;
}

static trans_t blis_trans(bool trans)
{
	return trans ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE;
}

/* BLIS's typed API takes strides of the stored matrices (row-major: row
 * stride ld, column stride 1) and non-const inputs it does not write. */
#define SYRK(p, T)                                                                               \
	SYRK_SIGNATURE(p, T)                                                                         \
	{                                                                                            \
		rntm_t r;                                                                                \
		bli_##p##syrk_ex(BLIS_UPPER, blis_trans(trans), n, k, &alpha, (T *)A, lda, 1, &beta, C,  \
		                 ldc, 1, NULL, call_rntm(&r, ex));                                       \
	}

#define GEMM(p, T)                                                                               \
	GEMM_SIGNATURE(p, T)                                                                         \
	{                                                                                            \
		rntm_t r;                                                                                \
		bli_##p##gemm_ex(blis_trans(trans_a), blis_trans(trans_b), m, n, k, &alpha, (T *)A, lda, \
		                 1, (T *)B, ldb, 1, &beta, C, ldc, 1, NULL, call_rntm(&r, ex));          \
	}

#else /* OpenBLAS: one process-wide thread count, which the shim leaves alone */

static enum CBLAS_TRANSPOSE cblas_trans(bool trans)
{
	return trans ? CblasTrans : CblasNoTrans;
}

#define SYRK(p, T)                                                                               \
	SYRK_SIGNATURE(p, T)                                                                         \
	{                                                                                            \
		(void)ex;                                                                                \
		cblas_##p##syrk(CblasRowMajor, CblasUpper, cblas_trans(trans), (int)n, (int)k, alpha, A, \
		                (int)lda, beta, C, (int)ldc);                                            \
	}

#define GEMM(p, T)                                                                               \
	GEMM_SIGNATURE(p, T)                                                                         \
	{                                                                                            \
		(void)ex;                                                                                \
		cblas_##p##gemm(CblasRowMajor, cblas_trans(trans_a), cblas_trans(trans_b), (int)m,       \
		                (int)n, (int)k, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);     \
	}

#endif

SYRK(d, double)
SYRK(s, float)
GEMM(d, double)
GEMM(s, float)
