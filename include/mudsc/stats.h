/*
 * mudsc_stats: the activation statistics of a whole graph for N models --
 * one accumulator (accum.h) per merge point, keyed by the point's name and
 * width -- updated point by point, merged set with set, saved to and loaded
 * from one safetensors file, and handed to a matcher in one call.
 *
 * A set is what a host spreads over threads, processes or machines: each
 * shard streams its part of the calibration data into its own set (every
 * shard sees the same models, each a different part of the data), the sets
 * are merged (Chan's parallel formula, per point, as mudsc_accum_merge())
 * and the result describes the whole data.  Merged in any order the sets
 * give the statistics of the single stream, to rounding (1e-12 relative
 * for F64 input; see docs/algorithm.md section 2 for F32/F16/BF16).
 *
 * File format: docs/stats-format.md (a safetensors file of the raw
 * shifted sums, format "mudsc.stats": version 1 for full statistics,
 * version 2 for cross-block ones, opts->mode = MUDSC_STATS_CROSS).
 * A set's points share one mode, its options'.
 *
 * Threads: a set belongs to one thread at a time, as an accumulator.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_STATS_H
#define MUDSC_STATS_H

#include "common.h"
#include "accum.h"
#include "graph.h"
#include "matcher.h"

MUDSC_BEGIN_DECLS

/** Opaque set of activation statistics: one mudsc_accum per merge point. */
typedef struct mudsc_stats mudsc_stats;

/**
 * Create a set for n_models >= 2 models and every point of graph (in the
 * graph's order): point i gets an accumulator of width
 * mudsc_graph_point_at(i).width, created with opts (NULL = defaults;
 * the same options for every point).  The set copies the names and widths
 * it needs: the graph may be freed afterwards.  Free the set with
 * mudsc_stats_free().
 * Errors: MUDSC_E_INVALID (NULL out or graph, n_models < 2, a graph
 * without points, bad options -- as mudsc_accum_new()), MUDSC_E_NOMEM.
 */
MUDSC_API mudsc_status mudsc_stats_new(mudsc_stats **out, const mudsc_graph *graph,
                                       int32_t n_models, const mudsc_accum_options *opts);

/** Free a set and its accumulators.  NULL is a no-op. */
MUDSC_API void mudsc_stats_free(mudsc_stats *stats);

/** Number of models N (0 for NULL). */
MUDSC_API int32_t mudsc_stats_models(const mudsc_stats *stats);

/** Number of points (0 for NULL). */
MUDSC_API size_t mudsc_stats_point_count(const mudsc_stats *stats);

/**
 * The name (*name, borrowed, lives as long as the set) and width (*width)
 * of point `point`.  Either output may be NULL.
 * Errors: MUDSC_E_INVALID (NULL stats), MUDSC_E_RANGE (point).
 */
MUDSC_API mudsc_status mudsc_stats_point_at(const char **name, int64_t *width,
                                            const mudsc_stats *stats, size_t point);

/** The index of the point called name.  MUDSC_E_NOT_FOUND naming it if absent. */
MUDSC_API mudsc_status mudsc_stats_point_find(size_t *index, const mudsc_stats *stats,
                                              const char *name);

/**
 * The accumulator of point `point`, borrowed: owned by the set (never
 * free it), valid as long as the set.  Use it for the finalisation getters
 * (mudsc_accum_correlation(), _covariance(), _means(), _stddevs(),
 * _count()) or to serialize one point; an update through it is the same
 * as mudsc_stats_update().  Errors: MUDSC_E_INVALID (NULL), MUDSC_E_RANGE.
 */
MUDSC_API mudsc_status mudsc_stats_point(mudsc_accum **out, const mudsc_stats *stats,
                                         size_t point);

/**
 * Add a chunk of model `model`'s features at point `point`: exactly
 * mudsc_accum_update() on that point's accumulator (same descriptor, same
 * rules and errors; messages are prefixed with the function and point).
 * MUDSC_E_RANGE for a bad point.
 */
MUDSC_API mudsc_status mudsc_stats_update(mudsc_stats *stats, size_t point, int32_t model,
                                          const mudsc_features *features);

/** mudsc_stats_update() of the point called name (MUDSC_E_NOT_FOUND naming it if absent). */
MUDSC_API mudsc_status mudsc_stats_update_named(mudsc_stats *stats, const char *name,
                                                int32_t model, const mudsc_features *features);

/**
 * Add src's statistics into dst, point by point (mudsc_accum_merge());
 * all or nothing: every point is checked before any changes, so on error
 * dst is unchanged.  src is unchanged apart from processing buffered
 * complete observations.  dst and src must have the same N and the same
 * points (names and widths, in the same order): MUDSC_E_MISMATCH naming
 * the first that differs.  Other errors as mudsc_accum_merge() (sets of
 * different modes: MUDSC_E_MISMATCH), prefixed
 * with the point (MUDSC_E_MISMATCH for unmatched buffered observations,
 * MUDSC_E_NUMERIC, MUDSC_E_RANGE); dst == src is MUDSC_E_INVALID;
 * MUDSC_E_NOMEM.
 */
