/*
 * Safetensors reader.  Every rule of the format is enforced before any
 * tensor is exposed (docs/safetensors.md lists them):
 *   8-byte little-endian header length N, N <= 100 MB, 8 + N <= size;
 *   the header is JSON by the library's one rule (core/json.h: strict RFC
 *   8259, UTF-8 checked, no key twice in any object) whose first byte is
 *   '{' (trailing spaces are padding), checked and then walked without a
 *   document tree so that its memory is the model's; each tensor has
 *   exactly dtype, shape and data_offsets; dtype is known; shape entries are non-negative integers
 *   (rank <= 8); byte size = product(shape) * dtype size without overflow
 *   and equals end - begin; the offsets, sorted, are contiguous from 0 and
 *   cover the whole data buffer (no hole, no overlap, exact file length);
 *   __metadata__ maps strings to strings.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "model/model.h"
#include "model/safetensors.h"

/* Where a tensor's bytes are: the coverage check sorts these. */
struct st_span {
	size_t begin, end;
	size_t index; /* in the model */
};

/* One header being read into a model. */
struct st_reader {
	const char *text, *end;        /* the header */
	const unsigned char *data;     /* the data buffer after it */
	size_t data_len;
	mudsc_model *model;
	struct st_span *spans;
	size_t count;                  /* tensors read */
	int seen_metadata;
	struct mudsc__json_buf key, field, value;
};

/* The value of one tensor field, or NULL when absent. */
struct st_fields {
	const char *dtype, *shape, *data_offsets;
};

static mudsc_status parse_u64(const char **p, const char *end, const char *name,
                              const char *what, size_t *out)
{
	int64_t x;
	if (!mudsc__json_integer(p, &x))
		return mudsc__err(MUDSC_E_PARSE, "safetensors: tensor '%s': %s is not an integer", name, what);
	if (x < 0)
		return mudsc__err(MUDSC_E_PARSE, "safetensors: tensor '%s': %s is negative", name, what);
	if ((uint64_t)x > SIZE_MAX)
		return mudsc__err(MUDSC_E_PARSE, "safetensors: tensor '%s': %s is too large", name, what);
	*out = (size_t)x;
	return MUDSC_OK;
}

/* Elements of the array at p (which is at '['). */
static size_t array_size(const char *p, const char *end)
{
	size_t n = 0;
	p = mudsc__json_ws(p + 1, end);
	while (*p != ']') {
		n++;
		p = mudsc__json_ws(mudsc__json_skip(p), end);
		if (*p == ',')
			p = mudsc__json_ws(p + 1, end);
	}
	return n;
}

/* Move *p from an element (or the ']') to the next element (or the ']'). */
static void next_element(const char **p, const char *end)
{
	*p = mudsc__json_ws(*p, end);
	if (**p == ',')
		*p = mudsc__json_ws(*p + 1, end);
}

static mudsc_status parse_shape(const char *p, const char *end, const char *name,
                                int32_t *rank, int64_t *shape)
{
	size_t n, dim;

	if (*p != '[')
		return mudsc__err(MUDSC_E_PARSE, "safetensors: tensor '%s': 'shape' is not an array", name);
	n = array_size(p, end);
	if (n > MUDSC_MAX_RANK)
		return mudsc__err(MUDSC_E_PARSE, "safetensors: tensor '%s': rank exceeds 8", name);
	*rank = (int32_t)n;
	p = mudsc__json_ws(p + 1, end);
	for (size_t i = 0; i < n; i++) {
		mudsc_status st = parse_u64(&p, end, name, "a 'shape' entry", &dim);
		if (st != MUDSC_OK)
			return st;
		if ((unsigned long long)dim > INT64_MAX)
			return mudsc__err(MUDSC_E_PARSE, "safetensors: tensor '%s': %s is too large", name, "a 'shape' entry");
		shape[i] = (int64_t)dim;
		next_element(&p, end);
	}
	return MUDSC_OK;
}

