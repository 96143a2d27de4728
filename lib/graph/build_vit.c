/*
 * Ready graph builder: ViT / pre-norm transformer encoders with timm names.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <string.h>

#include "graph/graph.h"
#include "core/core.h"

#define NAME_CAP 256

static mudsc_status check_options(const void *opts, const char *fn)
{
	const mudsc_vit_options *o = opts;
	const struct {
		const char *field;
		int32_t value;
	} flags[] = {{"qkv_bias", o->qkv_bias},   {"patch_embed", o->patch_embed},
	             {"cls_token", o->cls_token}, {"pos_embed", o->pos_embed},
	             {"final_norm", o->final_norm}, {"head", o->head}};
	mudsc_status st;

	if ((st = mudsc__graph_check_positive(fn, "dim", o->dim)) != MUDSC_OK ||
	    (st = mudsc__graph_check_positive(fn, "depth", o->depth)) != MUDSC_OK)
		return st;
	if (o->heads < 1 || o->dim % o->heads != 0)
		return mudsc__err(MUDSC_E_INVALID, "%s: opts->heads = %d (need >= 1 and dividing "
		                                  "opts->dim = %lld)",
		                 fn, (int)o->heads, (long long)o->dim);
	if ((st = mudsc__graph_check_positive(fn, "mlp_dim", o->mlp_dim)) != MUDSC_OK)
		return st;
	for (size_t k = 0; k < sizeof flags / sizeof flags[0]; k++)
		if ((st = mudsc__graph_check_flag(fn, flags[k].field, flags[k].value)) != MUDSC_OK)
			return st;
	const struct mudsc__graph_name names[] = {
		{"prefix", o->prefix, false, false},
		{"block_template", o->block_template, true, false},
	};
	if ((st = mudsc__graph_check_names(fn, names, sizeof names / sizeof names[0])) != MUDSC_OK)
		return st;
	/* without "{i}" every block has the one name: enough for depth 1 only */
	return mudsc__graph_check_template(fn, "block_template", o->block_template, o->depth,
	                                  "blocks", "depth");
}

struct ctx {
	mudsc_graph *g;
	const mudsc_vit_options *o;
	size_t res; /* the residual stream point */
};

static mudsc_status bind_param(struct ctx *c, size_t p, const char *module, const char *param,
                         const char *part, int32_t axis, mudsc_role role)
{
	return mudsc__graph_bind_param(c->g, p, module, param, part, axis, role);
}

static mudsc_status bind_norm(struct ctx *c, const char *norm)
{
	return mudsc__graph_bind_norm(c->g, c->res, norm);
}

static mudsc_status named_point(struct ctx *c, const char *blk, const char *what, int64_t width,
                                int64_t groups, const char *site, size_t *p)
{
	char name[2 * NAME_CAP];
	mudsc_status st;

	mudsc__graph_namef(name, sizeof name, "%s.%s", blk, what);
	if ((st = mudsc_graph_add_point(p, c->g, name, width, groups)) != MUDSC_OK)
		return st;
	mudsc__graph_namef(name, sizeof name, "%s.%s", blk, site);
	return mudsc_graph_set_site(c->g, *p, name, -1);
}

/* Attention: q, k, v parts and the projection's input share the heads.
 * The units are observed where they enter attn.proj: its input, hence the
 * site "<block>.attn.proj:input" (docs/graph-format.md, `site`). */
static mudsc_status attention(struct ctx *c, const char *blk)
{
	static const char *const qkv_parts[3] = {"q", "k", "v"};
	char qkv[2 * NAME_CAP], proj[2 * NAME_CAP], t[2 * NAME_CAP + 8];
	size_t p;
	mudsc_status st;

	mudsc__graph_namef(qkv, sizeof qkv, "%s.attn.qkv", blk);
	mudsc__graph_namef(proj, sizeof proj, "%s.attn.proj", blk);
	mudsc__graph_namef(t, sizeof t, "%s.weight", qkv);
	if ((st = mudsc_graph_add_split(c->g, t, 0, 3, qkv_parts)) != MUDSC_OK)
		return st;
	if (c->o->qkv_bias) {
		mudsc__graph_namef(t, sizeof t, "%s.bias", qkv);
		if ((st = mudsc_graph_add_split(c->g, t, 0, 3, qkv_parts)) != MUDSC_OK)
			return st;
	}
	if ((st = bind_param(c, c->res, qkv, "weight", NULL, 1, MUDSC_ROLE_IN)) != MUDSC_OK ||
	    (st = named_point(c, blk, "attn", c->o->dim, c->o->heads, "attn.proj:input",
	                       &p)) != MUDSC_OK)
		return st;
	for (int k = 0; k < 3; k++) {
		if ((st = bind_param(c, p, qkv, "weight", qkv_parts[k], 0, MUDSC_ROLE_OUT)) != MUDSC_OK)
			return st;
		if (c->o->qkv_bias &&
		    (st = bind_param(c, p, qkv, "bias", qkv_parts[k], 0, MUDSC_ROLE_OUT)) != MUDSC_OK)
			return st;
	}
	if ((st = bind_param(c, p, proj, "weight", NULL, 1, MUDSC_ROLE_IN)) != MUDSC_OK ||
	    (st = bind_param(c, c->res, proj, "weight", NULL, 0, MUDSC_ROLE_OUT)) != MUDSC_OK)
		return st;
	return bind_param(c, c->res, proj, "bias", NULL, 0, MUDSC_ROLE_OUT);
}

