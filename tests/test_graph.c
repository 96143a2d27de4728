/* mudsc_graph: building by calls, the binding rules, accessors, validation
 * against models, the unbound report, and the MLP builder proven by
 * function preservation (permuting a real MLP's units by the graph leaves
 * its outputs unchanged). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "graph/graph.h"
#include "suites.h"
#include "testutil.h"

static mudsc_graph *make_graph(void)
{
	mudsc_graph *g = NULL;
	ck_assert_ok(mudsc_graph_new(&g));
	return g;
}

START_TEST(points_and_bindings)
{
	mudsc_graph *g = make_graph();
	mudsc_point_info pi;
	mudsc_binding_info bi;
	size_t p0, p1, found;

	ck_assert_ok(mudsc_graph_add_point(&p0, g, "fc1", 8, 2));
	ck_assert_ok(mudsc_graph_add_point(&p1, g, "fc2", 4, 1));
	ck_assert_uint_eq(p0, 0);
	ck_assert_uint_eq(p1, 1);
	ck_assert_ok(mudsc_graph_set_site(g, p0, "act1", -1));
	ck_assert_ok(mudsc_graph_bind(g, p0, "fc1.weight", NULL, 0, MUDSC_ROLE_OUT, 0));
	ck_assert_ok(mudsc_graph_bind(g, p0, "bn.running_mean", NULL, 0, MUDSC_ROLE_OUT,
	                              MUDSC_BIND_IGNORE));
	/* one tensor on two points, different axes */
	ck_assert_ok(mudsc_graph_bind(g, p0, "fc2.weight", NULL, 1, MUDSC_ROLE_IN, 0));
	ck_assert_ok(mudsc_graph_bind(g, p1, "fc2.weight", NULL, 0, MUDSC_ROLE_OUT, 0));

	ck_assert_uint_eq(mudsc_graph_point_count(g), 2);
	ck_assert_ok(mudsc_graph_point_at(&pi, g, 0));
	ck_assert_str_eq(pi.name, "fc1");
	ck_assert_int_eq(pi.width, 8);
	ck_assert_int_eq(pi.groups, 2);
	ck_assert_str_eq(pi.site_name, "act1");
	ck_assert_int_eq(pi.site_axis, -1);
	ck_assert_uint_eq(pi.binding_count, 3);
	ck_assert_ok(mudsc_graph_point_at(&pi, g, 1));
	ck_assert_ptr_null(pi.site_name);
	ck_assert_ok(mudsc_graph_binding_at(&bi, g, 0, 1));
	ck_assert_str_eq(bi.tensor, "bn.running_mean");
	ck_assert_ptr_null(bi.part);
	ck_assert_int_eq(bi.axis, 0);
	ck_assert_int_eq(bi.role, MUDSC_ROLE_OUT);
	ck_assert_uint_eq(bi.flags, MUDSC_BIND_IGNORE);
	ck_assert_ok(mudsc_graph_binding_at(&bi, g, 0, 2));
	ck_assert_int_eq(bi.role, MUDSC_ROLE_IN);
	ck_assert_int_eq(bi.axis, 1);
	ck_assert_ok(mudsc_graph_point_find(&found, g, "fc2"));
	ck_assert_uint_eq(found, 1);

	ck_assert_status(mudsc_graph_point_find(&found, g, "nope"), MUDSC_E_NOT_FOUND);
	ck_assert_error_has("nope");
	ck_assert_status(mudsc_graph_point_at(&pi, g, 2), MUDSC_E_RANGE);
	ck_assert_status(mudsc_graph_binding_at(&bi, g, 1, 1), MUDSC_E_RANGE);
	ck_assert_status(mudsc_graph_binding_at(&bi, g, 5, 0), MUDSC_E_RANGE);
	mudsc_graph_free(g);
	mudsc_graph_free(NULL);
}
END_TEST

START_TEST(point_rules)
{
	mudsc_graph *g = make_graph();

	ck_assert_ok(mudsc_graph_add_point(NULL, g, "a", 6, 3));
	ck_assert_status(mudsc_graph_add_point(NULL, g, "a", 6, 1), MUDSC_E_EXISTS);
	ck_assert_error_has("'a'");
	ck_assert_status(mudsc_graph_add_point(NULL, g, "b", 6, 4), MUDSC_E_SHAPE);
	ck_assert_error_has("groups 4");
	ck_assert_status(mudsc_graph_add_point(NULL, g, "b", 0, 1), MUDSC_E_SHAPE);
	ck_assert_status(mudsc_graph_add_point(NULL, g, "", 4, 1), MUDSC_E_INVALID);
	ck_assert_status(mudsc_graph_add_point(NULL, NULL, "c", 4, 1), MUDSC_E_INVALID);
	ck_assert_status(mudsc_graph_set_site(g, 3, "x", 0), MUDSC_E_RANGE);
	ck_assert_uint_eq(mudsc_graph_point_count(g), 1);
	mudsc_graph_free(g);
}
END_TEST

/* A site offset needs a site, is >= 0, and a new site starts at offset 0. */
START_TEST(site_offset_rules)
{
	mudsc_graph *g = NULL;
	size_t p;
	int64_t off = -7;

	ck_assert_ok(mudsc_graph_new(&g));
	ck_assert_ok(mudsc_graph_add_point(&p, g, "v_head1", 4, 1));
	ck_assert_ok(mudsc_graph_site_offset(&off, g, p));
	ck_assert_int_eq(off, 0);
	ck_assert_status(mudsc_graph_set_site_offset(g, p, 4), MUDSC_E_INVALID);
	ck_assert_error_has("point 'v_head1' has no site");
	ck_assert_ok(mudsc_graph_set_site(g, p, "v_proj", -1));
	ck_assert_ok(mudsc_graph_set_site_offset(g, p, 4));
	ck_assert_ok(mudsc_graph_site_offset(&off, g, p));
	ck_assert_int_eq(off, 4);
	ck_assert_status(mudsc_graph_set_site_offset(g, p, -4), MUDSC_E_RANGE);
	ck_assert_ok(mudsc_graph_site_offset(&off, g, p));
	ck_assert_int_eq(off, 4); /* a refused call changes nothing */
	ck_assert_ok(mudsc_graph_set_site(g, p, "o_proj:input", -1));
	ck_assert_ok(mudsc_graph_site_offset(&off, g, p));
	ck_assert_int_eq(off, 0);
	mudsc_graph_free(g);
}
END_TEST

