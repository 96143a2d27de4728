/*
 * ThreadSanitizer test (suite 'tsan', built only with -Db_sanitize=thread).
 * TSan fails the test on any data race; every result must also equal the
 * same run made serially (one thread) before the threads start.
 *
 * 1. Two matchers with different thread counts (2 and 3) made and run at the
 *    same time on two threads over the same models, each also running its
 *    own loops on its threads (align's assignments, merged tensors) and
 *    streaming its activations through accumulators whose results are
 *    finalised on their threads; a third thread finalises a large
 *    accumulator meanwhile.
 * 2. Distinct handles on parallel threads: each of SMALL_JOBS threads builds
 *    its own graph (by the MLP builder, then through JSON), its own models
 *    (through safetensors bytes), accumulators and matcher, runs, merges and
 *    transforms.
 * 3. Shared frozen models and graphs read by several matchers at once:
 *    SHARED_JOBS threads released together by a barrier each call
 *    mudsc_matcher_new over the same already-frozen models and graph (the
 *    race of issue 11 defect 6: mudsc_matcher_new wrote the frozen flag of
 *    models already frozen), and over a second set of models no one has
 *    frozen yet (they freeze them together, through the atomic flag), while
 *    also validating the graph against the models, writing it as JSON and
 *    the models as safetensors bytes, and reading tensors; then run and
 *    merge.
 * 4. Two weight-only matchers (align in float32 with 2 threads, zip in
 *    float64 with 3) on a wide MLP at once: each point's weight features
 *    built per model on the matcher's threads, its row statistics and unit
 *    rows in tasks on them (issue 13).
 *
 * Run with OPENBLAS_NUM_THREADS=1: OpenBLAS is not instrumented and its own
 * worker threads take and hand back work through spin flags TSan cannot
 * see, so whatever a worker writes through an intercepted call (memset in
 * dscal_k when beta = 0) looks like a race with the caller reading the
 * result after cblas_dsyrk returned, even with one application thread.
 * With one OpenBLAS thread every BLAS call computes on its caller's thread
 * and TSan sees every access between threads, with nothing suppressed.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "threads_fixture.h"

struct job {
	const struct tf_models *f;
	int32_t method, threads;
	mudsc_matcher *m;
	struct tf_result got;
	mudsc_status st;
	char message[1024];
};

static mudsc_status new_matcher(mudsc_matcher **m, const struct tf_models *f, int32_t method,
                                int32_t threads)
{
	mudsc_matcher_options o = MUDSC_MATCHER_OPTIONS_INIT;
	o.method = method;
	o.max_iter = 3;
	o.patience = 1;
	o.threads = threads;
	return mudsc_matcher_new(m, f->graph, f->view, f->n, &o);
}

static void *run_job(void *arg)
{
	struct job *j = arg;
	j->st = new_matcher(&j->m, j->f, j->method, j->threads);
	if (j->st == MUDSC_OK)
		j->st = tf_give_activations(j->m, j->f, 64, 7);
	if (j->st == MUDSC_OK)
		j->st = tf_run(&j->got, j->m, j->f->n, NULL);
	snprintf(j->message, sizeof j->message, "%s", mudsc_error_message());
	return NULL;
}

/* An accumulator of 2 x 256 features whose 512 rows are finalised on its
 * 3 threads. */
static void *finalise_job(void *arg)
{
	enum { C = 256, ROWS = 64, NC = 2 * C };
	static double x[ROWS * C], corr[NC * NC];
	mudsc_accum_options o = MUDSC_ACCUM_OPTIONS_INIT;
	mudsc_status *st = arg;
	mudsc_accum *acc = NULL;
	uint64_t s = 5;

	o.threads = 3;
	*st = mudsc_accum_new(&acc, 2, C, &o);
	for (int32_t i = 0; i < 2 && *st == MUDSC_OK; i++) {
		mudsc_features v = {.dtype = MUDSC_DTYPE_F64, .rank = 2, .shape = {ROWS, C},
		                    .feature_axis = 1, .data = x};
		for (size_t k = 0; k < ROWS * C; k++) {
			s = s * 6364136223846793005ull + 1442695040888963407ull;
			x[k] = (double)(s >> 11) / 9007199254740992.0;
		}
		*st = mudsc_accum_update(acc, i, &v);
	}
	for (int rep = 0; rep < 3 && *st == MUDSC_OK; rep++)
		*st = mudsc_accum_correlation(corr, NC * NC, NULL, acc);
	mudsc_accum_free(acc);
	return NULL;
}

