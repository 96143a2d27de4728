/*
 * Options that grow (lib/core/options.c): every options struct of the API
 * passed at each size a release gave it, heap-allocated to exactly that size
 * (an over-read is an ASan report), works, with the caller's fields used;
 * a size outside the released range is MUDSC_E_INVALID naming the struct;
 * every _options_init refuses NULL.  A synthetic struct with two releases
 * proves the older-caller path: the fields it lacks take the defaults.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "mudsc/experimental.h"
#include "suites.h"
#include "testutil.h"

/* The library's defaults (from its public _init) in a heap block of exactly
 * `size` bytes whose size field says size: what a caller compiled against a
 * release where the struct had that size passes. */
static void *sized_copy(const void *full, size_t size)
{
	void *p = malloc(size);
	ck_assert_ptr_nonnull(p);
	memcpy(p, full, size);
	memcpy(p, &size, sizeof size);
	return p;
}

/* ---- one entry per options struct ---------------------------------------- */

enum { N_MODELS = 2, WIDTH = 3 };
static double w0[WIDTH][2] = {{1, 2}, {3, 4}, {5, 6}}, b0[WIDTH] = {1, 0, -1};
static double w1[1][WIDTH] = {{1, -2, 3}};

static mudsc_model *tiny_mlp(void)
{
	mudsc_model *m;
	int64_t s0[2] = {WIDTH, 2}, c0 = WIDTH, s1[2] = {1, WIDTH};
	ck_assert_ok(mudsc_model_new(&m));
	ck_assert_ok(mudsc_model_add(m, "layers.0.weight", MUDSC_DTYPE_F64, 2, s0, w0, MUDSC_BORROW));
	ck_assert_ok(mudsc_model_add(m, "layers.0.bias", MUDSC_DTYPE_F64, 1, &c0, b0, MUDSC_BORROW));
	ck_assert_ok(mudsc_model_add(m, "layers.1.weight", MUDSC_DTYPE_F64, 2, s1, w1, MUDSC_BORROW));
	return m;
}

/* matcher: method = zip in the caller's bytes: permutations are refused */
static void set_matcher(void *o)
{
	((mudsc_matcher_options *)o)->method = MUDSC_METHOD_ZIP;
}
static mudsc_status use_matcher(const void *o, bool custom)
{
	int64_t hidden = WIDTH, perm[WIDTH];
	mudsc_mlp_options mo = MUDSC_MLP_OPTIONS_INIT;
	mudsc_graph *g;
	mudsc_model *models[N_MODELS] = {tiny_mlp(), tiny_mlp()};
	mudsc_matcher *m = NULL;
	mudsc_status st;

	mo.n_hidden = 1;
	mo.hidden = &hidden;
	ck_assert_ok(mudsc_graph_build_mlp(&g, &mo));
	st = mudsc_matcher_new(&m, g, (const mudsc_model *const *)models, N_MODELS, o);
	if (st == MUDSC_OK) {
		ck_assert_ok(mudsc_matcher_run(m));
		ck_assert_status(mudsc_matcher_permutation(perm, WIDTH, NULL, m, 0, 1),
		                 custom ? MUDSC_E_STATE : MUDSC_OK);
	}
	mudsc_matcher_free(m);
	mudsc_graph_free(g);
	mudsc_model_free(models[0]);
	mudsc_model_free(models[1]);
	return st;
}

