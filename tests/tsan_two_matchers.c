/*
 * ThreadSanitizer test (suite 'tsan', built only with -Db_sanitize=thread):
 * two matchers with different thread counts (2 and 3) made and run at the
 * same time on two threads over the same models, each also running its own
 * loops on its threads (align's assignments, merged tensors) and streaming its
 * activations through accumulators whose results are finalised on their
 * threads; a third thread finalises a large accumulator meanwhile.  TSan
 * fails the test on any data race; the results must also equal serial runs.
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
	return failures ? 1 : 0;
}
