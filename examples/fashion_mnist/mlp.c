/*
 * MLP forward and backward passes: one sgemm per layer and direction.
 *
 * SPDX-License-Identifier: MIT
 */
#include "mlp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(MUDSC_BLAS_BLIS)
#include <blis.h>
#endif
#include <cblas.h>

#include "rng.h"

int mlp_new(struct mlp *net, int32_t n_layers, const int64_t *width)
{
	float *p;

	memset(net, 0, sizeof(*net));
	if (n_layers < 1 || n_layers > MLP_MAX_LAYERS) {
		fprintf(stderr, "fashion_mnist: %d layers (1..%d)\n", n_layers, MLP_MAX_LAYERS);
		return -1;
	}
	net->n_layers = n_layers;
	for (int32_t k = 0; k <= n_layers; k++) {
		if (width[k] < 1 || width[k] > 65536) {
			fprintf(stderr, "fashion_mnist: layer width %lld (1..65536)\n",
			        (long long)width[k]);
			return -1;
		}
		net->width[k] = width[k];
	}
	for (int32_t k = 0; k < n_layers; k++)
		net->n_params += (size_t)((width[k] + 1) * width[k + 1]);
	net->params = calloc(net->n_params, sizeof(float));
	if (!net->params) {
		fprintf(stderr, "fashion_mnist: out of memory for %zu parameters\n", net->n_params);
		return -1;
	}
	p = net->params;
	for (int32_t k = 0; k < n_layers; k++) {
		net->w[k] = p;
		p += width[k] * width[k + 1];
		net->b[k] = p;
		p += width[k + 1];
	}
	return 0;
}

int mlp_new_like(struct mlp *net, const struct mlp *like)
{
	return mlp_new(net, like->n_layers, like->width);
}

void mlp_init_random(struct mlp *net, uint64_t seed)
{
	struct rng r;

	rng_seed(&r, seed);
	for (int32_t k = 0; k < net->n_layers; k++) {
		/* uniform(-bound, bound) has variance 2 / fan_in: ReLU keeps the scale */
		float bound = (float)sqrt(6.0 / (double)net->width[k]);
		int64_t n = net->width[k] * net->width[k + 1];

		for (int64_t i = 0; i < n; i++)
			net->w[k][i] = bound * (float)(2.0 * rng_uniform(&r) - 1.0);
		memset(net->b[k], 0, (size_t)net->width[k + 1] * sizeof(float));
	}
}

void mlp_free(struct mlp *net)
{
	free(net->params);
	memset(net, 0, sizeof(*net));
}

int mlp_work_new(struct mlp_work *work, const struct mlp *net, int64_t capacity)
{
	int64_t widest = 0;

	memset(work, 0, sizeof(*work));
	work->capacity = capacity;
	for (int32_t k = 1; k <= net->n_layers; k++) {
		work->act[k] = malloc((size_t)(capacity * net->width[k]) * sizeof(float));
		if (!work->act[k])
			goto nomem;
	}
	for (int32_t k = 0; k <= net->n_layers; k++)
		widest = net->width[k] > widest ? net->width[k] : widest;
	for (int i = 0; i < 2; i++) {
		work->delta[i] = malloc((size_t)(capacity * widest) * sizeof(float));
		if (!work->delta[i])
			goto nomem;
	}
	return 0;
nomem:
	fprintf(stderr, "fashion_mnist: out of memory for a batch of %lld\n", (long long)capacity);
	mlp_work_free(work);
	return -1;
}

void mlp_work_free(struct mlp_work *work)
{
	for (int k = 0; k <= MLP_MAX_LAYERS; k++)
		free(work->act[k]);
	for (int32_t k = 0; k <= MLP_MAX_LAYERS; k++)
		free(work->pre[k]);
	free(work->delta[0]);
	free(work->delta[1]);
	memset(work, 0, sizeof(*work));
}

int mlp_work_keep_pre(struct mlp_work *work, const struct mlp *net)
{
	for (int32_t k = 1; k < net->n_layers; k++) {
		work->pre[k] = malloc((size_t)(work->capacity * net->width[k]) * sizeof(float));
		if (!work->pre[k]) {
			fprintf(stderr, "fashion_mnist: out of memory for pre-activations\n");
			return -1;
		}
	}
	return 0;
}

const float *mlp_forward(const struct mlp *net, struct mlp_work *work, const float *x,
                         int64_t rows)
{
	const float *in = x;

	for (int32_t k = 0; k < net->n_layers; k++) {
		int in_w = (int)net->width[k], out_w = (int)net->width[k + 1];
		float *z = work->act[k + 1];

		for (int64_t r = 0; r < rows; r++)
			memcpy(z + r * out_w, net->b[k], (size_t)out_w * sizeof(float));
		/* z = in w' + b */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, out_w, in_w, 1.0f, in,
		            in_w, net->w[k], in_w, 1.0f, z, out_w);
		if (k + 1 < net->n_layers && work->pre[k + 1])
			memcpy(work->pre[k + 1], z, (size_t)(rows * out_w) * sizeof(float));
		if (k + 1 < net->n_layers)
			for (int64_t i = 0; i < rows * out_w; i++)
				z[i] = z[i] > 0.0f ? z[i] : 0.0f;
		in = z;
	}
	return work->act[net->n_layers];
}

static void bias_grad(float *db, const float *delta, int64_t rows, int64_t width)
{
	memset(db, 0, (size_t)width * sizeof(float));
	for (int64_t r = 0; r < rows; r++)
		for (int64_t j = 0; j < width; j++)
			db[j] += delta[r * width + j];
}

void mlp_backward(const struct mlp *net, struct mlp_work *work, const float *x, int64_t rows,
                  const float *dout, struct mlp *grad)
{
	const float *delta = dout;
	int cur = 0;

	for (int32_t k = net->n_layers - 1; k >= 0; k--) {
		int in_w = (int)net->width[k], out_w = (int)net->width[k + 1];
		const float *in = k ? work->act[k] : x;
		float *din = work->delta[cur];

		/* dW = delta' in, db = column sums of delta */
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out_w, in_w, (int)rows, 1.0f,
		            delta, out_w, in, in_w, 0.0f, grad->w[k], in_w);
		bias_grad(grad->b[k], delta, rows, out_w);
		if (k == 0)
			break;
		/* d(in) = delta W, through the ReLU that produced in */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, in_w, out_w, 1.0f,
		            delta, out_w, net->w[k], in_w, 0.0f, din, in_w);
		for (int64_t i = 0; i < rows * in_w; i++)
			din[i] = in[i] > 0.0f ? din[i] : 0.0f;
		delta = din;
		cur ^= 1;
	}
}
