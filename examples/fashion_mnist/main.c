/*
 * fashion_mnist: the README's main job.  Trains two MLPs
 * (784-512-512-512-D, ReLU) from different seeds on disjoint halves of
 * Fashion-MNIST's classes, with cosine logits against a fixed class
 * embedding matrix, merges them with libmudsc (weight matching,
 * activation alignment, ZipIt!, MuDSC align and zip, each also with
 * REPAIR and with REPAIR plus the output layer's least squares; CCA
 * merging; plain weight averaging as the baseline) and prints one table of
 * test accuracies.
 * MuDSC's alpha is chosen by mean per-task accuracy (the table's measure;
 * --alpha-by joint: by joint accuracy) on held-out training images (the
 * last 5,000 of the training set, never trained on), never on the test
 * set, the same way for every row that has an alpha.  One job per file:
 * config (options), idx and data (the dataset), mlp, adam and train (the
 * networks), task (the protocol), merge (every libmudsc call); this file
 * runs the experiment and prints.
 *
 * Usage: fashion_mnist [--data DIR] [--split halves|even-odd|DIGITS]
 *                      [--seed N] [--epochs N] [--threads 1|2]
 *                      [--site post|pre] [--repair yes|no] [--repair-output yes|no]
 *                      [--lsq-output yes|no]
 *                      [--alpha-by mean|joint] [--alpha-step X] [--quick]
 *                      [--export DIR]
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "data.h"
#include "merge.h"
#include "mlp.h"
#include "task.h"
#include "train.h"

#define MAX_ROWS 32
#define MAX_ALPHAS 64

/* One line of the table. */
struct row {
	const char *method;
	double alpha;   /* NAN: not applicable */
	struct scores s;
	double seconds; /* merge time, NAN for rows that are not merges */
	struct scores held; /* on the held-out training images, NAN if not scored */
	double ridge;   /* the output least squares' chosen ridge, NAN without it */
};

/* What the experiment holds from start to end, released together. */
struct experiment {
	struct config cfg;
	struct dataset train, test, holdout, calib;
	struct subset task_set[2];
	struct protocol proto;
	struct mlp net[2];
	struct merger merger;
	float *logits[3]; /* test logits of net A, net B, scratch */
	struct row rows[MAX_ROWS];
	int n_rows;
	struct curve {
		const char *method;
		int n;
		double alpha[MAX_ALPHAS];
		struct scores held[MAX_ALPHAS]; /* held-out scores at each alpha */
		double seconds; /* the whole search */
	} curves[6];
	int n_curves;
	double train_s[2], train_wall_s, calib_s;
	struct params_row {
		const char *method;
		int64_t params;
	} params[4]; /* partial zipping: trunk + both heads */
	int n_params;
};

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#define ALL_CLASSES ((1u << FMNIST_CLASSES) - 1u)

/* out = images [lo, hi) of d. */
static int take_range(struct dataset *out, const struct dataset *d, int64_t lo, int64_t hi)
{
	struct subset s;
	int rc;

	if (subset_select(&s, d, lo, hi, ALL_CLASSES) != 0)
		return -1;
	rc = dataset_take(out, d, &s);
	subset_free(&s);
	return rc;
}

/* calib / 2 random training images of each task's classes (never held-out ones). */
static int take_calibration(struct experiment *x, int64_t n_fit, struct rng *r)
{
	struct subset all = {0}, half = {0};
	int rc = -1;

	for (int t = 0; t < 2; t++) {
		subset_free(&half);
		if (subset_select(&half, &x->train, 0, n_fit, x->proto.mask[t]) != 0)
			goto done;
		subset_sample(&half, x->cfg.calib / 2, r);
		if (subset_append(&all, &half) != 0)
			goto done;
	}
	rc = dataset_take(&x->calib, &x->train, &all);
done:
	subset_free(&all);
	subset_free(&half);
	return rc;
}

