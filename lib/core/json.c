/*
 * The JSON reader (core/json.h): one recursive-descent parser that either
 * builds the tree (children gathered on one stack, copied into the arena
 * when their container closes) or only checks the text; the walker over
 * checked text shares its string decoder.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

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
	struct mudsc__json_doc *doc; /* NULL: check only, build nothing */
	bool caller_maps_keys;       /* see mudsc__json_check */
	struct mudsc__json *stack;   /* children of the open containers */
	size_t n_stack, cap_stack;
	size_t top_members;
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
	return mudsc__err(MUDSC_E_PARSE, "%s, line %ld, column %ld: %s", P->what, line,
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
	mudsc_status st;

	if (P->doc == NULL)
		return MUDSC_OK;
	st = mudsc__reserve_one((void **)&P->stack, &P->cap_stack, P->n_stack, sizeof *P->stack,
	                       "JSON parser stack");
	if (st == MUDSC_OK)
		P->stack[P->n_stack++] = v;
	return st;
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

const char *mudsc__json_ws(const char *p, const char *end)
{
	while (p < end && is_ws(*p))
		p++;
	return p;
}

/* Skip white space, then consume c if it is next. */
static bool accept(struct parser *P, char c)
{
	P->p = mudsc__json_ws(P->p, P->end);
	if (P->p < P->end && *P->p == c) {
		P->p++;
		return true;
	}
	return false;
}

/* ---- strings ------------------------------------------------------------ */

/* The value of 4 hex digits at s, or -1. */
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

static size_t put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
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

/* Check the escape at q (on its backslash); *next: past it. */
static mudsc_status check_escape(const struct parser *P, const char *q, const char **next)
{
	int v, w;

	if (P->end - q < 2)
		return fail(P, q, "premature end of input in a string");
	if (strchr("\"\\/bfnrt", q[1]) != NULL && q[1] != '\0') {
		*next = q + 2;
		return MUDSC_OK;
	}
	if (q[1] != 'u' || P->end - q < 6 || (v = hex4(q + 2)) < 0)
		return fail(P, q, "invalid escape");
	if (v == 0)
		return fail(P, q, "\\u0000 is not allowed");
	if (v >= 0xDC00 && v <= 0xDFFF)
		return fail(P, q, "invalid Unicode '\\u%04X' (a lone low surrogate)", (unsigned)v);
	if (v >= 0xD800 && v <= 0xDBFF) {
		if (P->end - q < 12 || q[6] != '\\' || q[7] != 'u' || (w = hex4(q + 8)) < 0xDC00 ||
		    w > 0xDFFF)
			return fail(P, q, "invalid Unicode '\\u%04X' (a high surrogate without its pair)",
			            (unsigned)v);
		*next = q + 12;
		return MUDSC_OK;
	}
	*next = q + 6;
	return MUDSC_OK;
}

/* Check the string token at P->p (on its opening quote); *after: past its
 * closing quote. */
static mudsc_status check_string(const struct parser *P, const char **after)
{
	const char *q = P->p + 1;
	mudsc_status st;

	while (q < P->end) {
		unsigned char c = (unsigned char)*q;
		if (c == '"') {
			if ((size_t)(q - P->p) > UINT32_MAX)
				return fail(P, P->p, "string longer than 4 GB");
			*after = q + 1;
			return MUDSC_OK;
		}
		if (c < 0x20)
			return fail(P, q, "control character in a string");
		if (c == '\\') {
			if ((st = check_escape(P, q, &q)) != MUDSC_OK)
				return st;
		} else if (c < 0x80) {
			q++;
		} else {
			size_t len = utf8_len((const unsigned char *)q, (size_t)(P->end - q));
			if (len == 0)
				return fail(P, q, "invalid UTF-8 in a string");
			q += len;
		}
	}
	return fail(P, P->p, "premature end of input in a string");
}

/* Decode the checked escape at *pp (on its backslash) into out; its bytes. */
static size_t decode_escape(const char **pp, char *out)
{
	const char *p = *pp;
	uint32_t cp;

	switch (p[1]) {
	case 'b': *out = '\b'; break;
	case 'f': *out = '\f'; break;
	case 'n': *out = '\n'; break;
	case 'r': *out = '\r'; break;
	case 't': *out = '\t'; break;
	case 'u':
		cp = (uint32_t)hex4(p + 2);
		*pp = p + 6;
		if (cp >= 0xD800 && cp <= 0xDBFF) {
			cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)hex4(p + 8) - 0xDC00);
			*pp = p + 12;
		}
		return put_utf8(out, cp);
	default: *out = p[1]; break; /* " \ / */
	}
	*pp = p + 2;
	return 1;
}

size_t mudsc__json_token_len(const char *p)
{
	const char *q = p + 1;
	while (*q != '"')
		q += *q == '\\' ? 2 : 1;
	return (size_t)(q - p) + 1;
}

size_t mudsc__json_decode(const char **pp, char *dst)
{
	const char *p = *pp + 1;
	size_t n = 0;

	while (*p != '"') {
		if (*p != '\\')
			dst[n++] = *p++;
		else
			n += decode_escape(&p, dst + n);
	}
	dst[n] = '\0';
	*pp = p + 1;
	return n;
}

