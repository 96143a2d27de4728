/*
 * The JSON reader of graph descriptions (json_value.h): recursive descent
 * over the text, children gathered on one stack and copied into the arena
 * when their container closes, so the whole tree costs one pass.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "graph/json_value.h"

#define BLOCK_SIZE ((size_t)1 << 20)
/* objects with more members than this find duplicate keys by hash */
#define SMALL_OBJECT 8

struct mudsc__json_block {
	struct mudsc__json_block *next;
	size_t used, cap;
	max_align_t data[];
};

struct parser {
	const char *start, *p, *end;
	const char *what;
	struct mudsc__json_doc *doc;
	struct mudsc__json *stack; /* children of the open containers */
	size_t n_stack, cap_stack;
	int depth;
};

static mudsc_status fail(const struct parser *P, const char *at, const char *fmt, ...)
	MUDSC__PRINTF(3, 4);

static mudsc_status fail(const struct parser *P, const char *at, const char *fmt, ...)
{
	char text[256];
	long line = 1;
	const char *bol = P->start;
	va_list ap;

	for (const char *q = P->start; q < at; q++)
		if (*q == '\n') {
			line++;
			bol = q + 1;
		}
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	return mudsc__err(MUDSC_E_PARSE, "%s: line %ld, column %ld: %s", P->what, line,
	                 (long)(at - bol) + 1, text);
}

static void *arena(struct parser *P, size_t size)
{
	struct mudsc__json_block *b = P->doc->blocks;

	size = (size + 7) & ~(size_t)7;
	if (b == NULL || b->cap - b->used < size) {
		size_t cap = size > BLOCK_SIZE ? size : BLOCK_SIZE;
		b = mudsc__alloc(sizeof *b + cap, "JSON document");
		if (b == NULL)
			return NULL;
		b->next = P->doc->blocks;
		b->used = 0;
		b->cap = cap;
		P->doc->blocks = b;
	}
	b->used += size;
	return (char *)b->data + b->used - size;
}

static mudsc_status push(struct parser *P, struct mudsc__json v)
{
	mudsc_status st = mudsc__reserve_one((void **)&P->stack, &P->cap_stack, P->n_stack,
	                                    sizeof *P->stack, "JSON parser stack");
	if (st == MUDSC_OK)
		P->stack[P->n_stack++] = v;
	return st;
}

static void skip_ws(struct parser *P)
{
	while (P->p < P->end && (*P->p == ' ' || *P->p == '\t' || *P->p == '\n' || *P->p == '\r'))
		P->p++;
}

/* Skip white space, then consume c if it is next. */
static bool accept(struct parser *P, char c)
{
	skip_ws(P);
	if (P->p < P->end && *P->p == c) {
		P->p++;
		return true;
	}
	return false;
}

