/*
 * libmudsc-mpi: statistics sets (stats.h) reduced over an MPI
 * communicator.  A small companion library of libmudsc, built with the
 * meson feature `mpi` (-Dmpi=enabled; Open MPI via pkg-config ompi-c),
 * linked with `pkg-config --cflags --libs mudsc-mpi`.  libmudsc itself
 * never links MPI, and mudsc.h does not include this header.
 *
 * Each rank streams its shard of the calibration data into its own set
 * (the same graph, the same N, the same models on every rank); one call
 * then gives the set of the whole data, on every rank
 * (mudsc_mpi_stats_allreduce) or on one (mudsc_mpi_stats_reduce).
 *
 * How (docs/distributed.md): every rank serializes its set
 * (mudsc_stats_save_buffer, the set's file bytes: raw shifted sums); the
 * root receives the ranks' bytes one after another, in rank order, and
 * merges them in rank order (((s0 + s1) + s2) + ...; Chan's formula,
 * mudsc_stats_merge).  The result therefore depends on the shards and
 * their ranks only, never on timing, and equals the single stream over
 * the data in rank order to rounding (1e-12 relative for F64 input).
 * The all-reduce then broadcasts the root's result bytes and every rank
 * loads them (mudsc_stats_replace_buffer): the same bytes on every rank,
 * bit for bit, even across machines whose arithmetic differs.
 * Cost, for P ranks and a set of S bytes: the root receives (P - 1) S
 * bytes and performs P - 1 set merges (each O(sum over points of
 * (N C)^2)); the all-reduce adds a broadcast of S bytes and one load per
 * rank.  Memory beyond the set: about 5 S at the root (its own bytes, one
 * receive buffer, the scratch set, one rank's set, the result bytes), 3 S
 * elsewhere.
 * Linear in P at the root: meant for tens of ranks, not thousands.
 *
 * Collective calls: every rank of comm must make the same call with the
 * same root.  Errors are collective too: before any bytes travel the
 * ranks exchange a short header (their local status, root, N, the number
 * of points, a fingerprint of the point names and widths, the byte
 * count), so a rank whose set is NULL or cannot be serialized, a root
 * that differs, or a set of another graph or N makes every rank return
 * the same status (MUDSC_E_MISMATCH, ...) naming the first rank that
 * differs from rank 0, and nobody hangs.  A failure at the root is
 * broadcast with its message.  A failing MPI call returns MUDSC_E_IO
 * with a message naming the call and MPI_Error_string() of its code (MPI
 * errors are returned, not fatal, during these calls: the communicator's
 * error handler is set to MPI_ERRORS_RETURN and restored afterwards); after
 * an MPI failure other ranks may not be able to complete the call (MPI
 * gives no guarantee there); so may MUDSC_E_NOMEM for a transfer buffer
 * (the header exchange and the final status exchange of the all-reduce
 * still make every rank that completes the call return alike).  Messages: mudsc_error_message() on the
 * calling thread, as for every libmudsc call.
 *
 * Threads: call from the thread that may make MPI calls (MPI's thread
 * level); the set belongs to that thread during the call.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_MPI_H
#define MUDSC_MPI_H

#include <mpi.h>

#include "common.h"
#include "stats.h"

MUDSC_BEGIN_DECLS

/**
 * Every rank of comm ends with the set of the whole data: the rank-order
 * merge of all ranks' sets, the same bytes on every rank.  All or
 * nothing on each rank: on error stats is unchanged.
 * Errors (the same on every rank, see above): MUDSC_E_INVALID (comm is
 * MPI_COMM_NULL -- this one is local, nothing travels; a NULL stats on
 * some rank), MUDSC_E_STATE (MPI not initialised, or finalised),
 * MUDSC_E_MISMATCH (ranks with another N, other points, or a set with
 * unmatched buffered observations, naming the rank), MUDSC_E_IO (an MPI
 * call failed), the errors of mudsc_stats_merge() at the root,
 * MUDSC_E_NOMEM.
 */
MUDSC_API mudsc_status mudsc_mpi_stats_allreduce(mudsc_stats *stats, MPI_Comm comm);

/**
 * The rank `root` of comm ends with the set of the whole data (the
 * rank-order merge of all ranks' sets, the same bytes as
 * mudsc_mpi_stats_allreduce() gives); the other ranks' sets are left as
 * they are.  root must be the same on every rank and in [0, size).
 * Errors as mudsc_mpi_stats_allreduce(), on every rank alike;
 * MUDSC_E_RANGE for a root outside the communicator, MUDSC_E_MISMATCH
 * for ranks that disagree on root.
 */
MUDSC_API mudsc_status mudsc_mpi_stats_reduce(mudsc_stats *stats, int root, MPI_Comm comm);

MUDSC_END_DECLS

#endif /* MUDSC_MPI_H */
