/*
 * Ready graph builder: Llama-style decoder transformers (Hugging Face
 * LlamaForCausalLM names): RMSNorm, rotary embeddings, grouped-query
 * attention, SwiGLU MLP.  What may be permuted under rotary embeddings is
 * argued in include/mudsc/graph.h (mudsc_llama_options) and
 * docs/graph-format.md.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "core/core.h"

#define NAME_CAP 256

static mudsc_status check_options(const void *opts, const char *fn)
{
	const mudsc_llama_options *o = opts;
	mudsc_status st;

	if ((st = mudsc__graph_check_positive(fn, "dim", o->dim)) != MUDSC_OK ||
	    (st = mudsc__graph_check_positive(fn, "n_layers", o->n_layers)) != MUDSC_OK ||
	    (st = mudsc__graph_check_positive(fn, "num_heads", o->num_heads)) != MUDSC_OK)
		return st;
	if (o->num_kv_heads < 1 || o->num_heads % o->num_kv_heads != 0)
		return mudsc__err(MUDSC_E_INVALID, "%s: opts->num_kv_heads = %d (need >= 1 and dividing "
		                                  "opts->num_heads = %d)",
		                 fn, (int)o->num_kv_heads, (int)o->num_heads);
	if (o->head_dim < 0 || (o->head_dim == 0 && o->dim % o->num_heads != 0))
		return mudsc__err(MUDSC_E_INVALID, "%s: opts->head_dim = %lld (need >= 1, or 0 when "
		                                  "opts->num_heads = %d divides opts->dim = %lld)",
		                 fn, (long long)o->head_dim, (int)o->num_heads, (long long)o->dim);
	/* q_proj has num_heads * head_dim rows: keep that an int64 */
	if (o->head_dim > INT64_MAX / o->num_heads)
		return mudsc__err(MUDSC_E_INVALID, "%s: opts->head_dim = %lld times opts->num_heads = "
		                                  "%d does not fit an int64",
		                 fn, (long long)o->head_dim, (int)o->num_heads);
	if ((st = mudsc__graph_check_positive(fn, "mlp_dim", o->mlp_dim)) != MUDSC_OK ||
	    (st = mudsc__graph_check_flag(fn, "attention_bias", o->attention_bias)) != MUDSC_OK)
		return st;
	const struct mudsc__graph_name names[] = {
		{"prefix", o->prefix, false, false},
		{"layer_template", o->layer_template, true, false},
		{"lm_head", o->lm_head, false, true},
	};
	if ((st = mudsc__graph_check_names(fn, names, sizeof names / sizeof names[0])) != MUDSC_OK)
		return st;
	return mudsc__graph_check_template(fn, "layer_template", o->layer_template, o->n_layers,
	                                  "layers", "n_layers");
}

struct ctx {
	mudsc_graph *g;
	const mudsc_llama_options *o;
	int64_t head_dim;
	size_t res;       /* the residual stream point */
	const char **hq;  /* part names "h0".. of the query heads (num_heads) */
	char *hq_buf;
};

static mudsc_status bind_w(struct ctx *c, size_t p, const char *module, const char *param,
                           const char *part, int32_t axis, mudsc_role role)
{
	return mudsc__graph_bind_param(c->g, p, module, param, part, axis, role);
}

/* Part names "h0", "h1", ... for up to num_heads heads (the key/value
 * heads use the first num_kv_heads of them). */
static mudsc_status head_names(struct ctx *c)
{
	size_t n = (size_t)c->o->num_heads, each = 24;

	c->hq = mudsc__calloc(n, sizeof *c->hq, "head part names");
	c->hq_buf = mudsc__calloc(n, each, "head part names");
	if (c->hq == NULL || c->hq_buf == NULL)
		return MUDSC_E_NOMEM;
	for (size_t h = 0; h < n; h++) {
		snprintf(c->hq_buf + h * each, each, "h%zu", h);
		c->hq[h] = c->hq_buf + h * each;
	}
	return MUDSC_OK;
}

/* Split tensor `module.param` along axis into n head parts (n >= 2). */
static mudsc_status split_heads(struct ctx *c, const char *module, const char *param,
                                int32_t axis, int32_t n)
{
	char t[2 * NAME_CAP];
	if (n < 2)
		return MUDSC_OK;
	mudsc__graph_namef(t, sizeof t, "%s.%s", module, param);
	return mudsc_graph_add_split(c->g, t, axis, (size_t)n, c->hq);
}

