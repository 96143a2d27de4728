/*
 * Threads per handle: the library's own loops with 1 thread and with T
 * threads (default 2), side by side in one run, reps interleaved, medians:
 *  - merge: mudsc_matcher_merge of N = 2 MLPs with 6 hidden layers of 512
 *    (one tensor per task);
 *  - align: mudsc_matcher_run of N = 4 MLPs with two hidden layers of 512,
 *    3 sweeps (the N-1 = 3 assignments of each point on the threads; BLAS
 *    at the process-wide count for both);
 *  - correlation: mudsc_accum_correlation of 2 x 1024 features (NC = 2048
 *    rows finalised), by two accumulators of the same observations with
 *    options.threads 1 and T.
 * Prints one JSON object.  Usage: bench-threads [T reps]
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mudsc/mudsc.h"

#include "bench_util.h"

enum { MAX_LAYERS = 8 };

static float lcg(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (float)((double)(*s >> 11) / 9007199254740992.0 - 0.5);
}

/* An MLP with widths[0] inputs and n_layers layers (layers.{l}.weight, .bias),
 * random F32 owned by the model. */
static mudsc_model *random_mlp(const int64_t *widths, int n_layers, uint64_t seed)
{
	mudsc_model *m;
	check(mudsc_model_new(&m));
	for (int l = 0; l < n_layers; l++) {
		int64_t shape[2] = {widths[l + 1], widths[l]};
		size_t n = (size_t)(shape[0] * shape[1]);
		float *w = malloc(n * sizeof *w);
		char name[32];
		if (w == NULL)
			exit(1);
		for (size_t k = 0; k < n; k++)
			w[k] = lcg(&seed);
		snprintf(name, sizeof name, "layers.%d.weight", l);
		check(mudsc_model_add(m, name, MUDSC_DTYPE_F32, 2, shape, w, MUDSC_COPY));
		snprintf(name, sizeof name, "layers.%d.bias", l);
		check(mudsc_model_add(m, name, MUDSC_DTYPE_F32, 1, shape, w, MUDSC_COPY));
		free(w);
	}
	return m;
}

struct problem {
	int32_t n;
	mudsc_model *models[4];
	mudsc_graph *graph;
};

static void problem_make(struct problem *p, int32_t n, const int64_t *widths, int n_layers)
{
	mudsc_mlp_options o = MUDSC_MLP_OPTIONS_INIT;
	p->n = n;
	for (int32_t i = 0; i < n; i++)
		p->models[i] = random_mlp(widths, n_layers, 1000 + (uint64_t)i);
	o.n_hidden = (size_t)(n_layers - 1);
	o.hidden = widths + 1;
	check(mudsc_graph_build_mlp(&p->graph, &o));
}

static void problem_free(struct problem *p)
{
	for (int32_t i = 0; i < p->n; i++)
		mudsc_model_free(p->models[i]);
	mudsc_graph_free(p->graph);
}

static mudsc_matcher *matcher(const struct problem *p, int32_t threads, int32_t sweeps)
{
	mudsc_matcher_options o = MUDSC_MATCHER_OPTIONS_INIT;
	mudsc_matcher *m;
	o.max_iter = sweeps;
	o.patience = sweeps; /* every sweep runs: the same work for both counts */
	o.threads = threads;
	check(mudsc_matcher_new(&m, p->graph, (const mudsc_model *const *)p->models, p->n, &o));
	return m;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *t, int n)
{
	qsort(t, (size_t)n, sizeof *t, by_value);
	return t[n / 2];
}

/* What is timed, for one thread count. */
enum workload { MERGE, ALIGN, CORRELATION };

static double time_once(enum workload w, mudsc_matcher *m, mudsc_accum *acc, double *out,
                        size_t len)
{
	mudsc_model *merged;
	double t0 = now();

	if (w == MERGE) {
		check(mudsc_matcher_merge(&merged, m, NULL));
		t0 = now() - t0;
		mudsc_model_free(merged);
		return t0;
	}
	check(w == ALIGN ? mudsc_matcher_run(m) : mudsc_accum_correlation(out, len, NULL, acc));
	return now() - t0;
}

/* Medians (seconds) of reps timings of handle 0 (1 thread) and handle 1
 * (T threads), interleaved. */
