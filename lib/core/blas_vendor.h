/*
 * The linked BLAS's own headers (OpenBLAS by default, BLIS with
 * -Dblas=blis).  Only the shim includes this: blas.c (the calls) and
 * blas_info.c (name and process-wide thread count).  Everything else calls
 * the shim of blas.h and never knows which BLAS it is.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_BLAS_VENDOR_H
#define MUDSC_BLAS_VENDOR_H

#if defined(MUDSC_BLAS_BLIS)
/* meson adds BLIS's folder with -isystem: its headers trip our warnings */
#include <blis.h>
#include <cblas.h>
#else
#include <cblas.h>
#endif

#endif /* MUDSC_BLAS_VENDOR_H */
