/*
 * mudsc average -m A -m B [...] [-w W,...] -o OUT [--align (-g G | -b B -O K=V)]:
 * the weighted average of N models (mudsc_average), or with --align their
 * aligned average (weight matching over the graph, then
 * mudsc_average_aligned), written atomically with mudsc_model_save.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char usage[] =
	"Usage: mudsc average -m MODEL -m MODEL [-m MODEL]... [-w W,W,...] -o OUT\n"
	"       mudsc average ... --align (-g GRAPH.json | -b BUILDER [-O K=V]...)\n"
	"The weighted average of N models (safetensors) of one architecture, tensor by\n"
	"tensor (mudsc_average: each float element summed in double in model order and\n"
	"rounded once; non-float tensors from the first model).  With --align the models\n"
	"are first aligned to the first one by weight matching over the graph, then\n"
	"averaged in its units (mudsc_average_aligned: the Lookaround average step).\n"
	"\n"
	"  -m, --model PATH         a model (safetensors); repeat for each (>= 1, >= 2 with\n"
	"                           --align); all with the same tensor names, dtypes, shapes\n"
	"  -w, --weights W,W,...    one weight per model (repeat -w or give a list): finite,\n"
	"                           summing to 1 within 1e-6 (negative ones extrapolate);\n"
	"                           default 1/N each\n"
	"  -o, --output PATH        the average (safetensors), written atomically; it keeps\n"
	"                           the first model's metadata\n"
	"      --align              align the models by weight matching first (needs a graph)\n"
	"  -g, --graph FILE.json    the graph, a JSON file (docs/graph-format.md)\n"
	"  -b, --builder NAME       or a ready builder: mlp, resnet, vit\n"
	"  -O, --builder-option K=V an option of the builder (repeat), e.g. hidden=512,512\n"
	"      --threads N          threads of the element loop (and of the matcher and BLAS\n"
	"                           with --align); default 0: BLAS's own count\n"
	"  -q, --quiet              no progress\n"
	"  -h, --help               this help\n"
	"\n"
	"Exit codes: mudsc --help (models that do not fit each other: 6, nothing written).\n";

struct avg_args {
	struct strlist models;
	double *weights;
	size_t nweights;
	const char *output;
	bool align, help;
	int64_t threads;
	struct graph_spec graph;
};

static int add_weights(struct avg_args *a, const char *v)
{
	char *buf = strdup(v), *save = NULL;
	int rc = 0;
	for (char *t = strtok_r(buf, ",", &save); t && rc == 0; t = strtok_r(NULL, ",", &save)) {
		double w;
		if (!cli_parse_double(t, &w)) {
			rc = cli_usage("flag --weights: '%s' is not a finite number", t);
			break;
		}
		a->weights = realloc(a->weights, (a->nweights + 1) * sizeof *a->weights);
		a->weights[a->nweights++] = w;
	}
	free(buf);
	return rc;
}

static int parse(int argc, char **argv, struct avg_args *a)
{
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			a->help = true;
			return 0;
		}
		if (strcmp(arg, "-q") == 0 || strcmp(arg, "--quiet") == 0) {
			cli_quiet = true;
			continue;
		}
		if (strcmp(arg, "--align") == 0) {
			a->align = true;
			continue;
		}
		static const char *const valued[][2] = {
			{"-m", "--model"}, {"-w", "--weights"}, {"-o", "--output"}, {"-g", "--graph"},
			{"-b", "--builder"}, {"-O", "--builder-option"}, {"", "--threads"}};
		int k = -1;
		const char *value = NULL;
		for (int j = 0; j < 7 && k < 0; j++) {
			size_t n = strlen(valued[j][1]);
			if (strcmp(arg, valued[j][0]) == 0 || strcmp(arg, valued[j][1]) == 0)
				k = j;
			else if (strncmp(arg, valued[j][1], n) == 0 && arg[n] == '=')
				k = j, value = arg + n + 1;
		}
		if (k < 0)
			return cli_usage(arg[0] == '-' ? "unknown option '%s'"
			                               : "unexpected argument '%s' (models go with -m)",
			                 arg);
		if (value == NULL) {
			if (i + 1 >= argc)
				return cli_usage("option '%s' needs a value", arg);
			value = argv[++i];
		}
		int rc = 0;
		switch (k) {
		case 0:
			strlist_push(&a->models, value);
			break;
		case 1:
			rc = add_weights(a, value);
			break;
		case 2:
			a->output = value;
			break;
		case 3:
			graph_spec_set(&a->graph, value, NULL);
			break;
		case 4:
			graph_spec_set(&a->graph, NULL, value);
			break;
		case 5:
			rc = graph_spec_add_kv(&a->graph, value, "flag --builder-option");
			break;
		default:
			if (!cli_parse_i64(value, &a->threads) || a->threads < 0 || a->threads > 4096)
				rc = cli_usage("flag --threads: '%s' is not a count in 0..4096", value);
			break;
		}
		if (rc)
			return rc;
	}
	return 0;
}

static int check_args(const struct avg_args *a)
{
	size_t need = a->align ? 2 : 1;
	bool has_graph = a->graph.file != NULL || a->graph.builder != NULL;
	if (a->models.n < need)
		return cli_usage("%zu model%s given: give %s with -m PATH for each", a->models.n,
		                 a->models.n == 1 ? "" : "s", a->align ? "two or more" : "one or more");
	if (a->output == NULL)
		return cli_usage("no output file (-o OUT)");
	if (a->align && !has_graph)
		return cli_usage("--align needs the graph: -g GRAPH.json or -b BUILDER");
	if (!a->align && has_graph)
		return cli_usage("a graph is only used with --align (add --align to align the models)");
	if (a->nweights != 0 && a->nweights != a->models.n)
		return cli_usage("%zu weights for %zu models (one per model, or none: 1/N each)",
		                 a->nweights, a->models.n);
	char *dir = cli_dirname(a->output);
	int ok = access(dir, W_OK | X_OK), err = errno, rc = 0;
	if (ok != 0)
		rc = cli_fail(EXIT_OUTPUT, "choose an output path in an existing folder you can write to",
		              "output '%s': its folder '%s' %s", a->output, dir,
		              err == ENOENT ? "does not exist" : "cannot be written");
	free(dir);
	return rc;
}

/* "models[0] = 'a', models[1] = 'b'" (cut to the buffer) */
static void models_list(char *buf, size_t cap, const struct avg_args *a)
{
	buf[0] = '\0';
	for (size_t i = 0; i < a->models.n; i++) {
		size_t at = strlen(buf);
		snprintf(buf + at, cap - at, "%smodels[%zu] = '%s'", i ? ", " : "", i, a->models.v[i]);
	}
}

