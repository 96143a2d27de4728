/*
 * Structured fuzz target for the matcher (libFuzzer entry point).  The
 * bytes choose a small graph built by the C API (points of width 1..8,
 * Linear-like layers whose weight and bias OUT and IN axes bind to points,
 * sometimes ignored bindings, groups, a split or concatenated tensor and an
 * input axis with each unit repeated (graph format 2)), 2 or 3 models that
 * fit it (or nearly: a tensor missing, another shape or dtype, a NaN),
 * random options and sometimes activation similarities; then
 * mudsc_matcher_new, run, the getters, merge and transform.
 *
 * Any status is accepted, but a failing call must leave a message, and a
 * successful run must give correspondences that are what they claim: every
 * stacked unit goes to a merged unit in [0, C'), every merged unit has a
 * member, align gives each model a permutation (and the permutation getter
 * its inverse), the matrices have one entry per row, and the merged and
 * transformed models have model 0's tensors.  A crash, leak, UB or a broken
 * invariant is a finding.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mudsc/mudsc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_POINTS = 4, MAX_LAYERS = 5, MAX_MODELS = 3, MAX_W = 8, MAX_TENSORS = 2 * MAX_LAYERS + 2 };

struct bytes {
	const uint8_t *p;
	size_t n;
};

/* The next byte (0 once the input is used up). */
static unsigned take(struct bytes *b)
{
	if (b->n == 0)
		return 0;
	b->n--;
	return *b->p++;
}

/* A value in [0, k). */
static unsigned pick(struct bytes *b, unsigned k)
{
	return k ? take(b) % k : 0;
}

#define FAIL(...)                                                                               \
	do {                                                                                        \
		fprintf(stderr, "fuzz_matcher: " __VA_ARGS__);                                          \
		fprintf(stderr, "\n");                                                                  \
		abort();                                                                                \
	} while (0)

/* A failing call leaves a message naming what failed. */
static mudsc_status checked(mudsc_status st, const char *call)
{
	if (st != MUDSC_OK) {
		const char *msg = mudsc_error_message();
		if (st < MUDSC_E_INTERNAL || st > 0)
			FAIL("%s returned unknown status %d", call, (int)st);
		if (st == MUDSC_E_INTERNAL)
			FAIL("%s: internal error: %s", call, msg);
		if (msg == NULL || msg[0] == '\0' || strcmp(msg, "no error") == 0)
			FAIL("%s returned %s without a message", call, mudsc_status_name(st));
	}
	return st;
}

struct tensor_spec {
	char name[32];
	int32_t rank;
	int64_t shape[2];
	int32_t dtype; /* of model 0 */
};

struct problem {
	mudsc_graph *graph;
	int32_t npoints;
	int64_t width[MAX_POINTS];
	struct tensor_spec t[MAX_TENSORS];
	int32_t ntensors;
	int32_t N;
	mudsc_model *models[MAX_MODELS];
	void *buffers[MAX_MODELS][MAX_TENSORS];
};

/* Points, then layers "l{k}.weight" [out, in] and "l{k}.bias" [out] whose
 * axes bind to points (or are free), sometimes a split weight, an unbound
 * tensor and a non-float one. */
