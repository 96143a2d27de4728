/*
 * splitmix64 and the seeded point order of the MuDSC loop
 * (docs/algorithm.md section 10.2; the oracle uses the same).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_RNG_H
#define MUDSC_RNG_H

#include <stdint.h>

struct mudsc__rng {
	uint64_t state;
};

static inline void mudsc__rng_seed(struct mudsc__rng *rng, uint64_t seed)
{
	rng->state = seed;
}

static inline uint64_t mudsc__rng_next(struct mudsc__rng *rng)
{
	uint64_t z = (rng->state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* order = a Fisher-Yates shuffle of [0, n), starting from the identity. */
void mudsc__rng_order(struct mudsc__rng *rng, int64_t *order, int64_t n);

#endif /* MUDSC_RNG_H */