/* The reference: the same run with one thread, before any thread starts. */
static mudsc_status reference(struct tf_result *r, const struct tf_models *f, int32_t method)
{
	mudsc_matcher *m = NULL;
	mudsc_status st = new_matcher(&m, f, method, 1);
	if (st == MUDSC_OK)
		st = tf_give_activations(m, f, 64, 7);
	if (st == MUDSC_OK)
		st = tf_run(r, m, f->n, NULL);
	mudsc_matcher_free(m);
	return st;
}

/* ---- 2 and 3: small MLPs 8-16-16-4 (points layers.0 and layers.1) ---- */

enum { S_IN = 8, S_H = 16, S_OUT = 4, S_ROWS = 48, SMALL_JOBS = 3, SHARED_JOBS = 4 };
static const int64_t s_widths[4] = {S_IN, S_H, S_H, S_OUT};

static float s_lcg(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (float)((double)(*s >> 11) / 9007199254740992.0 - 0.5);
}

/* A model of the small MLP's tensors drawn from *seed (copied in). */
static mudsc_status small_model(mudsc_model **out, uint64_t *seed)
{
	float w[S_H * S_H];
	mudsc_status st = mudsc_model_new(out);

	for (int l = 0; l < 3 && st == MUDSC_OK; l++) {
		char name[32];
		int64_t shape[2] = {s_widths[l + 1], s_widths[l]};
		for (int64_t k = 0; k < shape[0] * shape[1]; k++)
			w[k] = s_lcg(seed);
		snprintf(name, sizeof name, "layers.%d.weight", l);
		st = mudsc_model_add(*out, name, MUDSC_DTYPE_F32, 2, shape, w, MUDSC_COPY);
		for (int64_t k = 0; k < shape[0]; k++)
			w[k] = s_lcg(seed);
		snprintf(name, sizeof name, "layers.%d.bias", l);
		if (st == MUDSC_OK)
			st = mudsc_model_add(*out, name, MUDSC_DTYPE_F32, 1, shape, w, MUDSC_COPY);
	}
	return st;
}

static mudsc_status small_graph(mudsc_graph **out)
{
	static const int64_t hidden[2] = {S_H, S_H};
	mudsc_mlp_options o = MUDSC_MLP_OPTIONS_INIT;
	o.n_hidden = 2;
	o.hidden = hidden;
	return mudsc_graph_build_mlp(out, &o);
}

/* What a small run produces, for a bitwise comparison. */
struct small_result {
	int64_t assign[2][2 * S_H];
	mudsc_model *merged, *transformed;
};

static void small_result_free(struct small_result *r)
{
	mudsc_model_free(r->merged);
	mudsc_model_free(r->transformed);
	memset(r, 0, sizeof *r);
}

static const char *small_diff(const struct small_result *a, const struct small_result *b)
{
	if (memcmp(a->assign, b->assign, sizeof a->assign) != 0)
		return "assignments";
	if (tf_models_differ(a->merged, b->merged) != NULL)
		return "merged model";
	if (tf_models_differ(a->transformed, b->transformed) != NULL)
		return "transformed model";
	return NULL;
}

/* A matcher over models (2) and graph with `threads`; with act_seed != 0
 * each point gets the correlation of seeded features through its own
 * accumulator (options.threads = threads); then run, merge, transform. */
