/*
 * What the ready graph builders (build_mlp.c, build_resnet.c,
 * build_vit.c, build_llama.c, build_gpt2.c) share: their entry (options through the size rule, field
 * checks, a new graph freed on failure) and the checks of their name
 * options.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
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

mudsc_status mudsc__graph_check_positive(const char *fn, const char *field, int64_t value)
{
	if (value < 1)
		return mudsc__err(MUDSC_E_INVALID, "%s: opts->%s = %lld (need >= 1)", fn, field,
		                 (long long)value);
	return MUDSC_OK;
}

mudsc_status mudsc__graph_check_flag(const char *fn, const char *field, int32_t value)
{
	if (value != 0 && value != 1)
		return mudsc__err(MUDSC_E_INVALID, "%s: opts->%s = %d (need 0 or 1)", fn, field,
		                 (int)value);
	return MUDSC_OK;
}

mudsc_status mudsc__graph_check_template(const char *fn, const char *field,
                                        const char *template_, int32_t count, const char *what,
                                        const char *count_field)
{
	if (count > 1 && strstr(template_, "{i}") == NULL)
		return mudsc__err(MUDSC_E_INVALID, "%s: opts->%s = '%s' has no \"{i}\": the %d %s "
		                                  "(opts->%s) would share one name",
		                 fn, field, template_, (int)count, what, count_field);
	return MUDSC_OK;
}

mudsc_status mudsc__graph_bind_param(mudsc_graph *graph, size_t point, const char *module,
                                    const char *param, const char *part, int32_t axis,
                                    mudsc_role role)
{
	char t[1024]; /* the builders' module names are shorter than 512 bytes */
	mudsc__graph_namef(t, sizeof t, "%s%s%s", module, param[0] ? "." : "", param);
	return mudsc_graph_bind(graph, point, t, part, axis, role, 0);
}

mudsc_status mudsc__graph_bind_norm(mudsc_graph *graph, size_t point, const char *norm)
{
	mudsc_status st = mudsc__graph_bind_param(graph, point, norm, "weight", NULL, 0,
	                                         MUDSC_ROLE_OUT);
	return st != MUDSC_OK ? st
	                      : mudsc__graph_bind_param(graph, point, norm, "bias", NULL, 0,
	                                               MUDSC_ROLE_OUT);
}