static void compare(enum workload w, mudsc_matcher *const m[2], mudsc_accum *const acc[2],
                    double *out, size_t len, int reps, double med[2])
{
	double *t[2] = {malloc((size_t)reps * sizeof(double)), malloc((size_t)reps * sizeof(double))};
	for (int r = 0; r < reps; r++)
		for (int k = 0; k < 2; k++)
			t[k][r] = time_once(w, m[k], acc[k], out, len);
	for (int k = 0; k < 2; k++) {
		med[k] = median(t[k], reps);
		free(t[k]);
	}
}

static void print_row(const char *name, const double med[2], int32_t T, int last)
{
	printf("    \"%s\": {\"ms_1\": %.3f, \"ms_%d\": %.3f, \"speedup\": %.2f}%s\n", name,
	       med[0] * 1e3, (int)T, med[1] * 1e3, med[0] / med[1], last ? "" : ",");
}

int main(int argc, char **argv)
{
	int32_t T = argc > 1 ? atoi(argv[1]) : 2;
	int reps = argc > 2 ? atoi(argv[2]) : 15;
	int before = mudsc_blas_get_threads();
	mudsc_accum *no_acc[2] = {NULL, NULL};
	static const int64_t deep[8] = {256, 512, 512, 512, 512, 512, 512, 10};
	static const int64_t wide[4] = {64, 512, 512, 10};
	struct problem p;
	mudsc_matcher *m[2];
	double med[3][2];

	if (T < 1 || reps < 1)
		return fprintf(stderr, "usage: bench-threads [T >= 1] [reps >= 1]\n"), 2;
	problem_make(&p, 2, deep, 7);
	for (int k = 0; k < 2; k++) {
		m[k] = matcher(&p, k == 0 ? 1 : T, 1);
		check(mudsc_matcher_run(m[k]));
	}
	compare(MERGE, m, no_acc, NULL, 0, reps, med[0]);
	for (int k = 0; k < 2; k++)
		mudsc_matcher_free(m[k]);
	problem_free(&p);

	problem_make(&p, 4, wide, 3);
	for (int k = 0; k < 2; k++)
		m[k] = matcher(&p, k == 0 ? 1 : T, 3);
	compare(ALIGN, m, no_acc, NULL, 0, reps < 5 ? reps : 5, med[1]);
	for (int k = 0; k < 2; k++)
		mudsc_matcher_free(m[k]);
	problem_free(&p);

	{
		enum { C = 1024, ROWS = 256, NC = 2 * C };
		float *x = malloc((size_t)ROWS * C * sizeof *x);
		double *out = malloc((size_t)NC * NC * sizeof *out);
		mudsc_accum *acc[2];
		mudsc_matcher *none[2] = {NULL, NULL};
		if (x == NULL || out == NULL)
			return 1;
		for (int k = 0; k < 2; k++) {
			mudsc_accum_options o = MUDSC_ACCUM_OPTIONS_INIT;
			uint64_t s = 7;
			o.threads = k == 0 ? 1 : T;
			check(mudsc_accum_new(&acc[k], 2, C, &o));
			for (int32_t i = 0; i < 2; i++) {
				mudsc_features v = {.dtype = MUDSC_DTYPE_F32, .rank = 2, .shape = {ROWS, C},
				                    .feature_axis = 1, .data = x};
				for (size_t e = 0; e < (size_t)ROWS * C; e++)
					x[e] = lcg(&s);
				check(mudsc_accum_update(acc[k], i, &v));
			}
			/* settles the rows: the timings are the finalisation alone */
			check(mudsc_accum_correlation(out, (size_t)NC * NC, NULL, acc[k]));
		}
		compare(CORRELATION, none, acc, out, (size_t)NC * NC, reps, med[2]);
		for (int k = 0; k < 2; k++)
			mudsc_accum_free(acc[k]);
		free(out);
		free(x);
	}
	printf("{\n  \"bench\": \"threads\",\n  \"blas\": \"%s\",\n  \"blas_threads\": %d,\n"
	       "  \"threads\": %d,\n  \"medians\": {\n", mudsc_blas_info(), before, (int)T);
	print_row("merge N=2, 6 x 512^2 tensors", med[0], T, 0);
	print_row("align run N=4, C=512, 3 sweeps", med[1], T, 0);
	print_row("correlation NC=2048", med[2], T, 1);
	printf("  }\n}\n");
	return 0;
}
