/*
 * mudsc graph NAME [KEY=VALUE]... [-o FILE]: a ready builder's graph as
 * JSON (docs/graph-format.md), the starting point of a hand-edited graph.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(void)
{
	printf("Usage: mudsc graph NAME [KEY=VALUE]... [-o FILE]\n"
	       "Write the graph of a ready builder as JSON (docs/graph-format.md) to standard\n"
	       "output or FILE (written atomically): the points, their widths and the tensor\n"
	       "axes bound to each, as a starting point for a hand-edited graph.\n\n"
	       "Builders and their options (lists comma-separated):\n");
	graph_spec_help();
	printf("\nExamples:\n  mudsc graph mlp hidden=512,512,512 layer_template={i} index_step=2\n"
	       "  mudsc graph resnet preset=resnet20 width_multiplier=4 -o resnet20x4.json\n"
	       "  mudsc graph vit dim=384 depth=12 heads=6 mlp_dim=1536\n");
}

int cmd_graph(int argc, char **argv)
{
	struct graph_spec g = {0};
	const char *out = "-";
	int rc = 0;
	for (int i = 1; i < argc && rc == 0; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage();
			graph_spec_free(&g);
			return 0;
		}
		if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
			if (i + 1 >= argc)
				rc = cli_usage("option '%s' needs a value", a);
			else
				out = argv[++i];
		} else if (strncmp(a, "--output=", 9) == 0) {
			out = a + 9;
		} else if (a[0] == '-') {
			rc = cli_usage("unknown option '%s'", a);
		} else if (g.builder == NULL) {
			g.builder = strdup(a);
		} else {
			char where[64];
			snprintf(where, sizeof where, "argument %d", i);
			rc = graph_spec_add_kv(&g, a, where);
		}
	}
	if (rc == 0 && g.builder == NULL)
		rc = cli_usage("no builder name (mlp, resnet or vit)");
	mudsc_graph *graph = NULL;
	if (rc == 0)
		rc = graph_spec_build(&graph, &g, "mudsc graph");
	if (rc == 0) {
		mudsc_status st;
		if (strcmp(out, "-") == 0) {
			char *text = NULL;
			st = mudsc_graph_to_json(&text, NULL, graph);
			if (st != MUDSC_OK)
				rc = cli_fail_lib(st, false, "the graph as JSON");
			else
				rc = cli_write_text("-", text, "graph");
			mudsc_free(text);
		} else if ((st = mudsc_graph_save_json(graph, out)) != MUDSC_OK) {
			rc = cli_fail_lib(st, true, "output '%s'", out);
		}
	}
	mudsc_graph_free(graph);
	graph_spec_free(&g);
	return rc;
}
