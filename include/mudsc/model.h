/*
 * mudsc_model: a set of named tensors (dtype, rank, shape, C-order data)
 * with string metadata, loaded from and saved to safetensors files.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_MODEL_H
#define MUDSC_MODEL_H

#include "common.h"

MUDSC_BEGIN_DECLS

/**
 * Opaque set of named tensors in insertion order, with metadata.
 *
 * Thread safety: a model is mutable while one thread builds it.  Once
 * frozen (mudsc_model_freeze(), done by every handle that keeps a model)
 * it is immutable and may be read from any number of threads.
 */
typedef struct mudsc_model mudsc_model;

/** A read-only view of one tensor.  Everything in it is borrowed from the model. */
typedef struct mudsc_tensor {
	const char *name;              /**< NUL-terminated; lives as long as the tensor */
	int32_t dtype;                 /**< element type, a mudsc_dtype */
	int32_t rank;                  /**< 0 .. MUDSC_MAX_RANK */
	int64_t shape[MUDSC_MAX_RANK]; /**< first `rank` entries are used, others 0 */
	const void *data;              /**< C-order elements; may be unaligned (mmap) */
	size_t nbytes;                 /**< product(shape) * mudsc_dtype_size(dtype) */
} mudsc_tensor;

/** How mudsc_model_add() takes the tensor's data. */
typedef enum mudsc_add_mode {
	MUDSC_COPY = 0,  /**< the model keeps its own copy */
	MUDSC_BORROW = 1 /**< the model keeps the pointer; the host keeps the memory alive
	                      and unchanged for as long as the model (or any handle that
	                      holds it) lives */
} mudsc_add_mode;

/** Create an empty model.  Free it with mudsc_model_free(). */
MUDSC_API mudsc_status mudsc_model_new(mudsc_model **out);

/** Free a model and every copy it owns.  NULL is a no-op. */
MUDSC_API void mudsc_model_free(mudsc_model *model);

/**
 * Add a tensor.  name must be non-empty, NUL-terminated and unique
 * (MUDSC_E_EXISTS otherwise); rank 0..MUDSC_MAX_RANK; every shape entry
 * >= 0; data may be NULL only when the tensor has no elements.  nbytes is
 * computed from dtype and shape with overflow checks.
 */
MUDSC_API mudsc_status mudsc_model_add(mudsc_model *model, const char *name, mudsc_dtype dtype,
                                       int32_t rank, const int64_t *shape, const void *data,
                                       mudsc_add_mode mode);

/** Remove the tensor called name (MUDSC_E_NOT_FOUND if absent).  Insertion order of the rest is kept. */
MUDSC_API mudsc_status mudsc_model_remove(mudsc_model *model, const char *name);

/** Number of tensors. */
MUDSC_API size_t mudsc_model_count(const mudsc_model *model);

/** The index-th tensor in insertion order (MUDSC_E_RANGE past the end).  *out is borrowed. */
MUDSC_API mudsc_status mudsc_model_at(mudsc_tensor *out, const mudsc_model *model, size_t index);

/**
 * The tensor called name (MUDSC_E_NOT_FOUND if absent).  *out is borrowed;
 * out may be NULL to test presence.
 */
MUDSC_API mudsc_status mudsc_model_find(mudsc_tensor *out, const mudsc_model *model,
                                        const char *name);

/** Set (or replace) a metadata entry.  Both strings are copied. */
MUDSC_API mudsc_status mudsc_model_set_meta(mudsc_model *model, const char *key, const char *value);

/** The value of a metadata entry, or NULL if absent.  Borrowed. */
MUDSC_API const char *mudsc_model_get_meta(const mudsc_model *model, const char *key);

/** Number of metadata entries. */
MUDSC_API size_t mudsc_model_meta_count(const mudsc_model *model);

/** The index-th metadata entry in insertion order; *key and *value are borrowed. */
MUDSC_API mudsc_status mudsc_model_meta_at(const char **key, const char **value,
                                           const mudsc_model *model, size_t index);