static mudsc_status parse_offsets(const char *p, const char *end, const char *name,
                                  struct st_span *span)
{
	mudsc_status st;

	if (*p != '[' || array_size(p, end) != 2)
		return mudsc__err(MUDSC_E_PARSE, "safetensors: tensor '%s': 'data_offsets' is not [begin, end]", name);
	p = mudsc__json_ws(p + 1, end);
	if ((st = parse_u64(&p, end, name, "data_offsets[0]", &span->begin)) != MUDSC_OK)
		return st;
	next_element(&p, end);
	if ((st = parse_u64(&p, end, name, "data_offsets[1]", &span->end)) != MUDSC_OK)
		return st;
	if (span->end < span->begin)
		return mudsc__err(MUDSC_E_PARSE, "safetensors: tensor '%s': data_offsets end < begin", name);
	return MUDSC_OK;
}

/* The fields of the tensor object at p: each known (none twice: the
 * JSON rule refused duplicate keys). */
static mudsc_status find_fields(struct st_reader *r, const char **pp, const char *name,
                                struct st_fields *f)
{
	const char *p = mudsc__json_ws(*pp + 1, r->end);
	mudsc_status st;

	memset(f, 0, sizeof *f);
	while (*p != '}') {
		const char **slot;
		if ((st = mudsc__json_string(&p, &r->field)) != MUDSC_OK)
			return st;
		p = mudsc__json_ws(mudsc__json_ws(p, r->end) + 1, r->end); /* past ':' */
		if (strcmp(r->field.s, "dtype") == 0)
			slot = &f->dtype;
		else if (strcmp(r->field.s, "shape") == 0)
			slot = &f->shape;
		else if (strcmp(r->field.s, "data_offsets") == 0)
			slot = &f->data_offsets;
		else
			return mudsc__err(MUDSC_E_PARSE, "safetensors: tensor '%s': unknown field '%s'", name,
			                 r->field.s);
		*slot = p;
		p = mudsc__json_skip(p);
		next_element(&p, r->end);
	}
	*pp = p + 1;
	return MUDSC_OK;
}

/* The tensor called r->key.s whose entry is at *pp: checked, then added
 * to the model (borrowing from the data buffer) and its span recorded. */
static mudsc_status parse_tensor(struct st_reader *r, const char **pp)
{
	const char *name = r->key.s;
	struct st_fields f;
	struct st_span span;
	int64_t shape[MUDSC_MAX_RANK] = {0};
	int32_t rank = 0, code;
	size_t numel, nbytes;
	mudsc_dtype dtype;
	mudsc_status st;

	if (**pp != '{')
		return mudsc__err(MUDSC_E_PARSE, "safetensors: entry '%s' is not an object", name);
	if ((st = find_fields(r, pp, name, &f)) != MUDSC_OK)
		return st;
	if (f.dtype == NULL || *f.dtype != '"')
		return mudsc__err(MUDSC_E_PARSE, "safetensors: tensor '%s': 'dtype' missing or not a string", name);
	if ((st = mudsc__json_string(&f.dtype, &r->value)) != MUDSC_OK)
		return st;
	if (mudsc_dtype_from_name(&code, r->value.s) != MUDSC_OK)
		return mudsc__err(MUDSC_E_PARSE, "safetensors: tensor '%s': unknown dtype '%s'", name, r->value.s);
	dtype = (mudsc_dtype)code;
	if (f.shape == NULL || f.data_offsets == NULL)
		return mudsc__err(MUDSC_E_PARSE, "safetensors: tensor '%s': 'shape' or 'data_offsets' missing", name);
	if ((st = parse_shape(f.shape, r->end, name, &rank, shape)) != MUDSC_OK ||
	    (st = parse_offsets(f.data_offsets, r->end, name, &span)) != MUDSC_OK)
		return st;
	if (!mudsc__shape_numel(rank, shape, &numel) ||
	    !mudsc__mul_size(numel, mudsc_dtype_size(dtype), &nbytes))
		return mudsc__err(MUDSC_E_PARSE, "safetensors: tensor '%s': byte size overflows", name);
	if (nbytes != span.end - span.begin)
		return mudsc__err(MUDSC_E_PARSE,
		                 "safetensors: tensor '%s': data_offsets span %zu bytes but dtype and "
		                 "shape need %zu",
		                 name, span.end - span.begin, nbytes);
	/* A span past the data fails the coverage check below; until then the
	 * tensor points at the buffer's start, never outside it. */
	st = mudsc_model_add(r->model, name, dtype, rank, shape,
	                     r->data + (span.end <= r->data_len ? span.begin : 0), MUDSC_BORROW);
	/* the JSON check left the keys of large objects to the model's map */
	if (st == MUDSC_E_EXISTS)
		return mudsc__err(MUDSC_E_PARSE, "safetensors: duplicate object key '%s'", name);
	if (st != MUDSC_OK)
		return st;
	span.index = r->count;
	r->spans[r->count++] = span;
	return MUDSC_OK;
}

