/*
 * mudsc stats merge -o OUT SHARD...: statistics shards (files of
 * mudsc_stats_save, docs/stats-format.md) merged into one file.
 * mudsc stats info FILE...: a statistics file's models, points, widths
 * and observation counts.
 *
 * SPDX-License-Identifier: MIT
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(void)
{
	printf("Usage: mudsc stats merge -o OUT SHARD...\n"
	       "       mudsc stats info [--json] FILE...\n"
	       "merge: add the statistics of every SHARD (files of mudsc_stats_save or\n"
	       "  collect_activations, docs/stats-format.md) into one file OUT, written\n"
	       "  atomically; the shards must have the same models and points.\n"
	       "info: the number of models, and each point's name, width and observation count.\n");
}

/* A statistics file's metadata, read as a safetensors model. */
struct info {
	mudsc_model *file;
	int64_t n_models, points;
};

static int read_info(struct info *in, const char *path)
{
	mudsc_status st = mudsc_model_load(&in->file, path);
	if (st != MUDSC_OK)
		return cli_fail_lib(st, false, "statistics file '%s'", path);
	const char *fmt = mudsc_model_get_meta(in->file, "format");
	const char *n = mudsc_model_get_meta(in->file, "n_models");
	const char *p = mudsc_model_get_meta(in->file, "points");
	if (fmt == NULL || strcmp(fmt, "mudsc.stats") != 0 || n == NULL || p == NULL ||
	    !cli_parse_i64(n, &in->n_models) || !cli_parse_i64(p, &in->points) || in->points < 0) {
		mudsc_model_free(in->file);
		in->file = NULL;
		return cli_fail(EXIT_FORMAT, "statistics files are written by mudsc_stats_save(), "
		                             "Stats.save() or collect_activations()",
		                "'%s' is a safetensors file but not a statistics file (metadata "
		                "format = mudsc.stats)", path);
	}
	return 0;
}

static const char *meta_at(const mudsc_model *m, int64_t i, const char *what)
{
	char key[64];
	snprintf(key, sizeof key, "point.%lld.%s", (long long)i, what);
	const char *v = mudsc_model_get_meta(m, key);
	return v ? v : "?";
}

/* A graph with the file's points only: what mudsc_stats_load checks against. */
static int points_graph(mudsc_graph **out, const struct info *in, const char *path)
{
	mudsc_graph *g;
	mudsc_graph_new(&g);
	for (int64_t i = 0; i < in->points; i++) {
		int64_t w;
		if (!cli_parse_i64(meta_at(in->file, i, "width"), &w) ||
		    mudsc_graph_add_point(NULL, g, meta_at(in->file, i, "name"), w, 1) != MUDSC_OK) {
			mudsc_graph_free(g);
			return cli_fail(EXIT_FORMAT, NULL, "statistics file '%s': point %lld has a bad "
			                "name or width", path, (long long)i);
		}
	}
	*out = g;
	return 0;
}

