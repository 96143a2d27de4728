/*
 * The producer of a point's units: the tensors an affine change of the
 * units is folded into (docs/algorithm.md 14.2).
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "correct/correct.h"

#define MAX_OUT 16

/* name == stem + suffix */
static bool is_named(const char *name, const char *stem, size_t stem_len, const char *suffix)
{
	return strncmp(name, stem, stem_len) == 0 && strcmp(name + stem_len, suffix) == 0;
}

/* The index among outs of stem + suffix with the given rank rule, or -1. */
static int find_named(const char *const *outs, const int32_t *ranks, size_t n, const char *stem,
                      size_t stem_len, const char *suffix, int32_t rank)
{
	for (size_t k = 0; k < n; k++)
		if (is_named(outs[k], stem, stem_len, suffix) && ranks[k] == rank)
			return (int)k;
	return -1;
}

static size_t stem_of(const char *name, const char *suffix)
{
	size_t n = strlen(name), s = strlen(suffix);
	return n > s && strcmp(name + n - s, suffix) == 0 ? n - s : 0;
}

mudsc_status mudsc__producer_find(struct mudsc__producer *out, bool *found,
                                  const mudsc_graph *graph, size_t q, const mudsc_model *model,
                                  const char *fn)
{
	mudsc_point_info pi;
	mudsc_binding_info bi;
	const char *outs[MAX_OUT];
	int32_t ranks[MAX_OUT];
	size_t n = 0;
	mudsc_status st;

	*found = false;
	if ((st = mudsc_graph_point_at(&pi, graph, q)) != MUDSC_OK)
		return st;
	for (size_t k = 0; k < pi.binding_count; k++) {
		mudsc_tensor t;

		if ((st = mudsc_graph_binding_at(&bi, graph, q, k)) != MUDSC_OK)
			return st;
		if (bi.role != MUDSC_ROLE_OUT || (bi.flags & MUDSC_BIND_IGNORE))
			continue;
		if (bi.part != NULL || bi.axis != 0 || n == MAX_OUT)
			return MUDSC_OK; /* split parts, other axes, many producers: no rule */
		if (mudsc_model_find(&t, model, bi.tensor) != MUDSC_OK)
			return mudsc__err(MUDSC_E_NOT_FOUND, "%s: point '%s': tensor '%s' is not in "
			                                    "merged", fn, pi.name, bi.tensor);
		outs[n] = bi.tensor;
		ranks[n++] = t.rank;
	}
	/* a norm: exactly one module N with rank-1 N.weight and N.bias */
	int pairs = 0;
	for (size_t k = 0; k < n; k++) {
		size_t len = stem_of(outs[k], ".weight");
		int b;

		if (len == 0 || ranks[k] != 1)
			continue;
		if ((b = find_named(outs, ranks, n, outs[k], len, ".bias", 1)) < 0)
			continue;
		if (++pairs > 1)
			return MUDSC_OK;
		*out = (struct mudsc__producer){{outs[k], outs[b]}, 2, outs[b]};
	}
	if (pairs == 1) {
		*found = true;
		return MUDSC_OK;
	}
	/* a layer: X.weight (rank >= 2) and X.bias, nothing else */
	if (n != 2)
		return MUDSC_OK;
	for (size_t k = 0; k < 2; k++) {
		size_t len = stem_of(outs[k], ".weight");

		if (len == 0 || ranks[k] < 2 || !is_named(outs[1 - k], outs[k], len, ".bias") ||
		    ranks[1 - k] != 1)
			continue;
		*out = (struct mudsc__producer){{outs[k], outs[1 - k]}, 2, outs[1 - k]};
		*found = true;
	}
	return MUDSC_OK;
}

mudsc_status mudsc__correct_copy_start(mudsc_model **out, const mudsc_model *src)
{
	mudsc_model *dst;
	mudsc_status st;

	if ((st = mudsc_model_new(&dst)) != MUDSC_OK)
		return st;
	for (size_t k = 0; k < mudsc_model_meta_count(src) && st == MUDSC_OK; k++) {
		const char *key, *value;

		if ((st = mudsc_model_meta_at(&key, &value, src, k)) == MUDSC_OK)
			st = mudsc_model_set_meta(dst, key, value);
	}
	if (st != MUDSC_OK) {
		mudsc_model_free(dst);
		return st;
	}
	*out = dst;
	return MUDSC_OK;
}
