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

struct mudsc__strmap {
	const char **keys; /* NULL = empty slot */
	size_t *values;
	size_t capacity;   /* power of two, or 0 */
	size_t count;
};

void mudsc__strmap_init(struct mudsc__strmap *map);
void mudsc__strmap_clear(struct mudsc__strmap *map);
/* Insert key -> value; the key must not be present.  MUDSC_E_NOMEM on failure. */
mudsc_status mudsc__strmap_put(struct mudsc__strmap *map, const char *key, size_t value);
/* 1 and *value if key is present, else 0. */
int mudsc__strmap_get(const struct mudsc__strmap *map, const char *key, size_t *value);

#endif /* MUDSC_STRMAP_H */