/* Per-task training images, held-out images, calibration images, test subset. */
static int make_sets(struct experiment *x)
{
	const struct config *c = &x->cfg;
	int64_t n_fit = x->train.n - c->holdout;
	struct dataset small;
	struct rng r;

	if (n_fit < 1) {
		fprintf(stderr, "fashion_mnist: %lld training images, %lld held out\n",
		        (long long)x->train.n, (long long)c->holdout);
		return -1;
	}
	rng_seed(&r, c->seed ^ UINT64_C(0xC0FFEE));
	for (int t = 0; t < 2; t++) {
		if (subset_select(&x->task_set[t], &x->train, 0, n_fit, x->proto.mask[t]) != 0)
			return -1;
		if (c->train_limit)
			subset_sample(&x->task_set[t], c->train_limit, &r);
	}
	if (take_range(&x->holdout, &x->train, n_fit, x->train.n) != 0 ||
	    take_calibration(x, n_fit, &r) != 0)
		return -1;
	if (c->test_limit && c->test_limit < x->test.n) {
		if (take_range(&small, &x->test, 0, c->test_limit) != 0)
			return -1;
		dataset_free(&x->test);
		x->test = small;
	}
	return 0;
}

/* One network's training; both run at once on their own threads. */
struct train_job {
	struct experiment *x;
	int task, rc;
};

static void *train_one(void *arg)
{
	struct train_job *job = arg;
	struct experiment *x = job->x;
	const struct config *c = &x->cfg;
	int t = job->task;
	int64_t width[5] = {FMNIST_PIXELS, c->hidden, c->hidden, c->hidden, c->dim};
	struct train_options o = {c->epochs, c->batch, c->lr, 2 * c->seed + (uint64_t)t, 0, 0, 0};
	double t0 = now();

	job->rc = mlp_new(&x->net[t], 4, width) != 0 ||
	                  train_task(&x->net[t], &x->proto, t, &x->train, &x->task_set[t], &o, 1) != 0
	              ? -1
	              : 0;
	x->train_s[t] = now() - t0;
	if (job->rc == 0)
		fprintf(stderr, "fashion_mnist: network %c trained on %lld images in %.1f s\n", 'A' + t,
		        (long long)x->task_set[t].n, x->train_s[t]);
	return NULL;
}

/*
 * Train both networks, at once when --threads is 2.  The BLAS itself runs
 * on one thread (main): the threads that share a product split its sums,
 * so the bits of every product, hence the weights and the table, would
 * change with the thread count.  Each network's own order of operations
 * does not depend on the other one: 1 and 2 give the same table.
 */
static int train_both(struct experiment *x)
{
	struct train_job job[2] = {{x, 0, -1}, {x, 1, -1}};
	pthread_t second;
	double t0 = now();
	int at_once = x->cfg.threads > 1 && pthread_create(&second, NULL, train_one, &job[1]) == 0;

	train_one(&job[0]);
	if (at_once)
		pthread_join(second, NULL);
	else
		train_one(&job[1]);
	x->train_wall_s = now() - t0;
	return job[0].rc == 0 && job[1].rc == 0 ? 0 : -1;
}

static int score_net(struct scores *out, struct experiment *x, const struct mlp *net,
                     const struct dataset *d, float *logits)
{
	if (protocol_net_logits(&x->proto, net, d, logits) != 0)
		return -1;
	*out = protocol_score(&x->proto, logits, d->y, d->n);
	return 0;
}

static const struct scores no_scores = {NAN, {NAN, NAN}, NAN};

static void add_row(struct experiment *x, const char *method, double alpha,
                    const struct scores *s, double seconds, const struct scores *held)
{
	if (x->n_rows < MAX_ROWS)
		x->rows[x->n_rows++] = (struct row){method, alpha, *s, seconds, *held, NAN};
}

/* The name of that score, for the printed headers. */
static const char *criterion_name(const struct config *c)
{
	return c->alpha_by == ALPHA_BY_JOINT ? "joint accuracy" : "mean per-task accuracy";
}

/* The held-out score that chooses alpha (--alpha-by). */
static double criterion(const struct experiment *x, const struct scores *held)
{
	return x->cfg.alpha_by == ALPHA_BY_JOINT ? held->joint : held->mean;
}

/*
 * A merged network's row: test scores, and the held-out scores for
 * reference; ridge: the output least squares' (NAN without it).
 */
static int add_merged(struct experiment *x, const char *method, double alpha,
                      const struct mlp *net, double seconds, double ridge)
{
	struct scores test, held;

	if (score_net(&held, x, net, &x->holdout, x->logits[2]) != 0 ||
	    score_net(&test, x, net, &x->test, x->logits[2]) != 0)
		return -1;
	add_row(x, method, alpha, &test, seconds, &held);
	x->rows[x->n_rows - 1].ridge = ridge;
	return 0;
}

