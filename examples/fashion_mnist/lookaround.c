/*
 * fashion_mnist_lookaround: the main job's MLP trained on task A's classes
 * with Lookaround (K heads, each on its own augmentation: shift, noise,
 * erasing; averaged by mudsc_average every `frequency` steps of each head)
 * against plain training on the same augmentations in turn, with the same
 * number of gradient steps (train.c is the one training loop of both).
 * For each seed and both: test accuracy on task A's test images, the
 * training loss, and the flatness of the loss surface: the mean increase
 * of the training loss (on a fixed subset) under D random perturbations of
 * the weights of norm rho * ||w||, for a few rho.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "augment.h"
#include "data.h"
#include "merge.h"
#include "mlp.h"
#include "rng.h"
#include "task.h"
#include "train.h"

#define N_RHO 3
static const double rhos[N_RHO] = {0.02, 0.05, 0.1};
#define MAX_SEEDS 16

struct la_config {
	const char *data_dir;
	int seeds, epochs, heads, frequency, directions, quick;
	int64_t hidden, dim, batch, train_limit, test_limit, flat_images;
	float lr;
};

struct result {
	double acc, loss, dloss[N_RHO], seconds;
	int64_t steps;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int usage(FILE *f)
{
	fprintf(f,
	        "usage: fashion_mnist_lookaround [--data DIR] [--seeds N] [--epochs N] [--heads K]\n"
	        "                                [--frequency F] [--directions D] [--quick]\n"
	        "  --seeds N       seeds 0..N-1, each trained plain and with Lookaround (default 2)\n"
	        "  --epochs N      epochs of both (the same gradient steps; default 3)\n"
	        "  --heads K       Lookaround heads, 2..3 (default 3: shift, noise, erasing)\n"
	        "  --frequency F   steps of each head between averages (default 5)\n"
	        "  --directions D  random directions of the flatness figure (default 8)\n"
	        "  --quick         a small, fast run (the test suite's smoke test)\n");
	return f == stdout ? 0 : -1;
}

static int parse(struct la_config *c, int argc, char **argv)
{
	*c = (struct la_config){.data_dir = FMNIST_DEFAULT_DIR, .seeds = 2, .epochs = 3, .heads = 3,
	                        .frequency = 5, .directions = 8, .hidden = 512, .dim = 128,
	                        .batch = 128, .flat_images = 5000, .lr = 1e-3f};
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--quick") == 0) {
			c->quick = 1;
			c->seeds = 2;
			c->epochs = 1;
			c->hidden = 64;
			c->dim = 32;
			c->train_limit = 2000;
			c->test_limit = 2000;
			c->flat_images = 500;
			c->directions = 2;
		}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int *field = NULL, lo = 1, hi = 1000;
		if (strcmp(a, "--quick") == 0)
			continue;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			exit(usage(stdout));
		if (strcmp(a, "--data") == 0 && v) {
			c->data_dir = v;
			i++;
			continue;
		}
		if (strcmp(a, "--seeds") == 0)
			field = &c->seeds, hi = MAX_SEEDS;
		else if (strcmp(a, "--epochs") == 0)
			field = &c->epochs;
		else if (strcmp(a, "--heads") == 0)
			field = &c->heads, lo = 2, hi = AUGMENT_KINDS;
		else if (strcmp(a, "--frequency") == 0)
			field = &c->frequency;
		else if (strcmp(a, "--directions") == 0)
			field = &c->directions;
		if (field == NULL || v == NULL || atoi(v) < lo || atoi(v) > hi) {
			fprintf(stderr, "fashion_mnist_lookaround: bad option %s\n", a);
			return usage(stderr);
		}
		*field = atoi(v);
		i++;
	}
	return 0;
}

/* Mean loss increase over c->directions random directions of norm rho ||w||. */
static int flatness(double *dloss, const struct mlp *net, const struct protocol *p,
                    const struct dataset *d, const struct subset *s, double base,
                    const struct la_config *c, uint64_t seed)
{
	struct mlp probe;
	float *dir = malloc(net->n_params * sizeof(float));
	double wn = 0.0;
	struct rng r;

	if (dir == NULL || mlp_new_like(&probe, net) != 0) {
		free(dir);
		return -1;
	}
	for (size_t i = 0; i < net->n_params; i++)
		wn += (double)net->params[i] * net->params[i];
	wn = sqrt(wn);
	for (int k = 0; k < N_RHO; k++)
		dloss[k] = 0.0;
	rng_seed(&r, seed);
	for (int j = 0; j < c->directions; j++) {
		double dn = 0.0;
		for (size_t i = 0; i < net->n_params; i++) {
			dir[i] = (float)rng_normal(&r);
			dn += (double)dir[i] * dir[i];
		}
		dn = sqrt(dn);
		for (int k = 0; k < N_RHO; k++) {
			double scale = rhos[k] * wn / dn;
			for (size_t i = 0; i < net->n_params; i++)
				probe.params[i] = net->params[i] + (float)(scale * dir[i]);
			dloss[k] += (task_loss(&probe, p, 0, d, s, c->batch) - base) / c->directions;
		}
	}
	mlp_free(&probe);
	free(dir);
	return 0;
}

