/*
 * A string -> index hash table (open addressing, FNV-1a) for name lookups
 * in models and graphs.  Keys are borrowed: the owner keeps them alive.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_STRMAP_H
#define MUDSC_STRMAP_H

#include <stddef.h>

#include "mudsc/common.h"

struct mudsc_strmap {
	const char **keys; /* NULL = empty slot */
	size_t *values;
	size_t capacity;   /* power of two, or 0 */
	size_t count;
};

void mudsc_strmap_init(struct mudsc_strmap *map);
void mudsc_strmap_clear(struct mudsc_strmap *map);
/* Insert key -> value; the key must not be present.  MUDSC_E_NOMEM on failure. */
mudsc_status mudsc_strmap_put(struct mudsc_strmap *map, const char *key, size_t value);
/* 1 and *value if key is present, else 0. */
int mudsc_strmap_get(const struct mudsc_strmap *map, const char *key, size_t *value);

#endif /* MUDSC_STRMAP_H */
