/*
 * Matcher runs to compare across thread counts, shared by the Check suite
 * `threads` and the ThreadSanitizer test: seeded random MLPs (F32) large
 * enough that the library's loops use their threads, activations through
 * accumulators, and every result of a run (sweeps, objectives, assignments,
 * scores, merged and transformed models) kept for a bitwise comparison.
 * No Check here: functions return statuses or messages.
 */
#ifndef MUDSC_THREADS_FIXTURE_H
#define MUDSC_THREADS_FIXTURE_H

#include <stdint.h>

#include "mudsc/mudsc.h"

/* Widths of the MLPs: input, two hidden layers (the merge points), output,
 * and a float tensor bound to no point (TF_EXTRA elements, averaged).
 * Align's assignments of 128 units and the ~120k elements to merge are
 * above the size at which the library starts threads; the narrow input
 * keeps BLAS cheap, as the tests also run under valgrind. */
enum {
	TF_IN = 64, TF_H1 = 128, TF_H2 = 128, TF_OUT = 16, TF_EXTRA = 96000,
	TF_POINTS = 2, TF_MAX_MODELS = 4
};

struct tf_models {
	int32_t n;
	mudsc_model *models[TF_MAX_MODELS];
	const mudsc_model *const *view; /* models, as the matcher takes them */
	float *weights[TF_MAX_MODELS]; /* each model's tensors, borrowed by it */
	mudsc_graph *graph;
};

/* n (2..TF_MAX_MODELS) random models drawn from seed, and their graph. */
mudsc_status tf_models_make(struct tf_models *f, int32_t n, uint64_t seed);
void tf_models_free(struct tf_models *f);

/* Give every point of m (over f) the correlation of seeded random features
 * (rows observations), streamed through an accumulator. */
mudsc_status tf_give_activations(mudsc_matcher *m, const struct tf_models *f, int64_t rows,
                                 uint64_t seed);

/* Everything a run of a matcher produces. */
struct tf_result {
	int32_t sweeps, best_sweep;
	double objectives[128];
	int64_t assign[TF_POINTS][TF_MAX_MODELS * TF_H1];
	int64_t width[TF_POINTS];
	double scores[TF_POINTS][3];
	mudsc_model *merged, *transformed; /* merge with weights, transform of model 1 */
};

/* Run m (over n models) and collect its results (merge with `weights`,
 * NULL = 1/N each). */
mudsc_status tf_run(struct tf_result *r, mudsc_matcher *m, int32_t n, const double *weights);
void tf_result_free(struct tf_result *r);

/* NULL when a and b are bitwise the same, else what differs first. */
const char *tf_diff(const struct tf_result *a, const struct tf_result *b);

/* NULL when the two models hold the same tensors with the same bytes. */
const char *tf_models_differ(const mudsc_model *a, const mudsc_model *b);

/* A wide MLP (TF_WIDE_IN -> TF_WIDE_H -> TF_WIDE_OUT, F32, seeded): the
 * hidden point's weight features (N x 256 rows of 617) are large enough
 * that their building, row statistics and unit rows run on the matcher's
 * threads (N = 2: 1.26M inner steps against MUDSC__PARALLEL_MIN_WORK's
 * 1.05M), and small enough for the valgrind step of the CI. */
enum { TF_WIDE_IN = 600, TF_WIDE_H = 256, TF_WIDE_OUT = 16, TF_WIDE_MODELS = 3 };

struct tf_wide {
	mudsc_model *m[TF_WIDE_MODELS];
	float *w[TF_WIDE_MODELS];
	mudsc_graph *graph;
};

/* What a weight-only run on it produces (zeroed first: compare bytes). */
struct tf_wide_result {
	int32_t sweeps;
	double objectives[4], scores[3];
	int64_t assign[TF_WIDE_MODELS * TF_WIDE_H], width;
};

mudsc_status tf_wide_make(struct tf_wide *f, int32_t n);
void tf_wide_free(struct tf_wide *f);

/* Two sweeps (patience 1) of `method` without activations on the first n
 * models, S_w's products in `precision`, with `threads`. */
mudsc_status tf_wide_run(struct tf_wide_result *r, const struct tf_wide *f, int32_t n,
                         int32_t method, int32_t precision, int32_t threads);

#endif /* MUDSC_THREADS_FIXTURE_H */
