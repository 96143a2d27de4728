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
 * are only appended.  mudsc_last_error() holds the matching message.
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
MUDSC_API const char *mudsc_last_error(void);

/** The status of the last error raised on the calling thread (MUDSC_OK if none). */
MUDSC_API mudsc_status mudsc_last_status(void);

/** Forget the calling thread's last error. */
MUDSC_API void mudsc_clear_error(void);

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
 * mudsc_set_log_callback().
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
 * Errors are never logged: they are returned (mudsc_last_error()).
 */
typedef void (*mudsc_log_fn)(mudsc_log_level level, const char *message, void *user);

/**
 * Install the process-wide log callback (NULL removes it) and the most
 * verbose level it receives (default: none installed).  Thread-safe: it may
 * be called while other threads use the library, and once it returns the
 * previous callback is never called again, so its `user` data may be freed.
 */
MUDSC_API void mudsc_set_log_callback(mudsc_log_fn fn, mudsc_log_level max_level, void *user);

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

/** Look up a dtype by its safetensors name (case-sensitive).  MUDSC_E_NOT_FOUND if unknown. */
MUDSC_API mudsc_status mudsc_dtype_from_name(mudsc_dtype *out, const char *name);

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

/** Number of threads the linked BLAS currently uses. */
MUDSC_API int mudsc_blas_threads(void);

/**
 * Set the number of threads the linked BLAS uses process-wide (n >= 1).
 * Matchers may set it per run; see their thread option.
 */
MUDSC_API mudsc_status mudsc_set_blas_threads(int n);

/** Run-time version number of the linked library (MUDSC_VERSION_NUMBER of its build). */
MUDSC_API unsigned mudsc_version(void);

/** Run-time version string of the linked library ("0.1.0"). Static, never NULL. */
MUDSC_API const char *mudsc_version_string(void);

/**
 * Check that the linked library can serve a program compiled against the
 * headers of version header_number: same major version and a library at
 * least as new.  MUDSC_E_MISMATCH (with a message) otherwise.
 */
MUDSC_API mudsc_status mudsc_version_check(unsigned header_number);

/** Call at start-up: detects a header/library mismatch. */
#define MUDSC_CHECK_VERSION() mudsc_version_check(MUDSC_VERSION_NUMBER)

MUDSC_END_DECLS

#endif /* MUDSC_COMMON_H */
