/*
 * libmudsc: merge neural networks trained from different initialisations
 * by MuDSC (merging under dual-space constraints).  This umbrella header is
 * the whole stable API; include only it.
 *
 *   mudsc_model    named tensors, safetensors load/save          model.h
 *   mudsc_graph    merge points, bindings, JSON, ready builders  graph.h
 *   mudsc_accum    streamed activation statistics (S_a)          accum.h
 *   mudsc_matcher  the MuDSC loop, correspondences, merged model matcher.h
 *   mudsc_stats    a graph's statistics: one accumulator a point, stats.h
 *                  merged across shards, one safetensors file
 *   mudsc_average  weighted averages of models, in place (plain average.h
 *                  and aligned through the matcher)
 *
 * Conventions: every fallible call returns mudsc_status (0 = MUDSC_OK) and
 * sets a thread-local message (mudsc_error_message()); constructors fill
 * T **out; mudsc_T_free(NULL) is a no-op; the library never aborts and
 * never prints.
 *
 * What may still change (the matching kernels, accumulator tuning) is in
 * experimental.h, which this header does not include (see its rules).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_MUDSC_H
#define MUDSC_MUDSC_H

#include "version.h"
#include "common.h"
#include "model.h"
#include "graph.h"
#include "accum.h"
#include "matcher.h"
#include "stats.h"
#include "field.h"
#include "average.h"

#endif /* MUDSC_MUDSC_H */
