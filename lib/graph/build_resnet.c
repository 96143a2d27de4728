/*
 * Ready graph builder: ResNets of basic or bottleneck blocks, CIFAR style
 * (ResNet-20/32/56) and ImageNet style (torchvision ResNet-18/26/50).
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "graph/graph.h"
#include "core/core.h"

#define NAME_CAP 256

struct preset {
	const char *name;
	int32_t n_stages, blocks[4], bottleneck;
	int64_t stem, widths[4];
	bool imagenet;
};

static const struct preset presets[] = {
	{"resnet20", 3, {3, 3, 3, 0}, 0, 16, {16, 32, 64, 0}, false},
	{"resnet32", 3, {5, 5, 5, 0}, 0, 16, {16, 32, 64, 0}, false},
	{"resnet56", 3, {9, 9, 9, 0}, 0, 16, {16, 32, 64, 0}, false},
	{"resnet18", 4, {2, 2, 2, 2}, 0, 64, {64, 128, 256, 512}, true},
	{"resnet26", 4, {2, 2, 2, 2}, 1, 64, {64, 128, 256, 512}, true},
	{"resnet50", 4, {3, 4, 6, 3}, 1, 64, {64, 128, 256, 512}, true},
};

MUDSC_API mudsc_status mudsc_resnet_options_preset(mudsc_resnet_options *opts, const char *name,
                                                   int64_t width_multiplier)
{
	const struct preset *p = NULL;

	MUDSC__CHECK_NULL(opts);
	MUDSC__CHECK_NULL(name);
	for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
		if (strcmp(presets[i].name, name) == 0)
			p = &presets[i];
	if (p == NULL)
		return mudsc__err(MUDSC_E_NOT_FOUND, "mudsc_resnet_options_preset: unknown name '%s' "
		                                    "(resnet20, resnet32, resnet56, resnet18, resnet26, "
		                                    "resnet50)", name);
	if (width_multiplier < 1 || width_multiplier > 1024)
		return mudsc__err(MUDSC_E_INVALID, "mudsc_resnet_options_preset: argument "
		                                  "'width_multiplier' = %lld outside 1..1024",
		                 (long long)width_multiplier);
	opts->n_stages = p->n_stages;
	opts->bottleneck = p->bottleneck;
	opts->stem_width = p->stem * width_multiplier;
	for (int s = 0; s < 4; s++) {
		opts->blocks[s] = p->blocks[s];
		opts->widths[s] = p->widths[s] * width_multiplier;
	}
	opts->shortcut_conv = p->imagenet ? "downsample.0" : "shortcut.0";
	opts->shortcut_norm = p->imagenet ? "downsample.1" : "shortcut.1";
	opts->head = p->imagenet ? "fc" : "linear";
	return MUDSC_OK;
}

/* The module names of a block (the shortcut's must differ from them). */
static const char *const block_modules[] = {"conv1", "bn1", "conv2", "bn2", "conv3", "bn3"};

static mudsc_status check_shortcut_names(const mudsc_resnet_options *o, const char *fn)
{
	if (strcmp(o->shortcut_conv, o->shortcut_norm) == 0)
		return mudsc__err(MUDSC_E_INVALID, "%s: opts->shortcut_norm = '%s' is the same as "
		                                  "opts->shortcut_conv",
		                 fn, o->shortcut_norm);
	for (size_t k = 0; k < sizeof block_modules / sizeof block_modules[0]; k++) {
		const char *field = strcmp(o->shortcut_conv, block_modules[k]) == 0   ? "shortcut_conv"
		                    : strcmp(o->shortcut_norm, block_modules[k]) == 0 ? "shortcut_norm"
		                                                                      : NULL;
		if (field != NULL)
			return mudsc__err(MUDSC_E_INVALID, "%s: opts->%s = '%s' is also the name of a "
			                                  "block's own module",
			                 fn, field, block_modules[k]);
	}
	return MUDSC_OK;
}

/* GroupNorm's groups divide every point's width: the stem's and each
 * stage's planes (a block's output, planes * expansion, then too). */
