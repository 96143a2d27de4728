/*
 * The JSON under a safetensors header (see st_json.h): a validator that
 * allocates nothing, and readers of the tokens of text it accepted.
 *
 * The validator accepts what Jansson's json_loadb() does for the header
 * (RFC 8259 JSON; strings valid UTF-8 without NUL, \u escapes with paired
 * surrogates; integers within int64; depth <= 2048; whitespace after the
 * value), so that replacing Jansson changed no verdict.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "model/st_json.h"

#define MAX_DEPTH 2048

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

const char *mudsc__stj_ws(const char *p, const char *end)
{
	while (p < end && is_ws(*p))
		p++;
	return p;
}

static int hex4(const char *p, const char *end, unsigned *out)
{
	unsigned v = 0;
	if (end - p < 4)
		return 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return 0;
	}
	*out = v;
	return 1;
}

/* Length of the valid UTF-8 sequence at p (lead byte >= 0x80), or 0. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t n;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if ((size_t)(end - p) < n)
		return 0;
	if (c == 0xe0)
		lo = 0xa0; /* no overlong forms */
	else if (c == 0xed)
		hi = 0x9f; /* no UTF-16 surrogates */
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f; /* nothing past U+10FFFF */
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/* p at '"': the end of the string, or NULL and *why. */
static const char *check_string(const char *p, const char *end, const char **why)
{
	for (p++; p < end;) {
		unsigned char c = (unsigned char)*p;
		unsigned u, v;

		if (c == '"')
			return p + 1;
		if (c < 0x20) {
			*why = c == 0 ? "NUL byte in a string" : "control character in a string";
			return NULL;
		}
		if (c >= 0x80) {
			size_t n = utf8_len((const unsigned char *)p, (const unsigned char *)end);
			if (n == 0) {
				*why = "invalid UTF-8 in a string";
				return NULL;
			}
			p += n;
			continue;
		}
		if (c != '\\') {
			p++;
			continue;
		}
		if (end - p < 2) {
			*why = "unterminated string";
			return NULL;
		}
		if (strchr("\"\\/bfnrt", p[1]) != NULL && p[1] != '\0') {
			p += 2;
			continue;
		}
		if (p[1] != 'u' || !hex4(p + 2, end, &u)) {
			*why = "invalid escape in a string";
			return NULL;
		}
		p += 6;
		if (u == 0) {
			*why = "\\u0000 is not allowed in a string";
			return NULL;
		}
		if (u >= 0xdc00 && u <= 0xdfff) {
			*why = "invalid Unicode escape (a lone low surrogate)";
			return NULL;
		}
		if (u >= 0xd800 && u <= 0xdbff) {
			if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !hex4(p + 2, end, &v) ||
			    v < 0xdc00 || v > 0xdfff) {
				*why = "invalid Unicode escape (a high surrogate without its pair)";
				return NULL;
			}
			p += 6;
		}
	}
	*why = "unterminated string";
	return NULL;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Whether the real number with significant digits sig[0, nsig) (no leading
 * zero) and leading digit at 10^lead overflows a double, as strtod()
 * decides it (Jansson refuses such reals).  Only lead = 308 needs strtod,
 * on a copy without a decimal point (so the locale does not matter) of at
 * most 800 digits.
 */
static int real_overflows(const char *sig, const char *sig_end, long lead)
{
	char copy[840];
	size_t m = 0;
	double v;

	if (lead != 308)
		return lead > 308;
	for (const char *q = sig; q < sig_end && m < 800; q++)
		if (*q != '.')
			copy[m++] = *q;
	snprintf(copy + m, sizeof copy - m, "e%ld", lead - (long)m + 1);
	errno = 0;
	v = strtod(copy, NULL);
	return errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL);
}

/* A number token at p: its end, or NULL and *why.  Integers must fit
 * int64, reals a double. */