START_TEST(binding_rules)
{
	mudsc_graph *g = make_graph();

	ck_assert_ok(mudsc_graph_add_point(NULL, g, "p", 4, 1));
	ck_assert_ok(mudsc_graph_add_point(NULL, g, "q", 4, 1));
	ck_assert_ok(mudsc_graph_bind(g, 0, "w", NULL, 0, MUDSC_ROLE_OUT, 0));
	/* an axis binds to at most one point */
	ck_assert_status(mudsc_graph_bind(g, 1, "w", NULL, 0, MUDSC_ROLE_IN, 0), MUDSC_E_EXISTS);
	ck_assert_error_has("'w'");
	ck_assert_error_has("'p'");
	ck_assert_status(mudsc_graph_bind(g, 0, "w", NULL, 0, MUDSC_ROLE_OUT, 0), MUDSC_E_EXISTS);
	ck_assert_status(mudsc_graph_bind(g, 0, "w", NULL, -1, MUDSC_ROLE_OUT, 0), MUDSC_E_SHAPE);
	ck_assert_status(mudsc_graph_bind(g, 0, "w", NULL, 1, (mudsc_role)7, 0), MUDSC_E_INVALID);
	ck_assert_status(mudsc_graph_bind(g, 0, "w", NULL, 1, MUDSC_ROLE_IN, 4), MUDSC_E_INVALID);
	ck_assert_status(mudsc_graph_bind(g, 2, "w", NULL, 1, MUDSC_ROLE_IN, 0), MUDSC_E_RANGE);
	ck_assert_status(mudsc_graph_bind(g, 0, "", NULL, 1, MUDSC_ROLE_IN, 0), MUDSC_E_INVALID);
	ck_assert_status(mudsc_graph_bind(g, 0, "w", "q", 1, MUDSC_ROLE_IN, 0), MUDSC_E_NOT_FOUND);
	ck_assert_ok(mudsc_graph_bind(g, 1, "w", NULL, 1, MUDSC_ROLE_IN, 0));
	mudsc_graph_free(g);
}
END_TEST

START_TEST(split_rules)
{
	static const char *const qkv[3] = {"q", "k", "v"};
	static const char *const dup[2] = {"a", "a"};
	mudsc_graph *g = make_graph();
	mudsc_split_info si;
	mudsc_binding_info bi;

	ck_assert_ok(mudsc_graph_add_point(NULL, g, "qk", 4, 2));
	ck_assert_ok(mudsc_graph_add_point(NULL, g, "v", 4, 2));
	ck_assert_ok(mudsc_graph_add_point(NULL, g, "res", 6, 1));
	ck_assert_ok(mudsc_graph_bind(g, 2, "other", NULL, 0, MUDSC_ROLE_OUT, 0));
	/* a split axis bound whole cannot be split */
	ck_assert_status(mudsc_graph_add_split(g, "other", 0, 3, qkv), MUDSC_E_INVALID);
	ck_assert_status(mudsc_graph_add_split(g, "qkv", 0, 1, qkv), MUDSC_E_INVALID);
	ck_assert_status(mudsc_graph_add_split(g, "qkv", 0, 2, dup), MUDSC_E_EXISTS);
	ck_assert_status(mudsc_graph_add_split(g, "qkv", -2, 3, qkv), MUDSC_E_SHAPE);
	ck_assert_ok(mudsc_graph_add_split(g, "qkv", 0, 3, qkv));
	ck_assert_status(mudsc_graph_add_split(g, "qkv", 1, 3, qkv), MUDSC_E_EXISTS);

	ck_assert_ok(mudsc_graph_bind(g, 0, "qkv", "q", 0, MUDSC_ROLE_OUT, 0));
	ck_assert_ok(mudsc_graph_bind(g, 0, "qkv", "k", 0, MUDSC_ROLE_OUT, 0));
	ck_assert_ok(mudsc_graph_bind(g, 1, "qkv", "v", 0, MUDSC_ROLE_OUT, 0));
	ck_assert_status(mudsc_graph_bind(g, 1, "qkv", "x", 0, MUDSC_ROLE_OUT, 0), MUDSC_E_NOT_FOUND);
	ck_assert_status(mudsc_graph_bind(g, 1, "qkv", "q", 0, MUDSC_ROLE_OUT, 0), MUDSC_E_EXISTS);
	/* the split axis is bound through parts only */
	ck_assert_status(mudsc_graph_bind(g, 1, "qkv", NULL, 0, MUDSC_ROLE_OUT, 0), MUDSC_E_INVALID);
	/* a whole binding on another axis applies to every part ... */
	ck_assert_ok(mudsc_graph_bind(g, 2, "qkv", NULL, 1, MUDSC_ROLE_IN, 0));
	/* ... so no part may bind that axis again */
	ck_assert_status(mudsc_graph_bind(g, 1, "qkv", "v", 1, MUDSC_ROLE_IN, 0), MUDSC_E_EXISTS);

	ck_assert_uint_eq(mudsc_graph_split_count(g), 1);
	ck_assert_ok(mudsc_graph_split_at(&si, g, 0));
	ck_assert_str_eq(si.tensor, "qkv");
	ck_assert_int_eq(si.axis, 0);
	ck_assert_uint_eq(si.part_count, 3);
	ck_assert_str_eq(si.parts[2], "v");
	ck_assert_status(mudsc_graph_split_at(&si, g, 1), MUDSC_E_RANGE);
	ck_assert_ok(mudsc_graph_binding_at(&bi, g, 0, 1));
	ck_assert_str_eq(bi.part, "k");
	mudsc_graph_free(g);
}
END_TEST

static void add_f32(mudsc_model *m, const char *name, int32_t rank, int64_t d0, int64_t d1)
{
	int64_t shape[2] = {d0, d1};
	float *data = calloc((size_t)(d0 * (rank > 1 ? d1 : 1)), sizeof *data);
	ck_assert_ok(mudsc_model_add(m, name, MUDSC_DTYPE_F32, rank, shape, data, MUDSC_COPY));
	free(data);
}

