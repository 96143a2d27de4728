/*
 * libmudsc: status codes, error messages, element types, memory and run-time
 * information shared by every handle.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_COMMON_H
#define MUDSC_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "version.h"

#ifdef __cplusplus
#define MUDSC_BEGIN_DECLS extern "C" {
#define MUDSC_END_DECLS }
#else
#define MUDSC_BEGIN_DECLS
#define MUDSC_END_DECLS
#endif

/* Marks a declaration as part of the public ABI.  Everything else in the
 * shared library has hidden visibility; lib/mudsc.map is the export list. */
#if defined(MUDSC_STATIC)
#define MUDSC_API
#elif defined(_WIN32)
#ifdef MUDSC_BUILDING
#define MUDSC_API __declspec(dllexport)
#else
#define MUDSC_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#define MUDSC_API __attribute__((visibility("default")))
#else
#define MUDSC_API
#endif

MUDSC_BEGIN_DECLS

/**
 * Status of every fallible call.  0 is success; errors are negative and
 * their values are part of the ABI: they are never renumbered and new codes
 * are only appended.  mudsc_error_message() holds the matching message.
 *
 * Conventions of every call: out-parameters come first, then the object,
 * then the other arguments.  Globals are named object_verb
 * (mudsc_error_message, mudsc_blas_set_threads, mudsc_log_set_callback).
 * Model counts are int32_t.  Models a call only reads are passed as
 * `const mudsc_model *const *`.
 *
 * Array getters follow one sizing rule:
 *     mudsc_status f(T *out, size_t capacity, size_t *needed, const obj *o, ...)
 * *needed (may be NULL) receives the number of elements whenever it is
 * known (also with MUDSC_E_RANGE; an error that comes before it, such as a
 * NULL object, a bad index or MUDSC_E_STATE, leaves it untouched).
 * capacity 0 asks for the size only: out may be NULL, nothing is written,
 * MUDSC_OK.  0 < capacity < *needed is MUDSC_E_RANGE and nothing is
 * written; out NULL with capacity > 0 is MUDSC_E_INVALID.  Otherwise the
 * first *needed elements of out are written.
 */
typedef enum mudsc_status {
	MUDSC_OK = 0,
	MUDSC_E_INVALID = -1,     /**< an argument is invalid (NULL, out of its domain) */
	MUDSC_E_SHAPE = -2,       /**< a shape, rank, width or axis does not fit */
	MUDSC_E_NOMEM = -3,       /**< an allocation failed */
	MUDSC_E_PARSE = -4,       /**< malformed input bytes (safetensors, JSON, serialized state) */
	MUDSC_E_IO = -5,          /**< the operating system refused a file operation */
	MUDSC_E_STATE = -6,       /**< the call is not allowed in the handle's current state */
	MUDSC_E_NUMERIC = -7,     /**< non-finite input or a numerical failure */
	MUDSC_E_UNSUPPORTED = -8, /**< valid request this build or dtype does not support */
	MUDSC_E_CANCELLED = -9,   /**< a progress callback asked to stop */
	MUDSC_E_NOT_FOUND = -10,  /**< a named item does not exist */
	MUDSC_E_EXISTS = -11,     /**< a named item already exists */
	MUDSC_E_RANGE = -12,      /**< an index or count is out of range */
	MUDSC_E_MISMATCH = -13,   /**< inputs that must agree with each other do not */
	MUDSC_E_INTERNAL = -14    /**< a bug in libmudsc: please report it */
} mudsc_status;

/** Static English text for a status code ("unknown status" for others). Never NULL. */
MUDSC_API const char *mudsc_status_str(mudsc_status status);

/** Symbolic name of a status code, e.g. "MUDSC_E_PARSE". Never NULL. */
MUDSC_API const char *mudsc_status_name(mudsc_status status);

/**
 * The message of the last error raised on the calling thread: what was
 * wrong, naming the argument.  Never NULL ("no error" when none).  The
 * pointer is valid until the next libmudsc call on the same thread.
 */
MUDSC_API const char *mudsc_error_message(void);

/** The status of the last error raised on the calling thread (MUDSC_OK if none). */
MUDSC_API mudsc_status mudsc_error_status(void);

/** Forget the calling thread's last error. */
MUDSC_API void mudsc_error_clear(void);

/**
 * Raise an error on the calling thread: mudsc_error_status() then returns
 * status and mudsc_error_message() the message (copied; truncated at the
 * message buffer's size; NULL is "(no message)").  Returns status.  For
 * companion libraries (libmudsc-mpi, mudsc_mpi.h) and bindings that
 * report their own failures the way libmudsc does.
 */