static const char *check_number(const char *p, const char *end, const char **why)
{
	const char *q = p, *sig = NULL, *mant_end;
	int neg = 0, integer = 1, exp_neg = 0;
	uint64_t mag = 0, limit;
	long int_digits = 0, lead_zero_frac = 0, exp = 0;

	if (q < end && *q == '-') {
		neg = 1;
		q++;
	}
	if (q >= end || !is_digit(*q)) {
		*why = "invalid token";
		return NULL;
	}
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	if (*q == '0') {
		q++;
	} else {
		sig = q;
		for (; q < end && is_digit(*q); q++) {
			unsigned d = (unsigned)(*q - '0');
			int_digits++;
			if (mag > (limit - d) / 10)
				mag = limit + 1; /* saturate: too big */
			else
				mag = mag * 10 + d;
		}
	}
	if (q < end && *q == '.') {
		integer = 0;
		if (++q >= end || !is_digit(*q)) {
			*why = "invalid number";
			return NULL;
		}
		for (; q < end && is_digit(*q); q++) {
			if (sig == NULL && *q != '0')
				sig = q;
			else if (sig == NULL)
				lead_zero_frac++;
		}
	}
	mant_end = q;
	if (q < end && (*q == 'e' || *q == 'E')) {
		integer = 0;
		if (++q < end && (*q == '+' || *q == '-'))
			exp_neg = *q++ == '-';
		if (q >= end || !is_digit(*q)) {
			*why = "invalid number";
			return NULL;
		}
		for (; q < end && is_digit(*q); q++)
			exp = exp > 100000000 ? exp : exp * 10 + (*q - '0'); /* saturate */
	}
	if (integer && mag > limit) {
		*why = neg ? "too big negative integer" : "too big integer";
		return NULL;
	}
	if (!integer && sig != NULL &&
	    real_overflows(sig, mant_end, (int_digits > 0 ? int_digits - 1 : -lead_zero_frac - 1) +
	                               (exp_neg ? -exp : exp))) {
		*why = "real number overflow";
		return NULL;
	}
	return q;
}

static const char *check_literal(const char *p, const char *end, const char **why)
{
	static const char *const words[] = {"true", "false", "null"};
	for (int i = 0; i < 3; i++) {
		size_t n = strlen(words[i]);
		if ((size_t)(end - p) >= n && memcmp(p, words[i], n) == 0)
			return p + n;
	}
	*why = "invalid token";
	return NULL;
}

static mudsc_status syntax_error(const char *text, const char *at, const char *why)
{
	int line = 1;
	const char *line_start = text;

	for (const char *q = text; q < at; q++)
		if (*q == '\n') {
			line++;
			line_start = q + 1;
		}
	return mudsc__err(MUDSC_E_PARSE, "safetensors: header JSON, line %d column %ld: %s", line,
	                 (long)(at - line_start) + 1, why);
}

mudsc_status mudsc__stj_validate(const char *text, size_t len, size_t *members)
{
	const char *p = text, *end = text + len, *why = NULL;
	char stack[MAX_DEPTH]; /* 'o' object, 'a' array */
	int depth = 0;
	size_t top_members = 0;

	p = mudsc__stj_ws(p, end);
	for (;;) {
		/* a value at p */
		if (p >= end)
			return syntax_error(text, p, "unexpected end of the header");
		if (*p == '{' || *p == '[') {
			if (depth == MAX_DEPTH)
				return syntax_error(text, p, "too deeply nested");
			stack[depth++] = *p == '{' ? 'o' : 'a';
			p = mudsc__stj_ws(p + 1, end);
			if (p < end && *p == (stack[depth - 1] == 'o' ? '}' : ']')) {
				depth--;
				p++;
				goto after_value;
			}
			if (stack[depth - 1] == 'o')
				goto member;
			continue;
		}
		{
			const char *tok = p;
			if (*p == '"')
				p = check_string(p, end, &why);
			else if (*p == '-' || is_digit(*p))
				p = check_number(p, end, &why);
			else
				p = check_literal(p, end, &why);
			if (p == NULL)
				return syntax_error(text, tok, why);
		}
	after_value:
		if (depth == 0)
			break;
		p = mudsc__stj_ws(p, end);
		if (p < end && *p == ',') {
			p = mudsc__stj_ws(p + 1, end);
			if (stack[depth - 1] == 'a')
				continue;
			goto member;
		}
		if (p < end && *p == (stack[depth - 1] == 'o' ? '}' : ']')) {
			depth--;
			p++;
			goto after_value;
		}
		return syntax_error(text, p < end ? p : end,
		                    stack[depth - 1] == 'o' ? "expected ',' or '}'"
		                                            : "expected ',' or ']'");
	member:
		/* "key" : at p */
		if (p >= end || *p != '"')
			return syntax_error(text, p, "expected a string as an object key");
		{
			const char *q = check_string(p, end, &why);
			if (q == NULL)
				return syntax_error(text, p, why);
			p = mudsc__stj_ws(q, end);
		}
		if (p >= end || *p != ':')
			return syntax_error(text, p, "expected ':'");
		if (depth == 1)
			top_members++;
		p = mudsc__stj_ws(p + 1, end);
	}
	p = mudsc__stj_ws(p, end);
	if (p != end)
		return syntax_error(text, p, "end of file expected after the header object");
	*members = top_members;
	return MUDSC_OK;
}

