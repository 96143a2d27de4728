/*
 * mudsc distance [--json] [-o FILE] SHARD...: ModelGiF field shards (files of
 * mudsc_field_save / mudsc.Field.save, docs/field-format.md) merged in the
 * order given, and the N x N distance matrix printed (mudsc_field_distances).
 *
 * SPDX-License-Identifier: MIT
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
	"Usage: mudsc distance [--json] [-o FILE] [--format json|csv] SHARD...\n"
	"The ModelGiF functional distances of N models (docs/algorithm.md section 14):\n"
	"the field shards (files of mudsc_field_save() or mudsc.Field.save(),\n"
	"docs/field-format.md) are merged in the order given and the N x N matrix of\n"
	"mean 1 - cos of the models' gradient fields is printed (symmetric, 0 on the\n"
	"diagonal, in [0, 2]).  The shards must have the same N, D, rule, steps and\n"
	"keep_inputs.\n"
	"\n"
	"      --json               the matrix and the shards' facts as JSON on standard\n"
	"                           output, numbers at full precision (17 digits)\n"
	"  -o, --output FILE        write the matrix to FILE (atomically) instead: CSV if\n"
	"                           FILE ends in .csv, JSON otherwise\n"
	"      --format json|csv    the format of -o FILE, whatever its name\n"
	"  -q, --quiet              no messages\n"
	"  -h, --help               this help\n"
	"\n"
	"Exit codes: mudsc --help (a missing shard: 4, a corrupt one: 5, shards of other\n"
	"N, D or rule: 6; nothing is written on any error).\n";

static const char *const rule_names[] = {"gauss-legendre", "riemann-left", "riemann-right",
                                         "riemann-middle", "riemann-trapezoid"};

static const char *rule_name(int32_t r)
{
	return r >= 0 && r < 5 ? rule_names[r] : "?";
}

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), k = strlen(tail);
	return n >= k && strcmp(s + n - k, tail) == 0;
}

/* The text of the matrix in one format (owned). */
static char *render(const double *d, const mudsc_field *f, const struct strlist *shards,
                    const char *format)
{
	int32_t n = mudsc_field_models(f);
	if (strcmp(format, "csv") == 0) {
		size_t cap = (size_t)n * (size_t)n * 32 + 64, len = 0;
		char *t = malloc(cap);
		for (int32_t i = 0; i < n; i++)
			for (int32_t j = 0; j < n; j++)
				len += (size_t)snprintf(t + len, cap - len, "%.17g%s", d[i * n + j],
				                        j + 1 < n ? "," : "\n");
		return t;
	}
	json_t *o = json_object(), *rows = json_array(), *files = json_array();
	for (size_t i = 0; i < shards->n; i++)
		json_array_append_new(files, json_string(shards->v[i]));
	for (int32_t i = 0; i < n; i++) {
		json_t *row = json_array();
		for (int32_t j = 0; j < n; j++)
			json_array_append_new(row, json_real(d[i * n + j]));
		json_array_append_new(rows, row);
	}
	json_object_set_new(o, "shards", files);
	json_object_set_new(o, "n_models", json_integer(n));
	json_object_set_new(o, "input_size", json_integer(mudsc_field_input_size(f)));
	json_object_set_new(o, "rule", json_string(rule_name(mudsc_field_rule(f))));
	json_object_set_new(o, "steps", json_integer(mudsc_field_steps(f)));
	json_object_set_new(o, "inputs", json_integer(mudsc_field_inputs(f)));
	json_object_set_new(o, "distances", rows);
	char *text = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
	json_decref(o);
	size_t len = strlen(text);
	char *line = malloc(len + 2);
	memcpy(line, text, len);
	memcpy(line + len, "\n", 2);
	free(text);
	return line;
}