static int stats_info(int argc, char **argv)
{
	bool json = false;
	int rc = 0, files = 0;
	json_t *all = json_array();
	for (int i = 1; i < argc; i++)
		json |= strcmp(argv[i], "--json") == 0;
	for (int i = 1; i < argc && rc == 0; i++) {
		if (strcmp(argv[i], "--json") == 0)
			continue;
		if (argv[i][0] == '-') {
			rc = cli_usage("unknown option '%s'", argv[i]);
			break;
		}
		struct info in = {0};
		files++;
		if ((rc = read_info(&in, argv[i])) != 0)
			break;
		json_t *o = json_object(), *pts = json_array();
		if (!json)
			printf("%s: statistics of %lld models, %lld points\n", argv[i],
			       (long long)in.n_models, (long long)in.points);
		for (int64_t p = 0; p < in.points; p++) {
			int64_t w = 0, c = 0;
			cli_parse_i64(meta_at(in.file, p, "width"), &w);
			cli_parse_i64(meta_at(in.file, p, "count"), &c);
			if (!json)
				printf("  %-32s width %6lld  observations %lld\n", meta_at(in.file, p, "name"),
				       (long long)w, (long long)c);
			json_t *q = json_object();
			json_object_set_new(q, "name", json_string(meta_at(in.file, p, "name")));
			json_object_set_new(q, "width", json_integer(w));
			json_object_set_new(q, "count", json_integer(c));
			json_array_append_new(pts, q);
		}
		json_object_set_new(o, "file", json_string(argv[i]));
		json_object_set_new(o, "kind", json_string("statistics"));
		json_object_set_new(o, "n_models", json_integer(in.n_models));
		json_object_set_new(o, "points", pts);
		json_array_append_new(all, o);
		mudsc_model_free(in.file);
	}
	if (rc == 0 && files == 0)
		rc = cli_usage("no statistics file");
	if (rc == 0 && json) {
		char *text = json_dumps(all, JSON_INDENT(2));
		puts(text);
		free(text);
	}
	json_decref(all);
	return rc;
}

static int stats_merge(int argc, char **argv)
{
	const char *out = NULL;
	struct strlist shards = {0};
	int rc = 0;
	for (int i = 1; i < argc && rc == 0; i++) {
		if (strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) {
			if (i + 1 >= argc)
				rc = cli_usage("option '%s' needs a value", argv[i]);
			else
				out = argv[++i];
		} else if (argv[i][0] == '-') {
			rc = cli_usage("unknown option '%s'", argv[i]);
		} else {
			strlist_push(&shards, argv[i]);
		}
	}
	if (rc == 0 && out == NULL)
		rc = cli_usage("no output file (-o OUT)");
	if (rc == 0 && shards.n == 0)
		rc = cli_usage("no statistics shards to merge");
	struct info in = {0};
	mudsc_graph *g = NULL;
	mudsc_stats *all = NULL;
	if (rc == 0 && (rc = read_info(&in, shards.v[0])) == 0)
		rc = points_graph(&g, &in, shards.v[0]);
	for (size_t i = 0; i < shards.n && rc == 0; i++) {
		mudsc_stats *s;
		mudsc_status st = mudsc_stats_load(&s, shards.v[i], g, (int32_t)in.n_models, NULL);
		if (st != MUDSC_OK) {
			rc = cli_fail_lib(st, false, "statistics shard '%s'%s", shards.v[i],
			                  i ? " (against the first shard's models and points)" : "");
			break;
		}
		if (all == NULL) {
			all = s;
			continue;
		}
		st = mudsc_stats_merge(all, s);
		mudsc_stats_free(s);
		if (st != MUDSC_OK)
			rc = cli_fail_lib(st, false, "merging shard '%s'", shards.v[i]);
	}
	if (rc == 0) {
		mudsc_status st = mudsc_stats_save(all, out);
		if (st != MUDSC_OK)
			rc = cli_fail_lib(st, true, "output '%s'", out);
		else if (!cli_quiet)
			fprintf(stderr, "merged %zu shards into %s\n", shards.n, out);
	}
	mudsc_stats_free(all);
	mudsc_graph_free(g);
	mudsc_model_free(in.file);
	strlist_free(&shards);
	return rc;
}

int cmd_stats(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0) {
			cli_quiet = true;
			memmove(&argv[i], &argv[i + 1], (size_t)(argc - i - 1) * sizeof *argv);
			argc--;
			i--;
		}
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage();
		return argc < 2 ? EXIT_USAGE : 0;
	}
	for (int i = 2; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage();
			return 0;
		}
	if (strcmp(argv[1], "merge") == 0) {
		cli_command = "stats merge";
		return stats_merge(argc - 1, argv + 1);
	}
	if (strcmp(argv[1], "info") == 0) {
		cli_command = "stats info";
		return stats_info(argc - 1, argv + 1);
	}
	return cli_usage("unknown stats command '%s' (merge or info)", argv[1]);
}
