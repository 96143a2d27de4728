/*
 * Data augmentations of a mini-batch of standardised 28 x 28 images, in
 * place, for the Lookaround run (issue 17): each head of Lookaround sees
 * one of them.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef FMNIST_AUGMENT_H
#define FMNIST_AUGMENT_H

#include <stdint.h>

#include "rng.h"

enum augment_kind {
	AUGMENT_SHIFT = 0, /* translate by up to 2 pixels each way, background filled in */
	AUGMENT_NOISE = 1, /* add Gaussian noise of standard deviation 0.3 (standardised units) */
	AUGMENT_ERASE = 2, /* erase one random rectangle of 4..12 x 4..12 pixels to 0 (the mean) */
	AUGMENT_KINDS = 3
};

/* Augment rows images of x (rows x 784) with kind, drawing from r. */
void augment_batch(enum augment_kind kind, float *x, int64_t rows, struct rng *r);

const char *augment_name(enum augment_kind kind);

#endif /* FMNIST_AUGMENT_H */