static mudsc_status small_run(struct small_result *r, const mudsc_graph *graph,
                              const mudsc_model *const *models, int32_t method,
                              int32_t threads, uint64_t act_seed)
{
	mudsc_matcher_options o = MUDSC_MATCHER_OPTIONS_INIT;
	mudsc_matcher *m = NULL;
	mudsc_status st;

	memset(r, 0, sizeof *r);
	o.method = method;
	o.threads = threads;
	o.max_iter = 3;
	o.patience = 1;
	st = mudsc_matcher_new(&m, graph, models, 2, &o);
	for (size_t p = 0; p < 2 && st == MUDSC_OK && act_seed != 0; p++) {
		mudsc_accum_options ao = MUDSC_ACCUM_OPTIONS_INIT;
		mudsc_accum *acc = NULL;
		double x[S_ROWS * S_H];
		ao.threads = threads;
		st = mudsc_accum_new(&acc, 2, S_H, &ao);
		for (int32_t i = 0; i < 2 && st == MUDSC_OK; i++) {
			mudsc_features v = {.dtype = MUDSC_DTYPE_F64, .rank = 2, .shape = {S_ROWS, S_H},
			                    .feature_axis = 1, .data = x};
			for (size_t k = 0; k < S_ROWS * S_H; k++)
				x[k] = s_lcg(&act_seed);
			st = mudsc_accum_update(acc, i, &v);
		}
		if (st == MUDSC_OK)
			st = mudsc_matcher_set_activations(m, p, acc);
		mudsc_accum_free(acc);
	}
	if (st == MUDSC_OK)
		st = mudsc_matcher_run(m);
	for (size_t p = 0; p < 2 && st == MUDSC_OK; p++)
		st = mudsc_matcher_assignment(r->assign[p], 2 * S_H, NULL, m, p);
	if (st == MUDSC_OK)
		st = mudsc_matcher_merge(&r->merged, m, NULL);
	if (st == MUDSC_OK)
		st = mudsc_matcher_transform(&r->transformed, m, 1);
	mudsc_matcher_free(m);
	return st;
}

/* 2: everything of its own.  The graph goes through JSON and model 1
 * through safetensors bytes, so those run on the threads too. */
struct own_job {
	uint64_t seed;
	int32_t method, threads;
	struct small_result got;
	mudsc_status st;
	char message[1024];
};

static mudsc_status own_run(struct small_result *r, uint64_t seed, int32_t method,
                            int32_t threads)
{
	mudsc_graph *built = NULL, *graph = NULL;
	mudsc_model *made[2] = {NULL, NULL}, *loaded = NULL;
	char *json = NULL;
	void *bytes = NULL;
	size_t json_len = 0, len = 0;
	uint64_t s = seed;
	mudsc_status st = small_graph(&built);

	if (st == MUDSC_OK)
		st = mudsc_graph_to_json(&json, &json_len, built);
	if (st == MUDSC_OK)
		st = mudsc_graph_from_json(&graph, json, json_len);
	for (int i = 0; i < 2 && st == MUDSC_OK; i++)
		st = small_model(&made[i], &s);
	if (st == MUDSC_OK)
		st = mudsc_model_save_buffer(&bytes, &len, made[1]);
	if (st == MUDSC_OK)
		st = mudsc_model_load_buffer(&loaded, bytes, len, MUDSC_COPY);
	if (st == MUDSC_OK) {
		const mudsc_model *models[2] = {made[0], loaded};
		st = small_run(r, graph, models, method, threads, seed ^ 0x9e3779b97f4a7c15ull);
	}
	mudsc_model_free(loaded);
	mudsc_free(bytes);
	for (int i = 0; i < 2; i++)
		mudsc_model_free(made[i]);
	mudsc_free(json);
	mudsc_graph_free(graph);
	mudsc_graph_free(built);
	return st;
}

static void *own_job_run(void *arg)
{
	struct own_job *j = arg;
	j->st = own_run(&j->got, j->seed, j->method, j->threads);
	snprintf(j->message, sizeof j->message, "%s", mudsc_error_message());
	return NULL;
}