/* Attention: the residual axes of q/k/v/o, and one point per key/value
 * head for its value dimensions (v_proj part j OUT, o_proj parts of the
 * query heads reading it IN). */
static mudsc_status attention(struct ctx *c, const char *layer)
{
	const mudsc_llama_options *o = c->o;
	const int32_t H = o->num_heads, KV = o->num_kv_heads, per = H / KV;
	char q[2 * NAME_CAP], k[2 * NAME_CAP], v[2 * NAME_CAP], out[2 * NAME_CAP];
	char name[2 * NAME_CAP + 32], site[2 * NAME_CAP + 8];
	mudsc_status st;

	mudsc__graph_namef(q, sizeof q, "%s.self_attn.q_proj", layer);
	mudsc__graph_namef(k, sizeof k, "%s.self_attn.k_proj", layer);
	mudsc__graph_namef(v, sizeof v, "%s.self_attn.v_proj", layer);
	mudsc__graph_namef(out, sizeof out, "%s.self_attn.o_proj", layer);
	if ((st = split_heads(c, v, "weight", 0, KV)) != MUDSC_OK ||
	    (o->attention_bias && (st = split_heads(c, v, "bias", 0, KV)) != MUDSC_OK) ||
	    (st = split_heads(c, out, "weight", 1, H)) != MUDSC_OK)
		return st;
	if ((st = bind_w(c, c->res, q, "weight", NULL, 1, MUDSC_ROLE_IN)) != MUDSC_OK ||
	    (st = bind_w(c, c->res, k, "weight", NULL, 1, MUDSC_ROLE_IN)) != MUDSC_OK ||
	    (st = bind_w(c, c->res, v, "weight", NULL, 1, MUDSC_ROLE_IN)) != MUDSC_OK ||
	    (st = bind_w(c, c->res, out, "weight", NULL, 0, MUDSC_ROLE_OUT)) != MUDSC_OK ||
	    (o->attention_bias &&
	     (st = bind_w(c, c->res, out, "bias", NULL, 0, MUDSC_ROLE_OUT)) != MUDSC_OK))
		return st;
	mudsc__graph_namef(site, sizeof site, "%s.self_attn.v_proj", layer);
	for (int32_t j = 0; j < KV; j++) {
		const char *vpart = KV > 1 ? c->hq[j] : NULL;
		size_t p;
		mudsc__graph_namef(name, sizeof name, "%s.self_attn.v_head%d", layer, (int)j);
		if ((st = mudsc_graph_add_point(&p, c->g, name, c->head_dim, 1)) != MUDSC_OK ||
		    (st = mudsc_graph_set_site(c->g, p, site, -1)) != MUDSC_OK ||
		    (st = mudsc_graph_set_site_offset(c->g, p, (int64_t)j * c->head_dim)) != MUDSC_OK ||
		    (st = bind_w(c, p, v, "weight", vpart, 0, MUDSC_ROLE_OUT)) != MUDSC_OK ||
		    (o->attention_bias &&
		     (st = bind_w(c, p, v, "bias", vpart, 0, MUDSC_ROLE_OUT)) != MUDSC_OK))
			return st;
		/* the query heads of group j read value head j (repeat_kv) */
		for (int32_t h = j * per; h < (j + 1) * per; h++)
			if ((st = bind_w(c, p, out, "weight", H > 1 ? c->hq[h] : NULL, 1, MUDSC_ROLE_IN)) !=
			    MUDSC_OK)
				return st;
	}
	return MUDSC_OK;
}