START_TEST(validate_against_models)
{
	static const char *const parts[2] = {"a", "b"};
	mudsc_graph *g = make_graph();
	mudsc_model *good = NULL, *bad = NULL;
	const mudsc_model *models[2];
	int64_t one = 1;
	size_t idx[4], n = 0;
	mudsc_tensor t;

	ck_assert_ok(mudsc_graph_add_point(NULL, g, "h", 4, 2));
	ck_assert_ok(mudsc_graph_add_split(g, "fused", 0, 2, parts));
	ck_assert_ok(mudsc_graph_bind(g, 0, "fc1.weight", NULL, 0, MUDSC_ROLE_OUT, 0));
	ck_assert_ok(mudsc_graph_bind(g, 0, "fc2.weight", NULL, 1, MUDSC_ROLE_IN, 0));
	ck_assert_ok(mudsc_graph_bind(g, 0, "fused", "b", 0, MUDSC_ROLE_OUT, 0));

	ck_assert_ok(mudsc_model_new(&good));
	add_f32(good, "fc1.weight", 2, 4, 3);
	add_f32(good, "fc2.weight", 2, 2, 4);
	add_f32(good, "fused", 2, 8, 3);
	add_f32(good, "extra", 1, 5, 0);
	ck_assert_ok(mudsc_model_add(good, "steps", MUDSC_DTYPE_I64, 0, NULL, &one, MUDSC_COPY));
	ck_assert_ok(mudsc_model_new(&bad));
	add_f32(bad, "fc1.weight", 2, 4, 3);
	add_f32(bad, "fc2.weight", 2, 2, 5);
	add_f32(bad, "fused", 2, 8, 3);

	models[0] = good;
	models[1] = good;
	ck_assert_ok(mudsc_graph_validate(g, models, 2));
	models[1] = bad;
	ck_assert_status(mudsc_graph_validate(g, models, 2), MUDSC_E_SHAPE);
	ck_assert_error_has("model 1");
	ck_assert_error_has("'fc2.weight'");
	ck_assert_error_has("axis 1 has length 5");
	ck_assert_error_has("width 4");
	ck_assert_status(mudsc_graph_validate(g, models, 0), MUDSC_E_INVALID);

	/* unbound report: extra and steps, by model index */
	ck_assert_ok(mudsc_graph_unbound(NULL, 0, &n, g, good));
	ck_assert_uint_eq(n, 2);
	ck_assert_ok(mudsc_graph_unbound(idx, 4, &n, g, good));
	ck_assert_ok(mudsc_model_at(&t, good, idx[0]));
	ck_assert_str_eq(t.name, "extra");
	ck_assert_ok(mudsc_model_at(&t, good, idx[1]));
	ck_assert_str_eq(t.name, "steps");

	/* missing tensor, and a split that does not divide */
	ck_assert_ok(mudsc_model_remove(bad, "fc1.weight"));
	models[0] = bad;
	ck_assert_status(mudsc_graph_validate(g, models, 1), MUDSC_E_NOT_FOUND);
	ck_assert_error_has("'fc1.weight'");
	ck_assert_ok(mudsc_model_remove(bad, "fused"));
	add_f32(bad, "fused", 2, 7, 3);
	ck_assert_status(mudsc_graph_validate(g, models, 1), MUDSC_E_SHAPE);
	ck_assert_error_has("'fused'");
	ck_assert_error_has("length 7");

	/* a bound tensor whose unbound axis differs between models */
	{
		mudsc_model *other = NULL;
		ck_assert_ok(mudsc_model_new(&other));
		add_f32(other, "fc1.weight", 2, 4, 9);
		add_f32(other, "fc2.weight", 2, 2, 4);
		add_f32(other, "fused", 2, 8, 3);
		models[0] = good;
		models[1] = other;
		ck_assert_status(mudsc_graph_validate(g, models, 2), MUDSC_E_MISMATCH);
		ck_assert_error_has("'fc1.weight' axis 1 has length 3 in model 0 but 9 in model 1");
		mudsc_model_free(other);
	}

	/* a bound integer tensor */
	ck_assert_ok(mudsc_graph_bind(g, 0, "steps", NULL, 0, MUDSC_ROLE_OUT, 0));
	models[0] = good;
	ck_assert_status(mudsc_graph_validate(g, models, 1), MUDSC_E_UNSUPPORTED);
	ck_assert_error_has("'steps'");
	mudsc_model_free(good);
	mudsc_model_free(bad);
	mudsc_graph_free(g);
}
END_TEST

START_TEST(bindings_of_a_tensor_or_part)
{
	static const char *const qkv[3] = {"q", "k", "v"};
	mudsc_graph *g = make_graph();
	struct graph_ref refs[4];

	ck_assert_ok(mudsc_graph_add_point(NULL, g, "res", 6, 1));
	ck_assert_ok(mudsc_graph_add_point(NULL, g, "attn", 6, 3));
	ck_assert_ok(mudsc_graph_add_split(g, "qkv", 0, 3, qkv));
	ck_assert_ok(mudsc_graph_bind(g, 0, "qkv", NULL, 1, MUDSC_ROLE_IN, 0));
	ck_assert_ok(mudsc_graph_bind(g, 1, "qkv", "q", 0, MUDSC_ROLE_OUT, 0));
	ck_assert_ok(mudsc_graph_bind(g, 1, "qkv", "k", 0, MUDSC_ROLE_OUT, 0));
	ck_assert_ok(mudsc_graph_bind(g, 1, "proj", NULL, 1, MUDSC_ROLE_IN, 0));
	/* part k: its own binding and the whole-tensor one */
	ck_assert_uint_eq(mudsc__graph_bindings_of(g, "qkv", 1, refs, 4), 2);
	ck_assert_uint_eq(refs[0].point, 0);
	ck_assert_uint_eq(refs[1].point, 1);
	ck_assert_uint_eq(refs[1].binding, 1);
	/* part v: only the whole-tensor binding */
	ck_assert_uint_eq(mudsc__graph_bindings_of(g, "qkv", 2, refs, 4), 1);
	/* the whole tensor: only whole bindings; counting without room */
	ck_assert_uint_eq(mudsc__graph_bindings_of(g, "qkv", -1, NULL, 0), 1);
	ck_assert_uint_eq(mudsc__graph_bindings_of(g, "proj", -1, refs, 1), 1);
	ck_assert_uint_eq(refs[0].binding, 2);
	ck_assert_uint_eq(mudsc__graph_bindings_of(g, "absent", -1, refs, 4), 0);
	ck_assert_ptr_nonnull(mudsc__graph_split_of(g, "qkv"));
	ck_assert_ptr_null(mudsc__graph_split_of(g, "proj"));
	mudsc_graph_free(g);
}
END_TEST

/* Issue 11, defect 7: the clash check of every bind looked at every
 * binding of the graph, so building B bindings cost B^2/2 steps (1M did
 * not finish).  Now a bind looks at most at the MUDSC_MAX_RANK bindings of
 * its own (tensor, part) and the whole tensor: the count is asserted, not
 * timed (bench/bench_load_graph.c times 1M). */
enum { MANY = 20000, PARTS = 500 };

