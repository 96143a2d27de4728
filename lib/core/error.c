/*
 * Status codes and the thread-local last-error message.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"

static _Thread_local char last_message[MUDSC__ERRMSG_MAX];
static _Thread_local mudsc_status last_status = MUDSC_OK;

struct status_entry {
	mudsc_status status;
	const char *name;
	const char *text;
};

static const struct status_entry status_table[] = {
	{MUDSC_OK, "MUDSC_OK", "success"},
	{MUDSC_E_INVALID, "MUDSC_E_INVALID", "invalid argument"},
	{MUDSC_E_SHAPE, "MUDSC_E_SHAPE", "shape mismatch"},
	{MUDSC_E_NOMEM, "MUDSC_E_NOMEM", "out of memory"},
	{MUDSC_E_PARSE, "MUDSC_E_PARSE", "parse error"},
	{MUDSC_E_IO, "MUDSC_E_IO", "I/O error"},
	{MUDSC_E_STATE, "MUDSC_E_STATE", "wrong state"},
	{MUDSC_E_NUMERIC, "MUDSC_E_NUMERIC", "numeric error (non-finite value)"},
	{MUDSC_E_UNSUPPORTED, "MUDSC_E_UNSUPPORTED", "unsupported"},
	{MUDSC_E_CANCELLED, "MUDSC_E_CANCELLED", "cancelled"},
	{MUDSC_E_NOT_FOUND, "MUDSC_E_NOT_FOUND", "not found"},
	{MUDSC_E_EXISTS, "MUDSC_E_EXISTS", "already exists"},
	{MUDSC_E_RANGE, "MUDSC_E_RANGE", "out of range"},
	{MUDSC_E_MISMATCH, "MUDSC_E_MISMATCH", "inputs do not agree"},
	{MUDSC_E_INTERNAL, "MUDSC_E_INTERNAL", "internal error"},
};

static const struct status_entry *status_lookup(mudsc_status status)
{
	for (size_t i = 0; i < sizeof status_table / sizeof status_table[0]; i++)
		if (status_table[i].status == status)
			return &status_table[i];
	return NULL;
}

MUDSC_API const char *mudsc_status_str(mudsc_status status)
{
	const struct status_entry *e = status_lookup(status);
	return e ? e->text : "unknown status";
}

MUDSC_API const char *mudsc_status_name(mudsc_status status)
{
	const struct status_entry *e = status_lookup(status);
	return e ? e->name : "MUDSC_E_UNKNOWN";
}

MUDSC_API const char *mudsc_error_message(void)
{
	return last_status == MUDSC_OK ? "no error" : last_message;
}

MUDSC_API mudsc_status mudsc_error_status(void)
{
	return last_status;
}

MUDSC_API void mudsc_error_clear(void)
{
	last_status = MUDSC_OK;
	last_message[0] = '\0';
}

MUDSC_API mudsc_status mudsc_error_set(mudsc_status status, const char *message)
{
	return mudsc__err(status, "%s", message ? message : "(no message)");
}

mudsc_status mudsc__err(mudsc_status status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_message, sizeof last_message, fmt, ap);
	va_end(ap);
	last_status = status;
	return status;
}

mudsc_status mudsc__err_context(mudsc_status status, const char *fmt, ...)
{
	char prefix[MUDSC__ERRMSG_MAX];
	char old[MUDSC__ERRMSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	memcpy(old, last_message, sizeof old);
	/* prefix, ": ", old message, cut to the buffer (truncation is fine) */
	size_t used = strlen(prefix);
	memcpy(last_message, prefix, used + 1);
	if (used + 2 < sizeof last_message) {
		memcpy(last_message + used, ": ", 3);
		used += 2;
		size_t rest = strlen(old);
		if (rest > sizeof last_message - 1 - used)
			rest = sizeof last_message - 1 - used;
		memcpy(last_message + used, old, rest);
		last_message[used + rest] = '\0';
	}
	last_status = status;
	return status;
}

void mudsc__err_save(struct mudsc__err_saved *out)
{
	out->status = last_status;
	memcpy(out->message, last_message, sizeof out->message);
}

mudsc_status mudsc__err_raise(const struct mudsc__err_saved *saved)
{
	memcpy(last_message, saved->message, sizeof last_message);
	last_status = saved->status;
	return last_status;
}
