/*
 * A graph from a JSON file (mudsc_graph_load_json) or from a ready
 * builder (mudsc_graph_build_mlp/_resnet/_vit) with options given as
 * key = value strings (from the config file or from flags).
 *
 * SPDX-License-Identifier: MIT
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void graph_spec_free(struct graph_spec *g)
{
	free(g->file);
	free(g->builder);
	strlist_free(&g->keys);
	strlist_free(&g->values);
	strlist_free(&g->wheres);
	*g = (struct graph_spec){0};
}

void graph_spec_set(struct graph_spec *g, const char *file, const char *builder)
{
	free(g->file);
	free(g->builder);
	g->file = file ? strdup(file) : NULL;
	g->builder = builder ? strdup(builder) : NULL;
}

int graph_spec_add_kv(struct graph_spec *g, const char *kv, const char *where)
{
	const char *eq = strchr(kv, '=');
	if (eq == NULL || eq == kv)
		return cli_usage("%s '%s': expected KEY=VALUE (e.g. hidden=512,512)", where, kv);
	char key[128];
	size_t n = (size_t)(eq - kv);
	if (n >= sizeof key)
		return cli_usage("%s '%s': the key is too long", where, kv);
	memcpy(key, kv, n);
	key[n] = '\0';
	strlist_push(&g->keys, key);
	strlist_push(&g->values, eq + 1);
	strlist_push(&g->wheres, where);
	return 0;
}

/* The option table of a builder: name, kind, offset in its options struct. */
enum kind { K_I64, K_I32, K_BOOL, K_STR, K_I64LIST, K_NORM, K_SIZE };
struct opt {
	const char *name;
	enum kind kind;
	size_t offset;
	const char *help;
};

#define O(s, f) offsetof(s, f)
static const struct opt mlp_opts[] = {
	{"hidden", K_I64LIST, 0, "hidden widths, comma-separated (required), e.g. 512,512"},
	{"bias", K_BOOL, O(mudsc_mlp_options, bias), "layers have biases (default true)"},
	{"prefix", K_STR, O(mudsc_mlp_options, prefix), "prepended to every name (default \"\")"},
	{"layer_template", K_STR, O(mudsc_mlp_options, layer_template),
	 "layer names, {i} = index (default layers.{i})"},
	{"index_start", K_I32, O(mudsc_mlp_options, index_start), "first index (default 0)"},
	{"index_step", K_I32, O(mudsc_mlp_options, index_step), "index step (default 1)"},
	{NULL, 0, 0, NULL}};
static const struct opt resnet_opts[] = {
	{"preset", K_STR, 0, "resnet20, resnet32, resnet56, resnet18, resnet26, resnet50"},
	{"width_multiplier", K_I64, 0, "with preset: widths times this (default 1)"},
	{"blocks", K_I64LIST, 0, "blocks per stage, e.g. 3,3,3"},
	{"widths", K_I64LIST, 0, "planes per stage, e.g. 16,32,64"},
	{"stem_width", K_I64, O(mudsc_resnet_options, stem_width), "conv1 output channels"},
	{"bottleneck", K_BOOL, O(mudsc_resnet_options, bottleneck), "bottleneck blocks"},
	{"norm", K_NORM, O(mudsc_resnet_options, norm), "batch (default) or group"},
	{"norm_groups", K_I64, O(mudsc_resnet_options, norm_groups), "G of GroupNorm"},
	{"prefix", K_STR, O(mudsc_resnet_options, prefix), "prepended to every name"},
	{"shortcut_conv", K_STR, O(mudsc_resnet_options, shortcut_conv), "default shortcut.0"},
	{"shortcut_norm", K_STR, O(mudsc_resnet_options, shortcut_norm), "default shortcut.1"},
	{"head", K_STR, O(mudsc_resnet_options, head), "classifier (default linear; \"\": none)"},
	{NULL, 0, 0, NULL}};
static const struct opt vit_opts[] = {
	{"dim", K_I64, O(mudsc_vit_options, dim), "embedding width (default 192)"},
	{"depth", K_I32, O(mudsc_vit_options, depth), "blocks (default 12)"},
	{"heads", K_I32, O(mudsc_vit_options, heads), "attention heads (default 3)"},
	{"mlp_dim", K_I64, O(mudsc_vit_options, mlp_dim), "MLP width (default 768)"},
	{"qkv_bias", K_BOOL, O(mudsc_vit_options, qkv_bias), "attn.qkv has a bias"},
	{"patch_embed", K_BOOL, O(mudsc_vit_options, patch_embed), "bind patch_embed.proj"},
	{"cls_token", K_BOOL, O(mudsc_vit_options, cls_token), "bind cls_token"},
	{"pos_embed", K_BOOL, O(mudsc_vit_options, pos_embed), "bind pos_embed"},
	{"final_norm", K_BOOL, O(mudsc_vit_options, final_norm), "bind norm"},
	{"head", K_BOOL, O(mudsc_vit_options, head), "bind head.weight"},
	{"prefix", K_STR, O(mudsc_vit_options, prefix), "prepended to every name"},
	{"block_template", K_STR, O(mudsc_vit_options, block_template), "default blocks.{i}"},
	{NULL, 0, 0, NULL}};