/** Make the model immutable: every later mutation fails with MUDSC_E_STATE.  Idempotent. */
MUDSC_API mudsc_status mudsc_model_freeze(mudsc_model *model);

/** 1 if the model is frozen, else 0. */
MUDSC_API int mudsc_model_is_frozen(const mudsc_model *model);

/** Largest safetensors header libmudsc accepts, in bytes (100,000,000). */
MUDSC_API size_t mudsc_safetensors_max_header(void);

/**
 * Load a safetensors file.  The file is memory-mapped and the tensors borrow
 * from the mapping (zero copy); the mapping lives as long as the model.
 * Every rule of the format is checked (see docs/safetensors.md): a
 * malformed file gives MUDSC_E_PARSE and a message saying which rule
 * failed, an unreadable one MUDSC_E_IO.  Same as mudsc_model_load_mode()
 * with MUDSC_LOAD_MAP: read what it says about files that change.
 */
MUDSC_API mudsc_status mudsc_model_load(mudsc_model **out, const char *path);

/** How mudsc_model_load_mode() brings a file's bytes into memory. */
typedef enum mudsc_load_mode {
	/**
	 * Memory-map the file (MAP_PRIVATE, read-only); tensors borrow from the
	 * mapping, zero copy, and pages are read on first use.  The file must
	 * not change in place while the model (or any handle holding it) lives:
	 *  - truncating it (or a disk error) makes a later read of a tensor in
	 *    the cut part raise SIGBUS, which kills the process unless the host
	 *    handles that signal;
	 *  - rewriting its bytes in place (an editor's "save" that writes over
	 *    the file, `cp` onto it, another program's pwrite) silently changes
	 *    the loaded tensors: pages not yet read, or evicted, show the new
	 *    bytes, which the format checks done at load never saw.
	 * Replacing the file by rename (mudsc_model_save(), most tools' atomic
	 * saves, `mv`) or deleting it is safe: the mapping keeps the old file.
	 */
	MUDSC_LOAD_MAP = 0,
	/**
	 * Read the whole file into memory the model owns, with read(2): later
	 * changes to the file cannot reach the model, and a file that shrinks
	 * while being read is MUDSC_E_IO.  Costs the file's size in memory and
	 * the time to read all of it up front.  For files that may change.
	 */
	MUDSC_LOAD_READ = 1
} mudsc_load_mode;

/**
 * Load a safetensors file, mapped or read as mode says (MUDSC_E_INVALID
 * naming 'mode' for another value).  Same checks and errors as
 * mudsc_model_load().
 */
MUDSC_API mudsc_status mudsc_model_load_mode(mudsc_model **out, const char *path,
                                             mudsc_load_mode mode);

/**
 * Parse safetensors bytes held by the host.  With MUDSC_BORROW the tensors
 * point into buf (which must outlive the model); with MUDSC_COPY the model
 * copies what it needs.  Same checks as mudsc_model_load().
 */
MUDSC_API mudsc_status mudsc_model_load_buffer(mudsc_model **out, const void *buf, size_t len,
                                               mudsc_add_mode mode);

/**
 * Save as safetensors, atomically: nothing partial is ever visible at path.
 * The bytes go to an unnamed file in path's folder (O_TMPFILE; elsewhere a
 * hidden temporary file), which is flushed to disk and then linked or
 * renamed over path.  On any error nothing is left behind and path is
 * unchanged.  A file replaced keeps its permission bits; a new one gets
 * 0666 & ~umask.  When path is a symbolic link, the file it leads to is
 * replaced and the link stays.  docs/safetensors.md has the details (what
 * a killed save can leave on file systems without O_TMPFILE).
 */
MUDSC_API mudsc_status mudsc_model_save(const mudsc_model *model, const char *path);

/**
 * Serialize to safetensors bytes in memory.  *out_buf is owned by the
 * caller (release with mudsc_free()).
 */
MUDSC_API mudsc_status mudsc_model_save_buffer(void **out_buf, size_t *out_len,
                                               const mudsc_model *model);

MUDSC_END_DECLS

#endif /* MUDSC_MODEL_H */
