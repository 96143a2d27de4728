/*
 * The merge config file, read with libyaml (YAML 1.1; JSON documents are
 * YAML too, so JSON is read by the same parser), and the merge settings
 * set from flags.  Every error names the file, the line and column and the
 * field ("models[1].weight").
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config.h"

void merge_config_init(struct merge_config *c)
{
	memset(c, 0, sizeof *c);
	mudsc_matcher_options_init(&c->opts);
	c->transform = -1;
}

void merge_config_free(struct merge_config *c)
{
	strlist_free(&c->models);
	strlist_free(&c->stats);
	free(c->weights);
	graph_spec_free(&c->graph);
	free(c->output);
	free(c->report);
	memset(c, 0, sizeof *c);
}

static char *dup(const char *s)
{
	char *d = malloc(strlen(s) + 1);
	if (d == NULL)
		exit(EXIT_MEMORY);
	return strcpy(d, s);
}

/* ---- one setting from text (flags and config scalars) ---- */

struct setting {
	const char *name;
	const char *what; /* expected, for messages */
};

static int bad(const char *where, const char *key, const char *value, const char *expect)
{
	return cli_fail(EXIT_CONFIG, "see 'mudsc merge --help' and docs/cli.md",
	                "%s: '%s' = '%s' is not %s", where, key, value, expect);
}

int merge_config_set(struct merge_config *c, const char *key, const char *v, const char *where)
{
	mudsc_matcher_options *o = &c->opts;
	double d;
	int64_t i;
	int b;

	if (strcmp(key, "method") == 0) {
		if (strcmp(v, "align") == 0)
			o->method = MUDSC_METHOD_ALIGN;
		else if (strcmp(v, "zip") == 0)
			o->method = MUDSC_METHOD_ZIP;
		else if (strcmp(v, "cca") == 0)
			o->method = MUDSC_METHOD_CCA;
		else
			return bad(where, key, v, "align, zip or cca");
	} else if (strcmp(key, "similarity") == 0) {
		if (strcmp(v, "correlation") == 0)
			o->similarity = MUDSC_SIMILARITY_CORRELATION;
		else if (strcmp(v, "cosine") == 0)
			o->similarity = MUDSC_SIMILARITY_COSINE;
		else
			return bad(where, key, v, "correlation or cosine");
	} else if (strcmp(key, "alpha") == 0) {
		if (!cli_parse_double(v, &d) || d < 0 || d > 1)
			return bad(where, key, v, "a number in [0, 1]");
		o->alpha = d;
		c->alpha_given = true;
	} else if (strcmp(key, "zip_r") == 0 || strcmp(key, "zip.r") == 0) {
		if (!cli_parse_double(v, &d) || d <= 0 || d >= 1)
			return bad(where, key, v, "a number in (0, 1)");
		o->zip_r = d;
	} else if (strcmp(key, "zip_a") == 0 || strcmp(key, "zip.a") == 0) {
		if (!cli_parse_double(v, &d) || d < 0)
			return bad(where, key, v, "a number >= 0");
		o->zip_a = d;
	} else if (strcmp(key, "zip_b") == 0 || strcmp(key, "zip.b") == 0) {
		if (!cli_parse_double(v, &d) || d < 0)
			return bad(where, key, v, "a number >= 0");
		o->zip_b = d;
	} else if (strcmp(key, "cca_ridge") == 0) {
		if (!cli_parse_double(v, &d) || d < 0)
			return bad(where, key, v, "a number >= 0");
		o->cca_ridge = d;
	} else if (strcmp(key, "use_groups") == 0) {
		if (!cli_parse_bool(v, &b))
			return bad(where, key, v, "true or false");
		o->use_groups = b;
	} else if (strcmp(key, "sweeps") == 0) {
		if (!cli_parse_i64(v, &i) || i < 1 || i > INT32_MAX)
			return bad(where, key, v, "an integer >= 1");
		o->max_iter = (int32_t)i;
	} else if (strcmp(key, "patience") == 0) {
		if (!cli_parse_i64(v, &i) || i < 1 || i > INT32_MAX)
			return bad(where, key, v, "an integer >= 1");
		o->patience = (int32_t)i;
	} else if (strcmp(key, "seed") == 0) {
		if (!cli_parse_i64(v, &i) || i < 0)
			return bad(where, key, v, "an integer >= 0");
		o->seed = (uint64_t)i;
	} else if (strcmp(key, "sweep_order") == 0) {
		if (strcmp(v, "random") == 0)
			o->sweep_order = MUDSC_SWEEP_RANDOM;
		else if (strcmp(v, "graph_first") == 0)
			o->sweep_order = MUDSC_SWEEP_GRAPH_FIRST;
		else
			return bad(where, key, v, "random or graph_first");
	} else if (strcmp(key, "threads") == 0) {
		if (!cli_parse_i64(v, &i) || i < 0 || i > 256)
			return bad(where, key, v, "an integer in 0..256 (0: all cores)");
		o->threads = (int32_t)i;
	} else if (strcmp(key, "eps") == 0) {
		if (!cli_parse_double(v, &d) || d <= 0)
			return bad(where, key, v, "a number > 0");
		o->eps = d;
	} else if (strcmp(key, "max_memory") == 0) {
		char *end;
		double x = strtod(v, &end);
		double unit = 1;
		if (end == v || x < 0)
			return bad(where, key, v, "a size such as 8G, 512M or 0 (no limit)");
		switch (*end) {
		case 'K': case 'k': unit = 1024.0; end++; break;
		case 'M': case 'm': unit = 1048576.0; end++; break;
		case 'G': case 'g': unit = 1073741824.0; end++; break;
		case 'T': case 't': unit = 1099511627776.0; end++; break;
		default: break;
		}
		if (*end == 'B' || *end == 'b')
			end++;
		if (*end != '\0' || x * unit > 9.2e18)
			return bad(where, key, v, "a size such as 8G, 512M or 0 (no limit)");
		o->max_memory = (int64_t)(x * unit);
	} else if (strcmp(key, "output") == 0) {
		free(c->output);
		c->output = dup(v);
	} else if (strcmp(key, "report") == 0) {
		free(c->report);
		c->report = dup(v);
	} else if (strcmp(key, "transform") == 0) {
		if (!cli_parse_i64(v, &i) || i < 0 || i > INT32_MAX)
			return bad(where, key, v, "a model index >= 0");
		c->transform = (int32_t)i;
	} else {
		return cli_fail(EXIT_CONFIG, "see docs/cli.md for the settings",
		                "%s: unknown setting '%s'", where, key);
	}
	return 0;
}

