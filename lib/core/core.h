/*
 * Private helpers shared by the library's modules.  Never installed.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_INTERNAL_H
#define MUDSC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mudsc/common.h"

#if defined(__GNUC__)
#define MUDSC__PRINTF(f, a) __attribute__((format(printf, f, a)))
#define MUDSC__LIKELY(x) __builtin_expect(!!(x), 1)
#define MUDSC__UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define MUDSC__PRINTF(f, a)
#define MUDSC__LIKELY(x) (x)
#define MUDSC__UNLIKELY(x) (x)
#endif

/* Record status and a formatted message as the calling thread's last error
 * and return status, so call sites read `return mudsc__err(MUDSC_E_X, ...)`. */
mudsc_status mudsc__err(mudsc_status status, const char *fmt, ...) MUDSC__PRINTF(2, 3);

/* Prefix the current thread's last message with context ("loading x: ..."),
 * keeping its status; returns that status. */
mudsc_status mudsc__err_context(mudsc_status status, const char *fmt, ...) MUDSC__PRINTF(2, 3);

/* Size of the thread-local message buffer (messages are cut to fit). */
#define MUDSC__ERRMSG_MAX 1024

/* A thread's last error, carried to another thread: worker threads save
 * theirs, the calling thread raises it again (messages are thread-local). */
struct mudsc__err_saved {
	mudsc_status status;
	char message[MUDSC__ERRMSG_MAX];
};

/* Copy the calling thread's last status and message into *out. */
void mudsc__err_save(struct mudsc__err_saved *out);

/* Make *saved the calling thread's last error; returns its status. */
mudsc_status mudsc__err_raise(const struct mudsc__err_saved *saved);

/* Send a message to the host's log callback, if one is installed for that
 * level.  Every message the library sends is listed in common.h, at
 * mudsc_log_fn; a new one goes there too. */
void mudsc__log(mudsc_log_level level, const char *fmt, ...) MUDSC__PRINTF(2, 3);

/* Nonzero when a message of that level would reach a callback: lets a
 * caller skip building an expensive message. */
int mudsc__log_enabled(mudsc_log_level level);

/* Allocation that records MUDSC_E_NOMEM with `what` in the message on failure. */
void *mudsc__alloc(size_t size, const char *what);
/* mudsc__alloc for large work buffers (free() frees them): from 4 MiB on,
 * aligned to 2 MiB and advised for transparent huge pages, so a buffer
 * touched once per call costs a fault per 2 MiB, not per 4 KiB. */
void *mudsc__alloc_big(size_t size, const char *what);
void *mudsc__calloc(size_t count, size_t size, const char *what);
void *mudsc__realloc_array(void *ptr, size_t count, size_t size, const char *what);
char *mudsc__strdup(const char *s, const char *what);

/* Make room for one more element in a growable array (*array of *capacity
 * elements of elem_size bytes, count in use), doubling from 8.  The array is
 * unchanged on failure (MUDSC_E_NOMEM). */
mudsc_status mudsc__reserve_one(void **array, size_t *capacity, size_t count, size_t elem_size,
                               const char *what);

/* Checked size arithmetic: false on overflow. */
static inline bool mudsc__mul_size(size_t a, size_t b, size_t *out)
{
	return !__builtin_mul_overflow(a, b, out);
}
static inline bool mudsc__add_size(size_t a, size_t b, size_t *out)
{
	return !__builtin_add_overflow(a, b, out);
}

/* Number of elements of a shape with overflow checks; false on overflow or
 * a negative entry. */
bool mudsc__shape_numel(int32_t rank, const int64_t *shape, size_t *out);

/* The sizing rule of every array getter (common.h): *needed (may be NULL)
 * receives count; capacity 0 asks for the size only; out NULL with
 * capacity > 0 is MUDSC_E_INVALID and capacity < count MUDSC_E_RANGE
 * (messages naming fn).  *fill is true when the caller is to write count
 * elements to out: on MUDSC_OK with capacity > 0. */
mudsc_status mudsc__array_out(bool *fill, const void *out, size_t capacity, size_t *needed,
                             size_t count, const char *fn);

/* Argument checks that name the argument in the message. */
#define MUDSC__CHECK_ARG(cond, name)                                                            \
	do {                                                                                       \
		if (MUDSC__UNLIKELY(!(cond)))                                                           \
			return mudsc__err(MUDSC_E_INVALID, "%s: invalid argument '%s' (%s)", __func__,     \
			                 name, #cond);                                                     \
	} while (0)
/* MUDSC__CHECK_NULL names the argument as the definition spells it; where
 * that differs from the public header's name, MUDSC__CHECK_NULL_AS gives
 * the header's (messages name arguments as the host reads them). */
#define MUDSC__CHECK_NULL_AS(ptr, name)                                                         \
	do {                                                                                       \
		if (MUDSC__UNLIKELY((ptr) == NULL))                                                     \
			return mudsc__err(MUDSC_E_INVALID, "%s: argument '%s' is NULL", __func__, name);   \
	} while (0)
#define MUDSC__CHECK_NULL(ptr) MUDSC__CHECK_NULL_AS(ptr, #ptr)

/* The rest of the room: dtype converters, run-time CPU features, atomic
 * files, string maps, the seeded generator, execution contexts with the
 * parallel-for, the BLAS and LAPACK shims, the rule of options that grow,
 * the JSON reader and the hash. */
#include "core/atomic_file.h"
#include "core/blas.h"
#include "core/convert.h"
#include "core/cpu.h"
#include "core/exec.h"
#include "core/file.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/lapack.h"
#include "core/options.h"
#include "core/rng.h"
#include "core/strmap.h"

#endif /* MUDSC_INTERNAL_H */
