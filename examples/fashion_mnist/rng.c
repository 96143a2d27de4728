/*
 * splitmix64: tiny, fast and good enough to seed weights and shuffles.
 *
 * SPDX-License-Identifier: MIT
 */
#include "rng.h"

#include <math.h>

#define TWO_PI 6.283185307179586

void rng_seed(struct rng *r, uint64_t seed)
{
	r->state = seed;
}

uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

double rng_uniform(struct rng *r)
{
	/* the top 53 bits give every double in [0, 1) on a 2^-53 grid */
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

double rng_normal(struct rng *r)
{
	double u = 1.0 - rng_uniform(r); /* (0, 1]: log stays finite */
	double v = rng_uniform(r);

	return sqrt(-2.0 * log(u)) * cos(TWO_PI * v);
}

int64_t rng_below(struct rng *r, int64_t n)
{
	/* modulo bias is below 2^-40 for the sizes used here */
	return (int64_t)(rng_next(r) % (uint64_t)n);
}

void rng_shuffle(struct rng *r, int64_t *items, int64_t n)
{
	for (int64_t k = n - 1; k > 0; k--) {
		int64_t j = rng_below(r, k + 1);
		int64_t t = items[k];

		items[k] = items[j];
		items[j] = t;
	}
}