START_TEST(bind_cost_bounded_per_binding)
{
	mudsc_graph *g = make_graph();
	const char **parts = malloc(PARTS * sizeof *parts);
	char (*names)[16] = malloc(PARTS * sizeof *names);
	struct graph_ref refs[2 * MUDSC_MAX_RANK];
	size_t binds = 0;
	char name[32];

	ck_assert_ptr_nonnull(parts);
	ck_assert_ptr_nonnull(names);
	ck_assert_ok(mudsc_graph_add_point(NULL, g, "a", 3, 1));
	ck_assert_ok(mudsc_graph_add_point(NULL, g, "b", 3, 1));
	for (size_t k = 0; k < MANY; k++, binds++) {
		snprintf(name, sizeof name, "t.%zu", k);
		ck_assert_ok(mudsc_graph_bind(g, k % 2, name, NULL, 0, MUDSC_ROLE_OUT, 0));
	}
	/* one tensor on every axis, bound to the points in reverse order */
	for (int32_t a = 0; a < MUDSC_MAX_RANK; a++, binds++)
		ck_assert_ok(mudsc_graph_bind(g, (size_t)(a < 4), "w", NULL, a, MUDSC_ROLE_IN, 0));
	/* a split of many parts, each bound on axes 0..3, with whole axes 4..7 */
	for (size_t k = 0; k < PARTS; k++) {
		snprintf(names[k], sizeof names[k], "p%zu", k);
		parts[k] = names[k];
	}
	ck_assert_ok(mudsc_graph_add_split(g, "fused", 0, PARTS, parts));
	for (size_t k = 0; k < PARTS; k++)
		for (int32_t a = 0; a < 4; a++, binds++)
			ck_assert_ok(mudsc_graph_bind(g, k % 2, "fused", parts[k], a, MUDSC_ROLE_OUT, 0));
	for (int32_t a = 4; a < MUDSC_MAX_RANK; a++, binds++)
		ck_assert_ok(mudsc_graph_bind(g, 1, "fused", NULL, a, MUDSC_ROLE_IN, 0));
	ck_assert_msg(g->clash_steps <= (size_t)MUDSC_MAX_RANK * binds,
	              "%zu steps for %zu bindings", g->clash_steps, binds);

	/* the rules still hold: each axis once, a part axis clashes with a whole one */
	ck_assert_status(mudsc_graph_bind(g, 0, "t.7", NULL, 0, MUDSC_ROLE_IN, 0), MUDSC_E_EXISTS);
	ck_assert_error_has("point 'b'");
	ck_assert_status(mudsc_graph_bind(g, 0, "w", NULL, 5, MUDSC_ROLE_IN, 0), MUDSC_E_EXISTS);
	ck_assert_status(mudsc_graph_bind(g, 0, "fused", "p7", 5, MUDSC_ROLE_IN, 0), MUDSC_E_EXISTS);
	ck_assert_status(mudsc_graph_bind(g, 0, "fused", "p7", 2, MUDSC_ROLE_IN, 0), MUDSC_E_EXISTS);
	ck_assert_error_has("part p7 axis 2");
	ck_assert_error_has("point 'b'");
	ck_assert_status(mudsc_graph_bind(g, 0, "fused", NULL, 3, MUDSC_ROLE_IN, 0), MUDSC_E_EXISTS);
	ck_assert_error_has("point 'a'"); /* p0's binding is the one found */
	ck_assert_status(mudsc_graph_bind(g, 0, "fused", "p500", 5, MUDSC_ROLE_IN, 0),
	                 MUDSC_E_NOT_FOUND);

	/* bindings_of: point order then binding order, whatever the order of the calls */
	ck_assert_uint_eq(mudsc__graph_bindings_of(g, "w", -1, refs, 2 * MUDSC_MAX_RANK),
	                  MUDSC_MAX_RANK);
	for (int32_t k = 0; k < MUDSC_MAX_RANK; k++) {
		const struct graph_binding *b = &g->points[refs[k].point].bindings[refs[k].binding];
		ck_assert_uint_eq(refs[k].point, k < 4 ? 0 : 1);
		ck_assert_int_eq(b->axis, k < 4 ? 4 + k : k - 4);
		ck_assert_str_eq(b->tensor, "w");
	}
	/* a part: its 4 axes (point 1 for p7) and the whole tensor's 4 (point 1) */
	ck_assert_uint_eq(mudsc__graph_bindings_of(g, "fused", 7, refs, 2 * MUDSC_MAX_RANK), 8);
	for (int k = 1; k < 8; k++)
		ck_assert_uint_lt(refs[k - 1].binding, refs[k].binding);
	ck_assert_uint_eq(mudsc__graph_bindings_of(g, "fused", -1, NULL, 0), 4);
	ck_assert_uint_eq(mudsc__graph_bindings_of(g, "t.12345", -1, refs, 1), 1);
	ck_assert_uint_eq(refs[0].point, 1);
	ck_assert_uint_eq(refs[0].binding, 12345 / 2);
	free(parts);
	free(names);
	mudsc_graph_free(g);
}
END_TEST

/* A split declared for a tensor that no point binds leaves it unbound; a
 * failed bind leaves no trace (no tensor record that would count as bound). */
START_TEST(unbound_counts_bindings_not_names)
{
	static const char *const qk[2] = {"q", "k"};
	static const int64_t shape[2] = {4, 4};
	static const float data[16] = {0};
	mudsc_graph *g = make_graph();
	mudsc_model *m = NULL;
	size_t out[4], needed = 0;

	ck_assert_ok(mudsc_model_new(&m));
	ck_assert_ok(mudsc_model_add(m, "qk", MUDSC_DTYPE_F32, 2, shape, data, MUDSC_BORROW));
	ck_assert_ok(mudsc_model_add(m, "w", MUDSC_DTYPE_F32, 2, shape, data, MUDSC_BORROW));
	ck_assert_ok(mudsc_model_add(m, "x", MUDSC_DTYPE_F32, 2, shape, data, MUDSC_BORROW));
	ck_assert_ok(mudsc_graph_add_point(NULL, g, "p", 4, 1));
	ck_assert_ok(mudsc_graph_add_split(g, "qk", 0, 2, qk));
	ck_assert_ok(mudsc_graph_bind(g, 0, "w", NULL, 0, MUDSC_ROLE_OUT, 0));
	ck_assert_status(mudsc_graph_bind(g, 0, "x", "q", 0, MUDSC_ROLE_OUT, 0), MUDSC_E_NOT_FOUND);
	ck_assert_ok(mudsc_graph_unbound(out, 4, &needed, g, m));
	ck_assert_uint_eq(needed, 2);
	ck_assert_uint_eq(out[0], 0);
	ck_assert_uint_eq(out[1], 2);
	ck_assert_ptr_null(mudsc__graph_tensor(g, "x"));
	mudsc_model_free(m);
	mudsc_graph_free(g);
}
END_TEST

