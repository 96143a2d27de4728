/* Small helpers shared by the Check suites. */
#ifndef MUDSC_TESTUTIL_H
#define MUDSC_TESTUTIL_H

#include <check.h>
#include <string.h>

#include "mudsc/mudsc.h"

/* Assert a call fails with the given status and leaves a non-empty message. */
#define ck_assert_status(call, expected)                                                        \
	do {                                                                                        \
		mudsc_status st_ = (call);                                                              \
		ck_assert_msg(st_ == (expected), "%s returned %s (%s), expected %s", #call,             \
		              mudsc_status_name(st_), mudsc_error_message(), mudsc_status_name(expected)); \
		if ((expected) != MUDSC_OK)                                                             \
			ck_assert_msg(strlen(mudsc_error_message()) > 0 &&                                     \
			                  strcmp(mudsc_error_message(), "no error") != 0,                        \
			              "%s gave no error message", #call);                                   \
	} while (0)

#define ck_assert_ok(call) ck_assert_status(call, MUDSC_OK)

/* Assert the last error message contains a substring. */
#define ck_assert_error_has(sub)                                                                \
	ck_assert_msg(strstr(mudsc_error_message(), (sub)) != NULL, "message '%s' lacks '%s'",        \
	              mudsc_error_message(), (sub))

#endif