static int hex4(const char *s)
{
	int v = 0;
	for (int k = 0; k < 4; k++) {
		char c = s[k];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

static char *put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		*o++ = (char)cp;
	} else if (cp < 0x800) {
		*o++ = (char)(0xC0 | cp >> 6);
		*o++ = (char)(0x80 | (cp & 0x3F));
	} else if (cp < 0x10000) {
		*o++ = (char)(0xE0 | cp >> 12);
		*o++ = (char)(0x80 | (cp >> 6 & 0x3F));
		*o++ = (char)(0x80 | (cp & 0x3F));
	} else {
		*o++ = (char)(0xF0 | cp >> 18);
		*o++ = (char)(0x80 | (cp >> 12 & 0x3F));
		*o++ = (char)(0x80 | (cp >> 6 & 0x3F));
		*o++ = (char)(0x80 | (cp & 0x3F));
	}
	return o;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] < 0xC2 || s[0] > 0xF4)
		return 0;
	len = s[0] < 0xE0 ? 2 : s[0] < 0xF0 ? 3 : 4;
	if (len > n)
		return 0;
	cp = s[0] & (0x7Fu >> len);
	for (size_t k = 1; k < len; k++) {
		if ((s[k] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (s[k] & 0x3Fu);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return 0;
	return len;
}

/* A \uXXXX escape (a surrogate pair: two) at *q, past the backslash-u. */
static mudsc_status unicode_escape(struct parser *P, const char **q, uint32_t *cp)
{
	const char *at = *q - 2;
	int v, w;

	if (P->end - *q < 4 || (v = hex4(*q)) < 0)
		return fail(P, at, "invalid escape");
	*q += 4;
	if (v == 0)
		return fail(P, at, "\\u0000 is not allowed");
	if (v >= 0xDC00 && v <= 0xDFFF)
		return fail(P, at, "invalid Unicode '\\u%04X'", (unsigned)v);
	if (v >= 0xD800 && v <= 0xDBFF) {
		if (P->end - *q < 6 || (*q)[0] != '\\' || (*q)[1] != 'u' || (w = hex4(*q + 2)) < 0 ||
		    w < 0xDC00 || w > 0xDFFF)
			return fail(P, at, "invalid Unicode '\\u%04X'", (unsigned)v);
		*q += 6;
		*cp = 0x10000 + (((uint32_t)v - 0xD800) << 10) + ((uint32_t)w - 0xDC00);
		return MUDSC_OK;
	}
	*cp = (uint32_t)v;
	return MUDSC_OK;
}

/* The string at P->p (on its opening quote), decoded into the arena. */
static mudsc_status parse_string(struct parser *P, struct mudsc__json *out)
{
	const char *q = P->p + 1, *raw_end = q;
	char *s, *o;
	mudsc_status st;

	/* the raw extent first: the decoded string is never longer */
	while (raw_end < P->end && *raw_end != '"') {
		if ((unsigned char)*raw_end < 0x20)
			return fail(P, raw_end, "control character in a string");
		if (*raw_end == '\\' && P->end - raw_end < 2)
			return fail(P, P->p, "premature end of input in a string");
		raw_end += *raw_end == '\\' ? 2 : 1;
	}
	if (raw_end >= P->end)
		return fail(P, P->p, "premature end of input in a string");
	if ((size_t)(raw_end - q) >= UINT32_MAX)
		return fail(P, P->p, "string longer than 4 GB");
	if ((s = arena(P, (size_t)(raw_end - q) + 1)) == NULL)
		return MUDSC_E_NOMEM;
	for (o = s; q < raw_end;) {
		unsigned char c = (unsigned char)*q;
		if (c == '\\') {
			uint32_t cp = 0;
			switch (q[1]) {
			case '"': case '\\': case '/':
				*o++ = q[1];
				q += 2;
				continue;
			case 'b': *o++ = '\b'; q += 2; continue;
			case 'f': *o++ = '\f'; q += 2; continue;
			case 'n': *o++ = '\n'; q += 2; continue;
			case 'r': *o++ = '\r'; q += 2; continue;
			case 't': *o++ = '\t'; q += 2; continue;
			case 'u':
				q += 2;
				if ((st = unicode_escape(P, &q, &cp)) != MUDSC_OK)
					return st;
				o = put_utf8(o, cp);
				continue;
			default:
				return fail(P, q, "invalid escape");
			}
		}
		size_t len = utf8_len((const unsigned char *)q, (size_t)(raw_end - q));
		if (len == 0)
			return fail(P, q, "invalid UTF-8 in a string");
		memcpy(o, q, len);
		o += len;
		q += len;
	}
	if (q != raw_end) /* an escape ran past the closing quote */
		return fail(P, raw_end, "invalid escape");
	*o = '\0';
	out->type = MUDSC__JSON_STRING;
	out->n = (uint32_t)(o - s);
	out->u.s = s;
	P->p = raw_end + 1;
	return MUDSC_OK;
}

static mudsc_status parse_number(struct parser *P, struct mudsc__json *out)
{
	const char *q = P->p;
	bool neg = false, real = false, big = false;
	uint64_t mag = 0;

	if (*q == '-') {
		neg = true;
		q++;
	}
	if (q < P->end && *q == '0') {
		q++;
	} else if (q < P->end && *q >= '1' && *q <= '9') {
		for (; q < P->end && *q >= '0' && *q <= '9'; q++) {
			unsigned d = (unsigned)(*q - '0');
			big = big || mag > (UINT64_MAX - d) / 10;
			mag = mag * 10 + d;
		}
	} else {
		return fail(P, P->p, "invalid number");
	}
	if (q < P->end && *q == '.') {
		real = true;
		if (++q >= P->end || *q < '0' || *q > '9')
			return fail(P, P->p, "invalid number");
		while (q < P->end && *q >= '0' && *q <= '9')
			q++;
	}
	if (q < P->end && (*q == 'e' || *q == 'E')) {
		real = true;
		if (++q < P->end && (*q == '+' || *q == '-'))
			q++;
		if (q >= P->end || *q < '0' || *q > '9')
			return fail(P, P->p, "invalid number");
		while (q < P->end && *q >= '0' && *q <= '9')
			q++;
	}
	if (real) {
		out->type = MUDSC__JSON_REAL;
	} else {
		if (big || mag > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX))
			return fail(P, P->p, "too big integer");
		out->type = MUDSC__JSON_INTEGER;
		out->u.i = neg ? (int64_t)(0 - mag) : (int64_t)mag;
	}
	P->p = q;
	return MUDSC_OK;
}

static mudsc_status parse_value(struct parser *P, struct mudsc__json *out);

/* Key k of the object whose members start at stack[base] was seen before. */
static bool duplicate(const struct parser *P, size_t base, size_t k, struct mudsc__strmap *keys,
                      mudsc_status *st)
{
	const char *key = P->stack[base + 2 * k].u.s;

	*st = MUDSC_OK;
	if (k < SMALL_OBJECT) {
		for (size_t j = 0; j < k; j++)
			if (strcmp(P->stack[base + 2 * j].u.s, key) == 0)
				return true;
		if (k + 1 < SMALL_OBJECT)
			return false;
		/* the object grows: from now on, by hash */
		for (size_t j = 0; j <= k && *st == MUDSC_OK; j++)
			*st = mudsc__strmap_put(keys, P->stack[base + 2 * j].u.s, j);
		return false;
	}
	if (mudsc__strmap_get(keys, key, NULL))
		return true;
	*st = mudsc__strmap_put(keys, key, k);
	return false;
}

/* Close the container whose n items start at stack[base]. */
static mudsc_status close_container(struct parser *P, size_t base, uint32_t type, size_t n,
                                    struct mudsc__json *out)
{
	size_t items = P->n_stack - base;
	struct mudsc__json *copy = NULL;

	if (n > UINT32_MAX)
		return fail(P, P->p, "more than 4G items in a container");
	if (items > 0 && (copy = arena(P, items * sizeof *copy)) == NULL)
		return MUDSC_E_NOMEM;
	if (items > 0)
		memcpy(copy, P->stack + base, items * sizeof *copy);
	P->n_stack = base;
	out->type = type;
	out->n = (uint32_t)n;
	out->u.items = copy;
	return MUDSC_OK;
}

static mudsc_status parse_object(struct parser *P, struct mudsc__json *out)
{
	size_t base = P->n_stack, n = 0;
	struct mudsc__strmap keys;
	mudsc_status st = MUDSC_OK;
	struct mudsc__json v;

	mudsc__strmap_init(&keys);
	P->p++;
	if (accept(P, '}'))
		return close_container(P, base, MUDSC__JSON_OBJECT, 0, out);
	for (;;) {
		const char *key_at;
		skip_ws(P);
		key_at = P->p;
		if (P->p >= P->end || *P->p != '"') {
			st = fail(P, P->p, "string or '}' expected");
			break;
		}
		if ((st = parse_string(P, &v)) != MUDSC_OK || (st = push(P, v)) != MUDSC_OK)
			break;
		if (duplicate(P, base, n, &keys, &st)) {
			st = fail(P, key_at, "duplicate object key '%.40s'", v.u.s);
			break;
		}
		if (st != MUDSC_OK)
			break;
		if (!accept(P, ':')) {
			st = fail(P, P->p, "':' expected");
			break;
		}
		if ((st = parse_value(P, &v)) != MUDSC_OK || (st = push(P, v)) != MUDSC_OK)
			break;
		n++;
		if (accept(P, ','))
			continue;
		st = accept(P, '}') ? close_container(P, base, MUDSC__JSON_OBJECT, n, out)
		                    : fail(P, P->p, "',' or '}' expected");
		break;
	}
	mudsc__strmap_clear(&keys);
	return st;
}

static mudsc_status parse_array(struct parser *P, struct mudsc__json *out)
{
	size_t base = P->n_stack, n = 0;
	mudsc_status st;
	struct mudsc__json v;

	P->p++;
	if (accept(P, ']'))
		return close_container(P, base, MUDSC__JSON_ARRAY, 0, out);
	for (;;) {
		if ((st = parse_value(P, &v)) != MUDSC_OK || (st = push(P, v)) != MUDSC_OK)
			return st;
		n++;
		if (accept(P, ','))
			continue;
		return accept(P, ']') ? close_container(P, base, MUDSC__JSON_ARRAY, n, out)
		                      : fail(P, P->p, "',' or ']' expected");
	}
}

static mudsc_status literal(struct parser *P, const char *word, uint32_t type,
                            struct mudsc__json *out)
{
	size_t n = strlen(word);

	if ((size_t)(P->end - P->p) < n || memcmp(P->p, word, n) != 0)
		return fail(P, P->p, "invalid token");
	P->p += n;
	out->type = type;
	return MUDSC_OK;
}

static mudsc_status parse_value(struct parser *P, struct mudsc__json *out)
{
	mudsc_status st;

	memset(out, 0, sizeof *out);
	skip_ws(P);
	if (P->p >= P->end)
		return fail(P, P->p, "unexpected end of input");
	switch (*P->p) {
	case '{':
	case '[':
		if (P->depth >= MUDSC__JSON_MAX_DEPTH)
			return fail(P, P->p, "nesting deeper than %d levels", MUDSC__JSON_MAX_DEPTH);
		P->depth++;
		st = *P->p == '{' ? parse_object(P, out) : parse_array(P, out);
		P->depth--;
		return st;
	case '"':
		return parse_string(P, out);
	case 't':
		return literal(P, "true", MUDSC__JSON_TRUE, out);
	case 'f':
		return literal(P, "false", MUDSC__JSON_FALSE, out);
	case 'n':
		return literal(P, "null", MUDSC__JSON_NULL, out);
	default:
		if (*P->p == '-' || (*P->p >= '0' && *P->p <= '9'))
			return parse_number(P, out);
		return fail(P, P->p, "invalid token");
	}
}

mudsc_status mudsc__json_parse(struct mudsc__json_doc *doc, const char *text, size_t len,
                              const char *what)
{
	struct parser P = {.start = text, .p = text, .end = text + len, .what = what, .doc = doc};
	mudsc_status st;

	memset(doc, 0, sizeof *doc);
	st = parse_value(&P, &doc->root);
	if (st == MUDSC_OK) {
		skip_ws(&P);
		if (P.p != P.end)
			st = fail(&P, P.p, "end of input expected");
	}
	free(P.stack);
	return st;
}

void mudsc__json_free(struct mudsc__json_doc *doc)
{
	while (doc->blocks != NULL) {
		struct mudsc__json_block *next = doc->blocks->next;
		free(doc->blocks);
		doc->blocks = next;
	}
}

const struct mudsc__json *mudsc__json_get(const struct mudsc__json *v, const char *key)
{
	if (v == NULL || v->type != MUDSC__JSON_OBJECT)
		return NULL;
	for (uint32_t k = 0; k < v->n; k++)
		if (strcmp(v->u.items[2 * k].u.s, key) == 0)
			return &v->u.items[2 * k + 1];
	return NULL;
}