MUDSC_API mudsc_status mudsc_error_set(mudsc_status status, const char *message);

/** Severity of a log message. */
typedef enum mudsc_log_level {
	MUDSC_LOG_ERROR = 0,
	MUDSC_LOG_WARNING = 1,
	MUDSC_LOG_INFO = 2,
	MUDSC_LOG_DEBUG = 3
} mudsc_log_level;

/**
 * Receives the library's log messages; the library itself never prints.
 * `message` is NUL-terminated English text of at most 1023 bytes, valid
 * during the call only.  The callback may run on any thread that calls the
 * library (and on its worker threads); it must not call
 * mudsc_log_set_callback().
 *
 * The messages, each beginning with the name of the call that sends it:
 * - WARNING "mudsc_matcher_run: no activations were given: alpha = A is
 *   taken as 1 (weight matching)": an option the library replaced (alpha < 1
 *   needs activation statistics).
 * - INFO "mudsc_matcher_run: sweep S: objective X" (", the best so far" when
 *   it improved): once per coordinate-descent sweep; X is the value
 *   mudsc_matcher_objectives() returns for sweep S.
 * - INFO "mudsc_matcher_new: float tensor 'NAME' is bound to no point: it is
 *   averaged as it is, without alignment": one per float tensor of model 0
 *   that the graph leaves unbound (mudsc_graph_unbound()).
 * - INFO "mudsc_matcher_merge: K bound axes carry statistics excluded from
 *   the weight similarity (MUDSC_BIND_IGNORE, e.g. BatchNorm running mean
 *   and variance); they are merged as averages: re-estimate them ...": after
 *   a merge whose graph has such bindings.
 * - INFO "mudsc_repair: point 'NAME' has no single producer (a norm's
 *   weight and bias, or one layer's weight and bias): left as merged": a
 *   point given statistics whose OUT tensors REPAIR cannot correct.
 * Errors are never logged: they are returned (mudsc_error_message()).
 */
typedef void (*mudsc_log_fn)(mudsc_log_level level, const char *message, void *user);

/**
 * Install the process-wide log callback (NULL removes it) and the most
 * verbose level it receives (default: none installed).  Thread-safe: it may
 * be called while other threads use the library, and once it returns the
 * previous callback is never called again, so its `user` data may be freed.
 */
MUDSC_API void mudsc_log_set_callback(mudsc_log_fn fn, mudsc_log_level max_level, void *user);

/** Element types: every dtype of the safetensors format. */
typedef enum mudsc_dtype {
	MUDSC_DTYPE_BOOL = 0,
	MUDSC_DTYPE_U8 = 1,
	MUDSC_DTYPE_I8 = 2,
	MUDSC_DTYPE_U16 = 3,
	MUDSC_DTYPE_I16 = 4,
	MUDSC_DTYPE_U32 = 5,
	MUDSC_DTYPE_I32 = 6,
	MUDSC_DTYPE_U64 = 7,
	MUDSC_DTYPE_I64 = 8,
	MUDSC_DTYPE_F16 = 9,
	MUDSC_DTYPE_BF16 = 10,
	MUDSC_DTYPE_F32 = 11,
	MUDSC_DTYPE_F64 = 12,
	MUDSC_DTYPE_F8_E4M3 = 13,
	MUDSC_DTYPE_F8_E5M2 = 14,
	MUDSC_DTYPE_F8_E8M0 = 15,
	MUDSC_DTYPE_COUNT_ = 16 /**< number of dtypes; not a dtype */
} mudsc_dtype;

/** Bytes per element of dtype, 0 for an unknown value. */
MUDSC_API size_t mudsc_dtype_size(mudsc_dtype dtype);

/** The safetensors name of dtype ("F32", "BF16", ...), NULL for an unknown value. */
MUDSC_API const char *mudsc_dtype_name(mudsc_dtype dtype);

/**
 * Look up a dtype by its safetensors name (case-sensitive): *out receives
 * its mudsc_dtype value.  MUDSC_E_NOT_FOUND if unknown.
 */
MUDSC_API mudsc_status mudsc_dtype_from_name(int32_t *out, const char *name);

/** 1 if numeric routines accept dtype (F16, BF16, F32, F64), else 0. */
MUDSC_API int mudsc_dtype_is_float(mudsc_dtype dtype);

/** Largest tensor rank the library handles. */
#define MUDSC_MAX_RANK 8

