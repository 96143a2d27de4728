/*
 * Cross-block statistics at language-model widths (issue 13): N = 2, width
 * C, align.  In one run, side by side:
 *   1. cblas_sgemm of the cross block itself: X_0' X_1 over 4096 float rows
 *      laid out as the streaming engine lays them (64-byte aligned, one row
 *      = both models' C values, ld = 2C), C x C x 4096, 2 C^2 4096 flops:
 *      the machine's rate.  This is the accumulator's only GEMM
 *      (lib/accum/accum.c, add_block_cross: one sgemm of the block's model-0
 *      columns against model 1's), so the same flops are counted for both;
 *   2. mudsc_stats_update() of 4096-row F32 chunks of both models into a
 *      cross-block set (opts->mode = MUDSC_STATS_CROSS): the time of a
 *      chunk pair (the second update completes the block: the engine's row
 *      writing, the units' moments, the GEMM and its addition into the
 *      double cross block), as a rate of the same flops.
 *   One warm-up pair first (sgemm, then the set's first chunk pair, which
 *   also allocates the set's buffers and fixes the shifts: reported apart
 *   as first_chunk_s).  Then for each thread count of the list (the
 *   process-wide BLAS count, mudsc_blas_set_threads, which both sides use)
 *   `chunks` chunk pairs, each between two sgemms (s_0 c_0 s_1 c_1 ...
 *   s_chunks): the figure is the median over pairs of mean(s_k, s_k+1) /
 *   c_k, so that a load that comes and goes slows both alike; beside it
 *   the same ratio of the process's CPU seconds (getrusage), which does not
 *   depend on how much of the machine the run got (OpenBLAS's threads
 *   count while they wait for each other, so it is only a cross-check);
 *   3. the set saved to a statistics file, freed, and the point matched
 *      from the mapped file (mudsc_matcher_set_stats_file, align, alpha
 *      given, one sweep: with alpha > 0 the activation matching (S_a
 *      finalised from the file, one LAP), then S_w, S and a second LAP):
 *      its time (the sweep's from the library's debug log, the rest is
 *      set-up and the activation matching), and the peak RSS of the whole
 *      process (accumulation plus matching), beside the figure of
 *      matcher.h's formula (the library's own, read from a refusal at
 *      max_memory = 1) plus the file's bytes (mapped: its pages count in
 *      the RSS);
 *   4. (lap = 1) mudsc_lap_solve on a C x C matrix of uniform random
 *      entries, the hard case of the assignment (the bench's activations
 *      are a noisy permutation, which the LAP's initialisation nearly
 *      solves): its seconds.
 * A thread samples VmRSS every 0.2 s: the peak of each phase is printed
 * (stderr and the JSON line), and with `timeline` = a file name every
 * sample (seconds, VmRSS bytes, VmHWM bytes, phase) goes there.
 * Prints one JSON line (the times of every pair to stderr).
 * Usage: bench-cross [C=16384] [chunks=3] [match=1] [alpha=0.5]
 *                    [threads=1,2] [lap=0] [timeline=]
 * (match = 0: accumulation only, for a machine without the memory.)
 */
#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "mudsc/experimental.h"
#include "mudsc/mudsc.h"

#include "bench_util.h"

enum { ROWS = 4096, IN = 16, OUT = 10, MAX_CHUNKS = 64, MAX_THREADS = 8, MAX_PHASES = 16 };

static double median(const double *v, int n)
{
	double t[2 * MAX_CHUNKS];
	memcpy(t, v, (size_t)n * sizeof *t);
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

/* ---- the memory timeline ------------------------------------------------ */

static struct {
	atomic_int phase, stop;
	pthread_mutex_t lock; /* the samples of the sampler and of phase() */
	char name[MAX_PHASES][48];
	double start[MAX_PHASES];
	long peak_kb[MAX_PHASES]; /* the largest VmRSS sampled in the phase */
	double t0;
	FILE *out;
} tl;

/* VmRSS and VmHWM of this process in kB (0 when /proc is not there). */
static void status_kb(long *rss, long *hwm)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	*rss = *hwm = 0;
	while (f != NULL && fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, "VmRSS:", 6) == 0)
			*rss = atol(line + 6);
		else if (strncmp(line, "VmHWM:", 6) == 0)
			*hwm = atol(line + 6);
	}
	if (f != NULL)
		fclose(f);
}

