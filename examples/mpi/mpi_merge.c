/*
 * mpi_merge: the calibration data of a merge spread over MPI ranks.
 *
 * Two MLPs (16 -> 24 -> 20 -> 10, ReLU, deterministic random weights) are
 * merged by MuDSC on a generated calibration set of 3000 inputs.  Rank r
 * of P streams its shard (inputs [r M / P, (r + 1) M / P)) through both
 * networks into its own statistics set; the sets are all-reduced
 * (mudsc_mpi_stats_allreduce) -- or reduced to one rank
 * (mudsc_mpi_stats_reduce, --reduce ROOT) -- and that rank matches and
 * saves the merged model.  With -n 1 it is the single stream.
 *
 * Usage: mpirun -n P mpi_merge OUTDIR [--reduce ROOT] [--mismatch]
 * Writes OUTDIR/graph.json, OUTDIR/stats.safetensors and
 * OUTDIR/merged.safetensors (the rank holding the whole set), and
 * OUTDIR/stats.rank<r>.safetensors (every rank's set after the call).
 * --mismatch: rank 1 builds another graph (a hidden width 21): every rank
 * must then fail with MUDSC_E_MISMATCH (exit 0 when it does), none hangs.
 */
#include <mpi.h>
#include <mudsc/mudsc.h>
#include <mudsc/mudsc_mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { IN = 16, H0 = 24, H1 = 20, OUT = 10, M = 3000, CHUNK = 128, NM = 2 };

struct net {
	int64_t width[4];
	double *w[3], *b[3];
	mudsc_model *model;
};

static uint64_t mix(uint64_t z)
{
	z += 0x9e3779b97f4a7c15u;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* A uniform value in [-0.5, 0.5) from a key. */
static double unit(uint64_t key)
{
	return (double)(mix(key) >> 11) / 9007199254740992.0 - 0.5;
}

static int fail(int rank, const char *what)
{
	fprintf(stderr, "mpi_merge: rank %d: %s: %s (%s)\n", rank, what, mudsc_error_message(),
	        mudsc_status_name(mudsc_error_status()));
	return 1;
}

static mudsc_status net_make(struct net *n, uint64_t seed, int64_t h1)
{
	mudsc_status st;
	const int64_t width[4] = { IN, H0, h1, OUT };

	memcpy(n->width, width, sizeof width);
	if ((st = mudsc_model_new(&n->model)) != MUDSC_OK)
		return st;
	for (int l = 0; l < 3 && st == MUDSC_OK; l++) {
		int64_t shape[2] = { width[l + 1], width[l] };
		char name[32];
		n->w[l] = malloc((size_t)(shape[0] * shape[1]) * sizeof(double));
		n->b[l] = malloc((size_t)shape[0] * sizeof(double));
		if (!n->w[l] || !n->b[l])
			return MUDSC_E_NOMEM;
		for (int64_t k = 0; k < shape[0] * shape[1]; k++)
			n->w[l][k] = unit(seed * 1000003u + (uint64_t)(l * 100000 + k)) / 2.0;
		for (int64_t k = 0; k < shape[0]; k++)
			n->b[l][k] = unit(seed * 7777777u + (uint64_t)(l * 1000 + k)) / 10.0;
		snprintf(name, sizeof name, "layers.%d.weight", l);
		st = mudsc_model_add(n->model, name, MUDSC_DTYPE_F64, 2, shape, n->w[l], MUDSC_BORROW);
		snprintf(name, sizeof name, "layers.%d.bias", l);
		if (st == MUDSC_OK)
			st = mudsc_model_add(n->model, name, MUDSC_DTYPE_F64, 1, shape, n->b[l],
			                     MUDSC_BORROW);
	}
	return st;
}

static void net_free(struct net *n)
{
	mudsc_model_free(n->model);
	for (int l = 0; l < 3; l++) {
		free(n->w[l]);
		free(n->b[l]);
	}
}

/* Rows [k0, k1) of the calibration set through net `model` (index i):
 * the two hidden activations into points 0 and 1 of the set. */
static mudsc_status stream(mudsc_stats *stats, const struct net *n, int32_t i, int64_t k0,
                           int64_t k1)
{
	static double x[CHUNK * IN], a[CHUNK * H0], h[CHUNK * 32];
	mudsc_status st = MUDSC_OK;

	for (int64_t c0 = k0; c0 < k1 && st == MUDSC_OK; c0 += CHUNK) {
		const int64_t rows = k1 - c0 < CHUNK ? k1 - c0 : CHUNK;
		const double *in = x;
		double *outs[2] = { a, h };
		for (int64_t r = 0; r < rows; r++)
			for (int j = 0; j < IN; j++)
				x[r * IN + j] = 2.0 * unit(0xda7aull * (uint64_t)(c0 + r) + (uint64_t)j);
		for (int l = 0; l < 2 && st == MUDSC_OK; l++) {
			const int64_t fi = n->width[l], fo = n->width[l + 1];
			for (int64_t r = 0; r < rows; r++)
				for (int64_t o = 0; o < fo; o++) {
					double s = n->b[l][o];
					for (int64_t j = 0; j < fi; j++)
						s += n->w[l][o * fi + j] * in[r * fi + j];
					outs[l][r * fo + o] = s > 0 ? s : 0;
				}
			mudsc_features f = { .dtype = MUDSC_DTYPE_F64, .rank = 2, .shape = { rows, fo },
			                     .feature_axis = 1, .data = outs[l] };
			st = mudsc_stats_update(stats, (size_t)l, i, &f);
			in = outs[l];
		}
	}
	return st;
}

static int save_set(mudsc_stats *s, const char *dir, const char *name, int rank)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return mudsc_stats_save(s, path) == MUDSC_OK ? 0 : fail(rank, path);
}

