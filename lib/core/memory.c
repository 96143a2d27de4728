/*
 * Allocation helpers that record MUDSC_E_NOMEM, and checked shape sizes.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/core.h"

void *mudsc__alloc(size_t size, const char *what)
{
	void *p = malloc(size ? size : 1);
	if (p == NULL)
		mudsc__err(MUDSC_E_NOMEM, "out of memory allocating %zu bytes for %s", size, what);
	return p;
}

void *mudsc__alloc_big(size_t size, const char *what)
{
	const size_t huge = (size_t)2 << 20;
	void *p = NULL;

	if (size < 2 * huge)
		return mudsc__alloc(size, what);
	if (posix_memalign(&p, huge, size) != 0) {
		mudsc__err(MUDSC_E_NOMEM, "out of memory allocating %zu bytes for %s", size, what);
		return NULL;
	}
#ifdef MADV_HUGEPAGE
	(void)madvise(p, size - size % huge, MADV_HUGEPAGE); /* advice only: may fail */
#endif
	return p;
}

void *mudsc__calloc(size_t count, size_t size, const char *what)
{
	void *p = calloc(count ? count : 1, size ? size : 1);
	if (p == NULL)
		mudsc__err(MUDSC_E_NOMEM, "out of memory allocating %zu x %zu bytes for %s", count, size,
		          what);
	return p;
}

void *mudsc__realloc_array(void *ptr, size_t count, size_t size, const char *what)
{
	size_t bytes;
	void *p;

	if (!mudsc__mul_size(count, size, &bytes)) {
		mudsc__err(MUDSC_E_NOMEM, "size overflow growing %s to %zu elements", what, count);
		return NULL;
	}
	p = realloc(ptr, bytes ? bytes : 1);
	if (p == NULL)
		mudsc__err(MUDSC_E_NOMEM, "out of memory growing %s to %zu bytes", what, bytes);
	return p;
}

char *mudsc__strdup(const char *s, const char *what)
{
	size_t n = strlen(s) + 1;
	char *p = mudsc__alloc(n, what);
	if (p != NULL)
		memcpy(p, s, n);
	return p;
}

mudsc_status mudsc__reserve_one(void **array, size_t *capacity, size_t count, size_t elem_size,
                               const char *what)
{
	size_t cap;
	void *grown;

	if (count < *capacity)
		return MUDSC_OK;
	cap = *capacity ? 2 * *capacity : 8;
	grown = mudsc__realloc_array(*array, cap, elem_size, what);
	if (grown == NULL)
		return MUDSC_E_NOMEM;
	*array = grown;
	*capacity = cap;
	return MUDSC_OK;
}

MUDSC_API void mudsc_free(void *ptr)
{
	free(ptr);
}

bool mudsc__shape_numel(int32_t rank, const int64_t *shape, size_t *out)
{
	size_t n = 1;

	for (int32_t i = 0; i < rank; i++) {
		if (shape[i] < 0 || (uint64_t)shape[i] > SIZE_MAX)
			return false;
		if (!mudsc__mul_size(n, (size_t)shape[i], &n))
			return false;
	}
	*out = n;
	return true;
}
