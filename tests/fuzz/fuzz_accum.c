/*
 * Fuzz target for mudsc_accum_deserialize (libFuzzer entry point): any
 * host bytes give MUDSC_OK, MUDSC_E_PARSE or MUDSC_E_NOMEM, never a crash,
 * a leak or UB.  An accepted accumulator must finalise to finite results
 * (docs/algorithm.md 2.7), serialize to bytes that deserialize again, and
 * stay so after a merge with itself (a copy) and a small update, whatever
 * those return.  Each input is also tried with its hash made right, so
 * that mutations reach the checks behind the hash.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mudsc/mudsc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every result finite, or refused for having no observations. */
static void check_results(mudsc_accum *acc)
{
	const size_t nc = (size_t)mudsc_accum_models(acc) * (size_t)mudsc_accum_width(acc);
	double *out = malloc(nc * nc * sizeof *out);
	mudsc_status st;

	if (out == NULL)
		return;
	/* a cross-block accumulator has no NC x NC results, only its cross
	 * blocks ((N-1) C^2 <= (NC)^2 values) */
	const bool cross = mudsc_accum_mode(acc) == MUDSC_STATS_CROSS;
	st = mudsc_accum_correlation(out, nc * nc, NULL, acc);
	if (cross ? st != MUDSC_E_UNSUPPORTED : st != MUDSC_OK && st != MUDSC_E_STATE)
		abort();
	for (size_t k = 0; st == MUDSC_OK && k < nc * nc; k++)
		if (!isfinite(out[k]))
			abort();
	st = mudsc_accum_cross_correlation(out, nc * nc, NULL, acc);
	if (st != MUDSC_OK && st != MUDSC_E_STATE)
		abort();
	for (size_t k = 0; st == MUDSC_OK && k < nc * nc / mudsc_accum_models(acc); k++)
		if (!isfinite(out[k]))
			abort();
	st = mudsc_accum_covariance(out, nc * nc, NULL, acc);
	if (cross && st != MUDSC_E_UNSUPPORTED)
		abort();
	for (size_t k = 0; st == MUDSC_OK && k < nc * nc; k++)
		if (!isfinite(out[k]))
			abort();
	st = mudsc_accum_means(out, nc, NULL, acc);
	for (size_t k = 0; st == MUDSC_OK && k < nc; k++)
		if (!isfinite(out[k]))
			abort();
	st = mudsc_accum_stddevs(out, nc, NULL, acc);
	for (size_t k = 0; st == MUDSC_OK && k < nc; k++)
		if (!isfinite(out[k]) || out[k] < 0)
			abort();
	free(out);
}

/* acc serializes to bytes that deserialize (and finalise) again; the copy
 * is returned (the caller frees it). */
static mudsc_accum *round_trip(mudsc_accum *acc)
{
	mudsc_accum *again = NULL;
	void *buf = NULL;
	size_t len = 0;

	if (mudsc_accum_serialize(&buf, &len, acc) != MUDSC_OK)
		abort();
	if (mudsc_accum_deserialize(&again, buf, len, NULL) != MUDSC_OK)
		abort(); /* what we write, we must read */
	mudsc_free(buf);
	check_results(again);
	return again;
}

static void one_input(const uint8_t *data, size_t size)
{
	mudsc_accum *acc = NULL, *copy;
	mudsc_status st = mudsc_accum_deserialize(&acc, data, size, NULL);

	if (st != MUDSC_OK) {
		if (st != MUDSC_E_PARSE && st != MUDSC_E_NOMEM)
			abort();
		return;
	}
	check_results(acc);
	copy = round_trip(acc);
	/* the union with itself: accepted, or refused past the range */
	st = mudsc_accum_merge(acc, copy);
	if (st != MUDSC_OK && st != MUDSC_E_NUMERIC && st != MUDSC_E_RANGE)
		abort();
	mudsc_accum_free(round_trip(acc));
	/* one more observation of every model, taken from the input's bytes
	 * (finite values only: anything else is refused, which is fine too) */
	{
		const int32_t N = mudsc_accum_models(acc);
		const int64_t C = mudsc_accum_width(acc);
		float *x = calloc((size_t)C, sizeof *x);
		mudsc_features f = { .dtype = MUDSC_DTYPE_F32, .rank = 2, .shape = { 1, C },
		                     .feature_axis = -1, .data = x };
		if (x != NULL) {
			for (int64_t c = 0; c < C; c++)
				memcpy(&x[c], data + 40 + (4 * (size_t)c) % (size - 52), 4);
			for (int32_t i = 0; i < N; i++) {
				st = mudsc_accum_update(acc, i, &f);
				if (st != MUDSC_OK && st != MUDSC_E_NUMERIC && st != MUDSC_E_RANGE)
					abort();
				if (st != MUDSC_OK)
					break;
			}
			free(x);
			if (st == MUDSC_OK)
				mudsc_accum_free(round_trip(acc));
		}
	}
	mudsc_accum_free(copy);
	mudsc_accum_free(acc);
}

/* The format's FNV-1a 64 hash (written again here, independently). */
static uint64_t fnv1a64(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325u;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3u;
	}
	return h;
}

/* The input as it is, then with its hash made right, so that mutations
 * reach the checks behind the hash. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *fixed;
	uint64_t h;

	one_input(data, size);
	if (size < 48 || (fixed = malloc(size)) == NULL)
		return 0;
	memcpy(fixed, data, size);
	h = fnv1a64(fixed, size - 8);
	for (int k = 0; k < 8; k++)
		fixed[size - 8 + (size_t)k] = (uint8_t)(h >> (8 * k));
	if (memcmp(fixed, data, size) != 0)
		one_input(fixed, size);
	free(fixed);
	return 0;
}
