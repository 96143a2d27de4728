/*
 * Fuzz target: the `mudsc merge` config reader (tools/mudsc/config.c), the
 * one parser of the tool that reads files users write by hand (YAML 1.1
 * through libyaml; JSON is YAML too).  The input is written to a file in a
 * private temporary folder and read with merge_config_load(); a graph
 * builder the config names is then built from its options
 * (tools/mudsc/graphspec.c).
 *
 * Invariants: the reader returns 0 or one of the tool's exit codes for bad
 * configs (3 config, 4 input, 5 format, 8 memory); on success there is one
 * weight slot per model; a builder gives a graph exactly when it returns 0,
 * and otherwise a documented exit code other than 70 (internal); everything
 * is freed (LeakSanitizer).  Messages go
 * to stderr as the tool prints them.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char config_dir[64], config_path[256];

static void remove_config(void)
{
	remove(config_path);
	remove(config_dir);
}

/* A private folder for the one config file, made on the first input. */
static const char *config_file(void)
{
	if (config_path[0] != '\0')
		return config_path;
	snprintf(config_dir, sizeof config_dir, "/tmp/fuzz-config-XXXXXX");
	if (mkdtemp(config_dir) == NULL) {
		perror("fuzz_config: mkdtemp");
		abort();
	}
	snprintf(config_path, sizeof config_path, "%s/merge.yml", config_dir);
	atexit(remove_config);
	return config_path;
}

static void write_input(const char *path, const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
		perror("fuzz_config: writing the config");
		abort();
	}
}

static bool is_config_exit(int rc)
{
	return rc == 0 || rc == EXIT_CONFIG || rc == EXIT_INPUT || rc == EXIT_FORMAT ||
	       rc == EXIT_MEMORY;
}

/* The builders' own sizes are checked by the library; a graph is only a
 * description, but keep a fuzzed width from costing seconds per input. */
static bool small_options(const struct graph_spec *g)
{
	for (size_t i = 0; i < g->values.n; i++)
		if (strlen(g->values.v[i]) > 64)
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = config_file();
	struct merge_config c;

	cli_command = "merge";
	write_input(path, data, size);
	merge_config_init(&c);
	int rc = merge_config_load(&c, path);
	if (!is_config_exit(rc)) {
		fprintf(stderr, "fuzz_config: merge_config_load returned %d\n", rc);
		abort();
	}
	if (rc == 0 && c.nweights != c.models.n) {
		fprintf(stderr, "fuzz_config: %zu weights for %zu models\n", c.nweights,
		        c.models.n);
		abort();
	}
	if (rc == 0 && c.graph.builder != NULL && c.graph.file == NULL && small_options(&c.graph)) {
		mudsc_graph *g = NULL;
		int brc = graph_spec_build(&g, &c.graph, path);
		if ((brc == 0) != (g != NULL) || brc == EXIT_INTERNAL || brc < 0 || brc > EXIT_NUMERIC) {
			fprintf(stderr, "fuzz_config: graph_spec_build returned %d, graph %p\n", brc,
			        (void *)g);
			abort();
		}
		mudsc_graph_free(g);
	}
	merge_config_free(&c);
	return 0;
}