/* Both base models and the output ensemble (mean of their 10-class logits). */
static int add_base_rows(struct experiment *x)
{
	static const char *names[2] = {"model A", "model B"};
	struct scores s;

	for (int t = 0; t < 2; t++) {
		if (score_net(&s, x, &x->net[t], &x->test, x->logits[t]) != 0)
			return -1;
		add_row(x, names[t], NAN, &s, NAN, &no_scores);
	}
	for (int64_t i = 0; i < x->test.n * FMNIST_CLASSES; i++)
		x->logits[2][i] = 0.5f * (x->logits[0][i] + x->logits[1][i]);
	s = protocol_score(&x->proto, x->logits[2], x->test.y, x->test.n);
	add_row(x, "ensemble (2 models)", NAN, &s, NAN, &no_scores);
	return 0;
}

/*
 * The relative ridges the output least squares tries (docs/algorithm.md
 * 23.4), chosen with alpha by the held-out score; the test set plays no
 * part.
 */
static const double lsq_ridges[] = {1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1};
#define N_RIDGES ((int)(sizeof lsq_ridges / sizeof lsq_ridges[0]))

/* The best candidate so far, by the held-out score. */
struct pick {
	struct mlp net;
	struct scores held;
	double alpha, ridge, secs; /* alpha, ridge: NAN where they do not apply */
	int have;
};

/*
 * Merge spec (with lsq: the output least squares once per ridge of
 * lsq_ridges) and keep in *p whichever candidate scores best on the
 * held-out images, p's own included (the earlier one on ties); *held gets
 * the best held-out scores of this call's candidates.
 */
static int pick_best(struct experiment *x, const struct merge_spec *spec, int lsq,
                     struct pick *p, struct scores *held)
{
	struct mlp cands[N_RIDGES];
	int n = lsq ? N_RIDGES : 1;
	double t0 = now(), secs;

	if (lsq ? merger_run_lsq(&x->merger, spec, lsq_ridges, n, cands)
	        : merger_run(&x->merger, spec, &cands[0], NULL))
		return -1;
	secs = now() - t0;
	for (int k = 0; k < n; k++) {
		struct scores s;

		if (score_net(&s, x, &cands[k], &x->holdout, x->logits[2]) != 0) {
			while (k < n)
				mlp_free(&cands[k++]);
			return -1;
		}
		if (k == 0 || criterion(x, &s) > criterion(x, held))
			*held = s;
		if (p->have && criterion(x, &s) <= criterion(x, &p->held)) {
			mlp_free(&cands[k]);
			continue;
		}
		if (p->have)
			mlp_free(&p->net);
		*p = (struct pick){cands[k], s,
		                   spec->use_activations && spec->method != MUDSC_METHOD_CCA
		                       ? spec->alpha
		                       : NAN,
		                   lsq ? lsq_ridges[k] : NAN, secs, 1};
	}
	return 0;
}

/*
 * One merge with a fixed configuration (with lsq: the ridge chosen on the
 * held-out images), scored on the test set.
 */
static int add_merge(struct experiment *x, const char *method, const struct merge_spec *spec,
                     int lsq)
{
	struct pick best = {0};
	struct scores held;
	int rc;

	if (pick_best(x, spec, lsq, &best, &held) != 0)
		return -1;
	rc = add_merged(x, method, best.alpha, &best.net, best.secs, best.ridge);
	mlp_free(&best.net);
	return rc;
}

/*
 * MuDSC: merge at every alpha of the grid, keep the merge with the best
 * held-out score (criterion(): mean per-task accuracy by default, the
 * table's measure; the first alpha on ties), then score that one on the
 * test set.  With repair, every candidate is REPAIRed before it is scored,
 * so the alpha is chosen for the row's own merge; with lsq, the ridge of
 * the output least squares is chosen with it.
 */
