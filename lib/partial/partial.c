/*
 * Partial zipping (docs/algorithm.md, section 19): the prefix graph, and
 * the trunk + heads model of a matcher that ran on it.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partial/partial.h"

#define NAME_CAP 1024

/* Is `tensor` split in a binding part of one of the first depth points? */
static bool split_needed(const mudsc_graph *g, size_t depth, const char *tensor)
{
	mudsc_point_info pi;
	mudsc_binding_info bi;

	for (size_t q = 0; q < depth; q++) {
		mudsc_graph_point_at(&pi, g, q);
		for (size_t k = 0; k < pi.binding_count; k++)
			if (mudsc_graph_binding_at(&bi, g, q, k) == MUDSC_OK && bi.part != NULL &&
			    strcmp(bi.tensor, tensor) == 0)
				return true;
	}
	return false;
}

/* Point q's site (and the offset of its units on it) as point p of dst. */
static mudsc_status copy_site(mudsc_graph *dst, size_t p, const mudsc_graph *g, size_t q,
                              const mudsc_point_info *pi)
{
	int64_t offset = 0;
	mudsc_status st;

	if ((st = mudsc_graph_set_site(dst, p, pi->site_name, pi->site_axis)) != MUDSC_OK ||
	    (st = mudsc_graph_site_offset(&offset, g, q)) != MUDSC_OK || offset == 0)
		return st;
	return mudsc_graph_set_site_offset(dst, p, offset);
}

static mudsc_status copy_prefix(mudsc_graph *dst, const mudsc_graph *g, size_t depth)
{
	mudsc_status st = MUDSC_OK;

	for (size_t s = 0; s < mudsc_graph_split_count(g) && st == MUDSC_OK; s++) {
		mudsc_split_info si;

		if ((st = mudsc_graph_split_at(&si, g, s)) == MUDSC_OK && split_needed(g, depth, si.tensor))
			st = mudsc_graph_add_split(dst, si.tensor, si.axis, si.part_count, si.parts);
	}
	for (size_t q = 0; q < depth && st == MUDSC_OK; q++) {
		mudsc_point_info pi;
		size_t p;

		if ((st = mudsc_graph_point_at(&pi, g, q)) != MUDSC_OK ||
		    (st = mudsc_graph_add_point(&p, dst, pi.name, pi.width, pi.groups)) != MUDSC_OK)
			break;
		if (pi.site_name && (st = copy_site(dst, p, g, q, &pi)) != MUDSC_OK)
			break;
		for (size_t k = 0; k < pi.binding_count && st == MUDSC_OK; k++) {
			mudsc_binding_info bi;

			if ((st = mudsc_graph_binding_at(&bi, g, q, k)) == MUDSC_OK)
				st = mudsc_graph_bind(dst, p, bi.tensor, bi.part, bi.axis, (mudsc_role)bi.role,
				                      bi.flags);
		}
	}
	return st;
}

MUDSC_API mudsc_status mudsc_graph_prefix(mudsc_graph **out, const mudsc_graph *graph,
                                          size_t depth)
{
	mudsc_graph *g;
	mudsc_status st;

	MUDSC__CHECK_NULL(out);
	MUDSC__CHECK_NULL(graph);
	if (depth < 1 || depth > mudsc_graph_point_count(graph))
		return mudsc__err(MUDSC_E_RANGE, "mudsc_graph_prefix: depth = %zu outside 1..%zu", depth,
		                 mudsc_graph_point_count(graph));
	if ((st = mudsc_graph_new(&g)) != MUDSC_OK)
		return st;
	if ((st = copy_prefix(g, graph, depth)) != MUDSC_OK) {
		mudsc_graph_free(g);
		return st;
	}
	*out = g;
	return MUDSC_OK;
}

/* The length of name's module: up to its last '.', 0 without one. */
static size_t module_len(const char *name)
{
	const char *dot = strrchr(name, '.');
	return dot ? (size_t)(dot - name) : 0;
}

/* Is tensor `name` in the trunk: OUT-bound to a trunk point, or of the
 * module of such a tensor? */
