/*
 * What the ready graph builders (build_mlp.c, build_resnet.c,
 * build_vit.c, build_llama.c, build_gpt2.c) share: their entry (options through the size rule, field
 * checks, a new graph freed on failure) and the checks of their name
 * options.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "graph/graph.h"
#include "core/core.h"

mudsc_status mudsc__graph_build(mudsc_graph **out, const void *opts,
                               const struct mudsc__graph_builder *b)
{
	/* room for the options of any builder, as this library knows them */
	union {
		mudsc_mlp_options mlp;
		mudsc_resnet_options resnet;
		mudsc_vit_options vit;
		mudsc_llama_options llama;
		mudsc_gpt2_options gpt2;
	} o;
	mudsc_graph *g = NULL;
	mudsc_status st;

	if (out == NULL)
		return mudsc__err(MUDSC_E_INVALID, "%s: argument 'out' is NULL", b->fn);
	if ((st = mudsc__options_read(&o, opts, b->options, b->fn)) != MUDSC_OK ||
	    (st = b->check(&o, b->fn)) != MUDSC_OK || (st = mudsc_graph_new(&g)) != MUDSC_OK)
		return st;
	if ((st = b->build(g, &o)) != MUDSC_OK) {
		mudsc_graph_free(g);
		/* the checks above refuse the options known to clash; any other
		 * names that do are bad options too, told as the builder's */
		if (st == MUDSC_E_NOMEM)
			return st;
		return mudsc__err_context(MUDSC_E_INVALID, "%s: the options give a graph that cannot be built",
		                         b->fn);
	}
	*out = g;
	return MUDSC_OK;
}

mudsc_status mudsc__graph_check_names(const char *fn, const struct mudsc__graph_name *names,
                                     size_t n)
{
	for (size_t k = 0; k < n; k++) {
		const struct mudsc__graph_name *x = &names[k];
		if (x->value == NULL && x->optional)
			continue;
		if (x->value == NULL)
			return mudsc__err(MUDSC_E_INVALID, "%s: opts->%s is NULL", fn, x->field);
		if (x->nonempty && x->value[0] == '\0')
			return mudsc__err(MUDSC_E_INVALID, "%s: opts->%s is empty", fn, x->field);
		if (strlen(x->value) > MUDSC__GRAPH_NAME_OPTION_MAX)
			return mudsc__err(MUDSC_E_INVALID, "%s: opts->%s is %zu bytes long (at most %d)",
			                 fn, x->field, strlen(x->value), MUDSC__GRAPH_NAME_OPTION_MAX);
	}
	return MUDSC_OK;
}
