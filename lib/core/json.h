/*
 * The library's one JSON reader (issue 11): safetensors headers
 * (model/safetensors_load.c) and graph descriptions (graph/json.c) are
 * read by the same parser under the same rule, in time linear in the text.
 *
 * The rule is RFC 8259 exactly: one value, white space around it; strings
 * in valid UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF), no control characters, escapes with paired surrogates and no
 * "\u0000"; integers within int64 (others are errors; reals are syntax
 * only, their value is not kept); no key twice in an object (compared
 * decoded); nesting at most MUDSC__JSON_MAX_DEPTH levels.  A refusal is
 * MUDSC_E_PARSE "<what>, line L, column C: why" (columns count bytes).
 *
 * Two ways to read a text:
 *  - mudsc__json_parse: the document as a tree of compact nodes in one
 *    arena (about 16 bytes a value plus its strings), for graphs;
 *  - mudsc__json_check, then the walker below over the checked text:
 *    nothing is built (memory: one key set per open object of more than
 *    8 members, 16 bytes a slot, unless the caller maps those keys
 *    itself), for safetensors headers, whose reader keeps only the model.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_CORE_JSON_H
#define MUDSC_CORE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mudsc/common.h"

#define MUDSC__JSON_MAX_DEPTH 64

enum mudsc__json_type {
	MUDSC__JSON_NULL,
	MUDSC__JSON_FALSE,
	MUDSC__JSON_TRUE,
	MUDSC__JSON_INTEGER,
	MUDSC__JSON_REAL, /* its value is not kept */
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

/* Parse len bytes of text into a tree.  MUDSC_E_PARSE (message above) or
 * MUDSC_E_NOMEM; *doc needs mudsc__json_free either way. */
mudsc_status mudsc__json_parse(struct mudsc__json_doc *doc, const char *text, size_t len,
                              const char *what);
void mudsc__json_free(struct mudsc__json_doc *doc);

/* The member `key` of an object, or NULL (also when v is not an object). */
const struct mudsc__json *mudsc__json_get(const struct mudsc__json *v, const char *key);

/* Check len bytes of text by the same rule without building anything.
 * *members (may be NULL): how many members the outermost value has when
 * it is an object, else 0.  caller_maps_keys: the caller puts the keys of
 * every object of more than 8 members it accepts into a hash map of its
 * own and refuses a repeat there, so the check leaves those objects' keys
 * to it (the safetensors loader: tensor names and metadata keys go into
 * the model's maps; a second key set cost +0.8 s on 1.5M tensors). */
mudsc_status mudsc__json_check(const char *text, size_t len, const char *what, size_t *members,
                              bool caller_maps_keys);

/* ---- walking text that mudsc__json_check accepted ---- */

/* A reusable buffer for decoded strings (NUL-terminated; free(s)). */
struct mudsc__json_buf {
	char *s;
	size_t len, cap;
};

/* Skip white space. */
const char *mudsc__json_ws(const char *p, const char *end);

/* Bytes of the string token at p, quotes included; decoding it needs at
 * most this minus one (the NUL included). */
size_t mudsc__json_token_len(const char *p);

/* *pp at a string token: decode it into dst (room as above), move *pp
 * past it; the decoded length. */
size_t mudsc__json_decode(const char **pp, char *dst);

/* *pp at a string token: decode it into buf, move *pp past it.  NOMEM only. */
mudsc_status mudsc__json_string(const char **pp, struct mudsc__json_buf *buf);

/* p at any value: the first byte after it. */
const char *mudsc__json_skip(const char *p);

/* *pp at any value: 1 and *out if it is an integer (no fraction, no
 * exponent), else 0; either way *pp moves past the value. */
int mudsc__json_integer(const char **pp, int64_t *out);

#endif /* MUDSC_CORE_JSON_H */
