/*
 * Loading a large graph description (issue 11, defect 7): a generated
 * graph JSON of B bindings (default 1M) over P points (default 1: the
 * probe's case, every binding on one point), each binding its own
 * tensor "t.<k>" of shape [1] on axis 0.  Times mudsc_graph_from_json on
 * the text, mudsc_graph_load_json on the same text in a file,
 * mudsc_graph_validate against a matching model of B tensors (borrowed
 * one-float buffers), mudsc_graph_unbound and mudsc_graph_to_json; prints
 * one JSON object with the medians and the peak RSS.
 * Usage: bench-load-graph [bindings [points [reps]]]
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "mudsc/mudsc.h"

/* Seconds on a clock: CLOCK_MONOTONIC for the wall time, and
 * CLOCK_PROCESS_CPUTIME_ID for the CPU time of the process (one thread
 * here), the figure that holds on a busy machine. */
static double seconds(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double now(void)
{
	return seconds(CLOCK_MONOTONIC);
}

static double cpu(void)
{
	return seconds(CLOCK_PROCESS_CPUTIME_ID);
}

static void check(mudsc_status st)
{
	if (st == MUDSC_OK)
		return;
	fprintf(stderr, "bench-load-graph: %s\n", mudsc_error_message());
	exit(1);
}

static double peak_rss_mb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_maxrss / 1024.0; /* Linux: kilobytes */
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* A growable text buffer. */
struct text {
	char *s;
	size_t len, cap;
};

static void append(struct text *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		t->cap = 2 * (t->len + n + 1);
		t->s = realloc(t->s, t->cap);
		if (t->s == NULL) {
			fprintf(stderr, "bench-load-graph: out of memory\n");
			exit(1);
		}
	}
	memcpy(t->s + t->len, s, n);
	t->len += n;
	t->s[t->len] = '\0';
}

/* B bindings over P points, as compact JSON. */
static struct text generate(size_t B, size_t P)
{
	struct text t = {0};
	char buf[160];
	size_t k = 0;

	append(&t, "{\"format\":\"mudsc-graph\",\"version\":1,\"points\":[", 46);
	for (size_t p = 0; p < P; p++) {
		size_t end = B / P * (p + 1) + (p + 1 == P ? B % P : 0);
		int n = snprintf(buf, sizeof buf, "%s{\"name\":\"p.%zu\",\"width\":1,\"bindings\":[",
		                 p ? "," : "", p);
		append(&t, buf, (size_t)n);
		for (size_t first = k; k < end; k++) {
			n = snprintf(buf, sizeof buf, "%s{\"tensor\":\"t.%zu\",\"axis\":0,\"role\":\"out\"}",
			             k > first ? "," : "", k);
			append(&t, buf, (size_t)n);
		}
		append(&t, "]}", 2);
	}
	append(&t, "]}\n", 3);
	return t;
}

int main(int argc, char **argv)
{
	size_t B = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 1000000;
	size_t P = argc > 2 ? (size_t)strtoull(argv[2], NULL, 10) : 1;
	int reps = argc > 3 ? atoi(argv[3]) : 5;
	char path[] = "/tmp/bench-load-graph-XXXXXX";
	double *tm[5], *tc[5], med[5], medc[5], rss_text, rss_load;
	static const float one = 1.0f;
	const int64_t shape[1] = {1};
	struct text t;
	mudsc_model *model;
	mudsc_graph *g;
	size_t needed;
	FILE *f;
	int fd;

	if (B < 1 || P < 1 || P > B || reps < 1)
		return fprintf(stderr, "usage: bench-load-graph [bindings >= 1 [1 <= points <= "
		                       "bindings [reps >= 1]]]\n"), 2;
	for (int i = 0; i < 5; i++) {
		tm[i] = calloc((size_t)reps, sizeof *tm[i]);
		tc[i] = calloc((size_t)reps, sizeof *tc[i]);
	}
	t = generate(B, P);
	fd = mkstemp(path);
	if (fd < 0 || (f = fdopen(fd, "wb")) == NULL || fwrite(t.s, 1, t.len, f) != t.len ||
	    fclose(f) != 0) {
		fprintf(stderr, "bench-load-graph: cannot write %s\n", path);
		return 1;
	}
	rss_text = peak_rss_mb();

	for (int r = 0; r < reps; r++) {
		double t0 = now(), c0 = cpu();
		check(mudsc_graph_from_json(&g, t.s, t.len));
		tm[0][r] = now() - t0;
		tc[0][r] = cpu() - c0;
		mudsc_graph_free(g);
		t0 = now();
		c0 = cpu();
		check(mudsc_graph_load_json(&g, path));
		tm[1][r] = now() - t0;
		tc[1][r] = cpu() - c0;
		mudsc_graph_free(g);
	}
	rss_load = peak_rss_mb();
	unlink(path);

	check(mudsc_model_new(&model));
	for (size_t k = 0; k < B; k++) {
		char name[32];
		snprintf(name, sizeof name, "t.%zu", k);
		check(mudsc_model_add(model, name, MUDSC_DTYPE_F32, 1, shape, &one, MUDSC_BORROW));
	}
	check(mudsc_graph_from_json(&g, t.s, t.len));
	for (int r = 0; r < reps; r++) {
		const mudsc_model *models[2] = {model, model};
		char *out;
		size_t len;
		double t0 = now(), c0 = cpu();
		check(mudsc_graph_validate(g, models, 2));
		tm[2][r] = now() - t0;
		tc[2][r] = cpu() - c0;
		t0 = now();
		c0 = cpu();
		check(mudsc_graph_unbound(NULL, 0, &needed, g, model));
		tm[3][r] = now() - t0;
		tc[3][r] = cpu() - c0;
		if (needed != 0)
			return fprintf(stderr, "bench-load-graph: %zu tensors unbound\n", needed), 1;
		t0 = now();
		c0 = cpu();
		check(mudsc_graph_to_json(&out, &len, g));
		tm[4][r] = now() - t0;
		tc[4][r] = cpu() - c0;
		mudsc_free(out);
	}
	mudsc_graph_free(g);
	mudsc_model_free(model);
	for (int i = 0; i < 5; i++) {
		med[i] = median(tm[i], reps);
		medc[i] = median(tc[i], reps);
	}

	printf("{\n  \"bench\": \"load-graph\",\n  \"bindings\": %zu,\n  \"points\": %zu,\n"
	       "  \"json_mb\": %.1f,\n  \"reps\": %d,\n  \"medians_s\": {\n"
	       "    \"from_json\": %.3f,\n    \"load_json\": %.3f,\n"
	       "    \"validate_2_models\": %.3f,\n    \"unbound\": %.3f,\n    \"to_json\": %.3f\n"
	       "  },\n  \"cpu_medians_s\": {\n"
	       "    \"from_json\": %.3f,\n    \"load_json\": %.3f,\n"
	       "    \"validate_2_models\": %.3f,\n    \"unbound\": %.3f,\n    \"to_json\": %.3f\n"
	       "  },\n  \"peak_rss_mb\": {\"text_only\": %.0f, \"after_loads\": %.0f, \"end\": %.0f}\n"
	       "}\n",
	       B, P, (double)t.len / 1e6, reps, med[0], med[1], med[2], med[3], med[4], medc[0], medc[1], medc[2],
	       medc[3], medc[4], rss_text,
	       rss_load, peak_rss_mb());
	for (int i = 0; i < 5; i++) {
		free(tm[i]);
		free(tc[i]);
	}
	free(t.s);
	return 0;
}