/* Members of the object at p (which is at '{'); *after: past its '}'. */
static size_t object_size(const char *p, const char *end, const char **after)
{
	size_t n = 0;
	p = mudsc__json_ws(p + 1, end);
	while (*p != '}') {
		n++;
		p = mudsc__json_ws(mudsc__json_skip(p), end) + 1;       /* key, ':' */
		p = mudsc__json_skip(mudsc__json_ws(p, end));           /* value */
		next_element(&p, end);
	}
	*after = p + 1;
	return n;
}

/* The __metadata__ object at *pp: strings to strings, no key twice (the
 * JSON check leaves the keys of large objects to the model's map).  Its
 * strings are decoded into one block no longer than the object's text,
 * which the model keeps: a few bytes of header never cost a few
 * allocations. */
static mudsc_status parse_metadata(struct st_reader *r, const char **pp)
{
	const char *p = *pp, *after;
	size_t n, used = 0;
	char *arena;
	mudsc_status st;

	if (r->seen_metadata)
		return mudsc__err(MUDSC_E_PARSE, "safetensors: duplicate object key '%s'",
		                 MUDSC__ST_METADATA_KEY);
	r->seen_metadata = 1;
	if (*p != '{')
		return mudsc__err(MUDSC_E_PARSE, "safetensors: '%s' is not an object", MUDSC__ST_METADATA_KEY);
	n = object_size(p, r->end, &after);
	arena = mudsc__alloc((size_t)(after - p), "safetensors metadata");
	if (arena == NULL)
		return MUDSC_E_NOMEM;
	mudsc__model_adopt_arena(r->model, arena, (size_t)(after - p));
	if ((st = mudsc__model_reserve_meta(r->model, n)) != MUDSC_OK)
		return st;
	p = mudsc__json_ws(p + 1, r->end);
	while (*p != '}') {
		char *key = arena + used, *value;
		used += mudsc__json_decode(&p, key) + 1;
		p = mudsc__json_ws(mudsc__json_ws(p, r->end) + 1, r->end); /* past ':' */
		if (*p != '"')
			return mudsc__err(MUDSC_E_PARSE, "safetensors: metadata value of '%s' is not a string",
			                 key);
		value = arena + used;
		used += mudsc__json_decode(&p, value) + 1;
		st = mudsc__model_add_meta_arena(r->model, key, value);
		if (st == MUDSC_E_EXISTS)
			return mudsc__err(MUDSC_E_PARSE, "safetensors: duplicate object key '%s'", key);
		if (st != MUDSC_OK)
			return st;
		next_element(&p, r->end);
	}
	*pp = p + 1;
	return MUDSC_OK;
}

