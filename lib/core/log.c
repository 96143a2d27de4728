/*
 * The host's log callback: the library never prints by itself.
 *
 * The callback, its user pointer and its level change together under a
 * read-write lock.  Messages are delivered with the read lock held, so
 * that once mudsc_log_set_callback() returns no thread calls the old
 * callback any more (a host may free the old `user` then).  The price: a
 * callback must not call mudsc_log_set_callback() itself (documented).
 *
 * SPDX-License-Identifier: MIT
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

#include "core/core.h"

static pthread_rwlock_t log_lock = PTHREAD_RWLOCK_INITIALIZER;
static mudsc_log_fn log_fn;
static void *log_user;
/* Read without the lock first, so that a library with no callback (or a
 * quiet level) pays one atomic load per message and formats nothing. */
static atomic_int log_max = -1;

MUDSC_API void mudsc_log_set_callback(mudsc_log_fn fn, mudsc_log_level max_level, void *user)
{
	pthread_rwlock_wrlock(&log_lock);
	log_fn = fn;
	log_user = user;
	atomic_store(&log_max, fn != NULL ? (int)max_level : -1);
	pthread_rwlock_unlock(&log_lock);
}

int mudsc__log_enabled(mudsc_log_level level)
{
	return (int)level <= atomic_load_explicit(&log_max, memory_order_relaxed);
}

void mudsc__log(mudsc_log_level level, const char *fmt, ...)
{
	char message[1024];
	va_list ap;

	if (!mudsc__log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	pthread_rwlock_rdlock(&log_lock);
	if (log_fn != NULL && (int)level <= atomic_load(&log_max))
		log_fn(level, message, log_user);
	pthread_rwlock_unlock(&log_lock);
}
