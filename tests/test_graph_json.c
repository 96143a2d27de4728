/* The JSON form of mudsc_graph: exact round trips (text and files), and
 * malformed documents rejected with MUDSC_E_PARSE or MUDSC_E_SHAPE and a
 * message naming the place. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "suites.h"
#include "testutil.h"

static char *to_json(const mudsc_graph *g)
{
	char *text = NULL;
	size_t len = 0;
	ck_assert_ok(mudsc_graph_to_json(&text, &len, g));
	ck_assert_uint_eq(strlen(text), len);
	ck_assert(len > 0 && text[len - 1] == '\n');
	return text;
}

static mudsc_graph *from_json(const char *text)
{
	mudsc_graph *g = NULL;
	ck_assert_ok(mudsc_graph_from_json(&g, text, strlen(text)));
	return g;
}

/* Two graphs describe the same thing, checked through the accessors. */
static void assert_same_graph(const mudsc_graph *a, const mudsc_graph *b)
{
	mudsc_point_info pa, pb;
	mudsc_binding_info ba, bb;
	mudsc_split_info sa, sb;

	ck_assert_uint_eq(mudsc_graph_point_count(a), mudsc_graph_point_count(b));
	ck_assert_uint_eq(mudsc_graph_split_count(a), mudsc_graph_split_count(b));
	for (size_t s = 0; s < mudsc_graph_split_count(a); s++) {
		ck_assert_ok(mudsc_graph_split_at(&sa, a, s));
		ck_assert_ok(mudsc_graph_split_at(&sb, b, s));
		ck_assert_str_eq(sa.tensor, sb.tensor);
		ck_assert_int_eq(sa.axis, sb.axis);
		ck_assert_uint_eq(sa.part_count, sb.part_count);
		for (size_t k = 0; k < sa.part_count; k++)
			ck_assert_str_eq(sa.parts[k], sb.parts[k]);
	}
	for (size_t p = 0; p < mudsc_graph_point_count(a); p++) {
		ck_assert_ok(mudsc_graph_point_at(&pa, a, p));
		ck_assert_ok(mudsc_graph_point_at(&pb, b, p));
		ck_assert_str_eq(pa.name, pb.name);
		ck_assert_int_eq(pa.width, pb.width);
		ck_assert_int_eq(pa.groups, pb.groups);
		ck_assert_int_eq(pa.site_name == NULL, pb.site_name == NULL);
		if (pa.site_name) {
			ck_assert_str_eq(pa.site_name, pb.site_name);
			int64_t oa = -1, ob = -2;

			ck_assert_int_eq(pa.site_axis, pb.site_axis);
			ck_assert_ok(mudsc_graph_site_offset(&oa, a, p));
			ck_assert_ok(mudsc_graph_site_offset(&ob, b, p));
			ck_assert_int_eq(oa, ob);
		}
		ck_assert_uint_eq(pa.binding_count, pb.binding_count);
		for (size_t i = 0; i < pa.binding_count; i++) {
			ck_assert_ok(mudsc_graph_binding_at(&ba, a, p, i));
			ck_assert_ok(mudsc_graph_binding_at(&bb, b, p, i));
			ck_assert_str_eq(ba.tensor, bb.tensor);
			ck_assert_int_eq(ba.part == NULL, bb.part == NULL);
			if (ba.part)
				ck_assert_str_eq(ba.part, bb.part);
			ck_assert_int_eq(ba.axis, bb.axis);
			ck_assert_int_eq(ba.role, bb.role);
			ck_assert_uint_eq(ba.flags, bb.flags);
		}
	}
}

/* g -> text -> graph -> text gives the same text and the same graph. */
static void assert_round_trip(const mudsc_graph *g)
{
	char *t1 = to_json(g), *t2;
	mudsc_graph *back = from_json(t1);

	assert_same_graph(g, back);
	t2 = to_json(back);
	ck_assert_str_eq(t1, t2);
	mudsc_free(t1);
	mudsc_free(t2);
	mudsc_graph_free(back);
}