/* accumulators: nonfinite = zero in the caller's bytes: a NaN is accepted */
static void set_accum(void *o)
{
	((mudsc_accum_options *)o)->nonfinite = MUDSC_NONFINITE_ZERO;
}
static void nan_is_zero(mudsc_accum *acc, bool custom)
{
	double x[2] = {NAN, 1.0}, mean[2];
	mudsc_features f = {.dtype = MUDSC_DTYPE_F64, .rank = 2, .shape = {2, 1},
	                    .feature_axis = -1, .data = x};
	if (!custom) {
		ck_assert_status(mudsc_accum_update(acc, 0, &f), MUDSC_E_NUMERIC);
		return;
	}
	ck_assert_ok(mudsc_accum_update(acc, 0, &f));
	ck_assert_ok(mudsc_accum_update(acc, 1, &f));
	ck_assert_ok(mudsc_accum_means(mean, 2, NULL, acc));
	ck_assert_double_eq(mean[0], 0.5);
}
static mudsc_status use_accum(const void *o, bool custom)
{
	mudsc_accum *acc = NULL;
	mudsc_status st = mudsc_accum_new(&acc, 2, 1, o);
	if (st == MUDSC_OK)
		nan_is_zero(acc, custom);
	mudsc_accum_free(acc);
	return st;
}
static mudsc_status use_deserialize(const void *o, bool custom)
{
	mudsc_accum *src, *acc = NULL;
	double x[2] = {1.0, 3.0};
	mudsc_features f = {.dtype = MUDSC_DTYPE_F64, .rank = 2, .shape = {2, 1},
	                    .feature_axis = -1, .data = x};
	void *buf;
	size_t len;
	mudsc_status st;

	ck_assert_ok(mudsc_accum_new(&src, 2, 1, NULL));
	ck_assert_ok(mudsc_accum_update(src, 0, &f));
	ck_assert_ok(mudsc_accum_update(src, 1, &f));
	ck_assert_ok(mudsc_accum_serialize(&buf, &len, src));
	st = mudsc_accum_deserialize(&acc, buf, len, o);
	if (st == MUDSC_OK) {
		int64_t n;
		ck_assert_ok(mudsc_accum_count(&n, acc, -1));
		ck_assert_int_eq(n, 2);
		ck_assert_status(mudsc_accum_update(acc, 0, &(mudsc_features){
		                     .dtype = MUDSC_DTYPE_F64, .rank = 2, .shape = {1, 1},
		                     .feature_axis = -1, .data = (double[1]){NAN}}),
		                 custom ? MUDSC_OK : MUDSC_E_NUMERIC);
	}
	mudsc_free(buf);
	mudsc_accum_free(src);
	mudsc_accum_free(acc);
	return st;
}

/* builders: a prefix in the caller's bytes names the points */
static int64_t mlp_hidden[2] = {4, 6};
static void set_mlp(void *o)
{
	mudsc_mlp_options *m = o;
	m->n_hidden = 2;
	m->hidden = mlp_hidden;
	m->prefix = "net.";
}
static mudsc_status use_graph(mudsc_status st, mudsc_graph *g, size_t points, const char *first,
                              bool custom)
{
	mudsc_point_info pi;
	if (st == MUDSC_OK && custom) {
		ck_assert_uint_eq(mudsc_graph_point_count(g), points);
		ck_assert_ok(mudsc_graph_point_at(&pi, g, 0));
		ck_assert_str_eq(pi.name, first);
	}
	mudsc_graph_free(g);
	return st;
}
static mudsc_status use_mlp(const void *o, bool custom)
{
	mudsc_graph *g = NULL;
	mudsc_status st = mudsc_graph_build_mlp(&g, o);
	return use_graph(st, g, 2, "net.layers.0", custom);
}
static void set_resnet(void *o)
{
	((mudsc_resnet_options *)o)->prefix = "m.";
}
static mudsc_status use_resnet(const void *o, bool custom)
{
	mudsc_graph *g = NULL;
	mudsc_status st = mudsc_graph_build_resnet(&g, o);
	return use_graph(st, g, 3 + 9, custom ? "m.layer1" : "layer1",
	                 true);
}
static void set_vit(void *o)
{
	((mudsc_vit_options *)o)->depth = 1;
}
static mudsc_status use_vit(const void *o, bool custom)
{
	mudsc_graph *g = NULL;
	mudsc_status st = mudsc_graph_build_vit(&g, o);
	return use_graph(st, g, custom ? 3 : 1 + 2 * 12, "residual", true);
}

static void set_llama(void *o)
{
	((mudsc_llama_options *)o)->n_layers = 1;
}
static mudsc_status use_llama(const void *o, bool custom)
{
	mudsc_graph *g = NULL;
	mudsc_status st = mudsc_graph_build_llama(&g, o);
	/* the stream, then per layer 32 value heads and the MLP */
	return use_graph(st, g, 1 + (custom ? 1 : 32) * 33, "model.residual", true);
}
static void set_gpt2(void *o)
{
	((mudsc_gpt2_options *)o)->n_layers = 1;
}
static mudsc_status use_gpt2(const void *o, bool custom)
{
	mudsc_graph *g = NULL;
	mudsc_status st = mudsc_graph_build_gpt2(&g, o);
	return use_graph(st, g, custom ? 3 : 1 + 2 * 12, "residual", true);
}