static void build_graph(struct problem *pb, struct bytes *b)
{
	int32_t nlayers = 1 + (int32_t)pick(b, MAX_LAYERS);
	char name[32];

	if (mudsc_graph_new(&pb->graph) != MUDSC_OK)
		FAIL("mudsc_graph_new");
	pb->npoints = 1 + (int32_t)pick(b, MAX_POINTS);
	for (int32_t p = 0; p < pb->npoints; p++) {
		int64_t w = 1 + (int64_t)pick(b, MAX_W), g = 1;
		unsigned gsel = pick(b, 4);
		if (gsel == 1 && w % 2 == 0)
			g = 2;
		else if (gsel == 2)
			g = w;
		else if (gsel == 3)
			g = 3; /* refused unless 3 divides w */
		snprintf(name, sizeof name, "p%d", (int)p);
		if (checked(mudsc_graph_add_point(NULL, pb->graph, name, w, g), "add_point") != MUDSC_OK)
			(void)checked(mudsc_graph_add_point(NULL, pb->graph, name, w, 1), "add_point");
		pb->width[p] = w;
	}
	for (int32_t k = 0; k < nlayers; k++) {
		int32_t out_p = (int32_t)pick(b, (unsigned)pb->npoints + 1) - 1;
		int32_t in_p = (int32_t)pick(b, (unsigned)pb->npoints + 1) - 1;
		unsigned flags = take(b);
		int64_t parts = (flags & 0x30) == 0x30 ? 2 : 1;
		/* a concatenation: part 1 bound to another point, sized for it */
		int32_t to = parts > 1 && (flags & 0x40) ? (int32_t)pick(b, (unsigned)pb->npoints) : out_p;
		/* an input axis holding each unit `repeat` times (a flatten) */
		int64_t repeat = 1 + (int64_t)pick(b, 3);
		int64_t out = out_p >= 0 ? pb->width[out_p] + (parts > 1 ? pb->width[to] : 0)
		                         : 1 + (int64_t)pick(b, 4);
		int64_t in = in_p >= 0 ? pb->width[in_p] * repeat : 1 + (int64_t)pick(b, 4);
		struct tensor_spec *w = &pb->t[pb->ntensors++], *bias = &pb->t[pb->ntensors++];
		uint32_t ignore = flags & 1 ? MUDSC_BIND_IGNORE : 0;
		mudsc_role out_role = flags & 2 ? MUDSC_ROLE_IN : MUDSC_ROLE_OUT; /* 2: wrong on purpose */

		snprintf(w->name, sizeof w->name, "l%d.weight", (int)k);
		snprintf(bias->name, sizeof bias->name, "l%d.bias", (int)k);
		w->rank = 2;
		w->shape[0] = out;
		w->shape[1] = in;
		w->dtype = flags & 4 ? MUDSC_DTYPE_F32 : MUDSC_DTYPE_F64;
		bias->rank = 1;
		bias->shape[0] = out;
		bias->dtype = flags & 8 ? MUDSC_DTYPE_F16 : w->dtype;
		if (parts > 1 && out_p >= 0) {
			char q[32], v[32];
			const char *names[2] = {q, v};
			snprintf(q, sizeof q, "l%d.q", (int)k);
			snprintf(v, sizeof v, "l%d.v", (int)k);
			const int64_t sizes[2] = {pb->width[out_p], pb->width[to]};
			if (to != out_p)
				(void)checked(mudsc_graph_add_concat(pb->graph, w->name, 0, 2, names, sizes),
				              "add_concat");
			else
				(void)checked(mudsc_graph_add_split(pb->graph, w->name, 0, 2, names),
				              "add_split");
			for (int j = 0; j < 2; j++)
				(void)checked(mudsc_graph_bind(pb->graph, (size_t)(j == 1 ? to : out_p),
				                               w->name, names[j], 0, out_role, ignore),
				              "bind part");
		} else if (out_p >= 0) {
			(void)checked(mudsc_graph_bind(pb->graph, (size_t)out_p, w->name, NULL, 0, out_role,
			                               ignore),
			              "bind weight");
			if (!(flags & 0x80))
				(void)checked(mudsc_graph_bind(pb->graph, (size_t)out_p, bias->name, NULL, 0,
				                               MUDSC_ROLE_OUT, 0),
				              "bind bias");
		}
		if (in_p >= 0)
			(void)checked(mudsc_graph_bind_repeat(pb->graph, (size_t)in_p, w->name, NULL, 1,
			                                      MUDSC_ROLE_IN,
			                                      (flags & 0x40) && !(flags & 1) ? 0 : ignore,
			                                      repeat),
			              "bind input");
	}
	if (take(b) & 1) { /* a float tensor bound to no point, and a counter */
		struct tensor_spec *u = &pb->t[pb->ntensors++];
		snprintf(u->name, sizeof u->name, "extra.scale");
		u->rank = 1;
		u->shape[0] = 1 + (int64_t)pick(b, 3);
		u->dtype = MUDSC_DTYPE_F32;
		u = &pb->t[pb->ntensors++];
		snprintf(u->name, sizeof u->name, "extra.count");
		u->rank = 1;
		u->shape[0] = 1;
		u->dtype = MUDSC_DTYPE_I64;
	}
}

