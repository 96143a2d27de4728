/*
 * mudsc_average against memcpy, side by side in one run, reps interleaved,
 * medians.  K models of 16 tensors (elements in all: 32M by default, a
 * 64-128 MB model, beyond the caches; at 8M, the default until session 6,
 * memcpy's 48 MB of the 16-bit K = 2 cases ran partly from this machine's
 * cache, at 15-23 GB/s against its memory's 13) averaged into model 0
 * itself (the Lookaround average step) move (K + 1) x B bytes (K reads,
 * one write of B = a model's bytes); memcpy of (K + 1) / 2 x B bytes moves
 * the same (one read, one write of each byte).
 * ratio = memcpy time / average time for the same traffic (the issue's
 * target: >= 0.8).  Cases: F32, BF16 and F16 with K = 2, 3, 4 on 1 and 2
 * threads (that memcpy stays one thread: the ratio then exceeds 1 if the
 * memory system has headroom; the 2-thread cases also time a memcpy of the
 * same bytes split in two halves on 2 threads, ratio_2t = its time /
 * average time).  Both sides work on the same memory: one allocation holds,
 * tensor by tensor, the K models' tensors t and the source and destination
 * of memcpy's share of t ((K + 1) / 2 x the tensor's bytes each way), so
 * that where the machine's memory is faster in some places than in others
 * (on the development machine memcpy ran at 5.5 or 13 GB/s from one
 * allocation to the next), both sides sample the same places.  Inputs:
 * independent random values in [0.5, 2) (BF16) or [0.875, 1) (F16); with
 * the AVX2 float filter (docs/algorithm.md 16.4) K = 3's BF16 sums often
 * land exactly on a midpoint and take the double vectors.
 * Prints one JSON object.  Usage: bench-average [reps [elems [case]]]
 *
 * SPDX-License-Identifier: MIT
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mudsc/mudsc.h"

#include "bench_util.h"

enum { TENSORS = 16, MAX_K = 4, MAX_REPS = 64 };

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* A model of TENSORS tensors of elems / TENSORS elements of dtype each,
 * tensor t borrowing buf + t * stride. */
static mudsc_model *model_over(unsigned char *buf, size_t stride, mudsc_dtype dtype,
                               size_t elems)
{
	mudsc_model *m;
	size_t each = elems / TENSORS;

	check(mudsc_model_new(&m));
	for (int t = 0; t < TENSORS; t++) {
		char name[32];
		int64_t shape[1] = {(int64_t)each};
		snprintf(name, sizeof name, "layer%d.weight", t);
		check(mudsc_model_add(m, name, dtype, 1, shape, buf + (size_t)t * stride, MUDSC_BORROW));
	}
	return m;
}

struct result {
	double avg_s, copy_s, copy2_s;
};

/* memcpy's share: for each tensor t, bytes from base + t * stride to
 * base + t * stride + bytes, bytes [from, to) of each. */
struct copy {
	unsigned char *base;
	size_t stride, bytes, from, to;
};

static void copy_run(const struct copy *c)
{
	for (size_t t = 0; t < TENSORS; t++) {
		unsigned char *src = c->base + t * c->stride;
		memcpy(src + c->bytes + c->from, src + c->from, c->to - c->from);
	}
}

/* The 2-thread memcpy: a helper thread copies the second half of each
 * tensor's share while the caller copies the first, between two barriers. */
static struct {
	pthread_barrier_t start, done;
	struct copy second;
	int quit;
} pair;

static void *pair_worker(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_barrier_wait(&pair.start);
		if (pair.quit)
			return NULL;
		copy_run(&pair.second);
		pthread_barrier_wait(&pair.done);
	}
}

static void copy2_run(const struct copy *c)
{
	struct copy first = *c;
	first.to = c->bytes / 2 / 64 * 64;
	pair.second = *c;
	pair.second.from = first.to;
	pthread_barrier_wait(&pair.start);
	copy_run(&first);
	pthread_barrier_wait(&pair.done);
}

static struct result run_case(mudsc_dtype dtype, int k, int threads, int reps, size_t elems)
{
	/* tensor t: the K models' tensors, then memcpy's source and destination */
	size_t size = mudsc_dtype_size(dtype), tensor = elems / TENSORS * size;
	size_t copy_bytes = (size_t)(k + 1) * tensor / 2 / 64 * 64;
	size_t stride = (size_t)k * tensor + 2 * copy_bytes;
	unsigned char *arena = malloc(TENSORS * stride);
	mudsc_model *m[MAX_K];
	mudsc_average_options o = MUDSC_AVERAGE_OPTIONS_INIT;
	double ta[MAX_REPS], tc[MAX_REPS], tc2[MAX_REPS];
	struct copy cp = {.bytes = copy_bytes, .from = 0, .to = copy_bytes};
	uint64_t s = 1;

