/* Concatenated and repeated bindings (graph format version 2) and
 * mudsc_permute_model: a small network with a flatten (repeat 3) and a
 * concatenation on an IN axis of parts from two points.  The permuted copy
 * is checked entry by entry against index formulas written here from the
 * definitions (docs/graph-format.md), and weight matching of the model with
 * its permuted copy gives the model back. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "testutil.h"

/* point P (width 4) made by a, point Q (width 2) made by d; f consumes P
 * flattened with 3 entries per unit; c consumes cat(P, Q); n is a norm on
 * cat(P, Q). */
enum { X = 3, WP = 4, WQ = 2, K = 3, OF = 2, OC = 5 };

struct net {
	double a_w[WP][X], a_b[WP], d_w[WQ][X], f_w[OF][WP * K], c_w[OC][WP + WQ], n_w[WP + WQ];
	double head[OC];
};

static double lcg(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (double)(*s >> 11) / 9007199254740992.0 - 0.5;
}

static mudsc_model *net_model(struct net *n)
{
	mudsc_model *m;
	int64_t sa[2] = {WP, X}, sb = WP, sd[2] = {WQ, X}, sf[2] = {OF, WP * K};
	int64_t sc[2] = {OC, WP + WQ}, sn = WP + WQ, sh = OC;

	ck_assert_ok(mudsc_model_new(&m));
	ck_assert_ok(mudsc_model_add(m, "a.weight", MUDSC_DTYPE_F64, 2, sa, n->a_w, MUDSC_BORROW));
	ck_assert_ok(mudsc_model_add(m, "a.bias", MUDSC_DTYPE_F64, 1, &sb, n->a_b, MUDSC_BORROW));
	ck_assert_ok(mudsc_model_add(m, "d.weight", MUDSC_DTYPE_F64, 2, sd, n->d_w, MUDSC_BORROW));
	ck_assert_ok(mudsc_model_add(m, "f.weight", MUDSC_DTYPE_F64, 2, sf, n->f_w, MUDSC_BORROW));
	ck_assert_ok(mudsc_model_add(m, "c.weight", MUDSC_DTYPE_F64, 2, sc, n->c_w, MUDSC_BORROW));
	ck_assert_ok(mudsc_model_add(m, "n.weight", MUDSC_DTYPE_F64, 1, &sn, n->n_w, MUDSC_BORROW));
	ck_assert_ok(mudsc_model_add(m, "head", MUDSC_DTYPE_F64, 1, &sh, n->head, MUDSC_BORROW));
	return m;
}

static mudsc_graph *net_graph(int64_t groups_p)
{
	static const char *const parts[] = {"p", "q"};
	const int64_t sizes[] = {WP, WQ};
	mudsc_graph *g;

	ck_assert_ok(mudsc_graph_new(&g));
	ck_assert_ok(mudsc_graph_add_point(NULL, g, "P", WP, groups_p));
	ck_assert_ok(mudsc_graph_add_point(NULL, g, "Q", WQ, 1));
	ck_assert_ok(mudsc_graph_add_concat(g, "c.weight", 1, 2, parts, sizes));
	ck_assert_ok(mudsc_graph_add_concat(g, "n.weight", 0, 2, parts, sizes));
	ck_assert_ok(mudsc_graph_bind(g, 0, "a.weight", NULL, 0, MUDSC_ROLE_OUT, 0));
	ck_assert_ok(mudsc_graph_bind(g, 0, "a.bias", NULL, 0, MUDSC_ROLE_OUT, 0));
	ck_assert_ok(mudsc_graph_bind_repeat(g, 0, "f.weight", NULL, 1, MUDSC_ROLE_IN, 0, K));
	ck_assert_ok(mudsc_graph_bind(g, 0, "c.weight", "p", 1, MUDSC_ROLE_IN, 0));
	ck_assert_ok(mudsc_graph_bind(g, 0, "n.weight", "p", 0, MUDSC_ROLE_OUT, 0));
	ck_assert_ok(mudsc_graph_bind(g, 1, "d.weight", NULL, 0, MUDSC_ROLE_OUT, 0));
	ck_assert_ok(mudsc_graph_bind(g, 1, "c.weight", "q", 1, MUDSC_ROLE_IN, 0));
	ck_assert_ok(mudsc_graph_bind(g, 1, "n.weight", "q", 0, MUDSC_ROLE_OUT, 0));
	return g;
}

