/*
 * The matcher's memory budget against what a run really takes: for MLPs
 * 64-W-10 with N = 2 (align and zip, one sweep), the figure
 * mudsc_matcher_new() computes (read from its refusal under a 1-byte
 * budget) beside the peak RSS that run() and merge() add over the models
 * (each case in its own child process, so peaks do not mix); and the time
 * of the refusal of a point of width 20000 under the default budget.
 * Prints JSON lines.  Usage: bench-matcher-memory [reps]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mudsc/mudsc.h"

#include "bench_util.h"

enum { IN = 64, OUT = 10 };

struct pair {
	double *buf[2];
	mudsc_model *models[2];
	mudsc_graph *graph;
};

static int make_pair(struct pair *p, int64_t W)
{
	mudsc_mlp_options mo = MUDSC_MLP_OPTIONS_INIT;
	int64_t s0[2] = {W, IN}, s1[2] = {OUT, W}, c1 = OUT;
	uint64_t seed = 1;

	mo.n_hidden = 1;
	mo.hidden = &W;
	if (mudsc_graph_build_mlp(&p->graph, &mo) != MUDSC_OK)
		return 1;
	for (int i = 0; i < 2; i++) {
		size_t n = (size_t)W * IN + (size_t)W + (size_t)W * OUT + OUT;
		double *b = p->buf[i] = malloc(n * sizeof *b);
		if (b == NULL)
			return 1;
		for (size_t k = 0; k < n; k++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			b[k] = (double)(seed >> 11) / 9007199254740992.0 - 0.5;
		}
		if (mudsc_model_new(&p->models[i]) != MUDSC_OK ||
		    mudsc_model_add(p->models[i], "layers.0.weight", MUDSC_DTYPE_F64, 2, s0, b,
		                    MUDSC_BORROW) != MUDSC_OK ||
		    mudsc_model_add(p->models[i], "layers.0.bias", MUDSC_DTYPE_F64, 1, &W,
		                    b + W * IN, MUDSC_BORROW) != MUDSC_OK ||
		    mudsc_model_add(p->models[i], "layers.1.weight", MUDSC_DTYPE_F64, 2, s1,
		                    b + W * IN + W, MUDSC_BORROW) != MUDSC_OK ||
		    mudsc_model_add(p->models[i], "layers.1.bias", MUDSC_DTYPE_F64, 1, &c1,
		                    b + W * IN + W + W * OUT, MUDSC_BORROW) != MUDSC_OK)
			return 1;
	}
	return 0;
}

static void free_pair(struct pair *p)
{
	for (int i = 0; i < 2; i++) {
		mudsc_model_free(p->models[i]);
		free(p->buf[i]);
	}
	mudsc_graph_free(p->graph);
}

/* The figure of the refusal message ("would allocate about N bytes"). */
static double estimate(struct pair *p, mudsc_matcher_options o)
{
	mudsc_matcher *m;
	const char *at;
	o.max_memory = 1;
	if (mudsc_matcher_new(&m, p->graph, (const mudsc_model *const *)p->models, 2, &o) !=
	        MUDSC_E_NOMEM ||
	    (at = strstr(mudsc_error_message(), "about ")) == NULL)
		return -1.0;
	return strtod(at + 6, NULL);
}

/* In a child: the estimate and the peak RSS (MB) run + merge add. */
static int one_case(int64_t W, int method)
{
	struct pair p = {0};
	mudsc_matcher_options o = MUDSC_MATCHER_OPTIONS_INIT;
	mudsc_matcher *m;
	mudsc_model *merged;
	struct rusage ru;
	long base;
	double est;

	o.method = method;
	o.max_iter = 1;
	o.threads = 1;
	if (make_pair(&p, W))
		return 1;
	est = estimate(&p, o);
	getrusage(RUSAGE_SELF, &ru);
	base = ru.ru_maxrss;
	o.max_memory = 0;
	if (mudsc_matcher_new(&m, p.graph, (const mudsc_model *const *)p.models, 2, &o) != MUDSC_OK ||
	    mudsc_matcher_run(m) != MUDSC_OK || mudsc_matcher_merge(&merged, m, NULL) != MUDSC_OK) {
		fprintf(stderr, "%s\n", mudsc_error_message());
		return 1;
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("{\"bench\": \"matcher-memory\", \"method\": \"%s\", \"N\": 2, \"width\": %lld, "
	       "\"estimate_mb\": %.1f, \"peak_rss_mb\": %.1f}\n",
	       method ? "zip" : "align", (long long)W, est / 1e6,
	       (double)(ru.ru_maxrss - base) * 1024.0 / 1e6);
	mudsc_model_free(merged);
	mudsc_matcher_free(m);
	free_pair(&p);
	fflush(stdout); /* the child leaves by _exit() */
	return 0;
}

int main(int argc, char **argv)
{
	static const int64_t widths[] = {1000, 2000, 3000};
	int reps = argc > 1 ? atoi(argv[1]) : 5;
	double t[64];
	struct pair p = {0};
	mudsc_matcher *m;

	if (reps < 1 || reps > 64)
		reps = 5;
	fflush(stdout);
	for (size_t k = 0; k < sizeof widths / sizeof *widths; k++)
		for (int method = 0; method < 2; method++) {
			int status;
			pid_t pid = fork();
			if (pid == 0)
				_exit(one_case(widths[k], method));
			if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
			    WEXITSTATUS(status) != 0)
				return 1;
		}
	if (make_pair(&p, 20000))
		return 1;
	for (int r = 0; r < reps; r++) {
		double t0 = now();
		mudsc_status st = mudsc_matcher_new(&m, p.graph, (const mudsc_model *const *)p.models,
		                                    2, NULL);
		t[r] = now() - t0;
		if (st != MUDSC_E_NOMEM)
			return 1;
	}
	qsort(t, (size_t)reps, sizeof *t, cmp_double);
	printf("{\"bench\": \"matcher-memory-refusal\", \"width\": 20000, \"N\": 2, "
	       "\"median_ms\": %.3f, \"reps\": %d}\n",
	       1e3 * t[reps / 2], reps);
	free_pair(&p);
	return 0;
}
