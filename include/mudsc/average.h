/*
 * Weighted averaging of N models of one architecture, in place into a
 * destination model: the average step of Lookaround (docs/algorithm.md
 * section 16), model soups, and the aligned average of copies that have
 * drifted apart (the matcher's merge written into the destination).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_AVERAGE_H
#define MUDSC_AVERAGE_H

#include "common.h"
#include "matcher.h"
#include "model.h"

MUDSC_BEGIN_DECLS

/**
 * Averaging options.  Initialise with MUDSC_AVERAGE_OPTIONS_INIT or
 * mudsc_average_options_init(), then set fields; the struct grows as
 * described in common.h ("Options structs that grow").
 */
typedef struct mudsc_average_options {
	size_t size;     /**< sizeof(mudsc_average_options) as compiled by the caller */
	int32_t threads; /**< threads of the element loop, >= 0; 0 (default) =
	                      mudsc_blas_get_threads() at each call; a model too small
	                      to gain from threads runs on the calling thread.  The
	                      result is bit-identical for every count. */
} mudsc_average_options;

/** The defaults, for static initialisation. */
#define MUDSC_AVERAGE_OPTIONS_INIT {sizeof(mudsc_average_options), 0}

/** Fill *opts with the defaults (opts->size included).  NULL: MUDSC_E_INVALID. */
MUDSC_API mudsc_status mudsc_average_options_init(mudsc_average_options *opts);

/**
 * dst = sum_i weights[i] * models[i], tensor by tensor, in place.
 *
 * models: n_models >= 1 models with the same tensor names (any order), and
 * each name the same dtype and shape in every model.  dst must have the
 * same tensors as well; the library writes into dst's tensor memory and
 * allocates nothing (bar one array of N doubles for NULL weights with more
 * than 32 models; with opts->threads > 1 and a large model the library's
 * parallel-for starts threads), so a training loop can average every few steps into
 * buffers it owns: build dst once from host buffers with MUDSC_BORROW (the
 * library then writes into those buffers: the host keeps them writable).
 * dst may be one of models[] (or have its tensors borrow the same memory
 * as one input's); other overlap between dst and an input is not allowed.
 * dst must not be frozen (MUDSC_E_STATE: a frozen model may be read by
 * other threads) and no dst tensor may live in a file mapping
 * (MUDSC_E_STATE: mudsc_model_load()'s mappings are read-only; load with
 * MUDSC_LOAD_READ to average into a loaded model).  Inputs are only read;
 * they may be frozen or mapped.
 *
 * weights: n_models finite numbers whose sum is within 1e-6 of 1
 * (an affine combination: negative weights, i.e. extrapolation, are
 * allowed; weights are used as given, not renormalised); NULL = 1/N each.
 *
 * Float tensors (F16, BF16, F32, F64): each element is the weighted sum
 * computed in double, in model order, rounded once to the tensor's dtype
 * (round to nearest even).  Accuracy: the double sum carries at most
 * about N * 2^-53 relative error of sum |w_i x_i|, far below the one
 * rounding to F32 (2^-24), F16 (2^-11) or BF16 (2^-8), so the result is
 * the correctly rounded weighted sum except in near-ties (and within
 * N ulps of double for F64).  A non-finite input element gives the IEEE
 * result (inf or NaN) in that element only.  Non-float tensors (integers,
 * bool, F8) are copied from models[0].
 *
 * Errors (dst untouched on every error): MUDSC_E_INVALID (NULL dst or
 * models or a NULL entry, n_models < 1, a weight not finite or weights not
 * summing to 1, bad opts); MUDSC_E_MISMATCH (a model or dst with another
 * number of tensors, or a tensor of another dtype); MUDSC_E_NOT_FOUND (a
 * name of models[0] missing in another model or in dst); MUDSC_E_SHAPE (a
 * tensor of another shape); MUDSC_E_STATE (dst frozen or mapped, as above).
 */
MUDSC_API mudsc_status mudsc_average(mudsc_model *dst, int32_t n_models,
                                     const mudsc_model *const *models, const double *weights,
                                     const mudsc_average_options *opts);

/**
 * The aligned average: dst = the matcher's merged model
 * (mudsc_matcher_merge() with these weights: every model permuted into
 * model 0's units by the matcher's correspondences, then averaged in
 * double and rounded once), written into dst in place as by
 * mudsc_average().  The matcher must have run with MUDSC_METHOD_ALIGN
 * (weight matching, or with statistics); a zip merge has other shapes than
 * dst and gives MUDSC_E_SHAPE.  weights as for mudsc_average() (NULL =
 * 1/N).  dst may be one of the matcher's models only if that model is not
 * frozen; the matcher freezes the models it holds, so in practice dst is
 * another model with the same tensors.  Unlike mudsc_average() this
 * allocates the merged model for the duration of the call (one copy of
 * the model, plus the matcher's merge scratch); opts->threads is unused
 * (the merge runs with the matcher's own thread count).  Errors: those of
 * mudsc_matcher_merge() (MUDSC_E_STATE before a successful run) and of
 * mudsc_average().
 */
MUDSC_API mudsc_status mudsc_average_aligned(mudsc_model *dst, const mudsc_matcher *matcher,
                                             const double *weights,
                                             const mudsc_average_options *opts);

MUDSC_END_DECLS

#endif /* MUDSC_AVERAGE_H */
