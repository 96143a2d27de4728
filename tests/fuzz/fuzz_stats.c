/*
 * Fuzz target for mudsc_stats_load_buffer (libFuzzer entry point): host
 * bytes loaded as a statistics set of a small fixed graph (points "a" of
 * width 2 and "b" of width 1, any N the file says) give MUDSC_OK,
 * MUDSC_E_PARSE, MUDSC_E_MISMATCH or MUDSC_E_NOMEM, never a crash, a leak
 * or UB.  An accepted set must save back to bytes that load again and
 * save to the same bytes, finalise to finite results (or refuse for
 * having no observations), and stay so after a merge with its copy and a
 * small update, whatever those return.  Both modes: a version-2 file of
 * cross-block statistics (docs/stats-format.md) loads as a cross-block
 * set, which refuses the NC x NC correlation (MUDSC_E_UNSUPPORTED) and
 * gives finite cross correlations (the corpus has seeds of both).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mudsc/mudsc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static mudsc_graph *graph(void)
{
	static mudsc_graph *g;
	size_t i;

	if (g == NULL && (mudsc_graph_new(&g) != MUDSC_OK ||
	                  mudsc_graph_add_point(&i, g, "a", 2, 1) != MUDSC_OK ||
	                  mudsc_graph_add_point(&i, g, "b", 1, 1) != MUDSC_OK))
		abort();
	return g;
}

static void check_results(mudsc_stats *s)
{
	for (size_t p = 0; p < mudsc_stats_point_count(s); p++) {
		mudsc_accum *acc;
		size_t nc, k;
		double *out;
		mudsc_status st;

		if (mudsc_stats_point(&acc, s, p) != MUDSC_OK)
			abort();
		nc = (size_t)mudsc_accum_models(acc) * (size_t)mudsc_accum_width(acc);
		out = malloc(nc * nc * sizeof *out);
		if (out == NULL)
			return;
		st = mudsc_accum_correlation(out, nc * nc, NULL, acc);
		if (st != MUDSC_OK && st != MUDSC_E_STATE &&
		    !(st == MUDSC_E_UNSUPPORTED && mudsc_accum_mode(acc) == MUDSC_STATS_CROSS))
			abort();
		for (k = 0; st == MUDSC_OK && k < nc * nc; k++)
			if (!isfinite(out[k]))
				abort();
		/* the cross blocks ((N-1) C^2 <= nc^2 entries), every mode */
		st = mudsc_accum_cross_correlation(out, nc * nc, &k, acc);
		if (st != MUDSC_OK && st != MUDSC_E_STATE)
			abort();
		for (size_t j = 0; st == MUDSC_OK && j < k; j++)
			if (!isfinite(out[j]))
				abort();
		st = mudsc_accum_means(out, nc, NULL, acc);
		for (k = 0; st == MUDSC_OK && k < nc; k++)
			if (!isfinite(out[k]))
				abort();
		free(out);
	}
}

/* s saves to bytes that load again and save to the same bytes; returns the
 * loaded copy (the caller frees it). */
static mudsc_stats *round_trip(mudsc_stats *s)
{
	mudsc_stats *again = NULL;
	void *b1 = NULL, *b2 = NULL;
	size_t n1 = 0, n2 = 0;

	if (mudsc_stats_save_buffer(&b1, &n1, s) != MUDSC_OK)
		abort();
	if (mudsc_stats_load_buffer(&again, b1, n1, graph(), mudsc_stats_models(s), NULL) !=
	    MUDSC_OK)
		abort(); /* what we write, we must read */
	if (mudsc_stats_save_buffer(&b2, &n2, again) != MUDSC_OK || n1 != n2 ||
	    memcmp(b1, b2, n1) != 0)
		abort(); /* bit-exact */
	mudsc_free(b1);
	mudsc_free(b2);
	check_results(again);
	return again;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mudsc_stats *s = NULL, *copy;
	mudsc_status st = mudsc_stats_load_buffer(&s, data, size, graph(), 0, NULL);

	if (st != MUDSC_OK) {
		if (st != MUDSC_E_PARSE && st != MUDSC_E_MISMATCH && st != MUDSC_E_NOMEM)
			abort();
		return 0;
	}
	check_results(s);
	copy = round_trip(s);
	st = mudsc_stats_merge(s, copy);
	if (st != MUDSC_OK && st != MUDSC_E_NUMERIC && st != MUDSC_E_RANGE)
		abort();
	mudsc_stats_free(round_trip(s));
	/* one more observation of every model at point "b", from the input */
	{
		float x = 0.0f;
		mudsc_features f = { .dtype = MUDSC_DTYPE_F32, .rank = 2, .shape = { 1, 1 },
		                     .feature_axis = -1, .data = &x };
		if (size >= 4)
			memcpy(&x, data + (size - 4) / 2, 4);
		for (int32_t i = 0; i < mudsc_stats_models(s); i++) {
			st = mudsc_stats_update_named(s, "b", i, &f);
			if (st != MUDSC_OK && st != MUDSC_E_NUMERIC && st != MUDSC_E_RANGE)
				abort();
			if (st != MUDSC_OK)
				break;
		}
		if (st == MUDSC_OK)
			mudsc_stats_free(round_trip(s));
	}
	mudsc_stats_free(copy);
	mudsc_stats_free(s);
	return 0;
}
