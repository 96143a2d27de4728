/*
 * libmudsc-mpi (include/mudsc/mudsc_mpi.h): a statistics set reduced over
 * an MPI communicator by its file bytes, merged at the root in rank order.
 * Uses libmudsc's public API only (it is a separate library).
 *
 * SPDX-License-Identifier: MIT
 */
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mudsc/mudsc_mpi.h"

/* What every rank tells every other before any bytes travel. */
enum { H_STATUS, H_ROOT, H_MODELS, H_POINTS, H_PRINT, H_LEN, H_WORDS };

/* Bytes travel in messages of at most this many (MPI counts are int). */
#define CHUNK ((size_t)1 << 30)
#define TAG 0x6d75 /* "mu" */
enum { MSG = 512 };

struct call {
	const char *fn; /* "mudsc_mpi_stats_allreduce" */
	MPI_Comm comm;
	int rank, size;
};

static mudsc_status fail(mudsc_status st, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

static mudsc_status fail(mudsc_status st, const char *fmt, ...)
{
	char msg[MSG];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return mudsc_error_set(st, msg);
}

/* MUDSC_E_IO naming the MPI call and its error string, unless rc is MPI_SUCCESS. */
static mudsc_status mpi_check(const struct call *c, int rc, const char *what)
{
	char text[MPI_MAX_ERROR_STRING + 1];
	int len = 0;

	if (rc == MPI_SUCCESS)
		return MUDSC_OK;
	if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS)
		len = snprintf(text, sizeof text, "MPI error code %d", rc);
	text[len < 0 ? 0 : len > MPI_MAX_ERROR_STRING ? MPI_MAX_ERROR_STRING : len] = '\0';
	return fail(MUDSC_E_IO, "%s: %s failed on rank %d: %s", c->fn, what, c->rank, text);
}

/* FNV-1a of the points' names and widths, and N. */
static int64_t fingerprint(mudsc_stats *s)
{
	uint64_t h = 1469598103934665603u;
	const size_t np = mudsc_stats_point_count(s);

	for (size_t p = 0; p < np; p++) {
		const char *name = "";
		int64_t width = 0;
		const unsigned char *b;
		if (mudsc_stats_point_at(&name, &width, s, p) != MUDSC_OK)
			return 0;
		for (b = (const unsigned char *)name;; b++) {
			h = (h ^ *b) * 1099511628211u;
			if (*b == '\0')
				break;
		}
		for (int k = 0; k < 8; k++)
			h = (h ^ (unsigned char)((uint64_t)width >> (8 * k))) * 1099511628211u;
	}
	return (int64_t)(h >> 1);
}

enum op { SEND, RECV, BCAST };

/* len bytes sent to, received from or broadcast by rank `peer`, in CHUNK
 * pieces (the peer's pieces are the same, so they pair up). */
static mudsc_status transfer(const struct call *c, enum op op, void *buf, size_t len, int peer)
{
	static const char *const name[] = { "MPI_Send", "MPI_Recv", "MPI_Bcast" };
	mudsc_status st = MUDSC_OK;

	for (size_t off = 0; st == MUDSC_OK && off < len; off += CHUNK) {
		char *at = (char *)buf + off;
		int n = (int)(len - off < CHUNK ? len - off : CHUNK), rc;
		if (op == SEND)
			rc = MPI_Send(at, n, MPI_BYTE, peer, TAG, c->comm);
		else if (op == RECV)
			rc = MPI_Recv(at, n, MPI_BYTE, peer, TAG, c->comm, MPI_STATUS_IGNORE);
		else
			rc = MPI_Bcast(at, n, MPI_BYTE, peer, c->comm);
		st = mpi_check(c, rc, name[op]);
	}
	return st;
}

/* The headers of all ranks (h: size x H_WORDS), checked alike on every
 * rank: the first rank that failed locally or differs from rank 0. */