static void fill(void *dst, int32_t dtype, size_t n, struct bytes *b, uint64_t *seed, bool nan)
{
	for (size_t k = 0; k < n; k++) {
		*seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
		double v = (double)(*seed >> 11) / 9007199254740992.0 - 0.5;
		if (b->n > 0 && (take(b) & 7) == 0)
			v = (double)(int8_t)take(b) / 16.0; /* ties and zeros */
		if (nan && k == 0)
			v = NAN;
		if (dtype == MUDSC_DTYPE_F64)
			((double *)dst)[k] = v;
		else if (dtype == MUDSC_DTYPE_F32)
			((float *)dst)[k] = (float)v;
		else if (dtype == MUDSC_DTYPE_F16)
			((uint16_t *)dst)[k] = (uint16_t)(0x3c00u ^ (take(b) & 0x83ffu)); /* +-1.x */
		else
			((int64_t *)dst)[k] = (int64_t)k;
	}
}

/* Model i: every tensor of the spec, or (when asked) one of them missing,
 * reshaped, of another dtype, with a NaN, or an extra one. */
static void build_models(struct problem *pb, struct bytes *b)
{
	pb->N = 2 + (int32_t)pick(b, 2);
	for (int32_t i = 0; i < pb->N; i++) {
		unsigned spoil = take(b);
		int32_t victim = (int32_t)pick(b, (unsigned)pb->ntensors);
		uint64_t seed = 1000u * (uint64_t)i + take(b);

		if (mudsc_model_new(&pb->models[i]) != MUDSC_OK)
			FAIL("mudsc_model_new");
		for (int32_t k = 0; k < pb->ntensors; k++) {
			struct tensor_spec *t = &pb->t[k];
			int64_t shape[2] = {t->shape[0], t->shape[1]};
			int32_t dtype = t->dtype;
			bool nan = false;
			if (i > 0 && k == victim && spoil < 24) {
				if (spoil < 6)
					continue; /* missing */
				if (spoil < 12)
					shape[0] += 1;
				else if (spoil < 18)
					dtype = dtype == MUDSC_DTYPE_F64 ? MUDSC_DTYPE_F32 : MUDSC_DTYPE_F64;
				else
					nan = dtype != MUDSC_DTYPE_I64 && dtype != MUDSC_DTYPE_F16;
			}
			size_t n = (size_t)shape[0] * (size_t)(t->rank == 2 ? shape[1] : 1);
			void *buf = malloc(n * 8 + 8);
			if (buf == NULL)
				FAIL("malloc");
			fill(buf, dtype, n, b, &seed, nan);
			pb->buffers[i][k] = buf;
			(void)checked(mudsc_model_add(pb->models[i], t->name, dtype, t->rank, shape, buf,
			                              MUDSC_BORROW),
			              "model_add");
		}
		if (i > 0 && spoil >= 24 && spoil < 30) {
			int64_t one = 1;
			static const double x = 1.0;
			(void)checked(mudsc_model_add(pb->models[i], "only.here", MUDSC_DTYPE_F64, 1, &one,
			                              &x, MUDSC_BORROW),
			              "model_add");
		}
	}
}

