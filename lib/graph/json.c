/*
 * The JSON form of mudsc_graph (docs/graph-format.md): loading with the
 * place of every problem named, and a canonical writer.
 *
 * SPDX-License-Identifier: MIT
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "graph/graph.h"

#define PATH_MAX_LEN 96

/* ---- loading ------------------------------------------------------------ */

static bool is_object(const struct mudsc__json *v)
{
	return v->type == MUDSC__JSON_OBJECT;
}

/* A non-empty string (the reader keeps no NUL inside one). */
static bool is_name(const struct mudsc__json *v)
{
	return v->type == MUDSC__JSON_STRING && v->n > 0;
}

/* buf[at..] = "<index>]": the place of an array item, made for every item
 * of a large array without printf. */
static void indexed(char *buf, size_t cap, size_t at, size_t index)
{
	char digits[24];
	size_t n = 0;

	if (at + 2 > cap)
		return;
	do
		digits[n++] = (char)('0' + index % 10);
	while ((index /= 10) != 0);
	for (; n > 0 && at + 2 < cap; at++)
		buf[at] = digits[--n];
	buf[at] = ']';
	buf[at + 1] = '\0';
}

static mudsc_status bad(const char *path, const char *what)
{
	return mudsc__err(MUDSC_E_PARSE, "graph JSON: %s: %s", path, what);
}

/* Re-raise a builder error with the JSON place in front; structural
 * problems become MUDSC_E_PARSE, sizes that do not fit stay MUDSC_E_SHAPE. */
static mudsc_status at_place(mudsc_status st, const char *path)
{
	char msg[512];

	if (st == MUDSC_E_NOMEM)
		return st;
	snprintf(msg, sizeof msg, "%s", mudsc_error_message());
	return mudsc__err(st == MUDSC_E_SHAPE ? MUDSC_E_SHAPE : MUDSC_E_PARSE, "graph JSON: %s: %s",
	                 path, msg);
}

/* Every key of obj is one of allowed (NULL-terminated). */
static mudsc_status only_keys(const struct mudsc__json *obj, const char *const *allowed, const char *path)
{
	char sub[PATH_MAX_LEN + 64];

	for (uint32_t m = 0; m < obj->n; m++) {
		const char *key = obj->u.items[2 * m].u.s;
		bool ok = false;
		for (size_t i = 0; allowed[i] != NULL && !ok; i++)
			ok = strcmp(key, allowed[i]) == 0;
		if (!ok) {
			mudsc__graph_namef(sub, sizeof sub, "%s: unknown key '%.40s'", path, key);
			return mudsc__err(MUDSC_E_PARSE, "graph JSON: %s", sub);
		}
	}
	return MUDSC_OK;
}

static mudsc_status get_string(const struct mudsc__json *obj, const char *key, bool required, const char *path,
                               const char **out)
{
	const struct mudsc__json *v = mudsc__json_get(obj, key);

	*out = NULL;
	if (v == NULL)
		return required ? mudsc__err(MUDSC_E_PARSE, "graph JSON: %s: missing key '%s'", path, key)
		                : MUDSC_OK;
	if (!is_name(v))
		return mudsc__err(MUDSC_E_PARSE, "graph JSON: %s.%s: expected a non-empty string "
		                                "without NUL", path, key);
	*out = v->u.s;
	return MUDSC_OK;
}

static mudsc_status get_int(const struct mudsc__json *obj, const char *key, bool required, int64_t lo, int64_t hi,
                            const char *path, int64_t *out)
{
	const struct mudsc__json *v = mudsc__json_get(obj, key);

	if (v == NULL)
		return required ? mudsc__err(MUDSC_E_PARSE, "graph JSON: %s: missing key '%s'", path, key)
		                : MUDSC_OK;
	if (v->type != MUDSC__JSON_INTEGER)
		return mudsc__err(MUDSC_E_PARSE, "graph JSON: %s.%s: expected an integer", path, key);
	if (v->u.i < lo || v->u.i > hi)
		return mudsc__err(MUDSC_E_SHAPE, "graph JSON: %s.%s: %lld outside %lld..%lld", path, key,
		                 (long long)v->u.i, (long long)lo, (long long)hi);
	*out = v->u.i;
	return MUDSC_OK;
}

static mudsc_status get_array(const struct mudsc__json *obj, const char *key, bool required, const char *path,
                              const struct mudsc__json **out)
{
	*out = mudsc__json_get(obj, key);
	if (*out == NULL)
		return required ? mudsc__err(MUDSC_E_PARSE, "graph JSON: %s: missing key '%s'", path, key)
		                : MUDSC_OK;
	if ((*out)->type != MUDSC__JSON_ARRAY)
		return mudsc__err(MUDSC_E_PARSE, "graph JSON: %s.%s: expected an array", path, key);
	return MUDSC_OK;
}

