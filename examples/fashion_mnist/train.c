/*
 * The mini-batch loop: gather, (augment,) forward, loss, backward, Adam
 * step; with Lookaround heads, the head of the step and the average step.
 *
 * SPDX-License-Identifier: MIT
 */
#include "train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adam.h"
#include "augment.h"
#include "merge.h"
#include "rng.h"

/* Everything one training run allocates, freed together. */
struct trainer {
	struct mlp grad;
	struct mlp_work work;
	int32_t k, frequency, augment; /* heads (1: plain), their frequency, augmentations */
	struct mlp *head[TRAIN_MAX_HEADS]; /* head[0] is the network itself */
	struct mlp copy[TRAIN_MAX_HEADS];  /* heads 1..k-1 */
	struct adam opt[TRAIN_MAX_HEADS];  /* one per head */
	mudsc_model *model[TRAIN_MAX_HEADS]; /* borrow the heads' parameters */
	struct rng aug;
	int64_t step;
	float *x, *dout;
	uint8_t *y;
	int64_t *order;
};

static void trainer_free(struct trainer *t)
{
	mlp_free(&t->grad);
	mlp_work_free(&t->work);
	for (int32_t h = 0; h < TRAIN_MAX_HEADS; h++) {
		adam_free(&t->opt[h]);
		mlp_free(&t->copy[h]);
		mudsc_model_free(t->model[h]);
	}
	free(t->x);
	free(t->dout);
	free(t->y);
	free(t->order);
}

static int trainer_new(struct trainer *t, struct mlp *net, const struct subset *s,
                       const struct train_options *o)
{
	int64_t out_w = net->width[net->n_layers];

	memset(t, 0, sizeof(*t));
	t->k = o->heads > 1 ? o->heads : 1;
	t->frequency = o->frequency > 1 ? o->frequency : 1;
	t->augment = o->augment;
	if (t->k > TRAIN_MAX_HEADS || t->augment < 0 || t->augment > AUGMENT_KINDS) {
		fprintf(stderr, "fashion_mnist: %d heads (at most %d), %d augmentations (at most %d)\n",
		        (int)t->k, TRAIN_MAX_HEADS, (int)t->augment, AUGMENT_KINDS);
		return -1;
	}
	if (mlp_new_like(&t->grad, net) != 0 || mlp_work_new(&t->work, net, o->batch) != 0)
		goto fail;
	t->head[0] = net;
	for (int32_t h = 1; h < t->k; h++) {
		if (mlp_new_like(&t->copy[h], net) != 0)
			goto fail;
		memcpy(t->copy[h].params, net->params, net->n_params * sizeof(float));
		t->head[h] = &t->copy[h];
	}
	for (int32_t h = 0; h < t->k; h++)
		if (adam_new(&t->opt[h], net, o->lr) != 0 ||
		    (t->k > 1 && mlp_as_model(&t->model[h], t->head[h]) != 0))
			goto fail;
	t->x = malloc((size_t)(o->batch * FMNIST_PIXELS) * sizeof(float));
	t->dout = malloc((size_t)(o->batch * out_w) * sizeof(float));
	t->y = malloc((size_t)o->batch);
	t->order = malloc((size_t)(s->n + 1) * sizeof(int64_t));
	if (!t->x || !t->dout || !t->y || !t->order) {
		fprintf(stderr, "fashion_mnist: out of memory for training\n");
		goto fail;
	}
	memcpy(t->order, s->idx, (size_t)s->n * sizeof(int64_t));
	return 0;
fail:
	trainer_free(t);
	return -1;
}

/* Lookaround's average step: every head := the heads' mean, computed by
 * libmudsc in head 0's memory (double sums, rounded once), then copied. */
static int average_heads(struct trainer *t)
{
	mudsc_average_options o = MUDSC_AVERAGE_OPTIONS_INIT;

	o.threads = 1;
	if (mudsc_average(t->model[0], (size_t)t->k, (const mudsc_model *const *)t->model, NULL, &o) !=
	    MUDSC_OK) {
		fprintf(stderr, "fashion_mnist: %s\n", mudsc_error_message());
		return -1;
	}
	for (int32_t h = 1; h < t->k; h++)
		memcpy(t->head[h]->params, t->head[0]->params, t->head[0]->n_params * sizeof(float));
	return 0;
}