START_TEST(round_trip_by_calls)
{
	static const char *const qkv[3] = {"q", "k", "v"};
	mudsc_graph *g = NULL;

	ck_assert_ok(mudsc_graph_new(&g));
	assert_round_trip(g); /* empty */
	ck_assert_ok(mudsc_graph_add_split(g, "attn.qkv.weight", 0, 3, qkv));
	ck_assert_ok(mudsc_graph_add_point(NULL, g, "fc1", 512, 1));
	ck_assert_ok(mudsc_graph_add_point(NULL, g, "attn", 6, 3));
	ck_assert_ok(mudsc_graph_set_site(g, 0, "fc1.act", -1));
	ck_assert_ok(mudsc_graph_set_site(g, 1, "attn.proj:input", -1));
	ck_assert_ok(mudsc_graph_set_site_offset(g, 1, 6));
	ck_assert_ok(mudsc_graph_bind(g, 0, "fc1.weight", NULL, 0, MUDSC_ROLE_OUT, 0));
	ck_assert_ok(mudsc_graph_bind(g, 0, "bn1.running_mean", NULL, 0, MUDSC_ROLE_OUT,
	                              MUDSC_BIND_IGNORE));
	ck_assert_ok(mudsc_graph_bind(g, 0, "fc2.weight", NULL, 1, MUDSC_ROLE_IN, 0));
	ck_assert_ok(mudsc_graph_bind(g, 1, "attn.qkv.weight", "k", 0, MUDSC_ROLE_OUT, 0));
	ck_assert_ok(mudsc_graph_bind(g, 0, "attn.qkv.weight", NULL, 1, MUDSC_ROLE_IN, 0));
	assert_round_trip(g);
	mudsc_graph_free(g);
}
END_TEST

START_TEST(round_trip_builders)
{
	int64_t hidden[3] = {32, 16, 8};
	mudsc_mlp_options mo = MUDSC_MLP_OPTIONS_INIT;
	mudsc_resnet_options ro = MUDSC_RESNET_OPTIONS_INIT;
	mudsc_vit_options vo = MUDSC_VIT_OPTIONS_INIT;
	mudsc_llama_options lo = MUDSC_LLAMA_OPTIONS_INIT;
	mudsc_graph *g = NULL;

	mo.n_hidden = 3;
	mo.hidden = hidden;
	ck_assert_ok(mudsc_graph_build_mlp(&g, &mo));
	assert_round_trip(g);
	mudsc_graph_free(g);
	ck_assert_ok(mudsc_graph_build_resnet(&g, &ro));
	assert_round_trip(g);
	mudsc_graph_free(g);
	ck_assert_ok(mudsc_resnet_options_preset(&ro, "resnet50", 1));
	ro.norm = MUDSC_NORM_GROUP;
	ro.norm_groups = 32;
	ck_assert_ok(mudsc_graph_build_resnet(&g, &ro));
	assert_round_trip(g);
	mudsc_graph_free(g);
	vo.depth = 2;
	ck_assert_ok(mudsc_graph_build_vit(&g, &vo));
	assert_round_trip(g);
	mudsc_graph_free(g);
	lo.n_layers = 1;
	lo.num_kv_heads = 2; /* value heads with site offsets */
	ck_assert_ok(mudsc_graph_build_llama(&g, &lo));
	assert_round_trip(g);
	mudsc_graph_free(g);
}
END_TEST

