/*
 * The field accumulator's bytes (docs/field-format.md): "MUDSCGIF",
 * version 1, little-endian; the pair sums of every step (and of every
 * input with keep_inputs), an FNV-1a checksum at the end.
 *
 * SPDX-License-Identifier: MIT
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "field/field.h"

#define FIELD_MAGIC "MUDSCGIF"
#define FIELD_VERSION 1u
#define FIELD_HEADER 48
#define FIELD_KEEP_INPUTS 1u

static void put_le(unsigned char *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void put_f64(unsigned char *p, double d)
{
	uint64_t v;

	memcpy(&v, &d, 8);
	put_le(p, v, 8);
}

static double get_f64(const unsigned char *p)
{
	uint64_t v = get_le(p, 8);
	double d;

	memcpy(&d, &v, 8);
	return d;
}

/* Pairs i < j of N models. */
static size_t pairs(int32_t n)
{
	return (size_t)n * (size_t)(n - 1) / 2;
}

/* The file's length for these sizes, or 0 when it overflows. */
static size_t file_len(int32_t n, int32_t k, int64_t inputs, bool keep)
{
	size_t rows = (size_t)k, len;

	if (keep && !mudsc__add_size(rows, (size_t)inputs, &rows))
		return 0;
	if (!mudsc__mul_size(rows, pairs(n), &len) || !mudsc__mul_size(len, 8, &len) ||
	    !mudsc__add_size(len, FIELD_HEADER + 8, &len))
		return 0;
	return len;
}

/* Write the bytes of f into buf (file_len bytes). */
static void write_bytes(unsigned char *buf, const mudsc_field *f)
{
	const size_t n = (size_t)f->n, nn = n * n;
	unsigned char *p = buf + FIELD_HEADER;

	memcpy(buf, FIELD_MAGIC, 8);
	put_le(buf + 8, FIELD_VERSION, 4);
	put_le(buf + 12, (uint32_t)f->rule, 4);
	put_le(buf + 16, (uint32_t)f->n, 4);
	put_le(buf + 20, (uint32_t)f->k, 4);
	put_le(buf + 24, (uint64_t)f->d, 8);
	put_le(buf + 32, (uint64_t)f->inputs, 8);
	put_le(buf + 40, f->keep_inputs ? FIELD_KEEP_INPUTS : 0u, 4);
	put_le(buf + 44, 0, 4);
	for (size_t s = 0; s < (size_t)f->k; s++)
		for (size_t i = 0; i < n; i++)
			for (size_t j = i + 1; j < n; j++, p += 8)
				put_f64(p, f->step_sums[s * nn + i * n + j]);
	if (f->keep_inputs)
		for (size_t m = 0; m < (size_t)f->inputs; m++)
			for (size_t i = 0; i < n; i++)
				for (size_t j = i + 1; j < n; j++, p += 8)
					put_f64(p, f->input_sums[m * nn + i * n + j]);
	put_le(p, mudsc__fnv1a(buf, (size_t)(p - buf)), 8);
}

static mudsc_status save_state(const mudsc_field *f, size_t *len, const char *fn)
{
	if (f->open)
		return mudsc__err(MUDSC_E_STATE, "%s: argument 'field' has an open batch (%" PRId64
		                  " inputs; every model must deliver its observations first)", fn,
		                  f->batch);
	*len = file_len(f->n, f->k, f->inputs, f->keep_inputs);
	if (*len == 0)
		return mudsc__err(MUDSC_E_NOMEM, "%s: the bytes' size overflows", fn);
	return MUDSC_OK;
}