int main(int argc, char **argv)
{
	const char *dir = NULL;
	int rank = 0, size = 1, root = -1, mismatch = 0, rc = 0;
	int64_t hidden[2] = { H0, H1 };
	mudsc_mlp_options mo = MUDSC_MLP_OPTIONS_INIT;
	struct net nets[NM];
	mudsc_graph *graph = NULL;
	mudsc_stats *stats = NULL;
	mudsc_status st;
	char path[4096], name[64];
	double t0, t_acc, t_red;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	for (int k = 1; k < argc; k++) {
		if (strcmp(argv[k], "--reduce") == 0 && k + 1 < argc)
			root = atoi(argv[++k]);
		else if (strcmp(argv[k], "--mismatch") == 0)
			mismatch = 1;
		else
			dir = argv[k];
	}
	if (dir == NULL || MUDSC_CHECK_VERSION() != MUDSC_OK) {
		if (rank == 0)
			fprintf(stderr, "usage: mpirun -n P mpi_merge OUTDIR [--reduce ROOT] [--mismatch]\n");
		MPI_Finalize();
		return 2;
	}
	if (mismatch && rank == 1)
		hidden[1] = H1 + 1;
	memset(nets, 0, sizeof nets);
	mo.n_hidden = 2;
	mo.hidden = hidden;
	if (mudsc_graph_build_mlp(&graph, &mo) != MUDSC_OK ||
	    mudsc_stats_new(&stats, graph, NM, NULL) != MUDSC_OK)
		return fail(rank, "graph and set");
	for (int32_t i = 0; i < NM; i++)
		if (net_make(&nets[i], (uint64_t)i + 1, hidden[1]) != MUDSC_OK)
			return fail(rank, "models");

	/* each rank its shard, as one stream per model */
	t0 = MPI_Wtime();
	for (int32_t i = 0; i < NM; i++)
		if (stream(stats, &nets[i], i, (int64_t)rank * M / size,
		           (int64_t)(rank + 1) * M / size) != MUDSC_OK)
			return fail(rank, "streaming the shard");
	t_acc = MPI_Wtime() - t0;
	t0 = MPI_Wtime();
	st = root < 0 ? mudsc_mpi_stats_allreduce(stats, MPI_COMM_WORLD)
	              : mudsc_mpi_stats_reduce(stats, root, MPI_COMM_WORLD);
	t_red = MPI_Wtime() - t0;
	if (mismatch) {
		int ok = st == MUDSC_E_MISMATCH;
		printf("mpi_merge: rank %d: %s: %s\n", rank, mudsc_status_name(st), mudsc_error_message());
		rc = ok ? 0 : 1;
		goto done;
	}
	if (st != MUDSC_OK) {
		rc = fail(rank, root < 0 ? "mudsc_mpi_stats_allreduce" : "mudsc_mpi_stats_reduce");
		goto done;
	}
	snprintf(name, sizeof name, "stats.rank%d.safetensors", rank);
	rc = save_set(stats, dir, name, rank);
	if (rc == 0 && rank == (root < 0 ? 0 : root)) {
		const mudsc_model *models[NM] = { nets[0].model, nets[1].model };
		mudsc_matcher *matcher = NULL;
		mudsc_model *merged = NULL;
		printf("mpi_merge: %d ranks: accumulation %.3f ms, %s %.3f ms\n", size, 1e3 * t_acc,
		       root < 0 ? "all-reduce" : "reduce", 1e3 * t_red);
		rc = save_set(stats, dir, "stats.safetensors", rank);
		snprintf(path, sizeof path, "%s/graph.json", dir);
		if (rc == 0 && mudsc_graph_save_json(graph, path) != MUDSC_OK)
			rc = fail(rank, path);
		if (rc == 0 && (mudsc_matcher_new(&matcher, graph, models, NM, NULL) != MUDSC_OK ||
		                mudsc_matcher_set_stats(matcher, stats) != MUDSC_OK ||
		                mudsc_matcher_run(matcher) != MUDSC_OK ||
		                mudsc_matcher_merge(&merged, matcher, NULL) != MUDSC_OK))
			rc = fail(rank, "matching");
		snprintf(path, sizeof path, "%s/merged.safetensors", dir);
		if (rc == 0 && mudsc_model_save(merged, path) != MUDSC_OK)
			rc = fail(rank, path);
		mudsc_model_free(merged);
		mudsc_matcher_free(matcher);
	}
done:
	for (int32_t i = 0; i < NM; i++)
		net_free(&nets[i]);
	mudsc_stats_free(stats);
	mudsc_graph_free(graph);
	MPI_Finalize();
	return rc;
}
