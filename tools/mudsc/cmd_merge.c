/*
 * mudsc merge [CONFIG] [flags]: models, graph and statistics in, the merged
 * model out (streamed and atomically, mudsc_matcher_merge_to_file), with
 * progress and an optional JSON report.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"

static const char usage[] =
	"Usage: mudsc merge [CONFIG] [OPTION]...\n"
	"Merge N models (safetensors) into one with MuDSC: match their units point by point\n"
	"(a graph says where), then average them in the matched order.\n"
	"\n"
	"CONFIG is a YAML (or JSON) file with the settings below (docs/cli.md); flags\n"
	"override it.  Paths in CONFIG are relative to its folder.\n"
	"\n"
	"Inputs:\n"
	"  -m, --model PATH         a model (safetensors); repeat for each (>= 2)\n"
	"  -w, --weights W,W,...    merge weights, one per model (default 1/N each)\n"
	"  -g, --graph FILE.json    the graph, a JSON file (docs/graph-format.md)\n"
	"  -b, --builder NAME       or a ready builder: mlp, resnet, vit\n"
	"  -O, --builder-option K=V an option of the builder (repeat), e.g. hidden=512,512\n"
	"  -s, --stats PATH         activation statistics (repeat: shards are merged)\n"
	"Matching:\n"
	"      --method align|zip|cca   default align (cca: dense CCA transforms, needs\n"
	"                           full-mode statistics)\n"
	"      --cca-ridge R        CCA's relative ridge, >= 0 (default 0.1)\n"
	"      --alpha A            weight of the weight similarity, in [0, 1]; default 0.5\n"
	"                           (without statistics: weight matching, alpha = 1)\n"
	"      --similarity correlation|cosine\n"
	"      --zip-r R, --zip-a A, --zip-b B   zip parameters (defaults 0.5, 0.5, 1)\n"
	"      --use-groups BOOL    respect the points' groups (default true)\n"
	"      --sweeps N           most coordinate-descent sweeps (default 100)\n"
	"      --patience N         sweeps without improvement before stopping (default 5)\n"
	"      --seed N             seed of the point order (default 0)\n"
	"      --sweep-order random|graph_first   the first sweep in the graph's order\n"
	"                           with graph_first (default random)\n"
	"      --threads N          threads of the matcher and of BLAS (default 0: BLAS's\n"
	"                           own count, e.g. OPENBLAS_NUM_THREADS)\n"
	"      --max-memory SIZE    memory budget, e.g. 8G (default 8G; 0: none)\n"
	"Output:\n"
	"  -o, --output PATH        the merged model (safetensors), written atomically\n"
	"      --transform I        write model I brought into the merged order instead\n"
	"      --report PATH        a JSON report: scores per point, sweeps, timings\n"
	"  -q, --quiet              no progress\n"
	"      --json               the report on standard output\n"
	"  -h, --help               this help\n"
	"\n"
	"Progress goes to standard error: a live line on a terminal, plain lines\n"
	"otherwise.  Ctrl-C cancels and leaves no output file.  Exit codes: mudsc --help.\n";

struct flag {
	const char *lng;
	char shrt;
	const char *key; /* the config setting, or a special */
};

static const struct flag flags[] = {
	{"model", 'm', "+model"},        {"weights", 'w', "+weights"},
	{"graph", 'g', "+graph"},        {"builder", 'b', "+builder"},
	{"builder-option", 'O', "+bopt"}, {"stats", 's', "+stats"},
	{"method", 0, "method"},         {"alpha", 0, "alpha"},
	{"similarity", 0, "similarity"}, {"zip-r", 0, "zip_r"},
	{"zip-a", 0, "zip_a"},           {"zip-b", 0, "zip_b"},
	{"cca-ridge", 0, "cca_ridge"},
	{"use-groups", 0, "use_groups"}, {"sweeps", 0, "sweeps"},
	{"patience", 0, "patience"},     {"seed", 0, "seed"},
	{"sweep-order", 0, "sweep_order"}, {"threads", 0, "threads"},
	{"eps", 0, "eps"},
	{"max-memory", 0, "max_memory"}, {"output", 'o', "output"},
	{"transform", 0, "transform"},   {"report", 0, "report"},
	{NULL, 0, NULL}};