static mudsc_status load_split(mudsc_graph *g, const struct mudsc__json *js, const char *path)
{
	static const char *const keys[] = {"tensor", "axis", "parts", "sizes", NULL};
	const char *tensor, *names[64];
	const struct mudsc__json *parts, *sizes = NULL;
	int64_t lengths[64];
	int64_t axis = 0;
	mudsc_status st;
	char sub[2 * PATH_MAX_LEN];

	if (!is_object(js))
		return bad(path, "expected an object");
	if ((st = only_keys(js, keys, path)) != MUDSC_OK ||
	    (st = get_string(js, "tensor", true, path, &tensor)) != MUDSC_OK ||
	    (st = get_int(js, "axis", true, 0, MUDSC_MAX_RANK - 1, path, &axis)) != MUDSC_OK ||
	    (st = get_array(js, "parts", true, path, &parts)) != MUDSC_OK ||
	    (st = get_array(js, "sizes", false, path, &sizes)) != MUDSC_OK)
		return st;
	if (sizes != NULL && sizes->n != parts->n)
		return mudsc__err(MUDSC_E_PARSE, "graph JSON: %s.sizes: %zu sizes for %zu parts", path,
		                 (size_t)sizes->n, (size_t)parts->n);
	if (parts->n < 2 || parts->n > 64)
		return mudsc__err(MUDSC_E_PARSE, "graph JSON: %s.parts: %zu names, need 2..64", path,
		                 (size_t)parts->n);
	for (size_t k = 0; k < parts->n; k++) {
		const struct mudsc__json *v = &parts->u.items[k];
		if (!is_name(v)) {
			mudsc__graph_namef(sub, sizeof sub, "%s.parts[%zu]", path, k);
			return bad(sub, "expected a non-empty string without NUL");
		}
		names[k] = v->u.s;
		if (sizes != NULL) {
			const struct mudsc__json *z = &sizes->u.items[k];
			mudsc__graph_namef(sub, sizeof sub, "%s.sizes[%zu]", path, k);
			if (z->type != MUDSC__JSON_INTEGER)
				return bad(sub, "expected an integer");
			if (z->u.i < 1)
				return mudsc__err(MUDSC_E_SHAPE, "graph JSON: %s: %lld (need >= 1)", sub,
				                 (long long)z->u.i);
			lengths[k] = z->u.i;
		}
	}
	if (sizes != NULL)
		st = mudsc_graph_add_concat(g, tensor, (int32_t)axis, parts->n, names, lengths);
	else
		st = mudsc_graph_add_split(g, tensor, (int32_t)axis, parts->n, names);
	return st == MUDSC_OK ? st : at_place(st, path);
}

static mudsc_status load_binding(mudsc_graph *g, size_t point, const struct mudsc__json *jb, const char *path)
{
	static const char *const keys[] = {"tensor", "part", "axis", "role", "ignore", "repeat",
	                                   NULL};
	const char *tensor, *part, *role;
	const struct mudsc__json *ignore;
	int64_t axis = 0, repeat = 1;
	mudsc_status st;

	if (!is_object(jb))
		return bad(path, "expected an object");
	if ((st = only_keys(jb, keys, path)) != MUDSC_OK ||
	    (st = get_string(jb, "tensor", true, path, &tensor)) != MUDSC_OK ||
	    (st = get_string(jb, "part", false, path, &part)) != MUDSC_OK ||
	    (st = get_int(jb, "axis", true, 0, MUDSC_MAX_RANK - 1, path, &axis)) != MUDSC_OK ||
	    (st = get_string(jb, "role", true, path, &role)) != MUDSC_OK ||
	    (st = get_int(jb, "repeat", false, 1, INT64_MAX, path, &repeat)) != MUDSC_OK)
		return st;
	if (strcmp(role, "out") != 0 && strcmp(role, "in") != 0)
		return mudsc__err(MUDSC_E_PARSE, "graph JSON: %s.role: '%.40s' is not \"out\" or \"in\"",
		                 path, role);
	ignore = mudsc__json_get(jb, "ignore");
	if (ignore != NULL && ignore->type != MUDSC__JSON_TRUE &&
	    ignore->type != MUDSC__JSON_FALSE)
		return mudsc__err(MUDSC_E_PARSE, "graph JSON: %s.ignore: expected true or false", path);
	st = mudsc_graph_bind_repeat(g, point, tensor, part, (int32_t)axis,
	                             role[0] == 'o' ? MUDSC_ROLE_OUT : MUDSC_ROLE_IN,
	                             ignore != NULL && ignore->type == MUDSC__JSON_TRUE
	                                     ? MUDSC_BIND_IGNORE
	                                     : 0,
	                             repeat);
	return st == MUDSC_OK ? st : at_place(st, path);
}