static int add_mudsc(struct experiment *x, const char *method, mudsc_method m, int repair,
                     int lsq)
{
	struct curve *cv = &x->curves[x->n_curves++];
	struct pick best = {0};
	double start = now();
	int rc;

	cv->method = method;
	for (int k = 1; k * x->cfg.alpha_step < 1.0 - 1e-9 && cv->n < MAX_ALPHAS; k++) {
		struct merge_spec spec = {m, k * x->cfg.alpha_step, 1, 0, repair};

		if (pick_best(x, &spec, lsq, &best, &cv->held[cv->n]) != 0) {
			mlp_free(&best.net);
			return -1;
		}
		cv->alpha[cv->n++] = spec.alpha;
	}
	cv->seconds = now() - start;
	rc = add_merged(x, method, best.alpha, &best.net, best.secs, best.ridge);
	if (rc == 0 && x->cfg.export_dir != NULL && m == MUDSC_METHOD_ALIGN && !repair) {
		struct merge_spec spec = {m, best.alpha, 1, 0, 0}; /* the tool has no REPAIR */
		rc = merger_export(&x->merger, &spec, x->cfg.export_dir);
	}
	mlp_free(&best.net);
	return rc;
}

/*
 * Scores of a partially zipped pair on d: task A by head A, task B by
 * head B, joint on the mean of the two heads' logits (as the ensemble).
 * logits[0..2] are scratch (the base models' logits are no longer needed).
 */
static int score_heads(struct scores *out, struct experiment *x, const struct mlp heads[2],
                       const struct dataset *d)
{
	struct scores s[3];

	if (protocol_net_logits(&x->proto, &heads[0], d, x->logits[0]) != 0 ||
	    protocol_net_logits(&x->proto, &heads[1], d, x->logits[1]) != 0)
		return -1;
	for (int64_t i = 0; i < d->n * FMNIST_CLASSES; i++)
		x->logits[2][i] = 0.5f * (x->logits[0][i] + x->logits[1][i]);
	for (int k = 0; k < 3; k++)
		s[k] = protocol_score(&x->proto, x->logits[k], d->y, d->n);
	*out = (struct scores){s[2].joint, {s[0].task[0], s[1].task[1]},
	                       0.5 * (s[0].task[0] + s[1].task[1])};
	return 0;
}

/*
 * ZipIt!'s partial zipping (activation zip of the first depth points, one
 * head per network), scored by score_heads on the test set and, for
 * reference, on the held-out images.  The row's parameter count goes to
 * x->params.
 */
static int add_partial(struct experiment *x, const char *method, int32_t depth)
{
	struct merge_spec spec = {MUDSC_METHOD_ZIP, 0.0, 1, 0, 0};
	struct mlp heads[2];
	struct scores test, held;
	int64_t params;
	double t0 = now();
	int rc = -1;

	if (merger_run_partial(&x->merger, &spec, depth, heads, &params) != 0)
		return -1;
	double secs = now() - t0;
	if (score_heads(&held, x, heads, &x->holdout) == 0 &&
	    score_heads(&test, x, heads, &x->test) == 0) {
		add_row(x, method, 0.0, &test, secs, &held);
		if (x->n_params < 4)
			x->params[x->n_params++] = (struct params_row){method, params};
		rc = 0;
	}
	mlp_free(&heads[0]);
	mlp_free(&heads[1]);
	return rc;
}

/*
 * A fixed-configuration method, then (with REPAIR on) the same with
 * REPAIR, and (with the output least squares on too) with REPAIR of the
 * hidden points and the output least squares.  names: the three rows.
 */
static int add_fixed(struct experiment *x, const char *const names[3], struct merge_spec spec)
{
	if (add_merge(x, names[0], &spec, 0) != 0)
		return -1;
	if (!x->cfg.repair)
		return 0;
	spec.repair = 1;
	if (add_merge(x, names[1], &spec, 0) != 0)
		return -1;
	return x->cfg.lsq_output ? add_merge(x, names[2], &spec, 1) : 0;
}

/* MuDSC's rows of method m, as add_fixed's but each with its own alpha. */
static int add_mudsc_rows(struct experiment *x, const char *const names[3], mudsc_method m)
{
	if (add_mudsc(x, names[0], m, 0, 0) != 0)
		return -1;
	if (!x->cfg.repair)
		return 0;
	if (add_mudsc(x, names[1], m, 1, 0) != 0)
		return -1;
	return x->cfg.lsq_output ? add_mudsc(x, names[2], m, 1, 1) : 0;
}

/*
 * CCA merging, and with the output least squares (REPAIR needs the
 * permutations that CCA's dense transforms are not, so no REPAIR row).
 */
static int add_cca(struct experiment *x)
{
	struct merge_spec cca = {MUDSC_METHOD_CCA, 0.0, 1, 0, 0};

	if (add_merge(x, "CCA merge", &cca, 0) != 0)
		return -1;
	return x->cfg.lsq_output ? add_merge(x, "CCA merge + LSQ out", &cca, 1) : 0;
}