/* The method's name as the config spells it. */
static const char *method_name(int32_t method)
{
	switch (method) {
	case MUDSC_METHOD_ZIP:
		return "zip";
	case MUDSC_METHOD_CCA:
		return "cca";
	default:
		return "align";
	}
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Apply one flag (its value given). */
static int apply_flag(struct merge_config *c, const struct flag *f, const char *v,
                      bool *models_from_flags, bool *stats_from_flags)
{
	char where[96];
	snprintf(where, sizeof where, "flag --%s", f->lng);
	if (strcmp(f->key, "+model") == 0) {
		if (!*models_from_flags) {
			strlist_free(&c->models);
			free(c->weights);
			c->weights = NULL;
			c->nweights = 0;
			*models_from_flags = true;
		}
		strlist_push(&c->models, v);
		c->weights = realloc(c->weights, c->models.n * sizeof *c->weights);
		c->weights[c->models.n - 1] = NAN;
		c->nweights = c->models.n;
		return 0;
	}
	if (strcmp(f->key, "+weights") == 0) {
		char buf[4096], *save = NULL;
		size_t i = 0;
		snprintf(buf, sizeof buf, "%s", v);
		for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save), i++) {
			double w;
			if (!cli_parse_double(t, &w))
				return cli_usage("%s: '%s' is not a number", where, t);
			if (i >= c->models.n)
				return cli_usage("%s: %zu weights or more for %zu models (give --model "
				                 "before --weights)", where, i + 1, c->models.n);
			c->weights[i] = w;
		}
		if (i != c->models.n)
			return cli_usage("%s: %zu weights for %zu models", where, i, c->models.n);
		return 0;
	}
	if (strcmp(f->key, "+graph") == 0 || strcmp(f->key, "+builder") == 0) {
		bool file = strcmp(f->key, "+graph") == 0;
		graph_spec_set(&c->graph, file ? v : NULL, file ? NULL : v);
		return 0;
	}
	if (strcmp(f->key, "+bopt") == 0)
		return graph_spec_add_kv(&c->graph, v, where);
	if (strcmp(f->key, "+stats") == 0) {
		if (!*stats_from_flags) {
			strlist_free(&c->stats);
			*stats_from_flags = true;
		}
		strlist_push(&c->stats, v);
		return 0;
	}
	int rc = merge_config_set(c, f->key, v, where);
	return rc == EXIT_CONFIG ? EXIT_USAGE : rc;
}

struct args {
	const char *config;
	bool json, help;
};

/* Two passes: find CONFIG, --help, --quiet, --json; then (after the
 * config is read) apply the other flags in order. */
static int parse(int argc, char **argv, struct args *a, struct merge_config *c, int pass)
{
	bool mf = false, sf = false;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *value = NULL;
		const struct flag *f = NULL;
		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			a->help = true;
			continue;
		}
		if (strcmp(arg, "-q") == 0 || strcmp(arg, "--quiet") == 0) {
			cli_quiet = true;
			continue;
		}
		if (strcmp(arg, "--json") == 0) {
			a->json = true;
			continue;
		}
		if (arg[0] != '-' || strcmp(arg, "-") == 0) {
			if (pass == 0) {
				if (a->config != NULL)
					return cli_usage("two config files: '%s' and '%s' (give one; models go "
					                 "with --model)", a->config, arg);
				a->config = arg;
			}
			continue;
		}
		if (arg[1] == '-') {
			const char *eq = strchr(arg, '=');
			size_t n = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
			for (const struct flag *g = flags; g->lng; g++)
				if (strlen(g->lng) == n && strncmp(g->lng, arg + 2, n) == 0)
					f = g;
			if (eq)
				value = eq + 1;
		} else if (arg[2] == '\0') {
			for (const struct flag *g = flags; g->lng; g++)
				if (g->shrt == arg[1])
					f = g;
		}
		if (f == NULL)
			return cli_usage("unknown option '%s'", arg);
		if (value == NULL) {
			if (i + 1 >= argc)
				return cli_usage("option '%s' needs a value", arg);
			value = argv[++i];
		}
		if (pass == 1) {
			int rc = apply_flag(c, f, value, &mf, &sf);
			if (rc)
				return rc;
		}
	}
	return 0;
}