static void random_net(struct net *n, uint64_t seed)
{
	double *p = (double *)n;
	for (size_t i = 0; i < sizeof *n / sizeof(double); i++)
		p[i] = lcg(&seed);
}

/* b = a permuted by p (P) and q (Q): new unit j is old unit p[j]. */
static void expected(struct net *b, const struct net *a, const int64_t *p, const int64_t *q)
{
	*b = *a;
	for (int j = 0; j < WP; j++) {
		memcpy(b->a_w[j], a->a_w[p[j]], sizeof b->a_w[j]);
		b->a_b[j] = a->a_b[p[j]];
		b->n_w[j] = a->n_w[p[j]];
		for (int o = 0; o < OF; o++)
			for (int r = 0; r < K; r++)
				b->f_w[o][j * K + r] = a->f_w[o][p[j] * K + r];
		for (int o = 0; o < OC; o++)
			b->c_w[o][j] = a->c_w[o][p[j]];
	}
	for (int j = 0; j < WQ; j++) {
		memcpy(b->d_w[j], a->d_w[q[j]], sizeof b->d_w[j]);
		b->n_w[WP + j] = a->n_w[WP + q[j]];
		for (int o = 0; o < OC; o++)
			b->c_w[o][WP + j] = a->c_w[o][WP + q[j]];
	}
}

static void assert_model_is(const mudsc_model *m, struct net *n, double tol)
{
	mudsc_model *want = net_model(n);
	for (size_t i = 0; i < mudsc_model_count(want); i++) {
		mudsc_tensor x, y;
		ck_assert_ok(mudsc_model_at(&x, want, i));
		ck_assert_ok(mudsc_model_find(&y, m, x.name));
		ck_assert_int_eq(x.rank, y.rank);
		for (int32_t d = 0; d < x.rank; d++)
			ck_assert_int_eq(x.shape[d], y.shape[d]);
		for (size_t k = 0; k < x.nbytes / 8; k++)
			ck_assert_msg(fabs(((const double *)x.data)[k] - ((const double *)y.data)[k]) <= tol,
			              "%s[%zu]", x.name, k);
	}
	mudsc_model_free(want);
}

START_TEST(permuted_copy_matches_index_formulas)
{
	struct net a, b;
	mudsc_model *m, *pm;
	mudsc_graph *g = net_graph(_i == 0 ? 1 : 2);
	int64_t p[WP], q[WQ], ident_q[WQ] = {0, 1};
	size_t needed = 0;
	int moved = 0;

	random_net(&a, 7);
	m = net_model(&a);
	ck_assert_ok(mudsc_graph_validate(g, (const mudsc_model *const *)&m, 1));
	ck_assert_ok(mudsc_permute_point(NULL, 0, &needed, g, 0, 99));
	ck_assert_uint_eq(needed, WP);
	ck_assert_ok(mudsc_permute_point(p, WP, NULL, g, 0, 99));
	ck_assert_ok(mudsc_permute_point(q, WQ, NULL, g, 1, 99));
	for (int j = 0; j < WP; j++) {
		moved += p[j] != j;
		if (_i == 1) /* groups 2: units stay in their half */
			ck_assert_int_eq(p[j] / 2, j / 2);
	}
	ck_assert_ok(mudsc_permute_model(&pm, g, m, 99, -1));
	expected(&b, &a, p, q);
	assert_model_is(pm, &b, 0.0);
	mudsc_model_free(pm);
	/* only point P: Q left as it is */
	ck_assert_ok(mudsc_permute_model(&pm, g, m, 99, 0));
	expected(&b, &a, p, ident_q);
	assert_model_is(pm, &b, 0.0);
	mudsc_model_free(pm);
	(void)moved;
	ck_assert_status(mudsc_permute_model(&pm, g, m, 99, 2), MUDSC_E_RANGE);
	ck_assert_status(mudsc_permute_point(p, WP, NULL, g, 2, 99), MUDSC_E_RANGE);
	mudsc_model_free(m);
	mudsc_graph_free(g);
}
END_TEST