static int run_merges(struct experiment *x)
{
	static const char *const wm[3] = {"weight matching", "weight matching + REPAIR",
	                                  "weight matching + REPAIR, LSQ out"};
	static const char *const aa[3] = {"activation alignment", "activation align + REPAIR",
	                                  "activation align + REPAIR, LSQ out"};
	static const char *const zipit[3] = {"ZipIt! (activation zip)", "ZipIt! + REPAIR",
	                                     "ZipIt! + REPAIR, LSQ out"};
	static const char *const align[3] = {"MuDSC align", "MuDSC align + REPAIR",
	                                     "MuDSC align + REPAIR, LSQ out"};
	static const char *const zip[3] = {"MuDSC zip", "MuDSC zip + REPAIR",
	                                   "MuDSC zip + REPAIR, LSQ out"};
	struct merge_spec average = {MUDSC_METHOD_ALIGN, 1.0, 0, 1, 0};
	struct merge_spec weight = {MUDSC_METHOD_ALIGN, 1.0, 0, 0, 0};
	struct merge_spec act_align = {MUDSC_METHOD_ALIGN, 0.0, 1, 0, 0};
	struct merge_spec act_zip = {MUDSC_METHOD_ZIP, 0.0, 1, 0, 0};
	double t0 = now();

	if (merger_new(&x->merger, &x->net[0], &x->net[1], x->cfg.site) != 0)
		return -1;
	x->merger.repair_output = x->cfg.repair_output;
	if (merger_calibrate(&x->merger, &x->calib, x->cfg.batch) != 0)
		return -1;
	x->calib_s = now() - t0;
	if (add_merge(x, "weight averaging", &average, 0) != 0 || add_fixed(x, wm, weight) != 0 ||
	    add_fixed(x, aa, act_align) != 0 || add_fixed(x, zipit, act_zip) != 0 ||
	    add_cca(x) != 0 || add_mudsc_rows(x, align, MUDSC_METHOD_ALIGN) != 0 ||
	    add_mudsc_rows(x, zip, MUDSC_METHOD_ZIP) != 0)
		return -1;
	if (add_partial(x, "ZipIt! partial, depth 1", 1) != 0 ||
	    add_partial(x, "ZipIt! partial, depth 2", 2) != 0)
		return -1;
	return 0;
}

static void print_header(const struct experiment *x)
{
	const struct config *c = &x->cfg;

	printf("Fashion-MNIST, split %s: task A = classes", c->split);
	for (int i = 0; i < x->proto.n_classes[0]; i++)
		printf(" %d", x->proto.classes[0][i]);
	printf(", task B =");
	for (int i = 0; i < x->proto.n_classes[1]; i++)
		printf(" %d", x->proto.classes[1][i]);
	printf("\nMLP 784-%lld-%lld-%lld-%lld (ReLU), cosine logits x %.0f, %d epochs, seeds %llu/%llu;"
	       " %lld + %lld training images, %lld held out, %lld calibration, %lld test\n",
	       (long long)c->hidden, (long long)c->hidden, (long long)c->hidden, (long long)c->dim,
	       (double)c->scale, c->epochs, (unsigned long long)(2 * c->seed),
	       (unsigned long long)(2 * c->seed + 1), (long long)x->task_set[0].n,
	       (long long)x->task_set[1].n, (long long)x->holdout.n, (long long)x->calib.n,
	       (long long)x->test.n);
	printf("libmudsc %s, %s, %d BLAS threads; matching statistics %s the ReLU%s\n",
	       mudsc_version_string(), mudsc_blas_info(), mudsc_blas_get_threads(),
	       c->site ? "before" : "after",
	       c->repair ? (c->repair_output ? "; REPAIR with the pre-activation statistics, and "
	                                       "of the output layer"
	                                     : "; REPAIR with the pre-activation statistics")
	                 : "");
	if (c->lsq_output)
		printf("LSQ out: the output layer re-solved by least squares towards the mean of the "
		       "two networks'\nunit-normalised outputs on the calibration images (after "
		       "REPAIR of the hidden points),\nits relative ridge chosen from 1e-6..1e-1 "
		       "with alpha on the held-out images\n");
	printf("MuDSC's alpha: grid step %.2f, chosen by held-out %s\n\n", c->alpha_step,
	       criterion_name(c));
	if (c->quick)
		printf("--quick: a smoke run (64-wide networks, 1 epoch, 2000 images per task):\n"
		       "its accuracies mean nothing.\n\n");
}

