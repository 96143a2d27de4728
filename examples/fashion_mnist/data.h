/*
 * Fashion-MNIST in memory (normalised float pixels and labels) and index
 * subsets of it: a task's training images, the held-out images, the
 * calibration images.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef FMNIST_DATA_H
#define FMNIST_DATA_H

#include <stdint.h>

#include "rng.h"

#define FMNIST_PIXELS 784
#define FMNIST_CLASSES 10
/* where the Debian package dataset-fashion-mnist installs the files */
#define FMNIST_DEFAULT_DIR "/usr/share/datasets/fashion-mnist"

struct dataset {
	float *x;   /* n x FMNIST_PIXELS, standardised with the training set's mean and std */
	uint8_t *y; /* n labels in 0..9 */
	int64_t n;
};

/*
 * Load the training and test sets from dir.  On failure (a missing file
 * says how to install the dataset) prints why on stderr, leaves both sets
 * empty and returns -1.
 */
int fmnist_load(struct dataset *train, struct dataset *test, const char *dir);

void dataset_free(struct dataset *d);

/* Copy rows idx[0..n) into x (n x FMNIST_PIXELS) and, if y is not NULL, their labels. */
void dataset_gather(const struct dataset *d, const int64_t *idx, int64_t n, float *x, uint8_t *y);

struct subset {
	int64_t *idx;
	int64_t n;
};

/* Indices i in [lo, hi) of d whose label is in class_mask (bit c = class c).  -1 on no memory. */
int subset_select(struct subset *out, const struct dataset *d, int64_t lo, int64_t hi,
                  unsigned class_mask);

/* Keep k indices of s drawn at random without replacement (all of them if k >= s->n), shuffled. */
void subset_sample(struct subset *s, int64_t k, struct rng *r);

/* Append b's indices to a.  -1 on no memory (a unchanged). */
int subset_append(struct subset *a, const struct subset *b);

void subset_free(struct subset *s);

/* out = the images and labels of s, copied into a set of their own.  -1 on no memory. */
int dataset_take(struct dataset *out, const struct dataset *d, const struct subset *s);

#endif /* FMNIST_DATA_H */
