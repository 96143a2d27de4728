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

/* Semantic versioning with 0.x read as the ABI's major: before 1.0 every
 * minor release may break the ABI, so the minor must match too. */
static bool serves(unsigned header_number)
{
	unsigned major = header_number / 10000u, minor = (header_number / 100u) % 100u;

	if (major != MUDSC_VERSION_MAJOR || header_number > MUDSC_VERSION_NUMBER)
		return false;
	return major != 0 || minor == MUDSC_VERSION_MINOR;
}

MUDSC_API mudsc_status mudsc_version_check(unsigned header_number)
{
	if (!serves(header_number))
		return mudsc__err(MUDSC_E_MISMATCH,
		                 "mudsc_version_check: program built against libmudsc headers %u.%u.%u "
		                 "but linked with library %s",
		                 header_number / 10000u, (header_number / 100u) % 100u,
		                 header_number % 100u, MUDSC_VERSION_STRING);
	return MUDSC_OK;
}