	if (arena == NULL)
		exit(1);
	for (size_t t = 0; t < TENSORS; t++) {
		unsigned char *at = arena + t * stride;
		for (size_t b = 0; b + 1 < (size_t)k * tensor; b += 2) {
			/* values near 1 in every dtype: the low byte random, the high
			 * one 0x3F (a float's or bfloat16's exponent bits of ~1) */
			s = s * 6364136223846793005ull + 1442695040888963407ull;
			at[b] = (unsigned char)(s >> 56);
			at[b + 1] = dtype == MUDSC_DTYPE_F16 ? 0x3B : 0x3F;
		}
		memset(at + (size_t)k * tensor, 1, copy_bytes);
		memset(at + (size_t)k * tensor + copy_bytes, 2, copy_bytes);
	}
	for (int i = 0; i < k; i++)
		m[i] = model_over(arena + (size_t)i * tensor, stride, dtype, elems);
	cp.base = arena + (size_t)k * tensor;
	cp.stride = stride;
	o.threads = threads;
	for (int r = 0; r < reps; r++) {
		double t0 = now();
		check(mudsc_average(m[0], (size_t)k, (const mudsc_model *const *)m, NULL, &o));
		double t1 = now();
		copy_run(&cp);
		double t2 = now();
		if (threads == 2)
			copy2_run(&cp);
		double t3 = now();
		ta[r] = t1 - t0;
		tc[r] = t2 - t1;
		tc2[r] = t3 - t2;
		/* keep the copy observable */
		cp.base[r] = cp.base[copy_bytes + (size_t)(TENSORS - 1) * stride + (size_t)r];
	}
	for (int i = 0; i < k; i++)
		mudsc_model_free(m[i]);
	free(arena);
	return (struct result){median(ta, reps), median(tc, reps), median(tc2, reps)};
}

int main(int argc, char **argv)
{
	int reps = argc > 1 ? atoi(argv[1]) : 7;
	size_t elems = argc > 2 ? (size_t)atoll(argv[2]) : (size_t)32 << 20;
	static const struct {
		mudsc_dtype dtype;
		int k, threads;
		const char *name;
	} cases[] = {
		{MUDSC_DTYPE_F32, 2, 1, "f32_k2_t1"},   {MUDSC_DTYPE_F32, 3, 1, "f32_k3_t1"},
		{MUDSC_DTYPE_F32, 4, 1, "f32_k4_t1"},   {MUDSC_DTYPE_F32, 2, 2, "f32_k2_t2"},
		{MUDSC_DTYPE_F32, 3, 2, "f32_k3_t2"},   {MUDSC_DTYPE_F32, 4, 2, "f32_k4_t2"},
		{MUDSC_DTYPE_BF16, 2, 1, "bf16_k2_t1"}, {MUDSC_DTYPE_BF16, 3, 1, "bf16_k3_t1"},
		{MUDSC_DTYPE_BF16, 4, 1, "bf16_k4_t1"}, {MUDSC_DTYPE_BF16, 2, 2, "bf16_k2_t2"},
		{MUDSC_DTYPE_BF16, 3, 2, "bf16_k3_t2"}, {MUDSC_DTYPE_BF16, 4, 2, "bf16_k4_t2"},
		{MUDSC_DTYPE_F16, 2, 1, "f16_k2_t1"},   {MUDSC_DTYPE_F16, 3, 1, "f16_k3_t1"},
		{MUDSC_DTYPE_F16, 4, 1, "f16_k4_t1"},   {MUDSC_DTYPE_F16, 2, 2, "f16_k2_t2"},
		{MUDSC_DTYPE_F16, 3, 2, "f16_k3_t2"},   {MUDSC_DTYPE_F16, 4, 2, "f16_k4_t2"},
	};
	const size_t n = sizeof cases / sizeof cases[0];
	int printed = 0;
	pthread_t helper;

	if (reps < 1 || reps > MAX_REPS || elems < TENSORS) {
		fprintf(stderr, "usage: bench-average [reps (1..%d) [elems]]\n", MAX_REPS);
		return 2;
	}
	if (pthread_barrier_init(&pair.start, NULL, 2) != 0 ||
	    pthread_barrier_init(&pair.done, NULL, 2) != 0 ||
	    pthread_create(&helper, NULL, pair_worker, NULL) != 0)
		return 1;
	printf("{\"reps\": %d, \"elements\": %zu, \"tensors\": %d, \"cases\": {", reps, elems,
	       TENSORS);
	for (size_t c = 0; c < n; c++) {
		if (argc > 3 && strcmp(argv[3], cases[c].name) != 0)
			continue;
		size_t bytes = elems / TENSORS * TENSORS * mudsc_dtype_size(cases[c].dtype);
		double traffic = (double)(cases[c].k + 1) * (double)bytes;
		struct result r = run_case(cases[c].dtype, cases[c].k, cases[c].threads, reps, elems);
		printf("%s\n  \"%s\": {\"average_s\": %.6f, \"memcpy_s\": %.6f, \"average_GBps\": %.3f, "
		       "\"memcpy_GBps\": %.3f, \"ratio\": %.3f",
		       printed++ ? "," : "", cases[c].name, r.avg_s, r.copy_s, traffic / r.avg_s / 1e9,
		       traffic / r.copy_s / 1e9, r.copy_s / r.avg_s);
		if (cases[c].threads == 2)
			printf(", \"memcpy_2t_s\": %.6f, \"memcpy_2t_GBps\": %.3f, \"ratio_2t\": %.3f",
			       r.copy2_s, traffic / r.copy2_s / 1e9, r.copy2_s / r.avg_s);
		printf("}");
		fflush(stdout);
	}
	printf("\n}}\n");
	pair.quit = 1;
	pthread_barrier_wait(&pair.start);
	pthread_join(helper, NULL);
	return 0;
}
