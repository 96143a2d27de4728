/*
 * Cross-block statistics at language-model widths (issue 13): N = 2, width
 * C, align.  In one run, side by side:
 *   1. cblas_sgemm of the cross block itself: X_0' X_1 over 4096 float rows
 *      laid out as the streaming engine lays them (one row = both models'
 *      C values, ld = 2C): the machine's rate;
 *   2. mudsc_stats_update() of 4096-row F32 chunks of both models into a
 *      cross-block set (opts->mode = MUDSC_STATS_CROSS): the time of a
 *      chunk pair (the second update completes the block: the engine's row
 *      writing, the units' moments and the GEMM), as a rate of the same
 *      2 C^2 4096 flops.
 *   (1) and (2) alternate, `chunks` pairs, so that a loaded machine slows
 *   both alike: the figure is the median over pairs of sgemm time / chunk
 *   time, beside the medians of each;
 *   3. the set saved to a statistics file, freed, and the point matched
 *      from the mapped file (mudsc_matcher_set_stats_file, align, alpha
 *      given, one sweep: with alpha > 0 the activation matching, then S_w,
 *      S and a second matching): its time, and the peak RSS of the whole
 *      process (accumulation plus matching), beside the figure of
 *      matcher.h's formula (the library's own, read from a refusal at
 *      max_memory = 1) plus the file's bytes (mapped: its pages count in
 *      the RSS).
 * Prints one JSON line (chunk and sgemm times to stderr).
 * Usage: bench-cross [C=16384] [chunks=4] [match=1] [alpha=0.5]
 * (match = 0: accumulation only, for a machine without the memory.)
 * Run with OPENBLAS_NUM_THREADS set as for the host (both measure with it).
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "mudsc/mudsc.h"

#include "bench_util.h"

enum { ROWS = 4096, IN = 16, OUT = 10 };

static double median(double *t, int n)
{
	qsort(t, (size_t)n, sizeof *t, cmp_double);
	return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

static uint64_t seed = 1;

static double uniform(void)
{
	seed = seed * 6364136223846793005ull + 1442695040888963407ull;
	return (double)(seed >> 11) / 9007199254740992.0 - 0.5;
}

/* rows (ROWS x 2C): model 1's unit c is model 0's unit (c * 7) % C plus noise */
static void fill_rows(float *r, int64_t C, double mean)
{
	for (size_t k = 0; k < ROWS; k++) {
		float *row = r + k * 2 * (size_t)C;
		for (int64_t c = 0; c < C; c++)
			row[c] = (float)(mean + uniform());
		for (int64_t c = 0; c < C; c++)
			row[C + c] = (float)(0.8 * (row[(c * 7) % C] - mean) + 0.3 * uniform() + mean);
	}
}

static long peak_rss_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* The bytes of a memory-budget refusal ("would allocate about N bytes"). */
static double refused_bytes(void)
{
	const char *at = strstr(mudsc_error_message(), "about ");
	return at != NULL ? atof(at + 6) : 0.0;
}

static int fail(const char *what)
{
	fprintf(stderr, "bench-cross: %s: %s\n", what, mudsc_error_message());
	return 1;
}