static int cmp_span(const void *a, const void *b)
{
	const struct st_span *x = a, *y = b;
	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* The spans, sorted, must tile [0, data_len) exactly.  Files written in
 * offset order (all writers' habit) skip the sort. */
static mudsc_status check_coverage(struct st_reader *r)
{
	size_t pos = 0;

	for (size_t i = 1; i < r->count; i++)
		if (cmp_span(&r->spans[i - 1], &r->spans[i]) > 0) {
			qsort(r->spans, r->count, sizeof *r->spans, cmp_span);
			break;
		}
	for (size_t i = 0; i < r->count; i++) {
		const struct st_span *s = &r->spans[i];
		const char *name = r->model->tensors[s->index].name;
		if (s->begin > pos)
			return mudsc__err(MUDSC_E_PARSE,
			                 "safetensors: hole in the data buffer: bytes %zu..%zu belong to no "
			                 "tensor (next is '%s')",
			                 pos, s->begin, name);
		if (s->begin < pos)
			return mudsc__err(MUDSC_E_PARSE,
			                 "safetensors: tensor '%s' overlaps another tensor at byte %zu", name,
			                 s->begin);
		pos = s->end;
	}
	if (pos != r->data_len)
		return mudsc__err(MUDSC_E_PARSE,
		                 "safetensors: tensors cover %zu bytes but the data buffer has %zu", pos,
		                 r->data_len);
	return MUDSC_OK;
}

/* Walk the validated header object, member by member, into r->model. */
static mudsc_status read_members(struct st_reader *r)
{
	const char *p = mudsc__json_ws(r->text + 1, r->end);
	mudsc_status st;

	while (*p != '}') {
		if ((st = mudsc__json_string(&p, &r->key)) != MUDSC_OK)
			return st;
		p = mudsc__json_ws(mudsc__json_ws(p, r->end) + 1, r->end); /* past ':' */
		if (strcmp(r->key.s, MUDSC__ST_METADATA_KEY) == 0)
			st = parse_metadata(r, &p);
		else if (r->key.s[0] == '\0')
			st = mudsc__err(MUDSC_E_PARSE, "safetensors: a tensor has an empty name");
		else
			st = parse_tensor(r, &p);
		if (st != MUDSC_OK)
			return st;
		next_element(&p, r->end);
	}
	return MUDSC_OK;
}

/* Parse the header text[0, len) and build the model over data[0, data_len).
 * Memory: the model and one span per tensor, nothing per JSON value. */
static mudsc_status parse_header(const char *text, size_t len, const unsigned char *data,
                                 size_t data_len, mudsc_model **out)
{
	struct st_reader r;
	size_t members;
	mudsc_status st;

	if (len == 0 || text[0] != '{')
		return mudsc__err(MUDSC_E_PARSE, "safetensors: header does not start with '{'");
	if ((st = mudsc__json_check(text, len, "safetensors header", &members, true)) != MUDSC_OK)
		return st;
	memset(&r, 0, sizeof r);
	r.text = text;
	r.end = text + len;
	r.data = data;
	r.data_len = data_len;
	if ((st = mudsc_model_new(&r.model)) != MUDSC_OK)
		return st;
	r.spans = mudsc__calloc(members ? members : 1, sizeof *r.spans, "safetensors offsets");
	st = r.spans == NULL ? MUDSC_E_NOMEM : mudsc__model_reserve(r.model, members);
	if (st == MUDSC_OK)
		st = read_members(&r);
	if (st == MUDSC_OK)
		st = check_coverage(&r);
	free(r.spans);
	free(r.key.s);
	free(r.field.s);
	free(r.value.s);
	if (st != MUDSC_OK) {
		mudsc_model_free(r.model);
		return st;
	}
	*out = r.model;
	return MUDSC_OK;
}

/* Parse bytes [buf, buf+len); tensors borrow from buf. */
static mudsc_status parse_bytes(const unsigned char *buf, size_t len, mudsc_model **out)
{
	uint64_t hlen = 0;

	if (len < 8)
		return mudsc__err(MUDSC_E_PARSE, "safetensors: %zu bytes, shorter than the 8-byte header "
		                                "length", len);
	for (int i = 7; i >= 0; i--)
		hlen = (hlen << 8) | buf[i];
	if (hlen > MUDSC__ST_MAX_HEADER)
		return mudsc__err(MUDSC_E_PARSE, "safetensors: header length %llu exceeds the %zu-byte cap",
		                 (unsigned long long)hlen, MUDSC__ST_MAX_HEADER);
	if (hlen > len - 8)
		return mudsc__err(MUDSC_E_PARSE,
		                 "safetensors: header length %llu runs past the end (%zu bytes)",
		                 (unsigned long long)hlen, len);
	return parse_header((const char *)buf + 8, (size_t)hlen, buf + 8 + hlen,
	                    len - 8 - (size_t)hlen, out);
}

MUDSC_API size_t mudsc_safetensors_max_header(void)
{
	return MUDSC__ST_MAX_HEADER;
}

MUDSC_API mudsc_status mudsc_model_load_buffer(mudsc_model **out, const void *buf, size_t len,
                                               mudsc_add_mode mode)
{
	mudsc_model *m;
	void *copy = NULL;
	mudsc_status st;

	MUDSC__CHECK_NULL(out);
	if (buf == NULL && len > 0)
		return mudsc__err(MUDSC_E_INVALID, "mudsc_model_load_buffer: argument 'buf' is NULL");
	if (mode != MUDSC_COPY && mode != MUDSC_BORROW)
		return mudsc__err(MUDSC_E_INVALID, "mudsc_model_load_buffer: argument 'mode' = %d is "
		                                  "not MUDSC_COPY or MUDSC_BORROW", (int)mode);
	if (mode == MUDSC_COPY && len > 0) {
		copy = mudsc__alloc(len, "safetensors buffer copy");
		if (copy == NULL)
			return mudsc__err_context(MUDSC_E_NOMEM, "mudsc_model_load_buffer");
		memcpy(copy, buf, len);
		buf = copy;
	}
	st = parse_bytes(buf, len, &m);
	if (st != MUDSC_OK) {
		free(copy);
		return mudsc__err_context(st, "mudsc_model_load_buffer");
	}
	if (copy != NULL)
		mudsc__model_adopt_backing(m, BACKING_HEAP, copy, len);
	*out = m;
	return MUDSC_OK;
}

static mudsc_status load_file(mudsc_model **out, const char *path, mudsc_load_mode mode,
                              const char *fn)
{
	struct mudsc__file file;
	mudsc_model *m;
	mudsc_status st;

	if (mode != MUDSC_LOAD_MAP && mode != MUDSC_LOAD_READ)
		return mudsc__err(MUDSC_E_INVALID, "%s: argument 'mode' = %d is not MUDSC_LOAD_MAP or "
		                                  "MUDSC_LOAD_READ", fn, (int)mode);
	st = mode == MUDSC_LOAD_MAP ? mudsc__file_map(&file, path, fn)
	                            : mudsc__file_read(&file, path, fn);
	if (st != MUDSC_OK)
		return st;
	st = parse_bytes(file.data, file.len, &m);
	if (st != MUDSC_OK) {
		if (mode == MUDSC_LOAD_MAP)
			mudsc__file_unmap(file.data, file.len);
		else
			free((void *)file.data);
		return mudsc__err_context(st, "%s: loading '%s'", fn, path);
	}
	if (file.data != NULL)
		mudsc__model_adopt_backing(m, mode == MUDSC_LOAD_MAP ? BACKING_MMAP : BACKING_HEAP,
		                           (void *)file.data, file.len);
	*out = m;
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_model_load(mudsc_model **out, const char *path)
{
	MUDSC__CHECK_NULL(out);
	MUDSC__CHECK_NULL(path);
	return load_file(out, path, MUDSC_LOAD_MAP, "mudsc_model_load");
}

MUDSC_API mudsc_status mudsc_model_load_mode(mudsc_model **out, const char *path,
                                             mudsc_load_mode mode)
{
	MUDSC__CHECK_NULL(out);
	MUDSC__CHECK_NULL(path);
	return load_file(out, path, mode, "mudsc_model_load_mode");
}
