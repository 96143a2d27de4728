/*
 * Loading safetensors files with huge headers (issue 11, defect 7): the
 * parse must be linear in the header and its memory a small multiple of it.
 *  - metadata: a header of 1,000,000 `__metadata__` entries (~ 30 MB), then
 *    1,000 lookups of keys spread over it;
 *  - tiny metadata: a 91 MB header of 7,000,000 entries `"0000000":""`,
 *    the most entries a header can hold (the worst case for memory);
 *  - tensors: a 90 MB header of 1,500,000 empty F32 tensors (shape [0],
 *    the size of header an attacker gets for 60 bytes a tensor), then
 *    1,000 name lookups.
 * Each rep loads in a fresh child process, so that the child's peak RSS
 * (wait4) is the load's own; the file is written once, outside the timing.
 * Prints one JSON object with the medians (wall seconds, CPU seconds of
 * the child -- the figure a busy machine does not inflate --, MiB of peak
 * RSS, and the header's size).  Usage: bench-load-safetensors [reps] [dir] [all|metadata|tensors]
 *
 * SPDX-License-Identifier: MIT
 */
#define _DEFAULT_SOURCE /* wait4 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mudsc/mudsc.h"

#include "bench_util.h"

static void die(const char *what)
{
	fprintf(stderr, "bench-load-safetensors: %s: %s\n", what, mudsc_error_message());
	exit(1);
}

/* A growing text buffer. */
struct text {
	char *p;
	size_t len, cap;
};

static void put(struct text *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		t->p = realloc(t->p, t->cap);
		if (t->p == NULL)
			die("out of memory");
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
}

/* Write header (padded to 8 bytes) and data_len bytes of zeros. */
static void write_file(const char *path, struct text *h, size_t data_len)
{
	FILE *f = fopen(path, "wb");
	unsigned char len8[8];
	uint64_t n;

	while (h->len % 8 != 0)
		put(h, " ", 1);
	n = h->len;
	for (int i = 0; i < 8; i++)
		len8[i] = (unsigned char)(n >> (8 * i));
	if (f == NULL || fwrite(len8, 1, 8, f) != 8 || fwrite(h->p, 1, h->len, f) != h->len)
		die("writing the file");
	for (size_t i = 0; i < data_len; i++)
		fputc(0, f);
	if (fclose(f) != 0)
		die("closing the file");
}

/* The header of `count` metadata entries (metadata = 1), of `count`
 * metadata entries as short as unique keys allow ("k0000000":"",
 * metadata = 2), or of `count` empty F32 tensors (metadata = 0), written to
 * path; returns its length. */
static size_t make_file(const char *path, long count, int metadata)
{
	struct text h = {0};
	char item[128];
	size_t hlen;

	if (metadata)
		put(&h, "{\"__metadata__\":{", 17);
	else
		put(&h, "{", 1);
	for (long i = 0; i < count; i++) {
		const char *sep = i ? "," : "";
		int n = metadata == 2 ? snprintf(item, sizeof item, "%s\"%07lx\":\"\"", sep, i)
		        : metadata   ? snprintf(item, sizeof item, "%s\"key.%07ld\":\"value %ld\"", sep, i, i)
		                     : snprintf(item, sizeof item,
		                            "%s\"t%07ld\":{\"dtype\":\"F32\",\"shape\":[0],"
		                            "\"data_offsets\":[0,0]}",
		                            sep, i);
		put(&h, item, (size_t)n);
	}
	put(&h, "}}", metadata ? 2 : 1);
	write_file(path, &h, 0);
	hlen = h.len;
	free(h.p);
	return hlen;
}