static int run_epoch(struct trainer *t, const struct protocol *p, int task,
                     const struct dataset *d, int64_t n, int64_t batch, struct rng *r,
                     double *mean_loss)
{
	double loss = 0.0;
	int64_t steps = 0;

	rng_shuffle(r, t->order, n);
	for (int64_t at = 0; at < n; at += batch) {
		int64_t rows = n - at < batch ? n - at : batch;
		int32_t h = (int32_t)(t->step % t->k);
		struct mlp *net = t->head[h];
		const float *emb;

		dataset_gather(d, t->order + at, rows, t->x, t->y);
		if (t->augment > 0)
			augment_batch((enum augment_kind)(t->step % t->augment), t->x, rows, &t->aug);
		emb = mlp_forward(net, &t->work, t->x, rows);
		loss += protocol_loss(p, task, emb, t->y, rows, t->dout);
		mlp_backward(net, &t->work, t->x, rows, t->dout, &t->grad);
		adam_step(&t->opt[h], net, &t->grad);
		steps++;
		t->step++;
		if (t->k > 1 && t->step % ((int64_t)t->k * t->frequency) == 0 && average_heads(t) != 0)
			return -1;
	}
	*mean_loss = steps ? loss / (double)steps : 0.0;
	return 0;
}

int64_t train_steps(int64_t n, const struct train_options *o)
{
	return o->batch < 1 ? 0 : (int64_t)o->epochs * ((n + o->batch - 1) / o->batch);
}

double task_loss(const struct mlp *net, const struct protocol *p, int task,
                 const struct dataset *d, const struct subset *s, int64_t batch)
{
	struct mlp_work work;
	float *x = malloc((size_t)(batch * FMNIST_PIXELS) * sizeof(float));
	float *grad = malloc((size_t)(batch * p->dim) * sizeof(float));
	uint8_t *y = malloc((size_t)batch);
	double loss = 0.0;

	if (!x || !grad || !y || mlp_work_new(&work, net, batch) != 0) {
		free(x);
		free(grad);
		free(y);
		return NAN;
	}
	for (int64_t at = 0; at < s->n; at += batch) {
		int64_t rows = s->n - at < batch ? s->n - at : batch;
		dataset_gather(d, s->idx + at, rows, x, y);
		loss += protocol_loss(p, task, mlp_forward(net, &work, x, rows), y, rows, grad) *
		        (double)rows;
	}
	mlp_work_free(&work);
	free(x);
	free(grad);
	free(y);
	return s->n ? loss / (double)s->n : NAN;
}

int train_task(struct mlp *net, const struct protocol *p, int task, const struct dataset *d,
               const struct subset *s, const struct train_options *o, int verbose)
{
	struct trainer t;
	struct rng r;

	if (net->width[net->n_layers] != p->dim || s->n < 1 || o->batch < 1) {
		fprintf(stderr, "fashion_mnist: training: output %lld vs embedding %lld, %lld images\n",
		        (long long)net->width[net->n_layers], (long long)p->dim, (long long)s->n);
		return -1;
	}
	mlp_init_random(net, o->seed);
	if (trainer_new(&t, net, s, o) != 0)
		return -1;
	/* a stream of its own for the batch order, so init and order are independent */
	rng_seed(&r, o->seed ^ UINT64_C(0x5DEECE66D));
	rng_seed(&t.aug, o->seed ^ UINT64_C(0xA0C0FFEE));
	for (int32_t e = 0; e < o->epochs; e++) {
		double loss;

		if (run_epoch(&t, p, task, d, s->n, o->batch, &r, &loss) != 0) {
			trainer_free(&t);
			return -1;
		}
		if (verbose)
			fprintf(stderr, "  task %c epoch %d: loss %.4f\n", 'A' + task, e + 1, loss);
	}
	/* a last cycle cut short by the end of training: its heads averaged too,
	 * so that the network is the heads' mean */
	if (t.k > 1 && t.step % ((int64_t)t.k * t.frequency) != 0 && average_heads(&t) != 0) {
		trainer_free(&t);
		return -1;
	}
	trainer_free(&t);
	return 0;
}
