/*
 * Safetensors writer.  The header lists tensors in insertion order with
 * contiguous data_offsets and is padded with spaces so the data starts at
 * an 8-byte boundary.  Saving to a path is atomic: temporary file in the
 * same folder, fsync, rename, fsync of the folder.
 *
 * SPDX-License-Identifier: MIT
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "model/model.h"
#include "model/safetensors.h"

static mudsc_status add_tensor_json(json_t *root, const struct model_tensor *t, size_t begin)
{
	json_t *info = json_object();
	json_t *shape = json_array();
	json_t *offsets = json_array();
	int bad = info == NULL || shape == NULL || offsets == NULL;

	for (int32_t d = 0; d < t->rank && !bad; d++)
		bad |= json_array_append_new(shape, json_integer((json_int_t)t->shape[d]));
	bad = bad || json_array_append_new(offsets, json_integer((json_int_t)begin)) ||
	      json_array_append_new(offsets, json_integer((json_int_t)(begin + t->nbytes))) ||
	      json_object_set_new(info, "dtype", json_string(mudsc_dtype_name(t->dtype)));
	bad = bad || json_object_set_new(info, "shape", shape);
	shape = NULL;
	bad = bad || json_object_set_new(info, "data_offsets", offsets);
	offsets = NULL;
	bad = bad || json_object_set_new(root, t->name, info);
	info = NULL;
	json_decref(shape);
	json_decref(offsets);
	json_decref(info);
	return bad ? mudsc__err(MUDSC_E_NOMEM, "safetensors: out of memory building the header")
	           : MUDSC_OK;
}

static mudsc_status add_metadata_json(json_t *root, const mudsc_model *model)
{
	json_t *meta;

	if (model->meta_count == 0)
		return MUDSC_OK;
	meta = json_object();
	if (meta == NULL || json_object_set_new(root, MUDSC__ST_METADATA_KEY, meta))
		return mudsc__err(MUDSC_E_NOMEM, "safetensors: out of memory building the header");
	for (size_t i = 0; i < model->meta_count; i++)
		if (json_object_set_new(meta, model->meta[i].key, json_string(model->meta[i].value)))
			return mudsc__err(MUDSC_E_INVALID,
			                 "safetensors: metadata '%s' is not valid UTF-8 or out of memory",
			                 model->meta[i].key);
	return MUDSC_OK;
}

/* The padded header text of tensors[0..count-1] (in that order, data
 * contiguous) and meta's metadata (NULL: none); *out is owned (free()),
 * *out_len a multiple of 8. */
static mudsc_status build_header_of(const struct model_tensor *tensors, size_t count,
                                    const mudsc_model *meta, char **out, size_t *out_len)
{
	json_t *root = json_object();
	mudsc_status st = MUDSC_OK;
	size_t pos = 0;
	char *text;

	if (root == NULL)
		return mudsc__err(MUDSC_E_NOMEM, "safetensors: out of memory building the header");
	if (meta != NULL)
		st = add_metadata_json(root, meta);
	for (size_t i = 0; i < count && st == MUDSC_OK; i++) {
		st = add_tensor_json(root, &tensors[i], pos);
		pos += tensors[i].nbytes;
	}
	text = st == MUDSC_OK ? json_dumps(root, JSON_COMPACT) : NULL;
	json_decref(root);
	if (st != MUDSC_OK)
		return st;
	if (text == NULL)
		return mudsc__err(MUDSC_E_INVALID, "safetensors: a tensor name is not valid UTF-8");
	size_t len = strlen(text);
	size_t padded = (len + 7) & ~(size_t)7;
	char *buf = realloc(text, padded + 1);
	if (buf == NULL) {
		free(text);
		return mudsc__err(MUDSC_E_NOMEM, "safetensors: out of memory building the header");
	}
	memset(buf + len, ' ', padded - len);
	buf[padded] = '\0';
	*out = buf;
	*out_len = padded;
	return MUDSC_OK;
}

static mudsc_status build_header(const mudsc_model *model, char **out, size_t *out_len)
{
	return build_header_of(model->tensors, model->count, model, out, out_len);
}

static void put_le64(unsigned char *dst, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		dst[i] = (unsigned char)(v >> (8 * i));
}

static size_t data_bytes(const mudsc_model *model)
{
	size_t total = 0;
	for (size_t i = 0; i < model->count; i++)
		total += model->tensors[i].nbytes;
	return total;
}

