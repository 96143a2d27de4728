/*
 * Align and group align (docs/algorithm.md section 8).
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "kernels/kernels.h"

/* Everything of mudsc__match_check_args() but the entries. */
static mudsc_status check_shape(const char *fn, const double *S, int64_t N, int64_t C, int64_t G)
{
	if (S == NULL)
		return mudsc__err(MUDSC_E_INVALID, "%s: argument 'S' is NULL", fn);
	if (N <= 0)
		return mudsc__err(MUDSC_E_INVALID, "%s: argument 'N' = %lld must be positive", fn,
		                 (long long)N);
	if (C <= 0)
		return mudsc__err(MUDSC_E_INVALID, "%s: argument 'C' = %lld must be positive", fn,
		                 (long long)C);
	if (G <= 0)
		return mudsc__err(MUDSC_E_INVALID, "%s: argument 'G' = %lld must be positive", fn,
		                 (long long)G);
	if (C % G != 0)
		return mudsc__err(MUDSC_E_SHAPE, "%s: argument 'G' = %lld does not divide C = %lld", fn,
		                 (long long)G, (long long)C);
	size_t nc, bytes;
	if (!mudsc__mul_size((size_t)N, (size_t)C, &nc) || !mudsc__mul_size(nc, nc, &bytes) ||
	    !mudsc__mul_size(bytes, sizeof(double), &bytes) || nc > (size_t)INT64_MAX / 2)
		return mudsc__err(MUDSC_E_INVALID,
		                 "%s: arguments 'N' = %lld, 'C' = %lld: NC x NC is too large", fn,
		                 (long long)N, (long long)C);
	return MUDSC_OK;
}

mudsc_status mudsc__match_check_args(const char *fn, const double *S, int64_t N, int64_t C,
                                    int64_t G)
{
	mudsc_status st = check_shape(fn, S, N, C, G);
	if (st != MUDSC_OK)
		return st;
	return mudsc__match_check_entries(fn, S, N * C, N * C);
}

/* One inner assignment per block pair (g, h), scored by its mean matched
 * similarity, then a G x G assignment on the scores. */
mudsc_status mudsc__block_assign(int64_t *bperm, int64_t *inner, const double *S, size_t ld,
                                int64_t i, int64_t C, int64_t G)
{
	int64_t Cg = C / G;
	size_t G2 = (size_t)G * (size_t)G;
	double *scores = mudsc__alloc(G2 * sizeof *scores, "block scores");
	int64_t *all = mudsc__alloc(G2 * (size_t)Cg * sizeof *all, "inner assignments");
	mudsc_status st = scores && all ? MUDSC_OK : MUDSC_E_NOMEM;
	for (int64_t g = 0; g < G && st == MUDSC_OK; g++)
		for (int64_t h = 0; h < G && st == MUDSC_OK; h++) {
			const double *blk = S + (size_t)(g * Cg) * ld + (size_t)(i * C + h * Cg);
			int64_t *q = all + (size_t)(g * G + h) * (size_t)Cg;
			st = mudsc__lap_core(q, blk, ld, Cg);
			double sum = 0;
			for (int64_t k = 0; k < Cg && st == MUDSC_OK; k++)
				sum += blk[(size_t)k * ld + (size_t)q[k]];
			scores[g * G + h] = mudsc__match_mean(sum, Cg);
		}
	if (st == MUDSC_OK)
		st = mudsc__lap_core(bperm, scores, (size_t)G, G);
	if (st == MUDSC_OK && inner)
		for (int64_t g = 0; g < G; g++)
			memcpy(inner + g * Cg, all + (size_t)(g * G + bperm[g]) * (size_t)Cg,
			       (size_t)Cg * sizeof *inner);
	mudsc_free(scores);
	mudsc_free(all);
	return st;
}

/* perm_i of model i >= 1 into p (C entries). */
static mudsc_status align_model(int64_t *p, const double *S, size_t ld, int64_t i, int64_t C,
                                int64_t G)
{
	if (G == 1)
		return mudsc__lap_core(p, S + (size_t)(i * C), ld, C);
	int64_t Cg = C / G;
	int64_t *bperm = mudsc__alloc((size_t)G * sizeof *bperm, "block assignment");
	int64_t *inner = mudsc__alloc((size_t)C * sizeof *inner, "inner assignment");
	mudsc_status st = bperm && inner ? MUDSC_OK : MUDSC_E_NOMEM;
	if (st == MUDSC_OK)
		st = mudsc__block_assign(bperm, inner, S, ld, i, C, G);
	if (st == MUDSC_OK)
		for (int64_t g = 0; g < G; g++)
			for (int64_t k = 0; k < Cg; k++)
				p[g * Cg + k] = bperm[g] * Cg + inner[g * Cg + k];
	mudsc_free(bperm);
	mudsc_free(inner);
	return st;
}