START_TEST(weight_matching_undoes_the_permutation)
{
	struct net a;
	mudsc_model *m, *pm, *merged, *back;
	mudsc_graph *g = net_graph(1);
	mudsc_matcher *mt;

	random_net(&a, 11);
	m = net_model(&a);
	ck_assert_ok(mudsc_permute_model(&pm, g, m, 5, -1));
	const mudsc_model *pair[2] = {m, pm};
	ck_assert_ok(mudsc_matcher_new(&mt, g, pair, 2, NULL));
	ck_assert_ok(mudsc_matcher_run(mt));
	ck_assert_ok(mudsc_matcher_merge(&merged, mt, NULL));
	assert_model_is(merged, &a, 1e-12);
	ck_assert_ok(mudsc_matcher_transform(&back, mt, 1));
	assert_model_is(back, &a, 0.0);
	mudsc_model_free(merged);
	mudsc_model_free(back);
	mudsc_matcher_free(mt);
	mudsc_model_free(pm);
	mudsc_model_free(m);
	mudsc_graph_free(g);
}
END_TEST

START_TEST(zip_narrows_repeated_and_concatenated_axes)
{
	struct net a;
	mudsc_model *m, *pm, *merged;
	mudsc_graph *g = net_graph(1);
	mudsc_matcher *mt;
	mudsc_matcher_options o = MUDSC_MATCHER_OPTIONS_INIT;
	mudsc_tensor t;

	random_net(&a, 13);
	m = net_model(&a);
	ck_assert_ok(mudsc_permute_model(&pm, g, m, 5, -1));
	const mudsc_model *pair[2] = {m, pm};
	o.method = MUDSC_METHOD_ZIP;
	ck_assert_ok(mudsc_matcher_new(&mt, g, pair, 2, &o));
	ck_assert_ok(mudsc_matcher_run(mt));
	ck_assert_ok(mudsc_matcher_merge(&merged, mt, NULL));
	/* a permuted copy zips onto itself: widths kept, the model back */
	ck_assert_ok(mudsc_model_find(&t, merged, "f.weight"));
	ck_assert_int_eq(t.shape[1], WP * K);
	ck_assert_ok(mudsc_model_find(&t, merged, "c.weight"));
	ck_assert_int_eq(t.shape[1], WP + WQ);
	assert_model_is(merged, &a, 1e-9);
	mudsc_model_free(merged);
	mudsc_matcher_free(mt);
	mudsc_model_free(pm);
	mudsc_model_free(m);
	mudsc_graph_free(g);
}
END_TEST

START_TEST(validate_and_json_version_2)
{
	struct net a;
	mudsc_model *m;
	mudsc_graph *g = net_graph(1), *back, *bad;
	char *text, *again;
	size_t len;
	mudsc_binding_info bi;
	mudsc_split_info si;
	static const char *const parts[] = {"p", "q"};
	const int64_t wrong[] = {WP, WQ + 1};

	random_net(&a, 3);
	m = net_model(&a);
	ck_assert_ok(mudsc_graph_to_json(&text, &len, g));
	ck_assert_ptr_nonnull(strstr(text, "\"version\": 2"));
	ck_assert_ptr_nonnull(strstr(text, "\"repeat\": 3"));
	ck_assert_ptr_nonnull(strstr(text, "\"sizes\""));
	ck_assert_ok(mudsc_graph_from_json(&back, text, len));
	ck_assert_ok(mudsc_graph_to_json(&again, NULL, back));
	ck_assert_str_eq(text, again);
	ck_assert_ok(mudsc_graph_binding_at(&bi, back, 0, 2));
	ck_assert_str_eq(bi.tensor, "f.weight");
	ck_assert_int_eq(bi.repeat, K);
	ck_assert_ok(mudsc_graph_binding_at(&bi, back, 0, 0));
	ck_assert_int_eq(bi.repeat, 1);
	ck_assert_ok(mudsc_graph_split_at(&si, back, 0));
	ck_assert_ptr_nonnull(si.sizes);
	ck_assert_int_eq(si.sizes[0], WP);
	ck_assert_int_eq(si.sizes[1], WQ);
	/* version 1 cannot say it */
	{
		char *v1 = strdup(text), *at = strstr(v1, "\"version\": 2");
		at[11] = '1';
		ck_assert_status(mudsc_graph_from_json(&bad, v1, strlen(v1)), MUDSC_E_PARSE);
		ck_assert_error_has("use version 2");
		free(v1);
	}
	mudsc_free(text);
	mudsc_free(again);
	mudsc_graph_free(back);
	/* sizes that do not add up, a repeat that does not fit */
	ck_assert_ok(mudsc_graph_new(&bad));
	ck_assert_ok(mudsc_graph_add_point(NULL, bad, "P", WP, 1));
	ck_assert_ok(mudsc_graph_add_concat(bad, "c.weight", 1, 2, parts, wrong));
	ck_assert_status(mudsc_graph_validate(bad, (const mudsc_model *const *)&m, 1), MUDSC_E_SHAPE);
	ck_assert_error_has("add up to 7");
	mudsc_graph_free(bad);
	ck_assert_ok(mudsc_graph_new(&bad));
	ck_assert_ok(mudsc_graph_add_point(NULL, bad, "P", WP, 1));
	ck_assert_ok(mudsc_graph_bind_repeat(bad, 0, "f.weight", NULL, 1, MUDSC_ROLE_IN, 0, 2));
	ck_assert_status(mudsc_graph_validate(bad, (const mudsc_model *const *)&m, 1), MUDSC_E_SHAPE);
	ck_assert_error_has("repeat 2");
	mudsc_graph_free(bad);
	mudsc_model_free(m);
	mudsc_graph_free(g);
}
END_TEST

