/*
 * A string -> index hash table (open addressing, FNV-1a) for name lookups
 * in models and graphs.  Keys are borrowed: the owner keeps them alive.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_STRMAP_H
#define MUDSC_STRMAP_H

#include <stddef.h>
#include <stdint.h>

#include "mudsc/common.h"

/* One slot: the key's hash is kept beside it, so a probe compares strings
 * only on a full hash match and growing re-hashes no string (a header of
 * 1.5M names spent a third of its load in probes before). */
struct mudsc__strmap_slot {
	const char *key; /* NULL = empty slot */
	uint64_t hash;
	size_t value;
};

struct mudsc__strmap {
	struct mudsc__strmap_slot *slots;
	size_t capacity; /* power of two, or 0 */
	size_t count;
};

void mudsc__strmap_init(struct mudsc__strmap *map);
void mudsc__strmap_clear(struct mudsc__strmap *map);
/* Insert key -> value; the key must not be present.  MUDSC_E_NOMEM on failure. */
mudsc_status mudsc__strmap_put(struct mudsc__strmap *map, const char *key, size_t value);
/* 1 and *value if key is present, else 0. */
int mudsc__strmap_get(const struct mudsc__strmap *map, const char *key, size_t *value);

#endif /* MUDSC_STRMAP_H */
