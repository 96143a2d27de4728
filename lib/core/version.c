/*
 * Run-time version queries.
 *
 * SPDX-License-Identifier: MIT
 */
#include "core/core.h"

MUDSC_API unsigned mudsc_version(void)
{
	return MUDSC_VERSION_NUMBER;
}

MUDSC_API const char *mudsc_version_string(void)
{
	return MUDSC_VERSION_STRING;
}

MUDSC_API mudsc_status mudsc_version_check(unsigned header_number)
{
	unsigned header_major = header_number / 10000u;

	if (header_major != MUDSC_VERSION_MAJOR || header_number > MUDSC_VERSION_NUMBER)
		return mudsc__err(MUDSC_E_MISMATCH,
		                 "mudsc_version_check: program built against libmudsc headers %u.%u.%u "
		                 "but linked with library %s",
		                 header_major, (header_number / 100u) % 100u, header_number % 100u,
		                 MUDSC_VERSION_STRING);
	return MUDSC_OK;
}