static mudsc_status check_groups(const mudsc_resnet_options *o, const char *fn)
{
	if (o->norm_groups < 1)
		return mudsc__err(MUDSC_E_INVALID, "%s: opts->norm_groups = %lld (need >= 1 with "
		                                  "MUDSC_NORM_GROUP)",
		                 fn, (long long)o->norm_groups);
	if (o->stem_width % o->norm_groups != 0)
		return mudsc__err(MUDSC_E_INVALID, "%s: opts->norm_groups = %lld does not divide "
		                                  "opts->stem_width = %lld",
		                 fn, (long long)o->norm_groups, (long long)o->stem_width);
	for (int s = 0; s < o->n_stages; s++)
		if (o->widths[s] % o->norm_groups != 0)
			return mudsc__err(MUDSC_E_INVALID, "%s: opts->norm_groups = %lld does not divide "
			                                  "opts->widths[%d] = %lld",
			                 fn, (long long)o->norm_groups, s, (long long)o->widths[s]);
	return MUDSC_OK;
}

static mudsc_status check_options(const void *opts, const char *fn)
{
	const mudsc_resnet_options *o = opts;
	mudsc_status st;

	if (o->n_stages < 1 || o->n_stages > 4)
		return mudsc__err(MUDSC_E_INVALID, "%s: opts->n_stages = %d outside 1..4", fn,
		                 (int)o->n_stages);
	for (int s = 0; s < o->n_stages; s++) {
		if (o->blocks[s] < 1)
			return mudsc__err(MUDSC_E_INVALID, "%s: opts->blocks[%d] = %d (need >= 1)", fn, s,
			                 (int)o->blocks[s]);
		/* a bottleneck block's output is 4 planes: keep that an int64 */
		if (o->widths[s] < 1 || o->widths[s] > INT64_MAX / 4)
			return mudsc__err(MUDSC_E_INVALID, "%s: opts->widths[%d] = %lld (need 1..%lld)", fn,
			                 s, (long long)o->widths[s], (long long)(INT64_MAX / 4));
	}
	if (o->stem_width < 1)
		return mudsc__err(MUDSC_E_INVALID, "%s: opts->stem_width = %lld (need >= 1)", fn,
		                 (long long)o->stem_width);
	if (o->bottleneck != 0 && o->bottleneck != 1)
		return mudsc__err(MUDSC_E_INVALID, "%s: opts->bottleneck = %d (need 0 or 1)", fn,
		                 (int)o->bottleneck);
	if (o->site != MUDSC_SITE_POST && o->site != MUDSC_SITE_PRE)
		return mudsc__err(MUDSC_E_INVALID, "%s: opts->site = %d (need MUDSC_SITE_POST or "
		                                  "MUDSC_SITE_PRE)", fn, (int)o->site);
	if (o->norm != MUDSC_NORM_BATCH && o->norm != MUDSC_NORM_GROUP)
		return mudsc__err(MUDSC_E_INVALID, "%s: opts->norm = %d is not a mudsc_norm_kind", fn,
		                 (int)o->norm);
	if (o->norm == MUDSC_NORM_GROUP && (st = check_groups(o, fn)) != MUDSC_OK)
		return st;
	const struct mudsc__graph_name names[] = {
		{"prefix", o->prefix, false, false},
		{"shortcut_conv", o->shortcut_conv, true, false},
		{"shortcut_norm", o->shortcut_norm, true, false},
		{"head", o->head, false, true},
	};
	if ((st = mudsc__graph_check_names(fn, names, sizeof names / sizeof names[0])) != MUDSC_OK)
		return st;
	return check_shortcut_names(o, fn);
}

struct ctx {
	mudsc_graph *g;
	const mudsc_resnet_options *o;
	int64_t groups; /* of every point: GroupNorm groups, or 1 */
};

static mudsc_status bind_param(struct ctx *c, size_t p, const char *module, const char *param,
                         int32_t axis, mudsc_role role, uint32_t flags)
{
	char t[2 * NAME_CAP];
	mudsc__graph_namef(t, sizeof t, "%s%s.%s", c->o->prefix, module, param);
	return mudsc_graph_bind(c->g, p, t, NULL, axis, role, flags);
}

