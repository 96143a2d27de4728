/*
 * Safetensors reader.  Every rule of the format is enforced before any
 * tensor is exposed (docs/safetensors.md lists them):
 *   8-byte little-endian header length N, N <= 100 MB, 8 + N <= size;
 *   the header is UTF-8 JSON whose first byte is '{' (trailing spaces are
 *   padding); keys are unique; each tensor has exactly dtype, shape and
 *   data_offsets; dtype is known; shape entries are non-negative integers
 *   (rank <= 8); byte size = product(shape) * dtype size without overflow
 *   and equals end - begin; the offsets, sorted, are contiguous from 0 and
 *   cover the whole data buffer (no hole, no overlap, exact file length);
 *   __metadata__ maps strings to strings.
 *
 * SPDX-License-Identifier: MIT
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "model/model.h"
#include "model/safetensors.h"

struct st_entry {
	const char *name; /* borrowed from the JSON document */
	mudsc_dtype dtype;
	int32_t rank;
	int64_t shape[MUDSC_MAX_RANK];
	size_t begin, end;
};

struct st_header {
	json_t *root;
	struct st_entry *entries;
	size_t count;
	json_t *metadata; /* borrowed from root, or NULL */
};

static mudsc_status parse_u64(json_t *v, const char *name, const char *what, size_t *out)
{
	json_int_t x;
	if (!json_is_integer(v))
		return mudsc__err(MUDSC_E_PARSE, "safetensors: tensor '%s': %s is not an integer", name, what);
	x = json_integer_value(v);
	if (x < 0)
		return mudsc__err(MUDSC_E_PARSE, "safetensors: tensor '%s': %s is negative", name, what);
	if ((unsigned long long)x > SIZE_MAX)
		return mudsc__err(MUDSC_E_PARSE, "safetensors: tensor '%s': %s is too large", name, what);
	*out = (size_t)x;
	return MUDSC_OK;
}

static mudsc_status parse_shape(json_t *shape, struct st_entry *e)
{
	size_t i, dim = 0;
	json_t *v;

	if (!json_is_array(shape))
		return mudsc__err(MUDSC_E_PARSE, "safetensors: tensor '%s': 'shape' is not an array", e->name);
	if (json_array_size(shape) > MUDSC_MAX_RANK)
		return mudsc__err(MUDSC_E_PARSE, "safetensors: tensor '%s': rank exceeds 8", e->name);
	e->rank = (int32_t)json_array_size(shape);
	json_array_foreach(shape, i, v)
	{
		mudsc_status st = parse_u64(v, e->name, "a 'shape' entry", &dim);
		if (st != MUDSC_OK)
			return st;
		if ((unsigned long long)dim > INT64_MAX)
			return mudsc__err(MUDSC_E_PARSE, "safetensors: tensor '%s': %s is too large", e->name, "a 'shape' entry");
		e->shape[i] = (int64_t)dim;
	}
	return MUDSC_OK;
}

static mudsc_status parse_offsets(json_t *offsets, struct st_entry *e)
{
	mudsc_status st;
	if (!json_is_array(offsets) || json_array_size(offsets) != 2)
		return mudsc__err(MUDSC_E_PARSE, "safetensors: tensor '%s': 'data_offsets' is not [begin, end]", e->name);
	if ((st = parse_u64(json_array_get(offsets, 0), e->name, "data_offsets[0]", &e->begin)) ||
	    (st = parse_u64(json_array_get(offsets, 1), e->name, "data_offsets[1]", &e->end)))
		return st;
	if (e->end < e->begin)
		return mudsc__err(MUDSC_E_PARSE, "safetensors: tensor '%s': data_offsets end < begin", e->name);
	return MUDSC_OK;
}

static mudsc_status parse_entry(const char *name, json_t *info, struct st_entry *e)
{
	const char *key;
	json_t *v, *dtype;
	size_t numel, nbytes;
	int32_t code;
	mudsc_status st;

	e->name = name;
	if (!json_is_object(info))
		return mudsc__err(MUDSC_E_PARSE, "safetensors: entry '%s' is not an object", name);
	json_object_foreach(info, key, v)
	{
		if (strcmp(key, "dtype") != 0 && strcmp(key, "shape") != 0 &&
		    strcmp(key, "data_offsets") != 0)
			return mudsc__err(MUDSC_E_PARSE, "safetensors: tensor '%s': unknown field '%s'", name, key);
	}
	dtype = json_object_get(info, "dtype");
	if (!json_is_string(dtype))
		return mudsc__err(MUDSC_E_PARSE, "safetensors: tensor '%s': 'dtype' missing or not a string", name);
	if (mudsc_dtype_from_name(&code, json_string_value(dtype)) != MUDSC_OK)
		return mudsc__err(MUDSC_E_PARSE, "safetensors: tensor '%s': unknown dtype '%s'", name, json_string_value(dtype));
	e->dtype = (mudsc_dtype)code;
	if (json_object_get(info, "shape") == NULL || json_object_get(info, "data_offsets") == NULL)
		return mudsc__err(MUDSC_E_PARSE, "safetensors: tensor '%s': 'shape' or 'data_offsets' missing", name);
	if ((st = parse_shape(json_object_get(info, "shape"), e)) ||
	    (st = parse_offsets(json_object_get(info, "data_offsets"), e)))
		return st;
	if (!mudsc__shape_numel(e->rank, e->shape, &numel) ||
	    !mudsc__mul_size(numel, mudsc_dtype_size(e->dtype), &nbytes))
		return mudsc__err(MUDSC_E_PARSE, "safetensors: tensor '%s': byte size overflows", name);
	if (nbytes != e->end - e->begin)
		return mudsc__err(MUDSC_E_PARSE,
		                 "safetensors: tensor '%s': data_offsets span %zu bytes but dtype and "
		                 "shape need %zu",
		                 name, e->end - e->begin, nbytes);
	return MUDSC_OK;
}

