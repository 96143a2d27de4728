/*
 * A small JSON reader for graph descriptions (json.c): the document as a
 * tree of compact nodes in one arena, read in time linear in its length
 * with memory a small multiple of it (issue 11, defect 7; a general JSON
 * library took seconds and ~20x the text's size for 1M bindings).
 *
 * It accepts exactly RFC 8259 JSON: UTF-8 checked in strings (no overlong
 * forms, surrogates or code points past U+10FFFF), escapes with paired
 * surrogates, no "\u0000", integers within int64 (others are syntax
 * errors), and no duplicate keys in an object.  Nesting is limited to
 * MUDSC__JSON_MAX_DEPTH levels (a graph document has at most 5).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_GRAPH_JSON_VALUE_H
#define MUDSC_GRAPH_JSON_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#define MUDSC__JSON_MAX_DEPTH 64

enum mudsc__json_type {
	MUDSC__JSON_NULL,
	MUDSC__JSON_FALSE,
	MUDSC__JSON_TRUE,
	MUDSC__JSON_INTEGER,
	MUDSC__JSON_REAL, /* its value is not kept: no graph field is a real */
	MUDSC__JSON_STRING,
	MUDSC__JSON_ARRAY,
	MUDSC__JSON_OBJECT
};

struct mudsc__json {
	uint32_t type; /* enum mudsc__json_type */
	uint32_t n;    /* string: bytes (NUL not counted); array: elements; object: members */
	union {
		int64_t i;                       /* integer */
		const char *s;                   /* string, NUL-terminated, no NUL inside */
		const struct mudsc__json *items; /* array: n; object: 2n, key then value */
	} u;
};

struct mudsc__json_block;

/* A parsed document; everything in it lives until mudsc__json_free. */
struct mudsc__json_doc {
	struct mudsc__json root;
	struct mudsc__json_block *blocks;
};

/* Parse len bytes of text.  MUDSC_E_PARSE "<what>: line L, column C: ..."
 * for malformed text, MUDSC_E_NOMEM; *doc needs mudsc__json_free either way. */
mudsc_status mudsc__json_parse(struct mudsc__json_doc *doc, const char *text, size_t len,
                              const char *what);
void mudsc__json_free(struct mudsc__json_doc *doc);

/* The member `key` of an object, or NULL (also when v is not an object). */
const struct mudsc__json *mudsc__json_get(const struct mudsc__json *v, const char *key);

#endif /* MUDSC_GRAPH_JSON_VALUE_H */