static void random_options(mudsc_matcher_options *o, struct bytes *b)
{
	unsigned f = take(b);
	(void)checked(mudsc_matcher_options_init(o), "options_init");
	o->method = f & 1 ? MUDSC_METHOD_ZIP : MUDSC_METHOD_ALIGN;
	o->alpha = (f & 6) == 0 ? 1.0 : (f & 6) == 2 ? 0.0 : (double)take(b) / 255.0;
	o->similarity = f & 8 ? MUDSC_SIMILARITY_COSINE : MUDSC_SIMILARITY_CORRELATION;
	o->zip_r = (1.0 + (double)take(b)) / 257.0;
	if (f & 16) {
		o->zip_a = (double)(int8_t)take(b) / 32.0;
		o->zip_b = (double)take(b) / 64.0;
	}
	o->use_groups = (f & 32) ? 0 : 1;
	o->max_iter = 1 + (int32_t)pick(b, 3);
	o->patience = 1 + (int32_t)pick(b, 2);
	o->seed = take(b);
	o->threads = 1 + (int32_t)pick(b, 2);
	if (f & 64)
		o->eps = (double)(1 + take(b)) * 1e-3;
	if ((f & 128) && (take(b) & 1))
		o->max_memory = (int64_t)take(b) << (take(b) % 24);
	if (take(b) == 0xff) /* out of range now and then */
		o->zip_r = 1.0;
}

/* Activation similarities for every point (or all but one): symmetric,
 * unit diagonal, entries from the bytes. */
static void give_activations(mudsc_matcher *m, const struct problem *pb, struct bytes *b)
{
	unsigned mode = take(b);
	if ((mode & 3) != 0)
		return;
	for (int32_t p = 0; p < pb->npoints; p++) {
		size_t nc = (size_t)pb->N * (size_t)pb->width[p];
		double *S = malloc(nc * nc * sizeof *S);
		if (S == NULL)
			FAIL("malloc");
		for (size_t a = 0; a < nc; a++) {
			S[a * nc + a] = 1.0;
			for (size_t c = a + 1; c < nc; c++)
				S[a * nc + c] = S[c * nc + a] = (double)(int8_t)take(b) / 128.0;
		}
		if ((mode & 4) && p == 0)
			S[nc - 1] = NAN; /* refused: not finite */
		if (!((mode & 8) && p == pb->npoints - 1))
			(void)checked(mudsc_matcher_set_activation_similarity(m, (size_t)p, S, nc * nc),
			              "set_activation_similarity");
		free(S);
	}
}

static void check_results(const mudsc_matcher *m, const struct problem *pb, int32_t method)
{
	for (int32_t p = 0; p < pb->npoints; p++) {
		int64_t C = pb->width[p], Cp = -1, assign[MAX_MODELS * MAX_W], perm[MAX_W];
		double scores[3], M[MAX_W * MAX_MODELS * MAX_W];
		size_t needed = 0;
		bool member[MAX_MODELS * MAX_W] = {false};

		if (checked(mudsc_matcher_point_result(&Cp, scores, m, (size_t)p), "point_result") !=
		    MUDSC_OK)
			FAIL("point_result failed after a successful run");
		if (Cp < 1 || Cp > pb->N * C || (method == MUDSC_METHOD_ALIGN && Cp != C))
			FAIL("point %d: C' = %lld for N = %d, C = %lld", (int)p, (long long)Cp, (int)pb->N,
			     (long long)C);
		if (mudsc_matcher_assignment(assign, sizeof assign / sizeof *assign, &needed, m,
		                             (size_t)p) != MUDSC_OK ||
		    needed != (size_t)(pb->N * C))
			FAIL("assignment of point %d", (int)p);
		for (int64_t u = 0; u < pb->N * C; u++) {
			if (assign[u] < 0 || assign[u] >= Cp)
				FAIL("point %d: assign[%lld] = %lld outside [0, %lld)", (int)p, (long long)u,
				     (long long)assign[u], (long long)Cp);
			member[assign[u]] = true;
		}
		for (int64_t j = 0; j < Cp; j++)
			if (!member[j])
				FAIL("point %d: merged unit %lld has no member", (int)p, (long long)j);
		for (int32_t i = 0; i < pb->N; i++) {
			if (method == MUDSC_METHOD_ALIGN) {
				bool seen[MAX_W] = {false};
				for (int64_t u = 0; u < C; u++) {
					if (seen[assign[i * C + u]])
						FAIL("point %d: model %d's block is not a permutation", (int)p, (int)i);
					seen[assign[i * C + u]] = true;
				}
				if (mudsc_matcher_permutation(perm, MAX_W, NULL, m, (size_t)p, i) != MUDSC_OK)
					FAIL("permutation of point %d, model %d", (int)p, (int)i);
				for (int64_t j = 0; j < C; j++)
					if (perm[j] < 0 || perm[j] >= C || assign[i * C + perm[j]] != j)
						FAIL("point %d, model %d: permutation is not the assignment's inverse",
						     (int)p, (int)i);
			}
			for (int kind = 0; kind < 2; kind++) {
				if (checked(mudsc_matcher_matrix(M, sizeof M / sizeof *M, &needed, m, (size_t)p,
				                                 i, (mudsc_matrix_kind)kind),
				            "matrix") != MUDSC_OK ||
				    needed != (size_t)(C * Cp))
					FAIL("matrix of point %d, model %d", (int)p, (int)i);
				for (int64_t u = 0; u < C; u++)
					for (int64_t j = 0; j < Cp; j++) {
						double v = M[u * Cp + j];
						bool on = j == assign[i * C + u];
						if (on ? !(v > 0.0 && v <= 1.0) : v != 0.0)
							FAIL("point %d, model %d: matrix[%lld, %lld] = %g", (int)p, (int)i,
							     (long long)u, (long long)j, v);
					}
			}
		}
	}
}

