/* Declarations of every Check suite (see suites.def). */
#ifndef MUDSC_TEST_SUITES_H
#define MUDSC_TEST_SUITES_H

#include <check.h>

#define MUDSC_SUITE(n) Suite *suite_##n(void);
#include "suites.def"
#undef MUDSC_SUITE

#endif
