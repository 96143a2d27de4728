/*
 * What a matcher tells the host through the log callback about its inputs
 * and outputs (the messages are listed in include/mudsc/common.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>

#include "core/core.h"
#include "matcher/report.h"

void mudsc__report_unbound(const mudsc_graph *graph, const mudsc_model *model)
{
	size_t count = 0, *index;
	mudsc_tensor t;

	if (!mudsc__log_enabled(MUDSC_LOG_INFO) ||
	    mudsc_graph_unbound(NULL, 0, &count, graph, model) != MUDSC_OK || count == 0)
		return;
	index = malloc(count * sizeof *index);
	if (index == NULL || mudsc_graph_unbound(index, count, &count, graph, model) != MUDSC_OK) {
		free(index); /* a log message is not worth an error: say nothing */
		return;
	}
	for (size_t k = 0; k < count; k++)
		if (mudsc_model_at(&t, model, index[k]) == MUDSC_OK && mudsc_dtype_is_float(t.dtype))
			mudsc__log(MUDSC_LOG_INFO,
			           "mudsc_matcher_new: float tensor '%s' is bound to no point: it is "
			           "averaged as it is, without alignment",
			           t.name);
	free(index);
}

size_t mudsc__count_ignored_bindings(const mudsc_graph *graph)
{
	const size_t npoints = mudsc_graph_point_count(graph);
	size_t ignored = 0;

	for (size_t p = 0; p < npoints; p++) {
		mudsc_point_info point;
		mudsc_binding_info b;
		if (mudsc_graph_point_at(&point, graph, p) != MUDSC_OK)
			continue;
		for (size_t k = 0; k < point.binding_count; k++)
			if (mudsc_graph_binding_at(&b, graph, p, k) == MUDSC_OK &&
			    (b.flags & MUDSC_BIND_IGNORE) != 0)
				ignored++;
	}
	return ignored;
}

void mudsc__report_merged(size_t ignored_bindings)
{
	if (ignored_bindings > 0)
		mudsc__log(MUDSC_LOG_INFO,
		           "mudsc_matcher_merge: %zu bound axes carry statistics excluded from the "
		           "weight similarity (MUDSC_BIND_IGNORE, e.g. BatchNorm running mean and "
		           "variance); they are merged as averages: re-estimate them on a few "
		           "calibration batches before using the merged model",
		           ignored_bindings);
}
