/*
 * mudsc_model: named tensors in insertion order, with metadata.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "model/model.h"

MUDSC_API mudsc_status mudsc_model_new(mudsc_model **out)
{
	MUDSC__CHECK_NULL(out);
	*out = mudsc__calloc(1, sizeof **out, "mudsc_model");
	if (*out == NULL)
		return MUDSC_E_NOMEM;
	mudsc__strmap_init(&(*out)->by_name);
	mudsc__strmap_init(&(*out)->meta_by_key);
	return MUDSC_OK;
}

static void release_backing(mudsc_model *model)
{
	if (model->backing == BACKING_MMAP)
		mudsc__file_unmap(model->backing_addr, model->backing_len);
	else if (model->backing == BACKING_HEAP)
		free(model->backing_addr);
	model->backing = BACKING_NONE;
}

/* Strings in the arena are released with it, others one by one. */
static void free_string(const mudsc_model *model, char *s)
{
	uintptr_t p = (uintptr_t)s, a = (uintptr_t)model->arena;
	if (model->arena == NULL || p < a || p >= a + model->arena_len)
		free(s);
}

MUDSC_API void mudsc_model_free(mudsc_model *model)
{
	if (model == NULL)
		return;
	for (size_t i = 0; i < model->count; i++) {
		free(model->tensors[i].name);
		free(model->tensors[i].owned);
	}
	free(model->tensors);
	mudsc__strmap_clear(&model->by_name);
	for (size_t i = 0; i < model->meta_count; i++) {
		free_string(model, model->meta[i].key);
		free_string(model, model->meta[i].value);
	}
	free(model->meta);
	free(model->arena);
	mudsc__strmap_clear(&model->meta_by_key);
	release_backing(model);
	free(model);
}

void mudsc__model_adopt_backing(mudsc_model *model, enum model_backing kind, void *addr, size_t len)
{
	release_backing(model);
	model->backing = kind;
	model->backing_addr = addr;
	model->backing_len = len;
}

/* Grow *array to exactly n elements unless it already has room. */
static mudsc_status reserve_exact(void **array, size_t *capacity, size_t n, size_t elem_size,
                                  const char *what)
{
	void *grown;

	if (n <= *capacity)
		return MUDSC_OK;
	grown = mudsc__realloc_array(*array, n, elem_size, what);
	if (grown == NULL)
		return MUDSC_E_NOMEM;
	*array = grown;
	*capacity = n;
	return MUDSC_OK;
}

mudsc_status mudsc__model_reserve(mudsc_model *model, size_t n)
{
	return reserve_exact((void **)&model->tensors, &model->capacity, n, sizeof *model->tensors,
	                     "model tensors");
}

static mudsc_status check_mutable(const mudsc_model *model, const char *fn)
{
	if (model->frozen)
		return mudsc__err(MUDSC_E_STATE, "%s: the model is frozen (shared) and cannot change", fn);
	return MUDSC_OK;
}

static mudsc_status check_tensor_args(const char *name, mudsc_dtype dtype, int32_t rank,
                                      const int64_t *shape, const void *data, size_t *nbytes)
{
	size_t numel;

	if (name[0] == '\0')
		return mudsc__err(MUDSC_E_INVALID, "mudsc_model_add: argument 'name' is empty");
	if (mudsc_dtype_size(dtype) == 0)
		return mudsc__err(MUDSC_E_INVALID, "mudsc_model_add: tensor '%s': unknown dtype %d", name,
		                 (int)dtype);
	if (rank < 0 || rank > MUDSC_MAX_RANK)
		return mudsc__err(MUDSC_E_SHAPE, "mudsc_model_add: tensor '%s': rank %d outside 0..%d",
		                 name, (int)rank, MUDSC_MAX_RANK);
	if (rank > 0 && shape == NULL)
		return mudsc__err(MUDSC_E_INVALID, "mudsc_model_add: tensor '%s': 'shape' is NULL", name);
	for (int32_t i = 0; i < rank; i++)
		if (shape[i] < 0)
			return mudsc__err(MUDSC_E_SHAPE,
			                 "mudsc_model_add: tensor '%s': shape[%d] = %lld is negative", name,
			                 (int)i, (long long)shape[i]);
	if (!mudsc__shape_numel(rank, shape, &numel) ||
	    !mudsc__mul_size(numel, mudsc_dtype_size(dtype), nbytes))
		return mudsc__err(MUDSC_E_SHAPE, "mudsc_model_add: tensor '%s': size overflows", name);
	if (data == NULL && *nbytes > 0)
		return mudsc__err(MUDSC_E_INVALID, "mudsc_model_add: tensor '%s': 'data' is NULL", name);
	return MUDSC_OK;
}

/* mudsc_model_add, or with take (mode ignored) the tensor's bytes handed
 * to the model (kept by the caller on failure). */