static void free_models(mudsc_model **models, size_t n)
{
	for (size_t i = 0; i < n; i++)
		mudsc_model_free(models[i]);
	free(models);
}

/* Statistics shards loaded and merged into one set (*out). */
static int load_stats(mudsc_stats **out, const struct merge_config *c, const mudsc_graph *g,
                      int32_t n)
{
	mudsc_stats *all = NULL;
	for (size_t i = 0; i < c->stats.n; i++) {
		mudsc_stats *s;
		mudsc_status st = mudsc_stats_load(&s, c->stats.v[i], g, n, NULL);
		if (st != MUDSC_OK) {
			mudsc_stats_free(all);
			return cli_fail_lib(st, false, "statistics file '%s'", c->stats.v[i]);
		}
		if (all == NULL) {
			all = s;
			continue;
		}
		st = mudsc_stats_merge(all, s);
		mudsc_stats_free(s);
		if (st != MUDSC_OK) {
			mudsc_stats_free(all);
			return cli_fail_lib(st, false, "merging statistics file '%s' into '%s'",
			                    c->stats.v[i], c->stats.v[0]);
		}
	}
	*out = all;
	return 0;
}

static json_t *report(const struct merge_config *c, const mudsc_matcher *m,
                      const mudsc_graph *g, const mudsc_model *m0, const double *t)
{
	json_t *r = json_object(), *pts = json_array(), *objs = json_array(), *unb = json_array();
	json_t *models = json_array(), *stats = json_array();
	size_t np = mudsc_graph_point_count(g), nobj = 0, nunb = 0;

	for (size_t i = 0; i < c->models.n; i++)
		json_array_append_new(models, json_string(c->models.v[i]));
	for (size_t i = 0; i < c->stats.n; i++)
		json_array_append_new(stats, json_string(c->stats.v[i]));
	json_object_set_new(r, "mudsc_version", json_string(mudsc_version_string()));
	json_object_set_new(r, "models", models);
	json_object_set_new(r, "statistics", stats);
	json_object_set_new(r, "output", json_string(c->output));
	json_object_set_new(r, "method",
	                    json_string(method_name(c->opts.method)));
	json_object_set_new(r, "alpha", json_real(c->stats.n ? c->opts.alpha : 1.0));
	for (size_t p = 0; p < np; p++) {
		mudsc_point_info info;
		int64_t w = 0;
		double s[3] = {NAN, NAN, NAN};
		mudsc_graph_point_at(&info, g, p);
		mudsc_matcher_point_result(&w, s, m, p);
		json_t *o = json_object();
		json_object_set_new(o, "name", json_string(info.name));
		json_object_set_new(o, "width", json_integer(info.width));
		json_object_set_new(o, "merged_width", json_integer(w));
		const char *names[3] = {"score_weight", "score_activation", "score"};
		for (int k = 0; k < 3; k++)
			json_object_set_new(o, names[k], isfinite(s[k]) ? json_real(s[k]) : json_null());
		json_array_append_new(pts, o);
	}
	json_object_set_new(r, "points", pts);
	json_object_set_new(r, "sweeps", json_integer(mudsc_matcher_sweeps(m)));
	json_object_set_new(r, "best_sweep", json_integer(mudsc_matcher_best_sweep(m)));
	mudsc_matcher_objectives(NULL, 0, &nobj, m);
	double *ov = calloc(nobj + 1, sizeof *ov);
	if (nobj > 0 && mudsc_matcher_objectives(ov, nobj, &nobj, m) == MUDSC_OK)
		for (size_t i = 0; i < nobj; i++)
			json_array_append_new(objs, json_real(ov[i]));
	free(ov);
	json_object_set_new(r, "objectives", objs);
	mudsc_graph_unbound(NULL, 0, &nunb, g, m0);
	size_t *ub = calloc(nunb + 1, sizeof *ub);
	if (nunb > 0 && mudsc_graph_unbound(ub, nunb, &nunb, g, m0) == MUDSC_OK)
		for (size_t i = 0; i < nunb; i++) {
			mudsc_tensor tt;
			if (mudsc_model_at(&tt, m0, ub[i]) == MUDSC_OK)
				json_array_append_new(unb, json_string(tt.name));
		}
	free(ub);
	json_object_set_new(r, "unbound_tensors", unb);
	json_t *tm = json_object();
	json_object_set_new(tm, "load_s", json_real(t[1] - t[0]));
	json_object_set_new(tm, "statistics_s", json_real(t[2] - t[1]));
	json_object_set_new(tm, "match_s", json_real(t[3] - t[2]));
	json_object_set_new(tm, "write_s", json_real(t[4] - t[3]));
	json_object_set_new(tm, "total_s", json_real(t[4] - t[0]));
	json_object_set_new(r, "timings", tm);
	return r;
}

