/*
 * The BLAS shim: the one place that knows which CBLAS is linked
 * (OpenBLAS by default, BLIS with -Dblas=blis).  Modules include this
 * instead of <cblas.h>.  blasint never leaves the library.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_BLAS_H
#define MUDSC_BLAS_H

#include <cblas.h>

#endif /* MUDSC_BLAS_H */