/* The example of docs/graph-format.md, in the writer's canonical form. */
static const char canonical[] =
	"{\n"
	"  \"format\": \"mudsc-graph\",\n"
	"  \"version\": 1,\n"
	"  \"splits\": [\n"
	"    {\n"
	"      \"tensor\": \"blocks.0.attn.qkv.weight\",\n"
	"      \"axis\": 0,\n"
	"      \"parts\": [\n"
	"        \"q\",\n"
	"        \"k\",\n"
	"        \"v\"\n"
	"      ]\n"
	"    }\n"
	"  ],\n"
	"  \"points\": [\n"
	"    {\n"
	"      \"name\": \"fc1\",\n"
	"      \"width\": 512,\n"
	"      \"groups\": 1,\n"
	"      \"site\": {\n"
	"        \"name\": \"fc1.act\",\n"
	"        \"axis\": -1\n"
	"      },\n"
	"      \"bindings\": [\n"
	"        {\n"
	"          \"tensor\": \"fc1.weight\",\n"
	"          \"axis\": 0,\n"
	"          \"role\": \"out\"\n"
	"        },\n"
	"        {\n"
	"          \"tensor\": \"bn1.running_mean\",\n"
	"          \"axis\": 0,\n"
	"          \"role\": \"out\",\n"
	"          \"ignore\": true\n"
	"        },\n"
	"        {\n"
	"          \"tensor\": \"blocks.0.attn.qkv.weight\",\n"
	"          \"part\": \"q\",\n"
	"          \"axis\": 0,\n"
	"          \"role\": \"out\"\n"
	"        }\n"
	"      ]\n"
	"    }\n"
	"  ]\n"
	"}\n";

START_TEST(canonical_text_is_kept_byte_for_byte)
{
	mudsc_graph *g = from_json(canonical);
	char *text = to_json(g);

	ck_assert_str_eq(text, canonical);
	mudsc_free(text);
	mudsc_graph_free(g);

	/* defaults may be omitted and keys reordered; the writer fills them in */
	g = from_json("{\"points\": [{\"bindings\": [], \"width\": 2, \"name\": \"p\"}], "
	              "\"version\": 1, \"format\": \"mudsc-graph\"}");
	text = to_json(g);
	ck_assert(strstr(text, "\"groups\": 1") != NULL);
	ck_assert(strstr(text, "\"splits\": []") != NULL);
	mudsc_free(text);
	mudsc_graph_free(g);
}
END_TEST