static mudsc_status check_headers(const struct call *c, const int64_t *h)
{
	const int64_t *h0 = h;

	for (int r = 0; r < c->size; r++) {
		const int64_t *hr = h + (size_t)r * H_WORDS;
		if (hr[H_STATUS] != MUDSC_OK) {
			if (r == c->rank)
				return (mudsc_status)hr[H_STATUS]; /* its own message stands */
			return fail((mudsc_status)hr[H_STATUS], "%s: rank %d failed: %s", c->fn, r,
			            mudsc_status_name((mudsc_status)hr[H_STATUS]));
		}
	}
	for (int r = 1; r < c->size; r++) {
		const int64_t *hr = h + (size_t)r * H_WORDS;
		if (hr[H_ROOT] != h0[H_ROOT])
			return fail(MUDSC_E_MISMATCH, "%s: rank %d has argument 'root' = %" PRId64
			            ", rank 0 %" PRId64, c->fn, r, hr[H_ROOT], h0[H_ROOT]);
		if (hr[H_MODELS] != h0[H_MODELS])
			return fail(MUDSC_E_MISMATCH, "%s: rank %d's set has N = %" PRId64
			            " models, rank 0's %" PRId64, c->fn, r, hr[H_MODELS], h0[H_MODELS]);
		if (hr[H_POINTS] != h0[H_POINTS])
			return fail(MUDSC_E_MISMATCH, "%s: rank %d's set has %" PRId64
			            " points, rank 0's %" PRId64, c->fn, r, hr[H_POINTS], h0[H_POINTS]);
		if (hr[H_PRINT] != h0[H_PRINT])
			return fail(MUDSC_E_MISMATCH, "%s: rank %d's set has other point names or widths "
			            "than rank 0's (another graph)", c->fn, r);
	}
	return MUDSC_OK;
}

/* At the root: the rank-order merge of all ranks' sets, as bytes. */
static mudsc_status merge_at_root(void **out, size_t *out_len, const struct call *c,
                                  mudsc_stats *stats, const void *own, size_t own_len,
                                  const int64_t *h)
{
	size_t most = 0;
	unsigned char *buf = NULL;
	mudsc_stats *acc = NULL, *part = NULL;
	mudsc_status st = MUDSC_OK;

	for (int r = 0; r < c->size; r++)
		if ((size_t)h[(size_t)r * H_WORDS + H_LEN] > most)
			most = (size_t)h[(size_t)r * H_WORDS + H_LEN];
	buf = malloc(most ? most : 1);
	if (buf == NULL)
		return fail(MUDSC_E_NOMEM, "%s: no memory for %zu received bytes", c->fn, most);
	/* every rank's bytes are received even after a failure, so no sender blocks */
	for (int r = 0; r < c->size; r++) {
		const size_t len = (size_t)h[(size_t)r * H_WORDS + H_LEN];
		const void *bytes = own;
		mudsc_status rs = MUDSC_OK;
		if (r != c->rank) {
			rs = transfer(c, RECV, buf, len, r);
			bytes = buf;
		}
		if (st == MUDSC_OK)
			st = rs;
		if (st != MUDSC_OK)
			continue;
		if (r == 0) {
			st = mudsc_stats_load_buffer_like(&acc, bytes, r == c->rank ? own_len : len,
			                                  stats, NULL);
		} else {
			st = mudsc_stats_load_buffer_like(&part, bytes, r == c->rank ? own_len : len,
			                                  stats, NULL);
			if (st == MUDSC_OK)
				st = mudsc_stats_merge(acc, part);
			mudsc_stats_free(part);
			part = NULL;
		}
		if (st != MUDSC_OK && st != MUDSC_E_NOMEM) {
			char msg[MSG];
			snprintf(msg, sizeof msg, "%s: merging rank %d's set: %s", c->fn, r,
			         mudsc_error_message());
			st = mudsc_error_set(st, msg);
		}
	}
	free(buf);
	if (st == MUDSC_OK)
		st = mudsc_stats_save_buffer(out, out_len, acc);
	mudsc_stats_free(acc);
	return st;
}

/* The root's status and message to every rank: all return alike. */
static mudsc_status share_status(const struct call *c, mudsc_status st, int root, int64_t *len)
{
	struct {
		int64_t status, len;
		char msg[MSG];
	} m;
	mudsc_status rs;

	memset(&m, 0, sizeof m);
	if (c->rank == root) {
		m.status = st;
		m.len = *len;
		if (st != MUDSC_OK)
			snprintf(m.msg, sizeof m.msg, "%s", mudsc_error_message());
	}
	rs = mpi_check(c, MPI_Bcast(&m, (int)sizeof m, MPI_BYTE, root, c->comm), "MPI_Bcast");
	if (rs != MUDSC_OK)
		return rs;
	if (c->rank != root && m.status != MUDSC_OK)
		return fail((mudsc_status)m.status, "%s (at root rank %d)", m.msg, root);
	*len = m.len;
	return (mudsc_status)m.status;
}

