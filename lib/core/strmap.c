/*
 * String -> index hash table (see strmap.h).  Deletion is done by the
 * owner rebuilding the table, which keeps probing simple (no tombstones).
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/strmap.h"

static uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

void mudsc__strmap_init(struct mudsc__strmap *map)
{
	memset(map, 0, sizeof *map);
}

void mudsc__strmap_clear(struct mudsc__strmap *map)
{
	free(map->keys);
	free(map->values);
	mudsc__strmap_init(map);
}

static void insert_slot(const char **keys, size_t *values, size_t cap, const char *key, size_t value)
{
	size_t i = (size_t)hash_str(key) & (cap - 1);
	while (keys[i] != NULL)
		i = (i + 1) & (cap - 1);
	keys[i] = key;
	values[i] = value;
}

static mudsc_status grow(struct mudsc__strmap *map)
{
	size_t cap = map->capacity ? map->capacity * 2 : 16;
	const char **keys = mudsc__calloc(cap, sizeof *keys, "name table");
	size_t *values = mudsc__calloc(cap, sizeof *values, "name table");

	if (keys == NULL || values == NULL) {
		free(keys);
		free(values);
		return MUDSC_E_NOMEM;
	}
	for (size_t i = 0; i < map->capacity; i++)
		if (map->keys[i] != NULL)
			insert_slot(keys, values, cap, map->keys[i], map->values[i]);
	free(map->keys);
	free(map->values);
	map->keys = keys;
	map->values = values;
	map->capacity = cap;
	return MUDSC_OK;
}

mudsc_status mudsc__strmap_put(struct mudsc__strmap *map, const char *key, size_t value)
{
	/* keep the load factor at most 1/2 */
	if (2 * (map->count + 1) > map->capacity) {
		mudsc_status st = grow(map);
		if (st != MUDSC_OK)
			return st;
	}
	insert_slot(map->keys, map->values, map->capacity, key, value);
	map->count++;
	return MUDSC_OK;
}

int mudsc__strmap_get(const struct mudsc__strmap *map, const char *key, size_t *value)
{
	if (map->capacity == 0)
		return 0;
	for (size_t i = (size_t)hash_str(key) & (map->capacity - 1); map->keys[i] != NULL;
	     i = (i + 1) & (map->capacity - 1)) {
		if (strcmp(map->keys[i], key) == 0) {
			if (value != NULL)
				*value = map->values[i];
			return 1;
		}
	}
	return 0;
}