/* ---- the file ---- */

struct reader {
	const char *path;
	const char *dir; /* the file's folder: relative paths start there */
	yaml_document_t doc;
	struct merge_config *c;
};

static yaml_node_t *node(struct reader *r, int id)
{
	return yaml_document_get_node(&r->doc, id);
}

static int at_fail(struct reader *r, const yaml_node_t *n, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int at_fail(struct reader *r, const yaml_node_t *n, const char *hint, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return cli_fail(EXIT_CONFIG, hint ? hint : "docs/cli.md has the config schema",
	                "%s:%zu:%zu: %s", r->path, n->start_mark.line + 1,
	                n->start_mark.column + 1, msg);
}

static const char *kind_name(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE ? "a scalar"
	       : n->type == YAML_SEQUENCE_NODE ? "a list" : "a mapping";
}

/* The scalar text of n, or an error naming field. */
static int scalar(struct reader *r, yaml_node_t *n, const char *field, const char **out)
{
	*out = "";
	if (n->type != YAML_SCALAR_NODE)
		return at_fail(r, n, NULL, "field '%s': expected a single value, got %s", field,
		               kind_name(n));
	*out = (const char *)n->data.scalar.value;
	return 0;
}

static int set_scalar_field(struct reader *r, yaml_node_t *n, const char *key, const char *field)
{
	const char *v;
	char where[512];
	int rc = scalar(r, n, field, &v);
	if (rc)
		return rc;
	snprintf(where, sizeof where, "%s:%zu:%zu: field '%s'", r->path, n->start_mark.line + 1,
	         n->start_mark.column + 1, field);
	if (strcmp(key, "output") == 0 || strcmp(key, "report") == 0) {
		char *p = cli_resolve(r->dir, v);
		rc = merge_config_set(r->c, key, p, where);
		free(p);
		return rc;
	}
	return merge_config_set(r->c, key, v, where);
}

/* One entry of models: a path, or {path: P, weight: W}. */
static int model_entry(struct reader *r, yaml_node_t *n, size_t index)
{
	char field[64];
	const char *path = NULL, *weight = NULL;
	int rc;
	snprintf(field, sizeof field, "models[%zu]", index);
	if (n->type == YAML_SCALAR_NODE) {
		path = (const char *)n->data.scalar.value;
	} else if (n->type == YAML_MAPPING_NODE) {
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
		     p++) {
			yaml_node_t *k = node(r, p->key), *v = node(r, p->value);
			const char *key;
			char sub[96];
			if ((rc = scalar(r, k, field, &key)) != 0)
				return rc;
			snprintf(sub, sizeof sub, "%s.%s", field, key);
			if (strcmp(key, "path") == 0 || strcmp(key, "model") == 0)
				rc = scalar(r, v, sub, &path);
			else if (strcmp(key, "weight") == 0)
				rc = scalar(r, v, sub, &weight);
			else
				rc = at_fail(r, k, "a model entry has 'path' and optionally 'weight'",
				             "field '%s': unknown key '%s'", field, key);
			if (rc)
				return rc;
		}
		if (path == NULL)
			return at_fail(r, n, "e.g. {path: a.safetensors, weight: 0.5}",
			               "field '%s': no '%s'", field, "path");
	} else {
		return at_fail(r, n, "e.g. - path: a.safetensors", "field '%s': expected a path or a "
		               "mapping, got %s", field, kind_name(n));
	}
	char *resolved = cli_resolve(r->dir, path);
	strlist_push(&r->c->models, resolved);
	free(resolved);
	r->c->weights = realloc(r->c->weights, r->c->models.n * sizeof *r->c->weights);
	r->c->nweights = r->c->models.n;
	r->c->weights[index] = NAN;
	if (weight != NULL) {
		double w;
		if (!cli_parse_double(weight, &w))
			return at_fail(r, n, NULL, "field '%s.weight': '%s' is not a number", field, weight);
		r->c->weights[index] = w;
	}
	return 0;
}