static int run_one(struct result *out, const struct la_config *c, int seed, int heads,
                   const struct protocol *p, const struct dataset *train,
                   const struct subset *task_set, const struct subset *flat_set,
                   const struct dataset *test, float *logits)
{
	int64_t width[5] = {FMNIST_PIXELS, c->hidden, c->hidden, c->hidden, c->dim};
	struct train_options o = {c->epochs, c->batch, c->lr, (uint64_t)(2 * seed),
	                          heads, c->frequency, c->heads};
	struct mlp net;
	struct scores sc;
	double t0 = now();

	if (mlp_new(&net, 4, width) != 0)
		return -1;
	if (train_task(&net, p, 0, train, task_set, &o, 0) != 0 ||
	    protocol_net_logits(p, &net, test, logits) != 0) {
		mlp_free(&net);
		return -1;
	}
	out->seconds = now() - t0;
	out->steps = train_steps(task_set->n, &o);
	sc = protocol_score(p, logits, test->y, test->n);
	out->acc = sc.task[0];
	out->loss = task_loss(&net, p, 0, train, flat_set, c->batch);
	/* the same directions for both trainings of a seed */
	if (flatness(out->dloss, &net, p, train, flat_set, out->loss, c,
	             UINT64_C(0xF1A7) + (uint64_t)seed) != 0) {
		mlp_free(&net);
		return -1;
	}
	mlp_free(&net);
	return 0;
}

static void print_row(const char *seed, const char *name, const struct result *r)
{
	printf("| %-4s | %-28s | %6lld | %6.2f | %.4f | %8.4f | %8.4f | %8.4f | %6.1f |\n", seed, name,
	       (long long)r->steps, r->acc, r->loss, r->dloss[0], r->dloss[1], r->dloss[2],
	       r->seconds);
}

int main(int argc, char **argv)
{
	struct la_config c;
	struct dataset train = {0}, test = {0}, small = {0};
	struct protocol p;
	struct subset task_set = {0}, flat_set = {0};
	struct result res[MAX_SEEDS][2], mean[2];
	float *logits = NULL;
	char la_name[64];
	struct rng r;
	int rc = 1;

	memset(&p, 0, sizeof p);
	if (parse(&c, argc, argv) != 0)
		return 2;
	if (merge_setup(1) != 0)
		return 1;
	if (fmnist_load(&train, &test, c.data_dir) != 0)
		return 77; /* no dataset: the test is skipped */
	if (protocol_new(&p, c.dim, 16.0f, "halves") != 0)
		goto done;
	if (c.test_limit && c.test_limit < test.n) {
		struct subset first = {0};
		if (subset_select(&first, &test, 0, c.test_limit, 0x3FFu) != 0 ||
		    dataset_take(&small, &test, &first) != 0) {
			subset_free(&first);
			goto done;
		}
		subset_free(&first);
		dataset_free(&test);
		test = small;
		memset(&small, 0, sizeof small);
	}
	rng_seed(&r, UINT64_C(0xC0FFEE));
	if (subset_select(&task_set, &train, 0, train.n, p.mask[0]) != 0 ||
	    subset_select(&flat_set, &train, 0, train.n, p.mask[0]) != 0)
		goto done;
	if (c.train_limit)
		subset_sample(&task_set, c.train_limit, &r);
	subset_sample(&flat_set, c.flat_images, &r);
	logits = malloc((size_t)test.n * FMNIST_CLASSES * sizeof(float));
	if (logits == NULL)
		goto done;

	snprintf(la_name, sizeof la_name, "Lookaround K=%d, every %d", c.heads, c.frequency);
	printf("# Fashion-MNIST MLP 784-%lld-%lld-%lld-%lld (Adam, lr %g, batch %lld), task A "
	       "(classes 0-4), %lld training images, %d epoch(s)%s\n",
	       (long long)c.hidden, (long long)c.hidden, (long long)c.hidden, (long long)c.dim,
	       (double)c.lr, (long long)c.batch, (long long)task_set.n, c.epochs,
	       c.quick ? "; --quick: a smoke run, its accuracies mean nothing" : "");
	printf("# both see the augmentations (");
	for (int k = 0; k < c.heads; k++)
		printf("%s%s", k ? ", " : "", augment_name((enum augment_kind)k));
	printf(") in turn, step t the (t mod %d)-th; Lookaround's head h always gets the h-th\n",
	       c.heads);
	printf("# flatness: mean training-loss increase on %lld images under %d random directions "
	       "of norm rho*||w||\n\n",
	       (long long)flat_set.n, c.directions);
	printf("| seed | training                     |  steps | test %% | loss   | rho=%.2f | "
	       "rho=%.2f | rho=%.2f |   sec  |\n",
	       rhos[0], rhos[1], rhos[2]);
	printf("|------|------------------------------|--------|--------|--------|----------|"
	       "----------|----------|--------|\n");
	memset(mean, 0, sizeof mean);
	for (int s = 0; s < c.seeds; s++) {
		char seed[16];
		snprintf(seed, sizeof seed, "%d", s);
		for (int m = 0; m < 2; m++) {
			struct result *x = &res[s][m];
			if (run_one(x, &c, s, m ? c.heads : 1, &p, &train, &task_set, &flat_set, &test,
			            logits) != 0)
				goto done;
			print_row(seed, m ? la_name : "plain (same augmentations)", x);
			fflush(stdout);
			mean[m].acc += x->acc / c.seeds;
			mean[m].loss += x->loss / c.seeds;
			for (int k = 0; k < N_RHO; k++)
				mean[m].dloss[k] += x->dloss[k] / c.seeds;
			mean[m].seconds += x->seconds / c.seeds;
			mean[m].steps = x->steps;
		}
	}
	print_row("mean", "plain (same augmentations)", &mean[0]);
	print_row("mean", la_name, &mean[1]);
	rc = 0;
done:
	free(logits);
	subset_free(&task_set);
	subset_free(&flat_set);
	protocol_free(&p);
	dataset_free(&train);
	dataset_free(&test);
	return rc;
}
