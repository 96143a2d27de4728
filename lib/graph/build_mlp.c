/*
 * Ready graph builder: multilayer perceptrons.
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
	const mudsc_mlp_options *o = opts;

	if (o->n_hidden < 1 || o->hidden == NULL)
		return mudsc__err(MUDSC_E_INVALID, "%s: opts->n_hidden = %zu and opts->hidden must "
		                                  "give at least one width", fn, o->n_hidden);
	for (size_t k = 0; k < o->n_hidden; k++)
		if (o->hidden[k] < 1)
			return mudsc__err(MUDSC_E_INVALID, "%s: opts->hidden[%zu] = %lld (need >= 1)", fn, k,
			                 (long long)o->hidden[k]);
	if (o->index_step < 1)
		return mudsc__err(MUDSC_E_INVALID, "%s: opts->index_step = %d (need >= 1)", fn,
		                 (int)o->index_step);
	if (o->bias != 0 && o->bias != 1)
		return mudsc__err(MUDSC_E_INVALID, "%s: opts->bias = %d (need 0 or 1)", fn, (int)o->bias);
	if (o->site != MUDSC_SITE_POST && o->site != MUDSC_SITE_PRE)
		return mudsc__err(MUDSC_E_INVALID, "%s: opts->site = %d (need MUDSC_SITE_POST or "
		                                  "MUDSC_SITE_PRE)", fn, (int)o->site);
	const struct mudsc__graph_name names[] = {
		{"prefix", o->prefix, false, false},
		{"layer_template", o->layer_template, true, false},
	};
	mudsc_status st = mudsc__graph_check_names(fn, names, sizeof names / sizeof names[0]);
	/* n_hidden + 1 >= 2 layers: each needs its own name */
	if (st == MUDSC_OK && strstr(o->layer_template, "{i}") == NULL)
		return mudsc__err(MUDSC_E_INVALID, "%s: opts->layer_template = '%s' has no \"{i}\": the "
		                                  "MLP's %zu layers would share one name",
		                 fn, o->layer_template, o->n_hidden + 1);
	return st;
}

static mudsc_status layer_name(char *buf, const mudsc_mlp_options *o, size_t k)
{
	int64_t i = (int64_t)o->index_start + (int64_t)k * o->index_step;
	return mudsc__graph_format_name(buf, NAME_CAP, o->prefix, o->layer_template, 'i', i,
	                               "an MLP layer");
}

/* Point k: layer k's outputs, consumed by layer k+1. */
static mudsc_status add_hidden(mudsc_graph *g, const mudsc_mlp_options *o, size_t k)
{
	char layer[NAME_CAP], next[NAME_CAP], t[NAME_CAP + 16];
	size_t p;
	mudsc_status st;

	if ((st = layer_name(layer, o, k)) != MUDSC_OK || (st = layer_name(next, o, k + 1)) != MUDSC_OK)
		return st;
	/* the site: after the activation, the next layer's input (default), or
	 * before it, this layer's output */
	if (o->site == MUDSC_SITE_POST)
		mudsc__graph_namef(t, sizeof t, "%s:input", next);
	else
		mudsc__graph_namef(t, sizeof t, "%s", layer);
	if ((st = mudsc_graph_add_point(&p, g, layer, o->hidden[k], 1)) != MUDSC_OK ||
	    (st = mudsc_graph_set_site(g, p, t, -1)) != MUDSC_OK)
		return st;
	mudsc__graph_namef(t, sizeof t, "%s.weight", layer);
	if ((st = mudsc_graph_bind(g, p, t, NULL, 0, MUDSC_ROLE_OUT, 0)) != MUDSC_OK)
		return st;
	if (o->bias) {
		mudsc__graph_namef(t, sizeof t, "%s.bias", layer);
		if ((st = mudsc_graph_bind(g, p, t, NULL, 0, MUDSC_ROLE_OUT, 0)) != MUDSC_OK)
			return st;
	}
	mudsc__graph_namef(t, sizeof t, "%s.weight", next);
	return mudsc_graph_bind(g, p, t, NULL, 1, MUDSC_ROLE_IN, 0);
}

static mudsc_status build(mudsc_graph *g, const void *opts)
{
	const mudsc_mlp_options *o = opts;

	mudsc_status st = MUDSC_OK;

	for (size_t k = 0; k < o->n_hidden && st == MUDSC_OK; k++)
		st = add_hidden(g, o, k);
	return st;
}

MUDSC_API mudsc_status mudsc_graph_build_mlp(mudsc_graph **out, const mudsc_mlp_options *opts)
{
	static const struct mudsc__graph_builder builder = {
		MUDSC__OPTIONS_MLP, "mudsc_graph_build_mlp", check_options, build};
	return mudsc__graph_build(out, opts, &builder);
}

MUDSC_API mudsc_status mudsc_mlp_options_init(mudsc_mlp_options *opts)
{
	return mudsc__options_init(opts, MUDSC__OPTIONS_MLP, "mudsc_mlp_options_init");
}