static int list_of_paths(struct reader *r, yaml_node_t *n, const char *field,
                         struct strlist *out)
{
	if (n->type == YAML_SCALAR_NODE) {
		char *p = cli_resolve(r->dir, (const char *)n->data.scalar.value);
		strlist_push(out, p);
		free(p);
		return 0;
	}
	if (n->type != YAML_SEQUENCE_NODE)
		return at_fail(r, n, NULL, "field '%s': expected a path or a list of paths, got %s",
		               field, kind_name(n));
	size_t i = 0;
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
	     it++, i++) {
		char sub[64];
		const char *v;
		int rc;
		snprintf(sub, sizeof sub, "%s[%zu]", field, i);
		if ((rc = scalar(r, node(r, *it), sub, &v)) != 0)
			return rc;
		char *p = cli_resolve(r->dir, v);
		strlist_push(out, p);
		free(p);
	}
	return 0;
}

/* An option value of a builder as text: scalars as they are, lists joined by commas. */
static int option_text(struct reader *r, yaml_node_t *n, const char *field, char *buf,
                       size_t cap)
{
	buf[0] = '\0';
	if (n->type == YAML_SCALAR_NODE) {
		snprintf(buf, cap, "%s", (const char *)n->data.scalar.value);
		return 0;
	}
	if (n->type != YAML_SEQUENCE_NODE)
		return at_fail(r, n, NULL, "field '%s': expected a value or a list, got %s", field,
		               kind_name(n));
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
	     it++) {
		const char *v;
		int rc = scalar(r, node(r, *it), field, &v);
		if (rc)
			return rc;
		if (it != n->data.sequence.items.start)
			strncat(buf, ",", cap - strlen(buf) - 1);
		strncat(buf, v, cap - strlen(buf) - 1);
	}
	return 0;
}