/* ---- ResNet and ViT builders: shapes of the graphs ---------------------- */

static size_t resnet_points(const char *preset, int norm, int64_t groups)
{
	mudsc_resnet_options o = MUDSC_RESNET_OPTIONS_INIT;
	mudsc_graph *g = NULL;
	size_t n;

	ck_assert_ok(mudsc_resnet_options_preset(&o, preset, 1));
	o.norm = norm;
	o.norm_groups = groups;
	ck_assert_ok(mudsc_graph_build_resnet(&g, &o));
	n = mudsc_graph_point_count(g);
	mudsc_graph_free(g);
	return n;
}

/* The site of the point called name. */
static const char *site_of(const mudsc_graph *g, const char *name)
{
	mudsc_point_info pi;
	size_t p;

	ck_assert_ok(mudsc_graph_point_find(&p, g, name));
	ck_assert_ok(mudsc_graph_point_at(&pi, g, p));
	return pi.site_name;
}

START_TEST(resnet_presets)
{
	mudsc_resnet_options o = MUDSC_RESNET_OPTIONS_INIT;
	mudsc_graph *g = NULL;
	mudsc_point_info pi;
	mudsc_binding_info bi;
	size_t p;

	/* streams per stage (+ a stem point when layer1.0 has a shortcut conv)
	 * plus 1 (basic) or 2 (bottleneck) points per block */
	ck_assert_uint_eq(resnet_points("resnet20", MUDSC_NORM_BATCH, 1), 3 + 9);
	ck_assert_uint_eq(resnet_points("resnet32", MUDSC_NORM_BATCH, 1), 3 + 15);
	ck_assert_uint_eq(resnet_points("resnet56", MUDSC_NORM_GROUP, 8), 3 + 27);
	ck_assert_uint_eq(resnet_points("resnet18", MUDSC_NORM_BATCH, 1), 4 + 8);
	ck_assert_uint_eq(resnet_points("resnet26", MUDSC_NORM_BATCH, 1), 5 + 16);
	ck_assert_uint_eq(resnet_points("resnet50", MUDSC_NORM_GROUP, 32), 5 + 32);

	ck_assert_ok(mudsc_resnet_options_preset(&o, "resnet50", 2));
	ck_assert_int_eq(o.widths[3], 1024);
	ck_assert_str_eq(o.shortcut_conv, "downsample.0");
	o.prefix = "backbone.";
	ck_assert_ok(mudsc_graph_build_resnet(&g, &o));
	ck_assert_ok(mudsc_graph_point_find(&p, g, "backbone.layer4"));
	ck_assert_ok(mudsc_graph_point_at(&pi, g, p));
	ck_assert_int_eq(pi.width, 4096);
	ck_assert_str_eq(pi.site_name, "backbone.layer4.2");
	/* inner points: the next conv's input (default) or the norm (pre) */
	ck_assert_str_eq(site_of(g, "backbone.layer2.1.conv2"), "backbone.layer2.1.conv3:input");
	ck_assert_str_eq(site_of(g, "backbone.stem"), "backbone.layer1.0:input");
	mudsc_graph_free(g);
	o.site = MUDSC_SITE_PRE;
	ck_assert_ok(mudsc_graph_build_resnet(&g, &o));
	ck_assert_str_eq(site_of(g, "backbone.layer2.1.conv2"), "backbone.layer2.1.bn2");
	ck_assert_str_eq(site_of(g, "backbone.stem"), "backbone.bn1");
	ck_assert_ok(mudsc_graph_point_find(&p, g, "backbone.layer4"));
	ck_assert_ok(mudsc_graph_point_at(&pi, g, p));
	o.site = MUDSC_SITE_POST;
	ck_assert_ok(mudsc_graph_binding_at(&bi, g, p, pi.binding_count - 1));
	ck_assert_str_eq(bi.tensor, "backbone.fc.weight");
	ck_assert_int_eq(bi.role, MUDSC_ROLE_IN);
	mudsc_graph_free(g);

	ck_assert_status(mudsc_resnet_options_preset(&o, "resnet19", 1), MUDSC_E_NOT_FOUND);
	ck_assert_status(mudsc_resnet_options_preset(&o, "resnet20", 0), MUDSC_E_INVALID);
	/* GroupNorm groups must divide every width */
	mudsc_resnet_options_init(&o);
	o.norm = MUDSC_NORM_GROUP;
	o.norm_groups = 3;
	ck_assert_status(mudsc_graph_build_resnet(&g, &o), MUDSC_E_INVALID);
	ck_assert_error_has("mudsc_graph_build_resnet: opts->norm_groups = 3 does not divide");
	mudsc_resnet_options_init(&o);
	o.n_stages = 5;
	ck_assert_status(mudsc_graph_build_resnet(&g, &o), MUDSC_E_INVALID);
	ck_assert_error_has("n_stages");
	mudsc_resnet_options_init(&o);
	o.shortcut_conv = NULL;
	ck_assert_status(mudsc_graph_build_resnet(&g, &o), MUDSC_E_INVALID);
	mudsc_resnet_options_init(&o);
	o.head = NULL; /* no classifier */
	ck_assert_ok(mudsc_graph_build_resnet(&g, &o));
	mudsc_graph_free(g);
}
END_TEST

