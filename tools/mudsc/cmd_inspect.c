/*
 * mudsc inspect [--graph G | --builder NAME -O K=V] [--json] FILE...:
 * the tensors, dtypes, shapes and metadata of safetensors models; a graph
 * JSON's points and widths; a statistics file's points and counts; with a
 * graph, the validation of the models against it and the tensors no point
 * binds.
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
	printf("Usage: mudsc inspect [OPTION]... FILE...\n"
	       "Describe each FILE: a safetensors model (tensors, dtypes, shapes, metadata), a\n"
	       "graph JSON (*.json: points, widths, groups, bindings) or a statistics file\n"
	       "(models, points, observation counts).\n\n"
	       "  -g, --graph FILE.json     check the models against this graph and list the\n"
	       "                            tensors no point binds (averaged as they are)\n"
	       "  -b, --builder NAME        or a ready builder's graph (mlp, resnet, vit)\n"
	       "  -O, --builder-option K=V  an option of the builder (repeat)\n"
	       "      --json                JSON on standard output\n"
	       "  -h, --help                this help\n");
}

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), t = strlen(tail);
	return n >= t && strcmp(s + n - t, tail) == 0;
}

static json_t *shape_json(const mudsc_tensor *t)
{
	json_t *a = json_array();
	for (int32_t d = 0; d < t->rank; d++)
		json_array_append_new(a, json_integer(t->shape[d]));
	return a;
}

static void shape_text(char *buf, size_t cap, const mudsc_tensor *t)
{
	size_t n = (size_t)snprintf(buf, cap, "[");
	for (int32_t d = 0; d < t->rank && n < cap; d++)
		n += (size_t)snprintf(buf + n, cap - n, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
	if (n < cap)
		snprintf(buf + n, cap - n, "]");
}

static json_t *describe_model(const char *path, const mudsc_model *m, bool json)
{
	json_t *o = json_object(), *ts = json_array(), *meta = json_object();
	size_t n = mudsc_model_count(m), bytes = 0;
	for (size_t i = 0; i < n; i++) {
		mudsc_tensor t;
		mudsc_model_at(&t, m, i);
		bytes += t.nbytes;
	}
	const char *fmt = mudsc_model_get_meta(m, "format");
	bool stats = fmt != NULL && strcmp(fmt, "mudsc.stats") == 0;
	if (!json)
		printf("%s: %s, %zu tensors, %zu bytes of data\n", path,
		       stats ? "statistics file (safetensors)" : "safetensors model", n, bytes);
	if (stats) {
		const char *pts = mudsc_model_get_meta(m, "points");
		int64_t np = 0;
		json_t *arr = json_array();
		cli_parse_i64(pts ? pts : "0", &np);
		if (!json)
			printf("  %s models, %lld points\n", mudsc_model_get_meta(m, "n_models"),
			       (long long)np);
		for (int64_t p = 0; p < np; p++) {
			char k1[64], k2[64], k3[64];
			snprintf(k1, sizeof k1, "point.%lld.name", (long long)p);
			snprintf(k2, sizeof k2, "point.%lld.width", (long long)p);
			snprintf(k3, sizeof k3, "point.%lld.count", (long long)p);
			const char *nm = mudsc_model_get_meta(m, k1), *w = mudsc_model_get_meta(m, k2),
			           *c = mudsc_model_get_meta(m, k3);
			if (!json)
				printf("  %-32s width %6s  observations %s\n", nm ? nm : "?", w ? w : "?",
				       c ? c : "?");
			json_t *q = json_object();
			int64_t wi = 0, ci = 0;
			cli_parse_i64(w ? w : "0", &wi);
			cli_parse_i64(c ? c : "0", &ci);
			json_object_set_new(q, "name", json_string(nm ? nm : ""));
			json_object_set_new(q, "width", json_integer(wi));
			json_object_set_new(q, "count", json_integer(ci));
			json_array_append_new(arr, q);
		}
		json_object_set_new(o, "kind", json_string("statistics"));
		json_object_set_new(o, "points", arr);
	} else {
		for (size_t i = 0; i < n; i++) {
			mudsc_tensor t;
			char shape[256];
			mudsc_model_at(&t, m, i);
			shape_text(shape, sizeof shape, &t);
			if (!json)
				printf("  %-40s %-5s %s\n", t.name, mudsc_dtype_name(t.dtype), shape);
			json_t *q = json_object();
			json_object_set_new(q, "name", json_string(t.name));
			json_object_set_new(q, "dtype", json_string(mudsc_dtype_name(t.dtype)));
			json_object_set_new(q, "shape", shape_json(&t));
			json_array_append_new(ts, q);
		}
		json_object_set_new(o, "kind", json_string("model"));
	}
	for (size_t i = 0; i < mudsc_model_meta_count(m); i++) {
		const char *k, *v;
		mudsc_model_meta_at(&k, &v, m, i);
		if (!stats && !json)
			printf("  metadata %s = %s\n", k, v);
		json_object_set_new(meta, k, json_string(v));
	}
	json_object_set_new(o, "file", json_string(path));
	json_object_set_new(o, "tensors", ts);
	json_object_set_new(o, "metadata", meta);
	json_object_set_new(o, "data_bytes", json_integer((json_int_t)bytes));
	return o;
}

static json_t *describe_graph(const char *path, const mudsc_graph *g, bool json)
{
	json_t *o = json_object(), *pts = json_array();
	size_t n = mudsc_graph_point_count(g);
	if (!json)
		printf("%s: graph, %zu points, %zu splits\n", path, n, mudsc_graph_split_count(g));
	for (size_t p = 0; p < n; p++) {
		mudsc_point_info info;
		mudsc_graph_point_at(&info, g, p);
		if (!json)
			printf("  %-32s width %6lld  groups %lld  bindings %zu%s%s\n", info.name,
			       (long long)info.width, (long long)info.groups, info.binding_count,
			       info.site_name ? "  site " : "", info.site_name ? info.site_name : "");
		json_t *q = json_object();
		json_object_set_new(q, "name", json_string(info.name));
		json_object_set_new(q, "width", json_integer(info.width));
		json_object_set_new(q, "groups", json_integer(info.groups));
		json_object_set_new(q, "bindings", json_integer((json_int_t)info.binding_count));
		json_object_set_new(q, "site", info.site_name ? json_string(info.site_name) : json_null());
		json_array_append_new(pts, q);
	}
	json_object_set_new(o, "file", json_string(path));
	json_object_set_new(o, "kind", json_string("graph"));
	json_object_set_new(o, "points", pts);
	return o;
}

/* The models against the graph: validation, then each model's unbound tensors. */
static int check_against(json_t *out, const mudsc_graph *g, mudsc_model **models,
                         const char **paths, size_t n, bool json)
{
	mudsc_status st = mudsc_graph_validate(g, (const mudsc_model *const *)models, (int32_t)n);
	json_t *o = json_object(), *unb = json_object();
	int rc = 0;
	if (st != MUDSC_OK)
		rc = cli_fail_lib(st, false, "the models against the graph (model i is the i-th "
		                            "model file named)");
	else if (!json)
		printf("%s %zu model%s fit%s the graph (%zu points)\n", n == 1 ? "the" : "all", n,
		       n == 1 ? "" : "s", n == 1 ? "s" : "", mudsc_graph_point_count(g));
	for (size_t i = 0; i < n && rc == 0; i++) {
		size_t need = 0;
		mudsc_graph_unbound(NULL, 0, &need, g, models[i]);
		size_t *idx = calloc(need + 1, sizeof *idx);
		json_t *arr = json_array();
		if (need)
			mudsc_graph_unbound(idx, need, &need, g, models[i]);
		if (!json)
			printf("%s: %zu tensor%s bound to no point%s\n", paths[i], need,
			       need == 1 ? "" : "s", need ? " (averaged as they are):" : "");
		for (size_t k = 0; k < need; k++) {
			mudsc_tensor t;
			mudsc_model_at(&t, models[i], idx[k]);
			if (!json)
				printf("  %s\n", t.name);
			json_array_append_new(arr, json_string(t.name));
		}
		json_object_set_new(unb, paths[i], arr);
		free(idx);
	}
	json_object_set_new(o, "valid", json_boolean(rc == 0));
	json_object_set_new(o, "unbound_tensors", unb);
	json_object_set_new(out, "graph_check", o);
	return rc;
}