int main(int argc, char **argv)
{
	int64_t C = argc > 1 ? atoll(argv[1]) : 16384;
	int chunks = argc > 2 ? atoi(argv[2]) : 4;
	int match = argc > 3 ? atoi(argv[3]) : 1;
	double alpha = argc > 4 ? atof(argv[4]) : 0.5, formula = 0.0, file_bytes = 0.0;
	const size_t ld = 2 * (size_t)C;
	float *rows = malloc(ROWS * ld * sizeof *rows), *out = malloc((size_t)C * C * sizeof *out);
	double t_gemm[64], t_chunk[64], ratio[64], flops = 2.0 * (double)C * (double)C * ROWS;
	mudsc_mlp_options mo = MUDSC_MLP_OPTIONS_INIT;
	mudsc_accum_options ao = MUDSC_ACCUM_OPTIONS_INIT;
	mudsc_matcher_options o = MUDSC_MATCHER_OPTIONS_INIT;
	mudsc_graph *graph = NULL;
	mudsc_stats *stats = NULL;
	mudsc_model *models[2] = {NULL, NULL};
	mudsc_matcher *m = NULL;
	double *w[2];
	char path[256];
	long rss_accum;
	double t0, t_save = 0.0, t_match = 0.0;

	if (rows == NULL || out == NULL || C < 2 || chunks < 1 || chunks > 64)
		return 1;
	fill_rows(rows, C, 10.0);
	/* 1 and 2 alternating: the machine's sgemm on the same cross block, and
	 * the cross-block set's 4096-row chunks of both models */
	mo.n_hidden = 1;
	mo.hidden = &C;
	ao.mode = MUDSC_STATS_CROSS;
	if (mudsc_graph_build_mlp(&graph, &mo) != MUDSC_OK ||
	    mudsc_stats_new(&stats, graph, 2, &ao) != MUDSC_OK)
		return fail("setup");
	for (int k = 0; k < chunks; k++) {
		const int64_t strides[2] = {(int64_t)ld, 1};
		mudsc_features f0 = {.dtype = MUDSC_DTYPE_F32, .rank = 2, .shape = {ROWS, C},
		                     .strides = strides, .feature_axis = 1, .data = rows};
		mudsc_features f1 = f0;
		f1.data = rows + C;
		t0 = now();
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)C, (int)C, ROWS, 1.0f, rows,
		            (int)ld, rows + C, (int)ld, 0.0f, out, (int)C);
		t_gemm[k] = now() - t0;
		t0 = now();
		if (mudsc_stats_update(stats, 0, 0, &f0) != MUDSC_OK ||
		    mudsc_stats_update(stats, 0, 1, &f1) != MUDSC_OK)
			return fail("update");
		t_chunk[k] = now() - t0;
		ratio[k] = t_gemm[k] / t_chunk[k];
		fprintf(stderr, "pair %d: sgemm %.4f s, chunk %.4f s\n", k, t_gemm[k], t_chunk[k]);
	}
	free(rows);
	free(out);
	rss_accum = peak_rss_kb();
	/* 3. saved, freed, matched from the mapped file */
	if (!match)
		goto report;
	snprintf(path, sizeof path, "/tmp/bench-cross-%ld.safetensors", (long)getpid());
	t0 = now();
	if (mudsc_stats_save(stats, path) != MUDSC_OK)
		return fail("save");
	t_save = now() - t0;
	mudsc_stats_free(stats);
	for (int i = 0; i < 2; i++) {
		int64_t s0[2] = {C, IN}, s1[2] = {OUT, C}, c1 = OUT;
		size_t n = (size_t)C * IN + (size_t)C + (size_t)C * OUT + OUT;
		w[i] = malloc(n * sizeof *w[i]);
		if (w[i] == NULL)
			return 1;
		for (size_t k = 0; k < n; k++)
			w[i][k] = uniform();
		if (mudsc_model_new(&models[i]) != MUDSC_OK ||
		    mudsc_model_add(models[i], "layers.0.weight", MUDSC_DTYPE_F64, 2, s0, w[i],
		                    MUDSC_BORROW) != MUDSC_OK ||
		    mudsc_model_add(models[i], "layers.0.bias", MUDSC_DTYPE_F64, 1, &C, w[i] + C * IN,
		                    MUDSC_BORROW) != MUDSC_OK ||
		    mudsc_model_add(models[i], "layers.1.weight", MUDSC_DTYPE_F64, 2, s1,
		                    w[i] + C * IN + C, MUDSC_BORROW) != MUDSC_OK ||
		    mudsc_model_add(models[i], "layers.1.bias", MUDSC_DTYPE_F64, 1, &c1,
		                    w[i] + C * IN + C + C * OUT, MUDSC_BORROW) != MUDSC_OK)
			return fail("models");
	}
	o.alpha = alpha;
	o.max_iter = 1;
	o.threads = 1;
	{
		/* matcher.h's figure as the library computes it, from two refusals:
		 * new() at max_memory = 1 gives the run's, set_stats_file() at that
		 * budget the figure on demand (H = 0 for a mapped file) */
		FILE *fp = fopen(path, "rb");
		if (fp != NULL && fseek(fp, 0, SEEK_END) == 0)
			file_bytes = (double)ftell(fp);
		if (fp != NULL)
			fclose(fp);
		o.max_memory = 1;
		if (mudsc_matcher_new(&m, graph, (const mudsc_model *const *)models, 2, &o) !=
		    MUDSC_E_NOMEM)
			return fail("budget");
		o.max_memory = (int64_t)refused_bytes();
		if (mudsc_matcher_new(&m, graph, (const mudsc_model *const *)models, 2, &o) != MUDSC_OK)
			return fail("budget");
		if (mudsc_matcher_set_stats_file(m, path) == MUDSC_E_NOMEM)
			formula = refused_bytes();
		mudsc_matcher_free(m);
		m = NULL;
		o.max_memory = 0;
	}
	t0 = now();
	if (mudsc_matcher_new(&m, graph, (const mudsc_model *const *)models, 2, &o) != MUDSC_OK ||
	    mudsc_matcher_set_stats_file(m, path) != MUDSC_OK || mudsc_matcher_run(m) != MUDSC_OK)
		return fail("match");
	t_match = now() - t0;
	unlink(path);
report:
	{
		double f = median(ratio, chunks);
		double g = median(t_gemm, chunks), c = median(t_chunk, chunks);
		printf("{\"bench\": \"cross-stats\", \"N\": 2, \"width\": %lld, \"rows\": %d, "
		       "\"chunks\": %d, \"sgemm_s\": %.4f, \"sgemm_gflops\": %.2f, \"chunk_s\": %.4f, "
		       "\"accum_gflops\": %.2f, \"fraction_of_sgemm\": %.3f, \"save_s\": %.2f, "
		       "\"alpha\": %g, \"match_s\": %.2f, \"peak_rss_accum_mb\": %.0f, "
		       "\"peak_rss_mb\": %.0f, \"formula_mb\": %.0f, \"file_mb\": %.0f, "
		       "\"formula_plus_file_mb\": %.0f}\n",
		       (long long)C, ROWS, chunks, g, flops / g / 1e9, c, flops / c / 1e9, f,
		       t_save, alpha, t_match, (double)rss_accum * 1024.0 / 1e6,
		       (double)peak_rss_kb() * 1024.0 / 1e6, formula / 1e6, file_bytes / 1e6,
		       (formula + file_bytes) / 1e6);
	}
	mudsc_matcher_free(m);
	for (int i = 0; match && i < 2; i++) {
		mudsc_model_free(models[i]);
		free(w[i]);
	}
	if (!match)
		mudsc_stats_free(stats);
	mudsc_graph_free(graph);
	return 0;
}