static int run(struct avg_args *a)
{
	struct progress pr;
	int32_t n = (int32_t)a->models.n;
	mudsc_model **models = calloc((size_t)n, sizeof *models);
	mudsc_model *dst = NULL;
	mudsc_graph *graph = NULL;
	mudsc_matcher *m = NULL;
	mudsc_status st;
	int rc = 0;
	const double *w = a->nweights ? a->weights : NULL;

	if (a->threads > 0 && mudsc_blas_set_threads((int32_t)a->threads) != MUDSC_OK)
		rc = cli_fail_lib(mudsc_error_status(), false, "threads = %lld", (long long)a->threads);
	progress_init(&pr, cli_quiet);
	cli_signals_install(); /* Ctrl-C: stop before the output is written */
	if (rc == 0)
		progress_phase(&pr, "loading %d models", (int)n);
	for (int32_t i = 0; i < n && rc == 0; i++)
		if ((st = mudsc_model_load(&models[i], a->models.v[i])) != MUDSC_OK)
			rc = cli_fail_lib(st, false, "model %d '%s'", (int)i, a->models.v[i]);
	/* the destination: model 0 read into memory it owns (writable) */
	if (rc == 0 && (st = mudsc_model_load_mode(&dst, a->models.v[0], MUDSC_LOAD_READ)) != MUDSC_OK)
		rc = cli_fail_lib(st, false, "model 0 '%s'", a->models.v[0]);
	mudsc_average_options opts = MUDSC_AVERAGE_OPTIONS_INIT;
	opts.threads = (int32_t)a->threads;
	char which[1024] = "";
	const char **names = NULL;
	if (rc == 0 && a->align) {
		rc = graph_spec_build(&graph, &a->graph, a->graph.file ? "graph" : "graph builder");
		mudsc_matcher_options mo = MUDSC_MATCHER_OPTIONS_INIT;
		mo.alpha = 1.0; /* weight matching */
		mo.threads = (int32_t)a->threads;
		mo.progress = progress_callback; /* Ctrl-C cancels the matching */
		mo.progress_user = &pr;
		if (rc == 0 &&
		    (st = mudsc_matcher_new(&m, graph, (const mudsc_model *const *)models, n, &mo)) !=
		            MUDSC_OK) {
			models_list(which, sizeof which, a);
			rc = cli_fail_lib(st, false, "the models (%s) against the graph%s%s%s", which,
			                  a->graph.file ? " '" : "", a->graph.file ? a->graph.file : "",
			                  a->graph.file ? "'" : "");
		}
		if (rc == 0 && (names = progress_set_points(&pr, graph, mo.max_iter)) == NULL)
			rc = EXIT_MEMORY;
		if (rc == 0) {
			progress_phase(&pr, "aligning %d models (weight matching, %zu points)", (int)n,
			               mudsc_graph_point_count(graph));
			if ((st = mudsc_matcher_run(m)) != MUDSC_OK)
				rc = st == MUDSC_E_CANCELLED ? EXIT_CANCELLED
				                             : cli_fail_lib(st, false, "aligning");
		}
		if (rc == 0 && (st = mudsc_average_aligned(dst, m, w, &opts)) != MUDSC_OK)
			rc = cli_fail_lib(st, false, "the aligned average of the models");
	} else if (rc == 0) {
		progress_phase(&pr, "averaging %d models", (int)n);
		st = mudsc_average(dst, n, (const mudsc_model *const *)models, w, &opts);
		if (st != MUDSC_OK) {
			/* the library names models[i]: say which files they are */
			models_list(which, sizeof which, a);
			rc = cli_fail_lib(st, false, "averaging %s", which);
		}
	}
	if (rc == 0 && cli_interrupted())
		rc = EXIT_CANCELLED;
	if (rc == 0) {
		if ((st = mudsc_model_save(dst, a->output)) != MUDSC_OK)
			rc = cli_fail_lib(st, true, "output '%s'", a->output);
		else
			progress_phase(&pr, "wrote %s (%zu tensors)", a->output, mudsc_model_count(dst));
	}
	progress_end(&pr);
	if (rc == EXIT_CANCELLED)
		cli_fail(EXIT_CANCELLED, NULL, "interrupted: nothing was written (%s untouched)",
		         a->output);
	free(names);
	mudsc_matcher_free(m);
	mudsc_graph_free(graph);
	mudsc_model_free(dst);
	for (int32_t i = 0; i < n; i++)
		mudsc_model_free(models[i]);
	free(models);
	return rc;
}

int cmd_average(int argc, char **argv)
{
	struct avg_args a = {0};
	int rc = parse(argc, argv, &a);
	if (rc == 0 && a.help)
		fputs(usage, stdout);
	else if (rc == 0 && (rc = check_args(&a)) == 0)
		rc = run(&a);
	strlist_free(&a.models);
	free(a.weights);
	graph_spec_free(&a.graph);
	return rc;
}
