/*
 * The BLAS shim: the one place that knows which CBLAS is linked
 * (OpenBLAS by default, BLIS with -Dblas=blis).  Modules include this
 * instead of <cblas.h>.  blasint never leaves the library.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_BLAS_H
#define MUDSC_BLAS_H

#if defined(MUDSC_BLAS_BLIS)
/* meson adds BLIS's folder with -isystem: its headers trip our warnings */
#include <blis.h>
#include <cblas.h>
#else
#include <cblas.h>
#endif

#endif /* MUDSC_BLAS_H */
