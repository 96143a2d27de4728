/*
 * mpi_errors: libmudsc-mpi's errors, under mpirun -n 2 (or more): each is
 * returned alike on every rank (same status; messages naming the call and
 * the rank) and no call hangs.  Exit 0 when every case holds on this rank.
 */
#include <mpi.h>
#include <mudsc/mudsc.h>
#include <mudsc/mudsc_mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

static void expect(const char *what, mudsc_status got, mudsc_status want, const char *needle,
                   int rank)
{
	const char *msg = mudsc_error_message();
	if (got != want || (needle && strstr(msg, needle) == NULL)) {
		fprintf(stderr, "mpi_errors: rank %d: %s: got %s \"%s\", want %s with \"%s\"\n", rank,
		        what, mudsc_status_name(got), msg, mudsc_status_name(want),
		        needle ? needle : "");
		failures++;
	}
}

static mudsc_stats *set_of(int64_t w1, int32_t n, int fill)
{
	mudsc_graph *g = NULL;
	mudsc_stats *s = NULL;
	size_t i;
	double x[3 * 8];

	if (mudsc_graph_new(&g) || mudsc_graph_add_point(&i, g, "a", 4, 1) ||
	    mudsc_graph_add_point(&i, g, "b", w1, 1) || mudsc_stats_new(&s, g, n, NULL))
		exit(2);
	for (int k = 0; k < 3 * 8; k++)
		x[k] = (double)((k * 7) % 5) + 0.25 * k;
	for (size_t p = 0; p < 2 && fill; p++)
		for (int32_t m = 0; m < n; m++) {
			mudsc_features f = { .dtype = MUDSC_DTYPE_F64, .rank = 2,
			                     .shape = { 3, p ? w1 : 4 }, .feature_axis = 1, .data = x };
			if (fill == 2 && m == 1)
				continue; /* model 1 behind: the set cannot be serialized */
			if (mudsc_stats_update(s, p, m, &f))
				exit(2);
		}
	mudsc_graph_free(g);
	return s;
}

int main(int argc, char **argv)
{
	int rank, size;
	mudsc_stats *s, *t;
	void *before, *after;
	size_t nb, na;

	/* before MPI_Init: STATE, nothing travels */
	s = set_of(3, 2, 1);
	expect("before MPI_Init", mudsc_mpi_stats_allreduce(s, MPI_COMM_WORLD), MUDSC_E_STATE,
	       "mudsc_mpi_stats_allreduce: MPI is not initialised", 0);
	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	expect("MPI_COMM_NULL", mudsc_mpi_stats_allreduce(s, MPI_COMM_NULL), MUDSC_E_INVALID,
	       "argument 'comm' is MPI_COMM_NULL", rank);
	/* a root outside the communicator (on every rank) */
	expect("root out of range", mudsc_mpi_stats_reduce(s, size, MPI_COMM_WORLD), MUDSC_E_RANGE,
	       rank == 0 ? "argument 'root'" : "rank 0 failed", rank);
	if (size == 1)
		goto good; /* the rest needs other ranks */
	/* a NULL set on rank 1 */
	expect("NULL stats", mudsc_mpi_stats_allreduce(rank == 1 ? NULL : s, MPI_COMM_WORLD),
	       MUDSC_E_INVALID, rank == 1 ? "argument 'stats' is NULL" : "rank 1 failed", rank);
	/* roots that differ */
	expect("roots differ", mudsc_mpi_stats_reduce(s, rank == size - 1 ? 0 : size - 1,
	                                              MPI_COMM_WORLD),
	       MUDSC_E_MISMATCH, "has argument 'root' = ", rank);
	/* another N, another width on the last rank */
	t = set_of(3, rank == size - 1 ? 3 : 2, 1);
	expect("N differs", mudsc_mpi_stats_allreduce(t, MPI_COMM_WORLD), MUDSC_E_MISMATCH,
	       "models, rank 0's 2", rank);
	mudsc_stats_free(t);
	t = set_of(rank == size - 1 ? 5 : 3, 2, 1);
	expect("width differs", mudsc_mpi_stats_allreduce(t, MPI_COMM_WORLD), MUDSC_E_MISMATCH,
	       "other point names or widths", rank);
	mudsc_stats_free(t);
	/* a rank whose set has a model behind: it cannot be serialized */
	t = set_of(3, 2, rank == size - 1 ? 2 : 1);
	expect("unmatched observations", mudsc_mpi_stats_allreduce(t, MPI_COMM_WORLD),
	       MUDSC_E_MISMATCH, rank == size - 1 ? "serializing the set" : "failed: MUDSC_E_MISMATCH",
	       rank);
	mudsc_stats_free(t);
good:
	/* after all that the set is unchanged, and a good call still works */
	if (mudsc_stats_save_buffer(&before, &nb, s))
		exit(2);
	expect("allreduce", mudsc_mpi_stats_allreduce(s, MPI_COMM_WORLD), MUDSC_OK, NULL, rank);
	if (mudsc_stats_save_buffer(&after, &na, s))
		exit(2);
	if (size > 1 && nb == na && memcmp(before, after, nb) == 0) {
		fprintf(stderr, "mpi_errors: rank %d: the all-reduce changed nothing\n", rank);
		failures++;
	}
	{
		int64_t count = 0;
		mudsc_accum *acc;
		mudsc_stats_point(&acc, s, 0);
		mudsc_accum_count(&count, acc, 0);
		if (count != 3 * size) {
			fprintf(stderr, "mpi_errors: rank %d: count %lld, want %d\n", rank,
			        (long long)count, 3 * size);
			failures++;
		}
	}
	mudsc_free(before);
	mudsc_free(after);
	mudsc_stats_free(s);
	printf("mpi_errors: rank %d: %s\n", rank, failures ? "FAILED" : "every case as expected");
	MPI_Finalize();
	return failures ? 1 : 0;
}