static mudsc_status load_site(mudsc_graph *g, size_t point, const struct mudsc__json *js, const char *path)
{
	static const char *const keys[] = {"name", "axis", "offset", NULL};
	const char *name;
	int64_t axis = 0, offset = 0;
	mudsc_status st;
	char sub[2 * PATH_MAX_LEN];

	mudsc__graph_namef(sub, sizeof sub, "%s.site", path);
	if (!is_object(js))
		return bad(sub, "expected an object");
	if ((st = only_keys(js, keys, sub)) != MUDSC_OK ||
	    (st = get_string(js, "name", true, sub, &name)) != MUDSC_OK ||
	    (st = get_int(js, "axis", true, INT32_MIN, INT32_MAX, sub, &axis)) != MUDSC_OK ||
	    (st = get_int(js, "offset", false, 0, INT64_MAX, sub, &offset)) != MUDSC_OK)
		return st;
	st = mudsc_graph_set_site(g, point, name, (int32_t)axis);
	if (st == MUDSC_OK && offset != 0)
		st = mudsc_graph_set_site_offset(g, point, offset);
	return st == MUDSC_OK ? st : at_place(st, sub);
}

static mudsc_status load_point(mudsc_graph *g, const struct mudsc__json *jp, const char *path)
{
	static const char *const keys[] = {"name", "width", "groups", "site", "bindings", NULL};
	const char *name;
	const struct mudsc__json *site, *bindings;
	int64_t width = 0, groups = 1;
	size_t index;
	mudsc_status st;
	char sub[2 * PATH_MAX_LEN];

	if (!is_object(jp))
		return bad(path, "expected an object");
	if ((st = only_keys(jp, keys, path)) != MUDSC_OK ||
	    (st = get_string(jp, "name", true, path, &name)) != MUDSC_OK ||
	    (st = get_int(jp, "width", true, 1, INT64_MAX, path, &width)) != MUDSC_OK ||
	    (st = get_int(jp, "groups", false, 1, INT64_MAX, path, &groups)) != MUDSC_OK ||
	    (st = get_array(jp, "bindings", true, path, &bindings)) != MUDSC_OK)
		return st;
	if (width % groups != 0)
		return mudsc__err(MUDSC_E_SHAPE, "graph JSON: %s.groups: %lld does not divide width %lld",
		                 path, (long long)groups, (long long)width);
	if ((st = mudsc_graph_add_point(&index, g, name, width, groups)) != MUDSC_OK)
		return at_place(st, path);
	site = mudsc__json_get(jp, "site");
	if (site != NULL && (st = load_site(g, index, site, path)) != MUDSC_OK)
		return st;
	mudsc__graph_namef(sub, sizeof sub, "%s.bindings[", path);
	for (size_t b = 0, at = strlen(sub); b < bindings->n; b++) {
		indexed(sub, sizeof sub, at, b);
		if ((st = load_binding(g, index, &bindings->u.items[b], sub)) != MUDSC_OK)
			return st;
	}
	return MUDSC_OK;
}