static void sample(void)
{
	long rss, hwm;
	int p;

	pthread_mutex_lock(&tl.lock);
	p = atomic_load(&tl.phase);
	status_kb(&rss, &hwm);
	if (rss > tl.peak_kb[p])
		tl.peak_kb[p] = rss;
	if (tl.out != NULL)
		fprintf(tl.out, "%.2f %ld %ld %s\n", now() - tl.t0, rss * 1024, hwm * 1024, tl.name[p]);
	pthread_mutex_unlock(&tl.lock);
}

static void *sampler(void *arg)
{
	const struct timespec tick = {0, 200000000};

	(void)arg;
	while (!atomic_load(&tl.stop)) {
		sample();
		nanosleep(&tick, NULL);
	}
	return NULL;
}

/* Start phase `name` (a new index; the sampler attributes samples to it). */
static void phase(const char *name, int threads)
{
	int p = atomic_load(&tl.phase) + 1;

	if (p >= MAX_PHASES)
		return;
	sample(); /* the end of the phase before */
	pthread_mutex_lock(&tl.lock);
	if (threads > 0)
		snprintf(tl.name[p], sizeof tl.name[p], "%s (threads %d)", name, threads);
	else
		snprintf(tl.name[p], sizeof tl.name[p], "%s", name);
	tl.start[p] = now() - tl.t0;
	atomic_store(&tl.phase, p);
	pthread_mutex_unlock(&tl.lock);
}

/* ---------------------------------------------------------------------------- */

/* CPU seconds of the process (all its threads), user and system. */
static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
	       (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
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

/* The sweep's seconds from the matcher's debug line "sweep 0: X s, ...". */
static double sweep_s = 0.0;

static void on_log(mudsc_log_level level, const char *message, void *user)
{
	const char *at = strstr(message, "sweep 0: ");

	(void)level;
	(void)user;
	if (at != NULL && strstr(message, " s, of which") != NULL)
		sweep_s = atof(at + 9);
	fprintf(stderr, "[%7.2f s] %s\n", now() - tl.t0, message);
}

static void sgemm(const float *rows, float *out, int64_t C)
{
	const int ld = (int)(2 * C);
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)C, (int)C, ROWS, 1.0f, rows, ld,
	            rows + C, ld, 0.0f, out, (int)C);
}

/* One chunk pair: ROWS rows of model 0, then of model 1 (which completes
 * the block and runs the GEMM). */
static int chunk_pair(mudsc_stats *stats, const float *rows, int64_t C)
{
	const int64_t strides[2] = {2 * C, 1};
	mudsc_features f0 = {.dtype = MUDSC_DTYPE_F32, .rank = 2, .shape = {ROWS, C},
	                     .strides = strides, .feature_axis = 1, .data = rows};
	mudsc_features f1 = f0;

	f1.data = rows + C;
	return mudsc_stats_update(stats, 0, 0, &f0) == MUDSC_OK &&
	       mudsc_stats_update(stats, 0, 1, &f1) == MUDSC_OK;
}

struct at_threads {
	int threads;
	double sgemm_s, chunk_s, fraction, cpu_fraction;
};

