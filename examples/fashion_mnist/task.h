/*
 * The task protocol (as in the paper, with fixed class embeddings in place
 * of CLIP's text embeddings): the 10 classes are split into tasks A and B;
 * a network maps an image to a D-dimensional embedding, and its logit for
 * class c is scale * cos(embedding, E_c) with a FIXED matrix E (10 x D,
 * unit rows, from a fixed seed) shared by every network.  Training uses
 * softmax cross-entropy over the network's own task's classes; evaluation
 * scores all 10 logits.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef FMNIST_TASK_H
#define FMNIST_TASK_H

#include <stdint.h>

#include "data.h"
#include "mlp.h"

/* seed of the class embeddings: fixed, so every run and split shares E */
#define TASK_EMBEDDING_SEED UINT64_C(20240617)

struct protocol {
	int64_t dim;
	float *E;     /* FMNIST_CLASSES x dim, unit rows */
	float scale;  /* logit scale (an inverse temperature) */
	unsigned mask[2];                    /* class bits of task A (0) and B (1) */
	int32_t classes[2][FMNIST_CLASSES];  /* the classes of each task, ascending */
	int32_t n_classes[2];
};

/*
 * Split names: "halves" (A = 0-4, B = 5-9), "even-odd" (A = 0,2,4,6,8),
 * or the digits of A's classes (e.g. "13579"); B is the rest.  -1 with a
 * message on stderr for an unknown split or no memory.
 */
int protocol_new(struct protocol *p, int64_t dim, float scale, const char *split);
void protocol_free(struct protocol *p);

/* logits (rows x 10) = scale * cos(emb[r], E[c]). */
void protocol_logits(const struct protocol *p, const float *emb, int64_t rows, float *logits);

/*
 * Mean softmax cross-entropy of task `task`'s classes (labels must belong
 * to them); grad (rows x dim) receives its gradient wrt emb.
 */
double protocol_loss(const struct protocol *p, int task, const float *emb,
                     const uint8_t *labels, int64_t rows, float *grad);

/* Accuracies in percent. */
struct scores {
	double joint;   /* argmax over all 10 classes, every image */
	double task[2]; /* argmax over the task's classes, on that task's images */
	double mean;    /* (task[0] + task[1]) / 2 */
};

/* Score 10-class logits (n x 10) against labels. */
struct scores protocol_score(const struct protocol *p, const float *logits,
                             const uint8_t *labels, int64_t n);

/* The 10-class logits (d->n x 10, caller-allocated) of net on every image of d. */
int protocol_net_logits(const struct protocol *p, const struct mlp *net, const struct dataset *d,
                        float *logits);

#endif /* FMNIST_TASK_H */
