/*
 * The seeded point order of the MuDSC loop.
 *
 * SPDX-License-Identifier: MIT
 */
#include "core/rng.h"

void mudsc__rng_order(struct mudsc__rng *rng, int64_t *order, int64_t n)
{
	for (int64_t k = 0; k < n; k++)
		order[k] = k;
	for (int64_t k = n - 1; k >= 1; k--) {
		int64_t j = (int64_t)(mudsc__rng_next(rng) % (uint64_t)(k + 1));
		int64_t t = order[k];
		order[k] = order[j];
		order[j] = t;
	}
}