MUDSC_API mudsc_status mudsc_model_save_buffer(void **out_buf, size_t *out_len,
                                               const mudsc_model *model)
{
	char *header;
	size_t hlen, total;
	unsigned char *buf;
	mudsc_status st;

	MUDSC__CHECK_NULL(model);
	MUDSC__CHECK_NULL(out_buf);
	MUDSC__CHECK_NULL(out_len);
	if ((st = build_header(model, &header, &hlen)) != MUDSC_OK)
		return st;
	total = 8 + hlen + data_bytes(model);
	buf = mudsc__alloc(total, "safetensors bytes");
	if (buf == NULL) {
		free(header);
		return MUDSC_E_NOMEM;
	}
	put_le64(buf, hlen);
	memcpy(buf + 8, header, hlen);
	free(header);
	size_t pos = 8 + hlen;
	for (size_t i = 0; i < model->count; i++) {
		if (model->tensors[i].nbytes > 0)
			memcpy(buf + pos, model->tensors[i].data, model->tensors[i].nbytes);
		pos += model->tensors[i].nbytes;
	}
	*out_buf = buf;
	*out_len = total;
	return MUDSC_OK;
}

static mudsc_status write_model(int fd, const char *tmp, void *ctx)
{
	const mudsc_model *model = ctx;
	static const char fn[] = "mudsc_model_save";
	unsigned char lenbuf[8];
	char *header;
	size_t hlen;
	mudsc_status st = build_header(model, &header, &hlen);

	if (st != MUDSC_OK)
		return st;
	put_le64(lenbuf, hlen);
	st = mudsc__write_all(fn, fd, lenbuf, 8, tmp);
	if (st == MUDSC_OK)
		st = mudsc__write_all(fn, fd, header, hlen, tmp);
	free(header);
	for (size_t i = 0; i < model->count && st == MUDSC_OK; i++)
		st = mudsc__write_all(fn, fd, model->tensors[i].data, model->tensors[i].nbytes, tmp);
	return st;
}

MUDSC_API mudsc_status mudsc_model_save(const mudsc_model *model, const char *path)
{
	MUDSC__CHECK_NULL(model);
	MUDSC__CHECK_NULL(path);
	return mudsc__atomic_write("mudsc_model_save", path, write_model, (void *)model);
}

/* ---- streamed writing: the header from the descriptors, then the tensors
 * one by one as the source produces them ---- */

struct stream_write {
	const char *fn;
	const struct model_tensor *desc;
	size_t count;
	mudsc__tensor_source source;
	void *ctx;
};

static mudsc_status write_stream(int fd, const char *tmp, void *arg)
{
	const struct stream_write *w = arg;
	unsigned char lenbuf[8];
	char *header;
	size_t hlen;
	mudsc_status st = build_header_of(w->desc, w->count, NULL, &header, &hlen);

	if (st != MUDSC_OK)
		return st;
	put_le64(lenbuf, hlen);
	st = mudsc__write_all(w->fn, fd, lenbuf, 8, tmp);
	if (st == MUDSC_OK)
		st = mudsc__write_all(w->fn, fd, header, hlen, tmp);
	free(header);
	for (size_t k = 0; k < w->count && st == MUDSC_OK; k++) {
		size_t at = 0;
		do { /* the tensor's pieces, in order, until its nbytes are written */
			const void *data = NULL;
			size_t n = 0;
			st = w->source(w->ctx, k, at, &data, &n);
			if (st == MUDSC_OK && (n == 0 || n > w->desc[k].nbytes - at) &&
			    w->desc[k].nbytes > 0)
				st = mudsc__err(MUDSC_E_INTERNAL, "%s: tensor '%s': a piece of %zu bytes at "
				                                 "byte %zu of %zu",
				                w->fn, w->desc[k].name, n, at, w->desc[k].nbytes);
			if (st == MUDSC_OK && n > 0)
				st = mudsc__write_all(w->fn, fd, data, n, tmp);
			at += n;
		} while (st == MUDSC_OK && at < w->desc[k].nbytes);
	}
	return st;
}

mudsc_status mudsc__safetensors_write_stream(const char *fn, const char *path,
                                            const struct model_tensor *desc, size_t count,
                                            mudsc__tensor_source source, void *ctx)
{
	struct stream_write w = {fn, desc, count, source, ctx};
	return mudsc__atomic_write(fn, path, write_stream, &w);
}