/* 3: shared handles, all read at once. */
struct shared {
	const mudsc_graph *graph;
	const mudsc_model *frozen[2];   /* frozen before the threads start */
	const mudsc_model *unfrozen[2]; /* the same tensors, frozen by the threads' matchers */
	char *json;                     /* the graph's JSON, written before */
	pthread_barrier_t go;
};

struct shared_job {
	struct shared *sh;
	int32_t method, threads;
	struct small_result got[2];
	mudsc_status st;
	char message[1024];
};

static mudsc_status shared_reads(const struct shared *sh)
{
	mudsc_tensor t;
	char *json = NULL;
	void *bytes = NULL;
	size_t len = 0;
	mudsc_status st = mudsc_graph_validate(sh->graph, sh->frozen, 2);

	if (st == MUDSC_OK)
		st = mudsc_graph_to_json(&json, NULL, sh->graph);
	if (st == MUDSC_OK && strcmp(json, sh->json) != 0)
		st = MUDSC_E_INTERNAL;
	for (int i = 0; i < 2 && st == MUDSC_OK; i++) {
		st = mudsc_model_save_buffer(&bytes, &len, sh->frozen[i]);
		mudsc_free(bytes);
		bytes = NULL;
	}
	if (st == MUDSC_OK)
		st = mudsc_model_find(&t, sh->frozen[1], "layers.1.weight");
	if (st == MUDSC_OK && !mudsc_model_is_frozen(sh->frozen[0]))
		st = MUDSC_E_INTERNAL;
	mudsc_free(json);
	return st;
}

static void *shared_job_run(void *arg)
{
	struct shared_job *j = arg;
	pthread_barrier_wait(&j->sh->go);
	j->st = small_run(&j->got[0], j->sh->graph, j->sh->frozen, j->method, j->threads, 0);
	if (j->st == MUDSC_OK)
		j->st = small_run(&j->got[1], j->sh->graph, j->sh->unfrozen, j->method, j->threads, 0);
	if (j->st == MUDSC_OK)
		j->st = shared_reads(j->sh);
	snprintf(j->message, sizeof j->message, "%s", mudsc_error_message());
	return NULL;
}

static int distinct_handles(void)
{
	struct own_job jobs[SMALL_JOBS];
	struct small_result ref[SMALL_JOBS];
	pthread_t tid[SMALL_JOBS];
	int failures = 0;

	for (int k = 0; k < SMALL_JOBS; k++) {
		jobs[k] = (struct own_job){.seed = 100 + (uint64_t)k, .method = k % 2, .threads = 1 + k};
		if (own_run(&ref[k], jobs[k].seed, jobs[k].method, 1) != MUDSC_OK)
			return fprintf(stderr, "own handles, reference: %s\n", mudsc_error_message()), 1;
	}
	for (int k = 0; k < SMALL_JOBS; k++)
		pthread_create(&tid[k], NULL, own_job_run, &jobs[k]);
	for (int k = 0; k < SMALL_JOBS; k++)
		pthread_join(tid[k], NULL);
	for (int k = 0; k < SMALL_JOBS; k++) {
		const char *diff = jobs[k].st == MUDSC_OK ? small_diff(&ref[k], &jobs[k].got) : NULL;
		if (jobs[k].st != MUDSC_OK || diff != NULL) {
			fprintf(stderr, "own handles, thread %d: %s\n", k,
			        jobs[k].st != MUDSC_OK ? jobs[k].message : diff);
			failures++;
		}
		small_result_free(&ref[k]);
		small_result_free(&jobs[k].got);
	}
	printf("%d threads, each with its own graph, models, accumulators and matcher: %s\n",
	       SMALL_JOBS, failures ? "FAILED" : "same results as serial runs");
	return failures;
}