/* graph: FILE.json, or {file: F} or {builder: NAME, options: {...}} */
static int graph_entry(struct reader *r, yaml_node_t *n)
{
	struct graph_spec *g = &r->c->graph;
	int rc;
	if (n->type == YAML_SCALAR_NODE) {
		const char *v = (const char *)n->data.scalar.value;
		if (strstr(v, ".json") != NULL || strchr(v, '/') != NULL) {
			g->file = cli_resolve(r->dir, v);
		} else {
			g->builder = dup(v);
		}
		return 0;
	}
	if (n->type != YAML_MAPPING_NODE)
		return at_fail(r, n, "e.g. graph: {builder: mlp, options: {hidden: [512, 512]}}",
		               "field '%s': expected a file name or a mapping, got %s", "graph",
		               kind_name(n));
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(r, p->key), *v = node(r, p->value);
		const char *key, *val;
		if ((rc = scalar(r, k, "graph", &key)) != 0)
			return rc;
		if (strcmp(key, "file") == 0) {
			if ((rc = scalar(r, v, "graph.file", &val)) != 0)
				return rc;
			free(g->file);
			g->file = cli_resolve(r->dir, val);
		} else if (strcmp(key, "builder") == 0) {
			if ((rc = scalar(r, v, "graph.builder", &val)) != 0)
				return rc;
			free(g->builder);
			g->builder = dup(val);
		} else if (strcmp(key, "options") == 0) {
			if (v->type != YAML_MAPPING_NODE)
				return at_fail(r, v, NULL, "field '%s': expected a mapping, got %s",
				               "graph.options", kind_name(v));
			for (yaml_node_pair_t *q = v->data.mapping.pairs.start;
			     q < v->data.mapping.pairs.top; q++) {
				yaml_node_t *ok = node(r, q->key), *ov = node(r, q->value);
				const char *okey;
				char text[1024], where[512], field[256];
				if ((rc = scalar(r, ok, "graph.options", &okey)) != 0)
					return rc;
				snprintf(field, sizeof field, "graph.options.%s", okey);
				if ((rc = option_text(r, ov, field, text, sizeof text)) != 0)
					return rc;
				snprintf(where, sizeof where, "%s:%zu:%zu: field '%s'", r->path,
				         ov->start_mark.line + 1, ov->start_mark.column + 1, field);
				strlist_push(&g->keys, okey);
				strlist_push(&g->values, text);
				strlist_push(&g->wheres, where);
			}
		} else {
			return at_fail(r, k, "graph has 'file', or 'builder' and 'options'",
			               "field '%s': unknown key '%s'", "graph", key);
		}
	}
	return 0;
}

static const char *const top_keys[] = {
	"models", "graph", "statistics", "method", "alpha", "similarity", "zip", "cca_ridge",
	"use_groups", "sweeps", "patience", "seed", "sweep_order", "threads", "eps", "max_memory",
	"output", "report", "transform", NULL};

