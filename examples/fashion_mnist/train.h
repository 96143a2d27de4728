/*
 * Training one network on its task: shuffled mini-batches, Adam; as
 * Lookaround (issue 17) with heads > 1: the network is head 0 and heads - 1
 * copies train beside it, each with its own Adam moments, step t moving
 * head t mod heads; after every `frequency` steps of each head all heads
 * are replaced by their mean (mudsc_average, into head 0's own memory).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef FMNIST_TRAIN_H
#define FMNIST_TRAIN_H

#include <stdint.h>

#include "data.h"
#include "mlp.h"
#include "task.h"

struct train_options {
	int32_t epochs;
	int64_t batch;
	float lr;
	uint64_t seed; /* initialisation and batch order */
	/* fields below: 0 = the plain training of the merge experiment */
	int32_t heads;     /* Lookaround heads K (0 or 1: plain training), at most TRAIN_MAX_HEADS */
	int32_t frequency; /* steps of each head between two averages (0 means 1) */
	int32_t augment;   /* 0: none; n in 1..3: step t's batch gets augmentation t mod n
	                      (augment.h: shift, noise, erasing), from its own stream */
};

#define TRAIN_MAX_HEADS 8

/*
 * Initialise net from o->seed and train it on the images s of d (labels
 * in task `task`).  Prints each epoch's mean loss on stderr when verbose.
 * Returns 0, or -1 (message on stderr).
 */
int train_task(struct mlp *net, const struct protocol *p, int task, const struct dataset *d,
               const struct subset *s, const struct train_options *o, int verbose);

/* Gradient steps train_task() takes with options o on s->n images. */
int64_t train_steps(int64_t n, const struct train_options *o);

/* Mean loss of net on the images s of d (labels in task `task`), in batches. */
double task_loss(const struct mlp *net, const struct protocol *p, int task,
                 const struct dataset *d, const struct subset *s, int64_t batch);

#endif /* FMNIST_TRAIN_H */