START_TEST(vit_builder)
{
	mudsc_vit_options o = MUDSC_VIT_OPTIONS_INIT;
	mudsc_graph *g = NULL;
	mudsc_point_info pi;
	size_t p;

	ck_assert_ok(mudsc_graph_build_vit(&g, &o));
	ck_assert_uint_eq(mudsc_graph_point_count(g), 1 + 2 * 12);
	ck_assert_uint_eq(mudsc_graph_split_count(g), 2 * 12);
	ck_assert_ok(mudsc_graph_point_find(&p, g, "blocks.11.attn"));
	ck_assert_ok(mudsc_graph_point_at(&pi, g, p));
	ck_assert_int_eq(pi.groups, 3);
	ck_assert_int_eq(pi.width, 192);
	/* q, k, v of weight and bias, and proj IN */
	ck_assert_uint_eq(pi.binding_count, 7);
	ck_assert_str_eq(pi.site_name, "blocks.11.attn.proj:input");
	ck_assert_int_eq(pi.site_axis, -1);
	ck_assert_ok(mudsc_graph_point_at(&pi, g, 0));
	/* patch w/b, cls, pos, 12 x (norm1 2 + qkv + proj 2 + norm2 2 + fc1 + fc2 2), norm 2, head */
	ck_assert_uint_eq(pi.binding_count, 4 + 12 * 10 + 3);
	mudsc_graph_free(g);

	o.qkv_bias = 0;
	o.cls_token = 0;
	o.head = 0;
	o.depth = 1;
	ck_assert_ok(mudsc_graph_build_vit(&g, &o));
	ck_assert_uint_eq(mudsc_graph_split_count(g), 1);
	ck_assert_ok(mudsc_graph_point_at(&pi, g, 0));
	ck_assert_uint_eq(pi.binding_count, 3 + 10 + 2);
	mudsc_graph_free(g);

	mudsc_vit_options_init(&o);
	o.heads = 5;
	ck_assert_status(mudsc_graph_build_vit(&g, &o), MUDSC_E_INVALID);
	ck_assert_error_has("heads = 5");
	mudsc_vit_options_init(&o);
	o.block_template = "";
	ck_assert_status(mudsc_graph_build_vit(&g, &o), MUDSC_E_INVALID);
	mudsc_vit_options_init(&o);
	o.prefix = "a-prefix-that-is-far-too-long-to-be-a-name-prefix-of-anything-reasonable";
	ck_assert_status(mudsc_graph_build_vit(&g, &o), MUDSC_E_INVALID);
	ck_assert_error_has("opts->prefix");
	/* a template without {i} names every block the same: the points clash */
	mudsc_vit_options_init(&o);
	o.block_template = "block";
	ck_assert_status(mudsc_graph_build_vit(&g, &o), MUDSC_E_INVALID);
	ck_assert_error_has("mudsc_graph_build_vit: opts->block_template = 'block' has no");
}
END_TEST

/* ---- decoder builders (function preservation: test_graph_decoders.py) --- */

START_TEST(llama_builder)
{
	mudsc_llama_options o = MUDSC_LLAMA_OPTIONS_INIT;
	mudsc_graph *g = NULL;
	mudsc_point_info pi;
	mudsc_binding_info bi;
	mudsc_split_info si;
	size_t p;
	int64_t off;

	/* Llama-2-7B: the stream, then per layer 32 value heads and the MLP */
	ck_assert_ok(mudsc_graph_build_llama(&g, &o));
	ck_assert_uint_eq(mudsc_graph_point_count(g), 1 + 32 * 33);
	ck_assert_uint_eq(mudsc_graph_split_count(g), 32 * 2);
	ck_assert_ok(mudsc_graph_point_at(&pi, g, 0));
	ck_assert_str_eq(pi.name, "model.residual");
	ck_assert_str_eq(pi.site_name, "model.norm");
	/* embed, 32 x (2 norms, q/k/v IN, o OUT, gate/up IN, down OUT), norm, lm_head */
	ck_assert_uint_eq(pi.binding_count, 1 + 32 * 9 + 2);
	ck_assert_ok(mudsc_graph_binding_at(&bi, g, 0, 0));
	ck_assert_str_eq(bi.tensor, "model.embed_tokens.weight");
	ck_assert_int_eq(bi.axis, 1);
	ck_assert_int_eq(bi.role, MUDSC_ROLE_OUT);
	ck_assert_ok(mudsc_graph_point_find(&p, g, "model.layers.31.self_attn.v_head31"));
	ck_assert_ok(mudsc_graph_point_at(&pi, g, p));
	ck_assert_int_eq(pi.width, 128);
	ck_assert_uint_eq(pi.binding_count, 2);
	ck_assert_ok(mudsc_graph_binding_at(&bi, g, p, 1));
	ck_assert_str_eq(bi.tensor, "model.layers.31.self_attn.o_proj.weight");
	ck_assert_str_eq(bi.part, "h31");
	ck_assert_int_eq(bi.axis, 1);
	ck_assert_int_eq(bi.role, MUDSC_ROLE_IN);
	ck_assert_ok(mudsc_graph_point_find(&p, g, "model.layers.0.mlp"));
	ck_assert_ok(mudsc_graph_point_at(&pi, g, p));
	ck_assert_int_eq(pi.width, 11008);
	ck_assert_str_eq(pi.site_name, "model.layers.0.mlp.down_proj:input");
	mudsc_graph_free(g);

	/* GQA 32/8 with biases, tied, one layer: value head j serves query
	 * heads 4j..4j+3 */
	o.n_layers = 1;
	o.num_kv_heads = 8;
	o.attention_bias = 1;
	o.lm_head = NULL;
	ck_assert_ok(mudsc_graph_build_llama(&g, &o));
	ck_assert_uint_eq(mudsc_graph_point_count(g), 1 + 8 + 1);
	ck_assert_uint_eq(mudsc_graph_split_count(g), 3);
	ck_assert_ok(mudsc_graph_split_at(&si, g, 2));
	ck_assert_str_eq(si.tensor, "model.layers.0.self_attn.o_proj.weight");
	ck_assert_int_eq(si.axis, 1);
	ck_assert_uint_eq(si.part_count, 32);
	ck_assert_ok(mudsc_graph_point_at(&pi, g, 0));
	ck_assert_uint_eq(pi.binding_count, 1 + 10 + 1); /* + o_proj.bias, no lm_head */
	ck_assert_ok(mudsc_graph_point_find(&p, g, "model.layers.0.self_attn.v_head2"));
	ck_assert_ok(mudsc_graph_point_at(&pi, g, p));
	ck_assert_uint_eq(pi.binding_count, 2 + 4);
	/* value head 2 is features 256..383 of v_proj's output (head_dim 128) */
	ck_assert_str_eq(pi.site_name, "model.layers.0.self_attn.v_proj");
	ck_assert_ok(mudsc_graph_site_offset(&off, g, p));
	ck_assert_int_eq(off, 2 * 128);
	ck_assert_ok(mudsc_graph_site_offset(&off, g, 0));
	ck_assert_int_eq(off, 0);
	ck_assert_ok(mudsc_graph_binding_at(&bi, g, p, 2));
	ck_assert_str_eq(bi.part, "h8");
	ck_assert_ok(mudsc_graph_binding_at(&bi, g, p, 5));
	ck_assert_str_eq(bi.part, "h11");
	mudsc_graph_free(g);

	/* multi-query: one value head, v_proj unsplit */
	o.num_kv_heads = 1;
	o.attention_bias = 0;
	o.head_dim = 64;
	ck_assert_ok(mudsc_graph_build_llama(&g, &o));
	ck_assert_uint_eq(mudsc_graph_split_count(g), 1);
	ck_assert_ok(mudsc_graph_point_at(&pi, g, 1));
	ck_assert_int_eq(pi.width, 64);
	ck_assert_uint_eq(pi.binding_count, 1 + 32);
	ck_assert_ok(mudsc_graph_binding_at(&bi, g, 1, 0));
	ck_assert_ptr_null(bi.part);
	mudsc_graph_free(g);

	mudsc_llama_options_init(&o);
	o.num_kv_heads = 5;
	g = NULL;
	ck_assert_status(mudsc_graph_build_llama(&g, &o), MUDSC_E_INVALID);
	ck_assert_error_has("mudsc_graph_build_llama: opts->num_kv_heads = 5");
	ck_assert_ptr_null(g);
}
END_TEST