/* match kernels: r = 0.75 in the caller's bytes: zip keeps 2 of 8 units */
static void set_match(void *o)
{
	((mudsc_match_options *)o)->r = 0.75;
}
static mudsc_status use_match(const void *o, bool custom)
{
	double S[64];
	int64_t unit_of[8], width = -1;
	mudsc_status st;

	for (int a = 0; a < 8; a++)
		for (int b = 0; b < 8; b++)
			S[a * 8 + b] = a == b ? 1.0 : 1.0 / (1 + abs(a - b) + (a + b) % 3);
	st = mudsc_zip_solve(unit_of, &width, NULL, NULL, S, 2, 4, 1, o);
	if (st == MUDSC_OK)
		ck_assert_int_eq(width, custom ? 2 : 4);
	return st;
}

struct options_case {
	enum mudsc__options_id id;
	const char *name;
	mudsc_status (*init)(void *opts);
	void (*set)(void *opts);
	/* call the entry; custom: opts carry set()'s value (else: the defaults) */
	mudsc_status (*use)(const void *opts, bool custom);
};

/* The public _init functions, as one type. */
static mudsc_status init_matcher(void *o) { return mudsc_matcher_options_init(o); }
static mudsc_status init_accum(void *o) { return mudsc_accum_options_init(o); }
static mudsc_status init_mlp(void *o) { return mudsc_mlp_options_init(o); }
static mudsc_status init_resnet(void *o) { return mudsc_resnet_options_init(o); }
static mudsc_status init_vit(void *o) { return mudsc_vit_options_init(o); }
static mudsc_status init_llama(void *o) { return mudsc_llama_options_init(o); }
static mudsc_status init_gpt2(void *o) { return mudsc_gpt2_options_init(o); }
static mudsc_status init_match(void *o) { return mudsc_match_options_init(o); }

static const struct options_case cases[] = {
	{MUDSC__OPTIONS_MATCHER, "mudsc_matcher_options", init_matcher, set_matcher, use_matcher},
	{MUDSC__OPTIONS_ACCUM, "mudsc_accum_options", init_accum, set_accum, use_accum},
	{MUDSC__OPTIONS_ACCUM, "mudsc_accum_options", init_accum, set_accum, use_deserialize},
	{MUDSC__OPTIONS_MLP, "mudsc_mlp_options", init_mlp, set_mlp, use_mlp},
	{MUDSC__OPTIONS_RESNET, "mudsc_resnet_options", init_resnet, set_resnet, use_resnet},
	{MUDSC__OPTIONS_VIT, "mudsc_vit_options", init_vit, set_vit, use_vit},
	{MUDSC__OPTIONS_LLAMA, "mudsc_llama_options", init_llama, set_llama, use_llama},
	{MUDSC__OPTIONS_GPT2, "mudsc_gpt2_options", init_gpt2, set_gpt2, use_gpt2},
	{MUDSC__OPTIONS_MATCH, "mudsc_match_options", init_match, set_match, use_match},
};
enum { N_CASES = sizeof cases / sizeof cases[0] };

/* Every released size (today's and the first release's) works and the
 * caller's fields are used. */
START_TEST(each_released_size_works)
{
	const struct options_case *c = &cases[_i];
	const struct mudsc__options_type *t = mudsc__options_type_of(c->id);
	size_t sizes[2] = {t->size, t->first_size};
	unsigned char full[512];

	ck_assert_uint_le(t->size, sizeof full);
	ck_assert_str_eq(t->name, c->name);
	ck_assert_uint_le(t->first_size, t->size);
	ck_assert_ok(c->init(full));
	ck_assert_uint_eq(*(size_t *)full, t->size);
	c->set(full);
	for (int k = 0; k < 2; k++) {
		void *o = sized_copy(full, sizes[k]);
		ck_assert_msg(c->use(o, true) == MUDSC_OK, "%s at %zu bytes: %s", c->name, sizes[k],
		              mudsc_error_message());
		free(o);
	}
	/* NULL: the defaults (which give an MLP no hidden layer) */
	ck_assert_status(c->use(NULL, false), c->id == MUDSC__OPTIONS_MLP ? MUDSC_E_INVALID : MUDSC_OK);
}
END_TEST

