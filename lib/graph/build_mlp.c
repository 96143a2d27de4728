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

MUDSC_API void mudsc_mlp_options_init(mudsc_mlp_options *opts)
{
	static const mudsc_mlp_options defaults = MUDSC_MLP_OPTIONS_INIT;
	if (opts != NULL)
		*opts = defaults;
}

static mudsc_status check_options(const mudsc_mlp_options *o)
{
	if (o->size != sizeof *o)
		return mudsc__err(MUDSC_E_INVALID, "mudsc_graph_build_mlp: opts->size = %zu, expected "
		                                  "%zu (use mudsc_mlp_options_init)", o->size, sizeof *o);
	if (o->n_hidden < 1 || o->hidden == NULL)
		return mudsc__err(MUDSC_E_INVALID, "mudsc_graph_build_mlp: opts->n_hidden = %zu and "
		                                  "opts->hidden must give at least one width",
		                 o->n_hidden);
	for (size_t k = 0; k < o->n_hidden; k++)
		if (o->hidden[k] < 1)
			return mudsc__err(MUDSC_E_INVALID, "mudsc_graph_build_mlp: opts->hidden[%zu] = %lld "
			                                  "(need >= 1)", k, (long long)o->hidden[k]);
	if (o->prefix == NULL || o->layer_template == NULL || o->layer_template[0] == '\0')
		return mudsc__err(MUDSC_E_INVALID, "mudsc_graph_build_mlp: opts->prefix and "
		                                  "opts->layer_template must be strings, the template "
		                                  "non-empty");
	if (mudsc__graph_check_name_option(o->prefix, "mudsc_graph_build_mlp", "opts->prefix") ||
	    mudsc__graph_check_name_option(o->layer_template, "mudsc_graph_build_mlp",
	                                  "opts->layer_template"))
		return MUDSC_E_INVALID;
	if (o->index_step < 1)
		return mudsc__err(MUDSC_E_INVALID, "mudsc_graph_build_mlp: opts->index_step = %d (need "
		                                  ">= 1)", (int)o->index_step);
	return MUDSC_OK;
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
	if ((st = mudsc_graph_add_point(g, layer, o->hidden[k], 1, &p)) != MUDSC_OK ||
	    (st = mudsc_graph_set_site(g, p, layer, -1)) != MUDSC_OK)
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

MUDSC_API mudsc_status mudsc_graph_build_mlp(mudsc_graph **out, const mudsc_mlp_options *opts)
{
	mudsc_graph *g = NULL;
	mudsc_status st;

	MUDSC__CHECK_NULL(out);
	MUDSC__CHECK_NULL(opts);
	if ((st = check_options(opts)) != MUDSC_OK || (st = mudsc_graph_new(&g)) != MUDSC_OK)
		return st;
	for (size_t k = 0; k < opts->n_hidden && st == MUDSC_OK; k++)
		st = add_hidden(g, opts, k);
	if (st != MUDSC_OK) {
		mudsc_graph_free(g);
		return st;
	}
	*out = g;
	return MUDSC_OK;
}
