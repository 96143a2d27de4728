/*
 * The Adam optimiser (Kingma and Ba) over an MLP's flat parameter block.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef FMNIST_ADAM_H
#define FMNIST_ADAM_H

#include <stddef.h>
#include <stdint.h>

#include "mlp.h"

struct adam {
	float *m, *v; /* first and second moments, n floats each */
	size_t n;
	int64_t t;    /* steps taken */
	float lr, beta1, beta2, eps;
};

/* Moments for net's parameters, learning rate lr, the usual betas (0.9, 0.999) and eps 1e-8. */
int adam_new(struct adam *opt, const struct mlp *net, float lr);

/* One step: net -= lr * mhat / (sqrt(vhat) + eps) with grad's gradients. */
void adam_step(struct adam *opt, struct mlp *net, const struct mlp *grad);

void adam_free(struct adam *opt);

#endif /* FMNIST_ADAM_H */