/* Sizes the library does not know are refused, naming the struct. */
START_TEST(unknown_sizes_are_refused)
{
	const struct options_case *c = &cases[_i];
	const struct mudsc__options_type *t = mudsc__options_type_of(c->id);
	size_t bad[3] = {t->size + 8, t->first_size - 1, 0};
	unsigned char full[512 + 8] = {0};
	char expect[128];

	ck_assert_ok(c->init(full));
	for (int k = 0; k < 3; k++) {
		void *o = sized_copy(full, bad[k] > sizeof(size_t) ? bad[k] : sizeof(size_t));
		memcpy(o, &bad[k], sizeof bad[k]);
		ck_assert_status(c->use(o, false), MUDSC_E_INVALID);
		snprintf(expect, sizeof expect, "opts->size = %zu is not a size of %s (%zu..%zu bytes",
		         bad[k], c->name, t->first_size, t->size);
		ck_assert_error_has(expect);
		free(o);
	}
}
END_TEST

START_TEST(init_refuses_null)
{
	static const char *const names[] = {
		"mudsc_matcher_options_init", "mudsc_accum_options_init", "mudsc_mlp_options_init",
		"mudsc_resnet_options_init", "mudsc_vit_options_init", "mudsc_llama_options_init",
		"mudsc_gpt2_options_init", "mudsc_match_options_init"};
	mudsc_status (*const inits[])(void *) = {init_matcher, init_accum, init_mlp, init_resnet,
	                                         init_vit, init_llama, init_gpt2, init_match};
	for (size_t k = 0; k < sizeof inits / sizeof inits[0]; k++) {
		ck_assert_status(inits[k](NULL), MUDSC_E_INVALID);
		ck_assert_error_has(names[k]);
		ck_assert_error_has("'opts' is NULL");
	}
}
END_TEST

START_TEST(options_size_is_what_init_writes)
{
	mudsc_matcher_options mo;
	mudsc_accum_options ao;
	mudsc_mlp_options lo;
	mudsc_resnet_options ro;
	mudsc_vit_options vo;
	mudsc_llama_options llo;
	mudsc_gpt2_options go;
	mudsc_field_options fo;

	ck_assert_ok(mudsc_field_options_init(&fo));
	ck_assert_uint_eq(mudsc_options_size(MUDSC_OPTIONS_FIELD), fo.size);
	ck_assert_uint_eq(fo.size, sizeof fo);
	ck_assert_ok(mudsc_matcher_options_init(&mo));
	ck_assert_ok(mudsc_accum_options_init(&ao));
	ck_assert_ok(mudsc_mlp_options_init(&lo));
	ck_assert_ok(mudsc_resnet_options_init(&ro));
	ck_assert_ok(mudsc_vit_options_init(&vo));
	ck_assert_ok(mudsc_llama_options_init(&llo));
	ck_assert_ok(mudsc_gpt2_options_init(&go));
	ck_assert_uint_eq(mudsc_options_size(MUDSC_OPTIONS_MATCHER), mo.size);
	ck_assert_uint_eq(mudsc_options_size(MUDSC_OPTIONS_ACCUM), ao.size);
	ck_assert_uint_eq(mudsc_options_size(MUDSC_OPTIONS_MLP), lo.size);
	ck_assert_uint_eq(mudsc_options_size(MUDSC_OPTIONS_RESNET), ro.size);
	ck_assert_uint_eq(mudsc_options_size(MUDSC_OPTIONS_VIT), vo.size);
	ck_assert_uint_eq(mudsc_options_size(MUDSC_OPTIONS_LLAMA), llo.size);
	ck_assert_uint_eq(mudsc_options_size(MUDSC_OPTIONS_GPT2), go.size);
	ck_assert_uint_eq(mo.size, sizeof mo);
	ck_assert_uint_eq(ao.size, sizeof ao);
	ck_assert_uint_eq(mudsc_options_size(-1), 0);
	ck_assert_uint_eq(mudsc_options_size(8), 0);
}
END_TEST