START_TEST(repeat_past_the_rank_limit_is_refused)
{
	/* rank 8 with one repeated axis would need 9 plan axes */
	int64_t shape[8] = {2, 2, 2, 2, 2, 2, 2, 4};
	double data[512] = {0};
	mudsc_model *m, *out = NULL;
	mudsc_graph *g;

	ck_assert_ok(mudsc_model_new(&m));
	ck_assert_ok(mudsc_model_add(m, "t", MUDSC_DTYPE_F64, 8, shape, data, MUDSC_BORROW));
	ck_assert_ok(mudsc_graph_new(&g));
	ck_assert_ok(mudsc_graph_add_point(NULL, g, "P", 2, 1));
	ck_assert_ok(mudsc_graph_bind_repeat(g, 0, "t", NULL, 7, MUDSC_ROLE_IN, 0, 2));
	ck_assert_status(mudsc_permute_model(&out, g, m, 1, -1), MUDSC_E_UNSUPPORTED);
	ck_assert_error_has("more than 8 axes");
	ck_assert_ptr_null(out);
	mudsc_graph_free(g);
	mudsc_model_free(m);
}
END_TEST

static int unbound_seen;

static void count_unbound(mudsc_log_level level, const char *message, void *user)
{
	(void)level;
	(void)user;
	if (strstr(message, "'head'") != NULL && strstr(message, "bound to no point") != NULL)
		unbound_seen++;
}

START_TEST(matcher_logs_unbound_float_tensors)
{
	struct net a;
	mudsc_model *m;
	mudsc_graph *g = net_graph(1);
	mudsc_matcher *mt;

	random_net(&a, 3);
	m = net_model(&a);
	const mudsc_model *pair[2] = {m, m};
	unbound_seen = 0;
	mudsc_log_set_callback(count_unbound, MUDSC_LOG_INFO, NULL);
	ck_assert_ok(mudsc_matcher_new(&mt, g, pair, 2, NULL));
	mudsc_log_set_callback(NULL, MUDSC_LOG_ERROR, NULL);
	ck_assert_int_eq(unbound_seen, 1);
	mudsc_matcher_free(mt);
	mudsc_model_free(m);
	mudsc_graph_free(g);
}
END_TEST

Suite *suite_permute(void)
{
	Suite *s = suite_create("permute");
	TCase *tc = tcase_create("core");
	tcase_add_loop_test(tc, permuted_copy_matches_index_formulas, 0, 2);
	tcase_add_test(tc, weight_matching_undoes_the_permutation);
	tcase_add_test(tc, zip_narrows_repeated_and_concatenated_axes);
	tcase_add_test(tc, validate_and_json_version_2);
	tcase_add_test(tc, matcher_logs_unbound_float_tensors);
	tcase_add_test(tc, repeat_past_the_rank_limit_is_refused);
	suite_add_tcase(s, tc);
	return s;
}