static int top_level(struct reader *r, yaml_node_t *root)
{
	int rc;
	if (root->type != YAML_MAPPING_NODE)
		return at_fail(r, root, "a config is a mapping: models, graph, output, ...",
		               "%s: expected a mapping at the top, got %s", "document",
		               kind_name(root));
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = node(r, p->key), *v = node(r, p->value);
		const char *key;
		if ((rc = scalar(r, k, "(top level)", &key)) != 0)
			return rc;
		bool known = false;
		for (size_t i = 0; top_keys[i]; i++)
			known |= strcmp(top_keys[i], key) == 0;
		for (yaml_node_pair_t *q = root->data.mapping.pairs.start; q < p; q++) {
			yaml_node_t *prev = node(r, q->key);
			if (prev->type == YAML_SCALAR_NODE &&
			    strcmp((const char *)prev->data.scalar.value, key) == 0)
				return at_fail(r, k, "give each field once", "field '%s' given twice (first "
				               "at line %zu)", key, prev->start_mark.line + 1);
		}
		if (!known) {
			char hint[512] = "the fields are";
			for (size_t i = 0; top_keys[i]; i++) {
				strncat(hint, i ? ", " : " ", sizeof hint - strlen(hint) - 1);
				strncat(hint, top_keys[i], sizeof hint - strlen(hint) - 1);
			}
			return at_fail(r, k, hint, "unknown field '%s'%s", key, "");
		}
		if (strcmp(key, "models") == 0) {
			if (v->type != YAML_SEQUENCE_NODE)
				return at_fail(r, v, "e.g. models: [{path: a.safetensors}, {path: b.safetensors}]",
				               "field '%s': expected a list, got %s", "models", kind_name(v));
			size_t i = r->c->models.n;
			for (yaml_node_item_t *it = v->data.sequence.items.start;
			     it < v->data.sequence.items.top; it++, i++)
				if ((rc = model_entry(r, node(r, *it), i)) != 0)
					return rc;
		} else if (strcmp(key, "graph") == 0) {
			if ((rc = graph_entry(r, v)) != 0)
				return rc;
		} else if (strcmp(key, "statistics") == 0) {
			if ((rc = list_of_paths(r, v, "statistics", &r->c->stats)) != 0)
				return rc;
		} else if (strcmp(key, "zip") == 0) {
			if (v->type != YAML_MAPPING_NODE)
				return at_fail(r, v, "e.g. zip: {r: 0.5, a: 0.5, b: 1}",
				               "field '%s': expected a mapping, got %s", "zip", kind_name(v));
			for (yaml_node_pair_t *q = v->data.mapping.pairs.start;
			     q < v->data.mapping.pairs.top; q++) {
				const char *zk;
				char field[64];
				if ((rc = scalar(r, node(r, q->key), "zip", &zk)) != 0)
					return rc;
				if (strcmp(zk, "r") && strcmp(zk, "a") && strcmp(zk, "b"))
					return at_fail(r, node(r, q->key), "zip has r, a and b",
					               "field '%s': unknown key '%s'", "zip", zk);
				snprintf(field, sizeof field, "zip.%s", zk);
				if ((rc = set_scalar_field(r, node(r, q->value), field, field)) != 0)
					return rc;
			}
		} else if ((rc = set_scalar_field(r, v, key, key)) != 0) {
			return rc;
		}
	}
	return 0;
}

int merge_config_load(struct merge_config *c, const char *path)
{
	yaml_parser_t parser;
	struct reader r = {.path = path, .c = c};
	FILE *fp = fopen(path, "rb");
	int rc = 0;

	if (fp == NULL)
		return cli_fail(EXIT_INPUT, "check the path of the config file", "config file '%s': "
		                "cannot open: %s", path, strerror(errno));
	if (!yaml_parser_initialize(&parser)) {
		fclose(fp);
		return cli_fail(EXIT_MEMORY, NULL, "config file '%s': out of memory", path);
	}
	yaml_parser_set_input_file(&parser, fp);
	if (!yaml_parser_load(&parser, &r.doc)) {
		const yaml_mark_t *m = parser.problem ? &parser.problem_mark : &parser.mark;
		rc = cli_fail(EXIT_CONFIG, "fix the YAML (or JSON) syntax at that place",
		              "%s:%zu:%zu: %s%s%s", path, m->line + 1, m->column + 1,
		              parser.problem ? parser.problem : "cannot read the file",
		              parser.context ? " " : "", parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		fclose(fp);
		return rc;
	}
	yaml_parser_delete(&parser);
	fclose(fp);
	char *dir = cli_dirname(path);
	r.dir = dir;
	yaml_node_t *root = yaml_document_get_root_node(&r.doc);
	if (root == NULL)
		rc = cli_fail(EXIT_CONFIG, "a config names at least models, graph and output",
		              "config file '%s' is empty", path);
	else
		rc = top_level(&r, root);
	yaml_document_delete(&r.doc);
	free(dir);
	return rc;
}
