/*
 * The mini-batch loop: gather, forward, loss, backward, Adam step.
 *
 * SPDX-License-Identifier: MIT
 */
#include "train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adam.h"
#include "rng.h"

/* Everything one training run allocates, freed together. */
struct trainer {
	struct mlp grad;
	struct mlp_work work;
	struct adam opt;
	float *x, *dout;
	uint8_t *y;
	int64_t *order;
};

static void trainer_free(struct trainer *t)
{
	mlp_free(&t->grad);
	mlp_work_free(&t->work);
	adam_free(&t->opt);
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
	if (mlp_new_like(&t->grad, net) != 0 || mlp_work_new(&t->work, net, o->batch) != 0 ||
	    adam_new(&t->opt, net, o->lr) != 0)
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

static double run_epoch(struct trainer *t, struct mlp *net, const struct protocol *p, int task,
                        const struct dataset *d, int64_t n, int64_t batch, struct rng *r)
{
	double loss = 0.0;
	int64_t steps = 0;

	rng_shuffle(r, t->order, n);
	for (int64_t at = 0; at < n; at += batch) {
		int64_t rows = n - at < batch ? n - at : batch;
		const float *emb;

		dataset_gather(d, t->order + at, rows, t->x, t->y);
		emb = mlp_forward(net, &t->work, t->x, rows);
		loss += protocol_loss(p, task, emb, t->y, rows, t->dout);
		mlp_backward(net, &t->work, t->x, rows, t->dout, &t->grad);
		adam_step(&t->opt, net, &t->grad);
		steps++;
	}
	return steps ? loss / (double)steps : 0.0;
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
	for (int32_t e = 0; e < o->epochs; e++) {
		double loss = run_epoch(&t, net, p, task, d, s->n, o->batch, &r);

		if (verbose)
			fprintf(stderr, "  task %c epoch %d: loss %.4f\n", 'A' + task, e + 1, loss);
	}
	trainer_free(&t);
	return 0;
}
