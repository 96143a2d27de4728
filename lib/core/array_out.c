/*
 * The sizing rule of every public array getter (include/mudsc/common.h),
 * written once.
 *
 * SPDX-License-Identifier: MIT
 */
#include "core/core.h"

mudsc_status mudsc__array_out(bool *fill, const void *out, size_t capacity, size_t *needed,
                             size_t count, const char *fn)
{
	*fill = false;
	if (needed != NULL)
		*needed = count;
	if (capacity == 0)
		return MUDSC_OK; /* the caller asks for the size only */
	if (out == NULL)
		return mudsc__err(MUDSC_E_INVALID, "%s: argument 'out' is NULL with capacity %zu", fn,
		                 capacity);
	if (capacity < count)
		return mudsc__err(MUDSC_E_RANGE, "%s: argument 'capacity' = %zu, need %zu elements", fn,
		                 capacity, count);
	*fill = true;
	return MUDSC_OK;
}