START_TEST(gpt2_builder)
{
	mudsc_gpt2_options o = MUDSC_GPT2_OPTIONS_INIT;
	mudsc_graph *g = NULL;
	mudsc_point_info pi;
	mudsc_split_info si;
	size_t p;

	ck_assert_ok(mudsc_graph_build_gpt2(&g, &o));
	ck_assert_uint_eq(mudsc_graph_point_count(g), 1 + 2 * 12);
	ck_assert_uint_eq(mudsc_graph_split_count(g), 2 * 12);
	ck_assert_ok(mudsc_graph_split_at(&si, g, 0));
	ck_assert_str_eq(si.tensor, "h.0.attn.c_attn.weight");
	ck_assert_int_eq(si.axis, 1);
	ck_assert_ok(mudsc_graph_point_at(&pi, g, 0));
	/* wte, wpe, 12 x (ln_1 2, c_attn IN, c_proj 2, ln_2 2, c_fc IN, c_proj 2), ln_f 2 */
	ck_assert_uint_eq(pi.binding_count, 2 + 12 * 10 + 2);
	ck_assert_ok(mudsc_graph_point_find(&p, g, "h.11.attn"));
	ck_assert_ok(mudsc_graph_point_at(&pi, g, p));
	ck_assert_int_eq(pi.groups, 12);
	ck_assert_uint_eq(pi.binding_count, 7);
	ck_assert_str_eq(pi.site_name, "h.11.attn.c_proj:input");
	mudsc_graph_free(g);
	o.lm_head = 1;
	o.n_layers = 1;
	ck_assert_ok(mudsc_graph_build_gpt2(&g, &o));
	ck_assert_ok(mudsc_graph_point_at(&pi, g, 0));
	ck_assert_uint_eq(pi.binding_count, 2 + 10 + 2 + 1);
	mudsc_graph_free(g);
}
END_TEST

/* ---- MLP builder: names, and function preservation ---------------------- */

START_TEST(mlp_builder_names)
{
	int64_t hidden[2] = {5, 7};
	mudsc_mlp_options o = MUDSC_MLP_OPTIONS_INIT;
	mudsc_graph *g = NULL;
	mudsc_point_info pi;
	mudsc_binding_info bi;

	o.n_hidden = 2;
	o.hidden = hidden;
	o.layer_template = "{i}";
	o.index_step = 2;
	o.prefix = "net.";
	o.bias = 0;
	ck_assert_ok(mudsc_graph_build_mlp(&g, &o));
	ck_assert_uint_eq(mudsc_graph_point_count(g), 2);
	ck_assert_ok(mudsc_graph_point_at(&pi, g, 1));
	ck_assert_str_eq(pi.name, "net.2");
	ck_assert_int_eq(pi.width, 7);
	/* the default site: after the activation, the next layer's input */
	ck_assert_str_eq(pi.site_name, "net.4:input");
	ck_assert_int_eq(pi.site_axis, -1);
	ck_assert_uint_eq(pi.binding_count, 2);
	ck_assert_ok(mudsc_graph_binding_at(&bi, g, 1, 1));
	ck_assert_str_eq(bi.tensor, "net.4.weight");
	ck_assert_int_eq(bi.role, MUDSC_ROLE_IN);
	mudsc_graph_free(g);
	/* before the activation: the layer's own output */
	o.site = MUDSC_SITE_PRE;
	ck_assert_ok(mudsc_graph_build_mlp(&g, &o));
	ck_assert_ok(mudsc_graph_point_at(&pi, g, 0));
	ck_assert_str_eq(pi.site_name, "net.0");
	mudsc_graph_free(g);
	o.site = MUDSC_SITE_POST;

	o.size = 3;
	ck_assert_status(mudsc_graph_build_mlp(&g, &o), MUDSC_E_INVALID);
	ck_assert_error_has("size");
	mudsc_mlp_options_init(&o);
	ck_assert_status(mudsc_graph_build_mlp(&g, &o), MUDSC_E_INVALID);
	ck_assert_error_has("n_hidden");
}
END_TEST

#define MLP_DEPTH 4 /* Linear layers */
#define MLP_IN 5
#define MLP_OUT 3
#define MLP_BATCH 6

struct mlp {
	int64_t dims[MLP_DEPTH + 1];
	double *w[MLP_DEPTH], *b[MLP_DEPTH]; /* w[k]: dims[k+1] x dims[k] */
};

static uint64_t rng_state = 0x1234567;

