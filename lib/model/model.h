/*
 * The inside of mudsc_model, for the modules that build or read models
 * (safetensors, merging).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_MODEL_INTERNAL_H
#define MUDSC_MODEL_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>

#include "mudsc/model.h"
#include "core/core.h"

struct model_tensor {
	char *name;
	mudsc_dtype dtype;
	int32_t rank;
	int64_t shape[MUDSC_MAX_RANK];
	const void *data;
	size_t nbytes;
	void *owned; /* the model's own copy, or NULL when borrowed */
};

struct model_meta {
	char *key, *value;
};

enum model_backing { BACKING_NONE, BACKING_MMAP, BACKING_HEAP };

struct mudsc_model {
	struct model_tensor *tensors;
	size_t count, capacity;
	struct mudsc__strmap by_name;
	struct model_meta *meta;
	size_t meta_count, meta_capacity;
	struct mudsc__strmap meta_by_key; /* key -> index in meta */
	/* one block of strings a loader decoded, which metadata entries may
	 * point into (never freed one by one; released with the model) */
	char *arena;
	size_t arena_len;
	/* memory the borrowed tensors may point into, released with the model */
	enum model_backing backing;
	void *backing_addr;
	size_t backing_len;
	atomic_bool frozen; /* set once, never cleared (mudsc__model_freeze_shared) */
};

/* Hand the model a region its tensors borrow from; the model unmaps or
 * frees it when it is freed. */
void mudsc__model_adopt_backing(mudsc_model *model, enum model_backing kind, void *addr, size_t len);

/* Freeze a model a handle shares (mudsc_model_freeze() of a const model):
 * written only when not yet frozen, atomically. */
void mudsc__model_freeze_shared(const mudsc_model *model);

/* Room for n tensors in all (a loader that knows how many are coming). */
mudsc_status mudsc__model_reserve(mudsc_model *model, size_t n);

/* Give the model the block its loader decodes metadata strings into (once). */
void mudsc__model_adopt_arena(mudsc_model *model, char *arena, size_t len);

/* Room for n metadata entries in all. */
mudsc_status mudsc__model_reserve_meta(mudsc_model *model, size_t n);

/* Append the metadata entry key -> value, both in the model's arena (no
 * copy).  MUDSC_E_EXISTS (no message) when key is present, NOMEM. */
mudsc_status mudsc__model_add_meta_arena(mudsc_model *model, char *key, char *value);

/* The tensor called name, or NULL. */
/* mudsc_model_add of a tensor whose bytes (from malloc, nbytes of the
 * shape) the model takes over and frees: no copy.  On failure they stay
 * the caller's. */
mudsc_status mudsc__model_add_owned(mudsc_model *model, const char *name, mudsc_dtype dtype,
                                   int32_t rank, const int64_t *shape, void *bytes);

const struct model_tensor *mudsc__model_lookup(const mudsc_model *model, const char *name);

/*
 * Streamed safetensors output.  The source gives tensor k's bytes from
 * byte `offset` on: *data and *nbytes (at least 1, at most
 * desc[k].nbytes - offset; valid until its next call) are the next piece.
 * It is asked for k = 0, 1, ... in order, and within a tensor for offset =
 * 0 and then the end of each piece it gave, until desc[k].nbytes are
 * written (an empty tensor is asked once, at offset 0, and its piece is not
 * read), so a large tensor can be produced in blocks of rows.  It may be
 * asked again from k = 0 (the atomic writer's second try, see
 * core/atomic_file.h) and must give the same bytes.  A status other than
 * MUDSC_OK (with its message set) stops the write; a piece of a wrong
 * length is MUDSC_E_INTERNAL.
 */
typedef mudsc_status (*mudsc__tensor_source)(void *ctx, size_t k, size_t offset,
                                             const void **data, size_t *nbytes);

/*
 * Write a safetensors file of the tensors desc[0..count-1] (name, dtype,
 * rank, shape and nbytes are read; data is not), in that order and without
 * metadata, atomically (core/atomic_file.h): the header is computed from
 * the descriptors first, then each tensor is written as the source
 * produces it.  The bytes are those mudsc_model_save() writes for a model
 * of those tensors.  fn names the public function in messages.
 */
mudsc_status mudsc__safetensors_write_stream(const char *fn, const char *path,
                                            const struct model_tensor *desc, size_t count,
                                            mudsc__tensor_source source, void *ctx);

#endif /* MUDSC_MODEL_INTERNAL_H */