static mudsc_status check_metadata(json_t *meta)
{
	const char *key;
	json_t *v;

	if (!json_is_object(meta))
		return mudsc__err(MUDSC_E_PARSE, "safetensors: '%s' is not an object", MUDSC__ST_METADATA_KEY);
	json_object_foreach(meta, key, v)
	{
		if (!json_is_string(v))
			return mudsc__err(MUDSC_E_PARSE, "safetensors: metadata value of '%s' is not a string", key);
	}
	return MUDSC_OK;
}

static int cmp_span(const void *a, const void *b)
{
	const struct st_entry *x = *(const struct st_entry *const *)a;
	const struct st_entry *y = *(const struct st_entry *const *)b;
	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return 0;
}

/* The spans, sorted, must tile [0, data_len) exactly. */
static mudsc_status check_coverage(const struct st_header *h, size_t data_len)
{
	const struct st_entry **sorted;
	size_t pos = 0;
	mudsc_status st = MUDSC_OK;

	sorted = mudsc__calloc(h->count, sizeof *sorted, "safetensors offsets");
	if (sorted == NULL)
		return MUDSC_E_NOMEM;
	for (size_t i = 0; i < h->count; i++)
		sorted[i] = &h->entries[i];
	qsort(sorted, h->count, sizeof *sorted, cmp_span);
	for (size_t i = 0; i < h->count && st == MUDSC_OK; i++) {
		if (sorted[i]->begin > pos)
			st = mudsc__err(MUDSC_E_PARSE,
			               "safetensors: hole in the data buffer: bytes %zu..%zu belong to no "
			               "tensor (next is '%s')",
			               pos, sorted[i]->begin, sorted[i]->name);
		else if (sorted[i]->begin < pos)
			st = mudsc__err(MUDSC_E_PARSE,
			               "safetensors: tensor '%s' overlaps another tensor at byte %zu",
			               sorted[i]->name, sorted[i]->begin);
		pos = sorted[i]->end;
	}
	if (st == MUDSC_OK && pos != data_len)
		st = mudsc__err(MUDSC_E_PARSE,
		               "safetensors: tensors cover %zu bytes but the data buffer has %zu", pos,
		               data_len);
	free(sorted);
	return st;
}

static mudsc_status parse_header(const char *text, size_t len, size_t data_len, struct st_header *h)
{
	json_error_t jerr;
	const char *key;
	json_t *v;
	size_t n = 0;
	mudsc_status st;

	memset(h, 0, sizeof *h);
	if (len == 0 || text[0] != '{')
		return mudsc__err(MUDSC_E_PARSE, "safetensors: header does not start with '{'");
	h->root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (h->root == NULL)
		return mudsc__err(MUDSC_E_PARSE, "safetensors: header JSON, line %d column %d: %s",
		                 jerr.line, jerr.column, jerr.text);
	if (!json_is_object(h->root))
		return mudsc__err(MUDSC_E_PARSE, "safetensors: header is not a JSON object");
	h->entries = mudsc__calloc(json_object_size(h->root), sizeof *h->entries, "safetensors header");
	if (h->entries == NULL)
		return MUDSC_E_NOMEM;
	json_object_foreach(h->root, key, v)
	{
		if (strcmp(key, MUDSC__ST_METADATA_KEY) == 0) {
			if ((st = check_metadata(v)) != MUDSC_OK)
				return st;
			h->metadata = v;
			continue;
		}
		if (key[0] == '\0')
			return mudsc__err(MUDSC_E_PARSE, "safetensors: a tensor has an empty name");
		if ((st = parse_entry(key, v, &h->entries[n])) != MUDSC_OK)
			return st;
		n++;
	}
	h->count = n;
	return check_coverage(h, data_len);
}

static void free_header(struct st_header *h)
{
	free(h->entries);
	json_decref(h->root);
}

static mudsc_status build_model(const struct st_header *h, const unsigned char *data,
                                mudsc_model **out)
{
	mudsc_model *m;
	mudsc_status st = mudsc_model_new(&m);
	const char *key;
	json_t *v;

	if (st != MUDSC_OK)
		return st;
	for (size_t i = 0; i < h->count && st == MUDSC_OK; i++) {
		const struct st_entry *e = &h->entries[i];
		st = mudsc_model_add(m, e->name, e->dtype, e->rank, e->shape, data + e->begin,
		                     MUDSC_BORROW);
	}
	if (h->metadata != NULL)
		json_object_foreach(h->metadata, key, v)
		{
			if (st == MUDSC_OK)
				st = mudsc_model_set_meta(m, key, json_string_value(v));
		}
	if (st != MUDSC_OK) {
		mudsc_model_free(m);
		return st;
	}
	*out = m;
	return MUDSC_OK;
}

/* Parse bytes [buf, buf+len); tensors borrow from buf. */
static mudsc_status parse_bytes(const unsigned char *buf, size_t len, mudsc_model **out)
{
	struct st_header h;
	uint64_t hlen = 0;
	mudsc_status st;

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
	st = parse_header((const char *)buf + 8, (size_t)hlen, len - 8 - (size_t)hlen, &h);
	if (st == MUDSC_OK)
		st = build_model(&h, buf + 8 + hlen, out);
	free_header(&h);
	return st;
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
			return MUDSC_E_NOMEM;
		memcpy(copy, buf, len);
		buf = copy;
	}
	st = parse_bytes(buf, len, &m);
	if (st != MUDSC_OK) {
		free(copy);
		return st;
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
		return mudsc__err_context(st, "loading '%s'", path);
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