START_TEST(files_round_trip)
{
	char dir[] = "/tmp/mudsc-graph-XXXXXX", path[64], bad[64];
	mudsc_graph *g = from_json(canonical), *back = NULL;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/g.json", dir);
	snprintf(bad, sizeof bad, "%s/bad.json", dir);
	ck_assert_ok(mudsc_graph_save_json(g, path));
	ck_assert_ok(mudsc_graph_load_json(&back, path));
	assert_same_graph(g, back);
	mudsc_graph_free(back);

	f = fopen(bad, "w");
	ck_assert_ptr_nonnull(f);
	fputs("{\"format\": \"mudsc-graph\",\n \"version\": 1,\n \"points\": [}\n", f);
	fclose(f);
	back = NULL;
	ck_assert_status(mudsc_graph_load_json(&back, bad), MUDSC_E_PARSE);
	ck_assert_error_has("bad.json': graph JSON, line 3, column 13");
	ck_assert_int_eq(strncmp(mudsc_error_message(), "mudsc_graph_load_json: '", 24), 0);
	ck_assert_ptr_null(back);
	ck_assert_status(mudsc_graph_load_json(&back, "/nonexistent/g.json"), MUDSC_E_IO);
	ck_assert_error_has("cannot open");
	ck_assert_status(mudsc_graph_load_json(&back, dir), MUDSC_E_IO);
	ck_assert_error_has("not a regular file");
	/* an empty file is a parse error of empty text, not a NULL argument */
	f = fopen(bad, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_status(mudsc_graph_load_json(&back, bad), MUDSC_E_PARSE);
	ck_assert_error_has("line 1");
	ck_assert_ptr_null(back);
	ck_assert_status(mudsc_graph_save_json(g, "/nonexistent/dir/g.json"), MUDSC_E_IO);
	unlink(path);
	unlink(bad);
	rmdir(dir);
	mudsc_graph_free(g);
}
END_TEST

#define HEAD "{\"format\": \"mudsc-graph\", \"version\": 1, "
#define SPLIT "\"splits\": [{\"tensor\": \"qkv\", \"axis\": 0, \"parts\": [\"q\", \"k\"]}], "
#define B(t, a, r) "{\"tensor\": \"" t "\", \"axis\": " #a ", \"role\": \"" r "\"}"

struct bad_case {
	const char *text;
	mudsc_status status;
	const char *place; /* must appear in the message */
};

static const struct bad_case bad_cases[] = {
	{"{", MUDSC_E_PARSE, "line 1"},
	{HEAD "\"points\": []} trailing", MUDSC_E_PARSE, "column"},
	{HEAD "\"points\": [],\n\n \"points\": []}", MUDSC_E_PARSE, "line 3"},
	{"[1, 2]", MUDSC_E_PARSE, "(top level)"},
	{"{\"format\": \"other\", \"version\": 1, \"points\": []}", MUDSC_E_PARSE, "format"},
	{"{\"format\": \"mudsc-graph\", \"version\": 3, \"points\": []}", MUDSC_E_PARSE, "version"},
	{HEAD "\"splits\": []}", MUDSC_E_PARSE, "missing key 'points'"},
	{HEAD "\"points\": [], \"extra\": 1}", MUDSC_E_PARSE, "unknown key 'extra'"},
	{HEAD "\"points\": {}}", MUDSC_E_PARSE, "points: expected an array"},
	{HEAD "\"points\": [{\"name\": \"p\", \"width\": 0, \"bindings\": []}]}", MUDSC_E_SHAPE,
	 "points[0].width"},
	{HEAD "\"points\": [{\"name\": \"p\", \"width\": 4, \"groups\": 3, \"bindings\": []}]}",
	 MUDSC_E_SHAPE, "points[0].groups"},
	{HEAD "\"points\": [{\"name\": \"p\", \"width\": 4, \"bindings\": [" B("w", 0, "out") ", "
	      B("w", -1, "in") "]}]}",
	 MUDSC_E_SHAPE, "points[0].bindings[1].axis"},
	{HEAD "\"points\": [{\"name\": \"p\", \"width\": 4, \"bindings\": [" B("w", 0, "out") ", "
	      B("w", 1, "both") "]}]}",
	 MUDSC_E_PARSE, "points[0].bindings[1].role"},
	{HEAD "\"points\": [{\"name\": \"p\", \"width\": 4, \"bindings\": []}, "
	      "{\"name\": \"p\", \"width\": 2, \"bindings\": []}]}",
	 MUDSC_E_PARSE, "points[1]: "},
	{HEAD "\"points\": [{\"name\": \"p\", \"width\": 4, \"bindings\": [" B("w", 0, "out") "]}, "
	      "{\"name\": \"q\", \"width\": 4, \"bindings\": [" B("w", 0, "in") "]}]}",
	 MUDSC_E_PARSE, "points[1].bindings[0]"},
	{HEAD SPLIT "\"points\": [{\"name\": \"p\", \"width\": 4, \"bindings\": ["
	            "{\"tensor\": \"qkv\", \"part\": \"v\", \"axis\": 0, \"role\": \"out\"}]}]}",
	 MUDSC_E_PARSE, "points[0].bindings[0]"},
	{HEAD SPLIT "\"points\": [{\"name\": \"p\", \"width\": 4, \"bindings\": [" B("qkv", 0, "out")
	            "]}]}",
	 MUDSC_E_PARSE, "through its parts"},
	{HEAD "\"points\": [{\"name\": \"p\", \"width\": 4, \"bindings\": ["
	      "{\"tensor\": \"w\", \"axis\": 0, \"role\": \"out\", \"ignore\": \"yes\"}]}]}",
	 MUDSC_E_PARSE, "points[0].bindings[0].ignore"},
	{HEAD "\"splits\": [{\"tensor\": \"qkv\", \"axis\": 0, \"parts\": [\"q\"]}], \"points\": []}",
	 MUDSC_E_PARSE, "splits[0].parts"},
	{HEAD "\"splits\": [{\"tensor\": \"qkv\", \"axis\": 0, \"parts\": [\"q\", \"q\"]}], "
	      "\"points\": []}",
	 MUDSC_E_PARSE, "splits[0]"},
	{HEAD "\"points\": [{\"name\": \"p\", \"width\": 4, \"site\": {\"name\": \"a\"}, "
	      "\"bindings\": []}]}",
	 MUDSC_E_PARSE, "points[0].site"},
	{HEAD "\"points\": [{\"name\": \"p\", \"width\": 4, \"site\": {\"name\": \"a\", "
	      "\"axis\": -1, \"offset\": -4}, \"bindings\": []}]}",
	 MUDSC_E_SHAPE, "points[0].site.offset: -4 outside"},
	{HEAD "\"points\": [{\"name\": \"p\", \"width\": 4, \"site\": {\"name\": \"a\", "
	      "\"axis\": -1, \"offset\": \"4\"}, \"bindings\": []}]}",
	 MUDSC_E_PARSE, "points[0].site.offset: expected an integer"},
	{HEAD "\"points\": [{\"name\": \"p\", \"width\": 4, \"site\": {\"name\": \"a\", "
	      "\"axis\": -1, \"offset\": 4}, \"bindings\": []}]}",
	 MUDSC_E_PARSE, "site offsets ('offset'): use version 2"},
	{HEAD "\"points\": [{\"name\": \"p\", \"width\": 4, \"bindings\": [" B("", 0, "out") "]}]}",
	 MUDSC_E_PARSE, "points[0].bindings[0].tensor"},
	{HEAD "\"points\": [{\"name\": \"p\", \"width\": 4, \"bindings\": ["
	      "{\"tensor\": \"w\", \"axis\": 1.0, \"role\": \"out\"}]}]}",
	 MUDSC_E_PARSE, "points[0].bindings[0].axis"},
	{HEAD "\"points\": [{\"width\": 4, \"bindings\": []}]}", MUDSC_E_PARSE,
	 "points[0]: missing key 'name'"},
	{HEAD "\"points\": [3]}", MUDSC_E_PARSE, "points[0]: expected an object"},
	{HEAD "\"points\": [{\"name\": \"p\", \"width\": 4, \"bindings\": [], \"colour\": 1}]}",
	 MUDSC_E_PARSE, "points[0]: unknown key 'colour'"},
	{HEAD "\"points\": [{\"name\": \"p\", \"width\": 4, \"bindings\": [" B("w", 9, "out") "]}]}",
	 MUDSC_E_SHAPE, "points[0].bindings[0].axis"},	/* the reader (json_value.c): RFC 8259 exactly, with the place */
	{HEAD "\"points\": [{\"a\": 1, \"b\": 2, \"c\": 3, \"d\": 4, \"e\": 5, \"f\": 6, \"g\": 7, "
	      "\"h\": 8, \"i\": 9, \"j\": 10, \"b\": 11}]}",
	 MUDSC_E_PARSE, "duplicate object key 'b'"},
	{HEAD "\"points\": [{\"name\": \"p\",\n \"name\": \"q\"}]}", MUDSC_E_PARSE, "line 2, column 2"},
	{HEAD "\"points\": [{\"name\": \"\xc0\xaf\", \"width\": 1, \"bindings\": []}]}",
	 MUDSC_E_PARSE, "invalid UTF-8"},
	{HEAD "\"points\": [{\"name\": \"\xed\xa0\x80\", \"width\": 1, \"bindings\": []}]}",
	 MUDSC_E_PARSE, "invalid UTF-8"},
	{HEAD "\"points\": [{\"name\": \"\\ud800x\", \"width\": 1, \"bindings\": []}]}",
	 MUDSC_E_PARSE, "invalid Unicode"},
	{HEAD "\"points\": [{\"name\": \"\\udc00\", \"width\": 1, \"bindings\": []}]}",
	 MUDSC_E_PARSE, "invalid Unicode"},
	{HEAD "\"points\": [{\"name\": \"a\\u0000b\", \"width\": 1, \"bindings\": []}]}",
	 MUDSC_E_PARSE, "\\u0000"},
	{HEAD "\"points\": [{\"name\": \"a\\x\", \"width\": 1, \"bindings\": []}]}",
	 MUDSC_E_PARSE, "invalid escape"},
	{HEAD "\"points\": [{\"name\": \"a\tb\", \"width\": 1, \"bindings\": []}]}",
	 MUDSC_E_PARSE, "control character"},
	{HEAD "\"points\": [{\"name\": \"p\", \"width\": 9223372036854775808, \"bindings\": []}]}",
	 MUDSC_E_PARSE, "too big integer"},
	{HEAD "\"points\": [{\"name\": \"p\", \"width\": -9223372036854775808, \"bindings\": []}]}",
	 MUDSC_E_SHAPE, "points[0].width"},
	{HEAD "\"points\": [{\"name\": \"p\", \"width\": 01, \"bindings\": []}]}", MUDSC_E_PARSE,
	 "column"},
	{HEAD "\"points\": [{\"name\": \"p\", \"width\": 1e2, \"bindings\": []}]}", MUDSC_E_PARSE,
	 "points[0].width: expected an integer"},
	{HEAD "\"points\": [],}", MUDSC_E_PARSE, "string or '}' expected"},
	{HEAD "\"points\": [1,]}", MUDSC_E_PARSE, "invalid token"},
	{HEAD "\"points\": [tru]}", MUDSC_E_PARSE, "invalid token"},
	{HEAD "\"points\": [\"abc", MUDSC_E_PARSE, "premature end"},
	{HEAD "\"points\": [\"abc\\", MUDSC_E_PARSE, "premature end"},
	{"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
	 "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", MUDSC_E_PARSE, "nesting deeper than 64"},
	{"  ", MUDSC_E_PARSE, "unexpected end of input"},
	{"3", MUDSC_E_PARSE, "(top level): expected an object"},
};

START_TEST(malformed_rejected)
{
	const struct bad_case *c = &bad_cases[_i];
	mudsc_graph *g = NULL;
	mudsc_status st = mudsc_graph_from_json(&g, c->text, strlen(c->text));

	ck_assert_msg(st == c->status, "case %d: got %s (%s), expected %s", _i,
	              mudsc_status_name(st), mudsc_error_message(), mudsc_status_name(c->status));
	ck_assert_msg(strstr(mudsc_error_message(), c->place) != NULL,
	              "case %d: message '%s' does not name '%s'", _i, mudsc_error_message(), c->place);
	ck_assert_msg(strncmp(mudsc_error_message(), "mudsc_graph_from_json: graph JSON", 33) == 0,
	              "case %d: message '%s' does not start with the function", _i,
	              mudsc_error_message());
	ck_assert_ptr_null(g);
}
END_TEST

/* Deterministic mutations of a valid document (bytes replaced, deleted,
 * duplicated): the loader never crashes or leaks (run under the sanitizers
 * and valgrind), and every failure is a parse or shape error with a message. */
START_TEST(mutated_documents_fail_cleanly)
{
	static const char alphabet[] = "{}[]\",:0123456789-.eE tfnul\\\n";
	size_t n = strlen(canonical);
	char *buf = malloc(2 * n + 1);
	uint64_t state = 42;
	int ok = 0;

	for (int iter = 0; iter < 3000; iter++) {
		size_t len = n;
		memcpy(buf, canonical, n);
		for (int k = 0; k < 1 + iter % 4; k++) {
			state = state * 6364136223846793005ull + 1442695040888963407ull;
			size_t at = (size_t)(state >> 33) % len;
			int kind = (int)((state >> 20) % 3);
			if (kind == 0) {
				buf[at] = alphabet[(state >> 8) % (sizeof alphabet - 1)];
			} else if (kind == 1 && len > 1) {
				memmove(buf + at, buf + at + 1, len - at - 1);
				len--;
			} else if (len < 2 * n) {
				memmove(buf + at + 1, buf + at, len - at);
				len++;
			}
		}
		mudsc_graph *g = NULL;
		mudsc_status st = mudsc_graph_from_json(&g, buf, len);
		if (st == MUDSC_OK) {
			ok++;
			char *text = to_json(g);
			mudsc_graph *again = from_json(text);
			assert_same_graph(g, again);
			mudsc_graph_free(again);
			mudsc_free(text);
			mudsc_graph_free(g);
			continue;
		}
		ck_assert_msg(st == MUDSC_E_PARSE || st == MUDSC_E_SHAPE, "iteration %d: %s (%s)", iter,
		              mudsc_status_name(st), mudsc_error_message());
		ck_assert_ptr_null(g);
		ck_assert_msg(strncmp(mudsc_error_message(), "mudsc_graph_from_json: graph JSON", 33) == 0,
		              "iteration %d: %s", iter, mudsc_error_message());
	}
	ck_assert_int_gt(ok, 0); /* some mutations (in names) stay valid */
	free(buf);
}
END_TEST

/* Escapes and UTF-8 decode to the bytes they stand for, and write back
 * as jansson writes them (canonical text unchanged by a round trip). */
START_TEST(escapes_decoded)
{
	static const char text[] =
		HEAD "\"points\": [{\"name\": \"caf\\u00e9 \\ud83d\\ude00 \\/ \\\"q\\\" \\\\ \\t \xe2\x82\xac\", "
		"\"width\": 1, \"bindings\": []}]}";
	mudsc_graph *g = from_json(text);
	mudsc_point_info p;
	char *out = to_json(g);
	mudsc_graph *again = from_json(out);

	ck_assert_ok(mudsc_graph_point_at(&p, g, 0));
	ck_assert_str_eq(p.name, "caf\xc3\xa9 \xf0\x9f\x98\x80 / \"q\" \\ \t \xe2\x82\xac");
	assert_same_graph(g, again);
	mudsc_graph_free(again);
	mudsc_graph_free(g);
	mudsc_free(out);
}
END_TEST

START_TEST(arguments_checked)
{
	mudsc_graph *g = NULL;
	char *text = NULL;

	ck_assert_status(mudsc_graph_from_json(NULL, "{}", 2), MUDSC_E_INVALID);
	ck_assert_status(mudsc_graph_from_json(&g, NULL, 3), MUDSC_E_INVALID);
	ck_assert_status(mudsc_graph_from_json(&g, "", 0), MUDSC_E_PARSE);
	ck_assert_status(mudsc_graph_to_json(&text, NULL, NULL), MUDSC_E_INVALID);
	ck_assert_ptr_null(g);
	ck_assert_ptr_null(text);
}
END_TEST

Suite *suite_graph_json(void)
{
	Suite *s = suite_create("graph_json");
	TCase *tc = tcase_create("core");
	int n_bad = (int)(sizeof bad_cases / sizeof bad_cases[0]);

	tcase_add_test(tc, round_trip_by_calls);
	tcase_add_test(tc, round_trip_builders);
	tcase_add_test(tc, canonical_text_is_kept_byte_for_byte);
	tcase_add_test(tc, files_round_trip);
	tcase_add_loop_test(tc, malformed_rejected, 0, n_bad);
	tcase_add_test(tc, mutated_documents_fail_cleanly);
	tcase_add_test(tc, escapes_decoded);
	tcase_add_test(tc, arguments_checked);
	suite_add_tcase(s, tc);
	return s;
}
