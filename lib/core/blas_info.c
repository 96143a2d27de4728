/*
 * Which BLAS is linked and how many threads it uses.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>

#include "core/blas_vendor.h"
#include "core/core.h"


MUDSC_API const char *mudsc_blas_info(void)
{
	static _Thread_local char info[256];
#if defined(MUDSC_BLAS_BLIS)
	snprintf(info, sizeof info, "BLIS %s", bli_info_get_version_str());
#else
	/* openblas_get_config() already starts with "OpenBLAS <version>" */
	snprintf(info, sizeof info, "%s", openblas_get_config());
#endif
	return info;
}

MUDSC_API int mudsc_blas_get_threads(void)
{
#if defined(MUDSC_BLAS_BLIS)
	/* -1 means "not set": BLIS then runs single-threaded unless its
	 * environment variables say otherwise */
	int n = (int)bli_thread_get_num_threads();
	return n < 1 ? 1 : n;
#else
	return openblas_get_num_threads();
#endif
}

MUDSC_API mudsc_status mudsc_blas_set_threads(int n)
{
	if (n < 1)
		return mudsc__err(MUDSC_E_INVALID, "mudsc_blas_set_threads: n = %d, must be >= 1", n);
#if defined(MUDSC_BLAS_BLIS)
	bli_thread_set_num_threads(n);
#else
	openblas_set_num_threads(n);
#endif
	return MUDSC_OK;
}