mudsc_status mudsc__json_string(const char **pp, struct mudsc__json_buf *buf)
{
	size_t need = mudsc__json_token_len(*pp) - 1; /* decoded + NUL never exceeds this */

	if (need > buf->cap) {
		size_t cap = need > 2 * buf->cap ? need : 2 * buf->cap;
		char *grown = mudsc__realloc_array(buf->s, cap, 1, "JSON string");
		if (grown == NULL)
			return MUDSC_E_NOMEM;
		buf->s = grown;
		buf->cap = cap;
	}
	buf->len = mudsc__json_decode(pp, buf->s);
	return MUDSC_OK;
}

/* The bytes of a checked string token, decoded one at a time: keys are
 * compared and hashed as decoded text without decoding them anywhere. */
struct decoder {
	const char *p;
	char buf[4];
	size_t n, i;
};

static int next_byte(struct decoder *d)
{
	if (d->i < d->n)
		return (unsigned char)d->buf[d->i++];
	if (*d->p == '"')
		return -1;
	if (*d->p != '\\')
		return (unsigned char)*d->p++;
	d->n = decode_escape(&d->p, d->buf);
	d->i = 1;
	return (unsigned char)d->buf[0];
}

static bool same_key(const char *a, const char *b)
{
	struct decoder x = {.p = a + 1}, y = {.p = b + 1};
	int c;

	do {
		c = next_byte(&x);
		if (c != next_byte(&y))
			return false;
	} while (c >= 0);
	return true;
}

static uint64_t key_hash(const char *tok)
{
	struct decoder d = {.p = tok + 1};
	uint64_t h = MUDSC__FNV1A_BASIS;

	for (int c; (c = next_byte(&d)) >= 0;)
		h = mudsc__fnv1a_step(h, (unsigned char)c);
	return h;
}

/* The key at tok decoded into buf (cut to cap - 1 bytes), for messages. */
static const char *key_text(const char *tok, char *buf, size_t cap)
{
	struct decoder d = {.p = tok + 1};
	size_t n = 0;

	for (int c; n + 1 < cap && (c = next_byte(&d)) > 0;)
		buf[n++] = (char)c;
	buf[n] = '\0';
	return buf;
}

/* ---- duplicate keys ----------------------------------------------------- */

/* The keys of one object, as their tokens in the text: the first
 * SMALL_OBJECT compared in turn, all of them by hash once the object is
 * larger (open addressing; core/strmap.h maps C strings, these are tokens
 * that check mode never decodes). */
struct key_slot {
	const char *tok; /* NULL: empty */
	uint64_t hash;
};

struct keys {
	const char *first[SMALL_OBJECT];
	struct key_slot *slots;
	size_t cap, count;
};

static void keys_insert(struct key_slot *slots, size_t cap, const char *tok, uint64_t hash)
{
	size_t i = (size_t)hash & (cap - 1);
	while (slots[i].tok != NULL)
		i = (i + 1) & (cap - 1);
	slots[i].tok = tok;
	slots[i].hash = hash;
}

/* Whether the key at tok is in the set; if not, it is added. */
static bool keys_seen_hashed(struct keys *K, const char *tok, mudsc_status *st)
{
	uint64_t h = key_hash(tok);

	if (2 * (K->count + 1) > K->cap) {
		size_t cap = K->cap ? 2 * K->cap : 4 * SMALL_OBJECT;
		struct key_slot *slots = mudsc__calloc(cap, sizeof *slots, "JSON object keys");
		if (slots == NULL) {
			*st = MUDSC_E_NOMEM;
			return false;
		}
		for (size_t i = 0; i < K->cap; i++)
			if (K->slots[i].tok != NULL)
				keys_insert(slots, cap, K->slots[i].tok, K->slots[i].hash);
		free(K->slots);
		K->slots = slots;
		K->cap = cap;
	}
	for (size_t i = (size_t)h & (K->cap - 1); K->slots[i].tok != NULL; i = (i + 1) & (K->cap - 1))
		if (K->slots[i].hash == h && same_key(K->slots[i].tok, tok))
			return true;
	keys_insert(K->slots, K->cap, tok, h);
	K->count++;
	return false;
}

/* Whether the k-th key of an object (token tok) repeats an earlier one. */
static bool keys_seen(struct keys *K, size_t k, const char *tok, bool caller_maps_keys,
                      mudsc_status *st)
{
	*st = MUDSC_OK;
	if (k < SMALL_OBJECT) {
		for (size_t j = 0; j < k; j++)
			if (same_key(K->first[j], tok))
				return true;
		K->first[k] = tok;
		return false;
	}
	if (caller_maps_keys)
		return false;
	if (k == SMALL_OBJECT) /* the object grows: from now on, by hash */
		for (size_t j = 0; j < SMALL_OBJECT && *st == MUDSC_OK; j++)
			keys_seen_hashed(K, K->first[j], st);
	return *st == MUDSC_OK && keys_seen_hashed(K, tok, st);
}

/* ---- values ------------------------------------------------------------- */

