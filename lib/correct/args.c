/*
 * Argument checks that REPAIR (repair.c) and the least-squares correction
 * (lsq.c) share, so that their calls refuse the same input with the same
 * message.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>

#include "correct/correct.h"

mudsc_status mudsc__correct_check_weights(const double *weights, int32_t n, const char *fn)
{
	for (int32_t i = 0; weights && i < n; i++)
		if (!isfinite(weights[i]))
			return mudsc__err(MUDSC_E_INVALID, "%s: weights[%d] = %g is not finite", fn, (int)i,
			                 weights[i]);
	return MUDSC_OK;
}
