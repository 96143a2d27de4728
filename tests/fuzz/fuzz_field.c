/*
 * Fuzz target for mudsc_field_load_buffer (libFuzzer entry point): host
 * bytes loaded as a field accumulator give MUDSC_OK, MUDSC_E_PARSE or
 * MUDSC_E_NOMEM, never a crash, a leak or UB.  An accepted field saves back
 * to the same bytes, finalises to distances in [0, 2] (or refuses for
 * having no inputs), merges with its copy, and, when its inputs are small,
 * streams one more batch.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mudsc/mudsc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_distances(const mudsc_field *f)
{
	size_t n = (size_t)mudsc_field_models(f), need = 0;
	double *d;
	mudsc_status st;

	if (n > 256)
		return;
	d = malloc(n * n * sizeof *d);
	if (d == NULL)
		return;
	st = mudsc_field_distances(d, n * n, &need, f);
	if (st != MUDSC_OK && st != MUDSC_E_STATE)
		abort();
	for (size_t k = 0; st == MUDSC_OK && k < n * n; k++)
		if (!(d[k] >= 0 && d[k] <= 2))
			abort();
	free(d);
}

static void stream_one(mudsc_field *f)
{
	int64_t d = mudsc_field_input_size(f);
	int32_t n = mudsc_field_models(f), k = mudsc_field_steps(f);
	double x[64], g[64];
	mudsc_features vx = {.dtype = MUDSC_DTYPE_F64, .rank = 2, .shape = {1, d},
	                     .feature_axis = 1, .data = x};
	mudsc_features vg = vx;

	if (d > 64 || n > 8 || k > 8)
		return;
	for (int i = 0; i < 64; i++) {
		x[i] = 0.5 + i;
		g[i] = 1.0 - 0.25 * i;
	}
	vg.data = g;
	if (mudsc_field_begin(f, &vx, NULL) != MUDSC_OK)
		return;
	for (int32_t s = 0; s < k; s++)
		for (int32_t i = 0; i < n; i++)
			if (mudsc_field_update(f, i, &vg) != MUDSC_OK)
				abort();
	check_distances(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mudsc_field *f = NULL, *g = NULL;
	void *buf = NULL;
	size_t len = 0;
	mudsc_status st = mudsc_field_load_buffer(&f, data, size, NULL);

	if (st != MUDSC_OK) {
		if (st != MUDSC_E_PARSE && st != MUDSC_E_NOMEM)
			abort();
		return 0;
	}
	st = mudsc_field_save_buffer(&buf, &len, f);
	if (st == MUDSC_OK && (len != size || memcmp(buf, data, size) != 0))
		abort();
	if (st != MUDSC_OK && st != MUDSC_E_NOMEM)
		abort();
	mudsc_free(buf);
	check_distances(f);
	if (mudsc_field_load_buffer(&g, data, size, NULL) == MUDSC_OK) {
		st = mudsc_field_merge(f, g);
		if (st != MUDSC_OK && st != MUDSC_E_NOMEM && st != MUDSC_E_RANGE)
			abort();
		mudsc_field_free(g);
	}
	check_distances(f);
	stream_one(f);
	mudsc_field_free(f);
	return 0;
}