static int shared_handles(void)
{
	struct shared sh = {0};
	struct shared_job jobs[SHARED_JOBS];
	struct small_result ref[2];
	mudsc_model *frozen[2] = {NULL, NULL}, *unfrozen[2] = {NULL, NULL};
	mudsc_graph *graph = NULL;
	pthread_t tid[SHARED_JOBS];
	uint64_t s1 = 7, s2 = 7;
	int failures = 0;
	mudsc_status st = small_graph(&graph);

	for (int i = 0; i < 2 && st == MUDSC_OK; i++)
		if ((st = small_model(&frozen[i], &s1)) == MUDSC_OK &&
		    (st = small_model(&unfrozen[i], &s2)) == MUDSC_OK)
			st = mudsc_model_freeze(frozen[i]);
	if (st == MUDSC_OK)
		st = mudsc_graph_to_json(&sh.json, NULL, graph);
	sh.graph = graph;
	for (int i = 0; i < 2; i++) {
		sh.frozen[i] = frozen[i];
		sh.unfrozen[i] = unfrozen[i];
	}
	/* the references: align and zip over the frozen models, one thread */
	for (int k = 0; k < 2 && st == MUDSC_OK; k++)
		st = small_run(&ref[k], graph, sh.frozen, k, 1, 0);
	if (st != MUDSC_OK)
		return fprintf(stderr, "shared handles, reference: %s\n", mudsc_error_message()), 1;
	if (mudsc_model_is_frozen(unfrozen[0]) || mudsc_model_is_frozen(unfrozen[1]))
		return fprintf(stderr, "shared handles: a model is frozen before its matchers\n"), 1;
	pthread_barrier_init(&sh.go, NULL, SHARED_JOBS);
	for (int k = 0; k < SHARED_JOBS; k++) {
		jobs[k] = (struct shared_job){.sh = &sh, .method = k % 2, .threads = 1 + k % 3};
		pthread_create(&tid[k], NULL, shared_job_run, &jobs[k]);
	}
	for (int k = 0; k < SHARED_JOBS; k++)
		pthread_join(tid[k], NULL);
	pthread_barrier_destroy(&sh.go);
	for (int k = 0; k < SHARED_JOBS; k++) {
		const char *diff = NULL;
		if (jobs[k].st == MUDSC_OK)
			for (int v = 0; v < 2 && diff == NULL; v++)
				diff = small_diff(&ref[jobs[k].method], &jobs[k].got[v]);
		if (jobs[k].st != MUDSC_OK || diff != NULL) {
			fprintf(stderr, "shared handles, thread %d: %s\n", k,
			        jobs[k].st != MUDSC_OK ? jobs[k].message : diff);
			failures++;
		}
		for (int v = 0; v < 2; v++)
			small_result_free(&jobs[k].got[v]);
	}
	if (!mudsc_model_is_frozen(unfrozen[0]) || !mudsc_model_is_frozen(unfrozen[1])) {
		fprintf(stderr, "shared handles: the matchers left a model unfrozen\n");
		failures++;
	}
	for (int k = 0; k < 2; k++)
		small_result_free(&ref[k]);
	for (int i = 0; i < 2; i++) {
		mudsc_model_free(frozen[i]);
		mudsc_model_free(unfrozen[i]);
	}
	mudsc_free(sh.json);
	mudsc_graph_free(graph);
	printf("%d matchers at once over shared frozen (and not yet frozen) models and one graph, "
	       "with readers: %s\n", SHARED_JOBS, failures ? "FAILED" : "same results as serial runs");
	return failures;
}

/* ---- 4: two matchers on the wide MLP at once (2 and 3 threads): weight
 * features per model, row statistics, unit rows and S_w's products on
 * their threads ---- */

struct wide_job {
	const struct tf_wide *f;
	int32_t method, precision, threads;
	struct tf_wide_result got;
	mudsc_status st;
};

static void *wide_job_run(void *arg)
{
	struct wide_job *j = arg;
	j->st = tf_wide_run(&j->got, j->f, 2, j->method, j->precision, j->threads);
	return NULL;
}