static void print_table(const double *d, const mudsc_field *f, size_t nshards)
{
	int32_t n = mudsc_field_models(f);
	printf("ModelGiF distances of %d models (%lld inputs of %lld values, %s, %d steps, "
	       "%zu shard%s)\n", (int)n, (long long)mudsc_field_inputs(f),
	       (long long)mudsc_field_input_size(f), rule_name(mudsc_field_rule(f)),
	       (int)mudsc_field_steps(f), nshards, nshards == 1 ? "" : "s");
	printf("%6s", "");
	for (int32_t j = 0; j < n; j++)
		printf(" %10d", (int)j);
	putchar('\n');
	for (int32_t i = 0; i < n; i++) {
		printf("%6d", (int)i);
		for (int32_t j = 0; j < n; j++)
			printf(" %10.6f", d[i * n + j]);
		putchar('\n');
	}
}

int cmd_distance(int argc, char **argv)
{
	struct strlist shards = {0};
	const char *out = NULL, *format = NULL;
	bool json = false;
	int rc = 0;
	for (int i = 1; i < argc && rc == 0; i++) {
		const char *arg = argv[i];
		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			fputs(usage, stdout);
			strlist_free(&shards);
			return 0;
		} else if (strcmp(arg, "-q") == 0 || strcmp(arg, "--quiet") == 0) {
			cli_quiet = true;
		} else if (strcmp(arg, "--json") == 0) {
			json = true;
		} else if (strcmp(arg, "-o") == 0 || strcmp(arg, "--output") == 0 ||
		           strcmp(arg, "--format") == 0) {
			if (i + 1 >= argc)
				rc = cli_usage("option '%s' needs a value", arg);
			else if (strcmp(arg, "--format") == 0)
				format = argv[++i];
			else
				out = argv[++i];
		} else if (arg[0] == '-' && arg[1] != '\0') {
			rc = cli_usage("unknown option '%s'", arg);
		} else {
			strlist_push(&shards, arg);
		}
	}
	if (rc == 0 && format != NULL && strcmp(format, "json") != 0 && strcmp(format, "csv") != 0)
		rc = cli_usage("flag --format: '%s' is not json or csv", format);
	if (rc == 0 && format != NULL && out == NULL)
		rc = cli_usage("--format is the format of -o FILE: give -o FILE too");
	if (rc == 0 && shards.n == 0)
		rc = cli_usage("no field shards (files of mudsc_field_save or mudsc.Field.save)");
	mudsc_field *all = NULL;
	for (size_t i = 0; i < shards.n && rc == 0; i++) {
		mudsc_field *f;
		mudsc_status st = mudsc_field_load(&f, shards.v[i], NULL);
		if (st != MUDSC_OK) {
			rc = cli_fail_lib(st, false, "field shard '%s'", shards.v[i]);
			break;
		}
		if (all == NULL) {
			all = f;
			continue;
		}
		st = mudsc_field_merge(all, f);
		mudsc_field_free(f);
		if (st != MUDSC_OK)
			rc = cli_fail_lib(st, false, "merging field shard '%s' into '%s'%s", shards.v[i],
			                  shards.v[0], i > 1 ? " and the shards before it" : "");
	}
	double *d = NULL;
	if (rc == 0) {
		size_t need = 0;
		mudsc_field_distances(NULL, 0, &need, all);
		d = calloc(need ? need : 1, sizeof *d);
		mudsc_status st = mudsc_field_distances(d, need, &need, all);
		if (st != MUDSC_OK)
			rc = cli_fail_lib(st, false, "the distances of '%s'%s", shards.v[0],
			                  shards.n > 1 ? " and the shards after it" : "");
	}
	if (rc == 0 && out != NULL) {
		const char *fmt = format ? format : ends_with(out, ".csv") ? "csv" : "json";
		char *text = render(d, all, &shards, fmt);
		rc = cli_write_text(out, text, "output");
		free(text);
		if (rc == 0 && !cli_quiet)
			fprintf(stderr, "wrote the %dx%d distances to %s (%s)\n", (int)mudsc_field_models(all),
			        (int)mudsc_field_models(all), out, fmt);
	}
	if (rc == 0 && json) {
		char *text = render(d, all, &shards, "json");
		rc = cli_write_text("-", text, "--json");
		free(text);
	} else if (rc == 0 && out == NULL) {
		print_table(d, all, shards.n);
	}
	free(d);
	mudsc_field_free(all);
	strlist_free(&shards);
	return rc;
}