static mudsc_status load_top(mudsc_graph *g, const struct mudsc__json *root)
{
	static const char *const keys[] = {"format", "version", "splits", "points", NULL};
	const char *format;
	const struct mudsc__json *splits = NULL, *points, *jv;
	int64_t version = 0;
	mudsc_status st;
	char sub[2 * PATH_MAX_LEN];

	if (!is_object(root))
		return bad("(top level)", "expected an object");
	if ((st = only_keys(root, keys, "(top level)")) != MUDSC_OK ||
	    (st = get_string(root, "format", true, "(top level)", &format)) != MUDSC_OK)
		return st;
	if (strcmp(format, "mudsc-graph") != 0)
		return bad("format", "expected \"mudsc-graph\"");
	jv = mudsc__json_get(root, "version");
	if (jv == NULL || jv->type != MUDSC__JSON_INTEGER)
		return bad("version", "missing or not an integer");
	version = jv->u.i;
	if (version < 1 || version > MUDSC_GRAPH_FORMAT_VERSION)
		return mudsc__err(MUDSC_E_PARSE, "graph JSON: version: %lld is not a version this "
		                                "library reads (1..%d)", (long long)version,
		                 MUDSC_GRAPH_FORMAT_VERSION);
	if ((st = get_array(root, "splits", false, "(top level)", &splits)) != MUDSC_OK ||
	    (st = get_array(root, "points", true, "(top level)", &points)) != MUDSC_OK)
		return st;
	/* splits first, whatever the key order: parts are bound by name */
	for (size_t s = 0; splits != NULL && s < splits->n; s++) {
		mudsc__graph_namef(sub, sizeof sub, "splits[%zu]", s);
		if ((st = load_split(g, &splits->u.items[s], sub)) != MUDSC_OK)
			return st;
	}
	for (size_t p = 0; p < points->n; p++) {
		mudsc__graph_namef(sub, sizeof sub, "points[%zu]", p);
		if ((st = load_point(g, &points->u.items[p], sub)) != MUDSC_OK)
			return st;
	}
	if (version == 1 && mudsc__graph_needs_v2(g))
		return bad("version", "1 has no concatenations ('sizes'), repeated bindings "
		                      "('repeat') nor site offsets ('offset'): use version 2");
	return MUDSC_OK;
}

/* Read a graph from text[0, len) into *out; messages are the reader's,
 * the public function puts its name in front. */
