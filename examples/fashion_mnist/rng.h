/*
 * A small seeded random generator (splitmix64) for the example: weight
 * initialisation, shuffling, class embeddings and sampling are all
 * reproducible from the seeds given on the command line.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef FMNIST_RNG_H
#define FMNIST_RNG_H

#include <stdint.h>

struct rng {
	uint64_t state;
};

void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);
/* Uniform in [0, 1). */
double rng_uniform(struct rng *r);
/* Standard normal (Box-Muller). */
double rng_normal(struct rng *r);
/* Uniform integer in [0, n), n >= 1. */
int64_t rng_below(struct rng *r, int64_t n);
/* Fisher-Yates shuffle of n indices. */
void rng_shuffle(struct rng *r, int64_t *items, int64_t n);

#endif /* FMNIST_RNG_H */