/* The bytes of field, into a new buffer (messages name fn). */
static mudsc_status to_bytes(unsigned char **out, size_t *out_len, const mudsc_field *f,
                             const char *fn)
{
	unsigned char *buf;
	size_t len;
	mudsc_status st;

	if ((st = save_state(f, &len, fn)) != MUDSC_OK)
		return st;
	buf = mudsc__alloc(len, "the field's bytes");
	if (buf == NULL)
		return MUDSC_E_NOMEM;
	write_bytes(buf, f);
	*out = buf;
	*out_len = len;
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_field_save_buffer(void **out_buf, size_t *out_len,
                                               const mudsc_field *field)
{
	unsigned char *buf;
	size_t len;
	mudsc_status st;

	MUDSC__CHECK_NULL(out_buf);
	MUDSC__CHECK_NULL(out_len);
	MUDSC__CHECK_NULL(field);
	st = to_bytes(&buf, &len, field, "mudsc_field_save_buffer");
	if (st == MUDSC_OK) {
		*out_buf = buf;
		*out_len = len;
	}
	return st;
}

struct save_ctx {
	const unsigned char *buf;
	size_t len;
};

static mudsc_status write_file(int fd, const char *tmp, void *ctx)
{
	const struct save_ctx *c = ctx;

	return mudsc__write_all("mudsc_field_save", fd, c->buf, c->len, tmp);
}

MUDSC_API mudsc_status mudsc_field_save(const mudsc_field *field, const char *path)
{
	const char *fn = "mudsc_field_save";
	struct save_ctx c;
	unsigned char *buf;
	mudsc_status st;

	MUDSC__CHECK_NULL(field);
	MUDSC__CHECK_NULL(path);
	if ((st = to_bytes(&buf, &c.len, field, fn)) != MUDSC_OK)
		return st;
	c.buf = buf;
	st = mudsc__atomic_write(fn, path, write_file, &c);
	free(buf);
	return st;
}

/* ---- loading ----------------------------------------------------------- */

static mudsc_status parse_error(const char *fn, const char *what)
{
	return mudsc__err(MUDSC_E_PARSE, "%s: argument 'buf': not a version-1 field "
	                  "(docs/field-format.md): %s", fn, what);
}

static mudsc_status load(mudsc_field **out, const void *buf, size_t len,
                         const mudsc_field_options *opts, const char *fn)
{
	const unsigned char *b = buf, *p;
	mudsc_field_options o;
	uint64_t rule, n, k, d, inputs, flags;
	size_t nn, want;
	mudsc_field *f;
	mudsc_status st;

	if (buf == NULL && len > 0)
		return mudsc__err(MUDSC_E_INVALID, "%s: argument 'buf' is NULL", fn);
	st = mudsc__options_read(&o, opts, MUDSC__OPTIONS_FIELD, fn);
	if (st != MUDSC_OK)
		return st;
	if (o.nonfinite != MUDSC_NONFINITE_ERROR && o.nonfinite != MUDSC_NONFINITE_ZERO)
		return mudsc__err(MUDSC_E_INVALID, "%s: opts->nonfinite = %d is not a mudsc_nonfinite",
		                  fn, (int)o.nonfinite);
	if (o.max_lead < 0)
		return mudsc__err(MUDSC_E_INVALID, "%s: opts->max_lead = %" PRId64 " must be >= 0",
		                  fn, o.max_lead);
	if ((st = mudsc__stream_check_block_rows(o.block_rows, "opts->block_rows", fn)) != MUDSC_OK)
		return st;
	if (len < FIELD_HEADER + 8)
		return parse_error(fn, "shorter than its 56-byte header and checksum");
	if (memcmp(b, FIELD_MAGIC, 8) != 0)
		return parse_error(fn, "no \"MUDSCGIF\" magic");
	if (get_le(b + 8, 4) != FIELD_VERSION)
		return parse_error(fn, "version is not 1");
	rule = get_le(b + 12, 4);
	n = get_le(b + 16, 4);
	k = get_le(b + 20, 4);
	d = get_le(b + 24, 8);
	inputs = get_le(b + 32, 8);
	flags = get_le(b + 40, 4);
	if (rule > MUDSC_QUAD_RIEMANN_TRAPEZOID)
		return parse_error(fn, "rule is not a mudsc_quad_rule");
	if (n < 2 || n > 65536)
		return parse_error(fn, "n_models is not in 2..65536");
	if (k < (rule == MUDSC_QUAD_RIEMANN_TRAPEZOID ? 2u : 1u) || k > MUDSC_QUAD_MAX_STEPS)
		return parse_error(fn, "steps out of range for the rule");
	if (d < 1 || d > (uint64_t)INT64_MAX)
		return parse_error(fn, "input_size is not >= 1");
	if (inputs > (uint64_t)INT64_MAX / 4)
		return parse_error(fn, "inputs out of range");
	if ((flags & ~(uint64_t)FIELD_KEEP_INPUTS) != 0 || get_le(b + 44, 4) != 0)
		return parse_error(fn, "unknown flags or a nonzero reserved field");
	want = file_len((int32_t)n, (int32_t)k, (int64_t)inputs, flags != 0);
	if (want == 0 || want != len)
		return parse_error(fn, "the length does not match the header's sizes");
	if (get_le(b + len - 8, 8) != mudsc__fnv1a(b, len - 8))
		return parse_error(fn, "checksum mismatch");
	/* every 1 - cos is in [0, 2]: a step's sum over the inputs is at most
	 * 2 * inputs, an input's sum over the steps at most 2 * K */
	p = b + FIELD_HEADER;
	for (size_t u = 0; u < (size_t)k * pairs((int32_t)n); u++, p += 8) {
		double v = get_f64(p);
		if (!(v >= 0.0 && v <= 2.0 * (double)inputs))
			return parse_error(fn, "a step sum is not in [0, 2 * inputs]");
	}
	for (size_t u = 0; flags && u < (size_t)inputs * pairs((int32_t)n); u++, p += 8) {
		double v = get_f64(p);
		if (!(v >= 0.0 && v <= 2.0 * (double)k))
			return parse_error(fn, "an input sum is not in [0, 2 * steps]");
	}
	st = mudsc__field_create(&f, (int32_t)n, (int64_t)d, (int32_t)rule, (int32_t)k, flags != 0,
	                         &o, fn);
	if (st == MUDSC_E_INVALID)
		return parse_error(fn, "sizes too large to address");
	if (st != MUDSC_OK)
		return st;
	if (flags && (st = mudsc__field_reserve_inputs(f, (int64_t)inputs)) != MUDSC_OK) {
		mudsc_field_free(f);
		return st;
	}
	nn = (size_t)n * (size_t)n;
	p = b + FIELD_HEADER;
	for (size_t s = 0; s < (size_t)k; s++)
		for (size_t i = 0; i < (size_t)n; i++)
			for (size_t j = i + 1; j < (size_t)n; j++, p += 8)
				f->step_sums[s * nn + i * (size_t)n + j] = get_f64(p);
	if (flags)
		for (size_t m = 0; m < (size_t)inputs; m++)
			for (size_t i = 0; i < (size_t)n; i++)
				for (size_t j = i + 1; j < (size_t)n; j++, p += 8)
					f->input_sums[m * nn + i * (size_t)n + j] = get_f64(p);
	f->inputs = (int64_t)inputs;
	*out = f;
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_field_load_buffer(mudsc_field **out, const void *buf, size_t len,
                                               const mudsc_field_options *opts)
{
	MUDSC__CHECK_NULL(out);
	return load(out, buf, len, opts, "mudsc_field_load_buffer");
}

MUDSC_API mudsc_status mudsc_field_load(mudsc_field **out, const char *path,
                                        const mudsc_field_options *opts)
{
	const char *fn = "mudsc_field_load";
	struct mudsc__file file;
	mudsc_status st;

	MUDSC__CHECK_NULL(out);
	MUDSC__CHECK_NULL(path);
	st = mudsc__file_read(&file, path, fn);
	if (st != MUDSC_OK)
		return st;
	st = load(out, file.data, file.len, opts, fn);
	free((void *)file.data);
	return st;
}
