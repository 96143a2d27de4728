/*
 * Adam with bias correction folded into the step size.
 *
 * SPDX-License-Identifier: MIT
 */
#include "adam.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int adam_new(struct adam *opt, const struct mlp *net, float lr)
{
	memset(opt, 0, sizeof(*opt));
	opt->m = calloc(net->n_params, sizeof(float));
	opt->v = calloc(net->n_params, sizeof(float));
	if (!opt->m || !opt->v) {
		fprintf(stderr, "fashion_mnist: out of memory for the optimiser\n");
		adam_free(opt);
		return -1;
	}
	opt->n = net->n_params;
	opt->lr = lr;
	opt->beta1 = 0.9f;
	opt->beta2 = 0.999f;
	opt->eps = 1e-8f;
	return 0;
}

void adam_step(struct adam *opt, struct mlp *net, const struct mlp *grad)
{
	float b1 = opt->beta1, b2 = opt->beta2;
	double c1, c2;
	float step, eps;

	opt->t++;
	c1 = 1.0 - pow(b1, (double)opt->t);
	c2 = 1.0 - pow(b2, (double)opt->t);
	step = (float)(opt->lr * sqrt(c2) / c1);
	eps = (float)(opt->eps * sqrt(c2));
	for (size_t i = 0; i < opt->n; i++) {
		float g = grad->params[i];

		opt->m[i] = b1 * opt->m[i] + (1.0f - b1) * g;
		opt->v[i] = b2 * opt->v[i] + (1.0f - b2) * g * g;
		net->params[i] -= step * opt->m[i] / (sqrtf(opt->v[i]) + eps);
	}
}

void adam_free(struct adam *opt)
{
	free(opt->m);
	free(opt->v);
	memset(opt, 0, sizeof(*opt));
}
