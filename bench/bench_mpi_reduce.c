/*
 * bench_mpi_reduce: mudsc_mpi_stats_allreduce against accumulation, over
 * MPI ranks (issue 12).  The workload of bench/bench_stats_reduce.py: a
 * ResNet-20x2 graph, N = 2 models, F32 features of CIFAR-sized images
 * (the stage of width 32 sees 32x32 positions, 64 16x16, 128 8x8), random,
 * one image's features reused for every image.  IMAGES images in all,
 * IMAGES / P on each rank.  Prints the accumulation time (the slowest
 * rank), the all-reduce time (the slowest rank) and their ratio, the
 * median of RUNS runs, and the set's size in bytes.
 *
 * Usage: mpirun -n P bench_mpi_reduce [IMAGES] [RUNS]
 */
#include <mpi.h>
#include <mudsc/mudsc.h>
#include <mudsc/mudsc_mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"

static int64_t spatial(int64_t width)
{
	return width == 32 ? 32 * 32 : width == 64 ? 16 * 16 : 8 * 8;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_mpi_reduce: %s: %s\n", what, mudsc_error_message());
	MPI_Abort(MPI_COMM_WORLD, 1);
}

int main(int argc, char **argv)
{
	int rank, size, images, runs;
	mudsc_resnet_options ro = MUDSC_RESNET_OPTIONS_INIT;
	mudsc_graph *g = NULL;
	float *feat[2];
	size_t np, most = 0;
	double acc_t[64], red_t[64];
	size_t bytes = 0;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	images = argc > 1 ? atoi(argv[1]) : 64;
	runs = argc > 2 ? atoi(argv[2]) : 3;
	if (runs < 1 || runs > 64 || images < size)
		die("arguments");
	if (mudsc_resnet_options_preset(&ro, "resnet20", 2) != MUDSC_OK ||
	    mudsc_graph_build_resnet(&g, &ro) != MUDSC_OK)
		die("graph");
	np = mudsc_graph_point_count(g);
	for (size_t p = 0; p < np; p++) {
		mudsc_point_info info;
		mudsc_graph_point_at(&info, g, p);
		if ((size_t)(spatial(info.width) * info.width) > most)
			most = (size_t)(spatial(info.width) * info.width);
	}
	for (int i = 0; i < 2; i++) {
		uint64_t s = 12345u + (uint64_t)i;
		feat[i] = malloc(most * sizeof(float));
		for (size_t k = 0; k < most; k++) {
			s = s * 6364136223846793005u + 1442695040888963407u;
			feat[i][k] = (float)((double)(s >> 11) / 9007199254740992.0 - 0.5);
		}
	}
	for (int r = 0; r < runs; r++) {
		mudsc_stats *st = NULL;
		double t0, t1, t2, a, b;
		if (mudsc_stats_new(&st, g, 2, NULL) != MUDSC_OK)
			die("set");
		MPI_Barrier(MPI_COMM_WORLD);
		t0 = MPI_Wtime();
		for (int im = 0; im < images / size; im++)
			for (size_t p = 0; p < np; p++) {
				mudsc_point_info info;
				mudsc_graph_point_at(&info, g, p);
				for (int32_t i = 0; i < 2; i++) {
					mudsc_features f = { .dtype = MUDSC_DTYPE_F32, .rank = 2,
					                     .shape = { spatial(info.width), info.width },
					                     .feature_axis = 1, .data = feat[i] };
					if (mudsc_stats_update(st, p, i, &f) != MUDSC_OK)
						die("update");
				}
			}
		MPI_Barrier(MPI_COMM_WORLD); /* the reduction's time without waiting for shards */
		t1 = MPI_Wtime();
		if (mudsc_mpi_stats_allreduce(st, MPI_COMM_WORLD) != MUDSC_OK)
			die("allreduce");
		t2 = MPI_Wtime();
		a = t1 - t0;
		b = t2 - t1;
		MPI_Allreduce(&a, &acc_t[r], 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
		MPI_Allreduce(&b, &red_t[r], 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
		if (r == 0) {
			void *buf = NULL;
			mudsc_stats_save_buffer(&buf, &bytes, st);
			mudsc_free(buf);
		}
		mudsc_stats_free(st);
	}
	qsort(acc_t, (size_t)runs, sizeof(double), cmp_double);
	qsort(red_t, (size_t)runs, sizeof(double), cmp_double);
	if (rank == 0)
		printf("{\"P\": %d, \"images\": %d, \"runs\": %d, \"accumulate_s\": %.4f, "
		       "\"allreduce_s\": %.4f, \"ratio\": %.4f, \"set_bytes\": %zu}\n",
		       size, images, runs, acc_t[runs / 2], red_t[runs / 2],
		       red_t[runs / 2] / acc_t[runs / 2], bytes);
	free(feat[0]);
	free(feat[1]);
	mudsc_graph_free(g);
	MPI_Finalize();
	return 0;
}
