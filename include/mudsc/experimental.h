/*
 * libmudsc experimental API: what may still change from one release to the
 * next.  mudsc.h does not include this header; a program that includes it
 * opts in.
 *
 * The rule (zstd's ZSTD_STATIC_LINKING_ONLY fence, in a separate version
 * node): every symbol declared here is exported in the version-script node
 * MUDSC_EXPERIMENTAL_<release> (today MUDSC_EXPERIMENTAL_0.2.0), which is
 * renamed by every release.  A program linked against experimental
 * symbols therefore fails to start with another release instead of running
 * with a changed contract: rebuild it against that release's headers.  A
 * declaration leaves this header for a stable one (and its symbol the
 * experimental node for a stable MUDSC_x.y node) once it has shipped
 * unchanged in a release.
 *
 * Experimental today:
 *   - the matching kernels the MuDSC loop uses (LAP, align, zip and their
 *     group forms, mudsc_match_options), exported so that hosts with their
 *     own similarity matrices can call them directly;
 *   - accumulator tuning: mudsc_accum_set_block_rows().
 *
 * Matching kernels: from a similarity matrix S to a correspondence
 * (docs/algorithm.md sections 7, 8 and 9).  Every buffer is
 * caller-provided; nothing is returned that the caller must free.  All
 * kernels are reentrant and thread-safe (they only read S and write their
 * outputs).  Layout: S is row-major double.  For N models of width C the
 * stacked index of unit c of model i is u = i*C + c and S is NC x NC
 * (NC = N*C).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_EXPERIMENTAL_H
#define MUDSC_EXPERIMENTAL_H

#include "accum.h"
#include "common.h"

MUDSC_BEGIN_DECLS

/**
 * Parameters of zip (docs/algorithm.md section 9.1).  Always initialise
 * with MUDSC_MATCH_OPTIONS_INIT or mudsc_match_options_init() and then set
 * fields; the size rule of common.h ("Options structs that grow") applies.
 */
typedef struct mudsc_match_options {
	size_t size; /**< sizeof(mudsc_match_options) as the caller compiled it */
	double r;    /**< reduce ratio in (0, 1): output width C' = floor(N*C*(1-r)); default 0.5 */
	double a;    /**< merged-row factor; a <= 0 forbids a merged cluster from matching its
	                  source models again; default 0.5 */
	double b;    /**< within-model merge budget factor (finite); default 1 */
} mudsc_match_options;

/** Static initialiser with the defaults. */
#define MUDSC_MATCH_OPTIONS_INIT {sizeof(mudsc_match_options), 0.5, 0.5, 1.0}

/** Fill *opts with the defaults.  NULL: MUDSC_E_INVALID. */
MUDSC_API mudsc_status mudsc_match_options_init(mudsc_match_options *opts);

/**
 * Dense square linear assignment, maximising: col_of_row[i] = column given to
 * row i, a permutation of 0..n-1 maximising sum_i S[i*n + col_of_row[i]].
 * Exact (shortest augmenting paths with Jonker-Volgenant initialisation).
 *
 * S (n x n row-major) may hold -inf: forbidden pairs.  objective (may be
 * NULL) receives the left-to-right sum of S over the assignment.  n = 0 is
 * valid (objective 0, S may then be NULL).  With several optimal
 * assignments the one returned is deterministic but unspecified.
 *
 * Errors: MUDSC_E_INVALID (col_of_row or S NULL, n < 0); MUDSC_E_NUMERIC
 * (an entry is NaN or +inf, or no assignment avoids every -inf entry);
 * MUDSC_E_NOMEM.  Outputs are untouched on error.
 */
MUDSC_API mudsc_status mudsc_lap_solve(int64_t *col_of_row, double *objective, const double *S,
                                       int64_t n);

/**
 * Align (G = 1) or group align (G > 1) of N models of width C
 * (docs/algorithm.md section 8): model 0 is the anchor; for i >= 1,
 * perm[i*C + j] = unit of model i matched to anchor unit j; perm[0..C) is
 * the identity.  perm must hold N*C entries.  score (may be NULL) = mean of
 * S[j, i*C + perm[i*C + j]] over i >= 1 and j (NaN when N = 1).
 *
 * Group align: for every model i >= 1 and block pair (g, h) of Cg = C/G
 * units an inner Cg x Cg assignment, scored by its mean matched similarity;
 * a G x G assignment on those scores picks the block pairs.
 *
 * Errors: MUDSC_E_INVALID (NULL S or perm, N, C or G <= 0, NC x NC too
 * large); MUDSC_E_SHAPE (C not a multiple of G); MUDSC_E_NUMERIC (NaN or
 * +inf in S, or an assignment with no finite solution); MUDSC_E_NOMEM.
 * Outputs are untouched on error.
 */
MUDSC_API mudsc_status mudsc_align_solve(int64_t *perm, double *score, const double *S, int64_t N,
                                         int64_t C, int64_t G);

/**
 * Zip (G = 1) or group zip (G > 1) of N models of width C
 * (docs/algorithm.md section 9).  S must be exactly symmetric.
 *
 * unit_of[u] (NC entries) = merged unit of stacked unit u, in [0, C');
 * *width = C' = floor(NC*(1-r)) for zip, G*floor(N*Cg*(1-r)) for group zip.
 * pairs (may be NULL; else room for 2*N*C entries) receives the NC - C'
 * merge pairs (x, y) of stacked indices, x < y, in merge order (bundle by
 * bundle for group zip).  score (may be NULL) = mean of S over those pairs.
 * opts may be NULL for the defaults.
 *
 * Errors: MUDSC_E_INVALID (NULL S, unit_of or width, N, C or G <= 0, r not in
 * (0, 1) or giving C' outside [1, NC-1] (per bundle for group zip), a or b not
 * finite, opts->size not a size of mudsc_match_options, S not symmetric);
 * MUDSC_E_SHAPE (C not a multiple of G); MUDSC_E_NUMERIC (NaN or +inf in S; no
 * admissible merge left before C' clusters remain; group zip: a block
 * assignment without a finite solution); MUDSC_E_NOMEM.  Outputs are untouched
 * on error.
 */
MUDSC_API mudsc_status mudsc_zip_solve(int64_t *unit_of, int64_t *width, int64_t *pairs,
                                       double *score, const double *S, int64_t N, int64_t C,
                                       int64_t G, const mudsc_match_options *opts);

/* ---- accumulator tuning ---------------------------------------------- */

/**
 * Observations per BLAS block of the accumulator (rows >= 1, default 4096):
 * each block of buffered rows is one syrk.  Larger blocks amortise the
 * syrk's fixed cost; the row buffer holds rows + max_lead observations.
 * Allowed until the first update that delivers observations (it sizes the
 * buffer that update allocates): MUDSC_E_STATE afterwards.
 * Errors: MUDSC_E_INVALID (NULL accum, rows outside 1..INT_MAX, or a row
 * buffer too large to address), MUDSC_E_STATE.
 */
MUDSC_API mudsc_status mudsc_accum_set_block_rows(mudsc_accum *accum, int64_t rows);

MUDSC_END_DECLS

#endif /* MUDSC_EXPERIMENTAL_H */
