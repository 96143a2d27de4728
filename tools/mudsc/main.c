/*
 * mudsc: the command-line tool of libmudsc.  The command table below is
 * the dispatch: a command that is not ready yet has run == NULL and is
 * left out of the help; adding one is one row and one cmd_*.c file.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary; /* for run == NULL: what it waits for */
} commands[] = {
	{"merge", cmd_merge, "merge models from a config file or flags"},
	{"inspect", cmd_inspect, "show safetensors models, graphs and statistics files"},
	{"graph", cmd_graph, "write a ready builder's graph as JSON"},
	{"stats", cmd_stats, "merge statistics shards (stats merge), show one (stats info)"},
	{"average", cmd_average, "weighted average of N models, aligned by weight matching or not"},
	{"distance", cmd_distance, "ModelGiF distances of N models from field shards"},
	{NULL, NULL, NULL}};

static void help(void)
{
	printf("Usage: mudsc COMMAND [ARGUMENT]...\n"
	       "Merge neural networks with MuDSC (libmudsc %s).\n\nCommands:\n",
	       mudsc_version_string());
	for (const struct command *c = commands; c->name; c++)
		if (c->run != NULL)
			printf("  %-9s %s\n", c->name, c->summary);
	printf("\n'mudsc COMMAND --help' describes a command; docs/cli.md and mudsc(1) the rest.\n"
	       "\nOptions:\n  -h, --help     this help\n  --version      the version\n"
	       "\nExit codes:\n"
	       "  0    success\n"
	       "  2    bad command line (unknown command or option, missing value)\n"
	       "  3    bad config: YAML/JSON syntax (with line and column) or a setting\n"
	       "  4    an input file is missing or unreadable\n"
	       "  5    an input file is malformed (safetensors, graph JSON, statistics)\n"
	       "  6    the inputs do not fit each other (models, graph, statistics)\n"
	       "  7    an output file cannot be written\n"
	       "  8    out of memory or over the memory budget (max_memory)\n"
	       "  9    numerical failure (non-finite values, no feasible zip merge)\n"
	       "  70   internal error (a bug: please report it)\n"
	       "  130  interrupted (Ctrl-C): no output file was written\n");
}

int main(int argc, char **argv)
{
	if (MUDSC_CHECK_VERSION() != MUDSC_OK) {
		fprintf(stderr, "mudsc: error: %s\n", mudsc_error_message());
		return EXIT_INTERNAL;
	}
	if (argc < 2) {
		help();
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		help();
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("mudsc %s (libmudsc %s, %s)\n", MUDSC_VERSION_STRING, mudsc_version_string(),
		       mudsc_blas_info());
		return 0;
	}
	for (const struct command *c = commands; c->name; c++) {
		if (strcmp(c->name, argv[1]) != 0)
			continue;
		if (c->run == NULL)
			return cli_fail(EXIT_USAGE, "'mudsc --help' lists the commands of this version",
			                "'%s' is not available yet: %s is not in libmudsc %s", c->name,
			                c->summary, mudsc_version_string());
		cli_command = c->name;
		return c->run(argc - 1, argv + 1);
	}
	return cli_usage("unknown command '%s'", argv[1]);
}
