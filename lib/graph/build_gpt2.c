/*
 * Ready graph builder: GPT-2 style decoder transformers (Hugging Face
 * GPT2Model names, Conv1D layout: weights are [in, out], so the OUT axis
 * of a weight is 1 and its IN axis 0).
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
	const mudsc_gpt2_options *o = opts;
	mudsc_status st;

	if ((st = mudsc__graph_check_positive(fn, "dim", o->dim)) != MUDSC_OK ||
	    (st = mudsc__graph_check_positive(fn, "n_layers", o->n_layers)) != MUDSC_OK)
		return st;
	if (o->heads < 1 || o->dim % o->heads != 0)
		return mudsc__err(MUDSC_E_INVALID, "%s: opts->heads = %d (need >= 1 and dividing "
		                                  "opts->dim = %lld)",
		                 fn, (int)o->heads, (long long)o->dim);
	if ((st = mudsc__graph_check_positive(fn, "mlp_dim", o->mlp_dim)) != MUDSC_OK ||
	    (st = mudsc__graph_check_flag(fn, "lm_head", o->lm_head)) != MUDSC_OK)
		return st;
	const struct mudsc__graph_name names[] = {
		{"prefix", o->prefix, false, false},
		{"block_template", o->block_template, true, false},
	};
	if ((st = mudsc__graph_check_names(fn, names, sizeof names / sizeof names[0])) != MUDSC_OK)
		return st;
	return mudsc__graph_check_template(fn, "block_template", o->block_template, o->n_layers,
	                                  "blocks", "n_layers");
}

struct ctx {
	mudsc_graph *g;
	const mudsc_gpt2_options *o;
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

/* A block's point named "<blk>.<what>", its site "<module>:input". */
static mudsc_status named_point(struct ctx *c, const char *blk, const char *what, int64_t width,
                                int64_t groups, const char *module, size_t *p)
{
	char name[2 * NAME_CAP + 16];
	mudsc_status st;

	mudsc__graph_namef(name, sizeof name, "%s.%s", blk, what);
	if ((st = mudsc_graph_add_point(p, c->g, name, width, groups)) != MUDSC_OK)
		return st;
	mudsc__graph_namef(name, sizeof name, "%s:input", module);
	return mudsc_graph_set_site(c->g, *p, name, -1);
}

/* Attention: c_attn [dim, 3 dim] split along its OUT axis 1 into q, k, v
 * (its bias along 0); the heads shared by q, k, v and c_proj's input. */
static mudsc_status attention(struct ctx *c, const char *blk)
{
	static const char *const qkv_parts[3] = {"q", "k", "v"};
	char qkv[2 * NAME_CAP], proj[2 * NAME_CAP], t[2 * NAME_CAP + 8];
	size_t p;
	mudsc_status st;

	mudsc__graph_namef(qkv, sizeof qkv, "%s.attn.c_attn", blk);
	mudsc__graph_namef(proj, sizeof proj, "%s.attn.c_proj", blk);
	mudsc__graph_namef(t, sizeof t, "%s.weight", qkv);
	if ((st = mudsc_graph_add_split(c->g, t, 1, 3, qkv_parts)) != MUDSC_OK)
		return st;
	mudsc__graph_namef(t, sizeof t, "%s.bias", qkv);
	if ((st = mudsc_graph_add_split(c->g, t, 0, 3, qkv_parts)) != MUDSC_OK ||
	    (st = bind_param(c, c->res, qkv, "weight", NULL, 0, MUDSC_ROLE_IN)) != MUDSC_OK ||
	    (st = named_point(c, blk, "attn", c->o->dim, c->o->heads, proj, &p)) != MUDSC_OK)
		return st;
	for (int k = 0; k < 3; k++)
		if ((st = bind_param(c, p, qkv, "weight", qkv_parts[k], 1, MUDSC_ROLE_OUT)) != MUDSC_OK ||
		    (st = bind_param(c, p, qkv, "bias", qkv_parts[k], 0, MUDSC_ROLE_OUT)) != MUDSC_OK)
			return st;
	if ((st = bind_param(c, p, proj, "weight", NULL, 0, MUDSC_ROLE_IN)) != MUDSC_OK ||
	    (st = bind_param(c, c->res, proj, "weight", NULL, 1, MUDSC_ROLE_OUT)) != MUDSC_OK)
		return st;
	return bind_param(c, c->res, proj, "bias", NULL, 0, MUDSC_ROLE_OUT);
}