/* Task k: the permutation of model k + 1 (each writes only its own C entries). */
struct align_job {
	int64_t *p;
	const double *S;
	size_t ld;
	int64_t C, G;
	bool blocks; /* S is (N-1) x C x C: model i's block at (i-1) C^2, ld C */
};

/* Entry (j, k) of the anchor-vs-model-i block: S[j*ld + k] from the
 * returned pointer. */
static const double *model_block(const struct align_job *j, int64_t i, int64_t *col)
{
	*col = j->blocks ? 0 : i;
	return j->blocks ? j->S + (size_t)(i - 1) * (size_t)j->C * (size_t)j->C : j->S;
}

static mudsc_status align_task(void *arg, size_t k)
{
	const struct align_job *j = arg;
	int64_t i = (int64_t)k + 1, col;
	const double *S = model_block(j, i, &col);
	return align_model(j->p + i * j->C, S, j->ld, col, j->C, j->G);
}

static mudsc_status align_run(int64_t *perm, double *score, const double *S, int64_t N,
                              int64_t C, int64_t G, bool blocks, const struct mudsc__exec *ex)
{
	static const char fn[] = "mudsc_align_solve";
	if (perm == NULL)
		return mudsc__err(MUDSC_E_INVALID, "%s: argument 'perm' is NULL", fn);
	mudsc_status st = blocks ? check_shape(fn, S, N, C, G) : mudsc__match_check_args(fn, S, N, C, G);
	if (st == MUDSC_OK && blocks)
		st = mudsc__match_check_entries(fn, S, (N - 1) * C, C);
	if (st != MUDSC_OK)
		return st;
	size_t NC = (size_t)N * (size_t)C;
	int64_t *p = mudsc__alloc(NC * sizeof *p, "align permutations");
	if (!p)
		return MUDSC_E_NOMEM;
	for (int64_t j = 0; j < C; j++)
		p[j] = j;
	struct align_job job = {.p = p, .S = S, .ld = blocks ? (size_t)C : NC, .C = C, .G = G,
	                        .blocks = blocks};
	/* an assignment of C units takes up to ~C^3/G steps */
	double work = (double)(N - 1) * (double)C * (double)C * (double)C / (double)G;
	st = mudsc__parallel_for(ex, (size_t)(N - 1), work, align_task, &job);
	if (st == MUDSC_OK) {
		/* summed in model order after the solves: the same value for any thread count */
		double sum = 0;
		for (int64_t i = 1; i < N; i++) {
			int64_t col;
			const double *X = model_block(&job, i, &col);
			for (int64_t j = 0; j < C; j++)
				sum += X[(size_t)j * job.ld + (size_t)(col * C + p[i * C + j])];
		}
		memcpy(perm, p, NC * sizeof *p);
		if (score)
			*score = mudsc__match_mean(sum, (N - 1) * C);
	} else {
		mudsc__err_context(st, "%s (N = %lld, C = %lld, G = %lld)", fn, (long long)N,
		                  (long long)C, (long long)G);
	}
	mudsc_free(p);
	return st;
}

mudsc_status mudsc__align_solve(int64_t *perm, double *score, const double *S, int64_t N,
                               int64_t C, int64_t G, const struct mudsc__exec *ex)
{
	return align_run(perm, score, S, N, C, G, false, ex);
}

mudsc_status mudsc__align_solve_blocks(int64_t *perm, double *score, const double *X, int64_t N,
                                      int64_t C, int64_t G, const struct mudsc__exec *ex)
{
	return align_run(perm, score, X, N, C, G, true, ex);
}

MUDSC_API mudsc_status mudsc_align_solve(int64_t *perm, double *score, const double *S, int64_t N,
                                         int64_t C, int64_t G)
{
	return mudsc__align_solve(perm, score, S, N, C, G, &MUDSC__EXEC_SERIAL);
}
