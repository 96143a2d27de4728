/*
 * Training one network on its task: shuffled mini-batches, Adam.
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
};

/*
 * Initialise net from o->seed and train it on the images s of d (labels
 * in task `task`).  Prints each epoch's mean loss on stderr when verbose.
 * Returns 0, or -1 (message on stderr).
 */
int train_task(struct mlp *net, const struct protocol *p, int task, const struct dataset *d,
               const struct subset *s, const struct train_options *o, int verbose);

#endif /* FMNIST_TRAIN_H */