static mudsc_status add_tensor(mudsc_model *model, const char *name, mudsc_dtype dtype,
                               int32_t rank, const int64_t *shape, const void *data,
                               mudsc_add_mode mode, void *take)
{
	struct model_tensor t = {0};
	mudsc_status st;

	if ((st = check_mutable(model, "mudsc_model_add")) != MUDSC_OK)
		return st;
	if ((st = check_tensor_args(name, dtype, rank, shape, data, &t.nbytes)) != MUDSC_OK)
		return st;
	if (mudsc__strmap_get(&model->by_name, name, NULL))
		return mudsc__err(MUDSC_E_EXISTS, "mudsc_model_add: a tensor named '%s' already exists",
		                 name);
	if ((st = mudsc__reserve_one((void **)&model->tensors, &model->capacity, model->count,
	                             sizeof *model->tensors, "model tensors")) != MUDSC_OK)
		return st;

	t.dtype = dtype;
	t.rank = rank;
	for (int32_t i = 0; i < rank; i++)
		t.shape[i] = shape[i];
	t.name = mudsc__strdup(name, "tensor name");
	if (t.name == NULL)
		return MUDSC_E_NOMEM;
	if (take != NULL) {
		t.owned = take;
		t.data = take;
	} else if (mode == MUDSC_COPY) {
		t.owned = mudsc__alloc(t.nbytes, "tensor copy");
		if (t.owned == NULL) {
			free(t.name);
			return MUDSC_E_NOMEM;
		}
		if (t.nbytes > 0)
			memcpy(t.owned, data, t.nbytes);
		t.data = t.owned;
	} else {
		t.data = data;
	}
	if (mudsc__strmap_put(&model->by_name, t.name, model->count) != MUDSC_OK) {
		free(t.name);
		if (take == NULL)
			free(t.owned);
		return MUDSC_E_NOMEM;
	}
	model->tensors[model->count++] = t;
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_model_add(mudsc_model *model, const char *name, mudsc_dtype dtype,
                                       int32_t rank, const int64_t *shape, const void *data,
                                       mudsc_add_mode mode)
{
	MUDSC__CHECK_NULL(model);
	MUDSC__CHECK_NULL(name);
	if (mode != MUDSC_COPY && mode != MUDSC_BORROW)
		return mudsc__err(MUDSC_E_INVALID, "mudsc_model_add: argument 'mode' = %d is not "
		                                  "MUDSC_COPY or MUDSC_BORROW", (int)mode);
	return add_tensor(model, name, dtype, rank, shape, data, mode, NULL);
}

mudsc_status mudsc__model_add_owned(mudsc_model *model, const char *name, mudsc_dtype dtype,
                                   int32_t rank, const int64_t *shape, void *bytes)
{
	return add_tensor(model, name, dtype, rank, shape, bytes, MUDSC_COPY, bytes);
}

MUDSC_API mudsc_status mudsc_model_remove(mudsc_model *model, const char *name)
{
	size_t index;
	mudsc_status st;

	MUDSC__CHECK_NULL(model);
	MUDSC__CHECK_NULL(name);
	if ((st = check_mutable(model, "mudsc_model_remove")) != MUDSC_OK)
		return st;
	if (!mudsc__strmap_get(&model->by_name, name, &index))
		return mudsc__err(MUDSC_E_NOT_FOUND, "mudsc_model_remove: no tensor named '%s'", name);
	/* Build the new index first so a failed allocation leaves the model intact. */
	struct mudsc__strmap fresh;
	mudsc__strmap_init(&fresh);
	for (size_t i = 0; i < model->count; i++) {
		if (i == index)
			continue;
		if (mudsc__strmap_put(&fresh, model->tensors[i].name, i < index ? i : i - 1) != MUDSC_OK) {
			mudsc__strmap_clear(&fresh);
			return MUDSC_E_NOMEM;
		}
	}
	free(model->tensors[index].name);
	free(model->tensors[index].owned);
	memmove(&model->tensors[index], &model->tensors[index + 1],
	        (model->count - index - 1) * sizeof model->tensors[0]);
	model->count--;
	mudsc__strmap_clear(&model->by_name);
	model->by_name = fresh;
	return MUDSC_OK;
}

MUDSC_API size_t mudsc_model_count(const mudsc_model *model)
{
	return model ? model->count : 0;
}

static void fill_view(const struct model_tensor *t, mudsc_tensor *out)
{
	memset(out, 0, sizeof *out);
	out->name = t->name;
	out->dtype = t->dtype;
	out->rank = t->rank;
	for (int32_t i = 0; i < t->rank; i++)
		out->shape[i] = t->shape[i];
	out->data = t->data;
	out->nbytes = t->nbytes;
}

MUDSC_API mudsc_status mudsc_model_at(mudsc_tensor *out, const mudsc_model *model, size_t index)
{
	MUDSC__CHECK_NULL(model);
	MUDSC__CHECK_NULL(out);
	if (index >= model->count)
		return mudsc__err(MUDSC_E_RANGE, "mudsc_model_at: index %zu >= tensor count %zu", index,
		                 model->count);
	fill_view(&model->tensors[index], out);
	return MUDSC_OK;
}

const struct model_tensor *mudsc__model_lookup(const mudsc_model *model, const char *name)
{
	size_t index;
	if (!mudsc__strmap_get(&model->by_name, name, &index))
		return NULL;
	return &model->tensors[index];
}

MUDSC_API mudsc_status mudsc_model_find(mudsc_tensor *out, const mudsc_model *model,
                                        const char *name)
{
	const struct model_tensor *t;

	MUDSC__CHECK_NULL(model);
	MUDSC__CHECK_NULL(name);
	t = mudsc__model_lookup(model, name);
	if (t == NULL)
		return mudsc__err(MUDSC_E_NOT_FOUND, "mudsc_model_find: no tensor named '%s'", name);
	if (out != NULL)
		fill_view(t, out);
	return MUDSC_OK;
}

static long meta_index(const mudsc_model *model, const char *key)
{
	size_t at;
	return mudsc__strmap_get(&model->meta_by_key, key, &at) ? (long)at : -1;
}

MUDSC_API mudsc_status mudsc_model_set_meta(mudsc_model *model, const char *key, const char *value)
{
	mudsc_status st;
	char *v;
	long at;

	MUDSC__CHECK_NULL(model);
	MUDSC__CHECK_NULL(key);
	MUDSC__CHECK_NULL(value);
	if ((st = check_mutable(model, "mudsc_model_set_meta")) != MUDSC_OK)
		return st;
	v = mudsc__strdup(value, "metadata value");
	if (v == NULL)
		return MUDSC_E_NOMEM;
	at = meta_index(model, key);
	if (at >= 0) {
		free_string(model, model->meta[at].value);
		model->meta[at].value = v;
		return MUDSC_OK;
	}
	char *k = mudsc__strdup(key, "metadata key");
	if (k == NULL ||
	    mudsc__reserve_one((void **)&model->meta, &model->meta_capacity, model->meta_count,
	                       sizeof *model->meta, "metadata") != MUDSC_OK ||
	    mudsc__strmap_put(&model->meta_by_key, k, model->meta_count) != MUDSC_OK) {
		free(k);
		free(v);
		return MUDSC_E_NOMEM;
	}
	model->meta[model->meta_count].key = k;
	model->meta[model->meta_count].value = v;
	model->meta_count++;
	return MUDSC_OK;
}

void mudsc__model_adopt_arena(mudsc_model *model, char *arena, size_t len)
{
	model->arena = arena;
	model->arena_len = len;
}

mudsc_status mudsc__model_reserve_meta(mudsc_model *model, size_t n)
{
	return reserve_exact((void **)&model->meta, &model->meta_capacity, n, sizeof *model->meta,
	                     "metadata");
}

mudsc_status mudsc__model_add_meta_arena(mudsc_model *model, char *key, char *value)
{
	if (meta_index(model, key) >= 0)
		return MUDSC_E_EXISTS;
	if (mudsc__reserve_one((void **)&model->meta, &model->meta_capacity, model->meta_count,
	                       sizeof *model->meta, "metadata") != MUDSC_OK ||
	    mudsc__strmap_put(&model->meta_by_key, key, model->meta_count) != MUDSC_OK)
		return MUDSC_E_NOMEM;
	model->meta[model->meta_count].key = key;
	model->meta[model->meta_count].value = value;
	model->meta_count++;
	return MUDSC_OK;
}

MUDSC_API const char *mudsc_model_get_meta(const mudsc_model *model, const char *key)
{
	long at;
	if (model == NULL || key == NULL)
		return NULL;
	at = meta_index(model, key);
	return at >= 0 ? model->meta[at].value : NULL;
}

MUDSC_API size_t mudsc_model_meta_count(const mudsc_model *model)
{
	return model ? model->meta_count : 0;
}

MUDSC_API mudsc_status mudsc_model_meta_at(const char **key, const char **value,
                                           const mudsc_model *model, size_t index)
{
	MUDSC__CHECK_NULL(model);
	if (index >= model->meta_count)
		return mudsc__err(MUDSC_E_RANGE, "mudsc_model_meta_at: index %zu >= metadata count %zu",
		                 index, model->meta_count);
	if (key != NULL)
		*key = model->meta[index].key;
	if (value != NULL)
		*value = model->meta[index].value;
	return MUDSC_OK;
}

MUDSC_API mudsc_status mudsc_model_freeze(mudsc_model *model)
{
	MUDSC__CHECK_NULL(model);
	mudsc__model_freeze_shared(model);
	return MUDSC_OK;
}

void mudsc__model_freeze_shared(const mudsc_model *model)
{
	/* The one write through a const model: handles that share a model
	 * (a matcher) keep it immutable.  Only a model not yet frozen is
	 * written, atomically, so handles on several threads may freeze the
	 * same model.  Models are heap objects, never const-defined, so the
	 * cast is sound. */
	mudsc_model *m = (mudsc_model *)model;
	if (!atomic_load_explicit(&m->frozen, memory_order_acquire))
		atomic_store_explicit(&m->frozen, true, memory_order_release);
}

MUDSC_API int mudsc_model_is_frozen(const mudsc_model *model)
{
	return model != NULL && atomic_load_explicit(&model->frozen, memory_order_acquire);
}