/* Producer of point p: a conv's output channels and its norm's parameters. */
static mudsc_status bind_conv_norm(struct ctx *c, size_t p, const char *conv, const char *norm)
{
	mudsc_status st;

	if ((st = bind_param(c, p, conv, "weight", 0, MUDSC_ROLE_OUT, 0)) != MUDSC_OK ||
	    (st = bind_param(c, p, norm, "weight", 0, MUDSC_ROLE_OUT, 0)) != MUDSC_OK ||
	    (st = bind_param(c, p, norm, "bias", 0, MUDSC_ROLE_OUT, 0)) != MUDSC_OK)
		return st;
	if (c->o->norm != MUDSC_NORM_BATCH)
		return MUDSC_OK;
	if ((st = bind_param(c, p, norm, "running_mean", 0, MUDSC_ROLE_OUT, MUDSC_BIND_IGNORE)) != MUDSC_OK)
		return st;
	return bind_param(c, p, norm, "running_var", 0, MUDSC_ROLE_OUT, MUDSC_BIND_IGNORE);
}

static mudsc_status new_point(struct ctx *c, const char *name, int64_t width, const char *site,
                              size_t *p)
{
	char full[2 * NAME_CAP];
	mudsc_status st;

	mudsc__graph_namef(full, sizeof full, "%s%s", c->o->prefix, name);
	if ((st = mudsc_graph_add_point(p, c->g, full, width, c->groups)) != MUDSC_OK)
		return st;
	mudsc__graph_namef(full, sizeof full, "%s%s", c->o->prefix, site);
	return mudsc_graph_set_site(c->g, *p, full, 1);
}

/* The points inside block `blk`: conv k's outputs feed conv k+1. */
static mudsc_status inner_points(struct ctx *c, const char *blk, int64_t planes)
{
	char conv[NAME_CAP], norm[NAME_CAP], next[NAME_CAP], site[NAME_CAP + 8];
	int n_inner = c->o->bottleneck ? 2 : 1;
	size_t p;
	mudsc_status st;

	for (int k = 1; k <= n_inner; k++) {
		mudsc__graph_namef(conv, sizeof conv, "%s.conv%d", blk, k);
		mudsc__graph_namef(norm, sizeof norm, "%s.bn%d", blk, k);
		mudsc__graph_namef(next, sizeof next, "%s.conv%d", blk, k + 1);
		/* after the activation: what enters the next conv; before: the norm */
		if (c->o->site == MUDSC_SITE_POST)
			mudsc__graph_namef(site, sizeof site, "%s:input", next);
		else
			mudsc__graph_namef(site, sizeof site, "%s", norm);
		if ((st = new_point(c, conv, planes, site, &p)) != MUDSC_OK ||
		    (st = bind_conv_norm(c, p, conv, norm)) != MUDSC_OK ||
		    (st = bind_param(c, p, next, "weight", 1, MUDSC_ROLE_IN, 0)) != MUDSC_OK)
			return st;
	}
	return MUDSC_OK;
}

/* The producers of a block's output (last conv and norm, or the shortcut's)
 * join stream point p. */
static mudsc_status bind_block_out(struct ctx *c, size_t p, const char *blk, int last)
{
	char conv[NAME_CAP], norm[NAME_CAP];

	mudsc__graph_namef(conv, sizeof conv, "%s.conv%d", blk, last);
	mudsc__graph_namef(norm, sizeof norm, "%s.bn%d", blk, last);
	return bind_conv_norm(c, p, conv, norm);
}

/*
 * One block: its input comes from stream point *cur; its output joins
 * *cur, or, when the block has a shortcut convolution, starts the new
 * stream point "layer{s}" (and *cur becomes that point).
 */
