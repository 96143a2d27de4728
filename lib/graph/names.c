/*
 * Tensor and module names for the ready graph builders: a prefix and a
 * template with one "{c}" placeholder.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "graph/graph.h"
#include "core/core.h"

mudsc_status mudsc__graph_format_name(char *buf, size_t cap, const char *prefix,
                                     const char *template_, char key, int64_t value,
                                     const char *what)
{
	char placeholder[4] = {'{', key, '}', '\0'};
	const char *at = strstr(template_, placeholder);
	int n;

	if (at == NULL)
		n = snprintf(buf, cap, "%s%s", prefix, template_);
	else
		n = snprintf(buf, cap, "%s%.*s%lld%s", prefix, (int)(at - template_), template_,
		             (long long)value, at + 3);
	if (n < 0 || (size_t)n >= cap)
		return mudsc__err(MUDSC_E_INVALID, "graph builder: name for %s is longer than %zu bytes",
		                 what, cap - 1);
	return MUDSC_OK;
}

void mudsc__graph_namef(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
}