/** Frees memory the library documented as owned by the caller.  NULL is a no-op. */
MUDSC_API void mudsc_free(void *ptr);

/**
 * Name of the BLAS library linked at build time ("OpenBLAS 0.3.21 ..." or
 * "BLIS 0.9.0"), static text, never NULL.
 */
MUDSC_API const char *mudsc_blas_info(void);

/**
 * Number of threads the linked BLAS currently uses process-wide; also the
 * thread count of handles whose `threads` option is 0.
 */
MUDSC_API int mudsc_blas_get_threads(void);

/**
 * Set the number of threads the linked BLAS uses process-wide (n >= 1).
 * The library itself never calls it: with OpenBLAS this count is the only
 * one and belongs to the host; with BLIS a handle whose `threads` option is
 * > 0 passes its own count to each of its BLAS calls instead.  Not
 * thread-safe against BLAS calls running on other threads: set it before
 * starting them.
 */
MUDSC_API mudsc_status mudsc_blas_set_threads(int n);

/**
 * Options structs that grow.  Every options struct of the API
 * (mudsc_matcher_options, mudsc_accum_options, mudsc_mlp_options,
 * mudsc_resnet_options, mudsc_vit_options, mudsc_llama_options,
 * mudsc_gpt2_options and the experimental
 * mudsc_match_options) starts with `size_t size`, set by its _INIT macro
 * and its _init() function to sizeof the struct as the caller compiles it.
 * A later release only appends fields.  A program built against an older
 * release passes its smaller size: the library reads only those bytes and
 * gives the newer fields their defaults.  A size smaller than the struct's
 * first release or larger than the library knows is MUDSC_E_INVALID, with
 * a message naming the struct and the sizes accepted.  NULL options mean
 * the defaults.  Every mudsc_*_options_init(opts) fills *opts with the
 * defaults and returns MUDSC_OK, or MUDSC_E_INVALID for NULL.
 *
 * Enum-valued fields of the API's structs are int32_t, so their width
 * never depends on the compiler.
 */

/** The stable options structs, for mudsc_options_size(). */
typedef enum mudsc_options_kind {
	MUDSC_OPTIONS_MATCHER = 0, /**< mudsc_matcher_options (matcher.h) */
	MUDSC_OPTIONS_ACCUM = 1,   /**< mudsc_accum_options (accum.h) */
	MUDSC_OPTIONS_MLP = 2,     /**< mudsc_mlp_options (graph.h) */
	MUDSC_OPTIONS_RESNET = 3,  /**< mudsc_resnet_options (graph.h) */
	MUDSC_OPTIONS_VIT = 4,     /**< mudsc_vit_options (graph.h) */
	MUDSC_OPTIONS_LLAMA = 5,   /**< mudsc_llama_options (graph.h) */
	MUDSC_OPTIONS_GPT2 = 6,    /**< mudsc_gpt2_options (graph.h) */
	MUDSC_OPTIONS_FIELD = 7,   /**< mudsc_field_options (field.h) */
	MUDSC_OPTIONS_LSQ = 9      /**< mudsc_lsq_options (correct.h) */
} mudsc_options_kind;

/**
 * sizeof the options struct `kind` (a mudsc_options_kind) as this library
 * knows it: the bytes its mudsc_*_options_init() writes.  0 for an unknown
 * kind.  For bindings that may run with a newer library than the one they
 * were written for: they initialise a buffer of at least this size, copy
 * the fields they know into their own struct and pass it with their own
 * (smaller) size, which the library accepts as an older caller's.
 */
MUDSC_API size_t mudsc_options_size(int32_t kind);

/** Run-time version number of the linked library (MUDSC_VERSION_NUMBER of its build). */
MUDSC_API unsigned mudsc_version(void);

/** Run-time version string of the linked library ("0.2.0"). Static, never NULL. */
MUDSC_API const char *mudsc_version_string(void);

/**
 * Check that the linked library can serve a program compiled against the
 * headers of version header_number: the same major version, for major 0
 * the same minor version too (before 1.0 a minor release may change the
 * ABI), and a library at least as new.  MUDSC_E_MISMATCH (with a message)
 * otherwise.
 */
MUDSC_API mudsc_status mudsc_version_check(unsigned header_number);

/** Call at start-up: detects a header/library mismatch. */
#define MUDSC_CHECK_VERSION() mudsc_version_check(MUDSC_VERSION_NUMBER)

MUDSC_END_DECLS

#endif /* MUDSC_COMMON_H */
