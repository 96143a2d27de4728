/*
 * Class embeddings, cosine logits, the training loss and the scores.
 *
 * SPDX-License-Identifier: MIT
 */
#include "task.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

#define EVAL_BATCH 1000
/* embeddings shorter than this count as zero (no direction) */
#define NORM_FLOOR 1e-12

static int parse_split(unsigned *mask_a, const char *split)
{
	unsigned m = 0;

	if (strcmp(split, "halves") == 0) {
		*mask_a = 0x01Fu;
		return 0;
	}
	if (strcmp(split, "even-odd") == 0) {
		*mask_a = 0x155u;
		return 0;
	}
	for (const char *c = split; *c; c++) {
		if (*c < '0' || *c > '9' || (m >> (*c - '0') & 1u))
			return -1;
		m |= 1u << (*c - '0');
	}
	if (strlen(split) != FMNIST_CLASSES / 2)
		return -1;
	*mask_a = m;
	return 0;
}

static int fixed_embeddings(struct protocol *p)
{
	struct rng r;

	p->E = malloc((size_t)(FMNIST_CLASSES * p->dim) * sizeof(float));
	if (!p->E) {
		fprintf(stderr, "fashion_mnist: out of memory for the class embeddings\n");
		return -1;
	}
	rng_seed(&r, TASK_EMBEDDING_SEED);
	for (int c = 0; c < FMNIST_CLASSES; c++) {
		float *e = p->E + c * p->dim;
		double norm = 0.0;

		for (int64_t j = 0; j < p->dim; j++) {
			e[j] = (float)rng_normal(&r);
			norm += (double)e[j] * e[j];
		}
		for (int64_t j = 0; j < p->dim; j++)
			e[j] = (float)(e[j] / sqrt(norm));
	}
	return 0;
}

int protocol_new(struct protocol *p, int64_t dim, float scale, const char *split)
{
	memset(p, 0, sizeof(*p));
	if (parse_split(&p->mask[0], split) != 0) {
		fprintf(stderr,
		        "fashion_mnist: --split %s: use halves, even-odd or five distinct "
		        "digits (task A's classes)\n",
		        split);
		return -1;
	}
	p->mask[1] = ~p->mask[0] & ((1u << FMNIST_CLASSES) - 1u);
	for (int t = 0; t < 2; t++)
		for (int c = 0; c < FMNIST_CLASSES; c++)
			if (p->mask[t] >> c & 1u)
				p->classes[t][p->n_classes[t]++] = c;
	p->dim = dim;
	p->scale = scale;
	return fixed_embeddings(p);
}

void protocol_free(struct protocol *p)
{
	free(p->E);
	memset(p, 0, sizeof(*p));
}

static double row_norm(const float *v, int64_t n)
{
	double s = 0.0;

	for (int64_t j = 0; j < n; j++)
		s += (double)v[j] * v[j];
	return fmax(sqrt(s), NORM_FLOOR);
}

static double dot(const float *a, const float *b, int64_t n)
{
	double s = 0.0;

	for (int64_t j = 0; j < n; j++)
		s += (double)a[j] * b[j];
	return s;
}

void protocol_logits(const struct protocol *p, const float *emb, int64_t rows, float *logits)
{
	for (int64_t r = 0; r < rows; r++) {
		const float *y = emb + r * p->dim;
		double inv = 1.0 / row_norm(y, p->dim);

		for (int c = 0; c < FMNIST_CLASSES; c++)
			logits[r * FMNIST_CLASSES + c] =
				(float)(p->scale * inv * dot(y, p->E + c * p->dim, p->dim));
	}
}

/* Loss of one row; writes dL/dy into g (dim). */
static double row_loss(const struct protocol *p, int task, const float *y, int label,
                       double weight, float *g)
{
	const int32_t *cls = p->classes[task];
	int32_t k = p->n_classes[task];
	double z[FMNIST_CLASSES], cosv[FMNIST_CLASSES], top = -INFINITY, sum = 0.0, loss = 0.0;
	double norm = row_norm(y, p->dim), proj = 0.0;

	for (int32_t i = 0; i < k; i++) {
		cosv[i] = dot(y, p->E + cls[i] * p->dim, p->dim) / norm;
		z[i] = p->scale * cosv[i];
		top = fmax(top, z[i]);
	}
	for (int32_t i = 0; i < k; i++)
		sum += exp(z[i] - top);
	memset(g, 0, (size_t)p->dim * sizeof(float));
	for (int32_t i = 0; i < k; i++) {
		/* dL/dz_i = softmax_i - onehot_i; dz_i/dy = scale (E_i - cos_i yhat) / |y| */
		double d = exp(z[i] - top) / sum - (cls[i] == label);
		double c = weight * d * p->scale / norm;

		if (cls[i] == label)
			loss = top + log(sum) - z[i];
		for (int64_t j = 0; j < p->dim; j++)
			g[j] += (float)(c * p->E[cls[i] * p->dim + j]);
		proj += c * cosv[i];
	}
	for (int64_t j = 0; j < p->dim; j++)
		g[j] -= (float)(proj * y[j] / norm);
	return loss;
}

double protocol_loss(const struct protocol *p, int task, const float *emb,
                     const uint8_t *labels, int64_t rows, float *grad)
{
	double total = 0.0;

	for (int64_t r = 0; r < rows; r++)
		total += row_loss(p, task, emb + r * p->dim, labels[r], 1.0 / (double)rows,
		                  grad + r * p->dim);
	return total / (double)rows;
}

/* Index of the largest logit among classes (first on ties). */
static int argmax(const float *logits, const int32_t *classes, int32_t k)
{
	int best = classes[0];

	for (int32_t i = 1; i < k; i++)
		if (logits[classes[i]] > logits[best])
			best = classes[i];
	return best;
}

struct scores protocol_score(const struct protocol *p, const float *logits,
                             const uint8_t *labels, int64_t n)
{
	static const int32_t all[FMNIST_CLASSES] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
	int64_t joint = 0, hit[2] = {0, 0}, seen[2] = {0, 0};
	struct scores s;

	for (int64_t r = 0; r < n; r++) {
		const float *l = logits + r * FMNIST_CLASSES;
		int t = p->mask[0] >> labels[r] & 1u ? 0 : 1;

		joint += argmax(l, all, FMNIST_CLASSES) == labels[r];
		hit[t] += argmax(l, p->classes[t], p->n_classes[t]) == labels[r];
		seen[t]++;
	}
	s.joint = n ? 100.0 * (double)joint / (double)n : 0.0;
	for (int t = 0; t < 2; t++)
		s.task[t] = seen[t] ? 100.0 * (double)hit[t] / (double)seen[t] : 0.0;
	s.mean = (s.task[0] + s.task[1]) / 2.0;
	return s;
}

int protocol_net_logits(const struct protocol *p, const struct mlp *net, const struct dataset *d,
                        float *logits)
{
	struct mlp_work work;

	if (mlp_work_new(&work, net, EVAL_BATCH) != 0)
		return -1;
	for (int64_t at = 0; at < d->n; at += EVAL_BATCH) {
		int64_t rows = d->n - at < EVAL_BATCH ? d->n - at : EVAL_BATCH;
		const float *emb = mlp_forward(net, &work, d->x + at * FMNIST_PIXELS, rows);

		protocol_logits(p, emb, rows, logits + at * FMNIST_CLASSES);
	}
	mlp_work_free(&work);
	return 0;
}