static int check_settings(const struct merge_config *c)
{
	if (c->models.n < 2)
		return cli_fail(EXIT_CONFIG, "give two models or more: 'models:' in the config or "
		                             "--model PATH for each",
		                "%zu model%s given", c->models.n, c->models.n == 1 ? "" : "s");
	if (c->output == NULL)
		return cli_fail(EXIT_CONFIG, "give 'output:' in the config or -o PATH",
		                "no output file");
	if (c->opts.method == MUDSC_METHOD_CCA && c->stats.n == 0)
		return cli_fail(EXIT_CONFIG, "give 'statistics:' (full mode) or -s PATH",
		                "method cca needs activation statistics");
	if (c->transform >= (int32_t)c->models.n)
		return cli_fail(EXIT_CONFIG, NULL, "transform = %d: there are %zu models (0..%zu)",
		                (int)c->transform, c->models.n, c->models.n - 1);
	size_t given = 0;
	for (size_t i = 0; i < c->nweights; i++)
		given += !isnan(c->weights[i]);
	if (given != 0 && given != c->models.n)
		return cli_fail(EXIT_CONFIG, "give a weight to every model or to none (1/N each)",
		                "%zu of %zu models have a weight", given, c->models.n);
	/* the output's folder must be writable before any work is done */
	char *dir = cli_dirname(c->output);
	int ok = access(dir, W_OK | X_OK);
	int err = errno;
	int rc = 0;
	if (ok != 0)
		rc = cli_fail(EXIT_OUTPUT, "choose an output path in an existing folder you can write to",
		              "output '%s': its folder '%s' %s", c->output, dir,
		              err == ENOENT ? "does not exist" : "cannot be written");
	free(dir);
	return rc;
}