/* ---- the helper on a synthetic struct with two releases ----------------- */

/* Release 1 had {size, a, b}; release 2 appended c and d. */
struct synth_v1 {
	size_t size;
	int32_t a;
	double b;
};
struct synth_v2 {
	size_t size;
	int32_t a;
	double b;
	int64_t c;
	const char *d;
};
static const struct synth_v2 synth_defaults = {sizeof(struct synth_v2), 1, 2.0, 3, "four"};
static const struct mudsc__options_type synth = {
	"synth_options", MUDSC__SIZE_THROUGH(struct synth_v2, b), sizeof(struct synth_v2),
	&synth_defaults};

START_TEST(older_caller_gets_the_defaults)
{
	struct synth_v1 *old = malloc(sizeof *old); /* exactly release 1's bytes */
	struct synth_v2 out, *now = malloc(sizeof *now);

	/* the recorded first size is release 1's sizeof */
	ck_assert_uint_eq(synth.first_size, sizeof(struct synth_v1));
	*old = (struct synth_v1){sizeof *old, 10, 20.0};
	ck_assert_ok(mudsc__options_take(&out, old, &synth, "test"));
	ck_assert_uint_eq(out.size, sizeof out);
	ck_assert_int_eq(out.a, 10);
	ck_assert_double_eq(out.b, 20.0);
	ck_assert_int_eq(out.c, 3);
	ck_assert_str_eq(out.d, "four");
	/* a caller of release 2: every field is its own */
	*now = (struct synth_v2){sizeof *now, 11, 21.0, 31, "mine"};
	ck_assert_ok(mudsc__options_take(&out, now, &synth, "test"));
	ck_assert_int_eq(out.a, 11);
	ck_assert_int_eq(out.c, 31);
	ck_assert_str_eq(out.d, "mine");
	/* NULL: the defaults */
	ck_assert_ok(mudsc__options_take(&out, NULL, &synth, "test"));
	ck_assert_int_eq(out.a, 1);
	ck_assert_str_eq(out.d, "four");
	/* too small or too large: refused, out untouched */
	memset(&out, 0x5a, sizeof out);
	old->size = sizeof *old - 1;
	ck_assert_status(mudsc__options_take(&out, old, &synth, "test"), MUDSC_E_INVALID);
	ck_assert_error_has("test: opts->size = 23 is not a size of synth_options (24..40 bytes");
	now->size = sizeof *now + 1;
	ck_assert_status(mudsc__options_take(&out, now, &synth, "test"), MUDSC_E_INVALID);
	ck_assert_error_has("opts->size = 41 is not a size of synth_options");
	ck_assert_int_eq(out.a, 0x5a5a5a5a);
	free(old);
	free(now);
}
END_TEST

/* MUDSC__SIZE_THROUGH gives the sizeof of the release whose last field it
 * names, tail padding included. */
START_TEST(size_through_is_the_release_sizeof)
{
	struct padded {
		size_t size;
		int64_t x;
		int32_t last; /* 4 bytes of tail padding follow */
		int32_t later;
	};
	struct padded_v1 {
		size_t size;
		int64_t x;
		int32_t last;
	};
	ck_assert_uint_eq(MUDSC__SIZE_THROUGH(struct padded, last), sizeof(struct padded_v1));
	ck_assert_uint_eq(MUDSC__SIZE_THROUGH(struct padded, later), sizeof(struct padded));
}
END_TEST

Suite *suite_options(void)
{
	Suite *s = suite_create("options");
	TCase *tc = tcase_create("core");
	tcase_add_loop_test(tc, each_released_size_works, 0, N_CASES);
	tcase_add_loop_test(tc, unknown_sizes_are_refused, 0, N_CASES);
	tcase_add_test(tc, init_refuses_null);
	tcase_add_test(tc, options_size_is_what_init_writes);
	tcase_add_test(tc, older_caller_gets_the_defaults);
	tcase_add_test(tc, size_through_is_the_release_sizeof);
	suite_add_tcase(s, tc);
	return s;
}
