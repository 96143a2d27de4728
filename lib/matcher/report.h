/*
 * Log messages of a matcher about its inputs and outputs.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_REPORT_H
#define MUDSC_REPORT_H

#include <stddef.h>

#include "mudsc/graph.h"
#include "mudsc/model.h"

/* INFO, one message per float tensor of `model` that no point binds. */
void mudsc__report_unbound(const mudsc_graph *graph, const mudsc_model *model);

/* Number of bindings with MUDSC_BIND_IGNORE (statistics such as BatchNorm's). */
size_t mudsc__count_ignored_bindings(const mudsc_graph *graph);

/* INFO after a merge: the re-estimation advice when statistics were averaged. */
void mudsc__report_merged(size_t ignored_bindings);

#endif /* MUDSC_REPORT_H */