#undef O

static const struct builder {
	const char *name;
	const struct opt *opts;
	const char *what;
} builders[] = {{"mlp", mlp_opts, "a multilayer perceptron of Linear layers"},
                {"resnet", resnet_opts, "a ResNet (CIFAR or torchvision style)"},
                {"vit", vit_opts, "a ViT / pre-norm transformer encoder (timm names)"},
                {NULL, NULL, NULL}};

void graph_spec_help(void)
{
	for (const struct builder *b = builders; b->name; b++) {
		printf("  %s: %s\n", b->name, b->what);
		for (const struct opt *o = b->opts; o->name; o++)
			printf("      %-17s %s\n", o->name, o->help);
	}
}

/* Comma-separated integers into v[0..*n-1] (at most cap). */
static bool parse_list(const char *text, int64_t *v, size_t cap, size_t *n)
{
	char buf[1024], *save = NULL;
	if (strlen(text) >= sizeof buf)
		return false;
	strcpy(buf, text);
	*n = 0;
	for (char *tok = strtok_r(buf, ", []", &save); tok; tok = strtok_r(NULL, ", []", &save)) {
		if (*n == cap || !cli_parse_i64(tok, &v[*n]))
			return false;
		(*n)++;
	}
	return *n > 0;
}

static int bad_value(const struct graph_spec *g, size_t i, const char *expect)
{
	return cli_fail(EXIT_CONFIG, "see 'mudsc graph --help' for the builders' options",
	                "%s: option '%s' of builder '%s': '%s' is not %s", g->wheres.v[i],
	                g->keys.v[i], g->builder, g->values.v[i], expect);
}

/* Set the scalar option i of the table into the struct at base. */
static int set_scalar(void *base, const struct opt *o, const struct graph_spec *g, size_t i)
{
	const char *v = g->values.v[i];
	char *p = (char *)base + o->offset;
	int64_t x;
	int b;
	switch (o->kind) {
	case K_I64:
		if (!cli_parse_i64(v, &x))
			return bad_value(g, i, "an integer");
		memcpy(p, &x, sizeof x);
		return 0;
	case K_I32:
		if (!cli_parse_i64(v, &x) || x < INT32_MIN || x > INT32_MAX)
			return bad_value(g, i, "an integer");
		{
			int32_t y = (int32_t)x;
			memcpy(p, &y, sizeof y);
		}
		return 0;
	case K_BOOL:
		if (!cli_parse_bool(v, &b))
			return bad_value(g, i, "true or false");
		{
			int32_t y = b;
			memcpy(p, &y, sizeof y);
		}
		return 0;
	case K_STR:
		memcpy(p, &v, sizeof v);
		return 0;
	case K_NORM: {
		int32_t y;
		if (strcmp(v, "batch") == 0)
			y = MUDSC_NORM_BATCH;
		else if (strcmp(v, "group") == 0)
			y = MUDSC_NORM_GROUP;
		else
			return bad_value(g, i, "batch or group");
		memcpy(p, &y, sizeof y);
		return 0;
	}
	default:
		return 0;
	}
}

static const struct opt *find_opt(const struct builder *b, const char *key)
{
	for (const struct opt *o = b->opts; o->name; o++)
		if (strcmp(o->name, key) == 0)
			return o;
	return NULL;
}

static int unknown_opt(const struct graph_spec *g, size_t i, const struct builder *b)
{
	char known[512] = "";
	for (const struct opt *o = b->opts; o->name; o++) {
		strncat(known, o->name, sizeof known - strlen(known) - 1);
		if (o[1].name)
			strncat(known, ", ", sizeof known - strlen(known) - 1);
	}
	cli_fail(EXIT_CONFIG, NULL, "%s: builder '%s' has no option '%s'", g->wheres.v[i], b->name,
	         g->keys.v[i]);
	fprintf(stderr, "  hint: its options are %s\n", known);
	return EXIT_CONFIG;
}