static void check_merged(const mudsc_model *out, const struct problem *pb)
{
	if (mudsc_model_count(out) != mudsc_model_count(pb->models[0]))
		FAIL("merged model has %zu tensors, model 0 %zu", mudsc_model_count(out),
		     mudsc_model_count(pb->models[0]));
	for (size_t k = 0; k < mudsc_model_count(out); k++) {
		mudsc_tensor a, t;
		if (mudsc_model_at(&a, pb->models[0], k) != MUDSC_OK ||
		    mudsc_model_find(&t, out, a.name) != MUDSC_OK || t.dtype != a.dtype ||
		    t.rank != a.rank)
			FAIL("merged tensor %zu", k);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bytes b = {data, size};
	struct problem pb;
	mudsc_matcher_options o;
	mudsc_matcher *m = NULL;

	memset(&pb, 0, sizeof pb);
	build_graph(&pb, &b);
	build_models(&pb, &b);
	random_options(&o, &b);
	if (checked(mudsc_matcher_new(&m, pb.graph, (const mudsc_model *const *)pb.models, pb.N, &o),
	            "matcher_new") == MUDSC_OK) {
		give_activations(m, &pb, &b);
		if (checked(mudsc_matcher_run(m), "matcher_run") == MUDSC_OK) {
			double w[MAX_MODELS];
			mudsc_model *out = NULL;
			check_results(m, &pb, o.method);
			for (int32_t i = 0; i < pb.N; i++)
				w[i] = (double)(int8_t)take(&b) / 64.0;
			if (checked(mudsc_matcher_merge(&out, m, NULL), "merge") == MUDSC_OK) {
				check_merged(out, &pb);
				mudsc_model_free(out);
			}
			out = NULL;
			if (checked(mudsc_matcher_merge(&out, m, w), "merge(weights)") == MUDSC_OK) {
				check_merged(out, &pb);
				mudsc_model_free(out);
			}
			for (int32_t i = 0; i < pb.N; i++) {
				out = NULL;
				if (checked(mudsc_matcher_transform(&out, m, i), "transform") == MUDSC_OK) {
					check_merged(out, &pb);
					mudsc_model_free(out);
				}
			}
		}
		mudsc_matcher_free(m);
	}
	for (int32_t i = 0; i < pb.N; i++) {
		mudsc_model_free(pb.models[i]);
		for (int32_t k = 0; k < pb.ntensors; k++)
			free(pb.buffers[i][k]);
	}
	mudsc_graph_free(pb.graph);
	return 0;
}