static void print_table(const struct experiment *x)
{
	printf("| %-34s | alpha | joint | task A | task B |  mean |\n", "method");
	printf("|------------------------------------|------:|------:|-------:|-------:|------:|\n");
	for (int i = 0; i < x->n_rows; i++) {
		const struct row *r = &x->rows[i];

		printf("| %-34s |", r->method);
		if (isnan(r->alpha))
			printf("     - |");
		else
			printf(" %5.2f |", r->alpha);
		printf(" %5.2f | %6.2f | %6.2f | %5.2f |\n", r->s.joint, r->s.task[0], r->s.task[1],
		       r->s.mean);
	}
}

static void print_timings(const struct experiment *x)
{
	printf("\nalpha search, alpha:mean/joint %% on the held-out training images (alpha\n"
	       "chosen by the %s, the first on ties; test never used):\n",
	       criterion_name(&x->cfg));
	for (int i = 0; i < x->n_curves; i++) {
		const struct curve *cv = &x->curves[i];

		printf("  %-30s", cv->method);
		for (int k = 0; k < cv->n; k++)
			printf(" %.2f:%.2f/%.2f", cv->alpha[k], cv->held[k].mean, cv->held[k].joint);
		printf("  (%d merges, %.2f s)\n", cv->n, cv->seconds);
	}
	printf("\nparameters: one network %zu, both %zu", x->net[0].n_params, 2 * x->net[0].n_params);
	for (int i = 0; i < x->n_params; i++)
		printf("; %s %lld", x->params[i].method, (long long)x->params[i].params);
	printf("\n");
	printf("\ntraining: A %.1f s, B %.1f s (%.1f s wall, %d at once); calibration features "
	       "%.2f s\n",
	       x->train_s[0], x->train_s[1], x->train_wall_s, x->cfg.threads, x->calib_s);
	printf("merges: time (matching + merged tensors; for MuDSC at the chosen alpha) and\n"
	       "mean per-task / joint %% on the held-out training images:\n");
	for (int i = 0; i < x->n_rows; i++) {
		const struct row *r = &x->rows[i];

		if (isnan(r->seconds))
			continue;
		printf("  %-34s %6.3f s  held-out mean %5.2f joint %5.2f", r->method, r->seconds,
		       r->held.mean, r->held.joint);
		if (!isnan(r->ridge))
			printf("  (ridge %g)", r->ridge);
		printf("\n");
	}
}

static void experiment_free(struct experiment *x)
{
	merger_free(&x->merger);
	for (int t = 0; t < 2; t++) {
		mlp_free(&x->net[t]);
		subset_free(&x->task_set[t]);
	}
	for (int i = 0; i < 3; i++)
		free(x->logits[i]);
	protocol_free(&x->proto);
	dataset_free(&x->train);
	dataset_free(&x->test);
	dataset_free(&x->holdout);
	dataset_free(&x->calib);
}

static int alloc_logits(struct experiment *x)
{
	int64_t n = x->test.n > x->holdout.n ? x->test.n : x->holdout.n;

	for (int i = 0; i < 3; i++) {
		x->logits[i] = malloc((size_t)(n * FMNIST_CLASSES + 1) * sizeof(float));
		if (!x->logits[i]) {
			fprintf(stderr, "fashion_mnist: out of memory for logits\n");
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct experiment x; /* large and zero-initialised */
	int rc = EXIT_FAILURE;

	/* one BLAS thread: see train_both */
	if (config_parse(&x.cfg, argc, argv) != 0 || merge_setup(1) != 0 ||
	    protocol_new(&x.proto, x.cfg.dim, x.cfg.scale, x.cfg.split) != 0 ||
	    fmnist_load(&x.train, &x.test, x.cfg.data_dir) != 0 || make_sets(&x) != 0 ||
	    alloc_logits(&x) != 0 || train_both(&x) != 0 || add_base_rows(&x) != 0 ||
	    run_merges(&x) != 0)
		goto done;
	print_header(&x);
	print_table(&x);
	print_timings(&x);
	rc = EXIT_SUCCESS;
done:
	experiment_free(&x);
	return rc;
}