static mudsc_status mlp(struct ctx *c, const char *blk)
{
	char fc[2 * NAME_CAP], proj[2 * NAME_CAP];
	size_t p;
	mudsc_status st;

	mudsc__graph_namef(fc, sizeof fc, "%s.mlp.c_fc", blk);
	mudsc__graph_namef(proj, sizeof proj, "%s.mlp.c_proj", blk);
	if ((st = bind_param(c, c->res, fc, "weight", NULL, 0, MUDSC_ROLE_IN)) != MUDSC_OK ||
	    (st = named_point(c, blk, "mlp", c->o->mlp_dim, 1, proj, &p)) != MUDSC_OK ||
	    (st = bind_param(c, p, fc, "weight", NULL, 1, MUDSC_ROLE_OUT)) != MUDSC_OK ||
	    (st = bind_param(c, p, fc, "bias", NULL, 0, MUDSC_ROLE_OUT)) != MUDSC_OK ||
	    (st = bind_param(c, p, proj, "weight", NULL, 0, MUDSC_ROLE_IN)) != MUDSC_OK ||
	    (st = bind_param(c, c->res, proj, "weight", NULL, 1, MUDSC_ROLE_OUT)) != MUDSC_OK)
		return st;
	return bind_param(c, c->res, proj, "bias", NULL, 0, MUDSC_ROLE_OUT);
}

static mudsc_status block(struct ctx *c, int i)
{
	char blk[NAME_CAP], norm[2 * NAME_CAP];
	mudsc_status st;

	if ((st = mudsc__graph_format_name(blk, sizeof blk, c->o->prefix, c->o->block_template, 'i',
	                                  i, "a GPT-2 block")) != MUDSC_OK)
		return st;
	mudsc__graph_namef(norm, sizeof norm, "%s.ln_1", blk);
	if ((st = bind_norm(c, norm)) != MUDSC_OK || (st = attention(c, blk)) != MUDSC_OK)
		return st;
	mudsc__graph_namef(norm, sizeof norm, "%s.ln_2", blk);
	if ((st = bind_norm(c, norm)) != MUDSC_OK)
		return st;
	return mlp(c, blk);
}

static mudsc_status build(mudsc_graph *g, const void *opts)
{
	struct ctx c = {.g = g, .o = opts};
	char t[2 * NAME_CAP];
	mudsc_status st;

	mudsc__graph_namef(t, sizeof t, "%sresidual", c.o->prefix);
	if ((st = mudsc_graph_add_point(&c.res, g, t, c.o->dim, 1)) != MUDSC_OK)
		return st;
	mudsc__graph_namef(t, sizeof t, "%sln_f", c.o->prefix);
	if ((st = mudsc_graph_set_site(g, c.res, t, -1)) != MUDSC_OK)
		return st;
	mudsc__graph_namef(t, sizeof t, "%swte", c.o->prefix);
	if ((st = bind_param(&c, c.res, t, "weight", NULL, 1, MUDSC_ROLE_OUT)) != MUDSC_OK)
		return st;
	mudsc__graph_namef(t, sizeof t, "%swpe", c.o->prefix);
	if ((st = bind_param(&c, c.res, t, "weight", NULL, 1, MUDSC_ROLE_OUT)) != MUDSC_OK)
		return st;
	for (int i = 0; i < c.o->n_layers; i++)
		if ((st = block(&c, i)) != MUDSC_OK)
			return st;
	mudsc__graph_namef(t, sizeof t, "%sln_f", c.o->prefix);
	if ((st = bind_norm(&c, t)) != MUDSC_OK)
		return st;
	if (c.o->lm_head)
		return mudsc_graph_bind(g, c.res, "lm_head.weight", NULL, 1, MUDSC_ROLE_IN, 0);
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_graph_build_gpt2(mudsc_graph **out, const mudsc_gpt2_options *opts)
{
	static const struct mudsc__graph_builder builder = {
		MUDSC__OPTIONS_GPT2, "mudsc_graph_build_gpt2", check_options, build};
	return mudsc__graph_build(out, opts, &builder);
}

MUDSC_API mudsc_status mudsc_gpt2_options_init(mudsc_gpt2_options *opts)
{
	return mudsc__options_init(opts, MUDSC__OPTIONS_GPT2, "mudsc_gpt2_options_init");
}