static mudsc_status mlp(struct ctx *c, const char *blk)
{
	char fc1[2 * NAME_CAP], fc2[2 * NAME_CAP];
	size_t p;
	mudsc_status st;

	mudsc__graph_namef(fc1, sizeof fc1, "%s.mlp.fc1", blk);
	mudsc__graph_namef(fc2, sizeof fc2, "%s.mlp.fc2", blk);
	if ((st = bind_param(c, c->res, fc1, "weight", NULL, 1, MUDSC_ROLE_IN)) != MUDSC_OK ||
	    (st = named_point(c, blk, "mlp", c->o->mlp_dim, 1, "mlp.act", &p)) != MUDSC_OK ||
	    (st = bind_param(c, p, fc1, "weight", NULL, 0, MUDSC_ROLE_OUT)) != MUDSC_OK ||
	    (st = bind_param(c, p, fc1, "bias", NULL, 0, MUDSC_ROLE_OUT)) != MUDSC_OK ||
	    (st = bind_param(c, p, fc2, "weight", NULL, 1, MUDSC_ROLE_IN)) != MUDSC_OK ||
	    (st = bind_param(c, c->res, fc2, "weight", NULL, 0, MUDSC_ROLE_OUT)) != MUDSC_OK)
		return st;
	return bind_param(c, c->res, fc2, "bias", NULL, 0, MUDSC_ROLE_OUT);
}

static mudsc_status encoder_block(struct ctx *c, int i)
{
	char blk[NAME_CAP], norm[2 * NAME_CAP];
	mudsc_status st;

	if ((st = mudsc__graph_format_name(blk, sizeof blk, c->o->prefix, c->o->block_template, 'i',
	                                  i, "a ViT block")) != MUDSC_OK)
		return st;
	mudsc__graph_namef(norm, sizeof norm, "%s.norm1", blk);
	if ((st = bind_norm(c, norm)) != MUDSC_OK || (st = attention(c, blk)) != MUDSC_OK)
		return st;
	mudsc__graph_namef(norm, sizeof norm, "%s.norm2", blk);
	if ((st = bind_norm(c, norm)) != MUDSC_OK)
		return st;
	return mlp(c, blk);
}

/* The residual stream's producers before the blocks. */
static mudsc_status embeddings(struct ctx *c)
{
	char t[2 * NAME_CAP];
	mudsc_status st;

	if (c->o->patch_embed) {
		mudsc__graph_namef(t, sizeof t, "%spatch_embed.proj", c->o->prefix);
		if ((st = bind_param(c, c->res, t, "weight", NULL, 0, MUDSC_ROLE_OUT)) != MUDSC_OK ||
		    (st = bind_param(c, c->res, t, "bias", NULL, 0, MUDSC_ROLE_OUT)) != MUDSC_OK)
			return st;
	}
	if (c->o->cls_token) {
		mudsc__graph_namef(t, sizeof t, "%scls_token", c->o->prefix);
		if ((st = bind_param(c, c->res, t, "", NULL, 2, MUDSC_ROLE_OUT)) != MUDSC_OK)
			return st;
	}
	if (c->o->pos_embed) {
		mudsc__graph_namef(t, sizeof t, "%spos_embed", c->o->prefix);
		if ((st = bind_param(c, c->res, t, "", NULL, 2, MUDSC_ROLE_OUT)) != MUDSC_OK)
			return st;
	}
	return MUDSC_OK;
}

static mudsc_status build_blocks(struct ctx *c)
{
	char t[2 * NAME_CAP];
	mudsc_status st;

	mudsc__graph_namef(t, sizeof t, "%sresidual", c->o->prefix);
	if ((st = mudsc_graph_add_point(&c->res, c->g, t, c->o->dim, 1)) != MUDSC_OK)
		return st;
	mudsc__graph_namef(t, sizeof t, "%snorm", c->o->prefix);
	if ((st = mudsc_graph_set_site(c->g, c->res, t, -1)) != MUDSC_OK ||
	    (st = embeddings(c)) != MUDSC_OK)
		return st;
	for (int i = 0; i < c->o->depth; i++)
		if ((st = encoder_block(c, i)) != MUDSC_OK)
			return st;
	if (c->o->final_norm && (st = bind_norm(c, t)) != MUDSC_OK)
		return st;
	if (c->o->head) {
		mudsc__graph_namef(t, sizeof t, "%shead", c->o->prefix);
		return bind_param(c, c->res, t, "weight", NULL, 1, MUDSC_ROLE_IN);
	}
	return MUDSC_OK;
}

static mudsc_status build(mudsc_graph *g, const void *opts)
{
	struct ctx c = {.g = g, .o = opts};
	return build_blocks(&c);
}

MUDSC_API mudsc_status mudsc_graph_build_vit(mudsc_graph **out, const mudsc_vit_options *opts)
{
	static const struct mudsc__graph_builder builder = {
		MUDSC__OPTIONS_VIT, "mudsc_graph_build_vit", check_options, build};
	return mudsc__graph_build(out, opts, &builder);
}

MUDSC_API mudsc_status mudsc_vit_options_init(mudsc_vit_options *opts)
{
	return mudsc__options_init(opts, MUDSC__OPTIONS_VIT, "mudsc_vit_options_init");
}
