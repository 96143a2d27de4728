/*
 * Safetensors writer.  The header lists tensors in insertion order with
 * contiguous data_offsets and is padded with spaces so the data starts at
 * an 8-byte boundary.  Saving to a path is atomic: temporary file in the
 * same folder, fsync, rename, fsync of the folder.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "model_internal.h"
#include "safetensors.h"

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
	return bad ? mudsc_err(MUDSC_E_NOMEM, "safetensors: out of memory building the header")
	           : MUDSC_OK;
}

static mudsc_status add_metadata_json(json_t *root, const mudsc_model *model)
{
	json_t *meta;

	if (model->meta_count == 0)
		return MUDSC_OK;
	meta = json_object();
	if (meta == NULL || json_object_set_new(root, MUDSC_ST_METADATA_KEY, meta))
		return mudsc_err(MUDSC_E_NOMEM, "safetensors: out of memory building the header");
	for (size_t i = 0; i < model->meta_count; i++)
		if (json_object_set_new(meta, model->meta[i].key, json_string(model->meta[i].value)))
			return mudsc_err(MUDSC_E_INVALID,
			                 "safetensors: metadata '%s' is not valid UTF-8 or out of memory",
			                 model->meta[i].key);
	return MUDSC_OK;
}

/* The padded header text; *out is owned (free()), *out_len a multiple of 8. */
static mudsc_status build_header(const mudsc_model *model, char **out, size_t *out_len)
{
	json_t *root = json_object();
	mudsc_status st = MUDSC_OK;
	size_t pos = 0;
	char *text;

	if (root == NULL)
		return mudsc_err(MUDSC_E_NOMEM, "safetensors: out of memory building the header");
	st = add_metadata_json(root, model);
	for (size_t i = 0; i < model->count && st == MUDSC_OK; i++) {
		st = add_tensor_json(root, &model->tensors[i], pos);
		pos += model->tensors[i].nbytes;
	}
	text = st == MUDSC_OK ? json_dumps(root, JSON_COMPACT) : NULL;
	json_decref(root);
	if (st != MUDSC_OK)
		return st;
	if (text == NULL)
		return mudsc_err(MUDSC_E_INVALID, "safetensors: a tensor name is not valid UTF-8");
	size_t len = strlen(text);
	size_t padded = (len + 7) & ~(size_t)7;
	char *buf = realloc(text, padded + 1);
	if (buf == NULL) {
		free(text);
		return mudsc_err(MUDSC_E_NOMEM, "safetensors: out of memory building the header");
	}
	memset(buf + len, ' ', padded - len);
	buf[padded] = '\0';
	*out = buf;
	*out_len = padded;
	return MUDSC_OK;
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

MUDSC_API mudsc_status mudsc_model_save_buffer(const mudsc_model *model, void **out_buf,
                                               size_t *out_len)
{
	char *header;
	size_t hlen, total;
	unsigned char *buf;
	mudsc_status st;

	MUDSC_CHECK_NULL(model);
	MUDSC_CHECK_NULL(out_buf);
	MUDSC_CHECK_NULL(out_len);
	if ((st = build_header(model, &header, &hlen)) != MUDSC_OK)
		return st;
	total = 8 + hlen + data_bytes(model);
	buf = mudsc_alloc(total, "safetensors bytes");
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

static int write_all(int fd, const void *data, size_t len)
{
	const unsigned char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len > (1u << 30) ? (1u << 30) : len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static mudsc_status write_model(int fd, const mudsc_model *model, const char *path)
{
	unsigned char lenbuf[8];
	char *header;
	size_t hlen;
	mudsc_status st = build_header(model, &header, &hlen);

	if (st != MUDSC_OK)
		return st;
	put_le64(lenbuf, hlen);
	int bad = write_all(fd, lenbuf, 8) || write_all(fd, header, hlen);
	free(header);
	for (size_t i = 0; i < model->count && !bad; i++)
		bad = write_all(fd, model->tensors[i].data, model->tensors[i].nbytes);
	if (bad || fsync(fd) != 0)
		return mudsc_err(MUDSC_E_IO, "mudsc_model_save: writing '%s': %s", path, strerror(errno));
	return MUDSC_OK;
}

/* "dir/.name.tmp-XXXXXX" beside path; owned. */
static char *temp_template(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
	size_t n = strlen(path) + 16;
	char *t = mudsc_alloc(n, "temporary file name");
	if (t != NULL)
		snprintf(t, n, "%.*s.%s.tmp-XXXXXX", (int)dirlen, path, path + dirlen);
	return t;
}

static void sync_folder(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];
	int fd;

	if (slash == NULL)
		snprintf(dir, sizeof dir, ".");
	else
		snprintf(dir, sizeof dir, "%.*s", (int)(slash == path ? 1 : slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd); /* best effort: some file systems refuse fsync on folders */
		close(fd);
	}
}

MUDSC_API mudsc_status mudsc_model_save(const mudsc_model *model, const char *path)
{
	mudsc_status st;
	char *tmp;
	int fd;

	MUDSC_CHECK_NULL(model);
	MUDSC_CHECK_NULL(path);
	if (path[0] == '\0')
		return mudsc_err(MUDSC_E_INVALID, "mudsc_model_save: argument 'path' is empty");
	tmp = temp_template(path);
	if (tmp == NULL)
		return MUDSC_E_NOMEM;
	fd = mkstemp(tmp);
	if (fd < 0) {
		st = mudsc_err(MUDSC_E_IO, "mudsc_model_save: cannot create a file beside '%s': %s",
		               path, strerror(errno));
		free(tmp);
		return st;
	}
	fchmod(fd, 0644);
	st = write_model(fd, model, path);
	if (close(fd) != 0 && st == MUDSC_OK)
		st = mudsc_err(MUDSC_E_IO, "mudsc_model_save: closing '%s': %s", tmp, strerror(errno));
	if (st == MUDSC_OK && rename(tmp, path) != 0)
		st = mudsc_err(MUDSC_E_IO, "mudsc_model_save: renaming onto '%s': %s", path,
		               strerror(errno));
	if (st != MUDSC_OK)
		unlink(tmp);
	else
		sync_folder(path);
	free(tmp);
	return st;
}