static int run(struct merge_config *c, const struct args *a)
{
	struct progress pr;
	mudsc_model **models = NULL;
	mudsc_graph *graph = NULL;
	mudsc_matcher *m = NULL;
	mudsc_stats *stats = NULL;
	const char **names = NULL;
	double t[5] = {now(), 0, 0, 0, 0};
	int32_t n = (int32_t)c->models.n;
	int rc = check_settings(c);
	mudsc_status st;

	if (rc)
		return rc;
	if (c->stats.n == 0 && !c->alpha_given)
		c->opts.alpha = 1.0; /* weight matching, without the library's warning */
	/* the tool is the host: with OpenBLAS its process-wide count is ours to set */
	if (c->opts.threads > 0 && mudsc_blas_set_threads(c->opts.threads) != MUDSC_OK)
		return cli_fail_lib(mudsc_error_status(), false, "threads = %d", (int)c->opts.threads);
	progress_init(&pr, cli_quiet);
	cli_signals_install();
	progress_phase(&pr, "loading %d models", (int)n);
	models = calloc((size_t)n, sizeof *models);
	for (int32_t i = 0; i < n && rc == 0; i++)
		if ((st = mudsc_model_load(&models[i], c->models.v[i])) != MUDSC_OK)
			rc = cli_fail_lib(st, false, "model %d '%s'", (int)i, c->models.v[i]);
	if (rc == 0)
		rc = graph_spec_build(&graph, &c->graph, c->graph.file ? "graph" : "graph builder");
	if (rc == 0) {
		c->opts.progress = progress_callback;
		c->opts.progress_user = &pr;
		st = mudsc_matcher_new(&m, graph, (const mudsc_model *const *)models, n, &c->opts);
		if (st != MUDSC_OK) {
			char which[1024] = "";
			for (int32_t i = 0; i < n; i++) {
				size_t at = strlen(which);
				snprintf(which + at, sizeof which - at, "%smodel %d = '%s'", i ? ", " : "",
				         (int)i, c->models.v[i]);
			}
			rc = cli_fail_lib(st, false, "the models (%s) against the graph%s%s%s", which,
			                  c->graph.file ? " '" : "", c->graph.file ? c->graph.file : "",
			                  c->graph.file ? "'" : "");
		}
	}
	t[1] = now();
	if (rc == 0 && cli_interrupted())
		rc = EXIT_CANCELLED;
	if (rc == 0 && c->stats.n > 0) {
		progress_phase(&pr, "reading %zu statistics file%s", c->stats.n, c->stats.n > 1 ? "s" : "");
		rc = load_stats(&stats, c, graph, n);
		if (rc == 0 && (st = mudsc_matcher_set_stats(m, stats)) != MUDSC_OK)
			rc = cli_fail_lib(st, false, "the statistics against the models");
	}
	t[2] = now();
	if (rc == 0 && cli_interrupted())
		rc = EXIT_CANCELLED;
	if (rc == 0 && (names = progress_set_points(&pr, graph, c->opts.max_iter)) == NULL)
		rc = EXIT_MEMORY;
	if (rc == 0) {
		progress_phase(&pr, "matching %lld points (%s%s)", (long long)pr.npoints,
		               method_name(c->opts.method),
		               c->stats.n ? ", with activations" : ", weight matching");
		progress_attach_log(&pr);
		st = mudsc_matcher_run(m);
		progress_detach_log();
		if (st != MUDSC_OK)
			rc = st == MUDSC_E_CANCELLED ? EXIT_CANCELLED : cli_fail_lib(st, false, "matching");
	}
	t[3] = now();
	if (rc == 0 && cli_interrupted())
		rc = EXIT_CANCELLED;
	if (rc == 0) {
		bool weighted = c->nweights > 0 && !isnan(c->weights[0]);
		pr.output = c->output;
		pr.ntensors = (int64_t)mudsc_model_count(models[0]);
		if (c->transform >= 0)
			st = mudsc_matcher_transform_to_file(m, c->output, c->transform);
		else
			st = mudsc_matcher_merge_to_file(m, c->output, weighted ? c->weights : NULL);
		if (st != MUDSC_OK)
			rc = st == MUDSC_E_CANCELLED ? EXIT_CANCELLED
			                             : cli_fail_lib(st, true, "output '%s'", c->output);
		else
			progress_phase(&pr, "wrote %s (%d sweeps, best %d)", c->output,
			               (int)mudsc_matcher_sweeps(m), (int)mudsc_matcher_best_sweep(m) + 1);
	}
	t[4] = now();
	if (rc == 0 && (c->report != NULL || a->json)) {
		json_t *r = report(c, m, graph, models[0], t);
		char *text = json_dumps(r, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
		size_t len = strlen(text);
		char *line = malloc(len + 2);
		memcpy(line, text, len);
		line[len] = '\n';
		line[len + 1] = '\0';
		if (c->report != NULL)
			rc = cli_write_text(c->report, line, "report");
		if (rc == 0 && a->json)
			rc = cli_write_text("-", line, "--json");
		free(line);
		free(text);
		json_decref(r);
	}
	progress_end(&pr);
	if (rc == EXIT_CANCELLED)
		cli_fail(EXIT_CANCELLED, NULL, "interrupted: nothing was written%s%s%s",
		         c->output ? " (" : "", c->output ? c->output : "", c->output ? " untouched)" : "");
	free(names);
	mudsc_stats_free(stats);
	mudsc_matcher_free(m);
	mudsc_graph_free(graph);
	free_models(models, (size_t)n);
	return rc;
}

int cmd_merge(int argc, char **argv)
{
	struct merge_config c;
	struct args a = {0};
	int rc;

	merge_config_init(&c);
	rc = parse(argc, argv, &a, &c, 0);
	if (rc == 0 && a.help) {
		fputs(usage, stdout);
		merge_config_free(&c);
		return 0;
	}
	if (rc == 0 && a.config != NULL)
		rc = merge_config_load(&c, a.config);
	if (rc == 0)
		rc = parse(argc, argv, &a, &c, 1);
	if (rc == 0 && a.config == NULL && c.models.n == 0)
		rc = cli_usage("no config file and no --model");
	if (rc == 0)
		rc = run(&c, &a);
	merge_config_free(&c);
	return rc;
}