static int wide_matchers(void)
{
	struct tf_wide f;
	struct wide_job jobs[2] = {
		{.f = &f, .method = MUDSC_METHOD_ALIGN, .precision = MUDSC_PRECISION_F32, .threads = 2},
		{.f = &f, .method = MUDSC_METHOD_ZIP, .precision = MUDSC_PRECISION_F64, .threads = 3}};
	struct tf_wide_result ref[2];
	pthread_t tid[2];
	int failures = 0;

	if (tf_wide_make(&f, 2) != MUDSC_OK)
		return fprintf(stderr, "wide models: %s\n", mudsc_error_message()), 1;
	for (int k = 0; k < 2; k++)
		if (tf_wide_run(&ref[k], &f, 2, jobs[k].method, jobs[k].precision, 1) != MUDSC_OK)
			return fprintf(stderr, "wide reference: %s\n", mudsc_error_message()), 1;
	for (int k = 0; k < 2; k++)
		pthread_create(&tid[k], NULL, wide_job_run, &jobs[k]);
	for (int k = 0; k < 2; k++)
		pthread_join(tid[k], NULL);
	for (int k = 0; k < 2; k++)
		if (jobs[k].st != MUDSC_OK || memcmp(&ref[k], &jobs[k].got, sizeof ref[k]) != 0) {
			fprintf(stderr, "wide matcher %d (%d threads): %s\n", k, (int)jobs[k].threads,
			        jobs[k].st != MUDSC_OK ? mudsc_status_name(jobs[k].st) : "results differ");
			failures++;
		}
	tf_wide_free(&f);
	printf("two wide weight-only matchers (2 and 3 threads): %s\n",
	       failures ? "FAILED" : "same results as serial runs");
	return failures;
}

int main(void)
{
	struct tf_models f;
	struct tf_result ref[2];
	struct job jobs[2] = {{.f = &f, .method = MUDSC_METHOD_ALIGN, .threads = 2},
	                      {.f = &f, .method = MUDSC_METHOD_ZIP, .threads = 3}};
	pthread_t tid[3];
	mudsc_status finalised = MUDSC_OK;
	int failures = 0;

	if (tf_models_make(&f, 3, 21) != MUDSC_OK)
		return fprintf(stderr, "models: %s\n", mudsc_error_message()), 1;
	for (int k = 0; k < 2; k++)
		if (reference(&ref[k], &f, jobs[k].method) != MUDSC_OK)
			return fprintf(stderr, "reference: %s\n", mudsc_error_message()), 1;
	for (int k = 0; k < 2; k++)
		pthread_create(&tid[k], NULL, run_job, &jobs[k]);
	pthread_create(&tid[2], NULL, finalise_job, &finalised);
	for (int k = 0; k < 3; k++)
		pthread_join(tid[k], NULL);
	for (int k = 0; k < 2; k++) {
		const char *diff = jobs[k].st == MUDSC_OK ? tf_diff(&ref[k], &jobs[k].got) : NULL;
		if (jobs[k].st != MUDSC_OK || diff != NULL) {
			fprintf(stderr, "matcher %d (%d threads): %s\n", k, (int)jobs[k].threads,
			        jobs[k].st != MUDSC_OK ? jobs[k].message : diff);
			failures++;
		}
		tf_result_free(&ref[k]);
		tf_result_free(&jobs[k].got);
		mudsc_matcher_free(jobs[k].m);
	}
	if (finalised != MUDSC_OK) {
		fprintf(stderr, "accumulator: %s\n", mudsc_status_name(finalised));
		failures++;
	}
	tf_models_free(&f);
	printf("two matchers (2 and 3 threads) and an accumulator on three threads: %s\n",
	       failures ? "FAILED" : "same results as serial runs");
	failures += distinct_handles();
	failures += shared_handles();
	failures += wide_matchers();
	return failures ? 1 : 0;
}
