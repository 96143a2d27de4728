/*
 * The JSON of a safetensors header, read without building a document: a
 * header is validated once (no allocation), then walked by the loader with
 * the readers below, which assume text the validator accepted.  Memory is
 * what the loader keeps (the model), not a tree of the header.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MUDSC_ST_JSON_H
#define MUDSC_ST_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "mudsc/common.h"

/* A reusable buffer for decoded strings (NUL-terminated; free(s)). */
struct mudsc__stj_buf {
	char *s;
	size_t len, cap;
};

/*
 * Check that text[0, len) is one JSON value followed only by whitespace,
 * as Jansson's json_loadb() would accept it (UTF-8, no NUL in strings,
 * integers within int64, depth <= 2048).  *members: how many members the
 * outermost object has.  MUDSC_E_PARSE "safetensors: header JSON, line L
 * column C: why" otherwise.
 */
mudsc_status mudsc__stj_validate(const char *text, size_t len, size_t *members);

/* Skip whitespace. */
const char *mudsc__stj_ws(const char *p, const char *end);

/* Bytes of the string token at p, quotes included; decoding it needs at
 * most this minus one (the NUL included). */
size_t mudsc__stj_token_len(const char *p);

/* *pp at a string token: decode it into dst (room as above), move *pp
 * past it; the decoded length. */
size_t mudsc__stj_decode(const char **pp, char *dst);

/* *pp at a string token: decode it into buf, move *pp past it.  NOMEM only. */
mudsc_status mudsc__stj_string(const char **pp, const char *end, struct mudsc__stj_buf *buf);

/* p at any value: the first byte after it. */
const char *mudsc__stj_skip(const char *p, const char *end);

/* *pp at any value: 1 and *out if it is an integer (no fraction, no
 * exponent), else 0; either way *pp moves past the value. */
int mudsc__stj_integer(const char **pp, const char *end, int64_t *out);

#endif /* MUDSC_ST_JSON_H */