/* ---- readers of validated text ---- */

static void put_utf8(char *out, size_t *n, unsigned u)
{
	if (u < 0x80) {
		out[(*n)++] = (char)u;
	} else if (u < 0x800) {
		out[(*n)++] = (char)(0xc0 | (u >> 6));
		out[(*n)++] = (char)(0x80 | (u & 0x3f));
	} else if (u < 0x10000) {
		out[(*n)++] = (char)(0xe0 | (u >> 12));
		out[(*n)++] = (char)(0x80 | ((u >> 6) & 0x3f));
		out[(*n)++] = (char)(0x80 | (u & 0x3f));
	} else {
		out[(*n)++] = (char)(0xf0 | (u >> 18));
		out[(*n)++] = (char)(0x80 | ((u >> 12) & 0x3f));
		out[(*n)++] = (char)(0x80 | ((u >> 6) & 0x3f));
		out[(*n)++] = (char)(0x80 | (u & 0x3f));
	}
}

size_t mudsc__stj_token_len(const char *p)
{
	const char *q = p + 1;
	while (*q != '"')
		q += *q == '\\' ? 2 : 1;
	return (size_t)(q - p) + 1;
}

size_t mudsc__stj_decode(const char **pp, char *dst)
{
	const char *p = *pp + 1;
	size_t n = 0;

	while (*p != '"') {
		unsigned u, v;
		if (*p != '\\') {
			dst[n++] = *p++;
			continue;
		}
		switch (p[1]) {
		case 'b': dst[n++] = '\b'; break;
		case 'f': dst[n++] = '\f'; break;
		case 'n': dst[n++] = '\n'; break;
		case 'r': dst[n++] = '\r'; break;
		case 't': dst[n++] = '\t'; break;
		case 'u':
			hex4(p + 2, p + 6, &u);
			if (u >= 0xd800 && u <= 0xdbff) {
				hex4(p + 8, p + 12, &v);
				u = 0x10000 + ((u - 0xd800) << 10) + (v - 0xdc00);
				p += 6;
			}
			put_utf8(dst, &n, u);
			p += 4;
			break;
		default: dst[n++] = p[1]; break; /* " \ / */
		}
		p += 2;
	}
	dst[n] = '\0';
	*pp = p + 1;
	return n;
}

mudsc_status mudsc__stj_string(const char **pp, const char *end, struct mudsc__stj_buf *buf)
{
	size_t need = mudsc__stj_token_len(*pp) - 1; /* decoded + NUL never exceeds this */

	(void)end;
	if (need > buf->cap) {
		size_t cap = need > 2 * buf->cap ? need : 2 * buf->cap;
		char *grown = realloc(buf->s, cap);
		if (grown == NULL)
			return mudsc__err(MUDSC_E_NOMEM, "safetensors: out of memory reading the header");
		buf->s = grown;
		buf->cap = cap;
	}
	buf->len = mudsc__stj_decode(pp, buf->s);
	return MUDSC_OK;
}

const char *mudsc__stj_skip(const char *p, const char *end)
{
	int depth = 0;

	(void)end;
	do {
		switch (*p) {
		case '"':
			for (p++; *p != '"'; p += *p == '\\' ? 2 : 1)
				;
			p++;
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

int mudsc__stj_integer(const char **pp, const char *end, int64_t *out)
{
	const char *p = *pp, *q = mudsc__stj_skip(p, end);
	int neg = *p == '-';
	uint64_t mag = 0;

	*pp = q;
	if (!(neg || is_digit(*p)))
		return 0;
	for (const char *r = p + neg; r < q; r++) {
		if (!is_digit(*r))
			return 0; /* a fraction or an exponent */
		mag = mag * 10 + (uint64_t)(*r - '0');
	}
	/* in range: the validator refused integers outside int64 */
	*out = neg ? (mag == 0 ? 0 : -(int64_t)(mag - 1) - 1) : (int64_t)mag;
	return 1;
}