static int build_mlp(mudsc_graph **out, const struct graph_spec *g, const struct builder *b,
                     const char *where)
{
	mudsc_mlp_options o;
	int64_t hidden[256];
	size_t nh = 0;
	int rc;
	mudsc_mlp_options_init(&o);
	for (size_t i = 0; i < g->keys.n; i++) {
		const struct opt *opt = find_opt(b, g->keys.v[i]);
		if (opt == NULL)
			return unknown_opt(g, i, b);
		if (strcmp(opt->name, "hidden") == 0) {
			if (!parse_list(g->values.v[i], hidden, 256, &nh))
				return bad_value(g, i, "a list of widths such as 512,512");
		} else if ((rc = set_scalar(&o, opt, g, i)) != 0) {
			return rc;
		}
	}
	if (nh == 0)
		return cli_fail(EXIT_CONFIG, "e.g. hidden=512,512 (one width per hidden layer)",
		                "%s: builder 'mlp' needs the option 'hidden'", where);
	o.n_hidden = nh;
	o.hidden = hidden;
	mudsc_status st = mudsc_graph_build_mlp(out, &o);
	return st ? cli_fail_lib(st, false, "%s: builder 'mlp'", where) : 0;
}

static int build_resnet(mudsc_graph **out, const struct graph_spec *g, const struct builder *b,
                        const char *where)
{
	mudsc_resnet_options o;
	int64_t list[8], mult = 1;
	size_t n;
	const char *preset = NULL;
	int rc;
	mudsc_resnet_options_init(&o);
	for (size_t i = 0; i < g->keys.n; i++) { /* the preset first: the rest adjusts it */
		if (strcmp(g->keys.v[i], "preset") == 0)
			preset = g->values.v[i];
		if (strcmp(g->keys.v[i], "width_multiplier") == 0 &&
		    !cli_parse_i64(g->values.v[i], &mult))
			return bad_value(g, i, "an integer");
	}
	if (preset != NULL) {
		mudsc_status st = mudsc_resnet_options_preset(&o, preset, mult);
		if (st != MUDSC_OK)
			return cli_fail(EXIT_CONFIG, "presets: resnet20, resnet32, resnet56, resnet18, "
			                             "resnet26, resnet50; width_multiplier >= 1",
			                "%s: builder 'resnet': %s", where, mudsc_error_message());
	}
	for (size_t i = 0; i < g->keys.n; i++) {
		const struct opt *opt = find_opt(b, g->keys.v[i]);
		if (opt == NULL)
			return unknown_opt(g, i, b);
		if (strcmp(opt->name, "preset") == 0 || strcmp(opt->name, "width_multiplier") == 0)
			continue;
		if (strcmp(opt->name, "blocks") == 0 || strcmp(opt->name, "widths") == 0) {
			if (!parse_list(g->values.v[i], list, 4, &n))
				return bad_value(g, i, "a list of 1 to 4 integers");
			o.n_stages = (int32_t)n;
			for (size_t s = 0; s < 4; s++) {
				if (opt->name[0] == 'b')
					o.blocks[s] = s < n ? (int32_t)list[s] : 0;
				else
					o.widths[s] = s < n ? list[s] : 0;
			}
		} else if ((rc = set_scalar(&o, opt, g, i)) != 0) {
			return rc;
		}
	}
	mudsc_status st = mudsc_graph_build_resnet(out, &o);
	return st ? cli_fail_lib(st, false, "%s: builder 'resnet'", where) : 0;
}

static int build_vit(mudsc_graph **out, const struct graph_spec *g, const struct builder *b,
                     const char *where)
{
	mudsc_vit_options o;
	int rc;
	mudsc_vit_options_init(&o);
	for (size_t i = 0; i < g->keys.n; i++) {
		const struct opt *opt = find_opt(b, g->keys.v[i]);
		if (opt == NULL)
			return unknown_opt(g, i, b);
		if ((rc = set_scalar(&o, opt, g, i)) != 0)
			return rc;
	}
	mudsc_status st = mudsc_graph_build_vit(out, &o);
	return st ? cli_fail_lib(st, false, "%s: builder 'vit'", where) : 0;
}

int graph_spec_build(mudsc_graph **out, const struct graph_spec *g, const char *where)
{
	if (g->file != NULL) {
		if (g->builder != NULL)
			return cli_fail(EXIT_CONFIG, "give one of them", "%s: both a graph file and a "
			                "builder ('%s')", where, g->builder);
		mudsc_status st = mudsc_graph_load_json(out, g->file);
		return st ? cli_fail_lib(st, false, "graph file '%s'", g->file) : 0;
	}
	if (g->builder == NULL)
		return cli_fail(EXIT_CONFIG, "give a graph JSON file or a builder: mlp, resnet, vit "
		                             "('mudsc graph --help')",
		                "%s: no graph", where);
	for (const struct builder *b = builders; b->name; b++) {
		if (strcmp(b->name, g->builder) != 0)
			continue;
		if (b->opts == mlp_opts)
			return build_mlp(out, g, b, where);
		if (b->opts == resnet_opts)
			return build_resnet(out, g, b, where);
		return build_vit(out, g, b, where);
	}
	return cli_fail(EXIT_CONFIG, "the builders are mlp, resnet and vit; a hand-made graph is "
	                             "a JSON file (docs/graph-format.md)",
	                "%s: unknown graph builder '%s'", where, g->builder);
}