int main(int argc, char **argv)
{
	int64_t C = argc > 1 ? atoll(argv[1]) : 16384;
	int chunks = argc > 2 ? atoi(argv[2]) : 3;
	int match = argc > 3 ? atoi(argv[3]) : 1;
	double alpha = argc > 4 ? atof(argv[4]) : 0.5, formula = 0.0, file_bytes = 0.0;
	const char *thread_list = argc > 5 ? argv[5] : "1,2";
	int lap = argc > 6 ? atoi(argv[6]) : 0;
	const char *timeline = argc > 7 ? argv[7] : "";
	const size_t ld = 2 * (size_t)C;
	/* 64-byte aligned, as the engine's rows and the accumulator's workspace */
	float *rows = aligned_alloc(64, (ROWS * ld * sizeof(float) + 63) / 64 * 64);
	float *out = aligned_alloc(64, ((size_t)C * C * sizeof(float) + 63) / 64 * 64);
	double flops = 2.0 * (double)C * (double)C * ROWS;
	struct at_threads at[MAX_THREADS];
	int n_at = 0, match_threads = 1;
	mudsc_mlp_options mo = MUDSC_MLP_OPTIONS_INIT;
	mudsc_accum_options ao = MUDSC_ACCUM_OPTIONS_INIT;
	mudsc_matcher_options o = MUDSC_MATCHER_OPTIONS_INIT;
	mudsc_graph *graph = NULL;
	mudsc_stats *stats = NULL;
	mudsc_model *models[2] = {NULL, NULL};
	mudsc_matcher *m = NULL;
	double *w[2] = {NULL, NULL};
	char path[256];
	long rss_accum;
	double t0, t_first = 0.0, t_first_gemm = 0.0, t_save = 0.0, t_new = 0.0, t_run = 0.0;
	double t_lap = 0.0;
	pthread_t tid;

	if (rows == NULL || out == NULL || C < 2 || chunks < 1 || chunks >= MAX_CHUNKS)
		return 1;
	for (const char *s = thread_list; *s != '\0' && n_at < MAX_THREADS; s++) {
		at[n_at].threads = atoi(s);
		if (at[n_at].threads < 1)
			return 1;
		match_threads = at[n_at].threads > match_threads ? at[n_at].threads : match_threads;
		n_at++;
		while (s[1] != '\0' && s[1] != ',')
			s++;
		if (s[1] == ',')
			s++;
	}
	tl.t0 = now();
	snprintf(tl.name[0], sizeof tl.name[0], "fill");
	pthread_mutex_init(&tl.lock, NULL);
	if (timeline[0] != '\0' && (tl.out = fopen(timeline, "w")) == NULL)
		return 1;
	if (pthread_create(&tid, NULL, sampler, NULL) != 0)
		return 1;
	mudsc_log_set_callback(on_log, MUDSC_LOG_DEBUG, NULL);
	fill_rows(rows, C, 10.0);
	mo.n_hidden = 1;
	mo.hidden = &C;
	ao.mode = MUDSC_STATS_CROSS;
	if (mudsc_graph_build_mlp(&graph, &mo) != MUDSC_OK ||
	    mudsc_stats_new(&stats, graph, 2, &ao) != MUDSC_OK)
		return fail("setup");
	/* the warm-up pair: the set's buffers, its shifts, the output's pages */
	phase("warm-up", at[0].threads);
	check(mudsc_blas_set_threads(at[0].threads));
	t0 = now();
	sgemm(rows, out, C);
	t_first_gemm = now() - t0;
	t0 = now();
	if (!chunk_pair(stats, rows, C))
		return fail("update");
	t_first = now() - t0;
	fprintf(stderr, "warm-up, %d threads: sgemm %.4f s, first chunk pair %.4f s\n",
	        at[0].threads, t_first_gemm, t_first);
	/* 1 and 2 alternating, s_0 c_0 s_1 ... c_(chunks-1) s_chunks */
	for (int a = 0; a < n_at; a++) {
		double t_gemm[MAX_CHUNKS + 1], t_chunk[MAX_CHUNKS], ratio[MAX_CHUNKS];
		double c_gemm[MAX_CHUNKS + 1], c_chunk, c_ratio[MAX_CHUNKS], c0;
		phase("accumulate", at[a].threads);
		check(mudsc_blas_set_threads(at[a].threads));
		t0 = now();
		c0 = cpu_s();
		sgemm(rows, out, C);
		t_gemm[0] = now() - t0;
		c_gemm[0] = cpu_s() - c0;
		for (int k = 0; k < chunks; k++) {
			t0 = now();
			c0 = cpu_s();
			if (!chunk_pair(stats, rows, C))
				return fail("update");
			t_chunk[k] = now() - t0;
			c_chunk = cpu_s() - c0;
			t0 = now();
			c0 = cpu_s();
			sgemm(rows, out, C);
			t_gemm[k + 1] = now() - t0;
			c_gemm[k + 1] = cpu_s() - c0;
			ratio[k] = 0.5 * (t_gemm[k] + t_gemm[k + 1]) / t_chunk[k];
			c_ratio[k] = 0.5 * (c_gemm[k] + c_gemm[k + 1]) / c_chunk;
			fprintf(stderr,
			        "%d threads, pair %d: sgemm %.4f s, chunk %.4f s, sgemm %.4f s "
			        "(CPU s: %.2f, %.2f, %.2f)\n",
			        at[a].threads, k, t_gemm[k], t_chunk[k], t_gemm[k + 1], c_gemm[k], c_chunk,
			        c_gemm[k + 1]);
		}
		at[a].sgemm_s = median(t_gemm, chunks + 1);
		at[a].chunk_s = median(t_chunk, chunks);
		at[a].fraction = median(ratio, chunks);
		at[a].cpu_fraction = median(c_ratio, chunks);
	}
	free(rows);
	free(out);
	rss_accum = peak_rss_kb();
	check(mudsc_blas_set_threads(match_threads));
	/* 3. saved, freed, matched from the mapped file */
	if (!match)
		goto report;
	phase("save", 0);
	snprintf(path, sizeof path, "/tmp/bench-cross-%ld.safetensors", (long)getpid());
	t0 = now();
	if (mudsc_stats_save(stats, path) != MUDSC_OK)
		return fail("save");
	t_save = now() - t0;
	mudsc_stats_free(stats);
	stats = NULL;
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
	o.threads = match_threads;
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
	phase("match", match_threads);
	t0 = now();
	if (mudsc_matcher_new(&m, graph, (const mudsc_model *const *)models, 2, &o) != MUDSC_OK ||
	    mudsc_matcher_set_stats_file(m, path) != MUDSC_OK)
		return fail("match");
	t_new = now() - t0;
	t0 = now();
	if (mudsc_matcher_run(m) != MUDSC_OK)
		return fail("match");
	t_run = now() - t0;
	mudsc_matcher_free(m);
	m = NULL;
	unlink(path);
	if (lap) {
		/* 4. the hard assignment: uniform random similarities */
		double *S = malloc((size_t)C * (size_t)C * sizeof *S), objective;
		int64_t *col = malloc((size_t)C * sizeof *col);
		phase("lap, uniform random", 0);
		if (S == NULL || col == NULL)
			return 1;
		for (size_t k = 0; k < (size_t)C * (size_t)C; k++)
			S[k] = uniform();
		t0 = now();
		if (mudsc_lap_solve(col, &objective, S, C) != MUDSC_OK)
			return fail("lap");
		t_lap = now() - t0;
		free(S);
		free(col);
	}
report:
	phase("end", 0);
	atomic_store(&tl.stop, 1);
	pthread_join(tid, NULL);
	for (int p = 1; p < atomic_load(&tl.phase) && p < MAX_PHASES; p++)
		fprintf(stderr, "phase %-26s from %8.2f s: peak VmRSS %6.0f MB\n", tl.name[p],
		        tl.start[p], (double)tl.peak_kb[p] * 1024.0 / 1e6);
	printf("{\"bench\": \"cross-stats\", \"N\": 2, \"width\": %lld, \"rows\": %d, "
	       "\"chunks\": %d, \"gflop_per_chunk_pair\": %.1f, \"first_sgemm_s\": %.4f, "
	       "\"first_chunk_s\": %.4f, \"at\": [",
	       (long long)C, ROWS, chunks, flops / 1e9, t_first_gemm, t_first);
	for (int a = 0; a < n_at; a++)
		printf("%s{\"threads\": %d, \"sgemm_s\": %.4f, \"sgemm_gflops\": %.2f, "
		       "\"chunk_s\": %.4f, \"accum_gflops\": %.2f, \"fraction_of_sgemm\": %.3f, "
		       "\"cpu_fraction_of_sgemm\": %.3f}",
		       a ? ", " : "", at[a].threads, at[a].sgemm_s, flops / at[a].sgemm_s / 1e9,
		       at[a].chunk_s, flops / at[a].chunk_s / 1e9, at[a].fraction, at[a].cpu_fraction);
	printf("], \"save_s\": %.2f, \"alpha\": %g, \"match_threads\": %d, \"match_new_s\": %.2f, "
	       "\"match_run_s\": %.2f, \"match_sweep_s\": %.2f, \"lap_uniform_s\": %.2f, "
	       "\"peak_rss_accum_mb\": %.0f, \"peak_rss_mb\": %.0f, \"formula_mb\": %.0f, "
	       "\"file_mb\": %.0f, \"formula_plus_file_mb\": %.0f, \"phase_peak_mb\": {",
	       t_save, alpha, match_threads, t_new, t_run, sweep_s, t_lap,
	       (double)rss_accum * 1024.0 / 1e6, (double)peak_rss_kb() * 1024.0 / 1e6,
	       formula / 1e6, file_bytes / 1e6, (formula + file_bytes) / 1e6);
	for (int p = 1; p < atomic_load(&tl.phase) && p < MAX_PHASES; p++)
		printf("%s\"%s\": %.0f", p > 1 ? ", " : "", tl.name[p],
		       (double)tl.peak_kb[p] * 1024.0 / 1e6);
	printf("}}\n");
	if (tl.out != NULL)
		fclose(tl.out);
	for (int i = 0; i < 2; i++) {
		mudsc_model_free(models[i]);
		free(w[i]);
	}
	mudsc_stats_free(stats);
	mudsc_graph_free(graph);
	return 0;
}