static mudsc_status from_json(mudsc_graph **out, const char *text, size_t len)
{
	struct mudsc__json_doc doc;
	mudsc_graph *g = NULL;
	mudsc_status st;

	st = mudsc__json_parse(&doc, text, len, "graph JSON");
	if (st == MUDSC_OK)
		st = mudsc_graph_new(&g);
	if (st == MUDSC_OK)
		st = load_top(g, &doc.root);
	mudsc__json_free(&doc);
	if (st != MUDSC_OK) {
		mudsc_graph_free(g);
		return st;
	}
	*out = g;
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_graph_from_json(mudsc_graph **out, const char *text, size_t len)
{
	mudsc_status st;

	MUDSC__CHECK_NULL(out);
	MUDSC__CHECK_ARG(text != NULL || len == 0, "text");
	st = from_json(out, text ? text : "", len);
	return st == MUDSC_OK ? st : mudsc__err_context(st, "mudsc_graph_from_json");
}

MUDSC_API mudsc_status mudsc_graph_load_json(mudsc_graph **out, const char *path)
{
	struct mudsc__file file;
	mudsc_status st;

	MUDSC__CHECK_NULL(out);
	MUDSC__CHECK_NULL(path);
	if ((st = mudsc__file_map(&file, path, "mudsc_graph_load_json")) != MUDSC_OK)
		return st;
	/* an empty file is empty text, not a NULL argument */
	st = from_json(out, file.data != NULL ? (const char *)file.data : "", file.len);
	mudsc__file_unmap(file.data, file.len);
	return st == MUDSC_OK ? st : mudsc__err_context(st, "mudsc_graph_load_json: '%s'", path);
}

/* ---- writing ------------------------------------------------------------ */

/* json_object_set_new that records a failure in *ok. */
static void put(json_t *obj, const char *key, json_t *v, bool *ok)
{
	if (v == NULL || json_object_set_new(obj, key, v) != 0)
		*ok = false;
}

static void push(json_t *arr, json_t *v, bool *ok)
{
	if (v == NULL || json_array_append_new(arr, v) != 0)
		*ok = false;
}

static json_t *dump_split(const struct graph_split *s, bool *ok)
{
	json_t *o = json_object(), *parts = json_array();

	for (size_t k = 0; k < s->n_parts && parts != NULL; k++)
		push(parts, json_string(s->parts[k]), ok);
	if (o == NULL) {
		json_decref(parts);
		*ok = false;
		return NULL;
	}
	put(o, "tensor", json_string(s->tensor), ok);
	put(o, "axis", json_integer(s->axis), ok);
	put(o, "parts", parts, ok);
	if (s->sizes != NULL) {
		json_t *sizes = json_array();
		for (size_t k = 0; k < s->n_parts && sizes != NULL; k++)
			push(sizes, json_integer(s->sizes[k]), ok);
		put(o, "sizes", sizes, ok);
	}
	return o;
}

static json_t *dump_binding(const mudsc_graph *g, const struct graph_binding *b, bool *ok)
{
	json_t *o = json_object();

	if (o == NULL) {
		*ok = false;
		return NULL;
	}
	put(o, "tensor", json_string(b->tensor), ok);
	if (b->part >= 0)
		put(o, "part", json_string(mudsc__graph_split_of(g, b->tensor)->parts[b->part]), ok);
	put(o, "axis", json_integer(b->axis), ok);
	put(o, "role", json_string(b->role == MUDSC_ROLE_OUT ? "out" : "in"), ok);
	if (b->flags & MUDSC_BIND_IGNORE)
		put(o, "ignore", json_true(), ok);
	if (b->repeat != 1)
		put(o, "repeat", json_integer(b->repeat), ok);
	return o;
}

/* A point's site; "offset" only when it is not 0, so graphs without one dump as before. */
static json_t *dump_site(const struct graph_point *p, bool *ok)
{
	json_t *o = json_pack("{s:s, s:i}", "name", p->site_name, "axis", (int)p->site_axis);

	if (o == NULL) {
		*ok = false;
		return NULL;
	}
	if (p->site_offset != 0)
		put(o, "offset", json_integer(p->site_offset), ok);
	return o;
}

static json_t *dump_point(const mudsc_graph *g, const struct graph_point *p, bool *ok)
{
	json_t *o = json_object(), *bindings = json_array();

	for (size_t b = 0; b < p->n_bindings && bindings != NULL; b++)
		push(bindings, dump_binding(g, &p->bindings[b], ok), ok);
	if (o == NULL) {
		json_decref(bindings);
		*ok = false;
		return NULL;
	}
	put(o, "name", json_string(p->name), ok);
	put(o, "width", json_integer(p->width), ok);
	put(o, "groups", json_integer(p->groups), ok);
	if (p->site_name != NULL)
		put(o, "site", dump_site(p, ok), ok);
	put(o, "bindings", bindings, ok);
	return o;
}

static json_t *dump_graph(const mudsc_graph *g)
{
	json_t *root = json_object(), *splits = json_array(), *points = json_array();
	bool ok = root != NULL && splits != NULL && points != NULL;

	for (size_t s = 0; ok && s < g->n_splits; s++)
		push(splits, dump_split(&g->splits[s], &ok), &ok);
	for (size_t p = 0; ok && p < g->n_points; p++)
		push(points, dump_point(g, &g->points[p], &ok), &ok);
	if (root == NULL) {
		json_decref(splits);
		json_decref(points);
		return NULL;
	}
	put(root, "format", json_string("mudsc-graph"), &ok);
	put(root, "version", json_integer(mudsc__graph_needs_v2(g) ? 2 : 1), &ok);
	put(root, "splits", splits, &ok);
	put(root, "points", points, &ok);
	if (!ok) {
		json_decref(root);
		return NULL;
	}
	return root;
}

MUDSC_API mudsc_status mudsc_graph_to_json(char **out_text, size_t *out_len,
                                           const mudsc_graph *graph)
{
	json_t *root;
	char *text, *with_nl;
	size_t n;

	MUDSC__CHECK_NULL(graph);
	MUDSC__CHECK_NULL(out_text);
	root = dump_graph(graph);
	if (root == NULL)
		return mudsc__err(MUDSC_E_NOMEM, "mudsc_graph_to_json: out of memory building JSON");
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (text == NULL)
		return mudsc__err(MUDSC_E_NOMEM, "mudsc_graph_to_json: out of memory writing JSON");
	n = strlen(text);
	/* our own allocation, so the caller frees with mudsc_free() (= free) */
	with_nl = mudsc__alloc(n + 2, "graph JSON text");
	if (with_nl != NULL) {
		memcpy(with_nl, text, n);
		with_nl[n] = '\n';
		with_nl[n + 1] = '\0';
	}
	free(text);
	if (with_nl == NULL)
		return MUDSC_E_NOMEM;
	*out_text = with_nl;
	if (out_len != NULL)
		*out_len = n + 1;
	return MUDSC_OK;
}

struct json_text {
	const char *text;
	size_t len;
};

static mudsc_status write_text(int fd, const char *tmp, void *ctx)
{
	const struct json_text *t = ctx;

	return mudsc__write_all("mudsc_graph_save_json", fd, t->text, t->len, tmp);
}

MUDSC_API mudsc_status mudsc_graph_save_json(const mudsc_graph *graph, const char *path)
{
	struct json_text t;
	char *text = NULL;
	mudsc_status st;

	MUDSC__CHECK_NULL(graph);
	MUDSC__CHECK_NULL(path);
	if ((st = mudsc_graph_to_json(&text, &t.len, graph)) != MUDSC_OK)
		return st;
	t.text = text;
	st = mudsc__atomic_write("mudsc_graph_save_json", path, write_text, &t);
	free(text);
	return st;
}