static mudsc_status parse_string(struct parser *P, struct mudsc__json *out)
{
	const char *after = NULL, *tok = P->p;
	char *s;
	mudsc_status st;

	if ((st = check_string(P, &after)) != MUDSC_OK)
		return st;
	P->p = after;
	out->type = MUDSC__JSON_STRING;
	if (P->doc == NULL)
		return MUDSC_OK;
	if ((s = arena(P, (size_t)(after - tok) - 1)) == NULL)
		return MUDSC_E_NOMEM;
	out->n = (uint32_t)mudsc__json_decode(&tok, s);
	out->u.s = s;
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

/* Close the container whose n items start at stack[base]. */
static mudsc_status close_container(struct parser *P, size_t base, uint32_t type, size_t n,
                                    struct mudsc__json *out)
{
	size_t items = P->n_stack - base;
	struct mudsc__json *copy = NULL;

	if (n > UINT32_MAX)
		return fail(P, P->p, "more than 4G items in a container");
	out->type = type;
	out->n = (uint32_t)n;
	if (P->doc == NULL)
		return MUDSC_OK;
	if (items > 0 && (copy = arena(P, items * sizeof *copy)) == NULL)
		return MUDSC_E_NOMEM;
	if (items > 0)
		memcpy(copy, P->stack + base, items * sizeof *copy);
	P->n_stack = base;
	out->u.items = copy;
	return MUDSC_OK;
}

static mudsc_status parse_object(struct parser *P, struct mudsc__json *out)
{
	size_t base = P->n_stack, n = 0;
	struct keys keys = {.cap = 0};
	mudsc_status st = MUDSC_OK;
	struct mudsc__json v;

	P->p++;
	if (accept(P, '}'))
		return close_container(P, base, MUDSC__JSON_OBJECT, 0, out);
	for (;;) {
		const char *key_at;
		char text[41];
		P->p = mudsc__json_ws(P->p, P->end);
		key_at = P->p;
		if (P->p >= P->end || *P->p != '"') {
			st = fail(P, P->p, "string or '}' expected");
			break;
		}
		memset(&v, 0, sizeof v);
		if ((st = parse_string(P, &v)) != MUDSC_OK || (st = push(P, v)) != MUDSC_OK)
			break;
		if (keys_seen(&keys, n, key_at, P->caller_maps_keys, &st)) {
			st = fail(P, key_at, "duplicate object key '%s'",
			          key_text(key_at, text, sizeof text));
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
	if (st == MUDSC_OK && P->depth == 1)
		P->top_members = n;
	free(keys.slots);
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
	P->p = mudsc__json_ws(P->p, P->end);
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

/* The one entry of both ways: a value, then only white space. */
static mudsc_status parse_text(struct parser *P, struct mudsc__json *root)
{
	mudsc_status st = parse_value(P, root);

	if (st == MUDSC_OK) {
		P->p = mudsc__json_ws(P->p, P->end);
		if (P->p != P->end)
			st = fail(P, P->p, "end of input expected");
	}
	free(P->stack);
	return st;
}

mudsc_status mudsc__json_parse(struct mudsc__json_doc *doc, const char *text, size_t len,
                              const char *what)
{
	struct parser P = {.start = text, .p = text, .end = text + len, .what = what, .doc = doc};

	memset(doc, 0, sizeof *doc);
	return parse_text(&P, &doc->root);
}

mudsc_status mudsc__json_check(const char *text, size_t len, const char *what, size_t *members,
                              bool caller_maps_keys)
{
	struct parser P = {.start = text, .p = text, .end = text + len, .what = what,
	                   .caller_maps_keys = caller_maps_keys};
	struct mudsc__json root;
	mudsc_status st = parse_text(&P, &root);

	if (st == MUDSC_OK && members != NULL)
		*members = root.type == MUDSC__JSON_OBJECT ? P.top_members : 0;
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

/* ---- walking checked text ----------------------------------------------- */

const char *mudsc__json_skip(const char *p)
{
	int depth = 0;

	do {
		switch (*p) {
		case '"':
			p += mudsc__json_token_len(p);
			break;
		case '{':
		case '[':
			depth++;
			p++;
			break;
		case '}':
		case ']':
			depth--;
			p++;
			break;
		case ',':
		case ':':
		case ' ':
		case '\t':
		case '\n':
		case '\r':
			p++;
			break;
		default: /* number or literal */
			while (*p != ',' && *p != '}' && *p != ']' && !is_ws(*p))
				p++;
		}
	} while (depth > 0);
	return p;
}

int mudsc__json_integer(const char **pp, int64_t *out)
{
	const char *p = *pp, *q = mudsc__json_skip(p);
	int neg = *p == '-';
	uint64_t mag = 0;

	*pp = q;
	if (!(neg || (*p >= '0' && *p <= '9')))
		return 0;
	for (const char *r = p + neg; r < q; r++) {
		if (*r < '0' || *r > '9')
			return 0; /* a fraction or an exponent */
		mag = mag * 10 + (uint64_t)(*r - '0');
	}
	/* in range: the checker refused integers outside int64 */
	*out = neg ? (int64_t)(0 - mag) : (int64_t)mag;
	return 1;
}