static bool in_trunk(const mudsc_graph *trunk, const char *name)
{
	size_t len = module_len(name);

	for (size_t q = 0; q < mudsc_graph_point_count(trunk); q++) {
		mudsc_point_info pi;
		mudsc_binding_info bi;

		mudsc_graph_point_at(&pi, trunk, q);
		for (size_t k = 0; k < pi.binding_count; k++) {
			if (mudsc_graph_binding_at(&bi, trunk, q, k) != MUDSC_OK || bi.role != MUDSC_ROLE_OUT)
				continue;
			if (strcmp(bi.tensor, name) == 0)
				return true;
			if (len > 0 && module_len(bi.tensor) == len && strncmp(bi.tensor, name, len) == 0)
				return true;
		}
	}
	return false;
}

/* Add the tensors of src that are (trunk) or are not (head) trunk tensors
 * to dst; head tensors are named "heads.<model>.<name>". */
static mudsc_status add_tensors(mudsc_model *dst, const mudsc_model *src, const mudsc_graph *trunk,
                                bool trunk_part, int32_t model)
{
	mudsc_status st = MUDSC_OK;

	for (size_t k = 0; k < mudsc_model_count(src) && st == MUDSC_OK; k++) {
		mudsc_tensor t;
		char name[NAME_CAP];

		if ((st = mudsc_model_at(&t, src, k)) != MUDSC_OK)
			break;
		if (in_trunk(trunk, t.name) != trunk_part)
			continue;
		if (trunk_part)
			snprintf(name, sizeof name, "%s", t.name);
		else if (snprintf(name, sizeof name, "heads.%d.%s", (int)model, t.name) >= NAME_CAP)
			return mudsc__err(MUDSC_E_INVALID, "mudsc_partial_merge: tensor name '%s' is too "
			                                  "long for a head", t.name);
		st = mudsc_model_add(dst, name, t.dtype, t.rank, t.shape, t.data, MUDSC_COPY);
	}
	return st;
}

static mudsc_status build(mudsc_model *dst, const mudsc_matcher *matcher, const mudsc_graph *trunk,
                          const double *weights)
{
	mudsc_model *merged = NULL, *head = NULL;
	mudsc_point_info pi;
	size_t needed = 0;
	mudsc_status st;

	if ((st = mudsc_matcher_merge(&merged, matcher, weights)) != MUDSC_OK)
		return st;
	for (size_t k = 0; k < mudsc_model_meta_count(merged) && st == MUDSC_OK; k++) {
		const char *key, *value;

		if ((st = mudsc_model_meta_at(&key, &value, merged, k)) == MUDSC_OK)
			st = mudsc_model_set_meta(dst, key, value);
	}
	if (st == MUDSC_OK)
		st = add_tensors(dst, merged, trunk, true, 0);
	mudsc_model_free(merged);
	if (st != MUDSC_OK || (st = mudsc_graph_point_at(&pi, trunk, 0)) != MUDSC_OK ||
	    (st = mudsc_matcher_assignment(NULL, 0, &needed, matcher, 0)) != MUDSC_OK)
		return st;
	int32_t n = (int32_t)(needed / (size_t)pi.width);
	for (int32_t i = 0; i < n && st == MUDSC_OK; i++) {
		if ((st = mudsc_matcher_transform(&head, matcher, i)) != MUDSC_OK)
			break;
		st = add_tensors(dst, head, trunk, false, i);
		mudsc_model_free(head);
	}
	return st;
}

/* Re-raise the error of a call made inside with this function's name first. */
static mudsc_status prefixed(mudsc_status st)
{
	if (st == MUDSC_OK || strncmp(mudsc_error_message(), "mudsc_partial_merge", 19) == 0)
		return st;
	char msg[512];
	snprintf(msg, sizeof msg, "%s", mudsc_error_message());
	return mudsc__err(st, "mudsc_partial_merge: %s", msg);
}

MUDSC_API mudsc_status mudsc_partial_merge(mudsc_model **out, const mudsc_matcher *matcher,
                                           const mudsc_graph *trunk, const double *weights)
{
	mudsc_model *dst;
	mudsc_status st;

	MUDSC__CHECK_NULL(out);
	MUDSC__CHECK_NULL(matcher);
	MUDSC__CHECK_NULL(trunk);
	if (mudsc_graph_point_count(trunk) == 0)
		return mudsc__err(MUDSC_E_INVALID, "mudsc_partial_merge: trunk has no points");
	if ((st = mudsc_model_new(&dst)) != MUDSC_OK)
		return st;
	if ((st = build(dst, matcher, trunk, weights)) != MUDSC_OK) {
		mudsc_model_free(dst);
		return prefixed(st);
	}
	*out = dst;
	return MUDSC_OK;
}