static double uniform(void)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (double)(rng_state >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

static void shuffle(size_t *perm, size_t n)
{
	for (size_t i = 0; i < n; i++)
		perm[i] = i;
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = (size_t)((uniform() + 1.0) / 2.0 * (double)(i + 1)) % (i + 1);
		size_t t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
}

static void mlp_forward(const struct mlp *m, const double *x, double *y)
{
	double a[64], z[64];

	for (int64_t i = 0; i < m->dims[0]; i++)
		a[i] = x[i];
	for (int k = 0; k < MLP_DEPTH; k++) {
		for (int64_t o = 0; o < m->dims[k + 1]; o++) {
			z[o] = m->b[k] ? m->b[k][o] : 0.0;
			for (int64_t i = 0; i < m->dims[k]; i++)
				z[o] += m->w[k][o * m->dims[k] + i] * a[i];
		}
		for (int64_t o = 0; o < m->dims[k + 1]; o++)
			a[o] = k + 1 < MLP_DEPTH && z[o] < 0 ? 0.0 : z[o];
	}
	for (int64_t o = 0; o < m->dims[MLP_DEPTH]; o++)
		y[o] = a[o];
}

/* The tensor of m named by the builder's default names, and its shape. */
static double *mlp_tensor(struct mlp *m, const char *name, int64_t *rows, int64_t *cols)
{
	int k;
	char kind[16];

	ck_assert_int_eq(sscanf(name, "layers.%d.%15s", &k, kind), 2);
	ck_assert(k >= 0 && k < MLP_DEPTH);
	*rows = m->dims[k + 1];
	*cols = strcmp(kind, "weight") == 0 ? m->dims[k] : 1;
	return strcmp(kind, "weight") == 0 ? m->w[k] : m->b[k];
}

/* Reorder axis `axis` of a rows x cols matrix: new index j = old perm[j]. */
static void permute_axis(double *t, int64_t rows, int64_t cols, int32_t axis, const size_t *perm)
{
	double *copy = malloc((size_t)(rows * cols) * sizeof *copy);
	memcpy(copy, t, (size_t)(rows * cols) * sizeof *copy);
	for (int64_t r = 0; r < rows; r++)
		for (int64_t c = 0; c < cols; c++)
			t[r * cols + c] = axis == 0 ? copy[(int64_t)perm[r] * cols + c]
			                            : copy[r * cols + (int64_t)perm[c]];
	free(copy);
}

/* Permute m's units by one random permutation per point, following only g. */
static void permute_by_graph(const mudsc_graph *g, struct mlp *m)
{
	size_t perm[64];
	mudsc_point_info pi;
	mudsc_binding_info bi;

	for (size_t p = 0; p < mudsc_graph_point_count(g); p++) {
		ck_assert_ok(mudsc_graph_point_at(&pi, g, p));
		shuffle(perm, (size_t)pi.width);
		for (size_t b = 0; b < pi.binding_count; b++) {
			int64_t rows, cols;
			ck_assert_ok(mudsc_graph_binding_at(&bi, g, p, b));
			double *t = mlp_tensor(m, bi.tensor, &rows, &cols);
			ck_assert_int_eq(bi.axis == 0 ? rows : cols, pi.width);
			permute_axis(t, rows, cols, bi.axis, perm);
		}
	}
}

static double max_rel_change(const struct mlp *m, const double *x, const double *y0)
{
	double y[MLP_OUT], worst = 0.0;

	for (int n = 0; n < MLP_BATCH; n++) {
		mlp_forward(m, x + n * MLP_IN, y);
		for (int o = 0; o < MLP_OUT; o++) {
			double d = fabs(y[o] - y0[n * MLP_OUT + o]) / fmax(fabs(y0[n * MLP_OUT + o]), 1e-3);
			worst = fmax(worst, d);
		}
	}
	return worst;
}

static void run_mlp_case(int bias, int drop_consumer)
{
	static const int64_t dims[MLP_DEPTH + 1] = {MLP_IN, 16, 12, 9, MLP_OUT};
	mudsc_mlp_options o = MUDSC_MLP_OPTIONS_INIT;
	struct mlp m;
	mudsc_graph *g = NULL, *cut = NULL;
	double x[MLP_BATCH * MLP_IN], y0[MLP_BATCH * MLP_OUT];

	memcpy(m.dims, dims, sizeof dims);
	for (int k = 0; k < MLP_DEPTH; k++) {
		m.w[k] = malloc((size_t)(dims[k] * dims[k + 1]) * sizeof(double));
		m.b[k] = bias ? malloc((size_t)dims[k + 1] * sizeof(double)) : NULL;
		for (int64_t i = 0; i < dims[k] * dims[k + 1]; i++)
			m.w[k][i] = uniform();
		for (int64_t i = 0; bias && i < dims[k + 1]; i++)
			m.b[k][i] = uniform();
	}
	for (int i = 0; i < MLP_BATCH * MLP_IN; i++)
		x[i] = uniform();
	for (int n = 0; n < MLP_BATCH; n++)
		mlp_forward(&m, x + n * MLP_IN, y0 + n * MLP_OUT);

	o.n_hidden = MLP_DEPTH - 1;
	o.hidden = dims + 1;
	o.bias = bias;
	ck_assert_ok(mudsc_graph_build_mlp(&g, &o));
	if (drop_consumer) {
		/* the same graph without point 1's consumer (layers.2.weight IN) */
		mudsc_point_info pi;
		mudsc_binding_info bi;
		ck_assert_ok(mudsc_graph_new(&cut));
		for (size_t p = 0; p < mudsc_graph_point_count(g); p++) {
			ck_assert_ok(mudsc_graph_point_at(&pi, g, p));
			ck_assert_ok(mudsc_graph_add_point(NULL, cut, pi.name, pi.width, pi.groups));
			for (size_t b = 0; b < pi.binding_count; b++) {
				ck_assert_ok(mudsc_graph_binding_at(&bi, g, p, b));
				if (p == 1 && bi.role == MUDSC_ROLE_IN)
					continue;
				ck_assert_ok(mudsc_graph_bind(cut, p, bi.tensor, bi.part, bi.axis, bi.role,
				                              bi.flags));
			}
		}
		permute_by_graph(cut, &m);
		ck_assert_msg(max_rel_change(&m, x, y0) > 1e-3, "a graph without a consumer binding "
		                                                "still preserved the function");
	} else {
		permute_by_graph(g, &m);
		ck_assert_msg(max_rel_change(&m, x, y0) < 1e-12, "outputs changed by %g",
		              max_rel_change(&m, x, y0));
	}
	for (int k = 0; k < MLP_DEPTH; k++) {
		free(m.w[k]);
		free(m.b[k]);
	}
	mudsc_graph_free(g);
	mudsc_graph_free(cut);
}

START_TEST(mlp_function_preserved)
{
	for (int trial = 0; trial < 5; trial++) {
		run_mlp_case(1, 0);
		run_mlp_case(0, 0);
	}
}
END_TEST

START_TEST(mlp_missing_consumer_breaks_function)
{
	run_mlp_case(1, 1);
}
END_TEST

Suite *suite_graph(void)
{
	Suite *s = suite_create("graph");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, points_and_bindings);
	tcase_add_test(tc, point_rules);
	tcase_add_test(tc, site_offset_rules);
	tcase_add_test(tc, binding_rules);
	tcase_add_test(tc, split_rules);
	tcase_add_test(tc, validate_against_models);
	tcase_add_test(tc, bindings_of_a_tensor_or_part);
	tcase_add_test(tc, bind_cost_bounded_per_binding);
	tcase_add_test(tc, unbound_counts_bindings_not_names);
	tcase_add_test(tc, resnet_presets);
	tcase_add_test(tc, vit_builder);
	tcase_add_test(tc, llama_builder);
	tcase_add_test(tc, gpt2_builder);
	tcase_add_test(tc, mlp_builder_names);
	tcase_add_test(tc, mlp_function_preserved);
	tcase_add_test(tc, mlp_missing_consumer_breaks_function);
	suite_add_tcase(s, tc);
	return s;
}