static mudsc_status reduce(mudsc_stats *stats, int root, MPI_Comm comm, int everyone,
                           const char *fn)
{
	struct call c = { fn, comm, 0, 0 };
	int64_t mine[H_WORDS] = { 0 }, *h = NULL;
	void *own = NULL, *result = NULL;
	size_t own_len = 0, result_len = 0;
	int64_t len = 0;
	MPI_Errhandler old;
	int up = 0, down = 0;
	mudsc_status st, rs;

	if (MPI_Initialized(&up) != MPI_SUCCESS || !up || MPI_Finalized(&down) != MPI_SUCCESS ||
	    down)
		return fail(MUDSC_E_STATE, "%s: MPI is not initialised (or already finalised)", fn);
	if (comm == MPI_COMM_NULL)
		return fail(MUDSC_E_INVALID, "%s: argument 'comm' is MPI_COMM_NULL", fn);
	if ((st = mpi_check(&c, MPI_Comm_get_errhandler(comm, &old), "MPI_Comm_get_errhandler")))
		return st;
	st = mpi_check(&c, MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
	if (st == MUDSC_OK)
		st = mpi_check(&c, MPI_Comm_rank(comm, &c.rank), "MPI_Comm_rank");
	if (st == MUDSC_OK)
		st = mpi_check(&c, MPI_Comm_size(comm, &c.size), "MPI_Comm_size");
	if (st != MUDSC_OK)
		goto out;

	/* 1. the local header: status, root, shape, byte count */
	if (stats == NULL)
		mine[H_STATUS] = fail(MUDSC_E_INVALID, "%s: argument 'stats' is NULL", fn);
	else if (root < 0 || root >= c.size)
		mine[H_STATUS] = fail(MUDSC_E_RANGE, "%s: argument 'root' = %d, the communicator has "
		                      "%d ranks", fn, root, c.size);
	else if (c.size > 1 && (mine[H_STATUS] = mudsc_stats_save_buffer(&own, &own_len, stats)) != 0)
		mine[H_STATUS] = fail((mudsc_status)mine[H_STATUS], "%s: serializing the set: %s", fn,
		                      mudsc_error_message());
	if (mine[H_STATUS] == MUDSC_OK && stats != NULL) {
		mine[H_MODELS] = mudsc_stats_models(stats);
		mine[H_POINTS] = (int64_t)mudsc_stats_point_count(stats);
		mine[H_PRINT] = fingerprint(stats);
	}
	mine[H_ROOT] = root;
	mine[H_LEN] = (int64_t)own_len;
	h = malloc((size_t)c.size * sizeof mine);
	if (h == NULL) { /* the one local failure the others cannot learn of */
		st = fail(MUDSC_E_NOMEM, "%s: no memory for %d headers", fn, c.size);
		goto out;
	}
	st = mpi_check(&c, MPI_Allgather(mine, H_WORDS, MPI_INT64_T, h, H_WORDS, MPI_INT64_T, comm),
	               "MPI_Allgather");
	if (st == MUDSC_OK)
		st = check_headers(&c, h);
	if (st != MUDSC_OK || c.size == 1)
		goto out;

	/* 2. the bytes to the root, merged there in rank order */
	if (c.rank != root) {
		st = transfer(&c, SEND, own, own_len, root);
	} else {
		st = merge_at_root(&result, &result_len, &c, stats, own, own_len, h);
		len = (int64_t)result_len;
	}
	/* 3. the root's verdict to everyone; the all-reduce also the bytes */
	rs = share_status(&c, c.rank == root ? st : MUDSC_OK, root, &len);
	st = st != MUDSC_OK ? st : rs;
	if (st == MUDSC_OK && everyone) {
		if (c.rank != root) {
			result_len = (size_t)len;
			result = malloc(result_len ? result_len : 1);
		}
		if (result == NULL) {
			st = fail(MUDSC_E_NOMEM, "%s: no memory for the %" PRId64 " result bytes", fn, len);
		} else {
			st = transfer(&c, BCAST, result, result_len, root);
		}
	}
	if (st == MUDSC_OK && (everyone || c.rank == root))
		st = mudsc_stats_replace_buffer(stats, result, result_len);
	if (everyone) { /* a rank that failed loading: all fail alike */
		int worst = st, all = 0;
		rs = mpi_check(&c, MPI_Allreduce(&worst, &all, 1, MPI_INT, MPI_MIN, comm),
		               "MPI_Allreduce");
		if (rs != MUDSC_OK)
			st = rs;
		else if (st == MUDSC_OK && all != MUDSC_OK)
			st = fail((mudsc_status)all, "%s: another rank failed loading the result: %s", fn,
			          mudsc_status_name((mudsc_status)all));
	}
out:
	MPI_Comm_set_errhandler(comm, old);
	MPI_Errhandler_free(&old);
	free(h);
	free(result);
	mudsc_free(own);
	return st;
}

MUDSC_API mudsc_status mudsc_mpi_stats_allreduce(mudsc_stats *stats, MPI_Comm comm)
{
	return reduce(stats, 0, comm, 1, "mudsc_mpi_stats_allreduce");
}

MUDSC_API mudsc_status mudsc_mpi_stats_reduce(mudsc_stats *stats, int root, MPI_Comm comm)
{
	return reduce(stats, root, comm, 0, "mudsc_mpi_stats_reduce");
}
