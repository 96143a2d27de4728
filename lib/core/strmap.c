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
	uint64_t h = MUDSC__FNV1A_BASIS;
	for (; *s; s++)
		h = mudsc__fnv1a_step(h, (unsigned char)*s);
	return h;
}

void mudsc__strmap_init(struct mudsc__strmap *map)
{
	memset(map, 0, sizeof *map);
}

void mudsc__strmap_clear(struct mudsc__strmap *map)
{
	free(map->slots);
	mudsc__strmap_init(map);
}

static void insert_slot(struct mudsc__strmap_slot *slots, size_t cap, const char *key,
                        uint64_t hash, size_t value)
{
	size_t i = (size_t)hash & (cap - 1);
	while (slots[i].key != NULL)
		i = (i + 1) & (cap - 1);
	slots[i].key = key;
	slots[i].hash = hash;
	slots[i].value = value;
}

static mudsc_status grow(struct mudsc__strmap *map)
{
	size_t cap = map->capacity ? map->capacity * 2 : 16;
	struct mudsc__strmap_slot *slots = mudsc__calloc(cap, sizeof *slots, "name table");

	if (slots == NULL)
		return MUDSC_E_NOMEM;
	for (size_t i = 0; i < map->capacity; i++)
		if (map->slots[i].key != NULL)
			insert_slot(slots, cap, map->slots[i].key, map->slots[i].hash, map->slots[i].value);
	free(map->slots);
	map->slots = slots;
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
	insert_slot(map->slots, map->capacity, key, hash_str(key), value);
	map->count++;
	return MUDSC_OK;
}

int mudsc__strmap_get(const struct mudsc__strmap *map, const char *key, size_t *value)
{
	uint64_t hash;

	if (map->capacity == 0)
		return 0;
	hash = hash_str(key);
	for (size_t i = (size_t)hash & (map->capacity - 1); map->slots[i].key != NULL;
	     i = (i + 1) & (map->capacity - 1)) {
		if (map->slots[i].hash == hash && strcmp(map->slots[i].key, key) == 0) {
			if (value != NULL)
				*value = map->slots[i].value;
			return 1;
		}
	}
	return 0;
}
