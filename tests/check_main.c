/*
 * The one Check runner.  `mudsc-tests` runs every suite; `mudsc-tests NAME`
 * runs one (meson registers one test per suite so failures are reported by
 * area and suites run in parallel).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"

struct suite_entry {
	const char *name;
	Suite *(*make)(void);
};

static const struct suite_entry suites[] = {
#define MUDSC_SUITE(n) {#n, suite_##n},
#include "suites.def"
#undef MUDSC_SUITE
};

int main(int argc, char **argv)
{
	SRunner *runner = NULL;
	size_t n = sizeof suites / sizeof suites[0];
	int failed;

	for (size_t i = 0; i < n; i++) {
		if (argc > 1 && strcmp(argv[1], suites[i].name) != 0)
			continue;
		if (runner == NULL)
			runner = srunner_create(suites[i].make());
		else
			srunner_add_suite(runner, suites[i].make());
	}
	if (runner == NULL) {
		fprintf(stderr, "no suite named '%s'\n", argc > 1 ? argv[1] : "");
		return 2;
	}
	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
