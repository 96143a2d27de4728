/*
 * The dtype table: safetensors names and element sizes.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "core/core.h"

struct dtype_entry {
	const char *name;
	size_t size;
};

static const struct dtype_entry dtype_table[MUDSC_DTYPE_COUNT_] = {
	[MUDSC_DTYPE_BOOL] = {"BOOL", 1},       [MUDSC_DTYPE_U8] = {"U8", 1},
	[MUDSC_DTYPE_I8] = {"I8", 1},           [MUDSC_DTYPE_U16] = {"U16", 2},
	[MUDSC_DTYPE_I16] = {"I16", 2},         [MUDSC_DTYPE_U32] = {"U32", 4},
	[MUDSC_DTYPE_I32] = {"I32", 4},         [MUDSC_DTYPE_U64] = {"U64", 8},
	[MUDSC_DTYPE_I64] = {"I64", 8},         [MUDSC_DTYPE_F16] = {"F16", 2},
	[MUDSC_DTYPE_BF16] = {"BF16", 2},       [MUDSC_DTYPE_F32] = {"F32", 4},
	[MUDSC_DTYPE_F64] = {"F64", 8},         [MUDSC_DTYPE_F8_E4M3] = {"F8_E4M3", 1},
	[MUDSC_DTYPE_F8_E5M2] = {"F8_E5M2", 1}, [MUDSC_DTYPE_F8_E8M0] = {"F8_E8M0", 1},
};

static bool dtype_valid(mudsc_dtype dtype)
{
	return (int)dtype >= 0 && dtype < MUDSC_DTYPE_COUNT_;
}

MUDSC_API size_t mudsc_dtype_size(mudsc_dtype dtype)
{
	return dtype_valid(dtype) ? dtype_table[dtype].size : 0;
}

MUDSC_API const char *mudsc_dtype_name(mudsc_dtype dtype)
{
	return dtype_valid(dtype) ? dtype_table[dtype].name : NULL;
}

MUDSC_API mudsc_status mudsc_dtype_from_name(int32_t *out, const char *name)
{
	MUDSC__CHECK_NULL(out);
	MUDSC__CHECK_NULL(name);
	for (int32_t i = 0; i < MUDSC_DTYPE_COUNT_; i++) {
		if (strcmp(dtype_table[i].name, name) == 0) {
			*out = i;
			return MUDSC_OK;
		}
	}
	return mudsc__err(MUDSC_E_NOT_FOUND, "mudsc_dtype_from_name: unknown dtype '%s'", name);
}

MUDSC_API int mudsc_dtype_is_float(mudsc_dtype dtype)
{
	return dtype == MUDSC_DTYPE_F16 || dtype == MUDSC_DTYPE_BF16 || dtype == MUDSC_DTYPE_F32 ||
	       dtype == MUDSC_DTYPE_F64;
}