MUDSC_API mudsc_status mudsc_stats_merge(mudsc_stats *dst, mudsc_stats *src);

/**
 * Serialize the set to safetensors bytes (docs/stats-format.md);
 * *out_buf is owned by the caller (release with mudsc_free()).  Every
 * point's models must have delivered the same number of observations
 * (MUDSC_E_MISMATCH naming the point).  The non-const set: buffered
 * complete observations are processed.
 */
MUDSC_API mudsc_status mudsc_stats_save_buffer(void **out_buf, size_t *out_len,
                                               mudsc_stats *stats);

/**
 * Save the set as a safetensors file, atomically as mudsc_model_save()
 * (nothing partial is ever visible at path).  Extra memory: the points'
 * shifts, sums and squares (a few N C doubles each) and, in the full mode,
 * each point's packed products (4 N C (N C + 1) bytes); cross blocks are
 * written from the accumulators in place.  Errors as
 * mudsc_stats_save_buffer(), MUDSC_E_IO.
 */
MUDSC_API mudsc_status mudsc_stats_save(mudsc_stats *stats, const char *path);

/**
 * Rebuild a set from mudsc_stats_save_buffer() bytes, checked against
 * graph: the file must hold exactly the graph's points, in its order,
 * with its widths, and n_models models (n_models = 0: the file's N).
 * Accumulators are created with opts (NULL = defaults), in the file's
 * mode whatever opts->mode says.  Malformed
 * safetensors, or a file that is not a version-1 or -2 "mudsc.stats" set, or
 * whose tensors and metadata disagree or hold values an accumulator
 * cannot (docs/stats-format.md), is MUDSC_E_PARSE saying which rule; a
 * valid set for another graph or N is MUDSC_E_MISMATCH naming what
 * differs (the point, its name or width, N).  A save of the result gives
 * the same bytes.  buf is read during the call only.
 */
MUDSC_API mudsc_status mudsc_stats_load_buffer(mudsc_stats **out, const void *buf, size_t len,
                                               const mudsc_graph *graph, int32_t n_models,
                                               const mudsc_accum_options *opts);

/** mudsc_stats_load_buffer() of a file (read, not mapped); MUDSC_E_IO if unreadable. */
MUDSC_API mudsc_status mudsc_stats_load(mudsc_stats **out, const char *path,
                                        const mudsc_graph *graph, int32_t n_models,
                                        const mudsc_accum_options *opts);

/**
 * mudsc_stats_load_buffer() checked against the set `like` instead of a
 * graph: the bytes must hold like's points (names, widths, in its order)
 * and its N (MUDSC_E_MISMATCH naming what differs; MUDSC_E_PARSE as
 * mudsc_stats_load_buffer()).  The new set has like's points and N, its
 * accumulators created with opts (NULL = defaults); like is only read.
 * For hosts that hold a set but not its graph (the MPI companion library
 * rebuilds the other ranks' sets with it, mudsc_mpi.h).
 */
MUDSC_API mudsc_status mudsc_stats_load_buffer_like(mudsc_stats **out, const void *buf,
                                                    size_t len, const mudsc_stats *like,
                                                    const mudsc_accum_options *opts);

/**
 * Replace the statistics of every point of stats by those of
 * mudsc_stats_save_buffer() bytes, checked as
 * mudsc_stats_load_buffer_like(buf, like = stats).  All or nothing: on
 * error stats is unchanged.  The accumulators keep their options; any
 * observations stats had buffered (one model ahead of another) are
 * dropped.  A save of stats afterwards gives the bytes of buf back.
 * Bytes of the other mode (full or cross-block) are MUDSC_E_MISMATCH.
 */
MUDSC_API mudsc_status mudsc_stats_replace_buffer(mudsc_stats *stats, const void *buf,
                                                  size_t len);

/**
 * Give every point of the matcher its activation statistics from the set,
 * on demand (matcher.h, "Statistics on demand"): the matcher keeps a copy
 * of the set's raw sums (its file bytes, mudsc_stats_save_buffer()) and
 * computes each point's S_a when it matches the point, with the bits of
 * mudsc_matcher_set_activations() of that point's accumulator.  The
 * matcher's points are looked up in the set by name; each must be there
 * with the same width, and the set must have the matcher's N
 * (MUDSC_E_MISMATCH naming the point or N).  A cross-block set
 * (MUDSC_STATS_CROSS) serves align; with zip it is MUDSC_E_UNSUPPORTED.
 * All or nothing: on error the matcher is unchanged.  The set may be
 * freed afterwards.
 * Errors: MUDSC_E_INVALID (NULL), MUDSC_E_MISMATCH, MUDSC_E_STATE (a point
 * without observations, named), MUDSC_E_UNSUPPORTED, MUDSC_E_NOMEM (also
 * the memory budget of matcher.h, "Statistics on demand").
 */
MUDSC_API mudsc_status mudsc_matcher_set_stats(mudsc_matcher *matcher, mudsc_stats *stats);

MUDSC_END_DECLS

#endif /* MUDSC_STATS_H */
