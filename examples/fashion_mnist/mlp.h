/*
 * A multilayer perceptron of Linear layers with ReLU between them, in
 * float, on CBLAS: parameters, forward and backward passes over a
 * mini-batch.  Layer k's weight is width[k+1] x width[k] (PyTorch's Linear
 * layout), so the tensors hand over to libmudsc as "layers.{k}.weight"
 * and "layers.{k}.bias" without reshaping.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef FMNIST_MLP_H
#define FMNIST_MLP_H

#include <stddef.h>
#include <stdint.h>

#define MLP_MAX_LAYERS 8

struct mlp {
	int32_t n_layers;
	int64_t width[MLP_MAX_LAYERS + 1]; /* width[0] = input, width[n_layers] = output */
	float *w[MLP_MAX_LAYERS];          /* into params */
	float *b[MLP_MAX_LAYERS];          /* into params */
	float *params;                     /* every weight and bias, one block */
	size_t n_params;
};

/* Allocate an MLP with zero parameters.  -1 (message on stderr) on bad widths or no memory. */
int mlp_new(struct mlp *net, int32_t n_layers, const int64_t *width);

/* An MLP of the same shape as like, zero parameters. */
int mlp_new_like(struct mlp *net, const struct mlp *like);

/* He (Kaiming) uniform weights, zero biases, from seed. */
void mlp_init_random(struct mlp *net, uint64_t seed);

void mlp_free(struct mlp *net);

/* Buffers of a forward/backward pass for up to `capacity` rows. */
struct mlp_work {
	int64_t capacity;
	float *act[MLP_MAX_LAYERS + 1]; /* act[k + 1]: layer k's output, after ReLU if hidden */
	float *pre[MLP_MAX_LAYERS + 1]; /* pre[k + 1]: hidden layer k's output before the ReLU,
	                                   kept only after mlp_work_keep_pre() (else NULL) */
	float *delta[2];                /* backward ping-pong buffers */
};

int mlp_work_new(struct mlp_work *work, const struct mlp *net, int64_t capacity);
void mlp_work_free(struct mlp_work *work);

/* Make mlp_forward() also keep the hidden layers' pre-activations in work->pre. */
int mlp_work_keep_pre(struct mlp_work *work, const struct mlp *net);

/*
 * Forward `rows` <= capacity rows of x (rows x width[0]).  Returns the
 * output (rows x width[n_layers], inside work); hidden layer k's
 * post-ReLU features are work->act[k + 1].
 */
const float *mlp_forward(const struct mlp *net, struct mlp_work *work, const float *x,
                         int64_t rows);

/*
 * Backward pass after mlp_forward(net, work, x, rows): dout is the loss
 * gradient at the output (rows x width[n_layers]); grad (same shape as
 * net) receives the parameter gradients (overwritten).
 */
void mlp_backward(const struct mlp *net, struct mlp_work *work, const float *x, int64_t rows,
                  const float *dout, struct mlp *grad);

#endif /* FMNIST_MLP_H */