/* In the child: load, look 1,000 names up, exit 0 when all were found. */
static int child_load(const char *path, int metadata, long count)
{
	mudsc_model *m;
	char key[64];

	if (mudsc_model_load(&m, path) != MUDSC_OK)
		die("loading");
	for (long i = 0; i < 1000; i++) {
		long k = (i * 7919) % count;
		if (metadata == 2) {
			snprintf(key, sizeof key, "%07lx", k);
			const char *v = mudsc_model_get_meta(m, key);
			if (v == NULL || v[0] != '\0')
				return 2;
		} else if (metadata) {
			char want[64];
			snprintf(key, sizeof key, "key.%07ld", k);
			snprintf(want, sizeof want, "value %ld", k);
			const char *v = mudsc_model_get_meta(m, key);
			if (v == NULL || strcmp(v, want) != 0)
				return 2;
		} else {
			snprintf(key, sizeof key, "t%07ld", k);
			if (mudsc_model_find(NULL, m, key) != MUDSC_OK)
				return 3;
		}
	}
	if ((metadata ? mudsc_model_meta_count(m) : mudsc_model_count(m)) != (size_t)count)
		return 4;
	mudsc_model_free(m);
	return 0;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Time reps loads of path, each in a child; medians of seconds and MiB. */
static void run(const char *name, const char *path, int metadata, long count, size_t hlen,
                int reps, int last)
{
	double secs[64], cpu[64], mib[64];

	for (int r = 0; r < reps; r++) {
		struct rusage ru;
		int status;
		double t0 = now();
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0)
			_exit(child_load(path, metadata, count));
		if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0) {
			fprintf(stderr, "bench-load-safetensors: %s: child failed (status %d)\n", name,
			        status);
			exit(1);
		}
		secs[r] = now() - t0;
		cpu[r] = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
		         (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
		mib[r] = (double)ru.ru_maxrss / 1024.0;
	}
	printf("    \"%s\": {\"entries\": %ld, \"header_mb\": %.1f, \"seconds\": %.3f, "
	       "\"cpu_seconds\": %.3f, \"peak_rss_mib\": %.0f}%s\n",
	       name, count, (double)hlen / 1e6, median(secs, reps), median(cpu, reps),
	       median(mib, reps),
	       last ? "" : ",");
}

int main(int argc, char **argv)
{
	int reps = argc > 1 ? atoi(argv[1]) : 3;
	const char *dir = argc > 2 ? argv[2] : "/tmp";
	const char *which = argc > 3 ? argv[3] : "all";
	int do_meta = strcmp(which, "tensors") != 0, do_tensors = strcmp(which, "metadata") != 0;
	long tiny = 7000000;
	char meta_path[512], tensor_path[512];
	size_t meta_len, tensor_len;

	if (strcmp(which, "all") != 0 && strcmp(which, "metadata") != 0 && strcmp(which, "tensors") != 0)
		return fprintf(stderr, "usage: bench-load-safetensors [reps] [dir] [all|metadata|tensors]\n"), 2;

	if (reps < 1 || reps > 64)
		return fprintf(stderr, "usage: bench-load-safetensors [reps 1..64] [dir]\n"), 2;
	snprintf(meta_path, sizeof meta_path, "%s/bench-meta-%ld.safetensors", dir, (long)getpid());
	snprintf(tensor_path, sizeof tensor_path, "%s/bench-tensors-%ld.safetensors", dir,
	         (long)getpid());
	printf("{\n  \"bench\": \"load-safetensors\",\n  \"reps\": %d,\n  \"cases\": {\n", reps);
	if (do_meta) {
		meta_len = make_file(meta_path, 1000000, 1);
		run("metadata_1M", meta_path, 1, 1000000, meta_len, reps, 0);
		meta_len = make_file(meta_path, tiny, 2);
		run("tiny_metadata_7M", meta_path, 2, tiny, meta_len, reps, !do_tensors);
		unlink(meta_path);
	}
	if (do_tensors) {
		tensor_len = make_file(tensor_path, 1500000, 0);
		run("tensors_1.5M", tensor_path, 0, 1500000, tensor_len, reps, 1);
		unlink(tensor_path);
	}
	printf("  }\n}\n");
	return 0;
}