static mudsc_status mlp(struct ctx *c, const char *layer)
{
	char gate[2 * NAME_CAP], up[2 * NAME_CAP], down[2 * NAME_CAP], name[2 * NAME_CAP + 16];
	size_t p;
	mudsc_status st;

	mudsc__graph_namef(gate, sizeof gate, "%s.mlp.gate_proj", layer);
	mudsc__graph_namef(up, sizeof up, "%s.mlp.up_proj", layer);
	mudsc__graph_namef(down, sizeof down, "%s.mlp.down_proj", layer);
	mudsc__graph_namef(name, sizeof name, "%s.mlp", layer);
	if ((st = bind_w(c, c->res, gate, "weight", NULL, 1, MUDSC_ROLE_IN)) != MUDSC_OK ||
	    (st = bind_w(c, c->res, up, "weight", NULL, 1, MUDSC_ROLE_IN)) != MUDSC_OK ||
	    (st = bind_w(c, c->res, down, "weight", NULL, 0, MUDSC_ROLE_OUT)) != MUDSC_OK ||
	    (st = mudsc_graph_add_point(&p, c->g, name, c->o->mlp_dim, 1)) != MUDSC_OK)
		return st;
	mudsc__graph_namef(name, sizeof name, "%s:input", down);
	if ((st = mudsc_graph_set_site(c->g, p, name, -1)) != MUDSC_OK ||
	    (st = bind_w(c, p, gate, "weight", NULL, 0, MUDSC_ROLE_OUT)) != MUDSC_OK ||
	    (st = bind_w(c, p, up, "weight", NULL, 0, MUDSC_ROLE_OUT)) != MUDSC_OK)
		return st;
	return bind_w(c, p, down, "weight", NULL, 1, MUDSC_ROLE_IN);
}

static mudsc_status decoder_layer(struct ctx *c, int i)
{
	char layer[NAME_CAP], norm[2 * NAME_CAP];
	mudsc_status st;

	if ((st = mudsc__graph_format_name(layer, sizeof layer, c->o->prefix, c->o->layer_template,
	                                  'i', i, "a Llama layer")) != MUDSC_OK)
		return st;
	mudsc__graph_namef(norm, sizeof norm, "%s.input_layernorm", layer);
	if ((st = bind_w(c, c->res, norm, "weight", NULL, 0, MUDSC_ROLE_OUT)) != MUDSC_OK ||
	    (st = attention(c, layer)) != MUDSC_OK)
		return st;
	mudsc__graph_namef(norm, sizeof norm, "%s.post_attention_layernorm", layer);
	if ((st = bind_w(c, c->res, norm, "weight", NULL, 0, MUDSC_ROLE_OUT)) != MUDSC_OK)
		return st;
	return mlp(c, layer);
}

static mudsc_status build_layers(struct ctx *c)
{
	char t[2 * NAME_CAP];
	mudsc_status st;

	if ((st = head_names(c)) != MUDSC_OK)
		return st;
	mudsc__graph_namef(t, sizeof t, "%sresidual", c->o->prefix);
	if ((st = mudsc_graph_add_point(&c->res, c->g, t, c->o->dim, 1)) != MUDSC_OK)
		return st;
	mudsc__graph_namef(t, sizeof t, "%snorm", c->o->prefix);
	if ((st = mudsc_graph_set_site(c->g, c->res, t, -1)) != MUDSC_OK)
		return st;
	/* the embedding writes the stream: its axis 1; tied, it is the head too */
	mudsc__graph_namef(t, sizeof t, "%sembed_tokens", c->o->prefix);
	if ((st = bind_w(c, c->res, t, "weight", NULL, 1, MUDSC_ROLE_OUT)) != MUDSC_OK)
		return st;
	for (int i = 0; i < c->o->n_layers; i++)
		if ((st = decoder_layer(c, i)) != MUDSC_OK)
			return st;
	mudsc__graph_namef(t, sizeof t, "%snorm", c->o->prefix);
	if ((st = bind_w(c, c->res, t, "weight", NULL, 0, MUDSC_ROLE_OUT)) != MUDSC_OK)
		return st;
	if (c->o->lm_head != NULL && c->o->lm_head[0] != '\0')
		return bind_w(c, c->res, c->o->lm_head, "weight", NULL, 1, MUDSC_ROLE_IN);
	return MUDSC_OK;
}

static mudsc_status build(mudsc_graph *g, const void *opts)
{
	struct ctx c = {.g = g, .o = opts};
	mudsc_status st;

	c.head_dim = c.o->head_dim ? c.o->head_dim : c.o->dim / c.o->num_heads;
	st = build_layers(&c);
	free(c.hq);
	free(c.hq_buf);
	return st;
}

MUDSC_API mudsc_status mudsc_graph_build_llama(mudsc_graph **out, const mudsc_llama_options *opts)
{
	static const struct mudsc__graph_builder builder = {
		MUDSC__OPTIONS_LLAMA, "mudsc_graph_build_llama", check_options, build};
	return mudsc__graph_build(out, opts, &builder);
}

MUDSC_API mudsc_status mudsc_llama_options_init(mudsc_llama_options *opts)
{
	return mudsc__options_init(opts, MUDSC__OPTIONS_LLAMA, "mudsc_llama_options_init");
}