int cmd_inspect(int argc, char **argv)
{
	struct graph_spec spec = {0};
	struct strlist files = {0};
	bool json = false, with_graph = false;
	int rc = 0;

	for (int i = 1; i < argc && rc == 0; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage();
			strlist_free(&files);
			graph_spec_free(&spec);
			return 0;
		}
		if (strcmp(a, "--json") == 0) {
			json = true;
		} else if (strcmp(a, "-g") == 0 || strcmp(a, "--graph") == 0 || strcmp(a, "-b") == 0 ||
		           strcmp(a, "--builder") == 0 || strcmp(a, "-O") == 0 ||
		           strcmp(a, "--builder-option") == 0) {
			if (i + 1 >= argc) {
				rc = cli_usage("option '%s' needs a value", a);
				break;
			}
			const char *v = argv[++i];
			with_graph = true;
			if (a[1] == 'g' || a[2] == 'g') {
				free(spec.file);
				spec.file = strdup(v);
			} else if (a[1] == 'b' || a[2] == 'b') {
				if (strcmp(a, "--builder-option") == 0)
					rc = graph_spec_add_kv(&spec, v, "flag --builder-option");
				else {
					free(spec.builder);
					spec.builder = strdup(v);
				}
			} else {
				rc = graph_spec_add_kv(&spec, v, "flag -O");
			}
		} else if (a[0] == '-') {
			rc = cli_usage("unknown option '%s'", a);
		} else {
			strlist_push(&files, a);
		}
	}
	if (rc == 0 && files.n == 0)
		rc = cli_usage("no file to inspect");

	json_t *out = json_object(), *arr = json_array();
	mudsc_model **models = calloc(files.n + 1, sizeof *models);
	const char **mpaths = calloc(files.n + 1, sizeof *mpaths);
	size_t nm = 0;
	for (size_t i = 0; i < files.n && rc == 0; i++) {
		const char *path = files.v[i];
		mudsc_status st;
		if (ends_with(path, ".json")) {
			mudsc_graph *g;
			if ((st = mudsc_graph_load_json(&g, path)) != MUDSC_OK) {
				rc = cli_fail_lib(st, false, "graph file '%s'", path);
				break;
			}
			json_array_append_new(arr, describe_graph(path, g, json));
			mudsc_graph_free(g);
			continue;
		}
		mudsc_model *m;
		if ((st = mudsc_model_load(&m, path)) != MUDSC_OK) {
			rc = cli_fail_lib(st, false, "file '%s'", path);
			break;
		}
		json_array_append_new(arr, describe_model(path, m, json));
		const char *fmt = mudsc_model_get_meta(m, "format");
		if (fmt != NULL && strcmp(fmt, "mudsc.stats") == 0) {
			mudsc_model_free(m);
		} else {
			models[nm] = m;
			mpaths[nm++] = path;
		}
	}
	json_object_set_new(out, "files", arr);
	if (rc == 0 && with_graph) {
		mudsc_graph *g = NULL;
		if (nm == 0)
			rc = cli_usage("--graph checks models: name at least one model file");
		else if ((rc = graph_spec_build(&g, &spec, spec.file ? "flag --graph" : "flag --builder")) == 0)
			rc = check_against(out, g, models, mpaths, nm, json);
		mudsc_graph_free(g);
	}
	if (json && (rc == 0 || rc == EXIT_MISMATCH)) {
		char *text = json_dumps(out, JSON_INDENT(2));
		puts(text);
		free(text);
	}
	json_decref(out);
	for (size_t i = 0; i < nm; i++)
		mudsc_model_free(models[i]);
	free(models);
	free(mpaths);
	strlist_free(&files);
	graph_spec_free(&spec);
	return rc;
}