static mudsc_status block(struct ctx *c, int s, int j, int64_t in_width, size_t *cur)
{
	int64_t planes = c->o->widths[s], out_width = planes * (c->o->bottleneck ? 4 : 1);
	bool shortcut = (s > 0 && j == 0) || in_width != out_width;
	char blk[NAME_CAP], conv1[NAME_CAP], sc[2 * NAME_CAP], scn[2 * NAME_CAP], stream[32];
	int last = c->o->bottleneck ? 3 : 2;
	size_t p = *cur;
	mudsc_status st;

	mudsc__graph_namef(blk, sizeof blk, "layer%d.%d", s + 1, j);
	mudsc__graph_namef(conv1, sizeof conv1, "%s.conv1", blk);
	if ((st = bind_param(c, *cur, conv1, "weight", 1, MUDSC_ROLE_IN, 0)) != MUDSC_OK ||
	    (st = inner_points(c, blk, planes)) != MUDSC_OK)
		return st;
	if (shortcut) {
		mudsc__graph_namef(sc, sizeof sc, "%s.%s", blk, c->o->shortcut_conv);
		mudsc__graph_namef(scn, sizeof scn, "%s.%s", blk, c->o->shortcut_norm);
		mudsc__graph_namef(stream, sizeof stream, "layer%d", s + 1);
		if ((st = bind_param(c, *cur, sc, "weight", 1, MUDSC_ROLE_IN, 0)) != MUDSC_OK ||
		    (st = new_point(c, stream, out_width, blk, &p)) != MUDSC_OK ||
		    (st = bind_conv_norm(c, p, sc, scn)) != MUDSC_OK)
			return st;
	}
	if ((st = bind_block_out(c, p, blk, last)) != MUDSC_OK)
		return st;
	*cur = p;
	/* the stream's site: the output of its latest block */
	mudsc__graph_namef(sc, sizeof sc, "%s%s", c->o->prefix, blk);
	return mudsc_graph_set_site(c->g, p, sc, 1);
}

/* The stem: conv1/bn1, its own point "stem" when layer1.0 has a shortcut
 * convolution, else the start of stream "layer1". */
static mudsc_status stem(struct ctx *c, size_t *cur)
{
	int64_t out1 = c->o->widths[0] * (c->o->bottleneck ? 4 : 1);
	mudsc_status st;

	/* the stem's site (replaced by the stream's when the stem joins layer1) */
	const char *site = c->o->site == MUDSC_SITE_POST ? "layer1.0:input" : "bn1";

	st = new_point(c, c->o->stem_width != out1 ? "stem" : "layer1", c->o->stem_width, site, cur);
	if (st != MUDSC_OK)
		return st;
	return bind_conv_norm(c, *cur, "conv1", "bn1");
}

static mudsc_status build_stages(struct ctx *c)
{
	int64_t width = c->o->stem_width;
	size_t cur;
	mudsc_status st;

	if ((st = stem(c, &cur)) != MUDSC_OK)
		return st;
	for (int s = 0; s < c->o->n_stages; s++)
		for (int j = 0; j < c->o->blocks[s]; j++) {
			if ((st = block(c, s, j, width, &cur)) != MUDSC_OK)
				return st;
			width = c->o->widths[s] * (c->o->bottleneck ? 4 : 1);
		}
	if (c->o->head == NULL || c->o->head[0] == '\0')
		return MUDSC_OK;
	return bind_param(c, cur, c->o->head, "weight", 1, MUDSC_ROLE_IN, 0);
}

static mudsc_status build(mudsc_graph *g, const void *opts)
{
	const mudsc_resnet_options *o = opts;

	struct ctx c = {.g = g, .o = o, .groups = o->norm == MUDSC_NORM_GROUP ? o->norm_groups : 1};
	return build_stages(&c);
}

MUDSC_API mudsc_status mudsc_graph_build_resnet(mudsc_graph **out,
                                                const mudsc_resnet_options *opts)
{
	static const struct mudsc__graph_builder builder = {
		MUDSC__OPTIONS_RESNET, "mudsc_graph_build_resnet", check_options, build};
	return mudsc__graph_build(out, opts, &builder);
}

MUDSC_API mudsc_status mudsc_resnet_options_init(mudsc_resnet_options *opts)
{
	return mudsc__options_init(opts, MUDSC__OPTIONS_RESNET, "mudsc_resnet_options_init");
}
