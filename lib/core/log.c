/*
 * The host's log callback: the library never prints by itself.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdarg.h>
#include <stdio.h>

#include "core/core.h"

static mudsc_log_fn log_fn;
static void *log_user;
static mudsc_log_level log_max = MUDSC_LOG_WARNING;

MUDSC_API void mudsc_log_set_callback(mudsc_log_fn fn, mudsc_log_level max_level, void *user)
{
	log_fn = fn;
	log_user = user;
	log_max = max_level;
}

void mudsc__log(mudsc_log_level level, const char *fmt, ...)
{
	char message[1024];
	va_list ap;

	if (log_fn == NULL || level > log_max)
		return;
	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	log_fn(level, message, log_user);
}
